"""Batch segments over many profiles: DuckDB (embedded) against Apache Spark (local mode).

A synthetic population (``--profiles``, default 1,000,000, three events
each) is written to Parquet; six segments (a trait, a range, a count in a
window, a sum in a window, a cart abandoner's sequence, a combination) are
compiled by `to_sql` for each engine and evaluated over all of it: on DuckDB
by `batch_members`, on Spark by running each compiled query with
``spark.sql`` (what a user runs in their cluster). Both must find the same
member counts; the times, measured in the same run, are the figures.

Run: ``python benchmarks/bench_spark.py [--profiles N]`` (needs pyspark and Java 17).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from omnichannel.rules import Schema, did, hours, state, to_sql, trait
from omnichannel.segments import Segment, batch_members

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
SCHEMA = Schema(
    fields={"traits.country": "text", "traits.age": "integer", "state.orders": "integer"},
    event_fields={"properties.revenue": "number"},
)
SEGMENTS = [
    Segment(key="germany", name="Germany", rule=trait("country") == "DE"),
    Segment(key="young", name="18-34", rule=(trait("age") >= 18) & (trait("age") <= 34)),
    Segment(key="repeat", name="Repeat", rule=did("Order Completed").at_least(2).within(days=90)),
    Segment(
        key="big-spender",
        name="Big spender",
        rule=did("Order Completed").within(days=90).sum("properties.revenue") > 100,
    ),
    Segment(
        key="abandoner",
        name="Cart abandoner",
        rule=did("Product Added").not_followed_by("Order Completed", within=hours(24)),
    ),
    Segment(
        key="loyal-de",
        name="Loyal in Germany",
        rule=(trait("country") == "DE") & (state("orders") >= 3),
    ),
]
EVENTS = np.array(["Product Viewed", "Product Added", "Order Completed"])
COUNTRIES = np.array(["DE", "FR", "US", "GB", "ES"])


def population(count: int, folder: Path) -> tuple[Path, Path]:
    """Parquet files of ``count`` profiles and three events each, in the rule layout."""
    rng = np.random.default_rng(7)
    ids = np.char.add("p", np.arange(count).astype(str))
    profiles = pa.table(
        {
            "profile_id": ids,
            "timezone": pa.nulls(count, pa.string()),
            SCHEMA.column("traits.country"): rng.choice(COUNTRIES, count),
            SCHEMA.column("traits.age"): rng.integers(14, 80, count),
            SCHEMA.column("state.orders"): rng.integers(0, 8, count),
        }
    )
    n = count * 3
    seconds = rng.integers(0, 120 * 86_400, n)
    stamps = np.datetime64(NOW.replace(tzinfo=None), "us") - seconds.astype("timedelta64[s]")
    events = pa.table(
        {
            "profile_id": np.repeat(ids, 3),
            "event": rng.choice(EVENTS, n),
            "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "channel": rng.choice(np.array(["web", "app", "store"]), n),
            SCHEMA.column("properties.revenue"): rng.gamma(2.0, 30.0, n),
        }
    )
    paths = folder / "profiles.parquet", folder / "events.parquet"
    pq.write_table(profiles, paths[0])
    pq.write_table(events, paths[1])
    return paths


def on_duckdb(profiles: Path, events: Path) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    members = batch_members(SEGMENTS, schema=SCHEMA, now=NOW, profiles=profiles, events=events)
    return time.perf_counter() - started, {key: len(ids) for key, ids in members.items()}


def on_spark(profiles: Path, events: Path) -> tuple[float, float, dict[str, int]]:
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[*]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    ready = time.perf_counter() - started
    started = time.perf_counter()
    spark.read.parquet(str(profiles)).createOrReplaceTempView(SCHEMA.profiles_table)
    spark.read.parquet(str(events)).createOrReplaceTempView(SCHEMA.events_table)
    counts = {
        segment.key: spark.sql(to_sql(segment.rule, schema=SCHEMA, now=NOW, dialect="spark"))
        .distinct()
        .count()
        for segment in SEGMENTS
    }
    elapsed = time.perf_counter() - started
    spark.stop()
    return ready, elapsed, counts


def main() -> None:
    """Print both engines' times and check they agree."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        profiles, events = population(args.profiles, Path(folder))
        duck_time, duck = on_duckdb(profiles, events)
        try:
            ready, spark_time, spark = on_spark(profiles, events)
        except ImportError:
            print("pyspark is not installed: DuckDB only")
            print(f"DuckDB: {duck_time:.2f} s for {len(SEGMENTS)} segments")
            return
    if duck != spark:
        raise SystemExit(f"the engines disagree: DuckDB {duck}, Spark {spark}")
    print(f"{args.profiles:,} profiles, {3 * args.profiles:,} events, {len(SEGMENTS)} segments")
    print(f"members: {duck}")
    print(f"DuckDB: {duck_time:6.2f} s")
    print(f"Spark (local, all cores): {spark_time:6.2f} s (+{ready:.1f} s to start)")
    print(f"Spark / DuckDB: {spark_time / duck_time:.1f}x")


if __name__ == "__main__":
    main()
