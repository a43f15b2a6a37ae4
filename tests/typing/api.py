"""Type-checked usage of the public API (mypy --strict reads this; it is never run)."""

from __future__ import annotations

from decimal import Decimal

import pendulum

import omnichannel
from omnichannel import Channel, Event, Identity, Money, Profile, ValidationError, converter
from omnichannel.ingest import SegmentBatch, channel_group, parse_segment, parse_segment_batch

at: pendulum.DateTime = pendulum.datetime(2024, 3, 5)

event: Event = parse_segment({"type": "track", "event": "x", "userId": "u"}, received_at=at)
name: str | None = event.name
channel: Channel | None = event.channel
batch: SegmentBatch = parse_segment_batch([{"type": "page", "userId": "u"}], partial=True)
events: tuple[Event, ...] = batch.events
group: str = channel_group(source="google", medium="cpc")

price = Money(amount=Decimal("19.99"), currency="EUR")
total: Money = price * 2 + price
email = Identity.parse("email", "a@example.com")
profile = Profile(id="p", created_at=at, updated_at=at, identities={email})
allowed: bool = profile.consent("marketing", Channel.EMAIL, at)

data: object = converter.unstructure(profile)
again: Profile = converter.structure(data, Profile)

try:
    parse_segment("{}")
except ValidationError as exc:
    paths: list[str] = [e.path for e in exc.errors]

version: str = omnichannel.__version__
