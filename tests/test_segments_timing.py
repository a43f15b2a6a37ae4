"""Time-driven flips: a rule's answer never changes before next_change says it may."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.rules import EventHistory, Rule, compile_rule, did, local, trait
from omnichannel.segments import next_change
from omnichannel.testing import rule_subjects, rules
from support import RULE_NOWS, RULE_SCHEMA

NAMES = ("Product Added", "Order Completed", "Product Viewed")
UTC = dt.timezone.utc
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HORIZON = dt.timedelta(days=400)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dt.datetime, Rule, dict[str, Any], list[float]]:
    now = draw(st.sampled_from(RULE_NOWS))
    rule = draw(rules(RULE_SCHEMA, event_names=NAMES, now=now))
    subject = draw(rule_subjects(RULE_SCHEMA, event_names=NAMES, now=now))
    # Where to look before the promised change: fractions of the way, and the window edges
    # the strategies use (plus or minus a microsecond), where answers flip.
    fractions = st.sampled_from([1e-9, 0.5, 1 - 1e-9]) | st.floats(0, 1)
    edges = st.sampled_from([1, 60, 3600, 86400, 604800]).flatmap(
        lambda s: st.sampled_from([s - 1e-6, s, s + 1e-6, s + 1])
    )
    spots = draw(st.lists(fractions | edges.map(lambda s: -s), min_size=1, max_size=6))
    return now, rule, subject, spots


@settings(max_examples=400)
@given(cases())
def test_the_answer_holds_until_the_promised_instant(case: Any) -> None:
    """Between now and next_change (exclusive) the rule answers as it does now."""
    now, rule, subject, spots = case
    matches = compile_rule(rule)
    change = next_change(rule, subject, now)
    assert change is None or change > now
    # An indexed history promises the same instant (it only skips edges at or before now).
    indexed = {**subject, "events": EventHistory(subject["events"])}
    assert next_change(rule, indexed, now) == change
    until = change if change is not None else now + HORIZON
    answer = matches(subject, now)
    for spot in spots:
        # A negative spot is an absolute offset in seconds; a positive one a fraction of the way.
        moment = now + dt.timedelta(seconds=-spot) if spot < 0 else now + (until - now) * spot
        if moment >= until:
            moment = until - dt.timedelta(microseconds=1)
        if moment <= now:
            continue
        assert answer == matches(subject, moment), (str(rule), moment)


def test_a_window_closes_just_after_its_span() -> None:
    """did X within 7 days flips a microsecond after the 7 days since the last X."""
    order = {"event": "Order Completed", "timestamp": NOW - dt.timedelta(days=5)}
    rule = did("Order Completed").within(days=7)
    change = next_change(rule, {"events": [order]}, NOW)
    assert dt.datetime(2024, 5, 3, 12, 0, 0, 1, tzinfo=UTC) == change
    matches = compile_rule(rule)
    assert matches({"events": [order]}, change - dt.timedelta(microseconds=1))
    assert not matches({"events": [order]}, change)


def test_a_future_instant_enters_the_window_when_it_arrives() -> None:
    """within_last turns true when a timestamp ahead of now is reached, and false after the span."""
    soon = {"traits": {"seen": NOW + dt.timedelta(hours=2)}}
    rule = trait("seen").within_last(days=1)
    assert NOW + dt.timedelta(hours=2) == next_change(rule, soon, NOW)
    later = NOW + dt.timedelta(hours=3)
    assert NOW + dt.timedelta(days=1, hours=2, microseconds=1) == next_change(rule, soon, later)
    older = trait("seen").older_than(days=1)
    assert NOW + dt.timedelta(days=1, hours=2, microseconds=1) == next_change(older, soon, NOW)
    assert next_change(rule, {"traits": {}}, NOW) is None


def test_rules_without_time_never_change_alone() -> None:
    """A trait comparison changes only with new data."""
    assert next_change(trait("country") == "DE", {"traits": {"country": "DE"}}, NOW) is None


def test_local_time_and_birthdays_turn_with_the_subjects_clock() -> None:
    """Local hours turn on the next quarter hour; birthdays at the next local midnight."""
    assert dt.datetime(2024, 5, 1, 12, 15, tzinfo=UTC) == next_change(local("hour") >= 9, {}, NOW)
    tokyo = {"timezone": "Asia/Tokyo", "traits": {"birthday": "1990-05-02"}}
    # 12:00 UTC is 21:00 in Tokyo: the next local midnight is 15:00 UTC.
    assert dt.datetime(2024, 5, 1, 15, 0, tzinfo=UTC) == next_change(
        trait("birthday").anniversary_within(days=0), tokyo, NOW
    )
    assert dt.datetime(2024, 6, 1, 0, 0, tzinfo=UTC) == next_change(local("month") == 5, {}, NOW)
    assert dt.datetime(2025, 1, 1, 0, 0, tzinfo=UTC) == next_change(local("year") == 2024, {}, NOW)
    assert next_change(trait("birthday").anniversary_within(days=3), {}, NOW) is None


def test_midnight_in_a_dst_gap_moves_to_the_first_local_instant() -> None:
    """Where clocks jump at midnight (Santiago, September), the day starts at 01:00."""
    now = dt.datetime(2024, 9, 7, 12, 0, tzinfo=UTC)  # 8 September starts at 01:00 local
    change = next_change(local("day") == 7, {"timezone": "America/Santiago"}, now)
    assert dt.datetime(2024, 9, 8, 4, 0, tzinfo=UTC) == change
