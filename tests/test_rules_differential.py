"""The contract between the two engines: Python closures and DuckDB SQL pick the same members."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings

from omnichannel.rules import compile_rule, to_sql
from support import RULE_SCHEMA as SCHEMA
from support import rule_cases, rule_rows

duckdb = pytest.importorskip("duckdb")

_SQL_TYPES = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
    "instant": "TIMESTAMPTZ",
    "date": "DATE",
}


@pytest.fixture(scope="module")
def database() -> Iterator[Any]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    columns = ", ".join(f"{SCHEMA.column(p)} {_SQL_TYPES[t]}" for p, t in SCHEMA.fields.items())
    connection.execute(f"CREATE TABLE profiles (profile_id VARCHAR, timezone VARCHAR, {columns})")
    props = ", ".join(f"{SCHEMA.column(p)} {_SQL_TYPES[t]}" for p, t in SCHEMA.event_fields.items())
    connection.execute(
        "CREATE TABLE events (profile_id VARCHAR, event VARCHAR, timestamp TIMESTAMPTZ,"
        f" channel VARCHAR, {props})"
    )
    connection.execute("CREATE TABLE segment_members (profile_id VARCHAR, segment VARCHAR)")
    yield connection
    connection.close()


def load(connection: Any, subjects: list[dict[str, Any]]) -> None:
    """Replace the tables' rows with ``subjects``."""
    for table in ("profiles", "events", "segment_members"):
        connection.execute(f"DELETE FROM {table}")
    profile_rows, event_rows, member_rows = rule_rows(subjects)
    marks = ", ".join("?" * (2 + len(SCHEMA.fields)))
    if profile_rows:
        connection.executemany(f"INSERT INTO profiles VALUES ({marks})", profile_rows)
    if event_rows:
        marks = ", ".join("?" * (4 + len(SCHEMA.event_fields)))
        connection.executemany(f"INSERT INTO events VALUES ({marks})", event_rows)
    if member_rows:
        connection.executemany("INSERT INTO segment_members VALUES (?, ?)", member_rows)


@settings(max_examples=200)
@given(rule_cases())
def test_python_and_duckdb_pick_the_same_members(database: Any, case: Any) -> None:
    """For any well-typed rule and any subjects, both engines choose the same profiles."""
    now, rule, subjects = case
    load(database, subjects)
    matches = compile_rule(rule)
    expected = {f"p{n}" for n, subject in enumerate(subjects) if matches(subject, now)}
    actual = {row[0] for row in database.execute(to_sql(rule, schema=SCHEMA, now=now)).fetchall()}
    assert expected == actual, str(rule)


@pytest.mark.slow
@settings(max_examples=5_000)
@given(rule_cases())
def test_python_and_duckdb_agree_at_length(database: Any, case: Any) -> None:
    """The same contract, dug deeper (run with ``-m slow``)."""
    test_python_and_duckdb_pick_the_same_members.hypothesis.inner_test(database, case)  # type: ignore[attr-defined]
