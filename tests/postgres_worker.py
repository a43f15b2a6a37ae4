"""A worker process for the PostgreSQL concurrency tests and benchmark (run as a script).

``postgres_worker.py updates SCHEMA WORKER COUNT HOT``
    COUNT loyalty-point events, one transaction each, spread over HOT hot
    people (``hot-0`` ...); prints the seconds it took.
``postgres_worker.py journeys SCHEMA WORKER``
    ticks the journey of `journey_shop` until a poll finds nothing due.
``postgres_worker.py calls SCHEMA WORKER FILE``
    ingests the JSON list of Segment calls in FILE, one transaction each.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pendulum

from omnichannel.channels.local import RecordingAdapter
from omnichannel.clock import FixedClock, SystemClock
from omnichannel.delivery import Delivery
from omnichannel.engine import Engine
from omnichannel.journeys import Journey, JourneyRunner, OnEvent, Send, Update
from omnichannel.personalization import Email, Message, Sms
from omnichannel.store import EnrollmentRow, PostgresStore, Transaction
from support import POSTGRES_DSN

AT = pendulum.datetime(2024, 3, 5, 15)
JOURNEY = Journey(
    key="drain",
    name="Drain",
    entry=OnEvent(event="Product Added"),
    steps=(
        Send(key="email", message="hello", channels=("email",)),
        Update(key="points", points=10),
        Send(key="sms", message="hello", channels=("sms",)),
    ),
)
MESSAGE = Message(
    key="hello",
    email=Email(subject="Hi", sender="shop@example.com", text="Hi {{ unsubscribe_url }}"),
    sms=Sms(body="Hi. STOP=opt out"),
)


def points(worker: str, number: int, hot: int) -> dict[str, object]:
    """One read-modify-write of one of ``hot`` people: +1 loyalty point.

    Workers start at different people (so with many people they seldom
    meet); over a multiple of ``hot`` updates each person gets the same share.
    """
    offset = int(worker.lstrip("w") or 0) * 1013
    return {
        "type": "track",
        "event": "Loyalty Points Earned",
        "userId": f"hot-{(number + offset) % hot}",
        "messageId": f"{worker}-{number}",
        "properties": {"points": 1},
    }


class _LoggedTransaction:
    """The store's transaction, also noting every enrollment it writes in ``step_log``.

    The note commits with the step or not at all, so the log counts the steps
    that took effect: a step run twice shows as two completions.
    """

    def __init__(self, tx: Transaction, store: LoggedStore) -> None:
        self._tx = tx
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    def put_enrollments(self, rows: Iterable[EnrollmentRow]) -> None:
        written = list(rows)
        self._tx.put_enrollments(written)
        for row in written:
            self._store.connection.execute(
                "INSERT INTO step_log (enrollment, status, worker) VALUES (%s, %s, %s)",
                (row.id, row.status, self._store.worker),
            )


class LoggedStore(PostgresStore):
    """A PostgresStore whose transactions log the enrollments they write (see above)."""

    def __init__(self, schema: str, worker: str) -> None:
        super().__init__(POSTGRES_DSN, schema=schema)
        self.worker = worker
        self.connection = self._conn  # the table step_log is made by the test, beforehand

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with super().transaction() as tx:
            yield _LoggedTransaction(tx, self)


def journey_shop(store: PostgresStore) -> JourneyRunner:
    """The drain journey on ``store``: e-mail, 10 points, SMS; recording adapters."""
    engine = Engine(store, clock=FixedClock(AT))
    recorder = RecordingAdapter()
    delivery = Delivery(engine, {"email": recorder, "sms": recorder})
    return JourneyRunner(
        engine, delivery, [JOURNEY], [MESSAGE], unsubscribe_url=lambda _p: "u", batch=5
    )


def main() -> None:
    """Run the sub-command named on the command line (see the module's docstring)."""
    command, schema, worker = sys.argv[1:4]
    started = time.time()
    if command == "updates":
        count, hot = int(sys.argv[4]), int(sys.argv[5])
        engine = Engine(PostgresStore(POSTGRES_DSN, schema=schema), clock=SystemClock())
        started = time.time()  # connected: the benchmark times the updates alone
        for number in range(count):
            engine.ingest(points(worker, number, hot))
        engine.close()
    elif command == "journeys":
        shop = journey_shop(LoggedStore(schema, worker))
        while shop.tick(AT).enrollments:
            pass
        shop.engine.close()
    elif command == "calls":
        calls = json.loads(Path(sys.argv[4]).read_text(encoding="utf-8"))
        engine = Engine(PostgresStore(POSTGRES_DSN, schema=schema), clock=FixedClock(AT))
        for call in calls:
            engine.ingest(call)
        engine.close()
    print(f"{started:.6f} {time.time():.6f}")  # noqa: T201 - when it worked, for the benchmark


if __name__ == "__main__":
    main()
