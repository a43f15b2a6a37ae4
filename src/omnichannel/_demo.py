"""``omnichannel demo``: a synthetic shop lived through, day by day, on an SQLite file.

What a host app does, end to end: events from web, app, email, push, SMS
and stores arrive in time order and are ingested (identity resolution,
profile state, segment memberships, all in one transaction per batch); each
night the scheduler calls ``refresh`` so time-driven segments flip; at the
end the same segments are computed in batch SQL (when DuckDB is installed)
and compared with the memberships kept in real time. Then a cart reminder
goes to the cart abandoners: a variant (or the control group) per person,
the best channel with consent, and the message rendered on it with
"bought together" recommendations learned from the shop's orders.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from omnichannel.channels.local import ANY_CHANNEL, FileAdapter
from omnichannel.clock import FixedClock
from omnichannel.datasets import retail_catalogue, synthetic_retail
from omnichannel.delivery import Delivery, SendRequest
from omnichannel.engine import Engine
from omnichannel.errors import OmnichannelError
from omnichannel.personalization import (
    Aborted,
    Campaign,
    Email,
    Message,
    Push,
    Rendered,
    Sms,
    Variant,
    as_template_items,
    baskets_from_events,
    learn_cooccurrence,
    rank_channels,
    render,
)
from omnichannel.rules import did, in_segment, state, trait
from omnichannel.segments import Segment, batch_members, subject_schema
from omnichannel.store import SQLiteStore

#: Events per ingest_many call (one transaction each).
BATCH = 200

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


def _days(payloads: Sequence[dict[str, Any]]) -> Iterator[tuple[dt.date, list[dict[str, Any]]]]:
    """The payloads grouped by the UTC day of their timestamp (they come in time order)."""
    yield from (
        (day, list(group))
        for day, group in itertools.groupby(
            payloads, key=lambda p: dt.date.fromisoformat(p["timestamp"][:10])
        )
    )


def run_demo(path: Path, *, profiles: int, days: int, seed: int, out: TextIO) -> int:
    """Simulate the shop into the SQLite file ``path`` and report what the Engine kept.

    Returns the exit status: 0, or 1 if batch SQL disagrees with real time.
    """
    if path.exists():
        path.unlink()
    payloads = synthetic_retail(profiles, days, seed)
    start = dt.datetime.fromisoformat(payloads[0]["timestamp"][:10]).replace(tzinfo=dt.timezone.utc)
    clock = FixedClock(start)
    engine = Engine(SQLiteStore(path), clock=clock, segments=DEMO_SEGMENTS)
    changes = 0

    def count(batch: Sequence[Any]) -> None:
        nonlocal changes
        changes += len(batch)

    engine.on_segment_change(count)
    out.write(f"simulating {profiles} shoppers over {days} days: {len(payloads)} events\n")
    began = time.perf_counter()
    for day, batch in _days(payloads):
        for chunk in (batch[n : n + BATCH] for n in range(0, len(batch), BATCH)):
            clock.set(dt.datetime.fromisoformat(chunk[-1]["timestamp"].replace("Z", "+00:00")))
            engine.ingest_many(chunk)
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        clock.set(midnight)
        engine.refresh()
    seconds = time.perf_counter() - began
    people = list(engine.store.profile_ids())
    out.write(
        f"ingested into {path} in {seconds:.1f} s ({len(payloads) / seconds:,.0f} events/s),"
        f" {changes} segment entries and exits\n"
        f"{len(people)} profiles after identity resolution\n\n"
    )
    out.write(f"{'segment':<16} {'members':>8}  rule\n")
    sizes = {s.key: len(engine.members(s.key)) for s in DEMO_SEGMENTS}
    out.writelines(
        f"{segment.key:<16} {sizes[segment.key]:>8}  {segment.rule}\n" for segment in DEMO_SEGMENTS
    )
    abandoner = next(iter(engine.members("cart-abandoners")), None)
    if abandoner is not None:
        out.write(
            f"\nwhy is {abandoner} a cart abandoner?\n{engine.why('cart-abandoners', abandoner)}\n"
        )
    report = _batch_check(engine, clock.now())
    out.write(report)
    out.write(_cart_reminder(engine, clock.now(), path.with_suffix(".outbox.jsonl")))
    engine.close()
    return 1 if "DISAGREES" in report else 0


def _batch_check(engine: Engine, now: dt.datetime) -> str:
    schema = subject_schema(traits={"country": "text"}, event_properties={"revenue": "number"})
    try:
        found = batch_members(
            engine.segmentation, schema=schema, now=now, subjects=engine.subjects()
        )
    except OmnichannelError as error:  # pragma: no cover - the batch extra is installed in tests
        return f"\n(batch SQL check skipped: {error})\n"
    differ = [s.key for s in DEMO_SEGMENTS if sorted(found[s.key]) != engine.members(s.key)]
    if differ:  # pragma: no cover - the property tests say this cannot happen
        return f"\nbatch SQL on DuckDB DISAGREES with real time on {', '.join(differ)}\n"
    return "\nbatch SQL on DuckDB over the same profiles: the same members as real time\n"


def _cart_reminder(engine: Engine, now: dt.datetime, outbox: Path) -> str:
    """Send the cart reminder to the abandoners: choose, rank, render, queue, relay to a file."""
    subjects = dict(engine.subjects())
    events = [e for subject in subjects.values() for e in subject["events"]]
    # A few hundred orders: every pair counts (a real shop keeps the default support of 2).
    model = learn_cooccurrence(baskets_from_events(events, by="order"), min_support=1)
    names = {p["product_id"]: p for p in retail_catalogue()}
    tally: Counter[str] = Counter()
    sample: Rendered | None = None
    sends: list[SendRequest] = []
    for pid in engine.members("cart-abandoners"):
        profile, subject = engine.profile(pid), subjects[pid]
        choice = CART_REMINDER.choose(pid, subject, now)
        if choice.message is None or choice.variant is None or profile is None:
            tally["control group: nothing sent, recorded"] += 1
            continue
        ranking = rank_channels(choice.message, profile, now=now, subject=subject)
        best = next((score for score in ranking if score.eligible), None)
        if best is None:
            tally["no channel with consent and an address"] += 1
            continue
        picks = as_template_items(model.for_subject(subject, k=2), catalogue=names)
        result = render(
            choice.message,
            profile,
            now=now,
            channels=[best.channel],
            subject=subject,
            recommendations=picks,
            unsubscribe_url=f"https://shop.example/unsubscribe/{pid}",
        )
        if isinstance(result, Aborted):  # pragma: no cover - these templates never abort
            tally[f"aborted: {result.reason}"] += 1
            continue
        tally[f"{choice.variant.key} by {best.channel}"] += 1
        sample = sample or result
        reminder = SendRequest.for_rendered(result, profile, best.channel, origin="cart-reminder")
        sends.append(reminder)
    lines = ["\ncart reminder to the cart abandoners (variant, best channel, rendering):"]
    lines += [f"  {count:>4}  {what}" for what, count in sorted(tally.items())]
    if sample is not None:
        text = (
            sample.email.subject
            if sample.email is not None
            else sample.sms.body
            if sample.sms is not None
            else f"{sample.push.title}: {sample.push.body}"
            if sample.push is not None
            else ""
        )
        lines.append(f"for example, to {sample.profile_id}: {text!r}")
        if sample.email is not None and sample.email.text is not None:
            lines += [f"  | {line}" for line in sample.email.text.splitlines()]
    lines.append(_deliver(engine, sends, outbox))
    return "\n".join(lines) + "\n"


def _deliver(engine: Engine, sends: list[SendRequest], outbox: Path) -> str:
    """Queue the reminders and relay them to a file outbox, through the full send policy."""
    if outbox.exists():
        outbox.unlink()
    delivery = Delivery(engine, {ANY_CHANNEL: FileAdapter(outbox)})
    decided = Counter(result.status for result in delivery.send(sends))
    report = delivery.relay_sync()
    return (
        f"\nsent through the outbox to {outbox}: {report.sent} sent,"
        f" {decided['deferred'] + report.deferred} deferred to the end of quiet hours,"
        f" {decided['dropped'] + report.dropped} dropped by the policy"
    )
