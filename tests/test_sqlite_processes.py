"""SQLite under several processes: nothing lost, nothing half-written, no SQLITE_BUSY."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnichannel import Identity
from omnichannel.engine import Engine
from omnichannel.state import fold
from omnichannel.store import SQLiteStore

WORKER = Path(__file__).with_name("sqlite_worker.py")
HOT = Identity(kind="user_id", value="hot-user")


def _spawn(db: Path, worker: str, count: int, start: int = 0) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), worker, str(count), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_eight_processes_update_one_hot_profile_without_losing_any(tmp_path):
    """8 processes x 2,000 read-modify-write updates of one profile: exactly 16,000 applied, no error."""
    db = tmp_path / "hot.db"
    SQLiteStore(db).close()
    workers = [_spawn(db, f"w{n}", 2000) for n in range(8)]
    failures = []
    for proc in workers:
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            failures.append(err.decode()[-2000:])
    assert [] == failures
    with Engine(SQLiteStore(db)) as engine:
        state = engine.state(HOT)
        assert state is not None
        assert (16_000, 16_000, 16_000) == (
            state.loyalty.balance,
            state.loyalty.movements,
            state.activity.events,
        )
        # The snapshot chain agrees with a fold of the whole history.
        with engine.store.transaction() as tx:
            row = tx.profile(engine.profile(HOT).id)
            assert row is not None
            assert fold(tx.events_of(row.identities)) == state


def _check_consistency(db: Path) -> int:
    """Every stored message has its event, identities, profile and a snapshot equal to a refold."""
    raw = sqlite3.connect(db)
    assert [("ok",)] == raw.execute("PRAGMA integrity_check").fetchall()
    messages = {m for (m,) in raw.execute("SELECT message_id FROM messages")}
    events = {m for (m,) in raw.execute("SELECT message_id FROM events")}
    assert messages == events
    orphans = raw.execute(
        "SELECT COUNT(*) FROM events e LEFT JOIN identities i ON i.identity = e.identity WHERE i.identity IS NULL"
    ).fetchone()[0]
    assert 0 == orphans
    raw.close()
    with Engine(SQLiteStore(db)) as engine, engine.store.transaction() as tx:
        for pid in list(engine.store.profile_ids()):
            row = tx.profile(pid)
            assert row is not None
            assert fold(tx.events_of(row.identities)) == engine._decode(row.snapshot)
    return len(events)


def _wait_for_writes(db: Path, *, beyond: int, timeout: float = 120.0) -> None:
    """Wait until the file holds more than ``beyond`` events."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(db)) as raw:
            (count,) = raw.execute("SELECT count(*) FROM events").fetchone()
        if count > beyond:
            return
        time.sleep(0.02)
    raise AssertionError(f"the writer stored nothing beyond {beyond} in {timeout} s")


@pytest.mark.parametrize("seed", range(3))
def test_a_writer_killed_at_random_moments_leaves_nothing_half_written(tmp_path, seed):
    """SIGKILL a writer at random times, repeatedly: every event is stored with all its effects, or not at all."""
    rnd = random.Random(seed)
    db = tmp_path / "crash.db"
    SQLiteStore(db).close()
    start = stored = 0
    for _ in range(5):
        proc = _spawn(db, "crashy", 100_000, start)
        # Killed while it writes: once it has committed (start-up takes long on a busy machine),
        # at a random moment after.
        _wait_for_writes(db, beyond=stored)
        time.sleep(rnd.uniform(0.0, 0.9))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        stored = _check_consistency(db)
        assert stored >= start  # nothing committed before was lost
        # Resume a little before where the last run got to: resends must dedupe.
        start = max(0, stored - 3)
    assert _check_consistency(db) >= 1
