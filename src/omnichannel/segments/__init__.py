"""Segments: who belongs where, kept current in real time and by the clock.

`Segmentation` keeps memberships current from two indexes: `reads` says
what a rule depends on (so an event re-evaluates only the segments it can
affect) and `next_change` says when a rule's answer can change with no new
data (so memberships are re-evaluated when due, not recomputed nightly).
`subject_of` is the document rules read for a profile (`observed_schema`
types a population of them for SQL). The `Engine` runs it
all on every ingest and on `Engine.refresh`; `batch_members` runs every
segment in SQL on DuckDB. Built-in families: `lifecycle_segments`,
`rfm_segments`, `channel_segments`, `demographic_segments`.

.. versionadded:: 0.1.0
"""

from omnichannel.segments._batch import batch_members, subject_tables
from omnichannel.segments._explain import Verdict, explain
from omnichannel.segments._families import (
    LIFECYCLE_STAGES,
    RFM_GRID,
    RFM_GROUPS,
    RFMThresholds,
    channel_segments,
    demographic_segments,
    family_schema,
    lifecycle_segments,
    rfm_segments,
    rfm_thresholds,
)
from omnichannel.segments._live import Evaluation, Segmentation, SegmentChange
from omnichannel.segments._preview import Preview, preview
from omnichannel.segments._reads import Reads, reads
from omnichannel.segments._segment import Segment, define_segments
from omnichannel.segments._subject import (
    STATE_FIELDS,
    event_doc,
    observed_schema,
    subject_events,
    subject_of,
    subject_schema,
)
from omnichannel.segments._timing import next_change

__all__ = [
    "LIFECYCLE_STAGES",
    "RFM_GRID",
    "RFM_GROUPS",
    "STATE_FIELDS",
    "Evaluation",
    "Preview",
    "RFMThresholds",
    "Reads",
    "Segment",
    "SegmentChange",
    "Segmentation",
    "Verdict",
    "batch_members",
    "channel_segments",
    "define_segments",
    "demographic_segments",
    "event_doc",
    "explain",
    "family_schema",
    "lifecycle_segments",
    "next_change",
    "observed_schema",
    "preview",
    "reads",
    "rfm_segments",
    "rfm_thresholds",
    "subject_events",
    "subject_of",
    "subject_schema",
    "subject_tables",
]
