"""Preview a segment before it goes live: how many people, and a few of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from omnichannel.errors import ValidationError
from omnichannel.models._check import whole
from omnichannel.rules._python import compile_rule
from omnichannel.rules._schema import Schema
from omnichannel.segments._segment import Segment

#: How many member ids a preview shows by default.
SAMPLE_SIZE = 10


@attrs.frozen(kw_only=True)
class Preview:
    """What a segment would hold: ``count`` of ``total`` profiles, and a ``sample`` of ids.

    The sample is the first ids in sorted order, so a preview is repeatable.

    .. versionadded:: 0.1.0
    """

    segment: str
    count: int
    total: int
    sample: tuple[str, ...]

    @property
    def share(self) -> float:
        """``count / total`` (0 for no profiles)."""
        return self.count / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.segment}: {self.count} of {self.total} profiles ({self.share:.1%})"


def preview(
    segment: Segment,
    source: Any,
    now: dt.datetime,
    *,
    sample: int = SAMPLE_SIZE,
    schema: Schema | None = None,
) -> Preview:
    """Evaluate ``segment`` over ``source`` at ``now`` without storing anything.

    ``source`` is an Engine (its profiles, read as the real-time path reads
    them, with their stored memberships for ``in_segment``), an iterable of
    ``(profile id, subject)`` pairs, or a mapping with ``profiles`` and
    ``events`` frames (DataFrames, Arrow tables or Parquet paths) run in SQL
    on DuckDB (give the ``schema`` they follow).

    Raises:
        ValidationError: ``sample`` is negative, or frames without a schema.
        RuleError: the rule does not fit the schema (frames).

    Examples:
        >>> import datetime as dt
        >>> from omnichannel.rules import trait
        >>> germans = Segment(key="de", name="Germany", rule=trait("country") == "DE")
        >>> people = [("p1", {"traits": {"country": "DE"}}), ("p2", {"traits": {}})]
        >>> print(preview(germans, people, dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)))
        de: 1 of 2 profiles (50.0%)

    .. versionadded:: 0.1.0
    """
    whole("$.sample", sample)
    if isinstance(source, Mapping):
        return _in_sql(segment, source, now, sample, schema)
    subjects: Iterable[tuple[str, Mapping[str, Any]]] = (
        source.subjects() if callable(getattr(source, "subjects", None)) else source
    )
    test = compile_rule(segment.rule)
    members: list[str] = []
    total = 0
    for profile_id, subject in subjects:
        total += 1
        if test(subject, now):
            members.append(profile_id)
    members.sort()
    return Preview(
        segment=segment.key, count=len(members), total=total, sample=tuple(members[:sample])
    )


def _in_sql(
    segment: Segment,
    frames: Mapping[str, Any],
    now: dt.datetime,
    sample: int,
    schema: Schema | None,
) -> Preview:
    from omnichannel.segments._batch import batch_members, count_rows

    if schema is None:
        raise ValidationError.one("$.schema", "required", "frames need the schema they follow")
    unknown = sorted(set(frames) - {"profiles", "events"})
    if unknown:
        raise ValidationError.one(f"$.source.{unknown[0]}", "invalid", "expected profiles, events")
    found = batch_members(
        [segment],
        schema=schema,
        now=now,
        profiles=frames.get("profiles"),
        events=frames.get("events"),
    )[segment.key]
    members = sorted(found)
    return Preview(
        segment=segment.key,
        count=len(members),
        total=count_rows(frames.get("profiles")),
        sample=tuple(members[:sample]),
    )
