"""Twilio SMS: the Messages API adapter, inbound STOP/START keywords, webhook signatures.

Sending is one form-encoded ``POST {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json``
per message (To, From and/or MessagingServiceSid, Body, StatusCallback),
with HTTP basic auth (the account SID, or an API key, and its secret).

Replies come back through the host's inbound-message webhook. `inbound_keyword`
reads that form and, for an opt-out or opt-in keyword, builds the Segment
track event (``Consent Revoked`` / ``Consent Granted`` for ``sms``) that the
engine ingests to change the person's consent. `verify_signature` checks the
``X-Twilio-Signature`` header first, so nobody else can opt a number out.

Examples:
    >>> import pendulum
    >>> reply = inbound_keyword(
    ...     {"From": "+14155550134", "To": "+14155550100", "Body": " Stop. ", "MessageSid": "SM1"},
    ...     at=pendulum.datetime(2024, 3, 5, 10, 2),
    ... )
    >>> reply.kind, reply.keyword, reply.event["event"], reply.event["properties"]["channel"]
    (<KeywordKind.OPT_OUT: 'opt_out'>, 'stop', 'Consent Revoked', 'sms')

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import httpx
import pendulum

from omnichannel._time import to_utc
from omnichannel.channels._adapter import Capabilities, Envelope, Outcome, Receipt
from omnichannel.channels._http import (
    HttpAdapterBase,
    HttpStatusMap,
    failure_receipt,
    json_object,
    retry_after_seconds,
)
from omnichannel.channels._url import parse_adapter_url
from omnichannel.errors import ValidationError
from omnichannel.models import Consent, Identity
from omnichannel.personalization import RenderedSms
from omnichannel.typing import JSONValue

__all__ = [
    "API_BASE",
    "DEFAULT_KEYWORDS",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "InboundKeyword",
    "KeywordKind",
    "Keywords",
    "TwilioAdapter",
    "inbound_keyword",
    "normalize_keyword",
    "sign",
    "verify_signature",
]

#: Twilio's REST API host (the default region and edge).
API_BASE = "https://api.twilio.com"
#: The header Twilio signs its webhooks with.
SIGNATURE_HEADER = "X-Twilio-Signature"
#: The header the adapter sends the envelope's idempotency key in (see `TwilioAdapter`).
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_API_KEY_SID = re.compile(r"SK[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# A sender is an E.164 number, a short code, or an alphanumeric sender id (<= 11 characters,
# at least one letter), per Twilio's Message resource docs for the From parameter.
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
_ALPHANUMERIC = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_REGION = re.compile(r"[a-z0-9]{1,32}")

# Twilio's error dictionary (https://www.twilio.com/docs/api/errors/<code>). Codes not listed
# fall back to the HTTP status (HttpStatusMap), so a 4xx we do not know stays permanent.
_BY_CODE: Mapping[str, Outcome] = {
    # 21610: "Attempt to send to unsubscribed recipient": the number replied STOP to this
    # sender (or Messaging Service); Twilio blocks every message until it replies START.
    "21610": Outcome.OPTED_OUT,
    # 21211: "Invalid 'To' Phone Number": not a possible number for its country.
    "21211": Outcome.INVALID_ADDRESS,
    # 21614: "'To' number is not a valid mobile number": a landline or other line that
    # cannot receive SMS, whatever the sender.
    "21614": Outcome.INVALID_ADDRESS,
    # 21612 (the To and From combination cannot be connected) and 21408 (Geo Permissions
    # disabled for the destination region) are about our sender or account settings:
    # the address may be fine, so they stay PERMANENT.
    "21612": Outcome.PERMANENT,
    "21408": Outcome.PERMANENT,
    # 20003: "Authentication Error" (HTTP 401): wrong SID, token or API key.
    "20003": Outcome.AUTH,
    # 20429: "Too Many Requests" (HTTP 429): over the account's concurrency; not created.
    "20429": Outcome.RETRY,
    # 21611: "This 'From' number has exceeded the maximum number of queued messages":
    # refused before queueing, so a later attempt cannot duplicate it.
    "21611": Outcome.RETRY,
}
_STATUSES = HttpStatusMap()


def _check_url(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValidationError.one(path, "invalid", "must be an http:// or https:// URL")
    return value.rstrip("/")


def _api_base(region: object, edge: object) -> str:
    """Twilio's host for a region and an edge (``api.dublin.ie1.twilio.com``).

    Twilio's own libraries default the region to ``us1`` when only an edge is given.
    """
    parts = ["api"]
    for value, path in ((edge, "$.edge"), (region, "$.region")):
        if value is not None and (not isinstance(value, str) or not _REGION.fullmatch(value)):
            raise ValidationError.one(path, "invalid", "must be 1-32 of a-z and 0-9")
    if isinstance(edge, str):
        parts.append(edge)
    if isinstance(region, str) or edge is not None:
        parts.append(region if isinstance(region, str) else "us1")
    return "https://" + ".".join([*parts, "twilio.com"])


class TwilioAdapter(HttpAdapterBase):
    """Send SMS through Twilio's Messages API, one request per message.

    Args:
        account_sid: The account (``AC`` + 32 hex digits); messages are created in it.
        auth_token: The account's auth token, or the secret of ``api_key``.
        from_number: The sender: an E.164 number, a short code or an
            alphanumeric sender id.
        messaging_service_sid: A Messaging Service (``MG...``) to send through
            instead of (or, with a ``from_number`` of the service, as well as) a number.
        status_callback: A URL Twilio posts delivery status changes to.
        api_key: An API key (``SK...``) to authenticate with instead of the account SID.
        api_base: The REST API's base URL (tests point it at 127.0.0.1).
        region: Twilio's data region (``ie1``), instead of ``api_base``.
        edge: Twilio's edge location (``dublin``), instead of ``api_base``.

    From a URL: ``twilio://AC...:TOKEN@+15551234567`` (the host is the sender;
    ``twilio://AC...:TOKEN@?messaging_service=MG...`` sends through a
    Messaging Service), with options ``status_callback``, ``api_key``,
    ``region``, ``edge`` and ``api_base``; keyword arguments win over options.

    The envelope's content is a `RenderedSms` (or a plain ``str`` body) and
    its ``to`` an E.164 number; any other ``to`` is ``INVALID_ADDRESS`` without
    a request. Twilio's answer is classified by its error ``code``: 21610
    (the number replied STOP) is ``OPTED_OUT``; 21211 and 21614 (not a
    possible number, not a mobile) ``INVALID_ADDRESS``; 20003 ``AUTH``;
    20429 and 21611 ``RETRY`` (with ``Retry-After`` when given); other codes
    by the HTTP status (`HttpStatusMap`: 500 ambiguous, 503 retry, 4xx permanent).

    The envelope's idempotency key goes in the ``I-Twilio-Idempotency-Token``
    header. Twilio documents that header on the webhooks it sends (the same
    value on each retry of one webhook), not as a deduplication key for
    creating messages, so ``capabilities.idempotency_keys`` is False: an
    ambiguous failure may still send a message twice.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "twilio"
    channel: ClassVar[str] = "sms"
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=1, idempotency_keys=False)

    def __init__(
        self,
        account_sid: object,
        auth_token: object,
        *,
        from_number: object = None,
        messaging_service_sid: object = None,
        status_callback: object = None,
        api_key: object = None,
        api_base: object = None,
        region: object = None,
        edge: object = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        if not isinstance(account_sid, str) or not _ACCOUNT_SID.fullmatch(account_sid):
            raise ValidationError.one(
                "$.account_sid", "invalid", "must be an account SID: AC and 32 hex digits"
            )
        if not isinstance(auth_token, str) or not auth_token:
            raise ValidationError.one("$.auth_token", "required", "Twilio needs an auth token")
        if api_key is not None and (
            not isinstance(api_key, str) or not _API_KEY_SID.fullmatch(api_key)
        ):
            raise ValidationError.one("$.api_key", "invalid", "must be SK and 32 hex digits")
        if from_number is None and messaging_service_sid is None:
            raise ValidationError.one(
                "$.from_number", "required", "give a from_number or a messaging_service_sid"
            )
        if from_number is not None and not (
            isinstance(from_number, str)
            and any(p.fullmatch(from_number) for p in (_E164, _SHORT_CODE, _ALPHANUMERIC))
        ):
            raise ValidationError.one(
                "$.from_number",
                "invalid",
                "must be an E.164 number, a short code or an alphanumeric sender id",
            )
        if messaging_service_sid is not None and not (
            isinstance(messaging_service_sid, str) and _SERVICE_SID.fullmatch(messaging_service_sid)
        ):
            raise ValidationError.one(
                "$.messaging_service_sid", "invalid", "must be MG and 32 hex digits"
            )
        callback = None
        if status_callback is not None:
            callback = _check_url(status_callback, "$.status_callback")
        if api_base is not None and (region is not None or edge is not None):
            raise ValidationError.one("$.api_base", "conflict", "give api_base or region/edge")
        base = (
            _check_url(api_base, "$.api_base") if api_base is not None else _api_base(region, edge)
        )
        super().__init__(client=client, transport=transport, max_connections=max_connections)
        self.account_sid = account_sid
        self.url = f"{base}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = httpx.BasicAuth(
            api_key if isinstance(api_key, str) else account_sid, auth_token
        )
        fixed: dict[str, str] = {}
        if isinstance(from_number, str):
            fixed["From"] = from_number
        if isinstance(messaging_service_sid, str):
            fixed["MessagingServiceSid"] = messaging_service_sid
        if callback is not None:
            fixed["StatusCallback"] = callback
        self._fixed = fixed

    @classmethod
    def from_url(cls, url: str, **options: Any) -> TwilioAdapter:
        """Build from ``twilio://SID:TOKEN@+15551234567?status_callback=...`` (see the class)."""
        parts = parse_adapter_url(url, "twilio")
        query = dict(parts.options)
        settings: dict[str, Any] = {}
        renames = {"messaging_service": "messaging_service_sid"}
        for option in (
            "messaging_service",
            "status_callback",
            "api_key",
            "api_base",
            "region",
            "edge",
        ):
            if option in query:
                settings[renames.get(option, option)] = query.pop(option)
        if query:
            unknown = ", ".join(sorted(query))
            raise ValidationError.one("$.url", "invalid", f"unknown options: {unknown}")
        if parts.host:
            settings["from_number"] = parts.host
        settings.update(options)
        return cls(parts.require("username"), parts.require("password"), **settings)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Create one Twilio message per envelope; one receipt each."""
        return [await self._post(envelope) for envelope in batch]

    async def _post(self, envelope: Envelope) -> Receipt:
        content = envelope.content
        body = content.body if isinstance(content, RenderedSms) else content
        if not isinstance(body, str):
            return Receipt(
                outcome=Outcome.PERMANENT,
                code="content",
                detail=f"an SMS needs a RenderedSms or a str, not {type(content).__name__}",
            )
        if not _E164.fullmatch(envelope.to):
            return Receipt(
                outcome=Outcome.INVALID_ADDRESS,
                code="to",
                detail=f"{envelope.to!r} is not an E.164 number",
            )
        form = {"To": envelope.to, "Body": body, **self._fixed}
        headers = {IDEMPOTENCY_HEADER: envelope.idempotency_key}
        try:
            response = await self.client.post(self.url, data=form, headers=headers, auth=self._auth)
        except httpx.HTTPError as error:
            return failure_receipt(error)
        return _receipt(response)


def _receipt(response: httpx.Response) -> Receipt:
    status = response.status_code
    answer = json_object(response)
    if 200 <= status < 300:
        sid = answer.get("sid")
        return Receipt.sent(sid if isinstance(sid, str) else None, status=status)
    raw = answer.get("code")
    code = str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else None
    message = answer.get("message")
    detail = message if isinstance(message, str) else response.reason_phrase
    outcome = _BY_CODE.get(code or "") or _STATUSES.classify(status)
    return Receipt(
        outcome=outcome,
        retry_after=retry_after_seconds(response.headers) if outcome.retryable else None,
        status=status,
        code=code,
        detail=detail,
    )


# --- webhook signatures -----------------------------------------------------------------


def _pairs(params: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]) -> list[str]:
    if isinstance(params, Mapping):
        items: list[tuple[str, str]] = []
        for name, value in params.items():
            values = [value] if isinstance(value, str) else list(value)
            items.extend((name, v) for v in values)
    else:
        items = list(params)
    # Twilio sorts by name, then each name's values (as its own validators do).
    return [name + value for name, value in sorted(items)]


def sign(
    auth_token: str,
    url: str,
    params: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]] = (),
) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a POST of ``params`` to ``url``.

    Base64 of HMAC-SHA1, keyed with the auth token, over the full URL (query
    string included) followed by each form parameter's name and value, sorted
    by name (Twilio's "Webhooks security" documentation). ``params`` is the
    form as a mapping (a list of values for a repeated name) or as pairs.

    Examples:
        Twilio's published example (auth token ``12345``):

        >>> sign(
        ...     "12345",
        ...     "https://mycompany.com/myapp.php?foo=1&bar=2",
        ...     {
        ...         "CallSid": "CA1234567890ABCDE",
        ...         "Caller": "+14158675309",
        ...         "Digits": "1234",
        ...         "From": "+14158675309",
        ...         "To": "+18005551212",
        ...     },
        ... )
        'RSOYDt4T1cUTdK1PDd93/VVr8B8='

    .. versionadded:: 0.1.0
    """
    return _signature(auth_token, url, "".join(_pairs(params)))


def _signature(auth_token: str, url: str, joined: str) -> str:
    mac = hmac.new(auth_token.encode(), (url + joined).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def _port_variants(url: str) -> list[str]:
    """The URL with and without its default port: Twilio signs either form."""
    parts = urllib.parse.urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.netloc.rpartition("@")[2]
    prefix = parts.netloc[: len(parts.netloc) - len(host)]
    bare = host.rsplit(":", 1)[0] if parts.port is not None else host
    variants = [url, urllib.parse.urlunsplit(parts._replace(netloc=prefix + bare))]
    if default is not None:
        with_port = prefix + f"{bare}:{parts.port or default}"
        variants.append(urllib.parse.urlunsplit(parts._replace(netloc=with_port)))
    return list(dict.fromkeys(variants))


def verify_signature(
    auth_token: str,
    url: str,
    params: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]],
    signature: str,
) -> bool:
    """True if ``signature`` (the ``X-Twilio-Signature`` header) signs this webhook.

    ``url`` is the full URL Twilio requested, as Twilio saw it (the public
    https URL, not the one behind a proxy); the port may be present or not,
    since Twilio signs either form. Compared in constant time.

    Examples:
        >>> form = {"Body": "STOP", "From": "+14155550134"}
        >>> good = sign("12345", "https://example.com/sms", form)
        >>> verify_signature("12345", "https://example.com:443/sms", form, good)
        True
        >>> verify_signature("12345", "https://example.com/sms", {**form, "Body": "x"}, good)
        False

    .. versionadded:: 0.1.0
    """
    joined = "".join(_pairs(params))
    found = False
    for variant in _port_variants(url):
        # Every variant is checked, so the time taken does not tell which one matched.
        found |= hmac.compare_digest(_signature(auth_token, variant, joined), signature)
    return found


# --- inbound keywords -------------------------------------------------------------------


class KeywordKind(enum.Enum):
    """What an inbound keyword asks for.

    .. versionadded:: 0.1.0
    """

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


def normalize_keyword(text: str) -> str:
    """An inbound body as keywords are matched: folded, trimmed, punctuation stripped.

    Compatibility forms are folded (NFKC, so full-width letters read as
    ASCII), case is folded, punctuation and whitespace are stripped from
    both ends, and inner runs of whitespace, hyphens and underscores become
    one space (``Opt-Out`` is ``opt out``).

    Examples:
        >>> normalize_keyword("  STOP!! ")
        'stop'
        >>> normalize_keyword("Opt-Out.")
        'opt out'

    .. versionadded:: 0.1.0
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = re.split(r"[\s\-_]+", folded)
    kept = " ".join(w for w in words if w)
    start, end = 0, len(kept)
    while start < end and _strippable(kept[start]):
        start += 1
    while end > start and _strippable(kept[end - 1]):
        end -= 1
    return kept[start:end]


_WORD = re.compile(r"[^\W_]+")


def _strippable(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def _keyword_set(words: Iterable[str]) -> frozenset[str]:
    # A bare string would be read letter by letter: refuse it rather than match "s", "t" ...
    if isinstance(words, str) or not all(isinstance(w, str) for w in words):
        raise ValidationError.one("$", "type", "keywords must be a collection of strings")
    return frozenset(normalize_keyword(w) for w in words)


@attrs.frozen(kw_only=True)
class Keywords:
    """The words that opt a number out, back in, or ask for help (matched normalized).

    Attributes:
        opt_out: Words that revoke consent.
        opt_in: Words that grant it again.
        help: Words that ask for help (no consent change).

    .. versionadded:: 0.1.0
    """

    opt_out: frozenset[str] = attrs.field(converter=_keyword_set)
    opt_in: frozenset[str] = attrs.field(converter=_keyword_set)
    help: frozenset[str] = attrs.field(converter=_keyword_set)

    def match(self, body: str) -> tuple[KeywordKind, str] | None:
        """The kind and the normalized keyword if the whole ``body`` is one, else None."""
        word = normalize_keyword(body)
        for kind, words in (
            (KeywordKind.OPT_OUT, self.opt_out),
            (KeywordKind.OPT_IN, self.opt_in),
            (KeywordKind.HELP, self.help),
        ):
            if word in words:
                return kind, word
        return None

    def mentions_opt_out(self, body: str) -> bool:
        """True if an opt-out keyword appears as whole words inside ``body``."""
        words = _WORD.findall(normalize_keyword(body))
        padded = " " + " ".join(words) + " "
        return any(f" {word} " in padded for word in self.opt_out)


#: Twilio's default keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; START, YES,
#: UNSTOP; HELP, INFO) and the FCC's revocation words of 47 CFR 64.1200(a)(10) as amended
#: in 2024 ("stop, quit, end, revoke, opt out, cancel, or unsubscribe").
DEFAULT_KEYWORDS = Keywords(
    opt_out={
        "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit",
        "revoke", "opt out", "optout",
    },
    opt_in={"start", "yes", "unstop"},
    help={"help", "info"},
)  # fmt: skip

# Twilio's Advanced Opt-Out adds OptOutType to the inbound webhook when a message matched
# one of the service's (possibly custom) keywords; it wins over our own matching.
_OPT_OUT_TYPES = {
    "STOP": KeywordKind.OPT_OUT,
    "START": KeywordKind.OPT_IN,
    "HELP": KeywordKind.HELP,
}
_CONSENT_EVENTS = {KeywordKind.OPT_OUT: "Consent Revoked", KeywordKind.OPT_IN: "Consent Granted"}


@attrs.frozen(kw_only=True)
class InboundKeyword:
    """What an inbound SMS said about consent.

    Attributes:
        kind: Opt-out, opt-in, help, or None when the message is not a keyword.
        keyword: The normalized keyword matched (or Twilio's ``OptOutType``, lowercased).
        phone: The sender, in E.164.
        to: The number (or short code) it was sent to.
        message_sid: Twilio's id for the inbound message.
        body: The message as received.
        at: When it was received (as the caller said).
        mentions_opt_out: The message is not a keyword but contains one as
            whole words (``please stop texting me``): worth a human look, or
            treating as a revocation (the FCC accepts any reasonable means).
        event: The Segment track event to ingest for an opt-out or opt-in
            (None otherwise): ``Consent Revoked`` or ``Consent Granted`` for
            the purpose on channel ``sms``, identified by the phone in
            ``context.traits.phone`` and a stable ``anonymousId`` of
            ``sms:<phone>``, with ``messageId`` ``twilio:<MessageSid>`` so a
            retried webhook is ingested once.

    .. versionadded:: 0.1.0
    """

    kind: KeywordKind | None
    keyword: str | None
    phone: str
    to: str
    message_sid: str
    body: str
    at: pendulum.DateTime
    mentions_opt_out: bool = False
    event: Mapping[str, JSONValue] | None = attrs.field(default=None, eq=False)


def _form_text(form: Mapping[str, object], name: str, *, required: bool) -> str:
    value = form.get(name)
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]  # a framework's multi-dict read as lists
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError.one(f"$.{name}", "required", "must be a non-empty string")
    return value


def inbound_keyword(
    form: object,
    *,
    at: object,
    purpose: str = "marketing",
    keywords: Keywords = DEFAULT_KEYWORDS,
) -> InboundKeyword:
    """Read Twilio's inbound-message webhook form: is it STOP, START or HELP?

    A message is a keyword when, after `normalize_keyword` (case folded,
    trimmed, surrounding punctuation stripped), the whole of it is one of
    ``keywords``: ``"Stop."`` is, ``"stop it"`` is not (Twilio matches the
    same way). When Twilio's Advanced Opt-Out sent an ``OptOutType``
    (``STOP``, ``START``, ``HELP``), that decides. ``at`` is when the
    message arrived; nothing here reads the clock. Verify the request with
    `verify_signature` before calling this.

    Args:
        form: The webhook's form fields (``From``, ``To``, ``Body``,
            ``MessageSid``, ``OptOutType`` if present).
        at: When the message arrived (a timezone-aware datetime).
        purpose: The consent purpose the event changes (``marketing``).
        keywords: The words to match.

    Raises:
        ValidationError: ``$.From`` is missing or not a phone number,
            ``$.MessageSid`` is missing, ``$.at`` is not an aware datetime,
            or ``$.purpose`` is not a purpose name.

    Examples:
        >>> import pendulum
        >>> when = pendulum.datetime(2024, 3, 5, 10, 2)
        >>> form = {"From": "+14155550134", "Body": "start", "MessageSid": "SM2"}
        >>> inbound_keyword(form, at=when).event["event"]
        'Consent Granted'
        >>> inbound_keyword({**form, "Body": "Where is my order?"}, at=when).kind is None
        True

    .. versionadded:: 0.1.0
    """
    if not isinstance(form, Mapping):
        raise ValidationError.one("$", "type", "the webhook form must be a mapping")
    moment = to_utc(at, "$.at")  # type: ignore[arg-type]
    # Consent's own validation of the purpose, so the event cannot be one the engine drops.
    Consent(purpose=purpose, channel="sms", status="granted", status_at=moment)
    sender = _form_text(form, "From", required=True)
    try:
        phone = Identity(kind="phone", value=sender).value
    except ValidationError:
        raise ValidationError.one(
            "$.From", "invalid", f"{sender!r} is not a phone number"
        ) from None
    sid = _form_text(form, "MessageSid", required=True)
    body = _form_text(form, "Body", required=False)
    to = _form_text(form, "To", required=False)
    opt_out_type = _form_text(form, "OptOutType", required=False).strip().upper()
    matched = keywords.match(body)
    kind: KeywordKind | None
    if opt_out_type in _OPT_OUT_TYPES:
        kind = _OPT_OUT_TYPES[opt_out_type]
        keyword: str | None = matched[1] if matched else opt_out_type.lower()
    elif matched is not None:
        kind, keyword = matched
    else:
        kind, keyword = None, None
    name = _CONSENT_EVENTS.get(kind) if kind is not None else None
    event: dict[str, JSONValue] | None = None
    if name is not None:
        event = {
            "type": "track",
            "event": name,
            "anonymousId": f"sms:{phone}",
            "messageId": f"twilio:{sid}",
            "timestamp": moment.isoformat(),
            "channel": "sms",
            "context": {"traits": {"phone": phone}},
            "properties": {
                "purpose": purpose,
                "channel": "sms",
                "keyword": keyword,
                "provider": "twilio",
                "to": to,
                "message_sid": sid,
            },
        }
    return InboundKeyword(
        kind=kind,
        keyword=keyword,
        phone=phone,
        to=to,
        message_sid=sid,
        body=body,
        at=moment,
        mentions_opt_out=kind is None and keywords.mentions_opt_out(body),
        event=event,
    )
