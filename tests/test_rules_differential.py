"""The contract between the two engines: Python closures and DuckDB SQL pick the same members."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.rules import Rule, Schema, compile_rule, to_sql
from omnichannel.testing import rule_subjects, rules

duckdb = pytest.importorskip("duckdb")

SCHEMA = Schema(
    fields={
        "traits.country": "text",
        "traits.city": "text",
        "traits.age": "integer",
        "traits.score": "number",
        "traits.vip": "bool",
        "traits.signed_up": "instant",
        "traits.birthday": "date",
        "state.orders": "integer",
        "state.last_order": "instant",
    },
    event_fields={"properties.revenue": "number", "properties.sku": "text"},
)
NAMES = ("Product Added", "Order Completed", "Product Viewed")
_SQL_TYPES = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
    "instant": "TIMESTAMPTZ",
    "date": "DATE",
}
# Instants chosen to sit near midnight, month ends and DST changes somewhere in the world.
NOWS = (
    dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.timezone.utc),
    dt.datetime(2024, 2, 28, 23, 59, 59, tzinfo=dt.timezone.utc),
    dt.datetime(2023, 12, 31, 11, 0, tzinfo=dt.timezone.utc),
    dt.datetime(2024, 11, 3, 6, 15, tzinfo=dt.timezone.utc),
)


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
    profile_rows, event_rows, member_rows = [], [], []
    for n, subject in enumerate(subjects):
        pid = f"p{n}"
        row = [pid, subject.get("timezone")]
        for path in SCHEMA.fields:
            section, _, name = path.partition(".")
            row.append(subject.get(section, {}).get(name))
        profile_rows.append(row)
        for event in subject["events"]:
            props = [event["properties"].get(p.partition(".")[2]) for p in SCHEMA.event_fields]
            event_rows.append([pid, event["event"], event["timestamp"], event["channel"], *props])
        member_rows += [[pid, segment] for segment in subject["segments"]]
    marks = ", ".join("?" * (2 + len(SCHEMA.fields)))
    if profile_rows:
        connection.executemany(f"INSERT INTO profiles VALUES ({marks})", profile_rows)
    if event_rows:
        marks = ", ".join("?" * (4 + len(SCHEMA.event_fields)))
        connection.executemany(f"INSERT INTO events VALUES ({marks})", event_rows)
    if member_rows:
        connection.executemany("INSERT INTO segment_members VALUES (?, ?)", member_rows)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dt.datetime, Rule, list[dict[str, Any]]]:
    now = draw(st.sampled_from(NOWS))
    rule = draw(rules(SCHEMA, event_names=NAMES, now=now))
    subjects = draw(
        st.lists(rule_subjects(SCHEMA, event_names=NAMES, now=now), min_size=2, max_size=8)
    )
    return now, rule, subjects


@settings(max_examples=500)
@given(cases())
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
@given(cases())
def test_python_and_duckdb_agree_at_length(database: Any, case: Any) -> None:
    """The same contract, dug deeper (run with ``-m slow``)."""
    test_python_and_duckdb_pick_the_same_members.hypothesis.inner_test(database, case)  # type: ignore[attr-defined]
