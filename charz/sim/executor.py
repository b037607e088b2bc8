"""Sweep driver and executors.

``run_jobs`` looks every job up in the cache, runs the misses on an executor, writes each result to
the cache the moment it arrives (a killed sweep loses only the jobs in flight), shows a progress bar on
sweeps longer than a couple of seconds, and returns results and failures side by side.

Executors:
- ``inline``: this process (tests, benchmarks of the engine itself);
- local process pool (default): one ngspice per core, spawn start method, each worker recycled after
  a bounded number of jobs so ngspice's global state and memory never grow without bound;
- Dask distributed: ``--scheduler tcp://host:port`` or ``CHARZ_SCHEDULER``; every worker's ngspice
  identity is checked against ours and mixed builds are refused.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import multiprocessing as mp
import os
from typing import Iterable, Sequence

from tqdm.auto import tqdm

from ..errors import CharzError, SimulationError
from .cache import Cache
from .runner import JobFailure, JobResult, SimJob, execute

MAX_JOBS_PER_WORKER = 200


@dataclasses.dataclass
class SweepResult:
    jobs: list[SimJob]
    results: list[JobResult | None]
    failures: list[JobFailure]
    hits: int
    ngspice: dict

    def ok(self) -> bool:
        return not self.failures

    def report(self) -> str:
        if not self.failures:
            return ""
        lines = [f"{len(self.failures)} of {len(self.jobs)} simulations failed (the rest are kept):"]
        lines += ["  - " + f.message() for f in self.failures[:10]]
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10} more")
        return "\n".join(lines)

    def require_all(self) -> None:
        """Raise a SimulationError that names the failed points (results already cached are kept)."""
        if self.failures:
            raise SimulationError(self.report().replace("\n", " "))


def _identity_in_worker() -> dict:
    from .engine import identity

    return identity()


def local_identity() -> dict:
    from .engine import identity

    return identity()


class Executor:
    name = "base"

    def map(self, jobs: Sequence[SimJob]) -> Iterable[tuple[int, JobResult | JobFailure]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class InlineExecutor(Executor):
    name = "inline"

    def map(self, jobs):
        for i, job in enumerate(jobs):
            yield i, execute(job)


class LocalPoolExecutor(Executor):
    """One ngspice per core in spawned worker processes.

    Workers are recycled by replacing the whole pool after every ``workers * MAX_JOBS_PER_WORKER`` jobs
    (ngspice keeps global state and grows slowly). ``ProcessPoolExecutor(max_tasks_per_child=...)`` is
    not used: on Python 3.11 it deadlocked here when several workers reached the limit together
    (CPython gh-115634), leaving a sweep idle with no workers.
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: cf.ProcessPoolExecutor | None = None
        self._used = 0

    def _get_pool(self):
        if self._pool is not None and self._used >= self.workers * MAX_JOBS_PER_WORKER:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"))
            self._used = 0
        return self._pool

    def map(self, jobs):
        jobs = list(jobs)
        start = 0
        while start < len(jobs):
            pool = self._get_pool()
            room = self.workers * MAX_JOBS_PER_WORKER - self._used
            chunk = range(start, min(len(jobs), start + room))
            self._used += len(chunk)
            futs = {pool.submit(execute, jobs[i]): i for i in chunk}
            try:
                for fut in cf.as_completed(futs):
                    i = futs[fut]
                    try:
                        yield i, fut.result()
                    except Exception as exc:  # a worker died (e.g. killed); record and go on
                        yield i, JobFailure(jobs[i], f"worker process failed: {exc!r}", [], None, "error")
                        if isinstance(exc, cf.process.BrokenProcessPool):
                            self._pool = None
            finally:
                for f in futs:
                    f.cancel()
            start = chunk.stop

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, address: str | None = None, client=None) -> None:
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise CharzError("Dask is not installed: pip install 'charz[dask]' (or drop --scheduler)") from exc
        if client is None:
            try:
                client = Client(address, timeout="10s")
            except Exception as exc:
                raise CharzError(
                    f"cannot reach the Dask scheduler at {address} ({exc}): start one with "
                    f"`dask scheduler` and `dask worker ADDRESS --nthreads 1`, or drop --scheduler"
                ) from exc
            self._own = True
        else:
            self._own = False
        self.client = client
        ours = local_identity()
        theirs = client.run(_identity_in_worker)
        bad = {w: i for w, i in theirs.items() if (i["version"], i["build"]) != (ours["version"], ours["build"])}
        if bad:
            w, i = next(iter(bad.items()))
            raise CharzError(
                f"Dask worker {w} runs ngspice {i['version']} ({'; '.join(i['build'])}) but this machine runs "
                f"{ours['version']}: mixed ngspice builds give different results; use identical workers"
            )

    def map(self, jobs):
        from dask.distributed import as_completed

        futs = self.client.map(execute, list(jobs), pure=False, retries=2)
        index = {f.key: i for i, f in enumerate(futs)}
        for fut in as_completed(futs):
            i = index[fut.key]
            try:
                yield i, fut.result()
            except Exception as exc:
                yield i, JobFailure(jobs[i], f"Dask task failed: {exc!r}", [], None, "error")

    def close(self):
        if self._own:
            self.client.close()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """``workers=0`` runs inline; a scheduler address (or CHARZ_SCHEDULER) selects Dask."""
    scheduler = scheduler or os.environ.get("CHARZ_SCHEDULER") or None
    if scheduler:
        return DaskExecutor(scheduler)
    if workers == 0:
        return InlineExecutor()
    return LocalPoolExecutor(workers)


def run_jobs(
    jobs: Sequence[SimJob],
    executor: Executor | None = None,
    cache: Cache | None = None,
    use_cache: bool = True,
    progress: bool = True,
    desc: str = "simulating",
) -> SweepResult:
    jobs = list(jobs)
    cache = cache or Cache()
    ident = local_identity()
    keys = [j.key(ident) for j in jobs]
    results: list[JobResult | None] = [None] * len(jobs)
    todo: list[int] = []
    for i, k in enumerate(keys):
        hit = cache.get(k) if use_cache else None
        if hit is not None:
            results[i] = JobResult(
                runs=hit["runs"], analysis_seconds=hit.get("analysis_seconds", 0.0),
                wall_seconds=0.0, tier=hit.get("tier", 0), ngspice=ident, cached=True,
            )
        else:
            todo.append(i)
    hits = len(jobs) - len(todo)
    failures: list[JobFailure] = []
    if todo:
        own = executor is None
        ex = executor or make_executor()
        sub = [jobs[i] for i in todo]
        import sys

        tty = sys.stderr.isatty()
        bar = tqdm(total=len(sub), desc=desc, unit="job", delay=2.0, disable=not progress, leave=False,
                   mininterval=0.5 if tty else 30.0)
        try:
            for j, res in ex.map(sub):
                i = todo[j]
                if isinstance(res, JobFailure):
                    path = cache.failed_path(keys[i])
                    path.write_text(res.job.netlist.text())
                    res.netlist_path = str(path)
                    failures.append(res)
                else:
                    if use_cache:
                        cache.put(keys[i], res.runs, {"analysis_seconds": res.analysis_seconds, "tier": res.tier,
                                                      "label": jobs[i].describe()})
                    results[i] = res
                bar.update(1)
        finally:
            bar.close()
            if own:
                ex.close()
    return SweepResult(jobs, results, failures, hits, ident)


@contextlib.contextmanager
def owned(executor: "Executor | None" = None):
    """The given executor, or a new local pool (``make_executor()``) that is closed on exit: what a recipe
    uses so that a caller's executor is never closed and its own one always is."""
    if executor is not None:
        yield executor
        return
    ex = make_executor()
    try:
        yield ex
    finally:
        ex.close()
