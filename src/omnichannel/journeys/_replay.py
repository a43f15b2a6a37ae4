"""Replay: run journeys over historical events on a simulated clock, offline.

It is the live runtime itself — an Engine on a memory store, delivery with
its policy, the journey runner — driven by a clock that jumps from event to
event and through the waits between them. So it answers what the live run
would have done: who entered, what each would have received on which
channel, what consent, caps and quiet hours held back, and how the people
who got the messages converted against the holdout.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import pendulum

from omnichannel._core import EngineCore
from omnichannel.channels.local import RecordingAdapter
from omnichannel.clock import FixedClock
from omnichannel.delivery import Delivery, Policy
from omnichannel.errors import ValidationError
from omnichannel.ingest import parse_segment
from omnichannel.journeys._machine import Enrollment
from omnichannel.journeys._model import Journey
from omnichannel.journeys._runner import JourneyRunner, StepRecord
from omnichannel.models import Event, Profile
from omnichannel.models._check import positive_seconds
from omnichannel.personalization import Message
from omnichannel.segments import Segment
from omnichannel.store import MemoryStore, OutboxRow

__all__ = ["Replay", "replay"]


@attrs.frozen(kw_only=True)
class Replay:
    """What a journey replay found.

    ``enrollments``: every enrollment at the end (entered, where it stopped,
    its group, converted or not). ``records``: each step's outcome as the
    runner saw it (sends queued or deferred, steps held back, sends the
    policy dropped). ``outbox``: each message's final row, including those
    delivery dropped when sending (caps, consent withdrawn since).

    .. versionadded:: 0.1.0
    """

    enrollments: tuple[Enrollment, ...]
    records: tuple[StepRecord, ...]
    outbox: tuple[OutboxRow, ...]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per journey: entered, converted by group, sends by channel, what was held back and why.

        ``groups`` maps each group (``""`` when the journey has no split,
        ``holdout`` for the held-out) to ``{"entered", "converted", "rate"}``.
        """
        result: dict[str, dict[str, Any]] = {}
        for enrollment in self.enrollments:
            if enrollment.status == "scheduled":
                continue
            journey = result.setdefault(
                enrollment.journey,
                {"entered": 0, "converted": 0, "groups": {}, "sent": Counter(), "held": Counter()},
            )
            journey["entered"] += 1
            group = journey["groups"].setdefault(
                enrollment.group, {"entered": 0, "converted": 0, "rate": 0.0}
            )
            group["entered"] += 1
            if enrollment.status == "converted":
                journey["converted"] += 1
                group["converted"] += 1
        for journey in result.values():
            for group in journey["groups"].values():
                group["rate"] = group["converted"] / group["entered"]
        for record in self.records:
            if record.journey not in result:  # pragma: no cover - every record's is listed
                continue
            journey = result[record.journey]
            if record.kind == "sent":
                journey["sent"][record.channel] += 1
            elif record.kind in ("held", "dropped"):
                journey["held"][record.reason] += 1
            if record.status == "deferred":
                journey["held"]["quiet_hours_deferred"] += 1
        for row in self.outbox:
            journey_key = row.id and _journey_of(row)
            if row.status == "dropped" and journey_key in result:
                journey = result[journey_key]
                journey["held"][f"at_send:{(row.last_error or '').split(':')[0]}"] += 1
        return {
            key: {**value, "sent": dict(value["sent"]), "held": dict(value["held"])}
            for key, value in sorted(result.items())
        }


def _journey_of(row: OutboxRow) -> str:
    metadata = json.loads(row.payload).get("metadata", {})
    return str(metadata.get("journey", ""))


def replay(
    journeys: Iterable[Journey],
    events: Iterable[Event | Mapping[str, Any]],
    *,
    messages: Iterable[Message] | Mapping[str, Message],
    segments: Iterable[Segment] = (),
    policy: Policy | None = None,
    unsubscribe_url: Callable[[Profile], str] | None = None,
    until: pendulum.DateTime | None = None,
    resolution: float = 900.0,
) -> Replay:
    """Run ``journeys`` over historical ``events`` (Segment payloads or Events), offline.

    The simulated clock stops at every event and every ``resolution``
    seconds between them (default 15 minutes: how late a wake-up may run),
    and runs on past the last event to ``until`` (default: seven days
    after it) so waits and timeouts finish. Segments named by entries must
    be in ``segments``. Messages go to a recording adapter, through
    delivery's ``policy`` (consent, quiet hours, caps), never to anyone.

    Raises:
        ValidationError: invalid events, journeys or settings.

    Examples:
        >>> from omnichannel.journeys import library, replay
        >>> found = replay(
        ...     [library.in_store_cart()],
        ...     [],
        ...     messages=library.messages(),
        ...     until=pendulum.datetime(2024, 1, 2),
        ... )
        >>> found.summary()
        {}

    .. versionadded:: 0.1.0
    """
    step = positive_seconds("$.resolution", resolution)
    listed = _messages(messages)
    parsed = _parse(events)
    start = parsed[0].timestamp if parsed else (until or pendulum.now("UTC"))
    end = until or (parsed[-1].timestamp.add(days=7) if parsed else start)
    clock = FixedClock(start)
    engine = EngineCore(MemoryStore(), clock=clock, segments=segments)
    recorder = RecordingAdapter()
    channels = {c for m in listed for c in m.channels} | {"ads"}
    delivery = Delivery(
        engine,
        dict.fromkeys(sorted(channels), recorder),
        policy=policy,
        record_outcomes=False,
        seed=0,
    )
    runner = JourneyRunner(
        engine, delivery, journeys, listed, unsubscribe_url=unsubscribe_url, record=True
    )
    records: list[StepRecord] = []
    at = start
    last_relay = start

    def run_due(moment: pendulum.DateTime) -> None:
        nonlocal last_relay
        report = runner.tick(moment)
        records.extend(report.records)
        # Relay what was queued now, and hourly what quiet hours deferred (caps apply here).
        if report.sends or moment - last_relay >= pendulum.duration(hours=1):
            delivery.relay_sync()
            last_relay = moment

    def advance_to(moment: pendulum.DateTime) -> None:
        nonlocal at
        while at < moment:
            at = min(moment, at.add(seconds=step))
            clock.set(at)
            engine.refresh(at)
            run_due(at)

    for event in parsed:
        advance_to(event.timestamp)
        clock.set(max(at, event.timestamp))
        engine.ingest(event)
        run_due(clock.now())
    advance_to(end)
    return Replay(
        enrollments=tuple(runner.enrollments()),
        records=tuple(records),
        outbox=tuple(delivery.outbox()),
    )


def _messages(messages: Iterable[Message] | Mapping[str, Message]) -> Sequence[Message]:
    return list(messages.values()) if isinstance(messages, Mapping) else list(messages)


def _parse(events: Iterable[Event | Mapping[str, Any]]) -> list[Event]:
    parsed: list[Event] = []
    for n, item in enumerate(events):
        if isinstance(item, Event):
            parsed.append(item)
            continue
        try:
            parsed.append(parse_segment(item))
        except ValidationError as exc:
            raise ValidationError([e.under(f"$.events[{n}]") for e in exc.errors]) from None
    return sorted(parsed, key=lambda e: (e.timestamp, e.message_id))
