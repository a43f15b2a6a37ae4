"""omnichannel-echo: a channel adapter that answers every message itself.

It is the smallest complete omnichannel adapter plugin, meant to be copied:
class attributes describing it, validated configuration (keyword arguments
or an ``echo://`` URL), an async ``send`` giving one receipt per envelope in
order, and an idempotent ``aclose``. Where a real adapter calls its
provider's API, this one decides the answer on the spot: every message is
SENT with a provider id derived from its idempotency key (so a retried
message gets the same id, as with a provider honouring idempotency keys),
except the addresses it was told to treat as invalid.

Examples:
    >>> import asyncio
    >>> from omnichannel.testing import sample_envelopes
    >>> echo = EchoAdapter.from_url("echo://?prefix=demo")
    >>> [r.provider_id for r in asyncio.run(echo.send(sample_envelopes("webhook", 2)))]
    ['demo-conformance-key-0', 'demo-conformance-key-1']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import ClassVar

from omnichannel.channels import (
    Capabilities,
    Envelope,
    Outcome,
    Receipt,
    parse_adapter_url,
)
from omnichannel.errors import ValidationError

__all__ = ["EchoAdapter"]

_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")
_URL_OPTIONS = frozenset({"prefix", "invalid"})


class EchoAdapter:
    """Answer every envelope as SENT (``<prefix>-<idempotency key>``) unless its address is invalid.

    Args:
        prefix: Starts every provider id (letters, digits, ``_`` and ``-``).
        invalid: Addresses answered ``INVALID_ADDRESS``, as a provider
            answers a mailbox or number that does not exist.

    From a URL: ``echo://?prefix=demo&invalid=a@example.com,b@example.com``
    (keyword arguments given with the URL win over its options).

    ``echoed`` lists every envelope received, in order.
    """

    name: ClassVar[str] = "echo"
    channel: ClassVar[str] = "webhook"
    # No provider limits a batch or a rate here; a real adapter copies its provider's limits.
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=100, idempotency_keys=True)

    def __init__(self, *, prefix: object = "echo", invalid: object = ()) -> None:
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ValidationError.one(
                "$.prefix", "invalid", "must be 1 to 32 letters, digits, '_' or '-'"
            )
        # A bare string is iterable too: "ab" must not mean the addresses "a" and "b".
        if isinstance(invalid, (str, bytes)) or not isinstance(invalid, Iterable):
            raise ValidationError.one("$.invalid", "type", "must be a list of addresses")
        addresses = list(invalid)
        for index, address in enumerate(addresses):
            if not isinstance(address, str) or not address:
                raise ValidationError.one(f"$.invalid[{index}]", "type", "must be an address")
        self.prefix = prefix
        self.invalid = frozenset(addresses)
        self.echoed: list[Envelope] = []
        self.closed = False

    @classmethod
    def from_url(cls, url: str, **options: object) -> EchoAdapter:
        """Build from ``echo://?prefix=P&invalid=A,B`` (see the class docstring)."""
        parts = parse_adapter_url(url, "echo")
        if parts.host or parts.username or parts.password or parts.path not in {"", "/"}:
            raise ValidationError.one(
                "$.url", "invalid", "echo:// takes only ?prefix= and ?invalid="
            )
        unknown = sorted(set(parts.options) - _URL_OPTIONS)
        if unknown:
            raise ValidationError.one("$.url", "unknown_option", f"unknown option {unknown[0]!r}")
        settings: dict[str, object] = {}
        if "prefix" in parts.options:
            settings["prefix"] = parts.options["prefix"]
        if parts.options.get("invalid"):
            settings["invalid"] = parts.options["invalid"].split(",")
        return cls(**{**settings, **options})

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Answer each envelope; one receipt each, in order."""
        if self.closed:
            # Sending on a closed adapter is the host's bug, not a provider answer.
            raise RuntimeError("EchoAdapter.send() after aclose()")
        receipts = []
        for envelope in batch:
            self.echoed.append(envelope)
            if envelope.to in self.invalid:
                receipts.append(
                    Receipt(
                        outcome=Outcome.INVALID_ADDRESS,
                        code="invalid_address",
                        detail=f"{envelope.to} is on the invalid list",
                    )
                )
            else:
                receipts.append(Receipt.sent(f"{self.prefix}-{envelope.idempotency_key}"))
        return receipts

    async def aclose(self) -> None:
        """Mark the adapter closed (closing twice is fine)."""
        self.closed = True
