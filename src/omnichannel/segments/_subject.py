"""The subject a segment rule reads: one profile's traits, computed state and events.

Rules speak of ``traits.country``, ``state.orders`` or ``did("Order
Completed")``; this module is the one place that says what those paths mean
for a profile, so the real-time path, the timers and the batch SQL tables all
read the same values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from typing import Any

from omnichannel._time import plain_utc
from omnichannel.models import Event, EventType, Identity
from omnichannel.models._names import Channel
from omnichannel.models._profile import _known_zone
from omnichannel.rules._python import EventHistory, as_date, as_instant
from omnichannel.rules._schema import Schema
from omnichannel.state import Orders, ProfileState

#: The event name a rule sees for calls that carry none of their own.
_CALL_NAMES: Mapping[EventType, str] = {
    EventType.PAGE: "Page Viewed",
    EventType.SCREEN: "Screen Viewed",
    EventType.IDENTIFY: "Identify",
    EventType.GROUP: "Group",
    EventType.ALIAS: "Alias",
}

#: The computed state every subject carries under ``state.``, with its type.
STATE_FIELDS: Mapping[str, str] = {
    "state.events": "integer",
    "state.first_seen": "instant",
    "state.last_seen": "instant",
    "state.last_channel": "text",
    "state.channel_count": "integer",
    "state.identified": "bool",
    "state.orders": "integer",
    "state.first_order": "instant",
    "state.last_order": "instant",
    "state.order_gap_days": "number",
    "state.next_order_due": "instant",
    "state.cart_items": "integer",
    "state.cart_updated": "instant",
    "state.points": "integer",
}

#: Per channel, under ``state.channels.<channel>.``.
CHANNEL_FIELDS: Mapping[str, str] = {
    "events": "integer",
    "first_seen": "instant",
    "last_seen": "instant",
}


def event_name(event: Event) -> str:
    """The name rules match: a track call's own, else ``Page Viewed``, ``Screen Viewed``..."""
    if event.name is not None and event.type is EventType.TRACK:
        return event.name
    return _CALL_NAMES.get(event.type, event.type.value.title())


def event_doc(event: Event) -> dict[str, Any]:
    """One event as rules read it: ``event``, ``timestamp``, ``channel``, ``properties``."""
    return {
        "event": event_name(event),
        "timestamp": plain_utc(event.timestamp),
        "channel": None if event.channel is None else str(event.channel),
        "properties": event.properties,
        "message_id": event.message_id,
    }


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else plain_utc(value)


def _time_zone(state: ProfileState[Any]) -> str:
    for candidate in (state.traits.get("timezone"), state.activity.time_zone):
        if isinstance(candidate, str) and _known_zone(candidate):
            return candidate
    return "UTC"


#: Identifier kinds that do not name a person (a browser, a device): a profile with only
#: these is an anonymous visitor.
ANONYMOUS_KINDS = frozenset({"anonymous_id", "device_id", "push_token", "advertising_id"})


def _cadence(orders: Orders) -> tuple[float | None, dt.datetime | None]:
    """The average days between a person's orders, and when the next one is due by it."""
    first, last, count = orders.first_order_at, orders.last_order_at, orders.count
    if first is None or last is None or count < 2:
        return None, None
    gap = (plain_utc(last) - plain_utc(first)) / (count - 1)
    return gap / dt.timedelta(days=1), plain_utc(last) + gap


def _state(state: ProfileState[Any], identities: Iterable[Identity] | None) -> dict[str, Any]:
    activity, orders, cart = state.activity, state.orders, state.cart
    gap_days, due = _cadence(orders)
    values = state.values
    revenue = {currency: float(money.amount) for currency, money in orders.revenue().items()}
    consent: dict[str, dict[str, str]] = {}
    for record in state.consents.records:
        scope = "any" if record.channel is None else str(record.channel)
        consent.setdefault(record.purpose, {})[scope] = record.status.value
    return {
        "events": activity.events,
        "first_seen": _instant(activity.first_seen),
        "last_seen": _instant(activity.last_seen),
        "last_channel": None if activity.last_channel is None else str(activity.last_channel),
        "channel_count": len(activity.channels),
        "channels": {
            str(name): {
                "events": c.events,
                "first_seen": plain_utc(c.first_seen),
                "last_seen": plain_utc(c.last_seen),
            }
            for name, c in activity.channels.items()
        },
        "identified": None
        if identities is None
        else any(str(i.kind) not in ANONYMOUS_KINDS for i in identities),
        "orders": orders.count,
        "first_order": _instant(orders.first_order_at),
        "last_order": _instant(orders.last_order_at),
        "order_gap_days": gap_days,
        "next_order_due": due,
        "revenue": revenue,
        "cart_items": sum(line.quantity for line in cart.lines),
        "cart_updated": _instant(cart.updated_at) if cart.lines else None,
        "points": values["loyalty"].balance if "loyalty" in values else 0,
        "consent": consent,
    }


def subject_of(
    profile_id: str,
    state: ProfileState[Any],
    *,
    segments: Collection[str] = frozenset(),
    events: Iterable[Event] | None = None,
    identities: Iterable[Identity] | None = None,
) -> dict[str, Any]:
    """The document segment rules read for one profile.

    ``traits`` are the profile's traits; ``state`` its computed state
    (`STATE_FIELDS`, ``state.channels.<channel>.last_seen``,
    ``state.revenue.<currency>``, ``state.consent.<purpose>.<channel or
    "any">``); ``timezone`` its time zone; ``segments`` the segments it is in;
    ``events`` its events (`event_doc`), when given. ``state.identified``
    (known when ``identities`` are given) says whether any identifier names
    a person rather than a browser or device (`ANONYMOUS_KINDS`);
    ``state.order_gap_days`` is the average gap between orders and
    ``state.next_order_due`` the last order plus that gap.

    Examples:
        >>> from omnichannel.state import fold
        >>> subject = subject_of("p1", fold([]))
        >>> subject["state"]["orders"], subject["timezone"]
        (0, 'UTC')

    .. versionadded:: 0.1.0
    """
    subject: dict[str, Any] = {
        "profile_id": profile_id,
        "timezone": _time_zone(state),
        "traits": state.traits,
        "state": _state(state, identities),
        "segments": segments,
    }
    if events is not None:
        subject["events"] = subject_events(events)
    return subject


def subject_events(
    events: Iterable[Event], docs: Callable[[Event], dict[str, Any]] = event_doc
) -> list[dict[str, Any]]:
    """Events as rules read them (``docs``: `event_doc`, or an `EventDocs` cache), in time order.

    An `omnichannel.rules.EventHistory`: event conditions look only at the
    events of the name they count, inside their window.
    """
    ordered = sorted((docs(e) for e in events), key=_time_order)
    return EventHistory(ordered)


def _time_order(doc: Mapping[str, Any]) -> tuple[dt.datetime, str]:
    return doc["timestamp"], doc["message_id"]


class EventDocs:
    """`event_doc` with a memory: the documents of the events seen last, by event object.

    A profile's history is read again at each of its evaluations; events are
    immutable and stores hand back the same objects, so their documents are
    made once.
    """

    def __init__(self, size: int = 65_536) -> None:
        self.size = size
        self._docs: dict[int, tuple[Event, dict[str, Any]]] = {}

    def __call__(self, event: Event) -> dict[str, Any]:
        hit = self._docs.get(id(event))
        if hit is not None and hit[0] is event:
            return hit[1]
        if len(self._docs) >= self.size:
            del self._docs[next(iter(self._docs))]  # the oldest first
        doc = event_doc(event)
        self._docs[id(event)] = (event, doc)
        return doc


def observed_schema(subjects: Iterable[tuple[str, Mapping[str, Any]]]) -> Schema:
    """The `Schema` of ``subjects`` as they are, for running rules over them in SQL.

    Every trait and event property the subjects hold is typed by its values
    (``bool``, ``integer``, ``number``, ``instant``, ``date``; strings that
    are all ISO dates are ``date``, all ISO instants ``instant``, else
    ``text``; nested objects by their dotted paths; lists are left out), as
    are the channels, currencies and consents they carry. A field holding
    several kinds takes the commonest (integers count as numbers where
    there are fractions); the values of another kind read as NULL in SQL, and the
    Python engine finds them false alike. A rule reading a field no subject
    has is refused by the SQL engine: give `subject_schema` its type.

    Examples:
        >>> people = [("p1", {"traits": {"country": "DE", "age": 41, "born": "1983-02-01"}})]
        >>> schema = observed_schema(people)
        >>> [schema.fields[f"traits.{name}"] for name in ("country", "age", "born")]
        ['text', 'integer', 'date']

    .. versionadded:: 0.1.0
    """
    traits: dict[str, Counter[str]] = {}
    properties: dict[str, Counter[str]] = {}
    channels: set[str] = set()
    currencies: set[str] = set()
    consents: set[str] = set()
    for _, subject in subjects:
        _observe(subject.get("traits") or {}, "", traits)
        state = subject.get("state") or {}
        channels.update(state.get("channels") or ())
        currencies.update(state.get("revenue") or ())
        for purpose, scopes in (state.get("consent") or {}).items():
            consents.update(f"state.consent.{purpose}.{scope}" for scope in scopes)
        for event in subject.get("events") or ():
            _observe(event.get("properties") or {}, "", properties)
    base = subject_schema(
        traits=_commonest(traits),
        event_properties=_commonest(properties),
        currencies=sorted(currencies),
        channels=sorted(channels),
    )
    return Schema(
        fields={**base.fields, **dict.fromkeys(sorted(consents), "text")},
        event_fields=base.event_fields,
    )


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _kind_of(value: object) -> str | None:
    """The schema type a value is of, or None for one SQL columns do not hold (lists, None)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "number"
    if isinstance(value, dt.datetime):
        return "instant"
    if isinstance(value, dt.date):
        return "date"
    if not isinstance(value, str):
        return None
    if _ISO_DATE.fullmatch(value) and as_date(value) is not None:
        return "date"
    if _ISO_DATE.match(value) and as_instant(value) is not None:
        return "instant"
    return "text"


def _observe(values: Mapping[str, Any], prefix: str, seen: dict[str, Counter[str]]) -> None:
    for name, value in values.items():
        if isinstance(value, Mapping):
            _observe(value, f"{prefix}{name}.", seen)
            continue
        kind = _kind_of(value)
        if kind is not None:
            seen.setdefault(f"{prefix}{name}", Counter())[kind] += 1


def _commonest(seen: Mapping[str, Counter[str]]) -> dict[str, str]:
    types: dict[str, str] = {}
    for path, counted in seen.items():
        kinds = Counter(counted)
        if "number" in kinds:  # an integer column would lose the fractions
            kinds["number"] += kinds.pop("integer", 0)
        types[path] = max(sorted(kinds), key=kinds.__getitem__)
    return types


def changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> set[str]:
    """The subject paths whose value differs (one level into ``traits`` and ``state``)."""
    if before is None:
        return {"traits", "state", "timezone"}
    changed = {"timezone"} if before["timezone"] != after["timezone"] else set()
    for section in ("traits", "state"):
        old, new = before[section], after[section]
        if old is new:
            continue
        for name in old.keys() | new.keys():
            if old.get(name) != new.get(name):
                changed.add(f"{section}.{name}")
    return changed


def subject_schema(
    *,
    traits: Mapping[str, str] | None = None,
    event_properties: Mapping[str, str] | None = None,
    currencies: Iterable[str] = (),
    channels: Iterable[str] = (),
) -> Schema:
    """The `Schema` of subjects: the given traits and event properties plus the built-in state.

    ``traits`` maps trait names to types (``{"country": "text"}``);
    ``event_properties`` likewise for event properties; ``currencies`` adds
    ``state.revenue.<currency>``; ``channels`` (default: every built-in
    channel) adds ``state.channels.<channel>.*``.

    Examples:
        >>> schema = subject_schema(traits={"country": "text"}, currencies=["EUR"])
        >>> schema.fields["traits.country"], schema.fields["state.revenue.EUR"]
        ('text', 'number')

    .. versionadded:: 0.1.0
    """
    fields = {f"traits.{name}": type_ for name, type_ in (traits or {}).items()}
    fields.update(STATE_FIELDS)
    for channel in list(channels) or [str(c) for c in Channel.known()]:
        for name, type_ in CHANNEL_FIELDS.items():
            fields[f"state.channels.{channel}.{name}"] = type_
    for currency in currencies:
        fields[f"state.revenue.{currency.upper()}"] = "number"
    props = {f"properties.{name}": type_ for name, type_ in (event_properties or {}).items()}
    return Schema(fields=fields, event_fields=props)
