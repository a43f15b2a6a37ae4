"""Rules to and from JsonLogic, the widely used JSON rule format.

`from_jsonlogic` reads comparisons, ``and``/``or``/``!``/``!!``, ``if``, ``in``,
arithmetic, ``min``/``max`` and ``cat`` into the typed tree. Comparisons become
typed comparisons: they agree with JsonLogic whenever both sides have the same
type (``1 == "1"`` is true in JsonLogic and false here), and a value where a
condition belongs is read with JsonLogic's truthiness (`Truthy`).

`to_jsonlogic` writes a rule so that `jsonlogic_apply` gives the same answer
as `compile_rule` on data of the schema's types: every value that may be
missing is guarded (JsonLogic would read a missing number as 0), and a
division by zero gives a missing value as it does here. Dates, instants,
local time and event conditions have no JsonLogic form: exporting them raises
`RuleError` (code ``unsupported``) with the path inside the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omnichannel._jsonpath import child
from omnichannel.errors import RuleError, ValidationError
from omnichannel.rules._jsonlogic import truthy
from omnichannel.rules._tree import (
    All,
    AnyOf,
    Arith,
    Between,
    Case,
    Compare,
    Concat,
    Const,
    Constant,
    Exists,
    Expr,
    Field,
    IfElse,
    InSegment,
    Not,
    OneOf,
    Rule,
    Substr,
    Text,
    TextOp,
    Truthy,
    check_scalar,
)

_COMPARE_IN = {"==": "eq", "===": "eq", "!=": "ne", "!==": "ne",
               "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}  # fmt: skip
_COMPARE_OUT = {"eq": "===", "ne": "!==", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_ARITH_IN = {"+": "add", "*": "mul", "-": "sub", "/": "div", "%": "mod", "min": "min", "max": "max"}
_ARITH_OUT = {fn: op for op, fn in _ARITH_IN.items()}
#: Where `in_segment` finds the subject's segments.
SEGMENTS = "segments"


def _unsupported(where: str, message: str) -> RuleError:
    return RuleError.one(where, "unsupported", message)


def _operation(logic: Any, where: str) -> tuple[str, list[Any], str] | None:
    """``(op, args, path of args)`` of a JsonLogic operation, None for a literal."""
    if not isinstance(logic, Mapping):
        return None
    if len(logic) != 1:
        raise RuleError.one(where, "invalid", "an operation is an object with exactly one key")
    ((op, args),) = logic.items()
    return op, args if isinstance(args, list) else [args], child(where, op)


# --- reading ------------------------------------------------------------------------------


def from_jsonlogic(logic: Any) -> Rule:
    """Read a JsonLogic rule into the typed rule tree.

    Raises:
        RuleError: an operator the rule language does not carry (``map``,
            ``missing``, ``var`` with a default ...), or a malformed operation,
            with the path inside ``logic``.

    Examples:
        >>> rule = from_jsonlogic(
        ...     {
        ...         "and": [
        ...             {"==": [{"var": "traits.country"}, "DE"]},
        ...             {">=": [{"var": "state.orders"}, 2]},
        ...         ]
        ...     }
        ... )
        >>> print(rule)
        country is DE and orders is at least 2

    .. versionadded:: 0.1.0
    """
    return _condition(logic, "$")


def _condition(logic: Any, where: str) -> Rule:
    found = _operation(logic, where)
    if found is None:
        if isinstance(logic, list):
            raise RuleError.one(where, "type", "an array is not a condition")
        return Constant(value=truthy(logic))
    op, args, at = found
    reader = _CONDITIONS.get(op)
    if reader is None:
        return Truthy(arg=_value(logic, where))
    return reader(op, args, at)


def _junction(op: str, args: list[Any], at: str) -> Rule:
    parts = [_condition(arg, f"{at}[{n}]") for n, arg in enumerate(args)]
    return All(rules=parts) if op == "and" else AnyOf(rules=parts)


def _negation(op: str, args: list[Any], at: str) -> Rule:
    if len(args) != 1:
        raise RuleError.one(at, "arity", f"{op} takes one argument")
    inner = _condition(args[0], f"{at}[0]")
    return ~inner if op == "!" else inner


def _comparison(op: str, args: list[Any], at: str) -> Rule:
    fn = _COMPARE_IN[op]
    if len(args) == 3 and op in ("<", "<="):
        low, middle, high = (_value(a, f"{at}[{n}]") for n, a in enumerate(args))
        if op == "<=" and isinstance(low, Const) and isinstance(high, Const):
            return Between(arg=middle, low=low.value, high=high.value)
        return All(
            rules=[Compare(fn=fn, left=low, right=middle), Compare(fn=fn, left=middle, right=high)]  # type: ignore[arg-type]
        )
    if len(args) != 2:
        raise RuleError.one(at, "arity", f"{op} takes two arguments")
    if fn in ("eq", "ne") and None in args:  # a comparison with null asks whether a value is there
        other = args[1] if args[0] is None else args[0]
        value = _value(other, f"{at}[{args.index(other)}]")
        if not isinstance(value, Field):
            raise _unsupported(at, "only a field can be compared with null")
        exists = Exists(field=value)
        return exists if fn == "ne" else Not(rule=exists)
    ends = _text_ends(fn, args)
    if ends is not None:
        return Text(fn=ends[0], arg=_value(ends[1], f"{at}[0].substr[0]"), text=args[1])
    left, right = (_value(a, f"{at}[{n}]") for n, a in enumerate(args))
    return Compare(fn=fn, left=left, right=right)  # type: ignore[arg-type]


def _text_ends(fn: str, args: list[Any]) -> tuple[TextOp, Any] | None:
    """``substr(x, 0, n) == "abc"`` (n = 3) reads as starts_with; ``substr(x, -3)`` as ends_with."""
    head, text = args
    if fn != "eq" or not isinstance(text, str) or not text or not isinstance(head, Mapping):
        return None
    parts = head.get("substr")
    if not isinstance(parts, list) or len(head) != 1:
        return None
    size = len(text)
    if parts[1:] == [0, size]:
        return "starts_with", parts[0]
    if parts[1:] == [-size]:
        return "ends_with", parts[0]
    return None


def _membership(op: str, args: list[Any], at: str) -> Rule:
    if len(args) != 2:
        raise RuleError.one(at, "arity", f"{op} takes two arguments")
    needle, haystack = args
    if isinstance(haystack, list):
        values = [check_scalar(v, f"{at}[1][{n}]") for n, v in enumerate(haystack)]
        return OneOf(arg=_value(needle, f"{at}[0]"), values=values)
    target = _value(haystack, f"{at}[1]")
    if isinstance(target, Field) and target.path == SEGMENTS and isinstance(needle, str):
        return InSegment(segment=needle)
    if not isinstance(needle, str):
        raise _unsupported(f"{at}[0]", "only literal text can be looked for inside a value")
    return Text(fn="contains", arg=target, text=needle)


def _branches(_op: str, args: list[Any], at: str) -> Rule:
    # if c1 then r1 elif c2 then r2 else r3, as conditions: (c1 & r1) | (~c1 & c2 & r2) | ...
    options: list[Rule] = []
    earlier: list[Rule] = []
    pairs, rest = args[: len(args) - len(args) % 2], args[len(args) - len(args) % 2 :]
    for n in range(0, len(pairs), 2):
        test = _condition(pairs[n], f"{at}[{n}]")
        then = _condition(pairs[n + 1], f"{at}[{n + 1}]")
        options.append(All(rules=[*earlier, test, then]))
        earlier.append(Not(rule=test))
    otherwise = _condition(rest[0], f"{at}[{len(pairs)}]") if rest else Constant(value=False)
    options.append(All(rules=[*earlier, otherwise]))
    return AnyOf(rules=options)


_CONDITIONS: dict[str, Callable[[str, list[Any], str], Rule]] = {
    "and": _junction,
    "or": _junction,
    "!": _negation,
    "!!": _negation,
    "in": _membership,
    "if": _branches,
    "?:": _branches,
    **dict.fromkeys(_COMPARE_IN, _comparison),
}


def _value(logic: Any, where: str) -> Expr:
    found = _operation(logic, where)
    if found is None:
        if logic is None:
            raise RuleError.one(
                where, "type", "null is not a value here (compare with null instead)"
            )
        if isinstance(logic, list):
            raise _unsupported(where, "arrays are values only as the list of an 'in'")
        try:
            return Const(value=check_scalar(logic, where))
        except ValidationError as error:
            raise RuleError(error.errors) from None
    op, args, at = found
    if op == "var":
        if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
            raise _unsupported(at, "var needs exactly one field name (defaults are not carried)")
        return Field(path=args[0])
    if op == "cat":
        return Concat(args=[_value(a, f"{at}[{n}]") for n, a in enumerate(args)])
    if op == "substr":
        return _substr_in(args, at)
    if op in ("if", "?:"):
        return _if_in(args, at)
    fn = _ARITH_IN.get(op)
    if fn is None:
        raise _unsupported(at, f"the rule language does not carry JsonLogic's {op!r}")
    parts = [_value(a, f"{at}[{n}]") for n, a in enumerate(args)]
    if fn == "sub" and len(parts) == 1:  # unary minus
        parts = [Const(value=0), parts[0]]
    try:
        return Arith(fn=fn, args=parts)  # type: ignore[arg-type]
    except RuleError as error:
        raise RuleError([e.under(at) for e in error.errors]) from None


def _substr_in(args: list[Any], at: str) -> Expr:
    bounds = args[1:]
    if not 1 <= len(bounds) <= 2 or not all(
        isinstance(b, int) and not isinstance(b, bool) for b in bounds
    ):
        raise _unsupported(at, "substr needs whole-number literals for its start and length")
    length = bounds[1] if len(bounds) == 2 else None
    return Substr(arg=_value(args[0], f"{at}[0]"), start=bounds[0], length=length)


def _if_in(args: list[Any], at: str) -> Expr:
    if len(args) % 2 == 0:
        raise _unsupported(at, "an if value needs an else value (a missing value is not carried)")
    cases = [
        Case(when=_condition(args[n], f"{at}[{n}]"), then=_value(args[n + 1], f"{at}[{n + 1}]"))
        for n in range(0, len(args) - 1, 2)
    ]
    return IfElse(cases=cases, otherwise=_value(args[-1], f"{at}[{len(args) - 1}]"))


# --- writing ------------------------------------------------------------------------------


def to_jsonlogic(rule: Rule) -> Any:
    """Write ``rule`` as JsonLogic that `jsonlogic_apply` evaluates as `compile_rule` does.

    Raises:
        RuleError: for what JsonLogic cannot say (dates, instants, local time,
            event conditions), with the path inside the rule (code ``unsupported``).

    Examples:
        >>> from omnichannel.rules import trait
        >>> to_jsonlogic(trait("age") > 17)["and"]
        [{'!=': [{'var': 'traits.age'}, None]}, {'>': [{'var': 'traits.age'}, 17]}]

    .. versionadded:: 0.1.0
    """
    return _rule_out(rule, "$")


def _value_out(node: Expr, where: str) -> tuple[Any, list[Any]]:
    """JsonLogic for a value, and the conditions under which the value is missing here.

    A missing operand makes every value built on it missing, so a test holds
    only when none of these conditions do; the writers below guard with them.
    """
    if isinstance(node, Field):
        return {"var": node.path}, [{"==": [{"var": node.path}, None]}]
    if isinstance(node, Const):
        if not isinstance(node.value, (str, int, float)):
            raise _unsupported(child(where, "value"), "JsonLogic has no dates or instants")
        return node.value, []
    if isinstance(node, Substr):
        arg, voids = _value_out(node.arg, child(where, "arg"))
        bounds = [node.start] if node.length is None else [node.start, node.length]
        return {"substr": [arg, *bounds]}, [*voids, {"!==": [{"cat": [arg]}, arg]}]
    if isinstance(node, IfElse):
        return _if_out(node, where)
    if not isinstance(node, (Arith, Concat)):
        raise _unsupported(where, "JsonLogic has no local time")
    outs = [_value_out(arg, f"{child(where, 'args')}[{n}]") for n, arg in enumerate(node.args)]
    op = "cat" if isinstance(node, Concat) else _ARITH_OUT[node.fn]
    voids = [void for _, arg_voids in outs for void in arg_voids]
    divisor = node.args[1] if isinstance(node, Arith) and node.fn in ("div", "mod") else None
    if divisor is not None and not (isinstance(divisor, Const) and divisor.value != 0):
        voids.append({"==": [outs[1][0], 0]})  # x / 0 is missing here
    if isinstance(node, Concat):  # cat turns numbers into text; here only text joins
        voids += [{"!==": [{"cat": [logic]}, logic]} for logic, _ in outs]
    return {op: [logic for logic, _ in outs]}, voids


def _if_out(node: IfElse, where: str) -> tuple[Any, list[Any]]:
    parts: list[Any] = []
    # The chosen branch's value is missing exactly when: c1 and v1 is missing, or not c1
    # and c2 and v2 is missing ..., or no condition holds and the else value is missing.
    missing: list[Any] = []
    earlier: list[Any] = []
    for n, case in enumerate(node.cases):
        at = f"{child(where, 'cases')}[{n}]"
        when = _rule_out(case.when, child(at, "when"))
        then, voids = _value_out(case.then, child(at, "then"))
        parts += [when, then]
        if voids:
            missing.append({"and": [*earlier, when, {"or": voids}]})
        earlier.append({"!": [when]})
    otherwise, voids = _value_out(node.otherwise, child(where, "otherwise"))
    if voids:
        missing.append({"and": [*earlier, {"or": voids}]})
    return {"if": [*parts, otherwise]}, ([{"or": missing}] if missing else [])


def _guarded(voids: list[Any], test: Any) -> Any:
    # "x == null" is negated as "x != null", which reads back as "x is known".
    guards = [
        {"!=": void["=="]} if "==" in void and void["=="][1] is None else {"!": [void]}
        for void in voids
    ]
    return {"and": [*guards, test]} if guards else test


def _compare_out(node: Compare, where: str) -> Any:
    left, left_voids = _value_out(node.left, child(where, "left"))
    right, right_voids = _value_out(node.right, child(where, "right"))
    return _guarded([*left_voids, *right_voids], {_COMPARE_OUT[node.fn]: [left, right]})


def _one_of_out(node: OneOf, where: str) -> Any:
    arg, voids = _value_out(node.arg, child(where, "arg"))
    for n, value in enumerate(node.values):
        if not isinstance(value, (str, int, float)):
            raise _unsupported(
                f"{child(where, 'values')}[{n}]", "JsonLogic has no dates or instants"
            )
    if not node.values:
        return False
    test: Any = {"in": [arg, list(node.values)]}
    return _guarded(voids, {"!": [test]} if node.negate else test)


def _text_out(node: Text, where: str) -> Any:
    arg, voids = _value_out(node.arg, child(where, "arg"))
    # Only text passes: cat() leaves text as it is and turns anything else into text.
    is_text = {"===": [{"cat": [arg]}, arg]}
    size = len(node.text)
    if node.fn == "contains":
        test: Any = {"in": [node.text, arg]}
    elif not size:
        test = True
    elif node.fn == "starts_with":
        test = {"===": [{"substr": [arg, 0, size]}, node.text]}
    else:
        test = {"===": [{"substr": [arg, -size]}, node.text]}
    return _guarded(voids, {"and": [is_text, test]})


def _between_out(node: Between, where: str) -> Any:
    arg, voids = _value_out(node.arg, child(where, "arg"))
    for name in ("low", "high"):
        if not isinstance(getattr(node, name), (int, float, str)):
            raise _unsupported(child(where, name), "JsonLogic has no dates or instants")
    return _guarded(voids, {"<=": [node.low, arg, node.high]})


def _truthy_parts(node: Truthy, where: str) -> tuple[list[Any], Any]:
    arg, voids = _value_out(node.arg, child(where, "arg"))
    return voids, {"!!": [arg]}


_OUT: dict[type[Rule], Callable[[Any, str], Any]] = {
    All: lambda r, w: (
        {"and": [_rule_out(x, f"{w}.rules[{n}]") for n, x in enumerate(r.rules)]}
        if r.rules
        else True
    ),
    AnyOf: lambda r, w: (
        {"or": [_rule_out(x, f"{w}.rules[{n}]") for n, x in enumerate(r.rules)]}
        if r.rules
        else False
    ),
    Not: lambda r, w: {"!": [_rule_out(r.rule, child(w, "rule"))]},
    Constant: lambda r, _: r.value,
    Compare: _compare_out,
    OneOf: _one_of_out,
    Text: _text_out,
    Exists: lambda r, _: {"!=": [{"var": r.field.path}, None]},
    Truthy: lambda r, w: _guarded(*_truthy_parts(r, w)),
    Between: _between_out,
    InSegment: lambda r, _: {"in": [r.segment, {"var": SEGMENTS}]},
}


def _rule_out(rule: Rule, where: str) -> Any:
    writer = _OUT.get(type(rule))
    if writer is None:
        raise _unsupported(where, f"JsonLogic cannot express {type(rule).__name__} conditions")
    return writer(rule, where)
