"""Ads audiences for retargeting: hashed identifiers, Meta Custom Audiences, Google Customer Match.

Ad platforms match people by the SHA-256 of a *normalised* identifier, and
each platform normalises differently (Meta keeps the dots of a Gmail address,
Google's current rules drop them; Meta writes a phone number without ``+``,
Google with it). A hash of a value normalised the wrong way is accepted and
silently matches nobody, so `hash_identifier` follows the platforms' published
rules exactly (the contract is ``shared/conformance/audience-hashing/RULES.md``).

- `normalize_identifier` / `hash_identifier`: one identifier for one platform.
- `audience_rows`: the hashed rows for a set of people (Meta's multi-key rows).
- `MetaAudienceAdapter` (``meta-audience``): adds to or removes from a Meta
  Custom Audience through ``/{audience_id}/users``.
- `GoogleCustomerMatchAdapter` (``google-customer-match``): the same for a
  Google Ads Customer Match user list, through OfflineUserDataJobService.

The adapters do what the envelopes say. Who may be uploaded (consent to ad
targeting) and when a removal is due (consent withdrawn, the person erased) is
decided by the delivery pipeline, never here.

Examples:
    >>> hash_identifier(" John_Smith@gmail.com ", "email", "meta")
    '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f'
    >>> normalize_identifier("J.O.H.N+promo+2024@Gmail.Com", "email", "google")
    'john@gmail.com'
    >>> normalize_identifier("(650)555-1212", "phone", "meta", default_region="US")
    '16505551212'

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final

import attrs
import httpx
import phonenumbers

from omnichannel.channels._adapter import Capabilities, Envelope, Outcome, Receipt
from omnichannel.channels._http import (
    HttpAdapterBase,
    HttpStatusMap,
    base_url,
    failure_receipt,
    json_object,
    retry_after_seconds,
)
from omnichannel.channels._url import parse_adapter_url
from omnichannel.errors import ValidationError
from omnichannel.models import Profile
from omnichannel.personalization import RenderedAds

__all__ = [
    "EMPTY_SHA256",
    "KINDS",
    "PLATFORMS",
    "AudienceRows",
    "GoogleCustomerMatchAdapter",
    "MetaAudienceAdapter",
    "SkippedIdentifier",
    "audience_rows",
    "hash_identifier",
    "normalize_identifier",
]

#: The identifier kinds that can be normalised and hashed.
KINDS: Final = ("email", "phone", "first_name", "last_name")

#: The normalisation profiles (RULES.md sections 2 and 3):
#: ``meta`` (Custom Audiences, Conversions API); ``google`` (the Data Manager
#: API rules, Google's current ones: Gmail dots and ``+tag`` dropped);
#: ``google-ads`` (Google Ads API Customer Match and enhanced conversions for
#: leads: no Gmail rule); ``google-web`` (enhanced conversions for web, CM360:
#: Gmail dots dropped, ``+tag`` kept); ``dv360`` (Display & Video 360 Customer
#: Match: all whitespace dropped).
PLATFORMS: Final = ("meta", "google", "google-ads", "google-web", "dv360")

#: SHA-256 of the empty string: never a real identifier, never emitted.
EMPTY_SHA256: Final = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# Meta's own short field names and Google's AddressInfo names, accepted for the kinds.
_KIND_ALIASES: Final = {
    "em": "email",
    "ph": "phone",
    "fn": "first_name",
    "ln": "last_name",
    "given_name": "first_name",
    "family_name": "last_name",
}
_GMAIL: Final = frozenset({"gmail.com", "googlemail.com"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_EMAIL = 254
# "Don't include prefixes such as Mrs." / "suffixes such as Jr." (Google Data Manager API,
# formatting guide): the common English honorifics and generational or degree suffixes.
_NAME_PREFIX = re.compile(r"(?:mr|mrs|ms|miss|mx|dr|prof)\.?\s+(?=\S)")
_NAME_SUFFIX = re.compile(r"(?<=\S)[\s,]+(?:jr|sr|ii|iii|iv|2nd|3rd|4th|phd|md|esq)\.?")


def _kind(kind: object) -> str:
    if not isinstance(kind, str):
        raise ValidationError.one("$.kind", "type", "must be a string")
    wanted = _KIND_ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if wanted not in KINDS:
        raise ValidationError.one("$.kind", "unknown", f"{kind!r} is not one of {', '.join(KINDS)}")
    return wanted


def _platform(platform: object) -> str:
    if not isinstance(platform, str):
        raise ValidationError.one("$.platform", "type", "must be a string")
    wanted = platform.strip().lower()
    if wanted not in PLATFORMS:
        raise ValidationError.one(
            "$.platform", "unknown", f"{platform!r} is not one of {', '.join(PLATFORMS)}"
        )
    return wanted


def _region(default_region: object) -> str | None:
    if default_region is None:
        return None
    if not isinstance(default_region, str):
        raise ValidationError.one("$.default_region", "type", "must be a string or None")
    region = default_region.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError.one(
            "$.default_region",
            "invalid",
            f"{default_region!r} is not an ISO 3166-1 alpha-2 region phonenumbers knows",
        )
    return region


def _nfc_lower(value: str) -> str:
    # NFC before and after: Meta's `Valéry` example hashes right only in NFC, and a
    # lowercase mapping may leave a combining sequence behind.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())


def _email(value: str, platform: str) -> str:
    text = _nfc_lower(value)
    # Meta and the older Google rules trim; the Data Manager API and DV360 also drop
    # whitespace inside the address.
    text = "".join(text.split()) if platform in {"google", "dv360"} else text.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or "@" in local or any(c.isspace() for c in text):
        raise ValidationError.one("$.value", "invalid", "is not an email address")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise ValidationError.one("$.value", "invalid", "has no valid email domain")
    if domain in _GMAIL and platform in {"google", "google-web"}:
        local = local.replace(".", "")
        if platform == "google":
            local = local.partition("+")[0]
        if not local:
            raise ValidationError.one("$.value", "invalid", "has an empty Gmail local part")
    email = f"{local}@{domain}"
    if len(email) > _MAX_EMAIL:
        raise ValidationError.one("$.value", "too_long", f"is longer than {_MAX_EMAIL} characters")
    return email


def _phone(value: str, platform: str, region: str | None) -> str:
    text = value.strip()
    try:
        # phonenumbers reads "+44 ...", "tel:+44-...", and with a region the trunk and
        # international prefixes ("020 ...", "0044 ..." from GB, "011 44 ..." from the US).
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        if region is None and "+" not in text:
            # Guessing the country would hash someone else's number.
            raise ValidationError.one(
                "$.value",
                "no_country_code",
                "a phone number without '+' and a country code needs default_region",
            ) from None
        raise ValidationError.one("$.value", "invalid", f"is not a phone number: {error}") from None
    # Possible (a plausible length for the country), not necessarily assigned: an
    # unassigned number hashes to a value that matches nobody, which costs nothing.
    if not phonenumbers.is_possible_number(number):
        raise ValidationError.one("$.value", "invalid", "is not a possible phone number")
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Meta: digits only with the country code, no "+"; Google: E.164 with the "+".
    return e164[1:] if platform == "meta" else e164


def _name(value: str, kind: str, platform: str) -> str:
    text = _nfc_lower(value).strip()
    if platform.startswith("google"):
        if kind == "first_name":
            text = _NAME_PREFIX.sub("", text, count=1) if _NAME_PREFIX.match(text) else text
        else:
            text = _NAME_SUFFIX.sub("", text)
    # "No punctuation" (Meta's fn/ln rules, Google's AddressInfo fields).
    text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    text = "".join(text.split()) if platform == "dv360" else text.strip()
    if not text:
        raise ValidationError.one("$.value", "empty", "has nothing left once normalised")
    return text


def normalize_identifier(
    value: object, kind: object, platform: object, *, default_region: object = None
) -> str:
    """Return ``value`` normalised as ``platform`` requires before hashing.

    Args:
        value: The identifier as collected.
        kind: ``email``, ``phone``, ``first_name`` or ``last_name`` (Meta's
            ``em``, ``ph``, ``fn``, ``ln`` are accepted too).
        platform: One of `PLATFORMS` (``meta``, ``google`` ...).
        default_region: ISO 3166-1 alpha-2 region for phone numbers written
            without ``+`` and a country code (``GB`` reads ``020 7946 0018``
            and ``0044 20 7946 0018``).

    Raises:
        ValidationError: ``$.kind`` or ``$.platform`` when unknown,
            ``$.default_region`` when not a region, ``$.value`` when the value
            is empty or cannot be normalised (a phone number without a country
            code and no region, an address without a domain).

    Examples:
        >>> normalize_identifier("Peter.Gibbons@gmail.com", "email", "meta")
        'peter.gibbons@gmail.com'
        >>> normalize_identifier("Peter.Gibbons@gmail.com", "email", "google")
        'petergibbons@gmail.com'
        >>> normalize_identifier("020 7946 0018", "phone", "google", default_region="GB")
        '+442079460018'
        >>> normalize_identifier("Valéry", "first_name", "meta")
        'valéry'

    .. versionadded:: 0.1.0
    """
    checked_kind, checked_platform = _kind(kind), _platform(platform)
    region = _region(default_region)
    if not isinstance(value, str):
        raise ValidationError.one("$.value", "type", "must be a string")
    if not value.strip():
        # SHA-256 of "" matches nobody: an empty identifier is dropped, never hashed.
        raise ValidationError.one("$.value", "empty", "must not be empty")
    if checked_kind == "email":
        return _email(value, checked_platform)
    if checked_kind == "phone":
        return _phone(value, checked_platform, region)
    return _name(value, checked_kind, checked_platform)


def hash_identifier(
    value: object, kind: object, platform: object, *, default_region: object = None
) -> str:
    """Return the lowercase hex SHA-256 of ``value`` normalised for ``platform``.

    A value that already is 64 hexadecimal characters is taken as hashed and
    returned as is (lowercased), as Meta's SDK does: hashing twice would
    match nobody. Arguments and errors are those of `normalize_identifier`;
    the digest of the empty string is refused like an empty value.

    Examples:
        >>> hash_identifier("John_Smith@gmail.com", "email", "meta")
        '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f'
        >>> hash_identifier("(650)555-1212", "phone", "meta", default_region="US")[:16]
        'e323ec626319ca94'
        >>> hash_identifier("Mary", "first_name", "meta")[:16]
        '6915771be1c5aa0c'

    .. versionadded:: 0.1.0
    """
    if isinstance(value, str) and _HEX64.fullmatch(value.strip().lower()):
        _kind(kind)
        _platform(platform)
        _region(default_region)
        digest = value.strip().lower()
        if digest == EMPTY_SHA256:
            raise ValidationError.one("$.value", "empty", "is the SHA-256 of an empty value")
        return digest
    normalized = normalize_identifier(value, kind, platform, default_region=default_region)
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


# --- rows for a set of people ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SkippedIdentifier:
    """An identifier `audience_rows` left out, and why (the value itself is not kept).

    Attributes:
        person: The index of the person in the input.
        kind: The identifier's kind.
        code: The `ValidationError` code (``invalid``, ``no_country_code`` ...).
        message: What was wrong.

    .. versionadded:: 0.1.0
    """

    person: int
    kind: str
    code: str
    message: str


@attrs.frozen(kw_only=True)
class AudienceRows:
    """Hashed rows for an audience upload, one column per kind (Meta's multi-key form).

    A person with several values of a kind (two e-mail addresses) gets
    several rows; a column a row has no value for is ``""``, as Meta asks.
    People with no usable identifier get no row.

    Attributes:
        platform: The normalisation profile used.
        kinds: The columns, in order.
        rows: The hashed rows.
        people: For each row, the index of the person it belongs to.
        skipped: The identifiers that could not be normalised.

    .. versionadded:: 0.1.0
    """

    platform: str
    kinds: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    people: tuple[int, ...]
    skipped: tuple[SkippedIdentifier, ...]

    @property
    def meta_schema(self) -> list[str]:
        """The columns as Meta's multi-key schema names (``EMAIL``, ``PHONE``, ``FN``, ``LN``)."""
        return [_META_KEYS[k] for k in self.kinds]


_META_KEYS: Final = {"email": "EMAIL", "phone": "PHONE", "first_name": "FN", "last_name": "LN"}
# Trait names read for the name kinds of a Profile (ours, and the Segment Spec's).
_NAME_TRAITS: Final = {
    "first_name": ("first_name", "firstName"),
    "last_name": ("last_name", "lastName"),
}


def _values_of(person: Profile | Mapping[str, object], kind: str) -> list[object]:
    if isinstance(person, Profile):
        found: list[object] = [i.value for i in person.identities_of(kind)]
        found.extend(person.traits[t] for t in _NAME_TRAITS.get(kind, ()) if t in person.traits)
        return found
    raw = person.get(kind)
    if raw is None:
        return []
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        return [raw]
    return list(raw)


def _hash_person(
    person: Profile | Mapping[str, object],
    index: int,
    *,
    platform: str,
    kinds: Sequence[str],
    region: str | None,
    skipped: list[SkippedIdentifier],
) -> dict[str, list[str]]:
    hashed: dict[str, list[str]] = {}
    for kind in kinds:
        digests: list[str] = []
        for value in _values_of(person, kind):
            try:
                digest = hash_identifier(value, kind, platform, default_region=region)
            except ValidationError as error:
                problem = error.errors[0]
                skipped.append(
                    SkippedIdentifier(
                        person=index, kind=kind, code=problem.code, message=problem.message
                    )
                )
                continue
            if digest not in digests:  # two spellings of one address hash alike
                digests.append(digest)
        if digests:
            hashed[kind] = digests
    return hashed


def _rows_of(hashed: Mapping[str, list[str]], kinds: Sequence[str]) -> list[tuple[str, ...]]:
    depth = max((len(v) for v in hashed.values()), default=0)
    return [
        tuple(hashed[k][n] if n < len(hashed.get(k, ())) else "" for k in kinds)
        for n in range(depth)
    ]


def audience_rows(
    people: object,
    platform: object,
    kinds: object = ("email", "phone"),
    *,
    default_region: object = None,
) -> AudienceRows:
    """Hash the identifiers of ``people`` for an upload to ``platform``.

    Each person is a `Profile` (e-mail and phone from its identities, names
    from its identities or its ``first_name``/``firstName`` and
    ``last_name``/``lastName`` traits) or a mapping from kind to a value or
    a list of values (``RenderedAds.identifiers`` is one). Values that cannot
    be normalised are left out and listed in ``skipped`` rather than failing
    the whole upload.

    This function uploads nothing and checks no consent: choosing who may be
    in an ads audience is the delivery pipeline's decision.

    Raises:
        ValidationError: ``$.people`` / ``$.people[i]`` for input that is not
            people, ``$.platform``, ``$.kinds[i]`` or ``$.default_region``.

    Examples:
        >>> found = audience_rows(
        ...     [{"email": ["ann@example.com", "ANN@work.example"], "phone": "+14155550134"}],
        ...     "meta",
        ... )
        >>> found.meta_schema, len(found.rows), found.rows[1][1], found.people
        (['EMAIL', 'PHONE'], 2, '', (0, 0))

    .. versionadded:: 0.1.0
    """
    checked_platform = _platform(platform)
    region = _region(default_region)
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not kinds:
        raise ValidationError.one("$.kinds", "type", "must be a non-empty list of kinds")
    checked_kinds: list[str] = []
    for n, kind in enumerate(kinds):
        try:
            checked = _kind(kind)
        except ValidationError as error:
            problem = error.errors[0]
            raise ValidationError.one(f"$.kinds[{n}]", problem.code, problem.message) from None
        if checked not in checked_kinds:
            checked_kinds.append(checked)
    if isinstance(people, (str, bytes, Mapping, Profile)) or not isinstance(people, Iterable):
        raise ValidationError.one("$.people", "type", "must be a list of profiles or mappings")
    rows: list[tuple[str, ...]] = []
    owners: list[int] = []
    skipped: list[SkippedIdentifier] = []
    for index, person in enumerate(people):
        if not isinstance(person, (Profile, Mapping)):
            raise ValidationError.one(
                f"$.people[{index}]", "type", "must be a Profile or a mapping of kind to values"
            )
        found = _rows_of(
            _hash_person(
                person,
                index,
                platform=checked_platform,
                kinds=checked_kinds,
                region=region,
                skipped=skipped,
            ),
            checked_kinds,
        )
        rows.extend(found)
        owners.extend([index] * len(found))
    return AudienceRows(
        platform=checked_platform,
        kinds=tuple(checked_kinds),
        rows=tuple(rows),
        people=tuple(owners),
        skipped=tuple(skipped),
    )


# --- shared adapter plumbing -------------------------------------------------------------


@attrs.frozen
class _Item:
    """One envelope ready to upload: where it is in the batch, whose hashes."""

    index: int
    hashed: dict[str, list[str]]

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.hashed.values())


def _prepare(
    envelope: Envelope, platform: str, kinds: Sequence[str], region: str | None
) -> tuple[str, dict[str, list[str]]] | Receipt:
    """The action and hashes of an envelope, or the receipt saying why it cannot go."""
    content = envelope.content
    if not isinstance(content, RenderedAds):
        return Receipt(
            outcome=Outcome.PERMANENT,
            code="bad_content",
            detail=f"an ads envelope holds RenderedAds, not {type(content).__name__}",
        )
    if content.action not in {"add", "remove"}:
        return Receipt(
            outcome=Outcome.PERMANENT,
            code="bad_action",
            detail=f"action must be 'add' or 'remove', not {content.action!r}",
        )
    skipped: list[SkippedIdentifier] = []
    hashed = _hash_person(
        content.identifiers, 0, platform=platform, kinds=kinds, region=region, skipped=skipped
    )
    if not hashed:
        # The person cannot be matched on this platform: sending again changes nothing.
        reasons = sorted({f"{s.kind}: {s.message}" for s in skipped})
        return Receipt(
            outcome=Outcome.PERMANENT,
            code="no_identifiers",
            detail="no identifier this platform can match"
            + (f" ({'; '.join(reasons)})" if reasons else ""),
        )
    return content.action, hashed


def _chunks(items: Sequence[_Item], limit: int) -> list[list[_Item]]:
    """Consecutive groups whose total size stays within ``limit`` (an item is never split)."""
    out: list[list[_Item]] = []
    size = 0
    for item in items:
        if not out or size + item.size > limit:
            out.append([])
            size = 0
        out[-1].append(item)
        size += item.size
    return out


def _text_option(value: object, path: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.one(path, "required", f"needs {what}")
    return value.strip()


def _limit_option(value: object, path: str, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ValidationError.one(path, "out_of_range", f"must be an integer from 1 to {most}")
    return value


def _base_from_url(scheme: str, url: str) -> str | None:
    """``https://host[:port]`` from the URL's host (``+http`` schemes mean plain http)."""
    netloc = url.partition("://")[2].split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    if not netloc:
        return None
    return f"{'http' if scheme.endswith('+http') else 'https'}://{netloc}"


# --- Meta Custom Audiences ---------------------------------------------------------------

# Graph API error codes, from https://developers.facebook.com/docs/graph-api/guides/error-handling
# and https://developers.facebook.com/docs/graph-api/overview/rate-limiting and the Marketing API
# error reference https://developers.facebook.com/docs/marketing-api/error-reference.
# Throttled (the request was refused, nothing applied): 4 application limit, 17 user limit,
# 32 page limit, 341 application limit reached, 368 temporarily blocked for policy violations
# ("wait and retry"), 613 calls within one hour exceeded, 80000-80014 business use case limits
# (80003 is the Custom Audience one).
_META_THROTTLED: Final = frozenset(
    {4, 17, 32, 341, 368, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009,
     80014}
)  # fmt: skip
# 1 "unknown error" and 2 "service temporarily unavailable": wait and retry, but whether
# the request was applied is not said.
_META_TRANSIENT: Final = frozenset({1, 2})
# 102 session key invalid, 104 incorrect signature, 190 invalid OAuth 2.0 access token,
# 10 and 200-299 permission errors (200/1870034: Custom Audience terms not accepted),
# 294 ads_management permission missing: every upload fails until an operator acts.
_META_AUTH: Final = frozenset({10, 102, 104, 190, *range(200, 300)})
# 200/1870047 "Audience size too low: you cannot remove users from this audience": a
# refusal of this removal, not of our credentials.
_META_REFUSED_SUBCODES: Final = frozenset({1870047})


def _meta_wait(headers: httpx.Headers) -> float | None:
    """Seconds to wait, from Retry-After or Meta's usage headers (the longest said)."""
    waits: list[float] = []
    found = retry_after_seconds(headers)
    if found is not None:
        waits.append(found)
    # X-Business-Use-Case-Usage: {"<business id>": [{"type": "custom_audience", ...,
    # "estimated_time_to_regain_access": <minutes>}]} (rate-limiting guide).
    try:
        usage = json.loads(headers.get("x-business-use-case-usage", "{}"))
    except ValueError:
        usage = {}
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                minutes = (
                    entry.get("estimated_time_to_regain_access")
                    if isinstance(entry, dict)
                    else None
                )
                if isinstance(minutes, (int, float)) and minutes > 0:
                    waits.append(float(minutes) * 60.0)
    # X-Ad-Account-Usage: {"acc_id_util_pct": ..., "reset_time_duration": <seconds>}.
    try:
        account = json.loads(headers.get("x-ad-account-usage", "{}"))
    except ValueError:
        account = {}
    reset = account.get("reset_time_duration") if isinstance(account, dict) else None
    if isinstance(reset, (int, float)) and reset > 0:
        waits.append(float(reset))
    return max(waits) if waits else None


_META_STATUSES = HttpStatusMap()


def _meta_receipt(response: httpx.Response) -> Receipt:
    answer = json_object(response)
    if 200 <= response.status_code < 300 and "error" not in answer:
        invalid = answer.get("num_invalid_entries")
        provider_id = answer.get("session_id") or answer.get("audience_id")
        return Receipt(
            outcome=Outcome.SENT,
            provider_id=None if provider_id is None else str(provider_id),
            status=response.status_code,
            detail=f"{invalid} invalid entries" if isinstance(invalid, int) and invalid else "",
        )
    error = answer.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("code"), int):
        return _META_STATUSES.receipt(response)
    code: int = error["code"]
    subcode = error.get("error_subcode")
    label = f"{code}/{subcode}" if isinstance(subcode, int) else str(code)
    message = str(error.get("error_user_msg") or error.get("message") or "")[:300]
    if subcode in _META_REFUSED_SUBCODES:
        outcome = Outcome.PERMANENT
    elif code in _META_THROTTLED:
        outcome = Outcome.RETRY
    elif code in _META_AUTH:
        outcome = Outcome.AUTH
    elif code in _META_TRANSIENT or error.get("is_transient") is True:
        outcome = Outcome.RETRY_AMBIGUOUS
    elif code == 100:  # "Invalid parameter": this request will never pass
        outcome = Outcome.PERMANENT
    else:
        outcome = _META_STATUSES.classify(response.status_code)
        if outcome is Outcome.SENT:  # an error object in a 2xx: do not trust it as sent
            outcome = Outcome.RETRY_AMBIGUOUS
    return Receipt(
        outcome=outcome,
        retry_after=_meta_wait(response.headers) if outcome.retryable else None,
        status=response.status_code,
        code=label,
        detail=message,
    )


class MetaAudienceAdapter(HttpAdapterBase):
    """Add people to, or remove them from, a Meta Custom Audience (customer list).

    Each envelope's ``to`` is the Custom Audience id and its content a
    `RenderedAds`; its identifiers are hashed with the ``meta`` rules
    (`hash_identifier`) and sent as multi-key rows::

        POST   {api_base}/{version}/{audience_id}/users   (action "add")
        DELETE {api_base}/{version}/{audience_id}/users   (action "remove")
        {"payload": {"schema": ["EMAIL", "PHONE"], "data": [["<sha256>", "<sha256>"], ...]},
         "access_token": "...", "appsecret_proof": "..."}

    Envelopes for the same audience and action share a request, up to
    ``rows_per_request`` rows (Meta takes at most 10,000 at a time; see
    https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users).
    An envelope whose person has no identifier Meta can match is
    ``PERMANENT`` (code ``no_identifiers``) without a request.

    Answers are classified by Graph API error code: throttling (4, 17, 32,
    341, 368, 613, 80000-80014 including 80003 for Custom Audiences) is
    ``RETRY`` with the wait from ``Retry-After`` or the
    ``X-Business-Use-Case-Usage`` / ``X-Ad-Account-Usage`` headers; token
    and permission errors (102, 104, 190, 10, 200-299) are ``AUTH``; 1 and 2
    are ``RETRY_AMBIGUOUS``; 100 (invalid parameter) and 200/1870047 (the
    audience would become too small to remove people) are ``PERMANENT``;
    otherwise the HTTP status decides.

    Args:
        access_token: A system-user token with ``ads_management`` on the ad
            account owning the audiences.
        app_secret: When the app requires it, sent as ``appsecret_proof``
            (HMAC-SHA256 of the token).
        api_base: The Graph API's base URL.
        version: The Graph API version (``v25.0``).
        default_region: Region for national phone numbers (profiles hold
            E.164 numbers, so rarely needed).
        rows_per_request: Rows per request, 1 to 10,000.

    From a URL: ``meta-audience://?access_token=TOKEN&version=v25.0`` (a host,
    ``meta-audience://graph.example``, replaces the API's host;
    ``meta-audience+http://`` speaks plain HTTP, for tests).

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "meta-audience"
    channel: ClassVar[str] = "ads"
    # Membership changes are set operations: adding or removing a person twice leaves
    # the audience as once, so an ambiguous retry cannot duplicate anything.
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=10_000, idempotency_keys=True)

    #: Meta's limit of rows per ``/users`` request.
    MAX_ROWS: ClassVar[int] = 10_000

    def __init__(
        self,
        access_token: object,
        *,
        app_secret: object = None,
        api_base: object = "https://graph.facebook.com",
        version: object = "v25.0",
        default_region: object = None,
        rows_per_request: object = 10_000,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        self.access_token = _text_option(access_token, "$.access_token", "an access token")
        if app_secret is not None and (not isinstance(app_secret, str) or not app_secret):
            raise ValidationError.one("$.app_secret", "type", "must be a non-empty string")
        self.app_secret = app_secret
        self.api_base = base_url(api_base, "$.api_base")
        if not isinstance(version, str) or not re.fullmatch(r"v\d+\.\d+", version):
            raise ValidationError.one("$.version", "invalid", "must look like 'v25.0'")
        self.version = version
        self.default_region = _region(default_region)
        self.rows_per_request = _limit_option(rows_per_request, "$.rows_per_request", self.MAX_ROWS)
        super().__init__(client=client, transport=transport, max_connections=max_connections)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MetaAudienceAdapter:
        """Build from ``meta-audience://?access_token=TOKEN`` (see the class docstring)."""
        scheme = url.partition("://")[0]
        if scheme not in {"meta-audience", "meta-audience+http"}:
            raise ValidationError.one("$.url", "invalid", "must start with meta-audience://")
        query = dict(parse_adapter_url(url, scheme).options)
        token = options.pop("access_token", None) or query.pop("access_token", None)
        if token is None:
            raise ValidationError.one("$.url", "required", "needs ?access_token=TOKEN")
        for key in ("app_secret", "version", "default_region"):
            if key in query and key not in options:
                options[key] = query[key]
        base = _base_from_url(scheme, url)
        if base is not None:
            options.setdefault("api_base", base)
        return cls(token, **options)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Upload the batch's rows, one request per audience and action (and 10,000 rows)."""
        receipts: list[Receipt | None] = [None] * len(batch)
        groups: dict[tuple[str, str], list[_Item]] = {}
        for index, envelope in enumerate(batch):
            if not envelope.to.isdigit():
                receipts[index] = Receipt(
                    outcome=Outcome.PERMANENT,
                    code="bad_audience",
                    detail="a Meta Custom Audience id is a number",
                )
                continue
            prepared = _prepare(envelope, "meta", KINDS, self.default_region)
            if isinstance(prepared, Receipt):
                receipts[index] = prepared
                continue
            action, hashed = prepared
            groups.setdefault((envelope.to, action), []).append(_Item(index, hashed))
        for (audience, action), items in groups.items():
            for chunk in _chunks(items, self.rows_per_request):
                receipt = await self._upload(audience, action, chunk)
                for item in chunk:
                    receipts[item.index] = receipt
        return [r if r is not None else Receipt(outcome=Outcome.PERMANENT) for r in receipts]

    async def _upload(self, audience: str, action: str, chunk: Sequence[_Item]) -> Receipt:
        kinds = [k for k in KINDS if any(k in item.hashed for item in chunk)]
        rows = [list(row) for item in chunk for row in _rows_of(item.hashed, kinds)]
        body: dict[str, Any] = {
            "payload": {"schema": [_META_KEYS[k] for k in kinds], "data": rows},
            "access_token": self.access_token,
        }
        if self.app_secret is not None:
            body["appsecret_proof"] = hmac.new(
                self.app_secret.encode(), self.access_token.encode(), hashlib.sha256
            ).hexdigest()
        url = f"{self.api_base}/{self.version}/{audience}/users"
        method = "POST" if action == "add" else "DELETE"
        try:
            response = await self.client.request(method, url, json=body)
        except httpx.HTTPError as error:
            return failure_receipt(error)
        return _meta_receipt(response)


# --- Google Ads Customer Match -----------------------------------------------------------

# Google Ads API error codes (GoogleAdsFailure.errors[].errorCode, one category and value),
# from https://developers.google.com/google-ads/api/docs/best-practices/error-types and the
# enum references (QuotaError, AuthenticationError, AuthorizationError, InternalError,
# DatabaseError, OfflineUserDataJobError, UserDataError) of
# https://developers.google.com/google-ads/api/reference/rpc/latest/overview
_GOOGLE_AUTH_CATEGORIES: Final = frozenset(
    {"authenticationError", "authorizationError", "headerError"}
)
# Account-level states only an operator can change: the customer data terms, allow-lists,
# Customer Match eligibility.
_GOOGLE_AUTH_CODES: Final = frozenset(
    {
        ("offlineUserDataJobError", "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS"),
        ("offlineUserDataJobError", "NOT_ON_ALLOWLIST_FOR_USER_ID"),
        ("userDataError", "OPERATIONS_FOR_CUSTOMER_MATCH_NOT_ALLOWED"),
        ("quotaError", "ACCESS_PROHIBITED"),
    }
)
# google.rpc.Code names (https://cloud.google.com/apis/design/errors#handling_errors) when the
# body names no Google Ads error.
_GRPC_STATUS: Final = {
    "UNAUTHENTICATED": Outcome.AUTH,
    "PERMISSION_DENIED": Outcome.AUTH,
    "RESOURCE_EXHAUSTED": Outcome.RETRY,
    "UNAVAILABLE": Outcome.RETRY,
    "ABORTED": Outcome.RETRY,
    "INTERNAL": Outcome.RETRY_AMBIGUOUS,
    "UNKNOWN": Outcome.RETRY_AMBIGUOUS,
    "DEADLINE_EXCEEDED": Outcome.RETRY_AMBIGUOUS,
    "CANCELLED": Outcome.RETRY_AMBIGUOUS,
    "INVALID_ARGUMENT": Outcome.PERMANENT,
    "NOT_FOUND": Outcome.PERMANENT,
    "FAILED_PRECONDITION": Outcome.PERMANENT,
    "OUT_OF_RANGE": Outcome.PERMANENT,
    "ALREADY_EXISTS": Outcome.PERMANENT,
}
_GOOGLE_STATUSES = HttpStatusMap()
_DURATION = re.compile(r"(\d+(?:\.\d+)?)s")
_JOB_NAME = re.compile(r"customers/\d+/offlineUserDataJobs/\d+")
_USER_LIST = re.compile(r"customers/\d+/userLists/\d+")


def _google_outcome(category: str, value: str) -> Outcome | None:
    if (category, value) in _GOOGLE_AUTH_CODES or category in _GOOGLE_AUTH_CATEGORIES:
        return Outcome.AUTH
    if category == "quotaError":  # RESOURCE_EXHAUSTED, RESOURCE_TEMPORARILY_EXHAUSTED ...
        return Outcome.RETRY
    if category == "internalError":  # INTERNAL_ERROR, TRANSIENT_ERROR, DEADLINE_EXCEEDED
        return Outcome.RETRY_AMBIGUOUS
    if (category, value) == ("databaseError", "CONCURRENT_MODIFICATION"):
        return Outcome.RETRY  # the change was refused; Google asks to retry
    return None


def _google_errors(status: object) -> list[dict[str, Any]]:
    """The GoogleAdsError entries of a google.rpc.Status's details."""
    if not isinstance(status, dict):
        return []
    found: list[dict[str, Any]] = []
    for detail in status.get("details") or []:
        if isinstance(detail, dict):
            found.extend(e for e in detail.get("errors") or [] if isinstance(e, dict))
    return found


def _error_code(error: Mapping[str, Any]) -> tuple[str, str] | None:
    code = error.get("errorCode")
    if isinstance(code, dict) and code:
        category, value = next(iter(code.items()))
        return str(category), str(value)
    return None


def _retry_delay(errors: Sequence[Mapping[str, Any]]) -> float | None:
    for error in errors:
        details = error.get("details")
        quota = details.get("quotaErrorDetails") if isinstance(details, dict) else None
        delay = quota.get("retryDelay") if isinstance(quota, dict) else None
        if isinstance(delay, str) and (match := _DURATION.fullmatch(delay)):
            return float(match.group(1))
    return None


def _classify_google_errors(
    errors: Sequence[Mapping[str, Any]], default: Outcome
) -> tuple[Outcome, str | None, str]:
    """The outcome the first classifiable error gives, its code and message."""
    first: tuple[str | None, str] = (None, "")
    for error in errors:
        found = _error_code(error)
        label = None if found is None else f"{found[0]}.{found[1]}"
        message = str(error.get("message") or "")[:300]
        if first == (None, ""):
            first = (label, message)
        outcome = None if found is None else _google_outcome(*found)
        if outcome is not None:
            return outcome, label, message
    return default, first[0], first[1]


def _google_receipt(response: httpx.Response) -> Receipt:
    """Classify a failed Google Ads API call (a google.rpc.Status in ``error``)."""
    error = json_object(response).get("error")
    status = error.get("status") if isinstance(error, dict) else None
    fallback = _GRPC_STATUS.get(status) if isinstance(status, str) else None
    if fallback is None:
        fallback = _GOOGLE_STATUSES.classify(response.status_code)
    errors = _google_errors(error)
    outcome, code, message = _classify_google_errors(errors, fallback)
    wait = None
    if outcome.retryable:
        wait = _retry_delay(errors)
        if wait is None:
            wait = retry_after_seconds(response.headers)
    if not message and isinstance(error, dict):
        message = str(error.get("message") or "")[:300]
    return Receipt(
        outcome=outcome,
        retry_after=wait,
        status=response.status_code,
        code=code or (status if isinstance(status, str) else None),
        detail=message or response.reason_phrase,
    )


class GoogleCustomerMatchAdapter(HttpAdapterBase):
    """Add people to, or remove them from, a Google Ads Customer Match user list.

    Each envelope's ``to`` is the user list (its id, or its resource name
    ``customers/{customer_id}/userLists/{id}``) and its content a
    `RenderedAds`. Per send, each user list and action gets one
    OfflineUserDataJob (Google refuses creates and removes in one job,
    ``CONFLICTING_OPERATION``)::

        POST {api_base}/{version}/customers/{customer_id}/offlineUserDataJobs:create
        POST {api_base}/{version}/{job}:addOperations   (creates or removes, partial failure on)
        POST {api_base}/{version}/{job}:run

    with the ``developer-token`` header, ``Authorization: Bearer`` from
    ``token_provider`` (called once per send; it may be async) and, when
    given, ``login-customer-id``. Each envelope is one operation holding up
    to 20 ``userIdentifiers`` (``hashedEmail``, ``hashedPhoneNumber``) hashed
    with the ``google`` rules; a request carries at most
    ``identifiers_per_request`` identifiers (Google's limit is 100,000).
    The job runs asynchronously at Google: ``SENT`` means the job holding
    the operation was started; its provider id is the job's resource name.

    Errors are classified by their Google Ads error code: ``quotaError``
    (``RESOURCE_EXHAUSTED``) is ``RETRY`` with its ``retryDelay``;
    authentication, authorization and header errors, unaccepted customer
    data terms and Customer Match not allowed are ``AUTH``; internal errors
    are ``RETRY_AMBIGUOUS``; ``CONCURRENT_MODIFICATION`` is ``RETRY``; a
    failed operation (partial failure) fails only its envelope; otherwise
    the ``google.rpc`` status, then the HTTP status, decides.

    Args:
        customer_id: The Google Ads account holding the lists (dashes allowed).
        developer_token: The API developer token.
        token_provider: A callable returning an OAuth 2.0 access token (str
            or awaitable str) with the ``adwords`` scope; the host refreshes it.
        login_customer_id: The manager account, when access goes through one.
        api_base: The API's base URL.
        version: The API version (``v26``).
        platform: The hashing rules (`PLATFORMS`): ``google`` (Data Manager
            API, Google's current rules) or ``google-ads``.
        consent: ``customerMatchUserListMetadata.consent`` sent with each job
            (``{"adUserData": "GRANTED", "adPersonalization": "GRANTED"}``):
            what the host asserts about the uploaded people's consent.
        default_region: Region for national phone numbers.
        identifiers_per_request: 1 to 100,000.

    From a URL: ``google-customer-match://CUSTOMER_ID?developer_token=T&login_customer_id=M``
    (``token_provider`` passed as an option).

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "google-customer-match"
    channel: ClassVar[str] = "ads"
    # As for Meta: list membership changes are set operations, safe to repeat.
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=10_000, idempotency_keys=True)

    #: Google's limit of user identifiers per AddOfflineUserDataJobOperations request.
    MAX_IDENTIFIERS: ClassVar[int] = 100_000
    #: Google's limit of user identifiers in one operation's UserData.
    MAX_PER_PERSON: ClassVar[int] = 20

    def __init__(
        self,
        customer_id: object,
        developer_token: object,
        token_provider: object,
        *,
        login_customer_id: object = None,
        api_base: object = "https://googleads.googleapis.com",
        version: object = "v26",
        platform: object = "google",
        consent: object = None,
        default_region: object = None,
        identifiers_per_request: object = 100_000,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        self.customer_id = _customer_id(customer_id, "$.customer_id")
        self.developer_token = _text_option(developer_token, "$.developer_token", "a token")
        if not callable(token_provider):
            raise ValidationError.one(
                "$.token_provider", "type", "must be a callable returning an access token"
            )
        self.token_provider: Callable[[], object] = token_provider
        self.login_customer_id = (
            None
            if login_customer_id is None
            else _customer_id(login_customer_id, "$.login_customer_id")
        )
        self.api_base = base_url(api_base, "$.api_base")
        if not isinstance(version, str) or not re.fullmatch(r"v\d+", version):
            raise ValidationError.one("$.version", "invalid", "must look like 'v26'")
        self.version = version
        self.platform = _platform(platform)
        if self.platform not in {"google", "google-ads"}:
            raise ValidationError.one(
                "$.platform", "invalid", "Customer Match takes the 'google' or 'google-ads' rules"
            )
        if consent is not None and (
            not isinstance(consent, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in consent.items())
        ):
            raise ValidationError.one("$.consent", "type", "must map consent fields to strings")
        self.consent: dict[str, str] | None = None if consent is None else dict(consent)
        self.default_region = _region(default_region)
        self.identifiers_per_request = _limit_option(
            identifiers_per_request, "$.identifiers_per_request", self.MAX_IDENTIFIERS
        )
        super().__init__(client=client, transport=transport, max_connections=max_connections)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> GoogleCustomerMatchAdapter:
        """Build from ``google-customer-match://CUSTOMER_ID?developer_token=T``."""
        parts = parse_adapter_url(url, "google-customer-match")
        query = dict(parts.options)
        token = options.pop("developer_token", None) or query.pop("developer_token", None)
        if token is None:
            raise ValidationError.one("$.url", "required", "needs ?developer_token=TOKEN")
        for key in ("login_customer_id", "version", "api_base", "platform", "default_region"):
            if key in query and key not in options:
                options[key] = query[key]
        provider = options.pop("token_provider", None)
        return cls(parts.require("host"), token, provider, **options)

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        """Upload the batch: one job per user list and action, run once its operations are in."""
        receipts: list[Receipt | None] = [None] * len(batch)
        groups: dict[tuple[str, str], list[_Item]] = {}
        for index, envelope in enumerate(batch):
            user_list = self._user_list(envelope.to)
            if user_list is None:
                receipts[index] = Receipt(
                    outcome=Outcome.PERMANENT,
                    code="bad_audience",
                    detail="a user list is an id or customers/{id}/userLists/{id}",
                )
                continue
            prepared = _prepare(envelope, self.platform, ("email", "phone"), self.default_region)
            if isinstance(prepared, Receipt):
                receipts[index] = prepared
                continue
            action, hashed = prepared
            groups.setdefault((user_list, action), []).append(_Item(index, _capped(hashed)))
        if groups:
            headers = await self._headers()
            for (user_list, action), items in groups.items():
                done = (
                    {item.index: headers for item in items}
                    if isinstance(headers, Receipt)
                    else await self._job(user_list, action, items, headers)
                )
                for index, receipt in done.items():
                    receipts[index] = receipt
        return [r if r is not None else Receipt(outcome=Outcome.PERMANENT) for r in receipts]

    def _user_list(self, to: str) -> str | None:
        if to.isdigit():
            return f"customers/{self.customer_id}/userLists/{to}"
        return to if _USER_LIST.fullmatch(to) else None

    async def _headers(self) -> dict[str, str] | Receipt:
        try:
            token = self.token_provider()
            if inspect.isawaitable(token):
                token = await token
        except Exception as error:  # noqa: BLE001 - the host's token refresh may fail any way
            return Receipt(
                outcome=Outcome.AUTH,
                code="token_provider",
                detail=f"{type(error).__name__}: {error}",
            )
        if not isinstance(token, str) or not token:
            return Receipt(
                outcome=Outcome.AUTH, code="token_provider", detail="no access token given"
            )
        headers = {
            "Authorization": f"Bearer {token}",
            "developer-token": self.developer_token,
        }
        if self.login_customer_id is not None:
            headers["login-customer-id"] = self.login_customer_id
        return headers

    async def _call(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any] | Receipt:
        try:
            response = await self.client.post(
                f"{self.api_base}/{self.version}/{path}", json=body, headers=headers
            )
        except httpx.HTTPError as error:
            return failure_receipt(error)
        if not 200 <= response.status_code < 300:
            return _google_receipt(response)
        return json_object(response)

    async def _job(
        self, user_list: str, action: str, items: Sequence[_Item], headers: Mapping[str, str]
    ) -> dict[int, Receipt]:
        metadata: dict[str, Any] = {"userList": user_list}
        if self.consent is not None:
            metadata["consent"] = self.consent
        created = await self._call(
            f"customers/{self.customer_id}/offlineUserDataJobs:create",
            {
                "job": {
                    "type": "CUSTOMER_MATCH_USER_LIST",
                    "customerMatchUserListMetadata": metadata,
                }
            },
            headers,
        )
        if isinstance(created, Receipt):
            return {item.index: created for item in items}
        job = created.get("resourceName")
        if not isinstance(job, str) or not _JOB_NAME.fullmatch(job):
            # No operation was sent: retrying makes a new job and cannot duplicate anything.
            broken = Receipt(outcome=Outcome.RETRY, code="bad_answer", detail="no job in answer")
            return {item.index: broken for item in items}
        done: dict[int, Receipt] = {}
        accepted: list[_Item] = []
        verb = "create" if action == "add" else "remove"
        chunks = _chunks(items, self.identifiers_per_request)
        for n, chunk in enumerate(chunks):
            operations = [{verb: {"userIdentifiers": _identifiers(item.hashed)}} for item in chunk]
            answer = await self._call(
                f"{job}:addOperations",
                {"operations": operations, "enablePartialFailure": True},
                headers,
            )
            if isinstance(answer, Receipt):
                done.update({item.index: answer for item in chunk})
                if answer.outcome in {Outcome.RETRY, Outcome.AUTH}:
                    # Throttled or refused credentials: the next chunk would fare the same.
                    rest = [item for later in chunks[n + 1 :] for item in later]
                    done.update({item.index: answer for item in rest})
                    break
                continue
            failed = _operation_failures(answer.get("partialFailureError"))
            for position, item in enumerate(chunk):
                if position in failed:
                    done[item.index] = failed[position]
                else:
                    accepted.append(item)
        if accepted:
            ran = await self._call(f"{job}:run", {}, headers)
            outcome = ran if isinstance(ran, Receipt) else Receipt.sent(job, status=200)
            done.update({item.index: outcome for item in accepted})
        return done


def _customer_id(value: object, path: str) -> str:
    text = value.replace("-", "").strip() if isinstance(value, str) else None
    if not text or not text.isdigit():
        raise ValidationError.one(path, "invalid", "must be a Google Ads customer id (digits)")
    return text


def _capped(hashed: dict[str, list[str]]) -> dict[str, list[str]]:
    """At most 20 identifiers for one person (Google's limit per UserData), e-mails first."""
    room = GoogleCustomerMatchAdapter.MAX_PER_PERSON
    capped: dict[str, list[str]] = {}
    for kind, values in hashed.items():
        if room <= 0:
            break
        capped[kind] = values[:room]
        room -= len(capped[kind])
    return capped


_GOOGLE_FIELDS: Final = {"email": "hashedEmail", "phone": "hashedPhoneNumber"}


def _identifiers(hashed: Mapping[str, list[str]]) -> list[dict[str, str]]:
    return [{_GOOGLE_FIELDS[k]: v} for k, values in hashed.items() for v in values]


def _operation_failures(status: object) -> dict[int, Receipt]:
    """Receipts for the operations a partial failure names, by operation index."""
    failures: dict[int, Receipt] = {}
    for error in _google_errors(status):
        location = error.get("location")
        elements = location.get("fieldPathElements") if isinstance(location, dict) else None
        index = None
        for element in elements or []:
            if isinstance(element, dict) and element.get("fieldName") == "operations":
                found = element.get("index")
                index = found if isinstance(found, int) else None
                break
        if index is None or index in failures:
            continue
        outcome, code, message = _classify_google_errors([error], Outcome.PERMANENT)
        failures[index] = Receipt(outcome=outcome, code=code, detail=message)
    return failures
