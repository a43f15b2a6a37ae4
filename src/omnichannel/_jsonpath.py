"""JSON paths for error reports: ``$``, ``$.properties.price``, ``$.batch[3]``, ``$["odd key"]``."""

from __future__ import annotations

import json
import re

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def child(path: str, key: str | int) -> str:
    """Return the path of ``key`` inside the value at ``path``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    # Quote anything else so that dots, brackets or quotes in a key stay unambiguous.
    return f"{path}[{json.dumps(key)}]"
