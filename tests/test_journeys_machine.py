"""A hypothesis state machine over random journeys, events, consent changes and clock jumps.

Checked after every step: no message reaches an adapter without the
person's consent at that moment, no step's send happens twice (each
idempotency key reaches the adapter once, and an enrollment sends at most
once per visit of a send step), and no enrollment is stuck (after a tick,
every open enrollment waits for a future time).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pendulum
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from omnichannel.journeys import (
    EXIT,
    HOUR,
    Branch,
    Journey,
    OnEvent,
    Path,
    Send,
    Split,
    Trigger,
    Update,
    Wait,
    WaitFor,
)
from omnichannel.models import Identity
from omnichannel.personalization import Email, Message, Sms
from omnichannel.rules import trait
from omnichannel.store import MemoryStore
from test_journeys import AT, Shop

# A message with both renditions: a send step with both channels falls back from one to the other.
FALLBACK = Message(
    key="cart-fallback",
    email=Email(subject="Cart", sender="shop@example.com", text="Cart {{ unsubscribe_url }}"),
    sms=Sms(body="Cart. STOP=opt out"),
)

USERS = ("u0", "u1", "u2")
CHANNELS = ("email", "sms")


@st.composite
def journeys(draw: st.DrawFn) -> Journey:
    """A random journey of 2 to 7 steps; branches only jump forward (loops must wait)."""
    count = draw(st.integers(2, 7))
    keys = [f"s{n}" for n in range(count)]
    steps: list[Any] = []
    for n, key in enumerate(keys):
        later = [*keys[n + 1 :], EXIT]
        kind = draw(
            st.sampled_from(["send", "send", "wait", "wait_for", "branch", "update", "split"])
        )
        if kind == "send":
            channels = draw(st.permutations(CHANNELS).map(tuple))
            message = draw(st.sampled_from(["cart-fallback", "cart-email", "cart-sms"]))
            if message != "cart-fallback":
                channels = (message.removeprefix("cart-"),)
            both = message == "cart-fallback"
            steps.append(
                Send(key=key, message=message, channels=channels if both else channels[:1])
            )
        elif kind == "wait":
            steps.append(Wait(key=key, seconds=draw(st.sampled_from([HOUR, 6 * HOUR, 30 * HOUR]))))
        elif kind == "wait_for":
            steps.append(
                WaitFor(
                    key=key,
                    event="Clicked",
                    timeout=draw(st.sampled_from([HOUR, 12 * HOUR])),
                    on_timeout=draw(st.sampled_from(later)),
                )
            )
        elif kind == "branch":
            steps.append(
                Branch(
                    key=key,
                    rule=trait("vip") == True,  # noqa: E712 - builds a rule
                    then=draw(st.sampled_from(later)),
                )
            )
        elif kind == "update":
            steps.append(Update(key=key, points=1))
        else:
            steps.append(Split(key=key, paths=(Path(name="a"), Path(name="b")), holdout=0.3))
    return Journey(
        key="random",
        name="Random",
        entry=OnEvent(event="Product Added"),
        steps=tuple(steps),
        goal=Trigger(event="Order Completed"),
        reentry=draw(st.sampled_from(["never", "always"])),
    )


class JourneyMachine(RuleBasedStateMachine):
    shop: Shop
    now: pendulum.DateTime

    @initialize(
        journey=journeys(),
        vip=st.lists(st.booleans(), min_size=3, max_size=3),
        granted=st.lists(
            st.sampled_from([(), ("email",), ("sms",), CHANNELS]), min_size=3, max_size=3
        ),
    )
    def setup(self, journey: Journey, vip: list[bool], granted: list[tuple[str, ...]]) -> None:
        self.shop = Shop(MemoryStore(), [journey], messages=(FALLBACK,))
        for user, flag, channels in zip(USERS, vip, granted, strict=True):
            self.shop.person(user, granted=channels, vip=flag)
        self.now = AT
        self.shop.clock.set(AT)
        self.checked = 0

    @rule(
        user=st.sampled_from(USERS),
        event=st.sampled_from(["Product Added", "Order Completed", "Clicked"]),
    )
    def act(self, user: str, event: str) -> None:
        self.shop.track(user, event, product_id="p1", quantity=1)

    @rule(
        user=st.sampled_from(USERS),
        channel=st.sampled_from(CHANNELS),
        change=st.sampled_from(["Consent Granted", "Consent Revoked"]),
    )
    def consent(self, user: str, channel: str, change: str) -> None:
        self.shop.consent(user, change, channel)

    @rule(minutes=st.sampled_from([1, 30, 59, 60, 61, 360, 1440, 1800, 4000]))
    def jump(self, minutes: int) -> None:
        self.now = self.now.add(minutes=minutes)
        before = len(self.shop.recorder.sent)
        self.shop.at(self.now)
        for envelope in self.shop.recorder.sent[before:]:
            kind = "email" if envelope.channel == "email" else "phone"
            profile = self.shop.engine.profile(Identity(kind=kind, value=envelope.to))
            assert profile is not None
            assert profile.consent("marketing", envelope.channel, self.now), envelope
        self.checked += 1

    @precondition(lambda self: hasattr(self, "shop"))
    @invariant()
    def each_send_once(self) -> None:
        keys = Counter(e.idempotency_key for e in self.shop.recorder.sent)
        assert not keys or max(keys.values()) == 1
        journey = self.shop.runner.journeys["random"]
        sends = {s.key for s in journey.steps if isinstance(s, Send)}
        # An enrollment queues at most one message per visit of a send step.
        allowed: Counter[str] = Counter()
        for enrollment in self.shop.runner.enrollments():
            allowed[enrollment.profile_id] += sum(
                n for key, n in enrollment.visits.items() if key in sends
            )
        queued = Counter(row.profile_id for row in self.shop.delivery.outbox())
        assert all(queued[pid] <= allowed[pid] for pid in queued)

    @precondition(lambda self: hasattr(self, "shop"))
    @invariant()
    def nothing_stuck(self) -> None:
        for enrollment in self.shop.runner.enrollments():
            if not enrollment.open:
                assert enrollment.wake_at is None
                continue
            assert enrollment.wake_at is not None
            if enrollment.status == "waiting":
                assert enrollment.step is not None
            if enrollment.waiting_for is not None:
                assert isinstance(
                    self.shop.runner.journeys["random"].step(enrollment.step or ""), WaitFor
                )

    @rule()
    def tick_leaves_nothing_due(self) -> None:
        self.shop.runner.tick(self.now)
        for enrollment in self.shop.runner.enrollments():
            if enrollment.open:
                assert enrollment.wake_at is not None
                assert enrollment.wake_at > self.now


JourneyMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
test_random_journeys_never_send_without_consent_twice_or_get_stuck = JourneyMachine.TestCase
