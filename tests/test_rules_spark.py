"""The engines' contract on Apache Spark: Python closures and Spark SQL pick the same members.

Same rules, subjects and instants as the DuckDB and PostgreSQL differential
tests (`support.rule_cases`, `support.EDGE_RULES`), compiled with
``dialect="spark"`` and run by pyspark in local mode with ANSI SQL on (the
default of Spark 4). The session's time zone is deliberately not UTC.

Run by ``nox -s spark`` (CI runs it); skipped where pyspark or Java is
missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given, settings

from omnichannel import RuleError
from omnichannel.rules import Rule, compile_rule, to_sql
from support import EDGE_NOW, EDGE_RULES, EDGE_SUBJECTS, rule_cases, rule_rows
from support import RULE_SCHEMA as SCHEMA

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (nox -s spark)")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):  # pragma: no cover
    pytest.skip("Spark needs Java", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402 - after the skip
from pyspark.sql import types as T  # noqa: E402, N812 - pyspark's usual name

_SPARK_TYPES = {
    "text": T.StringType(),
    "integer": T.LongType(),
    "number": T.DoubleType(),
    "bool": T.BooleanType(),
    "instant": T.TimestampType(),
    "date": T.DateType(),
}


def _layout() -> tuple[Any, Any, Any]:
    profile_fields = [
        T.StructField(SCHEMA.id_column, T.StringType()),
        T.StructField(SCHEMA.timezone_column, T.StringType()),
    ]
    profile_fields += [
        T.StructField(SCHEMA.column(p), _SPARK_TYPES[t]) for p, t in SCHEMA.fields.items()
    ]
    event_fields = [
        T.StructField(SCHEMA.id_column, T.StringType()),
        T.StructField("event", T.StringType()),
        T.StructField("timestamp", T.TimestampType()),
        T.StructField("channel", T.StringType()),
    ]
    event_fields += [
        T.StructField(SCHEMA.column(p), _SPARK_TYPES[t]) for p, t in SCHEMA.event_fields.items()
    ]
    members = [
        T.StructField(SCHEMA.id_column, T.StringType()),
        T.StructField("segment", T.StringType()),
    ]
    return T.StructType(profile_fields), T.StructType(event_fields), T.StructType(members)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = (
        SparkSession.builder.master("local[2]")
        .appName("omnichannel-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.session.timeZone", "Pacific/Chatham")
        .getOrCreate()
    )
    yield session
    session.stop()


def _members(spark: Any, subjects: list[dict[str, Any]], sql: str) -> set[str]:
    """Load ``subjects`` as the rule layout's three tables and run ``sql``."""
    profile_rows, event_rows, member_rows = rule_rows(subjects)
    layouts = _layout()
    tables = (SCHEMA.profiles_table, SCHEMA.events_table, SCHEMA.segments_table)
    for name, rows, layout in zip(
        tables, (profile_rows, event_rows, member_rows), layouts, strict=True
    ):
        spark.createDataFrame(rows, layout).createOrReplaceTempView(name)
    return {row[0] for row in spark.sql(sql).collect()}


@pytest.mark.parametrize("rule", EDGE_RULES, ids=str)
def test_spark_agrees_at_the_edges(spark: Any, rule: Rule) -> None:
    """Hand-picked rules and subjects the generator seldom reaches agree on Spark too."""
    subjects = [{"segments": [], "events": [], **subject} for subject in EDGE_SUBJECTS]
    sql = to_sql(rule, schema=SCHEMA, now=EDGE_NOW, dialect="spark")
    matches = compile_rule(rule)
    expected = {f"p{n}" for n, subject in enumerate(subjects) if matches(subject, EDGE_NOW)}
    assert expected == _members(spark, subjects, sql), sql


@settings(max_examples=60)
@given(rule_cases())
def test_python_and_spark_pick_the_same_members(spark: Any, case: Any) -> None:
    """For any well-typed rule Spark can express, both engines choose the same profiles."""
    now, rule, subjects = case
    try:
        sql = to_sql(rule, schema=SCHEMA, now=now, dialect="spark")
    except RuleError as error:
        assume(error.errors[0].code != "unsupported")
        raise
    matches = compile_rule(rule)
    expected = {f"p{n}" for n, subject in enumerate(subjects) if matches(subject, now)}
    assert expected == _members(spark, subjects, sql), f"{rule}\n{sql}"
