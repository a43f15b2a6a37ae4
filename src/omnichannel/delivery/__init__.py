"""The send pipeline: one place for all policy, a durable outbox, a relay through adapters.

- `Policy` (`QuietHours`, `Cap`) and `check_dispatch`: consent, reachability,
  quiet hours in the person's zone and frequency caps, decided purely.
- `SendRequest` and `Delivery.send`: the decision to send and its outbox row
  in one transaction, idempotent by (origin, step, channel, person).
- `Delivery.relay`: claims rows with a lease, checks them again just before
  the provider call, sends in batches paced per provider (`TokenBucket`),
  retries with capped exponential backoff and full jitter (`RetryPolicy`),
  dead-letters what exhausts its budget, and records every outcome as an
  event on the person's profile.
- `audience_removals`: take a person out of retargeting audiences when they
  withdraw or before they are erased (ads adds need consent like any send).
- `Delivery.record_feedback`: providers' delivery and engagement callbacks
  (`Feedback`) as events on the profile, deduplicated.

.. versionadded:: 0.1.0
"""

from omnichannel.delivery._feedback import FEEDBACK_EVENTS, Feedback
from omnichannel.delivery._outbox import (
    SendRequest,
    SendResult,
    audience_removals,
    idempotency_key,
)
from omnichannel.delivery._policy import (
    AUDIENCE_REMOVAL,
    Action,
    Cap,
    Policy,
    QuietHours,
    SentRecord,
    Verdict,
    check_dispatch,
)
from omnichannel.delivery._relay import HOOK_POINTS, Delivery, RelayReport, RetryPolicy, TokenBucket

__all__ = [
    "AUDIENCE_REMOVAL",
    "FEEDBACK_EVENTS",
    "HOOK_POINTS",
    "Action",
    "Cap",
    "Delivery",
    "Feedback",
    "Policy",
    "QuietHours",
    "RelayReport",
    "RetryPolicy",
    "SendRequest",
    "SendResult",
    "SentRecord",
    "TokenBucket",
    "Verdict",
    "audience_removals",
    "check_dispatch",
    "idempotency_key",
]
