"""Behavioral bit-plane compute-in-memory (CiM) matrix product, fed by the ``cim_column`` LUT.

What is modelled
----------------
One *physical column* is N 8T cells on a read bitline (N = the LUT's ``n_rows``). For one evaluation
the input bits drive the read wordlines; the bitline discharges according to
``k`` = the number of cells whose input bit AND stored weight bit are 1. The LUT gives the bitline
voltage at the sense instant ``V(k)`` (table ``vbl``), the energy of one evaluation ``E(k)`` (table
``energy``) and, when Monte Carlo was run, one ``V(k)`` curve per simulated physical column instance
(samples ``vbl``).

:class:`ColumnModel` fixes an operating point (vdd, temp, t_pulse) and holds

- the nominal curve ``V(k)`` and ``E(k)`` (LUT tables, interpolated along the continuous axes);
- a mismatch model: deviations ``dV(k)`` of a physical column from nominal, drawn as *whole curves*
  (so the correlation across k is kept) from a multivariate normal with the sample covariance of the
  LUT's Monte Carlo curves (``mismatch_source="mvn"``, default) or by picking real sampled curves
  (``"resample"``). A column's curve is ``V_nom(k) + s * (m(k) + d(k))`` with ``m`` = Monte Carlo
  mean minus nominal (the systematic shift mismatch causes) and ``d`` the drawn zero-mean deviation;
  ``s = mismatch_scale``. s = 1 reproduces the LUT's Monte Carlo population (made with the A_VT recorded
  in the LUT provenance) in mean and covariance; s = 0 gives the nominal column; other s stand for
  A_VT' = s x A_VT by *linear* scaling. A column re-characterized at a larger A_VT shows sigma(k)
  growing about linearly with A_VT for k >= 3 (faster at k = 1, where the leakage-like tail is
  exponential in Vth) and the mean shift growing much faster (it is second order), so scales above 1
  *underestimate* the damage (the measured figures: README, 'Technology and mismatch'); for a real
  A_VT study re-characterize the column at that A_VT (``charz.core.pdk.get(name, avt_mv_um=...)``) and use
  scale 1, e.g. with
  :func:`charz.network.evaluate.accuracy_vs_avt`;
- the read-out: by default an **ideal quantizer** of ``adc_bits`` bits (uniform, noiseless, zero
  energy) spanning the nominal range ``[V(N), V(0)]``; every report then says "ideal quantizer". Any
  digitizer of :mod:`charz.blocks.adc.model` (fed by an ``adc_*`` LUT) can replace it with
  :meth:`ColumnModel.with_digitizer`: its reference range is set to the same nominal ``[V(N), V(0)]``
  and every physical column is read by its converter instance (own transfer curve, fixed for the whole
  run; one per column by default, or shared by a group of columns, see :meth:`ColumnModel.adc_instance_index`);
- the digital back end's *calibrated decode*: the code is mapped to the k whose nominal level ``V(k)``
  is nearest to the centre of the code's bin.

Mapping of a layer (the convention :func:`cim_matmul` and :class:`CiMLayer` implement)
-------------------------------------------------------------------------------------
- Activations are unsigned integers of ``x_bits`` bits, applied one bit plane at a time (plane p has
  weight 2**p), so one logical product takes ``x_bits`` evaluations of every physical column.
- Weights are signed integers in the *symmetric* range ``[-(2**(w_bits-1) - 1), 2**(w_bits-1) - 1]``
  (e.g. -7..7 for 4 bits), stored sign-magnitude as two non-negative magnitude arrays:
  ``w = w_pos - w_neg`` with ``w_pos = max(w, 0)``, ``w_neg = max(-w, 0)``. Each magnitude has
  ``w_bits - 1`` bits (the sign bit selects the array), and bit slice j (weight 2**j) of each array
  sits in its own physical column. So one logical output column occupies ``2 * (w_bits - 1)`` physical
  columns per row tile.
- Rows (the input dimension) are split into tiles of N rows; the last tile is padded with zero rows
  (weight 0, input 0: they never add to k). The number of columns per array is not limited here.
- Each (plane p, sign, slice j, tile t, output o) evaluation gives k -> V through *that physical
  column's own curve* -> read-out (ideal quantizer or its converter) -> calibrated decode -> k_hat. The digital back end forms
  ``y[o] = sum_t sum_p sum_j 2**(p + j) * (k_hat_pos - k_hat_neg)``.

Because the mismatch is static (drawn once per simulated chip and kept for the whole run, for the
columns and for their converters) and the read-out is deterministic, the chain k -> V -> code -> k_hat
of every physical column is a fixed function of k: it is evaluated once per column for all k = 0..N
(a ``(columns, N+1)`` transfer table) when the chip is drawn. Per evaluation, ``k_hat = k + err(column, k)``; ``err`` is zero below a
per-column threshold k, so only the (few) evaluations at or above their column's threshold are
corrected; when many are (large mismatch) k_hat is gathered for every evaluation instead. Both give the
same integers. Temporal noise, if a later LUT carries it, would need a per-evaluation draw.

With a noiseless LUT (or ``mismatch_scale=0``) and an ideal quantizer whose bins separate all the
nominal levels, k_hat == k everywhere and the result equals the exact integer product ``x @ w``.

:func:`synthetic_column_lut` builds a **synthetic** column LUT (no SPICE behind it) for tests and for
the noiseless-equals-exact check. Never use it to report circuit figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Sequence

import numpy as np

from ...core.errors import CharzError, LUTError, ParameterError
from ...core.validate import finite
from ...core.lut import LUT, Axis, Kind
from ..adc.model import IdealDigitizer  # the ideal quantizer behind the digitizer interface
from ...behavior.interfaces import Cost, Digitizer
from ...behavior.mismatch import draw_instances, lut_mismatch
from ...behavior.readout import MAX_ADC_BITS, QUANTIZER_LABEL, IdealQuantizer

BLOCK = Kind.CIM_COLUMN
DENSE_FRACTION = 0.25
"""Above this fraction of possibly misread evaluations, k_hat is gathered for every evaluation."""


# ---- the column model ---------------------------------------------------------------------------
@dataclasses.dataclass
class ColumnModel:
    """A column LUT at one operating point: nominal curve, mismatch model, ideal quantizer, decode.

    Build it with :meth:`from_lut`. ``mismatch_scale`` multiplies the drawn deviations (see module doc).
    A :class:`charz.behavior.interfaces.ColumnReadout`.
    """

    n_rows: int
    coords: dict
    """Operating point (vdd [V], temp [degC], t_pulse [s], ...) the tables were read at."""
    v_nom: np.ndarray
    """Nominal bitline voltage V(k), k = 0..N [V]."""
    e_nom: np.ndarray
    """Energy per column evaluation E(k), k = 0..N [J] (nominal table)."""
    quantizer: Digitizer
    """The read-out: the ideal quantizer (an IdealDigitizer) by default, or a digitizer placed by with_digitizer
    (any :class:`charz.behavior.interfaces.Digitizer`)."""
    mismatch_scale: float = 1.0
    mismatch_source: str = "mvn"
    dev_factor: np.ndarray | None = None
    """(N+1, r) factor F with F @ F.T = covariance of the MC curves about their mean ("mvn")."""
    dev_mean: np.ndarray | None = None
    """(N+1,) Monte Carlo mean minus nominal [V]: the systematic shift mismatch causes ("mvn")."""
    dev_samples: np.ndarray | None = None
    """(S, N+1) Monte Carlo curves minus nominal [V] ("resample": real instances)."""
    mc_samples: int = 0
    mismatch_info: str = "none"
    columns_per_adc: int = 1
    """Physical columns sharing one converter instance (1 = a converter per column)."""
    adc_array_columns: int | None = None
    """Array width for grouping columns onto converters (None: a row tile is one array)."""
    adc_converters_per_array: int | None = None
    """Converters per array when fixed by the scheme (memory-immersed); None: columns_per_adc decides."""
    choices: dict = dataclasses.field(default_factory=dict)
    """How defaults were chosen (operating point, adc_bits), for reports."""
    provenance: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.quantizer, Digitizer):
            raise ParameterError(f"the column read-out must be a digitizer (charz.behavior.interfaces.Digitizer, e.g. "
                                 f"charz.blocks.adc.model.IdealDigitizer), got {type(self.quantizer).__name__}")

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_lut(
        cls,
        lut: LUT,
        vdd: float | None = None,
        temp: float | None = None,
        t_pulse: float | None = None,
        adc_bits: int | None = None,
        mismatch_scale: float = 1.0,
        mismatch_source: str = "mvn",
        **coords,
    ) -> "ColumnModel":
        """Read *lut* at (vdd, temp, t_pulse); None picks a default, recorded in ``choices``:

        - vdd: the PDK's nominal VDD from the provenance if inside the grid, else the highest grid VDD;
        - temp: 27 degC if inside the grid, else the nearest grid temperature;
        - t_pulse: the grid value whose nominal levels are best separated (smallest gap between adjacent
          levels, divided by the Monte Carlo sigma of those levels when the LUT has it);
        - adc_bits: the smallest ideal-quantizer resolution whose bins separate every nominal level
          (so the noiseless model is exact), at most 12; if no resolution does, ceil(log2(N+1)).
        """
        if not isinstance(lut, LUT):
            raise LUTError(f"a {BLOCK} LUT object is needed, got {type(lut).__name__}")
        if lut.block != BLOCK:
            raise LUTError(f"this is a '{lut.block}' LUT; the CiM model needs a '{BLOCK}' LUT (charz characterize cim_column)")
        for t in ("vbl", "energy"):
            if t not in lut.tables:
                raise LUTError(f"{BLOCK} LUT has no '{t}' table: regenerate it with `charz characterize cim_column`")
        kax = lut.axis("k")
        n = kax.values.size - 1
        if n < 1 or not np.array_equal(kax.values, np.arange(n + 1)):
            raise LUTError(f"{BLOCK} LUT axis k must be 0..N in steps of 1, got {kax.values.tolist()}")
        n_cond = lut.conditions.get("n_rows")
        if n_cond is not None and int(n_cond) != n:
            raise LUTError(f"{BLOCK} LUT says n_rows={n_cond} but its k axis ends at {n}: the LUT is inconsistent; regenerate it")
        if mismatch_source not in ("mvn", "resample"):
            raise ParameterError(f"mismatch_source must be 'mvn' or 'resample', got {mismatch_source!r}")
        ms = finite(mismatch_scale, "mismatch_scale")
        if ms < 0:
            raise ParameterError(f"mismatch_scale must be >= 0 (1.0 = the LUT's A_VT), got {ms:g}")
        if adc_bits is not None:
            adc_bits = _check_adc_bits(adc_bits)

        choices: dict = {}
        given = dict(coords)
        for name, val in (("vdd", vdd), ("temp", temp), ("t_pulse", t_pulse)):
            if val is not None:
                given[name] = val
        point = {}
        names = [a.name for a in lut.axes if a.name != "k"]
        unknown = set(given) - set(names)
        if unknown:
            raise ParameterError(f"the {BLOCK} LUT has no axis {sorted(unknown)} (axes: {names})")
        for name in names:
            ax = lut.axis(name)
            if name in given:
                point[name] = finite(given[name], name)
                _on_grid(ax, point[name])
                choices[name] = "given"
            elif (dflt := lut.default_coord(name)) is not None:
                point[name], choices[name] = dflt
            elif name != "t_pulse":
                raise ParameterError(f"give a value for the {BLOCK} LUT axis '{name}' (grid {ax.values.tolist()} {ax.unit})")
        if "t_pulse" in names and "t_pulse" not in point:
            ax = lut.axis("t_pulse")
            scores = [_separation(lut, {**point, "t_pulse": float(t)}) for t in ax.values]
            point["t_pulse"] = float(ax.values[int(np.nanargmax(scores))])
            choices["t_pulse"] = "grid value with the best-separated levels"
        point = {a.name: point[a.name] for a in lut.axes if a.name != "k"}

        v_nom = np.asarray(lut.slice("vbl", **point), dtype=float)
        e_nom = np.asarray(lut.slice("energy", **point), dtype=float)
        if not (np.all(np.isfinite(v_nom)) and np.all(np.isfinite(e_nom))):
            raise LUTError(f"{BLOCK} LUT has missing (NaN) nominal values at {point}: re-characterize that point")

        # mismatch statistics
        mc_n, dev_mean, dev_factor, dev_samples, mismatch_source, info = lut_mismatch(
            lut, "vbl", point, v_nom, ms, mismatch_source, "curves", "k", "none")

        if adc_bits is None:
            adc_bits = _smallest_exact_bits(v_nom)
            choices["adc_bits"] = (
                "smallest ideal quantizer separating all nominal levels" if adc_bits is not None
                else "levels not separable up to 12 bits: ceil(log2(N+1))"
            )
            if adc_bits is None:
                adc_bits = max(1, math.ceil(math.log2(n + 1)))
        else:
            choices["adc_bits"] = "given"
        q = IdealDigitizer(int(adc_bits), float(v_nom[-1]), float(v_nom[0]))
        return cls(
            n_rows=n, coords=point, v_nom=v_nom, e_nom=e_nom, quantizer=q, mismatch_scale=ms,
            mismatch_source=mismatch_source, dev_factor=dev_factor, dev_mean=dev_mean, dev_samples=dev_samples,
            mc_samples=mc_n,
            mismatch_info=info, choices=choices, provenance=dict(lut.provenance),
        )

    # -- derived ---------------------------------------------------------------------------------
    @property
    def adc_bits(self) -> int:
        """Resolution of the read-out (bits)."""
        return self.quantizer.bits

    @property
    def ideal_readout(self) -> bool:
        """True when the read-out is the ideal quantizer (0 J, 0 s, no converter mismatch)."""
        return self.quantizer.block == "ideal"

    @property
    def sigma(self) -> np.ndarray:
        """Per-k sigma of the drawn bitline voltage at this mismatch_scale [V]."""
        if self.dev_factor is None:
            return np.zeros_like(self.v_nom)
        return self.mismatch_scale * np.sqrt(np.sum(self.dev_factor**2, axis=1))

    def decode_table(self) -> np.ndarray:
        """Calibrated decode: code -> k whose nominal level is nearest to the code's bin centre."""
        c = self.quantizer.centers()
        return np.argmin(np.abs(c[:, None] - self.v_nom[None, :]), axis=1).astype(np.int64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Active-cell counts k (int64) of read-out *codes*, through :meth:`decode_table`."""
        return self.decode_table()[np.asarray(codes)]

    def is_exact(self) -> bool:
        """True if the nominal column read through the ideal quantizer gives back every k."""
        return bool(np.array_equal(self.decode(self.quantizer.codes(self.v_nom)), np.arange(self.n_rows + 1)))

    # -- per-chip draws --------------------------------------------------------------------------
    def draw_curves(self, n_columns: int, rng: np.random.Generator) -> np.ndarray:
        """(n_columns, N+1) bitline-voltage curves of physical columns of one simulated chip.

        The random numbers drawn do not depend on ``mismatch_scale``: the same generator state gives
        the same chip at every scale, only the deviations' size changes (common random numbers).
        """
        return draw_instances(
            self.v_nom, n_columns, rng, self.mismatch_scale, self.mismatch_source,
            self.dev_factor, self.dev_mean, self.dev_samples,
        )

    def transfer(self, curves: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """k -> k_hat of each column: its curve, then the read-out, then the calibrated decode."""
        return self.read_out(curves, rng)[0]

    def read_out(self, curves: np.ndarray, rng: np.random.Generator | None = None,
                 layout: tuple[int, int] | None = None):
        """(k -> k_hat table of each column, the chip's converter bank or None).

        With the ideal quantizer (no converter mismatch) the codes are ``quantizer.codes(curves)`` and
        *rng* is not used, so results are bit-identical to the ideal-quantizer model. With a digitizer
        that has per-instance transfer curves, one instance per converter of the chip is drawn from
        *rng* (once per chip) and every column is read by its converter
        (:meth:`adc_instance_index`; ``layout`` = (tiles, columns per tile) of the mapped layer, None =
        one tile of all the columns).
        """
        q = self.quantizer
        if not q.has_instances:
            return self.decode(q.codes(curves)), None
        if rng is None:
            raise ParameterError("a digitizer with per-instance transfer curves needs the chip's rng")
        curves = np.asarray(curves, dtype=float)
        n_cols = curves.shape[0]
        t, c = layout if layout is not None else (1, n_cols)
        if t * c != n_cols:
            raise ParameterError(f"layout {t} x {c} does not match {n_cols} columns")
        idx = self.adc_instance_index(t, c)
        bank = q.instances(int(idx.max()) + 1 if idx.size else 0, rng)
        return self.decode(bank.convert(curves, idx[:, None])), bank

    def adc_instance_index(self, n_tiles: int, columns_per_tile: int) -> np.ndarray:
        """Converter instance (0..n-1) reading each physical column, flattened (tile, column).

        Every tile is split into arrays of ``adc_array_columns`` columns (None: the tile is one array).
        Within an array of C columns, columns are served in contiguous groups of K by one converter:
        K = ``columns_per_adc`` (conventional converters in the periphery), or, when
        ``adc_converters_per_array`` = G is set (memory-immersed: the neighbour's bitlines form G
        converters), K = ceil(C / G). K = 1 gives every column its own converter."""
        ac = self.adc_array_columns or columns_per_tile
        c = np.arange(columns_per_tile)
        a, j = c // ac, c % ac
        width = np.minimum(ac, columns_per_tile - a * ac)  # the last array of a tile may be narrower
        if self.adc_converters_per_array:
            k = -(-width // self.adc_converters_per_array)
        else:
            k = np.full_like(width, self.columns_per_adc)
        arrays_per_tile = -(-columns_per_tile // ac)
        slots = ac  # at most one converter per column of an array
        local = (a * slots + j // k)[None, :] + (np.arange(n_tiles) * arrays_per_tile * slots)[:, None]
        return np.unique(local.ravel(), return_inverse=True)[1].astype(np.int64)

    def with_digitizer(self, digitizer, columns_per_adc: int = 1, array_columns: int | None = None,
                       converters_per_array: int | None = None) -> "ColumnModel":
        """This column model read out by *digitizer* (see :mod:`charz.blocks.adc.model`).

        The digitizer is placed on the column's nominal range with ``digitizer.for_range(V(N), V(0))``:
        a LUT-fed converter maps its characterized reference range onto the column swing (the reference
        generator sets the converter's full scale to the nominal swing; see the digitizer module for the
        ``reference`` options). Which columns share a converter instance: :meth:`adc_instance_index`
        (default: every column its own converter).
        """
        m = _check_int(columns_per_adc, "columns_per_adc", 1)
        ac = None if array_columns is None else _check_int(array_columns, "array_columns", 1)
        g = None if converters_per_array is None else _check_int(converters_per_array, "converters_per_array", 1)
        if not isinstance(digitizer, Digitizer):
            raise ParameterError(f"a digitizer (charz.blocks.adc.model.DigitizerModel / IdealDigitizer, or any "
                                 f"charz.behavior.interfaces.Digitizer) is needed, got {type(digitizer).__name__}")
        q = digitizer.for_range(float(self.v_nom[-1]), float(self.v_nom[0]))
        choices = dict(self.choices)
        choices["adc_bits"] = f"given by the digitizer ({q.bits} bits)"
        return dataclasses.replace(self, quantizer=q, columns_per_adc=m, adc_array_columns=ac,
                                   adc_converters_per_array=g, choices=choices)

    def describe(self) -> dict:
        """Operating point and read-out, for reports."""
        avt = self.provenance.get("avt_mv_um")
        return {
            "n_rows": self.n_rows,
            **{k: v for k, v in self.coords.items()},
            "adc_bits": self.adc_bits,
            "readout": (f"{QUANTIZER_LABEL}, {self.adc_bits} bits over nominal [V(N), V(0)] = "
                        f"[{self.quantizer.v_lo:.4g}, {self.quantizer.v_hi:.4g}] V, calibrated decode")
                       if self.ideal_readout else
                       f"{self.quantizer.label}, calibrated decode"
                       + (f", {self.adc_converters_per_array} converters per array of {self.adc_array_columns} columns"
                          if self.adc_converters_per_array else
                          f", {self.columns_per_adc} columns per converter" if self.columns_per_adc > 1 else
                          ", one converter per column"),
            "readout_short": f"{QUANTIZER_LABEL} {self.adc_bits}-bit" if self.ideal_readout
                             else self.quantizer.short_label,
            "readout_block": self.quantizer.block,
            "readout_exact_when_noiseless": self.is_exact(),
            "mismatch_scale": self.mismatch_scale,
            "mismatch_model": self.mismatch_info,
            "mc_mean_shift_max_mV": None if self.dev_mean is None else round(1e3 * float(np.max(np.abs(self.dev_mean))), 3),
            "avt_mv_um_lut": avt,
            "avt_mv_um_effective": None if avt is None else self.mismatch_scale * float(avt),
            "choices": dict(self.choices),
        }


# ---- mapping a weight matrix onto columns -------------------------------------------------------
@dataclasses.dataclass
class CiMLayer:
    """A weight matrix mapped onto N-row tiles of one simulated chip (fixed mismatch per column).

    Physical columns are indexed (tile t, sign z in {+, -}, slice j, output o); see the module doc.
    Call it on unsigned integer activations to get the integer outputs and the k histogram of the
    column evaluations (what the energy ledger needs).
    """

    n_rows: int
    x_bits: int
    w_bits: int
    in_features: int
    out_features: int
    wplanes: np.ndarray
    """(T, N, C) float32 bits, C = 2 * (w_bits - 1) * out columns ordered (z, j, o)."""
    coef: np.ndarray
    """(x_bits, 2 * (w_bits - 1)) int64: +-2**(p+j) for plane p and (sign, slice)."""
    kmap: np.ndarray | None = None
    """(T, C, N+1) int64 per-column transfer table k -> k_hat of this chip; None = ideal columns."""
    chunk_elements: int = 1 << 19
    """Column evaluations processed per block (a cache-sized batch of images; no effect on results)."""
    adc_bank: object = None
    """The chip's converter instances (:class:`charz.blocks.adc.model.ConverterBank`) when the
    read-out has per-instance transfer curves; None for the ideal quantizer."""
    _ws: "_Workspace" = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        self._ws = _Workspace()
        self._set_errors()

    def _set_errors(self):
        # The chain k -> k_hat is k + err[t, c, k]; err is zero below a per-column threshold k, so only
        # evaluations with k >= thr need a correction (few, unless the mismatch is large).
        t, c, n1 = self.n_tiles, self.columns_per_tile, self.n_rows + 1
        if self.kmap is None:
            self._err = None
            return
        km = np.asarray(self.kmap, dtype=np.int64).reshape(t, c, n1)
        err = km - np.arange(n1)
        bad = err != 0
        thr = np.where(bad.any(axis=2), np.argmax(bad, axis=2), n1)
        self.kmap = km
        self._err = err.astype(np.float32).ravel() if bad.any() else None
        self._kmap_f = km.astype(np.float32).ravel()
        # flat table index (t * C + c) * (N+1) + k, formed in floating point next to k: float32 is exact
        # below 2**24, larger layers use float64
        self._idx_dtype = np.float32 if t * c * n1 < 2**24 else np.float64
        self._koff = ((np.arange(t)[:, None, None] * c + np.arange(c)[None, None, :]) * n1).astype(self._idx_dtype)
        self._thr8 = thr.astype(np.uint8)[:, None, :]  # (T, 1, C); thr <= N+1 <= 255

    def set_transfer(self, kmap: np.ndarray | None) -> None:
        """Install a (T, C, N+1) (or flattened) per-column transfer table k -> k_hat."""
        self.kmap = kmap
        self._set_errors()

    @property
    def n_tiles(self) -> int:
        """Number of N-row tiles the weight matrix's input dimension is split over."""
        return self.wplanes.shape[0]

    @property
    def n_slices(self) -> int:
        """Weight magnitude bits per sign: ``w_bits - 1`` (one physical column each)."""
        return self.w_bits - 1

    @property
    def columns_per_tile(self) -> int:
        """Physical columns per tile: 2 x (w_bits - 1) x outputs (sign, slice, output)."""
        return self.wplanes.shape[2]

    @property
    def evaluations_per_input(self) -> int:
        """Column evaluations per input vector: planes x tiles x physical columns per tile."""
        return self.x_bits * self.n_tiles * self.columns_per_tile

    @property
    def macs(self) -> int:
        """Logical multiply-accumulates per input vector (in x out), not per bit plane."""
        return self.in_features * self.out_features

    def column_k(self, x_int) -> np.ndarray:
        """k of every evaluation: (T, x_bits * B, C) float32 (integer valued), rows ordered (plane, image)."""
        return self._column_k(_check_x(x_int, self.x_bits, self.in_features)).copy()

    def _column_k(self, x: np.ndarray, ws: "_Workspace | None" = None) -> np.ndarray:
        b = x.shape[0]
        t, n, p = self.n_tiles, self.n_rows, self.x_bits
        ws = ws or _Workspace()
        xp = ws.get("xp", (b, t * n), np.uint8)
        xp[:, : self.in_features] = x
        xp[:, self.in_features :] = 0  # zero rows padding the last tile
        xb = ws.get("xb", (t, p * b, n), np.float32)  # (T, P*B, N) input bit planes, rows (plane, image)
        xb4 = xb.reshape(t, p, b, n)
        xpt = xp.reshape(b, t, n).transpose(1, 0, 2)
        for i in range(p):  # over the (few) bit planes only
            np.bitwise_and(np.right_shift(xpt, i), 1, out=xb4[:, i], casting="unsafe")
        k = ws.get("k", (t, p * b, self.columns_per_tile), np.float32)
        return np.matmul(xb, self.wplanes, out=k)  # integer valued, exact in float32 (k <= N)

    def __call__(self, x_int, return_hist: bool = True):
        """Integer outputs (B, out) int64 [and the k histogram (N+1,) of all column evaluations].

        Vectorized over images, planes, slices, tiles and columns; images are processed in blocks of
        ``chunk_elements`` column evaluations to stay in cache.
        """
        x = _check_x(x_int, self.x_bits, self.in_features)
        squeeze = np.ndim(x_int) == 1
        b = x.shape[0]
        per_image = self.x_bits * self.n_tiles * self.columns_per_tile
        step = max(1, self.chunk_elements // max(1, per_image))
        y = np.empty((b, self.out_features), dtype=np.int64)
        hist = np.zeros(self.n_rows + 1, dtype=np.int64) if return_hist else None
        with _one_blas_thread():  # k-matmuls are short (inner size N) and memory bound
            for i in range(0, b, step):
                y[i : i + step] = self._block(x[i : i + step], hist)
        if squeeze:
            y = y[0]
        return (y, hist) if return_hist else y

    def _block(self, x: np.ndarray, hist: np.ndarray | None) -> np.ndarray:
        # Work arrays are reused between blocks and calls (fresh large arrays cost page faults).
        b = x.shape[0]
        ws = self._ws
        k = self._column_k(x, ws)  # (T, R, C) float32, R = P * b
        s = ws.get("s", k.shape[1:], np.float32)  # tile sums of k_hat, (R, C)
        n_bad = 0
        if hist is not None or self._err is not None:
            k8 = ws.get("k8", k.shape, np.uint8)
            np.copyto(k8, k, casting="unsafe")
            if hist is not None:
                hist += _khist_u8(k8.reshape(-1), self.n_rows, ws)
            if self._err is not None:
                mask = np.greater_equal(k8, self._thr8, out=ws.get("mask", k.shape, np.bool_))
                n_bad = np.count_nonzero(mask)  # evaluations that may be read back wrong
        if n_bad > DENSE_FRACTION * k.size:
            # many: gather k_hat of every evaluation from the per-column transfer tables
            idx_f = np.add(k, self._koff, out=ws.get("idx_f", k.shape, self._idx_dtype))
            idx = ws.get("idx", k.shape, np.intp)
            np.copyto(idx, idx_f, casting="unsafe")
            kh = np.take(self._kmap_f, idx, out=ws.get("kh", k.shape, np.float32))
            np.sum(kh, axis=0, out=s)
        else:
            if n_bad:  # few: correct only those, in k itself (k is a work buffer and the hist is done)
                nz = np.flatnonzero(mask)
                c = self.columns_per_tile
                rc = k.shape[1] * c
                small = k.size < 2**31 and self._kmap_f.size < 2**31
                n = nz.astype(np.int32) if small else nz
                tc = (n // rc) * c + n % c  # physical column (t, c) of each evaluation
                sel = tc * (self.n_rows + 1) + k8.reshape(-1)[nz]
                kf = k.reshape(-1)
                kf[nz] += self._err[sel]  # nz are unique: plain fancy indexing
            np.sum(k, axis=0, out=s)
        s = s.reshape(self.x_bits, b, 2 * self.n_slices, self.out_features)
        return np.rint(np.einsum("pbso,ps->bo", s, self.coef.astype(np.float64))).astype(np.int64)


def map_weights(w_int, n_rows: int, w_bits: int, x_bits: int) -> CiMLayer:
    """Map signed integer weights (in, out) onto N-row tiles as ideal columns (no LUT, k_hat = k)."""
    n_rows = _check_int(n_rows, "n_rows", 1)
    w_bits = _check_int(w_bits, "w_bits", 2)
    x_bits = _check_int(x_bits, "x_bits", 1)
    if x_bits > 8:
        raise ParameterError(f"x_bits = {x_bits} is too wide: activations of at most 8 bits are supported")
    w = _as_int(w_int, "weights")
    if w.ndim != 2:
        raise ParameterError(f"weights must be a 2-D (in, out) matrix, got shape {w.shape}")
    wmax = (1 << (w_bits - 1)) - 1
    if w.size and (w.max() > wmax or w.min() < -wmax):
        raise ParameterError(
            f"weights must lie in [-{wmax}, {wmax}] for w_bits={w_bits} (symmetric sign-magnitude), "
            f"got [{w.min()}, {w.max()}]"
        )
    n_in, n_out = w.shape
    t = max(1, -(-n_in // n_rows))
    s = w_bits - 1
    mags = np.stack([np.maximum(w, 0), np.maximum(-w, 0)])  # (2, in, out)
    bits = (mags[:, None] >> np.arange(s)[None, :, None, None]) & 1  # (2, S, in, out)
    pad = np.zeros((2, s, t * n_rows, n_out), dtype=np.int64)
    pad[:, :, :n_in] = bits
    wplanes = pad.reshape(2, s, t, n_rows, n_out).transpose(2, 3, 0, 1, 4).reshape(t, n_rows, 2 * s * n_out)
    sign = np.array([1, -1], dtype=np.int64)
    coef = sign[None, :, None] * (1 << (np.arange(x_bits)[:, None, None] + np.arange(s)[None, None, :]))
    return CiMLayer(
        n_rows=n_rows, x_bits=x_bits, w_bits=w_bits, in_features=n_in, out_features=n_out,
        wplanes=np.ascontiguousarray(wplanes, dtype=np.float32),
        coef=coef.reshape(x_bits, 2 * s).astype(np.int64),
    )


def map_layer(w_int, model: ColumnModel, rng: np.random.Generator, *, w_bits: int = 4, x_bits: int = 4) -> CiMLayer:
    """Map weights onto the columns of one simulated chip: each physical column gets its own curve
    drawn from *model* with *rng* (once; kept for every later call of the returned layer)."""
    layer = map_weights(w_int, model.n_rows, w_bits, x_bits)
    n_cols = layer.n_tiles * layer.columns_per_tile
    curves = model.draw_curves(n_cols, rng)
    kmap, layer.adc_bank = model.read_out(curves, rng, (layer.n_tiles, layer.columns_per_tile))  # converters after curves
    layer.set_transfer(kmap.reshape(layer.n_tiles, layer.columns_per_tile, model.n_rows + 1))
    return layer


def cim_matmul(
    x_int,
    w_int,
    model: ColumnModel,
    *,
    x_bits: int = 4,
    w_bits: int = 4,
    seed: int | np.random.Generator = 0,
    return_hist: bool = False,
):
    """Bit-plane CiM product of unsigned ``x_int`` (B, in) and signed ``w_int`` (in, out).

    One call = one simulated chip drawn from *seed*. Returns the integer outputs (B, out) and, with
    ``return_hist``, the histogram over k = 0..N of every column evaluation. Equals ``x @ w`` exactly
    when the columns are noiseless and the ideal quantizer separates the nominal levels.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    layer = map_layer(w_int, model, rng, w_bits=w_bits, x_bits=x_bits)
    return layer(x_int, return_hist=return_hist)


def bitserial_matmul(x_int, w_int, n_rows: int, *, x_bits: int = 4, w_bits: int = 4):
    """Bare bit-serial integer arithmetic of the same mapping (planes, slices, tiles), no LUT."""
    return map_weights(w_int, n_rows, w_bits, x_bits)(x_int, return_hist=False)


class CimBackend:
    """The bit-plane CiM as a :class:`charz.behavior.interfaces.MatmulBackend`: one simulated chip of
    *model*'s columns. :meth:`program` maps the weights with :func:`map_layer` (every physical column's
    curve and converter drawn from *seed*, once); :meth:`matmul` calls the :class:`CiMLayer`. So
    ``CimBackend(model, seed=s)`` programmed with w gives ``cim_matmul(x, w, model, seed=s)`` exactly.

    ``model=None``: ideal columns of ``n_rows`` rows (k_hat = k: the exact ``x @ w``, no energy counted).
    Cost: ``energy["array"]`` = sum of E(k) over the column evaluations, ``energy["readout"]`` = one
    conversion per evaluation at the read-out's energy [J] (0 for the ideal quantizer); ops = 2 x logical
    MACs; no latency (see :mod:`charz.network.timing`)."""

    def __init__(self, model: ColumnModel | None, *, n_rows: int | None = None, w_bits: int = 4, x_bits: int = 4,
                 seed: int | np.random.Generator = 0):
        if model is not None and not isinstance(model, ColumnModel):
            raise ParameterError(f"model must be a ColumnModel (ColumnModel.from_lut(lut)) or None, got "
                                 f"{type(model).__name__}")
        if model is not None and n_rows is not None and int(n_rows) != model.n_rows:
            raise ParameterError(f"n_rows={n_rows} but the column LUT has N = {model.n_rows} rows: leave n_rows out")
        self.model = model
        self.n_rows = model.n_rows if model is not None else _check_int(16 if n_rows is None else n_rows, "n_rows", 1)
        self.w_bits = _check_int(w_bits, "w_bits", 2)
        self.x_bits = _check_int(x_bits, "x_bits", 1)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.layer: CiMLayer | None = None
        """The programmed weights on this chip (None before :meth:`program`)."""
        self.weights: np.ndarray | None = None

    @property
    def label(self) -> str:
        """Columns (N rows), bits, and the read-out (or ``ideal columns``)."""
        if self.model is None:
            return f"ideal CiM columns ({self.n_rows} rows), w{self.w_bits} x{self.x_bits}"
        return (f"CiM columns ({self.n_rows} rows, mismatch x{self.model.mismatch_scale:g}), w{self.w_bits} "
                f"x{self.x_bits}, read out by {self.model.describe()['readout_short']}")

    @property
    def shape(self) -> tuple[int, int] | None:
        """(in, out) of the programmed weights; None before :meth:`program`."""
        return None if self.layer is None else (self.layer.in_features, self.layer.out_features)

    def program(self, weights) -> None:
        """Map signed integer weights (in, out) in [-(2^(w_bits-1) - 1), 2^(w_bits-1) - 1] onto this chip's
        columns (their mismatch drawn now, from the backend's generator)."""
        w = _as_int(weights, "weights")
        if self.model is None:
            self.layer = map_weights(w, self.n_rows, self.w_bits, self.x_bits)
        else:
            self.layer = map_layer(w, self.model, self.rng, w_bits=self.w_bits, x_bits=self.x_bits)
        self.weights = w

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(integer outputs (batch, out) int64, :class:`~charz.behavior.interfaces.Cost`) of unsigned
        ``x_bits``-bit activations *x* (batch, in)."""
        if self.layer is None:
            raise ParameterError("program the weights first (backend.program(w))")
        y, hist = self.layer(x, return_hist=True)
        b = 1 if np.ndim(x) == 1 else int(np.shape(x)[0])
        n = int(hist.sum())
        energy = {}
        if self.model is not None:
            energy = {"array": float(hist @ np.asarray(self.model.e_nom, dtype=float)),
                      "readout": n * float(self.model.quantizer.energy)}
        return y, Cost(energy=energy, ops=2 * self.layer.macs * b, conversions=n,
                       counters={"column_evaluations": n, "vectors": b})

    def ideal(self) -> "CimBackend":
        """Ideal columns of the same size and bits (exact ``x @ w``), programmed with the same weights."""
        out = CimBackend(None, n_rows=self.n_rows, w_bits=self.w_bits, x_bits=self.x_bits)
        if self.weights is not None:
            out.program(self.weights)
        return out


# ---- synthetic LUT (tests only) -----------------------------------------------------------------
def synthetic_column_lut(
    n_rows: int = 16,
    vdd: Sequence[float] = (0.6, 0.7, 0.8),
    temp: Sequence[float] = (27.0,),
    t_pulse: Sequence[float] = (1e-9,),
    swing: float = 0.6,
    nonlinearity: float = 0.0,
    sigma: float = 0.0,
    n_samples: int = 0,
    seed: int = 0,
    c_bl: float = 20e-15,
    e_wl: float = 0.1e-15,
    avt_mv_um: float = 1.5,
) -> LUT:
    """A SYNTHETIC ``cim_column`` LUT (no SPICE behind it): for tests and the noiseless-equals-exact check.

    Nominal curve ``V(k) = vdd * (1 - swing * f(k/N))`` with ``f(u) = (1 - nonlinearity) * u +
    nonlinearity * (1 - exp(-3u)) / (1 - exp(-3))`` (a mild saturation), the same at every temp and
    t_pulse. Energy ``E(k) = c_bl * vdd * (vdd - V(k)) + e_wl * k`` (restore + wordline drive).
    With ``n_samples > 0`` each Monte Carlo sample is one column instance: a read-current gain error
    g ~ N(0, 1) (fully correlated across k, grows with the discharge) plus an independent part per k,
    scaled so the bitline sigma at k = N is about ``sigma`` volts (80 % correlated, 20 % independent).
    Its provenance says ``pdk: synthetic``.
    """
    n_rows = _check_int(n_rows, "n_rows", 1)
    vdd_v = np.asarray(sorted(vdd), dtype=float)
    temp_v = np.asarray(sorted(temp), dtype=float)
    tp_v = np.asarray(sorted(t_pulse), dtype=float)
    k = np.arange(n_rows + 1)
    u = k / n_rows
    f = (1 - nonlinearity) * u + nonlinearity * (1 - np.exp(-3 * u)) / (1 - np.exp(-3))
    shape = (vdd_v.size, temp_v.size, tp_v.size, n_rows + 1)
    vd = vdd_v[:, None, None, None]
    vbl = np.broadcast_to(vd * (1 - swing * f), shape).copy()
    energy = c_bl * vd * (vd - vbl) + e_wl * k
    tables = {"vbl": vbl, "energy": energy}
    units = {"vbl": "V", "energy": "J"}
    samples = {}
    if n_samples > 0:
        rng = np.random.default_rng(seed)
        g = rng.standard_normal(n_samples)
        e = rng.standard_normal((n_rows + 1, n_samples))
        dv = sigma * (0.8 * f[:, None] * g[None, :] + 0.2 * e * np.sqrt(np.maximum(f, 0.05))[:, None])
        sv = vbl[..., None] + dv  # same instances at every corner
        se = c_bl * vd[..., None] * (vd[..., None] - sv) + e_wl * k[:, None]
        samples = {"vbl": sv, "energy": se}
        tables.update({
            "vbl_mean": sv.mean(-1), "vbl_sigma": sv.std(-1, ddof=1) if n_samples > 1 else np.zeros(shape),
            "energy_mean": se.mean(-1), "energy_sigma": se.std(-1, ddof=1) if n_samples > 1 else np.zeros(shape),
        })
        units.update({"vbl_mean": "V", "vbl_sigma": "V", "energy_mean": "J", "energy_sigma": "J"})
    return LUT(
        block=BLOCK,
        axes=(Axis("vdd", "V", vdd_v), Axis("temp", "degC", temp_v), Axis("t_pulse", "s", tp_v),
              Axis("k", "cells", k.astype(float), discrete=True)),
        tables=tables, units=units, samples=samples,
        conditions={"n_rows": n_rows},
        provenance={
            "pdk": "synthetic", "generator": "charz.blocks.cim_column.model.synthetic_column_lut", "synthetic": True,
            "parameters": {"n_rows": n_rows, "swing": swing, "nonlinearity": nonlinearity, "sigma": sigma,
                           "c_bl": c_bl, "e_wl": e_wl},
            "vdd_nom": float(vdd_v[len(vdd_v) // 2]), "avt_mv_um": avt_mv_um,
            "mc_samples": int(n_samples), "mc_seed": seed,
        },
    )


# ---- helpers ------------------------------------------------------------------------------------
_BLAS = None


def _one_blas_thread():
    """Context limiting BLAS to one thread (threadpoolctl, a scikit-learn dependency), else a no-op.

    The bit-plane matmuls have an inner dimension of only N rows: threads buy nothing and, on a busy
    machine, cost a lot (spinning workers)."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()
        except Exception:  # pragma: no cover - threadpoolctl missing or broken
            _BLAS = False
    if _BLAS is False:
        return contextlib.nullcontext()
    return _BLAS.limit(limits=1, user_api="blas")


class _Workspace:
    """Reusable flat work buffers (one per name), handed out as contiguous views of the needed shape.
    Not thread-safe: one CiMLayer is called from one thread at a time."""

    def __init__(self):
        self._b: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple, dtype) -> np.ndarray:
        n = int(np.prod(shape))
        dt = np.dtype(dtype)
        buf = self._b.get(name)
        if buf is None or buf.size < n or buf.dtype != dt:
            buf = self._b[name] = np.empty(max(n, 1), dtype=dt)
        return buf[:n].reshape(shape)


def _khist(k: np.ndarray, n: int, ws: _Workspace | None = None) -> np.ndarray:
    """Histogram over 0..n of the integer-valued array *k* (0 <= k <= n <= 255)."""
    ws = ws or _Workspace()
    k8 = ws.get("k8h", (k.size,), np.uint8)
    np.copyto(k8, k.reshape(-1), casting="unsafe")
    return _khist_u8(k8, n, ws)


def _khist_u8(k8: np.ndarray, n: int, ws: _Workspace) -> np.ndarray:
    """Histogram over 0..n of a flat uint8 array.

    Counts pairs of neighbouring values at once (two uint8 read as one uint16) and marginalizes: half
    the elements go through bincount, about twice as fast as a plain bincount.
    """
    out = np.zeros(n + 1, dtype=np.int64)
    if k8.size % 2:
        out[k8[-1]] += 1
        k8 = k8[:-1]
    if k8.size:
        pairs = ws.get("pairs", (k8.size // 2,), np.intp)
        np.copyto(pairs, k8.view(np.uint16), casting="safe")
        h2 = np.bincount(pairs, minlength=256 * (n + 1))[: 256 * (n + 1)].reshape(n + 1, 256)[:, : n + 1]
        out += h2.sum(axis=0) + h2.sum(axis=1)
    return out


def _separation(lut: LUT, point: dict) -> float:
    try:
        v = np.asarray(lut.slice("vbl", **point), dtype=float)
    except CharzError:
        return float("nan")
    gaps = -np.diff(v)
    sig = None
    if "vbl_sigma" in lut.tables:
        sig = np.asarray(lut.slice("vbl_sigma", **point), dtype=float)
    if sig is not None and np.all(np.isfinite(sig)) and np.any(sig > 0):
        return float(np.min(gaps / (sig[:-1] + sig[1:] + 1e-12)))
    return float(np.min(gaps)) if np.all(np.isfinite(gaps)) else float("nan")


def _smallest_exact_bits(v_nom: np.ndarray, max_bits: int = 12) -> int | None:
    if not (v_nom[0] > v_nom[-1]):
        return None
    for b in range(1, max_bits + 1):
        q = IdealQuantizer(b, float(v_nom[-1]), float(v_nom[0]))
        c = q.centers()
        dec = np.argmin(np.abs(c[:, None] - v_nom[None, :]), axis=1)
        if np.array_equal(dec[q.codes(v_nom)], np.arange(v_nom.size)):
            return b
    return None


def _on_grid(ax: Axis, x: float) -> None:
    v = ax.values
    tol = 1e-9 * max(abs(x), float(np.max(np.abs(v))))  # relative to the axis scale (t_pulse is ~1e-10 s)
    if ax.discrete or v.size < 2:
        if not np.any(np.abs(v - x) <= tol):
            raise LUTError(f"{ax.name}={x:g} is not on the {BLOCK} LUT grid {v.tolist()} ({ax.unit}): use a grid value")
    elif not (v[0] - tol <= x <= v[-1] + tol):
        raise LUTError(
            f"{ax.name}={x:g} {ax.unit} is outside the {BLOCK} LUT range [{v[0]:g}, {v[-1]:g}]: "
            f"choose a value inside it or re-characterize with a wider {ax.name} grid"
        )


def _check_int(x, name: str, lo: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer >= {lo}, got {x!r}")
    if x < lo:
        raise ParameterError(f"{name} must be an integer >= {lo}, got {x}")
    return int(x)


def _check_adc_bits(b) -> int:
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not (1 <= b <= MAX_ADC_BITS):
        raise ParameterError(f"adc_bits must be an integer from 1 to {MAX_ADC_BITS} (ideal quantizer), got {b!r}")
    return int(b)


def _as_int(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ParameterError(f"{name} must be integers, got dtype {arr.dtype}")


def _check_x(x_int, x_bits: int, n_in: int) -> np.ndarray:
    x = _as_int(x_int, "activations")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ParameterError(f"activations must have shape (batch, {n_in}), got {np.shape(x_int)}")
    if x.size and (x.min() < 0 or x.max() >= (1 << x_bits)):
        raise ParameterError(f"activations must be unsigned {x_bits}-bit integers in [0, {(1 << x_bits) - 1}], got [{x.min()}, {x.max()}]")
    return x.astype(np.uint8)
