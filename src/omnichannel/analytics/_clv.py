"""Customer lifetime value: BG/NBD purchases, Gamma-Gamma spend and discounted CLV.

The models of Fader, Hardie and Lee, fitted by maximum likelihood with SciPy
on the per-customer summary that `rfm_summary` makes:

- `BetaGeo` (BG/NBD, "Counting Your Customers the Easy Way", 2005): while
  alive, a customer buys at a Poisson rate (gamma-distributed across
  customers); after each purchase they may drop out for good (with a
  beta-distributed probability). It gives the probability that a customer is
  still alive and the purchases to expect in a coming period.
- `GammaGamma` ("RFM and CLV: Using Iso-Value Curves", 2005, and Hardie's
  note 025): the mean spend per purchase, shrunk from a customer's own
  average towards the population's.
- `customer_lifetime_value`: expected purchases month by month times the
  expected spend, discounted, as ``lifetimes`` computes it.

Formulas and conventions are those of the ``lifetimes`` package, so numbers
carry over; what differs is that a fit that did not converge, or whose data
cannot identify the model, raises `FitError` instead of returning numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from omnichannel.analytics._frames import module
from omnichannel.analytics._result import Result
from omnichannel.errors import FieldError, FitError, ValidationError

__all__ = ["BetaGeo", "GammaGamma", "customer_lifetime_value"]

# Optimizer settings: log-parameters live in [-_BOUND, _BOUND] (time and money
# scaled to about 1); a fit ending beyond +-_PLAUSIBLE ran off towards a limit
# of the model (no heterogeneity, nobody drops out ...) rather than to an answer.
_BOUND = 30.0
_PLAUSIBLE = math.log(1e6)
# Largest |gradient| of the mean log-likelihood (per customer, on log-parameters)
# at an accepted optimum, and largest condition number of its Hessian.
_GRADIENT_TOLERANCE = 1e-5
_CONDITION_LIMIT = 1e12
# A parameter whose log has a standard error above this (a 95 % interval wider
# than a factor of e**40) is not estimated: the likelihood is all but flat along it.
_LOG_ERROR_LIMIT = 10.0
_Z95 = 1.959963984540054
# How close to 1 the BG/NBD's a may come before predictions average around a = 1.
_NEAR_ONE = 1e-5
_SHOWN_PROBLEMS = 5
#: Days, weeks and hours per month in `customer_lifetime_value` (the values of ``lifetimes``).
_PER_MONTH: dict[str, float] = {"W": 4.345, "M": 1.0, "D": 30, "H": 30 * 24, "h": 30 * 24}


def _number(value: object) -> float:
    """``value`` as a float (NaN when it is not a number: the validator refuses it)."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _positive(_instance: object, field: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < math.inf:
        raise ValidationError.one(f"$.{field.name}", "out_of_range", "must be a finite number > 0")


def _above_one(_instance: object, field: attrs.Attribute[float], value: float) -> None:
    # q <= 1 makes the population's mean spend, v p / (q - 1), infinite.
    if not 1 < value < math.inf:
        raise ValidationError.one(
            f"$.{field.name}",
            "out_of_range",
            "must be a finite number > 1 (else the mean spend is infinite)",
        )


@attrs.frozen(kw_only=True)
class BetaGeo:
    """A BG/NBD model of repeat purchases: fit it with `BetaGeo.fit`, or give its parameters.

    Purchase rates are gamma(``r``, ``alpha``) across customers (``alpha`` in
    the time unit of the data it was fitted on); the drop-out probability
    after each purchase is beta(``a``, ``b``). ``log_likelihood`` (in that
    time unit), ``n_customers``, ``method``, ``iterations`` and
    ``standard_errors`` (of r, alpha, a, b, from the Hessian) describe the
    fit; they are empty for a model built from given parameters.

    Examples:
        >>> model = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426)  # CDNOW, weeks
        >>> round(model.probability_alive(2, 30.43, 38.86), 4)
        0.7266
        >>> round(model.expected_purchases(39, 2, 30.43, 38.86), 4)
        1.226

    .. versionadded:: 0.1.0
    """

    r: float = attrs.field(converter=_number, validator=_positive)
    alpha: float = attrs.field(converter=_number, validator=_positive)
    a: float = attrs.field(converter=_number, validator=_positive)
    b: float = attrs.field(converter=_number, validator=_positive)
    log_likelihood: float | None = None
    n_customers: int = 0
    method: str = "given"
    iterations: int = 0
    standard_errors: tuple[float, ...] | None = None

    @classmethod
    def fit(
        cls,
        frequency: object,
        recency: object,
        T: object,  # noqa: N803 - the literature's (and lifetimes') name for the age
        *,
        weights: object = None,
        max_iterations: object = 1000,
    ) -> BetaGeo:
        """Fit the BG/NBD model by maximum likelihood to one row per customer.

        The inputs are `rfm_summary`'s columns (any one time unit); identical
        rows are counted once with a weight. The optimizer (SciPy's L-BFGS-B
        with the analytic gradient) works on log-parameters; the optimum is
        accepted when the gradient there is about zero, the parameters are
        finite and inside a plausible range, and the Hessian is positive
        definite (it also gives the standard errors).

        Args:
            frequency: Repeat purchases per customer (whole numbers >= 0).
            recency: Age at the last purchase (0 when ``frequency`` is 0).
            T: Age at the end of observation (>= ``recency``).
            weights: How many customers each row stands for (whole numbers
                >= 0); one each by default.
            max_iterations: The optimizer's iteration budget.

        Raises:
            ValidationError: Inputs that are not a summary: negative or
                non-finite values, fractional frequencies, ``recency > T``,
                a recency without repeat purchases, lengths that differ (at
                ``$.frequency[3]``, ``$.recency`` ...).
            FitError: ``no_data`` without any repeat purchase;
                ``not_converged`` when the optimizer stopped away from an
                optimum; ``degenerate`` when the likelihood is maximal at a
                limit of the model (parameters running off) or flat in some
                direction, so that the data cannot identify the parameters.

        Examples:
            The CDNOW customers, 39 weeks of calibration (Fader, Hardie and
            Lee report r = 0.243, alpha = 4.414, a = 0.793, b = 2.426):

            >>> from omnichannel.analytics import rfm_summary
            >>> from omnichannel.analytics._datasets import cdnow_sample
            >>> days = rfm_summary(
            ...     cdnow_sample(),
            ...     customer_id_col="customer_id",
            ...     datetime_col="date",
            ...     observation_period_end="1997-09-30",
            ... )
            >>> model = BetaGeo.fit(days["frequency"], days["recency"] / 7, days["T"] / 7)
            >>> print(f"{model.r:.3f} {model.alpha:.3f} {model.a:.3f} {model.b:.3f}")
            0.243 4.414 0.793 2.426
            >>> round(model.log_likelihood, 1), model.n_customers
            (-9582.4, 2357)

            Six customers do not make a model; the fit says so:

            >>> BetaGeo.fit([0, 1, 2, 0, 4, 1], [0, 3, 8, 0, 9, 1], [10, 10, 10, 9, 9, 9])
            Traceback (most recent call last):
            ...
            omnichannel.errors.FitError: bg/nbd: the likelihood grows towards a limit ...

        .. versionadded:: 0.1.0
        """
        np = module("numpy")
        iterations = _iterations(max_iterations)
        x, tx, age = _arrays({"frequency": frequency, "recency": recency, "T": T})
        counts = _weights(weights, x.shape[0])
        _check_summary(x, tx, age, integral=True)
        if not np.any((x > 0) & (counts > 0)):
            raise FitError(
                "no repeat purchases: the model needs customers who bought more than once",
                code="no_data",
                model="bg/nbd",
            )
        rows, counts = _collapsed(np.stack([x, tx, age], axis=1), counts)
        scale = float(rows[:, 2].max()) or 1.0
        data = (rows[:, 0], rows[:, 1] / scale, rows[:, 2] / scale, counts)
        theta, iterations_used, errors = _maximize(
            _bgnbd_objective,
            data,
            iterations,
            ("r", "alpha", "a", "b"),
            scales=(1, scale, 1, 1),
            model="bg/nbd",
        )
        r, alpha, a, b = (float(v) for v in np.exp(theta))
        alpha *= scale
        log_likelihood = _bgnbd_log_likelihood(
            (r, alpha, a, b), rows[:, 0], rows[:, 1], rows[:, 2], counts
        )
        return cls(
            r=r,
            alpha=alpha,
            a=a,
            b=b,
            log_likelihood=log_likelihood,
            n_customers=int(counts.sum()),
            method="L-BFGS-B",
            iterations=iterations_used,
            standard_errors=errors,
        )

    def probability_alive(
        self,
        frequency: object,
        recency: object,
        T: object,  # noqa: N803 - the literature's name
    ) -> Any:
        """The probability that a customer with this history has not dropped out (is "alive").

        Hardie's note 021: 1 without repeat purchases, else
        ``1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))``,
        computed in logarithms. Arguments broadcast; a pandas Series in gives
        a Series with its index out, scalars a float, otherwise an array.

        Raises:
            ValidationError: Negative or non-finite values, ``recency > T``.

        Examples:
            >>> model = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426)
            >>> model.probability_alive([0, 2, 2], [0, 30.43, 5.0], 38.86).round(3)
            array([1.   , 0.727, 0.124])

        .. versionadded:: 0.1.0
        """
        np = module("numpy")
        x, tx, age = _arrays({"frequency": frequency, "recency": recency, "T": T})
        _check_summary(x, tx, age, integral=False)
        x, tx, age = np.broadcast_arrays(x, tx, age)
        return _shaped(self._alive(x, tx, age), frequency, recency, T)

    def _alive(self, x: Any, tx: Any, age: Any) -> Any:
        np = module("numpy")
        special = module("scipy.special")
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        log_div = (r + x) * np.log((alpha + age) / (alpha + tx)) + np.log(
            a / (b + np.maximum(x, 1) - 1)
        )
        return np.where(x == 0, 1.0, special.expit(-log_div))

    def expected_purchases(
        self,
        t: object,
        frequency: object,
        recency: object,
        T: object,  # noqa: N803 - the literature's name
    ) -> Any:
        """Expected repeat purchases in the next ``t`` time units, given a customer's history.

        Equation (10) of Fader, Hardie and Lee (2005), as ``lifetimes``'
        ``conditional_expected_number_of_purchases_up_to_time`` computes it
        (with the Gauss hypergeometric function, switching to its Euler
        transform where it overflows). Arguments broadcast and are shaped as
        in `probability_alive`.

        Raises:
            ValidationError: Negative or non-finite values, ``recency > T``.

        Examples:
            >>> model = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426)
            >>> model.expected_purchases([13, 26, 39], 2, 30.43, 38.86).round(3)
            array([0.457, 0.862, 1.226])

        .. versionadded:: 0.1.0
        """
        np = module("numpy")
        horizon, x, tx, age = _arrays({"t": t, "frequency": frequency, "recency": recency, "T": T})
        _check_summary(x, tx, age, integral=False)
        _check_horizon(horizon)
        horizon, x, tx, age = np.broadcast_arrays(horizon, x, tx, age)
        expected = _purchases((self.r, self.alpha, self.a, self.b), horizon, x, age)
        return _shaped(expected * self._alive(x, tx, age), t, frequency, recency, T)

    def expected_purchases_new(self, t: object) -> Any:
        """Expected repeat purchases in ``t`` time units of a customer picked at random (E[X(t)]).

        Equation (9) of Fader, Hardie and Lee (2005), ``lifetimes``'
        ``expected_number_of_purchases_up_to_time``.

        Raises:
            ValidationError: A negative or non-finite ``t``.

        Examples:
            >>> model = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426)
            >>> model.expected_purchases_new([39, 78]).round(3)
            array([1.197, 1.861])

        .. versionadded:: 0.1.0
        """
        (horizon,) = _arrays({"t": t})
        _check_horizon(horizon)
        # A customer seen at their first purchase (x = 0, T = 0) is one picked at random.
        return _shaped(_purchases((self.r, self.alpha, self.a, self.b), horizon, 0.0, 0.0), t)

    def summary(self) -> Any:
        """The parameters with standard errors and 95 % intervals, as a pandas DataFrame.

        Columns as ``lifetimes``' ``summary``: ``coef``, ``se(coef)``,
        ``lower 95% bound``, ``upper 95% bound`` (NaN for given parameters).

        Examples:
            >>> BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426).summary()["coef"].to_dict()
            {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}

        .. versionadded:: 0.1.0
        """
        return _summary_frame(
            {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}, self.standard_errors
        )

    def _repr_html_(self) -> str:
        return _result("BG/NBD model", self, self.summary())._repr_html_()


@attrs.frozen(kw_only=True)
class GammaGamma:
    """A Gamma-Gamma model of spend per purchase: fit it with `GammaGamma.fit`, or give p, q, v.

    A customer's purchases are gamma(``p``, nu) distributed around their own
    mean; nu is gamma(``q``, ``v``) across customers, so the population's
    mean spend is ``v * p / (q - 1)``. The model assumes that how much
    customers spend does not depend on how often they buy: check that
    ``correlation`` (Pearson's, between frequency and mean spend of the
    repeat buyers it was fitted on) is close to 0 before trusting it.

    Examples:
        >>> model = GammaGamma(p=6.25, q=3.74, v=15.44)  # CDNOW, Hardie's note 025
        >>> round(model.mean_spend, 2)
        35.22
        >>> model.conditional_expected_average_profit([1, 10], [20.0, 20.0]).round(2)
        array([24.64, 20.64])

    .. versionadded:: 0.1.0
    """

    p: float = attrs.field(converter=_number, validator=_positive)
    q: float = attrs.field(converter=_number, validator=_above_one)
    v: float = attrs.field(converter=_number, validator=_positive)
    log_likelihood: float | None = None
    n_customers: int = 0
    method: str = "given"
    iterations: int = 0
    standard_errors: tuple[float, ...] | None = None
    correlation: float | None = None

    @property
    def mean_spend(self) -> float:
        """The population's mean spend per purchase, ``v * p / (q - 1)``."""
        return self.v * self.p / (self.q - 1)

    @classmethod
    def fit(
        cls,
        frequency: object,
        monetary_value: object,
        *,
        weights: object = None,
        max_iterations: object = 1000,
    ) -> GammaGamma:
        """Fit the Gamma-Gamma model by maximum likelihood to the repeat buyers among these rows.

        Rows with ``frequency`` 0 are left out (their mean spend is not
        observed), as ``lifetimes`` asks you to do by hand. The fit is
        checked as `BetaGeo.fit`'s is; a ``q`` at or below 1 (an infinite
        mean spend) is refused as ``degenerate``.

        Args:
            frequency: Repeat purchases per customer (whole numbers >= 0).
            monetary_value: Mean spend of the repeat purchases (> 0 for
                repeat buyers), as `rfm_summary` gives it.
            weights: How many customers each row stands for.
            max_iterations: The optimizer's iteration budget.

        Raises:
            ValidationError: Negative, fractional or non-finite frequencies,
                non-finite spend, or spend <= 0 for a repeat buyer (at
                ``$.monetary_value[7]`` ...).
            FitError: ``no_data`` without repeat buyers; ``not_converged``;
                ``degenerate`` (parameters running off, a flat likelihood,
                or q <= 1).

        Examples:
            The CDNOW repeat buyers (Hardie's note 025 reports p = 6.25,
            q = 3.74, v = 15.44):

            >>> from omnichannel.analytics import rfm_summary
            >>> from omnichannel.analytics._datasets import cdnow_sample
            >>> summary = rfm_summary(
            ...     cdnow_sample(),
            ...     customer_id_col="customer_id",
            ...     datetime_col="date",
            ...     monetary_value_col="amount",
            ...     observation_period_end="1997-09-30",
            ... )
            >>> model = GammaGamma.fit(summary["frequency"], summary["monetary_value"])
            >>> print(f"{model.p:.2f} {model.q:.2f} {model.v:.2f}")
            6.25 3.74 15.44
            >>> model.n_customers, round(model.correlation, 2)
            (946, 0.11)

        .. versionadded:: 0.1.0
        """
        np = module("numpy")
        iterations = _iterations(max_iterations)
        x, m = _arrays({"frequency": frequency, "monetary_value": monetary_value})
        counts = _weights(weights, x.shape[0])
        problems = [
            *_nonnegative_integers(x, "frequency"),
            *_problems(~np.isfinite(m), "monetary_value", "not_finite", "must be finite"),
        ]
        if not problems:
            problems = list(
                _problems((x > 0) & (m <= 0), "monetary_value", "not_positive", "must be > 0")
            )
        if problems:
            raise ValidationError(problems)
        keep = (x > 0) & (counts > 0)
        if not keep.any():
            raise FitError(
                "no repeat buyers to learn spend from", code="no_data", model="gamma-gamma"
            )
        rows, counts = _collapsed(np.stack([x[keep], m[keep]], axis=1), counts[keep])
        scale = float(np.average(rows[:, 1], weights=counts))
        data = (rows[:, 0], rows[:, 1] / scale, counts)
        theta, iterations_used, errors = _maximize(
            _gamma_gamma_objective,
            data,
            iterations,
            ("p", "q", "v"),
            scales=(1, 1, scale),
            model="gamma-gamma",
        )
        p, q, v = (float(value) for value in np.exp(theta))
        if q <= 1:
            raise FitError(
                f"q = {q:.4g} <= 1: the mean spend v * p / (q - 1) is infinite",
                code="degenerate",
                model="gamma-gamma",
            )
        v *= scale
        log_likelihood = -_gamma_gamma_objective(
            np.log([p, q, v]), (rows[:, 0], rows[:, 1], counts)
        )[0] * float(counts.sum())
        return cls(
            p=p,
            q=q,
            v=v,
            log_likelihood=float(log_likelihood),
            n_customers=int(counts.sum()),
            method="L-BFGS-B",
            iterations=iterations_used,
            standard_errors=errors,
            correlation=_correlation(
                x[keep], m[keep], counts[keep] if weights is not None else None
            ),
        )

    def conditional_expected_average_profit(self, frequency: object, monetary_value: object) -> Any:
        """Expected spend per purchase of customers with these histories (Hardie's note 025, eq. 5).

        A weighted mean of the customer's own average (weight
        ``p x / (p x + q - 1)``) and the population's; customers without
        repeat purchases get the population's mean. Shaped as
        `BetaGeo.probability_alive`.

        Raises:
            ValidationError: Negative or non-finite values.

        Examples:
            >>> round(
            ...     GammaGamma(p=6.25, q=3.74, v=15.44).conditional_expected_average_profit(0, 0), 2
            ... )
            35.22

        .. versionadded:: 0.1.0
        """
        np = module("numpy")
        x, m = _arrays({"frequency": frequency, "monetary_value": monetary_value})
        problems = [
            *_problems(~np.isfinite(x) | (x < 0), "frequency", "negative", "must be >= 0"),
            *_problems(~np.isfinite(m), "monetary_value", "not_finite", "must be finite"),
        ]
        if problems:
            raise ValidationError(problems)
        weight = self.p * x / (self.p * x + self.q - 1)
        return _shaped((1 - weight) * self.mean_spend + weight * m, frequency, monetary_value)

    def summary(self) -> Any:
        """The parameters with standard errors and 95 % intervals, as a pandas DataFrame.

        Examples:
            >>> GammaGamma(p=6.25, q=3.74, v=15.44).summary().index.tolist()
            ['p', 'q', 'v']

        .. versionadded:: 0.1.0
        """
        return _summary_frame({"p": self.p, "q": self.q, "v": self.v}, self.standard_errors)

    def _repr_html_(self) -> str:
        notes: tuple[str, ...] = ()
        if self.correlation is not None:
            notes = (
                (
                    "Correlation of frequency and spend among the repeat buyers:"
                    f" {self.correlation:.3f} (the model assumes none)."
                ),
            )
        return _result("Gamma-Gamma spend model", self, self.summary(), notes)._repr_html_()


def customer_lifetime_value(  # noqa: PLR0917 - the order of lifetimes' arguments
    bg: BetaGeo,
    gg: GammaGamma,
    frequency: object,
    recency: object,
    T: object,  # noqa: N803 - the literature's name
    monetary_value: object,
    *,
    time: object = 12,
    discount_rate: object = 0.01,
    freq: object = "D",
) -> Any:
    """Discounted value of each customer's purchases over the next ``time`` months.

    ``lifetimes``' ``GammaGammaFitter.customer_lifetime_value`` formula: for
    each month k = 1 .. ``time``, the purchases `BetaGeo.expected_purchases`
    expects in it, times the spend `GammaGamma.conditional_expected_average_profit`
    expects, divided by ``(1 + discount_rate) ** k``, summed. ``freq`` is
    the time unit of ``recency``, ``T`` and of the data ``bg`` was fitted on:
    ``"D"`` (a month is 30 days), ``"W"`` (4.345 weeks), ``"M"`` or ``"H"``
    (720 hours).

    Args:
        bg: The purchase model.
        gg: The spend model.
        frequency: Repeat purchases per customer.
        recency: Age at the last purchase.
        T: Age at the end of observation.
        monetary_value: Mean spend of the repeat purchases.
        time: Months ahead (a whole number >= 1).
        discount_rate: Discount per month (0.01: 1 %).
        freq: The time unit, as above.

    Returns:
        The values, shaped as `BetaGeo.probability_alive`'s (a Series keeps
        the index of ``frequency``).

    Raises:
        ValidationError: Bad inputs (as for the models' predictions), a
            ``time`` that is not a whole number >= 1 (at ``$.time``), a
            ``discount_rate`` <= -1 (at ``$.discount_rate``), or a ``freq``
            not listed (at ``$.freq``).

    Examples:
        >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> gg = GammaGamma(p=6.25, q=3.74, v=15.44)
        >>> customer_lifetime_value(
        ...     bg, gg, [0, 2], [0, 30.43], [38.86, 38.86], [0, 22.35], freq="W"
        ... ).round(2)
        array([ 8.37, 36.29])

    .. versionadded:: 0.1.0
    """
    np = module("numpy")
    months = time if isinstance(time, int) and not isinstance(time, bool) and time >= 1 else None
    rate = (
        float(discount_rate)
        if isinstance(discount_rate, (int, float))
        and not isinstance(discount_rate, bool)
        and -1 < discount_rate < math.inf
        else None
    )
    factor = _PER_MONTH.get(freq) if isinstance(freq, str) else None
    problems = []
    if months is None:
        problems.append(
            FieldError(path="$.time", code="type", message="must be a whole number >= 1")
        )
    if rate is None:
        problems.append(
            FieldError(path="$.discount_rate", code="type", message="must be a number > -1")
        )
    if factor is None:
        problems.append(
            FieldError(
                path="$.freq",
                code="unsupported",
                message=f"{freq!r} is not one of 'D', 'W', 'M', 'H'",
            )
        )
    if months is None or rate is None or factor is None:
        raise ValidationError(problems)
    x, tx, age, m = _arrays(
        {"frequency": frequency, "recency": recency, "T": T, "monetary_value": monetary_value}
    )
    _check_summary(x, tx, age, integral=False)
    spend = gg.conditional_expected_average_profit(x, m)
    # Cumulative expected purchases at the end of each month (0 at the start).
    ends = np.arange(1, months + 1) * factor
    cumulative = [np.zeros(np.broadcast_shapes(x.shape, tx.shape, age.shape))]
    cumulative.extend(bg.expected_purchases(end, x, tx, age) for end in ends)
    value = np.zeros_like(cumulative[0])
    for k, end in enumerate(ends, start=1):
        value = value + spend * (cumulative[k] - cumulative[k - 1]) / (1 + rate) ** (end / factor)
    return _shaped(value, frequency, recency, T, monetary_value)


# --- predictions ---------------------------------------------------------------------------


def _purchases(params: tuple[float, float, float, float], horizon: Any, x: Any, age: Any) -> Any:
    """Expected purchases in ``horizon`` of a customer alive after x purchases at age ``age``.

    ``(a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * 2F1(...))``
    with z = t / (alpha + T + t); times P(alive), it is equation (10) of Fader,
    Hardie and Lee (2005), and with x = T = 0 their equation (9).
    """
    np = module("numpy")
    special = module("scipy.special")
    r, alpha, a, b = params
    if abs(a - 1) < _NEAR_ONE:
        # At a = 1 the formula is 0 / 0 (its limit is finite) and near it the bracket
        # cancels: interpolate between points a little away on both sides (an error
        # of the second order in their distance).
        low, high = 1 - 2 * _NEAR_ONE, 1 + 2 * _NEAR_ONE
        below = _purchases((r, alpha, low, b), horizon, x, age)
        above = _purchases((r, alpha, high, b), horizon, x, age)
        return below + (above - below) * ((a - low) / (high - low))
    z = horizon / (alpha + age + horizon)
    with np.errstate(over="ignore", invalid="ignore"):
        power = np.exp((r + x) * np.log((alpha + age) / (alpha + horizon + age)))
        hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, z) * power
        # Where 2F1 overflows, Euler's transform: 2F1(A, B; C; z) =
        # (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z), the power folded in.
        euler = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z) * np.exp(
            (a - 1) * np.log1p(-z)
        )
    product = np.where(np.isfinite(hyper), hyper, euler)
    return (a + b + x - 1) / (a - 1) * (1 - product)


# --- likelihoods ---------------------------------------------------------------------------


def _bgnbd_terms(params: Any, x: Any, tx: Any, age: Any) -> tuple[Any, ...]:
    np = module("numpy")
    special = module("scipy.special")
    r, alpha, a, b = params
    repeat = x > 0
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + age)
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx)
    terms = a1 + a2 + np.where(repeat, np.logaddexp(a3, a4), a3)
    # Share of the "dropped out after the last purchase" branch in the likelihood.
    share = np.where(repeat, special.expit(a4 - a3), 0.0)
    return terms, share


def _bgnbd_log_likelihood(
    params: tuple[float, float, float, float], x: Any, tx: Any, age: Any, counts: Any
) -> float:
    terms, _ = _bgnbd_terms(params, x, tx, age)
    return float((counts * terms).sum())


def _bgnbd_objective(theta: Any, data: tuple[Any, ...]) -> tuple[float, Any]:
    """Mean negative log-likelihood per customer and its gradient, on log-parameters."""
    np = module("numpy")
    special = module("scipy.special")
    x, tx, age, counts = data
    r, alpha, a, b = np.exp(theta)
    total = counts.sum()
    terms, share = _bgnbd_terms((r, alpha, a, b), x, tx, age)
    stay = 1 - share
    digamma = special.digamma
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - stay * np.log(alpha + age)
        - share * np.log(alpha + tx)
    )
    d_alpha = r / alpha - (r + x) * (stay / (alpha + age) + share / (alpha + tx))
    common = digamma(a + b) - digamma(a + b + x)
    d_a = common + share / a
    d_b = common + digamma(b + x) - digamma(b) - share / (b + np.maximum(x, 1) - 1)
    gradient = np.array(
        [
            r * (counts * d_r).sum(),
            alpha * (counts * d_alpha).sum(),
            a * (counts * d_a).sum(),
            b * (counts * d_b).sum(),
        ]
    )
    return float(-(counts * terms).sum() / total), -gradient / total


def _gamma_gamma_objective(theta: Any, data: tuple[Any, ...]) -> tuple[float, Any]:
    """Mean negative log-likelihood of the Gamma-Gamma model and its gradient (log-parameters)."""
    np = module("numpy")
    special = module("scipy.special")
    x, m, counts = data
    p, q, v = np.exp(theta)
    total = counts.sum()
    px = p * x
    log_xm_v = np.log(x * m + v)
    terms = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_xm_v
    )
    digamma = special.digamma
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_xm_v)
    d_q = digamma(px + q) - digamma(q) + np.log(v) - log_xm_v
    d_v = q / v - (px + q) / (x * m + v)
    gradient = np.array(
        [p * (counts * d_p).sum(), q * (counts * d_q).sum(), v * (counts * d_v).sum()]
    )
    return float(-(counts * terms).sum() / total), -gradient / total


# --- fitting -------------------------------------------------------------------------------


_Objective = Callable[[Any, tuple[Any, ...]], tuple[float, Any]]


def _maximize(
    objective: _Objective,
    data: tuple[Any, ...],
    iterations: int,
    names: tuple[str, ...],
    *,
    scales: tuple[float, ...],
    model: str,
) -> tuple[Any, int, tuple[float, ...]]:
    """Minimize ``objective``: the optimum (log-parameters), the iterations, the standard errors.

    Raises:
        FitError: ``not_converged`` when the iterations ran out or the
            gradient is not about zero where the optimizer stopped;
            ``degenerate`` when parameters ran off towards a limit of the
            model or the Hessian there is not clearly positive definite.
    """
    np = module("numpy")
    optimize = module("scipy.optimize")
    with np.errstate(all="ignore"):  # trial steps may leave the domain; judged below
        result = optimize.minimize(
            objective,
            np.full(len(names), 0.1),  # the start of lifetimes (data scaled to about 1)
            args=(data,),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_BOUND, _BOUND)] * len(names),
            options={"maxiter": iterations, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20},
        )
        value, gradient = objective(result.x, data)
    largest = float(np.max(np.abs(gradient)))
    stopped = (
        f"the optimizer stopped after {result.nit} iterations without reaching a maximum"
        f" of the likelihood ({result.message}; largest gradient {largest:.3g})"
    )
    if result.status == 1:  # the iteration budget ran out
        raise FitError(stopped, code="not_converged", model=model)
    runaway = [
        f"{name} = {math.exp(log) * scale:.3g}"
        for name, log, scale in zip(names, result.x, scales, strict=True)
        if abs(log) > _PLAUSIBLE
    ]
    if runaway:
        raise FitError(
            f"the likelihood grows towards a limit of the model ({', '.join(runaway)} ran off):"
            " the data cannot identify it (too little variation between customers?)",
            code="degenerate",
            model=model,
        )
    if not (math.isfinite(value) and largest <= _GRADIENT_TOLERANCE):
        raise FitError(stopped, code="not_converged", model=model)
    # At a stationary point: is it a proper maximum?
    errors = _standard_errors(objective, result.x, data, names, scales=scales, model=model)
    return result.x, int(result.nit), errors


def _standard_errors(
    objective: _Objective,
    theta: Any,
    data: tuple[Any, ...],
    names: tuple[str, ...],
    *,
    scales: tuple[float, ...],
    model: str,
) -> tuple[float, ...]:
    """Standard errors of the parameters from the Hessian of the log-likelihood (delta method).

    The Hessian on log-parameters comes from central differences of the
    analytic gradient; one that is not positive definite, nearly singular,
    or that leaves a parameter all but free means the maximum is not a
    point: the fit is degenerate.
    """
    np = module("numpy")
    size = theta.shape[0]
    step = 1e-5
    hessian = np.empty((size, size))
    for j in range(size):
        shift = np.zeros(size)
        shift[j] = step
        hessian[:, j] = (objective(theta + shift, data)[1] - objective(theta - shift, data)[1]) / (
            2 * step
        )
    hessian = (hessian + hessian.T) / 2 * data[-1].sum()
    eigenvalues = np.linalg.eigvalsh(hessian) if np.all(np.isfinite(hessian)) else None
    if (
        eigenvalues is None
        or eigenvalues[0] <= 0
        or eigenvalues[-1] / eigenvalues[0] > _CONDITION_LIMIT
    ):
        raise FitError(
            "the likelihood is flat along some direction at its maximum: the data cannot"
            f" tell the parameters ({', '.join(names)}) apart",
            code="degenerate",
            model=model,
        )
    log_errors = np.sqrt(np.diag(np.linalg.inv(hessian)))
    loose = [
        f"{name} = {math.exp(log) * scale:.3g} +- a factor of e**{error:.0f}"
        for name, log, error, scale in zip(names, theta, log_errors, scales, strict=True)
        if error > _LOG_ERROR_LIMIT
    ]
    if loose:
        raise FitError(
            f"the likelihood is all but flat along {', '.join(loose)}: the data do not"
            " determine it (too little variation between customers?)",
            code="degenerate",
            model=model,
        )
    return tuple(float(v) for v in np.exp(theta) * log_errors * np.array(scales))


def _collapsed(rows: Any, counts: Any) -> tuple[Any, Any]:
    """Identical rows once each, with their counts summed."""
    np = module("numpy")
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    return unique, np.bincount(inverse.reshape(-1), weights=counts, minlength=unique.shape[0])


def _correlation(x: Any, m: Any, counts: Any) -> float | None:
    np = module("numpy")
    if np.ptp(x) == 0 or np.ptp(m) == 0:  # (one repeat buyer at least)
        return None
    return float(
        np.cov(x, m, aweights=counts)[0, 1]
        / np.sqrt(np.cov(x, aweights=counts) * np.cov(m, aweights=counts))
    )


# --- inputs --------------------------------------------------------------------------------


def _arrays(values: dict[str, object]) -> tuple[Any, ...]:
    """Each value as a float array (1-d or 0-d), or a ValidationError naming it."""
    np = module("numpy")
    arrays = []
    problems = []
    for name, value in values.items():
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            problems.append(FieldError(path=f"$.{name}", code="type", message="must be numbers"))
            continue
        if array.ndim > 1:
            problems.append(
                FieldError(path=f"$.{name}", code="type", message="must be a number or a 1-d array")
            )
            continue
        arrays.append(array)
    if not problems:
        lengths = {name: a.shape[0] for name, a in zip(values, arrays, strict=True) if a.ndim}
        if lengths:
            first, size = next(iter(lengths.items()))
            problems.extend(
                FieldError(
                    path=f"$.{name}",
                    code="length",
                    message=f"has {length} values where {first} has {size}",
                )
                for name, length in lengths.items()
                if length != size
            )
    if problems:
        raise ValidationError(problems)
    return tuple(arrays)


def _weights(weights: object, size: int) -> Any:
    np = module("numpy")
    if weights is None:
        return np.ones(size)
    (counts,) = _arrays({"weights": weights})
    if counts.shape != (size,):
        raise ValidationError.one("$.weights", "length", f"must have {size} values, one per row")
    problems = list(_nonnegative_integers(counts, "weights"))
    if problems:
        raise ValidationError(problems)
    return counts


def _nonnegative_integers(values: Any, name: str) -> Iterator[FieldError]:
    np = module("numpy")
    yield from _problems(~np.isfinite(values), name, "not_finite", "must be finite")
    yield from _problems(values < 0, name, "negative", "must be >= 0")
    yield from _problems(
        np.isfinite(values) & (values != np.floor(values)),
        name,
        "not_integer",
        "must be a whole number",
    )


def _check_summary(x: Any, tx: Any, age: Any, *, integral: bool) -> None:
    np = module("numpy")
    if integral:
        problems = list(_nonnegative_integers(x, "frequency"))
    else:
        problems = list(_problems(~np.isfinite(x), "frequency", "not_finite", "must be finite"))
        problems.extend(_problems(x < 0, "frequency", "negative", "must be >= 0"))
    for values, name in ((tx, "recency"), (age, "T")):
        problems.extend(_problems(~np.isfinite(values), name, "not_finite", "must be finite"))
        problems.extend(_problems(values < 0, name, "negative", "must be >= 0"))
    if not problems:
        x_, tx_, age_ = np.broadcast_arrays(x, tx, age)
        problems.extend(_problems(tx_ > age_, "recency", "after_T", "must not exceed T"))
        problems.extend(
            _problems(
                (x_ == 0) & (tx_ > 0),
                "recency",
                "inconsistent",
                "must be 0 without repeat purchases (frequency 0)",
            )
        )
    if problems:
        raise ValidationError(problems)


def _check_horizon(horizon: Any) -> None:
    np = module("numpy")
    problems = list(
        _problems(~np.isfinite(horizon) | (horizon < 0), "t", "negative", "must be >= 0")
    )
    if problems:
        raise ValidationError(problems)


def _problems(mask: Any, name: str, code: str, message: str) -> Iterator[FieldError]:
    """One FieldError per offending element (the first few), at ``$.name[i]``."""
    np = module("numpy")
    if mask.ndim == 0:
        if mask:
            yield FieldError(path=f"$.{name}", code=code, message=message)
        return
    where = np.flatnonzero(mask)
    for position, index in enumerate(where[:_SHOWN_PROBLEMS]):
        more = where.shape[0] - _SHOWN_PROBLEMS
        suffix = (
            f" ({more:,} more rows too)" if position == _SHOWN_PROBLEMS - 1 and more > 0 else ""
        )
        yield FieldError(path=f"$.{name}[{index}]", code=code, message=message + suffix)


def _iterations(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError.one("$.max_iterations", "type", "must be a whole number >= 1")
    return value


# --- outputs -------------------------------------------------------------------------------


def _shaped(values: Any, *inputs: object) -> Any:
    """``values`` as a Series when an input was one (its index), a float for scalars."""
    np = module("numpy")
    for given in inputs:
        kind = type(given)
        if (
            kind.__name__ == "Series"
            and kind.__module__.startswith("pandas")
            and np.shape(values) == (len(given),)  # type: ignore[arg-type]
        ):
            return module("pandas").Series(values, index=given.index)  # type: ignore[attr-defined]
    if np.ndim(values) == 0:
        return float(values)
    return values


def _summary_frame(params: dict[str, float], errors: tuple[float, ...] | None) -> Any:
    pd = module("pandas")
    np = module("numpy")
    coef = np.array(list(params.values()))
    se = np.array(errors) if errors is not None else np.full(coef.shape, np.nan)
    return pd.DataFrame(
        {
            "coef": coef,
            "se(coef)": se,
            "lower 95% bound": coef - _Z95 * se,
            "upper 95% bound": coef + _Z95 * se,
        },
        index=list(params),
    )


def _result(
    title: str, model: BetaGeo | GammaGamma, frame: Any, notes: tuple[str, ...] = ()
) -> Result:
    figures: dict[str, object] = {}
    if model.log_likelihood is not None:
        figures = {
            "customers": model.n_customers,
            "log-likelihood": model.log_likelihood,
            "method": f"{model.method}, {model.iterations} iterations",
        }
    return Result(title=title, frame=frame, figures=figures, notes=notes)
