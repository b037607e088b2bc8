"""HCiM (arXiv 2403.13577) mechanics: ADC-less partial sums on the bit-plane column, read as ternary decisions by a
latch pair, multiplied by per-column scale factors in digital.

A weight layer (K x N signed integers, ``w_bits``) is mapped as the CiM column maps it: crossbars (tiles) of
``rows`` rows; each weight magnitude bit slice s on two arrays, one holding the positive weights' bits, one the
negative weights'. For input bit plane p the two bitlines of output n in tile t discharge by
``k+ = sum_r x_p[r] w+_s[r, n]`` and ``k- = sum_r x_p[r] w-_s[r, n]`` cells. Instead of converting each with an ADC,
a latch pair compares the two bitlines (the WHT crossbar's ternary latch pair, whose ``wht_column`` LUT gives dV
for every (k+, k-) and the latches' thresholds with their Monte Carlo spread): ``q = +1`` above the upper
threshold, ``-1`` below the lower one, 0 in between. The exact partial sum is ``d = k+ - k-``; HCiM replaces it by
``alpha[s, t, n] q``, alpha a per-column scale factor, and the product is

    y[b, n] = sum over p, s, t of 2^(p + s) alpha[s, t, n] q[p, s, t, b, n].

This module computes k+ / k- (:func:`partial_sums`), the ideal and the LUT-read ternary decisions
(:func:`ternary_ideal`, :func:`ternary_lut`), the least-squares scale factors on calibration data
(:func:`fit_scales`, post-training; quantization-aware training of the scales is not built yet) and the product
(:func:`hcim_product`). What the scale factors cost in a digital CiM array is not characterized yet.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import ParameterError


def _planes(a: np.ndarray, bits: int) -> np.ndarray:
    """(bits, ...) 0/1 uint8 bit planes of the non-negative integers *a*, LSB first."""
    return ((a[None, ...] >> np.arange(bits).reshape((-1,) + (1,) * a.ndim)) & 1).astype(np.uint8)


def partial_sums(x_int, w_int, rows: int, x_bits: int, w_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(k+, k-), each (P, S, T, B, N) int16: active cells on the positive- and negative-weight bitlines of every
    input plane p (P = x_bits), magnitude slice s (S = w_bits - 1), tile t (T = ceil(K / rows)), input b and
    output n. *x_int* (B, K) unsigned ``x_bits``-bit, *w_int* (K, N) signed ``w_bits``-bit integers."""
    x = np.asarray(x_int)
    w = np.asarray(w_int)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ParameterError(f"x (B, K) and w (K, N) must share K, got {x.shape} and {w.shape}")
    if x.min(initial=0) < 0 or x.max(initial=0) >= (1 << x_bits):
        raise ParameterError(f"activations must be unsigned {x_bits}-bit integers")
    top = (1 << (w_bits - 1)) - 1
    if np.abs(w).max(initial=0) > top:
        raise ParameterError(f"weights must be signed {w_bits}-bit integers (|w| <= {top})")
    k, n = w.shape
    t = -(-k // rows)
    pad = t * rows - k
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, pad))).reshape(x.shape[0], t, rows).transpose(1, 0, 2)
    wp = np.pad(w.astype(np.int64), ((0, pad), (0, 0))).reshape(t, rows, n)
    xb = _planes(xp, x_bits).astype(np.float32)[:, None]  # (P, 1, T, B, R)
    pos = _planes(np.maximum(wp, 0), w_bits - 1).astype(np.float32)[None]  # (1, S, T, R, N)
    neg = _planes(np.maximum(-wp, 0), w_bits - 1).astype(np.float32)[None]
    # batched products on BLAS (twice as fast as the einsum here); counts <= rows: exact in float32
    return np.matmul(xb, pos).astype(np.int16), np.matmul(xb, neg).astype(np.int16)


def ternary_ideal(kp: np.ndarray, kn: np.ndarray, theta: float = 0.5) -> np.ndarray:
    """int8 ternary decisions of ideal latches with thresholds +-theta in cells: sign(d) where |d| > theta."""
    d = kp.astype(np.int32) - kn
    return (np.sign(d) * (np.abs(d) > theta)).astype(np.int8)


def ternary_lut(kp: np.ndarray, kn: np.ndarray, model, rng: np.random.Generator | None = None) -> np.ndarray:
    """int8 ternary decisions read through a ``wht_column`` model (:class:`charz.blocks.wht.model.WhtModel`):
    ``dV[k+, k-]`` from its table, compared with each column's upper and lower latch thresholds, drawn once per
    column (s, t, n) of one chip from *rng* (None: the nominal thresholds). The column's cells must fit the
    model: k+ + k- <= its rows."""
    r = model.n_rows
    if int(np.max(kp.astype(np.int32) + kn, initial=0)) > r:
        raise ParameterError(f"a column pair has more active cells than the {r}-row latch LUT covers")
    dv = np.nan_to_num(model.dv, nan=0.0)[kp, kn]
    cols = kp.shape[1:3] + kp.shape[4:]  # (S, T, N)
    sc = model.scalars
    if rng is None:
        tp = np.full(cols, sc["thr_pos_mean"])
        tn = np.full(cols, sc["thr_neg_mean"])
    else:
        n_cols = int(np.prod(cols))
        chip = model.draw(-(-n_cols // r), rng, "ternary")
        tp = chip.thr_pos.ravel()[:n_cols].reshape(cols)
        tn = chip.thr_neg.ravel()[:n_cols].reshape(cols)
    tp = tp[None, :, :, None, :]
    tn = tn[None, :, :, None, :]
    q = np.where(dv > tp, 1, np.where(dv < tn, -1, 0)).astype(np.int8)
    q[(kp == 0) & (kn == 0)] = 0  # no active cell: nothing to decide
    return q


def fit_scales(q: np.ndarray, kp: np.ndarray, kn: np.ndarray) -> np.ndarray:
    """(S, T, N) least-squares scale factors: alpha = sum d q / sum q^2 over the planes and inputs of calibration
    data (d = k+ - k-), weighting every plane by its 2^p (so the MSB planes, which matter most, set alpha);
    1 where a column never decides."""
    d = kp.astype(np.float64) - kn
    w = (4.0 ** np.arange(q.shape[0])).reshape(-1, 1, 1, 1, 1)
    num = (w * d * q).sum(axis=(0, 3))
    den = (w * q.astype(np.float64) ** 2).sum(axis=(0, 3))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)


def hcim_product(q: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(B, N) float64 ``sum over p, s, t of 2^(p + s) alpha[s, t, n] q[p, s, t, b, n]``."""
    p = 2.0 ** np.arange(q.shape[0])
    s = 2.0 ** np.arange(q.shape[1])
    return np.einsum("p,s,stn,pstbn->bn", p, s, alpha, q.astype(np.float64))


def exact_product(kp: np.ndarray, kn: np.ndarray) -> np.ndarray:
    """(B, N) the exact integer product x @ w rebuilt from the partial sums (the reference)."""
    p = 2.0 ** np.arange(kp.shape[0])
    s = 2.0 ** np.arange(kp.shape[1])
    return np.einsum("p,s,pstbn->bn", p, s, kp.astype(np.float64) - kn)
