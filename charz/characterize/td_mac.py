"""Characterization of the time-domain MAC's delay line (:mod:`charz.netlist.td_mac`), part 1 of the
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

LUT contract: block ``td_delay``; axes ``vdd`` [V], ``temp`` [degC] (continuous) and ``code`` (discrete);
tables ``delay``, ``delay_rise``, ``delay_fall``, ``energy``, ``inl`` and per-corner ``tau``, ``d0``
(broadcast over code); with Monte Carlo ``delay_mean``, ``delay_sigma``, samples ``delay``.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Sequence

import numpy as np

from ..errors import ParameterError
from ..lut import LUT, Axis, fit_quality_entry, provenance
from ..mc import Mismatch, draw
from ..netlist.td_mac import BLOCK, DelayLineParams, delay_devices, delay_netlist, timeline
from ..pdk import PDK, get
from ..sim.executor import Executor, owned
from .common import check_mc, integral, midpoints, mismatch_record, netlist_set, run_points, sample_stats, temp_values, vdd_values

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
    **params,
) -> LUT:
    """Delay per exponent code of the delay line over VDD x temperature (nominal + Monte Carlo)."""
    if isinstance(pdk, str):
        pdk = get(pdk)
    unknown = set(params) - set(OPTIONS)
    if unknown:
        raise ParameterError(f"unknown delay-line parameter(s) {sorted(unknown)}: use {list(OPTIONS)}")
    mc = check_mc(mc)
    vdds = vdd_values(pdk, vdd)
    temps = temp_values(27.0 if temp is None else temp)
    base = DelayLineParams(pdk=pdk.name, bits=bits, vdd=vdds[0], temp=temps[0], **params)
    codes = np.arange(base.max_code + 1)
    deck_codes = np.repeat(codes[:, None], base.lines, axis=1)
    corners = list(itertools.product(enumerate(vdds), enumerate(temps)))
    prms = {(i, j): base.replace(vdd=v, temp=t, vbn=None, vbp=None) for (i, v), (j, t) in corners}
    points = [({"vdd": p.vdd, "temp": p.temp}, delay_netlist(p, deck_codes, pdk)) for p in prms.values()]
    fit_prms = []
    if fit_check:
        fit_prms = [base.replace(vdd=round(v, 9), temp=t, vbn=None, vbp=None) for v in midpoints(vdds) for t in temps]
        fit_prms += [base.replace(vdd=v, temp=round(t, 6), vbn=None, vbp=None) for v in vdds for t in midpoints(temps)]
    draws = draw(Mismatch(pdk.avt_mv_um), delay_devices(base, pdk), mc, seed) if mc > 0 else None
    with owned(executor) as ex:
        res = run_points(points, draws, recipe=RECIPE, executor=ex, use_cache=use_cache, progress=progress,
                         desc=f"delay line {base.lines}x{bits}b", timeout=600.0, chunk=10)
        fres = (run_points([({"vdd": p.vdd, "temp": p.temp, "fit": "off-grid"}, delay_netlist(p, deck_codes, pdk))
                            for p in fit_prms], None, recipe=RECIPE, executor=ex, use_cache=use_cache,
                           progress=progress, desc="delay line fit check", timeout=600.0) if fit_prms else None)
    nv, nt, nc = len(vdds), len(temps), codes.size
    shape = (nv, nt, nc)
    tables = {k: np.full(shape, np.nan) for k in ("delay", "delay_rise", "delay_fall", "energy", "energy_dynamic",
                                                  "leakage", "inl", "tau", "d0")}
    samples = {"delay": np.full(shape + (mc,), np.nan)} if mc > 0 else {}
    for ((i, j), p), run, mc_runs in zip(prms.items(), res.nominal, res.mc):
        if run is not None:
            m = measure(run, p, nc)
            for k in ("delay", "delay_rise", "delay_fall", "energy", "energy_dynamic", "leakage"):
                tables[k][i, j] = m[k]
            tau, d0, inl = line_fit(codes, m["delay"])
            tables["tau"][i, j], tables["d0"][i, j], tables["inl"][i, j] = tau, d0, inl
        for s, r in enumerate(mc_runs):
            if r is not None:
                samples["delay"][i, j, :, s] = measure(r, p, nc)["delay"]
    units = dict(UNITS)
    if mc > 0:
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
    prov = provenance(
        generator="charz.netlist.td_mac.delay_netlist + charz.characterize.td_mac.characterize_delay",
        params=gp, netlist_sha256=[nl.sha256 for _, nl in points][:1], pdk_prov=pdk.provenance(),
        ngspice=res.ngspice, mc_samples=mc, seed=seed if mc > 0 else None,
        extra={"recipe": RECIPE, **netlist_set(nl.sha256 for _, nl in points),
               "mismatch": mismatch_record(pdk, draws), "failed_points": [f.message() for f in res.failures],
               "analysis_seconds": round(res.analysis_seconds() + (fres.analysis_seconds() if fres else 0.0), 3)},
    )
    conditions = {"bits": bits, "lines": base.lines, "per_corner": ["tau", "d0"],
                  "delay": "50 % input to 50 % output, mean of the rising and falling edge",
                  "energy": "VDD x supply charge per cycle (one rising + one falling edge through the line), "
                            "including leakage over the testbench period cycle_s",
                  "energy_dynamic": "energy minus leakage x cycle_s (leakage: supply power in a quiet window)",
                  "cycle_s": timeline(base, 1).period,
                  "inl": "deviation from the straight-line fit of delay vs code, in units of its slope tau"}
    lut = LUT(block=BLOCK, axes=axes, tables=tables, units=units, samples=samples, conditions=conditions,
              provenance=prov, arrays=draws.arrays() if draws is not None else {})
    if fres is not None:
        pred, sim, where = [], [], []
        for p, run in zip(fit_prms, fres.nominal):
            if run is None:
                continue
            m = measure(run, p, nc)
            pv = lut.slice("delay", vdd=p.vdd, temp=p.temp)
            ok = np.isfinite(pv) & np.isfinite(m["delay"])
            pred += list(pv[ok])
            sim += list(m["delay"][ok])
            where.append({"vdd": p.vdd, "temp": p.temp, "codes": int(nc)})
        if where:
            lut.fit_quality = {"delay": fit_quality_entry(pred, sim, "s", where)}
    return lut


__all__ = ["characterize_delay", "measure", "line_fit", "RECIPE"]


# ---- time comparison measurements ----------------------------------------------------------------------
def arbiter_decisions(run: dict, prm, dts) -> tuple[np.ndarray, np.ndarray]:
    """Winner per cycle (+1 = a first: g_a rose, -1 = b first, 0 = unresolved within the half cycle) and
    the decision time (s) from the earlier input edge to the winner's output crossing VDD/2 (it grows as
    the edges come closer: the mutex's metastability)."""
    t = np.asarray(run["time"], dtype=float)
    ga, gb = np.asarray(run["v(ga)"], dtype=float), np.asarray(run["v(gb)"], dtype=float)
    h = prm.vdd / 2
    n = len(dts)
    win, td = np.zeros(n), np.full(n, np.nan)
    for c, dt in enumerate(dts):
        t0 = c * prm.t_cycle
        ta = t0 + 0.25 * prm.t_cycle
        first = ta + min(dt, 0.0)
        end = t0 + 0.7 * prm.t_cycle
        xa = _cross(t, ga, t0 + 0.1 * prm.t_cycle, end, h, True)
        xb = _cross(t, gb, t0 + 0.1 * prm.t_cycle, end, h, True)
        if np.isfinite(xa) and (not np.isfinite(xb) or xa < xb):
            win[c], td[c] = 1.0, xa - first
        elif np.isfinite(xb):
            win[c], td[c] = -1.0, xb - first
    return win, td


def latest_delays(run: dict, prm, arrivals) -> np.ndarray:
    """Per cycle: output rise (50 %) minus the latest input's 50 % time (s)."""
    t = np.asarray(run["time"], dtype=float)
    vo = np.asarray(run["v(out)"], dtype=float)
    a = np.asarray(arrivals, dtype=float)
    out = np.full(a.shape[0], np.nan)
    for c in range(a.shape[0]):
        t0 = c * prm.t_cycle
        out[c] = _cross(t, vo, t0 + 0.05 * prm.t_cycle, t0 + 0.7 * prm.t_cycle, prm.vdd / 2, True) - (t0 + a[c].max())
    return out


def tdc_codes(run: dict, prm: DelayLineParams, taps: int, n: int) -> np.ndarray:
    """The thermometer code of every conversion: the number of taps read as 1 just before the next STOP
    (a bubble counts as the ones it has)."""
    from ..netlist.td_mac import tdc_period

    t = np.asarray(run["time"], dtype=float)
    period = tdc_period(prm, taps)
    codes = np.zeros(n)
    for c in range(n):
        at = (c + 1) * period - 1e-12  # end of the cycle: every flip-flop holds this conversion's bit
        codes[c] = sum(float(np.interp(at, t, np.asarray(run[f"v(q_{i})"], dtype=float))) > prm.vdd / 2
                       for i in range(taps))
    return codes
