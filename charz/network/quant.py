"""Post-training quantization of a network's weight products: per-layer bits, per-output-channel
symmetric weight scales, calibrated activation ranges, and the exact integer product.

Conventions (what :mod:`charz.network.engine` applies to every activation x constant-weight product
``y = x @ W``, x (rows, K), W (K, N), before the bias)
------------------------------------------------------------------------------------------------------
- **Weights**: signed, symmetric, ``w_bits`` bits: integers in ``[-(2^(w_bits-1) - 1), 2^(w_bits-1) - 1]``
  (the most negative two's-complement code is not used, so the range is symmetric and a sign-magnitude
  array such as the CiM column stores it). ``w_int = clip(rint(W / s_w), -q, q)`` with one scale per
  output channel (column n of W), ``s_w[n] = max_k |W[k, n]| / q`` (``granularity="channel"``, the
  default) or one per tensor (``"tensor"``: ``max |W| / q``). An all-zero column gets ``s_w = 1`` (its
  integers are 0).
- **Activations**: one scale per product (per group of a grouped convolution). The range is calibrated
  on calibration images (:class:`RangeObserver`): ``"percentile"`` (the default, ``percentile`` = 99.99:
  the p-th percentile of the values, or of their magnitudes when signed) or ``"minmax"`` (the largest
  value / magnitude). Activations that are never negative on the calibration images (after a ReLU, a
  max-pool of ReLU outputs, pixels scaled to [0, 1]) are **unsigned**: ``x_int = clip(rint(x / s_x), 0,
  2^x_bits - 1)``, ``s_x = hi / (2^x_bits - 1)``; others are **signed symmetric**: ``clip(rint(x / s_x),
  -q, q)``, ``q = 2^(x_bits-1) - 1``, ``s_x = max |x| / q``. (Signedness is read from the data, not from the
  graph, so it sees through pooling, reshapes and concatenations; a value that is negative only on test
  images is clipped to 0.) A zero range gets ``s_x = 1``. No zero point (offset) is used: a backend that
  takes only unsigned inputs (the CiM column) applies signed ones in offset binary itself
  (:class:`charz.network.backends.CimLayerBackend`).
- **Product**: ``acc = x_int @ w_int`` exactly (:func:`integer_matmul`: float64 BLAS when every partial
  sum is an integer below 2^53, which makes it exact in any summation order, else int64), then
  ``y = acc * (s_x * s_w)`` (:func:`dequantize_product`; the scale product first, as
  :meth:`charz.network.mlp.QuantizedMLP.forward_int` does, so the two agree bit for bit).

Rounding is NumPy's ``rint`` (half to even) everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from ..core.errors import ParameterError
from ..core.validate import finite

MAX_BITS = 16
"""Widest weight / activation integers accepted [bits]."""
GRANULARITIES = ("channel", "tensor")
"""Weight scale granularities: one scale per output channel, or one per tensor."""
RANGE_METHODS = ("percentile", "minmax")
"""Activation range estimators of :class:`RangeObserver`."""
DEFAULT_PERCENTILE = 99.99
"""Default percentile of the activation range [%]."""
MAX_OBSERVED = 1 << 22
"""Largest number of values an observer keeps for a percentile (beyond it, a seeded uniform subsample)."""
_EXACT_F64 = 2.0**53


def check_bits(bits, name: str, lo: int = 2, hi: int = MAX_BITS) -> int:
    """*bits* as an int in [lo, hi], or a one-line ParameterError naming *name*."""
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not lo <= bits <= hi:
        raise ParameterError(f"{name} must be an integer from {lo} to {hi}, got {bits!r}")
    return int(bits)


def qmax(bits: int, signed: bool) -> int:
    """Largest integer code: ``2^(bits-1) - 1`` signed (symmetric), ``2^bits - 1`` unsigned."""
    return (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1


def quantize(x, scale, bits: int, signed: bool) -> np.ndarray:
    """int64 codes ``clip(rint(x / scale), lo, hi)``: [-q, q] signed (q = 2^(bits-1) - 1), [0, 2^bits - 1]
    unsigned. *scale* broadcasts against *x* (a scalar, or one per column)."""
    top = qmax(bits, signed)
    lo = -top if signed else 0
    v = np.array(x, dtype=np.float64)  # one float64 work array, then in place (same operations, same result)
    np.divide(v, scale, out=v)
    np.rint(v, out=v)
    np.clip(v, lo, top, out=v)
    return v.astype(np.int64)


def dequantize(q, scale) -> np.ndarray:
    """float64 ``q * scale``."""
    return np.asarray(q, dtype=np.float64) * scale


# ---- weights ----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class WeightQuant:
    """Symmetric signed weight quantization of one (K, N) matrix: ``bits``, ``scale`` (N,) per output
    channel (all equal for ``granularity="tensor"``)."""

    bits: int
    scale: np.ndarray
    """(N,) float64 scale per output column: W ~ w_int * scale."""
    granularity: str = "channel"

    @property
    def qmax(self) -> int:
        """Largest magnitude code, 2^(bits-1) - 1."""
        return qmax(self.bits, True)

    def quantize(self, w) -> np.ndarray:
        """(K, N) int64 codes of *w* (clipped to the symmetric range)."""
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != self.scale.size:
            raise ParameterError(f"weights of shape {w.shape} do not match {self.scale.size} output-channel scales")
        return quantize(w, self.scale, self.bits, True)

    def dequantize(self, q) -> np.ndarray:
        """float64 weights ``q * scale``."""
        return dequantize(q, self.scale)

    def describe(self) -> dict:
        """Bits, granularity and the scale range, JSON-ready."""
        return {"bits": self.bits, "granularity": self.granularity, "signed": True,
                "scale_min": float(self.scale.min()), "scale_max": float(self.scale.max())}


def weight_quant(w, bits: int, granularity: str = "channel", scale=None) -> WeightQuant:
    """The :class:`WeightQuant` of the (K, N) matrix *w*: ``max |column| / (2^(bits-1) - 1)`` per output
    channel (``"channel"``) or ``max |w| / (2^(bits-1) - 1)`` for all (``"tensor"``); *scale* (a number or
    (N,)) uses a recorded scale instead."""
    bits = check_bits(bits, "w_bits")
    if granularity not in GRANULARITIES:
        raise ParameterError(f"weight scale granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ParameterError(f"weights must be a 2-D (K, N) matrix, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ParameterError("weights have inf/NaN values: cannot quantize them")
    if scale is not None:
        s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (w.shape[1],)).copy()
        if not np.all(np.isfinite(s) & (s > 0)):
            raise ParameterError(f"a recorded weight scale must be finite and > 0, got {scale!r}")
        return WeightQuant(bits, s, granularity)
    top = qmax(bits, True)
    amax = np.max(np.abs(w), axis=0) if w.shape[0] else np.zeros(w.shape[1])
    if granularity == "tensor":
        amax = np.full(w.shape[1], float(amax.max()) if amax.size else 0.0)
    s = np.where(amax > 0, amax / top, 1.0)
    return WeightQuant(bits, s, granularity)


NF4_LEVELS = (-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
              -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
              0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
              0.7229568362236023, 1.0)
"""The 16 NormalFloat-4 levels in [-1, 1]: quantiles of a normal distribution with an exact zero (QLoRA,
Dettmers et al., NeurIPS 2023), the 4-bit format for normally distributed weights."""
NF4_MIN_GRID_BITS = 6
"""The fewest integer bits on which the 16 NF4 levels stay distinct (x 31: -31, -22, -16, ..., 22, 31)."""


def nf4_weights(w, bits: int = NF4_MIN_GRID_BITS) -> tuple[np.ndarray, WeightQuant]:
    """NF4 weights of the (K, N) matrix *w* for an integer engine: every output column scaled by its largest
    |w|, every weight rounded to the nearest NF4 level, the level written as the nearest integer of
    level x (2^(bits-1) - 1). Returns (K, N) int64 codes (16 distinct values per column at most) and the
    :class:`WeightQuant` (``bits``, scale = max |column| / (2^(bits-1) - 1)) that dequantizes them. A bit-plane
    engine multiplies these codes as ``bits``-bit weights: NF4 is a 4-bit *storage* format, its arithmetic
    needs the grid."""
    bits = check_bits(bits, "NF4 grid bits")
    if bits < NF4_MIN_GRID_BITS:
        raise ParameterError(f"NF4 levels need at least a {NF4_MIN_GRID_BITS}-bit integer grid to stay distinct, "
                             f"got {bits}")
    wq = weight_quant(w, bits, "channel")
    w = np.asarray(w, dtype=np.float64)
    u = w / (wq.scale * wq.qmax)  # in [-1, 1] per column
    lv = np.asarray(NF4_LEVELS)
    idx = np.argmin(np.abs(u[..., None] - lv), axis=-1)
    return np.rint(lv[idx] * wq.qmax).astype(np.int64), wq


# ---- activations ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ActQuant:
    """Quantization of the activations entering one product: ``bits``, one ``scale``, ``signed`` (symmetric)
    or unsigned, and the calibrated range [lo, hi] it came from."""

    bits: int
    scale: float
    signed: bool
    lo: float = 0.0
    """Calibrated lower end (0 when unsigned, -hi when signed)."""
    hi: float = 0.0
    """Calibrated upper end (the value that maps to the top code)."""
    source: str = "calibrated"
    """``calibrated`` or ``recorded`` (the graph's metadata)."""

    @property
    def qmax(self) -> int:
        """Largest code: 2^bits - 1 unsigned, 2^(bits-1) - 1 signed."""
        return qmax(self.bits, self.signed)

    @property
    def qmin(self) -> int:
        """Smallest code: 0 unsigned, -(2^(bits-1) - 1) signed."""
        return -self.qmax if self.signed else 0

    def quantize(self, x) -> np.ndarray:
        """int64 codes of the activations *x*."""
        return quantize(x, self.scale, self.bits, self.signed)

    def dequantize(self, q) -> np.ndarray:
        """float64 activations ``q * scale``."""
        return dequantize(q, self.scale)

    def describe(self) -> dict:
        """Bits, signedness, scale and range, JSON-ready."""
        return {"bits": self.bits, "signed": self.signed, "scale": self.scale, "lo": self.lo, "hi": self.hi,
                "source": self.source}


def act_quant(lo: float, hi: float, bits: int, signed: bool | None = None, source: str = "calibrated") -> ActQuant:
    """The :class:`ActQuant` of a calibrated range: signed (symmetric over max(|lo|, |hi|)) when *signed* is
    True, or None and ``lo < 0``; else unsigned over [0, hi]."""
    bits = check_bits(bits, "x_bits", 1)
    lo, hi = finite(lo, "activation range low end"), finite(hi, "activation range high end")
    signed = bool(lo < 0) if signed is None else bool(signed)
    if signed and bits < 2:
        raise ParameterError("signed activations need x_bits >= 2 (a sign and a magnitude bit)")
    amax = max(abs(lo), abs(hi)) if signed else max(hi, 0.0)
    top = qmax(bits, signed)
    scale = amax / top if amax > 0 else 1.0
    return ActQuant(bits, float(scale), signed, -amax if signed else 0.0, float(amax), source)


def recorded_act_quant(scale: float, bits: int, signed: bool) -> ActQuant:
    """An :class:`ActQuant` with a given (recorded) scale."""
    s = finite(scale, "recorded activation scale")
    if s <= 0:
        raise ParameterError(f"a recorded activation scale must be > 0, got {scale!r}")
    bits = check_bits(bits, "x_bits", 1)
    top = qmax(bits, bool(signed)) * s
    return ActQuant(bits, s, bool(signed), -top if signed else 0.0, top, "recorded")


class RangeObserver:
    """Collects the activations entering one product on the calibration images and gives their range.

    ``method="minmax"``: running min / max. ``method="percentile"``: the values are kept (at most
    ``max_values``, default :data:`MAX_OBSERVED`; beyond that a uniform sample of all values seen, drawn with
    a fixed seed) and :meth:`range` returns ``hi = percentile(x, p)`` when no value was negative, else
    ``hi = percentile(|x|, p)``, ``lo = -hi`` (NumPy's linear interpolation). Signedness is always from the
    true minimum."""

    def __init__(self, method: str = "percentile", percentile: float = DEFAULT_PERCENTILE,
                 max_values: int = MAX_OBSERVED):
        if method not in RANGE_METHODS:
            raise ParameterError(f"activation range method must be one of {', '.join(RANGE_METHODS)}, got {method!r}")
        p = finite(percentile, "percentile")
        if not 50.0 < p <= 100.0:
            raise ParameterError(f"percentile must be in (50, 100], got {percentile!r}")
        self.method, self.percentile, self.max_values = method, p, int(max_values)
        self.min = math.inf
        self.max = -math.inf
        self.count = 0
        self._vals = np.zeros(0)
        self._keys: np.ndarray | None = None
        self._rng = np.random.default_rng(0)

    def update(self, x) -> None:
        """Add the values of *x* (any shape).

        Memory: the values are kept in their own float dtype (float32 for a float32 model: exact, the
        percentile is taken in float64 as before) and their random keys (float64, drawn in order from the
        observer's generator) only once more than ``max_values`` have been seen: a generator's stream does not
        depend on how the draws are split, so the keys drawn late are the keys drawn per update."""
        v = np.asarray(x)
        if v.dtype.kind != "f":
            v = v.astype(np.float64)
        v = v.reshape(-1)
        if not v.size:
            return
        if not np.all(np.isfinite(v)):
            raise ParameterError("an activation has inf/NaN values on the calibration images")
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))
        self.count += v.size
        if self.method == "percentile":
            # a uniform sample of everything seen: every value gets a random key, the smallest keys are kept
            self._vals = np.concatenate([self._vals, v]) if self._vals.size else v.copy()
            if self._keys is None and self._vals.size > self.max_values:
                self._keys = self._rng.random(self._vals.size - v.size)  # the keys of the values kept so far
            if self._keys is not None:
                self._keys = np.concatenate([self._keys, self._rng.random(v.size)])
                if self._vals.size > self.max_values:
                    keep = np.argpartition(self._keys, self.max_values - 1)[: self.max_values]
                    self._vals, self._keys = self._vals[keep], self._keys[keep]

    @property
    def kept(self) -> int:
        """Values kept for the percentile (all of them up to ``max_values``)."""
        return int(self._vals.size)

    @property
    def signed(self) -> bool:
        """True when a negative value was seen."""
        return self.min < 0

    def range(self) -> tuple[float, float]:
        """(lo, hi) of the values seen; (0, 0) before any."""
        if not self.count:
            return 0.0, 0.0
        if self.method == "minmax":
            if self.signed:
                a = max(-self.min, self.max)
                return -a, a
            return 0.0, self.max
        v = self._vals.astype(np.float64, copy=False)
        if self.signed:
            a = float(np.percentile(np.abs(v), self.percentile))
            return -a, a
        return 0.0, float(np.percentile(v, self.percentile))

    def quant(self, bits: int) -> ActQuant:
        """The :class:`ActQuant` of the observed range with *bits* bits."""
        lo, hi = self.range()
        return act_quant(lo, hi, bits, signed=self.signed)


# ---- the product ------------------------------------------------------------------------------------
def integer_matmul(x_int, w_int) -> np.ndarray:
    """The exact integer product ``x_int @ w_int`` (int64). Uses float64 BLAS when ``K * max|x| * max|w|``
    is below 2^53 (every product and partial sum is then an integer float64 holds exactly, whatever the
    summation order), else NumPy's int64 matmul; a sum that could overflow int64 is a ParameterError."""
    x = np.asarray(x_int)
    w = np.asarray(w_int)
    if x.dtype.kind not in "iu" or w.dtype.kind not in "iu":
        raise ParameterError(f"integer_matmul needs integer operands, got {x.dtype} and {w.dtype}")
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ParameterError(f"integer_matmul needs x (rows, K) and w (K, N), got {x.shape} and {w.shape}")
    if not x.size or not w.size:
        return np.zeros((x.shape[0], w.shape[1]), dtype=np.int64)
    amax = max(int(x.max()), -int(x.min()))  # max |x| without an int64 copy of x
    bound = float(x.shape[1]) * float(amax) * float(np.max(np.abs(w.astype(np.int64))))
    if bound < _EXACT_F64:
        return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    if bound >= 2.0**63:
        raise ParameterError(f"an integer product of K={x.shape[1]} terms could overflow int64: use fewer bits")
    return x.astype(np.int64) @ w.astype(np.int64)


def dequantize_product(acc, x_scale: float, w_scale) -> np.ndarray:
    """float64 ``acc * (x_scale * w_scale)`` (*w_scale* a number or one per output column)."""
    return np.asarray(acc, dtype=np.float64) * (x_scale * np.asarray(w_scale, dtype=np.float64))
