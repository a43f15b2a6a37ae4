"""Results that show themselves in notebooks: a title, a few figures and a table."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Result"]


@attrs.frozen(kw_only=True)
class Result:
    """A titled result: headline ``figures`` and the detail ``frame`` (a pandas DataFrame).

    In Jupyter it renders as a heading, the figures and the table
    (``_repr_html_``); ``to_frame()`` gives the table for further work.

    .. versionadded:: 0.1.0
    """

    title: str
    frame: Any = attrs.field(repr=False)
    figures: Mapping[str, object] = attrs.field(factory=dict)
    notes: tuple[str, ...] = ()

    def to_frame(self) -> Any:
        """The detail table, as a pandas DataFrame."""
        return self.frame

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"]
        if self.figures:
            cells = "".join(
                f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_shown(v))}</td></tr>"
                for k, v in self.figures.items()
            )
            parts.append(f"<table>{cells}</table>")
        parts.extend(f"<p>{html.escape(note)}</p>" for note in self.notes)
        parts.append(self.frame._repr_html_())
        return "".join(parts)

    def __str__(self) -> str:
        lines = [self.title]
        lines.extend(f"  {k}: {_shown(v)}" for k, v in self.figures.items())
        lines.extend(f"  {note}" for note in self.notes)
        lines.append(self.frame.to_string())
        return "\n".join(lines)


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
