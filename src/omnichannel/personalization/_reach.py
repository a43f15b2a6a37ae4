"""Which channel to reach a person on, and what to show in a page: decisions with reasons."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs
import pendulum

from omnichannel._time import plain_utc, to_utc
from omnichannel.errors import ValidationError
from omnichannel.models import Identity, Profile
from omnichannel.personalization._liquid import Aborted
from omnichannel.personalization._message import Message, RenderedInApp, render
from omnichannel.personalization._variants import Campaign, Choice
from omnichannel.typing import JSONValue

__all__ = ["DEFAULT_COSTS", "ChannelScore", "Decision", "decide", "rank_channels", "subject_from"]

#: Cost of one send per channel, in the host's currency unit; pass your own contract's.
DEFAULT_COSTS: Mapping[str, float] = {
    "email": 0.001,
    "push": 0.0005,
    "in_app": 0.0,
    "sms": 0.05,
    "webhook": 0.0,
    "ads": 0.01,
}

#: The identity kind a channel sends to.
ADDRESS_KINDS: Mapping[str, str] = {"email": "email", "sms": "phone", "push": "push_token"}
#: Channels shown inside the product the person is using need no contact consent.
_NO_CONSENT = frozenset({"in_app"})
#: Where engagement with a channel shows up as activity.
_ACTIVITY: Mapping[str, tuple[str, ...]] = {
    "email": ("email",),
    "sms": ("sms",),
    "push": ("push", "app"),
    "in_app": ("app", "in_app", "web"),
    "webhook": (),
    "ads": ("ads", "social"),
}


@attrs.frozen(kw_only=True)
class ChannelScore:
    """One channel's place in a ranking: can we use it, how good is it, and why.

    .. versionadded:: 0.1.0
    """

    channel: str
    eligible: bool
    score: float
    reasons: tuple[str, ...]


def subject_from(profile: Profile) -> dict[str, Any]:
    """The smallest subject a rule can read of a profile (traits and time zone, no state)."""
    return {
        "profile_id": profile.id,
        "traits": profile.traits,
        "timezone": profile.time_zone,
        "state": {},
        "segments": frozenset(),
    }


def _invalid(values: Collection[object]) -> frozenset[str]:
    out = set()
    for index, value in enumerate(values):
        if isinstance(value, Identity):
            out.add(str(value))
        elif isinstance(value, str) and ":" in value:
            out.add(value)
        else:
            raise ValidationError.one(
                f"$.invalid[{index}]", "type", "must be an Identity or 'kind:value'"
            )
    return frozenset(out)


def _last_seen(subject: Mapping[str, Any] | None, channels: Sequence[str]) -> dt.datetime | None:
    seen: dt.datetime | None = None
    per_channel = ((subject or {}).get("state") or {}).get("channels") or {}
    for name in channels:
        at = (per_channel.get(name) or {}).get("last_seen")
        if isinstance(at, dt.datetime) and (seen is None or at > seen):
            seen = at
    return seen


def _preferences(profile: Profile, preferred: Sequence[str] | None) -> tuple[str, ...]:
    if preferred is not None:
        return tuple(preferred)
    value = profile.traits.get("preferred_channel")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def rank_channels(
    message: Message,
    profile: Profile,
    *,
    now: Any,
    subject: Mapping[str, Any] | None = None,
    invalid: Collection[Identity | str] = (),
    preferred: Sequence[str] | None = None,
    costs: Mapping[str, float] | None = None,
    half_life_days: object = 14.0,
    cost_weight: float = 10.0,
) -> tuple[ChannelScore, ...]:
    """Rank the channels ``message`` can go to for one person, best first, with reasons.

    A channel is eligible when the person allows the message's purpose on it
    at ``now`` (transactional messages and in-app placements need no
    consent) and is reachable (an address or token that delivery has not
    marked ``invalid``; in-app needs the person to have used the app or
    site). Eligible channels score their stated preference (the
    ``preferred_channel`` trait, or ``preferred``: 1 for the first, 0.5 for
    the others), recent engagement (1 today, halving every
    ``half_life_days``; from ``state.channels.<channel>.last_seen`` of the
    subject), minus ``cost_weight`` times the cost per send (``costs``,
    default `DEFAULT_COSTS`). Ties go to the cheaper channel.

    Examples:
        >>> import pendulum
        >>> from omnichannel.models import Consent, Identity, Profile
        >>> from omnichannel.personalization import Message, Sms, Email
        >>> at = pendulum.datetime(2024, 3, 5)
        >>> ann = Profile(
        ...     id="p1",
        ...     created_at=at,
        ...     updated_at=at,
        ...     identities={Identity(kind="email", value="ann@example.com")},
        ...     consents=(
        ...         Consent(purpose="marketing", channel="email", status="granted", status_at=at),
        ...     ),
        ... )
        >>> m = Message(
        ...     key="sale",
        ...     email=Email(
        ...         subject="Sale", sender="shop@example.com", text="Now! {{ unsubscribe_url }}"
        ...     ),
        ...     sms=Sms(body="Sale now!"),
        ... )
        >>> [(s.channel, s.eligible) for s in rank_channels(m, ann, now=at)]
        [('email', True), ('sms', False)]

    .. versionadded:: 0.1.0
    """
    moment = to_utc(now, "$.now")
    if not isinstance(half_life_days, (int, float)) or half_life_days <= 0:
        raise ValidationError.one("$.half_life_days", "out_of_range", "must be a positive number")
    prices = dict(DEFAULT_COSTS if costs is None else costs)
    bad = _invalid(invalid)
    wanted = _preferences(profile, preferred)
    scores = []
    for order, channel in enumerate(message.channels):
        seen = _last_seen(subject, _ACTIVITY.get(channel, ()))
        eligible, reasons = _eligibility(message, profile, channel, moment, bad, seen)
        score = 0.0
        if channel in wanted:
            bonus = 1.0 if wanted[0] == channel else 0.5
            score += bonus
            reasons.append("preferred channel" if bonus == 1.0 else "among preferred channels")
        if seen is not None:
            days = max(0.0, (plain_utc(moment) - plain_utc(seen)).total_seconds() / 86400)
            engagement = math.pow(0.5, days / float(half_life_days))
            score += engagement
            reasons.append(f"engaged {days:.0f} days ago (+{engagement:.2f})")
        cost = float(prices.get(channel, 0.0))
        score -= cost_weight * cost
        reasons.append(f"cost {cost:g} per send")
        scores.append(
            (
                not eligible,
                -score,
                cost,
                order,
                ChannelScore(
                    channel=channel,
                    eligible=eligible,
                    score=round(score, 6),
                    reasons=tuple(reasons),
                ),
            )
        )
    scores.sort(key=lambda row: row[:4])
    return tuple(row[4] for row in scores)


def _eligibility(  # noqa: PLR0917 - internal, the parts every caller has
    message: Message,
    profile: Profile,
    channel: str,
    moment: pendulum.DateTime,
    bad: frozenset[str],
    seen: dt.datetime | None,
) -> tuple[bool, list[str]]:
    """Whether ``channel`` may carry ``message`` to the person (consent, an address), and why."""
    reasons: list[str] = []
    eligible = True
    if message.transactional:
        reasons.append("transactional: no consent needed")
    elif channel in _NO_CONSENT:
        reasons.append("shown in the product: no contact consent needed")
    elif profile.consent(message.purpose, channel, moment):
        reasons.append(f"consent to {message.purpose} on {channel}")
    else:
        eligible = False
        reasons.append(f"no consent to {message.purpose} on {channel}")
    kind = ADDRESS_KINDS.get(channel)
    if kind is not None:
        usable = [i for i in profile.identities_of(kind) if str(i) not in bad]
        if usable:
            reasons.append(f"reachable: {kind} on file")
        else:
            eligible = False
            reasons.append(f"unreachable: no valid {kind}")
    elif channel == "in_app" and seen is None:
        eligible = False
        reasons.append("unreachable: never used the app or site")
    elif channel == "ads" and not any(profile.identities_of(k) for k in ("email", "phone")):
        eligible = False
        reasons.append("unreachable: no email or phone to match an audience on")
    return eligible, reasons


def can_reach(
    message: Message,
    profile: Profile,
    channel: str,
    *,
    now: Any,
    invalid: Collection[Identity | str] = (),
    subject: Mapping[str, Any] | None = None,
) -> bool:
    """Whether ``channel`` is eligible for ``message`` and this person, as `rank_channels` says.

    The same test without the scores and reasons: for a caller that has
    chosen its channels and only asks which can be used.

    .. versionadded:: 0.1.0
    """
    seen = _last_seen(subject, _ACTIVITY.get(channel, ()))
    moment = to_utc(now, "$.now")
    return _eligibility(message, profile, channel, moment, _invalid(invalid), seen)[0]


@attrs.frozen(kw_only=True)
class Decision:
    """What a page or app placement shows one person, and why.

    ``content`` is None for the control group, when no variant applies, or
    when the template aborted (``aborted`` says why).

    .. versionadded:: 0.1.0
    """

    placement: str
    channel: str
    choice: Choice
    content: RenderedInApp | None
    aborted: Aborted | None = None

    @property
    def explanation(self) -> tuple[str, ...]:
        """The decision in words: which variant and rule, and on which channel."""
        variant = (
            "no variant" if self.choice.variant is None else f"variant {self.choice.variant.key!r}"
        )
        lines = [f"{self.placement}: {variant} ({self.choice.because})", f"shown on {self.channel}"]
        if self.aborted is not None:
            lines.append(f"aborted by the template: {self.aborted.reason}")
        return tuple(lines)


def decide(
    profile: Profile,
    placement: Campaign,
    context: Mapping[str, JSONValue] | None = None,
    *,
    now: Any,
    subject: Mapping[str, Any] | None = None,
    channel: str = "web",
    recommendations: Sequence[Mapping[str, JSONValue]] = (),
) -> Decision:
    """Decide, at request time, what ``placement`` shows this person on a page or screen.

    Chooses the variant (`Campaign.choose`: holdout, rules, split) and
    renders its in-app rendition with ``context`` (the page, the product
    shown ...). Each variant's message needs an ``in_app`` rendition.

    .. versionadded:: 0.1.0
    """
    if not isinstance(placement, Campaign):
        raise ValidationError.one("$.placement", "type", "must be a Campaign")
    subject = subject_from(profile) if subject is None else subject
    choice = placement.choose(profile.id, subject, now)
    message: Message | None = choice.message
    if message is None:
        return Decision(placement=placement.key, channel=channel, choice=choice, content=None)
    if message.in_app is None:
        index = placement.variants.index(choice.variant)
        raise ValidationError.one(
            f"$.placement.variants[{index}].message.in_app",
            "required",
            "a placement shows in-app renditions",
        )
    result = render(
        message,
        profile,
        now=now,
        channels=("in_app",),
        subject=subject,
        context=context,
        recommendations=recommendations,
    )
    if isinstance(result, Aborted):
        return Decision(
            placement=placement.key, channel=channel, choice=choice, content=None, aborted=result
        )
    return Decision(placement=placement.key, channel=channel, choice=choice, content=result.in_app)
