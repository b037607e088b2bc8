"""Characterization recipe of the signed-bit WHT crossbar column (:mod:`charz.blocks.wht.netlist`).

One column (the first Sylvester column, every cell on the same sign; physically every cell is the same
pair of NMOS) is simulated with one clock cycle per reachable pair (k+, k-), k+ + k- <= R: rows
0..k+-1 pull the + bitline, the next k- rows the - bitline. The pairs are split over decks of at most
``chunk`` cycles (parallel jobs, bounded run time); Monte Carlo instances run every deck with the same
draw (sample s is one physical column: its cells, precharge devices and latches).

Measurements per cycle (NumPy on the saved vectors):

- ``vblp``, ``vbln`` [V] at the sense instant (sign-latch clock rising), ``dv = vbln - vblp``;
- sign mode: ``decision`` [1], the sign latch's result (+1 = ``dp`` high at the end of the evaluate
  window, -1, 0 = unresolved); ternary mode: ``upper``, ``lower`` [1] (the two trimmed latches) and
  ``ternary`` = +1 if upper, -1 if not lower, else 0 (see the netlist docstring);
- ``energy`` [J] of the cycle: VDD x (net charge of the precharge and latch supplies over the cycle +
  pull-up charge of the precharge clock, the latch clocks and the row lines while they are high), split
  into ``energy_precharge``, ``energy_latch`` (supply + latch clocks), ``energy_clock`` (precharge
  clock) and ``energy_rows`` (row lines: the column's share of the row drive, see ``row_share``).

Decision statistics (Monte Carlo). The wrong-decision fractions over instances are stored per pair
(sign mode ``p_wrong_sign``: sign latch != sign(k+ - k-), NaN at ties; ternary mode
``p_wrong_ternary``: ternary result != sign(k+ - k-)). A model for the behavioural layer is fitted at
each corner:

- sign mode, the latch's input-referred offset: probit maximum likelihood of P(decision = +1 | dv of
  that instance) = Phi((dv - mu) / sigma) over every instance and pair (``offset_mean``, ``offset_sigma``);
- ternary mode, the same fit for the upper latch (``thr_pos_mean``, ``thr_pos_sigma``) and the lower
  latch (``thr_neg_mean``, ``thr_neg_sigma``);
- the cells' contribution: var(dv) over instances = m x ``cell_sigma``^2 + sigma_0^2 with m = k+ + k-
  (least squares); ``dv_per_cell`` = nominal dv at (1, 0).

A nominal-only LUT (no Monte Carlo) stores the offset and thresholds as the midpoint of the interval the
nominal decisions bracket, and zero sigmas. The fit quality entry ``decision_model`` compares the wrong
rates the fitted model predicts (Gaussian in dv, see :func:`charz.blocks.wht.model_lut.predicted_wrong`) with the measured ones.

LUT contract (read by :mod:`charz.blocks.wht.model`): block ``wht_column``; axes ``vdd`` [V], ``temp``
[degC], ``t_pulse`` [s] (continuous), ``kp``, ``kn`` [cells] (discrete 0..R); tables above on the
full grid (NaN where k+ + k- > R); per-corner tables (named in ``conditions["per_corner"]``) are
broadcast over kp, kn.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from typing import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_ndtr

from .model_lut import predicted_wrong
from ...core.errors import ParameterError
from ...core.grid import grid
from ...core.lut import LUT, Axis, Kind, fit_quality_entry
from .netlist import BLOCK, WhtParams, pairs_netlist, reachable_pairs, timeline, wht_devices
from ...core.pdk import PDK
from ...sim.executor import Executor
from ...characterize.common import corner_values, integral, midpoints, sample_stats
from ...characterize.recipe import Recipe

log = logging.getLogger(__name__)

RECIPE = "wht_column/1"
CHUNK = 80
"""(k+, k-) cycles per deck."""
ENERGY_PARTS = ("energy_precharge", "energy_latch", "energy_clock", "energy_rows")
PER_CORNER_SIGN = ("offset_mean", "offset_sigma", "cell_sigma", "dv_sigma0", "dv_per_cell")
PER_CORNER_TERNARY = ("thr_pos_mean", "thr_pos_sigma", "thr_neg_mean", "thr_neg_sigma", "cell_sigma", "dv_sigma0",
                      "dv_per_cell")
UNITS = {"vblp": "V", "vbln": "V", "dv": "V", "decision": "1", "upper": "1", "lower": "1", "ternary": "1",
         "energy": "J", **{k: "J" for k in ENERGY_PARTS}, **{k: "V" for k in PER_CORNER_SIGN + PER_CORNER_TERNARY}}
WHT_OPTIONS = ("order", "w_cell", "l_cell", "c_wire", "c_row", "c_stitch", "tile_rows", "tile_cols", "w_pre",
               "latch", "v_trim", "w_trim", "c_load", "t_edge", "t_eval", "t_restore", "t_step", "n_cols")
RESTORE_TOLERANCE = 5e-3


# ---- measurements ----------------------------------------------------------------------------------
def _latch(t, dp, dn, at: float, vdd: float) -> float:
    d = float(np.interp(at, t, dp) - np.interp(at, t, dn))
    return 0.0 if abs(d) <= vdd / 2 else math.copysign(1.0, d)


def measure_cycles(run: dict[str, np.ndarray], params: WhtParams, n_cycles: int, column: int | None = None) -> dict:
    """Per-cycle bitline voltages, decisions and energy of a one-column (or the given column's) deck.
    Energy is per evaluated column (the deck's supplies and row lines divided by the simulated columns)."""
    j = params.columns[0] if column is None else column
    t = np.asarray(run["time"], dtype=float)
    tl = timeline(params, n_cycles)
    vdd = params.vdd
    out = {name: np.full(n_cycles, np.nan) for name in
           ("vblp", "vbln", "dv", "decision", "upper", "lower", "ternary", "energy", "v_end") + ENERGY_PARTS}
    blp, bln = (np.asarray(run[f"v(bl{s}_{j})"], dtype=float) for s in "pn") if f"v(blp_{j})" in run else (None, None)
    dp, dn = np.asarray(run[f"v(dp_{j})"], dtype=float), np.asarray(run[f"v(dn_{j})"], dtype=float)
    if params.ternary:
        dp2, dn2 = np.asarray(run[f"v(dp2_{j})"], dtype=float), np.asarray(run[f"v(dn2_{j})"], dtype=float)
    ipre, ilat = np.asarray(run["i(vpre)"], dtype=float), np.asarray(run["i(vlat)"], dtype=float)
    ipch, ick1 = -np.asarray(run["i(vpch)"], dtype=float), -np.asarray(run["i(vclk1)"], dtype=float)
    rows = [-np.asarray(run[f"i(vr{pol}_{r})"], dtype=float) for r in range(params.n_rows) for pol in "pn"]
    ncol = len(params.columns)
    for c in range(n_cycles):
        a, b = tl.start[c], tl.start[c] + tl.period
        sense = tl.at(c, tl.clk1)
        if blp is not None:
            out["vblp"][c] = np.interp(sense, t, blp)
            out["vbln"][c] = np.interp(sense, t, bln)
            out["dv"][c] = out["vbln"][c] - out["vblp"][c]
            out["v_end"][c] = min(np.interp(b, t, blp), np.interp(b, t, bln))
        end = tl.at(c, tl.clk_fall)
        s1 = _latch(t, dp, dn, end, vdd)
        if params.ternary:  # upper latch: dv > +V_th; lower latch: dv > -V_th
            s2 = _latch(t, dp2, dn2, end, vdd)
            out["upper"][c], out["lower"][c] = s1, s2
            out["ternary"][c] = 1.0 if s1 > 0 else (-1.0 if s2 < 0 else 0.0)
        else:
            out["decision"][c] = s1
        hi = (tl.at(c, tl.row_rise), tl.at(c, tl.row_fall))
        q_rows = sum(max(0.0, integral(t, i, *hi)) for i in rows)
        q_clk = max(0.0, integral(t, ick1, tl.at(c, tl.clk1), end))
        q_pch = max(0.0, integral(t, ipch, tl.at(c, tl.release), end))
        e = {"energy_precharge": -integral(t, ipre, a, b) * vdd / ncol,
             "energy_latch": (-integral(t, ilat, a, b) + q_clk) * vdd / ncol,
             "energy_clock": q_pch * vdd / ncol, "energy_rows": q_rows * vdd / ncol}
        for k, v in e.items():
            out[k][c] = v
        out["energy"][c] = sum(e.values())
    return out


# ---- decision model fits ---------------------------------------------------------------------------
def probit_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (mu, sigma) of P(y = 1 | x) = Phi((x - mu) / sigma) (y in {0, 1}).
    Separable data (no overlap) give sigma at the floor of 0.1 mV and mu at the midpoint of the gap."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0 or np.all(y == 1) or np.all(y == 0):
        return float("nan"), float("nan")
    lo = x[y == 0].max()
    hi = x[y == 1].min()
    if lo < hi:  # separable
        return float((lo + hi) / 2), 1e-4
    s0 = max(float(np.std(x[(x >= hi) & (x <= lo)])) if np.any((x >= hi) & (x <= lo)) else 0.0, 1e-3)
    mu0 = float((lo + hi) / 2)

    def nll(th):
        mu, ls = th
        z = (x - mu) / math.exp(ls)
        return -float(np.sum(y * log_ndtr(z) + (1 - y) * log_ndtr(-z)))

    r = minimize(nll, [mu0, math.log(s0)], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-6})
    return float(r.x[0]), max(float(math.exp(r.x[1])), 1e-4)


def bracket(x: np.ndarray, y: np.ndarray) -> float:
    """Midpoint of the interval between the largest x with y = 0 and the smallest x with y = 1 (nominal)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if not np.any(y == 0) or not np.any(y == 1):
        return float("nan")
    return float((x[y == 0].max() + x[y == 1].min()) / 2)


def cell_sigma_fit(m: np.ndarray, var: np.ndarray) -> tuple[float, float]:
    """(cell_sigma, sigma_0) from var = m sigma_c^2 + sigma_0^2 (non-negative least squares)."""
    from scipy.optimize import nnls

    ok = np.isfinite(var) & np.isfinite(m)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    a = np.stack([m[ok], np.ones(ok.sum())], axis=1)
    coef, _ = nnls(a, var[ok])
    return float(math.sqrt(coef[0])), float(math.sqrt(coef[1]))


def _cells(dv: np.ndarray, m: np.ndarray) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        var = np.nanvar(dv, axis=1, ddof=1)
    cs, s0 = cell_sigma_fit(m.astype(float), var)
    return {"cell_sigma": cs, "dv_sigma0": s0}


def fit_decisions(dv: np.ndarray, latches: dict[str, np.ndarray], m: np.ndarray) -> dict:
    """Per-corner decision model from Monte Carlo arrays (pairs x samples): ``latches`` holds
    ``decision`` (sign mode) or ``upper`` and ``lower`` (ternary mode), each +1/-1 (0 = unresolved)."""
    out = _cells(dv, m)
    names = {"decision": "offset", "upper": "thr_pos", "lower": "thr_neg"}
    for key, x in latches.items():
        use = (m >= 1)[:, None] & np.isfinite(dv) & np.isfinite(x) & (x != 0)
        mu, sg = probit_fit(dv[use], (x[use] > 0).astype(float))
        out[f"{names[key]}_mean"], out[f"{names[key]}_sigma"] = mu, sg
    return out


def nominal_decisions(dv: np.ndarray, latches: dict[str, np.ndarray], m: np.ndarray) -> dict:
    """Per-corner decision model of a nominal-only LUT: bracketed offset / thresholds, zero sigmas."""
    out = {"cell_sigma": 0.0, "dv_sigma0": 0.0}
    names = {"decision": "offset", "upper": "thr_pos", "lower": "thr_neg"}
    for key, x in latches.items():
        use = (m >= 1) & np.isfinite(dv) & np.isfinite(x) & (x != 0)
        out[f"{names[key]}_mean"], out[f"{names[key]}_sigma"] = bracket(dv[use], (x[use] > 0).astype(float)), 0.0
    return out


# ---- the recipe ------------------------------------------------------------------------------------
class WhtRecipe(Recipe):
    """The WHT column's recipe: decks of (k+, k-) cycles per (VDD, temperature, T); decision-model fits."""

    kind = Kind.WHT_COLUMN
    version = RECIPE
    generator = "charz.blocks.wht.netlist.pairs_netlist + charz.blocks.wht.recipe.characterize_wht"


def characterize_wht(
    pdk: PDK | str,
    n_rows: int = 16,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    t_pulse: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    ternary: bool = True,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    fit_check: bool = True,
    chunk: int = CHUNK,
    mismatch_beta: bool = False,
    **wht_params,
) -> LUT:
    """Characterize one signed-bit WHT column over VDD x temperature x pulse width x every (k+, k-).

    Parameters
    ----------
    pdk: the PDK (``charz.core.pdk.get(name)``, possibly with a user A_VT) or its name.
    n_rows: cells per column R (4..64, a power of two; above ``tile_rows`` = 16 the column is stitched).
    vdd, temp, t_pulse: grids (one value = a fixed point); defaults: the PDK's nominal VDD, 27 degC, 60 ps.
    mc: Monte Carlo instances (physical columns) per corner; 0 = nominal only.
    seed: seed of the mismatch draw.
    ternary: ternary pair (upper / lower latches with thresholds) instead of the sign latch.
    executor, use_cache, progress: where simulations run, the result cache and progress bars.
    fit_check: re-run nominal decks at VDD / temperature / pulse-width midpoints (a subset of pairs) and
        store the interpolation error of ``dv`` and ``energy`` in ``lut.fit_quality``.
    chunk: (k+, k-) cycles per deck (1..400).
    mismatch_beta: also draw current-factor mismatch (``mulu0``).
    wht_params: further :class:`WhtParams` fields (sizes, capacitances, timing, ``v_trim``, ...).
    """
    r = WhtRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                  fit_check=fit_check)
    pdk, mc = r.pdk, r.mc
    unknown = set(wht_params) - set(WHT_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown wht_column parameter(s) {sorted(unknown)}: use {list(WHT_OPTIONS)}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= 400:
        raise ParameterError(f"chunk = {chunk!r}: give an integer 1 to 400 (cycles per deck)")
    vdds, temps = r.vdds(vdd), r.temps(temp)
    base = WhtParams(pdk=pdk.name, n_rows=n_rows, vdd=vdds[0], temp=temps[0], ternary=ternary, columns=(0,),
                     **wht_params)
    tps = corner_values(t_pulse, [base.t_pulse], "t_pulse", "s")
    for tp in tps:
        base.replace(t_pulse=tp)  # validates every pulse width before anything runs
    R = base.n_rows
    pairs = reachable_pairs(R)
    chunks = [pairs[a:a + chunk] for a in range(0, len(pairs), chunk)]
    corners = list(itertools.product(enumerate(vdds), enumerate(temps), enumerate(tps)))
    params = {(i, j, m): base.replace(vdd=v, temp=t, t_pulse=tp) for (i, v), (j, t), (m, tp) in corners}
    points = [({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "deck": c}, pairs_netlist(p, ch, pdk))
              for p in params.values() for c, ch in enumerate(chunks)]
    where = [(key, c) for key in params for c in range(len(chunks))]
    fit_pairs = [(1, 0), (0, 1), (R // 2, R // 2 - 1), (R, 0), (R // 4, R // 2)]
    fit_params: list[WhtParams] = []
    if fit_check:
        off = [(v, t, tp) for v in midpoints(vdds) for t in temps for tp in tps]
        off += [(v, t, tp) for v in vdds for t in midpoints(temps) for tp in tps]
        off += [(v, t, tp) for v in vdds for t in temps for tp in midpoints(tps)]
        fit_params = [base.replace(vdd=round(v, 9), temp=round(t, 6), t_pulse=tp) for v, t, tp in off]
    draws = r.draws(wht_devices(base, pdk), mismatch_beta)

    with r:
        res = r.run(points, draws, desc=f"wht_column{R} " + ("nominal" if draws is None else f"nominal + {mc} MC"),
                    timeout=600.0, chunk=5)
        fit_runs: list = []
        if fit_params:
            fpts = [({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "fit": "off-grid"},
                     pairs_netlist(p, fit_pairs, pdk)) for p in fit_params]
            fit_runs = r.run(fpts, desc=f"wht_column{R} fit check", timeout=600.0, fit=True).nominal

    shape = (len(vdds), len(temps), len(tps), R + 1, R + 1)
    tables, samples, v_end_gap = _measure_grid(res, where, params, chunks, shape, ternary, mc)
    notes: list[str] = []
    if v_end_gap > RESTORE_TOLERANCE:
        notes.append(f"{BLOCK}: a bitline was still {v_end_gap * 1e3:.1f} mV below VDD at the end of a cycle, so "
                     f"the next evaluation starts lower: give a longer t_restore or a wider w_pre")
        log.warning(notes[-1])
    out_tables, units, model = _decision_tables(tables, samples, params, R, ternary, mc)
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("t_pulse", "s", np.asarray(tps)),
            Axis("kp", "cells", np.arange(R + 1, dtype=float), discrete=True),
            Axis("kn", "cells", np.arange(R + 1, dtype=float), discrete=True))

    # ---- provenance ------------------------------------------------------------------------------
    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    j_nom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    nominal_sha = [nl.sha256 for (coords, nl), (key, c) in zip(points, where) if key == (i_nom, j_nom, 0)]
    gen_params = base.as_dict()
    for n in ("vdd", "temp", "t_pulse", "columns"):
        gen_params.pop(n)
    gen_params.update({"vdd_grid": vdds, "temp_grid": temps, "t_pulse_grid": tps, "mismatch_beta": mismatch_beta,
                       "cycles_per_deck": chunk})
    p_nom = params[(i_nom, j_nom, 0)]
    prov = r.provenance(
        gen_params, nominal_sha, draws=draws, mismatch_beta=mismatch_beta,
        netlist_sha256_at=f"vdd={p_nom.vdd:g}, temp={p_nom.temp:g}, t_pulse={p_nom.t_pulse:g}",
        checks={"restore_residual_max_V": round(v_end_gap, 6), "restore_tolerance_V": RESTORE_TOLERANCE},
        warnings=notes,
    )
    lut = LUT(block=Kind.WHT_COLUMN, axes=axes, tables=out_tables, units=units, samples=samples,
              conditions=_conditions(base, ternary), provenance=prov,
              arrays=draws.arrays() if draws is not None else {})

    lut.fit_quality = _fit_quality(lut, fit_params, fit_runs, fit_pairs, model, mc)
    return lut


def _fit_quality(lut: LUT, fit_params, fit_runs, fit_pairs, model, mc: int) -> dict:
    """``dv`` and ``energy``: SPICE at the off-grid points against the LUT's interpolation; ``decision_model``:
    the wrong rates the fitted model predicts against the measured ones (Monte Carlo only)."""
    cases = []
    for p, run in zip(fit_params, fit_runs):
        if run is None:
            continue
        meas = measure_cycles(run, p, len(fit_pairs))
        cases += [({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "kp": kp, "kn": kn},
                   {"dv": meas["dv"][q], "energy": meas["energy"][q]}) for q, (kp, kn) in enumerate(fit_pairs)]
    fq = Recipe.fit_quality(lut, cases, ("dv", "energy"), UNITS)
    if model[0]:
        fq["decision_model"] = fit_quality_entry(np.concatenate(model[0]), np.concatenate(model[1]), "1", model[2])
        fq["decision_model"].pop("max_rel_err")  # probabilities near 0: a relative error means nothing
        fq["decision_model"]["note"] = ("wrong-decision probability of the fitted Gaussian model (offset, thresholds, "
                                        "cell sigma) against the fraction of Monte Carlo instances, per pair "
                                        f"(binomial standard error at {mc} instances: up to {0.5 / math.sqrt(mc):.3f})")
    return fq


def _latch_names(ternary: bool) -> tuple[str, ...]:
    return ("upper", "lower", "ternary") if ternary else ("decision",)


def _measure_grid(res, where, params, chunks, shape, ternary: bool, mc: int) -> tuple[dict, dict, float]:
    """Nominal tables and Monte Carlo samples over the full (kp, kn) grid (NaN where unreachable or a run
    failed) and the largest restore residual of the nominal runs."""
    latch_names = _latch_names(ternary)
    names = ("vblp", "vbln", "dv") + latch_names + ("energy",) + ENERGY_PARTS
    tables = {n: np.full(shape, np.nan) for n in names}
    s_names = ("dv",) + latch_names + ("energy",)
    samples = {n: np.full(shape + (mc,), np.nan) for n in s_names} if mc > 0 else {}
    v_end_gap = 0.0
    for ((i, j, m), c), run, mc_runs in zip(where, res.nominal, res.mc):
        p = params[(i, j, m)]
        ch = chunks[c]
        if run is not None:
            meas = measure_cycles(run, p, len(ch))
            for q, (kp, kn) in enumerate(ch):
                for n in names:
                    tables[n][i, j, m, kp, kn] = meas[n][q]
            v_end_gap = max(v_end_gap, p.vdd - float(np.nanmin(meas["v_end"])))
        for s, srun in enumerate(mc_runs):
            if srun is None:
                continue
            meas = measure_cycles(srun, p, len(ch))
            for q, (kp, kn) in enumerate(ch):
                for n in s_names:
                    samples[n][i, j, m, kp, kn, s] = meas[n][q]
    return tables, samples, v_end_gap


def _decision_tables(tables: dict, samples: dict, params: dict, R: int, ternary: bool, mc: int):
    """The LUT's tables and units: the measured tables, the per-corner decision model (broadcast over kp, kn)
    and, with Monte Carlo, the sample statistics and wrong-decision fractions. Also returns the decision
    model's check (predicted and measured wrong rates per corner, and where) for the fit quality."""
    shape = next(iter(tables.values())).shape
    kp_g, kn_g = np.meshgrid(np.arange(R + 1), np.arange(R + 1), indexing="ij")
    reach = (kp_g + kn_g) <= R
    kp_v, kn_v = kp_g[reach], kn_g[reach]
    units = {n: UNITS[n] for n in tables}
    out_tables = dict(tables)
    per_names = PER_CORNER_TERNARY if ternary else PER_CORNER_SIGN
    fit_keys = ("upper", "lower") if ternary else ("decision",)
    mode = "ternary" if ternary else "sign"
    per_corner = {n: np.full(shape, np.nan) for n in per_names}
    model_pred, model_meas, model_where = [], [], []
    for (i, j, m), p in params.items():
        src = samples if mc > 0 else tables
        sl = (lambda n: src[n][i, j, m][reach])
        if mc > 0:
            fit = fit_decisions(sl("dv"), {k: sl(k) for k in fit_keys}, kp_v + kn_v)
        else:
            fit = nominal_decisions(sl("dv"), {k: sl(k) for k in fit_keys}, kp_v + kn_v)
        fit["dv_per_cell"] = float(tables["dv"][i, j, m, 1, 0])
        for n in per_names:
            per_corner[n][i, j, m] = fit[n]
        if mc > 0 and np.all(np.isfinite([fit[n] for n in per_names])):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                dvm = np.nanmean(samples["dv"][i, j, m][reach], axis=1)
            pred = predicted_wrong(dvm, kp_v, kn_v, fit, ternary)
            meas = _wrong(samples, mode, i, j, m, reach, kp_v, kn_v)
            ok = np.isfinite(pred) & np.isfinite(meas) & ((kp_v + kn_v) >= 1)
            model_pred.append(pred[ok])
            model_meas.append(meas[ok])
            model_where.append({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "mode": mode,
                                "pairs": int(ok.sum())})
    out_tables.update(per_corner)
    units.update({n: UNITS[n] for n in per_names})
    if mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for n in ("dv", "energy"):
                mean, sigma = sample_stats(samples[n])
                out_tables[f"{n}_mean"] = mean
                units[f"{n}_mean"] = UNITS[n]
                if n == "dv":
                    out_tables["dv_sigma"], units["dv_sigma"] = sigma, "V"
            t = np.full(shape, np.nan)
            for key in params:
                t[key][reach] = _wrong(samples, mode, *key, reach, kp_v, kn_v)
            out_tables[f"p_wrong_{mode}"], units[f"p_wrong_{mode}"] = t, "1"
    return out_tables, units, (model_pred, model_meas, model_where)


def _conditions(base: WhtParams, ternary: bool) -> dict:
    tl = timeline(base, 1)
    return {
        "n_rows": base.n_rows, "n_cols": base.n_cols, "order": base.order, "ternary": ternary,
        "tile_rows": base.tile_rows, "stitched_junctions": base.bitline_junctions,
        "column": "column 0 (every cell wired +); rows 0..k+-1 pull the + bitline, rows k+..k++k--1 the - bitline",
        "dv": "V(bln) - V(blp) at the sign-latch clock edge (positive when k+ > k-)",
        "decision": ("ternary: upper latch (dv > +V_th) -> +1, lower latch (dv > -V_th) 0 -> -1, else 0" if ternary
                     else "+1 when the sign latch finds V(bln) > V(blp), else -1"),
        "energy": "VDD x (precharge + latch supply net charge + pull-up charge of row lines (this column's share), "
                  "precharge clock and latch clocks) per plane evaluation of one column",
        "row_share": f"row lines carry one cell per simulated column plus c_row for all {base.n_cols} columns, "
                     f"shared by the simulated columns",
        "per_corner": list(PER_CORNER_TERNARY if ternary else PER_CORNER_SIGN),
        "per_corner_note": "broadcast over kp, kn; offsets and thresholds from probit fits of the Monte Carlo "
                           "decisions against each instance's dv (nominal LUT: bracket midpoints, zero sigmas)",
        "cycle_s": tl.period, "t_edge": base.t_edge, "t_eval": base.t_eval,
        "t_restore": base.t_restore, "v_trim": base.v_trim, "w_cell": base.w_cell, "l_cell": base.l_cell,
        "c_wire": base.c_wire, "c_bitline_wire": base.c_bitline_wire, "c_row": base.c_row,
    }


def _wrong(samples: dict, mode: str, i: int, j: int, m: int, reach, kp_v, kn_v) -> np.ndarray:
    """Fraction of instances whose result differs from sign(k+ - k-) (sign mode: NaN at ties)."""
    d = np.sign(kp_v - kn_v)[:, None]
    x = samples["decision" if mode == "sign" else "ternary"][i, j, m][reach]
    ok = np.isfinite(x)
    wrong = np.where(ok, x != d, False).sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
    wrong = np.where(ok.sum(axis=1) > 0, wrong, np.nan)
    if mode == "sign":
        wrong = np.where(d[:, 0] == 0, np.nan, wrong)
    return wrong


def characterize(kind: str, pdk, *, rows=None, t_pulse=None, sign_only: bool = False, beta_mismatch: bool = False,
                 **common) -> LUT:
    """The registry's entry (``charz characterize wht_column``): *rows* per column (None = 16), *t_pulse* a
    row-pulse grid as text, *sign_only* = no ternary latch pair, *beta_mismatch* also current-factor
    mismatch; *common* as :attr:`charz.blocks.base.Block.recipe`."""
    return characterize_wht(pdk, n_rows=16 if rows is None else rows, t_pulse=grid(t_pulse, "--t-pulse"),
                            ternary=not sign_only, mismatch_beta=beta_mismatch, **common)


__all__ = ["characterize_wht", "WhtRecipe", "measure_cycles", "probit_fit", "RECIPE"]
