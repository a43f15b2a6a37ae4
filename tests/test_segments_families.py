"""Built-in segment families: arguments checked, small examples per family, stages exclusive."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.errors import ValidationError
from omnichannel.rules import dump_rule, load_rule
from omnichannel.segments import (
    LIFECYCLE_STAGES,
    RFM_GRID,
    RFM_GROUPS,
    RFMThresholds,
    Segment,
    Segmentation,
    batch_members,
    channel_segments,
    define_segments,
    demographic_segments,
    family_schema,
    lifecycle_segments,
    rfm_segments,
    rfm_thresholds,
)

NOW = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
CUTS = RFMThresholds(
    recency_days=(14, 30, 60, 120),
    frequency=(1, 2, 3, 5),
    monetary={"EUR": (50, 100, 200, 400), "USD": (60, 120, 240, 480)},
)
SCORES = {letter: [f"rfm-{letter}{n}" for n in range(1, 6)] for letter in ("r", "f", "m", "fm")}


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def person(**facts: Any) -> dict[str, Any]:
    """A subject with the given state (a plain visitor by default) and events."""
    events = facts.pop("events", [])
    traits = facts.pop("traits", {})
    base: dict[str, Any] = {"orders": 0, "identified": False, "revenue": {}, "consent": {}}
    return {"traits": traits, "state": {**base, **facts}, "timezone": "UTC", "events": events}


def customer(orders: int, first: float, last: float, **facts: Any) -> dict[str, Any]:
    """Someone with ``orders`` orders, the first and last ``first`` and ``last`` days ago."""
    gap = (first - last) / (orders - 1) if orders > 1 else None
    return person(
        orders=orders,
        identified=True,
        first_order=ago(first),
        last_order=ago(last),
        order_gap_days=gap,
        next_order_due=None if gap is None else ago(last - gap),
        **facts,
    )


def event(name: str, days_ago: float, channel: str | None = None, **properties: Any):
    return {
        "event": name,
        "timestamp": ago(days_ago),
        "channel": channel,
        "properties": properties,
    }


def members(segments: tuple[Segment, ...], subject: dict[str, Any], now=NOW) -> set[str]:
    result = Segmentation(segments).evaluate("p1", subject, now, frozenset(), everything=True)
    return set(result.members)


def errors(call, *args, **kwargs) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as excinfo:
        call(*args, **kwargs)
    return [(e.path, e.code) for e in excinfo.value.errors]


# --- every family -------------------------------------------------------------------------


def every_family() -> list[Segment]:
    return [
        *lifecycle_segments(),
        *rfm_segments(CUTS),
        *channel_segments(),
        *demographic_segments(),
    ]


def test_families_have_unique_prefixed_keys_names_descriptions_and_tags():
    """Keys are unique and say their family; every segment explains itself."""
    family = every_family()
    keys = [s.key for s in family]
    assert len(keys) == len(set(keys))
    assert {k.split("-")[0] for k in keys} == {"lifecycle", "rfm", "channel", "demo"}
    assert all(s.name and s.description and s.tags for s in family)


def test_families_are_plain_rules_that_travel_as_json():
    """Every rule survives its versioned JSON form and prints as text."""
    for segment in every_family():
        assert load_rule(dump_rule(segment.rule)) == segment.rule
        assert str(segment.rule)


def test_every_family_compiles_to_duckdb_sql():
    """The batch path can run every family: fields known to the schema, SQL for DuckDB."""
    pytest.importorskip("sqlglot")
    schema = family_schema(currencies=CUTS.monetary)
    ordered = define_segments(every_family(), schema=schema, dialect="duckdb")
    assert len(ordered) == len(every_family())


def test_family_schema_refuses_odd_channels():
    assert [("$.subscriptions[0]", "invalid")] == errors(family_schema, subscriptions=["E mail"])


def test_family_schema_reads_consents_traits_and_currencies():
    schema = family_schema(currencies=["JPY"], traits={"plan": "text"}, subscriptions=["sms"])
    assert "text" == schema.fields["state.consent.marketing.sms"]
    assert "text" == schema.fields["state.consent.marketing.push"]  # channel-push-ignored
    assert "number" == schema.fields["state.revenue.JPY"]
    assert "text" == schema.fields["traits.plan"]


# --- lifecycle ----------------------------------------------------------------------------

STAGE_EXAMPLES = [
    ("anonymous visitor", person(), "lifecycle-awareness"),
    ("no state at all", {"traits": {}}, "lifecycle-awareness"),
    ("identified lead", person(identified=True), "lifecycle-acquisition"),
    ("first order last week", customer(1, 5, 5), "lifecycle-onboarding"),
    ("two orders, both this month", customer(2, 20, 3), "lifecycle-onboarding"),
    ("repeat buyer, next order not due", customer(4, 200, 10), "lifecycle-engagement"),
    ("repeat buyer, 10 days overdue", customer(3, 100, 40), "lifecycle-engagement"),
    ("repeat buyer, 20 days overdue", customer(3, 110, 50), "lifecycle-at-risk"),
    ("one-time buyer, 45 days ago", customer(1, 45, 45), "lifecycle-at-risk"),
    ("nothing for 400 days", customer(5, 900, 400), "lifecycle-churned"),
    ("one order 366 days ago", customer(1, 366, 366), "lifecycle-churned"),
]


@pytest.mark.parametrize(
    ("subject", "stage"), [e[1:] for e in STAGE_EXAMPLES], ids=[e[0] for e in STAGE_EXAMPLES]
)
def test_lifecycle_stage_of_each_kind_of_person(subject, stage):
    assert {stage} == members(lifecycle_segments(), subject)


def test_lifecycle_stages_move_on_with_time_alone():
    """A one-time buyer: onboarding, then at risk after 30 days, then churned after 365."""
    stages = lifecycle_segments()
    subject = customer(1, 0, 0)
    then = [members(stages, subject, NOW + dt.timedelta(days=d)) for d in (1, 31, 366)]
    assert [{"lifecycle-onboarding"}, {"lifecycle-at-risk"}, {"lifecycle-churned"}] == then


def test_lifecycle_thresholds_are_written_into_the_rules():
    family = {s.key: s for s in lifecycle_segments(onboarding_days=7, churned_days=90)}
    assert "first_order is in the last 7 days" in str(family["lifecycle-onboarding"].rule)
    assert "older than 90 days" in str(family["lifecycle-churned"].rule)
    assert LIFECYCLE_STAGES == tuple(sorted(family, key=LIFECYCLE_STAGES.index))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"onboarding_days": 0}, [("$.onboarding_days", "out_of_range")]),
        ({"onboarding_days": "30"}, [("$.onboarding_days", "type")]),
        ({"grace_days": True}, [("$.grace_days", "type")]),
        ({"grace_days": 2.5}, [("$.grace_days", "type")]),
        ({"churned_days": 36_501}, [("$.churned_days", "out_of_range")]),
        ({"onboarding_days": 90, "churned_days": 90}, [("$.churned_days", "out_of_range")]),
    ],
)
def test_lifecycle_refuses_bad_thresholds(kwargs, expected):
    assert expected == errors(lifecycle_segments, **kwargs)


# Subjects with any mix of present, missing and odd values in the fields the families read.
_INSTANTS = st.one_of(
    st.none(), st.floats(-30, 800, allow_nan=False).map(lambda d: NOW - dt.timedelta(days=d))
)
_MAYBE = st.sampled_from(["missing", "present"])


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for name, values in (
        ("orders", st.one_of(st.none(), st.integers(0, 12), st.just("3"))),
        ("identified", st.one_of(st.none(), st.booleans())),
        ("first_order", _INSTANTS),
        ("last_order", _INSTANTS),
        ("next_order_due", _INSTANTS),
    ):
        if draw(_MAYBE) == "present":
            facts[name] = draw(values)
    facts["revenue"] = draw(
        st.dictionaries(st.sampled_from(["EUR", "USD", "GBP"]), st.floats(0, 1000), max_size=2)
    )
    return {"traits": {}, "state": facts, "timezone": "UTC", "events": []}


@settings(max_examples=150)
@given(subjects())
def test_every_subject_is_in_exactly_one_lifecycle_stage(subject):
    """Property: the stages split everyone, whatever their data holds or lacks."""
    assert 1 == len(members(lifecycle_segments(), subject))


# --- RFM ------------------------------------------------------------------------------------


def test_rfm_thresholds_are_the_population_quintiles():
    people = [
        customer(n, 10 * n, 10 * n, revenue={"EUR": 40.0 * n, "USD": 10.0 * n})
        for n in range(1, 11)
    ]
    people.append(person(identified=True))  # not a customer: not counted
    people.append({"traits": {}})  # no state at all: not counted
    cuts = rfm_thresholds([(f"p{n}", p) for n, p in enumerate(people)], NOW)
    assert (20, 40, 60, 80) == cuts.recency_days
    assert (2, 4, 6, 8) == cuts.frequency
    assert {"EUR": (80.0, 160.0, 240.0, 320.0), "USD": (20.0, 40.0, 60.0, 80.0)} == cuts.monetary
    assert {"USD"} == set(rfm_thresholds(people, NOW, currencies="usd").monetary)


def test_rfm_thresholds_spread_tied_whole_number_cut_points():
    """Most customers have one order: the frequency cut points still give five scores."""
    people = [customer(1, 1, 1, revenue={"EUR": 10.0})] * 9 + [customer(3, 9, 1)]
    cuts = rfm_thresholds(people, NOW)
    assert (1, 2, 3, 4) == cuts.frequency
    assert (1, 2, 3, 4) == cuts.recency_days  # one day ago for all: at least 1, rising
    assert (10.0, 10.0, 10.0, 10.0) == cuts.monetary["EUR"]  # amounts tie: M2-M5 empty


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (([], NOW), {}, [("$.subjects", "empty")]),
        (([person()], NOW), {}, [("$.subjects", "empty")]),
        (([customer(1, 1, 1)], NOW.replace(tzinfo=None)), {}, [("$.now", "invalid")]),
        (([customer(1, 1, 1)], "2024-05-01"), {}, [("$.now", "invalid")]),
        (([customer(1, 1, 1)], NOW), {"currencies": ["euro"]}, [("$.currencies[0]", "invalid")]),
        (([customer(1, 1, 1)], NOW), {"currencies": ["EUR"]}, [("$.currencies[0]", "empty")]),
        (([customer(1, 1, 1), 3], NOW), {}, [("$.subjects[1]", "type")]),
        (([customer(1, 1, 1)], NOW), {"currencies": []}, [("$.currencies", "empty")]),
        (([customer(1, 1, 1, revenue={"eur": 5.0})], NOW), {}, [("$.currencies", "empty")]),
    ],
)
def test_rfm_thresholds_refuse_what_they_cannot_cut(args, kwargs, expected):
    assert expected == errors(rfm_thresholds, *args, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"recency_days": (30, 14, 60, 120)}, [("$.recency_days", "invalid")]),
        ({"recency_days": (14, 30, 60)}, [("$.recency_days", "invalid")]),
        ({"recency_days": (0, 30, 60, 90)}, [("$.recency_days[0]", "out_of_range")]),
        ({"recency_days": "14,30"}, [("$.recency_days", "type")]),
        ({"frequency": (1, 2, 3.5, 5)}, [("$.frequency[2]", "type")]),
        ({"monetary": {}}, [("$.monetary", "type")]),
        ({"monetary": {"eur": (1, 2, 3, 4)}}, [("$.monetary", "invalid")]),
        ({"monetary": {"EUR": (1, 2, 3, float("inf"))}}, [("$.monetary.EUR[3]", "out_of_range")]),
        ({"monetary": {"EUR": (-1, 2, 3, 4)}}, [("$.monetary.EUR[0]", "out_of_range")]),
        ({"monetary": {"EUR": (1, "2", 3, 4)}}, [("$.monetary.EUR[1]", "type")]),
    ],
)
def test_rfm_thresholds_check_their_cut_points(kwargs, expected):
    good = {
        "recency_days": (14, 30, 60, 120),
        "frequency": (1, 2, 3, 5),
        "monetary": {"EUR": (1, 2, 3, 4)},
    }
    assert expected == errors(RFMThresholds, **{**good, **kwargs})


def test_rfm_segments_need_thresholds():
    assert [("$.thresholds", "type")] == errors(rfm_segments, {"recency_days": (1, 2, 3, 4)})


def test_rfm_grid_names_every_cell_once():
    """Each of the 25 (R, FM) cells belongs to exactly one named group."""
    cells = [
        (r, fm)
        for key in RFM_GROUPS
        for rs, fms in RFM_GRID[key]
        for r, fm in itertools.product(rs, fms)
    ]
    assert sorted(cells) == sorted(itertools.product(range(1, 6), repeat=2))


RFM_EXAMPLES = [
    # Who, what they did, their R, F, M and FM scores and their group.
    ("best customer", customer(8, 300, 3, revenue={"EUR": 900.0}), (5, 5, 5, 5), "rfm-champions"),
    ("new, one small order", customer(1, 5, 5, revenue={"EUR": 30.0}), (5, 1, 1, 1), "rfm-new"),
    (
        "regular, not lately",
        customer(4, 300, 45, revenue={"EUR": 250.0}),
        (3, 4, 4, 4),
        "rfm-loyal",
    ),
    (
        "big spender, long gone",
        customer(6, 600, 200, revenue={"USD": 500.0}),
        (1, 5, 5, 5),
        "rfm-cant-lose",
    ),
    ("used to buy", customer(3, 400, 100, revenue={"EUR": 150.0}), (2, 3, 3, 3), "rfm-at-risk"),
    ("one order long ago", customer(1, 300, 300, revenue={"EUR": 20.0}), (1, 1, 1, 1), "rfm-lost"),
    (
        "little, a while ago",
        customer(2, 90, 40, revenue={"EUR": 60.0}),
        (3, 2, 2, 2),
        "rfm-hibernating",
    ),
    (
        "recent, average",
        customer(2, 60, 20, revenue={"EUR": 120.0}),
        (4, 2, 3, 3),
        "rfm-potential-loyalist",
    ),
    ("no revenue recorded", customer(2, 60, 20), (4, 2, 1, 2), "rfm-potential-loyalist"),
]


@pytest.mark.parametrize(
    ("subject", "scores", "group"),
    [e[1:] for e in RFM_EXAMPLES],
    ids=[e[0] for e in RFM_EXAMPLES],
)
def test_rfm_scores_and_group_of_each_kind_of_customer(subject, scores, group):
    found = members(rfm_segments(CUTS), subject)
    assert {*(f"rfm-{d}{n}" for d, n in zip(SCORES, scores, strict=True)), group} == found


def test_rfm_takes_the_best_monetary_score_over_currencies():
    subject = customer(2, 60, 20, revenue={"EUR": 10.0, "USD": 300.0})
    assert "rfm-m4" in members(rfm_segments(CUTS), subject)


def test_rfm_leaves_out_people_without_orders():
    assert set() == members(rfm_segments(CUTS), person(identified=True, revenue={"EUR": 10.0}))


@settings(max_examples=150)
@given(subjects())
def test_customers_have_one_score_of_each_kind_and_one_group(subject):
    """Property: a customer has one R, F, M and FM score and one group; others no group."""
    found = members(rfm_segments(CUTS), subject)
    orders = subject["state"].get("orders")
    is_customer = isinstance(orders, int) and orders >= 1
    assert (1 if is_customer else 0) == len(found & set(RFM_GROUPS))
    if is_customer:
        assert all(1 == len(found & set(keys)) for keys in SCORES.values())


# --- channels -------------------------------------------------------------------------------

CHANNEL_EXAMPLES = [
    (
        "app browser",
        person(events=[event("Screen Viewed", d, "app") for d in range(10)]),
        {"channel-app-browsers"},
    ),
    (
        "app browser who bought",
        person(orders=1, events=[event("Screen Viewed", d, "app") for d in range(10)]),
        {"channel-single-channel"},
    ),
    ("a little app time", person(events=[event("Screen Viewed", 1, "app")] * 9), set()),
    (
        "web cart abandoner",
        person(events=[event("Product Added", 2, "web")]),
        {"channel-web-cart-abandoners"},
    ),
    ("cart added an hour ago", person(events=[event("Product Added", 1 / 24, "web")]), set()),
    ("app cart", person(events=[event("Product Added", 2, "app")]), set()),
    (
        "web cart, then ordered",
        person(
            orders=1,
            events=[event("Product Added", 2, "web"), event("Order Completed", 1.9, "web")],
        ),
        {"channel-single-channel"},
    ),
    (
        "research online, buy in store",
        person(
            orders=1,
            events=[event("Product Viewed", 10, "web"), event("Order Completed", 5, "store")],
        ),
        {"channel-web-to-store", "channel-single-channel"},
    ),
    (
        "visit a store, buy in the app",
        person(
            orders=1,
            events=[event("Store Visited", 10, "store"), event("Order Completed", 8, "app")],
        ),
        {"channel-store-to-web", "channel-single-channel"},
    ),
    (
        "store visit, order a month later",
        person(
            orders=1,
            events=[event("Store Visited", 40, "store"), event("Order Completed", 8, "web")],
        ),
        {"channel-single-channel"},
    ),
    (
        "orders on two channels",
        person(
            orders=2,
            events=[event("Order Completed", 50, "web"), event("Order Completed", 8, "store")],
        ),
        {"channel-multi-channel"},
    ),
    (
        "email reader",
        person(events=[event("Email Delivered", 3, "email"), event("Email Opened", 2, "email")]),
        {"channel-email-engaged"},
    ),
    (
        "email clicker",
        person(events=[event("Email Link Clicked", 20, "email")]),
        {"channel-email-engaged"},
    ),
    (
        "email ignorer",
        person(events=[event("Email Delivered", d, "email") for d in (5, 30, 60)]),
        {"channel-email-dormant"},
    ),
    (
        "opened long ago",
        person(events=[event("Email Opened", 100, "email"), event("Email Delivered", 5, "email")]),
        {"channel-email-dormant"},
    ),
    (
        "push opt-in, never tapped",
        person(consent={"marketing": {"push": "granted"}}),
        {"channel-push-ignored"},
    ),
    (
        "push opt-in who taps",
        person(
            consent={"marketing": {"push": "granted"}},
            events=[event("Push Notification Tapped", 100, "push")],
        ),
        set(),
    ),
    ("push denied", person(consent={"marketing": {"push": "denied"}}), set()),
]


@pytest.mark.parametrize(
    ("subject", "expected"), [e[1:] for e in CHANNEL_EXAMPLES], ids=[e[0] for e in CHANNEL_EXAMPLES]
)
def test_channel_behaviour_of_each_kind_of_person(subject, expected):
    assert expected == members(channel_segments(), subject)


def test_channel_thresholds_are_written_into_the_rules():
    family = {s.key: s for s in channel_segments(min_app_events=3, cart_hours=2)}
    assert "at least 3 times" in str(family["channel-app-browsers"].rule)
    assert "within 2 hours" in str(family["channel-web-cart-abandoners"].rule)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"window_days": 0}, [("$.window_days", "out_of_range")]),
        ({"min_app_events": None}, [("$.min_app_events", "type")]),
        ({"cart_hours": -1}, [("$.cart_hours", "out_of_range")]),
        ({"cross_channel_days": 1.0}, [("$.cross_channel_days", "type")]),
        ({"dormant_days": 10**6}, [("$.dormant_days", "out_of_range")]),
    ],
)
def test_channel_segments_refuse_bad_thresholds(kwargs, expected):
    assert expected == errors(channel_segments, **kwargs)


# --- demography, geography, technography, subscriptions ---------------------------------------


def test_demographic_examples():
    family = demographic_segments()
    subject = person(
        traits={"country": "JP", "age": 29},
        channels={"app": {"events": 4}},
        consent={"marketing": {"email": "granted", "sms": "revoked", "push": "denied"}},
    )
    assert {
        "demo-country-jp",
        "demo-age-25-34",
        "demo-app-user",
        "demo-subscribed-email",
        "demo-unsubscribed-sms",
        "demo-unsubscribed-push",
    } == members(family, subject)
    assert {"demo-age-65-plus"} == members(family, person(traits={"age": 80}))
    assert set() == members(family, person(traits={"age": 17, "country": "CH"}))


def test_demographic_choices():
    family = demographic_segments(
        countries=["CH"], age_bands=[(0, 17), (18, None)], subscriptions=[]
    )
    assert ["demo-country-ch", "demo-age-0-17", "demo-age-18-plus", "demo-app-user"] == [
        s.key for s in family
    ]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"countries": "DE"}, [("$.countries", "type")]),
        ({"countries": ["de"]}, [("$.countries[0]", "invalid")]),
        ({"countries": [49]}, [("$.countries[0]", "invalid")]),
        ({"age_bands": [(18, 24, 30)]}, [("$.age_bands[0]", "type")]),
        ({"age_bands": [(30, 20)]}, [("$.age_bands[0]", "invalid")]),
        ({"age_bands": [(18, 30), (25, 40)]}, [("$.age_bands[1]", "invalid")]),
        ({"age_bands": [(65, None), (70, 80)]}, [("$.age_bands[1]", "invalid")]),
        ({"age_bands": [(-1, 10)]}, [("$.age_bands[0][0]", "out_of_range")]),
        ({"subscriptions": ["E-mail"]}, [("$.subscriptions[0]", "invalid")]),
        ({"subscriptions": None}, [("$.subscriptions", "type")]),
    ],
)
def test_demographic_segments_refuse_bad_choices(kwargs, expected):
    assert expected == errors(demographic_segments, **kwargs)


# --- batch SQL agrees ---------------------------------------------------------------------------


@settings(max_examples=8)
@given(st.lists(subjects(), min_size=1, max_size=30))
def test_batch_sql_agrees_with_real_time_for_lifecycle_and_rfm(people):
    """Property: DuckDB finds the same stages, scores and groups as the Python rules."""
    pytest.importorskip("duckdb")
    segmentation = Segmentation([*lifecycle_segments(), *rfm_segments(CUTS)])
    pairs = [(f"p{n}", subject) for n, subject in enumerate(people)]
    expected = {key: frozenset(ids) for key, ids in segmentation.evaluate_all(pairs, NOW).items()}
    schema = family_schema(currencies=["EUR", "USD", "GBP"])
    assert expected == batch_members(segmentation, schema=schema, now=NOW, subjects=pairs)
