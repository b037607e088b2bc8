"""FP8 number formats (OCP 8-bit floating point, E4M3 and E5M2) in plain NumPy.

A code is one byte ``S.E...E.M...M``: sign bit S, exponent field e (``ebits`` bits), mantissa field f
(``mbits`` = m bits). With the exponent bias B:

- normal (``e >= 1``):   value = (-1)^S * (2^m + f) * 2^(e - B - m)
- subnormal (``e = 0``): value = (-1)^S * f * 2^(1 - B - m)  (gradual underflow; f = 0 is +-0)

Both cases are one formula with the *time code* ``E = max(e, 1)`` and the integer significand
``M = f + 2^m [e >= 1]`` (hidden bit 0 for subnormals): value = (-1)^S * M * 2^(E - B - m). That is
what :func:`fields` returns and what the time-domain MAC (:mod:`charz.blocks.td_mac.model`) uses: a
subnormal launches its edge with exponent code 1, not 0, because its significand is scaled like the
smallest normal's.

The two formats (OCP "OFP8" semantics)
--------------------------------------
- **E4M3** (``ebits=4, mbits=3, bias=7``): no infinities. Only ``S.1111.111`` (0x7F, 0xFF) is NaN;
  the other codes of the top exponent field are ordinary numbers, so the largest finite value is
  ``1.110b * 2^8 = 448`` and the range reaches one binade further than an IEEE-like layout would.
  Smallest subnormal ``2^-9``, smallest normal ``2^-6``.
- **E5M2** (``ebits=5, mbits=2, bias=15``): IEEE-754-like. ``S.11111.00`` is +-inf, ``S.11111.{01,10,11}``
  are NaN; largest finite ``1.11b * 2^15 = 57344``, smallest normal ``2^-14``, smallest subnormal
  ``2^-16``.

Conversion to FP8 (:func:`quantize`, :func:`encode`)
----------------------------------------------------
- rounding: to nearest, ties to even (the even integer significand M), as IEEE-754 does by default;
  a value that rounds up out of a binade becomes the next power of two;
- subnormals are kept (gradual underflow); a magnitude at or below half the smallest subnormal
  rounds to a zero of the input's sign (exactly half is a tie and goes to the even significand, 0);
- NaN stays NaN (a NaN input's sign is not kept: :func:`encode` gives the canonical NaN 0x7F, which
  is a NaN in both formats: E4M3's only positive NaN, an E5M2 NaN with mantissa field 11);
- overflow (a value that rounds to more than the largest finite value), infinities included:
  ``saturate=True`` (the default for both formats) clamps to +-max. This is the saturating
  conversion the OCP specification allows and ML accelerators use for FP8 tensors (a clipped
  activation or weight is far less harmful than an inf or a NaN that poisons a whole dot product).
  ``saturate=False`` gives the non-saturating result of each format: +-inf for E5M2 (IEEE rule:
  overflow after rounding goes to inf), NaN for E4M3 (it has no inf; OCP maps overflow and inf
  to NaN). Rounding decides overflow: for E4M3, 464 (the midpoint of 448 and the unrepresentable 480)
  is a tie and goes to the even significand, 448; anything above 464 overflows. For E5M2, 61440 (the
  midpoint of 57344 and 2^16) ties to the even 2^16, which overflows.

Decoding (:func:`decode`) is exact in float64 (every FP8 value is a float64). :func:`exact_dot` is
the reference for the time-domain MAC: the float64 nearest to the *exact* sum of the FP8 products
(see its docstring for when that is the exact sum itself).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core.errors import ParameterError

__all__ = ["Fp8Format", "E4M3", "E5M2", "FORMATS", "get_format", "quantize", "encode", "decode", "fields",
           "exact_dot", "CANONICAL_NAN"]

CANONICAL_NAN = 0x7F
"""The NaN code :func:`encode` writes for any NaN (a NaN in both formats)."""


@dataclasses.dataclass(frozen=True)
class Fp8Format:
    """One FP8 format. Times and codes elsewhere in charz use the fields defined in the module doc."""

    name: str
    ebits: int
    mbits: int
    bias: int
    max_finite: float
    min_subnormal: float
    has_inf: bool

    @property
    def min_normal(self) -> float:
        """Smallest positive normal value: 2^(1 - bias)."""
        return 2.0 ** (1 - self.bias)

    @property
    def max_exp_field(self) -> int:
        """Largest exponent field that holds finite values (E4M3: 15, E5M2: 30)."""
        top = (1 << self.ebits) - 1
        return top - 1 if self.has_inf else top

    @property
    def n_codes(self) -> int:
        """Number of exponent (time) codes of one delay line: 2^ebits."""
        return 1 << self.ebits

    @property
    def pmax(self) -> int:
        """Largest product of two integer significands, (2^(m+1) - 1)^2."""
        return ((1 << (self.mbits + 1)) - 1) ** 2

    def values(self) -> np.ndarray:
        """(256,) float64 value of every code (NaN for NaN codes, +-inf for E5M2's inf codes)."""
        return _table(self)[0]


E4M3 = Fp8Format("e4m3", 4, 3, 7, 448.0, 2.0**-9, False)
E5M2 = Fp8Format("e5m2", 5, 2, 15, 57344.0, 2.0**-16, True)
FORMATS = {"e4m3": E4M3, "e5m2": E5M2}


def get_format(fmt) -> Fp8Format:
    """An :class:`Fp8Format` from itself or its name ("e4m3", "e5m2", case-insensitive)."""
    if isinstance(fmt, Fp8Format):
        return fmt
    key = str(fmt).lower().replace("_", "").replace("-", "") if isinstance(fmt, str) else None
    if key not in FORMATS:
        raise ParameterError(f"unknown FP8 format {fmt!r}: use 'e4m3' or 'e5m2'")
    return FORMATS[key]


# ---- code tables ---------------------------------------------------------------------------------
_TABLES: dict = {}


def _table(fmt: Fp8Format):
    """Per-code tables: value (float64), sign, time code E, significand M (int64), is-NaN, is-inf."""
    t = _TABLES.get(fmt.name)
    if t is None:
        c = np.arange(256)
        s = c >> 7
        e = (c >> fmt.mbits) & ((1 << fmt.ebits) - 1)
        f = c & ((1 << fmt.mbits) - 1)
        big_e = np.maximum(e, 1)
        m = f + np.where(e >= 1, 1 << fmt.mbits, 0)
        val = np.where(s == 1, -1.0, 1.0) * np.ldexp(m.astype(float), big_e - fmt.bias - fmt.mbits)
        top = (1 << fmt.ebits) - 1
        if fmt.has_inf:
            inf = (e == top) & (f == 0)
            nan = (e == top) & (f != 0)
        else:
            inf = np.zeros(256, dtype=bool)
            nan = (e == top) & (f == (1 << fmt.mbits) - 1)
        val = np.where(nan, np.nan, np.where(inf, np.where(s == 1, -np.inf, np.inf), val))
        for a in (val, s, big_e, m, nan, inf):
            a.flags.writeable = False
        t = _TABLES[fmt.name] = (val, s.astype(np.int64), big_e.astype(np.int64), m.astype(np.int64), nan, inf)
    return t


# ---- conversion ----------------------------------------------------------------------------------
def quantize(x, fmt, saturate: bool = True) -> np.ndarray:
    """*x* rounded to the nearest value of *fmt* (ties to even), as float64; see the module doc for
    subnormals, NaN and overflow (``saturate``)."""
    f = get_format(fmt)
    return _table(f)[0][encode(x, f, saturate)]


def encode(x, fmt, saturate: bool = True) -> np.ndarray:
    """uint8 codes of *x* rounded to *fmt* (module doc: ties to even, gradual underflow, ``saturate``);
    any NaN -> 0x7F (canonical NaN), -0.0 -> 0x80.

    The magnitude is rounded on its own quantum ``2^qe`` (``qe = max(unbiased exponent, 1 - bias) -
    m``, fixed in the subnormal range): ``r = rint(|x| / 2^qe)`` (half to even). The positive codes
    are ordered by value, and ``code = (qe + m + bias - 1) 2^m + r`` holds for normal and subnormal
    results alike (r = 2^(m+1), a carry out of the binade, lands on the next binade's first code)."""
    f = get_format(fmt)
    x = np.asarray(x, dtype=float)
    ax = np.abs(x)
    m = f.mbits
    top = _top_code(f)
    with np.errstate(over="ignore", invalid="ignore"):
        _, ex = np.frexp(ax)  # ax = frac * 2^ex, frac in [0.5, 1): unbiased exponent ex - 1
        qe = np.maximum(ex - 1, 1 - f.bias) - m
        r = np.rint(np.ldexp(ax, -qe))  # inf stays inf, NaN stays NaN
        mag = (qe + (m + f.bias - 1)) * float(1 << m) + r
        mag = np.where(ax == 0, 0.0, mag)  # frexp(0) has exponent 0, not the subnormal quantum's
    over = top + 1 if (f.has_inf and not saturate) else (top if saturate else CANONICAL_NAN)
    mag = np.where(mag <= top, mag, over)  # NaN compares False: handled below
    code = mag.astype(np.uint8) | (np.signbit(x).astype(np.uint8) << 7)
    if f.has_inf is False and not saturate:
        code = np.where(mag == CANONICAL_NAN, np.uint8(CANONICAL_NAN), code)
    return np.where(np.isnan(x), np.uint8(CANONICAL_NAN), code).astype(np.uint8, copy=False)


def _top_code(f: Fp8Format) -> int:
    """Code of the largest finite value (E4M3 0x7E, E5M2 0x7B)."""
    return int(np.flatnonzero(np.isfinite(_table(f)[0][:128]))[-1])


def decode(codes, fmt) -> np.ndarray:
    """float64 values of uint8 *codes* (any integer array with values 0..255)."""
    f = get_format(fmt)
    c = _check_codes(codes)
    return _table(f)[0][c]


def fields(values_or_codes, fmt):
    """``(sign, E, M)`` int64 arrays: sign bit (0/1), time code E = max(exponent field, 1) and integer
    significand M (hidden bit included, 0 for subnormals), so that a finite value is exactly
    ``(-1)^sign * M * 2^(E - bias - mbits)`` (zeros: E = 1, M = 0).

    A uint8 array is taken as codes; anything else as values, rounded to the format first
    (:func:`encode`, saturating). For NaN and inf codes E and M are those of the bit pattern (meaningless as a
    number; check with ``np.isfinite(decode(...))``)."""
    f = get_format(fmt)
    arr = np.asarray(values_or_codes)
    c = _check_codes(arr) if arr.dtype == np.uint8 else encode(arr, f)
    _, s, e, m, _, _ = _table(f)
    return s[c], e[c], m[c]


def _check_codes(codes) -> np.ndarray:
    c = np.asarray(codes)
    if c.dtype == np.uint8:
        return c
    if c.dtype.kind not in "iu":
        raise ParameterError(f"FP8 codes must be integers 0..255 (uint8), got dtype {c.dtype}: encode values first")
    if c.size and (c.min() < 0 or c.max() > 255):
        raise ParameterError(f"FP8 codes must lie in 0..255, got [{c.min()}, {c.max()}]")
    return c.astype(np.uint8)


# ---- exact reference -----------------------------------------------------------------------------
LIMB = 32
"""Bit position of the split of wide fixed-point sums into two int64 limbs."""


def limb_sum(sign, p, shift, axis: int = -1) -> np.ndarray:
    """The float64 nearest (ties to even) to ``sum sign * p * 2^shift`` along *axis*.

    *sign* in {0, 1} (1 = negative), *p* >= 0 integers < 2^16, *shift* integers >= -63 (negative
    shifts floor the term: ``floor(p / 2^-shift)``) with ``p * 2^shift < 2^96``. Each term is split
    at bit ``LIMB`` into two int64 limbs, each limb summed exactly (up to 2^19 terms), and the two
    exact limb sums are combined with a single rounding: the result is correctly rounded however
    wide the sum is. Used by :func:`exact_dot` and by the time-domain MAC's wide accumulations."""
    p = np.asarray(p, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    neg = np.asarray(sign).astype(bool)
    up = np.clip(s, 0, None)
    down = np.clip(-s, 0, 63)
    hi_sh = up - LIMB
    hi = np.where(hi_sh >= 0, p << np.clip(hi_sh, 0, 62), p >> np.clip(-hi_sh, 0, 63))
    hi = np.where(s >= 0, hi, 0)
    lo = np.where(s >= 0, (p << np.clip(up, 0, LIMB - 1)) & ((1 << LIMB) - 1), p >> down)
    lo = np.where(hi_sh >= 0, 0, lo)
    lo = np.where((s < 0) & (down >= 63), 0, lo)
    hs = np.where(neg, -hi, hi).sum(axis=axis)
    ls = np.where(neg, -lo, lo).sum(axis=axis)
    return np.ldexp(hs.astype(float), LIMB) + ls.astype(float)


def exact_dot(a, b, fmt, saturate: bool = True) -> np.ndarray:
    """Exact FP8 reference of ``sum(a * b)`` along the last axis (a and b broadcast): the float64
    nearest (ties to even) to the exact sum of the FP8 products.

    a and b are rounded to *fmt* first (:func:`quantize`). Each FP8 product is exact in float64 and a
    multiple of the smallest product's unit 2^(2 (1 - bias - m)) (2^-18 for E4M3, 2^-32 for E5M2).
    E4M3: products are below 2^35.6 units, so for up to 2^17 products every partial sum is an integer
    number of units below 2^53 and the plain float64 sum is exact in any order: the result *is* the
    exact sum. E5M2: a sum can need ~70 bits (products from 2^-32 to 2^31.8), so it is accumulated in
    fixed point with two int64 limbs and rounded once (:func:`limb_sum`): exact whenever the products
    of one dot product span less than about 53 - log2(L) bits (no mix of near-max and subnormal
    products), correctly rounded otherwise. Dot products with a NaN or inf operand return the IEEE
    float64 sum of products (NaN for NaN, inf * 0 and inf - inf; +-inf otherwise)."""
    f = get_format(fmt)
    qa, qb = np.broadcast_arrays(quantize(a, f, saturate), quantize(b, f, saturate))
    if qa.ndim == 0:
        raise ParameterError("exact_dot needs vectors (..., L), got scalars")
    n = max(qa.shape[-1], 1)
    lsb = 2 * (1 - f.bias - f.mbits)  # exponent of the smallest product's unit
    if math.log2(n) + 2 * math.log2(f.max_finite) - lsb < 53:
        # every partial sum is an integer number of units below 2^53: float64 adds exactly, in any order
        with np.errstate(invalid="ignore"):
            return np.sum(qa * qb, axis=-1)
    sa, ea, ma = fields(encode(qa, f, saturate), f)
    sb, eb, mb = fields(encode(qb, f, saturate), f)
    finite = np.isfinite(qa) & np.isfinite(qb)
    p = np.where(finite, ma * mb, 0)
    y = np.ldexp(limb_sum(sa ^ sb, p, ea + eb - 2), lsb)
    bad = ~np.all(finite, axis=-1)
    if np.any(bad):
        with np.errstate(invalid="ignore"):
            y = np.where(bad, np.sum(qa * qb, axis=-1), y)
    return y
