"""Number checks shared by generators, recipes and behavioral models (one message style everywhere)."""

from __future__ import annotations

import math
import os

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


def bounded(value, what: str, upper: float) -> float:
    """*value* as a finite float in (0, upper]; the upper bound catches values given in the wrong unit."""
    v = finite(value, what)
    if v <= 0:
        raise ParameterError(f"{what} must be positive, got {value!r}")
    if v > upper:
        raise ParameterError(f"{what} = {v:g} is implausibly large (at most {upper:g}): values are in SI units")
    return v


def round12(x: float) -> float:
    """*x* rounded to 12 significant digits (3.84e-07, not 3.8400000000000005e-07), as ``num()`` writes it."""
    return float(f"{x:.12g}")


def posint(x, name: str, hi: int | None = None) -> int:
    """*x* as an int >= 1 (and <= *hi*), or a ParameterError naming *name*."""
    import numbers

    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < 1 or (hi is not None and x > hi):
        rng = f"from 1 to {hi}" if hi is not None else ">= 1"
        raise ParameterError(f"{name} must be an integer {rng}, got {x!r}")
    return int(x)


def num(value: float, what: str = "value") -> str:
    """A finite number formatted for SPICE, the same bytes for the same float (shortest round-trip repr)."""
    v = finite(value, what)
    if v == 0.0:
        return "0"
    return format(v, ".12g")  # 12 significant digits: deterministic and readable (4.8e-08, not 4.8000000000000006e-08)


def setting(override, env: str, check):
    """A process-wide setting: *override* (set from the command line, already checked) when not None, else
    the environment variable *env* passed through ``check(text, env)`` when it is set, else None."""
    import os

    if override is not None:
        return override
    text = os.environ.get(env)
    return check(text, env) if text else None


WORKERS_PER_CPU = 4
"""Local worker processes are at most this many times the CPU count (simulations and network runs are
CPU-bound: more only thrashes)."""


def max_workers() -> int:
    """The most local worker processes accepted: :data:`WORKERS_PER_CPU` x the CPU count."""
    return WORKERS_PER_CPU * (os.cpu_count() or 1)
