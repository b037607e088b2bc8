"""Behavioral signed-bit Walsh-Hadamard (WHT) crossbar, ideal or fed by the ``wht_column`` LUT.

What is computed
----------------
A crossbar of R rows and R columns (R = the LUT's ``n_rows``) is hard-wired with the +-1 Hadamard
matrix H (:func:`charz.core.hadamard.hadamard`); it computes ``y = H^T x`` for one block of R
inputs, i.e. ``y_j = sum_r H[r, j] x_r``. A vector of n = m R inputs is split into m blocks, each on
its own crossbar (a block WHT, "tile" t = 0..m-1).

Inputs are signed integers in sign-magnitude with B bits (one sign bit, B - 1 magnitude bits, so
``x`` is in [-(2^(B-1) - 1), 2^(B-1) - 1]), applied one magnitude bit plane at a time, MSB first
(planes p = B-2 .. 0). In plane p, row r carries the signed bit ``s_rp = sign(x_r) bit_p(|x_r|)`` in
{-1, 0, +1}. In column j an active row's cell pulls the + bitline if ``s_rp H[r, j] = +1`` and the
- bitline if it is -1, so ``k+ = #{r: s_rp H_rj = +1}``, ``k- = #{r: s_rp H_rj = -1}`` and
``d = k+ - k- = sum_r H_rj s_rp``; ``k+ + k- = a`` = the number of active rows (the same for every
column of the tile). One latch per column decides the plane's result ``q_jp``:

- mode ``"sign"``: +1 if d > 0, -1 if d < 0; a tie (d = 0 with active rows) is +1 in the ideal model
  and whatever the latch decides in the circuit model;
- mode ``"ternary"``: sign(d) in {-1, 0, +1} (the latch pair's dead zone gives 0 at the tie).

A plane in which no row of a tile is active (every magnitude bit of that plane is 0 for that block of
that vector) is skipped by the controller: q = 0 for all the tile's columns, no energy. The digital
result is ``y_j = sum_p 2^p q_jp``; a highly quantized WHT (|y| <= 2^(B-1) - 1).

Circuit model (CiM mode, :class:`WhtModel`)
-------------------------------------------
The latch(es) are those of the LUT (``charz characterize wht_column``, :mod:`charz.blocks.wht.netlist`):

- a *sign* LUT (``conditions["ternary"]`` false) has one latch per column, input-referred offset
  ``o ~ N(offset_mean, s offset_sigma)``: ``q = +1`` if ``dV > o`` else ``-1`` (mode ``"sign"``);
- a *ternary* LUT has the latch pair of the netlist: the upper latch (threshold
  ``th+ ~ N(thr_pos_mean, s thr_pos_sigma)``) and the lower latch (``th- ~ N(thr_neg_mean, s
  thr_neg_sigma)``), both clocked together: ``q = +1`` if ``dV > th+``; otherwise ``-1`` if
  ``dV < th-``; otherwise 0 (the contradictory upper 1 / lower 0 reads +1) (mode ``"ternary"``).

Per simulated chip (one draw of all mismatch, fixed for the whole run): per physical column the offset
or the two thresholds, and a column term ``e0 ~ N(0, s dv_sigma0)`` added to its dV (the part of the
Monte Carlo dV variance that does not grow with the active cells); per physical cell two transistors
(one conducts for positive inputs, one for negative), each with a fixed deviation
``e ~ N(0, s cell_sigma)`` of its contribution to the bitline difference (var dV = m cell_sigma^2 +
dv_sigma0^2 for m active cells, the recipe's fit). ``s`` = ``mismatch_scale`` (1 = the LUT's Monte
Carlo population; 0 = the nominal circuit). For one evaluation (one plane, one column)::

    dV = dv_s[k+, k-] + e0 + sum_{active r} c_r e_r,   c_r = +1 if the cell pulls the + bitline, else -1

with ``dV = V(bln) - V(blp)`` (positive when k+ > k-) and ``dv_s = dv + s (dv_mean - dv)``: the
nominal table at s = 0, the Monte Carlo mean at s = 1 (the systematic shift mismatch causes, scaled
linearly like :mod:`charz.blocks.cim_column.model` does; without Monte Carlo, ``dv``). The sum over cells is
gathered per tile from byte tables of ``H * E_pos`` and ``H * E_neg`` (or, for many tiles, one matmul
per tile). The random numbers do not depend on ``s`` (common random numbers: the same seed is the same
chip at every scale, only the deviations' size changes). No temporal noise: a chip is a deterministic
function. With ``s = 0`` the offset / thresholds sit at their fitted means: that reproduces the LUT's
nominal ``decision`` / ``ternary`` tables wherever |dv| clears them (ties may differ: the nominal
latch at dv ~ 0 decides by its own small systematic offset, which the Monte Carlo fit does not resolve).

Energy
------
Each evaluated column-plane costs the LUT's nominal ``energy[k+, k-]`` at the operating point; of
it, ``energy_rows[k+, k-]`` is the column's share of the row-line drive (shared by all columns of the
tile) and the rest (precharge + latch + clock) belongs to the column.

Early termination (a forward transform followed by a soft threshold): for a column with integer
threshold ``T_j`` (the soft threshold divided by the scale applied to ``y_j``), before the first
plane and after each plane p (partial sum S over the planes done), the planes left can add at most
``2^p - 1`` (``2^(B-1) - 1`` before the first): if ``|S| + (2^p - 1) <= T_j`` the soft-thresholded
output is 0 whatever follows, and the column stops. Its later planes are not evaluated (counted as
skipped), saving their column energy; a plane's row energy is saved only when every column of the
tile has stopped. Because the chip is deterministic, stopping never changes a soft-thresholded output
(ideal or CiM); the returned ``y`` of a stopped column is its partial sum, whose soft threshold is 0.

Ops convention: one R-point transform of one B-bit vector = R x R MACs = 2 R^2 ops (per vector, not per
plane); TOPS/W = ops / energy / 1e12.

:func:`synthetic_wht_lut` builds a SYNTHETIC ``wht_column`` LUT (no SPICE behind it) for tests.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Sequence

import numpy as np

from ...behavior.interfaces import Cost
from ...core.errors import CharzError, LUTError, ParameterError
from ...core.hadamard import ORDERS, hadamard
from ...core.lut import LUT, Axis, Kind
from ...core.validate import finite

BLOCK = Kind.WHT_COLUMN
MODES = ("sign", "ternary")
DEFAULT_BITS = 8
MAX_BITS = 16
PER_CORNER = ("offset_mean", "offset_sigma", "thr_pos_mean", "thr_pos_sigma", "thr_neg_mean", "thr_neg_sigma",
              "cell_sigma", "dv_sigma0", "dv_per_cell")
"""Per-corner tables the model reads when present (sign LUTs: offset_*; ternary LUTs: thr_*)."""
ENERGY_PARTS = ("energy_precharge", "energy_rows", "energy_latch", "energy_clock")
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


# ---- the LUT at an operating point --------------------------------------------------------------
@dataclasses.dataclass
class WhtModel:
    """A ``wht_column`` LUT read at one operating point. Build it with :meth:`from_lut`. A
    :class:`charz.behavior.interfaces.ColumnReadout`."""

    n_rows: int
    order: str
    coords: dict
    """Operating point: vdd [V], temp [degC], t_pulse [s]."""
    dv_nom: np.ndarray
    """(R+1, R+1) nominal dV[k+, k-] [V] (NaN where k+ + k- > R)."""
    dv_mc: np.ndarray | None
    """(R+1, R+1) Monte Carlo mean of dV [V], or None without Monte Carlo."""
    energy: np.ndarray
    """(R+1, R+1) nominal energy of one column-plane evaluation [J]."""
    energy_rows: np.ndarray
    """(R+1, R+1) the column's share of the row-line drive [J] (part of ``energy``)."""
    scalars: dict
    """Per-corner values of :data:`PER_CORNER` found in the LUT [V]; missing = absent."""
    mismatch_scale: float = 1.0
    ternary: bool = True
    """The LUT has the ternary latch (thresholds)."""
    mc_samples: int = 0
    choices: dict = dataclasses.field(default_factory=dict)
    provenance: dict = dataclasses.field(default_factory=dict)
    conditions: dict = dataclasses.field(default_factory=dict)
    energy_parts: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_lut(cls, lut: LUT, vdd: float | None = None, temp: float | None = None, t_pulse: float | None = None,
                 mismatch_scale: float = 1.0, order: str | None = None) -> "WhtModel":
        """Read *lut* at (vdd, temp, t_pulse); None picks a default, recorded in ``choices``:
        vdd = the PDK nominal VDD (provenance ``vdd_nom``) if inside the grid, else the highest grid VDD;
        temp = 27 degC if inside the grid, else the nearest grid temperature; t_pulse = the grid value
        with the largest worst-case decision margin ``min |dv - offset_mean| / sigma`` over the pairs
        with k+ != k- (sigma from offset_sigma and cell_sigma; the smallest |dv| without them)."""
        if not isinstance(lut, LUT):
            raise LUTError(f"a {BLOCK} LUT object is needed, got {type(lut).__name__}")
        if lut.block != BLOCK:
            raise LUTError(f"this is a '{lut.block}' LUT; the WHT model needs a '{BLOCK}' LUT "
                           f"(LUT.load(path, block='{BLOCK}'))")
        for t in ("dv", "energy", "energy_rows"):
            if t not in lut.tables:
                raise LUTError(f"{BLOCK} LUT has no '{t}' table: regenerate it with `charz characterize wht_column`")
        names = [a.name for a in lut.axes]
        if names[-2:] != ["kp", "kn"] or set(names[:-2]) - {"vdd", "temp", "t_pulse"}:
            raise LUTError(f"{BLOCK} LUT axes must be (vdd, temp, t_pulse, kp, kn), got {names}: regenerate it")
        kp, kn = lut.axis("kp").values, lut.axis("kn").values
        r = kp.size - 1
        if r < 1 or not (np.array_equal(kp, np.arange(r + 1)) and np.array_equal(kn, kp)):
            raise LUTError(f"{BLOCK} LUT axes kp and kn must both be 0..R in steps of 1: regenerate it")
        if lut.conditions.get("n_rows", r) != r:  # also a string or a float from a hand-made file
            raise LUTError(f"{BLOCK} LUT says n_rows={lut.conditions.get('n_rows')} but its kp axis ends at {r}: "
                           f"the LUT is inconsistent; regenerate it")
        check_rows(r)
        ms = finite(mismatch_scale, "mismatch_scale")
        if ms < 0:
            raise ParameterError(f"mismatch_scale must be >= 0 (1.0 = the LUT's Monte Carlo, 0 = nominal), got {ms:g}")
        order = order if order is not None else str(lut.conditions.get("order", "sylvester"))
        if order not in ORDERS:
            raise ParameterError(f"unknown Hadamard ordering {order!r}: choose one of {', '.join(ORDERS)}")

        choices: dict = {}
        point: dict = {}
        given = {"vdd": vdd, "temp": temp, "t_pulse": t_pulse}
        cont = [n for n in names if n in ("vdd", "temp", "t_pulse")]
        for name in cont:
            ax = lut.axis(name)
            if given[name] is not None:
                point[name] = finite(given[name], name)
                _on_grid(ax, point[name])
                choices[name] = "given"
            elif (dflt := lut.default_coord(name)) is not None:
                point[name], choices[name] = dflt
        for name, val in given.items():
            if val is not None and name not in cont:
                raise ParameterError(f"the {BLOCK} LUT has no axis '{name}' (axes: {names})")
        if "t_pulse" in cont and "t_pulse" not in point:
            ax = lut.axis("t_pulse")
            scores = [_margin(lut, {**point, "t_pulse": float(t)}, r) for t in ax.values]
            point["t_pulse"] = float(ax.values[int(np.nanargmax(scores))])
            choices["t_pulse"] = "grid value with the largest worst-case decision margin"
        point = {n: point[n] for n in cont}

        tri = np.add.outer(np.arange(r + 1), np.arange(r + 1)) <= r

        def table(name):
            t = np.asarray(lut.slice(name, **point), dtype=float)
            if not np.all(np.isfinite(t[tri])):
                raise LUTError(f"{BLOCK} LUT table '{name}' has missing (NaN) values with k+ + k- <= R at {point}: "
                               f"re-characterize that point")
            return np.where(tri, t, np.nan)

        dv_nom = table("dv")
        dv_mc = table("dv_mean") if "dv_mean" in lut.tables else None
        energy = table("energy")
        e_rows = table("energy_rows")
        parts = {n: table(n) for n in ENERGY_PARTS if n in lut.tables}
        scalars = {}
        for name in PER_CORNER:
            if name in lut.tables:
                v = lut.value(name, **point, kp=0, kn=0)
                if math.isfinite(v):
                    scalars[name] = v
        tern = bool(lut.conditions.get("ternary", "thr_pos_mean" in scalars))
        if "thr_sigma" in lut.tables:  # one sigma for both thresholds
            v = lut.value("thr_sigma", **point, kp=0, kn=0)
            scalars.setdefault("thr_pos_sigma", v)
            scalars.setdefault("thr_neg_sigma", v)
        return cls(n_rows=r, order=order, coords=point, dv_nom=dv_nom, dv_mc=dv_mc, energy=energy,
                   energy_rows=e_rows, scalars=scalars, mismatch_scale=ms, ternary=tern,
                   mc_samples=int(lut.provenance.get("mc_samples", 0) or 0), choices=choices,
                   provenance=dict(lut.provenance), conditions=dict(lut.conditions), energy_parts=parts)

    def with_scale(self, mismatch_scale: float) -> "WhtModel":
        """A copy at mismatch scale *mismatch_scale* (>= 0; ``ParameterError`` otherwise)."""
        ms = finite(mismatch_scale, "mismatch_scale")
        if ms < 0:
            raise ParameterError(f"mismatch_scale must be >= 0, got {ms:g}")
        return dataclasses.replace(self, mismatch_scale=ms)

    # -- derived -----------------------------------------------------------------------------------
    @property
    def dv(self) -> np.ndarray:
        """dV table in use: dv + s (dv_mean - dv) (nominal at s = 0, the Monte Carlo mean at s = 1)."""
        if self.dv_mc is None:
            return self.dv_nom
        return self.dv_nom + self.mismatch_scale * (self.dv_mc - self.dv_nom)

    def _need(self, names: Sequence[str], why: str) -> list[float]:
        miss = [n for n in names if n not in self.scalars]
        if miss:
            raise LUTError(f"{BLOCK} LUT has no per-corner {', '.join(miss)} ({why}): re-characterize with "
                           f"Monte Carlo{' and the ternary latch' if 'thr' in ''.join(miss) else ''}, "
                           f"or use mismatch_scale=0 / mode='sign'")
        return [self.scalars[n] for n in names]

    def check_mode(self, mode: str) -> None:
        """Check that this LUT supports latch *mode* at this mismatch scale; raises ``ParameterError`` for an
        unknown mode and ``LUTError`` naming what the LUT lacks (Monte Carlo data, the ternary pair or the
        sign latch, the sigmas mismatch needs)."""
        check_mode(mode)
        if self.mismatch_scale > 0 and self.dv_mc is None:
            raise LUTError(f"this {BLOCK} LUT holds no Monte Carlo data (no dv_mean): use mismatch_scale=0 (the "
                           f"nominal circuit) or re-characterize with Monte Carlo samples")
        if mode == "ternary":
            if not self.ternary:
                raise LUTError(f"this {BLOCK} LUT was characterized without the ternary latch pair: use mode='sign' "
                               f"or re-characterize with ternary=True")
            self._need(("thr_pos_mean", "thr_neg_mean"), "ternary thresholds")
            if self.mismatch_scale > 0:
                self._need(("thr_pos_sigma", "thr_neg_sigma", "cell_sigma"), "mismatch_scale > 0 needs them")
        else:
            if "offset_mean" not in self.scalars and self.ternary:
                raise LUTError(f"this {BLOCK} LUT has the ternary latch pair, no sign latch: use mode='ternary' or "
                               f"a LUT characterized with ternary=False")
            self._need(("offset_mean",), "sign-latch offset")
            if self.mismatch_scale > 0:
                self._need(("offset_sigma", "cell_sigma"), "mismatch_scale > 0 needs them")

    def nominal_q(self, mode: str = "ternary") -> np.ndarray:
        """(R+1, R+1) latch result q[k+, k-] of a column without mismatch (offset and thresholds at their
        means, the dV table in use); 0 at (0, 0) (skipped plane) and NaN where k+ + k- > R."""
        self.check_mode(mode)
        dv = self.dv
        sc = self.scalars
        if mode == "ternary":
            q = np.where(dv > sc["thr_pos_mean"], 1.0, np.where(dv < sc["thr_neg_mean"], -1.0, 0.0))
        else:
            q = np.where(dv > sc["offset_mean"], 1.0, -1.0)
        q = np.where(np.isnan(dv), np.nan, q)
        q[0, 0] = 0.0
        return q

    def describe(self) -> dict:
        """What a report needs to say about the model: size, order, operating point, mismatch scale, the dV
        table used, the per-corner scalars in mV, the range of energy per column-plane (fJ), latch kind, Monte
        Carlo samples and choices."""
        return {
            "n_rows": self.n_rows, "order": self.order, **self.coords,
            "mismatch_scale": self.mismatch_scale,
            "dv_table": "dv + s (dv_mean - dv)" if self.dv_mc is not None else "dv (no Monte Carlo mean)",
            **{f"{k}_mV": round(1e3 * v, 4) for k, v in self.scalars.items()},
            "energy_per_column_plane_fJ": [round(1e15 * float(np.nanmin(self.energy)), 3),
                                           round(1e15 * float(np.nanmax(self.energy)), 3)],
            "ternary_latch": self.ternary, "mc_samples": self.mc_samples, "choices": dict(self.choices),
        }

    # -- per-chip draws ----------------------------------------------------------------------------
    def draw(self, n_tiles: int, rng: np.random.Generator, mode: str = "ternary") -> "ChipTiles":
        """Mismatch of ``n_tiles`` R x R crossbars of one chip, drawn from *rng* (same numbers at every
        mismatch_scale)."""
        self.check_mode(mode)
        r, s = self.n_rows, self.mismatch_scale
        z = rng.standard_normal((n_tiles, 4 * r + 2 * r * r))  # offset, th+, th-, e0, E_pos, E_neg
        sc = self.scalars
        e0 = s * sc.get("dv_sigma0", 0.0) * z[:, 3 * r:4 * r]  # column term of dV: shifts every decision level
        off = sc.get("offset_mean", 0.0) + s * sc.get("offset_sigma", 0.0) * z[:, :r] - e0
        tp = sc.get("thr_pos_mean", np.inf) + s * sc.get("thr_pos_sigma", 0.0) * z[:, r:2 * r] - e0
        tn = sc.get("thr_neg_mean", -np.inf) + s * sc.get("thr_neg_sigma", 0.0) * z[:, 2 * r:3 * r] - e0
        cs = s * sc.get("cell_sigma", 0.0)
        h = hadamard(r, self.order).astype(float)
        e_pos = cs * z[:, 4 * r:4 * r + r * r].reshape(n_tiles, r, r)
        e_neg = cs * z[:, 4 * r + r * r:].reshape(n_tiles, r, r)
        # c_r e_r summed: + input on (r, j): c = H[r, j]; - input: c = -H[r, j]
        return ChipTiles(offset=off.astype(np.float32), thr_pos=tp.astype(np.float32), thr_neg=tn.astype(np.float32),
                         hp=(h[None] * e_pos).astype(np.float32), hn=(h[None] * e_neg).astype(np.float32),
                         noisy=cs > 0)


@dataclasses.dataclass
class ChipTiles:
    """One chip's mismatch for m crossbars: per column (m, R) offset/thresholds [V]; per tile (m, R, R)
    ``H * E_pos`` and ``H * E_neg`` [V]."""

    offset: np.ndarray
    thr_pos: np.ndarray
    thr_neg: np.ndarray
    hp: np.ndarray
    hn: np.ndarray
    noisy: bool

    @property
    def hpn(self) -> np.ndarray:
        """(m, 2R, R) [H E_pos ; -H E_neg]: the deviation matrix for [+bits | -bits] row vectors."""
        return np.concatenate((self.hp, -self.hn), axis=1)


# ---- a transform mapped on crossbars -------------------------------------------------------------
class WhtLayer:
    """A block WHT of vectors of length ``n`` on ``n / R`` crossbars of one simulated chip.

    - ``model=None``: the ideal (noiseless, exact per-plane) crossbar of size ``n_rows``, no energy;
    - ``model`` given, ``ideal=True``: ideal decisions, energy from the model's LUT tables;
    - ``model`` given: the circuit model; the chip's mismatch is drawn once from ``seed`` here.

    Call it on B-bit sign-magnitude integers (batch, n): ``layer(x, thresholds=T)`` returns y
    (int64, batch x n) and the :class:`WhtStats` of the call.
    """

    def __init__(self, n: int, *, model: WhtModel | None = None, n_rows: int | None = None,
                 order: str | None = None, bits: int = DEFAULT_BITS, mode: str = "ternary", ideal: bool = False,
                 seed: int | np.random.Generator = 0):
        self.bits = check_bits(bits)
        self.mode = check_mode(mode)
        if model is not None and not isinstance(model, WhtModel):
            raise ParameterError(f"model must be a WhtModel (WhtModel.from_lut(lut)) or None, got {type(model).__name__}")
        if model is not None:
            if n_rows is not None and int(n_rows) != model.n_rows:
                raise ParameterError(f"n_rows={n_rows} but the LUT's crossbar has R = {model.n_rows} rows: leave "
                                     f"n_rows out or use a LUT characterized with {n_rows} rows")
            self.n_rows = model.n_rows
            self.order = model.order if order is None else order
            model.check_mode(mode)
        else:
            self.n_rows = check_rows(16 if n_rows is None else n_rows)
            self.order = "sylvester" if order is None else order
        if self.order not in ORDERS:
            raise ParameterError(f"unknown Hadamard ordering {self.order!r}: choose one of {', '.join(ORDERS)}")
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 or n % self.n_rows:
            raise ParameterError(f"vector length {n!r} is not a positive multiple of the crossbar size R = "
                                 f"{self.n_rows}: pad the vectors with zeros")
        self.n = int(n)
        self.tiles = self.n // self.n_rows
        self.model = model
        self.ideal = bool(ideal) or model is None
        self.h = hadamard(self.n_rows, self.order).astype(np.float32)
        nch = -(-self.n_rows // 8)
        hpad = _pad_rows(self.h.astype(np.int16)[None], 8 * nch)[0].reshape(nch, 8, self.n_rows)
        self._tab = np.einsum("vi,kij->kvj", _BYTE_BITS.astype(np.int16), hpad).astype(np.int16)
        """(chunks, 256, R): tab[k, v, j] = sum of H[8k + i, j] over the set bits i of byte v."""
        self.chip = None
        if model is not None and not self.ideal:
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
            self.chip = model.draw(self.tiles, rng, mode)
        if model is not None:
            r1 = self.n_rows + 1
            self._e_tot = np.nan_to_num(model.energy).reshape(-1)
            self._e_rows = np.nan_to_num(model.energy_rows).reshape(-1)
            self._e_col = self._e_tot - self._e_rows
            self._dv = np.nan_to_num(model.dv).astype(np.float32).reshape(-1)
            self._r1 = r1

    def __call__(self, x_int, thresholds=None, early_termination: bool | None = None, stats: bool = True):
        """y (batch, n) int64 and the call's WhtStats (None with ``stats=False``: no accounting).
        ``thresholds`` (scalar or (n,), >= 0, integer domain) enables early termination (default on
        when thresholds are given)."""
        r, bits, P = self.n_rows, self.bits, self.bits - 1
        x = check_inputs(x_int, bits, r)
        if x.shape[1] != self.n:
            raise ParameterError(f"this WHT layer transforms vectors of length {self.n}, got {x.shape[1]}")
        b, m = x.shape[0], self.tiles
        t = None
        if thresholds is not None:
            t = np.asarray(thresholds, dtype=float)
            if t.ndim > 1 or (t.ndim == 1 and t.size != self.n) or not np.all(np.isfinite(t)) or np.any(t < 0):
                raise ParameterError(f"thresholds must be finite numbers >= 0, a scalar or one per output ({self.n})")
            t = np.broadcast_to(t, (self.n,)).reshape(m, r)
        et = (t is not None) if early_termination is None else bool(early_termination)
        if et and t is None:
            raise ParameterError("early termination needs thresholds (the integer-domain soft threshold per output)")

        q, active, d, a, kidx = self._decide(x)

        # the controller, plane by plane, MSB first: accumulate, and stop a column once its soft-
        # thresholded output is settled (|S| + 2^p - 1 <= T after plane p; 2^P - 1 <= T before the first)
        y = np.zeros((b, m, r), dtype=np.int16)
        ev = None
        if et:
            ev = np.empty(q.shape, dtype=bool)
            stop = np.broadcast_to((1 << P) - 1 <= t, (b, m, r)).copy()
            for p in reversed(range(P)):
                np.logical_and(active[p][..., None], ~stop, out=ev[p])
                y += (q[p] * ev[p]).astype(np.int16) << p
                if p:
                    stop |= np.abs(y) + ((1 << p) - 1) <= t
        else:
            for p in reversed(range(P)):
                y += q[p].astype(np.int16) << p
        y64 = y.reshape(b, self.n).astype(np.int64)
        if not stats:
            return y64, None

        st = WhtStats(bits=bits, n_rows=r)
        st.vectors, st.transforms = b, b * m
        st.column_planes = P * b * m * r
        st.tile_planes_active = int(active.sum())
        st.active = st.tile_planes_active * r
        st.zero_planes = st.column_planes - st.active
        act4 = np.broadcast_to(active[..., None], q.shape)
        evm = act4 if ev is None else ev
        st.evaluated = int(evm.sum()) if ev is not None else st.active
        tile_ev = active if ev is None else ev.any(axis=3)
        st.tile_planes_evaluated = int(tile_ev.sum())
        st.ternary_zero = int(np.count_nonzero((q == 0) & evm))
        st.outputs = b * self.n
        if t is not None:
            st.outputs_zero = int(np.count_nonzero(np.abs(y) <= t))
        else:
            st.outputs_zero = int(np.count_nonzero(y == 0))
        st.planes_hist = np.bincount(evm.sum(axis=0, dtype=np.int8).reshape(-1), minlength=bits)[:bits].astype(np.int64)
        if self.model is not None:
            kidx = self._kidx(a, d) if kidx is None else kidx
            n_k = self._r1 * self._r1
            # one histogram over (status, k+, k-): status = active + tile evaluated + column evaluated
            status = act4.astype(np.int16)
            if ev is None:
                status *= 3
            else:
                status += tile_ev[..., None]
                status += ev
            h = np.bincount((kidx + status * np.int16(n_k)).reshape(-1), minlength=4 * n_k).reshape(4, n_k)
            st.energy_no_et = float(h[1:].sum(axis=0) @ self._e_tot)
            st.energy_rows = float(h[2:].sum(axis=0) @ self._e_rows)
            st.energy = float(h[3] @ self._e_col) + st.energy_rows
        return y64, st

    def _decide(self, x: np.ndarray):
        """Per-plane latch results of checked inputs x (batch, n): q (P, b, m, r) int8 (0 on skipped
        planes, index p = plane p, LSB first), active (P, b, m), d, a and the (k+, k-) index (or None)."""
        r, bits = self.n_rows, self.bits
        b, m = x.shape[0], self.tiles
        pb, nb = plane_bytes(x.reshape(b, m, r), bits)  # (P, b, m, chunks) uint8: + / - input bits of 8 rows
        d = self._gather(self._tab, pb, nb)  # (P, b, m, r) int16: d = k+ - k- = sum_r H_rj s_rp
        a = self._popcount(pb, nb)  # (P, b, m) active rows = k+ + k-
        active = a > 0
        kidx = None
        if self.chip is None:  # ideal latch
            if self.mode == "ternary":
                q = np.sign(d).astype(np.int8)
            else:
                q = np.where(d >= 0, 1, -1).astype(np.int8)
        else:
            c = self.chip
            kidx = self._kidx(a, d)
            dv = self._dv[kidx]
            if c.noisy:
                dv += self._noise(c, pb, nb, x.reshape(b, m, r))
            if self.mode == "ternary":  # upper latch first; lower latch at 0 -> -1; else the dead zone
                q = np.where(dv > c.thr_pos, np.int8(1), -(dv < c.thr_neg).astype(np.int8))
            else:
                q = np.where(dv > c.offset, 1, -1).astype(np.int8)
        q *= active[..., None]
        return q, active, d, a, kidx

    def planes(self, x_int) -> np.ndarray:
        """The per-plane results of every column, MSB plane first: (batch, planes, n) int8 (0 where the
        plane was skipped: no active row in the tile). What the latches output before accumulation."""
        x = check_inputs(x_int, self.bits, self.n_rows)
        if x.shape[1] != self.n:
            raise ParameterError(f"this WHT layer transforms vectors of length {self.n}, got {x.shape[1]}")
        q = self._decide(x)[0]
        b = x.shape[0]
        return np.ascontiguousarray(q[::-1].transpose(1, 0, 2, 3).reshape(b, self.bits - 1, self.n))

    def _gather(self, tab: np.ndarray, pb: np.ndarray, nb: np.ndarray, tile_offset: np.ndarray | None = None):
        """sum over 8-row chunks k of tab[k][+bits byte] - tab[k][-bits byte] (rows gathered, exact)."""
        out = None
        for k in range(pb.shape[-1]):
            ip, ineg = pb[..., k], nb[..., k]
            if tile_offset is not None:
                ip, ineg = ip + tile_offset, ineg + tile_offset
            part = np.take(tab[k], ip, axis=0)
            part -= np.take(tab[k], ineg, axis=0)
            out = part if out is None else out.__iadd__(part)
        return out

    def _popcount(self, pb: np.ndarray, nb: np.ndarray) -> np.ndarray:
        return (np.take(_POPCOUNT, pb).sum(axis=-1, dtype=np.int16)
                + np.take(_POPCOUNT, nb).sum(axis=-1, dtype=np.int16))

    def _noise(self, c: "ChipTiles", pb: np.ndarray, nb: np.ndarray, x: np.ndarray) -> np.ndarray:
        """(P, b, m, r) float32 sum over the active cells of c_r e_r of this chip."""
        m, r = self.tiles, self.n_rows
        nch = pb.shape[-1]
        if m * nch * 256 * r <= NOISE_TABLE_MAX:  # per-tile byte tables: gathers, as for d
            hp = _pad_rows(c.hp, 8 * nch)  # (m, 8 nch, r)
            hn = _pad_rows(c.hn, 8 * nch)
            tp = np.einsum("vi,mkij->kmvj", _BYTE_BITS, hp.reshape(m, nch, 8, r)).reshape(nch, m * 256, r)
            tn = np.einsum("vi,mkij->kmvj", _BYTE_BITS, hn.reshape(m, nch, 8, r)).reshape(nch, m * 256, r)
            off = (np.arange(m, dtype=np.intp) * 256)[None, None, :]
            out = None
            for k in range(nch):
                part = np.take(tp[k], pb[..., k] + off, axis=0)
                part -= np.take(tn[k], nb[..., k] + off, axis=0)
                out = part if out is None else out.__iadd__(part)
            return out
        # many tiles: one matmul per tile, [+bits | -bits] @ [H E_pos ; -H E_neg]
        sig = signed_planes(x, self.bits)  # (P, b, m, r)
        P, b = sig.shape[:2]
        pn = np.concatenate((sig > 0, sig < 0), axis=3).astype(np.float32)
        pn = np.ascontiguousarray(pn.transpose(2, 0, 1, 3)).reshape(m, P * b, 2 * r)
        noise = np.matmul(pn, c.hpn)  # (m, P*b, r)
        return noise.reshape(m, P, b, r).transpose(1, 2, 0, 3)

    def _kidx(self, a: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Flat index k+ (R+1) + k- of every column-plane (k+ = (a + d) / 2, k- = (a - d) / 2)."""
        ai = a[..., None]
        return ((ai + d) >> 1) * np.int16(self._r1) + ((ai - d) >> 1)


NOISE_TABLE_MAX = 1 << 22
"""Largest per-chip deviation table (entries) built for the byte-gather path; above it, matmuls."""
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


class WhtBackend:
    """The WHT crossbar as a :class:`charz.behavior.interfaces.MatmulBackend`: a :class:`WhtLayer` of length
    ``n`` (one simulated chip, drawn from *seed* here; arguments as for :class:`WhtLayer`). The matrix is
    hard-wired: :meth:`program` accepts only the block Hadamard matrix ``block_hadamard(n, R, order)``.
    :meth:`matmul` is the layer's call (same results): the per-plane sign / ternary decisions accumulated,
    a quantized ``x @ H``. Cost from :class:`WhtStats`: ``energy["rows"]`` (row drive) and
    ``energy["columns"]`` (precharge, latch, clock) [J] (none without a model), ops = 2 R^2 per transform,
    conversions = evaluated column-planes (latch decisions); no latency."""

    def __init__(self, n: int, *, model: WhtModel | None = None, n_rows: int | None = None, order: str | None = None,
                 bits: int = DEFAULT_BITS, mode: str = "ternary", ideal: bool = False,
                 seed: int | np.random.Generator = 0):
        self.layer = WhtLayer(n, model=model, n_rows=n_rows, order=order, bits=bits, mode=mode, ideal=ideal, seed=seed)
        self.programmed = False
        """True once :meth:`program` has accepted the block Hadamard matrix."""

    @property
    def label(self) -> str:
        """Crossbar size, ordering, bits, latch mode, and ideal or circuit model."""
        lay = self.layer
        what = "ideal crossbar" if lay.ideal else f"circuit model (mismatch x{lay.model.mismatch_scale:g})"
        return f"WHT {lay.n_rows}x{lay.n_rows} crossbars ({lay.order}), {lay.bits}-bit inputs, {lay.mode} latch, {what}"

    @property
    def shape(self) -> tuple[int, int] | None:
        """(n, n) once programmed; None before."""
        return (self.layer.n, self.layer.n) if self.programmed else None

    def program(self, weights) -> None:
        """Accept *weights* when they are the layer's block Hadamard matrix (the crossbar is hard-wired);
        anything else is a ``ParameterError``."""
        lay = self.layer
        want = block_hadamard(lay.n, lay.n_rows, lay.order)
        w = np.asarray(weights)
        if w.shape != want.shape or not np.array_equal(w, want):
            raise ParameterError(f"a WHT crossbar is hard-wired: it computes x @ block_hadamard({lay.n}, {lay.n_rows}, "
                                 f"'{lay.order}') only, got another {w.shape} matrix")
        self.programmed = True

    def matmul(self, x, thresholds=None) -> tuple[np.ndarray, Cost]:
        """(y (batch, n) int64, :class:`~charz.behavior.interfaces.Cost`) of B-bit sign-magnitude integers
        *x* (batch, n); ``thresholds`` (integer-domain soft thresholds) turn early termination on."""
        if not self.programmed:
            raise ParameterError("program the weights first (backend.program(block_hadamard(n, R, order)))")
        y, st = self.layer(x, thresholds=thresholds)
        energy = {} if st.energy is None else {"rows": st.energy_rows, "columns": st.energy - st.energy_rows}
        return y, Cost(energy=energy, ops=st.ops, conversions=st.evaluated,
                       counters={"transforms": st.transforms, "column_planes": st.column_planes,
                                 "zero_planes": st.zero_planes, "active_column_planes": st.active,
                                 "evaluated_column_planes": st.evaluated})

    def ideal(self) -> "WhtBackend":
        """The ideal crossbar (ideal latches; energy from the LUT tables when there is a model), same size,
        bits, mode and ordering, programmed alike."""
        lay = self.layer
        out = WhtBackend(lay.n, model=lay.model, n_rows=lay.n_rows, order=lay.order, bits=lay.bits, mode=lay.mode,
                         ideal=True)
        out.programmed = self.programmed
        return out


# ---- convenience functions --------------------------------------------------------------------------
def wht_ideal(x_int, n_rows: int = 16, *, bits: int = DEFAULT_BITS, mode: str = "ternary",
              order: str = "sylvester") -> np.ndarray:
    """The ideal quantized block WHT of B-bit sign-magnitude integers (batch, n): y = sum_p 2^p q_p."""
    x = check_inputs(x_int, check_bits(bits), check_rows(n_rows))
    return WhtLayer(x.shape[1], n_rows=n_rows, order=order, bits=bits, mode=mode)(x)[0]


def wht_cim(x_int, model: WhtModel, *, bits: int = DEFAULT_BITS, mode: str = "ternary",
            seed: int | np.random.Generator = 0, thresholds=None, early_termination: bool | None = None):
    """The block WHT on one simulated chip (drawn from *seed*) of the circuit model; (y, WhtStats)."""
    if not isinstance(model, WhtModel):
        raise ParameterError(f"model must be a WhtModel (WhtModel.from_lut(lut)), got {type(model).__name__}")
    x = check_inputs(x_int, check_bits(bits), model.n_rows)
    layer = WhtLayer(x.shape[1], model=model, bits=bits, mode=mode, seed=seed)
    return layer(x, thresholds=thresholds, early_termination=early_termination)


def plane_decisions(model: WhtModel, x_int, *, bits: int = DEFAULT_BITS, mode: str = "ternary",
                    seed: int | np.random.Generator = 0) -> np.ndarray:
    """Per-plane results (batch, planes MSB first, n) of one simulated chip of *model* (drawn from
    *seed*; at mismatch_scale 0 the nominal circuit): what :func:`charz.blocks.wht.check`
    compares with SPICE."""
    if not isinstance(model, WhtModel):
        raise ParameterError(f"model must be a WhtModel (WhtModel.from_lut(lut)), got {type(model).__name__}")
    x = check_inputs(x_int, check_bits(bits), model.n_rows)
    return WhtLayer(x.shape[1], model=model, bits=bits, mode=mode, seed=seed).planes(x)


def load_wht_lut(lut_or_path) -> tuple[LUT, str | None]:
    """A ``wht_column`` LUT from a LUT object or a path."""
    if isinstance(lut_or_path, LUT):
        if lut_or_path.block != BLOCK:
            raise LUTError(f"this is a '{lut_or_path.block}' LUT; the WHT model needs a '{BLOCK}' LUT")
        return lut_or_path, None
    if isinstance(lut_or_path, str) or hasattr(lut_or_path, "__fspath__"):
        return LUT.load(lut_or_path, block=BLOCK), str(lut_or_path)
    raise LUTError(f"give a {BLOCK} LUT or the path of one, got {type(lut_or_path).__name__}")


# ---- synthetic LUT (tests only) -----------------------------------------------------------------
def synthetic_wht_lut(
    n_rows: int = 16,
    vdd: Sequence[float] = (0.7, 0.8),
    temp: Sequence[float] = (27.0,),
    t_pulse: Sequence[float] = (60e-12,),
    dv_per_cell: float = 0.033,
    compression: float = 0.2,
    ternary: bool = True,
    offset_mean: float = 0.002,
    offset_sigma: float = 0.008,
    thr_pos_mean: float = 0.016,
    thr_neg_mean: float = -0.016,
    thr_pos_sigma: float = 0.006,
    thr_neg_sigma: float = 0.006,
    cell_sigma: float = 0.004,
    dv_sigma0: float = 0.0,
    mc_shift: float = 0.001,
    monte_carlo: bool = True,
    c_bl: float = 6e-15,
    e_row: float = 0.05e-15,
    e_latch: float = 2.0e-15,
    e_clock: float = 1.0e-15,
    order: str = "sylvester",
    vdd_nom: float = 0.8,
) -> LUT:
    """A SYNTHETIC ``wht_column`` LUT (no SPICE behind it): for tests and quick checks only.

    Same contract as the recipe's (``charz characterize wht_column``): a *ternary* LUT (default) has
    the latch pair (tables ``upper``, ``lower``, ``ternary``; per-corner ``thr_pos_*``, ``thr_neg_*``),
    a *sign* LUT (``ternary=False``) the sign latch (``decision``; ``offset_*``). At VDD v (all voltage
    and energy scales ~ v / vdd_nom): ``dv[k+, k-] = g (k+ - k-) (1 - compression (k+ + k-) / (2R))`` with
    g = dv_per_cell; Monte Carlo mean ``dv_mean = dv + mc_shift (k+ + k-) / R`` and sigma
    ``sqrt((k+ + k-) cell_sigma^2 + dv_sigma0^2)`` (no samples: the per-corner sigmas are the model);
    energy parts: precharge ``c_bl v (swing+ + swing-)`` with a bitline swing of g per pulling cell,
    rows ``e_row (k+ + k-) (v / vdd_nom)^2``, latch and clock constants x (v / vdd_nom)^2. The nominal
    latch tables are the noiseless latches on ``dv`` with the mean offset / thresholds, and
    ``p_wrong_sign`` / ``p_wrong_ternary`` the probabilities of the same Gaussian model (dV shared by
    the two latches). Its provenance says ``pdk: synthetic``.
    """
    from scipy.stats import norm

    r = check_rows(n_rows)
    vdd_v = np.asarray(sorted(vdd), dtype=float)
    temp_v = np.asarray(sorted(temp), dtype=float)
    tp_v = np.asarray(sorted(t_pulse), dtype=float)
    k = np.arange(r + 1, dtype=float)
    kp, kn = np.meshgrid(k, k, indexing="ij")
    tri = kp + kn <= r
    shape = (vdd_v.size, temp_v.size, tp_v.size, r + 1, r + 1)
    f = (vdd_v / vdd_nom)[:, None, None, None, None] * np.ones(shape)
    g = dv_per_cell * f
    nan = np.where(tri, 1.0, np.nan)
    dv = g * (kp - kn) * (1 - compression * (kp + kn) / (2 * r)) * nan
    vdd5 = vdd_v[:, None, None, None, None] * np.ones(shape)
    e_pre = c_bl * vdd5 * g * (kp + kn) * nan
    e_rows = e_row * (kp + kn) * f**2 * nan
    e_lat = e_latch * f**2 * nan
    e_clk = e_clock * f**2 * nan
    energy = e_pre + e_rows + e_lat + e_clk
    tables = {"dv": dv, "vblp": (vdd5 - g * kp) * nan, "vbln": (vdd5 - g * kn) * nan, "energy": energy,
              "energy_precharge": e_pre, "energy_rows": e_rows, "energy_latch": e_lat, "energy_clock": e_clk}
    sc = {"cell_sigma": cell_sigma * f, "dv_sigma0": dv_sigma0 * f, "dv_per_cell": g}
    if ternary:
        sc.update({"thr_pos_mean": thr_pos_mean * f, "thr_pos_sigma": thr_pos_sigma * f,
                   "thr_neg_mean": thr_neg_mean * f, "thr_neg_sigma": thr_neg_sigma * f})
        upper = np.where(dv > sc["thr_pos_mean"], 1.0, -1.0) * nan
        lower = np.where(dv > sc["thr_neg_mean"], 1.0, -1.0) * nan
        tables.update({"upper": upper, "lower": lower,
                       "ternary": np.where(upper > 0, 1.0, np.where(lower < 0, -1.0, 0.0)) * nan})
    else:
        sc.update({"offset_mean": offset_mean * f, "offset_sigma": offset_sigma * f})
        tables["decision"] = np.where(dv > sc["offset_mean"], 1.0, -1.0) * nan
    per_corner = [n for n in PER_CORNER if n in sc]
    if not monte_carlo:  # a nominal LUT: zero sigmas, as the recipe writes them
        for n in per_corner:
            if n.endswith("sigma") or n == "dv_sigma0":
                sc[n] = 0.0 * f
    tables.update({n: sc[n] for n in per_corner})
    units = {n: "V" for n in tables}
    units.update({n: "J" for n in ("energy",) + ENERGY_PARTS})
    units.update({n: "1" for n in ("upper", "lower", "ternary", "decision") if n in tables})
    if monte_carlo:
        mu = dv + mc_shift * f * (kp + kn) / r
        sd = np.sqrt((kp + kn) * sc["cell_sigma"] ** 2 + sc["dv_sigma0"] ** 2) * nan
        tables.update({"dv_mean": mu, "dv_sigma": sd, "energy_mean": energy.copy()})
        units.update({"dv_mean": "V", "dv_sigma": "V", "energy_mean": "J"})
        d = np.broadcast_to(kp - kn, shape)
        if ternary:
            tables["p_wrong_ternary"] = np.where(
                tri, p_wrong_ternary(np.nan_to_num(mu), np.nan_to_num(sd), sc["thr_pos_mean"], sc["thr_pos_sigma"],
                                     sc["thr_neg_mean"], sc["thr_neg_sigma"], np.sign(d)), np.nan)
            units["p_wrong_ternary"] = "1"
        else:
            p_up = norm.sf((sc["offset_mean"] - mu) / np.maximum(np.sqrt(sd**2 + sc["offset_sigma"] ** 2), 1e-30))
            tables["p_wrong_sign"] = np.where(d > 0, 1 - p_up, np.where(d < 0, p_up, np.nan)) * nan
            units["p_wrong_sign"] = "1"
    params = {"n_rows": r, "dv_per_cell": dv_per_cell, "compression": compression, "ternary": bool(ternary),
              "cell_sigma": cell_sigma, "dv_sigma0": dv_sigma0, "mc_shift": mc_shift, "c_bl": c_bl,
              "e_row": e_row, "e_latch": e_latch, "e_clock": e_clock}
    params.update({"thr_pos_mean": thr_pos_mean, "thr_pos_sigma": thr_pos_sigma, "thr_neg_mean": thr_neg_mean,
                   "thr_neg_sigma": thr_neg_sigma} if ternary else
                  {"offset_mean": offset_mean, "offset_sigma": offset_sigma})
    return LUT(
        block=BLOCK,
        axes=(Axis("vdd", "V", vdd_v), Axis("temp", "degC", temp_v), Axis("t_pulse", "s", tp_v),
              Axis("kp", "cells", k, discrete=True), Axis("kn", "cells", k, discrete=True)),
        tables=tables, units=units,
        conditions={"n_rows": r, "n_cols": r, "ternary": bool(ternary), "order": order, "per_corner": per_corner},
        provenance={
            "pdk": "synthetic", "synthetic": True, "generator": "charz.blocks.wht.model.synthetic_wht_lut",
            "note": "SYNTHETIC wht_column LUT (no SPICE): for tests only, never for circuit figures",
            "parameters": params, "vdd_nom": float(vdd_nom), "mc_samples": 0,
        },
    )


def p_wrong_ternary(mu, sd, thr_pos_mean, thr_pos_sigma, thr_neg_mean, thr_neg_sigma, d, nodes: int = 96):
    """P(ternary result != sign(d)) of the latch pair (arrays broadcast): dV ~ N(mu, sd) shared by the
    upper latch (threshold ~ N(thr_pos_mean, thr_pos_sigma): +1 above it) and the lower latch
    (~ N(thr_neg_mean, thr_neg_sigma): -1 below it when the upper latch did not fire), thresholds
    independent; d = 0 asks P(result != 0). Gauss-Hermite quadrature over dV (exact when sd = 0)."""
    from scipy.stats import norm

    def cdf(x, m, s):
        s = np.asarray(s, dtype=float)
        return np.where(s > 0, norm.cdf((x - m) / np.where(s > 0, s, 1.0)), (x > m) * 1.0)

    z, w = np.polynomial.hermite_e.hermegauss(nodes)  # weight exp(-z^2 / 2)
    w = w / np.sqrt(2 * np.pi)
    mu, sd, tp, tps, tn, tns, d = (np.asarray(v, dtype=float)[..., None] for v in
                                   (mu, sd, thr_pos_mean, thr_pos_sigma, thr_neg_mean, thr_neg_sigma, d))
    v = mu + sd * z
    p_plus = cdf(v, tp, tps)
    p_minus = (1 - p_plus) * (1 - cdf(v, tn, tns))
    want = np.where(d > 0, p_plus, np.where(d < 0, p_minus, 1 - p_plus - p_minus))
    return 1 - np.sum(want * w, axis=-1)


def predicted_wrong(dv_mean: np.ndarray, kp: np.ndarray, kn: np.ndarray, fit: dict, ternary: bool) -> np.ndarray:
    """Wrong-decision probability per pair of the fitted Gaussian model (what the behavioural layer
    draws): dv ~ N(dv_mean, m cell_sigma^2 + dv_sigma0^2) with m = k+ + k-; sign mode: offset ~
    N(offset_mean, offset_sigma); ternary: upper / lower thresholds ~ N(thr_*_mean, thr_*_sigma)
    (the two latches' thresholds independent; dv shared, treated as independent here)."""
    from scipy.special import ndtr

    m = kp + kn
    s_dv2 = m * fit["cell_sigma"] ** 2 + fit["dv_sigma0"] ** 2
    d = np.sign(kp - kn)
    if not ternary:
        p_pos = ndtr((dv_mean - fit["offset_mean"]) / np.sqrt(s_dv2 + fit["offset_sigma"] ** 2))
        return np.where(d > 0, 1 - p_pos, np.where(d < 0, p_pos, np.nan))
    p_plus = ndtr((dv_mean - fit["thr_pos_mean"]) / np.sqrt(s_dv2 + fit["thr_pos_sigma"] ** 2))
    p_minus = (1 - p_plus) * ndtr((fit["thr_neg_mean"] - dv_mean) / np.sqrt(s_dv2 + fit["thr_neg_sigma"] ** 2))
    p_zero = 1 - p_plus - p_minus
    return np.where(d > 0, 1 - p_plus, np.where(d < 0, 1 - p_minus, 1 - p_zero))


# ---- helpers ----------------------------------------------------------------------------------------
def _on_grid(ax: Axis, x: float) -> None:
    v = ax.values
    tol = 1e-9 * max(abs(x), float(np.max(np.abs(v))))
    if v.size < 2:
        if not np.any(np.abs(v - x) <= tol):
            raise LUTError(f"{ax.name}={x:g} {ax.unit} is not on the {BLOCK} LUT grid {v.tolist()}: use that value "
                           f"or re-characterize at {ax.name}={x:g}")
    elif not (v[0] - tol <= x <= v[-1] + tol):
        raise LUTError(f"{ax.name}={x:g} {ax.unit} is outside the {BLOCK} LUT range [{v[0]:g}, {v[-1]:g}]: "
                       f"choose a value inside it or re-characterize with a wider {ax.name} grid")


def _margin(lut: LUT, point: dict, r: int) -> float:
    """Worst-case decision margin over the pairs with k+ != k- (in sigmas if the LUT has them, else V):
    |dv - level| with level = the sign latch's offset, or the nearer ternary threshold."""
    def val(name, default=0.0):
        return lut.value(name, **point, kp=0, kn=0) if name in lut.tables else default

    try:
        dv = np.asarray(lut.slice("dv_mean" if "dv_mean" in lut.tables else "dv", **point), dtype=float)
        if "offset_mean" in lut.tables:
            up = lo = val("offset_mean")
            s_up = s_lo = val("offset_sigma")
        else:
            up, lo = val("thr_pos_mean"), val("thr_neg_mean")
            s_up, s_lo = val("thr_pos_sigma"), val("thr_neg_sigma")
        cs, s0 = val("cell_sigma"), val("dv_sigma0")
    except CharzError:
        return float("nan")
    kp, kn = np.meshgrid(np.arange(r + 1), np.arange(r + 1), indexing="ij")
    sel = (kp + kn <= r) & (kp != kn)
    pos = (kp > kn)[sel]
    x = dv[sel]
    m = np.where(pos, x - up, lo - x)
    sig = np.sqrt(np.where(pos, s_up, s_lo) ** 2 + (kp + kn)[sel] * cs**2 + s0**2)
    if np.all(sig > 0):
        m = m / sig
    return float(np.min(m)) if np.all(np.isfinite(m)) else float("nan")
