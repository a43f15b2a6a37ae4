"""Consent: what a person allowed, for which purpose, on which channel, and until when."""

from __future__ import annotations

import enum
import re
from typing import Any

import attrs
import pendulum

from omnichannel._time import to_utc
from omnichannel.errors import ValidationError
from omnichannel.models._check import (
    aware_datetime,
    optional_aware_datetime,
    optional_text,
    store_utc,
)
from omnichannel.models._names import Channel, optional_channel

_PURPOSE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


class ConsentStatus(enum.Enum):
    """Where a consent stands.

    .. versionadded:: 0.1.0
    """

    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


def _purpose(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not _PURPOSE.fullmatch(value):
        raise ValidationError.one(
            "$.purpose",
            "invalid",
            "must be 1-64 of a-z, 0-9, '_', '.', '-', starting with a letter (e.g. 'marketing')",
        )


def _status(value: Any) -> ConsentStatus:
    try:
        return ConsentStatus(value)
    except ValueError:
        raise ValidationError.one(
            "$.status", "invalid", f"must be one of granted, denied, revoked; not {value!r}"
        ) from None


@attrs.frozen(kw_only=True)
class Consent:
    """A person's answer for one purpose on one channel (or on every channel).

    Following Apache Unomi, a consent grants only from ``status_at`` until
    ``revoke_at`` (exclusive); outside that window, or when denied or
    revoked, it does not.

    Examples:
        >>> import pendulum
        >>> c = Consent(
        ...     purpose="marketing",
        ...     channel="email",
        ...     status="granted",
        ...     status_at=pendulum.datetime(2024, 1, 1),
        ...     revoke_at=pendulum.datetime(2025, 1, 1),
        ... )
        >>> c.is_granted(pendulum.datetime(2024, 6, 1)), c.is_granted(pendulum.datetime(2025, 1, 1))
        (True, False)

    .. versionadded:: 0.1.0
    """

    purpose: str = attrs.field(validator=_purpose)
    channel: Channel | None = attrs.field(converter=optional_channel)
    status: ConsentStatus = attrs.field(converter=_status)
    status_at: pendulum.DateTime = attrs.field(validator=aware_datetime)
    revoke_at: pendulum.DateTime | None = attrs.field(
        default=None, validator=optional_aware_datetime
    )
    source: str | None = attrs.field(default=None, validator=optional_text())

    def __attrs_post_init__(self) -> None:
        store_utc(self, "status_at", "revoke_at")
        if self.revoke_at is not None and self.revoke_at <= self.status_at:
            raise ValidationError.one("$.revoke_at", "out_of_range", "must be after status_at")

    def is_granted(self, at: pendulum.DateTime) -> bool:
        """Say whether this consent allows contact at instant ``at``."""
        moment = to_utc(at, "$.at")
        if self.status is not ConsentStatus.GRANTED or moment < self.status_at:
            return False
        return self.revoke_at is None or moment < self.revoke_at

    def applies_to(self, purpose: str, channel: Channel | str) -> bool:
        """Say whether this consent speaks for ``purpose`` on ``channel``."""
        return self.purpose == purpose and (
            self.channel is None or self.channel == Channel(channel)
        )
