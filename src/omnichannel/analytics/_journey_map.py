"""The journey map: lifecycle stages over time, channel hops before buying, top paths."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from omnichannel.analytics._frames import (
    PERIODS,
    choice,
    events_view,
    fetch,
    period_step,
    positive_seconds,
)
from omnichannel.analytics._result import Result
from omnichannel.errors import ValidationError

__all__ = ["STAGES", "JourneyMap", "journey_map"]

#: Lifecycle stages, in order: no order yet, one order, two or more, and an order too long ago.
STAGES = ("prospect", "new customer", "repeat customer", "lapsed")


@attrs.frozen(kw_only=True)
class JourneyMap:
    """How people move: between lifecycle stages, across channels, towards a conversion.

    Attributes:
        stages: people per stage at the end of each period (``period``,
            ``stage``, ``people``).
        transitions: stage changes from one period to the next (``period``:
            the later one, ``from_stage``, ``to_stage``, ``people``);
            staying in a stage is not a transition.
        hops: converters by how many times they switched channels before
            their first conversion (``switches``, ``people``, ``share``).
        pairs: the channel switches themselves (``from_channel``,
            ``to_channel``, ``hops``), most frequent first.
        paths: the top channel paths to a first conversion (``path`` as
            ``"web > email > store"``, ``people``, ``share``).
        time_to_convert: hours from first seen to first conversion, per
            converter (``profile_id``, ``hours``, ``touches``).
        figures: converters, median and 90th percentile hours to convert,
            average switches.

    .. versionadded:: 0.1.0
    """

    stages: Any
    transitions: Any
    hops: Any
    pairs: Any
    paths: Any
    time_to_convert: Any
    figures: dict[str, object]

    def _repr_html_(self) -> str:
        parts = [
            Result(title="Journey map", frame=self.paths.head(10), figures=self.figures),
            Result(title="Channel switches before converting", frame=self.hops),
            Result(title="Most frequent switches", frame=self.pairs.head(10)),
            Result(title="Stage transitions", frame=self.transitions.tail(12)),
        ]
        return "".join(part._repr_html_() for part in parts)

    def sankey(self, *, top: int = 10) -> Any:
        """A plotly Sankey diagram of the ``top`` paths to conversion (needs ``plotly``)."""
        from omnichannel.analytics._charts import path_sankey

        return path_sankey(self.paths.head(top))


def journey_map(
    events: object,
    *,
    conversion: object = "Order Completed",
    period: object = "month",
    lapse: object = dt.timedelta(days=180),
    connection: Any = None,
) -> JourneyMap:
    """Map how people travel between channels and lifecycle stages.

    Touches are events with a ``channel`` (web, app, store, e-mail, SMS,
    push ...); consecutive touches in the same channel are one hop. A
    converter's path is the channels they touched from first seen to their
    first ``conversion`` event, the conversion's own channel last. Stages at
    the end of each ``period``: ``prospect`` (seen, no order), ``new
    customer`` (one order), ``repeat customer`` (two or more), ``lapsed``
    (no order for ``lapse``).

    Raises:
        ValidationError: a bad ``conversion``, ``period`` or ``lapse``; a
            missing column.

    .. versionadded:: 0.1.0
    """
    if not isinstance(conversion, str) or not conversion:
        raise ValidationError.one("$.conversion", "type", "must be an event name")
    unit = choice(period, PERIODS, "$.period")
    lapsed_after = positive_seconds(lapse, "$.lapse")
    database = events_view(events, connection, "channel")
    database.execute(
        """
        CREATE OR REPLACE TEMP TABLE _firsts AS
        SELECT profile_id, min(timestamp) AS converted_at FROM events WHERE event = ?
        GROUP BY profile_id
        """,
        [conversion],
    )
    database.execute(
        """
        CREATE OR REPLACE TEMP TABLE _hops AS
        WITH touches AS (
            SELECT e.profile_id, e.timestamp, e.channel,
                   lag(e.channel) OVER (PARTITION BY e.profile_id ORDER BY e.timestamp,
                                        e.event = ? ) AS previous
            FROM events e JOIN _firsts f USING (profile_id)
            WHERE e.channel IS NOT NULL AND e.timestamp <= f.converted_at)
        SELECT profile_id, timestamp, previous, channel FROM touches
        WHERE previous IS NULL OR previous <> channel
        """,
        [conversion],
    )
    paths = fetch(
        database,
        """
        WITH per_person AS (SELECT profile_id, string_agg(channel, ' > ' ORDER BY timestamp)
                                   AS path FROM _hops GROUP BY profile_id)
        SELECT path, count(*) AS people, count(*) / sum(count(*)) OVER () AS share
        FROM per_person GROUP BY path ORDER BY people DESC, path
        """,
    )
    hops = fetch(
        database,
        """
        WITH per_person AS (SELECT profile_id, count(previous) AS switches FROM _hops
                            GROUP BY profile_id)
        SELECT switches, count(*) AS people, count(*) / sum(count(*)) OVER () AS share
        FROM per_person GROUP BY switches ORDER BY switches
        """,
    )
    pairs = fetch(
        database,
        """
        SELECT previous AS from_channel, channel AS to_channel, count(*) AS hops FROM _hops
        WHERE previous IS NOT NULL GROUP BY ALL ORDER BY hops DESC, from_channel, to_channel
        """,
    )
    timing = fetch(
        database,
        """
        SELECT f.profile_id, (epoch(f.converted_at) - epoch(min(e.timestamp))) / 3600 AS hours,
               count(*) FILTER (WHERE e.channel IS NOT NULL) AS touches
        FROM _firsts f JOIN events e USING (profile_id)
        WHERE e.timestamp <= f.converted_at GROUP BY f.profile_id, f.converted_at
        ORDER BY f.profile_id
        """,
    )
    database.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _stages AS
        WITH periods AS (
            SELECT unnest(range(date_trunc('{unit}', min(timestamp)),
                                max(timestamp) + INTERVAL 1 MICROSECOND,
                                {period_step(unit)})) AS start FROM events),
             bounds AS (SELECT start, start + {period_step(unit)} AS stop FROM periods),
             people AS (SELECT profile_id, min(timestamp) AS first_seen FROM events
                        GROUP BY profile_id),
             orders AS (SELECT profile_id, timestamp FROM events WHERE event = ?)
        SELECT b.start::DATE AS period, p.profile_id,
               CASE WHEN count(o.timestamp) = 0 THEN 'prospect'
                    WHEN epoch(b.stop) - epoch(max(o.timestamp)) > {lapsed_after}
                      THEN 'lapsed'
                    WHEN count(o.timestamp) = 1 THEN 'new customer'
                    ELSE 'repeat customer' END AS stage
        FROM bounds b JOIN people p ON p.first_seen < b.stop
        LEFT JOIN orders o ON o.profile_id = p.profile_id AND o.timestamp < b.stop
        GROUP BY b.start, b.stop, p.profile_id
        """,  # noqa: S608 - period checked against a fixed list
        [conversion],
    )
    stages = fetch(
        database,
        "SELECT period, stage, count(*) AS people FROM _stages GROUP BY ALL ORDER BY period, stage",
    )
    transitions = fetch(
        database,
        """
        WITH moves AS (SELECT period, profile_id, stage,
                              lag(stage) OVER (PARTITION BY profile_id ORDER BY period) AS before
                       FROM _stages)
        SELECT period, before AS from_stage, stage AS to_stage, count(*) AS people FROM moves
        WHERE before IS NOT NULL AND before <> stage GROUP BY ALL
        ORDER BY period, people DESC, from_stage, to_stage
        """,
    )
    for table in ("_firsts", "_hops", "_stages"):
        database.execute(f"DROP TABLE {table}")
    converters = len(timing)
    figures: dict[str, object] = {"converters": converters}
    if converters:
        figures["median hours to convert"] = float(timing["hours"].median())
        figures["90th percentile hours"] = float(timing["hours"].quantile(0.9))
        figures["average switches"] = float((hops["switches"] * hops["people"]).sum() / converters)
    return JourneyMap(
        stages=stages,
        transitions=transitions,
        hops=hops,
        pairs=pairs,
        paths=paths,
        time_to_convert=timing,
        figures=figures,
    )
