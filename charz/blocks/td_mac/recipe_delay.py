"""Characterization of the time-domain MAC's delay line (:mod:`charz.blocks.td_mac.netlist`), part 1 of the
time-domain floating-point MAC.

One deck per (VDD, temperature) holds one cycle per code (0 .. 2^bits - 1, one line; for several lines
in series the codes of every line are equal unless given). Measurements per cycle (NumPy on the saved
vectors, 50 % to 50 % with linear interpolation between time points):

- ``delay_rise``, ``delay_fall`` [s]: input edge to output edge; ``delay`` = their mean;
- ``energy`` [J]: VDD x net supply charge over the cycle (one rising and one falling edge through the
  line, the starve biases ideal). In this topology both paths of every stage toggle whatever the code
  (the mux only selects), so the energy hardly depends on the code: gating the unused path is not modelled;
  ``leakage`` [W] (supply power in a quiet window before the cycle) and ``energy_dynamic`` = energy -
  leakage x period separate what the testbench period adds.

Per corner: a straight-line fit of ``delay`` vs code gives the unit delay ``tau`` (slope) and ``d0``
(intercept); ``inl`` [LSB] is the deviation from that line in units of tau. With Monte Carlo, every
instance gets its own curve (samples), ``delay_sigma`` per code and the per-instance tau spread.

Bias trim (``bias_trim`` = ratios r, ``--bias-trim``): every corner's deck runs again with both starve biases
moved together (vbn = r VDD, vbp = (1 - r) VDD; the default is r = 0.85), nominally and for the same Monte Carlo
instances, so each instance's delay curve is known at every bias: what a per-line bias trim (a DLL-like
calibration, :mod:`charz.blocks.td_mac.model_trim`) can do with it. Arrays ``trim_ratio``, ``trim_delay``
(vdd, temp, ratio, code), ``trim_energy`` and ``trim_delay_mc`` (vdd, temp, ratio, code, sample).

LUT contract: block ``td_delay``; axes ``vdd`` [V], ``temp`` [degC] (continuous) and ``code`` (discrete);
tables ``delay``, ``delay_rise``, ``delay_fall``, ``energy``, ``inl`` and per-corner ``tau``, ``d0``
(broadcast over code); with Monte Carlo ``delay_mean``, ``delay_sigma``, samples ``delay``.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Sequence

import numpy as np

from ...core.errors import ParameterError
from ...core.validate import finite, round12 as _r12
from ...core.lut import LUT, Axis, Kind, fit_quality_entry
from .netlist import DelayLineParams, delay_devices, delay_netlist, timeline
from ...core.pdk import PDK
from ...sim.executor import Executor
from ...characterize.common import integral, midpoints, sample_stats
from ...characterize.recipe import Recipe

RECIPE = "td_delay/1"
UNITS = {"delay": "s", "delay_rise": "s", "delay_fall": "s", "energy": "J", "energy_dynamic": "J", "leakage": "W",
         "inl": "LSB", "tau": "s", "d0": "s"}
OPTIONS = ("lines", "vbn", "vbp", "w_n", "w_p", "l_starve", "w_tg", "c_load", "t_edge", "t_high", "t_step")


def _cross(t: np.ndarray, v: np.ndarray, a: float, b: float, level: float, up: bool) -> float:
    m = np.flatnonzero((t > a) & (t < b))
    if m.size < 2:
        return float("nan")
    tt, vv = t[m], v[m]
    hit = np.flatnonzero(vv > level) if up else np.flatnonzero(vv < level)
    if hit.size == 0 or hit[0] == 0:
        return float("nan")
    i = hit[0]
    return float(tt[i - 1] + (level - vv[i - 1]) * (tt[i] - tt[i - 1]) / (vv[i] - vv[i - 1]))


def measure(run: dict, prm: DelayLineParams, n: int) -> dict[str, np.ndarray]:
    """Per-cycle rise / fall delays and energy of one delay deck."""
    t = np.asarray(run["time"], dtype=float)
    vi, vo = np.asarray(run["v(in)"], dtype=float), np.asarray(run["v(out)"], dtype=float)
    idd = np.asarray(run["i(vdd)"], dtype=float)
    tl = timeline(prm, n)
    h = prm.vdd / 2
    out = {k: np.full(n, np.nan) for k in ("delay_rise", "delay_fall", "energy", "leakage")}
    for c in range(n):
        r, f = tl.rise[c], tl.fall[c]
        nxt = r + tl.period
        out["delay_rise"][c] = _cross(t, vo, r, f, h, True) - _cross(t, vi, r - 1e-13, f, h, True)
        quarter = 0.25 * (f - r)  # the next cycle's codes change a quarter of the high time before its rise
        out["delay_fall"][c] = (_cross(t, vo, f, nxt - quarter, h, False) - _cross(t, vi, f - 1e-13, nxt, h, False))
        out["energy"][c] = -integral(t, idd, r - quarter, r - quarter + tl.period) * prm.vdd
        quiet = (r - 2 * quarter, r - quarter - prm.t_edge)  # static: before this cycle's codes change
        out["leakage"][c] = -integral(t, idd, *quiet) / (quiet[1] - quiet[0]) * prm.vdd
    out["delay"] = (out["delay_rise"] + out["delay_fall"]) / 2
    out["energy_dynamic"] = out["energy"] - out["leakage"] * tl.period
    return out


def line_fit(codes: np.ndarray, delay: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(tau, d0, inl in LSB) of a straight-line fit of delay vs code (NaN-safe)."""
    ok = np.isfinite(delay)
    if ok.sum() < 2:
        return float("nan"), float("nan"), np.full(delay.shape, np.nan)
    tau, d0 = np.polyfit(codes[ok], delay[ok], 1)
    return float(tau), float(d0), (delay - (d0 + tau * codes)) / tau


class DelayRecipe(Recipe):
    """The delay line's recipe: one deck per corner over every code, nominal + Monte Carlo, and the off-grid
    fit check."""

    kind = Kind.TD_DELAY
    version = RECIPE
    generator = "charz.blocks.td_mac.netlist.delay_netlist + charz.blocks.td_mac.recipe_delay.characterize_delay"


def characterize_delay(
    pdk: PDK | str,
    bits: int = 4,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    fit_check: bool = True,
    bias_trim: Sequence[float] | None = None,
    **params,
) -> LUT:
    """Delay per exponent code of the delay line over VDD x temperature (nominal + Monte Carlo). *bias_trim*:
    starve-bias ratios r (vbn = r VDD, vbp = (1 - r) VDD) at which every corner's deck also runs, nominal and
    for the same Monte Carlo instances (the module doc, "Bias trim")."""
    r = DelayRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                    fit_check=fit_check)
    unknown = set(params) - set(OPTIONS)
    if unknown:
        raise ParameterError(f"unknown delay-line parameter(s) {sorted(unknown)}: use {list(OPTIONS)}")
    ratios = _bias_ratios(bias_trim, params)
    vdds, temps = r.vdds(vdd), r.temps(temp)
    base = DelayLineParams(pdk=r.pdk.name, bits=bits, vdd=vdds[0], temp=temps[0], **params)
    codes = np.arange(base.max_code + 1)
    deck_codes = np.repeat(codes[:, None], base.lines, axis=1)
    corners = list(itertools.product(enumerate(vdds), enumerate(temps)))
    prms = {(i, j): base.replace(vdd=v, temp=t, vbn=None, vbp=None) for (i, v), (j, t) in corners}
    points = [({"vdd": p.vdd, "temp": p.temp}, delay_netlist(p, deck_codes, r.pdk)) for p in prms.values()]
    fit_prms = []
    if fit_check:
        fit_prms = [base.replace(vdd=round(v, 9), temp=t, vbn=None, vbp=None) for v in midpoints(vdds) for t in temps]
        fit_prms += [base.replace(vdd=v, temp=round(t, 6), vbn=None, vbp=None) for v in vdds for t in midpoints(temps)]
    draws = r.draws(delay_devices(base, r.pdk))
    trim_prms = [base.replace(vdd=v, temp=t, vbn=_r12(q * v), vbp=_r12((1 - q) * v))
                 for (_, v), (_, t) in corners for q in ratios]
    with r:
        res = r.run(points, draws, desc=f"delay line {base.lines}x{bits}b", timeout=600.0, chunk=10)
        tres = (r.run([({"vdd": p.vdd, "temp": p.temp, "bias_ratio": round(p.vbn / p.vdd, 9)},
                        delay_netlist(p, deck_codes, r.pdk)) for p in trim_prms], draws,
                      desc="delay line bias trim", timeout=600.0, chunk=10) if ratios else None)
        fres = (r.run([({"vdd": p.vdd, "temp": p.temp, "fit": "off-grid"}, delay_netlist(p, deck_codes, r.pdk))
                       for p in fit_prms], desc="delay line fit check", timeout=600.0, fit=True) if fit_prms else None)
    nc = codes.size
    shape = (len(vdds), len(temps), nc)
    tables = {k: np.full(shape, np.nan) for k in ("delay", "delay_rise", "delay_fall", "energy", "energy_dynamic",
                                                  "leakage", "inl", "tau", "d0")}
    samples = {"delay": np.full(shape + (r.mc,), np.nan)} if r.mc > 0 else {}
    for ((i, j), p), run, mc_runs in zip(prms.items(), res.nominal, res.mc):
        if run is not None:
            m = measure(run, p, nc)
            for k in ("delay", "delay_rise", "delay_fall", "energy", "energy_dynamic", "leakage"):
                tables[k][i, j] = m[k]
            tau, d0, inl = line_fit(codes, m["delay"])
            tables["tau"][i, j], tables["d0"][i, j], tables["inl"][i, j] = tau, d0, inl
        for s, run_s in enumerate(mc_runs):
            if run_s is not None:
                samples["delay"][i, j, :, s] = measure(run_s, p, nc)["delay"]
    units = dict(UNITS)
    if r.mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tables["delay_mean"], tables["delay_sigma"] = sample_stats(samples["delay"])
        units.update(delay_mean="s", delay_sigma="s")
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("code", "LSB", codes.astype(float), discrete=True))
    gp = base.as_dict()
    for k in ("vdd", "temp", "vbn", "vbp"):
        gp.pop(k)
    gp.update(vdd_grid=vdds, temp_grid=temps, vbn="0.85 VDD", vbp="0.15 VDD")
    prov = r.provenance(gp, [nl.sha256 for _, nl in points][:1], draws=draws)
    conditions = {"bits": bits, "lines": base.lines, "per_corner": ["tau", "d0"],
                  "delay": "50 % input to 50 % output, mean of the rising and falling edge",
                  "energy": "VDD x supply charge per cycle (one rising + one falling edge through the line), "
                            "including leakage over the testbench period cycle_s",
                  "energy_dynamic": "energy minus leakage x cycle_s (leakage: supply power in a quiet window)",
                  "cycle_s": timeline(base, 1).period,
                  "inl": "deviation from the straight-line fit of delay vs code, in units of its slope tau"}
    arrays = draws.arrays() if draws is not None else {}
    if ratios:
        arrays.update(_trim_arrays(tres, trim_prms, ratios, shape, r.mc))
        conditions["bias_trim"] = {
            "ratios": list(ratios), "bias": "vbn = ratio x VDD, vbp = (1 - ratio) x VDD (both starve devices)",
            "arrays": "trim_ratio (ratios); trim_delay (vdd, temp, ratio, code) nominal [s]; trim_energy (vdd, temp, "
                      "ratio, code) [J]; trim_delay_mc (vdd, temp, ratio, code, sample) [s]: sample s is the same "
                      "line (the same Monte Carlo draw) at every ratio and in the main tables",
            "default_ratio": 0.85}
        prov["parameters"]["bias_trim"] = list(ratios)
    lut = LUT(block=Kind.TD_DELAY, axes=axes, tables=tables, units=units, samples=samples, conditions=conditions,
              provenance=prov, arrays=arrays)
    if fres is not None:
        lut.fit_quality = _delay_fit(lut, fit_prms, fres.nominal, nc)
    return lut


def _bias_ratios(bias_trim, params: dict) -> tuple[float, ...]:
    """The checked bias-trim ratios (sorted, distinct, each in [0.5, 1]); empty without a trim."""
    if bias_trim is None:
        return ()
    if params.get("vbn") is not None or params.get("vbp") is not None:
        raise ParameterError("bias_trim sets vbn / vbp itself: leave vbn and vbp out")
    vals = [finite(x, "bias_trim ratio") for x in np.atleast_1d(np.asarray(bias_trim, dtype=float))]
    if len(vals) < 2 or any(not 0.5 <= x <= 1.0 for x in vals) or len(set(vals)) != len(vals):
        raise ParameterError(f"bias_trim {vals}: give at least two distinct starve-bias ratios in [0.5, 1] "
                             f"(vbn = ratio x VDD), e.g. 0.75,0.8,0.85,0.9,0.95")
    return tuple(sorted(vals))


def _trim_arrays(tres, prms: list, ratios: tuple, shape: tuple, mc: int) -> dict:
    """The bias-trim arrays of the LUT from the trim decks' results (corners x ratios, in order)."""
    nv, nt, nc = shape
    nr = len(ratios)
    delay = np.full((nv, nt, nr, nc), np.nan)
    energy = np.full((nv, nt, nr, nc), np.nan)
    dmc = np.full((nv, nt, nr, nc, mc), np.nan)
    for k, (p, run, mc_runs) in enumerate(zip(prms, tres.nominal, tres.mc)):
        i, rest = divmod(k, nt * nr)
        j, q = divmod(rest, nr)
        if run is not None:
            m = measure(run, p, nc)
            delay[i, j, q], energy[i, j, q] = m["delay"], m["energy"]
        for s, run_s in enumerate(mc_runs):
            if run_s is not None:
                dmc[i, j, q, :, s] = measure(run_s, p, nc)["delay"]
    out = {"trim_ratio": np.asarray(ratios), "trim_delay": delay, "trim_energy": energy}
    if mc:
        out["trim_delay_mc"] = dmc
    return out


def _delay_fit(lut: LUT, fit_prms: list[DelayLineParams], runs: list[dict | None], nc: int) -> dict:
    """The fit check of the delay line: every code's delay at each off-grid corner in SPICE against the LUT's
    interpolation (codes whose prediction or measurement is not finite are left out; one ``where`` entry per
    corner). Not :meth:`Recipe.fit_quality`, whose cases are single values and whose ``where`` lists each."""
    pred, sim, where = [], [], []
    for p, run in zip(fit_prms, runs):
        if run is None:
            continue
        m = measure(run, p, nc)
        pv = lut.slice("delay", vdd=p.vdd, temp=p.temp)
        ok = np.isfinite(pv) & np.isfinite(m["delay"])
        pred += list(pv[ok])
        sim += list(m["delay"][ok])
        where.append({"vdd": p.vdd, "temp": p.temp, "codes": int(nc)})
    return {"delay": fit_quality_entry(pred, sim, "s", where)} if where else {}


__all__ = ["characterize_delay", "DelayRecipe", "measure", "line_fit", "RECIPE"]
