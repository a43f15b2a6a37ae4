"""Engine ingest speed: synthetic shop events into MemoryStore and SQLiteStore.

Run with ``nox -s bench`` (or ``python benchmarks/bench_engine.py``). Events
come from `omnichannel.datasets.synthetic_retail` as Segment payloads (so
parsing is included), in timestamp order as a live feed would bring them.
SQLite is measured two ways: one transaction per event (``ingest``) and one
per batch of 500 (``ingest_many``), both with ``synchronous=NORMAL`` in WAL
mode (a committed event survives a process crash).

Goals (issue: Step 2): >= 20,000 events/s in memory, >= 5,000 events/s
durable on SQLite, on this 2-core machine.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import pendulum

from omnichannel.clock import FixedClock
from omnichannel.datasets import synthetic_retail
from omnichannel.engine import Engine
from omnichannel.store import MemoryStore, SQLiteStore


def rate(engine: Engine, payloads: list[dict[str, Any]], batch: int) -> float:
    start = time.perf_counter()
    if batch == 1:
        for payload in payloads:
            engine.ingest(payload)
    else:
        iterator = iter(payloads)
        while chunk := list(itertools.islice(iterator, batch)):
            engine.ingest_many(chunk)
    return len(payloads) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    profiles = max(50, args.events // 50)
    payloads = synthetic_retail(profiles, 90, 7)
    while len(payloads) < args.events:
        profiles *= 2
        payloads = synthetic_retail(profiles, 90, 7)
    payloads = payloads[: args.events]
    clock = FixedClock(pendulum.datetime(2030, 1, 1))
    print(f"engine ingest: {len(payloads):,} synthetic events from {profiles:,} people")
    print(f"{'store':<34}{'events/s':>12}")
    results = {}
    results["MemoryStore, ingest() each"] = rate(Engine(MemoryStore(), clock=clock), payloads, 1)
    with tempfile.TemporaryDirectory() as folder:
        results["SQLiteStore, ingest() each"] = rate(
            Engine(SQLiteStore(Path(folder) / "each.db"), clock=clock), payloads, 1
        )
        results["SQLiteStore, ingest_many(500)"] = rate(
            Engine(SQLiteStore(Path(folder) / "batch.db"), clock=clock), payloads, 500
        )
    for name, value in results.items():
        print(f"{name:<34}{value:>12,.0f}")
    print(
        f"goals: memory >= 20,000/s -> {results['MemoryStore, ingest() each']:,.0f}; "
        f"SQLite >= 5,000/s -> {results['SQLiteStore, ingest_many(500)']:,.0f} (batched), "
        f"{results['SQLiteStore, ingest() each']:,.0f} (one transaction each)"
    )


if __name__ == "__main__":
    main()
