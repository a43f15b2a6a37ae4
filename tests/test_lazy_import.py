"""`import omnichannel` stays cheap and free of I/O libraries."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("httpx", "sqlite3", "duckdb", "sqlglot", "hypothesis", "omnichannel.cli")
#: The ``bulk`` extra (and pandas): only `resolve_bulk` imports them, when called.
HEAVY = ("numpy", "scipy", "pandas", "pyarrow")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_core_import_pulls_in_no_io_libraries():
    """The top-level import loads no HTTP client, database driver, SQL compiler or test library."""
    loaded = _modules_after("import omnichannel")
    assert [] == [m for m in FORBIDDEN + HEAVY if m in loaded]


def test_identity_import_pulls_in_no_array_libraries():
    """Importing the identity package (resolve_bulk included) loads no numpy, scipy or pyarrow."""
    loaded = _modules_after("import omnichannel.identity")
    assert [] == [m for m in HEAVY if m in loaded]


def test_ingest_import_pulls_in_no_io_libraries():
    """The ingest package is pure too: parsing needs no I/O library."""
    loaded = _modules_after("import omnichannel.ingest")
    assert [] == [m for m in FORBIDDEN if m in loaded]
