"""One self-contained HTML page of the KPIs, the retention heatmap, a funnel and the paths."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omnichannel.analytics._charts import funnel_chart, path_sankey, retention_heatmap
from omnichannel.analytics._frames import connect, register
from omnichannel.analytics._funnels import funnel
from omnichannel.analytics._journey_map import journey_map
from omnichannel.analytics._kpis import cohort_retention, kpi_suite
from omnichannel.errors import ValidationError

__all__ = ["FUNNEL_STEPS", "html_report"]

#: The funnel a report draws unless told otherwise.
FUNNEL_STEPS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")

_SECTIONS = (
    ("orders", "Orders and repeat purchases"),
    ("conversion_rates", "Conversion by channel group"),
    ("cart_abandonment", "Cart abandonment (orders in any channel recover a cart)"),
    ("surveys", "Surveys"),
    ("roi", "Return on messages"),
    ("churn", "Churn by month"),
    ("acquisition", "Acquisition by month"),
)
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""


def html_report(
    events: object,
    path: object = None,
    *,
    title: object = "Omnichannel report",
    steps: Sequence[str] = FUNNEL_STEPS,
    currency: object = "USD",
    rates: object = None,
    connection: Any = None,
) -> str:
    """Write the whole analysis of ``events`` as one HTML page; return the HTML.

    The page holds every KPI of `kpi_suite` as tables, and the cohort
    retention heatmap, the funnel over ``steps`` and the Sankey diagram of
    the paths to a first order as interactive plotly charts. It is
    self-contained (plotly's script is inlined: about 4 MB), so it opens
    offline and can be mailed. With ``path``, the page is also written there.

    Raises:
        ValidationError: bad ``title``, ``path`` or KPI arguments, or events
            without the columns the KPIs read.
        OmnichannelError: plotly is not installed (the ``plots`` extra).

    .. versionadded:: 0.1.0
    """
    if not isinstance(title, str) or not title.strip():
        raise ValidationError.one("$.title", "type", "must be non-empty text")
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ValidationError.one("$.path", "type", "must be a file path")
    database = connect(connection)
    register(database, "_report_source", events, path="$.events")
    database.execute("CREATE OR REPLACE TEMP TABLE _report AS SELECT * FROM _report_source")
    table = database.table("_report")
    kpis = kpi_suite(table, currency=currency, rates=rates, connection=database)
    charts = [
        retention_heatmap(cohort_retention(table, connection=database)),
        funnel_chart(funnel(table, list(steps), connection=database)),
        path_sankey(journey_map(table, connection=database).paths.head(12)),
    ]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{_count(database):,} events, analysed by omnichannel.</p>",
    ]
    for number, chart in enumerate(charts):  # plotly's script once, with the first chart
        parts.append(
            # Fixed ids (plotly draws random ones): the same events give the same page.
            chart.to_html(full_html=False, include_plotlyjs=number == 0, div_id=f"chart-{number}")
        )
    for key, heading in _SECTIONS:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(kpis[key].to_html(index=False, float_format=lambda x: f"{x:,.3f}"))
    parts.append("</body></html>")
    page = "".join(parts)
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page


def _count(database: Any) -> int:
    return int(database.execute("SELECT count(*) FROM _report").fetchall()[0][0])
