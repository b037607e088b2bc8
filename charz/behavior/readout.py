"""The ideal read-out shared by the column model and the digitizers: :class:`IdealQuantizer` (uniform,
noiseless, 0 J), its report label and the largest resolution a read-out may have.

:class:`charz.blocks.cim_column.model.ColumnModel` reads its columns out with it (through
:class:`charz.blocks.adc.model.IdealDigitizer`, the same quantizer behind the digitizer interface), and
:mod:`charz.blocks.adc.model` / :mod:`charz.blocks.td_mac.model` check resolutions against
:data:`MAX_ADC_BITS`. A module of its own so that cim.py and digitizer.py need not import each other
(``tests/test_stages.py`` finds import cycles).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.errors import ParameterError

MAX_ADC_BITS = 16
QUANTIZER_LABEL = "ideal quantizer"
"""How the read-out is named in every report: it is not a circuit, and it costs 0 J."""


# ---- ideal quantizer ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class IdealQuantizer:
    """Uniform, noiseless ``bits``-bit quantizer over ``[v_lo, v_hi]`` (values outside are clipped).

    Labelled "ideal quantizer" in every report; it stands in for the digitizers of a later issue and
    is counted as 0 J by the energy ledger.
    """

    bits: int
    v_lo: float
    v_hi: float

    def __post_init__(self):
        if not (self.v_hi > self.v_lo):
            raise ParameterError(
                f"ideal quantizer range [{self.v_lo:g}, {self.v_hi:g}] V is empty: the nominal column curve "
                f"does not fall with k at this operating point; pick another vdd / t_pulse"
            )

    @property
    def levels(self) -> int:
        """Number of codes: 2^bits."""
        return 1 << self.bits

    @property
    def lsb(self) -> float:
        """Bin width: (v_hi - v_lo) / 2^bits [V]."""
        return (self.v_hi - self.v_lo) / self.levels

    def codes(self, v: np.ndarray) -> np.ndarray:
        """Codes (int64) of voltages *v* [V]: floor((v - v_lo) / LSB), clipped to 0 .. 2^bits - 1."""
        c = np.floor((np.asarray(v, dtype=float) - self.v_lo) / self.lsb)
        return np.clip(c, 0, self.levels - 1).astype(np.int64)

    def centers(self) -> np.ndarray:
        """The centre voltage of every code's bin (2^bits,) [V]."""
        return self.v_lo + (np.arange(self.levels) + 0.5) * self.lsb
