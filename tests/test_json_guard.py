"""The JSON guard at the door: size, depth, finiteness, Unicode and plain types."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given

from omnichannel import ValidationError
from omnichannel._json import MAX_DEPTH, check_tree, load
from omnichannel.testing import json_objects

LIMIT = 32 * 1024


def _codes(value, **kwargs):
    with pytest.raises(ValidationError) as excinfo:
        load(value, max_bytes=kwargs.get("max_bytes", LIMIT))
    return [(e.path, e.code) for e in excinfo.value.errors]


@given(json_objects())
def test_plain_objects_load_as_equal_copies(obj):
    """A valid mapping comes back equal but never the same object (no shared state)."""
    loaded, size = load(obj, max_bytes=10**9)
    assert obj == loaded
    assert loaded is not obj
    assert len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()) == size


@given(json_objects())
def test_text_and_bytes_load_alike(obj):
    """JSON text, bytes and the mapping itself all read the same."""
    text = json.dumps(obj)
    assert load(text, max_bytes=10**9)[0] == load(text.encode(), max_bytes=10**9)[0] == obj


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": NaN}', [("$.a", "not_finite")]),
        ('{"a": [1, -Infinity]}', [("$.a[1]", "not_finite")]),
        ('{"a": 1e400, "b": {"c": -1e999}}', [("$.a", "not_finite"), ("$.b.c", "not_finite")]),
        ('{"a": ' + "9" * 400 + ".5}", [("$.a", "not_finite")]),
        ('{"a": "\\ud800"}', [("$.a", "invalid_unicode")]),
        ('{"\\udc00": 1}', [("$", "invalid_unicode")]),
        ("{not json", [("$", "invalid_json")]),
        (b'{"a": "\xff"}', [("$", "invalid_unicode")]),
    ],
)
def test_text_problems_are_located(raw, expected):
    """Each problem in JSON text is reported at the path where it sits."""
    assert expected == _codes(raw)


def test_high_surrogate_pairs_are_fine():
    """A correctly paired surrogate escape is an ordinary character."""
    assert {"a": "\U0001f600"} == load('{"a": "\\ud83d\\ude00"}', max_bytes=LIMIT)[0]


def test_lone_surrogate_in_python_text_is_rejected():
    """A Python str holding a lone surrogate cannot be UTF-8, so it is rejected."""
    assert [("$", "invalid_unicode")] == _codes('{"a": "\ud800"}')


def test_size_limit_counts_utf8_bytes():
    """The limit is on serialized UTF-8 bytes, checked before parsing."""
    assert [("$", "too_large")] == _codes('{"a": "' + "é" * LIMIT + '"}')
    assert [("$", "too_large")] == _codes({"a": "x" * LIMIT})


def test_nesting_beyond_the_limit_is_rejected():
    """Depth over MAX_DEPTH is an error wherever it happens, text or mapping, even very deep."""
    deep_ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load(deep_ok, max_bytes=LIMIT)[0] is not None
    too_deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert ("too_deep",) == tuple({code for _, code in _codes(too_deep)})
    very_deep = "[" * 20_000 + "]" * 20_000
    assert [("$", "too_deep")] == _codes(very_deep, max_bytes=10**6)
    nested: list[object] = []
    for _ in range(MAX_DEPTH + 5):
        nested = [nested]
    assert "too_deep" == _codes({"a": nested})[0][1]


def test_mapping_problems_are_located():
    """Non-JSON Python values in a mapping are reported at their paths."""
    assert [("$.when", "type")] == _codes({"when": dt.datetime(2024, 1, 1)})  # noqa: DTZ001
    assert [("$.a[1]", "not_finite")] == _codes({"a": [1, float("inf")]})
    assert [("$.s", "invalid_unicode")] == _codes({"s": "\udc80"})
    assert [("$", "type")] == _codes({(1, 2): "tuple key"})
    assert [("$", "invalid_unicode")] == _codes({"\udc80": 1})


def test_mapping_with_cycle_is_rejected():
    """A self-referencing mapping is reported (as too deep) instead of recursing forever."""
    loop: dict[str, object] = {}
    loop["self"] = loop
    assert "too_deep" == _codes(loop)[0][1]


def test_json_like_keys_and_mappings_follow_json_dumps():
    """Number keys become strings and any Mapping serializes, as json.dumps would."""
    from types import MappingProxyType

    assert {
        "1": "a",
        "x": {"y": 1},
    } == load({1: "a", "x": MappingProxyType({"y": 1})}, max_bytes=LIMIT)[0]


def test_wrong_top_level_type():
    """Only text, bytes or a mapping can be a message."""
    assert [("$", "type")] == _codes(42)


def test_check_tree_reports_non_string_keys_and_values():
    """The exact walk names every offending place."""
    assert [
        ("$", "type"),
        ("$.b", "type"),
    ] == [(e.path, e.code) for e in check_tree({object(): 1, "b": {1, 2}})]
