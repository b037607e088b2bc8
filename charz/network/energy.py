"""Energy ledger: energy per inference and TOPS/W from the column LUT.

Conventions (also returned by :data:`CONVENTIONS` and printed in every report):

- Energy = sum over every column evaluation of E(k) from the ``cim_column`` LUT's nominal ``energy``
  table at the operating point (precharge restore + wordline drive of one N-row column evaluation), where k is
  the number of cells with input bit = weight bit = 1 in that evaluation. One evaluation = one input
  bit plane on one physical column (one weight bit slice of one sign array of one row tile).
- The read-out is an **ideal quantizer**, counted as 0 J. The digital back end (shift-and-add, tile
  sums, bias, ReLU, requantization) and data movement are not counted (0 J) either. These figures are
  therefore the *array* energy only; real digitizers and periphery come in later issues.
- ops = 2 x MACs (1 MAC = 2 ops: one multiply, one add). MACs are the logical in x out
  multiplications of each layer per image, NOT per bit plane or bit slice.
- TOPS/W = ops / energy / 1e12 (ops per joule / 1e12; = tera-ops per second per watt).
"""

from __future__ import annotations

import dataclasses

import numpy as np

CONVENTIONS = {
    "energy": "sum over column evaluations of E(k) from the cim_column LUT energy table (nominal; "
              "column-to-column energy mismatch not applied), one evaluation = one input bit plane on one "
              "physical column",
    "quantizer": "ideal quantizer, counted as 0 J (no digitizer modelled yet)",
    "digital": "shift-and-add, tile sums, bias, ReLU, requantization and data movement counted as 0 J",
    "ops": "ops = 2 x MACs (1 MAC = 2 ops); MACs = logical in x out multiplications per layer per image, "
           "not per bit plane or bit slice",
    "tops_per_watt": "TOPS/W = ops / energy [J] / 1e12",
    "weights": "signed, symmetric range, sign-magnitude: separate positive and negative magnitude arrays, "
               "w_bits - 1 magnitude bit slices each",
    "activations": "unsigned, applied bit plane by bit plane (x_bits planes)",
}


@dataclasses.dataclass
class LayerEnergy:
    name: str
    macs_per_image: int
    evaluations: int = 0
    """Column evaluations counted (all images added)."""
    images: int = 0
    k_hist: np.ndarray | None = None
    energy: float = 0.0
    """Joules, all images added."""

    @property
    def energy_per_image(self) -> float:
        return self.energy / self.images if self.images else 0.0

    @property
    def evaluations_per_image(self) -> float:
        return self.evaluations / self.images if self.images else 0.0


class EnergyLedger:
    """Accumulates column evaluations per layer and turns them into joules with E(k)."""

    def __init__(self, energy_per_k: np.ndarray):
        self.e_k = np.asarray(energy_per_k, dtype=float)
        self.layers: dict[str, LayerEnergy] = {}

    def add(self, name: str, k_hist: np.ndarray, images: int, macs_per_image: int) -> None:
        """Book a k histogram (counts of evaluations at k = 0..N) for *images* images of layer *name*."""
        h = np.asarray(k_hist, dtype=np.int64)
        if h.shape != self.e_k.shape:
            raise ValueError(f"k histogram has {h.shape[0]} bins, the LUT has {self.e_k.shape[0]} k values")
        le = self.layers.setdefault(name, LayerEnergy(name, int(macs_per_image), k_hist=np.zeros_like(h)))
        le.k_hist = le.k_hist + h
        le.evaluations += int(h.sum())
        le.images += int(images)
        le.energy += float(h @ self.e_k)

    @property
    def macs_per_image(self) -> int:
        return sum(le.macs_per_image for le in self.layers.values())

    @property
    def ops_per_image(self) -> int:
        return 2 * self.macs_per_image

    @property
    def energy_per_image(self) -> float:
        return sum(le.energy_per_image for le in self.layers.values())

    @property
    def tops_per_watt(self) -> float:
        e = self.energy_per_image
        return self.ops_per_image / e / 1e12 if e > 0 else float("inf")

    def report(self) -> dict:
        return {
            "energy_per_inference_J": self.energy_per_image,
            "macs": self.macs_per_image,
            "ops": self.ops_per_image,
            "tops_per_watt": self.tops_per_watt,
            "layers": {
                n: {
                    "energy_J": le.energy_per_image,
                    "evaluations": le.evaluations_per_image,
                    "macs": le.macs_per_image,
                    "k_hist_fraction": (le.k_hist / max(1, le.k_hist.sum())).tolist(),
                }
                for n, le in self.layers.items()
            },
            "conventions": dict(CONVENTIONS),
        }
