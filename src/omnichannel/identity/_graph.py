"""Deterministic identity resolution: which identifiers belong to one person.

The graph is a pure function of what was observed: the identifiers seen (with
the first instant each was seen), the links between identifiers that events
carried, and the operator's separations (unmerges). Links are applied in
canonical order — skew-corrected timestamp, then message id, then identifier
priority — so the same observations give the same profiles whatever order
they arrived in. A link that would break the merge policy is refused and
recorded with its reason; nothing is ever half-merged.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping

import attrs
import pendulum

from omnichannel.errors import ValidationError
from omnichannel.models import Identity, IdentityKind

#: Canonical order of observations: skew-corrected timestamp, then message id.
Key = tuple[pendulum.DateTime, str]

_PROFILE_NAMESPACE = uuid.UUID("6c6f6d6e-6963-6861-6e6e-656c00000001")

DEFAULT_PRIORITY = (
    "user_id", "loyalty_id", "email", "phone", "device_id", "push_token", "anonymous_id",
)  # fmt: skip


def _limits(value: Mapping[str, object]) -> Mapping[str, int]:
    checked: dict[str, int] = {}
    for kind, limit in value.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError.one(
                f"$.limits.{kind}", "out_of_range", "must be a whole number >= 1"
            )
        checked[str(IdentityKind(kind))] = limit
    return checked


def _blocked(value: Iterable[Identity]) -> frozenset[Identity]:
    items = frozenset(value)
    if not all(isinstance(i, Identity) for i in items):
        raise ValidationError.one("$.blocked", "type", "must contain only Identity values")
    return items


def _priority(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(IdentityKind(kind)) for kind in value)


@attrs.frozen(kw_only=True)
class MergePolicy:
    """What may be merged: per-kind limits, identifiers never to link by, and kind priority.

    ``limits`` caps how many identifiers of a kind one profile may hold (by
    default one ``user_id`` and one ``loyalty_id``: two accounts are two
    people). ``blocked`` identifiers (a shared test address, a shop's in-store
    tablet) never link anything. ``priority`` orders kinds: an event belongs to
    the profile of its highest-priority identifier, and within one event the
    higher-priority links are applied first. Kinds not listed come after the
    listed ones, alphabetically.

    Examples:
        >>> policy = MergePolicy(blocked={Identity(kind="device_id", value="store-tablet-7")})
        >>> policy.limit("user_id"), policy.limit("email")
        (1, None)

    .. versionadded:: 0.1.0
    """

    limits: Mapping[str, int] = attrs.field(
        factory=lambda: {"user_id": 1, "loyalty_id": 1}, converter=_limits
    )
    blocked: frozenset[Identity] = attrs.field(factory=frozenset, converter=_blocked)
    priority: tuple[str, ...] = attrs.field(default=DEFAULT_PRIORITY, converter=_priority)

    def limit(self, kind: str) -> int | None:
        """Return the most identifiers of ``kind`` one profile may hold, or None for no limit."""
        return self.limits.get(kind)

    def rank(self, identity: Identity) -> tuple[int, str, str]:
        """Sort key: higher priority first (lower rank), then kind and value."""
        try:
            position = self.priority.index(identity.kind)
        except ValueError:
            position = len(self.priority)
        return (position, identity.kind, identity.value)

    def top(self, identities: Iterable[Identity]) -> Identity | None:
        """Return the highest-priority identifier among ``identities`` (None if there are none)."""
        return min(identities, key=self.rank, default=None)


@attrs.frozen(kw_only=True)
class Link:
    """Two identifiers one event said belong to the same person.

    .. versionadded:: 0.1.0
    """

    a: Identity
    b: Identity
    at: pendulum.DateTime
    message_id: str

    @property
    def key(self) -> Key:
        """Canonical order of this link's observation."""
        return (self.at, self.message_id)


@attrs.frozen(kw_only=True)
class MergeRecord:
    """One entry of the merge log: a link that joined two profiles, or that was refused.

    ``outcome`` is ``"merged"`` (two existing profiles became one: ``absorbed``
    joined ``survivor``), ``"joined"`` (an identifier first seen in this very
    message joined a profile), or ``"refused"`` with a ``reason``
    (``limit:user_id``, ``blocked``, ``separated``).

    .. versionadded:: 0.1.0
    """

    outcome: str
    link: Link
    survivor: str | None = None
    absorbed: str | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class Resolution:
    """Who is who: profiles, the profile of each identifier, and the merge log that led there.

    .. versionadded:: 0.1.0
    """

    profiles: Mapping[str, frozenset[Identity]]
    profile_of: Mapping[Identity, str]
    log: tuple[MergeRecord, ...]

    def explain(self, profile_id: str) -> list[MergeRecord]:
        """Return the log entries that shaped ``profile_id`` (merges, joins, refusals), in order."""
        members = self.profiles.get(profile_id, frozenset())
        return [r for r in self.log if r.link.a in members or r.link.b in members]


def profile_id_for(identity: Identity, first: Key) -> str:
    """Name the profile an identifier starts, from where it was first seen.

    The first message id acts as a salt, so the id reveals nothing of the
    identifier's value; it is deterministic, so every process agrees.
    """
    return "prof_" + uuid.uuid5(_PROFILE_NAMESPACE, f"{first[1]}|{identity}").hex[:24]


class _Components:
    """Union-find over identifiers that keeps, per root, what the policy needs to check."""

    def __init__(self, first_seen: Mapping[Identity, Key], policy: MergePolicy) -> None:
        self.parent: dict[Identity, Identity] = {i: i for i in first_seen}
        self.first_seen = first_seen
        self.members: dict[Identity, list[Identity]] = {i: [i] for i in first_seen}
        self.kinds: dict[Identity, Counter[str]] = {i: Counter({i.kind: 1}) for i in first_seen}
        # The oldest identifier of a component names its profile.
        self.oldest: dict[Identity, Identity] = {i: i for i in first_seen}
        self.policy = policy

    def find(self, item: Identity) -> Identity:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving
            item = parent[item]
        return item

    def age(self, root: Identity) -> tuple[Key, tuple[int, str, str]]:
        oldest = self.oldest[root]
        return (self.first_seen[oldest], self.policy.rank(oldest))

    def union(self, older: Identity, younger: Identity) -> None:
        if len(self.members[older]) < len(self.members[younger]):
            # Attach the smaller tree, but keep the older component's name.
            self.oldest[younger] = self.oldest[older]
            older, younger = younger, older
        self.parent[younger] = older
        self.members[older].extend(self.members.pop(younger))
        self.kinds[older].update(self.kinds.pop(younger))
        self.oldest.pop(younger)

    def profile_id(self, root: Identity) -> str:
        oldest = self.oldest[root]
        return profile_id_for(oldest, self.first_seen[oldest])


def resolve(
    *,
    first_seen: Mapping[Identity, Key],
    links: Iterable[Link],
    policy: MergePolicy | None = None,
    separations: Iterable[tuple[Identity, Identity]] = (),
) -> Resolution:
    """Resolve observed identifiers and links into profiles, deterministically.

    ``first_seen`` gives every identifier with the first instant (and message)
    it was seen; every link's identifiers must be in it. ``separations`` are
    pairs an operator split apart (`unmerge`): no link may rejoin them.

    The result does not depend on the order of ``links``: they are applied in
    canonical order, and the oldest component survives each merge.

    Examples:
        >>> import pendulum
        >>> t = pendulum.datetime(2024, 3, 5)
        >>> anon, user = (
        ...     Identity(kind="anonymous_id", value="a1"),
        ...     Identity(kind="user_id", value="u1"),
        ... )
        >>> r = resolve(
        ...     first_seen={anon: (t, "m1"), user: (t.add(hours=1), "m2")},
        ...     links=[Link(a=anon, b=user, at=t.add(hours=1), message_id="m2")],
        ... )
        >>> len(r.profiles), r.profile_of[user] == r.profile_of[anon]
        (1, True)
        >>> r.log[0].outcome
        'joined'

    .. versionadded:: 0.1.0
    """
    rules = policy or MergePolicy()
    components = _Components(first_seen, rules)
    apart = [(x, y) for x, y in separations if x in first_seen and y in first_seen]
    log: list[MergeRecord] = []
    # Symmetric in a and b: a link's orientation must not change the outcome.
    ordered = sorted(
        links, key=lambda link: (link.key, *sorted((rules.rank(link.a), rules.rank(link.b))))
    )
    for link in ordered:
        record = _apply(components, link, rules, apart)
        if record is not None:
            log.append(record)
    profile_of = {
        identity: components.profile_id(components.find(identity)) for identity in first_seen
    }
    profiles: dict[str, set[Identity]] = {}
    for identity, pid in profile_of.items():
        profiles.setdefault(pid, set()).add(identity)
    return Resolution(
        profiles={pid: frozenset(ids) for pid, ids in profiles.items()},
        profile_of=profile_of,
        log=tuple(log),
    )


def _apply(
    components: _Components,
    link: Link,
    policy: MergePolicy,
    apart: list[tuple[Identity, Identity]],
) -> MergeRecord | None:
    if link.a in policy.blocked or link.b in policy.blocked:
        return MergeRecord(outcome="refused", link=link, reason="blocked")
    ra, rb = components.find(link.a), components.find(link.b)
    if ra == rb:
        return None
    combined = components.kinds[ra] + components.kinds[rb]
    for kind, count in sorted(combined.items()):
        limit = policy.limit(kind)
        if limit is not None and count > limit:
            return MergeRecord(outcome="refused", link=link, reason=f"limit:{kind}")
    for x, y in apart:
        rx, ry = components.find(x), components.find(y)
        if {rx, ry} == {ra, rb}:
            return MergeRecord(outcome="refused", link=link, reason="separated")
    older, younger = sorted((ra, rb), key=components.age)
    survivor, absorbed = components.profile_id(older), components.profile_id(younger)
    # An identifier seen for the first time in this very message joins; anything else merges.
    young = components.members[younger]
    joined = len(young) == 1 and components.first_seen[young[0]] == link.key
    components.union(older, younger)
    return MergeRecord(
        outcome="joined" if joined else "merged",
        link=link,
        survivor=survivor,
        absorbed=absorbed,
    )
