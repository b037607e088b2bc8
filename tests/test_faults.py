"""Faults around the sweep: a worker killed mid-sweep, a job that kills its worker every time, workers
left behind by a killed parent, absurd Monte Carlo counts, and the lazy draws' exact values."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from charz.core import mc as mcmod
from charz.core.errors import ParameterError
from charz.core.mc import Mismatch, draw
from charz.netlist.spice import Device
from charz.sim.executor import InlineExecutor, LocalPoolExecutor, run_jobs
from charz.sim.runner import SimJob, execute
from tests.helpers import inverter

ROOT = Path(__file__).resolve().parents[1]
CHARZ = [sys.executable, "-m", "charz.cli"]
linux_only = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")


# ---------------------------------------------------------------------------------------------------
# processes


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _workers(pid: int) -> set[int]:
    """Pool workers started by *pid* (spawned interpreters; not the resource tracker)."""
    return {c for c in _children(pid) if "spawn_main" in _cmdline(c) and "resource_tracker" not in _cmdline(c)}


def _alive(pid: int) -> bool:
    """Running, i.e. not gone and not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(cond, timeout: float, step: float = 0.02):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def _has_ngspice(pid: int) -> bool:
    try:
        return "libngspice" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------
# a worker killed in the middle of a real sweep

COLUMN = dict(n_rows=8, vdd=0.7, mc=6, seed=2, fit_check=False, use_cache=False, progress=False)


@pytest.fixture(scope="module")
def column_ref():
    """The 8-row column with Monte Carlo, run inline without faults (18 jobs)."""
    from charz.blocks.cim_column.recipe import characterize_column

    return characterize_column("ptm16hp", executor=InlineExecutor(), **COLUMN)


def _same_lut(a, b) -> None:
    assert set(a.tables) == set(b.tables) and set(a.samples) == set(b.samples)
    for k in a.tables:
        np.testing.assert_array_equal(a.tables[k], b.tables[k])
    for k in a.samples:
        np.testing.assert_array_equal(a.samples[k], b.samples[k])
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k])


class KillOnce(LocalPoolExecutor):
    """A real pool whose worker is killed (SIGKILL, from outside) after the third result arrives."""

    killed: list[int]

    def map(self, jobs):
        self.killed = []
        before = _workers(os.getpid())
        for n, item in enumerate(super().map(jobs)):
            yield item
            if n == 2:
                pids = _workers(os.getpid())
                assert pids, "no pool worker found"
                for pid in pids - before or pids:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)


@linux_only
def test_killed_worker_is_replaced_and_the_lut_is_unchanged(column_ref, capsys):
    from charz.blocks.cim_column.recipe import characterize_column

    ex = KillOnce(1)
    try:
        lut = characterize_column("ptm16hp", executor=ex, **COLUMN)
    finally:
        ex.close()
    assert ex.killed and ex.pool_restarts == 1 and ex.resubmitted >= 1
    assert not lut.provenance["failed_points"] and lut.provenance["failed_mc_runs"] == 0
    _same_lut(lut, column_ref)
    err = capsys.readouterr().err
    assert "pool replaced" in err and "resubmitted" in err and err.count("pool replaced") == 1


def _cache_entries(root: Path) -> int:
    return sum(1 for p in root.glob("runs/*/*.npz") if not p.name.endswith(".part.npz"))


@linux_only
def test_cli_probe_kill_worker_mid_sweep(tmp_path, column_ref):
    """The issue's probe scaled down: `charz characterize cim_column ... --workers 1`, worker kill -9'd."""
    from charz.core.lut import LUT

    env = dict(os.environ, CHARZ_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    out = tmp_path / "col"
    cmd = CHARZ + ["characterize", "cim_column", "--pdk", "ptm16hp", "--rows", "8", "--vdd", "0.7", "--mc", "6",
                   "--seed", "2", "--workers", "1", "--no-fit-check", "--quiet", "-o", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: _cache_entries(tmp_path / "cache") >= 3, 60), "the sweep never started"
        pids = _workers(proc.pid)
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert stderr.count("pool replaced") == 1, stderr
    _same_lut(LUT.load(out), column_ref)


# ---------------------------------------------------------------------------------------------------
# a job that kills its worker every time it runs


def die_on_poison(job: SimJob):
    """Stands for a crash inside ngspice: the worker process dies (SIGKILL) on the job labelled poison."""
    if job.label == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(job)


class PoisonPool(LocalPoolExecutor):
    run_job = staticmethod(die_on_poison)


def test_job_that_kills_its_worker_fails_after_bounded_retries(capsys):
    jobs = [SimJob(inverter(0.55 + 0.05 * i), label=f"inv{i}") for i in range(4)]
    jobs.insert(1, SimJob(inverter(0.62), label="poison"))
    ex = PoisonPool(2)  # two workers: an innocent job running beside the poison one is blamed too, then cleared
    t0 = time.monotonic()
    try:
        res = run_jobs(jobs, executor=ex, use_cache=False, progress=False)
    finally:
        ex.close()
    assert time.monotonic() - t0 < 60
    assert [r is None for r in res.results] == [False, True, False, False, False]
    assert len(res.failures) == 1
    f = res.failures[0]
    assert f.job.label == "poison" and f.kind == "worker"
    assert "died each of the 3 times" in f.message()
    assert res.pool_restarts == 3 and res.resubmitted >= 2
    ref = run_jobs([j for j in jobs if j.label != "poison"], executor=InlineExecutor(), use_cache=False,
                   progress=False)
    for a, b in zip([r for r in res.results if r is not None], ref.results):
        np.testing.assert_array_equal(a.runs[0]["v(out)"], b.runs[0]["v(out)"])
    err = capsys.readouterr().err
    assert err.count("pool replaced") == 3 and "given up" in err


class CannotStart(LocalPoolExecutor):
    """Workers that die before they can run anything (as when the interpreter or ngspice cannot start)."""

    def _get_pool(self):
        import concurrent.futures as cf
        import multiprocessing as mp

        if self._pool is None:
            ctx = mp.get_context("spawn")
            self._slots = ctx.RawArray("q", [-1] * self.workers)
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=os._exit, initargs=(3,))
            self._used = 0
        return self._pool


def test_pool_that_keeps_breaking_before_any_job_runs_gives_up(capsys):
    ex = CannotStart(1)
    t0 = time.monotonic()
    try:
        res = run_jobs([SimJob(inverter(0.6)), SimJob(inverter(0.7))], executor=ex, use_cache=False, progress=False)
    finally:
        ex.close()
    assert time.monotonic() - t0 < 30
    assert len(res.failures) == 2 and all(f.kind == "worker" for f in res.failures)
    assert "charz doctor" in res.failures[0].message()
    assert res.pool_restarts == 4  # MAX_BARREN_BREAKS + 1
    assert "giving up the 2 remaining job(s)" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# workers of a killed parent


ORPHAN_SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from charz.sim.executor import LocalPoolExecutor, run_jobs
    from charz.sim.runner import SimJob
    from tests.helpers import inverter

    def go(mode):
        ex = LocalPoolExecutor(1)
        if mode == "idle":
            run_jobs([SimJob(inverter())], executor=ex, use_cache=False, progress=False)
            print("idle", flush=True)
            time.sleep(600)
        else:  # a run that takes minutes
            run_jobs([SimJob(inverter(analysis=".tran 0.001p 2000n"), timeout=600)], executor=ex,
                     use_cache=False, progress=False)

    if __name__ == "__main__":
        where, mode = sys.argv[1:]
        if where == "thread":  # no PR_SET_PDEATHSIG here: the parent-watch thread has to do it
            threading.Thread(target=go, args=(mode,), daemon=True).start()
            time.sleep(600)
        else:
            go(mode)
""")


@linux_only
@pytest.mark.parametrize("where,mode", [("main", "busy"), ("thread", "busy"), ("thread", "idle")])
def test_workers_exit_when_their_parent_is_killed(tmp_path, where, mode):
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT), CHARZ_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, str(script), where, mode], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    worker = None
    try:
        pids = _wait_for(lambda: _workers(proc.pid), 60)
        assert pids, "no worker started"
        worker = next(iter(pids))
        if mode == "idle":
            assert proc.stdout.readline().strip() == "idle"
        assert _wait_for(lambda: _has_ngspice(worker), 60), "the worker never loaded ngspice"
        time.sleep(0.3)  # inside the run (busy) / back on the pipe (idle)
        assert _alive(worker)
        proc.kill()
        proc.wait(10)
        t0 = time.monotonic()
        gone = _wait_for(lambda: not _alive(worker), 10)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)
    assert gone and took < 3.0, f"orphaned worker still alive after {took:.1f} s"


# ---------------------------------------------------------------------------------------------------
# the Monte Carlo bound


def test_cli_refuses_a_billion_samples_at_once(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CHARZ_CACHE_DIR=str(tmp_path / "cache"))
    env.pop(mcmod.MC_LIMIT_ENV, None)
    t0 = time.monotonic()
    # The child's own peak memory: Linux starts a new program's ru_maxrss at the size of the process that
    # forked (or vfork-spawned) it, here the whole test process, so a small wrapper process forks the
    # command and reaps it with os.wait4.
    wrapper = ("import os, sys\n"
               "pid = os.fork()\n"
               "if pid == 0:\n"
               "    os.execv(sys.argv[1], sys.argv[1:])\n"
               "_, status, usage = os.wait4(pid, 0)\n"
               "print(f'MAXRSS={usage.ru_maxrss}')\n"
               "sys.exit(os.waitstatus_to_exitcode(status))\n")
    r = subprocess.run([sys.executable, "-c", wrapper] + CHARZ + ["characterize", "bitcell8t", "--mc", "1000000000",
                                                                  "-o", str(tmp_path / "x")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    rc, stderr = r.returncode, r.stderr
    maxrss = int(r.stdout.strip().splitlines()[-1].removeprefix("MAXRSS="))
    took = time.monotonic() - t0
    assert rc == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "--mc 1000000000" in lines[0] and "10000" in lines[0]
    assert "--mc-limit" in lines[0] and mcmod.MC_LIMIT_ENV in lines[0]
    assert took < 10  # interpreter start-up and imports; nothing is drawn or simulated
    assert maxrss < 400_000  # KiB: no growth towards GBs
    assert not list((tmp_path).glob("x*"))


def test_library_enforces_the_limit_and_accepts_an_override(monkeypatch):
    from charz import cli
    from charz.characterize.common import check_mc

    monkeypatch.delenv(mcmod.MC_LIMIT_ENV, raising=False)
    devs = (Device("m1", "n", 64e-9, 16e-9),)
    t0 = time.monotonic()
    for call in (lambda: check_mc(10**9), lambda: draw(Mismatch(1.4), devs, 10**9, 1), lambda: check_mc(10_001)):
        with pytest.raises(ParameterError, match="more than 10000 Monte Carlo samples"):
            call()
    assert time.monotonic() - t0 < 1
    assert check_mc(10_000) == 10_000
    # every recipe goes through check_mc or draw
    from charz.blocks.bitcell.recipe import characterize_bitcell
    from charz.blocks.cim_column.recipe import characterize_column

    for recipe in (characterize_bitcell, characterize_column):
        with pytest.raises(ParameterError, match="--mc-limit"):
            recipe("ptm16hp", mc=50_000, executor=InlineExecutor(), progress=False)

    monkeypatch.setenv(mcmod.MC_LIMIT_ENV, "20000")
    assert check_mc(15_000) == 15_000
    d = draw(Mismatch(1.4), devs, 15_000, 1)  # lazy: nothing drawn yet
    assert len(d.samples(14_990, 15_000)) == 10 and d.n == 15_000
    monkeypatch.setenv(mcmod.MC_LIMIT_ENV, "lots")
    with pytest.raises(ParameterError, match="CHARZ_MC_LIMIT"):
        check_mc(5)
    monkeypatch.delenv(mcmod.MC_LIMIT_ENV)

    args = cli.build_parser().parse_args(["characterize", "bitcell8t", "--mc", "15000", "--mc-limit", "20000",
                                          "--workers", "0"])
    try:
        kw = cli._char_common(args)
        assert kw["mc"] == 15_000 and check_mc(15_000) == 15_000
    finally:
        mcmod.set_limit(None)
    with pytest.raises(ParameterError):
        check_mc(15_000)


# ---------------------------------------------------------------------------------------------------
# lazy draws: the values of the eager algorithm they replaced, bit for bit


def reference_draw(model: Mismatch, devices, n: int, seed: int):
    """charz.core.mc.draw as it was before the draws became lazy (commit 5aabcac): (delvto, mulu0)."""
    sig_v = np.array([model.sigma_vth(d.w, d.l) for d in devices])
    sig_b = np.array([model.sigma_beta(d.w, d.l) for d in devices])
    children = np.random.SeedSequence(int(seed)).spawn(n)
    dv = np.empty((n, len(devices)))
    mu = np.empty((n, len(devices))) if model.abeta_pct_um > 0 else None
    for s, child in enumerate(children):
        rng = np.random.default_rng(child)
        z = rng.standard_normal((2, len(devices)))
        dv[s] = z[0] * sig_v
        if mu is not None:
            mu[s] = np.maximum(1.0 + z[1] * sig_b, 0.05)
    return dv, mu


def reference_samples(names, dv, mu, start, stop):
    """The old Draws.samples: alter triples per sample."""
    out = []
    for s in range(start, stop):
        row = [(d, "delvto", float(dv[s, j])) for j, d in enumerate(names)]
        if mu is not None:
            row += [(d, "mulu0", float(mu[s, j])) for j, d in enumerate(names)]
        out.append(tuple(row))
    return tuple(out)


DEVS = tuple(Device(f"m{j}", "np"[j % 2], (1 + j % 4) * 32e-9, 16e-9) for j in range(9))


@pytest.mark.parametrize("beta", [0.0, 1.3])
@pytest.mark.parametrize("n,seed", [(1, 0), (7, 1), (60, 12345), (300, 2**40)])
def test_lazy_draws_are_bit_identical_to_the_eager_ones(beta, n, seed):
    model = Mismatch(1.4, beta)
    dv, mu = reference_draw(model, DEVS, n, seed)
    d = draw(model, DEVS, n, seed)
    np.testing.assert_array_equal(d.delvto, dv)
    assert (d.mulu0 is None) == (mu is None)
    if mu is not None:
        np.testing.assert_array_equal(d.mulu0, mu)
        np.testing.assert_array_equal(d.arrays()["mc_mulu0"], mu)
    np.testing.assert_array_equal(d.arrays()["mc_delvto"], dv)
    names = tuple(x.name for x in DEVS)
    for a, b in [(0, n), (n // 3, n), (n - 1, n), (0, min(n, 25))]:
        ref = reference_samples(names, dv, mu, a, b)
        got = d.samples(a, b)
        assert tuple(got) == ref and len(got) == b - a
        if b > a:
            assert got[0] == ref[0] and got[-1] == ref[-1]
        assert tuple(pickle.loads(pickle.dumps(got))) == ref
    # one cell's draws laid out on another deck's instances (bitcell testbenches)
    cols = [2, 0, 0, 5, 8]
    t = d.take(tuple(f"x{j}" for j in range(5)), cols)
    np.testing.assert_array_equal(t.delvto, dv[:, cols])
    t2 = t.take(("y0", "y1"), [3, 1])
    np.testing.assert_array_equal(t2.delvto, dv[:, [5, 0]])
    if mu is not None:
        np.testing.assert_array_equal(t2.mulu0, mu[:, [5, 0]])


def test_cache_keys_are_those_of_the_eager_draws():
    """SimJob.key hashes the alter values: a job built from the lazy rows has the key of the old tuples."""
    ident = {"version": "39", "build": ["test"]}
    nl = inverter()
    for beta in (0.0, 1.0):
        model = Mismatch(1.4, beta)
        dv, mu = reference_draw(model, nl.devices, 30, 5)
        d = draw(model, nl.devices, 30, 5)
        names = tuple(x.name for x in nl.devices)
        for a, b in [(0, 25), (25, 30)]:
            old = SimJob(nl, reference_samples(names, dv, mu, a, b), "r/1", 60, "l")
            new = SimJob(nl, d.samples(a, b), "r/1", 60, "l")
            assert new.key(ident) == old.key(ident)
            assert new.alter_commands() == old.alter_commands()


def test_draws_pickle_small_and_check_their_values():
    devs = tuple(Device(f"mcell_{j}", "n", 64e-9, 16e-9) for j in range(160))
    small, big = draw(Mismatch(1.4, 1.0), devs, 10, 3), draw(Mismatch(1.4, 1.0), devs, 10_000, 3)
    assert abs(len(pickle.dumps(big)) - len(pickle.dumps(small))) < 8  # names + sigmas, whatever n is
    assert len(pickle.dumps(big)) < 12_000
    rows = big.samples(9_975, 10_000)
    eager = tuple(rows)
    assert len(pickle.dumps(rows)) < 12_000 < len(pickle.dumps(eager)) / 10
    job = SimJob(inverter(), rows)
    back = pickle.loads(pickle.dumps(job))
    assert tuple(back.samples) == eager
    # a worker whose NumPy drew other values refuses the job rather than caching them under our key
    bad = mcmod.SampleRows(big, 9_975, 10_000, "0" * 16)
    with pytest.raises(RuntimeError, match="NumPy"):
        tuple(bad)


# ---------------------------------------------------------------------------------------------------
# Dask: a worker lost mid-sweep


@linux_only
def test_dask_lost_worker_is_rerun_and_reported(capsys):
    distributed = pytest.importorskip("dask.distributed")
    from charz.sim.executor import DaskExecutor

    jobs = [SimJob(inverter(0.5 + 0.02 * i, analysis=".tran 0.05p 2n"), label=f"inv{i}") for i in range(10)]
    ref = run_jobs(jobs, executor=InlineExecutor(), use_cache=False, progress=False)

    class KillOne(DaskExecutor):
        def map(self, jobs):
            for n, item in enumerate(super().map(jobs)):
                yield item
                if n == 0:  # kill a worker that is running a job right now
                    busy = self.client.processing()
                    addr = next(a for a, keys in busy.items() if keys)
                    os.kill(self.client.run(os.getpid, workers=[addr])[addr], signal.SIGKILL)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        ex = KillOne(client=client)
        got = run_jobs(jobs, executor=ex, use_cache=False, progress=False)
    assert not got.failures
    for ra, rb in zip(ref.results, got.results):
        np.testing.assert_array_equal(ra.runs[0]["v(out)"], rb.runs[0]["v(out)"])
    assert got.pool_restarts == 1 and got.resubmitted >= 1
    assert "Dask worker(s) left during the sweep" in capsys.readouterr().err


def test_dask_task_that_killed_its_workers_says_so():
    pytest.importorskip("dask.distributed")
    from distributed.scheduler import KilledWorker

    from charz.sim.executor import _dask_failure

    kind, msg = _dask_failure(KilledWorker("execute-1", None, 3))
    assert kind == "worker" and "died each of the 4 times" in msg
    assert _dask_failure(ValueError("x"))[0] == "error"
