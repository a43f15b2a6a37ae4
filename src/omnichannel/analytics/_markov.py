"""Exact Markov-chain removal effects: one linear solve per channel, no simulation.

The chain is the one ChannelAttribution builds (Altomare and Loris, 2015-):
a path ``c1 > ... > cn`` that converted ``k`` times and did not ``m`` times
walks ``(start) -> s1 -> ... -> sj`` with weight ``k + m``, then ``sj ->
(conversion)`` with weight ``k`` and ``sj -> (null)`` with weight ``m``.
For order 1 the states are the channels; for order ``o`` they are the
windows of ``o`` consecutive channels (``c1..co``, ``c2..co+1``, ...), a
path shorter than ``o`` being one state. A state followed by itself
(``a > a``) is one visit: self-loops change no absorption probability, and
ChannelAttribution drops them too.

With ``Q`` the transition probabilities between transient states and ``r``
the probabilities of converting next, the probabilities of ending in
conversion solve ``(I - Q) x = r``; ``x[start]`` is P(conversion).
Removing a channel sends every state that contains it to ``(null)``: its
rows of ``Q`` and ``r`` become zero. The removal effect is ``1 -
P(conversion without c) / P(conversion)``, which is also P(the channel was
on the way | conversion): what ChannelAttribution estimates by simulating
walks.

Value follows ChannelAttribution's ``total_conversion_value``: its
simulation draws, at each conversion, a value from those of the paths that
ended in the same state. In expectation that is ``r_value[s] = (value of
the paths ending in s) / (weight leaving s)`` in place of ``r``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from omnichannel.analytics._frames import module
from omnichannel.analytics._paths import Paths

__all__ = ["Chain", "removal_effects"]

_DENSE_COUNTS = 4_000_000  # count transitions with one bincount while states**2 stays this small
DENSE_STATES = 256  # solve with LAPACK up to this many transient states
SERIES_TOLERANCE = 1e-15  # beyond: sum the series until this much probability is still walking
SERIES_STEPS = 1_000  # ... or fall back to a sparse LU after this many steps


@attrs.frozen(kw_only=True)
class Chain:
    """The fitted chain and what removing each channel does to it."""

    states: tuple[str, ...]  # state labels, "(start)" last
    counts: Any  # weight from transient state i to j: an array, or sparse beyond DENSE_STATES
    to_conversion: Any  # weight from each transient state to (conversion)
    to_null: Any  # weight from each transient state to (null)
    probability: float  # P(conversion) from (start)
    value_per_walk: float | None  # expected value of a walk from (start)
    without: Any  # P(conversion) with each channel removed
    value_without: Any  # expected value with each channel removed, or None
    removal: Any  # removal effects per channel (conversions)
    value_removal: Any  # removal effects per channel (value), or None

    def transitions(self) -> Any:
        """Transition probabilities as a pandas DataFrame (from, to, probability)."""
        np = module("numpy")
        pd = module("pandas")
        coo = module("scipy.sparse").coo_matrix(self.counts)
        leaving = np.asarray(self.counts.sum(axis=1)).ravel() + self.to_conversion + self.to_null
        labels = np.array([*self.states, "(conversion)", "(null)"], dtype=object)
        size = len(self.states)
        sources = [coo.row, np.arange(size), np.arange(size)]
        targets = [coo.col, np.full(size, size), np.full(size, size + 1)]
        weights = [coo.data, self.to_conversion, self.to_null]
        source = np.concatenate(sources)
        target = np.concatenate(targets)
        weight = np.concatenate(weights)
        keep = weight > 0
        source, target, weight = source[keep], target[keep], weight[keep]
        frame = pd.DataFrame(
            {
                "from": labels[source],
                "to": labels[target],
                "probability": weight / leaving[source],
                "count": weight,
            }
        )
        # (start) first, then the states in order, each with its targets in order.
        rank = np.where(source == size - 1, -1, source) * (size + 2) + target
        return frame.take(np.argsort(rank, kind="stable")).reset_index(drop=True)


def removal_effects(paths: Paths, order: int, *, method: str = "auto") -> Chain:
    """Fit the order-``order`` chain of ``paths`` and solve it with each channel removed.

    ``method``: ``"auto"`` (see `_solver`), or ``"dense"``, ``"series"`` or
    ``"lu"`` to use that one (the tests hold them to the same answers).
    """
    np = module("numpy")
    sparse = module("scipy.sparse")
    sequence, offsets, labels, contains = _states(paths, order)
    start = len(labels)  # transient states: the channel states, then (start)
    size = start + 1
    walks = paths.conversions + paths.nulls
    firsts = sequence[offsets[:-1]]
    ends = sequence[offsets[1:] - 1]
    # Every pair of neighbours, weighted by its path's walks; a pair that straddles two
    # paths weighs nothing.
    weight = np.repeat(walks, np.diff(offsets))[:-1]
    weight[offsets[1:-1] - 1] = 0.0
    source = np.concatenate([sequence[:-1], np.full(paths.count, start)])
    target = np.concatenate([sequence[1:], firsts])
    weight = np.concatenate([weight, walks])
    # A state followed by itself is one visit: self-loops change no absorption probability.
    if size * size <= _DENSE_COUNTS:
        flat = np.bincount(source * size + target, weights=weight, minlength=size * size)
        counts = flat.reshape(size, size)
        np.fill_diagonal(counts, 0.0)
        if size > DENSE_STATES:
            counts = sparse.csr_matrix(counts)
    else:
        moving = source != target
        counts = sparse.coo_matrix(
            (weight[moving], (source[moving], target[moving])), shape=(size, size)
        ).tocsr()
    to_conversion = np.bincount(ends, weights=paths.conversions, minlength=size)
    to_null = np.bincount(ends, weights=paths.nulls, minlength=size)
    leaving = np.asarray(counts.sum(axis=1)).ravel() + to_conversion + to_null
    scale = np.divide(1.0, leaving, out=np.zeros(size), where=leaving > 0)
    if isinstance(counts, np.ndarray):
        moves = counts * scale[:, None]
    else:
        counts.eliminate_zeros()
        moves = sparse.diags(scale) @ counts
    rewards = [to_conversion * scale]
    if paths.value is not None:
        rewards.append(np.bincount(ends, weights=paths.value, minlength=size) * scale)
    reward = np.column_stack(rewards)
    # Row 0: the chain as it is; row 1 + c: channel c removed (its states lead nowhere).
    kept = np.ones((len(paths.channels) + 1, size))
    kept[1:, :start] = ~contains.T
    solved = _solver(moves, reward, start, method)(kept)
    base, without = solved[0], solved[1:]
    effects = np.zeros_like(without)
    for column in range(reward.shape[1]):
        if base[column] > 0:
            # P(without c) <= P(with c); clip the rounding error of the solves.
            effects[:, column] = np.clip(1.0 - without[:, column] / base[column], 0.0, 1.0)
    valued = paths.value is not None
    return Chain(
        states=(*labels, "(start)"),
        counts=counts,
        to_conversion=to_conversion,
        to_null=to_null,
        probability=float(base[0]),
        value_per_walk=float(base[1]) if valued else None,
        without=without[:, 0],
        value_without=without[:, 1] if valued else None,
        removal=effects[:, 0],
        value_removal=effects[:, 1] if valued else None,
    )


def _solver(moves: Any, reward: Any, start: int, method: str) -> Callable[[Any], Any]:
    """``solve(kept)``: for each row ``k`` of ``kept``, ``x[start]`` of ``(I - K Q) x = K r``.

    ``K = diag(k)``: 0 for a removed state, 1 for the others. The answer
    has a row per row of ``kept`` and a column per column of ``reward``.

    Up to `DENSE_STATES` states, LAPACK. Beyond, the same system by its
    Neumann series ``x[start] = sum_m e_start (K Q)^m K r``: the walk's
    distribution over the states, step by step, until the probability of
    still walking is below `SERIES_TOLERANCE`, which bounds the error (each
    state converts with probability at most 1). The chains of order 3 and 4
    have thousands of states whose LU factors fill in (7,000 states: 3.6
    million nonzeros, half a second a channel), while walks end within tens
    of steps. A chain that walks for more than `SERIES_STEPS` steps falls
    back to the sparse LU.
    """
    np = module("numpy")
    sparse = module("scipy.sparse")
    size = moves.shape[0]
    if method == "dense" or (method == "auto" and size <= DENSE_STATES):
        dense = moves if isinstance(moves, np.ndarray) else moves.toarray()
        identity = np.eye(size)
        stack = max(1, _DENSE_COUNTS // (size * size))  # systems per LAPACK call

        def direct(kept: Any) -> Any:
            answers = []
            for first in range(0, len(kept), stack):
                rows = kept[first : first + stack, :, None]
                systems = identity - rows * dense
                answers.append(np.linalg.solve(systems, rows * reward)[:, start, :])
            return np.concatenate(answers)

        return direct
    moves = sparse.csr_matrix(moves)
    if method == "lu":
        return lambda kept: np.stack([_lu(moves, reward, row, start) for row in kept])
    backward = moves.T.tocsr()

    def series(kept: Any) -> Any:
        return np.stack([one(row) for row in kept])

    def one(kept: Any) -> Any:
        walking = np.zeros(size)
        walking[start] = 1.0
        total = np.zeros(reward.shape[1])
        for _ in range(SERIES_STEPS):
            walking = walking * kept
            total += walking @ reward
            walking = backward @ walking
            if walking.sum() <= SERIES_TOLERANCE:
                return total
        # Walks that go on for longer (a cycle rarely left): solve the system directly.
        return _lu(moves, reward, kept, start)

    return series


def _lu(moves: Any, reward: Any, kept: Any, start: int) -> Any:
    sparse = module("scipy.sparse")
    linalg = module("scipy.sparse.linalg")
    system = (sparse.identity(moves.shape[0], format="csr") - sparse.diags(kept) @ moves).tocsc()
    return linalg.splu(system).solve(reward * kept[:, None])[start]


def _states(paths: Paths, order: int) -> tuple[Any, Any, tuple[str, ...], Any]:
    """Each path as a sequence of states (windows of ``order`` channels), with their labels.

    Returns the state indices of all paths end to end, each path's offsets
    into them, the state labels (``"a > b"``), and a boolean matrix: state
    x channel it contains.
    """
    np = module("numpy")
    channels = len(paths.channels)
    if order == 1:
        return paths.codes, paths.offsets, paths.channels, np.eye(channels, dtype=bool)
    windows = np.maximum(paths.lengths - order + 1, 1)
    offsets = np.zeros(paths.count + 1, dtype=np.int64)
    np.cumsum(windows, out=offsets[1:])
    owner = np.repeat(np.arange(paths.count), windows)
    starts = np.repeat(paths.offsets[:-1] - offsets[:-1], windows) + np.arange(len(owner))
    stops = paths.offsets[1:][owner]
    base = channels + 1  # digit 0: no channel (a path shorter than the order)
    digits = np.zeros((len(owner), order), dtype=np.int64)
    for step in range(order):
        at = starts + step
        inside = at < stops
        digits[inside, step] = paths.codes[at[inside]] + 1
    if float(base) ** order < 2.0**62:
        key = np.zeros(len(owner), dtype=np.int64)
        for step in range(order):
            key = key * base + digits[:, step]
        _, first, state = np.unique(key, return_index=True, return_inverse=True)
    else:  # pragma: no cover - more than 46,000 channels at order 4
        _, first, state = np.unique(digits, axis=0, return_index=True, return_inverse=True)
    kinds = digits[first]
    names = np.array(["", *paths.channels], dtype=object)
    labels = tuple(" > ".join(names[d] for d in row if d) for row in kinds)
    contains = np.zeros((len(kinds), channels + 1), dtype=bool)
    contains[np.repeat(np.arange(len(kinds)), order), kinds.ravel()] = True
    return state.ravel(), offsets, labels, contains[:, 1:]
