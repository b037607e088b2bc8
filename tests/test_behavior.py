"""Behavioral bit-plane CiM model (charz.blocks.cim_column.model, model_layer) on synthetic column LUTs."""

import numpy as np
import pytest

from charz.blocks.cim_column import model_layer as cim
from charz.blocks.cim_column.model import ColumnModel, synthetic_column_lut
from charz.blocks.cim_column.model_layer import bitserial_matmul, cim_matmul, map_layer, map_weights
from charz.behavior.readout import IdealQuantizer
from charz.core.errors import LUTError, ParameterError
from charz.core.lut import LUT, Axis


@pytest.fixture(scope="module")
def clean_lut():
    return synthetic_column_lut(n_rows=16, nonlinearity=0.2)


@pytest.fixture(scope="module")
def noisy_lut():
    return synthetic_column_lut(n_rows=16, nonlinearity=0.3, sigma=0.012, n_samples=60, seed=3)


SHAPES = [  # (batch, in, out, n_rows): exact tiles, padded last tile, fewer rows than one tile, wide
    (7, 64, 10, 16),
    (5, 17, 3, 16),
    (1, 3, 1, 16),
    (33, 100, 25, 8),
    (4, 200, 12, 32),
]


@pytest.mark.parametrize("b,n_in,n_out,n_rows", SHAPES)
@pytest.mark.parametrize("x_bits,w_bits", [(4, 4), (2, 3), (8, 2), (1, 5)])
def test_noiseless_equals_exact_integer_product(b, n_in, n_out, n_rows, x_bits, w_bits):
    lut = synthetic_column_lut(n_rows=n_rows, nonlinearity=0.25)
    model = ColumnModel.from_lut(lut, mismatch_scale=0.0)
    assert model.is_exact()
    rng = np.random.default_rng(n_in * 31 + n_out)
    wmax = 2 ** (w_bits - 1) - 1
    x = rng.integers(0, 2**x_bits, (b, n_in))
    w = rng.integers(-wmax, wmax + 1, (n_in, n_out))
    y, hist = cim_matmul(x, w, model, x_bits=x_bits, w_bits=w_bits, return_hist=True)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, x @ w)
    np.testing.assert_array_equal(bitserial_matmul(x, w, n_rows, x_bits=x_bits, w_bits=w_bits), x @ w)
    tiles = -(-n_in // n_rows)
    assert hist.sum() == b * x_bits * tiles * 2 * (w_bits - 1) * n_out


def test_noiseless_exact_with_given_bits_and_extreme_values(clean_lut):
    model = ColumnModel.from_lut(clean_lut, adc_bits=8, mismatch_scale=0)
    x = np.full((3, 40), 15)
    w = np.full((40, 4), -7)
    w[:, 1] = 7
    w[:, 2] = 0
    np.testing.assert_array_equal(cim_matmul(x, w, model), x @ w)
    np.testing.assert_array_equal(cim_matmul(x[0], w, model), x[0] @ w)  # one vector


def test_too_few_quantizer_bits_are_not_exact(clean_lut):
    model = ColumnModel.from_lut(clean_lut, adc_bits=2, mismatch_scale=0)
    assert not model.is_exact()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 16, (20, 64))
    w = rng.integers(-7, 8, (64, 8))
    assert not np.array_equal(cim_matmul(x, w, model), x @ w)


def test_default_adc_bits_is_smallest_exact(clean_lut):
    model = ColumnModel.from_lut(clean_lut, mismatch_scale=0)
    assert model.is_exact()
    assert not ColumnModel.from_lut(clean_lut, adc_bits=model.adc_bits - 1, mismatch_scale=0).is_exact()
    assert "ideal quantizer" in model.describe()["readout"]


def test_mismatch_draws_reproducible_per_seed_and_differ_across_seeds(noisy_lut):
    model = ColumnModel.from_lut(noisy_lut, mismatch_scale=1.0)
    a = model.draw_curves(50, np.random.default_rng(7))
    b = model.draw_curves(50, np.random.default_rng(7))
    c = model.draw_curves(50, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 16, (64, 64))
    w = rng.integers(-7, 8, (64, 16))
    model4 = ColumnModel.from_lut(noisy_lut, mismatch_scale=4.0)
    y1, y2, y3 = (cim_matmul(x, w, model4, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(y1, y3)


def test_mismatch_kept_for_the_whole_run(noisy_lut):
    """A mapped layer (one chip) gives the same answer every call: mismatch is drawn once."""
    model = ColumnModel.from_lut(noisy_lut, mismatch_scale=4.0)
    layer = map_layer(np.random.default_rng(0).integers(-7, 8, (64, 16)), model, np.random.default_rng(2))
    x = np.random.default_rng(3).integers(0, 16, (40, 64))
    y_all = layer(x, return_hist=False)
    y_parts = np.concatenate([layer(x[:13], return_hist=False), layer(x[13:], return_hist=False)])
    np.testing.assert_array_equal(y_all, y_parts)


def test_mismatch_scale_zero_equals_nominal(noisy_lut):
    m0 = ColumnModel.from_lut(noisy_lut, mismatch_scale=0.0)
    curves = m0.draw_curves(20, np.random.default_rng(0))
    np.testing.assert_array_equal(curves, np.broadcast_to(m0.v_nom, curves.shape))
    rng = np.random.default_rng(4)
    x = rng.integers(0, 16, (30, 48))
    w = rng.integers(-7, 8, (48, 9))
    np.testing.assert_array_equal(cim_matmul(x, w, m0, seed=11), x @ w)


def test_sigma_scales_linearly_and_covariance_matches_samples(noisy_lut):
    m1 = ColumnModel.from_lut(noisy_lut, mismatch_scale=1.0)
    m3 = ColumnModel.from_lut(noisy_lut, mismatch_scale=3.0)
    s = noisy_lut.sample_slice("vbl", vdd=0.7, temp=27.0, t_pulse=1e-9)
    np.testing.assert_allclose(m1.sigma, s.std(axis=1, ddof=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m3.sigma, 3 * m1.sigma)
    # same generator state -> same chip, deviations 3x larger (common random numbers)
    d1 = m1.draw_curves(10, np.random.default_rng(0)) - m1.v_nom
    d3 = m3.draw_curves(10, np.random.default_rng(0)) - m3.v_nom
    np.testing.assert_allclose(d3, 3 * d1, atol=1e-12)
    # the population at scale 1 has the Monte Carlo mean (nominal + systematic shift) and covariance
    big = m1.draw_curves(20000, np.random.default_rng(2))
    np.testing.assert_allclose(big.mean(axis=0), s.mean(axis=1), atol=4 * m1.sigma.max() / np.sqrt(20000))
    np.testing.assert_allclose(big.std(axis=0), m1.sigma, rtol=0.05, atol=1e-9)
    # whole curves: drawn deviations keep the strong correlation across k of the samples
    big = m1.draw_curves(4000, np.random.default_rng(1)) - m1.v_nom
    c_draw = np.corrcoef(big[:, 8], big[:, 16])[0, 1]
    c_mc = np.corrcoef(s[8], s[16])[0, 1]
    assert c_mc > 0.6 and abs(c_draw - c_mc) < 0.08


def test_resample_source_picks_real_curves(noisy_lut):
    m = ColumnModel.from_lut(noisy_lut, mismatch_scale=1.0, mismatch_source="resample")
    s = noisy_lut.sample_slice("vbl", vdd=0.7, temp=27.0, t_pulse=1e-9).T
    d = m.draw_curves(5, np.random.default_rng(0)) - m.v_nom
    dev = s - m.v_nom  # real instances, mean shift included
    for row in d:
        assert np.min(np.abs(dev - row).max(axis=1)) < 1e-12


def test_larger_mismatch_gives_more_errors(noisy_lut):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 16, (100, 64))
    w = rng.integers(-7, 8, (64, 16))
    exact = x @ w
    err = []
    for scale in (0.0, 1.0, 4.0, 8.0):
        m = ColumnModel.from_lut(noisy_lut, mismatch_scale=scale)
        err.append(np.mean([np.mean(np.abs(cim_matmul(x, w, m, seed=s) - exact)) for s in range(3)]))
    assert err[0] == 0
    assert err[1] <= err[2] <= err[3] and err[3] > 0


@pytest.mark.parametrize("dense", [0.0, 1.0])
def test_sparse_and_dense_readback_paths_agree_with_reference(noisy_lut, monkeypatch, dense):
    monkeypatch.setattr(cim, "DENSE_FRACTION", dense)
    m = ColumnModel.from_lut(noisy_lut, mismatch_scale=6.0)
    rng = np.random.default_rng(9)
    for b, n_in, n_out in [(50, 64, 10), (3, 21, 4)]:
        x = rng.integers(0, 16, (b, n_in))
        w = rng.integers(-7, 8, (n_in, n_out))
        layer = map_layer(w, m, np.random.default_rng(1))
        layer.chunk_elements = 700  # several blocks
        y, hist = layer(x)
        k = layer.column_k(x).astype(int)  # (T, P*B, C)
        t, _, c = k.shape
        kh = layer.kmap[np.arange(t)[:, None, None], np.arange(c)[None, None, :], k]
        ref = np.einsum("pbso,ps->bo", kh.sum(0).reshape(4, b, 6, n_out), layer.coef)
        np.testing.assert_array_equal(y, ref)
        np.testing.assert_array_equal(hist, np.bincount(k.ravel(), minlength=17))


def test_histogram_hand_count():
    """2 rows, 1 tile, 1 output, 1-bit input, 2-bit weights (one magnitude slice): count by hand."""
    lut = synthetic_column_lut(n_rows=2)
    m = ColumnModel.from_lut(lut, mismatch_scale=0)
    x = np.array([[1, 1], [1, 0]])
    w = np.array([[1], [-1]])  # pos column holds [1, 0], neg column holds [0, 1]
    y, hist = cim_matmul(x, w, m, x_bits=1, w_bits=2, return_hist=True)
    np.testing.assert_array_equal(y, [[0], [1]])
    # image 0: pos k=1, neg k=1; image 1: pos k=1, neg k=0
    np.testing.assert_array_equal(hist, [1, 3, 0])


def test_weight_mapping_layout():
    layer = map_weights(np.array([[3], [-2], [0]]), n_rows=2, w_bits=3, x_bits=2)
    assert layer.n_tiles == 2 and layer.columns_per_tile == 4  # 2 signs x 2 slices x 1 output
    # tile 0 rows: w=3 -> pos bits (1,1); w=-2 -> neg bits (0,1); columns ordered (sign, slice)
    np.testing.assert_array_equal(layer.wplanes[0], [[1, 1, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(layer.wplanes[1], [[0, 0, 0, 0], [0, 0, 0, 0]])  # w=0 and a zero pad row
    np.testing.assert_array_equal(layer.coef, [[1, 2, -1, -2], [2, 4, -2, -4]])
    assert layer.macs == 3 and layer.evaluations_per_input == 2 * 2 * 4


def test_ideal_quantizer():
    q = IdealQuantizer(2, 0.0, 1.0)
    np.testing.assert_array_equal(q.codes([-1, 0, 0.24, 0.26, 0.99, 1.0, 2]), [0, 0, 0, 1, 3, 3, 3])
    np.testing.assert_allclose(q.centers(), [0.125, 0.375, 0.625, 0.875])


def test_picosecond_axes_interpolate():
    """t_pulse lives at ~1e-10 s: grid matching must be relative to the axis, not absolute."""
    lut = synthetic_column_lut(t_pulse=(50e-12, 100e-12, 200e-12))
    for i in range(3):
        lut.tables["vbl"][:, :, i, :] += 0.01 * i
    for tp, top in ((50e-12, 0.70), (100e-12, 0.71), (150e-12, 0.715), (200e-12, 0.72)):
        m = ColumnModel.from_lut(lut, vdd=0.7, t_pulse=tp, mismatch_scale=0)
        assert m.v_nom[0] == pytest.approx(top)
    with pytest.raises(LUTError, match="outside"):
        ColumnModel.from_lut(lut, t_pulse=250e-12, mismatch_scale=0)


def test_operating_point_defaults_and_interpolation():
    lut = synthetic_column_lut(vdd=(0.6, 0.8), t_pulse=(0.5e-9, 1e-9, 2e-9), temp=(0.0, 85.0))
    m = ColumnModel.from_lut(lut, mismatch_scale=0)
    assert m.coords["vdd"] == lut.provenance["vdd_nom"] == 0.8  # the PDK nominal VDD when inside the grid
    assert m.coords["temp"] == 27.0
    assert m.coords["t_pulse"] in (0.5e-9, 1e-9, 2e-9)
    np.testing.assert_allclose(m.v_nom[0], 0.8)
    m2 = ColumnModel.from_lut(lut, vdd=0.65, temp=10.0, t_pulse=1e-9, mismatch_scale=0)
    np.testing.assert_allclose(m2.v_nom[0], 0.65)
    assert m2.choices["vdd"] == "given"


def test_bad_inputs(clean_lut, noisy_lut):
    with pytest.raises(ParameterError, match="adc_bits"):
        ColumnModel.from_lut(clean_lut, adc_bits=0)
    with pytest.raises(ParameterError, match="adc_bits"):
        ColumnModel.from_lut(clean_lut, adc_bits=2.5)
    with pytest.raises(LUTError, match="outside"):
        ColumnModel.from_lut(clean_lut, vdd=1.2)
    with pytest.raises(LUTError, match="not on the"):
        ColumnModel.from_lut(clean_lut, t_pulse=2e-9)
    with pytest.raises(ParameterError, match="mismatch_scale"):
        ColumnModel.from_lut(noisy_lut, mismatch_scale=-1)
    with pytest.raises(LUTError, match="no Monte Carlo"):
        ColumnModel.from_lut(clean_lut, mismatch_scale=1.0)  # nominal-only LUT
    other = LUT(block="bitcell", axes=(Axis("vdd", "V", np.array([0.7])),), tables={"snm": np.array([0.1])},
                units={"snm": "V"})
    with pytest.raises(LUTError, match="cim_column"):
        ColumnModel.from_lut(other)
    m = ColumnModel.from_lut(clean_lut, mismatch_scale=0)
    with pytest.raises(ParameterError, match="weights must lie"):
        cim_matmul(np.zeros((1, 4), int), np.full((4, 2), 8), m)
    with pytest.raises(ParameterError, match="unsigned 4-bit"):
        cim_matmul(np.full((1, 4), 16), np.zeros((4, 2), int), m)
    with pytest.raises(ParameterError, match="shape"):
        cim_matmul(np.zeros((1, 5), int), np.zeros((4, 2), int), m)
    with pytest.raises(ParameterError, match="integers"):
        cim_matmul(np.full((1, 4), 0.5), np.zeros((4, 2), int), m)


def test_failed_monte_carlo_runs_are_dropped_or_refused(noisy_lut):
    lut = synthetic_column_lut(n_rows=8, sigma=0.01, n_samples=6, seed=1)
    lut.samples["vbl"][..., :2] = np.nan  # two failed instances: dropped
    m = ColumnModel.from_lut(lut, mismatch_scale=1.0)
    assert m.mc_samples == 4
    lut.samples["vbl"][..., 2:5] = np.nan  # one usable curve left: refused, not silently nominal
    lut.tables["vbl_sigma"][:] = 0.0
    with pytest.raises(LUTError, match="usable Monte Carlo"):
        ColumnModel.from_lut(lut, mismatch_scale=1.0)
    assert ColumnModel.from_lut(lut, mismatch_scale=0).is_exact()
