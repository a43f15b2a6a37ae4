"""Crash injection: a journey worker killed between (or inside) steps repeats no step's effect.

Each run copies a prepared SQLite file (twelve people who each entered a
journey that e-mails, grants points, waits an hour, then texts), forks a
worker that ticks the journeys in small batches, and kills it: at the n-th
send decision (inside a batch's transaction: it rolls back) or with SIGKILL
at a random moment. A second worker then ticks on. Checked against a run
that was never interrupted: the same messages are queued, each once; the
same points are granted, each once; every enrollment ends where it should.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
from collections import Counter
from pathlib import Path

import pendulum
import pytest

from omnichannel.channels.local import RecordingAdapter
from omnichannel.clock import FixedClock
from omnichannel.delivery import Delivery
from omnichannel.engine import Engine
from omnichannel.journeys import HOUR, Journey, JourneyRunner, OnEvent, Send, Update, Wait
from omnichannel.personalization import Email, Message, Sms
from omnichannel.store import SQLiteStore

AT = pendulum.datetime(2024, 3, 5, 15)
USERS = tuple(f"u{n}" for n in range(12))
NAMED_RUNS = 24  # killed at the 1st to 24th send decision
RANDOM_RUNS = 36
JOURNEY = Journey(
    key="crash",
    name="Crash",
    entry=OnEvent(event="Product Added"),
    steps=(
        Send(key="email", message="hello", channels=("email",)),
        Update(key="points", points=10),
        Wait(key="hour", seconds=HOUR),
        Send(key="sms", message="hello", channels=("sms",)),
    ),
)
MESSAGE = Message(
    key="hello",
    email=Email(subject="Hi", sender="shop@example.com", text="Hi {{ unsubscribe_url }}"),
    sms=Sms(body="Hi. STOP=opt out"),
)


def runner(path: Path, at: pendulum.DateTime, hook: object = None) -> JourneyRunner:
    engine = Engine(SQLiteStore(path), clock=FixedClock(at))
    recorder = RecordingAdapter()
    delivery = Delivery(
        engine,
        {"email": recorder, "sms": recorder},
        hook=hook,  # type: ignore[arg-type]
    )
    return JourneyRunner(
        engine, delivery, [JOURNEY], [MESSAGE], unsubscribe_url=lambda _p: "u", batch=3
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "template.db"
    shop = runner(path, AT)
    engine = shop.engine
    for n, user in enumerate(USERS):
        engine.ingest(
            {"type": "identify", "userId": user, "timestamp": f"2024-03-01T10:00:{n:02d}Z",
             "traits": {"email": f"{user}@example.com", "phone": f"+4915123617{n:03d}"}}
        )  # fmt: skip
        for channel in ("email", "sms"):
            engine.ingest(
                {"type": "track", "userId": user, "event": "Consent Granted",
                 "timestamp": f"2024-03-01T10:01:{n:02d}Z",
                 "properties": {"purpose": "marketing", "channel": channel}}
            )  # fmt: skip
        engine.ingest(
            {"type": "track", "userId": user, "event": "Product Added",
             "timestamp": f"2024-03-05T15:00:{n:02d}Z", "properties": {"product_id": "p1"}}
        )  # fmt: skip
    engine.close()
    return path


def finish(path: Path) -> tuple[Counter[tuple[str, str]], dict[str, int], list[str]]:
    """Tick on after the crash; return (queued messages, points by person, final statuses)."""
    shop = runner(path, AT)
    shop.tick(AT)
    shop.engine.clock = FixedClock(AT.add(hours=2))
    shop.tick(AT.add(hours=2))
    rows = shop.delivery.outbox()
    queued = Counter((row.profile_id, row.channel) for row in rows)
    points = {}
    for user in USERS:
        state = shop.engine.state(next(r.profile_id for r in rows if r.to.startswith(user + "@")))
        points[user] = state.loyalty.balance if state is not None else -1
    statuses = sorted(f"{e.status}:{e.exit_reason}" for e in shop.enrollments())
    shop.engine.close()
    return queued, points, statuses


def crash_run(path: Path, run: int, decision: int | None) -> int:
    """Fork a worker that ticks and dies at its ``decision``-th send (or at a random moment)."""
    delay = random.Random(run).uniform(0.0, 0.15)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked worker
        try:
            if decision is None:
                timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL))
                timer.daemon = True
                timer.start()
            seen = Counter[str]()

            def hook(point: str) -> None:
                seen[point] += 1
                if point == "after_decision" and seen[point] == decision:
                    os._exit(3)

            shop = runner(path, AT, hook)
            shop.tick(AT)
            shop.engine.clock = FixedClock(AT.add(hours=2))
            shop.tick(AT.add(hours=2))
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    return status


def test_a_journey_worker_killed_anywhere_repeats_no_step(prepared: Path, tmp_path: Path) -> None:
    reference_path = tmp_path / "reference.db"
    shutil.copy(prepared, reference_path)
    reference = finish(reference_path)
    queued, points, statuses = reference
    assert set(queued.values()) == {1}
    assert len(queued) == 2 * len(USERS)
    assert set(points.values()) == {10}
    assert statuses == ["exited:completed"] * len(USERS)
    plan = [(n, n + 1) for n in range(NAMED_RUNS)]
    plan += [(NAMED_RUNS + n, None) for n in range(RANDOM_RUNS)]
    killed = 0
    for run, decision in plan:
        path = tmp_path / f"run-{run}.db"
        shutil.copy(prepared, path)
        killed += crash_run(path, run, decision) != 0
        assert finish(path) == reference, (run, decision)
    assert killed >= NAMED_RUNS  # the named points did kill; random kills may come after the end
