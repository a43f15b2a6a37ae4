"""Segment Spec ingest: the 20 conformance payloads, every bad input, and batches."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel import Channel, Event, EventType, FieldError, Money, ValidationError, converter
from omnichannel._time import parse_timestamp
from omnichannel.ingest import (
    MAX_BATCH_MESSAGES,
    parse_segment,
    parse_segment_batch,
)
from omnichannel.testing import segment_payloads
from support import conformance_dir, load_json, segment_samples

SAMPLES = segment_samples()
SAMPLE_IDS = [p.stem for p in SAMPLES]
SAMPLE_PAYLOADS = [load_json(p) for p in SAMPLES]

#: Every machine code the parser may use; a new one must be documented in docs/errors.md.
KNOWN_CODES = {
    "type", "required", "empty", "too_long", "too_large", "too_deep", "too_many", "invalid",
    "invalid_json", "invalid_unicode", "invalid_timestamp", "not_finite", "unknown_type",
    "unknown_currency", "out_of_range",
}  # fmt: skip

MINIMAL = {
    "type": "track",
    "event": "Signed Up",
    "userId": "u1",
    "timestamp": "2024-03-05T10:00:00Z",
}


def _sample(stem: str) -> dict[str, Any]:
    return load_json(conformance_dir("segment-spec") / f"{stem}.json")


def _errors(payload: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as excinfo:
        parse_segment(payload, **kwargs)
    return [(e.path, e.code) for e in excinfo.value.errors]


# --- conformance -----------------------------------------------------------------------


def test_all_twenty_samples_are_present():
    """The shared conformance folder holds the 20 sample payloads the issue names."""
    conformance_dir("segment-spec")
    assert 20 == len(SAMPLES)


@pytest.mark.parametrize("path", SAMPLES, ids=SAMPLE_IDS)
def test_sample_parses_with_segments_timestamp(path):
    """Each sample parses, and our skew-corrected timestamp equals the one Segment computed."""
    payload = load_json(path)
    event = parse_segment(path.read_bytes())
    assert parse_timestamp(payload["timestamp"]) == event.timestamp
    assert parse_timestamp(payload["receivedAt"]) == event.received_at
    assert payload["messageId"] == event.message_id
    assert EventType(payload["type"]) == event.type
    assert event == parse_segment(payload)


@pytest.mark.parametrize("path", SAMPLES, ids=SAMPLE_IDS)
def test_sample_events_round_trip(path):
    """A parsed sample survives the converter's JSON round trip unchanged."""
    event = parse_segment(path.read_bytes())
    assert event == converter.structure(json.loads(json.dumps(converter.unstructure(event))), Event)


def test_skew_correction_with_a_fast_device_clock():
    """Sample 19's device clock runs 95 s fast; the corrected time is receivedAt minus transit."""
    event = parse_segment(_sample("19-screen"))
    assert pendulum.datetime(2024, 3, 10, 10, 0, 0, 240000) == event.timestamp
    assert event.channel == Channel.APP
    assert "Order History" == event.name


def test_skew_correction_matches_the_spec_worked_example():
    """SPEC.md §1.3: device 2 minutes fast, sent 5 s later -> 10:00:00.300."""
    payload = {
        **MINIMAL,
        "originalTimestamp": "2024-03-05T10:02:00.000Z",
        "sentAt": "2024-03-05T10:02:05.000Z",
        "receivedAt": "2024-03-05T10:00:05.300Z",
    }
    del payload["timestamp"]
    assert pendulum.datetime(2024, 3, 5, 10, 0, 0, 300000) == parse_segment(payload).timestamp


def test_received_at_argument_stands_in_for_live_traffic():
    """Without receivedAt, the caller's received_at anchors skew correction."""
    payload = {**MINIMAL, "sentAt": "2024-03-05T10:00:10Z"}
    now = pendulum.datetime(2024, 3, 5, 9, 0, 10)
    event = parse_segment(payload, received_at=now)
    assert (pendulum.datetime(2024, 3, 5, 9, 0, 0), now) == (event.timestamp, event.received_at)


def test_timestamp_alone_is_taken_as_is():
    """A historical import with only timestamp keeps it, and received_at falls back to it."""
    event = parse_segment(MINIMAL)
    assert event.timestamp == event.received_at == pendulum.datetime(2024, 3, 5, 10)


def test_order_completed_is_typed_and_consistent():
    """Sample 16's order reads as typed money and lines, and its arithmetic holds."""
    commerce = parse_segment(_sample("16-track-order-completed")).commerce
    assert commerce is not None
    usd = lambda amount: Money(amount=amount, currency="USD")  # noqa: E731
    assert ("Order Completed", "ord_7731", "chk_5520", "WELCOME10") == (
        commerce.event,
        commerce.order_id,
        commerce.checkout_id,
        commerce.coupon,
    )
    assert (usd("104.95"), usd("118.34"), usd("104.95"), usd("4.99"), usd("8.4"), usd("10")) == (
        commerce.subtotal,
        commerce.total,
        commerce.revenue,
        commerce.shipping,
        commerce.tax,
        commerce.discount,
    )
    assert [("prd_1001", 1, Decimal("89.95")), ("prd_1044", 2, Decimal("12.5"))] == [
        (i.product_id, i.quantity, i.price.amount if i.price else None) for i in commerce.items
    ]
    assert commerce.subtotal == commerce.items_total - commerce.discount
    assert commerce.total == commerce.subtotal + commerce.shipping + commerce.tax


@pytest.mark.parametrize(
    ("stem", "items", "cart_id"),
    [
        ("07-track-product-added", 1, True),
        ("08-track-product-removed", 1, True),
        ("09-track-cart-viewed", 2, True),
        ("06-track-product-viewed", 1, False),
        ("03-track-product-list-viewed", 2, False),
    ],
)
def test_product_events_carry_line_items(stem, items, cart_id):
    """Single-product events read the top-level Product; list events read products[]."""
    commerce = parse_segment(_sample(stem)).commerce
    assert commerce is not None
    assert items == len(commerce.items)
    assert cart_id == (commerce.cart_id is not None)


def test_cart_viewed_sums_to_the_documented_total():
    """Sample 09's cart is shoe x1 (89.95) + socks x2 (12.50) = 114.95."""
    commerce = parse_segment(_sample("09-track-cart-viewed")).commerce
    assert commerce is not None
    assert Money(amount="114.95", currency="USD") == commerce.items_total


@pytest.mark.parametrize(
    ("stem", "check"),
    [
        (
            "11-alias",
            lambda e: (
                (e.previous_id, e.user_id) == ("6f0c2a4e-8d7b-4c1e-9a53-2b7e1d0c9f11", "usr_48213")
            ),
        ),
        (
            "12-identify",
            lambda e: (
                e.traits["email"] == "jordan.reyes@example.com" and e.anonymous_id is not None
            ),
        ),
        ("20-group", lambda e: e.group_id == "acct_3391" and "name" in e.traits),
        (
            "01-page-anonymous",
            lambda e: e.user_id is None and e.name == "Home" and e.channel == Channel.WEB,
        ),
        ("17-track-order-refunded", lambda e: e.anonymous_id is None and e.channel is None),
    ],
)
def test_call_type_fields(stem, check):
    """Alias, identify, group and page calls keep their type-specific fields."""
    assert check(parse_segment(_sample(stem)))


def test_legacy_ecommerce_names_become_v2():
    """v1 names map to v2 so rules and reducers see one name."""
    event = parse_segment(
        {**MINIMAL, "event": "Completed Order", "properties": {"order_id": "o1", "total": 3}}
    )
    assert "Order Completed" == event.name
    assert "Order Completed" == event.commerce.event


def test_currency_defaults_to_usd_and_is_normalised():
    """Segment assumes USD without a currency; codes are upper-cased."""
    assert (
        "USD"
        == parse_segment(
            {**MINIMAL, "event": "Order Completed", "properties": {"total": 1}}
        ).commerce.currency
    )
    assert (
        "EUR"
        == parse_segment(
            {**MINIMAL, "event": "Order Completed", "properties": {"total": 1, "currency": "eur"}}
        ).commerce.currency
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"channel": "server"}, None),
        ({"channel": "browser"}, Channel.WEB),
        ({"channel": "mobile"}, Channel.APP),
        ({"channel": "store"}, Channel.STORE),
        ({"channel": "kiosk"}, Channel("kiosk")),
        ({"context": {"channel": "call_center"}}, Channel.CALL_CENTER),
        ({"event": "Email Opened"}, Channel.EMAIL),
        ({"event": "Email Opened", "channel": "server"}, Channel.EMAIL),
        ({"event": "Push Notification Tapped"}, Channel.PUSH),
        ({"event": "SMS Delivered"}, Channel.SMS),
        ({"event": "Unsubscribed"}, Channel.EMAIL),
        ({"context": {"app": {"name": "Shop"}}}, Channel.APP),
        ({"context": {"os": {"name": "Android"}}}, Channel.APP),
        ({"context": {"device": {"type": "ios"}}}, Channel.APP),
        ({"context": {"page": {"url": "https://x"}}}, Channel.WEB),
        ({"context": {"userAgent": "Mozilla/5.0"}}, Channel.WEB),
        ({"context": {"library": {"name": "analytics.js"}}}, Channel.WEB),
        ({"context": {"library": {"name": "analytics-kotlin"}}}, Channel.APP),
        ({"context": {"library": {"name": "analytics-python"}}}, None),
    ],
)
def test_channel_mapping(changes, expected):
    """The channel is stated, else implied by the event name, else by the context."""
    assert expected == parse_segment({**MINIMAL, **changes}).channel


def test_missing_message_id_is_derived_from_content():
    """A message without messageId gets a stable id from its content, so a resend dedupes."""
    first, again = parse_segment(MINIMAL), parse_segment(json.dumps(MINIMAL))
    other = parse_segment({**MINIMAL, "event": "Other"})
    assert first.message_id == again.message_id != other.message_id


def test_integer_ids_are_stringified():
    """Numeric ids (as some libraries send) become strings; booleans do not count as ids."""
    assert "42" == parse_segment({**MINIMAL, "userId": 42}).user_id
    assert [("$.userId", "type")] == _errors({**MINIMAL, "userId": True, "anonymousId": "a"})


def test_parsing_copies_the_callers_mapping():
    """Mutating the payload afterwards does not change the event."""
    payload = copy.deepcopy({**MINIMAL, "properties": {"plan": "pro"}})
    event = parse_segment(payload)
    payload["properties"]["plan"] = "free"
    assert "pro" == event.properties["plan"]


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"type": "track", "event": "x", "timestamp": "2024-01-01T00:00:00Z"},
            [("$.userId", "required")],
        ),
        ({**MINIMAL, "userId": ""}, [("$.userId", "required")]),
        ({**MINIMAL, "event": None}, [("$.event", "required")]),
        ({**MINIMAL, "event": "  "}, [("$.event", "required")]),
        ({**MINIMAL, "event": 7}, [("$.event", "type")]),
        ({**MINIMAL, "type": "purchase"}, [("$.type", "unknown_type")]),
        ({**MINIMAL, "type": None}, [("$.type", "required")]),
        ({**MINIMAL, "type": 3}, [("$.type", "unknown_type")]),
        ({**MINIMAL, "timestamp": "last tuesday"}, [("$.timestamp", "invalid_timestamp")]),
        ({**MINIMAL, "sentAt": 1709632800}, [("$.sentAt", "type")]),
        ({**MINIMAL, "properties": []}, [("$.properties", "type")]),
        ({**MINIMAL, "context": "web"}, [("$.context", "type")]),
        ({**MINIMAL, "integrations": 1}, [("$.integrations", "type")]),
        ({**MINIMAL, "version": True}, [("$.version", "type")]),
        ({**MINIMAL, "channel": 3}, [("$.channel", "type")]),
        ({**MINIMAL, "channel": "not a channel"}, [("$.channel", "invalid")]),
        ({**MINIMAL, "messageId": "m" * 101}, [("$.messageId", "too_long")]),
        ({**MINIMAL, "userId": "a\x00b"}, [("$.userId", "invalid")]),
        (
            {"type": "alias", "userId": "u", "timestamp": "2024-01-01T00:00:00Z"},
            [("$.previousId", "required")],
        ),
        (
            {
                "type": "alias",
                "previousId": "p",
                "anonymousId": "a",
                "timestamp": "2024-01-01T00:00:00Z",
            },
            [("$.userId", "required")],
        ),
        (
            {"type": "group", "userId": "u", "timestamp": "2024-01-01T00:00:00Z"},
            [("$.groupId", "required")],
        ),
        ({"type": "identify", "userId": "u"}, [("$.timestamp", "required")]),
        ([MINIMAL], [("$", "type")]),
        ("[1, 2]", [("$", "type")]),
        ("null", [("$", "type")]),
    ],
)
def test_bad_messages_name_every_problem(payload, expected):
    """Each malformed message raises ValidationError naming the JSON path and a stable code."""
    assert expected == _errors(payload)


def test_all_problems_are_reported_at_once():
    """A message with several problems lists them all, not only the first."""
    payload = {
        "type": "track",
        "userId": 1.5,
        "timestamp": "nope",
        "properties": "x",
        "messageId": "",
    }
    assert {
        ("$.userId", "type"),
        ("$.event", "required"),
        ("$.timestamp", "invalid_timestamp"),
        ("$.properties", "type"),
    } == set(_errors(payload))


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"total": "118.34"}, [("$.properties.total", "type")]),
        ({"total": True}, [("$.properties.total", "type")]),
        ({"currency": "DOLLARS"}, [("$.properties.currency", "unknown_currency")]),
        ({"currency": 840}, [("$.properties.currency", "type")]),
        ({"products": {"product_id": "p"}}, [("$.properties.products", "type")]),
        ({"products": ["p1"]}, [("$.properties.products[0]", "type")]),
        ({"products": [{"price": "9.99"}]}, [("$.properties.products[0].price", "type")]),
        ({"products": [{"price": -1}]}, [("$.properties.products[0].price", "out_of_range")]),
        ({"products": [{"quantity": 1.5}]}, [("$.properties.products[0].quantity", "invalid")]),
        ({"products": [{"quantity": -2}]}, [("$.properties.products[0].quantity", "out_of_range")]),
        ({"products": [{"name": 5}]}, [("$.properties.products[0].name", "type")]),
        ({"products": [{"product_id": [1]}]}, [("$.properties.products[0].product_id", "type")]),
        ({"order_id": {"id": 1}}, [("$.properties.order_id", "type")]),
    ],
)
def test_bad_ecommerce_properties(properties, expected):
    """E-commerce money must be JSON numbers, products objects, quantities whole and non-negative."""
    assert expected == _errors({**MINIMAL, "event": "Order Completed", "properties": properties})


def test_whole_number_quantity_floats_are_accepted():
    """2.0 units is two units."""
    event = parse_segment(
        {**MINIMAL, "event": "Cart Viewed", "properties": {"products": [{"quantity": 2.0}]}}
    )
    assert 2 == event.commerce.items[0].quantity


def test_oversize_message_is_rejected_before_parsing():
    """Over 32 KB serialized is rejected, for text and for mappings alike."""
    big = {**MINIMAL, "properties": {"blob": "x" * (32 * 1024)}}
    assert [("$", "too_large")] == _errors(big)
    assert [("$", "too_large")] == _errors(json.dumps(big))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            '{"type":"track","event":"x","userId":"u","timestamp":"2024-01-01T00:00:00Z","properties":{"v":NaN}}',
            [("$.properties.v", "not_finite")],
        ),
        ({**MINIMAL, "properties": {"v": float("inf")}}, [("$.properties.v", "not_finite")]),
        ('{"type":"track","event":"\\ud800","userId":"u"}', [("$.event", "invalid_unicode")]),
        (
            {
                **MINIMAL,
                "context": {
                    "d": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
                },
            },
            "too_deep",
        ),
        ('{"type": "track",', [("$", "invalid_json")]),
        (42, [("$", "type")]),
    ],
)
def test_hostile_json(payload, expected):
    """NaN, Infinity, lone surrogates, deep nesting and broken JSON are validation errors."""
    found = _errors(payload)
    if isinstance(expected, str):
        assert {expected} == {code for _, code in found}
    else:
        assert expected == found


# --- batches ---------------------------------------------------------------------------


def test_batch_applies_shared_context_and_sent_at():
    """Top-level context, integrations and sentAt apply to every message; a message's own keys win."""
    batch = parse_segment_batch(
        {
            "batch": [
                {**MINIMAL, "originalTimestamp": "2024-03-05T10:00:00Z", "timestamp": None},
                {**MINIMAL, "context": {"app": {"name": "Shop"}}},
            ],
            "context": {"library": {"name": "analytics.js"}},
            "integrations": {"All": True},
            "sentAt": "2024-03-05T10:00:05Z",
        },
        received_at=pendulum.datetime(2024, 3, 5, 10, 0, 1),
    )
    first, second = batch.events
    assert (first.channel, second.channel) == (Channel.WEB, Channel.APP)
    assert pendulum.datetime(2024, 3, 5, 9, 59, 56) == first.timestamp
    assert {"library": {"name": "analytics.js"}, "app": {"name": "Shop"}} == second.context
    assert () == batch.errors


def test_batch_accepts_a_bare_list():
    """A JSON array of messages is a batch too."""
    assert 2 == len(parse_segment_batch([MINIMAL, MINIMAL]).events)


def test_bad_message_rejects_the_whole_batch_by_default():
    """One bad message means nothing from the batch is returned; paths are rooted at the batch."""
    with pytest.raises(ValidationError) as excinfo:
        parse_segment_batch({"batch": [MINIMAL, {**MINIMAL, "event": None}, "x"]})
    assert [
        ("$.batch[1].event", "required"),
        ("$.batch[2]", "type"),
    ] == [(e.path, e.code) for e in excinfo.value.errors]


def test_partial_batch_keeps_good_messages():
    """With partial=True the good messages come back beside the problems of the rest."""
    result = parse_segment_batch({"batch": [MINIMAL, {**MINIMAL, "type": "nope"}]}, partial=True)
    assert 1 == len(result.events)
    assert [("$.batch[1].type", "unknown_type")] == [(e.path, e.code) for e in result.errors]


def test_batch_limits():
    """Over 2,500 messages or 500 KB rejects the batch; a single message over 32 KB is named."""
    tiny = {"type": "page", "userId": "u", "timestamp": "2024-01-01T00:00:00Z"}
    with pytest.raises(ValidationError) as excinfo:
        parse_segment_batch({"batch": [tiny] * (MAX_BATCH_MESSAGES + 1)})
    assert [("$.batch", "too_many")] == [(e.path, e.code) for e in excinfo.value.errors]
    with pytest.raises(ValidationError) as excinfo:
        parse_segment_batch({"batch": [{**tiny, "properties": {"x": "y" * 30_000}}] * 20})
    assert [("$", "too_large")] == [(e.path, e.code) for e in excinfo.value.errors]
    result = parse_segment_batch(
        {"batch": [tiny, {**tiny, "properties": {"x": "y" * 40_000}}]}, partial=True
    )
    assert (1, [("$.batch[1]", "too_large")]) == (
        len(result.events),
        [(e.path, e.code) for e in result.errors],
    )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"messages": []}, [("$.batch", "required")]),
        ({"batch": [], "context": []}, [("$.context", "type")]),
        ({"batch": [], "sentAt": 5}, [("$.sentAt", "type")]),
    ],
)
def test_bad_batch_envelopes(payload, expected):
    """A batch needs a batch array; shared fields must have the right types."""
    with pytest.raises(ValidationError) as excinfo:
        parse_segment_batch(payload)
    assert expected == [(e.path, e.code) for e in excinfo.value.errors]


# --- properties ------------------------------------------------------------------------


@given(segment_payloads())
def test_generated_payloads_parse_and_round_trip(payload):
    """Every valid generated message parses, as a mapping and as text, to an event that round-trips."""
    event = parse_segment(payload)
    assert event == parse_segment(json.dumps(payload))
    assert event == converter.structure(converter.unstructure(event), Event)


HOSTILE = st.sampled_from(
    [
        None, True, 0, -1, 1.5, 10**40, float("nan"), float("inf"), "", " ", "\ud800", "x" * 40_000,
        [], {}, "not a date", "\x00", "2024-13-45T99:99:99Z", {1: "a"}, {(1, 2): 1}, b"bytes",
        {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}, set(),
        pendulum.datetime(2024, 1, 1), "Order Completed", "USD", -0.0, [{"price": "1"}],
    ]
)  # fmt: skip
FIELDS = st.sampled_from(
    [
        "type", "event", "userId", "anonymousId", "messageId", "timestamp", "sentAt", "receivedAt",
        "originalTimestamp", "properties", "context", "traits", "groupId", "previousId", "name",
        "channel", "integrations", "version", "category",
    ]
)  # fmt: skip
PROPERTY_KEYS = st.sampled_from(
    [
        "products",
        "total",
        "revenue",
        "currency",
        "price",
        "quantity",
        "order_id",
        "product_id",
        "name",
        "cart_id",
    ]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found.extend(_paths(sub, (*prefix, key)))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found.extend(_paths(sub, (*prefix, index)))
    return found


@st.composite
def mutated_payloads(draw: st.DrawFn) -> Any:
    """A real payload (a sample or a generated one) with a few hostile edits."""
    if SAMPLE_PAYLOADS and draw(st.booleans()):
        message = copy.deepcopy(draw(st.sampled_from(SAMPLE_PAYLOADS)))
    else:
        message = copy.deepcopy(draw(segment_payloads()))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(message)
        where = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add", "add_property"]))
        if where == ():
            if action == "replace":
                message = copy.deepcopy(draw(HOSTILE))
            continue
        *parent_path, last = where
        parent: Any = message
        for step in parent_path:
            parent = parent[step]
        if action == "replace":
            parent[last] = copy.deepcopy(draw(HOSTILE))
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(message, dict):
            message[draw(FIELDS)] = copy.deepcopy(draw(HOSTILE))
        elif isinstance(message, dict) and isinstance(message.get("properties"), dict):
            message["properties"][draw(PROPERTY_KEYS)] = copy.deepcopy(draw(HOSTILE))
    if draw(st.booleans()):
        try:
            text = json.dumps(message)
        except (TypeError, ValueError):
            return message
        if draw(st.booleans()):
            cut = draw(st.integers(0, len(text)))
            text = (
                text[:cut]
                + draw(st.sampled_from(["", "}", "\\", '"', "NaN", "\ud800"]))
                + text[cut:]
            )
        return text
    return message


@settings(max_examples=2_000)
@given(mutated_payloads())
def test_mutated_payloads_only_ever_raise_validation_error(payload):
    """2,000 hostile edits of real payloads (10,000 with ``-m slow``): an Event or a ValidationError."""
    _parse_only_ever_fails_cleanly(payload)


@pytest.mark.slow
@settings(max_examples=10_000)
@given(mutated_payloads())
def test_mutated_payloads_at_length(payload):
    _parse_only_ever_fails_cleanly(payload)


def _parse_only_ever_fails_cleanly(payload):
    """The parser returns an Event or raises ValidationError, never anything else."""
    problems: tuple[FieldError, ...] = ()
    event = None
    try:
        event = parse_segment(payload)
    except ValidationError as exc:
        problems = exc.errors
    if event is None:
        assert problems
        assert [] == [
            e for e in problems if not e.path.startswith("$") or e.code not in KNOWN_CODES
        ]
    else:
        assert event.user_id or event.anonymous_id


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({**MINIMAL, "userId": 10**1100}, [("$.user_id", "too_long")]),
        ({**MINIMAL, "type": "group", "groupId": 10**1100}, [("$.group_id", "too_long")]),
        (
            {**MINIMAL, "event": "Order Completed", "properties": {"order_id": 10**1100}},
            [("$.order_id", "too_long")],
        ),
        (
            {**MINIMAL, "event": "Product Added", "properties": {"sku": 10**1100}},
            [("$.sku", "too_long")],
        ),
    ],
)
def test_integer_ids_too_long_for_the_models_are_refused(payload, expected):
    """An integer id whose text is longer than the models allow is refused by the model's check."""
    assert expected == _errors(payload)
