"""Webhook adapter: a JSON POST signed with HMAC-SHA256 over a timestamp and the body.

Each request carries::

    Content-Type: application/json
    Idempotency-Key: <the envelope's idempotency key>
    X-Omnichannel-Timestamp: <Unix seconds>
    X-Omnichannel-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

A receiver checks the signature with `verify_signature` (constant-time, and
rejecting timestamps outside a tolerance so a captured request cannot be
replayed later), the scheme Stripe and Slack use.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from omnichannel.channels._adapter import Capabilities, Envelope, Outcome, Receipt
from omnichannel.channels._http import (
    HttpAdapterBase,
    HttpStatusMap,
    failure_receipt,
    json_object,
)
from omnichannel.channels._url import parse_adapter_url
from omnichannel.errors import ValidationError

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookAdapter", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Omnichannel-Signature"
TIMESTAMP_HEADER = "X-Omnichannel-Timestamp"
_STATUSES = HttpStatusMap()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``.

    Examples:
        >>> sign(b"k", 1700000000, b'{"a":1}')[:10]
        'v1=1b6ad1b'

    .. versionadded:: 0.1.0
    """
    mac = hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float,
    tolerance: float = 300.0,
) -> bool:
    """True if ``signature`` signs ``body`` at ``timestamp``, within ``tolerance`` of ``now``.

    Examples:
        >>> verify_signature(b"k", b"{}", "100", sign(b"k", 100, b"{}"), now=130.0)
        True
        >>> verify_signature(b"k", b"{}", "100", sign(b"k", 100, b"{}"), now=1000.0)
        False

    .. versionadded:: 0.1.0
    """
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


class WebhookAdapter(HttpAdapterBase):
    """POST each message's JSON body to one endpoint, signed (see the module docstring).

    Args:
        url: The endpoint (``https://...``).
        secret: The shared signing key.
        headers: Extra headers sent with every request.

    From a URL: ``webhook+https://hooks.example.com/in?secret=KEY`` (or
    ``webhook+http://`` for a local endpoint; ``webhook://`` means https).

    A 2xx is sent (the provider id is the receiver's ``id`` field, if it
    answers JSON with one); 410 Gone means the endpoint was retired (the
    recipient's address is no longer valid); otherwise HTTP's meaning
    (`HttpStatusMap`).

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "webhook"
    channel: ClassVar[str] = "webhook"
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=1, idempotency_keys=True)

    def __init__(
        self,
        url: object,
        secret: object,
        *,
        headers: dict[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValidationError.one("$.url", "invalid", "must be an http:// or https:// URL")
        if not isinstance(secret, (str, bytes)) or not secret:
            raise ValidationError.one("$.secret", "required", "a webhook needs a signing secret")
        super().__init__(client=client, transport=transport, max_connections=max_connections)
        self.url = url
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> WebhookAdapter:
        """Build from ``webhook+https://host/path?secret=KEY`` (see the class docstring)."""
        scheme = url.partition("://")[0]
        if scheme not in {"webhook", "webhook+https", "webhook+http"}:
            raise ValidationError.one("$.url", "invalid", "must start with webhook+https://")
        parts = parse_adapter_url(url, scheme)
        target = "http" if scheme == "webhook+http" else "https"
        netloc = url.partition("://")[2].split("/", 1)[0].split("?", 1)[0]
        query = dict(parts.options)
        secret = options.pop("secret", None) or query.pop("secret", None)
        if secret is None:
            raise ValidationError.one("$.url", "required", "needs ?secret=KEY")
        return cls(f"{target}://{netloc}{parts.path}", secret, **options)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """POST each envelope's content; one receipt each."""
        return [await self._post(envelope) for envelope in batch]

    async def _post(self, envelope: Envelope) -> Receipt:
        body = json.dumps(envelope.content, separators=(",", ":"), ensure_ascii=False).encode()
        stamp = int(time.time())
        headers = {
            **self.headers,
            "Idempotency-Key": envelope.idempotency_key,
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self.secret, stamp, body),
        }
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return failure_receipt(error)
        if response.status_code == 410:
            return Receipt(
                outcome=Outcome.INVALID_ADDRESS, status=410, detail="endpoint gone (410)"
            )
        provider_id = None
        if 200 <= response.status_code < 300:
            provider_id = _id_of(response)
        return _STATUSES.receipt(response, provider_id=provider_id)


def _id_of(response: httpx.Response) -> str | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    found = json_object(response).get("id")
    return str(found) if isinstance(found, (str, int)) else None
