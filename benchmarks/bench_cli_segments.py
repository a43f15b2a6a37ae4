"""``omnichannel segments evaluate`` over the demo's store: in-process against SQL on DuckDB.

The demo's month (1,000 shoppers, 30 days) is lived through once; then every
segment of a config (the demo's ten plus the six lifecycle stages) is
evaluated over every profile of its store, as a user types it: in-process
(the same compiled closures as real time), and with ``--sql`` (tables made
from the same profiles, typed by `observed_schema`, the rules run as SQL on
DuckDB). Both read every profile with its events from SQLite first; the
ratio of the two, measured in the same run, is the figure to watch.

Run: ``python benchmarks/bench_cli_segments.py [--profiles N] [--days N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import tempfile
import time
from pathlib import Path

from omnichannel._demo import DEMO_SEGMENTS, run_demo
from omnichannel.cli import main as cli
from omnichannel.rules import dump_rule


def _toml(value: object) -> str:
    """A JSON value as a TOML inline value (the rules' JSON form, written into the config)."""
    if isinstance(value, dict):
        given = {k: v for k, v in value.items() if v is not None}  # TOML has no null: left out
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in given.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if value is None:
        raise SystemExit("TOML has no null: a rule's JSON form with one cannot be written")
    return json.dumps(value)


def _config(folder: Path) -> Path:
    lines = [f'store = "{folder / "shop.db"}"']
    for segment in DEMO_SEGMENTS:
        lines.append(f"[segments.{segment.key}]")
        lines.append(f"name = {json.dumps(segment.name)}")
        lines.append(f"rule = {_toml(dump_rule(segment.rule))}")
    path = folder / "shop.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _timed(argv: list[str]) -> float:
    began = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = cli(argv)
    took = time.perf_counter() - began
    if status != 0:
        raise SystemExit(f"omnichannel {' '.join(argv)} exited {status}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        run_demo(root, profiles=args.profiles, days=args.days, seed=7, out=io.StringIO())
        config = _config(root)
        argv = ["segments", "evaluate", "--config", str(config), "--family", "lifecycle"]
        argv += ["--now", "2024-02-01"]
        python = min(_timed(argv) for _ in range(3))
        sql = min(_timed([*argv, "--sql"]) for _ in range(3))
        load, evaluate, batch = _parts(root / "shop.db")
    print(f"omnichannel segments evaluate, 16 segments, demo store ({args.profiles:,} shoppers)")
    print(f"  in-process         {python:6.2f} s")
    print(f"  --sql (DuckDB)     {sql:6.2f} s  ({sql / python:.2f}x in-process)")
    print(f"  of which: reading the profiles with their events {load:.2f} s,")
    print(f"  evaluating in-process {evaluate:.3f} s, tables and SQL on DuckDB {batch:.2f} s")


def _parts(db: Path) -> tuple[float, float, float]:
    """The parts of one evaluation: read the subjects, evaluate in-process, in SQL."""
    from omnichannel.engine import EngineCore
    from omnichannel.segments import (
        Segmentation,
        batch_members,
        lifecycle_segments,
        observed_schema,
    )
    from omnichannel.store import SQLiteStore

    now = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    segmentation = Segmentation([*DEMO_SEGMENTS, *lifecycle_segments()])
    with EngineCore(SQLiteStore(db)) as engine:
        began = time.perf_counter()
        subjects = list(engine.subjects())
        loaded = time.perf_counter()
        segmentation.evaluate_all(subjects, now)
        evaluated = time.perf_counter()
        batch_members(segmentation, schema=observed_schema(subjects), now=now, subjects=subjects)
        done = time.perf_counter()
    return loaded - began, evaluated - loaded, done - evaluated


if __name__ == "__main__":
    main()
