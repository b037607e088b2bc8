"""Characterization recipe of the StrongARM latch comparator (:mod:`charz.blocks.comparator.netlist`).

Two kinds of deck per (VDD, temperature) corner:

- **step decks**, one per differential input ``dv`` of the grid (default +-{0.5, 1, 2, 5, 10, 20, 50,
  100} mV), nominal only, ``n_step_cycles`` decisions each: decision time, sign and energy per decision;
- **one ramp deck**: the differential input climbs a staircase from ``-offset_range`` to
  ``+offset_range`` by ``offset_resolution`` per clock cycle; run nominally and once per Monte Carlo
  sample (chunks of 25 samples share one ngspice session, ``alter`` of every transistor's ``delvto``).
  Sample *s* is the same physical comparator at every corner.

Measurements (NumPy on the saved vectors; no ``.meas``):

- **decision** of a cycle: the sign of ``v(dp) - v(dn)`` at the end of the evaluate half (clock
  falling edge at 50 %) when it exceeds VDD / 2 in magnitude (+1: dp high, "1", V(inp) - V(inn) above
  the offset; -1: dn high); 0 when neither output got there (metastable, unresolved);
- **decision time** ``t_decision`` [s]: from the clock rising edge at 50 % to the first instant the
  winning output leads the other one by VDD / 2 (``|v(dp) - v(dn)|`` = VDD / 2; the loser stays at 0
  V, so this is the winner crossing VDD / 2), linear interpolation between saved points; NaN when
  unresolved. Mean over the measured cycles (1 .. n-1; they agree to < 0.01 ps);
- **energy per decision** [J]: over the measured cycles (the first cycle is skipped: in it the output
  latch takes its first value), ``VDD x (Q(vdd) + Q+(vclk)) / cycles`` with ``Q(vdd)`` the net charge
  from the supply and ``Q+(vclk)`` the charge the clock source delivers while it pulls up (rising edge
  and high phase, the charge a CMOS clock driver's supply delivers). The clock charge is integrated
  over each pull-up window as a net charge, not as the positive part of the current: the trapezoidal
  integrator makes ideal-source currents ring point to point, and at the default 2 ps step the positive
  part overstated the clock charge 7x (8.0 vs 1.13 fC; net charge within 0.01 fC of a 16x finer step).
  The decisions repeat one another, so the output latch does not toggle. Inputs are ideal sources:
  kickback charge is the converter's DAC's business. Tables ``energy_supply``/``energy_clock`` split it;
- **output-latch toggle energy** ``energy_toggle`` [J]: the first decision of a step deck starts from
  the same reset state for +dv and -dv, but only +dv flips the SR latch (it starts holding 0); the
  difference of the two first-cycle energies, averaged over the +-dv pairs of the grid, is the extra
  energy of a decision that changes the latch (a small fraction of a decision's energy; the measured
  figures are in lut/README.md). A converter's comparator energy is ``energy + p_toggle x energy_toggle``;
- **input-referred offset** of one instance (from one ramp transient): the staircase levels are
  ``v_k = -R + (k + 1/2) r``; with ``n0`` cycles deciding 0 (-1) and ``nu`` unresolved,
  ``offset = -R + r (n0 + nu / 2)``. For a monotonic decision sequence (every one we have seen) this
  is the midpoint between the last 0 and the first 1 decision, i.e. linear interpolation between them
  (an unresolved cycle between them counts as the threshold itself); the quantization error is
  uniform within +-r/2 (rms r / sqrt(12)). Decision sequences that are not monotonic are counted in
  ``provenance["checks"]``; an instance whose offset lies outside the ramp is NaN and counted
  (``offset_out_of_range``) with a warning to widen ``offset_range``. The nominal deck is symmetric,
  so its offset is 0 to within the resolution.
- **regeneration time constant** ``tau`` [s]: least-squares fit of ``t_d = t_1mV - tau ln(|dv| / 1 mV)``
  over the nominal step runs with ``|dv| <= tau_fit_max`` (default 10 mV; above that the decision
  time is set by the input pair's integration, not by regeneration). ``t_decision_1mv`` is the fitted
  intercept; the rms residual is in ``conditions["tau_fit"]``.

Default ramp (``offset_range`` R, ``offset_resolution`` r): from an a-priori Pelgrom estimate that
takes every device of the input pair and both cross-coupled pairs at full weight,
``sigma_est = sqrt(2 (sigma_in^2 + sigma_nl^2 + sigma_pl^2))``. It over-estimates about 2x on purpose:
one device's threshold moves the offset by 1.1x (input pair), 0.5x (cross-coupled NMOS) and 0.1-0.2x
(cross-coupled PMOS) on ptm16hp at 0.7 V, and the reset devices and output stage by < 0.05x.
``r`` = sigma_est / 10 rounded down to 0.1 mV, ``R`` = 4 sigma_est rounded up to a multiple of r: about
80 decisions per transient (about 3 s of ngspice at 16 nm), covering about +-8 sigma of the real spread,
with a quantization rms of r / sqrt(12), about sigma / 17 (adds < 0.2 % to sigma). On ptm16hp the
default is r = 4 mV, R = 164 mV (82 decisions); on ptm65bulk r = 2 mV, R = 82 mV.

LUT contract (read by :mod:`charz.blocks.comparator.model`): block ``comparator``; axes ``vdd`` [V],
``temp`` [degC] (continuous), ``dv`` [V] (discrete: the step inputs, with sign). Tables over the whole
grid: ``t_decision`` [s], ``decision`` (+1 / -1 / 0), ``sign_ok`` (1 when the decision has the sign of
dv), ``energy_dv`` [J]. Per-corner tables (constant along ``dv``, listed in
``conditions["per_corner"]``): ``energy``, ``energy_supply``, ``energy_clock`` [J] (mean over the step
runs), ``energy_toggle`` [J], ``tau``, ``t_decision_1mv`` [s], ``offset`` [V] (nominal) and, with Monte
Carlo, ``offset_mean``, ``offset_sigma`` [V] and samples ``offset`` (per instance, NaN where a run
failed or the offset was out of range); arrays ``mc_delvto``, ``mc_devices`` (and ``mc_mulu0``).
Failures never stop the sweep: they are NaN and listed in ``lut.provenance["failed_points"]``.

Offset trim (``trim_bits`` = k > 0, :mod:`charz.blocks.comparator.netlist`): the offset ramp runs again at
every code -(2^k - 1) .. 2^k - 1 nominally, and at the codes of
:func:`~charz.blocks.comparator.model_trim.trim_codes` (0, +-2^b, +-(2^k - 1)) for the same Monte Carlo
instances (the trim devices are in every deck, only their gates change), at a ramp resolution 4x finer by
default (the trim curves are read off the ramps). Arrays ``trim_codes`` (every code), ``trim_offset`` (vdd,
temp, code), ``trim_mc_codes`` and ``trim_offset_mc`` (vdd, temp, mc code, sample) [V]; per-corner tables
``trim_step`` (least-squares LSB over the single-bit codes [V per code]), ``trim_step_sigma`` (its spread
over the instances) and ``trim_energy`` (energy per decision with the trim devices minus without them, one
extra step deck per corner without trim devices) [J]; ``conditions["trim"]`` describes the circuit and
``provenance["checks"]["trim_superposition_max_V"]`` how far an instance's deviation from the nominal change
at +-(2^k - 1) is from the sum of its bits' deviations (what :mod:`charz.blocks.comparator.model_trim`
assumes for the codes the instances did not run; the nominal changes themselves are not summed: on ptm16hp
the 4-bit code 15 moves the offset 12 mV more than its bits' sum).

Figures measured with the defaults (offset sigma, tau, decision time, energy per decision on ptm16hp and
ptm65bulk) are in lut/README.md, 'Comparator'.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import warnings
from typing import Sequence

import numpy as np

from ...core.errors import ParameterError
from ...core.lut import LUT, Axis, Kind
from ...core.mc import Mismatch
from .netlist import (
    BLOCK, ComparatorParams, ComparatorSizes, comparator_devices, ramp_levels, ramp_netlist, step_netlist, timeline,
)
from .model_trim import trim_codes
from ...core.pdk import PDK
from ...sim.executor import Executor
from ...core.validate import finite
from ...netlist.spice import pdk_of
from ...characterize.common import corner_values, integral, midpoints, sample_stats
from ...characterize.recipe import Recipe

log = logging.getLogger(__name__)

RECIPE = "comparator/1"
"""Measurement-code version (part of every cache key): bump when a measurement changes."""

DV_DEFAULT_MV = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
"""Magnitudes of the default step inputs (mV); the grid holds both signs."""
TAU_FIT_MAX = 10e-3
COMPARATOR_OPTIONS = ("c_load", "t_clk", "t_edge", "vcm_ratio", "sr_latch", "t_step", "trim_bits", "w_trim")
TRIM_TABLES = ("trim_step", "trim_step_sigma", "trim_energy")
"""Per-corner tables of a comparator with an offset trim (``trim_bits`` > 0)."""
TRIM_RESOLUTION_DIVISOR = 4
"""With a trim, the default ramp resolution is this much finer (the trim curves are read off the ramps)."""
PER_CORNER = ("energy", "energy_supply", "energy_clock", "energy_toggle", "tau", "t_decision_1mv", "offset",
              "offset_mean", "offset_sigma")
UNITS = {"t_decision": "s", "decision": "1", "sign_ok": "1", "energy_dv": "J", "energy": "J", "energy_supply": "J",
         "energy_clock": "J", "energy_toggle": "J", "tau": "s", "t_decision_1mv": "s", "offset": "V",
         "offset_mean": "V", "offset_sigma": "V", "trim_step": "V", "trim_step_sigma": "V", "trim_energy": "J"}
RESET_TOLERANCE = 5e-3
"""An internal node more than this below VDD at the end of a reset half: the next decision starts unequal."""


# ---- measurements: pure NumPy -------------------------------------------------------------------------
_integral = integral  # shared helper (charz.characterize.common.integral); name kept for importers


def cycle_decisions(run: dict[str, np.ndarray], params: ComparatorParams,
                    n_cycles: int) -> tuple[np.ndarray, np.ndarray]:
    """Decision (+1, -1, 0 = unresolved) and decision time (s, NaN if unresolved) of every cycle."""
    t = np.asarray(run["time"], dtype=float)
    d = np.asarray(run["v(dp)"], dtype=float) - np.asarray(run["v(dn)"], dtype=float)
    tl = timeline(params, n_cycles)
    half = params.vdd / 2
    sign = np.zeros(n_cycles)
    td = np.full(n_cycles, np.nan)
    for k in range(n_cycles):
        a, b = tl.clock_50(k), tl.evaluate_end(k)
        end = float(np.interp(b, t, d))
        if abs(end) <= half:
            continue
        s = 1.0 if end > 0 else -1.0
        sign[k] = s
        m = np.flatnonzero((t > a) & (t <= b) & (s * d > half))
        if m.size == 0 or m[0] == 0:
            continue
        i = m[0]
        y0, y1 = s * d[i - 1], s * d[i]
        tc = t[i - 1] + (half - y0) * (t[i] - t[i - 1]) / (y1 - y0) if y1 != y0 else t[i]
        td[k] = max(tc, a) - a
    return sign, td


def measure_step(run: dict[str, np.ndarray], params: ComparatorParams, n_cycles: int) -> dict[str, float]:
    """Decision, decision time and energy per decision of one step run (cycles 1 .. n-1)."""
    t = np.asarray(run["time"], dtype=float)
    sign, td = cycle_decisions(run, params, n_cycles)
    tl = timeline(params, n_cycles)
    cyc = range(1, n_cycles)
    a = tl.rise[1]
    q_sup = -_integral(t, np.asarray(run["i(vdd)"], dtype=float), a, tl.end)
    iclk = -np.asarray(run["i(vclk)"], dtype=float)
    q_clk = sum(max(0.0, _integral(t, iclk, tl.rise[k], tl.fall[k])) for k in cyc)
    n = len(cyc)
    s = sign[1:]
    decision = float(s[0]) if np.all(s == s[0]) else 0.0
    e_sup, e_clk = params.vdd * q_sup / n, params.vdd * q_clk / n
    ends = [float(np.interp(tl.end, t, np.asarray(run[v], dtype=float))) for v in ("v(outp)", "v(outn)")]
    q0 = -_integral(t, np.asarray(run["i(vdd)"], dtype=float), tl.rise[0], tl.rise[1])
    q0 += max(0.0, _integral(t, iclk, tl.rise[0], tl.fall[0]))
    return {
        "energy_first": params.vdd * q0,
        "decision": decision,
        "t_decision": float(np.nanmean(td[1:])) if decision != 0 and np.any(np.isfinite(td[1:])) else float("nan"),
        "energy_dv": e_sup + e_clk,
        "energy_supply": e_sup,
        "energy_clock": e_clk,
        "reset_residual": params.vdd - min(ends),
    }


@dataclasses.dataclass(frozen=True)
class RampOffset:
    """The offset of one instance from one ramp run (see the module docstring)."""

    offset: float
    """Input-referred offset (V); NaN if outside the ramp."""
    n_zero: int
    """Cycles that decided 0 (-1)."""
    n_unresolved: int
    monotonic: bool
    in_range: bool
    reset_residual: float
    """Largest |v(dp)| or |v(dn)| at the start of a cycle (V): the outputs must be reset to 0."""


def ramp_offset(run: dict[str, np.ndarray], params: ComparatorParams, v_lo: float, v_hi: float,
                resolution: float) -> RampOffset:
    """Input-referred offset of one instance from its ramp run: ``-R + r (n0 + nu / 2)``, the midpoint
    between the last 0 and the first 1 decision of a monotonic sequence."""
    ramp = ramp_levels(v_lo, v_hi, resolution)
    n = len(ramp.levels)
    sign, _ = cycle_decisions(run, params, n)
    n0, nu, n1 = int(np.sum(sign < 0)), int(np.sum(sign == 0)), int(np.sum(sign > 0))
    mono = bool(np.array_equal(sign, np.sort(sign)))
    in_range = n0 + nu / 2 > 0 and n1 + nu / 2 > 0
    off = ramp.v_lo + ramp.resolution * (n0 + nu / 2) if in_range else float("nan")
    t = np.asarray(run["time"], dtype=float)
    tl = timeline(params, n)
    starts = np.asarray(tl.rise)
    res = max(float(np.max(np.abs(np.interp(starts, t, np.asarray(run[v], dtype=float))))) for v in ("v(dp)", "v(dn)"))
    return RampOffset(float(off), n0, nu, mono, bool(in_range), res)


def fit_tau(dv: Sequence[float], t_decision: Sequence[float], max_dv: float = TAU_FIT_MAX) -> dict:
    """Fit ``t_d = t_1mV - tau ln(|dv| / 1 mV)`` over the points with 0 < |dv| <= *max_dv* and a finite
    decision time. Returns tau, t_1mV (s), the rms residual (s) and the number of points (NaN if < 3)."""
    x = np.abs(np.asarray(dv, dtype=float))
    y = np.asarray(t_decision, dtype=float)
    ok = (x > 0) & (x <= max_dv * (1 + 1e-9)) & np.isfinite(y)
    if np.sum(ok) < 3 or np.unique(x[ok]).size < 2:
        return {"tau": float("nan"), "t_1mv": float("nan"), "rms_residual": float("nan"), "points": int(np.sum(ok))}
    lx = np.log(x[ok] / 1e-3)
    slope, icpt = np.polyfit(lx, y[ok], 1)
    resid = y[ok] - (icpt + slope * lx)
    return {"tau": float(-slope), "t_1mv": float(icpt), "rms_residual": float(np.sqrt(np.mean(resid**2))),
            "points": int(np.sum(ok))}


def default_ramp(params: ComparatorParams, pdk: PDK) -> tuple[float, float]:
    """(offset_range R, offset_resolution r) in V from the a-priori Pelgrom estimate (module docstring):
    r = sigma_est / 10 rounded down to 0.1 mV, R = 4 sigma_est rounded up to a multiple of r."""
    m = Mismatch(pdk.avt_mv_um)
    s = params.sizes
    var = sum(m.sigma_vth(w, l) ** 2 for w, l in ((s.w_in, s.l_in), (s.w_nl, s.l), (s.w_pl, s.l)))
    sig = max(math.sqrt(2 * var), 1e-3)
    r = max(1, math.floor(sig / 10 / 1e-4 + 1e-9)) * 1e-4
    big = math.ceil(4 * sig / r - 1e-9)
    return float(f"{big * r:.12g}"), float(f"{r:.12g}")


def _jnum(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


# ---- the recipe -------------------------------------------------------------------------------------
def _dv_grid(dv) -> list[float]:
    if dv is None:
        mags = [m * 1e-3 for m in DV_DEFAULT_MV]
        return sorted([-m for m in mags] + mags)
    vals = corner_values(dv, [], "dv", "V")
    for v in vals:
        if finite(v, "dv") == 0.0:
            raise ParameterError("dv = 0 is not a valid step input: a symmetric comparator is metastable there; "
                                 "give non-zero differential inputs (V)")
    return vals


class ComparatorRecipe(Recipe):
    """The comparator's recipe: step decks per (VDD, temperature, dv), one offset-ramp deck per corner (the
    Monte Carlo instances run the ramp)."""

    kind = Kind.COMPARATOR
    version = RECIPE
    generator = ("charz.blocks.comparator.netlist.step_netlist/ramp_netlist + "
                 "charz.blocks.comparator.recipe.characterize_comparator")


@dataclasses.dataclass
class _Ramps:
    """What the offset ramps measured: the Monte Carlo offsets (vdd, temp, sample) and the checks."""

    offsets: np.ndarray
    out_of_range: int = 0
    non_monotonic: int = 0
    unresolved: int = 0
    output_residual: float = 0.0


def characterize_comparator(
    pdk: PDK | str,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    fit_check: bool = True,
    dv: Sequence[float] | float | None = None,
    offset_range: float | None = None,
    offset_resolution: float | None = None,
    n_step_cycles: int = 2,
    tau_fit_max: float = TAU_FIT_MAX,
    sizes: ComparatorSizes | None = None,
    mismatch_beta: bool = False,
    **params,
) -> LUT:
    """Characterize the StrongARM comparator over VDD x temperature (x step input dv).

    Parameters
    ----------
    pdk: the PDK (``charz.core.pdk.get(name)``, possibly with a user A_VT) or its name.
    vdd: VDD grid in V (one value = a fixed point); default the PDK's nominal VDD.
    temp: temperature grid in degC; default 27.
    mc: Monte Carlo samples (comparator instances) for the offset; 0 = nominal only.
    seed: seed of the mismatch draw (same seed -> identical samples).
    executor, use_cache, progress: where simulations run (default: a local pool, closed at the end),
        the result cache and progress bars.
    fit_check: re-run step decks at VDD / temperature midpoints and store the interpolation error of
        ``t_decision`` and ``energy_dv`` in ``lut.fit_quality``.
    dv: step inputs in V (non-zero, with sign); default +-{0.5, 1, 2, 5, 10, 20, 50, 100} mV.
    offset_range, offset_resolution: half-span R and step r (V per cycle) of the offset ramp;
        default from the a-priori Pelgrom estimate (:func:`default_ramp`).
    n_step_cycles: decisions per step deck (>= 2; the first is not measured).
    tau_fit_max: largest |dv| (V) used in the regeneration-time-constant fit.
    sizes: transistor sizes (default :meth:`ComparatorSizes.default`).
    mismatch_beta: also draw current-factor mismatch (``mulu0``, A_beta of the PDK).
    params: further :class:`ComparatorParams` fields (``c_load``, ``t_clk``, ``t_edge``, ``vcm_ratio``,
        ``sr_latch``, ``t_step``).
    """
    r = ComparatorRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                         fit_check=fit_check)
    pdk, mc = r.pdk, r.mc
    unknown = set(params) - set(COMPARATOR_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown comparator parameter(s) {sorted(unknown)}: use {list(COMPARATOR_OPTIONS)}")
    if isinstance(n_step_cycles, bool) or not isinstance(n_step_cycles, int) or not (2 <= n_step_cycles <= 20):
        raise ParameterError(
            f"n_step_cycles = {n_step_cycles!r}: give an integer 2 to 20 (the first cycle is not measured)")
    tau_fit_max = finite(tau_fit_max, "tau_fit_max")
    vdds, temps, dvs = r.vdds(vdd), r.temps(temp), _dv_grid(dv)
    base = ComparatorParams(pdk=pdk.name, vdd=vdds[0], temp=temps[0], sizes=sizes, **params)
    r_def, res_def = default_ramp(base, pdk)
    if base.trim_bits and offset_resolution is None:
        res_def = res_def / TRIM_RESOLUTION_DIVISOR
    R = r_def if offset_range is None else finite(offset_range, "offset_range (V)")
    res = res_def if offset_resolution is None else finite(offset_resolution, "offset_resolution (V per cycle)")
    if R <= 0:
        raise ParameterError(f"offset_range = {R:g} V must be positive (the ramp runs from -R to +R)")
    shape = (len(vdds), len(temps), len(dvs))

    cparams = {(i, j): base.replace(vdd=v, temp=t) for (i, v), (j, t) in
               itertools.product(enumerate(vdds), enumerate(temps))}
    ramp_points = [({"vdd": p.vdd, "temp": p.temp, "ramp": "offset"}, ramp_netlist(p, -R, R, res, pdk))
                   for p in cparams.values()]
    step_points = [({"vdd": p.vdd, "temp": p.temp, "dv": x}, step_netlist(p, x, n_step_cycles, pdk))
                   for p in cparams.values() for x in dvs]
    step_where = [(i, j, m) for (i, j) in cparams for m in range(len(dvs))]
    fit_params = _fit_points(base, vdds, temps, dvs) if fit_check else []
    draws = r.draws(comparator_devices(base, pdk), mismatch_beta)
    trim = _trim_plan(base, cparams, dvs, R, res, n_step_cycles, pdk)

    with r:
        sres = r.run(step_points, desc=f"comparator steps ({len(step_points)})")
        rres = r.run(ramp_points, draws,
                     desc="comparator offset ramp " + ("nominal" if draws is None else f"nominal + {mc} MC"))
        if trim is not None:  # the same instances (same devices, same draws) at every trim code
            _run_trim(r, trim, draws)
        fit_runs: list[dict | None] = []
        if fit_params:
            fpts = [({"vdd": p.vdd, "temp": p.temp, "dv": x, "fit": "off-grid"}, step_netlist(p, x, n_step_cycles, pdk))
                    for p, x in fit_params]
            fit_runs = r.run(fpts, desc="comparator fit check", fit=True).nominal

    tables, parts, first, reset_gap = _measure_steps(sres.nominal, step_where, cparams, dvs, shape, n_step_cycles)
    corner, tau_fits = _corner_tables(tables, parts, first, dvs, vdds, temps, tau_fit_max, mc)
    ramps = _measure_ramps(rres, list(cparams), cparams, R, res, corner, mc)
    notes = _notes(ramps, R, reset_gap, base.vdd)
    trim_arrays, trim_checks = {}, {}
    if trim is not None:
        trim_arrays, trim_checks = _measure_trim(trim, cparams, R, res, corner, ramps, tables, dvs, mc,
                                                 n_step_cycles)
        notes += trim_checks.pop("notes")
    out_tables, samples = _lut_tables(tables, corner, ramps, mc)
    axes = (
        Axis("vdd", "V", np.asarray(vdds)),
        Axis("temp", "degC", np.asarray(temps)),
        Axis("dv", "V", np.asarray(dvs), discrete=True),
    )

    # ---- provenance -----------------------------------------------------------------------------------
    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    j_nom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    p_nom = cparams[(i_nom, j_nom)]
    m10 = int(np.argmin(np.abs(np.asarray(dvs) - 10e-3)))
    nominal_sha = {"ramp": ramp_netlist(p_nom, -R, R, res, pdk).sha256,
                   f"step_dv{dvs[m10]:g}": step_netlist(p_nom, dvs[m10], n_step_cycles, pdk).sha256}
    gen_params = base.as_dict()
    for name in ("vdd", "temp"):
        gen_params.pop(name)
    gen_params.update({"vdd_grid": vdds, "temp_grid": temps, "dv_grid": dvs, "offset_range": R,
                       "offset_resolution": res, "n_step_cycles": n_step_cycles, "tau_fit_max": tau_fit_max,
                       "mismatch_beta": mismatch_beta})
    prov = r.provenance(
        gen_params, nominal_sha, draws=draws, mismatch_beta=mismatch_beta,
        netlist_sha256_at=f"vdd={p_nom.vdd:g}, temp={p_nom.temp:g}",
        checks={"reset_residual_max_V": round(reset_gap, 6), "reset_tolerance_V": RESET_TOLERANCE,
                "ramp_output_residual_max_V": round(ramps.output_residual, 6),
                "offset_out_of_range": ramps.out_of_range, "offset_non_monotonic": ramps.non_monotonic,
                "offset_unresolved_cycles": ramps.unresolved, **trim_checks},
        warnings=notes,
    )
    lut = LUT(block=Kind.COMPARATOR, axes=axes, tables=out_tables, units={name: UNITS[name] for name in out_tables},
              samples=samples, conditions=_conditions(base, R, res, tau_fit_max, tau_fits, out_tables),
              provenance=prov, arrays={**(draws.arrays() if draws is not None else {}), **trim_arrays})

    # ---- fit quality: step decks at off-grid points vs the LUT's interpolation -------------------------
    if fit_params:
        cases = (({"vdd": p.vdd, "temp": p.temp, "dv": x}, measure_step(run, p, n_step_cycles))
                 for (p, x), run in zip(fit_params, fit_runs) if run is not None)
        lut.fit_quality = Recipe.fit_quality(lut, cases, ("t_decision", "energy_dv"), UNITS)
    return lut


def _fit_points(base: ComparatorParams, vdds, temps, dvs) -> list[tuple[ComparatorParams, float]]:
    """The fit check's step decks: VDD and temperature midpoints, for the smallest positive dv, the one
    nearest 10 mV and the largest."""
    pos = [x for x in dvs if x > 0]
    fit_dvs = sorted({min(pos, key=abs), min(pos, key=lambda x: abs(x - 10e-3)), max(pos)}) if pos else [dvs[0]]
    off = [(v, t) for v in midpoints(vdds) for t in temps] + [(v, t) for v in vdds for t in midpoints(temps)]
    return [(base.replace(vdd=round(v, 9), temp=round(t, 6)), x) for v, t in off for x in fit_dvs]


def _measure_steps(runs, where, cparams, dvs, shape, n_step_cycles: int):
    """The grid tables of the step runs, the energy split, the first-cycle energies and the largest reset
    residual of the outputs."""
    grid_names = ("t_decision", "decision", "sign_ok", "energy_dv")
    tables = {name: np.full(shape, np.nan) for name in grid_names}
    parts = {name: np.full(shape, np.nan) for name in ("energy_supply", "energy_clock")}
    first = np.full(shape, np.nan)
    reset_gap = 0.0
    for (i, j, m), run in zip(where, runs):
        if run is None:
            continue
        meas = measure_step(run, cparams[(i, j)], n_step_cycles)
        for name in ("t_decision", "decision", "energy_dv"):
            tables[name][i, j, m] = meas[name]
        tables["sign_ok"][i, j, m] = float(meas["decision"] == np.sign(dvs[m]))
        for name in parts:
            parts[name][i, j, m] = meas[name]
        first[i, j, m] = meas["energy_first"]
        reset_gap = max(reset_gap, meas["reset_residual"])
    return tables, parts, first, reset_gap


def _corner_tables(tables, parts, first, dvs, vdds, temps, tau_fit_max: float, mc: int):
    """The per-corner tables from the step runs (energies, toggle energy, tau; the offsets are filled in
    later) and the tau fit of each corner (for the conditions)."""
    nv, nt = len(vdds), len(temps)
    corner = {name: np.full((nv, nt), np.nan) for name in PER_CORNER
              if mc > 0 or name not in ("offset_mean", "offset_sigma")}
    pairs = [(dvs.index(x), dvs.index(-x)) for x in dvs if x > 0 and -x in dvs]
    if pairs:  # first decision of a deck: +dv sets the latch (q 0 -> 1), -dv leaves it; the core is symmetric
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            diffs = np.stack([first[..., a] - first[..., b] for a, b in pairs])
            corner["energy_toggle"][...] = np.nanmean(diffs, axis=0)
    with warnings.catch_warnings():  # a corner whose every run failed is NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        corner["energy"][...] = np.nanmean(tables["energy_dv"], axis=-1)
        corner["energy_supply"][...] = np.nanmean(parts["energy_supply"], axis=-1)
        corner["energy_clock"][...] = np.nanmean(parts["energy_clock"], axis=-1)
    tau_fits: dict[str, dict] = {}
    for i, j in itertools.product(range(nv), range(nt)):
        f = fit_tau(dvs, tables["t_decision"][i, j], tau_fit_max)
        corner["tau"][i, j], corner["t_decision_1mv"][i, j] = f["tau"], f["t_1mv"]
        tau_fits[f"vdd={vdds[i]:g}, temp={temps[j]:g}"] = {  # None where the fit had too few points (JSON-clean)
            "tau_s": _jnum(f["tau"]), "t_1mv_s": _jnum(f["t_1mv"]), "rms_residual_s": _jnum(f["rms_residual"]),
            "points": f["points"]}
    return corner, tau_fits


def _measure_ramps(rres, where, cparams, R: float, res: float, corner: dict, mc: int) -> _Ramps:
    """The nominal offset of each corner (into ``corner["offset"]``) and the Monte Carlo offsets."""
    nv, nt = corner["offset"].shape
    out = _Ramps(np.full((nv, nt, mc), np.nan))
    for (i, j), run, mc_runs in zip(where, rres.nominal, rres.mc):
        p = cparams[(i, j)]
        if run is not None:
            ro = ramp_offset(run, p, -R, R, res)
            corner["offset"][i, j] = ro.offset
            out.output_residual = max(out.output_residual, ro.reset_residual)
            out.out_of_range += not ro.in_range
        for s, srun in enumerate(mc_runs):
            if srun is None:
                continue
            ro = ramp_offset(srun, p, -R, R, res)
            out.offsets[i, j, s] = ro.offset
            out.out_of_range += not ro.in_range
            out.non_monotonic += not ro.monotonic
            out.unresolved += ro.n_unresolved
            out.output_residual = max(out.output_residual, ro.reset_residual)
    return out


def _lut_tables(tables: dict, corner: dict, ramps: _Ramps, mc: int) -> tuple[dict, dict]:
    """The LUT's tables (the per-corner ones, with the Monte Carlo offset statistics, broadcast along dv) and
    samples (the offsets, broadcast along dv)."""
    shape = tables["t_decision"].shape
    samples: dict[str, np.ndarray] = {}
    if mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            corner["offset_mean"][...], corner["offset_sigma"][...] = sample_stats(ramps.offsets)
        samples["offset"] = np.broadcast_to(ramps.offsets[:, :, None, :], shape + (mc,)).copy()
    out_tables = dict(tables)
    for name, v in corner.items():
        out_tables[name] = np.broadcast_to(v[:, :, None], shape).copy()
    return out_tables, samples


def _notes(ramps: _Ramps, R: float, reset_gap: float, vdd: float) -> list[str]:
    """The warnings of a sweep (logged, and kept in the provenance)."""
    notes: list[str] = []
    if ramps.out_of_range:
        notes.append(f"{BLOCK}: {ramps.out_of_range} offset(s) fell outside the +-{R * 1e3:g} mV ramp and are NaN: "
                     f"give a wider offset_range")
    if reset_gap > RESET_TOLERANCE or ramps.output_residual > 0.1 * vdd:
        notes.append(f"{BLOCK}: the reset half did not restore every node (outputs {reset_gap * 1e3:.1f} mV below VDD, "
                     f"decision outputs {ramps.output_residual * 1e3:.1f} mV above 0): give a longer t_clk or wider "
                     f"reset devices")
    for n in notes:
        log.warning(n)
    return notes


def _conditions(base: ComparatorParams, R: float, res: float, tau_fit_max: float, tau_fits: dict,
                out_tables: dict) -> dict:
    tl = timeline(base, 1)
    return {
        "vcm_ratio": base.vcm_ratio,
        "vcm": "vcm_ratio x VDD (input common mode; inp = vcm + dv/2, inn = vcm - dv/2)",
        "c_load": base.c_load,
        "c_load_unit": "F on each of dp, dn",
        "t_clk": base.t_clk,
        "t_edge": base.t_edge,
        "t_step": base.t_step,
        "sr_latch": base.sr_latch,
        "sizes_m": dataclasses.asdict(base.sizes),
        "decision": "+1 = dp high = v(inp) - v(inn) above the offset; -1 = dn high; 0 = unresolved at the end "
                    "of the evaluate half",
        "t_decision": "clock rising edge at 50 % to |v(dp) - v(dn)| = VDD/2",
        "evaluate_window_s": float(f"{tl.evaluate_end(0) - tl.clock_50(0):.12g}"),
        "energy": "VDD x (net supply charge + clock pull-up charge) per decision, over cycles 1..n-1 of a step deck "
                  "(repeated decision, output latch not toggling); `energy` = mean over the dv runs",
        "offset": "input-referred: the dv at which the decision turns from 0 to 1; midpoint between the last 0 and "
                  "the first 1 of a staircase ramp",
        "offset_range": R,
        "offset_resolution": res,
        "tau_fit": {"model": "t_d = t_1mV - tau ln(|dv| / 1 mV)", "max_abs_dv": tau_fit_max, "per_corner": tau_fits},
        "per_corner": [n for n in PER_CORNER + TRIM_TABLES if n in out_tables],
        "per_corner_note": "these tables do not depend on dv: they are constant along the dv axis",
        **({"trim": _trim_conditions(base, pdk_of(base).lmin)} if base.trim_bits else {}),
    }


# ---- offset trim ----------------------------------------------------------------------------------
@dataclasses.dataclass
class _Trim:
    """The extra decks of a comparator with an offset trim, and their results."""

    codes: tuple[int, ...]
    """Every code -(2^k - 1) .. 2^k - 1: its nominal offset ramp (code 0 is the offset ramp itself)."""
    mc_codes: tuple[int, ...]
    """The codes the Monte Carlo instances run (:func:`trim_codes`: 0, +-2^b, +-(2^k - 1))."""
    nominal_points: list
    nominal_where: list
    mc_points: list
    mc_where: list
    plain_points: list
    """One step deck per corner at the dv nearest 10 mV without trim devices (their energy cost)."""
    dv_index: int
    nominal: object = None
    mc: object = None
    steps: list | None = None


def _trim_plan(base: ComparatorParams, cparams: dict, dvs, R: float, res: float, n_step_cycles: int,
               pdk) -> _Trim | None:
    if not base.trim_bits:
        return None
    full = (1 << base.trim_bits) - 1
    codes = tuple(range(-full, full + 1))
    mc_codes = trim_codes(base.trim_bits)
    nom_pts, nom_where, mc_pts, mc_where = [], [], [], []
    for (i, j), p in cparams.items():
        for c in codes:
            if not c:
                continue
            point = ({"vdd": p.vdd, "temp": p.temp, "ramp": "trim", "code": c},
                     ramp_netlist(p.replace(trim_code=c), -R, R, res, pdk))
            if c in mc_codes:
                mc_pts.append(point)
                mc_where.append((i, j, c))
            else:
                nom_pts.append(point)
                nom_where.append((i, j, c))
    m = int(np.argmin(np.abs(np.asarray(dvs) - 10e-3)))
    plain = [({"vdd": p.vdd, "temp": p.temp, "dv": dvs[m], "trim": "none"},
              step_netlist(p.replace(trim_bits=0, trim_code=0, w_trim=None), dvs[m], n_step_cycles, pdk))
             for p in cparams.values()]
    return _Trim(codes, mc_codes, nom_pts, nom_where, mc_pts, mc_where, plain, m)


def _run_trim(r, trim: _Trim, draws) -> None:
    """Run the trim decks: the Monte Carlo codes with the offset ramps' instances, the others nominally."""
    trim.mc = r.run(trim.mc_points, draws, desc=f"comparator trim ramps ({len(trim.mc_codes) - 1} codes"
                                                + (", Monte Carlo)" if draws is not None else ")"))
    if trim.nominal_points:
        trim.nominal = r.run(trim.nominal_points, desc="comparator trim ramps (the other codes, nominal)")
    trim.steps = r.run(trim.plain_points, desc="comparator without trim devices").nominal


def _slopes(delta: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Least-squares slope through 0 of *delta* (..., codes) against the single-bit *codes* (NaN-aware)."""
    c = np.broadcast_to(codes, delta.shape)
    ok = np.isfinite(delta)
    num_ = np.sum(np.where(ok, delta * c, 0.0), axis=-1)
    den = np.sum(np.where(ok, c * c, 0.0), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num_ / den, np.nan)


def _measure_trim(trim: _Trim, cparams: dict, R: float, res: float, corner: dict, ramps: _Ramps, tables: dict,
                  dvs, mc: int, n_step_cycles: int) -> tuple[dict, dict]:
    """Nominal offsets at every trim code and per-instance offsets at the Monte Carlo codes (code 0 from the
    offset ramps), the per-corner trim tables (LSB step = least-squares slope over the single-bit codes, its
    spread over the instances, the energy the trim devices add per decision) into *corner*; returns the
    arrays and the checks."""
    nv, nt = corner["offset"].shape
    codes, mc_codes = list(trim.codes), list(trim.mc_codes)
    nom = np.full((nv, nt, len(codes)), np.nan)
    per = np.full((nv, nt, len(mc_codes), mc), np.nan)
    nom[:, :, codes.index(0)] = corner["offset"]
    per[:, :, mc_codes.index(0), :] = ramps.offsets
    out_of_range = 0

    def offset(run, i, j, c):
        nonlocal out_of_range
        ro = ramp_offset(run, cparams[(i, j)].replace(trim_code=c), -R, R, res)
        out_of_range += not ro.in_range
        return ro.offset

    for (i, j, c), run, mc_runs in zip(trim.mc_where, trim.mc.nominal, trim.mc.mc):
        if run is not None:
            nom[i, j, codes.index(c)] = offset(run, i, j, c)
        for s, srun in enumerate(mc_runs):
            if srun is not None:
                per[i, j, mc_codes.index(c), s] = offset(srun, i, j, c)
    if trim.nominal is not None:
        for (i, j, c), run in zip(trim.nominal_where, trim.nominal.nominal):
            if run is not None:
                nom[i, j, codes.index(c)] = offset(run, i, j, c)
    single = [c for c in mc_codes if c and (abs(c) & (abs(c) - 1)) == 0]
    i_s = [codes.index(c) for c in single]
    d_nom = nom - nom[:, :, codes.index(0)][..., None]
    corner["trim_step"] = _slopes(d_nom[..., i_s], np.asarray(single, dtype=float))
    m_s = [mc_codes.index(c) for c in single]
    d_per = per - per[:, :, mc_codes.index(0), None, :]  # (nv, nt, mc codes, samples): each instance's changes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        slopes = (_slopes(np.moveaxis(d_per[:, :, m_s, :], 3, 2), np.asarray(single, dtype=float)) if mc
                  else np.full((nv, nt, 0), np.nan))
        corner["trim_step_sigma"] = np.nanstd(slopes, axis=-1, ddof=1) if mc > 1 else np.zeros((nv, nt))
    e_trim = tables["energy_dv"][:, :, trim.dv_index]
    e_plain = np.full((nv, nt), np.nan)
    for (i, j), run in zip(cparams, trim.steps):
        if run is not None:
            e_plain[i, j] = measure_step(run, cparams[(i, j)].replace(trim_bits=0, trim_code=0, w_trim=None),
                                         n_step_cycles)["energy_dv"]
    corner["trim_energy"] = e_trim - e_plain
    # the model takes every code's nominal change as measured and adds the instance's deviation from it as the
    # sum of its bits' deviations: check that at the +-(2^k - 1) codes the instances ran
    err = []
    if mc:
        dev = d_per - d_nom[:, :, [codes.index(c) for c in mc_codes], None]
        for c in mc_codes:
            if c == 0 or c in single:
                continue
            bits = [mc_codes.index(int(np.sign(c)) * (1 << b)) for b in range(abs(c).bit_length()) if (abs(c) >> b) & 1]
            err.append(np.abs(dev[:, :, mc_codes.index(c), :] - dev[:, :, bits, :].sum(axis=2)).ravel())
    err_all = np.concatenate(err) if err else np.zeros(0)
    sup = float(np.nanmax(err_all)) if np.any(np.isfinite(err_all)) else None
    notes = []
    if out_of_range:
        notes.append(f"{BLOCK}: {out_of_range} trimmed offset(s) fell outside the +-{R * 1e3:g} mV ramp and are NaN: "
                     f"give a wider offset_range")
    arrays = {"trim_codes": np.asarray(codes, dtype=np.int64), "trim_offset": nom}
    if mc:
        arrays["trim_mc_codes"] = np.asarray(mc_codes, dtype=np.int64)
        arrays["trim_offset_mc"] = per
    checks = {"trim_superposition_max_V": None if sup is None else round(sup, 6),
              "trim_superposition_note": "per instance at +-(2^k - 1): |its offset change minus the nominal change| "
                                         "against the sum of its bits' such deviations; the ramp resolves "
                                         f"{res * 1e3:g} mV",
              "trim_offset_out_of_range": out_of_range, "notes": notes}
    return arrays, checks


def _trim_conditions(base: ComparatorParams, lmin: float) -> dict:
    return {
        "bits": base.trim_bits,
        "w_trim": base.w_trim,
        "l_trim": base.sizes.l_in,
        "lmin": lmin,
        "mc_codes": list(trim_codes(base.trim_bits)),
        "circuit": "sign-magnitude: bit b is an NMOS of width 2^b x w_trim in parallel with each input device "
                   "(drain on xp / xn, source on the tail); a positive code turns on (gate at VDD) the p-side "
                   "devices of its magnitude bits, a negative code the n-side ones; off devices have their gate "
                   "at 0 V and keep their capacitance",
        "arrays": "trim_codes (every code), trim_offset (vdd, temp, code) nominal offset [V]; trim_mc_codes (0, "
                  "+-2^b, +-(2^k - 1)) and trim_offset_mc (vdd, temp, mc code, sample) per instance, the offset "
                  "ramps' instances (sample s is the same comparator at every code). A model takes each code's "
                  "nominal change as measured and an instance's deviation from it as the sum of its bits' "
                  "deviations (checked at +-(2^k - 1): provenance checks trim_superposition_max_V)",
        "trim_step": "least-squares slope through 0 of the nominal offset change against the single-bit codes "
                     "[V per code]; trim_step_sigma: the spread of that slope over the instances",
        "trim_energy": "energy per decision with the trim devices (code 0) minus without them, at the step input "
                       "nearest 10 mV [J]",
    }


def characterize(kind: str, pdk, **common) -> LUT:
    """The registry's entry (``charz characterize comparator``); *common* as
    :attr:`charz.blocks.base.Block.recipe`."""
    return characterize_comparator(pdk, **common)


__all__ = ["characterize_comparator", "ComparatorRecipe", "measure_step", "ramp_offset", "cycle_decisions", "fit_tau", "default_ramp",
           "RECIPE"]
