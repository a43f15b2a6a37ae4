"""The embedded default Store: one SQLite file, WAL, one writer at a time.

Each transaction starts with ``BEGIN IMMEDIATE`` (it takes the write lock up
front, so two writers never deadlock half-way), waits up to ``busy_timeout``
for a busy file, and retries a few times more before giving up with a
`StoreError`: callers never see ``SQLITE_BUSY``. The schema is versioned and
migrated on open.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omnichannel.errors import StoreError, ValidationError
from omnichannel.models._check import whole
from omnichannel.store._sql import EVENT_CACHE_SIZE, EventCache, SQLTransaction

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


#: How long one wait for the write lock may sleep, at most (seconds).
_MAX_NAP = 0.004


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
        self._events = EventCache(event_cache)
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
    def transaction(self) -> Iterator[SQLTransaction]:
        """Run a block in one write transaction: committed at the end, rolled back on error."""
        with self._immediate() as db:
            yield SQLTransaction(db, self._events)

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
