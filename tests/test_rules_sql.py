"""SQL from rules: snapshots per dialect, declared gaps, and SQLite agreeing with Python."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from omnichannel import RuleError
from omnichannel.rules import (
    DIALECTS,
    Compare,
    Concat,
    Const,
    Field,
    Rule,
    Schema,
    compile_rule,
    did,
    did_not,
    field,
    hours,
    in_segment,
    local,
    prop,
    to_sql,
    trait,
    when,
)
from omnichannel.testing import rule_subjects, rules

SNAPSHOTS = Path(__file__).parent / "snapshots" / "rules_sql"
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
SCHEMA = Schema(
    fields={
        "traits.country": "text",
        "traits.age": "integer",
        "traits.score": "number",
        "traits.vip": "bool",
        "traits.signed_up": "instant",
        "traits.birthday": "date",
    },
    event_fields={"properties.revenue": "number", "properties.sku": "text"},
)

# One rule per kind of node (and the special cases of some), named for the snapshot files.
CASES: dict[str, Rule] = {
    "compare": (trait("country") == "DE") & (trait("score") >= 2.5) & (trait("vip") != True),  # noqa: E712
    "compare_fields": trait("age") < trait("score"),
    "dates": (trait("birthday") < dt.date(2000, 1, 1)) | (trait("signed_up") > NOW),
    "in": trait("country").is_in(["DE", "AT"])
    & trait("age").not_in([1, 2])
    & trait("age").is_in([]),
    "text": trait("country").contains("E")
    & trait("country").starts_with("D")
    & trait("country").ends_with("E")
    & trait("country").starts_with(""),
    "exists_between": trait("age").exists() & trait("age").between(18, 30),
    "recency": trait("signed_up").within_last(days=30) | trait("signed_up").older_than(hours=1),
    "arith": ((trait("age") + 1) * 2 - trait("score") > 10) & ((trait("age") / 4) % 2 == 1),
    "min_max_concat": Compare(
        fn="eq",
        left=Concat(args=[Field(path="traits.country"), Const(value="!")]),
        right=Const(value="DE!"),
    ),
    "not": ~(trait("country") == "DE"),
    "count": did("Order Completed").at_least(2).within(days=30) & did_not("Refund").since(NOW),
    "count_where": did("Order Completed")
    .where(prop("revenue") > 100)
    .where(field("channel") == "web"),
    "aggregate": (did("Order Completed").within(days=90).sum("properties.revenue") > 100)
    & (did(None).count_distinct("properties.sku") >= 3),
    "followed_by": did("Product Viewed").followed_by("Order Completed"),
    "not_followed_by": did("Product Added").within(hours=24).not_followed_by("Order Completed"),
    "followed_within": did("Product Added").not_followed_by("Order Completed", within=hours(24)),
    "segment": in_segment("vip"),
    "local_hour": local("hour").between(9, 17) & (local("weekday", trait("signed_up")) <= 5),
    "substr_if": (trait("country").substr(-2, 1) == "E")
    & (when(trait("vip").is_in([True]), trait("score") * 2, trait("score")) > 10),
    "anniversary": trait("birthday").anniversary_within(days=7),
}


def render(dialect: str) -> str:
    """Every case compiled for ``dialect``, or the reason the dialect cannot express it."""
    parts = []
    for name, rule in CASES.items():
        try:
            sql = to_sql(rule, schema=SCHEMA, now=NOW, dialect=dialect, pretty=True)
        except RuleError as error:
            sql = f"-- unsupported: {error.errors[0].message}"
        parts.append(f"-- {name}\n{sql}\n")
    return "\n".join(parts)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sql_matches_the_snapshot(dialect: str) -> None:
    """The SQL for each dialect changes only on purpose (OMNICHANNEL_UPDATE_SNAPSHOTS=1 rewrites)."""
    path = SNAPSHOTS / f"{dialect}.sql"
    actual = render(dialect)
    if os.environ.get("OMNICHANNEL_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == actual


def test_sqlglot_loads_only_for_sql() -> None:
    """Building and evaluating rules never imports sqlglot; to_sql does, on first use."""
    code = (
        "import sys, datetime as dt\n"
        "from omnichannel.rules import trait, compile_rule\n"
        "compile_rule(trait('a') == 1)({}, dt.datetime.now(dt.timezone.utc))\n"
        "assert 'sqlglot' not in sys.modules\n"
        "from omnichannel.rules import to_sql\n"
        "assert 'sqlglot' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import omnichannel.rules

    with pytest.raises(AttributeError):
        _ = omnichannel.rules.to_sqlite  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "path"),
    [("local_hour", "$.rules[0].arg"), ("anniversary", "$"), ("followed_within", "$.within")],
)
def test_sqlite_declares_its_gaps(name: str, path: str) -> None:
    """What SQLite cannot express fails at compile time with the path of the node."""
    with pytest.raises(RuleError) as caught:
        to_sql(CASES[name], schema=SCHEMA, now=NOW, dialect="sqlite")
    assert (path, "unsupported") == (caught.value.errors[0].path, caught.value.errors[0].code)


def test_sqlite_remainders_need_integers() -> None:
    """SQLite's % truncates its operands, so only whole-number remainders compile there."""
    with pytest.raises(RuleError) as caught:
        to_sql((trait("score") % 2) == 1, schema=SCHEMA, now=NOW, dialect="sqlite")
    assert ("$.left", "unsupported") == (caught.value.errors[0].path, caught.value.errors[0].code)
    whole = ((trait("age") + 1) * 3 % 4) == -3
    subjects = [
        {"traits": {"age": -2}, "events": [], "segments": []},
        {"traits": {"age": 2}, "events": [], "segments": []},
    ]
    with _sqlite_database(subjects) as db:
        members = {
            row[0] for row in db.execute(to_sql(whole, schema=SCHEMA, now=NOW, dialect="sqlite"))
        }
    assert {"p0"} == members
    assert [True, False] == [compile_rule(whole)(s, NOW) for s in subjects]


def test_to_sql_checks_its_arguments() -> None:
    """Unknown dialects, naive instants and schema problems are RuleErrors."""
    with pytest.raises(RuleError):
        to_sql(CASES["segment"], schema=SCHEMA, now=NOW, dialect="oracle")
    with pytest.raises(RuleError):
        to_sql(CASES["segment"], schema=SCHEMA, now=dt.datetime(2024, 1, 1))  # noqa: DTZ001
    with pytest.raises(RuleError) as caught:
        to_sql(trait("nope") == 1, schema=SCHEMA, now=NOW)
    assert "unknown_field" == caught.value.errors[0].code


def test_layout_is_configurable() -> None:
    """Tables and columns can be renamed to fit an existing database."""
    schema = Schema(
        fields={"traits.country": "text"},
        columns={"traits.country": "country_code"},
        profiles_table="customers",
        id_column="customer_id",
    )
    assert "SELECT p.customer_id FROM customers AS p WHERE p.country_code = 'DE'" == (
        to_sql(trait("country") == "DE", schema=schema, now=NOW)
    )


# --- SQLite runs what it compiles, and agrees with Python ------------------------------------

_SQLITE_TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "number": "REAL",
    "bool": "INTEGER",
    "instant": "TEXT",
    "date": "TEXT",
}


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _sqlite_database(subjects: list[dict[str, Any]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    columns = ", ".join(f"{SCHEMA.column(p)} {_SQLITE_TYPES[t]}" for p, t in SCHEMA.fields.items())
    db.execute(f"CREATE TABLE profiles (profile_id TEXT, timezone TEXT, {columns})")
    props = ", ".join(
        f"{SCHEMA.column(p)} {_SQLITE_TYPES[t]}" for p, t in SCHEMA.event_fields.items()
    )
    db.execute(
        f"CREATE TABLE events (profile_id TEXT, event TEXT, timestamp TEXT, channel TEXT, {props})"
    )
    db.execute("CREATE TABLE segment_members (profile_id TEXT, segment TEXT)")
    for n, subject in enumerate(subjects):
        values = [
            subject.get(p.partition(".")[0], {}).get(p.partition(".")[2]) for p in SCHEMA.fields
        ]
        marks = ", ".join("?" * (2 + len(values)))
        db.execute(
            f"INSERT INTO profiles VALUES ({marks})",
            [f"p{n}", subject.get("timezone"), *map(_sqlite_value, values)],
        )
        for event in subject["events"]:
            extra = [event["properties"].get(p.partition(".")[2]) for p in SCHEMA.event_fields]
            db.execute(
                f"INSERT INTO events VALUES ({', '.join('?' * (4 + len(extra)))})",
                [
                    f"p{n}",
                    event["event"],
                    _sqlite_value(event["timestamp"]),
                    event["channel"],
                    *map(_sqlite_value, extra),
                ],
            )
        db.executemany(
            "INSERT INTO segment_members VALUES (?, ?)", [(f"p{n}", s) for s in subject["segments"]]
        )
    return db


NAMES = ("Product Added", "Order Completed")


@st.composite
def cases(draw: st.DrawFn) -> tuple[Rule, list[dict[str, Any]]]:
    rule = draw(rules(SCHEMA, event_names=NAMES, now=NOW))
    subjects = draw(
        st.lists(rule_subjects(SCHEMA, event_names=NAMES, now=NOW), min_size=1, max_size=5)
    )
    return rule, subjects


@settings(max_examples=200)
@given(cases())
def test_sqlite_and_python_pick_the_same_members(case: tuple[Rule, list[dict[str, Any]]]) -> None:
    """Whatever SQLite can express, it answers as the Python engine does."""
    rule, subjects = case
    try:
        sql = to_sql(rule, schema=SCHEMA, now=NOW, dialect="sqlite")
    except RuleError as error:
        assume(error.errors[0].code != "unsupported")
        raise
    matches = compile_rule(rule)
    expected = {f"p{n}" for n, subject in enumerate(subjects) if matches(subject, NOW)}
    with _sqlite_database(subjects) as db:
        actual = {row[0] for row in db.execute(sql)}
    assert expected == actual, str(rule)
