"""Synthetic retail data: a reproducible omnichannel shop, as Segment Spec messages.

`synthetic_retail` simulates a fashion-and-lifestyle retailer with a web
shop, a mobile app and physical stores in seven countries, and returns what
its tracking would have sent: Segment Spec messages in the camelCase wire
format, every one of which `omnichannel.ingest.parse_segment` accepts. People
browse anonymously and log in later, fill a cart in the app and pay on the
web, collect web orders in a store, earn and redeem loyalty points, open
emails, tap pushes, give and revoke consent and answer surveys.

The output is a pure function of the arguments: no clock, no global random
state, no I/O. `iter_synthetic_retail` yields the same messages one at a
time, in timestamp order, without holding them all; `write_jsonl` and
`write_parquet` store them.

Examples:
    >>> from omnichannel.datasets import synthetic_retail
    >>> payloads = synthetic_retail(20, 7, 1)
    >>> payloads == synthetic_retail(20, 7, 1)
    True
    >>> sorted({p["type"] for p in payloads})
    ['identify', 'page', 'screen', 'track']

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import importlib
import itertools
import json
import os
import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from omnichannel._gc import collector_paused
from omnichannel.errors import OmnichannelError, ValidationError

__all__ = [
    "iter_synthetic_retail",
    "retail_catalogue",
    "synthetic_retail",
    "write_jsonl",
    "write_parquet",
]

# Where the simulated window starts when no ``start`` is given.
_DEFAULT_START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

_DAY = 86_400_000
_HOUR = 3_600_000
_MINUTE = 60_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DATE = dt.date(1970, 1, 1)
_SITE = "https://shop.example.com"
_SURVEYS = "https://survey.example.com"

_Payload = dict[str, Any]


# --- the world: countries, stores, names -----------------------------------------------


class _Country(NamedTuple):
    code: str
    currency: str
    zone: str
    locale: str
    weight: int
    decimals: int  # of the currency (JPY has none)
    factor: float  # price level against the USD catalogue
    ending: int  # minor units a price ends in (99 for x.99) or rounding step for JPY
    shipping: int  # minor units
    free_from: int  # minor units of subtotal from which shipping is free
    tax_rate: float  # sales tax added on top (VAT countries price it in)
    minor_per_point: int  # minor units of spend that earn one loyalty point
    reward: int  # minor units 500 redeemed points are worth
    stores: tuple[tuple[str, str], ...]  # (store_id, city)
    first_names: tuple[tuple[str, str], ...]  # (as written, ASCII for the email address)
    last_names: tuple[tuple[str, str], ...]


def _names(text: str) -> tuple[tuple[str, str], ...]:
    """Parse ``"Written/ascii Other"`` into pairs; an entry without ``/`` is its own ASCII."""
    pairs = []
    for entry in text.split():
        written, _, ascii_form = entry.partition("/")
        pairs.append((written.replace("_", " "), ascii_form or written.lower()))
    return tuple(pairs)


_COUNTRIES = (
    _Country(
        "US", "USD", "America/New_York", "en-US", 30, 2, 1.0, 99, 599, 7500, 0.08, 100, 1000,
        (("st_us_nyc", "New York"), ("st_us_chi", "Chicago"), ("st_us_sfo", "San Francisco")),
        _names("James Mary Michael Patricia Robert Jennifer David Linda María/maria Daniel "
               "Emily José/jose"),
        _names("Smith Johnson Williams Brown Jones García/garcia Miller Davis Rodriguez "
               "Martinez Nguyen O'Brien/obrien"),
    ),
    _Country(
        "DE", "EUR", "Europe/Berlin", "de-DE", 15, 2, 0.93, 99, 495, 6000, 0.0, 100, 1000,
        (("st_de_ber", "Berlin"), ("st_de_muc", "München"), ("st_de_ham", "Hamburg")),
        _names("Lukas Anna Jonas Lea Felix Sophie Maximilian Marie Jürgen/juergen Jörg/joerg"),
        _names("Müller/mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker "
               "Schäfer/schaefer Groß/gross"),
    ),
    _Country(
        "GB", "GBP", "Europe/London", "en-GB", 15, 2, 0.8, 99, 395, 5000, 0.0, 100, 800,
        (("st_gb_lon", "London"), ("st_gb_man", "Manchester")),
        _names("Oliver Amelia George Isla Harry Olivia Jack Emily Siobhán/siobhan Noah"),
        _names("Smith Jones Taylor Brown Williams Wilson Evans Thomas Roberts "
               "O'Connor/oconnor"),
    ),
    _Country(
        "FR", "EUR", "Europe/Paris", "fr-FR", 10, 2, 0.93, 99, 495, 6000, 0.0, 100, 1000,
        (("st_fr_par", "Paris"), ("st_fr_lyo", "Lyon")),
        _names("Léa/lea Hugo Chloé/chloe Louis Manon Gabriel Camille Théo/theo Inès/ines "
               "Raphaël/raphael"),
        _names("Martin Bernard Dubois Thomas Robert Richard Petit Durand Lefèvre/lefevre "
               "Girard"),
    ),
    _Country(
        "BR", "BRL", "America/Sao_Paulo", "pt-BR", 10, 2, 5.0, 90, 1990, 30000, 0.0, 500, 5000,
        (("st_br_sao", "São Paulo"), ("st_br_rio", "Rio de Janeiro")),
        _names("João/joao Maria Ana Pedro Lucas Júlia/julia Gabriel Beatriz Matheus "
               "Letícia/leticia"),
        _names("Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima "
               "Gonçalves/goncalves"),
    ),
    _Country(
        "JP", "JPY", "Asia/Tokyo", "ja-JP", 10, 0, 150.0, 100, 500, 5000, 0.0, 150, 1500,
        (("st_jp_tyo", "Tokyo"), ("st_jp_osa", "Osaka")),
        _names("翔太/shota 陽菜/hina 蓮/ren 結衣/yui 大翔/hiroto 葵/aoi 悠真/yuma さくら/sakura "
               "健/ken 美咲/misaki"),
        _names("佐藤/sato 鈴木/suzuki 高橋/takahashi 田中/tanaka 伊藤/ito 渡辺/watanabe "
               "山本/yamamoto 中村/nakamura 小林/kobayashi 加藤/kato"),
    ),
    _Country(
        "AU", "AUD", "Australia/Sydney", "en-AU", 10, 2, 1.5, 95, 995, 10000, 0.0, 150, 1500,
        (("st_au_syd", "Sydney"), ("st_au_mel", "Melbourne")),
        _names("Oliver Charlotte Jack Amelia William Mia Noah Ava Thomas Chloe"),
        _names("Smith Jones Williams Brown Wilson Taylor Nguyen Johnson Martin White"),
    ),
)  # fmt: skip

_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# How busy people are at each local hour (0-23): quiet at night, peaks at lunch and evening.
_LOCAL_HOURS = (
    1.0, 0.5, 0.3, 0.2, 0.2, 0.4, 1.5, 3.0, 4.5, 5.0, 5.0, 5.5,
    6.5, 6.0, 5.0, 5.0, 5.0, 5.5, 6.5, 8.0, 8.5, 7.0, 4.5, 2.5,
)  # fmt: skip
_ACTIVE_CUM = tuple(itertools.accumulate(_LOCAL_HOURS))
_STORE_CUM = tuple(itertools.accumulate(1.0 if 9 <= h < 20 else 0.0 for h in range(24)))


def _window(first: int, last: int) -> tuple[float, ...]:
    return tuple(itertools.accumulate(1.0 if first <= h < last else 0.0 for h in range(24)))


_EMAIL_CUM = _window(8, 11)
_PUSH_CUM = _window(17, 20)
_SMS_CUM = _window(11, 14)

_USER_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.2 Safari/605.1.15"
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36"
    ),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
)
_APPS = (
    # (os name, os version, library, library version, manufacturer, model, device type)
    ("iOS", "17.2", "analytics-swift", "1.5.4", "Apple", "iPhone15,2", "ios"),
    ("Android", "14", "analytics-kotlin", "1.14.2", "Google", "Pixel 8", "android"),
)


# --- the catalogue ---------------------------------------------------------------------

_CATEGORIES = (
    # (category, sku code, USD price range, brands, products from cheap to dear, adjectives)
    ("Shoes", "SHO", 55, 180, ("Northpeak", "Stride & Co"),
     ("Canvas Slip-On", "Court Sneaker", "Road Runner", "Trail Runner", "Leather Boot"),
     ("Aero", "Summit", "Urban", "Classic", "Storm")),
    ("Clothing", "CLO", 15, 90, ("Fieldhouse", "Linnea"),
     ("T-Shirt", "Linen Shirt", "Chinos", "Hoodie", "Merino Sweater"),
     ("Essential", "Organic", "Relaxed", "Slim", "Heritage")),
    ("Outerwear", "OUT", 80, 320, ("Northpeak", "Harbour"),
     ("Windbreaker", "Softshell", "Rain Jacket", "Wool Coat", "Down Parka"),
     ("Alpine", "Coastal", "City", "Nordic", "Trek")),
    ("Accessories", "ACC", 10, 70, ("Linnea", "Fieldhouse"),
     ("Running Socks", "Beanie", "Belt", "Scarf", "Sunglasses"),
     ("Everyday", "Sport", "Premium", "Travel", "Eco")),
    ("Bags", "BAG", 30, 220, ("Carryall", "Harbour"),
     ("Laptop Sleeve", "Tote", "Crossbody Bag", "Backpack", "Duffel"),
     ("Commuter", "Weekender", "Explorer", "Minimal", "Rugged")),
    ("Home & Kitchen", "HOM", 8, 90, ("Hearth", "Kinfolk Goods"),
     ("Candle", "Mug", "Cutting Board", "French Press", "Throw Blanket"),
     ("Stoneware", "Nordic", "Rustic", "Modern", "Cozy")),
    ("Beauty", "BEA", 8, 60, ("Botanica", "Dew"),
     ("Lip Balm", "Shampoo", "Sunscreen SPF 50", "Body Lotion", "Face Cream"),
     ("Hydrating", "Gentle", "Botanical", "Daily", "Repair")),
    ("Electronics", "ELE", 25, 400, ("Voltaic", "Orbit Audio"),
     ("Power Bank", "Fitness Tracker", "Wireless Earbuds", "Bluetooth Speaker", "Smartwatch"),
     ("Pulse", "Nova", "Echo", "Volt", "Orbit")),
)  # fmt: skip


class _Product(NamedTuple):
    product_id: str
    sku: str
    name: str
    category: str
    brand: str
    slug: str
    prices: tuple[int, ...]  # minor units, one per country in _COUNTRIES order


@functools.cache
def _seconds() -> tuple[str, ...]:
    """Every ``SS.mmmZ`` ending of a timestamp, by the ms within its minute."""
    return tuple(f"{ms // 1000:02d}.{ms % 1000:03d}Z" for ms in range(_MINUTE))


def _local_price(usd: float, country: _Country) -> int:
    if country.decimals == 0:
        step = country.ending
        return max(step, round(usd * country.factor / step) * step)
    major = max(1, round(usd * country.factor))
    return major * 100 - (100 - country.ending)


@functools.cache
def _catalogue() -> tuple[_Product, ...]:
    # A fixed generator of its own: the catalogue is the same for every seed.
    rng = random.Random(0x5EED)  # noqa: S311 - made-up prices, not secrets
    products = []
    number = 1000
    for category, code, low, high, brands, nouns, adjectives in _CATEGORIES:
        band = (high - low) / len(nouns)
        for index, (noun, adjective) in enumerate(itertools.product(nouns, adjectives)):
            number += 1
            cheapest = low + band * nouns.index(noun)  # a mug costs less than a blanket
            usd = rng.uniform(cheapest, cheapest + band)
            name = f"{adjective} {noun}"
            products.append(
                _Product(
                    product_id=f"prd_{number}",
                    sku=f"{code}-{number:04d}",
                    name=name,
                    category=category,
                    brand=brands[index % len(brands)],
                    slug=name.lower().replace(" & ", "-").replace(" ", "-"),
                    prices=tuple(_local_price(usd, c) for c in _COUNTRIES),
                )
            )
    return tuple(products)


def _amount(minor: int, country: _Country) -> int | float:
    """Minor units as the JSON number a shop would send (19.99, or 2900 for yen)."""
    return minor if country.decimals == 0 else minor / 100


def retail_catalogue() -> list[dict[str, Any]]:
    """Return the synthetic shop's 200 products in 8 categories; ids and prices never change.

    Each product has ``product_id``, ``sku``, ``name``, ``category``,
    ``brand`` and ``prices`` (one per currency sold in, as the JSON numbers
    the events carry). The catalogue does not depend on the seed.

    Examples:
        >>> products = retail_catalogue()
        >>> len(products), len({p["category"] for p in products})
        (200, 8)
        >>> first = products[0]
        >>> first["product_id"], first["name"], first["prices"]["USD"], first["prices"]["JPY"]
        ('prd_1001', 'Aero Canvas Slip-On', 58.99, 8800)

    .. versionadded:: 0.1.0
    """
    result = []
    for product in _catalogue():
        prices: dict[str, int | float] = {}
        for country, minor in zip(_COUNTRIES, product.prices, strict=True):
            prices.setdefault(country.currency, _amount(minor, country))
        result.append(
            {
                "product_id": product.product_id,
                "sku": product.sku,
                "name": product.name,
                "category": product.category,
                "brand": product.brand,
                "prices": prices,
            }
        )
    return result


# --- per-country tables computed once --------------------------------------------------


@functools.cache
def _phone_prefixes() -> tuple[str, ...]:
    """E.164 prefix per country: a valid mobile number with its last six digits left open."""
    import phonenumbers

    prefixes = []
    for country in _COUNTRIES:
        example = phonenumbers.example_number_for_type(
            country.code, phonenumbers.PhoneNumberType.MOBILE
        )
        if example is None:  # pragma: no cover - phonenumbers has metadata for all seven
            msg = f"phonenumbers has no example mobile number for {country.code}"
            raise RuntimeError(msg)
        national = phonenumbers.national_significant_number(example)
        prefixes.append(f"+{example.country_code}{national[:-6]}")
    return tuple(prefixes)


def _offsets(zone_name: str, start_ms: int, days: int) -> list[int]:
    """UTC offset in ms of ``zone_name`` at midday of each simulated day (DST included)."""
    import pendulum

    zone = pendulum.timezone(zone_name)
    offsets = []
    for day in range(days):
        at = dt.datetime.fromtimestamp((start_ms + day * _DAY + _DAY // 2) / 1000, tz=zone)
        offset = at.utcoffset()
        offsets.append(0 if offset is None else offset // dt.timedelta(milliseconds=1))
    return offsets


# --- people ----------------------------------------------------------------------------

_Ids = tuple[str | None, str | None]  # (userId, anonymousId)
_Sender = Callable[[int, str, _Payload], None]  # emits a track call: (at, event, properties)

# Activities planned on the calendar.
_WEB, _APP, _STORE, _ARRIVE, _IMPORT, _INTENT, _REMINDER, _NPS = range(8)
_EMAIL_CAMPAIGN, _PUSH_CAMPAIGN, _SMS_CAMPAIGN = range(8, 11)

_APP_VERSION = {"version": "5.2.1", "build": "5210"}


class _Page(NamedTuple):
    path: str
    title: str
    search: str = ""
    referrer: str = ""


class _Person:
    """One simulated person: who they are, and the state their behaviour depends on."""

    __slots__ = (
        "account",
        "app_anon",
        "app_index",
        "app_installed",
        "app_logged_in",
        "birthday",
        "busy_until",
        "buy",
        "cart",
        "cart_channel",
        "cart_version",
        "consent_asked",
        "country",
        "country_index",
        "created",
        "device_id",
        "email",
        "email_ok",
        "favourites",
        "first",
        "first_day",
        "identified",
        "index",
        "ip",
        "known_email",
        "last",
        "loyalty_id",
        "phone",
        "points",
        "pos_anon",
        "push_ok",
        "push_token",
        "rate_app",
        "rate_store",
        "rate_web",
        "reminded",
        "skew_app",
        "skew_web",
        "sms_ok",
        "store",
        "user_agent",
        "user_id",
        "uses_app",
        "uses_web",
        "web_anon",
        "web_logged_in",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        # Behaviour state.
        self.cart: dict[int, int] = {}  # product index -> quantity, one cart on every channel
        self.cart_channel = ""
        self.cart_version = 0
        self.reminded = -1
        self.busy_until = 0
        self.points = 0
        # What the shop knows.
        self.created = 0
        self.identified = False  # the userId has been sent
        self.known_email = False  # an identify call has carried the email address
        self.web_logged_in = False
        self.app_installed = False
        self.app_logged_in = False
        self.consent_asked = False
        self.email_ok = False
        self.sms_ok = False
        self.push_ok = False

    # Set by _Simulation._person.
    country: _Country
    country_index: int
    first: str
    last: str
    email: str
    phone: str | None
    birthday: str
    user_id: str | None
    account: bool
    first_day: int
    uses_web: bool
    uses_app: bool
    loyalty_id: str | None
    store: tuple[str, str]
    web_anon: str
    app_anon: str
    pos_anon: str
    device_id: str
    push_token: str
    app_index: int
    user_agent: str
    ip: str
    skew_web: int
    skew_app: int
    rate_web: float
    rate_app: float
    rate_store: float
    buy: float
    favourites: tuple[int, ...]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _skew(rng: random.Random) -> int:
    """A device clock's error in ms: most are right, some off by seconds, a few by hours."""
    roll = rng.random()
    if roll < 0.8:
        return 0
    if roll < 0.97:
        return rng.randint(-90_000, 90_000)
    return rng.choice((-1, 1)) * rng.randint(_HOUR, 5 * _HOUR)


def _activity_key(entry: tuple[int, int, Any]) -> tuple[int, int]:
    return entry[0], entry[1]


def _started(order: _Payload) -> _Payload:
    """The Checkout Started properties of an order."""
    return {k: order[k] for k in ("order_id", "value", "revenue", "currency", "products")}


_SUBJECTS = (
    "New season, new favourites",
    "Picked for you this week",
    "Last chance: the sale ends Sunday",
    "Our best sellers are back in stock",
)


# --- the simulation --------------------------------------------------------------------


class _Simulation:
    """Plans each person's days, plays them out, and emits the messages in time order.

    Every activity of a day is planned first (visits on the calendar,
    campaigns), then each person's activities run in time order. A message
    is filed under the day it happens on; since an activity never starts
    before its own day, a day's messages are complete once it has run, and
    they are sorted and yielded.
    """

    def __init__(self, n_profiles: int, days: int, seed: int, start_ms: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - simulation, not secrets
        self.random = self.rng.random
        self.days = days
        self.start_ms = start_ms
        self.end_ms = start_ms + days * _DAY
        self.start_in_day = start_ms % _DAY
        key = f"{n_profiles}:{days}:{seed}:{start_ms}".encode()
        # Message ids differ between data sets, so two of them can share a store.
        self.prefix = "syn-" + hashlib.sha256(key).hexdigest()[:10] + "-"
        self.messages = itertools.count(1)
        self.orders = itertools.count(1)
        # Messages by the day they happen on, with sort keys (time, then creation) as
        # plain ints: ints are invisible to the cyclic collector, tuples are not.
        self.buckets: dict[int, tuple[list[int], list[_Payload]]] = {}
        self.calendar: list[list[tuple[int, int, Any]]] = [[] for _ in range(days)]
        self.dates: dict[int, str] = {}
        self.minutes: dict[int, str] = {}
        self.seconds = _seconds()
        self.offsets = [_offsets(c.zone, start_ms, days) for c in _COUNTRIES]
        self.products = _catalogue()
        self.product_index = {p.product_id: i for i, p in enumerate(self.products)}
        self.by_category = [
            [i for i, p in enumerate(self.products) if p.category == c[0]] for c in _CATEGORIES
        ]
        # Popular products sell more: weights fall off along each category.
        self.popular = list(
            itertools.accumulate(1.0 / (1 + (i % 25) * 0.15) for i in range(len(self.products)))
        )
        self.phone_prefixes = _phone_prefixes()
        self.handlers: dict[int, Callable[[_Person, int, int, Any], int]] = {
            _WEB: self._web_visit,
            _APP: self._app_visit,
            _STORE: self._store_visit,
            _ARRIVE: self._arrive,
            _IMPORT: self._import,
            _INTENT: self._intent,
            _REMINDER: self._reminder,
            _NPS: self._nps,
            _EMAIL_CAMPAIGN: self._email_campaign,
            _PUSH_CAMPAIGN: self._push_campaign,
            _SMS_CAMPAIGN: self._sms_campaign,
        }
        self.people = [self._person(i) for i in range(n_profiles)]

    def _person(self, index: int) -> _Person:
        rng = self.rng
        p = _Person(index)
        p.country_index = rng.choices(range(len(_COUNTRIES)), cum_weights=_COUNTRY_CUM)[0]
        c = p.country = _COUNTRIES[p.country_index]
        p.first, first = rng.choice(c.first_names)
        p.last, last = rng.choice(c.last_names)
        local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", first))
        email = f"{local}{index + 1}@{rng.choice(_EMAIL_DOMAINS)}"
        # Some people type their address with capitals; identity resolution lowercases it.
        p.email = email.title() if rng.random() < 0.1 else email
        # A bijection of the person number onto six digits keeps every number unique.
        digits = (index * 7919 + 104_729) % 1_000_000
        phone = f"{self.phone_prefixes[p.country_index]}{digits:06d}"
        p.phone = phone if rng.random() < 0.7 else None
        p.birthday = (
            f"{2024 - rng.randint(18, 80)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        )
        p.account = rng.random() < 0.65
        existing = p.account and rng.random() < 0.55
        p.user_id = f"usr_{index + 1:06d}" if p.account else None
        p.first_day = 0 if existing else rng.randrange(self.days)
        store_shopper = rng.random() < 0.35
        p.uses_web = not store_shopper or rng.random() < 0.75
        p.uses_app = p.account and rng.random() < 0.4
        p.loyalty_id = (
            f"LC{(index * 7_368_787 + 1_234_567) % 10**10:010d}" if store_shopper else None
        )
        p.pos_anon = f"pos-{p.loyalty_id}" if p.loyalty_id else ""
        p.store = rng.choice(c.stores)
        p.web_anon = _uuid(rng)
        p.app_anon = _uuid(rng)
        p.app_index = rng.randrange(len(_APPS))
        p.device_id = _uuid(rng).upper() if p.app_index == 0 else f"{rng.getrandbits(64):016x}"
        p.push_token = f"{rng.getrandbits(256):064x}"
        p.user_agent = rng.choice(_USER_AGENTS)
        p.ip = f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"
        p.skew_web = _skew(rng)
        p.skew_app = _skew(rng)
        engagement = rng.lognormvariate(0, 0.6)
        p.rate_web = min(0.5, 0.037 * engagement) if p.uses_web else 0.0
        p.rate_app = min(0.5, 0.05 * engagement) if p.uses_app else 0.0
        p.rate_store = rng.uniform(0.015, 0.05) if store_shopper else 0.0
        p.buy = rng.uniform(0.1, 0.55)
        p.favourites = tuple(rng.sample(range(len(_CATEGORIES)), 2))
        self.calendar[p.first_day].append((index, _IMPORT if existing else _ARRIVE, None))
        return p

    # --- numbers and times ---------------------------------------------------------

    def _int(self, low: int, high: int) -> int:
        """A whole number from ``low`` to ``high`` inclusive (cheaper than Random.randint)."""
        return low + int(self.random() * (high - low + 1))

    def _iso(self, ms: int) -> str:
        minute, rest = divmod(ms, _MINUTE)
        head = self.minutes.get(minute)
        if head is None:
            day, in_day = divmod(minute, 1440)
            prefix = self.dates.get(day)
            if prefix is None:
                prefix = self.dates[day] = (_EPOCH_DATE + dt.timedelta(days=day)).isoformat() + "T"
            head = self.minutes[minute] = f"{prefix}{in_day // 60:02d}:{in_day % 60:02d}:"
        return head + self.seconds[rest]

    def _at(self, p: _Person, day: int, cum: tuple[float, ...]) -> int:
        """An instant on ``day`` whose local time for ``p`` follows the hour weights ``cum``."""
        hour = bisect.bisect_right(cum, self.random() * cum[-1])
        local = hour * _HOUR + self._int(0, _HOUR - 1)
        in_day = (local - self.offsets[p.country_index][day]) % _DAY
        return self.start_ms + day * _DAY + (in_day - self.start_in_day) % _DAY

    # --- output --------------------------------------------------------------------

    def _emit(
        self,
        t: int,
        type_: str,
        name: str | None,
        body: _Payload,
        ids: _Ids,
        *,
        channel: str | None,
        context: _Payload,
        skew: int = 0,
        flush: int = 0,
    ) -> None:
        """File a message happening at ``t``, sent ``flush`` ms later by a clock ``skew`` ms off.

        ``receivedAt - (sentAt - originalTimestamp)`` gives back ``timestamp``
        exactly, as Segment's skew correction expects.
        """
        seq = next(self.messages)
        if t >= self.end_ms:
            return  # after the window: not part of the data set
        stamp = self._iso(t)
        received = self._iso(t + flush)
        if skew:
            original, sent = self._iso(t + skew), self._iso(t + skew + flush)
        else:
            original, sent = stamp, received
        message: _Payload = {
            "type": type_,
            "messageId": f"{self.prefix}{seq:07d}",
            "userId": ids[0],
            "anonymousId": ids[1],
            "channel": channel,
            "timestamp": stamp,
            "originalTimestamp": original,
            "sentAt": sent,
            "receivedAt": received,
            "context": context,
        }
        if type_ == "identify":
            message["traits"] = body
        else:
            message["event" if type_ == "track" else "name"] = name
            message["properties"] = body
        since = t - self.start_ms
        bucket = self.buckets.get(since // _DAY)
        if bucket is None:
            bucket = self.buckets[since // _DAY] = ([], [])
        bucket[0].append(since << 40 | seq)
        bucket[1].append(message)

    def run(self) -> Iterator[_Payload]:
        """Play every day and yield its messages sorted by time (then by creation)."""
        for day in range(self.days):
            # A day makes thousands of acyclic dicts; letting the cyclic collector
            # scan them as they appear would double the run time. It is paused only
            # while the day is computed, never across a yield to the caller.
            with collector_paused():
                self._day(day)
                keys, messages = self.buckets.pop(day, ([], []))
                order = sorted(range(len(keys)), key=keys.__getitem__)
            for index in order:
                yield messages[index]

    # --- the calendar --------------------------------------------------------------

    def _plan(self, p: _Person, kind: int, after_day: int, rate: float) -> None:
        """Put ``p``'s next visit of ``kind`` on the calendar, a random gap after ``after_day``."""
        if rate > 0:
            day = after_day + 1 + int(self.rng.expovariate(rate))
            if day < self.days:
                self.calendar[day].append((p.index, kind, None))

    def _day(self, day: int) -> None:
        todo: dict[int, list[tuple[int, int, Any]]] = {}
        for index, kind, arg in self.calendar[day]:
            p = self.people[index]
            if kind == _IMPORT:
                t = self.start_ms + day * _DAY + self._int(0, _HOUR - 1)
            else:
                hours = _STORE_CUM if kind == _STORE else _EMAIL_CUM if kind == _REMINDER else None
                t = self._at(p, day, hours or _ACTIVE_CUM)
            todo.setdefault(index, []).append((t, kind, arg))
        self.calendar[day] = []
        weekday = (_EPOCH_DATE + dt.timedelta(days=(self.start_ms // _DAY) + day)).weekday()
        campaigns = []
        if weekday == 3:  # the Thursday newsletter
            campaigns.append((_EMAIL_CAMPAIGN, _EMAIL_CUM))
        if weekday == 0:  # Monday's push
            campaigns.append((_PUSH_CAMPAIGN, _PUSH_CUM))
        if weekday == 5 and day % 14 < 7:  # every other Saturday, an SMS about the weekend sale
            campaigns.append((_SMS_CAMPAIGN, _SMS_CUM))
        for kind, hours in campaigns:
            for p in self.people:
                if p.first_day <= day and (
                    (kind == _EMAIL_CAMPAIGN and p.email_ok)
                    or (kind == _PUSH_CAMPAIGN and p.push_ok)
                    or (kind == _SMS_CAMPAIGN and p.sms_ok)
                ):
                    todo.setdefault(p.index, []).append((self._at(p, day, hours), kind, day))
        for index, activities in todo.items():
            p = self.people[index]
            activities.sort(key=_activity_key)
            for t, kind, arg in activities:
                begin = max(t, p.busy_until + self._int(5, 90) * _MINUTE)
                p.busy_until = self.handlers[kind](p, begin, day, arg)

    # --- who is speaking -----------------------------------------------------------

    def _web_ids(self, p: _Person) -> _Ids:
        return (p.user_id if p.web_logged_in else None, p.web_anon)

    def _app_ids(self, p: _Person) -> _Ids:
        return (p.user_id if p.app_logged_in else None, p.app_anon)

    def _customer_ids(self, p: _Person) -> _Ids:
        """How the shop's back office (email, SMS, orders) names the person."""
        if p.identified:
            return (p.user_id, None)
        return (None, p.web_anon if p.uses_web else p.pos_anon)

    def _store_ids(self, p: _Person) -> _Ids:
        """How a till names the person: by account once linked, else by the loyalty card."""
        if p.identified or not p.loyalty_id:
            return self._customer_ids(p)
        return (None, p.pos_anon)

    def _identified(self, p: _Person, t: int) -> None:
        p.identified = p.known_email = True
        p.created = p.created or t

    # --- contexts and channels -----------------------------------------------------

    def _web_context(self, p: _Person, page: _Page) -> _Payload:
        return {
            "ip": p.ip,
            "library": {"name": "analytics.js", "version": "next-1.61.0"},
            "locale": p.country.locale,
            "timezone": p.country.zone,
            "userAgent": p.user_agent,
            "page": {
                "path": page.path,
                "referrer": page.referrer,
                "search": page.search,
                "title": page.title,
                "url": f"{_SITE}{page.path}{page.search}",
            },
        }

    def _web(
        self,
        p: _Person,
        t: int,
        type_: str,
        name: str | None,
        body: _Payload,
        *,
        page: _Page,
        campaign: _Payload | None = None,
    ) -> None:
        context = self._web_context(p, page)
        if campaign is not None:
            context["campaign"] = campaign
        self._emit(
            t,
            type_,
            name,
            body,
            self._web_ids(p),
            channel="browser",
            context=context,
            skew=p.skew_web,
            flush=self._int(40, 900),
        )

    def _page_view(
        self,
        p: _Person,
        t: int,
        name: str,
        page: _Page,
        *,
        campaign: _Payload | None = None,
        category: str | None = None,
    ) -> None:
        properties: _Payload = {
            "path": page.path,
            "referrer": page.referrer,
            "search": page.search,
            "title": page.title,
            "url": f"{_SITE}{page.path}{page.search}",
        }
        if category is not None:
            properties["category"] = category
        self._web(p, t, "page", name, properties, page=page, campaign=campaign)

    def _app_context(self, p: _Person, *, token: bool = False) -> _Payload:
        os_name, os_version, library, version, maker, model, kind = _APPS[p.app_index]
        device: _Payload = {"id": p.device_id, "manufacturer": maker, "model": model, "type": kind}
        if token or p.push_ok:
            device["token"] = p.push_token
        return {
            "app": {"name": "Example Shop", "namespace": "com.example.shop", **_APP_VERSION},
            "device": device,
            "library": {"name": library, "version": version},
            "locale": p.country.locale,
            "os": {"name": os_name, "version": os_version},
            "timezone": p.country.zone,
        }

    def _app(
        self,
        p: _Person,
        t: int,
        type_: str,
        name: str | None,
        body: _Payload,
        *,
        channel: str | None = "mobile",
        token: bool = False,
    ) -> None:
        self._emit(
            t,
            type_,
            name,
            body,
            self._app_ids(p),
            channel=channel,
            context=self._app_context(p, token=token),
            skew=p.skew_app,
            flush=self._int(500, 30_000),
        )

    def _server(
        self,
        p: _Person,
        t: int,
        name: str,
        body: _Payload,
        *,
        channel: str | None = "server",
        phone: bool = False,
    ) -> None:
        """A track call from the back office (email and SMS providers, order system, CRM)."""
        traits = {"phone": p.phone} if phone and p.phone else {"email": p.email}
        context = {"library": {"name": "analytics-python", "version": "2.3.2"}, "traits": traits}
        self._emit(
            t,
            "track",
            name,
            body,
            self._customer_ids(p),
            channel=channel,
            context=context,
            flush=self._int(200, 20_000),
        )

    def _store(
        self,
        p: _Person,
        t: int,
        name: str | None,
        body: _Payload,
        store: tuple[str, str],
        *,
        type_: str = "track",
    ) -> None:
        """A message from a store's till or order desk."""
        context = {
            "library": {"name": "analytics-python", "version": "2.3.2"},
            "location": {"city": store[1], "country": p.country.code},
            "timezone": p.country.zone,
        }
        self._emit(
            t,
            type_,
            name,
            body,
            self._store_ids(p),
            channel="store",
            context=context,
            flush=self._int(200, 5_000),
        )

    def _web_sender(self, p: _Person, page: _Page) -> _Sender:
        return lambda t, name, body: self._web(p, t, "track", name, body, page=page)

    def _app_sender(self, p: _Person) -> _Sender:
        return lambda t, name, body: self._app(p, t, "track", name, body)

    def _server_sender(self, p: _Person) -> _Sender:
        return lambda t, name, body: self._server(p, t, name, body)

    def _store_sender(self, p: _Person, store: tuple[str, str]) -> _Sender:
        return lambda t, name, body: self._store(p, t, name, body, store)

    def _traits(self, p: _Person) -> _Payload:
        traits: _Payload = {
            "email": p.email,
            "firstName": p.first,
            "lastName": p.last,
            "birthday": p.birthday,
            "timezone": p.country.zone,
            "locale": p.country.locale,
            "country": p.country.code,
            "address": {"city": p.store[1], "country": p.country.code},
            "createdAt": self._iso(p.created),
        }
        if p.phone:
            traits["phone"] = p.phone
        if p.loyalty_id:
            traits["loyalty_id"] = p.loyalty_id
        return traits

    # --- products ------------------------------------------------------------------

    def _pick_product(self, p: _Person) -> int:
        if self.random() < 0.7:
            return self.rng.choice(self.by_category[self.rng.choice(p.favourites)])
        return bisect.bisect_right(self.popular, self.random() * self.popular[-1])

    def _product(self, p: _Person, index: int, quantity: int = 1) -> _Payload:
        product = self.products[index]
        return {
            "product_id": product.product_id,
            "sku": product.sku,
            "name": product.name,
            "category": product.category,
            "brand": product.brand,
            "price": _amount(product.prices[p.country_index], p.country),
            "quantity": quantity,
        }

    def _cart_item(self, p: _Person, index: int, quantity: int) -> _Payload:
        properties = self._product(p, index, quantity)
        properties["cart_id"] = f"cart_{p.index + 1}"
        return properties

    def _cart(self, p: _Person) -> _Payload:
        products = [self._product(p, i, quantity) for i, quantity in p.cart.items()]
        return {"cart_id": f"cart_{p.index + 1}", "products": products}

    def _add(self, p: _Person, index: int, quantity: int, channel: str) -> None:
        p.cart[index] = p.cart.get(index, 0) + quantity
        p.cart_channel = channel
        p.cart_version += 1

    # --- consent -------------------------------------------------------------------

    def _consent(
        self,
        p: _Person,
        t: int,
        send: _Sender,
        scope: str | None,
        *,
        granted: bool,
        purpose: str = "marketing",
    ) -> None:
        properties: _Payload = {"purpose": purpose}
        if scope is not None:
            properties["channel"] = scope
        send(t, "Consent Granted" if granted else "Consent Denied", properties)
        if scope == "email":
            p.email_ok = granted
        elif scope == "sms":
            p.sms_ok = granted
        elif scope == "push":
            p.push_ok = granted

    def _marketing_consents(self, p: _Person, t: int, send: _Sender) -> int:
        """The sign-up form's boxes: email news, and SMS when a phone number was given."""
        t += self._int(1_000, 8_000)
        self._consent(p, t, send, "email", granted=self.random() < 0.65)
        if p.phone:
            t += self._int(200, 2_000)
            self._consent(p, t, send, "sms", granted=self.random() < 0.4)
        return t

    def _maybe_revoke(self, p: _Person, t: int) -> int:
        """Now and then someone withdraws, in the preference centre, a consent they gave."""
        if self.random() >= 0.01:
            return t
        scopes = [
            s for s, ok in (("email", p.email_ok), ("sms", p.sms_ok), ("push", p.push_ok)) if ok
        ]
        if not scopes:
            return t
        scope = self.rng.choice(scopes)
        t += self._int(5_000, 60_000)
        self._server(p, t, "Consent Revoked", {"purpose": "marketing", "channel": scope})
        setattr(p, f"{scope}_ok", False)
        return t

    # --- arrivals ------------------------------------------------------------------

    def _import(self, p: _Person, t: int, day: int, _arg: object) -> int:
        """An existing customer: the CRM sync sends profile, consents and points at the start."""
        p.created = self.start_ms - self._int(30, 1500) * _DAY - self._int(0, _DAY - 1)
        self._identified(p, t)
        self._emit(
            t,
            "identify",
            None,
            self._traits(p),
            (p.user_id, None),
            channel="server",
            context={"library": {"name": "analytics-python", "version": "2.3.2"}},
        )
        p.web_logged_in = p.uses_web and self.random() < 0.5
        send = self._server_sender(p)
        t = self._marketing_consents(p, t, send)
        if p.uses_app:
            p.app_installed = p.app_logged_in = True
            t += self._int(200, 2_000)
            self._consent(p, t, send, "push", granted=self.random() < 0.55)
        if p.loyalty_id:
            t += self._int(200, 2_000)
            p.points = self._int(50, 1500)
            properties = {
                "points": p.points,
                "loyalty_id": p.loyalty_id,
                "reason": "opening_balance",
            }
            self._server(p, t, "Loyalty Points Earned", properties)
        self._schedule(p, day)
        return t

    def _arrive(self, p: _Person, t: int, day: int, _arg: object) -> int:
        """A new person's first visit: on the web, else in the app, else in a store."""
        self._schedule(p, day)
        if p.uses_web:
            return self._web_visit(p, t, day, None, reschedule=False)
        if p.uses_app:
            return self._app_visit(p, t, day, None, reschedule=False)
        return self._store_visit(p, t, day, None, reschedule=False)

    def _schedule(self, p: _Person, day: int) -> None:
        self._plan(p, _WEB, day, p.rate_web)
        self._plan(p, _APP, day, p.rate_app)
        self._plan(p, _STORE, day, p.rate_store)
        if p.account and self.random() < 0.15:
            self.calendar[self._int(day, self.days - 1)].append((p.index, _NPS, None))

    # --- web -----------------------------------------------------------------------

    def _landing(
        self, p: _Person, source: str | None, campaign: str | None
    ) -> tuple[_Page, _Payload | None, int | None]:
        """Where a web visit starts: the page, its ``context.campaign``, the product shown."""
        cc = p.country.code.lower()
        if source is None:
            roll = self.random()
            if p.cart and roll < 0.12:
                source = "retargeting"
            elif roll < 0.42:
                source = "direct"
            elif roll < 0.62:
                source = "organic"
            elif roll < 0.8:
                source = "cpc"
            elif roll < 0.92:
                source = "paid_social"
            else:
                source = "referral"
        product: int | None = None
        if source == "retargeting":
            product = next(iter(p.cart))  # the ad shows what was left in the cart
        elif source in ("organic", "cpc", "paid_social", "referral"):
            product = self._pick_product(p)
        if product is not None:
            item = self.products[product]
            path, title = f"/{cc}/p/{item.slug}", f"{item.name} | Example Shop"
        elif source in ("email", "sms"):
            category = _CATEGORIES[self.rng.choice(p.favourites)][0]
            path = f"/{cc}/c/{category.lower().replace(' & ', '-')}"
            title = f"{category} | Example Shop"
        else:
            path, title = f"/{cc}/", "Example Shop"
        utm: tuple[str, str, str] | None = None
        referrer = ""
        if source == "organic":
            referrer = self.rng.choice(("https://www.google.com/", "https://www.bing.com/"))
        elif source == "referral":
            referrer = "https://blog.example.org/gift-guide"
        elif source == "cpc":
            referrer = "https://www.google.com/"
            name = self.rng.choice(("brand_search", "generic_search", "spring_sale"))
            utm = ("google", "cpc", name)
        elif source in ("paid_social", "retargeting"):
            referrer = "https://l.facebook.com/"
            name = "retargeting_cart" if source == "retargeting" else "lookalike_new_season"
            utm = ("facebook", "paid_social", name)
        elif source == "email":
            utm = ("newsletter", "email", campaign or "newsletter")
        elif source == "sms":
            utm = ("sms", "sms", campaign or "sms")
        if utm is None:
            return _Page(path, title, "", referrer), None, product
        search = f"?utm_source={utm[0]}&utm_medium={utm[1]}&utm_campaign={utm[2]}"
        context = {"source": utm[0], "medium": utm[1], "name": utm[2]}
        return _Page(path, title, search, referrer), context, product

    def _web_visit(
        self,
        p: _Person,
        t: int,
        day: int,
        _arg: object,
        *,
        reschedule: bool = True,
        source: str | None = None,
        campaign: str | None = None,
        intent: bool = False,
    ) -> int:
        """A browser session: land, look around, maybe log in, fill the cart, buy or leave."""
        if reschedule:
            self._plan(p, _WEB, day, p.rate_web)
        cc = p.country.code.lower()
        page, utm, product = self._landing(p, source, campaign)
        self._page_view(p, t, "Landing", page, campaign=utm)
        if not p.consent_asked:  # the cookie banner
            p.consent_asked = True
            send = self._web_sender(p, page)
            t += self._int(2_000, 15_000)
            self._consent(p, t, send, None, granted=self.random() < 0.78, purpose="analytics")
            t += self._int(100, 800)
            self._consent(p, t, send, None, granted=self.random() < 0.55, purpose="ads")
        if p.account and not p.web_logged_in and (intent or self.random() < 0.3):
            t = self._log_in(p, t + self._int(10_000, 60_000))
        elif not p.account and not p.known_email and self.random() < 0.06:
            t = self._newsletter_signup(p, t + self._int(10_000, 90_000), page)
        added = False
        for view in range(1 + int(self.rng.expovariate(0.45))):
            t += self._int(15_000, 120_000)
            if view or product is None:
                if self.random() < 0.15:
                    t = self._search(p, t)
                product = self._pick_product(p)
                item = self.products[product]
                page = _Page(f"/{cc}/p/{item.slug}", f"{item.name} | Example Shop")
                self._page_view(p, t, "Product", page, category=item.category)
            viewed = self._product(p, product)
            self._web(p, t + self._int(200, 1_500), "track", "Product Viewed", viewed, page=page)
            if self.random() < 0.06 + p.buy * 0.16:
                t += self._int(5_000, 60_000)
                quantity = 2 if self.random() < 0.12 else 1
                added_item = self._cart_item(p, product, quantity)
                self._web(p, t, "track", "Product Added", added_item, page=page)
                self._add(p, product, quantity, "web")
                added = True
        if p.cart and self.random() < 0.08:
            t += self._int(5_000, 30_000)
            index = next(iter(p.cart))
            removed = self._cart_item(p, index, p.cart.pop(index))
            self._web(p, t, "track", "Product Removed", removed, page=page)
            p.cart_version += 1
        if p.cart and (intent or self.random() < p.buy * (0.6 if added else 0.35)):
            t = self._web_checkout(p, t)
        elif p.cart and self.random() < 0.4:
            t += self._int(5_000, 30_000)
            page = _Page(f"/{cc}/cart", "Your cart | Example Shop")
            self._page_view(p, t, "Cart", page)
            self._web(p, t + 400, "track", "Cart Viewed", self._cart(p), page=page)
        t = self._maybe_revoke(p, t)
        if added and p.cart:
            self._abandoned(p, day)
        return t + self._int(5_000, 60_000)

    def _search(self, p: _Person, t: int) -> int:
        query = self.products[self._pick_product(p)].category.lower()
        cc = p.country.code.lower()
        page = _Page(f"/{cc}/search", "Search | Example Shop", f"?q={query.replace(' ', '+')}")
        self._page_view(p, t, "Search", page)
        self._web(p, t + 300, "track", "Products Searched", {"query": query}, page=page)
        return t + self._int(5_000, 40_000)

    def _log_in(self, p: _Person, t: int) -> int:
        """Log in (sign up, the first time) on the website: identify ties anonymousId to userId."""
        page = _Page(f"/{p.country.code.lower()}/account/login", "Log in | Example Shop")
        self._page_view(p, t, "Log In", page)
        new = not p.identified
        t += self._int(8_000, 45_000)
        p.web_logged_in = True
        self._identified(p, t)
        self._web(
            p, t, "track", "Signed Up" if new else "Signed In", {"method": "email"}, page=page
        )
        t += self._int(100, 600)
        self._web(p, t, "identify", None, self._traits(p), page=page)
        if new:
            t = self._marketing_consents(p, t, self._web_sender(p, page))
        return t

    def _newsletter_signup(self, p: _Person, t: int, page: _Page) -> int:
        """An anonymous visitor leaves an email address in the newsletter box."""
        traits = {"email": p.email, "firstName": p.first, "country": p.country.code}
        self._web(p, t, "identify", None, traits, page=page)
        p.known_email = True
        t += self._int(500, 3_000)
        self._consent(p, t, self._web_sender(p, page), "email", granted=True)
        return t

    def _web_checkout(self, p: _Person, t: int) -> int:
        cc = p.country.code.lower()
        t += self._int(5_000, 40_000)
        page = _Page(f"/{cc}/cart", "Your cart | Example Shop")
        self._page_view(p, t, "Cart", page)
        self._web(p, t + 400, "track", "Cart Viewed", self._cart(p), page=page)
        if p.account and not p.web_logged_in:
            t = self._log_in(p, t + self._int(5_000, 20_000))
        t += self._int(10_000, 60_000)
        page = _Page(f"/{cc}/checkout", "Checkout | Example Shop")
        self._page_view(p, t, "Checkout", page)
        if not p.known_email:
            # A guest checkout still leaves an email address (and maybe a phone number).
            traits: _Payload = {"email": p.email, "firstName": p.first, "lastName": p.last}
            if p.phone:
                traits["phone"] = p.phone
            self._web(p, t + self._int(2_000, 20_000), "identify", None, traits, page=page)
            p.known_email = True
        order = self._order(p, dict(p.cart), channel="web")
        self._web(
            p, t + self._int(500, 3_000), "track", "Checkout Started", _started(order), page=page
        )
        t += self._int(30_000, 240_000)
        page = _Page(f"/{cc}/checkout/confirmation", "Thank you | Example Shop")
        self._page_view(p, t, "Order Confirmation", page)
        self._web(p, t + 200, "track", "Order Completed", order, page=page)
        self._after_order(p, t, order)
        return t

    # --- orders --------------------------------------------------------------------

    def _order(
        self,
        p: _Person,
        items: Mapping[int, int],
        *,
        channel: str,
        discount: int = 0,
        store: tuple[str, str] | None = None,
    ) -> _Payload:
        """Order Completed properties (Segment e-commerce v2), amounts in the person's currency."""
        c = p.country
        number = next(self.orders)
        subtotal = max(
            0,
            sum(self.products[i].prices[p.country_index] * q for i, q in items.items()) - discount,
        )
        collect = store is None and self.random() < (0.35 if p.loyalty_id else 0.1)
        shipping = 0 if store or collect or subtotal >= c.free_from else c.shipping
        tax = 0 if store else round(subtotal * c.tax_rate)
        affiliation = {"web": "Example Shop Web", "app": "Example Shop App"}.get(channel, "")
        properties: _Payload = {
            "order_id": f"ord_{number:07d}",
            "checkout_id": f"chk_{number:07d}",
            "affiliation": f"Store {store[1]}" if store else affiliation,
            "value": _amount(subtotal, c),
            "revenue": _amount(subtotal, c),
            "subtotal": _amount(subtotal, c),
            "shipping": _amount(shipping, c),
            "tax": _amount(tax, c),
            "total": _amount(subtotal + shipping + tax, c),
            "currency": c.currency,
            "products": [self._product(p, i, q) for i, q in items.items()],
        }
        if discount:
            properties["discount"] = _amount(discount, c)
        if store is not None:
            properties["store_id"] = store[0]
            properties["payment_method"] = self.rng.choice(("card", "card", "cash", "wallet"))
        else:
            properties["payment_method"] = self.rng.choice(("card", "card", "paypal", "wallet"))
            properties["fulfillment"] = "click_and_collect" if collect else "delivery"
            if collect:
                properties["store_id"] = p.store[0]
            if self.random() < 0.08:
                properties["coupon"] = self.rng.choice(("WELCOME10", "SPRING15", "FREESHIP"))
        if p.loyalty_id:
            properties["loyalty_id"] = p.loyalty_id
        return properties

    def _after_order(
        self, p: _Person, t: int, order: _Payload, store: tuple[str, str] | None = None
    ) -> None:
        """What follows an order: the cart empties, points, a receipt, pickup, refund, survey."""
        for product in order["products"]:  # an order takes whole cart lines
            p.cart.pop(self.product_index[product["product_id"]], None)
        p.cart_version += 1
        c = p.country
        if p.loyalty_id:
            minor = round(order["total"] * 100) if c.decimals else order["total"]
            points = minor // c.minor_per_point
            if points > 0:
                p.points += points
                properties = {
                    "points": points,
                    "loyalty_id": p.loyalty_id,
                    "order_id": order["order_id"],
                    "reason": "purchase",
                }
                at = t + self._int(1_000, 20_000)
                if store is not None:
                    self._store(p, at, "Loyalty Points Earned", properties, store)
                else:
                    self._server(p, at, "Loyalty Points Earned", properties)
        if store is None and p.known_email:
            # The receipt is transactional: it needs no marketing consent.
            receipt = {
                "email_id": f"receipt-{order['order_id']}",
                "email_subject": "Your order confirmation",
                "campaign_name": "order_confirmation",
                "order_id": order["order_id"],
            }
            self._email(p, t + self._int(10_000, 120_000), receipt, open_rate=0.7)
        if order.get("fulfillment") == "click_and_collect":
            self._pickup(p, t, order)
        if self.random() < 0.06:
            self._refund(p, t + self._int(3, 21) * _DAY + self._int(0, 8 * _HOUR), order, store)
        if self.random() < 0.2:
            score = self.rng.choices((1, 2, 3, 4, 5), (4, 5, 10, 35, 46))[0]
            at = t + self._int(1, 3) * _DAY + self._int(0, 6 * _HOUR)
            self._survey(p, at, "csat", score, order_id=order["order_id"])

    def _pickup(self, p: _Person, t: int, order: _Payload) -> None:
        """Click and collect: the store says the order is ready, then the person picks it up."""
        store = next(s for s in p.country.stores if s[0] == order["store_id"])
        properties = {"order_id": order["order_id"], "store_id": store[0]}
        ready = t + self._int(2 * _HOUR, 26 * _HOUR)
        self._store(p, ready, "Order Ready for Pickup", dict(properties), store)
        if p.sms_ok:
            sms = {"campaign_name": "pickup_ready", "message_id": f"sms-{order['order_id']}"}
            self._server(
                p, ready + self._int(5_000, 60_000), "SMS Delivered", sms, channel=None, phone=True
            )
        picked = ready + self._int(_HOUR, 3 * _DAY)
        self._store(p, picked, "Order Picked Up", dict(properties), store)
        if self.random() < 0.3:
            at = picked + self._int(_MINUTE, 10 * _MINUTE)
            self._survey(p, at, "ces", self._int(1, 7), order_id=order["order_id"], store=store)

    def _refund(self, p: _Person, t: int, order: _Payload, store: tuple[str, str] | None) -> None:
        """Some or all of an order comes back: at a store's desk, or by post to the web shop."""
        products = order["products"]
        returned = products if self.random() < 0.6 else [self.rng.choice(products)]
        c = p.country
        scale = 100 if c.decimals else 1
        minor = sum(round(item["price"] * scale) * item["quantity"] for item in returned)
        minor = min(minor, round(order["revenue"] * scale))
        properties: _Payload = {
            "order_id": order["order_id"],
            "revenue": _amount(minor, c),
            "total": _amount(minor, c),
            "currency": c.currency,
            "products": [dict(item) for item in returned],
        }
        collected = order.get("fulfillment") == "click_and_collect"
        if store is None and collected and self.random() < 0.6:
            store = p.store
        if store is None:
            self._server(p, t, "Order Refunded", properties)
        else:
            properties["store_id"] = store[0]
            self._store(p, t, "Order Refunded", properties, store)

    def _survey(
        self,
        p: _Person,
        t: int,
        survey: str,
        score: int,
        *,
        order_id: str | None = None,
        store: tuple[str, str] | None = None,
    ) -> None:
        """A survey answer: CSAT (1-5) and NPS (0-10) by emailed link, CES (1-7) in store."""
        properties: _Payload = {"survey": survey, "score": score}
        if order_id:
            properties["order_id"] = order_id
        if store is not None:
            properties["store_id"] = store[0]
            self._store(p, t, "Survey Answered", properties, store)
            return
        context = self._web_context(
            p, _Page(f"/{survey}", "Tell us how we did", f"?r={p.index + 1}")
        )
        context["page"]["url"] = f"{_SURVEYS}/{survey}?r={p.index + 1}"
        self._emit(
            t,
            "track",
            "Survey Answered",
            properties,
            self._customer_ids(p),
            channel="browser",
            context=context,
            skew=p.skew_web,
            flush=self._int(40, 900),
        )

    def _nps(self, p: _Person, t: int, _day: int, _arg: object) -> int:
        """The quarterly NPS survey, answered through an emailed link."""
        if not p.identified:
            return t
        score = self.rng.choices(range(11), (2, 1, 1, 2, 2, 5, 6, 10, 20, 25, 26))[0]
        self._survey(p, t, "nps", score)
        return t + self._int(30_000, 180_000)

    # --- abandoned carts -----------------------------------------------------------

    def _abandoned(self, p: _Person, day: int) -> None:
        """Plan what happens to a cart left behind: a reminder, another channel, or a store."""
        if day + 1 < self.days and (p.email_ok or p.push_ok) and p.reminded != p.cart_version:
            p.reminded = p.cart_version
            self.calendar[day + 1].append((p.index, _REMINDER, p.cart_version))
        later = day + self._int(1, 3)
        if later >= self.days:
            return
        roll = self.random()
        if p.uses_app and p.uses_web and p.identified and roll < 0.35:
            other = "web" if p.cart_channel == "app" else "app"
            self.calendar[later].append((p.index, _INTENT, other))
        elif roll > 0.9 and (p.loyalty_id or p.app_logged_in):
            self.calendar[later].append((p.index, _STORE, "cart"))

    def _intent(self, p: _Person, t: int, day: int, arg: str) -> int:
        """Come back to the cart on the other channel and buy it there."""
        if not p.cart:
            return t
        if arg == "app":
            return self._app_visit(p, t, day, None, reschedule=False, intent=True)
        return self._web_visit(p, t, day, None, reschedule=False, intent=True)

    def _reminder(self, p: _Person, t: int, day: int, version: int) -> int:
        """The day after: a cart-abandonment email (or push) naming what is waiting."""
        if not p.cart or version != p.cart_version:
            return t
        first = self.products[next(iter(p.cart))]
        if p.email_ok:
            email = {
                "email_id": f"cart-{p.index + 1}-{p.cart_version}",
                "email_subject": f"Still thinking about the {first.name}?",
                "campaign_name": "cart_abandonment",
            }
            return self._email(p, t, email, open_rate=0.45, click_rate=0.35, day=day)
        push = {"campaign_name": "cart_abandonment", "title": f"{first.name} is waiting"}
        return self._push(p, t, push, tap_rate=0.25, day=day)

    # --- email, SMS and push -------------------------------------------------------

    def _email(
        self,
        p: _Person,
        t: int,
        email: _Payload,
        *,
        open_rate: float,
        click_rate: float = 0.0,
        day: int | None = None,
    ) -> int:
        """An email is delivered; it may be opened, clicked through to the shop, or unsubscribed.

        Marketing emails (``day`` given) can lead to a web visit on that day.
        """
        self._server(p, t, "Email Delivered", dict(email), channel=None)
        if self.random() >= open_rate:
            return t
        t += self._int(10 * _MINUTE, 8 * _HOUR)
        self._server(p, t, "Email Opened", dict(email), channel=None)
        if day is None:
            return t
        if p.email_ok and self.random() < 0.01:
            t += self._int(5_000, 60_000)
            self._server(p, t, "Unsubscribed", dict(email), channel=None)
            p.email_ok = False
            return t
        if not p.uses_web or self.random() >= click_rate:
            return t
        t += self._int(5_000, 90_000)
        clicked = {**email, "link_url": f"{_SITE}/{p.country.code.lower()}/"}
        self._server(p, t, "Email Link Clicked", clicked, channel=None)
        return self._web_visit(
            p,
            t + self._int(1_000, 5_000),
            day,
            None,
            reschedule=False,
            source="email",
            campaign=email["campaign_name"],
            intent=email["campaign_name"] == "cart_abandonment" and self.random() < 0.5,
        )

    def _email_campaign(self, p: _Person, t: int, day: int, _arg: object) -> int:
        week = day // 7 + 1
        email = {
            "email_id": f"nl-{week:03d}",
            "email_subject": _SUBJECTS[week % len(_SUBJECTS)],
            "campaign_id": f"cmp_nl_{week:03d}",
            "campaign_name": f"newsletter_week_{week}",
        }
        return self._email(p, t, email, open_rate=0.24, click_rate=0.15, day=day)

    def _push(self, p: _Person, t: int, push: _Payload, *, tap_rate: float, day: int) -> int:
        """A push arrives on the phone; a tap opens the app."""
        self._app(p, t, "track", "Push Notification Received", dict(push), channel=None, token=True)
        if self.random() >= tap_rate:
            return t
        t += self._int(30_000, 3 * _HOUR)
        self._app(p, t, "track", "Push Notification Tapped", dict(push), channel=None, token=True)
        return self._app_visit(
            p,
            t + self._int(500, 3_000),
            day,
            None,
            reschedule=False,
            from_push=push["campaign_name"],
        )

    def _push_campaign(self, p: _Person, t: int, day: int, _arg: object) -> int:
        week = day // 7 + 1
        push = {
            "campaign_id": f"cmp_push_{week:03d}",
            "campaign_name": f"push_week_{week}",
            "title": "New arrivals picked for you",
        }
        return self._push(p, t, push, tap_rate=0.12, day=day)

    def _sms_campaign(self, p: _Person, t: int, day: int, _arg: object) -> int:
        week = day // 7 + 1
        sms = {
            "campaign_id": f"cmp_sms_{week:03d}",
            "campaign_name": f"weekend_sale_{week}",
            "message_id": f"sms-{week}-{p.index + 1}",
        }
        self._server(p, t, "SMS Delivered", sms, channel=None, phone=True)
        if p.uses_web and self.random() < 0.07:
            return self._web_visit(
                p,
                t + self._int(_MINUTE, 2 * _HOUR),
                day,
                None,
                reschedule=False,
                source="sms",
                campaign=sms["campaign_name"],
            )
        return t

    # --- app -----------------------------------------------------------------------

    def _app_visit(
        self,
        p: _Person,
        t: int,
        day: int,
        _arg: object,
        *,
        reschedule: bool = True,
        intent: bool = False,
        from_push: str | None = None,
    ) -> int:
        """An app session: open (install and log in the first time), browse, fill the cart, buy."""
        if reschedule:
            self._plan(p, _APP, day, p.rate_app)
        if not p.app_installed:
            t = self._install(p, t)
        else:
            opened: _Payload = {"from_background": self.random() < 0.4, **_APP_VERSION}
            if from_push:
                opened["referring_application"] = "push"
                opened["campaign_name"] = from_push
            self._app(p, t, "track", "Application Opened", opened)
        t += self._int(2_000, 10_000)
        self._app(p, t, "screen", "Home", {})
        added = False
        for _ in range(1 + int(self.rng.expovariate(0.4))):
            t += self._int(10_000, 90_000)
            index = self._pick_product(p)
            shown = {"product_id": self.products[index].product_id}
            self._app(p, t, "screen", "Product Detail", shown)
            self._app(
                p, t + self._int(100, 900), "track", "Product Viewed", self._product(p, index)
            )
            if self.random() < 0.07 + p.buy * 0.16:
                t += self._int(3_000, 40_000)
                self._app(p, t, "track", "Product Added", self._cart_item(p, index, 1))
                self._add(p, index, 1, "app")
                added = True
        if p.cart and (intent or self.random() < p.buy * (0.5 if added else 0.3)):
            t += self._int(5_000, 30_000)
            self._app(p, t, "screen", "Cart", {})
            self._app(p, t + 300, "track", "Cart Viewed", self._cart(p))
            order = self._order(p, dict(p.cart), channel="app")
            t += self._int(10_000, 60_000)
            self._app(p, t, "screen", "Checkout", {})
            self._app(p, t + 500, "track", "Checkout Started", _started(order))
            t += self._int(30_000, 180_000)
            self._app(p, t, "track", "Order Completed", order)
            self._after_order(p, t, order)
        elif p.cart and self.random() < 0.3:
            t += self._int(5_000, 30_000)
            self._app(p, t, "screen", "Cart", {})
            self._app(p, t + 300, "track", "Cart Viewed", self._cart(p))
        t = self._maybe_revoke(p, t)
        if added and p.cart:
            self._abandoned(p, day)
        return t + self._int(5_000, 60_000)

    def _install(self, p: _Person, t: int) -> int:
        """First start of the app: install, open, log in (or sign up), answer the push prompt."""
        p.app_installed = True
        self._app(p, t, "track", "Application Installed", dict(_APP_VERSION))
        t += self._int(1_000, 5_000)
        self._app(p, t, "track", "Application Opened", {"from_background": False, **_APP_VERSION})
        t += self._int(20_000, 90_000)
        self._app(p, t, "screen", "Log In", {})
        new = not p.identified
        t += self._int(10_000, 60_000)
        p.app_logged_in = True
        self._identified(p, t)
        self._app(p, t, "track", "Signed Up" if new else "Signed In", {"method": "email"})
        self._app(p, t + 200, "identify", None, self._traits(p))
        send = self._app_sender(p)
        if new:
            t = self._marketing_consents(p, t + 400, send)
        t += self._int(1_000, 10_000)
        self._consent(p, t, send, "push", granted=self.random() < 0.55)
        return t

    # --- stores --------------------------------------------------------------------

    def _store_visit(
        self, p: _Person, t: int, day: int, arg: str | None, *, reschedule: bool = True
    ) -> int:
        """A store visit, seen by the loyalty card or the app: an SMS offer, maybe a purchase.

        ``arg`` is ``"cart"`` when the visit follows a cart left online.
        """
        if reschedule and arg is None:
            self._plan(p, _STORE, day, p.rate_store)
        store = p.store if self.random() < 0.85 else self.rng.choice(p.country.stores)
        visit: _Payload = {"store_id": store[0], "store_name": f"Store {store[1]}"}
        if not p.loyalty_id:
            # Without a loyalty card only the app can tell (such visits are planned for app users).
            self._app(p, t, "track", "Store Visited", visit, channel="store")
            return t + self._int(10 * _MINUTE, 40 * _MINUTE)
        visit["loyalty_id"] = p.loyalty_id
        self._store(p, t, "Store Visited", visit, store)
        send = self._store_sender(p, store)
        if not p.known_email and self.random() < 0.5:
            # Joining the loyalty programme at the till: the card gets a name and an address.
            traits = {
                "loyalty_id": p.loyalty_id,
                "firstName": p.first,
                "lastName": p.last,
                "email": p.email,
                "country": p.country.code,
            }
            self._store(p, t + 1_000, None, traits, store, type_="identify")
            p.known_email = True
            self._consent(p, t + 2_000, send, "email", granted=self.random() < 0.5)
        if p.sms_ok and self.random() < 0.3:
            sms = {
                "campaign_name": "in_store_offer",
                "message_id": f"sms-store-{day}-{p.index + 1}",
                "store_id": store[0],
            }
            at = t + self._int(2 * _MINUTE, 10 * _MINUTE)
            self._server(p, at, "SMS Delivered", sms, channel=None, phone=True)
        t += self._int(8 * _MINUTE, 45 * _MINUTE)
        if self.random() >= (0.8 if arg == "cart" else 0.6):
            return t
        items: dict[int, int] = {}
        if p.cart and (arg == "cart" or self.random() < 0.4):
            items.update(p.cart)  # the cart left online, bought in the store
        for _ in range(self._int(0 if items else 1, 3)):
            index = self._pick_product(p)
            items[index] = items.get(index, 0) + 1
        discount = 0
        if p.points >= 500 and self.random() < 0.35:
            subtotal = sum(self.products[i].prices[p.country_index] * q for i, q in items.items())
            discount = min(p.country.reward, subtotal)
            p.points -= 500
            redeemed = {
                "points": 500,
                "loyalty_id": p.loyalty_id,
                "reason": "reward",
                "store_id": store[0],
            }
            self._store(p, t - 20_000, "Loyalty Points Redeemed", redeemed, store)
        order = self._order(p, items, channel="store", discount=discount, store=store)
        self._store(p, t, "Order Completed", order, store)
        self._after_order(p, t, order, store)
        return t + self._int(_MINUTE, 5 * _MINUTE)


_COUNTRY_CUM = tuple(itertools.accumulate(c.weight for c in _COUNTRIES))


# --- the public functions --------------------------------------------------------------


def _check_int(value: object, name: str, minimum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.one(
            f"$.{name}", "type", f"must be an int, not {type(value).__name__}"
        )
    if minimum is not None and value < minimum:
        raise ValidationError.one(f"$.{name}", "out_of_range", f"must be >= {minimum}, not {value}")


def _start_ms(start: object) -> int:
    if start is None:
        start = _DEFAULT_START
    if not isinstance(start, dt.datetime):
        raise ValidationError.one(
            "$.start", "type", f"must be a timezone-aware datetime, not {type(start).__name__}"
        )
    if start.utcoffset() is None:
        raise ValidationError.one(
            "$.start", "naive_datetime", "must carry a time zone (naive datetimes are ambiguous)"
        )
    # Rounded up to the millisecond, so no message falls before ``start``.
    return -((_EPOCH - start) // dt.timedelta(milliseconds=1))


def iter_synthetic_retail(
    n_profiles: int, days: int, seed: int, *, start: dt.datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the messages of `synthetic_retail` one by one, in timestamp order.

    Memory stays at about one simulated day of messages (plus those already
    planned for later days) whatever ``days`` is, so this is the way to
    write millions of events to a file. The arguments are checked at the
    call, before the first message.

    Raises:
        ValidationError: ``n_profiles`` or ``days`` below 1, ``seed`` not an
            int, ``start`` not a timezone-aware datetime.

    Examples:
        >>> stream = iter_synthetic_retail(10, 3, 7)
        >>> first = next(stream)
        >>> first["type"], first["timestamp"]
        ('identify', '2024-01-01T00:45:20.795Z')

    .. versionadded:: 0.1.0
    """
    _check_int(n_profiles, "n_profiles", 1)
    _check_int(days, "days", 1)
    _check_int(seed, "seed", None)
    start_ms = _start_ms(start)
    return _Simulation(n_profiles, days, seed, start_ms).run()


def synthetic_retail(
    n_profiles: int, days: int, seed: int, *, start: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Simulate ``n_profiles`` shoppers for ``days`` days; return their Segment messages by time.

    The window starts at ``start`` (default 2024-01-01T00:00:00Z). The same
    arguments always give the same messages; ``seed`` picks the population
    and everything it does. Expect about 0.6 messages per person per day
    (``synthetic_retail(20_000, 90, 7)`` makes about a million); the guide
    *Synthetic data* lists what they contain.

    Every message is a dict in Segment's wire format: ``type``,
    ``messageId`` (unique), ``userId`` and ``anonymousId`` (one may be
    null), ``channel``, ``timestamp``, ``originalTimestamp``, ``sentAt`` and
    ``receivedAt`` (ISO-8601, ``Z``), ``context``, and ``properties`` or
    ``traits``. Each is under 32 KB and `omnichannel.ingest.parse_segment`
    accepts it.

    Raises:
        ValidationError: ``n_profiles`` or ``days`` below 1, ``seed`` not an
            int, ``start`` not a timezone-aware datetime.

    Examples:
        >>> from omnichannel.ingest import parse_segment
        >>> events = [parse_segment(p) for p in synthetic_retail(50, 14, 3)]
        >>> sorted({str(e.channel) for e in events if e.channel})
        ['app', 'email', 'push', 'sms', 'store', 'web']

    .. versionadded:: 0.1.0
    """
    stream = iter_synthetic_retail(n_profiles, days, seed, start=start)
    # No caller code runs until the list is complete, so the collector can rest
    # throughout (the payloads hold no cycles); see _Simulation.run.
    with collector_paused():
        return list(stream)


def write_jsonl(payloads: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write messages to ``path`` as JSON Lines (UTF-8, one object a line); return how many.

    ``payloads`` may be a generator such as `iter_synthetic_retail`: nothing
    is held in memory. An existing file is replaced.

    Examples:
        >>> import json, pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder) / "events.jsonl"
        ...     count = write_jsonl(iter_synthetic_retail(5, 2, 1), path)
        ...     lines = path.read_text(encoding="utf-8").splitlines()
        >>> count == len(lines), json.loads(lines[0])["type"]
        (True, 'identify')

    .. versionadded:: 0.1.0
    """
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:  # noqa: PTH123 - str or PathLike
        for payload in payloads:
            out.write(encode(payload) + "\n")
            count += 1
    return count


_PARQUET_TEXT = ("type", "messageId", "userId", "anonymousId", "event", "name", "channel")
_PARQUET_TIMES = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")
_PARQUET_JSON = ("context", "properties", "traits")
_PARQUET_KNOWN = frozenset((*_PARQUET_TEXT, *_PARQUET_TIMES, *_PARQUET_JSON))


def write_parquet(
    payloads: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    batch_size: int = 100_000,
) -> int:
    """Write messages to a Parquet file, one row each (needs ``pyarrow``); return how many.

    Columns: ``type``, ``messageId``, ``userId``, ``anonymousId``, ``event``,
    ``name`` and ``channel`` as text; ``timestamp``, ``originalTimestamp``,
    ``sentAt`` and ``receivedAt`` as UTC timestamps (ms); ``context``,
    ``properties`` and ``traits`` as JSON text (their keys vary by event);
    ``extra``, JSON text of any other top-level keys (null when there are
    none). Rows are written ``batch_size`` at a time, so a generator is never
    held whole. ``pyarrow`` is imported only here: it is not a dependency of
    `omnichannel`.

    Raises:
        OmnichannelError: ``pyarrow`` is not installed (``pip install pyarrow``).
        ValidationError: ``batch_size`` below 1.

    .. versionadded:: 0.1.0
    """
    _check_int(batch_size, "batch_size", 1)
    try:
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise OmnichannelError(
            "write_parquet needs pyarrow, which is not installed: pip install pyarrow"
        ) from None
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    stamp = pa.timestamp("ms", tz="UTC")
    schema = pa.schema(
        [(name, pa.string()) for name in _PARQUET_TEXT]
        + [(name, stamp) for name in _PARQUET_TIMES]
        + [(name, pa.string()) for name in (*_PARQUET_JSON, "extra")]
    )

    def text(rows: list[Mapping[str, Any]], name: str) -> Any:
        return pa.array([None if r.get(name) is None else str(r[name]) for r in rows], pa.string())

    def as_json(values: Iterable[Any]) -> Any:
        return pa.array([None if v is None else encode(v) for v in values], pa.string())

    def table(rows: list[Mapping[str, Any]]) -> Any:
        columns = [text(rows, name) for name in _PARQUET_TEXT]
        columns += [text(rows, name).cast(stamp) for name in _PARQUET_TIMES]
        columns += [as_json(r.get(name) for r in rows) for name in _PARQUET_JSON]
        extras = ({k: v for k, v in r.items() if k not in _PARQUET_KNOWN} for r in rows)
        columns.append(as_json(extra or None for extra in extras))
        return pa.Table.from_arrays(columns, schema=schema)

    count = 0
    with pq.ParquetWriter(os.fspath(path), schema) as writer:
        rows: list[Mapping[str, Any]] = []
        for payload in payloads:
            rows.append(payload)
            if len(rows) == batch_size:
                writer.write_table(table(rows))
                count += len(rows)
                rows = []
        if rows or not count:
            writer.write_table(table(rows))
            count += len(rows)
    return count
