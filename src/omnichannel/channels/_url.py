"""Adapter URLs: ``scheme://user:password@host:port/path?option=value``, read once."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

import attrs

from omnichannel.errors import ValidationError

__all__ = ["AdapterUrl", "parse_adapter_url"]


@attrs.frozen(kw_only=True)
class AdapterUrl:
    """The parts of an adapter URL, percent-decoded.

    .. versionadded:: 0.1.0
    """

    scheme: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    path: str
    options: Mapping[str, str]

    def require(self, part: str) -> str:
        """A part that must be present (``username``, ``password``, ``host``)."""
        value = getattr(self, part)
        if not value:
            raise ValidationError.one("$.url", "required", f"the URL needs a {part}")
        return str(value)


def parse_adapter_url(url: object, scheme: str) -> AdapterUrl:
    """Read ``url`` for the adapter ``scheme``; the error names ``$.url`` and the problem.

    Examples:
        >>> u = parse_adapter_url("twilio://AC1:s%40cret@+15551234567?region=ie1", "twilio")
        >>> u.username, u.password, u.host, u.options["region"]
        ('AC1', 's@cret', '+15551234567', 'ie1')

    .. versionadded:: 0.1.0
    """
    if not isinstance(url, str):
        raise ValidationError.one("$.url", "type", "must be a string")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != scheme:
        raise ValidationError.one(
            "$.url", "invalid", f"must start with {scheme}://, not {parts.scheme or 'nothing'}"
        )
    try:
        port = parts.port
    except ValueError as error:
        raise ValidationError.one("$.url", "invalid", f"bad port: {error}") from None
    # urlsplit lowercases the host; phone numbers and ids keep their case in the netloc.
    host = parts.netloc.rpartition("@")[2]
    if port is not None:
        host = host.rsplit(":", 1)[0]
    unquote = urllib.parse.unquote
    return AdapterUrl(
        scheme=scheme,
        username=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
        host=unquote(host) or None,
        port=port,
        path=unquote(parts.path),
        options=dict(urllib.parse.parse_qsl(parts.query)),
    )
