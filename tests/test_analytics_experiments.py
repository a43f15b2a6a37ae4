"""Experiment results: every figure checked on small hand-computed data and by properties."""

from __future__ import annotations

import datetime as dt
import math

import pytest

pytest.importorskip("duckdb")
pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")
stats = pytest.importorskip("scipy.stats")
special = pytest.importorskip("scipy.special")

from hypothesis import given, settings  # noqa: E402 - after the extras are known to be there
from hypothesis import strategies as st  # noqa: E402

from omnichannel.analytics._experiments import (  # noqa: E402
    ExperimentResult,
    assignments_from_enrollments,
    experiment,
)
from omnichannel.analytics._frames import connect  # noqa: E402
from omnichannel.errors import ValidationError  # noqa: E402

T0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)


def counts(**arms):
    """``from_counts`` of ``name=(users, conversions)``."""
    return ExperimentResult.from_counts(arms)


def paths_of(info):
    return [(e.path, e.code) for e in info.value.errors]


# --- hand-computed ---------------------------------------------------------------------------


def test_two_arms_match_the_hand_computation():
    """Control 1000/100 against treatment 1000/130: lift, Wald CI, pooled z-test, Katz CI."""
    # p0 = 0.10, p1 = 0.13, lift = 0.03.
    # Pooled: p = 230 / 2000 = 0.115; SE = sqrt(0.115 * 0.885 * (1/1000 + 1/1000))
    #   = sqrt(0.101775 * 0.002) = sqrt(0.00020355) = 0.0142671
    #   z = 0.03 / 0.0142671 = 2.10274, p = 2 * (1 - Phi(2.10274)) = 0.035488.
    # Wald: SE = sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000) = sqrt(0.0002031) = 0.0142513;
    #   z(0.975) = 1.959964: 0.03 -/+ 0.0279321 = [0.0020679, 0.0579321].
    # Katz: SE(log RR) = sqrt(1/130 - 1/1000 + 1/100 - 1/1000) = 0.1252689;
    #   RR = 1.3: exp(log 1.3 -/+ 1.959964 * 0.1252689) - 1 = [0.0169843, 0.6617759].
    row = counts(control=(1000, 100), treatment=(1000, 130)).frame.loc["treatment"]
    assert 0.13 == pytest.approx(row["rate"])
    assert 0.03 == pytest.approx(row["lift"])
    assert 0.3 == pytest.approx(row["relative_lift"])
    assert 2.10274 == pytest.approx(row["z"], abs=1e-5)
    assert 0.035488 == pytest.approx(row["p_value"], abs=1e-6)
    assert 0.0020679 == pytest.approx(row["lift_low"], abs=1e-7)
    assert 0.0579321 == pytest.approx(row["lift_high"], abs=1e-7)
    assert 0.0169843 == pytest.approx(row["relative_lift_low"], abs=1e-7)
    assert 0.6617759 == pytest.approx(row["relative_lift_high"], abs=1e-7)
    assert bool(row["significant"])


def test_the_z_test_agrees_with_scipy_and_the_chi_square_of_the_table():
    """z is the formula computed apart, and z squared is the 2x2 chi-square (no correction)."""
    n1, x1, n0, x0 = 2400, 311, 2350, 262
    row = counts(control=(n0, x0), b=(n1, x1)).frame.loc["b"]
    pooled = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    assert z == pytest.approx(row["z"], rel=1e-12)
    assert 2 * stats.norm.sf(abs(z)) == pytest.approx(row["p_value"], rel=1e-12)
    table = [[x1, n1 - x1], [x0, n0 - x0]]
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert chi2 == pytest.approx(row["z"] ** 2, rel=1e-9)
    assert p == pytest.approx(row["p_value"], rel=1e-9)


def test_alpha_sets_the_interval_level():
    """At alpha = 0.10 the Wald interval uses z(0.95) = 1.644854."""
    row = ExperimentResult.from_counts(
        {"control": (1000, 100), "b": (1000, 130)}, alpha=0.10
    ).frame.loc["b"]
    # 0.03 -/+ 1.6448536 * 0.0142513 = 0.03 -/+ 0.0234414.
    assert 0.0065586 == pytest.approx(row["lift_low"], abs=1e-7)
    assert 0.0534414 == pytest.approx(row["lift_high"], abs=1e-7)


def test_probability_to_beat_by_hand_on_one_person_each():
    """Arm 1/1 against control 0/1: P(Beta(2,1) > Beta(1,2)) = 5/6; loss = 1/30."""
    # f_arm(x) = 2x, F_control(x) = 1 - (1-x)^2 = 2x - x^2:
    #   P = int_0^1 2x (2x - x^2) dx = 4/3 - 1/2 = 5/6.
    # Loss E[max(Y - X, 0)], X ~ 2x, Y ~ 2(1-y):
    #   int_0^1 int_x^1 (y - x) 2(1-y) dy 2x dx = int_0^1 2x (1-x)^3 / 3 dx = (2/3) B(2, 4) = 1/30.
    row = counts(control=(1, 0), arm=(1, 1)).frame.loc["arm"]
    assert 5 / 6 == pytest.approx(row["prob_beat_control"], abs=1e-10)
    assert 1 / 30 == pytest.approx(row["expected_loss"], abs=1e-10)


def test_equal_uniform_posteriors():
    """No data beyond 0/0 cannot be: with 1/2 and 1/2, P = 1/2 exactly (the same posterior)."""
    row = counts(control=(2, 1), arm=(2, 1)).frame.loc["arm"]
    assert 0.5 == pytest.approx(row["prob_beat_control"], abs=1e-10)


def exact_beat(a1, b1, a0, b0):
    """P(Beta(a1, b1) > Beta(a0, b0)) by Evan Miller's closed form (integer a1)."""
    i = np.arange(int(a1))
    terms = special.betaln(a0 + i, b0 + b1) - np.log(b1 + i)
    terms -= special.betaln(1 + i, b1) + special.betaln(a0, b0)
    return float(np.exp(terms).sum())


@pytest.mark.parametrize(
    ("arm", "control"),
    [
        ((1000, 130), (1000, 100)),
        ((50, 3), (60, 9)),
        ((7, 0), (9, 9)),
        ((20_000, 1_050), (20_000, 1_000)),
    ],
)
def test_probability_to_beat_matches_the_closed_form(arm, control):
    """The integral agrees with the exact sum for Beta posteriors with integer parameters."""
    row = counts(control=control, arm=arm).frame.loc["arm"]
    (n1, x1), (n0, x0) = arm, control
    assert exact_beat(1 + x1, 1 + n1 - x1, 1 + x0, 1 + n0 - x0) == pytest.approx(
        row["prob_beat_control"], abs=1e-9
    )


def test_bayesian_figures_match_a_seeded_monte_carlo():
    """P(beat) and the expected loss agree with 400,000 seeded draws from the posteriors."""
    row = counts(control=(500, 40), arm=(480, 47)).frame.loc["arm"]
    rng = np.random.default_rng(0)
    arm = rng.beta(1 + 47, 1 + 480 - 47, 400_000)
    control = rng.beta(1 + 40, 1 + 500 - 40, 400_000)
    # Standard errors of the means: about 0.0007 for P, 0.00001 for the loss.
    assert (arm > control).mean() == pytest.approx(row["prob_beat_control"], abs=0.003)
    assert np.maximum(control - arm, 0).mean() == pytest.approx(row["expected_loss"], abs=5e-5)


def test_holm_corrects_several_arms():
    """Three arms: Holm multiplies the sorted p-values by 3, 2, 1 and keeps them monotone."""
    result = counts(control=(1000, 100), b=(1000, 130), c=(1000, 125), d=(1000, 103))
    frame = result.frame
    raw = frame.loc[["b", "c", "d"], "p_value"]
    # Sorted: b < c < d; Holm: 3 p_b, max(3 p_b, 2 p_c), max(.., 1 p_d), capped at 1.
    expected_b = min(1.0, 3 * raw["b"])
    expected_c = max(expected_b, min(1.0, 2 * raw["c"]))
    expected_d = max(expected_c, min(1.0, raw["d"]))
    assert [expected_b, expected_c, expected_d] == pytest.approx(
        frame.loc[["b", "c", "d"], "p_value_holm"].tolist()
    )
    # b alone is below 0.05 (0.0355) and 3 x 0.0355 is not: nothing is significant.
    assert raw["b"] < 0.05
    assert not frame["significant"].any()
    assert result.winner is None
    assert any("Holm" in note for note in result.notes)


def test_holm_by_hand():
    """Holm keeps the adjusted p-values in the order of the raw ones, and caps them at 1."""
    from omnichannel.analytics._experiments import _holm

    # Sorted 0.01 < 0.012 < 0.5: 3 x 0.01 = 0.03; 2 x 0.012 = 0.024, raised to 0.03; 0.5.
    assert [0.03, 0.03, 0.5] == pytest.approx(_holm([0.012, 0.01, 0.5]))
    # 2 x 0.6 = 1.2, capped at 1; then max(1, 0.7) = 1.
    assert [1.0, 1.0] == pytest.approx(_holm([0.7, 0.6]))


def test_a_single_arm_is_not_corrected():
    """With one arm against the control, the Holm p-value is the p-value."""
    frame = counts(control=(1000, 100), b=(1000, 130)).frame
    assert frame.loc["b", "p_value"] == frame.loc["b", "p_value_holm"]


# --- sample-ratio mismatch -------------------------------------------------------------------


def test_srm_flags_5000_against_4000_in_a_50_50_design():
    """Chi-square = 2 x 500^2 / 4500 = 111.1: flagged, said loudly, and no winner."""
    result = counts(control=(5000, 500), b=(4000, 600))
    assert 1e-30 < result.srm_p_value < 1e-20
    assert 111.1111 == pytest.approx(result.srm_chi2, abs=1e-4)
    assert stats.chisquare([5000, 4000]).pvalue == pytest.approx(result.srm_p_value, rel=1e-9)
    assert result.srm
    assert result.notes[0].startswith("SAMPLE RATIO MISMATCH")
    # b is far better (15 % against 10 %), but the result cannot be trusted.
    assert result.frame.loc["b", "significant"]
    assert result.winner is None
    assert "do not trust" in result._repr_html_()


def test_srm_does_not_flag_5000_against_5010():
    """Chi-square = 2 x 5^2 / 5005 = 0.00999, p = 0.92."""
    result = counts(control=(5000, 500), b=(5010, 600))
    assert 0.92038 == pytest.approx(result.srm_p_value, abs=1e-5)
    assert not result.srm
    assert result.winner == "b"


def test_srm_uses_the_designed_weights():
    """6000 against 3000 fits a 2:1 design, not an equal one; the check matches scipy's."""
    arms = {"control": (6000, 600), "b": (3000, 330)}
    weighted = ExperimentResult.from_counts(arms, expected={"control": 2, "b": 1})
    assert 1.0 == pytest.approx(weighted.srm_p_value)
    assert [2 / 3, 1 / 3] == pytest.approx(weighted.frame["expected_share"].tolist())
    equal = ExperimentResult.from_counts(arms)
    assert equal.srm
    three = ExperimentResult.from_counts(
        {"control": (5100, 0), "b": (2400, 0), "c": (2600, 0)},
        expected={"control": 0.5, "b": 0.25, "c": 0.25},
    )
    expected = stats.chisquare([5100, 2400, 2600], [5050, 2525, 2525])
    assert expected.pvalue == pytest.approx(three.srm_p_value, rel=1e-9)


# --- degenerate cases ------------------------------------------------------------------------


@pytest.mark.parametrize(("control", "arm"), [((100, 0), (50, 0)), ((100, 100), (50, 50))])
def test_equal_rates_at_zero_or_one_give_p_one_and_say_why(control, arm):
    """Both at 0 % or both at 100 %: p = 1, z = 0, a note; no NaN in the test."""
    result = counts(control=control, arm=arm)
    row = result.frame.loc["arm"]
    assert 1.0 == row["p_value"]
    assert 0.0 == row["z"]
    assert 0.0 == row["lift"]
    assert not math.isnan(row["prob_beat_control"])
    assert any("nothing to tell them apart" in note for note in result.notes)


def test_a_control_converting_no_one_leaves_the_relative_lift_undefined_and_says_so():
    """p0 = 0: relative lift is NaN, with a note; the absolute lift and the test stand."""
    result = counts(control=(100, 0), arm=(100, 10))
    row = result.frame.loc["arm"]
    assert math.isnan(row["relative_lift"])
    assert 0.1 == pytest.approx(row["lift"])
    assert 0 < row["p_value"] < 0.01
    assert any("relative lift" in note for note in result.notes)
    assert any("Fewer than 5" in note for note in result.notes)


def test_the_control_row_compares_with_nothing():
    """The control's own comparison columns are NaN, and it is never significant."""
    row = counts(control=(100, 10), arm=(100, 20)).frame.loc["control"]
    assert math.isnan(row["lift"])
    assert math.isnan(row["p_value"])
    assert not row["significant"]


# --- properties ------------------------------------------------------------------------------

arm_counts = st.integers(1, 1_000_000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))


@settings(max_examples=50)  # each example integrates twice: keep the file under 10 s
@given(arm_counts, arm_counts)
def test_swapping_the_arms_mirrors_the_comparison(first, second):
    """p in [0, 1] and the same both ways; lift, z, the interval flip; P(beat) adds to 1."""
    one = counts(control=first, arm=second).frame.loc["arm"]
    two = counts(control=second, arm=first).frame.loc["arm"]
    assert 0.0 <= one["p_value"] <= 1.0
    assert one["p_value"] == pytest.approx(two["p_value"], rel=1e-9, abs=1e-300)
    assert one["lift"] == pytest.approx(-two["lift"], abs=1e-15)
    assert one["z"] == pytest.approx(-two["z"], rel=1e-9, abs=1e-12)
    assert one["lift_low"] == pytest.approx(-two["lift_high"], abs=1e-12)
    assert one["lift_low"] <= one["lift"] <= one["lift_high"]
    assert 1.0 == pytest.approx(one["prob_beat_control"] + two["prob_beat_control"], abs=1e-7)
    assert 0.0 <= one["expected_loss"] <= 1.0
    # E[max(Y - X, 0)] - E[max(X - Y, 0)] = E[Y] - E[X], the posterior means' difference.
    (n0, x0), (n1, x1) = first, second
    means = (1 + x0) / (2 + n0) - (1 + x1) / (2 + n1)
    assert means == pytest.approx(one["expected_loss"] - two["expected_loss"], abs=1e-7)


@settings(max_examples=50)
@given(st.lists(arm_counts, min_size=2, max_size=5))
def test_every_p_value_is_a_probability_and_holm_never_lowers_it(arms):
    """p, Holm-adjusted p and P(beat) stay in [0, 1]; Holm's is at least the raw p-value."""
    result = ExperimentResult.from_counts(
        {f"a{n}" if n else "control": a for n, a in enumerate(arms)}
    )
    others = result.frame.drop(index="control")
    assert others["p_value"].between(0, 1).all()
    assert others["p_value_holm"].between(0, 1).all()
    assert (others["p_value_holm"] >= others["p_value"]).all()
    assert others["prob_beat_control"].between(0, 1).all()
    assert 0 <= result.srm_p_value <= 1


# --- from raw tables -------------------------------------------------------------------------


def test_conversions_are_counted_from_events_after_the_assignment_and_in_the_window():
    """Only a conversion event at or after assigned_at and before assigned_at + window counts."""
    day = dt.timedelta(days=1)
    assignments = pd.DataFrame(
        {
            "profile_id": ["a", "b", "c", "d", "e", "f", "f"],
            "arm": ["control", "control", "control", "new", "new", "new", "new"],
            "assigned_at": [T0] * 6 + [T0 + day],
        }
    )
    events = pd.DataFrame(
        {
            "profile_id": ["a", "b", "c", "d", "d", "e", "f", "zz"],
            "event": [
                "Order Completed",
                "Order Completed",
                "Page Viewed",
                "Order Completed",
                "Order Completed",
                "Order Completed",
                "Order Completed",
                "Order Completed",
            ],
            "timestamp": [
                T0 - day,
                T0,
                T0 + day,
                T0 + day,
                T0 + 2 * day,
                T0 + 7 * day,
                T0 + day,
                T0,
            ],
            "revenue": [5.0, 10.0, None, 20.0, 30.0, 40.0, 50.0, 60.0],
        }
    )
    # a bought before the assignment; b at the very moment (counts); c only viewed;
    # d twice; e just as the 7-day window closed (it is half-open); f is assigned twice to new (the earliest counts);
    # zz was never assigned.
    result = experiment(assignments, events, window=dt.timedelta(days=7))
    frame = result.frame
    assert {"control": 3, "new": 3} == frame["users"].to_dict()
    assert {"control": 1, "new": 2} == frame["conversions"].to_dict()
    assert {"control": 10.0, "new": 100.0} == frame["revenue"].to_dict()
    assert {"control": 10 / 3, "new": 100 / 3} == pytest.approx(frame["revenue_per_user"].to_dict())
    # Without a window, e's late order counts too.
    unbounded = experiment(assignments, events)
    assert 3 == unbounded.frame.loc["new", "conversions"]


def test_without_assigned_at_every_conversion_counts():
    """Assignments with no times: any conversion event of the person counts."""
    assignments = pd.DataFrame({"profile_id": ["a", "b"], "arm": ["control", "new"]})
    events = pd.DataFrame(
        {
            "profile_id": ["a", "b"],
            "event": ["Signed Up", "Signed Up"],
            "timestamp": [T0, T0],
        }
    )
    frame = experiment(assignments, events, conversion_event="Signed Up").frame
    assert {"control": 1, "new": 1} == frame["conversions"].to_dict()
    assert "revenue" not in frame.columns


def test_people_in_two_arms_are_left_out_and_counted():
    """A person assigned to both arms is excluded from both, with a note."""
    assignments = pd.DataFrame(
        {
            "profile_id": ["a", "b", "c", "c", "d"],
            "arm": ["control", "control", "control", "new", "new"],
            "converted": [1, 0, 1, 1, 1],
        }
    )
    result = experiment(assignments)
    assert {"control": 2, "new": 1} == result.frame["users"].to_dict()
    assert 1 == result.excluded
    assert any("more than one arm" in note for note in result.notes)
    assert "excluded (in several arms)" in str(result)


def test_converted_column_as_booleans_with_values():
    """Assignments carrying the outcome: converted (bool) and value; repeated rows merge."""
    assignments = pd.DataFrame(
        {
            "user": ["a", "b", "b", "c", "d"],
            "variant": ["A", "A", "A", "B", "B"],
            "converted": [True, False, True, True, False],
            "value": [10.0, None, 5.0, 7.5, None],
        }
    )
    frame = experiment(assignments, control="A", arm="variant", customer="user").frame
    assert {"A": 2, "B": 2} == frame["users"].to_dict()
    assert {"A": 2, "B": 1} == frame["conversions"].to_dict()
    assert {"A": 15.0, "B": 7.5} == frame["revenue"].to_dict()


def test_from_counts_reads_tables_as_well():
    """A summarized table (arm, users, conversions, revenue) in pandas, Arrow or polars."""
    table = pd.DataFrame(
        {
            "variant": ["b", "control"],
            "users": [1000, 1000],
            "conversions": [130, 100],
            "revenue": [1300.0, 900.0],
        }
    )
    pyarrow = pytest.importorskip("pyarrow")
    polars = pytest.importorskip("polars")
    for form in (table, pyarrow.Table.from_pandas(table), polars.from_pandas(table)):
        result = ExperimentResult.from_counts(form, arm="variant", connection=connect())
        assert ["control", "b"] == result.frame.index.tolist()
        assert {"control": 0.9, "b": 1.3} == result.frame["revenue_per_user"].to_dict()
        assert 0.035488 == pytest.approx(result.frame.loc["b", "p_value"], abs=1e-6)


def test_a_result_shows_itself():
    """The HTML and the text name the title, the figures, the notes and the arms."""
    result = counts(control=(1000, 100), b=(1000, 130))
    html = result._repr_html_()
    assert "<h4>Experiment: 1 arm against &#x27;control&#x27;</h4>" in html
    assert "winner" in html
    text = str(result)
    assert "winner: b" in text
    assert result.to_frame() is result.frame
    assert "Experiment" in result.as_result().title


def test_winner_is_the_best_significant_arm_and_never_a_loser():
    """The highest-rate arm with a significant positive lift; none when lifts are negative."""
    assert "c" == counts(control=(5000, 500), b=(5000, 600), c=(5000, 700)).winner
    assert counts(control=(5000, 600), b=(5000, 500)).winner is None
    assert counts(control=(100, 10), b=(100, 12)).winner is None


# --- validation ------------------------------------------------------------------------------


def assignments_frame(**extra):
    return pd.DataFrame({"profile_id": ["a", "b"], "arm": ["control", "b"], **extra})


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda: experiment(pd.DataFrame({"profile_id": ["a"]})),
            [("$.assignments.arm", "required"), ("$.assignments.converted", "required")],
        ),
        (
            lambda: experiment(assignments_frame(converted=[1, 0]), control="x"),
            [("$.control", "unknown_arm")],
        ),
        (
            lambda: experiment(assignments_frame(converted=[1, 2])),
            [("$.assignments.converted", "out_of_range")],
        ),
        (
            lambda: experiment(assignments_frame(converted=["y", "n"])),
            [("$.assignments.converted", "type")],
        ),
        (
            lambda: experiment(assignments_frame(converted=[1, None])),
            [("$.assignments.converted", "null")],
        ),
        (
            lambda: experiment(
                pd.DataFrame(
                    {"profile_id": ["a", None], "arm": ["control", None], "converted": [1, 0]}
                )
            ),
            [("$.assignments.profile_id", "null"), ("$.assignments.arm", "null")],
        ),
        (
            lambda: experiment(assignments_frame(converted=[1, 0], value=["x", "y"])),
            [("$.assignments.value", "type")],
        ),
        (
            lambda: experiment(assignments_frame(converted=[1, 0]), window=dt.timedelta(days=1)),
            [("$.window", "invalid")],
        ),
        (
            lambda: experiment(
                assignments_frame(), pd.DataFrame({"profile_id": ["a"], "event": ["x"]})
            ),
            [("$.conversions.timestamp", "required")],
        ),
        (
            lambda: experiment(
                assignments_frame(),
                pd.DataFrame({"profile_id": ["a"], "event": ["x"], "timestamp": [T0]}),
                window=dt.timedelta(days=1),
            ),
            [("$.window", "invalid")],
        ),
        (
            lambda: experiment(
                assignments_frame(assigned_at=[T0, T0]),
                pd.DataFrame({"profile_id": ["a"], "event": ["x"], "timestamp": [T0]}),
                window=dt.timedelta(0),
            ),
            [("$.window", "invalid")],
        ),
        (
            lambda: experiment(
                assignments_frame(assigned_at=["x", "y"]),
                pd.DataFrame({"profile_id": ["a"], "event": ["x"], "timestamp": [T0]}),
            ),
            [("$.assignments.assigned_at", "type")],
        ),
        (
            lambda: experiment(
                assignments_frame(assigned_at=[T0, None]),
                pd.DataFrame({"profile_id": ["a"], "event": ["x"], "timestamp": [T0]}),
            ),
            [("$.assignments.assigned_at", "null")],
        ),
        (
            lambda: experiment(
                assignments_frame(),
                pd.DataFrame(
                    {"profile_id": ["a"], "event": ["x"], "timestamp": [T0], "revenue": ["lots"]}
                ),
            ),
            [("$.conversions.revenue", "type")],
        ),
        (
            lambda: experiment(
                assignments_frame(),
                pd.DataFrame({"profile_id": ["a"], "event": ["x"], "timestamp": [T0]}),
                conversion_event="",
            ),
            [("$.conversion_event", "type")],
        ),
        (lambda: experiment([1, 2]), [("$.assignments", "type")]),
        (
            lambda: experiment(assignments_frame(converted=[1, 0]), customer=3),
            [("$.customer", "type")],
        ),
        (lambda: counts(control=(100, 10)), [("$.arm", "empty")]),
        (lambda: counts(control=(100, 10), b=(0, 0)), [("$.counts.users", "empty")]),
        (lambda: counts(control=(100, 10), b=(-5, 0)), [("$.counts.b[0]", "out_of_range")]),
        (lambda: counts(control=(100, 10), b=(100, -1)), [("$.counts.b[1]", "out_of_range")]),
        (lambda: counts(control=(100, 10), b=(100, 1.5)), [("$.counts.b[1]", "type")]),
        (lambda: counts(control=(100, 10), b=(100, True)), [("$.counts.b[1]", "type")]),
        (lambda: counts(control=(100, 10), b=(100, 101)), [("$.counts.conversions", "too_large")]),
        (lambda: counts(control=(100, 10), b=(100,)), [("$.counts.b", "type")]),
        (lambda: ExperimentResult.from_counts({1: (100, 1)}), [("$.counts", "type")]),
        (
            lambda: ExperimentResult.from_counts(
                pd.DataFrame(
                    {"arm": ["control", "control"], "users": [1, 2], "conversions": [0, 0]}
                )
            ),
            [("$.counts.arm", "duplicate")],
        ),
        (
            lambda: ExperimentResult.from_counts(
                pd.DataFrame({"arm": ["control", "b"], "users": [1, 2]})
            ),
            [("$.counts.conversions", "required")],
        ),
        (
            lambda: ExperimentResult.from_counts(
                pd.DataFrame({"arm": ["control", "b"], "users": [10, -2], "conversions": [0, 0]})
            ),
            [("$.counts.users", "out_of_range")],
        ),
        (
            lambda: ExperimentResult.from_counts(
                pd.DataFrame({"arm": ["control", "b"], "users": [10, 2], "conversions": [0, 3]})
            ),
            [("$.counts.conversions", "too_large")],
        ),
        (
            lambda: ExperimentResult.from_counts(
                pd.DataFrame({"arm": ["control", "b"], "users": [10, 2.5], "conversions": [0, 0]})
            ),
            [("$.counts.users", "type")],
        ),
        (
            lambda: ExperimentResult.from_counts({"control": (10, 1), "b": (10, 1)}, alpha=0),
            [("$.alpha", "out_of_range")],
        ),
        (
            lambda: ExperimentResult.from_counts({"control": (10, 1), "b": (10, 1)}, alpha=1.5),
            [("$.alpha", "out_of_range")],
        ),
        (
            lambda: ExperimentResult.from_counts({"control": (10, 1), "b": (10, 1)}, alpha="5%"),
            [("$.alpha", "type")],
        ),
        (
            lambda: ExperimentResult.from_counts({"control": (10, 1), "b": (10, 1)}, alpha=True),
            [("$.alpha", "type")],
        ),
        (
            lambda: ExperimentResult.from_counts({"control": (10, 1), "b": (10, 1)}, srm_alpha=0.0),
            [("$.srm_alpha", "out_of_range")],
        ),
        (
            lambda: ExperimentResult.from_counts(
                {"control": (10, 1), "b": (10, 1)}, expected=[1, 1]
            ),
            [("$.expected", "type")],
        ),
        (
            lambda: ExperimentResult.from_counts(
                {"control": (10, 1), "b": (10, 1)}, expected={"control": 1}
            ),
            [("$.expected.b", "required")],
        ),
        (
            lambda: ExperimentResult.from_counts(
                {"control": (10, 1), "b": (10, 1)}, expected={"control": 1, "b": 1, "c": 1}
            ),
            [("$.expected.c", "empty")],
        ),
        (
            lambda: ExperimentResult.from_counts(
                {"control": (10, 1), "b": (10, 1)}, expected={"control": 1, "b": 0}
            ),
            [("$.expected.b", "out_of_range")],
        ),
        (
            lambda: ExperimentResult.from_counts({"control": (10, 1), "b": (10, 1)}, control=None),
            [("$.control", "type")],
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(call, expected):
    """Each bad argument or table is a ValidationError at its JSON path, with its code."""
    with pytest.raises(ValidationError) as info:
        call()
    assert expected == paths_of(info)


# --- from our own objects --------------------------------------------------------------------


def test_assignments_from_a_journey_split():
    """A live run's enrollments give one row per person, their group as arm, their entry time."""
    pendulum = pytest.importorskip("pendulum")
    from omnichannel.clock import FixedClock
    from omnichannel.delivery import Delivery
    from omnichannel.engine import Engine
    from omnichannel.journeys import Journey, JourneyRunner, OnEvent, Path, Split, Trigger, Wait
    from omnichannel.store import MemoryStore

    journey = Journey(
        key="ab-test",
        name="A/B",
        entry=OnEvent(event="Product Added"),
        goal=Trigger(event="Order Completed"),
        steps=(
            Split(key="ab", holdout=0.2, paths=(Path(name="a"), Path(name="b"))),
            Wait(key="w", seconds=3600),
        ),
    )
    clock = FixedClock(pendulum.datetime(2024, 3, 5, 14))
    engine = Engine(MemoryStore(), clock=clock)
    runner = JourneyRunner(engine, Delivery(engine), [journey], [])
    for n in range(60):
        engine.ingest({"type": "track", "userId": f"u{n}", "event": "Product Added"})
    runner.tick()
    enrollments = runner.enrollments("ab-test")
    frame = assignments_from_enrollments(enrollments)
    assert ["profile_id", "arm", "assigned_at"] == frame.columns.tolist()
    assert {e.profile_id: e.group for e in enrollments} == dict(
        zip(frame["profile_id"], frame["arm"], strict=True)
    )
    assert {"a", "b", "holdout"} == set(frame["arm"])
    assert (frame["assigned_at"] == pd.Timestamp("2024-03-05 14:00", tz="UTC")).all()
    result = experiment(frame.assign(converted=False), control="holdout")
    assert 60 == result.frame["users"].sum()


def test_assignments_from_enrollments_keep_each_persons_first_and_skip_the_ungrouped():
    """Without a group, left out; entered twice, the first entry; other objects refused."""
    pendulum = pytest.importorskip("pendulum")
    from omnichannel.journeys import Enrollment

    def enrollment(person, group, hour, journey="j"):
        at = pendulum.datetime(2024, 1, 1, hour)
        return Enrollment(
            id=f"{journey}:{person}:{hour}",
            journey=journey,
            profile_id=person,
            status="exited",
            step=None,
            entered_at=at,
            updated_at=at,
            group=group,
        )

    frame = assignments_from_enrollments(
        [
            enrollment("p1", "a", 5),
            enrollment("p1", "a", 3),
            enrollment("p2", "", 1),
            enrollment("p3", "holdout", 2),
        ]
    )
    assert [("p1", "a", 3), ("p3", "holdout", 2)] == [
        (p, a, t.hour) for p, a, t in frame.itertuples(index=False)
    ]
    with pytest.raises(ValidationError) as info:
        assignments_from_enrollments([enrollment("p1", "a", 1), enrollment("p2", "a", 1, "k")])
    assert [("$.enrollments", "invalid")] == paths_of(info)
    with pytest.raises(ValidationError) as info:
        assignments_from_enrollments([enrollment("p1", "a", 1), "p2"])
    assert [("$.enrollments[1]", "type")] == paths_of(info)
