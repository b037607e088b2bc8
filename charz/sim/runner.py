"""Jobs and their execution inside a worker process.

A :class:`SimJob` is one deck plus the Monte Carlo samples to run on it (each sample is a list of
per-instance parameter values applied with ``alter``). :func:`execute` runs a job in the calling
process's ngspice, retrying with relaxed options when a run does not converge, and returns either a
:class:`JobResult` or a :class:`JobFailure` (it never raises for a simulation problem, so one bad
point never loses the rest of a sweep).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.errors import DeckError, ParameterError, SimulationError, SimulationTimeout
from ..core.grid import number
from ..core.validate import finite, setting
from ..netlist.spice import Netlist, ident, num
from .engine import STARTUP_COMMANDS

# Bump when the saved-vector format or the way jobs are run changes: old cache entries then miss.
ENGINE_VERSION = 1
PRELOAD_COMMANDS = STARTUP_COMMANDS
"""Sent before every load; charz's own start-up files hold the same commands and nothing else (so this
tuple covers them in the cache key)."""

TIMEOUT_ENV = "CHARZ_TIMEOUT"
TIMEOUT_MAX = 86400.0
_TIMEOUT: float | None = None


def set_timeout(seconds: float | None) -> None:
    """Override every recipe's per-run time limit in this process (the CLI's ``--timeout``); None = use
    ``CHARZ_TIMEOUT`` if set, else each recipe's default."""
    global _TIMEOUT
    _TIMEOUT = None if seconds is None else _check_timeout(seconds, "--timeout")


def _check_timeout(value, what: str) -> float:
    v = finite(value, what)
    if not 0 < v <= TIMEOUT_MAX:
        raise ParameterError(f"{what} = {value!r}: the time limit of one ngspice run must be in (0, {TIMEOUT_MAX:g}] s")
    return v


def timeout_override() -> float | None:
    """The user's per-run time limit (``--timeout`` or ``CHARZ_TIMEOUT``, seconds), or None."""
    return setting(_TIMEOUT, TIMEOUT_ENV, _check_timeout)


def run_timeout(default: float) -> float:
    """The time limit of one ngspice run: the user's override, else the recipe's *default*."""
    t = timeout_override()
    return float(default) if t is None else t

# Option tiers tried in order when a run fails to converge.
RETRY_TIERS: tuple[tuple[tuple[str, str], ...], ...] = (
    (),
    (("gminsteps", "200"), ("srcsteps", "200"), ("itl1", "500"), ("itl4", "200"), ("method", "gear")),
    (
        ("gminsteps", "500"), ("srcsteps", "500"), ("itl1", "1000"), ("itl4", "500"), ("method", "gear"),
        ("reltol", "0.003"), ("abstol", "1e-11"), ("vntol", "1e-5"), ("gmin", "1e-11"),
    ),
)


@dataclasses.dataclass(frozen=True)
class SimJob:
    """One unit of simulation work: a deck (``Netlist``), the Monte Carlo alter sets to run it with (one run
    per sample, or one nominal run) and the recipe that asked for it. Picklable; its :meth:`key` addresses the
    cache."""

    netlist: Netlist
    samples: Sequence[Sequence[tuple[str, str, float]]] = ()
    """Each sample: ((instance, parameter, value), ...) (a tuple, or ``mc.SampleRows`` made lazily from the
    draws). Empty: one nominal run."""
    recipe: str = ""
    """Name and version of the measurement recipe that asked for this job (part of the cache key)."""
    timeout: float = 120.0
    """Time limit of each ngspice run of the job (s); not part of the key."""
    label: str = ""

    def alter_commands(self) -> list[list[str]] | None:
        """The ngspice ``alter`` commands of every sample (one list per run), or None for one nominal run.
        Names and values are checked (``ident`` / ``num``): a bad one raises ``ParameterError``."""
        if not self.samples:
            return None
        return [
            [f"alter @{ident(inst)}[{ident(par)}]={num(val, f'{par} of {inst}')}" for inst, par, val in s]
            for s in self.samples
        ]

    def key(self, ngspice: dict) -> str:
        """The cache key (sha256 hex) of this job under the ngspice identity *ngspice*: engine version,
        canonical deck, alter values, ngspice version and build, pre-load commands and the recipe. The time
        limit and label are not part of it."""
        payload = {
            "engine": ENGINE_VERSION,
            "netlist": self.netlist.canonical(),
            "samples": [[[i, p, repr(float(v))] for i, p, v in s] for s in self.samples],
            "ngspice": {"version": ngspice.get("version"), "build": ngspice.get("build")},
            "preload": PRELOAD_COMMANDS,
            "recipe": self.recipe,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def describe(self) -> str:
        """Short text naming the job: the block and its label (the sweep coordinates), else every netlist
        parameter."""
        params = ", ".join(f"{k}={v}" for k, v in self.netlist.params)
        return f"{self.netlist.block} [{self.label or params}]"


@dataclasses.dataclass
class JobResult:
    """A finished job: the saved vectors of every run (name -> array; one per sample, or the one nominal run),
    the summed time of its ngspice runs (s), the wall time in the worker (s), the option tier that converged
    (0 = none needed), the ngspice identity, and whether it came from the cache."""

    runs: list[dict[str, np.ndarray]]
    analysis_seconds: float
    wall_seconds: float
    tier: int
    ngspice: dict
    cached: bool = False
    ngspice_seconds: float = float("nan")
    """ngspice's own analysis time for the job (``rusage time``), for engine-overhead benchmarks."""


@dataclasses.dataclass
class JobFailure:
    """A job that did not produce results: the error, the tail of ngspice's log, where the deck was saved (set
    by :func:`charz.sim.executor.run_jobs`) and the kind (``"error"``, ``"deck"``, ``"timeout"``,
    ``"nonconvergence"``, ``"worker"``)."""

    job: SimJob
    error: str
    log_tail: list[str]
    netlist_path: str | None = None
    kind: str = "error"  # "error" | "deck" | "timeout" | "nonconvergence" | "worker"

    def message(self) -> str:
        """One line: the point (its sweep coordinates, else every parameter), what went wrong, where the deck
        was saved (its header lists every parameter) and the tail of ngspice's log."""
        where = f"; netlist saved to {self.netlist_path}" if self.netlist_path else ""
        tail = " / ".join(l.strip() for l in self.log_tail[-4:] if l.strip())
        return f"{self.job.describe()}: {self.error}{where}; ngspice log tail: {tail or '(empty)'}"


def _relaxed_analysis(analysis: str) -> str:
    """For a two-field .tran: add a maximum step (= the print step) so the integrator cannot run away,
    and run half a step past the stop time (ngspice 39's shared library aborted with "timestep too small,
    timestep = 0" exactly at tstop on decks whose tstop was an exact multiple of the step; measurements
    read inside the deck's window)."""
    f = analysis.split()
    if f[0].lower() == ".tran" and len(f) == 3:
        try:
            step, stop = float(f[1]), float(f[2])
        except ValueError:
            return f"{analysis} 0 {f[1]}"
        return f".tran {f[1]} {num(stop + step / 2)} 0 {f[1]}"
    return analysis


def _ended_early(analysis: str, outs) -> str:
    """A message when a ``.tran`` run's saved ``time`` vector stops short of the analysis end time, else "".
    ngspice ends a completed transient at its stop time; a shorter one was cut off and must not be used."""
    f = analysis.split()
    if len(f) < 3 or f[0].lower() != ".tran":
        return ""
    try:
        stop = number(f[2], "tstop")  # SPICE suffixes too (120p)
    except ParameterError:
        return ""
    for o in outs:
        t = o.vectors.get("time")
        if t is not None and len(t) and float(t[-1]) < stop * (1 - 1e-9):
            return f"the transient ended at {float(t[-1]):.4g} s, before its stop time {stop:.4g} s"
    return ""


def resolve_card(netlist: Netlist) -> Netlist:
    """The deck with its card replaced by this process's private, content-addressed copy of the verified
    card (``engine.private_card``): the user's path never reaches the deck. The job names its card by
    path and sha256; on another machine (a Dask worker) the path may differ, so fall back to the PDK
    search path by content."""
    from ..core import pdk as pdkmod
    from .engine import private_card

    p = Path(netlist.card)
    src = None
    if p.is_file() and pdkmod.sha256_file(p) == netlist.card_sha256:
        src = p
    else:
        for d in pdkmod.search_path():
            cand = d / p.name
            if cand.is_file() and pdkmod.sha256_file(cand.resolve()) == netlist.card_sha256:
                src = cand.resolve()
                break
    if src is None:
        raise SimulationError(f"model card {p.name} (sha256 {netlist.card_sha256[:12]}...) not found on this worker")
    return dataclasses.replace(netlist, card=private_card(src, netlist.card_sha256))


_ENGINE = None


def _engine():
    global _ENGINE
    if _ENGINE is None:
        from .engine import Engine

        _ENGINE = Engine()
    return _ENGINE


def execute(job: SimJob) -> JobResult | JobFailure:
    """Run *job* in this process (used by every executor's workers, and inline)."""
    from .engine import identity

    t0 = time.perf_counter()
    last_log: list[str] = []
    last_err = ""
    kind = "error"
    try:
        nl = resolve_card(job.netlist)
        alters = job.alter_commands()  # lazy Monte Carlo rows refuse to run if this machine draws other values
        eng = _engine()
        ident_ = identity()
    except Exception as exc:  # missing card / ngspice on a worker, draws that differ here
        return JobFailure(job, str(exc), [], None, "error")
    for tier, opts in enumerate(RETRY_TIERS):
        deck = nl if tier == 0 else dataclasses.replace(nl, analysis=_relaxed_analysis(nl.analysis))
        text = deck.text(extra_options=opts)
        try:
            outs = eng.run(text, nl.save, alters, timeout=job.timeout)
        except SimulationTimeout as exc:
            return JobFailure(job, str(exc), list(exc.args[1]) if len(exc.args) > 1 else [], None, "timeout")
        except DeckError as exc:  # deterministic: the same deck fails the same way in every tier
            return JobFailure(job, f"{exc.args[0]} (not retried: an error in the deck or its parameters)",
                              list(exc.args[1]) if len(exc.args) > 1 else [], None, "deck")
        except SimulationError as exc:
            last_err = str(exc.args[0])
            last_log = list(exc.args[1]) if len(exc.args) > 1 else []
            kind = "nonconvergence"
            continue
        short = _ended_early(deck.analysis, outs)
        if short:  # never keep (or cache) a transient that stopped before its end time
            last_err, last_log, kind = short, [], "nonconvergence"
            continue
        return JobResult(
            runs=[o.vectors for o in outs],
            analysis_seconds=sum(o.analysis_seconds for o in outs),
            wall_seconds=time.perf_counter() - t0,
            tier=tier,
            ngspice=ident_,
            ngspice_seconds=eng.last_ngspice_seconds,
        )
    return JobFailure(
        job, f"did not converge after {len(RETRY_TIERS)} option tiers (last: {last_err})", last_log, None, kind
    )
