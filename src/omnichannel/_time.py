"""Timestamps at the door: everything becomes a `pendulum.DateTime` in UTC.

No function here reads the clock; callers pass times in.
"""

from __future__ import annotations

import datetime as dt
import sys

import pendulum

from omnichannel.errors import ValidationError

UTC = pendulum.UTC

# Python 3.11's fromisoformat reads most ISO-8601 forms, 'Z' included; 3.10's
# reads only what isoformat() writes, so there we fall back to pendulum's parser.
_FROMISO_READS_Z = sys.version_info >= (3, 11)


def to_utc(value: dt.datetime, path: str = "$") -> pendulum.DateTime:
    """Return ``value`` as a pendulum UTC datetime; naive datetimes are rejected."""
    if not isinstance(value, dt.datetime):
        raise ValidationError.one(path, "type", "must be a timezone-aware datetime")
    if value.tzinfo is UTC and isinstance(value, pendulum.DateTime):
        return value
    offset = value.utcoffset()
    if offset is None:
        raise ValidationError.one(
            path, "naive_datetime", "must carry a time zone (naive datetimes are ambiguous)"
        )
    u = (value - offset).replace(tzinfo=None)
    return pendulum.DateTime(
        u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=UTC
    )


def later(at: pendulum.DateTime, seconds: float) -> pendulum.DateTime:
    """``at`` plus ``seconds`` of elapsed time, still a pendulum DateTime.

    In UTC (a fixed offset) elapsed and wall-clock time agree, and the
    standard library's addition is about fifteen times faster than
    pendulum's ``add``; another zone keeps pendulum's (DST-aware) arithmetic.

    Examples:
        >>> later(pendulum.datetime(2024, 3, 30, 12), 86_400)
        DateTime(2024, 3, 31, 12, 0, 0, tzinfo=Timezone('UTC'))
    """
    if at.tzinfo is UTC:
        added: pendulum.DateTime = dt.datetime.__add__(at, dt.timedelta(seconds=seconds))
        return added
    return at.add(seconds=seconds)


def parse_instant(text: str, path: str = "$") -> dt.datetime:
    """Parse an ISO-8601 string to a stdlib UTC datetime; no offset is read as UTC.

    Stdlib datetimes do arithmetic in C; callers that compute with several
    instants (skew correction) convert to pendulum once, at the end.
    """
    try:
        if _FROMISO_READS_Z:
            parsed = dt.datetime.fromisoformat(text)
        else:  # pragma: no cover - exercised only on Python 3.10
            parsed = pendulum.parse(text, exact=True)  # type: ignore[assignment]
            if not isinstance(parsed, dt.datetime):
                raise ValueError(text)  # noqa: TRY301 - one handler for every parse failure
    except (ValueError, TypeError):  # pendulum's ParserError is a ValueError
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ValidationError.one(
            path, "invalid_timestamp", f"is not an ISO-8601 date-time: {shown!r}"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def parse_timestamp(text: str, path: str = "$") -> pendulum.DateTime:
    """Parse an ISO-8601 string to UTC; a string without an offset is read as UTC.

    Examples:
        >>> parse_timestamp("2024-03-05T11:02:00.5+01:00").isoformat()
        '2024-03-05T10:02:00.500000+00:00'
    """
    return to_utc(parse_instant(text, path), path)


def format_timestamp(value: dt.datetime) -> str:
    """Write a UTC timestamp as ISO-8601 with a ``Z`` suffix and microseconds.

    Examples:
        >>> format_timestamp(parse_timestamp("2024-03-05T10:02:00Z"))
        '2024-03-05T10:02:00.000000Z'
    """
    # isoformat() is C and several times faster than strftime (this runs per stored timestamp).
    return to_utc(value).isoformat(timespec="microseconds")[:-6] + "Z"


def plain_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as a standard-library UTC datetime (it must be aware).

    Rule evaluation and timers do datetime arithmetic in hot loops, where
    pendulum's is many times slower than the standard library's.
    """
    if value.__class__ is dt.datetime and value.tzinfo is dt.timezone.utc:
        return value
    utc = dt.timezone.utc
    at = dt.datetime(
        *(value.year, value.month, value.day, value.hour, value.minute, value.second),
        value.microsecond,
        tzinfo=utc,
    )
    if value.tzinfo is UTC:  # pendulum's UTC: no offset to ask for (asking is slow)
        return at
    offset = value.utcoffset()
    return at - offset if offset else at
