"""Sweep driver and executors.

``run_jobs`` looks every job up in the cache, runs the misses on an executor, writes each result to
the cache the moment it arrives (a killed sweep loses only the jobs in flight), shows a progress bar on
sweeps longer than a couple of seconds, and returns results and failures side by side.

Executors:
- ``inline``: this process (tests, benchmarks of the engine itself);
- local process pool (default): one ngspice per core, spawn start method, each worker recycled after
  a bounded number of jobs so ngspice's global state and memory never grow without bound. A worker
  that dies (killed, out of memory, a crash inside ngspice) breaks the pool: the pool is replaced and
  the unfinished jobs are resubmitted (one line on stderr each time); the job the dead worker was
  running is re-run alone, and after :data:`MAX_RESUBMITS` resubmissions it is a failure. Workers exit
  within a second when the process that started them is gone (no orphans blocked on a dead pipe);
- Dask distributed: ``--scheduler tcp://host:port`` or ``CHARZ_SCHEDULER``; every worker's ngspice
  identity is checked against ours and mixed builds are refused. The scheduler re-runs the tasks of a
  lost worker itself (``distributed.scheduler.allowed-failures``); charz reports it the same way and
  a task that keeps killing workers is a failure that says so.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import dataclasses
import multiprocessing as mp
import os
import sys
import threading
import time
from typing import Iterable, Sequence

from concurrent.futures.process import BrokenProcessPool

from tqdm.auto import tqdm

from ..core.errors import CharzError, SimulationError
from .cache import Cache
from .runner import JobFailure, JobResult, SimJob, execute

MAX_JOBS_PER_WORKER = 200
MAX_RESUBMITS = 2
"""A job that was running when its worker died is resubmitted at most this many times, then it fails."""
MAX_BARREN_BREAKS = 3
"""Pool breaks in a row with no job running and none finished (workers that cannot start) before the
remaining jobs are given up."""
PARENT_POLL_S = 0.25
"""How often a pool worker checks that the process that started it is still alive."""


@dataclasses.dataclass
class SweepResult:
    """What :func:`run_jobs` returns: per job (in the order given) its ``JobResult`` or None where it failed,
    the failures (each with its saved netlist path), how many came from the cache (``hits``), this machine's
    ngspice identity, and what worker deaths cost (``pool_restarts``, ``resubmitted``)."""

    jobs: list[SimJob]
    results: list[JobResult | None]
    failures: list[JobFailure]
    hits: int
    ngspice: dict
    pool_restarts: int = 0
    """Local pools replaced after a worker died (Dask: workers lost during the sweep)."""
    resubmitted: int = 0
    """Jobs run again because the worker holding them died (their results are the same: jobs are pure)."""

    def ok(self) -> bool:
        """True when no job failed."""
        return not self.failures

    def report(self) -> str:
        """The failures as text: one header line and up to 10 failure messages (then a count of the rest);
        empty when nothing failed."""
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


@dataclasses.dataclass
class Tally:
    """What this process's sweeps did since the last :func:`reset_tally` (the CLI resets it per command):
    the counts a rerun reports, and the run time limits recorded in LUT provenance."""

    jobs: int = 0
    cached: int = 0
    simulated: int = 0
    failed: int = 0
    resubmitted: int = 0
    rejected_cache: int = 0
    timeouts: set = dataclasses.field(default_factory=set)
    """Per-run time limits (s) of every job planned, cached ones included."""

    def line(self) -> str:
        """One line: jobs from the cache, simulated, failed (and worker deaths, rejected cache entries)."""
        out = (f"simulations: {self.jobs} job(s): {self.cached} from the cache, {self.simulated} simulated, "
               f"{self.failed} failed")
        if self.resubmitted:
            out += f", {self.resubmitted} resubmitted after a worker died"
        if self.rejected_cache:
            out += f", {self.rejected_cache} cache entr{'y' if self.rejected_cache == 1 else 'ies'} rejected"
        return out


TALLY = Tally()


def reset_tally() -> Tally:
    """Start a new :data:`TALLY` (returned)."""
    global TALLY
    TALLY = Tally()
    return TALLY


def simulation_record() -> dict:
    """How the runs behind a LUT were made, for its provenance: charz's ngspice start-up settings and the
    per-run time limits (``--timeout`` / ``CHARZ_TIMEOUT`` or the recipes' defaults) of this process's
    sweeps since the last :func:`reset_tally`."""
    from .engine import startup_record
    from .runner import timeout_override

    override = timeout_override()
    return {"ngspice_startup": startup_record(),
            "run_timeout_s": sorted(TALLY.timeouts) or None,
            "run_timeout_source": "--timeout / CHARZ_TIMEOUT" if override is not None else "recipe defaults"}


def _identity_in_worker() -> dict:
    from .engine import identity

    return identity()


def local_identity() -> dict:
    """This process's ngspice identity (version, build, ...; :func:`charz.sim.engine.identity`), part of every
    cache key."""
    from .engine import identity

    return identity()


class Executor:
    """Base of the ways a sweep's jobs are run (inline, local process pool, Dask): :meth:`map` yields results,
    :meth:`close` releases what the executor holds."""

    name = "base"

    def map(self, jobs: Sequence[SimJob]) -> Iterable[tuple[int, JobResult | JobFailure]]:
        """Run *jobs*; yield ``(index into jobs, JobResult or JobFailure)`` for every job, in the order they
        finish. A simulation problem is a ``JobFailure``, never an exception."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers / connections (nothing to release here)."""
        pass


class InlineExecutor(Executor):
    """Runs every job in this process, one after the other (``workers=0``): no pool, no pickling; for tests
    and debugging."""

    name = "inline"

    def map(self, jobs):
        """Run *jobs* here in order; yield ``(index, JobResult or JobFailure)`` as each finishes."""
        for i, job in enumerate(jobs):
            yield i, execute(job)


def _set_pdeathsig() -> None:
    """Linux: SIGKILL this process when the thread that started it ends (best effort)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except Exception:
        pass


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent_pid:  # re-parented: the process that started us is gone
            os._exit(1)


_SLOTS = None
_SLOT: int | None = None


def _worker_init(parent_pid: int, slots, counter, pdeathsig: bool) -> None:
    """Pool-worker initializer: exit when the parent dies (PR_SET_PDEATHSIG when the pool was started from
    the main thread, and a daemon thread polling the parent pid: ngspice runs in its own thread and the
    main thread waits on an event, so the watcher gets the GIL), and take a slot in which the worker
    marks the job it is running (so the executor knows which job was running when a worker died)."""
    global _SLOTS, _SLOT
    if pdeathsig:
        _set_pdeathsig()
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="charz-parent-watch", daemon=True).start()
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    _SLOTS, _SLOT = slots, (slot if slot < len(slots) else None)


def _run_marked(fn, token: int, job: SimJob):
    """Run *fn(job)* in a pool worker with *token* in this worker's slot while it runs."""
    if _SLOTS is not None and _SLOT is not None:
        _SLOTS[_SLOT] = token
    try:
        return fn(job)
    finally:
        if _SLOTS is not None and _SLOT is not None:
            _SLOTS[_SLOT] = -1


def _note(msg: str) -> None:
    """One line on stderr that does not tear a progress bar."""
    tqdm.write(msg, file=sys.stderr)


class LocalPoolExecutor(Executor):
    """One ngspice per core in spawned worker processes.

    Workers are recycled by replacing the whole pool after every ``workers * MAX_JOBS_PER_WORKER`` jobs
    (ngspice keeps global state and grows slowly). ``ProcessPoolExecutor(max_tasks_per_child=...)`` is
    not used: on Python 3.11 it deadlocked here when several workers reached the limit together
    (CPython gh-115634), leaving a sweep idle with no workers.

    A dead worker breaks the whole ``ProcessPoolExecutor`` (every pending future fails with
    ``BrokenProcessPool``). Results that arrived before are kept; the pool is replaced and the unfinished
    jobs are resubmitted. Each worker marks the job it runs in shared memory, so the job(s) running when
    the pool broke are known: they are re-run alone (so the next death is pinned on the right job), and
    one that was running at :data:`MAX_RESUBMITS` + 1 deaths is reported as a failure (kind
    ``"worker"``). ``pool_restarts`` and ``resubmitted`` count what happened.
    """

    name = "local"
    run_job = staticmethod(execute)
    """What a worker runs for each job (a module-level function: it is pickled by name)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: cf.ProcessPoolExecutor | None = None
        self._slots = None
        self._used = 0
        self._seq = 0
        self.pool_restarts = 0
        self.resubmitted = 0

    def _get_pool(self):
        if self._pool is not None and self._used >= self.workers * MAX_JOBS_PER_WORKER:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._pool is None:
            ctx = mp.get_context("spawn")
            self._slots = ctx.RawArray("q", [-1] * self.workers)
            counter = ctx.Value("i", 0)
            main = threading.current_thread() is threading.main_thread()  # PDEATHSIG follows the spawning thread
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_worker_init,
                                                initargs=(os.getpid(), self._slots, counter, main))
            self._used = 0
        return self._pool

    def _drop_broken_pool(self) -> set[int]:
        """Forget the broken pool; return the tokens its workers were running when it broke."""
        running = {int(t) for t in self._slots if t >= 0} if self._slots is not None else set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool, self._slots = None, None
        return running

    def map(self, jobs):
        """Run *jobs* on the pool; yield ``(index, JobResult or JobFailure)`` as each finishes (any order). A
        broken pool is replaced and its unfinished jobs resubmitted; a job running at more than
        :data:`MAX_RESUBMITS` worker deaths comes back as a ``JobFailure`` of kind ``"worker"``."""
        jobs = list(jobs)
        queue = collections.deque(range(len(jobs)))
        suspects: collections.deque[int] = collections.deque()  # running when a worker died: re-run alone
        deaths = [0] * len(jobs)
        barren = 0  # breaks in a row that blamed no job, with no job finished in between
        while queue or suspects:
            pool = self._get_pool()
            if suspects:
                batch = [suspects.popleft()]
            else:
                room = self.workers * MAX_JOBS_PER_WORKER - self._used
                batch = [queue.popleft() for _ in range(min(room, len(queue)))]
            self._used += len(batch)
            futs: dict[cf.Future, int] = {}
            token_of: dict[int, int] = {}
            lost: list[int] = []
            try:
                for n, i in enumerate(batch):
                    self._seq += 1
                    try:
                        fut = pool.submit(_run_marked, self.run_job, self._seq, jobs[i])
                    except (BrokenProcessPool, RuntimeError):  # broke while we were submitting
                        lost += batch[n:]
                        break
                    futs[fut] = i
                    token_of[self._seq] = i
                for fut in cf.as_completed(futs):
                    i = futs[fut]
                    exc = fut.exception()
                    if exc is None:
                        barren = 0
                        yield i, fut.result()
                    elif isinstance(exc, BrokenProcessPool):
                        lost.append(i)
                    else:  # the job's result could not come back (e.g. not picklable); the pool is fine
                        yield i, JobFailure(jobs[i], f"worker process failed: {exc!r}", [], None, "error")
            finally:
                for f in futs:
                    f.cancel()
            if not lost:
                continue
            running = {token_of[t] for t in self._drop_broken_pool() if t in token_of}
            self.pool_restarts += 1
            barren = 0 if running else barren + 1
            give_up: list[int] = []
            retry: list[int] = []
            for i in sorted(lost):
                if i in running:
                    deaths[i] += 1
                (give_up if deaths[i] > MAX_RESUBMITS else retry).append(i)
            note = "charz: a local worker process died (killed, out of memory or a crash in ngspice): pool replaced"
            if barren > MAX_BARREN_BREAKS:
                give_up, retry = sorted(set(give_up + retry + list(queue) + list(suspects))), []
                queue.clear()
                suspects.clear()
                note = (f"charz: the local worker pool broke {barren} times in a row before any job ran: giving up "
                        f"the {len(give_up)} remaining job(s) (run `charz doctor`)")
            else:
                for i in reversed([i for i in retry if not deaths[i]]):
                    queue.appendleft(i)
                suspects.extend(i for i in retry if deaths[i])
                self.resubmitted += len(retry)
                note += f", {len(retry)} unfinished job(s) resubmitted"
                if give_up:
                    note += f"; {len(give_up)} job(s) given up after their worker died {MAX_RESUBMITS + 1} times"
            _note(note)
            for i in give_up:
                if deaths[i] > MAX_RESUBMITS:
                    msg = (f"the worker process died each of the {deaths[i]} times it ran this job (a crash inside "
                           f"ngspice, out of memory, or killed); not resubmitted again")
                else:
                    msg = ("not run: the local worker pool kept breaking before any job could run (workers that "
                           "cannot start?): run `charz doctor`")
                yield i, JobFailure(jobs[i], msg, [], None, "worker")

    def close(self):
        """Shut the pool down (waiting for its workers; pending jobs are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Runs jobs on a Dask cluster (``--scheduler`` / ``CHARZ_SCHEDULER``), one task per job with 2 retries.
    Raises ``CharzError`` when Dask is missing, the scheduler cannot be reached, or a worker runs a different
    ngspice version or build than this machine."""

    name = "dask"
    run_job = staticmethod(execute)

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
        self.pool_restarts = 0
        self.resubmitted = 0
        ours = local_identity()
        theirs = client.run(_identity_in_worker)
        bad = {w: i for w, i in theirs.items() if (i["version"], i["build"]) != (ours["version"], ours["build"])}
        if bad:
            w, i = next(iter(bad.items()))
            raise CharzError(
                f"Dask worker {w} runs ngspice {i['version']} ({'; '.join(i['build'])}) but this machine runs "
                f"{ours['version']}: mixed ngspice builds give different results; use identical workers"
            )

    def _lost_state(self) -> tuple[set[str], int]:
        """(worker addresses, scheduler-wide count of task runs lost with a dying worker); best effort."""
        try:
            workers = set(self.client.scheduler_info().get("workers", {}))
            def suspicious_total(dask_scheduler=None) -> int:  # runs on the scheduler (pickled by value)
                return sum(getattr(tp, "suspicious", 0) for tp in dask_scheduler.task_prefixes.values())

            runs = self.client.run_on_scheduler(suspicious_total)
            return workers, int(runs)
        except Exception:
            return set(), 0

    def map(self, jobs):
        """Submit *jobs* to the cluster; yield ``(index, JobResult or JobFailure)`` as each finishes. A task
        that fails (a ``KilledWorker`` after its retries, a cancelled task) becomes a ``JobFailure``; workers
        lost and tasks re-run by the scheduler are added to ``pool_restarts`` / ``resubmitted``."""
        from dask.distributed import as_completed

        jobs = list(jobs)
        workers0, lost0 = self._lost_state()
        futs = self.client.map(self.run_job, jobs, pure=False, retries=2)
        index = {f.key: i for i, f in enumerate(futs)}
        killed = 0
        try:
            for fut in as_completed(futs):
                i = index[fut.key]
                try:
                    res = fut.result()
                except Exception as exc:
                    kind, msg = _dask_failure(exc)
                    killed += kind == "worker"
                    res = JobFailure(jobs[i], msg, [], None, kind)
                fut.release()  # the result is ours now: a later worker death must not recompute it
                yield i, res
        finally:
            workers1, lost1 = self._lost_state()
            gone = len(workers0 - workers1) if workers0 and workers1 else 0
            rerun = max(0, lost1 - lost0 - killed)
            if gone or rerun:
                self.pool_restarts += gone
                self.resubmitted += rerun
                _note(f"charz: {gone} Dask worker(s) left during the sweep; the scheduler re-ran {rerun} task(s) "
                      f"that were running on a worker that died")

    def close(self):
        """Close the client if this executor opened it (a client given by the caller is left open)."""
        if self._own:
            self.client.close()


def _dask_failure(exc: BaseException) -> tuple[str, str]:
    name = type(exc).__name__
    if name == "KilledWorker":
        tries = getattr(exc, "allowed_failures", None)
        n = f"{tries + 1} " if isinstance(tries, int) else ""
        return "worker", (f"a Dask worker died each of the {n}times it ran this job (a crash inside ngspice, out of "
                          f"memory, or killed); not resubmitted again")
    if name in ("CancelledError", "FutureCancelledError"):
        return "worker", ("the Dask scheduler cancelled this job (scheduler lost or restarted?): rerun the same "
                          "command to resume from the cache")
    return "error", f"Dask task failed: {exc!r}"


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
    """Run a sweep: look every job up in *cache* (unless ``use_cache`` is False), run the rest on *executor*
    (default: a new local pool, closed afterwards) with a tqdm bar after 2 s, write each result to the cache
    as it arrives and each failed job's deck next to the cache, and update :data:`TALLY`. Never raises for a
    simulation problem: failures are in the returned :class:`SweepResult`."""
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
    TALLY.jobs += len(jobs)
    TALLY.cached += hits
    TALLY.timeouts.update(float(j.timeout) for j in jobs)
    failures: list[JobFailure] = []
    restarts = resubmitted = 0
    if todo:
        own = executor is None
        ex = executor or make_executor()
        sub = [jobs[i] for i in todo]
        import sys

        tty = sys.stderr.isatty()
        bar = tqdm(total=len(sub), desc=desc, unit="job", delay=2.0, disable=not progress, leave=False,
                   mininterval=0.5 if tty else 30.0)
        restarts0, resubmitted0 = getattr(ex, "pool_restarts", 0), getattr(ex, "resubmitted", 0)
        try:
            for j, res in ex.map(sub):
                i = todo[j]
                if isinstance(res, JobFailure):
                    path = cache.failed_path(keys[i])
                    path.write_text(res.job.netlist.golden())  # the card by file name: no user path in deck text
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
            restarts = getattr(ex, "pool_restarts", 0) - restarts0
            resubmitted = getattr(ex, "resubmitted", 0) - resubmitted0
            if own:
                ex.close()
    TALLY.simulated += sum(1 for i in todo if results[i] is not None)
    TALLY.failed += len(failures)
    TALLY.resubmitted += resubmitted
    TALLY.rejected_cache += len(cache.rejected)
    return SweepResult(jobs, results, failures, hits, ident, restarts, resubmitted)


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
