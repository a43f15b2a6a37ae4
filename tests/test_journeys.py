"""Journeys: definitions, the pure state machine, the runner on both stores, the ready-made ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from omnichannel import converter
from omnichannel.channels.local import RecordingAdapter
from omnichannel.clock import FixedClock
from omnichannel.delivery import Cap, Delivery, Policy
from omnichannel.engine import Engine
from omnichannel.errors import ValidationError
from omnichannel.journeys import (
    DAY,
    EXIT,
    HOUR,
    Branch,
    Enrollment,
    Exit,
    Journey,
    JourneyRunner,
    OnDate,
    OnEvent,
    Send,
    Situation,
    Split,
    Trigger,
    Update,
    Wait,
    WaitFor,
    WaitUntil,
    enter,
    library,
    may_enter,
    next_date,
    observe,
    replay,
    run,
)
from omnichannel.journeys import (
    Path as SplitPath,
)
from omnichannel.models import Profile
from omnichannel.personalization import Message, Sms
from omnichannel.rules import trait
from omnichannel.segments import Segment
from omnichannel.store import MemoryStore, Store
from support import STORE_KINDS, make_store

AT = pendulum.datetime(2024, 3, 5, 15)  # 16:00 in Berlin
UNSUBSCRIBE = "https://shop.example/unsubscribe"


# --- definitions --------------------------------------------------------------------------


def test_every_ready_made_journey_round_trips_through_json() -> None:
    for journey in library.journeys():
        text = json.dumps(converter.unstructure(journey))
        assert converter.structure(json.loads(text), Journey) == journey


def test_a_step_is_tagged_by_its_type_in_json() -> None:
    data = converter.unstructure(library.abandoned_cart())
    assert [s["type"] for s in data["steps"]][:3] == ["wait", "branch", "send"]
    assert data["entry"] == {"event": "Product Added", "where": None, "kind": "event"}


@pytest.mark.parametrize(
    ("steps", "path", "code"),
    [
        ((Wait(key="a", seconds=1), Wait(key="a", seconds=2)), "$.steps[1].key", "duplicate"),
        ((Wait(key="exit", seconds=1),), "$.steps[0].key", "duplicate"),
        ((Wait(key="a", seconds=1, next="nowhere"),), "$.steps[0].next", "unknown_step"),
        (
            (
                Branch(key="a", rule=trait("x") == 1, then="b", otherwise=EXIT),
                Update(key="b", points=1, next="a"),
            ),
            "$.steps[1]",
            "cycle",
        ),
        ((), "$.steps", "required"),
    ],
)
def test_bad_journeys_are_refused_with_the_path(
    steps: tuple[Any, ...], path: str, code: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Journey(key="j", name="J", entry=OnEvent(event="E"), steps=steps)
    assert (caught.value.errors[0].path, caught.value.errors[0].code) == (path, code)


def test_a_loop_through_a_wait_is_allowed() -> None:
    Journey(
        key="j",
        name="J",
        entry=OnEvent(event="E"),
        steps=(Send(key="s", message="m", channels=("sms",)), Wait(key="w", seconds=1, next="s")),
    )


@pytest.mark.parametrize(
    ("make", "path"),
    [
        (lambda: Send(key="s", message="m"), "$.channels"),
        (lambda: Wait(key="w", seconds=0), "$.seconds"),
        (lambda: WaitUntil(key="w", at="25:00"), "$.at"),
        (lambda: WaitUntil(key="w", at="10:00", weekdays={8}), "$.weekdays"),
        (lambda: Split(key="s", paths=(SplitPath(name="holdout"),)), "$.paths"),
        (lambda: Split(key="s", paths=(SplitPath(name="a"),), holdout=1.0), "$.holdout"),
        (lambda: Update(key="u"), "$"),
        (lambda: Journey(key="J!", name="J", entry=OnEvent(event="E"), steps=()), "$.key"),
        (lambda: OnDate(field="traits.birthday", at="10"), "$.at"),
    ],
)
def test_bad_steps_name_the_field(make: Any, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make()
    assert caught.value.errors[0].path == path


def test_reading_a_bad_journey_document_names_the_field() -> None:
    data = converter.unstructure(library.in_store_cart())
    data["steps"][0]["type"] = "teleport"
    with pytest.raises(ValidationError):
        converter.structure(data, Journey)


# --- the state machine --------------------------------------------------------------------

SMS = Message(key="m", sms=Sms(body="Hi"))
ANN = Profile(
    id="p1",
    created_at=AT,
    updated_at=AT,
    time_zone="Europe/Berlin",
    identities=set(),
    traits={"vip": True},
)


def situation(profile: Profile = ANN) -> Situation:
    return Situation(profile=profile, messages={"m": SMS}, subject=lambda: {"traits": {}})


def simple(*steps: Any, **options: Any) -> Journey:
    return Journey(key="j", name="J", entry=OnEvent(event="E"), steps=steps, **options)


def test_run_takes_steps_until_a_wait_then_resumes_when_it_ends() -> None:
    journey = simple(Update(key="u", points=5), Wait(key="w", seconds=HOUR), Exit(key="x"))
    first = run(journey, enter(journey, "p1", AT, number=1), situation(), AT)
    assert [type(c).__name__ for c in first.commands] == ["UpdateCommand", "WakeAt"]
    assert first.enrollment.status == "waiting"
    assert first.enrollment.wake_at == AT.add(hours=1)
    early = run(journey, first.enrollment, situation(), AT.add(minutes=59))
    assert early.enrollment == first.enrollment
    assert early.commands == ()
    done = run(journey, first.enrollment, situation(), AT.add(hours=1))
    assert (done.enrollment.status, done.enrollment.exit_reason) == ("exited", "exit:x")


def test_wait_for_moves_on_with_the_event_or_leaves_by_its_timeout() -> None:
    journey = simple(
        WaitFor(key="w", event="Clicked", timeout=DAY, on_timeout="late"),
        Update(key="ok", points=1, next=EXIT),
        Update(key="late", points=2),
    )
    waiting = run(journey, enter(journey, "p1", AT, number=1), situation(), AT).enrollment
    assert waiting.waiting_for == "Clicked"
    assert observe(journey, waiting, "Other", {}, {}, AT) is None
    moved = observe(journey, waiting, "Clicked", {}, {}, AT.add(hours=2))
    assert moved is not None
    assert (moved.enrollment.step, moved.enrollment.wake_at) == ("ok", AT.add(hours=2))
    timed_out = run(journey, waiting, situation(), AT.add(days=1))
    assert [c.points for c in timed_out.commands if hasattr(c, "points")] == [2]


def test_the_goal_converts_wherever_the_person_is() -> None:
    journey = simple(Wait(key="w", seconds=DAY), goal=Trigger(event="Order Completed"))
    waiting = run(journey, enter(journey, "p1", AT, number=1), situation(), AT).enrollment
    converted = observe(journey, waiting, "Order Completed", {}, {}, AT.add(hours=1))
    assert converted is not None
    assert (converted.enrollment.status, converted.enrollment.wake_at) == ("converted", None)


def test_wait_until_waits_for_the_local_window_on_the_right_weekday() -> None:
    journey = simple(WaitUntil(key="w", at="10:00", weekdays={1}), Update(key="u", points=1))
    # 2024-03-05 is a Tuesday: the next Monday 10:00 in Berlin is 2024-03-11 09:00 UTC.
    waiting = run(journey, enter(journey, "p1", AT, number=1), situation(), AT).enrollment
    assert waiting.wake_at == pendulum.datetime(2024, 3, 11, 9)
    inside = pendulum.datetime(2024, 3, 11, 9, 30)
    assert run(journey, enter(journey, "p1", inside, number=1), situation(), inside).commands


def test_a_split_is_stable_and_holds_out_its_share() -> None:
    journey = simple(
        Split(key="s", paths=(SplitPath(name="a"), SplitPath(name="b")), holdout=0.1),
        Update(key="u", points=1),
    )
    groups = []
    for n in range(2000):
        result = run(journey, enter(journey, f"p{n}", AT, number=1), situation(), AT)
        again = run(journey, enter(journey, f"p{n}", AT, number=1), situation(), AT)
        assert result.enrollment.group == again.enrollment.group
        groups.append(result.enrollment.group)
    assert 0.07 < groups.count("holdout") / 2000 < 0.13
    assert abs(groups.count("a") - groups.count("b")) < 200


def test_reentry_rules() -> None:
    def enrolled(status: str, days_ago: int) -> Enrollment:
        at = AT.subtract(days=days_ago)
        return Enrollment(
            id="x", journey="j", profile_id="p", status=status,  # type: ignore[arg-type]
            step=None, entered_at=at, updated_at=at,
        )  # fmt: skip

    never, always = simple(Exit(key="x")), simple(Exit(key="x"), reentry="always")
    after = simple(Exit(key="x"), reentry="after", reentry_days=7)
    assert may_enter(never, [], AT)
    assert not may_enter(never, [enrolled("exited", 30)], AT)
    assert may_enter(always, [enrolled("exited", 0)], AT)
    assert not may_enter(always, [enrolled("waiting", 0)], AT)  # one at a time
    many = simple(Exit(key="x"), concurrent=True, reentry="always")
    assert may_enter(many, [enrolled("waiting", 0)], AT)
    assert not may_enter(after, [enrolled("converted", 6)], AT)
    assert may_enter(after, [enrolled("converted", 7)], AT)


def test_a_date_entry_comes_at_the_local_time_and_29_february_on_28() -> None:
    entry = OnDate(field="traits.birthday", at="10:00")
    berlin = {"traits": {"birthday": "1990-03-07"}, "timezone": "Europe/Berlin"}
    assert next_date(entry, berlin, AT) == pendulum.datetime(2024, 3, 7, 9)
    leap = {"traits": {"birthday": "2000-02-29"}, "timezone": "UTC"}
    assert next_date(entry, leap, pendulum.datetime(2025, 1, 1)) == pendulum.datetime(
        2025, 2, 28, 10
    )
    assert next_date(entry, {"traits": {}}, AT) is None


# --- the runner on both stores ------------------------------------------------------------


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = make_store(request.param, tmp_path)
    yield made
    made.close()


class Shop:
    """An engine on a fixed clock, delivery to recording adapters, and the journey runner."""

    def __init__(
        self,
        store: Store,
        journeys: list[Journey],
        *,
        segments: tuple[Segment, ...] = (),
        policy: Policy | None = None,
        messages: tuple[Message, ...] = (),
    ) -> None:
        self.clock = FixedClock(AT.subtract(days=10))
        self.engine = Engine(store, clock=self.clock, segments=segments)
        self.recorder = RecordingAdapter()
        channels = ("email", "sms", "push", "ads")
        self.delivery = Delivery(
            self.engine, dict.fromkeys(channels, self.recorder), policy=policy, seed=1
        )
        self.runner = JourneyRunner(
            self.engine,
            self.delivery,
            journeys,
            (*library.messages(), *messages),
            unsubscribe_url=lambda p: f"{UNSUBSCRIBE}/{p.id}",
            record=True,
        )
        self.sequence = 0

    def stamp(self) -> str:
        """The clock's time plus a millisecond per event: a person's events never tie."""
        self.sequence += 1
        return self.clock.now().add(microseconds=1000 * self.sequence).isoformat()

    def person(
        self, user: str = "u1", *, granted: tuple[str, ...] = ("email", "sms", "push", "ads"),
        **traits: Any,
    ) -> str:  # fmt: skip
        base = {
            "email": f"{user}@example.com", "phone": "+4915123617258", "timezone": "Europe/Berlin",
            "firstName": "ann",
        }  # fmt: skip
        pid = self.engine.ingest(
            {"type": "identify", "userId": user, "timestamp": self.stamp(),
             "traits": {**base, **traits}}
        ).profile_id  # fmt: skip
        assert pid is not None
        for channel in granted:
            self.consent(user, "Consent Granted", channel)
        return pid

    def consent(self, user: str, name: str, channel: str) -> None:
        self.track(user, name, purpose="marketing", channel=channel)

    def track(self, user: str, event: str, **properties: Any) -> None:
        self.engine.ingest(
            {"type": "track", "userId": user, "event": event, "properties": properties,
             "timestamp": self.stamp()}
        )  # fmt: skip

    def at(self, moment: pendulum.DateTime) -> list[tuple[str, str, str]]:
        """Move the clock, tick and relay; what the person received: (channel, message, to)."""
        self.clock.set(moment)
        self.engine.refresh(moment)
        before = len(self.recorder.sent)
        self.runner.tick(moment)
        self.delivery.relay_sync()
        return [(e.channel, e.message, e.to) for e in self.recorder.sent[before:]]

    def states(self) -> list[tuple[str, str]]:
        return [(e.status, e.exit_reason) for e in self.runner.enrollments()]


def test_abandoned_cart_goes_email_then_sms_then_the_audience(store: Store) -> None:
    shop = Shop(store, [library.abandoned_cart()])
    shop.person()
    shop.clock.set(AT)
    shop.track("u1", "Product Added", product_id="p1", name="Wool Coat", price=99, quantity=1)
    assert shop.at(AT.add(minutes=59)) == []
    [email] = shop.at(AT.add(hours=1))
    assert email == ("email", "cart-email", "u1@example.com")
    assert "1 x Wool Coat" in shop.recorder.sent[-1].content.text
    assert shop.at(AT.add(hours=24)) == []
    assert shop.at(AT.add(hours=25)) == [("sms", "cart-sms", "+4915123617258")]
    assert shop.at(AT.add(hours=49)) == [("ads", "add-to-retargeting", "retargeting")]
    assert shop.states() == [("exited", "completed")]


def test_a_purchase_in_the_store_ends_the_abandoned_cart_at_once(store: Store) -> None:
    shop = Shop(store, [library.abandoned_cart()])
    shop.person()
    shop.clock.set(AT)
    shop.track("u1", "Product Added", product_id="p1", name="Wool Coat", quantity=1)
    shop.at(AT.add(hours=1))
    shop.clock.set(AT.add(hours=3))
    shop.engine.ingest(
        {"type": "track", "userId": "u1", "event": "Order Completed", "context": {"channel": "store"},
         "properties": {"order_id": "o1", "products": [{"product_id": "p1", "quantity": 1}]},
         "timestamp": shop.stamp()}
    )  # fmt: skip
    assert shop.states() == [("converted", "goal")]
    assert shop.at(AT.add(days=5)) == []


def test_consent_withdrawn_mid_journey_stops_the_next_message(store: Store) -> None:
    shop = Shop(store, [library.abandoned_cart()])
    shop.person()
    shop.clock.set(AT)
    shop.track("u1", "Product Added", product_id="p1", name="Wool Coat", quantity=1)
    assert len(shop.at(AT.add(hours=1))) == 1
    shop.clock.set(AT.add(hours=2))
    shop.consent("u1", "Consent Revoked", "sms")
    assert shop.at(AT.add(hours=25)) == []
    held = list(shop.runner.tick(AT.add(hours=25)).records)
    assert held == []  # nothing due twice
    sms = [r for r in shop.delivery.outbox() if r.channel == "sms"]
    assert sms == []  # never queued: the machine found no usable channel


def test_onboarding_skips_the_app_nudge_for_app_users(store: Store) -> None:
    shop = Shop(store, [library.onboarding()])
    shop.person("u1")
    shop.person("u2")
    shop.clock.set(AT)
    shop.track("u1", "Signed Up", method="email")
    shop.track("u2", "Signed Up", method="email")
    assert sorted(m for _, m, _ in shop.at(AT)) == ["welcome", "welcome"]
    shop.clock.set(AT.add(days=1))
    shop.track("u2", "Application Opened")
    assert shop.at(AT.add(days=2)) == [("email", "app-nudge", "u1@example.com"),
                                       ("email", "first-purchase", "u2@example.com")]  # fmt: skip
    assert shop.at(AT.add(days=5)) == [("email", "first-purchase", "u1@example.com")]


def test_birthday_at_ten_local_time_with_points(store: Store) -> None:
    shop = Shop(store, [library.birthday()])
    pid = shop.person(birthday="1990-03-07")
    assert shop.at(pendulum.datetime(2024, 3, 7, 8, 59)) == []
    sent = shop.at(pendulum.datetime(2024, 3, 7, 9))  # 10:00 in Berlin
    assert [m for _, m, _ in sent] == ["birthday"]
    state = shop.engine.state(pid)
    assert state is not None
    assert state.loyalty.balance == 100
    assert shop.at(pendulum.datetime(2025, 3, 7, 9)) == sent  # next year again
    assert shop.engine.state(pid).loyalty.balance == 200  # type: ignore[union-attr]


def test_post_purchase_click_and_collect(store: Store) -> None:
    shop = Shop(store, [library.post_purchase()])
    shop.person()
    shop.clock.set(AT)
    for order in ("o1", "o2"):
        shop.track("u1", "Order Completed", order_id=order, store_id="st_1", total=10)
    assert [m for _, m, _ in shop.at(AT)] == ["order-confirmation"] * 2
    shop.clock.set(AT.add(hours=5))
    shop.track("u1", "Order Ready for Pickup", order_id="o2", store_id="st_1")
    assert shop.at(AT.add(hours=5)) == [("sms", "ready-for-pickup", "+4915123617258")]
    assert "o2" in shop.recorder.sent[-1].content.body
    shop.clock.set(AT.add(days=1))
    shop.track("u1", "Order Picked Up", order_id="o2", store_id="st_1")
    assert shop.at(AT.add(days=3)) == [("email", "review-request", "u1@example.com")]
    assert shop.at(AT.add(days=10)) == [("email", "support-follow-up", "u1@example.com")]


def test_in_store_visit_with_a_cart_gets_an_sms_while_there(store: Store) -> None:
    shop = Shop(store, [library.in_store_cart()])
    shop.person("u1")
    shop.person("u2")
    shop.clock.set(AT)
    shop.track("u1", "Product Added", product_id="p1", name="Wool Coat", quantity=1)
    shop.track("u1", "Store Visited", store_id="st_1")
    shop.track("u2", "Store Visited", store_id="st_1")  # nothing in the cart
    assert shop.at(AT) == [("sms", "in-store-cart", "+4915123617258")]
    assert sorted(s for s, _ in shop.states()) == ["exited", "exited"]


def test_win_back_holds_out_a_tenth_of_the_at_risk_group(store: Store) -> None:
    at_risk = Segment(key="at-risk", name="At risk", rule=trait("risk") == True)  # noqa: E712
    shop = Shop(store, [library.win_back(segment="at-risk")], segments=(at_risk,))
    for n in range(60):
        shop.person(f"u{n}", risk=True)
    sent = shop.at(AT)
    groups = [e.group for e in shop.runner.enrollments()]
    assert len(groups) == 60
    assert groups.count("holdout") + len(sent) == 60
    assert 0 < groups.count("holdout") < 15


def test_caps_hold_back_what_the_policy_forbids() -> None:
    shop = Shop(
        MemoryStore(),
        [library.post_purchase(), library.in_store_cart()],
        policy=Policy(caps=(Cap(limit=0, period="day"),)),
    )
    shop.person()
    shop.clock.set(AT)
    shop.track("u1", "Product Added", product_id="p1", quantity=1)
    shop.track("u1", "Store Visited", store_id="st_1")
    shop.runner.tick(AT)  # the in-store SMS is queued (caps are checked when it is sent)
    shop.track("u1", "Order Completed", order_id="o1", total=5)
    sent = shop.at(AT)
    # The confirmation is transactional: caps do not hold it. The marketing SMS is capped.
    assert [m for _, m, _ in sent] == ["order-confirmation"]
    assert [r.status for r in shop.delivery.outbox() if r.message == "in-store-cart"] == ["dropped"]


def test_a_merge_moves_enrollments_to_the_survivor(store: Store) -> None:
    shop = Shop(store, [library.abandoned_cart()])
    shop.clock.set(AT)
    shop.engine.ingest(
        {"type": "track", "anonymousId": "a1", "event": "Product Added",
         "properties": {"product_id": "p1", "quantity": 1}, "timestamp": shop.stamp()}
    )  # fmt: skip
    [before] = shop.runner.enrollments()
    shop.person("u1")
    result = shop.engine.ingest(
        {"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": shop.stamp()}
    )
    [after] = shop.runner.enrollments()
    assert before.id == after.id
    assert after.profile_id == result.profile_id
    assert shop.at(AT.add(hours=1)) == [("email", "cart-email", "u1@example.com")]


def test_runner_refuses_unknown_messages_segments_and_missing_unsubscribe_links() -> None:
    engine = Engine(MemoryStore(), clock=FixedClock(AT))
    delivery = Delivery(engine, {})
    bad = simple(Send(key="s", message="nope", channels=("sms",)))
    with pytest.raises(ValidationError) as caught:
        JourneyRunner(
            engine,
            delivery,
            [bad, library.win_back()],
            library.messages(),
            unsubscribe_url=lambda _person: UNSUBSCRIBE,
        )
    paths = [e.path for e in caught.value.errors]
    assert paths == ["$.journeys[0].steps[0].message", "$.journeys[1].entry.segment"]
    with pytest.raises(ValidationError) as caught:
        JourneyRunner(engine, delivery, [library.abandoned_cart()], library.messages())
    assert caught.value.errors[0].code == "required"


def test_enroll_by_hand_follows_the_reentry_rule(store: Store) -> None:
    shop = Shop(store, [library.in_store_cart()])
    pid = shop.person()
    shop.clock.set(AT)
    assert shop.runner.enroll("in-store-cart", pid) is not None
    assert shop.runner.enroll("in-store-cart", pid) is None  # one at a time
    with pytest.raises(ValidationError):
        shop.runner.enroll("nope", pid)
    with pytest.raises(ValidationError):
        shop.runner.enroll("in-store-cart", "prof_unknown")


def test_erasing_a_person_removes_their_enrollments(store: Store) -> None:
    shop = Shop(store, [library.abandoned_cart()])
    pid = shop.person()
    shop.clock.set(AT)
    shop.track("u1", "Product Added", product_id="p1", quantity=1)
    assert len(shop.runner.enrollments()) == 1
    shop.engine.erase(pid)
    assert shop.runner.enrollments() == []
    assert shop.at(AT.add(days=3)) == []


# --- replay ---------------------------------------------------------------------------------


def test_replay_over_synthetic_data_runs_every_ready_made_journey() -> None:
    from omnichannel.datasets import synthetic_retail

    at_risk = Segment(key="rfm-at-risk", name="At risk", rule=trait("vip") == True)  # noqa: E712
    events = synthetic_retail(120, 45, 3)
    found = replay(
        library.journeys(),
        events,
        messages=library.messages(),
        segments=(at_risk,),
        unsubscribe_url=lambda p: f"{UNSUBSCRIBE}/{p.id}",
        resolution=3600,
    )
    summary = found.summary()
    for key in ("abandoned-cart", "post-purchase", "in-store-cart", "birthday"):
        assert summary[key]["entered"] > 0, key
        assert sum(summary[key]["sent"].values()) > 0, key
    # Every message queued names a journey step, once per idempotency key.
    ids = [row.id for row in found.outbox]
    assert len(ids) == len(set(ids))
    assert summary["post-purchase"]["sent"].get("email", 0) > 0
    assert found.records


def test_the_holdout_stays_enrolled_so_its_conversions_count(store: Store) -> None:
    at_risk = Segment(key="at-risk", name="At risk", rule=trait("risk") == True)  # noqa: E712
    shop = Shop(store, [library.win_back(segment="at-risk")], segments=(at_risk,))
    for n in range(40):
        shop.person(f"u{n}", risk=True)
    shop.at(AT)
    held = [e for e in shop.runner.enrollments() if e.group == "holdout"]
    assert held
    assert all(e.status == "waiting" for e in held)
    buyer = held[0].profile_id
    person = shop.engine.profile(buyer)
    assert person is not None
    user = person.identities_of("user_id")[0].value
    shop.clock.set(AT.add(days=2))
    shop.track(user, "Order Completed", order_id="o1", total=5)
    mine = [e for e in shop.runner.enrollments() if e.profile_id == buyer]
    assert [(e.status, e.group) for e in mine] == [("converted", "holdout")]
    shop.at(AT.add(days=31))
    assert all(not e.open for e in shop.runner.enrollments() if e.group == "holdout")


def test_an_enrollment_written_twice_runs_once_per_tick() -> None:
    shop = Shop(MemoryStore(), [library.win_back(segment="at-risk")], segments=(
        Segment(key="at-risk", name="At risk", rule=trait("risk") == True),  # noqa: E712
    ))  # fmt: skip
    shop.person("u1", risk=True)
    with shop.engine.transaction() as tx:
        rows = tx.enrollments_of([e.profile_id for e in shop.runner.enrollments()])
        tx.put_enrollments(rows)  # the same wake-up again
        tx.put_enrollments(rows)
    assert shop.runner.tick(AT).enrollments == 1


def test_a_birthday_in_the_zone_the_events_tell() -> None:
    shop = Shop(MemoryStore(), [library.birthday()])
    shop.engine.ingest(
        {"type": "identify", "userId": "u1", "timestamp": shop.stamp(),
         "context": {"timezone": "Asia/Tokyo"},
         "traits": {"email": "u1@example.com", "birthday": "1990-03-07"}}
    )  # fmt: skip
    shop.consent("u1", "Consent Granted", "email")
    assert shop.at(pendulum.datetime(2024, 3, 7, 1)) == [("email", "birthday", "u1@example.com")]


def test_dates_are_scheduled_after_an_import_and_orphans_are_closed(store: Store) -> None:
    clock = FixedClock(AT)
    engine = Engine(store, clock=clock)
    engine.ingest(
        {"type": "identify", "userId": "u1", "timestamp": "2024-03-01T10:00:00Z",
         "traits": {"email": "u1@example.com", "birthday": "1990-03-07", "timezone": "UTC"}}
    )  # fmt: skip
    delivery = Delivery(engine, {"email": RecordingAdapter()})
    runner = JourneyRunner(engine, delivery, [library.birthday()], library.messages(),
                           unsubscribe_url=lambda _person: UNSUBSCRIBE)  # fmt: skip
    assert runner.enrollments() == []  # imported before the runner existed
    assert runner.schedule_dates(AT) == 1
    assert runner.schedule_dates(AT) == 0  # already set
    [placeholder] = runner.enrollments(profile_id=runner.enrollments()[0].profile_id)
    assert (placeholder.status, placeholder.wake_at) == (
        "scheduled",
        pendulum.datetime(2024, 3, 7, 10),
    )
    # A runner that no longer has the journey closes what is due of it.
    other = JourneyRunner(engine, delivery, [library.in_store_cart()], library.messages())
    report = other.tick(pendulum.datetime(2024, 3, 8))
    assert report.enrollments == 1
    assert [e.exit_reason for e in other.enrollments()] == ["journey_removed"]


def test_a_tick_decides_at_its_own_now_not_the_clocks() -> None:
    shop = Shop(MemoryStore(), [library.in_store_cart()])
    shop.person()
    shop.clock.set(AT)
    shop.track("u1", "Product Added", product_id="p1", quantity=1)
    shop.track("u1", "Store Visited", store_id="st_1")
    late = AT.set(hour=22)  # 23:00 in Berlin: quiet hours for SMS, though the clock says 16:00
    shop.runner.tick(late)
    [row] = shop.delivery.outbox()
    assert row.due_at == pendulum.datetime(2024, 3, 6, 8, tz="Europe/Berlin")
