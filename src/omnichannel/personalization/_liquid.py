"""Liquid for untrusted authors: every resource limit set, a time budget, no code, no clock.

Templates are written by marketers, so a template is treated like input from
the internet. `python-liquid` already renders no Python attributes (a path is
looked up with ``obj[key]`` only, and we hand it plain JSON data), runs no
code and has four limits of its own; we set every one of them and add what it
lacks:

- a budget of loop iterations over the whole rendering (its own limit counts
  one nest of loops at a time, so a template of many loops could run long);
- a size check around every filter call, so a chain of ``replace`` or a
  ``join`` over a huge range cannot build a giant string between two writes;
- a time budget checked at every loop iteration and every filter call;
- the built-in ``date`` filter reads ``now`` from the rendering (never the
  wall clock) and prints in the profile's time zone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sized
from io import StringIO
from typing import Any, TextIO

import attrs
import liquid
from liquid import BoundTemplate, Environment, RenderContext
from liquid.ast import Node
from liquid.builtin.expressions import FilteredExpression
from liquid.exceptions import LiquidError, OutputStreamLimitError, ResourceLimitError
from liquid.output import LimitedStringIO
from liquid.stream import TokenStream
from liquid.tag import Tag
from liquid.token import TOKEN_TAG, Token

from omnichannel.errors import TemplateError, ValidationError
from omnichannel.personalization._filters import FILTERS

__all__ = [
    "Aborted",
    "Budget",
    "Limits",
    "RenderSettings",
    "Template",
    "compile_template",
    "limits_of",
]


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValidationError.one(
            f"$.{attribute.name}", "out_of_range", "must be a positive number"
        )


@attrs.frozen(kw_only=True)
class Limits:
    """The resource limits of one template rendering; every one of them is always set.

    Attributes:
        template_chars: Longest template source accepted.
        loop_iterations: Most iterations of one nest of loops (python-liquid's
            ``loop_iteration_limit``: the product of nested loop lengths).
        total_iterations: Most loop iterations in one rendering, all loops together.
        output_chars: Longest output of one rendering (``output_stream_limit``).
        value_chars: Largest string or list a filter may take or make.
        namespace_bytes: Most bytes held by ``assign``/``capture`` variables
            (``local_namespace_limit``).
        context_depth: Deepest nesting of ``include``/``render`` and scopes
            (``context_depth_limit``).
        block_nesting: Deepest nesting of block tags (``block_nesting_limit``).
        seconds: Time one rendering may take; checked between operations (every loop
            iteration and filter call), so the default leaves room for the last one:
            the slowest a filter may be on the largest value allowed is well under
            0.1 s, and no rendering passes 1 s.

    Examples:
        >>> Limits().seconds
        0.9
        >>> Limits(loop_iterations=0)
        Traceback (most recent call last):
        ...
        omnichannel.errors.ValidationError: 1 validation error
          $.loop_iterations: must be a positive number [out_of_range]

    .. versionadded:: 0.1.0
    """

    template_chars: int = attrs.field(default=100_000, validator=_positive)
    loop_iterations: int = attrs.field(default=10_000, validator=_positive)
    total_iterations: int = attrs.field(default=50_000, validator=_positive)
    output_chars: int = attrs.field(default=500_000, validator=_positive)
    value_chars: int = attrs.field(default=1_000_000, validator=_positive)
    namespace_bytes: int = attrs.field(default=1_000_000, validator=_positive)
    context_depth: int = attrs.field(default=30, validator=_positive)
    block_nesting: int = attrs.field(default=30, validator=_positive)
    seconds: float = attrs.field(default=0.9, validator=_positive)


@attrs.frozen(kw_only=True)
class RenderSettings:
    """What the filters of one rendering need to know about the person and the moment.

    Attributes:
        now: The instant of the rendering (``date: "now"`` and relative dates read it).
        time_zone: IANA zone dates are printed in.
        locale: BCP 47 tag for money and dates (``de-DE``).
        currency: ISO 4217 code for ``money`` when the value names none.

    .. versionadded:: 0.1.0
    """

    now: Any
    time_zone: str = "UTC"
    locale: str = "en-US"
    currency: str = "USD"


@attrs.frozen(kw_only=True)
class Aborted:
    """A rendering the template itself called off (``{% abort "no product to show" %}``).

    A result, not an error: the person simply gets nothing this time, and
    ``reason`` says why.

    Examples:
        >>> import pendulum
        >>> t = compile_template('{% abort "no product" %}Hi', path="$.sms.body")
        >>> t.render({}, RenderSettings(now=pendulum.datetime(2024, 1, 1)))
        Aborted(reason='no product', path='$.sms.body')

    .. versionadded:: 0.1.0
    """

    reason: str
    path: str


class _AbortSignal(Exception):  # noqa: N818 - a signal, caught inside this module
    """Raised by the abort tag; never leaves `Template.render`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Budget:
    """Iterations and time left to one rendering, shared by the contexts it copies."""

    __slots__ = ("clock", "deadline", "iterations", "output_chars", "settings", "value_chars")

    def __init__(
        self,
        limits: Limits,
        settings: RenderSettings,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clock = clock
        self.deadline = clock() + limits.seconds
        self.iterations = limits.total_iterations
        self.value_chars = limits.value_chars
        self.output_chars = limits.output_chars
        self.settings = settings

    def tick(self, iterations: int = 0) -> None:
        self.iterations -= iterations
        if self.iterations < 0:
            raise _TotalIterationsError("loop iteration budget of the rendering spent", token=None)
        if self.clock() > self.deadline:
            raise _TimeoutError("the rendering ran out of time", token=None)


class _TotalIterationsError(ResourceLimitError):
    """Every loop of one rendering together iterated more than `Limits.total_iterations`."""


class _TimeoutError(ResourceLimitError):
    """One rendering took longer than `Limits.seconds`."""


class _ValueTooLargeError(ResourceLimitError):
    """A filter would take or make a value over `Limits.value_chars`."""


class _Context(RenderContext):
    """A render context that spends the rendering's budget on every loop iteration."""

    budget: Budget
    #: Filters print plain spaces, not the no-break spaces of CLDR formats (which force an
    #: SMS into UCS-2: half the characters per segment).
    plain_spaces: bool = False

    def __init__(self, template: BoundTemplate, **kwargs: Any) -> None:
        super().__init__(template, **kwargs)
        parent = kwargs.get("parent_context")
        if isinstance(parent, _Context):  # a copy made by `render`: same budget
            self.budget = parent.budget
            self.plain_spaces = parent.plain_spaces

    def raise_for_loop_limit(self, length: int = 1) -> None:
        super().raise_for_loop_limit(length)
        self.budget.tick(length)

    def get_buffer(self, buf: TextIO | None = None) -> StringIO:
        carry = buf.size if isinstance(buf, LimitedStringIO) else 0
        return _Output(limit=self.budget.output_chars - carry)

    def loop(self, namespace: Mapping[str, object], forloop: Any) -> Any:
        forloop.it = _timed(forloop.it, self.budget)
        return super().loop(namespace, forloop)


def _timed(items: Iterator[Any], budget: Budget) -> Iterator[Any]:
    for item in items:
        budget.tick()
        yield item


class _Output(LimitedStringIO):
    """python-liquid's limited stream counting characters (it encodes each write to count bytes)."""

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > self.limit:
            raise OutputStreamLimitError("output stream limit reached", token=None)
        return StringIO.write(self, text)


class _Bound(BoundTemplate):
    context_class = _Context


_SIZED = (str, range, list, tuple, dict)


def _size(value: object) -> int:
    if value.__class__ in _SIZED or isinstance(value, Sized):
        return len(value)
    return 1


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter: spend the budget, refuse values whose worst-case output is too large."""
    wants_context = getattr(func, "with_context", False)
    # python-liquid's `uniq` compares every item with every earlier one (it must accept
    # unhashable items): its work grows with the square of the list's length.
    quadratic = name == "uniq"

    def guarded(value: object, *args: object, **kwargs: Any) -> Any:
        context = kwargs["context"] if wants_context else kwargs.pop("context")
        budget: Budget = context.budget
        budget.tick()
        # The worst case of every built-in filter is below the input's size times
        # (1 + the arguments' sizes): `replace` repeats its argument per character,
        # `join` its separator per item; the others stay near their input's size.
        factor = 1
        for arg in args:
            factor += _size(arg)
        estimate = _size(value) * factor
        if quadratic:
            estimate = _size(value) ** 2 // 10
        if estimate > budget.value_chars:
            raise _ValueTooLargeError(f"filter {name!r} on a value this large", token=None)
        result = func(value, *args, **kwargs)
        too_large = result.__class__ is not str or len(result) > budget.value_chars
        if too_large and _size(result) > budget.value_chars:
            raise _ValueTooLargeError(f"filter {name!r} made a value too large", token=None)
        return result

    guarded.with_context = True  # type: ignore[attr-defined]
    if getattr(func, "with_environment", False):
        guarded.with_environment = True  # type: ignore[attr-defined]
    return guarded


class _AbortNode(Node):
    __slots__ = ("expression",)

    def __init__(self, token: Token, expression: Any) -> None:
        super().__init__(token)
        self.expression = expression
        self.blank = False

    def __str__(self) -> str:
        return f"{{% abort {self.expression} %}}"

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:  # noqa: ARG002
        raise _AbortSignal(str(self.expression.evaluate(context)))


class _AbortTag(Tag):
    """``{% abort "reason" %}``: call the send off, with a reason (Braze's ``abort_message``)."""

    name = "abort"
    block = False

    def parse(self, stream: TokenStream) -> Node:
        token = stream.eat(TOKEN_TAG)
        expression = FilteredExpression.parse(self.env, stream.into_inner(tag=token, eat=False))
        return _AbortNode(token, expression)


def _environment(limits: Limits, *, html: bool, blocks: Mapping[str, str]) -> Environment:
    env = Environment(
        autoescape=html,
        strict_filters=True,
        loader=liquid.CachingDictLoader(dict(blocks)),
    )
    env.template_class = _Bound
    env.loop_iteration_limit = limits.loop_iterations  # type: ignore[misc]
    env.output_stream_limit = limits.output_chars  # type: ignore[misc]
    env.local_namespace_limit = limits.namespace_bytes  # type: ignore[misc]
    env.context_depth_limit = limits.context_depth  # type: ignore[misc]
    env.block_nesting_limit = limits.block_nesting  # type: ignore[misc]
    env.add_tag(_AbortTag)
    env.filters.update(FILTERS)
    env.filters = {name: _guarded(name, func) for name, func in env.filters.items()}
    return env


def limits_of(env: Environment) -> dict[str, object]:
    """Every ``*_limit`` setting python-liquid knows, as this environment has it (for tests)."""
    names = sorted(n for n in dir(Environment) if n.endswith("_limit"))
    return {name: getattr(env, name) for name in names}


_CODES: tuple[tuple[type[Exception], str], ...] = (
    (_TimeoutError, "timeout"),
    (ResourceLimitError, "limit"),
    (liquid.exceptions.LiquidSyntaxError, "syntax"),
    (liquid.exceptions.UnknownFilterError, "unknown_filter"),
    (liquid.exceptions.TemplateNotFoundError, "unknown_block"),
)


def _problem(exc: Exception) -> tuple[str, str]:
    code = next((c for kind, c in _CODES if isinstance(exc, kind)), "render")
    return code, str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@attrs.frozen(eq=False)
class Template:
    """One compiled template of a message, bound to its limits.

    Build with `compile_template`; ``render`` turns data into text or an
    `Aborted`, and raises `TemplateError` (at ``path``) when a limit is hit.

    .. versionadded:: 0.1.0
    """

    source: str
    path: str
    html: bool
    limits: Limits
    _bound: BoundTemplate = attrs.field(repr=False, alias="bound")
    plain_spaces: bool = False

    @property
    def variables(self) -> frozenset[str]:
        """The root names the template reads (``profile``, ``unsubscribe_url`` ...), with blocks."""
        return frozenset(self._bound.analyze(include_partials=True).globals)

    def render(
        self,
        data: Mapping[str, object],
        settings: RenderSettings,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> str | Aborted:
        """Render ``data`` (plain JSON-like values) within the limits.

        ``clock`` measures the time budget (tests pass their own).
        """
        return self.render_within(data, Budget(self.limits, settings, clock))

    def render_within(self, data: Mapping[str, object], budget: Budget) -> str | Aborted:
        """Render with a budget shared by several templates (the renditions of one message)."""
        context = _Context(self._bound, globals=data)
        context.budget = budget
        context.plain_spaces = self.plain_spaces
        buffer = _Output(limit=budget.output_chars)
        try:
            self._bound.render_with_context(context, buffer)
        except _AbortSignal as signal:
            return Aborted(reason=signal.reason, path=self.path)
        except (LiquidError, RecursionError, ValueError, TypeError, ArithmeticError) as exc:
            code, message = _problem(exc)
            raise TemplateError.one(self.path, code, message) from None
        return buffer.getvalue()


def compile_template(
    source: str,
    *,
    path: str,
    html: bool = False,
    limits: Limits | None = None,
    blocks: Mapping[str, str] | None = None,
    plain_spaces: bool = False,
) -> Template:
    """Parse a Liquid template for rendering under ``limits``.

    ``html`` escapes every value the template prints (not its own markup);
    ``blocks`` are the shared content blocks ``{% include "name" %}`` reads;
    ``plain_spaces`` makes money and date filters print plain spaces where
    the locale's format has no-break ones (for SMS: one such character
    turns the whole message into UCS-2, at half the characters a segment).
    Syntax errors, unknown filters and oversized sources raise
    `TemplateError` at ``path``.

    Examples:
        >>> import pendulum
        >>> t = compile_template("Hi {{ profile.first_name }}!", path="$.sms.body")
        >>> t.render({"profile": {"first_name": "Ann"}}, RenderSettings(now=pendulum.now()))
        'Hi Ann!'

    .. versionadded:: 0.1.0
    """
    limits = limits or Limits()
    if not isinstance(source, str):
        raise TemplateError.one(path, "type", "a template must be a string")
    if len(source) > limits.template_chars:
        raise TemplateError.one(
            path, "too_long", f"a template may have at most {limits.template_chars} characters"
        )
    env = _environments(limits, html, tuple(sorted((blocks or {}).items())))
    try:
        bound = env.from_string(_inline(source, blocks or {}, limits.template_chars), name=path)
        # Unknown filters and blocks fail here, at definition, not at the first send.
        analysis = bound.analyze(include_partials=True)
    except (LiquidError, RecursionError) as exc:
        code, message = _problem(exc)
        raise TemplateError.one(path, code, message) from None
    unknown = sorted(set(analysis.filters) - set(env.filters))
    if unknown:
        raise TemplateError.one(path, "unknown_filter", f"unknown filter {unknown[0]!r}")
    return Template(
        source=source, path=path, html=html, limits=limits, bound=bound, plain_spaces=plain_spaces
    )


_INCLUDE = re.compile(r"""\{%\s*include\s+(['"])([^'"]+)\1\s*%\}""")


def _inline(source: str, blocks: Mapping[str, str], most: int) -> str:
    """Put each block's text where a bare ``{% include "name" %}`` asks for it.

    The same meaning as the include tag (the block sees the includer's
    variables) without its cost per rendering: a template lookup and a new
    scope per include. A block that includes itself, an include with
    arguments or whitespace control, or an expansion longer than ``most``
    stays a run-time include, under the context depth limit.
    """
    for _depth in range(8):
        expanded = _INCLUDE.sub(lambda m: blocks.get(m[2], m[0]), source)
        if expanded == source or len(expanded) > most:
            return source
        source = expanded
    return source


_ENVIRONMENTS: dict[tuple[Limits, bool, tuple[tuple[str, str], ...]], Environment] = {}


def _environments(limits: Limits, html: bool, blocks: tuple[tuple[str, str], ...]) -> Environment:
    """One environment per (limits, escaping, blocks): messages that share them share it."""
    key = (limits, html, blocks)
    env = _ENVIRONMENTS.get(key)
    if env is None:
        if len(_ENVIRONMENTS) >= 256:  # bounded: a long-lived process sees many messages
            _ENVIRONMENTS.pop(next(iter(_ENVIRONMENTS)))
        env = _ENVIRONMENTS[key] = _environment(limits, html=html, blocks=dict(blocks))
    return env
