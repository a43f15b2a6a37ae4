"""One way to name a store in a config file, on a command line or to the Engine."""

from __future__ import annotations

from pathlib import Path

from omnichannel.store._memory import MemoryStore
from omnichannel.store._postgres import PostgresStore
from omnichannel.store._protocol import Store
from omnichannel.store._sqlite import SQLiteStore

#: URL schemes that name a PostgreSQL server.
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str | Path) -> bool:
    """Say whether ``location`` names a PostgreSQL server rather than a file.

    Examples:
        >>> is_postgres_url("postgresql://app@db/marketing"), is_postgres_url("shop.db")
        (True, False)
    """
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def open_store(location: str | Path) -> Store:
    """The store ``location`` names: ``"memory"``, a ``postgresql://`` URL, or an SQLite file.

    Examples:
        >>> type(open_store("memory")).__name__
        'MemoryStore'

    .. versionadded:: 0.2.0
    """
    if location == "memory":
        return MemoryStore()
    if is_postgres_url(location):
        return PostgresStore(str(location))
    return SQLiteStore(location)
