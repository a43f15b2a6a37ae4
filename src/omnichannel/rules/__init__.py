"""One rule language: a typed tree; Python closures and SQL from one rule; JsonLogic in and out.

Build rules with `field`, `trait`, `state`, `prop`, `local`, `did`,
`did_not` and `in_segment`; combine them with ``&``, ``|`` and ``~``.

Examples:
    >>> from omnichannel.rules import did, trait
    >>> rule = (trait("country") == "DE") & did("Order Completed").at_least(2).within(days=30)
    >>> print(rule)
    country is DE and did Order Completed at least 2 times in the last 30 days

.. versionadded:: 0.1.0
"""

from typing import TYPE_CHECKING, Any

from omnichannel.rules._jsonform import dump_rule, load_rule
from omnichannel.rules._jsonlogic import jsonlogic_apply, truthy
from omnichannel.rules._jsonlogic_bridge import from_jsonlogic, to_jsonlogic
from omnichannel.rules._parse import parse_rule
from omnichannel.rules._python import EventHistory, Predicate, compile_rule
from omnichannel.rules._schema import Schema, check_rule
from omnichannel.rules._tree import (
    ALWAYS,
    NEVER,
    Aggregate,
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
    Value,
    Window,
    days,
    did,
    did_not,
    field,
    hours,
    in_segment,
    local,
    prop,
    state,
    trait,
    when,
)

if TYPE_CHECKING:
    from omnichannel.rules._sql import DIALECTS, to_sql


def __getattr__(name: str) -> Any:
    # The SQL compiler brings sqlglot; load it on first use, not on import.
    if name in ("DIALECTS", "to_sql"):
        from omnichannel.rules import _sql

        return getattr(_sql, name)
    raise AttributeError(f"module 'omnichannel.rules' has no attribute {name!r}")


__all__ = [
    "ALWAYS",
    "DIALECTS",
    "NEVER",
    "Aggregate",
    "All",
    "Anniversary",
    "AnyOf",
    "Arith",
    "Between",
    "Case",
    "Compare",
    "Concat",
    "Const",
    "Constant",
    "EventAggregate",
    "EventCount",
    "EventFilter",
    "EventHistory",
    "Exists",
    "Expr",
    "Field",
    "FollowedBy",
    "IfElse",
    "InSegment",
    "LocalPart",
    "Not",
    "OneOf",
    "Predicate",
    "Recency",
    "Rule",
    "Schema",
    "Substr",
    "Text",
    "Truthy",
    "Value",
    "Window",
    "check_rule",
    "compile_rule",
    "days",
    "did",
    "did_not",
    "dump_rule",
    "field",
    "from_jsonlogic",
    "hours",
    "in_segment",
    "jsonlogic_apply",
    "load_rule",
    "local",
    "parse_rule",
    "prop",
    "state",
    "to_jsonlogic",
    "to_sql",
    "trait",
    "truthy",
    "when",
]
