"""Rules as text for people: "country is DE and did Order Completed at least 2 times".

The text is for reading (campaign screens, explanations, logs); the JSON form
is the one to store and read back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from omnichannel._time import format_timestamp
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
    Window,
)

_BARE = re.compile(r"[\w@+\-.:/]+")
_SECTIONS = ("traits.", "state.", "properties.")
_COMPARE = {
    "eq": "is",
    "ne": "is not",
    "lt": "is less than",
    "le": "is at most",
    "gt": "is more than",
    "ge": "is at least",
}
_TIMES = {"eq": "exactly", "ne": "other than", "lt": "fewer than", "le": "at most",
          "gt": "more than", "ge": "at least"}  # fmt: skip
_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "mod"}
_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration(seconds: int) -> str:
    """``86400`` -> ``"1 day"``, ``7200`` -> ``"2 hours"``: the largest unit that divides evenly."""
    for unit, size in _UNITS:  # pragma: no branch - seconds always divide by 1
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    raise AssertionError(seconds)  # pragma: no cover


def literal(value: Any) -> str:
    """A literal as people read it: bare words stay bare, other text is quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        text = format_timestamp(value)
        return text.replace(".000000Z", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value if _BARE.fullmatch(value) else json.dumps(value, ensure_ascii=False)
    return repr(value)


def _name(path: str) -> str:
    for section in _SECTIONS:
        if path.startswith(section):
            return path[len(section) :]
    return path


def expression(node: Expr) -> str:
    """Text of a value."""
    if isinstance(node, Field):
        return _name(node.path)
    if isinstance(node, Const):
        return literal(node.value)
    if isinstance(node, Arith):
        if node.fn in ("min", "max"):
            return f"{node.fn}({', '.join(map(expression, node.args))})"
        return "(" + f" {_ARITH[node.fn]} ".join(map(expression, node.args)) + ")"
    if isinstance(node, Concat):
        return "concat(" + ", ".join(map(expression, node.args)) + ")"
    if isinstance(node, LocalPart):
        target = "" if node.of is None else f" of {_name(node.of.path)}"
        return f"local {node.part}{target}"
    if isinstance(node, Substr):
        length = "" if node.length is None else f", {node.length}"
        return f"substr({expression(node.arg)}, {node.start}{length})"
    if isinstance(node, IfElse):
        cases = " ".join(f"if {_grouped(c.when)} then {expression(c.then)}" for c in node.cases)
        return f"({cases} else {expression(node.otherwise)})"
    raise TypeError(type(node).__name__)  # pragma: no cover - every Expr is handled above


def _window(window: Window) -> str:
    if window.seconds is not None:
        return f" in the last {duration(window.seconds)}"
    if window.since is not None:
        return f" since {literal(window.since)}"
    return ""


def _filter(spec: EventFilter) -> str:
    where = "" if spec.where is None else f" where {_grouped(spec.where)}"
    return f"{spec.event or 'any event'}{where}{_window(spec.window)}"


def _grouped(rule: Rule) -> str:
    text = describe(rule)
    return f"({text})" if isinstance(rule, (All, AnyOf)) and len(rule.rules) > 1 else text


def _count(rule: EventCount) -> str:
    if rule.fn == "eq" and rule.count == 0:
        return f"did not do {_filter(rule.filter)}"
    if rule.fn == "ge" and rule.count == 1:
        return f"did {_filter(rule.filter)}"
    times = f"{_TIMES[rule.fn]} {rule.count} time{'s' if rule.count != 1 else ''}"
    spec = rule.filter
    where = "" if spec.where is None else f" where {_grouped(spec.where)}"
    return f"did {spec.event or 'any event'}{where} {times}{_window(spec.window)}"


def _aggregate(rule: EventAggregate) -> str:
    what = "number of different" if rule.agg == "count_distinct" else rule.agg
    return (
        f"{what} {_name(rule.property)} of {_filter(rule.filter)} "
        f"{_COMPARE[rule.fn]} {literal(rule.value)}"
    )


def _sequence(rule: FollowedBy) -> str:
    within = "" if rule.within is None else f" within {duration(rule.within)}"
    then = "not followed by" if rule.negate else "followed by"
    return f"did {_filter(rule.first)} {then} {_filter(rule.then)}{within}"


_DESCRIBE: dict[type[Rule], Callable[[Any], str]] = {
    All: lambda r: " and ".join(map(_grouped, r.rules)) if r.rules else "always",
    AnyOf: lambda r: " or ".join(map(_grouped, r.rules)) if r.rules else "never",
    Not: lambda r: f"not ({describe(r.rule)})",
    Constant: lambda r: "always" if r.value else "never",
    Compare: lambda r: f"{expression(r.left)} {_COMPARE[r.fn]} {expression(r.right)}",
    OneOf: lambda r: (
        f"{expression(r.arg)} is {'not ' if r.negate else ''}one of "
        + ", ".join(map(literal, r.values))
    ),
    Text: lambda r: f"{expression(r.arg)} {r.fn.replace('_', ' ')} {literal(r.text)}",
    Exists: lambda r: f"{_name(r.field.path)} is known",
    Truthy: lambda r: f"{expression(r.arg)} is truthy",
    Between: lambda r: f"{expression(r.arg)} is between {literal(r.low)} and {literal(r.high)}",
    Recency: lambda r: (
        f"{_name(r.field.path)} is "
        + ("in the last " if r.fn == "within_last" else "older than ")
        + duration(r.seconds)
    ),
    Anniversary: lambda r: (
        f"{_name(r.field.path)} comes round "
        + ("today" if r.days == 0 else f"in the next {r.days} day{'s' if r.days != 1 else ''}")
    ),
    EventCount: _count,
    EventAggregate: _aggregate,
    FollowedBy: _sequence,
    InSegment: lambda r: f"is in segment {literal(r.segment)}",
}


def describe(rule: Rule) -> str:
    """The rule as a sentence.

    Examples:
        >>> from omnichannel.rules import did, trait
        >>> print((trait("country") == "DE") & did("Order Completed").at_least(2).within(days=30))
        country is DE and did Order Completed at least 2 times in the last 30 days
    """
    return _DESCRIBE[type(rule)](rule)
