"""Personalization: messages, safe Liquid, filters, variants, channel choice and placements."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.errors import TemplateError, ValidationError
from omnichannel.models import Consent, Identity, Profile
from omnichannel.personalization import (
    Aborted,
    AdsAudience,
    Campaign,
    Email,
    InApp,
    Limits,
    Message,
    Push,
    RenderSettings,
    Sms,
    Variant,
    Webhook,
    bucket,
    compile_template,
    decide,
    rank_channels,
    render,
)
from omnichannel.personalization._liquid import limits_of
from omnichannel.rules import trait

NOW = pendulum.datetime(2024, 3, 5, 12, 0)
SETTINGS = RenderSettings(now=NOW)
UNSUB = "https://shop.example/u/abc"


def person(
    pid: str = "p1",
    *,
    traits: dict[str, object] | None = None,
    identities: tuple[Identity, ...] = (),
    consents: tuple[Consent, ...] = (),
    time_zone: str = "UTC",
    locale: str | None = None,
) -> Profile:
    return Profile(
        id=pid,
        created_at=NOW,
        updated_at=NOW,
        traits=traits or {},
        identities=frozenset(identities),
        consents=consents,
        time_zone=time_zone,
        locale=locale,
    )


def granted(channel: str, purpose: str = "marketing") -> Consent:
    return Consent(
        purpose=purpose, channel=channel, status="granted", status_at=NOW.subtract(days=1)
    )


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in exc.value.errors]


# --- Limits -------------------------------------------------------------------------------


def test_every_liquid_limit_is_set():
    """Every resource limit python-liquid knows is set on our environment: none is left at None."""
    template = compile_template("x", path="$.t")
    limits = limits_of(template._bound.env)
    assert set(limits) >= {
        "block_nesting_limit",
        "context_depth_limit",
        "local_namespace_limit",
        "loop_iteration_limit",
        "output_stream_limit",
    }
    assert [] == [name for name, value in limits.items() if value is None]
    assert limits["loop_iteration_limit"] == Limits().loop_iterations


def test_every_limit_of_ours_has_a_value():
    """Our own Limits have no optional member: a rendering is always bounded."""
    values = {a.name: getattr(Limits(), a.name) for a in Limits.__attrs_attrs__}
    assert [] == [name for name, value in values.items() if value is None or value <= 0]


def test_time_budget_is_enforced_with_the_rendering_clock():
    """A rendering whose clock runs past the budget stops with a timeout at the template's path."""
    ticks = iter(range(1000))
    template = compile_template(
        "{% for i in (1..50) %}{{ i }}{% endfor %}", path="$.sms.body", limits=Limits(seconds=5)
    )
    with pytest.raises(TemplateError) as exc:
        template.render({}, SETTINGS, clock=lambda: float(next(ticks)))
    assert [("$.sms.body", "timeout")] == errors_of(exc)


@pytest.mark.parametrize(
    "source",
    [
        "{{ (1..3000000) | join: ',' }}",
        "{% for i in (1..100000) %}x{% endfor %}",
        "{% for i in (1..5000) %}{% for j in (1..2) %}{% endfor %}{% endfor %}" * 10,
        (
            "{{ 'ab' | replace: 'a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' | replace: 'a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"
            " | replace: 'a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa' | replace: 'a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }}"
        ),
        "{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}",
        "{% capture c %}{% for i in (1..9999) %}{{ 'y' | append: '"
        + "y" * 100
        + "' }}{% endfor %}{% endcapture %}",
        "{% include 'loop' %}",
        "{{ (1..999999) | uniq | size }}",
    ],
)
def test_hostile_templates_hit_a_limit(source):
    """Known denial-of-service shapes end in a limit error, not in a long or huge rendering."""
    template = compile_template(source, path="$.t", blocks={"loop": "{% include 'loop' %}"})
    with pytest.raises(TemplateError) as exc:
        template.render({}, SETTINGS)
    # A busy machine may spend the time budget before the size or iteration limit is reached:
    # either way the rendering was cut short by a limit.
    assert exc.value.errors[0].code in {"limit", "timeout"}


_FRAGMENTS = st.sampled_from(
    [
        "{{ profile.name }}",
        "{{ profile.__class__ }}",
        "{{ profile.keys }}",
        "{{ profile['__dict__'] }}",
        "{% for i in (1..{n}) %}",
        "{% endfor %}",
        "{{ (1..{n}) | join: 'abcdefgh' }}",
        "{% assign s = s | append: s %}",
        "{% assign s = 'zzzzzzzzzzzz' %}",
        "{{ s | replace: 'z', 'yyyyyyyyyyyyyyyyyyyyyyyy' }}",
        "{% capture c %}",
        "{% endcapture %}",
        "{% if profile.name %}",
        "{% endif %}",
        "{{ 'now' | date: '%Y' }}",
        "{% include 'self' %}",
        "{{ profile.tags | sort | join }}",
        "{% cycle 'a', 'b' %}",
        "{{ 1 | times: 1e308 | times: 1e308 }}",
        "{{ 10 | divided_by: 0 }}",
        "{% abort 'stop' %}",
        "{{ x | money }}",
        "text ",
    ]
)


_RENDER_CODES = {"limit", "timeout", "render", "syntax", "unknown_block"}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_FRAGMENTS, st.sampled_from([1, 10, 1000, 10**6, 10**9])), max_size=25))
def test_generated_hostile_templates_stay_within_bounds(parts):
    """Any mix of hostile fragments renders within the output limit, aborts, or raises TemplateError."""
    source = "".join(fragment.replace("{n}", str(n)) for fragment, n in parts)
    limits = Limits(output_chars=50_000, value_chars=200_000, total_iterations=20_000)
    data = {"profile": {"name": "{{ 'pwned' | upcase }}", "tags": ["b", "a"]}, "x": 3}
    try:
        template = compile_template(
            source, path="$.t", limits=limits, blocks={"self": "{% include 'self' %}"}
        )
        result = template.render(data, SETTINGS)
    except TemplateError as exc:
        problem = exc.errors[0]
    else:
        problem = None
    if problem is not None:
        assert ("$.t", True) == (problem.path, problem.code in _RENDER_CODES)
        return
    if isinstance(result, Aborted):
        assert result.reason == "stop"
        return
    assert len(result) <= 50_000
    assert "PWNED" not in result  # a trait is never a template
    assert "class" not in result
    assert "dict" not in result


# --- Escaping and data ----------------------------------------------------------------------


def test_html_escapes_trait_values_and_text_does_not():
    """An HTML rendition escapes what a trait holds; the text rendition prints it as is."""
    name = '<img src=x onerror="alert(1)">'
    message = Message(
        key="m",
        email=Email(
            subject="Hi {{ profile.name }}",
            sender="Shop <news@shop.example>",
            html="<p>{{ profile.name }}</p><a href='{{ unsubscribe_url }}'>unsubscribe</a>",
            text="{{ profile.name }} {{ unsubscribe_url }}",
        ),
    )
    out = render(message, person(traits={"name": name}), now=NOW, unsubscribe_url=UNSUB)
    assert out.email.html.startswith("<p>&lt;img src=x onerror=&#34;alert(1)&#34;&gt;</p>")
    assert out.email.text.startswith(name)


def test_trait_values_are_never_templates():
    """A trait holding Liquid is printed literally, never evaluated (not even its abort)."""
    message = Message(key="m", sms=Sms(body="{{ profile.bio }}"))
    bio = "{{ 6 | times: 7 }} {% abort 'x' %}"
    assert bio == render(message, person(traits={"bio": bio}), now=NOW).sms.body


def test_abort_is_a_result():
    """A template may call the send off with a reason; that is a result, not an exception."""
    message = Message(
        key="reco",
        sms=Sms(
            body="{% if recommendations.size == 0 %}{% abort 'no product to recommend' %}{% endif %}Try {{ recommendations.first.product_id }}"
        ),
    )
    assert Aborted(reason="no product to recommend", path="$.sms.body") == render(
        message, person(), now=NOW
    )
    sent = render(message, person(), now=NOW, recommendations=[{"product_id": "filters"}])
    assert "Try filters" == sent.sms.body


# --- Filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "currency", "source", "expected"),
    [
        ("en-US", "USD", "{{ 1234.5 | money }}", "$1,234.50"),
        ("de-DE", "EUR", "{{ 1234.5 | money }}", "1.234,50\xa0€"),
        ("fr-FR", "EUR", "{{ order | money }}", "12,00\xa0$US"),
        ("en-GB", "GBP", "{{ 3 | money: 'JPY' }}", "JP¥3"),
        ("en-US", "USD", "{{ missing | money }}", ""),
    ],
)
def test_money_in_the_persons_locale_and_currency(locale, currency, source, expected):
    """Money prints in the person's locale; the value or the argument may name the currency."""
    data = {"order": {"amount": "12", "currency": "USD"}}
    out = compile_template(source, path="$.t").render(
        data, RenderSettings(now=NOW, locale=locale, currency=currency)
    )
    assert expected == out


def test_dates_print_in_the_persons_zone_and_now_is_the_renderings():
    """``date`` converts to the person's zone (DST included); "now" is the rendering's instant."""
    settings_ = RenderSettings(
        now=pendulum.datetime(2024, 7, 1, 22, 30), time_zone="Europe/Berlin", locale="de-DE"
    )
    source = "{{ 'now' | date: '%Y-%m-%d %H:%M' }}|{{ at | date: '%H:%M' }}|{{ at | local_date: 'long' }}|{{ 'now' | local_datetime: 'short' }}"
    out = compile_template(source, path="$.t").render({"at": "2024-01-15T23:30:00Z"}, settings_)
    assert "2024-07-02 00:30|00:30|16. Januar 2024|02.07.24, 00:30" == out


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"first_name": "ANN"}, "Ann"),
        ({"first_name": "mary-jane"}, "Mary-Jane"),
        ({"firstName": "McKenzie"}, "McKenzie"),
        ({"name": "José García"}, "José"),
        ({"first_name": "ann@example.com"}, "there"),
        ({"first_name": "null"}, "there"),
        ({"first_name": "R2D2"}, "there"),
        ({}, "there"),
        ("  o'neil ", "O'Neil"),
    ],
)
def test_first_name_with_fallback(value, expected):
    """``first_name`` takes a usable first name or falls back, fixing all-caps and lowercase."""
    out = compile_template("{{ p | first_name: 'there' }}", path="$.t").render(
        {"p": value}, SETTINGS
    )
    assert expected == out


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "items"), (1, "item"), (2, "items"), ("1", "item")]
)
def test_pluralize(count, expected):
    """``pluralize`` picks the singular for one and the plural otherwise."""
    out = compile_template("{{ n | pluralize: 'item', 'items' }}", path="$.t").render(
        {"n": count}, SETTINGS
    )
    assert expected == out


# --- Building messages --------------------------------------------------------------------------


def test_building_reports_every_problem_at_its_path():
    """A message with several broken renditions lists each problem at once, each at its path."""
    with pytest.raises(TemplateError) as exc:
        Message(
            key="bad",
            blocks={"footer": "{% if %}"},
            email=Email(
                subject="Hi\r\nBcc: x@evil.example", sender="a@b.example", html="<p>no link</p>"
            ),
            sms=Sms(body="x" * 1601),
            push=Push(title="t", body="y" * 5000),
            in_app=InApp(title="{{ x | no_such_filter }}", body="{% include 'nope' %}"),
        )
    assert sorted(errors_of(exc)) == sorted(
        [
            ("$.blocks.footer", "syntax"),
            ("$.in_app.title", "unknown_filter"),
            ("$.in_app.body", "unknown_block"),
            ("$.email.subject", "invalid"),
            ("$.email.html", "missing_unsubscribe"),
            ("$.sms.body", "too_long"),
            ("$.push", "too_large"),
        ]
    )


def test_transactional_email_needs_no_unsubscribe_link():
    """Only marketing e-mail must carry the unsubscribe link."""
    message = Message(
        key="receipt",
        transactional=True,
        email=Email(subject="Receipt", sender="a@b.example", text="Thanks"),
    )
    assert "Thanks" == render(message, person(), now=NOW).email.text


@pytest.mark.parametrize(
    ("kwargs", "path", "code"),
    [
        ({}, "$", "required"),
        ({"sms": Sms(body="x"), "blocks": {"a": 1}}, "$.blocks", "type"),
        ({"sms": Sms(body="x"), "key": ""}, "$.key", "empty"),
    ],
)
def test_bad_messages(kwargs, path, code):
    """A message without renditions, with blocks that are not text, or without a key is refused."""
    with pytest.raises(ValidationError) as exc:
        Message(**{"key": "k", **kwargs})
    assert (path, code) == errors_of(exc)[0]


def test_bad_renditions():
    """Renditions validate their own fields."""
    with pytest.raises(ValidationError) as exc:
        Email(subject="s", sender="not an address", text="x")
    assert [("$.sender", "invalid")] == errors_of(exc)
    with pytest.raises(ValidationError) as exc:
        Email(subject="s", sender="a@b.example")
    assert [("$.html", "required")] == errors_of(exc)
    with pytest.raises(ValidationError) as exc:
        Sms(body="  ")
    assert [("$.body", "required")] == errors_of(exc)


# --- Rendering one message on every channel ---------------------------------------------------------------


def _everywhere() -> Message:
    return Message(
        key="spring",
        blocks={
            "offer": "{{ 20 | money }} off {{ context.category | default: 'everything' }}",
            "hello": "Hi {{ profile | first_name: 'there' }}",
        },
        email=Email(
            subject="{% include 'hello' %}: {% include 'offer' %}",
            sender="Shop <news@shop.example>",
            preheader="Only this week",
            html="<h1>{% include 'hello' %}</h1><p>{% include 'offer' %}</p><a href='{{ unsubscribe_url }}'>Unsubscribe</a>",
            text="{% include 'hello' %}\n{% include 'offer' %}\nUnsubscribe: {{ unsubscribe_url }}",
        ),
        sms=Sms(body="{% include 'hello' %}! {% include 'offer' %}. STOP to opt out"),
        push=Push(
            title="{% include 'hello' %}", body="{% include 'offer' %}", deep_link="shop://sale"
        ),
        in_app=InApp(
            title="{% include 'offer' %}", body="Tap to shop", cta_label="Shop", cta_url="/sale"
        ),
        webhook=Webhook(
            body={"profile": "{{ profile.id }}", "n": 3, "lines": ["{% include 'offer' %}"]}
        ),
        ads=AdsAudience(audience="spring-retargeting"),
    )


def test_one_voice_on_every_channel():
    """Shared blocks give every rendition the same words; each channel gets its own shape."""
    ann = person(
        traits={"first_name": "ann"},
        identities=(
            Identity(kind="email", value="ann@example.com"),
            Identity(kind="phone", value="+4915112345678"),
        ),
        locale="de-DE",
    )
    out = render(
        _everywhere(),
        ann,
        now=NOW,
        context={"category": "Schuhe"},
        unsubscribe_url=UNSUB,
        currency="EUR",
    )
    offer = "20,00\xa0€ off Schuhe"
    assert f"Hi Ann: {offer}" == out.email.subject
    # The SMS prints the price with a plain space (CLDR's no-break one would make it UCS-2).
    assert ("Hi Ann! 20,00 € off Schuhe. STOP to opt out", "GSM-7", 1) == (
        out.sms.body,
        out.sms.segments.encoding,
        out.sms.segments.segments,
    )
    assert offer == out.push.body
    assert offer == out.in_app.title
    assert {"profile": "p1", "n": 3, "lines": [offer]} == out.webhook
    assert json.loads(out.push.payload)["aps"]["alert"] == {"title": "Hi Ann", "body": offer}
    assert {"email": ("ann@example.com",), "phone": ("+4915112345678",)} == dict(
        out.ads.identifiers
    )


def test_only_the_channels_asked_for_are_rendered():
    """``channels`` limits the work to the renditions asked for."""
    out = render(_everywhere(), person(), now=NOW, channels=["sms"])
    assert out.email is None
    assert out.push is None
    assert out.sms is not None


@pytest.mark.parametrize(
    ("kwargs", "path", "code"),
    [
        ({"channels": ["fax"]}, "$.channels[0]", "unknown_channel"),
        ({"channels": ["email"]}, "$.unsubscribe_url", "required"),
    ],
)
def test_bad_render_arguments(kwargs, path, code):
    """Asking for a channel the message lacks, or e-mail without an unsubscribe link, is refused."""
    with pytest.raises(ValidationError) as exc:
        render(_everywhere(), person(), now=NOW, **kwargs)
    assert [(path, code)] == errors_of(exc)


@pytest.mark.parametrize(
    ("traits", "channel", "path", "code"),
    [
        ({"first_name": "Ann\nBcc"}, "email", "$.email.subject", "invalid"),
        ({"note": "é" * 1700}, "sms", "$.sms.body", "too_long"),
        ({"note": "ü" * 3000}, "push", "$.push", "too_large"),
        ({"note": "a lone \ud83d surrogate"}, "sms", "$.sms.body", "invalid_unicode"),
    ],
)
def test_rendered_text_is_checked_again(traits, channel, path, code):
    """A person's data that breaks a channel's constraint after rendering raises at the path."""
    message = Message(
        key="m",
        email=Email(
            subject="Hi {{ profile.first_name }}",
            sender="a@b.example",
            text="{{ unsubscribe_url }}",
        ),
        sms=Sms(body="{{ profile.note }}"),
        push=Push(title="t", body="{{ profile.note }}"),
    )
    with pytest.raises(TemplateError) as exc:
        render(message, person(traits=traits), now=NOW, channels=[channel], unsubscribe_url=UNSUB)
    assert [(path, code)] == errors_of(exc)


def test_rendered_email_must_print_the_link_it_was_given():
    """A marketing body that hides the unsubscribe link behind a condition is caught after rendering."""
    message = Message(
        key="m",
        email=Email(
            subject="s",
            sender="a@b.example",
            text="{% if profile.vip %}{{ unsubscribe_url }}{% endif %}",
        ),
    )
    with pytest.raises(TemplateError) as exc:
        render(message, person(), now=NOW, unsubscribe_url=UNSUB)
    assert [("$.email.text", "missing_unsubscribe")] == errors_of(exc)


# --- Variants -------------------------------------------------------------------------------------------


def _sms(key: str) -> Message:
    return Message(key=key, sms=Sms(body=key), in_app=InApp(title=key, body="{{ context.page }}"))


def test_rules_go_first_by_priority_then_order():
    """Rule variants are tried by descending priority (ties in the order given); first match wins."""
    campaign = Campaign(
        key="c",
        variants=[
            Variant(key="de", message=_sms("de"), when=trait("country") == "DE"),
            Variant(key="vip", message=_sms("vip"), when=trait("vip") == True, priority=5),  # noqa: E712
            Variant(key="de2", message=_sms("de2"), when=trait("country") == "DE"),
            Variant(key="rest", message=_sms("rest")),
        ],
    )
    pick = lambda traits: campaign.choose("p", {"traits": traits}, NOW).variant.key  # noqa: E731
    assert ["vip", "de", "rest"] == [
        pick({"country": "DE", "vip": True}),
        pick({"country": "DE"}),
        pick({}),
    ]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=4).filter(any),
    st.floats(0, 0.9),
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30),
)
def test_same_person_same_variant_and_holdout_independent_of_weights(weights, holdout, ids):
    """A person's variant is stable, and changing the split's weights never moves the holdout."""
    variants = [
        Variant(key=f"v{i}", message=_sms(f"v{i}"), weight=w) for i, w in enumerate(weights)
    ]
    first = Campaign(key="k", variants=variants, holdout=holdout)
    reweighted = Campaign(
        key="k",
        variants=[Variant(key=v.key, message=v.message, weight=1) for v in variants],
        holdout=holdout,
    )
    for pid in ids:
        a, b = first.choose(pid, {}, NOW), first.choose(pid, {}, NOW)
        assert a == b
        assert a.held_out == reweighted.choose(pid, {}, NOW).held_out
        if not a.held_out:
            assert a.variant is not None
            assert a.variant.weight > 0


def test_split_and_holdout_shares():
    """Over many people the split follows the weights and the holdout its share."""
    campaign = Campaign(
        key="share",
        variants=[
            Variant(key="a", message=_sms("a"), weight=3),
            Variant(key="b", message=_sms("b"), weight=1),
        ],
        holdout=0.1,
    )
    seen = Counter(
        (c.variant.key if c.variant else c.reason)
        for c in (campaign.choose(f"p{i}", {}, NOW) for i in range(20_000))
    )
    assert abs(seen["holdout"] / 20_000 - 0.10) < 0.01
    assert abs(seen["a"] / (seen["a"] + seen["b"]) - 0.75) < 0.015


def test_assignment_is_the_same_in_another_process():
    """The bucket is a stable hash: another interpreter (another hash seed) gets the same numbers."""
    ids = [f"person-{i}" for i in range(50)]
    code = f"from omnichannel.personalization import bucket; print([bucket('spring', p) for p in {ids!r}])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    )
    assert [bucket("spring", p) for p in ids] == json.loads(out.stdout)


@pytest.mark.parametrize(
    ("kwargs", "path", "code"),
    [
        ({"variants": []}, "$.variants", "required"),
        ({"variants": ["x"]}, "$.variants[0]", "type"),
        ({"holdout": 1.0}, "$.holdout", "out_of_range"),
    ],
)
def test_bad_campaigns(kwargs, path, code):
    """Campaigns validate their variants and holdout share."""
    with pytest.raises(ValidationError) as exc:
        Campaign(**{"key": "k", "variants": [Variant(key="a", message=_sms("a"))], **kwargs})
    assert [(path, code)] == errors_of(exc)


def test_duplicate_variant_keys():
    """Two variants may not share a key."""
    with pytest.raises(ValidationError) as exc:
        Campaign(
            key="k",
            variants=[Variant(key="a", message=_sms("a")), Variant(key="a", message=_sms("b"))],
        )
    assert [("$.variants[1].key", "duplicate")] == errors_of(exc)


# --- Channel choice ---------------------------------------------------------------------------------------


def _reachable(**kw: object) -> Profile:
    return person(
        identities=(
            Identity(kind="email", value="ann@example.com"),
            Identity(kind="phone", value="+4915112345678"),
            Identity(kind="push_token", value="tok-1"),
        ),
        **kw,
    )


def test_channels_without_consent_or_address_are_not_eligible():
    """Consent and reachability decide eligibility; reasons say which failed."""
    profile = _reachable(consents=(granted("email"), granted("push")))
    ranking = rank_channels(_everywhere(), profile, now=NOW, invalid=["push_token:tok-1"])
    eligible = {s.channel: s.eligible for s in ranking}
    assert {
        "email": True,
        "sms": False,
        "push": False,
        "in_app": False,
        "webhook": False,
        "ads": False,
    } == eligible
    reasons = {s.channel: s.reasons for s in ranking}
    assert "no consent to marketing on sms" in reasons["sms"]
    assert "unreachable: no valid push_token" in reasons["push"]
    assert ranking[0].channel == "email"


def test_preference_engagement_and_cost_order_the_eligible():
    """Stated preference and recent engagement raise a channel; cost breaks what is left."""
    consents = tuple(granted(c) for c in ("email", "sms", "push"))
    subject = {"state": {"channels": {"app": {"last_seen": NOW.subtract(days=1)}}}}
    message = Message(
        key="m",
        email=Email(subject="s", sender="a@b.example", text="{{ unsubscribe_url }}"),
        sms=Sms(body="x"),
        push=Push(title="t", body="b"),
    )
    plain = rank_channels(message, _reachable(consents=consents), now=NOW)
    assert ["push", "email", "sms"] == [
        s.channel for s in plain
    ]  # cheapest first when nothing else differs
    engaged = rank_channels(message, _reachable(consents=consents), now=NOW, subject=subject)
    assert "push" == engaged[0].channel
    assert engaged[0].score > plain[0].score
    prefer_sms = rank_channels(
        message, _reachable(consents=consents, traits={"preferred_channel": "sms"}), now=NOW
    )
    assert "sms" == prefer_sms[0].channel
    assert "preferred channel" in prefer_sms[0].reasons


def test_transactional_needs_no_consent_but_a_denial_of_marketing_blocks_marketing():
    """Transactional messages skip consent; a revoked marketing consent blocks marketing at once."""
    revoked = Consent(
        purpose="marketing", channel="sms", status="revoked", status_at=NOW.subtract(hours=1)
    )
    profile = _reachable(consents=(granted("sms"), revoked))
    marketing = Message(key="m", sms=Sms(body="x"))
    receipt = Message(key="r", sms=Sms(body="x"), transactional=True)
    assert not rank_channels(marketing, profile, now=NOW)[0].eligible
    assert rank_channels(receipt, profile, now=NOW)[0].eligible


def test_bad_ranking_arguments():
    """Invalid addresses must be identities or 'kind:value'; the half-life must be positive."""
    with pytest.raises(ValidationError) as exc:
        rank_channels(_everywhere(), person(), now=NOW, invalid=[3])
    assert [("$.invalid[0]", "type")] == errors_of(exc)
    with pytest.raises(ValidationError) as exc:
        rank_channels(_everywhere(), person(), now=NOW, half_life_days=0)
    assert [("$.half_life_days", "out_of_range")] == errors_of(exc)


# --- Placements ------------------------------------------------------------------------------------------


def test_decide_renders_the_chosen_variant_with_an_explanation():
    """``decide`` returns the placement's content for this person and says why."""
    placement = Campaign(
        key="home-banner",
        variants=[
            Variant(key="vip", message=_sms("vip"), when=trait("tier") == "gold"),
            Variant(key="default", message=_sms("default")),
        ],
    )
    gold = decide(person(traits={"tier": "gold"}), placement, {"page": "/home"}, now=NOW)
    assert ("vip", "/home") == (gold.content.title, gold.content.body)
    assert gold.explanation == ("home-banner: variant 'vip' (rule: tier is gold)", "shown on web")


def test_decide_for_the_control_group_shows_nothing():
    """A person in the holdout gets no content, recorded as held out."""
    placement = Campaign(key="b", variants=[Variant(key="a", message=_sms("a"))], holdout=0.5)
    held = next(
        d
        for d in (decide(person(f"p{i}"), placement, now=NOW) for i in range(100))
        if d.choice.held_out
    )
    assert held.content is None
    assert held.choice.reason == "holdout"


def test_decide_needs_in_app_renditions():
    """A placement's variants must have an in-app rendition."""
    placement = Campaign(
        key="b", variants=[Variant(key="a", message=Message(key="a", sms=Sms(body="x")))]
    )
    with pytest.raises(ValidationError) as exc:
        decide(person(), placement, now=NOW)
    assert [("$.placement.variants[0].message.in_app", "required")] == errors_of(exc)
