"""Segment Spec messages in, typed `Event` values out.

The parser reads the wire format (camelCase, Segment's six call types and the
e-commerce v2 events), collects *every* problem with its JSON path, and builds
an `Event` only from a message with none. It reads no clock: a message
without ``receivedAt`` takes the ``received_at`` the caller passes.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
import pendulum

from omnichannel._json import load
from omnichannel._jsonpath import child
from omnichannel._time import parse_instant, to_utc
from omnichannel.errors import FieldError, ValidationError
from omnichannel.ingest._ecommerce import (
    ECOMMERCE_EVENTS,
    MONEY_FIELDS,
    SINGLE_PRODUCT_EVENTS,
    canonical_event_name,
)
from omnichannel.models import Channel, Commerce, Event, EventType, LineItem, Money
from omnichannel.models._check import MAX_TEXT, text_problem, trusted
from omnichannel.models._event import missing_for_type
from omnichannel.models._money import normalize_currency

#: Largest message accepted, serialized (Segment's HTTP API limit: 32 KB).
MAX_MESSAGE_BYTES = 32 * 1024
#: Largest batch accepted, serialized (Segment: 500 KB).
MAX_BATCH_BYTES = 500 * 1024
#: Most messages in one batch (Segment: 2,500).
MAX_BATCH_MESSAGES = 2500
#: Longest messageId (Segment: 100 characters).
MAX_MESSAGE_ID = 100

_TYPES = {t.value: t for t in EventType}

# Wire names of the model fields a message may lack (see missing_for_type).
_WIRE_NAME = {
    "name": "event",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "previous_id": "previousId",
    "group_id": "groupId",
}

# Segment's own `channel` words and the channel each implies.
_SEGMENT_CHANNELS: dict[str, Channel | None] = {
    "browser": Channel.WEB,
    "web": Channel.WEB,
    "mobile": Channel.APP,
    "server": None,
    "sources": None,
}

# Semantic event-name prefixes that say the channel (Segment's Email and Mobile specs).
_NAME_PREFIX_CHANNELS = (
    ("Email ", Channel.EMAIL),
    ("Unsubscribed", Channel.EMAIL),
    ("Push Notification ", Channel.PUSH),
    ("SMS ", Channel.SMS),
    ("In-App Message ", Channel.IN_APP),
)

_APP_OS = frozenset({"ios", "ipados", "android", "watchos", "tvos"})

# What this parser reads is checked and normalised exactly as the models' own validators
# would, so the models are built without checking it all again (ids are the one thing
# that may not fit: an integer id becomes text of any length, see _fits).
_new_event = trusted(Event)
_new_commerce = trusted(Commerce)
_new_line_item = trusted(LineItem)
_new_money = trusted(Money)


def _fits(*ids: str | None) -> bool:
    """Say whether ids read by `_ident` fit the models (a huge integer id may not)."""
    return all(i is None or len(i) <= MAX_TEXT for i in ids)


@attrs.frozen(kw_only=True)
class SegmentBatch:
    """What `parse_segment_batch` read: the events, and the problems of the rest.

    ``errors`` is empty unless the batch was parsed with ``partial=True``.

    .. versionadded:: 0.1.0
    """

    events: tuple[Event, ...]
    errors: tuple[FieldError, ...] = ()


def parse_segment(
    payload: str | bytes | Mapping[str, Any],
    *,
    received_at: pendulum.DateTime | None = None,
) -> Event:
    """Read one Segment Spec message (identify, track, page, screen, group, alias).

    ``payload`` is JSON text or an already-decoded mapping (which is copied,
    never kept). The event's ``timestamp`` is skew-corrected as Segment does:
    ``receivedAt - (sentAt - originalTimestamp)``. ``received_at`` stands in for
    a missing ``receivedAt`` (pass your clock's now when receiving live
    traffic). The channel comes from the payload, else from the event name or
    its context (library, app, device, page). E-commerce v2 events (legacy v1
    names included) get a typed `Commerce` reading; their names are stored in
    the v2 form.

    Raises:
        ValidationError: listing every problem with its JSON path; nothing is
            half-read.

    Examples:
        >>> event = parse_segment(
        ...     '{"type": "track", "event": "Completed Order", "userId": "u1",'
        ...     ' "timestamp": "2024-03-05T10:00:00Z",'
        ...     ' "properties": {"order_id": "o1", "total": 30.5, "currency": "EUR"}}'
        ... )
        >>> event.name, event.commerce.total
        ('Order Completed', Money(amount=Decimal('30.5'), currency='EUR'))

    .. versionadded:: 0.1.0
    """
    message, _ = load(payload, max_bytes=MAX_MESSAGE_BYTES)
    errors: list[FieldError] = []
    event = _read_message(message, "$", errors, received_at=_utc_or_none(received_at))
    if event is None:
        raise ValidationError(errors)
    return event


def parse_segment_batch(
    payload: str | bytes | Mapping[str, Any] | list[Any],
    *,
    received_at: pendulum.DateTime | None = None,
    partial: bool = False,
) -> SegmentBatch:
    """Read a Segment batch: ``{"batch": [...], "context": ..., "sentAt": ...}`` or a bare list.

    Top-level ``context`` and ``integrations`` apply to every message (the
    message's own keys win), as does a top-level ``sentAt``. Limits follow
    Segment's HTTP API: 500 KB and 2,500 messages per batch, 32 KB per message.

    By default one bad message rejects the whole batch (nothing is returned,
    so nothing is half-ingested); with ``partial=True`` the good messages come
    back and the problems are listed in `SegmentBatch.errors`. Limits on the
    batch as a whole always raise.

    Raises:
        ValidationError: every problem, paths rooted at the batch
            (``$.batch[3].event``).

    Examples:
        >>> batch = parse_segment_batch(
        ...     {
        ...         "batch": [
        ...             {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
        ...             {"type": "track", "userId": "u1", "event": "Signed Up"},
        ...         ],
        ...         "sentAt": "2024-03-05T10:00:00Z",
        ...     },
        ...     received_at=pendulum.datetime(2024, 3, 5, 10, 0, 1),
        ... )
        >>> [e.type.value for e in batch.events]
        ['identify', 'track']

    .. versionadded:: 0.1.0
    """
    if isinstance(payload, list):
        payload = {"batch": payload}
    data, size = load(payload, max_bytes=MAX_BATCH_BYTES, what="batch")
    if isinstance(data, list):  # JSON text holding a bare array of messages
        data = {"batch": data}
    if not isinstance(data, dict) or not isinstance(data.get("batch"), list):
        raise ValidationError.one(
            "$.batch", "required", "a batch needs a 'batch' array of messages"
        )
    messages: list[Any] = data["batch"]
    if len(messages) > MAX_BATCH_MESSAGES:
        raise ValidationError.one(
            "$.batch",
            "too_many",
            f"holds {len(messages):,} messages; the limit is {MAX_BATCH_MESSAGES:,}",
        )
    shared, errors = _batch_defaults(data)
    if errors:
        raise ValidationError(errors)
    at = _utc_or_none(received_at)
    events: list[Event] = []
    for index, message in enumerate(messages):
        path = f"$.batch[{index}]"
        # A message can only pass the per-message limit alone if the batch is larger than it.
        if size > MAX_MESSAGE_BYTES and isinstance(message, dict):
            own = len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())
            if own > MAX_MESSAGE_BYTES:
                errors.append(
                    FieldError(
                        path=path,
                        code="too_large",
                        message=f"message is {own:,} bytes; the limit is {MAX_MESSAGE_BYTES:,}",
                    )
                )
                continue
        event = _read_message(_with_defaults(message, shared), path, errors, received_at=at)
        if event is not None:
            events.append(event)
    if errors and not partial:
        raise ValidationError(errors)
    return SegmentBatch(events=tuple(events), errors=tuple(errors))


def _utc_or_none(value: pendulum.DateTime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "$.received_at")


def _batch_defaults(data: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    shared: dict[str, Any] = {}
    for key in ("context", "integrations"):
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            errors.append(FieldError(path=f"$.{key}", code="type", message="must be an object"))
        elif value:
            shared[key] = value
    sent_at = data.get("sentAt")
    if sent_at is not None:
        if isinstance(sent_at, str):
            shared["sentAt"] = sent_at
        else:
            errors.append(
                FieldError(path="$.sentAt", code="type", message="must be an ISO-8601 string")
            )
    return shared, errors


def _with_defaults(message: Any, shared: dict[str, Any]) -> Any:
    if not shared or not isinstance(message, dict):
        return message
    merged = dict(message)
    for key in ("context", "integrations"):
        if key in shared:
            own = merged.get(key)
            merged[key] = {**shared[key], **own} if isinstance(own, dict) else own or shared[key]
    if "sentAt" in shared and merged.get("sentAt") is None:
        merged["sentAt"] = shared["sentAt"]
    return merged


# --- reading one message -------------------------------------------------------------


def _problem(errors: list[FieldError], path: str, code: str, message: str) -> None:
    errors.append(FieldError(path=path, code=code, message=message))


def _text(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    errors: list[FieldError],
    *,
    max_len: int = MAX_TEXT,
) -> str | None:
    """Read optional text; empty or blank counts as absent."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    problem = text_problem(value, max_len=max_len)
    if problem:
        _problem(errors, child(path, key), *problem)
        return None
    return value  # type: ignore[no-any-return]  # text_problem proved it a str


def _ident(obj: Mapping[str, Any], key: str, path: str, errors: list[FieldError]) -> str | None:
    """Read an optional id: a string, or an integer (stringified); empty counts as absent."""
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(obj, key, path, errors)


def _object(
    obj: Mapping[str, Any], key: str, path: str, errors: list[FieldError]
) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        _problem(errors, child(path, key), "type", f"must be an object, not {_json_type(value)}")
        return {}
    return value


def _time(
    obj: Mapping[str, Any], key: str, path: str, errors: list[FieldError]
) -> dt.datetime | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        _problem(
            errors, child(path, key), "type", f"must be an ISO-8601 string, not {_json_type(value)}"
        )
        return None
    try:
        return parse_instant(value, child(path, key))
    except ValidationError as exc:
        errors.extend(exc.errors)
        return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _read_message(
    message: Any,
    path: str,
    errors: list[FieldError],
    *,
    received_at: pendulum.DateTime | None,
) -> Event | None:
    """Return the Event, or None after adding every problem to ``errors``."""
    if not isinstance(message, dict):
        _problem(errors, path, "type", f"a message must be an object, not {_json_type(message)}")
        return None
    before = len(errors)
    type_name = message.get("type")
    event_type = _TYPES.get(type_name) if isinstance(type_name, str) else None
    if type_name is None:
        _problem(
            errors,
            f"{path}.type",
            "required",
            "is required (identify, track, page, screen, group or alias)",
        )
    elif event_type is None:
        _problem(
            errors, f"{path}.type", "unknown_type", f"{type_name!r} is not a Segment call type"
        )

    fields: dict[str, Any] = {
        "user_id": _ident(message, "userId", path, errors),
        "anonymous_id": _ident(message, "anonymousId", path, errors),
        "previous_id": _ident(message, "previousId", path, errors),
        "group_id": _ident(message, "groupId", path, errors),
        "category": _text(message, "category", path, errors),
        "properties": _object(message, "properties", path, errors),
        "traits": _object(message, "traits", path, errors),
        "context": _object(message, "context", path, errors),
    }
    _object(message, "integrations", path, errors)
    version = message.get("version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, (int, float, str))
    ):
        _problem(errors, f"{path}.version", "type", "must be a number or a string")
    message_id = _text(message, "messageId", path, errors, max_len=MAX_MESSAGE_ID)
    name_key = "event" if event_type is EventType.TRACK else "name"
    name = _text(message, name_key, path, errors)
    if name is not None and event_type is EventType.TRACK:
        name = canonical_event_name(name)
    fields["name"] = name

    if event_type is not None:
        for missing in missing_for_type(event_type, fields):
            wire = "event" if missing == "name" else _WIRE_NAME[missing]
            if missing == "user_id" and event_type is not EventType.ALIAS:
                text = "needs userId or anonymousId"
                wire = "userId"
            else:
                text = f"is required for a {event_type.value} call"
            if message.get(wire) is None or _is_blank(message.get(wire)):
                _problem(errors, child(path, wire), "required", text)

    timestamp, event_received_at, sent_at = _timestamps(message, path, errors, received_at)
    channel = _channel(message, name, fields["context"], path, errors)
    commerce = None
    if event_type is EventType.TRACK and name in ECOMMERCE_EVENTS:
        commerce = _commerce(name, fields["properties"], child(path, "properties"), errors)

    if len(errors) > before or event_type is None or timestamp is None or event_received_at is None:
        return None
    ids = (fields[k] for k in ("user_id", "anonymous_id", "previous_id", "group_id"))
    build = _new_event if _fits(*ids) else Event  # Event's validator reports what does not fit
    return build(
        message_id=message_id or _derived_message_id(message),
        type=event_type,
        timestamp=timestamp,
        received_at=event_received_at,
        sent_at=sent_at,
        channel=channel,
        commerce=commerce,
        **fields,
    )


def _is_blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _timestamps(
    message: Mapping[str, Any],
    path: str,
    errors: list[FieldError],
    received_default: pendulum.DateTime | None,
) -> tuple[pendulum.DateTime | None, pendulum.DateTime | None, pendulum.DateTime | None]:
    """Return (skew-corrected timestamp, receivedAt, sentAt) as Segment computes them."""
    # Stdlib datetimes until the end: their arithmetic is C, pendulum's is Python.
    stated = _time(message, "timestamp", path, errors)
    original = _time(message, "originalTimestamp", path, errors) or stated
    sent_at = _time(message, "sentAt", path, errors)
    received = _time(message, "receivedAt", path, errors) or received_default
    timestamp: dt.datetime | None
    if received is not None and sent_at is not None and original is not None:
        timestamp = received - (sent_at - original)
    else:
        timestamp = stated or original or received
    if timestamp is None:
        if any(
            message.get(k) is not None for k in ("timestamp", "originalTimestamp", "receivedAt")
        ):
            return None, None, None  # an unreadable timestamp was already reported
        _problem(
            errors,
            f"{path}.timestamp",
            "required",
            "no timestamp, originalTimestamp or receivedAt; pass received_at= for live traffic",
        )
        return None, None, None
    return (
        to_utc(timestamp),
        to_utc(received or timestamp),
        None if sent_at is None else to_utc(sent_at),
    )


def _channel(
    message: Mapping[str, Any],
    name: str | None,
    context: Mapping[str, Any],
    path: str,
    errors: list[FieldError],
) -> Channel | None:
    """Say on which channel the event happened: stated, else implied by name, else by context."""
    segment_words: list[Channel | None] = []
    for where, holder in (("channel", message), ("context.channel", context)):
        stated = holder.get("channel")
        if stated is None:
            continue
        if not isinstance(stated, str):
            _problem(errors, f"{path}.{where}", "type", "must be a string")
            continue
        word = stated.strip().lower()
        if word in _SEGMENT_CHANNELS:
            segment_words.append(_SEGMENT_CHANNELS[word])
            continue
        try:
            return Channel(word)
        except ValidationError as exc:
            errors.extend(e.under(f"{path}.{where}") for e in exc.errors)
            return None
    if name is not None:
        for prefix, channel in _NAME_PREFIX_CHANNELS:
            if name.startswith(prefix):
                return channel
    for implied in segment_words:
        if implied is not None:
            return implied
    return _channel_from_context(context)


def _channel_from_context(context: Mapping[str, Any]) -> Channel | None:
    device, os_info, library = (context.get(k) for k in ("device", "os", "library"))
    device_type = device.get("type") if isinstance(device, dict) else None
    os_name = os_info.get("name") if isinstance(os_info, dict) else None
    if isinstance(context.get("app"), dict) or any(
        isinstance(v, str) and v.lower() in _APP_OS for v in (device_type, os_name)
    ):
        return Channel.APP
    if isinstance(context.get("page"), dict) or isinstance(context.get("userAgent"), str):
        return Channel.WEB
    library_name = library.get("name") if isinstance(library, dict) else None
    if isinstance(library_name, str):
        lowered = library_name.lower()
        if lowered.startswith(("analytics.js", "analytics-next", "@segment/analytics-next")):
            return Channel.WEB
        if any(
            m in lowered for m in ("ios", "android", "swift", "kotlin", "react-native", "flutter")
        ):
            return Channel.APP
    return None


def _derived_message_id(message: Mapping[str, Any]) -> str:
    """Name a message that came without a messageId by its content, so a resend dedupes."""
    canonical = json.dumps(message, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "omnichannel:segment:" + canonical))


# --- e-commerce ------------------------------------------------------------------------


def _commerce(
    name: str, properties: Mapping[str, Any], path: str, errors: list[FieldError]
) -> Commerce | None:
    before = len(errors)
    currency = "USD"  # Segment's documented default
    if properties.get("currency") is not None:
        try:
            currency = normalize_currency(properties["currency"], child(path, "currency"))
        except ValidationError as exc:
            errors.extend(exc.errors)
    money = {key: _money(properties, key, path, errors, currency) for key in MONEY_FIELDS}
    if name in SINGLE_PRODUCT_EVENTS:
        items = [_line_item(properties, path, errors, currency)]
    else:
        items = []
        products = properties.get("products")
        if products is not None:
            if isinstance(products, list):
                for index, product in enumerate(products):
                    where = f"{child(path, 'products')}[{index}]"
                    if isinstance(product, dict):
                        items.append(_line_item(product, where, errors, currency))
                    else:
                        _problem(errors, where, "type", "a product must be an object")
            else:
                _problem(
                    errors, child(path, "products"), "type", "must be an array of product objects"
                )
    order_id, checkout_id, cart_id = (
        _ident(properties, key, path, errors) for key in ("order_id", "checkout_id", "cart_id")
    )
    coupon = _text(properties, "coupon", path, errors)
    if len(errors) > before:
        return None
    build = _new_commerce if _fits(order_id, checkout_id, cart_id) else Commerce
    return build(
        event=name,
        currency=currency,
        order_id=order_id,
        checkout_id=checkout_id,
        cart_id=cart_id,
        coupon=coupon,
        items=tuple(item for item in items if item is not None),
        revenue=money["revenue"],
        total=money["total"],
        subtotal=money["subtotal"],
        shipping=money["shipping"],
        tax=money["tax"],
        discount=money["discount"],
        value=money["value"],
    )


def _number(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    errors: list[FieldError],
    *,
    minimum: int | None = None,
) -> int | float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _problem(
            errors, child(path, key), "type", f"must be a JSON number, not {_json_type(value)}"
        )
        return None
    if minimum is not None and value < minimum:
        _problem(errors, child(path, key), "out_of_range", f"must not be below {minimum}")
        return None
    return value


def _money(
    obj: Mapping[str, Any], key: str, path: str, errors: list[FieldError], currency: str
) -> Money | None:
    value = _number(obj, key, path, errors)
    return None if value is None else _json_money(value, currency)


def _json_money(value: float, currency: str) -> Money:
    """`Money.from_json_number` for a finite JSON number and a normalised currency."""
    # repr() of a float is the shortest text that reads back to it: what the sender wrote.
    return _new_money(amount=Decimal(repr(value)), currency=currency)


def _line_item(
    product: Mapping[str, Any], path: str, errors: list[FieldError], currency: str
) -> LineItem | None:
    before = len(errors)
    price = _number(product, "price", path, errors, minimum=0)
    quantity = _number(product, "quantity", path, errors, minimum=0)
    if quantity is not None and quantity != int(quantity):
        _problem(errors, child(path, "quantity"), "invalid", "must be a whole number")
    texts = {
        key: _text(product, key, path, errors) for key in ("name", "category", "brand", "variant")
    }
    ids = {key: _ident(product, key, path, errors) for key in ("product_id", "sku")}
    if len(errors) > before:
        return None
    build = _new_line_item if _fits(*ids.values()) else LineItem
    return build(
        price=None if price is None else _json_money(price, currency),
        quantity=1 if quantity is None else int(quantity),
        **ids,
        **texts,
    )
