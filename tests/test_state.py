"""Profile state that follows the person: one cart, orders, activity, loyalty, consent."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import Channel, ConsentStatus, Event, Money, ValidationError
from omnichannel.ingest import parse_segment
from omnichannel.state import ProfileState, advance, build_profile, fold, with_reducers
from omnichannel.testing import events as event_strategy

_counter = itertools.count()


def ev(
    minute: int,
    event_type: str = "track",
    *,
    channel: str | None = "web",
    user: str = "u1",
    **fields: Any,
) -> Event:
    message: dict[str, Any] = {
        "type": event_type,
        "userId": user,
        "messageId": f"m{next(_counter):05d}",
        "timestamp": pendulum.datetime(2024, 3, 5).add(minutes=minute).isoformat(),
        **fields,
    }
    if channel:
        message["channel"] = channel
    return parse_segment(message)


def product(pid: str, price: float, quantity: int = 1) -> dict[str, Any]:
    return {"product_id": pid, "price": price, "quantity": quantity}


def test_one_cart_across_channels():
    """Added in the app, added and removed on the web, bought in the store: one cart throughout."""
    history = [
        ev(0, event="Product Added", channel="app", properties=product("shoe", 89.95)),
        ev(1, event="Product Added", properties=product("socks", 12.5, 2)),
        ev(2, event="Product Added", properties=product("shoe", 89.95)),
        ev(3, event="Product Removed", properties=product("socks", 12.5, 1)),
    ]
    cart = fold(history).cart
    assert [("shoe", 2, frozenset({"app", "web"})), ("socks", 1, frozenset({"web"}))] == [
        (line.item.key, line.quantity, line.channels) for line in cart.lines
    ]
    assert Money(amount="192.40", currency="USD") == cart.value
    bought = ev(
        4,
        event="Order Completed",
        channel="store",
        properties={"order_id": "o1", "products": [product("shoe", 89.95, 2)]},
    )
    after = fold([*history, bought]).cart
    assert (["socks"], 0) == ([line.item.key for line in after.lines], after.quantity_of("shoe"))
    assert fold([]).cart.is_empty
    assert fold([]).cart.value is None


def test_removing_more_than_is_in_the_cart_empties_the_line():
    """A removal larger than the line removes it; it never goes negative."""
    history = [
        ev(0, event="Product Added", properties=product("p", 1.0)),
        ev(1, event="Product Removed", properties=product("p", 1.0, 5)),
    ]
    assert fold(history).cart.is_empty


def test_orders_count_once_and_refunds_and_cancellations_adjust():
    """An order counts once per id; a full refund nets to zero; a cancelled order is not counted."""
    history = [
        ev(0, event="Order Completed", properties={"order_id": "o1", "revenue": 100, "total": 120}),
        ev(1, event="Order Completed", properties={"order_id": "o1", "revenue": 100, "total": 120}),
        ev(
            2,
            event="Order Completed",
            properties={"order_id": "o2", "revenue": 50, "currency": "EUR"},
        ),
        ev(3, event="Order Completed", properties={"order_id": "o3", "total": 30}),
        ev(4, event="Order Refunded", properties={"order_id": "o1", "total": 60}),
        ev(5, event="Order Cancelled", properties={"order_id": "o3"}),
        ev(6, event="Order Refunded", properties={"order_id": "unknown", "total": 5}),
    ]
    orders = fold(history).orders
    assert 2 == orders.count
    assert {
        "USD": Money(amount="50.00", currency="USD"),
        "EUR": Money(amount="50", currency="EUR"),
    } == orders.revenue()
    assert {
        "USD": Money(amount="50.00", currency="USD"),
        "EUR": Money(amount="50.00", currency="EUR"),
    } == orders.average_order_value()
    start = pendulum.datetime(2024, 3, 5)
    assert (start, start.add(minutes=2)) == (orders.first_order_at, orders.last_order_at)


def test_refund_stating_revenue_gives_that_back():
    """A refund that states revenue returns that revenue, never more than the order brought."""
    history = [
        ev(0, event="Order Completed", properties={"order_id": "o1", "revenue": 100}),
        ev(1, event="Order Refunded", properties={"order_id": "o1", "revenue": 500}),
    ]
    assert Decimal(0) == fold(history).orders.revenue()["USD"].amount


def test_activity_per_channel_and_passive_identify():
    """First/last seen overall and per channel; an identify with active=false does not count as seen."""
    history = [
        ev(0, channel="app", event="Opened"),
        ev(5, channel="web", event="Viewed"),
        ev(
            9,
            "identify",
            channel="server",
            context={"active": False, "timezone": "Europe/Berlin", "locale": "de-DE"},
        ),
    ]
    activity = fold(history).activity
    start = pendulum.datetime(2024, 3, 5)
    assert (start, start.add(minutes=5), Channel.WEB, 3) == (
        activity.first_seen,
        activity.last_seen,
        activity.last_channel,
        activity.events,
    )
    assert {"app": 1, "web": 1} == {k: v.events for k, v in activity.channels.items()}
    assert ("Europe/Berlin", "de-DE") == (activity.time_zone, activity.locale)


def test_traits_last_writer_wins_in_canonical_order():
    """Identify traits merge key by key; the later identify wins whatever the arrival order."""
    first = ev(0, "identify", traits={"plan": "free", "name": "Ann"})
    second = ev(1, "identify", traits={"plan": "pro"})
    assert {"plan": "pro", "name": "Ann"} == fold([second, first]).traits


def test_loyalty_balance_is_never_negative():
    """A redemption beyond the balance is kept in the ledger but rejected."""
    history = [
        ev(0, event="Loyalty Points Earned", properties={"points": 100, "reason": "order o1"}),
        ev(1, event="Loyalty Points Redeemed", properties={"points": 150}),
        ev(2, event="Loyalty Points Redeemed", properties={"points": 40}),
        ev(3, event="Loyalty Points Earned", properties={"points": "lots"}),
    ]
    loyalty = fold(history).loyalty
    assert 60 == loyalty.balance
    assert [(100, True), (-150, False), (-40, True)] == [
        (e.points, e.accepted) for e in loyalty.ledger
    ]


def test_consent_events_and_unsubscribe():
    """Consent events set the answer per purpose and channel; Unsubscribed revokes email marketing."""
    history = [
        ev(0, event="Consent Granted", properties={"purpose": "marketing", "channel": "email"}),
        ev(
            1,
            event="Consent Granted",
            properties={
                "purpose": "marketing",
                "channel": "sms",
                "expires_at": "2025-01-01T00:00:00Z",
            },
        ),
        ev(2, event="Consent Granted", properties={"purpose": "Not A Purpose!"}),
        ev(3, event="Unsubscribed", channel=None),
    ]
    records = fold(history).consents.records
    assert [
        ("marketing", "email", ConsentStatus.REVOKED),
        ("marketing", "sms", ConsentStatus.GRANTED),
    ] == [(c.purpose, c.channel, c.status) for c in records]


def test_denial_wins_when_two_people_turn_out_to_be_one():
    """A denial given as one identity is not overridden by an earlier grant of the other when they merge."""
    denied = ev(
        0,
        event="Consent Denied",
        user="u1",
        anonymousId=None,
        properties={"purpose": "marketing", "channel": "email"},
    )
    granted = ev(
        1,
        event="Consent Granted",
        user="",
        anonymousId="a1",
        properties={"purpose": "marketing", "channel": "email"},
    )
    login = ev(2, "identify", user="u1", anonymousId="a1")
    state = fold([denied, granted, login])
    assert [ConsentStatus.DENIED] == [c.status for c in state.consents.records]
    regrant = ev(
        3,
        event="Consent Granted",
        user="u1",
        properties={"purpose": "marketing", "channel": "email"},
    )
    assert [ConsentStatus.GRANTED] == [
        c.status for c in fold([denied, granted, login, regrant]).consents.records
    ]


def test_advance_refuses_events_out_of_order():
    """advance() is the fast path for later events; an earlier one must go through fold()."""
    state = fold([ev(5, event="x")])
    with pytest.raises(ValidationError) as excinfo:
        advance(state, ev(1, event="y"), [])
    assert "out_of_order" == excinfo.value.errors[0].code


@given(st.lists(event_strategy(), max_size=8), st.randoms(use_true_random=False))
def test_state_does_not_depend_on_arrival_order(events, rnd):
    """Folding the same events in any order gives the same state."""
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert fold(events) == fold(shuffled)


@given(st.lists(event_strategy(), min_size=1, max_size=8))
def test_advance_agrees_with_fold(events):
    """Applying events one by one in canonical order equals folding them all."""
    ordered = sorted(
        {e.message_id: e for e in events}.values(), key=lambda e: (e.timestamp, e.message_id)
    )
    state = fold([])
    from omnichannel.identity import IdentityRules

    for event in ordered:
        state = advance(state, event, IdentityRules().identities(event))
    assert fold(ordered) == state


def test_build_profile_reads_zone_and_locale():
    """Time zone and locale come from traits, else from the last context; invalid ones are skipped."""
    state = fold(
        [
            ev(
                0,
                "identify",
                traits={"timezone": "Mars/Base", "locale": "!!"},
                context={"timezone": "Asia/Tokyo", "locale": "ja_jp"},
            )
        ]
    )
    profile = build_profile("p1", [], state)
    assert ("Asia/Tokyo", "ja-JP") == (profile.time_zone, profile.locale)
    assert ("UTC", None) == (
        build_profile("p2", [], fold([ev(0, event="x")])).time_zone,
        build_profile("p2", [], fold([ev(0, event="x")])).locale,
    )
    with pytest.raises(ValidationError):
        build_profile("p3", [], fold([]))


@attrs.frozen
class CountPageViews:
    """A host app's reducer: pages seen."""

    name: str = "page_views"

    def initial(self) -> int:
        return 0

    def step(self, state: int, event: Event, identities: Any) -> int:  # noqa: ARG002
        return state + (event.type.value == "page")


def test_host_reducers_run_beside_the_built_ins():
    """A host reducer's value sits in ProfileState.values under its name."""
    reducers = with_reducers(CountPageViews())
    state: ProfileState[Any] = fold(
        [ev(0, "page"), ev(1, "page"), ev(2, event="x")], reducers=reducers
    )
    assert 2 == state.values["page_views"]
    with pytest.raises(ValidationError) as excinfo:
        with_reducers(CountPageViews(name="cart"))
    assert "duplicate" == excinfo.value.errors[0].code
