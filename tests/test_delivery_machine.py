"""A hypothesis state machine over the send pipeline: people, consents, clocks, relays.

Random sends on e-mail and SMS, consents granted and revoked at random
moments (also between a send's decision and its dispatch), the clock moving
in random steps across the 2024 daylight-saving changes of New York and
Berlin, relay rounds in between. After every round, every message the
adapter received must have had consent at that instant, fallen outside the
person's quiet hours in their zone, and kept every cap. The test counts the
steps it ran: at least 10,000 in CI.
"""

from __future__ import annotations

import pendulum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from omnichannel.channels import Envelope, Receipt
from omnichannel.channels.local import RecordingAdapter
from omnichannel.channels.sms import segments
from omnichannel.clock import FixedClock
from omnichannel.delivery import Cap, Delivery, Policy, QuietHours, SendRequest
from omnichannel.engine import Engine
from omnichannel.personalization import RenderedEmail, RenderedSms
from omnichannel.store import MemoryStore

PEOPLE = {"u1": ("America/New_York", "+12125550101"), "u2": ("Europe/Berlin", "+4915112345678")}
CHANNELS = ("email", "sms")
QUIET = {
    "sms": QuietHours(start="21:00", end="08:00"),
    "email": QuietHours(start="23:30", end="06:15"),
}
CAPS = (Cap(limit=2, period="day", channel="sms"), Cap(limit=4, period="week"))
EMAIL = RenderedEmail(
    subject="Hi", sender="s@example.com", html="<p>Hi</p>", text="Hi", preheader=None, reply_to=None
)
SMS = RenderedSms(body="Hi", segments=segments("Hi"))
# Starts two days before New York springs forward (2024-03-10); Berlin follows on 03-31.
START = pendulum.datetime(2024, 3, 8, 12)

STEPS = {"count": 0}


class Pipeline(RuleBasedStateMachine):
    """The pipeline and a model of what each person allowed, when."""

    @initialize()
    def setup(self) -> None:
        self.clock = FixedClock(START)
        self.engine = Engine(MemoryStore(), clock=self.clock)
        self.ids: dict[str, str] = {}
        for user, (zone, phone) in PEOPLE.items():
            result = self.engine.ingest(
                {
                    "type": "identify", "userId": user, "timestamp": START.isoformat(),
                    "traits": {"email": f"{user}@example.com", "phone": phone, "timezone": zone},
                }
            )  # fmt: skip
            self.ids[user] = result.profile_id
        # (user, channel) -> [(at, granted)] in the order given
        self.consents: dict[tuple[str, str], list[tuple[pendulum.DateTime, bool]]] = {}
        # What the adapter received, when, and whether the model allowed it at that moment.
        self.delivered: list[tuple[Envelope, pendulum.DateTime, bool]] = []
        self.adapter = RecordingAdapter(self._answer)
        self.delivery = Delivery(
            self.engine,
            {"email": self.adapter, "sms": self.adapter},
            policy=Policy(quiet_hours=QUIET, caps=CAPS),
        )
        self.origin = 0

    def _answer(self, envelope: Envelope) -> Receipt:
        user = next(u for u, pid in self.ids.items() if pid == envelope.profile_id)
        now = self.clock.now()
        self.delivered.append((envelope, now, self._granted(user, envelope.channel, now)))
        return Receipt.sent(envelope.id)

    def _granted(self, user: str, channel: str, at: pendulum.DateTime) -> bool:
        """The model's answer: the last change given at or before ``at`` counts."""
        answer = False
        for when, granted in self.consents.get((user, channel), []):
            if when <= at:
                answer = granted
        return answer

    @rule(
        user=st.sampled_from(sorted(PEOPLE)), channel=st.sampled_from(CHANNELS), grant=st.booleans()
    )
    def change_consent(self, user: str, channel: str, grant: bool) -> None:
        STEPS["count"] += 1
        now = self.clock.now()
        self.engine.ingest(
            {
                "type": "track", "userId": user, "timestamp": now.isoformat(),
                "event": "Consent Granted" if grant else "Consent Revoked",
                "properties": {"purpose": "marketing", "channel": channel},
            }
        )  # fmt: skip
        self.consents.setdefault((user, channel), []).append((now, grant))

    @rule(user=st.sampled_from(sorted(PEOPLE)), channel=st.sampled_from(CHANNELS))
    def send(self, user: str, channel: str) -> None:
        STEPS["count"] += 1
        self.origin += 1
        _zone, phone = PEOPLE[user]
        self.delivery.send(
            [
                SendRequest(
                    profile_id=self.ids[user], channel=channel,
                    to=f"{user}@example.com" if channel == "email" else phone,
                    content=EMAIL if channel == "email" else SMS, message="m",
                    origin=f"o{self.origin}", actor={"userId": user},
                )
            ]
        )  # fmt: skip

    @rule(minutes=st.integers(min_value=1, max_value=16 * 60))
    def wait(self, minutes: int) -> None:
        STEPS["count"] += 1
        self.clock.advance(minutes=minutes)

    @rule()
    def relay(self) -> None:
        STEPS["count"] += 1
        self.delivery.relay_sync(rounds=2)

    @invariant()
    def nothing_was_sent_that_should_not_have_been(self) -> None:
        if not hasattr(self, "delivered"):
            return
        by_person: dict[str, list[tuple[str, pendulum.DateTime]]] = {}
        users = {pid: user for user, pid in self.ids.items()}
        for envelope, at, allowed in self.delivered:
            user = users[envelope.profile_id]
            zone = PEOPLE[user][0]
            assert allowed, (user, envelope.channel, at)
            assert not QUIET[envelope.channel].holds(at.in_timezone(zone)), (envelope, at)
            by_person.setdefault(user, []).append((envelope.channel, at))
        for user, sends in by_person.items():
            zone = PEOPLE[user][0]
            for _, at in sends:
                day = at.in_timezone(zone).date()
                same_day = [c for c, t in sends if c == "sms" and t.in_timezone(zone).date() == day]
                assert len(same_day) <= 2
                week = [t for _, t in sends if at.subtract(days=7) < t <= at]
                assert len(week) <= 4


def test_the_pipeline_never_sends_without_consent_in_quiet_hours_or_over_a_cap() -> None:
    STEPS["count"] = 0
    run_state_machine_as_test(
        Pipeline,
        settings=settings(
            max_examples=130,
            stateful_step_count=100,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert STEPS["count"] >= 10_000, STEPS["count"]


def test_the_machine_can_fail() -> None:
    """A send that skips the policy breaks the invariant: the check is not vacuous.

    A transactional message is exempt from consent, quiet hours and caps, so
    one sent to a person who never consented must be caught by the model.
    """
    machine = Pipeline()
    machine.setup()
    user, (_zone, phone) = "u1", PEOPLE["u1"]
    machine.delivery.send(
        [
            SendRequest(
                profile_id=machine.ids[user], channel="sms", to=phone, content=SMS,
                message="receipt", origin="order-1", actor={"userId": user}, transactional=True,
            )
        ]
    )  # fmt: skip
    machine.relay()
    try:
        machine.nothing_was_sent_that_should_not_have_been()
    except AssertionError:
        return
    raise AssertionError("a send without consent went unnoticed")
