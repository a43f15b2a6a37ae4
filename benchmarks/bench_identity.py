"""Identity resolution speed: 1M identifier links, ours beside a plain union-find and scipy.

Run with ``nox -s bench`` (or ``python benchmarks/bench_identity.py``). The
links look like a shop's: most people have an anonymous id, some log in
(user id, email), a few have a phone, a device or a loyalty card; every link
joins two identifiers of one person. All contestants get the same links in
the same run:

- plain: a textbook Python union-find over the identifier strings;
- ours: `omnichannel.identity.resolve` (canonical order, merge policy, log);
- ours in bulk: `omnichannel.identity.resolve_bulk`, fed the same links as
  columns (identifier strings, a ``datetime64`` column, message ids) under the
  *default* policy, so the limits are really checked; timed from the columns
  to the finished `BulkResolution` (skipped if the ``bulk`` extra is missing);
- scipy: ``pandas.factorize`` to integers, then
  ``scipy.sparse.csgraph.connected_components`` (skipped if not installed).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import pendulum

from omnichannel.identity import Link, MergePolicy, resolve, resolve_bulk
from omnichannel.models import Identity

T0 = pendulum.datetime(2024, 1, 1)


def make_links(
    count: int, seed: int
) -> tuple[list[tuple[str, str]], list[Link], dict[Identity, tuple[pendulum.DateTime, str]]]:
    """``count`` links among people with 2-5 identifiers each, as strings and as Links."""
    rnd = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    links: list[Link] = []
    first: dict[Identity, tuple[pendulum.DateTime, str]] = {}
    person = 0
    while len(pairs) < count:
        person += 1
        kinds = ["anonymous_id", "user_id", "email", "device_id", "loyalty_id"][: rnd.randint(2, 5)]
        ids = [
            Identity(kind=k, value=f"{k[0]}{person}@x.io" if k == "email" else f"{k[0]}{person}")
            for k in kinds
        ]
        at = T0.add(seconds=person)
        for identity in ids:
            first[identity] = (at, f"m{person}")
        for other in ids[1:]:
            pairs.append((str(ids[0]), str(other)))
            links.append(Link(a=ids[0], b=other, at=at, message_id=f"m{person}"))
    return pairs[:count], links[:count], first


def plain_union_find(pairs: list[tuple[str, str]]) -> int:
    """The baseline: union-find with path halving over the strings themselves."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    return len({find(x) for x in parent})


def scipy_components(pairs: list[tuple[str, str]]) -> int:
    """Factorize the strings to integers (pandas), then scipy's connected components."""
    import numpy as np
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    flat = np.array([x for pair in pairs for x in pair], dtype=object)
    codes, uniques = pd.factorize(flat)
    a, b = codes[0::2], codes[1::2]
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(len(uniques), len(uniques)))
    count, _ = connected_components(graph, directed=False)
    return int(count)


def bulk_columns(pairs: list[tuple[str, str]], links: list[Link]) -> dict[str, Any]:
    """The links as `resolve_bulk` takes them: string columns and a datetime64 column."""
    import numpy as np

    return {
        "a": [a for a, _ in pairs],
        "b": [b for _, b in pairs],
        "at": np.array([link.at.naive() for link in links], dtype="datetime64[us]"),
        "message_id": [link.message_id for link in links],
    }


def timed(run: Callable[[], int], rounds: int) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pairs, links, first = make_links(args.links, seed=1)
    policy = MergePolicy(limits={})  # the same problem as the others: no limits to enforce
    results = {
        "plain union-find (strings)": timed(lambda: plain_union_find(pairs), args.rounds),
        "omnichannel resolve()": timed(
            lambda: len(resolve(first_seen=first, links=links, policy=policy).profiles), args.rounds
        ),
    }
    if all(importlib.util.find_spec(name) for name in ("numpy", "scipy", "pyarrow")):
        columns = bulk_columns(pairs, links)
        results["omnichannel resolve_bulk()"] = timed(
            lambda: resolve_bulk(**columns).profile_count, args.rounds
        )
        # The same, then every profile id too (they are computed when first asked for).
        results["  ... and its profile ids"] = timed(
            lambda: len(resolve_bulk(**columns).profile_ids()), args.rounds
        )
    else:
        print("the bulk extra (numpy, scipy, pyarrow) is not installed: skipping resolve_bulk()")
    try:
        results["scipy + pandas.factorize"] = timed(lambda: scipy_components(pairs), args.rounds)
    except ImportError:
        print("scipy/pandas not installed: skipping that peer")
    base = results["plain union-find (strings)"][0]
    print(f"identity resolution: {len(pairs):,} links, median of {args.rounds} rounds")
    print(f"{'what':<30}{'seconds':>10}{'speed vs plain':>17}{'components':>12}")
    for name, (seconds, components) in results.items():
        print(f"{name:<30}{seconds:>10.3f}{base / seconds:>16.2f}x{components:>12,}")
    bulk, peer = results.get("omnichannel resolve_bulk()"), results.get("scipy + pandas.factorize")
    if bulk and peer:
        ratios = f"{bulk[0] / base:.2f} of plain's time, {bulk[0] / peer[0]:.2f} of scipy's"
        print(f"resolve_bulk(): {ratios}")


if __name__ == "__main__":
    main()
