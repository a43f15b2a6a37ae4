"""Compile a rule to SQL (through sqlglot) for DuckDB, PostgreSQL, SQLite, Spark, BigQuery...

The dialects: DuckDB, PostgreSQL, SQLite, Spark SQL, BigQuery and Snowflake.

The query selects the ids of the profiles that match, over the layout a
`Schema` describes. It means exactly what the Python engine means:

- a NULL (a missing value) makes a comparison false: where the query keeps
  only true rows (the WHERE clause, AND/OR chains, EXISTS bodies) NULL and
  FALSE already act alike, so comparisons stay bare and the database can push
  them into its scans; under a ``NOT`` they are wrapped in
  ``COALESCE(..., FALSE)``, so ``NOT`` is the exact complement;
- ``now`` is a literal, so windows are plain comparisons with constants;
- ``/`` divides as floating point and a division by zero gives NULL;
- ``min``/``max`` of values with a NULL among them are NULL (SQL's
  ``LEAST``/``GREATEST`` skip NULLs, so they are guarded).

Each dialect declares its gaps: a rule that needs what a dialect lacks fails
at compile time with `RuleError` (code ``unsupported``), never runs
differently. ``omnichannel.rules`` imports this module (and sqlglot) only when
`to_sql` is first used.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from sqlglot import exp

from omnichannel._jsonpath import child
from omnichannel._time import to_utc
from omnichannel.errors import RuleError
from omnichannel.rules._python import OPS, kind
from omnichannel.rules._schema import EVENT_BUILTINS, Schema, check_rule
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

#: Dialects the compiler targets, as sqlglot names them.
DIALECTS = ("duckdb", "postgres", "sqlite", "spark", "bigquery", "snowflake")

# What each dialect cannot express. SQLite has no time-zone database, no
# timestamp type (instants are fixed-width ISO-8601 text, see `sql_literal`)
# and no interval arithmetic. Python's remainder of non-integers is C's fmod
# (exact); SQLite's % truncates its operands, PostgreSQL has no % for double
# precision, BigQuery's MOD takes no FLOAT64, and Snowflake documents MOD as
# x - TRUNC(x / y) * y, which rounds differently.
_GAPS: dict[str, frozenset[str]] = {
    "duckdb": frozenset(),
    "postgres": frozenset({"float_remainder"}),
    "sqlite": frozenset({"timezone", "interval", "float_remainder"}),
    "spark": frozenset(),
    "bigquery": frozenset({"float_remainder"}),
    "snowflake": frozenset({"float_remainder"}),
}


def to_sql(
    rule: Rule,
    *,
    schema: Schema,
    now: dt.datetime,
    dialect: str = "duckdb",
    pretty: bool = False,
) -> str:
    """The query selecting the ids of the profiles that match ``rule`` at ``now``.

    Raises:
        RuleError: unknown fields or mismatched types (checked against
            ``schema``), an unknown dialect, or a node the dialect cannot express.

    Examples:
        >>> import datetime as dt
        >>> from omnichannel.rules import Schema, did, trait
        >>> schema = Schema(fields={"traits.country": "text"})
        >>> rule = (trait("country") == "DE") & did("Order Completed").within(days=30)
        >>> print(to_sql(rule, schema=schema, now=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)))
        ... # doctest: +NORMALIZE_WHITESPACE
        SELECT p.profile_id FROM profiles AS p WHERE (p.traits__country = 'DE'
        AND EXISTS(SELECT 1 FROM events AS e1 WHERE e1.profile_id = p.profile_id
        AND e1.event = 'Order Completed'
        AND e1.timestamp <= CAST('2024-05-01 00:00:00.000000+00:00' AS TIMESTAMPTZ)
        AND e1.timestamp >= CAST('2024-04-01 00:00:00.000000+00:00' AS TIMESTAMPTZ)))

    .. versionadded:: 0.1.0
    """
    if dialect not in _GAPS:
        raise RuleError.one("$", "invalid", f"dialect must be one of {', '.join(DIALECTS)}")
    if getattr(now, "tzinfo", None) is None:
        raise RuleError.one("$", "invalid", "now must be a timezone-aware datetime")
    check_rule(rule, schema)
    compiler = _Compiler(schema, dialect, to_utc(now))
    profiles = exp.to_table(schema.profiles_table).as_("p")
    query = (
        exp.select(exp.column(schema.id_column, "p"))
        .from_(profiles)
        .where(compiler.rule(rule, "$", "p"))
    )
    return query.sql(dialect=dialect, pretty=pretty)


class _Compiler:
    """One visitor method per node; ``table`` is the alias the fields are read from."""

    def __init__(self, schema: Schema, dialect: str, now: dt.datetime) -> None:
        self.schema, self.dialect, self.now = schema, dialect, now
        self.gaps = _GAPS[dialect]
        self.aliases: Iterator[int] = iter(range(1, 1_000_000))
        # True under a NOT: there a NULL must become FALSE before it is negated.
        self.strict = False

    def needs(self, gap: str, where: str, what: str) -> None:
        if gap in self.gaps:
            raise RuleError.one(where, "unsupported", f"{self.dialect} cannot express {what}")

    # --- values ----------------------------------------------------------------------

    def literal(self, value: Any) -> exp.Expr:
        return sql_literal(value, self.dialect)

    def expr(self, node: Expr, where: str, table: str) -> exp.Expr:
        if isinstance(node, Field):
            return exp.column(self.schema.column(node.path), table)
        if isinstance(node, Const):
            return self.literal(node.value)
        if isinstance(node, Arith):
            return self.arith(node, where, table)
        if isinstance(node, Substr):
            return self.substr(node, where, table)
        if isinstance(node, IfElse):
            return self.if_else(node, where, table)
        if isinstance(node, Concat):
            parts = [self.expr(a, f"{where}.args[{n}]", table) for n, a in enumerate(node.args)]
            joined = parts[0] if parts else exp.Literal.string("")
            for part in parts[1:]:
                joined = exp.DPipe(this=joined, expression=part, safe=False)
            return joined
        return self.local(node, where, table)  # type: ignore[arg-type]

    def arith(self, node: Arith, where: str, table: str) -> exp.Expr:
        args = [self.expr(a, f"{where}.args[{n}]", table) for n, a in enumerate(node.args)]
        if node.fn in ("min", "max"):
            if len(args) == 1:
                return args[0]
            cls = exp.Least if node.fn == "min" else exp.Greatest
            picked = cls(this=args[0], expressions=args[1:])
            # LEAST/GREATEST skip NULLs; a missing operand must give a missing result.
            missing = exp.or_(*(exp.Is(this=a.copy(), expression=exp.Null()) for a in args))
            return exp.Case(ifs=[exp.If(this=missing, true=exp.Null())], default=picked)
        result = args[0]
        for arg in args[1:]:
            if node.fn == "add":
                result = exp.Add(this=result, expression=arg)
            elif node.fn == "sub":
                result = exp.Sub(this=result, expression=arg)
            elif node.fn == "mul":
                result = exp.Mul(this=result, expression=arg)
            elif node.fn == "div":
                result = exp.Div(
                    this=exp.cast(result, "DOUBLE"),
                    expression=exp.Nullif(
                        this=exp.cast(arg, "DOUBLE"), expression=exp.Literal.number(0)
                    ),
                    typed=False,
                    safe=False,
                )
            else:
                if not (self.is_integer(node.args[0]) and self.is_integer(node.args[1])):
                    self.needs("float_remainder", where, "remainders of non-integers")
                result = exp.Mod(
                    this=result, expression=exp.Nullif(this=arg, expression=exp.Literal.number(0))
                )
        return exp.Paren(this=result) if len(args) > 1 else result

    def if_else(self, node: IfElse, where: str, table: str) -> exp.Expr:
        # A WHEN that is NULL is not taken, as a false condition is not: no COALESCE needed.
        cases = [
            exp.If(
                this=self.rule_as(case.when, f"{where}.cases[{n}].when", table, strict=False),
                true=self.expr(case.then, f"{where}.cases[{n}].then", table),
            )
            for n, case in enumerate(node.cases)
        ]
        otherwise = self.expr(node.otherwise, child(where, "otherwise"), table)
        return exp.Case(ifs=cases, default=otherwise) if cases else otherwise

    def substr(self, node: Substr, where: str, table: str) -> exp.Expr:
        text = self.expr(node.arg, child(where, "arg"), table)
        size = exp.Length(this=text.copy())
        # JsonLogic's substr on SQL's 1-based SUBSTRING: a negative start counts from the end.
        begin: exp.Expr = exp.Literal.number(node.start)
        if node.start < 0:
            begin = exp.Greatest(
                this=exp.Add(this=size.copy(), expression=begin),
                expressions=[exp.Literal.number(0)],
            )
        first = exp.Add(this=begin.copy(), expression=exp.Literal.number(1))
        if node.length is None:
            length: exp.Expr = exp.Add(this=size.copy(), expression=exp.Literal.number(1))
        elif node.length >= 0:
            length = exp.Literal.number(node.length)
        else:  # all but the last -length characters
            length = exp.Greatest(
                this=exp.Sub(
                    this=exp.Add(this=size.copy(), expression=exp.Literal.number(node.length)),
                    expression=begin.copy(),
                ),
                expressions=[exp.Literal.number(0)],
            )
        return exp.Substring(this=text, start=first, length=length)

    def is_integer(self, node: Expr) -> bool:
        """Whether a value is a whole number by its type (SQLite's % truncates to integers)."""
        if isinstance(node, Field):
            return self.schema.fields.get(node.path) == "integer"
        if isinstance(node, Const):
            return isinstance(node.value, int) and not isinstance(node.value, bool)
        if isinstance(node, Arith) and node.fn != "div":
            return all(self.is_integer(arg) for arg in node.args)
        if isinstance(node, IfElse):
            branches = [case.then for case in node.cases]
            return all(self.is_integer(branch) for branch in (*branches, node.otherwise))
        return isinstance(node, LocalPart)  # hours, days, months, years and weekdays

    def local_time(self, instant: exp.Expr, table: str) -> exp.Expr:
        zone = exp.Coalesce(
            this=exp.column(self.schema.timezone_column, table),
            expressions=[exp.Literal.string("UTC")],
        )
        return exp.ConvertTimezone(target_tz=zone, timestamp=instant)

    def local(self, node: LocalPart, where: str, table: str) -> exp.Expr:
        self.needs("timezone", where, "local time (it has no time-zone database)")
        instant = (
            self.literal(self.now)
            if node.of is None
            else self.expr(node.of, child(where, "of"), table)
        )
        local = self.local_time(instant, table)
        if node.part == "weekday":
            if self.dialect == "postgres":  # no DAYOFWEEK_ISO; ISODOW is 1 (Monday) to 7
                return exp.Extract(this=exp.var("ISODOW"), expression=local)
            if self.dialect == "spark":  # sqlglot's DAYOFWEEK(x) % 7 + 1 takes Sunday for 0
                return exp.Extract(this=exp.var("DAYOFWEEK_ISO"), expression=local)
            return exp.DayOfWeekIso(this=local)
        return exp.Extract(this=exp.var(node.part.upper()), expression=local)

    # --- conditions ------------------------------------------------------------------

    def rule(self, node: Rule, where: str, table: str) -> exp.Expr:
        built: exp.Expr = _VISIT[type(node)](self, node, where, table)
        return built

    def false_if_null(self, condition: exp.Expr) -> exp.Expr:
        if not self.strict:
            return condition
        return exp.Coalesce(this=condition, expressions=[exp.false()])

    def rule_as(self, node: Rule, where: str, table: str, *, strict: bool) -> exp.Expr:
        """Compile ``node`` where a NULL must become FALSE (``strict``) or may stay NULL."""
        outer, self.strict = self.strict, strict
        try:
            return self.rule(node, where, table)
        finally:
            self.strict = outer

    def negate(self, node: Not, where: str, table: str) -> exp.Expr:
        return exp.Not(this=self.rule_as(node.rule, child(where, "rule"), table, strict=True))

    def nested(self, node: All | AnyOf, where: str, table: str) -> exp.Expr:
        parts = [self.rule(r, f"{where}.rules[{n}]", table) for n, r in enumerate(node.rules)]
        if not parts:
            return exp.true() if isinstance(node, All) else exp.false()
        if len(parts) == 1:
            return parts[0]
        joined = exp.and_(*parts) if isinstance(node, All) else exp.or_(*parts)
        return exp.Paren(this=joined)

    def compare(self, node: Compare, where: str, table: str) -> exp.Expr:
        left = self.expr(node.left, child(where, "left"), table)
        right = self.expr(node.right, child(where, "right"), table)
        return self.false_if_null(_COMPARE[node.fn](this=left, expression=right))

    def one_of(self, node: OneOf, where: str, table: str) -> exp.Expr:
        if not node.values:
            return exp.false()
        test: exp.Expr = exp.In(
            this=self.expr(node.arg, child(where, "arg"), table),
            expressions=[self.literal(v) for v in node.values],
        )
        if node.negate:
            test = exp.Not(this=test)
        return self.false_if_null(test)

    def text(self, node: Text, where: str, table: str) -> exp.Expr:
        arg = self.expr(node.arg, child(where, "arg"), table)
        if not node.text:  # every text contains, starts and ends with "" (whatever INSTR says)
            return exp.Not(this=exp.Is(this=arg, expression=exp.Null()))
        needle = exp.Literal.string(node.text)
        if node.fn == "contains":
            found = exp.StrPosition(this=arg, substr=needle)
            return self.false_if_null(exp.GT(this=found, expression=exp.Literal.number(0)))
        if self.dialect == "sqlite":  # no STARTS_WITH / ENDS_WITH: compare ends
            size = exp.Literal.number(len(node.text))
            start = exp.Literal.number(1) if node.fn == "starts_with" else exp.Neg(this=size)
            end = exp.Substring(this=arg, start=start, length=size)
            return self.false_if_null(exp.EQ(this=end, expression=needle))
        if self.dialect == "postgres" and node.fn == "ends_with":  # no ENDS_WITH
            tail = exp.Right(this=arg, expression=exp.Literal.number(len(node.text)))
            return self.false_if_null(exp.EQ(this=tail, expression=needle))
        cls = exp.StartsWith if node.fn == "starts_with" else exp.EndsWith
        return self.false_if_null(cls(this=arg, expression=needle))

    def exists(self, node: Exists, where: str, table: str) -> exp.Expr:
        column = self.expr(node.field, child(where, "field"), table)
        return exp.Not(this=exp.Is(this=column, expression=exp.Null()))

    def truthy(self, node: Truthy, where: str, table: str) -> exp.Expr:
        value = self.expr(node.arg, child(where, "arg"), table)
        type_ = self.type_of(node.arg)
        if type_ == "bool":
            test: exp.Expr = exp.EQ(this=value, expression=exp.true())
        elif type_ == "text":
            test = exp.NEQ(this=value, expression=exp.Literal.string(""))
        elif type_ in ("number", "integer"):
            test = exp.NEQ(this=value, expression=exp.Literal.number(0))
        else:  # instants and dates are truthy when present
            return exp.Not(this=exp.Is(this=value, expression=exp.Null()))
        return self.false_if_null(test)

    def type_of(self, node: Expr) -> str:
        """The schema type of a value (checked before compiling, so always known)."""
        if isinstance(node, Field):
            events = {**EVENT_BUILTINS, **self.schema.event_fields}
            return self.schema.fields.get(node.path) or events[node.path]
        if isinstance(node, Const):
            return kind(node.value) or "text"
        if isinstance(node, IfElse):
            return self.type_of(node.otherwise)
        return "text" if isinstance(node, (Concat, Substr)) else "number"

    def between(self, node: Between, where: str, table: str) -> exp.Expr:
        return self.false_if_null(
            exp.Between(
                this=self.expr(node.arg, child(where, "arg"), table),
                low=self.literal(node.low),
                high=self.literal(node.high),
            )
        )

    def recency(self, node: Recency, where: str, table: str) -> exp.Expr:
        column = self.expr(node.field, child(where, "field"), table)
        bound = self.literal(self.now - dt.timedelta(seconds=node.seconds))
        if node.fn == "older_than":
            return self.false_if_null(exp.LT(this=column, expression=bound))
        return self.false_if_null(
            exp.and_(
                exp.GTE(this=column, expression=bound),
                exp.LTE(this=column.copy(), expression=self.literal(self.now)),
            )
        )

    def anniversary(self, node: Anniversary, where: str, table: str) -> exp.Expr:
        self.needs("timezone", where, "anniversaries (it has no time-zone database)")
        column = self.expr(node.field, child(where, "field"), table)
        month_day = exp.Add(
            this=exp.Mul(
                this=exp.Extract(this=exp.var("MONTH"), expression=column),
                expression=exp.Literal.number(100),
            ),
            expression=exp.Extract(this=exp.var("DAY"), expression=column.copy()),
        )
        today = exp.cast(self.local_time(self.literal(self.now), table), "DATE")
        ifs = []
        for offset in (-1, 0, 1):  # every time zone's today is one of these three dates
            local_today = self.now.date() + dt.timedelta(days=offset)
            days_ahead = _anniversary_days(local_today, node.days)
            ifs.append(
                exp.If(
                    this=exp.EQ(this=today.copy(), expression=self.literal(local_today)),
                    true=exp.In(
                        this=month_day.copy(),
                        expressions=[exp.Literal.number(v) for v in days_ahead],
                    ),
                )
            )
        return self.false_if_null(exp.Case(ifs=ifs, default=exp.false()))

    # --- events ----------------------------------------------------------------------

    def events_of(
        self, spec: EventFilter, where: str, table: str, *, correlated: bool = True
    ) -> tuple[exp.Select, str]:
        """``SELECT ... FROM events AS eN WHERE <belongs to table's profile and passes spec>``.

        Not ``correlated``: the events of every profile that pass ``spec``.
        """
        alias = f"e{next(self.aliases)}"
        at = exp.column("timestamp", alias)
        conditions: list[exp.Expr] = []
        if correlated:
            conditions.append(
                exp.EQ(
                    this=exp.column(self.schema.id_column, alias),
                    expression=exp.column(self.schema.id_column, table),
                )
            )
        if spec.event is not None:
            conditions.append(
                exp.EQ(this=exp.column("event", alias), expression=exp.Literal.string(spec.event))
            )
        conditions.append(exp.LTE(this=at.copy(), expression=self.literal(self.now)))
        conditions.extend(self.window(spec.window, at))
        if spec.where is not None:
            # A subquery's WHERE keeps only true rows, whatever surrounds the EXISTS.
            conditions.append(self.rule_as(spec.where, child(where, "where"), alias, strict=False))
        query = exp.select(exp.Literal.number(1)).from_(
            exp.to_table(self.schema.events_table).as_(alias)
        )
        return query.where(exp.and_(*conditions)), alias

    def window(self, window: Window, at: exp.Expr) -> list[exp.Expr]:
        if window.seconds is not None:
            low = self.now - dt.timedelta(seconds=window.seconds)
            return [exp.GTE(this=at.copy(), expression=self.literal(low))]
        if window.since is not None:
            return [exp.GTE(this=at.copy(), expression=self.literal(to_utc(window.since)))]
        return []

    def count(self, node: EventCount, where: str, table: str) -> exp.Expr:
        if node.fn == "ge" and node.count == 1:
            query, _ = self.events_of(node.filter, child(where, "filter"), table)
            return exp.Exists(this=query)
        if node.fn == "eq" and node.count == 0:
            query, _ = self.events_of(node.filter, child(where, "filter"), table)
            return exp.Not(this=exp.Exists(this=query))
        return self.measured(
            node.filter,
            where,
            table,
            measure=lambda _alias: exp.Count(this=exp.Star()),
            compare=(node.fn, node.count),
            empty=0,
        )

    def aggregate(self, node: EventAggregate, where: str, table: str) -> exp.Expr:
        agg, prop = node.agg, self.schema.column(node.property)

        def measure(alias: str) -> exp.Expr:
            column = exp.column(prop, alias)
            if agg == "count_distinct":
                return exp.Count(this=exp.Distinct(expressions=[column]))
            cls = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[agg]
            if agg == "sum":  # the sum of no events is 0, as in Python
                return exp.Coalesce(this=cls(this=column), expressions=[exp.Literal.number(0)])
            return cls(this=column)

        # Of no events, the sum and the distinct count are 0; the others are missing.
        empty = 0 if agg in ("sum", "count_distinct") else None
        return self.measured(
            node.filter, where, table, measure=measure, compare=(node.fn, node.value), empty=empty
        )

    def measured(
        self,
        spec: EventFilter,
        where: str,
        table: str,
        *,
        measure: Callable[[str], exp.Expr],
        compare: tuple[str, Any],
        empty: float | None,
    ) -> exp.Expr:
        """A measure of the profile's events passing ``spec``, compared with ``compare``.

        ``empty`` is the measure of no events (None: missing, so never a match).
        When the comparison is false for no events, the profiles that match are
        those of one grouped query over all events — a hash join, not a
        subquery run per profile; otherwise (``at most 2``, ``sum < 100``) a
        correlated subquery, which also sees the profiles without events.
        """
        fn, target = compare
        grouped = empty is None or not OPS[fn](empty, target)
        query, alias = self.events_of(spec, child(where, "filter"), table, correlated=not grouped)
        compared = _COMPARE[fn](this=measure(alias), expression=self.literal(target))
        if grouped:
            member = exp.column(self.schema.id_column, alias)
            matching = query.select(member, append=False).group_by(member.copy()).having(compared)
            inside = exp.In(
                this=exp.column(self.schema.id_column, table), query=matching.subquery()
            )
            return self.false_if_null(inside)
        value = query.select(measure(alias), append=False).subquery()
        return self.false_if_null(_COMPARE[fn](this=value, expression=self.literal(target)))

    def followed_by(self, node: FollowedBy, where: str, table: str) -> exp.Expr:
        first, first_alias = self.events_of(node.first, child(where, "first"), table)
        # Spark resolves outer references one query level up only: there the later event
        # belongs to the first event's profile, which is the same profile.
        then_owner = first_alias if self.dialect == "spark" else table
        then, then_alias = self.events_of(node.then, child(where, "then"), then_owner)
        first_at, then_at = (
            exp.column("timestamp", first_alias),
            exp.column("timestamp", then_alias),
        )
        later: list[exp.Expr] = [exp.GT(this=then_at.copy(), expression=first_at.copy())]
        if node.within is not None:
            self.needs("interval", child(where, "within"), "time spans between two events")
            deadline: exp.Expr = exp.TimestampAdd(
                this=first_at.copy(),
                expression=exp.Literal.number(node.within),
                unit=exp.var("SECOND"),
            )
            if self.dialect == "spark":  # DATE_ADD(unit, n, ts) is Databricks SQL only
                deadline = exp.Anonymous(
                    this="TIMESTAMPADD",
                    expressions=[
                        exp.var("SECOND"),
                        exp.Literal.number(node.within),
                        first_at.copy(),
                    ],
                )
            later.append(exp.LTE(this=then_at.copy(), expression=deadline))
        then = then.where(exp.and_(*later))
        if not node.negate:
            return exp.Exists(this=first.where(exp.Exists(this=then)))
        waited: list[exp.Expr] = []
        if node.within is not None:
            elapsed = self.now - dt.timedelta(seconds=node.within)
            waited.append(exp.LTE(this=first_at.copy(), expression=self.literal(elapsed)))
        return exp.Exists(this=first.where(exp.and_(*waited, exp.Not(this=exp.Exists(this=then)))))

    def segment(self, node: InSegment, _where: str, table: str) -> exp.Expr:
        alias = f"s{next(self.aliases)}"
        query = (
            exp.select(exp.Literal.number(1))
            .from_(exp.to_table(self.schema.segments_table).as_(alias))
            .where(
                exp.and_(
                    exp.EQ(
                        this=exp.column(self.schema.id_column, alias),
                        expression=exp.column(self.schema.id_column, table),
                    ),
                    exp.EQ(
                        this=exp.column("segment", alias),
                        expression=exp.Literal.string(node.segment),
                    ),
                )
            )
        )
        return exp.Exists(this=query)


def _anniversary_days(today: dt.date, ahead: int) -> list[int]:
    """``month * 100 + day`` of every date an anniversary within ``ahead`` days may fall on."""
    found: set[int] = set()
    for offset in range(min(ahead, 366) + 1):
        day = today + dt.timedelta(days=offset)
        found.add(day.month * 100 + day.day)
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            found.add(229)
    return sorted(found)


def sql_literal(value: Any, dialect: str) -> exp.Expr:
    """A rule literal in SQL: floats as DOUBLE, instants as TIMESTAMPTZ, dates as DATE.

    SQLite has no such types: there instants are fixed-width UTC text
    (``2024-05-01T00:00:00.000000Z``) and dates ``YYYY-MM-DD`` text, which
    compare correctly as strings when the table stores them the same way.
    """
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        return exp.cast(exp.Literal.number(repr(value)), "DOUBLE")
    if isinstance(value, dt.datetime):
        utc = to_utc(value)
        if dialect == "sqlite":
            return exp.Literal.string(utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        return exp.cast(
            exp.Literal.string(utc.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")), "TIMESTAMPTZ"
        )
    if isinstance(value, dt.date):
        if dialect == "sqlite":
            return exp.Literal.string(value.isoformat())
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    return exp.Literal.string(str(value))


_COMPARE: dict[str, type[exp.Binary]] = {
    "eq": exp.EQ,
    "ne": exp.NEQ,
    "lt": exp.LT,
    "le": exp.LTE,
    "gt": exp.GT,
    "ge": exp.GTE,
}

_VISIT: dict[type[Rule], Callable[[_Compiler, Any, str, str], Any]] = {
    All: _Compiler.nested,
    AnyOf: _Compiler.nested,
    Not: _Compiler.negate,
    Constant: lambda _, n, *__: exp.true() if n.value else exp.false(),
    Compare: _Compiler.compare,
    OneOf: _Compiler.one_of,
    Text: _Compiler.text,
    Exists: _Compiler.exists,
    Truthy: _Compiler.truthy,
    Between: _Compiler.between,
    Recency: _Compiler.recency,
    Anniversary: _Compiler.anniversary,
    EventCount: _Compiler.count,
    EventAggregate: _Compiler.aggregate,
    FollowedBy: _Compiler.followed_by,
    InSegment: _Compiler.segment,
}

__all__ = ["DIALECTS", "EVENT_BUILTINS", "to_sql"]
