"""The stable, versioned JSON form of rules: store them in a database or a config file.

.. code-block:: json

    {"omnichannel.rule": 1,
     "rule": {"op": "compare", "fn": "eq",
              "left": {"op": "field", "path": "traits.country"},
              "right": {"op": "value", "value": "DE"}}}

Every node is an object with an ``op`` and the node's fields by name.
Literals are JSON scalars, except instants (``{"instant": "2024-05-01T00:00:00Z"}``)
and dates (``{"date": "2024-05-01"}``). Reading is strict: unknown ops, unknown
keys, missing keys and wrong types raise `RuleError` with the path inside the
document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from omnichannel._convert import converter
from omnichannel._jsonpath import child
from omnichannel._time import format_timestamp, parse_instant
from omnichannel.errors import FieldError, RuleError, ValidationError
from omnichannel.rules._tree import (
    All,
    Anniversary,
    AnyOf,
    Arith,
    Between,
    Case,
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
    check_scalar,
)

#: The key naming the format and its version in a stored rule.
FORMAT = "omnichannel.rule"
VERSION = 1

_NODES: dict[str, type[Rule | Expr]] = {
    cls.op: cls
    for cls in (
        All, AnyOf, Not, Constant, Compare, OneOf, Text, Exists, Truthy, Between, Recency,
        Anniversary, EventCount, EventAggregate, FollowedBy, InSegment,
        Field, Const, Arith, Concat, LocalPart, Substr, IfElse,
    )
}  # fmt: skip

# How each field travels, by name; fields not listed are plain JSON scalars.
_RULE, _RULES, _EXPR, _EXPRS, _LIT, _LITS, _FILTER = (
    "rule", "rules", "expr", "exprs", "literal", "literals", "filter",
)  # fmt: skip
_KINDS: dict[str, str] = {
    "rules": _RULES,
    "rule": _RULE,
    "left": _EXPR,
    "right": _EXPR,
    "arg": _EXPR,
    "of": _EXPR,
    "field": _EXPR,
    "args": _EXPRS,
    "low": _LIT,
    "high": _LIT,
    "values": _LITS,
    "filter": _FILTER,
    "first": _FILTER,
    "cases": "cases",
    "otherwise": _EXPR,
}


def _kind(cls: type, name: str) -> str | None:
    if cls is Const and name == "value":
        return _LIT
    if cls is FollowedBy and name == "then":
        return _FILTER
    return _KINDS.get(name)


# --- writing ------------------------------------------------------------------------------


def _literal_out(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"instant": format_timestamp(value)}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return value


def _filter_out(spec: EventFilter) -> dict[str, Any]:
    window: dict[str, Any] = {}
    if spec.window.seconds is not None:
        window["seconds"] = spec.window.seconds
    if spec.window.since is not None:
        window["since"] = format_timestamp(spec.window.since)
    return {
        "event": spec.event,
        "where": None if spec.where is None else node_out(spec.where),
        "window": window,
    }


def _cases_out(cases: tuple[Case, ...]) -> list[dict[str, Any]]:
    return [{"when": node_out(c.when), "then": node_out(c.then)} for c in cases]


_OUT: dict[str, Callable[[Any], Any]] = {
    "cases": lambda v: _cases_out(v),  # noqa: PLW0108 - _cases_out needs node_out, defined below
    _RULE: lambda v: node_out(v),  # noqa: PLW0108 - node_out is defined below
    _RULES: lambda v: [node_out(r) for r in v],
    _EXPR: lambda v: None if v is None else node_out(v),
    _EXPRS: lambda v: [node_out(e) for e in v],
    _LIT: _literal_out,
    _LITS: lambda v: [_literal_out(x) for x in v],
    _FILTER: _filter_out,
}


def node_out(node: Rule | Expr) -> dict[str, Any]:
    """One node (and what it holds) as a JSON-compatible dict."""
    cls = type(node)
    out: dict[str, Any] = {"op": cls.op}
    for attribute in attrs.fields(cls):  # type: ignore[arg-type]
        value = getattr(node, attribute.name)
        kind = _kind(cls, attribute.name)
        out[attribute.name] = value if kind is None else _OUT[kind](value)
    return out


def dump_rule(rule: Rule) -> dict[str, Any]:
    """The rule in its versioned JSON form.

    Examples:
        >>> from omnichannel.rules import trait
        >>> dump_rule(trait("country") == "DE")["rule"]["right"]
        {'op': 'value', 'value': 'DE'}

    .. versionadded:: 0.1.0
    """
    if not isinstance(rule, Rule):
        raise RuleError.one("$", "type", "dump_rule needs a Rule")
    return {FORMAT: VERSION, "rule": node_out(rule)}


# --- reading ------------------------------------------------------------------------------


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleError.one(where, "type", "must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RuleError.one(where, "type", "must be an array")
    return value


def _literal_in(value: Any, where: str) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"instant"} and isinstance(value["instant"], str):
            try:
                return parse_instant(value["instant"])
            except ValueError:
                raise RuleError.one(
                    child(where, "instant"), "invalid", "must be an ISO-8601 instant"
                ) from None
        if set(value) == {"date"} and isinstance(value["date"], str):
            try:
                return dt.date.fromisoformat(value["date"])
            except ValueError:
                raise RuleError.one(
                    child(where, "date"), "invalid", "must be a YYYY-MM-DD date"
                ) from None
        raise RuleError.one(where, "type", 'must be a scalar, {"instant": ...} or {"date": ...}')
    if value is None:
        raise RuleError.one(where, "type", "must be a value, not null (use exists)")
    return check_scalar(value, where)


def _rule_in(value: Any, where: str) -> Rule:
    node = node_in(value, where)
    if not isinstance(node, Rule):
        raise RuleError.one(where, "type", f"{node.op!r} is a value, not a condition")
    return node


def _expr_in(value: Any, where: str) -> Expr:
    node = node_in(value, where)
    if not isinstance(node, Expr):
        raise RuleError.one(where, "type", f"{node.op!r} is a condition, not a value")
    return node


def _filter_in(value: Any, where: str) -> EventFilter:
    obj = _object(value, where)
    _no_extra(obj, {"event", "where", "window"}, where)
    event = obj.get("event")
    if event is not None and not isinstance(event, str):
        raise RuleError.one(child(where, "event"), "type", "must be a string or null")
    condition = obj.get("where")
    window_obj = _object(obj.get("window", {}), child(where, "window"))
    _no_extra(window_obj, {"seconds", "since"}, child(where, "window"))
    since = window_obj.get("since")
    if since is not None:
        since = _literal_in({"instant": since}, child(child(where, "window"), "since"))
    window = _build(
        Window, {"seconds": window_obj.get("seconds"), "since": since}, child(where, "window")
    )
    return EventFilter(
        event=event,
        where=None if condition is None else _rule_in(condition, child(where, "where")),
        window=window,
    )


def _cases_in(value: Any, where: str) -> list[Case]:
    cases = []
    for n, item in enumerate(_list(value, where)):
        at = f"{where}[{n}]"
        obj = _object(item, at)
        _no_extra(obj, {"when", "then"}, at)
        for key in ("when", "then"):
            if key not in obj:
                raise RuleError.one(child(at, key), "required", "is required")
        cases.append(
            Case(
                when=_rule_in(obj["when"], child(at, "when")),
                then=_expr_in(obj["then"], child(at, "then")),
            )
        )
    return cases


_IN: dict[str, Callable[[Any, str], Any]] = {
    "cases": _cases_in,
    _RULE: _rule_in,
    _RULES: lambda v, w: [_rule_in(r, f"{w}[{n}]") for n, r in enumerate(_list(v, w))],
    _EXPR: lambda v, w: None if v is None else _expr_in(v, w),
    _EXPRS: lambda v, w: [_expr_in(e, f"{w}[{n}]") for n, e in enumerate(_list(v, w))],
    _LIT: _literal_in,
    _LITS: lambda v, w: [_literal_in(x, f"{w}[{n}]") for n, x in enumerate(_list(v, w))],
    _FILTER: _filter_in,
}


def _no_extra(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise RuleError.one(child(where, extra[0]), "unknown_field", "is not a field of this node")


def _build(cls: type[Any], kwargs: dict[str, Any], where: str) -> Any:
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        raise RuleError([e.under(where) for e in exc.errors]) from None
    except (TypeError, ValueError) as exc:
        raise RuleError([FieldError(path=where, code="type", message=str(exc))]) from None


def node_in(value: Any, where: str = "$") -> Rule | Expr:
    """Read one node of the JSON form."""
    obj = _object(value, where)
    op = obj.get("op")
    cls = _NODES.get(op) if isinstance(op, str) else None
    if cls is None:
        raise RuleError.one(child(where, "op"), "unknown_operator", f"{op!r} is not a rule node")
    fields = {a.name: a for a in attrs.fields(cls)}  # type: ignore[arg-type]
    _no_extra(obj, {"op", *fields}, where)
    kwargs: dict[str, Any] = {}
    for name, attribute in fields.items():
        at = child(where, name)
        if name not in obj:
            if attribute.default is attrs.NOTHING:
                raise RuleError.one(at, "required", "is required")
            continue
        kind = _kind(cls, name)
        kwargs[name] = obj[name] if kind is None else _IN[kind](obj[name], at)
    return _build(cls, kwargs, where)  # type: ignore[no-any-return]


def load_rule(document: Any) -> Rule:
    """Read a rule from its versioned JSON form (as written by `dump_rule`).

    Raises:
        RuleError: with the path inside ``document`` of every problem found.

    Examples:
        >>> from omnichannel.rules import trait
        >>> rule = trait("country") == "DE"
        >>> load_rule(dump_rule(rule)) == rule
        True

    .. versionadded:: 0.1.0
    """
    obj = _object(document, "$")
    version = obj.get(FORMAT)
    if version != VERSION:
        raise RuleError.one(
            child("$", FORMAT), "unsupported_version", f"this library reads version {VERSION}"
        )
    _no_extra(obj, {FORMAT, "rule"}, "$")
    if "rule" not in obj:
        raise RuleError.one("$.rule", "required", "is required")
    return _rule_in(obj["rule"], "$.rule")


def _is_rule_type(cl: Any) -> bool:
    return isinstance(cl, type) and issubclass(cl, Rule)


def _structure(document: Any, cl: type[Rule]) -> Rule:
    rule = load_rule(document)
    if not isinstance(rule, cl):
        raise RuleError.one("$.rule.op", "type", f"expected a {cl.__name__} rule")
    return rule


# The shared converter reads and writes rules in this same versioned form.
converter.register_unstructure_hook_func(_is_rule_type, dump_rule)
converter.register_structure_hook_func(_is_rule_type, _structure)
