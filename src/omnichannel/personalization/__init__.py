"""Personalization: one message with a rendition per channel, safe Liquid, variants, reach.

- `Message` with `Email`, `Sms`, `Push`, `InApp`, `Webhook`, `AdsAudience`
  renditions and shared content blocks; `render` for one person.
- Liquid templates for untrusted authors (`Limits`), with filters for money
  and dates in the person's locale and zone; ``{% abort "reason" %}`` gives
  an `Aborted` result.
- `Campaign` / `Variant`: rules first, a stable weighted split, a holdout.
- `rank_channels` (consent, reachability, preference, engagement, cost)
  and `decide` for page and app placements, each with reasons.
- `learn_cooccurrence`: "bought together" / "viewed together" recommendations.

.. versionadded:: 0.1.0
"""

from omnichannel.personalization._liquid import (
    Aborted,
    Limits,
    RenderSettings,
    Template,
    compile_template,
)
from omnichannel.personalization._message import (
    PUSH_MAX_BYTES,
    AdsAudience,
    Email,
    InApp,
    Message,
    Push,
    Rendered,
    RenderedAds,
    RenderedEmail,
    RenderedInApp,
    RenderedPush,
    RenderedSms,
    Sms,
    Webhook,
    render,
    template_data,
)
from omnichannel.personalization._reach import (
    ADDRESS_KINDS,
    DEFAULT_COSTS,
    ChannelScore,
    Decision,
    can_reach,
    decide,
    rank_channels,
    subject_from,
)
from omnichannel.personalization._recommend import (
    CoOccurrence,
    Recommendation,
    as_template_items,
    baskets_from_events,
    learn_cooccurrence,
)
from omnichannel.personalization._variants import Campaign, Choice, Variant, bucket

__all__ = [
    "ADDRESS_KINDS",
    "DEFAULT_COSTS",
    "PUSH_MAX_BYTES",
    "Aborted",
    "AdsAudience",
    "Campaign",
    "ChannelScore",
    "Choice",
    "CoOccurrence",
    "Decision",
    "Email",
    "InApp",
    "Limits",
    "Message",
    "Push",
    "Recommendation",
    "RenderSettings",
    "Rendered",
    "RenderedAds",
    "RenderedEmail",
    "RenderedInApp",
    "RenderedPush",
    "RenderedSms",
    "Sms",
    "Template",
    "Variant",
    "Webhook",
    "as_template_items",
    "baskets_from_events",
    "bucket",
    "can_reach",
    "compile_template",
    "decide",
    "learn_cooccurrence",
    "rank_channels",
    "render",
    "subject_from",
    "template_data",
]
