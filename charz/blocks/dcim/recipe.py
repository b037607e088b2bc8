"""Characterization recipe of the bitline-computing word add (:mod:`charz.blocks.dcim.netlist`): correctness,
energy per add and its split, carry delay, sense margins and read disturb, with their Monte Carlo spread
(``charz characterize dcim_add``).

One deck per supply: the array holds the P operand pairs of
:func:`~charz.blocks.dcim.netlist.default_pairs` (or the caller's) in 2P rows; cycle k adds pair k. Monte
Carlo instances run the same deck with every transistor's threshold drawn (Pelgrom, ``delvto``).

Measurements per cycle (NumPy on the saved vectors; no ``.meas``):

- ``sum`` [1]: the N sum bits and the carry out read at the read instant (above VDD / 2 = 1) as an integer;
  ``correct`` [1]: 1 when it equals a + b, else 0;
- ``energy`` [J] per add, the sum of ``energy_precharge`` (VDD x (net charge of the bit-line precharge and
  cell supplies over the cycle + pull-up charge of the precharge clock ``pre_b``): the bit-line restore),
  ``energy_wordline`` (VWL x pull-up charge of the two word-line drivers), ``energy_sense`` (VDD x net
  charge of the sense inverters' supply) and ``energy_adder`` (VDD x net charge of the adder's supply);
- ``delay`` [s]: from the word lines' 50 % point to the last VDD / 2 crossing of any sum bit or the carry
  out before the read instant (the carry ripple included); NaN when no output moves;
- ``sense_margin`` [V]: the smallest distance of a sensed bit line from the sense threshold at the sense
  instant, over the 2N bit lines, positive when every line is on its correct side (a bit line that should
  read 1 above ``V_M``, one that should read 0 below); ``margin_and`` [V]: the smallest ``V_BL - V_M`` over the
  columns whose cells both store 1 (NaN if none); ``V_M`` is the replica inverter's threshold ``v(vm)``;
- ``disturb_bump`` [V]: the highest voltage of a 0 storage node of the two operand rows while their word
  lines are on; ``disturb_droop`` [V]: the deepest drop below VDD of a 1 node; ``flips`` [1]: operand cells
  that no longer hold their bit at the end of the cycle;
- ``error`` [1]: 1 when the sum is wrong or a cell flipped.

LUT contract (read by :mod:`charz.blocks.dcim.model`): block ``dcim_add``; axes ``vdd`` [V] (continuous)
and ``pair`` (discrete, 0..P-1; ``arrays["pair_a"]``, ``arrays["pair_b"]`` hold the operands). Tables
(nominal): the measurements above; with Monte Carlo also ``energy_mean``, ``delay_mean``, ``error_rate``
(fraction of instances with ``error``), ``sense_margin_mean`` / ``_sigma`` and samples ``energy``, ``delay``,
``sense_margin``, ``error`` (trailing axis: instance; NaN where a run failed). Arrays: ``wave_t`` [s] and
``wave_bl`` / ``wave_blb`` [V] (vdd, pair, column, time: nominal bit-line transients) and the Monte Carlo
draws. ``conditions`` holds N, rows, VWL, the timing and the sense threshold ``v_threshold``.
"""

from __future__ import annotations

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
from .netlist import BLOCK, DcimParams, add_netlist, bits, check_pairs, dcim_devices, default_pairs, timeline

log = logging.getLogger(__name__)

RECIPE = "dcim_add/1"
"""Measurement-code version (part of every cache key)."""
ENERGY_PARTS = ("energy_precharge", "energy_wordline", "energy_sense", "energy_adder")
MEASURED = ("sum", "correct", "energy", *ENERGY_PARTS, "delay", "sense_margin", "margin_and", "disturb_bump",
            "disturb_droop", "flips", "error")
SAMPLED = ("energy", "delay", "sense_margin", "error")
UNITS = {"sum": "1", "correct": "1", "energy": "J", **{k: "J" for k in ENERGY_PARTS}, "delay": "s",
         "sense_margin": "V", "margin_and": "V", "disturb_bump": "V", "disturb_droop": "V", "flips": "1", "error": "1"}
DCIM_OPTIONS = ("rows", "vwl_ratio", "cells", "w_pre", "w_sp", "w_sn", "l_sn", "w_ln", "w_lp", "c_bl_cell",
                "c_wl_cell", "c_load", "t_edge", "t_wl", "t_eval", "t_pre", "t_step")
WAVE_POINTS = 120


def _last_crossing(t: np.ndarray, v: np.ndarray, level: float, a: float, b: float) -> float:
    """Last time in [a, b] that *v* crosses *level* (either way, linear interpolation), minus *a*; NaN if none."""
    sel = (t >= a) & (t <= b)
    ts, d = t[sel], v[sel] - level
    k = np.flatnonzero(np.signbit(d[1:]) != np.signbit(d[:-1]))
    if k.size == 0:
        return float("nan")
    k = k[-1]
    return float(ts[k] + (0 - d[k]) * (ts[k + 1] - ts[k]) / (d[k + 1] - d[k]) - a)


def measure_cycles(run: dict[str, np.ndarray], params: DcimParams, pairs) -> dict[str, np.ndarray]:
    """Per-cycle measurements (module docstring) of a deck of *params* adding *pairs*."""
    pr = check_pairs(params, pairs)
    P, N, vdd = pr.shape[0], params.n_bits, params.vdd
    t = np.asarray(run["time"], dtype=float)
    V = lambda name: np.asarray(run[name], dtype=float)  # noqa: E731
    tl = timeline(params, P)
    vm = float(V("v(vm)")[-1])
    outs = [V(f"v(s_{j})") for j in range(N)] + [V(f"v(c_{N})")]
    out = {k: np.full(P, np.nan) for k in MEASURED}
    for k, (a, b) in enumerate(pr):
        c0, c1 = tl.start[k], tl.start[k] + tl.period
        read, sense, w50 = tl.at(k, tl.read), tl.at(k, tl.sense), tl.at(k, tl.wl_50)
        val = sum(int(np.interp(read, t, v) > vdd / 2) << j for j, v in enumerate(outs))
        out["sum"][k] = val
        out["correct"][k] = float(val == a + b)
        cr = [_last_crossing(t, v, vdd / 2, w50, read) for v in outs]
        out["delay"][k] = np.nanmax(cr) if np.any(np.isfinite(cr)) else np.nan
        ab, bb = bits(a, N), bits(b, N)
        margins, m_and = [], []
        for j in range(N):
            vbl, vblb = np.interp(sense, t, V(f"v(bl_{j})")), np.interp(sense, t, V(f"v(blb_{j})"))
            want_bl, want_blb = ab[j] & bb[j], (1 - ab[j]) & (1 - bb[j])
            margins += [(vbl - vm) if want_bl else (vm - vbl), (vblb - vm) if want_blb else (vm - vblb)]
            if want_bl:
                m_and.append(vbl - vm)
        out["sense_margin"][k] = min(margins)
        out["margin_and"][k] = min(m_and) if m_and else np.nan
        on = (t >= tl.at(k, tl.wl_rise)) & (t <= sense + tl.t_edge)
        bump, droop, flips = 0.0, 0.0, 0
        for r, x in ((2 * k, ab), (2 * k + 1, bb)):
            for j in range(N):
                q, qb = V(f"v(q_{r}_{j})"), V(f"v(qb_{r}_{j})")
                zero, one = (qb, q) if x[j] else (q, qb)
                bump = max(bump, float(np.max(zero[on])))
                droop = max(droop, float(vdd - np.min(one[on])))
                flips += int(np.interp(c1 - tl.t_edge, t, one) < np.interp(c1 - tl.t_edge, t, zero))
        out["disturb_bump"][k], out["disturb_droop"][k], out["flips"][k] = bump, droop, flips
        out["error"][k] = float(val != a + b or flips > 0)
        q_pch = max(0.0, integral(t, -V("i(vpch)"), tl.at(k, tl.release), read))
        q_wl = sum(max(0.0, integral(t, -V(f"i(vwl_{r})"), tl.at(k, tl.wl_rise), sense)) for r in (2 * k, 2 * k + 1))
        e = {"energy_precharge": (-integral(t, V("i(vpre)"), c0, c1) - integral(t, V("i(vcell)"), c0, c1) + q_pch) * vdd,
             "energy_wordline": q_wl * params.vwl,
             "energy_sense": -integral(t, V("i(vsen)"), c0, c1) * vdd,
             "energy_adder": -integral(t, V("i(vadd)"), c0, c1) * vdd}
        for name, x in e.items():
            out[name][k] = x
        out["energy"][k] = sum(e.values())
    out["v_threshold"] = np.asarray(vm)
    return out


def waveforms(run: dict[str, np.ndarray], params: DcimParams, n_pairs: int, points: int = WAVE_POINTS):
    """``(t, bl, blb)``: every column's bit-line transients per cycle on a uniform grid of one cycle
    (``bl``, ``blb`` of shape (pairs, N, points))."""
    tl = timeline(params, n_pairs)
    t = np.asarray(run["time"], dtype=float)
    rel = np.linspace(0.0, tl.period, points)
    bl = np.stack([np.stack([np.interp(tl.start[k] + rel, t, np.asarray(run[f"v(bl_{j})"], dtype=float))
                             for j in range(params.n_bits)]) for k in range(n_pairs)])
    blb = np.stack([np.stack([np.interp(tl.start[k] + rel, t, np.asarray(run[f"v(blb_{j})"], dtype=float))
                              for j in range(params.n_bits)]) for k in range(n_pairs)])
    return rel, bl, blb


class DcimRecipe(Recipe):
    """The bitline-computing add's recipe: one deck of P adds per supply."""

    kind = Kind.DCIM_ADD
    version = RECIPE
    generator = "charz.blocks.dcim.netlist.add_netlist + charz.blocks.dcim.recipe.characterize_dcim"


def characterize_dcim(
    pdk: PDK | str,
    n_bits: int = 8,
    vdd: Sequence[float] | float | None = None,
    pairs: Sequence[Sequence[int]] | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    fit_check: bool = True,
    mismatch_beta: bool = False,
    **dcim_params,
) -> LUT:
    """Characterize the N-bit bitline-computing add over a VDD grid and operand pairs.

    Parameters
    ----------
    pdk: the PDK or its name. n_bits: word length N. vdd: supply grid (default: the PDK's nominal).
    temp: one temperature (default 27 degC; the LUT has no temperature axis).
    pairs: operand pairs ((P, 2) integers; default :func:`~charz.blocks.dcim.netlist.default_pairs`).
    mc, seed: Monte Carlo instances per supply and the seed of the mismatch draw.
    executor, use_cache, progress: where simulations run, the result cache and progress bars.
    fit_check: with two or more supplies, re-run at their midpoints and store the interpolation error of
        ``energy`` and ``delay`` in ``lut.fit_quality``.
    mismatch_beta: also draw current-factor mismatch.
    dcim_params: further :class:`~charz.blocks.dcim.netlist.DcimParams` fields.
    """
    r = DcimRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                   fit_check=fit_check)
    pdk, mc = r.pdk, r.mc
    unknown = set(dcim_params) - set(DCIM_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown dcim_add parameter(s) {sorted(unknown)}: use {list(DCIM_OPTIONS)}")
    vdds, temps = r.vdds(vdd), r.temps(temp)
    if len(temps) != 1:
        raise ParameterError(f"dcim_add runs at one temperature, got {temps}: give one --temp")
    base = DcimParams(pdk=pdk.name, n_bits=n_bits, vdd=vdds[0], temp=temps[0], **dcim_params)
    pr = check_pairs(base, default_pairs(base.n_bits) if pairs is None else pairs)
    P = pr.shape[0]
    params = [base.replace(vdd=v) for v in vdds]
    points = [({"vdd": p.vdd}, add_netlist(p, pr, pdk)) for p in params]
    fit_params = [base.replace(vdd=round(v, 9)) for v in midpoints(vdds)] if fit_check else []
    draws = r.draws(dcim_devices(base, P, pdk), mismatch_beta)
    with r:
        res = r.run(points, draws, desc=f"dcim_add{base.n_bits} " + ("nominal" if draws is None else f"nominal + {mc} MC"),
                    timeout=600.0, chunk=4)
        fit_runs = []
        if fit_params:
            fpts = [({"vdd": p.vdd, "fit": "off-grid"}, add_netlist(p, pr, pdk)) for p in fit_params]
            fit_runs = r.run(fpts, desc=f"dcim_add{base.n_bits} fit check", timeout=600.0, fit=True).nominal

    shape = (len(vdds), P)
    tables = {k: np.full(shape, np.nan) for k in MEASURED}
    samples = {k: np.full(shape + (mc,), np.nan) for k in SAMPLED} if mc > 0 else {}
    wave_t = np.linspace(0.0, timeline(base, 1).period, WAVE_POINTS)
    wave_bl = np.full(shape + (base.n_bits, WAVE_POINTS), np.nan)
    wave_blb = np.full_like(wave_bl, np.nan)
    vth = np.full(len(vdds), np.nan)
    for i, (p, run, mc_runs) in enumerate(zip(params, res.nominal, res.mc)):
        if run is not None:
            meas = measure_cycles(run, p, pr)
            for k in MEASURED:
                tables[k][i] = meas[k]
            vth[i] = float(meas["v_threshold"])
            _, wave_bl[i], wave_blb[i] = waveforms(run, p, P)
        for s, srun in enumerate(mc_runs):
            if srun is not None:
                meas = measure_cycles(srun, p, pr)
                for k in SAMPLED:
                    samples[k][i, :, s] = meas[k]
    units = {k: UNITS[k] for k in tables}
    if mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for k in ("energy", "delay", "sense_margin"):
                mean, sigma = sample_stats(samples[k])
                tables[f"{k}_mean"], units[f"{k}_mean"] = mean, UNITS[k]
                tables[f"{k}_sigma"], units[f"{k}_sigma"] = sigma, UNITS[k]
            err = samples["error"]
            n_ok = np.sum(np.isfinite(err), axis=-1)
            tables["error_rate"] = np.where(n_ok > 0, np.nansum(err > 0, axis=-1) / np.maximum(n_ok, 1), np.nan)
            units["error_rate"] = "1"
    notes: list[str] = []
    wrong = int(np.nansum(tables["correct"] == 0))
    if wrong:
        notes.append(f"{BLOCK}: {wrong} nominal add(s) gave a wrong sum: see the sum and correct tables")
        log.warning(notes[-1])
    if np.nansum(tables["flips"]) > 0:
        notes.append(f"{BLOCK}: an operand cell flipped (read disturb with two rows on): lower vwl_ratio or t_wl")
        log.warning(notes[-1])
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("pair", "1", np.arange(P, dtype=float), discrete=True))
    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    gen_params = base.as_dict()
    gen_params.pop("vdd")
    gen_params.update({"vdd_grid": vdds, "mismatch_beta": mismatch_beta, "pairs": pr.tolist()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        checks = {"sense_margin_min_V": round(float(np.nanmin(tables["sense_margin"])), 6),
                  "margin_and_min_V": round(float(np.nanmin(tables["margin_and"])), 6),
                  "disturb_bump_max_V": round(float(np.nanmax(tables["disturb_bump"])), 6),
                  "disturb_droop_max_V": round(float(np.nanmax(tables["disturb_droop"])), 6),
                  "nominal_wrong_sums": wrong}
    prov = r.provenance(gen_params, [points[i_nom][1].sha256], draws=draws, mismatch_beta=mismatch_beta,
                        netlist_sha256_at=f"vdd={vdds[i_nom]:g}", checks=checks, warnings=notes)
    arrays = {"wave_t": wave_t, "wave_bl": wave_bl, "wave_blb": wave_blb, "pair_a": pr[:, 0].astype(float),
              "pair_b": pr[:, 1].astype(float), "v_threshold": vth}
    if draws is not None:
        arrays.update(draws.arrays())
    lut = LUT(block=Kind.DCIM_ADD, axes=axes, tables=tables, units=units, samples=samples,
              conditions=_conditions(base, pr), provenance=prov, arrays=arrays)
    cases = []
    for p, run in zip(fit_params, fit_runs):
        if run is not None:
            meas = measure_cycles(run, p, pr)
            cases += [({"vdd": p.vdd, "pair": k}, {"energy": meas["energy"][k], "delay": meas["delay"][k]})
                      for k in range(P)]
    lut.fit_quality = Recipe.fit_quality(lut, cases, ("energy", "delay"), UNITS)
    return lut


def _conditions(base: DcimParams, pr: np.ndarray) -> dict:
    tl = timeline(base, 1)
    return {
        "n_bits": base.n_bits, "rows": base.rows, "temp": base.temp, "vwl_ratio": base.vwl_ratio,
        "pairs": [[int(a), int(b)] for a, b in pr],
        "operation": "two rows' word lines raised together on precharged bit lines: BL = a AND b, BLB = a NOR b; "
                     "skewed sense inverters; static NAND2 ripple-carry adder per column (c_0 = 0)",
        "energy": "VDD x charge per add: precharge (bit-line precharge + cell supplies + pre_b clock), word lines "
                  "(VWL x driver charge), sense inverters, adder",
        "delay": "word lines' 50 % point to the last VDD / 2 crossing of a sum bit or the carry out",
        "sense_margin": "smallest distance of a bit line from the sense threshold (replica inverter) at the sense "
                        "instant, positive = correct side",
        "t_wl": base.t_wl, "t_eval": base.t_eval, "t_pre": base.t_pre, "t_edge": base.t_edge,
        "sense_instant_s": tl.sense, "read_instant_s": tl.read, "wl_50_s": tl.wl_50, "cycle_s": tl.period,
        "w_pre": base.w_pre, "w_sp": base.w_sp, "w_sn": base.w_sn, "l_sn": base.l_sn, "w_ln": base.w_ln,
        "w_lp": base.w_lp, "c_bl_cell": base.c_bl_cell, "c_wl_cell": base.c_wl_cell, "c_load": base.c_load,
    }


def characterize(kind: str, pdk, *, word_bits=None, pairs=None, vwl_ratio=None, beta_mismatch: bool = False,
                 **common) -> LUT:
    """The registry's entry (``charz characterize dcim_add``): *word_bits* the word length N (None = 8),
    *pairs* the operand pairs (None = the default set), *vwl_ratio* the word-line level / VDD (None = 0.7),
    *beta_mismatch* also current-factor mismatch; *common* as :attr:`charz.blocks.base.Block.recipe`."""
    kw = {"vwl_ratio": vwl_ratio} if vwl_ratio is not None else {}
    if isinstance(pairs, str):
        pairs = parse_pairs(pairs)
    return characterize_dcim(pdk, n_bits=8 if word_bits is None else word_bits, pairs=pairs,
                             mismatch_beta=beta_mismatch, **kw, **common)


def parse_pairs(text: str) -> list[tuple[int, int]]:
    """``"255+0,127+1"`` as [(255, 0), (127, 1)] (decimal or 0x hex); a one-line ParameterError otherwise."""
    out = []
    for item in str(text).split(","):
        a, sep, b = item.strip().partition("+")
        try:
            if not sep:
                raise ValueError
            out.append((int(a.strip(), 0), int(b.strip(), 0)))
        except ValueError:
            raise ParameterError(f"--pairs {text!r}: write A+B pairs separated by commas, e.g. 255+0,127+1") from None
    return out


__all__ = ["characterize_dcim", "DcimRecipe", "measure_cycles", "waveforms", "RECIPE", "parse_pairs"]
