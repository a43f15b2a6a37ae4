"""The Store protocol: what the Engine needs persisted, and nothing about how.

Events are the truth (append-only); identity rows, links, separations and the
merge log are the identity graph's memory; profile rows carry a version that
every change bumps, so a process can trust its cached state only while the
version it saw is current. Everything one ingest writes happens inside one
`Transaction`: all of it is stored, or none of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Protocol

import attrs
import pendulum

from omnichannel.identity import Key, Link, MergeRecord
from omnichannel.models import Event, Identity


@attrs.frozen(kw_only=True)
class IdentityRow:
    """Where an identifier stands: its profile and when it was first seen.

    .. versionadded:: 0.1.0
    """

    profile_id: str
    first_seen: Key


@attrs.frozen(kw_only=True)
class ProfileRow:
    """A profile's identifiers, version (bumped by every change) and state snapshot.

    The snapshot is whatever the Engine handed to `Transaction.put_profile`:
    the state object itself for stores that keep objects, its JSON text for
    stores that serialize (`Store.serializes_snapshots`).

    .. versionadded:: 0.1.0
    """

    profile_id: str
    identities: frozenset[Identity]
    version: int
    snapshot: object = attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True)
class OutboxRow:
    """One message waiting in (or gone through) the outbox: what, to whom, and where it stands.

    ``id`` is the idempotency key: enqueuing the same send twice keeps one
    row. ``payload`` is JSON text (the channel's content and metadata).
    ``status`` is one of ``pending``, ``claimed``, ``sending``, ``sent``,
    ``failed``, ``dead``, ``dropped``. ``possible_duplicate`` is set when a
    row is taken over after its worker stopped mid-send (the provider may
    have it already).

    .. versionadded:: 0.1.0
    """

    id: str
    profile_id: str
    channel: str
    to: str
    message: str
    purpose: str
    transactional: bool
    payload: str
    created_at: dt.datetime
    due_at: dt.datetime
    status: str = "pending"
    attempts: int = 0
    lease_until: dt.datetime | None = None
    worker: str | None = None
    dispatched_at: dt.datetime | None = None
    possible_duplicate: bool = False
    provider_id: str | None = None
    last_error: str | None = None


#: Outbox statuses a row can still leave.
OUTBOX_OPEN = frozenset({"pending", "claimed", "sending"})


@attrs.frozen(kw_only=True)
class EnrollmentRow:
    """One person's enrollment in one journey, as stored.

    ``wake_at`` is set while the enrollment is open (when its next step or
    timeout is due) and None once it has left: the due index is on it.
    ``waiting_for`` names the event a wait-for step waits for. ``state`` is
    the whole enrollment: JSON text for stores that serialize
    (`Store.serializes_snapshots`), the object itself for the others.

    .. versionadded:: 0.1.0
    """

    id: str
    journey: str
    profile_id: str
    status: str
    wake_at: dt.datetime | None
    waiting_for: str | None
    state: object = attrs.field(eq=False)


class Transaction(Protocol):
    """One atomic unit of work on a Store.

    .. versionadded:: 0.1.0
    """

    def remember_message(
        self, message_id: str, at: pendulum.DateTime, window: pendulum.Duration
    ) -> bool:
        """Record ``message_id`` as seen at ``at``; False if already seen within ``window``."""
        ...

    def identity_rows(self, identities: Iterable[Identity]) -> dict[Identity, IdentityRow]:
        """The rows of those identifiers that are known."""
        ...

    def put_identity_rows(self, rows: Mapping[Identity, IdentityRow]) -> None:
        """Insert or replace identifier rows."""
        ...

    def links_of(self, identities: Iterable[Identity]) -> list[Link]:
        """Every stored link touching any of ``identities``."""
        ...

    def put_links(self, links: Iterable[Link]) -> None:
        """Store links; for a pair already stored, the earlier observation wins."""
        ...

    def separations_of(self, identities: Iterable[Identity]) -> list[tuple[Identity, Identity]]:
        """Operator separations (unmerges) touching any of ``identities``."""
        ...

    def add_separation(self, a: Identity, b: Identity) -> None:
        """Never let a link rejoin the groups holding ``a`` and ``b``."""
        ...

    def append_merge_log(self, records: Iterable[MergeRecord]) -> None:
        """Add merge log entries (the log is append-only)."""
        ...

    def merge_log(self, identities: Iterable[Identity]) -> list[MergeRecord]:
        """Log entries whose link touches any of ``identities``, in the order written."""
        ...

    def append_event(self, event: Event, identity: Identity) -> None:
        """Append an event, filed under its highest-priority identifier."""
        ...

    def events_of(self, identities: Iterable[Identity]) -> list[Event]:
        """Every event filed under any of ``identities``."""
        ...

    def profile(self, profile_id: str) -> ProfileRow | None:
        """A profile's row, or None."""
        ...

    def put_profile(
        self, profile_id: str, identities: frozenset[Identity], snapshot: object = None
    ) -> int:
        """Write a profile's identifiers and state snapshot, bump its version, return it."""
        ...

    def delete_profile(self, profile_id: str) -> None:
        """Remove a profile row, its memberships and timers (merged away, or erased).

        Its journey enrollments stay: the journeys move them to the survivor.
        """
        ...

    def erase(self, identities: Iterable[Identity], profile_id: str) -> None:
        """Remove every event, row, link, separation and log entry of these identifiers.

        The profile's journey enrollments go too.
        """
        ...

    def suppress(self, digest: str, at: pendulum.DateTime) -> None:
        """Add a keyed hash to the suppression list (an opt-out that survives erasure)."""
        ...

    def is_suppressed(self, digest: str) -> bool:
        """Say whether a keyed hash is on the suppression list."""
        ...

    def secret(self) -> bytes:
        """This store's key for keyed hashes (made once, then kept)."""
        ...

    def memberships(self, profile_id: str) -> frozenset[str]:
        """The keys of the segments a profile is in."""
        ...

    def put_memberships(
        self, profile_id: str, entered: Iterable[str], exited: Iterable[str], at: dt.datetime
    ) -> None:
        """Record a profile entering and exiting segments at ``at``."""
        ...

    def segment_members(self, segment: str) -> list[str]:
        """The ids of the profiles in a segment, sorted."""
        ...

    def put_timers(self, profile_id: str, timers: Mapping[str, dt.datetime | None]) -> None:
        """Set when each segment may next flip for a profile (None: no timer)."""
        ...

    def due_timers(self, now: dt.datetime) -> dict[str, frozenset[str]]:
        """The timers due at ``now`` (at or before it): segment keys by profile id.

        Returned timers are taken off the index; the caller sets new ones.
        """
        ...

    def enqueue(self, rows: Iterable[OutboxRow]) -> list[bool]:
        """Add outbox rows; a row whose id is already stored is skipped (False)."""
        ...

    def claim(
        self, now: dt.datetime, lease_until: dt.datetime, worker: str, limit: int
    ) -> list[OutboxRow]:
        """Take up to ``limit`` due rows (oldest first) for ``worker`` until ``lease_until``.

        Due: pending rows whose time has come, and claimed or sending rows
        whose lease expired (their worker stopped); a sending row taken over
        is marked ``possible_duplicate``. Taken rows become ``claimed``.
        """
        ...

    def put_outbox(self, rows: Iterable[OutboxRow]) -> None:
        """Write the state of outbox rows already enqueued (status, times, attempts, errors).

        The caller evolves rows it read; what was enqueued (recipient,
        payload, purpose ...) never changes.
        """
        ...

    def outbox(self, status: str | None = None) -> list[OutboxRow]:
        """Outbox rows (of one status, or all), oldest first."""
        ...

    def outbox_by_id(self, ids: Iterable[str]) -> dict[str, OutboxRow]:
        """The outbox rows with these ids (those that exist)."""
        ...

    def dispatches(
        self, profile_ids: Iterable[str], since: dt.datetime
    ) -> dict[str, list[tuple[str, dt.datetime]]]:
        """Non-transactional sends dispatched since ``since``: (channel, when) by person."""
        ...

    def mark_invalid(self, address: str, channel: str, at: dt.datetime, reason: str) -> None:
        """Record that a provider said ``address`` can no longer be reached."""
        ...

    def invalid_addresses(self, addresses: Iterable[str]) -> set[str]:
        """Those of ``addresses`` marked invalid."""
        ...

    def put_enrollments(self, rows: Iterable[EnrollmentRow]) -> None:
        """Insert or replace journey enrollments."""
        ...

    def enrollments_of(self, profile_ids: Iterable[str]) -> list[EnrollmentRow]:
        """Every enrollment of these people (open or not), by id."""
        ...

    def due_enrollments(self, now: dt.datetime, limit: int) -> list[EnrollmentRow]:
        """Up to ``limit`` enrollments due (``wake_at`` at or before ``now``), earliest first."""
        ...

    def enrollments(self, journey: str | None = None) -> list[EnrollmentRow]:
        """Every enrollment (of one journey, or all), by id."""
        ...


class Store(Protocol):
    """Where the Engine keeps everything. Implementations: memory, SQLite (PostgreSQL later).

    .. versionadded:: 0.1.0
    """

    #: True if snapshots must be JSON text (the store writes them out); False if it keeps objects.
    serializes_snapshots: bool

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Open a transaction: committed when the block ends, rolled back if it raises."""
        ...

    def profile_ids(self) -> Iterator[str]:
        """Every profile id."""
        ...

    def close(self) -> None:
        """Release resources (files, connections)."""
        ...
