"""Segments: who belongs where, kept current in real time and by the clock.

This release brings the two indexes real-time segments stand on: `reads`
says what a rule depends on (so an event re-evaluates only the segments it
can affect) and `next_change` says when a rule's answer can change with no
new data (so memberships are re-evaluated when due, not recomputed nightly).

.. versionadded:: 0.1.0
"""

from omnichannel.segments._explain import Verdict, explain
from omnichannel.segments._reads import Reads, reads
from omnichannel.segments._segment import Segment, define_segments
from omnichannel.segments._timing import next_change

__all__ = ["Reads", "Segment", "Verdict", "define_segments", "explain", "next_change", "reads"]
