"""Marketing KPIs as SQL on DuckDB over an event table (`EVENT_COLUMNS`).

Each function takes the events as any table `register` accepts (a pandas or
polars DataFrame, an Arrow table, a DuckDB relation, a Parquet or CSV path)
and returns a pandas DataFrame, or a `Result` where a headline figure goes
with the table. Definitions are in each docstring and in
``docs/guides/analytics.md``; they are the ones GA4 and the retention and
survey literature use, so figures compare with a team's existing reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from omnichannel.analytics._frames import (
    PERIODS,
    choice,
    connect,
    events_view,
    fetch,
    period_step,
    positive_seconds,
    register,
    require_columns,
)
from omnichannel.analytics._result import Result
from omnichannel.errors import ValidationError
from omnichannel.personalization import DEFAULT_COSTS

__all__ = [
    "SEND_EVENTS",
    "SOCIAL_EVENTS",
    "acquisition",
    "cart_abandonment",
    "churn",
    "cohort_retention",
    "conversion_rates",
    "kpi_suite",
    "order_kpis",
    "roi",
    "sessions",
    "social_engagement",
    "survey_scores",
    "traffic",
]

#: The events that are a message sent, by the channel they cost a send on.
SEND_EVENTS: Mapping[str, str] = {
    "Email Delivered": "email",
    "SMS Delivered": "sms",
    "Push Notification Received": "push",
    "Message Delivered": "",  # the channel is in the event's own channel column
}
#: Social engagement events (Segment's e-commerce spec shares, and social posts).
SOCIAL_EVENTS = (
    "Product Shared",
    "Cart Shared",
    "Post Liked",
    "Post Shared",
    "Post Commented",
    "Social Followed",
)
_ORDER = "Order Completed"
_HALF_HOUR = 1800.0
_SESSION_BY = ("channel", "channel_group", "source", "medium", "campaign")


def _sessions_sql(timeout: float) -> str:
    """Web and app visits: a new one after ``timeout`` seconds of quiet, as GA4 counts them.

    A visit's source is the first one seen in it (a campaign link, a search
    engine, another site); a visit with none is Direct.
    """
    return f"""
    WITH touched AS (
        SELECT profile_id, channel, timestamp, event, type, channel_group, source, medium,
               campaign,
               CASE WHEN epoch(timestamp) - epoch(lag(timestamp) OVER w) <= {timeout}
                    THEN 0 ELSE 1 END AS starts
        FROM events WHERE channel IN ('web', 'app')
        WINDOW w AS (PARTITION BY profile_id, channel ORDER BY timestamp)
    ), numbered AS (
        SELECT *, sum(starts) OVER (PARTITION BY profile_id, channel ORDER BY timestamp
                                    ROWS UNBOUNDED PRECEDING) AS visit
        FROM touched
    )
    SELECT profile_id, channel, visit,
           profile_id || ':' || channel || ':' || visit AS session_id,
           min(timestamp) AS started, max(timestamp) AS ended, count(*) AS events,
           count(*) FILTER (WHERE type = 'page') AS page_views,
           count(*) FILTER (WHERE type = 'screen') AS screen_views,
           coalesce(arg_min(channel_group, timestamp) FILTER (WHERE channel_group IS NOT NULL),
                    'Direct') AS channel_group,
           coalesce(arg_min(source, timestamp) FILTER (WHERE channel_group IS NOT NULL),
                    '(direct)') AS source,
           coalesce(arg_min(medium, timestamp) FILTER (WHERE channel_group IS NOT NULL),
                    '(none)') AS medium,
           coalesce(arg_min(campaign, timestamp) FILTER (WHERE channel_group IS NOT NULL),
                    '(direct)') AS campaign,
           count(*) FILTER (WHERE event = '{_ORDER}') AS orders,
           bool_or(event = 'Product Added') AS carted,
           bool_or(event = 'Checkout Started') AS checked_out
    FROM numbered GROUP BY profile_id, channel, visit
    """  # noqa: S608 - built from constants and a number


def sessions(
    events: object, *, timeout: object = dt.timedelta(minutes=30), connection: Any = None
) -> Any:
    """Web and app visits, one row each, with where they came from and what happened.

    A visit ends after ``timeout`` of quiet (30 minutes, as GA4 counts
    them); its ``channel_group``, ``source``, ``medium`` and ``campaign``
    are those of the first event in it that came from somewhere (a campaign
    link, a search engine, another site), Direct when none did. Columns:
    ``profile_id``, ``channel``, ``session_id``, ``started``, ``ended``,
    ``events``, ``page_views``, ``screen_views``, ``channel_group``,
    ``source``, ``medium``, ``campaign``, ``orders``, ``carted``,
    ``checked_out``.

    Raises:
        ValidationError: the events lack a column, or ``timeout`` is not a
            positive timedelta.

    .. versionadded:: 0.1.0
    """
    seconds = positive_seconds(timeout, "$.timeout")
    database = events_view(events, connection, *_SESSION_BY, "type")
    query = f"SELECT * EXCLUDE (visit) FROM ({_sessions_sql(seconds)}) ORDER BY started, session_id"  # noqa: S608 - built from constants
    return fetch(database, query)


def traffic(
    events: object,
    *,
    by: object = "channel_group",
    period: object = "day",
    timeout: object = dt.timedelta(minutes=30),
    connection: Any = None,
) -> Any:
    """Web and app traffic per ``period`` and ``by``: visits, visitors, page and screen views.

    Columns: ``period`` (its first day), ``by``'s column, ``sessions``,
    ``users``, ``page_views``, ``screen_views``, ``views_per_session`` and
    ``bounce_rate`` (the share of visits with one event).

    Raises:
        ValidationError: an unknown ``by`` or ``period``, a missing column.

    .. versionadded:: 0.1.0
    """
    group = choice(by, _SESSION_BY, "$.by")
    unit = choice(period, PERIODS, "$.period")
    seconds = positive_seconds(timeout, "$.timeout")
    database = events_view(events, connection, *_SESSION_BY, "type")
    return fetch(database, _traffic_sql(group, unit, f"({_sessions_sql(seconds)})"))


def _traffic_sql(group: str, unit: str, visits: str) -> str:
    return f"""
        SELECT date_trunc('{unit}', started)::DATE AS period, {group},
               count(*) AS sessions, count(DISTINCT profile_id) AS users,
               sum(page_views)::BIGINT AS page_views, sum(screen_views)::BIGINT AS screen_views,
               (sum(page_views) + sum(screen_views)) / count(*) AS views_per_session,
               avg((events = 1)::INT) AS bounce_rate
        FROM {visits} GROUP BY ALL ORDER BY period, sessions DESC, {group}
    """  # noqa: S608 - names checked against fixed lists


def conversion_rates(
    events: object,
    *,
    by: object = "channel_group",
    segments: object = None,
    timeout: object = dt.timedelta(minutes=30),
    connection: Any = None,
) -> Any:
    """Conversion rates per channel, campaign or segment.

    With ``by`` one of ``channel``, ``channel_group``, ``source``,
    ``medium``, ``campaign``: the visits of each (`sessions`), the visits
    with an order (``converting_sessions``) and ``session_rate``; the
    people who visited from it (``users``), those with an order in such a
    visit (``converters``) and ``user_rate``. With ``by="segment"`` and
    ``segments`` (a table of ``profile_id`` and ``segment``, as
    `omnichannel.engine.Engine` memberships): per segment, its ``members``
    seen in the events, those who ordered in any channel (``converters``,
    store orders included) and ``user_rate``.

    Raises:
        ValidationError: an unknown ``by``, ``segments`` missing or without
            its columns, a missing column.

    .. versionadded:: 0.1.0
    """
    group = choice(by, (*_SESSION_BY, "segment"), "$.by")
    seconds = positive_seconds(timeout, "$.timeout")
    if group == "segment":
        if segments is None:
            raise ValidationError.one("$.segments", "required", "by='segment' needs segments")
        database = events_view(events, connection)
        register(database, "segments", segments, path="$.segments")
        require_columns(database, "segments", ("profile_id", "segment"), path="$.segments")
        query = f"""
            WITH seen AS (SELECT profile_id, bool_or(event = '{_ORDER}') AS ordered
                          FROM events GROUP BY profile_id)
            SELECT segment, n_members AS members, n_converters AS converters,
                   n_converters / n_members AS user_rate
            FROM (SELECT s.segment, count(DISTINCT s.profile_id) AS n_members,
                         count(DISTINCT s.profile_id) FILTER (WHERE seen.ordered) AS n_converters
                  FROM segments s JOIN seen USING (profile_id) GROUP BY s.segment)
            ORDER BY members DESC, segment
        """  # noqa: S608 - constant names
        return fetch(database, query)
    database = events_view(events, connection, *_SESSION_BY, "type")
    return fetch(database, _conversion_sql(group, f"({_sessions_sql(seconds)})"))


def _conversion_sql(group: str, visits: str) -> str:
    return f"""
        SELECT {group}, n_sessions AS sessions, n_converting AS converting_sessions,
               n_converting / n_sessions AS session_rate, n_users AS users,
               n_converters AS converters, n_converters / n_users AS user_rate
        FROM (SELECT {group}, count(*) AS n_sessions,
                     count(*) FILTER (WHERE orders > 0) AS n_converting,
                     count(DISTINCT profile_id) AS n_users,
                     count(DISTINCT profile_id) FILTER (WHERE orders > 0) AS n_converters
              FROM {visits} GROUP BY {group})
        ORDER BY sessions DESC, {group}
    """  # noqa: S608 - names checked against a fixed list


def acquisition(
    events: object,
    *,
    by: object = "channel_group",
    period: object = "month",
    timeout: object = dt.timedelta(minutes=30),
    connection: Any = None,
) -> Any:
    """New people per ``period`` by where their first visit came from, and how many bought.

    A person is acquired when their first web or app visit starts; people
    seen only in a store or through messages count under ``channel``
    ``store`` / ``(offline)``. Columns: ``period``, ``by``'s column,
    ``new_users``, ``converted`` (ordered since, in any channel) and
    ``conversion_rate``.

    Raises:
        ValidationError: an unknown ``by`` or ``period``, a missing column.

    .. versionadded:: 0.1.0
    """
    group = choice(by, _SESSION_BY, "$.by")
    unit = choice(period, PERIODS, "$.period")
    seconds = positive_seconds(timeout, "$.timeout")
    database = events_view(events, connection, *_SESSION_BY, "type")
    return fetch(database, _acquisition_sql(group, unit, f"({_sessions_sql(seconds)})"))


def _acquisition_sql(group: str, unit: str, visits: str) -> str:
    return f"""
        WITH firsts AS (SELECT profile_id, arg_min({group}, started) AS {group},
                               min(started) AS started
                        FROM {visits} GROUP BY profile_id),
             people AS (SELECT profile_id, min(timestamp) AS first_seen,
                               bool_or(event = '{_ORDER}') AS ordered
                        FROM events GROUP BY profile_id)
        SELECT date_trunc('{unit}', coalesce(f.started, p.first_seen))::DATE AS period,
               coalesce(f.{group}, '(offline)') AS {group},
               count(*) AS new_users, count(*) FILTER (WHERE p.ordered) AS converted,
               count(*) FILTER (WHERE p.ordered) / count(*) AS conversion_rate
        FROM people p LEFT JOIN firsts f USING (profile_id)
        GROUP BY ALL ORDER BY period, new_users DESC, {group}
    """  # noqa: S608 - names checked against fixed lists


def order_kpis(events: object, *, by: object = None, connection: Any = None) -> Any:
    """Orders, revenue, average order value and repeat purchase rate, per currency.

    Over ``Order Completed`` events with a ``revenue``: ``orders``,
    ``customers``, ``revenue``, ``aov`` (revenue / orders),
    ``orders_per_customer``, ``repeat_customers`` (two orders or more, in
    any channel) and ``repeat_purchase_rate`` (repeat customers /
    customers). ``by="channel"`` splits them by where the order was placed
    (web, app, store); a repeat customer is counted where they ordered.

    Raises:
        ValidationError: ``by`` other than None or ``channel``, a missing column.

    .. versionadded:: 0.1.0
    """
    if by is not None:
        choice(by, ("channel",), "$.by")
    database = events_view(events, connection, "revenue", "currency", "channel")
    keys = "currency" if by is None else "currency, channel"
    query = f"""
        WITH orders AS (SELECT profile_id, channel, currency, revenue FROM events
                        WHERE event = '{_ORDER}' AND revenue IS NOT NULL),
             counts AS (SELECT profile_id, currency, count(*) AS n FROM orders GROUP BY ALL)
        SELECT {keys}, orders, customers, total AS revenue, total / orders AS aov,
               orders / customers AS orders_per_customer, repeat_customers,
               repeat_customers / customers AS repeat_purchase_rate
        FROM (SELECT {keys}, count(*) AS orders, count(DISTINCT o.profile_id) AS customers,
                     sum(o.revenue) AS total,
                     count(DISTINCT o.profile_id) FILTER (WHERE c.n >= 2) AS repeat_customers
              FROM orders o JOIN counts c USING (profile_id, currency) GROUP BY {keys})
        ORDER BY total DESC, {keys}
    """  # noqa: S608 - constant names
    return fetch(database, query)


def cohort_retention(events: object, *, period: object = "month", connection: Any = None) -> Result:
    """The cohort retention matrix: who ordered again ``k`` periods after their first order.

    Cohorts are by first-order period (``month`` by default, as in most
    retention reports); the frame is cohort by periods since (0, 1, 2 ...),
    each cell the share of the cohort with an order in that period (period
    0 is 1.0 by definition). ``figures`` hold the average retention one
    period on; `Result.frame` is the matrix and ``sizes`` (in
    ``figures``) the cohorts' sizes.

    Raises:
        ValidationError: an unknown ``period``, a missing column.

    .. versionadded:: 0.1.0
    """
    unit = choice(period, PERIODS, "$.period")
    database = events_view(events, connection)
    query = f"""
        WITH active AS (SELECT DISTINCT profile_id, date_trunc('{unit}', timestamp)::DATE AS p
                        FROM events WHERE event = '{_ORDER}'),
             cohorts AS (SELECT profile_id, min(p) AS cohort FROM active GROUP BY profile_id),
             sizes AS (SELECT cohort, count(*) AS size FROM cohorts GROUP BY cohort)
        SELECT c.cohort, datediff('{unit}', c.cohort, a.p) AS since, s.size,
               count(*) / s.size AS retention
        FROM active a JOIN cohorts c USING (profile_id) JOIN sizes s USING (cohort)
        GROUP BY c.cohort, since, s.size ORDER BY c.cohort, since
    """  # noqa: S608 - unit checked against a fixed list
    long = fetch(database, query)
    matrix = long.pivot_table(index="cohort", columns="since", values="retention", fill_value=0.0)
    sizes = long.groupby("cohort")["size"].first()
    matrix.insert(0, "customers", sizes)
    later = long[long["since"] == 1]
    weighted = (
        float((later["retention"] * later["size"]).sum() / sizes.sum()) if len(sizes) else 0.0
    )
    return Result(
        title=f"Cohort retention by first-order {unit}",
        frame=matrix,
        figures={f"retained one {unit} on (all cohorts)": weighted, "customers": int(sizes.sum())},
    )


def churn(events: object, *, period: object = "month", connection: Any = None) -> Any:
    """Customer churn per period: who bought in one period and not in the next.

    For each period: ``active`` (customers with an order in it),
    ``retained`` (of those, with an order in the next period), ``churned``
    and ``churn_rate`` (churned / active). The last period has no next and
    is left out.

    Raises:
        ValidationError: an unknown ``period``, a missing column.

    .. versionadded:: 0.1.0
    """
    unit = choice(period, PERIODS, "$.period")
    database = events_view(events, connection)
    step = period_step(unit)
    query = f"""
        WITH active AS (SELECT DISTINCT profile_id, date_trunc('{unit}', timestamp)::DATE AS p
                        FROM events WHERE event = '{_ORDER}'),
             last AS (SELECT max(p) AS p FROM active)
        SELECT a.p AS period, count(*) AS active, count(n.profile_id) AS retained,
               count(*) - count(n.profile_id) AS churned,
               1 - count(n.profile_id) / count(*) AS churn_rate
        FROM active a LEFT JOIN active n
          ON n.profile_id = a.profile_id AND n.p = (a.p + {step})::DATE
        WHERE a.p < (SELECT p FROM last)
        GROUP BY a.p ORDER BY a.p
    """  # noqa: S608 - unit checked against a fixed list
    return fetch(database, query)


def cart_abandonment(
    events: object,
    *,
    within: object = dt.timedelta(days=1),
    by: object = "channel",
    timeout: object = dt.timedelta(minutes=30),
    connection: Any = None,
) -> Any:
    """Cart and checkout abandonment, counting orders placed in any channel.

    A cart is a web or app visit with ``Product Added``; it is recovered
    when the same person completes an order, in any channel (a cart filled
    in the app and paid on the web, or picked up in a store), within
    ``within`` of the visit's end. Columns per ``by`` (``channel`` or
    ``channel_group`` of the visit): ``carts``, ``recovered``,
    ``abandonment_rate`` (1 - recovered / carts), and the same for visits
    that started a checkout (``checkouts``, ``checkout_abandonment_rate``).

    Raises:
        ValidationError: a bad ``within`` or ``by``, a missing column.

    .. versionadded:: 0.1.0
    """
    group = choice(by, ("channel", "channel_group"), "$.by")
    window = positive_seconds(within, "$.within")
    seconds = positive_seconds(timeout, "$.timeout")
    database = events_view(events, connection, *_SESSION_BY, "type")
    return fetch(database, _abandonment_sql(group, window, f"({_sessions_sql(seconds)})"))


def _abandonment_sql(group: str, window: float, visits: str) -> str:
    return f"""
        WITH visits AS (SELECT * FROM {visits}),
             orders AS (SELECT profile_id, timestamp FROM events WHERE event = '{_ORDER}'),
             carts AS (
                SELECT v.session_id, any_value(v.{group}) AS {group},
                       any_value(v.checked_out) AS checked_out,
                       count(o.profile_id) > 0 AS recovered
                FROM visits v LEFT JOIN orders o
                  ON o.profile_id = v.profile_id AND o.timestamp >= v.started
                 AND epoch(o.timestamp) - epoch(v.ended) <= {window}
                WHERE v.carted GROUP BY v.session_id)
        SELECT {group}, n_carts AS carts, n_recovered AS recovered,
               1 - n_recovered / n_carts AS abandonment_rate, n_checkouts AS checkouts,
               1 - n_checkouts_recovered / nullif(n_checkouts, 0) AS checkout_abandonment_rate
        FROM (SELECT {group}, count(*) AS n_carts,
                     count(*) FILTER (WHERE recovered) AS n_recovered,
                     count(*) FILTER (WHERE checked_out) AS n_checkouts,
                     count(*) FILTER (WHERE checked_out AND recovered) AS n_checkouts_recovered
              FROM carts GROUP BY {group})
        ORDER BY carts DESC, {group}
    """  # noqa: S608 - names checked against fixed lists


def survey_scores(events: object, *, connection: Any = None) -> Any:
    """CSAT, NPS, CES and the customer loyalty index from ``Survey Answered`` events.

    By the ``survey`` column (``csat``: 1-5, ``nps``: 0-10, ``ces``: 1-7;
    ``repurchase`` and ``upsell``: 0-10 likelihoods, when asked):

    - CSAT: the share of 4 and 5 answers, in percent.
    - NPS: percent promoters (9-10) minus percent detractors (0-6).
    - CES: the average effort score.
    - Customer loyalty index: the mean of the NPS-style scores of the
      likelihood to recommend (``nps``), to buy again (``repurchase``) and to
      buy more (``upsell``), over those asked.

    One row per survey (``survey``, ``responses``, ``score``, ``metric``)
    and a last row ``loyalty_index`` when ``nps`` was asked.

    Raises:
        ValidationError: a missing column.

    .. versionadded:: 0.1.0
    """
    database = events_view(events, connection, "survey", "score")
    query = """
        WITH answers AS (SELECT survey, score FROM events
                         WHERE event = 'Survey Answered' AND survey IS NOT NULL
                           AND score IS NOT NULL),
             scored AS (
                SELECT survey, count(*) AS responses,
                  CASE WHEN survey = 'csat' THEN 100 * avg((score >= 4)::INT)
                       WHEN survey IN ('nps', 'repurchase', 'upsell')
                         THEN 100 * (avg((score >= 9)::INT) - avg((score <= 6)::INT))
                       ELSE avg(score) END AS score,
                  CASE WHEN survey = 'csat' THEN 'CSAT (% satisfied)'
                       WHEN survey = 'nps' THEN 'NPS'
                       WHEN survey IN ('repurchase', 'upsell') THEN 'NPS-style likelihood'
                       WHEN survey = 'ces' THEN 'CES (mean effort)'
                       ELSE 'mean score' END AS metric
                FROM answers GROUP BY survey)
        SELECT * FROM scored
        UNION ALL
        SELECT 'loyalty_index', sum(responses)::BIGINT, avg(score), 'Customer loyalty index'
        FROM scored WHERE survey IN ('nps', 'repurchase', 'upsell')
        HAVING bool_or(survey = 'nps')
        ORDER BY survey
    """
    return fetch(database, query)


def social_engagement(
    events: object, *, names: object = SOCIAL_EVENTS, connection: Any = None
) -> Any:
    """Social engagement: shares, likes, comments and follows, per event and network.

    Over the events named in ``names`` (`SOCIAL_EVENTS`); the network is the
    event's ``share_via`` or ``network`` property. Columns: ``event``,
    ``network``, ``engagements``, ``people`` and ``per_person``.

    Raises:
        ValidationError: ``names`` is not a list of names, a missing column.

    .. versionadded:: 0.1.0
    """
    if isinstance(names, str) or not isinstance(names, (list, tuple, frozenset, set)):
        raise ValidationError.one("$.names", "type", "must be a list of event names")
    if not all(isinstance(n, str) for n in names):
        raise ValidationError.one("$.names", "type", "must be a list of event names")
    database = events_view(events, connection, "properties")
    query = """
        SELECT event,
               coalesce(json_extract_string(properties, '$.share_via'),
                        json_extract_string(properties, '$.network'), '(not set)') AS network,
               count(*) AS engagements, count(DISTINCT profile_id) AS people,
               count(*) / count(DISTINCT profile_id) AS per_person
        FROM events WHERE list_contains(?, event)
        GROUP BY ALL ORDER BY engagements DESC, event, network
    """
    return fetch(database, query, [sorted(names)])


def _rates(rates: object, currency: object) -> tuple[str, dict[str, float]]:
    if not isinstance(currency, str) or len(currency) != 3:
        raise ValidationError.one("$.currency", "invalid", "must be an ISO 4217 code")
    table: dict[str, float] = {currency: 1.0}
    if rates is None:
        return currency, table
    if not isinstance(rates, Mapping):
        raise ValidationError.one("$.rates", "type", "must map currency codes to rates")
    for code, rate in rates.items():
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
            raise ValidationError.one(f"$.rates.{code}", "invalid", "must be a positive number")
        table[str(code)] = float(rate)
    return currency, table


def roi(
    events: object,
    *,
    costs: object = DEFAULT_COSTS,
    by: object = "channel",
    lookback: object = dt.timedelta(days=7),
    currency: object = "USD",
    rates: object = None,
    connection: Any = None,
) -> Any:
    """Campaign and channel return on investment: what messages cost against what they brought.

    Cost: each message sent (`SEND_EVENTS`: delivered e-mails, SMS and
    pushes) at ``costs`` per send for its channel (`DEFAULT_COSTS` unless
    given). Revenue: each order (any channel: a store purchase counts for
    the e-mail before it) goes to the person's last message touch (a
    delivery, open or click) within ``lookback`` before it — last-touch
    over messages; `omnichannel.analytics.attribution` has the other
    models. Revenue in other currencies converts by ``rates`` (units of
    ``currency`` per unit); orders in a currency with no rate are left out
    and counted in ``orders_without_rate``.

    Columns per ``by`` (``channel`` or ``campaign``): ``sends``, ``cost``,
    ``orders``, ``revenue``, ``roi`` ((revenue - cost) / cost) and
    ``revenue_per_send``.

    Raises:
        ValidationError: bad ``costs``, ``by``, ``lookback``, ``currency``
            or ``rates``, a missing column.

    .. versionadded:: 0.1.0
    """
    group = choice(by, ("channel", "campaign"), "$.by")
    window = positive_seconds(lookback, "$.lookback")
    target, table = _rates(rates, currency)
    if not isinstance(costs, Mapping) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in costs.values()
    ):
        raise ValidationError.one("$.costs", "type", "must map channels to costs per send (>= 0)")
    database = events_view(events, connection, "channel", "campaign", "revenue", "currency")
    database.execute("CREATE OR REPLACE TEMP TABLE _costs (channel VARCHAR, cost DOUBLE)")
    database.executemany(
        "INSERT INTO _costs VALUES (?, ?)", [[k, float(v)] for k, v in costs.items()]
    )
    database.execute("CREATE OR REPLACE TEMP TABLE _rates (currency VARCHAR, rate DOUBLE)")
    database.executemany("INSERT INTO _rates VALUES (?, ?)", [[k, v] for k, v in table.items()])
    messages = "event LIKE 'Email %' OR event LIKE 'SMS %' OR event LIKE 'Push Notification %'"
    sends = ", ".join(f"'{name}'" for name in SEND_EVENTS)
    query = f"""
        WITH touches AS (SELECT profile_id, timestamp, channel, coalesce(campaign, '(not set)')
                                AS campaign, event IN ({sends}) AS sent
                         FROM events
                         WHERE ({messages} OR event LIKE 'Message %') AND channel IS NOT NULL),
             orders AS (SELECT e.profile_id, e.timestamp, e.revenue * r.rate AS revenue,
                               r.rate IS NULL AS unpriced
                        FROM events e LEFT JOIN _rates r USING (currency)
                        WHERE e.event = '{_ORDER}' AND e.revenue IS NOT NULL),
             credited AS (
                SELECT o.unpriced, o.revenue,
                       arg_max(t.{group}, t.timestamp) AS {group}
                FROM orders o JOIN touches t
                  ON t.profile_id = o.profile_id AND t.timestamp <= o.timestamp
                 AND epoch(o.timestamp) - epoch(t.timestamp) <= {window}
                GROUP BY o.profile_id, o.timestamp, o.revenue, o.unpriced),
             spent AS (SELECT t.{group}, count(*) AS sends, sum(coalesce(c.cost, 0)) AS cost
                       FROM touches t LEFT JOIN _costs c USING (channel)
                       WHERE t.sent GROUP BY t.{group}),
             won AS (SELECT {group}, count(*) FILTER (WHERE NOT unpriced) AS orders,
                            coalesce(sum(revenue), 0) AS revenue,
                            count(*) FILTER (WHERE unpriced) AS orders_without_rate
                     FROM credited GROUP BY {group})
        SELECT {group}, coalesce(s.sends, 0) AS sends, coalesce(s.cost, 0) AS cost,
               coalesce(w.orders, 0) AS orders, coalesce(w.revenue, 0) AS revenue,
               CASE WHEN coalesce(s.cost, 0) > 0 THEN (coalesce(w.revenue, 0) - s.cost) / s.cost
               END AS roi,
               coalesce(w.revenue, 0) / nullif(s.sends, 0) AS revenue_per_send,
               coalesce(w.orders_without_rate, 0) AS orders_without_rate
        FROM spent s FULL JOIN won w USING ({group})
        ORDER BY revenue DESC, {group}
    """  # noqa: S608 - names checked against fixed lists
    frame = fetch(database, query)
    frame.attrs["currency"] = target
    return frame


def kpi_suite(
    events: object, *, currency: object = "USD", rates: object = None, connection: Any = None
) -> dict[str, Any]:
    """Every KPI of this module over one table: a dict of DataFrames by KPI name.

    The events are registered (and a file read) once; each KPI runs in the
    same DuckDB connection. Keys: ``traffic``, ``conversion_rates``,
    ``acquisition``, ``orders``, ``retention``, ``churn``,
    ``cart_abandonment``, ``surveys``, ``social``, ``roi``.

    Raises:
        ValidationError: as the KPIs do.

    .. versionadded:: 0.1.0
    """
    database = connect(connection)
    register(database, "_source", events, path="$.events")
    # One pass materializes the source (a file is read once) for every KPI.
    database.execute("CREATE OR REPLACE TEMP TABLE _suite AS SELECT * FROM _source")
    table = database.table("_suite")
    events_view(table, database, *_SESSION_BY, "type", "revenue", "currency")
    # The visits are worked out once for the four KPIs that read them.
    database.execute(f"CREATE OR REPLACE TEMP TABLE _visits AS {_sessions_sql(_HALF_HOUR)}")
    day = positive_seconds(dt.timedelta(days=1), "$.within")
    return {
        "traffic": fetch(database, _traffic_sql("channel_group", "day", "_visits")),
        "conversion_rates": fetch(database, _conversion_sql("channel_group", "_visits")),
        "acquisition": fetch(database, _acquisition_sql("channel_group", "month", "_visits")),
        "orders": order_kpis(table, connection=database),
        "retention": cohort_retention(table, connection=database).frame,
        "churn": churn(table, connection=database),
        "cart_abandonment": fetch(database, _abandonment_sql("channel", day, "_visits")),
        "surveys": survey_scores(table, connection=database),
        "social": social_engagement(table, connection=database),
        "roi": roi(table, currency=currency, rates=rates, connection=database),
    }
