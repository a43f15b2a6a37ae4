"""Identity resolution: deterministic, policy-abiding, explainable."""

from __future__ import annotations

import random

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import Event, Identity, ValidationError
from omnichannel.identity import IdentityRules, Link, MergePolicy, profile_id_for, resolve
from omnichannel.ingest import parse_segment
from support import segment_samples

T0 = pendulum.datetime(2024, 3, 5)


def ident(kind: str, value: str) -> Identity:
    return Identity(kind=kind, value=value)


ANON, ANON2 = ident("anonymous_id", "a1"), ident("anonymous_id", "a2")
USER, USER2 = ident("user_id", "u1"), ident("user_id", "u2")
EMAIL = ident("email", "ann@example.com")


def link(a: Identity, b: Identity, minutes: int, message: str | None = None) -> Link:
    return Link(a=a, b=b, at=T0.add(minutes=minutes), message_id=message or f"m{minutes}")


def seen(**minutes: int) -> dict[Identity, tuple[pendulum.DateTime, str]]:
    names = {"anon": ANON, "anon2": ANON2, "user": USER, "user2": USER2, "email": EMAIL}
    return {names[k]: (T0.add(minutes=v), f"m{v}") for k, v in minutes.items()}


def test_login_joins_the_anonymous_profile():
    """A user id first seen when logging in joins the browsing profile, which keeps its id."""
    result = resolve(first_seen=seen(anon=0, user=5), links=[link(USER, ANON, 5)])
    assert {profile_id_for(ANON, (T0, "m0"))} == set(result.profiles)
    assert ["joined"] == [r.outcome for r in result.log]


def test_two_existing_profiles_merge_and_the_oldest_survives():
    """When two profiles meet, the older one's id survives and the merge is logged."""
    first = seen(anon=10, user=0)  # the user's profile is older than the anonymous one
    result = resolve(first_seen=first, links=[link(ANON, USER, 20)])
    (record,) = result.log
    assert ("merged", profile_id_for(USER, first[USER]), profile_id_for(ANON, first[ANON])) == (
        record.outcome,
        record.survivor,
        record.absorbed,
    )
    assert {record.survivor} == set(result.profiles)


def test_limit_refuses_a_second_user_id_and_records_why():
    """Two accounts sharing a device stay two people: the link is refused, never half-applied."""
    first = seen(anon=0, user=1, user2=2)
    result = resolve(first_seen=first, links=[link(USER, ANON, 1), link(USER2, ANON, 2)])
    assert result.profile_of[ANON] == result.profile_of[USER] != result.profile_of[USER2]
    assert [("joined", None), ("refused", "limit:user_id")] == [
        (r.outcome, r.reason) for r in result.log
    ]


def test_blocked_identifiers_link_nothing():
    """A blocked identifier (a shop's tablet) never merges anyone."""
    tablet = ident("device_id", "store-tablet")
    first = {**seen(user=0, user2=1), tablet: (T0, "m0")}
    policy = MergePolicy(blocked={tablet})
    result = resolve(
        first_seen=first, links=[link(USER, tablet, 0), link(USER2, tablet, 1)], policy=policy
    )
    assert 3 == len(result.profiles)
    assert ["blocked", "blocked"] == [r.reason for r in result.log]


def test_separations_keep_unmerged_groups_apart():
    """After an operator separates two identifiers, no link may rejoin their groups."""
    first = seen(anon=0, email=1, user=2)
    links = [link(EMAIL, ANON, 1), link(USER, EMAIL, 2), link(USER, ANON, 3)]
    result = resolve(first_seen=first, links=links, separations=[(ANON, USER)])
    assert result.profile_of[ANON] == result.profile_of[EMAIL] != result.profile_of[USER]
    assert ["joined", "refused", "refused"] == [r.outcome for r in result.log]
    assert {"separated"} == {r.reason for r in result.log if r.outcome == "refused"}


def test_explain_lists_what_shaped_a_profile():
    """explain() returns the log entries touching the profile's identifiers."""
    first = seen(anon=0, user=1, user2=2)
    result = resolve(first_seen=first, links=[link(USER, ANON, 1), link(USER2, ANON, 2)])
    pid = result.profile_of[USER2]
    assert ["limit:user_id"] == [r.reason for r in result.explain(pid)]


@st.composite
def link_sets(draw: st.DrawFn):
    universe = [ident("user_id", f"u{n}") for n in range(3)]
    universe += [ident("anonymous_id", f"a{n}") for n in range(3)]
    universe += [ident("email", f"e{n}@example.com") for n in range(3)]
    first = {
        i: (T0.add(minutes=draw(st.integers(0, 50))), f"m{draw(st.integers(0, 9))}")
        for i in universe
    }
    links = []
    for _ in range(draw(st.integers(0, 12))):
        a, b = draw(st.sampled_from(universe)), draw(st.sampled_from(universe))
        if a != b:
            at = max(first[a][0], first[b][0]).add(minutes=draw(st.integers(0, 5)))
            links.append(Link(a=a, b=b, at=at, message_id=f"m{draw(st.integers(0, 9))}"))
    return first, links, draw(st.randoms(use_true_random=False))


@given(link_sets())
def test_resolution_does_not_depend_on_arrival_order(case):
    """Any permutation of the same links gives the same profiles and the same log."""
    first, links, rnd = case
    expected = resolve(first_seen=first, links=links)
    shuffled = list(links)
    rnd.shuffle(shuffled)
    assert expected == resolve(first_seen=dict(reversed(list(first.items()))), links=shuffled)


@given(link_sets())
def test_policy_limits_always_hold(case):
    """No resolved profile ever holds more user ids than the policy allows."""
    first, links, _ = case
    result = resolve(first_seen=first, links=links)
    for members in result.profiles.values():
        assert sum(1 for i in members if i.kind == "user_id") <= 1


def test_profile_ids_are_deterministic_and_reveal_no_value():
    """The same first sighting gives the same id, and the id does not contain the identifier."""
    pid = profile_id_for(EMAIL, (T0, "m1"))
    assert pid == profile_id_for(EMAIL, (T0, "m1")) != profile_id_for(EMAIL, (T0, "m2"))
    assert "ann" not in pid


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"limits": {"user_id": 0}}, "$.limits.user_id"),
        ({"limits": {"Bad Kind": 1}}, "$"),
        ({"blocked": ["x"]}, "$.blocked"),
    ],
)
def test_merge_policy_validates(kwargs, path):
    """Limits must be whole numbers >= 1 of valid kinds; blocked values must be identities."""
    with pytest.raises(ValidationError) as excinfo:
        MergePolicy(**kwargs)
    assert path == excinfo.value.errors[0].path


def test_priority_orders_identifiers():
    """The user id outranks an email, which outranks an anonymous id; unknown kinds come last."""
    policy = MergePolicy()
    crm = ident("crm_id", "c1")
    assert [USER, EMAIL, ANON, crm] == sorted([crm, ANON, EMAIL, USER], key=policy.rank)
    assert USER == policy.top([ANON, USER])
    assert policy.top([]) is None


def _event(**fields) -> Event:
    return parse_segment({"type": "identify", "timestamp": "2024-03-05T10:00:00Z", **fields})


def test_rules_read_identifiers_from_where_they_live():
    """user/anonymous ids, alias previousId, traits email/phone, device id and push token are read."""
    event = _event(
        userId=42,
        anonymousId="a1",
        traits={"email": " Ann@Example.com", "phone": "+14155550134", "loyalty_id": "L-7"},
        context={"device": {"id": "dev-1", "token": "tok-1"}},
    )
    assert [
        "user_id:42", "loyalty_id:L-7", "email:ann@example.com", "phone:+14155550134",
        "device_id:dev-1", "push_token:tok-1", "anonymous_id:a1",
    ] == [str(i) for i in IdentityRules().identities(event)]  # fmt: skip
    alias = parse_segment(
        {"type": "alias", "userId": "u1", "previousId": "a0", "timestamp": "2024-03-05T10:00:00Z"}
    )
    assert ["user_id:u1", "anonymous_id:a0"] == [str(i) for i in IdentityRules().identities(alias)]


def test_rules_skip_values_that_are_not_identifiers():
    """An email trait of "n/a" or a national phone number is skipped, not fatal."""
    event = _event(
        userId="u1", traits={"email": "n/a", "phone": "0151 23456789", "loyalty_id": "  "}
    )
    assert [USER] == IdentityRules().identities(event)
    assert [] == IdentityRules().links(event)


def test_rules_link_the_top_identifier_to_the_others():
    """An event links its highest-priority identifier to each other one."""
    event = _event(userId="u1", anonymousId="a1", traits={"email": "ann@example.com"})
    assert [(USER, EMAIL), (USER, ANON)] == [(lk.a, lk.b) for lk in IdentityRules().links(event)]


def test_conformance_shopper_is_one_person():
    """The 20 sample payloads of one shopper resolve to one profile, in any order."""
    samples = segment_samples()
    if not samples:
        pytest.skip("conformance samples absent")
    rules = IdentityRules()
    events = [parse_segment(p.read_bytes()) for p in samples]
    first, links = {}, []
    for event in events:
        ids = rules.identities(event)
        for identity in ids:
            key = (event.timestamp, event.message_id)
            first[identity] = min(first.get(identity, key), key)
        links += rules.links(event, ids)
    expected = resolve(first_seen=first, links=links)
    assert 1 == len(expected.profiles)
    random.Random(7).shuffle(links)
    assert expected == resolve(first_seen=first, links=links)


def test_rules_read_integer_traits_and_skip_other_types():
    """A whole-number trait is read as text; lists, booleans and objects are not identifiers."""
    event = _event(
        userId="u1",
        traits={"loyalty_id": 1234, "email": ["ann@example.com"], "phone": True},
        context={"device": "not an object"},
    )
    assert [USER, ident("loyalty_id", "1234")] == IdentityRules().identities(event)
