"""omnichannel: know each customer as one person across every channel.

The top level re-exports the models, the converter and the errors; the rest
lives in subpackages you import when you need them (`omnichannel.ingest`,
`omnichannel.identity`, ...), so ``import omnichannel`` stays cheap.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnichannel._convert import Converter, converter
from omnichannel.errors import (
    FieldError,
    FitError,
    OmnichannelError,
    PluginError,
    RuleError,
    StoreError,
    TemplateError,
    ValidationError,
)
from omnichannel.models import (
    Channel,
    Commerce,
    Consent,
    ConsentStatus,
    Event,
    EventType,
    Identity,
    IdentityKind,
    LineItem,
    Money,
    Profile,
)

if TYPE_CHECKING:
    from omnichannel.engine import AsyncEngine, Engine

    __version__: str

__all__ = [
    "AsyncEngine",
    "Channel",
    "Commerce",
    "Consent",
    "ConsentStatus",
    "Converter",
    "Engine",
    "Event",
    "EventType",
    "FieldError",
    "FitError",
    "Identity",
    "IdentityKind",
    "LineItem",
    "Money",
    "OmnichannelError",
    "PluginError",
    "Profile",
    "RuleError",
    "StoreError",
    "TemplateError",
    "ValidationError",
    "converter",
]


def __getattr__(name: str) -> Any:
    # The Engine brings the store, delivery and journeys: imported when first asked for.
    if name in ("Engine", "AsyncEngine"):
        from omnichannel import engine

        return getattr(engine, name)
    # The version comes from package metadata, read only when someone asks.
    if name == "__version__":
        from importlib.metadata import version

        return version("omnichannel")
    msg = f"module 'omnichannel' has no attribute {name!r}"
    raise AttributeError(msg)
