"""GA4 default channel grouping against shared/conformance/channel-grouping/RULES.md."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import omnichannel
from omnichannel.ingest import (
    TrafficSource,
    channel_group,
    source_categories,
    traffic_source,
    utm_from_url,
)

CHANNELS = frozenset(
    {
        "Direct",
        "Cross-network",
        "Paid Shopping",
        "Paid Search",
        "Paid Social",
        "Paid Video",
        "Display",
        "Paid Other",
        "Organic Shopping",
        "Organic Social",
        "Organic Video",
        "Organic Search",
        "Referral",
        "Email",
        "Affiliates",
        "Audio",
        "SMS",
        "Mobile Push Notifications",
        "Unassigned",
    }
)

NS = "(not set)"

# --- §2: the 19 ordered rules, at least one positive case each ---------------------------------

RULE_CASES = [
    # 1 Direct
    ("(direct)", "(none)", "(direct)", "Direct"),
    ("(direct)", "(not set)", NS, "Direct"),
    # 2 Cross-network (beats paid search)
    ("google", "cpc", "pmax_cross-network_q4", "Cross-network"),
    ("newsletter", "email", "cross-network", "Cross-network"),
    # 3 Paid Shopping
    ("amazon", "cpc", NS, "Paid Shopping"),
    ("walmart.com", "ppc", NS, "Paid Shopping"),
    ("newsletter", "paid", "shop_now", "Paid Shopping"),
    # 4 Paid Search
    ("google", "cpc", NS, "Paid Search"),
    ("bing", "ppc", "brand", "Paid Search"),
    # 5 Paid Social
    ("facebook", "paid_social", NS, "Paid Social"),
    ("linkedin", "cpc", "b2b", "Paid Social"),
    # 6 Paid Video
    ("youtube", "cpv", NS, "Paid Video"),
    ("vimeo", "paidvideo", NS, "Paid Video"),
    # 7 Display
    ("unknown_network", "display", NS, "Display"),
    ("unknown_network", "banner", NS, "Display"),
    ("unknown_network", "expandable", NS, "Display"),
    ("unknown_network", "interstitial", NS, "Display"),
    ("unknown_network", "cpm", NS, "Display"),
    # 8 Paid Other
    ("newsletter", "retargeting", NS, "Paid Other"),
    ("criteo", "cpa", NS, "Paid Other"),
    # 9 Organic Shopping
    ("etsy", "referral", NS, "Organic Shopping"),
    ("amazon", NS, NS, "Organic Shopping"),
    ("newsletter", "email", "summer_shopping", "Organic Shopping"),
    # 10 Organic Social
    ("instagram", "referral", NS, "Organic Social"),
    ("example", "social", NS, "Organic Social"),
    ("example", "social-network", NS, "Organic Social"),
    ("example", "social-media", NS, "Organic Social"),
    ("example", "sm", NS, "Organic Social"),
    ("example", "social network", NS, "Organic Social"),
    ("example", "social media", NS, "Organic Social"),
    # 11 Organic Video
    ("vimeo", "referral", NS, "Organic Video"),
    ("example", "video_post", NS, "Organic Video"),
    # 12 Organic Search
    ("duckduckgo", "referral", NS, "Organic Search"),
    ("yahoo", NS, NS, "Organic Search"),
    ("example", "organic", NS, "Organic Search"),
    # 13 Referral
    ("news.example.net", "referral", NS, "Referral"),
    ("example", "app", NS, "Referral"),
    ("example", "link", NS, "Referral"),
    # 14 Email
    ("newsletter", "email", "spring", "Email"),
    ("mailchimp", "e-mail", NS, "Email"),
    ("braze", "e_mail", NS, "Email"),
    ("braze", "e mail", NS, "Email"),
    ("email", NS, NS, "Email"),
    ("e-mail", "blast", NS, "Email"),
    ("e_mail", NS, NS, "Email"),
    ("e mail", NS, NS, "Email"),
    # 15 Affiliates
    ("awin", "affiliate", NS, "Affiliates"),
    # 16 Audio
    ("acme_radio", "audio", NS, "Audio"),
    # 17 SMS
    ("twilio", "sms", NS, "SMS"),
    ("sms", "text", NS, "SMS"),
    # 18 Mobile Push Notifications
    ("onesignal", "web_push", NS, "Mobile Push Notifications"),
    ("example", "push", NS, "Mobile Push Notifications"),
    ("example", "mobile_alert", NS, "Mobile Push Notifications"),
    ("example", "in_app_notification", NS, "Mobile Push Notifications"),
    ("firebase", NS, NS, "Mobile Push Notifications"),
    # 19 Unassigned
    ("newsletter", "newsletter", NS, "Unassigned"),
    ("taboola", "sponsored", NS, "Unassigned"),
]


@pytest.mark.parametrize(("source", "medium", "campaign", "expected"), RULE_CASES)
def test_each_rule_has_a_positive_case(source, medium, campaign, expected):
    """Each of the 19 ordered rules of §2 assigns its channel to a matching session."""
    actual = channel_group(source=source, medium=medium, campaign=campaign)
    assert expected == actual


def test_rule_table_covers_all_19_channels():
    """The rule table above exercises every one of the 19 channels of §2."""
    expected = CHANNELS
    actual = {case[3] for case in RULE_CASES}
    assert expected == actual
    assert 19 == len(actual)


# --- §2: consequences of the order ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "expected"),
    [
        ("google", "cpm", NS, "Paid Search"),
        ("unknown_network", "cpm", NS, "Display"),
        ("facebook", "display", NS, "Display"),
        ("google", "cpc", "summer_shopping", "Paid Shopping"),
        ("newsletter", "email", "holiday-shopping", "Organic Shopping"),
        ("facebook", "email", NS, "Organic Social"),
        ("bing", "referral", NS, "Organic Search"),
        ("youtube", "organic", NS, "Organic Video"),
        ("newsletter", "paid_video", NS, "Paid Other"),
        ("(direct)", "email", NS, "Email"),
        ("(not set)", "(not set)", NS, "Unassigned"),
        ("linkedin", "social_paid", NS, "Organic Social"),
    ],
)
def test_consequences_of_rule_order(source, medium, campaign, expected):
    """Each 'consequence of the order' listed in §2 gets the channel the spec names."""
    actual = channel_group(source=source, medium=medium, campaign=campaign)
    assert expected == actual


# --- §1: shared patterns ----------------------------------------------------------------------

PAID_MEDIA = [
    "cpc",
    "cpv",
    "cpa",
    "ecpc",
    "ppc",
    "retargeting",
    "paid",
    "paidsearch",
    "paid_social",
]


@pytest.mark.parametrize("medium", [*PAID_MEDIA, "xcpx"])
def test_paid_medium_matches(medium):
    """A medium matching PAID_MEDIUM makes an unlisted source Paid Other."""
    expected = "Paid Other"
    actual = channel_group(source="newsletter", medium=medium)
    assert expected == actual


@pytest.mark.parametrize(
    "medium",
    ["social_paid", "ads", "sponsored", "unpaid", "myppc", "ppc2", "retargeting2", "re-targeting"],
)
def test_paid_medium_does_not_match(medium):
    """A medium that PAID_MEDIUM does not match as a whole value is not paid."""
    expected = "Unassigned"
    actual = channel_group(source="newsletter", medium=medium)
    assert expected == actual


@pytest.mark.parametrize(
    "campaign",
    ["shop_now", "summer_shop", "eshop", "e-shop", "shop", "shopping", "workshopping", "2for1shop"],
)
def test_shop_campaign_matches(campaign):
    """A SHOP_CAMPAIGN campaign turns an email send Organic Shopping, a paid one Paid Shopping."""
    expected = ("Organic Shopping", "Paid Shopping")
    actual = (
        channel_group(source="newsletter", medium="email", campaign=campaign),
        channel_group(source="newsletter", medium="cpc", campaign=campaign),
    )
    assert expected == actual


@pytest.mark.parametrize("campaign", ["workshop", "bookshop", "ashop", "zshop", "sho_p"])
def test_shop_campaign_does_not_match(campaign):
    """A campaign whose `shop` follows a letter other than `e` is not a shopping campaign."""
    expected = ("Email", "Paid Other")
    actual = (
        channel_group(source="newsletter", medium="email", campaign=campaign),
        channel_group(source="newsletter", medium="cpc", campaign=campaign),
    )
    assert expected == actual


# --- §1: case-insensitivity and whitespace ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "expected"),
    [
        ("Google", "CPC", None, "Paid Search"),
        ("GOOGLE", "Cpc", None, "Paid Search"),
        ("  google ", " cpc\t", None, "Paid Search"),
        ("FaceBook", "Paid_Social", None, "Paid Social"),
        ("(DIRECT)", "(None)", None, "Direct"),
        ("Newsletter", "EMAIL", "Holiday-SHOPPING", "Organic Shopping"),
        ("Newsletter", "Email", "Summer_Shop", "Organic Shopping"),
        ("Google", "CPC", "Q4_Cross-Network", "Cross-network"),
        ("L.Facebook.COM", "Referral", None, "Organic Social"),
        ("unknown", "Social Media", None, "Organic Social"),
        ("unknown", " Banner ", None, "Display"),
        ("unknown", "Web_PUSH", None, "Mobile Push Notifications"),
        ("SMS", "Text", None, "SMS"),
        ("FireBase", None, None, "Mobile Push Notifications"),
    ],
)
def test_case_and_surrounding_whitespace_are_ignored(source, medium, campaign, expected):
    """Inputs are compared case-insensitively, ignoring surrounding whitespace."""
    actual = channel_group(source=source, medium=medium, campaign=campaign)
    assert expected == actual


def test_traffic_source_object_classifies_case_insensitively():
    """A TrafficSource built with mixed-case, padded fields gets the same channel as lowercase ones."""
    expected = "Paid Search"
    actual = TrafficSource(source=" Google ", medium="CPC", campaign="(not set)").channel_group
    assert expected == actual


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://groups.google.com/g/x", "Organic Social"),
        ("https://sites.google.com/view/x", "Organic Social"),
        ("https://docs.google.com/document/d/1", "Referral"),
        ("https://ask.fm/someone", "Referral"),
        ("https://cse.google.com/cse?cx=1", "Organic Search"),
        ("https://search.yahoo.com/search?p=x", "Organic Search"),
    ],
)
def test_only_search_front_doors_are_search_engines(referrer, expected):
    """Other services of a search company are referrals (or what Google's list says), not organic search."""
    assert expected == channel_group(referrer=referrer)


@pytest.mark.parametrize(
    ("kwargs", "path"), [({"url": 0}, "$.url"), ({"referrer": 123}, "$.referrer")]
)
def test_traffic_source_rejects_non_strings(kwargs, path):
    """traffic_source validates its arguments like channel_group does."""
    with pytest.raises(omnichannel.ValidationError) as excinfo:
        traffic_source(**kwargs)
    assert path == excinfo.value.errors[0].path


def test_utm_from_url_blank_first_value_does_not_block_later_ones():
    """A repeated parameter whose first value is blank takes the first non-blank value."""
    assert "b" == utm_from_url("https://x/?utm_source=%20&utm_source=b").source


# --- §1/§2: whole-value equality and the source-category list ---------------------------------


@pytest.mark.parametrize(
    ("source", "medium", "expected"),
    [
        ("facebook_ads", "referral", "Referral"),
        ("facebook_ads", "cpc", "Paid Other"),
        ("facebook.com", "referral", "Organic Social"),
        ("googleads", "referral", "Referral"),
        ("example", "display_ads", "Unassigned"),
        ("example", "social media ads", "Unassigned"),
        ("example", "organic_post", "Unassigned"),
        ("example", "referrals", "Unassigned"),
        ("example", "emails", "Unassigned"),
        ("example", "affiliates", "Unassigned"),
        ("example", "audio_spot", "Unassigned"),
        ("email_blast", "(not set)", "Unassigned"),
        ("sms_gateway", "(not set)", "Unassigned"),
        ("firebase_app", "(not set)", "Unassigned"),
        ("(direct)x", "(none)", "Unassigned"),
    ],
)
def test_is_one_of_means_whole_value_equality(source, medium, expected):
    """List membership and "is one of" conditions compare whole values, not substrings."""
    actual = channel_group(source=source, medium=medium)
    assert expected == actual


def test_source_category_list_counts():
    """The bundled list has 819 entries: 131 search, 590 social, 46 video, 52 shopping."""
    categories = source_categories()
    expected = (819, {"SEARCH": 131, "SOCIAL": 590, "VIDEO": 46, "SHOPPING": 52})
    actual = (len(categories), dict(Counter(categories.values())))
    assert expected == actual


def test_source_category_keys_are_lowercase():
    """Every source in the category list is stored lowercased and stripped."""
    actual = list(source_categories())
    expected = [key.strip().lower() for key in actual]
    assert expected == actual


@pytest.mark.parametrize(
    ("source", "category"),
    [
        ("google", "SEARCH"),
        ("bing", "SEARCH"),
        ("yahoo", "SEARCH"),
        ("duckduckgo", "SEARCH"),
        ("facebook", "SOCIAL"),
        ("facebook.com", "SOCIAL"),
        ("instagram", "SOCIAL"),
        ("linkedin", "SOCIAL"),
        ("tiktok", "SOCIAL"),
        ("t.co", "SOCIAL"),
        ("l.facebook.com", "SOCIAL"),
        ("youtube", "VIDEO"),
        ("youtube.com", "VIDEO"),
        ("m.youtube.com", "VIDEO"),
        ("vimeo", "VIDEO"),
        ("amazon", "SHOPPING"),
        ("etsy", "SHOPPING"),
        ("walmart.com", "SHOPPING"),
    ],
)
def test_holdout_source_categories_are_listed(source, category):
    """Each source-category entry the holdout relies on is listed with its category."""
    actual = source_categories().get(source)
    assert category == actual


@pytest.mark.parametrize(
    "source",
    [
        "newsletter",
        "mailchimp",
        "braze",
        "onesignal",
        "twilio",
        "awin",
        "criteo",
        "taboola",
        "x.com",
        "threads.net",
        "facebook_ads",
    ],
)
def test_unlisted_sources_are_absent(source):
    """Sources the holdout treats as not listed are absent from the category list."""
    assert source not in source_categories()


def test_tiktok_is_social_not_video():
    """TikTok is SOCIAL: tiktok / cpc is Paid Social and tiktok / referral Organic Social."""
    expected = ("Paid Social", "Organic Social")
    actual = (
        channel_group(source="tiktok", medium="cpc"),
        channel_group(source="tiktok", medium="referral"),
    )
    assert expected == actual


# --- §4: deriving source and medium without utm -----------------------------------------------


def test_utm_wins_over_referrer():
    """utm parameters on the URL decide source/medium/campaign even when a referrer is present."""
    url = "https://shop.example.com/?utm_source=Newsletter&utm_medium=email&utm_campaign=spring"
    found = traffic_source(url=url, referrer="https://www.google.com/search?q=shoes")
    expected = ("newsletter", "email", "spring", "Email")
    actual = (found.source, found.medium, found.campaign, found.channel_group)
    assert expected == actual


def test_channel_group_arguments_win_over_referrer():
    """channel_group uses source/medium/campaign and ignores the referrer when any is given."""
    expected = "Email"
    actual = channel_group(source="newsletter", medium="email", referrer="https://www.google.com/")
    assert expected == actual


def test_utm_with_only_campaign_still_wins_over_referrer():
    """A URL with only utm_campaign ignores the referrer and leaves source and medium (not set)."""
    url = "https://shop.example.com/?utm_campaign=spring"
    expected = (TrafficSource(source=NS, medium=NS, campaign="spring"), "Unassigned")
    found = traffic_source(url=url, referrer="https://www.google.com/")
    actual = (found, found.channel_group)
    assert expected == actual


def test_gclid_without_utm_is_google_cpc():
    """A gclid with no utm parameters reads as google / cpc, which is Paid Search."""
    found = traffic_source(url="https://shop.example.com/?gclid=EAIaIQobChMI")
    expected = ("google", "cpc", "Paid Search")
    actual = (found.source, found.medium, found.channel_group)
    assert expected == actual


def test_gclid_wins_over_referrer():
    """A gclid is a campaign field, so the referrer is not used."""
    found = traffic_source(
        url="https://shop.example.com/?gclid=abc", referrer="https://l.facebook.com/l.php?u=x"
    )
    expected = ("google", "cpc", "Paid Search")
    actual = (found.source, found.medium, found.channel_group)
    assert expected == actual


def test_utm_wins_over_gclid():
    """utm parameters win over a gclid on the same URL."""
    found = traffic_source(
        url="https://shop.example.com/?gclid=abc&utm_source=newsletter&utm_medium=email"
    )
    expected = ("newsletter", "email", "Email")
    actual = (found.source, found.medium, found.channel_group)
    assert expected == actual


@pytest.mark.parametrize(
    ("referrer", "engine"),
    [
        ("https://google.com/", "google"),
        ("https://www.google.com/search?q=shoes", "google"),
        ("https://www.google.co.uk/search?q=shoes", "google"),
        ("https://bing.com/search?q=shoes", "bing"),
        ("https://www.bing.com/", "bing"),
        ("https://duckduckgo.com/", "duckduckgo"),
        ("https://search.yahoo.com/search?p=shoes", "yahoo"),
    ],
)
def test_search_engine_referrer_is_engine_organic(referrer, engine):
    """A search-engine referrer gives <engine> / organic / (organic), which is Organic Search."""
    expected = TrafficSource(source=engine, medium="organic", campaign="(organic)")
    actual = traffic_source(referrer=referrer)
    assert expected == actual
    assert (actual.channel_group, channel_group(referrer=referrer)) == ("Organic Search",) * 2


@pytest.mark.parametrize(
    ("referrer", "host", "expected"),
    [
        ("https://l.facebook.com/l.php?u=https%3A%2F%2Fx.test", "l.facebook.com", "Organic Social"),
        ("https://t.co/AbC123", "t.co", "Organic Social"),
        ("https://m.youtube.com/watch?v=dQw4w9WgXcQ", "m.youtube.com", "Organic Video"),
        ("https://news.example.net/2024/story.html", "news.example.net", "Referral"),
        ("http://news.example.net:8080/a/b?c=d#frag", "news.example.net", "Referral"),
        ("news.example.net/story?x=1", "news.example.net", "Referral"),
        ("https://user:pw@news.example.net/", "news.example.net", "Referral"),
    ],
)
def test_other_referrer_is_host_referral(referrer, host, expected):
    """Another referrer gives <host> / referral, the host without scheme, port, path or query."""
    found = traffic_source(referrer=referrer)
    assert TrafficSource(source=host, medium="referral", campaign="(referral)") == found
    actual = (found.channel_group, channel_group(referrer=referrer))
    assert (expected, expected) == actual


def test_referrer_host_is_case_insensitive():
    """An upper-case referrer host is classified like its lowercase form."""
    expected = "Organic Social"
    actual = channel_group(referrer="HTTPS://L.FACEBOOK.COM/l.php")
    assert expected == actual


@pytest.mark.parametrize(
    ("url", "referrer"),
    [
        (None, None),
        ("https://shop.example.com/landing", None),
        ("https://shop.example.com/landing?utm_source=&utm_medium=", None),
        (None, ""),
        ("", "  "),
    ],
)
def test_no_referrer_no_utm_is_direct(url, referrer):
    """With no campaign fields and no referrer the session is (direct) / (none), Direct."""
    expected = (TrafficSource(source="(direct)", medium="(none)", campaign="(direct)"), "Direct")
    found = traffic_source(url=url, referrer=referrer)
    actual = (found, found.channel_group)
    assert expected == actual


# --- §5 A7: missing values are normalised ----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "Direct"),
        ({"source": "google"}, "Organic Search"),
        ({"medium": "email"}, "Email"),
        ({"source": "(direct)"}, "Direct"),
        ({"source": "(direct)", "medium": "  "}, "Direct"),
        ({"campaign": "spring"}, "Unassigned"),
        ({"source": None, "medium": None, "campaign": None}, "Direct"),
    ],
)
def test_missing_values_are_normalised(kwargs, expected):
    """Missing source/medium read as (not set), and nothing at all is Direct (§5 A7)."""
    actual = channel_group(**kwargs)
    assert expected == actual


# --- utm_from_url ------------------------------------------------------------------------------

UTM_FIELDS = ("source", "medium", "campaign", "term", "content", "id", "gclid")


def _utm(url):
    """Return utm_from_url(url) as a field -> value dict, independent of the class name."""
    parsed = utm_from_url(url)
    return {name: getattr(parsed, name) for name in UTM_FIELDS}


def _expected_utm(**values):
    return {name: values.get(name) for name in UTM_FIELDS}


def test_utm_from_url_reads_every_field():
    """utm_from_url reads utm_source/medium/campaign/term/content/id and gclid."""
    url = (
        "https://shop.example.com/p?utm_source=news&utm_medium=email&utm_campaign=spring"
        "&utm_term=shoes&utm_content=hero&utm_id=42&gclid=abc&other=1"
    )
    expected = _expected_utm(
        source="news",
        medium="email",
        campaign="spring",
        term="shoes",
        content="hero",
        id="42",
        gclid="abc",
    )
    actual = _utm(url)
    assert expected == actual


def test_utm_from_url_without_query_is_empty():
    """A URL without parameters gives every field None."""
    expected = _expected_utm()
    actual = _utm("https://shop.example.com/landing")
    assert expected == actual


def test_utm_from_url_decodes_values():
    """Percent-escapes and plus signs in values are decoded."""
    expected = _expected_utm(campaign="spring sale", term="red shoes")
    actual = _utm("https://x.test/?utm_campaign=spring%20sale&utm_term=red+shoes")
    assert expected == actual


def test_utm_from_url_blank_values_are_absent():
    """Blank parameter values count as absent."""
    expected = _expected_utm(medium="email")
    actual = _utm("https://x.test/?utm_source=&utm_medium=email&utm_campaign=%20&gclid=")
    assert expected == actual


def test_utm_from_url_first_repeated_value_wins():
    """The first value of a repeated parameter wins."""
    expected = _expected_utm(source="first", medium="a")
    actual = _utm("https://x.test/?utm_source=first&utm_medium=a&utm_source=second")
    assert expected == actual


def test_utm_from_url_names_are_case_insensitive():
    """Parameter names are matched case-insensitively and values keep their case."""
    expected = _expected_utm(source="Newsletter", medium="Email", gclid="Abc")
    actual = _utm("https://x.test/?UTM_SOURCE=Newsletter&Utm_Medium=Email&GCLID=Abc")
    assert expected == actual


def test_utm_from_url_first_wins_across_name_case():
    """Repeated names differing only in case still let the first value win."""
    expected = _expected_utm(source="first")
    actual = _utm("https://x.test/?UTM_SOURCE=first&utm_source=second")
    assert expected == actual


def test_traffic_source_from_mixed_case_utm_is_classified():
    """traffic_source with mixed-case utm names and values classifies case-insensitively."""
    expected = "Paid Search"
    actual = traffic_source(url="https://x.test/?UTM_Source=Google&utm_medium=CPC").channel_group
    assert expected == actual


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"source": 1}, "$.source"),
        ({"medium": 2.5}, "$.medium"),
        ({"campaign": b"spring"}, "$.campaign"),
        ({"referrer": 123}, "$.referrer"),
        ({"source": "google", "medium": ["cpc"]}, "$.medium"),
    ],
)
def test_channel_group_rejects_non_strings(kwargs, path):
    """A non-string argument raises ValidationError whose first error names the argument."""
    with pytest.raises(omnichannel.ValidationError) as info:
        channel_group(**kwargs)
    actual = info.value.errors[0].path
    assert path == actual
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, omnichannel.OmnichannelError)


def test_utm_from_url_rejects_non_string():
    """utm_from_url(123) raises ValidationError with path $.url."""
    with pytest.raises(omnichannel.ValidationError) as info:
        utm_from_url(123)
    expected = "$.url"
    actual = info.value.errors[0].path
    assert expected == actual
    assert isinstance(info.value, ValueError)


def test_validation_error_is_a_value_error():
    """Callers catching ValueError also catch the channel-grouping ValidationError."""
    with pytest.raises(ValueError, match=r"\$\.source"):
        channel_group(source=42)


# --- properties --------------------------------------------------------------------------------

TOKENS = st.sampled_from(
    [
        "google",
        "facebook",
        "youtube",
        "amazon",
        "(direct)",
        "(none)",
        "(not set)",
        "cpc",
        "cpm",
        "paid",
        "ppc",
        "retargeting",
        "display",
        "social",
        "video",
        "organic",
        "referral",
        "email",
        "affiliate",
        "audio",
        "sms",
        "push",
        "mobile",
        "notification",
        "firebase",
        "shop",
        "shopping",
        "cross-network",
        "e",
        "-",
        "_",
        " ",
    ]
)
ASCII_TEXT = st.text(alphabet=st.characters(codec="ascii"), max_size=12)
ASCII_VALUES = st.none() | st.lists(TOKENS | ASCII_TEXT, max_size=4).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(
    source=st.none() | st.text(),
    medium=st.none() | st.text(),
    campaign=st.none() | st.text(),
)
def test_any_text_gets_one_of_the_19_channels(source, medium, campaign):
    """Arbitrary text source/medium/campaign always classifies into one of the 19 channels."""
    actual = channel_group(source=source, medium=medium, campaign=campaign)
    assert actual in CHANNELS


def _recase(value, method):
    return None if value is None else getattr(value, method)()


@settings(max_examples=300, deadline=None, database=None)
@given(source=ASCII_VALUES, medium=ASCII_VALUES, campaign=ASCII_VALUES)
def test_classification_ignores_ascii_case(source, medium, campaign):
    """Upper-, lower- or swap-casing every ASCII input does not change the channel."""
    expected = channel_group(source=source, medium=medium, campaign=campaign)
    for method in ("upper", "lower", "swapcase"):
        actual = channel_group(
            source=_recase(source, method),
            medium=_recase(medium, method),
            campaign=_recase(campaign, method),
        )
        assert expected == actual


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [("http://[::1", "Direct"), ("http://localhost:8000/", "Referral"), ("   ", "Direct")],
)
def test_odd_referrers(referrer, expected):
    """Unparsable referrers count as none; single-label hosts are plain referrals."""
    assert expected == channel_group(referrer=referrer)


def test_traffic_source_fields_must_be_text():
    """A TrafficSource built with a non-string field is a validation error."""
    with pytest.raises(omnichannel.ValidationError):
        TrafficSource(source=5, medium="cpc", campaign="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("referrer", "source", "expected"),
    [
        ("https://www.facebook.com/", "facebook.com", "Organic Social"),
        ("https://www.youtube.com/watch?v=1", "youtube.com", "Organic Video"),
        ("https://www.example.net/post", "example.net", "Referral"),
        ("https://www.co/", "www.co", "Referral"),
    ],
)
def test_www_is_dropped_from_referral_sources(referrer, source, expected):
    """Referral sources are reported without a leading www., as GA4 and Google's list write them."""
    found = traffic_source(referrer=referrer)
    assert (source, expected) == (found.source, found.channel_group)
