"""Shared test set-up: hypothesis profiles and the third-party conformance material."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# CI-sized by default; `HYPOTHESIS_PROFILE=slow` (or -m slow tests) digs deeper.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.register_profile("slow", deadline=None, max_examples=5_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: ../shared/conformance beside the project root (absent from a user's sdist).
CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


def conformance_dir(name: str) -> Path:
    """Return a conformance folder, or skip the test where the shared folder is absent."""
    folder = CONFORMANCE / name
    if not folder.is_dir():
        pytest.skip(f"third-party conformance material not found at {folder} (e.g. an sdist)")
    return folder


def segment_samples() -> list[Path]:
    """The 20 Segment Spec sample payloads, or [] where the folder is absent."""
    folder = CONFORMANCE / "segment-spec"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def load_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))
