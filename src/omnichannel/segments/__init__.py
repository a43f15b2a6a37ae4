"""Segments: who belongs where, kept current in real time and by the clock.

This release brings the clock side: `next_change` says when a rule's answer
can change with no new data, so memberships are re-evaluated when due rather
than recomputed nightly.

.. versionadded:: 0.1.0
"""

from omnichannel.segments._timing import next_change

__all__ = ["next_change"]
