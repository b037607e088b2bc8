"""Characterization of the time-domain FP8 MAC's blocks: the registry's entry point :func:`characterize`
(``charz characterize td_delay|td_tdc|td_acc|td_arbiter``), the charge accumulation line -> ``td_acc``
(:func:`characterize_acc`: linearity and energy, nominal) and the NAND-mutex arbiter -> ``td_arbiter``
(:func:`characterize_arbiter`: winner, decision time, metastability and offset spread), with the waveform
measurements of the time comparison decks (:func:`arbiter_decisions`, :func:`latest_delays`). The delay line
(``td_delay``) is in :mod:`charz.blocks.td_mac.recipe_delay`, the TDC (``td_tdc``) in
:mod:`charz.blocks.td_mac.recipe_tdc`.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Sequence

import numpy as np

from ...core.errors import ParameterError
from ...core.grid import grid
from ...core.validate import finite
from ...core.lut import LUT, Axis, Kind
from ...core.pdk import PDK
from ...sim.executor import Executor
from ...characterize.common import integral
from ...characterize.recipe import Recipe
from .recipe_delay import _cross, characterize_delay
from .recipe_tdc import characterize_tdc


def characterize(kind: str, pdk, *, bits=None, length=None, window=None, bias_trim=None, **common) -> LUT:
    """The registry's entry (``charz characterize td_delay|td_tdc|td_acc|td_arbiter``): *bits* exponent bits
    per line (td_delay, td_tdc; None = 4), *length* FP8 pairs per scalar product (td_tdc, td_acc; None = 16),
    *window* element-TDC taps (td_tdc; None = 8), *bias_trim* the starve-bias ratios as text (td_delay,
    ``--bias-trim``; None = no bias trim); *common* as :attr:`charz.blocks.base.Block.recipe`
    (td_tdc, td_acc and td_arbiter have no off-grid fit check; td_acc has no Monte Carlo)."""
    extra = {k: v for k, v in (("length", length), ("window", window)) if v is not None}
    if kind == Kind.TD_DELAY:
        return characterize_delay(pdk, **({"bits": bits} if bits is not None else {}),
                                  bias_trim=grid(bias_trim, "--bias-trim"), **common)
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


__all__ = ["characterize", "characterize_acc", "characterize_arbiter", "AccRecipe", "ArbiterRecipe",
           "arbiter_decisions", "latest_delays", "ACC_RECIPE", "ARB_RECIPE"]


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
    from .netlist_acc import acc_times

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
    generator = "charz.blocks.td_mac.netlist_acc.acc_netlist + charz.blocks.td_mac.recipe.characterize_acc"


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
    from .netlist_acc import AccParams, acc_netlist

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
