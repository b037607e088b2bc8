"""Parsing of numbers and sweep grids given on the command line.

A grid is ``start:stop:count`` (count >= 2, inclusive), a comma list ``a,b,c``, or one number (a fixed
point), at most MAX_POINTS points. Numbers take SPICE-style scale suffixes: f p n u m k (``50p`` = 50e-12).
Anything else is a ParameterError (exit 2 on the command line); a grid is always a list of finite floats.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .errors import ParameterError

MAX_POINTS = 1000
"""Most points on one axis (every point is at least one simulation)."""
_SUFFIX = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "": 1.0}
_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([fpnumk]?)\s*(?:s|v|c|f)?\s*$", re.IGNORECASE)


def number(text: str, what: str) -> float:
    """Read a number with an optional SPICE-style suffix (f p n u m k) and unit letter (s v c f), e.g. ``50p``
    or ``0.7v``; the result is rounded to 12 significant digits. *what* names it in the ``ParameterError``
    raised for unreadable or non-finite text."""
    m = _NUM.match(str(text))
    if not m:
        raise ParameterError(f"{what}: cannot read {text!r} as a number (examples: 0.7, 50p, 1e-12)")
    v = float(f"{float(m.group(1)) * _SUFFIX[m.group(2).lower()]:.12g}")  # 96n -> 9.6e-08, not 9.600000000000001e-08
    if not math.isfinite(v):
        raise ParameterError(f"{what}: {text!r} is not finite")
    return v


def grid(text: str | None, what: str) -> list[float] | None:
    """Parse a grid; None passes through (use the recipe's default)."""
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        raise ParameterError(f"{what}: the axis has no points; give a number, a list a,b,c or a range start:stop:count")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ParameterError(f"{what}: a range is start:stop:count, got {text!r}")
        a, b = number(parts[0], what), number(parts[1], what)
        try:
            n = int(parts[2])
        except ValueError as exc:
            raise ParameterError(f"{what}: the point count in {text!r} must be an integer") from exc
        if n < 2:
            raise ParameterError(
                f"{what}: a grid needs at least 2 points (got {n}); to fix the value give one number instead"
            )
        if n > MAX_POINTS:
            raise ParameterError(f"{what}: {n} points in {text!r} is more than {MAX_POINTS}: give a coarser grid")
        if b <= a:
            raise ParameterError(f"{what}: range {text!r} must increase (start < stop)")
        with np.errstate(over="ignore", invalid="ignore"):
            vals = np.round(np.linspace(a, b, n), 15)
        if not (math.isfinite(b - a) and np.all(np.isfinite(vals))):
            raise ParameterError(f"{what}: range {text!r} is too large to compute: give values in SI units")
        return [float(x) for x in vals]
    vals = [number(p, what) for p in text.split(",") if p.strip()]
    if not vals:
        raise ParameterError(f"{what}: the axis has no points")
    if len(vals) > MAX_POINTS:
        raise ParameterError(f"{what}: {len(vals)} points is more than {MAX_POINTS}: give a coarser grid")
    if len(set(vals)) != len(vals):
        raise ParameterError(f"{what}: repeated values in {text!r}")
    return vals
