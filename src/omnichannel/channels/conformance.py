"""A conformance kit for channel adapters: what every adapter must do, checked for real.

Plugin authors (and our own built-in adapters) run `check_adapter` (or its
synchronous wrapper `verify_adapter`) against their adapter pointed at a
test double of the provider, and `registry_check` once their package is
installed, to prove the entry point resolves. Failures raise
`AdapterConformanceError`, an ``AssertionError``, so pytest shows them as
ordinary test failures with every problem spelt out.

This module needs no test library; `omnichannel.testing` re-exports it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import attrs

from omnichannel.channels._adapter import Adapter, Content, Envelope, Outcome, Receipt
from omnichannel.channels._registry import GROUP, Registry, check_adapter_class
from omnichannel.channels.sms import segments as sms_segments
from omnichannel.errors import PluginError, ValidationError
from omnichannel.personalization import (
    RenderedAds,
    RenderedEmail,
    RenderedInApp,
    RenderedPush,
    RenderedSms,
)

__all__ = [
    "SAMPLE_CHANNELS",
    "AdapterConformanceError",
    "check_adapter",
    "registry_check",
    "sample_envelopes",
    "verify_adapter",
]

#: The channels `sample_envelopes` has typed content for (any other gets JSON content).
SAMPLE_CHANNELS = ("email", "sms", "push", "in_app", "webhook", "ads")
#: The ``channel`` of an adapter that takes every channel (as ``omnichannel.channels.local``).
_ANY = "any"


class AdapterConformanceError(AssertionError):
    """An adapter (or its entry point) breaks the adapter protocol; ``problems`` says how.

    Examples:
        >>> err = AdapterConformanceError("Echo", ["send([]) returned None, not a sequence"])
        >>> print(err)
        Echo does not conform to the adapter protocol:
          - send([]) returned None, not a sequence
        >>> isinstance(err, AssertionError), err.problems
        (True, ('send([]) returned None, not a sequence',))

    .. versionadded:: 0.1.0
    """

    subject: str
    problems: tuple[str, ...]

    def __init__(self, subject: str, problems: Iterable[str]) -> None:
        self.subject = subject
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{subject} does not conform to the adapter protocol:\n{lines}")


def _content(channel: str, index: int) -> tuple[str, Content]:
    """An address and a content value for ``channel``, varied by ``index``."""
    if channel == "email":
        return f"person{index}@example.com", RenderedEmail(
            subject=f"Your order #{index} has shipped",
            sender="Shop <news@shop.example>",
            html=f"<p>Order #{index} is on its way.</p>",
            text=f"Order #{index} is on its way.",
            preheader="Track it any time",
            reply_to=None,
        )
    if channel == "sms":
        body = f"Shop: order #{index} has shipped. Reply STOP to opt out."
        # 555-01xx numbers are reserved for fiction: nobody is ever texted.
        return f"+1555555{index % 100:04d}", RenderedSms(body=body, segments=sms_segments(body))
    if channel == "push":
        title, body = "Shipped", f"Order #{index} is on its way"
        payload = {"aps": {"alert": {"title": title, "body": body}}, "deep_link": "shop://o"}
        return f"{index:064x}", RenderedPush(
            title=title,
            body=body,
            deep_link="shop://o",
            image=None,
            payload=json.dumps(payload, separators=(",", ":")).encode(),
        )
    if channel == "in_app":
        return f"profile-{index}", RenderedInApp(
            title="Welcome back",
            body=f"Item #{index} is back in stock",
            cta_label="Shop now",
            cta_url="https://shop.example/items",
            image=None,
        )
    if channel == "ads":
        return "conformance-audience", RenderedAds(
            audience="conformance-audience",
            action="remove" if index % 2 else "add",
            identifiers={"email": (f"person{index}@example.com",)},
        )
    # A webhook's address is a URL: the loopback discard port, so an adapter that
    # posts to the envelope's own address reaches nothing off this machine.
    data: Content = {"event": "order_shipped", "n": index, "channel": channel, "note": "ok ✓"}
    return "http://127.0.0.1:9/conformance", data


def sample_envelopes(channel: object, count: object = 3, *, start: object = 0) -> list[Envelope]:
    """``count`` valid envelopes for an adapter of ``channel``, each with a unique id and key.

    Content is typed for the built-in channels (`SAMPLE_CHANNELS`:
    `RenderedEmail`, `RenderedSms`, `RenderedPush`, `RenderedInApp`, a JSON
    object for ``webhook``, `RenderedAds`); an adapter of channel ``any``
    gets them in turn; any other channel (a plugin's own) gets JSON content.
    Addresses are fictional: ``example.com`` mailboxes, 555-01xx numbers, a
    webhook URL on 127.0.0.1's discard port. ``start`` offsets the numbering
    (and so the ids).

    Examples:
        >>> [(e.channel, e.to) for e in sample_envelopes("sms", 2)]
        [('sms', '+15555550000'), ('sms', '+15555550001')]
        >>> [e.channel for e in sample_envelopes("any", 7)]
        ['email', 'sms', 'push', 'in_app', 'webhook', 'ads', 'email']
        >>> sample_envelopes("chat", 1)[0].content["channel"]
        'chat'

    .. versionadded:: 0.1.0
    """
    if not isinstance(channel, str) or not channel:
        raise ValidationError.one("$.channel", "type", "must be a channel name")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValidationError.one("$.count", "invalid", "must be a non-negative integer")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise ValidationError.one("$.start", "invalid", "must be a non-negative integer")
    found = []
    for index in range(start, start + count):
        own = SAMPLE_CHANNELS[index % len(SAMPLE_CHANNELS)] if channel == _ANY else channel
        to, content = _content(own, index)
        found.append(
            Envelope(
                id=f"conformance-{index}",
                idempotency_key=f"conformance-key-{index}",
                channel=own,
                to=to,
                content=content,
                profile_id=f"conformance-p{index}",
                message="conformance",
                metadata={"campaign": "conformance", "variant": "a" if index % 2 else "b"},
            )
        )
    return found


def _seconds(value: object, *, allow_zero: bool) -> bool:
    """True for a finite, non-negative (or positive) number of seconds; bools are not numbers."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return False
    return value >= 0 if allow_zero else value > 0


def _envelope_list(envelopes: object) -> list[Envelope]:
    if not isinstance(envelopes, Sequence) or isinstance(envelopes, (str, bytes)):
        raise ValidationError.one("$.envelopes", "type", "must be a sequence of Envelope")
    if not envelopes:
        raise ValidationError.one("$.envelopes", "required", "give at least one envelope")
    for index, envelope in enumerate(envelopes):
        if not isinstance(envelope, Envelope):
            raise ValidationError.one(f"$.envelopes[{index}]", "type", "must be an Envelope")
    return list(envelopes)


class _Run:
    """One conformance run: the adapter under test and how to call it."""

    def __init__(
        self,
        adapter: Any,
        subject: str,
        timeout: float,
        expected: Callable[[Envelope], Outcome] | None,
    ) -> None:
        self.adapter = adapter
        self.subject = subject
        self.timeout = timeout
        self.expected = expected

    def fail(self, *problems: str) -> AdapterConformanceError:
        return AdapterConformanceError(self.subject, problems)

    async def call(self, what: str, method: str, *args: object) -> object:
        """Await ``adapter.method(*args)``; anything but a result is a conformance failure."""
        try:
            pending = getattr(self.adapter, method)(*args)
        except Exception as error:
            raise self.fail(f"{what} raised {type(error).__name__}: {error}") from error
        if not inspect.isawaitable(pending):
            raise self.fail(f"{what} returned {type(pending).__name__}, not an awaitable")
        try:
            return await asyncio.wait_for(pending, self.timeout)
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            raise self.fail(f"{what} took over {self.timeout:g} s") from None
        except Exception as error:
            # Provider answers and network failures are receipts: raising is a bug.
            raise self.fail(f"{what} raised {type(error).__name__}: {error}") from error

    async def send(self, batch: Sequence[Envelope], what: str) -> list[Receipt]:
        """Send ``batch`` and check its receipts (count, order, types, fields)."""
        result = await self.call(what, "send", batch)
        if not isinstance(result, Sequence) or isinstance(result, (str, bytes)):
            # A generator or iterator would be consumed by whoever reads it first.
            raise self.fail(f"{what} returned {type(result).__name__}, not a sequence")
        if len(result) != len(batch):
            raise self.fail(
                f"{what} returned {len(result)} receipts for {len(batch)} envelopes "
                "(one receipt per envelope, in order)"
            )
        problems: list[str] = []
        for index, (envelope, receipt) in enumerate(zip(batch, result, strict=True)):
            problems.extend(
                f"{what}: receipt {index} (envelope {envelope.id!r}) {problem}"
                for problem in self._receipt_problems(envelope, receipt)
            )
        if problems:
            raise self.fail(*problems)
        return list(result)

    def _receipt_problems(self, envelope: Envelope, receipt: object) -> list[str]:
        if not isinstance(receipt, Receipt):
            return [f"is a {type(receipt).__name__}, not a Receipt"]
        # Receipt's fields are not validated at run time: read them as whatever they hold.
        fields: dict[str, Any] = attrs.asdict(receipt, recurse=False)
        outcome = fields["outcome"]
        if not isinstance(outcome, Outcome):
            return [f"has outcome {outcome!r}, not an Outcome"]
        problems: list[str] = []
        wait, provider_id = fields["retry_after"], fields["provider_id"]
        if wait is not None:
            if outcome is Outcome.SENT:
                problems.append("is SENT but carries retry_after (only a retry waits)")
            elif not outcome.retryable:
                problems.append(f"is {outcome.name} but carries retry_after (it is never retried)")
            if not _seconds(wait, allow_zero=True):
                problems.append(f"has retry_after {wait!r}, not a finite number of seconds >= 0")
        if provider_id is not None:
            if not isinstance(provider_id, str):
                problems.append(f"has provider_id {provider_id!r}, not a str")
            elif outcome is not Outcome.SENT:
                problems.append(f"is {outcome.name} but carries a provider_id (SENT only)")
        status = fields["status"]
        if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
            problems.append(f"has status {status!r}, not an int")
        if fields["code"] is not None and not isinstance(fields["code"], str):
            problems.append(f"has code {fields['code']!r}, not a str")
        if not isinstance(fields["detail"], str):
            problems.append(f"has detail {fields['detail']!r}, not a str")
        if self.expected is not None:
            want = self.expected(envelope)
            if outcome is not want:
                problems.append(
                    f"is {outcome.name} but {want.name} was expected "
                    "(are receipts in the envelopes' order?)"
                )
        return problems


async def _make(make: Callable[[], object], what: str) -> object:
    try:
        made = make()
        if inspect.isawaitable(made):
            made = await made
    except Exception as error:
        raise AdapterConformanceError(
            what, [f"make() raised {type(error).__name__}: {error}"]
        ) from error
    return made


async def _close_quietly(adapter: Any, timeout: float) -> None:
    """Close an adapter that failed a check, so its connections do not outlive the test."""
    with contextlib.suppress(Exception):
        # The failure being reported matters more than whatever closing says.
        await asyncio.wait_for(adapter.aclose(), timeout)


def _chunks(items: Sequence[Envelope], size: int) -> list[Sequence[Envelope]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _relabelled(envelopes: Sequence[Envelope], count: int, tag: str) -> list[Envelope]:
    """``count`` envelopes cycling ``envelopes``, each with a fresh id and idempotency key."""
    return [
        attrs.evolve(
            envelopes[i % len(envelopes)],
            id=f"{envelopes[i % len(envelopes)].id}-{tag}{i}",
            idempotency_key=f"{envelopes[i % len(envelopes)].idempotency_key}-{tag}{i}",
        )
        for i in range(count)
    ]


async def check_adapter(
    make: Callable[[], Adapter] | Callable[[], Awaitable[Adapter]],
    envelopes: Sequence[Envelope] | None = None,
    *,
    expected: Callable[[Envelope], Outcome] | None = None,
    timeout: float = 30.0,
) -> None:
    """Check that the adapters ``make`` builds keep the adapter protocol, by using them.

    ``make`` builds an adapter (it may be a coroutine function), pointed at
    whatever stands in for its provider in your tests. The checks, in order
    (the first failing one raises):

    1. **Class attributes**: `check_adapter_class` finds nothing wrong with
       the adapter's class (``name`` a str, ``channel`` a valid channel
       name, ``capabilities`` a `Capabilities`, ``send`` and ``aclose``
       ``async def``).
    2. **Empty batch**: ``send([])`` returns an empty sequence and does not
       raise (the relay may flush nothing).
    3. **Receipts**: ``send(batch)`` returns a sequence (not a generator)
       holding exactly one `Receipt` per envelope, each with an `Outcome`.
       Only a retryable outcome carries ``retry_after`` (so a SENT receipt
       never does), as a finite number of seconds >= 0; only a SENT one a
       ``provider_id`` (a str); ``status`` is an int and ``code`` a str when
       given. With ``expected`` (the outcome each envelope must get from
       your provider double), receipt *i* must have the outcome of
       envelope *i*, which is how the order of receipts is checked: vary
       the expected outcome within a batch.
    4. **Batch size**: a batch of exactly ``capabilities.max_batch``
       envelopes (the samples cycled, with fresh ids and idempotency keys)
       gets its receipts, as in 3.
    5. **Reuse**: the same instance sends again (the batch as a tuple this
       time: ``send`` takes any sequence) and answers as in 3.
    6. **Closing**: ``aclose()`` twice is fine, and so is closing a second,
       never-used adapter twice (an adapter must not need a send to close).

    Nothing may raise (a provider's answer or a network failure is a
    receipt) and no call may take more than ``timeout`` seconds.
    ``envelopes`` default to `sample_envelopes` for the adapter's channel;
    more than ``max_batch`` of them are sent in several batches.

    Raises:
        AdapterConformanceError: Naming the check and what was wrong.
        ValidationError: For bad arguments (``$.envelopes``, ``$.timeout``).

    Examples:
        >>> import asyncio
        >>> from omnichannel.channels.local import RecordingAdapter
        >>> rec = RecordingAdapter()
        >>> asyncio.run(check_adapter(lambda: rec))
        >>> rec.batches
        [0, 3, 100, 3]

    .. versionadded:: 0.1.0
    """
    if not _seconds(timeout, allow_zero=False):
        raise ValidationError.one("$.timeout", "invalid", "must be a positive number of seconds")
    given = None if envelopes is None else _envelope_list(envelopes)
    adapter: Any = await _make(make, "the adapter factory")
    cls = type(adapter)
    subject = f"{cls.__module__}.{cls.__qualname__}"
    problems = check_adapter_class(cls)
    if problems:
        raise AdapterConformanceError(subject, problems)
    run = _Run(adapter, subject, float(timeout), expected)
    max_batch: int = adapter.capabilities.max_batch
    batch = given if given is not None else sample_envelopes(adapter.channel, 3)
    try:
        await run.send([], "send([])")
        for part in _chunks(batch, max_batch):
            await run.send(part, f"send() of {len(part)} envelopes")
        full = _relabelled(batch, max_batch, "b")
        await run.send(full, f"send() of a full batch (max_batch={max_batch})")
        for part in _chunks(_relabelled(batch, len(batch), "r"), max_batch):
            await run.send(tuple(part), f"a later send() of {len(part)} envelopes as a tuple")
    except AdapterConformanceError:
        await _close_quietly(adapter, float(timeout))
        raise
    await run.call("aclose()", "aclose")
    await run.call("a second aclose()", "aclose")

    unused = await _make(make, subject)
    spare = _Run(unused, subject, float(timeout), expected)
    await spare.call("aclose() of an adapter that never sent", "aclose")
    await spare.call("a second aclose() of an adapter that never sent", "aclose")


def verify_adapter(
    make: Callable[[], Adapter] | Callable[[], Awaitable[Adapter]],
    envelopes: Sequence[Envelope] | None = None,
    *,
    expected: Callable[[Envelope], Outcome] | None = None,
    timeout: float = 30.0,
) -> None:
    """Run `check_adapter` in a new event loop (for synchronous tests).

    ``make`` is called inside that loop, so it may build clients that need one.

    Examples:
        >>> from omnichannel.channels.local import ConsoleAdapter
        >>> import io
        >>> out = io.StringIO()
        >>> verify_adapter(lambda: ConsoleAdapter(out))
        >>> len(out.getvalue().splitlines())
        506

    .. versionadded:: 0.1.0
    """
    asyncio.run(check_adapter(make, envelopes, expected=expected, timeout=timeout))


def registry_check(name: object, *, registry: Registry | None = None) -> type[Adapter]:
    """Prove the entry point ``name`` is declared, imports, and names a conforming class.

    Uses `Registry.discover` (every installed distribution's
    ``omnichannel.channels`` entry points) unless ``registry`` is given.
    Checks that ``name`` is declared, that `Registry.load` imports it, and
    that the class passes `check_adapter_class` with its ``name`` equal to
    the entry point's. Returns the class.

    Raises:
        AdapterConformanceError: Naming the distribution that declared a
            faulty entry point, and why it is faulty.

    Examples:
        >>> registry_check("console").__name__
        'ConsoleAdapter'

    .. versionadded:: 0.1.0
    """
    if not isinstance(name, str) or not name:
        raise ValidationError.one("$.name", "type", "must be an adapter name")
    found = Registry.discover() if registry is None else registry
    subject = f"entry point {name!r}"
    if name not in found.names():
        known = ", ".join(found.names()) or "none"
        problem = (
            f"no distribution declares {name!r} in the {GROUP!r} entry-point group "
            f"(known: {known}); is the package installed in this environment?"
        )
        raise AdapterConformanceError(subject, [problem])
    try:
        return found.load(name)
    except PluginError as error:
        # The registry's message already names the declaring distribution.
        raise AdapterConformanceError(subject, [f"{error} [{error.code}]"]) from error
