"""Public type aliases and protocols, for host apps that annotate their own code.

Examples:
    >>> from omnichannel.typing import JSONObject
    >>> payload: JSONObject = {"type": "track", "event": "Order Completed"}

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, Union

__all__ = ["JSONObject", "JSONValue"]

if TYPE_CHECKING:
    #: Any value JSON can carry (after ``json.loads``).
    JSONValue: TypeAlias = Union[  # noqa: UP007 (mypy reads the recursive alias best this way)
        bool, int, float, str, list["JSONValue"], Mapping[str, "JSONValue"], None
    ]
else:
    # At run time the recursive alias would have to be resolved in every module
    # that annotates with it (attrs and cattrs evaluate annotations); Any is what
    # the checker-only precision erases to anyway.
    JSONValue = Any

#: A JSON object: properties, traits, context.
JSONObject: TypeAlias = Mapping[str, JSONValue]
