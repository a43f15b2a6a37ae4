"""Charts for notebooks and reports, drawn with plotly (the ``plots`` extra)."""

from __future__ import annotations

import importlib
import itertools
from typing import Any

from omnichannel.errors import OmnichannelError

__all__ = ["funnel_chart", "path_sankey", "retention_heatmap"]


def _go() -> Any:
    try:
        return importlib.import_module("plotly.graph_objects")
    except ImportError:
        raise OmnichannelError("charts need plotly: pip install 'omnichannel[plots]'") from None


def funnel_chart(funnel: Any) -> Any:
    """A funnel chart of a `Funnel`'s steps: people per step, share of the first shown."""
    go = _go()
    steps = funnel.steps
    figure = go.Figure(
        go.Funnel(y=list(steps["event"]), x=list(steps["people"]), textinfo="value+percent initial")
    )
    figure.update_layout(title="Funnel")
    return figure


def path_sankey(paths: Any) -> Any:
    """A Sankey diagram of channel paths (``path`` as ``"web > email"``, ``people``).

    Nodes are a channel at a position (``1. web``, ``2. email`` ...) and the
    conversion at the end; links carry the people who went that way.
    """
    go = _go()
    nodes: dict[str, int] = {}
    flows: dict[tuple[int, int], int] = {}

    def node(label: str) -> int:
        return nodes.setdefault(label, len(nodes))

    for path, people in zip(paths["path"], paths["people"], strict=True):
        labels = [f"{i}. {c}" for i, c in enumerate(str(path).split(" > "), start=1)]
        labels.append("converted")
        for a, b in itertools.pairwise(labels):
            key = (node(a), node(b))
            flows[key] = flows.get(key, 0) + int(people)
    figure = go.Figure(
        go.Sankey(
            node={"label": list(nodes), "pad": 12},
            link={
                "source": [a for a, _ in flows],
                "target": [b for _, b in flows],
                "value": list(flows.values()),
            },
        )
    )
    figure.update_layout(title="Paths to conversion")
    return figure


def retention_heatmap(result: Any) -> Any:
    """A heatmap of a cohort retention `Result` (cohorts down, periods since across)."""
    go = _go()
    matrix = result.frame.drop(columns=["customers"])
    figure = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            colorscale="Blues",
            zmin=0,
            zmax=1,
        )
    )
    figure.update_layout(title=result.title, xaxis_title="periods since first order")
    # Cohorts are labels, one row each: a date axis would space them by time and stretch them.
    figure.update_yaxes(type="category", autorange="reversed")
    figure.update_xaxes(type="category")
    return figure
