"""Item-to-item recommendations from co-occurrence: "bought together", "viewed together".

`learn_cooccurrence` counts, over baskets (the products of one order, or
everything one person viewed), how often each pair of items appears
together, and keeps for every item its best neighbours. The model then
answers "what goes with this?" for one item (`CoOccurrence.similar`), for a
set of seeds such as what a person viewed or has in the cart, leaving out
what they already bought (`CoOccurrence.recommend`), or straight from a
segment subject (`CoOccurrence.for_subject`). Every recommendation says
which seeds led to it (``because``), so a message can explain itself, and
`as_template_items` turns recommendations into plain JSON items a template
loops over.

Similarity is the cosine (Ochiai) coefficient of the two items' basket
sets: ``n(a, b) / sqrt(n(a) * n(b))``, where ``n(a)`` counts the baskets
holding ``a`` and ``n(a, b)`` those holding both. It is what Amazon's
item-to-item collaborative filtering (Linden, Smith and York, 2003) uses.
Raw counts would put the bestseller beside every product ("people who
bought anything bought the tote bag"); dividing by both items' popularity
removes that, and unlike lift (``n(a, b) * N / (n(a) * n(b))``) the cosine
does not explode for two items that were each bought twice, together. It is
symmetric, lies in (0, 1], and is 1 for items that are only ever bought
together. Pairs seen in fewer than ``min_support`` baskets are dropped as
noise.

The model is plain data (integer counts), pure and deterministic: the same
baskets in any order give an equal model, ties are broken by item id, and
`CoOccurrence.to_json` / `CoOccurrence.from_json` carry it from a nightly
job to a web process.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal, cast

import attrs

from omnichannel._jsonpath import child
from omnichannel.errors import ValidationError
from omnichannel.models import Event, EventType

__all__ = [
    "CoOccurrence",
    "Recommendation",
    "as_template_items",
    "baskets_from_events",
    "learn_cooccurrence",
]

#: The key naming the format and its version in a stored model.
FORMAT = "omnichannel.cooccurrence"
VERSION = 1

_KEYS = frozenset({FORMAT, "kind", "baskets", "counts", "neighbours"})
_GROUPINGS = ("order", "profile", "history")
# Keys of an event dict that name the person, best first (the subject's own, Segment's wire
# names, the models' names), and the kind of identifier each holds.
_PERSON_KEYS = (
    ("profile_id", "profile_id"),
    ("userId", "user_id"),
    ("user_id", "user_id"),
    ("anonymousId", "anonymous_id"),
    ("anonymous_id", "anonymous_id"),
)

Grouping = Literal["order", "profile", "history"]


# --- checks at the door ------------------------------------------------------------------------


def _kind_name(value: object) -> str:
    return type(value).__name__


def _whole(value: object, path: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.one(path, "type", f"must be an int, not {_kind_name(value)}")
    if value < minimum:
        raise ValidationError.one(path, "out_of_range", f"must be >= {minimum}, not {value}")
    return value


def _text(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise ValidationError.one(path, "type", f"must be a string, not {_kind_name(value)}")
    if not value.strip():
        raise ValidationError.one(path, "empty", "must not be empty")
    return value


def _many(value: object, path: str, what: str) -> Iterable[Any]:
    """``value`` as an iterable of several things; a lone string or a mapping is refused."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        hint = f' (wrap a single one: ["{value}"])' if isinstance(value, str) else ""
        raise ValidationError.one(
            path, "type", f"must be a collection of {what}, not {_kind_name(value)}{hint}"
        )
    return value


def _ids(value: object, path: str) -> list[str]:
    """Item ids (non-empty strings), in the order given."""
    items = list(_many(value, path, "item ids"))
    if not all(type(item) is str and item.strip() for item in items):  # fast path: all good
        for index, item in enumerate(items):
            _text(item, child(path, index))
    return items


def _names(value: object, path: str) -> frozenset[str]:
    return frozenset(
        _text(name, child(path, n)) for n, name in enumerate(_many(value, path, "names"))
    )


# --- recommendations ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Recommendation:
    """One recommended item, its score, and the seed items that led to it.

    ``score`` is the sum of the item's similarity to each seed (see
    `CoOccurrence`); ``because`` lists the seeds it is similar to, the
    strongest first, so a message can say "because you viewed ...".

    Examples:
        >>> rec = Recommendation(item_id="filters", score=1.0, because=("coffee",))
        >>> rec.to_json()
        {'product_id': 'filters', 'score': 1.0, 'because': ['coffee']}

    .. versionadded:: 0.1.0
    """

    item_id: str
    score: float
    because: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return this recommendation as a JSON object: ``product_id``, ``score``, ``because``.

        Examples:
            >>> Recommendation(item_id="jam", score=0.5, because=("bread",)).to_json()["because"]
            ['bread']

        .. versionadded:: 0.1.0
        """
        return {"product_id": self.item_id, "score": self.score, "because": list(self.because)}


def as_template_items(
    recommendations: Iterable[Recommendation],
    *,
    catalogue: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Return recommendations as plain JSON items for a template to loop over.

    Each item is ``{"product_id", "score", "because"}``. With a
    ``catalogue`` (product id to its details: name, price, image ...) each
    item also carries its product's details, and items the catalogue does
    not hold (discontinued, out of stock) are left out, so a template never
    shows a product it cannot describe.

    Raises:
        ValidationError: ``$.recommendations[i]`` is not a `Recommendation`,
            or ``$.catalogue`` (or one of its entries) is not a mapping.

    Examples:
        >>> recs = (
        ...     Recommendation(item_id="filters", score=1.0, because=("coffee",)),
        ...     Recommendation(item_id="mug", score=0.5, because=("coffee",)),
        ... )
        >>> as_template_items(recs)[0]
        {'product_id': 'filters', 'score': 1.0, 'because': ['coffee']}
        >>> as_template_items(recs, catalogue={"filters": {"name": "Paper filters"}})
        [{'name': 'Paper filters', 'product_id': 'filters', 'score': 1.0, 'because': ['coffee']}]

    .. versionadded:: 0.1.0
    """
    if catalogue is not None and not isinstance(catalogue, Mapping):
        raise ValidationError.one(
            "$.catalogue", "type", f"must be a mapping or None, not {_kind_name(catalogue)}"
        )
    items = []
    for index, rec in enumerate(_many(recommendations, "$.recommendations", "Recommendation")):
        if not isinstance(rec, Recommendation):
            raise ValidationError.one(
                child("$.recommendations", index),
                "type",
                f"must be a Recommendation, not {_kind_name(rec)}",
            )
        if catalogue is None:
            items.append(rec.to_json())
            continue
        details = catalogue.get(rec.item_id)
        if details is None:
            continue
        if not isinstance(details, Mapping):
            raise ValidationError.one(
                child("$.catalogue", rec.item_id),
                "type",
                f"must be a mapping, not {_kind_name(details)}",
            )
        items.append({**details, **rec.to_json()})
    return items


# --- the model ---------------------------------------------------------------------------------


def _similarity(together: int, count_a: int, count_b: int) -> float:
    # One expression everywhere (learning, loading, ranking), so scores are bit-identical.
    return together / math.sqrt(count_a * count_b)


def _rank_key(pair: tuple[str, float]) -> tuple[float, str]:
    return -pair[1], pair[0]


def _check_model(
    kind: object, baskets: object, counts: object, neighbours: object
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Check a model's fields; return plain copies of its two mappings."""
    _text(kind, "$.kind")
    _whole(baskets, "$.baskets", 0)
    if not isinstance(counts, Mapping):
        raise ValidationError.one(
            "$.counts", "type", f"must be a mapping, not {_kind_name(counts)}"
        )
    if not isinstance(neighbours, Mapping):
        raise ValidationError.one(
            "$.neighbours", "type", f"must be a mapping, not {_kind_name(neighbours)}"
        )
    for item, count in counts.items():
        _text(item, "$.counts")
        _whole(count, child("$.counts", item), 1)
    copied: dict[str, dict[str, int]] = {}
    for item, others in neighbours.items():
        at = child("$.neighbours", _text(item, "$.neighbours"))
        if item not in counts:
            raise ValidationError.one(at, "invalid", "is not in counts")
        if not isinstance(others, Mapping):
            raise ValidationError.one(at, "type", f"must be a mapping, not {_kind_name(others)}")
        for other, together in others.items():
            _text(other, at)
            there = child(at, other)
            _whole(together, there, 1)
            if other == item or other not in counts:
                raise ValidationError.one(there, "invalid", "must be another item in counts")
            if together > min(counts[item], counts[other]):
                raise ValidationError.one(
                    there, "out_of_range", "is more than the baskets holding either item"
                )
        if others:  # an item without neighbours is the same model as an item left out
            copied[item] = dict(others)
    return dict(counts), copied


@attrs.frozen(kw_only=True, repr=False)
class CoOccurrence:
    """Which items go together, learned from baskets by `learn_cooccurrence`.

    ``kind`` says what the baskets were (``"bought_together"``,
    ``"viewed_together"`` or a name of your own); ``baskets`` is how many
    baskets it learned from; ``counts`` holds, per item, the number of
    baskets it was in; ``neighbours`` holds, per item, its best neighbours
    and the number of baskets holding both.

    The score of a neighbour is the cosine similarity ``n(a, b) / sqrt(n(a)
    * n(b))`` (the module's docstring says why). Rankings put the higher
    score first and break ties by item id, so they never depend on the order
    the baskets came in.

    Raises:
        ValidationError: a field has the wrong type, or the counts contradict
            each other (a pair seen more often than one of its items).

    Examples:
        >>> model = learn_cooccurrence(
        ...     [{"coffee", "filters"}, {"coffee", "filters", "milk"}, {"bread", "milk"}],
        ...     min_support=1,
        ... )
        >>> model
        CoOccurrence(kind='bought_together', baskets=3, items=4, pairs=4)
        >>> [(r.item_id, round(r.score, 3)) for r in model.similar("coffee")]
        [('filters', 1.0), ('milk', 0.5)]

    .. versionadded:: 0.1.0
    """

    kind: str
    baskets: int
    counts: Mapping[str, int] = attrs.field(hash=False)
    neighbours: Mapping[str, Mapping[str, int]] = attrs.field(hash=False)
    # Per item, its neighbours with their scores, best first (derived, so not compared).
    _ranked: dict[str, dict[str, float]] = attrs.field(init=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        counts, neighbours = _check_model(self.kind, self.baskets, self.counts, self.neighbours)
        ranked = {
            item: dict(
                sorted(
                    (
                        (other, _similarity(together, counts[item], counts[other]))
                        for other, together in others.items()
                    ),
                    key=_rank_key,
                )
            )
            for item, others in neighbours.items()
        }
        # Own copies: a caller changing its dicts afterwards cannot desynchronise the ranking.
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "neighbours", neighbours)
        object.__setattr__(self, "_ranked", ranked)

    def __repr__(self) -> str:
        pairs = len(
            {(min(a, b), max(a, b)) for a, others in self.neighbours.items() for b in others}
        )
        return (
            f"CoOccurrence(kind={self.kind!r}, baskets={self.baskets}, "
            f"items={len(self.counts)}, pairs={pairs})"
        )

    def similar(self, item_id: str, *, k: int = 10) -> tuple[Recommendation, ...]:
        """Return up to ``k`` items that go with ``item_id``, best first.

        An item the model has not seen (a new product) has none: the result
        is empty, not an error.

        Raises:
            ValidationError: ``$.item_id`` is not a non-empty string, or
                ``$.k`` is not an int >= 1.

        Examples:
            >>> model = learn_cooccurrence([["tea", "honey"], ["tea", "honey"], ["tea"]])
            >>> [(r.item_id, round(r.score, 4), r.because) for r in model.similar("tea")]
            [('honey', 0.8165, ('tea',))]
            >>> model.similar("unknown")
            ()

        .. versionadded:: 0.1.0
        """
        _text(item_id, "$.item_id")
        _whole(k, "$.k", 1)
        return tuple(
            Recommendation(item_id=other, score=score, because=(item_id,))
            for other, score in itertools.islice(self._ranked.get(item_id, {}).items(), k)
        )

    def recommend(
        self, seed_items: Iterable[str], *, exclude: Iterable[str] = (), k: int = 5
    ) -> tuple[Recommendation, ...]:
        """Return up to ``k`` items that go with the seeds, leaving out ``exclude`` and the seeds.

        An item's score is the sum of its similarity to each seed, so an item
        that goes with several of them ranks above one that goes with a
        single one. Seeds are what the person is looking at (viewed, in the
        cart); ``exclude`` is what they must not be offered again, typically
        what they already bought. ``because`` names the seeds that led to an
        item, the strongest first. The order of the seeds does not matter.

        Raises:
            ValidationError: ``$.seed_items`` or ``$.exclude`` is not a
                collection of non-empty strings (``$.seed_items[2]`` names the
                bad one), or ``$.k`` is not an int >= 1.

        Examples:
            >>> model = learn_cooccurrence(
            ...     [
            ...         ["coffee", "filters"],
            ...         ["coffee", "filters"],
            ...         ["coffee", "mug"],
            ...         ["coffee", "mug"],
            ...         ["tea", "mug"],
            ...         ["tea", "mug"],
            ...     ]
            ... )
            >>> [r.item_id for r in model.recommend(["coffee", "tea"])]
            ['mug', 'filters']
            >>> model.recommend(["coffee", "tea"])[0].because
            ('tea', 'coffee')
            >>> [r.item_id for r in model.recommend(["coffee"], exclude=["mug"])]
            ['filters']

        .. versionadded:: 0.1.0
        """
        seeds = sorted(set(_ids(seed_items, "$.seed_items")))
        skip = set(_ids(exclude, "$.exclude"))
        _whole(k, "$.k", 1)
        skip.update(seeds)
        near = [(seed, self._ranked[seed]) for seed in seeds if seed in self._ranked]
        scores: dict[str, float] = {}
        for _, others in near:  # seeds sorted: the float sums do not depend on the caller's order
            for other, score in others.items():
                scores[other] = scores.get(other, 0.0) + score
        for item in skip:
            scores.pop(item, None)
        best = heapq.nsmallest(k, scores.items(), key=_rank_key)
        # The explanation only for the few kept: the seeds an item is a neighbour of.
        return tuple(
            Recommendation(
                item_id=item,
                score=score,
                because=tuple(
                    seed
                    for _, seed in sorted(
                        (-others[item], seed) for seed, others in near if item in others
                    )
                ),
            )
            for item, score in best
        )

    def for_subject(
        self,
        subject: Mapping[str, Any],
        *,
        k: int = 5,
        seed_events: Iterable[str] = ("Product Viewed", "Product Added"),
        exclude_events: Iterable[str] = ("Order Completed",),
        max_seeds: int = 20,
    ) -> tuple[Recommendation, ...]:
        """Return recommendations for the person a segment subject describes.

        ``subject`` is what `omnichannel.segments.subject_of` builds, with
        ``events=`` given: its ``events`` are read in time order. The seeds
        are the products of the ``seed_events`` (by default what the person
        viewed or put in the cart), the latest ``max_seeds`` distinct ones;
        the products of the ``exclude_events`` (by default every product they
        bought) are never recommended. For cross-sell after a purchase, add
        ``"Order Completed"`` to ``seed_events``: what they bought then leads
        to what goes with it, and is still not offered again. Product ids are
        read as in `baskets_from_events`.

        Raises:
            ValidationError: ``$.subject`` is not a mapping, has no
                ``events`` (``$.subject.events``) or holds one that is not an
                event (``$.subject.events[3]``); ``$.k`` or ``$.max_seeds``
                is not an int >= 1; ``$.seed_events`` or
                ``$.exclude_events`` is not a collection of names.

        Examples:
            >>> model = learn_cooccurrence([["coffee", "filters"]] * 2 + [["coffee", "mug"]] * 2)
            >>> subject = {
            ...     "profile_id": "p1",
            ...     "events": [
            ...         {
            ...             "event": "Order Completed",
            ...             "properties": {"products": [{"product_id": "mug"}]},
            ...         },
            ...         {"event": "Product Viewed", "properties": {"product_id": "coffee"}},
            ...     ],
            ... }
            >>> [r.to_json() for r in model.for_subject(subject)]
            [{'product_id': 'filters', 'score': 0.7071067811865475, 'because': ['coffee']}]

        .. versionadded:: 0.1.0
        """
        if not isinstance(subject, Mapping):
            raise ValidationError.one(
                "$.subject", "type", f"must be a mapping, not {_kind_name(subject)}"
            )
        _whole(k, "$.k", 1)
        _whole(max_seeds, "$.max_seeds", 1)
        seeding = _names(seed_events, "$.seed_events")
        excluding = _names(exclude_events, "$.exclude_events")
        if subject.get("events") is None:
            raise ValidationError.one(
                "$.subject.events", "required", "build the subject with its events (events=...)"
            )
        events = list(_many(subject["events"], "$.subject.events", "events"))
        seeds: dict[str, None] = {}  # latest first, each once
        bought: set[str] = set()
        for index in range(len(events) - 1, -1, -1):
            name, properties = _read_event(events[index], child("$.subject.events", index))
            if name in excluding:
                bought.update(_product_ids(properties))
            if name in seeding and len(seeds) < max_seeds:
                for item in _product_ids(properties):
                    if len(seeds) < max_seeds:
                        seeds.setdefault(item)
        return self.recommend(list(seeds), exclude=bought, k=k)

    def to_json(self) -> dict[str, Any]:
        """Return the model as a versioned JSON object (`from_json` reads it back).

        Items are sorted by id and each item's neighbours best first, so the
        same model always gives the same document.

        Examples:
            >>> model = learn_cooccurrence([["tea", "honey"], ["tea", "honey"]])
            >>> model.to_json()  # doctest: +NORMALIZE_WHITESPACE
            {'omnichannel.cooccurrence': 1, 'kind': 'bought_together', 'baskets': 2,
             'counts': {'honey': 2, 'tea': 2},
             'neighbours': {'honey': {'tea': 2}, 'tea': {'honey': 2}}}

        .. versionadded:: 0.1.0
        """
        return {
            FORMAT: VERSION,
            "kind": self.kind,
            "baskets": self.baskets,
            "counts": {item: self.counts[item] for item in sorted(self.counts)},
            "neighbours": {
                item: {other: self.neighbours[item][other] for other in self._ranked[item]}
                for item in sorted(self._ranked)
            },
        }

    @classmethod
    def from_json(cls, document: Any) -> CoOccurrence:
        """Read a model from the versioned JSON object `to_json` wrote.

        Raises:
            ValidationError: with the path of the problem: a document of
                another version (``unsupported_version``), a missing
                (``required``) or unknown (``unknown_field``) key, a value of
                the wrong type, or counts that contradict each other.

        Examples:
            >>> import json
            >>> model = learn_cooccurrence([["tea", "honey"], ["tea", "honey"]])
            >>> CoOccurrence.from_json(json.loads(json.dumps(model.to_json()))) == model
            True

        .. versionadded:: 0.1.0
        """
        if not isinstance(document, Mapping):
            raise ValidationError.one("$", "type", f"must be an object, not {_kind_name(document)}")
        if document.get(FORMAT) != VERSION:
            raise ValidationError.one(
                child("$", FORMAT), "unsupported_version", f"this library reads version {VERSION}"
            )
        for key in document:
            if key not in _KEYS:
                raise ValidationError.one(
                    child("$", str(key)), "unknown_field", "is not a field of the model"
                )
        for key in sorted(_KEYS):
            if key not in document:
                raise ValidationError.one(child("$", key), "required", "is required")
        return cls(
            kind=document["kind"],
            baskets=document["baskets"],
            counts=document["counts"],
            neighbours=document["neighbours"],
        )


# --- learning ----------------------------------------------------------------------------------


#: How many pairs wait before they are counted: bulk counting is fast, memory stays bounded.
_BULK = 1 << 16
_COLLECTIONS = (list, tuple, set, frozenset)


def _basket(basket: object, index: int, known: set[str]) -> set[str]:
    """The distinct item ids of the basket at ``index``; ``known`` ids need no new check."""
    items: Collection[Any] = (
        cast("Collection[Any]", basket)
        if type(basket) in _COLLECTIONS
        else list(_many(basket, child("$.baskets", index), "item ids"))
    )
    try:
        unique = set(items)
    except TypeError:  # an unhashable item: say which
        unique = set()
        _ids(items, child("$.baskets", index))
    new = unique - known
    if new:
        if not all(type(item) is str and item.strip() for item in new):
            _ids(list(items), child("$.baskets", index))
        known |= new
    return unique


def learn_cooccurrence(
    baskets: Iterable[Collection[str]],
    *,
    kind: str = "bought_together",
    min_support: int = 2,
    max_items_per_basket: int = 50,
    max_neighbours: int = 50,
) -> CoOccurrence:
    """Learn which items go together from baskets of item ids.

    A basket is the items of one order (for "bought together"), or
    everything one person viewed in a session or a period (for "viewed
    together"); `baskets_from_events` makes them from events. An item counts
    once per basket however often it appears. Empty baskets are ignored, and
    so are baskets of more than ``max_items_per_basket`` distinct items
    (wholesale orders, bots): they say little about what goes together and
    cost the square of their size. Pairs seen together in fewer than
    ``min_support`` baskets are dropped; each item keeps its
    ``max_neighbours`` best neighbours (by cosine similarity, ties by id).

    Raises:
        ValidationError: ``$.baskets`` is not a collection of baskets, a
            basket is not a collection of item ids (``$.baskets[3]``) or holds
            one that is not a non-empty string (``$.baskets[3][0]``);
            ``$.kind`` is empty; ``$.min_support`` or ``$.max_neighbours`` is
            not an int >= 1, ``$.max_items_per_basket`` not an int >= 2.

    Examples:
        >>> orders = [
        ...     {"coffee", "filters", "milk"},
        ...     {"coffee", "filters"},
        ...     {"bread", "butter", "milk"},
        ...     {"bread", "butter"},
        ... ]
        >>> model = learn_cooccurrence(orders)
        >>> model.neighbours["coffee"], model.counts["milk"]
        ({'filters': 2}, 2)
        >>> model.similar("milk")
        ()

    .. versionadded:: 0.1.0
    """
    _text(kind, "$.kind")
    _whole(min_support, "$.min_support", 1)
    _whole(max_items_per_basket, "$.max_items_per_basket", 2)
    _whole(max_neighbours, "$.max_neighbours", 1)
    counts: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    known: set[str] = set()  # item ids already checked
    seen: list[str] = []  # items and pairs wait here to be counted in bulk (C speed)
    waiting: list[tuple[str, str]] = []
    used = 0
    for index, basket in enumerate(_many(baskets, "$.baskets", "baskets")):
        unique = _basket(basket, index, known)
        if not unique or len(unique) > max_items_per_basket:
            continue
        used += 1
        seen.extend(unique)
        if len(unique) > 1:
            waiting.extend(itertools.combinations(sorted(unique), 2))  # each pair once
            if len(waiting) > _BULK:
                pairs.update(waiting)
                waiting.clear()
    counts.update(seen)
    pairs.update(waiting)
    found: dict[str, list[tuple[str, float, int]]] = {}
    for (a, b), together in pairs.items():
        if together < min_support:
            continue
        score = _similarity(together, counts[a], counts[b])
        found.setdefault(a, []).append((b, score, together))
        found.setdefault(b, []).append((a, score, together))
    neighbours = {
        item: {
            other: together
            for other, _, together in heapq.nsmallest(
                max_neighbours, candidates, key=lambda c: (-c[1], c[0])
            )
        }
        for item, candidates in found.items()
    }
    return CoOccurrence(kind=kind, baskets=used, counts=dict(counts), neighbours=neighbours)


# --- baskets from events -----------------------------------------------------------------------


def _product_id(product: Mapping[str, Any]) -> str | None:
    """A product's ``product_id``, else its ``sku`` (as `LineItem.key` reads them)."""
    for key in ("product_id", "sku"):
        value = product.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # a shop that sends numeric ids means the same product
        if isinstance(value, str) and value.strip():
            return value
    return None


def _product_ids(properties: Mapping[str, Any]) -> list[str]:
    """Products of an event: ``properties.products[]``, and a single product's own id."""
    products = properties.get("products")
    found = (
        [_product_id(p) for p in products if isinstance(p, Mapping)]
        if isinstance(products, (list, tuple))
        else []
    )
    found.append(_product_id(properties))
    return [item for item in found if item is not None]


def _read_event(event: object, path: str) -> tuple[str | None, Mapping[str, Any]]:
    """An event's name and properties, from an `Event` or an event dict."""
    if isinstance(event, Event):
        name = event.name if event.type is EventType.TRACK else None
        return name, event.properties
    if isinstance(event, Mapping):
        name = event.get("event")
        properties = event.get("properties")
        return (
            name if isinstance(name, str) else None,
            properties if isinstance(properties, Mapping) else {},
        )
    raise ValidationError.one(
        path, "type", f"must be an Event or an event dict, not {_kind_name(event)}"
    )


def _person(event: Event | Mapping[str, Any], path: str) -> str:
    if isinstance(event, Event):
        # An Event always has one of the two (the model requires it).
        return f"user_id:{event.user_id}" if event.user_id else f"anonymous_id:{event.anonymous_id}"
    for key, kind in _PERSON_KEYS:
        value = event.get(key)
        if isinstance(value, str) and value:
            return f"{kind}:{value}"
    raise ValidationError.one(
        path, "required", "by='profile' needs a profile_id, userId or anonymousId on every event"
    )


def baskets_from_events(
    events: Iterable[Event | Mapping[str, Any]],
    *,
    names: Iterable[str] = ("Order Completed",),
    by: Grouping = "order",
) -> list[frozenset[str]]:
    """Return the baskets of item ids the events named ``names`` hold, for `learn_cooccurrence`.

    Events are `omnichannel.models.Event` objects or event dicts: a
    subject's (``{"event": ..., "properties": ...}``, see
    `omnichannel.segments.event_doc`) or Segment's wire form. Items are read
    from ``properties.products[]`` and, for single-product events such as
    ``Product Viewed``, from ``properties`` itself: the ``product_id``, else
    the ``sku``; products with neither are skipped.

    ``by`` says what makes one basket:

    - ``"order"``: the events of one ``properties.order_id`` (an order sent
      twice counts once); an event without an order id is a basket alone.
    - ``"profile"``: the events of one person, by the event's
      ``profile_id``, else its user id, else its anonymous id. Identities
      are not resolved here: to group by resolved profile, give each
      profile's events in a call of its own with ``by="history"``.
    - ``"history"``: all the events are one basket (one person's history,
      such as a subject's ``events``).

    Baskets come in the order their first event came; empty ones are left
    out.

    Raises:
        ValidationError: ``$.events`` is not a collection, or an event is
            neither an `Event` nor a mapping (``$.events[3]``), or lacks a
            person with ``by="profile"``; ``$.names`` is not a collection of
            names; ``$.by`` is not one of the three.

    Examples:
        >>> events = [
        ...     {
        ...         "event": "Order Completed",
        ...         "userId": "u1",
        ...         "properties": {
        ...             "order_id": "o1",
        ...             "products": [{"product_id": "coffee"}, {"sku": "FLT-2"}],
        ...         },
        ...     },
        ...     {"event": "Product Viewed", "userId": "u1", "properties": {"product_id": "mug"}},
        ...     {"event": "Product Viewed", "userId": "u1", "properties": {"product_id": "tea"}},
        ... ]
        >>> baskets_from_events(events) == [frozenset({"coffee", "FLT-2"})]
        True
        >>> sorted(baskets_from_events(events, names=["Product Viewed"], by="profile")[0])
        ['mug', 'tea']

    .. versionadded:: 0.1.0
    """
    wanted = _names(names, "$.names")
    if by not in _GROUPINGS:
        raise ValidationError.one(
            "$.by", "invalid", f"must be one of {', '.join(_GROUPINGS)}; not {by!r}"
        )
    groups: dict[object, set[str]] = {}
    for index, event in enumerate(_many(events, "$.events", "events")):
        path = child("$.events", index)
        name, properties = _read_event(event, path)
        if name not in wanted:
            continue
        if by == "order":
            order_id = properties.get("order_id")
            key: object = ("order", order_id) if isinstance(order_id, str) and order_id else index
        elif by == "profile":
            key = _person(event, path)
        else:
            key = None
        groups.setdefault(key, set()).update(_product_ids(properties))
    return [frozenset(items) for items in groups.values() if items]
