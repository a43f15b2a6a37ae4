"""Where analytics data comes from: DataFrames, Arrow, Parquet or CSV files, DuckDB relations.

Every analytics function takes its tables in any of these forms and hands
them to DuckDB under a name; results come back as pandas DataFrames. The
heavy libraries (DuckDB, pandas, NumPy, SciPy) are imported on first use,
so ``import omnichannel`` stays cheap.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omnichannel.errors import FieldError, OmnichannelError, ValidationError

__all__ = [
    "PERIODS",
    "choice",
    "columns_of",
    "connect",
    "events_view",
    "fetch",
    "module",
    "period_step",
    "positive_seconds",
    "quoted",
    "register",
    "require_columns",
]

#: The periods reports are cut into (DuckDB's ``date_trunc`` units).
PERIODS = ("day", "week", "month", "quarter", "year")


def module(name: str) -> Any:
    """Import ``name``, or say which extra brings it (``omnichannel[analytics]``)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise OmnichannelError(
            f"analytics need DuckDB, pandas, NumPy and SciPy ({exc.name} is missing): "
            "pip install 'omnichannel[analytics]'"
        ) from None


def connect(connection: Any = None) -> Any:
    """``connection``, or a new in-memory DuckDB connection in UTC."""
    if connection is not None:
        return connection
    database = module("duckdb").connect()
    database.execute("SET TimeZone = 'UTC'")
    return database


def fetch(database: Any, query: str, params: object = None) -> Any:
    """Run ``query`` and return its rows as a pandas DataFrame (dates as datetime64).

    Through Arrow: DuckDB's own ``df()`` still uses a pandas call that
    pandas 3.1 deprecates, which would warn in every user's notebook.
    """
    relation = database.sql(query, params=params)
    table = relation.to_arrow_table()
    return table.to_pandas(date_as_object=False)


def register(database: Any, name: str, data: object, *, path: str) -> None:
    """Make ``data`` the view ``name`` in ``database``.

    ``data`` is a pandas or polars DataFrame, an Arrow table, a DuckDB
    relation, or the path of a Parquet or CSV file (by its suffix). Anything
    else is refused with a `ValidationError` at ``path``.
    """
    if isinstance(data, (str, os.PathLike)):
        location = os.fspath(data)
        if not Path(location).exists():
            raise ValidationError.one(path, "not_found", f"no file at {location!r}")
        lowered = location.lower()
        if lowered.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
            relation = database.read_csv(location)
        elif lowered.endswith(".parquet"):
            relation = database.read_parquet(location)
        else:
            raise ValidationError.one(
                path, "format", f"{location!r} is neither a .parquet nor a .csv file"
            )
        relation.create_view(name, replace=True)
        return
    duckdb = module("duckdb")
    if isinstance(data, duckdb.DuckDBPyRelation):
        owner = getattr(data, "_con", database)  # DuckDB 2 says which connection made it
        if owner is not database:
            # A relation of another connection (``duckdb.sql(...)``): its view would live
            # there, out of this connection's sight. Its rows come over through Arrow.
            database.register(name, _arrow_of(data))
            return
        if _is_table(database, name, data):
            return  # the connection's own table of that name: it already is the data
        data.create_view(name, replace=True)
        return
    if not _tabular(data):
        raise ValidationError.one(
            path,
            "type",
            "must be a pandas or polars DataFrame, an Arrow table, a DuckDB relation,"
            f" or a Parquet or CSV path, not {type(data).__name__}",
        )
    database.register(name, data)


def _arrow_of(relation: Any) -> Any:
    reader = getattr(relation, "to_arrow_table", None) or relation.arrow
    return reader()


def _is_table(database: Any, name: str, relation: Any) -> bool:
    """Whether ``relation`` reads the whole table ``name`` of ``database``."""
    found = database.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [name]
    ).fetchall()
    return bool(found[0][0]) and relation.sql_query() == database.table(name).sql_query()


def _tabular(data: object) -> bool:
    kind = type(data)
    return f"{kind.__module__.split('.')[0]}.{kind.__name__}" in {
        "pandas.DataFrame",
        "polars.DataFrame",
        "pyarrow.Table",
        "pyarrow.RecordBatch",
    }


def columns_of(database: Any, name: str) -> dict[str, str]:
    """The columns of view ``name`` and their DuckDB types."""
    rows = database.execute(f"DESCRIBE {quoted(name)}").fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


def require_columns(
    database: Any, name: str, wanted: Iterable[str | None], *, path: str
) -> dict[str, str]:
    """Check view ``name`` has every column in ``wanted`` (None: not asked for); return them all.

    Raises:
        ValidationError: one `FieldError` per missing column, at ``path.column``.
    """
    found = columns_of(database, name)
    missing = [c for c in wanted if c is not None and c not in found]
    if missing:
        raise ValidationError(
            FieldError(
                path=f"{path}.{column}",
                code="required",
                message=f"no column {column!r} (columns: {', '.join(found) or 'none'})",
            )
            for column in missing
        )
    return found


def quoted(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def events_view(events: object, connection: Any, *columns: str) -> Any:
    """A connection (``connection`` or a new one) where ``events`` is the view ``events``.

    Raises:
        ValidationError: ``events`` is no table, or lacks ``profile_id``,
            ``event``, ``timestamp`` or one of ``columns`` (at ``$.events``).
    """
    database = connect(connection)
    register(database, "events", events, path="$.events")
    require_columns(
        database, "events", ("profile_id", "event", "timestamp", *columns), path="$.events"
    )
    return database


def choice(value: object, allowed: tuple[str, ...], path: str) -> str:
    """``value`` when it is one of ``allowed``; else a `ValidationError` at ``path``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError.one(path, "invalid", f"must be one of {', '.join(allowed)}")
    return value


def positive_seconds(value: object, path: str) -> float:
    """The seconds of a positive timedelta; else a `ValidationError` at ``path``."""
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ValidationError.one(path, "invalid", "must be a positive timedelta")
    return value.total_seconds()


def period_step(period: str) -> str:
    """One ``period`` of `PERIODS` as a DuckDB interval (a quarter is three months)."""
    return "INTERVAL 3 MONTH" if period == "quarter" else f"INTERVAL 1 {period}"
