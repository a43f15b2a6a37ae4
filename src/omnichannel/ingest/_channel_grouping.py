"""GA4's default channel groups, from source / medium / campaign or from a URL and referrer.

The rules are Google Analytics 4's manual-traffic table (late-2023 revision),
evaluated top to bottom, first match wins, case-insensitively. The source
category list (which sources count as search, social, video or shopping
sites) is Google's, loaded as data from ``_data/ga4_source_categories.csv``
so it can be updated without touching code.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Mapping
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import attrs

from omnichannel.errors import ValidationError

DIRECT = "(direct)"
NONE = "(none)"
NOT_SET = "(not set)"

_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$", re.DOTALL)
_SHOP_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$", re.DOTALL)
_DISPLAY_MEDIUMS = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_SOCIAL_MEDIUMS = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
_REFERRAL_MEDIUMS = frozenset({"referral", "app", "link"})
_EMAIL_WORDS = frozenset({"email", "e-mail", "e_mail", "e mail"})

# Search engines recognised in a referrer, by the label before the public suffix,
# when what stands before it is only a search front door (www.google.co.uk,
# search.yahoo.com), not another service of the same company (groups.google.com).
_SEARCH_ENGINES = frozenset(
    {
        "google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "naver",
        "seznam", "sogou", "daum", "aol", "qwant", "startpage", "brave",
    }
)  # fmt: skip
_SEARCH_FRONT_DOORS = frozenset({"", "www", "m", "search", "html", "lite", "start", "cn"})
# Second-level labels under which a country code forms the public suffix (google.co.uk).
_SECOND_LEVEL = frozenset({"co", "com", "ne", "or", "ac", "go", "gov", "edu", "net", "org"})


@functools.cache
def source_categories() -> Mapping[str, str]:
    """Return Google's source-category list: lowercase source -> SEARCH/SOCIAL/VIDEO/SHOPPING.

    Examples:
        >>> source_categories()["l.facebook.com"]
        'SOCIAL'
    """
    text = (
        resources.files("omnichannel.ingest")
        .joinpath("_data/ga4_source_categories.csv")
        .read_text("utf-8")
    )
    rows = csv.DictReader(io.StringIO(text))
    return {
        row["source"].strip().lower(): row["source_category"].removeprefix("SOURCE_CATEGORY_")
        for row in rows
    }


@attrs.frozen(kw_only=True)
class UtmParameters:
    """Campaign parameters read from a landing-page URL.

    .. versionadded:: 0.1.0
    """

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    id: str | None = None
    gclid: str | None = None

    @property
    def has_campaign(self) -> bool:
        """Say whether any utm_* campaign field is set (they then win over the referrer)."""
        return any((self.source, self.medium, self.campaign, self.term, self.content, self.id))


def _dimension(value: str) -> str:
    """GA4 compares source, medium and campaign case-insensitively, trimmed."""
    if not isinstance(value, str):
        raise ValidationError.one("$", "type", "must be a string")
    return value.strip().lower() or NOT_SET


@attrs.frozen(kw_only=True)
class TrafficSource:
    """Where a session came from, as GA4 records it (values are trimmed and lowercased).

    Examples:
        >>> TrafficSource(source="Google", medium=" CPC ", campaign="").channel_group
        'Paid Search'

    .. versionadded:: 0.1.0
    """

    source: str = attrs.field(converter=_dimension)
    medium: str = attrs.field(converter=_dimension)
    campaign: str = attrs.field(converter=_dimension)

    @property
    def channel_group(self) -> str:
        """The GA4 default channel group of this source / medium / campaign."""
        return _classify(self.source, self.medium, self.campaign)


def utm_from_url(url: str) -> UtmParameters:
    """Read the utm_* parameters (and Google Ads' gclid) from a URL.

    Parameter names are matched case-insensitively; the first value of a
    repeated parameter wins; blank values count as absent.

    Examples:
        >>> utm = utm_from_url("https://shop.example.com/?utm_source=Newsletter&utm_medium=email")
        >>> utm.source, utm.medium, utm.campaign
        ('Newsletter', 'email', None)

    .. versionadded:: 0.1.0
    """
    if not isinstance(url, str):
        raise ValidationError.one("$.url", "type", "must be a string")
    params: dict[str, str] = {}
    for key, values in parse_qs(urlsplit(url).query, keep_blank_values=False).items():
        present = [v.strip() for v in values if v.strip()]
        if present:
            params.setdefault(key.lower(), present[0])

    def get(name: str) -> str | None:
        return params.get(name) or None

    return UtmParameters(
        source=get("utm_source"),
        medium=get("utm_medium"),
        campaign=get("utm_campaign"),
        term=get("utm_term"),
        content=get("utm_content"),
        id=get("utm_id"),
        gclid=get("gclid"),
    )


def traffic_source(*, url: str | None = None, referrer: str | None = None) -> TrafficSource:
    """Derive source / medium / campaign for a landing as GA4 does.

    utm_* parameters on ``url`` win; else a ``gclid`` means ``google / cpc``;
    else a search-engine referrer is ``<engine> / organic``, any other referrer
    ``<host> / referral``; with neither it is ``(direct) / (none)``.

    Examples:
        >>> traffic_source(referrer="https://www.google.co.uk/search?q=shoes")
        TrafficSource(source='google', medium='organic', campaign='(organic)')
        >>> traffic_source(referrer="https://l.facebook.com/l.php?u=x").channel_group
        'Organic Social'

    .. versionadded:: 0.1.0
    """
    for name, value in (("url", url), ("referrer", referrer)):
        if value is not None and not isinstance(value, str):
            raise ValidationError.one(f"$.{name}", "type", "must be a string")
    utm = utm_from_url(url) if url else UtmParameters()
    if utm.has_campaign:
        return TrafficSource(
            source=utm.source or NOT_SET,
            medium=utm.medium or NOT_SET,
            campaign=utm.campaign or NOT_SET,
        )
    if utm.gclid:
        return TrafficSource(source="google", medium="cpc", campaign=NOT_SET)
    host = _referrer_host(referrer) if referrer else None
    if not host:
        return TrafficSource(source=DIRECT, medium=NONE, campaign=DIRECT)
    engine = _search_engine(host)
    if engine is not None:
        return TrafficSource(source=engine, medium="organic", campaign="(organic)")
    return TrafficSource(source=host, medium="referral", campaign="(referral)")


def channel_group(
    *,
    source: str | None = None,
    medium: str | None = None,
    campaign: str | None = None,
    referrer: str | None = None,
) -> str:
    """Return the GA4 default channel group ("Organic Search", "Paid Social", "Email", ...).

    Campaign fields win: when ``source``, ``medium`` or ``campaign`` is given,
    missing ones read as ``(not set)``. Only when none is given does the
    ``referrer`` decide (see `traffic_source`); with nothing at all the
    session is Direct.

    Examples:
        >>> channel_group(source="google", medium="cpc")
        'Paid Search'
        >>> channel_group(source="newsletter", medium="email", campaign="holiday-shopping")
        'Organic Shopping'
        >>> channel_group(referrer="https://duckduckgo.com/")
        'Organic Search'
        >>> channel_group()
        'Direct'

    .. versionadded:: 0.1.0
    """
    for name, value in (
        ("source", source),
        ("medium", medium),
        ("campaign", campaign),
        ("referrer", referrer),
    ):
        if value is not None and not isinstance(value, str):
            raise ValidationError.one(f"$.{name}", "type", "must be a string")
    if any(v is not None and v.strip() for v in (source, medium, campaign)):
        return TrafficSource(
            source=source or NOT_SET, medium=medium or NOT_SET, campaign=campaign or NOT_SET
        ).channel_group
    return traffic_source(referrer=referrer).channel_group


def _classify(source: str, medium: str, campaign: str) -> str:
    """GA4's ordered rules; inputs are lowercase."""
    category = source_categories().get(source)
    paid = _PAID_MEDIUM.match(medium) is not None
    shop_campaign = _SHOP_CAMPAIGN.match(campaign) is not None
    if source == DIRECT and medium in (NOT_SET, NONE):
        return "Direct"
    if "cross-network" in campaign:
        return "Cross-network"
    if paid:
        if category == "SHOPPING" or shop_campaign:
            return "Paid Shopping"
        paid_groups = {"SEARCH": "Paid Search", "SOCIAL": "Paid Social", "VIDEO": "Paid Video"}
        if category in paid_groups:
            return paid_groups[category]
    if medium in _DISPLAY_MEDIUMS:
        return "Display"
    if paid:
        return "Paid Other"
    if category == "SHOPPING" or shop_campaign:
        return "Organic Shopping"
    if category == "SOCIAL" or medium in _SOCIAL_MEDIUMS:
        return "Organic Social"
    if category == "VIDEO" or "video" in medium:
        return "Organic Video"
    if category == "SEARCH" or medium == "organic":
        return "Organic Search"
    if medium in _REFERRAL_MEDIUMS:
        return "Referral"
    if source in _EMAIL_WORDS or medium in _EMAIL_WORDS:
        return "Email"
    if medium == "affiliate":
        return "Affiliates"
    if medium == "audio":
        return "Audio"
    if source == "sms" or medium == "sms":
        return "SMS"
    if (
        medium.endswith("push")
        or "mobile" in medium
        or "notification" in medium
        or source == "firebase"
    ):
        return "Mobile Push Notifications"
    return "Unassigned"


def _referrer_host(referrer: str) -> str | None:
    text = referrer.strip()
    if not text:
        return None
    if "//" not in text:
        text = "//" + text  # a bare host ("news.example.net") is a referrer too
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    # GA4 reports referral sources without "www." (facebook.com, not www.facebook.com),
    # and Google's source list is written that way too.
    return host.removeprefix("www.") if host.count(".") >= 2 else host


def _search_engine(host: str) -> str | None:
    labels = host.split(".")
    if len(labels) < 2:
        return None
    suffix = 2 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 1
    registrable = labels[-suffix - 1]
    # Google's list decides for the hosts it names (cse.google.com is search,
    # groups.google.com is social); otherwise only an engine's front door counts.
    listed = source_categories().get(host)
    if listed is not None:
        return registrable if listed == "SEARCH" else None
    front = ".".join(labels[: -suffix - 1])
    if registrable in _SEARCH_ENGINES and front in _SEARCH_FRONT_DOORS:
        return registrable
    return None
