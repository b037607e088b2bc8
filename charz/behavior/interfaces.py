"""The interfaces the behavioral models share, as :class:`typing.Protocol` classes (``runtime_checkable``,
so ``isinstance(x, Digitizer)`` replaces ``hasattr`` duck typing), and the :class:`Cost` of a product.

- :class:`Quantizer`: a static uniform or non-uniform transfer from volts to codes (``bits``, range,
  ``codes``, ``centers``). :class:`charz.behavior.readout.IdealQuantizer` is one; it is the arithmetic
  core, not a converter (no energy, no time, no instances).
- :class:`Digitizer`: what a column model needs from a read-out converter: a quantizer plus energy and
  time per conversion, its placement next to the array, ``for_range`` (put its full scale on a signal
  range) and ``instances`` (the converters of one simulated chip, drawn once). Implemented by
  :class:`charz.blocks.adc.model.IdealDigitizer` and :class:`charz.blocks.adc.model.DigitizerModel`;
  consumed by :class:`charz.blocks.cim_column.model.ColumnModel`, :class:`charz.blocks.td_mac.model.TdMacModel`,
  :mod:`charz.network.evaluate` and :mod:`charz.network.timing`.
- :class:`InstanceBank`: what ``Digitizer.instances`` returns (:class:`charz.blocks.adc.model.ConverterBank`).
- :class:`ColumnReadout`: a column / crossbar LUT read at one operating point (the part the CiM column
  model and the WHT model share: size, operating point, mismatch scale, report). What each does per chip
  differs and is not part of the interface (see the class doc).
- :class:`MatmulBackend`: one simulated chip that is programmed with a weight matrix and computes
  products, each returning the result and its :class:`Cost`. Adapters: :class:`charz.blocks.cim_column.model_layer.CimBackend`,
  :class:`charz.blocks.wht.model.WhtBackend`, :class:`charz.blocks.td_mac.model.TdMacBackend`.

Modelled on CrossSim's ``IADC`` / ``ICore`` (``simulator/circuits/adc``, ``simulator/cores``) and aihwkit's
``SimulatorTile``: a small set of members, each documented with its units, that every implementation
satisfies and one common test suite checks (``tests/test_blocks.py``). ``charz/behavior/README.md`` says
which class implements which and how to add one.

Runtime checks (``isinstance``) only see that the members exist, not their signatures or units: the
docstrings below are the contract and the common tests check the behavior.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

PLACEMENTS = ("ideal", "dedicated", "immersed")
"""Where a digitizer sits (:attr:`Digitizer.placement`)."""


# ---- quantizers and digitizers --------------------------------------------------------------------
@runtime_checkable
class Quantizer(Protocol):
    """A static transfer from input voltage to integer codes 0 .. 2^bits - 1 (nominal, one instance)."""

    bits: int
    """Resolution [bits]: 2^bits codes."""
    v_lo: float
    """Lower end of the full-scale input range [V]."""
    v_hi: float
    """Upper end of the full-scale input range [V] (> v_lo)."""

    def codes(self, v) -> np.ndarray:
        """Codes (int64, the shape of *v*) of input voltages *v* [V]; inputs outside the range clip to the
        end codes."""
        ...

    def centers(self) -> np.ndarray:
        """(2^bits,) the centre of every code's bin [V] (the end bins closed by the range): what a calibrated
        decode maps a code back to."""
        ...


@runtime_checkable
class InstanceBank(Protocol):
    """The converters of one simulated chip, each with its own fixed transfer curve (what
    :meth:`Digitizer.instances` returns)."""

    def __len__(self) -> int:
        """Number of converter instances."""
        ...

    def convert(self, v, instance_index=None) -> np.ndarray:
        """Codes (int64) of inputs *v* [V], input j through instance ``instance_index[j]`` (broadcast to
        *v*); None: the first axis of *v* runs over the instances."""
        ...

    def summary(self) -> dict:
        """Static figures over the instances for reports: ``instances``, ``instances_with_missing_codes``,
        ``max_abs_dnl_lsb``, ``max_abs_inl_lsb`` (LSB)."""
        ...


@runtime_checkable
class Digitizer(Quantizer, Protocol):
    """A read-out converter (A/D) at one operating point, as the column model, the TD-MAC model and the
    network evaluation use it. Codes of the *nominal* converter come from :meth:`Quantizer.codes`; the
    converters of one chip, each with its own mismatch, from :meth:`instances`."""

    block: str
    """LUT kind it was read from (``adc_sar``, ``adc_mi_sar``, ``adc_flash``, ``adc_hybrid``) or ``"ideal"``
    for the ideal quantizer (0 J, 0 s)."""
    energy: float
    """Energy per conversion [J] (0 for the ideal quantizer)."""
    t_conv: float
    """Time per conversion [s] (0 for the ideal quantizer)."""
    has_instances: bool
    """True when :meth:`instances` draws converters with their own transfer curves (random numbers are
    used); False when every instance is the nominal converter (no random numbers drawn, and a column read
    out by it may use :meth:`Quantizer.codes` directly)."""
    flash_bits: int | None
    """MSBs decided by a flash stage (hybrid converters); None otherwise."""
    mismatch_scale: float
    """Multiplier of the Monte Carlo spread of the drawn instances (1 = the LUT's population; 0 for the
    ideal quantizer)."""

    @property
    def label(self) -> str:
        """One-line report label (kind, resolution, source, energy, time, range)."""
        ...

    @property
    def short_label(self) -> str:
        """Short label for tables and plot legends."""
        ...

    @property
    def placement(self) -> str:
        """Where it sits, one of :data:`PLACEMENTS`: ``"ideal"`` (no circuit, no time), ``"dedicated"``
        (its own converter circuit in the periphery, shared by ``columns_per_adc`` columns) or
        ``"immersed"`` (its DAC borrows the bitlines of a neighbouring array: memory-immersed SA, and a
        hybrid with a bitline DAC). :func:`charz.network.timing.scheme_for` reads it."""
        ...

    @property
    def borrowed_bits(self) -> int | None:
        """For an ``"immersed"`` converter: the SA bits whose DAC is built from borrowed bitlines (2^bits
        bitlines per converter); None otherwise."""
        ...

    def for_range(self, v_lo: float, v_hi: float) -> "Digitizer":
        """This converter with its full scale set to [v_lo, v_hi] [V] (the reference generator's job): a
        new object, the original is unchanged."""
        ...

    def with_mismatch_scale(self, scale: float) -> "Digitizer":
        """This converter with :attr:`mismatch_scale` = *scale* (>= 0); unchanged when it has no mismatch."""
        ...

    def instances(self, n: int, rng: np.random.Generator) -> InstanceBank:
        """The *n* converters of one simulated chip, drawn once from *rng* (reproducible per seed; no random
        numbers drawn when :attr:`has_instances` is False)."""
        ...

    def describe(self) -> dict:
        """What a report needs to say about it: at least ``block``, ``label``, ``bits``, ``v_lo`` / ``v_hi``
        [V], ``energy_J``, ``t_conv_s`` and ``mismatch``."""
        ...


# ---- column / crossbar read-out ---------------------------------------------------------------------
@runtime_checkable
class ColumnReadout(Protocol):
    """A column or crossbar LUT read at one operating point: the part the CiM column model
    (:class:`charz.blocks.cim_column.model.ColumnModel`) and the WHT crossbar model
    (:class:`charz.blocks.wht.model.WhtModel`) share.

    What each does with a chip is family specific and not part of this interface:

    - ``ColumnModel``: one bitline per column, multi-level. ``draw_curves(n, rng)`` draws the V(k)
      curves of n physical columns; ``read_out(curves, rng, layout)`` reads them through its
      :class:`Digitizer` (instances drawn per chip) and the calibrated decode, giving the per-column
      k -> k_hat table; energy ``e_nom[k]`` [J] per column evaluation, plus ``quantizer.energy`` [J] per
      conversion.
    - ``WhtModel``: a differential bitline pair per column and a latch (sign, or a ternary pair); no
      digitizer. ``draw(n_tiles, rng, mode)`` draws the latch offsets / thresholds and the cell
      deviations of n crossbars; ``nominal_q(mode)`` is the decision table q[k+, k-]; energy
      ``energy[k+, k-]`` [J] per column-plane evaluation.
    """

    n_rows: int
    """Cells (rows) on one column [cells]: N of the column LUT, R of the crossbar."""
    coords: dict
    """The operating point the tables were read at: ``vdd`` [V], ``temp`` [degC], ``t_pulse`` [s], ..."""
    mismatch_scale: float
    """Multiplier of the LUT's Monte Carlo deviations (1 = the LUT's A_VT, 0 = the nominal circuit)."""
    choices: dict
    """How each default was chosen (operating point, read-out), for reports."""
    provenance: dict
    """The LUT's provenance (PDK, generator, Monte Carlo settings)."""

    @classmethod
    def from_lut(cls, lut, vdd: float | None = None, temp: float | None = None, t_pulse: float | None = None,
                 mismatch_scale: float = 1.0) -> "ColumnReadout":
        """Read *lut* at (vdd [V], temp [degC], t_pulse [s]); None picks a documented default, recorded in
        :attr:`choices`. Family-specific keywords may follow."""
        ...

    def describe(self) -> dict:
        """Operating point, mismatch and read-out, JSON-ready, for reports."""
        ...


# ---- matrix products --------------------------------------------------------------------------------
@dataclasses.dataclass
class Cost:
    """What one or more products cost on a :class:`MatmulBackend`. Add them with ``+`` / ``+=``."""

    energy: dict = dataclasses.field(default_factory=dict)
    """Energy by component [J], e.g. ``{"array": ..., "readout": ...}`` (components a backend does not
    count are absent; the digital back end is not counted by any backend so far)."""
    ops: int = 0
    """Logical operations: 2 x MACs (1 MAC = one multiply and one add) of the products, not per bit plane or
    bit slice. CiM and TD-MAC count every weight (2 x batch x in x out); the WHT counts the R x R blocks it
    computes (2 R^2 per transform), not the zeros between them."""
    conversions: int = 0
    """Read-out conversions (A/D or latch decisions) counted."""
    latency: float | None = None
    """Time of the products [s], None when the backend has no timing model (the network's timing model,
    :mod:`charz.network.timing`, then gives it)."""
    counters: dict = dataclasses.field(default_factory=dict)
    """Backend-specific counts (column evaluations, skipped planes, clipped / dropped products, ...):
    numbers that add when costs are added."""

    @property
    def energy_J(self) -> float:
        """Total energy [J]: the sum over :attr:`energy`."""
        return float(sum(self.energy.values()))

    @property
    def tops_per_watt(self) -> float | None:
        """ops / energy / 1e12 (TOPS/W); None when no energy is counted."""
        e = self.energy_J
        return self.ops / e / 1e12 if e > 0 else None

    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        lat = None if self.latency is None and other.latency is None else (self.latency or 0.0) + (other.latency or 0.0)
        return Cost(energy=_add(self.energy, other.energy), ops=self.ops + other.ops,
                    conversions=self.conversions + other.conversions, latency=lat,
                    counters=_add(self.counters, other.counters))

    def as_dict(self) -> dict:
        """JSON-ready: ``energy_J`` (total), ``energy_by_component_J``, ``ops``, ``conversions``, ``latency_s``,
        ``tops_per_watt`` and the counters."""
        return {"energy_J": self.energy_J, "energy_by_component_J": dict(self.energy), "ops": self.ops,
                "conversions": self.conversions, "latency_s": self.latency, "tops_per_watt": self.tops_per_watt,
                "counters": dict(self.counters)}


def _add(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


@runtime_checkable
class MatmulBackend(Protocol):
    """One simulated chip computing ``y = x @ W``: programmed once with a weight matrix W (in, out), then
    called on batches of inputs x (batch, in). The chip's mismatch is drawn once (at construction or at
    :meth:`program`) and kept for every product, so two calls on the same inputs agree.

    The existing call shapes and their adapters (results unchanged; ``tests/test_blocks.py`` checks it):

    - CiM column (:class:`charz.blocks.cim_column.model_layer.CimBackend`): ``program(w_int)`` =
      ``map_layer(w_int, model, rng, w_bits, x_bits)`` (a :class:`~charz.blocks.cim_column.model_layer.CiMLayer`);
      ``matmul(x_int)`` = ``layer(x_int)`` (unsigned ``x_bits``-bit activations, signed symmetric
      ``w_bits``-bit weights, int64 outputs), cost from the k histogram through E(k) plus one conversion
      per column evaluation; ``ideal()`` = ideal columns (``bitserial_matmul``, exact ``x @ w``).
    - TD-MAC (:class:`charz.blocks.td_mac.model.TdMacBackend`): ``program(w)`` keeps w;
      ``matmul(x)`` = ``TdMacModel.matmul(x, w)`` (float operands rounded to FP8, float64 outputs), cost
      from ``last_stats``; ``ideal()`` = :meth:`~charz.blocks.td_mac.model.TdMacModel.exact`.
    - WHT crossbar (:class:`charz.blocks.wht.model.WhtBackend`): the matrix is hard-wired, so
      ``program`` accepts only the block Hadamard matrix of the layer (anything else is a
      ``ParameterError``); ``matmul(x_int)`` = ``WhtLayer(x_int)`` (sign-magnitude B-bit inputs, the
      per-plane sign / ternary decisions accumulated: a quantized ``x @ H``, not the exact product), cost
      from :class:`~charz.blocks.wht.model_planes.WhtStats`; ``ideal()`` = the ideal crossbar (same quantized
      arithmetic, no mismatch).
    """

    @property
    def label(self) -> str:
        """One line saying what computes (block, operating point, read-out) for reports."""
        ...

    @property
    def shape(self) -> tuple[int, int] | None:
        """(in, out) of the programmed matrix; None before :meth:`program`."""
        ...

    def program(self, weights) -> None:
        """Store *weights* (in, out) on the chip (in the backend's number format); a one-line
        ``ParameterError`` when they do not fit it."""
        ...

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(y (batch, out), its :class:`Cost`) for inputs *x* (batch, in) in the backend's number format."""
        ...

    def ideal(self) -> "MatmulBackend":
        """The same arithmetic with ideal circuits (no mismatch, ideal read-out), programmed with the same
        weights: the reference the chip's errors are measured against."""
        ...
