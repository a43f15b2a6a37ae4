"""Helpers shared by test modules: conformance material, the rule engines' differential cases."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from omnichannel.errors import StoreError
from omnichannel.rules import (
    Arith,
    Compare,
    Concat,
    Const,
    Field,
    Rule,
    Schema,
    local,
    state,
    trait,
    when,
)
from omnichannel.store import MemoryStore, PostgresStore, SQLiteStore, Store
from omnichannel.testing import rule_subjects, rules

#: ../shared/conformance beside the project root (absent from a user's sdist).
CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


def conformance_dir(name: str) -> Path:
    """Return a conformance folder, or skip the test where the shared folder is absent."""
    folder = CONFORMANCE / name
    if not folder.is_dir():
        pytest.skip(f"third-party conformance material not found at {folder} (e.g. an sdist)")
    return folder


def segment_samples() -> list[Path]:
    """The 20 Segment Spec sample payloads, or [] where the folder is absent."""
    folder = CONFORMANCE / "segment-spec"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def load_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


# --- the differential contract: Python against a SQL engine ------------------------------

#: The fields of the differential tests' subjects (every type, two of some to compare).
RULE_SCHEMA = Schema(
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
RULE_EVENT_NAMES = ("Product Added", "Order Completed", "Product Viewed")
# Instants chosen to sit near midnight, month ends and DST changes somewhere in the world.
RULE_NOWS = (
    dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.timezone.utc),
    dt.datetime(2024, 2, 28, 23, 59, 59, tzinfo=dt.timezone.utc),
    dt.datetime(2023, 12, 31, 11, 0, tzinfo=dt.timezone.utc),
    dt.datetime(2024, 11, 3, 6, 15, tzinfo=dt.timezone.utc),
)


@st.composite
def rule_cases(draw: st.DrawFn) -> tuple[dt.datetime, Rule, list[dict[str, Any]]]:
    """``(now, rule, subjects)``: a well-typed rule over `RULE_SCHEMA` and subjects to test."""
    now = draw(st.sampled_from(RULE_NOWS))
    rule = draw(rules(RULE_SCHEMA, event_names=RULE_EVENT_NAMES, now=now))
    subjects = draw(
        st.lists(
            rule_subjects(RULE_SCHEMA, event_names=RULE_EVENT_NAMES, now=now),
            min_size=2,
            max_size=8,
        )
    )
    return now, rule, subjects


def rule_rows(
    subjects: list[dict[str, Any]],
) -> tuple[list[list[Any]], list[list[Any]], list[list[Any]]]:
    """The rows of ``profiles``, ``events`` and ``segment_members`` holding ``subjects``.

    Profile ``n`` is ``p{n}``; columns follow `RULE_SCHEMA` (profile id and time
    zone first; event id, name, timestamp and channel first).
    """
    profile_rows, event_rows, member_rows = [], [], []
    for n, subject in enumerate(subjects):
        pid = f"p{n}"
        row = [pid, subject.get("timezone")]
        for path in RULE_SCHEMA.fields:
            section, _, name = path.partition(".")
            row.append(subject.get(section, {}).get(name))
        profile_rows.append(row)
        for event in subject["events"]:
            props = [event["properties"].get(p.partition(".")[2]) for p in RULE_SCHEMA.event_fields]
            event_rows.append([pid, event["event"], event["timestamp"], event["channel"], *props])
        member_rows += [[pid, segment] for segment in subject["segments"]]
    return profile_rows, event_rows, member_rows


# What random rules seldom reach: Sundays, Unicode ends of text, empty needles, remainders
# of negative and local values, joined text, missing operands of min and max.
EDGE_NOW = dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.timezone.utc)  # Sunday in UTC, Saturday in NY
EDGE_SUBJECTS: list[dict[str, Any]] = [
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
EDGE_RULES: list[Rule] = [
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


#: The PostgreSQL server the tests use (a libpq connection string).
POSTGRES_DSN = os.environ.get(
    "OMNICHANNEL_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)


class ThrowawayPostgresStore(PostgresStore):
    """A PostgresStore in a schema of its own that closing drops (each test starts empty)."""

    def close(self) -> None:
        self.drop()


def postgres_store(schema: str | None = None) -> PostgresStore:
    """A fresh store on the test server; skips when there is none, except in CI (fails)."""
    try:
        return ThrowawayPostgresStore(
            POSTGRES_DSN, schema=schema or f"t_{secrets.token_hex(6)}", connect_timeout=5
        )
    except StoreError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests, but: {error}")
        pytest.skip(f"no PostgreSQL server at {POSTGRES_DSN!r}: {error}")


#: The stores every contract test runs on.
STORE_KINDS = ("memory", "postgres", "sqlite")


def make_store(kind: str, tmp_path: Path) -> Store:
    """A new, empty store of ``kind`` (files under ``tmp_path``)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "postgres":
        return postgres_store()
    return SQLiteStore(tmp_path / "store.db")
