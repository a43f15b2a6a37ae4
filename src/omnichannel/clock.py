"""Clocks: the only place `omnichannel` may learn what time it is.

Everything that decides takes ``now`` from a clock handed to it, so tests and
simulations pass a `FixedClock` and get the same answer every time.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import pendulum

from omnichannel._time import to_utc

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    """Something that says what time it is (in UTC)."""

    def now(self) -> pendulum.DateTime:
        """The current instant, in UTC."""
        ...


class SystemClock:
    """The machine's clock.

    Examples:
        >>> SystemClock().now().timezone_name
        'UTC'
    """

    def now(self) -> pendulum.DateTime:
        """The machine's current instant, in UTC."""
        return to_utc(dt.datetime.now(dt.timezone.utc))


class FixedClock:
    """A clock that says what you tell it: for tests, replays and simulations.

    Examples:
        >>> clock = FixedClock(pendulum.datetime(2024, 3, 5, 10))
        >>> clock.advance(hours=2).now().hour
        12
    """

    def __init__(self, at: dt.datetime) -> None:
        self._at = to_utc(at, "$.at")

    def now(self) -> pendulum.DateTime:
        """The instant this clock was set to."""
        return self._at

    def set(self, at: dt.datetime) -> FixedClock:
        """Move the clock to ``at``."""
        self._at = to_utc(at, "$.at")
        return self

    def advance(self, **interval: float) -> FixedClock:
        """Move the clock forward by a pendulum duration (``hours=2``, ``days=1`` ...)."""
        self._at = self._at + pendulum.duration(**interval)
        return self
