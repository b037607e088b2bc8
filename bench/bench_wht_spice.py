"""(f) Full WHT crossbar in ngspice: runtime of a whole R x R array deck against the one-column decks
the LUT is made from.

For R = 16 (default) the crossbar deck has every cell (2 R^2 NMOS), the precharge and the latches of
all R columns; random signed 8-bit vectors (seed 0), every non-zero plane one clock cycle. Reported:
wall and ngspice analysis seconds, seconds per plane of the whole array and per column-plane decision,
and the same for a one-column (k+, k-) deck of the same number of cycles (the LUT recipe's deck), so
the ratio says what simulating the array costs over characterizing one column. One worker, cache off.
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
from charz.blocks.wht.model_planes import signed_planes_msb  # noqa: E402
from charz.blocks.wht.check import random_vectors  # noqa: E402
from charz.blocks.wht.netlist import WhtParams, pairs_netlist, planes_netlist, reachable_pairs  # noqa: E402
from charz.sim.runner import SimJob, execute  # noqa: E402


def _time(nl) -> tuple[float, float]:
    t0 = time.perf_counter()
    r = execute(SimJob(nl, (), "bench", 600))
    if not hasattr(r, "runs"):
        raise SystemExit(f"simulation failed: {r.message()}")
    return time.perf_counter() - t0, r.analysis_seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--vectors", type=int, default=2)
    ap.add_argument("--vdd", type=float, default=0.8)
    ap.add_argument("--ternary", action="store_true")
    a = ap.parse_args()
    print(machine())
    pdk = P.get("ptm16hp")
    arr = WhtParams(pdk="ptm16hp", n_rows=a.rows, n_cols=a.rows, vdd=a.vdd, ternary=a.ternary)
    x = random_vectors(a.vectors, a.rows, 8, 0)
    pl = signed_planes_msb(x, 8).reshape(-1, a.rows)
    pl = pl[np.any(pl != 0, axis=1)]
    col = arr.replace(columns=(0,))
    pairs = reachable_pairs(a.rows)[1:pl.shape[0] + 1]
    rows = []
    for label, nl, decisions in (("one column, (k+, k-) deck", pairs_netlist(col, pairs, pdk), len(pairs)),
                                 (f"{a.rows}x{a.rows} crossbar", planes_netlist(arr, pl, pdk, bitlines=False),
                                  pl.shape[0] * a.rows)):
        wall, an = _time(nl)
        rows.append((label, len(nl.devices), pl.shape[0], wall, an, decisions))
    print(f"\nptm16hp, VDD {a.vdd} V, {'ternary pair' if a.ternary else 'sign latch'}, {pl.shape[0]} planes "
          f"({a.vectors} random signed 8-bit vectors)")
    print("| deck | transistors | cycles | wall s | ngspice s | s per cycle | ms per column-plane decision |")
    print("|---|---|---|---|---|---|---|")
    for label, nd, cyc, wall, an, dec in rows:
        print(f"| {label} | {nd} | {cyc} | {wall:.1f} | {an:.1f} | {an / cyc:.3f} | {1e3 * an / dec:.1f} |")
    print(f"\narray / column analysis time for the same number of cycles: {rows[1][4] / rows[0][4]:.1f}x "
          f"({rows[1][5] // rows[0][5]}x the decisions)")


if __name__ == "__main__":
    main()
