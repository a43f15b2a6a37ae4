"""Explanations: every part of a rule, and whether it held, agreeing with the rule itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from omnichannel.rules import compile_rule, did, in_segment, trait
from omnichannel.segments import Segment, Verdict, explain
from omnichannel.testing import rule_subjects, rules
from support import RULE_NOWS, RULE_SCHEMA

NAMES = ("Product Added", "Order Completed")
NOW = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def _consistent(verdict: Verdict) -> None:
    """A group's verdict follows from its parts' verdicts."""
    holds = [part.holds for part in verdict.parts]
    if verdict.text == "all of":
        assert verdict.holds == all(holds)
    elif verdict.text == "any of":
        assert verdict.holds == any(holds)
    elif verdict.text == "not":
        assert verdict.holds != holds[0]
    for part in verdict.parts:
        _consistent(part)


@given(st.data())
def test_the_verdict_agrees_with_the_rule(data: st.DataObject) -> None:
    """The top verdict is the rule's answer, and every group's verdict follows from its parts."""
    now = data.draw(st.sampled_from(RULE_NOWS))
    rule = data.draw(rules(RULE_SCHEMA, event_names=NAMES, now=now))
    subject: dict[str, Any] = data.draw(rule_subjects(RULE_SCHEMA, event_names=NAMES, now=now))
    verdict = explain(rule, subject, now)
    assert compile_rule(rule)(subject, now) == verdict.holds
    _consistent(verdict)


def test_explanations_read_as_a_checklist() -> None:
    """Segments, groups and negated groups print one line per part."""
    vip = Segment(
        key="vip-de",
        name="German VIPs",
        rule=(trait("country") == "DE") & ~(in_segment("churned") | did("Refund").within(days=90)),
    )
    person = {"traits": {"country": "DE"}, "segments": ["churned"], "events": []}
    assert (
        "[ ] in segment German VIPs\n"
        "    [ ] all of\n"
        "        [x] country is DE\n"
        "        [ ] not\n"
        "            [x] any of\n"
        "                [x] is in segment churned\n"
        "                [ ] did Refund in the last 90 days"
    ) == str(explain(vip, person, NOW))
