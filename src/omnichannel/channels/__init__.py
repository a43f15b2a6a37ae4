"""Channel adapters and channel facts (SMS encoding and segments); adapters arrive in a later step.

.. versionadded:: 0.1.0
"""

__all__: list[str] = []
