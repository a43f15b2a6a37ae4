"""The adapter protocol: what a channel provider plugin is, gets and gives back.

An adapter turns `Envelope` values into provider calls and classifies what
the provider said into a `Receipt`. It never decides policy (consent, quiet
hours, caps, retries): `omnichannel.delivery` does that once, for every
adapter.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias, runtime_checkable

import attrs

if TYPE_CHECKING:
    # Personalization imports channel facts (SMS segments) from this package: the
    # renditions are named for the checker only, so neither package imports the other first.
    from omnichannel.personalization import (
        RenderedAds,
        RenderedEmail,
        RenderedInApp,
        RenderedPush,
        RenderedSms,
    )
    from omnichannel.typing import JSONValue

__all__ = [
    "Adapter",
    "Capabilities",
    "Content",
    "Envelope",
    "Outcome",
    "Receipt",
]


class Outcome(enum.Enum):
    """How a provider answered one message.

    ``RETRY`` means the provider did not process the message (a 429, a 503,
    an SMTP 4xx before DATA was accepted, a refused connection): sending
    again cannot duplicate it. ``RETRY_AMBIGUOUS`` means it may have been
    processed (a timeout or dropped connection after the request was sent, a
    500): sending again may duplicate it unless the provider honours
    idempotency keys. ``AUTH`` means the provider rejected our credentials:
    nothing is wrong with the message, and every message to that provider
    will fail the same way until an operator fixes the configuration.

    .. versionadded:: 0.1.0
    """

    SENT = "sent"
    RETRY = "retry"
    RETRY_AMBIGUOUS = "retry_ambiguous"
    PERMANENT = "permanent"
    INVALID_ADDRESS = "invalid_address"
    OPTED_OUT = "opted_out"
    AUTH = "auth"

    @property
    def retryable(self) -> bool:
        """True for the outcomes the relay sends again later."""
        return self in {Outcome.RETRY, Outcome.RETRY_AMBIGUOUS, Outcome.AUTH}


@attrs.frozen(kw_only=True)
class Receipt:
    """What one provider call said about one message.

    Attributes:
        outcome: The classified outcome.
        provider_id: The provider's id for the message (``SENT`` only).
        retry_after: Seconds to wait at least before trying again (from
            ``Retry-After`` or ``X-RateLimit-Reset``), when the provider said.
        status: The HTTP status or SMTP reply code, if there was one.
        code: The provider's own error code (``"21610"``, ``"UNREGISTERED"``,
            ``"5.1.1"``), if any.
        detail: A short human explanation.

    Examples:
        >>> Receipt.sent("SM123").outcome
        <Outcome.SENT: 'sent'>
        >>> Receipt(outcome=Outcome.RETRY, retry_after=30.0, status=429).outcome.retryable
        True

    .. versionadded:: 0.1.0
    """

    outcome: Outcome
    provider_id: str | None = None
    retry_after: float | None = None
    status: int | None = None
    code: str | None = None
    detail: str = ""

    @classmethod
    def sent(cls, provider_id: str | None = None, *, status: int | None = None) -> Receipt:
        """A receipt for a message the provider accepted."""
        return cls(outcome=Outcome.SENT, provider_id=provider_id, status=status)


@attrs.frozen(kw_only=True)
class Capabilities:
    """What an adapter's provider can take; the relay plans batches and pace from it.

    Attributes:
        max_batch: Most envelopes one `Adapter.send` call takes (1: no batching).
        max_payload_bytes: Largest request body the provider accepts, if known.
        idempotency_keys: True if the provider honours an idempotency key, so
            an ambiguous retry cannot duplicate a message.
        rate_limit: Requests per second the provider allows, if limited.
        burst: Requests allowed at once above the rate (token bucket size).

    .. versionadded:: 0.1.0
    """

    max_batch: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    max_payload_bytes: int | None = None
    idempotency_keys: bool = False
    rate_limit: float | None = None
    burst: int = attrs.field(default=1, validator=attrs.validators.ge(1))


if TYPE_CHECKING:
    #: A message's content for one channel: a rendition, or the JSON body of a webhook.
    Content: TypeAlias = (
        RenderedEmail | RenderedSms | RenderedPush | RenderedInApp | RenderedAds | JSONValue
    )
else:
    Content = Any


@attrs.frozen(kw_only=True)
class Envelope:
    """One message for one recipient on one channel, as the relay hands it to an adapter.

    Attributes:
        id: The outbox row's id.
        idempotency_key: Stable for the message's (campaign or journey run,
            step, channel, recipient): send it to providers that honour one.
        channel: The channel (``email``, ``sms`` ...).
        to: The address: an e-mail address, an E.164 number, a device token,
            an audience id or a URL.
        content: The rendered content for that channel.
        profile_id: Whose message it is.
        message: The message's key.
        attempt: 1 for the first try, 2 for the first retry ...
        metadata: Free string tags (campaign, variant) an adapter may pass on.

    .. versionadded:: 0.1.0
    """

    id: str
    idempotency_key: str
    channel: str
    to: str
    content: Content = attrs.field(eq=False)
    profile_id: str
    message: str
    attempt: int = 1
    metadata: Mapping[str, str] = attrs.field(factory=dict, eq=False)


@runtime_checkable
class Adapter(Protocol):
    """A channel provider: sends envelopes, classifies answers, decides nothing else.

    Class attributes ``name`` (the registry and URL scheme name), ``channel``
    and ``capabilities`` describe it; `send` takes at most
    ``capabilities.max_batch`` envelopes and returns one `Receipt` per
    envelope, in order. It must not raise for a provider's answer or a
    network failure (those are receipts); it raises only for a programming
    error. `aclose` releases its connections.

    Examples:
        >>> import asyncio
        >>> class Echo:
        ...     name = "echo"
        ...     channel = "webhook"
        ...     capabilities = Capabilities(max_batch=100)
        ...
        ...     async def send(self, batch):
        ...         return [Receipt.sent(e.id) for e in batch]
        ...
        ...     async def aclose(self):
        ...         pass
        >>> isinstance(Echo(), Adapter)
        True

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str]
    channel: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Send ``batch`` (at most ``capabilities.max_batch``); one receipt per envelope."""
        ...

    async def aclose(self) -> None:
        """Close the adapter's connections (idempotent)."""
        ...
