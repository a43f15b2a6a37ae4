"""Customer value: rfm_summary, BG/NBD, Gamma-Gamma and CLV against lifetimes and the literature.

The reference figures are Fader, Hardie and Lee (2005) for the BG/NBD on the
CDNOW sample (39 weeks of calibration, to 1997-09-30: r = 0.243,
alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4) and Hardie's note 025 for
the Gamma-Gamma model on the same customers (p = 6.25, q = 3.74,
v = 15.44); everything else is compared with ``lifetimes`` 0.11.3, which
must agree on the same inputs.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pd = pytest.importorskip("pandas", reason="analytics need pandas")
np = pytest.importorskip("numpy", reason="analytics need NumPy")
duckdb = pytest.importorskip("duckdb", reason="analytics need DuckDB")
pytest.importorskip("scipy", reason="the models need SciPy")
with warnings.catch_warnings():
    # lifetimes sets pandas' mode.chained_assignment on import (Pandas4Warning in pandas 3).
    warnings.simplefilter("ignore")
    lifetimes = pytest.importorskip("lifetimes", reason="the reference implementation")
    from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value
    from lifetimes.utils import summary_data_from_transaction_data

from omnichannel.analytics import (  # noqa: E402 - after the skips
    BetaGeo,
    GammaGamma,
    customer_lifetime_value,
    rfm_summary,
)
from omnichannel.analytics._datasets import cdnow_sample  # noqa: E402
from omnichannel.errors import FitError, ValidationError  # noqa: E402

CALIBRATION_END = "1997-09-30"


@pytest.fixture(scope="module")
def cdnow_days():
    """The CDNOW calibration summary in days, with spend."""
    return rfm_summary(
        cdnow_sample(),
        customer_id_col="customer_id",
        datetime_col="date",
        monetary_value_col="amount",
        observation_period_end=CALIBRATION_END,
    )


@pytest.fixture(scope="module")
def cdnow_weeks(cdnow_days):
    """Frequency, recency and T in weeks (days / 7), as Fader, Hardie and Lee use them."""
    return cdnow_days.assign(recency=cdnow_days["recency"] / 7, T=cdnow_days["T"] / 7)


@pytest.fixture(scope="module")
def bg(cdnow_weeks):
    return BetaGeo.fit(cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"])


@pytest.fixture(scope="module")
def gg(cdnow_weeks):
    return GammaGamma.fit(cdnow_weeks["frequency"], cdnow_weeks["monetary_value"])


def _lifetimes_bg(model):
    fitter = lifetimes.BetaGeoFitter()
    fitter.params_ = pd.Series({"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b})
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter


def _lifetimes_gg(model):
    fitter = lifetimes.GammaGammaFitter()
    fitter.params_ = pd.Series({"p": model.p, "q": model.q, "v": model.v})
    return fitter


# --- rfm_summary -----------------------------------------------------------------------------


def test_rfm_summary_by_hand():
    """Two purchases on one day count once (amounts added); the first day is not a repeat."""
    transactions = pd.DataFrame(
        {
            "customer": ["ann", "ann", "ann", "ann", "bob", "cy"],
            "at": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 17:00",
                    "2024-01-11 12:00",
                    "2024-01-21 08:00",
                    "2024-01-05 10:00",
                    "2024-02-02 10:00",  # after the end: left out, and cy with it
                ]
            ),
            "amount": [10.0, 5.0, 20.0, 4.0, 7.0, 3.0],
        }
    )
    summary = rfm_summary(
        transactions,
        customer_id_col="customer",
        datetime_col="at",
        monetary_value_col="amount",
        observation_period_end="2024-01-31",
    )
    expected = pd.DataFrame(
        {
            "frequency": [2.0, 0.0],
            "recency": [20.0, 0.0],
            "T": [30.0, 26.0],
            "monetary_value": [12.0, 0.0],
        },
        index=pd.Index(["ann", "bob"], name="customer"),
    )
    pd.testing.assert_frame_equal(expected, summary, check_index_type=False)


def test_rfm_summary_weeks_hours_and_first_transaction():
    """Weeks start on Monday; hours divided by 24 give days; the first period can be counted."""
    transactions = pd.DataFrame(
        {
            "c": [1, 1, 1],
            "t": pd.to_datetime(["2024-01-07 23:00", "2024-01-08 01:00", "2024-01-09 13:00"]),
            "m": [1.0, 2.0, 6.0],
        }
    )
    weekly = rfm_summary(transactions, customer_id_col="c", datetime_col="t", freq="W")
    assert [1.0, 1.0, 1.0] == weekly.loc[1, ["frequency", "recency", "T"]].tolist()
    hourly = rfm_summary(
        transactions,
        customer_id_col="c",
        datetime_col="t",
        monetary_value_col="m",
        freq="h",
        freq_multiplier=24,
        include_first_transaction=True,
    )
    assert [3.0, 38 / 24, 38 / 24, 3.0] == hourly.loc[1].tolist()


def test_cdnow_summary_is_fader_hardie_lee(cdnow_weeks):
    """The 39-week summary of the CDNOW transactions is lifetimes' (and the paper's) to 2 decimals."""
    published = load_cdnow_summary(index_col=[0])
    spend = load_cdnow_summary_data_with_monetary_value()
    assert 2357 == len(cdnow_weeks)
    assert published["frequency"].tolist() == cdnow_weeks["frequency"].astype(int).tolist()
    assert published["recency"].tolist() == cdnow_weeks["recency"].round(2).tolist()
    assert published["T"].tolist() == cdnow_weeks["T"].round(2).tolist()
    # zbar is rounded half up in the source: compare within half a cent.
    assert np.all(
        np.abs(spend["monetary_value"].to_numpy() - cdnow_weeks["monetary_value"]) <= 0.005 + 1e-9
    )


def test_cdnow_summary_equals_lifetimes_on_the_raw_file():
    """On CDNOW's own file (dates written 19970101) both libraries give the same summary."""
    raw = pd.read_csv(
        lifetimes.datasets.resource_filename("lifetimes", "datasets/CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["master", "customer_id", "date", "quantity", "amount"],
        dtype={"date": str},
    )
    arguments = {
        "customer_id_col": "customer_id",
        "datetime_col": "date",
        "monetary_value_col": "amount",
        "observation_period_end": "19970930",
        "datetime_format": "%Y%m%d",
    }
    ours = rfm_summary(raw, **arguments)
    # Integers such as 19970101 are read with the format too (pandas 3 deprecates that).
    pd.testing.assert_frame_equal(ours, rfm_summary(raw.astype({"date": int}), **arguments))
    theirs = summary_data_from_transaction_data(
        raw,
        "customer_id",
        "date",
        monetary_value_col="amount",
        observation_period_end="19970930",
        datetime_format="%Y%m%d",
    )
    _assert_same_summary(theirs, ours)


def _assert_same_summary(theirs, ours):
    assert theirs.index.tolist() == ours.index.tolist()
    assert list(theirs.columns) == list(ours.columns)
    for column in ("frequency", "recency", "T"):
        assert theirs[column].tolist() == ours[column].tolist(), column
    if "monetary_value" in theirs:
        # Same sums, added in another order: equal to the last bits.
        np.testing.assert_allclose(
            ours["monetary_value"], theirs["monetary_value"], rtol=1e-12, atol=1e-9
        )


LIFETIMES_FREQS = ["D", "W", "h", "s", "ms", "us"]  # what lifetimes supports under pandas 3

_START = dt.datetime(2023, 12, 25)  # noqa: DTZ001 - naive, as the tables lifetimes reads


@st.composite
def transaction_tables(draw):
    """Small transaction tables: a few customers (numbers or names), times over about 60 days, amounts in cents."""
    size = draw(st.integers(1, 40))
    names = draw(st.sampled_from([range(7), ["a", "B", "é", "z", "aa", "Ab", "日本"]]))
    customers = draw(st.lists(st.sampled_from(list(names)), min_size=size, max_size=size))
    # Seconds with some microseconds; clustered so that periods often hold several rows.
    offsets = draw(
        st.lists(
            st.one_of(
                st.integers(0, 60 * 86_400 * 1_000_000),
                st.sampled_from([0, 3_600_000_000, 86_400_000_000, 7 * 86_400_000_000]),
            ),
            min_size=size,
            max_size=size,
        )
    )
    cents = draw(st.lists(st.integers(-500, 100_000), min_size=size, max_size=size))
    return pd.DataFrame(
        {
            "customer": customers,
            "at": [_START + dt.timedelta(microseconds=o) for o in offsets],
            "amount": [c / 100 for c in cents],
        }
    )


@st.composite
def summary_options(draw):
    """rfm_summary's options, as lifetimes takes them too."""
    end_days = draw(st.none() | st.integers(0, 70))
    return {
        "monetary_value_col": draw(st.sampled_from(["amount", None])),
        "observation_period_end": (
            None if end_days is None else _START + dt.timedelta(days=end_days, hours=5)
        ),
        "freq": draw(st.sampled_from(LIFETIMES_FREQS)),
        "freq_multiplier": draw(st.sampled_from([1, 7, 24, 2.5])),
        "include_first_transaction": draw(st.booleans()),
    }


@given(transactions=transaction_tables(), options=summary_options())
@settings(max_examples=100)
def test_rfm_summary_is_lifetimes(transactions, options):
    """On any transaction table, rfm_summary gives lifetimes' summary (values, order, columns)."""
    _check_against_lifetimes(transactions, options)


@pytest.mark.slow
@given(transactions=transaction_tables(), options=summary_options())
@settings(max_examples=2_000)
def test_rfm_summary_is_lifetimes_long(transactions, options):
    """The same agreement with lifetimes, over many more tables."""
    _check_against_lifetimes(transactions, options)


def _check_against_lifetimes(transactions, options):
    ours = rfm_summary(transactions, customer_id_col="customer", datetime_col="at", **options)
    end, freq = options["observation_period_end"], options["freq"]
    if end is not None and transactions["at"].min().to_period(freq) > pd.Timestamp(end).to_period(
        freq
    ):
        assert ours.empty  # lifetimes cannot summarize an empty table
        return
    theirs = summary_data_from_transaction_data(transactions, "customer", "at", **options)
    _assert_same_summary(theirs, ours)


@given(transactions=transaction_tables())
@settings(max_examples=25)
def test_minutes_and_capital_h(transactions):
    """freq="min" counts whole minutes (as seconds / 60 of times cut to the minute); "H" is "h"."""
    floored = transactions.assign(at=transactions["at"].dt.floor("min"))
    minutes = rfm_summary(transactions, customer_id_col="customer", datetime_col="at", freq="min")
    seconds = rfm_summary(
        floored, customer_id_col="customer", datetime_col="at", freq="s", freq_multiplier=60
    )
    pd.testing.assert_frame_equal(seconds, minutes)
    pd.testing.assert_frame_equal(
        rfm_summary(transactions, customer_id_col="customer", datetime_col="at", freq="h"),
        rfm_summary(transactions, customer_id_col="customer", datetime_col="at", freq="H"),
    )


def test_every_input_form_gives_the_same_summary(tmp_path):
    """polars, Arrow, Parquet, CSV, a DuckDB relation, text and zoned times: one summary."""
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    frame = cdnow_sample().head(300)
    arguments = {
        "customer_id_col": "customer_id",
        "datetime_col": "date",
        "monetary_value_col": "amount",
        "freq": "W",
    }
    expected = rfm_summary(frame, **arguments)
    table = pa.Table.from_pandas(frame)
    pq.write_table(table, tmp_path / "t.parquet")
    frame.to_csv(tmp_path / "t.csv", index=False)
    connection = duckdb.connect()
    relation = connection.from_arrow(table)
    texts = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d"))
    dates = frame.assign(date=frame["date"].dt.date)
    zoned = frame.assign(date=(frame["date"] + pd.Timedelta(hours=2)).dt.tz_localize("Etc/GMT-2"))
    for data, extra in [
        (pl.from_pandas(frame), {}),
        (table, {}),
        (str(tmp_path / "t.parquet"), {}),
        (tmp_path / "t.csv", {}),
        (relation, {"connection": connection}),
        (relation, {}),  # read through Arrow
        (texts, {}),
        (texts.assign(date=frame["date"].dt.strftime("%d/%m/%Y")), {"datetime_format": "%d/%m/%Y"}),
        (pa.Table.from_pandas(dates), {}),
        (zoned, {}),
    ]:
        pd.testing.assert_frame_equal(expected, rfm_summary(data, **arguments, **extra))
    # The connection is left as it was found.
    assert [] == connection.execute("SELECT * FROM duckdb_views() WHERE NOT internal").fetchall()


def test_concurrent_summaries_keep_to_their_own_tables(tmp_path):
    """Calls from several threads (DataFrames and files) each summarize their own table."""
    from concurrent.futures import ThreadPoolExecutor

    from omnichannel.analytics import _rfm

    frames = [cdnow_sample().iloc[start : start + 500] for start in range(0, 4000, 500)]
    for n, frame in enumerate(frames[::2]):
        frame.to_parquet(tmp_path / f"{n}.parquet")
    tables = [frame if n % 2 else tmp_path / f"{n // 2}.parquet" for n, frame in enumerate(frames)]
    arguments = {
        "customer_id_col": "customer_id",
        "datetime_col": "date",
        "monetary_value_col": "amount",
    }
    expected = [rfm_summary(frame, **arguments) for frame in frames]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda table: rfm_summary(table, **arguments), tables * 3))
    for n, result in enumerate(results):
        pd.testing.assert_frame_equal(expected[n % len(frames)], result)
    # Nothing is left behind in the shared database.
    database = _rfm._DATABASES[os.getpid()]
    assert [] == database.execute("SELECT * FROM duckdb_views() WHERE NOT internal").fetchall()


def test_summaries_are_the_same_run_to_run():
    """Amounts are added exactly, so DuckDB's threads cannot change the last bits between runs."""
    rng = np.random.default_rng(11)
    size = 300_000
    frame = pd.DataFrame(
        {
            "c": rng.integers(0, 30_000, size),
            "t": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 365 * 86_400, size), "s"),
            "m": rng.gamma(2.0, 20.0, size),  # not rounded to cents: every bit counts
        }
    )
    arguments = {"customer_id_col": "c", "datetime_col": "t", "monetary_value_col": "m"}
    first = rfm_summary(frame, **arguments)
    for _ in range(3):
        assert first["monetary_value"].equals(rfm_summary(frame, **arguments)["monetary_value"])


def test_empty_table_gives_an_empty_summary():
    """No transactions (or none before the end): no customers, the same columns."""
    frame = pd.DataFrame(
        {"c": pd.Series([], dtype="int64"), "t": pd.Series([], dtype="datetime64[us]")}
    )
    summary = rfm_summary(frame, customer_id_col="c", datetime_col="t")
    assert summary.empty
    assert ["frequency", "recency", "T"] == list(summary.columns)


def _codes(exc_info):
    return {(e.path, e.code) for e in exc_info.value.errors}


def test_rfm_summary_arguments_are_checked():
    """Every bad argument is named, all at once."""
    with pytest.raises(ValidationError) as exc_info:
        rfm_summary(
            pd.DataFrame({"c": [1]}),
            customer_id_col=3,
            datetime_col="",
            monetary_value_col=[],
            freq="M",
            freq_multiplier=0,
            include_first_transaction="yes",
            datetime_format=5,
            observation_period_end="not a time",
        )
    assert {
        ("$.customer_id_col", "type"),
        ("$.datetime_col", "type"),
        ("$.monetary_value_col", "type"),
        ("$.datetime_format", "type"),
        ("$.freq", "unsupported"),
        ("$.freq_multiplier", "type"),
        ("$.include_first_transaction", "type"),
        ("$.observation_period_end", "type"),
    } == _codes(exc_info)


@pytest.mark.parametrize("freq", ["M", "Q", "Y", "2D", "W-WED", "ns", ["D"]])
def test_periods_of_no_fixed_length_are_refused(freq):
    """Months, quarters, years, multiples and anchored weeks are refused at $.freq."""
    frame = pd.DataFrame({"c": [1], "t": pd.to_datetime(["2024-01-01"])})
    with pytest.raises(ValidationError) as exc_info:
        rfm_summary(frame, customer_id_col="c", datetime_col="t", freq=freq)
    assert {("$.freq", "unsupported")} == _codes(exc_info)


@pytest.mark.parametrize(
    ("frame", "arguments", "expected"),
    [
        (
            {"c": [1], "t": ["2024-01-01"]},
            {"datetime_col": "when", "monetary_value_col": "paid"},
            {("$.transactions.when", "required"), ("$.transactions.paid", "required")},
        ),
        ({"c": [1], "t": [1.5]}, {}, {("$.transactions.t", "type")}),
        ({"c": [1], "t": [20240101]}, {}, {("$.transactions.t", "type")}),
        ({"c": [1, 2], "t": ["2024-01-01", "yesterday"]}, {}, {("$.transactions.t", "type")}),
        (
            {"c": [1, 2], "t": ["2024-01-01", "01/02/2024"]},
            {"datetime_format": "%Y-%m-%d"},
            {("$.transactions.t", "type")},
        ),
        ({"c": [1, None], "t": ["2024-01-01", "2024-01-02"]}, {}, {("$.transactions.c", "null")}),
        ({"c": [1, 2], "t": ["2024-01-01", None]}, {}, {("$.transactions.t", "null")}),
        (
            {"c": [1, 2, 3], "t": ["2024-01-01"] * 3, "m": [1.0, math.nan, math.inf]},
            {"monetary_value_col": "m"},
            {("$.transactions.m", "null"), ("$.transactions.m", "not_finite")},
        ),
        (
            {"c": [1], "t": ["2024-01-01"], "m": ["1.0"]},
            {"monetary_value_col": "m"},
            {("$.transactions.m", "type")},
        ),
    ],
)
def test_bad_tables_are_refused_naming_the_column(frame, arguments, expected):
    """Missing columns, times that are not times, empty values: refused at $.transactions.<column>."""
    arguments = {"customer_id_col": "c", "datetime_col": "t", **arguments}
    with pytest.raises(ValidationError) as exc_info:
        rfm_summary(pd.DataFrame(frame), **arguments)
    assert expected == _codes(exc_info)


def test_tables_that_are_not_tables_are_refused():
    """A list, or a file that is not there, is refused at $.transactions."""
    with pytest.raises(ValidationError) as exc_info:
        rfm_summary([{"c": 1}], customer_id_col="c", datetime_col="t")
    assert {("$.transactions", "type")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        rfm_summary("no/such/file.parquet", customer_id_col="c", datetime_col="t")
    assert {("$.transactions", "not_found")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        rfm_summary(
            pd.DataFrame({"c": [1]}),
            customer_id_col="c",
            datetime_col="t",
            observation_period_end=3,
        )
    assert {("$.observation_period_end", "type")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        rfm_summary(
            pd.DataFrame({"c": [1]}),
            customer_id_col="c",
            datetime_col="t",
            observation_period_end=pd.NaT,
            freq_multiplier="7",
        )
    assert {("$.observation_period_end", "required"), ("$.freq_multiplier", "type")} == _codes(
        exc_info
    )


def test_observation_end_with_a_time_zone_is_taken_in_utc():
    """An end at 01:00 in UTC+2 is 23:00 the day before in UTC."""
    frame = pd.DataFrame({"c": [1], "t": pd.to_datetime(["2024-01-01"])})
    summary = rfm_summary(
        frame,
        customer_id_col="c",
        datetime_col="t",
        observation_period_end="2024-01-11T01:00+02:00",
    )
    assert 9.0 == summary.loc[1, "T"]


def test_a_connection_given_is_left_clean():
    """With connection=, the table is read there and nothing is left behind."""
    connection = duckdb.connect()
    frame = pd.DataFrame({"c": [1, 1], "t": pd.to_datetime(["2024-01-01", "2024-01-03"])})
    summary = rfm_summary(frame, customer_id_col="c", datetime_col="t", connection=connection)
    assert [1.0, 2.0, 2.0] == summary.loc[1].tolist()
    assert [] == connection.execute("SELECT * FROM duckdb_views() WHERE NOT internal").fetchall()


# --- BG/NBD --------------------------------------------------------------------------------


def test_cdnow_bgnbd_reproduces_fader_hardie_lee(bg):
    """From the raw CDNOW transactions: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4."""
    assert (0.243, 4.414, 0.793, 2.426) == (
        round(bg.r, 3),
        round(bg.alpha, 3),
        round(bg.a, 3),
        round(bg.b, 3),
    )
    assert -9582.4 == round(bg.log_likelihood, 1)
    assert 2357 == bg.n_customers


def test_bgnbd_fit_agrees_with_lifetimes(cdnow_weeks, bg):
    """lifetimes on the same summary finds the same parameters (to its tolerance) and errors."""
    fitter = lifetimes.BetaGeoFitter().fit(
        cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"]
    )
    ours = bg.summary()
    np.testing.assert_allclose(ours["coef"], fitter.params_[["r", "alpha", "a", "b"]], rtol=1e-5)
    np.testing.assert_allclose(ours["se(coef)"], fitter.summary["se(coef)"], rtol=1e-3)


def test_bgnbd_fit_on_published_summary_and_with_weights():
    """Rows given once with a weight fit as the same rows given one by one."""
    published = load_cdnow_summary(index_col=[0])
    one_by_one = BetaGeo.fit(published["frequency"], published["recency"], published["T"])
    grouped = published.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    weighted = BetaGeo.fit(
        grouped["frequency"], grouped["recency"], grouped["T"], weights=grouped["n"]
    )
    assert one_by_one.n_customers == weighted.n_customers == 2357
    np.testing.assert_allclose(
        [one_by_one.r, one_by_one.alpha, one_by_one.a, one_by_one.b],
        [weighted.r, weighted.alpha, weighted.a, weighted.b],
        rtol=1e-6,
    )


def test_bgnbd_predictions_are_lifetimes(cdnow_weeks, bg):
    """P(alive), conditional and unconditional expected purchases equal lifetimes' (1e-9)."""
    fitter = _lifetimes_bg(bg)
    x, tx, age = cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"]
    np.testing.assert_allclose(
        bg.probability_alive(x, tx, age),
        fitter.conditional_probability_alive(x, tx, age),
        rtol=1e-9,
    )
    for t in (1, 10, 39, 52 * 5):
        np.testing.assert_allclose(
            bg.expected_purchases(t, x, tx, age),
            fitter.conditional_expected_number_of_purchases_up_to_time(t, x, tx, age),
            rtol=1e-9,
        )
    horizons = np.array([0, 1, 39, 78, 1e4])
    np.testing.assert_allclose(
        bg.expected_purchases_new(horizons),
        fitter.expected_number_of_purchases_up_to_time(horizons),
        rtol=1e-9,
    )


def test_bgnbd_heavy_buyers_use_the_euler_transform(bg):
    """Where the hypergeometric function overflows, the result is still lifetimes' (finite)."""
    fitter = _lifetimes_bg(bg)
    x, tx, age, t = (
        np.array([300, 1000, 3000]),
        np.array([38, 380, 380]),
        np.array([39, 390, 390]),
        1e3,
    )
    ours = bg.expected_purchases(t, x, tx, age)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(
        ours, fitter.conditional_expected_number_of_purchases_up_to_time(t, x, tx, age), rtol=1e-9
    )


def test_predictions_are_smooth_through_a_equal_one():
    """At a = 1 the formula is 0 / 0: predictions are the limit, between the neighbours' values."""
    near = [
        BetaGeo(r=0.243, alpha=4.414, a=a, b=2.426).expected_purchases([39, 0], 2, 30.43, 38.86)
        for a in (1 - 1e-4, 1.0, 1 + 1e-4)
    ]
    np.testing.assert_allclose(near[1], (near[0] + near[2]) / 2, rtol=1e-8)
    assert 0 == near[1][1]
    unconditional = BetaGeo(r=0.243, alpha=4.414, a=1, b=2.426).expected_purchases_new(39)
    reference = BetaGeo(r=0.243, alpha=4.414, a=1 + 1e-4, b=2.426).expected_purchases_new(39)
    assert unconditional == pytest.approx(reference, rel=1e-4)


def test_predictions_keep_the_shape_they_are_given(cdnow_weeks, bg):
    """A Series in gives a Series with its index out; scalars give a float; lists an array."""
    alive = bg.probability_alive(cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"])
    assert isinstance(alive, pd.Series)
    assert cdnow_weeks.index.equals(alive.index)
    assert isinstance(bg.probability_alive(1, 2.0, 3.0), float)
    assert (3,) == bg.expected_purchases([1, 2, 3], 0, 0, 5).shape


def test_bgnbd_shows_itself(bg):
    """The fitted model renders its parameters, fit figures and standard errors."""
    html = bg._repr_html_()
    for text in ("BG/NBD", "alpha", "log-likelihood", "se(coef)", "2357"):
        assert text in html
    given = BetaGeo(r=1, alpha=2, a=0.5, b=3)
    assert given.summary()["se(coef)"].isna().all()
    assert "log-likelihood" not in given._repr_html_()


# --- fits that must fail -------------------------------------------------------------------


def test_no_repeat_buyers_is_no_data():
    """Nobody bought twice: nothing to learn from."""
    with pytest.raises(FitError) as exc_info:
        BetaGeo.fit([0, 0, 0], [0, 0, 0], [5, 6, 7])
    assert ("no_data", "bg/nbd") == (exc_info.value.code, exc_info.value.model)


def test_identical_regular_buyers_are_degenerate():
    """Everyone buying every week, nobody leaving: the parameters run off, and the fit says so."""
    with pytest.raises(FitError) as exc_info:
        BetaGeo.fit([10] * 200, [70] * 200, [75] * 200)
    assert "degenerate" == exc_info.value.code


def test_homogeneous_poisson_buyers_are_degenerate():
    """One purchase rate for all and no drop-out: r and alpha run to infinity, a to 0."""
    rng = np.random.default_rng(3)
    ages = rng.uniform(20, 52, 1000)
    frequency, recency = [], []
    for age in ages:
        times = np.cumsum(rng.exponential(2.0, 200))
        times = times[times < age]
        frequency.append(len(times))
        recency.append(times[-1] if len(times) else 0.0)
    with pytest.raises(FitError) as exc_info:
        BetaGeo.fit(frequency, recency, ages)
    assert "degenerate" == exc_info.value.code
    assert "ran off" in str(exc_info.value)


def test_flat_likelihood_is_degenerate():
    """Four customers whose likelihood has a ridge: the Hessian is singular; no parameters."""
    with pytest.raises(FitError) as exc_info:
        BetaGeo.fit([1, 3, 4, 3], [14, 5, 9, 1], [15, 7, 12, 4])
    assert "degenerate" == exc_info.value.code
    assert "flat" in str(exc_info.value)


def test_iteration_budget_exhausted_is_not_converged(cdnow_weeks):
    """Stopped early, the fit reports it instead of returning its last point."""
    with pytest.raises(FitError) as exc_info:
        BetaGeo.fit(
            cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"], max_iterations=2
        )
    assert "not_converged" == exc_info.value.code


def test_stalled_optimizer_is_not_converged():
    """Two customers: the optimizer stops where the gradient is not zero; that is said."""
    with pytest.raises(FitError) as exc_info:
        BetaGeo.fit([5, 4], [8, 1], [9, 2])
    assert "not_converged" == exc_info.value.code


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (([0, 1, -1], [0, 1, 1], [2, 2, 2]), {("$.frequency[2]", "negative")}),
        (([0, 1.5], [0, 1], [2, 2]), {("$.frequency[1]", "not_integer")}),
        (([0, 1], [0, 3], [2, 2]), {("$.recency[1]", "after_T")}),
        (([0, 1], [1, 1], [2, 2]), {("$.recency[0]", "inconsistent")}),
        (
            ([0, 1], [0, math.nan], [2, math.inf]),
            {("$.recency[1]", "not_finite"), ("$.T[1]", "not_finite")},
        ),
        (([0, 1], [0, 1], [2, 2, 2]), {("$.T", "length")}),
        (([0, 1], [0, "x"], [2, 2]), {("$.recency", "type")}),
        (([[0, 1]], [0, 1], [2, 2]), {("$.frequency", "type")}),
    ],
)
def test_bgnbd_inputs_are_checked(arguments, expected):
    """Values that are not a summary are refused with the element's path."""
    with pytest.raises(ValidationError) as exc_info:
        BetaGeo.fit(*arguments)
    assert expected == _codes(exc_info)


def test_many_bad_rows_are_listed_briefly():
    """A thousand negative values are reported as the first few and a count."""
    with pytest.raises(ValidationError) as exc_info:
        BetaGeo.fit([-1] * 1000, [0] * 1000, [1] * 1000)
    errors = exc_info.value.errors
    assert 5 == len(errors)
    assert "995 more" in errors[-1].message


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"weights": [1, -1]}, {("$.weights[1]", "negative")}),
        ({"weights": [1]}, {("$.weights", "length")}),
        ({"max_iterations": 0}, {("$.max_iterations", "type")}),
    ],
)
def test_fit_options_are_checked(arguments, expected):
    """Weights are counts, one per row; the iteration budget is a positive whole number."""
    with pytest.raises(ValidationError) as exc_info:
        BetaGeo.fit([0, 1], [0, 1], [2, 2], **arguments)
    assert expected == _codes(exc_info)


def test_given_parameters_are_checked():
    """A model built by hand refuses parameters outside the model, at their names."""
    with pytest.raises(ValidationError) as exc_info:
        BetaGeo(r=-1, alpha=1, a=1, b=1)
    assert {("$.r", "out_of_range")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        GammaGamma(p=1, q=1, v="x")
    assert {("$.q", "out_of_range")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        GammaGamma(p=True, q=2, v=1)
    assert {("$.p", "out_of_range")} == _codes(exc_info)


def test_prediction_inputs_are_checked(bg, gg):
    """Predictions refuse negative times and ages, naming them."""
    with pytest.raises(ValidationError) as exc_info:
        bg.expected_purchases(-1, 1, 1, 2)
    assert {("$.t", "negative")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        bg.expected_purchases_new([1, math.nan])
    assert {("$.t[1]", "negative")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        bg.probability_alive(1, 3, 2)
    assert {("$.recency", "after_T")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        gg.conditional_expected_average_profit([-1], [math.inf])
    assert {("$.frequency[0]", "negative"), ("$.monetary_value[0]", "not_finite")} == _codes(
        exc_info
    )


# --- Gamma-Gamma and CLV -------------------------------------------------------------------


def test_cdnow_gamma_gamma_reproduces_hardie(gg):
    """The CDNOW repeat buyers give Hardie's p = 6.25, q = 3.74, v = 15.44."""
    assert (6.25, 3.74, 15.44) == (round(gg.p, 2), round(gg.q, 2), round(gg.v, 2))
    assert 946 == gg.n_customers
    assert 0.11 == round(gg.correlation, 2)


def test_gamma_gamma_agrees_with_lifetimes(cdnow_weeks, gg):
    """lifetimes on the same repeat buyers finds the same parameters; predictions are equal."""
    repeat = cdnow_weeks[cdnow_weeks["frequency"] > 0]
    fitter = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    np.testing.assert_allclose(gg.summary()["coef"], fitter.params_[["p", "q", "v"]], rtol=1e-5)
    np.testing.assert_allclose(gg.summary()["se(coef)"], fitter.summary["se(coef)"], rtol=1e-3)
    reference = _lifetimes_gg(gg)
    np.testing.assert_allclose(
        gg.conditional_expected_average_profit(
            cdnow_weeks["frequency"], cdnow_weeks["monetary_value"]
        ),
        reference.conditional_expected_average_profit(
            cdnow_weeks["frequency"], cdnow_weeks["monetary_value"]
        ),
        rtol=1e-12,
    )


def test_gamma_gamma_failures():
    """No repeat buyer is no_data; identical spend everywhere is degenerate; spend must be > 0."""
    with pytest.raises(FitError) as exc_info:
        GammaGamma.fit([0, 0], [0, 0])
    assert ("no_data", "gamma-gamma") == (exc_info.value.code, exc_info.value.model)
    with pytest.raises(FitError) as exc_info:
        GammaGamma.fit([1, 2, 3] * 50, [10.0] * 150)
    assert "degenerate" == exc_info.value.code
    with pytest.raises(ValidationError) as exc_info:
        GammaGamma.fit([1, 0, 2], [0.0, 0.0, math.nan])
    assert {("$.monetary_value[2]", "not_finite")} == _codes(exc_info)
    with pytest.raises(ValidationError) as exc_info:
        GammaGamma.fit([1, 0, 2], [0.0, 0.0, 5.0])
    assert {("$.monetary_value[0]", "not_positive")} == _codes(exc_info)


def test_gamma_gamma_without_heterogeneity_is_degenerate():
    """Everyone spending around one mean: q and v are free along a ridge; no parameters."""
    rng = np.random.default_rng(1)
    with pytest.raises(FitError) as exc_info:
        GammaGamma.fit([2] * 300, rng.gamma(4, 10, 300))
    assert "degenerate" == exc_info.value.code
    assert "all but flat along q" in str(exc_info.value)


def test_gamma_gamma_with_infinite_mean_spend_is_degenerate():
    """Spend so dispersed that q <= 1 (an infinite mean) is refused, not returned."""
    rng = np.random.default_rng(5)
    frequency = rng.integers(1, 5, 400)
    spend = np.exp(rng.normal(0, 3, 400))  # heavy tails across customers
    with pytest.raises(FitError) as exc_info:
        GammaGamma.fit(frequency, spend)
    assert "degenerate" == exc_info.value.code


def test_gamma_gamma_recovers_simulated_parameters():
    """Spend simulated from the model (everyone buying twice) gives back p, q, v within 2 errors."""
    rng = np.random.default_rng(2)
    scale = rng.gamma(4, 1 / 15, 2000)  # nu ~ gamma(q = 4, v = 15)
    spend = rng.gamma(6 * 2, 1 / (scale * 2))  # mean of 2 purchases ~ gamma(p = 6, nu)
    model = GammaGamma.fit(np.full(2000, 2), spend)
    for fitted, error, true in zip(
        model.summary()["coef"], model.standard_errors, (6, 4, 15), strict=True
    ):
        assert abs(fitted - true) < 2 * error
    assert model.correlation is None  # one frequency: no correlation to report


def test_gamma_gamma_shows_itself(gg):
    """The spend model renders its parameters and the correlation it assumes away."""
    html = gg._repr_html_()
    assert "Gamma-Gamma" in html
    assert "Correlation of frequency and spend" in html
    assert "Correlation" not in GammaGamma(p=1, q=2, v=3)._repr_html_()


@pytest.mark.parametrize(("freq", "divisor"), [("D", 1), ("W", 7), ("H", 1 / 24), ("M", 30)])
def test_clv_is_lifetimes(cdnow_days, freq, divisor):
    """Discounted CLV over 12 months equals lifetimes' for each time unit (1e-9)."""
    summary = cdnow_days.assign(
        recency=cdnow_days["recency"] / divisor, T=cdnow_days["T"] / divisor
    )
    bg = BetaGeo.fit(summary["frequency"], summary["recency"], summary["T"])
    gg = GammaGamma.fit(summary["frequency"], summary["monetary_value"])
    arguments = (summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"])
    ours = customer_lifetime_value(bg, gg, *arguments, time=12, discount_rate=0.01, freq=freq)
    theirs = _lifetimes_gg(gg).customer_lifetime_value(
        _lifetimes_bg(bg), *arguments, time=12, discount_rate=0.01, freq=freq
    )
    assert summary.index.equals(ours.index)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_clv_arguments_are_checked(bg, gg):
    """Months, discount rate and time unit are refused at their names."""
    with pytest.raises(ValidationError) as exc_info:
        customer_lifetime_value(bg, gg, 1, 1, 2, 10.0, time=1.5, discount_rate=-1, freq="Y")
    assert {("$.time", "type"), ("$.discount_rate", "type"), ("$.freq", "unsupported")} == _codes(
        exc_info
    )
