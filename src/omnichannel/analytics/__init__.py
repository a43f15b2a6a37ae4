"""Analytics: KPIs, RFM, CLV, attribution, funnels, journey maps and experiments.

Everything runs as SQL on DuckDB (or NumPy/SciPy where a model is fitted)
over the tables you give: pandas or polars DataFrames, Arrow tables, DuckDB
relations, Parquet or CSV files, or an `omnichannel.engine.Engine`'s events
through `event_table`. Results are pandas DataFrames, or result objects that
show themselves in notebooks.

- Events: `event_table` (an Engine's events by resolved person, laid out as
  `EVENT_COLUMNS`), `sessions`.
- KPIs: `traffic`, `conversion_rates`, `acquisition`, `order_kpis`,
  `cohort_retention`, `churn`, `cart_abandonment`, `survey_scores`,
  `social_engagement`, `roi`, and `kpi_suite` for all of them at once.
- Customer value: `rfm_summary` (the conventions of the ``lifetimes``
  package), `BetaGeo` (BG/NBD), `GammaGamma` and `customer_lifetime_value`;
  `cdnow_sample`, the CDNOW transactions the BG/NBD paper fits.
- `attribution`: first/last touch, last non-direct, linear, time decay,
  position-based, exact Markov removal effects (order 1 to 4) and Shapley
  values, over conversion paths.
- Journeys: `funnel` (drop-off per step and channel), `journey_map`
  (stage transitions, channel hops, top paths, time to convert).
- `html_report`: all of it on one self-contained HTML page, with charts.
- Experiments: `experiment` (conversion per arm, lift, z-test, probability
  to beat control, sample-ratio mismatch) for message variants and journey
  splits with holdouts (`assignments_from_enrollments`).

Needs the ``analytics`` extra (``pip install 'omnichannel[analytics]'``:
DuckDB, pandas, NumPy, SciPy, pyarrow); charts need the ``plots`` extra.

.. versionadded:: 0.1.0
"""

from typing import TYPE_CHECKING, Any

from omnichannel.analytics._result import Result

if TYPE_CHECKING:
    from omnichannel.analytics import attribution
    from omnichannel.analytics._charts import funnel_chart, path_sankey, retention_heatmap
    from omnichannel.analytics._clv import BetaGeo, GammaGamma, customer_lifetime_value
    from omnichannel.analytics._datasets import cdnow_sample
    from omnichannel.analytics._experiments import (
        ExperimentResult,
        assignments_from_enrollments,
        experiment,
    )
    from omnichannel.analytics._funnels import Funnel, funnel
    from omnichannel.analytics._journey_map import STAGES, JourneyMap, journey_map
    from omnichannel.analytics._kpis import (
        SEND_EVENTS,
        SOCIAL_EVENTS,
        acquisition,
        cart_abandonment,
        churn,
        cohort_retention,
        conversion_rates,
        kpi_suite,
        order_kpis,
        roi,
        sessions,
        social_engagement,
        survey_scores,
        traffic,
    )
    from omnichannel.analytics._report import FUNNEL_STEPS, html_report
    from omnichannel.analytics._rfm import rfm_summary
    from omnichannel.analytics._tables import EVENT_COLUMNS, MESSAGE_CHANNELS, event_table, touch_of

__all__ = [
    "EVENT_COLUMNS",
    "FUNNEL_STEPS",
    "MESSAGE_CHANNELS",
    "SEND_EVENTS",
    "SOCIAL_EVENTS",
    "STAGES",
    "BetaGeo",
    "ExperimentResult",
    "Funnel",
    "GammaGamma",
    "JourneyMap",
    "Result",
    "acquisition",
    "assignments_from_enrollments",
    "attribution",
    "cart_abandonment",
    "cdnow_sample",
    "churn",
    "cohort_retention",
    "conversion_rates",
    "customer_lifetime_value",
    "event_table",
    "experiment",
    "funnel",
    "funnel_chart",
    "html_report",
    "journey_map",
    "kpi_suite",
    "order_kpis",
    "path_sankey",
    "retention_heatmap",
    "rfm_summary",
    "roi",
    "sessions",
    "social_engagement",
    "survey_scores",
    "touch_of",
    "traffic",
]

_LAZY = {
    "BetaGeo": "_clv",
    "GammaGamma": "_clv",
    "customer_lifetime_value": "_clv",
    "rfm_summary": "_rfm",
    "cdnow_sample": "_datasets",
    "ExperimentResult": "_experiments",
    "assignments_from_enrollments": "_experiments",
    "experiment": "_experiments",
    "Funnel": "_funnels",
    "funnel": "_funnels",
    "STAGES": "_journey_map",
    "JourneyMap": "_journey_map",
    "journey_map": "_journey_map",
    "funnel_chart": "_charts",
    "FUNNEL_STEPS": "_report",
    "html_report": "_report",
    "path_sankey": "_charts",
    "retention_heatmap": "_charts",
    "EVENT_COLUMNS": "_tables",
    "MESSAGE_CHANNELS": "_tables",
    "event_table": "_tables",
    "touch_of": "_tables",
    **dict.fromkeys(
        (
            "SEND_EVENTS",
            "SOCIAL_EVENTS",
            "acquisition",
            "cart_abandonment",
            "churn",
            "cohort_retention",
            "conversion_rates",
            "kpi_suite",
            "order_kpis",
            "roi",
            "sessions",
            "social_engagement",
            "survey_scores",
            "traffic",
        ),
        "_kpis",
    ),
}


def __getattr__(name: str) -> Any:
    # DuckDB, pandas and SciPy load only when an analysis asks for them.
    import importlib

    if name == "attribution":
        return importlib.import_module("omnichannel.analytics.attribution")
    if name in _LAZY:
        return getattr(importlib.import_module(f"omnichannel.analytics.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'omnichannel.analytics' has no attribute {name!r}")
