"""Batch segments: every segment over every profile, as SQL on DuckDB.

The same rules the real-time path runs per event are compiled by
`omnichannel.rules.to_sql` and run in reference order, each segment's
members written to ``segment_members`` before the segments that refer to it
run. The data comes from subject documents (an Engine's profiles), from
DataFrames or Arrow tables, or from Parquet files — or is already in a
DuckDB connection you pass.

Needs the ``batch`` extra (``pip install 'omnichannel[batch]'``: DuckDB,
sqlglot and pyarrow), imported on first use.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from omnichannel.errors import OmnichannelError, ValidationError
from omnichannel.rules._python import as_date, as_instant, getter, kind
from omnichannel.rules._schema import EVENT_BUILTINS, Schema
from omnichannel.segments._live import Segmentation
from omnichannel.segments._segment import Segment

_SQL_TYPES = {
    "text": "VARCHAR",
    "number": "DOUBLE",
    "integer": "BIGINT",
    "bool": "BOOLEAN",
    "instant": "TIMESTAMPTZ",
    "date": "DATE",
}
_UTC = dt.timezone.utc


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise OmnichannelError(
            f"batch segments need DuckDB, sqlglot and pyarrow ({exc.name} is missing): "
            "pip install 'omnichannel[batch]'"
        ) from None


def fit(value: Any, type_: str) -> Any:
    """``value`` as a column of ``type_`` holds it, or None for another kind of value.

    The Python engine finds a comparison with a value of the wrong kind
    false, as SQL finds one with NULL: the two agree.
    """
    if value is None:
        return None
    if type_ == "instant":
        instant = as_instant(value)
        return None if instant is None else instant.astimezone(_UTC)
    if type_ == "date":
        return as_date(value)
    found = kind(value)
    if type_ == "integer":
        return int(value) if found == "number" and float(value).is_integer() else None
    wanted = "number" if type_ == "number" else type_
    return value if found == wanted else None


def _arrow_type(pa: Any, type_: str) -> Any:
    return {
        "text": pa.string(),
        "number": pa.float64(),
        "integer": pa.int64(),
        "bool": pa.bool_(),
        "instant": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
    }[type_]


def subject_tables(
    subjects: Iterable[tuple[str, Mapping[str, Any]]], schema: Schema
) -> tuple[Any, Any]:
    """Arrow tables for the schema's ``profiles`` and ``events`` holding ``subjects``.

    One column per schema field, named by `Schema.column`; a value of
    another type than the schema's is left out (NULL), as `fit` says.
    """
    pa = _module("pyarrow")
    profile_types = {schema.timezone_column: "text"}
    profile_types.update({schema.column(p): t for p, t in schema.fields.items()})
    event_types = {
        schema.column(p): t for p, t in {**EVENT_BUILTINS, **schema.event_fields}.items()
    }
    profile_readers = [(schema.timezone_column, getter("timezone"))] + [
        (schema.column(p), getter(p)) for p in schema.fields
    ]
    event_readers = [
        (schema.column(p), getter(p)) for p in {**EVENT_BUILTINS, **schema.event_fields}
    ]
    profiles: dict[str, list[Any]] = {schema.id_column: [], **{c: [] for c in profile_types}}
    events: dict[str, list[Any]] = {schema.id_column: [], **{c: [] for c in event_types}}
    for profile_id, subject in subjects:
        profiles[schema.id_column].append(profile_id)
        for column, read in profile_readers:
            profiles[column].append(fit(read(subject), profile_types[column]))
        for event in subject.get("events") or ():
            events[schema.id_column].append(profile_id)
            for column, read in event_readers:
                events[column].append(fit(read(event), event_types[column]))

    def table(columns: dict[str, list[Any]], types: Mapping[str, str]) -> Any:
        return pa.Table.from_arrays(
            [pa.array(v, type=_arrow_type(pa, types.get(c, "text"))) for c, v in columns.items()],
            names=list(columns),
        )

    return table(profiles, profile_types), table(events, event_types)


def batch_members(
    segments: Segmentation | Iterable[Segment],
    *,
    schema: Schema,
    now: dt.datetime,
    subjects: Iterable[tuple[str, Mapping[str, Any]]] | None = None,
    profiles: Any = None,
    events: Any = None,
    connection: Any = None,
) -> dict[str, frozenset[str]]:
    """The members of every segment, computed in SQL on DuckDB.

    The data comes from exactly one of: ``subjects`` (``(profile id,
    subject)`` pairs, as `subject_of` makes them, e.g. ``engine.subjects()``);
    ``profiles`` and ``events`` (pandas DataFrames, Arrow tables or Parquet
    file paths laid out as ``schema`` says); or ``connection`` alone (a DuckDB
    connection whose tables already hold them). Segments run in reference
    order; their members are written to the schema's segments table.

    Raises:
        RuleError: a rule the schema or DuckDB cannot run.
        ValidationError: no data source, or more than one.
        OmnichannelError: the ``batch`` extra is not installed.

    .. versionadded:: 0.1.0
    """
    segmentation = segments if isinstance(segments, Segmentation) else Segmentation(segments)
    sources = [subjects is not None, profiles is not None or events is not None]
    if sum(sources) > 1 or (not any(sources) and connection is None):
        raise ValidationError.one(
            "$", "invalid", "give subjects, or profiles and events, or a connection holding them"
        )
    duckdb = _module("duckdb")
    to_sql = _module("omnichannel.rules._sql").to_sql
    database = connection if connection is not None else duckdb.connect()
    database.execute("SET TimeZone = 'UTC'")
    if subjects is not None:
        profiles, events = subject_tables(subjects, schema)
    if profiles is not None or events is not None:
        for name, frame in ((schema.profiles_table, profiles), (schema.events_table, events)):
            _attach(database, name, frame)
    members, member = _quoted(schema.segments_table), _quoted(schema.id_column)
    database.execute(f"CREATE OR REPLACE TEMP TABLE {members} ({member} VARCHAR, segment VARCHAR)")
    for segment in segmentation.segments:
        query = to_sql(segment.rule, schema=schema, now=now, dialect="duckdb")
        insert = f"INSERT INTO {members} SELECT m.{member}, ? FROM ({query}) AS m"  # noqa: S608 - a compiled rule and quoted names
        database.execute(insert, [segment.key])
    found: dict[str, set[str]] = {s.key: set() for s in segmentation.segments}
    select = f"SELECT {member}, segment FROM {members}"  # noqa: S608 - quoted names
    for profile_id, key in database.execute(select).fetchall():
        found[key].add(profile_id)
    if connection is None:
        database.close()
    return {key: frozenset(ids) for key, ids in found.items()}


def _attach(database: Any, name: str, frame: Any) -> None:
    """Make ``frame`` (a DataFrame, an Arrow table or a Parquet path) the view ``name``."""
    if frame is None:
        raise ValidationError.one(f"$.{name}", "required", "give both profiles and events")
    if isinstance(frame, (str, os.PathLike)):
        frame = database.read_parquet(os.fspath(frame))
    database.register(name, frame)


def count_rows(frame: Any) -> int:
    """How many rows a DataFrame, an Arrow table or a Parquet file holds."""
    if isinstance(frame, (str, os.PathLike)):
        duckdb = _module("duckdb")
        with duckdb.connect() as database:
            query = "SELECT count(*) FROM read_parquet(?)"
            (count,) = database.execute(query, [os.fspath(frame)]).fetchone()
        return int(count)
    rows = getattr(frame, "num_rows", None)
    return int(rows) if rows is not None else len(frame)


def _quoted(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
