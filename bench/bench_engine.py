"""(a) Engine overhead: wall time of a bitcell sweep against ngspice's own analysis time.

Every testbench of the 6T and 8T cells (butterflies, write sweep, read current, leakage, read energy)
over a VDD x temperature grid, nominal plus Monte Carlo chunks, run on the local process pool with one
ngspice per core (both cores busy), cache off. ngspice's own analysis time is its `rusage time` per job.

  overhead (workers) = sum(job wall time in the workers) / sum(ngspice analysis time) - 1
  overhead (sweep)   = sweep wall time / (sum(ngspice analysis time) / workers) - 1

The first is what the engine adds around ngspice (load, alter, vector copy, cleanup); the second also
counts process start-up, inter-process transfer and load imbalance at the end of the sweep.
Goal: overhead <= 10 %.
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
from charz.core.mc import Mismatch, draw  # noqa: E402
from charz.blocks.bitcell.netlist import BitcellParams, netlists as testbenches  # noqa: E402
from charz.sim.executor import LocalPoolExecutor, run_jobs  # noqa: E402
from charz.sim.runner import SimJob  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdk", default="ptm16hp")
    ap.add_argument("--mc", type=int, default=25, help="Monte Carlo samples per point (one chunk)")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    pdk = P.get(args.pdk)
    vdds = np.round(np.linspace(0.85, 1.15, 4) * pdk.vdd_nom, 4)
    temps = (27.0, 85.0)
    jobs = []
    for cell in ("6t", "8t"):
        for v in vdds:
            for t in temps:
                for tb, nl in testbenches(BitcellParams(cell=cell, pdk=pdk.name, vdd=float(v), temp=t)).items():
                    jobs.append(SimJob(nl, recipe="bench"))
                    if args.mc:
                        d = draw(Mismatch(pdk.avt_mv_um), nl.devices, args.mc, seed=1)
                        jobs.append(SimJob(nl, d.samples(), recipe="bench"))
    ex = LocalPoolExecutor(args.workers)
    try:
        run_jobs(jobs[: args.workers * 2], executor=ex, use_cache=False, progress=False)  # start the workers
        t0 = time.perf_counter()
        res = run_jobs(jobs, executor=ex, use_cache=False, progress=False)
        wall = time.perf_counter() - t0
    finally:
        ex.close()
    ok = [r for r in res.results if r is not None]
    ng = sum(r.ngspice_seconds for r in ok)
    worker_wall = sum(r.wall_seconds for r in ok)
    runs = sum(len(r.runs) for r in ok)
    print(f"machine: {machine()}")
    print(f"sweep: {len(jobs)} jobs, {runs} ngspice runs ({len(res.failures)} failed), {args.workers} workers, "
          f"cells 6T+8T, 6 testbenches, VDD {[float(v) for v in vdds]} V, T {list(temps)} degC, MC {args.mc}/point")
    print(f"{'quantity':<44}{'value':>12}")
    print(f"{'sweep wall time (s)':<44}{wall:>12.2f}")
    print(f"{'sum of ngspice analysis time (s)':<44}{ng:>12.2f}")
    print(f"{'sum of job wall time in workers (s)':<44}{worker_wall:>12.2f}")
    print(f"{'overhead in the workers':<44}{100 * (worker_wall / ng - 1):>11.1f}%")
    print(f"{'overhead of the whole sweep':<44}{100 * (wall / (ng / args.workers) - 1):>11.1f}%")
    print(f"{'runs per second':<44}{runs / wall:>12.1f}")


if __name__ == "__main__":
    main()
