"""Per-line bias trim of the TD-MAC's delay lines: a DLL-like calibration fed by a ``td_delay`` LUT characterized
with ``--bias-trim`` (every corner's deck also run at several starve-bias ratios, nominally and for the same Monte
Carlo instances: :mod:`charz.blocks.td_mac.recipe_delay`).

Why: a line's unit delay comes from its starved inverters, so every line instance has its own gain. On ptm16hp at
0.7 V the Monte Carlo sigma of a line's delay grows from 0.44 tau at code 1 to 1.6 tau at code 15, while the
element TDCs decide at half a tau: most of the error is the line's gain, which its bias sets.

The circuit: each line has its own bias DAC of ``bits`` bits (both starve biases move together, vbn = r VDD,
vbp = (1 - r) VDD), its 2^bits levels spread evenly over the characterized ratios. A line's delay curve at a
level between two characterized ratios is the linear interpolation of that instance's curves at the two.

The calibration (foreground, per line, like a delay-locked loop): the controller compares the line's span, the
delay at the largest code minus the delay at code 0, with a reference of (2^e - 1) unit delays (the nominal span,
e.g. from the clock), and keeps the level whose span is nearest it (a successive-approximation search over
``bits`` steps when the span is monotonic in the bias). It corrects each line's gain; the line's code-0 offset
and its shape (the stages' own mismatch, the INL) stay: that is the residual, and it comes from the LUT's Monte
Carlo instances at every ratio, not from an assumption.

Instances: a line instance is the joint vector of its delays at every (ratio, code), drawn with the full
covariance of the LUT's Monte Carlo instances (:func:`charz.behavior.mismatch.draw_instances`; with few
instances the covariance has low rank). Without calibration the line runs at the default ratio (0.85): the same
instances, so "none" and "bias" compare the same chips.

What it costs (stated in the report): each line's energy at its chosen bias (the LUT's energy at each ratio,
interpolated, relative to the default); one DAC per line (2^bits - 1 minimum transistors, an assumption, plus
its code register); the calibration's time, ``bits`` steps of :data:`CYCLES_PER_STEP` cycles of the delay
testbench per line, lines one after another per engine (one phase detector per engine, an assumption), and
the lines' energy over those cycles. Not modelled: the phase detector's own offset and the reference's error
(an ideal comparison of spans).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...behavior.mismatch import draw_instances, mc_deviation_stats
from ...core.errors import LUTError, ParameterError

CYCLES_PER_STEP = 16
"""Span comparisons averaged per step of the calibration search (an assumption)."""
REGISTER_UNITS_PER_BIT = 24
"""A static D flip-flop holding one code bit, in minimum transistors (as the converters' trim)."""
DEFAULT_RATIO = 0.85
"""The delay line's default starve-bias ratio (vbn = 0.85 VDD)."""
CALIBRATIONS = ("none", "bias")


@dataclasses.dataclass(frozen=True)
class BiasTrim:
    """The delay line at every characterized bias ratio, at one corner, in units of the nominal tau (build it with
    :meth:`from_lut`)."""

    ratios: np.ndarray
    """(R,) characterized ratios r (vbn = r VDD), increasing."""
    default: int
    """Index of the default ratio 0.85 in :attr:`ratios`."""
    delay: np.ndarray
    """(R, codes) nominal delay [tau] minus the default ratio's nominal code-0 delay (the circuit's frame)."""
    samples: np.ndarray | None
    """(S, R, codes) the Monte Carlo instances in the same frame (sample s is one line at every ratio)."""
    energy_ratio: np.ndarray
    """(R,) line energy at each ratio over the default's (mean over codes)."""
    e_cycle: float
    """Energy of one delay-testbench cycle at the largest code and the default ratio [J]."""
    cycle_s: float
    """The delay testbench's cycle [s]."""

    @classmethod
    def from_lut(cls, dl, vdd: float, temp: float, d0: float, tau: float) -> "BiasTrim | None":
        """The bias trim of the ``td_delay`` LUT *dl* at its grid corner (vdd, temp) (None when the LUT has none);
        *d0*, *tau*: the nominal code-0 delay and unit delay at the default ratio [s]."""
        if "trim_delay" not in dl.arrays:
            return None
        ratios = np.asarray(dl.arrays["trim_ratio"], dtype=float)
        hit = np.flatnonzero(np.abs(ratios - DEFAULT_RATIO) < 1e-9)
        if hit.size != 1:
            raise LUTError(f"the delay LUT's bias trim ratios {ratios.tolist()} do not include the default "
                           f"{DEFAULT_RATIO}: re-characterize with --bias-trim including {DEFAULT_RATIO}")
        i = int(np.argmin(np.abs(dl.axis("vdd").values - vdd)))
        j = int(np.argmin(np.abs(dl.axis("temp").values - temp)))
        nom = np.asarray(dl.arrays["trim_delay"], dtype=float)[i, j]
        if not np.all(np.isfinite(nom)):
            raise LUTError(f"the delay LUT's bias trim has failed points at vdd={vdd:g} V: re-characterize it")
        smp = None
        if "trim_delay_mc" in dl.arrays:
            s = np.moveaxis(np.asarray(dl.arrays["trim_delay_mc"], dtype=float)[i, j], -1, 0)  # (S, R, codes)
            s = s[np.all(np.isfinite(s), axis=(1, 2))]
            smp = (s - d0) / tau if s.shape[0] >= 2 else None
        en = np.asarray(dl.arrays["trim_energy"], dtype=float)[i, j]
        e_ratio = np.nanmean(en / en[hit[0]], axis=1)
        cycle = float(dl.conditions.get("cycle_s", float("nan")))
        return cls(ratios=ratios, default=int(hit[0]), delay=(nom - d0) / tau, samples=smp,
                   energy_ratio=e_ratio, e_cycle=float(en[hit[0], -1]), cycle_s=cycle)

    # -- instances, levels, calibration ------------------------------------------------------------------
    def draw(self, n: int, rng: np.random.Generator, scale: float) -> np.ndarray:
        """(n, R, codes) line instances at every ratio (the nominal without Monte Carlo)."""
        shape = self.delay.shape
        flat = self.delay.reshape(-1)
        if self.samples is None:
            return np.broadcast_to(self.delay, (n,) + shape).copy()
        k, mean, factor, samples = mc_deviation_stats(self.samples.reshape(self.samples.shape[0], -1), flat)
        return draw_instances(flat, n, rng, scale, "mvn", factor, mean, samples).reshape((n,) + shape)

    def levels(self, bits: int) -> np.ndarray:
        """The 2^bits ratios of a line's bias DAC, evenly over the characterized range."""
        return np.linspace(self.ratios[0], self.ratios[-1], 1 << bits)

    def at_levels(self, inst: np.ndarray, bits: int) -> np.ndarray:
        """(n, 2^bits, codes) each instance's curve at every DAC level (linear in the ratio between the
        characterized ones)."""
        lv = self.levels(bits)
        hi = np.clip(np.searchsorted(self.ratios, lv, side="right"), 1, self.ratios.size - 1)
        lo = hi - 1
        w = (lv - self.ratios[lo]) / (self.ratios[hi] - self.ratios[lo])
        return inst[:, lo] * (1 - w)[None, :, None] + inst[:, hi] * w[None, :, None]

    def calibrate(self, inst: np.ndarray, bits: int, target_span: float) -> tuple[np.ndarray, np.ndarray]:
        """Each instance's DAC level whose span (largest code minus code 0) is nearest *target_span* [tau], and
        its curve there: (level (n,), curves (n, codes))."""
        cur = self.at_levels(inst, bits)
        span = cur[..., -1] - cur[..., 0]
        k = np.argmin(np.abs(span - target_span), axis=1)
        return k, cur[np.arange(cur.shape[0]), k]

    def energy_factor(self, levels: np.ndarray, bits: int) -> float:
        """Mean line energy at the DAC *levels* chosen over the default's."""
        return float(np.mean(np.interp(self.levels(bits)[levels], self.ratios, self.energy_ratio)))

    def cost(self, bits: int, lines_per_engine: int) -> dict:
        """Area of one line's DAC and register (minimum-transistor units) and one engine's calibration time and
        energy (lines one after another, ``bits`` steps of :data:`CYCLES_PER_STEP` cycles each)."""
        cycles = lines_per_engine * bits * CYCLES_PER_STEP
        return {"area_units_per_line": float((1 << bits) - 1 + bits * REGISTER_UNITS_PER_BIT),
                "calibration_cycles_per_engine": int(cycles), "calibration_time_s": cycles * self.cycle_s,
                "calibration_energy_J": cycles * self.e_cycle,
                "assumption": f"a {bits}-bit bias DAC per line (2^{bits} - 1 minimum transistors + register); one "
                              f"phase detector per engine, lines in turn, {bits} search steps x {CYCLES_PER_STEP} "
                              f"span comparisons; ideal phase detector and reference"}


def check_calibration(line_calibration: str, bits, circuit) -> tuple[str, int]:
    """The checked (line_calibration, bias bits) of a model on *circuit*; one-line errors."""
    if line_calibration not in CALIBRATIONS:
        raise ParameterError(f"line_calibration must be one of {', '.join(CALIBRATIONS)}, got {line_calibration!r}")
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise ParameterError(f"bias_bits must be an integer 1..8 (the per-line bias DAC), got {bits!r}")
    if line_calibration == "bias" and getattr(circuit, "bias_trim", None) is None:
        raise ParameterError("line calibration 'bias' needs a delay LUT characterized with --bias-trim "
                             "(`charz characterize td_delay --bias-trim 0.75,0.8,0.85,0.9,0.95 --mc 8`)")
    return line_calibration, int(bits)


def line_report(before: np.ndarray, after: np.ndarray, nominal: np.ndarray, levels: np.ndarray | None,
                trim: BiasTrim, bits: int) -> dict:
    """Per-line errors against the nominal curve before / after calibration [tau]: rms over lines and codes,
    the span error's rms, the code-0 offset's rms (untouched), the levels used."""
    def stats(c):
        dev = c - nominal
        span = (c[:, -1] - c[:, 0]) - (nominal[-1] - nominal[0])
        return {"rms_tau": float(np.sqrt(np.mean(dev ** 2))), "rms_top_code_tau": float(np.sqrt(np.mean(dev[:, -1] ** 2))),
                "span_rms_tau": float(np.sqrt(np.mean(span ** 2))), "offset_rms_tau": float(np.sqrt(np.mean(dev[:, 0] ** 2)))}
    out = {"lines": int(before.shape[0]), "before": stats(before), "after": stats(after), "bits": bits,
           "ratios": [float(trim.ratios[0]), float(trim.ratios[-1])]}
    if levels is not None:
        lv = trim.levels(bits)[levels]
        out["ratio_used"] = [float(lv.min()), float(lv.max())]
        out["at_range_end"] = int(np.sum((levels == 0) | (levels == (1 << bits) - 1)))
    return out


def synthetic_bias_trim(n_codes: int = 16, ratios=(0.75, 0.8, 0.85, 0.9, 0.95), slope: float = 2.0,
                        gain_sigma: float = 0.08, offset_sigma: float = 0.3, n_samples: int = 24,
                        seed: int = 0) -> BiasTrim:
    """A SYNTHETIC bias trim (no SPICE behind it), for tests: at ratio r the nominal delay of code c is
    ``c (1 + slope (0.85 - r))`` tau; each instance has its own gain ``1 + N(0, gain_sigma)`` (the same at every
    ratio) and code-0 offset ``N(0, offset_sigma)``; energy 1 + 0.1 (r - 0.85) relative."""
    r = np.asarray(ratios, dtype=float)
    codes = np.arange(n_codes)
    g = 1 + slope * (DEFAULT_RATIO - r)
    nom = g[:, None] * codes[None, :]
    rng = np.random.default_rng(seed)
    gain = 1 + gain_sigma * rng.standard_normal(n_samples)
    off = offset_sigma * rng.standard_normal(n_samples)
    smp = gain[:, None, None] * nom[None] + off[:, None, None]
    return BiasTrim(ratios=r, default=int(np.argmin(np.abs(r - DEFAULT_RATIO))), delay=nom, samples=smp,
                    energy_ratio=1 + 0.1 * (r - DEFAULT_RATIO), e_cycle=10e-15, cycle_s=2e-9)
