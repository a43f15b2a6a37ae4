"""Real-time membership: which segments one change can move, and what they become.

`Segmentation` is pure: given a profile's subject document, its current
memberships and what changed (event names, subject fields, or the clock),
it re-evaluates only the segments that can move, in reference order, and
returns the memberships after, the changes, and the timers of the
time-driven segments it evaluated. The Engine stores the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from omnichannel._time import plain_utc
from omnichannel.rules._python import Predicate, compile_rule
from omnichannel.rules._schema import Schema
from omnichannel.segments._reads import Reads, reads
from omnichannel.segments._segment import Segment, define_segments
from omnichannel.segments._timing import next_change


@attrs.frozen(kw_only=True)
class SegmentChange:
    """A profile entered or exited a segment, at an instant.

    `as_event` turns it into the ``Segment Entered`` / ``Segment Exited``
    track call other tools expect.

    .. versionadded:: 0.1.0
    """

    profile_id: str
    segment: str
    entered: bool
    at: dt.datetime

    @property
    def name(self) -> str:
        """``Segment Entered`` or ``Segment Exited``."""
        return "Segment Entered" if self.entered else "Segment Exited"

    def as_event(self) -> dict[str, Any]:
        """A Segment Spec track payload for this change (its message id is deterministic)."""
        at = self.at.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return {
            "type": "track",
            "event": self.name,
            "userId": self.profile_id,
            "messageId": f"segment:{self.segment}:{self.profile_id}:{self.entered:d}:{at}",
            "timestamp": at,
            "properties": {"segment_key": self.segment},
        }


@attrs.frozen(kw_only=True)
class Evaluation:
    """What re-evaluating one profile gave.

    ``members`` are its memberships after; ``changes`` the entries and
    exits; ``timers`` the next instant each evaluated time-driven segment
    may flip (None: only new data can flip it); ``evaluated`` how many rules ran.

    .. versionadded:: 0.1.0
    """

    members: frozenset[str]
    changes: tuple[SegmentChange, ...] = ()
    timers: Mapping[str, dt.datetime | None] = attrs.field(factory=dict)
    evaluated: int = 0


class Segmentation:
    """A checked set of segments, indexed by what each rule reads.

    Give the ``schema`` (and the batch SQL ``dialect``) to have every rule
    checked against them now, rather than when a batch first runs.

    Raises:
        RuleError: as `define_segments` (duplicates, unknown references,
            cycles, fields the ``schema`` does not know, rules the
            ``dialect`` cannot run).

    Examples:
        >>> import datetime as dt
        >>> from omnichannel.rules import did, trait
        >>> segmentation = Segmentation(
        ...     [
        ...         Segment(key="de", name="Germany", rule=trait("country") == "DE"),
        ...         Segment(key="buyers", name="Buyers", rule=did("Order Completed")),
        ...     ]
        ... )
        >>> [s.key for s in segmentation.affected(events=["Order Completed"])]
        ['buyers']
        >>> now = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
        >>> result = segmentation.evaluate(
        ...     "p1", {"traits": {"country": "DE"}, "events": []}, now, frozenset(), everything=True
        ... )
        >>> sorted(result.members), [c.name for c in result.changes]
        (['de'], ['Segment Entered'])

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        segments: Iterable[Segment],
        *,
        schema: Schema | None = None,
        dialect: str | None = None,
    ) -> None:
        self.segments: tuple[Segment, ...] = define_segments(
            segments, schema=schema, dialect=dialect
        )
        self.schema = schema
        self._position = {s.key: n for n, s in enumerate(self.segments)}
        self._tests: list[Predicate] = [compile_rule(s.rule) for s in self.segments]
        self._reads: list[Reads] = [reads(s.rule) for s in self.segments]
        self._by_event: dict[str, set[int]] = {}
        self._any_event: set[int] = set()
        self._readers: dict[str, set[int]] = {}
        for n, read in enumerate(self._reads):
            for name in read.events:
                self._by_event.setdefault(name, set()).add(n)
            if read.any_event:
                self._any_event.add(n)
            for key in read.segments:
                self._readers.setdefault(key, set()).add(n)
        # A changed path moves the rules that read it, anything under it, or a path above it:
        # ``under[p]`` holds the readers of p and of paths below p, ``exact[p]`` those of p.
        self._under: dict[str, set[int]] = {}
        self._exact: dict[str, set[int]] = {}
        for n, read in enumerate(self._reads):
            for path in read.fields:
                self._exact.setdefault(path, set()).add(n)
                for prefix in _prefixes(path):
                    self._under.setdefault(prefix, set()).add(n)
        self._timed = frozenset(n for n, read in enumerate(self._reads) if read.clock)
        self._historic = frozenset(
            n for n, read in enumerate(self._reads) if read.events or read.any_event
        )

    def __len__(self) -> int:
        return len(self.segments)

    def __contains__(self, key: object) -> bool:
        return key in self._position

    def __getitem__(self, key: str) -> Segment:
        return self.segments[self._position[key]]

    def _affected(self, events: Iterable[str], fields: Collection[str]) -> set[int]:
        found: set[int] = set()
        names = list(events)
        for name in names:
            found |= self._by_event.get(name, set())
        if names:
            found |= self._any_event
        for changed in fields:
            found |= self._under.get(changed, set())
            for prefix in _prefixes(changed)[:-1]:
                found |= self._exact.get(prefix, set())
        return found

    def affected(
        self, *, events: Iterable[str] = (), fields: Collection[str] = ()
    ) -> list[Segment]:
        """The segments new ``events`` (names) or changed subject ``fields`` can move."""
        return [self.segments[n] for n in sorted(self._affected(events, fields))]

    def evaluate(
        self,
        profile_id: str,
        subject: Mapping[str, Any],
        now: dt.datetime,
        members: frozenset[str],
        *,
        events: Iterable[str] = (),
        fields: Collection[str] = (),
        due: Iterable[str] | None = None,
        everything: bool = False,
        history: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> Evaluation:
        """Re-evaluate what can have moved for one profile; return what it is in now.

        The segments evaluated are those new ``events`` or changed ``fields``
        can move, the ``due`` ones (timers that fired), all of them when
        ``everything`` (a new or merged profile), and, in reference order,
        every segment that refers to one whose membership changed.
        ``subject["segments"]`` is set to the memberships as they change;
        ``history`` loads ``subject["events"]`` when a rule first needs them.
        """
        at, now = now, plain_utc(now)  # changes carry the caller's instant; arithmetic is stdlib
        todo = set(range(len(self.segments))) if everything else self._affected(events, fields)
        if due is not None:
            todo.update(self._position[k] for k in due if k in self._position)
        current = set(members)
        document = {**subject, "segments": current}
        changes: list[SegmentChange] = []
        timers: dict[str, dt.datetime | None] = {}
        evaluated = 0
        # Reference order puts every reader after what it reads, so one pass in order
        # also runs the readers a change adds to ``todo`` on the way.
        for n in range(min(todo, default=len(self.segments)), len(self.segments)):
            if n not in todo:
                continue
            key = self.segments[n].key
            if history is not None and n in self._historic and "events" not in document:
                document["events"] = history()
            holds = self._tests[n](document, now)
            evaluated += 1
            if holds != (key in current):
                if holds:
                    current.add(key)
                else:
                    current.discard(key)
                changes.append(
                    SegmentChange(profile_id=profile_id, segment=key, entered=holds, at=at)
                )
                todo.update(self._readers.get(key, ()))
            if n in self._timed:
                timers[key] = next_change(self.segments[n].rule, document, now)
        return Evaluation(
            members=frozenset(current), changes=tuple(changes), timers=timers, evaluated=evaluated
        )

    def evaluate_all(
        self, subjects: Sequence[tuple[str, Mapping[str, Any]]], now: dt.datetime
    ) -> dict[str, set[str]]:
        """Members of every segment over many subjects, from scratch (the reference answer)."""
        found: dict[str, set[str]] = {s.key: set() for s in self.segments}
        for profile_id, subject in subjects:
            result = self.evaluate(profile_id, subject, now, frozenset(), everything=True)
            for key in result.members:
                found[key].add(profile_id)
        return found


def _prefixes(path: str) -> list[str]:
    """``a``, ``a.b``, ``a.b.c`` for ``a.b.c``."""
    parts = path.split(".")
    return [".".join(parts[: n + 1]) for n in range(len(parts))]
