"""Helpers shared by test modules: the third-party conformance material."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
