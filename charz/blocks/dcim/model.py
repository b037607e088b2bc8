"""Behavior of the bitline-computing word add, fed by its ``dcim_add`` LUT only (:mod:`charz.blocks.dcim.recipe`):
energy per add, carry delay and error rate at one supply, for a cost model that charges each digital add
(the HCiM study's scale-factor adds, :mod:`charz.study.hcim_train`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ...core.errors import LUTError
from ...core.lut import LUT, Kind


@dataclasses.dataclass(frozen=True)
class DcimAddModel:
    """The add at one supply: per operand pair of the LUT and averaged over them (and over the Monte Carlo
    instances when the LUT has them)."""

    vdd: float
    n_bits: int
    pairs: np.ndarray
    """(P, 2) operand pairs characterized."""
    energy_per_pair: np.ndarray
    """Energy per add of each pair (J): the Monte Carlo mean where the LUT has one, else nominal."""
    parts: dict
    """Nominal energy split per pair (J): precharge, word lines, sense, adder."""
    delay_per_pair: np.ndarray
    """Word lines' 50 % point to the last output edge (s), nominal."""
    error_per_pair: np.ndarray
    """Fraction of Monte Carlo instances with a wrong sum or a flipped cell (nominal error flag without MC)."""
    mc_samples: int
    source: str = ""

    @classmethod
    def from_lut(cls, lut: LUT | str | Path, vdd: float | None = None) -> "DcimAddModel":
        """The model at *vdd* (default: the PDK's nominal when on the grid, else the highest; interpolated
        linearly between grid supplies) of *lut* (a ``dcim_add`` LUT or its path)."""
        source = "" if isinstance(lut, LUT) else str(lut)
        if not isinstance(lut, LUT):
            lut = LUT.load(lut, block=Kind.DCIM_ADD)
        if lut.block != Kind.DCIM_ADD:
            raise LUTError(f"a {Kind.DCIM_ADD} LUT is needed, got a '{lut.block}' LUT")
        v = float(vdd) if vdd is not None else lut.default_coord("vdd")[0]
        has_mc = "energy_mean" in lut.tables

        def at(name):
            x = np.asarray(lut.slice(name, vdd=v), dtype=float)
            if not np.all(np.isfinite(x)) and name not in ("delay", "delay_mean"):
                raise LUTError(f"{lut.block} LUT has failed (NaN) points in {name} at vdd = {v:g} V: re-characterize")
            return x

        energy = at("energy_mean" if has_mc else "energy")
        pairs = np.stack([np.asarray(lut.arrays["pair_a"]), np.asarray(lut.arrays["pair_b"])], axis=1).astype(np.int64)
        parts = {k: at(k) for k in ("energy_precharge", "energy_wordline", "energy_sense", "energy_adder")}
        err = at("error_rate") if "error_rate" in lut.tables else at("error")
        mc = int(lut.samples["energy"].shape[-1]) if "energy" in lut.samples else 0
        return cls(vdd=v, n_bits=int(lut.conditions["n_bits"]), pairs=pairs, energy_per_pair=energy, parts=parts,
                   delay_per_pair=at("delay"), error_per_pair=err, mc_samples=mc, source=source)

    @property
    def energy_per_add(self) -> float:
        """Mean energy per add over the characterized operand pairs (and Monte Carlo instances), J."""
        return float(np.mean(self.energy_per_pair))

    @property
    def delay(self) -> float:
        """The worst (slowest) add's delay over the characterized pairs, s."""
        return float(np.nanmax(self.delay_per_pair))

    @property
    def error_rate(self) -> float:
        """Fraction of adds (instances x pairs) with a wrong sum or a flipped cell."""
        return float(np.mean(self.error_per_pair))

    def energy(self, adds) -> np.ndarray:
        """Energy (J) of *adds* adds (array-like counts, vectorized)."""
        return np.asarray(adds, dtype=float) * self.energy_per_add

    def describe(self) -> dict:
        """What a report needs: the LUT, supply, word length, energy per add (fJ) and its split, delay (ps), error
        rate, Monte Carlo instances."""
        return {"lut": self.source, "vdd": self.vdd, "n_bits": self.n_bits,
                "energy_per_add_fJ": round(1e15 * self.energy_per_add, 4),
                "energy_split_fJ": {k.removeprefix("energy_"): round(1e15 * float(np.mean(v)), 4)
                                    for k, v in self.parts.items()},
                "delay_ps": round(1e12 * self.delay, 2), "error_rate": self.error_rate, "mc_samples": self.mc_samples,
                "pairs": [[int(a), int(b)] for a, b in self.pairs]}


__all__ = ["DcimAddModel"]
