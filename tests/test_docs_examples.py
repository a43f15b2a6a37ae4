"""The guides' examples run, and print what the page shows after them."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
# Guides whose examples form one script, each ```python block followed by the ```text it prints.
# (The synthetic-data guide simulates a large shop: its examples take half a minute.)
CHECKED = [
    "guides/engine.md",
    "guides/rules.md",
    "guides/segments.md",
    "guides/segment-families.md",
    "guides/jsonlogic.md",
    "guides/channel-grouping.md",
    "guides/segment-ingest.md",
    "guides/personalization.md",
    "guides/recommendations.md",
    "guides/delivery.md",
    "guides/journeys.md",
    "guides/analytics.md",
    "guides/experiments.md",
    "guides/attribution.md",
    "guides/customer-value.md",
    "concepts/event.md",
    "concepts/rule.md",
    "concepts/segment.md",
    "concepts/journey.md",
    "concepts/message.md",
    "concepts/delivery.md",
    "how-to/abandoned-cart.md",
    "how-to/onboarding.md",
    "how-to/birthday.md",
    "how-to/gdpr.md",
    "how-to/warehouse-segments.md",
]
_BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", CHECKED)
def test_guide_examples_print_what_the_page_shows(page, tmp_path, monkeypatch):
    pytest.importorskip("duckdb")
    monkeypatch.chdir(tmp_path)  # an example that makes files makes them here
    pandas = pytest.importorskip("pandas")
    # A page may set pandas' display options for its own tables; they end with the page.
    with pandas.option_context("display.precision", 6, "display.width", 80):
        _run_page(page)


def _run_page(page):
    namespace: dict[str, object] = {}
    blocks = _BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))
    checked = 0
    for n, (kind, body) in enumerate(blocks):
        if kind != "python":
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(body, f"{page} block {n}", "exec"), namespace)  # noqa: S102 - our own docs
        if n + 1 < len(blocks) and blocks[n + 1][0] == "text":
            assert out.getvalue() == blocks[n + 1][1], f"{page}: block {n}"
            checked += 1
    assert checked
