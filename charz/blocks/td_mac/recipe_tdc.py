"""Characterization of the time-domain MAC's exponent-difference TDC (:mod:`charz.blocks.td_mac.netlist_tdc`)
-> the ``td_tdc`` LUT (:func:`characterize_tdc`): the line's unit delay, the TDC bias calibration (a tap = tau,
what a delay-locked loop would settle to), the transfer sweep and every Monte Carlo instance's chain, the
flip-flop's sampling offset, the STOP path (latest-of-L detector + clock driver) and the start-offset trim,
and the shared-scale TDC's own chain; plus the waveform measurements of the TDC decks (:func:`tdc_codes`,
:func:`chain_tap_times`, :func:`sweep_tap_times`, :func:`tdc_energy`, :func:`stop_delays`).
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from typing import Sequence

import numpy as np

from ...core.lut import LUT, Axis, Kind
from ...core.mc import Draws
from .netlist import DelayLineParams, delay_netlist
from .netlist_tdc import tdc_chain_netlist, tdc_netlist
from ...core.pdk import PDK
from ...sim.executor import Executor
from ...characterize.common import PointResults, integral, sample_stats
from ...characterize.recipe import Recipe
from .recipe_delay import _cross, line_fit, measure


def tdc_codes(run: dict, prm: DelayLineParams, taps: int, n: int) -> np.ndarray:
    """The thermometer code of every conversion: the number of taps read as 1 just before the next STOP
    (a bubble counts as the ones it has)."""
    from .netlist_tdc import tdc_period

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
    from .netlist_tdc import tdc_period

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
    from .netlist_tdc import tdc_period

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
    generator = ("charz.blocks.td_mac.netlist_tdc.tdc_netlist / tdc_chain_netlist / stop_netlist + "
                 "charz.blocks.td_mac.recipe_tdc.characterize_tdc")


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
    from .netlist_tdc import MacTimeParams

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
    from .netlist_tdc import START_BIAS_FRACTIONS, MacTimeParams, start_node, stop_netlist

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
    from .netlist_tdc import START_BIAS_FRACTIONS

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
    from .netlist_tdc import START_BIAS_FRACTIONS

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


__all__ = ["characterize_tdc", "TdcRecipe", "tdc_codes", "TDC_RECIPE"]
