"""Column gain / offset calibration: each chip fits every column's read-out against known inputs.

What a chip does (foreground, once, before the weights are written): every cell of the array stores a 1
(the column becomes its own reference column of known content), and the input drivers apply k = 0..N
active rows; each column is converted ``CAL_REPEATS`` times per level (averaging, in a chip, its temporal
noise). The digital back end takes the column's **offset** from its read-out with no active row,
``a = k_hat(0)``, and its **gain** ``b`` from the least-squares line through that point over the levels
k = 1..N, and rewrites that column's decode table (code -> k) to ``round((k_hat - a) / b)`` clipped to
0..N. The weights are written afterwards; at inference the per-column table replaces the shared one (one
lookup per conversion either way).

Why the offset comes from k = 0 and not from the least-squares line: most column evaluations of a network
have no or few active cells (the digits MLP: 56 % at k = 0, 25 % at k = 1), so a read-out that is exact
at k = 0 matters more than a line that is best on average over the levels; an unweighted least-squares
offset (``"gain_offset_lsq"``) moves k = 0 reads in many columns and costs accuracy (measured, README).

What it corrects: the column's and its converter's *linear* error, a gain (the cells' summed current, the
converter's full scale against the column swing) and an offset (the converter's offset, the column's
leakage at k = 0). What it leaves: every error that is not linear in k (a memory-immersed converter's
bow, a flash's comparators' own offsets, the discharge's compression), and the rounding of the corrected
count, which is now different in every column: where several columns share one converter (the
memory-immersed kinds) their shared offset used to cancel between the two sign arrays of an output, and
after the calibration the columns' independent rounding residuals do not.

The fit uses the chip's own k -> k_hat table, i.e. the noise-free conversion of the calibration levels:
charz does not simulate temporal noise (transient noise is not in the decks), so the fit is what the
averaged conversions would give. Two parameters per column is what keeps this honest: a per-level table
fitted the same way would be exact in a noise-free model and overstate what calibration buys on a chip.
"""

from __future__ import annotations

import math

import numpy as np

from ...core.errors import ParameterError

COLUMN_CALIBRATIONS = ("none", "gain_offset", "gain_offset_lsq")
"""``"none"``: the shared decode table; ``"gain_offset"``: every column's decode corrected by its own gain
and offset, the offset read at k = 0 and the gain the least-squares slope through it; ``"gain_offset_lsq"``:
gain and offset of the least-squares line over all N + 1 levels (best on average over the levels, for
networks whose columns are evaluated about evenly over k; worse where most evaluations have k near 0)."""

CAL_REPEATS = 16
"""Conversions per calibration level and column (averaging; counted in the cost, an assumption)."""


def check(column_calibration: str) -> str:
    """*column_calibration* if it is one of :data:`COLUMN_CALIBRATIONS`, else a one-line ParameterError."""
    if column_calibration not in COLUMN_CALIBRATIONS:
        raise ParameterError(f"column calibration must be one of {', '.join(COLUMN_CALIBRATIONS)}, "
                             f"got {column_calibration!r}")
    return column_calibration


def fit_gain_offset(k_hat: np.ndarray, method: str = "gain_offset") -> tuple[np.ndarray, np.ndarray]:
    """(offset a, gain b) per column. ``"gain_offset"``: ``a = k_hat[c, 0]`` and b the least-squares slope
    of ``k_hat[c, k] - a`` against k over k = 1..N (the line through the zero level); ``"gain_offset_lsq"``:
    the least-squares line ``k_hat[c, k] ~ a + b k`` over k = 0..N.

    *k_hat* is (columns, N + 1): each column's decoded count at every calibration level."""
    kh = np.asarray(k_hat, dtype=float)
    if kh.ndim != 2 or kh.shape[1] < 2:
        raise ParameterError(f"calibration levels must be (columns, N + 1) with N >= 1, got shape {kh.shape}")
    if check(method) == "gain_offset_lsq":
        k = np.arange(kh.shape[1], dtype=float)
        kc = k - k.mean()
        b = (kh - kh.mean(axis=1, keepdims=True)) @ kc / float(kc @ kc)
        return kh.mean(axis=1) - b * k.mean(), b
    if method == "none":
        raise ParameterError("column calibration 'none' has no fit")
    k = np.arange(1, kh.shape[1], dtype=float)
    a = kh[:, 0].copy()
    return a, (kh[:, 1:] - a[:, None]) @ k / float(k @ k)


def correct(k_hat: np.ndarray, method: str = "gain_offset") -> np.ndarray:
    """Every column's k -> k_hat table after its gain / offset calibration *method* (int64, same shape).

    A column whose fitted gain is below 0.5 (its read-out barely moves with k: a broken column) keeps its
    uncorrected table: dividing by it would only amplify the error."""
    kh = np.asarray(k_hat)
    a, b = fit_gain_offset(kh, method)
    n = kh.shape[1] - 1
    ok = b >= 0.5
    bs = np.where(ok, b, 1.0)
    out = np.clip(np.rint((kh - a[:, None]) / bs[:, None]), 0, n).astype(np.int64)
    return np.where(ok[:, None], out, kh.astype(np.int64))


def cost(n_rows: int, adc_bits: int, e_nom: np.ndarray, conv_energy: float, t_round: float,
         method: str = "gain_offset") -> dict:
    """What the calibration costs: per column its conversions and energy (column evaluations at every level
    and their conversions) and the storage of its own decode table (2^bits entries of ceil(log2(N + 1))
    bits); the time of one array (*t_round*: one round of the array, every column evaluated and read out,
    :func:`charz.network.timing.round_time`), arrays calibrating in parallel."""
    levels = n_rows + 1
    conv = levels * CAL_REPEATS
    e = CAL_REPEATS * float(np.sum(np.asarray(e_nom, dtype=float))) + conv * float(conv_energy)
    return {
        "method": method,
        "levels": levels,
        "repeats": CAL_REPEATS,
        "conversions_per_column": conv,
        "time_s": conv * float(t_round),
        "energy_per_column_J": e,
        "decode_table_bits_per_column": (1 << int(adc_bits)) * max(1, math.ceil(math.log2(levels))),
    }
