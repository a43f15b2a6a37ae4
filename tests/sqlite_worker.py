"""A writer process for the SQLite concurrency and crash tests (run as a script, not collected)."""

from __future__ import annotations

import sys

from omnichannel.clock import SystemClock
from omnichannel.engine import Engine
from omnichannel.store import SQLiteStore


def points(worker: str, number: int, user: str) -> dict[str, object]:
    """One read-modify-write of a hot profile: +1 loyalty point, stamped by the server on receipt."""
    return {
        "type": "track",
        "event": "Loyalty Points Earned",
        "userId": user,
        "anonymousId": f"{worker}-device",
        "messageId": f"{worker}-{number}",
        "properties": {"points": 1},
    }


def main() -> None:
    """``sqlite_worker.py DB WORKER COUNT [START]``: ingest COUNT updates, one transaction each."""
    path, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    start = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    engine = Engine(SQLiteStore(path, busy_timeout=60), clock=SystemClock())
    for number in range(start, start + count):
        engine.ingest(points(worker, number, "hot-user"))
    engine.close()


if __name__ == "__main__":
    main()
