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

# Analytics: the heavy libraries stay untyped behind the package; our own results are typed.
from omnichannel import FitError  # noqa: E402 - grouped with their use
from omnichannel.analytics import BetaGeo, ExperimentResult, Funnel, JourneyMap, Result  # noqa: E402
from omnichannel.analytics import attribution as attribution_models  # noqa: E402


def _analytics(events: object, paths: object) -> None:
    retention: Result = omnichannel.analytics.cohort_retention(events)
    steps: Funnel = omnichannel.analytics.funnel(events, ["Product Added", "Order Completed"])
    journey: JourneyMap = omnichannel.analytics.journey_map(events)
    markov: Result = attribution_models.markov(paths, order=2)
    test: ExperimentResult = omnichannel.analytics.experiment(events)
    winner: str | None = test.winner
    try:
        model: BetaGeo = BetaGeo.fit([1, 0], [10.0, 0.0], [20.0, 15.0])
        alive: object = model.probability_alive(1, 10.0, 20.0)
        del alive
    except FitError as error:
        code: str = error.code
        del code
    del retention, steps, journey, markov, winner
