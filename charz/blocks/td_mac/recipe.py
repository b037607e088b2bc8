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

LUT contract: block ``td_delay``; axes ``vdd`` [V], ``temp`` [degC] (continuous) and ``code`` (discrete);
tables ``delay``, ``delay_rise``, ``delay_fall``, ``energy``, ``inl`` and per-corner ``tau``, ``d0``
(broadcast over code); with Monte Carlo ``delay_mean``, ``delay_sigma``, samples ``delay``.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from typing import Sequence

import numpy as np

from ...core.errors import ParameterError
from ...core.validate import finite
from ...core.lut import LUT, Axis, Kind, fit_quality_entry
from ...core.mc import Draws
from .netlist import DelayLineParams, delay_devices, delay_netlist, tdc_chain_netlist, tdc_netlist, timeline
from ...core.pdk import PDK
from ...sim.executor import Executor
from ...characterize.common import PointResults, integral, midpoints, sample_stats
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
    generator = "charz.blocks.td_mac.netlist.delay_netlist + charz.blocks.td_mac.recipe.characterize_delay"


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
    r = DelayRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                    fit_check=fit_check)
    unknown = set(params) - set(OPTIONS)
    if unknown:
        raise ParameterError(f"unknown delay-line parameter(s) {sorted(unknown)}: use {list(OPTIONS)}")
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
    with r:
        res = r.run(points, draws, desc=f"delay line {base.lines}x{bits}b", timeout=600.0, chunk=10)
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
    lut = LUT(block=Kind.TD_DELAY, axes=axes, tables=tables, units=units, samples=samples, conditions=conditions,
              provenance=prov, arrays=draws.arrays() if draws is not None else {})
    if fres is not None:
        lut.fit_quality = _delay_fit(lut, fit_prms, fres.nominal, nc)
    return lut


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


def characterize(kind: str, pdk, *, bits=None, length=None, window=None, **common) -> LUT:
    """The registry's entry (``charz characterize td_delay|td_tdc|td_acc|td_arbiter``): *bits* exponent bits
    per line (td_delay, td_tdc; None = 4), *length* FP8 pairs per scalar product (td_tdc, td_acc; None = 16),
    *window* element-TDC taps (td_tdc; None = 8); *common* as :attr:`charz.blocks.base.Block.recipe`
    (td_tdc, td_acc and td_arbiter have no off-grid fit check; td_acc has no Monte Carlo)."""
    extra = {k: v for k, v in (("length", length), ("window", window)) if v is not None}
    if kind == Kind.TD_DELAY:
        return characterize_delay(pdk, **({"bits": bits} if bits is not None else {}), **common)
    common.pop("fit_check", None)
    if kind == Kind.TD_TDC:
        return characterize_tdc(pdk, **({"ebits": bits} if bits is not None else {}), **extra, **common)
    if kind == Kind.TD_ACC:
        if common.pop("mc", 0):
            raise ParameterError("td_acc has no Monte Carlo: transistor mismatch barely moves a capacitor line and "
                                 "capacitor mismatch is applied by the behavioural model (an assumption in the LUT)")
        common.pop("seed", None)
        return characterize_acc(pdk, **extra, **common)
    return characterize_arbiter(pdk, **common)


__all__ = ["characterize_delay", "characterize_tdc", "characterize_acc", "characterize_arbiter", "DelayRecipe", "TdcRecipe",
           "AccRecipe", "ArbiterRecipe", "measure", "line_fit", "RECIPE"]


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
    from .netlist import tdc_period

    t = np.asarray(run["time"], dtype=float)
    period = tdc_period(prm, taps)
    codes = np.zeros(n)
    for c in range(n):
        at = (c + 1) * period - 1e-12  # end of the cycle: every flip-flop holds this conversion's bit
        codes[c] = sum(float(np.interp(at, t, np.asarray(run[f"v(q_{i})"], dtype=float))) > prm.vdd / 2
                       for i in range(taps))
    return codes


# ---- the TDC of the exponent differences ---------------------------------------------------------------
TDC_RECIPE = "td_tdc/1"
SWEEP_MC = 2
"""Monte Carlo instances that also run the full transfer sweep (the fit check of the threshold model)."""
TDC_BIAS_FRACTIONS = (0.85, 0.925, 1.0)
"""NMOS starve bias of the TDC cells tried by the calibration, as fractions of VDD (PMOS: VDD - vbn)."""


def chain_tap_times(run: dict, prm: DelayLineParams, taps: int) -> np.ndarray:
    """Tap arrival times (50 %, at the flip-flop inputs) after the START edge of a chain deck [s]."""
    t = np.asarray(run["time"], dtype=float)
    t0 = _cross(t, np.asarray(run["v(start)"], dtype=float), 0.0, t[-1], prm.vdd / 2, True)
    return np.array([_cross(t, np.asarray(run[f"v(td_{i})"], dtype=float), 0.0, t[-1], prm.vdd / 2, True) - t0
                     for i in range(taps)])


def sweep_tap_times(run: dict, prm: DelayLineParams, taps: int, n: int) -> np.ndarray:
    """Median tap arrival times after each conversion's START edge in a ``tdc_netlist`` deck [s]."""
    from .netlist import tdc_period

    t = np.asarray(run["time"], dtype=float)
    period = tdc_period(prm, taps)
    th = period / 2
    vs = np.asarray(run["v(start)"], dtype=float)
    out = np.full((n, taps), np.nan)
    for c in range(n):
        a = c * period
        t0 = _cross(t, vs, a, a + th, prm.vdd / 2, True)
        for i in range(taps):
            out[c, i] = _cross(t, np.asarray(run[f"v(td_{i})"], dtype=float), a, a + th * 1.2, prm.vdd / 2, True) - t0
    return np.nanmedian(out, axis=0)


def tdc_energy(run: dict, prm: DelayLineParams, taps: int, n: int) -> tuple[float, float]:
    """Mean energy per conversion [J]: (VDD x supply charge plus what the ideal clock sources deliver to
    the flip-flops' clock inputs, the supply part alone), per cycle."""
    from .netlist import tdc_period

    t = np.asarray(run["time"], dtype=float)
    period = tdc_period(prm, taps)
    e_vdd = -integral(t, np.asarray(run["i(vdd)"], dtype=float), 0.0, n * period) * prm.vdd
    clk = np.asarray(run["v(clk)"], dtype=float)
    p_clk = -clk * np.asarray(run["i(vclk)"], dtype=float) - (prm.vdd - clk) * np.asarray(run["i(vclkb)"], dtype=float)
    return (e_vdd + integral(t, p_clk, 0.0, n * period)) / n, e_vdd / n


def stop_delays(run: dict, lp: DelayLineParams, arrivals: np.ndarray, start: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per cycle: the STOP clock's 50 % rise minus the latest input's 50 % time, and the start cells'
    delay (their output *start* minus input 0's 50 % time; NaN without *start*) [s]."""
    t = np.asarray(run["time"], dtype=float)
    vc = np.asarray(run["v(clk)"], dtype=float)
    t_cycle = 2 * lp.t_high
    win = [(c * t_cycle + 0.05 * t_cycle, c * t_cycle + 0.7 * t_cycle) for c in range(arrivals.shape[0])]
    stop = np.array([_cross(t, vc, a, b, lp.vdd / 2, True) - (c * t_cycle + arrivals[c].max())
                     for c, (a, b) in enumerate(win)])
    if start is None:
        return stop, np.full(stop.shape, np.nan)
    vs = np.asarray(run[f"v({start})"], dtype=float)
    st = np.array([_cross(t, vs, a, b, lp.vdd / 2, True) - (c * t_cycle + arrivals[c, 0]) for c, (a, b) in enumerate(win)])
    return stop, st


class TdcRecipe(Recipe):
    """The exponent-difference TDC's recipe: calibration, transfer sweep, chain instances, shared-scale chain,
    flip-flop offset and STOP path decks (:func:`characterize_tdc`)."""

    kind = Kind.TD_TDC
    version = TDC_RECIPE
    generator = ("charz.blocks.td_mac.netlist.tdc_netlist / tdc_chain_netlist / stop_netlist + "
                 "charz.blocks.td_mac.recipe.characterize_tdc")


TDC_TIMEOUT = 900.0
"""Limit of one TDC run (s)."""
Corner = tuple[int, int]
"""(VDD index, temperature index) of a corner."""


def characterize_tdc(
    pdk: PDK | str,
    length: int = 16,
    window: int = 8,
    ebits: int = 4,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    start_cells: int = 1,
) -> LUT:
    """The exponent-difference TDC of an L-element engine over VDD x temperature, in four steps per corner:

    1. the line's unit delay tau (a ``ebits``-bit line over every code, straight-line fit);
    2. bias calibration: one START edge down the chain at three TDC starve biases; the bias at which the
       mean interior tap delay (the last tap, unloaded, excluded) equals tau is interpolated (what a
       delay-locked loop would settle to);
    3. transfer curve at that bias: STOP swept from 0 to (window + 1) tau in tau/3 steps (one conversion
       each), nominal and the first :data:`SWEEP_MC` Monte Carlo instances; the tap arrival times at the
       flip-flop inputs are measured in the same runs. Every Monte Carlo instance's tap delays come from
       one START edge down its own chain (the same devices and draws), and its thresholds are the nominal
       ones moved by its chain's deviation;
    4. the flip-flop's sampling offset ``s_ff`` (nominal): STOP swept in 1 ps steps around tap 3; the
       threshold of tap k is its arrival time + s_ff (so every Monte Carlo instance has its own
       thresholds), and the sweep's codes check that model (``fit_quality["codes"]``);
    plus the STOP path (latest-of-L detector + clock driver loaded by every flip-flop of the engine):
    ``stop_delay`` from the last arrival to STOP, and ``start_delay`` of the ``start_cells`` between an
    element's arrival and its TDC. In the engine, element i's TDC reads
    #{k : threshold_k < (t_max - t_i) + stop_delay - start_delay}.
    """
    from .netlist import MacTimeParams

    r = TdcRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress, fit_check=False)
    vdds, temps = r.vdds(vdd), r.temps(temp)
    corners = list(itertools.product(enumerate(vdds), enumerate(temps)))
    MacTimeParams(pdk=r.pdk.name, ebits=ebits, length=length, window=window)  # validates
    line = {(i, j): DelayLineParams(pdk=r.pdk.name, bits=ebits, vdd=v, temp=t) for (i, v), (j, t) in corners}
    with r:
        tau, vbn_t, notes = _tdc_calibrate(r, line, ebits, window)
        tr = _tdc_transfer(r, line, tau, vbn_t, window, ebits)
        off = _tdc_offset_stop(r, line, tr, vbn_t, length, window, ebits, start_cells)
    shape = (len(vdds), len(temps), window)
    samples = {"threshold": np.full(shape + (r.mc,), np.nan)} if r.mc > 0 else {}
    tables, sweep_dt, sweep_code, agree = _tdc_tables(tr, tau, vbn_t, off, shape, window, r.mc, notes)
    if r.mc > 0:
        for k in tr.prm:
            i, j = k
            t0 = tables["threshold"][i, j]
            for s_, cm in enumerate(tr.chain_mc.get(k, [])):
                if cm is not None and k in tr.chain_nom:
                    samples["threshold"][i, j, :, s_] = t0 + cm - tr.chain_nom[k]
    scale_thr, scale_mc = _scale_thresholds(tr, off.s_ff, shape[:2], r.mc)
    units = {"threshold": "s", "tap_delay": "s", "lsb": "s", "tau": "s", "vbn_t": "V", "s_ff": "s", "stop_delay": "s",
             "stop_energy": "J", "energy_supply": "J", "start_delay": "s", "start_vbn": "V",
             "energy": "J", "dnl": "LSB", "inl": "LSB"}
    if r.mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tables["threshold_mean"], tables["threshold_sigma"] = sample_stats(samples["threshold"])
        units.update(threshold_mean="s", threshold_sigma="s")
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("tap", "code", np.arange(1, window + 1, dtype=float), discrete=True))
    prov = r.provenance(
        {"length": length, "window": window, "ebits": ebits, "vdd_grid": vdds, "temp_grid": temps,
         "bias_fractions": list(TDC_BIAS_FRACTIONS), "line": "DelayLineParams defaults"},
        [nl.sha256 for _, nl in tr.sweep.points][:1], draws=tr.draws, notes=notes)
    lut = LUT(block=Kind.TD_TDC, axes=axes, tables=tables, units=units, samples=samples,
              conditions=_tdc_conditions(length, window, ebits, start_cells, tr.ks), provenance=prov,
              arrays={**(tr.draws.arrays() if tr.draws is not None else {}), "sweep_dt": sweep_dt,
                      "sweep_code": sweep_code, "scale_threshold": scale_thr, "scale_threshold_mc": scale_mc})
    if agree:
        lut.fit_quality = {"codes": {"agreement": float(np.mean(agree)), "exact": float(np.mean(agree)),
                                     "min": float(np.min(agree)), "runs": len(agree),
                                     "points": int(np.isfinite(sweep_code).sum()), "unit": "codes",
                                     "what": "fraction of the transfer sweep's conversions whose simulated code equals "
                                             "#{thresholds (tap arrival + s_ff) < STOP - START}"}}
    return lut


def _tdc_calibrate(r: TdcRecipe, line: dict[Corner, DelayLineParams], ebits: int, window: int
                   ) -> tuple[dict[Corner, float], dict[Corner, float], list[str]]:
    """Steps 1 and 2 of :func:`characterize_tdc`: the line's unit delay tau per corner and the TDC starve bias
    (NMOS, V) whose mean interior tap delay equals it (corners where either failed are left out), plus a note
    per corner whose bias range cannot reach tau (the bias is clipped)."""
    codes = np.arange(1 << ebits)
    pts, keys = [], []
    for key, lp in line.items():
        pts.append(({"vdd": lp.vdd, "temp": lp.temp, "step": "tau"}, delay_netlist(lp, codes[:, None], r.pdk)))
        keys.append((key, "tau", None))
        for f in TDC_BIAS_FRACTIONS:
            cp = lp.replace(vbn=round(f * lp.vdd, 9), vbp=round((1 - f) * lp.vdd, 9))
            pts.append(({"vdd": lp.vdd, "temp": lp.temp, "step": "bias", "f": f}, tdc_chain_netlist(cp, window, r.pdk)))
            keys.append((key, "bias", f))
    res = r.run(pts, desc="TDC calibration", timeout=TDC_TIMEOUT)
    tau, taps_at = {}, {}
    for (key, step, f), run in zip(keys, res.nominal):
        lp = line[key]
        if run is None:
            continue
        if step == "tau":
            tau[key] = line_fit(codes.astype(float), measure(run, lp, codes.size)["delay"])[0]
        else:
            # interior taps only: the last tap drives no next cell (fast), the first is driven by START
            taps_at.setdefault(key, {})[f] = float(np.mean(np.diff(chain_tap_times(run, lp, window))[:-1]))
    vbn_t, notes = {}, []
    for key, lp in line.items():
        tb = taps_at.get(key, {})
        if key not in tau or len(tb) < 2:
            continue
        fs = np.array(sorted(tb))
        dl = np.array([tb[f] for f in fs])  # falls as the bias rises
        f = float(np.interp(tau[key], dl[::-1], fs[::-1]))
        if not dl.min() <= tau[key] <= dl.max():
            notes.append(f"vdd={lp.vdd:g} temp={lp.temp:g}: tap delay {dl.min() * 1e12:.1f}..{dl.max() * 1e12:.1f} ps "
                         f"cannot reach tau {tau[key] * 1e12:.1f} ps; bias clipped to {f:.3f} VDD")
        vbn_t[key] = round(f * lp.vdd, 6)
    return tau, vbn_t, notes


@dataclasses.dataclass
class _TdcTransfer:
    """Step 3 of :func:`characterize_tdc`: the calibrated corners' parameters, their STOP - START sweeps, the
    runs (transfer sweep, chain instances, shared-scale chain) and what they gave."""

    prm: dict
    """Corner -> the line parameters at the calibrated bias (calibrated corners only)."""
    dts: dict
    """Corner -> the STOP - START times of the transfer sweep [s]."""
    ks: int
    """Taps of the shared-scale TDC (every exponent sum)."""
    draws: Draws | None
    """The chain instances' draws (the Monte Carlo of the LUT), or None."""
    sweep: PointResults
    """The transfer sweep's :class:`PointResults` (nominal + the first :data:`SWEEP_MC` instances)."""
    scale: PointResults
    """The shared-scale chain's :class:`PointResults` (own draws, seed + 1)."""
    tap_nom: dict
    """Corner -> the nominal tap arrival times of the sweep [s]."""
    chain_nom: dict
    """Corner -> the nominal chain's tap times [s]."""
    chain_mc: dict
    """Corner -> every instance's chain tap times [s] (None where the run failed)."""


def _tdc_transfer(r: TdcRecipe, line: dict, tau: dict, vbn_t: dict, window: int, ebits: int) -> _TdcTransfer:
    """Step 3 of :func:`characterize_tdc` (and 3b, the shared-scale TDC's chain), inside ``with r``."""
    # the sweep reaches (window + 1) tau: the high time must hold it (0.8 t_high) at every VDD
    tprm = {k: line[k].replace(vbn=v, vbp=round(line[k].vdd - v, 6),
                               t_high=max(1e-9, round(1.25 * (window + 1) * tau[k] + 2 * tau[k], 11)))
            for k, v in vbn_t.items()}
    dts = {k: [round(x, 15) for x in np.arange(0.0, (window + 1) * tau[k], tau[k] / 3)] for k in tprm}
    # Monte Carlo: every instance's tap delays from one START edge down its chain (cheap); the same
    # instances (same devices, same seed) run the transfer sweep too, the first SWEEP_MC of them
    first = next(iter(tprm.values()), None)
    draws = r.draws(tdc_chain_netlist(first, window, r.pdk).devices) if first is not None else None
    draws_sw = dataclasses.replace(draws, n=min(r.mc, SWEEP_MC)) if draws is not None else None  # the first ones
    sweep = r.run([({"vdd": p.vdd, "temp": p.temp, "step": "sweep"}, tdc_netlist(p, window, dts[k], r.pdk))
                   for k, p in tprm.items()], draws_sw, desc="TDC transfer", timeout=TDC_TIMEOUT)
    chain = r.run([({"vdd": p.vdd, "temp": p.temp, "step": "chain"}, tdc_chain_netlist(p, window, r.pdk))
                   for p in tprm.values()], draws, desc="TDC chain instances", timeout=TDC_TIMEOUT)
    tap_nom = {}
    for k, run in zip(tprm, sweep.nominal):
        if run is not None:
            tap_nom[k] = sweep_tap_times(run, tprm[k], window, len(dts[k]))
    # 3b: the shared-scale TDC's chain (every exponent sum), one START edge, nominal + Monte Carlo (seed + 1)
    ks = 2 * ((1 << ebits) - 1)
    draws_s = None
    if first is not None and r.mc > 0:  # the recipe's draws of the scale chain's devices, from seed + 1
        draws_s = dataclasses.replace(r.draws(tdc_chain_netlist(first, ks, r.pdk).devices), seed=r.seed + 1)
    scale = r.run([({"vdd": p.vdd, "temp": p.temp, "step": "scale chain"}, tdc_chain_netlist(p, ks, r.pdk))
                   for p in tprm.values()], draws_s, desc="shared-scale TDC chain", timeout=TDC_TIMEOUT)
    chain_nom, chain_mc = {}, {}
    for (k, p), run, mc_runs in zip(tprm.items(), chain.nominal, chain.mc):
        if run is not None:
            chain_nom[k] = chain_tap_times(run, p, window)
        chain_mc[k] = [None if run_s is None else chain_tap_times(run_s, p, window) for run_s in mc_runs]
    return _TdcTransfer(tprm, dts, ks, draws, sweep, scale, tap_nom, chain_nom, chain_mc)


@dataclasses.dataclass
class _TdcOffsetStop:
    """Step 4 of :func:`characterize_tdc`: the flip-flop's sampling offset and the STOP path, per corner."""

    s_ff: dict
    """Corner -> the flip-flop sampling offset [s] (corners where no STOP time read the tap are left out)."""
    stop: dict
    """Corner -> STOP 50 % minus the last arrival's 50 % [s]."""
    stop_energy: dict
    """Corner -> the STOP path energy per scalar product [J]."""
    start_delay: dict
    """Corner -> the start cells' delay at every START_BIAS_FRACTIONS bias [s]."""


def _tdc_offset_stop(r: TdcRecipe, line: dict, tr: _TdcTransfer, vbn_t: dict, length: int, window: int, ebits: int,
                     start_cells: int) -> _TdcOffsetStop:
    """Step 4 of :func:`characterize_tdc` and the STOP path decks, inside ``with r``, measured."""
    from .netlist import START_BIAS_FRACTIONS, MacTimeParams, start_node, stop_netlist

    i_ff = min(2, max(0, window - 2))  # an interior tap
    fine = {k: [round(x, 15) for x in tr.tap_nom[k][i_ff] + np.arange(-10e-12, 30.5e-12, 1e-12)] for k in tr.tap_nom}
    pts = [({"vdd": tr.prm[k].vdd, "temp": tr.prm[k].temp, "step": "offset"},
            tdc_netlist(tr.prm[k], window, fine[k], r.pdk)) for k in fine]
    mprm, arr = {}, {}
    for k in tr.prm:
        lp = line[k]
        th = 1e-9  # the detector and the clock driver are fast static gates: a 2 ns cycle is plenty
        mprm[k] = MacTimeParams(pdk=r.pdk.name, ebits=ebits, length=length, window=window, vdd=lp.vdd, temp=lp.temp,
                                t_high=th, tdc_vbn=vbn_t[k], start_cells=start_cells)
        rng = np.random.default_rng(7)
        a = np.sort(rng.uniform(0.15, 0.3, size=(4, length)), axis=1) * 2 * th
        a[np.arange(4), rng.integers(0, length, 4)] = 0.32 * 2 * th  # a different input arrives last each cycle
        arr[k] = a
        pts.append(({"vdd": lp.vdd, "temp": lp.temp, "step": "stop"}, stop_netlist(mprm[k], a, r.pdk)))
    res = r.run(pts, desc="TDC offset + STOP path", timeout=TDC_TIMEOUT)
    out = _TdcOffsetStop({}, {}, {}, {})
    for k, run in zip(fine, res.nominal[:len(fine)]):
        if run is None:
            continue
        cds = tdc_codes(run, tr.prm[k], window, len(fine[k]))
        flipped = np.asarray(fine[k])[cds >= i_ff + 1]
        if flipped.size:  # the first STOP time that reads tap i_ff as passed
            out.s_ff[k] = float(flipped.min() - 0.5e-12 - tr.tap_nom[k][i_ff])
    for k, run in zip(mprm, res.nominal[len(fine):]):
        if run is not None:
            sd, _ = stop_delays(run, mprm[k].line(), arr[k])
            out.stop[k] = float(np.nanmean(sd))
            out.start_delay[k] = [float(np.nanmean(stop_delays(run, mprm[k].line(), arr[k], start_node(mprm[k], j))[1]))
                                  for j in range(len(START_BIAS_FRACTIONS))]
            t = np.asarray(run["time"], dtype=float)
            out.stop_energy[k] = (-integral(t, np.asarray(run["i(vdd)"], dtype=float), 0.0, t[-1]) * line[k].vdd
                                  / arr[k].shape[0])
    return out


def _scale_thresholds(tr: _TdcTransfer, s_ff: dict, grid: tuple[int, int], mc: int) -> tuple[np.ndarray, np.ndarray]:
    """The shared-scale TDC's thresholds (tap arrival + s_ff) per corner: nominal (vdd, temp, tap) and per
    instance (vdd, temp, tap, sample)."""
    scale_thr = np.full(grid + (tr.ks,), np.nan)
    scale_mc = np.full(grid + (tr.ks, mc), np.nan)
    for (k, p), run, mc_runs in zip(tr.prm.items(), tr.scale.nominal, tr.scale.mc):
        sf = s_ff.get(k, np.nan)
        for s_, run_s in enumerate([run] + list(mc_runs)):
            if run_s is None:
                continue
            thr_s = chain_tap_times(run_s, p, tr.ks) + sf
            if s_ == 0:
                scale_thr[k] = thr_s
            else:
                scale_mc[k][:, s_ - 1] = thr_s
    return scale_thr, scale_mc


def _start_trim(tables: dict, k: Corner, p: DelayLineParams, want: float, start_delay: list[float],
                notes: list[str]) -> None:
    """The offset trim of corner *k*: the start cells' bias (interpolated between START_BIAS_FRACTIONS) whose
    delay is *want*, into ``start_vbn`` and ``start_delay``; a note when the biases cannot reach it."""
    from .netlist import START_BIAS_FRACTIONS

    i, j = k
    sdl = np.asarray(start_delay)  # falls as the bias rises
    fr = np.asarray(START_BIAS_FRACTIONS)
    f_s = float(np.interp(want, sdl[::-1], fr[::-1]))
    if not sdl.min() <= want <= sdl.max():
        notes.append(f"vdd={p.vdd:g} temp={p.temp:g}: start delay {sdl.min() * 1e12:.1f}.."
                     f"{sdl.max() * 1e12:.1f} ps cannot reach {want * 1e12:.1f} ps; bias clipped to "
                     f"{f_s:.3f} VDD")
    tables["start_vbn"][i, j] = round(f_s * p.vdd, 6)
    tables["start_delay"][i, j] = float(np.interp(f_s, fr, sdl))


def _tdc_tables(tr: _TdcTransfer, tau: dict, vbn_t: dict, off: _TdcOffsetStop, shape: tuple[int, int, int],
                window: int, mc: int, notes: list[str]) -> tuple[dict, np.ndarray, np.ndarray, list[float]]:
    """The TDC's tables per corner from the transfer sweep (nominal and its Monte Carlo instances), the
    calibration and step 4; the sweep's STOP - START times and codes (arrays ``sweep_dt``, ``sweep_code``) and
    the per-run agreement of the sweep's codes with the threshold model. Start-trim notes go to *notes*."""
    names = ("threshold", "tap_delay", "lsb", "tau", "vbn_t", "s_ff", "stop_delay", "start_delay", "start_vbn",
             "stop_energy", "energy", "energy_supply", "dnl", "inl")
    tables = {k: np.full(shape, np.nan) for k in names}
    ndt = max((len(v) for v in tr.dts.values()), default=0)
    sweep_dt = np.full(shape[:2] + (ndt,), np.nan)
    sweep_code = np.full(shape[:2] + (ndt, 1 + min(mc, SWEEP_MC)), np.nan)
    agree = []
    for (k, p), run, mc_runs in zip(tr.prm.items(), tr.sweep.nominal, tr.sweep.mc):
        i, j = k
        tables["tau"][i, j] = tau[k]
        tables["vbn_t"][i, j] = vbn_t[k]
        sf = off.s_ff.get(k, np.nan)
        if k in off.stop:
            tables["stop_delay"][i, j], tables["stop_energy"][i, j] = off.stop[k], off.stop_energy[k]
            # offset trim: the start bias that puts tap 0's threshold half a tau after the shared scale
            if np.isfinite(sf) and k in tr.tap_nom:
                _start_trim(tables, k, p, off.stop[k] - (tr.tap_nom[k][0] + sf) + 0.5 * tau[k], off.start_delay[k],
                            notes)
        n = len(tr.dts[k])
        sweep_dt[i, j, :n] = tr.dts[k]
        tables["s_ff"][i, j] = sf
        thr0 = None
        for s, run_s in enumerate([run] + list(mc_runs)):
            if run_s is None:
                continue
            tt = sweep_tap_times(run_s, p, window, n)
            if s == 0:
                thr = thr0 = tt + sf
            else:  # the instance's own chain deviation on the nominal sweep thresholds (the model's thresholds)
                cm = tr.chain_mc[k][s - 1] if s - 1 < len(tr.chain_mc.get(k, [])) else None
                thr = (thr0 + cm - tr.chain_nom[k]) if (thr0 is not None and cm is not None and k in tr.chain_nom) else tt + sf
            cds = tdc_codes(run_s, p, window, n)
            sweep_code[i, j, :n, s] = cds
            if np.all(np.isfinite(thr)):
                pred = np.count_nonzero(thr[None, :] < np.asarray(tr.dts[k])[:, None], axis=1)
                agree.append(float(np.mean(pred == cds)))
            if s == 0:
                tables["threshold"][i, j] = thr
                tables["tap_delay"][i, j] = np.diff(np.concatenate([[0.0], tt]))
                lsb = float(np.mean(np.diff(tt)))
                tables["lsb"][i, j] = lsb
                tables["energy"][i, j], tables["energy_supply"][i, j] = tdc_energy(run_s, p, window, n)
                tables["dnl"][i, j] = np.concatenate([[np.nan], np.diff(thr) / lsb - 1])
                line_k = np.polyfit(np.arange(window), thr, 1)
                tables["inl"][i, j] = (thr - np.polyval(line_k, np.arange(window))) / lsb
    return tables, sweep_dt, sweep_code, agree


def _tdc_conditions(length: int, window: int, ebits: int, start_cells: int, ks: int) -> dict:
    """The TDC LUT's conditions: the engine it serves and what each table means."""
    from .netlist import START_BIAS_FRACTIONS

    return {"length": length, "window": window, "ebits": ebits,
            "per_corner": ["lsb", "tau", "vbn_t", "s_ff", "stop_delay", "start_delay", "start_vbn", "stop_energy", "energy", "energy_supply"],
            "start_cells": start_cells,
            "start_delay": "the start cells between an element's arrival and its TDC at start_vbn: input 50 % "
                           "to output 50 %, loaded by a TDC cell",
            "scale_threshold": f"arrays: the shared-scale TDC ({ks} taps, one chain per engine) thresholds at "
                               "its pins [s] per corner (tap arrival + s_ff), nominal and per Monte Carlo "
                               "instance (scale_threshold_mc, own draws, seed + 1)",
            "start_vbn": "offset trim: the start cells' bias (interpolated between the simulated "
                         f"{list(START_BIAS_FRACTIONS)} x VDD) that puts tap 1's threshold half a tau after the "
                         "shared scale: threshold_1 + start_delay - stop_delay = tau / 2",
            "stop_energy": "STOP path energy per scalar product: detector + clock driver + the flip-flops' clock "
                           "load (VDD x supply charge per cycle of the STOP deck)",
            "threshold": "STOP - START (50 % points, at the TDC's pins) above which tap k's flip-flop reads 1: "
                         "tap arrival time at the flip-flop input + s_ff; Monte Carlo samples: nominal + the "
                         "instance's chain deviation (flip-flop mismatch not included: see fit_quality)",
            "system": "in the engine element i reads #{k: threshold_k < (t_max - t_i) + stop_delay - start_delay}",
            "energy": "per conversion: VDD x supply charge + the clock sources' energy into the flip-flops "
                      "(a stand-alone TDC)",
            "energy_supply": "per conversion, VDD x supply charge only: in the engine the flip-flops' clock "
                             "load is in stop_energy",
            "stop_delay": f"latest-of-{length} detector + clock driver loaded by {length * window + 2 * ((1 << ebits) - 1)} "
                          "flip-flops: STOP 50 % minus the last arrival's 50 % (nominal)",
            "vbn_t": "TDC starve bias at which the mean tap delay equals the line's tau (PMOS bias VDD - vbn_t)"}


# ---- charge-domain accumulation ------------------------------------------------------------------------
ACC_RECIPE = "td_acc/1"
CAP_MATCH_PCT_SQRT_FF = 0.5
"""Assumed capacitor matching: sigma(dC/C) = 0.5 % x sqrt(1 fF / C) (metal-oxide-metal fingers). Capacitor
mismatch is not drawn in SPICE (the Monte Carlo alters transistors only); the behavioural model applies it."""


def acc_patterns(length: int, bits: int, n_random: int = 24, seed: int = 3) -> np.ndarray:
    """The linearity test set: zero, element 0 at every power of two and full scale, every element at +/- full
    scale, then random signed patterns (a random number of active elements, random magnitudes)."""
    top = (1 << bits) - 1
    rows = [np.zeros(length, np.int64)]
    for k in range(bits):
        r = np.zeros(length, np.int64)
        r[0] = 1 << k
        rows.append(r)
    for v in (top, -top):
        r = np.zeros(length, np.int64)
        r[0] = v
        rows.append(r)
    rows += [np.full(length, top, np.int64), np.full(length, -top, np.int64)]
    rng = np.random.default_rng(seed)
    for _ in range(n_random):
        act = rng.random(length) < rng.uniform(0.2, 1.0)
        rows.append(np.where(act, rng.integers(-top, top + 1, length), 0).astype(np.int64))
    return np.stack(rows)


def acc_measure(run: dict, prm, values: np.ndarray) -> dict[str, np.ndarray]:
    """Per cycle: V_P - V_N at the sample time [V] and the energy [J] (VDD x supply charge per cycle)."""
    from .netlist import acc_times

    t = np.asarray(run["time"], dtype=float)
    vp, vn = np.asarray(run["v(lp)"], dtype=float), np.asarray(run["v(ln)"], dtype=float)
    idd = np.asarray(run["i(vdd)"], dtype=float)
    n = values.shape[0]
    v, e = np.full(n, np.nan), np.full(n, np.nan)
    for c in range(n):
        s = acc_times(prm, c)[2]
        v[c] = np.interp(s, t, vp) - np.interp(s, t, vn)
        e[c] = -integral(t, idd, c * prm.t_cycle, (c + 1) * prm.t_cycle) * prm.vdd
    return {"v_diff": v, "energy": e}


class AccRecipe(Recipe):
    """The accumulation line's recipe: the test set in one deck per corner (nominal only)."""

    kind = Kind.TD_ACC
    version = ACC_RECIPE
    generator = "charz.blocks.td_mac.netlist.acc_netlist + charz.blocks.td_mac.recipe.characterize_acc"


def characterize_acc(
    pdk: PDK | str,
    length: int = 16,
    bits: int = 10,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    **params,
) -> LUT:
    """Accumulation linearity and energy of the line pair over VDD x temperature (nominal): the test set of
    :func:`acc_patterns` in one deck per corner; V_P - V_N vs the ideal signed sum S (in unit capacitors):
    straight-line fit (``gain`` V per unit, ``offset``), ``inl`` in units; energy per accumulation fitted
    as ``e0 + e_unit x`` (unit capacitors switched to VDD)."""
    from .netlist import AccParams, acc_netlist

    r = AccRecipe(pdk, executor=executor, use_cache=use_cache, progress=progress, fit_check=False)
    vdds, temps = r.vdds(vdd), r.temps(temp)
    base = AccParams(pdk=r.pdk.name, length=length, bits=bits, vdd=vdds[0], temp=temps[0], **params)
    values = acc_patterns(length, bits)
    corners = list(itertools.product(enumerate(vdds), enumerate(temps)))
    prms = {(i, j): dataclasses.replace(base, vdd=v, temp=t) for (i, v), (j, t) in corners}
    points = [({"vdd": p.vdd, "temp": p.temp}, acc_netlist(p, values, r.pdk)) for p in prms.values()]
    with r:
        res = r.run(points, desc="accumulation line", timeout=900.0)
    tables = _acc_tables(prms, res.nominal, values, (len(vdds), len(temps), values.shape[0]))
    units = {"v_diff": "V", "energy": "J", "s_ideal": "unit", "inl": "unit", "gain": "V", "offset": "V", "e0": "J",
             "e_unit": "J"}
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("test", "index", np.arange(values.shape[0], dtype=float), discrete=True))
    sigma_unit = CAP_MATCH_PCT_SQRT_FF / 100 * np.sqrt(1e-15 / base.c_unit)
    prov = r.provenance({**{k: v for k, v in base.pairs() if k not in ("vdd", "temp")}, "vdd_grid": vdds,
                         "temp_grid": temps}, [nl.sha256 for _, nl in points][:1])
    conditions = {"length": length, "bits": bits, "c_unit": base.c_unit, "c_wire": base.c_wire,
                  "per_corner": ["gain", "offset", "e0", "e_unit"],
                  "v_diff": "V_P - V_N at the sample time, 0.4 t_cycle after the drivers switch",
                  "energy": "VDD x supply charge per accumulation cycle (drivers + capacitors; reset gate drive from "
                            "an ideal source, not counted)",
                  "e_unit": "energy per unit capacitor switched to VDD, e0 the rest (leakage of the drivers over the "
                            "cycle, reset): straight-line fit over the test patterns with at most 1/4 of the units "
                            "switched (the supply charge per unit falls as the line voltage rises)",
                  "cap_sigma_unit": float(sigma_unit),
                  "cap_sigma": f"assumption, not simulated: sigma(dC/C) = {CAP_MATCH_PCT_SQRT_FF} % x sqrt(1 fF / C); "
                               f"unit {base.c_unit * 1e15:g} fF -> {sigma_unit * 100:.2f} %",
                  "values": values.tolist()}
    lut = LUT(block=Kind.TD_ACC, axes=axes, tables=tables, units=units, conditions=conditions, provenance=prov)
    ok = np.isfinite(tables["inl"])
    if ok.any():
        lut.fit_quality = {"linearity": {"points": int(ok.sum()), "max_abs_err": float(np.nanmax(np.abs(tables["inl"]))),
                                         "unit": "unit capacitors",
                                         "what": "deviation of V_P - V_N from the straight-line fit, in unit capacitors"}}
    return lut


def _acc_tables(prms: dict, runs: list[dict | None], values: np.ndarray, shape: tuple[int, int, int]) -> dict:
    """The accumulation tables per corner: V_P - V_N and energy per test pattern, the ideal sum, the
    straight-line fit (gain, offset) and its INL, and the energy fit (e0, e_unit) over the low patterns."""
    names = ("v_diff", "energy", "s_ideal", "inl", "gain", "offset", "e0", "e_unit")
    tables = {k: np.full(shape, np.nan) for k in names}
    s_ideal = values.sum(axis=1).astype(float)
    units_on = np.abs(values).sum(axis=1).astype(float)
    for (i, j), run in zip(prms, runs):
        tables["s_ideal"][i, j] = s_ideal
        if run is None:
            continue
        m = acc_measure(run, prms[(i, j)], values)
        tables["v_diff"][i, j], tables["energy"][i, j] = m["v_diff"], m["energy"]
        g, o = np.polyfit(s_ideal, m["v_diff"], 1)
        tables["gain"][i, j], tables["offset"][i, j] = g, o
        tables["inl"][i, j] = (m["v_diff"] - (g * s_ideal + o)) / g
        low = units_on <= 0.25 * units_on.max()  # the supply charge per unit falls as the line rises:
        eu, e0 = np.polyfit(units_on[low], m["energy"][low], 1)  # fit where dot products live (< 1/4 full scale)
        tables["e0"][i, j], tables["e_unit"][i, j] = e0, eu
    return tables


# ---- arbiter: resolution and metastability ---------------------------------------------------------------
ARB_RECIPE = "td_arbiter/1"
ARB_DTS_PS = (-30.0, -10.0, -3.0, -1.0, -0.3, -0.1, 0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


class ArbiterRecipe(Recipe):
    """The arbiter's recipe: one deck per corner over the time differences, nominal + Monte Carlo."""

    kind = Kind.TD_ARBITER
    version = ARB_RECIPE
    generator = "charz.blocks.td_mac.netlist.arbiter_netlist + charz.blocks.td_mac.recipe.characterize_arbiter"


def characterize_arbiter(
    pdk: PDK | str,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    dts_ps: Sequence[float] = ARB_DTS_PS,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> LUT:
    """The NAND-mutex arbiter over VDD x temperature: winner and decision time per input time difference dt
    (b later than a by dt), nominal + Monte Carlo. Per corner: the metastability time constant ``tau_m``
    (decision time = t0 - tau_m ln|dt|, fitted over 0.1..30 ps), the input-referred offset's mean and sigma
    over the instances (``offset_mean`` / ``offset_sigma``: the resolution; probit fit of P(a wins) vs dt),
    and the energy per decision."""
    from .netlist import TimeCmpParams, arbiter_netlist

    r = ArbiterRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress, fit_check=False)
    vdds, temps = r.vdds(vdd), r.temps(temp)
    dts = [finite(x, "dt (ps)") * 1e-12 for x in dts_ps]
    if len(dts) < 3:
        raise ParameterError("give at least 3 time differences")
    corners = list(itertools.product(enumerate(vdds), enumerate(temps)))
    prms = {(i, j): TimeCmpParams(pdk=r.pdk.name, vdd=v, temp=t, t_cycle=0.5e-9) for (i, v), (j, t) in corners}
    points = [({"vdd": p.vdd, "temp": p.temp}, arbiter_netlist(p, dts, r.pdk)) for p in prms.values()]
    draws = r.draws(points[0][1].devices)
    with r:
        res = r.run(points, draws, desc="arbiter", timeout=600.0)
    shape = (len(vdds), len(temps), len(dts))
    names = ("win", "t_dec", "energy", "tau_m", "t0", "offset_mean", "offset_sigma", "p_a")
    tables = {k: np.full(shape, np.nan) for k in names}
    samples = {"win": np.full(shape + (r.mc,), np.nan)} if r.mc > 0 else {}
    for (k, p), run, mc_runs in zip(prms.items(), res.nominal, res.mc):
        _arbiter_corner(tables, samples, k, p, run, mc_runs, dts)
    units = {"win": "", "t_dec": "s", "energy": "J", "tau_m": "s", "t0": "s", "offset_mean": "s", "offset_sigma": "s",
             "p_a": ""}
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("dt", "s", np.asarray(dts), discrete=True))
    prov = r.provenance({"dts_ps": list(dts_ps), "vdd_grid": vdds, "temp_grid": temps, "t_cycle": 0.5e-9},
                        [nl.sha256 for _, nl in points][:1], draws=draws)
    conditions = {"per_corner": ["tau_m", "t0", "offset_mean", "offset_sigma"],
                  "win": "+1: a (the earlier input when dt > 0) won, -1: b won, 0: unresolved within the half cycle",
                  "t_dec": "earlier input's 50 % to the winner's output 50 %",
                  "offset": "per instance: midpoint between the largest dt b still won and the smallest a won "
                            "(resolution limited by the dt grid)",
                  "metastability": "t_dec = t0 - tau_m ln|dt| fitted over the nonzero dt"}
    return LUT(block=Kind.TD_ARBITER, axes=axes, tables=tables, units=units, samples=samples, conditions=conditions,
               provenance=prov, arrays=draws.arrays() if draws is not None else {})


def _arbiter_corner(tables: dict, samples: dict, k: tuple[int, int], p, run: dict | None, mc_runs: list,
                    dts: list[float]) -> None:
    """One corner of the arbiter's tables: winner, decision time, energy and the metastability fit from the
    nominal run; the instances' winners, P(a wins) and the offset's mean and sigma from the Monte Carlo runs."""
    i, j = k
    d, nd = np.asarray(dts), len(dts)
    if run is not None:
        w, td = arbiter_decisions(run, p, dts)
        tables["win"][i, j], tables["t_dec"][i, j] = w, td
        t = np.asarray(run["time"], dtype=float)
        tables["energy"][i, j] = -integral(t, np.asarray(run["i(vdd)"], dtype=float), 0.0, nd * p.t_cycle) * p.vdd / nd
        ok = np.isfinite(td) & (np.abs(d) > 0)
        if ok.sum() >= 3:
            slope, t0 = np.polyfit(np.log(np.abs(d[ok])), td[ok], 1)
            tables["tau_m"][i, j], tables["t0"][i, j] = -slope, t0
    wins = []
    for s, run_s in enumerate(mc_runs):
        if run_s is not None:
            samples["win"][i, j, :, s] = arbiter_decisions(run_s, p, dts)[0]
            wins.append(samples["win"][i, j, :, s])
    if wins:
        wa = np.asarray(wins)
        tables["p_a"][i, j] = np.mean(wa > 0, axis=0)
        # per instance: the offset lies between the largest dt that b won and the smallest that a won
        offs = []
        for row in wa:
            lo = d[row < 0].max() if np.any(row < 0) else d.min()
            hi = d[row > 0].min() if np.any(row > 0) else d.max()
            offs.append((lo + hi) / 2)
        tables["offset_mean"][i, j] = float(np.mean(offs))
        tables["offset_sigma"][i, j] = float(np.std(offs, ddof=1)) if len(offs) > 1 else 0.0
