"""Number checks shared by generators, recipes and behavioral models (one message style everywhere)."""

from __future__ import annotations

import math

from .errors import ParameterError


def finite(value, what: str) -> float:
    """*value* as a finite float, or a ParameterError naming *what*."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{what} must be a number, got {value!r}") from exc
    if not math.isfinite(v):
        raise ParameterError(f"{what} must be finite, got {value!r}")
    return v


def positive(value, what: str) -> float:
    """*value* as a finite float > 0."""
    v = finite(value, what)
    if v <= 0:
        raise ParameterError(f"{what} must be a positive number, got {value!r}")
    return v
