"""The bit-plane CiM matrix product on the columns of a :class:`charz.blocks.cim_column.model.ColumnModel`:
weights mapped onto physical columns (:class:`CiMLayer`, :func:`map_weights`, :func:`map_layer`), one simulated
chip's product (:func:`cim_matmul`), the bare bit-serial arithmetic (:func:`bitserial_matmul`) and the
:class:`CimBackend` adapter.

Mapping of a layer (the convention :func:`cim_matmul` and :class:`CiMLayer` implement)
-------------------------------------------------------------------------------------
- Activations are unsigned integers of ``x_bits`` bits, applied one bit plane at a time (plane p has
  weight 2**p), so one logical product takes ``x_bits`` evaluations of every physical column.
- Weights are signed integers in the *symmetric* range ``[-(2**(w_bits-1) - 1), 2**(w_bits-1) - 1]``
  (e.g. -7..7 for 4 bits), stored sign-magnitude as two non-negative magnitude arrays:
  ``w = w_pos - w_neg`` with ``w_pos = max(w, 0)``, ``w_neg = max(-w, 0)``. Each magnitude has
  ``w_bits - 1`` bits (the sign bit selects the array), and bit slice j (weight 2**j) of each array
  sits in its own physical column. So one logical output column occupies ``2 * (w_bits - 1)`` physical
  columns per row tile.
- Rows (the input dimension) are split into tiles of N rows; the last tile is padded with zero rows
  (weight 0, input 0: they never add to k). The number of columns per array is not limited here.
- Each (plane p, sign, slice j, tile t, output o) evaluation gives k -> V through *that physical
  column's own curve* -> read-out (ideal quantizer or its converter) -> calibrated decode -> k_hat. The digital back end forms
  ``y[o] = sum_t sum_p sum_j 2**(p + j) * (k_hat_pos - k_hat_neg)``.

Because the mismatch is static (drawn once per simulated chip and kept for the whole run, for the
columns and for their converters) and the read-out is deterministic, the chain k -> V -> code -> k_hat
of every physical column is a fixed function of k: it is evaluated once per column for all k = 0..N
(a ``(columns, N+1)`` transfer table) when the chip is drawn. Per evaluation, ``k_hat = k + err(column, k)``; ``err`` is zero below a
per-column threshold k, so only the (few) evaluations at or above their column's threshold are
corrected; when many are (large mismatch) k_hat is gathered for every evaluation instead. Both give the
same integers. Temporal noise, if a later LUT carries it, would need a per-evaluation draw.

With a noiseless LUT (or ``mismatch_scale=0``) and an ideal quantizer whose bins separate all the
nominal levels, k_hat == k everywhere and the result equals the exact integer product ``x @ w``.

Two implementations give the same integers and the same k histogram (:data:`FAST`): the plain path forms k of
every evaluation; the fast path (the default) forms ``x @ w`` exactly with BLAS and adds the read-out errors of
only the evaluations that can be misread (screened per column at programming: k <= the column's weight bits in
the tile; per input row: k <= its bits in the tile, zero rows skipped), and counts the histogram from the tiles'
input patterns or packed columns (see the comment above :meth:`CiMLayer._prepare_fast`). Ideal columns without a
histogram are the exact product alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading

import numpy as np

from ...core.errors import ParameterError
from ...behavior.interfaces import Cost
from .model import ColumnModel, _check_int

DENSE_FRACTION = 0.25
"""Plain path: above this fraction of possibly misread evaluations, k_hat is gathered for every evaluation."""
FAST = True
"""Use the fast path of :meth:`CiMLayer.__call__` (exact product + screened corrections + k histogram by input
patterns, see :meth:`CiMLayer._call_fast`); False: the plain path (every evaluation's k materialized). Both give
the same integers and the same histogram."""
PATTERN_MAX_ROWS = 16
"""Largest tile height N for which the k histogram may be counted from the tile's input patterns (2**N bins)."""
FULL_ROWS = 0.6
"""Fast path: when at least this fraction of a tile's rows may be misread, all its rows are looked up (the
others read zeros) instead of gathering those rows."""
FAST_ROWS = 8192
"""Fast path: rows (plane, image) per tile and block (fewer when ``chunk_elements`` asks for it)."""
PACK_BINS = 1 << 16
"""Direct histogram path: most joint bins of one packed group of columns."""
FAST_BYTES = 1 << 25
"""Fast path: a block's input bit planes take at most a quarter of this many bytes (8 MiB; all its buffers stay
within a few times that)."""
_NS_PATTERN_PASS = 0.3
"""Cost model of the histogram paths [ns per entry and pass of the pattern path's subset-sum transforms]..."""
_NS_DIRECT_EVAL = 0.45
"""... [ns per column evaluation of the direct (packed) path]: the cheaper one is taken per tile and call."""


# ---- mapping a weight matrix onto columns -------------------------------------------------------
@dataclasses.dataclass
class CiMLayer:
    """A weight matrix mapped onto N-row tiles of one simulated chip (fixed mismatch per column).

    Physical columns are indexed (tile t, sign z in {+, -}, slice j, output o); see the module doc.
    Call it on unsigned integer activations to get the integer outputs and the k histogram of the
    column evaluations (what the energy ledger needs).
    """

    n_rows: int
    x_bits: int
    w_bits: int
    in_features: int
    out_features: int
    wplanes: np.ndarray
    """(T, N, C) float32 bits, C = 2 * (w_bits - 1) * out columns ordered (z, j, o)."""
    coef: np.ndarray
    """(x_bits, 2 * (w_bits - 1)) int64: +-2**(p+j) for plane p and (sign, slice)."""
    kmap: np.ndarray | None = None
    """(T, C, N+1) int64 per-column transfer table k -> k_hat of this chip; None = ideal columns."""
    chunk_elements: int = 1 << 19
    """Column evaluations processed per block on the plain path (a cache-sized batch of images; no effect on
    results); the fast path takes at most ``chunk_elements / (4 x_bits T)`` images per block."""
    adc_bank: object = None
    """The chip's converter instances (:class:`charz.blocks.adc.model.ConverterBank`) when the
    read-out has per-instance transfer curves; None for the ideal quantizer."""

    def __post_init__(self):
        self._set_errors()

    @property
    def _ws(self) -> "_Workspace":
        """The work buffers: one set per thread, shared by every layer (a network's layers run one after the
        other, so a chip's memory holds one layer's buffers, not one per layer)."""
        ws = getattr(_THREAD, "ws", None)
        if ws is None:
            ws = _THREAD.ws = _Workspace()
        return ws

    def _set_errors(self):
        # The chain k -> k_hat is k + err[t, c, k]; err is zero below a per-column threshold k, so only
        # evaluations with k >= thr need a correction (few, unless the mismatch is large).
        t, c, n1 = self.n_tiles, self.columns_per_tile, self.n_rows + 1
        self._fast = None  # built on the first fast call
        if self.kmap is None:
            self._err = None
            return
        km = np.asarray(self.kmap, dtype=np.int64).reshape(t, c, n1)
        err = km - np.arange(n1)
        bad = err != 0
        thr = np.where(bad.any(axis=2), np.argmax(bad, axis=2), n1)
        self.kmap = km
        self._err = err.astype(np.float32).ravel() if bad.any() else None
        self._kmap_f = km.astype(np.float32).ravel()
        # flat table index (t * C + c) * (N+1) + k, formed in floating point next to k: float32 is exact
        # below 2**24, larger layers use float64
        self._idx_dtype = np.float32 if t * c * n1 < 2**24 else np.float64
        self._koff = ((np.arange(t)[:, None, None] * c + np.arange(c)[None, None, :]) * n1).astype(self._idx_dtype)
        self._thr8 = thr.astype(np.uint8)[:, None, :]  # (T, 1, C); thr <= N+1 <= 255
        self._thr = thr

    def set_transfer(self, kmap: np.ndarray | None) -> None:
        """Install a (T, C, N+1) (or flattened) per-column transfer table k -> k_hat."""
        self.kmap = kmap
        self._set_errors()

    @property
    def n_tiles(self) -> int:
        """Number of N-row tiles the weight matrix's input dimension is split over."""
        return self.wplanes.shape[0]

    @property
    def n_slices(self) -> int:
        """Weight magnitude bits per sign: ``w_bits - 1`` (one physical column each)."""
        return self.w_bits - 1

    @property
    def columns_per_tile(self) -> int:
        """Physical columns per tile: 2 x (w_bits - 1) x outputs (sign, slice, output)."""
        return self.wplanes.shape[2]

    @property
    def evaluations_per_input(self) -> int:
        """Column evaluations per input vector: planes x tiles x physical columns per tile."""
        return self.x_bits * self.n_tiles * self.columns_per_tile

    @property
    def macs(self) -> int:
        """Logical multiply-accumulates per input vector (in x out), not per bit plane."""
        return self.in_features * self.out_features

    def column_k(self, x_int) -> np.ndarray:
        """k of every evaluation: (T, x_bits * B, C) float32 (integer valued), rows ordered (plane, image)."""
        return self._column_k(_check_x(x_int, self.x_bits, self.in_features)).copy()

    def _column_k(self, x: np.ndarray, ws: "_Workspace | None" = None) -> np.ndarray:
        b = x.shape[0]
        t, n, p = self.n_tiles, self.n_rows, self.x_bits
        ws = ws or _Workspace()
        xp = ws.get("xp", (b, t * n), np.uint8)
        xp[:, : self.in_features] = x
        xp[:, self.in_features :] = 0  # zero rows padding the last tile
        xb = ws.get("xb", (t, p * b, n), np.float32)  # (T, P*B, N) input bit planes, rows (plane, image)
        xb4 = xb.reshape(t, p, b, n)
        xpt = xp.reshape(b, t, n).transpose(1, 0, 2)
        for i in range(p):  # over the (few) bit planes only
            np.bitwise_and(np.right_shift(xpt, i), 1, out=xb4[:, i], casting="unsafe")
        k = ws.get("k", (t, p * b, self.columns_per_tile), np.float32)
        return np.matmul(xb, self.wplanes, out=k)  # integer valued, exact in float32 (k <= N)

    def __call__(self, x_int, return_hist: bool = True):
        """Integer outputs (B, out) int64 [and the k histogram (N+1,) of all column evaluations].

        Vectorized over images, planes, slices, tiles and columns; images are processed in blocks of
        ``chunk_elements`` column evaluations to stay in cache.
        """
        x = _check_x(x_int, self.x_bits, self.in_features)
        squeeze = np.ndim(x_int) == 1
        with _one_blas_thread():  # k-matmuls are short (inner size N) and memory bound
            y, hist = (self._call_fast if FAST else self._call_plain)(x, return_hist)
        if squeeze:
            y = y[0]
        return (y, hist) if return_hist else y

    def _call_plain(self, x: np.ndarray, return_hist: bool):
        """The plain path: k of every evaluation, its histogram, the read-out of every evaluation."""
        b = x.shape[0]
        per_image = self.x_bits * self.n_tiles * self.columns_per_tile
        step = max(1, self.chunk_elements // max(1, per_image))
        y = np.empty((b, self.out_features), dtype=np.int64)
        hist = np.zeros(self.n_rows + 1, dtype=np.int64) if return_hist else None
        for i in range(0, b, step):
            y[i : i + step] = self._block(x[i : i + step], hist)
        return y, hist

    # ---- the fast path ----------------------------------------------------------------------------
    # y = x @ w (exact, BLAS) + the read-out errors of the evaluations that can be misread. An evaluation of
    # physical column (t, c) on plane p of an input can be misread only if k >= thr[t, c]; k <= the column's
    # weight popcount in the tile (so a column whose popcount is below its threshold never is: screened at
    # programming) and k <= the popcount of the input plane in the tile (a row below the smallest threshold of
    # the tile's remaining columns never is, a zero row only reads kmap[t, c, 0]). Only the remaining
    # (row, column) evaluations are looked up, the risky columns of one output grouped so that one matmul
    # column gives the joint index of the group and one table lookup its summed, weighted error
    # (_group_corrections). The k histogram (energy) is counted per tile either from the 2**N input patterns
    # of the tile (the pattern path: a count per pattern, then superset sums of the row and column pattern
    # counts, _hist_patterns; cost independent of the numbers of rows and columns) or from the k of the
    # nonzero rows, several columns packed into one integer (the direct path; zero rows counted at k = 0);
    # the cheaper is taken per tile and call (_NS_* cost model).
    def _prepare_fast(self) -> dict:
        t, n, c = self.n_tiles, self.n_rows, self.columns_per_tile
        s, o = self.n_slices, self.out_features
        wp = self.wplanes
        bits = wp.reshape(t * n, 2, s, o)[: self.in_features].astype(np.int64)
        w = np.tensordot(bits[:, 0] - bits[:, 1], 1 << np.arange(s), axes=([1], [0]))  # (in, out)
        if float(self.in_features) * ((1 << self.x_bits) - 1) * ((1 << s) - 1) >= 2.0**53:  # pragma: no cover
            raise ParameterError(f"{self.in_features} inputs: the fast path's float64 product would not be exact")
        f = {"w": w.astype(np.float64)}
        wpop = np.rint(wp.sum(axis=1)).astype(np.int64)  # (T, C) weight bits per physical column and tile
        cidx = np.arange(c)
        z, j, oo = cidx // (s * o), (cidx // o) % s, cidx % o
        m0 = np.zeros((c, o), dtype=np.float32)
        m0[cidx, oo] = (1 - 2 * z) * (1 << j)  # +-2**j into output o (2**p is applied per plane at the end)
        tiles = []
        err3 = None if self._err is None else self._err.reshape(t, c, n + 1)
        for ti in range(t):
            d = {}
            if err3 is not None:
                thr = self._thr[ti]
                risky = np.flatnonzero(wpop[ti] >= thr)
                if risky.size:
                    d.update(_group_corrections(wp[ti], risky, wpop[ti], thr, err3[ti], m0, oo, n, o))
                v0 = (err3[ti, :, 0].astype(np.float64)[:, None] * m0).sum(axis=0)  # a zero row's read-out error
                if np.any(v0):
                    d["v0"] = v0
            tiles.append(d)
        f["tiles"] = tiles
        f["risky_columns"] = sum(d["risky"] for d in tiles if "wr" in d)
        # the corrections are integers, |sum over tiles| <= T * max|err| * sum_j 2 * 2**j: float32 is exact below
        # 2**24 (else float64)
        emax = 0.0 if self._err is None else float(np.max(np.abs(self._err), initial=0.0))
        f["acc_dtype"] = np.float32 if t * emax * 2 * ((1 << s) - 1) < 2**24 else np.float64
        # histogram: the columns' weight-bit patterns (pattern path) and packed column groups (direct path)
        if n <= PATTERN_MAX_ROWS:
            f["pattern"] = (wp * (1 << np.arange(n))[None, :, None]).sum(axis=1).astype(np.int64)  # (T, C)
        # direct path: per tile, g columns in one integer, radix r = the tile's largest weight popcount + 1
        # (k <= popcount), as many columns as keep r**g <= PACK_BINS; a zero row for the ones column
        packed = []
        for ti in range(t):
            r = int(wpop[ti].max()) + 1
            g = max(1, int(np.floor(np.log(PACK_BINS) / np.log(r) + 1e-9))) if r > 1 else 1
            g = min(g, c)
            pad = -c % g
            wpad = np.concatenate([wp[ti], np.zeros((n, pad), np.float32)], axis=1)
            wpk = np.zeros((n + 1, (c + pad) // g), dtype=np.float32)
            wpk[:n] = (wpad.reshape(n, -1, g) * (r ** np.arange(g))).sum(axis=2)
            packed.append((r, g, pad, wpk))
        f["packed"] = packed
        return f

    def _call_fast(self, x: np.ndarray, return_hist: bool):
        if self._fast is None:
            self._fast = self._prepare_fast()
        f = self._fast
        b = x.shape[0]
        t, n, c, p = self.n_tiles, self.n_rows, self.columns_per_tile, self.x_bits
        o = self.out_features
        ws = self._ws

        def exact(xs):  # the exact integer product x @ w: float64 BLAS, every partial sum below 2**53
            return xs.astype(np.float64) @ f["w"]

        corr = any(d for d in f["tiles"])
        if not corr and not return_hist:
            y = np.empty((b, o), dtype=np.int64)
            step = max(1, FAST_BYTES // (32 * max(1, self.in_features)))
            for i0 in range(0, b, step):
                y[i0 : i0 + step] = np.rint(exact(x[i0 : i0 + step]))
            return y, None
        hist = np.zeros(n + 1, dtype=np.int64) if return_hist else None
        # nonzero rows (plane, image) per tile, from the OR of the tile's inputs: decides the histogram path
        xp = np.zeros((b, t * n), dtype=np.uint8)
        xp[:, : self.in_features] = x
        orr = np.bitwise_or.reduce(xp.reshape(b, t, n), axis=2)  # (b, T)
        nnz = sum(np.count_nonzero((orr >> i) & 1, axis=0) for i in range(p))  # (T,)
        pat = [False] * t
        if return_hist and "pattern" in f:
            cost = 2 * n * (1 << n) * _NS_PATTERN_PASS  # two subset-sum transforms per tile, whatever the rows
            pat = [cost < nnz[ti] * c * _NS_DIRECT_EVAL for ti in range(t)]
        counts = {ti: np.zeros(1 << n, dtype=np.int64) for ti in range(t) if pat[ti]}
        joint: dict = {}
        # blocks of about FAST_ROWS rows (plane, image) per tile: the per-tile steps are few numpy calls each
        step = max(1, min(FAST_ROWS // p, self.chunk_elements // (4 * p * t), FAST_BYTES // (16 * p * t * (n + 1))))
        y = np.empty((b, o), dtype=np.int64)
        pw = 2.0 ** np.arange(p)
        q = np.zeros((n + 1, 2), dtype=np.float32)
        q[:n, 0] = 1.0  # popcount of the row
        q[:n, 1] = 2.0 ** np.arange(n) if n <= PATTERN_MAX_ROWS else 0.0  # its pattern
        for i0 in range(0, b, step):
            xbk = xp[i0 : i0 + step]
            bb = xbk.shape[0]
            r = p * bb
            xb = ws.get("fxb", (t, r, n + 1), np.float32)  # (T, P*b, N+1): bit planes, rows (plane, image), then 1
            xb4 = xb.reshape(t, p, bb, n + 1)
            xpt = xbk.reshape(bb, t, n).transpose(1, 0, 2)
            for i in range(p):
                np.bitwise_and(np.right_shift(xpt, i), 1, out=xb4[:, i, :, :n], casting="unsafe")
            xb[:, :, n] = 1.0
            ap = np.matmul(xb, q, out=ws.get("fap", (t, r, 2), np.float32))  # popcount, pattern
            acc = ws.get("facc", (r, o), f["acc_dtype"]) if corr else None
            if corr:
                acc.fill(0.0)
            for ti in range(t):
                d = f["tiles"][ti]
                apop = ap[ti, :, 0]
                xt = xb[ti]
                full = False
                if "wr" in d:  # the screened corrections
                    cand = np.flatnonzero(apop >= d["thr_min"])
                    if cand.size:
                        full = cand.size >= FULL_ROWS * r  # then all rows (the others look up zeros)
                        if full:
                            cand = slice(None)
                        xg = xt if full else np.take(xt, cand, axis=0)
                        nc = r if full else cand.size
                        kr = np.matmul(xg, d["wr"], out=ws.get("fkr", (nc, d["wr"].shape[1]), np.float32))
                        idx = ws.get("fidx", kr.shape, np.int32)  # float32 -> int32 is a cheaper pass than -> intp
                        np.copyto(idx, kr, casting="unsafe")  # (rows, slots x O) table indices
                        # indices are in range by construction (k <= the weight popcount): "wrap" skips the check
                        e = np.take(d["etab"], idx, out=ws.get("fe", kr.shape, np.float32), mode="wrap")
                        v = e[:, :o]
                        if d["slots"] > 1:
                            v = ws.get("fv", (nc, o), np.float32)
                            np.add(e[:, :o], e[:, o : 2 * o], out=v)
                            for si in range(2, d["slots"]):
                                v += e[:, si * o : (si + 1) * o]
                        if full:
                            acc += v
                        else:
                            acc[cand] += v  # cand unique
                if "v0" in d and not full:  # zero rows not looked up read kmap[t, c, 0]
                    acc[apop == 0] += d["v0"]
                if hist is None:
                    continue
                if pat[ti]:
                    u = ws.get("fu", (r,), np.uint16 if n <= 16 else np.intp)
                    np.copyto(u, ap[ti, :, 1], casting="unsafe")
                    counts[ti] += np.bincount(u, minlength=1 << n)
                else:
                    self._hist_direct(xt, apop, ti, hist, joint)
            if corr:
                yc = np.einsum("pbo,p->bo", acc.reshape(p, bb, o), pw)
                y[i0 : i0 + step] = np.rint(exact(x[i0 : i0 + step]) + yc)
            else:
                y[i0 : i0 + step] = np.rint(exact(x[i0 : i0 + step]))
        if counts:
            hist += self._hist_patterns(counts)
        for ti, h in joint.items():
            hist += self._marginal(h, ti)
        return y, hist

    def _hist_direct(self, xt: np.ndarray, apop: np.ndarray, ti: int, hist: np.ndarray, joint: dict) -> None:
        """Add the k histogram of tile *ti* over the rows of *xt* (R, N+1): zero rows counted at k = 0, the
        others from their k, *g* columns packed into one integer in the tile's radix r (k < r): their joint
        histogram is added to ``joint[ti]`` (marginalized by :meth:`_marginal`)."""
        r, g, pad, wpk = self._fast["packed"][ti]
        c = self.columns_per_tile
        nz = np.flatnonzero(apop)
        hist[0] += (apop.size - nz.size) * c
        if not nz.size:
            return
        ws = self._ws
        xg = xt if nz.size == apop.size else np.take(xt, nz, axis=0)
        kp = np.matmul(xg, wpk, out=ws.get("fkp", (nz.size, wpk.shape[1]), np.float32))
        idx = ws.get("fkpi", kp.shape, np.uint16 if r**g <= 1 << 16 else np.intp)
        np.copyto(idx, kp, casting="unsafe")
        h = np.bincount(idx.reshape(-1), minlength=r**g)[: r**g]
        if ti in joint:
            joint[ti] += h
        else:
            joint[ti] = h
        hist[0] -= pad * nz.size  # the padding columns (k = 0)

    def _marginal(self, h: np.ndarray, ti: int) -> np.ndarray:
        """The k histogram (N+1,) of a joint histogram of tile *ti*'s packed columns."""
        r, g = self._fast["packed"][ti][:2]
        h = h.reshape((r,) * g)
        out = np.zeros(self.n_rows + 1, dtype=np.int64)
        for a in range(g):
            out[:r] += h.sum(axis=tuple(i for i in range(g) if i != a))
        return out

    def _hist_patterns(self, counts: dict) -> np.ndarray:
        """The k histogram of the tiles in *counts* ({tile: the number of input rows of each of the 2**N row
        patterns}), exact, at a cost independent of the numbers of rows and columns.

        For a row of pattern a and a column of weight pattern l, k = popcount(a & l), and
        z**k = prod over the bits of a & l of (1 + (z - 1)) = sum over the subsets S of a & l of (z - 1)**|S|.
        Summed over rows and columns: sum_k hist[k] z**k = sum_S (z - 1)**|S| X(S) W(S), where X(S) (W(S)) is the
        number of rows (columns) whose pattern contains S: the superset sums of the two pattern counts (a
        subset-sum transform, N passes over 2**N entries). With M_j = sum over |S| = j of X(S) W(S), comparing
        coefficients gives hist[k] = sum_j (-1)**(j - k) C(j, k) M_j. Integer arithmetic throughout."""
        n = self.n_rows
        wpat = self._fast["pattern"]
        bx = np.empty(1 << n, dtype=np.int64)
        bw = np.empty(1 << n, dtype=np.int64)
        s = np.zeros(1 << n, dtype=np.int64)
        for ti, cnt in counts.items():
            xs = _superset_sums(cnt, bx)
            # the column side depends on the weights only, but kept per tile it would cost 2**N x 8 B per tile
            # and chip (~200 MB for ResNet-20): it is recomputed, about half of this function's time
            ws = _superset_sums(np.bincount(wpat[ti], minlength=1 << n), bw)
            s += xs * ws
        order, starts = _popcount_order(n)
        m = [int(v) for v in np.add.reduceat(s[order], starts)]  # M_j, j = 0..n
        out = [sum((-1) ** (j - k) * math.comb(j, k) * m[j] for j in range(k, n + 1)) for k in range(n + 1)]
        return np.array(out, dtype=np.int64)

    def _block(self, x: np.ndarray, hist: np.ndarray | None) -> np.ndarray:
        # Work arrays are reused between blocks and calls (fresh large arrays cost page faults).
        b = x.shape[0]
        ws = self._ws
        k = self._column_k(x, ws)  # (T, R, C) float32, R = P * b
        s = ws.get("s", k.shape[1:], np.float32)  # tile sums of k_hat, (R, C)
        n_bad = 0
        if hist is not None or self._err is not None:
            k8 = ws.get("k8", k.shape, np.uint8)
            np.copyto(k8, k, casting="unsafe")
            if hist is not None:
                hist += _khist_u8(k8.reshape(-1), self.n_rows, ws)
            if self._err is not None:
                mask = np.greater_equal(k8, self._thr8, out=ws.get("mask", k.shape, np.bool_))
                n_bad = np.count_nonzero(mask)  # evaluations that may be read back wrong
        if n_bad > DENSE_FRACTION * k.size:
            # many: gather k_hat of every evaluation from the per-column transfer tables
            idx_f = np.add(k, self._koff, out=ws.get("idx_f", k.shape, self._idx_dtype))
            idx = ws.get("idx", k.shape, np.intp)
            np.copyto(idx, idx_f, casting="unsafe")
            kh = np.take(self._kmap_f, idx, out=ws.get("kh", k.shape, np.float32))
            np.sum(kh, axis=0, out=s)
        else:
            if n_bad:  # few: correct only those, in k itself (k is a work buffer and the hist is done)
                nz = np.flatnonzero(mask)
                c = self.columns_per_tile
                rc = k.shape[1] * c
                small = k.size < 2**31 and self._kmap_f.size < 2**31
                n = nz.astype(np.int32) if small else nz
                tc = (n // rc) * c + n % c  # physical column (t, c) of each evaluation
                sel = tc * (self.n_rows + 1) + k8.reshape(-1)[nz]
                kf = k.reshape(-1)
                kf[nz] += self._err[sel]  # nz are unique: plain fancy indexing
            np.sum(k, axis=0, out=s)
        s = s.reshape(self.x_bits, b, 2 * self.n_slices, self.out_features)
        return np.rint(np.einsum("pbso,ps->bo", s, self.coef.astype(np.float64))).astype(np.int64)


def map_weights(w_int, n_rows: int, w_bits: int, x_bits: int) -> CiMLayer:
    """Map signed integer weights (in, out) onto N-row tiles as ideal columns (no LUT, k_hat = k)."""
    n_rows = _check_int(n_rows, "n_rows", 1)
    w_bits = _check_int(w_bits, "w_bits", 2)
    x_bits = _check_int(x_bits, "x_bits", 1)
    if x_bits > 8:
        raise ParameterError(f"x_bits = {x_bits} is too wide: activations of at most 8 bits are supported")
    w = _as_int(w_int, "weights")
    if w.ndim != 2:
        raise ParameterError(f"weights must be a 2-D (in, out) matrix, got shape {w.shape}")
    wmax = (1 << (w_bits - 1)) - 1
    if w.size and (w.max() > wmax or w.min() < -wmax):
        raise ParameterError(
            f"weights must lie in [-{wmax}, {wmax}] for w_bits={w_bits} (symmetric sign-magnitude), "
            f"got [{w.min()}, {w.max()}]"
        )
    n_in, n_out = w.shape
    t = max(1, -(-n_in // n_rows))
    s = w_bits - 1
    mags = np.stack([np.maximum(w, 0), np.maximum(-w, 0)])  # (2, in, out)
    bits = (mags[:, None] >> np.arange(s)[None, :, None, None]) & 1  # (2, S, in, out)
    pad = np.zeros((2, s, t * n_rows, n_out), dtype=np.int64)
    pad[:, :, :n_in] = bits
    wplanes = pad.reshape(2, s, t, n_rows, n_out).transpose(2, 3, 0, 1, 4).reshape(t, n_rows, 2 * s * n_out)
    sign = np.array([1, -1], dtype=np.int64)
    coef = sign[None, :, None] * (1 << (np.arange(x_bits)[:, None, None] + np.arange(s)[None, None, :]))
    return CiMLayer(
        n_rows=n_rows, x_bits=x_bits, w_bits=w_bits, in_features=n_in, out_features=n_out,
        wplanes=np.ascontiguousarray(wplanes, dtype=np.float32),
        coef=coef.reshape(x_bits, 2 * s).astype(np.int64),
    )


def map_layer(w_int, model: ColumnModel, rng: np.random.Generator, *, w_bits: int = 4, x_bits: int = 4) -> CiMLayer:
    """Map weights onto the columns of one simulated chip: each physical column gets its own curve
    drawn from *model* with *rng* (once; kept for every later call of the returned layer)."""
    layer = map_weights(w_int, model.n_rows, w_bits, x_bits)
    n_cols = layer.n_tiles * layer.columns_per_tile
    curves = model.draw_curves(n_cols, rng)
    kmap, layer.adc_bank = model.read_out(curves, rng, (layer.n_tiles, layer.columns_per_tile))  # converters after curves
    layer.set_transfer(kmap.reshape(layer.n_tiles, layer.columns_per_tile, model.n_rows + 1))
    return layer


def cim_matmul(
    x_int,
    w_int,
    model: ColumnModel,
    *,
    x_bits: int = 4,
    w_bits: int = 4,
    seed: int | np.random.Generator = 0,
    return_hist: bool = False,
):
    """Bit-plane CiM product of unsigned ``x_int`` (B, in) and signed ``w_int`` (in, out).

    One call = one simulated chip drawn from *seed*. Returns the integer outputs (B, out) and, with
    ``return_hist``, the histogram over k = 0..N of every column evaluation. Equals ``x @ w`` exactly
    when the columns are noiseless and the ideal quantizer separates the nominal levels.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    layer = map_layer(w_int, model, rng, w_bits=w_bits, x_bits=x_bits)
    return layer(x_int, return_hist=return_hist)


def bitserial_matmul(x_int, w_int, n_rows: int, *, x_bits: int = 4, w_bits: int = 4):
    """Bare bit-serial integer arithmetic of the same mapping (planes, slices, tiles), no LUT."""
    return map_weights(w_int, n_rows, w_bits, x_bits)(x_int, return_hist=False)


class CimBackend:
    """The bit-plane CiM as a :class:`charz.behavior.interfaces.MatmulBackend`: one simulated chip of
    *model*'s columns. :meth:`program` maps the weights with :func:`map_layer` (every physical column's
    curve and converter drawn from *seed*, once); :meth:`matmul` calls the :class:`CiMLayer`. So
    ``CimBackend(model, seed=s)`` programmed with w gives ``cim_matmul(x, w, model, seed=s)`` exactly.

    ``model=None``: ideal columns of ``n_rows`` rows (k_hat = k: the exact ``x @ w``, no energy counted).
    Cost: ``energy["array"]`` = sum of E(k) over the column evaluations, ``energy["readout"]`` = one
    conversion per evaluation at the read-out's energy [J] (0 for the ideal quantizer); ops = 2 x logical
    MACs; no latency (see :mod:`charz.network.timing`)."""

    def __init__(self, model: ColumnModel | None, *, n_rows: int | None = None, w_bits: int = 4, x_bits: int = 4,
                 seed: int | np.random.Generator = 0):
        if model is not None and not isinstance(model, ColumnModel):
            raise ParameterError(f"model must be a ColumnModel (ColumnModel.from_lut(lut)) or None, got "
                                 f"{type(model).__name__}")
        if model is not None and n_rows is not None and int(n_rows) != model.n_rows:
            raise ParameterError(f"n_rows={n_rows} but the column LUT has N = {model.n_rows} rows: leave n_rows out")
        self.model = model
        self.n_rows = model.n_rows if model is not None else _check_int(16 if n_rows is None else n_rows, "n_rows", 1)
        self.w_bits = _check_int(w_bits, "w_bits", 2)
        self.x_bits = _check_int(x_bits, "x_bits", 1)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.layer: CiMLayer | None = None
        """The programmed weights on this chip (None before :meth:`program`)."""
        self.weights: np.ndarray | None = None

    @property
    def label(self) -> str:
        """Columns (N rows), bits, and the read-out (or ``ideal columns``)."""
        if self.model is None:
            return f"ideal CiM columns ({self.n_rows} rows), w{self.w_bits} x{self.x_bits}"
        return (f"CiM columns ({self.n_rows} rows, mismatch x{self.model.mismatch_scale:g}), w{self.w_bits} "
                f"x{self.x_bits}, read out by {self.model.describe()['readout_short']}")

    @property
    def shape(self) -> tuple[int, int] | None:
        """(in, out) of the programmed weights; None before :meth:`program`."""
        return None if self.layer is None else (self.layer.in_features, self.layer.out_features)

    def program(self, weights) -> None:
        """Map signed integer weights (in, out) in [-(2^(w_bits-1) - 1), 2^(w_bits-1) - 1] onto this chip's
        columns (their mismatch drawn now, from the backend's generator)."""
        w = _as_int(weights, "weights")
        if self.model is None:
            self.layer = map_weights(w, self.n_rows, self.w_bits, self.x_bits)
        else:
            self.layer = map_layer(w, self.model, self.rng, w_bits=self.w_bits, x_bits=self.x_bits)
        self.weights = w

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(integer outputs (batch, out) int64, :class:`~charz.behavior.interfaces.Cost`) of unsigned
        ``x_bits``-bit activations *x* (batch, in)."""
        if self.layer is None:
            raise ParameterError("program the weights first (backend.program(w))")
        b = 1 if np.ndim(x) == 1 else int(np.shape(x)[0])
        if self.model is None:  # ideal columns: no energy, so no histogram (every evaluation is counted)
            y, hist = self.layer(x, return_hist=False), None
            n = b * self.layer.evaluations_per_input
        else:
            y, hist = self.layer(x, return_hist=True)
            n = int(hist.sum())
        energy = {}
        if self.model is not None:
            energy = {"array": float(hist @ np.asarray(self.model.e_nom, dtype=float)),
                      "readout": n * float(self.model.quantizer.energy)}
        return y, Cost(energy=energy, ops=2 * self.layer.macs * b, conversions=n,
                       counters={"column_evaluations": n, "vectors": b})

    def ideal(self) -> "CimBackend":
        """Ideal columns of the same size and bits (exact ``x @ w``), programmed with the same weights."""
        out = CimBackend(None, n_rows=self.n_rows, w_bits=self.w_bits, x_bits=self.x_bits)
        if self.weights is not None:
            out.program(self.weights)
        return out


# ---- helpers ------------------------------------------------------------------------------------
_BLAS = None


def _one_blas_thread():
    """Context limiting BLAS to one thread (threadpoolctl, a scikit-learn dependency), else a no-op.

    The bit-plane matmuls have an inner dimension of only N rows: threads buy nothing and, on a busy
    machine, cost a lot (spinning workers)."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()
        except Exception:  # pragma: no cover - threadpoolctl missing or broken
            _BLAS = False
    if _BLAS is False:
        return contextlib.nullcontext()
    return _BLAS.limit(limits=1, user_api="blas")


_THREAD = threading.local()


class _Workspace:
    """Reusable flat work buffers (one per name), handed out as contiguous views of the needed shape.
    Not thread-safe: one CiMLayer is called from one thread at a time."""

    def __init__(self):
        self._b: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple, dtype) -> np.ndarray:
        n = math.prod(shape)
        dt = np.dtype(dtype)
        buf = self._b.get(name)
        if buf is None or buf.size < n or buf.dtype != dt:
            buf = self._b[name] = np.empty(max(n, 1), dtype=dt)
        return buf[:n].reshape(shape)


GROUP_TABLE = 512
"""Fast path: largest joint error table of one group of risky columns of one output (entries)..."""
GROUP_TABLE_MAX = 4096
"""... except for an output with more groups than the tile's mean (up to this many entries)."""


def _group_corrections(wpt, risky, wpop, thr, err, m0, oo, n: int, o: int) -> dict:
    """The correction tables of one tile: its risky columns (weight popcount >= threshold) grouped per output,
    each group read by ONE table lookup per row: the matmul of the row's bits with ``sum_i stride_i w_i``
    gives the mixed-radix index of (k_1, ..., k_m) (radix wpop_i + 1, as k_i <= wpop_i), the ones column adds
    the group's table offset, and the table holds ``sum_i (+-2**j_i) err_i(k_i)``. Groups are laid out as
    slots x outputs (empty slots read entry 0, which is 0)."""
    order = np.lexsort((-thr[risky], oo[risky]))  # by output, then threshold (high first)
    rc = risky[order].tolist()
    rad = (wpop[risky[order]] + 1).tolist()
    out = oo[risky[order]].tolist()
    coef = m0[risky[order], oo[risky[order]]].astype(np.float64)
    def split(members, cap):  # consecutive columns of one output, each group's table <= cap entries
        gl, cur, size = [], [], 1
        for i in members:
            if cur and size * rad[i] > cap:
                gl.append(cur)
                cur, size = [], 1
            cur.append((i, size))
            size *= rad[i]
        return gl + [cur] if cur else gl

    per_out = {}
    for i, q in enumerate(out):
        per_out.setdefault(q, []).append(i)
    split_of = {q: split(m, GROUP_TABLE) for q, m in per_out.items()}
    # the lookups are slots x outputs: an output with more groups than the tile's mean gets larger tables
    target = -(-sum(len(g) for g in split_of.values()) // max(1, len(split_of)))
    for q, gl in split_of.items():
        cap = GROUP_TABLE
        while len(gl) > target and cap < GROUP_TABLE_MAX:
            cap *= 2
            gl = split(per_out[q], cap)
        split_of[q] = gl
    groups = [(q, g) for q in sorted(split_of) for g in split_of[q]]  # (output, [(position in rc, stride)])
    slot_of = {}
    slots = 0
    cols = np.empty(len(groups), dtype=np.int64)
    for gi, (q, _) in enumerate(groups):
        sl = slot_of.get(q, 0)
        slot_of[q] = sl + 1
        slots = max(slots, sl + 1)
        cols[gi] = sl * o + q
    smat = np.zeros((len(rc), slots * o), dtype=np.float32)
    tabs, offs, off = [np.zeros(1, dtype=np.float32)], np.empty(len(groups)), 1
    eall = err[rc].astype(np.float64) * coef[:, None]  # +-2**j err(k) of every risky column
    for gi, (q, members) in enumerate(groups):
        vals = np.zeros(1)
        for i, stride in members:
            smat[i, cols[gi]] = stride
            e = eall[i, : rad[i]]  # k = 0..wpop
            vals = np.add.outer(e, vals).ravel()  # index k_i * stride_i + the lower columns' index
        tabs.append(vals.astype(np.float32))
        offs[gi] = off
        off += vals.size
    wr = np.zeros((n + 1, slots * o), dtype=np.float32)
    wr[:n] = wpt[:, rc] @ smat  # exact: small integers
    wr[n, cols] = offs
    return {"wr": wr, "etab": np.concatenate(tabs), "slots": slots, "risky": int(risky.size),
            "thr_min": max(1, int(thr[risky].min()))}


def _superset_sums(cnt: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Superset sums of *cnt* (2**n,): out[S] = sum of cnt[a] over the patterns a that contain S, in the bit order
    with the two halves of the n bits swapped (what only a sum over all S needs). One pass per bit, each over
    contiguous halves of at least 2**(n//2) entries (the upper bits first, then a transpose), in cache per tile."""
    n = cnt.size.bit_length() - 1
    lo, hi = n - n // 2, n // 2
    a = cnt.astype(np.int64, copy=True)
    for i in range(lo, n):
        v = a.reshape(-1, 2, 1 << i)
        v[:, 0, :] += v[:, 1, :]
    out.reshape(1 << lo, 1 << hi)[...] = a.reshape(1 << hi, 1 << lo).T
    for i in range(hi, n):
        v = out.reshape(-1, 2, 1 << i)
        v[:, 0, :] += v[:, 1, :]
    return out


_POPCOUNT_ORDER: dict = {}


def _popcount_order(n: int):
    """(order, starts): the patterns 0..2**n-1 sorted by popcount and where each popcount 0..n starts, for
    patterns in :func:`_superset_sums`' bit order (popcount does not depend on it), cached."""
    if n not in _POPCOUNT_ORDER:
        v = np.arange(1 << n)
        pc = sum((v >> i) & 1 for i in range(n))
        order = np.argsort(pc, kind="stable")
        _POPCOUNT_ORDER[n] = (order, np.searchsorted(pc[order], np.arange(n + 1)))
    return _POPCOUNT_ORDER[n]


def _khist(k: np.ndarray, n: int, ws: _Workspace | None = None) -> np.ndarray:
    """Histogram over 0..n of the integer-valued array *k* (0 <= k <= n <= 255)."""
    ws = ws or _Workspace()
    k8 = ws.get("k8h", (k.size,), np.uint8)
    np.copyto(k8, k.reshape(-1), casting="unsafe")
    return _khist_u8(k8, n, ws)


def _khist_u8(k8: np.ndarray, n: int, ws: _Workspace) -> np.ndarray:
    """Histogram over 0..n of a flat uint8 array.

    Counts pairs of neighbouring values at once (two uint8 read as one uint16) and marginalizes: half
    the elements go through bincount, about twice as fast as a plain bincount.
    """
    out = np.zeros(n + 1, dtype=np.int64)
    if k8.size % 2:
        out[k8[-1]] += 1
        k8 = k8[:-1]
    if k8.size:
        pairs = ws.get("pairs", (k8.size // 2,), np.intp)
        np.copyto(pairs, k8.view(np.uint16), casting="safe")
        h2 = np.bincount(pairs, minlength=256 * (n + 1))[: 256 * (n + 1)].reshape(n + 1, 256)[:, : n + 1]
        out += h2.sum(axis=0) + h2.sum(axis=1)
    return out


def _as_int(a, name: str, copy: bool = True) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=copy)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ParameterError(f"{name} must be integers, got dtype {arr.dtype}")


def _check_x(x_int, x_bits: int, n_in: int) -> np.ndarray:
    x = _as_int(x_int, "activations", copy=False)  # only read: converted to uint8 below
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ParameterError(f"activations must have shape (batch, {n_in}), got {np.shape(x_int)}")
    if x.size and (x.min() < 0 or x.max() >= (1 << x_bits)):
        raise ParameterError(f"activations must be unsigned {x_bits}-bit integers in [0, {(1 << x_bits) - 1}], got [{x.min()}, {x.max()}]")
    return x.astype(np.uint8)
