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

The inputs, bit planes and counts are in :mod:`charz.blocks.wht.model_planes`; the LUT's names, loading,
the fitted decision model and :func:`~charz.blocks.wht.model_lut.synthetic_wht_lut` (a SYNTHETIC
``wht_column`` LUT, no SPICE behind it, for tests) in :mod:`charz.blocks.wht.model_lut`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Sequence

import numpy as np

from ...behavior.interfaces import Cost
from ...core.errors import LUTError, ParameterError
from ...core.hadamard import ORDERS, hadamard
from ...core.lut import LUT
from ...core.validate import finite
from ..comparator.model_trim import TrimDac
from .model_trim import calibrate_chip, trim_energy_per_column_plane
from .model_lut import BLOCK, ENERGY_PARTS, PER_CORNER, _margin, _on_grid
from .model_planes import (
    _BYTE_BITS, _POPCOUNT, DEFAULT_BITS, WhtStats, _pad_rows, block_hadamard, check_bits, check_inputs, check_mode,
    check_rows, plane_bytes, signed_planes,
)


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
    trim: "TrimDac | None" = None
    """Offset trim DAC of every latch (:meth:`with_trim`); None = no trim. With it, every chip drawn calibrates
    each latch's threshold into its window (:mod:`charz.blocks.wht.model_trim`) and each latch decision costs
    the trim devices' energy too."""

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

    def with_trim(self, trim: "TrimDac | None") -> "WhtModel":
        """A copy whose latches carry the offset trim DAC *trim* (a
        :class:`~charz.blocks.comparator.model_trim.TrimDac` at this operating point, e.g. from
        :func:`charz.blocks.wht.model_trim.load_latch_trim`); None removes it."""
        if trim is not None and not isinstance(trim, TrimDac):
            raise ParameterError(f"trim must be a TrimDac (load_latch_trim(path, model)) or None, got "
                                 f"{type(trim).__name__}")
        return dataclasses.replace(self, trim=trim)

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
            "latch_trim": self.trim.describe() if self.trim is not None else None,
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
        chip = ChipTiles(offset=off.astype(np.float32), thr_pos=tp.astype(np.float32), thr_neg=tn.astype(np.float32),
                         hp=(h[None] * e_pos).astype(np.float32), hn=(h[None] * e_neg).astype(np.float32),
                         noisy=cs > 0)
        if self.trim is not None:  # the trim instances come after the chip's mismatch: same chip without trim
            chip = calibrate_chip(self, chip, rng, mode)
        return chip


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
    calibration: dict | None = None
    """With a trim: per latch kind, the threshold errors before / after calibration
    (:func:`charz.blocks.wht.model_trim.calibrate_chip`)."""

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
            self._e_tot = np.nan_to_num(model.energy).reshape(-1) + trim_energy_per_column_plane(model, mode)
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

    def matmul(self, x, thresholds=None, early_termination: bool | None = None) -> tuple[np.ndarray, Cost]:
        """(y (batch, n) int64, :class:`~charz.behavior.interfaces.Cost`) of B-bit sign-magnitude integers
        *x* (batch, n); ``thresholds`` (integer-domain soft thresholds) turn early termination on (unless
        ``early_termination`` is False: then they only count the outputs they zero). Counters: transforms,
        column-plane slots, all-zero ones, active and evaluated column-planes, ``skipped_column_planes``
        (active but stopped by early termination), ``ternary_zero`` (evaluated with q = 0), outputs and
        ``outputs_zero`` (|y| <= threshold, or y == 0 without thresholds), ``energy_no_et_J`` (the energy
        of every active column-plane: what the call costs without early termination; with a model) and
        ``planes_evaluated_<k>`` (columns x vectors that evaluated k planes)."""
        if not self.programmed:
            raise ParameterError("program the weights first (backend.program(block_hadamard(n, R, order)))")
        y, st = self.layer(x, thresholds=thresholds, early_termination=early_termination)
        energy = {} if st.energy is None else {"rows": st.energy_rows, "columns": st.energy - st.energy_rows}
        counters = {"transforms": st.transforms, "column_planes": st.column_planes,
                    "zero_planes": st.zero_planes, "active_column_planes": st.active,
                    "evaluated_column_planes": st.evaluated, "skipped_column_planes": st.active - st.evaluated,
                    "ternary_zero": st.ternary_zero, "outputs": st.outputs, "outputs_zero": st.outputs_zero,
                    **{f"planes_evaluated_{k}": int(v) for k, v in enumerate(st.planes_hist)}}
        if st.energy_no_et is not None:
            counters["energy_no_et_J"] = st.energy_no_et
        return y, Cost(energy=energy, ops=st.ops, conversions=st.evaluated, counters=counters)

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
