"""One way to hold off Python's cyclic garbage collector during bulk work."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block, and restore whatever state it was in.

    Bulk work here (a batch of events, resolving many links, a simulated day)
    allocates many objects that live on and form no cycles; each full
    collection walks every object the process holds, so collections during
    such work can cost more than the work. Never held across a ``yield`` to
    caller code.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
