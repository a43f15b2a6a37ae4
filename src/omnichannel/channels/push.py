"""Push notifications: Firebase Cloud Messaging (HTTP v1) and Apple Push Notification service.

Both providers authenticate with short-lived bearer tokens that the host
mints: an OAuth 2.0 access token for FCM (from a service account, with
google-auth or any other library) and an ES256 JSON Web Token for APNs
(`ApnsTokenSigner` makes one from a ``.p8`` key when ``cryptography`` is
installed). An adapter takes a *token provider*, a callable with no
arguments returning the token (or an awaitable of it). The adapter keeps
the token for ``token_ttl`` seconds and asks again after that, or at once
when the provider rejects it (FCM's 401, APNs' ``ExpiredProviderToken``),
retrying that message once with the new token; so a provider should mint a
fresh token whenever it is called.

FCM is reached over HTTP/1.1 through the shared client. APNs requires
HTTP/2, which aiohttp does not speak, so `ApnsAdapter` owns an httpx client
of its own with ``http2=True`` (one connection multiplexes every request).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import re
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeAlias

import httpx

from omnichannel.channels._adapter import Capabilities, Envelope, Outcome, Receipt
from omnichannel.channels._http import (
    DEFAULT_TIMEOUT,
    HttpAdapterBase,
    HttpStatusMap,
    base_url,
    failure_receipt,
    json_object,
    retry_after_seconds,
)
from omnichannel.channels._url import parse_adapter_url
from omnichannel.errors import PluginError, ValidationError
from omnichannel.models._check import positive_seconds
from omnichannel.personalization import RenderedPush

__all__ = [
    "APNS_PRODUCTION",
    "APNS_SANDBOX",
    "FCM_API_BASE",
    "ApnsAdapter",
    "ApnsTokenSigner",
    "FcmAdapter",
    "TokenProvider",
    "apns_id",
]

#: A callable minting a bearer token: ``() -> str`` or ``async () -> str``.
TokenProvider: TypeAlias = Callable[[], str | Awaitable[str]]

#: FCM's API host.
FCM_API_BASE = "https://fcm.googleapis.com"
#: APNs' production and development (sandbox) hosts.
APNS_PRODUCTION = "https://api.push.apple.com"
APNS_SANDBOX = "https://api.sandbox.push.apple.com"

_STATUSES = HttpStatusMap()
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


class _TokenError(Exception):
    """The token provider failed: every message waits for an operator or a later try."""


class _Tokens:
    """One bearer token, kept for ``ttl`` seconds, re-minted once when a provider rejects it.

    The lock makes concurrent sends share one minting; a refresh asked for a
    token that another send already replaced reuses the replacement, so one
    rejection costs one new token (APNs refuses updates more often than every
    20 minutes with ``TooManyProviderTokenUpdates``).
    """

    def __init__(self, provider: TokenProvider, ttl: float) -> None:
        self._provider = provider
        self._ttl = ttl
        self._token: str | None = None
        self._minted = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> str | None:
        if self._token is not None and time.monotonic() - self._minted < self._ttl:
            return self._token
        return None

    async def get(self) -> str:
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            return self._fresh() or await self._mint()

    async def replace(self, rejected: str) -> str:
        async with self._lock:
            if self._token is not None and self._token != rejected:
                return self._token
            return await self._mint()

    async def _mint(self) -> str:
        try:
            value = self._provider()
            # Host code: the annotation promises a str, the check below does not trust it.
            token: object = await value if inspect.isawaitable(value) else value
        except Exception as error:  # the host's code may fail in any way (its network, its key)
            raise _TokenError(f"token provider failed: {type(error).__name__}: {error}") from error
        if not isinstance(token, str) or not _HEADER_SAFE.fullmatch(token):
            raise _TokenError("token provider returned no usable token (a non-empty str)")
        self._token, self._minted = token, time.monotonic()
        return token


def _check_provider(value: object) -> TokenProvider:
    if not callable(value):
        raise ValidationError.one(
            "$.token_provider", "required", "must be a callable returning a bearer token"
        )
    return value


def _not_push(content: object) -> Receipt:
    return Receipt(
        outcome=Outcome.PERMANENT,
        code="content",
        detail=f"a push needs a RenderedPush, not {type(content).__name__}",
    )


# --- FCM --------------------------------------------------------------------------------

# FCM's ErrorCode (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode), read
# from error.details[] of @type google.firebase.fcm.v1.FcmError. INVALID_ARGUMENT is decided
# in _fcm_receipt: only a complaint about the token makes the address invalid.
_FCM_CODES: Mapping[str, Outcome] = {
    # 404: "App instance was unregistered from FCM": the token will never be valid again.
    "UNREGISTERED": Outcome.INVALID_ADDRESS,
    # 403: "The authenticated sender ID is different from the sender ID for the
    # registration token": the token belongs to another project, unreachable from ours.
    "SENDER_ID_MISMATCH": Outcome.INVALID_ADDRESS,
    # 429: the project's, device's or topic's quota; FCM asks to honour Retry-After.
    "QUOTA_EXCEEDED": Outcome.RETRY,
    # 503: "The server is overloaded"; not processed, honour Retry-After.
    "UNAVAILABLE": Outcome.RETRY,
    # 500: "An unknown internal error occurred": it may have been sent.
    "INTERNAL": Outcome.RETRY_AMBIGUOUS,
    # 401: "APNs certificate or web push auth key was invalid or missing": the project's
    # configuration in the Firebase console; a new OAuth token would not help.
    "THIRD_PARTY_AUTH_ERROR": Outcome.AUTH,
}
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
_PROJECT = re.compile(r"[a-z][a-z0-9.:-]{0,99}")


def _fcm_error(answer: Mapping[str, Any]) -> tuple[str | None, str, list[str]]:
    """FCM's error code, message and the fields a BadRequest detail names."""
    error = answer.get("error")
    if not isinstance(error, dict):
        return None, "", []
    message = error.get("message")
    code: str | None = None
    fields: list[str] = []
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        kind = detail.get("@type")
        if kind == _FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            code = detail["errorCode"]
        elif kind == _BAD_REQUEST_TYPE and isinstance(detail.get("fieldViolations"), list):
            fields.extend(
                v["field"]
                for v in detail["fieldViolations"]
                if isinstance(v, dict) and isinstance(v.get("field"), str)
            )
    status = error.get("status")
    if code is None and isinstance(status, str):
        code = status  # the canonical status (UNAUTHENTICATED, PERMISSION_DENIED ...)
    return code, message if isinstance(message, str) else "", fields


def _about_token(message: str, fields: Sequence[str]) -> bool:
    """Did FCM's INVALID_ARGUMENT complain about the registration token itself?

    Firebase's token-management guide says an INVALID_ARGUMENT for a
    targeted token means the token is invalid only when the payload is known
    to be valid; FCM names the bad field in a google.rpc.BadRequest detail
    (``message.token``) or says "registration token" in the message.
    """
    return "message.token" in fields or "registration token" in message.lower()


def _fcm_receipt(response: httpx.Response) -> Receipt:
    status = response.status_code
    answer = json_object(response)
    if 200 <= status < 300:
        name = answer.get("name")  # projects/<id>/messages/<message id>
        return Receipt.sent(name if isinstance(name, str) else None, status=status)
    code, message, fields = _fcm_error(answer)
    if code == "INVALID_ARGUMENT":
        outcome = Outcome.INVALID_ADDRESS if _about_token(message, fields) else Outcome.PERMANENT
    else:
        outcome = _FCM_CODES.get(code or "") or _STATUSES.classify(status)
    return Receipt(
        outcome=outcome,
        retry_after=retry_after_seconds(response.headers) if outcome.retryable else None,
        status=status,
        code=code,
        detail=message or response.reason_phrase,
    )


def _fcm_message(to: str, push: RenderedPush, metadata: Mapping[str, str]) -> dict[str, Any]:
    notification: dict[str, str] = {"title": push.title, "body": push.body}
    if push.image is not None:
        notification["image"] = push.image
    message: dict[str, Any] = {"token": to, "notification": notification}
    if push.deep_link is not None:
        message["data"] = {"deep_link": push.deep_link}  # FCM data values are strings
    android: dict[str, Any] = {}
    apns: dict[str, Any] = {}
    collapse = metadata.get("collapse_id")
    if collapse:
        android["collapse_key"] = collapse
        apns["headers"] = {"apns-collapse-id": collapse}
    if push.image is not None:
        # iOS shows an image only through a notification service extension, which runs
        # only for payloads marked mutable (FCM's "send an image" guide).
        apns["payload"] = {"aps": {"mutable-content": 1}}
        apns["fcm_options"] = {"image": push.image}
    if android:
        message["android"] = android
    if apns:
        message["apns"] = apns
    return message


class FcmAdapter(HttpAdapterBase):
    """Send push notifications through Firebase Cloud Messaging's HTTP v1 API.

    Args:
        project_id: The Firebase project's id.
        token_provider: Returns an OAuth 2.0 access token with the
            ``https://www.googleapis.com/auth/firebase.messaging`` scope (see
            the module docstring); called when the kept token is older than
            ``token_ttl`` or was rejected.
        api_base: FCM's base URL (tests point it at 127.0.0.1).
        token_ttl: Seconds a token is kept (Google's access tokens live an hour).

    From a URL: ``fcm://PROJECT_ID`` (option ``api_base``), the token
    provider as the ``token_provider`` keyword argument.

    Each envelope is one ``POST {api_base}/v1/projects/{project_id}/messages:send``
    of ``{"message": {"token": to, "notification": {title, body, image},
    "data": {"deep_link": ...}}}`` (plus an ``android.collapse_key`` and
    ``apns-collapse-id`` from the envelope's ``collapse_id`` metadata, and
    iOS's ``mutable-content`` when there is an image). FCM's ``errorCode``
    decides: ``UNREGISTERED`` and ``SENDER_ID_MISMATCH`` are
    ``INVALID_ADDRESS``; ``INVALID_ARGUMENT`` is ``INVALID_ADDRESS`` when it
    names the token, else ``PERMANENT``; ``QUOTA_EXCEEDED`` and
    ``UNAVAILABLE`` ``RETRY`` (with ``Retry-After``); ``INTERNAL``
    ``RETRY_AMBIGUOUS``; ``THIRD_PARTY_AUTH_ERROR`` ``AUTH``. A 401 without
    one (an expired access token) gets a new token and one more try, then
    ``AUTH``. FCM takes no idempotency key: an ambiguous retry may duplicate.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "fcm"
    channel: ClassVar[str] = "push"
    # FCM's limit for a notification message's payload is 4,096 bytes.
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=1, max_payload_bytes=4096)

    def __init__(
        self,
        project_id: object,
        token_provider: object,
        *,
        api_base: object = FCM_API_BASE,
        token_ttl: object = 3000.0,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        if not isinstance(project_id, str) or not _PROJECT.fullmatch(project_id):
            raise ValidationError.one(
                "$.project_id", "invalid", "must be a Firebase project id (my-app-1234)"
            )
        provider = _check_provider(token_provider)
        base = base_url(api_base)
        ttl = positive_seconds("$.token_ttl", token_ttl)
        super().__init__(client=client, transport=transport, max_connections=max_connections)
        self.project_id = project_id
        self.url = f"{base}/v1/projects/{urllib.parse.quote(project_id, safe='')}/messages:send"
        self._tokens = _Tokens(provider, ttl)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> FcmAdapter:
        """Build from ``fcm://PROJECT_ID`` with ``token_provider=`` (see the class)."""
        parts = parse_adapter_url(url, "fcm")
        query = dict(parts.options)
        settings: dict[str, Any] = {}
        if "api_base" in query:
            settings["api_base"] = query.pop("api_base")
        if query:
            raise ValidationError.one(
                "$.url", "invalid", f"unknown options: {', '.join(sorted(query))}"
            )
        settings.update(options)
        return cls(parts.require("host"), settings.pop("token_provider", None), **settings)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Send each envelope as one FCM message; one receipt each."""
        return [await self._post(envelope) for envelope in batch]

    async def _post(self, envelope: Envelope) -> Receipt:
        push = envelope.content
        if not isinstance(push, RenderedPush):
            return _not_push(push)
        if not envelope.to or not _HEADER_SAFE.fullmatch(envelope.to):
            return Receipt(
                outcome=Outcome.INVALID_ADDRESS, code="to", detail="not a registration token"
            )
        body = json.dumps(
            {"message": _fcm_message(envelope.to, push, envelope.metadata)},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        try:
            token = await self._tokens.get()
            response = await self._request(body, token)
            if response.status_code == 401 and _fcm_error(json_object(response))[0] in {
                None,
                "UNAUTHENTICATED",
            }:
                # An expired or revoked access token: one new token, one more try.
                response = await self._request(body, await self._tokens.replace(token))
        except _TokenError as refused:
            return Receipt(outcome=Outcome.AUTH, code="token_provider", detail=str(refused))
        except httpx.HTTPError as error:
            return failure_receipt(error)
        return _fcm_receipt(response)

    async def _request(self, body: bytes, token: str) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        return await self.client.post(self.url, content=body, headers=headers)


# --- APNs -------------------------------------------------------------------------------

# Apple's "Handling notification responses from APNs" (developer.apple.com/documentation/
# usernotifications/handling-notification-responses-from-apns): the status and the JSON
# body's "reason". Reasons not listed fall back to the status (HttpStatusMap).
_APNS_REASONS: Mapping[str, Outcome] = {
    # 400: "The specified device token is invalid" (or from the other environment).
    "BadDeviceToken": Outcome.INVALID_ADDRESS,
    # 400: "The device token doesn't match the specified topic": another app's token.
    "DeviceTokenNotForTopic": Outcome.INVALID_ADDRESS,
    # 410: "The device token is inactive for the specified topic" / has expired.
    "Unregistered": Outcome.INVALID_ADDRESS,
    "ExpiredToken": Outcome.INVALID_ADDRESS,
    # 403: the provider token or certificate is wrong: an operator must fix the key.
    "ExpiredProviderToken": Outcome.AUTH,
    "InvalidProviderToken": Outcome.AUTH,
    "MissingProviderToken": Outcome.AUTH,
    "BadCertificate": Outcome.AUTH,
    "BadCertificateEnvironment": Outcome.AUTH,
    "Forbidden": Outcome.AUTH,
    # 413: "The message payload is too large" (4 KB for alerts): sending again cannot help.
    "PayloadTooLarge": Outcome.PERMANENT,
    # 429: too many requests to one device token, or provider token updates too often.
    "TooManyRequests": Outcome.RETRY,
    "TooManyProviderTokenUpdates": Outcome.RETRY,
    # 500: "An internal server error occurred": it may have been delivered.
    "InternalServerError": Outcome.RETRY_AMBIGUOUS,
    # 503: "The service is unavailable" / "The APNs server is shutting down": not taken.
    "ServiceUnavailable": Outcome.RETRY,
    "Shutdown": Outcome.RETRY,
}
# The namespace the apns-id of a message is derived in (uuid5 of its idempotency key).
_APNS_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://omnichannel.readthedocs.io/apns-id")
_DEVICE_TOKEN = re.compile(r"[0-9a-fA-F]{16,400}")
_TOPIC = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,254}")
# APNs' documented limit for an alert notification's payload.
_APNS_MAX_PAYLOAD = 4096


def apns_id(idempotency_key: str) -> str:
    """The ``apns-id`` of a message: a UUID derived from its idempotency key.

    Every try of one message carries the same id (APNs echoes it and names
    it in errors), so the answers to all its tries can be matched to it.
    APNs does not deduplicate by it.

    Examples:
        >>> apns_id("journey:42:sms:p1") == apns_id("journey:42:sms:p1")
        True
        >>> len(apns_id("k")), apns_id("k").count("-")
        (36, 4)

    .. versionadded:: 0.1.0
    """
    return str(uuid.uuid5(_APNS_ID_NAMESPACE, idempotency_key))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ApnsTokenSigner:
    """A token provider for APNs: an ES256 JWT from a ``.p8`` signing key.

    Each call returns a new token ``{"alg": "ES256", "kid": key_id}`` /
    ``{"iss": team_id, "iat": now}``, signed with the key (Apple's
    "Establishing a token-based connection to APNs"); the adapter keeps it
    for its ``token_ttl`` (40 minutes: Apple refuses tokens older than an
    hour and updates more often than every 20 minutes). Needs the
    ``cryptography`` package, imported only here.

    Args:
        team_id: The 10-character Team ID.
        key_id: The 10-character Key ID of the signing key.
        private_key: The key's PEM text (the ``.p8`` file's content).
        clock: Unix seconds now (``time.time``), for ``iat``.

    Raises:
        ValidationError: ``$.team_id``, ``$.key_id`` or ``$.private_key`` is
            not usable (not an EC P-256 private key in PEM).
        PluginError: ``cryptography`` is not installed (code ``import``).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        team_id: object,
        key_id: object,
        private_key: object,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = _apple_id(team_id, "$.team_id")
        self.key_id = _apple_id(key_id, "$.key_id")
        if not isinstance(private_key, (str, bytes)) or not private_key:
            raise ValidationError.one("$.private_key", "required", "must be the .p8 key's PEM")
        self._clock = clock
        self._key = _load_p256_key(
            private_key.encode() if isinstance(private_key, str) else private_key
        )

    def __call__(self) -> str:
        """A new provider token, issued now."""
        from cryptography.hazmat.primitives import hashes  # type: ignore[import-not-found,unused-ignore]
        from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found,unused-ignore]
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # type: ignore[import-not-found,unused-ignore]

        header = _b64url(json.dumps({"alg": "ES256", "kid": self.key_id}).encode())
        claims = {"iss": self.team_id, "iat": int(self._clock())}
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode()
        der = self._key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        # JWS wants the raw 64-byte r || s (RFC 7518 section 3.4), not the DER the library gives.
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{header}.{payload}.{_b64url(signature)}"


def _apple_id(value: object, path: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z0-9]{10}", value):
        raise ValidationError.one(path, "invalid", "must be 10 of A-Z and 0-9")
    return value


def _load_p256_key(pem: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found,unused-ignore]
        from cryptography.hazmat.primitives.serialization import load_pem_private_key  # type: ignore[import-not-found,unused-ignore]
    except ImportError as error:
        raise PluginError(
            "ApnsTokenSigner needs the 'cryptography' package (pip install cryptography), "
            "or pass a token_provider of your own",
            code="import",
        ) from error
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValidationError.one("$.private_key", "invalid", "is not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValidationError.one("$.private_key", "invalid", "must be an EC P-256 (ES256) key")
    return key


class ApnsAdapter(HttpAdapterBase):
    """Send alert notifications through APNs over HTTP/2, with token-based auth.

    Args:
        topic: The app's bundle id (``com.example.app``): the ``apns-topic``.
        token_provider: Returns the provider JWT; an `ApnsTokenSigner` or
            the host's own callable (see the module docstring).
        api_base: `APNS_PRODUCTION` (default), `APNS_SANDBOX` for development
            builds, or a test server.
        priority: ``apns-priority``: 10 (at once, the default) or 5 (power-saving).
        token_ttl: Seconds a provider token is kept (Apple: 20 to 60 minutes).
        verify: TLS verification for the default client (an ``ssl.SSLContext``
            trusting a test CA, in tests).
        client: A host's own ``httpx.AsyncClient`` (it must have ``http2=True``).

    From a URL: ``apns://TEAM_ID:KEY_ID@api.push.apple.com?topic=com.example.app``
    with the ``.p8`` key's PEM as the ``private_key`` keyword argument (or a
    ``token_provider``, then the team and key ids may be left out); option
    ``sandbox=1`` selects the development host, ``priority=5`` the
    power-saving priority. A host other than Apple's is used as is (tests).

    Each envelope is one ``POST {api_base}/3/device/{to}`` of the rendition's
    ``payload`` with ``apns-push-type: alert``, ``apns-topic``,
    ``apns-priority``, ``apns-id`` (`apns_id` of the idempotency key) and
    ``apns-collapse-id`` from the envelope's ``collapse_id`` metadata. The
    answer's ``reason`` decides: ``BadDeviceToken``, ``DeviceTokenNotForTopic``
    and 410 ``Unregistered`` are ``INVALID_ADDRESS``; provider-token and
    certificate reasons ``AUTH`` (``ExpiredProviderToken`` first gets a new
    token and one more try); 429 ``RETRY``; 500 ``RETRY_AMBIGUOUS``; 503
    ``RETRY``; ``PayloadTooLarge`` and the rest ``PERMANENT``. APNs does not
    deduplicate by ``apns-id``, so ``capabilities.idempotency_keys`` is False.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "apns"
    channel: ClassVar[str] = "push"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=1, max_payload_bytes=_APNS_MAX_PAYLOAD
    )

    def __init__(
        self,
        topic: object,
        token_provider: object,
        *,
        api_base: object = APNS_PRODUCTION,
        priority: object = 10,
        token_ttl: object = 2400.0,
        verify: ssl.SSLContext | bool = True,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
            raise ValidationError.one(
                "$.topic", "invalid", "must be the app's bundle id (com.example.app)"
            )
        provider = _check_provider(token_provider)
        base = base_url(api_base)
        if priority not in {5, 10} or isinstance(priority, bool):
            raise ValidationError.one("$.priority", "invalid", "must be 10 (at once) or 5")
        ttl = positive_seconds("$.token_ttl", token_ttl)
        if client is None and transport is None:
            # HTTP/2 is required by APNs; httpx's own transport speaks it (aiohttp does not).
            client = httpx.AsyncClient(http2=True, verify=verify, timeout=DEFAULT_TIMEOUT)
            super().__init__(client=client)
            self._owns_client = True
        else:
            super().__init__(client=client, transport=transport)
        self.topic = topic
        self.base = base
        self._headers = {
            "apns-topic": topic,
            "apns-push-type": "alert",
            "apns-priority": str(priority),
        }
        self._tokens = _Tokens(provider, ttl)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ApnsAdapter:
        """Build from ``apns://TEAM:KEYID@api.push.apple.com?topic=...`` (see the class)."""
        parts = parse_adapter_url(url, "apns")
        query = dict(parts.options)
        sandbox = query.pop("sandbox", "0").lower() in {"1", "true", "yes"}
        settings: dict[str, Any] = {}
        if "topic" in query:
            settings["topic"] = query.pop("topic")
        if "priority" in query:
            text = query.pop("priority")
            settings["priority"] = int(text) if text.isdigit() else text
        if query:
            raise ValidationError.one(
                "$.url", "invalid", f"unknown options: {', '.join(sorted(query))}"
            )
        host = parts.host or ""
        if host in {"", "api.push.apple.com", "api.sandbox.push.apple.com"}:
            settings["api_base"] = APNS_SANDBOX if sandbox else APNS_PRODUCTION
        else:
            port = f":{parts.port}" if parts.port else ""
            settings["api_base"] = f"https://{host}{port}"
        private_key = options.pop("private_key", None)
        settings.update(options)
        if "token_provider" not in settings:
            if private_key is None:
                raise ValidationError.one(
                    "$.private_key",
                    "required",
                    "pass private_key= (the .p8 PEM) or token_provider=",
                )
            settings["token_provider"] = ApnsTokenSigner(
                parts.require("username"), parts.require("password"), private_key
            )
        return cls(settings.pop("topic", None), settings.pop("token_provider"), **settings)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Send each envelope as one APNs request; one receipt each."""
        return [await self._post(envelope) for envelope in batch]

    async def _post(self, envelope: Envelope) -> Receipt:
        push = envelope.content
        if not isinstance(push, RenderedPush):
            return _not_push(push)
        if not _DEVICE_TOKEN.fullmatch(envelope.to):
            return Receipt(
                outcome=Outcome.INVALID_ADDRESS,
                code="BadDeviceToken",
                detail="a device token is a string of hexadecimal digits",
            )
        if len(push.payload) > _APNS_MAX_PAYLOAD:
            return Receipt(
                outcome=Outcome.PERMANENT,
                code="PayloadTooLarge",
                detail=f"{len(push.payload)} bytes; APNs takes {_APNS_MAX_PAYLOAD}",
            )
        headers = {**self._headers, "apns-id": apns_id(envelope.idempotency_key)}
        collapse = envelope.metadata.get("collapse_id")
        if collapse:
            headers["apns-collapse-id"] = collapse
        url = f"{self.base}/3/device/{envelope.to}"
        try:
            token = await self._tokens.get()
            response = await self._request(url, push.payload, headers, token)
            if _apns_reason(response) == "ExpiredProviderToken":
                response = await self._request(
                    url, push.payload, headers, await self._tokens.replace(token)
                )
        except _TokenError as refused:
            return Receipt(outcome=Outcome.AUTH, code="token_provider", detail=str(refused))
        except httpx.HTTPError as error:
            return failure_receipt(error)
        return _apns_receipt(response)

    async def _request(
        self, url: str, payload: bytes, headers: Mapping[str, str], token: str
    ) -> httpx.Response:
        return await self.client.post(
            url, content=payload, headers={**headers, "authorization": f"bearer {token}"}
        )


def _apns_reason(response: httpx.Response) -> str | None:
    if 200 <= response.status_code < 300:
        return None
    reason = json_object(response).get("reason")
    return reason if isinstance(reason, str) else None


def _apns_receipt(response: httpx.Response) -> Receipt:
    status = response.status_code
    if 200 <= status < 300:
        return Receipt.sent(response.headers.get("apns-id"), status=status)
    reason = _apns_reason(response)
    outcome = _APNS_REASONS.get(reason or "") or _STATUSES.classify(status)
    if status == 410 and reason is None:
        outcome = Outcome.INVALID_ADDRESS  # 410 means only "no longer active for the topic"
    return Receipt(
        outcome=outcome,
        retry_after=retry_after_seconds(response.headers) if outcome.retryable else None,
        status=status,
        code=reason,
        detail=reason or response.reason_phrase,
    )
