"""Sign-magnitude inputs, bit planes and the counts of the behavioral WHT crossbar (:mod:`charz.blocks.wht.model`).

Input checks of B-bit sign-magnitude vectors, quantization, the soft threshold, the exact integer block
WHT (:func:`block_hadamard`, :func:`exact_wht`), the bit planes a crossbar is fed with (signed planes, and
planes packed by 8 rows for the byte-table gathers of :class:`charz.blocks.wht.model.WhtLayer`), and
:class:`WhtStats`, the counts and energies of a run with the counting :data:`CONVENTIONS`.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from ...core.errors import ParameterError
from ...core.hadamard import hadamard
from ...core.validate import finite

MODES = ("sign", "ternary")
DEFAULT_BITS = 8
MAX_BITS = 16
CONVENTIONS = {
    "ops": "one R-point transform of one B-bit vector = R x R MACs = 2 R^2 ops (per vector, not per bit "
           "plane); only transforms run on the crossbar are counted",
    "energy": "sum over evaluated column-planes of the wht_column LUT's nominal energy[k+, k-] at the operating "
              "point (precharge + row drive share + latch + clock); all-zero planes are skipped (0 J); with early "
              "termination a stopped column saves its precharge + latch + clock energy, the row drive only when "
              "every column of the tile has stopped",
    "digital": "digital accumulation (shift-and-add), scaling, soft threshold, requantization, the dense "
               "classifier and data movement are NOT counted (0 J)",
    "tops_per_watt": "TOPS/W = ops / energy [J] / 1e12",
}


# ---- input checks and bit planes ------------------------------------------------------------------
def check_bits(bits) -> int:
    """*bits* (sign + magnitude) as an int when it is an integer from 2 to :data:`MAX_BITS`; else
    ``ParameterError``."""
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not (2 <= bits <= MAX_BITS):
        raise ParameterError(f"bits must be an integer from 2 to {MAX_BITS} (sign + magnitude bits), got {bits!r}")
    return int(bits)


def check_mode(mode) -> str:
    """*mode* when it is ``"sign"`` or ``"ternary"``; else ``ParameterError``."""
    if mode not in MODES:
        raise ParameterError(f"unknown WHT latch mode {mode!r}: choose 'sign' or 'ternary'")
    return mode


def check_rows(n_rows) -> int:
    """*n_rows* (the crossbar size R) as an int when it is a positive power of two; else
    ``ParameterError``."""
    if isinstance(n_rows, bool) or not isinstance(n_rows, numbers.Integral) or n_rows < 1 or (n_rows & (n_rows - 1)):
        raise ParameterError(f"the crossbar size R must be a power of two (rows = columns), got {n_rows!r}")
    return int(n_rows)


def max_int(bits: int) -> int:
    """Largest magnitude of a ``bits``-bit sign-magnitude integer: 2^(bits-1) - 1."""
    return (1 << (check_bits(bits) - 1)) - 1


def check_inputs(x_int, bits: int, n_rows: int) -> np.ndarray:
    """``x_int`` as an int64 (batch, n) array of B-bit sign-magnitude integers, n a multiple of R."""
    a = np.asarray(x_int)
    if a.dtype.kind == "f":
        if not (np.all(np.isfinite(a)) and np.all(a == np.round(a))):
            raise ParameterError("WHT inputs must be integers (quantize them first, e.g. quantize_signed())")
    elif a.dtype.kind not in "iu":
        raise ParameterError(f"WHT inputs must be integers, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ParameterError(f"WHT inputs must be a (batch, n) array, got shape {np.shape(x_int)}")
    if a.shape[1] == 0 or a.shape[1] % n_rows:
        raise ParameterError(f"vector length {a.shape[1]} is not a multiple of the crossbar size R = {n_rows}: "
                             f"pad the vectors with zeros to a multiple of {n_rows}")
    top = (1 << (bits - 1)) - 1
    if a.size and (a.min() < -top or a.max() > top):
        raise ParameterError(f"WHT inputs must be {bits}-bit sign-magnitude integers in [-{top}, {top}], "
                             f"got [{a.min()}, {a.max()}]: rescale or raise bits")
    return a


def quantize_signed(x, scale: float, bits: int = DEFAULT_BITS) -> np.ndarray:
    """round(x / scale) clipped to the B-bit sign-magnitude range (int64)."""
    top = max_int(bits)
    s = finite(scale, "quantization scale")
    if s <= 0:
        raise ParameterError(f"quantization scale must be > 0, got {scale!r}")
    return np.clip(np.rint(np.asarray(x, dtype=float) / s), -top, top).astype(np.int64)


def soft_threshold(z, tau):
    """ST(z, tau) = sign(z) max(|z| - tau, 0)."""
    z = np.asarray(z, dtype=float)
    return np.sign(z) * np.maximum(np.abs(z) - tau, 0.0)


def block_hadamard(n: int, n_rows: int, order: str = "sylvester") -> np.ndarray:
    """The n x n block-diagonal matrix of n / R Hadamard blocks (the exact linear block WHT: x @ it)."""
    h = hadamard(check_rows(n_rows), order)
    if n % n_rows:
        raise ParameterError(f"vector length {n} is not a multiple of the crossbar size R = {n_rows}")
    return np.kron(np.eye(n // n_rows, dtype=np.int64), h)


def exact_wht(x_int, n_rows: int, order: str = "sylvester") -> np.ndarray:
    """Exact integer block WHT ``y_j = sum_r H[r, j] x_r`` per block of R (no bit planes, no latch)."""
    x = np.asarray(x_int, dtype=np.int64)
    if x.ndim == 1:
        x = x[None, :]
    h = hadamard(check_rows(n_rows), order)
    b, n = x.shape
    if n % n_rows:
        raise ParameterError(f"vector length {n} is not a multiple of the crossbar size R = {n_rows}")
    return (x.reshape(b, n // n_rows, n_rows) @ h).reshape(b, n)


# ---- statistics of a run --------------------------------------------------------------------------
@dataclasses.dataclass
class WhtStats:
    """Counts of one or more crossbar transforms (add them with ``+=``); energies in J (None: ideal
    model without a LUT)."""

    bits: int
    n_rows: int
    vectors: int = 0
    """Transformed vectors of length n (all calls added)."""
    transforms: int = 0
    """R-point transforms (vectors x blocks)."""
    column_planes: int = 0
    """All column-plane slots: transforms x R x (B - 1)."""
    zero_planes: int = 0
    """Column-plane slots of all-zero planes (skipped by the controller, 0 J)."""
    active: int = 0
    """Column-planes of active planes: evaluated without early termination."""
    evaluated: int = 0
    """Column-planes actually evaluated (after early termination)."""
    tile_planes_active: int = 0
    tile_planes_evaluated: int = 0
    ternary_zero: int = 0
    """Evaluated column-planes whose result q was 0."""
    outputs: int = 0
    outputs_zero: int = 0
    """Outputs that are 0 after the soft threshold (|y| <= T; all outputs when no threshold is given
    count |y| == 0)."""
    planes_hist: np.ndarray | None = None
    """Histogram over 0..B-1 of the planes evaluated per column per vector."""
    energy: float | None = None
    """J, with early termination (as run)."""
    energy_no_et: float | None = None
    """J, the same evaluations without early termination (every active column-plane)."""
    energy_rows: float | None = None
    """J of row drive in ``energy``."""

    def __post_init__(self):
        if self.planes_hist is None:
            self.planes_hist = np.zeros(self.bits, dtype=np.int64)

    def __iadd__(self, o: "WhtStats") -> "WhtStats":
        if (o.bits, o.n_rows) != (self.bits, self.n_rows):
            raise ParameterError("cannot add WHT statistics of different bits / crossbar sizes")
        for f in ("vectors", "transforms", "column_planes", "zero_planes", "active", "evaluated", "tile_planes_active",
                  "tile_planes_evaluated", "ternary_zero", "outputs", "outputs_zero"):
            setattr(self, f, getattr(self, f) + getattr(o, f))
        self.planes_hist = self.planes_hist + o.planes_hist
        for f in ("energy", "energy_no_et", "energy_rows"):
            a, b = getattr(self, f), getattr(o, f)
            setattr(self, f, None if a is None and b is None else (a or 0.0) + (b or 0.0))
        return self

    @property
    def ops(self) -> int:
        """2 R^2 ops per R-point transform (per vector, not per plane)."""
        return 2 * self.n_rows * self.n_rows * self.transforms

    @property
    def skipped_fraction(self) -> float:
        """Fraction of the active column-planes skipped by early termination."""
        return 1.0 - self.evaluated / self.active if self.active else 0.0

    @property
    def energy_skipped_fraction(self) -> float | None:
        """Fraction of the energy early termination saved: 1 - energy / energy_no_et (None without
        energies)."""
        if self.energy is None or not self.energy_no_et:
            return None
        return 1.0 - self.energy / self.energy_no_et

    def summary(self) -> dict:
        """The counts as a JSON-ready dict: fractions of zero, skipped and ternary-zero planes, energies (J)
        with and without early termination, TOPS/W of each, output sparsity and the histogram of planes
        evaluated."""
        e, e0 = self.energy, self.energy_no_et
        return {
            "vectors": self.vectors, "transforms": self.transforms, "ops": self.ops,
            "column_planes": self.column_planes,
            "zero_plane_fraction": self.zero_planes / self.column_planes if self.column_planes else 0.0,
            "active_column_planes": self.active, "evaluated_column_planes": self.evaluated,
            "planes_skipped_fraction": self.skipped_fraction,
            "energy_J": e, "energy_no_et_J": e0,
            "energy_skipped_fraction": self.energy_skipped_fraction,
            "tops_per_watt": self.ops / e / 1e12 if e else None,
            "tops_per_watt_no_et": self.ops / e0 / 1e12 if e0 else None,
            "ternary_zero_fraction": self.ternary_zero / self.evaluated if self.evaluated else 0.0,
            "output_sparsity": self.outputs_zero / self.outputs if self.outputs else 0.0,
            "planes_evaluated_hist": self.planes_hist.tolist(),
        }


# ---- bit planes ------------------------------------------------------------------------------------
_BYTE_BITS = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(np.float32)
"""(256, 8): bit i of byte v."""
_POPCOUNT = _BYTE_BITS.sum(axis=1).astype(np.int16)


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    """(m, R, C) -> (m, rows, C) with zero rows appended."""
    if a.shape[1] == rows:
        return a
    out = np.zeros((a.shape[0], rows, a.shape[2]), dtype=a.dtype)
    out[:, :a.shape[1]] = a
    return out


def _transpose8(v: np.ndarray) -> np.ndarray:
    """8 x 8 bit-matrix transpose of every uint64 (byte i = row i): bit p of byte i <-> bit i of byte p."""
    t = (v ^ (v >> np.uint64(7))) & np.uint64(0x00AA00AA00AA00AA)
    v = v ^ t ^ (t << np.uint64(7))
    t = (v ^ (v >> np.uint64(14))) & np.uint64(0x0000CCCC0000CCCC)
    v = v ^ t ^ (t << np.uint64(14))
    t = (v ^ (v >> np.uint64(28))) & np.uint64(0x00000000F0F0F0F0)
    return v ^ t ^ (t << np.uint64(28))


def plane_bytes(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Bit planes of (b, m, R) sign-magnitude integers, packed by 8 rows: (pos, neg) uint8 arrays of
    shape (P, b, m, ceil(R / 8)); bit i of pos[p, ..., k] = 1 when row 8k + i is positive and bit p of
    its magnitude is 1 (neg: the same for negative rows). Rows are padded with zeros to a multiple of 8."""
    x = np.asarray(x)
    b, m, r = x.shape
    p_n = bits - 1
    rp = 8 * -(-r // 8)
    mag = np.abs(x)
    out = []
    for sel in (x > 0, x < 0):
        mg = np.zeros((b, m, rp), dtype=np.int16)  # magnitudes < 2^15 (bits <= 16)
        mg[..., :r] = np.where(sel, mag, 0)
        parts = []
        for lo in range(0, p_n, 8):  # one magnitude byte (8 planes) at a time
            byte = np.ascontiguousarray(((mg >> lo) & 0xFF).astype(np.uint8))
            v = _transpose8(byte.view(np.uint64))  # (b, m, rp / 8): byte p = plane lo + p of 8 rows
            parts.append(v.view(np.uint8).reshape(b, m, rp // 8, 8))
        planes = np.concatenate(parts, axis=-1)[..., :p_n] if len(parts) > 1 else parts[0][..., :p_n]
        out.append(np.ascontiguousarray(planes.transpose(3, 0, 1, 2)))
    return out[0], out[1]


def signed_planes(x_int: np.ndarray, bits: int) -> np.ndarray:
    """int8 array (P, *x.shape) of the signed bits sign(x) bit_p(|x|), p = 0..P-1 (P = bits - 1)."""
    x = np.asarray(x_int)
    mag = np.abs(x).astype(np.int16)
    sgn = np.sign(x).astype(np.int8)
    out = np.empty((bits - 1,) + x.shape, dtype=np.int8)
    for p in range(bits - 1):
        np.multiply(((mag >> p) & 1).astype(np.int8), sgn, out=out[p])
    return out


def signed_planes_msb(x: np.ndarray, bits: int) -> np.ndarray:
    """(n, planes, length) signed bits, MSB plane first: sign(x) * bit_p(|x|), p = bits-2 .. 0.

    The layout of the SPICE check (:mod:`charz.blocks.wht.check`): :func:`signed_planes` with the
    planes reversed and moved after the first axis, as int64."""
    return np.moveaxis(signed_planes(x, bits)[::-1], 0, 1).astype(np.int64)
