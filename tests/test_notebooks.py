"""The notebooks in docs/ run top to bottom, and show what they say they show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="running notebooks needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="running notebooks needs nbclient")
pytest.importorskip("ipykernel", reason="running notebooks needs a Python kernel")
pytest.importorskip("plotly", reason="the notebooks draw with plotly")

ROOT = Path(__file__).parent.parent
NOTEBOOKS = ROOT / "docs" / "notebooks"
PLOTLY = "application/vnd.plotly.v1+json"


def _outputs(cell, kind):
    return [o for o in cell.get("outputs", []) if o["output_type"] == kind]


class Ran:
    """A notebook after running: its printed text, its charts and its HTML outputs."""

    def __init__(self, notebook):
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        self.errors = [o for cell in code for o in _outputs(cell, "error")]
        self.stdout = "".join(
            o["text"] for cell in code for o in _outputs(cell, "stream") if o["name"] == "stdout"
        )
        shown = [
            o["data"]
            for cell in code
            for kind in ("execute_result", "display_data")
            for o in _outputs(cell, kind)
        ]
        self.charts = [d for d in shown if PLOTLY in d]
        self.html = [d["text/html"] for d in shown if "text/html" in d]


def _journey_analytics(ran):
    assert len(ran.charts) >= 3  # retention heatmap, funnel, Sankey
    assert any("Journey map" in html for html in ran.html)
    # The abandoned-cart journey ran live: reminders went out by e-mail and SMS ...
    sent = re.search(r"^(\d+) messages sent: (.*)$", ran.stdout, re.MULTILINE)
    assert sent is not None
    assert int(sent[1]) > 0
    assert "by email" in sent[2]
    assert "by sms" in sent[2]
    # ... and the experiment compares the reminded with the holdout, the split itself sound.
    experiment = next(html for html in ran.html if "Experiment: 1 arm against" in html)
    assert "holdout" in experiment
    assert "remind" in experiment
    assert "<th>sample ratio mismatch</th><td>no</td>" in experiment


def _customer_value(ran):
    # The BG/NBD fit on CDNOW gives the published parameters; the shop's short history is refused.
    assert "{'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}" in ran.stdout
    assert "degenerate - bg/nbd" in ran.stdout
    assert "orders: (1, 2, 3, 4)" in ran.stdout  # RFM frequency cut points, pushed apart
    assert len(ran.charts) >= 2  # forecast against the holdout weeks, RFM grid
    assert any("rfm-champions" in html and "rfm-lost" in html for html in ran.html)


def _attribution(ran):
    assert len(ran.charts) >= 2  # Sankey of the paths, the models side by side
    assert any("Markov attribution (order 2" in html for html in ran.html)
    assert any("Shapley attribution (conversions)" in html for html in ran.html)
    assert any("Shapley attribution (rate)" in html for html in ran.html)


CHECKS = {
    "journey-analytics": _journey_analytics,
    "customer-value": _customer_value,
    "attribution": _attribution,
}


def test_every_notebook_is_checked_and_in_the_docs_nav():
    assert {path.stem for path in NOTEBOOKS.glob("*.ipynb")} == set(CHECKS)
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for name in CHECKS:
        assert re.search(rf"^\s+- [^:\n]+: notebooks/{name}\.ipynb$", nav, re.MULTILINE), name


@pytest.mark.parametrize("name", list(CHECKS))
def test_the_notebook_runs(name, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "the notebooks are kept without outputs; the test suite and the docs build run them"
    )
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    ran = Ran(notebook)
    assert not ran.errors
    # Every notebook works on the synthetic shop, its identities resolved by the Engine.
    assert re.search(r"^[\d,]+ events of \d+ people$", ran.stdout, re.MULTILINE)
    CHECKS[name](ran)
