"""``omnichannel segments list|preview|evaluate`` over a real SQLite store."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from omnichannel.cli import main
from omnichannel.datasets import synthetic_retail
from omnichannel.engine import Engine
from omnichannel.errors import RuleError
from omnichannel.rules import trait
from omnichannel.segments import Segment, Segmentation, batch_members, observed_schema
from omnichannel.store import SQLiteStore

pytest.importorskip("duckdb", reason="--sql runs on DuckDB (the batch extra)")

NOW = "2024-03-01T00:00:00Z"
CONFIG = """
[segments.customers]
name = "Customers"
rule = 'state("orders") >= 1'

[segments.repeat]
name = "Repeat buyers"
rule = 'state("orders") >= 2'

[segments.german-repeat]
name = "Repeat buyers in Germany"
rule = 'in_segment("repeat") & (trait("country") == "DE")'

[segments.recent]
name = "Ordered in the last 14 days"
rule = 'did("Order Completed").within(days=14)'
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A store of two months of the synthetic shop, and what its people did (from their state)."""
    folder = tmp_path_factory.mktemp("shop")
    path = folder / "shop.db"
    with Engine(SQLiteStore(path)) as engine:
        engine.ingest_many(synthetic_retail(150, 60, 11))
        orders = {pid: engine.state(pid).orders.count for pid in engine.store.profile_ids()}
    (folder / "shop.toml").write_text(f'store = "{path}"\n{CONFIG}', encoding="utf-8")
    return folder, orders


def _copy(shop, tmp_path):
    folder, _ = shop
    db = tmp_path / "shop.db"
    shutil.copy(folder / "shop.db", db)
    config = tmp_path / "shop.toml"
    config.write_text(f'store = "{db}"\n{CONFIG}', encoding="utf-8")
    return db, config


def _run(capsys, *argv):
    status = main(["segments", *map(str, argv)])
    return status, capsys.readouterr().out


def _table(text):
    """The evaluate table as {segment: (members, stored, entered, left)}."""
    rows = {}
    for line in text.splitlines()[1:]:
        cells = line.split()
        if len(cells) >= 7 and cells[-2].startswith("+"):
            rows[cells[0]] = (int(cells[-5]), int(cells[-3]), int(cells[-2]), int(cells[-1]))
    return rows


def test_list_prints_each_segment_with_its_rule_as_a_sentence(shop, capsys):
    folder, _ = shop
    status, out = _run(capsys, "list", "--config", folder / "shop.toml", "--family", "lifecycle")
    assert status == 0
    assert "repeat                 Repeat buyers\n" in out
    assert "is in segment repeat and country is DE" in out
    assert "lifecycle-churned" in out
    assert out.endswith("10 segment(s)\n")  # four of the config's, six stages


def test_preview_counts_what_the_rule_says_and_stores_nothing(shop, tmp_path, capsys):
    db, _ = _copy(shop, tmp_path)
    _, orders = shop
    before = db.read_bytes()
    status, out = _run(
        capsys, "preview", 'state("orders") >= 2', "--db", db, "--now", NOW, "--sample", "3"
    )
    assert status == 0
    repeat = sorted(pid for pid, count in orders.items() if count >= 2)
    assert repeat, "the shop has repeat buyers"
    share = len(repeat) / len(orders)
    assert f"preview: {len(repeat)} of {len(orders)} profiles ({share:.1%})" in out
    assert out.splitlines()[2:] == [f"  {pid}" for pid in repeat[:3]]
    assert db.read_bytes() == before


def test_preview_reads_jsonlogic_and_the_json_form_alike(shop, capsys):
    folder, orders = shop
    db = folder / "shop.db"
    buyers = sum(1 for count in orders.values() if count >= 1)
    jsonlogic = json.dumps({">=": [{"var": "state.orders"}, 1]})
    for rule in ('state("orders") >= 1', jsonlogic):
        status, out = _run(capsys, "preview", rule, "--db", db, "--now", NOW, "--sample", "0")
        assert status == 0, out
        assert f": {buyers} of {len(orders)} profiles" in out


def test_preview_of_a_config_segment_explains_its_sample(shop, capsys):
    folder, _ = shop
    config = folder / "shop.toml"
    status, out = _run(capsys, "preview", "repeat", "--config", config, "--now", NOW, "--why")
    assert status == 0
    assert out.startswith("orders is at least 2\nrepeat: ")
    assert "      [x] orders is at least 2\n" in out


def test_evaluate_in_process_and_as_sql_agree_with_the_people(shop, tmp_path, capsys):
    db, config = _copy(shop, tmp_path)
    _, orders = shop
    before = db.read_bytes()
    argv = ("evaluate", "--config", config, "--family", "lifecycle", "--now", NOW)
    status, python = _run(capsys, *argv)
    assert status == 0
    status, sql = _run(capsys, *argv, "--sql")
    assert status == 0
    assert "evaluated in-process" in python
    assert "evaluated as SQL on DuckDB" in sql
    assert _table(python) == _table(sql)
    table = _table(python)
    assert len(table) == 10
    assert table["customers"][0] == sum(1 for c in orders.values() if c >= 1)
    assert table["repeat"][0] == sum(1 for c in orders.values() if c >= 2)
    assert table["german-repeat"][0] <= table["repeat"][0]
    # Nothing was stored: every segment enters from nothing.
    assert all(stored == 0 and left == 0 for _, stored, _, left in table.values())
    assert db.read_bytes() == before


def test_evaluate_save_stores_the_memberships_it_found(shop, tmp_path, capsys):
    db, config = _copy(shop, tmp_path)
    argv = ("evaluate", "--config", config, "--now", NOW)
    status, first = _run(capsys, *argv, "--save")
    assert status == 0
    found = _table(first)
    entered = sum(members for members, *_ in found.values())
    assert f"saved: {entered} entered, 0 left" in first
    status, again = _run(capsys, *argv)
    assert status == 0
    for key, (members, stored, plus, minus) in _table(again).items():
        assert (members, stored, plus, minus) == (found[key][0], found[key][0], 0, 0)
    segments = Engine.from_config(config).segmentation.segments
    with Engine(SQLiteStore(db), segments=segments) as engine:
        assert len(engine.members("repeat")) == found["repeat"][0]


def test_evaluate_of_the_rfm_family_scores_every_customer(shop, capsys):
    folder, orders = shop
    status, out = _run(
        capsys, "evaluate", "--db", folder / "shop.db", "--family", "rfm", "--now", NOW, "--sql"
    )
    assert status == 0, out
    table = _table(out)
    customers = sum(1 for count in orders.values() if count >= 1)
    assert sum(table[f"rfm-r{score}"][0] for score in range(1, 6)) == customers


@pytest.mark.parametrize(
    "case",
    [
        (("evaluate", "--db", "{tmp}/none.db", "--family", "lifecycle"), 2, "no such store"),
        (("evaluate", "--db", "{db}"), 2, "no segments to evaluate"),
        (("preview", 'state("orders" >= 3', "--db", "{db}"), 1, "[syntax]"),
        (("preview", "{{nope", "--db", "{db}"), 2, "RULE is not JSON"),
        (("preview", "repeat", "--db", "{db}", "--sample", "-1"), 2, "--sample must be"),
        (("list", "--config", "{tmp}/none.toml"), 2, "none.toml: no such file"),
        (("list", "--config", "{tmp}/bad.toml"), 2, "$.segments.broken.rule"),
        (("evaluate", "--db", "{tmp}/bad.toml", "--family", "lifecycle"), 2, "not an omnichannel"),
        (("evaluate", "--db", "{tmp}/empty.db", "--family", "rfm"), 2, "--family rfm: no subject"),
    ],
)
def test_segments_commands_refuse_what_they_cannot_do(shop, tmp_path, capsys, case):
    argv, status, said = case
    folder, _ = shop
    (tmp_path / "bad.toml").write_text("[segments.broken]\nrule = 'nope('\n", encoding="utf-8")
    SQLiteStore(tmp_path / "empty.db").close()
    names = {"tmp": tmp_path, "db": folder / "shop.db"}
    got, out = _run(capsys, *(part.format(**names) for part in argv))
    assert got == status
    assert said in out


SCALARS = st.one_of(
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False, allow_infinity=False),
    st.sampled_from(["a", "b", "2024-01-02", "2024-01-02T03:04:05Z"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.lists(st.dictionaries(st.sampled_from("xyz"), SCALARS, max_size=3), max_size=8),
    field=st.sampled_from("xyz"),
    value=SCALARS,
    op=st.sampled_from(["eq", "ne", "lt", "ge"]),
)
def test_over_an_observed_schema_sql_agrees_with_python(people, field, value, op):
    subjects = [
        (f"p{n}", {"profile_id": f"p{n}", "timezone": "UTC", "traits": traits, "state": {}})
        for n, traits in enumerate(people)
    ]
    left = trait(field)
    now = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
    try:
        rule = {
            "eq": lambda: left == value,
            "ne": lambda: left != value,
            "lt": lambda: left < value,
            "ge": lambda: left >= value,
        }[op]()
        segment = Segment(key="s", name="s", rule=rule)
        found = batch_members(
            [segment], schema=observed_schema(subjects), now=now, subjects=subjects
        )
    except RuleError:
        reject()  # booleans ordered; a field no one has; a value of another type
    python = Segmentation([segment]).evaluate_all(subjects, now)
    assert set(found["s"]) == python["s"]
