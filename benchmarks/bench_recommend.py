"""Recommendation speed: a co-occurrence model learned once, beside counting at every call.

Run with ``nox -s bench`` (or ``python benchmarks/bench_recommend.py``).
The data are 100,000 orders over the synthetic shop's 200 products
(`retail_catalogue`), drawn the way `synthetic_retail` draws them: each
shopper has two favourite categories, most items come from those, the rest
by popularity, one to six items an order; every product also has a
companion in another category that goes in the basket with it a third of
the time (socks with shoes), which is what the model should find. The
simulation itself makes about 1,400 orders a second, too slow for 100,000
here.

Two parts, all contestants on the same data in the same run:

1. Learning: `learn_cooccurrence` beside a pandas self-join (explode the
   baskets to rows, merge on the basket, count the pairs), if pandas is
   installed. Both must find the same pair counts.
2. Recommending for ``--profiles`` shoppers (seeds: three products viewed;
   exclusions: two bought): `CoOccurrence.recommend` beside two ways
   without a model, which compute the same answer at each call (cosine,
   ``min_support`` and ``max_neighbours`` alike):

   - scan: count the seeds' co-occurrences over every basket (the naive
     way; timed on the first ``--scan-profiles`` shoppers only);
   - index: the same over only the baskets holding a seed, found in an
     inverted index built beforehand (not timed).

   Then `CoOccurrence.for_subject` on subjects holding 20 events each (the
   event dicts `omnichannel.segments.subject_of` makes).

Every contestant must return the same recommendations (a "check:" line;
the script exits non-zero if not).
"""

from __future__ import annotations

import argparse
import bisect
import collections
import heapq
import importlib.util
import itertools
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from omnichannel.datasets import retail_catalogue
from omnichannel.personalization._recommend import (
    CoOccurrence,
    Recommendation,
    learn_cooccurrence,
)

MIN_SUPPORT = 2
MAX_NEIGHBOURS = 50
K = 5


# --- data --------------------------------------------------------------------------------------


class Shop:
    """The catalogue by category, a popularity curve and a companion for every product."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        products = retail_catalogue()
        self.ids = [p["product_id"] for p in products]
        self.by_category: dict[str, list[str]] = collections.defaultdict(list)
        for p in products:
            self.by_category[p["category"]].append(p["product_id"])
        self.categories = sorted(self.by_category)
        weights = [1 / (rank + 1) ** 0.8 for rank in range(len(self.ids))]  # Zipf-like
        self.rnd.shuffle(self.ids)
        self.popular = list(itertools.accumulate(weights))
        self.companion = {}
        for category, ids in self.by_category.items():
            others = [c for c in self.categories if c != category]
            for pid in ids:
                self.companion[pid] = self.rnd.choice(self.by_category[self.rnd.choice(others)])

    def favourites(self) -> list[str]:
        return self.rnd.sample(self.categories, 2)

    def pick(self, favourites: list[str]) -> str:
        if self.rnd.random() < 0.7:
            return self.rnd.choice(self.by_category[self.rnd.choice(favourites)])
        at = bisect.bisect_right(self.popular, self.rnd.random() * self.popular[-1])
        return self.ids[min(at, len(self.ids) - 1)]

    def basket(self, favourites: list[str]) -> list[str]:
        size = self.rnd.choices([1, 2, 3, 4, 5, 6], weights=[45, 29, 20, 3, 2, 1])[0]
        items: list[str] = []
        while len(items) < size:
            item = self.pick(favourites)
            items.append(item)
            if self.rnd.random() < 1 / 3:
                items.append(self.companion[item])
        return items


def make_orders(shop: Shop, count: int) -> list[list[str]]:
    """``count`` orders, shoppers placing one to five each."""
    orders: list[list[str]] = []
    while len(orders) < count:
        favourites = shop.favourites()
        orders += [shop.basket(favourites) for _ in range(shop.rnd.randint(1, 5))]
    return orders[:count]


def make_profiles(shop: Shop, count: int) -> list[tuple[list[str], list[str]]]:
    """``count`` shoppers: three products viewed (the seeds) and two bought (left out)."""
    profiles = []
    for _ in range(count):
        favourites = shop.favourites()
        profiles.append(
            ([shop.pick(favourites) for _ in range(3)], [shop.pick(favourites) for _ in range(2)])
        )
    return profiles


def subject(seeds: list[str], bought: list[str], filler: int) -> dict[str, Any]:
    """A subject as `subject_of` builds it: page views and emails around the product events."""
    events: list[dict[str, Any]] = [
        {"event": "Order Completed", "properties": {"products": [{"product_id": i}]}}
        for i in bought
    ]
    events += [{"event": "Email Opened", "properties": {"campaign": "spring"}}] * filler
    events += [{"event": "Product Viewed", "properties": {"product_id": i}} for i in seeds]
    return {"profile_id": "p", "state": {}, "events": events}


# --- without a model ---------------------------------------------------------------------------


def answer(
    counts: dict[str, int],
    together: dict[str, collections.Counter[str]],
    seeds: Sequence[str],
    exclude: Sequence[str],
) -> tuple[Recommendation, ...]:
    """What `CoOccurrence.recommend` answers, from raw counts: the same rules, step by step."""
    skip = set(exclude) | set(seeds)
    scores: dict[str, float] = {}
    reasons: dict[str, list[tuple[float, str]]] = {}
    for seed in sorted(set(seeds)):
        candidates = [
            (other, n / math.sqrt(counts[seed] * counts[other]))
            for other, n in together.get(seed, collections.Counter()).items()
            if n >= MIN_SUPPORT
        ]
        for other, score in heapq.nsmallest(
            MAX_NEIGHBOURS, candidates, key=lambda c: (-c[1], c[0])
        ):
            if other not in skip:
                scores[other] = scores.get(other, 0.0) + score
                reasons.setdefault(other, []).append((-score, seed))
    best = heapq.nsmallest(K, scores.items(), key=lambda c: (-c[1], c[0]))
    return tuple(
        Recommendation(item_id=i, score=s, because=tuple(x for _, x in sorted(reasons[i])))
        for i, s in best
    )


def by_scan(
    baskets: list[frozenset[str]], counts: dict[str, int]
) -> Callable[[Sequence[str], Sequence[str]], tuple[Recommendation, ...]]:
    """Count the seeds' co-occurrences over every basket, at every call."""

    def run(seeds: Sequence[str], exclude: Sequence[str]) -> tuple[Recommendation, ...]:
        wanted = set(seeds)
        together: dict[str, collections.Counter[str]] = {s: collections.Counter() for s in wanted}
        for basket in baskets:
            for seed in wanted & basket:
                together[seed].update(basket - {seed})
        return answer(counts, together, seeds, exclude)

    return run


def by_index(
    baskets: list[frozenset[str]], counts: dict[str, int]
) -> Callable[[Sequence[str], Sequence[str]], tuple[Recommendation, ...]]:
    """Count the seeds' co-occurrences over the baskets holding them (an inverted index)."""
    holding: dict[str, list[int]] = collections.defaultdict(list)
    for n, basket in enumerate(baskets):
        for item in basket:
            holding[item].append(n)

    def run(seeds: Sequence[str], exclude: Sequence[str]) -> tuple[Recommendation, ...]:
        together: dict[str, collections.Counter[str]] = {}
        for seed in set(seeds):
            counter = together[seed] = collections.Counter()
            for n in holding.get(seed, ()):
                counter.update(baskets[n])
            del counter[seed]
        return answer(counts, together, seeds, exclude)

    return run


def pandas_pairs(baskets: list[frozenset[str]]) -> dict[tuple[str, str], int]:
    """Pair counts by a self-join: one row per (basket, item), merged with itself on the basket."""
    import pandas as pd

    rows = pd.DataFrame(
        [(n, item) for n, basket in enumerate(baskets) for item in basket],
        columns=["basket", "item"],
    )
    pairs = rows.merge(rows, on="basket")
    pairs = pairs[pairs["item_x"] < pairs["item_y"]]
    sizes = pairs.groupby(["item_x", "item_y"]).size()
    sizes = sizes[sizes >= MIN_SUPPORT]
    return {(str(a), str(b)): int(n) for (a, b), n in sizes.items()}


# --- timing ------------------------------------------------------------------------------------


def timed(run: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def model_pairs(model: CoOccurrence) -> dict[tuple[str, str], int]:
    return {(a, b): n for a, others in model.neighbours.items() for b, n in others.items() if a < b}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=2_000)
    parser.add_argument("--scan-profiles", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    shop = Shop(seed=7)
    orders = make_orders(shop, args.orders)
    profiles = make_profiles(shop, args.profiles)
    baskets = [frozenset(o) for o in orders]
    checks: list[tuple[str, bool]] = []

    print(
        f"co-occurrence recommendations: {len(orders):,} orders "
        f"({sum(map(len, baskets)) / len(baskets):.2f} distinct items each) over "
        f"{len(shop.ids)} products, median of {args.rounds} rounds"
    )
    # 1. learning
    learn_s, model = timed(lambda: learn_cooccurrence(orders), args.rounds)
    print(f"\n1. learning: {model!r}")
    print(f"   {'what':<34}{'seconds':>10}{'vs ours':>10}")
    print(f"   {'learn_cooccurrence()':<34}{learn_s:>10.3f}{1:>9.2f}x")
    if importlib.util.find_spec("pandas"):
        pandas_s, pairs = timed(lambda: pandas_pairs(baskets), args.rounds)
        name = "pandas self-join (pair counts only)"
        print(f"   {name:<34}{pandas_s:>10.3f}{pandas_s / learn_s:>9.2f}x")
        # The model keeps each item's best MAX_NEIGHBOURS; compare where nothing was cut.
        kept = model_pairs(model)
        full = {p: n for p, n in pairs.items() if p in kept}
        checks.append(("pandas finds the same counts for the pairs the model keeps", full == kept))
    else:
        print("   pandas is not installed: skipping the self-join")

    # 2. recommending
    counts = dict(model.counts)
    index = by_index(baskets, counts)
    scan = by_scan(baskets, counts)
    ours_s, ours = timed(
        lambda: [model.recommend(s, exclude=x, k=K) for s, x in profiles], args.rounds
    )
    index_s, indexed = timed(lambda: [index(s, x) for s, x in profiles], args.rounds)
    few = profiles[: args.scan_profiles]
    scan_s, scanned = timed(lambda: [scan(s, x) for s, x in few], 1)
    subjects = [subject(s, x, filler=15) for s, x in profiles]
    subject_s, from_subjects = timed(
        lambda: [model.for_subject(s, k=K) for s in subjects], args.rounds
    )
    per_call = {
        "CoOccurrence.recommend()": ours_s / len(profiles),
        "CoOccurrence.for_subject() (20 events)": subject_s / len(profiles),
        "no model: inverted index per call": index_s / len(profiles),
        "no model: scan every basket per call": scan_s / len(few),
    }
    base = per_call["CoOccurrence.recommend()"]
    print(f"\n2. recommending for {len(profiles):,} shoppers (scan: the first {len(few)})")
    print(f"   {'what':<40}{'µs/call':>12}{'calls/s':>12}{'vs ours':>10}")
    for name, seconds in per_call.items():
        print(f"   {name:<40}{seconds * 1e6:>12,.1f}{1 / seconds:>12,.0f}{seconds / base:>9.1f}x")
    checks.append(("the inverted index answers as the model does", indexed == ours))
    checks.append(("the scan answers as the model does", scanned == ours[: len(few)]))
    checks.append(("for_subject answers as recommend does", from_subjects == ours))
    checks.append(("every shopper gets recommendations", all(ours)))
    break_even = learn_s / max(per_call["no model: inverted index per call"] - base, 1e-12)
    print(f"   learning pays for itself after {break_even:,.0f} calls against the inverted index")

    companion_first = sum(
        1
        for item, companion in shop.companion.items()
        if model.similar(item, k=1)[:1] and model.similar(item, k=1)[0].item_id == companion
    )
    print(
        f"\n   the planted companion is the top neighbour of {companion_first} "
        f"of {len(shop.companion)} products"
    )
    failed = [name for name, ok in checks if not ok]
    for name, ok in checks:
        print(f"check: {name}: {'ok' if ok else 'FAILED'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
