"""Open sets of names: channels and identity kinds (plugins may add their own)."""

from __future__ import annotations

import re
from typing import ClassVar

from omnichannel.errors import ValidationError

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


class _OpenName(str):
    """A lowercase name from an open set: known names are class attributes, others are allowed."""

    __slots__ = ()
    _what: ClassVar[str] = "name"
    _known: ClassVar[frozenset[str]] = frozenset()

    def __new__(cls, value: str) -> _OpenName:
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise ValidationError.one(
                "$", "type", f"{cls._what} must be a string, not {type(value).__name__}"
            )
        name = value.strip().lower()
        if not _NAME.fullmatch(name):
            raise ValidationError.one(
                "$",
                "invalid",
                f"{cls._what} {value!r} must be 1-32 of a-z, 0-9 and _, starting with a letter",
            )
        return super().__new__(cls, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    @classmethod
    def known(cls) -> tuple[str, ...]:
        """Return the names `omnichannel` itself defines, sorted."""
        return tuple(sorted(cls._known))

    @property
    def is_known(self) -> bool:
        """Say whether this is one of the names `omnichannel` itself defines."""
        return str(self) in self._known


class Channel(_OpenName):
    """A channel a person can be reached on or act on: ``web``, ``email``, ``sms`` ...

    An open set: the built-in names are class attributes, and plugins may use
    names of their own. Names are normalised to lowercase.

    Examples:
        >>> Channel("SMS") == Channel.SMS == "sms"
        True
        >>> Channel("carrier_pigeon").is_known
        False

    .. versionadded:: 0.1.0
    """

    __slots__ = ()
    _what = "channel"

    WEB: ClassVar[Channel]
    APP: ClassVar[Channel]
    EMAIL: ClassVar[Channel]
    SMS: ClassVar[Channel]
    PUSH: ClassVar[Channel]
    IN_APP: ClassVar[Channel]
    STORE: ClassVar[Channel]
    CALL_CENTER: ClassVar[Channel]
    SOCIAL: ClassVar[Channel]
    ADS: ClassVar[Channel]
    DIRECT_MAIL: ClassVar[Channel]
    CHAT: ClassVar[Channel]
    WEBHOOK: ClassVar[Channel]

    def __new__(cls, value: str) -> Channel:
        return super().__new__(cls, value)  # type: ignore[return-value]


class IdentityKind(_OpenName):
    """The kind of an identifier: ``user_id``, ``email``, ``phone`` ... or a custom kind.

    Examples:
        >>> IdentityKind("email") is not None and IdentityKind.EMAIL == "email"
        True
        >>> IdentityKind("crm_contact_id").is_known
        False

    .. versionadded:: 0.1.0
    """

    __slots__ = ()
    _what = "identity kind"

    USER_ID: ClassVar[IdentityKind]
    ANONYMOUS_ID: ClassVar[IdentityKind]
    EMAIL: ClassVar[IdentityKind]
    PHONE: ClassVar[IdentityKind]
    DEVICE_ID: ClassVar[IdentityKind]
    PUSH_TOKEN: ClassVar[IdentityKind]
    LOYALTY_ID: ClassVar[IdentityKind]

    def __new__(cls, value: str) -> IdentityKind:
        return super().__new__(cls, value)  # type: ignore[return-value]


def _define(cls: type[_OpenName], names: tuple[str, ...]) -> None:
    for name in names:
        setattr(cls, name.upper(), cls(name))
    cls._known = frozenset(names)


_define(
    Channel,
    (
        "web", "app", "email", "sms", "push", "in_app", "store", "call_center",
        "social", "ads", "direct_mail", "chat", "webhook",
    ),
)  # fmt: skip
_define(
    IdentityKind,
    ("user_id", "anonymous_id", "email", "phone", "device_id", "push_token", "loyalty_id"),
)


def optional_channel(value: object) -> Channel | None:
    """Convert a ``channel`` field: None, or a Channel (errors reported at ``$.channel``)."""
    if value is None:
        return None
    try:
        return Channel(value)  # type: ignore[arg-type]  # Channel() reports non-strings itself
    except ValidationError as exc:
        raise ValidationError(e.under("$.channel") for e in exc.errors) from None
