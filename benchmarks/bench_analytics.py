"""Analytics speed: the whole KPI suite over millions of events, on DuckDB.

Run with ``nox -s bench`` (or ``python benchmarks/bench_analytics.py``). A
quick run: ``python benchmarks/bench_analytics.py --events 1000000``.

Setup, timed apart: ``--events`` (10,000,000) events in the layout of
`omnichannel.analytics.EVENT_COLUMNS`, generated in DuckDB with a fixed
seed and written to a Parquet file: visits of eight events a minute or so
apart by people active through a year (a few of them very active),
web and app visits (page and screen views, product views, carts,
checkouts, orders with revenue in five currencies), e-mails, SMS and pushes
(delivered, opened, clicked), store orders, survey answers and shares.

Timed: `omnichannel.analytics.kpi_suite` on the Parquet file (reading it
included): traffic, conversion rates, acquisition, orders, cohort retention,
churn, cart abandonment, surveys, social engagement and ROI, each as SQL in
one DuckDB connection; then each KPI alone on the loaded table, to show
where the time goes. Peer: a plain ``SELECT count(*), sum(revenue)`` scan
of the same file, the floor any engine pays to read it.

Goal (issue: Step 8): the KPI suite over 10M events in under 60 s here.
The script exits non-zero if a "check:" fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from omnichannel.analytics import _kpis as kpis
from omnichannel.analytics import kpi_suite

RATES = {"EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "AUD": 0.66}

# One row per event. Rows come in visits of eight, a minute or so apart, each visit by one
# person at a random time of the year (a few people make many visits); the event mix is
# drawn per row from weights, so counts follow the shares below.
GENERATE = """
COPY (
  WITH base AS (
    SELECT i,
           'p' || CAST(floor(pow(hash(i // 8) % 1000003 / 1000003.0, 2) * {people}) AS BIGINT)
             AS profile_id,
           TIMESTAMPTZ '2024-01-01 00:00:00+00'
             + to_seconds(CAST(hash((i // 8) * 7919) % (365 * 86400) AS BIGINT))
             + to_seconds(CAST((i % 8) * 60 + hash(i) % 60 AS BIGINT)) AS timestamp,
           random() AS r, random() AS s
    FROM range({events}) t(i)
  )
  SELECT profile_id, 'm' || i AS message_id,
    CASE WHEN r < 0.30 THEN 'Page Viewed' WHEN r < 0.42 THEN 'Screen Viewed'
         WHEN r < 0.62 THEN 'Product Viewed' WHEN r < 0.68 THEN 'Product Added'
         WHEN r < 0.70 THEN 'Checkout Started' WHEN r < 0.715 THEN 'Order Completed'
         WHEN r < 0.82 THEN 'Email Delivered' WHEN r < 0.86 THEN 'Email Opened'
         WHEN r < 0.87 THEN 'Email Link Clicked' WHEN r < 0.90 THEN 'SMS Delivered'
         WHEN r < 0.95 THEN 'Push Notification Received'
         WHEN r < 0.955 THEN 'Push Notification Tapped'
         WHEN r < 0.97 THEN 'Store Visited' WHEN r < 0.975 THEN 'Survey Answered'
         WHEN r < 0.978 THEN 'Product Shared' ELSE 'Application Opened' END AS event,
    CASE WHEN r < 0.30 THEN 'page' WHEN r < 0.42 THEN 'screen' ELSE 'track' END AS type,
    timestamp,
    CASE WHEN r >= 0.715 AND r < 0.87 THEN 'email' WHEN r >= 0.87 AND r < 0.90 THEN 'sms'
         WHEN r >= 0.90 AND r < 0.955 THEN 'push' WHEN r >= 0.955 AND r < 0.975 THEN 'store'
         WHEN r >= 0.30 AND r < 0.42 OR s < 0.3 THEN 'app' ELSE 'web' END AS channel,
    CASE WHEN r < 0.30 AND s < 0.08 THEN 'google' WHEN r < 0.30 AND s < 0.12 THEN 'facebook' END
      AS source,
    CASE WHEN r < 0.30 AND s < 0.05 THEN 'organic' WHEN r < 0.30 AND s < 0.08 THEN 'cpc'
         WHEN r < 0.30 AND s < 0.12 THEN 'paid_social'
         WHEN r >= 0.715 AND r < 0.955 THEN 'message' END AS medium,
    CASE WHEN r >= 0.715 AND r < 0.955 THEN 'campaign-' || CAST(floor(s * 20) AS INT)
         WHEN r < 0.30 AND s < 0.12 THEN 'ads-' || CAST(floor(s * 100) AS INT) END AS campaign,
    CASE WHEN r < 0.30 AND s < 0.05 THEN 'Organic Search' WHEN r < 0.30 AND s < 0.08
           THEN 'Paid Search' WHEN r < 0.30 AND s < 0.12 THEN 'Paid Social'
         WHEN r >= 0.715 AND r < 0.87 THEN 'Email' WHEN r >= 0.87 AND r < 0.90 THEN 'SMS'
         WHEN r >= 0.90 AND r < 0.955 THEN 'Mobile Push Notifications' END AS channel_group,
    CASE WHEN r >= 0.70 AND r < 0.715 THEN 'o' || i END AS order_id,
    CASE WHEN r >= 0.70 AND r < 0.715 THEN round(10 + s * 290, 2) END AS revenue,
    CASE WHEN r >= 0.70 AND r < 0.715
         THEN ['USD', 'EUR', 'GBP', 'JPY', 'AUD'][1 + CAST(floor(s * 5) AS INT)] END AS currency,
    CASE WHEN r >= 0.97 AND r < 0.975 THEN ['csat', 'nps', 'ces'][1 + CAST(floor(s * 3) AS INT)]
      END AS survey,
    CASE WHEN r >= 0.97 AND r < 0.975 THEN CAST(floor(s * 11) AS DOUBLE) END AS score,
    CASE WHEN r >= 0.975 AND r < 0.978 THEN '{{"share_via":"twitter"}}' ELSE '{{}}' END
      AS properties
  FROM base
) TO '{path}' (FORMAT parquet)
"""


def generate(path: Path, events: int) -> None:
    with duckdb.connect() as database:
        database.execute("SELECT setseed(0.42)")
        people = max(events // 50, 10)
        database.execute(GENERATE.format(events=events, people=people, path=path))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the table")
    args, _ = parser.parse_known_args()
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.parquet"
        started = time.perf_counter()
        generate(path, args.events)
        size = path.stat().st_size / 1e6
        print(
            f"setup: {args.events:,} events written to Parquet ({size:,.0f} MB)"
            f" in {time.perf_counter() - started:.1f} s"
        )
        with duckdb.connect() as database:
            started = time.perf_counter()
            database.execute(
                "SELECT count(*), sum(revenue) FROM read_parquet(?)", [str(path)]
            ).fetchall()
            scan = time.perf_counter() - started
        started = time.perf_counter()
        suite = kpi_suite(str(path), rates=RATES)
        seconds = time.perf_counter() - started
        print(f"KPI suite over {args.events:,} events: {seconds:.1f} s ({scan:.2f} s to scan)")
        goal = "met" if seconds < 60 else "MISSED"
        print(f"goal: under 60 s for the suite ({goal} at this size)")
        orders = int(suite["orders"]["orders"].sum())
        ((expected,),) = duckdb.sql(
            f"SELECT count(*) FROM read_parquet('{path}') WHERE event = 'Order Completed'"  # noqa: S608
        ).fetchall()
        ok = orders == expected
        failures += not ok
        print(f"check: orders in the suite ({orders:,}) = orders in the file: {ok}")
        with duckdb.connect() as database:
            database.execute("SET TimeZone = 'UTC'")
            database.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{path}')")  # noqa: S608
            table = database.table("events")
            print("each KPI on the loaded table:")
            for name, call in (
                ("traffic", lambda: kpis.traffic(table, connection=database)),
                ("conversion_rates", lambda: kpis.conversion_rates(table, connection=database)),
                ("acquisition", lambda: kpis.acquisition(table, connection=database)),
                ("orders", lambda: kpis.order_kpis(table, connection=database)),
                ("retention", lambda: kpis.cohort_retention(table, connection=database)),
                ("churn", lambda: kpis.churn(table, connection=database)),
                ("cart_abandonment", lambda: kpis.cart_abandonment(table, connection=database)),
                ("surveys", lambda: kpis.survey_scores(table, connection=database)),
                ("social", lambda: kpis.social_engagement(table, connection=database)),
                ("roi", lambda: kpis.roi(table, rates=RATES, connection=database)),
            ):
                started = time.perf_counter()
                call()
                print(f"  {name:<17} {time.perf_counter() - started:6.2f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
