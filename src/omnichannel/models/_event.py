"""Events: every touchpoint a person has with the business, on any channel."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs
import pendulum

from omnichannel.errors import FieldError, ValidationError
from omnichannel.models._check import (
    aware_datetime,
    mapping,
    optional_aware_datetime,
    optional_text,
    store_utc,
    text,
)
from omnichannel.models._commerce import Commerce
from omnichannel.models._names import Channel, optional_channel
from omnichannel.typing import JSONObject

#: Longest message id we store (Segment allows 100; other sources need a little more room).
MAX_MESSAGE_ID = 256


class EventType(enum.Enum):
    """The six Segment call types, which every event source maps onto.

    .. versionadded:: 0.1.0
    """

    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"


#: Fields an event of each type must have (besides a user or anonymous id).
REQUIRED_BY_TYPE: Mapping[EventType, tuple[str, ...]] = {
    EventType.TRACK: ("name",),
    EventType.GROUP: ("group_id",),
    EventType.ALIAS: ("previous_id", "user_id"),
}


def _type(value: Any) -> EventType:
    try:
        return EventType(value)
    except ValueError:
        choices = ", ".join(t.value for t in EventType)
        raise ValidationError.one(
            "$.type", "invalid", f"must be one of {choices}; not {value!r}"
        ) from None


def _commerce(
    _instance: object, _attribute: attrs.Attribute[Commerce | None], value: object
) -> None:
    if value is not None and not isinstance(value, Commerce):
        raise ValidationError.one("$.commerce", "type", "must be Commerce or None")


_CHECKED_FIELDS = (
    "user_id",
    "anonymous_id",
    *{n for names in REQUIRED_BY_TYPE.values() for n in names},
)


def missing_for_type(event_type: EventType, present: Mapping[str, object]) -> list[str]:
    """Return the field names an event of ``event_type`` needs but lacks in ``present``.

    Every event needs a ``user_id`` or an ``anonymous_id``; the names are the
    model's own, callers translate them to their wire format.
    """
    missing = [name for name in REQUIRED_BY_TYPE.get(event_type, ()) if present.get(name) is None]
    if (
        present.get("user_id") is None
        and present.get("anonymous_id") is None
        and "user_id" not in missing
    ):
        missing.append("user_id")
    return missing


@attrs.frozen(kw_only=True)
class Event:
    """One touchpoint: something a person did or that happened to them, on a channel.

    The fields follow the Segment Spec (see `omnichannel.ingest.parse_segment`)
    in snake_case. ``timestamp`` is when it happened (skew-corrected),
    ``received_at`` when it reached the system; both are UTC. ``name`` is the
    event name of a track call or the page or screen name. ``commerce`` holds
    the typed reading of e-commerce events.

    Examples:
        >>> import pendulum
        >>> at = pendulum.datetime(2024, 3, 5, 10, 19)
        >>> e = Event(
        ...     message_id="m-1",
        ...     type="track",
        ...     name="Order Completed",
        ...     channel="web",
        ...     user_id="usr_48213",
        ...     timestamp=at,
        ...     received_at=at,
        ... )
        >>> e.type, e.channel
        (<EventType.TRACK: 'track'>, Channel('web'))

    .. versionadded:: 0.1.0
    """

    message_id: str = attrs.field(validator=text(max_len=MAX_MESSAGE_ID))
    type: EventType = attrs.field(converter=_type)
    timestamp: pendulum.DateTime = attrs.field(validator=aware_datetime)
    received_at: pendulum.DateTime = attrs.field(validator=aware_datetime)
    name: str | None = attrs.field(default=None, validator=optional_text())
    channel: Channel | None = attrs.field(default=None, converter=optional_channel)
    sent_at: pendulum.DateTime | None = attrs.field(default=None, validator=optional_aware_datetime)
    user_id: str | None = attrs.field(default=None, validator=optional_text())
    anonymous_id: str | None = attrs.field(default=None, validator=optional_text())
    previous_id: str | None = attrs.field(default=None, validator=optional_text())
    group_id: str | None = attrs.field(default=None, validator=optional_text())
    category: str | None = attrs.field(default=None, validator=optional_text())
    properties: JSONObject = attrs.field(factory=dict, validator=mapping, hash=False)
    traits: JSONObject = attrs.field(factory=dict, validator=mapping, hash=False)
    context: JSONObject = attrs.field(factory=dict, validator=mapping, hash=False)
    commerce: Commerce | None = attrs.field(default=None, validator=_commerce)

    def __attrs_post_init__(self) -> None:
        store_utc(self, "timestamp", "received_at", "sent_at")
        missing = missing_for_type(
            self.type, {name: getattr(self, name) for name in _CHECKED_FIELDS}
        )
        if missing:
            raise ValidationError(
                FieldError(
                    path=f"$.{name}",
                    code="required",
                    message=f"a {self.type.value} event needs {name}",
                )
                for name in missing
            )
