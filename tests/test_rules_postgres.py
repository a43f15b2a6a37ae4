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

import datetime as dt
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given, settings

from omnichannel import RuleError
from omnichannel.rules import (
    Arith,
    Compare,
    Concat,
    Const,
    Field,
    Rule,
    compile_rule,
    local,
    state,
    to_sql,
    trait,
    when,
)
from support import RULE_SCHEMA as SCHEMA
from support import rule_cases, rule_rows

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


# What random rules seldom reach: Sundays, Unicode ends of text, empty needles, remainders
# of negative and local values, joined text, missing operands of min and max.
_NOW = dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.timezone.utc)  # Sunday in UTC, Saturday in NY
_SUBJECTS: list[dict[str, Any]] = [
    {
        "traits": {"country": "Straße", "city": "", "age": -9, "score": 2.5,
                   "signed_up": dt.datetime(2024, 3, 30, 23, 0, tzinfo=dt.timezone.utc),
                   "birthday": dt.date(2000, 2, 29)},
        "state": {"orders": 4},
        "timezone": None,
    },
    {
        "traits": {"country": "DE", "city": "Berlin", "age": 7, "score": None,
                   "signed_up": dt.datetime(2024, 3, 31, 4, 0, tzinfo=dt.timezone.utc)},
        "state": {"orders": -3},
        "timezone": "America/New_York",
    },
    {
        "traits": {"country": "zz", "city": "ß", "age": 0, "score": -7.5},
        "state": {},
        "timezone": "Asia/Tokyo",
    },
    {"traits": {}, "state": {"orders": None}, "timezone": "Pacific/Kiritimati"},
]  # fmt: skip
_EDGE_RULES: list[Rule] = [
    local("weekday") == 7,
    local("weekday") >= 6,
    local("weekday", trait("signed_up")) == 7,
    (local("hour") % 5) == 0,
    (local("day") % 7) > 2,
    trait("country").ends_with("ße"),
    trait("country").ends_with("E"),
    trait("country").contains(""),
    trait("city").starts_with(""),
    trait("city").ends_with(""),
    ~trait("city").contains("ß"),
    trait("country") > "z",
    trait("city") < "a",
    (trait("age") % -4) == -1,
    (trait("age") % state("orders")) < 0,
    (when(trait("age") > 0, trait("age"), state("orders")) % 2) == 1,
    (trait("age") / 0) == 1,
    ~((trait("age") / state("orders")) < 0),
    Compare(fn="lt", left=Arith(fn="min", args=[Field(path="traits.age"),
            Field(path="traits.score")]), right=Const(value=0)),
    ~Compare(fn="ge", left=Arith(fn="max", args=[Field(path="traits.score"),
             Const(value=1)]), right=Const(value=2)),
    Compare(fn="eq", left=Concat(args=[Field(path="traits.country"),
            Field(path="traits.city")]), right=Const(value="DEBerlin")),
    trait("country").substr(-2) == "ße",
    trait("country").substr(1, -1) == "traß",
    trait("city").substr(4) == "in",
    trait("birthday").anniversary_within(days=333),  # 29 Feb 2000 comes round on 28 Feb 2025
    trait("birthday").anniversary_within(days=334),
]  # fmt: skip


@pytest.mark.parametrize("rule", _EDGE_RULES, ids=str)
def test_postgres_agrees_at_the_edges(database: Any, rule: Rule) -> None:
    """Hand-picked rules and subjects the generator seldom reaches agree too."""
    subjects = [{"segments": [], "events": [], **subject} for subject in _SUBJECTS]
    sql = to_sql(rule, schema=SCHEMA, now=_NOW, dialect="postgres")
    matches = compile_rule(rule)
    expected = {f"p{n}" for n, subject in enumerate(subjects) if matches(subject, _NOW)}
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
