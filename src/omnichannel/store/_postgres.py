"""A Store in PostgreSQL: many processes ingest, run journeys and relay the outbox at once.

The transaction is the SQL stores' shared one (`omnichannel.store._sql`);
what several writers on several machines need is added here:

- Writers that touch the same person queue, and only they: a transaction
  takes an advisory lock on every identifier it reads or writes
  (``pg_advisory_xact_lock``), and reads a profile row ``FOR UPDATE``. Two
  events of one person apply one after the other, each on the state the
  other left; events of different people run side by side.
- Due work is claimed with ``FOR UPDATE SKIP LOCKED``: outbox rows (then
  leased, so a relay that stops lets them go after the lease), journey
  enrollments and segment timers. A worker that dies mid-transaction
  holds nothing: PostgreSQL rolls it back and the rows are due again.
- Versions come from a sequence, not a counter row every write would queue on.
- A transaction that loses a race PostgreSQL detects (a deadlock between
  two merges, a serialization failure) raises `StoreError` with code
  ``conflict``: nothing of it was written, and running it again is safe.
  `omnichannel.Engine.atomically` does that; ingests and journey ticks use it.

Text columns use the ``C`` collation, so ids and timestamps sort by code
point, as in SQLite and Python.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from omnichannel.errors import StoreError, ValidationError
from omnichannel.models._check import whole
from omnichannel.store._protocol import OutboxRow
from omnichannel.store._sql import (
    EVENT_CACHE_SIZE,
    OUTBOX_COLUMNS,
    Cursor,
    EventCache,
    SQLTransaction,
    format_instant,
    outbox_row,
)

if TYPE_CHECKING:
    import datetime as dt

    import psycopg

_TEXT = 'TEXT COLLATE "C"'

#: Schema migrations, in order; the schema version is the number applied.
MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE messages (message_id {_TEXT} PRIMARY KEY, seen_at {_TEXT} NOT NULL);
    CREATE TABLE identities (
        identity {_TEXT} PRIMARY KEY, profile_id {_TEXT} NOT NULL,
        first_at {_TEXT} NOT NULL, first_message {_TEXT} NOT NULL
    );
    CREATE INDEX identities_profile ON identities (profile_id);
    CREATE TABLE links (
        lo {_TEXT} NOT NULL, hi {_TEXT} NOT NULL, a {_TEXT} NOT NULL, b {_TEXT} NOT NULL,
        at {_TEXT} NOT NULL, message_id {_TEXT} NOT NULL,
        PRIMARY KEY (lo, hi)
    );
    CREATE INDEX links_hi ON links (hi);
    CREATE TABLE separations (a {_TEXT} NOT NULL, b {_TEXT} NOT NULL, PRIMARY KEY (a, b));
    CREATE TABLE merge_log (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        a {_TEXT} NOT NULL, b {_TEXT} NOT NULL, record TEXT NOT NULL
    );
    CREATE INDEX merge_log_a ON merge_log (a);
    CREATE INDEX merge_log_b ON merge_log (b);
    CREATE TABLE events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, identity {_TEXT} NOT NULL,
        message_id {_TEXT} NOT NULL, at {_TEXT} NOT NULL, body TEXT NOT NULL
    );
    CREATE INDEX events_identity ON events (identity, seq);
    CREATE TABLE profiles (
        profile_id {_TEXT} PRIMARY KEY, identities TEXT NOT NULL, version BIGINT NOT NULL,
        snapshot TEXT
    );
    CREATE SEQUENCE profile_version;
    CREATE TABLE suppressions (digest {_TEXT} PRIMARY KEY, at {_TEXT} NOT NULL);
    CREATE TABLE meta (name {_TEXT} PRIMARY KEY, value BYTEA NOT NULL);
    CREATE TABLE segment_members (
        profile_id {_TEXT} NOT NULL, segment {_TEXT} NOT NULL, since {_TEXT} NOT NULL,
        PRIMARY KEY (profile_id, segment)
    );
    CREATE INDEX segment_members_segment ON segment_members (segment, profile_id);
    CREATE TABLE segment_timers (
        profile_id {_TEXT} NOT NULL, segment {_TEXT} NOT NULL, due {_TEXT} NOT NULL,
        PRIMARY KEY (profile_id, segment)
    );
    CREATE INDEX segment_timers_due ON segment_timers (due);
    CREATE TABLE outbox (
        id {_TEXT} PRIMARY KEY, profile_id {_TEXT} NOT NULL, channel {_TEXT} NOT NULL,
        recipient TEXT NOT NULL, message {_TEXT} NOT NULL, purpose {_TEXT} NOT NULL,
        transactional INTEGER NOT NULL, payload TEXT NOT NULL, created_at {_TEXT} NOT NULL,
        due_at {_TEXT} NOT NULL, status {_TEXT} NOT NULL, attempts INTEGER NOT NULL,
        lease_until {_TEXT}, worker TEXT, dispatched_at {_TEXT},
        possible_duplicate INTEGER NOT NULL, provider_id TEXT, last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (status, due_at);
    CREATE INDEX outbox_lease ON outbox (status, lease_until);
    CREATE INDEX outbox_profile ON outbox (profile_id, dispatched_at);
    CREATE TABLE invalid_addresses (
        address TEXT PRIMARY KEY, channel {_TEXT} NOT NULL, at {_TEXT} NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE enrollments (
        id {_TEXT} PRIMARY KEY, journey {_TEXT} NOT NULL, profile_id {_TEXT} NOT NULL,
        status {_TEXT} NOT NULL, wake_at {_TEXT}, waiting_for {_TEXT}, state TEXT NOT NULL
    );
    CREATE INDEX enrollments_due ON enrollments (wake_at, id) WHERE wake_at IS NOT NULL;
    CREATE INDEX enrollments_profile ON enrollments (profile_id);
    """,
)

# Any two processes opening a store at once take turns to create or migrate it.
_MIGRATION_LOCK = 0x6F6D6E69  # "omni"

# What a claim returns: the outbox columns of the updated rows.
_CLAIMED_COLUMNS = ", ".join(f"outbox.{name.strip()}" for name in OUTBOX_COLUMNS.split(","))

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@functools.lru_cache(maxsize=512)
def _psycopg_sql(statement: str) -> str:
    """The shared ``?``-placeholder statement in psycopg's ``%s`` form."""
    return statement.replace("%", "%%").replace("?", "%s")


class _Psycopg:
    """A psycopg connection seen as the shared transaction's ``?``-placeholder connection."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self._connection.execute(_psycopg_sql(sql), parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> object:
        with self._connection.cursor() as cursor:
            cursor.executemany(_psycopg_sql(sql), parameters)
        return None


class _PostgresTransaction(SQLTransaction):
    PROFILE_READ = SQLTransaction.PROFILE_READ + " FOR UPDATE"
    # Rows another worker is taking right now are skipped, not waited for; a worker that
    # dies mid-transaction holds nothing (PostgreSQL rolls it back, the rows are due again).
    LOCK_DUE = " FOR UPDATE SKIP LOCKED"
    TAKE_DUE_TIMERS = (
        "DELETE FROM segment_timers WHERE (profile_id, segment) IN ("
        " SELECT profile_id, segment FROM segment_timers WHERE due <= ?"
        " FOR UPDATE SKIP LOCKED) RETURNING profile_id, segment"
    )

    def __init__(self, connection: _Psycopg, events: EventCache, schema: str) -> None:
        super().__init__(connection, events)
        self._schema = schema
        self._held: set[str] = set()

    def _lock(self, keys: list[str]) -> None:
        new = sorted(set(keys) - self._held)
        if not new:
            return
        self._held.update(new)
        # In sorted order, so two transactions locking the same set at once never deadlock;
        # the schema is part of the key, so two stores in one database never wait for each other.
        self._db.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(? || k, 0)))"
            " FROM unnest(?::text[]) AS k",
            (self._schema + ":", new),
        )

    def _next_version(self) -> int:
        (version,) = self._db.execute("SELECT nextval('profile_version')").fetchone()
        return int(version)

    def claim(
        self, now: dt.datetime, lease_until: dt.datetime, worker: str, limit: int
    ) -> list[OutboxRow]:
        at = format_instant(now)
        found = self._db.execute(
            "WITH picked AS (SELECT id FROM outbox"  # noqa: S608 - constants only
            " WHERE (status = 'pending' AND due_at <= ?)"
            " OR (status IN ('claimed', 'sending') AND lease_until <= ?)"
            f" ORDER BY due_at, id LIMIT ?{self.LOCK_DUE})"
            " UPDATE outbox SET status = 'claimed', lease_until = ?, worker = ?,"
            " possible_duplicate = CASE WHEN outbox.status = 'sending' THEN 1"
            " ELSE outbox.possible_duplicate END"
            f" FROM picked WHERE outbox.id = picked.id RETURNING {_CLAIMED_COLUMNS}",
            (at, at, limit, format_instant(lease_until), worker),
        ).fetchall()
        rows = [outbox_row(values) for values in found]
        return sorted(rows, key=lambda row: (row.due_at, row.id))


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the tests install it
        raise StoreError(
            "PostgresStore needs psycopg 3: pip install 'omnichannel[postgres]'",
            code="driver_missing",
        ) from None
    return psycopg


class PostgresStore:
    """Everything in a PostgreSQL database, shared by many processes on many machines.

    Each process opens its own store (one connection; threads of a process
    take turns on it). Every table lives in ``schema``, created and migrated
    on open, so one database can hold several stores (a test's, a
    staging copy's).

    Args:
        conninfo: A libpq connection string or URL
            (``"postgresql://app@db.internal/marketing"``).
        schema: The PostgreSQL schema holding the store's tables.
        event_cache: How many decoded events to keep in memory (by their
            stored text, so the cache is never stale).
        connect_timeout: Seconds to wait for the server.

    Raises:
        ValidationError: a bad ``schema`` name or ``event_cache``.
        StoreError: the server cannot be reached (``unavailable``), or its
            schema is newer than this omnichannel (``schema_too_new``).

    Examples:
        >>> store = PostgresStore(
        ...     "host=127.0.0.1 user=postgres dbname=test", schema="doctest_store"
        ... )  # doctest: +SKIP
        >>> store.schema_version  # doctest: +SKIP
        1

    .. versionadded:: 0.2.0
    """

    serializes_snapshots = True

    def __init__(
        self,
        conninfo: str = "",
        *,
        schema: str = "omnichannel",
        event_cache: int = EVENT_CACHE_SIZE,
        connect_timeout: float = 10.0,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(str(schema)):
            raise ValidationError.one(
                "$.schema", "invalid", "must be a lowercase SQL name: letters, digits, _"
            )
        whole("$.event_cache", event_cache, minimum=1)
        driver = _driver()
        self.schema = schema
        self._lock = threading.RLock()
        self._events = EventCache(event_cache)
        self._open: _PostgresTransaction | None = None
        try:
            self._conn: psycopg.Connection[Any] = driver.connect(
                conninfo, autocommit=True, connect_timeout=max(1, round(connect_timeout))
            )
        except driver.OperationalError as exc:
            raise StoreError(
                f"cannot reach PostgreSQL: {str(exc).strip()}", code="unavailable"
            ) from None
        self._migrate()
        self._conn.execute(f'SET search_path TO "{schema}"')

    @property
    def schema_version(self) -> int:
        """How many migrations this store's schema has had."""
        with self._lock:
            row = self._conn.execute(
                "SELECT max(number) FROM migrations WHERE to_regclass(%s) IS NOT NULL",
                (f'"{self.schema}".migrations',),
            ).fetchone()
        return int(row[0] or 0) if row else 0

    def _migrate(self) -> None:
        schema = self.schema
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._conn.execute(f'SET LOCAL search_path TO "{schema}"')
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations"
                " (number INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            found = self._conn.execute("SELECT max(number) FROM migrations").fetchone()
            current = int(found[0] or 0) if found else 0
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"schema {schema} has version {current};"
                    f" this omnichannel knows up to {len(MIGRATIONS)}",
                    code="schema_too_new",
                )
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                self._conn.execute(script.encode())
                self._conn.execute("INSERT INTO migrations (number) VALUES (%s)", (number,))

    @contextmanager
    def transaction(self) -> Iterator[SQLTransaction]:
        """Run a block in one transaction: committed at the end, rolled back on error.

        Raises:
            StoreError: ``conflict`` when PostgreSQL ended the transaction to
                break a deadlock or a serialization failure (nothing was
                written; run it again), ``unavailable`` when the connection
                was lost.
        """
        driver = _driver()
        with self._lock:
            if self._open is not None:
                # A nested block (the same thread, inside a transaction) joins the outer one.
                yield self._open
                return
            try:
                with self._conn.transaction():
                    self._open = _PostgresTransaction(
                        _Psycopg(self._conn), self._events, self.schema
                    )
                    try:
                        yield self._open
                    finally:
                        self._open = None
            except (driver.errors.DeadlockDetected, driver.errors.SerializationFailure) as exc:
                raise StoreError(
                    f"lost a race with another writer: {str(exc).strip()}", code="conflict"
                ) from exc
            except driver.OperationalError as exc:
                raise StoreError(
                    f"PostgreSQL connection failed: {str(exc).strip()}", code="unavailable"
                ) from exc

    def profile_ids(self) -> Iterator[str]:
        """Every profile id."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT profile_id FROM profiles ORDER BY profile_id"
            ).fetchall()
        return iter([pid for (pid,) in rows])

    def drop(self) -> None:
        """Delete the store's schema and everything in it, then close (tests, staging)."""
        with self._lock:
            self._conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            self._conn.close()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
