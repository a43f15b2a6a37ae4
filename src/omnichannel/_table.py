"""Plain-text tables, as the command line and the demo print them without rich."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(
    columns: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]
) -> list[str]:
    """The header and ``rows`` as lines, columns two spaces apart, ``right`` ones right-aligned."""
    widths = [max(len(c), *(len(r[n]) for r in rows)) for n, c in enumerate(columns)]
    return [
        "  ".join(
            v.rjust(w) if flush else v.ljust(w)
            for v, w, flush in zip(row, widths, right, strict=True)
        ).rstrip()
        for row in [columns, *rows]
    ]
