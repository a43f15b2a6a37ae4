"""The README's example runs and prints what its comments promise."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_prints_what_it_says():
    """Each print in the fifteen-line example outputs the text its trailing comment shows."""
    code = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert code is not None
    promised = [
        line.split("#", 1)[1].strip()
        for line in code.group(1).splitlines()
        if line.startswith("print(")
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), str(README), "exec"), {})  # noqa: S102 - our own README
    assert promised == out.getvalue().splitlines()
