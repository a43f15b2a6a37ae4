"""Journey definitions: an entry, steps that send, wait, branch and update, a goal.

Everything here is data (frozen attrs classes), checked when it is built and
read back from JSON through the shared converter, so journeys can live in
version control next to the code that runs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal, Union

import attrs
from cattrs.strategies import configure_tagged_union

from omnichannel._convert import converter
from omnichannel.errors import FieldError, ValidationError
from omnichannel.models._check import positive_seconds, whole
from omnichannel.rules import Rule, field
from omnichannel.segments._segment import _key

__all__ = [
    "DAY",
    "EXIT",
    "HOUR",
    "MINUTE",
    "Branch",
    "Exit",
    "Journey",
    "OnDate",
    "OnEvent",
    "OnSegment",
    "Path",
    "Send",
    "Split",
    "Step",
    "Trigger",
    "Update",
    "Wait",
    "WaitFor",
    "WaitUntil",
    "clicked_last",
    "opened_last",
]

#: The step key that means "leave the journey" wherever a step key is expected.
EXIT = "exit"
#: Seconds in a minute, an hour, a day: ``Wait(key="cool-off", seconds=2 * DAY)``.
MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _optional_key(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None:
        _key(_, attribute, value)  # type: ignore[arg-type]


def _name(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.one(f"$.{attribute.name}", "required", "must be a non-empty string")


def _optional_rule(_: object, attribute: attrs.Attribute[Rule | None], value: object) -> None:
    if value is not None and not isinstance(value, Rule):
        raise ValidationError.one(f"$.{attribute.name}", "type", "must be a rule")


def _rule(_: object, attribute: attrs.Attribute[Rule], value: object) -> None:
    if not isinstance(value, Rule):
        raise ValidationError.one(f"$.{attribute.name}", "type", "must be a rule")


def _seconds(_: object, attribute: attrs.Attribute[float], value: object) -> None:
    positive_seconds(f"$.{attribute.name}", value)


def _local_time(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValidationError.one(f"$.{attribute.name}", "invalid", "must be a time as HH:MM")


def _texts(value: Iterable[Any]) -> tuple[str, ...]:
    items = tuple(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ValidationError.one("$", "type", "must hold non-empty strings")
    return items


def _weekdays(value: Iterable[Any]) -> frozenset[int]:
    days = frozenset(value)
    if not days or not all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days
    ):
        raise ValidationError.one(
            "$.weekdays", "invalid", "must hold ISO weekdays, 1 (Monday) to 7 (Sunday)"
        )
    return days


def local_minutes(text: str) -> int:
    """Minutes after midnight of an ``HH:MM`` time."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def opened_last() -> Rule:
    """A `Branch` rule: the person opened (or clicked) the last message this enrollment sent.

    .. versionadded:: 0.1.0
    """
    return field("journey.last_send.opened") == True  # noqa: E712 - builds a rule


def clicked_last() -> Rule:
    """A `Branch` rule: the person clicked the last message this enrollment sent.

    .. versionadded:: 0.1.0
    """
    return field("journey.last_send.clicked") == True  # noqa: E712 - builds a rule


# --- entries and triggers ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Trigger:
    """An event of a name, optionally with a rule on it.

    The rule reads ``properties`` (the event's), ``context`` (what the
    enrollment remembers of the event that started it) and the person's
    ``traits``: ``prop("order_id") == field("context.order_id")`` matches
    only the order the journey is about.

    .. versionadded:: 0.1.0
    """

    event: str = attrs.field(validator=_name)
    where: Rule | None = attrs.field(default=None, validator=_optional_rule)


@attrs.frozen(kw_only=True)
class OnEvent:
    """Enter when the person does ``event`` (and ``where`` holds for it).

    The event's properties become the enrollment's ``context`` (what
    templates and later rules read as ``journey.context``).

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[str] = "event"
    event: str = attrs.field(validator=_name)
    where: Rule | None = attrs.field(default=None, validator=_optional_rule)


@attrs.frozen(kw_only=True)
class OnSegment:
    """Enter when the person enters ``segment``.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[str] = "segment"
    segment: str = attrs.field(validator=_key)


@attrs.frozen(kw_only=True)
class OnDate:
    """Enter each year on a date of the profile, at a local time of day.

    ``field`` is a path in the person's subject holding a date
    (``traits.birthday`` as ``YYYY-MM-DD``) or an instant
    (``traits.signed_up_at``: its anniversary). ``at`` is the local time
    (``10:00``) in the person's time zone. A 29 February comes on
    28 February in other years.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[str] = "date"
    field: str = attrs.field(validator=_name)
    at: str = attrs.field(default="10:00", validator=_local_time)


Entry = Union[OnEvent, OnSegment, OnDate]  # noqa: UP007 - cattrs reads the Union form


# --- steps -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Send:
    """Send a message.

    ``channels`` in order: the first the person can be reached on with
    consent is used (one channel: that one or nothing). With ``best``, the
    channels (all of the message's when ``channels`` is empty) are ranked by
    `omnichannel.personalization.rank_channels` and the best eligible one is
    used. When none can be used, the step is held back (``no_channel``) and
    the journey goes on. The message's own ``purpose`` and ``transactional``
    say which consent it needs; delivery checks it again when it sends.

    .. versionadded:: 0.1.0
    """

    type: ClassVar[str] = "send"
    key: str = attrs.field(validator=_key)
    message: str = attrs.field(validator=_key)
    channels: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    best: bool = False
    next: str | None = attrs.field(default=None, validator=_optional_key)

    def __attrs_post_init__(self) -> None:
        if not self.channels and not self.best:
            raise ValidationError.one("$.channels", "required", "name a channel, or set best")


@attrs.frozen(kw_only=True)
class Wait:
    """Wait ``seconds`` (``2 * DAY``: `DAY`, `HOUR` and `MINUTE` are in seconds).

    .. versionadded:: 0.1.0
    """

    type: ClassVar[str] = "wait"
    key: str = attrs.field(validator=_key)
    seconds: float = attrs.field(validator=_seconds)
    next: str | None = attrs.field(default=None, validator=_optional_key)


@attrs.frozen(kw_only=True)
class WaitFor:
    """Wait until the person does ``event`` (``where`` holding), at most ``timeout`` seconds.

    The event leads to ``next``; the timeout to ``on_timeout`` (exit by default).

    .. versionadded:: 0.1.0
    """

    type: ClassVar[str] = "wait_for"
    key: str = attrs.field(validator=_key)
    event: str = attrs.field(validator=_name)
    timeout: float = attrs.field(validator=_seconds)
    where: Rule | None = attrs.field(default=None, validator=_optional_rule)
    on_timeout: str = attrs.field(default=EXIT, validator=_key)
    next: str | None = attrs.field(default=None, validator=_optional_key)


@attrs.frozen(kw_only=True)
class WaitUntil:
    """Wait until a local time of day on one of ``weekdays`` (ISO: 1 is Monday), in their zone.

    At once when it is that time already (within ``window`` minutes after ``at``).

    .. versionadded:: 0.1.0
    """

    type: ClassVar[str] = "wait_until"
    key: str = attrs.field(validator=_key)
    at: str = attrs.field(validator=_local_time)
    weekdays: frozenset[int] = attrs.field(default=frozenset(range(1, 8)), converter=_weekdays)
    window: int = attrs.field(default=60)
    next: str | None = attrs.field(default=None, validator=_optional_key)

    def __attrs_post_init__(self) -> None:
        whole("$.window", self.window, minimum=0, maximum=24 * 60 - 1)


@attrs.frozen(kw_only=True)
class Branch:
    """Go to ``then`` if ``rule`` holds for the person now, else to ``otherwise``.

    The rule reads the person's subject (as segment rules do, events
    included) and ``journey``: ``journey.context`` (the entry event's
    properties), ``journey.group`` (the split path taken) and
    ``journey.last_send`` (``channel``, ``opened``, ``clicked`` of the last
    message this enrollment sent; `opened_last` and `clicked_last` test it).
    ``None`` for either side means the following step.

    .. versionadded:: 0.1.0
    """

    type: ClassVar[str] = "branch"
    key: str = attrs.field(validator=_key)
    rule: Rule = attrs.field(validator=_rule)
    then: str | None = attrs.field(default=None, validator=_optional_key)
    otherwise: str | None = attrs.field(default=None, validator=_optional_key)


@attrs.frozen(kw_only=True)
class Path:
    """One way out of a `Split`: its name (the enrollment's group), weight and first step.

    .. versionadded:: 0.1.0
    """

    name: str = attrs.field(validator=_key)
    weight: float = 1.0
    to: str | None = attrs.field(default=None, validator=_optional_key)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)):
            raise ValidationError.one("$.weight", "type", "must be a number")
        if not 0 < self.weight < 1e9:
            raise ValidationError.one("$.weight", "out_of_range", "must be above 0")


def _paths(value: Iterable[Any]) -> tuple[Path, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Split:
    """Send each person down one path, by weight; ``holdout`` of them get nothing and leave.

    The choice is stable (a hash of the journey, the person and the
    step), so a replay chooses as the live run did. The path's name (or
    ``holdout``) is the enrollment's group, which conversions are counted by.
    The held-out stay enrolled, receiving nothing, for ``hold`` seconds
    (30 days by default) so the goal converts them as it converts the
    others: the difference between the groups is the journey's effect.

    .. versionadded:: 0.1.0
    """

    type: ClassVar[str] = "split"
    key: str = attrs.field(validator=_key)
    paths: tuple[Path, ...] = attrs.field(converter=_paths)
    holdout: float = 0.0
    hold: float = attrs.field(default=30 * 24 * 3600.0, validator=_seconds)

    def _given_paths(self) -> tuple[object, ...]:
        return self.paths  # what the caller gave: checked, not yet trusted

    def __attrs_post_init__(self) -> None:
        errors = [
            FieldError(path=f"$.paths[{n}]", code="type", message="must be a Path")
            for n, p in enumerate(self._given_paths())
            if not isinstance(p, Path)
        ]
        if errors:
            raise ValidationError(errors)
        if not self.paths:
            raise ValidationError.one("$.paths", "required", "a split needs at least one path")
        names = [p.name for p in self.paths]
        if "holdout" in names or len(set(names)) != len(names):
            raise ValidationError.one(
                "$.paths", "invalid", "path names must be unique and not 'holdout'"
            )
        if isinstance(self.holdout, bool) or not isinstance(self.holdout, (int, float)):
            raise ValidationError.one("$.holdout", "type", "must be a number")
        if not 0 <= self.holdout < 1:
            raise ValidationError.one("$.holdout", "out_of_range", "must be from 0 to below 1")


@attrs.frozen(kw_only=True)
class Update:
    """Change the profile: set traits, grant loyalty points, add to an ads audience.

    Traits arrive as an ``identify`` and points as ``Loyalty Points
    Earned``, written on the person's profile like any event (once, with a
    message id made of the enrollment and the step). ``audience`` names an
    ads audience (sent on ``audience_channel`` through delivery, which
    checks the ``ads`` consent).

    .. versionadded:: 0.1.0
    """

    type: ClassVar[str] = "update"
    key: str = attrs.field(validator=_key)
    traits: Mapping[str, Any] = attrs.field(factory=dict)
    points: int = 0
    audience: str | None = None
    audience_channel: str = "ads"
    next: str | None = attrs.field(default=None, validator=_optional_key)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.traits, Mapping):
            raise ValidationError.one("$.traits", "type", "must be an object")
        whole("$.points", self.points, minimum=0)
        audience: object = self.audience
        if audience is not None and (not isinstance(audience, str) or not audience):
            raise ValidationError.one("$.audience", "invalid", "must be a non-empty string")
        if not self.traits and not self.points and self.audience is None:
            raise ValidationError.one("$", "required", "set traits, points or an audience")


@attrs.frozen(kw_only=True)
class Exit:
    """Leave the journey.

    .. versionadded:: 0.1.0
    """

    type: ClassVar[str] = "exit"
    key: str = attrs.field(validator=_key)


Step = Union[Send, Wait, WaitFor, WaitUntil, Branch, Split, Update, Exit]  # noqa: UP007
STEP_TYPES: tuple[type[Any], ...] = (Send, Wait, WaitFor, WaitUntil, Branch, Split, Update, Exit)
WAITS: tuple[type[Any], ...] = (Wait, WaitFor, WaitUntil)


def _steps(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _triggers(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Journey:
    """A multi-channel flow: who enters, the steps they go through, what counts as success.

    Steps run in the order given unless a step names its ``next`` (or a
    branch, split or timeout names where to go); after the last step the
    person leaves. ``goal`` is the conversion: doing it ends the journey
    for that person wherever they are, counted as converted. ``exit_on``
    events end it too, uncounted. ``reentry``: ``"never"``, ``"always"``
    (after leaving) or ``"after"`` ``reentry_days`` days since the last
    entry; ``concurrent`` lets a person be in it several times at once
    (one per entry event: an order's post-purchase flow).

    Refused with every problem's path: duplicate step keys, a ``next``
    naming no step, a loop that never waits.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=_key)
    name: str = attrs.field(validator=_name)
    entry: Entry
    steps: tuple[Step, ...] = attrs.field(converter=_steps)
    goal: Trigger | None = None
    exit_on: tuple[Trigger, ...] = attrs.field(default=(), converter=_triggers)
    reentry: Literal["never", "always", "after"] = "never"
    reentry_days: int = 0
    concurrent: bool = False
    description: str = ""
    _index: dict[str, Step] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        errors = self._problems()
        if errors:
            raise ValidationError(errors)
        object.__setattr__(self, "_index", {step.key: step for step in self.steps})

    def _problems(self) -> list[FieldError]:
        errors: list[FieldError] = []
        # What the caller gave, checked here before it is trusted.
        entry: object = self.entry
        goal: object = self.goal
        exits: tuple[object, ...] = self.exit_on
        steps: tuple[object, ...] = self.steps
        if not isinstance(entry, (OnEvent, OnSegment, OnDate)):
            errors.append(FieldError(path="$.entry", code="type", message="must be an entry"))
        if self.reentry not in ("never", "always", "after"):
            errors.append(
                FieldError(
                    path="$.reentry", code="invalid", message="must be never, always or after"
                )
            )
        if self.reentry == "after":
            try:
                whole("$.reentry_days", self.reentry_days, minimum=1)
            except ValidationError as exc:
                errors.extend(exc.errors)
        for n, trigger in enumerate(exits):
            if not isinstance(trigger, Trigger):
                errors.append(
                    FieldError(path=f"$.exit_on[{n}]", code="type", message="must be a Trigger")
                )
        if goal is not None and not isinstance(goal, Trigger):
            errors.append(FieldError(path="$.goal", code="type", message="must be a Trigger"))
        if not self.steps:
            errors.append(FieldError(path="$.steps", code="required", message="needs a step"))
        seen: dict[str, int] = {}
        for n, step in enumerate(steps):
            if not isinstance(step, STEP_TYPES):
                errors.append(FieldError(path=f"$.steps[{n}]", code="type", message="not a step"))
            elif step.key == EXIT or step.key in seen:
                errors.append(
                    FieldError(
                        path=f"$.steps[{n}].key",
                        code="duplicate",
                        message=f"{step.key!r} is used twice (or is the reserved 'exit')",
                    )
                )
            else:
                seen[step.key] = n
        if errors:
            return errors
        for n, step in enumerate(self.steps):
            for name, target in _targets(step):
                if target is not None and target != EXIT and target not in seen:
                    errors.append(
                        FieldError(
                            path=f"$.steps[{n}].{name}",
                            code="unknown_step",
                            message=f"no step has the key {target!r}",
                        )
                    )
        if not errors:
            errors.extend(self._loops_without_waiting())
        return errors

    def _loops_without_waiting(self) -> list[FieldError]:
        """A cycle through steps that never wait would run forever in one tick: refuse it."""
        object.__setattr__(self, "_index", {step.key: step for step in self.steps})
        index = {step.key: n for n, step in enumerate(self.steps)}
        state: dict[str, str] = {}
        for start in index:
            stack = [(start, iter(self.following(start)))]
            state[start] = "open"
            trail = [start]
            while stack:
                key, children = stack[-1]
                child = next(children, None)
                if child is None:
                    state[key] = "done"
                    stack.pop()
                    trail.pop()
                    continue
                if child == EXIT or isinstance(self.steps[index[child]], WAITS):
                    continue
                if state.get(child) == "open":
                    cycle = [*trail[trail.index(child) :], child]
                    return [
                        FieldError(
                            path=f"$.steps[{index[key]}]",
                            code="cycle",
                            message="steps loop without waiting: " + " -> ".join(cycle),
                        )
                    ]
                if child not in state:
                    state[child] = "open"
                    trail.append(child)
                    stack.append((child, iter(self.following(child))))
        return []

    def step(self, key: str) -> Step:
        """The step with this key."""
        return self._index[key]

    def after(self, key: str) -> str:
        """The step that follows ``key`` in the list (``exit`` after the last)."""
        keys = [step.key for step in self.steps]
        n = keys.index(key)
        return keys[n + 1] if n + 1 < len(keys) else EXIT

    def following(self, key: str) -> list[str]:
        """Every step ``key`` may lead to."""
        step = self.step(key)
        if isinstance(step, Exit):
            return []
        return [t if t is not None else self.after(key) for _, t in _targets(step)]


def _targets(step: Any) -> list[tuple[str, str | None]]:
    """Where a step may lead: (field name, step key or None for the following step)."""
    if isinstance(step, Branch):
        return [("then", step.then), ("otherwise", step.otherwise)]
    if isinstance(step, Split):
        return [(f"paths[{n}].to", p.to) for n, p in enumerate(step.paths)]
    if isinstance(step, WaitFor):
        return [("next", step.next), ("on_timeout", step.on_timeout)]
    if isinstance(step, Exit):
        return []
    return [("next", step.next)]


def _tag(name: str) -> Callable[[type], str]:
    """Reads a class's tag (its ``type`` or ``kind`` class variable) for the tagged union."""
    return lambda cls: str(vars(cls)[name])


configure_tagged_union(Step, converter, tag_name="type", tag_generator=_tag("type"))
configure_tagged_union(Entry, converter, tag_name="kind", tag_generator=_tag("kind"))
