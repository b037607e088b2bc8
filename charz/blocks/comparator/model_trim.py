"""The comparator's offset trim DAC, fed by a ``comparator`` LUT characterized with ``trim_bits`` > 0
(:mod:`charz.blocks.comparator.recipe`): what a chip's foreground calibration can do with it.

The LUT holds, at every (vdd, temp) corner, the input-referred offset at every code nominally, and at the
codes 0, +-2^b and +-(2^k - 1) for every Monte Carlo instance (the same instances at every code). A
:class:`TrimDac` reads one corner: the nominal offset change of every code as measured (the trim is not
linear: on ptm16hp the 4-bit code 15 moves 12 mV more than its bits' sum), and each instance's deviation
from it at the single-bit codes. An instance's deviation at any code is the sum of its bits' deviations
(the devices' own mismatch; the recipe checks this at +-(2^k - 1) and records the largest error). Per
chip, :meth:`TrimDac.curves` draws trim instances (the bit deviations with the LUT's full covariance, or
resampled instances) and gives each instance's change at every code -(2^k - 1) .. 2^k - 1: the step is not
uniform, and that is the residual a real trim leaves.

Calibration (:meth:`TrimDac.calibrate`): the chip measures its own error with known inputs and keeps the
code whose change best cancels it (a search that sees the instance's real trim: no assumption of a
uniform step; a successive-approximation search finds this code when the trim is monotonic). The
residual after calibration is then the finite step plus the trim's own mismatch, both from SPICE.

What it costs (:meth:`TrimDac.cost`): the extra energy per decision the trim devices add (their load on
the comparator's internal nodes, measured: ``trim_energy``), the trim devices' and code register's area in
minimum-transistor units, and the calibration's own time and energy (k + 1 search steps of
:data:`CONVERSIONS_PER_STEP` conversions of a known input; an assumption of this model, stated in the
report).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...behavior.mismatch import draw_instances, mc_deviation_stats
from ...core.errors import LUTError, ParameterError
from ...core.lut import LUT, Axis, Kind

CONVERSIONS_PER_STEP = 16
"""Conversions of the known input averaged per step of the calibration search (an assumption)."""
REGISTER_UNITS_PER_BIT = 24
"""A static D flip-flop holding one code bit, in minimum transistors (as the SA logic in ``model_area``)."""


def trim_codes(bits: int) -> tuple[int, ...]:
    """The codes a trim LUT holds for its Monte Carlo instances (the recipe runs them; every code runs
    nominally): 0, +-2^b for every bit (each instance's bit deviations) and +-(2^bits - 1) (the check that
    the deviations add up)."""
    single = [c for b in range(bits) for c in (-(1 << b), 1 << b)]
    full = (1 << bits) - 1
    extra = [-full, full] if bits > 1 else []
    return tuple(sorted(set([0] + single + extra)))


def has_trim(lut: LUT) -> bool:
    """Whether *lut* is a comparator LUT characterized with an offset trim."""
    return lut.block == Kind.COMPARATOR and "trim_offset" in lut.arrays and "trim_codes" in lut.arrays


@dataclasses.dataclass(frozen=True)
class TrimDac:
    """The offset trim of one comparator design at one corner (build it with :meth:`from_lut`)."""

    bits: int
    """Magnitude bits k: codes -(2^k - 1) .. 2^k - 1."""
    bit_codes: tuple[int, ...]
    """The single-bit codes, in the order of :attr:`nominal` (+1, -1, +2, -2, ...)."""
    curve: np.ndarray
    """Nominal offset change [V] of every code -(2^k - 1) .. 2^k - 1 (as measured)."""
    nominal: np.ndarray
    """Nominal offset change [V] of each single-bit code (the entries of :attr:`curve`)."""
    dev_mean: np.ndarray | None
    dev_factor: np.ndarray | None
    dev_samples: np.ndarray | None
    mc_samples: int
    step: float
    """Mean LSB of the nominal trim [V per code] (absolute value of the LUT's ``trim_step``)."""
    energy_per_decision: float
    """Energy the trim devices add to one decision [J] (``trim_energy``)."""
    w_trim: float
    l_trim: float
    lmin: float
    coords: dict
    superposition_max: float | None
    source: str = ""

    @classmethod
    def from_lut(cls, lut: LUT, vdd: float | None = None, temp: float | None = None,
                 source: str = "") -> "TrimDac":
        """The trim at the grid corner of *lut* nearest (vdd, temp) (None: the LUT's default corner); a
        one-line :class:`LUTError` for a LUT without a trim, or a corner more than 1 mV / 1 degC off the
        grid (re-characterize at that corner)."""
        if not has_trim(lut):
            raise LUTError(f"{source or 'the LUT'} is not a comparator LUT with an offset trim: characterize one with "
                           f"`charz characterize comparator --trim-bits 4`")
        idx, coords = [], {}
        for name, val, tol in (("vdd", vdd, 1e-3), ("temp", temp, 1.0)):
            ax = lut.axis(name).values
            want = lut.default_coord(name)[0] if val is None else float(val)
            i = int(np.argmin(np.abs(ax - want)))
            if abs(ax[i] - want) > tol:
                raise LUTError(f"the trim LUT {source} has no {name} = {want:g} (grid {ax.tolist()}): characterize "
                               f"the trim at that corner")
            idx.append(i)
            coords[name] = float(ax[i])
        codes = [int(c) for c in lut.arrays["trim_codes"]]
        bits = int(lut.conditions.get("trim", {}).get("bits", max(abs(c) for c in codes).bit_length()))
        full = (1 << bits) - 1
        if codes != list(range(-full, full + 1)):
            raise LUTError(f"the trim LUT {source} does not hold every code -{full} .. {full}: regenerate it")
        nom = np.asarray(lut.arrays["trim_offset"], dtype=float)[idx[0], idx[1]]
        curve = nom - nom[codes.index(0)]
        if not np.all(np.isfinite(curve)):
            raise LUTError(f"the trim LUT {source} has NaN nominal offsets at {coords}: regenerate it with a wider "
                           f"offset_range")
        bit_codes = tuple(c for b in range(bits) for c in (1 << b, -(1 << b)))
        nominal = curve[[codes.index(c) for c in bit_codes]]
        n, mean, factor, samples = 0, None, None, None
        if "trim_offset_mc" in lut.arrays:
            mc_codes = [int(c) for c in lut.arrays["trim_mc_codes"]]
            per = np.asarray(lut.arrays["trim_offset_mc"], dtype=float)[idx[0], idx[1]]  # (mc codes, samples)
            inst = (per[[mc_codes.index(c) for c in bit_codes]] - per[mc_codes.index(0)]).T  # (samples, bits)
            n, mean, factor, samples = mc_deviation_stats(inst, nominal)
        step = lut.tables["trim_step"][idx[0], idx[1], 0]
        energy = lut.tables["trim_energy"][idx[0], idx[1], 0]
        cond = lut.conditions.get("trim", {})
        checks = lut.provenance.get("checks", {})
        lmin = float(cond.get("lmin", cond.get("l_trim", 16e-9)))
        return cls(bits=bits, bit_codes=bit_codes, curve=curve, nominal=nominal, dev_mean=mean, dev_factor=factor,
                   dev_samples=samples, mc_samples=n, step=abs(float(step)), energy_per_decision=float(energy),
                   w_trim=float(cond.get("w_trim", lmin)), l_trim=float(cond.get("l_trim", lmin)), lmin=lmin,
                   coords=coords, superposition_max=checks.get("trim_superposition_max_V"), source=source)

    # -- codes and instances ---------------------------------------------------------------------
    @property
    def codes(self) -> np.ndarray:
        """Every code, -(2^k - 1) .. 2^k - 1."""
        m = (1 << self.bits) - 1
        return np.arange(-m, m + 1)

    def _matrix(self) -> np.ndarray:
        """(codes, single-bit codes) 0/1: which single-bit deviations add up to each code's deviation."""
        codes = self.codes
        a = np.zeros((codes.size, len(self.bit_codes)))
        for r, c in enumerate(codes):
            for b in range(self.bits):
                if (abs(int(c)) >> b) & 1:
                    a[r, self.bit_codes.index(int(np.sign(c)) * (1 << b))] = 1.0
        return a

    def curves(self, n: int, rng: np.random.Generator, scale: float = 1.0, source: str = "mvn") -> np.ndarray:
        """(n, codes) offset change of every code for *n* trim instances drawn from *rng*: the nominal curve
        plus each instance's bit deviations (the LUT's Monte Carlo x *scale*; none without it)."""
        bits = draw_instances(self.nominal, int(n), rng, scale, source, self.dev_factor, self.dev_mean,
                              self.dev_samples)
        return self.curve[None, :] + (bits - self.nominal) @ self._matrix().T

    def calibrate(self, error: np.ndarray, curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each instance's measured *error* [V] (shape S; *curves*: S + (codes,), each instance's change
        at every code), the code whose change best cancels it. Returns (code, change): error + change is
        the residual the instance keeps."""
        err = np.asarray(error, dtype=float)
        c = np.asarray(curves, dtype=float)
        if c.shape[:-1] != err.shape or c.shape[-1] != self.codes.size:
            raise ParameterError(f"trim curves {c.shape} do not match errors {err.shape} x {self.codes.size} codes")
        k = np.argmin(np.abs(err[..., None] + c), axis=-1)
        change = np.take_along_axis(c, k[..., None], axis=-1)[..., 0]
        return self.codes[k], change

    # -- cost ------------------------------------------------------------------------------------
    def area_units(self) -> float:
        """Trim devices (two sides, widths 2^b x w_trim at l_trim, counted as width x length over Lmin^2)
        plus the code register (k magnitude bits and the sign), in minimum-transistor units."""
        dev = 2 * ((1 << self.bits) - 1) * self.w_trim * self.l_trim / self.lmin ** 2
        return float(dev + (self.bits + 1) * REGISTER_UNITS_PER_BIT)

    def cost(self, conversion_energy: float, conversion_time: float, decisions: int, trims: int,
             sequential_levels: int = 1) -> dict:
        """What the trim costs one converter: energy per conversion added (*decisions* comparator
        decisions per conversion), calibration time and energy (k + 1 search steps of
        :data:`CONVERSIONS_PER_STEP` conversions, for each of *sequential_levels* known inputs that must be
        applied one after the other), area of its *trims* trim DACs."""
        steps = (self.bits + 1) * CONVERSIONS_PER_STEP * sequential_levels
        return {
            "energy_per_conversion_J": decisions * self.energy_per_decision,
            "calibration_conversions": steps,
            "calibration_time_s": steps * conversion_time,
            "calibration_energy_J": steps * conversion_energy,
            "area_units": trims * self.area_units(),
            "assumption": f"foreground search: {self.bits + 1} steps (sign + {self.bits} bits) x "
                          f"{CONVERSIONS_PER_STEP} conversions of a known input per step"
                          + (f", for each of {sequential_levels} input levels in turn" if sequential_levels > 1
                             else ""),
        }

    def describe(self) -> dict:
        """JSON-able summary (the report's calibration block)."""
        return {"bits": self.bits, "step_V": self.step, "range_V": [float(self.curve.min()), float(self.curve.max())],
                "energy_per_decision_J": self.energy_per_decision, "mc_samples": self.mc_samples,
                "w_trim_m": self.w_trim, "corner": self.coords, "superposition_max_V": self.superposition_max,
                "lut": self.source}


def synthetic_trim_lut(bits: int = 4, step: float = 5e-3, sigma_rel: float = 0.0, n_samples: int = 0,
                       energy: float = 0.05e-15, vdd=(0.7,), temp=(27.0,), seed: int = 0, bow: float = 0.0) -> LUT:
    """A SYNTHETIC comparator trim LUT (no SPICE behind it; provenance ``pdk: synthetic``), for tests and
    examples: the nominal offset change of code c is ``-c x step x (1 + bow x |c| / (2^k - 1))``; each Monte
    Carlo instance scales every trim device's nominal change by its own ``1 + N(0, sigma_rel)`` and has an
    offset ``N(0, 20 mV)`` at code 0."""
    full = (1 << bits) - 1
    codes = np.arange(-full, full + 1)
    mc_codes = np.asarray(trim_codes(bits))
    vdd_v, temp_v = np.asarray(vdd, float), np.asarray(temp, float)
    nv, nt = vdd_v.size, temp_v.size

    def change(c):
        return -c * step * (1 + bow * abs(c) / full)

    nom = np.broadcast_to([change(c) for c in codes], (nv, nt, codes.size)).copy()
    arrays = {"trim_codes": codes.astype(np.int64), "trim_offset": nom}
    if n_samples:
        rng = np.random.default_rng(seed)
        gains = 1 + sigma_rel * rng.standard_normal((2 * bits, n_samples))  # one per device: (+1, -1, +2, -2, ...)
        off0 = 0.02 * rng.standard_normal(n_samples)
        per = np.empty((mc_codes.size, n_samples))
        for r, c in enumerate(mc_codes):
            dev = np.zeros(n_samples)
            for b in range(bits):
                if (abs(int(c)) >> b) & 1:
                    sb = int(np.sign(c)) * (1 << b)
                    dev += change(sb) * (gains[2 * b + (0 if c > 0 else 1)] - 1)
            per[r] = off0 + change(int(c)) + dev
        arrays["trim_mc_codes"] = mc_codes.astype(np.int64)
        arrays["trim_offset_mc"] = np.broadcast_to(per, (nv, nt) + per.shape).copy()
    dv = np.asarray([-0.01, 0.01])
    shape = (nv, nt, dv.size)
    tables = {"trim_step": np.full(shape, -step), "trim_step_sigma": np.full(shape, step * sigma_rel),
              "trim_energy": np.full(shape, energy)}
    return LUT(block=Kind.COMPARATOR, axes=(Axis("vdd", "V", vdd_v), Axis("temp", "degC", temp_v),
                                            Axis("dv", "V", dv, discrete=True)),
               tables=tables, units={"trim_step": "V", "trim_step_sigma": "V", "trim_energy": "J"},
               conditions={"trim": {"bits": bits, "w_trim": 16e-9, "l_trim": 16e-9, "lmin": 16e-9}},
               provenance={"pdk": "synthetic", "synthetic": True, "mc_samples": n_samples, "vdd_nom": float(vdd_v[0]),
                           "checks": {"trim_superposition_max_V": 0.0}},
               arrays=arrays)


def trim_dac(trim_lut, pdk: str, of, corner: dict, what: str = "the converter LUT") -> TrimDac:
    """The comparator trim DAC of a ``"trim"`` calibration: the trim LUT *trim_lut* (a path or a LUT; None:
    ``<pdk>/comparator_trim`` on the LUT search path) at the *corner* (VDD / temperature; the trim LUT's
    defaults where absent) of the block that uses it; a one-line error for a trim LUT made on another card than
    *of* (that block's LUT or model: anything with a ``provenance``; *what* names it in the message)."""
    from ...core.lut import find_default

    if isinstance(trim_lut, LUT):
        lut, path = trim_lut, "the given trim LUT"
    else:
        path = trim_lut if trim_lut is not None else find_default(pdk, "comparator_trim")
        lut = LUT.load(path, block="comparator")
    a, b = lut.provenance.get("pdk"), of.provenance.get("pdk")
    if a and b and a != b:
        raise ParameterError(f"trim LUT {path} was made on {a}, {what} on {b}: give a trim LUT of {b}")
    return TrimDac.from_lut(lut, vdd=corner.get("vdd"), temp=corner.get("temp"), source=str(path))
