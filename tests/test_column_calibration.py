"""Column gain / offset calibration (``charz.blocks.cim_column.model_calib``): the fit, the correction on
columns with known errors, the cost, the model and the option on the command line and the ``cim`` backend."""

from __future__ import annotations

import numpy as np
import pytest

from charz.blocks.adc.model import DigitizerModel
from charz.blocks.adc.model_transfer import synthetic_adc_lut
from charz.blocks.cim_column import model_calib as mc
from charz.blocks.cim_column.model import ColumnModel, synthetic_column_lut
from charz.core.errors import ParameterError
from helpers import charz, one_line_error

N = 16
K = np.arange(N + 1)


def test_offset_from_the_zero_level_and_gain_by_least_squares_through_it():
    rng = np.random.default_rng(0)
    kh = rng.integers(0, N + 1, size=(50, N + 1))
    a, b = mc.fit_gain_offset(kh)
    np.testing.assert_array_equal(a, kh[:, 0])
    for c in range(kh.shape[0]):  # brute force: the slope minimizing the squared error through (0, a)
        slopes = np.linspace(-2, 3, 50001)
        sse = (((kh[c, 1:] - a[c])[None, :] - slopes[:, None] * K[1:][None, :]) ** 2).sum(1)
        assert b[c] == pytest.approx(slopes[np.argmin(sse)], abs=1e-4)
    # the least-squares line over every level: numpy's polyfit
    a2, b2 = mc.fit_gain_offset(kh, "gain_offset_lsq")
    for c in range(5):
        slope, icpt = np.polyfit(K, kh[c], 1)
        assert (a2[c], b2[c]) == pytest.approx((icpt, slope))
    with pytest.raises(ParameterError, match="calibration levels"):
        mc.fit_gain_offset(np.zeros(5))
    with pytest.raises(ParameterError, match="must be one of"):
        mc.fit_gain_offset(kh, "per_level")


@pytest.mark.parametrize("method", ["gain_offset", "gain_offset_lsq"])
@pytest.mark.parametrize("gain,offset", [(1.0, 0), (1.25, 2), (1.5, 1), (1.0, 4), (2.0, 3)])
def test_a_column_with_a_pure_gain_and_offset_error_reads_exactly_after_calibration(gain, offset, method):
    kh = np.rint(offset + gain * K)[None, :]  # every level on its own code
    np.testing.assert_array_equal(mc.correct(kh, method)[0], K)


@pytest.mark.parametrize("gain,offset", [(0.8, 0), (0.9, 3), (0.7, 1)])
def test_a_compressed_column_is_within_one_count_after_calibration(gain, offset):
    # levels that share a code cannot be told apart: the correction is at most the rounding off
    kh = np.rint(offset + gain * K)[None, :]
    out = mc.correct(kh)[0]
    assert np.abs(out - K).max() <= 1 < np.abs(kh[0] - K).max()


def test_the_correction_keeps_a_perfect_column_and_a_broken_one():
    kh = np.vstack([K, np.full(N + 1, 7), np.r_[K[:9], np.full(8, 8)]])
    out = mc.correct(kh)
    np.testing.assert_array_equal(out[0], K)  # exact stays exact
    np.testing.assert_array_equal(out[1], kh[1])  # gain 0: left as it reads (dividing would amplify)
    assert out.dtype == np.int64 and out.min() >= 0 and out.max() <= N  # clipped to 0..N
    assert out[2, 0] == 0  # the zero level reads 0 after any correction


def test_cost_counts_levels_repeats_energy_and_the_decode_table():
    e = np.linspace(1e-15, 3e-15, N + 1)
    c = mc.cost(N, 5, e, 40e-15, 2e-9)
    assert c["conversions_per_column"] == (N + 1) * mc.CAL_REPEATS
    assert c["time_s"] == pytest.approx((N + 1) * mc.CAL_REPEATS * 2e-9)
    assert c["energy_per_column_J"] == pytest.approx(mc.CAL_REPEATS * (e.sum() + (N + 1) * 40e-15))
    assert c["decode_table_bits_per_column"] == 32 * 5 and c["method"] == "gain_offset"


def _model(calibration="none", sigma_offset=0.02):
    lut = synthetic_column_lut(n_rows=N, vdd=(0.7,), sigma=0.004, n_samples=200, seed=1)
    m = ColumnModel.from_lut(lut, vdd=0.7, adc_bits=5)
    adc = synthetic_adc_lut("adc_sar", bits=5, vref=(0.2, 0.7), vdd=(0.7,), sigma_offset=sigma_offset,
                            sigma_dnl=0.05, n_samples=200, seed=3)
    dig = DigitizerModel.from_lut(adc, vdd=0.7, mismatch_scale=1.0)
    return m.with_digitizer(dig).with_column_calibration(calibration)


def test_the_model_calibrates_every_chip_and_the_same_chip_is_drawn():
    none, cal = _model("none"), _model("gain_offset")
    errs = {}
    for name, m in (("none", none), ("cal", cal)):
        rng = np.random.default_rng(7)
        curves = m.draw_curves(400, rng)
        kh, bank = m.read_out(curves, rng)
        assert bank is not None and kh.shape == (400, N + 1)
        errs[name] = kh - K
    raw = errs["none"] + K
    np.testing.assert_array_equal(errs["cal"] + K, mc.correct(raw))  # the same chip, corrected
    # a converter offset of about 1 LSB per instance: many columns misread k = 0 before, none after
    assert (errs["none"][:, 0] != 0).mean() > 0.15
    assert (errs["cal"][:, 0] != 0).mean() == 0
    assert np.sqrt((errs["cal"] ** 2).mean()) < 0.6 * np.sqrt((errs["none"] ** 2).mean())
    assert "gain / offset calibration" in cal.describe()["readout"]
    assert cal.describe()["column_calibration"] == "gain_offset"
    assert none.column_calibration_cost(1e-9) is None
    assert cal.column_calibration_cost(1e-9)["levels"] == N + 1
    with pytest.raises(ParameterError, match="column calibration must be one of"):
        none.with_column_calibration("per_level")


def test_eval_reports_the_calibration_and_the_backend_takes_it(tmp_path):
    from charz.network import backends

    m, _ = backends.column_model({"column_calibration": "gain_offset"})
    assert m.column_calibration == "gain_offset"
    with pytest.raises(ParameterError, match="column_calibration"):
        backends.check_options("cim", {"column_calibration": "table"})
    r = charz("eval", "--chips", "2", "--images", "40", "--column-calibration", "gain_offset")
    assert r.returncode == 0, r.stderr
    assert "per column (gain / offset calibration)" in r.stdout
    assert "column calibration" in r.stdout and "17 known levels x 16 conversions" in r.stdout
    bad = charz("eval", "--column-calibration", "table")
    assert bad.returncode != 0 and one_line_error(bad)
