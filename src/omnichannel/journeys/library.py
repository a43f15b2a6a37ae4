"""Ready-made journeys, with the messages they send: adapt them, or run them as they are.

Each function returns a `Journey`; `messages` returns the messages they name
(English copy, Liquid templates) and `journeys` all six. Event names follow
the Segment e-commerce spec and the synthetic retail data
(`omnichannel.datasets`).

Examples:
    >>> from omnichannel.journeys import library
    >>> sorted(j.key for j in library.journeys())  # doctest: +NORMALIZE_WHITESPACE
    ['abandoned-cart', 'birthday', 'in-store-cart', 'onboarding', 'post-purchase',
     'win-back']

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from omnichannel.journeys._model import (
    DAY,
    EXIT,
    HOUR,
    Branch,
    Journey,
    OnDate,
    OnEvent,
    OnSegment,
    Path,
    Send,
    Split,
    Trigger,
    Update,
    Wait,
    WaitFor,
    opened_last,
)
from omnichannel.personalization import Email, Message, Push, Sms
from omnichannel.rules import did, field, prop, state

__all__ = [
    "abandoned_cart",
    "birthday",
    "in_store_cart",
    "journeys",
    "messages",
    "onboarding",
    "post_purchase",
    "win_back",
]

_ORDER = Trigger(event="Order Completed")
_THIS_ORDER = prop("order_id") == field("context.order_id")
_SENDER = "shop@example.com"
_HAS_CART = state("cart_items") > 0


def abandoned_cart(*, audience: str = "retargeting", holdout: float = 0.0) -> Journey:
    """Items added on any channel and no order within an hour: e-mail, then SMS, then ads.

    The e-mail lists the cart's items; if nothing is bought within 24 hours
    an SMS follows; if still nothing, the person joins the ``audience`` for
    retargeting. A purchase on any channel, the store included, ends it at
    once (the goal); so does an emptied cart, checked before each message.
    With a ``holdout`` (a share, 0.1 for 10 %), that many of the people who
    enter get nothing, and their purchases measure what the reminders add.

    .. versionadded:: 0.1.0
    """
    held = (Split(key="holdout", paths=(Path(name="remind"),), holdout=holdout),)
    return Journey(
        key="abandoned-cart",
        name="Abandoned cart",
        entry=OnEvent(event="Product Added"),
        goal=_ORDER,
        reentry="after",
        reentry_days=1,
        steps=(
            *(held if holdout else ()),
            Wait(key="grace", seconds=HOUR),
            Branch(key="cart-left", rule=_HAS_CART, otherwise=EXIT),
            Send(key="email", message="cart-email", channels=("email",)),
            Wait(key="day", seconds=DAY),
            Branch(key="still-in-cart", rule=_HAS_CART, otherwise=EXIT),
            Send(key="sms", message="cart-sms", channels=("sms",)),
            Wait(key="last-chance", seconds=DAY),
            Update(key="retarget", audience=audience),
        ),
    )


def onboarding() -> Journey:
    """Welcome e-mail; an app nudge to those not using the app; a first-purchase offer.

    The offer goes by the best channel for the person
    (`omnichannel.personalization.rank_channels`); the first order ends it.

    .. versionadded:: 0.1.0
    """
    return Journey(
        key="onboarding",
        name="Multi-channel onboarding",
        entry=OnEvent(event="Signed Up"),
        goal=_ORDER,
        steps=(
            Send(key="welcome", message="welcome", channels=("email",)),
            Wait(key="settle", seconds=2 * DAY),
            Branch(key="uses-app", rule=did("Application Opened"), then="offer"),
            Send(key="app-nudge", message="app-nudge", channels=("email", "sms")),
            Wait(key="after-nudge", seconds=3 * DAY),
            Send(key="offer", message="first-purchase", best=True),
            Wait(key="offer-open", seconds=7 * DAY),
        ),
    )


def birthday(*, points: int = 100) -> Journey:
    """At 10:00 local time on the person's birthday: a coupon, and loyalty points.

    .. versionadded:: 0.1.0
    """
    return Journey(
        key="birthday",
        name="Birthday",
        entry=OnDate(field="traits.birthday", at="10:00"),
        reentry="always",
        steps=(
            Send(key="greeting", message="birthday", best=True),
            Update(key="gift", points=points),
        ),
    )


def win_back(*, segment: str = "rfm-at-risk", holdout: float = 0.1) -> Journey:
    """For RFM "At risk" customers: an offer, a reminder to those who did not open it.

    ``holdout`` of them (10 %) get nothing, so the offer's effect can be
    measured against them (`omnichannel.journeys.replay` reports both).

    .. versionadded:: 0.1.0
    """
    return Journey(
        key="win-back",
        name="Win-back (RFM at risk)",
        entry=OnSegment(segment=segment),
        goal=_ORDER,
        reentry="after",
        reentry_days=90,
        steps=(
            Split(key="holdout", paths=(Path(name="offer"),), holdout=holdout),
            Send(key="offer", message="win-back", best=True),
            Wait(key="look", seconds=7 * DAY),
            Branch(key="opened", rule=opened_last(), then=EXIT),
            Send(key="reminder", message="win-back-reminder", best=True),
            Wait(key="last-look", seconds=7 * DAY),
        ),
    )


def post_purchase() -> Journey:
    """After each order: confirmation, "ready for pickup", review request, support follow-up.

    Runs once per order (``concurrent``). Click-and-collect orders (a
    ``store_id`` on the order) wait for ``Order Ready for Pickup`` of that
    order and tell the person on the fastest channel, then wait for the
    pickup; others wait for ``Order Delivered``. A review request follows
    two days later, and a support follow-up a week after that.

    .. versionadded:: 0.1.0
    """
    return Journey(
        key="post-purchase",
        name="Post-purchase",
        entry=OnEvent(event="Order Completed"),
        reentry="always",
        concurrent=True,
        exit_on=(Trigger(event="Order Refunded", where=_THIS_ORDER),),
        steps=(
            Send(key="confirmation", message="order-confirmation", channels=("email",)),
            Branch(
                key="collect",
                rule=field("journey.context.store_id").exists(),
                otherwise="delivered",
            ),
            WaitFor(
                key="ready",
                event="Order Ready for Pickup",
                where=_THIS_ORDER,
                timeout=14 * DAY,
                on_timeout="delivered",
            ),
            Send(key="pickup", message="ready-for-pickup", channels=("sms", "push", "email")),
            WaitFor(
                key="picked-up",
                event="Order Picked Up",
                where=_THIS_ORDER,
                timeout=14 * DAY,
                next="review-wait",
                on_timeout="review-wait",
            ),
            WaitFor(
                key="delivered",
                event="Order Delivered",
                where=_THIS_ORDER,
                timeout=10 * DAY,
                on_timeout="review-wait",
            ),
            Wait(key="review-wait", seconds=2 * DAY),
            Send(key="review", message="review-request", channels=("email",)),
            Wait(key="support-wait", seconds=7 * DAY),
            Send(key="support", message="support-follow-up", channels=("email",)),
        ),
    )


def in_store_cart() -> Journey:
    """A person checks in at a store with items in their online cart: an SMS while there.

    .. versionadded:: 0.1.0
    """
    return Journey(
        key="in-store-cart",
        name="In-store: your cart is here",
        entry=OnEvent(event="Store Visited"),
        goal=_ORDER,
        reentry="after",
        reentry_days=1,
        steps=(
            Branch(key="has-cart", rule=_HAS_CART, otherwise=EXIT),
            Send(key="sms", message="in-store-cart", channels=("sms", "push")),
        ),
    )


def journeys() -> tuple[Journey, ...]:
    """All six ready-made journeys.

    .. versionadded:: 0.1.0
    """
    return (
        abandoned_cart(),
        onboarding(),
        birthday(),
        win_back(),
        post_purchase(),
        in_store_cart(),
    )


_FOOTER = "\n\nUnsubscribe: {{ unsubscribe_url }}"
_CART_LINES = "{% for item in context.cart %}- {{ item.quantity }} x {{ item.name }}\n{% endfor %}"


def _email(subject: str, text: str, *, marketing: bool = True) -> Email:
    return Email(subject=subject, sender=_SENDER, text=text + (_FOOTER if marketing else ""))


def messages() -> tuple[Message, ...]:
    """The messages the ready-made journeys send (keys as their send steps name them).

    .. versionadded:: 0.1.0
    """
    hello = "Hi {{ profile | first_name: 'there' }}"
    return (
        Message(
            key="cart-email",
            email=_email(
                "You left something in your cart",
                f"{hello}, your cart is waiting:\n{_CART_LINES}",
            ),
        ),
        Message(key="cart-sms", sms=Sms(body=f"{hello}, your cart is still waiting. STOP=opt out")),
        Message(
            key="welcome",
            email=_email("Welcome!", f"{hello}, welcome to the shop."),
        ),
        Message(
            key="app-nudge",
            email=_email("Get our app", f"{hello}, our app makes shopping faster."),
            sms=Sms(body=f"{hello}, get our app: shop.example/app STOP=opt out"),
        ),
        Message(
            key="first-purchase",
            email=_email("10% off your first order", f"{hello}, here is 10% off: WELCOME10"),
            sms=Sms(body=f"{hello}: 10% off your first order with WELCOME10. STOP=opt out"),
            push=Push(title="10% off", body="Your first order: WELCOME10"),
        ),
        Message(
            key="birthday",
            email=_email("Happy birthday!", f"{hello}, happy birthday! 20% off today: BDAY20"),
            sms=Sms(body="Happy birthday! 20% off today with BDAY20. STOP=opt out"),
            push=Push(title="Happy birthday!", body="20% off today with BDAY20"),
        ),
        Message(
            key="win-back",
            email=_email("We miss you", f"{hello}, 15% off your next order: BACK15"),
            sms=Sms(body=f"{hello}, we miss you: 15% off with BACK15. STOP=opt out"),
            push=Push(title="We miss you", body="15% off with BACK15"),
        ),
        Message(
            key="win-back-reminder",
            email=_email("Your 15% ends soon", f"{hello}, BACK15 ends soon."),
            sms=Sms(body="Your 15% (BACK15) ends soon. STOP=opt out"),
            push=Push(title="Ends soon", body="BACK15 ends soon"),
        ),
        Message(
            key="order-confirmation",
            transactional=True,
            purpose="transactional",
            email=_email(
                "Order {{ context.journey.context.order_id }} confirmed",
                f"{hello}, thank you for your order {{{{ context.journey.context.order_id }}}}.",
                marketing=False,
            ),
        ),
        Message(
            key="ready-for-pickup",
            transactional=True,
            purpose="transactional",
            sms=Sms(body="Your order {{ context.journey.context.order_id }} is ready for pickup."),
            push=Push(title="Ready for pickup", body="Your order is ready for pickup."),
            email=_email(
                "Ready for pickup",
                "Your order {{ context.journey.context.order_id }} is ready for pickup.",
                marketing=False,
            ),
        ),
        Message(
            key="review-request",
            email=_email("How was your order?", f"{hello}, tell us how you like it."),
        ),
        Message(
            key="support-follow-up",
            email=_email("Anything we can help with?", f"{hello}, just reply if you need help."),
        ),
        Message(
            key="in-store-cart",
            sms=Sms(body=f"{hello}! Items in your cart are in this store today. STOP=opt out"),
            push=Push(title="Your cart is here", body="Items in your cart are in this store."),
        ),
    )
