"""Ingest speed: parse_segment (validate + convert) beside json.loads alone, same payloads.

Run with ``nox -s bench`` (or ``python benchmarks/bench_ingest.py``). The goal
(issue: Step 1) is that full validation and conversion cost at most 10x a
plain ``json.loads`` of the same bytes. Rounds alternate between the two so
machine noise hits both alike; the median round is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from omnichannel.ingest import MAX_BATCH_BYTES, parse_segment, parse_segment_batch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "shop-session.jsonl"
GOAL = 10.0


def _payloads() -> list[bytes]:
    # The 20 Segment Spec sample messages (one fictional shopper, every call type).
    return [line.encode() for line in EXAMPLE.read_text().splitlines() if line.strip()]


def _rate(run: Callable[[], object], count: int, rounds: int) -> list[float]:
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    return rates


def measure(repeat: int, rounds: int) -> dict[str, float]:
    """Return payloads/s (median of rounds) for json.loads, parse_segment on bytes and on dicts."""
    payloads = _payloads() * repeat
    dicts = [json.loads(p) for p in payloads]
    # As many messages as Segment's 500 KB batch limit admits.
    in_batch = 0
    while len(json.dumps({"batch": dicts[: in_batch + 1]}).encode()) <= MAX_BATCH_BYTES:
        in_batch += 1
    batch = json.dumps({"batch": dicts[:in_batch]}).encode()
    count = len(payloads)
    results: dict[str, list[float]] = {
        "json.loads": [],
        "parse_segment(bytes)": [],
        "parse_segment(dict)": [],
    }
    batch_rates: list[float] = []
    for _ in range(rounds):
        results["json.loads"] += _rate(lambda: [json.loads(p) for p in payloads], count, 1)
        results["parse_segment(bytes)"] += _rate(
            lambda: [parse_segment(p) for p in payloads], count, 1
        )
        results["parse_segment(dict)"] += _rate(lambda: [parse_segment(d) for d in dicts], count, 1)
        batch_rates += _rate(lambda: parse_segment_batch(batch), in_batch, 1)
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    medians["parse_segment_batch(bytes)"] = statistics.median(batch_rates)
    return medians


def main() -> None:
    """Print the table and the ratio the issue asks for."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=250, help="copies of the samples per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    medians = measure(args.repeat, args.rounds)
    base = medians["json.loads"]
    print(
        f"ingest benchmark: {len(_payloads())} Segment sample payloads x {args.repeat},"
        f" median of {args.rounds} rounds"
    )
    print(f"{'what':<30}{'payloads/s':>14}{'cost vs json.loads':>22}")
    for name, rate in medians.items():
        print(f"{name:<30}{rate:>14,.0f}{base / rate:>21.2f}x")
    ratio = base / medians["parse_segment(bytes)"]
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(f"goal: parse_segment costs <= {GOAL:.0f}x json.loads -> {ratio:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
