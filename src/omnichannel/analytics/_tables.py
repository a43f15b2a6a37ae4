"""An Engine's people and events as analytics tables, one row per event, keyed by person.

Identity resolution has already happened: every event carries the id of the
profile it belongs to now, so a store purchase made with a loyalty card
counts for the e-mails and web visits of the same person (online-to-offline)
and the reverse. The layout (`EVENT_COLUMNS`) is what every analytics
function reads; a warehouse table with the same column names works as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from omnichannel.analytics._frames import module
from omnichannel.errors import ValidationError
from omnichannel.ingest import channel_group, traffic_source
from omnichannel.models import Event, EventType
from omnichannel.segments._subject import event_name

if TYPE_CHECKING:
    from omnichannel._core import EngineCore

__all__ = ["EVENT_COLUMNS", "MESSAGE_CHANNELS", "event_table", "touch_of"]

#: The columns of an event table, with their meaning.
EVENT_COLUMNS: Mapping[str, str] = {
    "profile_id": "the person (the resolved profile id)",
    "message_id": "the event's id",
    "event": "its name as rules read it ('Order Completed', 'Page Viewed', ...)",
    "type": "track, page, screen, identify, group or alias",
    "timestamp": "when it happened (UTC)",
    "channel": "where the touch happened: web, app, store, email, sms, push ...",
    "source": "traffic source (utm_source, a referrer's host, the e-mail provider ...)",
    "medium": "traffic medium (cpc, organic, referral, email ...)",
    "campaign": "campaign name (utm_campaign, an e-mail's campaign_name ...)",
    "channel_group": "GA4 default channel group of the touch (None: inside a visit)",
    "order_id": "the order an event is about",
    "revenue": "an order's value in its currency (Order Completed only)",
    "currency": "ISO 4217 code of revenue",
    "survey": "the survey a 'Survey Answered' event answers (csat, nps, ces ...)",
    "score": "its score",
    "properties": "every property, as JSON text (DuckDB's json functions read it)",
}

#: Message events by name prefix: the channel they are a touch of, and its GA4 group.
MESSAGE_CHANNELS: Mapping[str, tuple[str, str]] = {
    "Email ": ("email", "Email"),
    "SMS ": ("sms", "SMS"),
    "Push Notification ": ("push", "Mobile Push Notifications"),
}
_FEEDBACK_GROUPS = {"email": "Email", "sms": "SMS", "push": "Mobile Push Notifications"}


def touch_of(event: Event) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """Where ``event`` came from: ``(channel, source, medium, campaign, channel_group)``.

    Messages (``Email Opened``, ``SMS Delivered``, ``Message Clicked`` ...)
    are touches of their channel, in its GA4 group, for the campaign their
    properties name. A web or app event with campaign fields (Segment's
    ``context.campaign``), utm parameters on its page or a referrer from
    another site starts a visit from that source; other events are inside a
    visit (no source).

    Examples:
        >>> import pendulum
        >>> from omnichannel.models import Event
        >>> at = pendulum.datetime(2024, 1, 1)
        >>> opened = Event(
        ...     message_id="m1",
        ...     type="track",
        ...     name="Email Opened",
        ...     user_id="u1",
        ...     timestamp=at,
        ...     received_at=at,
        ...     properties={"campaign_name": "spring"},
        ... )
        >>> touch_of(opened)
        ('email', None, 'email', 'spring', 'Email')

    .. versionadded:: 0.1.0
    """
    properties = event.properties
    campaign_name = properties.get("campaign_name")
    campaign = campaign_name if isinstance(campaign_name, str) else None
    name = event.name or ""
    for prefix, (channel, group) in MESSAGE_CHANNELS.items():
        if name.startswith(prefix):
            return channel, None, channel, campaign, group
    if name.startswith("Message ") and isinstance(properties.get("channel"), str):
        channel = str(properties["channel"])
        return channel, None, channel, campaign, _FEEDBACK_GROUPS.get(channel)
    where = None if event.channel is None else str(event.channel)
    context = event.context
    fields = context.get("campaign")
    if isinstance(fields, dict) and any(isinstance(fields.get(k), str) for k in ("source", "name")):
        source, medium, name_ = (_text(fields, k) for k in ("source", "medium", "name"))
        group = channel_group(source=source, medium=medium, campaign=name_)
        return where, source, medium, name_, group
    page = context.get("page")
    if isinstance(page, dict):
        url, referrer = _text(page, "url"), _text(page, "referrer")
        if (url and ("utm_" in url or "gclid=" in url)) or _elsewhere(url, referrer):
            found = traffic_source(url=url, referrer=referrer)
            return where, found.source, found.medium, found.campaign, found.channel_group
    return where, None, None, campaign, None


def _text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def _elsewhere(url: str | None, referrer: str | None) -> bool:
    """Whether ``referrer`` is another site than ``url``'s (so the visit came from it)."""
    if not referrer:
        return False
    there = urlsplit(referrer).hostname
    return bool(there) and there != (urlsplit(url).hostname if url else None)


def _order(event: Event) -> tuple[str | None, float | None, str | None]:
    commerce = event.commerce
    order_id = commerce.order_id if commerce is not None else None
    if order_id is None and isinstance(event.properties.get("order_id"), str):
        order_id = str(event.properties["order_id"])
    if commerce is None or event.name != "Order Completed":
        return order_id, None, None
    money = commerce.total or commerce.revenue or commerce.subtotal
    if money is None:
        return order_id, None, commerce.currency
    return order_id, float(money.amount), money.currency


def _rows(people: Iterable[tuple[str, Iterable[Event]]]) -> Iterator[tuple[Any, ...]]:
    for profile_id, events in people:
        for event in events:
            channel, source, medium, campaign, group = touch_of(event)
            order_id, revenue, currency = _order(event)
            survey, score = event.properties.get("survey"), event.properties.get("score")
            yield (
                profile_id,
                event.message_id,
                event_name(event),
                event.type.value,
                event.timestamp,
                channel,
                source,
                medium,
                campaign,
                group,
                order_id,
                revenue,
                currency,
                survey if isinstance(survey, str) else None,
                float(score)
                if isinstance(score, (int, float)) and not isinstance(score, bool)
                else None,
                json.dumps(event.properties, default=str, separators=(",", ":")),
            )


def event_table(source: object) -> Any:
    """Every event of ``source`` as a pandas DataFrame laid out as `EVENT_COLUMNS` says.

    ``source`` is an `omnichannel.engine.Engine` (every profile's events, by
    its resolved profile id), or ``(profile id, events)`` pairs of
    `omnichannel.models.Event`. Rows are in time order. Identify, group and
    alias calls are left out: they say who someone is, not what they did.

    Raises:
        ValidationError: ``source`` is neither.

    .. versionadded:: 0.1.0
    """
    people: Iterable[tuple[str, Iterable[Event]]]
    if hasattr(source, "store") and hasattr(source, "subjects"):
        people = _engine_people(source)
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes, Mapping)):
        people = source
    else:
        raise ValidationError.one(
            "$.source", "type", "must be an Engine or (profile id, events) pairs"
        )
    pa = module("pyarrow")
    rows = [r for r in _rows(_checked(people)) if r[3] in _ACTIONS]
    rows.sort(key=lambda row: (row[4], row[1]))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in EVENT_COLUMNS]
    types = {
        "timestamp": pa.timestamp("us", tz="UTC"),
        "revenue": pa.float64(),
        "score": pa.float64(),
    }
    arrays = [
        pa.array(list(values), type=types.get(name, pa.string()))
        for name, values in zip(EVENT_COLUMNS, columns, strict=True)
    ]
    table = pa.Table.from_arrays(arrays, names=list(EVENT_COLUMNS))
    return table.to_pandas()


_ACTIONS = {EventType.TRACK.value, EventType.PAGE.value, EventType.SCREEN.value}


def _checked(people: Iterable[object]) -> Iterator[tuple[str, Iterable[Event]]]:
    for index, pair in enumerate(people):
        if (
            not isinstance(pair, tuple)
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not isinstance(pair[1], Iterable)
        ):
            raise ValidationError.one(
                f"$.source[{index}]", "type", "must be a (profile id, events) pair"
            )
        events = list(pair[1])
        for position, event in enumerate(events):
            if not isinstance(event, Event):
                raise ValidationError.one(
                    f"$.source[{index}][1][{position}]", "type", "must be an Event"
                )
        yield pair[0], events


def _engine_people(engine: EngineCore | Any) -> Iterator[tuple[str, list[Event]]]:
    store = engine.store
    for profile_id in store.profile_ids():
        with store.transaction() as tx:
            row = tx.profile(profile_id)
            if row is None:  # pragma: no cover - deleted since the listing
                continue
            events = tx.events_of(row.identities)
        yield profile_id, events
