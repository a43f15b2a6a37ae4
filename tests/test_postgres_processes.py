"""Many processes on one PostgresStore: hot profiles, journeys drained while workers die, merges.

The CI-sized runs here are small; the issue's figures (16 workers x 10,000
updates; 16 journey workers, a quarter SIGKILLed) are the same tests at full
size, marked ``figures`` and run by ``nox -s figures`` (CI runs it too).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnichannel import Identity
from omnichannel.clock import FixedClock
from omnichannel.engine import Engine
from omnichannel.state import fold
from omnichannel.store import PostgresStore
from postgres_worker import AT, journey_shop, points
from support import POSTGRES_DSN, postgres_store

WORKER = Path(__file__).with_name("postgres_worker.py")


@pytest.fixture
def schema() -> Iterator[str]:
    """A new, empty store schema (dropped afterwards)."""
    store = postgres_store()
    yield store.schema
    store.close()


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _wait_all(workers: list[subprocess.Popen[bytes]], *, killed: frozenset[int] = frozenset()):
    failures = []
    for number, proc in enumerate(workers):
        _, err = proc.communicate(timeout=3600)
        if number not in killed and proc.returncode != 0:
            failures.append(err.decode()[-3000:])
    assert [] == failures


def hot_profiles(schema: str, workers: int, updates: int, hot: int) -> None:
    """``workers`` processes x ``updates`` point events spread over ``hot`` people: none lost."""
    _wait_all([_spawn("updates", schema, f"w{n}", str(updates), str(hot)) for n in range(workers)])
    with Engine(PostgresStore(POSTGRES_DSN, schema=schema)) as engine:
        balances = []
        for person in range(hot):
            person_id = Identity(kind="user_id", value=f"hot-{person}")
            state = engine.state(person_id)
            assert state is not None
            balances.append(state.loyalty.balance)
            assert state.loyalty.balance == state.loyalty.movements == state.activity.events
            with engine.store.transaction() as tx:
                profile = engine.profile(person_id)
                assert profile is not None
                row = tx.profile(profile.id)
                assert row is not None
                # The snapshot chain, written by many processes, equals a fold of the history.
                assert fold(tx.events_of(row.identities)) == state
        assert sum(balances) == workers * updates
        # Each person got exactly the updates the workers sent them.
        sent = Counter(
            points(f"w{n}", number, hot)["userId"]
            for n in range(workers)
            for number in range(updates)
        )
        assert balances == [sent[f"hot-{person}"] for person in range(hot)]


def test_sixteen_workers_update_hot_profiles_without_losing_any(schema: str) -> None:
    hot_profiles(schema, workers=16, updates=200, hot=8)


@pytest.mark.figures
def test_figure_sixteen_workers_ten_thousand_updates_each(schema: str) -> None:
    """The issue's figure: 16 processes x 10,000 updates on 64 hot people, exactly 160,000 applied.

    Each person is updated 2,500 times, by all 16 processes at once.
    """
    hot_profiles(schema, workers=16, updates=10_000, hot=64)


def _enter(schema: str, people: int) -> None:
    """``people`` people who each consented and added to cart: each enters the drain journey."""
    shop = journey_shop(PostgresStore(POSTGRES_DSN, schema=schema))
    calls: list[dict[str, Any]] = []
    for n in range(people):
        user = f"u{n}"
        calls.append(
            {"type": "identify", "userId": user, "timestamp": "2024-03-01T10:00:00Z",
             "traits": {"email": f"{user}@example.com", "phone": f"+4915123{n:06d}"}}
        )  # fmt: skip
        calls.extend(
            {"type": "track", "userId": user, "event": "Consent Granted",
             "timestamp": "2024-03-01T10:01:00Z",
             "properties": {"purpose": "marketing", "channel": channel}}
            for channel in ("email", "sms")
        )  # fmt: skip
        calls.append(
            {"type": "track", "userId": user, "event": "Product Added",
             "timestamp": "2024-03-05T14:59:00Z", "properties": {"product_id": "p1"}}
        )  # fmt: skip
    for start in range(0, len(calls), 400):
        shop.engine.ingest_many(calls[start : start + 400])
    store = shop.engine.store
    assert isinstance(store, PostgresStore)
    with store.transaction():
        store._conn.execute("CREATE TABLE step_log (enrollment TEXT, status TEXT, worker TEXT)")
    shop.engine.close()


def drain_journeys(schema: str, workers: int, people: int, kills: int) -> None:
    """``workers`` processes drain the journeys; ``kills`` of them are SIGKILLed on the way."""
    _enter(schema, people)
    procs = [_spawn("journeys", schema, f"w{n}") for n in range(workers)]
    doomed = frozenset(random.Random(people).sample(range(workers), kills))
    time.sleep(0.8)  # they are connected and ticking
    for number in sorted(doomed):
        time.sleep(random.Random(number).uniform(0.05, 0.3))
        os.kill(procs[number].pid, signal.SIGKILL)
    _wait_all(procs, killed=doomed)
    shop = journey_shop(PostgresStore(POSTGRES_DSN, schema=schema))
    # One more poll: what the killed workers held was rolled back and is due again.
    shop.tick(AT)
    with shop.engine.store.transaction() as tx:
        assert [] == tx.due_enrollments(AT, 10)
    enrollments = shop.enrollments("drain")
    assert len(enrollments) == people
    assert {f"{e.status}:{e.exit_reason}" for e in enrollments} == {"exited:completed"}
    outbox = shop.delivery.outbox()
    assert sorted((row.profile_id, row.channel) for row in outbox) == sorted(
        (e.profile_id, channel) for e in enrollments for channel in ("email", "sms")
    )
    for e in enrollments:
        state = shop.engine.state(e.profile_id)
        assert state is not None
        assert state.loyalty.balance == 10
    store = shop.engine.store
    assert isinstance(store, PostgresStore)
    with store.transaction():
        completions = store._conn.execute(
            "SELECT enrollment, count(*) FROM step_log WHERE status = 'exited' GROUP BY 1"
        ).fetchall()
    # Each enrollment completed once: no step ran twice (each completion is logged in its step's
    # transaction). The last poll's own runs are not logged; they complete the rest.
    assert all(count == 1 for _, count in completions)
    assert len(completions) <= people
    shop.engine.close()


def test_journey_workers_killed_mid_drain_repeat_and_strand_nothing(schema: str) -> None:
    drain_journeys(schema, workers=8, people=120, kills=2)


@pytest.mark.figures
def test_figure_sixteen_journey_workers_a_quarter_killed(schema: str) -> None:
    """The issue's figure: 16 workers drain journey steps while 4 of them are SIGKILLed."""
    drain_journeys(schema, workers=16, people=2_000, kills=4)


def _calls(people: int, seed: int) -> list[dict[str, Any]]:
    """identify and alias calls that tie each person's devices, e-mail and user id together."""
    rng = random.Random(seed)
    calls: list[dict[str, Any]] = []
    for n in range(people):
        devices = [f"d{n}-{k}" for k in range(rng.randint(1, 4))]
        for k, device in enumerate(devices):
            second = rng.randint(0, 59)
            calls.append(
                {"type": "identify", "anonymousId": device, "userId": f"u{n}",
                 "timestamp": f"2024-03-0{1 + k}T10:00:{second:02d}Z",
                 "traits": {"email": f"p{n}@example.com", "device": device}}
            )  # fmt: skip
        if rng.random() < 0.5:
            calls.append(
                {"type": "alias", "previousId": f"old-{n}", "userId": f"u{n}",
                 "timestamp": "2024-02-28T09:00:00Z"}
            )  # fmt: skip
    for n, call in enumerate(calls):
        call["messageId"] = f"m{n}"
    rng.shuffle(calls)
    return calls


def _graph(schema: str) -> dict[str, Any]:
    with Engine(PostgresStore(POSTGRES_DSN, schema=schema), clock=FixedClock(AT)) as engine:
        found = {}
        for pid in engine.store.profile_ids():
            profile = engine.profile(pid)
            assert profile is not None
            found[pid] = (sorted(map(str, profile.identities)), profile.traits)
        return found


def test_concurrent_identify_and_alias_calls_merge_as_the_serial_run(
    schema: str, tmp_path: Path
) -> None:
    calls = _calls(people=60, seed=7)
    serial = f"t_{secrets.token_hex(6)}"
    try:
        with Engine(PostgresStore(POSTGRES_DSN, schema=serial), clock=FixedClock(AT)) as engine:
            for call in calls:
                engine.ingest(call)
        expected = _graph(serial)
    finally:
        postgres_store(serial).close()
    workers = 8
    for n in range(workers):
        (tmp_path / f"calls-{n}.json").write_text(json.dumps(calls[n::workers]))
    _wait_all(
        [_spawn("calls", schema, f"w{n}", str(tmp_path / f"calls-{n}.json")) for n in range(8)]
    )
    assert _graph(schema) == expected
    assert len(expected) == 60


def test_a_store_schema_name_is_checked() -> None:
    from omnichannel.errors import ValidationError

    with pytest.raises(ValidationError, match=r"\$\.schema"):
        PostgresStore(POSTGRES_DSN, schema="Robert'); DROP TABLE students;--")
