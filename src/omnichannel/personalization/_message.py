"""One message, a rendition per channel, shared content blocks, and rendering for one person.

A `Message` is written once: its blocks (brand voice, offer, footer) are
included by every rendition with ``{% include "offer" %}``, so the person
hears one voice on email, SMS and push. Each channel's constraints are checked
twice: on the templates when the message is built (what can be known
without a person) and on the text after rendering (what a person's data may
break: a name with a line break in a subject, a long product name pushing an
SMS past 1,600 characters).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from email.utils import parseaddr
from typing import Any, Literal

import attrs

from omnichannel._time import plain_utc
from omnichannel.channels.sms import MAX_BODY_CHARS, SmsSegments
from omnichannel.channels.sms import segments as sms_segments
from omnichannel.errors import FieldError, TemplateError, ValidationError
from omnichannel.models import Event, Profile
from omnichannel.models._check import text
from omnichannel.personalization._liquid import (
    Aborted,
    Budget,
    Limits,
    RenderSettings,
    Template,
    compile_template,
)
from omnichannel.typing import JSONValue

__all__ = [
    "PUSH_MAX_BYTES",
    "AdsAudience",
    "Email",
    "InApp",
    "Message",
    "Push",
    "Rendered",
    "RenderedAds",
    "RenderedEmail",
    "RenderedInApp",
    "RenderedPush",
    "RenderedSms",
    "Sms",
    "Webhook",
    "render",
    "template_data",
]

#: The largest push payload APNs and FCM accept, in bytes of JSON.
PUSH_MAX_BYTES = 4096

_MARKUP = re.compile(r"\{\{|\{%")


def _template_text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.one(f"$.{attribute.name}", "required", "must be non-empty text")


def _optional_template(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _template_text(instance, attribute, value)


def _sender(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or "@" not in parseaddr(value)[1] or "\n" in value:
        raise ValidationError.one(
            "$.sender", "invalid", "must be an address like 'Shop <news@shop.example>'"
        )


@attrs.frozen(kw_only=True)
class Email:
    """The e-mail rendition: subject, preheader, HTML and/or text body, sender.

    Every field is a Liquid template. A marketing e-mail must print
    ``{{ unsubscribe_url }}`` in each body it has.

    .. versionadded:: 0.1.0
    """

    subject: str = attrs.field(validator=_template_text)
    sender: str = attrs.field(validator=_sender)
    html: str | None = attrs.field(default=None, validator=_optional_template)
    text: str | None = attrs.field(default=None, validator=_optional_template)
    preheader: str | None = attrs.field(default=None, validator=_optional_template)
    reply_to: str | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.html is None and self.text is None:
            raise ValidationError.one(
                "$.html", "required", "an e-mail needs an HTML or a text body"
            )


@attrs.frozen(kw_only=True)
class Sms:
    """The SMS rendition: one body template (at most 1,600 characters once rendered).

    .. versionadded:: 0.1.0
    """

    body: str = attrs.field(validator=_template_text)


@attrs.frozen(kw_only=True)
class Push:
    """The push rendition: title, body, deep link and image (payload at most 4 KB).

    .. versionadded:: 0.1.0
    """

    title: str = attrs.field(validator=_template_text)
    body: str = attrs.field(validator=_template_text)
    deep_link: str | None = attrs.field(default=None, validator=_optional_template)
    image: str | None = attrs.field(default=None, validator=_optional_template)


@attrs.frozen(kw_only=True)
class InApp:
    """The in-app or web placement rendition: title, body, call to action, image.

    .. versionadded:: 0.1.0
    """

    title: str = attrs.field(validator=_template_text)
    body: str = attrs.field(validator=_template_text)
    cta_label: str | None = attrs.field(default=None, validator=_optional_template)
    cta_url: str | None = attrs.field(default=None, validator=_optional_template)
    image: str | None = attrs.field(default=None, validator=_optional_template)


@attrs.frozen(kw_only=True)
class Webhook:
    """The webhook rendition: a JSON body whose text values are templates.

    .. versionadded:: 0.1.0
    """

    body: JSONValue


_AdsAction = Literal["add", "remove"]


@attrs.frozen(kw_only=True)
class AdsAudience:
    """The ads rendition: put the person in (or take them out of) a retargeting audience.

    ``identifiers`` names the identity kinds sent (hashed by the ads adapter).

    .. versionadded:: 0.1.0
    """

    audience: str = attrs.field(validator=text(max_len=256))
    identifiers: tuple[str, ...] = attrs.field(default=("email", "phone"), converter=tuple)
    action: _AdsAction = "add"


_RENDITIONS = ("email", "sms", "push", "in_app", "webhook", "ads")
#: The fields of each rendition that are templates (the sender and reply-to are not).
_FIELDS: Mapping[str, tuple[str, ...]] = {
    "email": ("subject", "preheader", "html", "text"),
    "sms": ("body",),
    "push": ("title", "body", "deep_link", "image"),
    "in_app": ("title", "body", "cta_label", "cta_url", "image"),
}


def _webhook_leaves(value: JSONValue, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _webhook_leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _webhook_leaves(item, f"{path}[{index}]")


def _blocks(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError.one("$.blocks", "type", "must map block names to template text")
    return dict(value)


@attrs.frozen(kw_only=True)
class Message:
    """One piece of communication with a rendition per channel, its templates compiled.

    Building checks every template (syntax, unknown filters and blocks,
    sizes) and each channel's constraints that hold whoever reads it: a
    subject with no line break, an unsubscribe link in every body of a
    marketing e-mail, an SMS of at most 1,600 characters, a push payload of
    at most 4 KB. Every problem is reported at once, each at its path.

    Examples:
        >>> m = Message(
        ...     key="welcome",
        ...     blocks={"hello": "Hi {{ profile | first_name: 'there' }}"},
        ...     sms=Sms(body="{% include 'hello' %}, welcome to Shop!"),
        ... )
        >>> m.channels
        ('sms',)

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=text(max_len=128))
    blocks: Mapping[str, str] = attrs.field(factory=dict, converter=_blocks)
    email: Email | None = None
    sms: Sms | None = None
    push: Push | None = None
    in_app: InApp | None = None
    webhook: Webhook | None = None
    ads: AdsAudience | None = None
    transactional: bool = False
    purpose: str = "marketing"
    limits: Limits = attrs.field(factory=Limits)
    _templates: Mapping[str, Template] = attrs.field(
        init=False, eq=False, repr=False, hash=False, factory=dict
    )

    def __attrs_post_init__(self) -> None:
        if not self.channels:
            raise ValidationError.one("$", "required", "a message needs at least one rendition")
        problems: list[FieldError] = []
        templates: dict[str, Template] = {}
        for path, source, html in self._sources():
            try:
                templates[path] = compile_template(
                    source,
                    path=path,
                    html=html,
                    limits=self.limits,
                    blocks=self.blocks,
                    plain_spaces=path.startswith("$.sms."),
                )
            except TemplateError as exc:  # noqa: PERF203 - report every template's problems
                problems.extend(exc.errors)
        problems.extend(self._static_problems(templates))
        if problems:
            raise TemplateError(problems)
        object.__setattr__(self, "_templates", templates)

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels this message has a rendition for, in a fixed order."""
        return tuple(name for name in _RENDITIONS if getattr(self, name) is not None)

    def _sources(self) -> Iterator[tuple[str, str, bool]]:
        for name, block in self.blocks.items():
            yield f"$.blocks.{name}", block, False
        for channel, fields in _FIELDS.items():
            rendition = getattr(self, channel)
            for field in fields if rendition is not None else ():
                source = getattr(rendition, field)
                if source is not None:
                    yield f"$.{channel}.{field}", source, field == "html"
        if self.webhook is not None:
            yield from (
                (p, s, False) for p, s in _webhook_leaves(self.webhook.body, "$.webhook.body")
            )

    def _static_problems(self, templates: Mapping[str, Template]) -> Iterator[FieldError]:
        email = self.email
        if email is not None:
            if "\r" in email.subject or "\n" in email.subject:
                yield FieldError(
                    path="$.email.subject", code="invalid", message="no line breaks in a subject"
                )
            for body in ("html", "text") if not self.transactional else ():
                template = templates.get(f"$.email.{body}")
                if template is not None and "unsubscribe_url" not in template.variables:
                    yield FieldError(
                        path=f"$.email.{body}",
                        code="missing_unsubscribe",
                        message="a marketing e-mail must print {{ unsubscribe_url }}",
                    )
        sms = self.sms
        if sms is not None and not _MARKUP.search(sms.body) and len(sms.body) > MAX_BODY_CHARS:
            yield FieldError(
                path="$.sms.body", code="too_long", message=f"over {MAX_BODY_CHARS} characters"
            )
        push = self.push
        if push is not None and not any(
            _MARKUP.search(v or "") for v in (push.title, push.body, push.deep_link, push.image)
        ):
            size = len(_push_payload(push.title, push.body, push.deep_link, push.image))
            if size > PUSH_MAX_BYTES:
                yield FieldError(
                    path="$.push", code="too_large", message=f"payload of {size} bytes is over 4 KB"
                )


@attrs.frozen(kw_only=True)
class RenderedEmail:
    """An e-mail ready to send. .. versionadded:: 0.1.0."""

    subject: str
    sender: str
    html: str | None
    text: str | None
    preheader: str | None
    reply_to: str | None


@attrs.frozen(kw_only=True)
class RenderedSms:
    """An SMS ready to send, with its encoding and segment count. .. versionadded:: 0.1.0."""

    body: str
    segments: SmsSegments


@attrs.frozen(kw_only=True)
class RenderedPush:
    """A push notification ready to send; ``payload`` is its JSON. .. versionadded:: 0.1.0."""

    title: str
    body: str
    deep_link: str | None
    image: str | None
    payload: bytes


@attrs.frozen(kw_only=True)
class RenderedInApp:
    """An in-app or web placement ready to show. .. versionadded:: 0.1.0."""

    title: str
    body: str
    cta_label: str | None
    cta_url: str | None
    image: str | None


@attrs.frozen(kw_only=True)
class RenderedAds:
    """An audience change: the person's identifiers of the asked kinds. .. versionadded:: 0.1.0."""

    audience: str
    action: str
    identifiers: Mapping[str, tuple[str, ...]]


@attrs.frozen(kw_only=True)
class Rendered:
    """A message rendered for one person: one value per channel asked for.

    .. versionadded:: 0.1.0
    """

    message: str
    profile_id: str
    email: RenderedEmail | None = None
    sms: RenderedSms | None = None
    push: RenderedPush | None = None
    in_app: RenderedInApp | None = None
    webhook: JSONValue = None
    ads: RenderedAds | None = None


def _push_payload(title: str, body: str, deep_link: str | None, image: str | None) -> bytes:
    payload: dict[str, Any] = {"aps": {"alert": {"title": title, "body": body}}}
    if deep_link is not None:
        payload["deep_link"] = deep_link
    if image is not None:
        payload["image"] = image
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _plain(value: Any) -> Any:
    """Event properties as templates read them: instants as UTC datetimes, the rest as is."""
    return plain_utc(value) if isinstance(value, dt.datetime) else value


def template_data(
    profile: Profile,
    *,
    subject: Mapping[str, Any] | None = None,
    event: Event | Mapping[str, Any] | None = None,
    context: Mapping[str, JSONValue] | None = None,
    recommendations: Sequence[Mapping[str, JSONValue]] = (),
    unsubscribe_url: str | None = None,
    message: str = "",
) -> dict[str, object]:
    """The names a template reads, built from plain data only.

    ``profile`` is the person's traits plus ``id``, ``locale`` and
    ``time_zone`` (``{{ profile.first_name }}``); ``state`` and ``segments``
    come from the subject (`omnichannel.segments.subject_of`); ``event`` is
    the triggering event (``{{ event.properties.order_id }}``); ``context``
    is the host's; ``recommendations`` a list of items; ``unsubscribe_url``
    and ``message`` (its key). Nothing else is reachable from a template.
    """
    person: dict[str, object] = dict(profile.traits)
    person.update(id=profile.id, time_zone=profile.time_zone, locale=profile.locale)
    data: dict[str, object] = {
        "profile": person,
        "state": dict(subject.get("state", {})) if subject else {},
        "segments": sorted(subject.get("segments", ())) if subject else [],
        "context": dict(context or {}),
        "recommendations": [dict(item) for item in recommendations],
        "message": {"key": message},
    }
    if unsubscribe_url is not None:
        data["unsubscribe_url"] = unsubscribe_url
    if event is not None:
        if isinstance(event, Event):
            from omnichannel.segments import event_doc

            doc: Mapping[str, Any] = event_doc(event)
        else:
            doc = event
        data["event"] = {key: _plain(value) for key, value in doc.items()}
    return data


def _settings(profile: Profile, now: Any, currency: str | None) -> RenderSettings:
    code = currency or profile.traits.get("currency")
    return RenderSettings(
        now=now,
        time_zone=profile.time_zone,
        locale=profile.locale or "en-US",
        currency=code.upper() if isinstance(code, str) and len(code) == 3 else "USD",
    )


class _Renderer:
    """Renders one message's templates for one person; the first abort stops it."""

    def __init__(
        self, message: Message, data: Mapping[str, object], settings: RenderSettings
    ) -> None:
        self.templates = message._templates  # noqa: SLF001 - the message's own compiled parts
        self.data = data
        # One budget for the whole message: its limits bound the rendering for one person.
        self.budget = Budget(message.limits, settings)

    def __call__(self, path: str) -> str:
        result = self.templates[path].render_within(self.data, self.budget)
        if isinstance(result, Aborted):
            raise _Stop(result)
        return result

    def optional(self, path: str) -> str | None:
        return self(path) if path in self.templates else None


class _Stop(Exception):  # noqa: N818 - carries an Aborted out of nested calls
    def __init__(self, aborted: Aborted) -> None:
        super().__init__(aborted.reason)
        self.aborted = aborted


def _email(message: Message, run: _Renderer, unsubscribe_url: str | None) -> RenderedEmail:
    email = message.email
    assert email is not None  # noqa: S101 - only called when the message has one
    subject = run("$.email.subject")
    if "\r" in subject or "\n" in subject:
        raise TemplateError.one(
            "$.email.subject", "invalid", "the rendered subject has a line break"
        )
    rendered = RenderedEmail(
        subject=subject,
        sender=email.sender,
        html=run.optional("$.email.html"),
        text=run.optional("$.email.text"),
        preheader=run.optional("$.email.preheader"),
        reply_to=email.reply_to,
    )
    if not message.transactional:
        for body in ("html", "text"):
            value = getattr(rendered, body)
            if value is not None and (unsubscribe_url is None or unsubscribe_url not in value):
                raise TemplateError.one(
                    f"$.email.{body}",
                    "missing_unsubscribe",
                    "the rendered body has no unsubscribe link",
                )
    return rendered


def _sms(run: _Renderer) -> RenderedSms:
    body = run("$.sms.body")
    if len(body) > MAX_BODY_CHARS:
        raise TemplateError.one("$.sms.body", "too_long", f"rendered to {len(body)} characters")
    if not body:
        raise TemplateError.one("$.sms.body", "empty", "rendered to an empty text")
    try:
        counted = sms_segments(body)
    except ValidationError as exc:  # a lone surrogate from a trait cannot be sent
        raise TemplateError(e.under("$.sms.body") for e in exc.errors) from None
    return RenderedSms(body=body, segments=counted)


def _push(run: _Renderer) -> RenderedPush:
    title, body = run("$.push.title"), run("$.push.body")
    deep_link, image = run.optional("$.push.deep_link"), run.optional("$.push.image")
    payload = _push_payload(title, body, deep_link, image)
    if len(payload) > PUSH_MAX_BYTES:
        raise TemplateError.one(
            "$.push", "too_large", f"payload of {len(payload)} bytes is over 4 KB"
        )
    return RenderedPush(title=title, body=body, deep_link=deep_link, image=image, payload=payload)


def _in_app(run: _Renderer) -> RenderedInApp:
    return RenderedInApp(
        title=run("$.in_app.title"),
        body=run("$.in_app.body"),
        cta_label=run.optional("$.in_app.cta_label"),
        cta_url=run.optional("$.in_app.cta_url"),
        image=run.optional("$.in_app.image"),
    )


def _webhook(value: JSONValue, path: str, run: _Renderer) -> JSONValue:
    if isinstance(value, str):
        return run(path)
    if isinstance(value, Mapping):
        return {k: _webhook(v, f"{path}.{k}", run) for k, v in value.items()}
    if isinstance(value, list):
        return [_webhook(v, f"{path}[{i}]", run) for i, v in enumerate(value)]
    return value


def _ads(ads: AdsAudience, profile: Profile) -> RenderedAds:
    found = {kind: tuple(i.value for i in profile.identities_of(kind)) for kind in ads.identifiers}
    return RenderedAds(
        audience=ads.audience,
        action=ads.action,
        identifiers={kind: values for kind, values in found.items() if values},
    )


def render(
    message: Message,
    profile: Profile,
    *,
    now: Any,
    channels: Sequence[str] | None = None,
    subject: Mapping[str, Any] | None = None,
    event: Event | Mapping[str, Any] | None = None,
    context: Mapping[str, JSONValue] | None = None,
    recommendations: Sequence[Mapping[str, JSONValue]] = (),
    unsubscribe_url: str | None = None,
    currency: str | None = None,
) -> Rendered | Aborted:
    """Render ``message`` for one person on ``channels`` (default: every rendition it has).

    Money and dates print in the person's locale, currency (``currency``,
    else the ``currency`` trait, else USD) and time zone; ``now`` is the
    instant of the rendering. Returns `Rendered`, or `Aborted` when a
    template calls the send off (``{% abort "no product to show" %}``).
    Raises `TemplateError` (at the template's path) when a rendering breaks
    a limit or a channel's constraint, and `ValidationError` for bad
    arguments (an unknown channel, a marketing e-mail without
    ``unsubscribe_url``).

    Examples:
        >>> import pendulum
        >>> from omnichannel.models import Profile
        >>> at = pendulum.datetime(2024, 3, 5, 9)
        >>> ann = Profile(id="p1", created_at=at, updated_at=at, traits={"first_name": "ann"})
        >>> m = Message(key="hi", sms=Sms(body="Hi {{ profile | first_name: 'there' }}!"))
        >>> render(m, ann, now=at).sms.body
        'Hi Ann!'

    .. versionadded:: 0.1.0
    """
    wanted = message.channels if channels is None else tuple(channels)
    for index, channel in enumerate(wanted):
        if channel not in message.channels:
            raise ValidationError.one(
                f"$.channels[{index}]",
                "unknown_channel",
                f"message {message.key!r} has no {channel!r} rendition",
            )
    if "email" in wanted and not message.transactional and not isinstance(unsubscribe_url, str):
        raise ValidationError.one(
            "$.unsubscribe_url", "required", "a marketing e-mail needs an unsubscribe link"
        )
    data = template_data(
        profile,
        subject=subject,
        event=event,
        context=context,
        recommendations=recommendations,
        unsubscribe_url=unsubscribe_url,
        message=message.key,
    )
    run = _Renderer(message, data, _settings(profile, now, currency))
    parts: dict[str, Any] = {}
    try:
        if "email" in wanted:
            parts["email"] = _email(message, run, unsubscribe_url)
        if "sms" in wanted:
            parts["sms"] = _sms(run)
        if "push" in wanted:
            parts["push"] = _push(run)
        if "in_app" in wanted:
            parts["in_app"] = _in_app(run)
        if "webhook" in wanted and message.webhook is not None:
            parts["webhook"] = _webhook(message.webhook.body, "$.webhook.body", run)
    except _Stop as stop:
        return stop.aborted
    if "ads" in wanted and message.ads is not None:
        parts["ads"] = _ads(message.ads, profile)
    return Rendered(message=message.key, profile_id=profile.id, **parts)
