"""Folding events into state, and state into the Profile a host app reads."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from omnichannel._convert import converter
from omnichannel.errors import ValidationError
from omnichannel.identity import IdentityRules
from omnichannel.models import Event, Identity, Profile
from omnichannel.models._profile import _known_zone, _locale
from omnichannel.state._reducers import BUILT_IN, ProfileState, Reducer


def canonical_key(event: Event) -> tuple[Any, str]:
    """Sort key of canonical order: skew-corrected timestamp, then message id."""
    return (event.timestamp, event.message_id)


def _canonical_order(events: Iterable[Event]) -> list[Event]:
    """Events in canonical order; equal keys (a resent id with other content) by content."""
    ordered = sorted(events, key=canonical_key)
    start = 0
    while start < len(ordered):
        end = start + 1
        while end < len(ordered) and canonical_key(ordered[end]) == canonical_key(ordered[start]):
            end += 1
        if end - start > 1:  # rare: only collisions pay for the fingerprint
            ordered[start:end] = sorted(ordered[start:end], key=_fingerprint)
        start = end
    return ordered


def _fingerprint(event: Event) -> str:
    return json.dumps(converter.unstructure(event), sort_keys=True, default=str)


def advance(
    state: ProfileState[Any],
    event: Event,
    identities: Sequence[Identity],
    reducers: Sequence[Reducer[Any]] = BUILT_IN,
) -> ProfileState[Any]:
    """Apply one event that comes after everything ``state`` has seen.

    Raises:
        ValidationError: if the event is not after ``state.last_key`` (rebuild with `fold`).
    """
    key = canonical_key(event)
    if state.last_key is not None and key <= state.last_key:
        raise ValidationError.one(
            "$.timestamp",
            "out_of_order",
            "event is not after the state's last event; rebuild with fold()",
        )
    values = state.values
    return ProfileState(
        values={
            r.name: r.step(values[r.name] if r.name in values else r.initial(), event, identities)
            for r in reducers
        },
        last_key=key,
    )


def fold(
    events: Iterable[Event],
    *,
    rules: IdentityRules | None = None,
    reducers: Sequence[Reducer[Any]] = BUILT_IN,
) -> ProfileState[Any]:
    """Compute a person's state from their whole history, in canonical order.

    Duplicate message ids count once.

    Examples:
        >>> fold([]).activity.events
        0

    .. versionadded:: 0.1.0
    """
    reading = rules or IdentityRules()
    state: ProfileState[Any] = ProfileState(values={r.name: r.initial() for r in reducers})
    seen: set[str] = set()
    for event in _canonical_order(events):
        if event.message_id in seen:
            continue
        seen.add(event.message_id)
        state = advance(state, event, reading.identities(event), reducers)
    return state


def build_profile(
    profile_id: str, identities: Iterable[Identity], state: ProfileState[Any]
) -> Profile:
    """The Profile a host app reads: identifiers plus what the reducers computed.

    The time zone is the ``timezone`` trait if valid, else the last event's
    ``context.timezone``, else UTC; the locale likewise.
    """
    activity = state.activity
    traits = state.traits
    zone = next(
        (
            z
            for z in (traits.get("timezone"), activity.time_zone)
            if isinstance(z, str) and _known_zone(z)
        ),
        "UTC",
    )
    locale = None
    for candidate in (traits.get("locale"), activity.locale):
        try:
            locale = _locale(candidate)
        except ValidationError:
            continue
        if locale is not None:
            break
    first = activity.first_seen
    if first is None:
        raise ValidationError.one("$.events", "empty", "a profile needs at least one event")
    last = state.last_key[0] if state.last_key else first
    return Profile(
        id=profile_id,
        identities=frozenset(identities),
        traits=traits,
        consents=state.consents.records,
        time_zone=zone,
        locale=locale,
        created_at=first,
        updated_at=max(last, first),
    )


def with_reducers(*extra: Reducer[Any]) -> tuple[Reducer[Any], ...]:
    """The built-in reducers plus a host app's own (names must be unique)."""
    names = [r.name for r in (*BUILT_IN, *extra)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError.one(
            "$.reducers", "duplicate", f"reducer names must be unique: {duplicates}"
        )
    return (*BUILT_IN, *extra)


__all__ = ["advance", "build_profile", "canonical_key", "fold", "with_reducers"]
