"""SMS encoding (GSM-7 or UCS-2) and billable segment counts, before you send.

A text message is sent as **GSM-7** when every character is in the GSM 7-bit
default alphabet or its extension table (3GPP TS 23.038 §6.2.1), and as
**UCS-2** (really UTF-16) otherwise: one character outside the alphabet
switches the whole message. A single message carries 160 septets or 70 UTF-16
units; a longer one is split into parts of 153 or 67, because each part starts
with a 6-octet concatenation header (3GPP TS 23.040 §9.2.3.24.1). Parts are
packed greedily and never split a 2-septet escape pair (``€``, ``[`` ...) or a
surrogate pair (``😀``), so ``ceil(units / 153)`` is only a lower bound.

No transliteration ("smart encoding") and no national-language shift tables.

Examples:
    >>> segments("Hello")
    SmsSegments(encoding='GSM-7', units=5, segments=1, parts=('Hello',), characters=5, non_gsm=())
    >>> segments("a" * 159 + "€").segments
    2
    >>> segments("Olá, São Paulo!").non_gsm
    ('á', 'ã')
    >>> SINGLE_LIMITS["GSM-7"], PART_LIMITS["GSM-7"], SINGLE_LIMITS["UCS-2"], PART_LIMITS["UCS-2"]
    (160, 153, 70, 67)
    >>> len(GSM7_BASIC), len(GSM7_EXTENSION), MAX_BODY_CHARS
    (127, 10, 1600)

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, Literal

import attrs

from omnichannel.errors import ValidationError

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_BODY_CHARS",
    "PART_LIMITS",
    "SINGLE_LIMITS",
    "Encoding",
    "SmsSegments",
    "encoding_of",
    "segments",
]

Encoding = Literal["GSM-7", "UCS-2"]
"""The two encodings an SMS can be sent in."""

# The GSM 7-bit default alphabet in code order 0x00..0x7F (TS 23.038 §6.2.1), without
# 0x1B (ESC, the escape to the extension table): 127 characters.
_BASIC_BY_CODE = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x10 (0x1B ESC left out)
    " !\"#¤%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)
# The extension table (TS 23.038 §6.2.1.1): each is ESC + a code, 2 septets.
_EXTENSION = "\f^{}\\[~]|€"

GSM7_BASIC: Final[frozenset[str]] = frozenset(_BASIC_BY_CODE)
"""The 127 characters of the GSM 7-bit default alphabet; each costs 1 septet."""

GSM7_EXTENSION: Final[frozenset[str]] = frozenset(_EXTENSION)
"""The 10 characters of the GSM-7 extension table (``\\f ^ { } \\ [ ~ ] | €``); 2 septets each."""

SINGLE_LIMITS: Final[Mapping[Encoding, int]] = MappingProxyType({"GSM-7": 160, "UCS-2": 70})
"""Units (septets, UTF-16 units) that fit in a message sent whole: 140 octets."""

PART_LIMITS: Final[Mapping[Encoding, int]] = MappingProxyType({"GSM-7": 153, "UCS-2": 67})
"""Units per part of a concatenated message: 140 octets less the 6-octet header."""

MAX_BODY_CHARS: Final = 1600
"""The longest body mainstream providers accept (Twilio: 1,600 characters).

`segments` counts longer texts too; sending them is the caller's (and the
provider's) business.
"""

_GSM_SINGLE, _GSM_PART = SINGLE_LIMITS["GSM-7"], PART_LIMITS["GSM-7"]
_UCS_SINGLE, _UCS_PART = SINGLE_LIMITS["UCS-2"], PART_LIMITS["UCS-2"]
_GSM = _BASIC_BY_CODE + _EXTENSION
_NON_GSM = re.compile(f"[^{re.escape(_GSM)}]")
_GSM_SET = GSM7_BASIC | GSM7_EXTENSION
_EXTENSION_RE = re.compile(f"[{re.escape(_EXTENSION)}]")
# ASCII fast path: bytes.translate with a delete set is a table lookup in C.
_ASCII_GSM = bytes(c for c in map(ord, _GSM) if c < 0x80)
_ASCII_EXTENSION = bytes(c for c in map(ord, _EXTENSION) if c < 0x80)


@attrs.frozen(kw_only=True)
class SmsSegments:
    """How an SMS body is encoded and how many billable segments it takes.

    Attributes:
        encoding: ``"GSM-7"`` or ``"UCS-2"``.
        units: Size in the encoding's units: septets for GSM-7 (extension
            characters count 2), UTF-16 code units for UCS-2 (characters
            outside the BMP, such as most emoji, count 2).
        segments: Billable segments: 1 up to the single limit (160 / 70),
            else the number of parts.
        parts: The text of each segment, in order; they concatenate back to
            the message. A single segment holds the whole text.
        characters: Code points in the text (``len(text)``).
        non_gsm: The distinct characters that forced UCS-2, in order of
            first appearance; empty for GSM-7. Replace them to save segments.

    Examples:
        >>> found = segments("€" * 81)
        >>> found.encoding, found.units, found.segments, [len(p) for p in found.parts]
        ('GSM-7', 162, 2, [76, 5])

    .. versionadded:: 0.1.0
    """

    encoding: Encoding
    units: int
    segments: int
    parts: tuple[str, ...]
    characters: int
    non_gsm: tuple[str, ...]


def encoding_of(text: str) -> Encoding:
    """Return the encoding an SMS body is sent in: GSM-7 if every character allows it.

    Raises:
        ValidationError: ``type`` if ``text`` is not a string, ``empty`` if it
            is empty (path ``$``).

    Examples:
        >>> encoding_of("Price: 5€ [sale]")
        'GSM-7'
        >>> encoding_of("São Paulo")
        'UCS-2'
    """
    if not isinstance(text, str):
        raise ValidationError.one("$", "type", "an SMS body must be a string")
    if not text:
        raise ValidationError.one("$", "empty", "an SMS body must not be empty")
    if text.isascii():
        return "UCS-2" if text.encode("ascii").translate(None, _ASCII_GSM) else "GSM-7"
    return "UCS-2" if _NON_GSM.search(text) else "GSM-7"


def segments(text: str) -> SmsSegments:
    """Return the encoding, size and billable segments of an SMS body.

    Raises:
        ValidationError: ``type`` if ``text`` is not a string, ``empty`` if it
            is empty, ``invalid_unicode`` if it holds a lone surrogate (path ``$``).

    Examples:
        >>> segments("Hello").segments
        1
        >>> found = segments("a" * 159 + "€")
        >>> found.units, found.segments, [len(p) for p in found.parts]
        (161, 2, [153, 7])
        >>> found = segments("😀" * 36)
        >>> found.encoding, found.units, found.segments, [len(p) for p in found.parts]
        ('UCS-2', 72, 2, [33, 3])
    """
    if not isinstance(text, str):
        raise ValidationError.one("$", "type", "an SMS body must be a string")
    if not text:
        raise ValidationError.one("$", "empty", "an SMS body must not be empty")
    characters = len(text)
    if text.isascii():
        raw = text.encode("ascii")
        gsm = not raw.translate(None, _ASCII_GSM)
        doubles = characters - len(raw.translate(None, _ASCII_EXTENSION)) if gsm else 0
    else:
        gsm = _NON_GSM.search(text) is None
        doubles = len(_EXTENSION_RE.findall(text)) if gsm else 0
    if gsm:
        units = characters + doubles
        parts = (
            (text,)
            if units <= _GSM_SINGLE
            else _pack(text, _GSM_PART, _septets if doubles else None)
        )
        return SmsSegments(
            encoding="GSM-7",
            units=units,
            segments=len(parts),
            parts=parts,
            characters=characters,
            non_gsm=(),
        )
    try:
        units = len(text.encode("utf-16-le")) >> 1
    except UnicodeEncodeError:
        msg = "an SMS body must be valid Unicode (it holds a lone surrogate)"
        raise ValidationError.one("$", "invalid_unicode", msg) from None
    doubles = units - characters
    parts = (
        (text,)
        if units <= _UCS_SINGLE
        else _pack(text, _UCS_PART, _utf16_units if doubles else None)
    )
    return SmsSegments(
        encoding="UCS-2",
        units=units,
        segments=len(parts),
        parts=parts,
        characters=characters,
        non_gsm=tuple([c for c in dict.fromkeys(text) if c not in _GSM_SET]),
    )


def _septets(text: str) -> int:
    """GSM-7 size of text known to be GSM-7: 1 per character, 1 more per extension character."""
    return len(text) + sum(map(text.count, _EXTENSION))


def _utf16_units(text: str) -> int:
    """UTF-16 code units of text known to hold no lone surrogate: 2 outside the BMP."""
    return len(text.encode("utf-16-le")) >> 1


def _pack(text: str, limit: int, size: Callable[[str], int] | None) -> tuple[str, ...]:
    """Cut text greedily into parts of at most ``limit`` units, each character 1 or 2 units.

    ``size`` measures a stretch of text (``None`` when every character is 1
    unit). A part first takes ``limit`` characters; while that is ``excess``
    units too big it gives back ``ceil(excess / 2)`` characters. Giving back k
    characters frees between k and 2k units, so this never gives back a
    character that would have fitted: the part ends at the last character
    that fits, and a 2-unit character is never split.
    """
    length = len(text)
    if size is None:
        return tuple([text[start : start + limit] for start in range(0, length, limit)])
    parts: list[str] = []
    start = 0
    while start < length:
        end = min(length, start + limit)
        excess = size(text[start:end]) - limit
        while excess > 0:
            end -= (excess + 1) >> 1
            excess = size(text[start:end]) - limit
        parts.append(text[start:end])
        start = end
    return tuple(parts)
