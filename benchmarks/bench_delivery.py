"""Delivery speed: the full send pipeline against raw POSTs of the same payloads.

Run with ``nox -s bench`` (or ``python benchmarks/bench_delivery.py``).

A sink on 127.0.0.1 (aiohttp, in its own process so it does not share our
event loop or GIL) answers ``{"id": ...}`` to every POST and counts
requests and distinct idempotency keys. In one run:

1. Raw: ``--messages`` (20,000) POSTs of the same JSON bodies with the same
   client and transport the webhook adapter uses (httpx over aiohttp), at
   ``--concurrency`` (50).
2. Pipeline: the same messages through `omnichannel.delivery.Delivery` on an
   SQLite file: decided and enqueued (`Delivery.send`, consent checked per
   person), then relayed (`Delivery.relay`: claimed with a lease, checked
   again against consent and quiet hours, signed and POSTed by
   `WebhookAdapter`, receipts and ``Message Sent`` events recorded). Timed
   end to end, and the relay alone.

Then checks that no message was lost or duplicated (every outbox row sent,
one request per idempotency key at the sink).

Goals (issue: Step 6): pipeline >= 60% of the raw rate of the same
transport; >= 1,500 messages/s end to end; no message lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import pendulum

from omnichannel.channels._http import default_client
from omnichannel.channels.webhook import WebhookAdapter
from omnichannel.clock import SystemClock
from omnichannel.delivery import Delivery, SendRequest
from omnichannel.engine import Engine
from omnichannel.store import SQLiteStore


def _sink(
    port_out: multiprocessing.connection.Connection, stats_in: multiprocessing.connection.Connection
) -> None:
    from aiohttp import web

    counts = {"requests": 0}
    keys: set[str] = set()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        counts["requests"] += 1
        key = request.headers.get("Idempotency-Key")
        if key:
            keys.add(key)
        return web.json_response({"id": f"sink-{counts['requests']}"})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/hook", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp names the bound port nowhere else
        port_out.send(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, stats_in.recv)
            if command == "stats":
                stats_in.send({"requests": counts["requests"], "keys": len(keys)})
                counts["requests"] = 0
                keys.clear()
            else:
                break
        await runner.cleanup()

    asyncio.run(main())


def payload(i: int) -> dict[str, object]:
    return {"event": "cart_reminder", "user": f"u{i}", "items": [{"sku": f"S{i % 97}", "qty": 1}]}


async def raw(url: str, messages: int, concurrency: int) -> float:
    client = default_client(max_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    bodies = [json.dumps(payload(i), separators=(",", ":")).encode() for i in range(messages)]

    async def post(body: bytes) -> None:
        async with gate:
            response = await client.post(
                url, content=body, headers={"Content-Type": "application/json"}
            )
            response.raise_for_status()

    start = time.perf_counter()
    await asyncio.gather(*(post(b) for b in bodies))
    elapsed = time.perf_counter() - start
    await client.aclose()
    return elapsed


def build(path: Path, people: int) -> tuple[Engine, list[str]]:
    engine = Engine(SQLiteStore(path), clock=SystemClock())
    at = pendulum.now("UTC").subtract(days=1)
    events = []
    for i in range(people):
        stamp = at.add(seconds=i).isoformat()
        events.append(
            {"type": "identify", "userId": f"u{i}", "traits": {"email": f"u{i}@example.com"},
             "timestamp": stamp}
        )  # fmt: skip
        events.append(
            {"type": "track", "userId": f"u{i}", "event": "Consent Granted", "timestamp": stamp,
             "properties": {"purpose": "marketing", "channel": "webhook"}}
        )  # fmt: skip
    for start in range(0, len(events), 2000):
        engine.ingest_many(events[start : start + 2000])
    return engine, list(engine.store.profile_ids())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    port_out, port_in = multiprocessing.Pipe()
    stats_out, stats_in = multiprocessing.Pipe()
    sink = multiprocessing.Process(target=_sink, args=(port_in, stats_in), daemon=True)
    sink.start()
    url = f"http://127.0.0.1:{port_out.recv()}/hook"

    raw_time = asyncio.run(raw(url, args.messages, args.concurrency))
    stats_out.send("stats")
    raw_stats = stats_out.recv()
    raw_rate = args.messages / raw_time
    print(f"raw POSTs: {args.messages:,} in {raw_time:.2f} s = {raw_rate:,.0f}/s ({raw_stats})")

    with tempfile.TemporaryDirectory() as folder:
        engine, profile_ids = build(Path(folder) / "bench.db", args.people)
        profiles = {pid: engine.profile(pid) for pid in profile_ids}
        per_person = max(1, args.messages // len(profile_ids))
        requests = []
        for pid in profile_ids:
            profile = profiles[pid]
            assert profile is not None
            user = profile.identities_of("user_id")[0].value
            for n in range(per_person):
                if len(requests) == args.messages:
                    break
                requests.append(
                    SendRequest(
                        profile_id=pid, channel="webhook", to="https://sink", message="reminder",
                        origin=f"campaign-{n}", content=payload(len(requests)),
                        actor={"userId": user},
                    )
                )  # fmt: skip
        adapter = WebhookAdapter(url, "secret", max_connections=args.concurrency)
        delivery = Delivery(engine, {"webhook": adapter}, concurrency=args.concurrency, batch=1000)

        async def pipeline() -> tuple[float, float]:
            start = time.perf_counter()
            for chunk in range(0, len(requests), 5000):
                delivery.send(requests[chunk : chunk + 5000])
            relay_start = time.perf_counter()
            report = await delivery.relay()
            end = time.perf_counter()
            await adapter.aclose()
            print(f"  relay report: {report}")
            return end - start, end - relay_start

        total, relay_time = asyncio.run(pipeline())
        stats_out.send("stats")
        sink_stats = stats_out.recv()
        statuses: dict[str, int] = {}
        for row in delivery.outbox():
            statuses[row.status] = statuses.get(row.status, 0) + 1
        engine.close()
    stats_out.send("stop")
    sink.join(5)
    n = len(requests)
    print(
        f"pipeline: {n:,} in {total:.2f} s end to end = {n / total:,.0f}/s;"
        f" relay alone {n / relay_time:,.0f}/s"
    )
    print(f"  outbox: {statuses}; sink: {sink_stats}")
    ratio = (n / total) / raw_rate
    relay_ratio = (n / relay_time) / raw_rate
    print(f"  pipeline / raw (end to end): {ratio:.0%}; relay / raw: {relay_ratio:.0%}")
    lost = n - statuses.get("sent", 0)
    duplicated = sink_stats["requests"] - sink_stats["keys"]
    print(f"  lost: {lost}, duplicated: {duplicated}")
    if lost or duplicated:
        sys.exit("messages lost or duplicated")


if __name__ == "__main__":
    main()
