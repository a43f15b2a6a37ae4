"""Dispatch policy, pure: may this message go to this person on this channel now?

Every check that protects a person lives here, once, for every adapter:
consent for the purpose on the channel, a usable address, quiet hours in the
person's local time and frequency caps. The relay asks immediately before
each provider call (and the outbox asks when a send is decided), with the
profile as stored at that moment.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Mapping, Sequence

import attrs
import pendulum

from omnichannel._time import later, plain_utc, to_utc
from omnichannel.errors import ValidationError
from omnichannel.models import Profile
from omnichannel.models._profile import _known_zone
from omnichannel.personalization import ADDRESS_KINDS
from omnichannel.rules._python import zone as tz_of

__all__ = [
    "AUDIENCE_REMOVAL",
    "Action",
    "Cap",
    "Policy",
    "QuietHours",
    "SentRecord",
    "Verdict",
    "check_dispatch",
]


#: Channels shown inside the product the person is using need no contact consent.
_NO_CONSENT = frozenset({"in_app"})

#: The purpose of a removal from an ads audience: it goes whatever the person's state.
AUDIENCE_REMOVAL = "audience_removal"


class Action(enum.Enum):
    """What the policy says about one message now.

    .. versionadded:: 0.1.0
    """

    SEND = "send"
    DEFER = "defer"
    DROP = "drop"


@attrs.frozen(kw_only=True)
class Verdict:
    """The policy's answer: send, defer until a time, or drop, and why.

    ``code`` is stable (``ok``, ``transactional``, ``no_profile``,
    ``no_consent``, ``unreachable``, ``quiet_hours``, ``cap``); ``reason``
    is for people.

    .. versionadded:: 0.1.0
    """

    action: Action
    code: str
    reason: str
    until: pendulum.DateTime | None = None


def _clock_time(value: object, path: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError.one(path, "invalid", "must be a time of day like '21:00'")


def _start(value: object) -> dt.time:
    return _clock_time(value, "$.start")


def _end(value: object) -> dt.time:
    return _clock_time(value, "$.end")


@attrs.frozen(kw_only=True)
class QuietHours:
    """A nightly window, in the person's local time, when a channel stays silent.

    ``start`` is when quiet begins and ``end`` when sending may resume; a
    window may cross midnight (21:00 to 08:00, the default). A message that
    falls inside is deferred to the window's end in the person's zone, on
    the right side of a daylight-saving change.

    Examples:
        >>> import pendulum
        >>> night = QuietHours()
        >>> night.holds(pendulum.datetime(2024, 3, 5, 22, 30, tz="Europe/Berlin"))
        True
        >>> str(night.ends_after(pendulum.datetime(2024, 3, 5, 22, 30, tz="Europe/Berlin")))
        '2024-03-06 08:00:00+01:00'

    .. versionadded:: 0.1.0
    """

    start: dt.time = attrs.field(default=dt.time(21, 0), converter=_start)
    end: dt.time = attrs.field(default=dt.time(8, 0), converter=_end)

    def __attrs_post_init__(self) -> None:
        if self.start == self.end:
            raise ValidationError.one("$.end", "invalid", "must differ from start")

    def holds(self, local: dt.datetime) -> bool:
        """True if the local wall time ``local`` is inside the quiet window."""
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def ends_after(self, local: pendulum.DateTime) -> pendulum.DateTime:
        """The first instant after ``local`` (a quiet time) when sending may resume."""
        zone = local.timezone or pendulum.UTC
        day = local.date()
        if not (self.start < self.end) and local.time().replace(tzinfo=None) >= self.start:
            day = day.add(days=1)
        resume = pendulum.datetime(
            day.year, day.month, day.day, self.end.hour, self.end.minute, self.end.second, tz=zone
        )
        # A wall time skipped by a DST jump resolves forward; it cannot land inside the window
        # unless the window is shorter than the jump, which the loop guards against anyway.
        while self.holds(resume):
            resume = resume.add(minutes=15)
        return resume


@attrs.frozen(kw_only=True)
class Cap:
    """At most ``limit`` messages per ``period`` on ``channel`` (None: across channels).

    ``period`` is ``"day"`` (the person's calendar day, in their zone) or
    ``"week"`` (the last 7 days, rolling). Transactional messages neither
    count nor are capped.

    Examples:
        >>> Cap(limit=1, period="day", channel="sms")
        Cap(limit=1, period='day', channel='sms')

    .. versionadded:: 0.1.0
    """

    limit: int = attrs.field()
    period: str = attrs.field()
    channel: str | None = None

    @limit.validator
    def _check_limit(self, _attribute: object, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationError.one("$.limit", "invalid", "must be a whole number >= 0")

    @period.validator
    def _check_period(self, _attribute: object, value: object) -> None:
        if value not in ("day", "week"):
            raise ValidationError.one("$.period", "invalid", "must be 'day' or 'week'")


def _zone(value: object) -> str:
    if not isinstance(value, str) or not _known_zone(value):
        raise ValidationError.one("$.time_zone", "invalid", f"{value!r} is not an IANA time zone")
    return value


def _default_quiet() -> Mapping[str, QuietHours]:
    # SMS: the strict 08:00-21:00 window US rules (TCPA) ask for, in the recipient's time.
    return {"sms": QuietHours(start=dt.time(21, 0), end=dt.time(8, 0))}


@attrs.frozen(kw_only=True)
class Policy:
    """The workspace's sending rules.

    Attributes:
        time_zone: The zone used for a person whose own zone is unknown
            (quiet hours never fail open: they always apply in some zone).
        quiet_hours: Quiet windows per channel (``"*"``: every channel
            without its own). Default: SMS only, 21:00-08:00.
        caps: Frequency caps, all of which must hold.

    .. versionadded:: 0.1.0
    """

    time_zone: str = attrs.field(default="UTC", converter=_zone)
    quiet_hours: Mapping[str, QuietHours] = attrs.field(factory=_default_quiet)
    caps: tuple[Cap, ...] = attrs.field(default=(), converter=tuple)

    def quiet_for(self, channel: str) -> QuietHours | None:
        """The quiet window that applies to ``channel``, if any."""
        return self.quiet_hours.get(channel, self.quiet_hours.get("*"))

    def zone_of(self, profile: Profile) -> str:
        """The person's zone: the profile's, unless it never said (then the workspace's).

        A profile reads ``UTC`` both when the person is in UTC and when no
        zone was ever seen; only a ``timezone`` trait makes UTC count as said.
        """
        if profile.time_zone != "UTC" or profile.traits.get("timezone") == "UTC":
            return profile.time_zone
        return self.time_zone


@attrs.frozen(kw_only=True)
class SentRecord:
    """A message already dispatched to the person (for caps).

    .. versionadded:: 0.1.0
    """

    channel: str
    at: pendulum.DateTime


def _cap_breached(
    policy: Policy, channel: str, now: pendulum.DateTime, zone: str, sent: Sequence[SentRecord]
) -> Cap | None:
    local = tz_of(zone)  # the standard library's conversions: pendulum's are much slower
    today = plain_utc(now).astimezone(local).date()
    week_ago = later(now, -7 * 86_400)
    for cap in policy.caps:
        if cap.channel is not None and cap.channel != channel:
            continue
        count = 0
        for record in sent:
            if cap.channel is not None and record.channel != cap.channel:
                continue
            if cap.period == "day":
                count += plain_utc(record.at).astimezone(local).date() == today
            else:
                count += week_ago < record.at <= now
        if count >= cap.limit:
            return cap
    return None


def check_dispatch(
    *,
    profile: Profile | None,
    channel: str,
    purpose: str,
    transactional: bool,
    address: str,
    now: dt.datetime,
    policy: Policy,
    sent: Sequence[SentRecord] = (),
    invalid: Collection[str] = (),
) -> Verdict:
    """Say whether a message may go now: send, defer (quiet hours) or drop, with the reason.

    A removal from an ads audience (purpose `AUDIENCE_REMOVAL`) always goes.
    Otherwise, in order: the person must still exist; the address (for e-mail, SMS
    and push) must still be one of their identifiers and not marked
    invalid by a provider; a non-transactional message needs consent for
    ``purpose`` on ``channel`` at ``now`` (a missing answer is a no); a
    non-transactional message inside the channel's quiet hours (in
    the person's zone, else the workspace's) is deferred to their end; and
    one that would break a cap, counting ``sent`` (the person's
    non-transactional dispatches), is dropped.

    Examples:
        >>> import pendulum
        >>> from omnichannel.models import Consent, Identity, Profile
        >>> at = pendulum.datetime(2024, 3, 5, 22, tz="America/New_York")
        >>> ann = Profile(
        ...     id="p1",
        ...     created_at=at,
        ...     updated_at=at,
        ...     time_zone="America/New_York",
        ...     identities={Identity(kind="phone", value="+12125550123")},
        ...     consents=(
        ...         Consent(
        ...             purpose="marketing",
        ...             channel="sms",
        ...             status="granted",
        ...             status_at=at.subtract(days=1),
        ...         ),
        ...     ),
        ... )
        >>> v = check_dispatch(
        ...     profile=ann,
        ...     channel="sms",
        ...     purpose="marketing",
        ...     transactional=False,
        ...     address="+12125550123",
        ...     now=at,
        ...     policy=Policy(),
        ... )
        >>> v.action.value, v.code, str(v.until)
        ('defer', 'quiet_hours', '2024-03-06 13:00:00+00:00')

    .. versionadded:: 0.1.0
    """
    moment = to_utc(now, "$.now")
    if purpose == AUDIENCE_REMOVAL:
        # Withdrawal and erasure owe the person this one: nothing may hold it back.
        return Verdict(action=Action.SEND, code="removal", reason="removal from an audience")
    if profile is None:
        return Verdict(action=Action.DROP, code="no_profile", reason="the person was erased")
    if address in invalid:
        return Verdict(
            action=Action.DROP, code="unreachable", reason=f"{address} was marked invalid"
        )
    kind = ADDRESS_KINDS.get(channel)
    if kind is not None and not any(
        identity.value == address for identity in profile.identities_of(kind)
    ):
        return Verdict(
            action=Action.DROP, code="unreachable", reason=f"{address} is no longer the person's"
        )
    if transactional:
        return Verdict(action=Action.SEND, code="transactional", reason="transactional")
    # Shown inside the product the person is using: no contact consent (as rank_channels).
    if channel not in _NO_CONSENT and not profile.consent(purpose, channel, moment):
        return Verdict(
            action=Action.DROP, code="no_consent", reason=f"no consent to {purpose} on {channel}"
        )
    zone = policy.zone_of(profile)
    quiet = policy.quiet_for(channel)
    if quiet is not None:
        local = moment.in_timezone(zone)
        if quiet.holds(local):
            until = quiet.ends_after(local).in_timezone("UTC")
            return Verdict(
                action=Action.DEFER,
                code="quiet_hours",
                reason=f"quiet hours in {zone} until {quiet.end.isoformat('minutes')}",
                until=until,
            )
    cap = _cap_breached(policy, channel, moment, zone, sent)
    if cap is not None:
        scope = cap.channel or "all channels"
        return Verdict(
            action=Action.DROP,
            code="cap",
            reason=f"cap of {cap.limit} per {cap.period} on {scope} reached",
        )
    return Verdict(action=Action.SEND, code="ok", reason=f"consent to {purpose} on {channel}")
