"""Funnels: how many people go through steps in order, and where (in which channel) they leave."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from omnichannel.analytics._frames import events_view, fetch, module, positive_seconds
from omnichannel.analytics._result import Result
from omnichannel.errors import ValidationError

__all__ = ["Funnel", "funnel"]


@attrs.frozen(kw_only=True)
class Funnel:
    """A funnel's result: people per step, per channel, and the pain points.

    Attributes:
        steps: one row per step: ``step`` (1, 2 ...), ``event``, ``people``,
            ``from_first`` and ``from_previous`` (shares), ``dropped`` (lost
            since the previous step) and ``median_minutes`` (time from the
            previous step, for those who took it).
        by_channel: the same counts per channel where each step was taken
            (``step``, ``event``, ``channel``, ``people``).
        pain_points: where people left: per step reached and the channel
            they reached it in, how many went no further (``left``) and
            their share of those who reached it there (``left_rate``),
            most left first.

    .. versionadded:: 0.1.0
    """

    steps: Any
    by_channel: Any
    pain_points: Any
    within: dt.timedelta

    def to_frame(self) -> Any:
        """The per-step table."""
        return self.steps

    def _repr_html_(self) -> str:
        first = self.steps["people"].iloc[0] if len(self.steps) else 0
        last = self.steps["people"].iloc[-1] if len(self.steps) else 0
        head = Result(
            title=f"Funnel of {len(self.steps)} steps (within {self.within})",
            frame=self.steps,
            figures={"entered": int(first), "completed": int(last)},
        )
        pains = Result(title="Pain points: where people leave", frame=self.pain_points.head(10))
        return head._repr_html_() + pains._repr_html_()

    def chart(self) -> Any:
        """A plotly funnel chart of the steps (needs ``plotly``)."""
        from omnichannel.analytics._charts import funnel_chart

        return funnel_chart(self)


def _steps(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) < 2:
        raise ValidationError.one("$.steps", "invalid", "must list two event names or more")
    for index, name in enumerate(value):
        if not isinstance(name, str) or not name:
            raise ValidationError.one(f"$.steps[{index}]", "type", "must be an event name")
    return list(value)


def funnel(
    events: object,
    steps: object,
    *,
    within: object = dt.timedelta(days=7),
    connection: Any = None,
) -> Funnel:
    """People through ``steps`` (event names) in order, each within ``within`` of the first.

    As product analytics tools count an ordered funnel: a person enters at
    their first event of step 1; step ``k`` counts if they did its event
    after step ``k - 1`` and no later than ``within`` after entering. Steps
    may be taken in different channels (viewed in the app, bought in a
    store): ``by_channel`` and ``pain_points`` say where each was taken and
    where people stopped.

    Raises:
        ValidationError: fewer than two steps, a bad ``within``, a missing column.

    Examples:
        >>> import pandas as pd
        >>> events = pd.DataFrame(
        ...     {
        ...         "profile_id": ["a", "a", "b"],
        ...         "event": ["Product Viewed", "Order Completed", "Product Viewed"],
        ...         "timestamp": pd.to_datetime(
        ...             ["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 09:00"], utc=True
        ...         ),
        ...         "channel": ["app", "web", "app"],
        ...     }
        ... )
        >>> funnel(events, ["Product Viewed", "Order Completed"]).steps["people"].tolist()
        [2, 1]

    .. versionadded:: 0.1.0
    """
    names = _steps(steps)
    seconds = positive_seconds(within, "$.within")
    database = events_view(events, connection, "channel")
    parts = [
        """s1 AS (SELECT profile_id, arg_min(channel, timestamp) AS channel,
                        min(timestamp) AS t, min(timestamp) AS entered
                 FROM events WHERE event = $1 GROUP BY profile_id)"""
    ]
    parts.extend(
        f"""s{k} AS (SELECT e.profile_id, arg_min(e.channel, e.timestamp) AS channel,
                    min(e.timestamp) AS t, any_value(p.entered) AS entered
             FROM events e JOIN s{k - 1} p ON e.profile_id = p.profile_id
              AND e.timestamp >= p.t
              AND epoch(e.timestamp) - epoch(p.entered) <= {seconds}
             WHERE e.event = ${k} GROUP BY e.profile_id)"""  # noqa: S608 - numbered parameters
        for k in range(2, len(names) + 1)
    )
    reached = " UNION ALL ".join(
        f"SELECT {k} AS step, profile_id, coalesce(channel, '(none)') AS channel, t FROM s{k}"  # noqa: S608
        for k in range(1, len(names) + 1)
    )
    database.execute(
        f"CREATE OR REPLACE TEMP TABLE _reached AS WITH {', '.join(parts)} {reached}",
        names,
    )
    per_step = fetch(
        database,
        """
        WITH counts AS (SELECT step, count(*) AS people FROM _reached GROUP BY step),
             gaps AS (SELECT r.step, median(epoch(r.t) - epoch(p.t)) / 60 AS minutes
                      FROM _reached r JOIN _reached p
                        ON p.profile_id = r.profile_id AND p.step = r.step - 1
                      GROUP BY r.step)
        SELECT c.step, c.people, g.minutes AS median_minutes
        FROM counts c LEFT JOIN gaps g USING (step) ORDER BY c.step
        """,
    )
    frame = _all_steps(per_step, names)
    by_channel = fetch(
        database,
        "SELECT step, channel, count(*) AS people FROM _reached GROUP BY ALL "
        "ORDER BY step, people DESC, channel",
    )
    by_channel.insert(1, "event", [names[s - 1] for s in by_channel["step"]])
    pains = fetch(
        database,
        """
        SELECT r.step, r.channel, count(*) AS reached,
               count(*) FILTER (WHERE n.profile_id IS NULL) AS left
        FROM _reached r LEFT JOIN _reached n ON n.profile_id = r.profile_id AND n.step = r.step + 1
        WHERE r.step < ? GROUP BY ALL
        """,
        [len(names)],
    )
    pains["left_rate"] = pains["left"] / pains["reached"]
    pains.insert(1, "event", [names[s - 1] for s in pains["step"]])
    pains = pains.sort_values(["left", "left_rate", "step"], ascending=[False, False, True])
    database.execute("DROP TABLE _reached")
    return Funnel(
        steps=frame,
        by_channel=by_channel,
        pain_points=pains.reset_index(drop=True),
        within=dt.timedelta(seconds=seconds),
    )


def _all_steps(per_step: Any, names: list[str]) -> Any:
    """Every step, zeros included for steps nobody reached."""
    pd = module("pandas")
    frame = pd.DataFrame({"step": range(1, len(names) + 1), "event": names})
    frame = frame.merge(per_step, on="step", how="left")
    frame["people"] = frame["people"].fillna(0).astype("int64")
    first = int(frame["people"].iloc[0])
    previous = frame["people"].shift(1)
    frame["from_first"] = frame["people"] / first if first else 0.0
    frame["from_previous"] = (frame["people"] / previous).where(previous > 0)
    frame["dropped"] = (previous - frame["people"]).fillna(0).astype("int64")
    columns = ["step", "event", "people", "from_first", "from_previous", "dropped"]
    return frame[[*columns, "median_minutes"]]
