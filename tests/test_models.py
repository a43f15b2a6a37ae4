"""Domain models: normalisation, invariants and the errors bad values get."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import (
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
    ValidationError,
)
from omnichannel.testing import consents, identities, timestamps

AT = pendulum.datetime(2024, 3, 5, 10, 0)


def _codes(excinfo: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in excinfo.value.errors]


# --- names -----------------------------------------------------------------------------


def test_channel_is_an_open_normalised_set():
    """Built-in channels are constants; other names are allowed and lowercased."""
    assert Channel.SMS == Channel("  SMS ") == "sms"
    assert "Channel('sms')" == repr(Channel.SMS)
    assert Channel("kiosk").is_known is False
    assert Channel.STORE.is_known is True
    assert "web" in Channel.known()


@pytest.mark.parametrize("bad", ["", "9lives", "has space", "x" * 33, "ümlaut"])
def test_channel_rejects_bad_names(bad):
    """A channel name outside [a-z][a-z0-9_]{0,31} is a ValidationError."""
    with pytest.raises(ValidationError) as excinfo:
        Channel(bad)
    assert [("$", "invalid")] == _codes(excinfo)


def test_channel_rejects_non_strings():
    """A non-string channel is a type error, not a crash."""
    with pytest.raises(ValidationError) as excinfo:
        Channel(3)  # type: ignore[arg-type]
    assert [("$", "type")] == _codes(excinfo)


def test_identity_kinds_include_the_built_ins():
    """The kinds the issue names are all built in."""
    assert {
        "user_id",
        "anonymous_id",
        "email",
        "phone",
        "device_id",
        "push_token",
        "loyalty_id",
    } == set(IdentityKind.known())


# --- identities ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jordan.Reyes@Example.COM ", "jordan.reyes@example.com"),
        ("ANNA@EXAMPLE.DE", "anna@example.de"),
        ("Jose\u0301@example.com", "jos\u00e9@example.com"),  # NFD accent becomes NFC
    ],
)
def test_email_normalisation(raw, expected):
    """Emails are trimmed, NFC-normalised and lowercased."""
    assert expected == Identity(kind="email", value=raw).value


@pytest.mark.parametrize(
    "bad",
    [
        "no-at-sign",
        "@example.com",
        "a@",
        "a b@example.com",
        "a@nodot",
        "a@.com",
        "a@example.",
        "\x00a@b.co",
    ],
)
def test_email_rejects_non_addresses(bad):
    """Text that is not an address is rejected with the value's path."""
    with pytest.raises(ValidationError) as excinfo:
        Identity(kind="email", value=bad)
    assert "$.value" == excinfo.value.errors[0].path


def test_email_rejects_overlong_addresses():
    """An address over 254 characters cannot be delivered, so it is rejected."""
    with pytest.raises(ValidationError) as excinfo:
        Identity(kind="email", value="a" * 250 + "@example.com")
    assert [("$.value", "too_long")] == _codes(excinfo)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (415) 555-0134", None, "+14155550134"),
        ("+49 151 23456789", None, "+4915123456789"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("020 7946 0018", "GB", "+442079460018"),
    ],
)
def test_phone_normalises_to_e164(raw, region, expected):
    """Phone numbers become E.164; national numbers need a default region."""
    assert expected == Identity.parse("phone", raw, default_region=region).value


@pytest.mark.parametrize("bad", ["0151 23456789", "+999123", "12", "not a number", "+1 000"])
def test_phone_rejects_what_it_cannot_place(bad):
    """A number without country code (and no region) or an invalid number is rejected."""
    with pytest.raises(ValidationError) as excinfo:
        Identity(kind="phone", value=bad)
    assert ("$.value", "invalid") == _codes(excinfo)[0]


def test_phone_hint_names_default_region():
    """The error for a national number says how to fix it."""
    with pytest.raises(ValidationError, match="default_region"):
        Identity(kind="phone", value="0151 23456789")


def test_opaque_identities_are_trimmed_and_bounded():
    """User ids and custom kinds keep their case but lose outer whitespace."""
    assert "AbC-1" == Identity(kind="user_id", value="  AbC-1 ").value
    assert "crm:42" == str(Identity(kind="crm_contact", value="42")).replace("crm_contact", "crm")
    with pytest.raises(ValidationError) as excinfo:
        Identity(kind="device_id", value="   ")
    assert [("$.value", "empty")] == _codes(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        Identity(kind="push_token", value="x" * 513)
    assert [("$.value", "too_long")] == _codes(excinfo)


def test_identity_kind_errors_name_the_kind_field():
    """A bad kind is reported at $.kind, from the constructor and from parse()."""
    for build in (
        lambda: Identity(kind="Bad Kind", value="x"),
        lambda: Identity.parse("Bad Kind", "x"),
    ):
        with pytest.raises(ValidationError) as excinfo:
            build()
        assert [("$.kind", "invalid")] == _codes(excinfo)


@given(identities())
def test_identity_normalisation_is_idempotent(identity):
    """Normalising a normalised identity changes nothing, so equal people stay equal."""
    assert identity == Identity(kind=identity.kind, value=identity.value)


# --- money -----------------------------------------------------------------------------


def test_money_refuses_floats():
    """Floats are never accepted for money: they cannot hold 0.10 exactly."""
    with pytest.raises(ValidationError) as excinfo:
        Money(amount=0.1, currency="USD")  # type: ignore[arg-type]
    assert [("$.amount", "type")] == _codes(excinfo)


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("abc", "invalid"),
        ("NaN", "not_finite"),
        ("Infinity", "not_finite"),
        (True, "type"),
        ([], "type"),
    ],
)
def test_money_rejects_non_amounts(amount, code):
    """Only finite decimal numbers are amounts."""
    with pytest.raises(ValidationError) as excinfo:
        Money(amount=amount, currency="USD")
    assert [("$.amount", code)] == _codes(excinfo)


@pytest.mark.parametrize(
    ("currency", "code"),
    [("XYZ", "unknown_currency"), ("dollars", "unknown_currency"), (840, "type")],
)
def test_money_rejects_unknown_currencies(currency, code):
    """A currency must be an ISO 4217 code."""
    with pytest.raises(ValidationError) as excinfo:
        Money(amount="1", currency=currency)
    assert [("$.currency", code)] == _codes(excinfo)


def test_money_arithmetic_is_exact_and_currency_safe():
    """Sums are exact decimals; mixing currencies is an error, not a silent conversion."""
    a = Money(amount="0.10", currency="eur")
    assert Money(amount="0.30", currency="EUR") == a + a + a
    assert Money(amount="-0.10", currency="EUR") == -a
    assert Money(amount="0.00", currency="EUR") == a - a
    assert Money(amount="0.30", currency="EUR") == 3 * a == a * Decimal(3)
    assert "0.10 EUR" == str(a)
    with pytest.raises(ValidationError) as excinfo:
        _ = a + Money(amount="1", currency="USD")
    assert [("$.currency", "currency_mismatch")] == _codes(excinfo)
    with pytest.raises(TypeError):
        _ = a + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = a - 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = a * 1.5  # type: ignore[operator]


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_money_from_json_number_keeps_what_was_written(number):
    """A JSON number becomes the decimal its shortest text spells (19.99 stays 19.99)."""
    assert Decimal(repr(number)) == Money.from_json_number(number, "USD").amount


def test_money_from_json_integer():
    """Integral JSON numbers stay integral."""
    assert Decimal(10) == Money.from_json_number(10, "USD").amount


# --- commerce --------------------------------------------------------------------------


def test_line_item_key_and_total():
    """A line is identified by product id, else SKU, else name; its total is price x quantity."""
    price = Money(amount="12.50", currency="USD")
    assert "p1" == LineItem(product_id="p1", sku="s", name="n").key
    assert "s" == LineItem(sku="s", name="n").key
    assert "n" == LineItem(name="n").key
    assert Money(amount="25.00", currency="USD") == LineItem(price=price, quantity=2).line_total
    assert LineItem().line_total is None


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"quantity": -1}, [("$.quantity", "out_of_range")]),
        ({"quantity": 1.5}, [("$.quantity", "type")]),
        ({"quantity": True}, [("$.quantity", "type")]),
        ({"price": Money(amount="-1", currency="USD")}, [("$.price", "out_of_range")]),
        ({"price": "12"}, [("$.price", "type")]),
        ({"name": ""}, [("$.name", "empty")]),
        ({"name": 7}, [("$.name", "type")]),
        ({"name": "a\nb"}, [("$.name", "invalid")]),
    ],
)
def test_line_item_rejects_bad_fields(kwargs, expected):
    """Each bad field is named by its path."""
    with pytest.raises(ValidationError) as excinfo:
        LineItem(**kwargs)
    assert expected == _codes(excinfo)


def test_commerce_items_total():
    """The items total sums priced lines and ignores unpriced ones."""
    usd = Money(amount="89.95", currency="USD")
    reading = Commerce(
        event="Cart Viewed",
        items=[
            LineItem(price=usd),
            LineItem(price=Money(amount="12.50", currency="USD"), quantity=2),
            LineItem(),
        ],
    )
    assert Money(amount="114.95", currency="USD") == reading.items_total
    assert Commerce(event="Cart Viewed").items_total is None


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [({"items": "x"}, "$.items"), ({"items": ("x",)}, "$.items[0]"), ({"total": 3}, "$.total")],
)
def test_commerce_rejects_bad_fields(kwargs, path):
    """Items must be LineItems and amounts Money."""
    with pytest.raises(ValidationError) as excinfo:
        Commerce(event="Order Completed", **kwargs)
    assert path == excinfo.value.errors[0].path


# --- consent ---------------------------------------------------------------------------


def test_consent_grants_only_inside_its_window():
    """Granted between status time (inclusive) and revoke time (exclusive), as in Apache Unomi."""
    c = Consent(
        purpose="marketing",
        channel="email",
        status="granted",
        status_at=AT,
        revoke_at=AT.add(days=30),
    )
    assert (False, True, True, False) == (
        c.is_granted(AT.subtract(seconds=1)),
        c.is_granted(AT),
        c.is_granted(AT.add(days=30).subtract(microseconds=1)),
        c.is_granted(AT.add(days=30)),
    )


@pytest.mark.parametrize("status", [ConsentStatus.DENIED, ConsentStatus.REVOKED])
def test_consent_denied_or_revoked_never_grants(status):
    """Denied and revoked consents never allow contact."""
    c = Consent(purpose="marketing", channel=None, status=status, status_at=AT)
    assert c.is_granted(AT.add(days=1)) is False


def test_consent_applies_to_its_purpose_and_channel():
    """A channel-less consent speaks for every channel; otherwise only for its own."""
    everywhere = Consent(purpose="marketing", channel=None, status="granted", status_at=AT)
    email = Consent(purpose="marketing", channel="email", status="granted", status_at=AT)
    assert (True, True, True, False, False) == (
        everywhere.applies_to("marketing", "sms"),
        email.applies_to("marketing", Channel.EMAIL),
        email.applies_to("marketing", "email"),
        email.applies_to("marketing", "sms"),
        email.applies_to("analytics", "email"),
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"purpose": "Marketing!"}, ("$.purpose", "invalid")),
        ({"status": "maybe"}, ("$.status", "invalid")),
        ({"channel": "bad channel"}, ("$.channel", "invalid")),
        ({"status_at": dt.datetime(2024, 1, 1)}, ("$.status_at", "naive_datetime")),  # noqa: DTZ001
        ({"status_at": "2024-01-01"}, ("$.status_at", "type")),
        ({"revoke_at": AT}, ("$.revoke_at", "out_of_range")),
        ({"source": ""}, ("$.source", "empty")),
    ],
)
def test_consent_rejects_bad_fields(kwargs, expected):
    """Each bad consent field is named by its path."""
    fields = {
        "purpose": "marketing",
        "channel": "email",
        "status": "granted",
        "status_at": AT,
        **kwargs,
    }
    with pytest.raises(ValidationError) as excinfo:
        Consent(**fields)
    assert expected == _codes(excinfo)[0]


def test_consent_times_are_stored_in_utc():
    """Aware datetimes in any zone are stored as UTC pendulum datetimes."""
    berlin = pendulum.datetime(2024, 3, 5, 11, 0, tz="Europe/Berlin")
    c = Consent(purpose="marketing", channel=None, status="granted", status_at=berlin)
    assert pendulum.datetime(2024, 3, 5, 10, 0) == c.status_at
    assert "UTC" == c.status_at.timezone_name


@given(consents(), timestamps())
def test_consent_grants_only_when_granted_and_inside_window(consent, at):
    """is_granted is exactly: status granted and status_at <= at < revoke_at."""
    inside = consent.status_at <= at and (consent.revoke_at is None or at < consent.revoke_at)
    assert (consent.status is ConsentStatus.GRANTED and inside) == consent.is_granted(at)


# --- profile ---------------------------------------------------------------------------


def _profile(**kwargs):
    return Profile(id="p-1", created_at=AT, updated_at=AT, **kwargs)


def test_profile_consent_needs_every_scope_to_grant():
    """A denial on the channel, or on every channel, wins over a grant; no answer means no."""
    grant_email = Consent(purpose="marketing", channel="email", status="granted", status_at=AT)
    deny_all = Consent(purpose="marketing", channel=None, status="denied", status_at=AT)
    later = AT.add(days=1)
    assert _profile().consent("marketing", "email", later) is False
    assert _profile(consents=[grant_email]).consent("marketing", "email", later) is True
    assert _profile(consents=[grant_email]).consent("marketing", "sms", later) is False
    assert _profile(consents=[grant_email, deny_all]).consent("marketing", "email", later) is False


def test_profile_consent_latest_answer_wins():
    """A newer grant replaces an older revocation for the same scope, and vice versa."""
    revoked = Consent(purpose="marketing", channel="sms", status="revoked", status_at=AT)
    regranted = Consent(
        purpose="marketing", channel="sms", status="granted", status_at=AT.add(days=2)
    )
    profile = _profile(consents=[regranted, revoked])
    assert (False, True) == (
        profile.consent("marketing", "sms", AT.add(days=1)),
        profile.consent("marketing", "sms", AT.add(days=3)),
    )


def test_profile_normalises_locale_and_checks_time_zone():
    """Locales become ll-RR; time zones must be IANA names."""
    assert "en-US" == _profile(locale="en_us").locale
    assert "pt-BR" == _profile(locale="PT-br").locale
    assert _profile().locale is None
    for kwargs, path in (
        ({"locale": "english!"}, "$.locale"),
        ({"time_zone": "Mars/Olympus"}, "$.time_zone"),
        ({"time_zone": 5}, "$.time_zone"),
    ):
        with pytest.raises(ValidationError) as excinfo:
            _profile(**kwargs)
        assert path == excinfo.value.errors[0].path


def test_profile_identities_and_consents_are_checked():
    """Identities must be Identity values and consents Consent values."""
    email = Identity(kind="email", value="a@example.com")
    assert frozenset({email}) == _profile(identities=[email, email]).identities
    assert [email] == _profile(identities={email}).identities_of("email")
    for kwargs, path in (
        ({"identities": "a@example.com"}, "$.identities"),
        ({"identities": ["a@example.com"]}, "$.identities"),
        ({"consents": "granted"}, "$.consents"),
        ({"consents": ["granted"]}, "$.consents"),
    ):
        with pytest.raises(ValidationError) as excinfo:
            _profile(**kwargs)
        assert path == excinfo.value.errors[0].path


def test_profile_cannot_be_updated_before_it_was_created():
    """updated_at before created_at is a contradiction."""
    with pytest.raises(ValidationError) as excinfo:
        Profile(id="p", created_at=AT, updated_at=AT.subtract(seconds=1))
    assert [("$.updated_at", "out_of_range")] == _codes(excinfo)


# --- event -----------------------------------------------------------------------------


def _event(**kwargs):
    fields = {
        "message_id": "m-1",
        "type": "track",
        "name": "Signed Up",
        "user_id": "u",
        "timestamp": AT,
        "received_at": AT,
    }
    fields.update(kwargs)
    return Event(**fields)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": None}, [("$.name", "required")]),
        ({"user_id": None}, [("$.user_id", "required")]),
        ({"type": "group"}, [("$.group_id", "required")]),
        (
            {"type": "alias", "user_id": None, "anonymous_id": "a"},
            [("$.previous_id", "required"), ("$.user_id", "required")],
        ),
        ({"type": "shout"}, [("$.type", "invalid")]),
        ({"channel": "Not A Channel"}, [("$.channel", "invalid")]),
        ({"properties": []}, [("$.properties", "type")]),
        ({"timestamp": dt.datetime(2024, 1, 1)}, [("$.timestamp", "naive_datetime")]),  # noqa: DTZ001
        ({"sent_at": 5}, [("$.sent_at", "type")]),
        ({"message_id": "x" * 257}, [("$.message_id", "too_long")]),
        ({"commerce": {"event": "Order Completed"}}, [("$.commerce", "type")]),
    ],
)
def test_event_invariants(kwargs, expected):
    """An event needs what its type needs; each problem is named by its path."""
    with pytest.raises(ValidationError) as excinfo:
        _event(**kwargs)
    assert expected == _codes(excinfo)


def test_event_types_and_times():
    """Types come from their names and every time is stored in UTC."""
    tokyo = pendulum.datetime(2024, 3, 5, 19, 0, tz="Asia/Tokyo")
    e = _event(type="page", name=None, timestamp=tokyo, sent_at=tokyo)
    assert (EventType.PAGE, pendulum.datetime(2024, 3, 5, 10, 0)) == (e.type, e.timestamp)
    assert "UTC" == e.sent_at.timezone_name


def test_event_is_hashable_despite_json_fields():
    """Events can sit in sets: mappings are left out of the hash but not out of equality."""
    a, b = _event(properties={"x": 1}), _event(properties={"x": 2})
    assert hash(a) == hash(b)
    assert a != b


def test_names_with_joiners_are_printable_enough():
    """Format characters such as the emoji zero-width joiner are allowed; control characters are not."""
    assert (
        "Family \U0001f468\u200d\U0001f469\u200d\U0001f467"
        == LineItem(name="Family \U0001f468\u200d\U0001f469\u200d\U0001f467").name
    )
    with pytest.raises(ValidationError):
        LineItem(name="tab\there")


def test_blank_phone_is_empty():
    """An empty phone value is reported as empty, not as unparsable."""
    with pytest.raises(ValidationError) as excinfo:
        Identity(kind="phone", value=" ")
    assert [("$.value", "empty")] == _codes(excinfo)


def test_line_and_paragraph_separators_are_not_text():
    """C1 controls and Unicode line separators break lines like control characters do."""
    for bad in ("a\u2028b", "a\x85b", "a\u2029b"):
        with pytest.raises(ValidationError) as excinfo:
            LineItem(name=bad)
        assert [("$.name", "invalid")] == _codes(excinfo)


def test_profile_lookups_normalise_their_arguments():
    """Channel and kind arguments are read like everywhere else: case-insensitively."""
    grant = Consent(purpose="marketing", channel="email", status="granted", status_at=AT)
    email = Identity(kind="email", value="a@example.com")
    profile = _profile(consents=[grant], identities={email})
    assert profile.consent("marketing", "EMAIL", AT.add(days=1)) is True
    assert [email] == profile.identities_of("EMAIL")


def test_profile_consent_rejects_naive_times():
    """A naive instant is a validation error, never a TypeError deep inside."""
    grant = Consent(purpose="marketing", channel="email", status="granted", status_at=AT)
    with pytest.raises(ValidationError) as excinfo:
        _profile(consents=[grant]).consent("marketing", "email", dt.datetime(2024, 3, 6))  # noqa: DTZ001
    assert [("$.at", "naive_datetime")] == _codes(excinfo)


def test_commerce_amounts_share_its_currency():
    """Every amount and price of a reading is in its currency; the currency is an ISO code."""
    eur, usd = Money(amount="1", currency="EUR"), Money(amount="1", currency="USD")
    with pytest.raises(ValidationError) as excinfo:
        Commerce(event="Order Completed", currency="eur", total=usd, items=[LineItem(price=usd)])
    assert [("$.total", "currency_mismatch"), ("$.items[0].price", "currency_mismatch")] == _codes(
        excinfo
    )
    assert "EUR" == Commerce(event="Order Completed", currency="eur", total=eur).currency
    with pytest.raises(ValidationError) as excinfo:
        Commerce(event="Order Completed", currency="dollars")
    assert [("$.currency", "unknown_currency")] == _codes(excinfo)


def test_trusted_builder_needs_every_field():
    """The parser's unchecked builder refuses to leave a field unset."""
    from omnichannel.models._check import trusted

    build = trusted(Money)
    assert Money(amount="1.5", currency="EUR") == build(amount=Decimal("1.5"), currency="EUR")
    with pytest.raises(TypeError):
        build(amount=Decimal(1))
