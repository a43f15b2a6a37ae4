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

import hashlib
from collections.abc import Iterable, Mapping

import attrs
import pendulum

from omnichannel._gc import collector_paused
from omnichannel.errors import ValidationError
from omnichannel.models import Identity, IdentityKind

#: Canonical order of observations: skew-corrected timestamp, then message id.
Key = tuple[pendulum.DateTime, str]

# Keys profile-id hashes to this purpose (blake2b personalisation, at most 16 bytes).
_PERSON = b"omnichannel-prof"

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


def _position(priority: tuple[str, ...], kind: str) -> int:
    """Where ``kind`` stands in ``priority``; kinds not listed come after the listed ones."""
    try:
        return priority.index(kind)
    except ValueError:
        return len(priority)


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
        # _position, inlined: this runs once per identifier of every resolve().
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
    return _profile_id(str(identity), first[1])


def _profile_id(identifier: str, message_id: str) -> str:
    # ``identifier`` is ``str(identity)``: the bulk path names profiles without Identity objects.
    digest = hashlib.blake2b(f"{message_id}|{identifier}".encode(), digest_size=12, person=_PERSON)
    return "prof_" + digest.hexdigest()


def _order(
    key: Key, rank_a: tuple[int, str, str], rank_b: tuple[int, str, str]
) -> tuple[Key, tuple[int, str, str], tuple[int, str, str]]:
    """Canonical order of a link: its key, then its ends' ranks (symmetric in a and b).

    `_resolve` sorts by the same key, inlined; the bulk path merges logs with this one.
    """
    low, high = sorted((rank_a, rank_b))
    return (key, low, high)


class _Components:
    """Union-find over identifiers (interned as integers) with what the policy must check."""

    def __init__(self, first_seen: Mapping[Identity, Key], policy: MergePolicy) -> None:
        self.identities = list(first_seen)
        self.index = {identity: n for n, identity in enumerate(self.identities)}
        self.first = [first_seen[i] for i in self.identities]
        self.ranks = [policy.rank(i) for i in self.identities]
        count = len(self.identities)
        self.parent = list(range(count))
        self.size = [1] * count
        # The oldest identifier of a component names its profile.
        self.oldest = list(range(count))
        self.policy = policy
        # Only kinds the policy limits are counted: most unions touch no counts at all.
        self.limited = frozenset(policy.limits)
        self.counts: dict[int, dict[str, int]] = {
            n: {i.kind: 1} for n, i in enumerate(self.identities) if i.kind in self.limited
        }
        self.names: dict[int, str] = {}

    def find(self, item: int) -> int:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving
            item = parent[item]
        return item

    def age(self, root: int) -> tuple[Key, tuple[int, str, str]]:
        oldest = self.oldest[root]
        return (self.first[oldest], self.ranks[oldest])

    def too_many(self, ra: int, rb: int) -> str | None:
        """The first limited kind the union of two components would hold too many of."""
        a, b = self.counts.get(ra), self.counts.get(rb)
        if not a or not b:
            return None
        for kind in sorted(set(a) & set(b)):
            if a[kind] + b[kind] > self.policy.limits[kind]:
                return kind
        return None

    def union(self, older: int, younger: int) -> None:
        # The smaller tree goes under the larger one; the older component's name survives.
        keep, drop = (
            (older, younger) if self.size[older] >= self.size[younger] else (younger, older)
        )
        self.oldest[keep] = self.oldest[older]
        self.parent[drop] = keep
        self.size[keep] += self.size[drop]
        dropped = self.counts.pop(drop, None)
        if dropped:
            merged = self.counts.setdefault(keep, {})
            for kind, count in dropped.items():
                merged[kind] = merged.get(kind, 0) + count

    def profile_id(self, root: int) -> str:
        # Keyed by the oldest identifier, which never changes for it: computed once each.
        oldest = self.oldest[root]
        name = self.names.get(oldest)
        if name is None:
            name = self.names[oldest] = profile_id_for(self.identities[oldest], self.first[oldest])
        return name


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
    with collector_paused():
        return _resolve(first_seen, links, policy or MergePolicy(), separations)


def _resolve(
    first_seen: Mapping[Identity, Key],
    links: Iterable[Link],
    rules: MergePolicy,
    separations: Iterable[tuple[Identity, Identity]],
) -> Resolution:
    parts = _Components(first_seen, rules)
    index, ranks = parts.index, parts.ranks
    apart = [(index[x], index[y]) for x, y in separations if x in index and y in index]
    blocked = {index[i] for i in rules.blocked if i in index}
    # Symmetric in a and b: a link's orientation must not change the outcome.
    work = []
    for link in links:
        ia, ib = index[link.a], index[link.b]
        # The canonical order, inlined (this runs per link): see _order.
        low, high = sorted((ranks[ia], ranks[ib]))
        work.append((link.key, low, high, ia, ib, link))
    work.sort(key=lambda item: item[:3])
    log: list[MergeRecord] = []
    for _, _, _, ia, ib, link in work:
        record = _apply(parts, link, (ia, ib), blocked=blocked, apart=apart)
        if record is not None:
            log.append(record)
    find, name = parts.find, parts.profile_id
    profile_of = {identity: name(find(n)) for n, identity in enumerate(parts.identities)}
    return resolution_of(profile_of, tuple(log))


def resolution_of(profile_of: dict[Identity, str], log: tuple[MergeRecord, ...]) -> Resolution:
    """The `Resolution` whose profiles are the identifiers grouped by ``profile_of``."""
    profiles: dict[str, set[Identity]] = {}
    for identity, pid in profile_of.items():
        profiles.setdefault(pid, set()).add(identity)
    return Resolution(
        profiles={pid: frozenset(ids) for pid, ids in profiles.items()},
        profile_of=profile_of,
        log=log,
    )


def _apply(
    parts: _Components,
    link: Link,
    ends: tuple[int, int],
    *,
    blocked: set[int],
    apart: list[tuple[int, int]],
) -> MergeRecord | None:
    ia, ib = ends
    if ia in blocked or ib in blocked:
        return MergeRecord(outcome="refused", link=link, reason="blocked")
    ra, rb = parts.find(ia), parts.find(ib)
    if ra == rb:
        return None
    crowded = parts.too_many(ra, rb)
    if crowded is not None:
        return MergeRecord(outcome="refused", link=link, reason=f"limit:{crowded}")
    for x, y in apart:
        if {parts.find(x), parts.find(y)} == {ra, rb}:
            return MergeRecord(outcome="refused", link=link, reason="separated")
    older, younger = sorted((ra, rb), key=parts.age)
    survivor, absorbed = parts.profile_id(older), parts.profile_id(younger)
    # An identifier seen for the first time in this very message joins; anything else merges.
    joined = parts.size[younger] == 1 and parts.first[younger] == link.key
    parts.union(older, younger)
    return MergeRecord(
        outcome="joined" if joined else "merged",
        link=link,
        survivor=survivor,
        absorbed=absorbed,
    )
