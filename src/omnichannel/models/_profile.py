"""The unified profile: one person, every identifier, trait and consent."""

from __future__ import annotations

import functools
import re
from typing import Any

import attrs
import pendulum

from omnichannel._time import to_utc
from omnichannel.errors import ValidationError
from omnichannel.models._check import aware_datetime, mapping, store_utc, text
from omnichannel.models._consent import Consent
from omnichannel.models._identity import Identity
from omnichannel.models._names import Channel, IdentityKind
from omnichannel.typing import JSONObject

_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


@functools.lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    try:
        pendulum.timezone(name)
    except (ValueError, OSError):  # InvalidTimezone is a ValueError
        return False
    return True


def _time_zone(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not _known_zone(value):
        raise ValidationError.one(
            "$.time_zone", "invalid", f"{value!r} is not an IANA time zone name"
        )


def _locale(value: Any) -> str | None:
    """Normalise a BCP 47 tag to ``ll-RR`` form (``en_us`` -> ``en-US``)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _LOCALE.fullmatch(value.strip()):
        raise ValidationError.one(
            "$.locale", "invalid", f"{value!r} is not a locale tag like 'en-US'"
        )
    parts = value.strip().replace("_", "-").split("-")
    head, rest = parts[0].lower(), parts[1:]
    return "-".join([head, *(p.upper() if len(p) == 2 else p for p in rest)])


def _identities(value: Any) -> frozenset[Identity]:
    if isinstance(value, frozenset):
        items = value
    elif isinstance(value, (set, list, tuple)):
        items = frozenset(value)
    else:
        raise ValidationError.one("$.identities", "type", "must be a set of Identity")
    if not all(isinstance(i, Identity) for i in items):
        raise ValidationError.one("$.identities", "type", "must contain only Identity values")
    return items


def _consents(value: Any) -> tuple[Consent, ...]:
    items = tuple(value) if isinstance(value, (list, tuple)) else None
    if items is None or not all(isinstance(c, Consent) for c in items):
        raise ValidationError.one("$.consents", "type", "must be a sequence of Consent")
    return items


@attrs.frozen(kw_only=True)
class Profile:
    """Everything known about one person, across every channel.

    Examples:
        >>> import pendulum
        >>> at = pendulum.datetime(2024, 3, 5)
        >>> p = Profile(
        ...     id="p-1",
        ...     created_at=at,
        ...     updated_at=at,
        ...     time_zone="Europe/Berlin",
        ...     identities={Identity(kind="email", value="Ann@Example.com")},
        ... )
        >>> [str(i) for i in p.identities_of("email")]
        ['email:ann@example.com']

    .. versionadded:: 0.1.0
    """

    id: str = attrs.field(validator=text(max_len=256))
    created_at: pendulum.DateTime = attrs.field(validator=aware_datetime)
    updated_at: pendulum.DateTime = attrs.field(validator=aware_datetime)
    identities: frozenset[Identity] = attrs.field(factory=frozenset, converter=_identities)
    traits: JSONObject = attrs.field(factory=dict, validator=mapping, hash=False)
    consents: tuple[Consent, ...] = attrs.field(default=(), converter=_consents)
    time_zone: str = attrs.field(default="UTC", validator=_time_zone)
    locale: str | None = attrs.field(default=None, converter=_locale)

    def __attrs_post_init__(self) -> None:
        store_utc(self, "created_at", "updated_at")
        if self.updated_at < self.created_at:
            raise ValidationError.one(
                "$.updated_at", "out_of_range", "must not be before created_at"
            )

    def identities_of(self, kind: IdentityKind | str) -> list[Identity]:
        """Return this person's identifiers of one kind, sorted by value."""
        wanted = IdentityKind(kind)
        return sorted(i for i in self.identities if i.kind == wanted)

    def consent(self, purpose: str, channel: Channel | str, at: pendulum.DateTime) -> bool:
        """Say whether the person allows ``purpose`` on ``channel`` at instant ``at``.

        For each scope that applies (this channel, and "every channel") the
        latest answer given by ``at`` counts; every one of them must grant. With
        no answer at all the result is False: consent never fails open.
        """
        moment = to_utc(at, "$.at")
        latest: dict[Channel | None, Consent] = {}
        for record in self.consents:
            if record.applies_to(purpose, channel) and record.status_at <= moment:
                seen = latest.get(record.channel)
                if seen is None or seen.status_at <= record.status_at:
                    latest[record.channel] = record
        return bool(latest) and all(c.is_granted(moment) for c in latest.values())
