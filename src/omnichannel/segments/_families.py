"""Built-in segment families: documented recipes, each a plain rule you can read and edit.

`lifecycle_segments` puts every profile in exactly one funnel stage;
`rfm_thresholds` cuts a population into recency, frequency and monetary
quintiles and `rfm_segments` scores every customer 1 to 5 on each and names
the usual groups; `channel_segments` finds channel behaviour (app browsers
who never buy, web cart abandoners, research online and buy in store ...);
`demographic_segments` gives country, age band, subscription and app-user
examples. `family_schema` is the `Schema` the batch SQL needs for all of them.

Every family is a tuple of `Segment` values: print a rule to read it, change
a threshold with the function's arguments, or replace a rule with
``attrs.evolve(segment, rule=...)``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from omnichannel.errors import ValidationError
from omnichannel.models._check import whole
from omnichannel.rules._python import as_instant
from omnichannel.rules._schema import Schema
from omnichannel.rules._tree import Rule, did, did_not, field, hours, in_segment, state, trait
from omnichannel.rules._tree import days as days_
from omnichannel.segments._segment import Segment
from omnichannel.segments._subject import subject_schema

#: The longest span a family threshold may have, in days (a hundred years).
MAX_DAYS = 36_500

#: The lifecycle stages, in funnel order: every profile is in exactly one.
LIFECYCLE_STAGES: tuple[str, ...] = (
    "lifecycle-awareness",
    "lifecycle-acquisition",
    "lifecycle-onboarding",
    "lifecycle-engagement",
    "lifecycle-at-risk",
    "lifecycle-churned",
)

#: The named RFM groups: every customer (a profile with an order) is in exactly one.
RFM_GROUPS: tuple[str, ...] = (
    "rfm-champions",
    "rfm-loyal",
    "rfm-potential-loyalist",
    "rfm-new",
    "rfm-at-risk",
    "rfm-cant-lose",
    "rfm-hibernating",
    "rfm-lost",
)

#: The named groups on the recency score (R) and the frequency-monetary score (FM): the
#: R scores and FM scores each group takes. Every one of the 25 cells has one group.
RFM_GRID: Mapping[str, tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]] = {
    "rfm-champions": (((5,), (4, 5)),),
    "rfm-loyal": (((3, 4), (4, 5)),),
    "rfm-potential-loyalist": (((4, 5), (2, 3)),),
    "rfm-new": (((4, 5), (1,)),),
    "rfm-at-risk": (((1, 2), (3, 4)),),
    "rfm-cant-lose": (((1, 2), (5,)),),
    "rfm-hibernating": (((3,), (1, 2, 3)), ((2,), (1, 2))),
    "rfm-lost": (((1,), (1, 2)),),
}

_GROUP_NAMES = {
    "rfm-champions": ("Champions", "Bought recently, buy often and spend the most."),
    "rfm-loyal": ("Loyal", "Buy often and spend well; not the most recent."),
    "rfm-potential-loyalist": (
        "Potential loyalists",
        "Recent customers with average frequency and spend.",
    ),
    "rfm-new": ("New", "Bought recently, but not often and not much yet."),
    "rfm-at-risk": ("At risk", "Used to buy often and spend well; not for a while."),
    "rfm-cant-lose": ("Can't lose them", "The best frequency and spend, but long gone."),
    "rfm-hibernating": ("Hibernating", "Low frequency and spend, last order a while ago."),
    "rfm-lost": ("Lost", "The lowest recency, frequency and spend."),
}

_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CHANNEL = re.compile(r"[a-z0-9_]{1,32}")
_SHOP = ("web", "app")
_CUSTOMER = state("orders") >= 1
_DAY_SECONDS = 86_400


def _whole(where: str, value: object, *, minimum: int = 1, maximum: int = MAX_DAYS) -> int:
    """``value`` if it is a whole number from ``minimum`` to ``maximum``, else a ValidationError."""
    return whole(where, value, minimum=minimum, maximum=maximum)


def _segment(key: str, name: str, rule: Rule, description: str, *tags: str) -> Segment:
    return Segment(key=key, name=name, rule=rule, description=description, tags=tags)


def _none_of(*keys: str) -> Rule:
    """Not in any of the segments ``keys``."""
    rules = [~in_segment(key) for key in keys]
    result = rules[0]
    for rule in rules[1:]:
        result &= rule
    return result


def _any(rules: Sequence[Rule]) -> Rule:
    result = rules[0]
    for rule in rules[1:]:
        result |= rule
    return result


# --- lifecycle -----------------------------------------------------------------------------


def lifecycle_segments(
    *, onboarding_days: int = 30, grace_days: int = 14, churned_days: int = 365
) -> tuple[Segment, ...]:
    """The funnel stages, one per profile: awareness to churned.

    - ``lifecycle-awareness``: an anonymous visitor (no identifier names a
      person) who has not ordered.
    - ``lifecycle-acquisition``: an identified lead who has not ordered.
    - ``lifecycle-onboarding``: a customer whose first order is in the last
      ``onboarding_days``.
    - ``lifecycle-engagement``: a repeat buyer on their own cadence: at least
      two orders and the next one (``state.next_order_due``, the last order
      plus their average gap) not overdue by more than ``grace_days``.
    - ``lifecycle-at-risk``: any other customer: a repeat buyer overdue by more
      than ``grace_days``, or a one-time buyer who did not come back within the
      onboarding window.
    - ``lifecycle-churned``: a customer with no order in ``churned_days``.

    The stages refer to each other (``not in segment lifecycle-churned``) so
    that every profile is in exactly one, whatever its data; the time-driven
    parts (first order in the last N days, due date passed, last order older
    than N days) move people on with no new event.

    Raises:
        ValidationError: a threshold is not a whole number of days from 1 to
            36,500 (``type``, ``out_of_range``), or ``churned_days`` is not
            more than ``onboarding_days`` (``out_of_range``).

    Examples:
        >>> stages = lifecycle_segments(churned_days=180)
        >>> [s.key for s in stages][:3]
        ['lifecycle-awareness', 'lifecycle-acquisition', 'lifecycle-onboarding']
        >>> print(stages[-1].rule)
        orders is at least 1 and last_order is older than 180 days

    .. versionadded:: 0.1.0
    """
    _whole("$.onboarding_days", onboarding_days)
    _whole("$.grace_days", grace_days)
    _whole("$.churned_days", churned_days)
    if churned_days <= onboarding_days:
        raise ValidationError.one(
            "$.churned_days", "out_of_range", "must be more than onboarding_days"
        )
    onboarding, engagement, at_risk, churned = LIFECYCLE_STAGES[2:]
    identified = state("identified") == True  # noqa: E712 - a rule, not a test
    tags = ("lifecycle",)
    made = (
        _segment(
            churned,
            "Churned",
            _CUSTOMER & state("last_order").older_than(days=churned_days),
            f"Customers with no order in the last {churned_days} days.",
            *tags,
        ),
        _segment(
            onboarding,
            "Onboarding",
            _CUSTOMER & state("first_order").within_last(days=onboarding_days) & _none_of(churned),
            f"New customers: their first order is in the last {onboarding_days} days.",
            *tags,
        ),
        _segment(
            engagement,
            "Engagement",
            (state("orders") >= 2)
            & ~state("next_order_due").older_than(days=grace_days)
            & _none_of(churned, onboarding),
            "Repeat buyers ordering on their own cadence "
            f"(not more than {grace_days} days past their next expected order).",
            *tags,
        ),
        _segment(
            at_risk,
            "At risk",
            _CUSTOMER & _none_of(churned, onboarding, engagement),
            "Customers past their usual time to order again: repeat buyers overdue by "
            f"more than {grace_days} days, one-time buyers who did not come back within "
            f"{onboarding_days} days.",
            *tags,
        ),
        _segment(
            "lifecycle-acquisition",
            "Acquisition",
            ~_CUSTOMER & identified,
            "Identified leads (an email address, a user id ...) who have not ordered.",
            *tags,
        ),
        _segment(
            "lifecycle-awareness",
            "Awareness",
            ~_CUSTOMER & ~identified,
            "Anonymous visitors who have not ordered.",
            *tags,
        ),
    )
    by_key = {s.key: s for s in made}
    return tuple(by_key[key] for key in LIFECYCLE_STAGES)


# --- RFM -------------------------------------------------------------------------------


def _cuts(where: str, value: Any, *, whole: bool, maximum: int = 10**9) -> tuple[Any, ...]:
    """Four non-decreasing cut points (whole numbers >= 1, or numbers >= 0)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValidationError.one(where, "type", "must be four cut points")
    items = tuple(value)
    if len(items) != 4:
        raise ValidationError.one(where, "invalid", "must be four cut points")
    for n, item in enumerate(items):
        at = f"{where}[{n}]"
        if whole:
            _whole(at, item, maximum=maximum)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ValidationError.one(at, "type", "must be a number")
        elif not math.isfinite(item) or item < 0:
            raise ValidationError.one(at, "out_of_range", "must be a finite number >= 0")
    if any(b < a for a, b in itertools.pairwise(items)):
        raise ValidationError.one(where, "invalid", "cut points must not decrease")
    return items


def _recency(value: Iterable[Any]) -> tuple[int, int, int, int]:
    return _cuts("$.recency_days", value, whole=True, maximum=MAX_DAYS)


def _frequency(value: Iterable[Any]) -> tuple[int, int, int, int]:
    return _cuts("$.frequency", value, whole=True)


def _monetary(value: Any) -> dict[str, tuple[float, float, float, float]]:
    if not isinstance(value, Mapping) or not value:
        raise ValidationError.one(
            "$.monetary", "type", "must map at least one currency to four cut points"
        )
    found: dict[str, tuple[float, float, float, float]] = {}
    for currency, cuts in value.items():
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise ValidationError.one(
                "$.monetary", "invalid", f"{currency!r} is not a currency code like EUR"
            )
        items = _cuts(f"$.monetary.{currency}", cuts, whole=False)
        found[currency] = tuple(float(x) for x in items)  # type: ignore[assignment]
    return found


@attrs.frozen(kw_only=True)
class RFMThresholds:
    """Quintile cut points for RFM scores (from `rfm_thresholds`, or your own).

    ``recency_days`` ``(d5, d4, d3, d2)``: R is 5 when the last order is in
    the last ``d5`` days, 4 in the last ``d4`` days (but not ``d5``) ... and 1
    when it is older than ``d2`` days. ``frequency`` ``(q1, q2, q3, q4)``: F
    is 1 for at most ``q1`` orders, 2 for more than ``q1`` and at most ``q2``
    ... and 5 for more than ``q4``. ``monetary`` maps a currency to cut points
    on ``state.revenue.<currency>`` read the same way; a customer with revenue
    in several currencies gets the highest M. Cut points must not decrease (two
    equal ones leave the score between them empty).

    Raises:
        ValidationError: a cut point that is not a whole number of days or
            orders (``type``, ``out_of_range``), a negative or infinite amount,
            not four cut points or decreasing ones (``invalid``), a currency
            that is not three capital letters (``invalid``).

    Examples:
        >>> RFMThresholds(
        ...     recency_days=(14, 30, 60, 120),
        ...     frequency=(1, 2, 3, 5),
        ...     monetary={"EUR": (50, 100, 200, 400)},
        ... ).monetary["EUR"]
        (50.0, 100.0, 200.0, 400.0)

    .. versionadded:: 0.1.0
    """

    recency_days: tuple[int, int, int, int] = attrs.field(converter=_recency)
    frequency: tuple[int, int, int, int] = attrs.field(converter=_frequency)
    monetary: Mapping[str, tuple[float, float, float, float]] = attrs.field(
        converter=_monetary, hash=False
    )


def _quintiles(values: list[float]) -> list[float]:
    """The 20th, 40th, 60th and 80th percentiles of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return [ordered[max(0, math.ceil(k * len(ordered) / 5) - 1)] for k in range(1, 5)]


def _rising(cuts: Iterable[int]) -> tuple[int, int, int, int]:
    """Whole-number cut points made strictly increasing (ties pushed up by one)."""
    found: list[int] = []
    for cut in cuts:
        found.append(max(cut, found[-1] + 1) if found else cut)
    return tuple(found)  # type: ignore[return-value]


def _documents(
    subjects: Iterable[tuple[str, Mapping[str, Any]]] | Iterable[Mapping[str, Any]],
) -> Iterable[Mapping[str, Any]]:
    for n, item in enumerate(subjects):
        document = item[1] if isinstance(item, tuple) and len(item) == 2 else item
        if not isinstance(document, Mapping):
            raise ValidationError.one(
                f"$.subjects[{n}]", "type", "must be a subject or a (profile id, subject) pair"
            )
        yield document


def rfm_thresholds(
    subjects: Iterable[tuple[str, Mapping[str, Any]]] | Iterable[Mapping[str, Any]],
    now: dt.datetime,
    *,
    currencies: Iterable[str] | None = None,
) -> RFMThresholds:
    """The RFM quintile cut points of a population of subjects, at ``now``.

    ``subjects`` are subject documents, or ``(profile id, subject)`` pairs
    as ``Engine.subjects()`` gives them (events are not needed: pass
    ``engine.subjects(events=False)``). Customers are the subjects with an
    order (``state.orders`` at least 1 and a ``state.last_order``); recency is
    the days since their last order, frequency their order count, monetary
    their ``state.revenue.<currency>`` for each of ``currencies`` (default:
    every currency a customer has revenue in). Cut points are the 20th, 40th,
    60th and 80th percentiles (nearest rank); recency days are rounded up to
    whole days, and recency and frequency cut points, whole numbers, are made
    strictly increasing (with most customers on one order, the frequency
    quintiles would otherwise tie and leave scores empty).

    Raises:
        ValidationError: ``now`` is naive (``invalid``); no subject has an
            order (``$.subjects``, ``empty``); a currency is not a code like
            ``EUR`` (``invalid``) or no customer has revenue in it, or there is
            no currency at all (``empty``).

    Examples:
        >>> import datetime as dt
        >>> now = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
        >>> people = [
        ...     {
        ...         "state": {
        ...             "orders": n,
        ...             "last_order": now - dt.timedelta(days=10 * n),
        ...             "revenue": {"EUR": 40.0 * n},
        ...         }
        ...     }
        ...     for n in range(1, 11)
        ... ]
        >>> cuts = rfm_thresholds(people, now)
        >>> cuts.recency_days, cuts.frequency, cuts.monetary["EUR"]
        ((20, 40, 60, 80), (2, 4, 6, 8), (80.0, 160.0, 240.0, 320.0))

    .. versionadded:: 0.1.0
    """
    moment: Any = now  # checked: callers may pass anything
    if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
        raise ValidationError.one("$.now", "invalid", "must be a timezone-aware datetime")
    wanted: list[str] | None = None
    if currencies is not None:
        if isinstance(currencies, str):
            currencies = [currencies]
        wanted = []
        code: Any
        for n, code in enumerate(currencies):
            if not isinstance(code, str) or not _CURRENCY.fullmatch(code.upper()):
                raise ValidationError.one(
                    f"$.currencies[{n}]", "invalid", "must be a currency code like EUR"
                )
            wanted.append(code.upper())
    recency: list[float] = []
    frequency: list[float] = []
    money: dict[str, list[float]] = {}
    for document in _documents(subjects):
        facts = document.get("state")
        if not isinstance(facts, Mapping):
            continue
        orders, last = facts.get("orders"), as_instant(facts.get("last_order"))
        if isinstance(orders, bool) or not isinstance(orders, int) or orders < 1 or last is None:
            continue
        recency.append(max(0.0, (now - last).total_seconds() / _DAY_SECONDS))
        frequency.append(orders)
        revenue = facts.get("revenue")
        for currency, amount in (revenue if isinstance(revenue, Mapping) else {}).items():
            if (
                isinstance(currency, str)
                and _CURRENCY.fullmatch(currency)
                and isinstance(amount, (int, float))
                and not isinstance(amount, bool)
                and math.isfinite(amount)
            ):
                money.setdefault(currency, []).append(max(0.0, float(amount)))
    if not recency:
        raise ValidationError.one(
            "$.subjects", "empty", "no subject has an order: RFM cut points need customers"
        )
    for n, currency in enumerate(wanted or ()):
        if currency not in money:
            raise ValidationError.one(
                f"$.currencies[{n}]", "empty", f"no customer has revenue in {currency}"
            )
    chosen = wanted if wanted is not None else sorted(money)
    if not chosen:
        raise ValidationError.one("$.currencies", "empty", "no currency to score spend in")
    return RFMThresholds(
        recency_days=_rising(max(1, math.ceil(d)) for d in _quintiles(recency)),
        frequency=_rising(int(q) for q in _quintiles(frequency)),
        monetary={c: tuple(_quintiles(money[c])) for c in chosen},
    )


def _rfm_key(dimension: str, score: int) -> str:
    return f"rfm-{dimension}{score}"


def _recency_rules(cuts: tuple[int, int, int, int]) -> list[Rule]:
    """R5 first: the last order in the last d5 days, ... R1: older than d2 days."""
    within = [state("last_order").within_last(days=d) for d in cuts]
    return [
        within[0],
        within[1] & ~within[0],
        within[2] & ~within[1],
        within[3] & ~within[2],
        _CUSTOMER & ~within[3],
    ]


def _frequency_rules(cuts: tuple[int, int, int, int]) -> list[Rule]:
    """F1 first: at most q1 orders, ... F5: more than q4 orders."""
    orders = state("orders")
    rules: list[Rule] = [_CUSTOMER & (orders <= cuts[0])]
    rules += [(orders > low) & (orders <= high) for low, high in itertools.pairwise(cuts)]
    return [*rules, orders > cuts[3]]


def _monetary_rules(cuts: Mapping[str, tuple[float, float, float, float]]) -> list[Rule]:
    """M1 first: revenue at most the first cut point in every currency, ... M5."""

    def above(k: int) -> Rule:
        return _any([state(f"revenue.{c}") > _number(points[k]) for c, points in cuts.items()])

    rules: list[Rule] = [_CUSTOMER & ~above(0)]
    rules += [above(k) & ~above(k + 1) for k in range(3)]
    return [*rules, above(3)]


def _number(value: float) -> int | float:
    """A whole amount as an int (it prints as ``120``, not ``120.0``)."""
    return int(value) if float(value).is_integer() else value


def _fm_rule(score: int) -> Rule:
    """The customers whose F and M average to ``score`` (halves round up)."""
    parts: list[Rule] = []
    for f in range(5, 0, -1):
        ms = [m for m in range(1, 6) if (f + m + 1) // 2 == score]
        if ms:
            parts.append(
                in_segment(_rfm_key("f", f)) & _any([in_segment(_rfm_key("m", m)) for m in ms])
            )
    return _any(parts)


def _group_rule(cells: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]) -> Rule:
    return _any(
        [
            _any([in_segment(_rfm_key("r", r)) for r in rs])
            & _any([in_segment(_rfm_key("fm", fm)) for fm in fms])
            for rs, fms in cells
        ]
    )


def rfm_segments(thresholds: RFMThresholds) -> tuple[Segment, ...]:
    """RFM scores 1-5 for every customer, and the eight named groups.

    Scores, each a plain comparison (see `RFMThresholds`): ``rfm-r1`` to
    ``rfm-r5`` on ``state.last_order``, ``rfm-f1`` to ``rfm-f5`` on
    ``state.orders``, ``rfm-m1`` to ``rfm-m5`` on ``state.revenue.<currency>``,
    and ``rfm-fm1`` to ``rfm-fm5``, the average of F and M (halves round up).
    Groups, on R and FM (`RFM_GRID`): champions (R 5, FM 4-5), loyal (R 3-4,
    FM 4-5), potential loyalists (R 4-5, FM 2-3), new (R 4-5, FM 1), at risk
    (R 1-2, FM 3-4), can't lose them (R 1-2, FM 5), hibernating (R 3 with FM
    1-3, R 2 with FM 1-2) and lost (R 1, FM 1-2). Every customer has exactly
    one score of each kind and is in exactly one group; other profiles are in
    none. Recency scores move with time alone.

    Raises:
        ValidationError: ``thresholds`` is not an `RFMThresholds` (``type``).

    Examples:
        >>> cuts = RFMThresholds(
        ...     recency_days=(14, 30, 60, 120),
        ...     frequency=(1, 2, 3, 5),
        ...     monetary={"EUR": (50, 100, 200, 400)},
        ... )
        >>> family = {s.key: s for s in rfm_segments(cuts)}
        >>> print(family["rfm-r4"].rule)
        last_order is in the last 30 days and not (last_order is in the last 14 days)
        >>> print(family["rfm-champions"].rule)
        is in segment rfm-r5 and (is in segment rfm-fm4 or is in segment rfm-fm5)

    .. versionadded:: 0.1.0
    """
    if not isinstance(thresholds, RFMThresholds):
        raise ValidationError.one("$.thresholds", "type", "must be RFMThresholds")
    made: list[Segment] = []
    dimensions = (
        ("r", "Recency", _recency_rules(thresholds.recency_days)[::-1]),
        ("f", "Frequency", _frequency_rules(thresholds.frequency)),
        ("m", "Monetary", _monetary_rules(thresholds.monetary)),
    )
    for letter, title, rules in dimensions:
        for score, rule in enumerate(rules, start=1):
            made.append(
                _segment(
                    _rfm_key(letter, score),
                    f"{title} score {score}",
                    rule,
                    f"Customers whose {title.lower()} quintile score is {score} (5 is best).",
                    "rfm",
                    "rfm-score",
                )
            )
    made.extend(
        _segment(
            _rfm_key("fm", score),
            f"Frequency-monetary score {score}",
            _fm_rule(score),
            f"Customers whose F and M scores average {score} (halves round up).",
            "rfm",
            "rfm-score",
        )
        for score in range(1, 6)
    )
    for key in RFM_GROUPS:
        name, description = _GROUP_NAMES[key]
        made.append(_segment(key, name, _group_rule(RFM_GRID[key]), description, "rfm"))
    return tuple(made)


# --- channels --------------------------------------------------------------------------


def channel_segments(
    *,
    window_days: int = 30,
    min_app_events: int = 10,
    cart_hours: int = 24,
    cross_channel_days: int = 14,
    dormant_days: int = 90,
) -> tuple[Segment, ...]:
    """Channel behaviour: who browses where, buys where, reads what.

    - ``channel-app-browsers``: at least ``min_app_events`` events in the app
      in the last ``window_days``, and never an order (anywhere).
    - ``channel-web-cart-abandoners``: added a product on the web in the
      last ``window_days`` and did not order within ``cart_hours`` after.
    - ``channel-web-to-store``: viewed a product on the web or in the app in
      the last ``window_days``, then ordered in a store within
      ``cross_channel_days`` (research online, purchase offline).
    - ``channel-store-to-web``: visited a store in the last ``window_days``,
      then ordered on the web or in the app within ``cross_channel_days``.
    - ``channel-multi-channel`` and ``channel-single-channel``: customers who
      have ordered on two or more channels, and all other customers.
    - ``channel-email-engaged``: opened or clicked an email in the last
      ``window_days``.
    - ``channel-email-dormant``: received an email in the last
      ``dormant_days`` but opened and clicked none in that time.
    - ``channel-push-ignored``: opted in to marketing push and never tapped a
      push notification.

    Raises:
        ValidationError: a threshold is not a whole number from 1 (``type``,
            ``out_of_range``).

    Examples:
        >>> family = {s.key: s for s in channel_segments()}
        >>> print(family["channel-email-engaged"].rule)
        did Email Opened in the last 30 days or did Email Link Clicked in the last 30 days

    .. versionadded:: 0.1.0
    """
    _whole("$.window_days", window_days)
    _whole("$.min_app_events", min_app_events, maximum=10**6)
    _whole("$.cart_hours", cart_hours, maximum=MAX_DAYS * 24)
    _whole("$.cross_channel_days", cross_channel_days)
    _whole("$.dormant_days", dormant_days)
    channel = field("channel")
    ordered = did("Order Completed")
    tags = ("channel",)
    multi = "channel-multi-channel"
    return (
        _segment(
            "channel-app-browsers",
            "App browsers who never buy",
            did(None).where(channel == "app").at_least(min_app_events).within(days=window_days)
            & (state("orders") == 0),
            f"Spent time in the app ({min_app_events}+ events in {window_days} days) "
            "but never ordered.",
            *tags,
        ),
        _segment(
            "channel-web-cart-abandoners",
            "Web cart abandoners",
            did("Product Added")
            .where(channel == "web")
            .within(days=window_days)
            .not_followed_by("Order Completed", within=hours(cart_hours)),
            f"Added to the cart on the web and did not order within {cart_hours} hours.",
            *tags,
        ),
        _segment(
            "channel-web-to-store",
            "Browse online, buy in store",
            did("Product Viewed")
            .where(channel.is_in(_SHOP))
            .within(days=window_days)
            .followed_by(ordered.where(channel == "store"), within=days_(cross_channel_days)),
            f"Viewed products online, then ordered in a store within {cross_channel_days} days.",
            *tags,
        ),
        _segment(
            "channel-store-to-web",
            "Visit a store, buy online",
            did("Store Visited")
            .within(days=window_days)
            .followed_by(ordered.where(channel.is_in(_SHOP)), within=days_(cross_channel_days)),
            f"Visited a store, then ordered online within {cross_channel_days} days.",
            *tags,
        ),
        _segment(
            multi,
            "Multi-channel customers",
            ordered.count_distinct("channel") >= 2,
            "Customers who have ordered on two or more channels.",
            *tags,
        ),
        _segment(
            "channel-single-channel",
            "Single-channel customers",
            _CUSTOMER & _none_of(multi),
            "Customers who have ordered on one channel only.",
            *tags,
        ),
        _segment(
            "channel-email-engaged",
            "Email-engaged",
            did("Email Opened").within(days=window_days)
            | did("Email Link Clicked").within(days=window_days),
            f"Opened or clicked an email in the last {window_days} days.",
            *tags,
        ),
        _segment(
            "channel-email-dormant",
            "Email-dormant",
            did("Email Delivered").within(days=dormant_days)
            & did_not("Email Opened").within(days=dormant_days)
            & did_not("Email Link Clicked").within(days=dormant_days),
            f"Received email in the last {dormant_days} days but opened and clicked none.",
            *tags,
        ),
        _segment(
            "channel-push-ignored",
            "Push opt-ins who never open",
            (state("consent.marketing.push") == "granted") & did_not("Push Notification Tapped"),
            "Opted in to marketing push notifications and never tapped one.",
            *tags,
        ),
    )


# --- demography, geography, technography, subscriptions --------------------------------------

#: The countries of `omnichannel.datasets.synthetic_retail`.
SHOP_COUNTRIES = ("US", "DE", "GB", "FR", "BR", "JP", "AU")
#: Age bands: (youngest, oldest), oldest None for "and over".
AGE_BANDS: tuple[tuple[int, int | None], ...] = (
    (18, 24),
    (25, 34),
    (35, 44),
    (45, 54),
    (55, 64),
    (65, None),
)


def _listed(where: str, value: object) -> list[Any]:
    """``value`` as a list, if it is an iterable other than a string."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValidationError.one(where, "type", "must be a list")
    return list(value)


def _age_bands(value: object) -> list[tuple[int, int | None]]:
    bands: list[tuple[int, int | None]] = []
    for n, band in enumerate(_listed("$.age_bands", value)):
        where = f"$.age_bands[{n}]"
        if not isinstance(band, tuple) or len(band) != 2:
            raise ValidationError.one(where, "type", "must be a (youngest, oldest) pair")
        low = _whole(f"{where}[0]", band[0], minimum=0, maximum=150)
        high = None if band[1] is None else _whole(f"{where}[1]", band[1], minimum=0, maximum=150)
        if high is not None and high < low:
            raise ValidationError.one(where, "invalid", "oldest must not be below youngest")
        if bands and (bands[-1][1] is None or low <= bands[-1][1]):
            raise ValidationError.one(where, "invalid", "bands must be in order, not overlapping")
        bands.append((low, high))
    return bands


def demographic_segments(
    *,
    countries: Iterable[str] = SHOP_COUNTRIES,
    age_bands: Iterable[tuple[int, int | None]] = AGE_BANDS,
    subscriptions: Iterable[str] = ("email", "sms", "push"),
) -> tuple[Segment, ...]:
    """Examples of who people are, where, on what, and what they receive.

    - ``demo-country-<cc>``: ``traits.country`` is the code, for each of
      ``countries`` (ISO 3166 alpha-2, upper case).
    - ``demo-age-<youngest>-<oldest>`` (``demo-age-65-plus``): the ``age``
      trait (a Segment Spec reserved trait) in each band.
    - ``demo-app-user``: has used the mobile app (technography).
    - ``demo-subscribed-<channel>`` and ``demo-unsubscribed-<channel>``:
      marketing consent on the channel is granted, or denied or revoked (for
      each of ``subscriptions``); people never asked are in neither.

    Raises:
        ValidationError: a country that is not two capital letters, an
            overlapping or reversed age band, a channel that is not 1 to 32 of
            ``a-z0-9_`` (``invalid``), or a value of the wrong type (``type``).

    Examples:
        >>> family = {s.key: s for s in demographic_segments(countries=["DE"])}
        >>> print(family["demo-country-de"].rule)
        country is DE
        >>> print(family["demo-age-65-plus"].rule)
        age is at least 65

    .. versionadded:: 0.1.0
    """
    made: list[Segment] = []
    code: Any
    for n, code in enumerate(_listed("$.countries", countries)):
        if not isinstance(code, str) or not _COUNTRY.fullmatch(code):
            raise ValidationError.one(
                f"$.countries[{n}]", "invalid", "must be a country code like DE"
            )
        made.append(
            _segment(
                f"demo-country-{code.lower()}",
                f"Country {code}",
                trait("country") == code,
                f"People whose country trait is {code}.",
                "demographic",
                "geo",
            )
        )
    age = trait("age")
    for low, high in _age_bands(age_bands):
        made.append(
            _segment(
                f"demo-age-{low}-plus" if high is None else f"demo-age-{low}-{high}",
                f"Aged {low}+" if high is None else f"Aged {low}-{high}",
                age >= low if high is None else age.between(low, high),
                "People whose age trait is in the band.",
                "demographic",
            )
        )
    made.append(
        _segment(
            "demo-app-user",
            "App users",
            state("channels.app.events") >= 1,
            "People who have used the mobile app.",
            "demographic",
            "technography",
        )
    )
    channel: Any
    for n, channel in enumerate(_listed("$.subscriptions", subscriptions)):
        if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
            raise ValidationError.one(
                f"$.subscriptions[{n}]", "invalid", "must be 1 to 32 of a-z, 0-9 and '_'"
            )
        consent = state(f"consent.marketing.{channel}")
        made += [
            _segment(
                f"demo-subscribed-{channel}",
                f"Subscribed to {channel}",
                consent == "granted",
                f"Marketing consent on {channel} is granted.",
                "demographic",
                "subscription",
            ),
            _segment(
                f"demo-unsubscribed-{channel}",
                f"Unsubscribed from {channel}",
                consent.is_in(["denied", "revoked"]),
                f"Marketing consent on {channel} is denied or revoked.",
                "demographic",
                "subscription",
            ),
        ]
    return tuple(made)


def family_schema(
    *,
    currencies: Iterable[str] = (),
    traits: Mapping[str, str] | None = None,
    subscriptions: Iterable[str] = ("email", "sms", "push"),
) -> Schema:
    """The subject `Schema` every family reads, for checking and for batch SQL.

    `subject_schema` with the traits the families read (``country`` text,
    ``age`` integer, plus ``traits``), ``state.revenue.<currency>`` for each
    of ``currencies`` and the marketing consent fields
    ``state.consent.marketing.<channel>`` (text) for each of ``subscriptions``
    and ``push``.

    Raises:
        ValidationError: a channel that is not 1 to 32 of ``a-z0-9_`` (``invalid``).

    Examples:
        >>> schema = family_schema(currencies=["EUR"])
        >>> schema.fields["state.consent.marketing.push"], schema.fields["traits.age"]
        ('text', 'integer')

    .. versionadded:: 0.1.0
    """
    base = subject_schema(
        traits={"country": "text", "age": "integer", **(traits or {})},
        currencies=currencies,
    )
    fields = dict(base.fields)
    channel: Any
    for n, channel in enumerate([*_listed("$.subscriptions", subscriptions), "push"]):
        if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
            raise ValidationError.one(
                f"$.subscriptions[{n}]", "invalid", "must be 1 to 32 of a-z, 0-9 and '_'"
            )
        fields[f"state.consent.marketing.{channel}"] = "text"
    return attrs.evolve(base, fields=fields)
