"""E-mail adapters: SMTP (``aiosmtplib``), SendGrid, Postmark and Mailgun.

Every adapter takes envelopes whose ``content`` is a `RenderedEmail` and
whose ``to`` is the recipient's bare address, and returns one `Receipt` per
envelope, in order. What they share:

- **Tracking ids.** The envelope's id and idempotency key travel with the
  message where the provider echoes them back in its webhooks: SendGrid
  ``custom_args``, Postmark ``Metadata`` and Mailgun ``v:`` variables, all
  named ``omnichannel_id`` and ``omnichannel_key``. Over SMTP the
  ``Message-ID`` is derived from the idempotency key (`message_id_for`), so
  a resent message keeps its Message-ID, and ``X-Omnichannel-Id`` carries the
  envelope id (bounces quote the original headers).
- **Preheader.** Put at the top of the HTML body as hidden text
  (`with_preheader`); a text-only message has none.
- **List-Unsubscribe.** When the envelope's metadata has ``unsubscribe_url``,
  the message gets ``List-Unsubscribe: <url>`` (RFC 2369), and with
  ``one_click_unsubscribe=True`` also ``List-Unsubscribe-Post:
  List-Unsubscribe=One-Click`` (RFC 8058; only if the URL takes a POST).
- **Checked locally first.** An address that cannot be one
  (``INVALID_ADDRESS``, code ``syntax``) or a message with neither an HTML
  nor a text body (``PERMANENT``, code ``empty_body``) gets its receipt
  without a provider call, so one bad envelope cannot sink a batch.
- **Batches.** SMTP sends one message per envelope over one connection.
  SendGrid and Mailgun send envelopes whose content is identical (same
  subject, sender, bodies, preheader, reply-to) as one request with one
  recipient each (personalizations, recipient-variables); Postmark's batch
  endpoint takes different messages in one request.

How each provider's answers map to outcomes is written beside the code that
maps them, with the provider's documentation, and summed up in the e-mail
adapters guide.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import html as html_lib
import json
import re
import ssl
from collections.abc import Callable, Hashable, Mapping, Sequence
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, parseaddr
from typing import Any, ClassVar, Literal, TypeAlias

import aiosmtplib
import httpx

from omnichannel.channels._adapter import Capabilities, Envelope, Outcome, Receipt
from omnichannel.channels._http import (
    HttpAdapterBase,
    HttpStatusMap,
    base_url,
    failure_receipt,
    retry_after_seconds,
)
from omnichannel.channels._url import AdapterUrl, parse_adapter_url
from omnichannel.errors import ValidationError
from omnichannel.personalization import RenderedEmail

__all__ = [
    "ID_FIELD",
    "KEY_FIELD",
    "MailgunAdapter",
    "PostmarkAdapter",
    "SendGridAdapter",
    "SmtpAdapter",
    "SmtpPhase",
    "classify_smtp_reply",
    "email_message",
    "message_id_for",
    "with_preheader",
]

#: The custom-argument / metadata / variable name carrying the envelope's id.
ID_FIELD = "omnichannel_id"
#: The name carrying the envelope's idempotency key.
KEY_FIELD = "omnichannel_key"

#: Where in an SMTP transaction a reply came: the greeting, EHLO, STARTTLS and
#: AUTH (``connect``), ``MAIL FROM``, ``RCPT TO``, or ``DATA`` and its end.
SmtpPhase: TypeAlias = Literal["connect", "mail", "rcpt", "data"]

# --- shared by every adapter --------------------------------------------------------------


def _address(value: str) -> str:
    return parseaddr(value)[1] or value


def _name_and_address(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    return name, address or value


def _is_host(name: str) -> bool:
    """True for a host name: dot-separated labels of letters, digits and inner hyphens.

    Non-ASCII letters pass (an internationalized domain, RFC 6531); the provider
    or the server judges those further.
    """
    labels = name.removesuffix(".").split(".")
    return len(name) <= 253 and all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    )


# Characters no unquoted local part holds (RFC 5322 section 3.2.3 specials, space, controls).
_LOCAL_FORBIDDEN = re.compile(r'[\s<>()\[\]\\,;:@"\x00-\x1f\x7f]')


def _address_problem(to: str) -> str | None:
    """Why ``to`` cannot be a mailbox, or None; deliberately lenient (providers judge the rest)."""
    local, at, domain = to.rpartition("@")
    if not at or not local or not domain:
        return "the address has no local part and domain"
    if len(to) > 254:
        return "the address is longer than 254 characters (RFC 5321 section 4.5.3.1.3)"
    if _LOCAL_FORBIDDEN.search(local) or local.startswith(".") or local.endswith("."):
        return "the local part has characters an unquoted address cannot hold"
    if not _is_host(domain):
        return "the domain is not a host name"
    return None


def _local_receipt(envelope: Envelope, content: RenderedEmail) -> Receipt | None:
    """A receipt decided without the provider: a malformed address or an empty message."""
    problem = _address_problem(envelope.to)
    if problem is not None:
        return Receipt(outcome=Outcome.INVALID_ADDRESS, code="syntax", detail=problem)
    if not content.html and not content.text:
        return Receipt(
            outcome=Outcome.PERMANENT, code="empty_body", detail="neither an HTML nor a text body"
        )
    return None


_UNSAFE_URL = re.compile(r"[\s<>\x00-\x1f\x7f]")


def _checked_batch(batch: object, max_batch: int) -> list[tuple[Envelope, RenderedEmail]]:
    """The batch with each envelope's content; a wrong batch is a programming error."""
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)):
        raise ValidationError.one("$.batch", "type", "must be a sequence of Envelope")
    if len(batch) > max_batch:
        raise ValidationError.one(
            "$.batch", "too_long", f"{len(batch)} envelopes; this adapter takes {max_batch}"
        )
    checked = []
    for index, envelope in enumerate(batch):
        if not isinstance(envelope, Envelope):
            raise ValidationError.one(f"$.batch[{index}]", "type", "must be an Envelope")
        if not isinstance(envelope.content, RenderedEmail):
            raise ValidationError.one(
                f"$.batch[{index}].content", "type", "an e-mail adapter needs a RenderedEmail"
            )
        url = envelope.metadata.get("unsubscribe_url")
        if url is not None and (not url or _UNSAFE_URL.search(url)):
            # It goes into a header between angle brackets: a space or ">" would break out.
            raise ValidationError.one(
                f"$.batch[{index}].metadata.unsubscribe_url",
                "invalid",
                "must be a URL without spaces, angle brackets or control characters",
            )
        checked.append((envelope, envelope.content))
    return checked


def with_preheader(html: str, preheader: str | None) -> str:
    """``html`` with ``preheader`` as hidden text at the top of its body.

    Mail clients show the first text of a message beside its subject; the
    preheader is that text, hidden in the message itself. It goes right after
    ``<body ...>``, or first when the HTML has no body tag.

    Examples:
        >>> print(with_preheader("<html><body><p>Hi</p></body></html>", "Sale ends <today>"))
        <html><body><div style="display:none;max-height:0;overflow:hidden;mso-hide:all;\
font-size:1px;line-height:1px;color:transparent;opacity:0">Sale ends &lt;today&gt;</div>\
<p>Hi</p></body></html>
        >>> with_preheader("<p>Hi</p>", None)
        '<p>Hi</p>'

    .. versionadded:: 0.1.0
    """
    if not preheader:
        return html
    hidden = (
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;font-size:1px;'
        f'line-height:1px;color:transparent;opacity:0">{html_lib.escape(preheader)}</div>'
    )
    body = re.search(r"<body\b[^>]*>", html, re.IGNORECASE)
    if body is None:
        return hidden + html
    return html[: body.end()] + hidden + html[body.end() :]


def _html(content: RenderedEmail) -> str | None:
    return with_preheader(content.html, content.preheader) if content.html else None


def _unsubscribe_headers(envelope: Envelope, one_click: bool) -> dict[str, str]:
    url = envelope.metadata.get("unsubscribe_url")
    if not url:
        return {}
    headers = {"List-Unsubscribe": f"<{url}>"}
    if one_click:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def _tracking(envelope: Envelope) -> dict[str, str]:
    return {ID_FIELD: envelope.id, KEY_FIELD: envelope.idempotency_key}


def _content_key(content: RenderedEmail) -> Hashable:
    return (
        content.subject,
        content.sender,
        content.html,
        content.text,
        content.preheader,
        content.reply_to,
    )


Indexed: TypeAlias = "list[tuple[int, Envelope, RenderedEmail]]"


def _groups(
    items: Indexed, key: Callable[[Envelope, RenderedEmail], Hashable], limit: int
) -> list[Indexed]:
    """Split ``items`` into requests: one key each, unique addresses, at most ``limit``.

    Providers reject a request naming one address twice (SendGrid: "Each
    unique email address in the personalizations array should only be
    included once"; Mailgun keys recipient-variables by address), so a
    repeated address starts another request.
    """
    groups: list[Indexed] = []
    open_by_key: dict[Hashable, list[tuple[Indexed, set[str]]]] = {}
    for item in items:
        _, envelope, content = item
        address = envelope.to.lower()
        candidates = open_by_key.setdefault(key(envelope, content), [])
        for group, seen in candidates:
            if len(group) < limit and address not in seen:
                group.append(item)
                seen.add(address)
                break
        else:
            group = [item]
            candidates.append((group, {address}))
            groups.append(group)
    return groups


def _bool_option(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValidationError.one(field, "invalid", "must be true or false")


def _url_options(
    parts: AdapterUrl, allowed: Mapping[str, str], given: dict[str, Any]
) -> dict[str, Any]:
    """Keyword arguments from the URL's query (``allowed`` maps option to argument name).

    Keyword arguments passed beside the URL win over its query.
    """
    found: dict[str, Any] = {}
    for option, value in parts.options.items():
        if option not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ValidationError.one(
                "$.url", "unknown_option", f"unknown option {option!r} (known: {known})"
            )
        found[allowed[option]] = value
    found.update(given)
    return found


def _optional_str(
    value: object,
    field: str,
    valid: Callable[[str], bool] | None = None,
    form: str = "a non-empty string",
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or (valid is not None and not valid(value)):
        raise ValidationError.one(field, "invalid", f"must be {form}")
    return value


def _secret(value: object, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.one(field, "required", f"needs {what}")
    if any(c in value for c in "\r\n"):
        raise ValidationError.one(field, "invalid", "must be one line")
    return value


def _host_base(parts: AdapterUrl, default_host: str) -> str:
    host = parts.host or default_host
    return f"https://{host}" + (f":{parts.port}" if parts.port else "")


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _placed(size: int, placed: Mapping[int, Receipt]) -> list[Receipt]:
    return [placed[index] for index in range(size)]


# --- SMTP -----------------------------------------------------------------------------------


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID of the message with ``idempotency_key``: the same on every resend.

    A hash, so the key's own characters (which a Message-ID may not hold)
    never reach the header, and a receiver that drops duplicates by
    Message-ID drops a resent copy.

    Examples:
        >>> message_id_for("run-7:step-2:email:p1", "shop.example")
        '<dd0accfba2fcc5c7f5ae746e3e290d5c@shop.example>'

    .. versionadded:: 0.1.0
    """
    # 128 bits: collisions are out of reach, and "Message-ID: <32 hex@domain>" stays within
    # the 78 characters a header line should keep to (RFC 5322 section 2.1.1) for domains
    # up to 31 characters, so it is rarely folded.
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def email_message(
    envelope: Envelope,
    *,
    message_id_domain: str | None = None,
    one_click_unsubscribe: bool = False,
    now: dt.datetime | None = None,
) -> EmailMessage:
    """The MIME message the SMTP adapter sends for ``envelope``.

    ``multipart/alternative`` with a text and an HTML part when the content
    has both (the preheader hidden at the top of the HTML), else a single
    part. Headers: From, To, Subject, Date, Message-ID (`message_id_for`,
    in ``message_id_domain``, by default the sender's domain), Reply-To,
    List-Unsubscribe (and List-Unsubscribe-Post with
    ``one_click_unsubscribe``) and X-Omnichannel-Id. A non-ASCII address
    gets the SMTPUTF8 policy (RFC 6532), else headers are RFC 2047-encoded.

    Examples:
        >>> from omnichannel.personalization import RenderedEmail
        >>> e = Envelope(
        ...     id="out-1",
        ...     idempotency_key="k1",
        ...     channel="email",
        ...     to="ann@example.com",
        ...     content=RenderedEmail(
        ...         subject="Hello",
        ...         sender="Shop <news@shop.example>",
        ...         html="<p>Hi</p>",
        ...         text="Hi",
        ...         preheader=None,
        ...         reply_to=None,
        ...     ),
        ...     profile_id="p1",
        ...     message="welcome",
        ...     metadata={"unsubscribe_url": "https://shop.example/u/p1"},
        ... )
        >>> m = email_message(e)
        >>> m.get_content_type(), [p.get_content_type() for p in m.iter_parts()]
        ('multipart/alternative', ['text/plain', 'text/html'])
        >>> m["List-Unsubscribe"], m["X-Omnichannel-Id"]
        ('<https://shop.example/u/p1>', 'out-1')
        >>> m["Message-ID"] == message_id_for("k1", "shop.example")
        True

    .. versionadded:: 0.1.0
    """
    content = envelope.content
    if not isinstance(content, RenderedEmail):
        raise ValidationError.one("$.content", "type", "must be a RenderedEmail")
    html = _html(content)
    if not html and not content.text:
        raise ValidationError.one("$.content", "empty_body", "neither an HTML nor a text body")
    sender = _address(content.sender)
    utf8 = not (envelope.to.isascii() and sender.isascii())
    message = EmailMessage(policy=SMTPUTF8 if utf8 else SMTP)
    message["From"] = content.sender
    message["To"] = envelope.to
    message["Subject"] = content.subject
    message["Date"] = format_datetime(now or dt.datetime.now(dt.timezone.utc))
    domain = message_id_domain or sender.rpartition("@")[2] or "omnichannel.invalid"
    message["Message-ID"] = message_id_for(envelope.idempotency_key, domain)
    if content.reply_to:
        message["Reply-To"] = content.reply_to
    for name, value in _unsubscribe_headers(envelope, one_click_unsubscribe).items():
        message[name] = value
    message["X-Omnichannel-Id"] = envelope.id
    if content.text and html:
        message.set_content(content.text)
        message.add_alternative(html, subtype="html")
    elif html:
        message.set_content(html, subtype="html")
    else:
        message.set_content(content.text or "")
    return message


# An RFC 3463 enhanced status code at the start of a reply's text: class.subject.detail.
_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
# RFC 3463 X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax, X.1.6 moved, X.1.10
# null MX (RFC 7505), X.2.1 mailbox disabled: this address will not take mail.
_BAD_ADDRESS = frozenset({(1, 1), (1, 2), (1, 3), (1, 6), (1, 10), (2, 1)})
# RFC 4954 section 6: 530 auth required, 534 mechanism too weak, 535 credentials invalid,
# 538 encryption required for the mechanism. Nothing is wrong with the message.
_AUTH_REPLIES = frozenset({530, 534, 535, 538})


def classify_smtp_reply(code: int, text: str = "", phase: SmtpPhase = "rcpt") -> Receipt:
    """Classify one SMTP reply (RFC 5321 section 4.2, RFC 3463 enhanced codes).

    - 2xx: ``SENT``.
    - 4xx (421 closing, 450 mailbox busy or greylisted, 451 local error,
      452 insufficient storage or too many recipients): ``RETRY``; the
      server took nothing, whatever the phase.
    - 530, 534, 535, 538 or enhanced 5.7.8 (RFC 4954): ``AUTH``.
    - Any other 5xx while connecting (greeting, EHLO, STARTTLS): ``AUTH``;
      the server refuses us, not the message, until someone fixes that.
    - 5xx with enhanced X.1.1, X.1.2, X.1.3, X.1.6, X.1.10 or X.2.1 at
      ``RCPT`` or after ``DATA``: ``INVALID_ADDRESS``; at ``RCPT`` without
      an enhanced code, 550, 551, 553 and 501 mean the mailbox too.
    - 552 at ``RCPT``: ``RETRY``. RFC 5321 section 4.5.3.1.10 says 552
      there was RFC 821's misnumbered "too many recipients" and clients
      SHOULD treat it as the temporary 452. 552 after ``DATA`` (5.3.4
      message too big, 5.2.2 mailbox full) is ``PERMANENT``: the same
      message would be refused again.
    - Any other 5xx (554 5.7.1 policy or spam, 550 5.7.x ...) and anything
      unexpected: ``PERMANENT``.

    The receipt's ``status`` is the reply code, its ``code`` the enhanced
    code (if any) and its ``detail`` the reply's first line.

    Examples:
        >>> classify_smtp_reply(550, "5.1.1 <bob@example.com>: user unknown").outcome
        <Outcome.INVALID_ADDRESS: 'invalid_address'>
        >>> r = classify_smtp_reply(554, "5.7.1 Message rejected as spam", "data")
        >>> r.outcome, r.status, r.code
        (<Outcome.PERMANENT: 'permanent'>, 554, '5.7.1')
        >>> classify_smtp_reply(552, "5.3.4 Message too big", "data").outcome
        <Outcome.PERMANENT: 'permanent'>
        >>> classify_smtp_reply(552, "Too many recipients", "rcpt").outcome
        <Outcome.RETRY: 'retry'>
        >>> classify_smtp_reply(535, "5.7.8 Authentication failed", "connect").outcome
        <Outcome.AUTH: 'auth'>

    .. versionadded:: 0.1.0
    """
    match = _ENHANCED.match(text)
    enhanced = ".".join(match.groups()) if match else None
    lines = text.strip().splitlines()
    detail = lines[0][:300] if lines else ""

    def receipt(outcome: Outcome) -> Receipt:
        return Receipt(outcome=outcome, status=code, code=enhanced, detail=detail)

    if 200 <= code < 300:
        return Receipt(outcome=Outcome.SENT, status=code, code=enhanced)
    if 400 <= code < 500:
        return receipt(Outcome.RETRY)
    if code in _AUTH_REPLIES or enhanced == "5.7.8":
        return receipt(Outcome.AUTH)
    if 500 <= code < 600 and phase == "connect":
        return receipt(Outcome.AUTH)
    if phase == "rcpt" and code == 552:
        return receipt(Outcome.RETRY)
    if match and phase in ("rcpt", "data"):
        if (int(match.group(2)), int(match.group(3))) in _BAD_ADDRESS:
            return receipt(Outcome.INVALID_ADDRESS)
    elif phase == "rcpt" and code in {501, 550, 551, 553}:
        # RFC 5321 section 4.2.3: mailbox unavailable, user not local, mailbox name not
        # allowed; 501 to RCPT is a syntax error in the address itself.
        return receipt(Outcome.INVALID_ADDRESS)
    return receipt(Outcome.PERMANENT)


def _ssl_cause(error: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _Connection(aiosmtplib.SMTP):
    """aiosmtplib's client that can also abort its connection.

    Closing a TLS connection waits for the peer's close_notify; a connection we
    give up on (a failed login, a dropped or refused transaction) is aborted
    instead, so no socket outlives it waiting for an answer that will not come.
    """

    _last_transport: asyncio.BaseTransport | None = None

    def close(self) -> None:
        if self.transport is not None:
            self._last_transport = self.transport
        super().close()

    def abort(self) -> None:
        self.close()
        last, self._last_transport = self._last_transport, None
        if isinstance(last, asyncio.Transport):
            last.abort()


_State: TypeAlias = Literal["ok", "closed", "stale"]
_STARTTLS = {"required": True, "opportunistic": None, "off": False}


class SmtpAdapter:
    """Send e-mail over SMTP with ``aiosmtplib``, one message per envelope, connections reused.

    Args:
        host: The server (``localhost`` by default).
        port: 465 with implicit TLS, else 587 (message submission, RFC 6409).
        username: Log in with ``AUTH`` (the best mechanism both sides have).
        password: The password.
        starttls: ``"required"`` (fail unless the server upgrades the connection),
            ``"opportunistic"`` (upgrade when the server offers it) or ``"off"``. The
            default is ``"required"`` when a username is given (credentials never go
            out in clear) and ``"opportunistic"`` otherwise; ignored with implicit TLS.
        implicit_tls: Connect over TLS from the start (port 465, RFC 8314).
        tls_context: An ``ssl.SSLContext`` to verify the server with (a private CA,
            a test certificate); by default the system's trust store.
        timeout: Seconds to wait for each reply.
        local_hostname: The name given in ``EHLO`` (by default this host's FQDN).
        mail_from: The envelope sender (``MAIL FROM``, where bounces go), by default the
            address in the content's ``sender``.
        message_id_domain: The domain in generated Message-IDs (by default the
            sender's domain).
        one_click_unsubscribe: Add ``List-Unsubscribe-Post`` (RFC 8058) beside
            ``List-Unsubscribe``.
        max_connections: Connections kept open at most (one per concurrent `send`).

    From a URL: ``smtp://user:password@smtp.example.com:587?starttls=required``;
    ``?tls=implicit`` for implicit TLS (``smtp://user:password@smtp.example.com:465?
    tls=implicit``); other options ``timeout``, ``local_hostname``, ``mail_from``,
    ``message_id_domain``, ``one_click`` and ``max_connections``.

    Replies classify with `classify_smtp_reply`. A refused connection, or a
    connection lost or timed out at ``MAIL FROM`` or ``RCPT TO``, is ``RETRY``;
    lost or timed out once ``DATA`` is under way it is ``RETRY_AMBIGUOUS``:
    after the message's end the server may have queued it (RFC 1047), and the
    few milliseconds before its 354 are not told apart from that. A failed
    TLS handshake or certificate is ``AUTH`` (code ``tls``), as is a server
    lacking STARTTLS or AUTH that the configuration requires (code
    ``config``). Once connecting fails, the rest of the batch gets the same
    receipt without more attempts. A kept connection the server closed while
    idle is noticed at ``MAIL FROM`` and replaced once, transparently. The
    receipt's ``provider_id`` is the Message-ID.

    Examples:
        >>> a = SmtpAdapter.from_url("smtp://ann:s3cret@smtp.example.com?tls=implicit")
        >>> a.host, a.port, a.implicit_tls, a.starttls
        ('smtp.example.com', 465, True, 'off')
        >>> SmtpAdapter("smtp.example.com", username="ann", password="x").starttls
        'required'

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "smtp"
    channel: ClassVar[str] = "email"
    # One message per envelope, in turn, on one connection: servers commonly end a session
    # after about 100 messages (Exchange's default), and a batch is one session.
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=100)

    def __init__(
        self,
        host: object = "localhost",
        port: object = None,
        *,
        username: object = None,
        password: object = None,
        starttls: object = None,
        implicit_tls: object = False,
        tls_context: object = None,
        timeout: object = 30.0,
        local_hostname: object = None,
        mail_from: object = None,
        message_id_domain: object = None,
        one_click_unsubscribe: object = False,
        max_connections: object = 1,
    ) -> None:
        if not isinstance(host, str) or not host or any(c in host for c in " /@"):
            raise ValidationError.one("$.host", "invalid", "must be a host name or address")
        self.implicit_tls = _bool_option(implicit_tls, "$.implicit_tls")
        if port is None:
            port = 465 if self.implicit_tls else 587
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ValidationError.one("$.port", "invalid", "must be a port number (1-65535)")
        user = _optional_str(username, "$.username")
        secret = _optional_str(password, "$.password")
        if secret is not None and user is None:
            raise ValidationError.one("$.username", "required", "a password needs a username")
        if starttls is None:
            starttls = "off" if self.implicit_tls else "required" if user else "opportunistic"
        if starttls not in _STARTTLS:
            raise ValidationError.one(
                "$.starttls", "invalid", "must be 'required', 'opportunistic' or 'off'"
            )
        if self.implicit_tls and starttls != "off":
            if starttls == "required":
                raise ValidationError.one(
                    "$.starttls", "conflict", "implicit TLS and STARTTLS exclude each other"
                )
            starttls = "off"
        if tls_context is not None and not isinstance(tls_context, ssl.SSLContext):
            raise ValidationError.one("$.tls_context", "type", "must be an ssl.SSLContext")
        if isinstance(timeout, str):
            try:
                timeout = float(timeout)
            except ValueError:
                raise ValidationError.one("$.timeout", "invalid", "must be seconds") from None
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise ValidationError.one("$.timeout", "invalid", "must be a positive number")
        ehlo_name = _optional_str(local_hostname, "$.local_hostname", _is_host, "a host name")
        id_domain = _optional_str(message_id_domain, "$.message_id_domain", _is_host, "a domain")
        bounce_to = _optional_str(
            mail_from, "$.mail_from", lambda v: _address_problem(v) is None, "an e-mail address"
        )
        if isinstance(max_connections, str) and max_connections.isdigit():
            max_connections = int(max_connections)
        if (
            not isinstance(max_connections, int)
            or isinstance(max_connections, bool)
            or max_connections < 1
        ):
            raise ValidationError.one("$.max_connections", "invalid", "must be at least 1")
        self.host = host
        self.port = port
        self.username = user
        self.password = secret
        self.starttls: str = str(starttls)
        self.tls_context: ssl.SSLContext | None = tls_context
        self.timeout = float(timeout)
        self.local_hostname = ehlo_name
        self.mail_from = bounce_to
        self.message_id_domain = id_domain
        self.one_click_unsubscribe = _bool_option(one_click_unsubscribe, "$.one_click_unsubscribe")
        self.max_connections = max_connections
        # Idle connections and the bound on open ones belong to the event loop they were
        # made in; a send from another loop starts afresh.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[_Connection] = []

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SmtpAdapter:
        """Build from ``smtp://user:password@host:port?starttls=required`` (see the class)."""
        parts = parse_adapter_url(url, "smtp")
        found = _url_options(
            parts,
            {
                "starttls": "starttls",
                "tls": "tls",
                "timeout": "timeout",
                "local_hostname": "local_hostname",
                "mail_from": "mail_from",
                "message_id_domain": "message_id_domain",
                "one_click": "one_click_unsubscribe",
                "max_connections": "max_connections",
            },
            options,
        )
        tls = found.pop("tls", None)
        if tls is not None:
            if tls not in {"implicit", "starttls"}:
                raise ValidationError.one(
                    "$.url", "invalid", "tls must be 'implicit' or 'starttls'"
                )
            found.setdefault("implicit_tls", tls == "implicit")
        return cls(
            parts.require("host"),
            parts.port,
            username=parts.username or None,
            password=parts.password,
            **found,
        )

    def _client(self) -> _Connection:
        return _Connection(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.implicit_tls,
            start_tls=_STARTTLS[self.starttls],
            tls_context=self.tls_context,
            timeout=self.timeout,
            local_hostname=self.local_hostname,
        )

    async def _connect(self) -> _Connection | Receipt:
        """A connected (and, if configured, upgraded and logged in) client, or why not."""
        client = self._client()
        try:
            await client.connect()
            if client.is_ehlo_or_helo_needed:
                # Learn the extensions (SMTPUTF8) before the first message; connect()
                # says EHLO only when it upgraded or logged in.
                await _hello(client)
        except aiosmtplib.SMTPResponseException as error:
            # A greeting other than 220, a refused EHLO or STARTTLS, a failed AUTH.
            client.abort()
            return classify_smtp_reply(error.code, error.message, "connect")
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as error:
            client.abort()
            detail = f"{type(error).__name__}: {error}"
            if _ssl_cause(error) is not None:
                return Receipt(outcome=Outcome.AUTH, code="tls", detail=detail)
            if isinstance(
                error,
                (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError, TimeoutError),
            ):
                return Receipt(outcome=Outcome.RETRY, code="connect", detail=detail)
            # STARTTLS required but not offered, AUTH configured but not offered.
            return Receipt(outcome=Outcome.AUTH, code="config", detail=detail)
        except BaseException:
            client.abort()  # cancelled while connecting
            raise
        return client

    def _slots_here(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            for stale in self._idle:
                _close_quietly(stale)
            self._idle = []
            self._loop = loop
            self._slots = asyncio.Semaphore(self.max_connections)
        return self._slots

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Send each envelope as one message, in turn, on one connection; a receipt each."""
        items = _checked_batch(batch, self.capabilities.max_batch)
        if not items:
            return []
        receipts: list[Receipt] = []
        async with self._slots_here():
            connection = self._idle.pop() if self._idle else None
            refused: Receipt | None = None
            for envelope, content in items:
                early = _local_receipt(envelope, content) or refused
                if early is None:
                    early, connection, refused = await self._deliver(connection, envelope, content)
                receipts.append(early)
            if connection is not None and connection.is_connected:
                self._idle.append(connection)
        return receipts

    async def _deliver(
        self, connection: _Connection | None, envelope: Envelope, content: RenderedEmail
    ) -> tuple[Receipt, _Connection | None, Receipt | None]:
        """Send one message; its receipt, the connection to go on with, and a refusal.

        The refusal is the receipt for the rest of the batch when connecting failed.
        """
        try:
            if connection is None or not connection.is_connected:
                made = await self._connect()
                if isinstance(made, Receipt):
                    return made, None, made
                connection = made
            receipt, state = await self._transact(connection, envelope, content)
            if state == "stale":
                # A kept connection found dead at MAIL FROM: nothing of this message was
                # sent, so one new connection gets one more try.
                connection.abort()
                made = await self._connect()
                if isinstance(made, Receipt):
                    return made, None, made
                connection = made
                receipt, state = await self._transact(connection, envelope, content)
        except BaseException:
            # Cancelled (or a bug) mid-transaction: the connection is in an unknown state.
            if connection is not None:
                connection.abort()
            raise
        if state != "ok":
            connection.abort()
            return receipt, None, None
        return receipt, connection, None

    async def _transact(
        self, connection: _Connection, envelope: Envelope, content: RenderedEmail
    ) -> tuple[Receipt, _State]:
        """One message: MAIL, RCPT, DATA; the receipt and what became of the connection."""
        mail_from = self.mail_from or _address(content.sender)
        options: list[str] = []
        encoding = "ascii"
        if not (mail_from.isascii() and envelope.to.isascii()):
            if not connection.supports_extension("smtputf8"):
                return Receipt(
                    outcome=Outcome.PERMANENT,
                    code="smtputf8",
                    detail="a non-ASCII address needs SMTPUTF8, which the server lacks",
                ), "ok"
            options, encoding = ["SMTPUTF8"], "utf-8"
        try:
            message = email_message(
                envelope,
                message_id_domain=self.message_id_domain,
                one_click_unsubscribe=self.one_click_unsubscribe,
            )
            data = message.as_bytes()
        except ValueError as error:
            # A header the content cannot make (a line break in a reply-to ...): the same
            # content fails the same way every time.
            return Receipt(outcome=Outcome.PERMANENT, code="mime", detail=str(error)), "ok"
        lost = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)
        try:
            await connection.mail(mail_from, options=options, encoding=encoding)
        except aiosmtplib.SMTPResponseException as error:
            receipt = classify_smtp_reply(error.code, error.message, "mail")
            # 421 to the first command is how an idle connection's timeout shows (Postfix
            # answers "421 4.4.2 timeout exceeded"): a new connection may well succeed.
            if error.code == 421:
                return receipt, "stale"
            return receipt, await self._reset(connection)
        except lost as error:
            return _lost(error, Outcome.RETRY), "stale"
        try:
            await connection.rcpt(envelope.to, encoding=encoding)
        except aiosmtplib.SMTPResponseException as error:
            receipt = classify_smtp_reply(error.code, error.message, "rcpt")
            if error.code == 421:
                return receipt, "closed"
            return receipt, await self._reset(connection)
        except lost as error:
            return _lost(error, Outcome.RETRY), "closed"
        try:
            reply = await connection.data(data)
        except aiosmtplib.SMTPResponseException as error:
            receipt = classify_smtp_reply(error.code, error.message, "data")
            if error.code == 421:
                return receipt, "closed"
            return receipt, await self._reset(connection)
        except lost as error:
            # The message may have been queued before the connection broke: the window
            # RFC 1047 describes. Conservatively, so is a break before the 354.
            return _lost(error, Outcome.RETRY_AMBIGUOUS), "closed"
        return Receipt.sent(str(message["Message-ID"]), status=reply.code), "ok"

    @staticmethod
    async def _reset(connection: _Connection) -> _State:
        """RSET after a refused command, so the next message starts a clean transaction."""
        try:
            await connection.rset()
        except (aiosmtplib.SMTPException, OSError):
            return "closed"
        return "ok"

    async def aclose(self) -> None:
        """Say QUIT on every kept connection (idempotent)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            await _quit_quietly(connection)


async def _hello(connection: _Connection) -> None:
    try:
        await connection.ehlo()
    except aiosmtplib.SMTPHeloError:
        # An RFC 821 server knows only HELO (RFC 5321 section 3.2).
        await connection.helo()


def _close_quietly(connection: _Connection) -> None:
    # A connection made in an event loop that has since closed cannot be closed any more;
    # there is nothing left to release.
    with contextlib.suppress(RuntimeError):
        connection.abort()


async def _quit_quietly(connection: _Connection) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, RuntimeError):
        await connection.quit()
    # After QUIT's 221 nothing more is said: release the socket now rather than wait for
    # TLS's close_notify exchange, which an event loop about to stop would never finish.
    _close_quietly(connection)


def _lost(error: BaseException, outcome: Outcome) -> Receipt:
    code = "timeout" if isinstance(error, aiosmtplib.SMTPTimeoutError) else "disconnected"
    return Receipt(outcome=outcome, code=code, detail=f"{type(error).__name__}: {error}")


# --- SendGrid -------------------------------------------------------------------------------

# https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send (responses) and
# https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors: 202 accepted; 400 a
# validation error (every error is a 400, its "field" naming the part); 401 and 403 the key
# or the sender identity; 413 too large; 429 rate-limited (X-RateLimit-Reset, a Unix time);
# 500 "an error occurred on a SendGrid server" (may have been queued); 503 not available.
_SENDGRID = HttpStatusMap()
# "personalizations.3.to.0.email": the address of the fourth personalization.
_SENDGRID_ADDRESS_FIELD = re.compile(r"^personalizations\.(\d+)\.to(?:\.\d+(?:\.email)?)?$")


class SendGridAdapter(HttpAdapterBase):
    """Send through SendGrid's v3 Mail Send API (``POST /v3/mail/send``).

    Args:
        api_key: The API key (``SG....``), sent as a bearer token.
        api_base: The API's base URL (``https://api.eu.sendgrid.com`` for EU
            regional subusers, a local server in tests).
        sandbox: Turn on ``mail_settings.sandbox_mode``: SendGrid validates and
            answers 200 without delivering.
        one_click_unsubscribe: Add ``List-Unsubscribe-Post`` (RFC 8058).

    From a URL: ``sendgrid://:KEY@api.sendgrid.com`` (the host may be left
    out: ``sendgrid://:KEY@``); options ``sandbox``, ``one_click`` and
    ``api_base``.

    Envelopes with identical content go in one request, one personalization
    each (at most 1,000, SendGrid's limit), carrying ``custom_args``
    ``omnichannel_id`` and ``omnichannel_key`` (echoed in Event Webhook
    events) and their own List-Unsubscribe header. Every envelope of a
    request gets its ``X-Message-Id`` as provider id: SendGrid's per-message
    ``sg_message_id`` in events starts with it.

    Outcomes: 2xx ``SENT``; a 400 whose errors all name personalizations'
    addresses makes those ``INVALID_ADDRESS`` and sends the others again
    once without them; any other 400, and 413, ``PERMANENT`` (code: the
    error's field); 401/403 ``AUTH``; 429 ``RETRY`` after
    ``X-RateLimit-Reset``; 503 ``RETRY``; 500 and other 5xx
    ``RETRY_AMBIGUOUS``.

    Examples:
        >>> a = SendGridAdapter.from_url("sendgrid://:SG.abc@api.sendgrid.com?sandbox=true")
        >>> a.api_base, a.sandbox
        ('https://api.sendgrid.com', True)

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "sendgrid"
    channel: ClassVar[str] = "email"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=1000, max_payload_bytes=30 * 1024 * 1024
    )

    def __init__(
        self,
        api_key: object,
        *,
        api_base: object = "https://api.sendgrid.com",
        sandbox: object = False,
        one_click_unsubscribe: object = False,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        self.api_key = _secret(api_key, "$.api_key", "a SendGrid API key")
        self.api_base = base_url(api_base)
        self.sandbox = _bool_option(sandbox, "$.sandbox")
        self.one_click_unsubscribe = _bool_option(one_click_unsubscribe, "$.one_click_unsubscribe")
        super().__init__(client=client, transport=transport, max_connections=max_connections)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SendGridAdapter:
        """Build from ``sendgrid://:KEY@api.sendgrid.com?sandbox=true`` (see the class)."""
        parts = parse_adapter_url(url, "sendgrid")
        found = _url_options(
            parts,
            {"sandbox": "sandbox", "one_click": "one_click_unsubscribe", "api_base": "api_base"},
            options,
        )
        found.setdefault("api_base", _host_base(parts, "api.sendgrid.com"))
        key = parts.password or parts.username
        if not key:
            raise ValidationError.one("$.url", "required", "the URL needs the API key: :KEY@")
        return cls(key, **found)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Send the batch, one request per group of identical content; a receipt each."""
        items = _checked_batch(batch, self.capabilities.max_batch)
        placed: dict[int, Receipt] = {}
        pending: Indexed = []
        for index, (envelope, content) in enumerate(items):
            local = _local_receipt(envelope, content)
            if local is None:
                pending.append((index, envelope, content))
            else:
                placed[index] = local
        for group in _groups(pending, lambda _e, c: _content_key(c), 1000):
            placed.update(await self._post(group, retry_rest=True))
        return _placed(len(items), placed)

    def _body(self, group: Indexed) -> dict[str, Any]:
        content = group[0][2]
        personalizations = []
        for _, envelope, _content in group:
            personalization: dict[str, Any] = {
                "to": [{"email": envelope.to}],
                "custom_args": _tracking(envelope),
            }
            headers = _unsubscribe_headers(envelope, self.one_click_unsubscribe)
            if headers:
                personalization["headers"] = headers
            personalizations.append(personalization)
        name, address = _name_and_address(content.sender)
        body: dict[str, Any] = {
            "personalizations": personalizations,
            "from": {"email": address, **({"name": name} if name else {})},
            "subject": content.subject,
            # SendGrid requires text/plain before text/html.
            "content": [
                {"type": kind, "value": value}
                for kind, value in (("text/plain", content.text), ("text/html", _html(content)))
                if value
            ],
        }
        if content.reply_to:
            reply_name, reply_address = _name_and_address(content.reply_to)
            body["reply_to"] = {
                "email": reply_address,
                **({"name": reply_name} if reply_name else {}),
            }
        if self.sandbox:
            body["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return body

    async def _post(self, group: Indexed, *, retry_rest: bool) -> dict[int, Receipt]:
        try:
            response = await self.client.post(
                f"{self.api_base}/v3/mail/send",
                json=self._body(group),
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
        except httpx.HTTPError as error:
            failed = failure_receipt(error)
            return {index: failed for index, _, _ in group}
        status = response.status_code
        if 200 <= status < 300:
            sent = Receipt.sent(response.headers.get("x-message-id"), status=status)
            return {index: sent for index, _, _ in group}
        errors = _sendgrid_errors(response)
        if status == 400 and errors:
            bad = _sendgrid_bad_addresses(errors, len(group))
            if bad:
                placed = {
                    group[position][0]: Receipt(
                        outcome=Outcome.INVALID_ADDRESS,
                        status=400,
                        code=field,
                        detail=message,
                    )
                    for position, (field, message) in bad.items()
                }
                rest = [item for position, item in enumerate(group) if position not in bad]
                if rest and retry_rest:
                    placed.update(await self._post(rest, retry_rest=False))
                else:
                    for index, _, _ in rest:
                        placed[index] = Receipt(
                            outcome=Outcome.RETRY,
                            status=400,
                            detail="rejected with another recipient's bad address",
                        )
                return placed
        field, message = errors[0] if errors else (None, "")
        failed = _SENDGRID.receipt(response, code=field, detail=message)
        return {index: failed for index, _, _ in group}


def _sendgrid_errors(response: httpx.Response) -> list[tuple[str | None, str]]:
    answer = _json_body(response)
    found = answer.get("errors") if isinstance(answer, dict) else None
    if not isinstance(found, list):
        return []
    return [
        (
            str(error["field"]) if isinstance(error.get("field"), str) else None,
            str(error.get("message") or ""),
        )
        for error in found
        if isinstance(error, dict)
    ]


def _sendgrid_bad_addresses(
    errors: list[tuple[str | None, str]], size: int
) -> dict[int, tuple[str, str]]:
    """Positions whose address SendGrid refused, if every error is such; else empty."""
    bad: dict[int, tuple[str, str]] = {}
    for field, message in errors:
        match = _SENDGRID_ADDRESS_FIELD.match(field or "")
        if match is None or int(match.group(1)) >= size or "address" not in message.lower():
            return {}
        bad[int(match.group(1))] = (field or "", message)
    return bad


# --- Postmark -------------------------------------------------------------------------------

# https://postmarkapp.com/developer/api/overview#error-codes (API error codes, the "ErrorCode"
# of the JSON answer; HTTP 422 carries them, 401 a bad token, 429 the rate limit, 500 an
# internal error) and https://postmarkapp.com/developer/user-guide/send-email-with-api/
# batch-emails ("the results are ordered the same as the original messages").
_POSTMARK = HttpStatusMap()
_POSTMARK_CODES: Mapping[int, Outcome] = {
    0: Outcome.SENT,
    10: Outcome.AUTH,  # bad or missing server token
    100: Outcome.RETRY,  # maintenance
    405: Outcome.AUTH,  # not allowed to send: the account ran out of credits
    406: Outcome.OPTED_OUT,  # inactive recipient: hard bounce, spam complaint or suppression
    413: Outcome.AUTH,  # account may not send: sending is disabled for the account
    429: Outcome.RETRY,  # rate limit exceeded
}
# Metadata values are at most 80 characters (Postmark's "Sending email with metadata").
_POSTMARK_METADATA_CHARS = 80


def _postmark_receipt(answer: object, status: int, response: httpx.Response | None) -> Receipt:
    """One message's receipt from its ErrorCode (and the HTTP status when there is none)."""
    error_code = answer.get("ErrorCode") if isinstance(answer, dict) else None
    message = str(answer.get("Message") or "") if isinstance(answer, dict) else ""
    if not isinstance(error_code, int) or isinstance(error_code, bool):
        if response is not None:
            return _POSTMARK.receipt(response)
        return Receipt(outcome=Outcome.RETRY_AMBIGUOUS, status=status, detail="no ErrorCode")
    if error_code == 0 and 200 <= status < 300:
        provider_id = answer.get("MessageID") if isinstance(answer, dict) else None
        return Receipt.sent(str(provider_id) if provider_id else None, status=status)
    outcome = _POSTMARK_CODES.get(error_code)
    if error_code == 300:
        # 300 "Invalid email request" covers any invalid field (no body, a bad From, over 50
        # recipients): only a message naming 'To' says the recipient's address is bad.
        outcome = Outcome.INVALID_ADDRESS if "'to'" in message.lower() else Outcome.PERMANENT
    if outcome is None or outcome is Outcome.SENT:
        # A code the table does not name (or 0 beside a failing status): the HTTP status
        # decides; an error inside a batch's 200 answer is that message's own, and final.
        outcome = _POSTMARK.classify(status) if status >= 300 else Outcome.PERMANENT
    wait = None
    if outcome.retryable and response is not None:
        wait = retry_after_seconds(response.headers)
    return Receipt(
        outcome=outcome, status=status, code=str(error_code), detail=message, retry_after=wait
    )


def _postmark_metadata(value: str) -> str:
    if len(value) <= _POSTMARK_METADATA_CHARS:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


class PostmarkAdapter(HttpAdapterBase):
    """Send through Postmark's API (``POST /email``, ``POST /email/batch``).

    Args:
        server_token: The server's API token (``X-Postmark-Server-Token``).
        api_base: The API's base URL (a local server in tests).
        message_stream: The message stream (``outbound`` when not given;
            ``broadcast`` or your own for marketing mail).
        one_click_unsubscribe: Add ``List-Unsubscribe-Post`` (RFC 8058).

    From a URL: ``postmark://:TOKEN@api.postmarkapp.com?message_stream=broadcast``
    (the host may be left out); options ``message_stream``, ``one_click`` and
    ``api_base``.

    One envelope goes to ``/email``, more to ``/email/batch`` (at most 500),
    each message with ``Metadata`` ``omnichannel_id`` and ``omnichannel_key``
    (echoed in webhooks; a value over Postmark's 80 characters is sent as
    ``sha256:`` and its hex digest). The provider id is the ``MessageID``.

    Outcomes, from each message's ``ErrorCode``: 0 ``SENT``; 300 (invalid
    request) ``INVALID_ADDRESS`` when its message names the ``'To'`` field,
    else ``PERMANENT``; 406 (inactive recipient) ``OPTED_OUT``; 10 (bad
    token), 405 (out of credits) and 413 (account may not send) ``AUTH``;
    100 (maintenance) and 429 ``RETRY``; other codes ``PERMANENT``. Without
    an ErrorCode the HTTP status decides (401 ``AUTH``, 429/503 ``RETRY``
    after ``Retry-After``, 500 ``RETRY_AMBIGUOUS``).

    Examples:
        >>> a = PostmarkAdapter.from_url("postmark://:tok@api.postmarkapp.com?message_stream=news")
        >>> a.api_base, a.message_stream
        ('https://api.postmarkapp.com', 'news')

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "postmark"
    channel: ClassVar[str] = "email"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=500, max_payload_bytes=50 * 1024 * 1024
    )

    def __init__(
        self,
        server_token: object,
        *,
        api_base: object = "https://api.postmarkapp.com",
        message_stream: object = None,
        one_click_unsubscribe: object = False,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        self.server_token = _secret(server_token, "$.server_token", "a Postmark server token")
        self.api_base = base_url(api_base)
        if message_stream is not None and (
            not isinstance(message_stream, str) or not message_stream
        ):
            raise ValidationError.one("$.message_stream", "invalid", "must be a stream id")
        self.message_stream: str | None = message_stream
        self.one_click_unsubscribe = _bool_option(one_click_unsubscribe, "$.one_click_unsubscribe")
        super().__init__(client=client, transport=transport, max_connections=max_connections)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostmarkAdapter:
        """Build from ``postmark://:TOKEN@api.postmarkapp.com`` (see the class)."""
        parts = parse_adapter_url(url, "postmark")
        found = _url_options(
            parts,
            {
                "message_stream": "message_stream",
                "one_click": "one_click_unsubscribe",
                "api_base": "api_base",
            },
            options,
        )
        found.setdefault("api_base", _host_base(parts, "api.postmarkapp.com"))
        token = parts.password or parts.username
        if not token:
            raise ValidationError.one("$.url", "required", "the URL needs the token: :TOKEN@")
        return cls(token, **found)

    def _message(self, envelope: Envelope, content: RenderedEmail) -> dict[str, Any]:
        message: dict[str, Any] = {
            "From": content.sender,
            "To": envelope.to,
            "Subject": content.subject,
            "Metadata": {k: _postmark_metadata(v) for k, v in _tracking(envelope).items()},
        }
        html = _html(content)
        if html:
            message["HtmlBody"] = html
        if content.text:
            message["TextBody"] = content.text
        if content.reply_to:
            message["ReplyTo"] = content.reply_to
        headers = _unsubscribe_headers(envelope, self.one_click_unsubscribe)
        if headers:
            message["Headers"] = [{"Name": k, "Value": v} for k, v in headers.items()]
        if self.message_stream:
            message["MessageStream"] = self.message_stream
        return message

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Send the batch in one request (``/email`` for one message); a receipt each."""
        items = _checked_batch(batch, self.capabilities.max_batch)
        placed: dict[int, Receipt] = {}
        pending: Indexed = []
        for index, (envelope, content) in enumerate(items):
            local = _local_receipt(envelope, content)
            if local is None:
                pending.append((index, envelope, content))
            else:
                placed[index] = local
        if pending:
            placed.update(await self._post(pending))
        return _placed(len(items), placed)

    async def _post(self, group: Indexed) -> dict[int, Receipt]:
        single = len(group) == 1
        body: Any = (
            self._message(group[0][1], group[0][2])
            if single
            else [self._message(envelope, content) for _, envelope, content in group]
        )
        try:
            response = await self.client.post(
                f"{self.api_base}/email" + ("" if single else "/batch"),
                json=body,
                headers={
                    "X-Postmark-Server-Token": self.server_token,
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as error:
            failed = failure_receipt(error)
            return {index: failed for index, _, _ in group}
        answer = _json_body(response)
        status = response.status_code
        if single:
            return {group[0][0]: _postmark_receipt(answer, status, response)}
        if status == 200 and isinstance(answer, list) and len(answer) == len(group):
            return {
                index: _postmark_receipt(result, status, None)
                for (index, _, _), result in zip(group, answer, strict=True)
            }
        if status == 200:
            # Accepted, but the answer does not say which message fared how.
            unclear = Receipt(
                outcome=Outcome.RETRY_AMBIGUOUS, status=status, detail="unreadable batch answer"
            )
            return {index: unclear for index, _, _ in group}
        failed = _postmark_receipt(answer, status, response)
        return {index: failed for index, _, _ in group}


# --- Mailgun --------------------------------------------------------------------------------

# https://documentation.mailgun.com/docs/mailgun/api-reference/ (status codes): 200 queued;
# 400 bad request (a missing or invalid parameter, in "message"); 401 no valid API key; 402
# request failed; 403 forbidden; 404 not found (an unknown domain); 413 too large; 429 too
# many requests; 500, 502, 503, 504 server errors.
_MAILGUN = HttpStatusMap(auth=frozenset({401, 403, 404}))
_MAILGUN_REGIONS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
# Batch sending: "up to 1,000 recipients per API call" with recipient-variables, which make
# Mailgun send every recipient their own message (documentation "Batch Sending").
_MAILGUN_BATCH = 1000
_UNSUBSCRIBE_VARIABLE = "list_unsubscribe"


def _mailgun_mentions_to(message: str) -> bool:
    lowered = message.lower()
    return "'to'" in lowered or "to parameter" in lowered


class MailgunAdapter(HttpAdapterBase):
    """Send through Mailgun's Messages API (``POST /v3/{domain}/messages``, form-encoded).

    Args:
        api_key: The private API key (HTTP basic auth as ``api:KEY``).
        domain: The sending domain (``mg.example.com``).
        region: ``"us"`` (``https://api.mailgun.net``) or ``"eu"``
            (``https://api.eu.mailgun.net``).
        api_base: The API's base URL, overriding ``region`` (a local server in tests).
        test_mode: Send ``o:testmode=yes``: Mailgun accepts and does not deliver.
        one_click_unsubscribe: Add ``List-Unsubscribe-Post`` (RFC 8058).

    From a URL: ``mailgun://api:KEY@mg.example.com?region=eu`` (the host is the
    sending domain); options ``region``, ``test_mode``, ``one_click`` and
    ``api_base``.

    Envelopes with identical content go in one request (at most 1,000) with
    ``recipient-variables``, so each recipient gets their own message;
    ``v:omnichannel_id`` and ``v:omnichannel_key`` (``user-variables`` in
    webhooks) and the List-Unsubscribe header take each recipient's value
    through ``%recipient.…%``. Every envelope of a request gets its ``id``
    (without angle brackets, as webhooks show ``message-id``).

    Outcomes: 200 ``SENT``; a 400 about the recipients of a batch sends each
    envelope alone to find the bad address; a 400 about the only recipient
    ``INVALID_ADDRESS``; other 400s, 402 and 413 ``PERMANENT``; 401, 403 and
    404 (unknown domain: the configuration) ``AUTH``; 429 and 503 ``RETRY``
    after ``Retry-After``; 500, 502, 504 ``RETRY_AMBIGUOUS``.

    Examples:
        >>> a = MailgunAdapter.from_url("mailgun://api:key-1@mg.example.com?region=eu")
        >>> a.domain, a.api_base
        ('mg.example.com', 'https://api.eu.mailgun.net')

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "mailgun"
    channel: ClassVar[str] = "email"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=_MAILGUN_BATCH, max_payload_bytes=25 * 1024 * 1024
    )

    def __init__(
        self,
        api_key: object,
        domain: object,
        *,
        region: object = "us",
        api_base: object = None,
        test_mode: object = False,
        one_click_unsubscribe: object = False,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        self.api_key = _secret(api_key, "$.api_key", "a Mailgun API key")
        if not isinstance(domain, str) or not _is_host(domain):
            raise ValidationError.one("$.domain", "invalid", "must be the sending domain")
        if region not in _MAILGUN_REGIONS:
            raise ValidationError.one("$.region", "invalid", "must be 'us' or 'eu'")
        self.domain = domain
        self.region: str = str(region)
        self.api_base = (
            base_url(api_base) if api_base is not None else _MAILGUN_REGIONS[self.region]
        )
        self.test_mode = _bool_option(test_mode, "$.test_mode")
        self.one_click_unsubscribe = _bool_option(one_click_unsubscribe, "$.one_click_unsubscribe")
        super().__init__(client=client, transport=transport, max_connections=max_connections)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MailgunAdapter:
        """Build from ``mailgun://api:KEY@mg.example.com?region=eu`` (see the class)."""
        parts = parse_adapter_url(url, "mailgun")
        found = _url_options(
            parts,
            {
                "region": "region",
                "test_mode": "test_mode",
                "one_click": "one_click_unsubscribe",
                "api_base": "api_base",
            },
            options,
        )
        if not parts.password:
            raise ValidationError.one("$.url", "required", "the URL needs the key: api:KEY@")
        return cls(parts.password, parts.require("host"), **found)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Send the batch, one request per group of identical content; a receipt each."""
        items = _checked_batch(batch, self.capabilities.max_batch)
        placed: dict[int, Receipt] = {}
        pending: Indexed = []
        for index, (envelope, content) in enumerate(items):
            local = _local_receipt(envelope, content)
            if local is None:
                pending.append((index, envelope, content))
            else:
                placed[index] = local
        # A List-Unsubscribe header is per recipient or absent: never an empty header.
        for group in _groups(
            pending,
            lambda e, c: (_content_key(c), "unsubscribe_url" in e.metadata),
            _MAILGUN_BATCH,
        ):
            placed.update(await self._post(group))
        return _placed(len(items), placed)

    def _form(self, group: Indexed) -> dict[str, Any]:
        content = group[0][2]
        variables: dict[str, dict[str, str]] = {}
        for _, envelope, _content in group:
            own = _tracking(envelope)
            url = envelope.metadata.get("unsubscribe_url")
            if url:
                own[_UNSUBSCRIBE_VARIABLE] = f"<{url}>"
            variables[envelope.to] = own
        form: dict[str, Any] = {
            "from": content.sender,
            "to": [envelope.to for _, envelope, _ in group],
            "subject": content.subject,
            "recipient-variables": json.dumps(variables, separators=(",", ":")),
            f"v:{ID_FIELD}": f"%recipient.{ID_FIELD}%",
            f"v:{KEY_FIELD}": f"%recipient.{KEY_FIELD}%",
        }
        html = _html(content)
        if content.text:
            form["text"] = content.text
        if html:
            form["html"] = html
        if content.reply_to:
            form["h:Reply-To"] = content.reply_to
        if "unsubscribe_url" in group[0][1].metadata:
            form["h:List-Unsubscribe"] = f"%recipient.{_UNSUBSCRIBE_VARIABLE}%"
            if self.one_click_unsubscribe:
                form["h:List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if self.test_mode:
            form["o:testmode"] = "yes"
        return form

    async def _post(self, group: Indexed) -> dict[int, Receipt]:
        try:
            response = await self.client.post(
                f"{self.api_base}/v3/{self.domain}/messages",
                data=self._form(group),
                auth=("api", self.api_key),
            )
        except httpx.HTTPError as error:
            failed = failure_receipt(error)
            return {index: failed for index, _, _ in group}
        answer = _json_body(response)
        message = str(answer.get("message") or "") if isinstance(answer, dict) else ""
        status = response.status_code
        if 200 <= status < 300:
            found = answer.get("id") if isinstance(answer, dict) else None
            sent = Receipt.sent(str(found).strip("<>") if found else None, status=status)
            return {index: sent for index, _, _ in group}
        if status == 400 and _mailgun_mentions_to(message):
            if len(group) > 1:
                # One bad address refuses the whole request, and the answer does not say
                # which: halve the request until the bad ones stand alone (k bad addresses
                # among n cost about 2k log2(n) requests, not n).
                half = len(group) // 2
                placed = await self._post(group[:half])
                placed.update(await self._post(group[half:]))
                return placed
            if len(group) == 1:
                return {
                    group[0][0]: Receipt(
                        outcome=Outcome.INVALID_ADDRESS, status=400, detail=message
                    )
                }
        failed = _MAILGUN.receipt(response, detail=message)
        return {index: failed for index, _, _ in group}
