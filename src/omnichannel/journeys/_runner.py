"""The journey runtime: the imperative shell around the state machine.

It enters, moves and ends enrollments inside each ingest's transaction (an
`Engine` hook), and `tick` runs the enrollments whose time has come, one
transaction per batch: an enrollment's new state, its outbox rows and its
profile updates commit together, so each step's effect happens once even
when a worker stops between steps.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pendulum

from omnichannel._convert import converter
from omnichannel._gc import collector_paused
from omnichannel.delivery import SendRequest
from omnichannel.delivery._outbox import actor_of, audience_identifiers
from omnichannel.errors import FieldError, ValidationError
from omnichannel.journeys._machine import (
    Advance,
    Enrollment,
    HeldBack,
    LastSend,
    Left,
    SendCommand,
    Situation,
    UpdateCommand,
    enter,
    matches,
    may_enter,
    next_date,
    observe,
    run,
)
from omnichannel.journeys._model import Journey, OnDate, OnEvent, OnSegment, Send, WaitFor
from omnichannel.models import Event, EventType, Profile
from omnichannel.personalization import Aborted, Message, RenderedAds, render
from omnichannel.segments import subject_of
from omnichannel.store import EnrollmentRow, Transaction

if TYPE_CHECKING:
    from omnichannel._core import Committing, EngineCore
    from omnichannel.delivery import Delivery

__all__ = ["JourneyRunner", "StepRecord", "TickReport"]

log = logging.getLogger("omnichannel.journeys")

#: Feedback events that tell an enrollment its last message was opened or clicked.
_ENGAGEMENT = ("Message Opened", "Message Clicked")


@attrs.frozen(kw_only=True)
class StepRecord:
    """One thing a tick did for one enrollment (what replays and reports read).

    ``kind``: ``sent`` (queued, or deferred by quiet hours: see
    ``status``), ``dropped`` (delivery's policy said no: ``reason``),
    ``held`` (the step did nothing: ``no_channel``, ``holdout``,
    ``aborted``), ``updated``, ``entered``, ``converted``, ``exited``.

    .. versionadded:: 0.1.0
    """

    at: pendulum.DateTime
    journey: str
    enrollment: str
    profile_id: str
    kind: str
    step: str = ""
    channel: str = ""
    message: str = ""
    status: str = ""
    reason: str = ""
    group: str = ""


@attrs.frozen(kw_only=True)
class TickReport:
    """What one `JourneyRunner.tick` did.

    .. versionadded:: 0.1.0
    """

    enrollments: int = 0
    steps: int = 0
    sends: int = 0
    records: tuple[StepRecord, ...] = ()


class JourneyRunner:
    """Runs journeys for one Engine, sending through one `Delivery`.

    Args:
        engine: Whose events enter, move and end enrollments (the runner
            hooks into its transactions) and whose store keeps them.
        delivery: The send pipeline the journeys' messages go through (it
            checks consent, quiet hours and caps again when it sends).
        journeys: The journeys to run (keys unique).
        messages: The messages their send steps name, by key.
        unsubscribe_url: The link marketing e-mails carry, for a person.
        batch: Enrollments run per transaction by `tick`.
        record: Keep each tick's `StepRecord` list in its report (replays do).

    Raises:
        ValidationError: a journey names a message, channel or segment that
            does not exist (with the path: ``$.journeys[1].steps[0].message``).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        engine: EngineCore,
        delivery: Delivery,
        journeys: Iterable[Journey],
        messages: Iterable[Message] | Mapping[str, Message],
        *,
        unsubscribe_url: Callable[[Profile], str] | None = None,
        batch: int = 200,
        record: bool = False,
    ) -> None:
        self.engine = engine
        self.delivery = delivery
        listed = list(messages.values()) if isinstance(messages, Mapping) else list(messages)
        self.messages = {m.key: m for m in listed}
        self.journeys: dict[str, Journey] = {}
        self.unsubscribe_url = unsubscribe_url
        self.batch = batch
        self.record = record
        # Profiles updated by the tick batch running now (their enrollments are read again).
        self._updated: set[str] = set()
        self._check(list(journeys))
        self._by_entry_event: dict[str, list[Journey]] = {}
        self._by_segment: dict[str, list[Journey]] = {}
        self._dated = [j for j in self.journeys.values() if isinstance(j.entry, OnDate)]
        # Event names that may matter to an open enrollment: a goal, an exit, a wait-for.
        self._watched: set[str] = set(_ENGAGEMENT)
        for journey in self.journeys.values():
            entry = journey.entry
            if isinstance(entry, OnEvent):
                self._by_entry_event.setdefault(entry.event, []).append(journey)
            elif isinstance(entry, OnSegment):
                self._by_segment.setdefault(entry.segment, []).append(journey)
            triggers = [journey.goal, *journey.exit_on] if journey.goal else journey.exit_on
            self._watched.update(t.event for t in triggers)
            self._watched.update(s.event for s in journey.steps if isinstance(s, WaitFor))
        engine.add_hook(self._observe)

    def _check(self, journeys: list[Any]) -> None:
        errors: list[FieldError] = []
        segments = {s.key for s in self.engine.segmentation.segments}
        for n, journey in enumerate(journeys):
            where = f"$.journeys[{n}]"
            if not isinstance(journey, Journey):
                errors.append(FieldError(path=where, code="type", message="must be a Journey"))
                continue
            if journey.key in self.journeys:
                errors.append(
                    FieldError(path=f"{where}.key", code="duplicate", message="used twice")
                )
            self.journeys[journey.key] = journey
            entry = journey.entry
            if isinstance(entry, OnSegment) and entry.segment not in segments:
                errors.append(
                    FieldError(
                        path=f"{where}.entry.segment",
                        code="unknown_segment",
                        message=f"the engine has no segment {entry.segment!r}",
                    )
                )
            for k, step in enumerate(journey.steps):
                if isinstance(step, Send):
                    errors.extend(self._send_problems(step, f"{where}.steps[{k}]"))
        if errors:
            raise ValidationError(errors)

    def _send_problems(self, step: Send, where: str) -> list[FieldError]:
        message = self.messages.get(step.message)
        if message is None:
            return [
                FieldError(
                    path=f"{where}.message",
                    code="unknown_message",
                    message=f"no message has the key {step.message!r}",
                )
            ]
        errors = [
            FieldError(
                path=f"{where}.channels[{n}]",
                code="unknown_channel",
                message=f"message {message.key!r} has no {channel!r} rendition",
            )
            for n, channel in enumerate(step.channels)
            if channel not in message.channels
        ]
        if "email" in message.channels and not message.transactional and not self.unsubscribe_url:
            errors.append(
                FieldError(
                    path=f"{where}.message",
                    code="required",
                    message="a marketing e-mail needs the runner's unsubscribe_url",
                )
            )
        return errors

    # --- inside ingest transactions -----------------------------------------------------

    def _observe(self, committing: Committing) -> None:
        """Enter, move and end enrollments for what this transaction is about to commit."""
        tx, now = committing.tx, committing.now
        for absorbed, survivor in committing.moved.items():
            self._move(tx, absorbed, survivor, now)
        entered: dict[str, list[str]] = {}
        for change in committing.changes:
            if change.entered and change.segment in self._by_segment:
                entered.setdefault(change.profile_id, []).append(change.segment)
        for profile_id in sorted(set(committing.events) | set(entered)):
            events = [
                e
                for e in committing.events.get(profile_id, ())
                if e.name in self._watched
                or e.name in self._by_entry_event
                or (self._dated and e.type is EventType.IDENTIFY)
            ]
            segments = entered.get(profile_id, [])
            if not events and not segments:
                continue
            state = committing.states.get(profile_id)
            traits = state.traits if state is not None else {}
            # The zone as everything else reads it (trait, else the events' context).
            zone = subject_of(profile_id, state)["timezone"] if state is not None else None
            self._react(tx, profile_id, events, segments, traits, zone, now)

    def _react(  # noqa: PLR0917 - internal, called once
        self,
        tx: Transaction,
        profile_id: str,
        events: list[Event],
        segments: list[str],
        traits: Mapping[str, Any],
        zone: str | None,
        now: pendulum.DateTime,
    ) -> None:
        rows = tx.enrollments_of([profile_id])
        mine = {row.id: _decode(row.state) for row in rows}
        changed: dict[str, Enrollment] = {}
        for event in sorted(events, key=lambda e: (e.timestamp, e.message_id)):
            name, properties = event.name or "", event.properties
            for key, enrollment in list(mine.items()):
                journey = self.journeys.get(enrollment.journey)
                if journey is None or not enrollment.open:
                    continue
                advance = observe(journey, enrollment, name, properties, traits, now)
                if advance is not None:
                    mine[key] = changed[key] = advance.enrollment
            for journey in self._by_entry_event.get(name, ()):
                assert isinstance(journey.entry, OnEvent)  # noqa: S101 - indexed by entry
                if matches(journey.entry, name, properties, None, traits, now):
                    self._enter(journey, profile_id, mine, changed, now, dict(properties))
        for segment in segments:
            for journey in self._by_segment[segment]:
                self._enter(journey, profile_id, mine, changed, now, {"segment": segment})
        if self._dated and any(e.type is EventType.IDENTIFY for e in events):
            subject = {"traits": traits, "timezone": zone}
            for journey in self._dated:
                self._schedule_date(journey, profile_id, subject, mine, changed, now)
        tx.put_enrollments(self._row(e) for e in changed.values())

    def _enter(  # noqa: PLR0917 - internal
        self,
        journey: Journey,
        profile_id: str,
        mine: dict[str, Enrollment],
        changed: dict[str, Enrollment],
        now: pendulum.DateTime,
        context: Mapping[str, Any],
    ) -> Enrollment | None:
        previous = [e for e in mine.values() if e.journey == journey.key]
        if not may_enter(journey, previous, now):
            return None
        number = 1 + len([e for e in previous if e.status != "scheduled"])
        enrollment = enter(journey, profile_id, now, number=number, context=context)
        mine[enrollment.id] = changed[enrollment.id] = enrollment
        log.debug("journey %s: %s entered", journey.key, enrollment.id)
        return enrollment

    def _schedule_date(  # noqa: PLR0917 - internal
        self,
        journey: Journey,
        profile_id: str,
        subject: Mapping[str, Any],
        mine: dict[str, Enrollment],
        changed: dict[str, Enrollment],
        now: pendulum.DateTime,
    ) -> None:
        """Keep the person's date-entry placeholder due at the next occurrence of their date."""
        assert isinstance(journey.entry, OnDate)  # noqa: S101 - only dated journeys come here
        key = f"{journey.key}:{profile_id}:next"
        at = next_date(journey.entry, subject, now)
        current = mine.get(key)
        if at is None:
            if current is not None and current.open:
                mine[key] = changed[key] = attrs.evolve(
                    current, status="exited", wake_at=None, exit_reason="no_date", updated_at=now
                )
            return
        if current is not None and current.open and current.wake_at == at:
            return
        placeholder = Enrollment(
            id=key,
            journey=journey.key,
            profile_id=profile_id,
            status="scheduled",
            step=None,
            entered_at=now,
            updated_at=now,
            wake_at=at,
        )
        mine[key] = changed[key] = placeholder

    def _move(self, tx: Transaction, absorbed: str, survivor: str, now: pendulum.DateTime) -> None:
        """A merge (or a renamed profile): its enrollments continue as the survivor's.

        Where the survivor is already in the same journey (and it does not
        allow several at once), the absorbed one's enrollment ends (``merged``).
        """
        theirs = [_decode(r.state) for r in tx.enrollments_of([absorbed])]
        ours = [_decode(r.state) for r in tx.enrollments_of([survivor])]
        busy = {e.journey for e in ours if e.open and e.status != "scheduled"}
        moved = []
        for enrollment in theirs:
            journey = self.journeys.get(enrollment.journey)
            duplicate = (
                journey is not None
                and not journey.concurrent
                and enrollment.journey in busy
                and enrollment.status != "scheduled"
            )
            ended = (
                attrs.evolve(
                    enrollment, status="exited", wake_at=None, exit_reason="merged", updated_at=now
                )
                if enrollment.open and duplicate
                else enrollment
            )
            moved.append(attrs.evolve(ended, profile_id=survivor))
        tx.put_enrollments(self._row(e) for e in moved)

    # --- ticking ------------------------------------------------------------------------

    def tick(self, now: pendulum.DateTime | None = None) -> TickReport:
        """Run every enrollment due at ``now`` (default: the engine's clock).

        Batches of ``batch`` enrollments, one transaction each: what a batch
        decided (enrollment states, outbox rows, profile updates) commits
        together. The cost follows what is due, not how many are enrolled.
        """
        at = now or self.engine.clock.now()
        report = TickReport()
        with collector_paused():
            while True:
                # Several runners may tick one store: a batch that lost a race runs again.
                batch = self.engine.atomically(functools.partial(self._tick_batch, at=at))
                report = TickReport(
                    enrollments=report.enrollments + batch.enrollments,
                    steps=report.steps + batch.steps,
                    sends=report.sends + batch.sends,
                    records=(*report.records, *batch.records) if self.record else (),
                )
                if batch.enrollments < self.batch:
                    return report

    def _tick_batch(self, tx: Transaction, *, at: pendulum.DateTime) -> TickReport:
        """Run one batch of due enrollments in ``tx``: what it did, as a report."""
        due = tx.due_enrollments(at, self.batch)
        records: list[StepRecord] = []
        steps = sends = 0
        self._updated = set()
        for row in due:
            enrollment = _decode(row.state)
            if enrollment.profile_id in self._updated:
                # An earlier update in this batch may have moved it (a goal).
                enrollment = self._reread(tx, enrollment)
            took, sent = self._run_one(tx, enrollment, at, records)
            steps += took
            sends += sent
        return TickReport(enrollments=len(due), steps=steps, sends=sends, records=tuple(records))

    def _reread(self, tx: Transaction, enrollment: Enrollment) -> Enrollment:
        for row in tx.enrollments_of([enrollment.profile_id]):
            if row.id == enrollment.id:
                return _decode(row.state)
        return enrollment  # pragma: no cover - enrollments are never deleted in a tick

    def _run_one(
        self,
        tx: Transaction,
        enrollment: Enrollment,
        now: pendulum.DateTime,
        records: list[StepRecord],
    ) -> tuple[int, int]:
        """Run one due enrollment; return (steps taken, messages queued)."""
        journey = self.journeys.get(enrollment.journey)
        if journey is None:
            self._close(tx, enrollment, "journey_removed", now, records)
            return 0, 0
        if enrollment.status == "scheduled":
            person = self.engine.profile(enrollment.profile_id)
            if person is None:
                self._close(tx, enrollment, "profile_gone", now, records)
                return 0, 0
            return self._start_dated(tx, journey, enrollment, person, now, records)
        pid = enrollment.profile_id
        facts = functools.cache(lambda: self.engine.subject(pid, events=False) or {})
        situation = Situation(
            profile=functools.partial(self._person, pid),
            messages=self.messages,
            subject=functools.cache(lambda: self.engine.subject(pid) or {}),
            facts=facts,
            invalid=lambda: _unreachable(tx, situation.profile),
        )
        try:
            advance = run(journey, enrollment, situation, now)
            if any(isinstance(c, (SendCommand, UpdateCommand)) for c in advance.commands):
                profile: Profile | None = situation.profile
            else:
                profile = None  # nothing to send or write: the person need not be read
        except _GoneError:
            self._close(tx, enrollment, "profile_gone", now, records)
            return 0, 0
        return self._carry_out(tx, enrollment, advance, profile, now, records, facts)

    def _person(self, profile_id: str) -> Profile:
        profile = self.engine.profile(profile_id)
        if profile is None:
            raise _GoneError(profile_id)
        return profile

    def _carry_out(  # noqa: PLR0917 - internal, called once
        self,
        tx: Transaction,
        before: Enrollment,
        advance: Advance,
        profile: Profile | None,
        now: pendulum.DateTime,
        records: list[StepRecord],
        facts: Callable[[], Mapping[str, Any]],
    ) -> tuple[int, int]:
        """Execute the machine's commands: state first, then sends, then profile updates.

        ``profile`` is None only when no command sends or updates.
        """
        enrollment = advance.enrollment
        steps = sum(enrollment.visits.values()) - sum(before.visits.values())
        requests: list[tuple[SendCommand, SendRequest]] = []
        updates: list[UpdateCommand] = []
        note = self._noter(enrollment, now, records)
        for command in advance.commands:
            if isinstance(command, SendCommand):
                assert profile is not None  # noqa: S101 - read for every send
                request = self._request(enrollment, command, profile, now, facts())
                if isinstance(request, Aborted):
                    note("held", step=command.step, reason=f"aborted: {request.reason}")
                    continue
                requests.append((command, request))
                enrollment = enrollment.evolve(
                    last_send=LastSend(id=request.key, channel=command.channel)
                )
            elif isinstance(command, UpdateCommand):
                updates.append(command)
            elif isinstance(command, HeldBack):
                note("held", step=command.step, reason=command.reason)
            elif isinstance(command, Left):
                note(command.status, reason=command.reason)
        tx.put_enrollments([self._row(enrollment)])
        sent = 0
        if requests:
            assert profile is not None  # noqa: S101 - read for every send
            results = self.delivery.send(
                [r for _, r in requests], tx=tx, now=now, profiles={profile.id: profile}
            )
            for (command, request), result in zip(requests, results, strict=True):
                queued = result.status in ("queued", "deferred", "duplicate")
                sent += queued
                note(
                    "sent" if queued else "dropped",
                    step=command.step,
                    channel=request.channel,
                    message=request.message,
                    status=result.status,
                    reason=result.code,
                )
        for update in updates:
            assert profile is not None  # noqa: S101 - read for every update
            self._update(tx, enrollment, update, profile, now)
            note("updated", step=update.step)
        return steps, sent

    def _noter(
        self, enrollment: Enrollment, now: pendulum.DateTime, records: list[StepRecord]
    ) -> Callable[..., None]:
        def note(kind: str, **fields: str) -> None:
            if self.record:
                records.append(
                    StepRecord(
                        at=now,
                        journey=enrollment.journey,
                        enrollment=enrollment.id,
                        profile_id=enrollment.profile_id,
                        kind=kind,
                        group=enrollment.group,
                        **fields,
                    )
                )

        return note

    def _request(
        self,
        enrollment: Enrollment,
        command: SendCommand,
        profile: Profile,
        now: pendulum.DateTime,
        subject: Mapping[str, Any],
    ) -> SendRequest | Aborted:
        message = self.messages[command.message]
        rendered = render(
            message,
            profile,
            now=now,
            channels=[command.channel],
            subject=subject,
            context=self._context(enrollment, profile),
            unsubscribe_url=self.unsubscribe_url(profile) if self.unsubscribe_url else None,
        )
        if isinstance(rendered, Aborted):
            return rendered
        return SendRequest.for_rendered(
            rendered,
            profile,
            command.channel,
            origin=enrollment.id,
            step=f"{command.step}#{command.visit}",
            purpose=message.purpose,
            transactional=message.transactional,
            metadata={"journey": enrollment.journey, "step": command.step},
        )

    def _context(self, enrollment: Enrollment, profile: Profile) -> Any:
        """What templates read as ``context``: ``journey`` and the person's ``cart``."""
        return {"journey": _json_context(enrollment), "cart": self._cart(profile.id)}

    def _cart(self, profile_id: str) -> list[dict[str, Any]]:
        """The person's cart lines as templates read them (``context.cart``)."""
        state = self.engine.state(profile_id)
        cart = getattr(state, "cart", None) if state is not None else None
        lines = getattr(cart, "lines", ())
        return [
            {
                "name": line.item.name,
                "product_id": line.item.product_id,
                "quantity": line.quantity,
                "price": str(line.item.price.amount) if line.item.price else None,
                "currency": line.item.price.currency if line.item.price else None,
                "channels": sorted(line.channels),
            }
            for line in lines
        ]

    def _update(
        self,
        tx: Transaction,
        enrollment: Enrollment,
        update: UpdateCommand,
        profile: Profile,
        now: pendulum.DateTime,
    ) -> None:
        """Write a step's profile changes as events (and an audience add through delivery)."""
        actor = actor_of(profile)
        base = f"journey:{enrollment.id}:{update.step}#{update.visit}"
        events = []
        if update.traits:
            events.append(
                Event(
                    type=EventType.IDENTIFY,
                    message_id=f"{base}:traits",
                    traits=dict(update.traits),
                    user_id=actor.get("userId"),
                    anonymous_id=actor.get("anonymousId"),
                    timestamp=now,
                    received_at=now,
                )
            )
        if update.points:
            events.append(
                Event(
                    type=EventType.TRACK,
                    name="Loyalty Points Earned",
                    message_id=f"{base}:points",
                    properties={"points": update.points, "journey": enrollment.journey},
                    user_id=actor.get("userId"),
                    anonymous_id=actor.get("anonymousId"),
                    timestamp=now,
                    received_at=now,
                )
            )
        if events:
            self._updated.add(profile.id)
            self.engine.ingest_many(events)
        if update.audience is not None:
            identifiers = audience_identifiers(profile)
            if identifiers:
                request = SendRequest(
                    profile_id=profile.id,
                    channel=update.audience_channel,
                    to=update.audience,
                    content=RenderedAds(
                        audience=update.audience, action="add", identifiers=identifiers
                    ),
                    message=f"add-to-{update.audience}",
                    origin=enrollment.id,
                    step=f"{update.step}#{update.visit}",
                    actor=actor,
                )
                self.delivery.send([request], tx=tx, now=now, profiles={profile.id: profile})

    def _start_dated(  # noqa: PLR0917 - internal, called once
        self,
        tx: Transaction,
        journey: Journey,
        placeholder: Enrollment,
        profile: Profile,
        now: pendulum.DateTime,
        records: list[StepRecord],
    ) -> tuple[int, int]:
        """A date entry's day has come: enter (if the rules allow) and schedule next year's."""
        assert isinstance(journey.entry, OnDate)  # noqa: S101 - only dated placeholders wait
        subject = self.engine.subject(profile.id, events=False) or {}
        day = placeholder.wake_at or now
        mine = {e.id: e for e in (_decode(r.state) for r in tx.enrollments_of([profile.id]))}
        changed: dict[str, Enrollment] = {}
        # Did the date move since the placeholder was set? Then only reschedule.
        if next_date(journey.entry, subject, day) == day:
            key = f"{journey.key}:{profile.id}:{day.date().isoformat()}"
            previous = [e for e in mine.values() if e.journey == journey.key]
            if key not in mine and may_enter(journey, previous, now):
                entered = attrs.evolve(
                    enter(journey, profile.id, now, number=0), id=key, context={"date": str(day)}
                )
                mine[key] = changed[key] = entered
                self._noter(entered, now, records)("entered")
        self._schedule_date(journey, profile.id, subject, mine, changed, day.add(minutes=1))
        if placeholder.id not in changed:
            changed[placeholder.id] = attrs.evolve(
                placeholder, status="exited", wake_at=None, exit_reason="no_date"
            )
        tx.put_enrollments(self._row(e) for e in changed.values())
        taken = sends = 0
        for enrollment in changed.values():
            if enrollment.status == "active":
                a, b = self._run_one(tx, enrollment, now, records)
                taken, sends = taken + a, sends + b
        return taken, sends

    def _close(
        self,
        tx: Transaction,
        enrollment: Enrollment,
        reason: str,
        now: pendulum.DateTime,
        records: list[StepRecord],
    ) -> None:
        closed = attrs.evolve(
            enrollment, status="exited", wake_at=None, exit_reason=reason, updated_at=now
        )
        tx.put_enrollments([self._row(closed)])
        self._noter(closed, now, records)("exited", reason=reason)

    # --- operator actions and reading --------------------------------------------------

    def enroll(
        self,
        journey: str,
        profile_id: str,
        *,
        context: Mapping[str, Any] | None = None,
        now: pendulum.DateTime | None = None,
    ) -> Enrollment | None:
        """Put a person into a journey by hand (an API call, a CSV); None if its rules refuse.

        Raises:
            ValidationError: no such journey or profile.
        """
        chosen = self._journey(journey)
        at = now or self.engine.clock.now()
        with self.engine.transaction() as tx:
            if self.engine.profile(profile_id) is None:
                raise ValidationError.one("$.profile_id", "not_found", "no such profile")
            mine = {r.id: _decode(r.state) for r in tx.enrollments_of([profile_id])}
            changed: dict[str, Enrollment] = {}
            entered = self._enter(chosen, profile_id, mine, changed, at, dict(context or {}))
            tx.put_enrollments(self._row(e) for e in changed.values())
        return entered

    def schedule_dates(self, now: pendulum.DateTime | None = None) -> int:
        """Set every profile's date-entry wake-ups (after an import); returns how many are set.

        Ingesting an ``identify`` keeps one profile's up to date; this walks them all.
        """
        at = now or self.engine.clock.now()
        count = 0
        for profile_id in self.engine.store.profile_ids():
            with self.engine.transaction() as tx:
                subject = self.engine.subject(profile_id, events=False)
                if subject is None:  # pragma: no cover - deleted since the listing
                    continue
                mine = {r.id: _decode(r.state) for r in tx.enrollments_of([profile_id])}
                changed: dict[str, Enrollment] = {}
                for journey in self._dated:
                    self._schedule_date(journey, profile_id, subject, mine, changed, at)
                count += sum(1 for e in changed.values() if e.status == "scheduled")
                tx.put_enrollments(self._row(e) for e in changed.values())
        return count

    def enrollments(
        self, journey: str | None = None, *, profile_id: str | None = None
    ) -> list[Enrollment]:
        """Enrollments (of one journey, of one person, or all), by id."""
        with self.engine.transaction() as tx:
            if profile_id is not None:
                rows = tx.enrollments_of([profile_id])
                return [
                    e
                    for e in map(_decode, (r.state for r in rows))
                    if journey is None or e.journey == journey
                ]
            return [_decode(r.state) for r in tx.enrollments(journey)]

    def _row(self, enrollment: Enrollment) -> EnrollmentRow:
        # Stores that keep objects keep the (frozen) enrollment itself: no JSON per step.
        state: object = (
            json.dumps(converter.unstructure(enrollment), separators=(",", ":"))
            if self.engine.store.serializes_snapshots
            else enrollment
        )
        return EnrollmentRow(
            id=enrollment.id,
            journey=enrollment.journey,
            profile_id=enrollment.profile_id,
            status=enrollment.status,
            wake_at=enrollment.wake_at if enrollment.open else None,
            waiting_for=enrollment.waiting_for,
            state=state,
        )

    def _journey(self, key: object) -> Journey:
        if not isinstance(key, str) or key not in self.journeys:
            raise ValidationError.one("$.journey", "unknown_journey", f"no journey {key!r}")
        return self.journeys[key]


def _json_context(enrollment: Enrollment) -> dict[str, Any]:
    result: dict[str, Any] = {
        "key": enrollment.journey,
        "context": dict(enrollment.context),
        "group": enrollment.group,
    }
    return result


def _unreachable(tx: Transaction, profile: Profile) -> frozenset[str]:
    """The person's identifiers (``email:...``) whose addresses delivery marked invalid."""
    invalid = tx.invalid_addresses({i.value for i in profile.identities})
    return frozenset(str(i) for i in profile.identities if i.value in invalid)


class _GoneError(Exception):
    """The person an enrollment is about no longer exists (erased, or a bug): it ends."""


def _decode(state: object) -> Enrollment:
    """An enrollment from its row: the object itself (memory), or its JSON text."""
    if isinstance(state, Enrollment):
        return state
    return converter.structure(json.loads(str(state)), Enrollment)  # type: ignore[no-any-return]


def records_of(reports: Sequence[TickReport]) -> list[StepRecord]:
    """Every record of several tick reports, in order."""
    return [r for report in reports for r in report.records]
