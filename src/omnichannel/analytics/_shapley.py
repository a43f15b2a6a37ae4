"""Shapley values of channels: exact over every coalition, or by sampling permutations.

A coalition's worth depends only on the set of channels each path touched
(order and repeats do not matter). Two worths:

- ``"conversions"``: v(S) = the conversions (value) of the paths whose
  channels all lie in S (Zhao, Mahboobi and Bagheri, 2018). It needs no
  non-converting paths; its Shapley value gives each path's conversions in
  equal parts to the distinct channels on it.
- ``"rate"``: v(S) = the conversion rate (value per journey) of the
  journeys whose channels all lie in S, which needs the non-converting
  counts; the channels' values are scaled to add up to the conversions.

Exact: the worth of all ``2**n`` coalitions by a sum over subsets (``n``
passes over a table), then for each channel the weighted sum of its
marginal contributions. Sampled: for each random order of the channels,
each distinct channel set joins the growing coalition when its last
channel does; a matrix product with ``2**position`` finds that position
for every set at once.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from omnichannel.analytics._frames import module
from omnichannel.analytics._paths import Paths

__all__ = ["Shapley", "shapley_values"]

_BATCH = 64  # the fewest permutations per matrix product


@attrs.frozen(kw_only=True)
class Shapley:
    """Shapley values per channel (already scaled to the totals) and how they were found."""

    conversions: Any
    value: Any  # None when no value was given
    exact: bool
    samples: int  # permutations drawn (0 when exact)


def shapley_values(paths: Paths, *, worth: str, max_exact: int, samples: int, seed: int) -> Shapley:
    """Shapley values of the channels of ``paths`` for ``worth``, scaled to the totals."""
    np = module("numpy")
    n = len(paths.channels)
    if n == 0:
        empty = np.zeros(0)
        return Shapley(
            conversions=empty,
            value=empty if paths.value is not None else None,
            exact=True,
            samples=0,
        )
    members, groups = _channel_sets(paths)
    weights = [
        np.bincount(groups, weights=paths.conversions, minlength=len(members)),
    ]
    if paths.value is not None:
        weights.append(np.bincount(groups, weights=paths.value, minlength=len(members)))
    journeys = np.bincount(groups, weights=paths.conversions + paths.nulls, minlength=len(members))
    exact = n <= max_exact
    values = []
    for weight in weights:
        if exact:
            values.append(_exact(members, weight, journeys if worth == "rate" else None))
        else:
            rng = np.random.default_rng(seed)
            rate = journeys if worth == "rate" else None
            values.append(_sampled(members, weight, rate, samples, rng))
    scaled = []
    for weight, value in zip(weights, values, strict=True):
        total = float(value.sum())
        # Efficiency: the values add up to v(all channels); scale that to the total.
        target = float(weight.sum())
        scaled.append(value * (target / total) if total > 0 else np.zeros(n))
    return Shapley(
        conversions=scaled[0],
        value=scaled[1] if paths.value is not None else None,
        exact=exact,
        samples=0 if exact else samples,
    )


def _channel_sets(paths: Paths) -> tuple[Any, Any]:
    """The distinct channel sets (boolean matrix: set x channel) and each path's set."""
    np = module("numpy")
    n = len(paths.channels)
    touched = np.zeros((paths.count, n), dtype=bool)
    touched[paths.owner, paths.codes] = True
    packed = np.packbits(touched, axis=1)
    sets, first, groups = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    del sets
    return touched[first], groups.ravel()


def _exact(members: Any, weight: Any, journeys: Any) -> Any:
    """Exact Shapley values over all ``2**n`` coalitions."""
    np = module("numpy")
    n = members.shape[1]
    size = 1 << n
    bits = (members * (1 << np.arange(n, dtype=np.int64))).sum(axis=1)
    worth = _below(np.bincount(bits, weights=weight, minlength=size), n)
    if journeys is not None:
        walks = _below(np.bincount(bits, weights=journeys, minlength=size), n)
        worth = np.divide(worth, walks, out=np.zeros(size), where=walks > 0)
    popcount = np.zeros(size, dtype=np.int64)
    for bit in range(n):
        popcount[1 << bit : 1 << (bit + 1)] = popcount[: 1 << bit] + 1
    # s! (n - s - 1)! / n!, for coalitions of s channels without the one joining.
    factor = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)])
    coalitions = np.arange(size)
    values = np.zeros(n)
    for channel in range(n):
        without = coalitions[(coalitions >> channel) & 1 == 0]
        gain = worth[without | (1 << channel)] - worth[without]
        values[channel] = float(factor[popcount[without]] @ gain)
    return values


def _below(table: Any, n: int) -> Any:
    """Sum over subsets: ``out[S]`` = sum of ``table[T]`` for every ``T`` within ``S``."""
    out = table.astype(float)
    for bit in range(n):
        view = out.reshape(-1, 2, 1 << bit)
        view[:, 1, :] += view[:, 0, :]
    return out


def _sampled(members: Any, weight: Any, journeys: Any, samples: int, rng: Any) -> Any:
    """Shapley values estimated from ``samples`` random orders of the channels."""
    np = module("numpy")
    count, n = members.shape
    values = np.zeros(n)
    as_float = members.astype(float)
    done = 0
    # As many orders per matrix product as keep it near a million numbers.
    size = int(min(max(_BATCH, 2**20 // max(count, 1)), 8_192))
    while done < samples:
        batch = min(size, samples - done)
        orders = rng.permuted(np.tile(np.arange(n), (batch, 1)), axis=1)
        position = np.empty_like(orders)
        np.put_along_axis(position, orders, np.arange(n)[None, :], axis=1)
        if n <= 52:  # sums of distinct powers of two stay exact in float64
            _, exponent = np.frexp(as_float @ np.exp2(position.T))
            joins = (exponent - 1).T  # batch x set: the position where the set is complete
        else:  # pragma: no cover - more than 52 channels
            joins = np.stack([(members * (row + 1)).max(axis=1) - 1 for row in position])
        slots = (np.arange(batch)[:, None] * n + joins).ravel()
        gained = np.bincount(slots, weights=np.tile(weight, batch), minlength=batch * n)
        gained = gained.reshape(batch, n).cumsum(axis=1)
        if journeys is not None:
            walks = np.bincount(slots, weights=np.tile(journeys, batch), minlength=batch * n)
            walks = walks.reshape(batch, n).cumsum(axis=1)
            gained = np.divide(gained, walks, out=np.zeros_like(gained), where=walks > 0)
        marginal = np.diff(gained, axis=1, prepend=0.0)
        values += np.bincount(orders.ravel(), weights=marginal.ravel(), minlength=n)
        done += batch
    return values / samples
