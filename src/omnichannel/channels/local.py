"""Adapters that deliver nowhere else: a console, a file outbox, a recorder for tests.

They accept every channel (their ``channel`` is ``"any"``), so the demo and a
notebook can run a whole campaign without a provider account, and a host's
tests can assert on what would have been sent.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TextIO

import attrs

from omnichannel._convert import converter
from omnichannel.channels._adapter import Capabilities, Envelope, Receipt
from omnichannel.channels._url import parse_adapter_url

__all__ = [
    "ANY_CHANNEL",
    "ConsoleAdapter",
    "FileAdapter",
    "RecordingAdapter",
    "envelope_json",
    "readable",
]

#: The ``channel`` of an adapter that takes every channel.
ANY_CHANNEL = "any"


def envelope_json(envelope: Envelope) -> dict[str, Any]:
    """An envelope as plain JSON data (its content unstructured).

    .. versionadded:: 0.1.0
    """
    content = envelope.content
    plain = converter.unstructure(content) if attrs.has(type(content)) else content
    if isinstance(plain, dict) and isinstance(plain.get("payload"), bytes):
        plain["payload"] = plain["payload"].decode()  # a push's JSON payload, kept readable
    return {
        "id": envelope.id,
        "idempotency_key": envelope.idempotency_key,
        "channel": envelope.channel,
        "to": envelope.to,
        "profile_id": envelope.profile_id,
        "message": envelope.message,
        "attempt": envelope.attempt,
        "metadata": dict(envelope.metadata),
        "content": plain,
    }


def _summary(envelope: Envelope) -> str:
    content = envelope.content
    for field in ("subject", "title", "body"):
        value = getattr(content, field, None)
        if isinstance(value, str):
            return value.splitlines()[0][:60] if value else ""
    return json.dumps(content, default=str)[:60]


class ConsoleAdapter:
    """Print one line per message (channel, recipient, subject or body) to a stream.

    Examples:
        >>> import asyncio, io
        >>> from omnichannel.personalization import RenderedSms
        >>> from omnichannel.channels.sms import segments
        >>> out = io.StringIO()
        >>> e = Envelope(
        ...     id="1",
        ...     idempotency_key="k",
        ...     channel="sms",
        ...     to="+15551234567",
        ...     content=RenderedSms(body="Hi Ann", segments=segments("Hi Ann")),
        ...     profile_id="p1",
        ...     message="hello",
        ... )
        >>> [r.outcome.value for r in asyncio.run(ConsoleAdapter(out).send([e]))]
        ['sent']
        >>> print(out.getvalue().strip())
        sms to +15551234567: Hi Ann

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "console"
    channel: ClassVar[str] = ANY_CHANNEL
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=500)

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    @classmethod
    def from_url(cls, url: str, *, stream: TextIO | None = None) -> ConsoleAdapter:
        """``console://`` (standard output, or ``stream``)."""
        parse_adapter_url(url, "console")
        return cls(stream)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Print each envelope; every one is sent."""
        stream = self.stream or sys.stdout
        for envelope in batch:
            stream.write(f"{envelope.channel} to {envelope.to}: {_summary(envelope)}\n")
        return [Receipt.sent(f"console-{e.id}") for e in batch]

    async def aclose(self) -> None:
        """Nothing to close."""


def readable(envelope: Envelope) -> str:
    """An envelope as a person reads it: a few headers, a blank line, then the content.

    An e-mail shows its subject and text, an SMS its body, a push its
    title and body; anything else its JSON.

    .. versionadded:: 0.1.0
    """
    content = envelope.content
    headers = [
        f"Channel: {envelope.channel}",
        f"To: {envelope.to}",
        f"Message: {envelope.message}",
        f"Profile: {envelope.profile_id}",
        *(f"{key.title()}: {value}" for key, value in sorted(envelope.metadata.items())),
    ]
    parts = [
        f"{label}: {value}" if label else str(value)
        for label, field in (
            ("Subject", "subject"),
            ("From", "sender"),
            ("Title", "title"),
            ("", "text"),
            ("", "body"),
        )
        if isinstance(value := getattr(content, field, None), str) and value
    ]
    if not parts:
        parts = [json.dumps(envelope_json(envelope)["content"], indent=2, default=str)]
    return "\n".join(headers) + "\n\n" + "\n".join(parts) + "\n"


class FileAdapter:
    """Write each message to a file outbox: JSON lines, or one readable file per message.

    A path to a file gets one JSON line per message appended (an outbox to
    read or replay). A path to a folder (one that exists, or one written
    with a trailing ``/``) gets one text file per message, named by the
    outbox row, to open and read (`readable`). From a URL:
    ``file:///var/spool/omnichannel/outbox.jsonl`` or ``file:///tmp/outbox/``.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "file"
    channel: ClassVar[str] = ANY_CHANNEL
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=1000)

    def __init__(self, path: str | Path) -> None:
        self.folder = str(path).endswith(("/", "\\")) or Path(path).is_dir()
        self.path = Path(path)

    @classmethod
    def from_url(cls, url: str) -> FileAdapter:
        """``file:///absolute/path.jsonl`` or ``file:///absolute/folder/``."""
        return cls(parse_adapter_url(url, "file").path)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Write every envelope, flushed before the receipts are given."""
        if self.folder:
            self.path.mkdir(parents=True, exist_ok=True)
            for e in batch:
                # The outbox id is unique and stable: a retried send rewrites its own file.
                (self.path / f"{e.channel}-{e.id}.txt").write_text(readable(e), encoding="utf-8")
            return [Receipt.sent(f"file-{e.id}") for e in batch]
        lines = "".join(
            json.dumps(envelope_json(e), ensure_ascii=False, sort_keys=True) + "\n" for e in batch
        )
        with self.path.open("a", encoding="utf-8") as out:
            out.write(lines)
        return [Receipt.sent(f"file-{e.id}") for e in batch]

    async def aclose(self) -> None:
        """Nothing to close."""


class RecordingAdapter:
    """Keep every envelope it is given; answer with ``answer`` (sent by default).

    ``answer`` may script failures: a function from the envelope to its
    receipt. ``sent`` lists the envelopes in the order received,
    ``batches`` the batch sizes.

    Examples:
        >>> import asyncio
        >>> rec = RecordingAdapter()
        >>> e = Envelope(
        ...     id="1",
        ...     idempotency_key="k",
        ...     channel="webhook",
        ...     to="u1",
        ...     content={"hi": 1},
        ...     profile_id="p1",
        ...     message="m",
        ... )
        >>> _ = asyncio.run(rec.send([e]))
        >>> [x.to for x in rec.sent], rec.batches
        (['u1'], [1])

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "recording"
    channel: ClassVar[str] = ANY_CHANNEL
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=100, idempotency_keys=True)

    def __init__(self, answer: Callable[[Envelope], Receipt] | None = None) -> None:
        self.answer = answer or (lambda e: Receipt.sent(f"rec-{e.id}"))
        self.sent: list[Envelope] = []
        self.batches: list[int] = []

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Record the batch and answer each envelope."""
        self.sent.extend(batch)
        self.batches.append(len(batch))
        return [self.answer(e) for e in batch]

    async def aclose(self) -> None:
        """Nothing to close."""
