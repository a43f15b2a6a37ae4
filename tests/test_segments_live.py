"""Real-time segments: the index and the timers give the memberships a full recompute gives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnichannel import Identity
from omnichannel.clock import FixedClock
from omnichannel.engine import Engine
from omnichannel.errors import RuleError, ValidationError
from omnichannel.rules import did, in_segment, local, state, trait
from omnichannel.segments import (
    Segment,
    Segmentation,
    SegmentChange,
    batch_members,
    reads,
    subject_events,
    subject_of,
    subject_schema,
    subject_tables,
)
from omnichannel.store import MemoryStore, SQLiteStore, Store
from omnichannel.testing import rules
from support import STORE_KINDS, make_store

T0 = pendulum.datetime(2024, 3, 30, 22, 0)  # two days before a DST change in Europe
SCHEMA = subject_schema(
    traits={"country": "text", "age": "integer", "plan": "text", "timezone": "text"},
    event_properties={"revenue": "number", "sku": "text"},
    currencies=["EUR"],
    channels=["web", "app", "store"],
)
NAMES = ("Order Completed", "Product Added", "Product Viewed", "Page Viewed")


def _payload(user: int, kind: str, at: pendulum.DateTime, n: int, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "messageId": f"m{n}",
        "timestamp": at.isoformat(),
        "anonymousId": f"anon{user}",
        **extra,
    }
    if kind == "identify":
        payload.update(type="identify", userId=f"user{user}")
    elif kind == "Page Viewed":
        payload.update(type="page", name="Home")
    else:
        payload.update(type="track", event=kind)
    return payload


def reference(engine: Engine, now: dt.datetime) -> dict[str, frozenset[str]]:
    """Every profile's memberships, computed from scratch from its whole history."""
    return {
        pid: engine.segmentation.evaluate(pid, subject, now, frozenset(), everything=True).members
        for pid, subject in engine.subjects()
    }


def stored(engine: Engine) -> dict[str, frozenset[str]]:
    return {pid: engine.segments_of(pid) for pid in engine.store.profile_ids()}


@st.composite
def segment_sets(draw: st.DrawFn) -> list[Segment]:
    """Two segments others may refer to ("vip", "churn-risk"), and three that may refer to them."""
    now = T0
    plain = rules(SCHEMA, event_names=NAMES, now=now, max_depth=2).filter(
        lambda r: not reads(r).segments
    )
    anything = rules(SCHEMA, event_names=NAMES, now=now, max_depth=2)
    made = [
        Segment(key="vip", name="VIP", rule=draw(plain)),
        Segment(key="churn-risk", name="Churn risk", rule=draw(plain)),
    ]
    made += [Segment(key=f"s{n}", name=f"S{n}", rule=draw(anything)) for n in range(3)]
    return made


_STEP = st.tuples(
    st.sampled_from([0, 1, 2, 3]),  # who
    st.sampled_from(["identify", *NAMES]),
    st.sampled_from([0, 1, 30, 600, 3600, 86_400, 3 * 86_400]),  # seconds the clock moves first
    st.sampled_from([0, 0, 0, -7200, 300]),  # event time relative to the clock
    st.fixed_dictionaries(
        {
            "country": st.sampled_from(["DE", "FR", None]),
            "age": st.integers(15, 70),
            "plan": st.sampled_from(["free", "pro"]),
            "timezone": st.sampled_from(["Europe/Berlin", "Asia/Tokyo", "UTC"]),
            "revenue": st.sampled_from([5.0, 120.0, 99.5]),
            "sku": st.sampled_from(["A", "B"]),
            "channel": st.sampled_from(["web", "app", "store"]),
            "merge": st.booleans(),
            "together": st.booleans(),  # in one ingest_many with the step before
        }
    ),
)


def _run(store: Store, segments: list[Segment], steps: list[Any]) -> None:
    clock = FixedClock(T0)
    engine = Engine(store, clock=clock, segments=segments)
    seen: list[SegmentChange] = []
    engine.on_segment_change(seen.extend)
    batch: list[dict[str, Any]] = []

    def ingest_batch() -> None:
        if batch:
            engine.ingest_many(batch)
            batch.clear()
            assert stored(engine) == reference(engine, clock.now()), f"after step {n}"

    for n, (user, kind, move, offset, values) in enumerate(steps):
        if not (values["together"] and batch):
            ingest_batch()
            clock.advance(seconds=move)
            engine.refresh()
        extra: dict[str, Any] = {"channel": values["channel"]}
        if kind == "identify":
            extra["traits"] = {k: values[k] for k in ("country", "age", "plan", "timezone")}
            if values["merge"]:  # the same person on another device
                extra["anonymousId"] = f"anon{(user + 1) % 4}"
        elif kind == "Order Completed":
            extra["properties"] = {
                "order_id": f"o{n}",
                "revenue": values["revenue"],
                "currency": "EUR",
                "sku": values["sku"],
            }
        elif kind == "Product Added":
            extra["properties"] = {"sku": values["sku"], "price": 10, "quantity": 1}
        batch.append(_payload(user, kind, clock.now().add(seconds=offset), n, **extra))
    ingest_batch()
    # Time alone: a week later, after a refresh, everything is as a recompute says.
    clock.advance(days=8)
    engine.refresh()
    assert stored(engine) == reference(engine, clock.now())
    # Batch SQL on DuckDB over the same profiles picks the same members.
    batch = batch_members(
        engine.segmentation, schema=SCHEMA, now=clock.now(), subjects=engine.subjects()
    )
    members = stored(engine)
    assert batch == {
        s.key: frozenset(p for p, keys in members.items() if s.key in keys) for s in segments
    }
    # Every stored membership was announced: replaying the changes gives the stored sets.
    replayed: dict[str, set[str]] = {}
    for change in seen:
        group = replayed.setdefault(change.profile_id, set())
        (group.add if change.entered else group.discard)(change.segment)
    assert {p: frozenset(s) for p, s in replayed.items() if s} == {
        p: m for p, m in stored(engine).items() if m
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segment_sets(), st.lists(_STEP, min_size=1, max_size=12))
def test_real_time_and_timers_agree_with_a_full_recompute(segments, steps):
    """Property: only affected segments run per event, only due timers on refresh, same answer."""
    _run(MemoryStore(), segments, steps)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segment_sets(), st.lists(_STEP, min_size=1, max_size=25))
def test_real_time_and_timers_agree_at_length(segments, steps):
    _run(MemoryStore(), segments, steps)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segment_sets(), st.lists(_STEP, min_size=1, max_size=8))
def test_sqlite_keeps_the_same_memberships(tmp_path_factory, segments, steps):
    _run(SQLiteStore(tmp_path_factory.mktemp("seg") / "s.db"), segments, steps)


# --- examples ---------------------------------------------------------------------------

SEGMENTS = [
    Segment(key="de", name="Germany", rule=trait("country") == "DE"),
    Segment(key="buyers", name="Bought this week", rule=did("Order Completed").within(days=7)),
    Segment(key="de-buyers", name="German buyers", rule=in_segment("de") & in_segment("buyers")),
    Segment(key="repeat", name="Repeat buyers", rule=state("orders") >= 2),
    Segment(key="office-hours", name="Office hours", rule=local("hour").between(9, 16)),
]


@pytest.fixture(params=STORE_KINDS)
def engine(request, tmp_path) -> Iterator[Engine]:
    made = Engine(make_store(request.param, tmp_path), clock=FixedClock(T0), segments=SEGMENTS)
    yield made
    made.close()


def _order(user: str, at: pendulum.DateTime, n: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "messageId": f"o{n}",
        "timestamp": at.isoformat(),
        "properties": {"order_id": f"o{n}", "revenue": 10, "currency": "EUR"},
    }


def test_an_order_enters_segments_and_time_alone_exits_them(engine):
    first = engine.ingest(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"country": "DE"},
            "timestamp": T0.isoformat(),
        }
    )
    assert [(c.segment, c.entered) for c in first.segments] == [("de", True)]
    result = engine.ingest(_order("u1", T0, 1))
    assert [(c.segment, c.entered) for c in result.segments] == [
        ("buyers", True),
        ("de-buyers", True),
    ]
    assert engine.members("de-buyers") == [result.profile_id]
    assert engine.refresh(T0.add(days=7)) == []  # still within the 7 days
    exits = engine.refresh(T0.add(days=7, seconds=1))
    assert [(c.segment, c.entered) for c in exits] == [("buyers", False), ("de-buyers", False)]
    assert engine.segments_of(Identity(kind="user_id", value="u1")) == {"de"}


def test_local_hour_segments_follow_the_profile_time_zone(engine):
    at = T0.add(hours=11)  # 09:00 UTC on 31 March: 11:00 in Berlin (summer time), 18:00 in Tokyo
    engine.clock.set(at)  # type: ignore[attr-defined]
    for user, zone in (("berlin", "Europe/Berlin"), ("tokyo", "Asia/Tokyo")):
        engine.ingest(
            {
                "type": "identify",
                "userId": user,
                "traits": {"timezone": zone},
                "timestamp": at.isoformat(),
            }
        )
    inside = engine.members("office-hours")
    assert inside == [engine.profile(Identity(kind="user_id", value="berlin")).id]
    engine.refresh(at.add(hours=6))  # 17:00 in Berlin
    assert engine.members("office-hours") == []


def test_profiles_merged_away_exit_and_the_merged_profile_enters(engine):
    first = engine.ingest(_order("u1", T0, 1) | {"userId": None, "anonymousId": "a1"})
    second = engine.ingest(_order("u2", T0, 2))
    merged = engine.ingest(
        {"type": "identify", "userId": "u2", "anonymousId": "a1", "timestamp": T0.isoformat()}
    )
    moves = {(c.profile_id, c.segment, c.entered) for c in merged.segments}
    for old in {first.profile_id, second.profile_id} - {merged.profile_id}:
        assert (old, "buyers", False) in moves
        assert engine.segments_of(old) == frozenset()
    assert engine.segments_of(merged.profile_id) == {"buyers", "repeat"}
    assert list(engine.store.profile_ids()) == [merged.profile_id]


def test_batches_settle_memberships_once_per_profile(engine):
    results = engine.ingest_many([_order("u1", T0, n) for n in range(3)])
    assert [r.segments for r in results[:2]] == [(), ()]
    assert sorted(c.segment for c in results[2].segments) == ["buyers", "repeat"]


def test_backfill_evaluates_new_segments_and_drops_removed_ones(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    Engine(store, clock=FixedClock(T0), segments=SEGMENTS[:2]).ingest(_order("u1", T0, 1))
    later = Engine(store, clock=FixedClock(T0), segments=[SEGMENTS[0], SEGMENTS[3]])
    profile = later.profile(Identity(kind="user_id", value="u1")).id
    assert later.segments_of(profile) == {"buyers"}
    assert later.members("repeat") == []
    changes = later.backfill()
    assert changes == []  # one order is not repeat; "buyers" is no longer defined
    assert later.segments_of(profile) == frozenset()


def test_unknown_segment_keys_are_refused(engine):
    with pytest.raises(ValidationError) as caught:
        engine.members("nope")
    assert caught.value.errors[0].code == "unknown_segment"


def test_segments_are_checked_when_the_engine_is_built():
    with pytest.raises(RuleError) as caught:
        Engine(MemoryStore(), segments=[Segment(key="a", name="A", rule=in_segment("b"))])
    assert caught.value.errors[0].path == "$[0].rule.segment"


def test_only_affected_segments_are_evaluated():
    segmentation = Segmentation(SEGMENTS)
    subject = subject_of("p", Engine(MemoryStore()).state("x") or _empty_state())
    result = segmentation.evaluate(
        "p", {**subject, "events": []}, T0, frozenset(), events=["Product Viewed"]
    )
    assert result.evaluated == 0
    result = segmentation.evaluate(
        "p", {**subject, "events": []}, T0, frozenset(), fields=["traits.country"]
    )
    assert result.evaluated == 1  # "de"; it did not change, so "de-buyers" did not run


def _empty_state():
    from omnichannel.state import fold

    return fold([])


def test_change_as_event_is_a_segment_spec_track_call():
    from omnichannel.ingest import parse_segment

    change = SegmentChange(profile_id="p1", segment="vip", entered=True, at=T0)
    event = parse_segment(change.as_event())
    assert (event.name, event.properties["segment_key"]) == ("Segment Entered", "vip")


def test_subject_events_are_in_time_order():
    from omnichannel.ingest import parse_segment

    late, early = (parse_segment(_order("u", T0.add(minutes=m), m)) for m in (5, 1))
    assert [e["message_id"] for e in subject_events([late, early])] == ["o1", "o5"]


def test_preview_counts_and_samples_without_storing(engine):
    engine.ingest(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"country": "DE"},
            "timestamp": T0.isoformat(),
        }
    )
    engine.ingest({"type": "identify", "userId": "u2", "timestamp": T0.isoformat()})
    preview = SEGMENTS[0].preview(engine, T0)
    assert (preview.count, preview.total, preview.share) == (1, 2, 0.5)
    assert preview.sample == (engine.profile(Identity(kind="user_id", value="u1")).id,)
    assert SEGMENTS[0].preview(engine, T0, sample=0).sample == ()
    assert str(preview) == "de: 1 of 2 profiles (50.0%)"
    with pytest.raises(ValidationError):
        SEGMENTS[0].preview(engine, T0, sample=-1)


def test_preview_runs_in_sql_over_frames(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    schema = subject_schema(traits={"country": "text"})
    subjects = [
        (f"p{n}", {"traits": {"country": c}, "events": []})
        for n, c in enumerate(["DE", "FR", "DE"])
    ]
    profiles, events = subject_tables(subjects, schema)
    pq.write_table(profiles, tmp_path / "profiles.parquet")
    frames = {"profiles": str(tmp_path / "profiles.parquet"), "events": events}
    preview = SEGMENTS[0].preview(frames, T0, schema=schema)
    assert (preview.count, preview.total, preview.sample) == (2, 3, ("p0", "p2"))
    assert (
        SEGMENTS[0].preview({"profiles": profiles, "events": events}, T0, schema=schema).count == 2
    )
    assert pa.Table.num_rows  # the frames path took an Arrow table as well
    with pytest.raises(ValidationError):
        SEGMENTS[0].preview(frames, T0)  # no schema
    with pytest.raises(ValidationError):
        SEGMENTS[0].preview({"people": profiles}, T0, schema=schema)


def test_why_says_which_parts_held(engine):
    engine.ingest(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"country": "FR"},
            "timestamp": T0.isoformat(),
        }
    )
    engine.ingest(_order("u1", T0, 1))
    verdict = engine.why("de-buyers", Identity(kind="user_id", value="u1"))
    assert str(verdict).splitlines() == [
        "[ ] in segment German buyers",
        "    [ ] all of",
        "        [ ] is in segment de",
        "        [x] is in segment buyers",
    ]
    with pytest.raises(ValidationError):
        engine.why("de-buyers", "nobody")


def test_batch_needs_exactly_one_source():
    with pytest.raises(ValidationError):
        batch_members(SEGMENTS, schema=SCHEMA, now=T0)
    with pytest.raises(ValidationError):
        batch_members(SEGMENTS, schema=SCHEMA, now=T0, subjects=[], profiles=[], events=[])


def test_a_merge_later_in_a_batch_evaluates_every_segment_of_the_survivor(engine):
    """A profile touched early in a batch, then merged in the same batch, is evaluated afresh."""
    at = T0.isoformat()
    engine.ingest({"type": "page", "anonymousId": "a1", "name": "Home", "timestamp": at})
    engine.ingest(_order("u2", T0, 1) | {"userId": None, "anonymousId": "a2"})
    results = engine.ingest_many(
        [
            {"type": "page", "anonymousId": "a1", "name": "Shoes", "timestamp": at},
            {"type": "identify", "anonymousId": "a2", "userId": "u9", "timestamp": at},
            {"type": "identify", "anonymousId": "a1", "userId": "u9", "timestamp": at},
        ]
    )
    survivor = results[-1].profile_id
    assert engine.segments_of(survivor) == {"buyers"}
    assert list(engine.store.profile_ids()) == [survivor]


def test_a_rule_the_batch_dialect_cannot_run_fails_at_definition():
    schema = subject_schema(traits={"country": "text"})
    office = Segment(key="office", name="Office hours", rule=local("hour").between(9, 17))
    with pytest.raises(RuleError) as caught:
        Segmentation([office], schema=schema, dialect="sqlite")
    assert (caught.value.errors[0].path, caught.value.errors[0].code) == (
        "$[0].rule.arg",
        "unsupported",
    )
    assert len(Segmentation([office], schema=schema, dialect="duckdb")) == 1
