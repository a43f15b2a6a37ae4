"""What the SQL stores share: one transaction written once, in SQL both SQLite and PostgreSQL run.

Statements use ``?`` placeholders and the upsert form both engines know
(``INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE``); a PostgreSQL
connection adapter turns the placeholders into psycopg's. What differs
(how versions are numbered, how due rows are claimed by several workers,
locks) is overridden by each store's own transaction class.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import pendulum

from omnichannel._convert import converter, stored_converter
from omnichannel._time import format_timestamp, parse_timestamp
from omnichannel.errors import StoreError
from omnichannel.identity import Link, MergeRecord
from omnichannel.models import Event, Identity
from omnichannel.store._protocol import EnrollmentRow, IdentityRow, OutboxRow, ProfileRow


class Cursor(Protocol):
    """What the transaction reads from a statement's result (sqlite3's and psycopg's cursors)."""

    @property
    def rowcount(self) -> int: ...

    def __iter__(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What the transaction needs of a connection: ``?``-placeholder statements."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> object: ...


OUTBOX_COLUMNS = (
    "id, profile_id, channel, recipient, message, purpose, transactional, payload, created_at,"
    " due_at, status, attempts, lease_until, worker, dispatched_at, possible_duplicate,"
    " provider_id, last_error"
)


# Outbox rows of one relay round share their few instants (now, the lease's end): cached.
format_instant = functools.lru_cache(maxsize=1024)(format_timestamp)
_parse_instant = functools.lru_cache(maxsize=4096)(parse_timestamp)


def stamp(value: dt.datetime | None) -> str | None:
    return None if value is None else format_instant(value)


def _moment(value: str | None) -> dt.datetime | None:
    return None if value is None else _parse_instant(value)


ENROLLMENT_COLUMNS = "id, journey, profile_id, status, wake_at, waiting_for, state"


def enrollment_row(values: tuple[Any, ...]) -> EnrollmentRow:
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
        format_instant(row.created_at),
        format_instant(row.due_at),
        row.status,
        row.attempts,
        stamp(row.lease_until),
        row.worker,
        stamp(row.dispatched_at),
        int(row.possible_duplicate),
        row.provider_id,
        row.last_error,
    )


def outbox_row(values: tuple[Any, ...]) -> OutboxRow:
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


class EventCache:
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


class SQLTransaction:
    """The Store's `Transaction` in SQL; subclasses supply what their engine does its own way."""

    #: How a profile row is read (a store with concurrent writers locks it for the transaction).
    PROFILE_READ = "SELECT identities, version, snapshot FROM profiles WHERE profile_id = ?"
    #: How due segment timers are taken off the index (all of them, here: one writer at a time).
    TAKE_DUE_TIMERS = "DELETE FROM segment_timers WHERE due <= ? RETURNING profile_id, segment"
    #: What due rows read for work are locked with (nothing, where writers take turns anyway).
    LOCK_DUE = ""

    def __init__(self, connection: Connection, events: EventCache) -> None:
        self._db = connection
        self._events = events

    def remember_message(
        self, message_id: str, at: pendulum.DateTime, window: pendulum.Duration
    ) -> bool:
        seen_at = format_timestamp(at)
        # Almost every message is new: one statement then; a resend costs a second look.
        inserted = self._db.execute(
            "INSERT INTO messages VALUES (?, ?) ON CONFLICT DO NOTHING", (message_id, seen_at)
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

    def _lock(self, keys: list[str]) -> None:
        """Hold these identifiers until the transaction ends (where writers run side by side)."""

    def identity_rows(self, identities: Iterable[Identity]) -> dict[Identity, IdentityRow]:
        keys = [_key(i) for i in identities]
        if not keys:
            return {}
        self._lock(keys)
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
        self._lock([_key(i) for i in rows])
        self._db.executemany(
            "INSERT INTO identities VALUES (?, ?, ?, ?) ON CONFLICT (identity) DO UPDATE SET"
            " profile_id = excluded.profile_id, first_at = excluded.first_at,"
            " first_message = excluded.first_message",
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
            "INSERT INTO separations VALUES (?, ?) ON CONFLICT DO NOTHING",
            (_key(first), _key(second)),
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
        row = self._db.execute(self.PROFILE_READ, (profile_id,)).fetchone()
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
            raise StoreError("SQL stores keep snapshots as JSON text", code="snapshot_type")
        version = self._next_version()
        self._db.execute(
            "INSERT INTO profiles VALUES (?, ?, ?, ?) ON CONFLICT (profile_id) DO UPDATE SET"
            " identities = excluded.identities, version = excluded.version,"
            " snapshot = excluded.snapshot",
            (profile_id, json.dumps(sorted(_key(i) for i in identities)), version, snapshot),
        )
        return version

    def _next_version(self) -> int:
        """A profile version no other write has had (the store's counter, bumped)."""
        (version,) = self._db.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'profile_version' RETURNING value"
        ).fetchone()
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
            "INSERT INTO suppressions VALUES (?, ?)"
            " ON CONFLICT (digest) DO UPDATE SET at = excluded.at",
            (digest, format_timestamp(at)),
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
        # Another process may make one at the same moment: the first one stored is the key.
        self._db.execute(
            "INSERT INTO meta VALUES ('secret', ?) ON CONFLICT DO NOTHING",
            (secrets.token_bytes(32),),
        )
        (key,) = self._db.execute("SELECT value FROM meta WHERE name = 'secret'").fetchone()
        return bytes(key)

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
            "INSERT INTO segment_members VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
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
            "INSERT INTO segment_timers VALUES (?, ?, ?)"
            " ON CONFLICT (profile_id, segment) DO UPDATE SET due = excluded.due",
            [(profile_id, key, format_timestamp(due)) for key, due in timers.items() if due],
        )

    def due_timers(self, now: dt.datetime) -> dict[str, frozenset[str]]:
        rows = self._db.execute(self.TAKE_DUE_TIMERS, (format_timestamp(now),)).fetchall()
        found: dict[str, set[str]] = {}
        for profile_id, key in rows:
            found.setdefault(profile_id, set()).add(key)
        return {profile_id: frozenset(keys) for profile_id, keys in found.items()}

    def enqueue(self, rows: Iterable[OutboxRow]) -> list[bool]:
        insert = (
            f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ({'?,' * 17}?)"  # noqa: S608 - constants only
            " ON CONFLICT DO NOTHING"
        )
        return [bool(self._db.execute(insert, _outbox_values(row)).rowcount) for row in rows]

    def claim(
        self, now: dt.datetime, lease_until: dt.datetime, worker: str, limit: int
    ) -> list[OutboxRow]:
        at = format_timestamp(now)
        # Two index range scans (due pending rows; expired leases) rather than one OR.
        found = self._db.execute(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND due_at <= ?"  # noqa: S608 - constants only
            f" UNION ALL SELECT {OUTBOX_COLUMNS} FROM outbox"
            " WHERE status IN ('claimed', 'sending') AND lease_until <= ?"
            " ORDER BY due_at, id LIMIT ?",
            (at, at, limit),
        ).fetchall()
        rows = [outbox_row(values) for values in found]
        lease = format_timestamp(lease_until)
        self._db.executemany(
            "UPDATE outbox SET status = 'claimed', lease_until = ?, worker = ?,"
            " possible_duplicate = CASE WHEN status = 'sending' THEN 1 ELSE possible_duplicate END"
            " WHERE id = ?",
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
                    format_instant(row.due_at), row.status, row.attempts,
                    stamp(row.lease_until), row.worker, stamp(row.dispatched_at),
                    int(row.possible_duplicate), row.provider_id, row.last_error, row.id,
                )
                for row in rows
            ],
        )  # fmt: skip

    def outbox(self, status: str | None = None) -> list[OutboxRow]:
        query = f"SELECT {OUTBOX_COLUMNS} FROM outbox"  # noqa: S608 - constants only
        if status is None:
            found = self._db.execute(query + " ORDER BY created_at, id")
        else:
            found = self._db.execute(query + " WHERE status = ? ORDER BY created_at, id", (status,))
        return [outbox_row(values) for values in found]

    def outbox_by_id(self, ids: Iterable[str]) -> dict[str, OutboxRow]:
        keys = list(ids)
        if not keys:
            return {}
        found = self._db.execute(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id IN ({_placeholders(keys)})",  # noqa: S608 - placeholders only
            keys,
        )
        return {values[0]: outbox_row(values) for values in found}

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
            "INSERT INTO invalid_addresses VALUES (?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET"
            " channel = excluded.channel, at = excluded.at, reason = excluded.reason",
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
            "INSERT INTO enrollments VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " journey = excluded.journey, profile_id = excluded.profile_id,"
            " status = excluded.status, wake_at = excluded.wake_at,"
            " waiting_for = excluded.waiting_for, state = excluded.state",
            [
                (r.id, r.journey, r.profile_id, r.status, stamp(r.wake_at), r.waiting_for, r.state)
                for r in rows
            ],
        )

    def enrollments_of(self, profile_ids: Iterable[str]) -> list[EnrollmentRow]:
        keys = list(profile_ids)
        if not keys:
            return []
        found = self._db.execute(
            f"SELECT {ENROLLMENT_COLUMNS} FROM enrollments"  # noqa: S608 - placeholders only
            f" WHERE profile_id IN ({_placeholders(keys)}) ORDER BY id",
            keys,
        )
        return [enrollment_row(values) for values in found]

    def due_enrollments(self, now: dt.datetime, limit: int) -> list[EnrollmentRow]:
        found = self._db.execute(
            f"SELECT {ENROLLMENT_COLUMNS} FROM enrollments"  # noqa: S608 - constants only
            " WHERE wake_at IS NOT NULL AND wake_at <= ? ORDER BY wake_at, id LIMIT ?"
            + self.LOCK_DUE,
            (stamp(now), limit),
        )
        return [enrollment_row(values) for values in found]

    def enrollments(self, journey: str | None = None) -> list[EnrollmentRow]:
        if journey is None:
            found = self._db.execute(
                f"SELECT {ENROLLMENT_COLUMNS} FROM enrollments ORDER BY id"  # noqa: S608 - constants only
            )
        else:
            found = self._db.execute(
                f"SELECT {ENROLLMENT_COLUMNS} FROM enrollments"  # noqa: S608 - constants only
                " WHERE journey = ? ORDER BY id",
                (journey,),
            )
        return [enrollment_row(values) for values in found]
