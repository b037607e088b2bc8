"""Nearest-key search on an SRAM CAM array, fed only by a ``cam_sram`` LUT (:mod:`charz.blocks.cam.recipe`).

A search compares a query with every stored key at once: each row's match line discharges through its
mismatching cells, and at the sense instant its voltage ``V_ML(m)`` falls with the Hamming distance m
(the LUT's ``v_ml`` curve over ``m = 0..W``). The row whose match line is highest has discharged least:
it is the nearest key. The model does that in NumPy:

1. the Hamming distance of every (query, row) pair, exact: the bits a key stores as X (ternary "don't
   care", :data:`X`) never count (:meth:`CamModel.distances`);
2. each row's voltage at the sense instant, ``V_ML`` of that row at that distance. A chip
   (:meth:`CamModel.draw`, drawn once per chip) gives every row its own ``V_ML(m)`` curve, the nominal
   curve plus a deviation drawn from the LUT's Monte Carlo rows (mean shift and full covariance across
   m, :func:`charz.behavior.mismatch.draw_instances`): a row that discharges fast does so at every
   distance and on every search;
3. the winner is the row with the highest voltage (:meth:`CamModel.search`); the energy of a search is the
   sum over the rows of the LUT's energy per search per row at each row's distance.

With mismatch a row farther from the query can end up higher than the nearest one. For two rows at
distances d and d + margin the probability is ``Phi(-(mu(d) - mu(d + margin)) / sqrt(sigma(d)^2 +
sigma(d + margin)^2))`` with mu, sigma the mean and spread of ``V_ML`` over chips;
:meth:`CamModel.p_wrong` gives it (and for several rows at d + margin).

Approximations (stated in the LUT's recipe and tested there): the recipe's row flips its first m bits, so
a chip's row deviates at distance m as the simulated rows did with *those* m cells mismatching; a stored X
cell is a matching cell with both stacks off, which the binary LUT row does not contain (its match line
then has slightly less capacitance); the read-out that compares the rows' voltages (a winner-take-all
circuit) is ideal.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import ndtr

from ...behavior.mismatch import draw_instances, lut_mismatch
from ...core.errors import LUTError, ParameterError
from ...core.lut import LUT, Kind

X = -1
"""A stored "don't care" bit in a key (the netlist's X): it never counts in the distance."""
SOURCES = ("mvn", "resample")
_GH = np.polynomial.hermite_e.hermegauss(64)


@dataclasses.dataclass(frozen=True)
class CamChip:
    """One drawn array: ``v_ml[r, m]`` is row r's match-line voltage at the sense instant with m mismatching
    bits (V)."""

    v_ml: np.ndarray

    @property
    def n_rows(self) -> int:
        """Rows of the array."""
        return self.v_ml.shape[0]


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """What :meth:`CamModel.search` returns for Q queries on R rows."""

    winner: np.ndarray
    """(Q,) index of the row whose match line is highest at the sense instant."""
    distance: np.ndarray
    """(Q, R) exact Hamming distance of every (query, row) pair (X bits excluded)."""
    v_ml: np.ndarray
    """(Q, R) every row's match-line voltage at the sense instant [V]."""
    energy: np.ndarray
    """(Q,) energy of each search over the whole array [J]."""

    @property
    def nearest(self) -> np.ndarray:
        """(Q,) the smallest distance of each query."""
        return self.distance.min(axis=1)

    @property
    def correct(self) -> np.ndarray:
        """(Q,) True where the winner is a nearest row (ties at the smallest distance are all correct)."""
        return self.distance[np.arange(self.winner.size), self.winner] == self.nearest

    @property
    def margin(self) -> np.ndarray:
        """(Q,) distance of the second-nearest row minus the nearest one's (0: a tie); needs two rows or more."""
        if self.distance.shape[1] < 2:
            raise ParameterError("the margin between the nearest and the second-nearest row needs at least two rows")
        d = np.sort(self.distance, axis=1)
        return d[:, 1] - d[:, 0]


@dataclasses.dataclass(frozen=True)
class CamModel:
    """The CAM row of a ``cam_sram`` LUT at one (VDD, temperature): nominal ``V_ML(m)`` and energy per search
    per row over m = 0..W, and the Monte Carlo statistics of the rows' curves."""

    n_bits: int
    """Word length W."""
    nominal: np.ndarray
    """(W + 1,) nominal ``V_ML(m)`` at the sense instant [V]."""
    energy_row: np.ndarray
    """(W + 1,) energy per search per row at m mismatching bits [J] (search lines and replica shared over
    the LUT's rows)."""
    dev_mean: np.ndarray | None
    """(W + 1,) mean of the Monte Carlo rows minus nominal [V] (None: no Monte Carlo)."""
    dev_factor: np.ndarray | None
    """(W + 1, r) with ``F @ F.T`` the covariance of a row's curve across m [V^2] (None: no Monte Carlo)."""
    dev_samples: np.ndarray | None
    """(S, W + 1) the Monte Carlo rows minus nominal (for ``mismatch_source="resample"``)."""
    coords: dict
    """The LUT point: ``vdd`` [V], ``temp`` [degC]."""
    rows: int
    """Rows the LUT's energy shares assume."""
    mismatch_scale: float = 1.0
    """Scale of the drawn deviations (0 = every row nominal)."""
    mismatch_source: str = "mvn"
    """``"mvn"`` (Gaussian with the samples' covariance) or ``"resample"`` (pick simulated rows)."""
    info: str = ""
    provenance: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_lut(cls, lut: LUT, vdd: float | None = None, temp: float | None = None, mismatch_scale: float = 1.0,
                 mismatch_source: str = "mvn") -> "CamModel":
        """The model at (*vdd*, *temp*) of *lut* (a ``cam_sram`` LUT; a path is loaded). Defaults: the PDK's
        nominal VDD when on the grid (else the highest), 27 degC when inside the grid. Continuous axes
        interpolate; a point off the grid's range is a LUTError."""
        if not isinstance(lut, LUT):
            lut = LUT.load(lut, block=Kind.CAM_SRAM)
        if lut.block != Kind.CAM_SRAM:
            raise LUTError(f"a {Kind.CAM_SRAM} LUT is needed, got a '{lut.block}' LUT")
        if mismatch_source not in SOURCES:
            raise ParameterError(f"mismatch_source = {mismatch_source!r}: choose one of {', '.join(SOURCES)}")
        ms = float(mismatch_scale)
        if not np.isfinite(ms) or ms < 0:
            raise ParameterError(f"mismatch_scale = {mismatch_scale!r} must be a finite number >= 0")
        point = {}
        for name, given in (("vdd", vdd), ("temp", temp)):
            point[name] = float(given) if given is not None else lut.default_coord(name)[0]
        nominal = np.asarray(lut.slice("v_ml", **point), dtype=float)
        energy = np.asarray(lut.slice("energy", **point), dtype=float)
        if not (np.all(np.isfinite(nominal)) and np.all(np.isfinite(energy))):
            raise LUTError(f"{lut.block} LUT has failed (NaN) points at {point}: re-characterize that corner")
        n_bits = int(lut.axis("m").values[-1])
        if nominal.size != n_bits + 1:
            raise LUTError(f"{lut.block} LUT's m axis must run 0..W, got {lut.axis('m').values.tolist()}")
        _, dev_mean, dev_factor, dev_samples, source, info = lut_mismatch(
            lut, "v_ml", point, nominal, ms, mismatch_source, "rows", "m", "nominal (no Monte Carlo in the LUT)")
        return cls(n_bits, nominal, energy, dev_mean, dev_factor, dev_samples, point,
                   int(lut.conditions.get("rows", 1)), ms, source, info, dict(lut.provenance))

    # ---- statistics ------------------------------------------------------------------------------------
    @property
    def mean(self) -> np.ndarray:
        """(W + 1,) mean ``V_ML(m)`` over chips [V]: nominal plus the scaled Monte Carlo mean shift."""
        shift = self.dev_mean if self.dev_mean is not None else 0.0
        return self.nominal + self.mismatch_scale * shift

    @property
    def sigma(self) -> np.ndarray:
        """(W + 1,) spread of ``V_ML(m)`` over rows [V] (scaled; zeros without Monte Carlo)."""
        if self.dev_factor is None:
            return np.zeros_like(self.nominal)
        if self.mismatch_source == "resample" and self.dev_samples is not None:
            return self.mismatch_scale * self.dev_samples.std(axis=0)
        return self.mismatch_scale * np.sqrt(np.sum(self.dev_factor ** 2, axis=1))

    def with_mismatch_scale(self, scale: float) -> "CamModel":
        """A copy whose drawn deviations are scaled by *scale* (0 = nominal rows)."""
        s = float(scale)
        if not np.isfinite(s) or s < 0:
            raise ParameterError(f"mismatch_scale = {scale!r} must be a finite number >= 0")
        return dataclasses.replace(self, mismatch_scale=s)

    # ---- chips and searches ------------------------------------------------------------------------------
    def draw(self, n_rows: int, rng: np.random.Generator) -> CamChip:
        """A chip of *n_rows* rows, each with its own ``V_ML(m)`` curve (drawn once: use the chip for every
        search). The same generator state gives the same chip."""
        if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
            raise ParameterError(f"n_rows = {n_rows!r}: give an integer >= 1")
        curves = draw_instances(self.nominal, int(n_rows), rng, self.mismatch_scale, self.mismatch_source,
                                self.dev_factor, self.dev_mean, self.dev_samples)
        return CamChip(curves)

    def nominal_chip(self, n_rows: int) -> CamChip:
        """A chip whose rows all follow the nominal curve (an ideal array: the nearest row always wins)."""
        return CamChip(np.broadcast_to(self.nominal, (int(n_rows), self.nominal.size)).copy())

    def distances(self, keys, queries) -> np.ndarray:
        """(Q, R) Hamming distances between *queries* (Q, W) of 0 / 1 and the stored *keys* (R, W) of 0 / 1 / X
        (:data:`X` = -1, ternary "don't care", never counted), exact (integer counts via one matrix product)."""
        k, q = self._check(keys, queries)
        care = k != X
        ones = (care & (k == 1)).astype(np.float64)
        zeros = (care & (k == 0)).astype(np.float64)
        qf = q.astype(np.float64)
        d = qf @ zeros.T + (1.0 - qf) @ ones.T  # query 1 on a stored 0, or query 0 on a stored 1
        return np.rint(d).astype(np.int64)

    def search(self, keys, queries, chip: CamChip | None = None) -> SearchResult:
        """Nearest-key search of every query among the stored *keys* on *chip* (None: the nominal chip):
        winner = the row with the highest match line at the sense instant (module docstring)."""
        d = self.distances(keys, queries)
        chip = self.nominal_chip(d.shape[1]) if chip is None else chip
        if not isinstance(chip, CamChip) or chip.v_ml.shape != (d.shape[1], self.n_bits + 1):
            raise ParameterError(f"the chip must be a CamChip of {d.shape[1]} rows x {self.n_bits + 1} distances "
                                 f"(draw it with CamModel.draw({d.shape[1]}, rng))")
        v = chip.v_ml[np.arange(d.shape[1])[None, :], d]
        return SearchResult(np.argmax(v, axis=1), d, v, self.energy_row[d].sum(axis=1))

    def energy_per_search(self, n_rows: int, m: int | None = None) -> float:
        """Energy of one search of *n_rows* rows (J): rows x the energy per row at *m* mismatching bits
        (None: the mean over m = 0..W, every distance equally likely)."""
        e = self.energy_row.mean() if m is None else self.energy_row[self._m(m)]
        return float(n_rows * e)

    # ---- wrong winners ----------------------------------------------------------------------------------
    def p_wrong(self, d_best, margin, competitors=1) -> np.ndarray:
        """Probability that a row nearer by *margin* bits loses: the nearest row at distance *d_best* against
        *competitors* independent rows at ``d_best + margin``, all drawn on the chip's statistics (Gaussian in
        ``V_ML``, :attr:`mean` and :attr:`sigma`). Broadcasts; 0 where margin = 0 (a tie is never wrong), NaN
        where ``d_best + margin`` > W."""
        d = np.asarray(d_best)
        g = np.asarray(margin)
        k = np.asarray(competitors)
        if np.any(d < 0) or np.any(g < 0) or np.any(k < 1):
            raise ParameterError("d_best and margin must be >= 0 and competitors >= 1")
        d, g, k = np.broadcast_arrays(d.astype(np.int64), g.astype(np.int64), k.astype(np.int64))
        far = d + g
        ok = far <= self.n_bits
        mu, sg = self.mean, self.sigma
        da, db = np.where(ok, d, 0), np.where(ok, far, 0)
        mu_a, mu_b, s_a, s_b = mu[da], mu[db], sg[da], sg[db]
        z, w = _GH
        va = mu_a[..., None] + s_a[..., None] * z  # the nearest row's voltage at the quadrature nodes
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(s_b[..., None] > 0, (va - mu_b[..., None]) / s_b[..., None],
                         np.where(va > mu_b[..., None], np.inf, -np.inf))
        p_ok = np.sum(w * ndtr(x) ** k[..., None], axis=-1) / np.sqrt(2 * np.pi)
        p = np.clip(1.0 - p_ok, 0.0, 1.0)
        p = np.where(g == 0, 0.0, p)
        return np.where(ok, p, np.nan)

    def describe(self) -> dict:
        """A JSON-ready summary: point, word length, nominal curve, spread, energy per row, mismatch."""
        return {"block": Kind.CAM_SRAM, "coords": self.coords, "n_bits": self.n_bits,
                "v_ml_nominal_V": self.nominal.tolist(), "v_ml_sigma_V": self.sigma.tolist(),
                "energy_per_row_J": self.energy_row.tolist(), "rows_assumed": self.rows,
                "mismatch_scale": self.mismatch_scale, "mismatch": self.info}

    # ---- checks -----------------------------------------------------------------------------------------
    def _m(self, m) -> int:
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 0 <= m <= self.n_bits:
            raise ParameterError(f"m = {m!r}: give an integer 0 to {self.n_bits}")
        return int(m)

    def _check(self, keys, queries) -> tuple[np.ndarray, np.ndarray]:
        k, q = np.asarray(keys), np.asarray(queries)
        W = self.n_bits
        if k.ndim != 2 or k.shape[1] != W or k.shape[0] < 1 or not np.all(np.isin(k, (0, 1, X))):
            raise ParameterError(f"keys must be an (R, {W}) array of 0 / 1 / X (-1), got shape {k.shape}")
        if q.ndim != 2 or q.shape[1] != W or not np.all(np.isin(q, (0, 1))):
            raise ParameterError(f"queries must be a (Q, {W}) array of 0 / 1, got shape {q.shape}")
        return k.astype(np.int64), q.astype(np.int64)


__all__ = ["CamModel", "CamChip", "SearchResult", "X"]
