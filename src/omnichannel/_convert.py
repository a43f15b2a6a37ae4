"""The one cattrs converter: every model to and from JSON-compatible dicts.

Datetimes travel as ISO-8601 UTC strings with a ``Z``; money amounts as
decimal strings (never floats); enums and names as their string values.
Structuring errors come out as one `ValidationError` listing every field
problem with its JSON path; checks that relate several fields (a track event
needs a name) run once the fields themselves are valid.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, get_origin

import cattrs
import pendulum
from cattrs.errors import BaseValidationError, ClassValidationError, IterableValidationError

from omnichannel._json import check_tree
from omnichannel._jsonpath import child
from omnichannel._time import format_timestamp, parse_timestamp, to_utc
from omnichannel.errors import FieldError, ValidationError
from omnichannel.models import Channel, Identity, IdentityKind
from omnichannel.typing import JSONObject

__all__ = ["Converter", "converter"]


class Converter(cattrs.Converter):
    """A cattrs Converter whose `structure` raises `ValidationError` with JSON paths.

    Examples:
        >>> from omnichannel import Money, converter
        >>> converter.unstructure(Money(amount="12.50", currency="EUR"))
        {'amount': '12.50', 'currency': 'EUR'}
        >>> converter.structure({"amount": "12.50", "currency": "EUR"}, Money)
        Money(amount=Decimal('12.50'), currency='EUR')

    .. versionadded:: 0.1.0
    """

    def structure(self, obj: Any, cl: Any) -> Any:
        """Build a ``cl`` from JSON-compatible data, or raise `ValidationError`."""
        try:
            return super().structure(obj, cl)
        except ValidationError:
            raise
        except Exception as exc:  # noqa: BLE001 - every cattrs failure becomes one typed error
            raise ValidationError(_flatten(exc, "$")) from None


def _flatten(exc: BaseException, path: str) -> list[FieldError]:
    """Turn cattrs' exception groups into FieldErrors with JSON paths."""
    if isinstance(exc, ValidationError):
        return [e.under(path) for e in exc.errors]
    if isinstance(exc, ClassValidationError):
        errors: list[FieldError] = []
        for sub, note in exc.group_exceptions()[0]:
            errors.extend(_flatten(sub, child(path, note.name)))
        for sub in exc.group_exceptions()[1]:
            errors.extend(_flatten(sub, path))
        return errors
    if isinstance(exc, IterableValidationError):
        errors = []
        for sub, index_note in exc.group_exceptions()[0]:
            errors.extend(_flatten(sub, child(path, index_note.index)))
        for sub in exc.group_exceptions()[1]:
            errors.extend(_flatten(sub, path))
        return errors
    if isinstance(exc, BaseValidationError):
        return [e for sub in exc.exceptions for e in _flatten(sub, path)]
    if isinstance(exc, KeyError):
        return [FieldError(path=path, code="required", message="is required")]
    return [FieldError(path=path, code="invalid", message=str(exc) or type(exc).__name__)]


def _structure_datetime(value: Any, _: type) -> pendulum.DateTime:
    if isinstance(value, str):
        return parse_timestamp(value)
    if isinstance(value, dt.datetime):
        return to_utc(value)
    raise ValidationError.one(
        "$", "type", f"must be an ISO-8601 string, not {type(value).__name__}"
    )


def _structure_decimal(value: Any, _: type) -> Decimal:
    # Money structures its amount itself (floats refused); a bare Decimal field does the same.
    from omnichannel.models._money import to_decimal

    return to_decimal(value, "$")


def _structure_json(value: Any, _: Any) -> Any:
    errors = check_tree(value)
    if errors:
        raise ValidationError(errors)
    return value


def _is_json_object(cl: Any) -> bool:
    return bool(cl == JSONObject)


def _is_set_type(cl: Any) -> bool:
    return cl in (frozenset, set) or get_origin(cl) in (frozenset, set)


def _identity_order(identity: Identity) -> tuple[str, str]:
    # Identity's own order (kind, then value), without attrs' generic comparison per pair.
    return (identity.kind, identity.value)


def _sorted(items: Any) -> list[Any]:
    if all(type(i) is Identity for i in items):
        return sorted(items, key=_identity_order)
    return sorted(items)


def _make_converter(*, trusted: bool = False) -> Converter:
    conv = Converter()
    for cls in (pendulum.DateTime, dt.datetime):
        conv.register_unstructure_hook(cls, format_timestamp)
        conv.register_structure_hook(cls, _structure_datetime)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    for name_cls in (Channel, IdentityKind):
        conv.register_unstructure_hook(name_cls, str)
        conv.register_structure_hook(name_cls, lambda v, cl: cl(v))
    # Sets become lists (JSON has no sets), sorted so equal values serialize identically.
    conv.register_unstructure_hook_func(
        _is_set_type,
        lambda items: [conv.unstructure(i) for i in _sorted(items)],
    )
    conv.register_structure_hook_func(
        _is_json_object, (lambda v, _: v) if trusted else _structure_json
    )
    conv.register_unstructure_hook_func(_is_json_object, lambda v: v)
    return conv


#: The converter every part of `omnichannel` uses; host apps may use it too.
converter: Converter = _make_converter()

#: For what a store wrote itself: its JSON objects were checked on the way in (`check_tree`)
#: and are taken as they are on the way out, where checking them again is most of the cost.
stored_converter: Converter = _make_converter(trusted=True)
