"""Identity resolution in bulk: millions of links as columns, vectorized where that is exact.

`resolve` applies links one by one, and must: a link may be refused because of
what earlier links did. But a refusal is only *possible* in a connected
component that holds more identifiers of a limited kind than the policy
allows, or both ends of a separation; and a link touching a blocked
identifier is refused whatever happened before it. Everywhere else the
sequential algorithm amounts to connected components, and a profile is named
after its oldest identifier: the least first-seen key, then the least
`MergePolicy.rank` (`resolve` keeps exactly that one through every merge).

So the bulk path dictionary-encodes the identifier strings to integers
(pyarrow: the strings are hashed in contiguous memory, not as scattered Python
objects), drops blocked links, finds connected components (scipy), sends only
the components where a refusal is possible through `resolve`'s own sequential
code, and picks every profile's oldest identifier in one vectorized pass when
profile ids are first asked for.

numpy, scipy and pyarrow are imported inside the functions, so that
``import omnichannel`` stays cheap; they come with the ``bulk`` extra.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import pendulum

from omnichannel._gc import collector_paused
from omnichannel._jsonpath import child
from omnichannel.errors import FieldError, OmnichannelError, ValidationError
from omnichannel.identity._graph import (
    Key,
    Link,
    MergePolicy,
    MergeRecord,
    Resolution,
    _order,
    _position,
    _profile_id,
    _resolve,
    resolution_of,
)
from omnichannel.models import Identity, IdentityKind

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: The most problems one `ValidationError` of `resolve_bulk` lists.
MAX_PROBLEMS = 20

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_UTC = pendulum.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)
_NEEDS = ("numpy", "pyarrow", "pyarrow.compute", "scipy.sparse", "scipy.sparse.csgraph")


@attrs.frozen
class _Lib:
    """The modules of the ``bulk`` extra."""

    np: Any
    pa: Any
    pc: Any
    sparse: Any
    csgraph: Any


def _lib() -> _Lib:
    """The ``bulk`` extra's modules, or an error that names the extra."""
    try:
        return _Lib(*(importlib.import_module(name) for name in _NEEDS))
    except ImportError as exc:
        raise OmnichannelError(
            f"resolve_bulk needs numpy, scipy and pyarrow ({exc.name} is missing): "
            "pip install 'omnichannel[bulk]'"
        ) from None


def _micros(instant: dt.datetime) -> int:
    # The plain datetime subtraction: pendulum's own would build an Interval.
    return dt.datetime.__sub__(instant, _EPOCH) // _MICROSECOND


def _instant(micros: int) -> pendulum.DateTime:
    return _EPOCH_UTC + dt.timedelta(microseconds=micros)


def _identity(text: str) -> Identity:
    """The Identity that prints as ``text``; ``text`` must be in normal form."""
    kind, _, value = text.partition(":")
    identity = Identity(kind=kind, value=value)
    if str(identity) != text:
        raise ValidationError.one(
            "$", "invalid", f"{text!r} is not in normal form: Identity prints {str(identity)!r}"
        )
    return identity


def _is_kind(text: str) -> bool:
    try:
        return IdentityKind(text) == text
    except ValidationError:
        return False


@attrs.frozen(kw_only=True, eq=False, repr=False)
class BulkResolution:
    """Who is who after `resolve_bulk`: arrays first, Python objects only when asked for.

    ``labels[i]`` is the profile number (``0`` to ``profile_count - 1``) of
    ``identifiers[i]``; `identifiers` holds every identifier string once, in
    order of first appearance. Profile ids, the same `resolve` gives, are
    computed when first asked for (`profile_id`, `profile_ids`, `profile_of`);
    `to_resolution` builds the whole `Resolution`. The first of these (or
    `log`) to need the message ids reads them, and raises `ValidationError`
    if one is not text (see `resolve_bulk`).

    `log` holds every refused link, and the ``joined`` and ``merged``
    records of the components that went through the sequential algorithm
    (``sequential_links`` links, in components where a refusal was possible),
    in canonical order: `resolve`'s log without the joins and merges of the
    components where no refusal was possible.

    Examples:
        >>> import numpy as np
        >>> r = resolve_bulk(
        ...     a=["user_id:u1", "email:ann@example.com"],
        ...     b=["anonymous_id:a1", "anonymous_id:a9"],
        ...     at=np.array([1_709_632_800_000_000, 1_709_636_400_000_000]),  # microseconds
        ...     message_id=["m1", "m2"],
        ... )
        >>> r.identifiers.tolist()
        ['user_id:u1', 'email:ann@example.com', 'anonymous_id:a1', 'anonymous_id:a9']
        >>> r.labels.tolist(), r.profile_count
        ([0, 1, 0, 1], 2)
        >>> r.profile_ids()[0] == r.profile_of("anonymous_id:a1") == r.to_resolution().profile_of[
        ...     Identity(kind="user_id", value="u1")
        ... ]
        True

    .. versionadded:: 0.1.0
    """

    labels: NDArray[np.intp]
    profile_count: int
    sequential_links: int
    _run: _Bulk
    _records: tuple[MergeRecord, ...]
    _blocked_rows: NDArray[np.intp]
    _cache: dict[str, Any] = attrs.field(init=False, factory=dict)

    def __repr__(self) -> str:
        return (
            f"<BulkResolution: {len(self.labels):,} identifiers, "
            f"{self.profile_count:,} profiles, "
            f"{self.sequential_links:,} links resolved one by one>"
        )

    @property
    def identifiers(self) -> NDArray[np.object_]:
        """Every identifier string once, in order of first appearance (built once, then kept)."""
        ids: NDArray[np.object_] | None = self._cache.get("identifiers")
        if ids is None:
            ids = self._cache["identifiers"] = self._run.texts.to_numpy(zero_copy_only=False)
        return ids

    def _oldest(self) -> tuple[Any, Any]:
        oldest = self._cache.get("oldest")
        if oldest is None:
            oldest = self._cache["oldest"] = self._run.oldest(
                self.labels, self.profile_count, self.identifiers
            )
        return oldest

    def profile_id(self, label: int) -> str:
        """Return the id of profile number ``label``: `profile_id_for` its oldest identifier."""
        if not 0 <= label < self.profile_count:
            raise IndexError(f"no profile number {label}: there are {self.profile_count}")
        oldest, message = self._oldest()
        return _profile_id(self.identifiers[oldest[label]], message[label])

    def profile_ids(self) -> NDArray[np.object_]:
        """Return every profile id, indexed by profile number (computed once, then kept)."""
        ids: NDArray[np.object_] | None = self._cache.get("profile_ids")
        if ids is None:
            oldest, message = self._oldest()
            names = map(_profile_id, self.identifiers[oldest], message)
            ids = self._cache["profile_ids"] = self._run.lib.np.fromiter(
                names, dtype=object, count=self.profile_count
            )
        return ids

    def profile_of(self, identifier: str | Identity) -> str:
        """Return the profile id of one identifier (``"email:ann@example.com"`` or an Identity).

        Raises:
            KeyError: the identifier is in no link (nor in ``first_seen``).
        """
        index = self._cache.get("index")
        if index is None:
            texts = self.identifiers.tolist()
            index = self._cache["index"] = dict(zip(texts, range(len(texts)), strict=True))
        return self.profile_id(int(self.labels[index[str(identifier)]]))

    @property
    def log(self) -> tuple[MergeRecord, ...]:
        """Every refused link and the records of the sequentially resolved components, in order."""
        log = self._cache.get("log")
        if log is None:
            run = self._run
            with collector_paused():
                blocked = [
                    MergeRecord(outcome="refused", link=run.link(row), reason="blocked")
                    for row in self._blocked_rows.tolist()
                ]
            rank = run.policy.rank
            # Both lists are in canonical order already; a stable sort keeps each one's.
            log = self._cache["log"] = tuple(
                sorted(
                    (*self._records, *blocked),
                    key=lambda r: _order(r.link.key, rank(r.link.a), rank(r.link.b)),
                )
            )
        return log

    def to_resolution(self) -> Resolution:
        """Return the `Resolution` `resolve` gives for the same links, with this `log`.

        Builds an `Identity` per identifier, so it costs about what `resolve`
        does for the same identifiers: for tests and small imports.

        Raises:
            ValidationError: an identifier is not in normal form (its
                `Identity` prints differently); the path says where it occurs.
        """
        names = self.profile_ids()
        with collector_paused():
            profile_of = {
                self._run.identity(code, text): names[label]
                for code, (text, label) in enumerate(
                    zip(self.identifiers.tolist(), self.labels.tolist(), strict=True)
                )
            }
            return resolution_of(profile_of, self.log)


def resolve_bulk(
    *,
    a: Collection[str] | NDArray[Any],
    b: Collection[str] | NDArray[Any],
    at: Collection[dt.datetime] | NDArray[Any],
    message_id: Collection[str] | NDArray[Any],
    first_seen: Mapping[str, Key] | None = None,
    policy: MergePolicy | None = None,
    separations: Iterable[tuple[Identity, Identity]] = (),
) -> BulkResolution:
    """Resolve millions of links given as columns into the profiles `resolve` gives, fast.

    Link ``i`` joins ``a[i]`` and ``b[i]``, observed at ``at[i]`` in message
    ``message_id[i]``. Identifiers are strings in the form `Identity` prints,
    ``kind:value`` (``"email:ann@example.com"``), already normalised: kinds
    are checked here, values are taken as given (checking them costs an
    object per identifier; `BulkResolution.to_resolution` does). Text columns
    may be lists, numpy arrays, pandas Series or pyarrow arrays.

    ``at`` is a sequence of aware datetimes, a numpy ``datetime64`` array
    (read as UTC) or an integer array of microseconds since the Unix epoch;
    instants count to the microsecond. ``first_seen`` maps identifier strings
    to their first key, as for `resolve`; without it, an identifier's first
    key is the least key of the links it is in. ``policy`` and
    ``separations`` are those of `resolve`.

    Components where no refusal is possible are joined in one vectorized
    pass; the others go through `resolve`'s sequential algorithm (their links
    are counted in `BulkResolution.sequential_links`). Profiles and profile
    ids are those `resolve` gives for the same links; see `BulkResolution`
    for what its log holds.

    Message ids only name profiles and order the links of the sequential
    pass, so they are read (and checked to be text) when first needed: by that
    pass, or when profile ids or the log are first asked for. Counting and
    labelling profiles never reads them.

    Raises:
        ValidationError: columns of different lengths, an identifier not in
            the ``kind:value`` form, an instant without a time zone, an
            identifier missing from ``first_seen``, a message id that is not
            text (once read) ... (at most 20 problems are listed).
        OmnichannelError: numpy, scipy or pyarrow is not installed
            (``pip install 'omnichannel[bulk]'``).

    Examples:
        >>> import numpy as np
        >>> r = resolve_bulk(
        ...     a=["user_id:u1", "user_id:u2", "email:ann@example.com"],
        ...     b=["anonymous_id:a1", "anonymous_id:a1", "anonymous_id:a1"],
        ...     at=np.array(
        ...         ["2024-03-05T10:00", "2024-03-05T11:00", "2024-03-05T12:00"],
        ...         dtype="datetime64[us]",
        ...     ),
        ...     message_id=["m1", "m2", "m3"],
        ... )
        >>> r.profile_count, r.profile_of("email:ann@example.com") == r.profile_of("user_id:u1")
        (2, True)
        >>> [(record.outcome, record.reason) for record in r.log]
        [('joined', None), ('refused', 'limit:user_id'), ('joined', None)]

    .. versionadded:: 0.1.0
    """
    lib = _lib()
    rules = policy or MergePolicy()
    apart = list(separations)
    with collector_paused():
        run = _Bulk(lib, rules, apart)
        run.read(a=a, b=b, at=at, message_id=message_id, first_seen=first_seen)
        return run.resolve()


@attrs.frozen
class _Key:
    """One key of `_least`: row ``r`` holds ``values[at[r]]`` (``values[r]`` without ``at``).

    ``proxy``, for strings, holds integers such that rows with equal proxies
    hold equal strings: comparing those is left out.
    """

    values: Any
    at: Any = None
    proxy: Any = None

    def of(self, rows: Any) -> Any:
        return self.values[rows if self.at is None else self.at[rows]]


def _least(np: Any, groups: Any, count: int, rows: Any, keys: list[_Key]) -> Any:
    """Of ``rows``, those whose ``keys`` are least in their group (``groups[row]``), ties kept.

    Keys are compared in order. A row no other row of its group contests is
    settled at once; only the contested ones are compared on the next key.
    """
    for key in keys:
        group = groups[rows]
        contested = np.bincount(group, minlength=count)[group] > 1
        if not contested.any():
            break
        settled, rows, group = rows[~contested], rows[contested], group[contested]
        text = key.values.dtype == object
        values = _ranks(np, key, rows, group, count) if text else key.of(rows)
        least = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(least, group, values)
        rows = np.concatenate([settled, rows[values == least[group]]])
    return rows


def _ranks(np: Any, key: _Key, rows: Any, group: Any, count: int) -> Any:
    """Integers ordered as the strings of ``rows`` are, within each group; 0 where all are equal.

    Most contests are between equal strings (one message on several links):
    only the groups whose strings differ are sorted.
    """
    # Any row of a group serves as its representative (whichever write lands last).
    representative = np.empty(count, dtype=np.intp)
    representative[group] = rows
    other = representative[group]
    unsure = (
        np.ones(len(rows), dtype=bool) if key.proxy is None else key.proxy[rows] != key.proxy[other]
    ).nonzero()[0]
    differ = np.zeros(count, dtype=bool)
    differ[group[unsure[key.of(rows[unsure]) != key.of(other[unsure])]]] = True
    ranked = differ[group]
    ranks = np.zeros(len(rows), dtype=np.intp)
    if ranked.any():
        ranks[ranked] = np.unique(key.of(rows[ranked]), return_inverse=True)[1]
    return ranks


def _argmin(np: Any, groups: Any, count: int, keys: list[_Key]) -> Any:
    """For each of ``count`` groups, its row whose ``keys`` are least (the first, on a tie)."""
    rows = _least(np, groups, count, np.arange(len(groups)), keys)
    best = np.full(count, len(groups), dtype=np.intp)
    np.minimum.at(best, groups[rows], rows)
    return best


class _Bulk:
    """One run of `resolve_bulk`: the columns, encoded, and what the steps share."""

    def __init__(
        self, lib: _Lib, policy: MergePolicy, separations: list[tuple[Identity, Identity]]
    ) -> None:
        self.lib, self.policy, self.separations = lib, policy, separations
        # The C allocator, as numpy uses: it keeps freed blocks for the next call. Arrow's
        # default pool handed them back to the system; faulting them in again cost up to
        # half a second per million links on some calls.
        self.pool = lib.pa.system_memory_pool()

    # Reading and checking the columns

    def read(self, **columns: Any) -> None:
        first_seen = columns.pop("first_seen")
        problems = []
        counts: dict[str, int] = {}
        for name, column in columns.items():
            count = _length(column)
            if count is None:
                problems.append(
                    FieldError(path=f"$.{name}", code="type", message="must be a sequence")
                )
            else:
                counts[name] = count
        problems += [
            FieldError(
                path=f"$.{name}",
                code="invalid",
                message=f"has {count} items where $.a has {counts['a']}",
            )
            for name, count in counts.items()
            if "a" in counts and count != counts["a"]
        ]
        if problems:
            raise ValidationError(problems)
        self.links = counts["a"]
        self.given = _read_first_seen(first_seen)
        self.named = [text for text, _, _ in self.given or ()]
        self.a = self._text(columns["a"], "a")
        self.b = self._text(columns["b"], "b")
        # Message ids only name profiles and order links inside the sequential pass:
        # they are read, and checked, when first needed (see messages).
        self.message_column = columns["message_id"]
        self._messages: Any = None
        if getattr(self.message_column, "ndim", 1) != 1:
            raise ValidationError.one("$.message_id", "type", "must be one-dimensional")
        self.at = _instants(self.lib.np, columns["at"])

    @property
    def messages(self) -> Any:
        """The message ids as a pyarrow string array, read when first needed."""
        if self._messages is None:
            self._messages = self._text(self.message_column, "message_id")
        return self._messages

    def _text(self, column: Any, name: str) -> Any:
        """``column`` as a pyarrow string array; anything but text is reported where it is."""
        pa, np = self.lib.pa, self.lib.np
        if getattr(column, "ndim", 1) != 1:
            raise ValidationError.one(f"$.{name}", "type", "must be one-dimensional")
        try:
            values = pa.array(column, type=pa.string(), memory_pool=self.pool)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            values = None
        if values is not None and not values.null_count:
            return values
        wrong = [
            i for i, v in enumerate(np.asarray(column, dtype=object)) if not isinstance(v, str)
        ]
        raise ValidationError(
            FieldError(path=child(f"$.{name}", i), code="type", message="must be a string")
            for i in wrong[:MAX_PROBLEMS]
        )

    # Resolving

    def resolve(self) -> BulkResolution:
        np, pa, pc, links = self.lib.np, self.lib.pa, self.lib.pc, self.links
        # Everything that needs an integer code is encoded at once. Identifiers that
        # only the policy or the separations name get the last codes: they are not ours.
        blocked = [str(i) for i in self.policy.blocked]
        apart = [str(i) for pair in self.separations for i in pair]
        named = len(self.named)
        encoded = pc.dictionary_encode(
            pa.concat_arrays(
                [
                    pa.array(self.named, type=pa.string()),
                    self.a,
                    self.b,
                    pa.array(blocked + apart, type=pa.string()),
                ],
                memory_pool=self.pool,
            ),
            memory_pool=self.pool,
        )
        codes = encoded.indices.to_numpy()  # int32, as scipy.sparse likes its indices
        self.a = self.b = None  # encoded: let their memory go
        known = named + 2 * links
        self.codes = codes[:known]
        count = int(self.codes.max()) + 1 if known else 0
        self.texts = encoded.dictionary.slice(0, count)
        self.ends = codes[named:known]
        self.ca, self.cb = self.ends[:links], self.ends[links:]
        self._kinds()
        self.first = None if self.given is None else self._given_first_keys()
        # A link touching a blocked identifier is refused whatever came before it.
        is_blocked = np.zeros(count + 1, dtype=bool)
        is_blocked[np.minimum(codes[known : known + len(blocked)], count)] = True
        is_blocked[count] = False
        refused = is_blocked[self.ca] | is_blocked[self.cb]
        kept = (~refused).nonzero()[0]
        graph = self.lib.sparse.csr_matrix(
            (np.ones(len(kept), dtype=bool), (self.ca[kept], self.cb[kept])), shape=(count, count)
        )
        components, labels = self.lib.csgraph.connected_components(graph, directed=False)
        components, labels = int(components), labels.astype(np.intp)
        exact = self._refusals_possible(labels, components, codes[known + len(blocked) :])
        rows = kept[exact[labels[self.ca[kept]]]]
        labels, components, records = self._sequential(labels, components, exact, rows)
        return BulkResolution(
            labels=labels,
            profile_count=components,
            sequential_links=len(rows),
            run=self,
            records=records,
            blocked_rows=refused.nonzero()[0],
        )

    def _path(self, position: int) -> str:
        """The JSON path of the string at ``position`` of the encoded ones."""
        if position < len(self.named):
            return child("$.first_seen", self.named[position])
        column, row = divmod(position - len(self.named), self.links)
        return child("$.b" if column else "$.a", row)

    def _first_paths(self, codes: Any) -> list[str]:
        """Where (some of) ``codes`` first occur, in input order: for error reports."""
        np = self.lib.np
        wanted = np.zeros(len(self.texts), dtype=bool)
        wanted[codes] = True
        hits = wanted[self.codes].nonzero()[0]
        _, first = np.unique(self.codes[hits], return_index=True)
        return [self._path(p) for p in sorted(hits[first].tolist())[:MAX_PROBLEMS]]

    def _kinds(self) -> None:
        """Each identifier's kind (the text before its first ":"), checked; ranks by kind."""
        np, pc, texts = self.lib.np, self.lib.pc, self.texts
        pool = self.pool
        colon = pc.find_substring(texts, ":", memory_pool=pool).to_numpy()
        length = pc.binary_length(texts, memory_pool=pool).to_numpy()
        heads = pc.dictionary_encode(
            pc.list_element(
                pc.split_pattern(texts, ":", max_splits=1, memory_pool=pool), 0, memory_pool=pool
            ),
            memory_pool=pool,
        )
        code = heads.indices.to_numpy()
        names = heads.dictionary.to_pylist()
        # A kind, then ":", then at least one byte of value; and a valid kind.
        shaped = (colon > 0) & (length > colon + 1)
        # Only the heads of well-shaped identifiers can be kinds (the others are reported anyway).
        valid = np.zeros(len(names), dtype=bool)
        for n in np.unique(code[shaped]).tolist():
            valid[n] = _is_kind(names[n])
        bad = ~(shaped & valid[code])
        if bad.any():
            raise ValidationError(
                FieldError(
                    path=path, code="invalid", message="must be 'kind:value' with a valid kind"
                )
                for path in self._first_paths(bad.nonzero()[0])
            )
        order = sorted(names, key=lambda k: (_position(self.policy.priority, k), k))
        self.kind_names: list[str] = names
        self.kind_code = code
        self.kind_rank = np.array([order.index(k) for k in names], dtype=np.intp)[code]

    def _given_first_keys(self) -> tuple[Any, Any]:
        """``first_seen`` as (microseconds, message id) arrays by identifier; all are needed."""
        np, given = self.lib.np, self.given or []
        count = len(self.texts)
        places = self.codes[: len(given)]
        first_at = np.zeros(count, dtype=np.int64)
        first_message = np.empty(count, dtype=object)
        first_at[places] = [micros for _, micros, _ in given]
        first_message[places] = [message for _, _, message in given]
        covered = np.zeros(count, dtype=bool)
        covered[places] = True
        missing = (~covered).nonzero()[0]
        if len(missing):
            raise ValidationError(
                FieldError(path=path, code="required", message="is not in first_seen")
                for path in self._first_paths(missing)
            )
        return first_at, first_message

    def _refusals_possible(self, labels: Any, components: int, apart: Any) -> Any:
        """Components with more identifiers of a limited kind than allowed, or a separated pair."""
        np = self.lib.np
        exact = np.zeros(components, dtype=bool)
        for n, kind in enumerate(self.kind_names):
            limit = self.policy.limit(kind)
            if limit is not None:
                exact |= np.bincount(labels[self.kind_code == n], minlength=components) > limit
        count = len(self.texts)
        for x, y in zip(apart[0::2].tolist(), apart[1::2].tolist(), strict=True):
            if x < count and y < count and labels[x] == labels[y]:
                exact[labels[x]] = True
        return exact

    def _sequential(
        self, labels: Any, components: int, exact: Any, rows: Any
    ) -> tuple[Any, int, tuple[MergeRecord, ...]]:
        """Resolve the components where refusals are possible with `resolve`'s own algorithm."""
        np = self.lib.np
        members = exact[labels].nonzero()[0]
        if not len(members):
            return labels, components, ()
        texts = self.texts.take(members).to_pylist()
        identities = {
            code: self.identity(code, text)
            for code, text in zip(members.tolist(), texts, strict=True)
        }
        first_at, first_message = self._first_keys(members)
        first_seen = {
            identities[code]: (_instant(micros), message)
            for code, micros, message in zip(
                members.tolist(), first_at.tolist(), first_message.tolist(), strict=True
            )
        }
        links = [
            Link(a=identities[x], b=identities[y], at=_instant(micros), message_id=message)
            for x, y, micros, message in zip(
                self.ca[rows].tolist(),
                self.cb[rows].tolist(),
                self.at[rows].tolist(),
                self.messages.take(rows).to_pylist(),
                strict=True,
            )
        ]
        result = _resolve(first_seen, links, self.policy, self.separations)
        # A component's first profile keeps the component's number; the others get new ones.
        numbers: dict[str, int] = {}
        taken: set[int] = set()
        relabeled = []
        for code in members.tolist():
            pid = result.profile_of[identities[code]]
            if pid not in numbers:
                component = int(labels[code])
                if component in taken:
                    numbers[pid], components = components, components + 1
                else:
                    numbers[pid] = component
                    taken.add(component)
            relabeled.append(numbers[pid])
        labels = labels.copy()
        labels[members] = np.array(relabeled, dtype=np.intp)
        return labels, components, result.log

    def _first_keys(self, members: Any) -> tuple[Any, Any]:
        """The first keys of the identifiers ``members``, as (microseconds, message id) arrays."""
        np = self.lib.np
        if self.first is not None:
            first_at, first_message = self.first
            return first_at[members], first_message[members]
        # An identifier's first key is the least key of the links it is in.
        wanted = np.zeros(len(self.texts), dtype=bool)
        wanted[members] = True
        ends = wanted[self.ends].nonzero()[0]
        link_rows = ends % self.links
        groups = self.ends[ends]
        messages = self.messages.take(link_rows).to_numpy(zero_copy_only=False)
        best = _argmin(
            np,
            groups,
            len(self.texts),
            [_Key(self.at[link_rows]), _Key(messages, proxy=link_rows)],
        )[members]
        return self.at[link_rows[best]], messages[best]

    # What BulkResolution asks for later

    def oldest(self, labels: Any, count: int, identifiers: Any) -> tuple[Any, Any]:
        """Each profile's oldest identifier (least first key, then rank) and its first message."""
        np = self.lib.np
        if self.first is not None:
            first_at, first_message = self.first
            oldest = _argmin(
                np,
                labels,
                count,
                [_Key(first_at), _Key(first_message), _Key(self.kind_rank), _Key(identifiers)],
            )
            return oldest, first_message[oldest]
        # Without first_seen, a profile's oldest identifier is an end of one of its
        # least links: compare link ends, with no first key per identifier to compute.
        ends, links = self.ends, self.links
        link_rows = np.concatenate([np.arange(links)] * 2)
        messages = self.messages.to_numpy(zero_copy_only=False)
        best = _argmin(
            np,
            labels[ends],
            count,
            [
                _Key(self.at, link_rows),
                _Key(messages, link_rows, link_rows),
                _Key(self.kind_rank, ends),
                _Key(identifiers, ends, ends),
            ],
        )
        return ends[best], messages[link_rows[best]]

    def identity(self, code: int, text: str) -> Identity:
        """The Identity of identifier ``code``; a value out of normal form is reported."""
        try:
            return _identity(text)
        except ValidationError as exc:
            (path,) = self._first_paths([code])
            raise ValidationError(e.under(path) for e in exc.errors) from None

    def link(self, row: int) -> Link:
        """Link ``row`` as a Link object."""
        a, b = int(self.ca[row]), int(self.cb[row])
        return Link(
            a=self.identity(a, self.texts[a].as_py()),
            b=self.identity(b, self.texts[b].as_py()),
            at=_instant(int(self.at[row])),
            message_id=self.messages[row].as_py(),
        )


def _length(column: Any) -> int | None:
    try:
        return len(column)
    except TypeError:
        return None


def _instants(np: Any, at: Any) -> Any:
    """Link instants as int64 microseconds since the epoch."""
    if isinstance(at, np.ndarray) and at.dtype.kind == "M":
        missing = np.isnat(at).nonzero()[0]
        if len(missing):
            raise ValidationError(
                FieldError(path=child("$.at", int(i)), code="required", message="is NaT")
                for i in missing[:MAX_PROBLEMS]
            )
        return at.astype("datetime64[us]", copy=False).view(np.int64)
    if isinstance(at, np.ndarray) and at.dtype.kind in "iu":
        return at.astype(np.int64, copy=False)
    if isinstance(at, np.ndarray) and at.dtype.kind != "O":
        raise ValidationError.one(
            "$.at", "type", f"must hold datetimes, datetime64 or integers, not {at.dtype}"
        )
    micros: list[int] = []
    problems: list[FieldError] = []
    for i, instant in enumerate(at):
        if isinstance(instant, dt.datetime) and instant.utcoffset() is not None:
            micros.append(_micros(instant))
            continue
        code, message = (
            ("naive_datetime", "has no time zone")
            if isinstance(instant, dt.datetime)
            else ("type", "must be a datetime")
        )
        problems.append(FieldError(path=child("$.at", i), code=code, message=message))
        if len(problems) == MAX_PROBLEMS:
            break
    if problems:
        raise ValidationError(problems)
    return np.array(micros, dtype=np.int64)


def _read_first_seen(first_seen: Mapping[Any, Any] | None) -> list[tuple[str, int, str]] | None:
    """``first_seen`` as (identifier, microseconds, message id) triples, checked."""
    if first_seen is None:
        return None
    given = []
    problems = []
    for text, key in first_seen.items():
        if not isinstance(text, str):
            problems.append(
                FieldError(
                    path=child("$.first_seen", repr(text)), code="type", message="must be a string"
                )
            )
        elif (
            isinstance(key, tuple)
            and len(key) == 2
            and isinstance(key[0], dt.datetime)
            and key[0].utcoffset() is not None
            and isinstance(key[1], str)
        ):
            given.append((text, _micros(key[0]), key[1]))
        else:
            problems.append(
                FieldError(
                    path=child("$.first_seen", text),
                    code="type",
                    message="must be a pair (aware datetime, message id)",
                )
            )
        if len(problems) == MAX_PROBLEMS:
            break
    if problems:
        raise ValidationError(problems)
    return given
