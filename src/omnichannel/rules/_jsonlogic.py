"""JsonLogic, evaluated exactly as the reference implementation (json-logic-js) does.

JsonLogic is JavaScript's semantics written as JSON, so this module carries
the few JavaScript rules it relies on: truthiness (an empty array is false),
loose equality (``1 == "1"``), ``parseFloat`` for ``+`` and ``*`` but
``Number()`` for ``-``, ``/``, ``%``, ``min`` and ``max``, and how values
print (``cat``). The official test suite runs against it unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omnichannel._jsonpath import child
from omnichannel.errors import RuleError

_NUMBER = re.compile(
    r"\s*[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*|\s*0[xX][0-9a-fA-F]+\s*"
)
_FLOAT_PREFIX = re.compile(r"\s*[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


def jsonlogic_apply(logic: Any, data: Any = None) -> Any:
    """Evaluate a JsonLogic rule against ``data``, returning what json-logic-js would.

    Raises:
        RuleError: an unknown operator, with the path inside the rule.

    Examples:
        >>> jsonlogic_apply(
        ...     {"and": [{"<": [{"var": "age"}, 30]}, {"in": ["DE", {"var": "markets"}]}]},
        ...     {"age": 25, "markets": ["DE", "FR"]},
        ... )
        True
        >>> jsonlogic_apply({"cat": ["Hello, ", {"var": "name"}]}, {"name": "Ann"})
        'Hello, Ann'

    .. versionadded:: 0.1.0
    """
    return _apply(logic, data, "$")


def is_logic(value: Any) -> bool:
    """Say whether ``value`` is a JsonLogic operation (an object with exactly one key)."""
    return isinstance(value, Mapping) and len(value) == 1


def truthy(value: Any) -> bool:
    """JsonLogic's truthiness: JavaScript's, except that an empty array is false."""
    if isinstance(value, list):
        return len(value) > 0
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, Mapping):
        return True
    return bool(value)


def _apply(logic: Any, data: Any, path: str) -> Any:
    if isinstance(logic, list):
        return [_apply(item, data, child(path, i)) for i, item in enumerate(logic)]
    if not is_logic(logic):
        return logic
    ((op, raw),) = logic.items()
    args: list[Any] = raw if isinstance(raw, list) else [raw]
    where = child(path, op)
    lazy = _LAZY.get(op)
    if lazy is not None:
        return lazy(args, data, where)
    values = [_apply(arg, data, child(where, i)) for i, arg in enumerate(args)]
    eager = _EAGER.get(op)
    if eager is None:
        raise RuleError.one(where, "unknown_operator", f"{op!r} is not a JsonLogic operator")
    return eager(values, data)


# --- JavaScript values ------------------------------------------------------------------


def to_number(value: Any) -> float:
    """JavaScript's ``Number(value)``."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        if not _NUMBER.fullmatch(value):
            return math.nan
        if text.lower().lstrip("+-").startswith("0x"):
            return float(int(text, 16))
        return float(text)
    if isinstance(value, list):
        return to_number(to_string(value))
    return math.nan


def parse_float(value: Any) -> float:
    """JavaScript's ``parseFloat(value)``: the leading number of its text, else NaN."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    found = _FLOAT_PREFIX.match(to_string(value))
    return float(found.group()) if found else math.nan


def to_string(value: Any) -> str:
    """JavaScript's ``String(value)``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if item is None else to_string(item) for item in value)
    return "[object Object]"


def _number_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    return repr(number)


def _primitive(value: Any) -> Any:
    """JavaScript's ToPrimitive for JSON values: arrays and objects become strings."""
    return to_string(value) if isinstance(value, (list, Mapping)) else value


def loose_equal(a: Any, b: Any) -> bool:
    """JavaScript's ``a == b`` for JSON values."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (list, Mapping)) and isinstance(b, (list, Mapping)):
        return a is b  # distinct objects are never == in JavaScript
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return to_number(a) == to_number(b)


def strict_equal(a: Any, b: Any) -> bool:
    """JavaScript's ``a === b`` for JSON values (True is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, (list, Mapping)) or isinstance(b, (list, Mapping)):
        return a is b
    return type(a) is type(b) and a == b


def _less(a: Any, b: Any, *, equal: bool) -> bool:
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a <= b if equal else a < b
    x, y = to_number(a), to_number(b)
    return x <= y if equal else x < y


def _number(value: float) -> int | float:
    """Integral results come back as ints (JSON has one number type; 2 reads better than 2.0)."""
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# --- operators ----------------------------------------------------------------------------


def _at(values: list[Any], index: int) -> Any:
    """An argument, or None where the rule gave too few (JavaScript's undefined)."""
    return values[index] if index < len(values) else None


def _var(values: list[Any], data: Any) -> Any:
    name = values[0] if values else None
    default = values[1] if len(values) > 1 else None
    if name is None or name == "":
        return data
    current = data
    for part in to_string(name).split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
        if current is None:
            return default
    return current


def _missing(values: list[Any], data: Any) -> list[Any]:
    keys = values[0] if values and isinstance(values[0], list) else values
    return [key for key in keys if _var([key], data) in (None, "")]


def _missing_some(values: list[Any], data: Any) -> list[Any]:
    need, keys = _at(values, 0), _at(values, 1)
    if not isinstance(keys, list):
        return []
    missing = _missing([keys], data)
    return [] if len(keys) - len(missing) >= to_number(need) else missing


def _to_integer(value: Any, size: int) -> int:
    """JavaScript's ToIntegerOrInfinity, clamped to a string of ``size``: NaN is 0."""
    number = to_number(value)
    if math.isnan(number):
        return 0
    if math.isinf(number):
        return size if number > 0 else -size
    return int(number)


def _substr(values: list[Any], _data: Any) -> str:
    text = to_string(_at(values, 0))
    start = _to_integer(values[1], len(text)) if len(values) > 1 else 0
    if start < 0:
        start = max(0, len(text) + start)
    if len(values) > 2:
        length = _to_integer(values[2], len(text))
        end = len(text) + length if length < 0 else start + length
        return text[start:end]
    return text[start:]


def _merge(values: list[Any], _data: Any) -> list[Any]:
    merged: list[Any] = []
    for value in values:
        if isinstance(value, list):
            merged.extend(value)
        else:
            merged.append(value)
    return merged


def _in(values: list[Any], _data: Any) -> bool:
    needle, haystack = _at(values, 0), _at(values, 1)
    if isinstance(haystack, str):
        return to_string(needle) in haystack
    if isinstance(haystack, list):
        return any(strict_equal(needle, item) for item in haystack)
    return False


def _between(compare: Callable[[Any, Any], bool]) -> Callable[[list[Any], Any], bool]:
    def run(values: list[Any], _data: Any) -> bool:
        if len(values) > 2:
            return compare(values[0], values[1]) and compare(values[1], values[2])
        return compare(_at(values, 0), _at(values, 1))

    return run


def _minus(values: list[Any], _data: Any) -> int | float:
    if len(values) == 1:
        return _number(-to_number(values[0]))
    return _number(to_number(_at(values, 0)) - to_number(_at(values, 1)))


def _divide(values: list[Any], _data: Any) -> int | float:
    a, b = to_number(_at(values, 0)), to_number(_at(values, 1))
    if b == 0:
        return (
            math.nan
            if a == 0 or math.isnan(a)
            else math.copysign(math.inf, a) * math.copysign(1, b)
        )
    return _number(a / b)


def _modulo(values: list[Any], _data: Any) -> int | float:
    a, b = to_number(_at(values, 0)), to_number(_at(values, 1))
    if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    return _number(math.fmod(a, b))  # JavaScript's % keeps the dividend's sign


def _sum(values: list[Any], _data: Any) -> int | float:
    return _number(math.fsum(parse_float(v) for v in values) if values else 0.0)


def _product(values: list[Any], _data: Any) -> int | float:
    result = 1.0
    for value in values:
        result *= parse_float(value)
    return _number(result)


def _extreme(
    pick: Callable[[Sequence[float]], float], empty: float
) -> Callable[[list[Any], Any], int | float]:
    def run(values: list[Any], _data: Any) -> int | float:
        numbers = [to_number(v) for v in values]
        if any(math.isnan(n) for n in numbers):
            return math.nan
        return _number(pick(numbers)) if numbers else empty

    return run


_EAGER: dict[str, Callable[[list[Any], Any], Any]] = {
    "var": _var,
    "missing": _missing,
    "missing_some": _missing_some,
    "==": lambda v, _: loose_equal(_at(v, 0), _at(v, 1)),
    "===": lambda v, _: strict_equal(_at(v, 0), _at(v, 1)),
    "!=": lambda v, _: not loose_equal(_at(v, 0), _at(v, 1)),
    "!==": lambda v, _: not strict_equal(_at(v, 0), _at(v, 1)),
    ">": lambda v, _: _less(_at(v, 1), _at(v, 0), equal=False),
    ">=": lambda v, _: _less(_at(v, 1), _at(v, 0), equal=True),
    "<": _between(lambda a, b: _less(a, b, equal=False)),
    "<=": _between(lambda a, b: _less(a, b, equal=True)),
    "!": lambda v, _: not truthy(_at(v, 0)),
    "!!": lambda v, _: truthy(_at(v, 0)),
    "%": _modulo,
    "+": _sum,
    "*": _product,
    "-": _minus,
    "/": _divide,
    "min": _extreme(min, math.inf),
    "max": _extreme(max, -math.inf),
    "merge": _merge,
    "in": _in,
    "cat": lambda v, _: "".join(to_string(x) for x in v),
    "substr": _substr,
    "log": lambda v, _: _at(v, 0),
}


# --- operators that decide what to evaluate ----------------------------------------------


def _if(args: list[Any], data: Any, path: str) -> Any:
    for i in range(0, len(args) - 1, 2):
        if truthy(_apply(args[i], data, child(path, i))):
            return _apply(args[i + 1], data, child(path, i + 1))
    if len(args) % 2 == 1:
        return _apply(args[-1], data, child(path, len(args) - 1))
    return None


def _and(args: list[Any], data: Any, path: str) -> Any:
    value: Any = None
    for i, arg in enumerate(args):
        value = _apply(arg, data, child(path, i))
        if not truthy(value):
            return value
    return value


def _or(args: list[Any], data: Any, path: str) -> Any:
    value: Any = None
    for i, arg in enumerate(args):
        value = _apply(arg, data, child(path, i))
        if truthy(value):
            return value
    return value


def _items(args: list[Any], data: Any, path: str) -> list[Any]:
    scope = _apply(args[0], data, child(path, 0)) if args else None
    return scope if isinstance(scope, list) else []


def _filter(args: list[Any], data: Any, path: str) -> list[Any]:
    test = args[1] if len(args) > 1 else None
    return [item for item in _items(args, data, path) if truthy(_apply(test, item, child(path, 1)))]


def _map(args: list[Any], data: Any, path: str) -> list[Any]:
    step = args[1] if len(args) > 1 else None
    return [_apply(step, item, child(path, 1)) for item in _items(args, data, path)]


def _reduce(args: list[Any], data: Any, path: str) -> Any:
    step = args[1] if len(args) > 1 else None
    accumulator = _apply(args[2], data, child(path, 2)) if len(args) > 2 else None
    for item in _items(args, data, path):
        accumulator = _apply(step, {"current": item, "accumulator": accumulator}, child(path, 1))
    return accumulator


def _all(args: list[Any], data: Any, path: str) -> bool:
    items = _items(args, data, path)
    test = args[1] if len(args) > 1 else None
    return bool(items) and all(truthy(_apply(test, item, child(path, 1))) for item in items)


def _some(args: list[Any], data: Any, path: str) -> bool:
    test = args[1] if len(args) > 1 else None
    return any(truthy(_apply(test, item, child(path, 1))) for item in _items(args, data, path))


def _none(args: list[Any], data: Any, path: str) -> bool:
    return not _some(args, data, path)


_LAZY: dict[str, Callable[[list[Any], Any, str], Any]] = {
    "if": _if,
    "?:": _if,
    "and": _and,
    "or": _or,
    "filter": _filter,
    "map": _map,
    "reduce": _reduce,
    "all": _all,
    "some": _some,
    "none": _none,
}
