"""KPIs, funnels and the journey map on a small shop worked out by hand.

Four people, one page of events (times UTC, 2024):

- a: lands from Google (organic) on 1 Jan 10:00, adds to cart, checks out
  and orders on the web (100 USD) at 10:12; gets and opens a spring e-mail
  on 10 Feb, buys in a store on 11 Feb (50 USD).
- b: two direct web visits on 1 Jan (11:00, then 11:40 after 40 quiet
  minutes), adds to cart in the second and never buys; gets an SMS on 15 Jan.
- c: opens the app on 2 Jan 08:00, adds to cart at 08:01, pays on the web
  at 20:00 (80 EUR); buys again in the app on 5 Mar (40 EUR); answers NPS 10
  and CSAT 5.
- d: lands from a paid Facebook ad on 3 Jan (two page views a minute apart),
  shares a product on Twitter; answers NPS 3, CSAT 3, CES 2.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

pd = pytest.importorskip("pandas", reason="analytics need pandas")
pytest.importorskip("duckdb", reason="analytics need DuckDB")

from omnichannel.analytics import (  # noqa: E402 - after the skips
    acquisition,
    cart_abandonment,
    churn,
    cohort_retention,
    conversion_rates,
    funnel,
    journey_map,
    kpi_suite,
    order_kpis,
    roi,
    sessions,
    social_engagement,
    survey_scores,
    traffic,
)
from omnichannel.errors import ValidationError  # noqa: E402

COLUMNS = [
    "profile_id",
    "message_id",
    "event",
    "type",
    "timestamp",
    "channel",
    "source",
    "medium",
    "campaign",
    "channel_group",
    "order_id",
    "revenue",
    "currency",
    "survey",
    "score",
    "properties",
]
ORGANIC = {
    "source": "google",
    "medium": "organic",
    "campaign": "(organic)",
    "channel_group": "Organic Search",
}
FACEBOOK = {
    "source": "facebook",
    "medium": "paid_social",
    "campaign": "spring-ads",
    "channel_group": "Paid Social",
}


def _event(pid, when, event, channel, kind="track", **fields):
    row = dict.fromkeys(COLUMNS)
    properties = fields.pop("properties", {})
    row.update(
        profile_id=pid,
        event=event,
        type=kind,
        channel=channel,
        timestamp=pd.Timestamp(when, tz="UTC"),
        properties=json.dumps(properties),
        **fields,
    )
    return row


def shop():
    rows = [
        _event("a", "2024-01-01 10:00", "Page Viewed", "web", "page", **ORGANIC),
        _event("a", "2024-01-01 10:05", "Product Added", "web"),
        _event("a", "2024-01-01 10:10", "Checkout Started", "web"),
        _event(
            "a",
            "2024-01-01 10:12",
            "Order Completed",
            "web",
            order_id="o1",
            revenue=100.0,
            currency="USD",
        ),
        _event(
            "a",
            "2024-02-10 09:00",
            "Email Delivered",
            "email",
            medium="email",
            campaign="spring",
            channel_group="Email",
        ),
        _event(
            "a",
            "2024-02-10 12:00",
            "Email Opened",
            "email",
            medium="email",
            campaign="spring",
            channel_group="Email",
        ),
        _event(
            "a",
            "2024-02-11 15:00",
            "Order Completed",
            "store",
            order_id="o2",
            revenue=50.0,
            currency="USD",
        ),
        _event("b", "2024-01-01 11:00", "Page Viewed", "web", "page"),
        _event("b", "2024-01-01 11:40", "Page Viewed", "web", "page"),
        _event("b", "2024-01-01 11:45", "Product Added", "web"),
        _event(
            "b",
            "2024-01-15 09:00",
            "SMS Delivered",
            "sms",
            medium="sms",
            campaign="flash",
            channel_group="SMS",
        ),
        _event("c", "2024-01-02 08:00", "Screen Viewed", "app", "screen"),
        _event("c", "2024-01-02 08:01", "Product Added", "app"),
        _event(
            "c",
            "2024-01-02 20:00",
            "Order Completed",
            "web",
            order_id="o3",
            revenue=80.0,
            currency="EUR",
        ),
        _event(
            "c",
            "2024-03-05 10:00",
            "Order Completed",
            "app",
            order_id="o4",
            revenue=40.0,
            currency="EUR",
        ),
        _event("c", "2024-01-03 09:00", "Survey Answered", None, survey="nps", score=10.0),
        _event("c", "2024-01-03 09:01", "Survey Answered", None, survey="csat", score=5.0),
        _event("d", "2024-01-03 12:00", "Page Viewed", "web", "page", **FACEBOOK),
        _event("d", "2024-01-03 12:01", "Page Viewed", "web", "page", **FACEBOOK),
        _event(
            "d", "2024-01-03 12:02", "Product Shared", "web", properties={"share_via": "twitter"}
        ),
        _event("d", "2024-01-04 09:00", "Survey Answered", None, survey="nps", score=3.0),
        _event("d", "2024-01-04 09:01", "Survey Answered", None, survey="csat", score=3.0),
        _event("d", "2024-01-04 09:02", "Survey Answered", "store", survey="ces", score=2.0),
    ]
    for index, row in enumerate(rows):
        row["message_id"] = f"m{index}"
    return pd.DataFrame(rows, columns=COLUMNS)


def _by(frame, key):
    return {row[key]: row for row in frame.to_dict("records")}


def test_sessions_split_on_quiet_and_take_their_first_source():
    visits = sessions(shop())
    assert 7 == len(visits)
    per_person = visits.groupby("profile_id").size().to_dict()
    assert {"a": 1, "b": 2, "c": 3, "d": 1} == per_person
    d = visits[visits["profile_id"] == "d"].iloc[0]
    assert ("Paid Social", 3, 2) == (d["channel_group"], d["events"], d["page_views"])
    assert {"Direct"} == set(visits[visits["profile_id"].isin(["b", "c"])]["channel_group"])


def test_traffic_counts_views_and_bounces():
    frame = traffic(shop(), by="channel", period="year")
    web = _by(frame, "channel")["web"]
    assert (5, 4, 5, 0) == (web["sessions"], web["users"], web["page_views"], web["screen_views"])
    assert 0.4 == web["bounce_rate"]  # b's first visit and c's order: one event each
    app = _by(frame, "channel")["app"]
    assert (2, 1, 1) == (app["sessions"], app["users"], app["screen_views"])


def test_conversion_rates_per_channel_group():
    rates = _by(conversion_rates(shop()), "channel_group")
    assert (1, 1, 1.0) == tuple(
        rates["Organic Search"][k] for k in ("sessions", "converting_sessions", "session_rate")
    )
    direct = rates["Direct"]
    assert (5, 2, 0.4, 2, 1, 0.5) == tuple(
        direct[k]
        for k in (
            "sessions",
            "converting_sessions",
            "session_rate",
            "users",
            "converters",
            "user_rate",
        )
    )
    assert 0.0 == rates["Paid Social"]["user_rate"]


def test_conversion_rates_per_segment_count_store_orders():
    members = pd.DataFrame(
        {"profile_id": ["a", "b", "c", "d"], "segment": ["vip", "vip", "new", "new"]}
    )
    rates = _by(conversion_rates(shop(), by="segment", segments=members), "segment")
    assert (2, 1, 0.5) == (
        rates["vip"]["members"],
        rates["vip"]["converters"],
        rates["vip"]["user_rate"],
    )
    assert 0.5 == rates["new"]["user_rate"]
    with pytest.raises(ValidationError) as caught:
        conversion_rates(shop(), by="segment")
    assert "$.segments" == caught.value.errors[0].path


def test_acquisition_by_first_visit():
    frame = _by(acquisition(shop()), "channel_group")
    assert (2, 1) == (frame["Direct"]["new_users"], frame["Direct"]["converted"])
    assert (1, 1) == (frame["Organic Search"]["new_users"], frame["Organic Search"]["converted"])
    assert (1, 0) == (frame["Paid Social"]["new_users"], frame["Paid Social"]["converted"])


def test_order_kpis_per_currency_and_channel():
    frame = _by(order_kpis(shop()), "currency")
    usd, eur = frame["USD"], frame["EUR"]
    assert (2, 1, 150.0, 75.0, 1, 1.0) == tuple(
        usd[k]
        for k in (
            "orders",
            "customers",
            "revenue",
            "aov",
            "repeat_customers",
            "repeat_purchase_rate",
        )
    )
    assert (2, 120.0, 60.0) == (eur["orders"], eur["revenue"], eur["aov"])
    split = order_kpis(shop(), by="channel")
    got = {(r["currency"], r["channel"]): r["revenue"] for r in split.to_dict("records")}
    assert {
        ("USD", "web"): 100.0,
        ("USD", "store"): 50.0,
        ("EUR", "web"): 80.0,
        ("EUR", "app"): 40.0,
    } == got


def test_cohort_retention_and_churn():
    result = cohort_retention(shop())
    row = result.frame.loc[pd.Timestamp("2024-01-01")]
    assert (2, 1.0, 0.5, 0.5) == (row["customers"], row[0], row[1], row[2])
    assert 0.5 == result.figures["retained one month on (all cohorts)"]
    assert "<h4>" in result._repr_html_()
    frame = churn(shop())
    assert [2, 1] == frame["active"].tolist()
    assert [0.5, 1.0] == frame["churn_rate"].tolist()


def test_cart_abandonment_counts_orders_in_any_channel():
    frame = _by(cart_abandonment(shop()), "channel")
    assert (2, 1, 0.5) == (
        frame["web"]["carts"],
        frame["web"]["recovered"],
        frame["web"]["abandonment_rate"],
    )
    assert (1, 1, 0.0) == (
        frame["app"]["carts"],
        frame["app"]["recovered"],
        frame["app"]["abandonment_rate"],
    )  # paid on the web the same day
    assert 0.0 == frame["web"]["checkout_abandonment_rate"]
    assert math.isnan(frame["app"]["checkout_abandonment_rate"])
    shorter = _by(cart_abandonment(shop(), within=dt.timedelta(hours=1)), "channel")
    assert 1.0 == shorter["app"]["abandonment_rate"]


def test_survey_scores():
    frame = _by(survey_scores(shop()), "survey")
    assert 50.0 == frame["csat"]["score"]
    assert 0.0 == frame["nps"]["score"]  # one promoter, one detractor
    assert 2.0 == frame["ces"]["score"]
    assert 0.0 == frame["loyalty_index"]["score"]


def test_social_engagement():
    frame = social_engagement(shop())
    assert [("Product Shared", "twitter", 1, 1)] == [
        (r["event"], r["network"], r["engagements"], r["people"]) for r in frame.to_dict("records")
    ]


def test_roi_credits_the_store_order_to_the_email_before_it():
    frame = _by(roi(shop()), "channel")
    email, sms = frame["email"], frame["sms"]
    assert (1, 1, 50.0) == (email["sends"], email["orders"], email["revenue"])
    assert pytest.approx((50.0 - 0.001) / 0.001) == email["roi"]
    assert (1, 0, 0.0, -1.0) == (sms["sends"], sms["orders"], sms["revenue"], sms["roi"])
    by_campaign = _by(roi(shop(), by="campaign", costs={"email": 2.0}), "campaign")
    assert 24.0 == by_campaign["spring"]["roi"]


def test_roi_converts_currencies_and_names_bad_rates():
    events = shop()
    events.loc[events["message_id"] == "m6", "currency"] = "EUR"
    frame = _by(roi(events), "channel")
    assert (0, 1) == (frame["email"]["orders"], frame["email"]["orders_without_rate"])
    frame = _by(roi(events, rates={"EUR": 1.1}), "channel")
    assert pytest.approx(55.0) == frame["email"]["revenue"]
    with pytest.raises(ValidationError) as caught:
        roi(events, rates={"EUR": -1})
    assert "$.rates.EUR" == caught.value.errors[0].path


def test_funnel_across_channels():
    result = funnel(shop(), ["Product Added", "Order Completed"], within=dt.timedelta(days=1))
    assert [3, 2] == result.steps["people"].tolist()
    assert [0, 1] == result.steps["dropped"].tolist()
    steps = _by(result.steps, "step")
    assert pytest.approx(2 / 3) == steps[2]["from_first"]
    by_channel = {
        (r["step"], r["channel"]): r["people"] for r in result.by_channel.to_dict("records")
    }
    assert {(1, "web"): 2, (1, "app"): 1, (2, "web"): 2} == by_channel
    worst = result.pain_points.iloc[0]
    assert (1, "web", 2, 1, 0.5) == (
        worst["step"],
        worst["channel"],
        worst["reached"],
        worst["left"],
        worst["left_rate"],
    )
    assert "Pain points" in result._repr_html_()


def test_funnel_counts_steps_nobody_reached():
    result = funnel(shop(), ["Product Shared", "Order Completed", "Order Refunded"])
    assert [1, 0, 0] == result.steps["people"].tolist()
    assert [0, 1, 0] == result.steps["dropped"].tolist()


def test_journey_map():
    result = journey_map(shop())
    assert {"web": 1, "app > web": 1} == dict(
        zip(result.paths["path"], result.paths["people"], strict=True)
    )
    assert {0: 1, 1: 1} == dict(zip(result.hops["switches"], result.hops["people"], strict=True))
    assert [("app", "web", 1)] == list(result.pairs.itertuples(index=False, name=None))
    hours = dict(
        zip(result.time_to_convert["profile_id"], result.time_to_convert["hours"], strict=True)
    )
    assert pytest.approx({"a": 0.2, "c": 12.0}) == hours
    moves = [
        (str(r.period.date()), r.from_stage, r.to_stage, r.people)
        for r in result.transitions.itertuples()
    ]
    assert [
        ("2024-02-01", "new customer", "repeat customer", 1),
        ("2024-03-01", "new customer", "repeat customer", 1),
    ] == moves
    january = result.stages[result.stages["period"] == pd.Timestamp("2024-01-01")]
    assert {"new customer": 2, "prospect": 2} == dict(
        zip(january["stage"], january["people"], strict=True)
    )
    assert 2 == result.figures["converters"]
    assert "Journey map" in result._repr_html_()


def test_kpi_suite_runs_every_kpi_once():
    suite = kpi_suite(shop(), rates={"EUR": 1.1})
    assert {
        "traffic",
        "conversion_rates",
        "acquisition",
        "orders",
        "retention",
        "churn",
        "cart_abandonment",
        "surveys",
        "social",
        "roi",
    } == set(suite)
    assert 150.0 == _by(suite["orders"], "currency")["USD"]["revenue"]
    alone = {
        "traffic": traffic(shop()),
        "conversion_rates": conversion_rates(shop()),
        "acquisition": acquisition(shop()),
        "cart_abandonment": cart_abandonment(shop()),
        "roi": roi(shop(), rates={"EUR": 1.1}),
    }
    for name, frame in alone.items():
        pd.testing.assert_frame_equal(frame, suite[name], obj=name)


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda e: traffic(e, by="planet"), "$.by"),
        (lambda e: traffic(e, period="fortnight"), "$.period"),
        (lambda e: sessions(e, timeout=5), "$.timeout"),
        (lambda e: cart_abandonment(e, within=dt.timedelta(0)), "$.within"),
        (lambda e: roi(e, currency="dollars"), "$.currency"),
        (lambda e: roi(e, costs={"email": -1}), "$.costs"),
        (lambda e: social_engagement(e, names="Post Liked"), "$.names"),
        (lambda e: funnel(e, ["Order Completed"]), "$.steps"),
        (lambda e: funnel(e, ["Order Completed", 3]), "$.steps[1]"),
        (lambda e: journey_map(e, lapse=3), "$.lapse"),
        (lambda e: order_kpis(e.drop(columns=["revenue"])), "$.events.revenue"),
        (lambda e: order_kpis(e, by="campaign"), "$.by"),
        (lambda _e: order_kpis({"not": "a table"}), "$.events"),
        (lambda _e: order_kpis("/nowhere/events.parquet"), "$.events"),
    ],
)
def test_bad_input_names_the_field(call, path):
    with pytest.raises(ValidationError) as caught:
        call(shop())
    assert path == caught.value.errors[0].path


def test_files_and_polars_read_alike(tmp_path):
    events = shop()
    parquet, csv = tmp_path / "events.parquet", tmp_path / "events.csv"
    events.to_parquet(parquet)
    events.to_csv(csv, index=False)
    expected = order_kpis(events)
    pd.testing.assert_frame_equal(expected, order_kpis(parquet))
    pd.testing.assert_frame_equal(expected, order_kpis(str(csv)))
    pl = pytest.importorskip("polars")
    pd.testing.assert_frame_equal(expected, order_kpis(pl.from_pandas(events)))


def _engine_with(payloads):
    from omnichannel.engine import Engine
    from omnichannel.store import MemoryStore

    engine = Engine(MemoryStore())
    engine.ingest_many(payloads)
    return engine


def _track(event, when, properties=None, **ids):
    return {
        "type": "track",
        "event": event,
        "timestamp": when,
        "messageId": f"{event}-{when}",
        "properties": properties or {},
        **ids,
    }


def test_event_table_keys_store_purchases_by_the_resolved_person():
    from omnichannel.analytics import event_table

    payloads = [
        {
            "type": "identify",
            "userId": "u1",
            "anonymousId": "anon-1",
            "traits": {"email": "ada@example.com"},
            "timestamp": "2024-01-01T09:00:00Z",
            "messageId": "id-1",
        },
        _track("Email Opened", "2024-01-01T10:00:00Z", {"campaign_name": "spring"}, userId="u1"),
        {
            **_track("Page Viewed", "2024-01-01T10:05:00Z", anonymousId="anon-1"),
            "type": "page",
            "context": {
                "page": {
                    "url": "https://shop.example/?utm_source=news&utm_medium=email"
                    "&utm_campaign=spring",
                    "referrer": "",
                }
            },
        },
        {
            **_track(
                "Order Completed",
                "2024-01-02T15:00:00Z",
                {"order_id": "o1", "total": 42.5, "currency": "EUR"},
                userId="u1",
            ),
            "context": {"channel": "store"},
        },
    ]
    table = event_table(_engine_with(payloads))
    assert ["Email Opened", "Page Viewed", "Order Completed"] == table["event"].tolist()
    assert 1 == table["profile_id"].nunique()  # the anonymous visit and the store order: one person
    opened, viewed, order = table.to_dict("records")
    assert ("email", "email", "spring", "Email") == (
        opened["channel"],
        opened["medium"],
        opened["campaign"],
        opened["channel_group"],
    )
    assert ("news", "email", "spring") == (viewed["source"], viewed["medium"], viewed["campaign"])
    assert ("o1", 42.5, "EUR") == (order["order_id"], order["revenue"], order["currency"])
    assert json.loads(order["properties"])["order_id"] == "o1"


def test_event_table_refuses_what_is_not_events():
    from omnichannel.analytics import event_table

    with pytest.raises(ValidationError) as caught:
        event_table(42)
    assert "$.source" == caught.value.errors[0].path
    with pytest.raises(ValidationError) as caught:
        event_table([("p1", ["not an event"])])
    assert "$.source[0][1][0]" == caught.value.errors[0].path
    assert list(event_table([]).columns) == list(
        __import__("omnichannel.analytics").analytics.EVENT_COLUMNS
    )


def test_charts_draw_the_results():
    pytest.importorskip("plotly", reason="charts need plotly")
    from omnichannel.analytics import funnel_chart, retention_heatmap

    chart = funnel_chart(funnel(shop(), ["Product Added", "Order Completed"]))
    assert [3, 2] == list(chart.data[0].x)
    sankey = journey_map(shop()).sankey()
    assert ["1. app", "2. web", "converted", "1. web"] == list(sankey.data[0].node.label)
    heat = retention_heatmap(cohort_retention(shop()))
    assert [[1.0, 0.5, 0.5]] == heat.data[0].z.tolist()


def test_duckdb_relations_of_any_connection():
    duckdb = pytest.importorskip("duckdb")
    events = shop()
    expected = order_kpis(events)
    elsewhere = duckdb.connect()
    elsewhere.register("shop_events", events)
    # A relation of another connection than the one the KPI runs in.
    pd.testing.assert_frame_equal(expected, order_kpis(elsewhere.table("shop_events")))
    # The connection's own table named as the KPI's view: it is read as it is.
    mine = duckdb.connect()
    mine.register("events_frame", events)
    mine.execute("CREATE TABLE events AS SELECT * FROM events_frame")
    pd.testing.assert_frame_equal(expected, order_kpis(mine.table("events"), connection=mine))


def test_html_report_holds_every_kpi_and_the_charts(tmp_path):
    pytest.importorskip("plotly", reason="the report draws with plotly")
    from omnichannel.analytics import html_report

    target = tmp_path / "report.html"
    page = html_report(shop(), target, title="Shop <Q1>", rates={"EUR": 1.1})
    assert page == target.read_text(encoding="utf-8")
    assert "<title>Shop &lt;Q1&gt;</title>" in page
    assert "23 events, analysed by omnichannel." in page
    assert page.count('class="plotly-graph-div"') == 3  # heatmap, funnel, Sankey
    assert page.count("<h2>") == 7
    assert "Cart abandonment" in page
    with pytest.raises(ValidationError) as caught:
        html_report(shop(), 42)
    assert "$.path" == caught.value.errors[0].path
    with pytest.raises(ValidationError) as caught:
        html_report(shop(), title=" ")
    assert "$.title" == caught.value.errors[0].path
