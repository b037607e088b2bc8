"""Energy ledger: energy per inference and TOPS/W from the column LUT.

Conventions (also returned by :data:`CONVENTIONS` and printed in every report):

- Energy = sum over every column evaluation of E(k) from the ``cim_column`` LUT's nominal ``energy``
  table at the operating point (precharge restore + wordline drive of one N-row column evaluation), where k is
  the number of cells with input bit = weight bit = 1 in that evaluation. One evaluation = one input
  bit plane on one physical column (one weight bit slice of one sign array of one row tile).
- The read-out is by default an **ideal quantizer**, counted as 0 J; the figures are then the *array*
  energy only. With a digitizer LUT (``EnergyLedger(..., conversion_energy=E_conv)``) every column
  evaluation is converted once and adds ``E_conv`` (the LUT's energy per conversion at the operating
  point): energy = sum E(k) + conversions x E_conv, reported split into array and ADC parts.
  The digital back end (shift-and-add, tile sums, bias, ReLU, requantization) and data movement are
  not counted (0 J) either.
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
    "quantizer": "ideal quantizer, counted as 0 J (the default read-out; a digitizer LUT replaces it)",
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
    """One layer's entry in the :class:`EnergyLedger`: logical MACs per image, and the column evaluations, k
    histogram, conversions and energies (J) booked for it, all images added."""

    name: str
    macs_per_image: int
    evaluations: int = 0
    """Column evaluations counted (all images added)."""
    images: int = 0
    k_hist: np.ndarray | None = None
    energy: float = 0.0
    """Joules, all images added (array + ADC)."""
    array_energy: float = 0.0
    """Joules of the column evaluations, all images added."""
    adc_energy: float = 0.0
    """Joules of the conversions, all images added."""
    conversions: int = 0
    """Conversions counted (one per column evaluation), all images added."""

    @property
    def energy_per_image(self) -> float:
        """Energy per image [J] (array + conversions); 0 before any image is booked."""
        return self.energy / self.images if self.images else 0.0

    @property
    def evaluations_per_image(self) -> float:
        """Column evaluations per image; 0 before any image is booked."""
        return self.evaluations / self.images if self.images else 0.0


class EnergyLedger:
    """Accumulates column evaluations per layer and turns them into joules with E(k), plus
    ``conversion_energy`` [J] per conversion (one conversion per column evaluation; 0 = ideal quantizer).
    ``readout`` names the read-out in the conventions."""

    def __init__(self, energy_per_k: np.ndarray, conversion_energy: float = 0.0, readout: str | None = None):
        self.e_k = np.asarray(energy_per_k, dtype=float)
        self.e_conv = float(conversion_energy)
        if not (np.isfinite(self.e_conv) and self.e_conv >= 0):
            raise ValueError(f"conversion energy must be a finite number >= 0 J, got {conversion_energy!r}")
        self.readout = readout
        self.layers: dict[str, LayerEnergy] = {}

    def add(self, name: str, k_hist: np.ndarray, images: int, macs_per_image: int) -> None:
        """Book a k histogram (counts of evaluations at k = 0..N) for *images* images of layer *name*."""
        h = np.asarray(k_hist, dtype=np.int64)
        if h.shape != self.e_k.shape:
            raise ValueError(f"k histogram has {h.shape[0]} bins, the LUT has {self.e_k.shape[0]} k values")
        le = self.layers.setdefault(name, LayerEnergy(name, int(macs_per_image), k_hist=np.zeros_like(h)))
        le.k_hist = le.k_hist + h
        n = int(h.sum())
        le.evaluations += n
        le.conversions += n
        le.images += int(images)
        e_arr = float(h @ self.e_k)
        e_adc = n * self.e_conv
        le.array_energy += e_arr
        le.adc_energy += e_adc
        le.energy += e_arr + e_adc

    @property
    def macs_per_image(self) -> int:
        """Logical MACs per image, all layers."""
        return sum(le.macs_per_image for le in self.layers.values())

    @property
    def ops_per_image(self) -> int:
        """Ops per image: 2 per MAC."""
        return 2 * self.macs_per_image

    @property
    def energy_per_image(self) -> float:
        """Energy per image (inference) [J], all layers: array plus conversions."""
        return sum(le.energy_per_image for le in self.layers.values())

    @property
    def array_energy_per_image(self) -> float:
        """Energy of the column evaluations per image [J], all layers."""
        return sum(le.array_energy / le.images for le in self.layers.values() if le.images)

    @property
    def adc_energy_per_image(self) -> float:
        """Energy of the conversions per image [J], all layers."""
        return sum(le.adc_energy / le.images for le in self.layers.values() if le.images)

    @property
    def conversions_per_image(self) -> float:
        """Conversions per image, all layers (one per column evaluation)."""
        return sum(le.conversions / le.images for le in self.layers.values() if le.images)

    def conventions(self) -> dict:
        """The counting conventions of :data:`CONVENTIONS`, with the read-out's energy per conversion (J)
        added when a converter is counted."""
        c = dict(CONVENTIONS)
        if self.e_conv > 0 or self.readout is not None:
            c["quantizer"] = (f"{self.readout or 'digitizer'}: {self.e_conv:.6g} J per conversion (LUT energy "
                              f"table at the operating point), one conversion per column evaluation")
            c["energy"] = CONVENTIONS["energy"] + "; plus conversions x energy per conversion"
        return c

    @property
    def tops_per_watt(self) -> float:
        """TOPS/W = ops per image / energy per image / 1e12 (inf when the energy is 0)."""
        e = self.energy_per_image
        return self.ops_per_image / e / 1e12 if e > 0 else float("inf")

    def report(self) -> dict:
        """A JSON-ready summary: energy per inference (total, array, conversions; J), conversions, MACs, ops,
        TOPS/W, per layer the same plus the k histogram as fractions, and the conventions."""
        return {
            "energy_per_inference_J": self.energy_per_image,
            "array_energy_per_inference_J": self.array_energy_per_image,
            "adc_energy_per_inference_J": self.adc_energy_per_image,
            "conversions_per_inference": self.conversions_per_image,
            "conversion_energy_J": self.e_conv,
            "macs": self.macs_per_image,
            "ops": self.ops_per_image,
            "tops_per_watt": self.tops_per_watt,
            "layers": {
                n: {
                    "energy_J": le.energy_per_image,
                    "array_energy_J": le.array_energy / le.images if le.images else 0.0,
                    "adc_energy_J": le.adc_energy / le.images if le.images else 0.0,
                    "conversions": le.conversions / le.images if le.images else 0.0,
                    "evaluations": le.evaluations_per_image,
                    "macs": le.macs_per_image,
                    "k_hist_fraction": (le.k_hist / max(1, le.k_hist.sum())).tolist(),
                }
                for n, le in self.layers.items()
            },
            "conventions": self.conventions(),
        }
