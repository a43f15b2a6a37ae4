"""One exception tree for everything `omnichannel` raises on purpose.

```
Exception
 └── OmnichannelError          root: catch this to catch everything of ours
      ├── ValidationError      (also ValueError) bad input, every problem listed
      │    ├── RuleError       a rule that cannot be read or run (path inside the rule)
      │    └── TemplateError   a template that cannot be compiled, or a rendering that
      │                        breaks a limit or a channel's constraint (path of the template)
      ├── StoreError           (also RuntimeError) the store could not do its part
      ├── FitError             (also ArithmeticError) a statistical model did not converge
      │                        or its data cannot identify it (says why; no parameters)
      └── PluginError          (also ImportError) a channel adapter plugin that cannot be
                               loaded or does not keep the adapter protocol (names its
                               distribution)
```

Every leaf also subclasses the builtin it behaves like, so code written for
plain Python (``except ValueError``) keeps working. Problems are carried as
structured `FieldError` values: a JSON path into the input, a stable machine
code and a human message. Codes are part of the public API (see
``docs/errors.md``); messages may be reworded.

Later steps add their leaves here (rules, consent, delivery, store) so the
whole tree stays in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = [
    "FieldError",
    "FitError",
    "OmnichannelError",
    "PluginError",
    "RuleError",
    "StoreError",
    "TemplateError",
    "ValidationError",
]


@attrs.frozen(kw_only=True)
class FieldError:
    """One problem with one place in the input.

    Attributes:
        path: JSON path of the offending value, rooted at ``$``
            (``$.properties.products[0].price``).
        code: Stable machine code (``required``, ``type``, ``too_large`` ...).
        message: What is wrong, for a human.

    Examples:
        >>> FieldError(path="$.event", code="required", message="track needs an event name")
        FieldError(path='$.event', code='required', message='track needs an event name')

    .. versionadded:: 0.1.0
    """

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"

    def under(self, prefix: str) -> FieldError:
        """Return this error re-rooted below ``prefix`` (``$.a`` under ``$.batch[2]``)."""
        return attrs.evolve(self, path=prefix + self.path[1:])


class OmnichannelError(Exception):
    """Root of every exception `omnichannel` raises on purpose.

    .. versionadded:: 0.1.0
    """


class ValidationError(OmnichannelError, ValueError):
    """Input was rejected; `errors` lists every problem found, not only the first.

    Nothing is stored or changed when this is raised.

    Examples:
        >>> err = ValidationError(
        ...     [FieldError(path="$.userId", code="type", message="must be a string")]
        ... )
        >>> err.errors[0].path
        '$.userId'
        >>> print(err)
        1 validation error
          $.userId: must be a string [type]

    .. versionadded:: 0.1.0
    """

    errors: tuple[FieldError, ...]

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        if not self.errors:
            msg = "ValidationError needs at least one FieldError"
            raise ValueError(msg)
        super().__init__(self.errors)

    def __str__(self) -> str:
        count = len(self.errors)
        head = f"{count} validation error{'s' if count != 1 else ''}"
        return "\n  ".join([head, *map(str, self.errors)])

    @classmethod
    def one(cls, path: str, code: str, message: str) -> ValidationError:
        """Build a ValidationError holding one problem."""
        return cls([FieldError(path=path, code=code, message=message)])


class RuleError(ValidationError):
    """A rule is malformed or uses what the engine does not know; paths point inside the rule.

    Examples:
        >>> RuleError.one(
        ...     "$.and[1]", "unknown_operator", "'xor' is not a JsonLogic operator"
        ... ).errors[0].path
        '$.and[1]'

    .. versionadded:: 0.1.0
    """

    @classmethod
    def one(cls, path: str, code: str, message: str) -> RuleError:
        """Build a RuleError holding one problem."""
        return cls([FieldError(path=path, code=code, message=message)])


class TemplateError(ValidationError):
    """A template cannot be compiled, or a rendering broke a limit or a channel's constraint.

    The path names the template's field in the message (``$.email.html``,
    ``$.blocks.footer``); the code says what went wrong (``syntax``,
    ``limit``, ``timeout``, ``too_long``, ``missing_unsubscribe`` ...). An
    abort asked for by the template itself is not an error but a result
    (`omnichannel.personalization.Aborted`).

    Examples:
        >>> TemplateError.one("$.sms.body", "too_long", "over 1,600 characters").errors[0].code
        'too_long'

    .. versionadded:: 0.1.0
    """

    @classmethod
    def one(cls, path: str, code: str, message: str) -> TemplateError:
        """Build a TemplateError holding one problem."""
        return cls([FieldError(path=path, code=code, message=message)])


class StoreError(OmnichannelError, RuntimeError):
    """The store could not do its part (locked too long, a schema from the future ...).

    Nothing of the failed operation was written. ``code`` is stable
    (``busy``, ``schema_too_new``).

    Examples:
        >>> StoreError("shop.db stayed locked", code="busy").code
        'busy'

    .. versionadded:: 0.1.0
    """

    code: str

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class FitError(OmnichannelError, ArithmeticError):
    """A model fit failed: the optimizer did not converge, or the data cannot identify the model.

    Raised instead of returning parameters that only look like an answer.
    ``code`` is stable (``no_data``, ``not_converged``, ``degenerate``);
    ``model`` names the model (``bg/nbd``, ``gamma-gamma``).

    Examples:
        >>> err = FitError("no repeat buyers", code="no_data", model="gamma-gamma")
        >>> err.code, err.model
        ('no_data', 'gamma-gamma')

    .. versionadded:: 0.1.0
    """

    code: str
    model: str

    def __init__(self, message: str, *, code: str, model: str) -> None:
        super().__init__(f"{model}: {message}")
        self.code = code
        self.model = model


class PluginError(OmnichannelError, ImportError):
    """A channel adapter cannot be found, loaded or trusted to keep the adapter protocol.

    ``distribution`` names the installed package that declared the faulty
    entry point (``None`` for an adapter registered in code or not found);
    ``code`` is stable (``unknown``, ``import``, ``protocol``).

    Examples:
        >>> err = PluginError("no adapter named 'fax'", code="unknown")
        >>> err.code, err.distribution
        ('unknown', None)

    .. versionadded:: 0.1.0
    """

    code: str
    distribution: str | None

    def __init__(self, message: str, *, code: str, distribution: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.distribution = distribution
