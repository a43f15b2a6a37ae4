"""Getting events in: Segment Spec payloads, UTM parameters and GA4 channel groups.

.. versionadded:: 0.1.0
"""

from omnichannel.ingest._channel_grouping import (
    TrafficSource,
    UtmParameters,
    channel_group,
    source_categories,
    traffic_source,
    utm_from_url,
)
from omnichannel.ingest._ecommerce import ECOMMERCE_EVENTS, LEGACY_NAMES, canonical_event_name
from omnichannel.ingest._segment import (
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    MAX_MESSAGE_BYTES,
    SegmentBatch,
    parse_segment,
    parse_segment_batch,
)

__all__ = [
    "ECOMMERCE_EVENTS",
    "LEGACY_NAMES",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_MESSAGES",
    "MAX_MESSAGE_BYTES",
    "SegmentBatch",
    "TrafficSource",
    "UtmParameters",
    "canonical_event_name",
    "channel_group",
    "parse_segment",
    "parse_segment_batch",
    "source_categories",
    "traffic_source",
    "utm_from_url",
]
