"""Which identifiers an event carries, and the links it asserts between them."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import attrs

from omnichannel.errors import ValidationError
from omnichannel.identity._graph import Link, MergePolicy
from omnichannel.models import Event, Identity

#: Where identifiers are found in an event, by kind (dotted paths into the event).
DEFAULT_SOURCES: Mapping[str, tuple[str, ...]] = {
    "user_id": ("user_id",),
    # Segment's alias previousId is, in practice, the anonymous id being aliased.
    "anonymous_id": ("anonymous_id", "previous_id"),
    "email": ("traits.email", "context.traits.email"),
    "phone": ("traits.phone", "context.traits.phone"),
    "device_id": ("context.device.id",),
    "push_token": ("context.device.token",),
    "loyalty_id": (
        "traits.loyalty_id", "traits.loyaltyId", "properties.loyalty_id",
        "context.traits.loyalty_id",
    ),
}  # fmt: skip


@functools.lru_cache(maxsize=65_536)
def _identity(kind: str, value: str) -> Identity | None:
    """The normalised identifier, or None if the value is not one (cached: people repeat)."""
    try:
        return Identity(kind=kind, value=value)
    except ValidationError:
        return None


@attrs.frozen(kw_only=True)
class IdentityRules:
    """How identifiers are read from events and how they may merge.

    ``sources`` maps each identity kind to the dotted paths (``traits.email``,
    ``context.device.id``) it is read from; add kinds of your own (a CRM id in
    ``traits.crm_id``). Values that do not normalise (an ``email`` trait of
    ``"n/a"``) are skipped, never fatal: a bad trait must not lose the event.

    .. versionadded:: 0.1.0
    """

    sources: Mapping[str, tuple[str, ...]] = attrs.field(factory=lambda: dict(DEFAULT_SOURCES))
    policy: MergePolicy = attrs.field(factory=MergePolicy)
    _paths: tuple[tuple[str, str, tuple[str, ...]], ...] = attrs.field(
        init=False, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        compiled = []
        for kind, paths in self.sources.items():
            for path in paths:
                head, *rest = path.split(".")
                compiled.append((kind, head, tuple(rest)))
        object.__setattr__(self, "_paths", tuple(compiled))

    def identities(self, event: Event) -> list[Identity]:
        """Return the event's valid identifiers, highest priority first, without duplicates."""
        found: set[Identity] = set()
        for kind, head, rest in self._paths:
            # _lookup, inlined: this runs for every source path of every event.
            value: Any = getattr(event, head)
            for part in rest:
                # Payloads are plain dicts (the JSON guard made them); other Mappings are rare.
                if type(value) is dict or (value is not None and isinstance(value, Mapping)):
                    value = value.get(part)
                else:
                    value = None
                    break
            if value is None:
                continue
            if type(value) is not str:
                if isinstance(value, int) and not isinstance(value, bool):
                    value = str(value)
                elif not isinstance(value, str):
                    continue
            if value and not value.isspace():
                identity = _identity(kind, value)
                if identity is not None:
                    found.add(identity)
        if len(found) < 2:  # nothing to order
            return list(found)
        return sorted(found, key=self.policy.rank)

    def links(self, event: Event, identities: list[Identity] | None = None) -> list[Link]:
        """Return the links the event asserts: from its top identifier to each other one."""
        ids = self.identities(event) if identities is None else identities
        if len(ids) < 2:
            return []
        top = ids[0]
        return [
            Link(a=top, b=other, at=event.timestamp, message_id=event.message_id)
            for other in ids[1:]
        ]
