"""The simulation engine, cache, executors and failure handling, on tiny real decks."""

import numpy as np
import pytest

from charz.core.mc import Mismatch, draw
from charz.sim.cache import Cache
from charz.sim.executor import InlineExecutor, LocalPoolExecutor, run_jobs
from charz.sim.runner import JobFailure, SimJob, execute
from tests.helpers import broken, inverter


def _delay(run, vdd=0.7):
    t, v = run["time"], run["v(out)"]
    i = np.flatnonzero((t > 12e-12) & (v < vdd / 2))[0]
    return t[i]


def test_inverter_output_swings_rail_to_rail():
    res = execute(SimJob(inverter()))
    v = res.runs[0]["v(out)"]
    assert v.max() > 0.69 and v.min() < 0.01
    assert res.tier == 0


def test_batched_alter_runs_differ_only_by_mismatch():
    nl = inverter()
    samples = ((("mn", "delvto", 0.0),), (("mn", "delvto", 0.08),), (("mn", "delvto", 0.0),))
    res = execute(SimJob(nl, samples))
    d0, d1, d2 = (_delay(r) for r in res.runs)
    assert d1 > d0  # a higher NMOS Vth slows the falling edge
    np.testing.assert_array_equal(res.runs[0]["v(out)"], res.runs[2]["v(out)"])  # alter is reversible


def test_cache_hit_recomputes_nothing(tmp_path):
    cache = Cache(tmp_path)
    jobs = [SimJob(inverter(v)) for v in (0.6, 0.7)]
    first = run_jobs(jobs, executor=InlineExecutor(), cache=cache, progress=False)
    assert first.hits == 0 and cache.info()["entries"] == 2

    class Refuse(InlineExecutor):
        def map(self, jobs):
            raise AssertionError(f"should not simulate, asked for {len(jobs)} jobs")

    again = run_jobs(jobs, executor=Refuse(), cache=cache, progress=False)
    assert again.hits == 2
    for a, b in zip(first.results, again.results):
        np.testing.assert_array_equal(a.runs[0]["v(out)"], b.runs[0]["v(out)"])


def test_cache_key_ignores_card_location_but_not_values(tmp_path):
    from charz.sim.engine import identity

    ident = identity()
    a, b = SimJob(inverter(0.7)), SimJob(inverter(0.7))
    assert a.key(ident) == b.key(ident)
    assert SimJob(inverter(0.71)).key(ident) != a.key(ident)
    assert SimJob(inverter(0.7), ((("mn", "delvto", 0.01),),)).key(ident) != a.key(ident)


def test_restarted_sweep_resumes(tmp_path):
    """A sweep killed half-way: the finished jobs are in the cache and only the rest run again."""
    cache = Cache(tmp_path)
    jobs = [SimJob(inverter(v)) for v in (0.55, 0.6, 0.65, 0.7)]
    run_jobs(jobs[:2], executor=InlineExecutor(), cache=cache, progress=False)  # "killed" after two

    ran = []

    class Count(InlineExecutor):
        def map(self, sub):
            ran.extend(sub)
            yield from super().map(sub)

    res = run_jobs(jobs, executor=Count(), cache=cache, progress=False)
    assert res.hits == 2 and len(ran) == 2
    assert all(r is not None for r in res.results)


def test_nonconvergent_point_is_reported_and_the_rest_kept(tmp_path):
    cache = Cache(tmp_path)
    jobs = [SimJob(inverter(0.7)), SimJob(broken(), label="bad point"), SimJob(inverter(0.6))]
    res = run_jobs(jobs, executor=InlineExecutor(), cache=cache, progress=False)
    assert res.results[0] is not None and res.results[2] is not None
    assert res.results[1] is None and len(res.failures) == 1
    f = res.failures[0]
    assert isinstance(f, JobFailure)
    msg = f.message()
    assert "broken" in msg and "netlist saved to" in msg
    assert "v1 a 0 0.7" in open(f.netlist_path).read()


def test_runaway_run_hits_its_timeout():
    nl = inverter(analysis=".tran 0.001p 2000n")
    res = execute(SimJob(nl, timeout=1.0))
    assert isinstance(res, JobFailure) and res.kind == "timeout"
    # the process's ngspice is still usable afterwards
    assert not isinstance(execute(SimJob(inverter())), JobFailure)


def test_local_pool_equals_inline(tmp_path):
    nl = inverter()
    d = draw(Mismatch(1.4), nl.devices, 6, seed=3)
    jobs = [SimJob(nl, d.samples(0, 3)), SimJob(nl, d.samples(3, 6)), SimJob(inverter(0.6))]
    a = run_jobs(jobs, executor=InlineExecutor(), use_cache=False, progress=False)
    pool = LocalPoolExecutor(2)
    try:
        b = run_jobs(jobs, executor=pool, use_cache=False, progress=False)
    finally:
        pool.close()
    for ra, rb in zip(a.results, b.results):
        for x, y in zip(ra.runs, rb.runs):
            np.testing.assert_array_equal(x["v(out)"], y["v(out)"])


def test_dask_local_cluster_equals_local_pool():
    distributed = pytest.importorskip("dask.distributed")
    from charz.sim.executor import DaskExecutor

    nl = inverter()
    d = draw(Mismatch(1.4), nl.devices, 4, seed=9)
    jobs = [SimJob(nl, d.samples(0, 2)), SimJob(nl, d.samples(2, 4)), SimJob(inverter(0.65))]
    ref = run_jobs(jobs, executor=InlineExecutor(), use_cache=False, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        ex = DaskExecutor(client=client)
        got = run_jobs(jobs, executor=ex, use_cache=False, progress=False)
    assert not got.failures
    for ra, rb in zip(ref.results, got.results):
        for x, y in zip(ra.runs, rb.runs):
            np.testing.assert_array_equal(x["v(out)"], y["v(out)"])


def test_local_pool_recycles_workers_and_finishes(monkeypatch):
    """Workers are replaced every MAX_JOBS_PER_WORKER jobs and the sweep still completes (Python 3.11's
    max_tasks_per_child deadlocked exactly here)."""
    import charz.sim.executor as E

    monkeypatch.setattr(E, "MAX_JOBS_PER_WORKER", 3)
    ex = E.LocalPoolExecutor(2)
    try:
        jobs = [SimJob(inverter(0.5 + 0.01 * i)) for i in range(14)]
        res = run_jobs(jobs, executor=ex, use_cache=False, progress=False)
    finally:
        ex.close()
    assert not res.failures and all(r is not None for r in res.results)
    # different supplies, different outputs: the results are not mixed up between jobs
    peaks = [r.runs[0]["v(out)"].max() for r in res.results]
    assert np.all(np.diff(peaks) > 0)


def test_owned_executor_closes_only_its_own():
    from charz.sim.executor import InlineExecutor, owned

    class Probe(InlineExecutor):
        closed = False

        def close(self):
            self.closed = True

    mine = Probe()
    with owned(mine) as ex:
        assert ex is mine
    assert not mine.closed  # the caller's executor stays open
    import charz.sim.executor as sx

    made = []
    orig = sx.make_executor
    sx.make_executor = lambda *a, **k: made.append(Probe()) or made[-1]
    try:
        with owned(None) as ex:
            assert ex is made[0]
    finally:
        sx.make_executor = orig
    assert made[0].closed  # a pool the recipe made is closed on exit
