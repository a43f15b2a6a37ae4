"""Scenario: every built-in family over the synthetic shop, kept current day by day.

Four months of a 300-person shop are ingested in timestamp order, one
transaction per day, with the clock at the end of each day and the timers
fired after it. At the end the memberships stored in real time, a
from-scratch evaluation and batch SQL on DuckDB must agree, and the lifecycle
and RFM families must split the population sensibly.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any, NamedTuple

import pendulum
import pytest

from omnichannel.clock import FixedClock
from omnichannel.datasets import synthetic_retail
from omnichannel.engine import Engine
from omnichannel.segments import (
    LIFECYCLE_STAGES,
    RFM_GROUPS,
    batch_members,
    channel_segments,
    demographic_segments,
    family_schema,
    lifecycle_segments,
    rfm_segments,
    rfm_thresholds,
)
from omnichannel.store import MemoryStore

PROFILES, DAYS, SEED = 300, 120, 7
START = pendulum.datetime(2024, 1, 1)
END = START.add(days=DAYS)


class Shop(NamedTuple):
    engine: Engine
    cuts: Any
    subjects: list[tuple[str, dict[str, Any]]]
    timed: Counter[str]  # segment changes made by time alone (refresh)


@pytest.fixture(scope="module")
def shop():
    """The engine after four months of the synthetic shop, its segments and its subjects."""
    payloads = synthetic_retail(PROFILES, DAYS, SEED)
    # RFM cut points come from a population: here, the same shop seen at the end.
    seen = Engine(MemoryStore(), clock=FixedClock(END))
    seen.ingest_many(payloads)
    cuts = rfm_thresholds(seen.subjects(events=False), END)
    seen.close()
    segments = [
        # Four months of data: a customer with no order in 90 days has churned.
        *lifecycle_segments(churned_days=90),
        *rfm_segments(cuts),
        *channel_segments(),
        *demographic_segments(),
    ]
    clock = FixedClock(START)
    engine = Engine(MemoryStore(), clock=clock, segments=segments)
    timed: Counter[str] = Counter()
    for day, batch in itertools.groupby(payloads, key=lambda p: p["timestamp"][:10]):
        day_end = pendulum.parse(day).add(days=1).subtract(microseconds=1)
        clock.set(day_end)
        engine.ingest_many(list(batch))
        timed.update(c.segment for c in engine.refresh(day_end))
    clock.set(END)
    timed.update(c.segment for c in engine.refresh(END))
    subjects = list(engine.subjects())
    yield Shop(engine, cuts, subjects, timed)
    engine.close()


def stored(engine: Engine) -> dict[str, frozenset[str]]:
    return {s.key: frozenset(engine.members(s.key)) for s in engine.segmentation.segments}


def test_real_time_timers_and_batch_sql_agree(shop):
    """Memberships kept by events and timers == a from-scratch evaluation == DuckDB."""
    engine, cuts, subjects, _ = shop
    scratch = {k: frozenset(v) for k, v in engine.segmentation.evaluate_all(subjects, END).items()}
    assert scratch == stored(engine)
    pytest.importorskip("duckdb")
    schema = family_schema(currencies=cuts.monetary)
    assert scratch == batch_members(engine.segmentation, schema=schema, now=END, subjects=subjects)


def test_time_alone_moves_people_on(shop):
    """Timers, not events, move customers through the later stages and recency scores."""
    for key in ("lifecycle-onboarding", "lifecycle-at-risk", "lifecycle-churned", "rfm-r1"):
        assert shop.timed[key] > 0, key


def test_lifecycle_stages_split_the_shop(shop):
    """Everyone is in exactly one stage; every stage has people, none has most of them."""
    engine, _, subjects, _ = shop
    members = stored(engine)
    stage_of = Counter(pid for key in LIFECYCLE_STAGES for pid in members[key])
    assert {pid for pid, _ in subjects} == set(stage_of)
    assert {1} == set(stage_of.values())
    sizes = {key: len(members[key]) for key in LIFECYCLE_STAGES}
    assert all(0 < size < len(subjects) / 2 for size in sizes.values()), sizes
    customers = {pid for pid, s in subjects if s["state"]["orders"] >= 1}
    stages = ("onboarding", "engagement", "at-risk", "churned")
    assert customers == set().union(*(members[f"lifecycle-{stage}"] for stage in stages))


def test_rfm_scores_and_groups_split_the_customers(shop):
    """Every customer has one score of each kind and one group; R and M are near quintiles."""
    engine, _, subjects, _ = shop
    members = stored(engine)
    customers = {pid for pid, s in subjects if s["state"]["orders"] >= 1}
    for letter in ("r", "f", "m", "fm"):
        keys = [f"rfm-{letter}{n}" for n in range(1, 6)]
        scored = Counter(pid for key in keys for pid in members[key])
        assert customers == set(scored)
        assert {1} == set(scored.values())
    for letter in ("r", "m"):  # no ties to speak of: each score holds about a fifth
        shares = [len(members[f"rfm-{letter}{n}"]) / len(customers) for n in range(1, 6)]
        assert all(0.1 < share < 0.3 for share in shares), shares
    grouped = Counter(pid for key in RFM_GROUPS for pid in members[key])
    assert customers == set(grouped)
    assert {1} == set(grouped.values())
    assert all(members[key] for key in RFM_GROUPS)


def test_channel_segments_find_sensible_people(shop):
    """Who each channel segment holds agrees with what their profile says."""
    engine, _, subjects, _ = shop
    members = stored(engine)
    by_id = dict(subjects)
    customers = {pid for pid, s in subjects if s["state"]["orders"] >= 1}
    assert customers == members["channel-single-channel"] | members["channel-multi-channel"]
    assert not members["channel-single-channel"] & members["channel-multi-channel"]
    assert all(by_id[p]["state"]["orders"] == 0 for p in members["channel-app-browsers"])
    assert all(
        by_id[p]["state"]["consent"]["marketing"]["push"] == "granted"
        for p in members["channel-push-ignored"]
    )
    assert not members["channel-email-engaged"] & members["channel-email-dormant"]
    assert all(members[s.key] for s in channel_segments())


def test_demographic_segments_follow_the_traits(shop):
    """Country segments hold exactly the people with a country; the shop sends no age."""
    engine, _, subjects, _ = shop
    members = stored(engine)
    countries = Counter(
        pid for key, ids in members.items() if key.startswith("demo-country-") for pid in ids
    )
    assert {pid for pid, s in subjects if "country" in s["traits"]} == set(countries)
    assert {1} == set(countries.values())
    assert not any(ids for key, ids in members.items() if key.startswith("demo-age-"))
    for channel in ("email", "sms", "push"):
        assert members[f"demo-subscribed-{channel}"]
        assert not members[f"demo-subscribed-{channel}"] & members[f"demo-unsubscribed-{channel}"]
