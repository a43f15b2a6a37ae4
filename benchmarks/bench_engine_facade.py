"""What the AsyncEngine costs over the sync Engine, and the demo's month, end to end.

Both engines ingest the same synthetic shop's events one call at a time into
an SQLite file (a web service's shape: one request, one event). The async
engine runs each call on its worker thread; the figure to watch is the ratio
of the two, measured in the same run. Then the demo's month (1,000 shoppers,
30 days, journeys and delivery to a folder outbox) is timed as a user runs it.

Run: ``python benchmarks/bench_engine_facade.py [--events N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
from pathlib import Path

from omnichannel import AsyncEngine, Engine
from omnichannel._demo import run_demo
from omnichannel.datasets import synthetic_retail


def _sync(payloads: list[dict[str, object]], path: Path) -> float:
    engine = Engine(path)
    began = time.perf_counter()
    for payload in payloads:
        engine.ingest(payload)
    took = time.perf_counter() - began
    engine.close()
    return took


def _async(payloads: list[dict[str, object]], path: Path) -> float:
    async def run() -> float:
        engine = AsyncEngine(path)
        began = time.perf_counter()
        for payload in payloads:
            await engine.ingest(payload)
        took = time.perf_counter() - began
        await engine.aclose()
        return took

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    args, _ = parser.parse_known_args()
    payloads = synthetic_retail(400, 30, 7)[: args.events]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        best_sync = min(_sync(payloads, root / f"s{n}.db") for n in range(3))
        best_async = min(_async(payloads, root / f"a{n}.db") for n in range(3))
        n = len(payloads)
        print(f"ingest one call at a time, {n:,} events into SQLite")
        print(f"  Engine       {best_sync:6.2f} s  {n / best_sync:8,.0f} events/s")
        print(f"  AsyncEngine  {best_async:6.2f} s  {n / best_async:8,.0f} events/s")
        print(f"  async / sync time: {best_async / best_sync:.2f}x")
        began = time.perf_counter()
        run_demo(root / "demo", profiles=1000, days=30, seed=7, out=io.StringIO(), fancy=False)
        print(f"omnichannel demo (1,000 shoppers, 30 days, report included): "
              f"{time.perf_counter() - began:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
