"""The command-line guide's console sessions print what the page shows.

Each ``$ omnichannel ...`` line is run (in a fresh folder, where the page's
``title=`` files are written first) and its output compared with the lines
after it; a ``...`` line stands for any lines.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from omnichannel.cli import main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "cli.md"
_FILE = re.compile(r'```\w+ title="([^"]+)"\n(.*?)```', re.DOTALL)
_CONSOLE = re.compile(r"```console\n(.*?)```", re.DOTALL)


def _sessions(text):
    """(command, expected lines) for every ``$`` line of the page's console blocks."""
    found = []
    for block in _CONSOLE.findall(text):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                found[-1][1].append(line)
    return found


def _matches(expected, got):
    pattern = "\n".join(".*?" if line == "..." else re.escape(line) for line in expected)
    return re.fullmatch(pattern, "\n".join(got), re.DOTALL) is not None


def test_the_cli_guide_prints_what_it_shows(tmp_path, monkeypatch, capsys):
    pytest.importorskip("duckdb", reason="the guide runs segments as SQL on DuckDB")
    text = PAGE.read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name, body in _FILE.findall(text):
        Path(name).write_text(body, encoding="utf-8")
    sessions = _sessions(text)
    assert len(sessions) >= 10
    for command, expected in sessions:
        argv = shlex.split(command)
        assert argv[0] == "omnichannel"
        main(argv[1:])
        got = capsys.readouterr().out.splitlines()
        assert _matches(expected, got), f"$ {command}\n" + "\n".join(got)
