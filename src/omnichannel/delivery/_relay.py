"""The send pipeline's shell: decide and enqueue in one transaction; relay the outbox.

One relay round: claim due rows with a lease (transaction 1); check each
against the policy with the profile as stored now, and mark the approved
ones ``sending`` (transaction 2); send them through the adapters, in
batches where the adapter takes batches, paced by a token bucket per
adapter; record every receipt and its outcome event (transaction 3). A
worker that dies anywhere leaves rows whose lease runs out: another round
takes them over; a row that was ``sending`` comes back flagged
``possible_duplicate`` and is retried with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import os
import random
import socket
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

import attrs
import pendulum

from omnichannel._core import EngineCore
from omnichannel._time import to_utc
from omnichannel.channels import Adapter, Envelope, Outcome, Receipt
from omnichannel.channels.local import ANY_CHANNEL
from omnichannel.delivery._feedback import FEEDBACK_EVENTS, Feedback
from omnichannel.delivery._outbox import (
    SendRequest,
    SendResult,
    decode_payload,
    outbox_row,
    outcome_event,
)
from omnichannel.delivery._policy import Action, Policy, SentRecord, Verdict, check_dispatch
from omnichannel.errors import ValidationError
from omnichannel.models import Event, Identity, Profile
from omnichannel.models._check import positive_seconds, whole
from omnichannel.store import OutboxRow, Transaction

__all__ = ["Delivery", "RelayReport", "RetryPolicy", "TokenBucket"]

#: Named points of a send where a hook runs (crash-injection tests stop a worker there).
HOOK_POINTS = (
    "after_decision",
    "after_claim",
    "after_dispatch_check",
    "after_response",
    "after_recording",
)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a message that may be retried is retried: capped exponential backoff, full jitter.

    Attempt ``n`` failing waits a random time between 0 and
    ``min(cap, base * 2 ** (n - 1))`` seconds (AWS's "full jitter"), or
    longer if the provider said (Retry-After). A message is dead-lettered
    after ``max_attempts`` tries or once ``budget`` seconds have passed
    since it was decided, with its last error.

    .. versionadded:: 0.1.0
    """

    max_attempts: int = 8
    base: float = 2.0
    cap: float = 3600.0
    budget: float = 86_400.0

    def __attrs_post_init__(self) -> None:
        whole("$.max_attempts", self.max_attempts, minimum=1)
        for name in ("base", "cap", "budget"):
            positive_seconds(f"$.{name}", getattr(self, name))

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt - 1, 60))
        return max(rng.uniform(0.0, ceiling), retry_after or 0.0)


class TokenBucket:
    """``rate`` requests per second with bursts of up to ``burst``; `take` waits its turn.

    .. versionadded:: 0.1.0
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = positive_seconds("$.rate", rate)
        self.burst = float(whole("$.burst", burst, minimum=1))
        self._tokens = self.burst
        self._stamp: float | None = None
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        """Wait until a token is free, and take it."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            if self._stamp is not None:
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.rate
                await asyncio.sleep(wait)
                self._stamp = loop.time()
                self._tokens = 1.0
            self._tokens -= 1.0


@attrs.frozen(kw_only=True)
class RelayReport:
    """What relay rounds did: how many rows ended how.

    .. versionadded:: 0.1.0
    """

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    dropped: int = 0
    deferred: int = 0
    possible_duplicates: int = 0

    def __add__(self, other: RelayReport) -> RelayReport:
        return RelayReport(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in attrs.fields(RelayReport)
            }
        )


_EVENT_OF_DROP = "Message Dropped"
#: Provider reports about the message, not about something the person did.
_NOT_BY_THE_PERSON = frozenset({"delivered", "bounced", "failed"})


class Delivery:
    """The send pipeline for one Engine: decide and enqueue, then relay through adapters.

    Args:
        engine: Whose store holds the outbox and whose profiles the policy reads.
        adapters: The adapter for each channel (``{"email": SendGridAdapter(...)}``);
            an adapter whose channel is ``"any"`` may serve any channel.
        policy: Consent purposes, quiet hours, caps (`Policy`).
        retry: Backoff and budget (`RetryPolicy`).
        lease: Seconds a worker holds claimed rows before others may take them.
        batch: Rows claimed per round.
        concurrency: Provider calls in flight at once.
        rate_limits: Requests per second per adapter name, overriding the
            adapters' own ``capabilities.rate_limit``.
        record_outcomes: Write outcome events (``Message Sent`` ...) to the
            profiles (default True).
        hook: Called with a point's name at each of `HOOK_POINTS`.
        worker: This worker's name in leases (host:pid by default).
        seed: Seeds the retry jitter (tests).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        engine: EngineCore,
        adapters: Mapping[str, Adapter] | None = None,
        *,
        policy: Policy | None = None,
        retry: RetryPolicy | None = None,
        lease: float = 60.0,
        batch: int = 500,
        concurrency: int = 50,
        rate_limits: Mapping[str, float] | None = None,
        record_outcomes: bool = True,
        hook: Callable[[str], object] | None = None,
        worker: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.adapters = dict(adapters or {})
        for channel, adapter in self.adapters.items():
            if adapter.channel not in (channel, ANY_CHANNEL):
                raise ValidationError.one(
                    f"$.adapters.{channel}",
                    "invalid",
                    f"adapter {adapter.name!r} sends {adapter.channel}, not {channel}",
                )
        self.policy = policy or Policy()
        # Deciding checks everything but caps (they count sends, so sending enforces them):
        # the policy without caps, made once per policy set.
        self._uncapped = (self.policy, attrs.evolve(self.policy, caps=()))
        self.retry = retry or RetryPolicy()
        self.lease = positive_seconds("$.lease", lease)
        self.batch = whole("$.batch", batch, minimum=1)
        self.concurrency = whole("$.concurrency", concurrency, minimum=1)
        self.record_outcomes = record_outcomes
        self.hook = hook or (lambda _point: None)
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not a secret
        # One bucket per adapter instance (shared by the channels it serves), in this worker.
        self._buckets: dict[int, TokenBucket] = {}
        for adapter in self.adapters.values():
            rate = (rate_limits or {}).get(adapter.name, adapter.capabilities.rate_limit)
            if rate is not None and id(adapter) not in self._buckets:
                self._buckets[id(adapter)] = TokenBucket(rate, adapter.capabilities.burst)

    # --- deciding -----------------------------------------------------------------------

    def send(
        self,
        requests: Iterable[SendRequest],
        *,
        tx: Transaction | None = None,
        now: pendulum.DateTime | None = None,
        profiles: Mapping[str, Profile] | None = None,
    ) -> list[SendResult]:
        """Decide each request against the policy at ``now`` and enqueue those that may go.

        All rows are written in one transaction (``tx``, when the caller
        records its own decision in the same one: a journey step and its
        message commit together). A request the policy drops is not queued;
        one in quiet hours is queued for the window's end. ``now`` defaults
        to the engine's clock; ``profiles`` are the people as the caller
        already read them in ``tx`` (they are not read again).
        """
        items = list(requests)
        for index, item in enumerate(items):
            if not isinstance(item, SendRequest):
                raise ValidationError.one(f"$[{index}]", "type", "must be a SendRequest")
        at = to_utc(now, "$.now") if now is not None else self.engine.clock.now()
        if tx is None:
            with self.store.transaction() as own:
                results = self._enqueue(own, items, at, profiles or {})
        else:
            results = self._enqueue(tx, items, at, profiles or {})
        self.hook("after_decision")
        return results

    def _enqueue(
        self,
        tx: Transaction,
        items: list[SendRequest],
        now: pendulum.DateTime,
        profiles: Mapping[str, Profile],
    ) -> list[SendResult]:
        checks = [(r.profile_id, r.channel, r.purpose, r.transactional, r.to) for r in items]
        # Caps count sends, so they are enforced when sending; deciding checks the rest.
        verdicts = self._check(tx, checks, now, caps=False, known=profiles)
        rows: list[OutboxRow] = []
        results: list[SendResult] = []
        for request, verdict in zip(items, verdicts, strict=True):
            if verdict.action is Action.DROP:
                results.append(
                    SendResult(
                        id=request.key, status="dropped", code=verdict.code, reason=verdict.reason
                    )
                )
                continue
            due = verdict.until if verdict.until is not None else now
            if request.not_before is not None:
                due = max(due, to_utc(request.not_before, "$.not_before"))
            rows.append(outbox_row(request, now, due))
            deferred = due > now
            results.append(
                SendResult(
                    id=request.key,
                    status="deferred" if deferred else "queued",
                    code=verdict.code,
                    reason=verdict.reason,
                    until=due if deferred else None,
                )
            )
        added = iter(tx.enqueue(rows))
        for index, result in enumerate(results):
            if result.status in ("queued", "deferred") and not next(added):
                results[index] = attrs.evolve(
                    result, status="duplicate", reason="already queued", until=None
                )
        return results

    def _check(
        self,
        tx: Transaction,
        items: Sequence[tuple[str, str, str, bool, str]],
        now: pendulum.DateTime,
        *,
        caps: bool = True,
        known: Mapping[str, Profile] | None = None,
    ) -> list[Verdict]:
        """Policy verdicts for (profile, channel, purpose, transactional, address) at ``now``.

        Sends approved earlier in the same call count towards the caps of
        later ones, so a batch cannot break a cap between itself.
        """
        profile_ids = {item[0] for item in items}
        given = known or {}
        profiles = {
            pid: given[pid] if pid in given else self.engine.profile(pid) for pid in profile_ids
        }
        invalid = tx.invalid_addresses({item[4] for item in items})
        history: dict[str, list[SentRecord]] = {pid: [] for pid in profile_ids}
        policy = self.policy
        if not caps and policy.caps:
            if self._uncapped[0] is not policy:
                self._uncapped = (policy, attrs.evolve(policy, caps=()))
            policy = self._uncapped[1]
        if policy.caps:
            # Eight days cover a rolling week plus a calendar day in any zone.
            for pid, sends in tx.dispatches(profile_ids, now.subtract(days=8)).items():
                history[pid] = [SentRecord(channel=c, at=pendulum.instance(at)) for c, at in sends]
        verdicts = []
        for pid, channel, purpose, transactional, address in items:
            verdict = check_dispatch(
                profile=profiles[pid],
                channel=channel,
                purpose=purpose,
                transactional=transactional,
                address=address,
                now=now,
                policy=policy,
                sent=history[pid],
                invalid=invalid,
            )
            if verdict.action is Action.SEND and not transactional:
                history[pid].append(SentRecord(channel=channel, at=now))
            verdicts.append(verdict)
        return verdicts

    # --- feedback -----------------------------------------------------------------------

    def record_feedback(self, reports: Iterable[Feedback]) -> list[bool]:
        """Write provider reports as events on the people they concern, in one transaction.

        A hard bounce also marks the address invalid (later sends are
        dropped as unreachable); a complaint or an unsubscription revokes
        marketing consent on the channel (as ``Unsubscribed``). A report
        repeated by the provider is stored once (its event id is the
        event's message id). Returns, per report, whether its message was
        found in the outbox; reports about unknown messages are skipped.
        """
        items = list(reports)
        for index, item in enumerate(items):
            if not isinstance(item, Feedback):
                raise ValidationError.one(f"$[{index}]", "type", "must be a Feedback")
        events: list[Event] = []
        found: list[bool] = []
        with self.store.transaction() as tx:
            rows = tx.outbox_by_id({item.outbox_id for item in items})
            for item in items:
                row = rows.get(item.outbox_id)
                found.append(row is not None)
                if row is None:
                    continue
                if item.kind == "bounced" and item.hard:
                    tx.mark_invalid(row.to, row.channel, item.at, item.detail or "hard bounce")
                data: dict[str, Any] = {"kind": item.kind, "provider_event_id": item.event_id}
                data.update({"detail": item.detail} if item.detail else {})
                data.update({"url": item.url} if item.url else {})
                data.update(
                    {"address": row.to, "hard": item.hard} if item.kind == "bounced" else {}
                )
                _, _, actor = decode_payload(row.channel, row.payload)
                name = FEEDBACK_EVENTS[item.kind]
                suffix = f"feedback:{item.event_id}"
                by_person = item.kind not in _NOT_BY_THE_PERSON
                events.append(
                    outcome_event(name, row, actor, item.at, suffix, by_person=by_person, **data)
                )
            if events:
                self._write_outcomes(events)
        return found

    def _write_outcomes(self, events: list[Event]) -> None:
        """Ingest outcome events, except about people erased since (it would bring them back)."""
        erased: dict[tuple[str, str], bool] = {}
        kept = []
        for event in events:
            # Outcome events are built with an actor: a user id, else an anonymous id.
            kind = "user_id" if event.user_id else "anonymous_id"
            value = event.user_id or event.anonymous_id or ""
            if (kind, value) not in erased:
                erased[kind, value] = self.engine.is_suppressed(Identity(kind=kind, value=value))
            if not erased[kind, value]:
                kept.append(event)
        if kept:
            self.engine.ingest_many(kept)

    # --- relaying -----------------------------------------------------------------------

    def outbox(self, status: str | None = None) -> list[OutboxRow]:
        """The outbox's rows (of one status, or all), oldest first."""
        with self.store.transaction() as tx:
            return tx.outbox(status)

    async def relay(self, *, rounds: int | None = None) -> RelayReport:
        """Relay due rows until none is due (or ``rounds`` rounds ran); report what happened."""
        report = RelayReport()
        done = 0
        while rounds is None or done < rounds:
            step = await self.relay_once()
            report += step
            done += 1
            if step.claimed == 0:
                break
        return report

    def relay_sync(self, *, rounds: int | None = None) -> RelayReport:
        """`relay` for synchronous callers (a script, a notebook cell)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.relay(rounds=rounds))
        # This thread runs an event loop already (a Jupyter kernel): relay on a loop of its own.
        with concurrent.futures.ThreadPoolExecutor(1) as helper:
            return helper.submit(asyncio.run, self.relay(rounds=rounds)).result()

    async def relay_once(self) -> RelayReport:
        """One round: claim, check, send, record (see the module docstring)."""
        now = self.engine.clock.now()
        lease_until = now.add(seconds=self.lease)
        with self.store.transaction() as tx:
            claimed = tx.claim(now, lease_until, self.worker, self.batch)
        self.hook("after_claim")
        if not claimed:
            return RelayReport()
        sending, report = self._dispatch_check(claimed, now, lease_until)
        self.hook("after_dispatch_check")
        receipts = await self._send_all(sending)
        self.hook("after_response")
        report += self._record(sending, receipts)
        self.hook("after_recording")
        return attrs.evolve(report, claimed=len(claimed))

    def _adapter_for(self, channel: str) -> Adapter | None:
        return self.adapters.get(channel) or self.adapters.get(ANY_CHANNEL)

    def _dispatch_check(
        self, claimed: list[OutboxRow], now: pendulum.DateTime, lease_until: dt.datetime
    ) -> tuple[list[OutboxRow], RelayReport]:
        sending: list[OutboxRow] = []
        changed: list[OutboxRow] = []
        events: list[Event] = []
        dropped = deferred = duplicates = 0
        with self.store.transaction() as tx:
            verdicts = self._check(
                tx,
                [(r.profile_id, r.channel, r.purpose, r.transactional, r.to) for r in claimed],
                now,
            )
            for row, checked in zip(claimed, verdicts, strict=True):
                verdict = checked
                if verdict.action is Action.SEND and self._adapter_for(row.channel) is None:
                    verdict = Verdict(
                        action=Action.DEFER,
                        code="no_adapter",
                        reason=f"no adapter for {row.channel}",
                        until=now.add(seconds=self.lease),
                    )
                if verdict.action is Action.SEND:
                    duplicates += row.possible_duplicate
                    updated = attrs.evolve(
                        row,
                        status="sending",
                        attempts=row.attempts + 1,
                        dispatched_at=now,
                        lease_until=lease_until,
                    )
                    sending.append(updated)
                elif verdict.until is not None:
                    deferred += 1
                    updated = attrs.evolve(
                        row, status="pending", due_at=verdict.until, lease_until=None, worker=None
                    )
                else:
                    dropped += 1
                    updated = attrs.evolve(
                        row, status="dropped", lease_until=None, last_error=verdict.reason
                    )
                    if self.record_outcomes:
                        _, _, actor = decode_payload(row.channel, row.payload)
                        events.append(
                            outcome_event(
                                _EVENT_OF_DROP,
                                row,
                                actor,
                                now,
                                "dropped",
                                code=verdict.code,
                                reason=verdict.reason,
                            )
                        )
                changed.append(updated)
            tx.put_outbox(changed)
            if events:
                self._write_outcomes(events)
        return sending, RelayReport(
            dropped=dropped, deferred=deferred, possible_duplicates=duplicates
        )

    async def _send_all(self, rows: list[OutboxRow]) -> list[Receipt]:
        receipts: list[Receipt | None] = [None] * len(rows)
        # Grouped by adapter instance: two adapters of one kind (two SMTP relays) stay apart.
        groups: dict[int, tuple[Adapter, list[int]]] = {}
        for index, row in enumerate(rows):
            adapter = self._adapter_for(row.channel)
            if adapter is not None:  # the dispatch check deferred rows without one
                groups.setdefault(id(adapter), (adapter, []))[1].append(index)
        gate = asyncio.Semaphore(self.concurrency)

        async def deliver(adapter: Adapter, indexes: list[int]) -> None:
            envelopes = [_envelope(rows[i]) for i in indexes]
            bucket = self._buckets.get(id(adapter))
            async with gate:
                if bucket is not None:
                    await bucket.take()
                try:
                    answers = list(await adapter.send(envelopes))
                except Exception as error:  # noqa: BLE001 - an adapter bug must not lose the rows
                    detail = f"adapter {adapter.name} raised {type(error).__name__}: {error}"
                    answers = [_adapter_error(detail)] * len(envelopes)
            if len(answers) != len(envelopes):
                detail = f"adapter {adapter.name} gave {len(answers)} receipts for {len(envelopes)}"
                answers = [_adapter_error(detail)] * len(envelopes)
            for i, answer in zip(indexes, answers, strict=True):
                receipts[i] = answer

        jobs: list[Coroutine[Any, Any, None]] = []
        for adapter, indexes in groups.values():
            size = adapter.capabilities.max_batch
            jobs.extend(
                deliver(adapter, indexes[start : start + size])
                for start in range(0, len(indexes), size)
            )
        await asyncio.gather(*jobs)
        # Every row got an answer: each index belongs to exactly one job.
        return [r or _adapter_error("no answer") for r in receipts]

    def _record(self, rows: list[OutboxRow], receipts: list[Receipt]) -> RelayReport:
        if not rows:
            return RelayReport()
        now = self.engine.clock.now()
        counts = dict.fromkeys(("sent", "retried", "failed", "dead"), 0)
        changed: list[OutboxRow] = []
        events: list[Event] = []
        with self.store.transaction() as tx:
            for row, receipt in zip(rows, receipts, strict=True):
                updated, spec = self._settle(tx, row, receipt, now)
                counts[_COUNTED[updated.status]] += 1
                changed.append(updated)
                # A provider's opt-out changes consent: it is written even without outcome events.
                if spec is not None and (self.record_outcomes or spec[0] == "Unsubscribed"):
                    name, suffix, data = spec
                    _, _, actor = decode_payload(row.channel, row.payload)
                    events.append(outcome_event(name, row, actor, now, suffix, **data))
            tx.put_outbox(changed)
            if events:
                self._write_outcomes(events)
        return RelayReport(**counts)

    def _settle(
        self, tx: Transaction, row: OutboxRow, receipt: Receipt, now: pendulum.DateTime
    ) -> tuple[OutboxRow, _Outcome | None]:
        """The row after ``receipt``, and the outcome event it calls for (name, id suffix, data)."""
        outcome = receipt.outcome
        detail = receipt.detail or outcome.value
        error = f"{outcome.value}: {detail}" + (f" [{receipt.code}]" if receipt.code else "")
        if outcome is Outcome.SENT:
            done = attrs.evolve(
                row, status="sent", provider_id=receipt.provider_id, lease_until=None
            )
            data = {
                "provider_id": receipt.provider_id,
                "attempt": row.attempts,
                "possible_duplicate": row.possible_duplicate,
            }
            return done, ("Message Sent", "sent", data)
        if outcome.retryable:
            age = (now - pendulum.instance(row.created_at)).total_seconds()
            wait = self.retry.delay(row.attempts, self._rng, receipt.retry_after)
            if row.attempts < self.retry.max_attempts and age + wait <= self.retry.budget:
                retry = attrs.evolve(
                    row,
                    status="pending",
                    due_at=now + dt.timedelta(seconds=wait),
                    lease_until=None,
                    worker=None,
                    last_error=error,
                )
                return retry, None
            dead = attrs.evolve(row, status="dead", lease_until=None, last_error=error)
            data = {"reason": "retry budget exhausted", "last_error": error}
            return dead, ("Message Failed", f"dead:{row.attempts}", data)
        failed = attrs.evolve(row, status="failed", lease_until=None, last_error=error)
        if outcome is Outcome.INVALID_ADDRESS:
            tx.mark_invalid(row.to, row.channel, now, detail)
            return failed, ("Message Bounced", "bounced", {"address": row.to, "reason": detail})
        if outcome is Outcome.OPTED_OUT:
            # The consent reducer reads Unsubscribed as a revocation of marketing on the channel.
            return failed, ("Unsubscribed", "opted_out", {"source": "provider", "reason": detail})
        return failed, ("Message Failed", "failed", {"reason": detail, "last_error": error})


#: An outcome event to write: its name, its message id's suffix, its properties.
_Outcome = tuple[str, str, dict[str, Any]]


def _adapter_error(detail: str) -> Receipt:
    # The request may have reached the provider before the adapter failed.
    return Receipt(outcome=Outcome.RETRY_AMBIGUOUS, code="adapter_error", detail=detail)


_COUNTED = {"sent": "sent", "pending": "retried", "failed": "failed", "dead": "dead"}


def _envelope(row: OutboxRow) -> Envelope:
    content, metadata, _ = decode_payload(row.channel, row.payload)
    return Envelope(
        id=row.id,
        idempotency_key=row.id,
        channel=row.channel,
        to=row.to,
        content=content,
        profile_id=row.profile_id,
        message=row.message,
        attempt=row.attempts,
        metadata=metadata,
    )
