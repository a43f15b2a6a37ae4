"""What a rule reads: changes outside it never move its answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.rules import Rule, compile_rule, did, field, in_segment, local, trait
from omnichannel.segments import Reads, reads
from omnichannel.testing import rule_subjects, rule_values, rules
from support import RULE_NOWS, RULE_SCHEMA

NAMES = ("Product Added", "Order Completed", "Product Viewed")
OTHER_EVENT = "Email Opened"


@st.composite
def cases(draw: st.DrawFn) -> tuple[dt.datetime, Rule, dict[str, Any], dict[str, Any]]:
    now = draw(st.sampled_from(RULE_NOWS))
    rule = draw(rules(RULE_SCHEMA, event_names=NAMES, now=now))
    subject = draw(rule_subjects(RULE_SCHEMA, event_names=(*NAMES, OTHER_EVENT), now=now))
    read = reads(rule)
    changed = {
        **subject,
        "traits": dict(subject.get("traits", {})),
        "state": dict(subject.get("state", {})),
    }
    # Change every field the rule does not read, and add an event it does not count.
    for path, type_ in RULE_SCHEMA.fields.items():
        if not read.affected_by(fields=[path]):
            section, _, name = path.partition(".")
            changed[section][name] = draw(rule_values(type_, now))
    if not read.affected_by(fields=["timezone"]):
        changed["timezone"] = draw(st.sampled_from([None, "Asia/Tokyo", "America/New_York"]))
    if not read.affected_by(segments=["vip"]):
        others = [s for s in subject["segments"] if s != "vip"]
        changed["segments"] = others if "vip" in subject["segments"] else [*others, "vip"]
    if not read.affected_by(event=OTHER_EVENT):
        at = now - dt.timedelta(seconds=draw(st.integers(0, 86400)))
        event = {"event": OTHER_EVENT, "timestamp": at, "channel": "web", "properties": {}}
        changed["events"] = [*subject["events"], event]
    return now, rule, subject, changed


@settings(max_examples=300)
@given(cases())
def test_changes_outside_what_a_rule_reads_never_move_it(case: Any) -> None:
    """Fields, segments and events a rule does not read leave its answer as it was."""
    now, rule, subject, changed = case
    matches = compile_rule(rule)
    assert matches(subject, now) == matches(changed, now), str(rule)


def test_reads_lists_fields_events_segments_and_the_clock() -> None:
    """Each kind of dependency is collected, inside combinations and values."""
    rule = (
        (trait("country") == "DE")
        & ~in_segment("vip")
        & (did("Order Completed").where(field("channel") == "web").within(days=7) | did(None))
        & (local("hour") > 9)
        & trait("birthday").anniversary_within(days=1)
    )
    assert Reads(
        fields=frozenset({"traits.country", "timezone", "traits.birthday"}),
        events=frozenset({"Order Completed"}),
        any_event=True,
        segments=frozenset({"vip"}),
        clock=True,
    ) == reads(rule)
    assert Reads(fields=frozenset({"traits.a", "traits.b"})) == reads(trait("a") + 1 < trait("b"))
    assert Reads(fields=frozenset({"timezone"}), clock=True) == reads(local("hour") > 9)
    assert Reads(fields=frozenset({"timezone", "traits.t"})) == reads(local("day", trait("t")) > 9)
    assert not reads(trait("a") == 1).affected_by(fields=["traits.b"], event="x", segments=["s"])
    assert reads(trait("a.b") == 1).affected_by(fields=["traits.a"])
    assert reads(trait("a") == 1).affected_by(fields=["traits.a.c"])
