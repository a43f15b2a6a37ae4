"""Crash injection: a worker killed anywhere loses no message and duplicates only flagged ones.

Each run forks a worker process that decides three sends and relays them
through the webhook adapter to a real HTTP server on 127.0.0.1, on an SQLite
file. The worker dies at a named point (after the decision, after the claim,
after the dispatch check, after a request reached the server, after the
responses, after recording) or is killed with SIGKILL at a random moment.
Then a second worker, after the lease has run out, decides the same sends
again (the caller retrying; idempotent) and relays until nothing is due.
Checked: every message is sent (0 lost); a message reached the server at
most twice, and twice only when the worker died between sending it and
recording the answer, with the row flagged ``possible_duplicate``; with a
server that honours idempotency keys, every message is processed once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pendulum
import pytest
from httpx_aiohttp import AiohttpTransport

from omnichannel.channels.webhook import WebhookAdapter
from omnichannel.clock import FixedClock
from omnichannel.delivery import HOOK_POINTS, Delivery, SendRequest
from omnichannel.engine import Engine
from omnichannel.store import SQLiteStore
from provider_server import ProviderServer, Recorded, Reply, provider_server

AT = pendulum.datetime(2024, 3, 5, 15)
LEASE = 30
POINTS = (*HOOK_POINTS, "after_request_sent")
RUNS_AT_POINTS = 12  # per point: 6 x 12 = 72 (keeps the suite within its 10 minutes)
RANDOM_RUNS = 48  # 120 runs in all
USERS = ("u1", "u2", "u3")


class Sink:
    """Counts requests per idempotency key; optionally processes each key once."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.processed: Counter[str] = Counter()
        self.honour_keys = False
        self.lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        key = request.headers["idempotency-key"]
        with self.lock:
            self.requests[key] += 1
            if not (self.honour_keys and self.processed[key]):
                self.processed[key] += 1
        return Reply(status=200, json={"id": f"sink-{key}"})


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[ProviderServer, Sink]]:
    counter = Sink()
    with provider_server() as server:
        server.route("POST", "/hook", counter)
        yield server, counter


def setup_people(path: Path) -> dict[str, str]:
    engine = Engine(SQLiteStore(path), clock=FixedClock(AT))
    ids = {}
    for user in USERS:
        ids[user] = engine.ingest(
            {"type": "identify", "userId": user, "timestamp": "2024-03-01T10:00:00Z"}
        ).profile_id
        engine.ingest(
            {
                "type": "track", "userId": user, "event": "Consent Granted",
                "timestamp": "2024-03-01T10:00:01Z",
                "properties": {"purpose": "marketing", "channel": "webhook"},
            }
        )  # fmt: skip
    engine.close()
    return ids


def requests_for(ids: dict[str, str], run: int) -> list[SendRequest]:
    return [
        SendRequest(
            profile_id=pid, channel="webhook", to="hook", content={"run": run, "user": user},
            message="m", origin=f"run-{run}", actor={"userId": user},
        )
        for user, pid in ids.items()
    ]  # fmt: skip


class _CrashAfterSend(httpx.AsyncBaseTransport):
    """Dies once the server has answered a request, before the adapter sees the answer."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        os._exit(3)


def work(path: Path, url: str, ids: dict[str, str], run: int, point: str | None) -> None:
    """The worker's life: decide, relay; dies at ``point`` (or whenever SIGKILL comes)."""

    def hook(name: str) -> None:
        if name == point:
            os._exit(3)

    engine = Engine(SQLiteStore(path), clock=FixedClock(AT))
    transport = _CrashAfterSend() if point == "after_request_sent" else None
    adapter = WebhookAdapter(url, "secret", transport=transport)
    delivery = Delivery(engine, {"webhook": adapter}, lease=LEASE, hook=hook, worker="doomed")
    delivery.send(requests_for(ids, run))

    async def relay() -> None:
        await delivery.relay()
        await adapter.aclose()

    asyncio.run(relay())


def crash_run(path: Path, url: str, ids: dict[str, str], run: int, point: str | None) -> int:
    """Fork a worker that dies at ``point`` (or at a random moment); return its exit status."""
    delay = random.Random(run).uniform(0.0, 0.08)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with the server's thread
        child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked worker
        try:
            if point is None:
                timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL))
                timer.daemon = True
                timer.start()
            work(path, url, ids, run, point)
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    return status


def recover(path: Path, url: str, ids: dict[str, str], run: int) -> Delivery:
    engine = Engine(SQLiteStore(path), clock=FixedClock(AT.add(seconds=LEASE + 1)))
    adapter = WebhookAdapter(url, "secret")
    delivery = Delivery(engine, {"webhook": adapter}, lease=LEASE, worker="rescuer")
    delivery.send(requests_for(ids, run))  # the caller retries its decision: idempotent

    async def relay() -> None:
        await delivery.relay()
        await adapter.aclose()

    asyncio.run(relay())
    return delivery


def runs() -> list[tuple[int, str | None]]:
    plan: list[tuple[int, str | None]] = []
    for point in POINTS:
        plan.extend((len(plan), point) for _ in range(RUNS_AT_POINTS))
    plan.extend((len(plan), None) for _ in range(RANDOM_RUNS))
    return [(index, point) for index, (_, point) in enumerate(plan)]


@pytest.mark.parametrize("honour_keys", [False, True], ids=["plain", "idempotent-provider"])
def test_a_worker_killed_anywhere_loses_nothing_and_duplicates_only_flagged_messages(
    tmp_path: Path, sink: tuple[ProviderServer, Sink], honour_keys: bool
) -> None:
    server, counter = sink
    counter.honour_keys = honour_keys
    url = f"{server.url}/hook"
    plan = runs() if not honour_keys else runs()[::2]  # the second mode: 60 runs
    died = Counter[str]()
    duplicates = 0
    for run, point in plan:
        path = tmp_path / f"run-{run}-{honour_keys}.db"
        ids = setup_people(path)
        status = crash_run(path, url, ids, run + 1000 * honour_keys, point)
        died[point or ("killed" if status else "finished")] += 1
        delivery = recover(path, url, ids, run + 1000 * honour_keys)
        rows = delivery.outbox()
        delivery.engine.close()
        assert len(rows) == len(USERS)
        assert all(row.status == "sent" for row in rows), (point, [r.status for r in rows])
        for row in rows:
            received = counter.requests[row.id]
            assert 1 <= received <= 2, (point, row)
            if received == 2:
                duplicates += 1
                assert row.possible_duplicate, (point, row)
                assert point in (None, "after_request_sent", "after_response"), point
            if honour_keys:
                assert counter.processed[row.id] == 1
    assert sum(died.values()) == len(plan)
    if not honour_keys:
        # The window between sending and recording was hit, and only there.
        assert duplicates >= RUNS_AT_POINTS
