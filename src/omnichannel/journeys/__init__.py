"""Journeys: multi-channel flows as data, a pure state machine, and the runtime that runs them.

- `Journey` with an entry (`OnEvent`, `OnSegment`, `OnDate`), steps (`Send`,
  `Wait`, `WaitFor`, `WaitUntil`, `Branch`, `Split`, `Update`, `Exit`), a
  `goal` and `exit_on` triggers; JSON in and out through the shared converter.
- `run` and `observe`: the state machine. Given an `Enrollment`, the person
  and ``now`` they return the enrollment after and commands (`SendCommand`,
  `UpdateCommand`, `WakeAt`, `Left`, `HeldBack`); no clock, no store.
- `JourneyRunner` (the shell): enters and moves people inside each ingest's
  transaction and runs what is due with `JourneyRunner.tick`, sending through
  `omnichannel.delivery`.
- `replay`: a journey over historical events on a simulated clock.
- `library`: the ready-made journeys (abandoned cart, onboarding, birthday,
  win-back, post-purchase, in-store).

.. versionadded:: 0.1.0
"""

from typing import TYPE_CHECKING, Any

from omnichannel.journeys._machine import (
    OPEN,
    Advance,
    Enrollment,
    HeldBack,
    LastSend,
    Left,
    SendCommand,
    Situation,
    UpdateCommand,
    WakeAt,
    enter,
    may_enter,
    next_date,
    observe,
    run,
)
from omnichannel.journeys._model import (
    DAY,
    EXIT,
    HOUR,
    MINUTE,
    Branch,
    Exit,
    Journey,
    OnDate,
    OnEvent,
    OnSegment,
    Path,
    Send,
    Split,
    Step,
    Trigger,
    Update,
    Wait,
    WaitFor,
    WaitUntil,
    clicked_last,
    opened_last,
)

if TYPE_CHECKING:
    from omnichannel.journeys._replay import Replay, replay
    from omnichannel.journeys._runner import JourneyRunner, StepRecord, TickReport

__all__ = [
    "DAY",
    "EXIT",
    "HOUR",
    "MINUTE",
    "OPEN",
    "Advance",
    "Branch",
    "Enrollment",
    "Exit",
    "HeldBack",
    "Journey",
    "JourneyRunner",
    "LastSend",
    "Left",
    "OnDate",
    "OnEvent",
    "OnSegment",
    "Path",
    "Replay",
    "Send",
    "SendCommand",
    "Situation",
    "Split",
    "Step",
    "StepRecord",
    "TickReport",
    "Trigger",
    "Update",
    "UpdateCommand",
    "Wait",
    "WaitFor",
    "WaitUntil",
    "WakeAt",
    "clicked_last",
    "enter",
    "may_enter",
    "next_date",
    "observe",
    "opened_last",
    "replay",
    "run",
]

_SHELL = {
    "JourneyRunner": "_runner",
    "StepRecord": "_runner",
    "TickReport": "_runner",
    "Replay": "_replay",
    "replay": "_replay",
}


def __getattr__(name: str) -> Any:
    # The runtime brings the engine, the store and delivery; the definitions and the state
    # machine stay importable (and pure) without them.
    if name in _SHELL:
        import importlib

        return getattr(importlib.import_module(f"omnichannel.journeys.{_SHELL[name]}"), name)
    raise AttributeError(f"module 'omnichannel.journeys' has no attribute {name!r}")
