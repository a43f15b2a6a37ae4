"""The Engine: the one object a host app holds, in a sync and an async flavour.

`Engine` is `EngineCore` (one person across channels: ingest, identity,
profile state, segments, erase and export) with the rest of the library
wired in: channels (adapters, or their URLs), messages, journeys and the
send policy. It answers the calls a host app makes all day:
``track``/``identify``/``alias``/``ingest``, ``profile``, ``decide`` (what a
page shows this person now), ``send`` (one message, on the person's best
channel), ``tick`` (journeys due, then the outbox), ``refresh``,
``erase``/``export``, and analytics over its own events.

`AsyncEngine` has the same methods as coroutines. It shares the Engine's
brain (as httpx's ``AsyncClient`` shares ``Client``'s): it holds an `Engine`,
runs the store work on one worker thread so the event loop never waits on
SQLite, and relays the outbox on the caller's loop, where async adapters
belong.

Both can be built from Python or from a TOML file (`Engine.from_config`,
see `omnichannel.config`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import attrs
import pendulum

from omnichannel._core import (
    DEFAULT_PATH,
    Committing,
    EngineCore,
    Erasure,
    Explanation,
    IngestResult,
)
from omnichannel._time import format_timestamp, to_utc
from omnichannel.channels import Adapter, Registry
from omnichannel.clock import Clock
from omnichannel.config import load_config
from omnichannel.delivery import Delivery, Policy, RelayReport, SendRequest
from omnichannel.errors import PluginError, ValidationError
from omnichannel.identity import IdentityRules
from omnichannel.journeys import Journey, JourneyRunner, TickReport
from omnichannel.models import Identity, Profile
from omnichannel.personalization import (
    Aborted,
    Campaign,
    Decision,
    Message,
    decide,
    rank_channels,
    render,
)
from omnichannel.segments import Segment, Segmentation, SegmentChange
from omnichannel.state import BUILT_IN, ProfileState, Reducer
from omnichannel.store import Store

__all__ = [
    "DEFAULT_PATH",
    "AsyncEngine",
    "Committing",
    "Engine",
    "EngineCore",
    "Erasure",
    "Explanation",
    "IngestResult",
    "Outbound",
    "Tick",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_JSON = Mapping[str, Any]
#: When a call happened: an aware datetime, an ISO 8601 string, or None for the clock's now.
Stamp = dt.datetime | str | None


@attrs.frozen(kw_only=True)
class Outbound:
    """What `Engine.send` did with one message for one person.

    ``status``: ``queued`` or ``deferred`` (in the outbox: ``id``),
    ``dropped`` (the send policy said no: ``reason``), ``duplicate`` (this
    idempotency key was queued before), ``held`` (the campaign's control
    group), ``no_channel`` (no channel with consent and an address) or
    ``aborted`` (the template called it off).

    .. versionadded:: 0.1.0
    """

    profile_id: str
    message: str
    status: str
    variant: str = ""
    channel: str = ""
    reason: str = ""
    id: str = ""


@attrs.frozen(kw_only=True)
class Tick:
    """What one `Engine.tick` did: the journeys' steps, then the outbox's relay.

    .. versionadded:: 0.1.0
    """

    journeys: TickReport
    relayed: RelayReport


def _unsubscribe(value: Callable[[Profile], str] | str | None) -> Callable[[Profile], str] | None:
    if not isinstance(value, str):
        return value
    if "{profile_id}" not in value:
        raise ValidationError.one(
            "$.unsubscribe_url", "invalid", "must be a callable or a URL with {profile_id}"
        )
    return lambda profile: value.format(profile_id=profile.id)


def _adapters(
    channels: Mapping[str, Adapter | str] | None, registry: Registry | None
) -> dict[str, Adapter]:
    found: dict[str, Adapter] = {}
    for channel, spec in (channels or {}).items():
        if not isinstance(spec, str):
            found[channel] = spec
            continue
        where = f"$.channels.{channel}"
        try:
            found[channel] = (registry or Registry.discover()).create(spec)
        except ValidationError as error:
            # The adapter names "$.url"; the caller knows it as this channel's entry.
            raise ValidationError(e.under(where) for e in error.errors) from None
        except PluginError as error:
            raise ValidationError.one(where, error.code, str(error)) from None
    return found


class Engine(EngineCore):
    """Everything a host app needs in one place: people, segments, messages, journeys, sends.

    Args:
        store: Where everything is kept: a `Store`, a ``postgresql://`` URL
            for a `PostgresStore`, or a path for a `SQLiteStore` (default
            ``omnichannel.db`` in the working directory).
        clock: Where ``now`` comes from (`SystemClock` by default; tests pass
            a `FixedClock`).
        rules: How identifiers are read from events and may merge.
        reducers: The profile-state reducers.
        dedupe_window: A message id seen again within this window is ignored.
        segments: The segments whose memberships the engine keeps current.
        channels: The adapter for each channel (``email``, ``sms``, ``push``,
            ``webhook``, ``any`` for every other one), or its URL
            (``smtp://user:pass@host:587``, ``file:///var/outbox/``): URLs are
            read by the adapter plugins (`omnichannel.channels.Registry`).
        messages: The messages (and campaigns) `send` and the journeys name, by key.
        journeys: The journeys to run (`tick` runs what is due).
        policy: The send policy (consent, quiet hours, caps): `Policy` by default.
        unsubscribe_url: The link a marketing e-mail carries: a callable of
            the profile, or a URL with ``{profile_id}`` in it.
        registry: Where adapter URLs are looked up (the installed plugins by default).

    Examples:
        >>> from omnichannel.store import MemoryStore
        >>> from omnichannel.channels.local import RecordingAdapter
        >>> from omnichannel.personalization import Message, Sms
        >>> recorder = RecordingAdapter()
        >>> engine = Engine(
        ...     MemoryStore(),
        ...     channels={"any": recorder},
        ...     messages=[Message(key="hello", sms=Sms(body="Hi {{ profile | first_name }}"))],
        ... )
        >>> ann = engine.identify(
        ...     "u1",
        ...     traits={"first_name": "Ann", "phone": "+14155550100"},
        ...     timestamp="2024-03-05T10:00:00Z",
        ... ).profile_id
        >>> engine.send("hello", ann, channel="sms", transactional=True).status
        'queued'
        >>> engine.tick().relayed.sent, [e.content.body for e in recorder.sent]
        (1, ['Hi Ann'])

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        store: Store | str | Path | None = None,
        *,
        clock: Clock | None = None,
        rules: IdentityRules | None = None,
        reducers: Sequence[Reducer[Any]] = BUILT_IN,
        dedupe_window: pendulum.Duration | None = None,
        segments: Segmentation | Iterable[Segment] = (),
        channels: Mapping[str, Adapter | str] | None = None,
        messages: Iterable[Message | Campaign] | Mapping[str, Message | Campaign] = (),
        journeys: Iterable[Journey] = (),
        policy: Policy | None = None,
        unsubscribe_url: Callable[[Profile], str] | str | None = None,
        registry: Registry | None = None,
    ) -> None:
        super().__init__(
            store,
            clock=clock,
            rules=rules,
            reducers=reducers,
            dedupe_window=dedupe_window,
            segments=segments,
        )
        listed = list(messages.values()) if isinstance(messages, Mapping) else list(messages)
        for index, item in enumerate(listed):
            if not isinstance(item, (Message, Campaign)):
                raise ValidationError.one(
                    f"$.messages[{index}]", "type", "must be a Message or a Campaign"
                )
        keys = [m.key for m in listed]
        if len(set(keys)) != len(keys):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            raise ValidationError.one("$.messages", "duplicate", f"keys used twice: {twice}")
        #: The messages and campaigns by key.
        self.messages: dict[str, Message | Campaign] = {m.key: m for m in listed}
        self.unsubscribe_url = _unsubscribe(unsubscribe_url)
        #: The send pipeline: policy, outbox and the channels' adapters.
        self.delivery = Delivery(self, _adapters(channels, registry), policy=policy)
        plain = {k: m for k, m in self.messages.items() if isinstance(m, Message)}
        journeys = list(journeys)
        #: The journeys' runner (None when the engine runs no journeys).
        self.runner = (
            JourneyRunner(
                self, self.delivery, journeys, plain, unsubscribe_url=self.unsubscribe_url
            )
            if journeys
            else None
        )

    @classmethod
    def from_config(
        cls, source: str | Path | Mapping[str, Any], *, clock: Clock | None = None
    ) -> Engine:
        """An Engine built from a TOML file (or its parsed table): see `omnichannel.config`.

        Raises:
            ValidationError: every problem in the file, each with its path
                (``$.segments.lapsed.rule``).
        """
        return cls(**load_config(source), clock=clock)

    # --- the Segment Spec calls ---------------------------------------------------------

    def _call(self, kind: str, fields: dict[str, Any], timestamp: Stamp) -> IngestResult:
        payload = {"type": kind, **{k: v for k, v in fields.items() if v is not None}}
        if timestamp is None:
            timestamp = self.clock.now()
        # A string goes to ingest as it is, to be checked there like any payload's.
        payload["timestamp"] = (
            timestamp
            if isinstance(timestamp, str)
            else format_timestamp(to_utc(timestamp, "$.timestamp"))
        )
        return self.ingest(payload)

    def track(
        self,
        event: str,
        user_id: str | None = None,
        *,
        anonymous_id: str | None = None,
        properties: _JSON | None = None,
        context: _JSON | None = None,
        timestamp: Stamp = None,
        message_id: str | None = None,
    ) -> IngestResult:
        """Record that someone did ``event`` (a Segment ``track`` call) at ``timestamp`` (now).

        Raises:
            ValidationError: as `ingest` (nothing stored).
        """
        fields = {
            "event": event,
            "userId": user_id,
            "anonymousId": anonymous_id,
            "properties": properties,
            "context": context,
            "messageId": message_id,
        }
        return self._call("track", fields, timestamp)

    def identify(
        self,
        user_id: str | None = None,
        *,
        anonymous_id: str | None = None,
        traits: _JSON | None = None,
        context: _JSON | None = None,
        timestamp: Stamp = None,
        message_id: str | None = None,
    ) -> IngestResult:
        """Tie identifiers and traits to a person (a Segment ``identify`` call)."""
        fields = {
            "userId": user_id,
            "anonymousId": anonymous_id,
            "traits": traits,
            "context": context,
            "messageId": message_id,
        }
        return self._call("identify", fields, timestamp)

    def alias(
        self,
        user_id: str,
        previous_id: str,
        *,
        timestamp: Stamp = None,
        message_id: str | None = None,
    ) -> IngestResult:
        """Say that ``previous_id`` and ``user_id`` are one person (a Segment ``alias`` call)."""
        fields = {"userId": user_id, "previousId": previous_id, "messageId": message_id}
        return self._call("alias", fields, timestamp)

    # --- deciding and sending -----------------------------------------------------------

    def _person(self, ref: str | Identity) -> tuple[Profile, dict[str, Any]]:
        profile = self.profile(ref)
        subject = None if profile is None else self.subject(profile.id)
        if profile is None or subject is None:
            raise ValidationError.one("$.profile", "unknown", f"no profile for {ref}")
        return profile, subject

    def _message(self, message: str | Message | Campaign) -> Message | Campaign:
        if isinstance(message, (Message, Campaign)):
            return message
        found = self.messages.get(message)
        if found is None:
            known = ", ".join(sorted(self.messages)) or "none"
            raise ValidationError.one("$.message", "unknown", f"no message {message!r} ({known})")
        return found

    def decide(
        self,
        placement: str | Campaign,
        ref: str | Identity,
        context: Mapping[str, Any] | None = None,
        *,
        channel: str = "web",
        recommendations: Sequence[Mapping[str, Any]] = (),
    ) -> Decision:
        """What ``placement`` (a campaign with in-app renditions) shows this person now.

        Request-time personalisation for a page or an app screen: the
        variant (holdout, rules, split) and its in-app content rendered with
        ``context`` (see `omnichannel.personalization.decide`).

        Raises:
            ValidationError: an unknown person or placement.
        """
        campaign = self._message(placement)
        if not isinstance(campaign, Campaign):
            raise ValidationError.one("$.placement", "type", "must name a Campaign")
        profile, subject = self._person(ref)
        return decide(
            profile,
            campaign,
            context,
            now=self.clock.now(),
            subject=subject,
            channel=channel,
            recommendations=recommendations,
        )

    def send(
        self,
        message: str | Message | Campaign,
        ref: str | Identity,
        *,
        channel: str | None = None,
        context: Mapping[str, Any] | None = None,
        recommendations: Sequence[Mapping[str, Any]] = (),
        transactional: bool = False,
        idempotency_key: str | None = None,
        origin: str = "api",
    ) -> Outbound:
        """Send one message (or a campaign's variant) to one person, on their best channel.

        The variant is chosen (a campaign's holdout receives nothing), then
        the channel (``channel``, else the best one with consent and an
        address: `omnichannel.personalization.rank_channels`); the message
        is rendered there and queued through the send policy. `tick` (or
        ``engine.delivery.relay``) hands it to the channel's adapter.

        Raises:
            ValidationError: an unknown person or message, or a ``channel``
                the message has no rendition for.
        """
        chosen = self._message(message)
        profile, subject = self._person(ref)
        now = self.clock.now()
        variant = ""
        if isinstance(chosen, Campaign):
            choice = chosen.choose(profile.id, subject, now)
            if choice.message is None or choice.variant is None:
                return Outbound(
                    profile_id=profile.id, message=chosen.key, status="held", reason=choice.because
                )
            variant, body = choice.variant.key, choice.message
        else:
            body = chosen
        if channel is None:
            ranking = rank_channels(body, profile, now=now, subject=subject)
            best = next((score for score in ranking if score.eligible), None)
            if best is None:
                reasons = "; ".join(f"{s.channel}: {', '.join(s.reasons)}" for s in ranking)
                return Outbound(
                    profile_id=profile.id,
                    message=chosen.key,
                    variant=variant,
                    status="no_channel",
                    reason=reasons,
                )
            channel = best.channel
        unsubscribe = self.unsubscribe_url(profile) if self.unsubscribe_url else None
        result = render(
            body,
            profile,
            now=now,
            channels=[channel],
            subject=subject,
            context=context,
            recommendations=recommendations,
            unsubscribe_url=unsubscribe,
        )
        if isinstance(result, Aborted):
            return Outbound(
                profile_id=profile.id,
                message=chosen.key,
                variant=variant,
                channel=channel,
                status="aborted",
                reason=result.reason,
            )
        # The outbox key is (origin, step, channel, person): the caller's key makes a retried
        # call a duplicate; without one, only a call repeated at the same instant is.
        step = f"{chosen.key}:{idempotency_key or format_timestamp(now)}"
        try:
            request = SendRequest.for_rendered(
                result,
                profile,
                channel,
                origin=origin,
                step=step,
                transactional=transactional,
                metadata={"variant": variant} if variant else None,
            )
        except ValidationError as error:
            if error.errors[0].path != "$.to":  # pragma: no cover - render checked the rest
                raise
            # The person has no address on the channel asked for: a fact, not bad input.
            return Outbound(
                profile_id=profile.id,
                message=chosen.key,
                variant=variant,
                channel=channel,
                status="no_channel",
                reason=error.errors[0].message,
            )
        (sent,) = self.delivery.send([request], now=now, profiles={profile.id: profile})
        return Outbound(
            profile_id=profile.id,
            message=chosen.key,
            variant=variant,
            channel=channel,
            status=sent.status,
            reason=sent.reason,
            id=sent.id,
        )

    # --- the clock ----------------------------------------------------------------------

    def _journeys_due(self, now: pendulum.DateTime | None) -> TickReport:
        return TickReport() if self.runner is None else self.runner.tick(now)

    def tick(self, now: pendulum.DateTime | None = None) -> Tick:
        """Run what is due at ``now`` (the clock's by default): journey steps, then the outbox.

        A worker calls it in a loop (every few seconds); several workers may
        (steps and outbox rows are leased, each runs once).
        """
        journeys = self._journeys_due(now)
        return Tick(journeys=journeys, relayed=self.delivery.relay_sync())

    # --- analytics ----------------------------------------------------------------------

    def event_table(self) -> Any:
        """Every event of every person, one row each (`omnichannel.analytics.event_table`).

        Needs the ``analytics`` extra.
        """
        from omnichannel.analytics import event_table

        return event_table(self)

    def report(self, path: str | Path, **options: Any) -> str:
        """Write the HTML report of the engine's events to ``path`` (`html_report` options).

        Needs the ``analytics`` and ``plots`` extras.
        """
        from omnichannel.analytics import html_report

        return html_report(self.event_table(), path, **options)


class AsyncEngine:
    """`Engine` for async host apps: the same brain, coroutine methods.

    Store work (ingest, reads, journey steps) runs on one worker thread, in
    the order called, so the event loop never waits on the database; the
    outbox is relayed on the caller's event loop, where the adapters' HTTP
    and SMTP clients run. Build it like an `Engine` (the same arguments), or
    around one with `AsyncEngine.wrap`.

    Examples:
        >>> import asyncio
        >>> from omnichannel.store import MemoryStore
        >>> async def main():
        ...     async with AsyncEngine(MemoryStore()) as engine:
        ...         done = await engine.track("Signed Up", "u1", timestamp="2024-03-05T10:00:00Z")
        ...         return sorted(map(str, (await engine.profile(done.profile_id)).identities))
        >>> asyncio.run(main())
        ['user_id:u1']

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        store: Store | str | Path | None = None,
        *,
        engine: Engine | None = None,
        **options: Any,
    ) -> None:
        #: The Engine whose brain this one shares.
        self.sync = engine if engine is not None else Engine(store, **options)
        self._worker = concurrent.futures.ThreadPoolExecutor(1, "omnichannel-engine")

    @classmethod
    def wrap(cls, engine: Engine) -> AsyncEngine:
        """An AsyncEngine over an existing `Engine` (its store, clock and wiring)."""
        return cls(engine=engine)

    @classmethod
    def from_config(
        cls, source: str | Path | Mapping[str, Any], *, clock: Clock | None = None
    ) -> AsyncEngine:
        """An AsyncEngine built from a TOML file, as `Engine.from_config`."""
        return cls.wrap(Engine.from_config(source, clock=clock))

    async def _run(self, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, functools.partial(call, *args, **kwargs))

    async def ingest(self, payload: Any) -> IngestResult:
        """`Engine.ingest`."""
        return await self._run(self.sync.ingest, payload)

    async def ingest_many(self, payloads: Iterable[Any]) -> list[IngestResult]:
        """`Engine.ingest_many`."""
        return await self._run(self.sync.ingest_many, list(payloads))

    async def track(self, event: str, user_id: str | None = None, **fields: Any) -> IngestResult:
        """`Engine.track`."""
        return await self._run(self.sync.track, event, user_id, **fields)

    async def identify(self, user_id: str | None = None, **fields: Any) -> IngestResult:
        """`Engine.identify`."""
        return await self._run(self.sync.identify, user_id, **fields)

    async def alias(self, user_id: str, previous_id: str, **fields: Any) -> IngestResult:
        """`Engine.alias`."""
        return await self._run(self.sync.alias, user_id, previous_id, **fields)

    async def profile(self, ref: str | Identity) -> Profile | None:
        """`Engine.profile`."""
        return await self._run(self.sync.profile, ref)

    async def state(self, ref: str | Identity) -> ProfileState[Any] | None:
        """`Engine.state`."""
        return await self._run(self.sync.state, ref)

    async def segments_of(self, ref: str | Identity) -> frozenset[str]:
        """`Engine.segments_of`."""
        return await self._run(self.sync.segments_of, ref)

    async def members(self, segment: str) -> list[str]:
        """`Engine.members`."""
        return await self._run(self.sync.members, segment)

    async def explain(self, ref: str | Identity) -> Explanation | None:
        """`Engine.explain`."""
        return await self._run(self.sync.explain, ref)

    async def decide(self, placement: str | Campaign, ref: str | Identity, **kw: Any) -> Decision:
        """`Engine.decide`."""
        return await self._run(self.sync.decide, placement, ref, **kw)

    async def send(
        self, message: str | Message | Campaign, ref: str | Identity, **kw: Any
    ) -> Outbound:
        """`Engine.send`."""
        return await self._run(self.sync.send, message, ref, **kw)

    async def tick(self, now: pendulum.DateTime | None = None) -> Tick:
        """`Engine.tick`: journey steps on the worker thread, the outbox on this loop."""
        journeys = await self._run(self.sync._journeys_due, now)  # noqa: SLF001 - one brain
        return Tick(journeys=journeys, relayed=await self.sync.delivery.relay())

    async def refresh(self, now: pendulum.DateTime | None = None) -> list[SegmentChange]:
        """`Engine.refresh`."""
        return await self._run(self.sync.refresh, now)

    async def erase(self, ref: str | Identity) -> Erasure:
        """`Engine.erase`."""
        return await self._run(self.sync.erase, ref)

    async def export(self, ref: str | Identity) -> dict[str, Any]:
        """`Engine.export`."""
        return await self._run(self.sync.export, ref)

    async def aclose(self) -> None:
        """Close the store and stop the worker thread."""
        await self._run(self.sync.close)
        self._worker.shutdown(wait=True)

    async def __aenter__(self) -> AsyncEngine:  # noqa: PYI034 - not meant to be subclassed
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
