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

How a weight matrix is mapped onto these columns and multiplied (bit planes, bit slices, row tiles, one
simulated chip per call): :mod:`charz.blocks.cim_column.model_layer`.

:func:`synthetic_column_lut` builds a **synthetic** column LUT (no SPICE behind it) for tests and for
the noiseless-equals-exact check. Never use it to report circuit figures.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from ...core.errors import CharzError, LUTError, ParameterError
from ...core.validate import finite
from ...core.lut import LUT, Axis, Kind
from ..adc.model import IdealDigitizer  # the ideal quantizer behind the digitizer interface
from ...behavior.interfaces import Digitizer
from ...behavior.mismatch import draw_instances, lut_mismatch
from . import model_calib
from ...behavior.readout import MAX_ADC_BITS, QUANTIZER_LABEL, IdealQuantizer

BLOCK = Kind.CIM_COLUMN


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
    column_calibration: str = "none"
    """``"none"``: the shared decode table; ``"gain_offset"`` / ``"gain_offset_lsq"``: every column's decode
    corrected by its own gain and offset fitted against known inputs, per chip
    (:mod:`charz.blocks.cim_column.model_calib`)."""

    def __post_init__(self):
        model_calib.check(self.column_calibration)
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
            return self._calibrated(self.decode(q.codes(curves))), None
        if rng is None:
            raise ParameterError("a digitizer with per-instance transfer curves needs the chip's rng")
        curves = np.asarray(curves, dtype=float)
        n_cols = curves.shape[0]
        t, c = layout if layout is not None else (1, n_cols)
        if t * c != n_cols:
            raise ParameterError(f"layout {t} x {c} does not match {n_cols} columns")
        idx = self.adc_instance_index(t, c)
        bank = q.instances(int(idx.max()) + 1 if idx.size else 0, rng)
        return self._calibrated(self.decode(bank.convert(curves, idx[:, None]))), bank

    def _calibrated(self, k_hat: np.ndarray) -> np.ndarray:
        """The columns' k -> k_hat tables after the column calibration (unchanged for ``"none"``)."""
        if self.column_calibration == "none":
            return k_hat
        return model_calib.correct(np.asarray(k_hat).reshape(-1, self.n_rows + 1),
                                   self.column_calibration).reshape(np.shape(k_hat))

    def with_column_calibration(self, column_calibration: str) -> "ColumnModel":
        """This model with the column calibration *column_calibration* (see the field)."""
        return dataclasses.replace(self, column_calibration=model_calib.check(column_calibration))

    def column_calibration_cost(self, t_round: float) -> dict | None:
        """:func:`charz.blocks.cim_column.model_calib.cost` of this model (*t_round*: one round of an array),
        or None without a column calibration."""
        if self.column_calibration == "none":
            return None
        return model_calib.cost(self.n_rows, self.adc_bits, self.e_nom, float(self.quantizer.energy), t_round,
                                self.column_calibration)

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

    def with_full_scale(self, k: int, where: str = "full scale k") -> "ColumnModel":
        """This model with its read-out's full scale set to [V(k), V(0)] instead of [V(N), V(0)]: for columns that
        never have more than k active cells (pruned to k weights per column), so the converter's codes cover
        only the levels that occur. The decode still maps to the nearest of every level."""
        k = _check_int(k, where, 1)
        if k > self.n_rows:
            raise ParameterError(f"{where} = {k}, but the column has N = {self.n_rows} rows")
        q = self.quantizer.for_range(float(self.v_nom[k]), float(self.v_nom[0]))
        choices = dict(self.choices, full_scale=f"V({k}) .. V(0): at most {k} active cells per column")
        return dataclasses.replace(self, quantizer=q, choices=choices)

    def describe(self) -> dict:
        """Operating point and read-out, for reports."""
        avt = self.provenance.get("avt_mv_um")
        cal = " per column (gain / offset calibration)" if self.column_calibration != "none" else ""
        return {
            "n_rows": self.n_rows,
            **{k: v for k, v in self.coords.items()},
            "adc_bits": self.adc_bits,
            "readout": (f"{QUANTIZER_LABEL}, {self.adc_bits} bits over nominal [V(N), V(0)] = "
                        f"[{self.quantizer.v_lo:.4g}, {self.quantizer.v_hi:.4g}] V, calibrated decode{cal}")
                       if self.ideal_readout else
                       f"{self.quantizer.label}, calibrated decode{cal}"
                       + (f", {self.adc_converters_per_array} converters per array of {self.adc_array_columns} columns"
                          if self.adc_converters_per_array else
                          f", {self.columns_per_adc} columns per converter" if self.columns_per_adc > 1 else
                          ", one converter per column"),
            "readout_short": f"{QUANTIZER_LABEL} {self.adc_bits}-bit" if self.ideal_readout
                             else self.quantizer.short_label,
            "readout_block": self.quantizer.block,
            "readout_exact_when_noiseless": self.is_exact(),
            "column_calibration": self.column_calibration,
            "mismatch_scale": self.mismatch_scale,
            "mismatch_model": self.mismatch_info,
            "mc_mean_shift_max_mV": None if self.dev_mean is None else round(1e3 * float(np.max(np.abs(self.dev_mean))), 3),
            "avt_mv_um_lut": avt,
            "avt_mv_um_effective": None if avt is None else self.mismatch_scale * float(avt),
            "choices": dict(self.choices),
        }


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
