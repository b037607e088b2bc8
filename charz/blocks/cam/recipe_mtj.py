"""Characterization recipe of the MTJ analog CAM cell (:mod:`charz.blocks.cam.netlist_mtj`): the match-window
edges against the programmed MTJ states, their Monte Carlo spread, and the energy per search
(``charz characterize cam_mtj``).

**Edges.** One split testbench deck per (VDD, temperature, state s): both branches programmed to s, each on
its own match line, searched with every data-line voltage of a grid (0 .. ``dl_max`` in ``dl_step``
steps, one search per cycle). At the sense instant, ``ml_lo`` is high above the lower edge and ``ml_hi``
high below the upper edge. The edges are the data-line voltages where each line crosses VDD / 2 (linear
interpolation between grid points): ``edge_lo`` = the last rising crossing of ``V(ml_lo)`` against V_DL,
``edge_hi`` = the first falling crossing of ``V(ml_hi)``; NaN when none. A cell programmed to
(s_lo, s_hi) matches ``edge_lo[s_lo] <= V_DL < edge_hi[s_hi]``.

**Monte Carlo**: sample i is one physical cell at every state and corner: every transistor's threshold
(Pelgrom, ``delvto``) and every MTJ's resistance factor (``1 + sigma_j z``, sigma_j = sigma_r x
sqrt(2^j) for the junction of 1/2^j the area; a normal drawn from ``SeedSequence(seed, spawn_key=(i,
7))``, applied by ``alter``-ing its control source ``vk_<mtj>``), both from the seed.

**Energy** per search: a full cell (one match line) programmed to the middle window (1, 2^bits - 2),
searched nominally below its lower edge, inside (midpoint) and above its upper edge (0.1 V from the
nominal edges, clamped to the grid): ``VDD x`` the net charge of the precharge supply, the inverters' supply
and the pull-up charge of both clocks, plus the data line's ``-integral v(dl) i(vdl) dt`` (the dividers'
current while the data line is up), over one search cycle.

LUT contract (read by :mod:`charz.blocks.cam.model_mtj`): block ``cam_mtj``; axes ``vdd`` [V], ``temp``
[degC] (continuous), ``state`` (discrete 0 .. 2^bits - 1). Tables ``edge_lo``, ``edge_hi`` [V] (nominal),
with Monte Carlo ``edge_lo_mean``, ``edge_lo_sigma``, ``edge_hi_mean``, ``edge_hi_sigma`` and samples
``edge_lo``, ``edge_hi``. Arrays: ``dl_grid`` [V], ``v_ml_lo``, ``v_ml_hi`` [V] (vdd, temp, state, grid:
the nominal lines at the sense instant), ``energy_inputs`` [V] and ``energy`` [J] (vdd, temp, 3: below,
match, above) with ``energy_dl``, ``energy_precharge``, ``energy_inverters``, ``energy_clock`` (same
shape), the transistor draws (``mc_delvto``, ``mc_devices``) and the MTJ factors (``mc_mtj_factor``,
``mc_mtj_names``). ``conditions``: bits, the MTJ figures, reference resistors, timing.
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
from ...core.params import Real
from ...core.pdk import PDK
from ...sim.executor import Executor
from .netlist_mtj import (
    MtjCamParams, MtjParams, edge_grid, match_lines, mtj_cam_devices, mtj_names, mtj_sigma, mtj_timeline,
    search_netlist,
)

log = logging.getLogger(__name__)

RECIPE = "cam_mtj/1"
"""Measurement-code version (part of every cache key)."""
MTJ_OPTIONS = ("bits", "mtj", "dl_max", "r_ref_hi", "r_ref_lo", "w_pd", "l_pd", "w_en", "w_invn", "w_invp", "l_inv",
               "w_pre", "c_ml", "t_edge", "t_settle", "t_sense", "t_pre", "t_step")
ENERGY_PARTS = ("energy_dl", "energy_precharge", "energy_inverters", "energy_clock")
ENERGY_CASES = ("below", "match", "above")
ENERGY_MARGIN = 0.1
"""The energy searches lie this far (V) outside the nominal edges of the energy window."""
MTJ_SPAWN = 7
"""Second spawn key of the MTJ factor stream (the transistor draws use ``spawn_key=(i,)``)."""


# ---- measurements ------------------------------------------------------------------------------------
def measure_cycles(run: dict[str, np.ndarray], params: MtjCamParams, n_cycles: int) -> dict[str, np.ndarray]:
    """Per cycle: each match line at the sense instant (``v_<line>``) and the energy parts and total of one
    search (module docstring)."""
    t = np.asarray(run["time"], dtype=float)
    tl = mtj_timeline(params, n_cycles)
    vdd = params.vdd
    vec = {k: np.asarray(run[k], dtype=float) for k in ("v(dl)", "i(vdl)", "i(vpre)", "i(vinv)", "i(vpch)", "i(ven)")}
    p_dl = -vec["v(dl)"] * vec["i(vdl)"]
    out: dict[str, np.ndarray] = {f"v_{m}": np.full(n_cycles, np.nan) for m in match_lines(params)}
    for k in ENERGY_PARTS + ("energy",):
        out[k] = np.full(n_cycles, np.nan)
    for c in range(n_cycles):
        a, b = tl.start[c], tl.start[c] + tl.period
        for m in match_lines(params):
            out[f"v_{m}"][c] = np.interp(tl.at(c, tl.sense), t, np.asarray(run[f"v({m})"], dtype=float))
        fall = tl.at(c, tl.fall)
        q_clk = (max(0.0, -integral(t, vec["i(vpch)"], tl.at(c, tl.release), fall))
                 + max(0.0, -integral(t, vec["i(ven)"], tl.at(c, tl.en_rise), fall)))
        e = {"energy_dl": integral(t, p_dl, a, b),
             "energy_precharge": -integral(t, vec["i(vpre)"], a, b) * vdd,
             "energy_inverters": -integral(t, vec["i(vinv)"], a, b) * vdd,
             "energy_clock": q_clk * vdd}
        for k, v in e.items():
            out[k][c] = v
        out["energy"][c] = sum(e.values())
    return out


def find_edges(dl: np.ndarray, v_lo: np.ndarray, v_hi: np.ndarray, level: float) -> tuple[float, float]:
    """``(edge_lo, edge_hi)`` [V] from the match lines at the sense instant against the data-line grid *dl*:
    the last rising crossing of *v_lo* through *level* and the first falling crossing of *v_hi* (linear
    interpolation between grid points); NaN where a line never crosses."""
    dl, v_lo, v_hi = (np.asarray(x, dtype=float) for x in (dl, v_lo, v_hi))

    def at(k, v):
        return float(dl[k] + (level - v[k]) * (dl[k + 1] - dl[k]) / (v[k + 1] - v[k]))

    up = np.flatnonzero((v_lo[:-1] < level) & (v_lo[1:] >= level))
    down = np.flatnonzero((v_hi[:-1] >= level) & (v_hi[1:] < level))
    return (at(up[-1], v_lo) if up.size else float("nan")), (at(down[0], v_hi) if down.size else float("nan"))


# ---- Monte Carlo -------------------------------------------------------------------------------------------
def mtj_factors(params: MtjCamParams, n: int, seed: int) -> np.ndarray:
    """(n, MTJs) resistance factors (variation only, nominal 1) of every MTJ of
    :func:`~charz.blocks.cam.netlist_mtj.mtj_names` for samples 0 .. n-1 (clipped at 0.2)."""
    sig = mtj_sigma(params)
    out = np.empty((n, sig.size))
    for i in range(n):
        z = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i, MTJ_SPAWN))).standard_normal(sig.size)
        out[i] = np.maximum(1.0 + sig * z, 0.2)
    return out


class CellDraws:
    """The Monte Carlo alter sets of the cell: the transistor draws (a :class:`charz.core.mc.Draws`) and the MTJ
    factors, as :func:`charz.characterize.common.run_points` reads them (``n``, ``samples(a, b)``)."""

    def __init__(self, draws, names: Sequence[str], factors: np.ndarray, area: Sequence[float]):
        self.draws, self.names, self.factors, self.area = draws, tuple(names), factors, tuple(area)
        self.n = draws.n

    def samples(self, a: int, b: int) -> tuple:
        """Samples [a, b): per sample the transistors' ``delvto`` triples and each MTJ's ``vk`` ``dc``."""
        rows = tuple(self.draws.samples(a, b))
        return tuple(r + tuple((f"vk_{n}", "dc", float(self.area[j] * self.factors[s, j]))
                               for j, n in enumerate(self.names))
                     for s, r in zip(range(a, b), rows))


# ---- the recipe --------------------------------------------------------------------------------------------
class MtjCamRecipe(Recipe):
    """The MTJ analog CAM cell's recipe: one split deck per state over a data-line grid, one energy deck."""

    kind = Kind.CAM_MTJ
    version = RECIPE
    generator = "charz.blocks.cam.netlist_mtj.search_netlist + charz.blocks.cam.recipe_mtj.characterize_cam_mtj"


def characterize_cam_mtj(
    pdk: PDK | str,
    bits: int = 3,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    fit_check: bool = True,
    dl_step: float = 0.02,
    mismatch_beta: bool = False,
    **cell_params,
) -> LUT:
    """Characterize the MTJ analog CAM cell over VDD x temperature x programmed state (0 .. 2^bits - 1).

    Parameters
    ----------
    pdk: the PDK or its name. bits: MTJs per branch (1..3).
    vdd, temp: grids (defaults: the PDK's nominal VDD, 27 degC).
    mc: Monte Carlo cells (transistor threshold and MTJ resistance variation); seed: their seed.
    executor, use_cache, progress: where simulations run, the cache, progress bars.
    fit_check: re-run nominal decks at VDD / temperature midpoints and store the edges' interpolation error.
    dl_step: data-line grid step (V), 0.002 .. 0.1.
    mismatch_beta: also draw the transistors' current-factor mismatch (``mulu0``).
    cell_params: further :class:`~charz.blocks.cam.netlist_mtj.MtjCamParams` fields (``mtj``, ``dl_max``,
        reference resistors, sizes, timing).
    """
    r = MtjCamRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                     fit_check=fit_check)
    pdk, mc = r.pdk, r.mc
    unknown = set(cell_params) - set(MTJ_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown cam_mtj parameter(s) {sorted(unknown)}: use {list(MTJ_OPTIONS)}")
    step = Real(0.002, 0.1, unit="V").check(dl_step, "characterize_cam_mtj.dl_step", "data-line grid step")
    vdds, temps = r.vdds(vdd), r.temps(temp)
    base = MtjCamParams(pdk=pdk.name, bits=bits, split=True, vdd=vdds[0], temp=temps[0], **cell_params)
    n_s = base.n_states
    grid = edge_grid(base, step)
    corners = list(itertools.product(enumerate(vdds), enumerate(temps)))
    params = {(i, j): base.replace(vdd=v, temp=t) for (i, v), (j, t) in corners}
    keys = [(i, j, s) for (i, j) in params for s in range(n_s)]
    points = [({"vdd": params[(i, j)].vdd, "temp": params[(i, j)].temp, "state": s},
               search_netlist(params[(i, j)], s, s, grid, pdk, label="edges")) for i, j, s in keys]
    fit_params: list[MtjCamParams] = []
    if fit_check:
        off = [(v, t) for v in midpoints(vdds) for t in temps] + [(v, t) for v in vdds for t in midpoints(temps)]
        fit_params = [base.replace(vdd=round(v, 9), temp=round(t, 6)) for v, t in off]
    draws = r.draws(mtj_cam_devices(base, pdk), mismatch_beta)
    names = mtj_names(base)
    factors = mtj_factors(base, mc, seed) if mc > 0 else None
    cdraws = None
    if draws is not None:
        area = [float(1 << int(n.rsplit("_", 1)[1])) for n in names]
        cdraws = CellDraws(draws, names, factors, area)
    shape = (len(vdds), len(temps), n_s)
    tables = {k: np.full(shape, np.nan) for k in ("edge_lo", "edge_hi")}
    samples = {k: np.full(shape + (mc,), np.nan) for k in ("edge_lo", "edge_hi")} if mc > 0 else {}
    wave = {k: np.full(shape + (grid.size,), np.nan) for k in ("v_ml_lo", "v_ml_hi")}
    e_shape = (len(vdds), len(temps), len(ENERGY_CASES))
    energy = {k: np.full(e_shape, np.nan) for k in ("energy",) + ENERGY_PARTS}
    e_inputs = np.full(e_shape, np.nan)
    win = (1, n_s - 2) if n_s >= 4 else (0, n_s - 1)
    cell = {key: p.replace(split=False) for key, p in params.items()}
    with r:
        res = r.run(points, cdraws, desc=f"cam_mtj b{bits} " + ("nominal" if mc == 0 else f"nominal + {mc} MC"),
                    timeout=300.0, chunk=8)
        for (i, j, s), run, mc_runs in zip(keys, res.nominal, res.mc):
            p = params[(i, j)]
            if run is not None:
                m = measure_cycles(run, p, grid.size)
                wave["v_ml_lo"][i, j, s], wave["v_ml_hi"][i, j, s] = m["v_ml_lo"], m["v_ml_hi"]
                tables["edge_lo"][i, j, s], tables["edge_hi"][i, j, s] = find_edges(grid, m["v_ml_lo"], m["v_ml_hi"],
                                                                                    p.vdd / 2)
            for q, srun in enumerate(mc_runs):
                if srun is not None:
                    m = measure_cycles(srun, p, grid.size)
                    lo, hi = find_edges(grid, m["v_ml_lo"], m["v_ml_hi"], p.vdd / 2)
                    samples["edge_lo"][i, j, s, q], samples["edge_hi"][i, j, s, q] = lo, hi
        # energy: the full cell at the middle window, below / inside / above it (nominal)
        epoints, ekeys = [], []
        for (i, j), c in cell.items():
            lo, hi = tables["edge_lo"][i, j, win[0]], tables["edge_hi"][i, j, win[1]]
            if not (np.isfinite(lo) and np.isfinite(hi)):
                continue
            x = np.clip([lo - ENERGY_MARGIN, (lo + hi) / 2, hi + ENERGY_MARGIN], 0.0, c.dl_max)
            e_inputs[i, j] = x
            epoints.append(({"vdd": c.vdd, "temp": c.temp, "energy": "window"},
                            search_netlist(c, win[0], win[1], np.round(x, 6), pdk, label="energy")))
            ekeys.append((i, j))
        eres = r.run(epoints, desc="cam_mtj energy", timeout=300.0) if epoints else None
        fit_runs: list = []
        if fit_params:
            fpts = [({"vdd": p.vdd, "temp": p.temp, "state": s, "fit": "off-grid"},
                     search_netlist(p, s, s, grid, pdk, label="edges")) for p in fit_params for s in range(n_s)]
            fit_runs = r.run(fpts, desc="cam_mtj fit check", timeout=300.0, fit=True).nominal
    if eres is not None:
        for (i, j), run in zip(ekeys, eres.nominal):
            if run is not None:
                m = measure_cycles(run, cell[(i, j)], len(ENERGY_CASES))
                for k in energy:
                    energy[k][i, j] = m[k]
    units = {"edge_lo": "V", "edge_hi": "V"}
    if mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for k in ("edge_lo", "edge_hi"):
                mean, sigma = sample_stats(samples[k])
                tables[f"{k}_mean"], tables[f"{k}_sigma"] = mean, sigma
                units[f"{k}_mean"] = units[f"{k}_sigma"] = "V"
    notes = []
    n_nan = int(np.sum(~np.isfinite(tables["edge_lo"])) + np.sum(~np.isfinite(tables["edge_hi"])))
    if n_nan:
        notes.append(f"{Kind.CAM_MTJ}: {n_nan} nominal edges fall outside the data-line grid 0 .. {base.dl_max:g} V "
                     f"(NaN): give another dl_max or reference resistors")
        log.warning(notes[-1])
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("state", "1", np.arange(n_s, dtype=float), discrete=True))
    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    j_nom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    gen_params = base.as_dict()
    for n in ("vdd", "temp", "split"):
        gen_params.pop(n)
    gen_params.update({"vdd_grid": vdds, "temp_grid": temps, "dl_step": step, "mismatch_beta": mismatch_beta})
    k_nom = keys.index((i_nom, j_nom, 0))
    mism = {"mtj_sigma_r": base.mtj.sigma_r, "mtj_applied_as": "vk_<mtj> dc (resistance factor)",
            "mtj_devices": len(names)} if mc > 0 else None
    prov = r.provenance(gen_params, [points[k_nom][1].sha256], draws=draws, mismatch_beta=mismatch_beta, mismatch=mism,
                        netlist_sha256_at=f"vdd={vdds[i_nom]:g}, temp={temps[j_nom]:g}, state=0",
                        checks={"edges_outside_grid": n_nan}, warnings=notes)
    arrays = {"dl_grid": grid, **wave, "energy_inputs": e_inputs, **energy}
    if draws is not None:
        arrays.update(draws.arrays())
        arrays["mc_mtj_factor"] = factors
        arrays["mc_mtj_names"] = np.asarray(names)
    lut = LUT(block=Kind.CAM_MTJ, axes=axes, tables=tables, units=units, samples=samples,
              conditions=_conditions(base, win), provenance=prov, arrays=arrays)
    cases = []
    for q, run in enumerate(fit_runs):
        p, s = fit_params[q // n_s], q % n_s
        if run is not None:
            m = measure_cycles(run, p, grid.size)
            lo, hi = find_edges(grid, m["v_ml_lo"], m["v_ml_hi"], p.vdd / 2)
            cases.append(({"vdd": p.vdd, "temp": p.temp, "state": s}, {"edge_lo": lo, "edge_hi": hi}))
    lut.fit_quality = Recipe.fit_quality(lut, cases, ("edge_lo", "edge_hi"), {"edge_lo": "V", "edge_hi": "V"})
    return lut


def _conditions(base: MtjCamParams, win: tuple[int, int]) -> dict:
    tl = mtj_timeline(base, 1)
    m: MtjParams = base.mtj
    return {
        "bits": base.bits, "n_states": base.n_states, "dl_max": base.dl_max,
        "r_p": m.r_p, "tmr0": m.tmr0, "v_half": m.v_half, "sigma_r": m.sigma_r,
        "r_ref_lo": base.r_ref_lo, "r_ref_hi": base.r_ref_hi, "c_ml": base.c_ml,
        "w_pd": base.w_pd, "l_pd": base.l_pd, "w_invn": base.w_invn, "w_invp": base.w_invp, "l_inv": base.l_inv,
        "t_sense": base.t_sense, "t_settle": base.t_settle, "t_pre": base.t_pre, "t_edge": base.t_edge,
        "sense_instant_s": tl.sense, "cycle_s": tl.period,
        "state": "s = sum_j 2^j b_j, b_j = 1: MTJ j (2^j x the unit resistance) antiparallel",
        "edge_lo": "data-line voltage above which the lo branch releases the match line (V_ML at the sense "
                   "instant crossing VDD / 2)",
        "edge_hi": "data-line voltage above which the hi branch discharges the match line",
        "match": "a cell programmed to (s_lo, s_hi) matches edge_lo[s_lo] <= V_DL < edge_hi[s_hi]",
        "energy_window": list(win), "energy_cases": list(ENERGY_CASES),
        "energy": "per search of one cell: VDD x (precharge + inverter supply + clock pull-up charge) + data-line "
                  "power integral, over one cycle",
    }


__all__ = ["characterize_cam_mtj", "MtjCamRecipe", "measure_cycles", "find_edges", "mtj_factors", "RECIPE"]
