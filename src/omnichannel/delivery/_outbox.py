"""What goes into the outbox: send requests, their idempotency keys, payloads, outcome events."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs
import pendulum

from omnichannel._convert import converter
from omnichannel.channels import Content
from omnichannel.delivery._policy import AUDIENCE_REMOVAL
from omnichannel.errors import ValidationError
from omnichannel.models import Event, EventType, Profile
from omnichannel.personalization import (
    ADDRESS_KINDS,
    Rendered,
    RenderedAds,
    RenderedEmail,
    RenderedInApp,
    RenderedPush,
    RenderedSms,
)
from omnichannel.store import OutboxRow

__all__ = ["SendRequest", "SendResult", "audience_removals", "idempotency_key"]

#: The rendition type stored for each channel (other channels carry plain JSON).
_CONTENT_TYPES: Mapping[str, type[Any]] = {
    "email": RenderedEmail,
    "sms": RenderedSms,
    "push": RenderedPush,
    "in_app": RenderedInApp,
    "ads": RenderedAds,
}


def idempotency_key(origin: str, step: str, channel: str, recipient: str) -> str:
    """The key that makes a send happen once: same origin, step, channel, person, same key.

    ``origin`` is the campaign or the journey run, ``step`` the step in it,
    ``recipient`` the profile id. 32 hex characters of SHA-256.

    Examples:
        >>> idempotency_key("spring-sale", "", "email", "p1")
        'd4f7510534d8c01fbbfaa0b4938e6a07'

    .. versionadded:: 0.1.0
    """
    text = f"{origin}\x1f{step}\x1f{channel}\x1f{recipient}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError.one(f"$.{attribute.name}", "required", "must be a non-empty string")


@attrs.frozen(kw_only=True)
class SendRequest:
    """A decision to send one message to one person on one channel.

    Attributes:
        profile_id: Who.
        channel: Which channel (``email``, ``sms``, ``push``, ``webhook`` ...).
        to: The address: their e-mail, number or push token (one of their
            identifiers), or an endpoint or audience id for other channels.
        content: The rendered content (`RenderedEmail` ... or webhook JSON).
        message: The message's key.
        origin: The campaign or journey run deciding the send.
        step: The step within the origin (journeys), if any.
        purpose: The consent purpose the message serves.
        transactional: True for a message the person asked for (a receipt,
            a password reset): exempt from consent, quiet hours and caps.
            An ads audience removal is always transactional, with purpose
            ``audience_removal``: it goes even after the person is erased.
        metadata: String tags passed on to the adapter (variant, campaign).
        not_before: Do not send before this instant.
        actor: The identifier outcome events are filed under
            (``{"userId": ...}`` or ``{"anonymousId": ...}``).

    .. versionadded:: 0.1.0
    """

    profile_id: str = attrs.field(validator=_text)
    channel: str = attrs.field(validator=_text)
    to: str = attrs.field(validator=_text)
    content: Content = attrs.field(eq=False)
    message: str = attrs.field(validator=_text)
    origin: str = attrs.field(validator=_text)
    actor: Mapping[str, str]
    step: str = ""
    purpose: str = "marketing"
    transactional: bool = False
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    not_before: pendulum.DateTime | None = None

    def __attrs_post_init__(self) -> None:
        kind = _CONTENT_TYPES.get(self.channel)
        if kind is not None and not isinstance(self.content, kind):
            raise ValidationError.one(
                "$.content", "type", f"{self.channel} content must be a {kind.__name__}"
            )
        if isinstance(self.content, RenderedAds) and self.content.action == "remove":
            # Taking a person out of an audience is what withdrawing asks for: it needs no
            # consent, waits for no quiet hours and counts toward no cap.
            object.__setattr__(self, "transactional", True)
            object.__setattr__(self, "purpose", AUDIENCE_REMOVAL)
        if set(self.actor) not in ({"userId"}, {"anonymousId"}):
            raise ValidationError.one(
                "$.actor", "invalid", "must be {'userId': ...} or {'anonymousId': ...}"
            )

    @property
    def key(self) -> str:
        """The idempotency key (and outbox id) of this send."""
        return idempotency_key(self.origin, self.step, self.channel, self.profile_id)

    @classmethod
    def for_rendered(
        cls,
        rendered: Rendered,
        profile: Profile,
        channel: str,
        *,
        origin: str,
        step: str = "",
        purpose: str = "marketing",
        transactional: bool = False,
        to: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SendRequest:
        """A request for one channel of a rendered message, addressed from the profile.

        The address is ``to`` if given, else the person's first identifier
        of the channel's kind (e-mail, phone, push token).
        """
        content: Content = (
            rendered.webhook if channel == "webhook" else getattr(rendered, channel, None)
        )
        if content is None:
            raise ValidationError.one(f"$.{channel}", "missing", f"nothing rendered for {channel}")
        address = to
        if address is None:
            kind = ADDRESS_KINDS.get(channel)
            found = profile.identities_of(kind) if kind else []
            if not found:
                raise ValidationError.one("$.to", "required", f"no {kind or 'address'} on file")
            address = found[0].value
        return cls(
            profile_id=profile.id,
            channel=channel,
            to=address,
            content=content,
            message=rendered.message,
            origin=origin,
            step=step,
            purpose=purpose,
            transactional=transactional,
            metadata=dict(metadata or {}),
            actor=actor_of(profile),
        )


def audience_removals(
    profile: Profile,
    audiences: Mapping[str, str],
    *,
    origin: str,
    kinds: tuple[str, ...] = ("email", "phone"),
) -> list[SendRequest]:
    """Requests taking a person out of retargeting audiences: on withdrawal, before erasure.

    ``audiences`` maps each audience id to the channel its adapter serves
    (usually ``"ads"``). Build them while the profile still has its
    identifiers (before `omnichannel.engine.Engine.erase`), and send them
    with `Delivery.send`: removals are transactional, so they go whatever
    the person's consent. People with none of ``kinds`` give no request.

    .. versionadded:: 0.1.0
    """
    identifiers = audience_identifiers(profile, kinds)
    if not identifiers:
        return []
    return [
        SendRequest(
            profile_id=profile.id,
            channel=channel,
            to=audience,
            content=RenderedAds(audience=audience, action="remove", identifiers=identifiers),
            message=f"remove-from-{audience}",
            origin=origin,
            step=audience,
            purpose=AUDIENCE_REMOVAL,
            actor=actor_of(profile),
        )
        for audience, channel in sorted(audiences.items())
    ]


def audience_identifiers(
    profile: Profile, kinds: tuple[str, ...] = ("email", "phone")
) -> dict[str, tuple[str, ...]]:
    """The person's identifiers an ads audience matches on, by kind (kinds they have only)."""
    return {
        kind: tuple(i.value for i in profile.identities_of(kind))
        for kind in kinds
        if profile.identities_of(kind)
    }


def actor_of(profile: Profile) -> dict[str, str]:
    """The Segment actor field outcome events about ``profile`` are filed under."""
    for kind, field in (("user_id", "userId"), ("anonymous_id", "anonymousId")):
        found = profile.identities_of(kind)
        if found:
            return {field: found[0].value}
    raise ValidationError.one(
        "$.profile.identities", "required", "needs a user_id or anonymous_id for outcome events"
    )


def encode_payload(request: SendRequest) -> str:
    """The outbox row's JSON payload: content, metadata, actor."""
    content = request.content
    plain: Any = converter.unstructure(content) if attrs.has(type(content)) else content
    if isinstance(content, RenderedPush):
        plain = {**plain, "payload": content.payload.decode()}  # the push's own JSON, as text
    return json.dumps(
        {"content": plain, "metadata": dict(request.metadata), "actor": dict(request.actor)},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def decode_payload(channel: str, payload: str) -> tuple[Content, dict[str, str], dict[str, str]]:
    """Content, metadata and actor from a payload written by `encode_payload`."""
    data = json.loads(payload)
    kind = _CONTENT_TYPES.get(channel)
    plain = data["content"]
    if kind is RenderedPush:
        plain = {**plain, "payload": plain["payload"].encode()}
    content = plain if kind is None else converter.structure(plain, kind)
    return content, data["metadata"], data["actor"]


def outbox_row(request: SendRequest, now: dt.datetime, due: dt.datetime) -> OutboxRow:
    """The pending outbox row for a request decided at ``now``, due at ``due``."""
    return OutboxRow(
        id=request.key,
        profile_id=request.profile_id,
        channel=request.channel,
        to=request.to,
        message=request.message,
        purpose=request.purpose,
        transactional=request.transactional,
        payload=encode_payload(request),
        created_at=now,
        due_at=due,
    )


@attrs.frozen(kw_only=True)
class SendResult:
    """What became of a send request when it was decided.

    ``status``: ``queued`` (due now), ``deferred`` (queued for ``until``:
    quiet hours or ``not_before``), ``dropped`` (the policy said no; nothing
    queued), ``duplicate`` (this idempotency key was queued before).

    .. versionadded:: 0.1.0
    """

    id: str
    status: str
    code: str
    reason: str
    until: pendulum.DateTime | None = None


def outcome_event(
    name: str,
    row: OutboxRow,
    actor: Mapping[str, str],
    at: pendulum.DateTime,
    suffix: str,
    *,
    by_person: bool = False,
    **properties: Any,
) -> Event:
    """A track event about an outbox row (``Message Sent`` ...), with a stable message id.

    Built as an `Event` directly: the pipeline made every field itself, so
    it skips reading a Segment payload (a quarter of an ingest's time).
    Unless the person did it (``by_person``: opened, clicked, unsubscribed),
    it carries Segment's ``context.active = false``: what we did to someone
    is not them being seen on the channel (their last seen, last channel and
    channel counts stay as they were).
    """
    return Event(
        type=EventType.TRACK,
        name=name,
        user_id=actor.get("userId"),
        anonymous_id=actor.get("anonymousId"),
        message_id=f"outbox:{row.id}:{suffix}",
        timestamp=at,
        received_at=at,
        channel=row.channel,
        context={} if by_person else {"active": False},
        properties={
            "message": row.message,
            "channel": row.channel,
            "outbox_id": row.id,
            **properties,
        },
    )
