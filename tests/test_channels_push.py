"""Push adapters: FCM HTTP v1 against a real HTTP server, APNs against real HTTP/2 servers over TLS."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import h2.config
import h2.connection
import h2.events
import pytest
import trustme

from omnichannel import ValidationError
from omnichannel.channels import Envelope, Outcome, Registry
from omnichannel.channels.push import (
    APNS_PRODUCTION,
    APNS_SANDBOX,
    ApnsAdapter,
    ApnsTokenSigner,
    FcmAdapter,
    apns_id,
)
from omnichannel.channels.sms import segments
from omnichannel.personalization import RenderedPush, RenderedSms
from provider_server import ProviderServer, Recorded, Reply, provider_server

PROJECT = "shop-app-1234"
FCM_PATH = f"/v1/projects/{PROJECT}/messages:send"
REGISTRATION = "fcm-registration-abc123:APA91b"
DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
TOPIC = "com.example.shop"


def push(
    *, image: str | None = None, deep_link: str | None = None, title: str = "Your cart misses you"
) -> RenderedPush:
    payload: dict[str, Any] = {"aps": {"alert": {"title": title, "body": "20% off today"}}}
    if deep_link:
        payload["deep_link"] = deep_link
    return RenderedPush(
        title=title,
        body="20% off today",
        deep_link=deep_link,
        image=image,
        payload=json.dumps(payload, separators=(",", ":")).encode(),
    )


def envelope(
    to: str,
    content: Any = None,
    *,
    key: str = "run7:step2:push:p1",
    metadata: Mapping[str, str] | None = None,
    attempt: int = 1,
) -> Envelope:
    return Envelope(
        id="out-9",
        idempotency_key=key,
        channel="push",
        to=to,
        content=push() if content is None else content,
        profile_id="p1",
        message="cart",
        attempt=attempt,
        metadata=metadata or {},
    )


class Tokens:
    """A token provider that mints tok-1, tok-2 ... and counts its calls."""

    def __init__(self, prefix: str = "tok") -> None:
        self.prefix = prefix
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return f"{self.prefix}-{self.calls}"


def run(adapter, *batches):
    """Send each batch in turn through ``adapter`` in one event loop, then close it."""

    async def go():
        try:
            return [list(await adapter.send(batch)) for batch in batches]
        finally:
            await adapter.aclose()

    return asyncio.run(go())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- FCM ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


@pytest.fixture
def fcm(http_server: ProviderServer) -> ProviderServer:
    http_server.requests.clear()
    http_server._routes.clear()
    return http_server


def fcm_adapter(server: ProviderServer, provider: Any = None, **options: Any) -> FcmAdapter:
    return FcmAdapter(PROJECT, provider or Tokens(), api_base=server.url, **options)


def fcm_error(status: int, code: str | None, message: str = "", **extra: Any) -> Reply:
    details: list[dict[str, Any]] = []
    if code is not None:
        details.append(
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
        )
    details.extend(extra.pop("details", []))
    canonical = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip
    body = {
        "error": {
            "code": status,
            "message": message,
            "status": canonical[status],
            "details": details,
        }
    }
    return Reply(status=status, json=body, **extra)


def test_fcm_sends_the_v1_message_with_a_bearer_token(fcm):
    """200 with a name is SENT; the request is the documented v1 message with our rendition."""
    fcm.route(
        "POST", FCM_PATH, Reply(json={"name": f"projects/{PROJECT}/messages/0:1500415314455276"})
    )
    content = push(image="https://cdn.example.com/cart.png", deep_link="shop://cart")
    [[receipt]] = run(
        fcm_adapter(fcm), [envelope(REGISTRATION, content, metadata={"collapse_id": "cart"})]
    )
    assert (Outcome.SENT, f"projects/{PROJECT}/messages/0:1500415314455276", 200) == (
        receipt.outcome, receipt.provider_id, receipt.status,
    )  # fmt: skip
    [request] = fcm.requests
    assert ("POST", "Bearer tok-1") == (request.method, request.headers["authorization"])
    assert request.headers["content-type"].startswith("application/json")
    assert {
        "message": {
            "token": REGISTRATION,
            "notification": {
                "title": "Your cart misses you",
                "body": "20% off today",
                "image": "https://cdn.example.com/cart.png",
            },
            "data": {"deep_link": "shop://cart"},
            "android": {"collapse_key": "cart"},
            "apns": {
                "headers": {"apns-collapse-id": "cart"},
                "payload": {"aps": {"mutable-content": 1}},
                "fcm_options": {"image": "https://cdn.example.com/cart.png"},
            },
        }
    } == request.json()


def test_fcm_a_plain_notification_has_only_token_and_notification(fcm):
    """No image, deep link or collapse key: nothing more is sent than FCM needs."""
    fcm.route("POST", FCM_PATH, Reply(json={"name": "n"}))
    run(fcm_adapter(fcm), [envelope(REGISTRATION)])
    assert {
        "message": {
            "token": REGISTRATION,
            "notification": {"title": "Your cart misses you", "body": "20% off today"},
        }
    } == fcm.requests[0].json()


_BAD_TOKEN_FIELD = {
    "@type": "type.googleapis.com/google.rpc.BadRequest",
    "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}],
}
_BAD_DATA_FIELD = {
    "@type": "type.googleapis.com/google.rpc.BadRequest",
    "fieldViolations": [{"field": "message.data[0].key", "description": "Invalid data key: from"}],
}


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (fcm_error(404, "UNREGISTERED", "Requested entity was not found."), Outcome.INVALID_ADDRESS, None),
        (fcm_error(403, "SENDER_ID_MISMATCH", "SenderId mismatch"), Outcome.INVALID_ADDRESS, None),
        (fcm_error(400, "INVALID_ARGUMENT", "Invalid value", details=[_BAD_TOKEN_FIELD]), Outcome.INVALID_ADDRESS, None),
        (fcm_error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"), Outcome.INVALID_ADDRESS, None),
        (fcm_error(400, "INVALID_ARGUMENT", "Invalid data key", details=[_BAD_DATA_FIELD]), Outcome.PERMANENT, None),
        (fcm_error(429, "QUOTA_EXCEEDED", "Quota exceeded", headers={"Retry-After": "30"}), Outcome.RETRY, 30.0),
        (fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", headers={"Retry-After": "5"}), Outcome.RETRY, 5.0),
        (fcm_error(500, "INTERNAL", "Internal error encountered."), Outcome.RETRY_AMBIGUOUS, None),
        (fcm_error(401, "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service"), Outcome.AUTH, None),
        (fcm_error(403, None, "The caller does not have permission"), Outcome.AUTH, None),
        (fcm_error(400, "UNSPECIFIED_ERROR", "?"), Outcome.PERMANENT, None),
        (Reply(status=502, text="<html>bad gateway</html>"), Outcome.RETRY_AMBIGUOUS, None),
    ],
)  # fmt: skip
def test_fcm_answers_are_classified_by_error_code(fcm, reply, outcome, retry_after):
    """FCM's errorCode in error.details decides, with Retry-After; one request each (no refresh)."""
    fcm.route("POST", FCM_PATH, reply)
    tokens = Tokens()
    [[receipt]] = run(fcm_adapter(fcm, tokens), [envelope(REGISTRATION)])
    assert (outcome, retry_after, reply.status) == (
        receipt.outcome, receipt.retry_after, receipt.status,
    )  # fmt: skip
    if reply.json is not None:
        error = reply.json["error"]
        expected_code = error["details"][0]["errorCode"] if error["details"] else error["status"]
        assert (expected_code, error["message"]) == (receipt.code, receipt.detail)
    assert (1, 1) == (len(fcm.requests), tokens.calls)


def test_fcm_an_expired_access_token_is_replaced_once(fcm):
    """A 401 UNAUTHENTICATED gets a new token and one more try; later messages keep the new token."""

    def answer(request: Recorded) -> Reply:
        if request.headers["authorization"] == "Bearer tok-1":
            return fcm_error(401, None, "Request had invalid authentication credentials.")
        return Reply(json={"name": "projects/p/messages/1"})

    fcm.route("POST", FCM_PATH, answer)
    tokens = Tokens()
    [[first], [second]] = run(
        fcm_adapter(fcm, tokens), [envelope(REGISTRATION)], [envelope(REGISTRATION)]
    )
    assert [Outcome.SENT, Outcome.SENT] == [first.outcome, second.outcome]
    assert ["Bearer tok-1", "Bearer tok-2", "Bearer tok-2"] == [
        r.headers["authorization"] for r in fcm.requests
    ]
    assert 2 == tokens.calls


def test_fcm_a_token_rejected_twice_is_auth(fcm):
    """When the new token is refused too, the operator must act: AUTH after two requests."""
    fcm.route(
        "POST", FCM_PATH, fcm_error(401, None, "Request had invalid authentication credentials.")
    )
    [[receipt]] = run(fcm_adapter(fcm), [envelope(REGISTRATION)])
    assert (Outcome.AUTH, "UNAUTHENTICATED", 2) == (
        receipt.outcome,
        receipt.code,
        len(fcm.requests),
    )


def test_fcm_tokens_are_kept_for_their_ttl(fcm):
    """Within token_ttl one token serves every message; past it a new one is minted."""
    fcm.route("POST", FCM_PATH, Reply(json={"name": "n"}))
    kept, short = Tokens(), Tokens()
    run(
        fcm_adapter(fcm, kept),
        [envelope(REGISTRATION)],
        [envelope(REGISTRATION)],
        [envelope(REGISTRATION)],
    )
    run(fcm_adapter(fcm, short, token_ttl=1e-9), [envelope(REGISTRATION)], [envelope(REGISTRATION)])
    assert (1, 2) == (kept.calls, short.calls)


def test_fcm_concurrent_sends_share_one_async_minting(fcm):
    """An async provider is awaited once even when many sends start together."""
    fcm.route("POST", FCM_PATH, Reply(json={"name": "n"}))
    calls = []

    async def slow_provider() -> str:
        calls.append(1)
        await asyncio.sleep(0.05)
        return "async-token"

    async def go():
        adapter = fcm_adapter(fcm, slow_provider)
        try:
            return await asyncio.gather(*(adapter.send([envelope(REGISTRATION)]) for _ in range(5)))
        finally:
            await adapter.aclose()

    receipts = asyncio.run(go())
    assert [Outcome.SENT] * 5 == [r[0].outcome for r in receipts]
    assert 1 == len(calls)
    assert {"Bearer async-token"} == {r.headers["authorization"] for r in fcm.requests}


def test_fcm_one_rejection_seen_by_many_sends_mints_one_token(fcm):
    """Sends refused together with the same stale token share one replacement (no token storm)."""

    def answer(request: Recorded) -> Reply:
        if request.headers["authorization"] == "Bearer tok-1":
            # Slow, so every send holds the stale token when the first refusal comes back.
            return attrs.evolve(
                fcm_error(401, None, "Request had invalid authentication credentials."), delay=0.1
            )
        return Reply(json={"name": "n"})

    fcm.route("POST", FCM_PATH, answer)
    tokens = Tokens()

    async def go():
        adapter = fcm_adapter(fcm, tokens)
        try:
            return await asyncio.gather(*(adapter.send([envelope(REGISTRATION)]) for _ in range(4)))
        finally:
            await adapter.aclose()

    receipts = asyncio.run(go())
    assert [Outcome.SENT] * 4 == [r[0].outcome for r in receipts]
    assert 2 == tokens.calls


def test_fcm_a_failing_provider_is_auth_without_a_request(fcm):
    """The host's token provider failing (its network, its key) is AUTH: retried, never raised."""

    def broken() -> str:
        raise OSError("metadata server unreachable")

    fcm.route("POST", FCM_PATH, Reply(json={"name": "n"}))
    [[failed], [empty]] = [
        run(fcm_adapter(fcm, p), [envelope(REGISTRATION)])[0] for p in (broken, lambda: "")
    ]
    assert (Outcome.AUTH, "token_provider") == (failed.outcome, failed.code)
    assert "metadata server unreachable" in failed.detail
    assert Outcome.AUTH == empty.outcome
    assert [] == fcm.requests


def test_fcm_network_failures_and_bad_input_are_receipts(fcm):
    """Dropped: ambiguous; refused: retry; empty token: invalid; an SMS rendition: permanent."""
    fcm.route("POST", FCM_PATH, Reply(drop=True))
    sms = RenderedSms(body="hi", segments=segments("hi"))
    [[dropped], [empty], [wrong]] = run(
        fcm_adapter(fcm), [envelope(REGISTRATION)], [envelope("")], [envelope(REGISTRATION, sms)]
    )
    assert [Outcome.RETRY_AMBIGUOUS, Outcome.INVALID_ADDRESS, Outcome.PERMANENT] == [
        dropped.outcome, empty.outcome, wrong.outcome,
    ]  # fmt: skip
    assert 1 == len(fcm.requests)
    refused = FcmAdapter(PROJECT, Tokens(), api_base=f"http://127.0.0.1:{closed_port()}")
    assert Outcome.RETRY == run(refused, [envelope(REGISTRATION)])[0][0].outcome


def test_fcm_from_url_through_the_registry(fcm):
    """fcm://PROJECT_ID with the token provider as a keyword argument."""
    fcm.route("POST", FCM_PATH, Reply(json={"name": "n"}))
    adapter = Registry.discover().create(
        f"fcm://{PROJECT}?api_base={fcm.url}", token_provider=Tokens()
    )
    assert isinstance(adapter, FcmAdapter)
    assert Outcome.SENT == run(adapter, [envelope(REGISTRATION)])[0][0].outcome
    assert FCM_PATH == fcm.requests[0].path


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda: FcmAdapter("Bad Project!", Tokens()), "$.project_id"),
        (lambda: FcmAdapter(PROJECT, "not callable"), "$.token_provider"),
        (lambda: FcmAdapter(PROJECT, Tokens(), api_base="fcm.googleapis.com"), "$.api_base"),
        (lambda: FcmAdapter(PROJECT, Tokens(), token_ttl=0), "$.token_ttl"),
        (
            lambda: FcmAdapter.from_url(f"fcm://{PROJECT}?colour=red", token_provider=Tokens()),
            "$.url",
        ),
        (lambda: FcmAdapter.from_url("fcm://", token_provider=Tokens()), "$.url"),
    ],
)
def test_fcm_configuration_errors_name_the_field(call, path):
    """Every bad setting is a ValidationError at its own JSON path."""
    with pytest.raises(ValidationError) as caught:
        call()
    assert path == caught.value.errors[0].path


# --- APNs: real HTTP/2 servers over TLS -------------------------------------------------


@attrs.frozen(kw_only=True)
class H2Request:
    """One request an HTTP/2 test server received."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    http_version: str


ApnsHandler = Callable[[H2Request], Reply]


def apns_ok(request: H2Request) -> Reply:
    """What APNs answers a good request: 200, an empty body, the apns-id echoed."""
    return Reply(status=200, headers={"apns-id": request.headers.get("apns-id", "generated")})


def _reply_body(reply: Reply) -> bytes:
    if reply.json is not None:
        return json.dumps(reply.json).encode()
    return (reply.text or "").encode()


class _LoopThread:
    """An event loop in a daemon thread, for a server the test's own asyncio.run talks to."""

    def __init__(self, handler: ApnsHandler) -> None:
        self.handler = handler
        self.requests: list[H2Request] = []
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def answer(self, request: H2Request) -> Reply:
        self.requests.append(request)
        return self.handler(request)

    def reset(self, handler: ApnsHandler = apns_ok) -> None:
        self.handler = handler
        self.requests.clear()


class RawH2Server(_LoopThread):
    """APNs-like answers over TLS with ALPN h2, written with the h2 state machine directly.

    h2 is a dependency of httpx[http2], so this server runs wherever the library does.
    """

    def __init__(self, context: ssl.SSLContext, handler: ApnsHandler = apns_ok) -> None:
        super().__init__(handler)
        self.context = context
        self._server: asyncio.AbstractServer | None = None

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if writer.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
            writer.close()
            return
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        try:
            while data := await reader.read(65535):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = (dict(event.headers), bytearray())
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1].extend(event.data)
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id)
                        if not self._respond(conn, event.stream_id, headers, bytes(body)):
                            writer.transport.abort()
                            return
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass  # the client went away mid-stream; nothing to answer
        finally:
            writer.close()

    def _respond(
        self, conn: h2.connection.H2Connection, stream: int, headers: dict[str, str], body: bytes
    ) -> bool:
        """Answer one stream; False when the reply says to cut the connection instead."""
        request = H2Request(
            method=headers[":method"],
            path=headers[":path"],
            headers={k: v for k, v in headers.items() if not k.startswith(":")},
            body=body,
            http_version="2",
        )
        reply = self.answer(request)
        if reply.drop:
            return False
        content = _reply_body(reply)
        fields = [(":status", str(reply.status)), ("content-length", str(len(content)))]
        fields.extend((k.lower(), v) for k, v in reply.headers.items())
        conn.send_headers(stream, fields, end_stream=not content)
        if content:
            conn.send_data(stream, content, end_stream=True)
        return True

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class HypercornServer(_LoopThread):
    """The same answers from an ASGI app served by hypercorn (HTTP/2 over TLS, ALPN h2)."""

    def __init__(
        self, cert: trustme.LeafCert, folder: Path, handler: ApnsHandler = apns_ok
    ) -> None:
        import hypercorn.config

        super().__init__(handler)
        certfile, keyfile = folder / "cert.pem", folder / "key.pem"
        cert.cert_chain_pems[0].write_to_path(str(certfile))
        cert.private_key_pem.write_to_path(str(keyfile))
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self._socket.setblocking(False)  # noqa: FBT003 - the socket API
        self.port = self._socket.getsockname()[1]
        self.config = hypercorn.config.Config()
        self.config.bind = [f"fd://{self._socket.fileno()}"]
        self.config.certfile, self.config.keyfile = str(certfile), str(keyfile)
        self.config.accesslog = self.config.errorlog = None
        self._stopping: asyncio.Event | None = None
        self._done: asyncio.Future[None] | None = None

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        reply = self.answer(
            H2Request(
                method=scope["method"],
                path=scope["path"],
                headers={k.decode(): v.decode() for k, v in scope["headers"]},
                body=bytes(body),
                http_version=scope["http_version"],
            )
        )
        headers = [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": _reply_body(reply)})

    def start(self) -> None:
        import hypercorn.asyncio

        async def serve() -> None:
            self._stopping = asyncio.Event()
            await hypercorn.asyncio.serve(
                self.app, self.config, shutdown_trigger=self._stopping.wait
            )

        self.thread.start()
        self._done = asyncio.run_coroutine_threadsafe(serve(), self.loop)  # type: ignore[assignment]
        # The socket listens already; hypercorn answers once its loop has picked it up.
        for _ in range(100):
            if self._accepts():
                return
            threading.Event().wait(0.02)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        assert self._stopping is not None
        assert self._done is not None
        self.loop.call_soon_threadsafe(self._stopping.set)
        self._done.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        # hypercorn closed the listening descriptor itself: only forget it here.
        self._socket.detach()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="module", params=["h2", "hypercorn"])
def apns_server(request, ca, tmp_path_factory) -> Iterator[_LoopThread]:
    cert = ca.issue_cert("127.0.0.1")
    server: RawH2Server | HypercornServer
    if request.param == "hypercorn":
        pytest.importorskip("hypercorn", reason="hypercorn is not installed")
        server = HypercornServer(cert, tmp_path_factory.mktemp("hypercorn"))
    else:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        context.set_alpn_protocols(["h2"])
        server = RawH2Server(context)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def apns(apns_server: _LoopThread) -> _LoopThread:
    apns_server.reset()
    return apns_server


def apns_adapter(
    server: _LoopThread, ca: trustme.CA, provider: Any = None, **options: Any
) -> ApnsAdapter:
    return ApnsAdapter(
        TOPIC, provider or Tokens("jwt"), api_base=server.url, verify=client_context(ca), **options
    )


def test_apns_sends_over_http2_with_the_documented_headers(apns, ca):
    """200 is SENT with the apns-id; the request is HTTP/2 POST /3/device/<token> with APNs' headers."""
    content = push(deep_link="shop://cart")
    [[receipt]] = run(
        apns_adapter(apns, ca), [envelope(DEVICE, content, metadata={"collapse_id": "cart"})]
    )
    expected_id = apns_id("run7:step2:push:p1")
    assert (Outcome.SENT, expected_id, 200) == (
        receipt.outcome,
        receipt.provider_id,
        receipt.status,
    )
    [request] = apns.requests
    assert ("2", "POST", f"/3/device/{DEVICE}") == (
        request.http_version,
        request.method,
        request.path,
    )
    assert {
        "apns-topic": TOPIC,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-id": expected_id,
        "apns-collapse-id": "cart",
        "authorization": "bearer jwt-1",
    }.items() <= dict(request.headers).items()
    assert content.payload == request.body


def test_apns_the_same_message_keeps_its_apns_id_across_attempts(apns, ca):
    """apns-id is derived from the idempotency key: a retry carries the same id, another message not."""
    run(
        apns_adapter(apns, ca, priority=5),
        [envelope(DEVICE)],
        [envelope(DEVICE, attempt=2)],
        [envelope(DEVICE, key="run7:step2:push:p2")],
    )
    ids = [r.headers["apns-id"] for r in apns.requests]
    assert ids[0] == ids[1] != ids[2]
    assert {"5"} == {r.headers["apns-priority"] for r in apns.requests}
    assert "apns-collapse-id" not in apns.requests[0].headers


def apns_error(status: int, reason: str, headers: Mapping[str, str] | None = None) -> Reply:
    body: dict[str, Any] = {"reason": reason}
    if status == 410:
        body["timestamp"] = 1700000000000  # when APNs learnt the token is no longer valid
    return Reply(status=status, json=body, headers=headers or {})


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (apns_error(400, "BadDeviceToken"), Outcome.INVALID_ADDRESS, None),
        (apns_error(400, "DeviceTokenNotForTopic"), Outcome.INVALID_ADDRESS, None),
        (apns_error(410, "Unregistered"), Outcome.INVALID_ADDRESS, None),
        (apns_error(403, "InvalidProviderToken"), Outcome.AUTH, None),
        (apns_error(403, "MissingProviderToken"), Outcome.AUTH, None),
        (apns_error(429, "TooManyRequests", {"retry-after": "60"}), Outcome.RETRY, 60.0),
        (apns_error(500, "InternalServerError"), Outcome.RETRY_AMBIGUOUS, None),
        (apns_error(503, "ServiceUnavailable"), Outcome.RETRY, None),
        (apns_error(503, "Shutdown"), Outcome.RETRY, None),
        (apns_error(413, "PayloadTooLarge"), Outcome.PERMANENT, None),
        (apns_error(400, "BadTopic"), Outcome.PERMANENT, None),
        (apns_error(404, "BadPath"), Outcome.PERMANENT, None),
    ],
)
def test_apns_answers_are_classified_by_reason(apns, ca, reply, outcome, retry_after):
    """Apple's documented reasons decide; one request each (only an expired token is retried)."""
    apns.reset(lambda _r: reply)
    [[receipt]] = run(apns_adapter(apns, ca), [envelope(DEVICE)])
    assert (outcome, reply.json["reason"], reply.status, retry_after) == (
        receipt.outcome, receipt.code, receipt.status, receipt.retry_after,
    )  # fmt: skip
    assert 1 == len(apns.requests)


def test_apns_an_expired_provider_token_is_replaced_once(apns, ca):
    """ExpiredProviderToken: a new JWT and one more try; the new JWT serves the next message."""

    def answer(request: H2Request) -> Reply:
        if request.headers["authorization"] == "bearer jwt-1":
            return Reply(status=403, json={"reason": "ExpiredProviderToken"})
        return apns_ok(request)

    apns.reset(answer)
    tokens = Tokens("jwt")
    [[first], [second]] = run(
        apns_adapter(apns, ca, tokens), [envelope(DEVICE)], [envelope(DEVICE)]
    )
    assert [Outcome.SENT, Outcome.SENT] == [first.outcome, second.outcome]
    assert ["bearer jwt-1", "bearer jwt-2", "bearer jwt-2"] == [
        r.headers["authorization"] for r in apns.requests
    ]
    assert 2 == tokens.calls


def test_apns_a_token_expired_twice_is_auth(apns, ca):
    """If the fresh token is refused as expired too (a clock far off), it is AUTH after two tries."""
    apns.reset(lambda _r: Reply(status=403, json={"reason": "ExpiredProviderToken"}))
    [[receipt]] = run(apns_adapter(apns, ca), [envelope(DEVICE)])
    assert (Outcome.AUTH, "ExpiredProviderToken", 2) == (
        receipt.outcome,
        receipt.code,
        len(apns.requests),
    )


def test_apns_bad_input_is_settled_without_a_request(apns, ca):
    """A non-hex token, a payload over 4 KB and a non-push rendition never reach APNs."""
    huge = RenderedPush(
        title="t", body="b", deep_link=None, image=None, payload=b"{" + b" " * 5000 + b"}"
    )
    sms = RenderedSms(body="hi", segments=segments("hi"))
    receipts = run(
        apns_adapter(apns, ca),
        [envelope("not-a-token")],
        [envelope(DEVICE, huge)],
        [envelope(DEVICE, sms)],
    )
    assert [Outcome.INVALID_ADDRESS, Outcome.PERMANENT, Outcome.PERMANENT] == [
        r[0].outcome for r in receipts
    ]
    assert ["BadDeviceToken", "PayloadTooLarge", "content"] == [r[0].code for r in receipts]
    assert [] == apns.requests


def test_apns_network_failures_are_receipts(ca):
    """A refused connection is RETRY; a connection cut after the request is RETRY_AMBIGUOUS."""
    refused = ApnsAdapter(
        TOPIC, Tokens(), api_base=f"https://127.0.0.1:{closed_port()}", verify=client_context(ca)
    )
    assert Outcome.RETRY == run(refused, [envelope(DEVICE)])[0][0].outcome
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    context.set_alpn_protocols(["h2"])
    server = RawH2Server(context, lambda _r: Reply(drop=True))
    server.start()
    try:
        [[cut]] = run(apns_adapter(server, ca), [envelope(DEVICE)])
    finally:
        server.stop()
    assert (Outcome.RETRY_AMBIGUOUS, 1) == (cut.outcome, len(server.requests))


# --- APNs provider tokens ----------------------------------------------------------------


@pytest.fixture(scope="module")
def p8() -> tuple[str, Any]:
    """A fresh P-256 key in PEM (what Apple's .p8 file holds) and its public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


def _segment(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_jwt(token: str, public_key: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify an ES256 JWT with the public key; return its header and claims."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    header, claims, signature = token.split(".")
    raw = _segment(signature)
    assert 64 == len(raw)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public_key.verify(
        der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256())
    )  # raises if forged
    return json.loads(_segment(header)), json.loads(_segment(claims))


def test_the_signer_makes_an_es256_jwt_apple_accepts(p8):
    """Header alg ES256 + kid, claims iss (team) + iat, a raw r||s signature that verifies."""
    pem, public_key = p8
    signer = ApnsTokenSigner("TEAM123456", "KEY1234567", pem, clock=lambda: 1700000000.9)
    header, claims = check_jwt(signer(), public_key)
    assert {"alg": "ES256", "kid": "KEY1234567"} == header
    assert {"iss": "TEAM123456", "iat": 1700000000} == claims


def test_the_signer_agrees_with_pyjwt(p8):
    """An independent JWT library reads and verifies the token the same way."""
    jwt = pytest.importorskip("jwt")
    pem, public_key = p8
    token = ApnsTokenSigner("TEAM123456", "KEY1234567", pem, clock=lambda: 1700000000)()
    assert "KEY1234567" == jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, public_key, algorithms=["ES256"], options={"verify_iat": False})
    assert {"iss": "TEAM123456", "iat": 1700000000} == claims


def test_from_url_signs_with_the_p8_key_and_reaches_the_server(apns, ca, p8):
    """apns://TEAM:KEYID@host?topic=...: the JWT the server got verifies with the key's public half."""
    pem, public_key = p8
    url = f"apns://TEAM123456:KEY1234567@127.0.0.1:{apns.port}?topic={TOPIC}&priority=5"
    adapter = Registry.discover().create(url, private_key=pem, verify=client_context(ca))
    assert isinstance(adapter, ApnsAdapter)
    [[receipt]] = run(adapter, [envelope(DEVICE)])
    assert Outcome.SENT == receipt.outcome
    [request] = apns.requests
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert "bearer" == scheme
    header, claims = check_jwt(token, public_key)
    assert ("KEY1234567", "TEAM123456", "5") == (
        header["kid"],
        claims["iss"],
        request.headers["apns-priority"],
    )


def test_from_url_picks_apples_hosts(p8):
    """Apple's host (or none) with sandbox=1 is the development host; without, production."""
    pem, _ = p8
    made = [
        ApnsAdapter.from_url(
            f"apns://TEAM123456:KEY1234567@api.push.apple.com?topic={TOPIC}&sandbox=1",
            private_key=pem,
        ),
        ApnsAdapter.from_url(
            f"apns://TEAM123456:KEY1234567@api.push.apple.com?topic={TOPIC}", private_key=pem
        ),
        ApnsAdapter.from_url(f"apns://?topic={TOPIC}&sandbox=true", token_provider=Tokens()),
    ]
    assert [APNS_SANDBOX, APNS_PRODUCTION, APNS_SANDBOX] == [a.base for a in made]
    for adapter in made:
        asyncio.run(adapter.aclose())


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda _pem: ApnsAdapter("not a topic!", Tokens()), "$.topic"),
        (lambda _pem: ApnsAdapter(TOPIC, None), "$.token_provider"),
        (lambda _pem: ApnsAdapter(TOPIC, Tokens(), priority=7), "$.priority"),
        (lambda _pem: ApnsAdapter(TOPIC, Tokens(), token_ttl=-1), "$.token_ttl"),
        (lambda _pem: ApnsAdapter(TOPIC, Tokens(), api_base="api.push.apple.com"), "$.api_base"),
        (lambda _pem: ApnsAdapter.from_url(f"apns://T:K@api.push.apple.com?topic={TOPIC}"), "$.private_key"),
        (lambda pem: ApnsAdapter.from_url(f"apns://TEAM123456@?topic={TOPIC}", private_key=pem), "$.url"),
        (lambda _pem: ApnsAdapter.from_url(f"apns://?topic={TOPIC}&colour=red", token_provider=Tokens()), "$.url"),
        (lambda pem: ApnsTokenSigner("team", "KEY1234567", pem), "$.team_id"),
        (lambda _pem: ApnsTokenSigner("TEAM123456", "KEY1234567", "-----BEGIN PRIVATE KEY-----\nnope\n"), "$.private_key"),
        (lambda _pem: ApnsTokenSigner("TEAM123456", "KEY1234567", _p384_pem()), "$.private_key"),
    ],
)  # fmt: skip
def test_apns_configuration_errors_name_the_field(call, path, p8):
    """Every bad setting is a ValidationError at its own JSON path."""
    with pytest.raises(ValidationError) as caught:
        call(p8[0])
    assert path == caught.value.errors[0].path


def _p384_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
