"""Identity resolution: one person behind many identifiers, deterministically.

Pure: no I/O, no clock. The Engine feeds it what the Store holds.

.. versionadded:: 0.1.0
"""

from omnichannel.identity._bulk import BulkResolution, resolve_bulk
from omnichannel.identity._extract import DEFAULT_SOURCES, IdentityRules
from omnichannel.identity._graph import (
    DEFAULT_PRIORITY,
    Key,
    Link,
    MergePolicy,
    MergeRecord,
    Resolution,
    profile_id_for,
    resolve,
)

__all__ = [
    "DEFAULT_PRIORITY",
    "DEFAULT_SOURCES",
    "BulkResolution",
    "IdentityRules",
    "Key",
    "Link",
    "MergePolicy",
    "MergeRecord",
    "Resolution",
    "profile_id_for",
    "resolve",
    "resolve_bulk",
]
