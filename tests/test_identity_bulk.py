"""Identity resolution in bulk: the profiles `resolve` gives, from columns."""

from __future__ import annotations

import gc
import sys

import numpy as np
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import Identity, OmnichannelError, ValidationError
from omnichannel.identity import (
    DEFAULT_PRIORITY,
    BulkResolution,
    Link,
    MergePolicy,
    profile_id_for,
    resolve,
    resolve_bulk,
)
from omnichannel.identity._bulk import MAX_PROBLEMS

T0 = pendulum.datetime(2024, 3, 5)
US = 1_000_000


def ident(text: str) -> Identity:
    kind, _, value = text.partition(":")
    return Identity(kind=kind, value=value)


def columns(rows, at="datetime"):
    """(a, b, minutes, message) rows as resolve_bulk's columns, ``at`` in one of its forms."""
    instants = [T0.add(minutes=m) for _, _, m, _ in rows]
    forms = {
        "datetime": instants,
        "datetime64": np.array([t.naive() for t in instants], dtype="datetime64[us]"),
        "micros": np.array([int(t.timestamp()) * US for t in instants], dtype=np.int64),
    }
    return {
        "a": [a for a, _, _, _ in rows],
        "b": [b for _, b, _, _ in rows],
        "at": forms[at],
        "message_id": [m for _, _, _, m in rows],
    }


def as_links(rows):
    return [
        Link(a=ident(a), b=ident(b), at=T0.add(minutes=m), message_id=msg) for a, b, m, msg in rows
    ]


def derived_first_seen(links):
    """Each identifier's least link key: what resolve_bulk uses without first_seen."""
    first: dict[Identity, tuple[pendulum.DateTime, str]] = {}
    for link in links:
        for identity in (link.a, link.b):
            first[identity] = min(first.get(identity, link.key), link.key)
    return first


def test_a_second_user_id_is_refused_as_resolve_refuses_it():
    """Two accounts on one device stay two people; the refusal is logged with its reason."""
    rows = [
        ("user_id:u1", "anonymous_id:a1", 0, "m1"),
        ("user_id:u2", "anonymous_id:a1", 5, "m2"),
        ("email:ann@example.com", "anonymous_id:a1", 9, "m3"),
    ]
    bulk = resolve_bulk(**columns(rows))
    expected = resolve(first_seen=derived_first_seen(as_links(rows)), links=as_links(rows))
    assert expected == bulk.to_resolution()
    assert (2, 3) == (bulk.profile_count, bulk.sequential_links)
    assert [None, "limit:user_id", None] == [r.reason for r in bulk.log]


def test_plain_components_need_no_sequential_pass_and_log_no_joins():
    """Without possible refusals nothing is resolved one by one, and joins are not logged."""
    rows = [
        ("user_id:u1", "anonymous_id:a1", 3, "m2"),
        ("email:ann@example.com", "anonymous_id:a1", 1, "m1"),
        ("user_id:u2", "anonymous_id:a2", 2, "m3"),
    ]
    bulk = resolve_bulk(**columns(rows, at="micros"))
    links = as_links(rows)
    first = derived_first_seen(links)
    expected = resolve(first_seen=first, links=links)
    assert (0, ()) == (bulk.sequential_links, bulk.log)
    assert expected.profiles == bulk.to_resolution().profiles
    # The oldest identifier names the profile: the email, first seen in m1.
    email = ident("email:ann@example.com")
    assert profile_id_for(email, first[email]) == bulk.profile_of("user_id:u1")


def test_oldest_identifier_wins_ties_by_priority():
    """Identifiers first seen in one message: the profile is named after the highest-priority one."""
    rows = [("anonymous_id:a1", "email:ann@example.com", 0, "m1")]
    bulk = resolve_bulk(**columns(rows), policy=MergePolicy(limits={}))
    email = ident("email:ann@example.com")
    assert [profile_id_for(email, (T0, "m1"))] == bulk.profile_ids().tolist()
    assert profile_id_for(email, (T0, "m1")) == bulk.profile_id(0)


def test_equal_instants_are_ordered_by_message_id():
    """Two links at one instant: the one with the lesser message id is the older."""
    rows = [
        ("user_id:u1", "anonymous_id:a1", 0, "m9"),
        ("user_id:u1", "email:ann@example.com", 0, "m1"),
    ]
    bulk = resolve_bulk(**columns(rows, at="datetime64"), policy=MergePolicy(limits={}))
    assert profile_id_for(ident("user_id:u1"), (T0, "m1")) == bulk.profile_id(0)


def test_blocked_identifiers_link_nothing_and_every_blocked_link_is_logged():
    """A blocked tablet stays alone, and each link through it is refused as blocked."""
    tablet = ident("device_id:store-tablet")
    rows = [
        ("user_id:u1", "device_id:store-tablet", 0, "m1"),
        ("user_id:u2", "device_id:store-tablet", 1, "m2"),
        ("user_id:u1", "email:ann@example.com", 2, "m3"),
    ]
    policy = MergePolicy(blocked={tablet, ident("device_id:never-seen")})
    bulk = resolve_bulk(**columns(rows), policy=policy)
    links = as_links(rows)
    expected = resolve(first_seen=derived_first_seen(links), links=links, policy=policy)
    assert expected.profiles == bulk.to_resolution().profiles
    assert [("refused", "blocked"), ("refused", "blocked")] == [
        (r.outcome, r.reason) for r in bulk.log
    ]
    assert [links[0], links[1]] == [r.link for r in bulk.log]


def test_separations_keep_unmerged_groups_apart():
    """After an operator separates two identifiers, no link may rejoin their groups."""
    anon, email, user = "anonymous_id:a1", "email:ann@example.com", "user_id:u1"
    rows = [(email, anon, 1, "m1"), (user, email, 2, "m2"), (user, anon, 3, "m3")]
    apart = [(ident(anon), ident(user)), (ident(anon), ident("user_id:not-here"))]
    bulk = resolve_bulk(**columns(rows), separations=apart)
    links = as_links(rows)
    expected = resolve(first_seen=derived_first_seen(links), links=links, separations=apart)
    assert expected == bulk.to_resolution()
    assert bulk.profile_of(anon) == bulk.profile_of(ident(email)) != bulk.profile_of(user)


def test_first_seen_is_used_as_given_and_names_unlinked_identifiers_too():
    """Given first keys decide who is oldest; identifiers in no link are profiles of their own."""
    rows = [("user_id:u1", "anonymous_id:a1", 10, "m10")]
    first = {
        "user_id:u1": (T0.add(minutes=10), "m10"),
        "anonymous_id:a1": (T0, "m0"),
        "email:lonely@example.com": (T0, "m0"),
    }
    bulk = resolve_bulk(**columns(rows), first_seen=first)
    expected = resolve(first_seen={ident(k): v for k, v in first.items()}, links=as_links(rows))
    assert expected.profile_of == bulk.to_resolution().profile_of
    assert 2 == bulk.profile_count


def test_no_links_no_profiles():
    """Empty columns give an empty resolution."""
    bulk = resolve_bulk(a=[], b=[], at=[], message_id=[])
    assert (0, 0) == (bulk.profile_count, len(bulk.to_resolution().profiles))
    assert "0 profiles" in repr(bulk)


def test_lookups_outside_the_result_raise_the_usual_errors():
    """Unknown identifiers raise KeyError, profile numbers out of range IndexError."""
    bulk = resolve_bulk(**columns([("user_id:u1", "anonymous_id:a1", 0, "m1")]))
    with pytest.raises(KeyError):
        bulk.profile_of("user_id:stranger")
    with pytest.raises(IndexError):
        bulk.profile_id(1)
    assert isinstance(bulk, BulkResolution)


USERS = [f"user_id:u{n}" for n in range(3)]
OTHERS = ["loyalty_id:L1", "loyalty_id:L2", "email:e0@example.com", "email:e1@example.com"]
OTHERS += [
    "anonymous_id:a0",
    "anonymous_id:a1",
    "device_id:d0",
    "crm_id:c0",
    "crm2_id:c0",
    "crm:c0",
]
UNIVERSE = USERS + OTHERS


@st.composite
def bulk_cases(draw: st.DrawFn):
    """Few identifiers, instants and message ids: collisions, ties and conflicts are common."""
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(UNIVERSE),
                st.sampled_from(UNIVERSE),
                st.integers(0, 3),
                st.sampled_from(["m0", "m1", "m2"]),
            ),
            max_size=14,
        )
    )
    blocked = draw(st.sets(st.sampled_from(UNIVERSE), max_size=2))
    apart = draw(st.lists(st.tuples(*[st.sampled_from(UNIVERSE)] * 2), max_size=2))
    first = None
    if draw(st.booleans()):
        seen = {x for a, b, _, _ in rows for x in (a, b)} | set(
            draw(st.sets(st.sampled_from(UNIVERSE)))
        )
        first = {
            t: (T0.add(minutes=draw(st.integers(0, 3))), draw(st.sampled_from(["m0", "m1"])))
            for t in sorted(seen)
        }
    limits = draw(st.sampled_from([None, {"user_id": 1, "loyalty_id": 1, "crm_id": 2}, {}]))
    priority = draw(st.sampled_from([DEFAULT_PRIORITY, ("crm_id", "email", "anonymous_id")]))
    policy = (
        None
        if limits is None
        else MergePolicy(limits=limits, blocked={ident(t) for t in blocked}, priority=priority)
    )
    at = draw(st.sampled_from(["datetime", "datetime64", "micros"]))
    return rows, first, policy, [(ident(x), ident(y)) for x, y in apart], at


@given(bulk_cases())
def test_bulk_gives_what_resolve_gives(case):
    """Profiles, profile ids and refusals equal resolve()'s; the log is a subsequence of its log."""
    rows, first, policy, apart, at = case
    links = as_links(rows)
    first_seen = (
        derived_first_seen(links) if first is None else {ident(k): v for k, v in first.items()}
    )
    expected = resolve(first_seen=first_seen, links=links, policy=policy, separations=apart)
    bulk = resolve_bulk(**columns(rows, at), first_seen=first, policy=policy, separations=apart)
    actual = bulk.to_resolution()
    assert expected.profiles == actual.profiles
    assert expected.profile_of == actual.profile_of
    assert [r for r in expected.log if r.outcome == "refused"] == [
        r for r in actual.log if r.outcome == "refused"
    ]
    remaining = iter(expected.log)
    assert all(any(r == e for e in remaining) for r in actual.log)
    assert [bulk.profile_of(str(i)) for i in first_seen] == [
        expected.profile_of[i] for i in first_seen
    ]


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"b": ["anonymous_id:a1"] * 3}, "$.b", "invalid"),
        ({"a": (x for x in "ab")}, "$.a", "type"),
        ({"a": np.array([["user_id:u1"], ["user_id:u2"]])}, "$.a", "type"),
        ({"a": ["user_id:u1", "user_id"]}, "$.a[1]", "invalid"),
        ({"a": ["user_id:u1", "user_id:"]}, "$.a[1]", "invalid"),
        ({"b": ["anonymous_id:a1", "User_ID:u1"]}, "$.b[1]", "invalid"),
        ({"b": ["anonymous_id:a1", ":u1"]}, "$.b[1]", "invalid"),
        ({"b": ["anonymous_id:a1", "crm-id:c1"]}, "$.b[1]", "invalid"),
        ({"a": ["user_id:u1", 7]}, "$.a[1]", "type"),
        ({"b": ["anonymous_id:a1", None]}, "$.b[1]", "type"),
        ({"message_id": np.array([["m1"], ["m2"]])}, "$.message_id", "type"),
        ({"at": [T0, T0.naive()]}, "$.at[1]", "naive_datetime"),
        ({"at": [T0, "2024-03-05"]}, "$.at[1]", "type"),
        ({"at": np.array([0.5, 1.5])}, "$.at", "type"),
        ({"at": np.array(["2024-03-05", "NaT"], dtype="datetime64[us]")}, "$.at[1]", "required"),
        ({"first_seen": {"user_id:u1": (T0, "m1")}}, "$.a[1]", "required"),
        ({"first_seen": {"user_id:u1": (T0.naive(), "m1")}}, '$.first_seen["user_id:u1"]', "type"),
        ({"first_seen": {7: (T0, "m1")}}, '$.first_seen["7"]', "type"),
    ],
)
def test_bad_columns_are_rejected_with_a_path(change, path, code):
    """Each malformed input is reported at the JSON path of the offending value."""
    good = columns(
        [("user_id:u1", "anonymous_id:a1", 0, "m1"), ("user_id:u2", "anonymous_id:a2", 1, "m2")]
    )
    with pytest.raises(ValidationError) as excinfo:
        resolve_bulk(**{**good, **change})
    assert (path, code) == (excinfo.value.errors[0].path, excinfo.value.errors[0].code)


def test_many_problems_are_capped():
    """A column of garbage gives at most MAX_PROBLEMS errors, not a million."""
    bad = [f"nonsense{n}" for n in range(50)]
    with pytest.raises(ValidationError) as excinfo:
        resolve_bulk(a=bad, b=bad, at=[T0] * 50, message_id=["m"] * 50)
    assert MAX_PROBLEMS == len(excinfo.value.errors)
    with pytest.raises(ValidationError) as excinfo:
        resolve_bulk(**columns([(f"Email:x{n}", "user_id:u", 0, "m") for n in range(50)]))
    assert ["$.a[0]", "$.a[1]"] == [e.path for e in excinfo.value.errors[:2]]


def test_values_out_of_normal_form_are_found_where_objects_are_built():
    """Values are taken as given; the sequential pass and to_resolution() check their form."""
    rows = [
        ("email:Ann@Example.com", "user_id:u1", 0, "m1"),
        ("email:Ann@Example.com", "user_id:u2", 1, "m2"),
    ]
    with pytest.raises(ValidationError) as excinfo:
        resolve_bulk(**columns(rows))
    assert ("$.a[0]", "invalid") == (excinfo.value.errors[0].path, excinfo.value.errors[0].code)
    with pytest.raises(ValidationError) as excinfo:
        resolve_bulk(
            **columns(
                [("email:nope", "user_id:u1", 0, "m1"), ("user_id:u2", "email:nope", 0, "m1")]
            )
        )
    assert "$.a[0].value" == excinfo.value.errors[0].path
    plain = resolve_bulk(**columns([("anonymous_id:a1", "email:Ann@Example.com", 0, "m1")]))
    with pytest.raises(ValidationError) as excinfo:
        plain.to_resolution()
    assert "$.b[0]" == excinfo.value.errors[0].path
    lonely = resolve_bulk(**columns([]), first_seen={"email:Ann@Example.com": (T0, "m1")})
    with pytest.raises(ValidationError) as excinfo:
        lonely.to_resolution()
    assert '$.first_seen["email:Ann@Example.com"]' == excinfo.value.errors[0].path
    blocked = resolve_bulk(
        **columns([("device_id:d1", "email:Ann@Example.com", 0, "m1")]),
        policy=MergePolicy(blocked={ident("device_id:d1")}),
    )
    with pytest.raises(ValidationError) as excinfo:
        _ = blocked.log
    assert "$.b[0]" == excinfo.value.errors[0].path


def test_missing_extra_names_it(monkeypatch):
    """Without scipy, the error says which extra to install."""
    monkeypatch.setitem(sys.modules, "scipy.sparse.csgraph", None)
    with pytest.raises(OmnichannelError, match=r"omnichannel\[bulk\]"):
        resolve_bulk(a=[], b=[], at=[], message_id=[])


def test_many_bad_instants_and_first_keys_are_capped_too():
    """Instants and first_seen entries stop at MAX_PROBLEMS problems as well."""
    bad = columns([("user_id:u1", "anonymous_id:a1", 0, "m1")] * 30)
    with pytest.raises(ValidationError) as excinfo:
        resolve_bulk(**{**bad, "at": [T0.naive()] * 30})
    assert MAX_PROBLEMS == len(excinfo.value.errors)
    with pytest.raises(ValidationError) as excinfo:
        resolve_bulk(**bad, first_seen={f"user_id:u{n}": (T0, 1) for n in range(30)})
    assert MAX_PROBLEMS == len(excinfo.value.errors)


def test_columns_may_be_numpy_pyarrow_or_pandas():
    """Text columns are read from lists, numpy and pyarrow arrays and pandas Series alike."""
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    rows = [("user_id:u1", "anonymous_id:a1", 0, "m1"), ("user_id:u2", "anonymous_id:a1", 1, "m2")]
    expected = resolve_bulk(**columns(rows))
    given = columns(rows, at="micros")
    actual = resolve_bulk(
        a=np.array(given["a"]),
        b=pa.array(given["b"]),
        at=given["at"],
        message_id=pd.Series(given["message_id"]),
    )
    assert expected.profile_ids().tolist() == actual.profile_ids().tolist()
    assert actual.profile_ids() is actual.profile_ids()
    assert expected.log == actual.log


@pytest.mark.parametrize("collecting", [True, False])
def test_the_cyclic_collector_is_left_as_it_was(collecting):
    """Resolving pauses the cyclic garbage collector and restores its state afterwards."""
    was = gc.isenabled()
    try:
        (gc.enable if collecting else gc.disable)()
        resolve_bulk(**columns([("user_id:u1", "anonymous_id:a1", 0, "m1")]))
        assert collecting == gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_message_ids_are_checked_when_first_read():
    """Counting profiles never reads message ids; naming them does, and rejects a non-text one."""
    rows = [("user_id:u1", "anonymous_id:a1", 0, "m1"), ("user_id:u2", "anonymous_id:a2", 1, "m2")]
    bulk = resolve_bulk(**{**columns(rows), "message_id": ["m1", 2]})
    assert 2 == bulk.profile_count
    with pytest.raises(ValidationError) as excinfo:
        bulk.profile_ids()
    assert [("$.message_id[1]", "type")] == [(e.path, e.code) for e in excinfo.value.errors]
    conflict = [*rows, ("user_id:u1", "anonymous_id:a2", 2, "m3")]
    with pytest.raises(ValidationError) as excinfo:
        resolve_bulk(**{**columns(conflict), "message_id": ["m1", None, "m3"]})
    assert "$.message_id[1]" == excinfo.value.errors[0].path
