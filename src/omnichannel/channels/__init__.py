"""Channel adapters: the protocol, the entry-point registry, and channel facts (SMS segments).

- `Adapter`, `Envelope`, `Receipt`, `Outcome`, `Capabilities`: what a
  provider plugin is, gets and gives back.
- `Registry`: adapters found through the ``omnichannel.channels`` entry
  points (built-ins are declared there too), imported on first use.
- `parse_adapter_url`: the shared reading of ``scheme://user:secret@host``.

.. versionadded:: 0.1.0
"""

from omnichannel.channels._adapter import Adapter, Capabilities, Content, Envelope, Outcome, Receipt
from omnichannel.channels._registry import GROUP, Registry, check_adapter_class
from omnichannel.channels._url import AdapterUrl, parse_adapter_url

__all__ = [
    "GROUP",
    "Adapter",
    "AdapterUrl",
    "Capabilities",
    "Content",
    "Envelope",
    "Outcome",
    "Receipt",
    "Registry",
    "check_adapter_class",
    "parse_adapter_url",
]
