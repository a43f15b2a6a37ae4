"""Provider callbacks (delivered, opened, clicked, bounced ...) as events on the profile.

Providers report what happened after they accepted a message through their
own webhooks, often more than once (they retry until we answer 2xx). Each
report becomes a `Feedback` value naming our outbox id (every built-in
adapter passes it to the provider, which echoes it back) and the
provider's own event id, which makes the event's message id: a report
delivered twice is stored once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs
import pendulum

from omnichannel._time import to_utc
from omnichannel.errors import ValidationError

__all__ = ["FEEDBACK_EVENTS", "Feedback"]

#: The event each kind of report becomes on the person's profile.
FEEDBACK_EVENTS: Mapping[str, str] = {
    "delivered": "Message Delivered",
    "opened": "Message Opened",
    "clicked": "Message Clicked",
    "bounced": "Message Bounced",
    "complained": "Unsubscribed",
    "unsubscribed": "Unsubscribed",
    "failed": "Message Failed",
}


def _kind(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    if value not in FEEDBACK_EVENTS:
        raise ValidationError.one(
            "$.kind", "invalid", f"must be one of {', '.join(sorted(FEEDBACK_EVENTS))}"
        )


def _text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError.one(f"$.{attribute.name}", "required", "must be a non-empty string")


def _at(value: object) -> pendulum.DateTime:
    if not isinstance(value, dt.datetime):
        raise ValidationError.one("$.at", "type", "must be an aware datetime")
    return to_utc(value, "$.at")


@attrs.frozen(kw_only=True)
class Feedback:
    """One provider report about one message we sent.

    Attributes:
        outbox_id: Our outbox id (the idempotency key), echoed by the provider.
        kind: ``delivered``, ``opened``, ``clicked``, ``bounced``,
            ``complained``, ``unsubscribed`` or ``failed`` (`FEEDBACK_EVENTS`).
        event_id: The provider's id for this report (dedupes its retries).
        at: When it happened, by the provider's clock.
        hard: For a bounce: the address is gone for good (marked invalid).
        url: For a click: the link.
        detail: The provider's words.

    Examples:
        >>> import pendulum
        >>> Feedback(
        ...     outbox_id="abc", kind="opened", event_id="sg-1", at=pendulum.datetime(2024, 3, 5)
        ... ).kind
        'opened'

    .. versionadded:: 0.1.0
    """

    outbox_id: str = attrs.field(validator=_text)
    kind: str = attrs.field(validator=_kind)
    event_id: str = attrs.field(validator=_text)
    at: pendulum.DateTime = attrs.field(converter=_at)
    hard: bool = False
    url: str | None = None
    detail: str = ""
