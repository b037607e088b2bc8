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
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np

from ...core.errors import ParameterError
from ...behavior.interfaces import Cost
from .model import ColumnModel, _check_int

DENSE_FRACTION = 0.25
"""Above this fraction of possibly misread evaluations, k_hat is gathered for every evaluation."""


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
    """Column evaluations processed per block (a cache-sized batch of images; no effect on results)."""
    adc_bank: object = None
    """The chip's converter instances (:class:`charz.blocks.adc.model.ConverterBank`) when the
    read-out has per-instance transfer curves; None for the ideal quantizer."""
    _ws: "_Workspace" = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        self._ws = _Workspace()
        self._set_errors()

    def _set_errors(self):
        # The chain k -> k_hat is k + err[t, c, k]; err is zero below a per-column threshold k, so only
        # evaluations with k >= thr need a correction (few, unless the mismatch is large).
        t, c, n1 = self.n_tiles, self.columns_per_tile, self.n_rows + 1
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
        b = x.shape[0]
        per_image = self.x_bits * self.n_tiles * self.columns_per_tile
        step = max(1, self.chunk_elements // max(1, per_image))
        y = np.empty((b, self.out_features), dtype=np.int64)
        hist = np.zeros(self.n_rows + 1, dtype=np.int64) if return_hist else None
        with _one_blas_thread():  # k-matmuls are short (inner size N) and memory bound
            for i in range(0, b, step):
                y[i : i + step] = self._block(x[i : i + step], hist)
        if squeeze:
            y = y[0]
        return (y, hist) if return_hist else y

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
        y, hist = self.layer(x, return_hist=True)
        b = 1 if np.ndim(x) == 1 else int(np.shape(x)[0])
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


class _Workspace:
    """Reusable flat work buffers (one per name), handed out as contiguous views of the needed shape.
    Not thread-safe: one CiMLayer is called from one thread at a time."""

    def __init__(self):
        self._b: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple, dtype) -> np.ndarray:
        n = int(np.prod(shape))
        dt = np.dtype(dtype)
        buf = self._b.get(name)
        if buf is None or buf.size < n or buf.dtype != dt:
            buf = self._b[name] = np.empty(max(n, 1), dtype=dt)
        return buf[:n].reshape(shape)


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


def _as_int(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ParameterError(f"{name} must be integers, got dtype {arr.dtype}")


def _check_x(x_int, x_bits: int, n_in: int) -> np.ndarray:
    x = _as_int(x_int, "activations")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ParameterError(f"activations must have shape (batch, {n_in}), got {np.shape(x_int)}")
    if x.size and (x.min() < 0 or x.max() >= (1 << x_bits)):
        raise ParameterError(f"activations must be unsigned {x_bits}-bit integers in [0, {(1 << x_bits) - 1}], got [{x.min()}, {x.max()}]")
    return x.astype(np.uint8)
