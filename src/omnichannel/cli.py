"""The ``omnichannel`` command.

``omnichannel validate FILE...`` reads Segment Spec messages (a JSON message,
a JSON batch or JSON Lines) and reports every problem with its JSON path;
``omnichannel channel-group`` classifies a landing as GA4 does;
``omnichannel demo`` lives through a synthetic shop on an SQLite file;
``omnichannel report SOURCE`` writes the analytics of a store or an event
file as one HTML page; ``omnichannel adapters`` lists the channel adapter
plugins installed (``--check`` loads each and says which fail, and why);
``omnichannel ingest FILE... --db STORE`` loads Segment messages into an
SQLite store, reporting those it refuses.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from omnichannel.errors import ValidationError
from omnichannel.models import Event


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 invalid input, 2 usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    status: int = args.run(args, sys.stdout)
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnichannel",
        description="Know each customer as one person across every channel.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check Segment Spec messages (.json message or batch, .jsonl lines)",
        description="Parse Segment Spec messages and report every problem with its JSON path.",
    )
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    validate.add_argument("--quiet", action="store_true", help="print only problems and the total")
    validate.set_defaults(run=_validate)

    group = commands.add_parser(
        "channel-group",
        help="GA4 default channel group of a landing",
        description="Classify a landing into a GA4 default channel group.",
    )
    group.add_argument("--source")
    group.add_argument("--medium")
    group.add_argument("--campaign")
    group.add_argument("--url", help="landing URL; its utm_* parameters are read")
    group.add_argument("--referrer", help="referring URL, used when no campaign fields are set")
    group.set_defaults(run=_channel_group)

    demo = commands.add_parser(
        "demo",
        help="a month of a synthetic shop: segments, journeys, sends, attribution, KPIs",
        description="Simulate a shop's customers across channels and live through it on an"
        " SQLite file: ingest their events hour by hour, keep segments current, run the"
        " ready-made journeys and deliver their messages to a file outbox; then print the"
        " segments, journey conversions against the holdout, channel attribution and KPIs,"
        " and write an HTML report (install omnichannel[demo] for all of it).",
    )
    demo.add_argument("--profiles", type=int, default=1000, help="shoppers (default 1000)")
    demo.add_argument("--days", type=int, default=30, help="days simulated (default 30)")
    demo.add_argument("--seed", type=int, default=7, help="the same seed, the same shop")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("omnichannel-demo"),
        help="folder for shop.db, outbox/ and report.html (replaced; default omnichannel-demo)",
    )
    demo.add_argument("--plain", action="store_true", help="plain text, no colours or bars")
    demo.set_defaults(run=_demo)

    report = commands.add_parser(
        "report",
        help="write the KPIs, funnel, retention and paths of a store or event file as HTML",
        description="Analyse an SQLite store (.db), Segment messages (.json, .jsonl) or an event"
        " table (.parquet, .csv) and write one self-contained HTML page with the charts."
        " Needs the analytics and plots extras.",
    )
    report.add_argument("source", type=Path, metavar="SOURCE")
    report.add_argument("--out", type=Path, default=Path("omnichannel-report.html"))
    report.add_argument("--title", default="Omnichannel report")
    report.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="CODE=RATE",
        help="units of USD per unit of CODE, for revenue in other currencies (repeatable)",
    )
    report.set_defaults(run=_report)

    adapters = commands.add_parser(
        "adapters",
        help="list the channel adapter plugins installed (entry points)",
        description="List every channel adapter declared by an installed package, with where it"
        " comes from. With --check, import each one and check it keeps the adapter protocol.",
    )
    adapters.add_argument(
        "--check", action="store_true", help="load each adapter; exit 1 if any fails"
    )
    adapters.set_defaults(run=_adapters)

    ingest = commands.add_parser(
        "ingest",
        help="load Segment Spec messages (.json, .jsonl) into an SQLite store",
        description="Resolve identities and keep profiles for Segment Spec messages, into an"
        " SQLite store (created if missing). Invalid messages are reported with their JSON path"
        " and left out; the rest are stored in transactions of --batch messages.",
    )
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ingest.add_argument("--db", type=Path, default=Path("omnichannel.db"), help="the store")
    ingest.add_argument("--batch", type=int, default=500, help="messages per transaction")
    ingest.set_defaults(run=_ingest)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("omnichannel")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _messages(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (where, JSON text) for each message or batch in a file."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    if path.suffix in (".jsonl", ".ndjson"):
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield f"{path}:{number}", line
    else:
        yield str(path), text


def _is_batch(text: str) -> bool:
    """A JSON array, or an object with a ``batch`` array, is a batch; anything else one message."""
    start = text.lstrip()[:1]
    if start == "[":
        return True
    if start != "{" or '"batch"' not in text:
        return False
    try:
        return isinstance(json.loads(text).get("batch"), list)
    except ValueError:
        return False  # parse_segment will say what is wrong with it


def _parsed(files: Sequence[Path], out: TextIO) -> tuple[list[Event], int] | None:
    """The valid events of ``files`` and how many messages were refused (each reported).

    None (after saying so) when a file does not exist.
    """
    from omnichannel.ingest import parse_segment, parse_segment_batch

    events: list[Event] = []
    bad = 0
    for path in files:
        if not path.is_file():
            out.write(f"{path}: no such file\n")
            return None
        for where, text in _messages(path):
            try:
                if _is_batch(text):
                    events.extend(parse_segment_batch(text).events)
                else:
                    events.append(parse_segment(text))
            except ValidationError as exc:  # noqa: PERF203 - one report per bad message
                bad += 1
                out.writelines(f"{where}: {error}\n" for error in exc.errors)
    return events, bad


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    parsed = _parsed(args.files, out)
    if parsed is None:
        return 2
    events, bad = parsed
    if not args.quiet and events:
        _summary(events, out)
    out.write(f"{len(events)} valid event(s), {bad} rejected message(s)\n")
    return 1 if bad else 0


def _summary(events: list[Event], out: TextIO) -> None:
    by_type = Counter(e.type.value for e in events)
    by_channel = Counter(str(e.channel) if e.channel else "(unknown)" for e in events)
    by_name = Counter(e.name for e in events if e.name)
    people = {e.user_id or e.anonymous_id for e in events}
    out.write(f"people (by userId or anonymousId): {len(people)}\n")
    for title, counts in (("types", by_type), ("channels", by_channel), ("top events", by_name)):
        shown = ", ".join(f"{k} {v}" for k, v in counts.most_common(8))
        out.write(f"{title}: {shown}\n")
    orders = [e.commerce for e in events if e.commerce and e.commerce.event == "Order Completed"]
    if orders:
        totals = Counter[str]()
        for order in orders:
            money = order.total or order.revenue
            if money is not None:
                totals[money.currency] += money.amount  # type: ignore[assignment]
        shown = ", ".join(f"{amount} {currency}" for currency, amount in sorted(totals.items()))
        out.write(f"orders: {len(orders)} ({shown})\n")


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from omnichannel._demo import run_demo

    if args.profiles < 1 or args.days < 1:
        out.write("--profiles and --days must be at least 1\n")
        return 2
    return run_demo(
        args.out,
        profiles=args.profiles,
        days=args.days,
        seed=args.seed,
        out=out,
        fancy=False if args.plain else None,
    )


def _channel_group(args: argparse.Namespace, out: TextIO) -> int:
    from omnichannel.ingest import channel_group, traffic_source

    if args.url and not (args.source or args.medium or args.campaign):
        found = traffic_source(url=args.url, referrer=args.referrer)
        out.write(f"{found.channel_group}\t{found.source} / {found.medium} / {found.campaign}\n")
        return 0
    try:
        group = channel_group(
            source=args.source, medium=args.medium, campaign=args.campaign, referrer=args.referrer
        )
    except ValidationError as exc:  # pragma: no cover - argparse only passes strings
        out.write(f"{exc}\n")
        return 2
    out.write(f"{group}\n")
    return 0


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from omnichannel.errors import OmnichannelError

    rates: dict[str, float] = {}
    for given in args.rate:
        code, _, rate = str(given).partition("=")
        try:
            rates[code.strip().upper()] = float(rate)
        except ValueError:
            out.write(f"--rate {given!r}: give CODE=RATE, such as EUR=1.08\n")
            return 2
    if not args.source.is_file():
        out.write(f"{args.source}: no such file\n")
        return 2
    try:
        from omnichannel.analytics import html_report

        html_report(_report_events(args.source), args.out, title=args.title, rates=rates or None)
    except ValidationError as exc:
        out.write(f"{args.source}: {exc}\n")
        return 1
    except OmnichannelError as exc:  # the analytics or plots extra is missing; a store's error
        out.write(f"{exc}\n")
        return 2
    except sqlite3.DatabaseError as exc:
        out.write(f"{args.source}: not an omnichannel store ({exc})\n")
        return 2
    out.write(f"wrote {args.out}\n")
    return 0


def _report_events(source: Path) -> object:
    """What ``source`` holds, as something `html_report` reads.

    An event table file (Parquet, CSV) is read as it is; Segment messages
    are ingested into an Engine in memory, and a store file opened, for
    their events by resolved person (`event_table`).
    """
    if source.suffix.lower() in (".parquet", ".csv"):
        return source
    from omnichannel.analytics import event_table
    from omnichannel.engine import Engine

    if source.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        from omnichannel.store import MemoryStore

        engine = Engine(MemoryStore())
        for _, text in _messages(source):
            if _is_batch(text):
                found = json.loads(text)
                engine.ingest_many(found if isinstance(found, list) else found["batch"])
            else:
                engine.ingest_many([text])
        return event_table(engine)
    from omnichannel.store import SQLiteStore

    return event_table(Engine(SQLiteStore(source)))


def _adapters(args: argparse.Namespace, out: TextIO) -> int:
    from omnichannel.channels import Registry
    from omnichannel.errors import PluginError

    registry = Registry.discover()
    origins = registry.describe()
    width = max((len(name) for name in origins), default=0)
    failed = 0
    for name, origin in origins.items():
        if not args.check:
            out.write(f"{name:<{width}}  {origin}\n")
            continue
        try:
            channel = registry.load(name).channel
        except PluginError as exc:
            failed += 1
            out.write(f"{name:<{width}}  FAILED [{exc.code}] {exc}\n")
            continue
        out.write(f"{name:<{width}}  ok  {channel:<10} {origin}\n")
    if args.check:
        out.write(f"{len(origins) - failed} of {len(origins)} adapters load\n")
    return 1 if failed else 0


def _ingest(args: argparse.Namespace, out: TextIO) -> int:
    from omnichannel.engine import Engine
    from omnichannel.store import SQLiteStore

    if args.batch < 1:
        out.write("--batch must be at least 1\n")
        return 2
    parsed = _parsed(args.files, out)
    if parsed is None:
        return 2
    events, bad = parsed
    # Time order, as the events happened: profiles and state come out as they would live.
    events.sort(key=lambda event: (event.timestamp, event.message_id))
    store = SQLiteStore(args.db)
    try:
        engine = Engine(store)
        for start in range(0, len(events), args.batch):
            engine.ingest_many(events[start : start + args.batch])
        profiles = sum(1 for _ in store.profile_ids())
    finally:
        store.close()
    out.write(
        f"{args.db}: {len(events)} event(s) ingested, {bad} rejected message(s);"
        f" {profiles} profile(s) in the store\n"
    )
    return 1 if bad else 0
