"""(j) Design-space exploration: design points per hour on this machine, and a 1,000-job sweep on Dask.

Part 1: ``charz explore`` as a user runs it (a subprocess per run, result cache off, a fresh study folder),
``--trials N`` points of a shipped space with ``--workers 1`` and ``--workers 2`` (the local ngspice pool).
Design points per hour = completed points / wall time of the command (process start, dataset load,
characterization, fit check, network evaluation and report all counted). The per-point split
(characterization / evaluation) is read from the study's own ``points.json``.

Part 2: a 1,000-job ngspice sweep (every bitcell testbench, 6T and 8T, over a VDD x temperature grid, each
job a distinct deck so nothing repeats, 4 Monte Carlo samples per job, i.e. 4,000 ngspice runs) through :func:`charz.sim.executor.run_jobs` with the cache off, on

- the local process pool (the default executor) with 2 workers: the baseline, the fastest honest way to run
  these jobs on this machine;
- a ``distributed.LocalCluster`` of 1 and 2 worker processes (1 thread each), charz's ``DaskExecutor``.

Workers are started and warmed (imports, ngspice loaded) before the timing. Efficiency = wall(Dask, 1 worker) /
(workers x wall). A plain script, not a timed test; run it on a quiet machine.
``--quick``: 2 points and 100 jobs, to check that it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine  # noqa: E402

from charz.blocks.bitcell.netlist import BitcellParams, netlists as testbenches  # noqa: E402
from charz.core import pdk as P  # noqa: E402
from charz.core.mc import Mismatch, draw  # noqa: E402
from charz.sim.executor import DaskExecutor, LocalPoolExecutor, run_jobs  # noqa: E402
from charz.sim.runner import SimJob  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def explore_run(space: str, model: str, dataset: str, trials: int, workers: int, tmp: Path) -> dict:
    """One ``charz explore`` command; its wall time and the study's per-point times."""
    out = tmp / f"{space}-w{workers}"
    charz = Path(sys.executable).with_name("charz")
    cmd = [str(charz), "explore", space, "--space", space, "--model", model, "--dataset", dataset,
           "--out", str(out), "--trials", str(trials), "--workers", str(workers), "--no-cache", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    pts = json.loads((out / "points.json").read_text())
    done = pts["points"]  # the completed points only
    char = [p["characterize_s"] for p in done if p.get("characterize_s") is not None]
    ev = [p["evaluate_s"] for p in done if p.get("evaluate_s") is not None]
    return dict(space=space, workers=workers, points=len(done), wall=wall, per_hour=3600 * len(done) / wall,
                char=float(np.mean(char)) if char else float("nan"), ev=float(np.mean(ev)) if ev else float("nan"),
                cmd=" ".join(["charz"] + cmd[1:]))


def sweep_jobs(n: int, pdk_name: str, mc: int = 4) -> list[SimJob]:
    """*n* distinct bitcell testbench decks (6T and 8T, every testbench) over a VDD x temperature grid, each job
    *mc* Monte Carlo samples of its deck (*mc* ngspice runs, as a recipe's Monte Carlo chunk)."""
    pdk = P.get(pdk_name)
    temps = (-40.0, 0.0, 27.0, 85.0)
    per = len(testbenches(BitcellParams(cell="6t", pdk=pdk.name, vdd=pdk.vdd_nom, temp=27.0))) * 2
    n_vdd = -(-n // (per * len(temps)))
    jobs = []
    for v in np.round(np.linspace(0.8, 1.2, n_vdd) * pdk.vdd_nom, 5):
        for t in temps:
            for cell in ("6t", "8t"):
                for nl in testbenches(BitcellParams(cell=cell, pdk=pdk.name, vdd=float(v), temp=t)).values():
                    d = draw(Mismatch(pdk.avt_mv_um), nl.devices, mc, seed=1)
                    jobs.append(SimJob(nl, d.samples(), recipe="bench"))
    return jobs[:n]


def _warm_worker() -> bool:
    from charz.sim import runner  # noqa: F401  (imports and ngspice loading are not timed)
    return True


def timed_sweep(jobs, executor) -> tuple[float, int]:
    run_jobs(jobs[:8], executor=executor, use_cache=False, progress=False)  # start and warm the workers
    t0 = time.perf_counter()
    res = run_jobs(jobs, executor=executor, use_cache=False, progress=False)
    return time.perf_counter() - t0, len(res.failures)


def sweep(n: int, pdk: str) -> list[dict]:
    import distributed

    jobs = sweep_jobs(n, pdk)
    rows = []
    for workers in (2,):  # the baseline: charz's default executor on both cores
        ex = LocalPoolExecutor(workers)
        try:
            wall, failed = timed_sweep(jobs, ex)
        finally:
            ex.close()
        rows.append(dict(executor="local pool", workers=workers, wall=wall, failed=failed))
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            client.run(_warm_worker)
            ex = DaskExecutor(client=client)
            wall, failed = timed_sweep(jobs, ex)
        rows.append(dict(executor="Dask LocalCluster", workers=workers, wall=wall, failed=failed))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 points and 100 jobs: check that it runs")
    ap.add_argument("--trials", type=int, default=4, help="points per explore run (part 1)")
    ap.add_argument("--jobs", type=int, default=1000, help="jobs of the sweep (part 2)")
    ap.add_argument("--pdk", default="ptm16hp")
    ap.add_argument("--skip-explore", action="store_true")
    ap.add_argument("--skip-sweep", action="store_true")
    a = ap.parse_args()
    trials, n = (2, 100) if a.quick else (a.trials, a.jobs)
    print(f"machine: {machine()}")
    if not a.skip_explore:
        with tempfile.TemporaryDirectory(prefix="charz-bench-explore-") as tmp:
            rows = [explore_run("cim_column", "lenet5", "mnist", trials, w, Path(tmp)) for w in (1, 2)]
        print(f"Part 1: charz explore, {trials} points per run, cache off")
        print(f"  {'space':<11} {'workers':>7} {'points':>6} {'wall s':>7} {'points/h':>8} "
              f"{'characterize s/pt':>17} {'evaluate s/pt':>13}")
        for r in rows:
            print(f"  {r['space']:<11} {r['workers']:>7} {r['points']:>6} {r['wall']:>7.1f} {r['per_hour']:>8.0f} "
                  f"{r['char']:>17.1f} {r['ev']:>13.1f}")
        print(f"  command: {rows[-1]['cmd']}")
    if not a.skip_sweep:
        rows = sweep(n, a.pdk)
        print(f"Part 2: {n}-job sweep (bitcell testbenches, distinct decks, 4 Monte Carlo runs per job), cache off")
        print(f"  {'executor':<18} {'workers':>7} {'wall s':>7} {'jobs/s':>7} {'failed':>6} {'efficiency':>10}")
        base = next(r["wall"] for r in rows if r["executor"] != "local pool" and r["workers"] == 1)
        for r in rows:
            eff = base / (r["workers"] * r["wall"])
            print(f"  {r['executor']:<18} {r['workers']:>7} {r['wall']:>7.1f} {n / r['wall']:>7.1f} {r['failed']:>6} "
                  f"{100 * eff:>9.0f}%")
        pool2 = next(r["wall"] for r in rows if r["executor"] == "local pool" and r["workers"] == 2)
        dask2 = next(r["wall"] for r in rows if r["executor"] != "local pool" and r["workers"] == 2)
        print(f"  Dask on 2 workers against the local pool on 2 workers: {pool2 / dask2:.2f}x the throughput")


if __name__ == "__main__":
    main()
