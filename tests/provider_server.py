"""A real HTTP server on 127.0.0.1 that answers like a provider, for adapter tests.

It runs aiohttp's web server on its own event loop in a background thread,
so a test can drive an adapter with ``asyncio.run`` in the main thread. A
route's handler is a plain function from the recorded request to a `Reply`;
`scripted` answers a list of replies in order, then repeats the last.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
from aiohttp import web


@attrs.frozen(kw_only=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body read as JSON."""
        return json.loads(self.body)


@attrs.frozen(kw_only=True)
class Reply:
    """What the server answers: a status, a JSON (or text) body, headers."""

    status: int = 200
    json: Any = None
    text: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    #: Drop the connection without answering (after reading the request).
    drop: bool = False
    #: Seconds to wait before answering (to provoke client timeouts).
    delay: float = 0.0


Handler = Callable[[Recorded], Reply]


def scripted(replies: Sequence[Reply]) -> Handler:
    """A handler answering ``replies`` in order, then the last one forever."""
    queue = list(replies)
    lock = threading.Lock()

    def handle(_request: Recorded) -> Reply:
        with lock:
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


class ProviderServer:
    """A scripted HTTP/1.1 server on 127.0.0.1 (see the module docstring)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: dict[tuple[str, str], Handler] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The server's base URL (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, handler: Handler | Reply) -> None:
        """Answer ``method path`` with ``handler`` (or always the same `Reply`)."""
        self._routes[(method.upper(), path)] = (
            handler if callable(handler) else (lambda _r, reply=handler: reply)
        )

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        self.requests.append(recorded)
        handler = self._routes.get((request.method, request.path))
        reply = handler(recorded) if handler else Reply(status=404, json={"error": "no route"})
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError
        if reply.text is not None:
            return web.Response(status=reply.status, text=reply.text, headers=reply.headers)
        return web.json_response(reply.json, status=reply.status, headers=reply.headers)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def provider_server() -> Iterator[ProviderServer]:
    """A started `ProviderServer`, stopped afterwards."""
    server = ProviderServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
