"""The JSON guard: turn untrusted text or dicts into plain JSON values, or say exactly why not.

Fast path first: the C ``json`` module does the work and cheap byte counts
decide whether the slow, exact walk is needed at all (it is only for inputs
that may be too deep, hold non-finite numbers or lone surrogates). The slow
walk is also what names the offending path in the error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from omnichannel._jsonpath import child
from omnichannel.errors import FieldError, ValidationError

#: Deepest nesting of objects and arrays accepted (the top-level object is depth 1).
MAX_DEPTH = 32

# A \uD800-\uDFFF escape may decode to a lone surrogate: such text gets the slow walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


_KEY_TYPES = (str, int, float, bool, type(None))
# What to say if json.dumps fails where the exact walk sees nothing wrong (not known to happen).
_UNSERIALIZABLE = FieldError(path="$", code="type", message="is not JSON-serializable")
_INF = math.inf


class _NonFinite:
    """Placeholder json.loads puts where the text said NaN or Infinity."""

    __slots__ = ("word",)

    def __init__(self, word: str) -> None:
        self.word = word


def _mark_non_finite(word: str) -> _NonFinite:
    return _NonFinite(word)


def _finite_float(text: str) -> float | _NonFinite:
    # 1e400 or a 400-digit number reads as infinity; JSON has no such number.
    value = float(text)
    return value if value not in (_INF, -_INF) else _NonFinite(text)


class _NonFiniteFound(Exception):  # noqa: N818 - a private signal, not an error for users
    """Raised by the fast parse at the first non-finite number."""


def _refuse_non_finite(word: str) -> float:
    raise _NonFiniteFound(word)


def _refuse_overflow(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):
        raise _NonFiniteFound(text)
    return value


def check_tree(value: Any, path: str = "$", *, max_depth: int = MAX_DEPTH) -> list[FieldError]:
    """Return every reason ``value`` is not plain, finite, valid-Unicode JSON of bounded depth."""
    errors: list[FieldError] = []
    # Iterative, so a hostile depth cannot blow the Python stack.
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodes(item):
                errors.append(
                    FieldError(
                        path=where, code="invalid_unicode", message="contains a lone surrogate"
                    )
                )
        elif item is None or isinstance(item, (bool, int)):
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                errors.append(
                    FieldError(
                        path=where,
                        code="not_finite",
                        message="NaN and Infinity are not JSON numbers",
                    )
                )
        elif isinstance(item, _NonFinite):
            errors.append(
                FieldError(
                    path=where, code="not_finite", message=f"{item.word} is not a JSON number"
                )
            )
        elif isinstance(item, (Mapping, list, tuple)):
            if depth > max_depth:
                errors.append(
                    FieldError(
                        path=where, code="too_deep", message=f"nests deeper than {max_depth} levels"
                    )
                )
                continue
            children: list[tuple[Any, str, int]] = []
            if isinstance(item, Mapping):
                for raw_key, sub in item.items():
                    if not isinstance(raw_key, _KEY_TYPES):
                        errors.append(
                            FieldError(
                                path=where,
                                code="type",
                                message=f"object key {raw_key!r} is not a string",
                            )
                        )
                        continue
                    # Like json.dumps, numbers, booleans and None become string keys.
                    key = raw_key if isinstance(raw_key, str) else json.dumps(raw_key)
                    if not key.isascii() and not _encodes(key):
                        errors.append(
                            FieldError(
                                path=where,
                                code="invalid_unicode",
                                message="an object key contains a lone surrogate",
                            )
                        )
                        continue
                    children.append((sub, child(where, key), depth + 1))
            else:
                children.extend((sub, child(where, i), depth + 1) for i, sub in enumerate(item))
            # Reversed onto the stack, so problems come out in document order.
            stack.extend(reversed(children))
        else:
            errors.append(
                FieldError(
                    path=where, code="type", message=f"{type(item).__name__} is not a JSON value"
                )
            )
    return errors


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load(
    raw: str | bytes | bytearray | Mapping[str, Any], *, max_bytes: int, what: str = "message"
) -> tuple[Any, int]:
    """Return ``(plain JSON value, size in bytes)`` for JSON text or an already-parsed mapping.

    A mapping is serialized and parsed back, so the result never shares mutable
    state with the caller and every value in it is plain JSON (keys that are
    numbers, booleans or None become strings, as ``json.dumps`` makes them).

    Raises:
        ValidationError: too large, not JSON, non-finite, too deep, or invalid Unicode.
    """
    if isinstance(raw, Mapping):
        try:
            text = json.dumps(
                raw,
                ensure_ascii=False,
                allow_nan=False,
                separators=(",", ":"),
                default=_plain_mapping,
            )
            data = text.encode("utf-8")
        except (TypeError, ValueError, RecursionError):
            # Only the exact walk can say where; it finds something for every failure.
            raise ValidationError(check_tree(raw) or [_UNSERIALIZABLE]) from None
    elif isinstance(raw, (bytes, bytearray)):
        data = bytes(raw)
    elif isinstance(raw, str):
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError.one(
                "$", "invalid_unicode", "text contains a lone surrogate"
            ) from None
    else:
        raise ValidationError.one(
            "$", "type", f"{what} must be a JSON object, str or bytes, not {type(raw).__name__}"
        )
    size = len(data)
    if size > max_bytes:
        raise ValidationError.one(
            "$", "too_large", f"{what} is {size:,} bytes; the limit is {max_bytes:,}"
        )
    try:
        value = json.loads(data, parse_constant=_refuse_non_finite, parse_float=_refuse_overflow)
    except _NonFiniteFound:
        # Parse again keeping placeholders, so the walk can name every offending path.
        try:
            marked = json.loads(data, parse_constant=_mark_non_finite, parse_float=_finite_float)
        except ValueError as exc:  # broken further on, after the non-finite number
            raise ValidationError.one("$", "invalid_json", f"is not valid JSON: {exc}") from None
        raise ValidationError(check_tree(marked)) from None
    except RecursionError:
        raise ValidationError.one(
            "$", "too_deep", f"nests deeper than {MAX_DEPTH} levels"
        ) from None
    except UnicodeDecodeError as exc:
        raise ValidationError.one(
            "$", "invalid_unicode", f"not UTF-8 at byte {exc.start}"
        ) from None
    except ValueError as exc:
        raise ValidationError.one("$", "invalid_json", f"is not valid JSON: {exc}") from None
    # Only text that may hold a lone surrogate or nest too deep pays for the
    # exact walk; these byte scans cost about a microsecond.
    if (
        _SURROGATE_ESCAPE.search(data) is not None
        or data.count(b"{") + data.count(b"[") > MAX_DEPTH
    ):
        errors = check_tree(value)
        if errors:
            raise ValidationError(errors)
    return value, size


def _plain_mapping(value: object) -> dict[Any, Any]:
    """Let json.dumps serialize any Mapping, not only dict."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(type(value).__name__)
