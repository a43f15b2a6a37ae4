"""Profile state that follows the person: reducers folded over their events.

Pure: no I/O, no clock.

.. versionadded:: 0.1.0
"""

from omnichannel.state._fold import advance, build_profile, canonical_key, fold, with_reducers
from omnichannel.state._reducers import (
    BUILT_IN,
    Activity,
    Cart,
    CartLine,
    ChannelActivity,
    Consents,
    LedgerEntry,
    Loyalty,
    Order,
    Orders,
    ProfileState,
    Reducer,
)

__all__ = [
    "BUILT_IN",
    "Activity",
    "Cart",
    "CartLine",
    "ChannelActivity",
    "Consents",
    "LedgerEntry",
    "Loyalty",
    "Order",
    "Orders",
    "ProfileState",
    "Reducer",
    "advance",
    "build_profile",
    "canonical_key",
    "fold",
    "with_reducers",
]
