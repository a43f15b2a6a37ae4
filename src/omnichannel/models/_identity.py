"""Identifiers of a person, normalised per kind so that equal people compare equal."""

from __future__ import annotations

import unicodedata
from typing import Any

import attrs
import phonenumbers

from omnichannel.errors import ValidationError
from omnichannel.models._check import text_problem
from omnichannel.models._names import IdentityKind

#: RFC 5321 limits an address to 254 characters.
MAX_EMAIL = 254
#: Opaque ids (user, device, push token ...) may be long, but not unbounded.
MAX_OPAQUE = 512


def normalize_email(value: str, path: str = "$.value") -> str:
    """Return the canonical form of an email address: trimmed, NFC, lowercase.

    Examples:
        >>> normalize_email("  Jordan.Reyes@Example.COM ")
        'jordan.reyes@example.com'
    """
    problem = text_problem(value, max_len=MAX_EMAIL + 64)
    if problem:
        raise ValidationError.one(path, *problem)
    email = unicodedata.normalize("NFC", value.strip()).lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in email):
        raise ValidationError.one(path, "invalid", f"{value!r} is not an email address")
    if "." not in domain.strip(".") or domain.startswith(".") or domain.endswith("."):
        raise ValidationError.one(path, "invalid", f"{value!r} has no valid domain")
    if len(email) > MAX_EMAIL:
        raise ValidationError.one(path, "too_long", f"is longer than {MAX_EMAIL} characters")
    return email


def normalize_phone(value: str, *, default_region: str | None = None, path: str = "$.value") -> str:
    """Return a phone number in E.164 form (``+4915123456789``).

    Numbers without a country code need ``default_region`` (ISO 3166 alpha-2);
    numbers the `phonenumbers` library cannot place or does not consider valid
    are rejected.

    Examples:
        >>> normalize_phone("+1 (415) 555-0134")
        '+14155550134'
        >>> normalize_phone("0151 23456789", default_region="DE")
        '+4915123456789'
    """
    problem = text_problem(value, max_len=64)
    if problem:
        raise ValidationError.one(path, *problem)
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if default_region else " (no country code: pass default_region)"
        raise ValidationError.one(
            path, "invalid", f"{value!r} is not a phone number{hint}: {exc}"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError.one(path, "invalid", f"{value!r} is not a valid phone number")
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


def normalize_opaque(value: str, path: str = "$.value") -> str:
    """Return an opaque identifier (user id, device id, token ...) trimmed of outer space."""
    problem = text_problem(value, max_len=MAX_OPAQUE)
    if problem:
        raise ValidationError.one(path, *problem)
    return value.strip()


def normalize_identity(
    kind: IdentityKind, value: str, *, default_region: str | None = None, path: str = "$.value"
) -> str:
    """Normalise ``value`` as an identifier of ``kind``."""
    if kind == IdentityKind.EMAIL:
        return normalize_email(value, path)
    if kind == IdentityKind.PHONE:
        return normalize_phone(value, default_region=default_region, path=path)
    return normalize_opaque(value, path)


def _kind(value: Any) -> IdentityKind:
    try:
        return IdentityKind(value)
    except ValidationError as exc:
        raise ValidationError(e.under("$.kind") for e in exc.errors) from None


@attrs.frozen(kw_only=True, order=True, cache_hash=True)
class Identity:
    """One identifier of a person: a kind and a normalised value.

    Values are normalised on construction: emails are trimmed, NFC-normalised
    and lowercased; phone numbers become E.164 (use `Identity.parse` with
    ``default_region`` for national numbers); other kinds are trimmed.

    Examples:
        >>> Identity(kind="email", value=" Jordan@Example.com")
        Identity(kind=IdentityKind('email'), value='jordan@example.com')
        >>> str(Identity.parse("phone", "(415) 555-0134", default_region="US"))
        'phone:+14155550134'

    .. versionadded:: 0.1.0
    """

    kind: IdentityKind = attrs.field(converter=_kind)
    value: str

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "value", normalize_identity(self.kind, self.value))

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def parse(cls, kind: str, value: str, *, default_region: str | None = None) -> Identity:
        """Build an Identity, reading national phone numbers in ``default_region``."""
        checked = _kind(kind)
        return cls(
            kind=checked,
            value=normalize_identity(checked, value, default_region=default_region),
        )
