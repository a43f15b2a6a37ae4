"""JsonLogic: the official suite, type-strictly, and the JavaScript corners it rests on."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import RuleError, ValidationError
from omnichannel.rules import jsonlogic_apply, truthy
from omnichannel.testing import json_values
from support import CONFORMANCE, load_json

SUITE = CONFORMANCE / "jsonlogic" / "tests.json"
CASES = [case for case in load_json(SUITE) if not isinstance(case, str)] if SUITE.exists() else []


def same(a: Any, b: Any) -> bool:
    """JSON equality where True is not 1 (but 2 and 2.0 are one JSON number)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_the_official_suite_is_all_there():
    """The shared suite holds 277 cases (skipped where ../shared is absent, e.g. an sdist)."""
    if not SUITE.exists():
        pytest.skip(f"JsonLogic suite not found at {SUITE}")
    assert 277 == len(CASES)


@pytest.mark.parametrize(("logic", "data", "expected"), CASES)
def test_official_suite_case(logic, data, expected):
    """Each case of jsonlogic.com/tests.json gives exactly the expected value and type."""
    actual = jsonlogic_apply(logic, data)
    assert same(expected, actual), (expected, actual)


@pytest.mark.parametrize(
    ("logic", "expected"),
    [
        ({"==": [1, "1"]}, True),
        ({"==": [0, False]}, True),
        ({"==": [None, 0]}, False),
        ({"==": [[1], 1]}, True),
        ({"===": [1, True]}, False),
        ({"+": ["3.5abc", 1]}, 4.5),
        ({"-": ["3.5abc", 1]}, math.nan),
        ({"%": [-7, 3]}, -1),
        ({"/": [1, 0]}, math.inf),
        ({"cat": [1.0, None, True, [1, None, 2]]}, "1nulltrue1,,2"),
        ({"<": ["10", "9"]}, True),
        ({"<": [10, "9"]}, False),
        ({"!!": [[]]}, False),
        ({"!!": [{}]}, True),
        ({"substr": ["jsonlogic", -5, -2]}, "log"),
        ({"max": []}, -math.inf),
    ],
)
def test_javascript_corners(logic, expected):
    """Loose equality, parseFloat vs Number, JS modulo and division, String() and truthiness."""
    actual = jsonlogic_apply(logic)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert same(expected, actual)


def test_unknown_operators_are_rule_errors_with_their_path():
    """An unknown operator is a RuleError (a ValidationError) naming where it sits in the rule."""
    with pytest.raises(RuleError) as excinfo:
        jsonlogic_apply({"and": [True, {"or": [{"xor": [1, 2]}]}]})
    assert isinstance(excinfo.value, ValidationError)
    assert [("$.and[1].or[0].xor", "unknown_operator")] == [
        (e.path, e.code) for e in excinfo.value.errors
    ]


def test_truthiness_is_javascripts_except_for_empty_arrays():
    """0, "", null, NaN and [] are false; "0", {} and [0] are true."""
    assert [False, False, False, False, False, True, True, True] == [
        truthy(v) for v in (0, "", None, math.nan, [], "0", {}, [0])
    ]


KNOWN = ["==", "===", "!=", "!==", "<", "<=", ">", ">=", "!", "!!", "%", "+", "-", "*", "/", "min",
         "max", "merge", "in", "cat", "substr", "var", "missing", "missing_some", "if", "?:", "and",
         "or", "filter", "map", "reduce", "all", "some", "none", "log"]  # fmt: skip


@st.composite
def rules(draw: st.DrawFn, depth: int = 3) -> Any:
    if depth == 0 or draw(st.booleans()):
        return draw(json_values(max_leaves=3))
    op = draw(st.sampled_from(KNOWN))
    return {op: [draw(rules(depth=depth - 1)) for _ in range(draw(st.integers(0, 3)))]}


@given(rules(), json_values(max_leaves=6))
def test_rules_evaluate_or_raise_rule_error(logic, data):
    """Any rule on any JSON data evaluates, or raises RuleError (never a bare Python error)."""
    codes: set[str] = set()
    try:
        jsonlogic_apply(logic, data)
    except RuleError as exc:
        codes = {e.code for e in exc.errors}
    assert codes <= {"unknown_operator"}
