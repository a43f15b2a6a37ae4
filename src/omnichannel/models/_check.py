"""attrs validators shared by the models; each names the field as a JSON path.

Model paths use the model's own (snake_case) field names: ``$.message_id``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from omnichannel._time import to_utc
from omnichannel.errors import ValidationError

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
T = TypeVar("T")

#: Longest free-text identifier we accept (ids, names, SKUs).
MAX_TEXT = 1024

# C0 and C1 controls and the Unicode line/paragraph separators: nothing that breaks a line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def path_of(attribute: attrs.Attribute[Any]) -> str:
    """Return the JSON path of a model field."""
    return f"$.{attribute.name}"


def text(*, max_len: int = MAX_TEXT) -> Validator:
    """Validate a non-empty single-line string of at most ``max_len`` characters."""

    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        problem = text_problem(value, max_len=max_len)
        if problem:
            raise ValidationError.one(path_of(attribute), problem[0], problem[1])

    return check


def optional_text(*, max_len: int = MAX_TEXT) -> Validator:
    """Like `text`, but None is allowed."""
    inner = text(max_len=max_len)

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            inner(instance, attribute, value)

    return check


def text_problem(value: object, *, max_len: int = MAX_TEXT) -> tuple[str, str] | None:
    """Return ``(code, message)`` if ``value`` is not acceptable identifier text, else None."""
    # The common case, answered by C string methods alone (this runs per field per event).
    if (
        type(value) is str
        and value
        and len(value) <= max_len
        and value.isprintable()
        and not value.isspace()
    ):
        return None
    if not isinstance(value, str):
        return "type", f"must be a string, not {type(value).__name__}"
    if not value.strip():
        return "empty", "must not be empty"
    if len(value) > max_len:
        return "too_long", f"is {len(value):,} characters; the limit is {max_len:,}"
    if _CONTROL.search(value):
        return "invalid", "must not contain control characters"
    return None


def positive_seconds(where: str, value: object) -> float:
    """``value`` as a float if it is a positive number of seconds (not a bool), else an error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError.one(where, "invalid", "must be a positive number of seconds")
    return float(value)


def whole(where: str, value: object, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` if it is a whole number (not a bool) in range, else a ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.one(where, "type", "must be a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" to {maximum:,}"
        raise ValidationError.one(where, "out_of_range", f"must be from {minimum:,}{upper}")
    return value


def mapping(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validate a JSON object (any Mapping with string keys at the top level)."""
    if not isinstance(value, Mapping):
        raise ValidationError.one(
            path_of(attribute), "type", f"must be an object, not {type(value).__name__}"
        )


def aware_datetime(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validate a timezone-aware datetime (the model then stores it in UTC)."""
    if not isinstance(value, dt.datetime):
        raise ValidationError.one(
            path_of(attribute), "type", f"must be a datetime, not {type(value).__name__}"
        )
    to_utc(value, path_of(attribute))


def optional_aware_datetime(
    instance: object, attribute: attrs.Attribute[Any], value: object
) -> None:
    """Like `aware_datetime`, but None is allowed."""
    if value is not None:
        aware_datetime(instance, attribute, value)


def store_utc(instance: object, *names: str) -> None:
    """Replace the named datetime fields of a frozen instance by their UTC pendulum form."""
    for name in names:
        value = getattr(instance, name)
        if value is not None:
            object.__setattr__(instance, name, to_utc(value))


def trusted(cls: type[T]) -> Callable[..., T]:
    """Return a builder of ``cls`` that sets every field as given: no converter, validator or check.

    Only for values a parser of ours has already validated and normalised
    exactly as the class would (the public constructor stays the door for
    everything else). Every field must be passed, so a field added to the
    class later cannot be left unset silently.
    """
    names = tuple(a.name for a in attrs.fields(cls))  # type: ignore[arg-type]  # an attrs class
    new = object.__new__
    put = object.__setattr__  # a frozen class's own __setattr__ refuses

    def build(**values: Any) -> T:
        if len(values) != len(names):
            raise TypeError(f"{cls.__name__} needs exactly {', '.join(names)}")
        instance: T = new(cls)
        for name in names:
            put(instance, name, values[name])
        return instance

    return build
