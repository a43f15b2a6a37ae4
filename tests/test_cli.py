"""The omnichannel command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from omnichannel.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop-session.jsonl"


def test_validate_reports_the_example_session(capsys):
    """The example session validates and its summary counts people, types, channels and orders."""
    assert 0 == main(["validate", str(EXAMPLE)])
    out = capsys.readouterr().out
    assert "20 valid event(s), 0 rejected message(s)" in out
    assert "orders: 1 (118.34 USD)" in out
    assert "channels: web 17" in out


def test_validate_names_problems_with_file_line_and_path(tmp_path, capsys):
    """Each bad line is reported as file:line: path: message [code], and the exit status is 1."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"type": "track", "userId": "u", "timestamp": "2024-01-01T00:00:00Z"})
        + "\n\n"
        + json.dumps({"type": "page", "userId": "u", "timestamp": "2024-01-01T00:00:00Z"})
        + "\n"
    )
    assert 1 == main(["validate", "--quiet", str(bad)])
    out = capsys.readouterr().out
    assert f"{bad}:1: $.event: is required for a track call [required]\n" in out
    assert "1 valid event(s), 1 rejected message(s)" in out
    assert "people" not in out


def test_validate_reads_a_json_batch(tmp_path, capsys):
    """A .json file holding a batch is read as a batch."""
    batch = tmp_path / "batch.json"
    message = {
        "type": "track",
        "event": "Signed Up",
        "userId": "u",
        "timestamp": "2024-01-01T00:00:00Z",
    }
    batch.write_text(json.dumps({"batch": [message, message]}))
    assert 0 == main(["validate", str(batch)])
    assert "2 valid event(s)" in capsys.readouterr().out


def test_validate_missing_file_is_a_usage_error(tmp_path, capsys):
    """A file that does not exist is exit status 2."""
    assert 2 == main(["validate", str(tmp_path / "nope.jsonl")])
    assert "no such file" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--source", "google", "--medium", "cpc"], "Paid Search\n"),
        (["--referrer", "https://l.facebook.com/"], "Organic Social\n"),
        (
            ["--url", "https://s.example/?utm_source=newsletter&utm_medium=email"],
            "Email\tnewsletter / email / (not set)\n",
        ),
        ([], "Direct\n"),
    ],
)
def test_channel_group_command(args, expected, capsys):
    """channel-group prints the GA4 group (and, for a URL, the derived source / medium / campaign)."""
    assert 0 == main(["channel-group", *args])
    assert expected == capsys.readouterr().out


def test_no_command_prints_help(capsys):
    """Without a command the help is shown."""
    assert 0 == main([])
    assert "validate" in capsys.readouterr().out


def test_module_entry_point_runs():
    """python -m omnichannel works, as the README says."""
    out = subprocess.run(
        [sys.executable, "-m", "omnichannel", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("omnichannel ")


def test_validate_tells_batches_from_messages_by_structure(tmp_path, capsys):
    """A message that merely mentions "batch" is one message; a bare JSON array is a batch."""
    message = {
        "type": "track",
        "event": "Export Run",
        "userId": "u",
        "timestamp": "2024-01-01T00:00:00Z",
        "properties": {"mode": "batch"},
    }
    single, array = tmp_path / "one.jsonl", tmp_path / "many.json"
    single.write_text(json.dumps(message) + "\n")
    array.write_text(json.dumps([message, message]))
    assert 0 == main(["validate", "--quiet", str(single), str(array)])
    assert "3 valid event(s), 0 rejected message(s)" in capsys.readouterr().out


def test_demo_lives_through_a_small_shop(tmp_path, capsys):
    """The demo runs the shop on SQLite: segments, journeys with sends, batch SQL, analytics."""
    pytest.importorskip("duckdb")
    pytest.importorskip("plotly", reason="the demo's report draws with plotly")
    out = tmp_path / "demo"
    assert 0 == main(["demo", "--out", str(out), "--profiles", "60", "--days", "14", "--plain"])
    text = capsys.readouterr().out
    assert (out / "shop.db").is_file()
    assert "people after identity resolution" in text
    assert "cart-abandoners" in text
    assert "the same members as real time" in text
    assert re.search(r"Abandoned cart\s+\d+\s+\d+/\d+ = \d+%\s+\d+/\d+ = \d+%", text)
    assert "Channel attribution of the orders" in text
    assert "markov" in text
    assert "Top KPIs of the month" in text
    assert f"The HTML report with its charts: {out / 'report.html'}" in text
    assert 3 == _charts((out / "report.html").read_text(encoding="utf-8"))
    # Every message the journeys sent is a readable file in the outbox, named in the report.
    month = int(re.search(r"([\d,]+) messages in ", text).group(1).replace(",", ""))
    campaign = int(re.search(r"\((\d+) relayed to the outbox\)", text).group(1))
    files = sorted((out / "outbox").iterdir())
    assert month + campaign == len(files) > 0
    assert files[0].read_text(encoding="utf-8").startswith("Channel: ")
    assert 2 == main(["demo", "--out", str(out), "--profiles", "0"])


def test_the_demo_shows_rich_tables_and_a_progress_bar(tmp_path, capsys):
    pytest.importorskip("rich")
    pytest.importorskip("duckdb")
    pytest.importorskip("plotly", reason="the demo's report draws with plotly")
    assert 0 == main(["demo", "--out", str(tmp_path), "--profiles", "20", "--days", "3"])
    text = capsys.readouterr().out
    assert "living through 3 days" in text
    assert "100%" in text
    assert "┃ segment" in text  # a rich table's header


def _charts(page):
    return page.count('class="plotly-graph-div"')


def test_report_of_the_demo_store(tmp_path, capsys):
    pytest.importorskip("duckdb")
    pytest.importorskip("plotly", reason="the report draws with plotly")
    db, page = tmp_path / "shop.db", tmp_path / "shop.html"
    assert 0 == main(
        ["demo", "--out", str(tmp_path), "--profiles", "30", "--days", "10", "--plain"]
    )
    capsys.readouterr()
    rates = ["--rate", "EUR=1.08", "--rate", "gbp=1.27"]
    assert 0 == main(["report", str(db), "--out", str(page), "--title", "Demo shop", *rates])
    assert f"wrote {page}\n" == capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    assert "<title>Demo shop</title>" in html
    assert 3 == _charts(html)


def test_report_of_segment_messages_and_of_an_event_table(tmp_path, capsys):
    pytest.importorskip("duckdb")
    pytest.importorskip("plotly", reason="the report draws with plotly")
    from omnichannel.analytics import event_table
    from omnichannel.datasets import synthetic_retail, write_jsonl
    from omnichannel.engine import Engine
    from omnichannel.store import MemoryStore

    payloads = synthetic_retail(20, 10, 3)
    lines = tmp_path / "shop.jsonl"
    write_jsonl(payloads, lines)
    assert 0 == main(["report", str(lines), "--out", str(tmp_path / "a.html")])
    engine = Engine(MemoryStore())
    engine.ingest_many(payloads)
    table = tmp_path / "events.parquet"
    event_table(engine).to_parquet(table)
    assert 0 == main(["report", str(table), "--out", str(tmp_path / "b.html")])
    first = (tmp_path / "a.html").read_text(encoding="utf-8")
    second = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert first == second  # the same shop, the same page
    capsys.readouterr()


def test_report_refuses_what_it_cannot_read(tmp_path, capsys):
    assert 2 == main(["report", str(tmp_path / "missing.db")])
    assert "no such file" in capsys.readouterr().out
    assert 2 == main(["report", str(tmp_path / "x.db"), "--rate", "EUR"])
    assert "give CODE=RATE" in capsys.readouterr().out
    pytest.importorskip("duckdb")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "track"}\n', encoding="utf-8")
    assert 1 == main(["report", str(bad)])
    assert "$[0].event" in capsys.readouterr().out
    junk = tmp_path / "junk.db"
    junk.write_text("not a database", encoding="utf-8")
    assert 2 == main(["report", str(junk)])
    assert "not an omnichannel store" in capsys.readouterr().out


def test_ingest_loads_messages_into_a_store_and_reports_the_refused(tmp_path, capsys):
    from omnichannel.datasets import synthetic_retail, write_jsonl
    from omnichannel.engine import Engine
    from omnichannel.store import MemoryStore, SQLiteStore

    payloads = synthetic_retail(15, 5, 2)
    good = tmp_path / "shop.jsonl"
    write_jsonl(payloads, good)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "track", "userId": "u1"}\n', encoding="utf-8")
    db = tmp_path / "shop.db"
    assert 1 == main(["ingest", str(good), str(bad), "--db", str(db), "--batch", "100"])
    out = capsys.readouterr().out
    assert f"{bad}:1: $.event" in out
    store = SQLiteStore(db)
    try:
        expected = Engine(MemoryStore())
        expected.ingest_many(payloads)
        wanted = sorted(expected.store.profile_ids())
        assert wanted == sorted(store.profile_ids())
    finally:
        store.close()
    assert (
        f"{db}: {len(payloads)} event(s) ingested, 1 rejected message(s); {len(wanted)} profile(s) in the store\n"
        in out
    )
    assert 0 == main(["ingest", str(good), "--db", str(tmp_path / "again.db")])
    assert 2 == main(["ingest", str(tmp_path / "missing.jsonl")])
    assert 2 == main(["ingest", str(good), "--batch", "0"])
