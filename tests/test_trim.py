"""The comparator's offset trim DAC: its devices in the deck, its curves measured in ngspice per instance, the
trim model (superposition, best-code calibration, cost) and the converters' ``trim`` calibration."""

from __future__ import annotations

import numpy as np
import pytest

from charz.blocks.adc.model import DigitizerModel, decisions_per_conversion
from charz.blocks.adc.model_transfer import synthetic_adc_lut
from charz.blocks.comparator.model_trim import TrimDac, synthetic_trim_lut, trim_codes
from charz.blocks.comparator.netlist import ComparatorParams, ramp_netlist
from charz.core.errors import LUTError, ParameterError
from charz.core.pdk import get


# ---- the deck -------------------------------------------------------------------------------------------
def test_trim_devices_sit_beside_the_input_pair_with_their_code():
    p = get("ptm16hp")
    c = ComparatorParams(pdk="ptm16hp", trim_bits=3, trim_code=-5)
    lines = [l for l in ramp_netlist(c, -0.02, 0.02, 0.004, pdk=p).golden().splitlines() if l.startswith("mtr")]
    dev = {l.split()[0]: l.split() for l in lines}
    assert sorted(dev) == ["mtrn0", "mtrn1", "mtrn2", "mtrp0", "mtrp1", "mtrp2"]
    # -5 = n side, bits 0 and 2 on (gate at vdd); drains on xp / xn, sources on the tail
    assert [dev[f"mtrn{b}"][2] for b in range(3)] == ["vdd", "0", "vdd"]
    assert all(dev[f"mtrp{b}"][2] == "0" for b in range(3))
    assert {dev[f"mtrp{b}"][1] for b in range(3)} == {"xp"} and {dev[f"mtrn{b}"][3] for b in range(3)} == {"tail"}
    assert [dev[f"mtrn{b}"][6] for b in range(3)] == ["w=1.6e-08", "w=3.2e-08", "w=6.4e-08"]
    # without trim bits the deck is the plain comparator's, byte for byte (its header names no trim field)
    plain = ramp_netlist(ComparatorParams(pdk="ptm16hp"), -0.02, 0.02, 0.004, pdk=p).golden()
    assert "trim" not in plain and "mtr" not in plain
    for bad, needle in (({"trim_bits": 2, "trim_code": 4}, "|code| <= 3"), ({"trim_code": 1}, "trim_bits > 0"),
                        ({"w_trim": 16e-9}, "trim_bits = 0"), ({"trim_bits": 7}, "trim_bits")):
        with pytest.raises(ParameterError, match=needle.replace("|", r"\|")):
            ComparatorParams(pdk="ptm16hp", **bad)
    assert trim_codes(3) == (-7, -4, -2, -1, 0, 1, 2, 4, 7) and trim_codes(1) == (-1, 0, 1)


# ---- the model on a synthetic trim ----------------------------------------------------------------------
def test_nominal_curve_as_measured_and_instance_deviations_by_superposition():
    lut = synthetic_trim_lut(bits=3, step=5e-3, sigma_rel=0.3, n_samples=80, bow=0.2)
    t = TrimDac.from_lut(lut)
    assert t.step == pytest.approx(5e-3) and t.codes.tolist() == list(range(-7, 8))
    np.testing.assert_allclose(t.curve, lut.arrays["trim_offset"][0, 0] - lut.arrays["trim_offset"][0, 0, 7])
    assert t.curve[14] == pytest.approx(-7 * 5e-3 * 1.2)  # the bow: not the sum of the bits' changes
    rng = np.random.default_rng(1)
    curves = t.curves(200, rng)
    dev = curves - t.curve
    m = {int(c): i for i, c in enumerate(t.codes)}
    np.testing.assert_allclose(dev[:, m[5]], dev[:, m[1]] + dev[:, m[4]], atol=1e-15)
    np.testing.assert_allclose(dev[:, m[-6]], dev[:, m[-2]] + dev[:, m[-4]], atol=1e-15)
    assert np.all(curves[:, m[0]] == 0) and dev[:, m[4]].std() > 0.1 * 4 * 5e-3
    np.testing.assert_allclose(t.curves(5, rng, scale=0.0), np.broadcast_to(t.curve, (5, 15)))


def test_calibration_keeps_the_best_code():
    t = TrimDac.from_lut(synthetic_trim_lut(bits=3, step=5e-3, sigma_rel=0.3, n_samples=80))
    rng = np.random.default_rng(1)
    curves = t.curves(200, rng)
    err = rng.uniform(-0.05, 0.05, 200)
    code, change = t.calibrate(err, curves)
    best = np.min(np.abs(err[:, None] + curves), axis=1)
    np.testing.assert_allclose(np.abs(err + change), best)
    # nominal trims: the residual is at most half a step inside the range, the range edge beyond it
    nom = t.curves(200, rng, scale=0.0)
    _, ch = t.calibrate(err, nom)
    inside = np.abs(err) < 7 * 5e-3
    assert np.all(np.abs(err + ch)[inside] <= 2.5e-3 + 1e-12)
    assert np.all(np.abs(err + ch)[~inside] == pytest.approx(np.abs(err[~inside]) - 0.035))
    with pytest.raises(LUTError, match="no vdd = 0.9"):
        TrimDac.from_lut(synthetic_trim_lut(bits=2), vdd=0.9)
    with pytest.raises(LUTError, match="--trim-bits"):
        TrimDac.from_lut(synthetic_adc_lut())


def test_the_hybrid_trims_its_sa_comparator_and_each_coarse_comparator():
    adc = synthetic_adc_lut("adc_hybrid", bits=4, flash_bits=2, vref=(0.1, 0.6), sigma_offset=0.02, n_samples=100,
                            seed=4)
    trim = TrimDac.from_lut(synthetic_trim_lut(bits=4, step=3e-3))
    none = DigitizerModel.from_lut(adc, vdd=0.7)
    trimmed = DigitizerModel.from_lut(adc, vdd=0.7, calibration="trim", trim=trim)
    assert trimmed._trimmed_edges().tolist() == [3, 7, 11]  # the coarse edges 4, 8, 12
    d0 = none.instances(100, np.random.default_rng(3)).raw - none.t_nom
    d1 = trimmed.instances(100, np.random.default_rng(3)).raw - trimmed.t_nom
    coarse = [3, 7, 11]
    sa = [i for i in range(15) if i not in coarse]
    ok = (np.abs(d0[:, coarse]) < 0.045).all(axis=1) & (np.abs(d0[:, sa].mean(axis=1)) < 0.045)
    assert ok.mean() > 0.8
    assert np.abs(d1[ok][:, coarse]).max() <= 1.5e-3 + 1e-12  # each coarse comparator within half a step
    assert np.abs(d1[ok][:, sa].mean(axis=1)).max() <= 1.5e-3 + 1e-12
    cost = trimmed.trim_cost()
    assert cost["area_units"] == pytest.approx(4 * trim.area_units())  # SA + 3 coarse trims
    assert cost["calibration_conversions"] == 5 * 16 * 4


@pytest.mark.parametrize("kind", ["adc_sar", "adc_flash"])
def test_trim_calibration_leaves_the_finite_step_and_costs_its_energy(kind):
    adc = synthetic_adc_lut(kind, bits=4, vref=(0.1, 0.6), sigma_offset=0.02, sigma_dnl=0.0, n_samples=200, seed=2)
    trim = TrimDac.from_lut(synthetic_trim_lut(bits=4, step=3e-3, energy=0.1e-15))
    none = DigitizerModel.from_lut(adc, vdd=0.7)
    ideal = DigitizerModel.from_lut(adc, vdd=0.7, calibration="offset")
    trimmed = DigitizerModel.from_lut(adc, vdd=0.7, calibration="trim", trim=trim, mismatch_scale=1.0)
    rng = lambda: np.random.default_rng(5)  # noqa: E731
    raw = {k: m.instances(300, rng()).raw - m.t_nom for k, m in (("none", none), ("ideal", ideal), ("trim", trimmed))}
    reach = 15 * 3e-3  # the trim's range: beyond it the error is cut by the range only
    if kind == "adc_flash":  # every comparator trimmed against its own error
        inside = np.abs(raw["none"]) < reach
        assert inside.mean() > 0.9
        assert np.abs(raw["trim"][inside]).max() <= 1.5e-3 + 1e-12 < np.abs(raw["none"]).max()
        np.testing.assert_allclose(np.abs(raw["trim"][~inside]), np.abs(raw["none"][~inside]) - reach)
        assert np.abs(raw["ideal"]).max() > 5e-3  # the ideal offset trim only removes the mean
    else:  # one comparator: the mean error within half a step, the DNL untouched
        inside = np.abs(raw["none"].mean(axis=1)) < reach
        assert inside.mean() > 0.9
        assert np.abs(raw["trim"].mean(axis=1)[inside]).max() <= 1.5e-3 + 1e-12
        assert np.abs(raw["ideal"].mean(axis=1)).max() < 1e-12
        np.testing.assert_allclose(raw["trim"] - raw["trim"].mean(1, keepdims=True),
                                   raw["none"] - raw["none"].mean(1, keepdims=True), atol=1e-12)
    d = decisions_per_conversion(kind, 4)
    assert d == (15 if kind == "adc_flash" else 4)
    assert trimmed.energy == pytest.approx(none.energy + d * 0.1e-15)
    cost = trimmed.trim_cost()
    assert cost["energy_per_conversion_J"] == pytest.approx(d * 0.1e-15)
    assert cost["calibration_conversions"] == 5 * 16 * (15 if kind == "adc_flash" else 1)
    assert cost["calibration_time_s"] == pytest.approx(cost["calibration_conversions"] * trimmed.t_conv)
    assert "trim" in trimmed.short_label and trimmed.describe()["trim"]["bits"] == 4
    with pytest.raises(ParameterError, match="needs the comparator's trim DAC"):
        DigitizerModel.from_lut(adc, vdd=0.7, calibration="trim")
    with pytest.raises(ParameterError, match="needs calibration 'trim'"):
        DigitizerModel.from_lut(adc, vdd=0.7, trim=trim)


# ---- measured in ngspice --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spice_trim(tmp_path_factory):
    """A 1-bit trim, 3 Monte Carlo instances, one corner, a coarse ramp: the offset at codes -1, 0, +1."""
    from charz.blocks.comparator.recipe import characterize_comparator

    lut = characterize_comparator("ptm16hp", vdd=0.7, mc=3, seed=1, trim_bits=1, dv=[-0.01, 0.01],
                                  offset_range=0.12, offset_resolution=0.002, fit_check=False, progress=False)
    path = lut.save(tmp_path_factory.mktemp("trim") / "comparator_trim1")
    return lut, path


def test_the_trim_curve_is_measured_per_instance_in_spice(spice_trim):
    lut, _ = spice_trim
    codes = lut.arrays["trim_codes"].tolist()
    assert codes == [-1, 0, 1] and lut.arrays["trim_mc_codes"].tolist() == [-1, 0, 1]
    nom = lut.arrays["trim_offset"][0, 0]
    # a positive code turns on the p-side device: xp discharges faster, as if inp were higher -> offset falls
    assert nom[2] < nom[1] < nom[0]
    step = lut.tables["trim_step"][0, 0, 0]
    assert -12e-3 < step < -2e-3 and step == pytest.approx((nom[2] - nom[0]) / 2, abs=1e-3)
    per = lut.arrays["trim_offset_mc"][0, 0]  # (codes, instances): code 0 = the offset ramp's instances
    np.testing.assert_array_equal(per[1], lut.samples["offset"][0, 0, 0])
    assert np.all(per[2] < per[0])  # every instance moves the same way
    e = lut.tables["trim_energy"][0, 0, 0]
    assert 0 < e < 0.05 * lut.tables["energy"][0, 0, 0]  # the off devices' load: a small fraction of a decision
    assert lut.conditions["trim"]["bits"] == 1 and lut.provenance["checks"]["trim_offset_out_of_range"] == 0
    t = TrimDac.from_lut(lut)
    assert t.mc_samples == 3 and t.step == pytest.approx(abs(step))


def test_eval_reads_the_converters_out_with_the_spice_trim(spice_trim, capsys):
    from charz.cli import main

    _, path = spice_trim
    lut = str(path).removesuffix(".json")
    assert main(["eval", "--adc-lut", "lut/ptm16hp/adc_sar5", "--adc-calibration", "trim", "--trim-lut", lut,
                 "--chips", "1"]) == 0
    out = capsys.readouterr().out
    assert "trimmed by a 1-bit comparator trim DAC" in out and "trim DAC" in out and "per conversion" in out
    assert main(["eval", "--adc-lut", "lut/ptm16hp/adc_sar5", "--trim-lut", lut, "--chips", "1"]) == 2
    assert "trim_lut applies to calibration 'trim' only" in capsys.readouterr().err
    # the committed 4-bit trim LUT is the default
    assert main(["eval", "--adc-lut", "lut/ptm16hp/adc_sar5", "--adc-calibration", "trim", "--chips", "1"]) == 0
    assert "trimmed by a 4-bit comparator trim DAC" in capsys.readouterr().out


def test_every_code_runs_nominally_and_the_curve_falls_with_the_code():
    from charz.blocks.comparator.recipe import characterize_comparator

    lut = characterize_comparator("ptm16hp", vdd=0.7, mc=0, trim_bits=3, dv=[-0.01, 0.01], offset_range=0.08,
                                  offset_resolution=0.002, fit_check=False, progress=False)
    assert lut.arrays["trim_codes"].tolist() == list(range(-7, 8)) and "trim_offset_mc" not in lut.arrays
    curve = lut.arrays["trim_offset"][0, 0]
    assert np.all(np.diff(curve) < 0)  # more p-side current, lower offset, at every code
    t = TrimDac.from_lut(lut)
    assert t.mc_samples == 0 and t.curve[0] > 0.03 and t.curve[-1] < -0.03
    np.testing.assert_allclose(t.curves(3, np.random.default_rng(0)), np.broadcast_to(t.curve, (3, 15)))
