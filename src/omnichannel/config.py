r"""An Engine described in a TOML file: store, channels, segments, messages, journeys, policy.

Every problem in the file is reported at once, each with its path
(``$.segments.lapsed.rule``), and nothing is opened until the whole file
reads well. The layout::

    store = "shop.db"                  # an SQLite file, a postgresql:// URL, or "memory"
    unsubscribe_url = "https://shop.example/unsubscribe/{profile_id}"

    [channels]                         # adapter URLs (see omnichannel.channels)
    email = "smtp://127.0.0.1:2525"
    any = "file:///var/spool/omnichannel/outbox/"

    [segments.lapsed]                  # a rule as the builders write it
    name = "Lapsed customers"
    rule = '(state("orders") >= 1) & state("last_order").older_than(days=30)'

    [messages.nudge]                   # renditions, as the Message JSON form
    sms = { body = "Your cart is waiting. STOP to opt out" }

    [messages.discount.email]
    subject = "5 off your cart"
    sender = "Shop <hi@shop.example>"
    text = "Come back for 5 off.\n\nUnsubscribe: {{ unsubscribe_url }}"

    [campaigns.cart-reminder]          # variants of messages, and a control group
    holdout = 0.1
    variants = [{ key = "nudge", message = "nudge" }, { key = "discount", message = "discount" }]

    [[journeys]]                       # a ready-made journey, with its options ...
    library = "abandoned_cart"
    audience = "retargeting"

    [policy]                           # quiet hours and caps, as the Policy JSON form
    time_zone = "Europe/Berlin"

The ready-made journeys' messages come with them (a ``[messages]`` table of
the same key replaces one). A rule may also be given in its JSON form (a
table with ``omnichannel.rule``) or as JsonLogic (any other table).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from omnichannel._convert import converter
from omnichannel.delivery import Policy
from omnichannel.errors import FieldError, ValidationError
from omnichannel.journeys import Journey, library
from omnichannel.personalization import Campaign, Message, Variant
from omnichannel.rules import Rule, from_jsonlogic, load_rule, parse_rule
from omnichannel.rules._jsonform import FORMAT
from omnichannel.segments import Segment
from omnichannel.store import MemoryStore, Store

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["LIBRARY", "load_config", "read_rule"]

_T = TypeVar("_T")

#: The ready-made journeys a config may name with ``library = "..."``.
LIBRARY: dict[str, Callable[..., Journey]] = {
    "abandoned_cart": library.abandoned_cart,
    "onboarding": library.onboarding,
    "birthday": library.birthday,
    "win_back": library.win_back,
    "post_purchase": library.post_purchase,
    "in_store_cart": library.in_store_cart,
}
_TOP = {"store", "unsubscribe_url", "channels", "segments", "messages", "campaigns"}
_TOP |= {"journeys", "policy"}


class _Problems:
    """The problems found so far; each part of the file is read on, whatever the others hold."""

    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.found.append(FieldError(path=path, code=code, message=message))

    def read(self, path: str, build: Callable[..., _T], *args: Any, **kwargs: Any) -> _T | None:
        try:
            return build(*args, **kwargs)
        except ValidationError as error:
            self.found.extend(e.under(path) for e in error.errors)
            return None
        except TypeError as error:  # an option the class does not take
            self.add(path, "invalid", str(error))
            return None

    def table(self, document: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = document.get(key, {})
        if isinstance(value, dict):
            return value
        self.add(f"$.{key}", "type", "must be a table")
        return {}


def read_rule(value: object) -> Rule:
    """A rule from a config value: builder text, its JSON form, or JsonLogic.

    Raises:
        RuleError: the rule does not read (paths inside ``value``).

    Examples:
        >>> print(read_rule('did("Order Completed").at_least(2)'))
        did Order Completed at least 2 times
        >>> print(read_rule({">=": [{"var": "state.orders"}, 2]}))
        orders is at least 2

    .. versionadded:: 0.1.0
    """
    if isinstance(value, str):
        return parse_rule(value)
    if isinstance(value, Mapping) and FORMAT in value:
        return load_rule(value)
    return from_jsonlogic(value)


def _document(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    if not isinstance(source, (str, Path)):
        raise ValidationError.one("$", "type", "must be a TOML file's path or its table")
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValidationError.one("$", "unreadable", f"{path}: {error.strerror}") from None
    try:
        table: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValidationError.one("$", "syntax", f"{path}: {error}") from None
    return table


def _store(value: object, problems: _Problems) -> Store | str | None:
    if value is None or value == "memory":
        return MemoryStore() if value == "memory" else None
    if isinstance(value, str) and value:
        return value
    problems.add("$.store", "type", 'must be an SQLite file path, a postgresql:// URL or "memory"')
    return None


def _segments(table: Mapping[str, Any], problems: _Problems) -> list[Segment]:
    found = []
    for key, spec in table.items():
        where = f"$.segments.{key}"
        if not isinstance(spec, dict):
            problems.add(where, "type", "must be a table")
            continue
        if "rule" not in spec:
            problems.add(f"{where}.rule", "required", "is required")
            continue
        rule = problems.read(f"{where}.rule", read_rule, spec["rule"])
        if rule is None:
            continue
        fields = {**spec, "key": key, "name": spec.get("name", key), "rule": rule}
        segment = problems.read(where, Segment, **fields)
        if segment is not None:
            found.append(segment)
    return found


def _messages(table: Mapping[str, Any], problems: _Problems) -> dict[str, Message]:
    found = {}
    for key, spec in table.items():
        where = f"$.messages.{key}"
        if not isinstance(spec, dict):
            problems.add(where, "type", "must be a table")
            continue
        message = problems.read(where, converter.structure, {**spec, "key": key}, Message)
        if message is not None:
            found[key] = message
    return found


def _variant(spec: object, where: str, messages: Mapping[str, Message], problems: _Problems) -> Any:
    if not isinstance(spec, dict) or not isinstance(spec.get("message"), str):
        problems.add(where, "type", "must be a table naming a message: {key, message}")
        return None
    if spec["message"] not in messages:
        problems.add(f"{where}.message", "unknown", f"no message {spec['message']!r}")
        return None
    fields = {**spec, "message": messages[spec["message"]]}
    if "when" in spec:
        fields["when"] = problems.read(f"{where}.when", read_rule, spec["when"])
    return problems.read(where, Variant, **fields)


def _campaigns(
    table: Mapping[str, Any], messages: Mapping[str, Message], problems: _Problems
) -> list[Campaign]:
    found = []
    for key, spec in table.items():
        where = f"$.campaigns.{key}"
        variants = spec.get("variants") if isinstance(spec, dict) else None
        if not isinstance(variants, list):
            problems.add(f"{where}.variants", "required", "must be a list of variants")
            continue
        built = [
            _variant(v, f"{where}.variants[{n}]", messages, problems)
            for n, v in enumerate(variants)
        ]
        if None in built:
            continue
        fields = {**spec, "key": key, "variants": built}
        campaign = problems.read(where, Campaign, **fields)
        if campaign is not None:
            found.append(campaign)
    return found


def _journeys(items: object, problems: _Problems) -> tuple[list[Journey], bool]:
    if not isinstance(items, list):
        problems.add("$.journeys", "type", "must be an array of tables ([[journeys]])")
        return [], False
    found, ready_made = [], False
    for n, spec in enumerate(items):
        where = f"$.journeys[{n}]"
        if not isinstance(spec, dict):
            problems.add(where, "type", "must be a table")
            continue
        if "library" in spec:
            options = {k: v for k, v in spec.items() if k != "library"}
            make = LIBRARY.get(spec["library"])
            if make is None:
                known = ", ".join(LIBRARY)
                problems.add(f"{where}.library", "unknown", f"not a ready-made journey ({known})")
                continue
            accepted = set(inspect.signature(make).parameters)
            unknown = sorted(set(options) - accepted)
            if unknown:
                problems.add(where, "unknown", f"{spec['library']} takes no option {unknown}")
                continue
            found.append(make(**options))
            ready_made = True
            continue
        journey = problems.read(where, converter.structure, spec, Journey)
        if journey is not None:
            found.append(journey)
    return found, ready_made


def load_config(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read an Engine's TOML file (or its parsed table) into `Engine` keyword arguments.

    Raises:
        ValidationError: every problem in the file, each with its path.

    Examples:
        >>> options = load_config(
        ...     {
        ...         "store": "memory",
        ...         "segments": {"buyers": {"rule": 'state("orders") >= 1'}},
        ...         "journeys": [{"library": "birthday", "points": 50}],
        ...     }
        ... )
        >>> [s.key for s in options["segments"]], [j.key for j in options["journeys"]]
        (['buyers'], ['birthday'])

    .. versionadded:: 0.1.0
    """
    document = _document(source)
    problems = _Problems()
    for key in sorted(set(document) - _TOP):
        problems.add(f"$.{key}", "unknown", f"not a setting ({', '.join(sorted(_TOP))})")
    options: dict[str, Any] = {"store": _store(document.get("store"), problems)}
    unsubscribe = document.get("unsubscribe_url")
    if unsubscribe is not None:
        if not isinstance(unsubscribe, str) or "{profile_id}" not in unsubscribe:
            problems.add("$.unsubscribe_url", "invalid", "must be a URL with {profile_id} in it")
        options["unsubscribe_url"] = unsubscribe
    channels = problems.table(document, "channels")
    for channel, url in channels.items():
        if not isinstance(url, str):
            problems.add(f"$.channels.{channel}", "type", "must be an adapter URL")
    options["channels"] = channels
    options["segments"] = _segments(problems.table(document, "segments"), problems)
    messages = _messages(problems.table(document, "messages"), problems)
    campaigns = _campaigns(problems.table(document, "campaigns"), messages, problems)
    journeys, ready_made = _journeys(document.get("journeys", []), problems)
    if ready_made:
        # The ready-made journeys send the ready-made messages, unless the file redefines them.
        messages = {m.key: m for m in library.messages()} | messages
    options["messages"] = [*messages.values(), *campaigns]
    options["journeys"] = journeys
    if "policy" in document:
        options["policy"] = problems.read(
            "$.policy", converter.structure, document["policy"], Policy
        )
    if problems.found:
        raise ValidationError(problems.found)
    return options
