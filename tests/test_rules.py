"""The rule language: builders, text, JSON form, the Python engine's meaning, and errors."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel import RuleError, converter
from omnichannel.rules import (
    ALWAYS,
    NEVER,
    All,
    AnyOf,
    Arith,
    Case,
    Compare,
    Concat,
    Const,
    EventCount,
    EventFilter,
    Field,
    FollowedBy,
    IfElse,
    LocalPart,
    Not,
    OneOf,
    Rule,
    Schema,
    Window,
    check_rule,
    compile_rule,
    days,
    did,
    did_not,
    dump_rule,
    field,
    hours,
    in_segment,
    load_rule,
    local,
    prop,
    state,
    trait,
    when,
)
from omnichannel.testing import rules
from support import rule_cases

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SCHEMA = Schema(
    fields={
        "traits.country": "text",
        "traits.age": "integer",
        "traits.score": "number",
        "traits.vip": "bool",
        "traits.signed_up": "instant",
        "traits.birthday": "date",
    },
    event_fields={"properties.revenue": "number", "properties.sku": "text"},
)


def matches(rule: Rule, subject: dict[str, Any], now: dt.datetime = NOW) -> bool:
    return compile_rule(rule)(subject, now)


def ago(**delta: float) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


def event(name: str, at: dt.datetime, **props: Any) -> dict[str, Any]:
    return {
        "event": name,
        "timestamp": at,
        "channel": props.pop("channel", None),
        "properties": props,
    }


# --- builders and text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (
            (trait("country") == "DE") & did("Order Completed").at_least(2).within(days=30),
            "country is DE and did Order Completed at least 2 times in the last 30 days",
        ),
        (
            did("Product Added").within(hours=24).not_followed_by("Order Completed"),
            "did Product Added in the last 1 day not followed by Order Completed",
        ),
        (
            did("Order Completed").within(days=90).sum("properties.revenue") > 100,
            "sum revenue of Order Completed in the last 90 days is more than 100",
        ),
        (did_not("Email Opened").within(days=7), "did not do Email Opened in the last 7 days"),
        (
            did("Product Viewed")
            .where(field("channel") == "app")
            .followed_by(did("Order Completed").where(field("channel") == "web"), within=days(2)),
            "did Product Viewed where channel is app followed by Order Completed where channel is web within 2 days",
        ),
        (
            trait("age").between(18, 30) | ~in_segment("vip"),
            "age is between 18 and 30 or not (is in segment vip)",
        ),
        (trait("name").contains("van der"), 'name contains "van der"'),
        (trait("country").is_in(["DE", "AT"]), "country is one of DE, AT"),
        (trait("country").not_in(["FR"]), "country is not one of FR"),
        (trait("email").exists(), "email is known"),
        (trait("signed_up").older_than(days=365), "signed_up is older than 365 days"),
        (trait("signed_up").within_last(hours=1), "signed_up is in the last 1 hour"),
        (trait("birthday").anniversary_within(days=0), "birthday comes round today"),
        (trait("birthday").anniversary_within(days=1), "birthday comes round in the next 1 day"),
        (local("weekday", trait("signed_up")) == 1, "local weekday of signed_up is 1"),
        ((trait("a") + 1) * 2 > trait("b") / 3, "((a + 1) * 2) is more than (b / 3)"),
        (did("Order Completed").exactly(1), "did Order Completed exactly 1 time"),
        (
            did(None).at_most(1).since(dt.datetime(2024, 1, 1, tzinfo=UTC)),
            "did any event at most 1 time since 2024-01-01T00:00:00Z",
        ),
        (
            did("Order Completed").within(days=30).count_distinct("properties.sku") >= 3,
            "number of different sku of Order Completed in the last 30 days is at least 3",
        ),
        (state("vip") == True, "vip is true"),  # noqa: E712 - builds a rule, not a comparison
        (trait("since").after(dt.date(2024, 1, 2)), "since is more than 2024-01-02"),
        (All(rules=[]), "always"),
        (trait("n").substr(0, 2) == "Ma", "substr(n, 0, 2) is Ma"),
        (when(in_segment("vip"), 1, 2) == 1, "(if is in segment vip then 1 else 2) is 1"),
        (AnyOf(rules=[]), "never"),
        (ALWAYS & NEVER, "always and never"),
        (
            Compare(
                fn="eq",
                left=Concat(args=[Field(path="a"), Const(value="x")]),
                right=Const(value="ax"),
            ),
            "concat(a, x) is ax",
        ),
        (
            Compare(
                fn="lt",
                left=Arith(fn="min", args=[Field(path="a"), Field(path="b")]),
                right=Const(value=1.5),
            ),
            "min(a, b) is less than 1.5",
        ),
    ],
)
def test_rules_read_as_sentences(rule: Rule, text: str) -> None:
    """Every node prints as words a marketer can read."""
    assert text == str(rule)


def test_and_or_not_flatten() -> None:
    """Chains of & and | make one flat node; ~~rule is rule."""
    a, b, c = trait("a") == 1, trait("b") == 2, trait("c") == 3
    assert All(rules=[a, b, c]) == (a & b) & c
    assert AnyOf(rules=[a, b, c]) == a | (b | c)
    assert a == ~~a
    assert isinstance(~a, Not)


def test_builders_reject_what_is_not_a_rule() -> None:
    """Combining a rule with something else is a TypeError, not a silent wrong rule."""
    with pytest.raises(TypeError):
        _ = (trait("a") == 1) & 3  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = (trait("a") == 1) | "x"  # type: ignore[operator]


# --- the JSON form ---------------------------------------------------------------------------


@given(rules(SCHEMA, event_names=("Order Completed", "Product Added"), now=NOW))
def test_json_form_round_trips(rule: Rule) -> None:
    """Any rule survives dump -> JSON text -> load unchanged, also through the converter."""
    document = json.loads(json.dumps(dump_rule(rule)))
    assert rule == load_rule(document)
    assert rule == converter.structure(converter.unstructure(rule), Rule)


def test_json_form_is_stable() -> None:
    """The stored form is versioned and names every node by its op."""
    rule = (trait("since") >= dt.date(2024, 1, 2)) & did("Order Completed").since(NOW)
    assert dump_rule(rule) == {
        "omnichannel.rule": 1,
        "rule": {
            "op": "all",
            "rules": [
                {
                    "op": "compare",
                    "fn": "ge",
                    "left": {"op": "field", "path": "traits.since"},
                    "right": {"op": "value", "value": {"date": "2024-01-02"}},
                },
                {
                    "op": "count",
                    "filter": {
                        "event": "Order Completed",
                        "where": None,
                        "window": {"since": "2024-05-01T12:00:00.000000Z"},
                    },
                    "fn": "ge",
                    "count": 1,
                },
            ],
        },
    }


def _doc(rule: Any) -> dict[str, Any]:
    return {"omnichannel.rule": 1, "rule": rule}


FIELD_A = {"op": "field", "path": "a"}


@pytest.mark.parametrize(
    ("document", "path", "code"),
    [
        ([], "$", "type"),
        ({"omnichannel.rule": 2, "rule": {}}, '$["omnichannel.rule"]', "unsupported_version"),
        ({"omnichannel.rule": 1}, "$.rule", "required"),
        (
            {"omnichannel.rule": 1, "rule": {"op": "constant", "value": True}, "x": 1},
            "$.x",
            "unknown_field",
        ),
        (_doc({"op": "xor"}), "$.rule.op", "unknown_operator"),
        (_doc({"op": "all", "rules": {}}), "$.rule.rules", "type"),
        (_doc({"op": "all", "rules": [FIELD_A]}), "$.rule.rules[0]", "type"),
        (
            _doc(
                {
                    "op": "compare",
                    "fn": "eq",
                    "left": {"op": "constant", "value": True},
                    "right": FIELD_A,
                }
            ),
            "$.rule.left",
            "type",
        ),
        (
            _doc({"op": "compare", "fn": "eqq", "left": FIELD_A, "right": FIELD_A}),
            "$.rule.fn",
            "invalid",
        ),
        (_doc({"op": "compare", "fn": "eq", "left": FIELD_A}), "$.rule.right", "required"),
        (
            _doc({"op": "compare", "fn": "eq", "left": FIELD_A, "right": FIELD_A, "extra": 1}),
            "$.rule.extra",
            "unknown_field",
        ),
        (
            _doc(
                {
                    "op": "compare",
                    "fn": "eq",
                    "left": {"op": "field", "path": "a..b"},
                    "right": FIELD_A,
                }
            ),
            "$.rule.left.path",
            "invalid",
        ),
        (
            _doc(
                {
                    "op": "compare",
                    "fn": "eq",
                    "left": FIELD_A,
                    "right": {"op": "value", "value": None},
                }
            ),
            "$.rule.right.value",
            "type",
        ),
        (
            _doc(
                {
                    "op": "compare",
                    "fn": "eq",
                    "left": FIELD_A,
                    "right": {"op": "value", "value": [1]},
                }
            ),
            "$.rule.right.value",
            "type",
        ),
        (
            _doc(
                {
                    "op": "compare",
                    "fn": "eq",
                    "left": FIELD_A,
                    "right": {"op": "value", "value": {"instant": "yesterday"}},
                }
            ),
            "$.rule.right.value.instant",
            "invalid",
        ),
        (
            _doc(
                {
                    "op": "compare",
                    "fn": "eq",
                    "left": FIELD_A,
                    "right": {"op": "value", "value": {"date": "2024-13-01"}},
                }
            ),
            "$.rule.right.value.date",
            "invalid",
        ),
        (
            _doc(
                {
                    "op": "compare",
                    "fn": "eq",
                    "left": FIELD_A,
                    "right": {"op": "value", "value": {"when": 1}},
                }
            ),
            "$.rule.right.value",
            "type",
        ),
        (_doc({"op": "in", "arg": FIELD_A, "values": [1, None]}), "$.rule.values[1]", "type"),
        (_doc({"op": "count", "filter": [], "fn": "ge", "count": 1}), "$.rule.filter", "type"),
        (_doc({"op": "count", "filter": {"event": 3}}), "$.rule.filter.event", "type"),
        (_doc({"op": "count", "filter": {"kind": 3}}), "$.rule.filter.kind", "unknown_field"),
        (
            _doc({"op": "count", "filter": {"window": {"days": 3}}}),
            "$.rule.filter.window.days",
            "unknown_field",
        ),
        (
            _doc({"op": "count", "filter": {"window": {"seconds": -3}}}),
            "$.rule.filter.window.seconds",
            "out_of_range",
        ),
        (
            _doc({"op": "count", "filter": {"window": {"since": "soon"}}}),
            "$.rule.filter.window.since.instant",
            "invalid",
        ),
        (_doc({"op": "count", "filter": {"where": FIELD_A}}), "$.rule.filter.where", "type"),
        (_doc({"op": "count", "filter": {}, "count": -1}), "$.rule.count", "out_of_range"),
        (_doc({"op": "count", "filter": {}, "count": True}), "$.rule.count", "out_of_range"),
        (_doc({"op": "not", "rule": {"op": "constant", "value": 1}}), "$.rule.rule.value", "type"),
        (
            _doc({"op": "in", "arg": FIELD_A, "values": [1], "negate": "yes"}),
            "$.rule.negate",
            "type",
        ),
        (_doc({"op": "segment", "segment": " "}), "$.rule.segment", "type"),
        (_doc({"op": "text", "fn": "contains", "arg": FIELD_A, "text": 3}), "$.rule.text", "type"),
        (_doc({"op": "arith", "fn": "sub", "args": [FIELD_A]}), "$.rule.args", "arity"),
        (
            _doc(
                {
                    "op": "aggregate",
                    "filter": {},
                    "agg": "sum",
                    "property": "x",
                    "fn": "gt",
                    "value": "3",
                }
            ),
            "$.rule.value",
            "type",
        ),
        (_doc({"op": "between", "arg": FIELD_A, "low": True, "high": False}), "$.rule", "type"),
        (_doc({"op": "local", "part": "hour"}), "$.rule", "type"),
        (_doc({"op": "exists", "field": {"op": "value", "value": 1}}), "$.rule.field", "type"),
        (
            _doc({"op": "truthy", "arg": {"op": "if", "cases": {}, "otherwise": FIELD_A}}),
            "$.rule.arg.cases",
            "type",
        ),
        (
            _doc(
                {
                    "op": "truthy",
                    "arg": {"op": "if", "cases": [{"then": FIELD_A}], "otherwise": FIELD_A},
                }
            ),
            "$.rule.arg.cases[0].when",
            "required",
        ),
        (
            _doc(
                {
                    "op": "truthy",
                    "arg": {
                        "op": "if",
                        "otherwise": FIELD_A,
                        "cases": [
                            {"when": {"op": "constant", "value": True}, "then": FIELD_A, "else": 1}
                        ],
                    },
                }
            ),
            "$.rule.arg.cases[0].else",
            "unknown_field",
        ),
        (
            _doc({"op": "truthy", "arg": {"op": "substr", "arg": FIELD_A, "start": 1.5}}),
            "$.rule.arg.start",
            "type",
        ),
        (
            _doc(
                {
                    "op": "truthy",
                    "arg": {
                        "op": "if",
                        "cases": [
                            {"when": {"op": "constant", "value": True}, "then": FIELD_A, "else": 1}
                        ],
                        "otherwise": FIELD_A,
                    },
                }
            ),
            "$.rule.arg.cases[0].else",
            "unknown_field",
        ),
    ],
)
def test_malformed_json_forms_name_the_path(document: Any, path: str, code: str) -> None:
    """Every problem in a stored rule is a RuleError pointing inside the document."""
    with pytest.raises(RuleError) as caught:
        load_rule(document)
    assert (path, code) == (caught.value.errors[0].path, caught.value.errors[0].code)


def test_converter_checks_the_rule_type() -> None:
    """Structuring into a specific node class refuses another kind of node."""
    with pytest.raises(RuleError) as caught:
        converter.structure(dump_rule(ALWAYS), Compare)
    assert "$.rule.op" == caught.value.errors[0].path
    with pytest.raises(RuleError):
        dump_rule("country is DE")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: trait("a") == float("nan"), "invalid"),  # noqa: PLW0177 - NaN on purpose
        (lambda: trait("a") == dt.datetime(2024, 1, 1), "invalid"),  # noqa: DTZ001 - naive on purpose
        (lambda: trait("a") == object(), "type"),
        (lambda: trait("a") > True, "type"),
        (lambda: did("x").within(), "out_of_range"),
        (
            lambda: did("x").within(minutes=0.01),
            "out_of_range",
        ),
        (lambda: did("x").at_least(-1), "out_of_range"),
        (lambda: Window(seconds=60, since=NOW), "invalid"),
        (lambda: Window(since=dt.date(2024, 1, 1)), "type"),  # type: ignore[arg-type]
        (lambda: (trait("a") + 1).exists(), "type"),  # noqa: PLW0108 - built when called
        (lambda: field(""), "type"),
        (lambda: field("a b"), "invalid"),
        (lambda: Arith(fn="add", args=[]), "arity"),
        (lambda: Arith(fn="add", args=[1]), "type"),  # type: ignore[list-item]
        (lambda: All(rules=[1]), "type"),  # type: ignore[list-item]
        (lambda: OneOf(arg=Field(path="a"), values=[Decimal_one()]), "type"),
        (lambda: EventCount(filter=EventFilter(event="x"), fn="gt", count=1.5), "out_of_range"),  # type: ignore[arg-type]
        (lambda: did("x").sum("p") > "a", "type"),  # type: ignore[operator]
        (lambda: IfElse(cases=[1], otherwise=Const(value=1)), "type"),  # type: ignore[list-item]
        (lambda: Case(when=1, then=Const(value=1)), "type"),  # type: ignore[arg-type]
    ],
)
def test_building_a_bad_rule_fails_at_once(build: Any, code: str) -> None:
    """Bad arguments to builders and nodes raise RuleError when the rule is made."""
    with pytest.raises(RuleError) as caught:
        build()
    assert code == caught.value.errors[0].code


def Decimal_one() -> Any:  # noqa: N802 - reads as the value it makes
    from decimal import Decimal

    return Decimal(1)


# --- meaning: missing values, types, negation ---------------------------------------------------


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
@pytest.mark.parametrize(
    "subject",
    [
        {},
        {"traits": None},
        {"traits": {"age": None}},
        {"traits": {"age": "30"}},
        {"traits": {"age": True}},
        {"traits": "x"},
    ],
)
def test_missing_or_mistyped_values_never_match(op: str, subject: dict[str, Any]) -> None:
    """A comparison meeting a missing value or another type is false, whatever the operator."""
    rule = Compare(fn=op, left=Field(path="traits.age"), right=Const(value=30))  # type: ignore[arg-type]
    assert not matches(rule, subject)
    assert matches(~rule, subject)


@given(rules(SCHEMA, event_names=("Order Completed",), now=NOW), st.data())
def test_not_is_the_complement(rule: Rule, data: st.DataObject) -> None:
    """For any rule and subject, exactly one of rule and ~rule matches."""
    from omnichannel.testing import rule_subjects

    subject = data.draw(rule_subjects(SCHEMA, event_names=("Order Completed",), now=NOW))
    assert matches(rule, subject) != matches(~rule, subject)


@pytest.mark.parametrize(
    ("rule", "hit", "miss"),
    [
        (trait("country") == "DE", {"country": "DE"}, {"country": "de"}),
        (trait("country") != "DE", {"country": "FR"}, {"country": 3}),
        (trait("country") < "E", {"country": "DE"}, {"country": 1}),
        (trait("n") >= 2, {"n": 2.0}, {"n": "3"}),
        (trait("vip") == True, {"vip": True}, {"vip": 1}),  # noqa: E712 - builds a rule, not a comparison
        (trait("vip") != True, {"vip": False}, {"vip": None}),  # noqa: E712 - builds a rule, not a comparison
        (trait("since") < dt.date(2024, 1, 1), {"since": "2023-12-31"}, {"since": "soon"}),
        (trait("since") < dt.date(2024, 1, 1), {"since": dt.date(2023, 1, 1)}, {"since": NOW}),
        (trait("at") >= NOW, {"at": "2024-05-01T12:00:00Z"}, {"at": "2024-05-01T11:59:59Z"}),
        (trait("at") >= NOW, {"at": dt.datetime(2024, 5, 1, 12)}, {"at": 5}),  # noqa: DTZ001 - naive on purpose
        (trait("a") == trait("b"), {"a": 1, "b": 1.0}, {"a": 1, "b": "1"}),
        (
            trait("a") < trait("b"),
            {"a": "2024-01-01", "b": dt.date(2024, 1, 2)},
            {"a": True, "b": False},
        ),
        (trait("a") > trait("b"), {"a": NOW, "b": "2024-01-01T00:00:00Z"}, {"a": None, "b": None}),
        (trait("a") == trait("b"), {"a": True, "b": True}, {"a": [1], "b": [1]}),
        (3 < trait("n"), {"n": 4}, {"n": 3}),
        (trait("c").is_in(["DE", 1]), {"c": 1}, {"c": True}),
        (trait("c").not_in(["DE", "AT"]), {"c": "FR"}, {"c": 5}),
        (trait("c").contains("ü"), {"c": "Müller"}, {"c": ["ü"]}),
        (trait("c").starts_with("Mü"), {"c": "Müller"}, {"c": "müller"}),
        (trait("c").ends_with("er"), {"c": "Müller"}, {"c": None}),
        (trait("c").exists(), {"c": ""}, {"c": None}),
        (trait("n").between(1, 2), {"n": 2}, {"n": 2.5}),
        ((trait("a") + trait("b")) == 3, {"a": 1, "b": 2}, {"a": 1}),
        ((trait("a") - 1) == 0, {"a": 1}, {"a": "1"}),
        ((trait("a") / 4) == 0.25, {"a": 1}, {"a": None}),
        ((trait("a") % 3) == -1, {"a": -7}, {"a": 7}),
        ((trait("a") % 2.5) == -1.5, {"a": -6.5}, {"a": 6.5}),
        (
            Compare(
                fn="eq",
                left=Arith(fn="max", args=[Field(path="traits.a"), Const(value=2)]),
                right=Const(value=3),
            ),
            {"a": 3},
            {"a": None},
        ),
        (
            Compare(
                fn="eq",
                left=Arith(fn="min", args=[Field(path="traits.a"), Const(value=2)]),
                right=Const(value=2),
            ),
            {"a": 3},
            {"a": "1"},
        ),
        (
            Compare(
                fn="eq",
                left=Concat(args=[Field(path="traits.a"), Const(value="!")]),
                right=Const(value="hi!"),
            ),
            {"a": "hi"},
            {"a": 1},
        ),
        (trait("deep.er.path") == 1, {"deep": {"er": {"path": 1}}}, {"deep": {"er": 1}}),
        (trait("n").substr(1) == "nne", {"n": "Anne"}, {"n": 7}),
        (trait("n").substr(-3, 2) == "nn", {"n": "Anne"}, {"n": "An"}),
        (trait("n").substr(-9, -1) == "Ann", {"n": "Anne"}, {"n": None}),
        (trait("n").substr(3, -3) == "", {"n": "Anne"}, {}),
        (
            when(trait("vip").is_in([True]), trait("s") * 2, trait("s")) > 10,
            {"vip": True, "s": 6},
            {"vip": False, "s": 6},
        ),
        (when(trait("vip").is_in([True]), 1, trait("s")) == 1, {"vip": True}, {"vip": False}),
    ],
)
def test_values_compare_within_their_type(
    rule: Rule, hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    """Comparisons, tests and arithmetic follow the documented typed, null-safe meaning."""
    assert matches(rule, {"traits": hit})
    assert not matches(rule, {"traits": miss})


@pytest.mark.parametrize(
    "rule",
    [trait("c").not_in([]), trait("c").is_in([]), (trait("a") / 0) == 0, (trait("a") % 0) == 0],
)
@pytest.mark.parametrize("traits", [{}, {"c": "FR", "a": 3}, {"c": None, "a": 0}])
def test_rules_that_can_never_match(rule: Rule, traits: dict[str, Any]) -> None:
    """Empty value lists and divisions by zero match nothing (their complement everything)."""
    assert not matches(rule, {"traits": traits})
    assert matches(~rule, {"traits": traits})


def test_fields_read_any_mapping() -> None:
    """Subjects and their sections may be any Mapping, not only dicts."""
    from types import MappingProxyType

    subject = MappingProxyType({"traits": MappingProxyType({"country": "DE"})})
    assert matches(trait("country") == "DE", subject)  # type: ignore[arg-type]
    assert matches(field("country") == "DE", MappingProxyType({"country": "DE"}))  # type: ignore[arg-type]


# --- time -------------------------------------------------------------------------------------


def test_recency_windows_include_their_edges() -> None:
    """within_last includes both ends; older_than starts just past the edge; the future is out."""
    within, older = trait("t").within_last(days=1), trait("t").older_than(days=1)
    assert matches(within, {"traits": {"t": ago(days=1)}})
    assert matches(within, {"traits": {"t": NOW}})
    assert not matches(within, {"traits": {"t": ago(days=1, seconds=1)}})
    assert not matches(within, {"traits": {"t": NOW + dt.timedelta(seconds=1)}})
    assert not matches(older, {"traits": {"t": ago(days=1)}})
    assert matches(older, {"traits": {"t": ago(days=1, seconds=1)}})
    assert not matches(older, {"traits": {"t": None}})


@pytest.mark.parametrize(
    ("born", "today", "days_", "expected"),
    [
        (dt.date(1990, 5, 1), dt.date(2024, 5, 1), 0, True),
        (dt.date(1990, 5, 2), dt.date(2024, 5, 1), 0, False),
        (dt.date(1990, 5, 8), dt.date(2024, 5, 1), 7, True),
        (dt.date(1990, 5, 9), dt.date(2024, 5, 1), 7, False),
        (dt.date(1990, 1, 2), dt.date(2023, 12, 31), 2, True),
        (dt.date(2000, 2, 29), dt.date(2023, 2, 28), 0, True),
        (dt.date(2000, 2, 29), dt.date(2024, 2, 28), 0, False),
        (dt.date(2000, 2, 29), dt.date(2024, 2, 28), 1, True),
        (dt.date(2000, 2, 29), dt.date(2023, 3, 1), 364, False),
        (dt.date(2000, 2, 29), dt.date(2023, 3, 1), 365, True),
        (dt.date(1990, 4, 30), dt.date(2024, 5, 1), 363, False),
    ],
)
def test_anniversaries(born: dt.date, today: dt.date, days_: int, expected: bool) -> None:
    """A birthday comes round today or within the next days; 29 February falls on the 28th."""
    now = dt.datetime.combine(today, dt.time(12), tzinfo=UTC)
    assert expected == matches(
        trait("b").anniversary_within(days=days_), {"traits": {"b": born}}, now
    )


def test_anniversaries_use_the_subjects_time_zone() -> None:
    """At 23:30 UTC it is already tomorrow in Tokyo, and still today in New York."""
    now = dt.datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    rule = trait("b").anniversary_within(days=0)
    born = {"b": "1990-05-02"}
    assert matches(rule, {"traits": born, "timezone": "Asia/Tokyo"}, now)
    assert not matches(rule, {"traits": born, "timezone": "America/New_York"}, now)
    assert not matches(rule, {"traits": born, "timezone": "Not/AZone"}, now)  # unknown: UTC
    assert not matches(rule, {"traits": {"b": NOW}}, now)  # a datetime is not a date


def test_local_time_parts() -> None:
    """Local hour and weekday are read in the subject's time zone (UTC when unknown)."""
    berlin = {"timezone": "Europe/Berlin", "traits": {"t": "2024-05-05T22:30:00Z"}}
    assert matches(local("hour") == 14, berlin)  # 12:00 UTC is 14:00 in Berlin in May
    assert matches(local("hour") == 12, {"timezone": 7})
    assert matches(local("weekday", trait("t")) == 1, berlin)  # Sunday 22:30 UTC is Monday there
    assert matches(local("month", trait("t")) == 5, berlin)
    assert not matches(local("day", trait("t")) == 6, {"traits": {"t": None}})


# --- events -----------------------------------------------------------------------------------


def test_event_counts_and_windows() -> None:
    """Counts see only named events inside the window and never events after now."""
    history = [
        event("Order Completed", ago(days=1)),
        event("Order Completed", ago(days=30)),
        event("Order Completed", ago(days=30, seconds=1)),
        event("Order Completed", NOW + dt.timedelta(seconds=1)),
        event("Product Added", ago(hours=1)),
        {"event": "Order Completed", "timestamp": "2024-04-30T12:00:00Z"},
        {"event": "Order Completed", "timestamp": None},
    ]
    subject = {"events": history}
    assert matches(did("Order Completed").exactly(3).within(days=30), subject)
    assert matches(did("Order Completed").exactly(4), subject)
    assert matches(did(None).exactly(5), subject)
    assert matches(did("Order Completed").at_most(2).since(ago(days=2)), subject)
    assert matches(did_not("Email Opened"), subject)
    assert not matches(did_not("Product Added").within(hours=1), subject)
    assert matches(did_not("Product Added").within(minutes=59), subject)
    assert not matches(did("Order Completed"), {})
    assert matches(did_not("Order Completed"), {"events": None})


def test_event_filters_read_the_event() -> None:
    """where() sees the event's own fields and properties."""
    history = [
        event("Order Completed", ago(days=1), channel="store", revenue=80.0, sku="A"),
        event("Order Completed", ago(days=2), channel="web", revenue=30.0, sku="B"),
        event("Order Completed", ago(days=3), channel="web", sku="B"),
    ]
    subject = {"events": history}
    web = did("Order Completed").where(field("channel") == "web")
    assert matches(web.exactly(2), subject)
    assert matches(web.where(prop("revenue") > 10).exactly(1), subject)
    base = did("Order Completed").within(days=7)
    assert matches(base.sum("properties.revenue") == 110, subject)
    assert matches(base.avg("properties.revenue") == 55, subject)
    assert matches(base.min("properties.revenue") == 30, subject)
    assert matches(base.max("properties.revenue") == 80, subject)
    assert matches(base.count_distinct("properties.sku") == 2, subject)
    assert matches(base.count_distinct("channel") != 3, subject)
    nothing = did("Refund").within(days=7)
    assert matches(nothing.sum("properties.revenue") == 0, subject)
    assert matches(nothing.count_distinct("properties.sku") == 0, subject)
    for empty in (nothing.avg("properties.revenue") == 0, nothing.max("properties.revenue") < 1):
        assert not matches(empty, subject)
        assert matches(~empty, subject)


def test_sequences() -> None:
    """followed_by needs a later event within the span; not_followed_by waits for the span to pass."""
    added = did("Product Added")
    bought_later = {
        "events": [event("Product Added", ago(hours=30)), event("Order Completed", ago(hours=2))]
    }
    bought_soon = {
        "events": [event("Product Added", ago(hours=30)), event("Order Completed", ago(hours=29))]
    }
    bought_before = {
        "events": [event("Order Completed", ago(hours=31)), event("Product Added", ago(hours=30))]
    }
    fresh = {"events": [event("Product Added", ago(hours=1))]}
    same_instant = {
        "events": [event("Product Added", ago(hours=30)), event("Order Completed", ago(hours=30))]
    }
    within = added.followed_by("Order Completed", within=hours(24))
    assert matches(within, bought_soon)
    assert not matches(within, bought_later)
    assert matches(added.followed_by("Order Completed"), bought_later)
    assert not matches(added.followed_by("Order Completed"), same_instant)
    abandoned = added.not_followed_by("Order Completed", within=hours(24))
    assert matches(abandoned, bought_later)
    assert matches(abandoned, bought_before)
    assert not matches(abandoned, bought_soon)
    assert not matches(abandoned, fresh)  # the 24 hours are not over yet
    assert matches(added.not_followed_by("Order Completed"), fresh)
    assert not matches(added.not_followed_by("Order Completed"), {})
    assert isinstance(abandoned, FollowedBy)


def test_segments() -> None:
    """in_segment looks in the subject's segments."""
    assert matches(in_segment("vip"), {"segments": ["vip"]})
    assert not matches(in_segment("vip"), {"segments": None})
    assert not matches(in_segment("vip"), {})


def test_constant_and_empty_combinations() -> None:
    """Empty all is true, empty any is false; one-element combinations are their element."""
    assert matches(All(rules=[]), {})
    assert not matches(AnyOf(rules=[]), {})
    assert matches(All(rules=[ALWAYS]), {})
    assert not matches(AnyOf(rules=[NEVER]), {})
    assert matches(All(rules=[ALWAYS, ALWAYS, ALWAYS]), {})
    assert matches(AnyOf(rules=[NEVER, NEVER, ALWAYS]), {})


# --- schema checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "path", "code"),
    [
        (trait("countyr") == "DE", "$.left.path", "unknown_field"),
        (trait("country") == 3, "$", "type"),
        ((trait("country") == "DE") & (trait("age") == "x"), "$.rules[1]", "type"),
        (trait("vip") == trait("age"), "$", "type"),
        (trait("country").is_in(["DE", 1]), "$.values[1]", "type"),
        (trait("age").between(1, "9"), "$.high", "type"),
        (trait("age").contains("1"), "$.arg", "type"),
        (trait("age").within_last(days=1), "$.field", "type"),
        (trait("signed_up").anniversary_within(days=1), "$.field", "type"),
        ((trait("country") + 1) == 2, "$.left.args[0]", "type"),
        (
            Compare(fn="eq", left=Concat(args=[Field(path="traits.age")]), right=Const(value="1")),
            "$.left.args[0]",
            "type",
        ),
        (local("hour", trait("country")) == 1, "$.left.of", "type"),
        (did("x").where(prop("colour") == "red"), "$.filter.where.left.path", "unknown_field"),
        (did("x").sum("properties.sku") > 1, "$.property", "type"),
        (did("x").sum("properties.nope") > 1, "$.property", "unknown_field"),
        (
            did("x").followed_by(did("y").where(prop("nope") == 1)),
            "$.then.where.left.path",
            "unknown_field",
        ),
        (~(trait("nope") == 1), "$.rule.left.path", "unknown_field"),
        (
            Compare(fn="lt", left=Field(path="traits.vip"), right=Field(path="traits.vip")),
            "$.fn",
            "type",
        ),
        (trait("age").substr(1) == "x", "$.left.arg", "type"),
        (when(trait("vip").is_in([True]), trait("age"), "x") == 1, "$.left", "type"),
        (when(trait("nope") == 1, 1, 2) == 1, "$.left.cases[0].when.left.path", "unknown_field"),
    ],
)
def test_schema_checks_name_the_path(rule: Rule, path: str, code: str) -> None:
    """Unknown fields and type mismatches are RuleErrors pointing into the rule."""
    with pytest.raises(RuleError) as caught:
        check_rule(rule, SCHEMA)
    assert (path, code) == (caught.value.errors[0].path, caught.value.errors[0].code)


def test_schema_rejects_unknown_types() -> None:
    """A schema names only the six types."""
    with pytest.raises(RuleError) as caught:
        Schema(fields={"traits.age": "int"})
    assert "$.fields.traits.age" == caught.value.errors[0].path


def test_well_typed_rules_pass_the_check() -> None:
    """Good rules, including every kind of node, check without errors."""
    rule = (
        (trait("country") == "DE")
        & (local("hour", trait("signed_up")) >= 9)
        & (did("x").where(prop("sku").starts_with("A")).count_distinct("properties.sku") > 1)
        & in_segment("vip")
        & (trait("age") * 2 > trait("score"))
        & trait("birthday").anniversary_within(days=3)
        & ALWAYS
    )
    check_rule(rule, SCHEMA)


def test_local_part_needs_a_known_part() -> None:
    """Only hour, weekday, day, month and year are parts."""
    with pytest.raises(RuleError):
        LocalPart(part="minute")  # type: ignore[arg-type]


@given(rule_cases())
def test_an_event_history_gives_the_same_answers_as_a_plain_list(case):
    """Property: the indexed, time-ordered history answers every rule as a scan of the list does."""
    _same_with_history(case)


@pytest.mark.slow
@settings(max_examples=3000)
@given(rule_cases())
def test_an_event_history_gives_the_same_answers_at_length(case):
    _same_with_history(case)


def test_an_event_history_keeps_the_window_edges():
    """Events exactly at the window's start and at now count; unsorted input is sorted."""
    from omnichannel.rules import EventHistory

    start = NOW - dt.timedelta(days=7)
    events = [
        {"event": "Order Completed", "timestamp": NOW},
        {"event": "Order Completed", "timestamp": start},
        {"event": "Order Completed", "timestamp": start - dt.timedelta(microseconds=1)},
        {"event": "Order Completed", "timestamp": NOW + dt.timedelta(microseconds=1)},
        {"event": "Order Completed", "timestamp": None},
    ]
    history = EventHistory(events)
    assert [e["timestamp"] for e in history] == sorted(
        e["timestamp"] for e in events if e["timestamp"] is not None
    )
    for subject in ({"events": events}, {"events": history}):
        assert matches(did("Order Completed").within(days=7).exactly(2), subject)
        assert matches(did_not("Email Opened").within(days=7), subject)
        assert matches(did(None).within(days=7).exactly(2), subject)
    cart = [
        {"event": "Order Completed", "timestamp": start - dt.timedelta(days=1)},
        {"event": "Product Added", "timestamp": start},  # exactly at the window's start
    ]
    abandoned = did("Product Added").within(days=7).not_followed_by("Order Completed")
    for subject in ({"events": cart}, {"events": EventHistory(cart)}):
        assert matches(abandoned, subject)
        assert not matches(
            did("Product Added").within(days=7).followed_by("Order Completed"), subject
        )


def _same_with_history(case):
    from omnichannel.rules import EventHistory

    now, rule, subjects = case
    test = compile_rule(rule)
    for subject in subjects:
        events = subject["events"]
        expected = test(subject, now)
        assert test({**subject, "events": EventHistory(events)}, now) == expected
        # Grown from a part, as a live feed grows it: in any order, and in time order
        # (the index is extended, once built or not).
        timed = sorted((e for e in events if e["timestamp"] is not None), key=_at)
        for ordered in (events, timed):
            half = len(ordered) // 2
            start = EventHistory(ordered[:half])
            start.named("Order Completed")  # build the index on one of the two
            for first in (start, EventHistory(ordered[:half])):
                grown = first.extended(ordered[half:])
                assert test({**subject, "events": grown}, now) == expected


def _at(event):
    from omnichannel.rules._python import as_instant

    return as_instant(event["timestamp"])
