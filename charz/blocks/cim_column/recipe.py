"""Characterization recipe of the bit-plane CiM column (:mod:`charz.blocks.cim_column.netlist`).

One ngspice deck per (VDD, temperature, pulse width T, k); Monte Carlo samples of one deck run in one
ngspice session (chunks of 25, ``alter`` of every transistor's ``delvto``). Sample *s* is the same
physical column (the same draw for every transistor) at every corner and every k, so the samples of one
corner form correlated V_BL(k) curves of real column instances.

Measurements (NumPy on the saved vectors; no ``.meas``):

- ``vbl`` [V]: read-bitline voltage at the sense instant (end of the wordline pulse: falling edge
  complete, plus ``sense_delay``), linear interpolation between saved points (the instant is a
  breakpoint of the deck, so a time point lies on it);
- ``energy`` [J]: energy of one column evaluation, VDD x (net charge from the precharge supply over the
  whole precharge-evaluate-restore deck + pull-up charge of the wordline and precharge-clock drivers);
  the components are also stored (``energy_precharge``, ``energy_wordline``, ``energy_clock``);
- the bitline voltage at the end of the deck, to check that the restore was complete (recorded in
  ``provenance["checks"]``).

LUT contract (read by :mod:`charz.blocks.cim_column.model`): block ``cim_column``; axes ``vdd`` [V], ``temp``
[degC], ``t_pulse`` [s] (continuous) and ``k`` [cells] (discrete, 0..N); tables ``vbl``, ``energy``
(nominal) and with Monte Carlo ``vbl_mean``, ``vbl_sigma``, ``energy_mean``, ``energy_sigma``; samples
``vbl`` and ``energy`` with a trailing sample dimension (NaN where a run failed); arrays ``mc_delvto``
(samples x devices, V), ``mc_devices`` (names) and ``mc_mulu0`` when current-factor mismatch is drawn.
Failures never stop the sweep: they are NaN and listed in ``lut.provenance["failed_points"]``.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import warnings
from typing import Sequence

import numpy as np

from ...core.errors import ParameterError
from ...core.grid import grid
from ...core.lut import LUT, Axis, Kind
from ...netlist.cells import CellSizes, parse_sizes
from .netlist import BLOCK, PATTERNS, CimColumnParams, column_devices, column_netlist, deck_draws, timeline
from ...core.pdk import PDK, get
from ...sim.executor import Executor
from ...characterize.common import corner_values, integral, midpoints, sample_stats
from ...characterize.recipe import Recipe

log = logging.getLogger(__name__)

RECIPE = "cim_column/1"
"""Measurement-code version (part of every cache key): bump when :func:`measure` changes."""

ENERGY_PARTS = ("energy_precharge", "energy_wordline", "energy_clock")
UNITS = {"vbl": "V", "energy": "J", "energy_precharge": "J", "energy_wordline": "J", "energy_clock": "J"}
PATTERN_TEXT = {
    "x1w0": "rows k..N-1 hold input 1, weight 0 (every read wordline on; worst case for leakage)",
    "x0w1": "rows k..N-1 hold input 0, weight 1 (read wordline off)",
    "x0w0": "rows k..N-1 hold input 0, weight 0 (read wordline off)",
}
COLUMN_OPTIONS = ("w_pre", "sense_delay", "t_edge", "t_restore", "t_step", "storage")
RESTORE_TOLERANCE = 5e-3
"""Bitline left more than this below VDD at the end of the deck: the energy misses the rest of the restore."""


def measure(run: dict[str, np.ndarray], params: CimColumnParams) -> dict[str, float]:
    """V_BL at the sense instant and the energy of one evaluation from one run's vectors."""
    t = np.asarray(run["time"], dtype=float)
    v = np.asarray(run["v(rbl)"], dtype=float)
    tl = timeline(params)
    vdd = params.vdd
    q_pre = -np.trapezoid(run["i(vpre)"], t)  # a source delivering current has a negative branch current
    # drivers: the net charge each one pushes up while it is high (wordline: rise .. fall; precharge
    # clock: release .. restore); see common.integral for why not the positive part of the current
    q_rwl = max(0.0, -integral(t, run["i(vrwl)"], tl.rwl_rise, tl.rwl_fall))
    q_pch = max(0.0, -integral(t, run["i(vpch)"], tl.release, tl.sense))
    e = {"energy_precharge": vdd * q_pre, "energy_wordline": vdd * q_rwl, "energy_clock": vdd * q_pch}
    return {
        "vbl": float(np.interp(tl.sense, t, v)),
        "energy": float(sum(e.values())),
        **{k: float(x) for k, x in e.items()},
        "v_end": float(v[-1]),
    }


class ColumnRecipe(Recipe):
    """The CiM column's recipe: decks per (VDD, temperature, T, k), V_BL and energy per run."""

    kind = Kind.CIM_COLUMN
    version = RECIPE
    generator = "charz.blocks.cim_column.netlist.column_netlist + charz.blocks.cim_column.recipe.characterize_column"


def characterize_column(
    pdk: PDK | str,
    n_rows: int | None = 16,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    t_pulse: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    sizes: CellSizes | None = None,
    c_wire: float | None = None,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    fit_check: bool = True,
    pattern: str = "x1w0",
    mismatch_beta: bool = False,
    **column_params,
) -> LUT:
    """Characterize the N-row bit-plane CiM column over VDD x temperature x pulse width x k.

    Parameters
    ----------
    pdk: the PDK (``charz.core.pdk.get(name)``, possibly with a user A_VT) or its name.
    n_rows: cells on the read bitline, 8..64 (None = 16).
    vdd: VDD grid in V (one value = a fixed point); default the PDK's nominal VDD.
    temp: temperature grid in degC; default 27.
    t_pulse: wordline pulse-width grid in s; default the generator's (100 ps).
    mc: Monte Carlo samples per grid point (0 = nominal only); sample s is one column instance.
    seed: seed of the mismatch draw (same seed -> identical samples).
    sizes: cell sizes (default :meth:`CellSizes.default`); c_wire: wire capacitance per cell in F
        (default 1.5 fF x Lmin / 16 nm).
    executor: where simulations run (default: a local process pool, closed at the end).
    use_cache, progress: result cache and progress bars.
    fit_check: re-run SPICE at VDD / T / temperature midpoints for k = 1, N/2, N and store the
        interpolation error in ``lut.fit_quality``.
    pattern: state of the N-k rows that do not compute a 1 (``x1w0``, ``x0w1``, ``x0w0``).
    mismatch_beta: also draw current-factor mismatch (``mulu0``, A_beta of the PDK).
    column_params: further :class:`CimColumnParams` fields (``w_pre``, ``sense_delay``, ``t_edge``,
        ``t_restore``, ``t_step``, ``storage``).
    """
    r = ColumnRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                     fit_check=fit_check)
    pdk, mc = r.pdk, r.mc
    unknown = set(column_params) - set(COLUMN_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown cim_column parameter(s) {sorted(unknown)}: use {list(COLUMN_OPTIONS)}")
    n_rows = 16 if n_rows is None else n_rows
    vdds, temps = r.vdds(vdd), r.temps(temp)
    base = CimColumnParams(pdk=pdk.name, n_rows=n_rows, vdd=vdds[0], temp=temps[0], sizes=sizes, c_wire=c_wire,
                           pattern=pattern, **column_params)
    tps = corner_values(t_pulse, [base.t_pulse], "t_pulse", "s")
    base = [base.replace(t_pulse=tp) for tp in tps][0]  # validates every pulse width before anything runs
    n = base.n_rows
    ks = list(range(n + 1))
    corners = list(itertools.product(enumerate(vdds), enumerate(temps), enumerate(tps)))
    params = {(i, j, m): base.replace(vdd=v, temp=t, t_pulse=tp) for (i, v), (j, t), (m, tp) in corners}
    points = [({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "k": k}, column_netlist(p, k, pdk))
              for p in params.values() for k in ks]
    where = [(i, j, m, k) for (i, j, m) in params for k in ks]
    fit_params = _fit_points(base, vdds, temps, tps) if fit_check else []
    draws = deck_draws(r.draws(column_devices(base, pdk), mismatch_beta), base, pdk)

    with r:
        res = r.run(points, draws, desc=f"cim_column{n} " + ("nominal" if draws is None else f"nominal + {mc} MC"))
        fit_runs: list[dict | None] = []
        if fit_params:
            fpts = [({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "k": k, "fit": "off-grid"},
                     column_netlist(p, k, pdk)) for p, k in fit_params]
            fit_runs = r.run(fpts, desc=f"cim_column{n} fit check", fit=True).nominal

    tables, samples, v_end_gap = _measure_grid(res, where, params, (len(vdds), len(temps), len(tps), n + 1), mc)
    notes: list[str] = []
    if v_end_gap > RESTORE_TOLERANCE:
        notes.append(
            f"{BLOCK}: the bitline was still {v_end_gap * 1e3:.1f} mV below VDD at the end of a deck, so the "
            f"energy misses part of the restore: give a longer t_restore or a wider w_pre"
        )
        log.warning(notes[-1])
    out_tables, units = _with_stats(tables, samples)
    axes = (
        Axis("vdd", "V", np.asarray(vdds)),
        Axis("temp", "degC", np.asarray(temps)),
        Axis("t_pulse", "s", np.asarray(tps)),
        Axis("k", "cells", np.asarray(ks, dtype=float), discrete=True),
    )

    # ---- provenance ----------------------------------------------------------------------------------
    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    j_nom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    p_nom = params[(i_nom, j_nom, 0)]
    first = len(ks) * _flat(i_nom, j_nom, 0, len(temps), len(tps))
    nominal_sha = {f"k{k}": points[first + ks.index(k)][1].sha256 for k in sorted({0, n // 2, n})}
    gen_params = base.as_dict()
    for name in ("vdd", "temp", "t_pulse"):
        gen_params.pop(name)
    gen_params.update({"vdd_grid": vdds, "temp_grid": temps, "t_pulse_grid": tps, "mismatch_beta": mismatch_beta})
    prov = r.provenance(
        gen_params, nominal_sha, draws=draws, mismatch_beta=mismatch_beta,
        netlist_sha256_at=f"vdd={p_nom.vdd:g}, temp={p_nom.temp:g}, t_pulse={p_nom.t_pulse:g}",
        checks={"restore_residual_max_V": round(v_end_gap, 6), "restore_tolerance_V": RESTORE_TOLERANCE},
        warnings=notes,
    )
    lut = LUT(block=Kind.CIM_COLUMN, axes=axes, tables=out_tables, units=units, samples=samples,
              conditions=_conditions(base), provenance=prov, arrays=draws.arrays() if draws is not None else {})

    # ---- fit quality: SPICE at off-grid points vs the LUT's interpolation ----------------------------
    if fit_params:
        cases = (({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "k": k}, measure(run, p))
                 for (p, k), run in zip(fit_params, fit_runs) if run is not None)
        lut.fit_quality = Recipe.fit_quality(lut, cases, ("vbl", "energy"), UNITS)
    return lut


def _fit_points(base: CimColumnParams, vdds, temps, tps) -> list[tuple[CimColumnParams, int]]:
    """The fit check's off-grid decks: VDD, T and temperature midpoints, for k = 1, N/2, N."""
    n = base.n_rows
    fit_ks = sorted({1, n // 2, n})
    off = [(v, t, tp) for v in midpoints(vdds) for t in temps for tp in tps]
    off += [(v, t, tp) for v in vdds for t in temps for tp in midpoints(tps)]
    off += [(v, t, tp) for v in vdds for t in midpoints(temps) for tp in tps]
    return [(base.replace(vdd=round(v, 9), temp=round(t, 6), t_pulse=tp), k) for v, t, tp in off for k in fit_ks]


def _measure_grid(res, where, params, shape, mc: int) -> tuple[dict, dict, float]:
    """Nominal tables, Monte Carlo samples (NaN where a run failed) and the largest restore residual."""
    names = ("vbl", "energy") + ENERGY_PARTS
    tables = {name: np.full(shape, np.nan) for name in names}
    samples = {name: np.full(shape + (mc,), np.nan) for name in ("vbl", "energy")} if mc > 0 else {}
    v_end_gap = 0.0
    for (i, j, m, k), run, mc_runs in zip(where, res.nominal, res.mc):
        p = params[(i, j, m)]
        if run is not None:
            meas = measure(run, p)
            for name in names:
                tables[name][i, j, m, k] = meas[name]
            v_end_gap = max(v_end_gap, p.vdd - meas["v_end"])
        for s, srun in enumerate(mc_runs):
            if srun is not None:
                meas = measure(srun, p)
                samples["vbl"][i, j, m, k, s] = meas["vbl"]
                samples["energy"][i, j, m, k, s] = meas["energy"]
    return tables, samples, v_end_gap


def _with_stats(tables: dict, samples: dict) -> tuple[dict, dict]:
    """The LUT's tables and units: the nominal tables plus, with Monte Carlo, ``<name>_mean`` / ``_sigma``."""
    units = dict(UNITS)
    out_tables = dict(tables)
    for name in samples:
        with warnings.catch_warnings():  # a point whose every sample failed is NaN, silently
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, sigma = sample_stats(samples[name])
        out_tables[f"{name}_mean"], out_tables[f"{name}_sigma"] = mean, sigma
        units[f"{name}_mean"] = units[f"{name}_sigma"] = UNITS[name]
    return out_tables, units


def _conditions(base: CimColumnParams) -> dict:
    return {
        "n_rows": base.n_rows,
        "pattern": base.pattern,
        "pattern_meaning": PATTERN_TEXT[base.pattern],
        "active_rows": "rows 0..k-1 hold input = weight = 1",
        "c_wire": base.c_wire,
        "c_wire_unit": "F per cell",
        "sense": "end of the wordline pulse",
        "sense_detail": "wordline falling edge complete (50%-50% width T, edges t_edge) + sense_delay",
        "sense_delay": base.sense_delay,
        "t_edge": base.t_edge,
        "t_restore": base.t_restore,
        "w_pre": base.w_pre,
        "sizes_m": dataclasses.asdict(base.sizes),
        "energy": "VDD x (net precharge-supply charge + wordline and precharge-clock driver pull-up charge) over "
                  "one precharge-release / wordline pulse / sense / restore cycle; 6T-core standby leakage excluded",
        "cycle_s": timeline(base).end,
    } | ({"storage": "ideal: every read driver's gate tied to the cell supply or ground, 6T cores not in the "
                     "decks (Monte Carlo draws over the whole column, read ports altered)"}
         if base.storage == "ideal" else {})


def _flat(i: int, j: int, m: int, nt: int, ntp: int) -> int:
    return (i * nt + j) * ntp + m


def characterize(kind: str, pdk, *, rows=None, t_pulse=None, size=None, beta_mismatch: bool = False,
                 storage: str = "6t", **common) -> LUT:
    """The registry's entry (``charz characterize cim_column``): *rows* cells on the bitline (None = 16),
    *t_pulse* a pulse-width grid as text (``40p,60p``), *size* ``NAME=VALUE`` cell-size overrides,
    *beta_mismatch* also current-factor mismatch, *storage* ``6t`` or ``ideal`` (:class:`CimColumnParams`);
    *common* as :attr:`charz.blocks.base.Block.recipe`."""
    pdk = get(pdk) if isinstance(pdk, str) else pdk
    return characterize_column(pdk, n_rows=16 if rows is None else rows, t_pulse=grid(t_pulse, "--t-pulse"),
                               sizes=parse_sizes(pdk, size), mismatch_beta=beta_mismatch, storage=storage, **common)


__all__ = ["characterize_column", "ColumnRecipe", "measure", "RECIPE", "PATTERNS"]
