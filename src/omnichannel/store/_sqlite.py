"""The embedded default Store: one SQLite file, WAL, one writer at a time.

Each transaction starts with ``BEGIN IMMEDIATE`` (it takes the write lock up
front, so two writers never deadlock half-way), waits up to ``busy_timeout``
for a busy file, and retries a few times more before giving up with a
`StoreError`: callers never see ``SQLITE_BUSY``. The schema is versioned and
migrated on open.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pendulum

from omnichannel._convert import converter, stored_converter
from omnichannel._time import format_timestamp, parse_timestamp
from omnichannel.errors import StoreError, ValidationError
from omnichannel.identity import Link, MergeRecord
from omnichannel.models import Event, Identity
from omnichannel.models._check import whole
from omnichannel.store._protocol import EnrollmentRow, IdentityRow, OutboxRow, ProfileRow

#: Schema migrations, in order; the schema version is the number applied.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE messages (message_id TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
    CREATE TABLE identities (
        identity TEXT PRIMARY KEY, profile_id TEXT NOT NULL,
        first_at TEXT NOT NULL, first_message TEXT NOT NULL
    );
    CREATE INDEX identities_profile ON identities (profile_id);
    CREATE TABLE links (
        lo TEXT NOT NULL, hi TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL,
        at TEXT NOT NULL, message_id TEXT NOT NULL,
        PRIMARY KEY (lo, hi)
    );
    CREATE INDEX links_hi ON links (hi);
    CREATE TABLE separations (a TEXT NOT NULL, b TEXT NOT NULL, PRIMARY KEY (a, b));
    CREATE TABLE merge_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        a TEXT NOT NULL, b TEXT NOT NULL, record TEXT NOT NULL
    );
    CREATE INDEX merge_log_a ON merge_log (a);
    CREATE INDEX merge_log_b ON merge_log (b);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, identity TEXT NOT NULL,
        message_id TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL
    );
    CREATE INDEX events_identity ON events (identity);
    CREATE TABLE profiles (
        profile_id TEXT PRIMARY KEY, identities TEXT NOT NULL, version INTEGER NOT NULL,
        snapshot TEXT
    );
    CREATE TABLE suppressions (digest TEXT PRIMARY KEY, at TEXT NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('profile_version', 0);
    CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    """,
    """
    CREATE TABLE segment_members (
        profile_id TEXT NOT NULL, segment TEXT NOT NULL, since TEXT NOT NULL,
        PRIMARY KEY (profile_id, segment)
    ) WITHOUT ROWID;
    CREATE INDEX segment_members_segment ON segment_members (segment, profile_id);
    CREATE TABLE segment_timers (
        profile_id TEXT NOT NULL, segment TEXT NOT NULL, due TEXT NOT NULL,
        PRIMARY KEY (profile_id, segment)
    ) WITHOUT ROWID;
    CREATE INDEX segment_timers_due ON segment_timers (due);
    """,
    """
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY, profile_id TEXT NOT NULL, channel TEXT NOT NULL,
        recipient TEXT NOT NULL, message TEXT NOT NULL, purpose TEXT NOT NULL,
        transactional INTEGER NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL,
        due_at TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
        lease_until TEXT, worker TEXT, dispatched_at TEXT,
        possible_duplicate INTEGER NOT NULL, provider_id TEXT, last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (status, due_at);
    CREATE INDEX outbox_lease ON outbox (status, lease_until);
    CREATE INDEX outbox_profile ON outbox (profile_id, dispatched_at);
    CREATE TABLE invalid_addresses (
        address TEXT PRIMARY KEY, channel TEXT NOT NULL, at TEXT NOT NULL, reason TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE enrollments (
        id TEXT PRIMARY KEY, journey TEXT NOT NULL, profile_id TEXT NOT NULL,
        status TEXT NOT NULL, wake_at TEXT, waiting_for TEXT, state TEXT NOT NULL
    );
    CREATE INDEX enrollments_due ON enrollments (wake_at, id) WHERE wake_at IS NOT NULL;
    CREATE INDEX enrollments_profile ON enrollments (profile_id);
    """,
)

_OUTBOX_COLUMNS = (
    "id, profile_id, channel, recipient, message, purpose, transactional, payload, created_at,"
    " due_at, status, attempts, lease_until, worker, dispatched_at, possible_duplicate,"
    " provider_id, last_error"
)


# Outbox rows of one relay round share their few instants (now, the lease's end): cached.
_format_instant = functools.lru_cache(maxsize=1024)(format_timestamp)
_parse_instant = functools.lru_cache(maxsize=4096)(parse_timestamp)


def _stamp(value: dt.datetime | None) -> str | None:
    return None if value is None else _format_instant(value)


def _moment(value: str | None) -> dt.datetime | None:
    return None if value is None else _parse_instant(value)


_ENROLLMENT_COLUMNS = "id, journey, profile_id, status, wake_at, waiting_for, state"


def _enrollment_row(values: tuple[Any, ...]) -> EnrollmentRow:
    id_, journey, profile_id, status, wake_at, waiting_for, state = values
    return EnrollmentRow(
        id=id_,
        journey=journey,
        profile_id=profile_id,
        status=status,
        wake_at=_moment(wake_at),
        waiting_for=waiting_for,
        state=state,
    )


def _outbox_values(row: OutboxRow) -> tuple[object, ...]:
    return (
        row.id,
        row.profile_id,
        row.channel,
        row.to,
        row.message,
        row.purpose,
        int(row.transactional),
        row.payload,
        _format_instant(row.created_at),
        _format_instant(row.due_at),
        row.status,
        row.attempts,
        _stamp(row.lease_until),
        row.worker,
        _stamp(row.dispatched_at),
        int(row.possible_duplicate),
        row.provider_id,
        row.last_error,
    )


def _outbox_row(values: tuple[Any, ...]) -> OutboxRow:
    (id_, pid, channel, to, message, purpose, transactional, payload, created, due, status,
     attempts, lease, worker, dispatched, duplicate, provider_id, error) = values  # fmt: skip
    return OutboxRow(
        id=id_,
        profile_id=pid,
        channel=channel,
        to=to,
        message=message,
        purpose=purpose,
        transactional=bool(transactional),
        payload=payload,
        created_at=_parse_instant(created),
        due_at=_parse_instant(due),
        status=status,
        attempts=attempts,
        lease_until=_moment(lease),
        worker=worker,
        dispatched_at=_moment(dispatched),
        possible_duplicate=bool(duplicate),
        provider_id=provider_id,
        last_error=error,
    )


#: How long one wait for the write lock may sleep, at most (seconds).
_MAX_NAP = 0.004


def _key(identity: Identity) -> str:
    return f"{identity.kind}:{identity.value}"


@functools.lru_cache(maxsize=65_536)
def _identity(text: str) -> Identity:
    # Cached: stored keys repeat with every read, and normalising (phone numbers) is slow.
    kind, _, value = text.partition(":")
    return Identity(kind=kind, value=value)


@functools.lru_cache(maxsize=4_096)
def _identities(text: str) -> frozenset[Identity]:
    """A profile row's identifiers, from its stored JSON list (cached: rows are read often)."""
    return frozenset(_identity(k) for k in json.loads(text))


@functools.lru_cache(maxsize=65_536)
def _identity_row(profile_id: str, first_at: str, first_message: str) -> IdentityRow:
    # Cached: an identifier's row is read with each of its events and changes rarely.
    return IdentityRow(profile_id=profile_id, first_seen=(parse_timestamp(first_at), first_message))


#: How many decoded events a store keeps by default, by their stored text (refolds and
#: segment timers read profiles' histories again; decoding JSON is what they would cost).
EVENT_CACHE_SIZE = 32_768


class _EventCache:
    """Events by their stored JSON text, so a refold need not decode what was just written.

    Keyed by the text itself, the cache cannot go stale: equal text is an
    equal event, whoever wrote it and whatever was rolled back since.
    """

    def __init__(self, size: int = EVENT_CACHE_SIZE) -> None:
        self.size = size
        self.events: dict[str, Event] = {}

    def put(self, body: str, event: Event) -> None:
        events = self.events
        if len(events) >= self.size:
            del events[next(iter(events))]  # the oldest first
        events[body] = event

    def get(self, body: str) -> Event:
        event = self.events.get(body)
        if event is None:
            event = stored_converter.structure(json.loads(body), Event)
            self.put(body, event)
        return event


def _placeholders(items: list[str]) -> str:
    return ",".join("?" * len(items))


class _SQLiteTransaction:
    def __init__(self, connection: sqlite3.Connection, events: _EventCache) -> None:
        self._db = connection
        self._events = events

    def remember_message(
        self, message_id: str, at: pendulum.DateTime, window: pendulum.Duration
    ) -> bool:
        seen_at = format_timestamp(at)
        # Almost every message is new: one statement then; a resend costs a second look.
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO messages VALUES (?, ?)", (message_id, seen_at)
        ).rowcount
        if inserted:
            return True
        (stored,) = self._db.execute(
            "SELECT seen_at FROM messages WHERE message_id = ?", (message_id,)
        ).fetchone()
        if abs(at - parse_timestamp(stored)) < window:
            return False
        self._db.execute(
            "UPDATE messages SET seen_at = ? WHERE message_id = ?", (seen_at, message_id)
        )
        return True

    def identity_rows(self, identities: Iterable[Identity]) -> dict[Identity, IdentityRow]:
        keys = [_key(i) for i in identities]
        if not keys:
            return {}
        rows = self._db.execute(
            "SELECT identity, profile_id, first_at, first_message FROM identities"  # noqa: S608 - placeholders only
            f" WHERE identity IN ({_placeholders(keys)})",
            keys,
        )
        return {
            _identity(identity): _identity_row(pid, at, message)
            for identity, pid, at, message in rows
        }

    def put_identity_rows(self, rows: Mapping[Identity, IdentityRow]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO identities VALUES (?, ?, ?, ?)",
            [
                (_key(i), row.profile_id, format_timestamp(row.first_seen[0]), row.first_seen[1])
                for i, row in rows.items()
            ],
        )

    def links_of(self, identities: Iterable[Identity]) -> list[Link]:
        keys = [_key(i) for i in identities]
        if not keys:
            return []
        marks = _placeholders(keys)
        rows = self._db.execute(
            f"SELECT a, b, at, message_id FROM links WHERE lo IN ({marks}) "  # noqa: S608 - placeholders only
            f"UNION SELECT a, b, at, message_id FROM links WHERE hi IN ({marks})",
            keys + keys,
        )
        return [
            Link(a=_identity(a), b=_identity(b), at=parse_timestamp(at), message_id=m)
            for a, b, at, m in rows
        ]

    def put_links(self, links: Iterable[Link]) -> None:
        for link in links:
            a, b = _key(link.a), _key(link.b)
            lo, hi = sorted((a, b))
            # The earlier observation of a pair wins (timestamps are written sortably).
            self._db.execute(
                """INSERT INTO links VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (lo, hi) DO UPDATE SET
                     a = excluded.a, b = excluded.b,
                     at = excluded.at, message_id = excluded.message_id
                   WHERE (excluded.at, excluded.message_id) < (links.at, links.message_id)""",
                (lo, hi, a, b, format_timestamp(link.at), link.message_id),
            )

    def separations_of(self, identities: Iterable[Identity]) -> list[tuple[Identity, Identity]]:
        keys = [_key(i) for i in identities]
        if not keys:
            return []
        marks = _placeholders(keys)
        rows = self._db.execute(
            f"SELECT a, b FROM separations WHERE a IN ({marks}) OR b IN ({marks})",  # noqa: S608 - placeholders only
            keys + keys,
        )
        return [(_identity(a), _identity(b)) for a, b in rows]

    def add_separation(self, a: Identity, b: Identity) -> None:
        first, second = sorted((a, b))
        self._db.execute(
            "INSERT OR IGNORE INTO separations VALUES (?, ?)", (_key(first), _key(second))
        )

    def append_merge_log(self, records: Iterable[MergeRecord]) -> None:
        self._db.executemany(
            "INSERT INTO merge_log (a, b, record) VALUES (?, ?, ?)",
            [
                (_key(r.link.a), _key(r.link.b), json.dumps(converter.unstructure(r)))
                for r in records
            ],
        )

    def merge_log(self, identities: Iterable[Identity]) -> list[MergeRecord]:
        keys = [_key(i) for i in identities]
        if not keys:
            return []
        marks = _placeholders(keys)
        rows = self._db.execute(
            f"SELECT record FROM merge_log WHERE a IN ({marks}) OR b IN ({marks}) ORDER BY seq",  # noqa: S608 - placeholders only
            keys + keys,
        )
        return [converter.structure(json.loads(record), MergeRecord) for (record,) in rows]

    def append_event(self, event: Event, identity: Identity) -> None:
        body = json.dumps(converter.unstructure(event), separators=(",", ":"))
        self._db.execute(
            "INSERT INTO events (identity, message_id, at, body) VALUES (?, ?, ?, ?)",
            (_key(identity), event.message_id, format_timestamp(event.timestamp), body),
        )
        self._events.put(body, event)

    def events_of(self, identities: Iterable[Identity]) -> list[Event]:
        keys = [_key(i) for i in identities]
        if not keys:
            return []
        rows = self._db.execute(
            f"SELECT body FROM events WHERE identity IN ({_placeholders(keys)}) ORDER BY seq",  # noqa: S608 - placeholders only
            keys,
        )
        return [self._events.get(body) for (body,) in rows]

    def profile(self, profile_id: str) -> ProfileRow | None:
        row = self._db.execute(
            "SELECT identities, version, snapshot FROM profiles WHERE profile_id = ?", (profile_id,)
        ).fetchone()
        if row is None:
            return None
        return ProfileRow(
            profile_id=profile_id,
            identities=_identities(row[0]),
            version=row[1],
            snapshot=row[2],
        )

    def put_profile(
        self, profile_id: str, identities: frozenset[Identity], snapshot: object = None
    ) -> int:
        if snapshot is not None and not isinstance(snapshot, str):
            raise StoreError("SQLiteStore keeps snapshots as JSON text", code="snapshot_type")
        (version,) = self._db.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'profile_version' RETURNING value"
        ).fetchone()
        self._db.execute(
            "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?)",
            (profile_id, json.dumps(sorted(_key(i) for i in identities)), version, snapshot),
        )
        return int(version)

    def delete_profile(self, profile_id: str) -> None:
        for table in ("profiles", "segment_members", "segment_timers"):
            self._db.execute(f"DELETE FROM {table} WHERE profile_id = ?", (profile_id,))  # noqa: S608 - fixed table names

    def erase(self, identities: Iterable[Identity], profile_id: str) -> None:
        keys = [_key(i) for i in identities]
        for key in keys:
            self._db.execute("DELETE FROM events WHERE identity = ?", (key,))
            self._db.execute("DELETE FROM identities WHERE identity = ?", (key,))
            for table in ("links", "separations", "merge_log"):
                self._db.execute(f"DELETE FROM {table} WHERE a = ? OR b = ?", (key, key))  # noqa: S608 - fixed table names
        self.delete_profile(profile_id)
        self._db.execute("DELETE FROM enrollments WHERE profile_id = ?", (profile_id,))

    def suppress(self, digest: str, at: pendulum.DateTime) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO suppressions VALUES (?, ?)", (digest, format_timestamp(at))
        )

    def is_suppressed(self, digest: str) -> bool:
        found = self._db.execute(
            "SELECT 1 FROM suppressions WHERE digest = ?", (digest,)
        ).fetchone()
        return found is not None

    def secret(self) -> bytes:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'secret'").fetchone()
        if row is not None:
            return bytes(row[0])
        key = secrets.token_bytes(32)
        self._db.execute("INSERT INTO meta VALUES ('secret', ?)", (key,))
        return key

    def memberships(self, profile_id: str) -> frozenset[str]:
        rows = self._db.execute(
            "SELECT segment FROM segment_members WHERE profile_id = ?", (profile_id,)
        )
        return frozenset(key for (key,) in rows)

    def put_memberships(
        self, profile_id: str, entered: Iterable[str], exited: Iterable[str], at: dt.datetime
    ) -> None:
        since = format_timestamp(at)
        self._db.executemany(
            "INSERT OR IGNORE INTO segment_members VALUES (?, ?, ?)",
            [(profile_id, key, since) for key in entered],
        )
        self._db.executemany(
            "DELETE FROM segment_members WHERE profile_id = ? AND segment = ?",
            [(profile_id, key) for key in exited],
        )

    def segment_members(self, segment: str) -> list[str]:
        rows = self._db.execute(
            "SELECT profile_id FROM segment_members WHERE segment = ? ORDER BY profile_id",
            (segment,),
        )
        return [pid for (pid,) in rows]

    def put_timers(self, profile_id: str, timers: Mapping[str, dt.datetime | None]) -> None:
        self._db.executemany(
            "DELETE FROM segment_timers WHERE profile_id = ? AND segment = ?",
            [(profile_id, key) for key, due in timers.items() if due is None],
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO segment_timers VALUES (?, ?, ?)",
            [(profile_id, key, format_timestamp(due)) for key, due in timers.items() if due],
        )

    def due_timers(self, now: dt.datetime) -> dict[str, frozenset[str]]:
        rows = self._db.execute(
            "DELETE FROM segment_timers WHERE due <= ? RETURNING profile_id, segment",
            (format_timestamp(now),),
        ).fetchall()
        found: dict[str, set[str]] = {}
        for profile_id, key in rows:
            found.setdefault(profile_id, set()).add(key)
        return {profile_id: frozenset(keys) for profile_id, keys in found.items()}

    def enqueue(self, rows: Iterable[OutboxRow]) -> list[bool]:
        insert = f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}) VALUES ({'?,' * 17}?)"  # noqa: S608 - constants only
        return [bool(self._db.execute(insert, _outbox_values(row)).rowcount) for row in rows]

    def claim(
        self, now: dt.datetime, lease_until: dt.datetime, worker: str, limit: int
    ) -> list[OutboxRow]:
        at = format_timestamp(now)
        # Two index range scans (due pending rows; expired leases) rather than one OR.
        found = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND due_at <= ?"  # noqa: S608 - constants only
            f" UNION ALL SELECT {_OUTBOX_COLUMNS} FROM outbox"
            " WHERE status IN ('claimed', 'sending') AND lease_until <= ?"
            " ORDER BY due_at, id LIMIT ?",
            (at, at, limit),
        ).fetchall()
        rows = [_outbox_row(values) for values in found]
        lease = format_timestamp(lease_until)
        self._db.executemany(
            "UPDATE outbox SET status = 'claimed', lease_until = ?, worker = ?,"
            " possible_duplicate = possible_duplicate OR status = 'sending' WHERE id = ?",
            [(lease, worker, row.id) for row in rows],
        )
        return [
            OutboxRow(
                **{
                    **attrs.asdict(row, recurse=False),
                    "status": "claimed",
                    "lease_until": _parse_instant(lease),
                    "worker": worker,
                    "possible_duplicate": row.possible_duplicate or row.status == "sending",
                }
            )
            for row in rows
        ]

    def put_outbox(self, rows: Iterable[OutboxRow]) -> None:
        # Only the state columns change after enqueue; rewriting the payload would cost more.
        self._db.executemany(
            "UPDATE outbox SET due_at = ?, status = ?, attempts = ?, lease_until = ?, worker = ?,"
            " dispatched_at = ?, possible_duplicate = ?, provider_id = ?, last_error = ?"
            " WHERE id = ?",
            [
                (
                    _format_instant(row.due_at), row.status, row.attempts,
                    _stamp(row.lease_until), row.worker, _stamp(row.dispatched_at),
                    int(row.possible_duplicate), row.provider_id, row.last_error, row.id,
                )
                for row in rows
            ],
        )  # fmt: skip

    def outbox(self, status: str | None = None) -> list[OutboxRow]:
        query = f"SELECT {_OUTBOX_COLUMNS} FROM outbox"  # noqa: S608 - constants only
        if status is None:
            found = self._db.execute(query + " ORDER BY created_at, id")
        else:
            found = self._db.execute(query + " WHERE status = ? ORDER BY created_at, id", (status,))
        return [_outbox_row(values) for values in found]

    def outbox_by_id(self, ids: Iterable[str]) -> dict[str, OutboxRow]:
        keys = list(ids)
        if not keys:
            return {}
        found = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id IN ({_placeholders(keys)})",  # noqa: S608 - placeholders only
            keys,
        )
        return {values[0]: _outbox_row(values) for values in found}

    def dispatches(
        self, profile_ids: Iterable[str], since: dt.datetime
    ) -> dict[str, list[tuple[str, dt.datetime]]]:
        ids = list(profile_ids)
        found: dict[str, list[tuple[str, dt.datetime]]] = {}
        if not ids:
            return found
        rows = self._db.execute(
            "SELECT profile_id, channel, dispatched_at FROM outbox"  # noqa: S608 - placeholders only
            f" WHERE profile_id IN ({_placeholders(ids)}) AND dispatched_at >= ?"
            " AND transactional = 0 AND status IN ('sending', 'sent')",
            [*ids, format_timestamp(since)],
        )
        for pid, channel, at in rows:
            found.setdefault(pid, []).append((channel, parse_timestamp(at)))
        return found

    def mark_invalid(self, address: str, channel: str, at: dt.datetime, reason: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO invalid_addresses VALUES (?, ?, ?, ?)",
            (address, channel, format_timestamp(at), reason),
        )

    def invalid_addresses(self, addresses: Iterable[str]) -> set[str]:
        keys = list(addresses)
        if not keys:
            return set()
        rows = self._db.execute(
            f"SELECT address FROM invalid_addresses WHERE address IN ({_placeholders(keys)})",  # noqa: S608 - placeholders only
            keys,
        )
        return {address for (address,) in rows}

    def put_enrollments(self, rows: Iterable[EnrollmentRow]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO enrollments VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (r.id, r.journey, r.profile_id, r.status, _stamp(r.wake_at), r.waiting_for, r.state)
                for r in rows
            ],
        )

    def enrollments_of(self, profile_ids: Iterable[str]) -> list[EnrollmentRow]:
        keys = list(profile_ids)
        if not keys:
            return []
        found = self._db.execute(
            f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments"  # noqa: S608 - placeholders only
            f" WHERE profile_id IN ({_placeholders(keys)}) ORDER BY id",
            keys,
        )
        return [_enrollment_row(values) for values in found]

    def due_enrollments(self, now: dt.datetime, limit: int) -> list[EnrollmentRow]:
        found = self._db.execute(
            f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments"  # noqa: S608 - constants only
            " WHERE wake_at IS NOT NULL AND wake_at <= ? ORDER BY wake_at, id LIMIT ?",
            (_stamp(now), limit),
        )
        return [_enrollment_row(values) for values in found]

    def enrollments(self, journey: str | None = None) -> list[EnrollmentRow]:
        if journey is None:
            found = self._db.execute(
                f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments ORDER BY id"  # noqa: S608 - constants only
            )
        else:
            found = self._db.execute(
                f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments"  # noqa: S608 - constants only
                " WHERE journey = ? ORDER BY id",
                (journey,),
            )
        return [_enrollment_row(values) for values in found]


class SQLiteStore:
    """Everything in one SQLite file: durable, and shared safely by several processes.

    Profile state snapshots are written as JSON with every change, so another
    process picks up where this one left off instead of refolding a history.

    Args:
        path: The database file (created if missing), or ``":memory:"``.
        busy_timeout: Seconds to wait for another process's write to finish.
        synchronous: SQLite's ``synchronous`` setting: ``"NORMAL"`` (default;
            with WAL a committed transaction survives a process crash) or
            ``"FULL"`` (it also survives power loss, at the cost of an fsync
            per commit).
        event_cache: How many decoded events to keep in memory (by their
            stored text, so the cache is never stale).

    Examples:
        >>> import tempfile, pathlib
        >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "shop.db")
        >>> store.schema_version
        4
        >>> store.close()

    .. versionadded:: 0.1.0
    """

    serializes_snapshots = True

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 30.0,
        synchronous: str = "NORMAL",
        event_cache: int = EVENT_CACHE_SIZE,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValidationError.one("$.synchronous", "invalid", "must be NORMAL or FULL")
        whole("$.event_cache", event_cache, minimum=1)
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._events = _EventCache(event_cache)
        # No SQLite busy handler: it naps up to 100 ms between tries, which starves a busy
        # writer of turns. _immediate() retries itself, quickly and with jitter.
        self._db = sqlite3.connect(
            self.path, timeout=0, isolation_level=None, check_same_thread=False
        )
        self._jitter = random.Random()  # noqa: S311 - spreads retries, not a secret
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(f"PRAGMA synchronous = {synchronous}")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    @property
    def schema_version(self) -> int:
        """How many migrations this file has had."""
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        return int(version)

    def _migrate(self) -> None:
        if self.schema_version == len(MIGRATIONS):
            return  # up to date: opening a busy file must not wait for its write lock
        with self._immediate():
            current = self.schema_version
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path} has schema {current};"
                    f" this omnichannel knows up to {len(MIGRATIONS)}",
                    code="schema_too_new",
                )
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:
                # A nested block (the same thread, inside a transaction) joins the outer one:
                # it commits or rolls back with it.
                yield self._db
                return
            deadline = time.monotonic() + self.busy_timeout
            while True:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    if time.monotonic() > deadline:
                        raise StoreError(f"{self.path} stayed locked: {exc}", code="busy") from None
                    time.sleep(self._jitter.uniform(0, _MAX_NAP))
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTransaction]:
        """Run a block in one write transaction: committed at the end, rolled back on error."""
        with self._immediate() as db:
            yield _SQLiteTransaction(db, self._events)

    def profile_ids(self) -> Iterator[str]:
        """Every profile id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT profile_id FROM profiles ORDER BY profile_id"
            ).fetchall()
        return iter([pid for (pid,) in rows])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
