"""Compile a rule once into nested Python closures; evaluate it many times.

Every node becomes one closure ``(subject, now) -> value``; nothing walks the
tree at evaluation time. Comparisons with a literal are specialised by the
literal's type, so the common ``trait("country") == "DE"`` costs one lookup
and one comparison.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import functools
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnichannel._time import parse_instant
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

#: A compiled rule: ``predicate(subject, now) -> bool``.
Predicate = Callable[[Mapping[str, Any], dt.datetime], bool]
_Value = Callable[[Mapping[str, Any], dt.datetime], Any]

#: The comparison operators by name, as Python applies them.
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_NUMBERS = frozenset({int, float, Decimal})
_UTC = dt.timezone.utc


def compile_rule(rule: Rule) -> Predicate:
    """Compile ``rule`` into ``predicate(subject, now) -> bool``.

    ``now`` must be timezone-aware; rules that do not speak of time ignore it.

    Examples:
        >>> import datetime as dt
        >>> from omnichannel.rules import did, trait
        >>> rule = (trait("country") == "DE") & did("Order Completed").within(days=30)
        >>> matches = compile_rule(rule)
        >>> now = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
        >>> order = {"event": "Order Completed", "timestamp": now - dt.timedelta(days=3)}
        >>> matches({"traits": {"country": "DE"}, "events": [order]}, now)
        True
        >>> matches({"traits": {"country": "FR"}, "events": [order]}, now)
        False

    .. versionadded:: 0.1.0
    """
    return _compile(rule)


# --- values ------------------------------------------------------------------------------


def _deep(value: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """A fast reader of ``path`` in a document: the value, or None when any step is missing."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        (key,) = parts
        return lambda s: s.get(key)
    first, rest = parts[0], parts[1:]
    if len(rest) == 1:
        (second,) = rest

        def two(s: Mapping[str, Any]) -> Any:
            inner = s.get(first)
            if inner.__class__ is dict:
                return inner.get(second)
            return _deep(inner, rest)

        return two

    def many(s: Mapping[str, Any]) -> Any:
        return _deep(s.get(first), rest)

    return many


def kind(value: Any) -> str | None:
    """The comparison family of a value: number, text, bool, instant, date — or None."""
    cls = value.__class__
    if cls in _NUMBERS:
        return "number"
    if isinstance(value, str):
        return "text"
    if cls is bool:
        return "bool"
    if isinstance(value, dt.datetime):
        return "instant"
    if isinstance(value, dt.date):
        return "date"
    return None


@functools.lru_cache(maxsize=4096)
def _instant_from_text(text: str) -> dt.datetime | None:
    try:
        return parse_instant(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _date_from_text(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def as_instant(value: Any) -> dt.datetime | None:
    """An aware datetime from a datetime (naive ones read as UTC) or ISO-8601 text."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    if isinstance(value, str):
        return _instant_from_text(value)
    return None


def as_date(value: Any) -> dt.date | None:
    """A calendar date from a date (not a datetime) or ``YYYY-MM-DD`` text."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return _date_from_text(value)
    return None


@functools.lru_cache(maxsize=1024)
def zone(name: Any) -> dt.tzinfo:
    """The time zone named ``name``; UTC for a missing or unknown name."""
    if not isinstance(name, str):
        return _UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return _UTC


def _coerce(value: Any, family: str | None) -> Any:
    """Read text as an instant or a date when the other side of a comparison is one."""
    if family == "instant":
        return as_instant(value)
    if family == "date":
        return as_date(value)
    return value


def same_kind_compare(fn: str, left: Any, right: Any) -> bool:
    """``left <fn> right`` when both are present and of one family, else False."""
    left_kind, right_kind = kind(left), kind(right)
    if left_kind == "text" and right_kind in ("instant", "date"):
        left, left_kind = _coerce(left, right_kind), right_kind
    elif right_kind == "text" and left_kind in ("instant", "date"):
        right, right_kind = _coerce(right, left_kind), left_kind
    if left is None or right is None or left_kind is None or left_kind != right_kind:
        return False
    if left_kind == "bool" and fn not in ("eq", "ne"):
        return False
    return OPS[fn](left, right)


def _field(node: Field) -> _Value:
    get = getter(node.path)
    return lambda s, _now: get(s)


def _const(node: Const) -> _Value:
    value = node.value
    return lambda _s, _now: value


def _numbers(*values: Any) -> bool:
    return all(v.__class__ in _NUMBERS for v in values)


def _mod(a: Any, b: Any) -> Any:
    # SQL's remainder: the sign of the dividend (Python's % takes the divisor's).
    if isinstance(a, int) and isinstance(b, int):
        rest = abs(a) % abs(b)
        return -rest if a < 0 else rest
    return math.fmod(a, b)


def _arith(node: Arith) -> _Value:
    args = [value(a) for a in node.args]
    fn = node.fn
    if fn in ("min", "max"):
        pick = min if fn == "min" else max

        def extreme(s: Mapping[str, Any], now: dt.datetime) -> Any:
            values = [a(s, now) for a in args]
            return pick(values) if _numbers(*values) else None

        return extreme
    if fn == "add":
        combine: Callable[[Any, Any], Any] = operator.add
    elif fn == "sub":
        combine = operator.sub
    elif fn == "mul":
        combine = operator.mul
    elif fn == "div":
        combine = lambda a, b: None if b == 0 else a / b  # noqa: E731
    else:
        combine = lambda a, b: None if b == 0 else _mod(a, b)  # noqa: E731

    def compute(s: Mapping[str, Any], now: dt.datetime) -> Any:
        values = [a(s, now) for a in args]
        if not _numbers(*values):
            return None
        return functools.reduce(combine, values)

    return compute


def _concat(node: Concat) -> _Value:
    args = [value(a) for a in node.args]

    def join(s: Mapping[str, Any], now: dt.datetime) -> Any:
        parts = [a(s, now) for a in args]
        return "".join(parts) if all(isinstance(p, str) for p in parts) else None

    return join


def _local(node: LocalPart) -> _Value:
    of = None if node.of is None else getter(node.of.path)
    part = node.part

    def read(s: Mapping[str, Any], now: dt.datetime) -> Any:
        instant = now if of is None else as_instant(of(s))
        if instant is None:
            return None
        local = instant.astimezone(zone(s.get("timezone")))
        return local.isoweekday() if part == "weekday" else getattr(local, part)

    return read


def substring(text: str, start: int, length: int | None) -> str:
    """JsonLogic's ``substr``: negative ``start`` counts from the end, negative ``length`` drops."""
    begin = start if start >= 0 else max(len(text) + start, 0)
    if length is None:
        return text[begin:]
    end = begin + length if length >= 0 else max(len(text) + length, begin)
    return text[begin:end]


def _substr(node: Substr) -> _Value:
    read, start, length = value(node.arg), node.start, node.length

    def cut(s: Mapping[str, Any], now: dt.datetime) -> Any:
        text = read(s, now)
        return substring(text, start, length) if isinstance(text, str) else None

    return cut


def _if_else(node: IfElse) -> _Value:
    cases = [(_compile(c.when), value(c.then)) for c in node.cases]
    otherwise = value(node.otherwise)

    def choose(s: Mapping[str, Any], now: dt.datetime) -> Any:
        for when, then in cases:
            if when(s, now):
                return then(s, now)
        return otherwise(s, now)

    return choose


_VALUES: dict[type[Expr], Callable[[Any], _Value]] = {
    Field: _field,
    Const: _const,
    Arith: _arith,
    Concat: _concat,
    LocalPart: _local,
    Substr: _substr,
    IfElse: _if_else,
}


def value(node: Expr) -> _Value:
    """Compile a value node into ``(subject, now) -> value or None``."""
    return _VALUES[type(node)](node)


# --- conditions ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _junction(count: int, word: str) -> Callable[..., Predicate]:
    """``make(p0, p1, ...)`` -> ``lambda s, now: p0(s, now) and p1(s, now) ...``, one frame."""
    names = [f"p{n}" for n in range(count)]
    body = f" {word} ".join(f"{name}(s, now)" for name in names)
    source = f"def make({', '.join(names)}):\n    return lambda s, now: {body}\n"
    scope: dict[str, Any] = {}
    exec(source, scope)  # noqa: S102 - built from fixed text and counts, never from user input
    return scope["make"]  # type: ignore[no-any-return]


def _junction_of(rules: tuple[Rule, ...], word: str) -> Predicate:
    # Field tests are fused into one generated function; the rest join it as closures.
    specs: list[FieldSpec] = []
    parts: list[Predicate] = []
    for rule in rules:
        spec = _field_spec(rule)
        if spec is None:
            parts.append(_compile(rule))
        else:
            specs.append(spec)
    if len(specs) > 32:
        parts, specs = [*parts, *(_fused([spec], word) for spec in specs)], []
    if specs:
        parts.insert(0, _fused(specs, word))
    if not parts:
        result = word == "and"
        return lambda _s, _now: result
    if len(parts) == 1:
        return parts[0]
    if len(parts) > 32:
        test = all if word == "and" else any
        return lambda s, now: test(p(s, now) for p in parts)
    return _junction(len(parts), word)(*parts)


def _all(node: All) -> Predicate:
    return _junction_of(node.rules, "and")


def _any(node: AnyOf) -> Predicate:
    return _junction_of(node.rules, "or")


def _not(node: Not) -> Predicate:
    inner = _compile(node.rule)
    return lambda s, now: not inner(s, now)


def _constant(node: Constant) -> Predicate:
    result = node.value
    return lambda _s, _now: result


_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
# How field n is read into v, inlined into its test: one step, two steps, or more.
_READS = {
    1: "v = s.get(f{n})",
    # Subscripts are the fast path (a try costs nothing when nothing is raised); a missing
    # key or a value that is not a mapping falls back to the careful reader.
    2: "try:\n"
    "            v = s[f{n}][k{n}]\n"
    "        except (KeyError, TypeError, IndexError):\n"
    "            v = deep(s.get(f{n}), r{n})",
    3: "v = deep(s.get(f{n}), r{n})",
}
_LIT = re.compile(r"\blit\b")
#: A test of one field fused into generated code: (path, test of ``v`` and ``lit``, lit).
FieldSpec = tuple[str, str, Any]


@functools.lru_cache(maxsize=512)
def _field_tests(shape: tuple[tuple[int, str], ...], word: str) -> Callable[..., Predicate]:
    """A factory of one ``(subject, now) -> bool`` function testing several fields in one frame.

    ``shape`` lists each field's read depth and test; the keys and literals
    are arguments of the factory, so every rule of one shape shares the code.
    """
    names = ", ".join(f"f{n}, k{n}, r{n}, l{n}" for n in range(len(shape)))
    lines = ["def make(args, deep, numbers):", f"    {names}, = args", "    def test(s, _now):"]
    for n, (steps, check) in enumerate(shape):
        read = _READS[steps].format(n=n)
        test = _LIT.sub(f"l{n}", check)
        lines.append(f"        {read}")
        if n == len(shape) - 1:
            lines.append(f"        return {test}")
        elif word == "and":
            lines.append(f"        if not ({test}): return False")
        else:
            lines.append(f"        if {test}: return True")
    lines.append("    return test")
    scope: dict[str, Any] = {}
    exec("\n".join(lines), scope)  # noqa: S102 - built from fixed templates, never from user input
    return scope["make"]  # type: ignore[no-any-return]


def _fused(specs: list[FieldSpec], word: str = "and") -> Predicate:
    shape, args = [], []
    for path, check, lit in specs:
        parts = tuple(path.split("."))
        shape.append((min(len(parts), 3), check))
        args += [parts[0], parts[1] if len(parts) > 1 else None, parts[1:], lit]
    predicate: Predicate = _field_tests(tuple(shape), word)(args, _deep, _NUMBERS)
    return predicate


def _field_spec(rule: Rule) -> FieldSpec | None:
    """The fused form of a rule that tests one field against literals, or None."""
    if isinstance(rule, Exists):
        return rule.field.path, "v is not None", None
    if isinstance(rule, OneOf):
        if not (rule.values and isinstance(rule.arg, Field)):
            return None
        if not all(isinstance(v, str) for v in rule.values):
            return None
        # Only strings can equal strings; the type test also keeps unhashable values out.
        membership = "isinstance(v, str) and v " + ("not in" if rule.negate else "in") + " lit"
        return rule.arg.path, membership, frozenset(rule.values)
    found = _field_and_literal(rule) if isinstance(rule, Compare) else None
    if found is None:
        return None
    path, fn, lit = found
    symbol = _SYMBOLS[fn]
    family = kind(lit)
    if family == "text":
        return (
            path,
            "v == lit" if fn == "eq" else f"isinstance(v, str) and v {symbol} lit",
            lit,
        )
    if family == "number":
        return path, f"v.__class__ in numbers and v {symbol} lit", lit
    if family == "bool":
        return path, "v is lit", lit if fn == "eq" else not lit
    return None


def _compare_temporal(fn: str, path: str, lit: Any) -> Predicate:
    """``field <fn> date or instant``: the field may hold the value or its ISO-8601 text."""
    get, op = getter(path), OPS[fn]
    convert = as_instant if kind(lit) == "instant" else as_date

    def temporal(s: Mapping[str, Any], _now: dt.datetime) -> bool:
        v = convert(get(s))
        return v is not None and op(v, lit)

    return temporal


_MIRROR = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _field_and_literal(node: Compare) -> tuple[str, str, Any] | None:
    """``(path, fn, literal)`` of a field compared with a literal (either side), else None."""
    left, right, fn = node.left, node.right, str(node.fn)
    if isinstance(left, Const) and isinstance(right, Field):
        left, right, fn = right, left, _MIRROR[fn]
    if isinstance(left, Field) and isinstance(right, Const):
        return left.path, fn, right.value
    return None


def _compare(node: Compare) -> Predicate:
    spec = _field_spec(node)
    if spec is not None:
        return _fused([spec])
    found = _field_and_literal(node)
    if found is not None:
        path, fn, lit = found
        return _compare_temporal(fn, path, lit)
    left, right, fn = node.left, node.right, str(node.fn)
    read_left, read_right = value(left), value(right)
    return lambda s, now: same_kind_compare(fn, read_left(s, now), read_right(s, now))


def _one_of(node: OneOf) -> Predicate:
    spec = _field_spec(node)
    if spec is not None:
        return _fused([spec])
    read = value(node.arg)
    by_kind: dict[str | None, frozenset[Any]] = {}
    for item in node.values:
        family = kind(item)
        by_kind[family] = by_kind.get(family, frozenset()) | {item}
    negate = node.negate

    def test(s: Mapping[str, Any], now: dt.datetime) -> bool:
        v = read(s, now)
        family = kind(v)
        if family not in by_kind:
            return False
        return (v in by_kind[family]) != negate

    return test


def _text(node: Text) -> Predicate:
    read, text = value(node.arg), node.text
    if node.fn == "contains":
        return lambda s, now: isinstance(v := read(s, now), str) and text in v
    if node.fn == "starts_with":
        return lambda s, now: isinstance(v := read(s, now), str) and v.startswith(text)
    return lambda s, now: isinstance(v := read(s, now), str) and v.endswith(text)


def _exists(node: Exists) -> Predicate:
    return _fused([(node.field.path, "v is not None", None)])


def _truthy(node: Truthy) -> Predicate:
    read = value(node.arg)

    def test(s: Mapping[str, Any], now: dt.datetime) -> bool:
        v = read(s, now)
        if v.__class__ in _NUMBERS:
            return v != 0 and v == v  # noqa: PLR0124 - NaN is falsy, and never equal to itself
        return bool(v) if isinstance(v, (str, bool, list, Mapping)) else v is not None

    return test


def _between(node: Between) -> Predicate:
    low = _compile(Compare(fn="ge", left=node.arg, right=Const(value=node.low)))
    high = _compile(Compare(fn="le", left=node.arg, right=Const(value=node.high)))
    return lambda s, now: low(s, now) and high(s, now)


def _recency(node: Recency) -> Predicate:
    get = getter(node.field.path)
    span = dt.timedelta(seconds=node.seconds)
    if node.fn == "within_last":

        def within(s: Mapping[str, Any], now: dt.datetime) -> bool:
            v = as_instant(get(s))
            return v is not None and now - span <= v <= now

        return within

    def older(s: Mapping[str, Any], now: dt.datetime) -> bool:
        v = as_instant(get(s))
        return v is not None and v < now - span

    return older


def next_anniversary(born: dt.date, today: dt.date) -> dt.date:
    """The first return of ``born``'s month and day on or after ``today`` (29 Feb -> 28 Feb)."""
    for year in (today.year, today.year + 1):  # pragma: no branch - next year always works
        day = born.day
        if born.month == 2 and day == 29 and not calendar.isleap(year):
            day = 28
        candidate = dt.date(year, born.month, day)
        if candidate >= today:
            return candidate
    raise AssertionError(born)  # pragma: no cover


def _anniversary(node: Anniversary) -> Predicate:
    get, days = getter(node.field.path), node.days

    def test(s: Mapping[str, Any], now: dt.datetime) -> bool:
        born = as_date(get(s))
        if born is None:
            return False
        today = now.astimezone(zone(s.get("timezone"))).date()
        return (next_anniversary(born, today) - today).days <= days

    return test


# --- events -------------------------------------------------------------------------------

_Scan = Callable[[Any, dt.datetime], Iterator[tuple[dt.datetime, Mapping[str, Any]]]]


class EventHistory(list):  # type: ignore[type-arg]
    """A subject's events in time order, indexed by name on first use (do not mutate it).

    Event conditions over a plain list scan every event; over an
    `EventHistory` they look only at the events of the name they count,
    and only inside the window (found by bisection). A profile's subject
    carries one (`omnichannel.segments.subject_events`). Events without a
    timestamp are dropped: no event condition can count them.

    Examples:
        >>> import datetime as dt
        >>> at = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
        >>> history = EventHistory([{"event": "Order Completed", "timestamp": at}])
        >>> len(history.named("Order Completed")[0]), len(history.named("Email Opened")[0])
        (1, 0)

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_built", "_index")

    def __init__(
        self,
        events: Any = (),
        *,
        index: dict[Any, tuple[list[Any], list[dt.datetime]]] | None = None,
        built: bool = False,
    ) -> None:
        self._built = built  # whether ``index`` holds the events by name, or only all of them
        if index is not None:  # events in time order with their index, from `extended`
            super().__init__(events)
            self._index = index
            return
        timed = [(at, e) for e in events if (at := _instant_of(e)) is not None]
        timed.sort(key=operator.itemgetter(0))  # stable: equal instants keep their order
        super().__init__(e for _, e in timed)
        self._index = {None: (list(self), [at for at, _ in timed])}

    def extended(self, events: Any) -> EventHistory:
        """This history with ``events`` added (a new history; this one is unchanged).

        Events that come after every event already here, the usual case of
        a live feed, extend the index as it is instead of building it again.
        """
        timed = [(at, e) for e in events if (at := _instant_of(e)) is not None]
        timed.sort(key=operator.itemgetter(0))
        times = self._index[None][1]
        if timed and times and timed[0][0] < times[-1]:
            return EventHistory([*self, *(e for _, e in timed)])
        index = {key: (list(found), list(stamps)) for key, (found, stamps) in self._index.items()}
        for at, event in timed:
            for key in (None, event.get("event")) if self._built else (None,):
                found, stamps = index.setdefault(key, ([], []))
                found.append(event)
                stamps.append(at)
        return EventHistory(index[None][0], index=index, built=self._built)

    def named(self, name: str | None) -> tuple[list[Any], list[dt.datetime]]:
        """The events called ``name`` (all for None) and their instants, in time order."""
        index = self._index
        if not self._built:  # the first named lookup builds the whole index at once
            for event, at in zip(*index[None], strict=True):
                events, times = index.setdefault(event.get("event"), ([], []))
                events.append(event)
                times.append(at)
            self._built = True
        return index.get(name, _NONE)


_NONE: tuple[list[Any], list[dt.datetime]] = ([], [])


def scan(spec: EventFilter) -> _Scan:
    """Compile an event filter into ``scan(events, now)``: each passing ``(instant, event)``.

    The window's lower edge is worked out once per subject, not once per event.
    """
    name, window = spec.event, spec.window
    check = None if spec.where is None else _compile(spec.where)
    span = None if window.seconds is None else dt.timedelta(seconds=window.seconds)
    since = window.since

    def passing(events: Any, now: dt.datetime) -> Iterator[tuple[dt.datetime, Mapping[str, Any]]]:
        low = now - span if span is not None else since
        if events.__class__ is EventHistory:
            # Time order: only the events of this name inside [low, now] can pass.
            pool, times = events.named(name)
            first = 0 if low is None else bisect.bisect_left(times, low)
            for n in range(first, bisect.bisect_right(times, now)):
                if check is None or check(pool[n], now):
                    yield times[n], pool[n]
            return
        for event in events:
            if name is not None and event.get("event") != name:
                continue
            at = _instant_of(event)
            if at is None or at > now or (low is not None and at < low):
                continue
            if check is None or check(event, now):
                yield at, event

    return passing


def _instant_of(event: Mapping[str, Any]) -> dt.datetime | None:
    at = event.get("timestamp")
    # The common case, an aware datetime, skips the general reader.
    if at.__class__ is dt.datetime and at.tzinfo is not None:
        return at
    return as_instant(at)


def _events(s: Mapping[str, Any]) -> Any:
    events = s.get("events")
    return events if events is not None else ()


def _count(node: EventCount) -> Predicate:
    passing, op, count = scan(node.filter), OPS[node.fn], node.count
    if node.fn == "ge" and count == 1:
        return lambda s, now: any(True for _ in passing(_events(s), now))
    if node.fn == "eq" and count == 0:
        return lambda s, now: not any(True for _ in passing(_events(s), now))
    return lambda s, now: op(sum(1 for _ in passing(_events(s), now)), count)


def _aggregate(node: EventAggregate) -> Predicate:
    passing, get = scan(node.filter), getter(node.property)
    agg, op, target = node.agg, OPS[node.fn], node.value

    def measure(s: Mapping[str, Any], now: dt.datetime) -> bool:
        found = [get(event) for _, event in passing(_events(s), now)]
        if agg == "count_distinct":
            return op(len({(kind(v), v) for v in found if v is not None}), target)
        values: list[Any] = [v for v in found if v.__class__ in _NUMBERS]
        if agg == "sum":
            return op(sum(values), target)
        if not values:
            return False
        result = (
            sum(values) / len(values) if agg == "avg" else (min if agg == "min" else max)(values)
        )
        return op(result, target)

    return measure


def _followed_by(node: FollowedBy) -> Predicate:
    if node.within is None:
        return _followed_any_time(node)
    first, then, negate = scan(node.first), scan(node.then), node.negate
    span = dt.timedelta(seconds=node.within)

    def test(s: Mapping[str, Any], now: dt.datetime) -> bool:
        events = _events(s)
        starts = [at for at, _ in first(events, now)]
        if not starts:
            return False
        ends = sorted(at for at, _ in then(events, now))
        for start in starts:
            at = bisect.bisect_right(ends, start)
            followed = at < len(ends) and ends[at] <= start + span
            if not negate and followed:
                return True
            if negate and not followed and start + span <= now:
                return True
        return False

    return test


def _followed_any_time(node: FollowedBy) -> Predicate:
    """Without a time limit only the extremes matter: one pass, no sorting.

    Some start is never followed exactly when the latest start is not; some
    start is followed exactly when the earliest start precedes the latest end.
    """
    first, then, negate = extremes(node.first), extremes(node.then), node.negate

    def test(s: Mapping[str, Any], now: dt.datetime) -> bool:
        events = _events(s)
        earliest, latest = first(events, now)
        if latest is None:
            return False
        last_end = then(events, now)[1]
        if negate:
            return last_end is None or last_end <= latest
        return last_end is not None and earliest is not None and earliest < last_end

    return test


_Extremes = Callable[[Any, dt.datetime], tuple[dt.datetime | None, dt.datetime | None]]


def extremes(spec: EventFilter) -> _Extremes:
    """Compile an event filter into ``extremes(events, now)``: the first and last passing instant.

    Over an `EventHistory` with no property test, the window's two ends are
    found by bisection: no event is read.
    """
    passing = scan(spec)
    name, window = spec.event, spec.window
    span = None if window.seconds is None else dt.timedelta(seconds=window.seconds)

    def ends(events: Any, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
        if spec.where is None and events.__class__ is EventHistory:
            times = events.named(name)[1]
            low = now - span if span is not None else window.since
            first = 0 if low is None else bisect.bisect_left(times, low)
            last = bisect.bisect_right(times, now)
            return (times[first], times[last - 1]) if first < last else (None, None)
        found = [at for at, _ in passing(events, now)]
        return (min(found), max(found)) if found else (None, None)

    return ends


def _segment(node: InSegment) -> Predicate:
    name = node.segment

    def test(s: Mapping[str, Any], _now: dt.datetime) -> bool:
        segments = s.get("segments")
        return segments is not None and name in segments

    return test


_RULES: dict[type[Rule], Callable[[Any], Predicate]] = {
    All: _all,
    AnyOf: _any,
    Not: _not,
    Constant: _constant,
    Compare: _compare,
    OneOf: _one_of,
    Text: _text,
    Exists: _exists,
    Truthy: _truthy,
    Between: _between,
    Recency: _recency,
    Anniversary: _anniversary,
    EventCount: _count,
    EventAggregate: _aggregate,
    FollowedBy: _followed_by,
    InSegment: _segment,
}


def _compile(rule: Rule) -> Predicate:
    return _RULES[type(rule)](rule)
