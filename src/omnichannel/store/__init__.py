"""Where the Engine keeps events, the identity graph and profiles.

``Store`` is a protocol; `MemoryStore` serves tests and notebooks. Every
implementation passes the same contract test suite.

.. versionadded:: 0.1.0
"""

from omnichannel.store._memory import MemoryStore
from omnichannel.store._protocol import IdentityRow, ProfileRow, Store, Transaction

__all__ = ["IdentityRow", "MemoryStore", "ProfileRow", "Store", "Transaction"]
