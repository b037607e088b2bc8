"""MACAM read-out: a ReLU fused with the A/D conversion in a row of MTJ analog CAM windows (a ``cam_mtj``
LUT through :class:`~charz.blocks.cam.model_mtj.MtjCamModel`), and the digital read-out it replaces (a
converter LUT, then ReLU in logic).

The array (one per output channel of a layer: the channel's analog MAC output always reaches the same
read-out unit) has K rows, row k answering code k. A row matches ``lo_k <= V < hi_k`` on the data line; the
priority encoder answers the lowest matching row, and code 0 when no row matches. The design
(:func:`design`) uses that:

- row k's upper edge is boundary B_k (a programmed ``hi`` state), the top row's the highest ``hi`` state;
  every row's lower edge is the lowest ``lo`` state, so the windows overlap downwards and the priority
  encoder resolves them (no gap between windows);
- the data-line driver maps the pre-activation z to ``V = g z + o`` and clamps it to [V_bot, V_top]:
  ``V_top = mean(hi_top) - kappa sigma_top`` (above the top row's upper edge nothing matches: an array whose
  top edge fell below the clamp would read 0 for every large input of its channel) and ``V_bot = mean(lo) +
  kappa sigma_lo`` (every row's lower edge lies below it, so negative inputs land in row 0 and not in whichever
  row happens to have the lowest lower edge); at least :data:`MERGE_V` of margin each;
- row k > 0 stores the value code k reads back as: the mean ReLU of the calibration inputs that get code k
  over the Monte Carlo arrays (the least-squares value for windows that move from array to array); code 0
  reads 0, the ReLU's own zero (a nonzero value there would shift every negative input, most of them).

:func:`design` searches K (2 .. ``max_codes``), the K - 1 boundaries among the distinct programmed ``hi``
levels above the lowest ``lo`` level, kappa (:data:`KAPPAS`), the offset o (between V_bot and the first
boundary) and the gain g (the 99.9th percentile of the positive inputs placed between the last boundary and
V_top). It keeps the design with the smallest expected squared error against the float ReLU, averaged over
the calibration pre-activations and ``draws`` Monte Carlo arrays (the LUT's edge spread, its Monte Carlo mean
shift included): the margins and the choice of levels trade resolution against the windows' mismatch. A
spread too wide for two rows with 2-sigma margins is a one-line error.

Program-and-verify (``verify=True``): MTJ states are rewritable, so after manufacture each row's upper branch
can be written to whichever of its 2^bits states puts *that cell's* edge nearest the row's target (the
Monte Carlo mean of the designed state's edge). A cell's offsets move all its states' edges together (the
input inverter's threshold), so the choice removes shifts larger than half the step between levels; the
residual is about a uniform error over one step. The programming itself (time, energy, endurance) is not
modelled.

:class:`AdcReadout` is the digital path: the pre-activation range [z_lo, z_hi] mapped linearly onto a
converter LUT's characterized input range (``reference="lut"``), each output channel its own converter
instance, the code read back at its bin centre, then ReLU in logic.

Energies: a MACAM search = every row's search (the LUT's match energy for a matching row, mismatch energy
otherwise); a digital read-out = one conversion (the converter LUT) + the digital activation
(:data:`ACT_J`, ASSUMED, a parameter). The analog MAC itself is not modelled here.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from ...core.errors import ParameterError
from .model_mtj import MtjCamModel

ACT_J = 30e-15
"""ASSUMED energy of the digital activation per output [J]: one 8-bit compare-and-select, taken as one
8-bit add (0.03 pJ, Horowitz ISSCC 2014, 45 nm)."""
ACT_SOURCE = "one 8-bit add, 0.03 pJ (Horowitz, ISSCC 2014, 45 nm)"
KAPPAS = (2.0, 3.0, 4.0, 5.0)
OFFSETS = 6
GAINS = 5
GRID = 1024
"""Design search: clamp margins (sigmas), driver offsets and gains tried; data-line grid points."""
MERGE_V = 5e-3
"""Programmed levels closer than this [V] count as one level."""


@dataclasses.dataclass(frozen=True)
class MacamDesign:
    """One layer's MACAM rows and data-line driver (:func:`design`)."""

    states: np.ndarray
    """(K, 2) programmed (s_lo, s_hi) per row, row k answering code k."""
    gain: float
    """Driver gain g [V per unit of pre-activation]."""
    offset: float
    """Driver offset o [V]."""
    v_bot: float
    """Driver's lower clamp [V]."""
    v_top: float
    """Driver's upper clamp [V]."""
    values: np.ndarray
    """(K,) read-back value of each code (stored in its row: the mean ReLU of the calibration inputs the code
    gets, over the Monte Carlo arrays)."""
    kappa: float
    mse: float
    """Expected squared error against the float ReLU over the calibration inputs and Monte Carlo arrays."""
    mse_nominal: float
    """The same on nominal arrays."""
    mse_ideal: float
    """The same for an ideal uniform K-level ReLU quantizer up to the 99.9th percentile of the positive inputs."""
    targets: np.ndarray | None = None
    """(K,) the upper-edge level each row is verified to (``verify``): the Monte Carlo mean of its state's edge."""
    verify: bool = False
    """Program-and-verify: on every drawn array each row's upper branch is written to the state whose drawn
    edge lies nearest its target (the cell's own edges over all its states, :meth:`MtjCamModel.draw_cells`)."""

    @property
    def codes(self) -> int:
        """Rows K (output levels)."""
        return int(self.states.shape[0])

    def voltage(self, z) -> np.ndarray:
        """Data-line voltage of pre-activation(s) *z*."""
        return np.clip(self.gain * np.asarray(z, dtype=float) + self.offset, self.v_bot, self.v_top)

    def describe(self) -> dict:
        """JSON-ready."""
        return {"codes": self.codes, "states": self.states.tolist(), "gain_V": self.gain, "offset_V": self.offset,
                "v_bot_V": self.v_bot, "v_top_V": self.v_top, "values": self.values.tolist(), "kappa": self.kappa,
                "mse": self.mse, "mse_nominal": self.mse_nominal, "mse_ideal_quantizer": self.mse_ideal,
                "verify": self.verify, "targets_V": None if self.targets is None else self.targets.tolist()}


@dataclasses.dataclass(frozen=True)
class MacamArrays:
    """One chip's arrays of a layer: (n, K) drawn edges, array i serving output channel i."""

    lo: np.ndarray
    hi: np.ndarray


def levels(values: np.ndarray) -> list[tuple[float, int]]:
    """(level, state) of the distinct programmed levels of an edge branch, ascending (levels within
    :data:`MERGE_V` merged: the lower state kept)."""
    out: list[tuple[float, int]] = []
    for s in np.argsort(values, kind="stable"):
        v = float(values[s])
        if out and v - out[-1][0] < MERGE_V:
            continue
        out.append((v, int(s)))
    return out


def relu_levels(z: np.ndarray, step: float, codes: int) -> np.ndarray:
    """The ideal K-level ReLU quantizer: round(z / step) clipped to 0 .. K - 1, times step."""
    return np.clip(np.rint(np.asarray(z, dtype=float) / step), 0, codes - 1) * step


def read_codes(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and matching-row counts of data-line voltages *v* (..., n) on arrays (n, K) of windows
    [lo, hi): the lowest matching row, 0 when none matches."""
    hit = (v[..., None] >= lo) & (v[..., None] < hi)
    n = hit.sum(axis=-1)
    return np.where(n > 0, np.argmax(hit, axis=-1), 0), n


def design(model: MtjCamModel, z, max_codes: int = 8, draws: int = 16, seed: int = 0, min_codes: int = 2,
           samples: int = 2048, verify: bool = False) -> MacamDesign:
    """The MACAM design of a layer whose calibration pre-activations are *z* (any shape; at most *samples*
    of them used, a seeded choice), with at most *max_codes* rows, chosen for the smallest expected squared
    error against the float ReLU over *draws* Monte Carlo arrays of *model* (module doc); *verify*: the arrays
    will be programmed and verified (:attr:`MacamDesign.verify`), and the search sees them so."""
    if isinstance(max_codes, bool) or not isinstance(max_codes, (int, np.integer)) or not 2 <= max_codes <= 64:
        raise ParameterError(f"max_codes = {max_codes!r}: give an integer 2 to 64")
    zv = np.asarray(z, dtype=float).ravel()
    zv = zv[np.isfinite(zv)]
    if zv.size < 16 or np.count_nonzero(zv > 0) < 4:
        raise ParameterError("MACAM design needs at least 16 finite calibration pre-activations, some positive")
    rng = np.random.default_rng(seed)
    if zv.size > samples:
        zv = rng.choice(zv, samples, replace=False)
    target = np.maximum(zv, 0.0)
    z_hi = float(np.percentile(zv[zv > 0], 99.9))
    s_lo = int(np.argmin(model.edge_lo))
    lo_min = float(model.edge_lo[s_lo])
    hi_lv = levels(model.edge_hi)
    top_s = hi_lv[-1][1]
    inner = [s for v, s in hi_lv[:-1] if v > lo_min]
    if not inner:
        raise ParameterError("the cam_mtj LUT has no upper-edge level above its lowest lower edge: no MACAM row "
                             "can answer code 0 above the ReLU's kink")
    cand = inner + [top_s]
    states = np.array([[s_lo, s] for s in cand], dtype=np.int64)
    cells = [model.draw_cells(len(cand), rng) for _ in range(int(draws))]
    lo_mc = np.stack([c[0][:, s_lo] for c in cells])                  # (D, C)
    hi_all = np.stack([c[1] for c in cells])                          # (D, C, S)
    hi_mc = hi_all[:, np.arange(len(cand)), cand]
    targets = hi_mc.mean(axis=0)
    top_sig = float(model.sigma("hi")[top_s])
    if verify:
        hi_mc = _verified(hi_all, targets)
        top_sig = float(hi_mc[:, -1].std())
    top_mean = float(hi_mc[:, -1].mean())
    bot_mean, bot_sig = float(lo_mc.mean()), float(model.sigma("lo")[s_lo])
    bound_mean = hi_mc.mean(axis=0)
    vgrid = np.linspace(lo_min - 0.2, float(model.edge_hi.max()) + 0.2, GRID)
    n_max = min(int(max_codes), len(inner) + 1)
    best = None
    for k in range(min(int(min_codes), n_max), n_max + 1):
        for pick in itertools.combinations(range(len(inner)), k - 1):
            rows = list(pick) + [len(cand) - 1]
            grid_codes, _ = read_codes(vgrid[None, :], lo_mc[:, None, rows], hi_mc[:, None, rows])  # (D, G)
            b_first, b_last = float(bound_mean[pick[0]]), float(bound_mean[pick[-1]])
            for kappa in KAPPAS:
                v_top = top_mean - max(kappa * top_sig, MERGE_V)
                v_bot = bot_mean + max(kappa * bot_sig, MERGE_V)
                if v_top <= b_last or v_bot >= b_first:
                    continue
                for o in np.linspace(v_bot, b_first, OFFSETS):
                    for v_hi in np.linspace(b_last, v_top, GAINS):
                        g = (v_hi - o) / z_hi
                        if not g > 0:
                            continue
                        err, vals = _expected(grid_codes, vgrid, np.clip(g * zv + o, v_bot, v_top), target, k)
                        if best is None or err < best[0]:
                            best = (err, rows, g, o, v_bot, v_top, kappa, vals)
    if best is None:
        raise ParameterError(f"the cam_mtj windows spread too far (sigma {1e3 * bot_sig:.0f} mV lower, "
                             f"{1e3 * top_sig:.0f} mV upper edge) for even two MACAM rows with {KAPPAS[0]:g} sigma "
                             f"margins: lower the window spread (mismatch scale)")
    err, rows, g, o, v_bot, v_top, kappa, vals = best
    st = states[rows]
    nom, _ = read_codes(np.clip(g * zv + o, v_bot, v_top), model.edge_lo[st[:, 0]][None, :],
                        model.edge_hi[st[:, 1]][None, :])
    step = z_hi / (len(rows) - 1)
    return MacamDesign(st, float(g), float(o), float(v_bot), float(v_top), vals, float(kappa), err,
                       float(np.mean((vals[nom] - target) ** 2)),
                       float(np.mean((relu_levels(zv, step, len(rows)) - target) ** 2)), targets[rows], bool(verify))


def _verified(hi_all: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Upper edges after program-and-verify: per cell (..., C, S) the drawn edge over its states nearest the
    row's target (C,)."""
    pick = np.argmin(np.abs(hi_all - targets[..., :, None]), axis=-1)
    return np.take_along_axis(hi_all, pick[..., None], axis=-1)[..., 0]


def _expected(grid_codes: np.ndarray, vgrid: np.ndarray, v: np.ndarray, target: np.ndarray, k: int):
    """(expected squared error, (k,) read-back values) of inputs at voltages *v* over the drawn arrays whose
    codes on *vgrid* are *grid_codes* (D, G); each code reads back the mean target of the inputs it gets."""
    idx = np.clip(np.searchsorted(vgrid, v), 0, vgrid.size - 1)
    c = grid_codes[:, idx]                                   # (D, S)
    t = np.broadcast_to(target, c.shape)
    n = np.bincount(c.ravel(), minlength=k)
    s = np.bincount(c.ravel(), weights=t.ravel(), minlength=k)
    vals = np.where(n > 0, s / np.maximum(n, 1), 0.0)
    vals[0] = 0.0
    return float(np.mean((vals[c] - t) ** 2)), vals


def draw_arrays(model: MtjCamModel, d: MacamDesign, n: int, rng: np.random.Generator) -> MacamArrays:
    """*n* arrays of design *d* on one chip (each row's cell drawn once; verified when ``d.verify``)."""
    if not d.verify:
        cells = [model.draw(d.codes, d.states, rng) for _ in range(int(n))]
        return MacamArrays(np.stack([c.lo for c in cells]), np.stack([c.hi for c in cells]))
    rows = np.arange(d.codes)
    lo, hi = [], []
    for _ in range(int(n)):
        lo_c, hi_c = model.draw_cells(d.codes, rng)
        lo.append(lo_c[rows, d.states[:, 0]])
        hi.append(_verified(hi_c, d.targets))
    return MacamArrays(np.stack(lo), np.stack(hi))


def nominal_arrays(model: MtjCamModel, d: MacamDesign, n: int) -> MacamArrays:
    """*n* arrays with the nominal edges of design *d*."""
    c = model.nominal_chip(d.states)
    return MacamArrays(np.repeat(c.lo[None], n, 0), np.repeat(c.hi[None], n, 0))


def macam_read(model: MtjCamModel, d: MacamDesign, arrays: MacamArrays, z: np.ndarray) -> tuple[np.ndarray, dict]:
    """Read-out of pre-activations *z* (P, n): column i through array i. Returns the ReLU values (P, n)
    and the counts: ``searches``, ``energy_J`` (every row of every search), ``no_match`` and ``several``."""
    zv = np.asarray(z, dtype=float)
    if zv.ndim != 2 or zv.shape[1] != arrays.lo.shape[0]:
        raise ParameterError(f"z must be (P, {arrays.lo.shape[0]}): one column per array")
    code, hits = read_codes(d.voltage(zv), arrays.lo[None], arrays.hi[None])
    n_match = int(hits.sum())
    energy = n_match * model.energy_match + (hits.size * d.codes - n_match) * model.energy_mismatch
    return d.values[code], {"searches": int(hits.size), "energy_J": float(energy),
                           "no_match": int(np.count_nonzero(hits == 0)), "several": int(np.count_nonzero(hits > 1))}


@dataclasses.dataclass(frozen=True)
class AdcReadout:
    """The digital read-out of a layer: its pre-activation range [z_lo, z_hi] on a converter, ReLU in logic."""

    converter: object
    """A :class:`charz.blocks.adc.model.DigitizerModel` (``reference="lut"``)."""
    z_lo: float
    z_hi: float
    act_J: float = ACT_J

    @classmethod
    def fit(cls, converter, z, percentile: float = 99.99, act_J: float = ACT_J) -> "AdcReadout":
        """The range from the calibration pre-activations *z*: percentiles (100 - p, p)."""
        zv = np.asarray(z, dtype=float).ravel()
        lo, hi = np.percentile(zv, [100 - percentile, percentile])
        if not hi > lo:
            hi = lo + 1.0
        return cls(converter, float(lo), float(hi), float(act_J))

    @property
    def energy(self) -> float:
        """Energy per read-out [J]: one conversion + the digital activation."""
        return float(self.converter.energy) + self.act_J

    def voltage(self, z) -> np.ndarray:
        """Converter input of pre-activation(s) *z* (the range mapped onto the LUT's [v_lo, v_hi])."""
        c = self.converter
        return c.v_lo + (np.asarray(z, dtype=float) - self.z_lo) * (c.v_hi - c.v_lo) / (self.z_hi - self.z_lo)

    def value(self, codes) -> np.ndarray:
        """Pre-activation read back from *codes*: the nominal converter's bin centres mapped back."""
        c = self.converter
        v = c.centers()[np.asarray(codes)]
        return self.z_lo + (v - c.v_lo) * (self.z_hi - self.z_lo) / (c.v_hi - c.v_lo)

    def read(self, bank, z: np.ndarray) -> tuple[np.ndarray, dict]:
        """Read-out of *z* (P, n), column i through converter instance i of *bank* (a ConverterBank, or None
        for the nominal converter): ReLU of the value read back, and the counts (``conversions``,
        ``energy_J``)."""
        zv = np.asarray(z, dtype=float)
        v = self.voltage(zv)
        codes = self.converter.codes(v) if bank is None else bank.convert(v, np.arange(zv.shape[1])[None, :])
        return np.maximum(self.value(codes), 0.0), {"conversions": int(zv.size), "energy_J": zv.size * self.energy}


__all__ = ["MacamDesign", "MacamArrays", "AdcReadout", "design", "draw_arrays", "nominal_arrays", "macam_read",
           "read_codes", "relu_levels", "levels", "ACT_J", "ACT_SOURCE"]
