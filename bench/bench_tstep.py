"""(k) A coarser maximum time step for the delay-line and comparator decks: ngspice time saved against what
the LUT figures move.

Each block is characterized twice or more at one corner (ptm16hp unless ``--pdk``, ``--vdd``, 27 degC), the
same Monte Carlo instances (same seed) every time, cache off, ``--workers`` ngspice workers, no fit check:
at its default ``t_step`` and at each coarser step of ``--factors`` (x the default). Reported per step:

- ngspice analysis time (the sum over the runs, from the LUT's provenance) and the ratio to the default;
- the largest change of every figure against the default step's LUT: the delay line's delay per code
  (nominal, and per Monte Carlo instance, in ps and in unit delays tau), tau, energy per cycle; the
  comparator's offset per Monte Carlo instance (mV), its sigma, the decision time and the energy per decision
  over the input steps dv (relative).

A coarser step is accepted where every change stays inside the tolerance printed beside it: a small fraction of
what the behavioural models resolve (delay: 0.05 tau, a twentieth of a TDC threshold spacing; offset: 0.5 mV
against a sigma of 10-20 mV; times and energies: 1 %), and inside the LUT's own off-grid fit error where it has
one. A plain script, not a timed test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine  # noqa: E402

from charz.core import pdk as P  # noqa: E402
from charz.blocks.comparator.netlist import ComparatorParams  # noqa: E402
from charz.blocks.comparator.recipe import characterize_comparator  # noqa: E402
from charz.blocks.td_mac.netlist import DelayLineParams  # noqa: E402
from charz.blocks.td_mac.recipe_delay import characterize_delay  # noqa: E402
from charz.sim.executor import LocalPoolExecutor  # noqa: E402


def _max_abs(a, b) -> float:
    d = np.abs(np.asarray(a, float) - np.asarray(b, float))
    return float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")


def _max_rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = np.abs(a - b) / np.abs(b)
    return float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")


def run(fn, steps, workers: int, **kw) -> list[tuple[float, object, float]]:
    out = []
    for st in steps:
        ex = LocalPoolExecutor(workers)
        try:
            t0 = time.perf_counter()
            lut = fn(executor=ex, t_step=st, use_cache=False, progress=False, fit_check=False, **kw)
            wall = time.perf_counter() - t0
        finally:
            ex.close()
        out.append((st, lut, wall))
    return out


def delay_rows(res):
    st0, ref, _ = res[0]
    tau = float(np.nanmean(ref.tables["tau"]))
    rows = []
    for st, lut, wall in res:
        d = _max_abs(lut.tables["delay"], ref.tables["delay"])
        dmc = _max_abs(lut.samples["delay"], ref.samples["delay"]) if lut.samples else float("nan")
        rows.append(dict(step=st, ng=lut.provenance["analysis_seconds"], wall=wall,
                         delay_ps=1e12 * d, delay_tau=d / tau, mc_ps=1e12 * dmc, mc_tau=dmc / tau,
                         tau_rel=_max_rel(lut.tables["tau"], ref.tables["tau"]),
                         energy_rel=_max_rel(lut.tables["energy"], ref.tables["energy"])))
    return rows, tau


def comparator_rows(res):
    st0, ref, _ = res[0]
    rows = []
    for st, lut, wall in res:
        rows.append(dict(step=st, ng=lut.provenance["analysis_seconds"], wall=wall,
                         offset_mv=1e3 * _max_abs(lut.samples["offset"], ref.samples["offset"])
                         if lut.samples else float("nan"),
                         sigma_mv=1e3 * _max_abs(lut.tables["offset_sigma"], ref.tables["offset_sigma"]),
                         td_rel=_max_rel(lut.tables["t_decision"], ref.tables["t_decision"]),
                         energy_rel=_max_rel(lut.tables["energy"], ref.tables["energy"])))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdk", default="ptm16hp")
    ap.add_argument("--vdd", type=float, default=0.7)
    ap.add_argument("--mc", type=int, default=8, help="Monte Carlo instances (the same in every run)")
    ap.add_argument("--factors", default="2,4", help="coarser steps as multiples of the default")
    ap.add_argument("--workers", type=int, default=1, help="ngspice worker processes (ngspice time is summed over them)")
    ap.add_argument("--skip-delay", action="store_true")
    ap.add_argument("--skip-comparator", action="store_true")
    a = ap.parse_args()
    pdk = P.get(a.pdk)
    factors = [1.0] + [float(f) for f in a.factors.split(",")]
    print(f"machine: {machine()}")
    ok = True
    if not a.skip_delay:
        d0 = DelayLineParams(pdk=pdk.name, vdd=a.vdd).t_step
        steps = [round(d0 * f, 15) for f in factors]
        rows, tau = delay_rows(run(characterize_delay, steps, a.workers, pdk=pdk, vdd=a.vdd, temp=27.0, mc=a.mc, seed=1))
        print(f"Delay line (4-bit, {pdk.name}, {a.vdd} V, 27 degC, {a.mc} Monte Carlo instances, 16 codes), "
              f"tau = {1e12 * tau:.2f} ps; tolerance: delay 0.05 tau, tau and energy 1 %")
        print(f"  {'t_step ps':>9} {'ngspice s':>9} {'speed-up':>8} {'delay ps':>8} {'(tau)':>7} {'MC delay ps':>11} "
              f"{'(tau)':>7} {'tau':>7} {'energy':>7} {'within':>6}")
        for r in rows:
            within = r["delay_tau"] <= 0.05 and r["mc_tau"] <= 0.05 and r["tau_rel"] <= 0.01 and r["energy_rel"] <= 0.01
            ok &= within
            print(f"  {1e12 * r['step']:>9.2f} {r['ng']:>9.1f} {rows[0]['ng'] / r['ng']:>7.2f}x {r['delay_ps']:>8.3f} "
                  f"{r['delay_tau']:>7.4f} {r['mc_ps']:>11.3f} {r['mc_tau']:>7.4f} {100 * r['tau_rel']:>6.2f}% "
                  f"{100 * r['energy_rel']:>6.2f}% {'yes' if within else 'NO':>6}")
    if not a.skip_comparator:
        c0 = ComparatorParams(pdk=pdk.name, vdd=a.vdd).t_step
        steps = [round(c0 * f, 15) for f in factors]
        rows = comparator_rows(run(characterize_comparator, steps, a.workers, pdk=pdk, vdd=a.vdd, temp=27.0, mc=a.mc, seed=1))
        print(f"Comparator (StrongARM, {pdk.name}, {a.vdd} V, 27 degC, {a.mc} Monte Carlo instances, 16 input steps); "
              f"tolerance: offset 0.5 mV, decision time and energy 1 %")
        print(f"  {'t_step ps':>9} {'ngspice s':>9} {'speed-up':>8} {'offset mV':>9} {'sigma mV':>8} "
              f"{'t_decision':>10} {'energy':>7} {'within':>6}")
        for r in rows:
            within = r["offset_mv"] <= 0.5 and r["sigma_mv"] <= 0.5 and r["td_rel"] <= 0.01 and r["energy_rel"] <= 0.01
            ok &= within
            print(f"  {1e12 * r['step']:>9.2f} {r['ng']:>9.1f} {rows[0]['ng'] / r['ng']:>7.2f}x {r['offset_mv']:>9.3f} "
                  f"{r['sigma_mv']:>8.3f} {100 * r['td_rel']:>9.2f}% {100 * r['energy_rel']:>6.2f}% "
                  f"{'yes' if within else 'NO':>6}")
    print("changes: largest absolute (delay, offset) or relative (tau, t_decision, energy) difference from the "
          "default step's LUT over every code / input step / instance")


if __name__ == "__main__":
    main()
