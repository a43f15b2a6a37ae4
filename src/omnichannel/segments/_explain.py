"""Why is this person in (or out of) a segment? Each part of the rule, and whether it held."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from omnichannel.rules._python import compile_rule
from omnichannel.rules._text import describe
from omnichannel.rules._tree import All, AnyOf, Not, Rule
from omnichannel.segments._segment import Segment


@attrs.frozen(kw_only=True)
class Verdict:
    """One part of a rule, whether it held for the subject, and the verdicts of its parts.

    ``str()`` prints a checklist, one line per part, indented by depth.

    .. versionadded:: 0.1.0
    """

    text: str
    holds: bool
    parts: tuple[Verdict, ...] = ()

    def lines(self, depth: int = 0) -> list[str]:
        """The checklist as lines: ``[x]`` for parts that held, ``[ ]`` for those that did not."""
        mark = "[x]" if self.holds else "[ ]"
        own = [f"{'    ' * depth}{mark} {self.text}"]
        return own + [line for part in self.parts for line in part.lines(depth + 1)]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def explain(rule: Rule | Segment, subject: Mapping[str, Any], now: dt.datetime) -> Verdict:
    """Say which parts of a rule (or a segment's rule) held for ``subject`` at ``now``.

    Examples:
        >>> import datetime as dt
        >>> from omnichannel.rules import did, trait
        >>> now = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
        >>> rule = (trait("country") == "DE") & did("Order Completed").within(days=30)
        >>> print(explain(rule, {"traits": {"country": "DE"}, "events": []}, now))
        [ ] all of
            [x] country is DE
            [ ] did Order Completed in the last 30 days

    .. versionadded:: 0.1.0
    """
    if isinstance(rule, Segment):
        inner = _verdict(rule.rule, subject, now)
        return Verdict(text=f"in segment {rule.name}", holds=inner.holds, parts=(inner,))
    return _verdict(rule, subject, now)


def _verdict(rule: Rule, subject: Mapping[str, Any], now: dt.datetime) -> Verdict:
    holds = compile_rule(rule)(subject, now)
    if isinstance(rule, (All, AnyOf)) and rule.rules:
        parts = tuple(_verdict(part, subject, now) for part in rule.rules)
        return Verdict(
            text="all of" if isinstance(rule, All) else "any of", holds=holds, parts=parts
        )
    if isinstance(rule, Not) and isinstance(rule.rule, (All, AnyOf)):
        return Verdict(text="not", holds=holds, parts=(_verdict(rule.rule, subject, now),))
    return Verdict(text=describe(rule), holds=holds)
