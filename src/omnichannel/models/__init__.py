"""Typed, frozen domain values: no I/O, no clock.

.. versionadded:: 0.1.0
"""

from omnichannel.models._commerce import Commerce, LineItem
from omnichannel.models._consent import Consent, ConsentStatus
from omnichannel.models._event import Event, EventType
from omnichannel.models._identity import Identity
from omnichannel.models._money import Money
from omnichannel.models._names import Channel, IdentityKind
from omnichannel.models._profile import Profile

__all__ = [
    "Channel",
    "Commerce",
    "Consent",
    "ConsentStatus",
    "Event",
    "EventType",
    "Identity",
    "IdentityKind",
    "LineItem",
    "Money",
    "Profile",
]
