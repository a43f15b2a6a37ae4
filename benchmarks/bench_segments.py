"""Segment speed: memberships kept current per event, in bulk on DuckDB, and by the clock.

Run with ``nox -s bench`` (or ``python benchmarks/bench_segments.py``). The
defaults are sized for CI (a few minutes on 2 cores); the issue's full-size
figures come from

    python benchmarks/bench_segments.py --parts batch,refresh \\
        --profiles 1000000 --events 10000000 --refresh-profiles 100000

Three parts, all in one run:

1. Real time: synthetic shop events (`synthetic_retail`, Segment payloads,
   parsing included), in timestamp order, into an Engine on a MemoryStore
   that keeps 100 segments current (16 on traits, 16 on computed state, 28
   "did X lately" windows on as many event names, 15 counts and filters, 8
   aggregates, 9 sequences, 8 references to other segments). Beside it, in
   the same run, on the same events: the Engine with no segments; and the
   Engine with no segments followed, for every profile an ingest touched,
   by what a server without a dependency index does: rebuild the subject
   with the profile's events and evaluate all 100 rules, either with
   `Segmentation.evaluate` (``everything=True``: the same work per segment
   as the indexed Engine, timers included) or as the 100 bare compiled
   predicates. Both ``ingest`` (one event per transaction) and
   ``ingest_many`` (500 per transaction). All segment keepers must end with
   the same memberships. People scale with ``--live-events`` (50 events
   each), so the history per person, which sets the cost per event, is the
   same at any size.
2. Batch: 20 segments over a ``profiles`` and an ``events`` table in
   Parquet, generated with numpy (people of skewed activity, events over
   the last 90 days in time order). `batch_members` (rules compiled by
   `to_sql`, run in reference order on DuckDB) beside the same 20 questions
   written by hand in DuckDB SQL (GROUP BY / HAVING, EXCEPT, IN, joins) over
   the same files, median of ``--rounds`` runs taken in turns after a
   warm-up; every segment must hold the same profiles.
3. Refresh: every person ordered once in the 24 hours before now; 10
   segments "ordered within k days" (k = 1..10), so each is in all 10 and
   carries 10 timers, spread evenly over the next 10 days. `Engine.refresh`
   is timed when 1 % of the timers are due, when 10x as many are due, and
   with the first run's due count in a population 10x smaller; on a
   MemoryStore and on a SQLiteStore.

Goals (issue: Step 4): with 100 segments, ingest >= 10,000 events/s and
>= 5x re-evaluating every segment per event; batch over 1M profiles and 10M
events in < 30 s and within 1.5x of the hand-written SQL; refresh costs per
timer due, not per profile held. The script exits non-zero if contestants
disagree on members (a "check:" line).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pendulum

from omnichannel.clock import FixedClock
from omnichannel.datasets import synthetic_retail
from omnichannel.engine import Engine, IngestResult
from omnichannel.rules import (
    Predicate,
    Rule,
    Schema,
    compile_rule,
    did,
    did_not,
    field,
    in_segment,
    local,
    prop,
    state,
    trait,
)
from omnichannel.segments import Evaluation, Segment, Segmentation, batch_members, subject_of
from omnichannel.store import MemoryStore, SQLiteStore

Goal = tuple[str, bool]
UTC = dt.timezone.utc


def table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
    """Print rows under a header: the first column left-aligned, the others right-aligned."""

    def line(cells: Sequence[str]) -> str:
        first = f"   {cells[0]:<{widths[0]}}"
        return first + "".join(f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))

    print(line(header))
    for row in rows:
        print(line(row))


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    iterator = iter(items)
    return list(iter(lambda: list(itertools.islice(iterator, size)), []))


# --- 1. real time -----------------------------------------------------------------------------

COUNTRIES = ["US", "DE", "GB", "FR", "BR", "JP", "AU"]
CITIES = ["Berlin", "London", "Paris", "Tokyo", "New York", "São Paulo"]
CATEGORIES = ["Shoes", "Beauty", "Electronics", "Outerwear"]
# Event names of `synthetic_retail`, with the window of the "did it lately" segment of each.
WINDOWS = {
    "Page Viewed": 1,
    "Screen Viewed": 1,
    "Product Viewed": 1,
    "Product Added": 7,
    "Product Removed": 7,
    "Cart Viewed": 7,
    "Checkout Started": 7,
    "Order Completed": 30,
    "Order Refunded": 30,
    "Order Ready for Pickup": 7,
    "Order Picked Up": 30,
    "Products Searched": 7,
    "Email Delivered": 7,
    "Email Opened": 14,
    "Email Link Clicked": 30,
    "Unsubscribed": 90,
    "SMS Delivered": 14,
    "Push Notification Received": 7,
    "Push Notification Tapped": 30,
    "Application Opened": 7,
    "Application Installed": 90,
    "Signed Up": 30,
    "Signed In": 14,
    "Store Visited": 30,
    "Loyalty Points Earned": 30,
    "Loyalty Points Redeemed": 90,
    "Survey Answered": 90,
    "Consent Granted": 90,
}


def slug(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in text.lower()).strip("_")


def live_segments() -> list[Segment]:
    """100 segments of the kinds a shop defines, over what `synthetic_retail` sends."""
    rules: dict[str, Rule] = {}
    # Traits (16).
    for country in COUNTRIES:
        rules[f"country_{country.lower()}"] = trait("country") == country
    for city in CITIES:
        rules[f"city_{slug(city)}"] = field("traits.address.city") == city
    rules["loyalty_members"] = trait("loyalty_id").exists()
    rules["english_locale"] = trait("locale").starts_with("en-")
    rules["birthday_week"] = trait("birthday").anniversary_within(days=7)
    # Computed state (16).
    rules["orders_1"] = state("orders") >= 1
    rules["orders_2"] = state("orders") >= 2
    rules["orders_3"] = state("orders") >= 3
    rules["never_ordered"] = state("orders") == 0
    rules["points_500"] = state("points") >= 500
    rules["points_2000"] = state("points") >= 2000
    rules["cart_open"] = state("cart_items") >= 1
    rules["three_channels"] = state("channel_count") >= 3
    rules["identified"] = state("identified") == True  # noqa: E712 - builds a rule
    rules["seen_7d"] = state("last_seen").within_last(days=7)
    rules["lapsed_30d"] = state("last_order").older_than(days=30)
    rules["usd_100"] = state("revenue.USD") > 100
    rules["eur_100"] = state("revenue.EUR") > 100
    rules["regular_cadence"] = state("order_gap_days") <= 21
    rules["app_7d"] = state("channels.app.last_seen").within_last(days=7)
    rules["email_marketing_ok"] = state("consent.marketing.email") == "granted"
    # Did it lately, one per event name (28).
    for name, days in WINDOWS.items():
        rules[f"did_{slug(name)}_{days}d"] = did(name).within(days=days)
    # Counts and filters (15).
    rules["views_5_7d"] = did("Product Viewed").within(days=7).at_least(5)
    rules["pages_3_1d"] = did("Page Viewed").within(days=1).at_least(3)
    rules["screens_10_7d"] = did("Screen Viewed").within(days=7).at_least(10)
    rules["opens_3_30d"] = did("Email Opened").within(days=30).at_least(3)
    rules["orders_2_30d"] = did("Order Completed").within(days=30).at_least(2)
    rules["store_2_60d"] = did("Store Visited").within(days=60).at_least(2)
    rules["app_opens_4_14d"] = did("Application Opened").within(days=14).at_least(4)
    rules["searches_3_7d"] = did("Products Searched").within(days=7).at_least(3)
    rules["no_order_60d"] = did_not("Order Completed").within(days=60)
    rules["email_ignorer"] = did_not("Email Opened").within(days=30) & did(
        "Email Delivered"
    ).within(days=30).at_least(3)
    for category in CATEGORIES:
        rules[f"viewed_{slug(category)}_30d"] = (
            did("Product Viewed").where(prop("category") == category).within(days=30).at_least(2)
        )
    rules["click_and_collect"] = (
        did("Order Completed").where(prop("fulfillment") == "click_and_collect").within(days=90)
    )
    # Aggregates (8).
    orders_90d = did("Order Completed").within(days=90)
    rules["spend_100_90d"] = orders_90d.sum("properties.revenue") > 100
    rules["spend_500_90d"] = orders_90d.sum("properties.revenue") > 500
    rules["big_basket"] = orders_90d.max("properties.total") > 200
    rules["pricey_browser"] = did("Product Viewed").within(days=30).avg("properties.price") > 100
    rules["three_categories"] = (
        did("Product Viewed").within(days=30).count_distinct("properties.category") >= 3
    )
    rules["points_earned_500"] = (
        did("Loyalty Points Earned").within(days=90).sum("properties.points") >= 500
    )
    rules["detractor"] = did("Survey Answered").within(days=90).min("properties.score") <= 6
    rules["two_stores"] = (
        did("Store Visited").within(days=90).count_distinct("properties.store_id") >= 2
    )
    # Sequences (9).
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    rules["cart_abandon_24h"] = (
        did("Product Added").within(hours=24).not_followed_by("Order Completed")
    )
    rules["cart_abandon_7d"] = (
        did("Product Added").within(days=7).not_followed_by("Order Completed")
    )
    rules["checkout_abandon"] = (
        did("Checkout Started").within(days=3).not_followed_by("Order Completed", within=hour)
    )
    rules["email_converter"] = (
        did("Email Opened").within(days=30).followed_by("Order Completed", within=3 * day)
    )
    rules["push_converter"] = (
        did("Push Notification Tapped").within(days=30).followed_by("Order Completed", within=day)
    )
    rules["browse_abandon"] = did("Product Viewed").within(days=1).not_followed_by("Product Added")
    rules["search_no_view"] = (
        did("Products Searched").within(days=7).not_followed_by("Product Viewed", within=hour)
    )
    rules["refunded"] = did("Order Completed").within(days=90).followed_by("Order Refunded")
    rules["pickup_pending"] = (
        did("Order Ready for Pickup").within(days=14).not_followed_by("Order Picked Up")
    )
    # References to other segments (8).
    rules["de_repeat_buyers"] = in_segment("country_de") & in_segment("orders_2_30d")
    rules["vip"] = in_segment("spend_500_90d") & in_segment("orders_3")
    rules["win_back"] = in_segment("orders_2") & in_segment("no_order_60d")
    rules["abandon_email"] = in_segment("cart_abandon_24h") & in_segment("email_marketing_ok")
    rules["loyal_shoppers"] = in_segment("loyalty_members") & in_segment("two_stores")
    rules["vip_at_risk"] = in_segment("vip") & in_segment("lapsed_30d")
    rules["eu_engaged"] = (in_segment("country_de") | in_segment("country_fr")) & in_segment(
        "seen_7d"
    )
    rules["app_office_hours"] = in_segment("app_7d") & local("hour").between(9, 17)
    assert len(rules) == 100, len(rules)
    return [Segment(key=key, name=key.replace("_", " "), rule=rule) for key, rule in rules.items()]


NONE = "no segments"
INDEXED = "100 segments, indexed"
EVERYTHING = "re-evaluate all 100 (evaluate)"
LEAN = "re-evaluate all 100 (predicates)"


def plain(at: dt.datetime) -> dt.datetime:
    """A standard-library UTC datetime (pendulum's arithmetic is Python, not C)."""
    utc = at.astimezone(UTC)
    return dt.datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=UTC)


def reevaluate_all(
    engine: Engine,
    segmentation: Segmentation,
    results: list[IngestResult],
    members: dict[str, frozenset[str]],
    tests: list[tuple[str, Predicate]] | None,
) -> int:
    """What a server without a dependency index does: every rule, for every profile touched.

    The subject is rebuilt with the profile's events; then either
    `Segmentation.evaluate` runs every segment (``everything=True``: the same
    work per segment as the indexed Engine, timers included) or, given
    ``tests``, the 100 compiled predicates run in reference order and nothing else.
    """
    now = engine.clock.now()
    touched = {r.profile_id for r in results if r.profile_id is not None}
    for result in results:
        for absorbed in result.merged:
            members.pop(absorbed, None)
    for profile_id in touched:
        profile_state = engine.state(profile_id)
        with engine.store.transaction() as tx:
            row = tx.profile(profile_id)
            events = [] if row is None else tx.events_of(row.identities)
        if row is None or profile_state is None:  # merged into another later in the batch
            members.pop(profile_id, None)
            continue
        current = members.get(profile_id, frozenset())
        subject = subject_of(
            profile_id, profile_state, segments=current, events=events, identities=row.identities
        )
        if tests is not None:
            held: set[str] = set()
            document, at = {**subject, "segments": held}, plain(now)
            for key, test in tests:
                if test(document, at):
                    held.add(key)
            members[profile_id] = frozenset(held)
        else:
            members[profile_id] = segmentation.evaluate(
                profile_id, subject, now, current, everything=True
            ).members
    return len(touched) * len(segmentation)


def live_run(
    payloads: list[dict[str, Any]], now: pendulum.DateTime, kind: str, batch: int
) -> tuple[float, float, dict[str, set[str]]]:
    """Events/s, rules evaluated per event, and the members of each segment at the end."""
    clock = FixedClock(now)
    segmentation = Segmentation(live_segments())
    tests = [(s.key, compile_rule(s.rule)) for s in segmentation.segments] if kind == LEAN else None
    evaluated = [0]
    members: dict[str, frozenset[str]] = {}
    if kind == INDEXED:
        engine = Engine(MemoryStore(), clock=clock, segments=segmentation)
        evaluate = segmentation.evaluate

        def counting(*args: Any, **kwargs: Any) -> Evaluation:
            result = evaluate(*args, **kwargs)
            evaluated[0] += result.evaluated
            return result

        segmentation.evaluate = counting  # type: ignore[method-assign]
    else:
        engine = Engine(MemoryStore(), clock=clock)
    parts = chunks(payloads, batch)
    gc.collect()
    start = time.perf_counter()
    for part in parts:
        results = [engine.ingest(part[0])] if batch == 1 else engine.ingest_many(part)
        if kind in (EVERYTHING, LEAN):
            evaluated[0] += reevaluate_all(engine, segmentation, results, members, tests)
    seconds = time.perf_counter() - start
    found: dict[str, set[str]] = {s.key: set() for s in segmentation.segments}
    if kind == INDEXED:
        found = {key: set(engine.members(key)) for key in found}
    else:
        alive = set(engine.store.profile_ids())
        for profile_id, keys in members.items():
            for key in keys:
                if profile_id in alive:
                    found[key].add(profile_id)
    return len(payloads) / seconds, evaluated[0] / len(payloads), found


def part_live(count: int) -> list[Goal]:
    people = max(50, count // 50)
    payloads = synthetic_retail(people, 90, 7)
    while len(payloads) < count:
        people *= 2
        payloads = synthetic_retail(people, 90, 7)
    payloads = payloads[:count]
    now = pendulum.parse(payloads[-1]["timestamp"]).add(minutes=1)
    assert isinstance(now, pendulum.DateTime)
    print(
        f"\n1. Real time: {len(payloads):,} synthetic events from {people:,} people "
        "into a MemoryStore Engine (parsing included)"
    )
    rows, goals, rate = [], [], {}
    mismatches = []
    kinds = (NONE, INDEXED, EVERYTHING, LEAN)
    for batch in (1, 500):
        how = "ingest()" if batch == 1 else f"ingest_many({batch})"
        answers, rules = {}, {}
        for kind in kinds:
            rate[kind, batch], rules[kind], answers[kind] = live_run(payloads, now, kind, batch)
        for kind in kinds:
            speed = rate[kind, batch]
            versus = "" if kind == NONE else f"{rate[INDEXED, batch] / speed:.2f}x"
            ran = "" if kind == NONE else f"{rules[kind]:,.1f}"
            rows.append([f"{how}: {kind}", f"{speed:,.0f}", ran, versus])
        for kind in (EVERYTHING, LEAN):
            for key, ids in answers[INDEXED].items():
                if ids != answers[kind][key]:
                    mismatches.append(
                        f"{how}: {key}: indexed {len(ids):,}, {kind} {len(answers[kind][key]):,}"
                    )
    table(
        ["Engine on a MemoryStore", "events/s", "rules/event", "indexed is"],
        rows,
        [51, 10, 13, 12],
    )
    members = sum(len(ids) for ids in answers[INDEXED].values())
    print(f"   {members:,} memberships at the end; indexed and re-evaluated agree: ", end="")
    print("yes" if not mismatches else "NO")
    for line in mismatches:
        print(f"   DIFFERENT MEMBERS {line}")
    for batch in (1, 500):
        how = "ingest()" if batch == 1 else f"ingest_many({batch})"
        indexed, everything = rate[INDEXED, batch], rate[EVERYTHING, batch]
        goals.append((f"live, {how}: >= 10,000 events/s ({indexed:,.0f})", indexed >= 10_000))
        goals.append(
            (
                (
                    f"live, {how}: >= 5x re-evaluating all ({indexed / everything:.2f}x; "
                    f"{indexed / rate[LEAN, batch]:.2f}x the bare predicates)"
                ),
                indexed >= 5 * everything,
            )
        )
    if mismatches:
        goals.append(("check: indexed and re-evaluated memberships are equal", False))
    return goals


# --- 2. batch ---------------------------------------------------------------------------------

BATCH_NOW = dt.datetime(2030, 1, 1, tzinfo=UTC)
EVENT_NAMES = [
    "Product Viewed",
    "Page Viewed",
    "Product Added",
    "Email Opened",
    "Checkout Started",
    "Order Completed",
    "Product Removed",
]
EVENT_WEIGHTS = [40, 25, 12, 10, 6, 5, 2]
BATCH_COUNTRIES = ["US", "GB", "FR", "DE", "NL", "ES", "IT", "PL", "SE", "BR"]
COUNTRY_WEIGHTS = [30, 18, 12, 6, 6, 8, 8, 5, 4, 3]
ZONES = ["America/New_York", "Europe/London", "Europe/Paris", "Europe/Berlin", "UTC"]
PLANS = ["free", "plus", "pro"]
CHANNELS = ["web", "app", "email"]
SHOP_CATEGORIES = ["Shoes", "Clothing", "Outerwear", "Accessories", "Bags", "Beauty"]

BATCH_SCHEMA = Schema(
    fields={
        "traits.country": "text",
        "traits.age": "integer",
        "traits.plan": "text",
        "traits.vip": "bool",
        "traits.email_opt_in": "bool",
        "state.orders": "integer",
        "state.last_order": "instant",
        "state.last_seen": "instant",
    },
    event_fields={
        "properties.revenue": "number",
        "properties.price": "number",
        "properties.category": "text",
    },
)

BATCH_RULES: dict[str, Rule] = {
    "de": trait("country") == "DE",
    "adult_opt_in": (trait("email_opt_in") == True) & (trait("age") >= 21),  # noqa: E712
    "repeat_buyers": state("orders") >= 2,
    "vip_or_pro": (trait("vip") == True) | (trait("plan") == "pro"),  # noqa: E712
    "lapsed_60d": state("last_order").older_than(days=60),
    "active_7d": state("last_seen").within_last(days=7),
    "buyers_30d": did("Order Completed").within(days=30),
    "frequent_30d": did("Order Completed").within(days=30).at_least(2),
    "no_order_90d": did_not("Order Completed").within(days=90),
    "views_5_7d": did("Product Viewed").within(days=7).at_least(5),
    "shoes_2_30d": did("Product Viewed")
    .where(prop("category") == "Shoes")
    .within(days=30)
    .at_least(2),
    "revenue_200_90d": did("Order Completed").within(days=90).sum("properties.revenue") > 200,
    "pricey_browser": did("Product Viewed").within(days=30).avg("properties.price") > 150,
    "three_categories": did("Product Viewed").within(days=30).count_distinct("properties.category")
    >= 3,
    "cart_abandon": did("Product Added").within(hours=24).not_followed_by("Order Completed"),
    "checkout_abandon": did("Checkout Started")
    .within(days=7)
    .not_followed_by("Order Completed", within=dt.timedelta(hours=1)),
    "email_converts": did("Email Opened")
    .within(days=7)
    .followed_by("Order Completed", within=dt.timedelta(days=3)),
    "de_buyers": in_segment("de") & in_segment("buyers_30d"),
    "win_back": in_segment("repeat_buyers") & in_segment("no_order_90d"),
    "high_value": in_segment("revenue_200_90d")
    | (in_segment("frequent_30d") & in_segment("active_7d")),
}

# The same 20 questions as an analyst would write them: {now} is the instant of the run.
HAND_SQL = {
    "de": "SELECT profile_id FROM profiles WHERE traits__country = 'DE'",
    "adult_opt_in": (
        "SELECT profile_id FROM profiles WHERE traits__email_opt_in AND traits__age >= 21"
    ),
    "repeat_buyers": "SELECT profile_id FROM profiles WHERE state__orders >= 2",
    "vip_or_pro": "SELECT profile_id FROM profiles WHERE traits__vip OR traits__plan = 'pro'",
    "lapsed_60d": (
        "SELECT profile_id FROM profiles WHERE state__last_order < {now} - INTERVAL 60 DAY"
    ),
    "active_7d": """
        SELECT profile_id FROM profiles
        WHERE state__last_seen BETWEEN {now} - INTERVAL 7 DAY AND {now}""",
    "buyers_30d": """
        SELECT DISTINCT profile_id FROM events
        WHERE event = 'Order Completed' AND timestamp BETWEEN {now} - INTERVAL 30 DAY AND {now}""",
    "frequent_30d": """
        SELECT profile_id FROM events
        WHERE event = 'Order Completed' AND timestamp BETWEEN {now} - INTERVAL 30 DAY AND {now}
        GROUP BY profile_id HAVING count(*) >= 2""",
    "no_order_90d": """
        SELECT profile_id FROM profiles
        EXCEPT
        SELECT profile_id FROM events
        WHERE event = 'Order Completed' AND timestamp BETWEEN {now} - INTERVAL 90 DAY AND {now}""",
    "views_5_7d": """
        SELECT profile_id FROM events
        WHERE event = 'Product Viewed' AND timestamp BETWEEN {now} - INTERVAL 7 DAY AND {now}
        GROUP BY profile_id HAVING count(*) >= 5""",
    "shoes_2_30d": """
        SELECT profile_id FROM events
        WHERE event = 'Product Viewed' AND properties__category = 'Shoes'
          AND timestamp BETWEEN {now} - INTERVAL 30 DAY AND {now}
        GROUP BY profile_id HAVING count(*) >= 2""",
    "revenue_200_90d": """
        SELECT profile_id FROM events
        WHERE event = 'Order Completed' AND timestamp BETWEEN {now} - INTERVAL 90 DAY AND {now}
        GROUP BY profile_id HAVING sum(properties__revenue) > 200""",
    "pricey_browser": """
        SELECT profile_id FROM events
        WHERE event = 'Product Viewed' AND timestamp BETWEEN {now} - INTERVAL 30 DAY AND {now}
        GROUP BY profile_id HAVING avg(properties__price) > 150""",
    "three_categories": """
        SELECT profile_id FROM events
        WHERE event = 'Product Viewed' AND timestamp BETWEEN {now} - INTERVAL 30 DAY AND {now}
        GROUP BY profile_id HAVING count(DISTINCT properties__category) >= 3""",
    # The latest cart of the last 24 h after the latest order (if any).
    "cart_abandon": """
        SELECT profile_id FROM events
        WHERE event IN ('Product Added', 'Order Completed') AND timestamp <= {now}
        GROUP BY profile_id
        HAVING max(timestamp) FILTER (
                   WHERE event = 'Product Added' AND timestamp >= {now} - INTERVAL 24 HOUR)
               > coalesce(max(timestamp) FILTER (WHERE event = 'Order Completed'),
                          '-infinity'::TIMESTAMPTZ)""",
    # A checkout at least an hour old with no order in the hour after it.
    "checkout_abandon": """
        SELECT DISTINCT c.profile_id FROM events AS c
        WHERE c.event = 'Checkout Started'
          AND c.timestamp BETWEEN {now} - INTERVAL 7 DAY AND {now} - INTERVAL 1 HOUR
          AND NOT EXISTS (
              SELECT 1 FROM events AS o
              WHERE o.profile_id = c.profile_id AND o.event = 'Order Completed'
                AND o.timestamp > c.timestamp AND o.timestamp <= c.timestamp + INTERVAL 1 HOUR
                AND o.timestamp <= {now})""",
    "email_converts": """
        SELECT DISTINCT m.profile_id
        FROM events AS m JOIN events AS o ON o.profile_id = m.profile_id
        WHERE m.event = 'Email Opened' AND m.timestamp BETWEEN {now} - INTERVAL 7 DAY AND {now}
          AND o.event = 'Order Completed' AND o.timestamp <= {now}
          AND o.timestamp > m.timestamp AND o.timestamp <= m.timestamp + INTERVAL 3 DAY""",
    "de_buyers": """
        SELECT profile_id FROM profiles
        WHERE traits__country = 'DE' AND profile_id IN (
            SELECT profile_id FROM events
            WHERE event = 'Order Completed'
              AND timestamp BETWEEN {now} - INTERVAL 30 DAY AND {now})""",
    "win_back": """
        SELECT profile_id FROM profiles WHERE state__orders >= 2
        EXCEPT
        SELECT profile_id FROM events
        WHERE event = 'Order Completed' AND timestamp BETWEEN {now} - INTERVAL 90 DAY AND {now}""",
    "high_value": """
        SELECT profile_id FROM events
        WHERE event = 'Order Completed' AND timestamp BETWEEN {now} - INTERVAL 90 DAY AND {now}
        GROUP BY profile_id HAVING sum(properties__revenue) > 200
        UNION
        (SELECT profile_id FROM events
         WHERE event = 'Order Completed' AND timestamp BETWEEN {now} - INTERVAL 30 DAY AND {now}
         GROUP BY profile_id HAVING count(*) >= 2
         INTERSECT
         SELECT profile_id FROM profiles
         WHERE state__last_seen BETWEEN {now} - INTERVAL 7 DAY AND {now})""",
}


def write_tables(profiles: int, events: int, folder: Path, seed: int = 11) -> tuple[str, str]:
    """Parquet files of ``profiles`` people and ``events`` events in the schema's layout."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    now_us = int(BATCH_NOW.timestamp()) * 1_000_000
    day_us = 86_400 * 1_000_000
    ids = pa.array([f"p{n:08d}" for n in range(profiles)])
    # Events: a few very active people, 90 days, stored in time order as a log is.
    activity = rng.gamma(0.8, 1.0, profiles)
    counts = rng.multinomial(events, activity / activity.sum())
    owner = np.repeat(np.arange(profiles, dtype=np.int32), counts)
    ago = rng.integers(1_000_000, 90 * day_us, events)
    order = np.argsort(-ago, kind="stable")
    owner, ago = owner[order], ago[order]
    del order
    weights = np.array(EVENT_WEIGHTS) / sum(EVENT_WEIGHTS)
    name = rng.choice(len(EVENT_NAMES), events, p=weights).astype(np.int32)
    stamp = now_us - ago
    del ago
    ordered = name == EVENT_NAMES.index("Order Completed")
    product = np.isin(name, [EVENT_NAMES.index(n) for n in EVENT_NAMES if n.startswith("Product")])
    category = rng.integers(0, len(SHOP_CATEGORIES), events, dtype=np.int32)
    amount = np.round(rng.lognormal(3.8, 0.8, events), 2)

    def labels(codes: np.ndarray, names: list[str], mask: np.ndarray | None = None) -> Any:
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=mask), pa.array(names))

    event_table = pa.table(
        {
            "profile_id": pa.DictionaryArray.from_arrays(pa.array(owner), ids),
            "event": labels(name, EVENT_NAMES),
            "timestamp": pa.array(stamp, type=pa.timestamp("us", tz="UTC")),
            "channel": labels(rng.integers(0, 3, events, dtype=np.int32), CHANNELS),
            "properties__revenue": pa.array(amount * 3, mask=~ordered),
            "properties__price": pa.array(amount, mask=~product),
            "properties__category": labels(category, SHOP_CATEGORIES, ~product),
        }
    )
    events_path = str(folder / "events.parquet")
    pq.write_table(event_table, events_path)
    del event_table
    # Profiles: lifetime orders include those before the 90 days of events.
    recent = np.bincount(owner[ordered], minlength=profiles)
    last_order = np.full(profiles, -1, dtype=np.int64)
    np.maximum.at(last_order, owner[ordered], stamp[ordered])
    older = rng.poisson(0.8, profiles)
    before = now_us - 90 * day_us - rng.integers(0, 700 * day_us, profiles)
    last_order = np.where(last_order >= 0, last_order, np.where(older > 0, before, -1))
    last_seen = np.full(profiles, -1, dtype=np.int64)
    np.maximum.at(last_seen, owner, stamp)
    country_weights = np.array(COUNTRY_WEIGHTS) / sum(COUNTRY_WEIGHTS)
    profile_table = pa.table(
        {
            "profile_id": ids,
            "timezone": labels(rng.integers(0, len(ZONES), profiles, dtype=np.int32), ZONES),
            "traits__country": labels(
                rng.choice(len(BATCH_COUNTRIES), profiles, p=country_weights).astype(np.int32),
                BATCH_COUNTRIES,
            ),
            "traits__age": pa.array(
                rng.integers(16, 80, profiles), mask=rng.random(profiles) < 0.12
            ),
            "traits__plan": labels(
                rng.choice(3, profiles, p=[0.7, 0.2, 0.1]).astype(np.int32), PLANS
            ),
            "traits__vip": pa.array(rng.random(profiles) < 0.05),
            "traits__email_opt_in": pa.array(rng.random(profiles) < 0.75),
            "state__orders": pa.array(recent + older),
            "state__last_order": pa.array(
                last_order, type=pa.timestamp("us", tz="UTC"), mask=last_order < 0
            ),
            "state__last_seen": pa.array(
                last_seen, type=pa.timestamp("us", tz="UTC"), mask=last_seen < 0
            ),
        }
    )
    profiles_path = str(folder / "profiles.parquet")
    pq.write_table(profile_table, profiles_path)
    return profiles_path, events_path


def hand_members(profiles_path: str, events_path: str) -> dict[str, frozenset[str]]:
    """The 20 hand-written queries over the same Parquet files, one after the other."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # As batch_members attaches them: views over the files.
    con.register("profiles", con.read_parquet(profiles_path))
    con.register("events", con.read_parquet(events_path))
    now = f"TIMESTAMPTZ '{BATCH_NOW.isoformat()}'"
    found = {}
    for key, query in HAND_SQL.items():
        found[key] = frozenset(
            row[0] for row in con.execute(query.replace("{now}", now)).fetchall()
        )
    con.close()
    return found


def part_batch(profiles: int, events: int, rounds: int) -> list[Goal]:
    try:
        import duckdb
    except ImportError:
        print("\n2. duckdb is not installed: skipping batch segments")
        return []
    segmentation = Segmentation(
        [Segment(key=key, name=key, rule=rule) for key, rule in BATCH_RULES.items()],
        schema=BATCH_SCHEMA,
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = write_tables(profiles, events, Path(folder))
        made = time.perf_counter() - start
        size = sum(Path(p).stat().st_size for p in paths) / 1e6
        print(
            f"\n2. Batch: 20 segments over {profiles:,} profiles and {events:,} events in "
            f"Parquet ({size:,.0f} MB, written in {made:.1f} s), DuckDB {duckdb.__version__}; "
            f"median of {rounds} runs in turns after a warm-up"
        )
        runners: dict[str, Callable[[], dict[str, frozenset[str]]]] = {
            "batch_members (to_sql)": lambda: batch_members(
                segmentation,
                schema=BATCH_SCHEMA,
                now=BATCH_NOW,
                profiles=paths[0],
                events=paths[1],
            ),
            "hand-written SQL": lambda: hand_members(*paths),
        }
        times: dict[str, list[float]] = {name: [] for name in runners}
        answers: dict[str, dict[str, frozenset[str]]] = {}
        for run in runners.values():  # warm up: imports, the files in the page cache
            run()
        for _ in range(rounds):
            for name, run in runners.items():
                gc.collect()
                start = time.perf_counter()
                answers[name] = run()
                times[name].append(time.perf_counter() - start)
    seconds = {name: statistics.median(spent) for name, spent in times.items()}
    ours, hand = (answers[name] for name in runners)
    different = [key for key in BATCH_RULES if ours[key] != hand[key]]
    for key in different:
        print(f"   DIFFERENT MEMBERS {key}: ours {len(ours[key]):,}, by hand {len(hand[key]):,}")
    base = seconds["hand-written SQL"]
    rows = [[name, f"{spent:.2f}", f"{spent / base:.2f}x"] for name, spent in seconds.items()]
    table(["20 segments", "seconds", "vs hand"], rows, [29, 10, 10])
    held = ", ".join(f"{key} {len(ours[key]):,}" for key in BATCH_RULES)
    print(f"   members: {held}")
    print(f"   the same in both: {'NO' if different else 'yes'}")
    mine, ratio = seconds["batch_members (to_sql)"], seconds["batch_members (to_sql)"] / base
    goals = [
        (f"batch: {profiles:,} profiles, {events:,} events < 30 s ({mine:.1f} s)", mine < 30),
        (f"batch: within 1.5x of hand-written SQL ({ratio:.2f}x)", ratio <= 1.5),
    ]
    if different:
        goals.append(("check: batch_members and the hand-written SQL select the same", False))
    return goals


# --- 3. refresh -------------------------------------------------------------------------------

REFRESH_NOW = pendulum.datetime(2030, 1, 1)
DAY = dt.timedelta(days=1)
REFRESH_SEGMENTS = [
    Segment(
        key=f"ordered_{k}d", name=f"Ordered in {k} days", rule=did("Order Completed").within(days=k)
    )
    for k in range(1, 11)
]


def orders(people: int, seed: int) -> Iterator[dict[str, Any]]:
    """One order per person at a random instant of the 24 hours before `REFRESH_NOW`, in order."""
    rng = np.random.default_rng(seed)
    ago = np.sort(rng.integers(1, 86_400_000, people))[::-1]  # milliseconds
    for n, ms in enumerate(ago.tolist()):
        at = REFRESH_NOW - dt.timedelta(milliseconds=ms)
        yield {
            "type": "track",
            "event": "Order Completed",
            "userId": f"user{n:07d}",
            "messageId": f"order-{seed}-{n}",
            "timestamp": f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z",
            "properties": {"order_id": f"o{n}", "revenue": 42.5, "currency": "USD"},
        }


def refresh_engine(store: Any, people: int, seed: int) -> tuple[Engine, int, float]:
    """An Engine holding ``people`` buyers; its memberships; ingest seconds."""
    engine = Engine(store, clock=FixedClock(REFRESH_NOW), segments=REFRESH_SEGMENTS)
    start = time.perf_counter()
    for part in chunks(list(orders(people, seed)), 500):
        engine.ingest_many(part)
    spent = time.perf_counter() - start
    held = sum(len(engine.members(s.key)) for s in REFRESH_SEGMENTS)
    return engine, held, spent


def timed_refresh(engine: Engine, at: dt.datetime) -> tuple[int, float]:
    gc.collect()
    start = time.perf_counter()
    changes = engine.refresh(pendulum.instance(at))
    return len(changes), time.perf_counter() - start


def part_refresh(people: int, folder: Path) -> list[Goal]:
    print(
        f"\n3. Refresh: one order per person in the last 24 h, 10 segments 'ordered within "
        f"k days' (k = 1..10); {people:,} and {people // 10:,} people; due timers all flip"
    )
    rows, goals = [], []
    stores: dict[str, Callable[[str], Any]] = {
        "MemoryStore": lambda _: MemoryStore(),
        "SQLiteStore": lambda name: SQLiteStore(folder / f"{name}.db"),
    }
    for store_name, make in stores.items():
        big, held, spent = refresh_engine(make("big"), people, 1)
        small, small_held, _ = refresh_engine(make("small"), people // 10, 2)
        print(
            f"   {store_name}: {held:,} memberships ({people:,} people) ingested in {spent:.1f} s "
            f"({people / spent:,.0f} events/s)"
        )
        per_due = {}
        runs = [
            ("1% due", big, held, REFRESH_NOW + 0.1 * DAY),
            ("10x as many due", big, held, REFRESH_NOW + 1.1 * DAY),
            ("1% run's due, 1/10 people", small, small_held, REFRESH_NOW + DAY),
        ]
        for label, engine, memberships, at in runs:
            due, seconds = timed_refresh(engine, at)
            per_due[label] = seconds / max(due, 1) * 1e6
            rows.append(
                [
                    f"{store_name}: {label}",
                    f"{memberships:,}",
                    f"{due:,}",
                    f"{seconds:.3f}",
                    f"{per_due[label]:.1f}",
                ]
            )
        big.close()
        small.close()
        spread = max(per_due.values()) / min(per_due.values())
        goals.append(
            (
                (
                    f"refresh, {store_name}: time per due timer roughly constant "
                    f"(max/min {spread:.2f}x over 10x due and 10x people)"
                ),
                spread <= 1.5,
            )
        )
    table(["refresh", "memberships", "due", "seconds", "us/due"], rows, [44, 13, 9, 10, 9])
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--live-events", type=int, default=20_000, help="events of part 1")
    parser.add_argument("--profiles", type=int, default=100_000, help="profiles of part 2")
    parser.add_argument("--events", type=int, default=1_000_000, help="events of part 2")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each batch contestant")
    parser.add_argument("--refresh-profiles", type=int, default=20_000, help="people of part 3")
    parser.add_argument(
        "--parts", default="live,batch,refresh", help="which parts to run (comma-separated)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    goals: list[Goal] = []
    if "live" in parts:
        goals += part_live(args.live_events)
    if "batch" in parts:
        goals += part_batch(args.profiles, args.events, args.rounds)
    if "refresh" in parts:
        with tempfile.TemporaryDirectory() as folder:
            goals += part_refresh(args.refresh_profiles, Path(folder))
    print("\nGoals")
    for text, met in goals:
        print(f"   {'met' if met else 'MISSED':<8}{text}")
    if any(text.startswith("check:") for text, met in goals if not met):
        sys.exit(1)


if __name__ == "__main__":
    main()
