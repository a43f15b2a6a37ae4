"""The HTTP stack every built-in adapter shares: one client, one way to read answers.

httpx is the API (a host may hand an adapter its own ``httpx.AsyncClient``
or transport); the default transport is aiohttp's, through `httpx-aiohttp`.
Measured on one machine (20,000 small JSON POSTs to 127.0.0.1, 50 at a
time), httpx's own pool managed ~500 requests/s with 50 connections
(httpcore's pool bookkeeping grows with the square of the connections,
encode/httpx#3215) while the aiohttp transport managed ~3,000. APNs needs
HTTP/2, which aiohttp does not speak; its adapter uses httpx's own
transport with ``http2=True`` (one connection multiplexes, so the pool
stays small). ``sniffio`` is a dependency because without it httpcore pays a
failed import on every request.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from omnichannel.channels._adapter import Outcome, Receipt
from omnichannel.errors import ValidationError

__all__ = [
    "DEFAULT_TIMEOUT",
    "HttpAdapterBase",
    "HttpStatusMap",
    "base_url",
    "default_client",
    "failure_receipt",
    "json_object",
    "retry_after_seconds",
]

#: Seconds to connect, and to wait for each read or write.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def default_client(
    *, max_connections: int = 50, timeout: httpx.Timeout = DEFAULT_TIMEOUT
) -> httpx.AsyncClient:
    """A new ``httpx.AsyncClient`` over the aiohttp transport (see the module's note)."""
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=timeout)


def base_url(value: object, path: str = "$.api_base") -> str:
    """An adapter's API base URL, checked (http or https) and without a trailing slash."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValidationError.one(path, "invalid", "must be an http:// or https:// URL")
    return value.rstrip("/")


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A response's body as a JSON object; ``{}`` when it is not one (an HTML error page)."""
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait before retrying, from ``Retry-After`` or ``X-RateLimit-Reset``.

    ``Retry-After`` may be seconds or an HTTP-date (RFC 9110 section
    10.2.3); a date is measured against the response's own ``Date`` header
    when present (the server's clock), else ``now`` (Unix seconds; the wall
    clock by default). ``X-RateLimit-Reset`` is read as a Unix time when it
    is that large, else as seconds. Unreadable values give None.

    Examples:
        >>> retry_after_seconds({"retry-after": "120"})
        120.0
        >>> retry_after_seconds(
        ...     {
        ...         "retry-after": "Wed, 21 Oct 2015 07:28:30 GMT",
        ...         "date": "Wed, 21 Oct 2015 07:28:00 GMT",
        ...     }
        ... )
        30.0
        >>> retry_after_seconds({"x-ratelimit-reset": "1445412510"}, now=1445412480.0)
        30.0

    .. versionadded:: 0.1.0
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    reference = _http_date(lowered.get("date"))
    if reference is None:
        reference = time.time() if now is None else now
    value = lowered.get("retry-after")
    if value is not None:
        text = value.strip()
        if text.isdigit():
            return float(text)
        moment = _http_date(text)
        if moment is not None:
            return max(0.0, moment - reference)
    reset = lowered.get("x-ratelimit-reset")
    if reset is not None:
        try:
            number = float(reset.strip())
        except ValueError:
            return None
        # Providers use both forms: a Unix time (GitHub, SendGrid) or seconds left.
        return max(0.0, number - reference) if number > 1e9 else max(0.0, number)
    return None


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def failure_receipt(error: httpx.HTTPError) -> Receipt:
    """Classify a transport failure: was the request possibly received?

    A failure to connect (refused, DNS, connect timeout, no free connection
    in the pool) means the provider never saw the request: ``RETRY``.
    Anything after connecting (a read timeout, a dropped connection, a
    malformed answer) may come after the provider processed it:
    ``RETRY_AMBIGUOUS``. The aiohttp transport maps every connection error
    to ``httpx.ConnectTimeout``, so the aiohttp cause decides there.
    """
    detail = f"{type(error).__name__}: {error}"
    if _before_sending(error):
        return Receipt(outcome=Outcome.RETRY, code="connect", detail=detail)
    return Receipt(outcome=Outcome.RETRY_AMBIGUOUS, code="transport", detail=detail)


def _before_sending(error: httpx.HTTPError) -> bool:
    cause = error.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        import aiohttp

        return isinstance(cause, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


@attrs.frozen(kw_only=True)
class HttpStatusMap:
    """How a provider's HTTP statuses classify, before its body says more.

    The defaults follow HTTP: 2xx sent; 429 and 503 not processed (safe to
    retry); 408 and other 5xx possibly processed (ambiguous); 401/403 bad
    credentials; other 4xx permanent. Adapters refine with the provider's
    error codes from the body.
    """

    retry: frozenset[int] = frozenset({429, 503})
    auth: frozenset[int] = frozenset({401, 403})

    def classify(self, status: int) -> Outcome:
        """The outcome of an HTTP status alone."""
        if 200 <= status < 300:
            return Outcome.SENT
        if status in self.retry:
            return Outcome.RETRY
        if status in self.auth:
            return Outcome.AUTH
        if status == 408 or status >= 500:
            return Outcome.RETRY_AMBIGUOUS
        return Outcome.PERMANENT

    def receipt(
        self,
        response: httpx.Response,
        *,
        provider_id: str | None = None,
        code: str | None = None,
        detail: str = "",
    ) -> Receipt:
        """A receipt from a response's status and headers (Retry-After when retrying)."""
        outcome = self.classify(response.status_code)
        wait = retry_after_seconds(response.headers) if outcome.retryable else None
        return Receipt(
            outcome=outcome,
            provider_id=provider_id if outcome is Outcome.SENT else None,
            retry_after=wait,
            status=response.status_code,
            code=code,
            detail=detail or (response.reason_phrase if outcome is not Outcome.SENT else ""),
        )


class HttpAdapterBase:
    """What every HTTP adapter shares: one client for the adapter's life, closed once.

    A host may pass its own ``client`` (kept open: the host closes it) or a
    ``transport`` (wrapped in a client this adapter owns); by default the
    adapter owns a `default_client`.
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        if client is not None and transport is not None:
            raise ValidationError.one("$.transport", "conflict", "pass a client or a transport")
        self._owns_client = client is None
        if client is not None:
            self.client = client
        elif transport is not None:
            self.client = httpx.AsyncClient(transport=transport, timeout=DEFAULT_TIMEOUT)
        else:
            self.client = default_client(max_connections=max_connections)

    async def aclose(self) -> None:
        """Close the client if this adapter made it."""
        if self._owns_client:
            await self.client.aclose()
