"""The ``omnichannel`` command.

``omnichannel validate FILE...`` reads Segment Spec messages (a JSON message,
a JSON batch or JSON Lines) and reports every problem with its JSON path;
``omnichannel channel-group`` classifies a landing as GA4 does;
``omnichannel demo`` lives through a synthetic shop on an SQLite file;
``omnichannel report SOURCE`` writes the analytics of a store or an event
file as one HTML page; ``omnichannel adapters`` lists the channel adapter
plugins installed (``--check`` loads each and says which fail, and why);
``omnichannel ingest FILE... --db STORE`` loads Segment messages into an
SQLite store, reporting those it refuses; ``omnichannel segments
list|preview|evaluate`` shows the segments of a TOML config or a built-in
family, previews a rule over a store's profiles, and evaluates every segment
(in-process or as SQL on DuckDB) against the memberships stored.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import attrs
import pendulum

from omnichannel._table import text_table
from omnichannel.errors import ValidationError
from omnichannel.models import Event

if TYPE_CHECKING:
    from omnichannel.engine import EngineCore
    from omnichannel.segments import Segment
    from omnichannel.store import Store


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 invalid input, 2 usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        status: int = args.run(args, sys.stdout)
    except BrokenPipeError:  # the reader stopped early (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
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
    ingest.add_argument(
        "--db", default="omnichannel.db", help="the store: an SQLite file or a postgresql:// URL"
    )
    ingest.add_argument("--batch", type=int, default=500, help="messages per transaction")
    ingest.set_defaults(run=_ingest)
    _segments_parser(commands)
    return parser


def _segments_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    segments = commands.add_parser(
        "segments",
        help="list, preview and evaluate segments over a store",
        description="Segments of a TOML config (--config) and the built-in families (--family)"
        " over the profiles of an SQLite store. Nothing is written unless evaluate --save.",
    )
    actions = segments.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="the segments defined, with their rules",
        description="Print each segment's key, name and rule, as the rule language writes it.",
    )
    preview = actions.add_parser(
        "preview",
        help="how many profiles a rule or segment would hold, and a few of them",
        description="Evaluate one rule in-process over every profile of the store, without"
        " storing anything. RULE is a segment key (of --config or --family), rule text such as"
        " 'state(\"orders\") >= 2', or JSON (the rule's JSON form, or JsonLogic).",
    )
    preview.add_argument("rule", metavar="RULE")
    preview.add_argument("--sample", type=int, default=10, help="member ids shown (default 10)")
    preview.add_argument("--why", action="store_true", help="explain the verdict for the sample")
    evaluate = actions.add_parser(
        "evaluate",
        help="every segment over every profile: sizes, and what changed since stored",
        description="Evaluate every segment over every profile from scratch, in-process or"
        " (--sql) as SQL on DuckDB, print each segment's size against the memberships stored,"
        " and with --save store the new memberships (as Engine.backfill does).",
    )
    evaluate.add_argument(
        "--sql", action="store_true", help="run the rules as SQL on DuckDB (the batch extra)"
    )
    evaluate.add_argument("--save", action="store_true", help="store the memberships found")
    for action in (listing, preview, evaluate):
        action.add_argument("--config", type=Path, help="a TOML config: its segments and store")
        action.add_argument(
            "--family",
            action="append",
            default=[],
            choices=sorted(_FAMILIES),
            help="a built-in segment family (repeatable)",
        )
        action.add_argument(
            "--db",
            help="the store: an SQLite file or a postgresql:// URL"
            " (default: the config's, else omnichannel.db)",
        )
        action.add_argument(
            "--now",
            type=_instant,
            help="evaluate as at this ISO-8601 instant (default: now)",
        )
    listing.set_defaults(run=_segments_list)
    preview.set_defaults(run=_segments_preview)
    evaluate.set_defaults(run=_segments_evaluate)


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
    from omnichannel.store import open_store

    if args.batch < 1:
        out.write("--batch must be at least 1\n")
        return 2
    parsed = _parsed(args.files, out)
    if parsed is None:
        return 2
    events, bad = parsed
    # Time order, as the events happened: profiles and state come out as they would live.
    events.sort(key=lambda event: (event.timestamp, event.message_id))
    store = open_store(args.db)
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


# --- omnichannel segments -----------------------------------------------------------------

#: The built-in families `segments --family` names; RFM's cut points come from the profiles.
_FAMILIES = ("channel", "demographic", "lifecycle", "rfm")


def _instant(text: str) -> dt.datetime:
    """An ``--now`` value: ISO-8601, naive read as UTC."""
    try:
        found = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 instant") from None
    return found if found.tzinfo is not None else found.replace(tzinfo=dt.timezone.utc)


class _RefusedError(Exception):
    """A segments command cannot go on; the message says why (exit status 2)."""


def _config(args: argparse.Namespace) -> dict[str, Any]:
    from omnichannel.config import load_config

    if args.config is None:
        return {}
    if not args.config.is_file():
        raise _RefusedError(f"{args.config}: no such file")
    try:
        return load_config(args.config)
    except ValidationError as exc:
        problems = "".join(f"\n  {error}" for error in exc.errors)
        raise _RefusedError(f"{args.config}:{problems}") from None


def _families(
    names: Sequence[str], subjects: Callable[[], list[tuple[str, dict[str, Any]]]], now: dt.datetime
) -> list[Segment]:
    from omnichannel import segments

    found: list[Segment] = []
    for name in dict.fromkeys(names):
        if name == "rfm":
            try:
                found.extend(segments.rfm_segments(segments.rfm_thresholds(subjects(), now)))
            except ValidationError as exc:
                raise _RefusedError(f"--family rfm: {exc.errors[0].message}") from None
        else:
            found.extend(getattr(segments, f"{name}_segments")())
    return found


def _open_store(args: argparse.Namespace, config: Mapping[str, Any]) -> Store:
    """The store of ``--db``, else the config's, else ``omnichannel.db``; it must exist."""
    from omnichannel.store import SQLiteStore, is_postgres_url, open_store

    given = config.get("store")
    if args.db is None and given is not None and not isinstance(given, str):
        return cast("Store", given)  # "memory": an empty store, as the config says
    location = args.db or given or "omnichannel.db"
    if is_postgres_url(location):
        return open_store(location)
    path = Path(location)
    if not path.is_file():
        raise _RefusedError(
            f"{path}: no such store (omnichannel ingest FILE --db {path} makes one)"
        )
    try:
        return SQLiteStore(path)
    except sqlite3.DatabaseError as exc:
        raise _RefusedError(f"{path}: not an omnichannel store ({exc})") from None


@attrs.define
class _Scope:
    """What a segments command works on.

    The store's engine (opened on first need), the segments defined, the
    instant, and the profiles as rules read them (loaded once).
    """

    args: argparse.Namespace
    config: dict[str, Any]
    now: dt.datetime
    segments: list[Segment] = attrs.field(factory=list)
    _engine: EngineCore | None = None
    _subjects: list[tuple[str, dict[str, Any]]] | None = None

    @property
    def engine(self) -> EngineCore:
        if self._engine is None:
            from omnichannel.engine import EngineCore

            self._engine = EngineCore(_open_store(self.args, self.config))
        return self._engine

    def subjects(self) -> list[tuple[str, dict[str, Any]]]:
        if self._subjects is None:
            self._subjects = list(self.engine.subjects())
        return self._subjects

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def _segments_command(
    run: Callable[[_Scope, TextIO], int],
) -> Callable[[argparse.Namespace, TextIO], int]:
    """Read the config and define the segments, then ``run``; report refusals; close the store."""

    def command(args: argparse.Namespace, out: TextIO) -> int:
        from omnichannel.errors import OmnichannelError

        now = getattr(args, "now", None) or dt.datetime.now(dt.timezone.utc)
        scope = None
        try:
            scope = _Scope(args, _config(args), now)
            scope.segments = [
                *scope.config.get("segments", ()),
                *_families(args.family, scope.subjects, now),
            ]
            return run(scope, out)
        except _RefusedError as exc:
            out.write(f"{exc}\n")
            return 2
        except OmnichannelError as exc:
            out.write(f"{exc}\n")
            return 1
        finally:
            if scope is not None:
                scope.close()

    return command


@_segments_command
def _segments_list(scope: _Scope, out: TextIO) -> int:
    if not scope.segments:
        out.write("no segments: give --config FILE or --family NAME\n")
        return 0
    width = max(len(segment.key) for segment in scope.segments)
    out.writelines(
        f"{segment.key:<{width}}  {segment.name}\n{'':<{width}}  {segment.rule}\n"
        for segment in scope.segments
    )
    out.write(f"{len(scope.segments)} segment(s)\n")
    return 0


def _rule_given(text: str, defined: Sequence[Segment]) -> Segment:
    """A defined segment's key, or a rule as text, its JSON form or JsonLogic."""
    from omnichannel.config import read_rule

    for segment in defined:
        if segment.key == text:
            return segment
    value: object = text
    if text.lstrip()[:1] in ("{", "["):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise _RefusedError(f"RULE is not JSON: {exc}") from None
    from omnichannel.segments import Segment

    return Segment(key="preview", name="the rule given", rule=read_rule(value))


@_segments_command
def _segments_preview(scope: _Scope, out: TextIO) -> int:
    from omnichannel.segments import explain, preview

    if scope.args.sample < 0:
        raise _RefusedError("--sample must be at least 0")
    segment = _rule_given(scope.args.rule, scope.segments)
    subjects = scope.subjects()
    found = preview(segment, subjects, scope.now, sample=scope.args.sample)
    out.write(f"{segment.rule}\n{found} as at {scope.now.isoformat()}\n")
    documents = dict(subjects) if scope.args.why else {}
    for profile_id in found.sample:
        out.write(f"  {profile_id}\n")
        if profile_id in documents:
            verdict = str(explain(segment.rule, documents[profile_id], scope.now))
            out.writelines(f"      {line}\n" for line in verdict.splitlines())
    return 0


@_segments_command
def _segments_evaluate(scope: _Scope, out: TextIO) -> int:
    from omnichannel.segments import Segmentation

    if not scope.segments:
        raise _RefusedError("no segments to evaluate: give --config FILE or --family NAME")
    segmentation = Segmentation(scope.segments)
    subjects = scope.subjects()
    found: Mapping[str, Collection[str]]
    if scope.args.sql:
        from omnichannel.segments import batch_members, observed_schema

        found = batch_members(
            segmentation, schema=observed_schema(subjects), now=scope.now, subjects=subjects
        )
    else:
        found = segmentation.evaluate_all(subjects, scope.now)
    engine = scope.engine
    with engine.store.transaction() as tx:
        stored = {s.key: set(tx.segment_members(s.key)) for s in segmentation.segments}
    rows = []
    for segment in segmentation.segments:
        members, before = set(found[segment.key]), stored[segment.key]
        share = len(members) / len(subjects) if subjects else 0.0
        rows.append(
            (
                segment.key,
                segment.name,
                str(len(members)),
                f"{share:.1%}",
                str(len(before)),
                f"+{len(members - before)}",
                f"-{len(before - members)}",
            )
        )
    columns = ("segment", "name", "members", "share", "stored", "entered", "left")
    table = text_table(columns, rows, [False, False, True, True, True, True, True])
    out.writelines(f"{line}\n" for line in table)
    how = "as SQL on DuckDB" if scope.args.sql else "in-process"
    out.write(f"{len(subjects)} profile(s), evaluated {how} as at {scope.now.isoformat()}\n")
    if scope.args.save:
        from omnichannel.engine import EngineCore

        saving = EngineCore(engine.store, segments=segmentation)
        changes = saving.backfill(pendulum.instance(scope.now))
        entered = sum(1 for change in changes if change.entered)
        out.write(
            f"saved: {entered} entered, {len(changes) - entered} left"
            " (memberships of segments not given were removed)\n"
        )
    return 0
