"""Segment definitions, checked when they are defined — never at 3 a.m. in a worker."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from omnichannel._jsonpath import child
from omnichannel.errors import FieldError, RuleError, ValidationError
from omnichannel.rules._jsonform import node_out
from omnichannel.rules._schema import Schema, check_rule
from omnichannel.rules._tree import Rule

if TYPE_CHECKING:
    from omnichannel.segments._preview import Preview

_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _key(_: object, attribute: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise ValidationError.one(
            f"$.{attribute.name}", "invalid", "must be 1 to 64 of a-z, 0-9, '_' and '-'"
        )


def _text(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise ValidationError.one(f"$.{attribute.name}", "type", "must be a string")


def _name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    _text(_, attribute, value)
    if not value.strip():
        raise ValidationError.one(f"$.{attribute.name}", "empty", "must not be blank")


def _rule(_: object, attribute: attrs.Attribute[Rule], value: Rule) -> None:
    if not isinstance(value, Rule):
        raise ValidationError.one(f"$.{attribute.name}", "type", "must be a rule")


def _tags(value: Iterable[Any]) -> frozenset[str]:
    tags = frozenset(value)
    if not all(isinstance(tag, str) and tag for tag in tags):
        raise ValidationError.one("$.tags", "type", "must hold non-empty strings")
    return tags


@attrs.frozen(kw_only=True)
class Segment:
    """A named group of people, defined by a rule.

    ``key`` names it for machines (``cart-abandoners``), ``name`` for people.

    Examples:
        >>> from omnichannel.rules import did
        >>> abandoners = Segment(
        ...     key="cart-abandoners",
        ...     name="Cart abandoners",
        ...     rule=did("Product Added").within(hours=24).not_followed_by("Order Completed"),
        ...     tags={"ecommerce"},
        ... )
        >>> print(abandoners.rule)
        did Product Added in the last 1 day not followed by Order Completed

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=_key)
    name: str = attrs.field(validator=_name)
    rule: Rule = attrs.field(validator=_rule)
    description: str = attrs.field(default="", validator=_text)
    tags: frozenset[str] = attrs.field(factory=frozenset, converter=_tags)

    def preview(
        self, source: Any, now: dt.datetime, *, sample: int = 10, schema: Schema | None = None
    ) -> Preview:
        """How many profiles of ``source`` this segment holds at ``now``, and a sample.

        ``source``: an Engine, ``(profile id, subject)`` pairs, or
        ``{"profiles": ..., "events": ...}`` frames with their ``schema``
        (see `omnichannel.segments.preview`).
        """
        from omnichannel.segments._preview import preview

        return preview(self, source, now, sample=sample, schema=schema)


def _references(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every ``(segment key, path)`` a rule's JSON form refers to."""
    if isinstance(node, Mapping):
        if node.get("op") == "segment":
            yield node["segment"], child(where, "segment")
        for key, value in node.items():
            yield from _references(value, child(where, key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _references(value, f"{where}[{n}]")


def define_segments(
    segments: Iterable[Segment],
    *,
    schema: Schema | None = None,
    dialect: str | None = None,
) -> tuple[Segment, ...]:
    """Check a set of segments together; return them ordered so references come first.

    Refused, with every problem's path (``$[2].rule.rules[0].segment``):
    duplicate keys, references to unknown segments, reference cycles, and —
    when given — fields the ``schema`` does not know or rules the SQL
    ``dialect`` cannot run.

    Examples:
        >>> from omnichannel.rules import in_segment, trait
        >>> german = Segment(key="de", name="Germany", rule=trait("country") == "DE")
        >>> vip_de = Segment(
        ...     key="vip-de", name="German VIPs", rule=in_segment("de") & in_segment("vip")
        ... )
        >>> define_segments([vip_de, german])
        Traceback (most recent call last):
        ...
        omnichannel.errors.RuleError: 1 validation error
          $[0].rule.rules[1].segment: no segment has the key 'vip' [unknown_segment]

    .. versionadded:: 0.1.0
    """
    items: list[Any] = list(segments)  # checked one by one below
    errors: list[FieldError] = []
    index: dict[str, int] = {}
    for n, segment in enumerate(items):
        if not isinstance(segment, Segment):
            errors.append(FieldError(path=f"$[{n}]", code="type", message="must be a Segment"))
        elif segment.key in index:
            errors.append(
                FieldError(
                    path=f"$[{n}].key",
                    code="duplicate",
                    message=f"{segment.key!r} is defined twice",
                )
            )
        else:
            index[segment.key] = n
    if errors:
        raise RuleError(errors)
    needs: dict[str, list[str]] = {}
    for n, segment in enumerate(items):
        needs[segment.key] = []
        for key, path in _references(node_out(segment.rule), f"$[{n}].rule"):
            if key in index:
                needs[segment.key].append(key)
            else:
                errors.append(
                    FieldError(
                        path=path, code="unknown_segment", message=f"no segment has the key {key!r}"
                    )
                )
        errors += _checked(segment.rule, f"$[{n}].rule", schema, dialect)
    if errors:
        raise RuleError(errors)
    return tuple(items[index[key]] for key in _ordered(needs, index))


def _checked(
    rule: Rule, where: str, schema: Schema | None, dialect: str | None
) -> list[FieldError]:
    if schema is None:
        if dialect is not None:
            raise RuleError.one("$", "required", "checking a dialect needs the schema too")
        return []
    try:
        check_rule(rule, schema)
        if dialect is not None:
            from omnichannel.rules._sql import to_sql

            to_sql(
                rule,
                schema=schema,
                now=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
                dialect=dialect,
            )
    except RuleError as error:
        return [e.under(where) for e in error.errors]
    return []


def _ordered(needs: Mapping[str, list[str]], index: Mapping[str, int]) -> list[str]:
    """Keys with every segment after those it refers to; a cycle is a RuleError."""
    order: list[str] = []
    state: dict[str, str] = {}  # "open" while its references are visited, "done" after

    def visit(key: str, trail: list[str]) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "open":
            cycle = [*trail[trail.index(key) :], key]
            raise RuleError.one(
                f"$[{index[key]}].rule",
                "cycle",
                "segments refer to each other: " + " -> ".join(cycle),
            )
        state[key] = "open"
        for needed in needs[key]:
            visit(needed, [*trail, key])
        state[key] = "done"
        order.append(key)

    for key in needs:
        visit(key, [])
    return order
