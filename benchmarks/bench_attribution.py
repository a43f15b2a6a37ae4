"""Attribution speed and exactness: exact Markov removal effects against ChannelAttribution.

Run with ``nox -s bench`` (or ``python benchmarks/bench_attribution.py``). A
quick run: ``python benchmarks/bench_attribution.py --paths 100000`` (or
``BENCH_ATTRIBUTION_PATHS=100000 nox -s bench``: nox hands its arguments to
every script, the environment variable only to this one).

Setup, timed apart: for each size in ``--paths`` (100,000 and 1,000,000),
that many customer journeys, generated with a fixed seed: nine channels of
different popularity and lift, 1 to 20 touches (geometric, mean 3.3, or
``--mean-touches``; a third of touches repeat the previous channel), a conversion drawn from the
channels' lifts (about 20 % convert) with a revenue for each conversion.
One row per journey: ``path`` (``"email > search > direct"``),
``conversions`` (0 or 1), ``value`` and ``nulls`` (1 - conversions), in a
pandas DataFrame: the input of both sides.

Timed, from that DataFrame, each side doing the aggregation it needs: the
best of ``--repeat`` rounds (15 up to 200,000 journeys, else 5) after a
warm-up, the two sides taking turns in each round:

1. Exact: `omnichannel.analytics.attribution.markov` (order 1, value and
   nulls), which adds up the rows by path itself.
2. Peer: the ``ChannelAttribution`` package (2.2.5 measured), pandas
   ``groupby("path").sum()`` then ``markov_model`` with its defaults
   (1e5 simulated walks in 10 folds, walks cut at the longest path,
   convergence at 5 %), ``ncore=1`` (the machine has 2 cores and is
   shared), ``verbose=False`` and ``flg_pro=False`` (printing only).
   Ratio: peer time / exact time. The same two again without the value
   column, for reference (ChannelAttribution then skips drawing values).

Accuracy, per channel, % off the exact attributed conversions and value:
ChannelAttribution's defaults; with 10 times the walks and no cap
(``nsim_start=1e6, max_step=1e9``), which still returns one fold of
``nsim_start / nfold`` walks; and with 5e6 walks in one fold
(``nfold=1``), the reference of the exactness check.

Checks: the hand-worked chain of the tests gives its exact numbers; the
attributed conversions and value add up to the totals; and every channel
is within 1 % of ChannelAttribution with 5e6 walks in one fold. The script
exits non-zero if a "check:" fails.

Goals (issue: Attribution): >= 10x ChannelAttribution's defaults at
100,000 paths and >= 2.5x at 1,000,000 (reported, not checked).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

from omnichannel.analytics import attribution

CHANNELS = [
    "direct",
    "email",
    "organic",
    "paid_search",
    "display",
    "social",
    "affiliate",
    "referral",
    "sms",
]
POPULARITY = np.array([0.20, 0.15, 0.15, 0.12, 0.10, 0.10, 0.06, 0.07, 0.05])
LIFT = np.array([0.02, 0.05, 0.03, 0.04, 0.01, 0.015, 0.03, 0.02, 0.04])
GOALS = {100_000: 10.0, 1_000_000: 2.5}
TOLERANCE = 0.01  # the exactness check: within 1 % per channel


def journeys(count: int, seed: int = 0, *, mean_touches: float = 10 / 3) -> pd.DataFrame:
    """``count`` journeys, one row each: path, conversions, value, nulls."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.geometric(1 / mean_touches, count), 20)
    total = int(lengths.sum())
    drawn = rng.choice(len(CHANNELS), size=total, p=POPULARITY)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    # A third of touches repeat the channel before them (a return visit), never the first.
    repeat = rng.random(total) < 0.3
    repeat[starts] = False
    source = np.maximum.accumulate(np.where(repeat, 0, np.arange(total)))
    touches = drawn[source]
    owner = np.repeat(np.arange(count), lengths)
    chance = 1 - np.exp(-2.5 * np.bincount(owner, weights=LIFT[touches], minlength=count))
    converted = (rng.random(count) < chance).astype(np.int64)
    value = np.where(converted == 1, np.round(rng.gamma(2.0, 40.0, count), 2), 0.0)
    names = np.array(CHANNELS, dtype=object)[touches]
    paths = [" > ".join(part) for part in np.split(names, starts[1:])]
    return pd.DataFrame(
        {"path": paths, "conversions": converted, "value": value, "nulls": 1 - converted}
    )


def exact(frame: pd.DataFrame, *, valued: bool) -> pd.DataFrame:
    result = attribution.markov(frame, value="value" if valued else None, nulls="nulls")
    return result.frame.set_index("channel")


def simulated(frame: pd.DataFrame, *, valued: bool, **settings: Any) -> pd.DataFrame:
    """ChannelAttribution from the journeys: aggregate by path, then ``markov_model``."""
    import ChannelAttribution

    columns = ["conversions", "value", "nulls"] if valued else ["conversions", "nulls"]
    paths = frame.groupby("path", as_index=False, sort=False)[columns].sum()
    result = ChannelAttribution.markov_model(
        paths,
        "path",
        "conversions",
        var_value="value" if valued else None,
        var_null="nulls",
        ncore=1,
        verbose=False,
        flg_pro=False,
        **settings,
    )
    return result.set_index("channel_name").rename(
        columns={"total_conversions": "conversions", "total_conversion_value": "value"}
    )


def race(repeat: int, *runs: Callable[[], Any]) -> list[tuple[float, float, Any]]:
    """Best and median seconds of each run, and its result: ``repeat`` rounds after a warm-up.

    The runs take turns in each round, so that a busy spell of the (shared)
    machine does not fall on one side only.
    """
    results = [run() for run in runs]
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for n, run in enumerate(runs):
            gc.collect()
            started = time.perf_counter()
            results[n] = run()
            times[n].append(time.perf_counter() - started)
    return [
        (min(spent), statistics.median(spent), result)
        for spent, result in zip(times, results, strict=True)
    ]


def off(other: pd.DataFrame, reference: pd.DataFrame, column: str) -> pd.Series:
    """Per channel, % that ``other`` is off ``reference``."""
    return (other[column].reindex(reference.index) / reference[column] - 1.0) * 100.0


def check_hand_example() -> tuple[str, bool]:
    """The tests' hand-worked chain (see tests/test_analytics_attribution.py)."""
    frame = pd.DataFrame(
        {
            "path": ["a > a > b", "a", "b"],
            "conversions": [1, 1, 0],
            "nulls": [1, 0, 1],
            "value": [10.0, 50.0, 0.0],
        }
    )
    result = attribution.markov(frame, value="value", nulls="nulls").frame
    got = result[["conversions", "value"]].to_numpy().ravel().tolist()
    ok = bool(np.allclose(got, [1.25, 51.0, 0.75, 9.0], rtol=0, atol=1e-12))
    return f"check: hand-worked chain exact (a 1.25 / 51, b 0.75 / 9; got {got})", ok


def run_size(count: int, repeat: int | None, mean_touches: float) -> list[tuple[str, bool]]:
    started = time.perf_counter()
    frame = journeys(count, mean_touches=mean_touches)
    distinct = frame["path"].nunique()
    rate = frame["conversions"].mean()
    print(
        f"\n== {count:,} journeys ({distinct:,} distinct paths, {rate:.1%} convert;"
        f" generated in {time.perf_counter() - started:.1f} s)"
    )
    goals: list[tuple[str, bool]] = []
    reference: dict[bool, pd.DataFrame] = {}
    for valued in (True, False):
        label = "with value" if valued else "conversions only"
        rounds = repeat or (15 if count <= 200_000 else 5)
        (ours, ours_median, answer), (theirs, theirs_median, _) = race(
            rounds,
            lambda v=valued: exact(frame, valued=v),
            lambda v=valued: simulated(frame, valued=v),
        )
        reference[valued] = answer
        ratio = theirs / ours
        print(
            f"   {label:<17} exact {ours * 1000:8.1f} ms (median {ours_median * 1000:.1f})"
            f"   ChannelAttribution defaults {theirs * 1000:8.1f} ms"
            f" (median {theirs_median * 1000:.1f})   ratio {ratio:5.1f}x"
        )
        if valued and count in GOALS:
            goals.append(
                (
                    f"{count:,} paths: >= {GOALS[count]:g}x ChannelAttribution ({ratio:.1f}x)",
                    ratio >= GOALS[count],
                )
            )
        elif valued:
            goals.append((f"{count:,} paths: {ratio:.1f}x ChannelAttribution, no goal", True))
    answer = reference[True]
    totals_ok = bool(
        np.isclose(answer["conversions"].sum(), frame["conversions"].sum(), rtol=1e-12)
        and np.isclose(answer["value"].sum(), frame["value"].sum(), rtol=1e-12)
    )
    goals.append((f"check: {count:,} paths: attributions add up to the totals", totals_ok))

    settings = {
        "defaults": {},
        "10x walks, no cap": {"nsim_start": 1e6, "max_step": 10**9},
        "5e6 walks, 1 fold": {"nsim_start": 5e6, "nfold": 1, "max_step": 10**9},
    }
    table = {}
    for name, extra in settings.items():
        started = time.perf_counter()
        other = simulated(frame, valued=True, **extra)
        seconds = time.perf_counter() - started
        table[f"{name} conv %"] = off(other, answer, "conversions")
        table[f"{name} value %"] = off(other, answer, "value")
        print(f"   ChannelAttribution {name}: {seconds:.1f} s")
    differences = pd.DataFrame(table)
    print("   % off the exact attribution, per channel:")
    with pd.option_context("display.width", 160, "display.precision", 2):
        print("   " + differences.to_string().replace("\n", "\n   "))
    for name in settings:
        worst = differences[[f"{name} conv %", f"{name} value %"]].abs().to_numpy().max()
        print(f"   ChannelAttribution {name}: at most {worst:.2f} % off")
    worst = differences[["5e6 walks, 1 fold conv %", "5e6 walks, 1 fold value %"]].abs()
    largest = float(worst.to_numpy().max())
    goals.append(
        (
            (
                f"check: {count:,} paths: every channel within {TOLERANCE:.0%} of"
                f" ChannelAttribution with 5e6 walks in one fold ({largest:.2f} %)"
            ),
            largest <= TOLERANCE * 100,
        )
    )
    return goals


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sizes = os.environ.get("BENCH_ATTRIBUTION_PATHS", "100000,1000000")
    parser.add_argument("--paths", default=sizes, help="journeys per run, comma-separated")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timed rounds (best kept; default 15 up to 200,000 paths, else 5)",
    )
    parser.add_argument(
        "--mean-touches",
        type=float,
        default=10 / 3,
        help="mean touches per journey before the cap at 20 (geometric; default 3.3)",
    )
    args, _ = parser.parse_known_args()
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ChannelAttribution  # its import prints a banner
    except ImportError:
        print("ChannelAttribution is not installed (pip install ChannelAttribution)")
        return 1
    del ChannelAttribution
    print(
        f"Attribution: exact Markov (order 1) vs ChannelAttribution {version('ChannelAttribution')}"
        f" (ncore=1); Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    goals = [check_hand_example()]
    for size in (int(s) for s in args.paths.split(",")):
        goals += run_size(size, args.repeat, args.mean_touches)
    print("\nGoals")
    for text, met in goals:
        print(f"   {'met' if met else 'MISSED':<8}{text}")
    return 1 if any(text.startswith("check:") and not met for text, met in goals) else 0


if __name__ == "__main__":
    sys.exit(main())
