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
from ...core.lut import LUT, Axis, Kind, fit_quality_entry
from ...core.mc import Mismatch, draw
from ...netlist.cells import CellSizes, parse_sizes
from .netlist import BLOCK, PATTERNS, CimColumnParams, column_devices, column_netlist, timeline
from ...core.pdk import PDK, get
from ...sim.executor import Executor, owned
from ...characterize.common import (
    provenance,
    check_mc, corner_values, integral, midpoints, mismatch_record, run_points, sample_stats, temp_values, vdd_values,
    netlist_set,
)

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
COLUMN_OPTIONS = ("w_pre", "sense_delay", "t_edge", "t_restore", "t_step")
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
        ``t_restore``, ``t_step``).
    """
    if isinstance(pdk, str):
        pdk = get(pdk)
    unknown = set(column_params) - set(COLUMN_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown cim_column parameter(s) {sorted(unknown)}: use {list(COLUMN_OPTIONS)}")
    mc = check_mc(mc)
    n_rows = 16 if n_rows is None else n_rows
    vdds = vdd_values(pdk, vdd)
    temps = temp_values(27.0 if temp is None else temp)
    base = CimColumnParams(pdk=pdk.name, n_rows=n_rows, vdd=vdds[0], temp=temps[0], sizes=sizes, c_wire=c_wire,
                           pattern=pattern, **column_params)
    tps = corner_values(t_pulse, [base.t_pulse], "t_pulse", "s")
    base = [base.replace(t_pulse=tp) for tp in tps][0]  # validates every pulse width before anything runs
    n = base.n_rows
    ks = list(range(n + 1))
    nv, nt, ntp = len(vdds), len(temps), len(tps)

    corners = list(itertools.product(enumerate(vdds), enumerate(temps), enumerate(tps)))
    params = {(i, j, m): base.replace(vdd=v, temp=t, t_pulse=tp) for (i, v), (j, t), (m, tp) in corners}
    points = []
    where = []
    for (i, j, m), p in params.items():
        for k in ks:
            points.append(({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "k": k}, column_netlist(p, k, pdk)))
            where.append((i, j, m, k))

    fit_params: list[tuple[CimColumnParams, int]] = []
    if fit_check:
        fit_ks = sorted({1, n // 2, n})
        off = [(v, t, tp) for v in midpoints(vdds) for t in temps for tp in tps]
        off += [(v, t, tp) for v in vdds for t in temps for tp in midpoints(tps)]
        off += [(v, t, tp) for v in vdds for t in midpoints(temps) for tp in tps]
        fit_params = [(base.replace(vdd=round(v, 9), temp=round(t, 6), t_pulse=tp), k)
                      for v, t, tp in off for k in fit_ks]

    draws = None
    if mc > 0:
        model = Mismatch(pdk.avt_mv_um, pdk.abeta_pct_um if mismatch_beta else 0.0)
        draws = draw(model, column_devices(base, pdk), mc, seed)

    failed: list[str] = []
    analysis_s = 0.0
    with owned(executor) as ex:
        res = run_points(points, draws, recipe=RECIPE, executor=ex, use_cache=use_cache, progress=progress,
                         desc=f"cim_column{n} " + ("nominal" if draws is None else f"nominal + {mc} MC"))
        failed += [f.message() for f in res.failures]
        analysis_s += res.analysis_seconds()
        ngspice = res.ngspice
        fit_runs: list[dict | None] = []
        if fit_params:
            fpts = [({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "k": k, "fit": "off-grid"},
                     column_netlist(p, k, pdk)) for p, k in fit_params]
            fres = run_points(fpts, None, recipe=RECIPE, executor=ex, use_cache=use_cache, progress=progress,
                              desc=f"cim_column{n} fit check")
            failed += [f.message() for f in fres.failures]
            analysis_s += fres.analysis_seconds()
            fit_runs = fres.nominal

    # ---- measure -----------------------------------------------------------------------------------
    shape = (nv, nt, ntp, n + 1)
    names = ("vbl", "energy") + ENERGY_PARTS
    tables = {name: np.full(shape, np.nan) for name in names}
    samples = {name: np.full(shape + (mc,), np.nan) for name in ("vbl", "energy")} if mc > 0 else {}
    v_end_gap = 0.0
    mc_failed = 0
    for (i, j, m, k), run, mc_runs in zip(where, res.nominal, res.mc):
        p = params[(i, j, m)]
        if run is not None:
            meas = measure(run, p)
            for name in names:
                tables[name][i, j, m, k] = meas[name]
            v_end_gap = max(v_end_gap, p.vdd - meas["v_end"])
        for s, srun in enumerate(mc_runs):
            if srun is None:
                mc_failed += 1
                continue
            meas = measure(srun, p)
            samples["vbl"][i, j, m, k, s] = meas["vbl"]
            samples["energy"][i, j, m, k, s] = meas["energy"]
    notes: list[str] = []
    if v_end_gap > RESTORE_TOLERANCE:
        notes.append(
            f"{BLOCK}: the bitline was still {v_end_gap * 1e3:.1f} mV below VDD at the end of a deck, so the "
            f"energy misses part of the restore: give a longer t_restore or a wider w_pre"
        )
        log.warning(notes[-1])

    units = dict(UNITS)
    out_tables = dict(tables)
    if mc > 0:
        for name in ("vbl", "energy"):
            with warnings.catch_warnings():  # a point whose every sample failed is NaN, silently
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, sigma = sample_stats(samples[name])
            out_tables[f"{name}_mean"], out_tables[f"{name}_sigma"] = mean, sigma
            units[f"{name}_mean"] = units[f"{name}_sigma"] = UNITS[name]

    axes = (
        Axis("vdd", "V", np.asarray(vdds)),
        Axis("temp", "degC", np.asarray(temps)),
        Axis("t_pulse", "s", np.asarray(tps)),
        Axis("k", "cells", np.asarray(ks, dtype=float), discrete=True),
    )
    arrays: dict[str, np.ndarray] = {}
    if draws is not None:
        arrays.update(draws.arrays())

    # ---- provenance ----------------------------------------------------------------------------------
    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    j_nom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    p_nom = params[(i_nom, j_nom, 0)]
    nominal_sha = {f"k{k}": points[ks.index(k) + len(ks) * _flat(i_nom, j_nom, 0, nt, ntp)][1].sha256
                   for k in sorted({0, n // 2, n})}
    all_sha = sorted(nl.sha256 for _, nl in points)
    gen_params = base.as_dict()
    for name in ("vdd", "temp", "t_pulse"):
        gen_params.pop(name)
    gen_params.update({"vdd_grid": vdds, "temp_grid": temps, "t_pulse_grid": tps, "mismatch_beta": mismatch_beta})
    prov = provenance(
        generator="charz.blocks.cim_column.netlist.column_netlist + charz.blocks.cim_column.recipe.characterize_column",
        params=gen_params,
        netlist_sha256=nominal_sha,
        pdk_prov=pdk.provenance(),
        ngspice=ngspice,
        mc_samples=mc,
        seed=seed if mc > 0 else None,
        extra={
            "recipe": RECIPE,
            "netlist_sha256_at": f"vdd={p_nom.vdd:g}, temp={p_nom.temp:g}, t_pulse={p_nom.t_pulse:g}",
            **netlist_set(all_sha),
            "mismatch": mismatch_record(pdk, draws, mismatch_beta),
            "failed_points": failed,
            "failed_mc_runs": mc_failed,
            "checks": {"restore_residual_max_V": round(v_end_gap, 6), "restore_tolerance_V": RESTORE_TOLERANCE},
            "warnings": notes,
            "analysis_seconds": round(analysis_s, 3),
        },
    )
    tl = timeline(base)
    conditions = {
        "n_rows": n,
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
        "cycle_s": tl.end,
    }

    lut = LUT(block=Kind.CIM_COLUMN, axes=axes, tables=out_tables, units=units, samples=samples, conditions=conditions,
              provenance=prov, arrays=arrays)

    # ---- fit quality -------------------------------------------------------------------------------
    if fit_params:
        pred = {"vbl": [], "energy": []}
        sim = {"vbl": [], "energy": []}
        where_fit = []
        for (p, k), run in zip(fit_params, fit_runs):
            if run is None:
                continue
            meas = measure(run, p)
            try:
                pv = lut.value("vbl", vdd=p.vdd, temp=p.temp, t_pulse=p.t_pulse, k=k)
                pe = lut.value("energy", vdd=p.vdd, temp=p.temp, t_pulse=p.t_pulse, k=k)
            except Exception:  # a NaN neighbour makes the prediction meaningless; skip the point
                continue
            if not (np.isfinite(pv) and np.isfinite(pe)):
                continue
            pred["vbl"].append(pv)
            sim["vbl"].append(meas["vbl"])
            pred["energy"].append(pe)
            sim["energy"].append(meas["energy"])
            where_fit.append({"vdd": p.vdd, "temp": p.temp, "t_pulse": p.t_pulse, "k": k})
        if where_fit:
            lut.fit_quality = {name: fit_quality_entry(pred[name], sim[name], UNITS[name], where_fit)
                               for name in ("vbl", "energy")}
    return lut


def _flat(i: int, j: int, m: int, nt: int, ntp: int) -> int:
    return (i * nt + j) * ntp + m


def characterize(kind: str, pdk, *, rows=None, t_pulse=None, size=None, beta_mismatch: bool = False,
                 **common) -> LUT:
    """The registry's entry (``charz characterize cim_column``): *rows* cells on the bitline (None = 16),
    *t_pulse* a pulse-width grid as text (``40p,60p``), *size* ``NAME=VALUE`` cell-size overrides,
    *beta_mismatch* also current-factor mismatch; *common* as :attr:`charz.blocks.base.Block.recipe`."""
    pdk = get(pdk) if isinstance(pdk, str) else pdk
    return characterize_column(pdk, n_rows=16 if rows is None else rows, t_pulse=grid(t_pulse, "--t-pulse"),
                               sizes=parse_sizes(pdk, size), mismatch_beta=beta_mismatch, **common)


__all__ = ["characterize_column", "measure", "RECIPE", "PATTERNS"]
