"""Analytics: KPIs, RFM, CLV, attribution, funnels, journey maps and experiments.

Everything runs as SQL on DuckDB (or NumPy/SciPy where a model is fitted)
over the tables you give: pandas or polars DataFrames, Arrow tables, DuckDB
relations, Parquet or CSV files, or an `omnichannel.engine.Engine`'s
profiles and events through `event_table`. Results are pandas DataFrames, or
`Result` objects that show themselves in notebooks.

- Customer value: `rfm_summary` (the conventions of the ``lifetimes``
  package), `BetaGeo` (BG/NBD), `GammaGamma` and `customer_lifetime_value`.
- `attribution`: first/last touch, last non-direct, linear, time decay,
  position-based, exact Markov removal effects (order 1 to 4) and Shapley
  values, over conversion paths.

Needs the ``analytics`` extra (``pip install 'omnichannel[analytics]'``:
DuckDB, pandas, NumPy, SciPy, pyarrow); plots need ``plotly``.

.. versionadded:: 0.1.0
"""

from typing import Any

from omnichannel.analytics._result import Result

__all__ = ["Result"]

_LAZY: dict[str, str] = {}


def __getattr__(name: str) -> Any:
    # DuckDB, pandas and SciPy load only when an analysis asks for them.
    import importlib

    if name == "attribution":
        return importlib.import_module("omnichannel.analytics.attribution")
    if name in _LAZY:
        return getattr(importlib.import_module(f"omnichannel.analytics.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'omnichannel.analytics' has no attribute {name!r}")
