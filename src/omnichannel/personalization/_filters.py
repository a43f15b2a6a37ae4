"""The filters marketers need: money and dates in the person's locale and zone, plurals, names.

Each reads the rendering's `RenderSettings` (locale, currency, time zone,
``now``) from the render context, never from the machine: a template prints
the same text for the same person at the same instant on every server.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import babel
import babel.dates
import babel.numbers
import pendulum
from liquid.exceptions import FilterArgumentError
from liquid.filter import with_context
from liquid.undefined import is_undefined

__all__ = ["FILTERS", "format_money"]

_STYLES = frozenset({"short", "medium", "long", "full"})
_NAME = re.compile(r"[^\W\d_][^\W\d_'\u2019\-]*(?:['\u2019\-][^\W\d_]+)*")


@functools.lru_cache(maxsize=256)
def _locale(tag: str) -> babel.Locale:
    try:
        return babel.Locale.parse(tag.replace("-", "_"))
    except (ValueError, babel.UnknownLocaleError):
        return (
            babel.Locale.parse(tag.split("-", maxsplit=1)[0]) if "-" in tag else babel.Locale("en")
        )


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _settings(context: Any) -> Any:
    return context.budget.settings


#: No-break and narrow no-break spaces (CLDR money and date formats use them).
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


def _finish(text: str, context: Any) -> str:
    return text.translate(_SPACES) if context.plain_spaces else text


def _amount(value: object) -> Decimal:
    if isinstance(value, bool):
        raise FilterArgumentError("money expects a number", token=None)
    try:
        amount = Decimal(str(value)) if isinstance(value, (int, float, str, Decimal)) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise FilterArgumentError(f"money expects a number, not {value!r}", token=None)
    return amount


@functools.lru_cache(maxsize=8192)
def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """``amount`` in ``currency`` as ``locale`` writes it (cached: campaigns repeat prices)."""
    return babel.numbers.format_currency(amount, currency, locale=_locale(locale))


@with_context
def money(value: object, currency: object = None, *, context: Any) -> str:
    """``{{ 12.5 | money }}`` → ``$12.50`` (``12,50 €`` for a de-DE person paying in EUR).

    The value is a number or ``{"amount": ..., "currency": ...}``; the
    currency comes from the argument, else the value, else the person's.
    """
    if is_undefined(value) or value is None:
        return ""
    settings = _settings(context)
    code = None if is_undefined(currency) else currency
    if isinstance(value, Mapping):
        code = code or value.get("currency")
        value = value.get("amount")
    code = str(code or settings.currency).upper()
    try:
        return _finish(format_money(_amount(value), code, settings.locale), context)
    except babel.numbers.UnknownCurrencyError:
        raise FilterArgumentError(f"{code!r} is not a currency", token=None) from None


def _instant(value: object, settings: Any) -> dt.datetime | None:
    """Read a date: an instant, an ISO 8601 text, seconds since the epoch, or "now"/"today"."""
    if value in ("now", "today"):
        value = settings.now
    if isinstance(value, dt.datetime):
        instant = value
    elif isinstance(value, dt.date):
        instant = dt.datetime(value.year, value.month, value.day, tzinfo=_zone(settings.time_zone))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        instant = dt.datetime.fromtimestamp(value, dt.timezone.utc)
    elif isinstance(value, str):
        try:
            parsed: object = pendulum.parse(value)
        except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
            return None
        if not isinstance(parsed, dt.datetime):
            return _instant(parsed, settings) if isinstance(parsed, dt.date) else None
        instant = parsed
    else:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.timezone.utc)
    return instant.astimezone(_zone(settings.time_zone))


@with_context
def date(value: object, fmt: object = None, *, context: Any) -> object:
    """Liquid's ``date`` (strftime), in the person's time zone; ``"now"`` is the rendering's now."""
    if is_undefined(value) or value is None:
        return ""
    instant = _instant(value, _settings(context))
    if instant is None:
        return str(value)
    if is_undefined(fmt) or fmt is None:
        return instant.isoformat()
    return _finish(instant.strftime(str(fmt)), context)


def _babel_dates(kind: str) -> Callable[..., object]:
    @with_context
    def local(value: object, style: object = "medium", *, context: Any) -> object:
        if is_undefined(value) or value is None:
            return ""
        settings = _settings(context)
        instant = _instant(value, settings)
        if instant is None:
            return str(value)
        pattern = "medium" if is_undefined(style) else str(style)
        locale = _locale(settings.locale)
        if kind == "date":
            text = babel.dates.format_date(instant.date(), format=pattern, locale=locale)
        elif kind == "time":
            text = babel.dates.format_time(instant.timetz(), format=pattern, locale=locale)
        else:
            text = babel.dates.format_datetime(
                instant, format=pattern, tzinfo=instant.tzinfo, locale=locale
            )
        return _finish(text, context)

    local.__name__ = f"local_{kind}"
    local.__doc__ = (
        f"``{{{{ x | local_{kind}: 'long' }}}}``: the {kind} in the person's zone and locale "
        "(short, medium, long, full, or a CLDR pattern like 'EEEE d MMMM')."
    )
    return local


def pluralize(count: object, singular: object, plural: object = None) -> object:
    """``{{ n }} {{ n | pluralize: "item", "items" }}`` → ``1 item`` / ``3 items``."""
    word_plural = f"{singular}s" if plural is None or is_undefined(plural) else plural
    try:
        one = Decimal(str(count)) == 1
    except InvalidOperation:
        one = False
    return singular if one else word_plural


def first_name(value: object, fallback: object = "") -> object:
    """``{{ profile | first_name: "there" }}``: a usable first name, or the fallback.

    Reads ``first_name``, ``firstName``, then the first word of ``name`` from a
    profile (or takes a text as is); refuses what is not a name (digits, an
    e-mail address, "null") and fixes ALL CAPS or all lowercase.
    """
    fallback = "" if is_undefined(fallback) or fallback is None else fallback
    if isinstance(value, Mapping):
        value = value.get("first_name") or value.get("firstName") or value.get("name")
    if not isinstance(value, str):
        return fallback
    words = value.strip().split()
    if (
        not words
        or not _NAME.fullmatch(words[0])
        or words[0].lower() in {"null", "none", "undefined"}
    ):
        return fallback
    name = words[0]
    return name.title() if name.islower() or name.isupper() else name


FILTERS: Mapping[str, Callable[..., object]] = {
    "money": money,
    "date": date,
    "local_date": _babel_dates("date"),
    "local_time": _babel_dates("time"),
    "local_datetime": _babel_dates("datetime"),
    "pluralize": pluralize,
    "first_name": first_name,
}
