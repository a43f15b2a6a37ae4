"""An in-memory Store for tests and notebooks: dicts, a lock and an undo log."""

from __future__ import annotations

import datetime as dt
import heapq
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

import attrs
import pendulum

from omnichannel.identity import Link, MergeRecord
from omnichannel.models import Event, Identity
from omnichannel.store._protocol import EnrollmentRow, IdentityRow, OutboxRow, ProfileRow

K = TypeVar("K")
V = TypeVar("V")


class _MemoryTransaction:
    """Writes straight into the store's dicts, remembering how to undo each one."""

    def __init__(self, store: MemoryStore) -> None:
        self._s = store
        self.undo: list[Callable[[], object]] = []

    def _set(self, table: dict[K, V], key: K, value: V) -> None:
        if key in table:
            old = table[key]
            self.undo.append(lambda: table.__setitem__(key, old))
        else:
            self.undo.append(lambda: table.pop(key, None))
        table[key] = value

    def _delete(self, table: dict[K, V], key: K) -> None:
        if key in table:
            old = table.pop(key)
            self.undo.append(lambda: table.__setitem__(key, old))

    def remember_message(
        self, message_id: str, at: pendulum.DateTime, window: pendulum.Duration
    ) -> bool:
        seen = self._s.messages.get(message_id)
        if seen is not None and abs(at - seen) < window:
            return False
        self._set(self._s.messages, message_id, at)
        return True

    def identity_rows(self, identities: Iterable[Identity]) -> dict[Identity, IdentityRow]:
        rows = self._s.identities
        return {i: rows[i] for i in identities if i in rows}

    def put_identity_rows(self, rows: Mapping[Identity, IdentityRow]) -> None:
        for identity, row in rows.items():
            self._set(self._s.identities, identity, row)

    def links_of(self, identities: Iterable[Identity]) -> list[Link]:
        found: dict[tuple[Identity, Identity], Link] = {}
        for identity in identities:
            for pair in self._s.links_by_identity.get(identity, ()):
                found[pair] = self._s.links[pair]
        return list(found.values())

    def put_links(self, links: Iterable[Link]) -> None:
        for link in links:
            pair = (link.a, link.b) if link.a <= link.b else (link.b, link.a)
            known = self._s.links.get(pair)
            if known is not None and known.key <= link.key:
                continue
            self._set(self._s.links, pair, link)
            for identity in pair:
                pairs = self._s.links_by_identity.setdefault(identity, set())
                if pair not in pairs:
                    pairs.add(pair)
                    self.undo.append(partial(pairs.discard, pair))

    def separations_of(self, identities: Iterable[Identity]) -> list[tuple[Identity, Identity]]:
        wanted = set(identities)
        return [pair for pair in self._s.separations if wanted & set(pair)]

    def add_separation(self, a: Identity, b: Identity) -> None:
        pair = (a, b) if a <= b else (b, a)
        if pair not in self._s.separations:
            self._s.separations.append(pair)
            self.undo.append(lambda: self._s.separations.remove(pair))

    def append_merge_log(self, records: Iterable[MergeRecord]) -> None:
        for record in records:
            self._s.log.append(record)
            self.undo.append(self._s.log.pop)

    def merge_log(self, identities: Iterable[Identity]) -> list[MergeRecord]:
        wanted = set(identities)
        return [r for r in self._s.log if r.link.a in wanted or r.link.b in wanted]

    def append_event(self, event: Event, identity: Identity) -> None:
        events = self._s.events.setdefault(identity, [])
        events.append(event)
        self.undo.append(events.pop)

    def events_of(self, identities: Iterable[Identity]) -> list[Event]:
        return [e for i in identities for e in self._s.events.get(i, ())]

    def profile(self, profile_id: str) -> ProfileRow | None:
        return self._s.profiles.get(profile_id)

    def put_profile(
        self, profile_id: str, identities: frozenset[Identity], snapshot: object = None
    ) -> int:
        self._s.version += 1  # versions are global, so a recreated profile never repeats one
        version = self._s.version
        row = ProfileRow(
            profile_id=profile_id, identities=identities, version=version, snapshot=snapshot
        )
        self._set(self._s.profiles, profile_id, row)
        return version

    def delete_profile(self, profile_id: str) -> None:
        self._delete(self._s.profiles, profile_id)
        for key in self.memberships(profile_id):
            self._toggle(self._s.members[profile_id], key, present=False)
            self._toggle(self._s.by_segment[key], profile_id, present=False)
        self._delete(self._s.timers, profile_id)

    def erase(self, identities: Iterable[Identity], profile_id: str) -> None:
        gone = set(identities)
        for identity in gone:
            self._delete(self._s.identities, identity)
            self._delete(self._s.events, identity)
            for pair in list(self._s.links_by_identity.get(identity, ())):
                self._delete(self._s.links, pair)
            self._delete(self._s.links_by_identity, identity)
        kept_separations = [p for p in self._s.separations if not gone & set(p)]
        kept_log = [r for r in self._s.log if r.link.a not in gone and r.link.b not in gone]
        old_separations, old_log = list(self._s.separations), list(self._s.log)
        self._s.separations[:] = kept_separations
        self._s.log[:] = kept_log
        self.undo.append(lambda: self._s.separations.__setitem__(slice(None), old_separations))
        self.undo.append(lambda: self._s.log.__setitem__(slice(None), old_log))
        self.delete_profile(profile_id)
        for row in self.enrollments_of([profile_id]):
            self._delete(self._s.enrollments, row.id)

    def suppress(self, digest: str, at: pendulum.DateTime) -> None:
        self._set(self._s.suppressed, digest, at)

    def is_suppressed(self, digest: str) -> bool:
        return digest in self._s.suppressed

    def secret(self) -> bytes:
        return self._s.key

    def memberships(self, profile_id: str) -> frozenset[str]:
        return frozenset(self._s.members.get(profile_id, ()))

    def put_memberships(
        self, profile_id: str, entered: Iterable[str], exited: Iterable[str], at: dt.datetime
    ) -> None:
        del at  # memory keeps no history of when
        for present, keys in ((True, entered), (False, exited)):
            for key in keys:
                self._toggle(self._s.members.setdefault(profile_id, set()), key, present)
                self._toggle(self._s.by_segment.setdefault(key, set()), profile_id, present)

    def _toggle(self, group: set[str], item: str, present: bool) -> None:
        if present and item not in group:
            group.add(item)
            self.undo.append(partial(group.discard, item))
        elif not present and item in group:
            group.discard(item)
            self.undo.append(partial(group.add, item))

    def segment_members(self, segment: str) -> list[str]:
        return sorted(self._s.by_segment.get(segment, ()))

    def put_timers(self, profile_id: str, timers: Mapping[str, dt.datetime | None]) -> None:
        mine = dict(self._s.timers.get(profile_id, {}))
        for key, due in timers.items():
            if due is None:
                mine.pop(key, None)
            else:
                mine[key] = due
                heapq.heappush(self._s.timer_heap, (due, profile_id, key))
        if mine:
            self._set(self._s.timers, profile_id, mine)
        else:
            self._delete(self._s.timers, profile_id)

    def due_timers(self, now: dt.datetime) -> dict[str, frozenset[str]]:
        heap, timers = self._s.timer_heap, self._s.timers
        found: dict[str, set[str]] = {}
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            self.undo.append(partial(heapq.heappush, heap, entry))
            due, profile_id, key = entry
            # The heap keeps superseded entries; only one matching the profile's timer counts.
            if timers.get(profile_id, {}).get(key) == due:
                found.setdefault(profile_id, set()).add(key)
        for profile_id, keys in found.items():
            self.put_timers(profile_id, dict.fromkeys(keys))
        return {profile_id: frozenset(keys) for profile_id, keys in found.items()}

    def enqueue(self, rows: Iterable[OutboxRow]) -> list[bool]:
        added = []
        for row in rows:
            fresh = row.id not in self._s.outbox
            if fresh:
                self._set(self._s.outbox, row.id, row)
            added.append(fresh)
        return added

    def claim(
        self, now: dt.datetime, lease_until: dt.datetime, worker: str, limit: int
    ) -> list[OutboxRow]:
        due = sorted(
            (
                row
                for row in self._s.outbox.values()
                if (row.status == "pending" and row.due_at <= now)
                or (
                    row.status in ("claimed", "sending")
                    and row.lease_until is not None
                    and row.lease_until <= now
                )
            ),
            key=lambda row: (row.due_at, row.id),
        )[:limit]
        taken = [
            attrs.evolve(
                row,
                status="claimed",
                lease_until=lease_until,
                worker=worker,
                possible_duplicate=row.possible_duplicate or row.status == "sending",
            )
            for row in due
        ]
        self.put_outbox(taken)
        return taken

    def put_outbox(self, rows: Iterable[OutboxRow]) -> None:
        for row in rows:
            self._set(self._s.outbox, row.id, row)

    def outbox(self, status: str | None = None) -> list[OutboxRow]:
        rows = [r for r in self._s.outbox.values() if status is None or r.status == status]
        return sorted(rows, key=lambda row: (row.created_at, row.id))

    def outbox_by_id(self, ids: Iterable[str]) -> dict[str, OutboxRow]:
        rows = self._s.outbox
        return {i: rows[i] for i in ids if i in rows}

    def dispatches(
        self, profile_ids: Iterable[str], since: dt.datetime
    ) -> dict[str, list[tuple[str, dt.datetime]]]:
        wanted = set(profile_ids)
        found: dict[str, list[tuple[str, dt.datetime]]] = {}
        for row in self._s.outbox.values():
            if (
                row.profile_id in wanted
                and not row.transactional
                and row.status in ("sending", "sent")
                and row.dispatched_at is not None
                and row.dispatched_at >= since
            ):
                found.setdefault(row.profile_id, []).append((row.channel, row.dispatched_at))
        return found

    def mark_invalid(self, address: str, channel: str, at: dt.datetime, reason: str) -> None:
        self._set(self._s.invalid, address, (channel, at, reason))

    def invalid_addresses(self, addresses: Iterable[str]) -> set[str]:
        return {a for a in addresses if a in self._s.invalid}

    def put_enrollments(self, rows: Iterable[EnrollmentRow]) -> None:
        for row in rows:
            self._set(self._s.enrollments, row.id, row)
            mine = self._s.enrollments_by_profile.setdefault(row.profile_id, set())
            self._toggle(mine, row.id, present=True)
            if row.wake_at is not None:
                heapq.heappush(self._s.wake_heap, (row.wake_at, row.id))

    def enrollments_of(self, profile_ids: Iterable[str]) -> list[EnrollmentRow]:
        table, index = self._s.enrollments, self._s.enrollments_by_profile
        wanted = set(profile_ids)
        ids = {i for pid in wanted for i in index.get(pid, ()) if i in table}
        # The index may still list an enrollment under a profile it moved away from.
        return [table[i] for i in sorted(ids) if table[i].profile_id in wanted]

    def due_enrollments(self, now: dt.datetime, limit: int) -> list[EnrollmentRow]:
        heap, table = self._s.wake_heap, self._s.enrollments
        found: list[EnrollmentRow] = []
        skipped: list[tuple[dt.datetime, str]] = []
        taken: set[str] = set()
        while heap and heap[0][0] <= now and len(found) < limit:
            entry = heapq.heappop(heap)
            row = table.get(entry[1])
            # A superseded entry (the row woke or moved since), or a second entry for the same
            # wake-up (the row was written again unchanged), is dropped for good.
            if row is not None and row.wake_at == entry[0] and row.id not in taken:
                taken.add(row.id)
                found.append(row)
                skipped.append(entry)
        for entry in skipped:
            # Still due until the caller writes the row again (with its next wake_at).
            heapq.heappush(heap, entry)
        return found

    def enrollments(self, journey: str | None = None) -> list[EnrollmentRow]:
        rows = self._s.enrollments
        return [rows[i] for i in sorted(rows) if journey is None or rows[i].journey == journey]


class MemoryStore:
    """Everything in this process's memory: fast, gone when the process ends.

    Transactions are serialised by a lock and undone on error, so a failed
    ingest leaves nothing behind.

    Examples:
        >>> store = MemoryStore()
        >>> with store.transaction() as tx:
        ...     tx.is_suppressed("x")
        False

    .. versionadded:: 0.1.0
    """

    serializes_snapshots = False

    def __init__(self) -> None:
        self.messages: dict[str, pendulum.DateTime] = {}
        self.identities: dict[Identity, IdentityRow] = {}
        self.links: dict[tuple[Identity, Identity], Link] = {}
        self.links_by_identity: dict[Identity, set[tuple[Identity, Identity]]] = {}
        self.separations: list[tuple[Identity, Identity]] = []
        self.log: list[MergeRecord] = []
        self.events: dict[Identity, list[Event]] = {}
        self.profiles: dict[str, ProfileRow] = {}
        self.suppressed: dict[str, pendulum.DateTime] = {}
        self.members: dict[str, set[str]] = {}
        self.by_segment: dict[str, set[str]] = {}
        self.timers: dict[str, dict[str, dt.datetime]] = {}
        # (due, profile id, segment) for every timer set; superseded entries are skipped.
        self.timer_heap: list[tuple[dt.datetime, str, str]] = []
        self.outbox: dict[str, OutboxRow] = {}
        self.invalid: dict[str, tuple[str, dt.datetime, str]] = {}
        self.enrollments: dict[str, EnrollmentRow] = {}
        # Enrollment ids by profile, and (wake_at, id) of every wake-up set (superseded ones
        # are skipped when read).
        self.enrollments_by_profile: dict[str, set[str]] = {}
        self.wake_heap: list[tuple[dt.datetime, str]] = []
        self.version = 0
        self.key = secrets.token_bytes(32)
        self._lock = threading.RLock()
        self._active: _MemoryTransaction | None = None

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        """Run a block atomically: on any exception every write is undone."""
        with self._lock:
            if self._active is not None:
                # Nested in this thread's open transaction: share its undo log.
                yield self._active
                return
            tx = self._active = _MemoryTransaction(self)
            try:
                yield tx
            except BaseException:
                for undo in reversed(tx.undo):
                    undo()
                raise
            finally:
                self._active = None

    def profile_ids(self) -> Iterator[str]:
        """Every profile id (a snapshot)."""
        return iter(list(self.profiles))

    def close(self) -> None:
        """Nothing to release."""
