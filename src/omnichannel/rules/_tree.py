"""The rule language: a small typed tree of frozen nodes.

A rule is a condition on a *subject* — one document per person:

.. code-block:: text

    {"traits": {...}, "state": {...}, "context": {...},
     "timezone": "Europe/Berlin", "segments": ["vip", ...],
     "events": [{"event": "Order Completed", "timestamp": <aware datetime>,
                 "channel": "web", "properties": {...}}, ...]}

Fields are dotted paths into it (``traits.country``, ``state.orders.count``);
inside an event filter they are paths into one event (``properties.total``,
``channel``). The same tree compiles to Python closures (`compile_rule`) and
to SQL (`to_sql`), prints as text for people (``str(rule)``), and travels as
versioned JSON (`dump_rule` / `load_rule`) or as JsonLogic.

Missing values have one meaning everywhere: a comparison that meets a missing
(or ``None``) value, or values of different types, is false — whatever the
operator. ``~rule`` is the exact complement of ``rule``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from omnichannel.errors import RuleError

#: A literal a rule may compare with.
Scalar: TypeAlias = "str | int | float | bool | dt.date | dt.datetime"

CompareOp = Literal["eq", "ne", "lt", "le", "gt", "ge"]
COMPARE_OPS: tuple[str, ...] = ("eq", "ne", "lt", "le", "gt", "ge")
ArithOp = Literal["add", "sub", "mul", "div", "mod", "min", "max"]
ARITH_OPS: tuple[str, ...] = ("add", "sub", "mul", "div", "mod", "min", "max")
TextOp = Literal["contains", "starts_with", "ends_with"]
TEXT_OPS: tuple[str, ...] = ("contains", "starts_with", "ends_with")
RecencyOp = Literal["within_last", "older_than"]
RECENCY_OPS: tuple[str, ...] = ("within_last", "older_than")
AggregateFn = Literal["sum", "avg", "min", "max", "count_distinct"]
AGGREGATE_FNS: tuple[str, ...] = ("sum", "avg", "min", "max", "count_distinct")
LocalPartName = Literal["hour", "weekday", "day", "month", "year"]
LOCAL_PARTS: tuple[str, ...] = ("hour", "weekday", "day", "month", "year")

_SEGMENT = re.compile(r"[^.\s]+")
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


def _check_path(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise RuleError.one(f"$.{attribute.name}", "type", "must be a non-empty string")
    if not all(_SEGMENT.fullmatch(part) for part in value.split(".")):
        raise RuleError.one(
            f"$.{attribute.name}", "invalid", f"{value!r} is not a dotted path (no spaces)"
        )


def _one_of(options: tuple[str, ...]) -> Validator:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in options:
            raise RuleError.one(
                f"$.{attribute.name}", "invalid", f"must be one of {', '.join(options)}"
            )

    return check


def check_scalar(value: object, where: str = "$") -> Scalar:
    """Return ``value`` if a rule may hold it as a literal, else raise `RuleError`."""
    if isinstance(value, float) and value != value:  # noqa: PLR0124 - NaN is never equal to itself
        raise RuleError.one(where, "invalid", "NaN is not a value a rule can compare with")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise RuleError.one(where, "invalid", "datetimes in rules must be timezone-aware")
        return value
    if isinstance(value, Decimal):
        raise RuleError.one(where, "type", "use int or float literals, not Decimal")
    if isinstance(value, (str, int, float, bool, dt.date)):
        return value
    raise RuleError.one(where, "type", f"{type(value).__name__} is not a rule literal")


def _scalar(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_scalar(value, f"$.{attribute.name}")


def _scalars(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    for n, item in enumerate(value):
        check_scalar(item, f"$.{attribute.name}[{n}]")


def _count(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleError.one(f"$.{attribute.name}", "out_of_range", "must be a whole number >= 0")


def _positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RuleError.one(f"$.{attribute.name}", "out_of_range", "must be a whole number > 0")


def _number(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RuleError.one(f"$.{attribute.name}", "type", "must be a number")
    check_scalar(value, f"$.{attribute.name}")


def _exprs(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    for n, item in enumerate(value):
        if not isinstance(item, Expr):
            raise RuleError.one(f"$.{attribute.name}[{n}]", "type", "must be a value")


def _bool(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise RuleError.one(f"$.{attribute.name}", "type", "must be true or false")


def _text(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise RuleError.one(f"$.{attribute.name}", "type", "must be a string")


def _name(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RuleError.one(f"$.{attribute.name}", "type", "must be a non-empty string")


def _of(cls: type, *, optional: bool = False) -> Validator:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not (isinstance(value, cls) or (optional and value is None)):
            raise RuleError.one(f"$.{attribute.name}", "type", f"must be a {cls.__name__}")

    return check


def seconds_of(
    delta: dt.timedelta | None = None,
    *,
    days: float = 0,
    hours: float = 0,
    minutes: float = 0,
    seconds: float = 0,
) -> int:
    """Whole seconds of a duration given as a timedelta or as keyword parts."""
    total = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if delta is not None:
        total += delta
    whole = int(total.total_seconds())
    if whole <= 0 or whole != total.total_seconds():
        raise RuleError.one("$", "out_of_range", "a duration must be a whole number of seconds > 0")
    return whole


# --- values ------------------------------------------------------------------------------


class Expr:
    """A value inside a rule: a field, a literal, or arithmetic on them."""

    __slots__ = ()
    op: ClassVar[str]


@attrs.frozen(kw_only=True)
class Field(Expr):
    """The value at a dotted ``path`` of the subject (or of one event, inside event filters)."""

    op: ClassVar[str] = "field"
    path: str = attrs.field(validator=_check_path)


@attrs.frozen(kw_only=True)
class Const(Expr):
    """A literal value."""

    op: ClassVar[str] = "value"
    value: Scalar = attrs.field(validator=_scalar)


@attrs.frozen(kw_only=True)
class Arith(Expr):
    """Arithmetic on numbers: add, sub, mul, div, mod (sign of the dividend), min, max.

    A missing operand, or a division by zero, gives a missing result.
    """

    op: ClassVar[str] = "arith"
    fn: ArithOp = attrs.field(validator=_one_of(ARITH_OPS))
    args: tuple[Expr, ...] = attrs.field(converter=_tuple, validator=_exprs)

    def __attrs_post_init__(self) -> None:
        binary = self.fn in ("sub", "div", "mod")
        if len(self.args) < 1 or (binary and len(self.args) != 2):
            need = "exactly 2" if binary else "at least 1"
            raise RuleError.one("$.args", "arity", f"{self.fn} takes {need} arguments")


@attrs.frozen(kw_only=True)
class Concat(Expr):
    """Strings joined end to end; a missing part gives a missing result."""

    op: ClassVar[str] = "concat"
    args: tuple[Expr, ...] = attrs.field(converter=_tuple, validator=_exprs)


@attrs.frozen(kw_only=True)
class LocalPart(Expr):
    """Part of a timestamp in the subject's time zone (``now`` when ``of`` is None).

    ``weekday`` is ISO: 1 is Monday, 7 is Sunday. A missing or unknown time
    zone reads as UTC.
    """

    op: ClassVar[str] = "local"
    part: LocalPartName = attrs.field(validator=_one_of(LOCAL_PARTS))
    of: Field | None = attrs.field(default=None, validator=_of(Field, optional=True))


def _whole(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RuleError.one(f"$.{attribute.name}", "type", "must be a whole number")


@attrs.frozen(kw_only=True)
class Substr(Expr):
    """Part of a text, as JsonLogic's ``substr``: from ``start`` (from the end when negative).

    ``length`` characters (all the rest when None; when negative, all but that
    many at the end).
    """

    op: ClassVar[str] = "substr"
    arg: Expr = attrs.field(validator=_of(Expr))
    start: int = attrs.field(default=0, validator=_whole)
    length: int | None = attrs.field(default=None, validator=_whole)


# --- conditions ---------------------------------------------------------------------------


class Rule:
    """A condition on a subject. Combine with ``&``, ``|`` and ``~``.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()
    op: ClassVar[str]

    def __and__(self, other: Rule) -> Rule:
        if not isinstance(other, Rule):
            return NotImplemented
        left = self.rules if isinstance(self, All) else (self,)
        right = other.rules if isinstance(other, All) else (other,)
        return All(rules=(*left, *right))

    def __or__(self, other: Rule) -> Rule:
        if not isinstance(other, Rule):
            return NotImplemented
        left = self.rules if isinstance(self, AnyOf) else (self,)
        right = other.rules if isinstance(other, AnyOf) else (other,)
        return AnyOf(rules=(*left, *right))

    def __invert__(self) -> Rule:
        return self.rule if isinstance(self, Not) else Not(rule=self)

    def __str__(self) -> str:
        from omnichannel.rules._text import describe

        return describe(self)

    def to_jsonlogic(self) -> Any:
        """This rule as JsonLogic (see `omnichannel.rules.to_jsonlogic`)."""
        from omnichannel.rules._jsonlogic_bridge import to_jsonlogic

        return to_jsonlogic(self)


@attrs.frozen(kw_only=True)
class Case:
    """One branch of an `IfElse`: ``then`` when ``when`` holds."""

    when: Rule = attrs.field(validator=_of(Rule))
    then: Expr = attrs.field(validator=_of(Expr))


def _cases(value: Iterable[Case]) -> tuple[Case, ...]:
    items = tuple(value)
    for n, item in enumerate(items):
        if not isinstance(item, Case):
            raise RuleError.one(f"$.cases[{n}]", "type", "must be a Case")
    return items


@attrs.frozen(kw_only=True)
class IfElse(Expr):
    """The ``then`` of the first case whose condition holds, else ``otherwise``."""

    op: ClassVar[str] = "if"
    cases: tuple[Case, ...] = attrs.field(converter=_cases)
    otherwise: Expr = attrs.field(validator=_of(Expr))


def _rules(value: Iterable[Rule]) -> tuple[Rule, ...]:
    items = tuple(value)
    for n, item in enumerate(items):
        if not isinstance(item, Rule):
            raise RuleError.one(f"$.rules[{n}]", "type", "must be a rule")
    return items


@attrs.frozen(kw_only=True)
class All(Rule):
    """True when every rule is (true when there are none)."""

    op: ClassVar[str] = "all"
    rules: tuple[Rule, ...] = attrs.field(converter=_rules)


@attrs.frozen(kw_only=True)
class AnyOf(Rule):
    """True when at least one rule is (false when there are none)."""

    op: ClassVar[str] = "any"
    rules: tuple[Rule, ...] = attrs.field(converter=_rules)


@attrs.frozen(kw_only=True)
class Not(Rule):
    """True exactly when ``rule`` is false."""

    op: ClassVar[str] = "not"
    rule: Rule = attrs.field(validator=_of(Rule))


@attrs.frozen(kw_only=True)
class Constant(Rule):
    """Always true, or always false."""

    op: ClassVar[str] = "constant"
    value: bool = attrs.field(validator=_bool)


@attrs.frozen(kw_only=True)
class Compare(Rule):
    """``left <op> right`` for values of one type (numbers, strings, booleans, dates, datetimes).

    Booleans compare with ``eq`` and ``ne`` only.
    """

    op: ClassVar[str] = "compare"
    fn: CompareOp = attrs.field(validator=_one_of(COMPARE_OPS))
    left: Expr = attrs.field(validator=_of(Expr))
    right: Expr = attrs.field(validator=_of(Expr))

    def __attrs_post_init__(self) -> None:
        if self.fn not in ("eq", "ne") and any(
            isinstance(side, Const) and isinstance(side.value, bool)
            for side in (self.left, self.right)
        ):
            raise RuleError.one("$", "type", f"booleans cannot be compared with {self.fn}")


@attrs.frozen(kw_only=True)
class OneOf(Rule):
    """The value is one of ``values`` (or, with ``negate``, present and none of them)."""

    op: ClassVar[str] = "in"
    arg: Expr = attrs.field(validator=_of(Expr))
    values: tuple[Scalar, ...] = attrs.field(converter=_tuple, validator=_scalars)
    negate: bool = attrs.field(default=False, validator=_bool)


@attrs.frozen(kw_only=True)
class Text(Rule):
    """A string contains, starts with or ends with ``text`` (case-sensitive)."""

    op: ClassVar[str] = "text"
    fn: TextOp = attrs.field(validator=_one_of(TEXT_OPS))
    arg: Expr = attrs.field(validator=_of(Expr))
    text: str = attrs.field(validator=_text)


@attrs.frozen(kw_only=True)
class Exists(Rule):
    """The field holds a value (present and not None)."""

    op: ClassVar[str] = "exists"
    field: Field = attrs.field(validator=_of(Field))


@attrs.frozen(kw_only=True)
class Truthy(Rule):
    """JsonLogic's truthiness of a value: present, not false, not 0, not empty text.

    Read from JsonLogic (``{"!!": [...]}``, or a bare value where a condition
    belongs); built rules say what they mean with comparisons instead.
    """

    op: ClassVar[str] = "truthy"
    arg: Expr = attrs.field(validator=_of(Expr))


@attrs.frozen(kw_only=True)
class Between(Rule):
    """``low <= value <= high``."""

    op: ClassVar[str] = "between"
    arg: Expr = attrs.field(validator=_of(Expr))
    low: Scalar = attrs.field(validator=_scalar)
    high: Scalar = attrs.field(validator=_scalar)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.low, bool) or isinstance(self.high, bool):
            raise RuleError.one("$", "type", "booleans have no order to be between")


@attrs.frozen(kw_only=True)
class Recency(Rule):
    """A timestamp field lies in the last ``seconds`` before now, or is older than that.

    ``within_last``: ``now - seconds <= value <= now``. ``older_than``:
    ``value < now - seconds``.
    """

    op: ClassVar[str] = "recency"
    fn: RecencyOp = attrs.field(validator=_one_of(RECENCY_OPS))
    field: Field = attrs.field(validator=_of(Field))
    seconds: int = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class Anniversary(Rule):
    """The yearly return of a date field (a birthday) falls today or in the next ``days`` days.

    Counted in the subject's time zone. A 29 February is celebrated on
    28 February in other years.
    """

    op: ClassVar[str] = "anniversary"
    field: Field = attrs.field(validator=_of(Field))
    days: int = attrs.field(validator=_count)


@attrs.frozen(kw_only=True)
class Window:
    """Which events count: those of the last ``seconds``, those ``since`` an instant, or all.

    Events after ``now`` never count.
    """

    seconds: int | None = attrs.field(default=None, validator=_positive)
    since: dt.datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.seconds is not None and self.since is not None:
            raise RuleError.one("$", "invalid", "a window has seconds or since, not both")
        if self.since is not None:
            check_scalar(self.since, "$.since")
            if not isinstance(self.since, dt.datetime):
                raise RuleError.one("$.since", "type", "since must be a datetime")


@attrs.frozen(kw_only=True)
class EventFilter:
    """Events of one name (any name when None) that pass ``where``, within ``window``."""

    event: str | None = attrs.field(default=None, validator=_text)
    where: Rule | None = attrs.field(default=None, validator=_of(Rule, optional=True))
    window: Window = attrs.field(factory=Window, validator=_of(Window))


@attrs.frozen(kw_only=True)
class EventCount(Rule):
    """How many events pass ``filter``, compared with ``count``.

    Built by `did` and `did_not`; refine with `where`, `within`, `since`,
    `at_least`, `at_most`, `exactly`, and aggregate with `sum`, `avg`, `min`,
    `max`, `count_distinct`, or chain with `followed_by` / `not_followed_by`.
    """

    op: ClassVar[str] = "count"
    filter: EventFilter = attrs.field(validator=_of(EventFilter))
    fn: CompareOp = attrs.field(default="ge", validator=_one_of(COMPARE_OPS))
    count: int = attrs.field(default=1, validator=_count)

    def where(self, rule: Rule) -> EventCount:
        """Only events passing ``rule`` (fields are paths into the event: ``properties.total``)."""
        merged = rule if self.filter.where is None else self.filter.where & rule
        return attrs.evolve(self, filter=attrs.evolve(self.filter, where=merged))

    def within(
        self,
        delta: dt.timedelta | None = None,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
    ) -> EventCount:
        """Only events of the last ``delta`` (or ``days=``, ``hours=``, ``minutes=``)."""
        seconds = seconds_of(delta, days=days, hours=hours, minutes=minutes)
        return attrs.evolve(self, filter=attrs.evolve(self.filter, window=Window(seconds=seconds)))

    def since(self, instant: dt.datetime) -> EventCount:
        """Only events at or after ``instant``."""
        return attrs.evolve(self, filter=attrs.evolve(self.filter, window=Window(since=instant)))

    def at_least(self, count: int) -> EventCount:
        """At least ``count`` such events."""
        return attrs.evolve(self, fn="ge", count=count)

    def at_most(self, count: int) -> EventCount:
        """At most ``count`` such events."""
        return attrs.evolve(self, fn="le", count=count)

    def exactly(self, count: int) -> EventCount:
        """Exactly ``count`` such events."""
        return attrs.evolve(self, fn="eq", count=count)

    def sum(self, prop: str) -> Aggregate:
        """The sum of property ``prop`` over these events (0 when there are none)."""
        return Aggregate(self.filter, "sum", prop)

    def avg(self, prop: str) -> Aggregate:
        """The mean of property ``prop`` over these events (missing when there are none)."""
        return Aggregate(self.filter, "avg", prop)

    def min(self, prop: str) -> Aggregate:
        """The smallest ``prop`` among these events."""
        return Aggregate(self.filter, "min", prop)

    def max(self, prop: str) -> Aggregate:
        """The largest ``prop`` among these events."""
        return Aggregate(self.filter, "max", prop)

    def count_distinct(self, prop: str) -> Aggregate:
        """How many different values of ``prop`` these events carry."""
        return Aggregate(self.filter, "count_distinct", prop)

    def followed_by(
        self, then: str | EventCount, *, within: dt.timedelta | None = None
    ) -> FollowedBy:
        """One of these events, then a ``then`` event strictly after it (within ``within``)."""
        return FollowedBy(
            first=self.filter,
            then=_filter_of(then),
            within=None if within is None else seconds_of(within),
        )

    def not_followed_by(
        self, then: str | EventCount, *, within: dt.timedelta | None = None
    ) -> FollowedBy:
        """One of these events with no ``then`` event after it (within ``within``, once elapsed)."""
        return attrs.evolve(self.followed_by(then, within=within), negate=True)


def _filter_of(spec: str | EventCount) -> EventFilter:
    return EventFilter(event=spec) if isinstance(spec, str) else spec.filter


@attrs.frozen(kw_only=True)
class EventAggregate(Rule):
    """An aggregate of one property over the events passing ``filter``, compared with ``value``.

    ``sum`` and ``count_distinct`` of no events are 0; ``avg``, ``min`` and
    ``max`` of no events are missing (so every comparison is false). Events
    without the property are skipped.
    """

    op: ClassVar[str] = "aggregate"
    filter: EventFilter = attrs.field(validator=_of(EventFilter))
    agg: AggregateFn = attrs.field(validator=_one_of(AGGREGATE_FNS))
    property: str = attrs.field(validator=_check_path)
    fn: CompareOp = attrs.field(validator=_one_of(COMPARE_OPS))
    value: float = attrs.field(validator=_number)


@attrs.frozen(kw_only=True)
class FollowedBy(Rule):
    """A ``first`` event followed by a ``then`` event — or, with ``negate``, never followed.

    Positive: some ``first`` event has a ``then`` event strictly after it and
    at most ``within`` seconds later (any time later when None). Negated: some
    ``first`` event has no such ``then`` event; with ``within`` the wait must
    be over (the ``first`` event is at least ``within`` seconds old). Each
    filter's window applies to its own events.
    """

    op: ClassVar[str] = "sequence"
    first: EventFilter = attrs.field(validator=_of(EventFilter))
    then: EventFilter = attrs.field(validator=_of(EventFilter))
    within: int | None = attrs.field(default=None, validator=_positive)
    negate: bool = attrs.field(default=False, validator=_bool)


@attrs.frozen(kw_only=True)
class InSegment(Rule):
    """The subject belongs to the named segment (its ``segments`` list holds the name)."""

    op: ClassVar[str] = "segment"
    segment: str = attrs.field(validator=_name)


# --- builders -----------------------------------------------------------------------------


class Aggregate:
    """An aggregate waiting for its comparison: ``did(...).sum("properties.revenue") > 100``."""

    __slots__ = ("_agg", "_filter", "_prop")

    def __init__(self, event_filter: EventFilter, agg: str, prop: str) -> None:
        self._filter, self._agg, self._prop = event_filter, agg, prop

    def _compare(self, fn: str, value: float) -> EventAggregate:
        return EventAggregate(
            filter=self._filter,
            agg=self._agg,  # type: ignore[arg-type]
            property=self._prop,
            fn=fn,  # type: ignore[arg-type]
            value=value,
        )

    def __eq__(self, value: float) -> EventAggregate:  # type: ignore[override]
        return self._compare("eq", value)

    def __ne__(self, value: float) -> EventAggregate:  # type: ignore[override]
        return self._compare("ne", value)

    def __lt__(self, value: float) -> EventAggregate:
        return self._compare("lt", value)

    def __le__(self, value: float) -> EventAggregate:
        return self._compare("le", value)

    def __gt__(self, value: float) -> EventAggregate:
        return self._compare("gt", value)

    def __ge__(self, value: float) -> EventAggregate:
        return self._compare("ge", value)

    __hash__ = None  # type: ignore[assignment]


def _expr(value: object) -> Expr:
    if isinstance(value, Value):
        return value.node
    if isinstance(value, Expr):
        return value
    return Const(value=check_scalar(value))


class Value:
    """A value being built into a rule: compare it, test it, or compute with it.

    Made by `field`, `trait`, `state`, `prop` and `local`.
    """

    __slots__ = ("node",)

    def __init__(self, node: Expr) -> None:
        self.node = node

    def __repr__(self) -> str:
        return f"Value({self.node!r})"

    def _compare(self, fn: str, other: object) -> Compare:
        return Compare(fn=fn, left=self.node, right=_expr(other))  # type: ignore[arg-type]

    def __eq__(self, other: object) -> Compare:  # type: ignore[override]
        return self._compare("eq", other)

    def __ne__(self, other: object) -> Compare:  # type: ignore[override]
        return self._compare("ne", other)

    def __lt__(self, other: object) -> Compare:
        return self._compare("lt", other)

    def __le__(self, other: object) -> Compare:
        return self._compare("le", other)

    def __gt__(self, other: object) -> Compare:
        return self._compare("gt", other)

    def __ge__(self, other: object) -> Compare:
        return self._compare("ge", other)

    __hash__ = None  # type: ignore[assignment]

    def _arith(self, fn: str, *others: object) -> Value:
        return Value(Arith(fn=fn, args=(self.node, *map(_expr, others))))  # type: ignore[arg-type]

    def __add__(self, other: object) -> Value:
        return self._arith("add", other)

    def __sub__(self, other: object) -> Value:
        return self._arith("sub", other)

    def __mul__(self, other: object) -> Value:
        return self._arith("mul", other)

    def __truediv__(self, other: object) -> Value:
        return self._arith("div", other)

    def __mod__(self, other: object) -> Value:
        return self._arith("mod", other)

    def substr(self, start: int, length: int | None = None) -> Value:
        """Part of the text, as JsonLogic's ``substr`` (negative ``start`` counts from the end)."""
        return Value(Substr(arg=self.node, start=start, length=length))

    def is_in(self, values: Iterable[Scalar]) -> OneOf:
        """The value is one of ``values``."""
        return OneOf(arg=self.node, values=tuple(values))

    def not_in(self, values: Iterable[Scalar]) -> OneOf:
        """The value is present and none of ``values``."""
        return OneOf(arg=self.node, values=tuple(values), negate=True)

    def contains(self, text: str) -> Text:
        """The string contains ``text``."""
        return Text(fn="contains", arg=self.node, text=text)

    def starts_with(self, text: str) -> Text:
        """The string starts with ``text``."""
        return Text(fn="starts_with", arg=self.node, text=text)

    def ends_with(self, text: str) -> Text:
        """The string ends with ``text``."""
        return Text(fn="ends_with", arg=self.node, text=text)

    def between(self, low: Scalar, high: Scalar) -> Between:
        """``low <= value <= high``."""
        return Between(arg=self.node, low=low, high=high)

    def _field(self) -> Field:
        if not isinstance(self.node, Field):
            raise RuleError.one("$", "type", "this test applies to a field, not a computed value")
        return self.node

    def exists(self) -> Exists:
        """The field holds a value."""
        return Exists(field=self._field())

    def within_last(
        self, delta: dt.timedelta | None = None, *, days: float = 0, hours: float = 0
    ) -> Recency:
        """The timestamp lies in the last ``delta`` (or ``days=`` / ``hours=``) before now."""
        return Recency(
            fn="within_last", field=self._field(), seconds=seconds_of(delta, days=days, hours=hours)
        )

    def older_than(
        self, delta: dt.timedelta | None = None, *, days: float = 0, hours: float = 0
    ) -> Recency:
        """The timestamp is older than ``delta`` (or ``days=`` / ``hours=``)."""
        return Recency(
            fn="older_than", field=self._field(), seconds=seconds_of(delta, days=days, hours=hours)
        )

    def before(self, instant: dt.date | dt.datetime) -> Compare:
        """The date or timestamp is before ``instant``."""
        return self._compare("lt", instant)

    def after(self, instant: dt.date | dt.datetime) -> Compare:
        """The date or timestamp is after ``instant``."""
        return self._compare("gt", instant)

    def anniversary_within(self, *, days: int) -> Anniversary:
        """The date's yearly return (a birthday) is today or in the next ``days`` days."""
        return Anniversary(field=self._field(), days=days)


def field(path: str) -> Value:
    """The subject's value at ``path`` (``traits.country``, ``state.orders.count``).

    Examples:
        >>> rule = (field("traits.country") == "DE") & (field("state.orders.count") >= 2)
        >>> print(rule)
        country is DE and orders.count is at least 2

    .. versionadded:: 0.1.0
    """
    return Value(Field(path=path))


def trait(name: str) -> Value:
    """A trait: ``trait("country")`` is ``field("traits.country")``.

    .. versionadded:: 0.1.0
    """
    return field(f"traits.{name}")


def state(name: str) -> Value:
    """Computed state: ``state("orders.count")`` is ``field("state.orders.count")``.

    .. versionadded:: 0.1.0
    """
    return field(f"state.{name}")


def prop(name: str) -> Value:
    """An event property, inside ``where``: ``prop("total")`` is ``field("properties.total")``.

    .. versionadded:: 0.1.0
    """
    return field(f"properties.{name}")


def local(part: LocalPartName, of: Value | None = None) -> Value:
    """Part of now (or of a timestamp field) in the subject's time zone: hour, weekday, ...

    Examples:
        >>> print(local("hour").between(9, 17))
        local hour is between 9 and 17

    .. versionadded:: 0.1.0
    """
    target = None if of is None else of._field()  # noqa: SLF001 - sibling builder
    return Value(LocalPart(part=part, of=target))


def when(condition: Rule, then: object, otherwise: object) -> Value:
    """``then`` where ``condition`` holds, else ``otherwise`` (values or literals).

    Examples:
        >>> print(when(trait("vip") == True, trait("score") * 2, trait("score")) > 10)
        (if vip is true then (score * 2) else score) is more than 10

    .. versionadded:: 0.1.0
    """
    case = Case(when=condition, then=_expr(then))
    return Value(IfElse(cases=(case,), otherwise=_expr(otherwise)))


def did(event: str | None) -> EventCount:
    """The subject did ``event`` (any event when None) at least once; refine by chaining.

    Examples:
        >>> print(did("Order Completed").at_least(2).within(days=30))
        did Order Completed at least 2 times in the last 30 days

    .. versionadded:: 0.1.0
    """
    return EventCount(filter=EventFilter(event=event))


def did_not(event: str | None) -> EventCount:
    """The subject did not do ``event``; refine with `EventCount.within` or `EventCount.where`.

    .. versionadded:: 0.1.0
    """
    return EventCount(filter=EventFilter(event=event), fn="eq", count=0)


def in_segment(name: str) -> InSegment:
    """The subject is a member of segment ``name``.

    .. versionadded:: 0.1.0
    """
    return InSegment(segment=name)


def days(count: float) -> dt.timedelta:
    """A duration of ``count`` days (for ``within=``)."""
    return dt.timedelta(days=count)


def hours(count: float) -> dt.timedelta:
    """A duration of ``count`` hours (for ``within=``)."""
    return dt.timedelta(hours=count)


ALWAYS = Constant(value=True)
NEVER = Constant(value=False)
