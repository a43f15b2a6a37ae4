"""The engines' contract against a real PostgreSQL: Python closures and its SQL pick the same members.

The rules, subjects and instants are those of the DuckDB differential test
(`support.rule_cases`). Each test session works in a schema of its own
(``rules_<random>``, dropped at the end); each example loads its subjects in
a transaction that is rolled back. The session's time zone is deliberately
not UTC, so SQL that leans on it shows.

The server is ``OMNICHANNEL_TEST_POSTGRES`` (a libpq connection string),
by default ``host=127.0.0.1 port=5432 user=postgres dbname=test``; the test
skips when psycopg is not installed or the server is not reachable.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given, settings

from omnichannel import RuleError
from omnichannel.rules import (
    Rule,
    compile_rule,
    to_sql,
)
from support import EDGE_NOW, EDGE_RULES, EDGE_SUBJECTS, rule_cases, rule_rows
from support import RULE_SCHEMA as SCHEMA

psycopg = pytest.importorskip("psycopg", reason="psycopg (3) is not installed")

DSN = os.environ.get(
    "OMNICHANNEL_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
# Text sorts by code point, as in Python: the docs tell users to use the C collation.
_SQL_TYPES = {
    "text": 'TEXT COLLATE "C"',
    "integer": "BIGINT",
    "number": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "instant": "TIMESTAMPTZ",
    "date": "DATE",
}
_TEXT = _SQL_TYPES["text"]


@pytest.fixture(scope="module")
def database() -> Iterator[Any]:
    try:
        connection = psycopg.connect(DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {DSN!r}: {error}".strip())
    schema = f"rules_{secrets.token_hex(6)}"
    with connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        try:
            connection.execute(f"SET search_path TO {schema}")
            connection.execute("SET TIME ZONE 'Pacific/Chatham'")
            columns = ", ".join(
                f"{SCHEMA.column(p)} {_SQL_TYPES[t]}" for p, t in SCHEMA.fields.items()
            )
            connection.execute(f"CREATE TABLE profiles (profile_id TEXT, timezone TEXT, {columns})")
            props = ", ".join(
                f"{SCHEMA.column(p)} {_SQL_TYPES[t]}" for p, t in SCHEMA.event_fields.items()
            )
            connection.execute(
                f"CREATE TABLE events (profile_id TEXT, event {_TEXT}, timestamp TIMESTAMPTZ,"
                f" channel {_TEXT}, {props})"
            )
            connection.execute("CREATE TABLE segment_members (profile_id TEXT, segment TEXT)")
            yield connection
        finally:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def _members(connection: Any, subjects: list[dict[str, Any]], sql: str) -> set[str]:
    """Load ``subjects``, run ``sql`` and roll the rows back."""
    profile_rows, event_rows, member_rows = rule_rows(subjects)
    with connection.transaction(force_rollback=True), connection.cursor() as cursor:
        marks = ", ".join(["%s"] * (2 + len(SCHEMA.fields)))
        cursor.executemany(f"INSERT INTO profiles VALUES ({marks})", profile_rows)
        if event_rows:
            marks = ", ".join(["%s"] * (4 + len(SCHEMA.event_fields)))
            cursor.executemany(f"INSERT INTO events VALUES ({marks})", event_rows)
        if member_rows:
            cursor.executemany("INSERT INTO segment_members VALUES (%s, %s)", member_rows)
        return {row[0] for row in cursor.execute(sql).fetchall()}


@pytest.mark.parametrize("rule", EDGE_RULES, ids=str)
def test_postgres_agrees_at_the_edges(database: Any, rule: Rule) -> None:
    """Hand-picked rules and subjects the generator seldom reaches agree too."""
    subjects = [{"segments": [], "events": [], **subject} for subject in EDGE_SUBJECTS]
    sql = to_sql(rule, schema=SCHEMA, now=EDGE_NOW, dialect="postgres")
    matches = compile_rule(rule)
    expected = {f"p{n}" for n, subject in enumerate(subjects) if matches(subject, EDGE_NOW)}
    assert expected == _members(database, subjects, sql), sql


@settings(max_examples=200)
@given(rule_cases())
def test_python_and_postgres_pick_the_same_members(database: Any, case: Any) -> None:
    """For any well-typed rule PostgreSQL can express, both engines choose the same profiles."""
    now, rule, subjects = case
    try:
        sql = to_sql(rule, schema=SCHEMA, now=now, dialect="postgres")
    except RuleError as error:
        assume(error.errors[0].code != "unsupported")
        raise
    matches = compile_rule(rule)
    expected = {f"p{n}" for n, subject in enumerate(subjects) if matches(subject, now)}
    assert expected == _members(database, subjects, sql), f"{rule}\n{sql}"


@pytest.mark.slow
@settings(max_examples=5_000)
@given(rule_cases())
def test_python_and_postgres_agree_at_length(database: Any, case: Any) -> None:
    """The same contract, dug deeper (run with ``-m slow``)."""
    test_python_and_postgres_pick_the_same_members.hypothesis.inner_test(database, case)  # type: ignore[attr-defined]
