"""Rules written as text in the builders' own syntax, read without running Python.

A config file (or a form in a host app) holds a rule the way the docs write
it: ``did("Order Completed").within(days=30) & (trait("country") == "DE")``.
`parse_rule` reads that text with Python's parser and builds the rule by
walking the syntax tree: only the rule builders, their methods, literals and
the rule operators are allowed, so a rule string from an untrusted author
cannot run code.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
from collections.abc import Callable
from typing import Any

from omnichannel.errors import RuleError, ValidationError
from omnichannel.rules import _tree
from omnichannel.rules._tree import Rule

__all__ = ["BUILDERS", "parse_rule"]

#: The names a rule text may call: the builders of `omnichannel.rules`.
BUILDERS: dict[str, Callable[..., Any]] = {
    "did": _tree.did,
    "did_not": _tree.did_not,
    "field": _tree.field,
    "trait": _tree.trait,
    "state": _tree.state,
    "prop": _tree.prop,
    "local": _tree.local,
    "in_segment": _tree.in_segment,
    "when": _tree.when,
    "days": _tree.days,
    "hours": _tree.hours,
    "timedelta": dt.timedelta,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Invert: operator.invert,
    ast.USub: operator.neg,
}


class _RefusedError(Exception):
    def __init__(self, node: ast.AST, message: str) -> None:
        super().__init__(message)
        self.column = getattr(node, "col_offset", 0) + 1
        self.message = message


def _is_rule_part(value: object) -> bool:
    # Methods may be called on what the builders return, and on nothing else.
    return type(value).__module__.startswith("omnichannel.rules") or isinstance(value, dt.timedelta)


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(
        node.value, (str, int, float, bool, type(None))
    ):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(item) for item in node.elts]
    if isinstance(node, ast.Name):
        if node.id in BUILDERS:
            return BUILDERS[node.id]
        raise _RefusedError(node, f"{node.id!r} is not a rule builder")
    if isinstance(node, ast.Attribute):
        target = _eval(node.value)
        if node.attr.startswith("_") or not _is_rule_part(target):
            raise _RefusedError(node, f"{node.attr!r} is not a rule method")
        return getattr(target, node.attr)
    if isinstance(node, ast.Call):
        function = _eval(node.func)
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise _RefusedError(node, "* and ** arguments are not allowed")
        args = [_eval(a) for a in node.args]
        kwargs = {str(k.arg): _eval(k.value) for k in node.keywords}
        try:
            return function(*args, **kwargs)
        except (TypeError, ValueError) as error:
            raise _RefusedError(node, str(error)) from None
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        # Arithmetic builds rule values; on two literals ("x" * 10**9) it would only cost memory.
        if not (_is_rule_part(left) or _is_rule_part(right)):
            raise _RefusedError(node, "arithmetic needs a rule value on one side")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return _COMPARE[type(node.ops[0])](_eval(node.left), _eval(node.comparators[0]))
    raise _RefusedError(node, f"{type(node).__name__} is not allowed in a rule")


def parse_rule(text: object) -> Rule:
    """Read a rule written with the builders (``did(...)``, ``trait(...)``, ``&``, ``|``, ``~``).

    Raises:
        RuleError: at ``$`` with the column of the first problem: a syntax
            error, a name that is not a builder, a method that is not a rule
            method, or an expression that is not a rule.

    Examples:
        >>> rule = parse_rule('(trait("country") == "DE") & did("Order Completed").within(days=30)')
        >>> print(rule)
        country is DE and did Order Completed in the last 30 days
        >>> parse_rule('__import__("os")')
        Traceback (most recent call last):
        ...
        omnichannel.errors.RuleError: 1 validation error
          $: column 1: '__import__' is not a rule builder [invalid]

    .. versionadded:: 0.1.0
    """
    if not isinstance(text, str):
        raise RuleError.one("$", "type", "a rule text must be a string")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise RuleError.one("$", "syntax", f"column {error.offset or 0}: {error.msg}") from None
    try:
        rule = _eval(tree.body)
    except _RefusedError as refused:
        raise RuleError.one("$", "invalid", f"column {refused.column}: {refused.message}") from None
    except ValidationError as error:
        raise RuleError.one("$", "invalid", "; ".join(e.message for e in error.errors)) from None
    if not isinstance(rule, Rule):
        raise RuleError.one("$", "not_a_rule", f"the text is a {type(rule).__name__}, not a rule")
    return rule
