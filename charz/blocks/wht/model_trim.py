"""Per-column threshold trim of the WHT latches: each latch gets the comparator's offset trim DAC
(:mod:`charz.blocks.comparator.model_trim`, characterized in SPICE with ``charz characterize comparator
--trim-bits K`` on the same StrongARM sizes at the crossbar's VDD), and every chip calibrates each latch with
known inputs before it runs.

Why: the ternary dead zone of the latch pair is a fraction of a cell's swing (thresholds +12.7 / -7.4 mV at
0.8 V on ptm16hp against 35 mV per cell), while the thresholds' Monte Carlo sigma is 23-31 mV, so on a chip
most columns have a dead zone that is too wide, shifted or inverted. A trim per latch moves each threshold
back into the window where it separates the levels it must separate.

Where each threshold should sit (a window between two known inputs that every column of every crossbar
receives at once, using the all-ones row r1 of the Hadamard matrix):

- ternary upper latch: between the forced zero plane (no row active, dV = dv[0, 0]) and the plane
  ``x = +e_r1`` (one cell on the + bitline in every column: dV = dv[1, 0] + that cell's deviation);
- ternary lower latch: between ``x = -e_r1`` (dv[0, 1] minus the - device's deviation) and the zero plane;
- sign latch: between ``-e_r1`` and ``+e_r1``.

The calibration (foreground, what the chip can see): for every code of its trim DAC, the controller applies
the two known planes (:data:`~charz.blocks.comparator.model_trim.CONVERSIONS_PER_STEP` times each) and notes
whether the latch separates them (0 at the lower plane, 1 at the upper); it keeps the middle code of those
that do. A latch no code brings into its window (the trim's range is too small) keeps the extreme code on
the side its decisions point to, and is counted. The residual threshold is then the instance's own trim
curve at that code (the finite, non-uniform step and the trim devices' mismatch, both from the trim LUT's
Monte Carlo, :meth:`~charz.blocks.comparator.model_trim.TrimDac.curves`), not an assumption.

What it costs: every latch decision also drives the trim devices' load (``trim_energy`` of the trim LUT, per
latch, added to each evaluated column-plane); the area of one trim DAC per latch; the calibration's cycles
(every crossbar and column calibrates in parallel; the latches of a ternary pair one after the other) and
their energy from the crossbar LUT's energy at those planes.

Assumptions (stated in the report): the trim LUT's comparator runs at its own input common mode
(``vcm_ratio`` x VDD, 0.56 V at 0.8 V), while the crossbar's bitlines sit anywhere from VDD (no row) to about
0.25 V (16 rows) at the sense instant, so the trim step is the one measured at that common mode; the
trim devices sit beside the fixed ternary trim device of the latch pair without changing its effect.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...core.errors import LUTError, ParameterError
from ...core.hadamard import hadamard
from ..comparator.model_trim import CONVERSIONS_PER_STEP, TrimDac, trim_dac


PROCEDURE = ("foreground, per latch: at every trim code the controller applies the two known planes of the latch's "
             "window and keeps the middle code of those at which the latch separates them")
ASSUMPTIONS = ("the trim step and its mismatch are the comparator trim LUT's, measured at its input common mode "
               "(vcm_ratio x VDD), not at the bitlines' sense voltage of each plane",
               "the trim devices sit beside the latch pair's fixed ternary trim device without changing its effect",
               f"{CONVERSIONS_PER_STEP} decisions per known plane and code (a real chip averages its noise; the model "
               "has none)")


def latches(mode: str) -> tuple[str, ...]:
    """The latches of one column in *mode* (names of :class:`~charz.blocks.wht.model.ChipTiles` fields)."""
    return ("thr_pos", "thr_neg") if mode == "ternary" else ("offset",)


def ones_row(r: int, order: str) -> int:
    """The row of the R x R Hadamard matrix in *order* whose entries are all +1 (every ordering has one)."""
    rows = np.flatnonzero((hadamard(r, order) == 1).all(axis=1))
    if rows.size == 0:  # pragma: no cover - a Hadamard matrix always has the all-ones row up to column signs
        raise ParameterError(f"the {order} Hadamard matrix of size {r} has no all-ones row: no calibration input")
    return int(rows[0])


def windows(model, chip, mode: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per latch name, the (m, R) dV of the lower and the upper known plane of its window on *chip* (the
    column term ``e0`` is folded into the chip's thresholds, so it is left out here as it is there)."""
    dv = model.dv
    r1 = ones_row(model.n_rows, model.order)
    m, r = chip.thr_pos.shape
    zero = np.full((m, r), float(dv[0, 0]))
    plus = float(dv[1, 0]) + chip.hp[:, r1, :].astype(float)  # one + cell per column: c = H[r1, j] = +1
    minus = float(dv[0, 1]) - chip.hn[:, r1, :].astype(float)  # one - input: c = -H[r1, j] = -1
    if mode == "ternary":
        return {"thr_pos": (zero, plus), "thr_neg": (minus, zero)}
    return {"offset": (minus, plus)}


def pick_codes(valid: np.ndarray, too_high: np.ndarray, nominal_curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The index of the code the calibration keeps per latch (*valid*, *too_high*: (..., codes) what the chip
    saw at each code: the latch separated the two planes; it read 0 at the upper plane) and whether some
    code was valid. Valid somewhere: the middle valid code (in code order). None valid: the code with the
    lowest nominal threshold when every code read too high, the highest when every code read too low, else
    the lowest-threshold code that read too low (the crossing)."""
    n = valid.sum(axis=-1)
    rank = np.maximum(n - 1, 0) // 2
    mid = np.argmax(np.cumsum(valid, axis=-1) > rank[..., None], axis=-1)
    lo_code, hi_code = int(np.argmin(nominal_curve)), int(np.argmax(nominal_curve))
    all_high = too_high.all(axis=-1)
    too_low = ~valid & ~too_high
    all_low = too_low.all(axis=-1)
    order = np.argsort(nominal_curve, kind="stable")  # codes by nominal threshold, lowest first
    low_sorted = np.take(too_low, order, axis=-1)
    # the last too-low code before the thresholds start reading too high (in the nominal order)
    crossing = order[np.clip(np.sum(np.cumprod(low_sorted, axis=-1), axis=-1) - 1, 0, order.size - 1)]
    fallback = np.where(all_high, lo_code, np.where(all_low, hi_code, crossing))
    return np.where(n > 0, mid, fallback), n > 0


def calibrate_chip(model, chip, rng: np.random.Generator, mode: str):
    """*chip* (a :class:`~charz.blocks.wht.model.ChipTiles`) after every latch's calibration through
    ``model.trim``, each latch with its own trim instance drawn from *rng* (after the chip's mismatch, so the
    chip is the same with and without trim). Its ``calibration`` holds per latch kind the threshold error to
    the window centre before and after (rms, max), the latches outside their window before and after, the
    latches no code could bring in, and the codes used."""
    dac: TrimDac = model.trim
    m, r = chip.thr_pos.shape
    report: dict = {}
    new = {}
    for name, (lo, hi) in windows(model, chip, mode).items():
        th = getattr(chip, name).astype(float)
        curves = dac.curves(m * r, rng, scale=model.mismatch_scale).reshape(m, r, -1)
        t = th[..., None] + curves  # the latch's threshold at every code
        too_high = t >= hi[..., None]
        valid = (t >= lo[..., None]) & ~too_high
        k, ok = pick_codes(valid, too_high, dac.curve)
        th_new = np.take_along_axis(t, k[..., None], axis=-1)[..., 0]
        centre = 0.5 * (lo + hi)
        before, after = th - centre, th_new - centre
        out_b = (th < lo) | (th >= hi)
        out_a = (th_new < lo) | (th_new >= hi)
        codes = dac.codes[k]
        report[name] = {"latches": int(th.size), "error_rms_before_V": float(np.sqrt(np.mean(before ** 2))),
                        "error_rms_after_V": float(np.sqrt(np.mean(after ** 2))),
                        "error_max_after_V": float(np.max(np.abs(after))),
                        "outside_window_before": int(out_b.sum()), "outside_window_after": int(out_a.sum()),
                        "unreachable": int((~ok).sum()), "codes_used": [int(codes.min()), int(codes.max())],
                        "window_V": float(np.mean(hi - lo))}
        new[name] = th_new.astype(np.float32)
    return dataclasses.replace(chip, **new, calibration=report)


def trim_energy_per_column_plane(model, mode: str) -> float:
    """Energy the trim devices add to one evaluated column-plane [J]: every latch of the column decides."""
    return len(latches(mode)) * model.trim.energy_per_decision if model.trim is not None else 0.0


def calibration_cost(model, mode: str, tiles: int) -> dict:
    """What calibrating one chip of *tiles* crossbars costs: cycles (every code x 2 known planes x
    CONVERSIONS_PER_STEP, for each latch of a column in turn; all columns and crossbars in parallel), time (at
    the LUT's cycle time), energy (every column of every crossbar at the LUT's nominal energy of those planes),
    and the trim DACs' area (one per latch) in minimum-transistor units."""
    dac: TrimDac = model.trim
    r = model.n_rows
    e = np.nan_to_num(model.energy)
    plane_e = {"thr_pos": e[0, 0] + e[1, 0], "thr_neg": e[0, 1] + e[0, 0], "offset": e[0, 1] + e[1, 0]}
    per_latch_cycles = dac.codes.size * 2 * CONVERSIONS_PER_STEP
    names = latches(mode)
    cycles = per_latch_cycles * len(names)
    cycle_s = model.conditions.get("cycle_s")
    if cycle_s is None:
        raise LUTError("the wht_column LUT has no cycle_s condition (the cycle time): regenerate it")
    cycle_s = float(cycle_s)
    energy = sum(dac.codes.size * CONVERSIONS_PER_STEP * plane_e[n] for n in names) * r * tiles
    return {"cycles": int(cycles), "time_s": cycles * cycle_s, "energy_J": float(energy),
            "area_units_per_column": len(names) * dac.area_units(),
            "assumption": f"foreground sweep of all {dac.codes.size} codes x 2 known planes x {CONVERSIONS_PER_STEP} "
                          f"decisions each, latch by latch; every column and crossbar in parallel"}


def load_latch_trim(trim_lut, model, pdk: str = "ptm16hp") -> TrimDac:
    """The trim DAC of the comparator trim LUT *trim_lut* (a path or LUT; None: ``<pdk>/comparator_trim``) at the
    crossbar *model*'s VDD and temperature (:func:`~charz.blocks.comparator.model_trim.trim_dac`); one-line errors
    for a LUT without a trim, another card than the crossbar LUT's, another corner, or no Monte Carlo instances
    when the model has mismatch."""
    dac = trim_dac(trim_lut, model.provenance.get("pdk") or pdk, model, model.coords, what="the crossbar LUT")
    if model.mismatch_scale > 0 and dac.mc_samples < 2:
        raise LUTError(f"trim LUT {dac.source} has no Monte Carlo instances: the residual after calibration needs "
                       f"them (characterize it with --mc), or use mismatch_scale 0")
    return dac


CALIBRATIONS = ("none", "trim")


def with_latch_calibration(model, calibration: str, trim_lut=None):
    """*model* with its latches' *calibration*: ``"none"`` (as it is) or ``"trim"`` (the trim DAC of *trim_lut*,
    :func:`load_latch_trim`); one-line errors for another calibration or a trim LUT without ``"trim"``."""
    if calibration not in CALIBRATIONS:
        raise ParameterError(f"latch calibration {calibration!r}: choose one of {', '.join(CALIBRATIONS)} (the "
                             f"latches have no ideal offset trim)")
    if calibration == "none":
        if trim_lut is not None:
            raise ParameterError("a trim LUT applies to the latch calibration 'trim' only")
        return model
    return model.with_trim(load_latch_trim(trim_lut, model))
