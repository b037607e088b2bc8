"""(i) Column decks with ideal storage nodes: ngspice time saved and what it changes in the LUT.

The same cim_column characterization twice, inline in this process (one ngspice session at a time, cache
off, no fit check): ``storage="6t"`` (the cells' 6T cores hold the weights, the default) and
``storage="ideal"`` (every read driver's gate tied to the cell supply or to ground, no 6T core in the
decks). Monte Carlo draws over the whole physical column in both, so sample s is the same instance and the
per-sample differences are the approximation's own. Reported: ngspice analysis time (summed over every
run, from charz's engine) and wall time of each characterization, their ratios, and the largest
|V_BL| and relative energy differences, nominal and per sample, beside the Monte Carlo sigma.

    .venv/bin/python bench/bench_column_storage.py [--rows 16] [--mc 16] [--vdd 0.7] [--quick]
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
from charz.blocks.cim_column.recipe import characterize_column  # noqa: E402
from charz.sim.executor import InlineExecutor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=16, help="cells on the bitline (default 16)")
    ap.add_argument("--mc", type=int, default=16, help="Monte Carlo samples (default 16)")
    ap.add_argument("--vdd", type=float, default=0.7)
    ap.add_argument("--pdk", default="ptm16hp")
    ap.add_argument("--quick", action="store_true", help="8 rows, 2 samples (a smoke run)")
    a = ap.parse_args()
    if a.quick:
        a.rows, a.mc = 8, 2
    pdk = P.get(a.pdk)
    luts, wall = {}, {}
    for st in ("6t", "ideal"):
        t0 = time.perf_counter()
        luts[st] = characterize_column(pdk, n_rows=a.rows, vdd=a.vdd, t_pulse=100e-12, mc=a.mc, seed=1,
                                       executor=InlineExecutor(), progress=False, use_cache=False,
                                       fit_check=False, storage=st)
        wall[st] = time.perf_counter() - t0
    six, ideal = luts["6t"], luts["ideal"]
    an = {k: float(v.provenance["analysis_seconds"]) for k, v in luts.items()}
    runs = (a.rows + 1) * (a.mc + 1)
    dn = 1e3 * np.abs(ideal.tables["vbl"] - six.tables["vbl"]).ravel()
    ds = 1e3 * np.abs(ideal.samples["vbl"] - six.samples["vbl"]) if a.mc else np.zeros(1)
    sig = 1e3 * six.tables["vbl_sigma"].ravel() if a.mc else np.zeros(1)
    en = np.abs(ideal.tables["energy"] / six.tables["energy"] - 1).ravel()
    es = np.abs(ideal.samples["energy"] / six.samples["energy"] - 1) if a.mc else np.zeros(1)
    print(f"cim_column {a.rows} rows, {a.pdk} at {a.vdd} V, T = 100 ps, k = 0..{a.rows}, nominal + {a.mc} Monte "
          f"Carlo samples (seed 1): {runs} ngspice runs per storage mode, inline, cache off")
    print(f"machine: {machine()}")
    print()
    print("| storage | ngspice analysis [s] | wall [s] | analysis per run [ms] |")
    print("|---|---:|---:|---:|")
    for st in ("6t", "ideal"):
        print(f"| {st} | {an[st]:.1f} | {wall[st]:.1f} | {1e3 * an[st] / runs:.1f} |")
    print(f"| ratio 6t / ideal | {an['6t'] / an['ideal']:.2f}x | {wall['6t'] / wall['ideal']:.2f}x | |")
    print()
    print(f"V_BL, ideal - 6t: nominal max |dV| {dn.max():.3f} mV (k = {int(np.argmax(dn))}); per sample max "
          f"|dV| {ds.max():.3f} mV, RMS {np.sqrt(np.mean(ds ** 2)):.3f} mV, against a Monte Carlo sigma of "
          f"{sig[1:].min():.1f}..{sig.max():.1f} mV (k >= 1)")
    print(f"energy, ideal / 6t - 1: nominal max {100 * en.max():.3f} %, per sample max {100 * es.max():.3f} %")


if __name__ == "__main__":
    main()
