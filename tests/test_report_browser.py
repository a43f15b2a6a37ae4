"""The demo's HTML report opens in a real browser (headless Chromium) with its charts drawn.

The page is loaded from a file, offline, and Chromium prints the DOM after its
scripts ran: plotly must have drawn each chart (an SVG in each chart's div)
and no script may have failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from omnichannel.cli import main

CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
# The flags a closed machine needs: no sandbox as root, no GPU, no calls home.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="headless Chromium is not installed (.ci/run installs Debian's chromium)",
)


def test_the_report_draws_its_charts_in_chromium(tmp_path: Path, capsys) -> None:
    pytest.importorskip("duckdb")
    pytest.importorskip("plotly", reason="the report draws with plotly")
    assert CHROMIUM is not None, "CI must install chromium"
    assert 0 == main(
        ["demo", "--out", str(tmp_path), "--profiles", "60", "--days", "10", "--plain"]
    )
    capsys.readouterr()
    page = tmp_path / "report.html"
    source = page.read_text(encoding="utf-8")
    charts = source.count('class="plotly-graph-div"')
    assert charts == 3
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    dom = done.stdout
    # plotly replaces each chart's div content with its drawing: three SVG roots per chart,
    # and the marks of each trace (in the page source these class names do not occur).
    assert dom.count('class="main-svg"') == 3 * charts
    for drawn in ('class="funnellayer', 'class="point"', 'class="sankey-node"', 'class="hm"'):
        assert drawn not in source
        assert drawn in dom, f"{drawn} was not drawn"
    assert dom.count('class="sankey-link"') > 0
