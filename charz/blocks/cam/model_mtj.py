"""Analog CAM lookup on MTJ cells, fed only by a ``cam_mtj`` LUT (:mod:`charz.blocks.cam.recipe_mtj`).

Each row of an analog CAM stores one window [lo, hi) of the analog input (the data-line voltage) as a
pair of programmed states (s_lo, s_hi) of its cell, plus an output code; a search drives every row with
the same input and the row whose window contains it answers with its code (MACAM: a fused activation
function and A/D conversion).

- :meth:`MtjCamModel.from_lut`: the nominal edges per state (``edge_lo[s]``, ``edge_hi[s]``) and their
  Monte Carlo statistics (mean shift and covariance across the states, per branch:
  :func:`charz.behavior.mismatch.lut_mismatch`);
- :meth:`MtjCamModel.draw`: a chip: every row's two edges drawn once (a physical cell keeps its offsets
  for every search);
- :meth:`MtjCamModel.lookup`: vectorized over inputs x rows: ``lo <= x < hi``; the code of the matching
  row, a flag when no row or several rows match, and the energy per search (each row's LUT energy for a
  match or a mismatch, summed);
- what MACAM stores in its rows for a ReLU (state pairs, values, the data-line driver) is designed by
  :func:`charz.blocks.cam.model_macam.design`.

Approximations: the LUT's energies are of one window (the recipe's middle window) at one input below,
inside and above it, used for every row; a cell's two branches are independent (the recipe measures them
on separate match lines; the full cell shares one line, checked in ngspice by ``tests/test_cam_mtj.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...behavior.mismatch import draw_instances, lut_mismatch
from ...core.errors import LUTError, ParameterError
from ...core.lut import LUT, Kind

NONE, ONE, SEVERAL = 0, 1, 2
"""Match counts of a lookup: :data:`ONE` is a clean answer."""


@dataclasses.dataclass(frozen=True)
class MtjChip:
    """One drawn array: row r matches ``lo[r] <= x < hi[r]``; ``states`` (R, 2) its programmed (s_lo, s_hi)."""

    lo: np.ndarray
    hi: np.ndarray
    states: np.ndarray

    @property
    def n_rows(self) -> int:
        """Rows of the array."""
        return self.lo.size


@dataclasses.dataclass(frozen=True)
class LookupResult:
    """What :meth:`MtjCamModel.lookup` returns for N inputs."""

    code: np.ndarray
    """(N,) the code of the matching row (the first one when several match); -1 when none matches."""
    matches: np.ndarray
    """(N,) number of matching rows."""
    energy: np.ndarray
    """(N,) energy of the search over every row [J]."""

    @property
    def flag(self) -> np.ndarray:
        """(N,) :data:`NONE`, :data:`ONE` or :data:`SEVERAL`."""
        return np.minimum(self.matches, SEVERAL)


@dataclasses.dataclass(frozen=True)
class MtjCamModel:
    """The MTJ analog CAM cell of a ``cam_mtj`` LUT at one (VDD, temperature)."""

    edge_lo: np.ndarray
    """(S,) nominal lower edge per programmed state [V]."""
    edge_hi: np.ndarray
    """(S,) nominal upper edge per programmed state [V]."""
    dev: dict
    """Per branch (``"lo"``, ``"hi"``): (dev_mean, dev_factor, dev_samples) of the Monte Carlo edges, or Nones."""
    energy_match: float
    """Energy of one cell's search when it matches [J]."""
    energy_mismatch: float
    """Energy of one cell's search when it does not (mean of below and above its window) [J]."""
    coords: dict
    mismatch_scale: float = 1.0
    mismatch_source: str = "mvn"
    info: str = ""

    @classmethod
    def from_lut(cls, lut: LUT, vdd: float | None = None, temp: float | None = None, mismatch_scale: float = 1.0,
                 mismatch_source: str = "mvn") -> "MtjCamModel":
        """The model at (*vdd*, *temp*) of *lut* (a ``cam_mtj`` LUT or its path); defaults as the LUT's
        ``default_coord``. Energies interpolate linearly in VDD and temperature."""
        if not isinstance(lut, LUT):
            lut = LUT.load(lut, block=Kind.CAM_MTJ)
        if lut.block != Kind.CAM_MTJ:
            raise LUTError(f"a {Kind.CAM_MTJ} LUT is needed, got a '{lut.block}' LUT")
        if mismatch_source not in ("mvn", "resample"):
            raise ParameterError(f"mismatch_source = {mismatch_source!r}: choose mvn or resample")
        ms = float(mismatch_scale)
        if not np.isfinite(ms) or ms < 0:
            raise ParameterError(f"mismatch_scale = {mismatch_scale!r} must be a finite number >= 0")
        point = {n: float(g) if g is not None else lut.default_coord(n)[0] for n, g in (("vdd", vdd), ("temp", temp))}
        edges, dev, infos = {}, {}, []
        for b in ("lo", "hi"):
            nom = np.asarray(lut.slice(f"edge_{b}", **point), dtype=float)
            if not np.all(np.isfinite(nom)):
                raise LUTError(f"{lut.block} LUT has edges outside its data-line grid (NaN) at {point}: "
                               f"re-characterize with another dl_max or reference resistors")
            edges[b] = nom
            _, mean, factor, smp, _, info = lut_mismatch(lut, f"edge_{b}", point, nom, ms, mismatch_source, "cells",
                                                         "states", "nominal (no Monte Carlo in the LUT)")
            dev[b] = (mean, factor, smp)
            infos.append(f"{b}: {info}")
        e = np.asarray(lut.arrays["energy"], dtype=float)
        e_pt = _interp2(lut, e, point)
        return cls(edges["lo"], edges["hi"], dev, float(e_pt[1]), float((e_pt[0] + e_pt[2]) / 2), point, ms,
                   mismatch_source, "; ".join(infos))

    @property
    def n_states(self) -> int:
        """Programmed states per branch."""
        return self.edge_lo.size

    def sigma(self, branch: str) -> np.ndarray:
        """(S,) the spread of the *branch*'s edge (``"lo"`` / ``"hi"``) over cells [V] (scaled)."""
        mean, factor, smp = self.dev[branch]
        if factor is None:
            return np.zeros(self.n_states)
        if self.mismatch_source == "resample" and smp is not None:
            return self.mismatch_scale * smp.std(axis=0)
        return self.mismatch_scale * np.sqrt(np.sum(factor ** 2, axis=1))

    def window(self, s_lo, s_hi) -> tuple[np.ndarray, np.ndarray]:
        """Nominal window(s) [lo, hi) [V] of state pair(s)."""
        lo, hi = self._states(np.stack(np.broadcast_arrays(s_lo, s_hi), axis=-1).reshape(-1, 2))
        return self.edge_lo[lo].reshape(np.shape(s_lo)), self.edge_hi[hi].reshape(np.shape(s_hi))

    # ---- chips and lookups --------------------------------------------------------------------------------
    def draw_cells(self, n_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """*n_rows* cells drawn once: (lo, hi) edge curves, each (n_rows, S), every programmed state of both
        branches (what a program-and-verify step sees). :meth:`draw` keeps the programmed ones of the same draw."""
        if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
            raise ParameterError(f"n_rows = {n_rows!r}: give an integer >= 1")
        curves = []
        for b, nom in (("lo", self.edge_lo), ("hi", self.edge_hi)):
            mean, factor, smp = self.dev[b]
            curves.append(draw_instances(nom, int(n_rows), rng, self.mismatch_scale, self.mismatch_source, factor,
                                         mean, smp))
        return curves[0], curves[1]

    def draw(self, n_rows: int, states, rng: np.random.Generator) -> MtjChip:
        """A chip of *n_rows* rows programmed to *states* ((n_rows, 2) of (s_lo, s_hi)): each row's cell drawn
        once (:meth:`draw_cells`; its programmed states kept). Same generator state, same chip."""
        if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
            raise ParameterError(f"n_rows = {n_rows!r}: give an integer >= 1")
        st = np.asarray(states)
        if st.shape != (n_rows, 2):
            raise ParameterError(f"states must be ({n_rows}, 2) programmed (s_lo, s_hi) pairs, got shape {st.shape}")
        lo_s, hi_s = self._states(st)
        rows = np.arange(n_rows)
        lo, hi = self.draw_cells(n_rows, rng)
        return MtjChip(lo[rows, lo_s], hi[rows, hi_s], np.stack([lo_s, hi_s], axis=1))

    def nominal_chip(self, states) -> MtjChip:
        """A chip whose rows have the nominal edges of *states* ((R, 2))."""
        lo_s, hi_s = self._states(np.asarray(states))
        return MtjChip(self.edge_lo[lo_s].copy(), self.edge_hi[hi_s].copy(), np.stack([lo_s, hi_s], axis=1))

    def lookup(self, x, chip: MtjChip, codes) -> LookupResult:
        """For inputs *x* (any shape, flattened; V on the data line) on *chip* whose rows answer *codes* (R,):
        the code of the row whose window contains each input (the first when several do, -1 when none),
        the number of matching rows and the energy per search."""
        xv = np.asarray(x, dtype=float).ravel()
        c = np.asarray(codes)
        if not isinstance(chip, MtjChip) or c.shape != (chip.n_rows,):
            raise ParameterError(f"codes must hold one integer per row of the chip ({getattr(chip, 'n_rows', '?')})")
        if not np.all(np.isfinite(xv)):
            raise ParameterError("inputs must be finite voltages")
        hit = (xv[:, None] >= chip.lo[None, :]) & (xv[:, None] < chip.hi[None, :])
        n = hit.sum(axis=1)
        first = np.argmax(hit, axis=1)
        code = np.where(n > 0, c[first], -1).astype(np.int64)
        energy = n * self.energy_match + (chip.n_rows - n) * self.energy_mismatch
        return LookupResult(code, n, energy)

    def describe(self) -> dict:
        """A JSON-ready summary."""
        return {"block": Kind.CAM_MTJ, "coords": self.coords, "edge_lo_V": self.edge_lo.tolist(),
                "edge_hi_V": self.edge_hi.tolist(), "edge_lo_sigma_V": self.sigma("lo").tolist(),
                "edge_hi_sigma_V": self.sigma("hi").tolist(), "energy_match_J": self.energy_match,
                "energy_mismatch_J": self.energy_mismatch, "mismatch_scale": self.mismatch_scale,
                "mismatch": self.info}

    def _states(self, st: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = self.n_states
        if st.ndim != 2 or st.shape[1] != 2 or not np.issubdtype(st.dtype, np.integer) or np.any(st < 0) \
                or np.any(st >= S):
            raise ParameterError(f"states must be (R, 2) integer pairs (s_lo, s_hi) in 0 .. {S - 1}")
        return st[:, 0].astype(np.int64), st[:, 1].astype(np.int64)


def _interp2(lut: LUT, arr: np.ndarray, point: dict) -> np.ndarray:
    """*arr* (vdd, temp, ...) at *point*, linear in each continuous axis (inside the grid)."""
    out = arr
    for idx, name in ((1, "temp"), (0, "vdd")):
        ax = lut.axis(name).values
        x = point[name]
        if not ax[0] - 1e-9 <= x <= ax[-1] + 1e-9:
            raise LUTError(f"{name}={x:g} is outside the {lut.block} LUT range [{ax[0]:g}, {ax[-1]:g}]")
        if ax.size == 1:
            out = np.take(out, 0, axis=idx)
            continue
        k = int(np.clip(np.searchsorted(ax, x) - 1, 0, ax.size - 2))
        w = (x - ax[k]) / (ax[k + 1] - ax[k])
        out = (1 - w) * np.take(out, k, axis=idx) + w * np.take(out, k + 1, axis=idx)
    return out


__all__ = ["MtjCamModel", "MtjChip", "LookupResult", "NONE", "ONE", "SEVERAL"]
