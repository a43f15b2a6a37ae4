"""Item-to-item recommendations: what they learn from baskets, what they leave out, how they load."""

from __future__ import annotations

import itertools
import json
import math
import random
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import Event, ValidationError
from omnichannel.ingest import parse_segment
from omnichannel.personalization._recommend import (
    CoOccurrence,
    Recommendation,
    as_template_items,
    baskets_from_events,
    learn_cooccurrence,
)
from omnichannel.segments import subject_of
from omnichannel.state import fold

# Six orders at a grocer's. Baskets holding each item: coffee 3, filters 3, milk 3, bread 4,
# butter 2, jam 2. Pairs seen at least twice: coffee+filters 3, bread+butter 2, bread+jam 2,
# bread+milk 2. Cosine: coffee~filters 3/sqrt(3*3) = 1; bread~butter = bread~jam = 2/sqrt(4*2);
# bread~milk = 2/sqrt(4*3).
ORDERS = [
    {"coffee", "filters", "milk"},
    {"coffee", "filters"},
    {"coffee", "filters", "bread"},
    {"bread", "butter", "milk"},
    {"bread", "butter", "jam"},
    {"bread", "milk", "jam"},
]
BREAD_BUTTER = 2 / math.sqrt(8)
BREAD_MILK = 2 / math.sqrt(12)


def ranked(recs: tuple[Recommendation, ...]) -> list[tuple[str, float, tuple[str, ...]]]:
    return [(r.item_id, pytest.approx(r.score), r.because) for r in recs]


# --- the grocer's, by hand ---------------------------------------------------------------------


def test_learns_counts_and_keeps_pairs_seen_often_enough():
    """Each item counts once per basket; only pairs seen in min_support baskets are kept."""
    model = learn_cooccurrence(ORDERS)
    assert {"bread": 4, "butter": 2, "coffee": 3, "filters": 3, "jam": 2, "milk": 3} == model.counts
    assert {
        "coffee": {"filters": 3},
        "filters": {"coffee": 3},
        "bread": {"butter": 2, "jam": 2, "milk": 2},
        "butter": {"bread": 2},
        "jam": {"bread": 2},
        "milk": {"bread": 2},
    } == model.neighbours
    assert (6, "bought_together") == (model.baskets, model.kind)


def test_coffee_goes_with_filters_first():
    """The pair always bought together scores 1; ties (butter, jam) are broken by id."""
    model = learn_cooccurrence(ORDERS)
    assert [("filters", 1.0, ("coffee",))] == ranked(model.similar("coffee"))
    assert [
        ("butter", BREAD_BUTTER, ("bread",)),
        ("jam", BREAD_BUTTER, ("bread",)),
        ("milk", BREAD_MILK, ("bread",)),
    ] == ranked(model.similar("bread"))
    assert ["butter"] == [r.item_id for r in model.similar("bread", k=1)]


def test_unknown_item_has_no_neighbours():
    """A product the model never saw gets no recommendation, not an error."""
    model = learn_cooccurrence(ORDERS)
    assert () == model.similar("caviar")
    assert () == model.recommend(["caviar"])


def test_recommend_sums_over_seeds_and_says_why():
    """Items similar to several seeds add up; `because` names the seeds, strongest first."""
    model = learn_cooccurrence(ORDERS, min_support=1)
    # Filters score 1 for coffee plus 1/3 for milk, bread 1/sqrt(12) for coffee plus
    # 2/sqrt(12) for milk, butter and jam 1/sqrt(6) each for milk (butter first by id).
    assert [
        ("filters", 1 + 1 / 3, ("coffee", "milk")),
        ("bread", 3 / math.sqrt(12), ("milk", "coffee")),
        ("butter", 1 / math.sqrt(6), ("milk",)),
        ("jam", 1 / math.sqrt(6), ("milk",)),
    ] == ranked(model.recommend(["milk", "coffee"]))


def test_recommend_leaves_out_purchases_and_seeds():
    """What was bought and what is being looked at are never offered."""
    model = learn_cooccurrence(ORDERS)
    assert [
        ("filters", 1.0, ("coffee",)),
        ("jam", BREAD_BUTTER, ("bread",)),
        ("milk", BREAD_MILK, ("bread",)),
    ] == ranked(model.recommend(["coffee", "bread"], exclude=["butter"]))
    assert () == model.recommend(["coffee"], exclude={"filters"})


def test_seed_order_and_repeats_do_not_matter():
    """The same seeds in any order, repeated or not, give the same recommendations."""
    model = learn_cooccurrence(ORDERS, min_support=1)
    assert model.recommend(["milk", "coffee"]) == model.recommend(("coffee", "milk", "coffee"))


def test_oversized_and_empty_baskets_are_ignored():
    """A wholesale order beyond max_items_per_basket and an empty basket teach nothing."""
    model = learn_cooccurrence([*ORDERS, set(), {"a", "b", "c"}], max_items_per_basket=3)
    assert 7 == model.baskets
    bulk = learn_cooccurrence([*ORDERS, {"coffee", "milk", "jam", "bread"}], max_items_per_basket=3)
    assert learn_cooccurrence(ORDERS) == bulk


def test_counting_in_bulk_changes_nothing(monkeypatch):
    """However often the waiting pairs are counted, the model is the same."""
    from omnichannel.personalization import _recommend

    expected = learn_cooccurrence(ORDERS, min_support=1)
    monkeypatch.setattr(_recommend, "_BULK", 1)
    assert expected == learn_cooccurrence(iter(ORDERS), min_support=1)


def test_max_neighbours_keeps_the_best():
    """Each item keeps only its best neighbours (ties by id)."""
    model = learn_cooccurrence(ORDERS, max_neighbours=2)
    assert {"butter": 2, "jam": 2} == model.neighbours["bread"]
    assert {"bread": 2} == model.neighbours["milk"]  # milk's best neighbour is still bread


def test_template_items_are_plain_json_with_catalogue_details():
    """Templates get JSON items; with a catalogue, its details, and unknown products left out."""
    recs = learn_cooccurrence(ORDERS).recommend(["bread"])
    items = as_template_items(recs)
    assert items == json.loads(json.dumps(items))
    assert {"product_id": "butter", "score": BREAD_BUTTER, "because": ["bread"]} == items[0]
    catalogue = {"jam": {"name": "Apricot jam", "price": 3.5}, "milk": {"name": "Whole milk"}}
    assert [
        {"name": "Apricot jam", "price": 3.5, "product_id": "jam", "because": ["bread"]},
        {"name": "Whole milk", "product_id": "milk", "because": ["bread"]},
    ] == [
        {k: v for k, v in item.items() if k != "score"}
        for item in as_template_items(recs, catalogue=catalogue)
    ]


def test_repr_summarises():
    """The repr says what the model is and how big, not every count."""
    expected = "CoOccurrence(kind='bought_together', baskets=6, items=6, pairs=4)"
    assert expected == repr(learn_cooccurrence(ORDERS))


# --- JSON --------------------------------------------------------------------------------------


def test_json_form_is_versioned_and_stable():
    """The stored form names its version and lists items by id, neighbours best first."""
    document = learn_cooccurrence(ORDERS, kind="viewed_together").to_json()
    assert 1 == document["omnichannel.cooccurrence"]
    assert "viewed_together" == document["kind"]
    assert ["butter", "jam", "milk"] == list(document["neighbours"]["bread"])
    assert sorted(document["counts"]) == list(document["counts"])


def test_an_item_without_neighbours_is_an_item_left_out():
    """An empty neighbour list in a stored model changes nothing."""
    document = learn_cooccurrence(ORDERS).to_json()
    document["neighbours"] = {**document["neighbours"], "coffee": {}, "filters": {}}
    expected = CoOccurrence.from_json(document)
    del document["neighbours"]["coffee"], document["neighbours"]["filters"]
    assert expected == CoOccurrence.from_json(document)
    assert () == expected.similar("coffee")


def test_model_does_not_share_the_callers_dicts():
    """Changing the dicts a model was built from afterwards does not change the model."""
    counts = {"a": 2, "b": 2}
    neighbours = {"a": {"b": 2}, "b": {"a": 2}}
    model = CoOccurrence(kind="k", baskets=2, counts=counts, neighbours=neighbours)
    neighbours["a"]["b"] = 1
    counts["c"] = 5
    assert ({"a": 2, "b": 2}, {"a": {"b": 2}, "b": {"a": 2}}) == (model.counts, model.neighbours)


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"omnichannel.cooccurrence": 2}, '$["omnichannel.cooccurrence"]', "unsupported_version"),
        ({"extra": 1}, "$.extra", "unknown_field"),
        ({"kind": 3}, "$.kind", "type"),
        ({"kind": " "}, "$.kind", "empty"),
        ({"baskets": -1}, "$.baskets", "out_of_range"),
        ({"baskets": 1.5}, "$.baskets", "type"),
        ({"counts": []}, "$.counts", "type"),
        ({"counts": {"coffee": 0}}, "$.counts.coffee", "out_of_range"),
        ({"neighbours": {"caviar": {"coffee": 1}}}, "$.neighbours.caviar", "invalid"),
        ({"neighbours": {"bread": {"bread": 1}}}, "$.neighbours.bread.bread", "invalid"),
        ({"neighbours": {"bread": {"jam": 3}}}, "$.neighbours.bread.jam", "out_of_range"),
        ({"neighbours": {"bread": {"jam": "2"}}}, "$.neighbours.bread.jam", "type"),
        ({"neighbours": {"bread": ["jam"]}}, "$.neighbours.bread", "type"),
        ({"neighbours": None}, "$.neighbours", "type"),
    ],
)
def test_bad_documents_are_refused_with_their_path(change, path, code):
    """A stored model that is not right is refused, naming where."""
    document = learn_cooccurrence(ORDERS).to_json() | change
    if "counts" in change and isinstance(change["counts"], dict):
        document["neighbours"] = {}
    with pytest.raises(ValidationError) as info:
        CoOccurrence.from_json(document)
    assert (path, code) == (info.value.errors[0].path, info.value.errors[0].code)


@pytest.mark.parametrize(
    ("document", "path", "code"),
    [
        ([], "$", "type"),
        ({"kind": "x"}, '$["omnichannel.cooccurrence"]', "unsupported_version"),
        ({"omnichannel.cooccurrence": 1, "kind": "x"}, "$.baskets", "required"),
    ],
)
def test_documents_that_are_not_models_are_refused(document, path, code):
    """Something that is not a stored model at all is refused at its root."""
    with pytest.raises(ValidationError) as info:
        CoOccurrence.from_json(document)
    assert (path, code) == (info.value.errors[0].path, info.value.errors[0].code)


# --- properties --------------------------------------------------------------------------------

ITEMS = ["bread", "butter", "coffee", "filters", "jam", "milk", "tea", "honey"]
items = st.sampled_from(ITEMS)
baskets = st.lists(st.lists(items, max_size=6), max_size=30)


def brute_pair_counts(data: list[list[str]]) -> dict[tuple[str, str], int]:
    """Baskets holding both items, for every ordered pair of different items."""
    sets = [set(b) for b in data if b]
    return {
        (a, b): sum(1 for s in sets if a in s and b in s)
        for a, b in itertools.permutations(ITEMS, 2)
    }


@given(baskets, st.integers(1, 3))
def test_pair_counts_are_symmetric_and_match_a_brute_count(data, min_support):
    """With room for every neighbour, a->b and b->a hold the number of baskets with both."""
    model = learn_cooccurrence(data, min_support=min_support, max_neighbours=len(ITEMS))
    expected = {pair: n for pair, n in brute_pair_counts(data).items() if n >= min_support}
    actual = {(a, b): n for a, others in model.neighbours.items() for b, n in others.items()}
    assert expected == actual
    assert all(actual[b, a] == n for (a, b), n in actual.items())


@given(baskets, st.randoms(use_true_random=False))
def test_basket_order_does_not_matter(data, rnd):
    """The same baskets in another order, their items shuffled too, give the same model."""
    shuffled = [rnd.sample(basket, len(basket)) for basket in data]
    rnd.shuffle(shuffled)
    expected = learn_cooccurrence(data, max_neighbours=2)
    actual = learn_cooccurrence(shuffled, max_neighbours=2)
    assert expected == actual
    assert expected.to_json() == actual.to_json()


@given(
    baskets,
    st.lists(items, max_size=4),
    st.lists(items, max_size=4),
    st.integers(1, 10),
)
def test_recommendations_leave_out_seeds_and_exclusions_and_respect_k(data, seeds, exclude, k):
    """Never a seed or an excluded item, at most k, best first, and explained by seeds."""
    model = learn_cooccurrence(data, min_support=1)
    recs = model.recommend(seeds, exclude=exclude, k=k)
    assert len(recs) <= k
    assert not {r.item_id for r in recs} & (set(seeds) | set(exclude))
    assert [(-r.score, r.item_id) for r in recs] == sorted((-r.score, r.item_id) for r in recs)
    assert all(r.because and set(r.because) <= set(seeds) for r in recs)


@given(baskets, st.integers(1, 2), st.integers(1, 3))
def test_json_round_trip(data, min_support, max_neighbours):
    """A model written as JSON text and read back is equal and recommends the same."""
    model = learn_cooccurrence(
        data, kind="viewed_together", min_support=min_support, max_neighbours=max_neighbours
    )
    back = CoOccurrence.from_json(json.loads(json.dumps(model.to_json())))
    assert model == back
    assert model.recommend(ITEMS[:3], k=8) == back.recommend(ITEMS[:3], k=8)


@given(baskets)
def test_scores_are_cosine_similarities(data):
    """similar() scores n(a, b) / sqrt(n(a) n(b)), from 0 to 1."""
    model = learn_cooccurrence(data, min_support=1)
    pairs = brute_pair_counts(data)
    for item in model.neighbours:
        for rec in model.similar(item, k=len(ITEMS)):
            together = pairs[item, rec.item_id]
            expected = together / math.sqrt(model.counts[item] * model.counts[rec.item_id])
            assert expected == pytest.approx(rec.score)
            assert 0 < rec.score <= 1 + 1e-12


# --- events ------------------------------------------------------------------------------------

_counter = itertools.count()


def ev(minute: int, event: str, properties: dict[str, Any], *, user: str = "u1") -> Event:
    return parse_segment(
        {
            "type": "track",
            "event": event,
            "userId": user,
            "messageId": f"m{next(_counter):05d}",
            "timestamp": pendulum.datetime(2024, 3, 5).add(minutes=minute).isoformat(),
            "channel": "web",
            "properties": properties,
        }
    )


def order(order_id: str, *ids: str) -> dict[str, Any]:
    return {"order_id": order_id, "products": [{"product_id": i, "price": 1.0} for i in ids]}


def test_baskets_from_event_objects_one_per_order():
    """Each order is a basket; an order sent twice counts once; sku stands in for a missing id."""
    events = [
        ev(0, "Order Completed", order("o1", "coffee", "filters")),
        ev(1, "Order Completed", order("o1", "coffee", "filters")),
        ev(2, "Product Viewed", {"product_id": "tea"}),
        ev(3, "Order Completed", {"order_id": "o2", "products": [{"sku": "JAM-1"}, {"name": "?"}]}),
        ev(4, "Order Completed", {"order_id": "o3"}),  # no products: no basket
    ]
    assert [frozenset({"coffee", "filters"}), frozenset({"JAM-1"})] == baskets_from_events(events)


def test_baskets_from_event_objects_per_person():
    """Views group per user id, else per anonymous id (identities are not resolved here)."""
    anonymous = parse_segment(
        {
            "type": "track",
            "event": "Product Viewed",
            "anonymousId": "a1",
            "timestamp": "2024-03-05T10:00:00Z",
            "properties": {"product_id": "mug"},
        }
    )
    events = [
        ev(0, "Product Viewed", {"product_id": "tea"}),
        anonymous,
        ev(1, "Product Viewed", {"product_id": "honey"}, user="u2"),
        ev(2, "Product Viewed", {"sku": "KTL-9"}),
    ]
    assert [frozenset({"tea", "KTL-9"}), frozenset({"mug"}), frozenset({"honey"})] == (
        baskets_from_events(events, names=["Product Viewed"], by="profile")
    )


def test_baskets_from_event_dicts_per_profile_and_history():
    """Views group per person from event dicts; a subject's history is one basket."""
    events = [
        {"event": "Product Viewed", "userId": "u1", "properties": {"product_id": "tea"}},
        {"event": "Product Viewed", "anonymousId": "a9", "properties": {"product_id": "mug"}},
        {"event": "Product Viewed", "user_id": "u1", "properties": {"product_id": 1044}},
        {"event": "Product Added", "userId": "u1", "properties": {"product_id": "honey"}},
        {"event": "Order Completed", "properties": {"products": [{"product_id": "kettle"}]}},
    ]
    views = ("Product Viewed", "Product Added")
    assert [frozenset({"tea", "1044", "honey"}), frozenset({"mug"})] == baskets_from_events(
        events, names=views, by="profile"
    )
    assert [frozenset({"tea", "mug", "1044", "honey", "kettle"})] == baskets_from_events(
        events, names=[*views, "Order Completed"], by="history"
    )


def test_learning_from_events_and_recommending_for_a_real_subject():
    """Orders as Events teach the model; a subject's views seed it, its purchases are left out."""
    history = [
        ev(0, "Order Completed", order("o1", "coffee", "filters"), user="a"),
        ev(1, "Order Completed", order("o2", "coffee", "filters", "mug"), user="b"),
        ev(2, "Order Completed", order("o3", "coffee", "mug"), user="c"),
        ev(3, "Order Completed", order("o4", "tea", "mug", "honey"), user="d"),
        ev(4, "Order Completed", order("o5", "tea", "honey"), user="e"),
    ]
    model = learn_cooccurrence(baskets_from_events(history))
    mine = [
        ev(10, "Order Completed", order("o9", "filters")),
        ev(11, "Product Viewed", {"product_id": "coffee"}),
        ev(12, "Product Added", {"product_id": "tea", "quantity": 1}),
    ]
    subject = subject_of("p1", fold(mine), events=mine)
    recs = model.for_subject(subject)
    # filters (coffee's best) was bought; mug goes with coffee (2/sqrt(3*3)) and tea (1/sqrt(2*3)
    # is below min_support: only coffee+mug counts); honey goes with tea (2/sqrt(2*2)).
    assert [("honey", 1.0, ("tea",)), ("mug", 2 / 3, ("coffee",))] == ranked(recs)
    # After a purchase, what was bought can lead too (it is still not offered again).
    cross_sell = model.for_subject(
        subject, seed_events=["Order Completed"], exclude_events=["Order Completed"]
    )
    assert ["coffee"] == [r.item_id for r in cross_sell]


def test_for_subject_takes_the_latest_seeds():
    """max_seeds keeps the most recent distinct products seen."""
    model = learn_cooccurrence([["coffee", "filters"]] * 2 + [["tea", "honey"]] * 2)
    subject = {
        "events": [
            {"event": "Product Viewed", "properties": {"product_id": "coffee"}},
            {"event": "Product Viewed", "properties": {"product_id": "tea"}},
        ]
    }
    assert ["honey"] == [r.item_id for r in model.for_subject(subject, max_seeds=1)]
    assert ["filters", "honey"] == [r.item_id for r in model.for_subject(subject)]


# --- bad input ---------------------------------------------------------------------------------

MODEL = learn_cooccurrence(ORDERS)


@pytest.mark.parametrize(
    ("call", "path", "code"),
    [
        (lambda: learn_cooccurrence("coffee"), "$.baskets", "type"),
        (lambda: learn_cooccurrence(5), "$.baskets", "type"),
        (lambda: learn_cooccurrence([["a"], ["b"], ["c"], "tea"]), "$.baskets[3]", "type"),
        (lambda: learn_cooccurrence([["a", 7]]), "$.baskets[0][1]", "type"),
        (lambda: learn_cooccurrence([["a", ""]]), "$.baskets[0][1]", "empty"),
        (lambda: learn_cooccurrence([["a"], ("b", ["c"])]), "$.baskets[1][1]", "type"),
        (lambda: learn_cooccurrence([iter(["a", b"b"])]), "$.baskets[0][1]", "type"),
        (lambda: learn_cooccurrence([], min_support=0), "$.min_support", "out_of_range"),
        (lambda: learn_cooccurrence([], min_support=True), "$.min_support", "type"),
        (lambda: learn_cooccurrence([], max_neighbours=0), "$.max_neighbours", "out_of_range"),
        (
            lambda: learn_cooccurrence([], max_items_per_basket=1),
            "$.max_items_per_basket",
            "out_of_range",
        ),
        (lambda: learn_cooccurrence([], kind=""), "$.kind", "empty"),
        (lambda: MODEL.similar("coffee", k=0), "$.k", "out_of_range"),
        (lambda: MODEL.similar(3), "$.item_id", "type"),
        (lambda: MODEL.recommend("coffee"), "$.seed_items", "type"),
        (lambda: MODEL.recommend(["coffee", None]), "$.seed_items[1]", "type"),
        (lambda: MODEL.recommend(["coffee"], exclude=[""]), "$.exclude[0]", "empty"),
        (lambda: MODEL.recommend(["coffee"], k="5"), "$.k", "type"),
        (lambda: MODEL.for_subject([]), "$.subject", "type"),
        (lambda: MODEL.for_subject({"profile_id": "p"}), "$.subject.events", "required"),
        (lambda: MODEL.for_subject({"events": [{}, 3]}), "$.subject.events[1]", "type"),
        (lambda: MODEL.for_subject({"events": []}, k=0), "$.k", "out_of_range"),
        (lambda: MODEL.for_subject({"events": []}, max_seeds=0), "$.max_seeds", "out_of_range"),
        (
            lambda: MODEL.for_subject({"events": []}, seed_events="Product Viewed"),
            "$.seed_events",
            "type",
        ),
        (
            lambda: MODEL.for_subject({"events": []}, exclude_events=[1]),
            "$.exclude_events[0]",
            "type",
        ),
        (lambda: baskets_from_events([{}], by="session"), "$.by", "invalid"),
        (lambda: baskets_from_events(None), "$.events", "type"),
        (lambda: baskets_from_events([{}, "Order Completed"]), "$.events[1]", "type"),
        (
            lambda: baskets_from_events([{"event": "Order Completed"}], by="profile"),
            "$.events[0]",
            "required",
        ),
        (lambda: baskets_from_events([], names="Order Completed"), "$.names", "type"),
        (lambda: as_template_items([{"product_id": "x"}]), "$.recommendations[0]", "type"),
        (lambda: as_template_items(MODEL.similar("coffee"), catalogue=[]), "$.catalogue", "type"),
        (
            lambda: as_template_items(MODEL.similar("coffee"), catalogue={"filters": 1}),
            "$.catalogue.filters",
            "type",
        ),
    ],
)
def test_bad_input_is_refused_with_its_path(call, path, code):
    """Every entry point names the argument (or the place inside it) that is wrong."""
    with pytest.raises(ValidationError) as info:
        call()
    assert (path, code) == (info.value.errors[0].path, info.value.errors[0].code)


def test_shuffled_grocer_gives_the_same_recommendations():
    """A fixed reshuffle of the grocer's orders changes nothing (a readable instance of the property)."""
    shuffled = [set(b) for b in ORDERS]
    random.Random(4).shuffle(shuffled)
    assert learn_cooccurrence(ORDERS) == learn_cooccurrence(shuffled)
