"""The analytics notebook in docs/ runs top to bottom, and shows what it says it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="running notebooks needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="running notebooks needs nbclient")
pytest.importorskip("ipykernel", reason="running notebooks needs a Python kernel")
pytest.importorskip("plotly", reason="the notebook draws with plotly")

NOTEBOOK = Path(__file__).parent.parent / "docs" / "notebooks" / "analytics.ipynb"


def _outputs(cell, kind):
    return [o for o in cell.get("outputs", []) if o["output_type"] == kind]


def test_the_analytics_notebook_runs(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "the notebook is kept without outputs; the test suite runs it"
    )
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [o for cell in code for o in _outputs(cell, "error")]
    printed = "".join(o["text"] for o in _outputs(code[0], "stream") if o["name"] == "stdout")
    assert re.fullmatch(r"[\d,]+ events of \d+ people\n", printed)
    shown = [
        o["data"]
        for cell in code
        for kind in ("execute_result", "display_data")
        for o in _outputs(cell, kind)
    ]
    charts = [d for d in shown if "application/vnd.plotly.v1+json" in d]
    assert len(charts) >= 3  # retention heatmap, funnel, Sankey
    tables = [d["text/html"] for d in shown if "text/html" in d]
    assert any("Journey map" in html for html in tables)
    stdout = "".join(
        o["text"] for cell in code for o in _outputs(cell, "stream") if o["name"] == "stdout"
    )
    # The BG/NBD fit on CDNOW gives the published parameters; the shop's short history is refused.
    assert "{'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}" in stdout
    assert "degenerate - bg/nbd" in stdout
