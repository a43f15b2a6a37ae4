"""What a subject holds: field types for checking rules, and the SQL table layout.

A `Schema` names every field a rule may read and its type. `check_rule`
rejects unknown fields and comparisons across types, with the path inside
the rule's JSON form; the SQL compiler needs a schema, and the Python engine
can use one to catch a typo before a campaign goes out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from omnichannel._jsonpath import child
from omnichannel.errors import FieldError, RuleError
from omnichannel.rules._python import kind as value_kind
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

FieldType = Literal["text", "number", "integer", "bool", "instant", "date"]
FIELD_TYPES: tuple[str, ...] = ("text", "number", "integer", "bool", "instant", "date")
#: Fields every event has.
EVENT_BUILTINS: Mapping[str, str] = {"event": "text", "timestamp": "instant", "channel": "text"}


def _types(value: Mapping[str, str]) -> Mapping[str, str]:
    checked = dict(value)
    for path, type_ in checked.items():
        if type_ not in FIELD_TYPES:
            raise RuleError.one(
                f"$.fields.{path}", "invalid", f"type must be one of {', '.join(FIELD_TYPES)}"
            )
    return checked


@attrs.frozen(kw_only=True)
class Schema:
    """Field types of subjects and events, and where SQL finds them.

    ``fields`` maps subject paths (``traits.country``) to a type: ``text``,
    ``number``, ``integer``, ``bool``, ``instant`` (timestamp with time
    zone) or ``date``. ``event_fields`` does the same for event paths
    (``properties.total``); ``event``, ``timestamp`` and ``channel`` are
    always there.

    The SQL layout: table ``profiles`` (one row per subject: ``profile_id``,
    ``timezone`` and one column per field), table ``events`` (``profile_id``,
    ``event``, ``timestamp``, ``channel`` and one column per event field) and
    table ``segment_members`` (``profile_id``, ``segment``). A field's column
    is its path with dots as double underscores (``traits__country``) unless
    ``columns`` says otherwise.

    Examples:
        >>> schema = Schema(fields={"traits.country": "text"})
        >>> schema.column("traits.country")
        'traits__country'

    .. versionadded:: 0.1.0
    """

    fields: Mapping[str, str] = attrs.field(factory=dict, converter=_types)
    event_fields: Mapping[str, str] = attrs.field(factory=dict, converter=_types)
    columns: Mapping[str, str] = attrs.field(factory=dict, converter=dict)
    profiles_table: str = "profiles"
    events_table: str = "events"
    segments_table: str = "segment_members"
    id_column: str = "profile_id"
    timezone_column: str = "timezone"

    def column(self, path: str) -> str:
        """The SQL column holding ``path``."""
        return self.columns.get(path, path.replace(".", "__"))


def family(type_: str) -> str:
    """Types that compare with each other: integer and number are both numbers."""
    return "number" if type_ == "integer" else type_


class _Checker:
    """Walks a rule, typing every value; collects every problem with its path."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.errors: list[FieldError] = []

    def fail(self, where: str, code: str, message: str) -> None:
        self.errors.append(FieldError(path=where, code=code, message=message))

    def expr(self, node: Expr, where: str, fields: Mapping[str, str]) -> str | None:
        if isinstance(node, Field):
            type_ = fields.get(node.path)
            if type_ is None:
                self.fail(
                    child(where, "path"), "unknown_field", f"{node.path!r} is not in the schema"
                )
                return None
            return family(type_)
        if isinstance(node, Const):
            return value_kind(node.value) or "text"
        if isinstance(node, LocalPart):
            if node.of is not None:
                self.want(node.of, child(where, "of"), fields, "instant")
            return "number"
        if isinstance(node, Substr):
            self.want(node.arg, child(where, "arg"), fields, "text")
            return "text"
        if isinstance(node, IfElse):
            return self.if_else(node, where, fields)
        wanted = "number" if isinstance(node, Arith) else "text"
        items = node.args if isinstance(node, (Arith, Concat)) else ()
        for n, arg in enumerate(items):
            self.want(arg, f"{child(where, 'args')}[{n}]", fields, wanted)
        return wanted

    def if_else(self, node: IfElse, where: str, fields: Mapping[str, str]) -> str | None:
        found: set[str] = set()
        for n, case in enumerate(node.cases):
            at = f"{child(where, 'cases')}[{n}]"
            self.rule(case.when, child(at, "when"), fields)
            found.add(self.expr(case.then, child(at, "then"), fields) or "")
        found.add(self.expr(node.otherwise, child(where, "otherwise"), fields) or "")
        found.discard("")
        if len(found) > 1:
            self.fail(where, "type", f"branches give different types: {', '.join(sorted(found))}")
            return None
        return found.pop() if found else None

    def want(self, node: Expr, where: str, fields: Mapping[str, str], type_: str | None) -> None:
        """Type ``node``; with ``type_``, also require that type."""
        found = self.expr(node, where, fields)
        if type_ is not None and found is not None and found != type_:
            self.fail(where, "type", f"must be {type_}, not {found}")

    def literal(self, value: Any, where: str, type_: str | None) -> None:
        found = value_kind(value) or "text"
        if type_ is not None and found != type_:
            self.fail(where, "type", f"must be {type_}, not {found}")

    def rule(self, node: Rule, where: str, fields: Mapping[str, str]) -> None:
        _CHECKS[type(node)](self, node, where, fields)

    def event_filter(self, spec: EventFilter, where: str) -> None:
        if spec.where is not None:
            events = {**EVENT_BUILTINS, **self.schema.event_fields}
            self.rule(spec.where, child(where, "where"), events)


def _compare(c: _Checker, node: Compare, where: str, fields: Mapping[str, str]) -> None:
    left = c.expr(node.left, child(where, "left"), fields)
    right = c.expr(node.right, child(where, "right"), fields)
    if left is not None and right is not None and left != right:
        c.fail(where, "type", f"compares {left} with {right}")
    if "bool" in (left, right) and node.fn not in ("eq", "ne"):
        c.fail(child(where, "fn"), "type", f"booleans cannot be compared with {node.fn}")


def _one_of(c: _Checker, node: OneOf, where: str, fields: Mapping[str, str]) -> None:
    type_ = c.expr(node.arg, child(where, "arg"), fields)
    for n, item in enumerate(node.values):
        c.literal(item, f"{child(where, 'values')}[{n}]", type_)


def _between(c: _Checker, node: Between, where: str, fields: Mapping[str, str]) -> None:
    type_ = c.expr(node.arg, child(where, "arg"), fields)
    c.literal(node.low, child(where, "low"), type_)
    c.literal(node.high, child(where, "high"), type_)


def _nested(c: _Checker, node: All | AnyOf, where: str, fields: Mapping[str, str]) -> None:
    for n, rule in enumerate(node.rules):
        c.rule(rule, f"{child(where, 'rules')}[{n}]", fields)


def _aggregate(c: _Checker, node: EventAggregate, where: str, _: Mapping[str, str]) -> None:
    c.event_filter(node.filter, child(where, "filter"))
    events = {**EVENT_BUILTINS, **c.schema.event_fields}
    type_ = events.get(node.property)
    if type_ is None:
        c.fail(
            child(where, "property"), "unknown_field", f"{node.property!r} is not an event field"
        )
    elif node.agg != "count_distinct" and family(type_) != "number":
        c.fail(child(where, "property"), "type", f"{node.agg} needs a number, not {type_}")


def _sequence(c: _Checker, node: FollowedBy, where: str, _: Mapping[str, str]) -> None:
    c.event_filter(node.first, child(where, "first"))
    c.event_filter(node.then, child(where, "then"))


_CHECKS: dict[type[Rule], Callable[[_Checker, Any, str, Mapping[str, str]], None]] = {
    All: _nested,
    AnyOf: _nested,
    Not: lambda c, n, w, f: c.rule(n.rule, child(w, "rule"), f),
    Constant: lambda *_: None,
    Compare: _compare,
    OneOf: _one_of,
    Text: lambda c, n, w, f: c.want(n.arg, child(w, "arg"), f, "text"),
    Exists: lambda c, n, w, f: c.want(n.field, child(w, "field"), f, None),
    Truthy: lambda c, n, w, f: c.want(n.arg, child(w, "arg"), f, None),
    Between: _between,
    Recency: lambda c, n, w, f: c.want(n.field, child(w, "field"), f, "instant"),
    Anniversary: lambda c, n, w, f: c.want(n.field, child(w, "field"), f, "date"),
    EventCount: lambda c, n, w, _: c.event_filter(n.filter, child(w, "filter")),
    EventAggregate: _aggregate,
    FollowedBy: _sequence,
    InSegment: lambda *_: None,
}


def check_rule(rule: Rule, schema: Schema) -> None:
    """Raise `RuleError` listing every unknown field and type mismatch in ``rule``.

    Paths point into the rule's JSON form (``$.rules[1].left.path``).

    Examples:
        >>> from omnichannel.rules import trait
        >>> check_rule(trait("country") == 3, Schema(fields={"traits.country": "text"}))
        Traceback (most recent call last):
        ...
        omnichannel.errors.RuleError: 1 validation error
          $: compares text with number [type]

    .. versionadded:: 0.1.0
    """
    checker = _Checker(schema)
    checker.rule(rule, "$", schema.fields)
    if checker.errors:
        raise RuleError(checker.errors)
