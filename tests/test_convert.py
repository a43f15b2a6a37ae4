"""The one converter: every model round-trips through JSON, and bad data names its path."""

from __future__ import annotations

import json
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import (
    Commerce,
    Consent,
    Event,
    Identity,
    LineItem,
    Money,
    Profile,
    ValidationError,
    converter,
)
from omnichannel import testing as strategies

MODELS = [
    (strategies.identities(), Identity),
    (strategies.money(), Money),
    (strategies.line_items(), LineItem),
    (strategies.commerce(), Commerce),
    (strategies.consents(), Consent),
    (strategies.events(), Event),
    (strategies.profiles(), Profile),
]


@pytest.mark.parametrize(("strategy", "cls"), MODELS, ids=[cls.__name__ for _, cls in MODELS])
def test_round_trip_through_json_text(strategy, cls):
    """unstructure -> JSON text -> structure gives back an equal value, for every model."""

    @given(strategy)
    def check(value):
        text = json.dumps(converter.unstructure(value), allow_nan=False)
        assert value == converter.structure(json.loads(text), cls)

    check()


@given(strategies.profiles())
def test_equal_profiles_serialize_identically(profile):
    """Identity sets are written sorted, so serialization is deterministic."""
    rebuilt = Profile(
        id=profile.id,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        identities=frozenset(sorted(profile.identities, reverse=True)),
        traits=profile.traits,
        consents=profile.consents,
        time_zone=profile.time_zone,
        locale=profile.locale,
    )
    assert json.dumps(converter.unstructure(profile)) == json.dumps(converter.unstructure(rebuilt))


def test_datetimes_and_money_wire_format():
    """Datetimes travel as ISO-8601 UTC with Z; amounts as decimal strings."""
    at = pendulum.datetime(2024, 3, 5, 11, 0, 0, 123456, tz="Europe/Berlin")
    consent = Consent(purpose="marketing", channel="email", status="granted", status_at=at)
    assert "2024-03-05T10:00:00.123456Z" == converter.unstructure(consent)["status_at"]
    assert {
        "amount": "19.99",
        "currency": "EUR",
    } == converter.unstructure(Money(amount="19.99", currency="EUR"))


def test_structure_accepts_offsets_and_datetimes():
    """Any ISO-8601 offset is read and stored as UTC; datetime objects are accepted too."""
    data = {
        "purpose": "marketing",
        "channel": None,
        "status": "granted",
        "status_at": "2024-03-05T11:00:00+01:00",
    }
    expected = pendulum.datetime(2024, 3, 5, 10)
    assert expected == converter.structure(data, Consent).status_at
    data["status_at"] = pendulum.datetime(2024, 3, 5, 10, tz="UTC")
    assert expected == converter.structure(data, Consent).status_at


def test_structure_reports_every_problem_with_paths():
    """Nested problems are all listed, each at its JSON path."""
    data = {
        "message_id": "m",
        "type": "track",
        "timestamp": "yesterday",
        "received_at": 12,
        "name": "Order Completed",
        "user_id": "u",
        "commerce": {
            "event": "Order Completed",
            "items": [{"quantity": -1}, {"price": {"amount": 1.5, "currency": "USD"}}],
        },
        "properties": {"ok": float("nan")},
    }
    with pytest.raises(ValidationError) as excinfo:
        converter.structure(data, Event)
    assert {
        ("$.timestamp", "invalid_timestamp"),
        ("$.received_at", "type"),
        ("$.commerce.items[0].quantity", "out_of_range"),
        ("$.commerce.items[1].price.amount", "type"),
        ("$.properties.ok", "not_finite"),
    } == {(e.path, e.code) for e in excinfo.value.errors}


def test_structure_reports_missing_fields():
    """A missing required field is reported as required, at its path."""
    with pytest.raises(ValidationError) as excinfo:
        converter.structure({"currency": "USD"}, Money)
    assert [("$.amount", "required")] == [(e.path, e.code) for e in excinfo.value.errors]


def test_structure_rejects_wrong_container_types():
    """A list where an object belongs is a validation error, never a TypeError."""
    with pytest.raises(ValidationError):
        converter.structure(["not", "a", "profile"], Profile)
    with pytest.raises(ValidationError) as excinfo:
        converter.structure({"amount": "1", "currency": "USD"}, Decimal)
    assert "$" == excinfo.value.errors[0].path


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.lists(st.integers()),
        st.dictionaries(st.text(), st.text()),
    )
)
def test_structure_of_garbage_only_raises_validation_error(garbage):
    """Whatever the input, structuring an Event succeeds or raises ValidationError."""
    with pytest.raises(ValidationError):
        converter.structure(garbage, Event)


def test_timestamps_without_offset_are_utc_and_non_datetimes_are_rejected():
    """An ISO string without offset is read as UTC; a non-datetime is a type error."""
    from omnichannel._time import parse_timestamp, to_utc

    assert pendulum.datetime(2024, 3, 5, 10) == parse_timestamp("2024-03-05T10:00:00")
    with pytest.raises(ValidationError) as excinfo:
        to_utc("2024-03-05", "$.at")  # type: ignore[arg-type]
    assert [("$.at", "type")] == [(e.path, e.code) for e in excinfo.value.errors]


@given(st.frozensets(strategies.identities(), max_size=6))
def test_identity_sets_unstructure_in_identity_order(ids):
    """Sets of identifiers are written in Identity's own order, as any other set is."""
    assert [converter.unstructure(i) for i in sorted(ids)] == converter.unstructure(
        ids, frozenset[Identity]
    )
