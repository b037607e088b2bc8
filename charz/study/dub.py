"""D.U.B. crossbar-attuned pruning (arXiv 2403.13082) on the executor: sparsity that lets every crossbar's converter
resolve fewer levels.

A weight layer (K x N, as the executor multiplies it) is mapped onto crossbars of ``rows`` rows (the column LUT's
N = 16 here): crossbar t holds rows [t rows, (t + 1) rows) of every output column. A column of crossbar t with
m nonzero weights can have at most m active cells in a bit-plane evaluation, so its read-out has m + 1 levels
and a converter of ``ceil(log2(m + 1))`` bits resolves it exactly; one converter serves the columns of a
crossbar, so the **crossbar's** resolution is set by its fullest column. D.U.B.'s three properties make that
count:

- **Discrete**: every column of crossbar t keeps at most ``m_t = rows / 2^d`` weights (a power-of-two fraction
  of its rows), so the resolution steps down by a whole bit per halving;
- **Unstructured** within a column: which m_t rows a column keeps is free (its largest weights);
- **Balanced** across the columns of a crossbar: training regularizes the variance of the columns' L0 norms
  (:func:`l0_variance`, a differentiable proxy ``sum tanh(|w| / eps)``) so that the columns agree on how many
  weights they need before the cut to m_t.

Unstructured magnitude pruning at the same overall sparsity leaves some column of nearly every crossbar
dense: its crossbars keep their full resolution (:func:`crossbar_bits` of either mask shows it).

This module holds the mechanics (masks, counts, bits, the regularizer); the training is
:mod:`charz.study.dub_train` (PyTorch, the optional training extra) and the energy comes from the converter LUTs
at each crossbar's resolution (:func:`converter_energy`).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import ParameterError

LEVELS = (2, 4, 8)
"""Sparsity as a power-of-two fraction kept per column: 1/2, 1/4, 1/8 of a crossbar's rows."""


def _check(w, rows: int) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ParameterError(f"weights must be a (K, N) matrix, got shape {w.shape}")
    if not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ParameterError(f"crossbar rows must be an integer >= 1, got {rows!r}")
    return w


def crossbars(w, rows: int) -> np.ndarray:
    """(T, rows, N) view of the (K, N) matrix *w* cut into crossbars of *rows* rows (the last one zero-padded),
    the way the CiM column maps a layer's inputs onto row tiles."""
    w = _check(w, rows)
    k, n = w.shape
    t = max(1, math.ceil(k / rows))
    pad = np.zeros((t * rows, n))
    pad[:k] = w
    return pad.reshape(t, rows, n)


def column_counts(w, rows: int) -> np.ndarray:
    """(T, N) nonzero weights of every column of every crossbar."""
    return np.count_nonzero(crossbars(w, rows), axis=1)


def crossbar_bits(w, rows: int) -> np.ndarray:
    """(T,) converter bits each crossbar needs to resolve its fullest column exactly: ceil(log2(m + 1)), m the
    largest column count of the crossbar (0 for an empty crossbar: nothing to convert)."""
    m = column_counts(w, rows).max(axis=1)
    return np.ceil(np.log2(m + 1)).astype(np.int64)


def dub_mask(w, rows: int, keep) -> np.ndarray:
    """The (K, N) D.U.B. mask of *w*: every column of crossbar t keeps its ``keep[t]`` largest |w| (a power of two
    <= rows; one number for every crossbar), the rest pruned. Ties go to the lower row."""
    w = _check(w, rows)
    xb = np.abs(crossbars(w, rows))
    t = xb.shape[0]
    keep = np.broadcast_to(np.asarray(keep), (t,)).astype(np.int64)
    for m in np.unique(keep):
        if m < 0 or m > rows or (m & (m - 1)):
            raise ParameterError(f"weights kept per column must be a power of two <= {rows} (or 0), got {m}")
    order = np.argsort(-xb, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(rows)[None, :, None].repeat(t, 0).repeat(xb.shape[2], 2), axis=1)
    mask = rank < keep[:, None, None]
    return mask.reshape(-1, w.shape[1])[: w.shape[0]]


def magnitude_mask(w, sparsity: float) -> np.ndarray:
    """Unstructured magnitude pruning of one matrix: the (K, N) mask keeping its ``1 - sparsity`` largest |w|."""
    w = np.asarray(w, dtype=np.float64)
    if not 0 <= sparsity < 1:
        raise ParameterError(f"sparsity must be in [0, 1), got {sparsity}")
    n_keep = int(round((1 - sparsity) * w.size))
    if n_keep >= w.size:
        return np.ones(w.shape, bool)
    thr = np.partition(np.abs(w).ravel(), w.size - n_keep)[w.size - n_keep] if n_keep else np.inf
    return np.abs(w) >= thr


def l0_proxy(w, rows: int, eps: float) -> np.ndarray:
    """(T, N) differentiable column L0 proxy ``sum over the crossbar's rows of tanh(|w| / eps)``."""
    return np.tanh(np.abs(crossbars(w, rows)) / eps).sum(axis=1)


def l0_variance(w, rows: int, eps: float) -> float:
    """The balance regularizer of one matrix: the sum over crossbars of the variance of its columns' L0 proxies."""
    return float(l0_proxy(w, rows, eps).var(axis=1).sum())


def converter_energy(bits: np.ndarray, columns: int, energy_per_bits: dict) -> float:
    """Conversion energy of one evaluation of every column of the crossbars with resolutions *bits* (T,), each
    crossbar *columns* columns wide: sum_t columns x E(bits_t); *energy_per_bits* maps a resolution to the
    converter LUT's energy per conversion (a resolution below the smallest LUT uses the smallest; 0 bits
    costs nothing)."""
    have = sorted(energy_per_bits)
    e = 0.0
    for b in np.asarray(bits).ravel():
        if b <= 0:
            continue
        if b > have[-1]:
            raise ParameterError(f"a crossbar needs {b} bits but the largest converter LUT has {have[-1]}")
        e += columns * energy_per_bits[min(x for x in have if x >= b)]
    return e
