"""The Engine's core: one person across channels, kept in a Store.

`EngineCore` is what `omnichannel.engine.Engine` is built on and what
`omnichannel.delivery` and `omnichannel.journeys` are given: it is the
imperative shell around the pure core: it reads the clock, opens a
Store transaction per ingest (or per batch), asks `omnichannel.identity` who
the event belongs to and `omnichannel.state` what the person looks like now,
and writes the outcome back — all of it, or nothing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pendulum

from omnichannel._convert import converter
from omnichannel._gc import collector_paused
from omnichannel._time import format_timestamp, parse_timestamp
from omnichannel.clock import Clock, SystemClock
from omnichannel.errors import FieldError, StoreError, ValidationError
from omnichannel.identity import IdentityRules, Key, Link, MergeRecord, Resolution, resolve
from omnichannel.ingest import parse_segment
from omnichannel.models import Event, Identity, Profile
from omnichannel.rules import EventHistory
from omnichannel.segments import (
    Evaluation,
    Segment,
    Segmentation,
    SegmentChange,
    Verdict,
    explain,
)
from omnichannel.segments._subject import (
    EventDocs,
    changed_fields,
    event_name,
    subject_events,
    subject_of,
)
from omnichannel.state import BUILT_IN, ProfileState, Reducer, advance, build_profile, fold
from omnichannel.store import IdentityRow, ProfileRow, Store, Transaction, open_store

__all__ = ["Committing", "EngineCore", "Erasure", "Explanation", "IngestResult"]

log = logging.getLogger("omnichannel")
_E = TypeVar("_E", bound="EngineCore")
_T = TypeVar("_T")

#: How many times a transaction that lost a race with another writer is run (PostgreSQL).
CONFLICT_ATTEMPTS = 20

#: Default database file of an Engine built without a store.
DEFAULT_PATH = "omnichannel.db"
EXPORT_FORMAT = "omnichannel.profile-export/1"
#: How many profiles' last segment subjects the Engine keeps to diff the next event against.
SUBJECT_MEMORY = 65_536


@attrs.define
class _Work:
    """What the open transaction changed, to be written once by `EngineCore._flush`."""

    now: pendulum.DateTime
    # Profiles changed: their identifiers and latest state, by id.
    pending: dict[str, tuple[frozenset[Identity], ProfileState[Any]]] = attrs.Factory(dict)
    # Their state before the transaction; None when every segment must be evaluated again
    # (a new profile, or one whose identifiers changed).
    before: dict[str, ProfileState[Any] | None] = attrs.Factory(dict)
    # The events filed under each (their names feed the segment index).
    filed: dict[str, list[Event]] = attrs.Factory(dict)
    # Memberships of profiles deleted by a merge: they exit those segments.
    gone: dict[str, frozenset[str]] = attrs.Factory(dict)
    # Where each deleted profile's people went: the profile that now holds its identifiers.
    moved: dict[str, str] = attrs.Factory(dict)
    changes: list[SegmentChange] = attrs.Factory(list)


@attrs.define
class _Frame:
    """The outermost open transaction of a thread, and what waits for its commit."""

    tx: Transaction
    # Profile states to cache and segment changes to announce once it has committed.
    staged: dict[str, tuple[int, ProfileState[Any]]] = attrs.Factory(dict)
    changes: list[SegmentChange] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class Committing:
    """What a transaction is about to commit, for hooks that act inside it (`EngineCore.add_hook`).

    ``events``: the events filed, by profile id, in the order ingested;
    ``states``: those profiles' states after them; ``changes``: segment
    entries and exits; ``moved``: each profile deleted by identity resolution
    (merged into another, or renamed when an earlier sighting of one of its
    identifiers arrived) -> the profile that now holds its identifiers.

    .. versionadded:: 0.1.0
    """

    tx: Transaction
    now: pendulum.DateTime
    events: Mapping[str, Sequence[Event]]
    states: Mapping[str, ProfileState[Any]]
    changes: Sequence[SegmentChange]
    moved: Mapping[str, str]


@attrs.frozen
class _Settled:
    """A profile's state when its segments were last settled, its subject and history.

    ``history`` is None when no rule read the events then.
    """

    state: ProfileState[Any]
    subject: dict[str, Any]
    history: list[dict[str, Any]] | None


class _Loader:
    """Loads a profile's history when a rule first needs it, and keeps what it loaded."""

    def __init__(self, load: Callable[[], list[dict[str, Any]]]) -> None:
        self.load = load
        self.value: list[dict[str, Any]] | None = None

    def __call__(self) -> list[dict[str, Any]]:
        self.value = self.load()
        return self.value


def _joined(history: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A kept history with new events' documents: the same object when there are none."""
    if not new:
        return history
    if isinstance(history, EventHistory):
        return history.extended(new)
    return EventHistory([*history, *new])  # pragma: no cover - kept histories are indexed


@attrs.frozen(kw_only=True)
class IngestResult:
    """What one ingest did: the profile the event belongs to, or that it was a duplicate.

    .. versionadded:: 0.1.0
    """

    message_id: str
    profile_id: str | None
    duplicate: bool = False
    merged: tuple[str, ...] = ()
    #: Segments entered and exited because of this ingest (on the last result of a batch
    #: for each profile: memberships are settled once per transaction).
    segments: tuple[SegmentChange, ...] = ()


@attrs.frozen(kw_only=True)
class Explanation:
    """Why a profile is what it is: its identifiers and every link decision about them.

    .. versionadded:: 0.1.0
    """

    profile_id: str
    identities: frozenset[Identity]
    decisions: tuple[MergeRecord, ...]
    events: int

    def __str__(self) -> str:
        lines = [
            f"profile {self.profile_id}: {len(self.identities)} identifiers, {self.events} events"
        ]
        for record in self.decisions:
            link = record.link
            why = f" ({record.reason})" if record.reason else ""
            lines.append(
                f"  {link.at.isoformat()} {link.message_id}: {link.a} ~ {link.b}"
                f" -> {record.outcome}{why}"
            )
        return "\n".join(lines)


@attrs.frozen(kw_only=True)
class Erasure:
    """Receipt of an erasure: what was removed, and the keyed hashes kept for suppression.

    .. versionadded:: 0.1.0
    """

    profile_id: str
    identities: int
    events: int
    suppressed: tuple[str, ...]


class EngineCore:
    """Know each customer as one person: ingest their events, read their profile.

    Args:
        store: Where everything is kept: a `Store`, a ``postgresql://`` URL
            for a `PostgresStore`, or a path for a `SQLiteStore` (default
            ``omnichannel.db`` in the working directory).
        clock: Where ``now`` comes from (`SystemClock` by default; tests pass
            a `FixedClock`).
        rules: How identifiers are read from events and may merge.
        reducers: The profile-state reducers (built-ins by default; add your
            own with `omnichannel.state.with_reducers`).
        dedupe_window: A message id seen again within this window is ignored.
        segments: The segments whose memberships the engine keeps current (a
            `Segmentation`, or `Segment` definitions, checked here).

    Examples:
        >>> from omnichannel.store import MemoryStore
        >>> engine = EngineCore(MemoryStore())
        >>> result = engine.ingest(
        ...     {
        ...         "type": "identify",
        ...         "userId": "u1",
        ...         "anonymousId": "a1",
        ...         "traits": {"email": "Ann@Example.com"},
        ...         "timestamp": "2024-03-05T10:00:00Z",
        ...     }
        ... )
        >>> profile = engine.profile(Identity(kind="email", value="ann@example.com"))
        >>> profile.id == result.profile_id, sorted(str(i) for i in profile.identities)
        (True, ['anonymous_id:a1', 'email:ann@example.com', 'user_id:u1'])

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        store: Store | str | Path | None = None,
        *,
        clock: Clock | None = None,
        rules: IdentityRules | None = None,
        reducers: Sequence[Reducer[Any]] = BUILT_IN,
        dedupe_window: pendulum.Duration | None = None,
        segments: Segmentation | Iterable[Segment] = (),
    ) -> None:
        self.store: Store = (
            store
            if store is not None and not isinstance(store, (str, Path))
            else open_store(store or DEFAULT_PATH)
        )
        self.clock = clock or SystemClock()
        self.rules = rules or IdentityRules()
        self.reducers = tuple(reducers)
        self.dedupe_window = dedupe_window or pendulum.duration(hours=24)
        self.segmentation = (
            segments if isinstance(segments, Segmentation) else Segmentation(segments)
        )
        # Per-process cache of folded state, trusted only while the profile's version matches.
        self._states: dict[str, tuple[int, ProfileState[Any]]] = {}
        self._known_links: dict[frozenset[Identity], Key] = {}
        self._listeners: list[Callable[[Sequence[SegmentChange]], object]] = []
        self._event_docs = EventDocs()
        # The subject of the state last settled, per profile: the next event's "before".
        self._settled: dict[str, _Settled] = {}
        self._hooks: list[Callable[[Committing], object]] = []
        self._frames = threading.local()

    # --- transactions -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One store transaction that the engine's calls inside the block join.

        Ingests, profile reads and ``Delivery.send(..., tx=tx)`` made inside
        commit together, or (when the block raises) not at all. Listeners
        hear of segment changes, and states are cached, after the commit.
        """
        with self._frame() as frame:
            yield frame.tx

    @contextmanager
    def _frame(self) -> Iterator[_Frame]:
        frame: _Frame | None = getattr(self._frames, "open", None)
        if frame is not None:
            yield frame  # nested: joins the thread's open transaction
            return
        with self.store.transaction() as tx:
            frame = _Frame(tx)
            self._frames.open = frame
            try:
                yield frame
            finally:
                self._frames.open = None
        # Committed: only now may its states be trusted, and its changes told.
        self._states.update(frame.staged)
        if frame.changes:
            self._announce(frame.changes)

    def atomically(self, work: Callable[[Transaction], _T]) -> _T:
        """Run ``work(tx)`` in one transaction, again if it lost a race with another writer.

        With `omnichannel.store.PostgresStore` and many processes, PostgreSQL
        may end a transaction to break a deadlock (two merges of the same
        people at once); nothing of it was written, and ``work`` runs again
        on what the other writer left, up to `CONFLICT_ATTEMPTS` times.
        Every ingest does this itself. Inside an open `transaction` block
        ``work`` just joins it: only the whole block could be run again.

        Raises:
            StoreError: ``conflict`` after the last attempt, or any other
                store failure at once.
        """
        return self._retrying(lambda: self._in_frame(work))

    def _in_frame(self, work: Callable[[Transaction], _T]) -> _T:
        with self._frame() as frame:
            return work(frame.tx)

    def _retrying(self, attempt: Callable[[], _T]) -> _T:
        if getattr(self._frames, "open", None) is not None:
            return attempt()  # inside the caller's transaction: only the caller can rerun it
        for number in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return attempt()
            except StoreError as error:  # noqa: PERF203 - one try per attempt is the point
                if error.code != "conflict" or number == CONFLICT_ATTEMPTS:
                    raise
                log.debug("transaction conflict (attempt %d): %s", number, error)
                # Apart, with jitter, so the two writers that collided do not collide again.
                time.sleep(random.uniform(0, 0.005 * number))  # noqa: S311 - not a secret
        raise AssertionError("unreachable")  # pragma: no cover

    def add_hook(self, hook: Callable[[Committing], object]) -> None:
        """Call ``hook`` inside every ingest's (and `refresh`'s) transaction, before it commits.

        What the hook writes through ``committing.tx`` commits with the events
        (or not at all); an exception it raises rolls the whole transaction
        back and propagates. `omnichannel.journeys.JourneyRunner` uses this to
        enter, move and end journeys exactly once per event.
        """
        self._hooks.append(hook)

    def _run_hooks(self, tx: Transaction, work: _Work) -> None:
        if not self._hooks or not (work.filed or work.changes or work.moved):
            return
        committing = Committing(
            tx=tx,
            now=work.now,
            events=work.filed,
            states={pid: state for pid, (_, state) in work.pending.items()},
            changes=tuple(work.changes),
            moved=dict(work.moved),
        )
        for hook in self._hooks:
            hook(committing)

    # --- writing ------------------------------------------------------------------------

    def ingest(self, payload: Event | Mapping[str, Any] | str | bytes) -> IngestResult:
        """Ingest one event (a Segment Spec payload or an `Event`) in one transaction.

        Raises:
            ValidationError: the payload is invalid (paths rooted at it:
                ``$.properties``); nothing was stored.
        """
        try:
            return self.ingest_many([payload])[0]
        except ValidationError as error:
            # ingest_many numbers its payloads ($[0].properties); here there was one.
            raise ValidationError(
                attrs.evolve(e, path="$" + e.path.removeprefix("$[0]")) for e in error.errors
            ) from None

    def ingest_many(
        self, payloads: Iterable[Event | Mapping[str, Any] | str | bytes]
    ) -> list[IngestResult]:
        """Ingest several events in one transaction: all are stored, or (on any error) none.

        Raises:
            ValidationError: some payload is invalid (paths rooted at its index,
                ``$[3].event``); nothing was stored.
        """
        return self._ingest_events(list(payloads))

    def _ingest_events(
        self,
        payloads: list[Event | Mapping[str, Any] | str | bytes],
        only: frozenset[Identity] | None = None,
    ) -> list[IngestResult]:
        if len(payloads) > 1:
            with collector_paused():
                return self._ingest_in_one_transaction(payloads, only)
        return self._ingest_in_one_transaction(payloads, only)

    def _ingest_in_one_transaction(
        self,
        payloads: list[Event | Mapping[str, Any] | str | bytes],
        only: frozenset[Identity] | None,
    ) -> list[IngestResult]:
        return self._retrying(lambda: self._ingest_attempt(payloads, only))

    def _ingest_attempt(
        self,
        payloads: list[Event | Mapping[str, Any] | str | bytes],
        only: frozenset[Identity] | None,
    ) -> list[IngestResult]:
        results: list[IngestResult] = []
        with self._frame() as frame:
            tx = frame.tx
            # The clock is read once the write lock is held, so events that carry no time of
            # their own are stamped in the order writers get their turn (no late-event refolds).
            work = _Work(now=self.clock.now())
            events = self._parse_all(payloads, work.now)
            results.extend(self._ingest_one(tx, event, work, only) for event in events)
            self._flush(tx, work, frame.staged)
            self._run_hooks(tx, work)
            frame.changes.extend(work.changes)
        if work.changes:
            results = _with_changes(results, work.changes)
        return results

    def _parse_all(
        self, payloads: Iterable[Event | Mapping[str, Any] | str | bytes], now: pendulum.DateTime
    ) -> list[Event]:
        events: list[Event] = []
        errors: list[FieldError] = []
        for index, payload in enumerate(payloads):
            if isinstance(payload, Event):
                events.append(payload)
                continue
            try:
                events.append(parse_segment(payload, received_at=now))
            except ValidationError as exc:
                errors.extend(e.under(f"$[{index}]") for e in exc.errors)
        if errors:
            raise ValidationError(errors)
        return events

    def _ingest_one(
        self,
        tx: Transaction,
        event: Event,
        work: _Work,
        only: frozenset[Identity] | None = None,
    ) -> IngestResult:
        if not tx.remember_message(event.message_id, event.received_at, self.dedupe_window):
            log.debug("duplicate message_id=%s type=%s", event.message_id, event.type.value)
            return IngestResult(message_id=event.message_id, profile_id=None, duplicate=True)
        ids = self.rules.identities(event)
        if only is not None:
            # An imported event may name identifiers that belonged to someone else.
            ids = [i for i in ids if i in only] or ids[:1]
        key: Key = (event.timestamp, event.message_id)
        rows = tx.identity_rows(ids)
        new_links = [link for link in self.rules.links(event, ids) if self._link_is_news(tx, link)]
        merged: tuple[str, ...] = ()
        membership: Mapping[str, frozenset[Identity]] = {}
        if new_links or any(i not in rows or key < rows[i].first_seen for i in ids):
            tx.put_links(new_links)
            result, before = self._reresolve(tx, ids, key, work)
            ours = {(frozenset((link.a, link.b)), link.message_id) for link in new_links}
            records = [
                r
                for r in result.log
                if (frozenset((r.link.a, r.link.b)), r.link.message_id) in ours
            ]
            self._log_decisions(tx, records)
            merged = tuple(r.absorbed for r in records if r.outcome == "merged" and r.absorbed)
            membership = result.profiles
            profile_id = result.profile_of[ids[0]]
            touched = set(membership) | {profile_id}
        else:
            profile_id = rows[ids[0]].profile_id
            touched = {profile_id}
            before = set()
        tx.append_event(event, ids[0])
        for pid in sorted(touched):
            filed = (event, ids) if pid == profile_id else None
            self._refresh(tx, pid, membership.get(pid), filed, work)
        work.filed.setdefault(profile_id, []).append(event)
        for gone in before - touched:
            # Deleted by the re-resolution: nothing of it may be written back or trusted.
            work.pending.pop(gone, None)
            self._states.pop(gone, None)
        log.debug(
            "ingested message_id=%s type=%s profile=%s identifiers=%d",
            event.message_id,
            event.type.value,
            profile_id,
            len(ids),
        )
        return IngestResult(message_id=event.message_id, profile_id=profile_id, merged=merged)

    def _link_is_news(self, tx: Transaction, link: Link) -> bool:
        pair = frozenset((link.a, link.b))  # unordered, and cheaper than ordering Identities
        known = self._known_links.get(pair)
        # A stored pair's key only ever decreases, so a cached key at or before ours settles it.
        if known is not None and known <= link.key:
            return False
        for stored in tx.links_of([link.a]):
            if {stored.a, stored.b} == {link.a, link.b}:
                self._known_links[pair] = stored.key
                return link.key < stored.key
        return True

    def _component(
        self, tx: Transaction, start: Iterable[Identity]
    ) -> tuple[set[Identity], list[Link]]:
        """Every identifier linked (transitively, whatever the policy said) to ``start``."""
        members = set(start)
        frontier = set(members)
        links: dict[tuple[Identity, Identity], Link] = {}
        while frontier:
            found = tx.links_of(frontier)
            frontier = set()
            for link in found:
                links[(link.a, link.b)] = link
                for end in (link.a, link.b):
                    if end not in members:
                        members.add(end)
                        frontier.add(end)
        return members, list(links.values())

    def _reresolve(
        self, tx: Transaction, start: Iterable[Identity], key: Key | None, work: _Work
    ) -> tuple[Resolution, set[str]]:
        """Resolve the component around ``start`` again and store who now belongs where.

        ``key`` is when the identifiers in ``start`` were seen (None for an
        operator action). Returns the resolution and the profile ids before it.
        """
        result, rows, first_seen, members = self._around(tx, start, key)
        wanted = {
            i: IdentityRow(profile_id=result.profile_of[i], first_seen=first_seen[i])
            for i in members
        }
        tx.put_identity_rows({i: row for i, row in wanted.items() if rows.get(i) != row})
        before = {row.profile_id for row in rows.values()}
        for gone in before - set(result.profiles):
            work.gone[gone] = work.gone.get(gone, frozenset()) | tx.memberships(gone)
            heirs = {result.profile_of[i] for i, row in rows.items() if row.profile_id == gone}
            if heirs:
                work.moved[gone] = min(heirs)
            tx.delete_profile(gone)
        return result, before

    def _around(
        self, tx: Transaction, start: Iterable[Identity], key: Key | None
    ) -> tuple[Resolution, dict[Identity, IdentityRow], dict[Identity, Key], set[Identity]]:
        """Resolve, from what is stored, the component around ``start`` (writes nothing).

        ``key`` is when the identifiers in ``start`` were just seen (None: not seen now).
        Returns the resolution, the stored rows, first sightings and the members.
        """
        seen_now = set(start) if key is not None else set()
        members, links = self._component(tx, start)
        rows = tx.identity_rows(members)
        first_seen: dict[Identity, Key] = {}
        for identity in members:
            known = rows[identity].first_seen if identity in rows else None
            if key is not None and identity in seen_now and (known is None or key < known):
                known = key
            if known is None:  # pragma: no cover - every linked identifier has a row
                raise ValidationError.one("$.identities", "invalid", f"no row for {identity.kind}")
            first_seen[identity] = known
        result = resolve(
            first_seen=first_seen,
            links=links,
            policy=self.rules.policy,
            separations=tx.separations_of(members),
        )
        return result, rows, first_seen, members

    def _log_decisions(self, tx: Transaction, records: list[MergeRecord]) -> None:
        tx.append_merge_log(records)
        for record in records:
            # Ids and outcomes only: identifier values are personal data and stay out of logs.
            log.info(
                "identity %s message_id=%s survivor=%s absorbed=%s reason=%s",
                record.outcome,
                record.link.message_id,
                record.survivor,
                record.absorbed,
                record.reason,
            )

    def _refresh(
        self,
        tx: Transaction,
        profile_id: str,
        members: frozenset[Identity] | None,
        filed: tuple[Event, list[Identity]] | None,
        work: _Work,
    ) -> None:
        """Bring a profile's state up to date in ``work.pending`` (written by `_flush`).

        ``members`` is the profile's new membership (None: unchanged); ``filed``
        the event just filed under it with its identifiers (None: only the
        membership changed).
        """
        known = work.pending.get(profile_id)
        row = None
        if known is not None:
            current: frozenset[Identity] | None = known[0]
        else:
            row = tx.profile(profile_id)
            current = row.identities if row is not None else None
        identities = members if members is not None else current or frozenset()
        if filed is None and current is not None and current == identities:
            return  # nothing about this profile changed
        state: ProfileState[Any] | None = None
        if filed is not None and current is not None and current == identities:
            # Fast path: the last state (this batch's, ours, or another process's snapshot)
            # plus this event.
            event, event_ids = filed
            base = known[1] if known is not None else self._current(row) if row else None
            key = (event.timestamp, event.message_id)
            if base is not None and (base.last_key is None or key > base.last_key):
                state = advance(base, event, event_ids, self.reducers)
        if state is None:
            state = fold(tx.events_of(identities), rules=self.rules, reducers=self.reducers)
        if known is None:
            unchanged = row is not None and current == identities
            work.before[profile_id] = self._current(row) if unchanged and row else None
        elif current != identities:
            work.before[profile_id] = None  # merged or split since: evaluate every segment
        work.pending[profile_id] = (identities, state)

    def _flush(
        self,
        tx: Transaction,
        work: _Work,
        staged: dict[str, tuple[int, ProfileState[Any]]],
    ) -> None:
        """Write each profile changed in this transaction once, with its latest snapshot.

        A snapshot is a cache of the fold of the profile's events, so one per
        profile per transaction keeps it exact: nothing outside the
        transaction ever sees the profile between two of its events. The
        same goes for segment memberships: settled once, from the final state.
        """
        for profile_id, (identities, state) in work.pending.items():
            snapshot = self._encode(state) if self.store.serializes_snapshots else state
            staged[profile_id] = (tx.put_profile(profile_id, identities, snapshot), state)
        if not self.segmentation.segments:
            return
        for profile_id, keys in work.gone.items():
            work.changes.extend(
                SegmentChange(profile_id=profile_id, segment=key, entered=False, at=work.now)
                for key in sorted(keys)
            )
        for profile_id, (identities, state) in work.pending.items():
            base = work.before.get(profile_id)
            known = None if base is None else self._settled_as(profile_id, base)
            after = subject_of(profile_id, state, identities=identities)
            if base is None:
                fields: set[str] = set()
            else:
                before = (
                    known.subject if known else subject_of(profile_id, base, identities=identities)
                )
                fields = changed_fields(before, after)
            if known is not None and known.history is not None:
                # The history the last evaluation read, and this transaction's events.
                new = [self._event_docs(e) for e in work.filed.get(profile_id, ())]
                load = _Loader(functools.partial(_joined, known.history, new))
            else:
                load = _Loader(functools.partial(self._history, tx, identities))
            result = self.segmentation.evaluate(
                profile_id,
                after,
                work.now,
                tx.memberships(profile_id),
                events={event_name(e) for e in work.filed.get(profile_id, ())},
                fields=fields,
                everything=base is None,
                history=load,
            )
            self._remember(profile_id, _Settled(state, after, load.value))
            self._settle(tx, profile_id, result, work)

    def _settled_as(self, profile_id: str, state: ProfileState[Any]) -> _Settled | None:
        """What was kept when this very state was last settled, if it was."""
        hit = self._settled.get(profile_id)
        return hit if hit is not None and hit.state is state else None

    def _remember(self, profile_id: str, settled: _Settled) -> None:
        # The state settled now is the "before" of the profile's next event: keep its subject
        # and history (a bounded memory; a miss only costs making them again).
        memory = self._settled
        memory.pop(profile_id, None)
        if len(memory) >= SUBJECT_MEMORY:
            del memory[next(iter(memory))]
        memory[profile_id] = settled

    def _history(self, tx: Transaction, identities: Iterable[Identity]) -> list[dict[str, Any]]:
        """A profile's events as segment rules read them, in time order."""
        return subject_events(tx.events_of(identities), self._event_docs)

    def _settle(self, tx: Transaction, profile_id: str, result: Evaluation, work: _Work) -> None:
        """Store what one segment evaluation decided."""
        if result.changes:
            tx.put_memberships(
                profile_id,
                [c.segment for c in result.changes if c.entered],
                [c.segment for c in result.changes if not c.entered],
                work.now,
            )
            work.changes.extend(result.changes)
        if result.timers:
            tx.put_timers(profile_id, result.timers)

    def _state_of(self, tx: Transaction, row: ProfileRow) -> ProfileState[Any]:
        """A profile's current state: cached, decoded from its snapshot, or folded anew."""
        state = self._current(row)
        if state is None:
            state = fold(tx.events_of(row.identities), rules=self.rules, reducers=self.reducers)
        return state

    def _current(self, row: ProfileRow) -> ProfileState[Any] | None:
        """The state matching the row's version: cached here, or decoded from its snapshot."""
        cached = self._states.get(row.profile_id)
        if cached is not None and cached[0] == row.version:
            return cached[1]
        if isinstance(row.snapshot, ProfileState):
            return row.snapshot
        if isinstance(row.snapshot, str):
            return self._decode(row.snapshot)
        return None

    def _encode(self, state: ProfileState[Any]) -> str:
        key = state.last_key
        return json.dumps(
            {
                "last_key": None if key is None else [format_timestamp(key[0]), key[1]],
                "values": {
                    r.name: converter.unstructure(state.values[r.name], unstructure_as=r.state_type)
                    for r in self.reducers
                },
            },
            separators=(",", ":"),
        )

    def _decode(self, text: str) -> ProfileState[Any] | None:
        """Read a snapshot back; None if other reducers wrote it (the caller then refolds)."""
        data = json.loads(text)
        values = data["values"]
        if set(values) != {r.name for r in self.reducers}:
            return None
        try:
            decoded = {
                r.name: converter.structure(values[r.name], r.state_type) for r in self.reducers
            }
        except ValidationError:
            return None
        key = data["last_key"]
        last = None if key is None else (parse_timestamp(key[0]), key[1])
        return ProfileState(values=decoded, last_key=last)

    # --- reading ------------------------------------------------------------------------

    def _profile_id(self, tx: Transaction, ref: str | Identity) -> str | None:
        if isinstance(ref, Identity):
            row = tx.identity_rows([ref]).get(ref)
            return row.profile_id if row else None
        if not isinstance(ref, str):
            raise ValidationError.one("$.ref", "type", "must be a profile id or an Identity")
        return ref if tx.profile(ref) is not None else None

    def _row(self, tx: Transaction, ref: str | Identity) -> ProfileRow | None:
        pid = self._profile_id(tx, ref)
        return tx.profile(pid) if pid else None

    def state(self, ref: str | Identity) -> ProfileState[Any] | None:
        """The folded state of a profile (by id or by any of its identifiers), or None."""
        with self._frame() as frame:
            row = self._row(frame.tx, ref)
            if row is None:
                return None
            state = self._state_of(frame.tx, row)
            # Cached once the transaction commits (a nested read may see uncommitted writes).
            frame.staged[row.profile_id] = (row.version, state)
        return state

    def profile(self, ref: str | Identity) -> Profile | None:
        """The unified profile (by id or by any of its identifiers), or None if unknown."""
        with self.store.transaction() as tx:
            row = self._row(tx, ref)
        if row is None:
            return None
        pid = row.profile_id
        state = self.state(pid)
        assert state is not None  # noqa: S101 - the profile exists
        return build_profile(pid, row.identities, state)

    def explain(self, ref: str | Identity) -> Explanation | None:
        """Say how a profile came to be: its identifiers and every link decision about them."""
        with self.store.transaction() as tx:
            row = self._row(tx, ref)
            if row is None:
                return None
            return Explanation(
                profile_id=row.profile_id,
                identities=row.identities,
                decisions=tuple(tx.merge_log(row.identities)),
                events=len(tx.events_of(row.identities)),
            )

    def resolution(self, ref: str | Identity) -> Resolution | None:
        """Recompute, from what is stored, the identity resolution around a profile."""
        with self.store.transaction() as tx:
            row = self._row(tx, ref)
            return None if row is None else self._around(tx, row.identities, None)[0]

    # --- segments -------------------------------------------------------------------------

    def on_segment_change(self, listener: Callable[[Sequence[SegmentChange]], object]) -> None:
        """Call ``listener`` with the segment entries and exits of each committed transaction.

        It runs after the commit, in the thread that ingested; an exception it
        raises propagates to that caller (the data is already stored).
        """
        self._listeners.append(listener)

    def _announce(self, changes: Sequence[SegmentChange]) -> None:
        for listener in self._listeners:
            listener(tuple(changes))

    def members(self, segment: str) -> list[str]:
        """The ids of the profiles in a segment, sorted.

        Raises:
            ValidationError: no segment has this key.
        """
        self._segment(segment)
        with self.store.transaction() as tx:
            return tx.segment_members(segment)

    def segments_of(self, ref: str | Identity) -> frozenset[str]:
        """The keys of the segments a profile (by id or identifier) is in."""
        with self.store.transaction() as tx:
            pid = self._profile_id(tx, ref)
            return tx.memberships(pid) if pid else frozenset()

    def _segment(self, key: object) -> Segment:
        if not isinstance(key, str) or key not in self.segmentation:
            raise ValidationError.one(
                "$.segment", "unknown_segment", f"no segment has the key {key!r}"
            )
        return self.segmentation[key]

    def subjects(self, *, events: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every profile's subject document (what segment rules read), by profile id.

        With ``events`` (the default) each holds the profile's event history,
        as the real-time path reads it: feed them to `batch_members` or to a
        `Segmentation` to recompute memberships from scratch.
        """
        for profile_id in self.store.profile_ids():
            with self.store.transaction() as tx:
                row = tx.profile(profile_id)
                if row is None:  # pragma: no cover - deleted since the listing
                    continue
                subject = self._subject(tx, row, events=events)
            yield profile_id, subject

    def why(
        self, segment: str, ref: str | Identity, now: pendulum.DateTime | None = None
    ) -> Verdict:
        """Say which parts of a segment's rule hold for a profile at ``now`` (default: the clock).

        Raises:
            ValidationError: no segment has this key, or no such profile.
        """
        defined = self._segment(segment)
        with self.store.transaction() as tx:
            row = self._row(tx, ref)
            if row is None:
                raise ValidationError.one("$.ref", "not_found", "no such profile")
            subject = self._subject(tx, row, events=True)
        return explain(defined, subject, now or self.clock.now())

    def subject(self, ref: str | Identity, *, events: bool = True) -> dict[str, Any] | None:
        """What segment rules read of a profile (by id or identifier) now, or None if unknown.

        With ``events`` (the default) it holds the profile's event history.
        """
        with self._frame() as frame:
            row = self._row(frame.tx, ref)
            return None if row is None else self._subject(frame.tx, row, events=events)

    def _subject(self, tx: Transaction, row: ProfileRow, *, events: bool) -> dict[str, Any]:
        """What segment rules read of a stored profile, with or without its events."""
        return subject_of(
            row.profile_id,
            self._state_of(tx, row),
            segments=tx.memberships(row.profile_id),
            events=tx.events_of(row.identities) if events else None,
            identities=row.identities,
        )

    def _reevaluate(self, tx: Transaction, row: ProfileRow, work: _Work, **what: Any) -> None:
        """Evaluate segments for a stored profile (``what``: see `Segmentation.evaluate`)."""
        pid, state = row.profile_id, self._state_of(tx, row)
        known = self._settled_as(pid, state)
        subject = known.subject if known else subject_of(pid, state, identities=row.identities)
        if known is not None and known.history is not None:
            load = _Loader(functools.partial(_joined, known.history, []))
        else:
            load = _Loader(functools.partial(self._history, tx, row.identities))
        result = self.segmentation.evaluate(
            pid, subject, work.now, tx.memberships(pid), history=load, **what
        )
        self._remember(pid, _Settled(state, subject, load.value))
        self._settle(tx, pid, result, work)

    def refresh(self, now: pendulum.DateTime | None = None) -> list[SegmentChange]:
        """Flip the memberships whose time has come ("did X within 7 days" ran out).

        Only profiles with a timer due at ``now`` (default: the clock's) are
        read, and for them only the due segments (and those that refer to
        them) are evaluated: the cost follows what is due, not the population.
        Call it from a scheduler as often as memberships should be fresh.
        """
        work = _Work(now=now or self.clock.now())
        with collector_paused(), self._frame() as frame:
            tx = frame.tx
            for profile_id, keys in sorted(tx.due_timers(work.now).items()):
                row = tx.profile(profile_id)
                if row is None:  # pragma: no cover - deleting a profile clears its timers
                    continue
                self._reevaluate(tx, row, work, due=keys)
            self._run_hooks(tx, work)
            frame.changes.extend(work.changes)
        return work.changes

    def backfill(self, now: pendulum.DateTime | None = None) -> list[SegmentChange]:
        """Evaluate every segment for every profile (after adding or editing segments).

        Memberships of segments no longer defined are removed (without
        changes: the segment is gone, nobody is told they left it). One
        transaction per profile, so ingestion is never held up for long.
        """
        work = _Work(now=now or self.clock.now())
        defined = {s.key for s in self.segmentation.segments}
        with collector_paused():
            self._backfill(work, defined)
        if work.changes:
            self._announce(work.changes)
        return work.changes

    def _backfill(self, work: _Work, defined: set[str]) -> None:
        for profile_id in self.store.profile_ids():
            with self.store.transaction() as tx:
                row = tx.profile(profile_id)
                if row is None:  # pragma: no cover - deleted since the listing
                    continue
                stale = tx.memberships(profile_id) - defined
                if stale:
                    tx.put_memberships(profile_id, (), stale, work.now)
                self._reevaluate(tx, row, work, everything=True)

    # --- operator actions ---------------------------------------------------------------

    def unmerge(self, ref: str | Identity, *, keep: Identity, split: Identity) -> list[str]:
        """Separate two identifiers of one profile for good, and rebuild what follows.

        ``keep`` and ``split`` end up in different profiles; each identifier,
        trait and event goes back to the side it came from, and no later link
        may join the two groups again. Returns the resulting profile ids.

        Raises:
            ValidationError: the profile is unknown or does not hold both identifiers.
        """
        with self.store.transaction() as tx:
            row = self._row(tx, ref)
            pid = row.profile_id if row else None
            if (
                row is None
                or keep not in row.identities
                or split not in row.identities
                or keep == split
            ):
                raise ValidationError.one(
                    "$.ref", "invalid", "the profile must hold both keep and split"
                )
            tx.add_separation(keep, split)
            work = _Work(now=self.clock.now())
            result, before = self._reresolve(tx, row.identities, None, work)
            staged: dict[str, tuple[int, ProfileState[Any]]] = {}
            for new in sorted(result.profiles):
                self._refresh(tx, new, result.profiles[new], None, work)
            self._flush(tx, work, staged)
            self._run_hooks(tx, work)
            for gone in before - set(result.profiles):
                self._states.pop(gone, None)
            log.info("unmerge profile=%s into %d profiles", pid, len(result.profiles))
        self._states.update(staged)
        return sorted(result.profiles)

    def _digest(self, tx: Transaction, identity: Identity) -> str:
        return hmac.new(tx.secret(), str(identity).encode(), hashlib.sha256).hexdigest()

    def erase(self, ref: str | Identity) -> Erasure:
        """Remove every trace of a person; keep only keyed hashes so an opt-out survives.

        Raises:
            ValidationError: no such profile.
        """
        with self.store.transaction() as tx:
            row = self._row(tx, ref)
            if row is None:
                raise ValidationError.one("$.ref", "not_found", "no such profile")
            pid = row.profile_id
            events = len(tx.events_of(row.identities))
            digests = tuple(sorted(self._digest(tx, i) for i in row.identities))
            tx.erase(row.identities, pid)
            now = self.clock.now()
            for digest in digests:
                tx.suppress(digest, now)
        self._states.pop(pid, None)
        self._known_links = {
            p: k for p, k in self._known_links.items() if not set(p) & row.identities
        }
        log.info("erased profile=%s identifiers=%d events=%d", pid, len(row.identities), events)
        return Erasure(
            profile_id=pid, identities=len(row.identities), events=events, suppressed=digests
        )

    def is_suppressed(self, identity: Identity) -> bool:
        """Say whether this identifier belonged to an erased person (an opt-out that survives)."""
        with self.store.transaction() as tx:
            return tx.is_suppressed(self._digest(tx, identity))

    def export(self, ref: str | Identity) -> dict[str, Any]:
        """Everything held about a person, as documented JSON (GDPR access and portability).

        ``import_profile`` of the result into an empty store gives an identical profile.

        Raises:
            ValidationError: no such profile.
        """
        profile = self.profile(ref)
        if profile is None:
            raise ValidationError.one("$.ref", "not_found", "no such profile")
        with self.store.transaction() as tx:
            events = sorted(
                tx.events_of(profile.identities), key=lambda e: (e.timestamp, e.message_id)
            )
            decisions = tx.merge_log(profile.identities)
        return {
            "format": EXPORT_FORMAT,
            "profile": converter.unstructure(profile),
            "events": [converter.unstructure(e) for e in events],
            "identity_decisions": [converter.unstructure(r) for r in decisions],
        }

    def import_profile(self, data: Mapping[str, Any]) -> Profile:
        """Load a person exported by `export` (from this or another store).

        Raises:
            ValidationError: not an export of this format, or its events are invalid.
        """
        if data.get("format") != EXPORT_FORMAT:
            raise ValidationError.one("$.format", "invalid", f"must be {EXPORT_FORMAT!r}")
        raw_events = data.get("events")
        if not isinstance(raw_events, list):
            raise ValidationError.one("$.events", "type", "must be a list of events")
        events = converter.structure(raw_events, list[Event])
        profile_data = data.get("profile")
        listed = profile_data.get("identities", []) if isinstance(profile_data, Mapping) else []
        exported = converter.structure(listed, list[Identity])
        results = self._ingest_events(list(events), only=frozenset(exported) or None)
        pid = next((r.profile_id for r in reversed(results) if r.profile_id), None)
        profile = self.profile(pid) if pid else None
        if profile is None:
            raise ValidationError.one("$.events", "empty", "the export holds no events")
        return profile

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self: _E) -> _E:  # noqa: PYI019 - typing.Self is Python 3.11+
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _with_changes(
    results: list[IngestResult], changes: Sequence[SegmentChange]
) -> list[IngestResult]:
    """Attach each profile's segment changes to its last result in the batch.

    Changes of profiles merged away go with the result of the merge that absorbed them.
    """
    last: dict[str, int] = {}
    for n, result in enumerate(results):
        if result.profile_id is not None:
            last[result.profile_id] = n
        for absorbed in result.merged:
            last[absorbed] = n
    grouped: dict[int, list[SegmentChange]] = {}
    for change in changes:
        grouped.setdefault(last.get(change.profile_id, len(results) - 1), []).append(change)
    return [
        attrs.evolve(result, segments=tuple(grouped[n])) if n in grouped else result
        for n, result in enumerate(results)
    ]
