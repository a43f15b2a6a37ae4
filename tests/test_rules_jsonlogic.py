"""Rules to and from JsonLogic: the same answers in both forms, clear errors for the rest."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import RuleError
from omnichannel.rules import (
    Compare,
    Const,
    Field,
    LocalPart,
    Rule,
    Schema,
    Truthy,
    compile_rule,
    did,
    from_jsonlogic,
    jsonlogic_apply,
    to_jsonlogic,
    trait,
    truthy,
)
from omnichannel.testing import json_values, rule_subjects, rules
from support import conformance_dir

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
# What JsonLogic has words for: text, numbers and booleans (no dates, no events).
SCHEMA = Schema(
    fields={
        "traits.country": "text",
        "traits.city": "text",
        "traits.age": "integer",
        "traits.score": "number",
        "traits.vip": "bool",
    }
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Rule, dict[str, Any]]:
    rule = draw(rules(SCHEMA, event_names=(), now=NOW))
    subject = draw(rule_subjects(SCHEMA, event_names=("x",), now=NOW))
    return rule, subject


@given(cases())
def test_exported_rules_answer_the_same_in_jsonlogic(case: tuple[Rule, dict[str, Any]]) -> None:
    """jsonlogic_apply(to_jsonlogic(rule)) agrees with the compiled rule on typed data."""
    rule, subject = case
    assert compile_rule(rule)(subject, NOW) == truthy(jsonlogic_apply(to_jsonlogic(rule), subject))


@given(cases())
def test_exported_rules_read_back_to_the_same_meaning(case: tuple[Rule, dict[str, Any]]) -> None:
    """from_jsonlogic(to_jsonlogic(rule)) matches exactly the subjects rule matches."""
    rule, subject = case
    again = from_jsonlogic(json.loads(json.dumps(to_jsonlogic(rule))))
    assert compile_rule(rule)(subject, NOW) == compile_rule(again)(subject, NOW)


@pytest.mark.parametrize(
    ("logic", "text"),
    [
        ({"==": [{"var": "traits.country"}, "DE"]}, "country is DE"),
        (
            {"and": [{">": [{"var": "a"}, 1]}, {"!": {"var": "b"}}]},
            "a is more than 1 and not (b is truthy)",
        ),
        ({"or": [True, 0]}, "always or never"),
        ({"<": [1, {"var": "a"}, 5]}, "1 is less than a and a is less than 5"),
        ({"<=": [1, {"var": "a"}, 5]}, "a is between 1 and 5"),
        ({"in": [{"var": "c"}, ["DE", "AT"]]}, "c is one of DE, AT"),
        ({"in": ["Spring", {"var": "campaign"}]}, "campaign contains Spring"),
        ({"in": ["vip", {"var": "segments"}]}, "is in segment vip"),
        ({"==": [{"var": "email"}, None]}, "not (email is known)"),
        ({"!==": [None, {"var": "email"}]}, "email is known"),
        ({"!!": [{"var": ["orders"]}]}, "orders is truthy"),
        (
            {">": [{"-": [{"var": "a"}]}, {"*": [2, {"var": "b"}, 3]}]},
            "(0 - a) is more than (2 * b * 3)",
        ),
        ({"===": [{"cat": ["a", {"var": "b"}]}, "ab"]}, "concat(a, b) is ab"),
        ({"==": [{"min": [{"var": "a"}, 3]}, {"%": [{"var": "b"}, 2]}]}, "min(a, 3) is (b mod 2)"),
        (
            {"if": [{"var": "a"}, {"var": "b"}, False]},
            "(a is truthy and b is truthy) or (not (a is truthy) and never)",
        ),
        ({"===": [{"substr": [{"var": "n"}, 0, 2]}, "Ma"]}, "n starts with Ma"),
        ({"===": [{"substr": [{"var": "n"}, -2]}, "er"]}, "n ends with er"),
        ({"===": [{"substr": [{"var": "n"}, -2]}, 7]}, "substr(n, -2) is 7"),
        ({"==": [{"substr": [{"var": "n"}, 1, -1]}, "b"]}, "substr(n, 1, -1) is b"),
        (
            {">": [{"if": [{"var": "vip"}, {"*": [{"var": "s"}, 2]}, {"var": "s"}]}, 10]},
            "(if vip is truthy then (s * 2) else s) is more than 10",
        ),
    ],
)
def test_jsonlogic_reads_into_the_tree(logic: Any, text: str | None) -> None:
    """Each carried operator becomes the node that means it."""
    if text is None:
        with pytest.raises(RuleError):
            from_jsonlogic(logic)
    else:
        assert text == str(from_jsonlogic(logic))


@pytest.mark.parametrize(
    ("logic", "path"),
    [
        ({"map": [[1], {"var": ""}]}, "$.map"),
        ({"and": [{"missing": ["a"]}]}, "$.and[0].missing"),
        ({"==": [{"var": ["a", 1]}, 1]}, '$["=="][0].var'),
        ({"==": [{"var": "a"}, [1]]}, '$["=="][1]'),
        ({"==": [{"+": [1, 1]}, None]}, '$["=="]'),
        ({"in": [{"var": "x"}, {"var": "y"}]}, "$.in[0]"),
        ({"<": [1]}, '$["<"]'),
        ({"in": [1]}, "$.in"),
        ({"!": [1, 2]}, '$["!"]'),
        ({"a": 1, "b": 2}, "$"),
        ({"==": [{"substr": [{"var": "n"}, {"var": "k"}]}, "x"]}, '$["=="][0].substr'),
        ({"==": [{"if": [{"var": "a"}, 1]}, 1]}, '$["=="][0].if'),
        ([1, 2], "$"),
        ({"==": [{"-": [1, 2, 3]}, 1]}, '$["=="][0]["-"].args'),
        ({"==": [{"var": "a"}, {"x": 1, "y": 2}]}, '$["=="][1]'),
        ({"==": [{"var": "a"}, float("nan")]}, '$["=="][1]'),
    ],
)
def test_what_is_not_carried_is_named(logic: Any, path: str) -> None:
    """Operators outside the rule language fail with the path of the operator."""
    with pytest.raises(RuleError) as caught:
        from_jsonlogic(logic)
    assert path == caught.value.errors[0].path


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        (did("Order Completed"), "$"),
        (trait("a").within_last(days=1), "$"),
        ((trait("country") == "DE") & (trait("at") > NOW), "$.rules[1].right.value"),
        (Compare(fn="eq", left=LocalPart(part="hour"), right=Const(value=1)), "$.left"),
        (trait("a").is_in([dt.date(2024, 1, 1)]), "$.values[0]"),
        (trait("a").between(dt.date(2024, 1, 1), dt.date(2024, 2, 1)), "$.low"),
        (~Truthy(arg=Field(path="a")) | did("x"), "$.rules[1]"),
    ],
)
def test_what_jsonlogic_cannot_say_fails_on_export(rule: Rule, path: str) -> None:
    """Event conditions, dates and local time raise RuleError on export, with the path."""
    with pytest.raises(RuleError) as caught:
        rule.to_jsonlogic()
    assert (path, "unsupported") == (caught.value.errors[0].path, caught.value.errors[0].code)


def test_simple_rules_export_plainly() -> None:
    """A comparison with a literal on a field is one guarded JsonLogic comparison."""
    assert {
        "and": [{"!=": [{"var": "traits.age"}, None]}, {">=": [{"var": "traits.age"}, 18]}]
    } == (to_jsonlogic(trait("age") >= 18))
    assert {"in": ["vip", {"var": "segments"}]} == to_jsonlogic(
        from_jsonlogic({"in": ["vip", {"var": "segments"}]})
    )
    assert to_jsonlogic(trait("a").starts_with("")) == {
        "and": [
            {"!=": [{"var": "traits.a"}, None]},
            {"and": [{"===": [{"cat": [{"var": "traits.a"}]}, {"var": "traits.a"}]}, True]},
        ]
    }


def test_the_official_suite_reads_or_fails_cleanly() -> None:
    """Every official JsonLogic rule is read into the tree or refused with RuleError."""
    suite = conformance_dir("jsonlogic") / "tests.json"
    carried = 0
    for case in json.loads(suite.read_text(encoding="utf-8")):
        if isinstance(case, str):
            continue
        try:
            from_jsonlogic(case[0])
        except RuleError:
            continue
        carried += 1
    assert carried >= 150


@given(json_values(max_leaves=8))
def test_any_json_reads_or_fails_cleanly(logic: Any) -> None:
    """Arbitrary JSON gives a rule or a RuleError, nothing else."""
    with contextlib.suppress(RuleError):
        from_jsonlogic(logic)
