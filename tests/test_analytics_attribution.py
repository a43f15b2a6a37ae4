"""Attribution: hand-worked Markov chains, the rules, Shapley values, paths from touchpoints.

The Markov numbers are worked out on paper in the comments; an independent
solver in exact fractions checks the chain on random tables; the package
``ChannelAttribution`` (test-only) checks agreement with its simulation.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

pd = pytest.importorskip("pandas", reason="analytics need pandas")
np = pytest.importorskip("numpy", reason="analytics need NumPy")
pytest.importorskip("duckdb", reason="analytics need DuckDB")
pytest.importorskip("scipy", reason="analytics need SciPy")
pa = pytest.importorskip("pyarrow", reason="analytics need pyarrow")

from omnichannel.analytics import Result, attribution  # noqa: E402 - after the skips
from omnichannel.analytics._markov import removal_effects  # noqa: E402
from omnichannel.analytics._paths import load_paths  # noqa: E402
from omnichannel.errors import ValidationError  # noqa: E402

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def table(rows, *, value=True):
    """A paths table from (path, conversions, nulls[, value]) tuples."""
    frame = pd.DataFrame([r[:3] for r in rows], columns=["path", "conversions", "nulls"]).astype(
        {"conversions": "int64", "nulls": "int64"}
    )
    if value:
        frame["value"] = [float(r[3]) if len(r) > 3 else 0.0 for r in rows]
    return frame


def by_channel(result, column="conversions"):
    return dict(zip(result.frame["channel"], result.frame[column].tolist(), strict=True))


# --- Markov: worked by hand ----------------------------------------------------------------

# Three paths (conversions, non-conversions, value):
#   "a > a > b"  1 conversion, 1 null, value 10   (a > a is one visit of a: weight 2 walks)
#   "a"          1 conversion, 0 nulls, value 50  (weight 1)
#   "b"          0 conversions, 1 null            (weight 1)
# Transitions (weights): start->a 2+1 = 3, start->b 1; a->b 2, a->conv 1; b->conv 1,
# b->null 1+1 = 2. Probabilities: start: a 3/4, b 1/4; a: b 2/3, conv 1/3; b: conv 1/3.
#   x(b) = 1/3; x(a) = 2/3 * 1/3 + 1/3 = 5/9; P = 3/4 * 5/9 + 1/4 * 1/3 = 1/2.
# Without a: P = 1/4 * 1/3 = 1/12, RE(a) = 1 - (1/12)/(1/2) = 5/6.
# Without b: x(a) = 1/3, P = 3/4 * 1/3 = 1/4, RE(b) = 1/2.
# Conversions (2): a = (5/6)/(4/3) * 2 = 1.25, b = (1/2)/(4/3) * 2 = 0.75.
# Value: the reward of converting from a state is the value of the paths ending there over the
# weight leaving it: a 50/3, b 10/3. xv(b) = 10/3; xv(a) = 2/3 * 10/3 + 50/3 = 170/9;
# xv(start) = 3/4 * 170/9 + 1/4 * 10/3 = 15 (= 60 value / 4 walks).
# Without a: 1/4 * 10/3 = 5/6, RE_v(a) = 1 - (5/6)/15 = 17/18.
# Without b: xv(a) = 50/3, xv(start) = 12.5, RE_v(b) = 1 - 12.5/15 = 1/6.
# Value (60): a = (17/18)/(10/9) * 60 = 51, b = (1/6)/(10/9) * 60 = 9.
HAND = [("a > a > b", 1, 1, 10), ("a", 1, 0, 50), ("b", 0, 1, 0)]


def test_markov_matches_the_chain_worked_by_hand():
    """Order 1: P(conversion), removal effects and attributed conversions and value by hand."""
    result = attribution.markov(table(HAND), value="value", nulls="nulls")
    assert isinstance(result, Result)
    frame = result.frame.set_index("channel")
    assert result.figures["P(conversion)"] == pytest.approx(1 / 2, abs=1e-12)
    assert [5 / 6, 1 / 2] == pytest.approx(frame["removal_effect"].tolist(), abs=1e-12)
    assert [17 / 18, 1 / 6] == pytest.approx(frame["removal_effect_value"].tolist(), abs=1e-12)
    assert [1.25, 0.75] == pytest.approx(frame["conversions"].tolist(), abs=1e-12)
    assert [51.0, 9.0] == pytest.approx(frame["value"].tolist(), abs=1e-9)
    assert {"conversions": 2.0, "value": 60.0, "paths": 3, "channels": 2} == {
        k: result.figures[k] for k in ("conversions", "value", "paths", "channels")
    }


def test_markov_exposes_the_transition_matrix_without_self_loops():
    """The transitions are the hand-worked ones; a > a is no transition."""
    transitions = attribution.markov(table(HAND), value="value", nulls="nulls").transitions
    got = {(r["from"], r["to"]): r["probability"] for _, r in transitions.iterrows()}
    expected = {
        ("(start)", "a"): 3 / 4,
        ("(start)", "b"): 1 / 4,
        ("a", "b"): 2 / 3,
        ("a", "(conversion)"): 1 / 3,
        ("b", "(conversion)"): 1 / 3,
        ("b", "(null)"): 2 / 3,
    }
    assert expected.keys() == got.keys()
    for key, probability in expected.items():
        assert probability == pytest.approx(got[key], abs=1e-12)


# Order 2: states are windows of two channels; a path shorter than two is one state.
#   "a > a > b"      1 conv, 1 null (w 2): start -> (a,a) -> (a,b)
#   "b > c"          1 conv         (w 1): start -> (b,c)
#   "a"              1 null         (w 1): start -> (a)
#   "a > b > a > c"  2 conv, 1 null (w 3): start -> (a,b) -> (b,a) -> (a,c)
# start: (a,a) 2/7, (b,c) 1/7, (a) 1/7, (a,b) 3/7. (a,a) -> (a,b) 1.
# (a,b): conv 1/5, null 1/5, (b,a) 3/5. (b,a) -> (a,c) 1. (a,c): conv 2/3. (b,c): conv 1.
# x(a,c) = x(b,a) = 2/3; x(a,b) = x(a,a) = 1/5 + 3/5 * 2/3 = 3/5; x(a) = 0.
# P = (2 * 3/5 + 1 + 0 + 3 * 3/5) / 7 = 4/7.
# Without a (every state holding a goes to null): P = 1/7, RE(a) = 3/4.
# Without b: (a,b), (b,c), (b,a) go to null, so does (a,a) after them: P = 0, RE(b) = 1.
# Without c: x(b,a) = 0, x(a,b) = x(a,a) = 1/5: P = (2/5 + 3/5) / 7 = 1/7, RE(c) = 3/4.
# Conversions (4) by 3/4 : 1 : 3/4: a 1.2, b 1.6, c 1.2.
ORDER_TWO = [("a > a > b", 1, 1), ("b > c", 1, 0), ("a", 0, 1), ("a > b > a > c", 2, 1)]


def test_markov_of_order_two_matches_the_chain_worked_by_hand():
    """Order 2: windows of two channels as states, worked out by hand."""
    result = attribution.markov(table(ORDER_TWO, value=False), order=2, nulls="nulls")
    frame = result.frame.set_index("channel")
    assert result.figures["P(conversion)"] == pytest.approx(4 / 7, abs=1e-12)
    assert result.figures["states"] == 6
    assert [0.75, 1.0, 0.75] == pytest.approx(frame["removal_effect"].tolist(), abs=1e-12)
    assert [1.2, 1.6, 1.2] == pytest.approx(frame["conversions"].tolist(), abs=1e-12)
    assert "value" not in result.frame.columns


def test_markov_without_nulls_credits_the_share_of_paths_through_a_channel():
    """With no non-converting counts, RE is the share of conversions whose path holds the channel."""
    rows = [("a > b", 3, 0), ("b", 1, 0), ("c > a", 2, 0)]
    result = attribution.markov(table(rows, value=False))
    frame = result.frame.set_index("channel")
    # Every walk converts. a is on 5 of 6 conversions' paths, b on 4, c on 2.
    assert [5 / 6, 4 / 6, 2 / 6] == pytest.approx(frame["removal_effect"].tolist(), abs=1e-12)
    assert [6 * 5 / 11, 6 * 4 / 11, 6 * 2 / 11] == pytest.approx(
        frame["conversions"].tolist(), abs=1e-12
    )


# --- Markov: an independent solver in exact fractions --------------------------------------


def fraction_markov(rows, order):
    """Removal-effect attribution of ChannelAttribution's chain, in fractions, written plainly."""
    counts = defaultdict(Fraction)
    ending_value = defaultdict(Fraction)
    channels = sorted({c for path, *_ in rows for c in path})
    for path, conversions, nulls, value in rows:
        if len(path) <= order:
            states = [tuple(path)]
        else:
            states = [tuple(path[i : i + order]) for i in range(len(path) - order + 1)]
        visits = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
        walks = conversions + nulls
        previous = "start"
        for state in visits:
            counts[previous, state] += walks
            previous = state
        counts[previous, "conversion"] += conversions
        counts[previous, "null"] += nulls
        ending_value[previous] += value
    leaving = defaultdict(Fraction)
    for (source, _), weight in counts.items():
        leaving[source] += weight
    states = sorted(
        {s for s, _ in counts} | {t for _, t in counts} - {"conversion", "null"}, key=str
    )

    def absorbed(removed, reward):
        alive = [s for s in states if s == "start" or removed not in s]
        index = {s: n for n, s in enumerate(alive)}
        size = len(alive)
        matrix = [[Fraction(int(i == j)) for j in range(size)] + [Fraction(0)] for i in range(size)]
        for s in alive:
            if leaving[s] == 0:
                continue
            matrix[index[s]][size] = reward(s) / leaving[s]
            for t in alive:
                if counts.get((s, t)):
                    matrix[index[s]][index[t]] -= counts[s, t] / leaving[s]
        for col in range(size):  # Gauss-Jordan
            pivot = next(r for r in range(col, size) if matrix[r][col] != 0)
            matrix[col], matrix[pivot] = matrix[pivot], matrix[col]
            head = matrix[col][col]
            matrix[col] = [v / head for v in matrix[col]]
            for r in range(size):
                if r != col and matrix[r][col] != 0:
                    factor = matrix[r][col]
                    matrix[r] = [
                        a - factor * b for a, b in zip(matrix[r], matrix[col], strict=True)
                    ]
        return matrix[index["start"]][size]

    def attribute(reward, total):
        base = absorbed(None, reward)
        if base == 0:
            return dict.fromkeys(channels, Fraction(0))
        effects = {c: 1 - absorbed(c, reward) / base for c in channels}
        whole = sum(effects.values())
        return {c: e / whole * total for c, e in effects.items()}

    conversions = attribute(
        lambda s: counts.get((s, "conversion"), Fraction(0)), sum(r[1] for r in rows)
    )
    value = attribute(lambda s: ending_value.get(s, Fraction(0)), sum(r[3] for r in rows))
    return conversions, value


CHANNELS = ("direct", "email", "search", "social", "display")


@st.composite
def path_rows(draw, *, channels=CHANNELS, min_size=1, max_size=8):
    """Rows of a paths table: (channels, conversions, nulls, value); value only with conversions."""
    count = draw(st.integers(min_size, max_size))
    rows = []
    for _ in range(count):
        path = tuple(draw(st.lists(st.sampled_from(channels), min_size=1, max_size=6)))
        conversions = draw(st.integers(0, 4))
        nulls = draw(st.integers(0, 4))
        value = draw(st.integers(0, 300)) if conversions else 0
        rows.append((path, conversions, nulls, value))
    return rows


def frame_of(rows):
    return pd.DataFrame(
        {
            "path": [" > ".join(p) for p, *_ in rows],
            "conversions": [r[1] for r in rows],
            "nulls": [r[2] for r in rows],
            "value": [float(r[3]) for r in rows],
        }
    )


@settings(max_examples=60)
@given(path_rows(), st.sampled_from([1, 2]))
def test_markov_agrees_with_a_solver_in_exact_fractions(rows, order):
    """Property: the attributed conversions and value equal an independent exact solution."""
    assume(sum(r[1] for r in rows) > 0)
    conversions, value = fraction_markov(rows, order)
    result = attribution.markov(frame_of(rows), order=order, value="value", nulls="nulls")
    got = result.frame.set_index("channel")
    for channel, expected in conversions.items():
        assert float(expected) == pytest.approx(got.loc[channel, "conversions"], abs=1e-9)
        assert float(value[channel]) == pytest.approx(got.loc[channel, "value"], abs=1e-7)


def big_journeys(count, *, channels=8, seed=0):
    """Seeded synthetic journeys: lengths 1-20 (geometric), channels with different lifts."""
    rng = np.random.default_rng(seed)
    names = np.array(["direct", "email", "search", "social", "display", "affiliate", "sms", "tv"])
    names = names[:channels]
    popularity = np.linspace(2.0, 1.0, channels)
    popularity /= popularity.sum()
    lift = np.linspace(0.05, 0.15, channels)[rng.permutation(channels)]
    lengths = np.minimum(rng.geometric(0.35, count), 20)
    touches = rng.choice(channels, size=int(lengths.sum()), p=popularity)
    owner = np.repeat(np.arange(count), lengths)
    chance = 1 - np.exp(-1.6 * np.bincount(owner, weights=lift[touches], minlength=count))
    converted = (rng.random(count) < chance).astype(np.int64)
    value = np.where(converted == 1, np.round(rng.gamma(2.0, 30.0, count), 2), 0.0)
    bounds = np.cumsum(lengths)[:-1]
    paths = [" > ".join(part) for part in np.split(names[touches], bounds)]
    frame = pd.DataFrame(
        {"path": paths, "conversions": converted, "value": value, "nulls": 1 - converted}
    )
    return frame.groupby("path", as_index=False).sum()


@pytest.mark.parametrize("order", [3, 4])
def test_markov_solvers_agree_on_large_chains(order):
    """Above 255 states the chain is summed as a series; it agrees with a sparse LU and LAPACK."""
    paths = load_paths(
        big_journeys(3_000, seed=order),
        path="path",
        conversions="conversions",
        value="value",
        nulls="nulls",
        sep=">",
    )
    series = removal_effects(paths, order)
    assert len(series.states) > 256
    for method in ("lu", "dense") if len(series.states) < 2_000 else ("lu",):
        other = removal_effects(paths, order, method=method)
        assert other.probability == pytest.approx(series.probability, abs=1e-13)
        assert other.removal == pytest.approx(series.removal, abs=1e-12)
        assert other.value_removal == pytest.approx(series.value_removal, abs=1e-12)
    small = removal_effects(paths, 1, method="series")
    assert removal_effects(paths, 1).removal == pytest.approx(small.removal, abs=1e-13)


def test_markov_series_hands_long_walks_to_the_sparse_lu():
    """A cycle left once in 400 turns: the series stops after 1,000 steps and LU solves it."""
    rows = [(" > ".join(["a", "b"] * 400), 1, 0), ("a > c", 1, 3)]
    paths = load_paths(
        table(rows, value=False),
        path="path",
        conversions="conversions",
        value=None,
        nulls="nulls",
        sep=">",
    )
    dense = removal_effects(paths, 1)
    series = removal_effects(paths, 1, method="series")
    assert dense.probability == pytest.approx(series.probability, abs=1e-13)
    assert dense.removal == pytest.approx(series.removal, abs=1e-12)


# --- Markov against ChannelAttribution -----------------------------------------------------


@pytest.mark.parametrize("order", [1, 2])
def test_markov_lands_within_one_percent_of_channelattribution(order):
    """ChannelAttribution with 2e6 simulated walks, all in one fold, no step cap: within 1 %.

    Its defaults return one fold of ``nsim_start / nfold`` walks (10,000)
    with walks cut at the longest path: several percent off. ``nfold=1``
    makes every walk count.
    """
    ca = pytest.importorskip("ChannelAttribution", reason="ChannelAttribution is test-only")
    paths = big_journeys(4_000, channels=6, seed=7)
    exact = attribution.markov(paths, order=order, value="value", nulls="nulls").frame
    exact = exact.set_index("channel")
    simulated = ca.markov_model(
        paths,
        "path",
        "conversions",
        var_value="value",
        var_null="nulls",
        order=order,
        nsim_start=2e6,
        nfold=1,
        max_step=10**9,
        ncore=1,
        verbose=False,
        flg_pro=False,
    ).set_index("channel_name")
    assert sorted(exact.index) == sorted(simulated.index)
    for channel in exact.index:
        expected = exact.loc[channel]
        got = simulated.loc[channel]
        assert expected["conversions"] == pytest.approx(got["total_conversions"], rel=0.01)
        assert expected["value"] == pytest.approx(got["total_conversion_value"], rel=0.01)


# --- rules ---------------------------------------------------------------------------------

RULES = [
    ("email > search > direct", 4, 0, 100),
    ("direct > direct", 2, 0, 10),
    ("social > email", 2, 5, 40),
    ("search", 1, 0, 5),
]


def test_first_and_last_touch_credit_the_ends_of_each_path():
    """First touch credits the first channel, last touch the last, conversions and value alike."""
    first = attribution.first_touch(table(RULES), value="value")
    assert {"direct": 2.0, "email": 4.0, "search": 1.0, "social": 2.0} == by_channel(first)
    assert {"direct": 10.0, "email": 100.0, "search": 5.0, "social": 40.0} == by_channel(
        first, "value"
    )
    last = attribution.last_touch(table(RULES), value="value")
    assert {"direct": 6.0, "email": 2.0, "search": 1.0, "social": 0.0} == by_channel(last)
    assert {"direct": 110.0, "email": 40.0, "search": 5.0, "social": 0.0} == by_channel(
        last, "value"
    )


def test_last_non_direct_skips_direct_unless_the_path_is_all_direct():
    """The last non-direct channel takes the conversion; a direct-only path keeps it direct."""
    result = attribution.last_non_direct(table(RULES))
    assert {"direct": 2.0, "email": 2.0, "search": 5.0, "social": 0.0} == by_channel(result)
    renamed = table([("e > none > none", 3, 0)], value=False)
    assert {"e": 3.0, "none": 0.0} == by_channel(
        attribution.last_non_direct(renamed, direct="none")
    )
    nothing_direct = attribution.last_non_direct(table([("a > b", 1, 0)], value=False))
    assert {"a": 0.0, "b": 1.0} == by_channel(nothing_direct)


def test_linear_splits_by_touch():
    """Each touch gets an equal part: a channel touched twice on three touches gets two thirds."""
    result = attribution.linear(table([("a > b > a", 3, 0, 30), ("b", 1, 0, 6)]), value="value")
    assert {"a": 2.0, "b": 2.0} == by_channel(result)
    assert {"a": 20.0, "b": 16.0} == by_channel(result, "value")


def test_position_based_gives_forty_twenty_forty():
    """40 % to the first and last touches, 20 % shared between the middle; 2 touches split 1:1."""
    rows = [("a > b > c > d", 10, 0), ("a > b", 10, 0), ("c", 10, 0)]
    result = attribution.position_based(table(rows, value=False))
    assert {"a": 9.0, "b": 6.0, "c": 11.0, "d": 4.0} == pytest.approx(by_channel(result))
    skewed = attribution.position_based(table(rows[1:2], value=False), first=0.6, last=0.2)
    assert {"a": 7.5, "b": 2.5} == pytest.approx(by_channel(skewed))
    middle_only = attribution.position_based(table(rows[:1], value=False), first=0.0, last=0.0)
    assert {"a": 0.0, "b": 5.0, "c": 5.0, "d": 0.0} == pytest.approx(by_channel(middle_only))
    ends_only = attribution.position_based(table(rows[1:2], value=False), first=0.0, last=0.0)
    assert {"a": 5.0, "b": 5.0} == pytest.approx(by_channel(ends_only))


# --- Shapley -------------------------------------------------------------------------------


def test_shapley_with_the_conversions_worth_splits_paths_over_distinct_channels():
    """Zhao et al.'s worth: each path's conversions go in equal parts to its distinct channels."""
    rows = [("a > b > a", 6, 0, 60), ("b > c", 2, 0, 8), ("c", 1, 0, 1)]
    result = attribution.shapley(table(rows), value="value")
    assert {"a": 3.0, "b": 4.0, "c": 2.0} == pytest.approx(by_channel(result), abs=1e-12)
    assert {"a": 30.0, "b": 34.0, "c": 5.0} == pytest.approx(by_channel(result, "value"))
    assert result.figures["method"] == "exact (8 coalitions)"


def test_shapley_with_the_rate_worth_matches_a_hand_computed_game():
    """The rate worth by hand: v(S) = conversions / journeys over the journeys inside S.

    Paths: "a" 1 of 4 convert, "b" 1 of 2, "a > b" 3 of 4. v({a}) = 1/4,
    v({b}) = 1/2, v({a,b}) = 5/10. phi(a) = (1/4 + (1/2 - 1/2)) / 2 = 1/8,
    phi(b) = (1/2 + (1/2 - 1/4)) / 2 = 3/8; scaled to the 5 conversions:
    a 1.25, b 3.75.
    """
    rows = [("a", 1, 3), ("b", 1, 1), ("a > b", 3, 1)]
    result = attribution.shapley(table(rows, value=False), worth="rate", nulls="nulls")
    assert {"a": 1.25, "b": 3.75} == pytest.approx(by_channel(result), abs=1e-12)
    assert result.figures["worth"] == "rate"


def test_shapley_samples_permutations_beyond_max_exact():
    """Fourteen channels: sampled values approach the exact ones; the method says which."""
    rng = random.Random(3)
    letters = [chr(ord("a") + n) for n in range(14)]
    rows = []
    for _ in range(300):
        path = " > ".join(rng.choice(letters) for _ in range(rng.randint(1, 5)))
        rows.append((path, rng.randint(0, 3), rng.randint(0, 3)))
    paths = table(rows, value=False)
    for worth in ("conversions", "rate"):
        exact = attribution.shapley(paths, worth=worth, nulls="nulls", max_exact=20)
        sampled = attribution.shapley(paths, worth=worth, nulls="nulls", samples=3_000, seed=5)
        assert exact.figures["method"] == "exact (16,384 coalitions)"
        assert sampled.figures["method"] == "sampled (3,000 permutations, seed 5)"
        total = exact.figures["conversions"]
        assert sum(by_channel(sampled).values()) == pytest.approx(total)
        got, expected = by_channel(sampled), by_channel(exact)
        for channel in letters:
            assert expected[channel] == pytest.approx(got[channel], abs=0.02 * total)


@settings(max_examples=40)
@given(path_rows(channels=("a", "b", "c", "d")), st.sampled_from(["conversions", "rate"]))
def test_shapley_sampled_agrees_with_exact(rows, worth):
    """Property: with few channels, 20,000 sampled permutations land near the exact values."""
    total = sum(r[1] for r in rows)
    assume(total > 0)
    paths = frame_of(rows)
    exact = by_channel(attribution.shapley(paths, worth=worth, nulls="nulls"))
    sampled = attribution.shapley(paths, worth=worth, nulls="nulls", max_exact=0, samples=100_000)
    # Hoeffding: the mean of 100,000 marginal contributions, each within a range R, strays by
    # more than R / 50 with probability below 1e-8. R: the conversions (worth "conversions");
    # a rate's range 2, scaled by journeys / conversions * conversions (worth "rate").
    scale = total if worth == "conversions" else 2 * sum(r[1] + r[2] for r in rows)
    for channel, value in by_channel(sampled).items():
        assert exact[channel] == pytest.approx(value, abs=scale / 50)


# --- properties of every model -------------------------------------------------------------

MODELS = [*attribution.MODELS]


def all_models(paths, **columns):
    """Every model's conversions and value per channel: name -> (conversions, value)."""
    out = {}
    for measure in ("conversions", "value"):
        frame = attribution.compare(paths, models=MODELS, measure=measure, **columns)
        for model in frame.columns:
            out.setdefault(model, {})[measure] = frame[model].to_dict()
    rate = attribution.shapley(paths, worth="rate", **columns)
    out["shapley_rate"] = {"conversions": by_channel(rate), "value": by_channel(rate, "value")}
    return out


COLUMNS = {"value": "value", "nulls": "nulls"}


@settings(max_examples=40)
@given(path_rows())
def test_every_model_adds_up_to_the_totals(rows):
    """Property: each model's conversions and value add up to the table's."""
    conversions = sum(r[1] for r in rows)
    value = sum(r[3] for r in rows)
    for model, measures in all_models(frame_of(rows), **COLUMNS).items():
        assert conversions == pytest.approx(sum(measures["conversions"].values()), abs=1e-9), model
        assert value == pytest.approx(sum(measures["value"].values()), abs=1e-7), model


@settings(max_examples=30)
@given(path_rows(), st.randoms(use_true_random=False), st.data())
def test_models_ignore_row_order_and_split_rows(rows, rng, data):
    """Property: shuffling rows, or splitting a row's counts over two rows, changes nothing."""
    before = all_models(frame_of(rows), **COLUMNS)
    split = list(rows)
    at = data.draw(st.integers(0, len(rows) - 1))
    path, conversions, nulls, value = split.pop(at)
    first = data.draw(st.integers(0, conversions))
    first_nulls = data.draw(st.integers(0, nulls))
    if first in {0, conversions}:
        first_value = value if first else 0  # a part without conversions has no value
    else:
        first_value = data.draw(st.integers(0, value))
    split += [
        (path, first, first_nulls, first_value),
        (path, conversions - first, nulls - first_nulls, value - first_value),
    ]
    rng.shuffle(split)
    after = all_models(frame_of(split), **COLUMNS)
    assert before.keys() == after.keys()
    for model, measures in before.items():
        for measure, values in measures.items():
            assert values == pytest.approx(after[model][measure], abs=1e-9), (model, measure)


@settings(max_examples=40)
@given(
    path_rows(channels=("a", "b", "c")),
    st.lists(st.sampled_from(["a", "b"]), max_size=3),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=2),
)
def test_a_channel_on_no_converting_path_gets_nothing(rows, before, after):
    """Property: rules and Shapley's conversions worth give 0 to a channel on no converting path.

    Markov can credit such a channel (it may lead to converting states),
    unless it only ever ends paths that do not convert; the rate worth can
    even give it less than 0 (it lowers the conversion rate).
    """
    rows = [*rows, ((*before, "zzz", *after), 0, 2, 0)]
    for model, measures in all_models(frame_of(rows), **COLUMNS).items():
        if model.startswith("markov") and after:
            continue
        if model == "shapley_rate":
            assert measures["conversions"]["zzz"] <= 1e-12
            continue
        assert measures["conversions"]["zzz"] == pytest.approx(0.0, abs=1e-12), model
        assert measures["value"]["zzz"] == pytest.approx(0.0, abs=1e-12), model


@pytest.mark.slow
@settings(max_examples=2_000)
@given(path_rows(), st.sampled_from([1, 2]))
def test_markov_agrees_with_exact_fractions_at_length(rows, order):
    """The fractions contract, dug deeper (run with ``-m slow``)."""
    test_markov_agrees_with_a_solver_in_exact_fractions.hypothesis.inner_test(rows, order)  # type: ignore[attr-defined]


@pytest.mark.slow
@settings(max_examples=1_000)
@given(path_rows())
def test_every_model_adds_up_at_length(rows):
    """The totals contract, dug deeper (run with ``-m slow``)."""
    test_every_model_adds_up_to_the_totals.hypothesis.inner_test(rows)  # type: ignore[attr-defined]


# --- inputs --------------------------------------------------------------------------------


def test_every_table_form_gives_the_same_answer(tmp_path):
    """pandas, Arrow, polars, a DuckDB relation, Parquet and CSV files read alike."""
    import duckdb

    frame = table(HAND)
    expected = attribution.markov(frame, value="value", nulls="nulls").frame
    arrow = pa.Table.from_pandas(frame)
    forms = [arrow, arrow.to_batches()[0], duckdb.from_arrow(arrow)]
    polars = pytest.importorskip("polars")
    forms.append(polars.from_pandas(frame))
    frame.to_parquet(tmp_path / "paths.parquet")
    frame.to_csv(tmp_path / "paths.csv", index=False)
    forms += [tmp_path / "paths.parquet", str(tmp_path / "paths.csv")]
    categorical = frame.astype({"path": "category"})
    categorical["path"] = categorical["path"].cat.add_categories(["unused > path"])
    forms.append(categorical)
    if hasattr(pa, "string_view"):  # pyarrow 16 and later
        views = arrow.set_column(0, "path", arrow.column("path").cast(pa.string_view()))
        forms.append(views)
    for form in forms:
        got = attribution.markov(form, value="value", nulls="nulls").frame
        pd.testing.assert_frame_equal(expected, got, check_exact=False, rtol=1e-12)


def test_separators_and_spaces_around_channel_names():
    """Channels are trimmed, so "a>b" and "a > b" are one path; another separator works."""
    spaced = table([("a > b", 1, 0), ("a>b", 1, 0), (" a  >b ", 1, 0)], value=False)
    result = attribution.first_touch(spaced)
    assert {"a": 3.0, "b": 0.0} == by_channel(result)
    assert result.figures["paths"] == 3
    commas = table([("a, b", 2, 0)], value=False)
    assert {"a": 1.0, "b": 1.0} == by_channel(attribution.linear(commas, sep=","))


def test_an_empty_table_attributes_nothing():
    """No rows: no channels, zero totals, for every model and table form."""
    empty = table([], value=False)
    arrow = pa.table(
        {"path": pa.chunked_array([], pa.string()), "conversions": pa.array([], "int64")}
    )
    for result in (
        attribution.markov(empty, nulls="nulls"),
        attribution.markov(arrow),
        attribution.shapley(empty),
        attribution.first_touch(empty),
    ):
        assert result.frame.empty
        assert result.figures["conversions"] == 0.0
    assert attribution.compare(empty).empty


def test_no_conversions_attributes_zero():
    """Paths that never convert: every channel gets 0, and P(conversion) is 0."""
    result = attribution.markov(table([("a > b", 0, 3)], value=False), nulls="nulls")
    assert {"a": 0.0, "b": 0.0} == by_channel(result)
    assert result.figures["P(conversion)"] == 0.0


def test_results_show_themselves():
    """A result renders as HTML and text with its title, figures and table."""
    result = attribution.markov(table(HAND), value="value", nulls="nulls")
    html = result._repr_html_()
    assert "Markov attribution (order 1, exact removal effects)" in html
    assert "P(conversion)" in html
    assert "removal_effect" in html
    assert str(result).startswith("Markov attribution")
    assert result.to_frame() is result.frame


def test_compare_puts_models_side_by_side():
    """One row per channel, one column per model, conversions or value."""
    frame = attribution.compare(table(RULES), value="value", nulls="nulls")
    assert list(frame.columns) == [
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "position_based",
        "markov",
        "shapley",
    ]
    assert list(frame.index) == ["direct", "email", "search", "social"]
    assert frame.index.name == "channel"
    value = attribution.compare(
        table(RULES), models=["first_touch", "markov_2"], measure="value", value="value"
    )
    assert {"direct": 10.0, "email": 100.0, "search": 5.0, "social": 40.0} == value[
        "first_touch"
    ].to_dict()
    assert value["markov_2"].sum() == pytest.approx(155.0)


# --- validation ----------------------------------------------------------------------------

GOOD = table(HAND)


@pytest.mark.parametrize(
    ("call", "path", "code"),
    [
        (
            lambda: attribution.markov(GOOD, conversions="converted"),
            "$.paths.converted",
            "required",
        ),
        (lambda: attribution.markov(GOOD, nulls="missing"), "$.paths.missing", "required"),
        (lambda: attribution.markov(GOOD, order=0), "$.order", "range"),
        (lambda: attribution.markov(GOOD, order=5), "$.order", "range"),
        (lambda: attribution.markov(GOOD, order=True), "$.order", "range"),
        (lambda: attribution.markov(GOOD, order=1.0), "$.order", "range"),
        (lambda: attribution.markov(GOOD, sep=" "), "$.sep", "type"),
        (lambda: attribution.markov(GOOD, path=3), "$.path", "type"),
        (lambda: attribution.markov(GOOD, value=""), "$.value", "type"),
        (lambda: attribution.markov([1, 2]), "$.paths", "type"),
        (lambda: attribution.markov("/no/such/file.parquet"), "$.paths", "not_found"),
        (
            lambda: attribution.markov(GOOD.assign(conversions=[1, -1, 0])),
            "$.paths.conversions",
            "negative",
        ),
        (
            lambda: attribution.markov(GOOD.assign(nulls=[1.0, float("inf"), 0.0]), nulls="nulls"),
            "$.paths.nulls",
            "not_finite",
        ),
        (
            lambda: attribution.markov(GOOD.assign(nulls=[1.0, float("nan"), 0.0]), nulls="nulls"),
            "$.paths.nulls",
            "null",
        ),
        (
            lambda: attribution.markov(GOOD.assign(conversions=["1", "1", "0"])),
            "$.paths.conversions",
            "type",
        ),
        (
            lambda: attribution.markov(GOOD.assign(conversions=pd.array([1, None, 0], "Int64"))),
            "$.paths.conversions",
            "null",
        ),
        (lambda: attribution.markov(GOOD.assign(path=[1, 2, 3])), "$.paths.path", "type"),
        (lambda: attribution.markov(GOOD.assign(path=[1, "a", "b"])), "$.paths.path", "type"),
        (lambda: attribution.markov(GOOD.assign(path=["a", None, "b"])), "$.paths.path", "null"),
        (lambda: attribution.markov(GOOD.assign(path=["a", "", "b"])), "$.paths.path", "empty"),
        (
            lambda: attribution.markov(GOOD.assign(path=["a", "a >> b", "b"])),
            "$.paths.path",
            "empty",
        ),
        (lambda: attribution.linear(GOOD.assign(path=["a >", "b", "c"])), "$.paths.path", "empty"),
        (
            lambda: attribution.markov(GOOD.assign(value=[1.0, 2.0, 3.0]), value="value"),
            "$.paths.value",
            "without_conversions",
        ),
        (lambda: attribution.last_non_direct(GOOD, direct=None), "$.direct", "type"),
        (lambda: attribution.position_based(GOOD, first=0.7), "$.last", "range"),
        (lambda: attribution.position_based(GOOD, first=-0.1), "$.first", "range"),
        (lambda: attribution.position_based(GOOD, last="0.4"), "$.last", "range"),
        (lambda: attribution.shapley(GOOD, worth="clicks"), "$.worth", "choice"),
        (lambda: attribution.shapley(GOOD, worth="rate"), "$.nulls", "required"),
        (lambda: attribution.shapley(GOOD, max_exact=21), "$.max_exact", "range"),
        (lambda: attribution.shapley(GOOD, samples=0), "$.samples", "range"),
        (lambda: attribution.shapley(GOOD, seed=-1), "$.seed", "range"),
        (lambda: attribution.compare(GOOD, models=["markov", "magic"]), "$.models[1]", "choice"),
        (lambda: attribution.compare(GOOD, models="markov"), "$.models", "type"),
        (lambda: attribution.compare(GOOD, models=[]), "$.models", "type"),
        (lambda: attribution.compare(GOOD, measure="value"), "$.value", "required"),
        (lambda: attribution.compare(GOOD, measure="revenue"), "$.measure", "choice"),
    ],
)
def test_bad_input_names_the_field(call, path, code):
    """Each mistake is a ValidationError at the field's JSON path, with a stable code."""
    with pytest.raises(ValidationError) as caught:
        call()
    assert [(path, code)] == [(e.path, e.code) for e in caught.value.errors]


def test_every_missing_column_is_named():
    """Two missing columns: two errors, each at its column."""
    with pytest.raises(ValidationError) as caught:
        attribution.markov(GOOD, conversions="c", nulls="n")
    assert ["$.paths.c", "$.paths.n"] == [e.path for e in caught.value.errors]


# --- paths from touchpoints ----------------------------------------------------------------


def log(rows):
    """A touchpoints log from (profile, channel, days after T0, conversion[, value]) tuples."""
    return pd.DataFrame(
        {
            "profile_id": [r[0] for r in rows],
            "channel": [r[1] for r in rows],
            "timestamp": [T0 + r[2] * DAY for r in rows],
            "conversion": [r[3] for r in rows],
            "revenue": [float(r[4]) if len(r) > 4 else 0.0 for r in rows],
        }
    )


def as_rows(frame):
    return [tuple(row) for row in frame.itertuples(index=False)]


def test_paths_follow_each_customer_up_to_each_conversion():
    """Touches since the previous conversion and within the lookback; trailing touches are null."""
    touches = log(
        [
            ("p1", "search", 0, False),
            ("p1", "email", 1, False),
            ("p1", "web", 2, True, 30),
            ("p1", "display", 3, False),
            ("p1", "email", 40, False),  # the display touch is 38 days before: out of lookback
            ("p1", "web", 41, True, 20),
            ("p1", "social", 42, False),
            ("p2", "search", 5, False),
            ("p2", "search", 6, False),
            ("p3", "email", 1, True, 5),  # a touch in the conversion's own row does not count
        ]
    )
    frame = attribution.paths_from_touchpoints(touches, value="revenue")
    assert [
        ("email", 1, 20.0, 0),
        ("search > email", 1, 30.0, 0),
        ("search > search", 0, 0.0, 1),
        ("social", 0, 0.0, 1),
    ] == as_rows(frame)
    assert frame.attrs == {"conversions_without_touches": 1, "value_without_touches": 5.0}


def test_store_purchases_credit_online_touches_and_the_reverse():
    """Rows keyed by the resolved profile: a store purchase credits the web and e-mail before it.

    And a store visit counts for the online purchase after it.
    """
    touches = log(
        [
            ("profile-1", "web", 0, False),
            ("profile-1", "email", 1, False),
            ("profile-1", "store", 2, True, 80),
            ("profile-2", "store", 0, False),
            ("profile-2", "web", 1, True, 40),
        ]
    )
    frame = attribution.paths_from_touchpoints(touches, value="revenue")
    assert [("store", 1, 40.0, 0), ("web > email", 1, 80.0, 0)] == sorted(as_rows(frame))
    credited = by_channel(attribution.linear(frame, value="value"), "value")
    assert {"email": 40.0, "store": 40.0, "web": 40.0} == credited


def test_lookback_edges_and_ties():
    """A touch exactly lookback before counts, a microsecond earlier not; a tie in time counts."""
    touches = pd.DataFrame(
        {
            "profile_id": ["p"] * 4,
            "channel": ["old", "edge", "same", None],
            "timestamp": [
                T0 - dt.timedelta(days=7, microseconds=1),
                T0 - dt.timedelta(days=7),
                T0,
                T0,
            ],
            "conversion": [0, 0, 0, 1],
        }
    )
    frame = attribution.paths_from_touchpoints(touches, lookback=dt.timedelta(days=7), sep="|")
    assert [("edge|same", 1, 0)] == as_rows(frame)
    unlimited = attribution.paths_from_touchpoints(touches, lookback=None)
    assert [("old > edge > same", 1, 0)] == as_rows(unlimited)


def test_dates_and_naive_timestamps_are_read_as_written():
    """A DATE column and naive timestamps: days apart as written, no time zone involved."""
    days = pd.DataFrame(
        {
            "profile_id": ["p", "p", "p"],
            "channel": ["email", "web", None],
            "timestamp": [dt.date(2024, 3, 30), dt.date(2024, 3, 31), dt.date(2024, 4, 6)],
            "conversion": [False, False, True],
        }
    )
    # Seven days to the e-mail, six to the web visit: weights 1/2 and 2**(-6/7).
    expected = {"email": 0.5 / (0.5 + 2 ** (-6 / 7)), "web": 2 ** (-6 / 7) / (0.5 + 2 ** (-6 / 7))}
    for frame in (days, days.assign(timestamp=pd.to_datetime(days["timestamp"]))):
        assert expected == pytest.approx(by_channel(attribution.time_decay(frame)))


def test_conversion_rows_can_be_touches():
    """With conversion_touches, the converting session is the last touch of its own path."""
    sessions = log(
        [
            ("p", "search", 0, False),
            ("p", "email", 1, True),
            ("p", "direct", 2, True),
        ]
    )
    frame = attribution.paths_from_touchpoints(sessions, conversion_touches=True)
    assert [("direct", 1, 0), ("search > email", 1, 0)] == as_rows(frame)


def test_paths_from_touchpoints_feed_the_models():
    """A log from DuckDB, its paths into Markov: the attributed conversions add up."""
    import duckdb

    touches = log(
        [
            ("a", "web", 0, False),
            ("a", "store", 1, True),
            ("b", "web", 0, False),
            ("c", "email", 0, False),
            ("c", "web", 1, False),
            ("c", "web", 2, True),
        ]
    )
    relation = duckdb.from_df(touches)
    paths = attribution.paths_from_touchpoints(relation)
    result = attribution.markov(paths, nulls="nulls")
    assert sum(by_channel(result).values()) == pytest.approx(2.0)


def test_time_decay_halves_weight_every_half_life():
    """Touches 0 and 7 days before a conversion weigh 1 and 1/2: two thirds and one third."""
    touches = log(
        [
            ("p", "email", 0, False),
            ("p", "web", 7, False),
            ("p", None, 7, True, 90),
            ("q", None, 3, True, 10),  # no touch: not attributed, counted
        ]
    )
    result = attribution.time_decay(touches, value="revenue")
    assert {"email": 1 / 3, "web": 2 / 3} == pytest.approx(by_channel(result))
    assert {"email": 30.0, "web": 60.0} == pytest.approx(by_channel(result, "value"))
    assert {
        "conversions": 2,
        "value": 100.0,
        "conversions without touches": 1,
        "value without touches": 10.0,
    } == result.figures
    assert result.title == "Time-decay attribution (half-life 7 days)"
    slow = attribution.time_decay(touches, half_life=dt.timedelta(days=70))
    assert by_channel(slow)["email"] == pytest.approx(1 / (1 + 2**0.1))
    assert "value" not in slow.frame.columns
    hours = attribution.time_decay(touches, half_life=dt.timedelta(hours=12))
    assert hours.title == "Time-decay attribution (half-life 12:00:00)"
    day = attribution.time_decay(touches, half_life=DAY)
    assert day.title == "Time-decay attribution (half-life 1 day)"


@pytest.mark.parametrize(
    ("call", "path", "code"),
    [
        (
            lambda t: attribution.paths_from_touchpoints(t, customer="user"),
            "$.touchpoints.user",
            "required",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(t.assign(timestamp="2024-05-01")),
            "$.touchpoints.timestamp",
            "type",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(t.assign(conversion=[0, 2, 1])),
            "$.touchpoints.conversion",
            "range",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(t.assign(conversion=["no", "no", "yes"])),
            "$.touchpoints.conversion",
            "type",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(t.assign(channel=["web", None, None])),
            "$.touchpoints.channel",
            "empty",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(t.assign(channel=[1, 2, 3])),
            "$.touchpoints.channel",
            "type",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(t.assign(channel=["a > b", "c", "d"])),
            "$.touchpoints.channel",
            "separator",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(t.assign(profile_id=[None, "p", "p"])),
            "$.touchpoints.profile_id",
            "null",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(
                t.assign(revenue=[0.0, 0.0, -1.0]), value="revenue"
            ),
            "$.touchpoints.revenue",
            "range",
        ),
        (
            lambda t: attribution.paths_from_touchpoints(t, value="channel"),
            "$.touchpoints.channel",
            "type",
        ),
        (lambda t: attribution.paths_from_touchpoints(t, lookback=DAY * -1), "$.lookback", "type"),
        (lambda t: attribution.paths_from_touchpoints(t, lookback=30), "$.lookback", "type"),
        (
            lambda t: attribution.paths_from_touchpoints(t, conversion_touches=1),
            "$.conversion_touches",
            "type",
        ),
        (lambda t: attribution.time_decay(t, half_life=None), "$.half_life", "type"),
        (lambda t: attribution.paths_from_touchpoints(t, sep=""), "$.sep", "type"),
    ],
)
def test_bad_touchpoints_name_the_field(call, path, code):
    """Each mistake in a touchpoints log is a ValidationError at the column or argument."""
    touches = log([("p", "web", 0, False), ("p", "email", 1, False), ("p", "web", 2, True)])
    with pytest.raises(ValidationError) as caught:
        call(touches)
    assert [(path, code)] == [(e.path, e.code) for e in caught.value.errors]
