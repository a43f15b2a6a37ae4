"""RFM summaries in the conventions of the ``lifetimes`` package, as SQL on DuckDB.

One row per customer, computed from a transactions table exactly as
``lifetimes.utils.summary_data_from_transaction_data`` does: every time is
first replaced by the start of its period (``freq``), so several purchases in
one period count once and their amounts add up; the first period is the
customer's birth, not a repeat purchase.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
import uuid
from typing import Any, NamedTuple

import attrs

from omnichannel.analytics._frames import (
    connect,
    fetch,
    module,
    quoted,
    register,
    require_columns,
)
from omnichannel.errors import FieldError, ValidationError

__all__ = ["FREQS", "rfm_summary"]

_DAY_US = 86_400_000_000

#: Supported ``freq`` values: DuckDB's ``date_trunc`` part and the period's length in µs.
FREQS: dict[str, tuple[str | None, int]] = {
    "W": ("week", 7 * _DAY_US),  # pandas' "W" is W-SUN: weeks start on Monday, as in DuckDB
    "D": ("day", _DAY_US),
    "h": ("hour", 3_600_000_000),
    "H": ("hour", 3_600_000_000),  # the spelling lifetimes documents (pandas < 2.2)
    "min": ("minute", 60_000_000),
    "s": ("second", 1_000_000),
    "ms": ("millisecond", 1_000),
    "us": (None, 1),
}

_INTEGER = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)
_NUMERIC = (*_INTEGER, "FLOAT", "DOUBLE", "DECIMAL")
# One in-memory DuckDB database per process, a new connection (cursor) to it per call:
# opening a database costs some 25 ms, a cursor nothing. DataFrames registered on a
# cursor are its own; views are shared, so each call names its view afresh.
_DATABASES: dict[int, Any] = {}
_LOCK = threading.Lock()
_EPOCH = dt.datetime(1970, 1, 1)  # noqa: DTZ001 - DuckDB TIMESTAMPs are naive (UTC)


def rfm_summary(
    transactions: object,
    *,
    customer_id_col: object,
    datetime_col: object,
    monetary_value_col: object = None,
    observation_period_end: object = None,
    freq: object = "D",
    freq_multiplier: object = 1,
    include_first_transaction: object = False,
    datetime_format: object = None,
    connection: Any = None,
) -> Any:
    """Frequency, recency, age and mean spend per customer, the way ``lifetimes`` counts them.

    Times are cut into periods of ``freq`` (a day by default); each customer's
    first period is their birth. Per customer:

    - ``frequency``: the number of *repeat* periods with a purchase (periods
      after the first; several purchases in one period count once);
    - ``recency``: the age at the last purchase, from the start of the first
      period to the start of the last one (0 without repeat purchases);
    - ``T``: the age at the end of observation, from the start of the first
      period to the start of ``observation_period_end``'s period;
    - ``monetary_value`` (with ``monetary_value_col``): the mean of the
      repeat periods' totals (0 without repeat purchases).

    Durations are counted in periods of ``freq`` and divided by
    ``freq_multiplier`` (``freq="h", freq_multiplier=24`` gives days with
    hour precision). Transactions in periods after ``observation_period_end``
    are left out, as ``lifetimes`` does; its default is the last transaction.
    The values are those of ``lifetimes.utils.summary_data_from_transaction_data``
    with the same arguments, ``monetary_value`` but for the last bits: amounts
    are added exactly (as integers of a power of two), where pandas adds
    floats with compensation, so both round their sums, not always alike.
    Exact sums also make the summary the same from run to run, whatever
    the order DuckDB's threads add in.

    ``freq`` is one of ``"W"`` (weeks starting on Monday, as pandas' ``"W"``),
    ``"D"``, ``"h"`` (or ``"H"``), ``"min"``, ``"s"``, ``"ms"`` and ``"us"``.
    Months, quarters and years have no fixed length and are refused
    (``lifetimes`` cannot divide by them either): count in days and use
    ``freq_multiplier`` (30 for months of 30 days, as
    `customer_lifetime_value` assumes).

    Times are timestamps or dates; text is read as ISO 8601, or with
    ``datetime_format`` (``strptime`` codes such as ``"%Y%m%d"``, which also
    reads integers like ``19970101``). Times with a time zone are taken in
    UTC.

    Args:
        transactions: One row per purchase: a pandas or polars DataFrame, an
            Arrow table, a DuckDB relation (of ``connection``) or the path of
            a Parquet or CSV file.
        customer_id_col: The column naming the customer.
        datetime_col: The column with the purchase's time.
        monetary_value_col: The column with the purchase's value, if any.
        observation_period_end: The end of observation (a date, a time or
            text in ``datetime_format``); the last transaction by default.
        freq: The period, as above.
        freq_multiplier: Periods per unit of the results (positive).
        include_first_transaction: Count the first period in ``frequency``
            and ``monetary_value`` (``lifetimes`` models want False).
        datetime_format: How text times are written (``strptime`` codes).
        connection: The DuckDB connection to run on (a relation must belong
            to it); a new in-memory one by default.

    Returns:
        A pandas DataFrame indexed by customer id (sorted), with float
        columns ``frequency``, ``recency``, ``T`` and, with
        ``monetary_value_col``, ``monetary_value``.

    Raises:
        ValidationError: A bad argument (at ``$.freq``, ``$.customer_id_col``
            ...), or a table the summary cannot be made from: a missing
            column, times that are not times, empty customer ids or times,
            missing or infinite amounts (at ``$.transactions.<column>``).

    Examples:
        >>> import pandas as pd
        >>> transactions = pd.DataFrame(
        ...     {
        ...         "customer": ["ann", "ann", "ann", "bob"],
        ...         "at": pd.to_datetime(
        ...             [
        ...                 "2024-01-01 09:00",
        ...                 "2024-01-01 17:00",
        ...                 "2024-01-11 12:00",
        ...                 "2024-01-05 10:00",
        ...             ]
        ...         ),
        ...         "amount": [10.0, 5.0, 20.0, 7.0],
        ...     }
        ... )
        >>> rfm_summary(  # doctest: +NORMALIZE_WHITESPACE
        ...     transactions,
        ...     customer_id_col="customer",
        ...     datetime_col="at",
        ...     monetary_value_col="amount",
        ...     observation_period_end="2024-01-31",
        ... )
                  frequency  recency     T  monetary_value
        customer
        ann             1.0     10.0  30.0            20.0
        bob             0.0      0.0  26.0             0.0

    .. versionadded:: 0.1.0
    """
    arguments = _Arguments.checked(
        customer_id_col=customer_id_col,
        datetime_col=datetime_col,
        monetary_value_col=monetary_value_col,
        observation_period_end=observation_period_end,
        freq=freq,
        freq_multiplier=freq_multiplier,
        include_first_transaction=include_first_transaction,
        datetime_format=datetime_format,
    )
    database = _cursor() if connection is None else connection
    view = f"__omnichannel_rfm_{uuid.uuid4().hex}"
    try:
        register(database, view, transactions, path="$.transactions")
        return _summary(database, view, arguments)
    finally:
        # Views (files, relations) and registered DataFrames alike.
        database.execute(f"DROP VIEW IF EXISTS {quoted(view)}")
        if connection is None:
            database.close()


def _cursor() -> Any:
    with _LOCK:
        pid = os.getpid()  # a forked child opens its own
        if pid not in _DATABASES:
            _DATABASES.clear()
            _DATABASES[pid] = connect()
        return _DATABASES[pid].cursor()


@attrs.frozen(kw_only=True)
class _Arguments:
    """`rfm_summary`'s arguments, checked."""

    customer: str
    when: str
    money: str | None
    end: dt.datetime | None
    part: str | None
    unit: int
    multiplier: float
    with_first: bool
    datetime_format: str | None

    @classmethod
    def checked(
        cls,
        *,
        customer_id_col: object,
        datetime_col: object,
        monetary_value_col: object,
        observation_period_end: object,
        freq: object,
        freq_multiplier: object,
        include_first_transaction: object,
        datetime_format: object,
    ) -> _Arguments:
        problems: list[FieldError] = []

        def name(path: str, value: object, *, optional: bool = False) -> str | None:
            if isinstance(value, str) and value:
                return value
            if not (optional and value is None):
                problems.append(
                    FieldError(path=path, code="type", message="must be a non-empty text")
                )
            return None

        customer = name("$.customer_id_col", customer_id_col)
        when = name("$.datetime_col", datetime_col)
        money = name("$.monetary_value_col", monetary_value_col, optional=True)
        text_format = name("$.datetime_format", datetime_format, optional=True)
        period = FREQS.get(freq) if isinstance(freq, str) else None
        if period is None:
            problems.append(
                FieldError(
                    path="$.freq",
                    code="unsupported",
                    message=f"{freq!r} is not a supported period ({', '.join(map(repr, FREQS))});"
                    " months, quarters and years have no fixed length: count days ('D')"
                    " and divide with freq_multiplier",
                )
            )
        multiplier = math.nan
        if isinstance(freq_multiplier, (int, float)) and not isinstance(freq_multiplier, bool):
            multiplier = float(freq_multiplier)
        if not 0 < multiplier < math.inf:
            problems.append(
                FieldError(
                    path="$.freq_multiplier", code="type", message="must be a positive number"
                )
            )
        if not isinstance(include_first_transaction, bool):
            problems.append(
                FieldError(
                    path="$.include_first_transaction", code="type", message="must be a bool"
                )
            )
        end = None
        try:
            end = _observation_end(observation_period_end, text_format)
        except ValidationError as exc:
            problems.extend(exc.errors)
        if problems or customer is None or when is None or period is None:
            raise ValidationError(problems)
        return cls(
            customer=customer,
            when=when,
            money=money,
            end=end,
            part=period[0],
            unit=period[1],
            multiplier=multiplier,
            with_first=include_first_transaction is True,
            datetime_format=text_format,
        )


def _observation_end(value: object, datetime_format: str | None) -> dt.datetime | None:
    """``value`` as a naive UTC datetime (None stays None)."""
    if value is None:
        return None
    pd = module("pandas")
    path = "$.observation_period_end"
    if not isinstance(value, (str, dt.date)) and type(value).__name__ != "datetime64":
        raise ValidationError.one(
            path, "type", f"must be a date, a time or text, not {type(value).__name__}"
        )
    try:
        stamp = pd.to_datetime(value, format=datetime_format)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValidationError.one(path, "type", f"{value!r} is not a time: {exc}") from None
    if stamp is pd.NaT:
        raise ValidationError.one(path, "required", "must be a time, not NaT")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    result: dt.datetime = stamp.to_pydatetime(warn=False)
    return result


def _time_expression(found: dict[str, str], column: str, datetime_format: str | None) -> str:
    kind = found[column].upper()
    name = quoted(column)
    if kind.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone('UTC', {name})"
    if kind.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({name} AS TIMESTAMP)"
    if datetime_format is not None and (kind == "VARCHAR" or kind in _INTEGER):
        text_format = "'" + datetime_format.replace("'", "''") + "'"
        return f"try_strptime(CAST({name} AS VARCHAR), {text_format})"
    if kind == "VARCHAR":
        return f"TRY_CAST({name} AS TIMESTAMP)"
    raise ValidationError.one(
        f"$.transactions.{column}",
        "type",
        f"must hold times, not {found[column]} (text or numbers such as 19970101"
        " need datetime_format=)",
    )


def _amount_expression(found: dict[str, str], column: str) -> str:
    if not found[column].upper().startswith(_NUMERIC):
        raise ValidationError.one(
            f"$.transactions.{column}", "type", f"must hold numbers, not {found[column]}"
        )
    return f"CAST({quoted(column)} AS DOUBLE)"


def _rows(database: Any, view: str, arguments: _Arguments) -> str:
    """The transactions as (c, t[, m], raw): customer, time, amount, the time as given."""
    found = require_columns(
        database,
        view,
        [arguments.customer, arguments.when, arguments.money],
        path="$.transactions",
    )
    times = _time_expression(found, arguments.when, arguments.datetime_format)
    amounts = (
        "" if arguments.money is None else f", {_amount_expression(found, arguments.money)} AS m"
    )
    return (
        f"SELECT {quoted(arguments.customer)} AS c, {times} AS t{amounts},"  # noqa: S608 - quoted names
        f" {quoted(arguments.when)} AS raw FROM {quoted(view)}"
    )


class _Checked(NamedTuple):
    last: dt.datetime | None  # the last time (None: no rows)
    rows: int
    largest: float  # the largest |amount| (0 without amounts)


def _checked(database: Any, rows: str, arguments: _Arguments) -> _Checked:
    """Refuse empty ids, times and amounts and unreadable times; the last time and sizes."""
    money = "count(m), min(m), max(m)" if arguments.money is not None else "count(*), 0.0, 0.0"
    total, ids, raws, times, amounts, least, most, last = database.execute(
        f"SELECT count(*), count(c), count(raw), count(t), {money}, max(t) FROM ({rows})"  # noqa: S608 - built here
    ).fetchall()[0]
    least, most = least or 0.0, most or 0.0
    if total == ids == raws == times == amounts and math.isfinite(least) and math.isfinite(most):
        return _Checked(last=last, rows=total, largest=max(abs(least), abs(most)))
    # Something is wrong: count it and find an example (a slower query, once).
    bad_times, example, bad_amounts = database.execute(
        f"""SELECT count(*) FILTER (WHERE raw IS NOT NULL AND t IS NULL),
            any_value(CAST(raw AS VARCHAR)) FILTER (WHERE raw IS NOT NULL AND t IS NULL),
            {"count(*) FILTER (WHERE NOT isfinite(m))" if arguments.money else "0"}
        FROM ({rows})"""  # noqa: S608 - built here
    ).fetchall()[0]
    problems = []
    for count, column, code, what in (
        (total - ids, arguments.customer, "null", "no customer id"),
        (total - raws, arguments.when, "null", "no time"),
        (bad_times, arguments.when, "type", f"a time that cannot be read (such as {example!r})"),
        (total - amounts, arguments.money, "null", "no amount"),
        (bad_amounts, arguments.money, "not_finite", "an infinite or NaN amount"),
    ):
        if count:
            rows_text = "1 row has" if count == 1 else f"{count:,} rows have"
            problems.append(
                FieldError(
                    path=f"$.transactions.{column}", code=code, message=f"{rows_text} {what}"
                )
            )
    raise ValidationError(problems)


def _fixed_point(checked: _Checked) -> int:
    """The k for which amounts are added as integers of 2**-k (HUGEINT), exactly.

    Exact sums do not depend on the order of the additions, which DuckDB's
    threads do not keep: a summary is the same from run to run. k is as large
    as 2**126 allows for every sum (the largest amount times the rows), so
    amounts from 2**(52 - k) up are represented exactly (from 3e-11 for amounts
    below 100,000 in a million rows), smaller ones to 2**-k.
    """
    room = 126 - math.log2(max(checked.rows, 1)) - math.log2(max(checked.largest, 2.0**-900))
    return max(-900, min(900, math.floor(room) - 1))


def _summary(database: Any, view: str, arguments: _Arguments) -> Any:
    rows = _rows(database, view, arguments)
    checked = _checked(database, rows, arguments)
    part, unit = arguments.part, arguments.unit

    def period(expression: str) -> str:
        return expression if part is None else f"date_trunc('{part}', {expression})"

    # Durations: whole periods as exact integers of microseconds, divided as
    # lifetimes divides them ((a - b) / np.timedelta64(1, freq) / freq_multiplier).
    def periods(later: str, earlier: str) -> str:
        return f"CAST(epoch_us({later}) - epoch_us({earlier}) AS DOUBLE) / {unit} / $multiplier"

    repeats = "count(*)" if arguments.with_first else "count(*) - 1"
    end = period("$end")
    if arguments.money is not None:
        scale = repr(2.0 ** _fixed_point(checked))
        # The mean of the periods' totals, leaving out the first period unless
        # include_first_transaction (lifetimes sets its amount to NaN). The sums
        # are exact, so taking the first period's total away is exact too.
        total = "sum(m)" if arguments.with_first else "sum(m) - arg_min(m, d)"
        sql = f"""
            WITH periods AS (
                SELECT c, {period("t")} AS d, sum(CAST(m * {scale} AS HUGEINT)) AS m
                FROM ({rows}) WHERE {period("t")} <= {end} GROUP BY c, d
            )
            SELECT c, CAST({repeats} AS DOUBLE) AS frequency,
                {periods("max(d)", "min(d)")} AS recency,
                {periods(end, "min(d)")} AS "T",
                CASE WHEN {repeats} > 0
                    THEN CAST({total} AS DOUBLE) / {scale} / ({repeats}) ELSE 0 END
                    AS monetary_value
            FROM periods GROUP BY c ORDER BY c"""  # noqa: S608 - built here
    else:
        sql = f"""
            WITH periods AS (
                SELECT DISTINCT c, {period("t")} AS d FROM ({rows}) WHERE {period("t")} <= {end}
            )
            SELECT c, CAST({repeats} AS DOUBLE) AS frequency,
                {periods("max(d)", "min(d)")} AS recency,
                {periods(end, "min(d)")} AS "T"
            FROM periods GROUP BY c ORDER BY c"""  # noqa: S608 - built here
    end_time = arguments.end if arguments.end is not None else checked.last
    # An empty table has no last time; any time gives the empty summary.
    parameters = {"end": end_time or _EPOCH, "multiplier": arguments.multiplier}
    frame = fetch(database, sql, parameters)
    return frame.set_index("c").rename_axis(arguments.customer)
