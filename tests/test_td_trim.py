"""Per-line bias trim of the TD-MAC delay lines (:mod:`charz.blocks.td_mac.model_trim`): the recipe's bias-trim
decks, the joint instances, the DLL-like span lock against a brute-force reference, its cost, and the options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from charz.blocks.td_mac.model import TdMacModel
from charz.blocks.td_mac.model_circuit import synthetic_circuit
from charz.blocks.td_mac.model_trim import BiasTrim, synthetic_bias_trim
from charz.blocks.td_mac.recipe_delay import _bias_ratios
from charz.core.errors import ParameterError

from helpers import charz, one_line_error


def _circuit(**kw):
    return dataclasses.replace(synthetic_circuit(), bias_trim=synthetic_bias_trim(**kw))


def test_none_and_bias_see_the_same_lines_and_the_lock_is_the_nearest_span():
    c = _circuit()
    off = TdMacModel(circuit=c, seed=5)
    on = TdMacModel(circuit=c, seed=5, line_calibration="bias", bias_bits=4)
    bt = c.bias_trim
    # the same joint instances: at the default ratio they are the uncalibrated lines
    inst = bt.draw(off.line_delay.reshape(-1, 16).shape[0], np.random.default_rng([5, 1]), 1.0)
    np.testing.assert_allclose(off.line_delay.reshape(-1, 16), inst[:, bt.default])
    # brute force: every DAC level, linear in the ratio between characterized ratios, nearest span to 15 tau
    lv = np.linspace(0.75, 0.95, 16)
    target = c.delay_mean[-1] - c.delay_mean[0]
    got = on.line_delay.reshape(-1, 16)
    for n in range(inst.shape[0]):
        curves = np.array([[np.interp(r, bt.ratios, inst[n, :, k]) for k in range(16)] for r in lv])
        span = curves[:, -1] - curves[:, 0]
        np.testing.assert_allclose(got[n], curves[np.argmin(np.abs(span - target))], atol=1e-12)
    rep = on.line_calibration_report
    assert rep["after"]["span_rms_tau"] < 0.3 * rep["before"]["span_rms_tau"]
    assert rep["after"]["offset_rms_tau"] == pytest.approx(rep["before"]["offset_rms_tau"], rel=1e-9)  # code 0 stays
    assert rep["calibration_cycles_per_engine"] == 2 * 17 * 4 * 16
    assert rep["calibration_time_s"] == pytest.approx(rep["calibration_cycles_per_engine"] * bt.cycle_s)
    assert rep["area_units_per_line"] == 15 + 4 * 24
    assert off.line_calibration_report["before"] == off.line_calibration_report["after"]


def test_pure_gain_mismatch_is_locked_to_the_dac_step():
    # no offset, only gain: after the lock every span is within half a DAC step of 15 tau
    c = _circuit(offset_sigma=0.0, gain_sigma=0.05)
    m = TdMacModel(circuit=c, seed=1, line_calibration="bias", bias_bits=6)
    span = m.line_delay[..., -1] - m.line_delay[..., 0]
    step = 15 * 2.0 * (0.2 / 63)  # d(span)/d(ratio) x ratio step
    assert np.max(np.abs(span - 15)) <= 0.5 * step * 1.1 + 1e-9
    # energy follows the chosen biases (synthetic: 1 + 0.1 (r - 0.85))
    assert m.line_energy_factor != 1.0 and abs(m.line_energy_factor - 1) < 0.02


def test_options_are_checked():
    with pytest.raises(ParameterError, match="--bias-trim"):
        TdMacModel(circuit=synthetic_circuit(), line_calibration="bias")
    with pytest.raises(ParameterError, match="line_calibration"):
        TdMacModel(circuit=_circuit(), line_calibration="dll")
    with pytest.raises(ParameterError, match="bias_bits"):
        TdMacModel(circuit=_circuit(), line_calibration="bias", bias_bits=0)
    assert _bias_ratios([0.9, 0.8, 0.85], {}) == (0.8, 0.85, 0.9)
    for bad, why in (([0.85], "at least two"), ([0.4, 0.85], "in \\[0.5, 1\\]"), ([0.8, 0.8], "distinct")):
        with pytest.raises(ParameterError, match=why):
            _bias_ratios(bad, {})
    with pytest.raises(ParameterError, match="leave vbn"):
        _bias_ratios([0.8, 0.9], {"vbn": 0.6})


def test_bias_trim_reads_the_lut_arrays():
    from charz.core.lut import LUT, Axis, Kind

    codes = np.arange(4.0)
    ratios = np.array([0.8, 0.85, 0.9])
    nom = (10e-12 + 5e-12 * codes[None, :] * (1 + 2 * (0.85 - ratios))[:, None])[None, None]  # (1, 1, R, codes)
    mc = nom[..., None] * np.array([0.95, 1.0, 1.05])  # 3 instances
    lut = LUT(block=Kind.TD_DELAY, axes=(Axis("vdd", "V", np.array([0.8])), Axis("temp", "degC", np.array([27.0])),
                                         Axis("code", "LSB", codes, discrete=True)),
              tables={"delay": nom[:, :, 1]}, units={"delay": "s"}, conditions={"cycle_s": 1e-9},
              arrays={"trim_ratio": ratios, "trim_delay": nom, "trim_energy": np.ones_like(nom),
                      "trim_delay_mc": mc})
    bt = BiasTrim.from_lut(lut, 0.8, 27.0, d0=10e-12, tau=5e-12)
    np.testing.assert_allclose(bt.delay[1], codes)  # default ratio, the circuit's frame
    assert bt.default == 1 and bt.samples.shape == (3, 3, 4) and bt.cycle_s == 1e-9
    np.testing.assert_allclose(bt.samples[2, 1], (1.05 * (10e-12 + 5e-12 * codes) - 10e-12) / 5e-12)
    lut.arrays["trim_ratio"] = np.array([0.8, 0.86, 0.9])
    with pytest.raises(Exception, match="default 0.85"):
        BiasTrim.from_lut(lut, 0.8, 27.0, d0=10e-12, tau=5e-12)


def test_command_line():
    err = one_line_error(charz("eval", "--network", "td_mac", "--line-calibration", "bias", "--images", "10"))
    assert "--bias-trim" in err
    err = one_line_error(charz("characterize", "td_delay", "--bias-trim", "0.85", "-o", "/tmp/x_never"))
    assert "at least two" in err


def test_recipe_runs_the_same_lines_at_every_bias_in_ngspice():
    """A 2-bit line at 0.8 V, nominal and 2 Monte Carlo instances, at bias ratios 0.85 and 0.95: the 0.85 decks are
    the main table's (same delays), a stronger bias (0.95) is faster at every code but 0, and each instance keeps
    its place (the same draw at every ratio: the slower instance at 0.85 is the slower at 0.95)."""
    from charz.blocks.td_mac.recipe_delay import characterize_delay

    lut = characterize_delay("ptm16hp", bits=2, vdd=0.8, mc=2, seed=3, progress=False, fit_check=False,
                             bias_trim=[0.85, 0.95], t_step=2e-12)
    a = lut.arrays
    assert a["trim_ratio"].tolist() == [0.85, 0.95] and a["trim_delay"].shape == (1, 1, 2, 4)
    assert a["trim_delay_mc"].shape == (1, 1, 2, 4, 2)
    np.testing.assert_allclose(a["trim_delay"][0, 0, 0], lut.tables["delay"][0, 0], rtol=1e-12)
    np.testing.assert_allclose(a["trim_delay_mc"][0, 0, 0], lut.samples["delay"][0, 0], rtol=1e-12)
    span = a["trim_delay"][0, 0, :, -1] - a["trim_delay"][0, 0, :, 0]
    assert span[1] < 0.9 * span[0]  # the starve devices conduct more
    mc_span = a["trim_delay_mc"][0, 0, :, -1, :] - a["trim_delay_mc"][0, 0, :, 0, :]
    assert np.argmax(mc_span[0]) == np.argmax(mc_span[1])
    assert lut.conditions["bias_trim"]["ratios"] == [0.85, 0.95]
