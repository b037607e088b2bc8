"""Monte Carlo local mismatch, drawn in Python from an explicit seed.

Each transistor gets ``delvto ~ N(0, A_VT / sqrt(W L))`` (Pelgrom) and, optionally, a current-factor
multiplier ``mulu0 = 1 + N(0, A_beta / sqrt(W L))``. Draws come from NumPy: sample *s* uses the child
``SeedSequence(seed).spawn(n)[s]``, so

- the same seed gives the same samples bit for bit, on any machine and executor;
- sample *s* is the same physical instance at every VDD / temperature / input pattern of a sweep
  (corners and stimuli are measured on the same simulated chips);
- jobs that run different samples in parallel draw from independent streams.

ngspice's own random functions are not used (in ngspice 39 ``sgauss`` repeats its sequence in every
process and ``agauss`` is not reproducible).

``delvto`` shifts BSIM4's model threshold (``@m[vth]``) by exactly the drawn value (tested). A
constant-current threshold extracted from Id-Vgs moves 1.04-1.10x as much on the PTM cards (measured
with tests/test_mc.py's bench at Id = 100 nA * W/L): sigma(Vth) = A_VT/sqrt(WL) holds for the model
threshold, and circuit-level spreads come out a few percent wider than a pure-Vth model would say. For PMOS, ``delvto`` adds to the signed Vth0, so a positive
draw lowers |Vth|; the distribution is symmetric, so statistics are unaffected.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .errors import ParameterError
from .netlist.spice import Device


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """Local-mismatch model. Coefficients per the PDK manifest (assumptions, see pdk_models/)."""

    avt_mv_um: float
    """Pelgrom threshold coefficient A_VT in mV*um."""
    abeta_pct_um: float = 0.0
    """Current-factor coefficient A_beta in %*um; 0 disables mulu0 mismatch."""

    def __post_init__(self):
        if self.avt_mv_um < 0 or self.abeta_pct_um < 0:
            raise ParameterError("mismatch coefficients must be >= 0")

    def sigma_vth(self, w: float, l: float) -> float:
        """sigma(Vth) in volts for a W x L device (metres)."""
        area_um2 = (w * 1e6) * (l * 1e6)
        return self.avt_mv_um * 1e-3 / math.sqrt(area_um2)

    def sigma_beta(self, w: float, l: float) -> float:
        area_um2 = (w * 1e6) * (l * 1e6)
        return self.abeta_pct_um * 1e-2 / math.sqrt(area_um2)


@dataclasses.dataclass(frozen=True)
class Draws:
    """Per-sample, per-device mismatch values; stored with results for reproducibility."""

    seed: int
    devices: tuple[str, ...]
    delvto: np.ndarray  # (n_samples, n_devices), volts
    mulu0: np.ndarray | None  # (n_samples, n_devices) or None

    @property
    def n(self) -> int:
        return self.delvto.shape[0]

    def arrays(self) -> dict[str, np.ndarray]:
        """The draws as LUT arrays (``mc_delvto``, ``mc_devices``, ``mc_mulu0`` when drawn)."""
        out = {"mc_delvto": self.delvto, "mc_devices": np.asarray(self.devices)}
        if self.mulu0 is not None:
            out["mc_mulu0"] = self.mulu0
        return out

    def samples(self, start: int = 0, stop: int | None = None) -> tuple[tuple[tuple[str, str, float], ...], ...]:
        """Alter triples (instance, parameter, value) for samples [start, stop)."""
        stop = self.n if stop is None else stop
        out = []
        for s in range(start, stop):
            row = [(d, "delvto", float(self.delvto[s, j])) for j, d in enumerate(self.devices)]
            if self.mulu0 is not None:
                row += [(d, "mulu0", float(self.mulu0[s, j])) for j, d in enumerate(self.devices)]
            out.append(tuple(row))
        return tuple(out)


def draw(model: Mismatch, devices: tuple[Device, ...], n: int, seed: int) -> Draws:
    """Draw *n* mismatch samples for *devices* from *seed* (see module docstring)."""
    if n < 1:
        raise ParameterError(f"Monte Carlo needs at least 1 sample, got {n}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    sig_v = np.array([model.sigma_vth(d.w, d.l) for d in devices])
    sig_b = np.array([model.sigma_beta(d.w, d.l) for d in devices])
    children = np.random.SeedSequence(int(seed)).spawn(n)
    dv = np.empty((n, len(devices)))
    mu = np.empty((n, len(devices))) if model.abeta_pct_um > 0 else None
    for s, child in enumerate(children):
        rng = np.random.default_rng(child)
        z = rng.standard_normal((2, len(devices)))
        dv[s] = z[0] * sig_v
        if mu is not None:
            mu[s] = np.maximum(1.0 + z[1] * sig_b, 0.05)
    return Draws(int(seed), tuple(d.name for d in devices), dv, mu)


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """Split n samples into [start, stop) ranges of at most *size* (one ngspice session each)."""
    size = max(1, int(size))
    return [(a, min(a + size, n)) for a in range(0, n, size)]
