"""What a rule reads: the index that lets one event re-evaluate only the segments it can affect.

With a hundred segments defined, an ``Order Completed`` event should not
evaluate the hundred rules: only those that read orders, or the state the
event changes. `reads` lists what a rule depends on; `Reads.affected_by`
answers "can this change move this rule?".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from omnichannel.rules._tree import (
    All,
    Anniversary,
    AnyOf,
    Arith,
    Between,
    Compare,
    Concat,
    Const,
    Constant,
    EventAggregate,
    EventCount,
    EventFilter,
    Exists,
    Expr,
    Field,
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


@attrs.frozen(kw_only=True)
class Reads:
    """Everything a rule's answer depends on.

    ``fields`` are subject paths (``traits.country``); ``events`` the event
    names its event conditions count (``any_event`` when one counts every
    event); ``segments`` the segments it refers to; ``clock`` whether its
    answer can change with time alone (see `next_change`).

    .. versionadded:: 0.1.0
    """

    fields: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    any_event: bool = False
    segments: frozenset[str] = frozenset()
    clock: bool = False

    def __or__(self, other: Reads) -> Reads:
        return Reads(
            fields=self.fields | other.fields,
            events=self.events | other.events,
            any_event=self.any_event or other.any_event,
            segments=self.segments | other.segments,
            clock=self.clock or other.clock,
        )

    def affected_by(
        self,
        *,
        event: str | None = None,
        fields: Iterable[str] = (),
        segments: Iterable[str] = (),
    ) -> bool:
        """Whether a new ``event``, changed subject ``fields`` or ``segments`` can move the rule.

        A changed field affects the rule when one is a prefix of the other
        (``traits`` changed affects ``traits.country``, and the other way round).

        Examples:
            >>> from omnichannel.rules import did, trait
            >>> rule_reads = reads((trait("country") == "DE") & did("Order Completed"))
            >>> (
            ...     rule_reads.affected_by(event="Order Completed"),
            ...     rule_reads.affected_by(event="Email Opened"),
            ... )
            (True, False)
            >>> (
            ...     rule_reads.affected_by(fields=["traits"]),
            ...     rule_reads.affected_by(fields=["state.orders"]),
            ... )
            (True, False)
        """
        if event is not None and (self.any_event or event in self.events):
            return True
        if any(_overlaps(changed, path) for changed in fields for path in self.fields):
            return True
        return any(segment in self.segments for segment in segments)


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


_NOTHING = Reads()
_CLOCK = Reads(clock=True)


def reads(rule: Rule) -> Reads:
    """What ``rule`` depends on: subject fields, event names, segments, the clock.

    .. versionadded:: 0.1.0
    """
    return _RULES[type(rule)](rule)


def _all_of(parts: Iterable[Reads]) -> Reads:
    total = _NOTHING
    for part in parts:
        total |= part
    return total


def _expr(node: Expr) -> Reads:
    if isinstance(node, Field):
        return Reads(fields=frozenset({node.path}))
    if isinstance(node, Const):
        return _NOTHING
    if isinstance(node, LocalPart):
        zone = Reads(fields=frozenset({"timezone"}), clock=node.of is None)
        return zone | (_NOTHING if node.of is None else _expr(node.of))
    if isinstance(node, (Arith, Concat)):
        return _all_of(_expr(arg) for arg in node.args)
    if isinstance(node, Substr):
        return _expr(node.arg)
    if isinstance(node, IfElse):
        cases = (reads(c.when) | _expr(c.then) for c in node.cases)
        return _all_of(cases) | _expr(node.otherwise)
    raise TypeError(type(node).__name__)  # pragma: no cover - every Expr is handled above


def _filter(spec: EventFilter) -> Reads:
    # Fields inside an event filter are the event's own, not the subject's; what matters
    # for indexing is which events can move the count. Windows make the clock matter.
    named = (
        Reads(events=frozenset({spec.event})) if spec.event is not None else Reads(any_event=True)
    )
    return named | _CLOCK


def _sequence(node: FollowedBy) -> Reads:
    return _filter(node.first) | _filter(node.then)


_RULES: dict[type[Rule], Callable[[Any], Reads]] = {
    All: lambda n: _all_of(reads(r) for r in n.rules),
    AnyOf: lambda n: _all_of(reads(r) for r in n.rules),
    Not: lambda n: reads(n.rule),
    Constant: lambda _: _NOTHING,
    Compare: lambda n: _expr(n.left) | _expr(n.right),
    OneOf: lambda n: _expr(n.arg),
    Text: lambda n: _expr(n.arg),
    Truthy: lambda n: _expr(n.arg),
    Between: lambda n: _expr(n.arg),
    Exists: lambda n: _expr(n.field),
    Recency: lambda n: _expr(n.field) | _CLOCK,
    Anniversary: lambda n: _expr(n.field) | Reads(fields=frozenset({"timezone"}), clock=True),
    EventCount: lambda n: _filter(n.filter),
    EventAggregate: lambda n: _filter(n.filter),
    FollowedBy: _sequence,
    InSegment: lambda n: Reads(segments=frozenset({n.segment})),
}
