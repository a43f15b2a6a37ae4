"""Attribution: which channels earned the conversions, by rule, by Markov chain or by Shapley value.

Every model but `time_decay` reads a **paths table**: one row per path, a
string of channels such as ``"email > search > direct"``, with how many
journeys took it and converted (``conversions``), optionally their revenue
(``value``) and how many took it without converting (``nulls``). That is
the layout of the ``ChannelAttribution`` package (``var_path``,
``var_conv``, ``var_value``, ``var_null``). Rows with the same path are
added up, so a row per journey works as well. `paths_from_touchpoints`
builds the table from a log of touches and conversions.

- Rules: `first_touch`, `last_touch`, `last_non_direct`, `linear`,
  `position_based` and, from touchpoints, `time_decay`.
- Data-driven: `markov`, the exact removal effects of a Markov chain of
  order 1 to 4 (one linear solve per channel, no simulation), and
  `shapley`, Shapley values, exact up to 12 channels and sampled beyond.
- `compare`: every model side by side.

Each model returns a `omnichannel.analytics.Result` whose frame has a row
per channel (sorted by name) with its ``conversions`` and, when a value
column was given, its ``value``; the attributed conversions add up to the
table's.

Examples:
    >>> import pandas as pd
    >>> from omnichannel.analytics import attribution
    >>> paths = pd.DataFrame(
    ...     {"path": ["email > search", "search", "email"], "conversions": [3, 1, 0]}
    ... )
    >>> attribution.compare(paths, models=["first_touch", "last_touch", "linear"])
    ... # doctest: +NORMALIZE_WHITESPACE
             first_touch  last_touch  linear
    channel
    email            3.0         0.0     1.5
    search           1.0         4.0     2.5

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from omnichannel.analytics._frames import module
from omnichannel.analytics._markov import Chain, removal_effects
from omnichannel.analytics._paths import (
    Paths,
    TouchpointColumns,
    column_name,
    decayed_credit,
    finite,
    flag,
    load_paths,
    positive_duration,
    separator,
)
from omnichannel.analytics._paths import (
    paths_from_touchpoints as _build_paths,
)
from omnichannel.analytics._result import Result
from omnichannel.analytics._shapley import shapley_values
from omnichannel.errors import FieldError, ValidationError

__all__ = [
    "MODELS",
    "MarkovResult",
    "compare",
    "first_touch",
    "last_non_direct",
    "last_touch",
    "linear",
    "markov",
    "paths_from_touchpoints",
    "position_based",
    "shapley",
    "time_decay",
]

MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "markov",
    "markov_2",
    "markov_3",
    "markov_4",
    "shapley",
)
"""The model names `compare` knows (``markov_2`` ... ``markov_4``: Markov of that order)."""

_THIRTY_DAYS = dt.timedelta(days=30)
_WEEK = dt.timedelta(days=7)


@attrs.frozen(kw_only=True)
class MarkovResult(Result):
    """A `Result` of `markov`, with the fitted chain's transitions.

    ``frame`` has, per channel, the attributed ``conversions`` (and
    ``value``) and the ``removal_effect`` (and ``removal_effect_value``):
    the share of conversions lost if the channel were removed, which is
    also the probability that a converting walk passed through it.
    ``transitions`` has one row per observed transition: ``from``, ``to``
    (states, ``"(start)"``, ``"(conversion)"``, ``"(null)"``),
    ``probability`` and the ``count`` (weight) behind it. ``chain`` holds
    the fitted chain (transition counts, the probabilities of converting
    with each channel removed); its layout may change between versions.

    .. versionadded:: 0.1.0
    """

    chain: Chain = attrs.field(repr=False)

    @property
    def transitions(self) -> Any:
        """The observed transitions, a pandas DataFrame (built when asked for)."""
        return self.chain.transitions()


def paths_from_touchpoints(
    touchpoints: object,
    *,
    customer: object = "profile_id",
    channel: object = "channel",
    timestamp: object = "timestamp",
    conversion: object = "conversion",
    value: object = None,
    lookback: object = _THIRTY_DAYS,
    conversion_touches: object = False,
    sep: object = " > ",
) -> Any:
    """Build the paths table of a log of touches and conversions, in SQL on DuckDB.

    ``touchpoints`` has a row per touch (an ad click, an e-mail opened, a
    store visit) and per conversion: ``customer``, ``channel``,
    ``timestamp`` and ``conversion`` (true or 1 on conversions). Each
    conversion's path is the customer's touches since their previous
    conversion and at most ``lookback`` before it (a touch at the same
    time counts). A customer's touches after their last conversion, at
    most ``lookback`` before the last of them, make one non-converting
    path. A conversion row is not a touch unless ``conversion_touches``
    (for session tables where the converting visit carries the flag).

    Online and offline meet when the rows are keyed by the resolved
    profile: a purchase in the ``store`` channel credits the e-mail and web
    touches before it, and a store visit the web purchase after it.

    Args:
        touchpoints: a pandas or polars DataFrame, an Arrow table, a DuckDB
            relation, or a Parquet or CSV path.
        customer: the column identifying the person (the profile id).
        channel: the touch's channel (conversion rows need none).
        timestamp: a timestamp or date column.
        conversion: a boolean (or 0/1) column, true on conversion rows.
        value: the conversion's revenue, or None.
        lookback: how far back a touch can count, a positive
            `datetime.timedelta`, or None for no limit.
        conversion_touches: whether a conversion row is also a touch.
        sep: what joins the channels in ``path``.

    Returns:
        A pandas DataFrame with ``path``, ``conversions``, ``value`` (only
        when ``value`` is given) and ``nulls``, one row per distinct path,
        most conversions first. Conversions with no touch in the lookback
        window have no path: ``frame.attrs["conversions_without_touches"]``
        (and ``"value_without_touches"``) count them.

    Raises:
        ValidationError: a missing or mistyped column (at
            ``$.touchpoints.<column>``), a null customer or timestamp, a
            touch without a channel, a channel name containing ``sep``, a
            missing or negative conversion value, or a bad argument.

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> log = pd.DataFrame(
        ...     {
        ...         "profile_id": ["p1", "p1", "p1", "p2"],
        ...         "channel": ["email", "web", "store", "web"],
        ...         "timestamp": pd.to_datetime(
        ...             ["2024-05-01", "2024-05-03", "2024-05-04", "2024-05-02"]
        ...         ),
        ...         "conversion": [False, False, True, False],
        ...     }
        ... )
        >>> attribution.paths_from_touchpoints(log)  # doctest: +NORMALIZE_WHITESPACE
                  path  conversions  nulls
        0  email > web            1      0
        1          web            0      1

    .. versionadded:: 0.1.0
    """
    columns = _touch_columns(
        customer=customer,
        channel=channel,
        timestamp=timestamp,
        conversion=conversion,
        value=value,
        lookback=lookback,
        conversion_touches=conversion_touches,
    )
    return _build_paths(touchpoints, columns, sep=separator(sep), connection=None)


def first_touch(
    paths: object,
    *,
    path: object = "path",
    conversions: object = "conversions",
    value: object = None,
    sep: object = ">",
) -> Result:
    """Give each conversion to the first channel on its path.

    Args:
        paths: the paths table (see the module): a pandas or polars
            DataFrame, an Arrow table, a DuckDB relation, or a Parquet or CSV
            path.
        path: the column of paths, channels separated by ``sep`` (spaces
            around the names are ignored).
        conversions: the column of conversions per path.
        value: the column of revenue per path, or None.
        sep: the separator between channels.

    Raises:
        ValidationError: a missing or mistyped column (at
            ``$.paths.<column>``), a null, negative or non-finite number, a
            path with an empty channel name, or value on a path without
            conversions.

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> paths = pd.DataFrame({"path": ["email > search", "search"], "conversions": [3, 1]})
        >>> attribution.first_touch(paths).frame
          channel  conversions
        0   email          3.0
        1  search          1.0

    .. versionadded:: 0.1.0
    """
    loaded = _load(paths, path=path, conversions=conversions, value=value, nulls=None, sep=sep)
    return _rule(loaded, "First-touch attribution", _first_touch)


def last_touch(
    paths: object,
    *,
    path: object = "path",
    conversions: object = "conversions",
    value: object = None,
    sep: object = ">",
) -> Result:
    """Give each conversion to the last channel on its path.

    Arguments as for `first_touch`.

    Raises:
        ValidationError: as `first_touch`.

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> paths = pd.DataFrame({"path": ["email > search", "search"], "conversions": [3, 1]})
        >>> attribution.last_touch(paths).frame
          channel  conversions
        0   email          0.0
        1  search          4.0

    .. versionadded:: 0.1.0
    """
    loaded = _load(paths, path=path, conversions=conversions, value=value, nulls=None, sep=sep)
    return _rule(loaded, "Last-touch attribution", _last_touch)


def last_non_direct(
    paths: object,
    *,
    direct: object = "direct",
    path: object = "path",
    conversions: object = "conversions",
    value: object = None,
    sep: object = ">",
) -> Result:
    """Give each conversion to the last channel on its path that is not ``direct``.

    A path of direct visits only goes to ``direct`` (the Google Analytics
    convention).

    Args:
        paths: the paths table, as for `first_touch`.
        direct: the name of the direct channel.
        path: as for `first_touch`.
        conversions: as for `first_touch`.
        value: as for `first_touch`.
        sep: as for `first_touch`.

    Raises:
        ValidationError: as `first_touch`, or ``direct`` is not a string.

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> paths = pd.DataFrame(
        ...     {"path": ["email > direct", "direct > direct"], "conversions": [3, 1]}
        ... )
        >>> attribution.last_non_direct(paths).frame
          channel  conversions
        0  direct          1.0
        1   email          3.0

    .. versionadded:: 0.1.0
    """
    if not isinstance(direct, str):
        raise ValidationError.one("$.direct", "type", f"must be a channel name, not {direct!r}")
    loaded = _load(paths, path=path, conversions=conversions, value=value, nulls=None, sep=sep)
    return _rule(
        loaded,
        f"Last non-direct attribution (direct: {direct!r})",
        lambda p: _last_non_direct(p, direct.strip()),
    )


def linear(
    paths: object,
    *,
    path: object = "path",
    conversions: object = "conversions",
    value: object = None,
    sep: object = ">",
) -> Result:
    """Split each conversion equally over the touches of its path.

    A channel touched twice on a path of three gets two thirds (as in
    ChannelAttribution's ``heuristic_models``).

    Arguments as for `first_touch`.

    Raises:
        ValidationError: as `first_touch`.

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> paths = pd.DataFrame({"path": ["email > search > email"], "conversions": [3]})
        >>> attribution.linear(paths).frame
          channel  conversions
        0   email          2.0
        1  search          1.0

    .. versionadded:: 0.1.0
    """
    loaded = _load(paths, path=path, conversions=conversions, value=value, nulls=None, sep=sep)
    return _rule(loaded, "Linear attribution", _linear)


def position_based(
    paths: object,
    *,
    first: object = 0.4,
    last: object = 0.4,
    path: object = "path",
    conversions: object = "conversions",
    value: object = None,
    sep: object = ">",
) -> Result:
    """Give ``first`` of each conversion to the first touch, ``last`` to the last, the rest between.

    The "U-shaped" or 40/20/40 model. The middle touches share ``1 - first
    - last`` equally; a path of two touches splits the conversion in the
    ratio ``first : last``, and a path of one gives it all to that touch.

    Args:
        paths: the paths table, as for `first_touch`.
        first: the first touch's share, from 0 to 1.
        last: the last touch's share, from 0 to 1 - ``first``.
        path: as for `first_touch`.
        conversions: as for `first_touch`.
        value: as for `first_touch`.
        sep: as for `first_touch`.

    Raises:
        ValidationError: as `first_touch`, or shares outside [0, 1] or
            adding up to more than 1 (at ``$.first`` or ``$.last``).

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> paths = pd.DataFrame({"path": ["email > social > search"], "conversions": [10]})
        >>> attribution.position_based(paths).frame
          channel  conversions
        0   email          4.0
        1  search          4.0
        2  social          2.0

    .. versionadded:: 0.1.0
    """
    head = finite(first, field="first", low=0.0, high=1.0)
    tail = finite(last, field="last", low=0.0, high=1.0)
    if head + tail > 1.0 + 1e-12:
        raise ValidationError.one(
            "$.last", "range", f"first + last must be at most 1, not {head + tail:g}"
        )
    loaded = _load(paths, path=path, conversions=conversions, value=value, nulls=None, sep=sep)
    title = f"Position-based attribution ({head:g} first, {tail:g} last)"
    return _rule(loaded, title, lambda p: _position_based(p, head, tail))


def time_decay(
    touchpoints: object,
    *,
    half_life: object = _WEEK,
    customer: object = "profile_id",
    channel: object = "channel",
    timestamp: object = "timestamp",
    conversion: object = "conversion",
    value: object = None,
    lookback: object = _THIRTY_DAYS,
    conversion_touches: object = False,
) -> Result:
    """Split each conversion over the touches before it, halving their weight every ``half_life``.

    A touch ``t`` before the conversion weighs ``2 ** (-t / half_life)``;
    each conversion is shared in proportion to the weights of its touches.
    Time decay needs the time of each touch, so it reads the touchpoints
    log, with the same columns and journey rules as
    `paths_from_touchpoints`. Conversions with no touch within
    ``lookback`` are not attributed; the result's figures count them.

    Args:
        touchpoints: the log, as for `paths_from_touchpoints`.
        half_life: a positive `datetime.timedelta`.
        customer: as for `paths_from_touchpoints`.
        channel: as for `paths_from_touchpoints`.
        timestamp: as for `paths_from_touchpoints`.
        conversion: as for `paths_from_touchpoints`.
        value: as for `paths_from_touchpoints`.
        lookback: as for `paths_from_touchpoints`.
        conversion_touches: as for `paths_from_touchpoints`.

    Raises:
        ValidationError: as `paths_from_touchpoints`, or ``half_life`` is
            not a positive timedelta.

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> log = pd.DataFrame(
        ...     {
        ...         "profile_id": ["p1", "p1", "p1"],
        ...         "channel": ["email", "web", None],
        ...         "timestamp": pd.to_datetime(["2024-05-01", "2024-05-08", "2024-05-08"]),
        ...         "conversion": [False, False, True],
        ...     }
        ... )
        >>> attribution.time_decay(log).frame
          channel  conversions
        0   email     0.333333
        1     web     0.666667

    .. versionadded:: 0.1.0
    """
    half = positive_duration(half_life, field="half_life")
    assert half is not None  # noqa: S101 - not optional, so never None
    columns = _touch_columns(
        customer=customer,
        channel=channel,
        timestamp=timestamp,
        conversion=conversion,
        value=value,
        lookback=lookback,
        conversion_touches=conversion_touches,
    )
    frame, missed, missed_value, total, total_value = decayed_credit(
        touchpoints, columns, half_life_us=half, connection=None
    )
    figures: dict[str, object] = {"conversions": total}
    if columns.value is not None:
        figures["value"] = total_value
    else:
        frame = frame.drop(columns="value")
    figures["conversions without touches"] = missed
    if columns.value is not None:
        figures["value without touches"] = missed_value
    frame["conversions"] = frame["conversions"].astype(float)
    return Result(
        title=f"Time-decay attribution (half-life {_duration(half_life)})",
        frame=frame,
        figures=figures,
    )


def markov(
    paths: object,
    *,
    order: object = 1,
    path: object = "path",
    conversions: object = "conversions",
    value: object = None,
    nulls: object = None,
    sep: object = ">",
) -> MarkovResult:
    """Attribute by the removal effects of a Markov chain over the paths, computed exactly.

    Each path is a walk ``(start) -> channel states -> (conversion)`` (its
    conversions) or ``-> (null)`` (its ``nulls``); for order ``k`` a state
    is a window of ``k`` consecutive channels. The probability of
    conversion from ``(start)`` solves ``(I - Q) x = r`` (``Q``: transition
    probabilities between states, ``r``: probabilities of converting next).
    Removing channel ``c`` sends its states to ``(null)``; its removal
    effect is ``RE_c = 1 - P(conversion without c) / P(conversion)``, and
    it receives ``RE_c / sum(RE)`` of the conversions. The value is
    attributed the same way, from value-weighted conversions
    (ChannelAttribution's ``total_conversion_value``).

    Up to 255 states (order 1 up to 255 channels, order 2 up to 15) each
    system is solved directly (LAPACK). Beyond, the walk's distribution is
    summed step by step until less than 1e-15 of probability is still
    walking, which bounds the error: a sparse LU would fill in (the 7,000
    states of an order-4 chain take half a second per channel, the sum
    milliseconds). Walks still going after 1,000 steps are left to a
    sparse LU.

    The chain is ChannelAttribution's (``markov_model``): repeated
    channels (``a > a``) are one visit, and the answer is what its
    simulation approaches as the number of simulated walks grows without
    a cap on their length.

    Without ``nulls`` every path ends in conversion and a channel's
    removal effect is the share of converting paths that pass through it.

    Args:
        paths: the paths table, as for `first_touch`.
        order: the chain's order, 1 to 4.
        path: as for `first_touch`.
        conversions: as for `first_touch`.
        value: as for `first_touch`.
        nulls: the column of journeys that took the path without
            converting, or None.
        sep: as for `first_touch`.

    Raises:
        ValidationError: as `first_touch`, or ``order`` not in 1..4 (at
            ``$.order``).

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> paths = pd.DataFrame(
        ...     {
        ...         "path": ["a > a > b", "b", "a"],
        ...         "conversions": [1, 1, 0],
        ...         "nulls": [1, 0, 1],
        ...     }
        ... )
        >>> result = attribution.markov(paths, nulls="nulls")
        >>> result.frame.round(4)
          channel  conversions  removal_effect
        0       a          0.8          0.6667
        1       b          1.2          1.0000
        >>> result.figures["P(conversion)"]
        0.5

    .. versionadded:: 0.1.0
    """
    level = _order(order)
    loaded = _load(paths, path=path, conversions=conversions, value=value, nulls=nulls, sep=sep)
    chain = removal_effects(loaded, level)
    effects = {"removal_effect": chain.removal}
    if loaded.value is not None:
        effects["removal_effect_value"] = chain.value_removal
    conversions_of = _share(chain.removal, loaded.conversions)
    frame = _frame(loaded, conversions_of, _value_share(chain, loaded), **effects)
    figures = _figures(loaded)
    figures["P(conversion)"] = chain.probability
    figures["order"] = level
    figures["states"] = len(chain.states) - 1
    return MarkovResult(
        title=f"Markov attribution (order {level}, exact removal effects)",
        frame=frame,
        figures=figures,
        chain=chain,
    )


def shapley(
    paths: object,
    *,
    worth: object = "conversions",
    max_exact: object = 12,
    samples: object = 2_000,
    seed: object = 0,
    path: object = "path",
    conversions: object = "conversions",
    value: object = None,
    nulls: object = None,
    sep: object = ">",
) -> Result:
    """Attribute by the channels' Shapley values, exactly up to ``max_exact`` channels.

    The players are the channels; a coalition ``S`` is worth, by ``worth``:

    - ``"conversions"``: the conversions of the paths whose channels all
      lie in ``S`` (Zhao, Mahboobi and Bagheri, "Shapley Value Methods for
      Attribution Modeling in Online Advertising", 2018,
      arXiv:1804.05327). The Shapley value then gives each path's
      conversions in equal parts to its distinct channels.
    - ``"rate"``: the conversion rate of the journeys whose channels all
      lie in ``S`` (needs ``nulls``): the conversion probability of a
      coalition, as in Dalessandro et al., "Causally Motivated Attribution
      for Online Advertising" (ADKDD 2012), estimated from the journeys
      that touched no channel outside it. The values are scaled so that
      they add up to the conversions.

    With ``n`` channels, up to ``max_exact`` the values are exact over all
    ``2**n`` coalitions; beyond, they are the mean marginal contributions
    over ``samples`` random orders of the channels (seeded by ``seed``),
    whose standard error shrinks as ``1/sqrt(samples)``. The result's
    ``figures["method"]`` says which. Either way they add up to the total.
    With ``value``, the value is attributed from the same worth in value.

    Args:
        paths: the paths table, as for `first_touch`.
        worth: ``"conversions"`` or ``"rate"``.
        max_exact: the most channels computed exactly, 0 to 20 (0: always
            sample).
        samples: random orders to draw beyond ``max_exact``.
        seed: the seed of those draws.
        path: as for `first_touch`.
        conversions: as for `first_touch`.
        value: as for `first_touch`.
        nulls: as for `markov` (needed by ``worth="rate"``).
        sep: as for `first_touch`.

    Raises:
        ValidationError: as `first_touch`, an unknown ``worth``,
            ``worth="rate"`` without ``nulls``, or ``max_exact``,
            ``samples`` or ``seed`` out of range.

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> paths = pd.DataFrame(
        ...     {"path": ["email > search > email", "search"], "conversions": [4, 2]}
        ... )
        >>> result = attribution.shapley(paths)
        >>> result.frame
          channel  conversions
        0   email          2.0
        1  search          4.0
        >>> result.figures["method"]
        'exact (4 coalitions)'

    .. versionadded:: 0.1.0
    """
    kind = _choice(worth, field="worth", options=("conversions", "rate"))
    largest = _integer(max_exact, field="max_exact", low=0, high=20)
    draws = _integer(samples, field="samples", low=1, high=10**9)
    start = _integer(seed, field="seed", low=0, high=2**63 - 1)
    if kind == "rate" and nulls is None:
        raise ValidationError.one(
            "$.nulls", "required", "worth='rate' needs the non-converting counts (nulls=...)"
        )
    loaded = _load(paths, path=path, conversions=conversions, value=value, nulls=nulls, sep=sep)
    values = shapley_values(loaded, worth=kind, max_exact=largest, samples=draws, seed=start)
    frame = _frame(loaded, values.conversions, values.value)
    figures = _figures(loaded)
    n = len(loaded.channels)
    figures["method"] = (
        f"exact ({2**n:,} coalitions)"
        if values.exact
        else f"sampled ({values.samples:,} permutations, seed {start})"
    )
    figures["worth"] = kind
    return Result(title=f"Shapley attribution ({kind})", frame=frame, figures=figures)


def compare(
    paths: object,
    *,
    models: object = (
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "position_based",
        "markov",
        "shapley",
    ),
    measure: object = "conversions",
    path: object = "path",
    conversions: object = "conversions",
    value: object = None,
    nulls: object = None,
    sep: object = ">",
) -> Any:
    """Attribute with several models at once: a pandas DataFrame, channel x model.

    The table is read once. Each model runs with its defaults (direct is
    ``"direct"``, position-based is 40/20/40, Shapley's worth is
    ``"conversions"``); `MODELS` lists the names. `time_decay` needs
    touchpoints and is not among them.

    Args:
        paths: the paths table, as for `first_touch`.
        models: names from `MODELS`.
        measure: ``"conversions"`` or ``"value"`` (needs ``value``).
        path: as for `first_touch`.
        conversions: as for `first_touch`.
        value: as for `first_touch`.
        nulls: as for `markov`.
        sep: as for `first_touch`.

    Raises:
        ValidationError: as `first_touch`, an unknown model (at
            ``$.models[i]``) or measure, or ``measure="value"`` without
            ``value``.

    Examples:
        >>> import pandas as pd
        >>> from omnichannel.analytics import attribution
        >>> paths = pd.DataFrame(
        ...     {"path": ["email > search", "search"], "conversions": [3, 1], "nulls": [1, 3]}
        ... )
        >>> attribution.compare(paths, models=["last_touch", "markov"], nulls="nulls").round(3)
        ... # doctest: +NORMALIZE_WHITESPACE
                 last_touch  markov
        channel
        email           0.0   1.333
        search          4.0   2.667

    .. versionadded:: 0.1.0
    """
    names = _models(models)
    of = _choice(measure, field="measure", options=("conversions", "value"))
    if of == "value" and value is None:
        raise ValidationError.one("$.value", "required", "measure='value' needs a value column")
    loaded = _load(paths, path=path, conversions=conversions, value=value, nulls=nulls, sep=sep)
    pd = module("pandas")
    columns: dict[str, Any] = {}
    for name in names:
        conversions_of, value_of = _run(loaded, name)
        columns[name] = value_of if of == "value" else conversions_of
    frame = pd.DataFrame(columns, index=pd.Index(list(loaded.channels), name="channel"))
    return frame.astype(float)


# --- helpers ------------------------------------------------------------------------------


def _load(
    paths: object, *, path: object, conversions: object, value: object, nulls: object, sep: object
) -> Paths:
    return load_paths(paths, path=path, conversions=conversions, value=value, nulls=nulls, sep=sep)


def _touch_columns(
    *,
    customer: object,
    channel: object,
    timestamp: object,
    conversion: object,
    value: object,
    lookback: object,
    conversion_touches: object,
) -> TouchpointColumns:
    names = {
        "customer": column_name(customer, field="customer"),
        "channel": column_name(channel, field="channel"),
        "timestamp": column_name(timestamp, field="timestamp"),
        "conversion": column_name(conversion, field="conversion"),
    }
    return TouchpointColumns(
        customer=str(names["customer"]),
        channel=str(names["channel"]),
        timestamp=str(names["timestamp"]),
        conversion=str(names["conversion"]),
        value=column_name(value, field="value", optional=True),
        lookback_us=positive_duration(lookback, field="lookback", optional=True),
        conversion_touches=flag(conversion_touches, field="conversion_touches"),
    )


def _duration(value: object) -> str:
    """A timedelta as people write it: "7 days", "1 day", "12:00:00"."""
    if isinstance(value, dt.timedelta) and value == dt.timedelta(days=value.days):
        return f"{value.days} day{'s' if value.days != 1 else ''}"
    return str(value)


def _order(order: object) -> int:
    if isinstance(order, int) and not isinstance(order, bool) and 1 <= order <= 4:
        return order
    raise ValidationError.one("$.order", "range", f"must be 1, 2, 3 or 4, not {order!r}")


def _integer(number: object, *, field: str, low: int, high: int) -> int:
    if isinstance(number, int) and not isinstance(number, bool) and low <= number <= high:
        return number
    raise ValidationError.one(
        f"$.{field}", "range", f"must be a whole number from {low} to {high}, not {number!r}"
    )


def _choice(option: object, *, field: str, options: Sequence[str]) -> str:
    if isinstance(option, str) and option in options:
        return option
    raise ValidationError.one(
        f"$.{field}", "choice", f"must be one of {', '.join(map(repr, options))}, not {option!r}"
    )


def _models(models: object) -> list[str]:
    if isinstance(models, str) or not isinstance(models, Sequence) or not models:
        raise ValidationError.one(
            "$.models", "type", f"must be a non-empty list of model names, not {models!r}"
        )
    problems = [
        FieldError(
            path=f"$.models[{n}]",
            code="choice",
            message=f"unknown model {name!r} (known: {', '.join(MODELS)})",
        )
        for n, name in enumerate(models)
        if not isinstance(name, str) or name not in MODELS
    ]
    if problems:
        raise ValidationError(problems)
    return [str(name) for name in models]


def _run(paths: Paths, name: str) -> tuple[Any, Any]:
    """Conversions and value (or None) per channel of model ``name``."""
    rules: dict[str, Callable[[Paths], Any]] = {
        "first_touch": _first_touch,
        "last_touch": _last_touch,
        "last_non_direct": lambda p: _last_non_direct(p, "direct"),
        "linear": _linear,
        "position_based": lambda p: _position_based(p, 0.4, 0.4),
    }
    if name in rules:
        return _credit(paths, rules[name](paths))
    if name == "shapley":
        values = shapley_values(paths, worth="conversions", max_exact=12, samples=2_000, seed=0)
        return values.conversions, values.value
    chain = removal_effects(paths, 1 if name == "markov" else int(name[-1]))
    return _share(chain.removal, paths.conversions), _value_share(chain, paths)


def _rule(paths: Paths, title: str, weights: Callable[[Paths], Any]) -> Result:
    conversions, value = _credit(paths, weights(paths))
    return Result(title=title, frame=_frame(paths, conversions, value), figures=_figures(paths))


def _credit(paths: Paths, weights: Any) -> tuple[Any, Any]:
    """Add up each touch's share (``weights``, 1 per path) of its path's conversions and value."""
    np = module("numpy")
    n = len(paths.channels)
    owner = paths.owner
    conversions = np.bincount(paths.codes, weights=weights * paths.conversions[owner], minlength=n)
    if paths.value is None:
        return conversions, None
    value = np.bincount(paths.codes, weights=weights * paths.value[owner], minlength=n)
    return conversions, value


def _first_touch(paths: Paths) -> Any:
    np = module("numpy")
    weights = np.zeros(len(paths.codes))
    weights[paths.offsets[:-1]] = 1.0
    return weights


def _last_touch(paths: Paths) -> Any:
    np = module("numpy")
    weights = np.zeros(len(paths.codes))
    weights[paths.offsets[1:] - 1] = 1.0
    return weights


def _last_non_direct(paths: Paths, direct: str) -> Any:
    np = module("numpy")
    weights = np.zeros(len(paths.codes))
    if paths.count == 0:
        return weights
    positions = np.arange(len(paths.codes))
    if direct in paths.channels:
        other = paths.codes != paths.channels.index(direct)
        candidates = np.where(other, positions, -1)
        chosen = np.maximum.reduceat(candidates, paths.offsets[:-1])
        # A path of direct visits only: its last touch (direct) takes the conversion.
        chosen = np.where(chosen >= 0, chosen, paths.offsets[1:] - 1)
    else:
        chosen = paths.offsets[1:] - 1
    weights[chosen] = 1.0
    return weights


def _linear(paths: Paths) -> Any:
    return 1.0 / paths.lengths[paths.owner]


def _position_based(paths: Paths, first: float, last: float) -> Any:
    np = module("numpy")
    owner = paths.owner
    length = paths.lengths[owner]
    place = np.arange(len(paths.codes)) - paths.offsets[:-1][owner]
    ends = first + last
    pair_first = first / ends if ends > 0 else 0.5
    middle = (1.0 - ends) / np.maximum(length - 2, 1)
    weights = np.where(place == 0, first, np.where(place == length - 1, last, middle))
    weights = np.where(length == 2, np.where(place == 0, pair_first, 1.0 - pair_first), weights)
    return np.where(length == 1, 1.0, weights)


def _share(effects: Any, conversions: Any) -> Any:
    np = module("numpy")
    total = float(effects.sum())
    if total <= 0:
        return np.zeros_like(effects)
    return effects / total * float(conversions.sum())


def _value_share(chain: Chain, paths: Paths) -> Any:
    if paths.value is None:
        return None
    return _share(chain.value_removal, paths.value)


def _frame(paths: Paths, conversions: Any, value: Any, **more: Any) -> Any:
    np = module("numpy")
    pd = module("pandas")
    columns: dict[str, Any] = {
        "channel": list(paths.channels),
        "conversions": np.asarray(conversions, dtype=float),
    }
    if value is not None:
        columns["value"] = value
    columns.update(more)
    return pd.DataFrame(columns)


def _figures(paths: Paths) -> dict[str, object]:
    figures: dict[str, object] = {"conversions": float(paths.conversions.sum())}
    if paths.value is not None:
        figures["value"] = float(paths.value.sum())
    figures["paths"] = paths.count
    figures["channels"] = len(paths.channels)
    return figures
