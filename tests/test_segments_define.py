"""Segment definitions: checked together, ordered so references come first."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import RuleError, ValidationError, converter
from omnichannel.rules import ALWAYS, Schema, in_segment, local, trait
from omnichannel.segments import Segment, define_segments


def segment(key: str, rule: Any = ALWAYS) -> Segment:
    return Segment(key=key, name=key.upper(), rule=rule)


@st.composite
def acyclic_sets(draw: st.DrawFn) -> list[Segment]:
    count = draw(st.integers(1, 8))
    keys = [f"s{n}" for n in range(count)]
    made = []
    for n, key in enumerate(keys):
        # Each segment may refer only to earlier ones: no cycles by construction.
        refs = draw(st.lists(st.sampled_from(keys[:n]), unique=True)) if n else []
        rule = ALWAYS
        for ref in refs:
            rule = rule & in_segment(ref)
        made.append(segment(key, rule))
    return draw(st.permutations(made))


@given(acyclic_sets())
def test_every_segment_comes_after_those_it_refers_to(segments: list[Segment]) -> None:
    """The returned order puts each segment after every segment its rule names."""
    ordered = define_segments(segments)
    assert sorted(s.key for s in segments) == sorted(s.key for s in ordered)
    position = {s.key: n for n, s in enumerate(ordered)}
    for s in ordered:
        for ref in s.rule.rules if hasattr(s.rule, "rules") else ():
            if hasattr(ref, "segment"):
                assert position[ref.segment] < position[s.key]


@pytest.mark.parametrize(
    ("segments", "path", "code"),
    [
        ([segment("a"), segment("a")], "$[1].key", "duplicate"),
        ([segment("a", in_segment("b"))], "$[0].rule.segment", "unknown_segment"),
        ([segment("a", ~in_segment("a"))], "$[0].rule", "cycle"),
        (
            [
                segment("a", in_segment("b")),
                segment("b", in_segment("c")),
                segment("c", in_segment("a")),
            ],
            "$[0].rule",
            "cycle",
        ),
        ([segment("a"), "b"], "$[1]", "type"),
    ],
)
def test_bad_definitions_name_the_place(segments: list[Any], path: str, code: str) -> None:
    """Duplicates, unknown references and cycles fail at definition time, with a path."""
    with pytest.raises(RuleError) as caught:
        define_segments(segments)
    assert (path, code) == (caught.value.errors[0].path, caught.value.errors[0].code)


def test_cycles_are_named_in_the_message() -> None:
    """The error says which segments refer to each other."""
    with pytest.raises(RuleError, match="a -> b -> a"):
        define_segments([segment("a", in_segment("b")), segment("b", in_segment("a"))])


def test_schema_and_dialect_are_checked_when_given() -> None:
    """Unknown fields and what the batch dialect cannot run fail now, not in a worker."""
    schema = Schema(fields={"traits.country": "text"})
    with pytest.raises(RuleError) as caught:
        define_segments([segment("de", trait("countyr") == "DE")], schema=schema)
    assert "$[0].rule.left.path" == caught.value.errors[0].path
    with pytest.raises(RuleError) as caught:
        define_segments([segment("office", local("hour") > 9)], schema=schema, dialect="sqlite")
    assert ("$[0].rule.left", "unsupported") == (
        caught.value.errors[0].path,
        caught.value.errors[0].code,
    )
    assert 1 == len(
        define_segments([segment("office", local("hour") > 9)], schema=schema, dialect="duckdb")
    )
    with pytest.raises(RuleError):
        define_segments([segment("a")], dialect="duckdb")


@pytest.mark.parametrize(
    ("fields", "path", "code"),
    [
        ({"key": "Not A Key"}, "$.key", "invalid"),
        ({"name": "  "}, "$.name", "empty"),
        ({"name": 3}, "$.name", "type"),
        ({"rule": "country is DE"}, "$.rule", "type"),
        ({"description": None}, "$.description", "type"),
        ({"tags": ["", "x"]}, "$.tags", "type"),
    ],
)
def test_segments_validate_their_fields(fields: dict[str, Any], path: str, code: str) -> None:
    """Each field of a Segment is checked at construction."""
    with pytest.raises(ValidationError) as caught:
        Segment(**{"key": "ok", "name": "OK", "rule": ALWAYS, **fields})
    assert (path, code) == (caught.value.errors[0].path, caught.value.errors[0].code)


def test_segments_travel_as_json() -> None:
    """A segment round-trips through the converter, its rule in the versioned form."""
    original = Segment(key="de", name="Germany", rule=trait("country") == "DE", tags={"geo"})
    data = converter.unstructure(original)
    assert 1 == data["rule"]["omnichannel.rule"]
    assert original == converter.structure(data, Segment)
