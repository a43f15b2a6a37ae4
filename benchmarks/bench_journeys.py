"""Journey speed: enrollments through a five-step journey, and what a tick costs per due.

Run with ``nox -s bench`` (or ``python benchmarks/bench_journeys.py``). A
quick run: ``python benchmarks/bench_journeys.py --people 2000`` (or
``BENCH_JOURNEYS_PEOPLE=2000 nox -s bench``: nox hands its arguments to every
script, the environment variables only to this one).

Setup, timed apart: ``--people`` (100,000) people ingested into an Engine
(an ``identify`` with e-mail, phone, time zone and a ``vip`` trait true for
half of them, and ``Consent Granted`` for marketing on e-mail and on SMS),
a `Delivery` with a `RecordingAdapter` on both channels, a `JourneyRunner`
with one journey, and every person enrolled by `JourneyRunner.enroll`. The
journey: send an e-mail, wait a day, branch on the ``vip`` trait, then
either set a trait (`Update`) or send an SMS, wait a day: five steps for
each person. The clock is set to each tick's time (delivery decides with the
engine's clock). In one run, per store:

1. Journey: ``tick`` at the entry (e-mail, wait: 2 steps each), a day later
   (branch, update or SMS, wait: 3 steps each) and a day after that (every
   enrollment leaves, completed: no step). Steps per second over the three
   ticks, as `TickReport.steps` counts them. Checked: 5 steps, one e-mail
   and, for half of them, one SMS per person; all enrollments completed.
2. Due: everyone enrolled again, three groups of 1 % due ten minutes apart,
   10 % an hour later and the rest a month later; ``tick`` timed when each
   1 % (the median is reported) and then the 10 % are due, beside the
   journey's first tick, where all of them were (the same two steps each).
3. The machine alone (peer): the same enrollments through the same three
   times with `omnichannel.journeys.run` only, on profiles and subjects built
   beforehand and nothing carried out: what the runner adds around the pure
   state machine (store, profiles, rendering, delivery's decision, updates).
4. Where the time goes: one tick batch (``batch`` enrollments, 200) through
   the whole journey under cProfile, top 15 by cumulative time.

Stores: MemoryStore with ``--people`` (about 7 minutes at 100,000, 2 of them
the setup's ingest); SQLiteStore on a temporary file with ``--sqlite-people``
(20,000 by default, about 3 minutes: 100,000 take about 18, 7 of them setup).

Goals (issue: Step 7): >= 5,000 steps/s in memory; a tick costs what is
due, not what is enrolled (the 1 % tick about 1/100 of the 100 % tick).
The script exits non-zero if a "check:" fails.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pendulum

from omnichannel.channels.local import RecordingAdapter
from omnichannel.clock import FixedClock
from omnichannel.delivery import Delivery
from omnichannel.engine import Engine
from omnichannel.journeys import (
    DAY,
    Branch,
    Enrollment,
    Journey,
    JourneyRunner,
    OnEvent,
    SendCommand,
    Situation,
    TickReport,
    Update,
    UpdateCommand,
    Wait,
    enter,
    run,
)
from omnichannel.journeys import Send as SendStep
from omnichannel.models import Profile
from omnichannel.personalization import Email, Message, Sms
from omnichannel.rules import trait
from omnichannel.store import MemoryStore, SQLiteStore, Store

Goal = tuple[str, bool]

# Noon UTC on a Monday: no quiet hours for anyone (everyone's zone is UTC).
T0 = pendulum.datetime(2030, 1, 7, 12)
MINUTE = pendulum.duration(minutes=1)
HOUR = pendulum.duration(hours=1)
ONE_DAY = pendulum.duration(days=1)
STEPS_PER_PERSON = 5
BATCH = 200  # JourneyRunner's default tick batch
ONE_ROUNDS = 3  # ticks with 1 % due (the median is reported)

JOURNEY = Journey(
    key="bench",
    name="Benchmark: e-mail, a day, VIP gift or SMS, a day",
    entry=OnEvent(event="Benchmark Started"),
    reentry="always",
    steps=(
        SendStep(key="hello", message="hello", channels=("email",)),
        Wait(key="day", seconds=DAY),
        Branch(key="vip", rule=trait("vip") == True, otherwise="nudge"),  # noqa: E712 - a rule
        Update(key="gift", traits={"gift": "sent"}, next="rest"),
        SendStep(key="nudge", message="nudge", channels=("sms",)),
        Wait(key="rest", seconds=DAY),
    ),
)
MESSAGES = (
    Message(
        key="hello",
        email=Email(
            subject="Hello {{ profile | first_name: 'there' }}",
            sender="shop@example.com",
            text="Hi {{ profile | first_name: 'there' }}, news from the shop.\n\n"
            "Unsubscribe: {{ unsubscribe_url }}",
        ),
    ),
    Message(key="nudge", sms=Sms(body="Hi {{ profile | first_name: 'there' }}! STOP=opt out")),
)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
    """Print rows under a header: the first column left-aligned, the others right-aligned."""

    def line(cells: Sequence[str]) -> str:
        first = f"   {cells[0]:<{widths[0]}}"
        return first + "".join(f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))

    print(line(header))
    for row in rows:
        print(line(row))


def people_events(people: int) -> list[dict[str, Any]]:
    """An identify and two consents (e-mail, SMS) per person, a day before the journey."""
    events: list[dict[str, Any]] = []
    start = T0.subtract(days=1)
    for n in range(people):
        user, stamp = f"u{n}", start.add(seconds=n % 3600).isoformat()
        traits = {
            "email": f"{user}@example.com",
            "phone": f"+1212{200 + n // 10_000:03d}{n % 10_000:04d}",  # unique, valid
            "first_name": "Ann",
            "timezone": "UTC",
            "vip": n % 2 == 0,
        }
        events.append({"type": "identify", "userId": user, "timestamp": stamp, "traits": traits})
        events.extend(
            {"type": "track", "userId": user, "event": "Consent Granted", "timestamp": stamp,
             "properties": {"purpose": "marketing", "channel": channel}}
            for channel in ("email", "sms")
        )  # fmt: skip
    return events


@attrs.define
class Bench:
    """One store's Engine, runner and people, with what the setup cost."""

    name: str
    engine: Engine
    clock: FixedClock
    runner: JourneyRunner
    delivery: Delivery
    ids: list[str]
    setup: dict[str, tuple[int, float]] = attrs.field(factory=dict)

    def tick(self, at: pendulum.DateTime) -> tuple[TickReport, float]:
        self.clock.set(at)
        start = time.perf_counter()
        report = self.runner.tick(at)
        return report, time.perf_counter() - start

    def enroll(self, ids: Sequence[str], at: pendulum.DateTime) -> float:
        self.clock.set(at)
        start = time.perf_counter()
        for pid in ids:
            if self.runner.enroll(JOURNEY.key, pid, now=at) is None:
                raise SystemExit(f"check: {pid} could not enter the journey at {at}")
        return time.perf_counter() - start


def build(name: str, store: Store, people: int) -> Bench:
    clock = FixedClock(T0)
    engine = Engine(store, clock=clock)
    events = people_events(people)
    start = time.perf_counter()
    for chunk in range(0, len(events), 2000):
        engine.ingest_many(events[chunk : chunk + 2000])
    ingested = time.perf_counter() - start
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"email": recorder, "sms": recorder})
    runner = JourneyRunner(
        engine, delivery, [JOURNEY], MESSAGES, unsubscribe_url=lambda _: "https://shop.example/u"
    )
    ids = list(engine.store.profile_ids())
    if len(ids) != people:
        raise SystemExit(f"check: {people:,} people made {len(ids):,} profiles")
    bench = Bench(name, engine, clock, runner, delivery, ids)
    bench.setup["ingest"] = (len(events), ingested)
    bench.setup["enroll"] = (people, bench.enroll(ids, T0))
    return bench


# --- 1. the journey ---------------------------------------------------------------------------

TICKS = (
    ("entry: e-mail, wait", T0),
    ("a day later: branch, update or SMS, wait", T0 + ONE_DAY),
    ("a day after: leave (completed)", T0 + 2 * ONE_DAY),
)


def part_journey(bench: Bench) -> tuple[list[list[str]], list[Goal], dict[str, float]]:
    people = len(bench.ids)
    rows: list[list[str]] = []
    goals: list[Goal] = []
    total_steps, total_seconds, sends = 0, 0.0, 0
    first = 0.0
    for label, at in TICKS:
        report, seconds = bench.tick(at)
        first = first or seconds
        total_steps += report.steps
        total_seconds += seconds
        sends += report.sends
        rows.append(
            [
                f"{bench.name}: {label}",
                f"{report.enrollments:,}",
                f"{report.steps:,}",
                f"{report.sends:,}",
                f"{seconds:.2f}",
                f"{seconds / max(report.enrollments, 1) * 1e6:,.0f}",
                f"{report.steps / seconds:,.0f}" if report.steps else "",
            ]
        )
    rate = total_steps / total_seconds
    rows.append(
        [
            f"{bench.name}: the journey (three ticks)",
            f"{people:,}",
            f"{total_steps:,}",
            f"{sends:,}",
            f"{total_seconds:.2f}",
            f"{total_seconds / people * 1e6:,.0f}",
            f"{rate:,.0f}",
        ]
    )
    outcomes = Counter(f"{e.status}:{e.exit_reason}" for e in bench.runner.enrollments(JOURNEY.key))
    outbox = Counter(row.channel for row in bench.delivery.outbox())
    expected = {"email": people, "sms": people // 2}
    if total_steps != STEPS_PER_PERSON * people:
        goals.append((f"check: {total_steps:,} steps, not {STEPS_PER_PERSON * people:,}", False))
    if outcomes != Counter({"exited:completed": people}) or dict(outbox) != expected:
        goals.append((f"check: outcomes {dict(outcomes)}, outbox {dict(outbox)}", False))
    return rows, goals, {"rate": rate, "first": first}


# --- 2. due -----------------------------------------------------------------------------------


def part_due(bench: Bench, first_tick: float) -> tuple[list[list[str]], list[Goal]]:
    """Enroll everyone again: 1 % due now (three times), 10 % in an hour, the rest later."""
    people = len(bench.ids)
    ids = list(bench.ids)
    random.Random(7).shuffle(ids)
    one, ten = max(1, people // 100), max(1, people // 10)
    t1 = T0 + 3 * ONE_DAY
    groups: list[tuple[str, list[str], pendulum.DateTime]] = [
        ("1 %", ids[n * one : (n + 1) * one], t1 + n * 10 * MINUTE) for n in range(ONE_ROUNDS)
    ]
    taken = ONE_ROUNDS * one
    groups += [
        ("10 %", ids[taken : taken + ten], t1 + HOUR),
        ("profiled", ids[taken + ten : taken + ten + BATCH], t1 + 2 * HOUR),
        ("later", ids[taken + ten + BATCH :], t1 + 30 * ONE_DAY),
    ]
    spent = sum(bench.enroll(members, at) for _, members, at in groups)
    bench.setup["enroll again"] = (people, spent)
    seconds: dict[str, list[float]] = {"1 %": [], "10 %": []}
    goals: list[Goal] = []
    for label, members, at in groups:
        if label not in seconds:
            continue
        report, took = bench.tick(at)
        if report.enrollments != len(members) or report.steps != 2 * len(members):
            goals.append((f"check: a {label} tick ran {report.enrollments:,} enrollments", False))
        seconds[label].append(took)
    rows = [
        [
            f"{bench.name}: 100 % due (the journey's first tick)",
            f"{people:,}",
            f"{people:,}",
            f"{first_tick:.3f}",
            f"{first_tick / people * 1e6:,.0f}",
            "1",
        ]
    ]
    per_due = {"100 %": first_tick / people}
    for label, due in (("1 %", one), ("10 %", ten)):
        took = statistics.median(seconds[label])
        per_due[label] = took / due
        rounds = f", median of {len(seconds[label])}" if len(seconds[label]) > 1 else ""
        rows.append(
            [
                f"{bench.name}: {label} due{rounds}",
                f"{people:,}",
                f"{due:,}",
                f"{took:.3f}",
                f"{per_due[label] * 1e6:,.0f}",
                f"{took / first_tick:.4f}",
            ]
        )
    spread = max(per_due.values()) / min(per_due.values())
    one_share = per_due["1 %"] * one / first_tick
    goals.append(
        (
            (
                f"due, {bench.name}: the 1 % tick costs {one_share:.4f} of the 100 % tick "
                f"(ideal {one / people:.4f}); time per due enrollment max/min {spread:.2f}x"
            ),
            spread <= 1.5,
        )
    )
    return rows, goals


# --- 3. the machine alone ---------------------------------------------------------------------


def part_machine(bench: Bench) -> tuple[float, Counter[str]]:
    """The three ticks' work done by `run` alone, on profiles and subjects made beforehand."""
    profiles: dict[str, Profile] = {}
    subjects: dict[str, Mapping[str, Any]] = {}
    for pid in bench.ids:
        profile = bench.engine.profile(pid)
        subject = bench.engine.subject(pid, events=False)
        assert profile is not None
        assert subject is not None
        profiles[pid], subjects[pid] = profile, subject
    messages = {m.key: m for m in MESSAGES}
    situations = [
        Situation(profile=profiles[pid], messages=messages, subject=_constant(subjects[pid]))
        for pid in bench.ids
    ]
    enrollments = [enter(JOURNEY, pid, T0, number=1) for pid in bench.ids]
    commands: Counter[str] = Counter()
    steps = 0
    gc.disable()  # as `tick` does: the store's objects would make each full collection long
    try:
        start = time.perf_counter()
        for _, at in TICKS:
            for n, (enrollment, situation) in enumerate(zip(enrollments, situations, strict=True)):
                advance = run(JOURNEY, enrollment, situation, at)
                steps += _visits(advance.enrollment) - _visits(enrollment)
                enrollments[n] = advance.enrollment
                for command in advance.commands:
                    if isinstance(command, SendCommand):
                        commands[command.channel] += 1
                    elif isinstance(command, UpdateCommand):
                        commands["update"] += 1
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    commands["steps"] = steps
    commands["completed"] = sum(e.exit_reason == "completed" for e in enrollments)
    return seconds, commands


def _constant(value: Mapping[str, Any]) -> Callable[[], Mapping[str, Any]]:
    return lambda: value


def _visits(enrollment: Enrollment) -> int:
    return sum(enrollment.visits.values())


# --- 4. where the time goes -------------------------------------------------------------------


def part_profile(bench: Bench) -> str:
    """Profile the batch enrolled by `part_due`: its three ticks (the 1 % and 10 % moved apart)."""
    t1 = T0 + 3 * ONE_DAY
    profiler = cProfile.Profile()
    for day in range(3):
        if day:
            bench.tick(t1 + day * ONE_DAY + HOUR)  # the 1 % and 10 % groups: not profiled
        bench.clock.set(t1 + day * ONE_DAY + 2 * HOUR)
        profiler.enable()
        report = bench.runner.tick(t1 + day * ONE_DAY + 2 * HOUR)
        profiler.disable()
        if report.enrollments != BATCH:
            return f"   (the profiled tick ran {report.enrollments} enrollments, not {BATCH})"
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(15)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(n for n, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    shortened = [_short(line) for line in lines[start:]]
    total = next(line for line in lines if "function calls" in line).strip()
    return "\n".join(["   " + total, *("   " + line for line in shortened)])


def _short(line: str) -> str:
    for marker in ("/src/", "/site-packages/", "/lib/python3"):
        head, found, tail = line.partition(marker)
        if found:
            cut = head.rfind(" ")
            return head[: cut + 1] + tail
    return line


# --- main -------------------------------------------------------------------------------------


def run_store(name: str, make: Callable[[], Store], people: int) -> list[Goal]:
    print(f"\n{name}: {people:,} people")
    bench = build(name, make(), people)
    journey_rows, goals, figures = part_journey(bench)
    due_rows, due_goals = part_due(bench, figures["first"])
    goals += due_goals
    machine_seconds, commands = part_machine(bench)
    profile = part_profile(bench)
    bench.engine.close()

    setup = ", ".join(
        f"{what} {count:,} in {seconds:.1f} s ({count / seconds:,.0f}/s)"
        for what, (count, seconds) in bench.setup.items()
    )
    print(f"   setup (not in the figures): {setup}")
    print("\n   1. The journey: every person through the five steps")
    table(
        ["tick", "due", "steps", "sends", "seconds", "us/due", "steps/s"],
        journey_rows,
        [52, 9, 9, 8, 9, 8, 9],
    )
    print("\n   2. Tick cost against what is due (the same two steps each)")
    table(
        ["tick", "open", "due", "seconds", "us/due", "vs 100 %"],
        due_rows,
        [52, 9, 9, 9, 8, 10],
    )
    machine_rate = commands["steps"] / machine_seconds
    print(
        f"\n   3. The machine alone (`run`, nothing carried out): {commands['steps']:,} steps in "
        f"{machine_seconds:.2f} s = {machine_rate:,.0f} steps/s; the runner takes "
        f"{machine_rate / figures['rate']:.1f}x its time"
        f" (the machine is {figures['rate'] / machine_rate:.0%} of a tick)"
    )
    print(f"      commands: {dict(commands)}")
    expected = {
        "email": people,
        "sms": people // 2,
        "update": people - people // 2,
        "steps": STEPS_PER_PERSON * people,
        "completed": people,
    }
    if dict(commands) != expected:
        goals.append((f"check: the machine alone decided {dict(commands)}", False))
    print(f"\n   4. One tick batch ({BATCH}) through the journey under cProfile (cumulative)")
    print(profile)
    if name == "MemoryStore":
        goals.append(
            (
                f"{name}: >= 5,000 steps/s ({figures['rate']:,.0f})",
                figures["rate"] >= 5_000,
            )
        )
    else:
        goals.append((f"{name}: steps/s, no goal ({figures['rate']:,.0f})", True))
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    people = int(os.environ.get("BENCH_JOURNEYS_PEOPLE", "100000"))
    sqlite_people = int(os.environ.get("BENCH_JOURNEYS_SQLITE_PEOPLE", str(min(people, 20_000))))
    parser.add_argument("--people", type=int, default=people, help="people (enrollments) in memory")
    parser.add_argument(
        "--sqlite-people",
        type=int,
        default=None,
        help=f"people on SQLite (default {sqlite_people:,}, at most --people)",
    )
    parser.add_argument("--stores", default="memory,sqlite", help="which stores (comma-separated)")
    args = parser.parse_args()
    if args.sqlite_people is None:
        args.sqlite_people = min(sqlite_people, args.people)
    if min(args.people, args.sqlite_people) < 2 * BATCH:
        parser.error(f"at least {2 * BATCH} people")
    stores = set(args.stores.split(","))
    print(
        f"Journeys: {JOURNEY.name!r}, {STEPS_PER_PERSON} steps a person; tick batch {BATCH}; "
        f"Python {sys.version.split()[0]}"
    )
    goals: list[Goal] = []
    if "memory" in stores:
        goals += run_store("MemoryStore", MemoryStore, args.people)
    if "sqlite" in stores:
        with tempfile.TemporaryDirectory() as folder:
            goals += run_store(
                "SQLiteStore",
                lambda: SQLiteStore(Path(folder) / "journeys.db"),
                args.sqlite_people,
            )
    print("\nGoals")
    for text, met in goals:
        print(f"   {'met' if met else 'MISSED':<8}{text}")
    if any(text.startswith("check:") for text, met in goals if not met):
        sys.exit(1)


if __name__ == "__main__":
    main()
