"""Experiment results: conversion per arm, lift, z-test, Bayesian chance to beat control, SRM.

An experiment is people put into arms (message variants, a journey split's
paths and its ``holdout``) and whether each converted afterwards. Every
arm is compared with the control arm:

- absolute lift ``p_arm - p_control`` with a Wald interval (unpooled standard
  error) at ``1 - alpha``; relative lift ``p_arm / p_control - 1`` with the
  Katz log interval of the risk ratio;
- the two-sided two-proportion z-test with the pooled standard error, and
  Holm's step-down correction when several arms face the control;
- with Beta(1, 1) priors, the probability that the arm's rate beats the
  control's, ``P = integral of f_arm(x) * F_control(x) dx``, and the
  expected loss ``E[max(p_control - p_arm, 0)]`` of shipping the arm, both
  by adaptive quadrature (deterministic: no sampling, no seed);
- the sample-ratio-mismatch check: a chi-square goodness-of-fit test of the
  users per arm against the designed split.

Formulas, and how to read the output, are in ``docs/guides/experiments.md``.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from omnichannel.analytics._frames import connect, module, quoted, register, require_columns
from omnichannel.analytics._result import Result
from omnichannel.errors import FieldError, ValidationError

__all__ = ["ExperimentResult", "assignments_from_enrollments", "experiment"]

_ASSIGNMENTS = "experiment_assignments"
_CONVERSIONS = "experiment_conversions"
_COUNTS = "experiment_counts"
_ASSIGNED_AT = "assigned_at"
_CONVERTED = "converted"
_VALUE = "value"
_REVENUE = "revenue"
#: Below this many conversions (or non-conversions) in an arm, the normal approximation is rough.
_FEW = 5
#: The columns that compare an arm with the control (NaN on the control's row).
_COMPARED = (
    *("lift", "lift_low", "lift_high", "relative_lift", "relative_lift_low"),
    *("relative_lift_high", "z", "p_value", "p_value_holm", "prob_beat_control", "expected_loss"),
)
#: Posterior tail mass left out of the integrals (each side).
_TAIL = 1e-15
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_NUMBERS = (
    *_INTEGERS,
    *("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL"),
)


@attrs.frozen(kw_only=True)
class _Arm:
    name: str
    users: int
    conversions: int
    revenue: float | None = None


@attrs.frozen(kw_only=True)
class ExperimentResult:
    """What an experiment found: one row per arm, the sample-ratio check and notes.

    ``frame`` (also ``to_frame()``) is a pandas DataFrame indexed by
    ``arm``, the control first. Columns: ``users``, ``conversions``,
    ``rate``; ``revenue`` and ``revenue_per_user`` when values were given;
    ``share`` and ``expected_share`` of the users; and, against the control
    (empty, NaN, on the control's own row): ``lift`` with ``lift_low`` and
    ``lift_high``, ``relative_lift`` with ``relative_lift_low`` and
    ``relative_lift_high``, ``z``, ``p_value``, ``p_value_holm``,
    ``significant`` (``p_value_holm < alpha``), ``prob_beat_control`` and
    ``expected_loss``. See ``docs/guides/experiments.md``.

    ``srm_p_value`` is the chi-square test of the users per arm against
    the designed split; ``srm`` is True when it is below ``srm_alpha``: the
    assignment or its logging is broken and the comparison is not to be
    trusted (the notes say so, and no ``winner`` is named). ``excluded``
    counts people found in more than one arm, left out.

    In a notebook it shows itself as a titled table (``_repr_html_``).

    Examples:
        >>> result = ExperimentResult.from_counts({"control": (1000, 100), "b": (1000, 130)})
        >>> round(float(result.frame.loc["b", "p_value"]), 4), result.winner, result.srm
        (0.0355, 'b', False)

    .. versionadded:: 0.1.0
    """

    frame: Any = attrs.field(repr=False, eq=False)
    control: str
    alpha: float
    srm_alpha: float
    srm_chi2: float
    srm_p_value: float
    excluded: int = 0
    notes: tuple[str, ...] = ()

    @property
    def srm(self) -> bool:
        """True when the users per arm do not fit the designed split (p < ``srm_alpha``)."""
        return self.srm_p_value < self.srm_alpha

    @property
    def winner(self) -> str | None:
        """The arm with a significant positive lift and the highest rate, or None.

        None as well when a sample-ratio mismatch makes the results untrustworthy.
        """
        if self.srm:
            return None
        frame = self.frame
        good = frame[(frame.index != self.control) & frame["significant"] & (frame["lift"] > 0)]
        if good.empty:
            return None
        best = good.sort_values(["rate", "p_value"], ascending=[False, True], kind="stable")
        return str(best.index[0])

    def to_frame(self) -> Any:
        """The per-arm table, as a pandas DataFrame indexed by arm."""
        return self.frame

    def as_result(self) -> Result:
        """The same as a `Result`: a title, headline figures, the notes and the table."""
        users = int(self.frame["users"].sum())
        arms = len(self.frame) - 1
        figures: dict[str, object] = {
            "control": self.control,
            "users": users,
            "winner": self.winner or "none",
            "SRM p-value": self.srm_p_value,
            "sample ratio mismatch": "YES: do not trust these results" if self.srm else "no",
        }
        if self.excluded:
            figures["excluded (in several arms)"] = self.excluded
        title = f"Experiment: {arms} arm{'s' if arms != 1 else ''} against {self.control!r}"
        return Result(title=title, frame=self.frame, figures=figures, notes=self.notes)

    @classmethod
    def from_counts(
        cls,
        counts: object,
        *,
        control: object = "control",
        arm: object = "arm",
        expected: object = None,
        alpha: object = 0.05,
        srm_alpha: object = 0.001,
        connection: Any = None,
    ) -> ExperimentResult:
        """Analyse an experiment already summed up: users and conversions per arm.

        ``counts`` is a mapping ``{arm: (users, conversions)}``, or a table
        (anything `experiment` accepts) with the columns ``arm`` (named by
        ``arm``), ``users``, ``conversions`` and optionally ``revenue``, one
        row per arm. The other arguments are `experiment`'s.

        Raises:
            ValidationError: a missing column, an arm twice, a count that is
                not a whole number or is negative (``$.counts.users``), more
                conversions than users, an arm with no users, no control
                arm, a bad ``expected``, ``alpha`` or ``srm_alpha``.

        Examples:
            >>> result = ExperimentResult.from_counts({"control": (1000, 100), "b": (1000, 130)})
            >>> round(float(result.frame.loc["b", "lift"]), 4)
            0.03

        .. versionadded:: 0.1.0
        """
        levels = _levels(alpha, srm_alpha)
        name = _name(control, "$.control")
        if isinstance(counts, Mapping):
            arms = _arms_of_mapping(counts)
        else:
            arms = _arms_of_table(counts, _name(arm, "$.arm"), connection)
        return _analyse(arms, name, expected, *levels)

    def _repr_html_(self) -> str:
        return self.as_result()._repr_html_()

    def __str__(self) -> str:
        return str(self.as_result())


def experiment(
    assignments: object,
    conversions: object = None,
    *,
    control: object = "control",
    arm: object = "arm",
    customer: object = "profile_id",
    expected: object = None,
    conversion_event: object = "Order Completed",
    window: object = None,
    alpha: object = 0.05,
    srm_alpha: object = 0.001,
    connection: Any = None,
) -> ExperimentResult:
    """Compare every arm of an experiment with its control.

    ``assignments`` says who was put in which arm: a column ``customer``
    (``profile_id``), a column ``arm``, and optionally ``assigned_at`` (a
    timestamp). Arms are compared as text. ``conversions`` is an event
    table (``profile_id``, ``event``, ``timestamp``, optionally
    ``revenue``): a person converted when they have a ``conversion_event``
    at or after their ``assigned_at`` (every one counts without it) and,
    with ``window`` (a timedelta), before ``assigned_at + window``; their
    revenue is that of those events. Without ``conversions``, the
    assignments carry the outcome: a ``converted`` column (boolean, or 0
    and 1) and optionally a ``value`` column (revenue; NULL counts as 0).

    One row per person is expected. Rows of the same person and arm are
    merged (the earliest ``assigned_at``; converted if any row is, values
    added); a person found in several arms is left out, and counted in
    ``excluded``. Tables already summed up per arm go to
    `ExperimentResult.from_counts`.

    ``expected`` maps each arm to its weight in the design (equal weights
    by default) for the sample-ratio-mismatch check; ``alpha`` is the
    significance level of the tests and intervals, ``srm_alpha`` that of
    the mismatch check (0.001: strict, as it is run on every experiment).
    Tables are any form `register` accepts: pandas or polars DataFrames,
    Arrow tables, DuckDB relations, Parquet or CSV paths.

    Raises:
        ValidationError: a missing column (``$.assignments.arm``), a NULL
            person, arm or time, a ``converted`` that is not 0 or 1, no
            control arm (``$.control``), an arm with no users, a bad
            ``expected``, ``window``, ``alpha`` or ``srm_alpha``.

    Examples:
        >>> import pandas as pd
        >>> people = pd.DataFrame(
        ...     {
        ...         "profile_id": ["a", "b", "c", "d", "e", "f"],
        ...         "arm": ["control", "control", "control", "new", "new", "new"],
        ...         "converted": [True, False, False, True, True, False],
        ...     }
        ... )
        >>> result = experiment(people)
        >>> result.frame["users"].to_dict(), result.frame["rate"].round(3).to_dict()
        ({'control': 3, 'new': 3}, {'control': 0.333, 'new': 0.667})

    .. versionadded:: 0.1.0
    """
    levels = _levels(alpha, srm_alpha)
    name = _name(control, "$.control")
    arm_column = _name(arm, "$.arm")
    customer_column = _name(customer, "$.customer")
    if conversions is None:
        if window is not None:
            raise ValidationError.one(
                "$.window", "invalid", "a window needs conversions (an event table)"
            )
        arms, excluded = _outcomes(assignments, customer_column, arm_column, connection)
    else:
        event = _name(conversion_event, "$.conversion_event")
        micros = None if window is None else _micros(window)
        arms, excluded = _converted(
            assignments, conversions, customer_column, arm_column, event, micros, connection
        )
    return _analyse(arms, name, expected, *levels, excluded=excluded)


def assignments_from_enrollments(enrollments: Iterable[object]) -> Any:
    """Who a journey's split put where, from its enrollments: one row per person.

    Takes ``JourneyRunner.enrollments(journey)`` (or ``Replay.enrollments``)
    of one journey and returns a pandas DataFrame with ``profile_id``,
    ``arm`` (the enrollment's ``group``: the split path's name, or
    ``holdout``) and ``assigned_at`` (when the person entered the journey,
    in UTC: the split's own time is not recorded, so put the split first).
    Enrollments that never reached a split (no group) are left out; a
    person enrolled several times keeps their first enrollment. Count the
    conversions from the events, with the same ``window`` for every arm
    (see the guide: a journey's own ``converted`` status is not a fair
    measure, as the holdout waits longer for the goal than the others).

    Raises:
        ValidationError: an item is not an `Enrollment`
            (``$.enrollments[3]``), or they come from several journeys.

    Examples:
        >>> assignments_from_enrollments([]).columns.tolist()
        ['profile_id', 'arm', 'assigned_at']

    .. versionadded:: 0.1.0
    """
    from omnichannel.journeys import Enrollment

    pandas = module("pandas")
    first: dict[str, tuple[dt.datetime, str]] = {}
    journeys: set[str] = set()
    for index, item in enumerate(enrollments):
        if not isinstance(item, Enrollment):
            raise ValidationError.one(
                f"$.enrollments[{index}]",
                "type",
                f"must be an Enrollment, not {type(item).__name__}",
            )
        journeys.add(item.journey)
        if not item.group:
            continue
        known = first.get(item.profile_id)
        if known is None or item.entered_at < known[0]:
            first[item.profile_id] = (item.entered_at, item.group)
    if len(journeys) > 1:
        raise ValidationError.one(
            "$.enrollments",
            "invalid",
            f"enrollments of one journey, not of {', '.join(sorted(journeys))}"
            " (runner.enrollments(key) lists one journey's)",
        )
    people = sorted(first)
    return pandas.DataFrame(
        {
            "profile_id": pandas.Series(people, dtype=object),
            "arm": pandas.Series([first[p][1] for p in people], dtype=object),
            # Naive UTC first: pandas need not know pendulum's time zones, and no float rounds.
            "assigned_at": pandas.to_datetime(
                [first[p][0].astimezone(dt.timezone.utc).replace(tzinfo=None) for p in people],
                utc=True,
            ),
        }
    )


# --- reading the inputs --------------------------------------------------------------------


def _name(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError.one(path, "type", "must be a non-empty string")
    return value


def _levels(alpha: object, srm_alpha: object) -> tuple[float, float]:
    levels = []
    for value, path in ((alpha, "$.alpha"), (srm_alpha, "$.srm_alpha")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValidationError.one(path, "type", "must be a number")
        if not 0 < float(value) < 1:
            raise ValidationError.one(path, "out_of_range", "must be between 0 and 1")
        levels.append(float(value))
    return levels[0], levels[1]


def _micros(window: object) -> int:
    if not isinstance(window, dt.timedelta) or window <= dt.timedelta(0):
        raise ValidationError.one("$.window", "invalid", "must be a positive timedelta")
    return window // dt.timedelta(microseconds=1)


def _nulls(database: Any, view: str, columns: Sequence[str], path: str) -> None:
    counts = ", ".join(f"count(*) FILTER (WHERE {quoted(c)} IS NULL)" for c in columns)
    found = database.execute(f"SELECT {counts} FROM {quoted(view)}").fetchall()[0]  # noqa: S608 - quoted names
    errors = [
        FieldError(path=f"{path}.{c}", code="null", message=f"{n} row(s) have no {c}")
        for c, n in zip(columns, found, strict=True)
        if n
    ]
    if errors:
        raise ValidationError(errors)


def _typed(
    found: Mapping[str, str], column: str, kinds: tuple[str, ...], what: str, path: str
) -> None:
    if not found[column].upper().startswith(kinds):
        raise ValidationError.one(
            f"{path}.{column}", "type", f"must be {what}, not {found[column]}"
        )


def _outcomes(
    assignments: object, customer: str, arm: str, connection: Any
) -> tuple[list[_Arm], int]:
    """Per arm, from assignments that carry ``converted`` (and maybe ``value``)."""
    database = connect(connection)
    register(database, _ASSIGNMENTS, assignments, path="$.assignments")
    found = require_columns(
        database, _ASSIGNMENTS, (customer, arm, _CONVERTED), path="$.assignments"
    )
    _typed(found, _CONVERTED, ("BOOLEAN", *_NUMBERS), "a boolean or 0 and 1", "$.assignments")
    valued = _VALUE in found
    if valued:
        _typed(found, _VALUE, _NUMBERS, "a number", "$.assignments")
    _nulls(database, _ASSIGNMENTS, (customer, arm, _CONVERTED), "$.assignments")
    converted = f"CAST({quoted(_CONVERTED)} AS DOUBLE)"
    (odd,) = database.execute(
        f"SELECT count(*) FROM {_ASSIGNMENTS} WHERE {converted} NOT IN (0, 1)"  # noqa: S608 - constants
    ).fetchall()[0]
    if odd:
        raise ValidationError.one(
            f"$.assignments.{_CONVERTED}", "out_of_range", f"{odd} row(s) are neither 0 nor 1"
        )
    value = f"coalesce(sum(CAST({quoted(_VALUE)} AS DOUBLE)), 0)" if valued else "NULL"
    per_person = f"""
        SELECT CAST({quoted(customer)} AS VARCHAR) AS pid, CAST({quoted(arm)} AS VARCHAR) AS arm,
               max({converted}) AS hit, {value} AS value
        FROM {_ASSIGNMENTS} GROUP BY ALL
    """  # noqa: S608 - quoted names
    return _per_arm(database, per_person, valued=valued)


def _converted(  # noqa: PLR0917 - internal: experiment()'s arguments, checked
    assignments: object,
    conversions: object,
    customer: str,
    arm: str,
    event: str,
    micros: int | None,
    connection: Any,
) -> tuple[list[_Arm], int]:
    """Per arm, from assignments and an event table of conversions."""
    database = connect(connection)
    register(database, _ASSIGNMENTS, assignments, path="$.assignments")
    register(database, _CONVERSIONS, conversions, path="$.conversions")
    found = require_columns(database, _ASSIGNMENTS, (customer, arm), path="$.assignments")
    events = require_columns(
        database, _CONVERSIONS, ("profile_id", "event", "timestamp"), path="$.conversions"
    )
    timed = _ASSIGNED_AT in found
    if timed:
        _typed(found, _ASSIGNED_AT, ("TIMESTAMP", "DATE"), "a timestamp", "$.assignments")
        _typed(events, "timestamp", ("TIMESTAMP", "DATE"), "a timestamp", "$.conversions")
    elif micros is not None:
        raise ValidationError.one(
            "$.window", "invalid", f"a window needs an {_ASSIGNED_AT} column in the assignments"
        )
    valued = _REVENUE in events
    if valued:
        _typed(events, _REVENUE, _NUMBERS, "a number", "$.conversions")
    _nulls(database, _ASSIGNMENTS, (customer, arm, *[_ASSIGNED_AT] * timed), "$.assignments")
    when = ""
    if timed:
        when = "AND e.timestamp >= p.at"
        if micros is not None:
            when += f" AND e.timestamp < p.at + to_microseconds({micros})"
    at = f"min({quoted(_ASSIGNED_AT)})" if timed else "NULL"
    revenue = f"coalesce(sum(CAST(e.{_REVENUE} AS DOUBLE)), 0)" if valued else "NULL"
    # Each person once per arm, from their earliest assignment to it: a repeated assignment
    # row cannot count their conversion events twice.
    per_person = f"""
        WITH a AS (
            SELECT CAST({quoted(customer)} AS VARCHAR) AS pid,
                   CAST({quoted(arm)} AS VARCHAR) AS arm, {at} AS at
            FROM {_ASSIGNMENTS} GROUP BY ALL
        )
        SELECT p.pid, p.arm, CASE WHEN count(e.event) > 0 THEN 1 ELSE 0 END AS hit,
               {revenue} AS value
        FROM a AS p LEFT JOIN {_CONVERSIONS} e
          ON CAST(e.profile_id AS VARCHAR) = p.pid AND e.event = $event {when}
        GROUP BY p.pid, p.arm
    """  # noqa: S608 - quoted names and numbers
    return _per_arm(database, per_person, valued=valued, parameters={"event": event})


def _per_arm(
    database: Any, per_person: str, *, valued: bool, parameters: Mapping[str, object] | None = None
) -> tuple[list[_Arm], int]:
    """Sum up per arm the people (one row per person and arm), leaving out those in several."""
    people = f"""
        WITH rows AS ({per_person})
        SELECT *, count(*) OVER (PARTITION BY pid) AS arms FROM rows
    """  # noqa: S608 - built from our own fragments
    query = f"""
        SELECT arm, count(*) AS users, count(*) FILTER (WHERE hit = 1) AS conversions,
               sum(value) AS revenue
        FROM ({people}) WHERE arms = 1 GROUP BY arm ORDER BY arm
    """  # noqa: S608 - built from our own fragments
    arguments = dict(parameters or {})
    rows = database.execute(query, arguments).fetchall()
    (excluded,) = database.execute(
        f"SELECT count(DISTINCT pid) FROM ({people}) WHERE arms > 1",  # noqa: S608 - ours
        arguments,
    ).fetchall()[0]
    arms = [
        _Arm(
            name=name,
            users=int(users),
            conversions=int(hits),
            revenue=float(revenue) if valued and revenue is not None else None,
        )
        for name, users, hits, revenue in rows
    ]
    return arms, int(excluded)


def _arms_of_mapping(counts: Mapping[object, object]) -> list[_Arm]:
    arms = []
    for name, pair in counts.items():
        path = f"$.counts.{name}"
        if not isinstance(name, str) or not name:
            raise ValidationError.one("$.counts", "type", "arms must be non-empty strings")
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise ValidationError.one(path, "type", "must be a pair (users, conversions)")
        users = _count(pair[0], f"{path}[0]", name)
        hits = _count(pair[1], f"{path}[1]", name)
        arms.append(_Arm(name=name, users=users, conversions=hits))
    return arms


def _count(value: object, path: str, arm: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError.one(path, "type", f"arm {arm!r}: must be a whole number")
    number = float(value)
    if not number.is_integer():
        raise ValidationError.one(path, "type", f"arm {arm!r}: must be a whole number")
    if number < 0:
        raise ValidationError.one(path, "out_of_range", f"arm {arm!r}: must not be negative")
    return int(number)


def _arms_of_table(counts: object, arm: str, connection: Any) -> list[_Arm]:
    database = connect(connection)
    register(database, _COUNTS, counts, path="$.counts")
    found = require_columns(database, _COUNTS, (arm, "users", "conversions"), path="$.counts")
    valued = _REVENUE in found
    for column in ("users", "conversions", *[_REVENUE] * valued):
        _typed(found, column, _NUMBERS, "a number", "$.counts")
    _nulls(database, _COUNTS, (arm, "users", "conversions"), "$.counts")
    revenue = f"CAST({_REVENUE} AS DOUBLE)" if valued else "NULL"
    rows = database.execute(
        f"SELECT CAST({quoted(arm)} AS VARCHAR), CAST(users AS DOUBLE),"  # noqa: S608 - quoted
        f" CAST(conversions AS DOUBLE), {revenue} FROM {_COUNTS}"
    ).fetchall()
    arms = []
    names: set[str] = set()
    for name, users, hits, value in rows:
        if name in names:
            raise ValidationError.one(f"$.counts.{arm}", "duplicate", f"arm {name!r} twice")
        names.add(name)
        arms.append(
            _Arm(
                name=name,
                users=_count(users, "$.counts.users", name),
                conversions=_count(hits, "$.counts.conversions", name),
                revenue=None if value is None else float(value),
            )
        )
    return arms


def _weights(expected: object, arms: Sequence[_Arm]) -> dict[str, float]:
    names = [a.name for a in arms]
    if expected is None:
        return dict.fromkeys(names, 1.0)
    if not isinstance(expected, Mapping):
        raise ValidationError.one("$.expected", "type", "must be a mapping of arm to weight")
    errors = []
    weights: dict[str, float] = {}
    for key, weight in expected.items():
        path = f"$.expected.{key}"
        if key not in names:
            errors.append(FieldError(path=path, code="empty", message=f"arm {key!r} has no users"))
        elif (
            isinstance(weight, bool)
            or not isinstance(weight, numbers.Real)
            or not 0 < float(weight) < math.inf
        ):
            errors.append(FieldError(path=path, code="out_of_range", message="must be above 0"))
        else:
            weights[key] = float(weight)
    errors.extend(
        FieldError(path=f"$.expected.{n}", code="required", message=f"no weight for arm {n!r}")
        for n in names
        if n not in expected
    )
    if errors:
        raise ValidationError(errors)
    return weights


# --- the statistics ------------------------------------------------------------------------


def _check(arms: Sequence[_Arm], control: str) -> None:
    names = [a.name for a in arms]
    if control not in names:
        raise ValidationError.one(
            "$.control",
            "unknown_arm",
            f"no arm {control!r} (arms: {', '.join(names) or 'none'})",
        )
    if len(arms) < 2:
        raise ValidationError.one("$.arm", "empty", "an experiment needs an arm besides control")
    errors = []
    for a in arms:
        if a.users == 0:
            errors.append(
                FieldError(path="$.counts.users", code="empty", message=f"arm {a.name!r}: no users")
            )
        elif a.conversions > a.users:
            errors.append(
                FieldError(
                    path="$.counts.conversions",
                    code="too_large",
                    message=f"arm {a.name!r}: {a.conversions} conversions of {a.users} users",
                )
            )
    if errors:
        raise ValidationError(errors)


def _analyse(
    arms: list[_Arm],
    control: str,
    expected: object,
    alpha: float,
    srm_alpha: float,
    *,
    excluded: int = 0,
) -> ExperimentResult:
    _check(arms, control)
    weights = _weights(expected, arms)
    pandas = module("pandas")
    stats = module("scipy.stats")
    ordered = sorted(arms, key=lambda a: (a.name != control, a.name))
    base = ordered[0]
    total = sum(a.users for a in ordered)
    weight_sum = sum(weights.values())
    shares = {a.name: weights[a.name] / weight_sum for a in ordered}
    srm_chi2 = sum(
        (a.users - total * shares[a.name]) ** 2 / (total * shares[a.name]) for a in ordered
    )
    srm_p = float(stats.chi2.sf(srm_chi2, len(ordered) - 1))
    z_crit = float(stats.norm.isf(alpha / 2))
    notes: list[str] = []
    rows = []
    for a in ordered:
        row: dict[str, object] = {
            "arm": a.name,
            "users": a.users,
            "conversions": a.conversions,
            "rate": a.conversions / a.users,
        }
        if all(x.revenue is not None for x in ordered):
            row["revenue"] = a.revenue
            row["revenue_per_user"] = (a.revenue or 0.0) / a.users
        row["share"] = a.users / total
        row["expected_share"] = shares[a.name]
        row.update(_compare(a, base, z_crit, stats, notes))
        rows.append(row)
    frame = pandas.DataFrame(rows).set_index("arm")
    others = frame.index != control
    frame.loc[others, "p_value_holm"] = _holm(frame.loc[others, "p_value"].tolist())
    frame["significant"] = others & (frame["p_value_holm"] < alpha)
    columns = [c for c in frame.columns if c not in {"p_value_holm", "significant"}]
    where = columns.index("p_value") + 1
    columns[where:where] = ["p_value_holm", "significant"]
    frame = frame[columns]
    notes[:0] = _headline_notes(ordered, control, srm_p, srm_alpha, excluded, alpha)
    return ExperimentResult(
        frame=frame,
        control=control,
        alpha=alpha,
        srm_alpha=srm_alpha,
        srm_chi2=float(srm_chi2),
        srm_p_value=srm_p,
        excluded=excluded,
        notes=tuple(notes),
    )


def _headline_notes(  # noqa: PLR0917 - internal
    arms: Sequence[_Arm], control: str, srm_p: float, srm_alpha: float, excluded: int, alpha: float
) -> list[str]:
    notes = []
    if srm_p < srm_alpha:
        observed = ", ".join(f"{a.name}={a.users}" for a in arms)
        notes.append(
            f"SAMPLE RATIO MISMATCH: the users per arm ({observed}) do not fit the designed split"
            f" (chi-square p = {srm_p:.3g} < {srm_alpha:g}). The assignment or its logging is"
            " broken: do not trust these results; no winner is named."
        )
    if excluded:
        notes.append(
            f"{excluded} people were in more than one arm and are left out: check the assignment."
        )
    if len(arms) > 2:
        notes.append(
            f"{len(arms) - 1} arms are each compared with {control!r}: p_value is per comparison,"
            f" p_value_holm is corrected for the {len(arms) - 1} comparisons (Holm) and"
            f" 'significant' uses it (alpha = {alpha:g}); the intervals are not corrected."
        )
    few = [a.name for a in arms if min(a.conversions, a.users - a.conversions) < _FEW]
    if few:
        notes.append(
            f"Fewer than {_FEW} conversions or non-conversions in {', '.join(map(repr, few))}:"
            " the z-test and the Wald interval are rough there; prob_beat_control does not"
            " rely on them."
        )
    return notes


def _compare(
    arm: _Arm, control: _Arm, z_crit: float, stats: Any, notes: list[str]
) -> dict[str, object]:
    """The arm against the control: lifts with intervals, the z-test, the Bayesian figures."""
    nan = math.nan
    if arm is control:
        return dict.fromkeys(
            _COMPARED,
            nan,
        )
    n1, x1, n0, x0 = arm.users, arm.conversions, control.users, control.conversions
    p1, p0 = x1 / n1, x0 / n0
    lift = p1 - p0
    wald = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se == 0:
        # Both arms converted everyone, or no one: the rates are equal and there is no
        # variation to test; the z statistic is 0/0, and no evidence means p = 1.
        z, p_value = 0.0, 1.0
        notes.append(
            f"{arm.name!r} and {control.name!r} both converted at {pooled:.0%}: there is nothing"
            " to tell them apart, so z = 0 and the p-value is 1."
        )
    else:
        z = lift / se
        p_value = min(1.0, float(2 * stats.norm.sf(abs(z))))
    relative = relative_low = relative_high = nan
    if x0 == 0:
        notes.append(
            f"{control.name!r} converted no one: the relative lift of {arm.name!r} is undefined."
        )
    else:
        relative = p1 / p0 - 1
        if x1 == 0:
            notes.append(f"{arm.name!r} converted no one: its relative-lift interval is undefined.")
        else:
            # Katz: log(p1 / p0) is about normal with this standard error.
            log_se = math.sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0)
            relative_low = math.exp(math.log(p1 / p0) - z_crit * log_se) - 1
            relative_high = math.exp(math.log(p1 / p0) + z_crit * log_se) - 1
    beat, loss = _bayes(1 + x1, 1 + n1 - x1, 1 + x0, 1 + n0 - x0)
    return {
        "lift": lift,
        "lift_low": lift - z_crit * wald,
        "lift_high": lift + z_crit * wald,
        "relative_lift": relative,
        "relative_lift_low": relative_low,
        "relative_lift_high": relative_high,
        "z": z,
        "p_value": p_value,
        "p_value_holm": nan,
        "prob_beat_control": beat,
        "expected_loss": loss,
    }


def _holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _bayes(a1: float, b1: float, a0: float, b0: float) -> tuple[float, float]:
    """For rates X ~ Beta(a1, b1) (the arm) and Y ~ Beta(a0, b0): P(X > Y), E[max(Y - X, 0)].

    One integral each over the narrower posterior, where the other's CDF is
    smooth: with the integrand's mass in view, adaptive quadrature does not
    step over a sharp peak.
    """
    special = module("scipy.special")
    integrate = module("scipy.integrate")
    stats = module("scipy.stats")
    mean1, mean0 = a1 / (a1 + b1), a0 / (a0 + b0)

    def sd(a: float, b: float) -> float:
        return math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))

    def pdf(x: float, a: float, b: float) -> float:
        log = special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)
        return math.exp(float(log))

    over_arm = sd(a1, b1) <= sd(a0, b0)
    a, b = (a1, b1) if over_arm else (a0, b0)
    low = float(stats.beta.ppf(_TAIL, a, b))
    high = float(stats.beta.isf(_TAIL, a, b))
    mode = min(max((a - 1) / (a + b - 2), low), high) if a + b > 2 else (low + high) / 2

    def integral(function: Any) -> float:
        points = [mode] if low < mode < high else None
        value, _error = integrate.quad(
            function, low, high, points=points, limit=200, epsabs=1e-13, epsrel=1e-10
        )
        return float(value)

    if over_arm:
        beat = integral(lambda x: pdf(x, a1, b1) * special.betainc(a0, b0, x))
        loss = integral(
            lambda x: (
                pdf(x, a1, b1)
                * (mean0 * special.betaincc(a0 + 1, b0, x) - x * special.betaincc(a0, b0, x))
            )
        )
    else:
        beat = integral(lambda y: pdf(y, a0, b0) * special.betaincc(a1, b1, y))
        loss = integral(
            lambda y: (
                pdf(y, a0, b0)
                * (y * special.betainc(a1, b1, y) - mean1 * special.betainc(a1 + 1, b1, y))
            )
        )
    return min(max(beat, 0.0), 1.0), max(loss, 0.0)
