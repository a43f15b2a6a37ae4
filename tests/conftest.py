"""Shared test set-up: hypothesis profiles."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# CI-sized by default; `HYPOTHESIS_PROFILE=slow` (or -m slow tests) digs deeper.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
    database=None,  # CI starts from a fresh clone; a local database only costs I/O here
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.register_profile("slow", deadline=None, max_examples=5_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_LEFT_OUT = {
    "slow": "long property run: select it with -m slow",
    "figures": "full-size concurrency figure: nox -s figures (or -m figures)",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave `slow` and `figures` tests out unless asked for: CI runs the CI-sized suite."""
    chosen = config.getoption("markexpr") or ""
    for marker, reason in _LEFT_OUT.items():
        if marker in chosen:
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)
