"""The e-mail adapters against real servers: aiosmtpd for SMTP, provider_server for the APIs."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import pytest
import trustme
from aiosmtpd.smtp import SMTP as AiosmtpdServer  # noqa: N811 - aiosmtpd's name
from aiosmtpd.smtp import AuthResult, LoginPassword
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.channels import GROUP, Envelope, Outcome, Receipt, Registry
from omnichannel.channels.conformance import check_adapter
from omnichannel.channels.email import (
    ID_FIELD,
    KEY_FIELD,
    MailgunAdapter,
    PostmarkAdapter,
    SendGridAdapter,
    SmtpAdapter,
    classify_smtp_reply,
    email_message,
    message_id_for,
    with_preheader,
)
from omnichannel.errors import ValidationError
from omnichannel.personalization import RenderedEmail
from provider_server import ProviderServer, Recorded, Reply, provider_server, scripted

CONTENT = RenderedEmail(
    subject="Your order has shipped ✓",
    sender="Shop <news@shop.example>",
    html="<html><body><p>Order 1 is on its way.</p></body></html>",
    text="Order 1 is on its way.",
    preheader="Track it any time",
    reply_to="Help <help@shop.example>",
)
OTHER = attrs.evolve(CONTENT, subject="Back in stock", html="<p>It is back.</p>", text=None)


# Registered directly (and checked by `register`): the tests do not depend on the installed
# entry points; `test_declared_entry_points_name_these_classes` checks those.
REGISTRY = Registry(adapters=[SmtpAdapter, SendGridAdapter, PostmarkAdapter, MailgunAdapter])
EMAIL_ADAPTERS = {
    cls.name: cls for cls in (SmtpAdapter, SendGridAdapter, PostmarkAdapter, MailgunAdapter)
}


def envelope(
    n: int,
    to: str,
    *,
    content: RenderedEmail = CONTENT,
    metadata: dict[str, str] | None = None,
) -> Envelope:
    return Envelope(
        id=f"out-{n}",
        idempotency_key=f"run-1:step-1:email:p{n}",
        channel="email",
        to=to,
        content=content,
        profile_id=f"p{n}",
        message="shipped",
        metadata=metadata or {},
    )


def run(make: Callable[[], Any], *batches: Sequence[Envelope]) -> list[list[Receipt]]:
    """Build the adapter, send each batch in turn, close it: all in one event loop."""

    async def go() -> list[list[Receipt]]:
        adapter = make()
        try:
            return [list(await adapter.send(batch)) for batch in batches]
        finally:
            await adapter.aclose()

    return asyncio.run(go())


def outcomes(receipts: Sequence[Receipt]) -> list[str]:
    return [r.outcome.name for r in receipts]


# --- a real SMTP server ---------------------------------------------------------------------


@attrs.frozen
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: str | None

    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


# The local part of a recipient scripts the server's answer (RFC 5321 replies).
RCPT_REPLIES = {
    "busy421": "421 4.3.2 Service shutting down, closing transmission channel",
    "greylist450": "450 4.7.1 Greylisted, try again later",
    "local451": "451 4.3.0 Local error in processing",
    "full452": "452 4.2.2 Insufficient system storage",
    "nobody": "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown",
    "rcpt552": "552 Too many recipients",
}
DATA_REPLIES = {
    "data552": "552 5.3.4 Message size exceeds fixed limit",
    "spam554": "554 5.7.1 Message rejected as spam",
    "later451": "451 4.3.0 Try again later",
}


class SmtpServer:
    """aiosmtpd on 127.0.0.1 with its own event loop in a thread, scripted by recipient."""

    def __init__(
        self,
        *,
        implicit: ssl.SSLContext | None = None,
        starttls: ssl.SSLContext | None = None,
        password: str | None = None,
        smtputf8: bool = False,
    ) -> None:
        self.implicit, self.starttls = implicit, starttls
        self.password, self.smtputf8 = password, smtputf8
        self.received: list[Received] = []
        self.connections = 0
        self.mail_421_once = False
        self.data_delay = 0.0
        self._protocols: list[AiosmtpdServer] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._server = await self._loop.create_server(
            self._protocol, "127.0.0.1", 0, ssl=self.implicit
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _protocol(self) -> AiosmtpdServer:
        self.connections += 1
        auth: dict[str, Any] = {}
        if self.password is not None:
            auth = {"auth_required": True, "authenticator": self._authenticate}
        protocol = AiosmtpdServer(
            self,
            hostname="localhost",
            tls_context=self.starttls,
            require_starttls=self.starttls is not None,
            enable_SMTPUTF8=self.smtputf8,
            loop=self._loop,
            **auth,
        )
        self._protocols.append(protocol)
        return protocol

    def _authenticate(self, *args: Any) -> AuthResult:
        data = args[-1]  # (server, session, envelope, mechanism, auth data)
        ok = isinstance(data, LoginPassword) and data.password.decode() == self.password
        # handled=False: aiosmtpd answers a failure with 535 5.7.8 itself.
        return AuthResult(success=ok, handled=False, auth_data=data.login.decode() if ok else None)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, _server: Any, _session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mail_421_once:
            # As a server whose idle timer fired answers the next command (Postfix: 4.4.2).
            self.mail_421_once = False
            return "421 4.4.2 Error: timeout exceeded"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, _session: Any, envelope: Any, address: str, _options: list[str]
    ) -> str:
        local = address.partition("@")[0]
        if local == "droprcpt":
            server.transport.abort()
            await asyncio.sleep(10)  # cancelled when the connection is gone
        if local in RCPT_REPLIES:
            return RCPT_REPLIES[local]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        local = envelope.rcpt_tos[0].partition("@")[0]
        if local in DATA_REPLIES:
            return DATA_REPLIES[local]
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                login=login,
            )
        )
        if local == "dropdata":
            # The message arrived whole; the answer never leaves: did it go or not?
            server.transport.abort()
            await asyncio.sleep(10)
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        return "250 2.0.0 Ok: queued as 4Bc1"

    def drop_all(self) -> None:
        """Close every open connection from the server's side, as an idle timeout does."""

        def close() -> None:
            for protocol in self._protocols:
                if protocol.transport is not None:
                    protocol.transport.close()

        self._loop.call_soon_threadsafe(close)
        time.sleep(0.05)

    def stop(self) -> None:
        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            for protocol in self._protocols:
                if protocol.transport is not None:
                    protocol.transport.abort()
            await asyncio.sleep(0.01)
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            await asyncio.sleep(0.01)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextlib.contextmanager
def smtp_server(**options: Any) -> Iterator[SmtpServer]:
    server = SmtpServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtpd() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context trusting it."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def smtp(server: SmtpServer, **options: Any) -> Callable[[], SmtpAdapter]:
    options.setdefault("starttls", "off")
    return lambda: SmtpAdapter(
        "127.0.0.1", server.port, local_hostname="localhost", timeout=5, **options
    )


# --- SMTP -----------------------------------------------------------------------------------


def test_smtp_classifies_every_scripted_reply_and_reconnects(smtpd: SmtpServer) -> None:
    plan = [
        ("ok1", "SENT", 250, None),
        ("busy421", "RETRY", 421, "4.3.2"),
        ("ok2", "SENT", 250, None),
        ("greylist450", "RETRY", 450, "4.7.1"),
        ("local451", "RETRY", 451, "4.3.0"),
        ("full452", "RETRY", 452, "4.2.2"),
        ("nobody", "INVALID_ADDRESS", 550, "5.1.1"),
        ("rcpt552", "RETRY", 552, None),
        ("data552", "PERMANENT", 552, "5.3.4"),
        ("spam554", "PERMANENT", 554, "5.7.1"),
        ("later451", "RETRY", 451, "4.3.0"),
        ("dropdata", "RETRY_AMBIGUOUS", None, "disconnected"),
        ("droprcpt", "RETRY", None, "disconnected"),
        ("ok3", "SENT", 250, None),
    ]
    batch = [envelope(n, f"{local}@example.com") for n, (local, *_) in enumerate(plan)]
    [receipts] = run(smtp(smtpd), batch)
    got = [(r.outcome.name, r.status, r.code) for r in receipts]
    assert got == [(outcome, status, code) for _, outcome, status, code in plan]
    # 421 closes the connection (RFC 5321 section 3.8), and so do both drops: three more.
    assert smtpd.connections == 4
    # Only whole messages reached the queue: the three good ones and the dropped answer's.
    assert [r.rcpt_tos for r in smtpd.received] == [
        ["ok1@example.com"],
        ["ok2@example.com"],
        ["dropdata@example.com"],
        ["ok3@example.com"],
    ]
    assert receipts[0].provider_id == smtpd.received[0].message()["Message-ID"].strip()
    assert receipts[6].detail.startswith("5.1.1 <nobody@example.com>")


def test_smtp_sends_the_mime_parts(smtpd: SmtpServer) -> None:
    e = envelope(7, "ann@example.com", metadata={"unsubscribe_url": "https://shop.example/u/7"})
    [[receipt]] = run(smtp(smtpd, one_click_unsubscribe=True), [e])
    assert receipt.outcome is Outcome.SENT
    [got] = smtpd.received
    assert got.mail_from == "news@shop.example"
    assert got.rcpt_tos == ["ann@example.com"]
    message = got.message()
    assert message["Subject"] == CONTENT.subject  # RFC 2047-encoded on the wire
    assert b"=?utf-8?" in got.data
    assert message["From"] == "Shop <news@shop.example>"
    assert message["To"] == "ann@example.com"
    assert message["Reply-To"] == "Help <help@shop.example>"
    assert message["Message-ID"] == message_id_for(e.idempotency_key, "shop.example")
    assert message["List-Unsubscribe"] == "<https://shop.example/u/7>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Omnichannel-Id"] == "out-7"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_content().replace("\r\n", "\n").rstrip("\n") == CONTENT.text
    assert html.get_content_type() == "text/html"
    body = html.get_content()
    assert body.index("<body>") < body.index("Track it any time") < body.index("<p>Order 1")
    assert "display:none" in body


def test_smtp_single_part_messages(smtpd: SmtpServer) -> None:
    html_only = attrs.evolve(CONTENT, text=None, preheader=None)
    text_only = attrs.evolve(CONTENT, html=None)
    run(
        smtp(smtpd),
        [envelope(1, "a@example.com", content=html_only)],
        [envelope(2, "b@example.com", content=text_only)],
    )
    first, second = (r.message() for r in smtpd.received)
    assert first.get_content_type() == "text/html"
    assert "display:none" not in first.get_content()
    assert second.get_content_type() == "text/plain"
    assert "List-Unsubscribe" not in second


def test_smtp_resend_keeps_the_message_id_and_the_connection(smtpd: SmtpServer) -> None:
    e = envelope(3, "ann@example.com")
    first, second = run(smtp(smtpd), [e], [attrs.evolve(e, attempt=2)])
    assert first[0].provider_id == second[0].provider_id
    ids = {r.message()["Message-ID"] for r in smtpd.received}
    assert ids == {message_id_for(e.idempotency_key, "shop.example")}
    assert smtpd.connections == 1


def test_smtp_reconnects_when_the_server_closed_the_kept_connection(smtpd: SmtpServer) -> None:
    async def go() -> list[Receipt]:
        adapter = smtp(smtpd)()
        try:
            got = list(await adapter.send([envelope(1, "a@example.com")]))
            smtpd.drop_all()  # the server ends the idle connection
            got += await adapter.send([envelope(2, "b@example.com")])
            smtpd.mail_421_once = True  # noticed only at MAIL FROM
            got += await adapter.send([envelope(3, "c@example.com")])
            return got
        finally:
            await adapter.aclose()

    receipts = asyncio.run(go())
    assert outcomes(receipts) == ["SENT", "SENT", "SENT"]
    assert smtpd.connections == 3
    assert [r.rcpt_tos[0][0] for r in smtpd.received] == ["a", "b", "c"]


def test_smtp_timeout_waiting_for_the_end_of_data_is_ambiguous(smtpd: SmtpServer) -> None:
    smtpd.data_delay = 2.0
    adapter = lambda: SmtpAdapter(  # noqa: E731
        "127.0.0.1", smtpd.port, local_hostname="localhost", timeout=0.3, starttls="off"
    )
    [[receipt]] = run(adapter, [envelope(1, "slow@example.com")])
    assert (receipt.outcome, receipt.code) == (Outcome.RETRY_AMBIGUOUS, "timeout")


def test_smtp_refused_connection_is_retry_for_the_whole_batch() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = lambda: SmtpAdapter("127.0.0.1", port, local_hostname="localhost")  # noqa: E731
    [receipts] = run(adapter, [envelope(1, "a@example.com"), envelope(2, "b@example.com")])
    assert [(r.outcome, r.code) for r in receipts] == [(Outcome.RETRY, "connect")] * 2


def test_smtp_checks_locally_before_connecting(smtpd: SmtpServer) -> None:
    empty = attrs.evolve(CONTENT, html="", text=None)
    [receipts] = run(
        smtp(smtpd),
        [
            envelope(1, "not-an-address"),
            envelope(2, "a b@example.com"),
            envelope(3, "x@y", content=empty),
        ],
    )
    assert [(r.outcome.name, r.code) for r in receipts] == [
        ("INVALID_ADDRESS", "syntax"),
        ("INVALID_ADDRESS", "syntax"),
        ("PERMANENT", "empty_body"),
    ]
    assert smtpd.connections == 0


def test_smtp_starttls_and_auth(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls
    with smtp_server(starttls=server_ctx, password="s3cret") as server:  # noqa: S106
        url = f"smtp://ann:s3cret@127.0.0.1:{server.port}?starttls=required&local_hostname=localhost&timeout=5"
        [[receipt]] = run(
            lambda: SmtpAdapter.from_url(url, tls_context=client_ctx),
            [envelope(1, "a@example.com")],
        )
        assert receipt.outcome is Outcome.SENT
        [got] = server.received
        assert got.tls
        assert got.login == "ann"

        bad = url.replace("s3cret", "wrong")
        before = server.connections
        [receipts] = run(
            lambda: SmtpAdapter.from_url(bad, tls_context=client_ctx),
            [envelope(2, "b@example.com"), envelope(3, "c@example.com")],
        )
        assert [(r.outcome, r.status) for r in receipts] == [(Outcome.AUTH, 535)] * 2
        assert server.connections == before + 1  # no attempt for the second envelope

        # The system trust store does not know the test CA: the handshake fails.
        [[untrusted]] = run(lambda: SmtpAdapter.from_url(url), [envelope(4, "d@example.com")])
        assert (untrusted.outcome, untrusted.code) == (Outcome.AUTH, "tls")
        assert len(server.received) == 1


def test_smtp_starttls_required_but_not_offered_is_a_configuration_error(
    smtpd: SmtpServer,
) -> None:
    [[receipt]] = run(smtp(smtpd, starttls="required"), [envelope(1, "a@example.com")])
    assert (receipt.outcome, receipt.code) == (Outcome.AUTH, "config")
    assert smtpd.received == []


def test_smtp_implicit_tls(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls
    with smtp_server(implicit=server_ctx) as server:
        url = f"smtp://127.0.0.1:{server.port}?tls=implicit&local_hostname=localhost&timeout=5"
        [[receipt]] = run(
            lambda: SmtpAdapter.from_url(url, tls_context=client_ctx),
            [envelope(1, "a@example.com")],
        )
        assert receipt.outcome is Outcome.SENT
        assert server.received[0].tls


def test_smtp_non_ascii_address_needs_smtputf8() -> None:
    with smtp_server(smtputf8=True) as server:
        [[receipt]] = run(smtp(server), [envelope(1, "josé@example.com")])
        assert receipt.outcome is Outcome.SENT
        assert server.received[0].rcpt_tos == ["josé@example.com"]
        assert server.received[0].message()["To"] == "josé@example.com"
    with smtp_server(smtputf8=False) as server:
        [[receipt]] = run(smtp(server), [envelope(1, "josé@example.com")])
        assert (receipt.outcome, receipt.code) == (Outcome.PERMANENT, "smtputf8")


def test_smtp_conformance(smtpd: SmtpServer) -> None:
    asyncio.run(check_adapter(smtp(smtpd), expected=lambda _e: Outcome.SENT))
    assert len(smtpd.received) == 3 + 100 + 3


def test_smtp_configuration_is_validated() -> None:
    a = SmtpAdapter.from_url("smtp://ann:p%40ss@mail.example.com:2525?starttls=opportunistic")
    assert (a.host, a.port, a.username, a.password, a.starttls) == (
        "mail.example.com",
        2525,
        "ann",
        "p@ss",
        "opportunistic",
    )
    assert SmtpAdapter().port == 587
    assert SmtpAdapter().starttls == "opportunistic"
    assert REGISTRY.create("smtp://relay.example.com").host == "relay.example.com"
    bad: list[tuple[Callable[[], object], str, str]] = [
        (lambda: SmtpAdapter(port=0), "$.port", "invalid"),
        (lambda: SmtpAdapter(starttls="maybe"), "$.starttls", "invalid"),
        (lambda: SmtpAdapter(implicit_tls=True, starttls="required"), "$.starttls", "conflict"),
        (lambda: SmtpAdapter(password="x"), "$.username", "required"),  # noqa: S106
        (lambda: SmtpAdapter(timeout=0), "$.timeout", "invalid"),
        (lambda: SmtpAdapter(tls_context="yes"), "$.tls_context", "type"),
        (lambda: SmtpAdapter(mail_from="bounces"), "$.mail_from", "invalid"),
        (lambda: SmtpAdapter(max_connections=0), "$.max_connections", "invalid"),
        (lambda: SmtpAdapter.from_url("smtp://h?tls=sometimes"), "$.url", "invalid"),
        (lambda: SmtpAdapter.from_url("smtp://h?colour=blue"), "$.url", "unknown_option"),
        (lambda: SmtpAdapter.from_url("smtps://h"), "$.url", "invalid"),
    ]
    for make, path, code in bad:
        with pytest.raises(ValidationError) as caught:
            make()
        assert (caught.value.errors[0].path, caught.value.errors[0].code) == (path, code)


def test_send_rejects_a_wrong_batch(smtpd: SmtpServer) -> None:
    sms = attrs.evolve(envelope(1, "a@example.com"), content={"body": "hi"})
    with pytest.raises(ValidationError) as caught:
        run(smtp(smtpd), [envelope(0, "b@example.com"), sms])
    assert caught.value.errors[0].path == "$.batch[1].content"
    with pytest.raises(ValidationError) as caught:
        run(smtp(smtpd), [envelope(n, f"a{n}@example.com") for n in range(101)])
    assert caught.value.errors[0].code == "too_long"
    sneaky = envelope(1, "a@example.com", metadata={"unsubscribe_url": "https://x> <evil"})
    with pytest.raises(ValidationError) as caught:
        run(smtp(smtpd), [sneaky])
    assert caught.value.errors[0].path == "$.batch[0].metadata.unsubscribe_url"
    assert smtpd.connections == 0


# --- SMTP properties ------------------------------------------------------------------------

phases = st.sampled_from(["connect", "mail", "rcpt", "data"])
texts = st.one_of(
    st.just(""),
    st.builds(
        "{}.{}.{} {}".format,
        st.sampled_from("245"),
        st.integers(0, 9),
        st.integers(0, 20),
        st.text(max_size=20),
    ),
    st.text(max_size=40),
)


@given(code=st.integers(200, 599), text=texts, phase=phases)
def test_smtp_reply_classes(code: int, text: str, phase: Any) -> None:
    receipt = classify_smtp_reply(code, text, phase)
    assert receipt.status == code
    if 200 <= code < 300:
        assert receipt.outcome is Outcome.SENT
    elif 400 <= code < 500:
        assert receipt.outcome is Outcome.RETRY  # the server took nothing
    elif 500 <= code < 600:
        # A reply is never ambiguous, and a 5xx is retried only for 552 to RCPT.
        assert receipt.outcome not in {Outcome.SENT, Outcome.RETRY_AMBIGUOUS}
        assert (receipt.outcome is Outcome.RETRY) == (code == 552 and phase == "rcpt")
    else:
        assert receipt.outcome is Outcome.PERMANENT


@given(
    subject=st.text(
        st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"]), min_size=1, max_size=80
    ),
    text=st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"), max_size=300
    ),
    html=st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"), max_size=300
    ),
)
def test_mime_round_trip(subject: str, text: str, html: str) -> None:
    content = RenderedEmail(
        subject=subject.strip() or "x",
        sender="Shöp <news@shop.example>",
        html=html or None,
        text=text or None,
        preheader=None,
        reply_to=None,
    )
    e = envelope(1, "ann@example.com", content=content)
    if not html and not text:
        with pytest.raises(ValidationError):
            email_message(e)
        return
    parsed = email.message_from_bytes(email_message(e).as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == content.subject
    parts = {p.get_content_type(): p.get_content() for p in parsed.walk() if not p.is_multipart()}
    expected = {"text/plain": text, "text/html": html}
    assert parts.keys() == {k for k, v in expected.items() if v}
    for kind, body in parts.items():
        # The content managers end a body with a line break and write line breaks as CRLF.
        assert body.replace("\r\n", "\n").rstrip("\n") == expected[kind].rstrip("\n")


def test_with_preheader_goes_after_the_body_tag() -> None:
    assert with_preheader('<BODY class="x"><p>a</p>', "pre").startswith('<BODY class="x"><div')
    assert with_preheader("<p>a</p>", "p&q").startswith("<div")
    assert "p&amp;q" in with_preheader("<p>a</p>", "p&q")


# --- HTTP providers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_api() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


def fresh(server: ProviderServer) -> ProviderServer:
    server.requests.clear()
    server._routes.clear()
    return server


@pytest.fixture
def api(shared_api: ProviderServer) -> ProviderServer:
    """The module's provider server, its routes and recorded requests cleared."""
    return fresh(shared_api)


def counter(prefix: str, reply: Callable[[Recorded, str], Reply]) -> Callable[[Recorded], Reply]:
    """A handler numbering its requests: the answer may carry a fresh id each time."""
    lock, count = threading.Lock(), [0]

    def handle(request: Recorded) -> Reply:
        with lock:
            count[0] += 1
            n = count[0]
        return reply(request, f"{prefix}{n}")

    return handle


def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- SendGrid


def sendgrid(api: ProviderServer, **options: Any) -> Callable[[], SendGridAdapter]:
    return lambda: SendGridAdapter("SG.test", api_base=api.url, **options)


def sendgrid_ok(_request: Recorded, message_id: str) -> Reply:
    return Reply(status=202, text="", headers={"X-Message-Id": message_id})


def test_sendgrid_batches_identical_content_as_personalizations(api: ProviderServer) -> None:
    api.route("POST", "/v3/mail/send", counter("msg-", sendgrid_ok))
    batch = [
        envelope(0, "a@example.com", metadata={"unsubscribe_url": "https://shop.example/u/0"}),
        envelope(1, "b@example.com", content=OTHER),
        envelope(2, "c@example.com"),
        envelope(3, "d@example.com"),
    ]
    [receipts] = run(sendgrid(api, one_click_unsubscribe=True), batch)
    assert outcomes(receipts) == ["SENT"] * 4
    assert [r.provider_id for r in receipts] == ["msg-1", "msg-2", "msg-1", "msg-1"]
    first, second = api.requests
    assert first.headers["authorization"] == "Bearer SG.test"
    body = first.json()
    assert [p["to"] for p in body["personalizations"]] == [
        [{"email": "a@example.com"}],
        [{"email": "c@example.com"}],
        [{"email": "d@example.com"}],
    ]
    assert body["personalizations"][1]["custom_args"] == {
        ID_FIELD: "out-2",
        KEY_FIELD: "run-1:step-1:email:p2",
    }
    assert body["personalizations"][0]["headers"] == {
        "List-Unsubscribe": "<https://shop.example/u/0>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert "headers" not in body["personalizations"][1]
    assert body["from"] == {"email": "news@shop.example", "name": "Shop"}
    assert body["reply_to"] == {"email": "help@shop.example", "name": "Help"}
    assert body["subject"] == CONTENT.subject
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert "Track it any time" in body["content"][1]["value"]
    assert [c["type"] for c in second.json()["content"]] == ["text/html"]


def test_sendgrid_repeated_address_goes_in_another_request(api: ProviderServer) -> None:
    api.route("POST", "/v3/mail/send", counter("msg-", sendgrid_ok))
    [receipts] = run(sendgrid(api), [envelope(0, "a@example.com"), envelope(1, "A@example.com")])
    assert [r.provider_id for r in receipts] == ["msg-1", "msg-2"]


def test_sendgrid_statuses(api: ProviderServer) -> None:
    reset = int(time.time()) + 30
    cases = [
        (
            Reply(
                status=429,
                json={"errors": [{"message": "too many"}]},
                headers={"X-RateLimit-Reset": str(reset)},
            ),
            "RETRY",
        ),
        (Reply(status=401, json={"errors": [{"message": "bad key"}]}), "AUTH"),
        (Reply(status=403, json={"errors": [{"message": "sender not verified"}]}), "AUTH"),
        (Reply(status=413, json={"errors": [{"message": "too large"}]}), "PERMANENT"),
        (Reply(status=500, json={}), "RETRY_AMBIGUOUS"),
        (Reply(status=503, text="down", headers={"Retry-After": "7"}), "RETRY"),
        (
            Reply(status=400, json={"errors": [{"field": "from.email", "message": "bad from"}]}),
            "PERMANENT",
        ),
    ]
    api.route("POST", "/v3/mail/send", scripted([reply for reply, _ in cases]))
    receipts = run(
        sendgrid(api),
        *[[envelope(0, "a@example.com"), envelope(1, "b@example.com")] for _ in cases],
    )
    assert [outcomes(r) for r in receipts] == [[want, want] for _, want in cases]
    assert 25 <= (receipts[0][0].retry_after or 0) <= 31
    assert receipts[5][0].retry_after == 7.0
    assert (receipts[6][0].code, receipts[6][0].detail) == ("from.email", "bad from")
    assert len(api.requests) == len(cases)


def test_sendgrid_bad_address_is_singled_out_and_the_rest_resent(api: ProviderServer) -> None:
    error = {
        "errors": [
            {
                "field": "personalizations.1.to.0.email",
                "message": "Does not contain a valid address.",
            }
        ]
    }
    api.route(
        "POST",
        "/v3/mail/send",
        scripted(
            [Reply(status=400, json=error), Reply(status=202, headers={"X-Message-Id": "m2"})]
        ),
    )
    batch = [envelope(n, f"{c}@example.com") for n, c in enumerate(["a", "b.c", "d"])]
    [receipts] = run(sendgrid(api), batch)
    assert outcomes(receipts) == ["SENT", "INVALID_ADDRESS", "SENT"]
    assert receipts[1].code == "personalizations.1.to.0.email"
    first, second = (r.json() for r in api.requests)
    assert len(first["personalizations"]) == 3
    assert [p["to"][0]["email"] for p in second["personalizations"]] == [
        "a@example.com",
        "d@example.com",
    ]


def test_sendgrid_transport_failures(api: ProviderServer) -> None:
    api.route("POST", "/v3/mail/send", Reply(drop=True))
    [[dropped]] = run(sendgrid(api), [envelope(0, "a@example.com")])
    assert dropped.outcome is Outcome.RETRY_AMBIGUOUS
    base = f"http://127.0.0.1:{refused_port()}"
    [[refused]] = run(lambda: SendGridAdapter("k", api_base=base), [envelope(0, "a@example.com")])
    assert refused.outcome is Outcome.RETRY


def test_sendgrid_sandbox_and_urls(api: ProviderServer) -> None:
    api.route("POST", "/v3/mail/send", Reply(status=200, text=""))
    url = f"sendgrid://:SG.k@?sandbox=true&api_base={urllib.parse.quote(api.url)}"
    [[receipt]] = run(lambda: REGISTRY.create(url), [envelope(0, "a@example.com")])
    assert receipt.outcome is Outcome.SENT
    assert api.requests[0].json()["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert SendGridAdapter.from_url("sendgrid://:k@").api_base == "https://api.sendgrid.com"
    eu = SendGridAdapter.from_url("sendgrid://:k@api.eu.sendgrid.com")
    assert eu.api_base == "https://api.eu.sendgrid.com"
    for url in ("sendgrid://api.sendgrid.com", "sendgrid://:k@?colour=1"):
        with pytest.raises(ValidationError):
            SendGridAdapter.from_url(url)
    with pytest.raises(ValidationError) as caught:
        SendGridAdapter("")
    assert caught.value.errors[0].path == "$.api_key"


def test_sendgrid_conformance(api: ProviderServer) -> None:
    api.route("POST", "/v3/mail/send", counter("msg-", sendgrid_ok))
    asyncio.run(check_adapter(sendgrid(api), expected=lambda _e: Outcome.SENT))


@settings(max_examples=25)
@given(picks=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), min_size=1, max_size=12))
def test_sendgrid_requests_partition_the_batch(
    shared_api: ProviderServer, picks: list[tuple[int, int]]
) -> None:
    """Each request holds one content and distinct addresses; every envelope is in one."""
    api = fresh(shared_api)
    api.route("POST", "/v3/mail/send", counter("msg-", sendgrid_ok))
    contents = [CONTENT, OTHER, attrs.evolve(OTHER, subject="Third")]
    batch = [
        envelope(n, f"user{a}@example.com", content=contents[c]) for n, (c, a) in enumerate(picks)
    ]
    [receipts] = run(sendgrid(api), batch)
    assert outcomes(receipts) == ["SENT"] * len(batch)
    carried: dict[str, str] = {}
    for request in api.requests:
        body = request.json()
        addresses = [p["to"][0]["email"] for p in body["personalizations"]]
        assert len(set(addresses)) == len(addresses)
        for p in body["personalizations"]:
            carried[p["custom_args"][ID_FIELD]] = body["subject"]
    assert sorted(carried) == sorted(e.id for e in batch)
    for e in batch:
        assert isinstance(e.content, RenderedEmail)
        assert carried[e.id] == e.content.subject
    # Receipts follow the envelopes: each gets the id of the request that carried it.
    by_request = {}
    for n, request in enumerate(api.requests, 1):
        for p in request.json()["personalizations"]:
            by_request[p["custom_args"][ID_FIELD]] = f"msg-{n}"
    assert [r.provider_id for r in receipts] == [by_request[e.id] for e in batch]


# --- Postmark


def postmark(api: ProviderServer, **options: Any) -> Callable[[], PostmarkAdapter]:
    return lambda: PostmarkAdapter("pm-token", api_base=api.url, **options)


def test_postmark_single_message(api: ProviderServer) -> None:
    api.route(
        "POST",
        "/email",
        Reply(json={"To": "a@example.com", "MessageID": "pm-1", "ErrorCode": 0, "Message": "OK"}),
    )
    e = envelope(0, "a@example.com", metadata={"unsubscribe_url": "https://shop.example/u/0"})
    [[receipt]] = run(postmark(api, message_stream="broadcast"), [e])
    assert (receipt.outcome, receipt.provider_id) == (Outcome.SENT, "pm-1")
    [request] = api.requests
    assert request.headers["x-postmark-server-token"] == "pm-token"
    body = request.json()
    assert body["From"] == "Shop <news@shop.example>"
    assert body["To"] == "a@example.com"
    assert body["ReplyTo"] == "Help <help@shop.example>"
    assert body["TextBody"] == CONTENT.text
    assert "Track it any time" in body["HtmlBody"]
    assert body["Metadata"] == {ID_FIELD: "out-0", KEY_FIELD: "run-1:step-1:email:p0"}
    assert body["Headers"] == [{"Name": "List-Unsubscribe", "Value": "<https://shop.example/u/0>"}]
    assert body["MessageStream"] == "broadcast"


def test_postmark_batch_codes_in_order(api: ProviderServer) -> None:
    def answer(request: Recorded) -> Reply:
        results = []
        for n, message in enumerate(request.json()):
            local = message["To"].partition("@")[0]
            if local == "bad":
                results.append({"ErrorCode": 300, "Message": "Invalid 'To' address: 'bad@x'."})
            elif local == "gone":
                results.append(
                    {
                        "ErrorCode": 406,
                        "Message": "You tried to send to a recipient that has been marked as inactive.",
                    }
                )
            else:
                results.append(
                    {"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{n}", "To": message["To"]}
                )
        return Reply(json=results)

    api.route("POST", "/email/batch", answer)
    batch = [
        envelope(0, "a@example.com"),
        envelope(1, "bad@example.com"),
        envelope(2, "gone@example.com", content=OTHER),
        envelope(3, "d@example.com"),
    ]
    [receipts] = run(postmark(api), batch)
    assert [(r.outcome.name, r.provider_id, r.code) for r in receipts] == [
        ("SENT", "pm-0", None),
        ("INVALID_ADDRESS", None, "300"),
        ("OPTED_OUT", None, "406"),
        ("SENT", "pm-3", None),
    ]
    [request] = api.requests
    assert [m["Subject"] for m in request.json()] == [
        CONTENT.subject,
        CONTENT.subject,
        OTHER.subject,
        CONTENT.subject,
    ]


def test_postmark_statuses(api: ProviderServer) -> None:
    cases = [
        (
            Reply(status=401, json={"ErrorCode": 10, "Message": "Bad or missing API token"}),
            "AUTH",
            "10",
        ),
        (
            Reply(status=422, json={"ErrorCode": 300, "Message": "Error parsing 'From': bad"}),
            "PERMANENT",
            "300",
        ),
        (
            Reply(status=422, json={"ErrorCode": 405, "Message": "Not allowed to send"}),
            "AUTH",
            "405",
        ),
        (
            Reply(status=422, json={"ErrorCode": 400, "Message": "Sender signature not found"}),
            "PERMANENT",
            "400",
        ),
        (
            Reply(
                status=429,
                json={"ErrorCode": 429, "Message": "Rate limit exceeded"},
                headers={"Retry-After": "12"},
            ),
            "RETRY",
            "429",
        ),
        (Reply(status=500, json={"ErrorCode": 1, "Message": "oops"}), "RETRY_AMBIGUOUS", "1"),
        (Reply(status=503, text="maintenance"), "RETRY", None),
        (Reply(status=401, text="unauthorized"), "AUTH", None),
    ]
    api.route("POST", "/email", scripted([reply for reply, _, _ in cases]))
    receipts = run(postmark(api), *[[envelope(0, "a@example.com")] for _ in cases])
    assert [(r[0].outcome.name, r[0].code) for r in receipts] == [
        (want, code) for _, want, code in cases
    ]
    assert receipts[4][0].retry_after == 12.0


def test_postmark_batch_failing_as_a_whole(api: ProviderServer) -> None:
    api.route(
        "POST",
        "/email/batch",
        scripted(
            [
                Reply(status=429, json={"ErrorCode": 429, "Message": "Rate limit exceeded"}),
                Reply(status=200, json=[{"ErrorCode": 0, "MessageID": "only-one"}]),
            ]
        ),
    )
    batch = [envelope(0, "a@example.com"), envelope(1, "b@example.com")]
    limited, unclear = run(postmark(api), batch, batch)
    assert outcomes(limited) == ["RETRY", "RETRY"]
    assert outcomes(unclear) == ["RETRY_AMBIGUOUS", "RETRY_AMBIGUOUS"]


def test_postmark_long_metadata_is_hashed(api: ProviderServer) -> None:
    api.route("POST", "/email", Reply(json={"ErrorCode": 0, "MessageID": "pm-1"}))
    e = attrs.evolve(envelope(0, "a@example.com"), idempotency_key="k" * 81)
    run(postmark(api), [e])
    value = api.requests[0].json()["Metadata"][KEY_FIELD]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", value)


def test_postmark_conformance_and_urls(api: ProviderServer) -> None:
    def answer(request: Recorded) -> Reply:
        body = request.json()
        if isinstance(body, list):
            return Reply(json=[{"ErrorCode": 0, "MessageID": f"pm-{n}"} for n in range(len(body))])
        return Reply(json={"ErrorCode": 0, "MessageID": "pm-single"})

    api.route("POST", "/email", answer)
    api.route("POST", "/email/batch", answer)
    asyncio.run(check_adapter(postmark(api), expected=lambda _e: Outcome.SENT))
    url = f"postmark://:pm-token@?api_base={urllib.parse.quote(api.url)}"
    [[receipt]] = run(lambda: REGISTRY.create(url), [envelope(0, "a@example.com")])
    assert receipt.provider_id == "pm-single"
    assert PostmarkAdapter.from_url("postmark://:t@").api_base == "https://api.postmarkapp.com"
    with pytest.raises(ValidationError):
        PostmarkAdapter.from_url("postmark://api.postmarkapp.com")


# --- Mailgun


def mailgun(api: ProviderServer, **options: Any) -> Callable[[], MailgunAdapter]:
    return lambda: MailgunAdapter("key-1", "mg.example.com", api_base=api.url, **options)


def form(request: Recorded) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(request.body.decode(), keep_blank_values=True)


def mailgun_ok(_request: Recorded, message_id: str) -> Reply:
    return Reply(json={"id": f"<{message_id}@mg.example.com>", "message": "Queued. Thank you."})


def test_mailgun_batch_with_recipient_variables(api: ProviderServer) -> None:
    api.route("POST", "/v3/mg.example.com/messages", counter("mg-", mailgun_ok))
    unsub = {"unsubscribe_url": "https://shop.example/u/x"}
    batch = [
        envelope(0, "a@example.com"),
        envelope(1, "b@example.com", metadata=unsub),
        envelope(2, "c@example.com"),
        envelope(3, "d@example.com", content=OTHER),
    ]
    [receipts] = run(mailgun(api, test_mode=True), batch)
    assert [r.provider_id for r in receipts] == [
        "mg-1@mg.example.com",
        "mg-2@mg.example.com",
        "mg-1@mg.example.com",
        "mg-3@mg.example.com",
    ]
    first, second, third = api.requests
    assert first.headers["authorization"].startswith("Basic ")
    fields = form(first)
    assert fields["to"] == ["a@example.com", "c@example.com"]
    assert json.loads(fields["recipient-variables"][0]) == {
        "a@example.com": {ID_FIELD: "out-0", KEY_FIELD: "run-1:step-1:email:p0"},
        "c@example.com": {ID_FIELD: "out-2", KEY_FIELD: "run-1:step-1:email:p2"},
    }
    assert fields[f"v:{ID_FIELD}"] == [f"%recipient.{ID_FIELD}%"]
    assert fields[f"v:{KEY_FIELD}"] == [f"%recipient.{KEY_FIELD}%"]
    assert fields["from"] == ["Shop <news@shop.example>"]
    assert fields["subject"] == [CONTENT.subject]
    assert fields["text"] == [CONTENT.text]
    assert "Track it any time" in fields["html"][0]
    assert fields["h:Reply-To"] == ["Help <help@shop.example>"]
    assert fields["o:testmode"] == ["yes"]
    assert "h:List-Unsubscribe" not in fields
    with_unsub = form(second)
    assert with_unsub["h:List-Unsubscribe"] == ["%recipient.list_unsubscribe%"]
    assert (
        json.loads(with_unsub["recipient-variables"][0])["b@example.com"]["list_unsubscribe"]
        == "<https://shop.example/u/x>"
    )
    assert "text" not in form(third)


def test_mailgun_statuses(api: ProviderServer) -> None:
    cases = [
        (Reply(status=401, text="Forbidden"), "AUTH"),
        (Reply(status=404, json={"message": "Domain not found: mg.example.com"}), "AUTH"),
        (Reply(status=400, json={"message": "from parameter is missing"}), "PERMANENT"),
        (Reply(status=402, json={"message": "Request failed"}), "PERMANENT"),
        (
            Reply(status=429, json={"message": "Too many requests"}, headers={"Retry-After": "3"}),
            "RETRY",
        ),
        (Reply(status=500, text="boom"), "RETRY_AMBIGUOUS"),
        (Reply(status=503, text="unavailable"), "RETRY"),
    ]
    api.route("POST", "/v3/mg.example.com/messages", scripted([reply for reply, _ in cases]))
    receipts = run(
        mailgun(api), *[[envelope(0, "a@example.com"), envelope(1, "b@example.com")] for _ in cases]
    )
    assert [outcomes(r) for r in receipts] == [[want, want] for _, want in cases]
    assert receipts[4][0].retry_after == 3.0
    assert len(api.requests) == len(cases)


def test_mailgun_bad_recipient_is_found_by_halving(api: ProviderServer) -> None:
    def answer(request: Recorded) -> Reply:
        if "bad@example.com" in form(request)["to"]:
            return Reply(status=400, json={"message": "'to' parameter is not a valid address"})
        return mailgun_ok(request, "mg-ok")

    api.route("POST", "/v3/mg.example.com/messages", answer)
    batch = [envelope(n, f"u{n}@example.com") for n in range(8)]
    batch[5] = envelope(5, "bad@example.com")
    [receipts] = run(mailgun(api), batch)
    assert outcomes(receipts) == ["SENT"] * 5 + ["INVALID_ADDRESS"] + ["SENT"] * 2
    # 8 -> 4 (sent) + 4 -> 2 -> 1 (sent) + 1 (bad); 2 (sent): 7 requests, not 1 + 8.
    assert [len(form(r)["to"]) for r in api.requests] == [8, 4, 4, 2, 1, 1, 2]


def test_mailgun_urls_and_regions(api: ProviderServer) -> None:
    eu = MailgunAdapter.from_url("mailgun://api:key-1@mg.example.com?region=eu")
    assert (eu.api_base, eu.domain, eu.api_key) == (
        "https://api.eu.mailgun.net",
        "mg.example.com",
        "key-1",
    )
    assert MailgunAdapter("k", "mg.example.com").api_base == "https://api.mailgun.net"
    for bad in ("mailgun://api@mg.example.com", "mailgun://api:k@mg.example.com?region=mars"):
        with pytest.raises(ValidationError):
            MailgunAdapter.from_url(bad)
    api.route("POST", "/v3/mg.example.com/messages", counter("mg-", mailgun_ok))
    url = f"mailgun://api:key-1@mg.example.com?api_base={urllib.parse.quote(api.url)}"
    [[receipt]] = run(lambda: REGISTRY.create(url), [envelope(0, "a@example.com")])
    assert receipt.outcome is Outcome.SENT
    assert api.requests[0].path == "/v3/mg.example.com/messages"


def test_mailgun_conformance(api: ProviderServer) -> None:
    api.route("POST", "/v3/mg.example.com/messages", counter("mg-", mailgun_ok))
    asyncio.run(check_adapter(mailgun(api), expected=lambda _e: Outcome.SENT))


# --- the guide ------------------------------------------------------------------------------

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "email-adapters.md"


def test_the_guides_urls_build_adapters() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    urls = re.findall(r"`((?:smtp|sendgrid|postmark|mailgun)://[^`]+)`", text)
    assert len(urls) >= 8
    registry = REGISTRY

    async def build_all() -> None:
        for url in urls:
            adapter = registry.create(url.replace("KEY", "k").replace("TOKEN", "t"))
            assert adapter.channel == "email"
            await adapter.aclose()

    asyncio.run(build_all())
    for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL):
        compile(block, str(GUIDE), "exec")


def test_declared_entry_points_name_these_classes() -> None:
    declared = {e.name for e in metadata.entry_points(group=GROUP)} & set(EMAIL_ADAPTERS)
    if not declared:
        pytest.skip("the e-mail adapters' entry points are not declared in this installation")
    registry = Registry.discover()
    for name in declared:
        assert registry.load(name) is EMAIL_ADAPTERS[name]


def test_smtp_cancelled_send_leaves_no_half_used_connection(smtpd: SmtpServer) -> None:
    smtpd.data_delay = 1.0

    async def go() -> list[Receipt]:
        adapter = smtp(smtpd)()
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(adapter.send([envelope(1, "slow@example.com")]), 0.2)
            smtpd.data_delay = 0.0
            return list(await adapter.send([envelope(2, "b@example.com")]))
        finally:
            await adapter.aclose()

    assert outcomes(asyncio.run(go())) == ["SENT"]
    assert smtpd.connections == 2  # the cancelled one was dropped, not reused mid-DATA


@pytest.mark.parametrize(("slots", "expected"), [(1, 1), (3, 3)])
def test_smtp_connections_are_bounded(smtpd: SmtpServer, slots: int, expected: int) -> None:
    smtpd.data_delay = 0.05

    async def go() -> list[Receipt]:
        adapter = smtp(smtpd, max_connections=slots)()
        try:
            batches = [[envelope(n, f"u{n}@example.com")] for n in range(3)]
            done = await asyncio.gather(*(adapter.send(b) for b in batches))
            return [r for receipts in done for r in receipts]
        finally:
            await adapter.aclose()

    assert outcomes(asyncio.run(go())) == ["SENT"] * 3
    assert smtpd.connections == expected
