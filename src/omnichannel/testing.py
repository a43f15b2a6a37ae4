"""Hypothesis strategies for `omnichannel` values, for our tests and for host apps' own.

Needs the ``testing`` extra (``pip install omnichannel[testing]``), which
brings `hypothesis`.

Examples:
    >>> from hypothesis import given
    >>> from omnichannel.testing import events
    >>> @given(events())
    ... def test_events_have_an_actor(event):
    ...     assert event.user_id or event.anonymous_id
    >>> test_events_have_an_actor()

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import string
from decimal import Decimal
from typing import Any

import attrs
import pendulum
import phonenumbers
from hypothesis import strategies as st

from omnichannel._time import format_timestamp, to_utc
from omnichannel.channels.conformance import (
    SAMPLE_CHANNELS,
    AdapterConformanceError,
    check_adapter,
    registry_check,
    sample_envelopes,
    verify_adapter,
)
from omnichannel.ingest._ecommerce import ECOMMERCE_EVENTS, SINGLE_PRODUCT_EVENTS
from omnichannel.models import (
    Channel,
    Commerce,
    Consent,
    ConsentStatus,
    Event,
    EventType,
    Identity,
    IdentityKind,
    LineItem,
    Money,
    Profile,
)
from omnichannel.models._money import CURRENCIES
from omnichannel.typing import JSONValue

__all__ = [
    "SAMPLE_CHANNELS",
    "AdapterConformanceError",
    "channels",
    "check_adapter",
    "commerce",
    "consents",
    "events",
    "identities",
    "json_objects",
    "json_values",
    "line_items",
    "money",
    "profiles",
    "registry_check",
    "rule_subjects",
    "rule_values",
    "rules",
    "sample_envelopes",
    "segment_payloads",
    "timestamps",
    "verify_adapter",
]

_REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "BR", "IN", "JP", "AU", "CA", "MX", "SE")
_ZONES = (
    "UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles",
    "America/Sao_Paulo", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney", "Pacific/Auckland",
)  # fmt: skip
_ID_CHARS = string.ascii_letters + string.digits + "-_.:"

# Every factory below is cached: building a strategy (and describing its
# lambdas) costs far more than drawing from it, and composites draw often.


@functools.cache
def timestamps(
    *, min_year: int = 2000, max_year: int = 2100
) -> st.SearchStrategy[pendulum.DateTime]:
    """UTC instants with microseconds, as the models store them."""
    return st.datetimes(
        min_value=dt.datetime(min_year, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=dt.datetime(max_year, 12, 31),  # noqa: DTZ001
        timezones=st.just(dt.timezone.utc),
    ).map(to_utc)


def _not_blank(text: str) -> bool:
    return text.strip() != ""


def _printable_not_blank(text: str) -> bool:
    return text.strip() != "" and text.isprintable()


@functools.cache
def _ids(min_size: int = 1, max_size: int = 24) -> st.SearchStrategy[str]:
    return st.text(_ID_CHARS, min_size=min_size, max_size=max_size).filter(_not_blank)


@functools.cache
def _names() -> st.SearchStrategy[str]:
    """Printable, non-blank text such as event or product names (Unicode included)."""
    return st.text(
        st.characters(codec="utf-8", categories=["L", "N", "P", "Zs", "S"]), min_size=1, max_size=30
    ).filter(_printable_not_blank)


@functools.cache
def json_values(*, max_leaves: int = 12) -> st.SearchStrategy[JSONValue]:
    """Plain JSON values: finite numbers, valid Unicode, string keys."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


@functools.cache
def json_objects(*, max_leaves: int = 12) -> st.SearchStrategy[dict[str, JSONValue]]:
    """JSON objects such as properties, traits or context."""
    return st.dictionaries(st.text(max_size=10), json_values(max_leaves=max_leaves), max_size=5)


@functools.cache
def channels(*, custom: bool = True) -> st.SearchStrategy[Channel]:
    """Built-in channels, and (with ``custom``) names plugins might add."""
    known = st.sampled_from(Channel.known()).map(Channel)
    if not custom:
        return known
    return known | st.from_regex(r"\A[a-z][a-z0-9_]{0,12}\Z").map(Channel)


@functools.cache
def _example_phones() -> tuple[str, ...]:
    numbers = []
    for region in _REGIONS:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(
                    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                )
    return tuple(numbers)


@functools.cache
def _emails() -> st.SearchStrategy[str]:
    local = st.text(string.ascii_letters + string.digits + "._+-", min_size=1, max_size=16)
    domain = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10)
    tld = st.sampled_from(["com", "de", "co.uk", "example", "shop"])
    spaces = st.sampled_from(["", " ", "  "])
    return st.builds(lambda pad, lo, do, t: f"{pad}{lo}@{do}.{t}{pad}", spaces, local, domain, tld)


@functools.cache
def identities(*, kinds: tuple[str, ...] | None = None) -> st.SearchStrategy[Identity]:
    """Identities of the built-in kinds (or of ``kinds``), with realistic raw values."""
    chosen = kinds or (*IdentityKind.known(), "crm_id")

    def build(kind: str) -> st.SearchStrategy[Identity]:
        if kind == "email":
            values = _emails()
        elif kind == "phone":
            values = st.sampled_from(_example_phones())
        else:
            values = _ids()
        return values.map(lambda v: Identity(kind=kind, value=v))

    return st.sampled_from(chosen).flatmap(build)


@functools.cache
def money(*, currencies: tuple[str, ...] | None = None) -> st.SearchStrategy[Money]:
    """Non-negative amounts with up to 2 decimals, in real currencies."""
    amounts = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2, allow_nan=False)
    codes = st.sampled_from(currencies or sorted(CURRENCIES))
    return st.builds(lambda a, c: Money(amount=a, currency=c), amounts, codes)


@functools.cache
def line_items(*, currency: str | None = None) -> st.SearchStrategy[LineItem]:
    """Cart and order lines."""
    price = money(currencies=(currency,) if currency else None)
    return st.builds(
        LineItem,
        product_id=st.none() | _ids(),
        sku=st.none() | _ids(),
        name=st.none() | _names(),
        category=st.none() | _names(),
        brand=st.none() | _names(),
        variant=st.none() | _names(),
        price=st.none() | price,
        quantity=st.integers(0, 20),
    )


@functools.cache
def commerce() -> st.SearchStrategy[Commerce]:
    """Typed e-commerce readings in one currency."""

    def build(currency: str) -> st.SearchStrategy[Commerce]:
        amount = st.none() | money(currencies=(currency,))
        return st.builds(
            Commerce,
            event=st.sampled_from(sorted(ECOMMERCE_EVENTS)),
            currency=st.just(currency),
            order_id=st.none() | _ids(),
            checkout_id=st.none() | _ids(),
            cart_id=st.none() | _ids(),
            coupon=st.none() | _ids(),
            items=st.lists(line_items(currency=currency), max_size=3).map(tuple),
            revenue=amount,
            total=amount,
            subtotal=amount,
            shipping=amount,
            tax=amount,
            discount=amount,
            value=amount,
        )

    return st.sampled_from(["USD", "EUR", "GBP", "JPY"]).flatmap(build)


@functools.cache
def consents() -> st.SearchStrategy[Consent]:
    """Consents for a few purposes, with and without a revoke time."""

    @st.composite
    def build(draw: st.DrawFn) -> Consent:
        status_at = draw(timestamps(max_year=2090))
        revoke = draw(
            st.none()
            | st.timedeltas(min_value=dt.timedelta(seconds=1), max_value=dt.timedelta(days=3650))
        )
        return Consent(
            purpose=draw(
                st.sampled_from(["marketing", "analytics", "ads.targeting", "transactional"])
            ),
            channel=draw(st.none() | channels(custom=False)),
            status=draw(st.sampled_from(ConsentStatus)),
            status_at=status_at,
            revoke_at=None if revoke is None else status_at + revoke,
            source=draw(st.none() | _names()),
        )

    return build()


@functools.cache
def events(*, types: tuple[EventType, ...] | None = None) -> st.SearchStrategy[Event]:
    """Valid events of every call type, with e-commerce readings on some track calls."""

    @st.composite
    def build(draw: st.DrawFn) -> Event:
        event_type = draw(st.sampled_from(types or tuple(EventType)))
        user_id = draw(st.none() | _ids())
        anonymous_id = draw(_ids()) if user_id is None else draw(st.none() | _ids())
        timestamp = draw(timestamps())
        name: str | None = None
        body: dict[str, Any] = {}
        if event_type is EventType.TRACK:
            track_name = draw(st.sampled_from(sorted(ECOMMERCE_EVENTS)) | _names())
            reading = draw(st.none() | commerce())
            body["commerce"] = None if reading is None else attrs.evolve(reading, event=track_name)
            name = track_name
        elif event_type in (EventType.PAGE, EventType.SCREEN):
            name = draw(st.none() | _names())
            body["category"] = draw(st.none() | _names())
        elif event_type is EventType.GROUP:
            body["group_id"] = draw(_ids())
        elif event_type is EventType.ALIAS:
            user_id = user_id or draw(_ids())
            body["previous_id"] = draw(_ids())
        return Event(
            message_id=draw(_ids(max_size=36)),
            type=event_type,
            timestamp=timestamp,
            received_at=timestamp
            + draw(st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(hours=2))),
            sent_at=draw(st.none() | st.just(timestamp)),
            name=name,
            channel=draw(st.none() | channels()),
            user_id=user_id,
            anonymous_id=anonymous_id,
            properties=draw(json_objects()),
            traits=draw(json_objects())
            if event_type in (EventType.IDENTIFY, EventType.GROUP)
            else {},
            context=draw(json_objects()),
            **body,
        )

    return build()


@functools.cache
def profiles() -> st.SearchStrategy[Profile]:
    """Unified profiles with identities, traits, consents, time zones and locales."""

    @st.composite
    def build(draw: st.DrawFn) -> Profile:
        created = draw(timestamps(max_year=2090))
        return Profile(
            id=draw(_ids()),
            created_at=created,
            updated_at=created
            + draw(st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=999))),
            identities=draw(st.frozensets(identities(), max_size=4)),
            traits=draw(json_objects()),
            consents=tuple(draw(st.lists(consents(), max_size=3))),
            time_zone=draw(st.sampled_from(_ZONES)),
            locale=draw(
                st.none() | st.sampled_from(["en-US", "de-DE", "fr-FR", "pt-BR", "ja-JP", "en"])
            ),
        )

    return build()


def _product(draw: st.DrawFn) -> dict[str, Any]:
    product: dict[str, Any] = {"product_id": draw(_ids())}
    for key in ("sku", "name", "category", "brand", "variant"):
        if draw(st.booleans()):
            product[key] = draw(_names())
    if draw(st.booleans()):
        product["price"] = float(
            draw(st.decimals(min_value=0, max_value=9999, places=2, allow_nan=False))
        )
    if draw(st.booleans()):
        product["quantity"] = draw(st.integers(0, 20))
    return product


@functools.cache
def segment_payloads(*, types: tuple[str, ...] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid Segment Spec messages, as a host app receives them (camelCase JSON objects)."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        kind = draw(st.sampled_from(types or tuple(t.value for t in EventType)))
        message: dict[str, Any] = {"type": kind, "messageId": draw(_ids(max_size=36))}
        if kind == "alias" or draw(st.booleans()):
            message["userId"] = draw(_ids())
        if "userId" not in message or draw(st.booleans()):
            message["anonymousId"] = draw(_ids())
        when = draw(timestamps(min_year=2015, max_year=2035))
        transit = dt.timedelta(milliseconds=draw(st.integers(0, 5000)))
        skew = dt.timedelta(seconds=draw(st.integers(-600, 600)))
        message["originalTimestamp"] = format_timestamp(when + skew)
        message["sentAt"] = format_timestamp(when + skew + transit)
        message["receivedAt"] = format_timestamp(when + transit + transit)
        if kind == "track":
            message["event"] = draw(st.sampled_from(sorted(ECOMMERCE_EVENTS)) | _names())
            properties = draw(json_objects(max_leaves=4))
            if message["event"] in SINGLE_PRODUCT_EVENTS:
                properties.update(_product(draw))
            elif message["event"] in ECOMMERCE_EVENTS:
                properties["products"] = [_product(draw) for _ in range(draw(st.integers(0, 3)))]
                properties["order_id"] = draw(_ids())
                properties["total"] = float(
                    draw(st.decimals(min_value=0, max_value=99999, places=2, allow_nan=False))
                )
            properties["currency"] = draw(st.sampled_from(["USD", "EUR", "gbp"]))
            message["properties"] = properties
        elif kind in ("page", "screen"):
            if draw(st.booleans()):
                message["name"] = draw(_names())
            message["properties"] = draw(json_objects(max_leaves=4))
        elif kind in ("identify", "group"):
            message["traits"] = draw(json_objects(max_leaves=4))
            if kind == "group":
                message["groupId"] = draw(_ids())
        else:
            message["previousId"] = draw(_ids())
        # A fresh copy each time: callers may mutate what they get.
        message["context"] = copy.deepcopy(
            draw(
                st.sampled_from(
                    [
                        {
                            "library": {"name": "analytics.js", "version": "2.0"},
                            "page": {"url": "https://shop.example.com/"},
                        },
                        {"app": {"name": "Shop", "version": "4.2"}, "os": {"name": "iOS"}},
                        {"library": {"name": "analytics-python", "version": "2.3"}},
                        {},
                    ]
                )
            )
        )
        return message

    return build()


# --- rules --------------------------------------------------------------------------------

#: Offsets (seconds from ``now``) where windows begin and end: edges are where engines differ.
_EDGE_SECONDS = (0, 60, 3600, 86400, 604800)


def _offsets() -> st.SearchStrategy[int]:
    edges = st.sampled_from(_EDGE_SECONDS).flatmap(
        lambda s: st.sampled_from((-s, s, 1 - s, -s - 1))
    )
    return st.one_of(edges, edges, edges, st.integers(-40 * 86400, 86400))


def rule_values(type_: str, now: dt.datetime) -> st.SearchStrategy[Any]:
    """Values of one schema type: text, number, integer, bool, instant or date.

    Drawn near each other and near ``now``, so comparisons and windows meet their edges.

    .. versionadded:: 0.1.0
    """
    if type_ == "text":
        words = st.sampled_from(["DE", "FR", "", "D", "de", "DEU", "Straße", "a b"])
        return st.one_of(words, st.text(alphabet="abDE ß", max_size=4))
    if type_ == "integer":
        return st.integers(-9, 30)
    if type_ == "number":
        # Halves are exact in binary, so sums and means are identical in every engine.
        return st.integers(-20, 200).map(lambda n: n / 2)
    if type_ == "bool":
        return st.booleans()
    if type_ == "instant":
        return _offsets().map(lambda s: now + dt.timedelta(seconds=s))
    today = now.date()
    around = st.integers(-400, 400).map(lambda d: today + dt.timedelta(days=d))
    years_ago = st.tuples(st.integers(1, 60), st.integers(-3, 10)).map(
        lambda yd: _years_before(today, yd[0]) + dt.timedelta(days=yd[1])
    )
    return st.one_of(around, years_ago, st.just(dt.date(2000, 2, 29)))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


def _field_rule(draw: st.DrawFn, fields: dict[str, str], now: dt.datetime) -> Any:
    from omnichannel import rules as r

    path = draw(st.sampled_from(sorted(fields)))
    type_ = fields[path]
    target = r.Field(path=path)
    same = sorted(p for p, t in fields.items() if r._schema.family(t) == r._schema.family(type_))  # noqa: SLF001
    literal = rule_values(type_, now)
    choices = ["compare", "compare_field", "in", "exists"]
    if type_ != "bool":
        choices.append("between")
    choices.append("truthy")
    if type_ == "text":
        choices.append("text")
    if type_ == "instant":
        choices += ["recency", "local"]
    if type_ == "date":
        choices.append("anniversary")
    if r._schema.family(type_) == "number":  # noqa: SLF001
        choices.append("arith")
    if type_ in ("text", "integer", "number"):
        choices.append("if")
    choice = draw(st.sampled_from(choices))
    ops = ["eq", "ne"] if type_ == "bool" else list(r._tree.COMPARE_OPS)  # noqa: SLF001
    if choice == "compare":
        return r.Compare(
            fn=draw(st.sampled_from(ops)), left=target, right=r.Const(value=draw(literal))
        )
    if choice == "compare_field":
        return r.Compare(
            fn=draw(st.sampled_from(ops)),
            left=target,
            right=r.Field(path=draw(st.sampled_from(same))),
        )
    if choice == "in":
        values = draw(st.lists(literal, max_size=3))
        return r.OneOf(arg=target, values=values, negate=draw(st.booleans()))
    if choice == "exists":
        return r.Exists(field=target)
    if choice == "truthy":
        return r.Truthy(arg=target)
    if choice == "between":
        low, high = sorted((draw(literal), draw(literal)), key=lambda v: (str(type(v)), v))
        return r.Between(arg=target, low=low, high=high)
    if choice == "text":
        fn: Any = draw(st.sampled_from(list(r._tree.TEXT_OPS)))  # noqa: SLF001
        return r.Text(fn=fn, arg=target, text=draw(rule_values("text", now)))
    if choice == "recency":
        recency: Any = draw(st.sampled_from(list(r._tree.RECENCY_OPS)))  # noqa: SLF001
        seconds = draw(st.sampled_from([s for s in _EDGE_SECONDS if s > 0]))
        return r.Recency(fn=recency, field=target, seconds=seconds)
    if choice == "local":
        part: Any = draw(st.sampled_from(list(r._tree.LOCAL_PARTS)))  # noqa: SLF001
        of = draw(st.sampled_from([None, target]))
        return r.Compare(
            fn=draw(st.sampled_from(ops)),
            left=r.LocalPart(part=part, of=of),
            right=r.Const(value=draw(st.integers(0, 25))),
        )
    if choice == "if":
        fn = draw(st.sampled_from(ops))
        if type_ == "text":
            start = draw(st.integers(-3, 3))
            length = draw(st.sampled_from([None, -1, 0, 2]))
            chosen: Any = r.Substr(arg=target, start=start, length=length)
        else:
            chosen = r.Field(path=draw(st.sampled_from(same)))
        when = _field_rule(draw, fields, now)
        picked = r.IfElse(
            cases=[r.Case(when=when, then=chosen)], otherwise=r.Const(value=draw(literal))
        )
        return r.Compare(fn=fn, left=picked, right=r.Const(value=draw(literal)))
    if choice == "anniversary":
        return r.Anniversary(field=target, days=draw(st.sampled_from([0, 1, 6, 7, 30, 366])))
    arith: Any = draw(st.sampled_from(list(r._tree.ARITH_OPS)))  # noqa: SLF001
    operands = st.sampled_from(same).map(lambda p: r.Field(path=p))
    other: Any = draw(
        st.one_of(operands, rule_values("integer", now).map(lambda v: r.Const(value=v)))
    )
    return r.Compare(
        fn=draw(st.sampled_from(ops)),
        left=r.Arith(fn=arith, args=(target, other)),
        right=r.Const(value=draw(rule_values("number", now))),
    )


def _event_filter(draw: st.DrawFn, schema: Any, names: tuple[str, ...], now: dt.datetime) -> Any:
    from omnichannel import rules as r

    where = None
    if draw(st.booleans()):
        fields = {**r._schema.EVENT_BUILTINS, **schema.event_fields}  # noqa: SLF001
        fields.pop("timestamp")
        where = _field_rule(draw, fields, now)
    window = draw(
        st.one_of(
            st.just(r.Window()),
            st.sampled_from([s for s in _EDGE_SECONDS if s > 0]).map(lambda s: r.Window(seconds=s)),
            _offsets().map(lambda s: r.Window(since=now + dt.timedelta(seconds=s))),
        )
    )
    return r.EventFilter(event=draw(st.sampled_from((None, *names))), where=where, window=window)


@st.composite
def _leaf_rule(draw: st.DrawFn, schema: Any, names: tuple[str, ...], now: dt.datetime) -> Any:
    from omnichannel import rules as r

    kinds = ["field", "field", "segment"]
    if names:
        kinds += ["count", "aggregate", "sequence"]
    kind = draw(st.sampled_from(kinds))
    if kind == "field":
        return _field_rule(draw, dict(schema.fields), now)
    if kind == "segment":
        return r.InSegment(segment=draw(st.sampled_from(["vip", "churn-risk"])))
    spec = _event_filter(draw, schema, names, now)
    ops = list(r._tree.COMPARE_OPS)  # noqa: SLF001
    if kind == "count":
        return r.EventCount(
            filter=spec, fn=draw(st.sampled_from(ops)), count=draw(st.integers(0, 3))
        )
    if kind == "aggregate":
        numbers = sorted(p for p, t in schema.event_fields.items() if t in ("number", "integer"))
        agg: Any = draw(st.sampled_from(list(r._tree.AGGREGATE_FNS)))  # noqa: SLF001
        return r.EventAggregate(
            filter=spec,
            agg=agg,
            property=draw(st.sampled_from(numbers)),
            fn=draw(st.sampled_from(ops)),
            value=draw(rule_values("number", now)),
        )
    within = draw(st.sampled_from([None, 60, 3600, 86400]))
    then = _event_filter(draw, schema, names, now)
    return r.FollowedBy(first=spec, then=then, within=within, negate=draw(st.booleans()))


@st.composite
def _rule_tree(
    draw: st.DrawFn, schema: Any, names: tuple[str, ...], now: dt.datetime, depth: int
) -> Any:
    from omnichannel import rules as r

    shapes = ["leaf", "leaf", "leaf", "all", "any", "not"] if depth > 0 else ["leaf"]
    shape = draw(st.sampled_from(shapes))
    if shape == "leaf":
        if not draw(st.integers(0, 15)):
            return r.Constant(value=draw(st.booleans()))
        return draw(_leaf_rule(schema, names, now))
    if shape == "not":
        return r.Not(rule=draw(_rule_tree(schema, names, now, depth - 1)))
    children = draw(st.lists(_rule_tree(schema, names, now, depth - 1), min_size=1, max_size=3))
    return r.All(rules=children) if shape == "all" else r.AnyOf(rules=children)


def rules(
    schema: Any, *, event_names: tuple[str, ...], now: dt.datetime, max_depth: int = 3
) -> st.SearchStrategy[Any]:
    """Well-typed rules over ``schema`` (an `omnichannel.rules.Schema`), every kind of node.

    With no ``event_names``, no event conditions.

    .. versionadded:: 0.1.0
    """
    return _rule_tree(schema, event_names, now, max_depth)


_RULE_ZONES = (None, "UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati",
          "Pacific/Pago_Pago", "Asia/Kolkata")  # fmt: skip


@st.composite
def rule_subjects(
    draw: st.DrawFn, schema: Any, *, event_names: tuple[str, ...], now: dt.datetime
) -> dict[str, Any]:
    """A subject document for ``schema``: fields (some missing, some None), events, segments.

    .. versionadded:: 0.1.0
    """
    subject: dict[str, Any] = {}
    for path, type_ in sorted(schema.fields.items()):
        presence = draw(st.sampled_from(["value", "value", "value", "none", "missing"]))
        if presence == "missing":
            continue
        value = draw(rule_values(type_, now)) if presence == "value" else None
        section, _, name = path.partition(".")
        subject.setdefault(section, {})[name] = value
    subject["timezone"] = draw(st.sampled_from(_RULE_ZONES))
    subject["segments"] = draw(st.lists(st.sampled_from(["vip", "churn-risk"]), unique=True))
    events = []
    for _ in range(draw(st.integers(0, 8))):
        event: dict[str, Any] = {
            "event": draw(st.sampled_from(event_names)),
            "timestamp": draw(rule_values("instant", now)),
            "channel": draw(st.sampled_from([None, "web", "app", "store"])),
            "properties": {},
        }
        for path, type_ in sorted(schema.event_fields.items()):
            if draw(st.integers(0, 4)):
                event["properties"][path.partition(".")[2]] = draw(rule_values(type_, now))
        events.append(event)
    subject["events"] = events
    return subject
