"""Variants: chosen by rules (first match by priority), by a stable weighted split, or held out.

The split hashes (campaign key, profile id) with BLAKE2b, never Python's
``hash`` (salted per process): the same person sees the same variant in every
process, on every machine, for as long as the campaign's key and weights stay.
The holdout draws from its own hash, so changing the split's weights never
moves anyone in or out of the control group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from omnichannel.errors import ValidationError
from omnichannel.models._check import text
from omnichannel.personalization._message import Message
from omnichannel.rules import Predicate, Rule, compile_rule

__all__ = ["Campaign", "Choice", "Variant", "bucket"]


def bucket(*parts: str) -> float:
    """A stable number in [0, 1) for the parts (campaign key, profile id ...).

    Examples:
        >>> bucket("spring-sale", "p-1") == bucket("spring-sale", "p-1")
        True
        >>> 0 <= bucket("spring-sale", "p-1") < 1
        True

    .. versionadded:: 0.1.0
    """
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _weight(_instance: object, _attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
        raise ValidationError.one("$.weight", "out_of_range", "must be a number >= 0")


@attrs.frozen(kw_only=True)
class Variant:
    """One version of a campaign's message.

    With ``when``, the variant is for the people the rule holds for (checked
    by descending ``priority``, then in the order given; the first match
    wins). Without, it takes part in the weighted split of everyone else.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=text(max_len=128))
    message: Message = attrs.field(validator=attrs.validators.instance_of(Message))
    when: Rule | None = None
    priority: int = 0
    weight: float = attrs.field(default=1.0, validator=_weight)


@attrs.frozen(kw_only=True)
class Choice:
    """Which variant a person gets, and why.

    ``variant`` is None for the holdout (``held_out``: the control group,
    which receives nothing and is recorded as such) and when no variant
    applies. ``reason`` is ``rule``, ``split``, ``holdout`` or ``no_match``;
    ``because`` says it in words.

    .. versionadded:: 0.1.0
    """

    campaign: str
    variant: Variant | None
    reason: str
    because: str
    held_out: bool = False

    @property
    def message(self) -> Message | None:
        """The chosen variant's message, if any."""
        return None if self.variant is None else self.variant.message


def _holdout(_instance: object, _attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValidationError.one("$.holdout", "out_of_range", "must be a share in [0, 1)")


def _variants(value: object) -> tuple[Variant, ...]:
    items = tuple(value) if isinstance(value, (list, tuple)) else None
    if not items:
        raise ValidationError.one("$.variants", "required", "a campaign needs at least one variant")
    for index, item in enumerate(items):
        if not isinstance(item, Variant):
            raise ValidationError.one(f"$.variants[{index}]", "type", "must be a Variant")
    keys = [v.key for v in items]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            raise ValidationError.one(f"$.variants[{index}].key", "duplicate", f"{key!r} twice")
    return items


@attrs.frozen(kw_only=True)
class Campaign:
    """A message's variants and its control group: outbound sends and page placements alike.

    Examples:
        >>> import pendulum
        >>> from omnichannel.personalization import Sms
        >>> from omnichannel.rules import trait
        >>> de = Message(key="de", sms=Sms(body="Hallo!"))
        >>> en = Message(key="en", sms=Sms(body="Hello!"))
        >>> c = Campaign(
        ...     key="greeting",
        ...     variants=[
        ...         Variant(key="de", message=de, when=trait("country") == "DE"),
        ...         Variant(key="en", message=en),
        ...     ],
        ... )
        >>> now = pendulum.datetime(2024, 1, 1)
        >>> c.choose("p1", {"traits": {"country": "DE"}}, now).because
        'rule: country is DE'
        >>> c.choose("p2", {"traits": {"country": "FR"}}, now).reason
        'split'

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=text(max_len=128))
    variants: tuple[Variant, ...] = attrs.field(converter=_variants)
    holdout: float = attrs.field(default=0.0, validator=_holdout)
    _ruled: tuple[tuple[Variant, Predicate], ...] = attrs.field(
        init=False, eq=False, repr=False, hash=False, factory=tuple
    )
    _split: tuple[tuple[float, Variant], ...] = attrs.field(
        init=False, eq=False, repr=False, hash=False, factory=tuple
    )

    def __attrs_post_init__(self) -> None:
        ordered = sorted(
            (v for v in self.variants if v.when is not None),
            key=lambda v: -v.priority,  # stable: ties keep the order given
        )
        ruled = tuple((v, compile_rule(v.when)) for v in ordered if v.when is not None)
        open_ = [v for v in self.variants if v.when is None and v.weight > 0]
        total = sum(v.weight for v in open_)
        edges: list[tuple[float, Variant]] = []
        running = 0.0
        for variant in open_:
            running += variant.weight / total
            edges.append((running, variant))
        object.__setattr__(self, "_ruled", ruled)
        object.__setattr__(self, "_split", tuple(edges))

    def variant(self, key: str) -> Variant:
        """The variant named ``key``."""
        for variant in self.variants:
            if variant.key == key:
                return variant
        raise ValidationError.one("$.variant", "unknown_variant", f"no variant {key!r}")

    def choose(self, profile_id: object, subject: Mapping[str, Any], now: Any) -> Choice:
        """Pick the variant for one person: holdout first, then rules, then the split.

        ``subject`` is what the variants' rules read
        (`omnichannel.segments.subject_of`); ``now`` the instant they are
        read at.
        """
        if not isinstance(profile_id, str) or not profile_id:
            raise ValidationError.one("$.profile_id", "required", "must be a non-empty string")
        if self.holdout and bucket(self.key, "holdout", profile_id) < self.holdout:
            return Choice(
                campaign=self.key,
                variant=None,
                reason="holdout",
                because=f"in the {self.holdout:.0%} control group",
                held_out=True,
            )
        for variant, predicate in self._ruled:
            if predicate(subject, now):
                return Choice(
                    campaign=self.key,
                    variant=variant,
                    reason="rule",
                    because=f"rule: {variant.when}",
                )
        if self._split:
            share = bucket(self.key, profile_id)
            variant = next((v for edge, v in self._split if share < edge), self._split[-1][1])
            return Choice(
                campaign=self.key,
                variant=variant,
                reason="split",
                because=f"split: bucket {share:.4f} of weights {_weights(self._split)}",
            )
        return Choice(
            campaign=self.key, variant=None, reason="no_match", because="no variant's rule holds"
        )


def _weights(split: Sequence[tuple[float, Variant]]) -> str:
    return ", ".join(f"{v.key}={v.weight:g}" for _edge, v in split)
