"""Synthetic retail data: deterministic, valid Segment Spec, and rich in the behaviours we segment on."""

from __future__ import annotations

import collections
import datetime as dt
import functools
import gc
import hashlib
import json
import os
import subprocess
import sys
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest

from omnichannel import Identity, OmnichannelError, ValidationError
from omnichannel._time import parse_timestamp
from omnichannel.datasets import (
    iter_synthetic_retail,
    retail_catalogue,
    synthetic_retail,
    write_jsonl,
    write_parquet,
)
from omnichannel.ingest import MAX_MESSAGE_BYTES, parse_segment, traffic_source

COUNTRIES = {
    "US": ("USD", "America/New_York", "en-US"),
    "DE": ("EUR", "Europe/Berlin", "de-DE"),
    "GB": ("GBP", "Europe/London", "en-GB"),
    "FR": ("EUR", "Europe/Paris", "fr-FR"),
    "BR": ("BRL", "America/Sao_Paulo", "pt-BR"),
    "JP": ("JPY", "Asia/Tokyo", "ja-JP"),
    "AU": ("AUD", "Australia/Sydney", "en-AU"),
}


@functools.cache
def small() -> list[dict[str, Any]]:
    return synthetic_retail(200, 30, 11)


@functools.cache
def medium() -> list[dict[str, Any]]:
    return synthetic_retail(500, 60, 3)


def named(data: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [m for m in data if m.get("event") in names]


def wire_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # Python 3.10 reads no Z


def test_public_names_are_pinned():
    """omnichannel.datasets exports exactly its five functions, sorted."""
    import omnichannel.datasets

    assert [
        "iter_synthetic_retail",
        "retail_catalogue",
        "synthetic_retail",
        "write_jsonl",
        "write_parquet",
    ] == omnichannel.datasets.__all__


# --- determinism -----------------------------------------------------------------------


def test_same_arguments_give_the_same_messages():
    """Two runs with the same arguments are equal; another seed gives another data set."""
    first = synthetic_retail(60, 10, 5)
    assert first == synthetic_retail(60, 10, 5)
    assert first != synthetic_retail(60, 10, 6)


def test_stream_and_list_agree():
    """The streaming variant yields exactly what the list variant returns."""
    assert synthetic_retail(80, 12, 2) == list(iter_synthetic_retail(80, 12, 2))


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_left_as_found(enabled):
    """Generation pauses the cyclic collector only inside a day, and restores it as it found it."""
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        stream = iter_synthetic_retail(20, 3, 1)
        next(stream)
        assert enabled == gc.isenabled()
        list(stream)
        assert enabled == gc.isenabled()
        synthetic_retail(20, 3, 1)
        assert enabled == gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_output_does_not_depend_on_the_process():
    """Processes with different string-hash seeds produce byte-identical data sets."""
    code = (
        "import hashlib, json; from omnichannel.datasets import synthetic_retail; "
        "print(hashlib.sha256(json.dumps(synthetic_retail(40, 8, 9)).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        digests.add(out.stdout.strip())
    local = hashlib.sha256(json.dumps(synthetic_retail(40, 8, 9)).encode()).hexdigest()
    assert {local} == digests


# --- valid Segment Spec ----------------------------------------------------------------


def test_every_message_parses_with_its_own_timestamp():
    """parse_segment accepts every message, and its skew correction lands on the wire timestamp."""
    for message in small():
        event = parse_segment(message)
        assert parse_timestamp(message["timestamp"]) == event.timestamp
        assert message["messageId"] == event.message_id


def test_clock_skew_follows_segments_formula():
    """receivedAt - (sentAt - originalTimestamp) == timestamp, and some devices' clocks are off."""
    skewed = 0
    for m in small():
        received, sent = wire_time(m["receivedAt"]), wire_time(m["sentAt"])
        original, stamp = wire_time(m["originalTimestamp"]), wire_time(m["timestamp"])
        assert stamp == received - (sent - original)
        assert sent >= original
        skewed += original != stamp
    assert skewed > 100


def test_messages_are_small_and_ids_unique():
    """Every message is under Segment's 32 KB limit and every messageId is unique."""
    data = medium()
    sizes = [len(json.dumps(m, ensure_ascii=False).encode()) for m in data]
    assert max(sizes) < MAX_MESSAGE_BYTES
    ids = [m["messageId"] for m in data]
    assert len(ids) == len(set(ids))
    assert max(len(i) for i in ids) <= 100


def test_data_sets_do_not_share_message_ids():
    """Two data sets (another seed, another size) never reuse each other's message ids."""
    one = {m["messageId"] for m in synthetic_retail(30, 5, 1)}
    assert not one & {m["messageId"] for m in synthetic_retail(30, 5, 2)}
    assert not one & {m["messageId"] for m in synthetic_retail(31, 5, 1)}


def test_stream_is_in_timestamp_order_within_the_window():
    """The streaming variant yields non-decreasing timestamps, all inside [start, start + days)."""
    start = dt.datetime(2024, 3, 30, 13, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    stamps = [wire_time(m["timestamp"]) for m in iter_synthetic_retail(150, 6, 4, start=start)]
    assert sorted(stamps) == stamps
    assert start <= stamps[0]
    assert stamps[-1] < start + dt.timedelta(days=6)


def test_the_window_starts_on_2024_01_01_by_default():
    """Without ``start``, the first message is on 2024-01-01 (UTC)."""
    first = next(iter_synthetic_retail(20, 2, 1))
    assert "2024-01-01" == first["timestamp"][:10]


# --- the behaviours --------------------------------------------------------------------


def test_channels_as_the_library_reads_them():
    """Wire channels map to web, app, store; null-channel messaging events map by name."""
    pairs = collections.Counter()
    for m in small():
        pairs[(m["channel"], str(parse_segment(m).channel))] += 1
    assert {
        ("browser", "web"),
        ("mobile", "app"),
        ("store", "store"),
        ("server", "None"),
        (None, "email"),
        (None, "sms"),
        (None, "push"),
    } == set(pairs)


def test_anonymous_browsing_then_login():
    """People browse with only an anonymousId, then an identify call ties it to their userId."""
    data = medium()
    anonymous_first = set()
    seen_user: set[str] = set()
    logins = 0
    for m in data:
        anon = m["anonymousId"]
        if m["type"] == "page" and m["userId"] is None and anon not in seen_user:
            anonymous_first.add(anon)
        if m["userId"] and anon:
            seen_user.add(anon)
        if m["type"] == "identify" and m["userId"] and anon in anonymous_first:
            logins += 1
    assert logins > 50


def test_identify_traits_are_complete_and_valid():
    """Login traits carry email, names, E.164 phone, birthday, time zone, locale and country."""
    identifies = [m for m in medium() if m["type"] == "identify" and m["userId"]]
    assert len(identifies) > 100
    phones = set()
    for m in identifies:
        traits = m["traits"]
        assert {
            "email",
            "firstName",
            "lastName",
            "birthday",
            "timezone",
            "locale",
            "country",
        } <= set(traits)
        Identity(kind="email", value=traits["email"])
        assert dt.date.fromisoformat(traits["birthday"]) < dt.date(2007, 1, 1)
        assert COUNTRIES[traits["country"]][1:] == (traits["timezone"], traits["locale"])
        if "phone" in traits:
            assert traits["phone"] == Identity(kind="phone", value=traits["phone"]).value
            phones.add((m["userId"], traits["phone"]))
    assert len({phone for _, phone in phones}) == len({user for user, _ in phones}) > 50
    assert set(COUNTRIES) == {m["traits"]["country"] for m in identifies}


def test_campaign_traffic_covers_the_usual_sources():
    """Landings come from paid search, paid social, email, SMS, organic search, referral and direct."""
    groups = collections.Counter()
    campaigns = collections.Counter()
    for m in medium():
        if m["type"] == "page" and m["name"] == "Landing":
            page = m["context"]["page"]
            groups[traffic_source(url=page["url"], referrer=page["referrer"]).channel_group] += 1
            campaign = m["context"].get("campaign")
            if campaign:
                campaigns[(campaign["source"], campaign["medium"])] += 1
                assert f"utm_campaign={campaign['name']}" in page["url"]
    assert {
        "Direct", "Organic Search", "Paid Search", "Paid Social", "Email", "SMS", "Referral"
    } == set(groups)  # fmt: skip
    assert {
        ("google", "cpc"), ("facebook", "paid_social"), ("newsletter", "email"), ("sms", "sms")
    } == set(campaigns)  # fmt: skip


def test_app_sessions():
    """App sessions have context.app, a device id, iOS or Android, screens and Application Opened."""
    app = [m for m in medium() if m["channel"] == "mobile"]
    assert {"iOS", "Android"} == {m["context"]["os"]["name"] for m in app}
    assert all(m["context"]["app"]["name"] and m["context"]["device"]["id"] for m in app)
    names = collections.Counter(m.get("event") or m["type"] for m in app)
    assert names["screen"] > 500
    assert names["Application Opened"] > 100
    assert names["Application Installed"] > 10


def test_ecommerce_events_are_complete():
    """The v2 e-commerce funnel appears, and orders carry ids, money, currency and products."""
    data = medium()
    names = collections.Counter(m.get("event") for m in data)
    for name in (
        "Product Viewed", "Product Added", "Product Removed", "Cart Viewed", "Checkout Started",
        "Order Completed", "Order Refunded",
    ):  # fmt: skip
        assert names[name] > 5, name
    for order in named(data, "Order Completed"):
        props = order["properties"]
        assert {"order_id", "revenue", "total", "currency", "products"} <= set(props)
        assert props["total"] >= props["revenue"] >= 0
        for product in props["products"]:
            assert {"product_id", "sku", "name", "category", "price", "quantity"} <= set(product)
    commerce = parse_segment(named(data, "Order Completed")[0]).commerce
    assert commerce is not None
    assert commerce.items


def test_currencies_follow_the_country():
    """Each person's orders are in their country's currency."""
    country_of = {}
    for m in medium():
        if m["type"] == "identify" and m["userId"]:
            country_of[m["userId"]] = m["traits"]["country"]
    checked = 0
    for order in named(medium(), "Order Completed"):
        if order["userId"] in country_of:
            assert COUNTRIES[country_of[order["userId"]]][0] == order["properties"]["currency"]
            checked += 1
    assert checked > 100


def test_carts_cross_channels():
    """Carts filled in the app are bought on the web, and carts filled on the web in the app."""
    last_added: dict[tuple[str, str], str] = {}
    crossings = collections.Counter()
    for m in medium():
        user = m["userId"]
        if not user:
            continue
        if m.get("event") == "Product Added":
            last_added[(user, m["properties"]["product_id"])] = m["channel"]
        elif m.get("event") == "Order Completed":
            for product in m["properties"]["products"]:
                added_on = last_added.pop((user, product["product_id"]), None)
                if added_on and added_on != m["channel"]:
                    crossings[(added_on, m["channel"])] += 1
    assert crossings[("mobile", "browser")] > 3
    assert crossings[("browser", "mobile")] > 3
    assert crossings[("browser", "store")] + crossings[("mobile", "store")] > 3


def test_store_purchases_and_loyalty_points():
    """Store orders name the store and loyalty card; points are earned and redeemed in whole numbers."""
    data = medium()
    store_orders = [m for m in named(data, "Order Completed") if m["channel"] == "store"]
    assert len(store_orders) > 50
    for order in store_orders:
        props = order["properties"]
        assert props["affiliation"].startswith("Store ")
        assert props["loyalty_id"].startswith("LC")
        assert props["store_id"].startswith("st_")
    for name in ("Loyalty Points Earned", "Loyalty Points Redeemed"):
        movements = named(data, name)
        assert len(movements) > 10
        assert all(type(m["properties"]["points"]) is int for m in movements)
        assert all(m["properties"]["points"] > 0 for m in movements)


def test_click_and_collect():
    """Orders for pickup are followed, in the store, by Order Ready for Pickup and Order Picked Up."""
    data = medium()
    collect = {
        m["properties"]["order_id"]: m
        for m in named(data, "Order Completed")
        if m["properties"].get("fulfillment") == "click_and_collect"
    }
    assert len(collect) > 20
    ready = {m["properties"]["order_id"]: m for m in named(data, "Order Ready for Pickup")}
    picked = {m["properties"]["order_id"]: m for m in named(data, "Order Picked Up")}
    assert len(set(collect) & set(ready) & set(picked)) > 10
    for order_id in set(ready) & set(picked):
        order = collect[order_id]
        assert order["properties"]["store_id"] == ready[order_id]["properties"]["store_id"]
        assert order["timestamp"] < ready[order_id]["timestamp"] < picked[order_id]["timestamp"]
        assert "store" == ready[order_id]["channel"] == picked[order_id]["channel"]


def test_store_visits_by_people_with_an_online_cart():
    """Some Store Visited events come from people who left something in their online cart."""
    cart: dict[str, set[str]] = collections.defaultdict(set)
    visits = with_cart = 0
    for m in medium():
        user, event = m["userId"], m.get("event")
        if not user:
            continue
        if event == "Product Added" and m["channel"] != "store":
            cart[user].add(m["properties"]["product_id"])
        elif event == "Order Completed":
            cart[user] -= {p["product_id"] for p in m["properties"]["products"]}
        elif event == "Store Visited":
            assert "store" == m["channel"]
            assert m["properties"]["store_id"].startswith("st_")
            visits += 1
            with_cart += bool(cart[user])
    assert visits > 50
    assert with_cart > 5


def test_email_sms_and_push_engagement():
    """Email, SMS and push events come with the identifiers their channel needs."""
    data = medium()
    for name in ("Email Delivered", "Email Opened", "Email Link Clicked", "Unsubscribed"):
        found = named(data, name)
        assert found, name
        assert all(m["channel"] is None and "email" in m["context"]["traits"] for m in found)
        assert "email" == parse_segment(found[0]).channel
    sms = named(data, "SMS Delivered")
    assert len(sms) > 50
    assert all("phone" in m["context"]["traits"] for m in sms)
    for name in ("Push Notification Received", "Push Notification Tapped"):
        found = named(data, name)
        assert found, name
        assert all(len(m["context"]["device"]["token"]) == 64 for m in found)
        assert "push" == parse_segment(found[0]).channel


def test_consent_answers():
    """Consent is granted, denied and revoked for marketing, analytics and ads, per channel or not."""
    scopes = collections.Counter()
    for m in named(medium(), "Consent Granted", "Consent Denied", "Consent Revoked"):
        scopes[(m["event"], m["properties"]["purpose"], m["properties"].get("channel"))] += 1
    assert {"Consent Granted", "Consent Denied", "Consent Revoked"} == {e for e, _, _ in scopes}
    assert {"marketing", "analytics", "ads"} == {p for _, p, _ in scopes}
    assert {"email", "sms", "push", None} == {c for _, _, c in scopes}


def test_survey_answers():
    """CSAT (1-5), NPS (0-10) and CES (1-7) answers appear, each within its scale."""
    scales = {"csat": range(1, 6), "nps": range(11), "ces": range(1, 8)}
    answers = collections.defaultdict(list)
    for m in named(medium(), "Survey Answered"):
        answers[m["properties"]["survey"]].append(m["properties"]["score"])
    assert set(scales) == set(answers)
    for survey, scores in answers.items():
        assert all(score in scales[survey] for score in scores)


def test_activity_happens_in_local_daytime():
    """Web and app events mostly fall in the person's local daytime, in every country."""
    by_zone = collections.defaultdict(lambda: [0, 0])
    for m in medium():
        if m["channel"] in ("browser", "mobile"):
            zone = m["context"]["timezone"]
            local = wire_time(m["timestamp"]).astimezone(ZoneInfo(zone))
            by_zone[zone][0] += 7 <= local.hour < 24
            by_zone[zone][1] += 1
    assert {z for _, z, _ in COUNTRIES.values()} == set(by_zone)
    for zone, (day, total) in by_zone.items():
        assert day / total > 0.85, zone


def test_catalogue_is_stable_and_used():
    """200 products in 8 categories with unique ids; events carry catalogue names and prices."""
    products = retail_catalogue()
    assert (200, 8) == (len(products), len({p["category"] for p in products}))
    assert len(products) == len({p["product_id"] for p in products})
    by_id = {p["product_id"]: p for p in products}
    for m in named(small(), "Product Viewed"):
        product = by_id[m["properties"]["product_id"]]
        assert product["name"] == m["properties"]["name"]
        assert m["properties"]["price"] in product["prices"].values()
    assert retail_catalogue() == products


def test_the_library_ingests_a_data_set_without_refusing_a_merge():
    """The engine stores every message and refuses no identity link."""
    from omnichannel.clock import FixedClock
    from omnichannel.engine import Engine
    from omnichannel.store import MemoryStore

    data = synthetic_retail(60, 14, 8)
    engine = Engine(MemoryStore(), clock=FixedClock(pendulum.datetime(2024, 2, 1)))
    results = engine.ingest_many(data)
    assert not any(r.duplicate for r in results)
    refused = [
        record
        for profile_id in {r.profile_id for r in results if r.profile_id}
        if (explained := engine.explain(profile_id)) is not None
        for record in explained.decisions
        if record.outcome == "refused"
    ]
    assert [] == refused


# --- arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "path", "code"),
    [
        ({"n_profiles": 0}, "$.n_profiles", "out_of_range"),
        ({"n_profiles": "10"}, "$.n_profiles", "type"),
        ({"n_profiles": True}, "$.n_profiles", "type"),
        ({"days": 0}, "$.days", "out_of_range"),
        ({"days": 1.5}, "$.days", "type"),
        ({"seed": None}, "$.seed", "type"),
        ({"seed": 1.0}, "$.seed", "type"),
        ({"start": "2024-01-01"}, "$.start", "type"),
        ({"start": dt.datetime(2024, 1, 1)}, "$.start", "naive_datetime"),  # noqa: DTZ001 - the point
    ],
)
@pytest.mark.parametrize("function", [synthetic_retail, iter_synthetic_retail])
def test_bad_arguments_are_rejected_at_the_call(function, kwargs, path, code):
    """Bad arguments raise a ValidationError naming the argument, before anything is generated."""
    arguments = {"n_profiles": 10, "days": 3, "seed": 1, **kwargs}
    start = arguments.pop("start", None)
    with pytest.raises(ValidationError) as excinfo:
        function(arguments["n_profiles"], arguments["days"], arguments["seed"], start=start)
    assert [(path, code)] == [(e.path, e.code) for e in excinfo.value.errors]


def test_negative_seeds_are_fine():
    """Any int is a seed, negative ones included."""
    assert synthetic_retail(5, 2, -3) == synthetic_retail(5, 2, -3)


# --- files -----------------------------------------------------------------------------


def test_jsonl_round_trip(tmp_path):
    """Messages written as JSON Lines read back equal, one a line."""
    data = synthetic_retail(40, 7, 2)
    path = tmp_path / "events.jsonl"
    assert len(data) == write_jsonl(iter(data), path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert data == [json.loads(line) for line in lines]


def test_parquet_needs_pyarrow(tmp_path, monkeypatch):
    """Without pyarrow, write_parquet says how to install it."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(OmnichannelError, match="pip install pyarrow"):
        write_parquet(synthetic_retail(5, 2, 1), tmp_path / "events.parquet")


def test_parquet_round_trip(tmp_path):
    """With pyarrow, every message becomes one row whose columns read back to the message."""
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    data = synthetic_retail(40, 7, 2)
    path = tmp_path / "events.parquet"
    assert len(data) == write_parquet(data, path, batch_size=300)
    rows = pq.read_table(path).to_pylist()
    assert len(data) == len(rows)
    for message, row in zip(data, rows, strict=True):
        assert parse_timestamp(message["timestamp"]) == row["timestamp"]
        for key in ("context", "properties", "traits"):
            assert message.get(key) == (None if row[key] is None else json.loads(row[key]))
        for key in ("type", "messageId", "userId", "anonymousId", "event", "name", "channel"):
            assert message.get(key) == row[key]
        assert row["extra"] is None


def test_importing_the_module_stays_cheap():
    """Importing omnichannel.datasets loads neither pyarrow nor any I/O library."""
    code = "import sys, omnichannel.datasets; print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert [] == [m for m in ("pyarrow", "httpx", "sqlite3") if f"'{m}'" in out.stdout]
