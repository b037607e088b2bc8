"""The fast path of the CiM layer (exact product + screened, grouped corrections + k histogram by input patterns
or packed columns) gives the plain path's integers and histogram exactly, and the memory-lean quantization
helpers give the same numbers as before."""

import numpy as np
import pytest

from charz.blocks.cim_column import model_layer as ml
from charz.blocks.cim_column.model import ColumnModel, synthetic_column_lut
from charz.blocks.cim_column.model_layer import CimBackend, map_layer, map_weights
from charz.network import quant


@pytest.fixture(scope="module")
def noisy_model():
    return ColumnModel.from_lut(synthetic_column_lut(n_rows=16, nonlinearity=0.3, sigma=0.012, n_samples=60, seed=3),
                                mismatch_scale=4.0)


def _both(layer, x, monkeypatch):
    """(y, hist) of the plain and of the fast path."""
    monkeypatch.setattr(ml, "FAST", False)
    plain = layer(x)
    monkeypatch.setattr(ml, "FAST", True)
    layer._fast = None
    return plain, layer(x)


def _reference(layer, x):
    """y and hist straight from the definition: every evaluation's k through its column's transfer table."""
    k = layer.column_k(x).astype(int)  # (T, P*B, C)
    t, _, c = k.shape
    kh = k if layer.kmap is None else layer.kmap[np.arange(t)[:, None, None], np.arange(c)[None, None, :], k]
    b = x.shape[0]
    y = np.einsum("pbso,ps->bo", kh.sum(0).reshape(layer.x_bits, b, 2 * layer.n_slices, layer.out_features),
                  layer.coef)
    return y, np.bincount(k.ravel(), minlength=layer.n_rows + 1)


def _assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def _inputs(rng, b, n_in, x_bits):
    top = (1 << x_bits) - 1
    full = rng.integers(0, top + 1, (b, n_in))
    low = rng.integers(0, 4, (b, n_in))  # every high plane all zero
    sparse = np.where(rng.random((b, n_in)) < 0.7, 0, full)  # ReLU-like: mostly zero
    tile0 = full.copy()
    tile0[:, :16] = 0  # the first tile all zero
    return {"full": full, "low planes": low, "sparse": sparse, "zero tile": tile0, "zeros": np.zeros_like(full),
            "top": np.full_like(full, top)}


@pytest.mark.parametrize("x_bits,w_bits", [(4, 4), (8, 8)])
def test_fast_equals_plain_and_reference_on_crafted_inputs(noisy_model, monkeypatch, x_bits, w_bits):
    rng = np.random.default_rng(0)
    wmax = (1 << (w_bits - 1)) - 1
    for n_in, n_out in [(64, 10), (21, 4), (50, 33)]:
        w = rng.integers(-wmax, wmax + 1, (n_in, n_out))
        layer = map_layer(w, noisy_model, np.random.default_rng(1), w_bits=w_bits, x_bits=x_bits)
        for name, x in _inputs(rng, 37, n_in, x_bits).items():
            plain, fast = _both(layer, x, monkeypatch)
            _assert_same(plain, fast)
            _assert_same(_reference(layer, x), fast)


def test_fast_path_in_many_blocks_and_one_vector(noisy_model, monkeypatch):
    rng = np.random.default_rng(2)
    w = rng.integers(-7, 8, (40, 6))
    layer = map_layer(w, noisy_model, np.random.default_rng(3))
    x = rng.integers(0, 16, (29, 40))
    ref = _reference(layer, x)
    layer.chunk_elements = 700  # several blocks
    _assert_same(ref, layer(x))
    y1, h1 = layer(x[3])
    np.testing.assert_array_equal(y1, ref[0][3])
    np.testing.assert_array_equal(h1, _reference(layer, x[3:4])[1])


@pytest.mark.parametrize("full_rows", [0.0, 0.6, 1.01])
def test_column_with_threshold_zero_reads_zero_rows_wrong(monkeypatch, full_rows):
    """A column whose k = 0 reads back as 1 (threshold 0): zero rows (skipped by the fast path, or looked up with
    every row) get it once."""
    monkeypatch.setattr(ml, "FULL_ROWS", full_rows)
    layer = map_weights(np.random.default_rng(4).integers(-7, 8, (35, 3)), n_rows=16, w_bits=4, x_bits=4)
    t, c, n1 = layer.n_tiles, layer.columns_per_tile, layer.n_rows + 1
    kmap = np.tile(np.arange(n1), (t, c, 1))
    kmap[0, 2, 0] = 1  # tile 0, column 2: k = 0 reads 1
    kmap[1, 5, 0] = 2
    kmap[2, 0, :] = np.minimum(np.arange(n1) + 1, n1 - 1)  # a column wrong at every k
    kmap[1, 7, 3:] = np.maximum(np.arange(3, n1) - 1, 0)  # threshold 3
    layer.set_transfer(kmap)
    x = np.zeros((6, 35), dtype=np.int64)
    x[1, :] = 15
    x[2, 20:] = 1  # tile 0 zero, tiles 1 and 2 not
    x[3, :16] = 8  # only plane 3 of tile 0
    x[4] = np.random.default_rng(5).integers(0, 16, 35)
    plain, fast = _both(layer, x, monkeypatch)
    _assert_same(plain, fast)
    _assert_same(_reference(layer, x), fast)
    assert not np.array_equal(fast[0][0], np.zeros(3))  # the all-zero input reads the threshold-0 columns


@pytest.mark.parametrize("dense", [0.0, 1.0])
def test_large_mismatch_dense_plain_path(monkeypatch, dense):
    """At a large mismatch most evaluations are misread (the plain path gathers every k_hat): same result."""
    lut = synthetic_column_lut(n_rows=16, nonlinearity=0.3, sigma=0.012, n_samples=60, seed=3)
    m = ColumnModel.from_lut(lut, mismatch_scale=30.0)
    rng = np.random.default_rng(6)
    w = rng.integers(-7, 8, (64, 12))
    layer = map_layer(w, m, np.random.default_rng(7))
    x = rng.integers(0, 16, (40, 64))
    monkeypatch.setattr(ml, "DENSE_FRACTION", dense)
    plain, fast = _both(layer, x, monkeypatch)
    _assert_same(plain, fast)
    assert layer._fast["risky_columns"] > 0.5 * layer.n_tiles * layer.columns_per_tile


@pytest.mark.parametrize("mode", ["pattern", "direct"])
@pytest.mark.parametrize("n_rows", [1, 2, 5, 8, 16])
def test_histogram_paths_agree(monkeypatch, mode, n_rows):
    monkeypatch.setattr(ml, "_NS_PATTERN_PASS", 1e-12 if mode == "pattern" else 1e12)
    rng = np.random.default_rng(8)
    m = ColumnModel.from_lut(synthetic_column_lut(n_rows=n_rows, nonlinearity=0.3, sigma=0.02, n_samples=40, seed=1),
                             mismatch_scale=3.0)
    w = rng.integers(-7, 8, (3 * n_rows + 1, 5))
    layer = map_layer(w, m, np.random.default_rng(9))
    for x in _inputs(rng, 23, w.shape[0], 4).values():
        _assert_same(_reference(layer, x), layer(x))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12])
def test_superset_sum_histogram_is_the_pair_count(n):
    """The subset-sum identity behind the pattern path, on its own: hist[k] = #(row, column) pairs with
    popcount(a & l) = k, including all-zero and all-one patterns and heavy repeats."""
    rng = np.random.default_rng(n)
    rows = np.concatenate([rng.integers(0, 1 << n, 300), [0, (1 << n) - 1] * 5])
    cols = np.concatenate([rng.integers(0, 1 << n, 40), [(1 << n) - 1] * 3, [0]])
    pop = sum(((rows[:, None] & cols[None, :]) >> i) & 1 for i in range(n))
    want = np.bincount(pop.ravel(), minlength=n + 1)
    layer = ml.CiMLayer.__new__(ml.CiMLayer)
    layer.n_rows = n
    layer._fast = {"pattern": cols[None, :]}
    got = layer._hist_patterns({0: np.bincount(rows, minlength=1 << n)})
    assert got.tolist() == want.tolist() and got.sum() == rows.size * cols.size


def test_histogram_without_pattern_path_and_group_sizes(noisy_model, monkeypatch):
    rng = np.random.default_rng(10)
    w = rng.integers(-127, 128, (70, 9))
    x = rng.integers(0, 256, (31, 70))
    ref = None
    for rows_max, group in [(0, 1), (16, 1), (16, 4096), (0, 64)]:
        monkeypatch.setattr(ml, "PATTERN_MAX_ROWS", rows_max)
        monkeypatch.setattr(ml, "GROUP_TABLE", group)
        layer = map_layer(w, noisy_model, np.random.default_rng(11), w_bits=8, x_bits=8)
        got = layer(x)
        ref = ref or _reference(layer, x)
        _assert_same(ref, got)


def test_ideal_columns_fast_path_and_backend_count():
    rng = np.random.default_rng(12)
    w = rng.integers(-7, 8, (45, 7))
    x = rng.integers(0, 16, (19, 45))
    layer = map_weights(w, n_rows=16, w_bits=4, x_bits=4)
    y, hist = layer(x)
    np.testing.assert_array_equal(y, x @ w)
    _assert_same(_reference(layer, x), (y, hist))
    np.testing.assert_array_equal(layer(x, return_hist=False), x @ w)
    b = CimBackend(None, n_rows=16)
    b.program(w)
    yb, cost = b.matmul(x)
    np.testing.assert_array_equal(yb, x @ w)
    assert cost.conversions == hist.sum() == 19 * layer.evaluations_per_input and cost.energy == {}


def test_set_transfer_rebuilds_fast_tables(noisy_model):
    rng = np.random.default_rng(13)
    w = rng.integers(-7, 8, (32, 4))
    x = rng.integers(0, 16, (11, 32))
    layer = map_layer(w, noisy_model, np.random.default_rng(14))
    layer(x)
    layer.set_transfer(None)
    np.testing.assert_array_equal(layer(x)[0], x @ w)


# ---- quantization helpers: same numbers with less memory ----------------------------------------------------
def _reference_observer(chunks, p, max_values):
    """The original RangeObserver sample: float64 values and a key per value drawn at every update."""
    rng = np.random.default_rng(0)
    vals, keys = np.zeros(0), np.zeros(0)
    for v in chunks:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        vals = np.concatenate([vals, v])
        keys = np.concatenate([keys, rng.random(v.size)])
        if vals.size > max_values:
            keep = np.argpartition(keys, max_values - 1)[:max_values]
            vals, keys = vals[keep], keys[keep]
    lo = np.min(np.concatenate([np.asarray(c, dtype=np.float64).ravel() for c in chunks]))
    if lo < 0:
        a = float(np.percentile(np.abs(vals), p))
        return -a, a
    return 0.0, float(np.percentile(vals, p))


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_range_observer_sample_unchanged(signed, dtype):
    rng = np.random.default_rng(15)
    chunks = [rng.standard_normal(s).astype(dtype) for s in (300, 500, 900, 40, 1200)]
    if not signed:
        chunks = [np.abs(c) for c in chunks]
    chunks[1] = chunks[1].reshape(20, 25).T  # a transposed view, as a Conv's im2col rows
    for max_values in (100, 1000, 2000, 10_000):
        o = quant.RangeObserver("percentile", 99.0, max_values=max_values)
        for c in chunks:
            o.update(c)
        assert o.range() == _reference_observer(chunks, 99.0, max_values)
        assert o.kept == min(max_values, sum(c.size for c in chunks))


def test_quantize_unchanged():
    rng = np.random.default_rng(16)
    x = (rng.standard_normal((50, 30)) * 3).astype(np.float32).T  # a non-contiguous float32 view
    for bits, signed, scale in [(8, False, 0.011), (4, True, 0.3), (8, True, np.linspace(0.01, 0.1, 50))]:
        ref = np.clip(np.rint(np.asarray(x, dtype=np.float64) / scale), -quant.qmax(bits, signed) if signed else 0,
                      quant.qmax(bits, signed)).astype(np.int64)
        got = quant.quantize(x, scale, bits, signed)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, ref)
    before = x.copy()
    quant.quantize(x, 0.5, 8, True)
    np.testing.assert_array_equal(x, before)  # the input is not modified


@pytest.mark.parametrize("full_rows", [0.0, 0.5, 1.01])
def test_gathered_or_all_rows_corrections(noisy_model, monkeypatch, full_rows):
    """Corrections on the gathered candidate rows or on all rows (the others read zeros): the same."""
    monkeypatch.setattr(ml, "FULL_ROWS", full_rows)
    rng = np.random.default_rng(17)
    w = rng.integers(-127, 128, (48, 8))
    layer = map_layer(w, noisy_model, np.random.default_rng(18), w_bits=8, x_bits=8)
    for x in _inputs(rng, 25, 48, 8).values():
        _assert_same(_reference(layer, x), layer(x))
