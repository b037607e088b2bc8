"""What every characterization recipe shares: corner grids, nominal + Monte Carlo job planning on
the executor, and collecting the results per sweep point.

A recipe (one module per block) builds a list of ``(coords, Netlist)`` points, calls
:func:`run_points`, measures each run's vectors in NumPy, and assembles a :class:`charz.core.lut.LUT`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
from typing import Sequence

import numpy as np

from .. import __version__
from ..core.errors import ParameterError
from ..core.mc import Draws, check_limit
from ..netlist.spice import Netlist
from ..core.pdk import PDK
from ..sim.executor import Executor, SweepResult, run_jobs
from ..sim.runner import JobFailure, SimJob, run_timeout

MC_CHUNK = 25
"""Monte Carlo samples run in one ngspice session (one job)."""


def corner_values(values: Sequence[float] | float | None, default: Sequence[float], name: str, unit: str) -> list[float]:
    """A sorted, de-duplicated list of corner values. One value is a fixed condition."""
    if values is None:
        values = default
    if np.isscalar(values):
        values = [values]
    vals = sorted({float(v) for v in values})
    if not vals:
        raise ParameterError(f"the {name} axis has no points: give at least one value ({unit})")
    return vals


def vdd_values(pdk: PDK, vdd: Sequence[float] | float | None) -> list[float]:
    """The VDD axis of a sweep [V]: *vdd* (one value or several; None = the PDK's nominal) sorted and
    de-duplicated, each checked against the node (``ParameterError`` outside (0, 1.5 x nominal])."""
    vals = corner_values(vdd, [pdk.vdd_nom], "VDD", "V")
    return [pdk.check_vdd(v) for v in vals]


def temp_values(temp: Sequence[float] | float | None) -> list[float]:
    """The temperature axis of a sweep [degC]: *temp* (None = 27) sorted and de-duplicated; ``ParameterError``
    for a value outside [-55, 150] degC."""
    vals = corner_values(temp, [27.0], "temperature", "degC")
    for t in vals:
        if not (-55.0 <= t <= 150.0):
            raise ParameterError(f"temperature {t:g} degC is outside [-55, 150] degC: choose a value in that range")
    return vals


def midpoints(values: Sequence[float]) -> list[float]:
    """The midpoints between consecutive *values* (empty for fewer than two)."""
    v = np.asarray(values, dtype=float)
    return ((v[:-1] + v[1:]) / 2).tolist() if v.size > 1 else []


@dataclasses.dataclass
class PointResults:
    """Vectors per sweep point: ``nominal[i]`` (dict or None if failed) and ``mc[i][s]``."""

    points: list[tuple[dict, Netlist]]
    nominal: list[dict | None]
    mc: list[list[dict | None]]
    sweep: list[SweepResult]

    @property
    def failures(self) -> list[JobFailure]:
        """Every failed job of these sweeps (each with its saved netlist path)."""
        return [f for s in self.sweep for f in s.failures]

    @property
    def pool_restarts(self) -> int:
        """Worker pools replaced (Dask: workers lost) because a worker died during these sweeps."""
        return sum(s.pool_restarts for s in self.sweep)

    @property
    def resubmitted(self) -> int:
        """Jobs run again because the worker holding them died."""
        return sum(s.resubmitted for s in self.sweep)

    @property
    def ngspice(self) -> dict:
        """The ngspice identity the runs reported (this process's when every result came from the cache)."""
        ident = self.sweep[0].ngspice if self.sweep else {}
        if not ident:
            from ..sim.executor import local_identity

            ident = local_identity()
        return ident

    def analysis_seconds(self) -> float:
        """Summed ngspice run time of the jobs simulated in these sweeps (s); cached results count 0."""
        return sum(r.analysis_seconds for s in self.sweep for r in s.results if r is not None and not r.cached)


def run_points(
    points: list[tuple[dict, Netlist]],
    draws: Draws | None = None,
    *,
    recipe: str,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    desc: str = "simulating",
    chunk: int = MC_CHUNK,
    timeout: float = 120.0,
) -> PointResults:
    """Run every point nominally and, with *draws*, for every Monte Carlo sample (chunks of samples
    share one ngspice session; a job holds its chunk lazily, ``draws.samples(a, b)``, so the plan never
    holds every draw). Failed runs come back as None and are listed in ``failures``.

    *timeout* is the recipe's limit for one ngspice run (s); the user's ``--timeout`` / ``CHARZ_TIMEOUT``
    replaces it (``runner.run_timeout``). Every run of a Monte Carlo chunk has that same limit."""
    timeout = run_timeout(timeout)
    jobs: list[SimJob] = []
    where: list[tuple[int, int, int]] = []  # (point, first sample or -1, last sample)
    for p, (coords, nl) in enumerate(points):
        label = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in coords.items())
        jobs.append(SimJob(nl, (), recipe, timeout, label))
        where.append((p, -1, -1))
        if draws is not None:
            for a in range(0, draws.n, chunk):
                b = min(a + chunk, draws.n)
                jobs.append(SimJob(nl, draws.samples(a, b), recipe, timeout, f"{label}, mc {a}..{b - 1}"))
                where.append((p, a, b))
    sweep = run_jobs(jobs, executor=executor, use_cache=use_cache, progress=progress, desc=desc)
    nominal: list[dict | None] = [None] * len(points)
    mc: list[list[dict | None]] = [[None] * (draws.n if draws is not None else 0) for _ in points]
    for (p, a, b), res in zip(where, sweep.results):
        if res is None:
            continue
        if a < 0:
            nominal[p] = res.runs[0]
        else:
            for s, run in zip(range(a, b), res.runs):
                mc[p][s] = run
    return PointResults(points, nominal, mc, [sweep])


def netlist_set(shas) -> dict:
    """Provenance of a recipe's whole set of decks: their count and one sha256 over their sorted sha256s."""
    shas = sorted(shas)
    return {"netlist_set_sha256": hashlib.sha256("\n".join(shas).encode()).hexdigest(), "netlists": len(shas)}


def sample_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (ddof=1) sigma over the last axis, ignoring failed (NaN) samples."""
    v = np.asarray(values, dtype=float)
    n = np.sum(np.isfinite(v), axis=-1)
    mean = np.nanmean(v, axis=-1)
    sigma = np.where(n > 1, np.nanstd(v, axis=-1, ddof=1) if v.shape[-1] > 1 else 0.0, 0.0)
    return mean, sigma


def integral(t, y, a: float, b: float) -> float:
    """Trapezoidal integral of y(t) over [a, b] (a and b need not be time points: the running integral
    is interpolated). Used for charges: a source delivering current has a negative branch current, so
    the charge it delivers over a window is ``-integral(t, i, a, b)``.

    Integrate the *net* current over a window rather than its positive part: ngspice's integration makes
    the current of an ideal source ring between time points, and the positive part of that ringing
    grows as the time step shrinks, while the net charge does not (the figures are in
    docs/ARCHITECTURE.md, 'Key decisions')."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    cum = np.concatenate(([0.0], np.cumsum(np.diff(t) * (y[1:] + y[:-1]) / 2)))
    return float(np.interp(b, t, cum) - np.interp(a, t, cum))


def mismatch_record(pdk: PDK, draws: Draws | None, mismatch_beta: bool = False, **extra) -> dict | None:
    """The ``mismatch`` entry of a LUT's provenance (None without Monte Carlo)."""
    if draws is None:
        return None
    rec = {"avt_mv_um": pdk.avt_mv_um, "abeta_pct_um": pdk.abeta_pct_um if mismatch_beta else 0.0,
           "applied_as": "delvto" + (" + mulu0" if mismatch_beta else ""), "devices": len(draws.devices)}
    rec.update(extra)
    return rec


def check_mc(mc) -> int:
    """The Monte Carlo sample count as an int from 0 to :func:`charz.core.mc.mc_limit` (10,000 per grid point
    unless ``--mc-limit`` / ``CHARZ_MC_LIMIT`` raise it), or a one-line ParameterError."""
    try:
        ok = not isinstance(mc, bool) and int(mc) == mc and mc >= 0
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ParameterError(f"mc = {mc!r}: the number of Monte Carlo samples must be an integer >= 0")
    return check_limit(int(mc))


def steps_for(steps_per_lsb) -> int:
    """Input sweep steps per LSB (None = 8), an integer 2..64, else a one-line ParameterError."""
    if steps_per_lsb is None:
        return 8
    if isinstance(steps_per_lsb, bool) or not isinstance(steps_per_lsb, (int, np.integer)) or not 2 <= steps_per_lsb <= 64:
        raise ParameterError(f"steps per LSB must be an integer from 2 to 64, got {steps_per_lsb!r}")
    return int(steps_per_lsb)


def provenance(generator: str, params: dict, netlist_sha256: list[str] | str, pdk_prov: dict, ngspice: dict,
               mc_samples: int = 0, seed: int | None = None, extra: dict | None = None) -> dict:
    """The provenance record every LUT carries."""
    out = dict(pdk_prov)
    out.update({
        "generator": generator,
        "parameters": params,
        "netlist_sha256": netlist_sha256,
        "ngspice_version": ngspice.get("version"),
        "ngspice_build": ngspice.get("build"),
        "charz_version": __version__,
        "mc_samples": mc_samples,
        "mc_seed": seed,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "simulation": _simulation_record(),
    })
    if extra:
        out.update(extra)
    return out


def _simulation_record() -> dict | None:
    """ngspice's start-up settings and the run time limits (``charz.sim.executor.simulation_record``); the
    import is local because only characterization recipes, which run the simulator, make provenance."""
    from ..sim.executor import simulation_record

    return simulation_record()
