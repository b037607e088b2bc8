"""Per-column threshold trim of the WHT latches (:mod:`charz.blocks.wht.model_trim`): the calibration a chip runs
with known planes, checked against a brute-force reference on synthetic LUTs; its energy, cost and errors; the
command line and the engine's ``wht`` backend options."""

from __future__ import annotations

import numpy as np
import pytest

from charz.blocks.comparator.model_trim import TrimDac, synthetic_trim_lut
from charz.blocks.wht import model as bw, model_lut as bwl, model_trim as bwt
from charz.core.errors import LUTError, ParameterError
from charz.network.wht import evaluate_wht, format_wht, load_shipped_wht

from helpers import charz, one_line_error


def _model(**kw):
    lut = bwl.synthetic_wht_lut(vdd=(0.8,), thr_pos_sigma=0.03, thr_neg_sigma=0.02, cell_sigma=0.004, **kw)
    return lut, bw.WhtModel.from_lut(lut, vdd=0.8)


def _dac(step=6e-3, sigma_rel=0.1, bits=4, energy=0.05e-15):
    return TrimDac.from_lut(synthetic_trim_lut(bits=bits, step=step, sigma_rel=sigma_rel, n_samples=40, vdd=(0.8,),
                                               energy=energy), vdd=0.8)


def test_calibration_is_the_middle_separating_code_and_leaves_the_chip_alone():
    _, m = _model()
    dac = _dac()
    plain = m.draw(6, np.random.default_rng(3))
    chip = m.with_trim(dac).draw(6, np.random.default_rng(3))
    # the chip's own mismatch is drawn first: cells and column terms are the same with and without trim
    np.testing.assert_array_equal(plain.hp, chip.hp)
    np.testing.assert_array_equal(plain.hn, chip.hn)
    # brute force: redraw the trim instances as calibrate_chip does, then sweep every code per latch
    rng = np.random.default_rng(3)
    m.draw(6, rng)
    dv = m.dv
    for name in ("thr_pos", "thr_neg"):
        curves = dac.curves(6 * 16, rng).reshape(6, 16, -1)
        th = getattr(plain, name)
        for t in range(6):
            for j in range(16):
                plus = dv[1, 0] + plain.hp[t, 0, j]  # Sylvester: row 0 is the all-ones row
                minus = dv[0, 1] - plain.hn[t, 0, j]
                lo, hi = (dv[0, 0], plus) if name == "thr_pos" else (minus, dv[0, 0])
                ok = [c for c in range(dac.codes.size) if lo <= th[t, j] + curves[t, j, c] < hi]
                assert ok, "the synthetic trim covers every threshold"
                want = th[t, j] + curves[t, j, ok[(len(ok) - 1) // 2]]
                assert getattr(chip, name)[t, j] == pytest.approx(want, abs=1e-6)
    rep = chip.calibration
    for name in ("thr_pos", "thr_neg"):
        r = rep[name]
        assert r["latches"] == 96 and r["unreachable"] == 0 and r["outside_window_after"] == 0
        assert r["outside_window_before"] > 10  # 30 / 20 mV sigmas against a 33 mV window
        assert r["error_rms_after_V"] < 0.25 * r["error_rms_before_V"]
        assert r["error_max_after_V"] < 0.5 * r["window_V"]


def test_middle_code_rule_and_what_a_chip_does_when_no_code_fits():
    curve = np.array([0.02, 0.01, 0.0, -0.01, -0.02])  # threshold falls as the code rises
    valid = np.array([[0, 1, 1, 1, 0], [0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool)
    too_high = np.array([[1, 0, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 1, 0, 0, 0]], bool)
    k, ok = bwt.pick_codes(valid, too_high, curve)
    # middle valid code; lower middle of two; every code too high -> lowest threshold code; every code too low
    # -> highest threshold code; a jump over the window -> the last too-low code in threshold order
    assert k.tolist() == [2, 3, 4, 0, 2] and ok.tolist() == [True, True, False, False, False]


def test_a_trim_too_small_is_counted_and_sigma_zero_centres_exactly():
    _, m = _model()
    chip = m.with_trim(_dac(step=0.2e-3)).draw(8, np.random.default_rng(0))
    assert chip.calibration["thr_pos"]["unreachable"] > 0
    assert chip.calibration["thr_pos"]["outside_window_after"] > 0
    # nominal chip (scale 0) with an ideal uniform trim: every threshold within half a step of its centre
    m0 = m.with_scale(0.0).with_trim(_dac(step=1e-3, sigma_rel=0.0))
    c0 = m0.draw(2, np.random.default_rng(0))
    for name in ("thr_pos", "thr_neg"):
        assert c0.calibration[name]["error_max_after_V"] <= 0.5e-3 + 1e-9


def test_trim_energy_and_cost_are_counted():
    _, m = _model()
    e = 0.07e-15
    mt = m.with_trim(_dac(energy=e))
    x = np.random.default_rng(1).integers(-127, 128, (20, 64))
    y0, st0 = bw.WhtLayer(64, model=m, seed=2)(x)
    y1, st1 = bw.WhtLayer(64, model=mt, seed=2)(x)
    assert st1.energy - st0.energy == pytest.approx(2 * e * st1.evaluated, rel=1e-9)
    assert bwt.trim_energy_per_column_plane(mt, "sign") == e
    cost = bwt.calibration_cost(mt, "ternary", tiles=4)
    assert cost["cycles"] == 31 * 2 * 16 * 2
    assert cost["time_s"] == pytest.approx(cost["cycles"] * m.conditions["cycle_s"])
    en = np.nan_to_num(m.energy)
    want = 31 * 16 * (2 * en[0, 0] + en[1, 0] + en[0, 1]) * 16 * 4
    assert cost["energy_J"] == pytest.approx(want, rel=1e-12)
    assert cost["area_units_per_column"] == pytest.approx(2 * mt.trim.area_units())
    with pytest.raises(ParameterError, match="TrimDac"):
        m.with_trim("lut/ptm16hp/comparator_trim")


def test_network_recovers_with_the_trim_and_reports_it():
    lut, m = _model()
    net = load_shipped_wht()
    t = synthetic_trim_lut(bits=4, step=6e-3, sigma_rel=0.1, n_samples=40, vdd=(0.8,))
    kw = dict(chips=2, n_images=150, seed=1, mismatch_scale=1.0)
    off = evaluate_wht(lut, net, **kw)
    on = evaluate_wht(lut, net, latch_calibration="trim", trim_lut=t, **kw)
    assert off["latch_calibration"] is None
    cal = on["latch_calibration"]
    assert cal["latches"]["thr_pos"]["latches"] == 2 * 2 * 4 * 16  # chips x transforms x tiles x columns
    assert cal["latches"]["thr_pos"]["outside_window_after"] < cal["latches"]["thr_pos"]["outside_window_before"]
    assert on["cim_accuracy_mean"] > off["cim_accuracy_mean"]
    assert on["energy_per_inference_no_et_J"] > off["energy_per_inference_no_et_J"]
    text = format_wht(on)
    assert "latch trim: 4-bit DAC per latch" in text and "upper latch: error to the window centre" in text
    with pytest.raises(LUTError, match="no vdd = 0.8"):
        evaluate_wht(lut, net, latch_calibration="trim", trim_lut=synthetic_trim_lut(vdd=(0.7,), n_samples=8),
                     **kw)
    with pytest.raises(LUTError, match="no Monte Carlo"):
        evaluate_wht(lut, net, latch_calibration="trim", trim_lut=synthetic_trim_lut(vdd=(0.8,)), **kw)
    with pytest.raises(ParameterError, match="'trim' only"):
        evaluate_wht(lut, net, trim_lut=t, **kw)


def test_engine_backend_options():
    from charz.network.backends import make_backend

    with pytest.raises(ParameterError, match="choose one of none, trim"):
        make_backend("wht", {"calibration": "offset", "lut": "lut/ptm16hp/wht16"}, chip_seed=0)
    with pytest.raises(ParameterError, match="latch calibration 'trim' only"):
        make_backend("wht", {"trim_lut": "lut/ptm16hp/comparator_trim", "lut": "lut/ptm16hp/wht16"}, chip_seed=0)
    with pytest.raises(ParameterError, match="ideal crossbar"):
        make_backend("wht", {"crossbar": "ideal", "calibration": "trim"}, chip_seed=0)


def test_command_line_errors():
    err = one_line_error(charz("eval", "--network", "wht", "--trim-lut", "lut/ptm16hp/comparator_trim"))
    assert "--trim-lut needs --latch-calibration trim" in err
    err = one_line_error(charz("eval", "--network", "mlp", "--latch-calibration", "trim"))
    assert "--latch-calibration" in err
