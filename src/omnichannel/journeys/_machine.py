"""The journey state machine: pure functions from what happened to commands.

Given a journey, an enrollment, an event or a due timer, and ``now``, they
return the enrollment after and the commands to carry out.

Nothing here reads a clock, a store or a network: the runtime
(`omnichannel.journeys.JourneyRunner`) feeds in the person and ``now`` and
carries out the commands; a replay feeds in history and a simulated clock.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
import pendulum

from omnichannel._time import later
from omnichannel.journeys._model import (
    EXIT,
    Branch,
    Exit,
    Journey,
    OnDate,
    OnEvent,
    Send,
    Split,
    Trigger,
    Update,
    Wait,
    WaitFor,
    WaitUntil,
    local_minutes,
)
from omnichannel.models import Profile
from omnichannel.personalization import Message, bucket, can_reach, rank_channels
from omnichannel.rules import Predicate, Rule, compile_rule
from omnichannel.rules._python import as_date, as_instant, getter, next_anniversary, zone
from omnichannel.segments import reads

__all__ = [
    "OPEN",
    "Advance",
    "Enrollment",
    "HeldBack",
    "LastSend",
    "Left",
    "SendCommand",
    "Situation",
    "UpdateCommand",
    "WakeAt",
    "enter",
    "may_enter",
    "next_date",
    "observe",
    "run",
]

Status = Literal["scheduled", "active", "waiting", "converted", "exited"]
#: Statuses of an enrollment that is still in its journey (or waiting to enter, for dates).
OPEN = frozenset({"scheduled", "active", "waiting"})
#: Most steps one enrollment may take at one time: a guard; definitions refuse loops that
#: never wait, so only a very long journey reaches it.
MAX_STEPS = 1_000


@attrs.frozen(kw_only=True)
class LastSend:
    """The last message an enrollment sent, and what the person did with it.

    .. versionadded:: 0.1.0
    """

    id: str
    channel: str
    opened: bool = False
    clicked: bool = False


@attrs.frozen(kw_only=True)
class Enrollment:
    """One person's way through one journey.

    ``status``: ``scheduled`` (a date entry waiting for its day),
    ``active`` (``step`` runs when ``wake_at`` comes), ``waiting`` (inside
    the wait step ``step`` until ``wake_at``, or ``waiting_for`` an event),
    ``converted`` (did the goal) or ``exited`` (``exit_reason`` says why).
    ``visits`` counts each step's runs: the count is part of the
    idempotency key of what the step does.

    .. versionadded:: 0.1.0
    """

    id: str
    journey: str
    profile_id: str
    status: Status
    step: str | None
    entered_at: pendulum.DateTime
    updated_at: pendulum.DateTime
    wake_at: pendulum.DateTime | None = None
    waiting_for: str | None = None
    group: str = ""
    context: Mapping[str, Any] = attrs.field(factory=dict)
    visits: Mapping[str, int] = attrs.field(factory=dict)
    last_send: LastSend | None = None
    exit_reason: str = ""

    @property
    def open(self) -> bool:
        """True while the enrollment is in (or waiting to enter) its journey."""
        return self.status in OPEN

    def evolve(self, **changes: Any) -> Enrollment:
        """A copy with ``changes``: `attrs.evolve`, made cheaper (it runs several times a step)."""
        values = {name: getattr(self, name) for name in _ENROLLMENT_FIELDS}
        values.update(changes)
        return Enrollment(**values)


_ENROLLMENT_FIELDS = tuple(a.name for a in attrs.fields(Enrollment))


# --- commands ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SendCommand:
    """Send ``message`` on ``channel`` for step ``step`` (its ``visit``-th run).

    .. versionadded:: 0.1.0
    """

    step: str
    visit: int
    message: str
    channel: str


@attrs.frozen(kw_only=True)
class UpdateCommand:
    """Set traits, grant points, add to an audience, for step ``step`` (its ``visit``-th run).

    .. versionadded:: 0.1.0
    """

    step: str
    visit: int
    traits: Mapping[str, Any]
    points: int
    audience: str | None
    audience_channel: str


@attrs.frozen(kw_only=True)
class HeldBack:
    """A step that did nothing for this person, and why (``no_channel``, ``holdout`` ...).

    .. versionadded:: 0.1.0
    """

    step: str
    reason: str


@attrs.frozen(kw_only=True)
class WakeAt:
    """Wake the enrollment at ``at`` (a wait's end or a wait-for's timeout).

    .. versionadded:: 0.1.0
    """

    at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class Left:
    """The enrollment left the journey: ``converted``, or ``exited`` for ``reason``.

    .. versionadded:: 0.1.0
    """

    status: Literal["converted", "exited"]
    reason: str


Command = SendCommand | UpdateCommand | HeldBack | WakeAt | Left


@attrs.frozen(kw_only=True)
class Advance:
    """What one call of the machine decided: the enrollment after it, and commands in order.

    .. versionadded:: 0.1.0
    """

    enrollment: Enrollment
    commands: tuple[Command, ...] = ()


class Situation:
    """What the machine may know of the person when it runs steps, read only when needed.

    ``profile`` is the person (or a function that reads them: many runs —
    a wait that ends, a journey that ends — never need them); ``subject``
    gives the document segment rules read, for branches (``facts``, when
    given, the same without the event history: used for rules that count
    no events, as it is cheaper to make); ``invalid`` the identifiers
    (``email:ann@example.com``) delivery marked unreachable (or a function
    that reads them).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_facts", "_invalid", "_profile", "_subject", "messages")

    def __init__(
        self,
        *,
        profile: Profile | Callable[[], Profile],
        messages: Mapping[str, Message],
        subject: Callable[[], Mapping[str, Any]],
        facts: Callable[[], Mapping[str, Any]] | None = None,
        invalid: frozenset[str] | Callable[[], frozenset[str]] = frozenset(),
    ) -> None:
        self._profile = profile
        self.messages = messages
        self._subject = subject
        self._facts = facts
        self._invalid = invalid

    @property
    def profile(self) -> Profile:
        """The person (read on first use)."""
        if not isinstance(self._profile, Profile):
            self._profile = self._profile()
        return self._profile

    @property
    def invalid(self) -> frozenset[str]:
        """Addresses delivery marked unreachable (read on first use)."""
        if not isinstance(self._invalid, frozenset):
            self._invalid = self._invalid()
        return self._invalid

    def subject(self, rule: Rule | None = None) -> Mapping[str, Any]:
        """The subject a rule reads: without the events when ``rule`` counts none."""
        if rule is not None and self._facts is not None and not _reads_events(rule):
            return self._facts()
        return self._subject()


@functools.lru_cache(maxsize=1024)
def _reads_events(rule: Rule) -> bool:
    found = reads(rule)
    return found.any_event or bool(found.events)


# --- entering ----------------------------------------------------------------------------


def may_enter(journey: Journey, previous: list[Enrollment], now: dt.datetime) -> bool:
    """Whether the re-entry and concurrency rules let the person enter again at ``now``.

    ``previous``: the person's enrollments in this journey (scheduled date
    placeholders are ignored).
    """
    started = [e for e in previous if e.status != "scheduled"]
    if not journey.concurrent and any(e.open for e in started):
        return False
    if not started or journey.reentry == "always":
        return True
    if journey.reentry == "never":
        return False
    last = max(e.entered_at for e in started)
    return now - last >= dt.timedelta(days=journey.reentry_days)


def enter(
    journey: Journey,
    profile_id: str,
    now: pendulum.DateTime,
    *,
    number: int,
    context: Mapping[str, Any] | None = None,
) -> Enrollment:
    """A new enrollment at the journey's first step, due at once (the person's ``number``-th)."""
    return Enrollment(
        id=f"{journey.key}:{profile_id}:{number}",
        journey=journey.key,
        profile_id=profile_id,
        status="active",
        step=journey.steps[0].key,
        entered_at=now,
        updated_at=now,
        wake_at=now,
        context=dict(context or {}),
    )


def next_date(
    entry: OnDate, subject: Mapping[str, Any], after: dt.datetime
) -> pendulum.DateTime | None:
    """The next instant, at or after ``after``, the date entry fires for this person (or None).

    The date's month and day at ``entry.at`` in the person's zone; None when
    the field holds no date.
    """
    value = getter(entry.field)(subject)
    day = as_date(value)
    if day is None:
        instant = as_instant(value)
        day = instant.date() if instant is not None else None
    if day is None:
        return None
    tz = zone(subject.get("timezone"))
    minutes = local_minutes(entry.at)
    local_today = after.astimezone(tz).date()
    for start in (local_today, local_today + dt.timedelta(days=1)):
        when = next_anniversary(day, start)
        at = dt.datetime(when.year, when.month, when.day, minutes // 60, minutes % 60, tzinfo=tz)
        if at >= after:
            return pendulum.instance(at).in_tz("UTC")
    return None  # pragma: no cover - the next day's search always finds one


# --- events ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _compiled(rule: Rule) -> Predicate:
    return compile_rule(rule)


def matches(  # noqa: PLR0917 - an event's parts, in the order every caller has them
    trigger: Trigger | WaitFor | OnEvent,
    name: str,
    properties: Mapping[str, Any],
    enrollment: Enrollment | None,
    traits: Mapping[str, Any],
    now: dt.datetime,
) -> bool:
    """Whether an event (its name and properties) is the one ``trigger`` names."""
    if name != trigger.event:
        return False
    if trigger.where is None:
        return True
    document = {
        "properties": properties,
        "context": enrollment.context if enrollment is not None else {},
        "traits": traits,
    }
    return _compiled(trigger.where)(document, now)


def observe(  # noqa: PLR0917 - an event's parts, in the order every caller has them
    journey: Journey,
    enrollment: Enrollment,
    name: str,
    properties: Mapping[str, Any],
    traits: Mapping[str, Any],
    now: pendulum.DateTime,
) -> Advance | None:
    """What an event of the person does to an open enrollment (None: nothing).

    The goal converts it and ``exit_on`` events end it, wherever it is; the
    event a `WaitFor` waits for moves it on (due at once); feedback about
    its last message (``Message Opened`` / ``Message Clicked``) is noted.
    """
    if not enrollment.open or enrollment.status == "scheduled":
        return None
    if journey.goal is not None and matches(
        journey.goal, name, properties, enrollment, traits, now
    ):
        return _leave(enrollment, "converted", "goal", now)
    for trigger in journey.exit_on:
        if matches(trigger, name, properties, enrollment, traits, now):
            return _leave(enrollment, "exited", f"exit_on:{name}", now)
    before = enrollment
    last = enrollment.last_send
    if (
        last is not None
        and name in ("Message Opened", "Message Clicked")
        and properties.get("outbox_id") == last.id
    ):
        seen = attrs.evolve(last, opened=True, clicked=last.clicked or name == "Message Clicked")
        enrollment = enrollment.evolve(last_send=seen, updated_at=now)
    if enrollment.status == "waiting" and enrollment.waiting_for == name and enrollment.step:
        step = journey.step(enrollment.step)
        if isinstance(step, WaitFor) and matches(step, name, properties, enrollment, traits, now):
            target = step.next if step.next is not None else journey.after(step.key)
            return Advance(enrollment=_goto(enrollment, target, now))
    return None if enrollment is before else Advance(enrollment=enrollment)


# --- running steps -----------------------------------------------------------------------


def run(
    journey: Journey, enrollment: Enrollment, situation: Situation, now: pendulum.DateTime
) -> Advance:
    """Run a due enrollment: leave the wait it was in, then take steps until one waits.

    A ``waiting`` enrollment whose time has come leaves its wait (a wait-for
    by its timeout path). Each step run adds its commands: sends, updates,
    steps held back, and the final wake-up or departure. A wait counts from
    when it came due, not from when the tick came (a late tick passes a
    wait that has run out at once, so the schedule does not drift with how
    often ``tick`` runs), and from the last send or update before it ("a
    day after the e-mail" means after the e-mail went, so a late tick never
    sends two messages meant to be a day apart).
    """
    if not enrollment.open or enrollment.wake_at is None or enrollment.wake_at > now:
        return Advance(enrollment=enrollment)
    commands: list[Command] = []
    due = enrollment.wake_at
    if enrollment.status == "waiting" and enrollment.step is not None:
        step = journey.step(enrollment.step)
        if isinstance(step, Split):
            # A held-out person's time is up: they leave, never having been sent anything.
            return _leave(enrollment, "exited", "holdout", now)
        if isinstance(step, WaitFor):
            target: str | None = step.on_timeout
        elif isinstance(step, (Wait, WaitUntil)):
            target = step.next if step.next is not None else journey.after(step.key)
        else:  # pragma: no cover - only wait steps leave an enrollment waiting
            target = step.key
        enrollment = _goto(enrollment, target, now)
    for _ in range(MAX_STEPS):
        if enrollment.status != "active" or enrollment.step is None:
            break
        if enrollment.step == EXIT:
            left = _leave(enrollment, "exited", "completed", now)
            return Advance(enrollment=left.enrollment, commands=(*commands, *left.commands))
        enrollment, due = _take(journey, enrollment, situation, now, commands, due)
    else:
        left = _leave(enrollment, "exited", "too_many_steps", now)
        return Advance(enrollment=left.enrollment, commands=(*commands, *left.commands))
    if enrollment.status == "waiting" and enrollment.wake_at is not None:
        commands.append(WakeAt(at=enrollment.wake_at))
    elif not enrollment.open:
        status: Literal["converted", "exited"] = (
            "converted" if enrollment.status == "converted" else "exited"
        )
        commands.append(Left(status=status, reason=enrollment.exit_reason))
    return Advance(enrollment=enrollment, commands=tuple(commands))


def _take(  # noqa: PLR0917 - internal: run()'s loop state
    journey: Journey,
    enrollment: Enrollment,
    situation: Situation,
    now: pendulum.DateTime,
    commands: list[Command],
    due: pendulum.DateTime,
) -> tuple[Enrollment, pendulum.DateTime]:
    """Run the enrollment's current step once; return where it stands after, and since when.

    ``due`` is when the step came due (at or before ``now``): waits count from it.
    """
    assert enrollment.step is not None  # noqa: S101 - run() checked
    step = journey.step(enrollment.step)
    visit = enrollment.visits.get(step.key, 0) + 1
    # The step's run is counted in the one evolve each path below makes (evolve is not cheap).
    counted = {**enrollment.visits, step.key: visit}
    following = journey.after(step.key)
    if isinstance(step, (Wait, WaitFor, WaitUntil)):
        if isinstance(step, WaitUntil):
            until = window_start(step, situation.profile.time_zone, due)
        else:
            until = later(due, step.seconds if isinstance(step, Wait) else step.timeout)
        if until > now:
            waiting_for = step.event if isinstance(step, WaitFor) else None
            return _wait(enrollment, until, waiting_for, visits=counted, updated_at=now), due
        # Already over (a late tick): a wait passes on, a wait-for leaves by its timeout.
        if isinstance(step, WaitFor):
            return _goto(enrollment, step.on_timeout, now, visits=counted), until
        return _goto(enrollment, step.next or following, now, visits=counted), until
    if isinstance(step, Send):
        channel = choose_channel(step, situation, now)
        if channel is None:
            commands.append(HeldBack(step=step.key, reason="no_channel"))
        else:
            commands.append(
                SendCommand(step=step.key, visit=visit, message=step.message, channel=channel)
            )
        # What happens now restarts the count: "a day after the e-mail" means after it went.
        return _goto(enrollment, step.next or following, now, visits=counted), now
    if isinstance(step, Update):
        commands.append(
            UpdateCommand(
                step=step.key,
                visit=visit,
                traits=step.traits,
                points=step.points,
                audience=step.audience,
                audience_channel=step.audience_channel,
            )
        )
        return _goto(enrollment, step.next or following, now, visits=counted), now
    if isinstance(step, Branch):
        document = {**situation.subject(step.rule), "journey": journey_document(enrollment)}
        holds = _compiled(step.rule)(document, now)
        target = step.then if holds else step.otherwise
        return _goto(enrollment, target or following, now, visits=counted), due
    if isinstance(step, Split):
        share = bucket(journey.key, enrollment.profile_id, step.key)
        if share < step.holdout:
            commands.append(HeldBack(step=step.key, reason="holdout"))
            held = _wait(enrollment, later(due, step.hold), None, visits=counted, updated_at=now)
            return held.evolve(group="holdout"), due
        point = (share - step.holdout) / (1 - step.holdout) * sum(p.weight for p in step.paths)
        chosen = step.paths[-1]
        for path in step.paths:
            if point < path.weight:
                chosen = path
                break
            point -= path.weight
        return _goto(
            enrollment, chosen.to or following, now, visits=counted, group=chosen.name
        ), due
    assert isinstance(step, Exit)  # noqa: S101 - the step types are closed
    left = _leave(enrollment, "exited", f"exit:{step.key}", now).enrollment
    return left.evolve(visits=counted), due


def choose_channel(step: Send, situation: Situation, now: dt.datetime) -> str | None:
    """The channel a send step uses for this person now, or None when none can be used."""
    message = situation.messages[step.message]
    wanted = step.channels or message.channels
    usable = [c for c in wanted if c in message.channels]
    if not usable:
        return None
    if step.best:
        ranked = rank_channels(
            message,
            situation.profile,
            now=now,
            subject=situation.subject(),
            invalid=situation.invalid,
        )
        return next((s.channel for s in ranked if s.eligible and s.channel in usable), None)
    profile, invalid = situation.profile, situation.invalid
    return next(
        (c for c in usable if can_reach(message, profile, c, now=now, invalid=invalid)), None
    )


def window_start(step: WaitUntil, time_zone: str, now: dt.datetime) -> pendulum.DateTime:
    """The start of the next local window of ``step`` (``now`` itself when inside one)."""
    tz = zone(time_zone)
    local = now.astimezone(tz)
    minutes = local_minutes(step.at)
    for days in range(8):
        day = local.date() + dt.timedelta(days=days)
        if day.isoweekday() not in step.weekdays:
            continue
        start = dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
        if start <= now < start + dt.timedelta(minutes=step.window) or (
            step.window == 0 and start == now
        ):
            return pendulum.instance(now).in_tz("UTC")
        if start > now:
            return pendulum.instance(start).in_tz("UTC")
    raise AssertionError(step)  # pragma: no cover - some weekday comes within a week


def journey_document(enrollment: Enrollment) -> dict[str, Any]:
    """What rules read as ``journey``: the context, the group and the last send."""
    last = enrollment.last_send
    return {
        "context": enrollment.context,
        "group": enrollment.group,
        "last_send": (
            {"channel": last.channel, "opened": last.opened, "clicked": last.clicked}
            if last is not None
            else None
        ),
    }


def _goto(
    enrollment: Enrollment, target: str | None, now: pendulum.DateTime, **changes: Any
) -> Enrollment:
    return enrollment.evolve(
        status="active",
        step=target or EXIT,
        wake_at=now,
        waiting_for=None,
        updated_at=now,
        **changes,
    )


def _wait(
    enrollment: Enrollment, until: pendulum.DateTime, event: str | None, **changes: Any
) -> Enrollment:
    return enrollment.evolve(status="waiting", wake_at=until, waiting_for=event, **changes)


def _leave(
    enrollment: Enrollment,
    status: Literal["converted", "exited"],
    reason: str,
    now: pendulum.DateTime,
) -> Advance:
    left = enrollment.evolve(
        status=status,
        wake_at=None,
        waiting_for=None,
        exit_reason=reason,
        updated_at=now,
    )
    return Advance(enrollment=left, commands=(Left(status=status, reason=reason),))
