"""The echo adapter keeps omnichannel's adapter protocol, installed as a plugin."""

from __future__ import annotations

import asyncio

import attrs
import pytest
from omnichannel.channels import Outcome, Registry
from omnichannel.errors import ValidationError
from omnichannel.testing import (
    AdapterConformanceError,
    registry_check,
    sample_envelopes,
    verify_adapter,
)

from omnichannel_echo import EchoAdapter


def test_echo_passes_the_conformance_kit():
    """Every check of the kit passes with the default configuration."""
    verify_adapter(EchoAdapter)


def test_invalid_addresses_get_their_own_receipts_in_order():
    """Receipts follow the envelopes' order: only the listed addresses are invalid."""
    envelopes = [
        attrs.evolve(e, to=f"https://hooks.example/{n % 3}")
        for n, e in enumerate(sample_envelopes("webhook", 7))
    ]
    bad = {"https://hooks.example/1"}

    def expected(envelope):
        return Outcome.INVALID_ADDRESS if envelope.to in bad else Outcome.SENT

    verify_adapter(lambda: EchoAdapter(invalid=bad), envelopes, expected=expected)


def test_the_kit_notices_a_wrong_expectation():
    """The kit is not a rubber stamp: expecting the wrong outcome fails."""
    with pytest.raises(AdapterConformanceError, match="INVALID_ADDRESS was expected"):
        verify_adapter(EchoAdapter, expected=lambda _e: Outcome.INVALID_ADDRESS)


def test_the_entry_point_resolves_to_the_class():
    """The installed distribution declares `echo`, and it loads this very class."""
    assert EchoAdapter is registry_check("echo")


def test_the_registry_builds_it_from_a_url():
    """``echo://`` options configure it; keyword arguments win over the URL's."""
    registry = Registry.discover()
    echo = registry.create("echo://?prefix=demo&invalid=a,b", prefix="kw")
    assert isinstance(echo, EchoAdapter)
    assert ("kw", frozenset({"a", "b"})) == (echo.prefix, echo.invalid)
    envelope = sample_envelopes("webhook", 1)[0]
    receipts = asyncio.run(echo.send([envelope, attrs.evolve(envelope, to="b")]))
    assert [Outcome.SENT, Outcome.INVALID_ADDRESS] == [r.outcome for r in receipts]
    assert "kw-conformance-key-0" == receipts[0].provider_id


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("echo://somehost", "invalid"),
        ("echo://?colour=red", "unknown_option"),
        ("echo://?prefix=no%20spaces", "invalid"),
        ("smtp://?prefix=x", "invalid"),
    ],
)
def test_bad_urls_name_the_field(url, code):
    """A URL it cannot read is a ValidationError at the field it came from."""
    with pytest.raises(ValidationError) as caught:
        EchoAdapter.from_url(url)
    assert code == caught.value.errors[0].code
    assert caught.value.errors[0].path in {"$.url", "$.prefix"}


def test_sending_after_closing_is_a_programming_error():
    """A closed adapter refuses to send rather than pretending to."""
    echo = EchoAdapter()
    asyncio.run(echo.aclose())
    with pytest.raises(RuntimeError, match="after aclose"):
        asyncio.run(echo.send(sample_envelopes("webhook", 1)))
