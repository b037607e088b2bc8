"""Behavioral digitizers (A/D converters) for the CiM column read-out, fed by ``adc_*`` LUTs.

The LUT contract (what the SPICE recipes of ``charz.blocks.adc.recipe`` write)
-------------------------------------------------------------------------------------
- ``block``: ``"adc_sar"`` (conventional successive approximation, binary capacitive DAC),
  ``"adc_mi_sar"`` (memory-immersed SA: the capacitive DAC is groups of bitlines, 1, 1, 2, 4, ... per
  bit, borrowed from a neighbouring CiM array), ``"adc_flash"`` (2^n - 1 comparators on a reference
  ladder, thermometer-to-binary encoder) or ``"adc_hybrid"`` (flash for the first ``flash_bits``
  MSBs, SA for the rest).
- ``conditions``: ``bits`` = n (2..6), ``kind`` (informational; the block decides the model),
  ``vref_lo`` / ``vref_hi`` [V] = the input range the converter was characterized over, ``flash_bits``
  = m (hybrid only, 1 <= m < n), ``area_model`` (a dict, see :mod:`charz.blocks.adc.model_area`); optional
  ``cdac`` = ``"bitline"`` / ``"mom"`` for the hybrid's SA part (default ``"bitline"``).
- axes: ``vdd`` [V] and ``temp`` [degC] (continuous, interpolated), ``edge`` [code] discrete
  1 .. 2^n - 1 (other continuous axes are allowed and must be given as coordinates).
- tables, all on the full grid:

  - ``transition`` [V]: nominal input voltage of code transition edge c (code c-1 -> c);
  - ``energy`` [J] per conversion and ``t_conv`` [s] conversion time. They do not depend on the edge:
    **the writer stores the per-conversion value at every edge (replicated along the axis)**. The
    reader uses the mean of the finite values along ``edge`` at the operating point, so a writer that
    fills only edge 1 (NaN elsewhere) reads the same; when the finite values differ by more than
    0.1 % the mean is used and a note says so (``model.notes``);
  - with Monte Carlo: samples ``transition`` (trailing dimension = MC instance; each sample is one
    physical converter instance with its full set of transition voltages, so INL/DNL per instance is
    kept) and tables ``transition_mean``, ``transition_sigma``.

:func:`charz.blocks.adc.model_transfer.synthetic_adc_lut` writes exactly this contract from a simple unit-element
model. It is **synthetic** (no SPICE behind it), for tests and examples; never report circuit figures from it.

Per-instance transfer curves
----------------------------
:meth:`DigitizerModel.instances` draws the converters of one simulated chip *once*:
``t = t_nom + s * (m + d)`` with ``m`` the Monte Carlo mean minus nominal, ``d`` drawn from a
multivariate normal with the Monte Carlo sample covariance across edges (``mismatch_source="mvn"``)
or picked among the real instances (``"resample"``); ``s = mismatch_scale``. These are the same
helpers :class:`charz.blocks.cim_column.model.ColumnModel` uses for its column curves
(:func:`charz.behavior.mismatch.mc_deviation_stats`, :func:`charz.behavior.mismatch.draw_instances`).

What the drawn edge levels mean (the SA / flash / hybrid decision procedures, effective transitions,
missing codes) and INL / DNL: :mod:`charz.blocks.adc.model_transfer`.

Mapping onto the CiM column (what :meth:`ColumnModel.with_digitizer` does)
--------------------------------------------------------------------------
The converter's input is the bitline voltage V_BL. A designer sets the converter's full scale to the
signal range with the reference generator: ``vref_lo = V(N)``, ``vref_hi = V(0)`` (the column's
nominal swing), as the ideal quantizer does. ``reference="column"`` (default) models that: every
transition, nominal and drawn, is mapped ratiometrically,
``t' = V(N) + (t - vref_lo) * (V(0) - V(N)) / (vref_hi - vref_lo)``. Errors in LSB (INL, DNL, offset
and gain in LSB) are kept; absolute offsets scale with the range, which is right for capacitor / ladder
mismatch and an approximation for comparator offsets (they are absolute): the ratio is recorded in
``choices["range"]`` so a large rescaling is visible. ``reference="lut"`` uses the converter as
characterized (its own ``[vref_lo, vref_hi]``); bitline voltages outside clip to the end codes.

The code is decoded to k_hat by the column model's calibrated decode: code -> the k whose nominal level
V(k) is nearest to the centre of the code's bin *of the nominal converter* (one table for all
columns; no per-instance calibration).

Energy and time: ``energy`` [J] per conversion and ``t_conv`` [s] from the LUT at the operating point
(as characterized at the LUT's reference range; not rescaled with the mapping). The network counts
one conversion per column evaluation.

:class:`IdealDigitizer` is the ideal quantizer of :mod:`charz.blocks.cim_column.model` behind the same interface
(uniform, noiseless, 0 J, 0 s, every instance identical, no random numbers drawn).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ...core.errors import LUTError, ParameterError
from ...core.lut import LUT, Kind
from ...core.validate import finite
from ...behavior.mismatch import draw_instances, lut_mismatch
from ...behavior.readout import MAX_ADC_BITS, QUANTIZER_LABEL, IdealQuantizer
from .model_transfer import BLOCKS, _flash_bits, check_bits, effective_transitions, inl_dnl

DESCRIPTION = {
    Kind.ADC_SAR: "SA ADC, conventional capacitive DAC",
    Kind.ADC_MI_SAR: "memory-immersed SA ADC, DAC = neighbour array's bitlines",
    Kind.ADC_FLASH: "flash ADC",
    Kind.ADC_HYBRID: "hybrid ADC, flash MSBs + SA LSBs",
    "ideal": QUANTIZER_LABEL,
}
REFERENCES = ("column", "lut")
CALIBRATIONS = ("none", "offset", "trim")
CHUNK = 1 << 21
"""Input-times-edge comparisons per block in :meth:`ConverterBank.convert` (bounds the memory)."""


# ---- validation ---------------------------------------------------------------------------------
def check_lut(lut) -> LUT:
    """*lut* if it is a digitizer LUT, else a one-line LUTError."""
    if not isinstance(lut, LUT):
        raise LUTError(f"a digitizer LUT ({', '.join(BLOCKS)}) is needed, got {type(lut).__name__}")
    if lut.block not in BLOCKS:
        raise LUTError(
            f"this is a '{lut.block}' LUT; a digitizer LUT is one of {', '.join(BLOCKS)} "
            f"(charz characterize adc_...)"
        )
    return lut


# ---- one chip's converters ----------------------------------------------------------------------
@dataclasses.dataclass
class ConverterBank:
    """The converter instances of one simulated chip, fixed for the whole run.

    ``transitions`` (n, 2^bits - 1): effective transitions of every instance (see the module doc);
    ``raw``: the drawn edge levels before the decision procedure."""

    transitions: np.ndarray
    raw: np.ndarray
    bits: int
    v_lo: float
    v_hi: float
    label: str = ""
    ideal: IdealQuantizer | None = None
    """Set for the ideal quantizer: conversion uses its exact floor formula (bit-identical)."""

    def __len__(self) -> int:
        return int(self.transitions.shape[0])

    @property
    def levels(self) -> int:
        """Number of codes: 2^bits."""
        return 1 << self.bits

    def convert(self, v, instance_index=None) -> np.ndarray:
        """Codes (int64, the shape of *v*) of inputs *v* [V], each through its own instance.

        ``instance_index`` (broadcastable to *v*) says which instance converts each input; None means
        the first axis of *v* runs over the instances (``v.shape[0] == len(self)``). Equivalent to
        ``np.searchsorted(transitions[i], v, side="right")`` per instance i, done for all at once."""
        v = np.asarray(v, dtype=float)
        if self.ideal is not None:
            return self.ideal.codes(v)
        n = len(self)
        if instance_index is None:
            if v.ndim == 0 or v.shape[0] != n:
                raise ParameterError(f"give instance_index, or inputs whose first axis has one row per instance ({n})")
            idx = np.arange(n).reshape((n,) + (1,) * (v.ndim - 1))
        else:
            idx = np.asarray(instance_index)
            if idx.dtype.kind not in "iu":
                raise ParameterError(f"instance_index must be integers, got dtype {idx.dtype}")
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ParameterError(f"instance_index must lie in 0..{n - 1}")
        shape = np.broadcast_shapes(v.shape, idx.shape)
        vf = np.broadcast_to(v, shape).ravel()
        jf = np.broadcast_to(idx, shape).ravel()
        out = np.empty(vf.size, dtype=np.int64)
        step = max(1, CHUNK // self.transitions.shape[1])
        for s in range(0, vf.size, step):  # blocks of inputs, bounded memory
            out[s : s + step] = np.count_nonzero(self.transitions[jf[s : s + step]] <= vf[s : s + step, None], axis=1)
        return out.reshape(shape)

    def missing_codes(self) -> np.ndarray:
        """(n, 2^bits) True where an instance can never output the code inside [v_lo, v_hi]."""
        return inl_dnl(self.transitions, (self.v_lo, self.v_hi))["missing"]

    def inl_dnl(self, method: str = "endpoint") -> dict:
        """INL / DNL and missing codes of every instance's transitions (see :func:`inl_dnl`; *method*: one of
        :data:`INL_METHODS`)."""
        return inl_dnl(self.transitions, (self.v_lo, self.v_hi), method)

    def summary(self) -> dict:
        """Worst-case and typical static figures over the instances (for reports)."""
        s = self.inl_dnl()
        nm = np.asarray(s["n_missing"])
        return {
            "instances": len(self),
            "instances_with_missing_codes": int(np.count_nonzero(nm)),
            "max_abs_dnl_lsb": float(np.nanmax(s["max_abs_dnl"])) if len(self) else 0.0,
            "max_abs_inl_lsb": float(np.nanmax(s["max_abs_inl"])) if len(self) else 0.0,
            "median_max_abs_inl_lsb": float(np.nanmedian(s["max_abs_inl"])) if len(self) else 0.0,
        }


# ---- ideal digitizer ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class IdealDigitizer(IdealQuantizer):
    """The ideal quantizer (uniform, noiseless, 0 J, 0 s) behind the digitizer interface.

    Conversion is :meth:`IdealQuantizer.codes` (floor of (v - v_lo) / LSB, clipped), so a column model
    read out by it is bit-identical to the ideal-quantizer model; instances are all the same and draw
    no random numbers. A :class:`charz.behavior.interfaces.Digitizer`."""

    block = "ideal"
    has_instances = False
    energy = 0.0
    t_conv = 0.0
    flash_bits = None
    mismatch_scale = 0.0
    placement = "ideal"
    """No circuit next to the array (see :attr:`charz.behavior.interfaces.Digitizer.placement`)."""
    borrowed_bits = None

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)) or not (1 <= self.bits <= MAX_ADC_BITS):
            raise ParameterError(f"ideal quantizer bits must be an integer from 1 to {MAX_ADC_BITS}, got {self.bits!r}")
        super().__post_init__()

    @property
    def label(self) -> str:
        """Report label: resolution, range [V], and 0 J / 0 s."""
        return f"{QUANTIZER_LABEL}, {self.bits} bits over [{self.v_lo:.4g}, {self.v_hi:.4g}] V (0 J, 0 s)"

    @property
    def short_label(self) -> str:
        """Short label for tables and plot legends (``ideal quantizer N-bit``)."""
        return f"{QUANTIZER_LABEL} {self.bits}-bit"

    def nominal_transitions(self) -> np.ndarray:
        """The 2^bits - 1 ideal transitions v_lo + k LSB (k = 1 .. 2^bits - 1) [V]."""
        return self.v_lo + np.arange(1, self.levels) * self.lsb

    def instances(self, n: int, rng: np.random.Generator | None = None) -> ConverterBank:
        """*n* identical ideal converters as a :class:`ConverterBank` (no random numbers drawn; *rng* is
        ignored)."""
        t = np.broadcast_to(self.nominal_transitions(), (int(n), self.levels - 1)).copy()
        return ConverterBank(t, t.copy(), self.bits, self.v_lo, self.v_hi, self.label, ideal=self)

    def convert(self, v, instance_index=None, bank: ConverterBank | None = None) -> np.ndarray:
        """Codes of *v* [V]: :meth:`IdealQuantizer.codes` (*instance_index* and *bank* are ignored: every
        instance is ideal)."""
        return self.codes(v)

    def for_range(self, v_lo: float, v_hi: float) -> "IdealDigitizer":
        """The same resolution over the full scale [v_lo, v_hi] [V]."""
        return IdealDigitizer(self.bits, float(v_lo), float(v_hi))

    def with_mismatch_scale(self, scale: float) -> "IdealDigitizer":
        """Itself: the ideal quantizer has no mismatch to scale."""
        return self

    def inl_dnl(self, transitions=None, method: str = "endpoint") -> dict:
        """INL / DNL of *transitions* (default: the ideal ones, all 0) over this range (see
        :func:`inl_dnl`)."""
        t = self.nominal_transitions() if transitions is None else transitions
        return inl_dnl(t, (self.v_lo, self.v_hi), method)

    def describe(self) -> dict:
        """What a report needs to say about the read-out: block ``ideal``, label, bits, range [V], 0 J, 0 s,
        no mismatch."""
        return {"block": "ideal", "label": self.label, "bits": self.bits, "v_lo": self.v_lo, "v_hi": self.v_hi,
                "energy_J": 0.0, "t_conv_s": 0.0, "mismatch": "none"}


# ---- LUT-fed digitizer --------------------------------------------------------------------------
@dataclasses.dataclass
class DigitizerModel:
    """A digitizer LUT at one operating point: nominal transitions, Monte Carlo instance model, energy
    per conversion and conversion time. Build it with :meth:`from_lut`. A
    :class:`charz.behavior.interfaces.Digitizer`."""

    block: str
    bits: int
    v_lo: float
    """Lower end of the input range in use [V] (the LUT's vref_lo, or V(N) after :meth:`for_range`)."""
    v_hi: float
    t_nom: np.ndarray
    """(2^bits - 1,) nominal edge levels in the range in use [V]."""
    energy: float
    """Energy per conversion [J]."""
    t_conv: float
    """Conversion time [s]."""
    flash_bits: int | None = None
    coords: dict = dataclasses.field(default_factory=dict)
    lut_range: tuple = (0.0, 1.0)
    """(vref_lo, vref_hi) the LUT was characterized over [V]."""
    reference: str = "column"
    mismatch_scale: float = 1.0
    mismatch_source: str = "mvn"
    dev_factor: np.ndarray | None = None
    dev_mean: np.ndarray | None = None
    dev_samples: np.ndarray | None = None
    mc_samples: int = 0
    mismatch_info: str = "none"
    conditions: dict = dataclasses.field(default_factory=dict)
    choices: dict = dataclasses.field(default_factory=dict)
    provenance: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)
    calibration: str = "none"
    """``"none"``: instances as drawn. ``"offset"``: every instance's offset trimmed once (a foreground
    calibration with an ideal trim): its transitions shifted by minus their mean deviation from nominal;
    INL / DNL (and a flash's per-comparator spread) stay. ``"trim"``: the same calibration through the
    comparator's trim DAC (:attr:`trim`, characterized in SPICE): the code that best cancels the error is
    kept, so the finite step and the trim's own mismatch remain; a flash trims each of its comparators
    (its per-comparator spread is trimmed too), the SA kinds their SA comparator, the hybrid its SA
    comparator (against the mean error of the edges it decides) and each coarse comparator (its own edge)."""
    trim: object = None
    """The comparator trim DAC (:class:`charz.blocks.comparator.model_trim.TrimDac`) of ``"trim"``."""
    trim_energy: float = 0.0
    """Energy the trim devices add per conversion [J] (included in :attr:`energy`)."""

    has_instances = True

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_lut(
        cls,
        lut: LUT,
        vdd: float | None = None,
        temp: float | None = None,
        mismatch_scale: float = 1.0,
        mismatch_source: str = "mvn",
        reference: str = "column",
        calibration: str = "none",
        trim=None,
        **coords,
    ) -> "DigitizerModel":
        """Read a digitizer LUT at (vdd, temp). None picks a default, recorded in ``choices``: vdd = the
        provenance's nominal VDD if inside the grid, else the highest grid VDD; temp = 27 degC if inside
        the grid, else the nearest grid value. ``mismatch_scale`` multiplies the Monte Carlo spread
        (0 = nominal converters); ``reference`` is ``"column"`` or ``"lut"`` (module doc);
        ``calibration`` ``"none"``, ``"offset"`` or ``"trim"`` (see the field; ``"trim"`` needs *trim*, a
        :class:`~charz.blocks.comparator.model_trim.TrimDac`).
        Raises a one-line :class:`LUTError` (wrong kind, inconsistent LUT) or :class:`ParameterError`
        (resolution outside 2..6, bad options)."""
        check_lut(lut)
        block = lut.block
        cond = dict(lut.conditions)
        bits = check_bits(cond.get("bits"), f"{block} LUT resolution (condition 'bits')")
        flash_bits = _flash_bits(block, bits, cond.get("flash_bits"))
        if calibration not in CALIBRATIONS:
            raise ParameterError(f"converter calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
        if (calibration == "trim") != (trim is not None):
            raise ParameterError("converter calibration 'trim' needs the comparator's trim DAC (a trim LUT), and a "
                                 "trim DAC needs calibration 'trim'")
        if mismatch_source not in ("mvn", "resample"):
            raise ParameterError(f"mismatch_source must be 'mvn' or 'resample', got {mismatch_source!r}")
        if reference not in REFERENCES:
            raise ParameterError(f"reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
        ms = finite(mismatch_scale, "ADC mismatch_scale")
        if ms < 0:
            raise ParameterError(f"ADC mismatch_scale must be >= 0 (1.0 = the LUT's Monte Carlo), got {ms:g}")
        for t in ("transition", "energy", "t_conv"):
            if t not in lut.tables:
                raise LUTError(f"{block} LUT has no '{t}' table: regenerate it with `charz characterize {block}`")
        eax = lut.axis("edge")
        e = (1 << bits) - 1
        if not np.array_equal(eax.values, np.arange(1, e + 1)):
            raise LUTError(f"{block} LUT axis edge must be 1..{e} for {bits} bits, got {eax.values.tolist()}")

        given = dict(coords)
        if vdd is not None:
            given["vdd"] = vdd
        if temp is not None:
            given["temp"] = temp
        names = [a.name for a in lut.axes if a.name != "edge"]
        unknown = set(given) - set(names)
        if unknown:
            raise ParameterError(f"the {block} LUT has no axis {sorted(unknown)} (axes: {names})")
        point, choices = {}, {}
        for name in names:
            ax = lut.axis(name)
            if name in given:
                point[name] = finite(given[name], name)
                choices[name] = "given"
            elif (dflt := lut.default_coord(name)) is not None:
                point[name], choices[name] = dflt
            else:
                raise ParameterError(f"give a value for the {block} LUT axis '{name}' (grid {ax.values.tolist()} {ax.unit})")

        t_nom = np.asarray(lut.slice("transition", **point), dtype=float)  # LUTError outside the grid
        if t_nom.shape != (e,) or not np.all(np.isfinite(t_nom)):
            raise LUTError(f"{block} LUT has missing (NaN) nominal transitions at {point}: re-characterize that point")
        notes: list[str] = []
        energy = _edge_constant(lut, "energy", point, notes)
        t_conv = _edge_constant(lut, "t_conv", point, notes)
        if energy < 0 or t_conv < 0:
            raise LUTError(f"{block} LUT has a negative energy or conversion time at {point}: regenerate it")

        lo, hi = cond.get("vref_lo"), cond.get("vref_hi")
        if lo is None or hi is None:
            step = (t_nom[-1] - t_nom[0]) / max(1, e - 1)
            lo, hi = float(t_nom[0] - step), float(t_nom[-1] + step)
            choices["lut_range"] = "vref_lo/vref_hi not in the LUT conditions: one nominal step beyond the end edges"
        lo, hi = float(lo), float(hi)
        if not hi > lo:
            raise LUTError(f"{block} LUT input range [{lo:g}, {hi:g}] V is empty: regenerate it")

        mc_n, dev_mean, dev_factor, dev_samples, mismatch_source, info = lut_mismatch(
            lut, "transition", point, t_nom, ms, mismatch_source, "converter instances", "edges",
            "none (nominal converters)")
        trim_energy = 0.0
        if trim is not None:
            trim_energy = decisions_per_conversion(block, bits, flash_bits) * trim.energy_per_decision
            notes.append(f"trim devices add {trim_energy * 1e15:.3g} fJ per conversion (included)")
            energy += trim_energy
        return cls(
            block=block, bits=bits, v_lo=lo, v_hi=hi, t_nom=t_nom, energy=energy, t_conv=t_conv,
            flash_bits=flash_bits, coords=point, lut_range=(lo, hi), reference=reference, mismatch_scale=ms,
            mismatch_source=mismatch_source, dev_factor=dev_factor, dev_mean=dev_mean, dev_samples=dev_samples,
            mc_samples=mc_n, mismatch_info=info, conditions=cond, choices=choices,
            provenance=dict(lut.provenance), notes=notes, calibration=calibration, trim=trim,
            trim_energy=trim_energy,
        )

    # -- derived ---------------------------------------------------------------------------------
    @property
    def levels(self) -> int:
        """Number of codes: 2^bits."""
        return 1 << self.bits

    @property
    def lsb(self) -> float:
        """Ideal LSB of the range in use [V]."""
        return (self.v_hi - self.v_lo) / self.levels

    @property
    def synthetic(self) -> bool:
        """True when the LUT was made by a synthetic generator (tests), not by SPICE."""
        return bool(self.provenance.get("synthetic"))

    @property
    def label(self) -> str:
        """Report label: block, resolution, description, LUT source, energy (fJ) and time (ns) per conversion,
        range [V], whether per-instance transfer curves are drawn, and offset trimming."""
        src = "SYNTHETIC LUT" if self.synthetic else f"{self.provenance.get('pdk', '?')} LUT"
        fb = f", {self.flash_bits} flash MSBs" if self.flash_bits else ""
        mm = (f"per-instance transfer curves ({self.mc_samples} MC instances, scale {self.mismatch_scale:g})"
              if self.dev_factor is not None and self.mismatch_scale > 0 else "nominal converters")
        return (f"{self.block} {self.bits}-bit{fb} ({DESCRIPTION[self.block]}; {src}), "
                f"{self.energy * 1e15:.4g} fJ and {self.t_conv * 1e9:.4g} ns per conversion, "
                f"range [{self.v_lo:.4g}, {self.v_hi:.4g}] V, {mm}"
                + (", offset trimmed per instance" if self.calibration == "offset" else "")
                + (f", trimmed by a {self.trim.bits}-bit comparator trim DAC (step {self.trim.step * 1e3:.3g} mV, SPICE)"
                   if self.calibration == "trim" else ""))

    @property
    def short_label(self) -> str:
        """Short label for tables and plot legends (block, resolution, trimming, synthetic)."""
        return (f"{self.block} {self.bits}-bit" + (" offset-trimmed" if self.calibration == "offset" else "")
                + (f" {self.trim.bits}-bit-trim" if self.calibration == "trim" else "")
                + (" (synthetic LUT)" if self.synthetic else ""))

    @property
    def placement(self) -> str:
        """``"immersed"`` when the DAC borrows a neighbouring array's bitlines (memory-immersed SA; a hybrid
        whose SA part has the bitline DAC, condition ``cdac``), else ``"dedicated"`` (see
        :attr:`charz.behavior.interfaces.Digitizer.placement`)."""
        if self.block == Kind.ADC_MI_SAR:
            return "immersed"
        if self.block == Kind.ADC_HYBRID and str(self.conditions.get("cdac", "bitline")) == "bitline":
            return "immersed"
        return "dedicated"

    @property
    def borrowed_bits(self) -> int | None:
        """SA bits whose DAC is made of borrowed bitlines (2^bits of them) when :attr:`placement` is
        ``"immersed"``: all bits of a memory-immersed SA; for a hybrid the condition ``dac_bits`` (the SPICE
        hybrid drives a full n-bit bitline DAC), else bits - flash_bits. None for a dedicated converter."""
        if self.placement != "immersed":
            return None
        if self.block == Kind.ADC_MI_SAR:
            return int(self.bits)
        return int(self.conditions.get("dac_bits", int(self.bits) - int(self.flash_bits)))

    def with_mismatch_scale(self, scale: float) -> "DigitizerModel":
        """A copy whose drawn instances have Monte Carlo spread x *scale* (>= 0)."""
        s = finite(scale, "ADC mismatch_scale")
        if s < 0:
            raise ParameterError(f"ADC mismatch_scale must be >= 0 (1.0 = the LUT's Monte Carlo), got {s:g}")
        return dataclasses.replace(self, mismatch_scale=s)

    @property
    def sigma(self) -> np.ndarray:
        """Per-edge sigma of the drawn edge levels at this mismatch_scale [V]."""
        if self.dev_factor is None:
            return np.zeros_like(self.t_nom)
        return self.mismatch_scale * np.sqrt(np.sum(self.dev_factor**2, axis=1))

    def nominal_transitions(self) -> np.ndarray:
        """Effective transitions of the nominal converter (2^bits - 1,)."""
        return effective_transitions(self.t_nom, self.block, self.bits, self.flash_bits)

    def centers(self) -> np.ndarray:
        """Centre of every code's bin of the nominal converter (end bins closed by the range) [V]."""
        t = np.clip(self.nominal_transitions(), self.v_lo, self.v_hi)
        edges = np.concatenate([[self.v_lo], t, [self.v_hi]])
        return 0.5 * (edges[:-1] + edges[1:])

    def codes(self, v) -> np.ndarray:
        """Codes of the nominal converter."""
        return np.searchsorted(self.nominal_transitions(), np.asarray(v, dtype=float), side="right").astype(np.int64)

    # -- instances -------------------------------------------------------------------------------
    def draw_raw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 2^bits - 1) edge levels of n converter instances (before the decision procedure)."""
        return draw_instances(self.t_nom, int(n), rng, self.mismatch_scale, self.mismatch_source,
                              self.dev_factor, self.dev_mean, self.dev_samples)

    def instances(self, n: int, rng: np.random.Generator) -> ConverterBank:
        """The n converters of one simulated chip, drawn once from *rng* (reproducible per seed)."""
        n = int(n)
        if n < 0:
            raise ParameterError(f"number of converter instances must be >= 0, got {n}")
        raw = self.draw_raw(n, rng)
        if self.calibration == "offset" and raw.size:
            raw = raw - np.nan_to_num(self._mean_error(raw))
        elif self.calibration == "trim" and raw.size:
            raw = raw + self._trim_change(raw, rng)
        eff = effective_transitions(raw, self.block, self.bits, self.flash_bits)
        return ConverterBank(eff, raw, self.bits, self.v_lo, self.v_hi, self.label)

    def _mean_error(self, raw: np.ndarray) -> np.ndarray:
        """(n, 1) each instance's mean transition error against nominal (what an offset calibration sees)."""
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(np.where(np.isfinite(raw), raw - self.t_nom, np.nan), axis=1, keepdims=True)

    def _trim_change(self, raw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The trim DAC's change of every instance's transitions after calibration: the SA comparator against the
        mean error of the edges it decides, every comparator that sets one edge alone (a flash's, the hybrid's
        coarse ones) against that edge's error; the trim instances come from *rng* after the converter
        instances."""
        n, e = raw.shape
        coarse = self._trimmed_edges()
        sa = np.ones(e, dtype=bool)
        sa[coarse] = False
        change = np.zeros_like(raw)
        if sa.any():  # the SA comparator: its mean error over the edges it decides
            err = np.nan_to_num(self._mean_error(np.where(sa, raw, np.nan))[:, 0])
            change[:, sa] = self.trim.calibrate(err, self.trim.curves(n, rng, self.mismatch_scale))[1][:, None]
        if coarse.size:  # a flash's (or the hybrid's coarse) comparators: each against its own edge
            err = np.nan_to_num(raw[:, coarse] - self.t_nom[coarse])
            curves = self.trim.curves(n * coarse.size, rng, self.mismatch_scale).reshape(n, coarse.size, -1)
            change[:, coarse] = self.trim.calibrate(err, curves)[1]
        return change

    def _trimmed_edges(self) -> np.ndarray:
        """Indices of the edges set by their own comparator: every edge of a flash, the coarse edges (multiples
        of 2^(n - m)) of a hybrid; none for an SA converter (one comparator decides every edge)."""
        e = (1 << self.bits) - 1
        if self.block == "adc_flash":
            return np.arange(e)
        if self.block == "adc_hybrid" and self.flash_bits:
            return np.arange(1 << (self.bits - self.flash_bits), e + 1, 1 << (self.bits - self.flash_bits)) - 1
        return np.zeros(0, dtype=np.int64)

    def trim_cost(self) -> dict | None:
        """What the trim costs one converter (energy per conversion, calibration time and energy, area;
        :meth:`TrimDac.cost`), or None without a trim."""
        if self.trim is None:
            return None
        comps = self._trimmed_edges().size + (self.block != "adc_flash")
        return {**self.trim.describe(), **self.trim.cost(self.energy, self.t_conv,
                                                         decisions_per_conversion(self.block, self.bits,
                                                                                  self.flash_bits),
                                                         comps, sequential_levels=comps)}

    def convert(self, v, instance_index=None, bank: ConverterBank | None = None) -> np.ndarray:
        """Codes of *v*: through *bank*'s instances (see :meth:`ConverterBank.convert`), or through the
        nominal converter when no bank is given."""
        if bank is None:
            return self.codes(v)
        return bank.convert(v, instance_index)

    def inl_dnl(self, transitions=None, method: str = "endpoint") -> dict:
        """:func:`inl_dnl` of *transitions* (default: the nominal converter) over the range in use."""
        t = self.nominal_transitions() if transitions is None else transitions
        return inl_dnl(t, (self.v_lo, self.v_hi), method)

    # -- mapping onto a signal range -------------------------------------------------------------
    def for_range(self, v_lo: float, v_hi: float) -> "DigitizerModel":
        """This converter with its full scale set to [v_lo, v_hi] (``reference="column"``: ratiometric
        map of every transition, nominal and drawn) or unchanged (``reference="lut"``)."""
        if self.reference == "lut":
            ch = dict(self.choices, range=f"as characterized [{self.v_lo:.4g}, {self.v_hi:.4g}] V; inputs outside clip")
            return dataclasses.replace(self, choices=ch)
        v_lo, v_hi = float(v_lo), float(v_hi)
        if not v_hi > v_lo:
            raise ParameterError(f"converter range [{v_lo:g}, {v_hi:g}] V is empty")
        lo0, hi0 = self.lut_range
        g = (v_hi - v_lo) / (hi0 - lo0)
        # relative to the model's current range (the LUT's, or an earlier mapping of it)
        g_now = (v_hi - v_lo) / (self.v_hi - self.v_lo)
        ch = dict(self.choices, range=(
            f"reference generator sets the full scale to [{v_lo:.4g}, {v_hi:.4g}] V (LUT characterized over "
            f"[{lo0:.4g}, {hi0:.4g}] V): transitions mapped ratiometrically, x{g:.3g}"))
        return dataclasses.replace(
            self,
            v_lo=v_lo, v_hi=v_hi,
            t_nom=v_lo + (self.t_nom - self.v_lo) * g_now,
            dev_mean=None if self.dev_mean is None else self.dev_mean * g_now,
            dev_factor=None if self.dev_factor is None else self.dev_factor * g_now,
            dev_samples=None if self.dev_samples is None else self.dev_samples * g_now,
            choices=ch,
        )

    def describe(self) -> dict:
        """What a report needs to say about the converter."""
        nom = self.inl_dnl()
        return {
            "block": self.block,
            "label": self.label,
            "bits": self.bits,
            "flash_bits": self.flash_bits,
            "kind": self.conditions.get("kind"),
            "energy_J": self.energy,
            "t_conv_s": self.t_conv,
            "v_lo": self.v_lo,
            "v_hi": self.v_hi,
            "lut_range": list(self.lut_range),
            "reference": self.reference,
            "coords": dict(self.coords),
            "mismatch_scale": self.mismatch_scale,
            "mismatch": self.mismatch_info,
            "mc_samples": self.mc_samples,
            "calibration": self.calibration,
            "trim": self.trim_cost(),
            "sigma_max_lsb": float(np.max(self.sigma) / self.lsb),
            "nominal_max_abs_dnl_lsb": float(nom["max_abs_dnl"]),
            "nominal_max_abs_inl_lsb": float(nom["max_abs_inl"]),
            "nominal_missing_codes": int(nom["n_missing"]),
            "choices": dict(self.choices),
            "notes": list(self.notes),
            "pdk": self.provenance.get("pdk"),
            "synthetic": self.synthetic,
        }


def decisions_per_conversion(block: str, bits: int, flash_bits: int | None = None) -> int:
    """Comparator decisions in one conversion: n for an SA converter, 2^n - 1 for a flash, 2^m - 1 coarse
    plus n - m SA decisions for a hybrid."""
    if block == "adc_flash":
        return (1 << bits) - 1
    if block == "adc_hybrid" and flash_bits:
        return (1 << flash_bits) - 1 + bits - flash_bits
    return bits


def _edge_constant(lut: LUT, table: str, point: dict, notes: list) -> float:
    vals = np.asarray(lut.slice(table, **point), dtype=float).ravel()
    ok = vals[np.isfinite(vals)]
    if ok.size == 0:
        raise LUTError(f"{lut.block} LUT has no finite '{table}' value at {point}: re-characterize that point")
    m = float(ok.mean())
    if ok.max() - ok.min() > 1e-3 * max(abs(m), 1e-300):
        notes.append(f"'{table}' varies along edge at {point} ({ok.min():.4g} .. {ok.max():.4g}): the mean is used")
    return m


def load(lut_or_path) -> tuple[LUT, str | None]:
    """A digitizer LUT from a LUT object or a path; wrong kinds are a one-line LUTError."""
    if isinstance(lut_or_path, LUT):
        return check_lut(lut_or_path), None
    if isinstance(lut_or_path, (str, bytes)) or hasattr(lut_or_path, "__fspath__"):
        lut = LUT.load(lut_or_path)
        return check_lut(lut), str(lut_or_path)
    raise LUTError(f"give a digitizer LUT ({', '.join(BLOCKS)}) or the path of one, got {type(lut_or_path).__name__}")
