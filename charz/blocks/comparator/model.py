"""Behavioral StrongARM comparator bank, fed by the ``comparator`` LUT (:mod:`charz.blocks.comparator.recipe`).

A :class:`ComparatorBank` is ``n`` physical comparators of one simulated chip at one operating point
(vdd, temp). Each comparator keeps its own input-referred offset for the whole run (offsets are static
mismatch, drawn once per chip):

- ``source="resample"`` (default with Monte Carlo data): each comparator is one of the LUT's simulated
  instances, picked at random (with replacement) by the seed. Samples are the same physical instance at
  every corner, so an offset between grid corners is interpolated per instance;
- ``source="normal"``: offsets drawn from N(offset_mean, offset_sigma) of the LUT;
- ``source="instances"``: comparator i is LUT instance i (n <= number of samples) -- the SPICE
  instances themselves, to check the model against SPICE;
- a LUT without Monte Carlo data (or ``mismatch_scale=0``) gives the nominal offset (about 0) everywhere.

``mismatch_scale`` s multiplies the drawn deviation from the nominal offset (s = 1: the LUT's A_VT; the
offset is linear in the threshold draws to within a few %, so s stands for A_VT' = s x A_VT).

Decisions: :meth:`ComparatorBank.decide` returns 1 where ``v_p - v_n > offset`` (the SPICE decision
"dp high"), else 0, vectorized; the comparator index is the *last* axis of the inputs (broadcasting).
The model is noiseless and never metastable; :meth:`ComparatorBank.decision_time` gives the decision
time from the LUT's regeneration fit ``t_d = t_1mV - tau ln(|dv - offset| / 1 mV)`` (floored at the
decision time of the largest characterized input) and :meth:`ComparatorBank.metastable` flags inputs
too close to the threshold to resolve within a given time. Energy: ``energy`` J per decision (the LUT's
mean over its step inputs), ``energy_toggle`` J more when the decision flips the output latch, and
:meth:`ComparatorBank.energy_of` for a count of decisions and toggles.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...core.errors import LUTError, ParameterError
from ...core.lut import LUT, Kind
from ...core.validate import finite

BLOCK = Kind.COMPARATOR
SOURCES = ("resample", "normal", "instances")


def _operating_point(lut: LUT, vdd, temp) -> tuple[dict, dict]:
    point, choices = {}, {}
    for name, val in (("vdd", vdd), ("temp", temp)):
        ax = lut.axis(name)
        if val is not None:
            v = finite(val, name)
            if not (ax.values[0] - 1e-12 <= v <= ax.values[-1] + 1e-12):
                raise LUTError(f"{name}={v:g} {ax.unit} is outside the {BLOCK} LUT range "
                               f"[{ax.values[0]:g}, {ax.values[-1]:g}]: re-characterize with a wider grid")
            point[name], choices[name] = v, "given"
        else:
            point[name], choices[name] = lut.default_coord(name)
    return point, choices


@dataclasses.dataclass
class ComparatorBank:
    """``n`` comparators of one chip at one operating point (build it with :meth:`from_lut`)."""

    offsets: np.ndarray
    """Input-referred offset of each comparator (V), shape (n,)."""
    energy: float
    """Energy per decision (J) that repeats the previous one (output latch unchanged)."""
    energy_toggle: float
    """Extra energy (J) of a decision that flips the output latch (0 if the LUT has no such table)."""
    tau: float
    """Regeneration time constant (s) of the LUT's fit."""
    t_1mv: float
    """Fitted decision time at |dv - offset| = 1 mV (s)."""
    t_min: float
    """Decision time at the largest characterized |dv| (s): the floor of :meth:`decision_time`."""
    coords: dict
    t_window: float = float("inf")
    """Evaluate half-period of the characterized clock (s): the default time a decision may take."""
    choices: dict = dataclasses.field(default_factory=dict)
    source: str = "nominal"
    mismatch_scale: float = 1.0
    provenance: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_lut(cls, lut: LUT, n: int = 1, vdd: float | None = None, temp: float | None = None, seed: int = 0,
                 source: str | None = None, mismatch_scale: float = 1.0) -> "ComparatorBank":
        """Draw the *n* comparators of one chip from *lut* at (vdd, temp) (None: nominal VDD / 27 degC,
        or the only grid value). ``source`` None = "resample" when the LUT holds Monte Carlo samples."""
        if not isinstance(lut, LUT):
            raise LUTError(f"a {BLOCK} LUT object is needed, got {type(lut).__name__}")
        if lut.block != BLOCK:
            raise LUTError(f"this is a '{lut.block}' LUT; the comparator model needs a '{BLOCK}' LUT "
                           f"(charz.blocks.comparator.recipe.characterize_comparator)")
        for t in ("offset", "energy", "tau", "t_decision_1mv", "t_decision"):
            if t not in lut.tables:
                raise LUTError(f"{BLOCK} LUT has no '{t}' table: regenerate it")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"n = {n!r}: the number of comparators must be a positive integer")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
        ms = finite(mismatch_scale, "mismatch_scale")
        if ms < 0:
            raise ParameterError(f"mismatch_scale must be >= 0 (1.0 = the LUT's A_VT), got {ms:g}")
        point, choices = _operating_point(lut, vdd, temp)
        dv0 = float(lut.axis("dv").values[0])  # per-corner tables are constant along dv
        at = dict(point, dv=dv0)
        nominal = lut.value("offset", **at)
        if not np.isfinite(nominal):
            raise LUTError(f"{BLOCK} LUT has no nominal offset at {point}: re-characterize that point")
        has_mc = "offset" in lut.samples
        if source is None:
            source = "resample" if has_mc else "nominal"
        if source not in SOURCES + ("nominal",):
            raise ParameterError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
        if source == "nominal" or ms == 0:
            dev = np.zeros(n)
        elif source == "normal":
            if "offset_sigma" not in lut.tables:
                raise LUTError(f"source='normal' needs Monte Carlo data (offset_sigma) in the {BLOCK} LUT")
            mu, sd = lut.value("offset_mean", **at), lut.value("offset_sigma", **at)
            dev = mu - nominal + sd * rng.standard_normal(n)
        else:
            if not has_mc:
                raise LUTError(
                    f"source={source!r} needs Monte Carlo samples in the {BLOCK} LUT: characterize with mc > 0")
            s = np.asarray(lut.sample_slice("offset", **at), dtype=float)
            if source == "instances":
                if n > s.size:
                    raise ParameterError(f"source='instances' takes LUT instances 0..{s.size - 1}: n = {n} is too many")
                if not np.all(np.isfinite(s[:n])):
                    raise LUTError(f"{BLOCK} LUT instances {np.flatnonzero(~np.isfinite(s[:n])).tolist()} have no "
                                   f"offset (failed or out of range) at {point}")
                dev = s[:n] - nominal
            else:
                good = s[np.isfinite(s)]
                if good.size == 0:
                    raise LUTError(f"{BLOCK} LUT has no usable Monte Carlo offsets at {point}")
                dev = rng.choice(good, size=n, replace=True) - nominal
        offsets = nominal + ms * dev
        td = np.asarray(lut.slice("t_decision", **point), dtype=float)
        dvs = lut.axis("dv").values
        big = np.abs(dvs) == np.max(np.abs(dvs))
        t_min = float(np.nanmin(td[big])) if np.any(np.isfinite(td[big])) else 0.0
        e_tog = lut.value("energy_toggle", **at) if "energy_toggle" in lut.tables else 0.0
        return cls(offsets=np.asarray(offsets, dtype=float), energy=lut.value("energy", **at),
                   energy_toggle=float(e_tog) if np.isfinite(e_tog) else 0.0,
                   tau=lut.value("tau", **at), t_1mv=lut.value("t_decision_1mv", **at), t_min=t_min, coords=point,
                   t_window=float(lut.conditions.get("evaluate_window_s", float("inf"))),
                   choices=choices, source=source if ms > 0 else "nominal", mismatch_scale=ms,
                   provenance=dict(lut.provenance))

    @property
    def n(self) -> int:
        """Number of comparator instances in the bank."""
        return int(self.offsets.size)

    def decide(self, v_p, v_n=0.0) -> np.ndarray:
        """1 where ``v_p - v_n > offset`` else 0 (int8); comparator index = last axis (broadcast)."""
        d = np.asarray(v_p, dtype=float) - np.asarray(v_n, dtype=float)
        return (d > self.offsets).astype(np.int8)

    def decision_time(self, v_p, v_n=0.0) -> np.ndarray:
        """Decision time (s) from the regeneration fit, floored at the fastest characterized decision;
        +inf exactly at the threshold."""
        d = np.abs(np.asarray(v_p, dtype=float) - np.asarray(v_n, dtype=float) - self.offsets)
        with np.errstate(divide="ignore"):
            t = self.t_1mv - self.tau * np.log(d / 1e-3)
        return np.maximum(t, self.t_min)

    def metastable(self, v_p, v_n=0.0, t_avail: float | None = None) -> np.ndarray:
        """True where the decision would take longer than *t_avail* (s; default the LUT's evaluate
        half-period): inputs within ``1 mV x exp((t_1mV - t_avail) / tau)`` of the threshold."""
        t_avail = self.t_window if t_avail is None else finite(t_avail, "t_avail")
        return self.decision_time(v_p, v_n) > t_avail

    def energy_of(self, decisions, toggles=0) -> float:
        """Energy (J) of a number of decisions (or of an array of decisions: its size), *toggles* of
        which flipped the output latch (a number, or a boolean array: its count of True)."""
        k = np.size(decisions) if np.ndim(decisions) else finite(decisions, "decisions")
        n_t = np.count_nonzero(toggles) if np.ndim(toggles) else finite(toggles, "toggles")
        return float(k) * self.energy + float(n_t) * self.energy_toggle


__all__ = ["ComparatorBank", "SOURCES"]
