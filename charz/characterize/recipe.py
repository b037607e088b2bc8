"""The base of every characterization recipe: :class:`Recipe` holds what the recipes of all block families
share, so that a family writes only its decks, its measurements and its tables.

What the base does, once for every family:

- the *common arguments* of a recipe (``mc, seed, executor, use_cache, progress, fit_check``), checked
  (the Monte Carlo count against :func:`charz.core.mc.mc_limit`) before anything runs;
- the VDD and temperature axes (:meth:`Recipe.vdds`, :meth:`Recipe.temps`) and the mismatch draws
  (:meth:`Recipe.draws`: Pelgrom sigmas of the PDK, same seed -> same instances);
- running points on the executor (:meth:`Recipe.run`, a context that closes an executor it made itself)
  while counting what every sweep did: failures with their saved netlists, failed Monte Carlo runs,
  ngspice's analysis time, its identity, and the decks of the LUT's netlist set;
- the provenance record (:meth:`Recipe.provenance`: generator, parameters, PDK and card, ngspice,
  charz version, Monte Carlo seed and mismatch model, netlist set, failures, run time limits);
- the fit check (:meth:`Recipe.fit_quality`: SPICE re-runs at off-grid points against the LUT's
  interpolation).

A family subclasses it with three class attributes (:attr:`Recipe.kind`, :attr:`Recipe.version`,
:attr:`Recipe.generator`) and uses one instance per ``characterize_*`` call.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar, Iterable, Sequence

import numpy as np

from ..core.lut import LUT, fit_quality_entry
from ..core.mc import Draws, Mismatch, draw
from ..core.pdk import PDK, get
from ..netlist.spice import Netlist
from ..sim.executor import Executor, owned
from .common import (
    MC_CHUNK, PointResults, check_mc, mismatch_record, netlist_set, provenance, run_points, temp_values, vdd_values,
)


@dataclasses.dataclass
class Recipe:
    """One run of a family's recipe. Subclasses set :attr:`kind`, :attr:`version` and :attr:`generator`;
    a ``characterize_*`` function makes one instance, runs its points through :meth:`run` inside ``with``,
    measures, and builds its LUT with :meth:`provenance` and :meth:`fit_quality`."""

    kind: ClassVar[str] = ""
    """The LUT kind written (a :class:`charz.core.lut.Kind` constant)."""
    version: ClassVar[str] = ""
    """Measurement-code version, part of every cache key: bump it when the recipe saves other vectors."""
    generator: ClassVar[str] = ""
    """The generator and recipe functions, as recorded in the provenance."""

    pdk: PDK | str
    """The PDK (``charz.core.pdk.get(name)``, possibly with a user A_VT) or its name."""
    mc: int = 0
    """Monte Carlo samples per grid point (0 = nominal only)."""
    seed: int = 0
    """Seed of the mismatch draw (same seed -> identical instances at every corner)."""
    executor: Executor | None = None
    """Where simulations run (None: a local pool made on entry and closed on exit)."""
    use_cache: bool = True
    """Read and write the result cache."""
    progress: bool = True
    """Show progress bars."""
    fit_check: bool = True
    """Re-run SPICE at off-grid points and store the interpolation error."""

    def __post_init__(self):
        if isinstance(self.pdk, str):
            self.pdk = get(self.pdk)
        self.mc = check_mc(self.mc)
        self.failed: list[str] = []
        """One line per failed job (with its saved netlist)."""
        self.mc_failed = 0
        """Monte Carlo runs that failed (their samples are NaN)."""
        self.analysis_s = 0.0
        """ngspice analysis time of the runs simulated (cached ones count 0)."""
        self.ngspice: dict = {}
        """The ngspice identity the first sweep reported."""
        self.decks: list[str] = []
        """sha256 of every deck of the LUT's own sweeps (not the fit check's)."""
        self._owner = None
        self._ex: Executor | None = None

    # ---- axes and draws ----------------------------------------------------------------------------
    def vdds(self, vdd: Sequence[float] | float | None) -> list[float]:
        """The VDD axis [V] (None = the PDK's nominal), sorted, each checked against the node."""
        return vdd_values(self.pdk, vdd)

    def temps(self, temp: Sequence[float] | float | None) -> list[float]:
        """The temperature axis [degC] (None = 27), sorted, each within [-55, 150]."""
        return temp_values(temp)

    def draws(self, devices, mismatch_beta: bool = False) -> Draws | None:
        """Pelgrom mismatch of *devices* for :attr:`mc` samples from :attr:`seed` (current-factor mismatch too
        with *mismatch_beta*), or None without Monte Carlo."""
        if self.mc == 0:
            return None
        model = Mismatch(self.pdk.avt_mv_um, self.pdk.abeta_pct_um if mismatch_beta else 0.0)
        return draw(model, tuple(devices), self.mc, self.seed)

    # ---- running -------------------------------------------------------------------------------------
    def __enter__(self) -> "Recipe":
        self._owner = owned(self.executor)
        self._ex = self._owner.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        owner, self._owner, self._ex = self._owner, None, None
        owner.__exit__(*exc)

    def run(self, points: list[tuple[dict, Netlist]], draws: Draws | None = None, *, desc: str,
            timeout: float = 120.0, chunk: int = MC_CHUNK, fit: bool = False, version: str | None = None,
            ) -> PointResults:
        """Run *points* (``(coords, Netlist)``) nominally and for every sample of *draws*, inside ``with``.
        Failures, analysis time and ngspice's identity are added to this recipe's records; the decks count
        in the LUT's netlist set unless *fit* (the off-grid fit check). *version* replaces :attr:`version`
        for a sub-recipe whose decks save other vectors; *timeout* is the recipe's limit for one run (the
        user's ``--timeout`` replaces it)."""
        if self._ex is None:
            raise RuntimeError("Recipe.run is used inside `with recipe:`")
        res = run_points(points, draws, recipe=version or self.version, executor=self._ex, use_cache=self.use_cache,
                         progress=self.progress, desc=desc, chunk=chunk, timeout=timeout)
        self.failed += [f.message() for f in res.failures]
        self.mc_failed += sum(run is None for runs in res.mc for run in runs)
        self.analysis_s += res.analysis_seconds()
        if not self.ngspice:
            self.ngspice = res.ngspice
        if not fit:
            self.decks += [nl.sha256 for _, nl in points]
        return res

    # ---- the LUT -------------------------------------------------------------------------------------
    def provenance(self, params: dict, netlist_sha256, *, draws: Draws | None = None, mismatch_beta: bool = False,
                   mismatch: dict | None = None, **extra) -> dict:
        """The LUT's provenance: generator, *params* (the generator's parameters and grids), *netlist_sha256*
        (the representative decks), PDK and card, ngspice, charz, Monte Carlo count / seed and the mismatch
        model of *draws* (plus *mismatch* entries), the netlist set of every deck run, failures and analysis
        time, and any *extra* entries (checks, notes, conditions of the sweep)."""
        rec = {
            "recipe": self.version,
            **netlist_set(self.decks),
            "mismatch": mismatch_record(self.pdk, draws, mismatch_beta, **(mismatch or {})),
            "failed_points": list(self.failed),
            "failed_mc_runs": self.mc_failed,
            "analysis_seconds": round(self.analysis_s, 3),
        }
        rec.update(extra)
        return provenance(generator=self.generator, params=params, netlist_sha256=netlist_sha256,
                          pdk_prov=self.pdk.provenance(), ngspice=self.ngspice or {}, mc_samples=self.mc,
                          seed=self.seed if self.mc > 0 else None, extra=rec)

    @staticmethod
    def fit_quality(lut: LUT, cases: Iterable[tuple[dict, dict]], names: Sequence[str],
                    units: dict[str, str], predict: Callable[[LUT, str, dict], float] | None = None) -> dict:
        """The fit-quality entries of *lut* for the measurements *names*: each case is ``(coords, measured)``
        from a SPICE re-run at an off-grid point; the prediction is the LUT's interpolation at *coords*
        (or ``predict(lut, name, coords)``). A case whose prediction or measurement is not finite for
        some name (a NaN neighbour) is skipped. Returns ``{name: fit_quality_entry}`` (empty if no case)."""
        predict = predict or (lambda lt, name, coords: lt.value(name, **coords))
        pred: dict[str, list[float]] = {n: [] for n in names}
        sim: dict[str, list[float]] = {n: [] for n in names}
        where: list[dict] = []
        for coords, measured in cases:
            try:
                p = {n: float(predict(lut, n, coords)) for n in names}
            except Exception:  # noqa: BLE001 - a NaN neighbour makes the prediction meaningless; skip the point
                continue
            if not all(np.isfinite(p[n]) and np.isfinite(measured[n]) for n in names):
                continue
            for n in names:
                pred[n].append(p[n])
                sim[n].append(float(measured[n]))
            where.append(dict(coords))
        if not where:
            return {}
        return {n: fit_quality_entry(pred[n], sim[n], units[n], where) for n in names}
