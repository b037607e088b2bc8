"""Characterization recipe of the SRAM CAM row (:mod:`charz.blocks.cam.netlist`): match-line voltage at the
sense instant against the number of mismatching bits m, the sense amplifier's match flag, search energy
and their Monte Carlo spread (``charz characterize cam_sram``).

One deck per (VDD, temperature) corner: the row stores :func:`~charz.blocks.cam.netlist.default_word`
(1, 0, 1, 0, ...) and is searched W + 1 times, cycle m with a key that differs from the word in its first m
bits (m = 0 .. W). Monte Carlo instances run the same deck with every transistor's threshold drawn
(Pelgrom, ``delvto``); sample s is the same physical row (cells, replica row, precharge devices, sense
amplifier) at every corner.

Measurements per cycle (NumPy on the saved vectors; no ``.meas``):

- ``v_ml`` [V]: the match line at the sense instant (``t_sense`` after the search lines' 50 % point): the
  distance transfer curve a nearest-match search reads;
- ``v_ml_strobe``, ``v_ref`` [V]: the match line and the replica reference line at the sense amplifier's
  strobe (``t_match`` after the search lines' 50 % point, the latch clock's 50 % point);
- ``decision`` [1]: the sense amplifier's result at the end of its evaluate window, +1 = ``dp`` high =
  match (``V(ml) > V(mlr)``), -1 = mismatch, 0 = unresolved (``|v(dp) - v(dn)|`` below VDD / 2);
- ``t_discharge`` [s]: from the search lines' 50 % point to the first instant the match line crosses
  VDD / 2 (linear interpolation); NaN when it stays above VDD / 2 until the search lines fall;
- ``energy`` [J] per search per row, the sum of ``energy_precharge`` (VDD x net charge of the row's
  precharge supply over the cycle: the match line's restore), ``energy_search`` (VDD x pull-up charge of
  the W search-line pairs while high, divided by ``rows``: this row's share of the array's search-line
  drive), ``energy_sense`` (VDD x (net charge of the sense-amplifier supply + pull-up charge of its
  clock)), ``energy_clock`` (VDD x pull-up charge of the precharge clock ``pre_b``) and
  ``energy_reference`` (VDD x (net charge of the replica's precharge supply + pull-up charge of ``sen``),
  divided by ``rows``: the replica is shared by the array's rows). Charges are net integrals over the
  window (see :func:`charz.characterize.common.integral`);
- ``v_end`` [V]: the match line at the end of the cycle (the precharge restore check, provenance).

LUT contract (read by :mod:`charz.blocks.cam.model`): block ``cam_sram``; axes ``vdd`` [V], ``temp``
[degC] (continuous), ``m`` [bits] (discrete, 0..W). Tables (nominal): ``v_ml``, ``v_ml_strobe``,
``v_ref``, ``decision``, ``t_discharge``, ``energy`` and its parts; with Monte Carlo also ``v_ml_mean``,
``v_ml_sigma``, ``v_ml_strobe_sigma``, ``v_ref_sigma``, ``energy_mean``, ``p_match`` (fraction of instances
that flag a match) and ``p_flag_wrong`` (fraction whose flag differs from m == 0), and samples ``v_ml``,
``v_ml_strobe``, ``v_ref``, ``decision``, ``energy``, ``t_discharge`` (trailing axis: instance; NaN where a
run failed). Arrays: ``wave_t`` [s] (time in the
cycle), ``wave_ml`` and ``wave_ref`` [V] (vdd, temp, m, time: the nominal match-line transients,
resampled), and the Monte Carlo draws (``mc_delvto``, ``mc_devices``). ``conditions`` holds the word
length, rows, the stored word, the timing (``t_sense``, ``t_match``, ``sense_instant_s``,
``strobe_instant_s``, ``cycle_s``, ...) and what each table means; ``provenance["checks"]`` the restore
residual and the smallest nominal sense-amplifier margins (``sense_margin_match_min_V``: match line above
the replica at m = 0; ``sense_margin_mismatch_min_V``: replica above the match line at m = 1).
"""

from __future__ import annotations

import itertools
import logging
import warnings
from typing import Sequence

import numpy as np

from ...characterize.common import integral, midpoints, sample_stats
from ...characterize.recipe import Recipe
from ...core.errors import ParameterError
from ...core.lut import LUT, Axis, Kind
from ...core.pdk import PDK
from ...sim.executor import Executor
from .netlist import BLOCK, CamParams, cam_devices, default_word, distance_netlist, timeline

log = logging.getLogger(__name__)

RECIPE = "cam_sram/1"
"""Measurement-code version (part of every cache key): bump when a measurement changes."""
ENERGY_PARTS = ("energy_precharge", "energy_search", "energy_sense", "energy_clock", "energy_reference")
MEASURED = ("v_ml", "v_ml_strobe", "v_ref", "decision", "t_discharge", "energy") + ENERGY_PARTS
SAMPLED = ("v_ml", "v_ml_strobe", "v_ref", "decision", "energy", "t_discharge")
UNITS = {"v_ml": "V", "v_ml_strobe": "V", "v_ref": "V", "decision": "1", "t_discharge": "s", "energy": "J",
         **{k: "J" for k in ENERGY_PARTS}}
CAM_OPTIONS = ("rows", "w_cmp", "l_cmp", "w_pre", "l_ref", "latch", "c_ml_cell", "c_sl_cell", "c_load", "t_edge",
               "t_sense", "t_match", "t_latch", "t_pre", "t_step")
WAVE_POINTS = 160
"""Samples of each stored nominal match-line transient (uniform over one cycle)."""
RESTORE_TOLERANCE = 5e-3
"""A match line further than this below VDD at the end of a cycle is reported (the next search starts low)."""


# ---- measurements ----------------------------------------------------------------------------------
def _crossing(t: np.ndarray, v: np.ndarray, level: float, a: float, b: float) -> float:
    """First time in [a, b] that *v* falls through *level* (linear interpolation), minus *a*; NaN if none."""
    sel = (t >= a) & (t <= b)
    ts, vs = t[sel], v[sel]
    below = np.flatnonzero(vs < level)
    if below.size == 0:
        return float("nan")
    k = below[0]
    if k == 0:
        return 0.0
    t0, t1, v0, v1 = ts[k - 1], ts[k], vs[k - 1], vs[k]
    return float(t0 + (level - v0) * (t1 - t0) / (v1 - v0) - a)


def measure_cycles(run: dict[str, np.ndarray], params: CamParams, n_cycles: int) -> dict[str, np.ndarray]:
    """Per-cycle ``v_ml``, ``v_ref``, ``decision``, ``t_discharge``, the energy and its parts per search per
    row, and ``v_end`` of a row deck of *params* with *n_cycles* searches (module docstring)."""
    t = np.asarray(run["time"], dtype=float)
    vec = {k: np.asarray(run[k], dtype=float) for k in
           ("v(ml)", "v(mlr)", "v(dp)", "v(dn)", "i(vpre)", "i(vpref)", "i(vlat)", "i(vpch)", "i(vclk)", "i(vsen)")}
    sl = [-np.asarray(run[f"i(v{s}_{j})"], dtype=float) for j in range(params.n_bits) for s in ("sl", "slb")]
    tl = timeline(params, n_cycles)
    vdd, rows = params.vdd, params.rows
    out = {k: np.full(n_cycles, np.nan) for k in MEASURED + ("v_end",)}
    for c in range(n_cycles):
        a, b = tl.start[c], tl.start[c] + tl.period
        sense, strobe = tl.at(c, tl.sense), tl.at(c, tl.match)
        fall, sl50 = tl.at(c, tl.fall), tl.at(c, tl.sl_50)
        out["v_ml"][c] = np.interp(sense, t, vec["v(ml)"])
        out["v_ml_strobe"][c] = np.interp(strobe, t, vec["v(ml)"])
        out["v_ref"][c] = np.interp(strobe, t, vec["v(mlr)"])
        d = float(np.interp(fall, t, vec["v(dp)"]) - np.interp(fall, t, vec["v(dn)"]))
        out["decision"][c] = 0.0 if abs(d) <= vdd / 2 else np.sign(d)
        out["t_discharge"][c] = _crossing(t, vec["v(ml)"], vdd / 2, sl50, fall)
        out["v_end"][c] = np.interp(b, t, vec["v(ml)"])
        hi = (tl.at(c, tl.sl_rise), fall)  # the search lines and sen are high (rising edge included)
        q_sl = sum(max(0.0, integral(t, i, *hi)) for i in sl)
        q_sen = max(0.0, integral(t, -vec["i(vsen)"], *hi))
        q_clk = max(0.0, integral(t, -vec["i(vclk)"], tl.at(c, tl.match - tl.t_edge / 2), fall))
        q_pch = max(0.0, integral(t, -vec["i(vpch)"], tl.at(c, tl.release), fall))
        e = {"energy_precharge": -integral(t, vec["i(vpre)"], a, b) * vdd,
             "energy_search": q_sl * vdd / rows,
             "energy_sense": (-integral(t, vec["i(vlat)"], a, b) + q_clk) * vdd,
             "energy_clock": q_pch * vdd,
             "energy_reference": (-integral(t, vec["i(vpref)"], a, b) + q_sen) * vdd / rows}
        for k, v in e.items():
            out[k][c] = v
        out["energy"][c] = sum(e.values())
    return out


def waveforms(run: dict[str, np.ndarray], params: CamParams, n_cycles: int,
              points: int = WAVE_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, ml, ref)``: each cycle's match-line and replica transients on a uniform grid of *points* instants
    over one cycle (``t`` relative to the cycle start; ``ml``, ``ref`` of shape (n_cycles, points))."""
    tl = timeline(params, n_cycles)
    t = np.asarray(run["time"], dtype=float)
    rel = np.linspace(0.0, tl.period, points)
    ml = np.stack([np.interp(tl.start[c] + rel, t, np.asarray(run["v(ml)"], dtype=float)) for c in range(n_cycles)])
    ref = np.stack([np.interp(tl.start[c] + rel, t, np.asarray(run["v(mlr)"], dtype=float)) for c in range(n_cycles)])
    return rel, ml, ref


# ---- the recipe ------------------------------------------------------------------------------------
class CamRecipe(Recipe):
    """The SRAM CAM row's recipe: one deck of W + 1 searches (m = 0..W mismatches) per (VDD, temperature)."""

    kind = Kind.CAM_SRAM
    version = RECIPE
    generator = "charz.blocks.cam.netlist.distance_netlist + charz.blocks.cam.recipe.characterize_cam"


def characterize_cam(
    pdk: PDK | str,
    n_bits: int = 16,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    fit_check: bool = True,
    mismatch_beta: bool = False,
    **cam_params,
) -> LUT:
    """Characterize one SRAM CAM row of *n_bits* cells over VDD x temperature x m = 0..W mismatching bits.

    Parameters
    ----------
    pdk: the PDK (``charz.core.pdk.get(name)``, possibly with a user A_VT) or its name.
    n_bits: word length W (cells on the match line).
    vdd, temp: grids (one value = a fixed point); defaults: the PDK's nominal VDD, 27 degC.
    mc: Monte Carlo instances (physical rows) per corner; 0 = nominal only.
    seed: seed of the mismatch draw.
    executor, use_cache, progress: where simulations run, the result cache and progress bars.
    fit_check: re-run nominal decks at VDD / temperature midpoints (m = 0, 1, W / 2, W) and store the
        interpolation error of ``v_ml`` and ``energy`` in ``lut.fit_quality``.
    mismatch_beta: also draw current-factor mismatch (``mulu0``).
    cam_params: further :class:`~charz.blocks.cam.netlist.CamParams` fields (``rows``, sizes, capacitances,
        timing); ``ternary`` is not one: the recipe's row stores a binary word.
    """
    r = CamRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                  fit_check=fit_check)
    pdk, mc = r.pdk, r.mc
    unknown = set(cam_params) - set(CAM_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown cam_sram parameter(s) {sorted(unknown)}: use {list(CAM_OPTIONS)}")
    vdds, temps = r.vdds(vdd), r.temps(temp)
    base = CamParams(pdk=pdk.name, n_bits=n_bits, vdd=vdds[0], temp=temps[0], **cam_params)
    W = base.n_bits
    ms = list(range(W + 1))
    corners = list(itertools.product(enumerate(vdds), enumerate(temps)))
    params = {(i, j): base.replace(vdd=v, temp=t) for (i, v), (j, t) in corners}
    points = [({"vdd": p.vdd, "temp": p.temp}, distance_netlist(p, ms, pdk)) for p in params.values()]
    fit_ms = sorted({0, 1, W // 2, W})
    fit_params: list[CamParams] = []
    if fit_check:
        off = [(v, t) for v in midpoints(vdds) for t in temps] + [(v, t) for v in vdds for t in midpoints(temps)]
        fit_params = [base.replace(vdd=round(v, 9), temp=round(t, 6)) for v, t in off]
    draws = r.draws(cam_devices(base, pdk), mismatch_beta)
    with r:
        res = r.run(points, draws, desc=f"cam_sram{W} " + ("nominal" if draws is None else f"nominal + {mc} MC"),
                    timeout=600.0, chunk=8)
        fit_runs: list = []
        if fit_params:
            fpts = [({"vdd": p.vdd, "temp": p.temp, "fit": "off-grid"}, distance_netlist(p, fit_ms, pdk))
                    for p in fit_params]
            fit_runs = r.run(fpts, desc=f"cam_sram{W} fit check", timeout=600.0, fit=True).nominal

    shape = (len(vdds), len(temps), W + 1)
    tables = {k: np.full(shape, np.nan) for k in MEASURED}
    samples = {k: np.full(shape + (mc,), np.nan) for k in SAMPLED} if mc > 0 else {}
    wave_t = np.linspace(0.0, timeline(base, 1).period, WAVE_POINTS)
    wave_ml = np.full(shape + (WAVE_POINTS,), np.nan)
    wave_ref = np.full(shape + (WAVE_POINTS,), np.nan)
    v_end_gap = 0.0
    for key, run, mc_runs in zip(params, res.nominal, res.mc):
        p = params[key]
        if run is not None:
            meas = measure_cycles(run, p, len(ms))
            for k in MEASURED:
                tables[k][key] = meas[k]
            v_end_gap = max(v_end_gap, p.vdd - float(np.nanmin(meas["v_end"])))
            _, wave_ml[key], wave_ref[key] = waveforms(run, p, len(ms))
        for s, srun in enumerate(mc_runs):
            if srun is not None:
                meas = measure_cycles(srun, p, len(ms))
                for k in SAMPLED:
                    samples[k][key + (slice(None), s)] = meas[k]
    units = {k: UNITS[k] for k in tables}
    if mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for k in ("v_ml", "v_ml_strobe", "v_ref", "energy"):
                mean, sigma = sample_stats(samples[k])
                if k in ("v_ml", "energy"):
                    tables[f"{k}_mean"], units[f"{k}_mean"] = mean, UNITS[k]
                if k != "energy":
                    tables[f"{k}_sigma"], units[f"{k}_sigma"] = sigma, "V"
            dec = samples["decision"]
            n_ok = np.sum(np.isfinite(dec), axis=-1)
            tables["p_match"] = np.where(n_ok > 0, np.nansum(dec > 0, axis=-1) / np.maximum(n_ok, 1), np.nan)
            want = np.where(np.arange(W + 1) == 0, 1.0, -1.0)[:, None]
            tables["p_flag_wrong"] = np.where(n_ok > 0, np.sum(np.isfinite(dec) & (dec != want), axis=-1)
                                              / np.maximum(n_ok, 1), np.nan)
            units["p_match"] = units["p_flag_wrong"] = "1"
    notes: list[str] = []
    if v_end_gap > RESTORE_TOLERANCE:
        notes.append(f"{BLOCK}: a match line was still {v_end_gap * 1e3:.1f} mV below VDD at the end of a cycle, "
                     f"so the next search starts lower: give a longer t_pre or a wider w_pre")
        log.warning(notes[-1])
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("m", "bits", np.arange(W + 1, dtype=float), discrete=True))

    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    j_nom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    gen_params = base.as_dict()
    for n in ("vdd", "temp", "ternary"):
        gen_params.pop(n)
    gen_params.update({"vdd_grid": vdds, "temp_grid": temps, "mismatch_beta": mismatch_beta})
    margins = _margins(tables)
    prov = r.provenance(
        gen_params, [points[list(params).index((i_nom, j_nom))][1].sha256], draws=draws, mismatch_beta=mismatch_beta,
        netlist_sha256_at=f"vdd={vdds[i_nom]:g}, temp={temps[j_nom]:g}",
        checks={"restore_residual_max_V": round(v_end_gap, 6), "restore_tolerance_V": RESTORE_TOLERANCE, **margins},
        warnings=notes,
    )
    arrays = {"wave_t": wave_t, "wave_ml": wave_ml, "wave_ref": wave_ref}
    if draws is not None:
        arrays.update(draws.arrays())
    lut = LUT(block=Kind.CAM_SRAM, axes=axes, tables=tables, units=units, samples=samples,
              conditions=_conditions(base), provenance=prov, arrays=arrays)
    cases = []
    for p, run in zip(fit_params, fit_runs):
        if run is not None:
            meas = measure_cycles(run, p, len(fit_ms))
            cases += [({"vdd": p.vdd, "temp": p.temp, "m": m}, {"v_ml": meas["v_ml"][q], "energy": meas["energy"][q]})
                      for q, m in enumerate(fit_ms)]
    lut.fit_quality = Recipe.fit_quality(lut, cases, ("v_ml", "energy"), UNITS)
    return lut


def _margins(tables: dict) -> dict:
    """The nominal sense-amplifier margins at its strobe (V), smallest over the corners: match line above the
    replica at m = 0, and replica above the match line at m = 1."""
    v, ref = tables["v_ml_strobe"], tables["v_ref"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {"sense_margin_match_min_V": round(float(np.nanmin(v[..., 0] - ref[..., 0])), 6)}
        if v.shape[-1] > 1:
            out["sense_margin_mismatch_min_V"] = round(float(np.nanmin(ref[..., 1] - v[..., 1])), 6)
    return out


def _conditions(base: CamParams) -> dict:
    tl = timeline(base, 1)
    return {
        "n_bits": base.n_bits, "rows": base.rows, "stored": "".join(map(str, default_word(base.n_bits))),
        "keys": "cycle m searches the stored word with its first m bits flipped (m = 0..W)",
        "v_ml": "match-line voltage at the sense instant (t_sense after the search lines' 50 % point)",
        "v_ref": "replica reference match line at the sense amplifier's strobe (between the m = 0 and m = 1 levels)",
        "decision": "+1 when the sense amplifier flags a match (V(ml) > V(mlr)), -1 mismatch, 0 unresolved",
        "t_discharge": "search lines' 50 % point to the match line at VDD / 2 (NaN: not within the window)",
        "energy": "VDD x charge per search per row: precharge restore, search lines / rows, sense amplifier "
                  "(supply + clock), precharge clock, replica (supply + sen) / rows",
        "v_ml_strobe": "match-line voltage at the sense amplifier's strobe (t_match after the search lines' 50 % "
                       "point)",
        "t_sense": base.t_sense, "t_match": base.t_match, "sense_instant_s": tl.sense, "strobe_instant_s": tl.match,
        "sl_50_s": tl.sl_50, "fall_s": tl.fall,
        "cycle_s": tl.period, "t_edge": base.t_edge, "t_latch": base.t_latch, "t_pre": base.t_pre,
        "w_cmp": base.w_cmp, "l_cmp": base.l_cmp, "l_ref": base.l_ref, "w_pre": base.w_pre,
        "c_ml_cell": base.c_ml_cell, "c_sl_cell": base.c_sl_cell,
    }


MTJ_SIZES = ("w_invn", "w_invp", "l_inv", "w_pd", "l_pd", "w_en", "w_pre")
"""The :class:`~charz.blocks.cam.netlist_mtj.MtjCamParams` transistor sizes ``--size`` sets for ``cam_mtj``."""


def characterize(kind: str, pdk, *, bits=None, rows=None, t_sense=None, beta_mismatch: bool = False, size=None,
                 **common) -> LUT:
    """The registry's entry (``charz characterize cam_sram`` / ``cam_mtj``). ``cam_mtj`` goes to
    :func:`charz.blocks.cam.recipe_mtj.characterize_cam_mtj` (*bits* MTJs per branch, None = 3; *t_sense*).
    ``cam_sram``: *bits* the word length (None = 16), *rows* the
    array's rows sharing the search lines (None = 64), *t_sense* in seconds (None = the default),
    *beta_mismatch* also current-factor mismatch; *size* (``cam_mtj``): ``NAME=VALUE`` transistor sizes of
    :data:`MTJ_SIZES` in metres; *common* as :attr:`charz.blocks.base.Block.recipe`."""
    if kind == Kind.CAM_MTJ:
        from ...netlist.cells import size_overrides
        from .recipe_mtj import characterize_cam_mtj

        kw = {"t_sense": t_sense} if t_sense is not None else {}
        kw.update(size_overrides(size, MTJ_SIZES, "cam_mtj transistor size"))
        return characterize_cam_mtj(pdk, bits=3 if bits is None else bits, mismatch_beta=beta_mismatch, **kw,
                                    **common)
    kw = {k: v for k, v in (("rows", rows), ("t_sense", t_sense)) if v is not None}
    return characterize_cam(pdk, n_bits=16 if bits is None else bits, mismatch_beta=beta_mismatch, **kw, **common)


__all__ = ["characterize_cam", "CamRecipe", "measure_cycles", "waveforms", "RECIPE"]
