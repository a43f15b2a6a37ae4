"""One rule language: JsonLogic today; the typed rule tree and its two engines come next.

.. versionadded:: 0.1.0
"""

from omnichannel.rules._jsonlogic import jsonlogic_apply, truthy

__all__ = ["jsonlogic_apply", "truthy"]
