"""The error tree: one root, builtin behaviour, structured problems."""

from __future__ import annotations

import pytest

from omnichannel import FieldError, OmnichannelError, ValidationError


def test_validation_error_is_ours_and_a_value_error():
    """Code written for plain Python (except ValueError) still catches our validation errors."""
    err = ValidationError.one("$.a", "type", "must be a string")
    assert isinstance(err, OmnichannelError)
    assert isinstance(err, ValueError)


def test_validation_error_lists_every_problem():
    """str() shows a count and each problem with path, message and code."""
    err = ValidationError(
        [
            FieldError(path="$.a", code="type", message="must be a string"),
            FieldError(path="$.b", code="required", message="is required"),
        ]
    )
    assert (
        "2 validation errors\n  $.a: must be a string [type]\n  $.b: is required [required]"
        == str(err)
    )


def test_validation_error_needs_a_problem():
    """An empty ValidationError would hide what went wrong, so it cannot be built."""
    with pytest.raises(ValueError, match="at least one"):
        ValidationError([])


def test_field_error_reroots_under_a_prefix():
    """An error found inside a nested value is reported at its full path."""
    inner = FieldError(path="$.price", code="type", message="x")
    assert "$.batch[2].price" == inner.under("$.batch[2]").path
    assert "$.batch[2]" == FieldError(path="$", code="type", message="x").under("$.batch[2]").path
