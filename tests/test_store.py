"""The Store contract: every implementation passes the same suite."""

from __future__ import annotations

from collections.abc import Iterator

import pendulum
import pytest

from omnichannel import Identity
from omnichannel.identity import Link, MergeRecord
from omnichannel.ingest import parse_segment
from omnichannel.store import IdentityRow, SQLiteStore, Store
from support import STORE_KINDS, make_store

T0 = pendulum.datetime(2024, 3, 5)
A, B, C = (Identity(kind="anonymous_id", value=v) for v in ("a", "b", "c"))


@pytest.fixture(params=STORE_KINDS)
def store(request, tmp_path) -> Iterator[Store]:
    made = make_store(request.param, tmp_path)
    yield made
    made.close()


def _event(message_id: str, minute: int = 0):
    return parse_segment(
        {
            "type": "track",
            "event": "x",
            "anonymousId": "a",
            "messageId": message_id,
            "timestamp": T0.add(minutes=minute).isoformat(),
        }
    )


def test_dedupe_window(store):
    """A message id seen within the window is a duplicate; after it, it is new again."""
    window = pendulum.duration(hours=24)
    with store.transaction() as tx:
        assert tx.remember_message("m1", T0, window) is True
        assert tx.remember_message("m1", T0.add(hours=23), window) is False
        assert tx.remember_message("m1", T0.add(hours=25), window) is True


def test_identity_rows_links_and_separations(store):
    """Rows, links (earliest observation wins per pair) and separations are stored and found."""
    early = Link(a=A, b=B, at=T0, message_id="m1")
    late = Link(a=B, b=A, at=T0.add(hours=1), message_id="m2")
    with store.transaction() as tx:
        tx.put_identity_rows({A: IdentityRow(profile_id="p1", first_seen=(T0, "m1"))})
        tx.put_links([late])
        tx.put_links([early, Link(a=B, b=C, at=T0, message_id="m3")])
        tx.add_separation(C, A)
        tx.add_separation(A, C)
    with store.transaction() as tx:
        assert {A: IdentityRow(profile_id="p1", first_seen=(T0, "m1"))} == tx.identity_rows([A, B])
        assert [early] == tx.links_of([A])
        assert 2 == len(tx.links_of([B]))
        assert [(A, C)] == tx.separations_of([C])
        assert [] == tx.separations_of([B])


def test_events_profiles_and_log(store):
    """Events are filed by identifier; profile versions only grow; the log is append-only."""
    record = MergeRecord(
        outcome="joined", link=Link(a=A, b=B, at=T0, message_id="m1"), survivor="p1", absorbed="p2"
    )
    with store.transaction() as tx:
        tx.append_event(_event("m1"), A)
        tx.append_event(_event("m2", 1), B)
        first = tx.put_profile("p1", frozenset({A, B}))
        second = tx.put_profile("p1", frozenset({A, B, C}))
        tx.append_merge_log([record])
    assert second > first
    with store.transaction() as tx:
        assert ["m1", "m2"] == sorted(e.message_id for e in tx.events_of([A, B]))
        row = tx.profile("p1")
        assert row is not None
        assert (frozenset({A, B, C}), second) == (row.identities, row.version)
        assert [record] == tx.merge_log([B])
        assert [] == tx.merge_log([C])
    assert ["p1"] == list(store.profile_ids())


def test_erase_leaves_nothing_but_the_suppression_hash(store):
    """Erasing removes events, rows, links, separations, log entries and the profile."""
    with store.transaction() as tx:
        tx.put_identity_rows({A: IdentityRow(profile_id="p1", first_seen=(T0, "m1"))})
        tx.put_links([Link(a=A, b=B, at=T0, message_id="m1")])
        tx.add_separation(A, C)
        tx.append_merge_log(
            [MergeRecord(outcome="joined", link=Link(a=A, b=B, at=T0, message_id="m1"))]
        )
        tx.append_event(_event("m1"), A)
        tx.put_profile("p1", frozenset({A}))
    with store.transaction() as tx:
        tx.erase([A, B], "p1")
        tx.suppress("digest", T0)
    with store.transaction() as tx:
        assert ({}, [], [], [], [], None) == (
            tx.identity_rows([A]),
            tx.links_of([A, B]),
            tx.separations_of([A]),
            tx.merge_log([A]),
            tx.events_of([A]),
            tx.profile("p1"),
        )
        assert (True, False) == (tx.is_suppressed("digest"), tx.is_suppressed("other"))


def test_a_failed_transaction_writes_nothing(store):
    """If the block raises, every write of the transaction is undone."""
    with store.transaction() as tx:
        tx.put_profile("keep", frozenset({C}))
        tx.put_identity_rows({C: IdentityRow(profile_id="keep", first_seen=(T0, "m0"))})
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.remember_message("m1", T0, pendulum.duration(hours=1))
        tx.put_identity_rows({A: IdentityRow(profile_id="p1", first_seen=(T0, "m1"))})
        tx.put_identity_rows({C: IdentityRow(profile_id="changed", first_seen=(T0, "m9"))})
        tx.put_links([Link(a=A, b=B, at=T0, message_id="m1")])
        tx.add_separation(A, B)
        tx.append_merge_log(
            [MergeRecord(outcome="joined", link=Link(a=A, b=B, at=T0, message_id="m1"))]
        )
        tx.append_event(_event("m1"), A)
        tx.put_profile("p1", frozenset({A}))
        tx.put_profile("keep", frozenset({A, C}))
        tx.suppress("d", T0)
        tx.erase([C], "keep")
        raise RuntimeError
    with store.transaction() as tx:
        assert tx.remember_message("m1", T0, pendulum.duration(hours=1)) is True
        assert {C: IdentityRow(profile_id="keep", first_seen=(T0, "m0"))} == tx.identity_rows(
            [A, C]
        )
        assert ([], [], [], []) == (
            tx.links_of([A]),
            tx.separations_of([A]),
            tx.merge_log([A]),
            tx.events_of([A]),
        )
        assert tx.profile("p1") is None
        keep = tx.profile("keep")
        assert keep is not None
        assert frozenset({C}) == keep.identities
        assert tx.is_suppressed("d") is False


def test_secret_is_made_once_and_kept(store):
    """The keyed-hash secret is random, 32 bytes, and the same on every call."""
    with store.transaction() as tx:
        first = tx.secret()
    with store.transaction() as tx:
        assert (32, first) == (len(first), tx.secret())


def test_nested_transactions_join_the_outer_one(store):
    """A transaction opened inside another (same thread) commits or rolls back with it."""
    with pytest.raises(RuntimeError), store.transaction() as outer:
        outer.put_profile("p1", frozenset({A}))
        with store.transaction() as inner:
            inner.put_profile("p2", frozenset({B}))
            assert inner.profile("p1") is not None
        raise RuntimeError
    with store.transaction() as tx:
        assert (None, None) == (tx.profile("p1"), tx.profile("p2"))


def test_sqlite_settings_and_schema_guards(tmp_path):
    """Bad settings are validation errors; a file from a newer omnichannel is refused, not damaged."""
    import sqlite3

    from omnichannel import StoreError, ValidationError

    with pytest.raises(ValidationError):
        SQLiteStore(tmp_path / "a.db", synchronous="MAYBE")
    SQLiteStore(tmp_path / "b.db").close()
    raw = sqlite3.connect(tmp_path / "b.db")
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StoreError) as excinfo:
        SQLiteStore(tmp_path / "b.db")
    assert "schema_too_new" == excinfo.value.code


def test_sqlite_gives_up_with_store_error_when_locked_too_long(tmp_path):
    """A writer that cannot get the lock within busy_timeout gets StoreError(busy), never SQLITE_BUSY."""
    import sqlite3

    from omnichannel import StoreError

    path = tmp_path / "locked.db"
    SQLiteStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiting = SQLiteStore(path, busy_timeout=0.2)
    with pytest.raises(StoreError) as excinfo, waiting.transaction():
        pass
    holder.execute("ROLLBACK")
    holder.close()
    assert "busy" == excinfo.value.code
    with waiting.transaction() as tx:  # free again: works
        assert tx.profile("x") is None
    waiting.close()


def test_sqlite_refuses_non_text_snapshots(tmp_path):
    """SQLiteStore keeps snapshots as JSON text; anything else is a StoreError."""
    from omnichannel import StoreError

    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.put_profile("p", frozenset({A}), snapshot=object())
    store.close()


def test_sqlite_reads_back_equal_events_with_or_without_its_cache(tmp_path):
    """Decoded events are cached by their stored text, in bounded number, and read back equal."""
    store = SQLiteStore(tmp_path / "cache.db")
    store._events.size = 2
    events = [_event(f"m{i}", i) for i in range(5)]
    with store.transaction() as tx:
        for event in events:
            tx.append_event(event, A)
    assert 2 == len(store._events.events)
    with store.transaction() as tx:
        assert events == tx.events_of([A])
        assert events == tx.events_of([A])
    store.close()


def test_memberships_and_timers(store):
    """Memberships go in and out; due timers come back once, by profile; deletion clears both."""
    due, later = T0.add(days=1), T0.add(days=2)
    with store.transaction() as tx:
        tx.put_memberships("p1", ["vip", "de"], [], T0)
        tx.put_memberships("p2", ["vip"], [], T0)
        tx.put_memberships("p1", [], ["de"], T0)
        tx.put_timers("p1", {"vip": due, "de": later})
        tx.put_timers("p2", {"vip": due})
        tx.put_timers("p2", {"vip": None})  # no timer any more
        assert tx.memberships("p1") == {"vip"}
        assert tx.segment_members("vip") == ["p1", "p2"]
        assert tx.due_timers(T0) == {}
        assert tx.due_timers(due) == {"p1": frozenset({"vip"})}
        assert tx.due_timers(due) == {}  # taken off the index
        tx.delete_profile("p1")
        assert tx.memberships("p1") == frozenset()
        assert tx.segment_members("vip") == ["p2"]
        assert tx.due_timers(later) == {}


def test_membership_writes_roll_back(store):
    with store.transaction() as tx:
        tx.put_memberships("p1", ["vip"], [], T0)
        tx.put_timers("p1", {"vip": T0})
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_memberships("p1", ["de"], ["vip"], T0)
        assert tx.due_timers(T0.add(days=1)) == {"p1": frozenset({"vip"})}
        raise RuntimeError
    with store.transaction() as tx:
        assert tx.memberships("p1") == {"vip"}
        assert tx.due_timers(T0) == {"p1": frozenset({"vip"})}


def test_sqlite_event_cache_size_is_checked(tmp_path):
    from omnichannel import ValidationError

    with pytest.raises(ValidationError):
        SQLiteStore(tmp_path / "x.db", event_cache=0)
