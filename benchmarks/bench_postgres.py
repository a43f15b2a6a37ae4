"""Ingest throughput on PostgresStore with 1, 4 and 16 worker processes (and SQLite for scale).

Each run ingests the same number of loyalty-point events in all, split over
the workers; each event is one transaction (read the profile, fold, write
it back) for one of ``--people`` people, so workers seldom wait for each
other's rows. Throughput is events over the span from the first worker's
first event to the last worker's last (process start-up is not counted).
One process on an SQLite file ingests the same events as the baseline.

Run: ``python benchmarks/bench_postgres.py [--events N] [--people N]``
(needs the PostgreSQL server of OMNICHANNEL_TEST_POSTGRES, by default
``host=127.0.0.1 user=postgres dbname=test``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from omnichannel.clock import SystemClock
from omnichannel.engine import Engine
from omnichannel.store import PostgresStore, SQLiteStore

TESTS = Path(__file__).resolve().parents[1] / "tests"
DSN = os.environ.get(
    "OMNICHANNEL_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
sys.path.insert(0, str(TESTS))
from postgres_worker import points  # noqa: E402 - the tests' worker, on the path just set


def postgres_run(workers: int, events: int, people: int) -> float:
    """Events per second with ``workers`` processes on a fresh PostgresStore schema."""
    schema = f"bench_{secrets.token_hex(4)}"
    PostgresStore(DSN, schema=schema).close()
    each = events // workers
    procs = [
        subprocess.Popen(  # noqa: S603 - our own worker script
            [sys.executable, str(TESTS / "postgres_worker.py"), "updates", schema, f"w{n}",
             str(each), str(people)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for n in range(workers)
    ]  # fmt: skip
    spans = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode:
            raise SystemExit(err.decode()[-2000:])
        start, end = map(float, out.split())
        spans.append((start, end))
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return each * workers / (max(e for _, e in spans) - min(s for s, _ in spans))


def sqlite_run(events: int, people: int) -> float:
    """Events per second with one process on an SQLite file (the embedded default)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(SQLiteStore(Path(folder) / "bench.db"), clock=SystemClock())
        started = time.perf_counter()
        for number in range(events):
            engine.ingest(points("w0", number, people))
        elapsed = time.perf_counter() - started
        engine.close()
    return events / elapsed


def main() -> None:
    """Print throughput per worker count, and each against one PostgreSQL worker."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=8_000)
    parser.add_argument("--people", type=int, default=20_000)
    args = parser.parse_args()
    baseline = sqlite_run(args.events // 4, args.people)
    print(f"SQLite, 1 process: {baseline:8.0f} events/s")
    single = None
    for workers in (1, 4, 16):
        rate = postgres_run(workers, args.events, args.people)
        single = single or rate
        print(
            f"PostgreSQL, {workers:2d} worker(s): {rate:8.0f} events/s"
            f"  ({rate / single:.2f}x one worker, {rate / baseline:.2f}x SQLite)"
        )


if __name__ == "__main__":
    main()
