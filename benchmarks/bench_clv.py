"""Customer value speed and accuracy: the BG/NBD fit on CDNOW and rfm_summary, against lifetimes.

Run with ``nox -s bench`` (or ``python benchmarks/bench_clv.py``). A quick
run: ``python benchmarks/bench_clv.py --transactions 100000``.

1. BG/NBD on the CDNOW sample (2,357 customers, 39 weeks of calibration to
   1997-09-30, recency and T in weeks), the summary made by `rfm_summary`:
   `BetaGeo.fit` against ``lifetimes.BetaGeoFitter().fit`` on the same
   columns, each the best of ``--repeat`` runs (at least 10) taking turns. Checked: the
   parameters are Fader, Hardie and Lee's (r = 0.243, alpha = 4.414,
   a = 0.793, b = 2.426, to 3 decimals). The Gamma-Gamma fit is timed the
   same way, for information.
2. `rfm_summary` on ``--transactions`` (1,000,000) synthetic transactions:
   ``--customers`` (a tenth of them) customers drawn uniformly, times
   uniform over 2022-2023 to the second, amounts gamma(2, 20) rounded to
   cents, seeded; a pandas DataFrame, days, with and without amounts.
   Against ``lifetimes.utils.summary_data_from_transaction_data`` on the
   same DataFrame, each the best of ``--repeat`` runs taking turns (warm:
   the first call of either pays for imports). Checked: the same customers in the
   same order, identical frequency, recency and T, and monetary_value equal
   to 1e-12 (the share that is bit-identical is printed: the sums are the
   same, added in another order).

Goals (issue: customer value): parameters within 0.1 % of lifetimes' and
the fit at most 1.5x its time; rfm_summary at least 8x faster than
lifetimes with identical values. DuckDB uses every core: the ratio grows
with them (and shrinks on a busy machine), while lifetimes runs on one.
The script exits non-zero if a "check:" fails.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # lifetimes sets a pandas option that pandas 3 deprecates, on import.
    warnings.simplefilter("ignore")
    import lifetimes
    from lifetimes.utils import summary_data_from_transaction_data

from omnichannel.analytics import BetaGeo, GammaGamma, rfm_summary
from omnichannel.analytics._datasets import cdnow_sample

Goal = tuple[str, bool]
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def best(functions: list[Callable[[], Any]], repeat: int) -> list[tuple[float, Any]]:
    """The shortest of ``repeat`` timed calls of each function, and its last result.

    The functions take turns, so that a machine busy for a while slows them alike.
    """
    times: list[list[float]] = [[] for _ in functions]
    results: list[Any] = [None] * len(functions)
    for _ in range(repeat):
        for n, function in enumerate(functions):
            started = time.perf_counter()
            results[n] = function()
            times[n].append(time.perf_counter() - started)
    return [(min(spent), result) for spent, result in zip(times, results, strict=True)]


def part_bgnbd(repeat: int) -> list[Goal]:
    summary = rfm_summary(
        cdnow_sample(),
        customer_id_col="customer_id",
        datetime_col="date",
        monetary_value_col="amount",
        observation_period_end="1997-09-30",
    )
    x, tx, age = summary["frequency"], summary["recency"] / 7, summary["T"] / 7
    (ours_time, ours), (theirs_time, theirs) = best(
        [lambda: BetaGeo.fit(x, tx, age), lambda: lifetimes.BetaGeoFitter().fit(x, tx, age)],
        repeat,
    )
    print(f"BG/NBD on CDNOW ({len(summary):,} customers, 39 weeks; best of {repeat})")
    print(f"   {'':<8}{'ours':>12}{'lifetimes':>12}{'diff %':>12}{'published':>12}")
    worst = 0.0
    for name in ("r", "alpha", "a", "b"):
        mine, reference = getattr(ours, name), float(theirs.params_[name])
        difference = abs(mine / reference - 1) * 100
        worst = max(worst, difference)
        print(
            f"   {name:<8}{mine:>12.6f}{reference:>12.6f}{difference:>12.2e}{PUBLISHED[name]:>12}"
        )
    print(f"   log-likelihood {ours.log_likelihood:.2f} (paper: -9582.4), {ours.iterations} steps")
    ratio = ours_time / theirs_time
    print(
        f"   fit: ours {ours_time * 1000:.1f} ms, lifetimes {theirs_time * 1000:.1f} ms"
        f" (ours / lifetimes {ratio:.2f})"
    )
    repeat_buyers = summary[summary["frequency"] > 0]
    (gg_time, _), (lgg_time, _) = best(
        [
            lambda: GammaGamma.fit(summary["frequency"], summary["monetary_value"]),
            lambda: lifetimes.GammaGammaFitter().fit(
                repeat_buyers["frequency"], repeat_buyers["monetary_value"]
            ),
        ],
        repeat,
    )
    print(f"   Gamma-Gamma fit: ours {gg_time * 1000:.1f} ms, lifetimes {lgg_time * 1000:.1f} ms")
    published = all(round(getattr(ours, k), 3) == v for k, v in PUBLISHED.items())
    return [
        (
            f"check: BG/NBD parameters are Fader, Hardie and Lee's to 3 decimals: {published}",
            published,
        ),
        (f"BG/NBD parameters within 0.1 % of lifetimes' (largest {worst:.1e} %)", worst <= 0.1),
        (f"BG/NBD fit at most 1.5x lifetimes' time ({ratio:.2f}x)", ratio <= 1.5),
    ]


def transactions(count: int, customers: int) -> pd.DataFrame:
    rng = np.random.default_rng(20240101)
    start = np.datetime64("2022-01-01T00:00:00", "s").astype("int64")
    seconds = start + rng.integers(0, 2 * 365 * 86_400, count)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, customers, count),
            "date": pd.to_datetime(seconds, unit="s"),
            "amount": np.round(rng.gamma(2.0, 20.0, count), 2),
        }
    )


def part_rfm(count: int, customers: int, repeat: int) -> list[Goal]:
    data = transactions(count, customers)
    print(
        f"\nrfm_summary on {count:,} transactions ({data['customer_id'].nunique():,} customers,"
        f" 2 years, days; best of {repeat})"
    )
    goals: list[Goal] = []
    for money in ("amount", None):
        (ours_time, ours), (theirs_time, theirs) = best(
            [
                lambda money=money: rfm_summary(
                    data,
                    customer_id_col="customer_id",
                    datetime_col="date",
                    monetary_value_col=money,
                ),
                lambda money=money: summary_data_from_transaction_data(
                    data, "customer_id", "date", monetary_value_col=money
                ),
            ],
            repeat,
        )
        ratio = theirs_time / ours_time
        label = "with amounts" if money else "without amounts"
        print(
            f"   {label:<16} ours {ours_time:.3f} s, lifetimes {theirs_time:.3f} s"
            f" (lifetimes / ours {ratio:.1f}x)"
        )
        same = (
            theirs.index.equals(ours.index)
            and list(theirs.columns) == list(ours.columns)
            and all(theirs[c].equals(ours[c]) for c in ("frequency", "recency", "T"))
        )
        if money:
            exact = float((theirs["monetary_value"] == ours["monetary_value"]).mean())
            relative = float(
                np.max(
                    np.abs(ours["monetary_value"] - theirs["monetary_value"])
                    / np.maximum(np.abs(theirs["monetary_value"]), 1e-300)
                )
            )
            print(
                f"   {'':<16} monetary_value: {exact:.1%} bit-identical,"
                f" largest relative difference {relative:.1e}"
            )
            same = same and relative <= 1e-12
        goals.append((f"check: {label}: the same summary as lifetimes: {same}", same))
        goals.append(
            (f"rfm_summary {label} at least 8x faster than lifetimes ({ratio:.1f}x)", ratio >= 8)
        )
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--transactions", type=int, default=1_000_000, help="synthetic transactions"
    )
    parser.add_argument("--customers", type=int, default=None, help="customers (a tenth)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (best kept)")
    args, _ = parser.parse_known_args()
    customers = args.customers or max(1, args.transactions // 10)
    print(
        f"Customer value: omnichannel vs lifetimes {lifetimes.__version__};"
        f" pandas {pd.__version__}, Python {sys.version.split()[0]}"
    )
    goals = part_bgnbd(max(args.repeat, 10))
    goals += part_rfm(args.transactions, customers, args.repeat)
    print("\nGoals")
    for text, met in goals:
        print(f"   {'met' if met else 'MISSED':<8}{text}")
    if any(text.startswith("check:") for text, met in goals if not met):
        sys.exit(1)


if __name__ == "__main__":
    main()
