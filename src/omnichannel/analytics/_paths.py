"""Conversion paths: read a paths table into arrays, or build one from touchpoints in SQL.

A paths table has one row per path (``"email > search > direct"``) with how
many journeys took it and converted, optionally their revenue and how many
took it without converting. Rows with the same path are added up. The
models work on `Paths`: the distinct paths as channel codes (indices into
the sorted channel names) with their totals, parsed once with Arrow's
vectorised string kernels, because at a million journeys the parsing is
most of the work.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import attrs

from omnichannel.analytics._frames import (
    connect,
    module,
    quoted,
    register,
    require_columns,
)
from omnichannel.errors import FieldError, ValidationError

__all__ = [
    "Paths",
    "TouchpointColumns",
    "flag",
    "load_paths",
    "paths_from_touchpoints",
    "positive_duration",
]

_WHERE = "$.paths"
_ARROW_KINDS = {"pyarrow.Table", "pyarrow.RecordBatch"}


@attrs.frozen(kw_only=True)
class Paths:
    """Distinct paths as channel codes, with their conversions, value and non-converting count."""

    channels: tuple[str, ...]
    # codes[offsets[p]:offsets[p + 1]] are path p's channels, indices into `channels` (sorted).
    codes: Any
    offsets: Any
    conversions: Any
    nulls: Any
    value: Any  # None when no value column was given

    @property
    def count(self) -> int:
        """How many distinct paths."""
        return len(self.offsets) - 1

    @property
    def lengths(self) -> Any:
        """Touches on each path."""
        return module("numpy").diff(self.offsets)

    @property
    def owner(self) -> Any:
        """For each touch in `codes`, the index of its path."""
        np = module("numpy")
        return np.repeat(np.arange(self.count), self.lengths)


def column_name(value: object, *, field: str, optional: bool = False) -> str | None:
    """``value`` as a column name, or a `ValidationError` at ``$.field``."""
    if value is None and optional:
        return None
    if isinstance(value, str) and value:
        return value
    wanted = "a column name or None" if optional else "a column name"
    raise ValidationError.one(f"$.{field}", "type", f"must be {wanted}, not {value!r}")


def separator(sep: object) -> str:
    """The path separator, checked."""
    if isinstance(sep, str) and sep.strip():
        return sep
    raise ValidationError.one(
        "$.sep", "type", f"must be a non-blank string such as '>', not {sep!r}"
    )


def load_paths(
    data: object,
    *,
    path: object,
    conversions: object,
    value: object,
    nulls: object,
    sep: object,
) -> Paths:
    """Read and check a paths table; add up rows with the same path.

    Raises:
        ValidationError: a missing or mistyped column (at ``$.paths.<column>``),
            a null, negative or non-finite count, a path with an empty channel
            name, value on a path without conversions, or a bad argument.
    """
    np = module("numpy")
    pa = module("pyarrow")
    pc = module("pyarrow.compute")
    path_column = column_name(path, field="path")
    conversion_column = column_name(conversions, field="conversions")
    value_column = column_name(value, field="value", optional=True)
    null_column = column_name(nulls, field="nulls", optional=True)
    sep = separator(sep)
    assert path_column is not None  # noqa: S101 - column_name returns a name unless optional
    assert conversion_column is not None  # noqa: S101 - same
    wanted = [path_column, conversion_column, value_column, null_column]
    names = list(dict.fromkeys(c for c in wanted if c is not None))
    arrays = _arrow_columns(data, names)

    texts = arrays[path_column]
    if pa.types.is_null(texts.type) and len(texts) == 0:  # an empty column of no type
        texts = pa.array([], type=pa.string())
    if getattr(pa.types, "is_string_view", lambda _: False)(texts.type):
        texts = texts.cast(pa.large_string())  # not every kernel takes string views yet
    if texts.null_count:
        raise ValidationError.one(
            f"{_WHERE}.{path_column}", "null", f"{texts.null_count} rows have no path"
        )
    categorical = pa.types.is_dictionary(texts.type)
    if categorical:
        index, dictionary = texts.indices, texts.dictionary
    else:
        _check_text(texts.type, path_column)
        encoded = pc.dictionary_encode(texts)
        index, dictionary = encoded.indices, encoded.dictionary
    _check_text(dictionary.type, path_column)
    index = index.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    distinct = len(dictionary)

    def totals(column: str) -> Any:
        numbers = _counts(arrays[column], column)
        return np.bincount(index, weights=numbers, minlength=distinct)

    conversion_totals = totals(conversion_column)
    null_totals = totals(null_column) if null_column is not None else np.zeros(distinct)
    value_totals = totals(value_column) if value_column is not None else None
    # A dictionary (a categorical column, say) may hold paths no row uses.
    used = np.bincount(index, minlength=distinct) > 0 if categorical else None
    if used is not None and not used.all():
        keep = np.flatnonzero(used)
        dictionary = dictionary.take(pa.array(keep))
        conversion_totals, null_totals = conversion_totals[keep], null_totals[keep]
        value_totals = value_totals[keep] if value_totals is not None else None
    if value_totals is not None:
        stray = np.flatnonzero((value_totals != 0) & (conversion_totals == 0))
        if stray.size:
            raise ValidationError.one(
                f"{_WHERE}.{value_column}",
                "without_conversions",
                f"{stray.size} paths have value but no conversions"
                f" (such as {dictionary[int(stray[0])].as_py()!r})",
            )

    lists = pc.split_pattern(dictionary, sep)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    # Encode the raw pieces first, then trim the few distinct names: far cheaper than trimming
    # every piece, and "a>b" and "a > b" still name the same channels.
    pieces = pc.dictionary_encode(pc.list_flatten(lists))
    raw_codes = pieces.indices.to_numpy(zero_copy_only=False)
    raw_names = [str(name).strip() for name in pieces.dictionary.to_pylist()]
    if "" in raw_names:
        blank = raw_names.index("")
        position = int(np.flatnonzero(raw_codes == blank)[0])
        owner = int(np.searchsorted(np.cumsum(lengths), position, side="right"))
        raise ValidationError.one(
            f"{_WHERE}.{path_column}",
            "empty",
            f"path {dictionary[owner].as_py()!r} has an empty channel name"
            f" (channels are separated by {sep!r})",
        )
    channels = sorted(set(raw_names))
    rank = {name: n for n, name in enumerate(channels)}
    recode = np.array([rank[name] for name in raw_names], dtype=np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Paths(
        channels=tuple(channels),
        codes=recode[raw_codes] if len(raw_codes) else np.zeros(0, dtype=np.int64),
        offsets=offsets,
        conversions=conversion_totals,
        nulls=null_totals,
        value=value_totals,
    )


def _arrow_columns(data: object, names: Sequence[str]) -> dict[str, Any]:
    """The columns ``names`` of ``data`` as Arrow arrays (one chunk each).

    pandas, Arrow and polars tables are read directly (a new DuckDB
    connection costs about as much as attributing 100,000 journeys); the
    rest goes through DuckDB.
    """
    kind = f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"
    table: Any = data
    if kind == "pandas.DataFrame":
        found = [str(c) for c in table.columns]
        _require(found, names)
        return {name: _from_pandas(table[name], name) for name in names}
    if kind in _ARROW_KINDS or kind == "polars.DataFrame":
        if kind == "polars.DataFrame":
            table = table.to_arrow()
        _require([str(c) for c in table.column_names], names)
        return {n: _one_chunk(table.column(n)) for n in names}
    database = connect()
    duckdb = module("duckdb")
    if isinstance(data, duckdb.DuckDBPyRelation):
        # A relation belongs to its own connection: bring its rows over as Arrow.
        _require(list(data.columns), names)
        table = data.project(", ".join(quoted(n) for n in names)).to_arrow_table()
    else:
        register(database, "paths", data, path=_WHERE)
        require_columns(database, "paths", names, path=_WHERE)
        selected = ", ".join(quoted(n) for n in names)
        table = database.sql(f"SELECT {selected} FROM paths").to_arrow_table()  # noqa: S608
    return {n: _one_chunk(table.column(n)) for n in names}


def _from_pandas(series: Any, name: str) -> Any:
    pa = module("pyarrow")
    try:
        return pa.array(series)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise ValidationError.one(
            f"{_WHERE}.{name}", "type", f"cannot read the column: {exc}"
        ) from None


def _one_chunk(column: Any) -> Any:
    chunks = getattr(column, "num_chunks", None)
    if chunks is None:
        return column
    if chunks == 0:
        return module("pyarrow").array([], type=column.type)
    return column.chunk(0) if chunks == 1 else column.combine_chunks()


def _require(found: Sequence[str], names: Sequence[str]) -> None:
    missing = [n for n in names if n not in found]
    if missing:
        raise ValidationError(
            FieldError(
                path=f"{_WHERE}.{column}",
                code="required",
                message=f"no column {column!r} (columns: {', '.join(found) or 'none'})",
            )
            for column in missing
        )


def _check_text(kind: Any, column: str) -> None:
    pa = module("pyarrow")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return
    raise ValidationError.one(f"{_WHERE}.{column}", "type", f"must hold path strings, not {kind}")


def _counts(array: Any, column: str) -> Any:
    """A count or value column as float64, refusing nulls, NaN, infinities and negatives."""
    np = module("numpy")
    pa = module("pyarrow")
    pc = module("pyarrow.compute")
    at = f"{_WHERE}.{column}"
    kind = array.type
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
    ):
        raise ValidationError.one(at, "type", f"must be numeric, not {kind}")
    if array.null_count:
        raise ValidationError.one(at, "null", f"{array.null_count} rows have no {column}")
    numbers = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_floating(kind) and len(numbers) and not np.isfinite(numbers).all():
        raise ValidationError.one(at, "not_finite", f"{column} must be finite numbers")
    if len(numbers) and numbers.min() < 0:
        raise ValidationError.one(
            at, "negative", f"{column} must not be negative (found {numbers.min():g})"
        )
    return numbers


# --- paths from touchpoints --------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TouchpointColumns:
    """The checked column names and settings of a touchpoints table."""

    customer: str
    channel: str
    timestamp: str
    conversion: str
    value: str | None
    lookback_us: int | None
    conversion_touches: bool


def positive_duration(value: object, *, field: str, optional: bool = False) -> int | None:
    """A positive `datetime.timedelta` in microseconds (None when optional and None)."""
    if value is None and optional:
        return None
    if isinstance(value, dt.timedelta) and value > dt.timedelta(0):
        return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    raise ValidationError.one(
        f"$.{field}", "type", f"must be a positive datetime.timedelta, not {value!r}"
    )


def flag(value: object, *, field: str) -> bool:
    """A bool argument, checked."""
    if isinstance(value, bool):
        return value
    raise ValidationError.one(f"$.{field}", "type", f"must be True or False, not {value!r}")


_TOUCH_WHERE = "$.touchpoints"
_TIME_TYPES = ("TIMESTAMP", "DATE")


def touch_table(database: Any, touchpoints: object, columns: TouchpointColumns) -> None:
    """Register ``touchpoints`` as the view ``touch`` (customer, channel, moment, flag, value).

    ``moment`` is in microseconds since the epoch. Checks types and nulls.
    """
    duckdb = module("duckdb")
    if isinstance(touchpoints, duckdb.DuckDBPyRelation):
        touchpoints = touchpoints.to_arrow_table()
    register(database, "touch_input", touchpoints, path=_TOUCH_WHERE)
    wanted = [
        columns.customer,
        columns.channel,
        columns.timestamp,
        columns.conversion,
        columns.value,
    ]
    types = require_columns(database, "touch_input", wanted, path=_TOUCH_WHERE)
    problems = []
    if not types[columns.timestamp].upper().startswith(_TIME_TYPES):
        problems.append(
            FieldError(
                path=f"{_TOUCH_WHERE}.{columns.timestamp}",
                code="type",
                message=f"must be a timestamp or date, not {types[columns.timestamp]}",
            )
        )
    conversion_type = types[columns.conversion].upper()
    if conversion_type != "BOOLEAN" and not _is_integer(conversion_type):
        problems.append(
            FieldError(
                path=f"{_TOUCH_WHERE}.{columns.conversion}",
                code="type",
                message=f"must be boolean (or 0/1), not {types[columns.conversion]}",
            )
        )
    if not _is_text(types[columns.channel]):
        problems.append(
            FieldError(
                path=f"{_TOUCH_WHERE}.{columns.channel}",
                code="type",
                message=f"must hold channel names, not {types[columns.channel]}",
            )
        )
    if columns.value is not None and not _is_number(types[columns.value]):
        problems.append(
            FieldError(
                path=f"{_TOUCH_WHERE}.{columns.value}",
                code="type",
                message=f"must be numeric, not {types[columns.value]}",
            )
        )
    if problems:
        raise ValidationError(problems)
    customer, channel = quoted(columns.customer), quoted(columns.channel)
    at, flag = quoted(columns.timestamp), quoted(columns.conversion)
    # Zoned instants are read as such; naive timestamps and dates as they are written.
    if "TIME ZONE" not in types[columns.timestamp].upper():
        at = f"CAST({at} AS TIMESTAMP)"
    value = quoted(columns.value) if columns.value is not None else "0"
    database.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW touch AS
        SELECT {customer} AS customer,
               trim(CAST({channel} AS VARCHAR)) AS channel,
               epoch_us({at}) AS moment,
               CAST({flag} AS INTEGER) AS flag,
               CAST({value} AS DOUBLE) AS value
        FROM touch_input
        """  # noqa: S608 - quoted identifiers of our own checked columns
    )
    flag_name = columns.conversion
    checks = database.execute(
        """
        SELECT count(*) FILTER (WHERE customer IS NULL),
               count(*) FILTER (WHERE moment IS NULL),
               count(*) FILTER (WHERE flag IS NULL OR flag NOT IN (0, 1)),
               count(*) FILTER (WHERE (flag = 0 OR ?) AND (channel IS NULL OR channel = '')),
               count(*) FILTER (WHERE flag = 1 AND (value IS NULL OR NOT isfinite(value)
                                                    OR value < 0))
        FROM touch
        """,
        [columns.conversion_touches],
    ).fetchall()[0]
    messages = [
        (columns.customer, "null", "rows have no customer"),
        (columns.timestamp, "null", "rows have no timestamp"),
        (flag_name, "range", "rows are neither a conversion (true, 1) nor a touch (false, 0)"),
        (columns.channel, "empty", "touches have no channel"),
        (columns.value or "value", "range", "conversions have a missing or negative value"),
    ]
    found = [
        FieldError(path=f"{_TOUCH_WHERE}.{column}", code=code, message=f"{count} {text}")
        for count, (column, code, text) in zip(checks, messages, strict=True)
        if count
    ]
    if found:
        raise ValidationError(found)


def _is_text(kind: str) -> bool:
    return kind.upper() in {"VARCHAR", "TEXT", "STRING"} or kind.upper().startswith("ENUM")


def _is_integer(kind: str) -> bool:
    return kind.upper().endswith(("INT", "INTEGER"))


def _is_number(kind: str) -> bool:
    upper = kind.upper()
    return (
        _is_integer(upper)
        or upper
        in {
            "FLOAT",
            "DOUBLE",
            "REAL",
            "HUGEINT",
            "UHUGEINT",
        }
        or upper.startswith("DECIMAL")
    )


def _journeys(database: Any, columns: TouchpointColumns) -> None:
    """Make the tables ``ends`` (each path's end) and ``credit`` (each touch with its end).

    A touch counts for the next conversion of its customer (ties in time:
    touches first) if it is at most ``lookback`` before it; a customer's
    touches after their last conversion form one non-converting path, ended
    by its last touch.
    """
    lookback = (
        f"AND t.moment >= e.end_at - {columns.lookback_us}"
        if columns.lookback_us is not None
        else ""
    )
    touches = "t.flag = 0 OR t.id = e.end_id" if columns.conversion_touches else "t.flag = 0"
    database.execute(
        """
        CREATE OR REPLACE TEMP TABLE segmented AS
        WITH numbered AS (
            SELECT *, row_number() OVER (ORDER BY customer, moment, flag, channel) AS id
            FROM touch
        )
        SELECT *,
               coalesce(sum(flag) OVER (
                   PARTITION BY customer ORDER BY moment, flag, channel, id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS segment,
               sum(flag) OVER (PARTITION BY customer) AS conversions
        FROM numbered
        """
    )
    database.execute(
        """
        CREATE OR REPLACE TEMP TABLE ends AS
        SELECT customer, segment, id AS end_id, moment AS end_at, 1 AS converted, value
        FROM segmented WHERE flag = 1
        UNION ALL
        SELECT customer, segment, max(id), max(moment), 0, 0.0
        FROM segmented WHERE flag = 0 AND segment = conversions
        GROUP BY customer, segment
        """
    )
    database.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE credit AS
        SELECT e.end_id, e.end_at, e.converted, e.value, t.channel, t.moment, t.id
        FROM ends e JOIN segmented t
          ON t.customer = e.customer AND t.segment = e.segment
         AND ({touches}) AND t.moment <= e.end_at {lookback}
        """  # noqa: S608 - our own fragments and an integer
    )


_MISSED = """
    SELECT count(*) FILTER (WHERE converted = 1),
           coalesce(sum(value) FILTER (WHERE converted = 1), 0),
           count(*) FILTER (WHERE converted = 1 AND end_id NOT IN (SELECT end_id FROM credit)),
           coalesce(sum(value) FILTER (
               WHERE converted = 1 AND end_id NOT IN (SELECT end_id FROM credit)), 0)
    FROM ends
"""


def paths_from_touchpoints(
    touchpoints: object, columns: TouchpointColumns, *, sep: str, connection: Any
) -> Any:
    """The paths table (path, conversions, [value,] nulls) of ``touchpoints``, as pandas."""
    database = connect(connection)
    touch_table(database, touchpoints, columns)
    glue = sep.strip() or sep
    bad = database.execute(
        "SELECT min(channel) FROM touch WHERE contains(channel, ?)", [glue]
    ).fetchall()[0][0]
    if bad is not None:
        raise ValidationError.one(
            f"{_TOUCH_WHERE}.{columns.channel}",
            "separator",
            f"channel {bad!r} contains the path separator {glue!r}: choose another sep",
        )
    _journeys(database, columns)
    value = ", sum(value) FILTER (WHERE converted = 1) AS value" if columns.value else ""
    frame = database.execute(
        f"""
        WITH journeys AS (
            SELECT end_id, any_value(converted) AS converted, any_value(value) AS value,
                   string_agg(channel, ? ORDER BY moment, id) AS path
            FROM credit GROUP BY end_id
        )
        SELECT path,
               CAST(count(*) FILTER (WHERE converted = 1) AS BIGINT) AS conversions
               {value},
               CAST(count(*) FILTER (WHERE converted = 0) AS BIGINT) AS nulls
        FROM journeys GROUP BY path ORDER BY conversions DESC, nulls DESC, path
        """,  # noqa: S608 - built from our own fragments
        [sep],
    ).df()
    if columns.value:
        frame["value"] = frame["value"].fillna(0.0)
    missed = database.execute(_MISSED).fetchall()[0]
    frame.attrs["conversions_without_touches"] = int(missed[2])
    if columns.value:
        frame.attrs["value_without_touches"] = float(missed[3])
    return frame


def decayed_credit(
    touchpoints: object, columns: TouchpointColumns, *, half_life_us: int, connection: Any
) -> tuple[Any, int, float, float, float]:
    """Time-decay credit per channel, and the conversions and value no touch could take.

    Returns the frame (channel, conversions, value), the count and value of
    conversions without touches, and the totals of conversions and value.
    """
    database = connect(connection)
    touch_table(database, touchpoints, columns)
    _journeys(database, columns)
    frame = database.execute(
        """
        WITH weighted AS (
            SELECT end_id, value, channel,
                   pow(0.5, (end_at - moment) / CAST(? AS DOUBLE)) AS weight
            FROM credit WHERE converted = 1
        ),
        shared AS (
            SELECT channel, value, weight / sum(weight) OVER (PARTITION BY end_id) AS share
            FROM weighted
        )
        SELECT channel, sum(share) AS conversions, sum(share * value) AS value
        FROM shared GROUP BY channel ORDER BY channel
        """,
        [half_life_us],
    ).df()
    total, total_value, missed, missed_value = database.execute(_MISSED).fetchall()[0]
    return frame, int(missed), float(missed_value), float(total), float(total_value)


def finite(value: object, *, field: str, low: float, high: float) -> float:
    """A real number in [low, high], or a `ValidationError` at ``$.field``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and low <= number <= high:
            return number
    raise ValidationError.one(
        f"$.{field}", "range", f"must be a number from {low:g} to {high:g}, not {value!r}"
    )
