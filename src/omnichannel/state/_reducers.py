"""Profile state as folds over a person's events, in canonical order.

Each reducer turns (its state, one event) into its next state, purely. The
built-in ones give what the domain asks for — one cart across channels,
orders and revenue, per-channel activity, a loyalty ledger, traits, consent —
and host apps register their own the same way. Because state is a fold in
canonical order (timestamp, then message id), it can always be rebuilt from
the event history, and the same events give the same state in any arrival
order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

import attrs
import pendulum

from omnichannel._time import parse_timestamp
from omnichannel.errors import ValidationError
from omnichannel.models import (
    Channel,
    Commerce,
    Consent,
    ConsentStatus,
    Event,
    EventType,
    Identity,
    LineItem,
    Money,
)
from omnichannel.models._money import sum_money

S = TypeVar("S")


class Reducer(Protocol[S]):
    """A pure fold step. ``name`` keys its value in `ProfileState.values`.

    ``step`` receives the event's identifiers (highest priority first) for
    reducers that care which identifier spoke (consent does). ``state_type``
    is what the state is (``int``, an attrs class ...): stores that keep
    snapshots write it through `omnichannel.converter`.

    .. versionadded:: 0.1.0
    """

    name: str
    #: The state's type, so a store can write it and read it back through the converter.
    state_type: Any

    def initial(self) -> S:
        """The state before any event."""
        ...

    def step(self, state: S, event: Event, identities: Sequence[Identity]) -> S:
        """The state after ``event``."""
        ...


# --- activity --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ChannelActivity:
    """How a person used one channel."""

    first_seen: pendulum.DateTime
    last_seen: pendulum.DateTime
    events: int


@attrs.frozen(kw_only=True)
class Activity:
    """When and where a person was seen.

    ``last_seen`` ignores identify calls with ``context.active == false``
    (Segment's "update traits without changing last seen").
    """

    first_seen: pendulum.DateTime | None = None
    last_seen: pendulum.DateTime | None = None
    last_channel: Channel | None = None
    events: int = 0
    channels: Mapping[str, ChannelActivity] = attrs.field(factory=dict, hash=False)
    time_zone: str | None = None
    locale: str | None = None


class ActivityReducer:
    """First and last seen, overall and per channel, with event counts."""

    name = "activity"
    state_type = Activity

    def initial(self) -> Activity:
        return Activity()

    def step(self, state: Activity, event: Event, identities: Sequence[Identity]) -> Activity:  # noqa: ARG002
        at = event.timestamp
        # Segment's context.active = false: not the person being seen (a trait update from a
        # back office, a message we sent them); it leaves last seen and the channels alone.
        passive = event.context.get("active") is False
        channels = state.channels
        if event.channel is not None and not passive:
            seen = channels.get(event.channel)
            channels = {
                **channels,
                event.channel: ChannelActivity(
                    first_seen=seen.first_seen if seen else at,
                    last_seen=at,
                    events=(seen.events if seen else 0) + 1,
                ),
            }
        zone, locale = event.context.get("timezone"), event.context.get("locale")
        return Activity(
            first_seen=state.first_seen or at,
            last_seen=state.last_seen if passive else at,
            last_channel=state.last_channel if passive or event.channel is None else event.channel,
            events=state.events + 1,
            channels=channels,
            time_zone=zone if isinstance(zone, str) else state.time_zone,
            locale=locale if isinstance(locale, str) else state.locale,
        )


# --- traits ----------------------------------------------------------------------------


class TraitsReducer:
    """Traits from identify calls, last writer wins (in canonical order)."""

    name = "traits"
    state_type: Any = Mapping[str, Any]

    def initial(self) -> Mapping[str, Any]:
        return {}

    def step(
        self,
        state: Mapping[str, Any],
        event: Event,
        identities: Sequence[Identity],  # noqa: ARG002
    ) -> Mapping[str, Any]:
        if event.type is not EventType.IDENTIFY or not event.traits:
            return state
        return {**state, **event.traits}


# --- cart ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CartLine:
    """One product in the cart, with the channels it was added on."""

    item: LineItem
    quantity: int
    channels: frozenset[str] = frozenset()
    added_at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class Cart:
    """One cart per person, whatever channel they add on, remove on or buy on."""

    lines: tuple[CartLine, ...] = ()
    updated_at: pendulum.DateTime | None = None

    @property
    def is_empty(self) -> bool:
        """Say whether nothing is in the cart."""
        return not self.lines

    @property
    def value(self) -> Money | None:
        """Price x quantity over priced lines (None if no line has a price)."""
        return sum_money(
            line.item.price * line.quantity if line.item.price else None for line in self.lines
        )

    def quantity_of(self, key: str) -> int:
        """How many of the product ``key`` are in the cart."""
        return sum(line.quantity for line in self.lines if line.item.key == key)


_ADDS = frozenset({"Product Added", "Wishlist Product Added to Cart"})


class CartReducer:
    """Adds and removals on any channel act on one cart; an order takes out what it bought."""

    name = "cart"
    state_type = Cart

    def initial(self) -> Cart:
        return Cart()

    def step(self, state: Cart, event: Event, identities: Sequence[Identity]) -> Cart:  # noqa: ARG002
        commerce = event.commerce
        if commerce is None:
            return state
        if commerce.event in _ADDS:
            lines = list(state.lines)
            for item in commerce.items:
                lines = _add(lines, item, event)
            return Cart(lines=tuple(lines), updated_at=event.timestamp)
        if commerce.event in ("Product Removed", "Order Completed"):
            lines = list(state.lines)
            for item in commerce.items:
                lines = _take(lines, item.key, item.quantity)
            return Cart(lines=tuple(lines), updated_at=event.timestamp)
        return state


def _add(lines: list[CartLine], item: LineItem, event: Event) -> list[CartLine]:
    channel = {str(event.channel)} if event.channel else set()
    for index, line in enumerate(lines):
        if line.item.key == item.key:
            lines[index] = attrs.evolve(
                line,
                item=item if item.price is not None else line.item,
                quantity=line.quantity + item.quantity,
                channels=line.channels | channel,
            )
            return lines
    if item.quantity > 0:
        lines.append(
            CartLine(
                item=item,
                quantity=item.quantity,
                channels=frozenset(channel),
                added_at=event.timestamp,
            )
        )
    return lines


def _take(lines: list[CartLine], key: str | None, quantity: int) -> list[CartLine]:
    kept = []
    for line in lines:
        if line.item.key == key and quantity > 0:
            left = line.quantity - quantity
            quantity = max(0, -left)
            if left > 0:
                kept.append(attrs.evolve(line, quantity=left))
        else:
            kept.append(line)
    return kept


# --- orders ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Order:
    """One order as the profile knows it."""

    order_id: str
    amount: Money | None  # revenue (Segment: excludes shipping and tax), else total
    total: Money | None
    at: pendulum.DateTime
    channel: str | None
    status: str  # completed, refunded, cancelled
    refunded: Money | None = None


@attrs.frozen(kw_only=True)
class Orders:
    """Orders, revenue per currency, first and last order."""

    orders: Mapping[str, Order] = attrs.field(factory=dict, hash=False)

    @property
    def count(self) -> int:
        """Orders completed and not cancelled (refunded orders still happened)."""
        return sum(1 for o in self.orders.values() if o.status != "cancelled")

    def revenue(self) -> dict[str, Money]:
        """Net revenue per currency: completed orders minus refunds, cancelled ones excluded."""
        totals: dict[str, Money] = {}
        for order in self.orders.values():
            if order.status == "cancelled" or order.amount is None:
                continue
            net = order.amount - order.refunded if order.refunded else order.amount
            totals[net.currency] = totals[net.currency] + net if net.currency in totals else net
        return totals

    def average_order_value(self) -> dict[str, Money]:
        """Net revenue per order, per currency."""
        counts: dict[str, int] = {}
        for order in self.orders.values():
            if order.status != "cancelled" and order.amount is not None:
                counts[order.amount.currency] = counts.get(order.amount.currency, 0) + 1
        return {
            currency: Money(
                amount=(total.amount / counts[currency]).quantize(Decimal("0.01")),
                currency=currency,
            )
            for currency, total in self.revenue().items()
        }

    @property
    def first_order_at(self) -> pendulum.DateTime | None:
        """When the first counted order was placed."""
        times = [o.at for o in self.orders.values() if o.status != "cancelled"]
        return min(times, default=None)

    @property
    def last_order_at(self) -> pendulum.DateTime | None:
        """When the last counted order was placed."""
        times = [o.at for o in self.orders.values() if o.status != "cancelled"]
        return max(times, default=None)


class OrdersReducer:
    """Order Completed counts once per order id; refunds and cancellations adjust it."""

    name = "orders"
    state_type = Orders

    def initial(self) -> Orders:
        return Orders()

    def step(self, state: Orders, event: Event, identities: Sequence[Identity]) -> Orders:  # noqa: ARG002
        commerce = event.commerce
        if commerce is None or commerce.event not in (
            "Order Completed",
            "Order Refunded",
            "Order Cancelled",
        ):
            return state
        order_id = commerce.order_id or event.message_id
        amount = commerce.revenue or commerce.total or commerce.subtotal or commerce.items_total
        known = state.orders.get(order_id)
        if commerce.event == "Order Completed":
            if known is not None:
                return state  # a resent order counts once
            order = Order(
                order_id=order_id,
                amount=amount,
                total=commerce.total,
                at=event.timestamp,
                channel=str(event.channel) if event.channel else None,
                status="completed",
            )
        elif known is None:
            return state  # a refund for an order this profile never saw
        elif commerce.event == "Order Cancelled":
            order = attrs.evolve(known, status="cancelled")
        else:
            order = attrs.evolve(known, status="refunded", refunded=_refunded(known, commerce))
        return Orders(orders={**state.orders, order_id: order})


def _refunded(order: Order, refund: Commerce) -> Money | None:
    """How much of the order's revenue a refund gives back, in the order's own measure.

    A refund stating revenue gives that back; one stating only a total gives
    back the same share of the order's revenue (a full refund of 118.34 total
    returns all 104.95 of revenue). Never more than the order brought in.
    """
    if order.amount is None:
        return None
    back = order.amount
    if refund.revenue is not None and refund.revenue.currency == order.amount.currency:
        back = refund.revenue
    elif (
        refund.total is not None
        and order.total is not None
        and order.total.amount > 0
        and refund.total.currency == order.total.currency
    ):
        share = min(Decimal(1), refund.total.amount / order.total.amount)
        back = Money(
            amount=(order.amount.amount * share).quantize(Decimal("0.01")),
            currency=order.amount.currency,
        )
    return back if back.amount <= order.amount.amount else order.amount


# --- loyalty ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LedgerEntry:
    """One movement of loyalty points; a redemption beyond the balance is kept but rejected."""

    at: pendulum.DateTime
    message_id: str
    points: int
    reason: str | None
    accepted: bool


#: How many ledger entries the state keeps; the events themselves are the full ledger.
LEDGER_TAIL = 20


@attrs.frozen(kw_only=True)
class Loyalty:
    """A points balance that is never negative, with the latest ledger entries.

    ``ledger`` keeps the last `LEDGER_TAIL` movements (the event history holds
    them all); ``movements`` and ``rejected`` count every one.
    """

    balance: int = 0
    ledger: tuple[LedgerEntry, ...] = ()
    movements: int = 0
    rejected: int = 0


class LoyaltyReducer:
    """``Loyalty Points Earned`` / ``Loyalty Points Redeemed`` events with a ``points`` property."""

    name = "loyalty"
    state_type = Loyalty

    def initial(self) -> Loyalty:
        return Loyalty()

    def step(self, state: Loyalty, event: Event, identities: Sequence[Identity]) -> Loyalty:  # noqa: ARG002
        if event.name not in ("Loyalty Points Earned", "Loyalty Points Redeemed"):
            return state
        points = event.properties.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            return state  # not a movement; the event is still kept in the history
        delta = points if event.name == "Loyalty Points Earned" else -points
        accepted = state.balance + delta >= 0
        reason = event.properties.get("reason")
        entry = LedgerEntry(
            at=event.timestamp,
            message_id=event.message_id,
            points=delta,
            reason=reason if isinstance(reason, str) else None,
            accepted=accepted,
        )
        return Loyalty(
            balance=state.balance + delta if accepted else state.balance,
            ledger=(*state.ledger[-(LEDGER_TAIL - 1) :], entry),
            movements=state.movements + 1,
            rejected=state.rejected + (not accepted),
        )


# --- consent ---------------------------------------------------------------------------

_CONSENT_EVENTS = {
    "Consent Granted": ConsentStatus.GRANTED,
    "Consent Denied": ConsentStatus.DENIED,
    "Consent Revoked": ConsentStatus.REVOKED,
}


@attrs.frozen(kw_only=True)
class ConsentGroup:
    """Identifiers known to be one person, and their latest answer per (purpose, channel)."""

    members: frozenset[Identity]
    answers: tuple[Consent, ...] = ()

    def with_answer(self, record: Consent) -> ConsentGroup:
        """This group with ``record`` replacing the answer for its scope.

        Two answers given at the same instant are not ordered by time: the
        stricter one (a denial or revocation) stands, whichever came first.
        """
        scope = (record.purpose, record.channel)
        kept = tuple(c for c in self.answers if (c.purpose, c.channel) != scope)
        for old in self.answers:
            if (old.purpose, old.channel) == scope and old.status_at == record.status_at:
                record = _stricter(old, record)
        return ConsentGroup(members=self.members, answers=_sorted_answers((*kept, record)))


def _sorted_answers(answers: Iterable[Consent]) -> tuple[Consent, ...]:
    return tuple(sorted(answers, key=lambda c: (c.purpose, str(c.channel))))


@attrs.frozen(kw_only=True)
class Consents:
    """The person's current consents, one per (purpose, channel) scope.

    ``groups`` keeps the answers per group of identifiers that were known to
    be one person when they answered; groups join when a link joins them, and
    then a denial or revocation on either side wins. Later answers replace
    earlier ones within a group.
    """

    groups: tuple[ConsentGroup, ...] = ()

    @property
    def records(self) -> tuple[Consent, ...]:
        """Every current answer, across groups (what Profile.consents holds)."""
        found = [record for group in self.groups for record in group.answers]
        return tuple(sorted(found, key=lambda c: (c.purpose, str(c.channel), c.status_at)))


class ConsentReducer:
    """Consent events (Granted, Denied, Revoked: purpose, channel, expires_at) and Unsubscribed."""

    name = "consent"
    state_type = Consents

    def initial(self) -> Consents:
        return Consents()

    def step(self, state: Consents, event: Event, identities: Sequence[Identity]) -> Consents:
        groups = _join_groups(state.groups, frozenset(identities))
        record = _consent_of(event)
        if record is None:
            return state if groups == state.groups else Consents(groups=groups)
        speaker = identities[0] if identities else None
        updated: list[ConsentGroup] = []
        for group in groups:
            if (speaker is not None and speaker in group.members) or (
                speaker is None and not updated
            ):
                updated.append(group.with_answer(record))
            else:
                updated.append(group)
        return Consents(groups=tuple(updated))


def _join_groups(
    groups: tuple[ConsentGroup, ...], identities: frozenset[Identity]
) -> tuple[ConsentGroup, ...]:
    touching = [g for g in groups if g.members & identities]
    if len(touching) == 1 and identities <= touching[0].members:
        return groups
    members = identities.union(*(g.members for g in touching))
    merged: dict[tuple[str, str | None], Consent] = {}
    for group in touching:
        for record in group.answers:
            scope = (record.purpose, record.channel)
            merged[scope] = _stricter(merged.get(scope), record)
    rest = tuple(g for g in groups if not g.members & identities)
    # Groups are kept in a canonical order so equal histories give equal states.
    joined = ConsentGroup(members=members, answers=_sorted_answers(merged.values()))
    return tuple(sorted((*rest, joined), key=lambda g: min(g.members)))


def _stricter(a: Consent | None, b: Consent) -> Consent:
    """When two people's answers meet, a denial or revocation wins over a grant."""
    if a is None:
        return b
    a_grants, b_grants = a.status is ConsentStatus.GRANTED, b.status is ConsentStatus.GRANTED
    if a_grants != b_grants:
        return b if a_grants else a
    return b if b.status_at >= a.status_at else a


def _consent_of(event: Event) -> Consent | None:
    if event.name == "Unsubscribed":
        return Consent(
            purpose="marketing",
            channel=event.channel or Channel.EMAIL,
            status="revoked",
            status_at=event.timestamp,
            source=event.message_id,
        )
    status = _CONSENT_EVENTS.get(event.name or "")
    if status is None:
        return None
    purpose, channel, expires = (
        event.properties.get(k) for k in ("purpose", "channel", "expires_at")
    )
    try:
        return Consent(
            purpose=purpose if isinstance(purpose, str) else "",
            channel=channel if isinstance(channel, str) else None,
            status=status,
            status_at=event.timestamp,
            revoke_at=parse_timestamp(expires) if isinstance(expires, str) else None,
            source=event.message_id,
        )
    except ValidationError:
        return None  # a malformed consent event changes nothing: never fail open


BUILT_IN: tuple[Reducer[Any], ...] = (
    ActivityReducer(),
    TraitsReducer(),
    CartReducer(),
    OrdersReducer(),
    LoyaltyReducer(),
    ConsentReducer(),
)


@attrs.frozen(kw_only=True)
class ProfileState(Generic[S]):
    """Everything the reducers computed for one person, keyed by reducer name.

    .. versionadded:: 0.1.0
    """

    values: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    last_key: tuple[pendulum.DateTime, str] | None = None

    @property
    def activity(self) -> Activity:
        """First/last seen and per-channel activity."""
        value: Activity = self.values["activity"]
        return value

    @property
    def traits(self) -> Mapping[str, Any]:
        """Traits from identify calls."""
        value: Mapping[str, Any] = self.values["traits"]
        return value

    @property
    def cart(self) -> Cart:
        """The one cart across channels."""
        value: Cart = self.values["cart"]
        return value

    @property
    def orders(self) -> Orders:
        """Orders and revenue."""
        value: Orders = self.values["orders"]
        return value

    @property
    def loyalty(self) -> Loyalty:
        """Loyalty points and ledger."""
        value: Loyalty = self.values["loyalty"]
        return value

    @property
    def consents(self) -> Consents:
        """Current consents."""
        value: Consents = self.values["consent"]
        return value
