"""``omnichannel demo``: a month of a synthetic shop, lived through by the Engine on SQLite.

What a host app does, end to end. Shoppers' events from web, app, e-mail,
push, SMS and stores arrive in time order and are ingested (identity
resolution, profile state, segment memberships, one transaction per batch);
every simulated hour the worker's ``tick`` runs the ready-made journeys'
steps that are due and relays their messages through the send policy to a
file outbox (one readable file per message); each night ``refresh`` flips
the time-driven segments. At the end: the segments and their sizes, each
journey's conversions against its holdout, channel attribution and the top
KPIs, as tables, and the same analysis as an HTML report with its charts.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from typing_extensions import Self

from omnichannel._table import text_table
from omnichannel.channels.local import ANY_CHANNEL, FileAdapter
from omnichannel.clock import FixedClock
from omnichannel.datasets import synthetic_retail
from omnichannel.engine import Engine
from omnichannel.errors import OmnichannelError
from omnichannel.journeys import Journey, Send, library
from omnichannel.personalization import Campaign, Email, Message, Push, Sms, Variant
from omnichannel.rules import did, in_segment, state, trait
from omnichannel.segments import Segment, batch_members, subject_schema
from omnichannel.store import SQLiteStore

#: Events per ingest_many call (one transaction each).
BATCH = 200
#: How often the simulated worker calls tick (a real one: every few seconds).
TICK = dt.timedelta(hours=1)

#: Segments the demo keeps current: one of each kind a marketer asks for first.
DEMO_SEGMENTS: tuple[Segment, ...] = (
    Segment(key="customers", name="Customers", rule=state("orders") >= 1, tags={"lifecycle"}),
    Segment(key="repeat", name="Repeat buyers", rule=state("orders") >= 2, tags={"lifecycle"}),
    Segment(
        key="recent-buyers",
        name="Bought in the last 14 days",
        rule=did("Order Completed").within(days=14),
    ),
    Segment(
        key="lapsed",
        name="Customers with no order for 30 days",
        rule=in_segment("customers")
        & ~in_segment("recent-buyers")
        & state("last_order").older_than(days=30),
    ),
    Segment(
        key="cart-abandoners",
        name="Cart abandoners (no order within a day)",
        rule=did("Product Added")
        .within(days=7)
        .not_followed_by("Order Completed", within=dt.timedelta(hours=24)),
    ),
    Segment(
        key="app-browsers",
        name="App users who never bought",
        rule=(state("channels.app.events") >= 5) & (state("orders") == 0),
    ),
    Segment(
        key="email-engaged",
        name="Opened an email in the last 30 days",
        rule=did("Email Opened").within(days=30),
    ),
    Segment(
        key="big-spenders",
        name="Spent over 150 in 60 days",
        rule=did("Order Completed").within(days=60).sum("properties.revenue") > 150,
    ),
    Segment(key="germany", name="Germany", rule=trait("country") == "DE", tags={"geo"}),
    Segment(
        key="multichannel",
        name="Seen on three channels or more",
        rule=state("channel_count") >= 3,
    ),
)


_REMINDER_BLOCKS = {
    "hello": "Hi {{ profile | first_name: 'there' }}",
    "picks": "{% for item in recommendations %}{{ item.name }}{% unless forloop.last %}, "
    "{% endunless %}{% endfor %}",
}
_LIST = (
    "{% if recommendations.size > 0 %}Bought together with it: {% include 'picks' %}.{% endif %}"
)


def _reminder(key: str, hook: str) -> Message:
    return Message(
        key=key,
        blocks={**_REMINDER_BLOCKS, "hook": hook},
        email=Email(
            subject="{% include 'hello' %}, {% include 'hook' %}",
            sender="Shop <news@shop.example>",
            text=f"{{% include 'hello' %}},\n\n{{% include 'hook' %}}.\n{_LIST}\n\n"
            "Unsubscribe: {{ unsubscribe_url }}",
        ),
        sms=Sms(body="{% include 'hello' %}, {% include 'hook' %}: shop.example/cart STOP=opt out"),
        push=Push(title="{% include 'hello' %}", body=f"{{% include 'hook' %}}. {_LIST}"),
    )


#: The cart reminder: a gentle nudge or a small discount, and a 10 % control group.
CART_REMINDER = Campaign(
    key="cart-reminder",
    variants=[
        Variant(key="nudge", message=_reminder("nudge", "your cart is waiting")),
        Variant(key="discount", message=_reminder("discount", "{{ 5 | money }} off your cart")),
    ],
    holdout=0.1,
)


def demo_journeys() -> tuple[Journey, ...]:
    """The ready-made journeys the demo runs; the cart reminders keep a 10 % holdout."""
    return (
        library.abandoned_cart(holdout=0.1),
        library.onboarding(),
        library.birthday(),
        library.win_back(segment="lapsed"),
        library.post_purchase(),
        library.in_store_cart(),
    )


class Screen:
    """Where the demo writes: rich tables and a progress bar when rich is installed, else text."""

    def __init__(self, out: TextIO, *, fancy: bool | None = None) -> None:
        self.out = out
        self.rich: Any = None
        if fancy is not False:
            try:
                import rich.console
            except ImportError:  # pragma: no cover - the tests install rich
                pass
            else:
                self.rich = rich.console.Console(file=out, width=120, soft_wrap=False)

    def line(self, text: str = "") -> None:
        """A line of plain text."""
        self.out.write(text + "\n")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A table with a title; numbers right-aligned."""
        cells = [[_cell(value) for value in row] for row in rows]
        numeric = [all(isinstance(r[n], (int, float)) for r in rows) for n in range(len(columns))]
        if self.rich is not None:
            import rich.table

            table = rich.table.Table(title=title, title_justify="left", title_style="bold")
            for name, right in zip(columns, numeric, strict=True):
                table.add_column(name, justify="right" if right else "left", overflow="fold")
            for row in cells:
                table.add_row(*row)
            self.rich.print(table)
            return
        self.line(title)
        for line in text_table(columns, cells, numeric):
            self.line(line)
        self.line()

    def progress(self, total: int, what: str) -> Any:
        """A progress bar over ``total`` steps (a context manager with ``advance(n)``)."""
        return _Progress(self, total, what)


class _Progress:
    def __init__(self, screen: Screen, total: int, what: str) -> None:
        self.screen, self.total, self.what, self.done = screen, total, what, 0
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Self:
        if self.screen.rich is not None:
            import rich.progress

            self.bar = rich.progress.Progress(
                *rich.progress.Progress.get_default_columns(),
                rich.progress.TextColumn("{task.fields[note]}"),
                console=self.screen.rich,
                transient=False,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(self.what, total=self.total, note="")
        return self

    def advance(self, steps: int, note: str) -> None:
        self.done += steps
        if self.bar is not None:
            self.bar.update(self.task, advance=steps, note=note)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        else:
            self.screen.line(f"{self.what}: {self.done} of {self.total}")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _hours(
    payloads: Sequence[dict[str, Any]], start: dt.datetime, end: dt.datetime
) -> Iterator[tuple[dt.datetime, list[dict[str, Any]]]]:
    """Each hour from ``start`` to ``end`` with the payloads stamped in it (in time order)."""
    pending = iter(payloads)
    nxt = next(pending, None)
    hour = start
    while hour < end:
        until = hour + TICK
        batch: list[dict[str, Any]] = []
        while nxt is not None and _stamp(nxt) < until:
            batch.append(nxt)
            nxt = next(pending, None)
        yield until, batch
        hour = until


def _stamp(payload: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))


def run_demo(
    out_dir: Path,
    *,
    profiles: int,
    days: int,
    seed: int,
    out: TextIO,
    fancy: bool | None = None,
) -> int:
    """Simulate the shop into ``out_dir`` (store, outbox, report) and print what happened.

    Returns the exit status: 0, or 1 if batch SQL disagrees with real time.
    """
    screen = Screen(out, fancy=fancy)
    out_dir.mkdir(parents=True, exist_ok=True)
    db, outbox, page = out_dir / "shop.db", out_dir / "outbox", out_dir / "report.html"
    for old in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        old.unlink(missing_ok=True)
    shutil.rmtree(outbox, ignore_errors=True)
    payloads = synthetic_retail(profiles, days, seed)
    start = _stamp(payloads[0]).replace(hour=0, minute=0, second=0, microsecond=0)
    clock = FixedClock(start)
    engine = Engine(
        SQLiteStore(db),
        clock=clock,
        segments=DEMO_SEGMENTS,
        channels={ANY_CHANNEL: FileAdapter(f"{outbox}/")},
        messages=[*library.messages(), CART_REMINDER],
        journeys=demo_journeys(),
        unsubscribe_url="https://shop.example/unsubscribe/{profile_id}",
    )
    screen.line(
        f"A synthetic shop: {profiles:,} shoppers over {days} days, {len(payloads):,} events"
        f" on web, app, e-mail, push, SMS and in stores.\nStore: {db}   outbox: {outbox}/\n"
    )
    began = time.perf_counter()
    sent = 0
    end = start + dt.timedelta(days=days)
    with screen.progress(len(payloads), f"living through {days} days") as progress:
        for until, batch in _hours(payloads, start, end):
            for chunk in (batch[n : n + BATCH] for n in range(0, len(batch), BATCH)):
                clock.set(_stamp(chunk[-1]))
                engine.ingest_many(chunk)
            clock.set(until)
            if until.hour == 0:
                engine.refresh()  # each night: time-driven segments flip
            sent += engine.tick().relayed.sent
            progress.advance(len(batch), f"{until:%b %d} · {sent:,} messages sent")
    seconds = time.perf_counter() - began
    people = sum(1 for _ in engine.store.profile_ids())
    screen.line(
        f"\n{len(payloads):,} events in {seconds:.1f} s ({len(payloads) / seconds:,.0f} events/s,"
        f" journeys and delivery included): {people:,} people after identity resolution,"
        f" {sent:,} messages in {outbox}/\n"
    )
    _segments(screen, engine)
    _journeys(screen, engine)
    _campaign(screen, engine)
    status = _batch_check(screen, engine, clock.now())
    _analytics(screen, engine, page)
    _example(screen, outbox)
    engine.close()
    return status


def _segments(screen: Screen, engine: Engine) -> None:
    rows = [(s.key, len(engine.members(s.key)), str(s.rule)) for s in DEMO_SEGMENTS]
    screen.table("Segments, kept current in real time", ("segment", "people", "rule"), rows)
    abandoner = next(iter(engine.members("cart-abandoners")), None)
    if abandoner is not None:
        screen.line(f"Why is {abandoner} a cart abandoner?")
        screen.line(f"{engine.why('cart-abandoners', abandoner)}\n")


def _journeys(screen: Screen, engine: Engine) -> None:
    assert engine.runner is not None  # noqa: S101 - the demo always runs journeys
    tally: dict[str, dict[str, Counter[str]]] = {}
    for enrollment in engine.runner.enrollments():
        if enrollment.status == "scheduled":
            continue
        group = "holdout" if enrollment.group == "holdout" else "messaged"
        counts = tally.setdefault(enrollment.journey, {}).setdefault(group, Counter())
        counts["entered"] += 1
        counts["converted"] += enrollment.status == "converted"
    sender = {
        step.message: journey.key
        for journey in engine.runner.journeys.values()
        for step in journey.steps
        if isinstance(step, Send)
    }
    sends: Counter[tuple[str, str]] = Counter()
    for row in engine.delivery.outbox("sent"):
        sends[sender.get(row.message, ""), row.channel] += 1
    rows = []
    for journey in engine.runner.journeys.values():
        groups = tally.get(journey.key, {})
        messaged, held = groups.get("messaged", Counter()), groups.get("holdout", Counter())
        channels = ", ".join(
            f"{channel} {count}"
            for (origin, channel), count in sorted(sends.items())
            if origin == journey.key
        )
        rows.append(
            (
                journey.name,
                messaged["entered"] + held["entered"],
                _rate(messaged) if journey.goal else "(no goal)",
                _rate(held) if held["entered"] else "(no holdout)",
                channels or "-",
            )
        )
    screen.table(
        "Journeys: who entered, who bought (the goal), messaged vs holdout",
        ("journey", "entered", "converted (messaged)", "converted (holdout)", "sent by channel"),
        rows,
    )
    screen.line(
        "(The synthetic shoppers do not read the messages, so the holdout converts like the"
        " others here;\n with real people this column is the reminders' measured effect.)\n"
    )


def _campaign(screen: Screen, engine: Engine) -> None:
    """A one-off campaign to a segment: a variant each (or the control group), best channel."""
    sends = [engine.send("cart-reminder", pid) for pid in engine.members("cart-abandoners")]
    tally = Counter((sent.status, sent.variant or "-", sent.channel or "-") for sent in sends)
    relayed = engine.tick().relayed.sent
    screen.table(
        f"Campaign 'cart-reminder' to the cart abandoners now ({relayed} relayed to the outbox)",
        ("status", "variant", "channel", "people"),
        [(*key, count) for key, count in sorted(tally.items())],
    )


def _rate(counts: Counter[str]) -> str:
    entered = counts["entered"]
    return (
        f"{counts['converted']}/{entered} = {counts['converted'] / entered:.0%}" if entered else "-"
    )


def _batch_check(screen: Screen, engine: Engine, now: dt.datetime) -> int:
    schema = subject_schema(traits={"country": "text"}, event_properties={"revenue": "number"})
    try:
        found = batch_members(
            engine.segmentation, schema=schema, now=now, subjects=engine.subjects()
        )
    except OmnichannelError as error:  # the batch extra is missing
        screen.line(f"(batch SQL check skipped: {error})\n")
        return 0
    differ = [s.key for s in DEMO_SEGMENTS if sorted(found[s.key]) != engine.members(s.key)]
    if differ:  # pragma: no cover - the property tests say this cannot happen
        screen.line(f"batch SQL on DuckDB DISAGREES with real time on {', '.join(differ)}\n")
        return 1
    screen.line("Batch SQL on DuckDB over the same profiles: the same members as real time.\n")
    return 0


def _analytics(screen: Screen, engine: Engine, page: Path) -> None:
    try:
        events = engine.event_table()
    except OmnichannelError as error:
        screen.line(f"(analytics skipped: {error}; pip install 'omnichannel[demo]')\n")
        return
    _attribution(screen, events)
    _kpis(screen, events)
    try:
        engine.report(page, title="omnichannel demo shop", rates={"EUR": 1.08, "GBP": 1.27})
    except OmnichannelError as error:
        screen.line(f"(HTML report skipped: {error})")
        return
    screen.line(f"The HTML report with its charts: {page}")


def _attribution(screen: Screen, events: Any) -> None:
    from omnichannel.analytics import attribution

    touches = events[events["channel_group"].notna() | (events["event"] == "Order Completed")]
    log = touches.assign(
        channel=touches["channel_group"].fillna(touches["channel"]),
        conversion=touches["event"] == "Order Completed",
        revenue=touches["revenue"].fillna(0.0),
    )[["profile_id", "channel", "timestamp", "conversion", "revenue"]]
    paths = attribution.paths_from_touchpoints(log, value="revenue")
    table = attribution.compare(
        paths, models=("first_touch", "last_touch", "linear", "markov"), nulls="nulls"
    )
    total = table.sum()
    shares = (table / total).fillna(0.0)
    rows = [
        (channel, *(f"{shares.loc[channel, m]:.0%}" for m in table.columns))
        for channel in table.sort_values("markov", ascending=False).index
    ]
    screen.table(
        "Channel attribution of the orders (share of conversions per model)",
        ("channel", *table.columns),
        rows,
    )


def _kpis(screen: Screen, events: Any) -> None:
    from omnichannel.analytics import (
        cart_abandonment,
        conversion_rates,
        order_kpis,
        traffic,
    )

    visits = traffic(events)
    converting = conversion_rates(events)
    carts = cart_abandonment(events)
    sessions = int(visits["sessions"].sum())
    rows: list[tuple[str, object]] = [
        ("people seen", int(events["profile_id"].nunique())),
        ("visits (web and app sessions)", sessions),
        ("visits with an order", f"{converting['converting_sessions'].sum() / sessions:.1%}"),
        ("carts abandoned (no order in any channel within a day)",
         f"{1 - carts['recovered'].sum() / carts['carts'].sum():.1%}"),
    ]  # fmt: skip
    screen.table("Top KPIs of the month", ("KPI", "value"), rows)
    orders = order_kpis(events).sort_values("revenue", ascending=False)
    screen.table(
        "Orders by currency (web, app and stores)",
        ("currency", "orders", "revenue", "average order", "repeat purchase rate"),
        [
            (r.currency, int(r.orders), float(r.revenue), float(r.aov),
             f"{r.repeat_purchase_rate:.0%}")
            for r in orders.itertuples()
        ],
    )  # fmt: skip


def _example(screen: Screen, outbox: Path) -> None:
    files = sorted(outbox.glob("email-*.txt")) if outbox.is_dir() else []
    if files:
        screen.line(f"\nOne of the messages, as delivered to {files[0]}:")
        for line in files[0].read_text(encoding="utf-8").splitlines():
            screen.line(f"  | {line}")
