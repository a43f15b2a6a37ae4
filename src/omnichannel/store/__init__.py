"""Where the Engine keeps events, the identity graph and profiles.

``Store`` is a protocol; `SQLiteStore` (one file) is the embedded default,
`PostgresStore` serves many processes on many machines, and `MemoryStore`
serves tests and notebooks. Every implementation passes the
same contract test suite.

.. versionadded:: 0.1.0
"""

from omnichannel.store._memory import MemoryStore
from omnichannel.store._open import is_postgres_url, open_store
from omnichannel.store._postgres import PostgresStore
from omnichannel.store._protocol import (
    OUTBOX_OPEN,
    EnrollmentRow,
    IdentityRow,
    OutboxRow,
    ProfileRow,
    Store,
    Transaction,
)
from omnichannel.store._sqlite import SQLiteStore

__all__ = [
    "OUTBOX_OPEN",
    "EnrollmentRow",
    "IdentityRow",
    "MemoryStore",
    "OutboxRow",
    "PostgresStore",
    "ProfileRow",
    "SQLiteStore",
    "Store",
    "Transaction",
    "is_postgres_url",
    "open_store",
]
