"""The send pipeline: the dispatch policy (pure) and the outbox relay on both stores."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.channels import Outcome, Receipt
from omnichannel.channels.local import RecordingAdapter
from omnichannel.clock import FixedClock
from omnichannel.delivery import (
    Action,
    Cap,
    Delivery,
    Policy,
    QuietHours,
    RetryPolicy,
    SendRequest,
    SentRecord,
    TokenBucket,
    check_dispatch,
)
from omnichannel.engine import Engine
from omnichannel.errors import ValidationError
from omnichannel.models import Consent, Identity, Profile
from omnichannel.personalization import RenderedEmail
from omnichannel.store import MemoryStore, Store
from support import STORE_KINDS, make_store

AT = pendulum.datetime(2024, 3, 5, 15)  # 10:00 in New York, 16:00 in Berlin
EMAIL = RenderedEmail(
    subject="Hi", sender="shop@example.com", html="<p>Hi</p>", text="Hi", preheader=None,
    reply_to=None,
)  # fmt: skip


def person(
    *, zone: str = "America/New_York", granted: tuple[str, ...] = ("email", "sms"), **traits: Any
) -> Profile:
    return Profile(
        id="p1",
        created_at=AT.subtract(days=30),
        updated_at=AT.subtract(days=30),
        time_zone=zone,
        traits=traits,
        identities={
            Identity(kind="email", value="ann@example.com"),
            Identity(kind="phone", value="+12125550123"),
            Identity(kind="user_id", value="u1"),
        },
        consents=tuple(
            Consent(
                purpose="marketing", channel=c, status="granted", status_at=AT.subtract(days=30)
            )
            for c in granted
        ),
    )


def verdict(profile: Profile | None, channel: str = "email", **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "purpose": "marketing",
        "transactional": False,
        "address": "ann@example.com" if channel == "email" else "+12125550123",
        "now": AT,
        "policy": Policy(),
    }
    options.update(kwargs)
    return check_dispatch(profile=profile, channel=channel, **options)


# --- the policy -------------------------------------------------------------------------


def test_a_person_with_consent_and_an_address_may_be_sent_to() -> None:
    assert verdict(person()).action is Action.SEND


@pytest.mark.parametrize(
    ("profile", "kwargs", "code"),
    [
        (None, {}, "no_profile"),
        (person(granted=()), {}, "no_consent"),
        (person(), {"address": "bob@example.com"}, "unreachable"),
        (person(), {"invalid": {"ann@example.com"}}, "unreachable"),
        (person(), {"purpose": "newsletter"}, "no_consent"),
    ],
)
def test_the_policy_drops_what_may_not_go(
    profile: Profile | None, kwargs: dict[str, Any], code: str
) -> None:
    result = verdict(profile, **kwargs)
    assert (result.action, result.code) == (Action.DROP, code)


def test_transactional_messages_skip_consent_quiet_hours_and_caps_but_not_reachability() -> None:
    night = AT.set(hour=3)  # 22:00 in New York
    capped = Policy(caps=(Cap(limit=0, period="day"),))
    result = verdict(person(granted=()), "sms", transactional=True, now=night, policy=capped)
    assert result.action is Action.SEND
    assert verdict(person(), transactional=True, address="x@example.com").code == "unreachable"


def test_quiet_hours_defer_to_the_end_of_the_window_in_the_persons_zone() -> None:
    late = pendulum.datetime(2024, 3, 6, 3)  # 22:00 on the 5th in New York
    result = verdict(person(), "sms", now=late)
    assert (result.action, result.code) == (Action.DEFER, "quiet_hours")
    assert result.until == pendulum.datetime(2024, 3, 6, 8, tz="America/New_York")
    early = pendulum.datetime(2024, 3, 6, 11)  # 06:00 in New York, same morning
    assert verdict(person(), "sms", now=early).until == result.until
    assert verdict(person(), "email", now=late).action is Action.SEND  # no window for e-mail


def test_quiet_hours_end_on_the_right_side_of_a_dst_change() -> None:
    # New York springs forward on 2024-03-10 at 02:00: 08:00 that morning is 12:00 UTC.
    late = pendulum.datetime(2024, 3, 10, 3)  # 22:00 EST on the 9th
    assert verdict(person(), "sms", now=late).until == pendulum.datetime(2024, 3, 10, 12)
    # Berlin falls back on 2024-10-27: 08:00 that morning is 07:00 UTC.
    berlin = person(zone="Europe/Berlin")
    night = pendulum.datetime(2024, 10, 26, 21)  # 23:00 CEST on the 26th
    assert verdict(berlin, "sms", now=night).until == pendulum.datetime(2024, 10, 27, 7)


def test_quiet_hours_fall_back_to_the_workspace_zone_never_open() -> None:
    unknown = person(zone="UTC")
    at_night_in_tokyo = pendulum.datetime(2024, 3, 5, 14)  # 23:00 in Tokyo, 14:00 UTC
    assert verdict(unknown, "sms", now=at_night_in_tokyo).action is Action.SEND
    tokyo = Policy(time_zone="Asia/Tokyo")
    result = verdict(unknown, "sms", now=at_night_in_tokyo, policy=tokyo)
    assert (result.action, result.code) == (Action.DEFER, "quiet_hours")
    # A person who said they live in UTC keeps UTC.
    said_utc = person(zone="UTC", timezone="UTC")
    assert verdict(said_utc, "sms", now=at_night_in_tokyo, policy=tokyo).action is Action.SEND


def test_a_window_within_one_day_and_every_channel_wildcard() -> None:
    lunch = QuietHours(start="12:00", end="13:30")
    policy = Policy(quiet_hours={"*": lunch})
    noon = pendulum.datetime(2024, 3, 5, 17, 15)  # 12:15 in New York
    result = verdict(person(), "email", now=noon, policy=policy)
    assert result.until == pendulum.datetime(2024, 3, 5, 13, 30, tz="America/New_York")


def test_caps_count_per_calendar_day_in_the_persons_zone_and_per_rolling_week() -> None:
    daily = Policy(caps=(Cap(limit=1, period="day", channel="email"),))
    # 01:00 UTC on the 5th is 20:00 on the 4th in New York: yesterday there.
    yesterday = [SentRecord(channel="email", at=pendulum.datetime(2024, 3, 5, 1))]
    assert verdict(person(), sent=yesterday, policy=daily).action is Action.SEND
    today = [SentRecord(channel="email", at=pendulum.datetime(2024, 3, 5, 6))]
    assert verdict(person(), sent=today, policy=daily).code == "cap"
    other_channel = [SentRecord(channel="sms", at=pendulum.datetime(2024, 3, 5, 6))]
    assert verdict(person(), sent=other_channel, policy=daily).action is Action.SEND
    weekly = Policy(caps=(Cap(limit=2, period="week"),))
    recent = [SentRecord(channel=c, at=AT.subtract(days=d)) for c, d in (("sms", 6), ("email", 2))]
    assert verdict(person(), sent=recent, policy=weekly).code == "cap"
    old = [SentRecord(channel="sms", at=AT.subtract(days=8)), recent[1]]
    assert verdict(person(), sent=old, policy=weekly).action is Action.SEND


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: QuietHours(start="25:00"), "$.start"),
        (lambda: QuietHours(start="08:00", end="08:00"), "$.end"),
        (lambda: Cap(limit=-1, period="day"), "$.limit"),
        (lambda: Cap(limit=1, period="month"), "$.period"),
        (lambda: Policy(time_zone="Mars/Olympus"), "$.time_zone"),
        (lambda: RetryPolicy(max_attempts=0), "$.max_attempts"),
        (lambda: RetryPolicy(base=-1), "$.base"),
        (lambda: TokenBucket(rate=0), "$.rate"),
    ],
)
def test_bad_settings_name_the_field(build: Any, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.errors[0].path == path


ZONES = ("America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC")


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 366),
    granted=st.booleans(),
    start=st.times(),
    end=st.times(),
)
def test_the_policy_never_sends_without_consent_or_inside_quiet_hours(
    zone: str, minutes: int, granted: bool, start: dt.time, end: dt.time
) -> None:
    if start == end:
        return
    window = QuietHours(start=start, end=end)
    policy = Policy(quiet_hours={"sms": window}, time_zone="Europe/Berlin")
    now = pendulum.datetime(2024, 1, 1).add(minutes=minutes)
    profile = person(zone=zone, granted=("sms",) if granted else ())
    result = verdict(profile, "sms", now=now, policy=policy)
    local_zone = policy.zone_of(profile)
    if result.action is Action.SEND:
        assert granted
        assert not window.holds(now.in_timezone(local_zone))
    if result.action is Action.DEFER:
        assert result.until is not None
        assert result.until > now
        assert not window.holds(result.until.in_timezone(local_zone))


# --- the pipeline -----------------------------------------------------------------------


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = make_store(request.param, tmp_path)
    yield made
    made.close()


def shop(store: Store, *, zone: str = "America/New_York") -> tuple[Engine, FixedClock, str]:
    clock = FixedClock(AT.subtract(days=1))
    engine = Engine(store, clock=clock)
    result = engine.ingest(
        {
            "type": "identify", "userId": "u1", "timestamp": "2024-03-01T10:00:00Z",
            "traits": {"email": "ann@example.com", "phone": "+12125550123", "timezone": zone},
        }
    )  # fmt: skip
    for channel in ("email", "sms"):
        consent(engine, "Consent Granted", channel, "2024-03-01T10:00:01Z")
    clock.set(AT)
    return engine, clock, result.profile_id


def consent(engine: Engine, name: str, channel: str, at: str) -> None:
    engine.ingest(
        {
            "type": "track", "userId": "u1", "event": name, "timestamp": at,
            "properties": {"purpose": "marketing", "channel": channel},
        }
    )  # fmt: skip


def request(profile_id: str, origin: str = "spring", **kwargs: Any) -> SendRequest:
    options: dict[str, Any] = {
        "profile_id": profile_id, "channel": "email", "to": "ann@example.com",
        "content": EMAIL, "message": "sale", "origin": origin, "actor": {"userId": "u1"},
    }  # fmt: skip
    options.update(kwargs)
    return SendRequest(**options)


def events_named(engine: Engine, profile_id: str, name: str) -> list[Any]:
    profile = engine.profile(profile_id)
    assert profile is not None
    with engine.store.transaction() as tx:
        return [e for e in tx.events_of(profile.identities) if e.name == name]


def test_a_send_is_decided_queued_relayed_and_recorded(store: Store) -> None:
    engine, _clock, pid = shop(store)
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"email": recorder})
    results = delivery.send([request(pid), request(pid), request(pid, "other")])
    assert [r.status for r in results] == ["queued", "duplicate", "queued"]
    report = delivery.relay_sync()
    assert (report.claimed, report.sent) == (2, 2)
    assert [e.to for e in recorder.sent] == ["ann@example.com"] * 2
    assert {e.idempotency_key for e in recorder.sent} == {results[0].id, results[2].id}
    assert [r.status for r in delivery.outbox()] == ["sent", "sent"]
    sent = events_named(engine, pid, "Message Sent")
    assert sorted(e.properties["outbox_id"] for e in sent) == sorted({r.id for r in results})
    assert delivery.relay_sync().claimed == 0  # nothing left, nothing sent twice


def test_consent_revoked_between_decision_and_dispatch_drops_the_message(store: Store) -> None:
    engine, _clock, pid = shop(store)
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"email": recorder})
    assert delivery.send([request(pid)])[0].status == "queued"
    consent(engine, "Consent Revoked", "email", "2024-03-05T14:59:00Z")
    report = delivery.relay_sync()
    assert (report.sent, report.dropped, recorder.sent) == (0, 1, [])
    (row,) = delivery.outbox()
    assert row.status == "dropped"
    assert "no consent" in (row.last_error or "")
    assert events_named(engine, pid, "Message Dropped")[0].properties["code"] == "no_consent"


def test_without_consent_nothing_is_queued(store: Store) -> None:
    engine, _clock, pid = shop(store)
    consent(engine, "Consent Denied", "email", "2024-03-05T14:00:00Z")
    delivery = Delivery(engine, {"email": RecordingAdapter()})
    (result,) = delivery.send([request(pid)])
    assert (result.status, result.code) == ("dropped", "no_consent")
    assert delivery.outbox() == []


def test_quiet_hours_are_checked_again_at_dispatch(store: Store) -> None:
    from omnichannel.channels.sms import segments
    from omnichannel.personalization import RenderedSms

    engine, clock, pid = shop(store)
    text = RenderedSms(body="Sale", segments=segments("Sale"))
    clock.set(pendulum.datetime(2024, 3, 6, 1, 59))  # 20:59 in New York: may go
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"sms": recorder})
    (result,) = delivery.send([request(pid, channel="sms", to="+12125550123", content=text)])
    assert result.status == "queued"
    clock.set(pendulum.datetime(2024, 3, 6, 2, 1))  # the relay comes at 21:01: too late
    report = delivery.relay_sync()
    assert (report.deferred, recorder.sent) == (1, [])
    (row,) = delivery.outbox()
    assert (row.status, row.due_at) == ("pending", pendulum.datetime(2024, 3, 6, 13))


def test_an_sms_in_quiet_hours_waits_for_morning(store: Store) -> None:
    from omnichannel.channels.sms import segments
    from omnichannel.personalization import RenderedSms

    engine, clock, pid = shop(store)
    text = RenderedSms(body="Sale", segments=segments("Sale"))
    clock.set(pendulum.datetime(2024, 3, 6, 2))  # 21:00 in New York
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"sms": recorder})
    (result,) = delivery.send([request(pid, channel="sms", to="+12125550123", content=text)])
    assert result.status == "deferred"
    assert result.until == pendulum.datetime(2024, 3, 6, 8, tz="America/New_York")
    clock.set(pendulum.datetime(2024, 3, 6, 12, 59))
    assert delivery.relay_sync().claimed == 0
    clock.set(pendulum.datetime(2024, 3, 6, 13))
    assert delivery.relay_sync().sent == 1
    assert recorder.sent[0].content == text


def test_caps_hold_across_relay_rounds_and_within_one(store: Store) -> None:
    engine, clock, pid = shop(store)
    recorder = RecordingAdapter()
    policy = Policy(caps=(Cap(limit=2, period="day"),))
    delivery = Delivery(engine, {"email": recorder}, policy=policy)
    delivery.send([request(pid, f"c{i}") for i in range(3)])
    report = delivery.relay_sync()
    assert (report.sent, report.dropped) == (2, 1)
    clock.advance(hours=1)
    delivery.send([request(pid, "later")])
    assert delivery.relay_sync().dropped == 1
    clock.advance(days=1)
    delivery.send([request(pid, "tomorrow"), request(pid, "receipt", transactional=True)])
    assert delivery.relay_sync().sent == 2
    assert len(recorder.sent) == 4


def scripted(*outcomes: Receipt) -> RecordingAdapter:
    answers = list(outcomes)
    return RecordingAdapter(lambda _e: answers.pop(0) if len(answers) > 1 else answers[0])


def test_retries_back_off_honour_retry_after_and_dead_letter_with_the_last_error(
    store: Store,
) -> None:
    engine, clock, pid = shop(store)
    busy = Receipt(outcome=Outcome.RETRY, retry_after=120.0, status=429, detail="slow down")
    adapter = scripted(busy)
    retry = RetryPolicy(max_attempts=3, base=1.0, cap=10.0)
    delivery = Delivery(engine, {"email": adapter}, retry=retry, seed=1)
    delivery.send([request(pid)])
    assert delivery.relay_sync().retried == 1
    (row,) = delivery.outbox()
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.due_at >= AT.add(seconds=120)  # Retry-After beats a shorter backoff
    assert delivery.relay_sync().claimed == 0  # not due yet
    clock.set(row.due_at)
    delivery.relay_sync()
    clock.advance(hours=1)
    report = delivery.relay_sync()
    assert report.dead == 1
    (row,) = delivery.outbox()
    assert (row.status, row.attempts) == ("dead", 3)
    assert row.last_error == "retry: slow down"
    assert len(adapter.sent) == 3
    assert events_named(engine, pid, "Message Failed")[0].properties["reason"] == (
        "retry budget exhausted"
    )


def test_a_retry_succeeds_later(store: Store) -> None:
    engine, clock, pid = shop(store)
    adapter = scripted(
        Receipt(outcome=Outcome.RETRY_AMBIGUOUS, detail="timeout"), Receipt.sent("x")
    )
    delivery = Delivery(engine, {"email": adapter}, seed=2)
    delivery.send([request(pid)])
    delivery.relay_sync()
    clock.advance(minutes=5)
    assert delivery.relay_sync().sent == 1
    (row,) = delivery.outbox()
    assert (row.status, row.attempts, row.provider_id) == ("sent", 2, "x")
    assert [e.attempt for e in adapter.sent] == [1, 2]
    assert len({e.idempotency_key for e in adapter.sent}) == 1


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    import random

    retry = RetryPolicy(base=2.0, cap=60.0)
    rng = random.Random(0)
    for attempt in range(1, 12):
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        waits = [retry.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # spread over the whole range
    assert retry.delay(1, rng, retry_after=90.0) == 90.0


def test_an_invalid_address_is_marked_and_never_tried_again(store: Store) -> None:
    engine, _clock, pid = shop(store)
    adapter = scripted(Receipt(outcome=Outcome.INVALID_ADDRESS, code="5.1.1", detail="no user"))
    delivery = Delivery(engine, {"email": adapter})
    delivery.send([request(pid)])
    assert delivery.relay_sync().failed == 1
    bounced = events_named(engine, pid, "Message Bounced")
    assert bounced[0].properties["address"] == "ann@example.com"
    (again,) = delivery.send([request(pid, "next")])
    assert (again.status, again.code) == ("dropped", "unreachable")
    assert len(adapter.sent) == 1


def test_a_provider_opt_out_revokes_consent(store: Store) -> None:
    engine, _clock, pid = shop(store)
    adapter = scripted(Receipt(outcome=Outcome.OPTED_OUT, code="21610", detail="STOP"))
    delivery = Delivery(engine, {"email": adapter})
    delivery.send([request(pid)])
    delivery.relay_sync()
    profile = engine.profile(pid)
    assert profile is not None
    assert not profile.consent("marketing", "email", AT.add(seconds=1))
    assert profile.consent("marketing", "sms", AT.add(seconds=1))


def test_a_permanent_failure_is_not_retried(store: Store) -> None:
    engine, clock, pid = shop(store)
    adapter = scripted(Receipt(outcome=Outcome.PERMANENT, status=400, detail="bad request"))
    delivery = Delivery(engine, {"email": adapter})
    delivery.send([request(pid)])
    assert delivery.relay_sync().failed == 1
    clock.advance(days=1)
    assert delivery.relay_sync().claimed == 0
    assert delivery.outbox()[0].last_error == "permanent: bad request"


def test_an_adapter_that_raises_or_miscounts_cannot_lose_messages(store: Store) -> None:
    engine, clock, pid = shop(store)

    class Broken(RecordingAdapter):
        async def send(self, _batch: Any) -> Any:
            raise RuntimeError("boom")

    delivery = Delivery(engine, {"email": Broken()})
    delivery.send([request(pid)])
    assert delivery.relay_sync().retried == 1
    assert "RuntimeError: boom" in (delivery.outbox()[0].last_error or "")

    class Short(RecordingAdapter):
        async def send(self, _batch: Any) -> Any:
            return []

    clock.advance(hours=1)
    delivery = Delivery(engine, {"email": Short()})
    assert delivery.relay_sync().retried == 1


def test_batches_follow_the_adapters_max_batch(store: Store) -> None:
    engine, _clock, pid = shop(store)
    recorder = RecordingAdapter()  # max_batch 100
    delivery = Delivery(engine, {"email": recorder}, batch=250)
    delivery.send([request(pid, f"c{i}") for i in range(250)])
    assert delivery.relay_sync(rounds=1).sent == 250
    assert sorted(recorder.batches) == [50, 100, 100]


def test_a_lease_that_runs_out_lets_another_worker_take_over_and_flags_duplicates(
    store: Store,
) -> None:
    engine, clock, pid = shop(store)
    delivery = Delivery(engine, {"email": RecordingAdapter()}, lease=30)
    delivery.send([request(pid, "a"), request(pid, "b")])
    with store.transaction() as tx:
        first, second = tx.claim(AT, AT.add(seconds=30), "dead-worker", 10)
        tx.put_outbox([first.__class__(**{**_fields(first), "status": "sending"})])
    assert delivery.relay_sync().claimed == 0  # leased to the dead worker
    clock.advance(seconds=31)
    report = delivery.relay_sync()
    assert (report.claimed, report.sent, report.possible_duplicates) == (2, 2, 1)
    flagged = {row.id: row.possible_duplicate for row in delivery.outbox()}
    assert flagged == {first.id: True, second.id: False}


def _fields(row: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(row, recurse=False)


def test_rows_without_an_adapter_wait_rather_than_fail(store: Store) -> None:
    engine, _clock, pid = shop(store)
    delivery = Delivery(engine, {})
    delivery.send([request(pid)])
    assert delivery.relay_sync().deferred == 1
    assert delivery.outbox()[0].status == "pending"


def test_the_decision_and_the_outbox_row_commit_together(store: Store) -> None:
    engine, _clock, pid = shop(store)
    delivery = Delivery(engine, {"email": RecordingAdapter()})
    with pytest.raises(RuntimeError), store.transaction() as tx:
        delivery.send([request(pid)], tx=tx)
        raise RuntimeError("the journey step failed")
    assert delivery.outbox() == []


def test_bad_requests_and_wiring_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        request("p1", content={"subject": "not a rendition"})
    assert caught.value.errors[0].path == "$.content"
    with pytest.raises(ValidationError) as caught:
        request("", origin="x")
    assert caught.value.errors[0].path == "$.profile_id"
    with pytest.raises(ValidationError) as caught:
        request("p1", actor={"email": "a@b.c"})
    assert caught.value.errors[0].path == "$.actor"
    engine = Engine(MemoryStore())
    with pytest.raises(ValidationError) as caught:
        Delivery(engine, {"sms": scripted_webhook()})
    assert caught.value.errors[0].path == "$.adapters.sms"
    with pytest.raises(ValidationError) as caught:
        Delivery(engine).send(["not a request"])  # type: ignore[list-item]
    assert caught.value.errors[0].path == "$[0]"


def scripted_webhook() -> Any:
    from omnichannel.channels.webhook import WebhookAdapter

    return WebhookAdapter("http://127.0.0.1:9/hook", "secret")


def test_the_token_bucket_paces_calls() -> None:
    async def run() -> float:
        bucket = TokenBucket(rate=200.0, burst=2)
        start = time.perf_counter()
        for _ in range(6):
            await bucket.take()
        return time.perf_counter() - start

    # Two free, then four at 5 ms each: at least 20 ms (a lower bound cannot flake).
    assert asyncio.run(run()) >= 0.019


def test_provider_feedback_becomes_events_once_and_acts_on_bounces_and_complaints(
    store: Store,
) -> None:
    from omnichannel.delivery import Feedback

    engine, _clock, pid = shop(store)
    delivery = Delivery(engine, {"email": RecordingAdapter()})
    (queued,) = delivery.send([request(pid)])
    delivery.relay_sync()
    later = AT.add(minutes=5)
    opened = Feedback(outbox_id=queued.id, kind="opened", event_id="ev-1", at=later)
    clicked = Feedback(
        outbox_id=queued.id, kind="clicked", event_id="ev-2", at=later, url="https://x.test/sale"
    )
    unknown = Feedback(outbox_id="nope", kind="opened", event_id="ev-3", at=later)
    assert delivery.record_feedback([opened, clicked, unknown]) == [True, True, False]
    delivery.record_feedback([opened])  # the provider retried its webhook
    assert len(events_named(engine, pid, "Message Opened")) == 1
    (click,) = events_named(engine, pid, "Message Clicked")
    assert click.properties["url"] == "https://x.test/sale"
    complaint = Feedback(outbox_id=queued.id, kind="complained", event_id="ev-4", at=later)
    bounce = Feedback(outbox_id=queued.id, kind="bounced", event_id="ev-5", at=later, hard=True)
    delivery.record_feedback([complaint, bounce])
    profile = engine.profile(pid)
    assert profile is not None
    assert not profile.consent("marketing", "email", later.add(seconds=1))
    (again,) = delivery.send([request(pid, "next", transactional=True)])
    assert (again.status, again.code) == ("dropped", "unreachable")


def test_what_we_send_is_not_the_person_being_seen_but_what_they_do_is(store: Store) -> None:
    from omnichannel.delivery import Feedback

    engine, _clock, pid = shop(store)

    def seen() -> tuple[Any, Any, dict[str, int]]:
        state = engine.state(pid)
        assert state is not None
        activity = state.activity
        counts = {str(k): v.events for k, v in activity.channels.items()}
        return activity.last_seen, activity.last_channel, counts

    before = seen()
    delivery = Delivery(engine, {"email": RecordingAdapter()})
    (queued,) = delivery.send([request(pid)])
    assert delivery.relay_sync().sent == 1
    later = AT.add(minutes=5)
    delivered = Feedback(outbox_id=queued.id, kind="delivered", event_id="ev-d", at=later)
    delivery.record_feedback([delivered])
    assert events_named(engine, pid, "Message Sent")
    assert events_named(engine, pid, "Message Delivered")
    assert seen() == before  # sent and delivered: things we did, not the person seen on e-mail
    opened_at = later.add(minutes=1)
    opened = Feedback(outbox_id=queued.id, kind="opened", event_id="ev-o", at=opened_at)
    delivery.record_feedback([opened])
    last_seen, last_channel, counts = seen()
    assert (last_seen, str(last_channel)) == (opened_at, "email")
    assert counts["email"] == before[2].get("email", 0) + 1


def test_bad_feedback_names_the_field() -> None:
    from omnichannel.delivery import Feedback

    with pytest.raises(ValidationError) as caught:
        Feedback(outbox_id="a", kind="liked", event_id="e", at=AT)
    assert caught.value.errors[0].path == "$.kind"
    with pytest.raises(ValidationError) as caught:
        Feedback(outbox_id="a", kind="opened", event_id="e", at="yesterday")
    assert caught.value.errors[0].path == "$.at"


def test_ads_adds_need_consent_and_removals_go_regardless(store: Store) -> None:
    from omnichannel.delivery import audience_removals
    from omnichannel.personalization import RenderedAds

    engine, _clock, pid = shop(store)
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"ads": recorder})
    add = RenderedAds(audience="aud-1", action="add", identifiers={"email": ("ann@example.com",)})
    (added,) = delivery.send(
        [request(pid, channel="ads", to="aud-1", content=add, purpose="advertising")]
    )
    assert (added.status, added.code) == ("dropped", "no_consent")
    profile = engine.profile(pid)
    assert profile is not None
    removals = audience_removals(profile, {"aud-1": "ads"}, origin="withdrawal-1")
    assert [r.transactional for r in removals] == [True]
    assert delivery.send(removals)[0].status == "queued"
    engine.erase(pid)
    assert delivery.relay_sync().sent == 1  # the person is gone, the removal still goes
    assert recorder.sent[0].content.action == "remove"
    assert engine.profile(Identity(kind="user_id", value="u1")) is None  # not brought back
    (removal,) = audience_removals(profile, {"aud-1": "ads"}, origin="withdrawal-2")
    assert removal.content.identifiers == {
        "email": ("ann@example.com",),
        "phone": ("+12125550123",),
    }


def test_every_rendition_round_trips_through_the_outbox(store: Store) -> None:
    from omnichannel.delivery._outbox import decode_payload, encode_payload
    from omnichannel.personalization import Message, Push, Sms, Webhook, render

    engine, _clock, pid = shop(store)
    profile = engine.profile(pid)
    assert profile is not None
    message = Message(
        key="hello",
        sms=Sms(body="Hi {{ profile.traits.email }}"),
        push=Push(title="Hi", body="Sale", deep_link="shop://sale"),
        webhook=Webhook(body={"who": "{{ profile.id }}"}),
    )
    rendered = render(message, profile, now=AT)
    assert rendered is not None
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"any": recorder}, policy=Policy(quiet_hours={}))
    requests = [
        SendRequest.for_rendered(rendered, profile, "sms", origin="o"),
        SendRequest.for_rendered(
            rendered, profile, "webhook", origin="o", to="https://x.test", transactional=True
        ),
    ]
    delivery.send(requests, tx=None)
    delivery.relay_sync()
    sent = {e.channel: e.content for e in recorder.sent}
    assert sent == {"sms": rendered.sms, "webhook": rendered.webhook}  # type: ignore[union-attr]
    push = SendRequest.for_rendered(rendered, profile, "push", origin="o", to="tok")
    content, _, actor = decode_payload("push", encode_payload(push))
    assert content == rendered.push  # type: ignore[union-attr]
    assert actor == {"userId": "u1"}


def test_two_adapters_of_one_kind_each_get_their_own_channel(store: Store) -> None:
    from omnichannel.channels.sms import segments
    from omnichannel.personalization import RenderedSms

    engine, _clock, pid = shop(store)
    mail, text = RecordingAdapter(), RecordingAdapter()
    delivery = Delivery(engine, {"email": mail, "sms": text})
    sms = RenderedSms(body="Hi", segments=segments("Hi"))
    delivery.send([request(pid), request(pid, channel="sms", to="+12125550123", content=sms)])
    delivery.relay_sync()
    assert ([e.channel for e in mail.sent], [e.channel for e in text.sent]) == (["email"], ["sms"])


def test_in_app_placements_need_no_contact_consent() -> None:
    result = verdict(person(granted=()), "in_app", address="u1")
    assert result.action is Action.SEND


def test_a_grant_and_a_revocation_at_the_same_instant_leave_no_consent(store: Store) -> None:
    engine, _clock, pid = shop(store)
    for name in ("Consent Granted", "Consent Revoked", "Consent Granted"):
        consent(engine, name, "email", "2024-03-05T14:00:00Z")  # one instant: the stricter wins
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"email": recorder})
    (result,) = delivery.send([request(pid)])
    assert (result.status, result.code, recorder.sent) == ("dropped", "no_consent", [])
