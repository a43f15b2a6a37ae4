"""Finding adapters: entry points, loaded lazily and checked before use.

There is no global registry: a `Registry` is a value the host builds (usually
`Registry.discover`) and hands to the delivery relay, so two engines in one
process may use different adapters, and tests may register their own.
"""

from __future__ import annotations

import inspect
import urllib.parse
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from omnichannel.channels._adapter import Adapter, Capabilities
from omnichannel.errors import PluginError, ValidationError
from omnichannel.models import Channel

__all__ = ["GROUP", "Registry", "check_adapter_class"]

#: The entry-point group adapters are declared in (built-ins too).
GROUP = "omnichannel.channels"


def check_adapter_class(cls: object, *, name: str | None = None) -> list[str]:
    """What keeps ``cls`` from being an adapter class; empty when it is one.

    Checked: a class; ``name`` a string (equal to the entry point's name,
    when given); ``channel`` a valid channel name; ``capabilities`` a
    `Capabilities`; ``send`` and ``aclose`` coroutine functions.

    Examples:
        >>> check_adapter_class(int)
        ['name must be a str', 'channel must be a str', 'capabilities must be a Capabilities', \
'send must be an async method', 'aclose must be an async method']

    .. versionadded:: 0.1.0
    """
    if not isinstance(cls, type):
        return [f"{cls!r} is not a class"]
    problems = []
    own_name = getattr(cls, "name", None)
    if not isinstance(own_name, str):
        problems.append("name must be a str")
    elif name is not None and own_name != name:
        problems.append(f"name is {own_name!r} but the entry point is named {name!r}")
    channel = getattr(cls, "channel", None)
    if not isinstance(channel, str):
        problems.append("channel must be a str")
    else:
        try:
            Channel(channel)
        except ValidationError:
            problems.append(f"channel {channel!r} is not a valid channel name")
    if not isinstance(getattr(cls, "capabilities", None), Capabilities):
        problems.append("capabilities must be a Capabilities")
    problems.extend(
        f"{method} must be an async method"
        for method in ("send", "aclose")
        if not inspect.iscoroutinefunction(getattr(cls, method, None))
    )
    return problems


def _distribution(entry: metadata.EntryPoint) -> str | None:
    dist = entry.dist
    return None if dist is None else f"{dist.name} {dist.version}"


class Registry:
    """The adapters a relay may use, by name; entry points are imported on first use.

    Examples:
        >>> registry = Registry.discover()
        >>> {"console", "webhook"} <= set(registry.names())
        True
        >>> registry.load("console").channel
        'any'

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        entries: Iterable[metadata.EntryPoint] = (),
        adapters: Iterable[type[Any]] = (),
    ) -> None:
        self._entries: dict[str, metadata.EntryPoint] = {}
        for entry in entries:
            # The first declaration of a name wins (entry points come in a stable order).
            self._entries.setdefault(entry.name, entry)
        self._loaded: dict[str, type[Adapter]] = {}
        for cls in adapters:
            self.register(cls)

    @classmethod
    def discover(cls, group: str = GROUP) -> Registry:
        """A registry of every adapter declared in the entry-point group (nothing imported)."""
        return cls(metadata.entry_points(group=group))

    def register(self, cls: type[Any]) -> None:
        """Add an adapter class directly (checked now); it takes precedence over entry points."""
        problems = check_adapter_class(cls)
        if problems:
            raise PluginError(f"{cls!r} is not an adapter: {'; '.join(problems)}", code="protocol")
        self._loaded[cls.name] = cls

    def names(self) -> list[str]:
        """Every adapter name known, sorted."""
        return sorted({*self._entries, *self._loaded})

    def load(self, name: str) -> type[Adapter]:
        """The adapter class called ``name``, imported and checked on first use.

        Raises:
            PluginError: ``unknown`` if no adapter has that name; ``import``
                if its module fails to import; ``protocol`` if the class
                does not keep the adapter protocol. The message and
                ``distribution`` name the package that declared it.
        """
        if name in self._loaded:
            return self._loaded[name]
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(self.names()) or "none"
            raise PluginError(f"no adapter named {name!r} (known: {known})", code="unknown")
        dist = _distribution(entry)
        origin = f"entry point {name!r} = {entry.value!r} of {dist or 'an unknown distribution'}"
        try:
            cls = entry.load()
        except Exception as error:  # a plugin's import may fail in any way
            raise PluginError(
                f"{origin} failed to import: {type(error).__name__}: {error}",
                code="import",
                distribution=dist,
            ) from error
        problems = check_adapter_class(cls, name=name)
        if problems:
            raise PluginError(
                f"{origin} is not an adapter: {'; '.join(problems)}",
                code="protocol",
                distribution=dist,
            )
        self._loaded[name] = cls
        return cls  # type: ignore[no-any-return]

    def create(self, spec: str, /, **options: Any) -> Adapter:
        """Build an adapter from a URL (``twilio://SID:TOKEN@+15551234567``) or a name.

        With a URL, the scheme (up to a ``+``) names the adapter and its ``from_url`` reads
        the rest (``options`` are passed on as keyword arguments); with a
        bare name, the class is called with ``options``.

        Raises:
            ValidationError: ``$.url`` for a URL its adapter cannot read.
            PluginError: as `load`.
        """
        if "://" in spec:
            scheme = urllib.parse.urlsplit(spec).scheme
            # ``webhook+http://`` names the adapter before the "+", like SQLAlchemy's dialects.
            cls = self.load(scheme.split("+", 1)[0])
            from_url = getattr(cls, "from_url", None)
            if from_url is None:
                raise ValidationError.one(
                    "$.url", "unsupported", f"adapter {scheme!r} is not configured from a URL"
                )
            adapter: Adapter = from_url(spec, **options)
            return adapter
        return self.load(spec)(**options)

    def describe(self) -> Mapping[str, str]:
        """Where each adapter comes from: ``module:Class (distribution)``."""
        found = {name: f"{e.value} ({_distribution(e)})" for name, e in self._entries.items()}
        for name, cls in self._loaded.items():
            found.setdefault(name, f"{cls.__module__}:{cls.__qualname__} (registered)")
        return dict(sorted(found.items()))
