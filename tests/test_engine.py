"""The Engine end to end: one person across channels, on every store."""

from __future__ import annotations

import gc
import itertools
import json
import logging
import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel import Channel, ConsentStatus, Identity, ValidationError
from omnichannel.clock import FixedClock
from omnichannel.engine import Engine
from omnichannel.store import MemoryStore, SQLiteStore
from support import STORE_KINDS, make_store

T0 = pendulum.datetime(2024, 3, 5, 9)
_ids = itertools.count()


@pytest.fixture(params=STORE_KINDS)
def engine(request, tmp_path) -> Iterator[Engine]:
    with Engine(make_store(request.param, tmp_path), clock=FixedClock(T0.add(days=30))) as made:
        yield made


def msg(minute: float, kind: str = "track", **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": f"m{next(_ids):06d}",
        "timestamp": T0.add(seconds=minute * 60).isoformat(),
        **fields,
    }


def email(value: str) -> Identity:
    return Identity(kind="email", value=value)


ANON = {"anonymousId": "web-cookie-1"}


def shopper_journey() -> list[dict[str, Any]]:
    """The issue's scenario: web visitor, app login, app cart, store purchase with a loyalty card."""
    return [
        msg(0, "page", name="Home", channel="browser", **ANON),
        msg(1, event="Product Viewed", channel="browser", properties={"product_id": "shoe", "price": 89.95}, **ANON),
        msg(2, event="Product Added", channel="browser", properties={"product_id": "shoe", "price": 89.95, "quantity": 1}, **ANON),
        # installs the app and logs in there: the device id is new, the email links to nothing yet
        msg(60, "identify", userId="u-17", traits={"email": "Ann@Example.com", "firstName": "Ann"}, context={"app": {"name": "Shop"}, "device": {"id": "iphone-1"}}),
        # the web session logs in too: the cookie meets the user id
        msg(61, "identify", userId="u-17", channel="browser", **ANON),
        msg(70, event="Product Added", context={"app": {"name": "Shop"}}, userId="u-17", properties={"product_id": "socks", "price": 12.5, "quantity": 2}),
        # in the store, the loyalty card is linked by email at the till
        msg(1440, "identify", channel="store", traits={"email": "ann@example.com", "loyalty_id": "CARD-5"}, userId=None, anonymousId="pos-till-3"),
        msg(1441, event="Order Completed", channel="store", traits=None, anonymousId="pos-till-3",
            context={"traits": {"loyalty_id": "CARD-5"}},
            properties={"order_id": "pos-88", "revenue": 114.95, "products": [{"product_id": "shoe", "price": 89.95}, {"product_id": "socks", "price": 12.5, "quantity": 2}]}),
        msg(1442, event="Loyalty Points Earned", channel="store", anonymousId="pos-till-3", properties={"points": 115, "reason": "pos-88"}),
    ]  # fmt: skip


def _clean(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


def test_shopper_is_one_person_with_one_cart_across_channels(engine):
    """Web visit, app login, app cart, store purchase: one profile, one cart, the order and the points."""
    results = engine.ingest_many([_clean(m) for m in shopper_journey()])
    profile = engine.profile(email("ann@example.com"))
    assert profile is not None
    # The app login started a profile of its own; the web login merged it into the older one.
    assert ([profile.id], 1) == ([results[-1].profile_id], sum(1 for r in results if r.merged))
    assert {
        "anonymous_id:web-cookie-1", "anonymous_id:pos-till-3", "user_id:u-17", "email:ann@example.com",
        "device_id:iphone-1", "loyalty_id:CARD-5",
    } == {str(i) for i in profile.identities}  # fmt: skip
    state = engine.state(profile.id)
    assert state is not None
    assert state.cart.is_empty  # the store order took out what the web and app carts held
    assert (1, {"USD": "114.95"}) == (
        state.orders.count,
        {c: str(m.amount) for c, m in state.orders.revenue().items()},
    )
    assert 115 == state.loyalty.balance
    assert {"web", "app", "store"} == set(state.activity.channels)
    assert "Ann" == profile.traits["firstName"]
    explanation = engine.explain(profile.id)
    assert explanation is not None
    assert 9 == explanation.events
    assert all(r.outcome in ("joined", "merged") for r in explanation.decisions)
    assert "merged" in str(explanation)


def test_cart_follows_the_person_before_the_purchase(engine):
    """Added on the web, then in the app after logging in: one cart with both items and both channels."""
    engine.ingest_many([_clean(m) for m in shopper_journey()[:6]])
    state = engine.state(Identity(kind="user_id", value="u-17"))
    assert state is not None
    assert [("shoe", 1, {"web"}), ("socks", 2, {"app"})] == [
        (line.item.key, line.quantity, set(line.channels)) for line in state.cart.lines
    ]


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_arrival_order_does_not_matter(rnd):
    """The same events ingested in any order give the same profile and state."""
    journey = [_clean(m) for m in shopper_journey()]
    expected = Engine(MemoryStore(), clock=FixedClock(T0))
    expected.ingest_many(journey)
    shuffled = list(journey)
    rnd.shuffle(shuffled)
    other = Engine(MemoryStore(), clock=FixedClock(T0))
    for payload in shuffled:
        other.ingest(payload)
    ann = email("ann@example.com")
    assert expected.profile(ann) == other.profile(ann)
    assert expected.state(ann) == other.state(ann)


def test_two_accounts_on_one_device_stay_apart_and_the_refusal_is_explained(engine):
    """A shared cookie cannot merge two user ids; the event goes to the user id's profile."""
    engine.ingest(msg(0, "identify", userId="alice", anonymousId="family-ipad"))
    result = engine.ingest(msg(5, "identify", userId="bob", anonymousId="family-ipad"))
    alice, bob = (engine.profile(Identity(kind="user_id", value=v)) for v in ("alice", "bob"))
    assert alice is not None
    assert bob is not None
    assert alice.id != bob.id == result.profile_id
    explanation = engine.explain(bob.id)
    assert ["limit:user_id"] == [r.reason for r in explanation.decisions if r.outcome == "refused"]


def test_unmerge_sends_everything_back(engine):
    """Undoing a wrong merge puts identifiers, traits and events back where they came from."""
    engine.ingest(msg(0, "identify", anonymousId="a1", traits={"plan": "free"}))
    engine.ingest(
        msg(1, event="Product Added", anonymousId="a1", properties={"product_id": "p1", "price": 5})
    )
    engine.ingest(msg(2, "identify", userId="u1", traits={"name": "Ann"}))
    merged = engine.ingest(msg(3, "identify", userId="u1", anonymousId="a1"))
    assert merged.merged  # two existing profiles became one
    anon, user = Identity(kind="anonymous_id", value="a1"), Identity(kind="user_id", value="u1")
    ids = engine.unmerge(user, keep=user, split=anon)
    assert 2 == len(ids)
    anon_state, user_state = engine.state(anon), engine.state(user)
    assert anon_state is not None
    assert user_state is not None
    assert ({"plan": "free"}, 1) == (dict(anon_state.traits), len(anon_state.cart.lines))
    assert ({"name": "Ann"}, 0) == (dict(user_state.traits), len(user_state.cart.lines))
    # a later link cannot rejoin them
    engine.ingest(msg(10, "identify", userId="u1", anonymousId="a1"))
    assert engine.profile(anon).id != engine.profile(user).id
    with pytest.raises(ValidationError):
        engine.unmerge(user, keep=user, split=Identity(kind="email", value="x@example.com"))


def test_a_denial_survives_a_merge(engine):
    """A denial given by one identity is not outvoted by the other's grant when they turn out to be one."""
    engine.ingest(
        msg(
            0,
            event="Consent Denied",
            anonymousId="a1",
            properties={"purpose": "marketing", "channel": "email"},
        )
    )
    engine.ingest(
        msg(
            1,
            event="Consent Granted",
            userId="u1",
            properties={"purpose": "marketing", "channel": "email"},
        )
    )
    engine.ingest(msg(2, "identify", userId="u1", anonymousId="a1"))
    profile = engine.profile(Identity(kind="user_id", value="u1"))
    assert [ConsentStatus.DENIED] == [c.status for c in profile.consents]
    assert profile.consent("marketing", Channel.EMAIL, T0.add(days=1)) is False


def test_duplicates_within_the_window_are_ignored(engine):
    """The same message id twice within 24 h is stored once."""
    payload = msg(0, event="Signed Up", userId="u1")
    first, second = engine.ingest(payload), engine.ingest(payload)
    assert (False, True, None) == (first.duplicate, second.duplicate, second.profile_id)
    assert 1 == engine.state(first.profile_id).activity.events


def test_a_bad_event_in_a_batch_stores_nothing(engine):
    """ingest_many is one transaction: one invalid payload and nothing of the batch is kept."""
    with pytest.raises(ValidationError) as excinfo:
        engine.ingest_many(
            [msg(0, event="Signed Up", userId="u1"), msg(1, event=None, userId="u1")]
        )
    assert "$[1].event" == excinfo.value.errors[0].path
    assert engine.profile(Identity(kind="user_id", value="u1")) is None


def test_late_events_rebuild_the_state(engine):
    """An event older than what the profile has seen is folded in at its place in time."""
    engine.ingest(msg(10, "identify", userId="u1", traits={"plan": "pro"}))
    engine.ingest(msg(5, "identify", userId="u1", traits={"plan": "free"}))
    assert "pro" == engine.profile(Identity(kind="user_id", value="u1")).traits["plan"]


def test_unknown_profiles_read_as_none(engine):
    """Reading an unknown profile gives None; acting on one is a validation error."""
    nobody = Identity(kind="user_id", value="nobody")
    assert (None, None, None, None) == (
        engine.profile(nobody),
        engine.state("prof_x"),
        engine.explain(nobody),
        engine.resolution(nobody),
    )
    for action in (
        lambda: engine.erase(nobody),
        lambda: engine.export("prof_x"),
        lambda: engine.profile(42),
    ):
        with pytest.raises(ValidationError):
            action()


def _everything_stored(engine: Engine) -> str:
    store = engine.store
    if isinstance(store, SQLiteStore):
        db = sqlite3.connect(store.path)
        tables = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        query = "SELECT * FROM {}"  # table names come from sqlite_master, not from input
        dump = "\n".join(repr(row) for table in tables for row in db.execute(query.format(table)))
        db.close()
        return dump
    return repr(vars(store))


def test_erase_leaves_no_trace_and_the_opt_out_survives(engine, caplog):
    """After erase, no canary value is found in any table or log line; only a keyed hash remains."""
    caplog.set_level(logging.DEBUG, logger="omnichannel")
    canaries = ["canary.person@example.org", "+14155550199", "CANARY-CARD-9", "Canaryname"]
    engine.ingest_many(
        [
            msg(
                0,
                "identify",
                userId="canary-user",
                traits={
                    "email": canaries[0],
                    "phone": canaries[1],
                    "loyalty_id": canaries[2],
                    "name": canaries[3],
                },
            ),
            msg(
                1,
                event="Order Completed",
                userId="canary-user",
                properties={"order_id": "o1", "total": 5, "note": canaries[3]},
            ),
            msg(2, "identify", userId="someone-else", traits={"email": "other@example.org"}),
        ]
    )
    receipt = engine.erase(email(canaries[0]))
    assert (4, 2) == (receipt.identities, receipt.events)
    stored = _everything_stored(engine).lower()
    logged = caplog.text.lower()
    assert [] == [
        c for c in [*canaries, "canary-user"] if c.lower() in stored or c.lower() in logged
    ]
    assert engine.is_suppressed(email(canaries[0])) is True
    assert engine.is_suppressed(email("other@example.org")) is False
    assert engine.profile(email("other@example.org")) is not None


def test_logs_hold_ids_not_payloads(engine, caplog):
    """Ingest logs name message ids, types and profile ids, never traits or properties."""
    caplog.set_level(logging.DEBUG, logger="omnichannel")
    engine.ingest(
        msg(
            0,
            "identify",
            userId="u1",
            traits={"email": "secret.person@example.com", "hobby": "secret-hobby"},
        )
    )
    assert "secret" not in caplog.text
    assert "type=identify" in caplog.text


def test_export_then_import_into_an_empty_store_gives_the_same_profile(engine, tmp_path):
    """GDPR portability: the export, imported elsewhere, rebuilds an identical profile."""
    engine.ingest_many([_clean(m) for m in shopper_journey()])
    exported = engine.export(email("ann@example.com"))
    assert "omnichannel.profile-export/1" == exported["format"]
    text = json.dumps(exported)
    elsewhere = Engine(SQLiteStore(tmp_path / "elsewhere.db"), clock=FixedClock(T0))
    imported = elsewhere.import_profile(json.loads(text))
    assert engine.profile(email("ann@example.com")) == imported
    for bad in (
        {"format": "other"},
        {"format": "omnichannel.profile-export/1", "events": "x"},
        {"format": "omnichannel.profile-export/1", "events": []},
    ):
        with pytest.raises(ValidationError):
            elsewhere.import_profile(bad)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u1", "u2", None]),
            st.sampled_from(["a1", "a2", "a3"]),
            st.sampled_from(["identify", "track", "page"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_portability_round_trip_over_generated_histories(steps):
    """For generated histories, every profile exported and imported into an empty store is identical."""
    source = Engine(MemoryStore(), clock=FixedClock(T0))
    for minute, (user, anon, kind) in enumerate(steps):
        extra = {"event": "Did Something"} if kind == "track" else {}
        source.ingest(
            _clean(
                msg(
                    minute,
                    kind,
                    userId=user,
                    anonymousId=anon,
                    traits={"n": minute} if kind == "identify" else None,
                    **extra,
                )
            )
        )
    for pid in list(source.store.profile_ids()):
        target = Engine(MemoryStore(), clock=FixedClock(T0))
        assert source.profile(pid) == target.import_profile(source.export(pid))


def test_default_store_is_a_sqlite_file(tmp_path, monkeypatch):
    """Engine() with no store keeps everything in omnichannel.db in the working directory."""
    monkeypatch.chdir(tmp_path)
    with Engine() as default:
        assert isinstance(default.store, SQLiteStore)
        default.ingest(msg(0, event="Signed Up", userId="u1"))
    assert (tmp_path / "omnichannel.db").exists()
    with Engine(tmp_path / "omnichannel.db") as again:
        assert again.profile(Identity(kind="user_id", value="u1")) is not None


def test_shuffled_ingest_many_matches_one_by_one(tmp_path):
    """A batch gives the same result as the same events one at a time."""
    journey = [_clean(m) for m in shopper_journey()]
    batch, single = (
        Engine(MemoryStore(), clock=FixedClock(T0)),
        Engine(SQLiteStore(tmp_path / "s.db"), clock=FixedClock(T0)),
    )
    batch.ingest_many(journey)
    random.Random(3).shuffle(journey)
    for payload in journey:
        single.ingest(payload)
    ann = email("ann@example.com")
    assert batch.profile(ann) == single.profile(ann)


def test_snapshots_from_other_reducers_are_refolded(tmp_path):
    """A store written by an Engine with other reducers is read by refolding, not by trusting it."""
    from omnichannel.state import with_reducers

    class Pages:
        name = "pages"
        state_type = int

        def initial(self):
            return 0

        def step(self, state, event, identities):  # noqa: ARG002 - counts every event
            return state + 1

    path = tmp_path / "shared.db"
    with Engine(SQLiteStore(path), clock=FixedClock(T0)) as first:
        first.ingest(msg(0, "page", userId="u1"))
    with Engine(SQLiteStore(path), clock=FixedClock(T0), reducers=with_reducers(Pages())) as second:
        second.ingest(msg(1, "page", userId="u1"))
        state = second.state(Identity(kind="user_id", value="u1"))
        assert (2, 2) == (state.values["pages"], state.activity.events)


def test_mutating_the_payload_after_ingest_changes_nothing(engine):
    """What the engine stored shares no mutable state with the caller's dict."""
    payload = msg(0, "identify", userId="u1", traits={"plan": "pro", "address": {"city": "Berlin"}})
    engine.ingest(payload)
    payload["traits"]["plan"] = "free"
    payload["traits"]["address"]["city"] = "Paris"
    payload["traits"]["extra"] = [1]
    user = Identity(kind="user_id", value="u1")
    expected = {"plan": "pro", "address": {"city": "Berlin"}}
    assert expected == engine.profile(user).traits
    assert expected == engine.export(user)["events"][0]["traits"]


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("valid", [True, False])
def test_a_batch_leaves_the_garbage_collector_as_it_found_it(enabled, valid):
    """ingest_many pauses the cyclic collector at most for its own length, even when it fails."""
    was = gc.isenabled()
    batch = [msg(0, userId="u1", event="a"), msg(1, userId="u1", event="b" if valid else None)]
    try:
        (gc.enable if enabled else gc.disable)()
        engine = Engine(MemoryStore(), clock=FixedClock(T0))
        if valid:
            assert 2 == len(engine.ingest_many(batch))
        else:
            with pytest.raises(ValidationError):
                engine.ingest_many(batch)
        assert enabled == gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_a_batch_snapshot_equals_a_refold_for_the_next_reader(tmp_path):
    """A profile written once per batch carries the state a refold of all its events gives."""
    from omnichannel.state import fold

    path = tmp_path / "batch.db"
    with Engine(SQLiteStore(path), clock=FixedClock(T0)) as writer:
        writer.ingest_many([_clean(m) for m in shopper_journey()])
    with Engine(SQLiteStore(path), clock=FixedClock(T0)) as reader:
        ann = email("ann@example.com")
        from_snapshot = reader.state(ann)
        with reader.store.transaction() as tx:
            refolded = fold(tx.events_of(reader.profile(ann).identities), rules=reader.rules)
    assert refolded == from_snapshot
    assert 9 == from_snapshot.activity.events
