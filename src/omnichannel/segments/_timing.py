"""When can a rule's answer change on its own? The clock side of real-time segments.

"Did Order Completed in the last 7 days" stops being true exactly 7 days after
the last order, with no new event. `next_change` gives, for one subject, the
first instant after ``now`` at which a rule's answer may differ from its
answer at ``now`` — so a segment engine keeps a timer per membership and
re-evaluates only what is due, instead of recomputing everything nightly.

The instant is safe, not always tight: the answer never changes before it
(a property test checks this for random rules, subjects and instants), but
it may stay the same at it (then the next timer is set from there).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from omnichannel.rules._python import EventHistory, as_date, as_instant, getter, zone
from omnichannel.rules._tree import (
    All,
    Anniversary,
    AnyOf,
    Arith,
    Between,
    Compare,
    Concat,
    Constant,
    EventAggregate,
    EventCount,
    EventFilter,
    Exists,
    Expr,
    FollowedBy,
    IfElse,
    InSegment,
    LocalPart,
    Not,
    OneOf,
    Recency,
    Rule,
    Substr,
    Text,
    Truthy,
)

_TICK = dt.timedelta(microseconds=1)
_Instants = Iterable[dt.datetime]


def next_change(rule: Rule, subject: Mapping[str, Any], now: dt.datetime) -> dt.datetime | None:
    """The first instant after ``now`` at which ``rule``'s answer for ``subject`` may change.

    None when only new data (events, traits, other segments) can change it.

    Examples:
        >>> import datetime as dt
        >>> from omnichannel.rules import did
        >>> now = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
        >>> order = {"event": "Order Completed", "timestamp": now - dt.timedelta(days=5)}
        >>> next_change(did("Order Completed").within(days=7), {"events": [order]}, now)
        datetime.datetime(2024, 5, 3, 0, 0, 0, 1, tzinfo=datetime.timezone.utc)

    .. versionadded:: 0.1.0
    """
    later = [t for t in _rule(rule, subject, now) if t > now]
    return min(later, default=None)


def _rule(node: Rule, subject: Mapping[str, Any], now: dt.datetime) -> _Instants:
    return _RULES[type(node)](node, subject, now)


def _children(rules: Iterable[Rule], subject: Mapping[str, Any], now: dt.datetime) -> _Instants:
    for rule in rules:
        yield from _rule(rule, subject, now)


def _local_boundary(part: str, subject: Mapping[str, Any], now: dt.datetime) -> dt.datetime:
    """The next instant the subject's local ``part`` (hour, day, month, year) may roll over."""
    if part == "hour":
        # Every zone's offset is a multiple of 15 minutes: local hours turn on UTC quarters.
        quarter = now.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)
        return quarter + dt.timedelta(minutes=15 - quarter.minute % 15)
    tz = zone(subject.get("timezone"))
    day = now.astimezone(tz).date()
    if part == "month":
        day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    elif part == "year":
        day = dt.date(day.year + 1, 1, 1)
    else:  # day, weekday
        day += dt.timedelta(days=1)
    return _local_midnight(day, tz)


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The first instant of ``day`` in ``tz`` (a DST gap at midnight moves it later)."""
    naive = dt.datetime.combine(day, dt.time())
    for minutes in range(0, 24 * 60, 15):
        candidate = (naive + dt.timedelta(minutes=minutes)).replace(tzinfo=tz)
        back = candidate.astimezone(dt.timezone.utc).astimezone(tz)
        if back.replace(tzinfo=None) == candidate.replace(tzinfo=None):
            return candidate.astimezone(dt.timezone.utc)
    return naive.replace(tzinfo=dt.timezone.utc)  # pragma: no cover - every day has a start


def _expr(node: Expr, subject: Mapping[str, Any], now: dt.datetime) -> _Instants:
    if isinstance(node, LocalPart):
        if node.of is None:
            yield _local_boundary(node.part, subject, now)
        return
    if isinstance(node, (Arith, Concat)):
        for arg in node.args:
            yield from _expr(arg, subject, now)
    elif isinstance(node, Substr):
        yield from _expr(node.arg, subject, now)
    elif isinstance(node, IfElse):
        for case in node.cases:
            yield from _rule(case.when, subject, now)
            yield from _expr(case.then, subject, now)
        yield from _expr(node.otherwise, subject, now)


def _compare(node: Compare, subject: Mapping[str, Any], now: dt.datetime) -> _Instants:
    yield from _expr(node.left, subject, now)
    yield from _expr(node.right, subject, now)


def _on_arg(node: Any, subject: Mapping[str, Any], now: dt.datetime) -> _Instants:
    yield from _expr(node.arg, subject, now)


def _recency(node: Recency, subject: Mapping[str, Any], _now: dt.datetime) -> _Instants:
    at = as_instant(getter(node.field.path)(subject))
    if at is None:
        return
    span = dt.timedelta(seconds=node.seconds)
    if node.fn == "within_last":
        yield at  # a future instant enters the window when it arrives
        yield at + span + _TICK  # and leaves it just after the span
    else:
        yield at + span + _TICK


def _anniversary(node: Anniversary, subject: Mapping[str, Any], now: dt.datetime) -> _Instants:
    if as_date(getter(node.field.path)(subject)) is None:
        return
    # The answer changes only when the local date does: at the next local midnight.
    yield _local_boundary("day", subject, now)


def _timed(
    subject: Mapping[str, Any], name: str | None, earliest: dt.datetime | None
) -> Iterator[tuple[dt.datetime, Mapping[str, Any]]]:
    """``(instant, event)`` of the events called ``name`` (any for None) from ``earliest``.

    From ``earliest`` on (all for None): the only events whose edges can lie after now.
    """
    events = subject.get("events") or ()
    if events.__class__ is EventHistory:
        pool, times = events.named(name)
        first = 0 if earliest is None else bisect.bisect_left(times, earliest)
        yield from zip(times[first:], pool[first:], strict=True)
        return
    for event in events:
        if name is not None and event.get("event") != name:
            continue
        at = as_instant(event.get("timestamp"))
        if at is not None and (earliest is None or at >= earliest):
            yield at, event


def _window_edges(spec: EventFilter, subject: Mapping[str, Any], now: dt.datetime) -> _Instants:
    """Instants at which an event of ``subject`` enters or leaves ``spec``'s window."""
    span = None if spec.window.seconds is None else dt.timedelta(seconds=spec.window.seconds)
    # A where-condition may change at any instant of any event's own; else only events
    # after now (entering) or leaving the window after now have edges to give.
    earliest = None if spec.where is not None else now if span is None else now - span - _TICK
    for at, event in _timed(subject, spec.event, earliest):
        yield at  # an event "from the future" starts counting when now reaches it
        if span is not None:
            yield at + span + _TICK
        if spec.where is not None:
            yield from _rule(spec.where, event, now)


def _count(
    node: EventCount | EventAggregate, subject: Mapping[str, Any], now: dt.datetime
) -> _Instants:
    yield from _window_edges(node.filter, subject, now)


def _sequence(node: FollowedBy, subject: Mapping[str, Any], now: dt.datetime) -> _Instants:
    yield from _window_edges(node.first, subject, now)
    yield from _window_edges(node.then, subject, now)
    if node.within is None:
        return
    span = dt.timedelta(seconds=node.within)
    # The wait of not_followed_by(..., within=) after a first event ends at its instant + span.
    for at, _ in _timed(subject, node.first.event, now - span - _TICK):
        yield at + span
        yield at + span + _TICK


def _nothing(_node: Rule, _subject: Mapping[str, Any], _now: dt.datetime) -> _Instants:
    return ()


_RULES: dict[type[Rule], Callable[[Any, Mapping[str, Any], dt.datetime], _Instants]] = {
    All: lambda n, s, now: _children(n.rules, s, now),
    AnyOf: lambda n, s, now: _children(n.rules, s, now),
    Not: lambda n, s, now: _rule(n.rule, s, now),
    Constant: _nothing,
    Compare: _compare,
    OneOf: _on_arg,
    Text: _on_arg,
    Truthy: _on_arg,
    Between: _on_arg,
    Exists: _nothing,
    Recency: _recency,
    Anniversary: _anniversary,
    EventCount: _count,
    EventAggregate: _count,
    FollowedBy: _sequence,
    InSegment: _nothing,
}
