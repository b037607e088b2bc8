"""Frequency-domain (WHT) digits network: shipped weights, training (ideal and hardware-aware),
evaluation on synthetic WHT LUTs."""

import dataclasses

import numpy as np
import pytest

from charz.blocks.wht import model as bw, model_lut as bwl, model_planes as bwp
from charz.core.errors import LUTError, ParameterError
from charz.network import digits
from charz.network.mlp import WeightsError, accuracy
from charz.network.wht import (
    DATA,
    PUBLISHED,
    WhtNet,
    accuracy_vs_mismatch_wht,
    accuracy_vs_vdd_wht,
    default_mode,
    evaluate_wht,
    format_wht,
    format_wht_sweep,
    load_shipped_wht,
    train_digits_wht,
)


@pytest.fixture(scope="module")
def lut():
    return bwl.synthetic_wht_lut(vdd=(0.6, 0.7, 0.8))


@pytest.fixture(scope="module")
def net():
    return load_shipped_wht()


def test_shipped_weights_reach_recorded_ideal_accuracy(net):
    _, _, xte, yte = digits.load()
    acc = accuracy(net.forward(xte)[0], yte)
    assert acc == pytest.approx(net.meta["ideal_test_accuracy"], abs=1e-12)
    assert acc >= 0.92
    assert accuracy(net.forward_float(xte), yte) == pytest.approx(net.meta["float_test_accuracy"], abs=1e-12)
    assert net.meta["R"] == net.n_rows == 16 and net.meta["bits"] == net.bits == 8
    assert net.meta["mode"] == net.mode and net.inverse == "crossbar" and net.meta["skip_connection"] is False
    # every transform input is a signed 8-bit integer; thresholds are >= 0
    assert np.all(net.tau >= 0) and np.all(net.s_in > 0) and np.all(net.s_u > 0)
    # what the weights were trained for, and the arguments that re-train them
    tf = net.meta["trained_for"]
    assert tf["mode"] == net.mode
    if "lut" in tf:
        assert tf["lut"]["block"] == "wht_column" and tf["operating_point"]["vdd"] == pytest.approx(0.8)
        assert tf["lut"].get("synthetic") is not True
    rec = net.meta["recipe"]
    assert rec["mode"] == net.mode and rec["blocks"] == net.n_blocks and rec["seed"] == net.meta["seed"]


def test_the_classifier_sees_only_crossbar_outputs(net):
    """No skip path: zeroing the output of any crossbar transform leaves the classifier at chance."""
    _, _, xte, yte = digits.load()
    ideal = accuracy(net.forward(xte)[0], yte)

    def ideal_tf(x, t, et):
        return bw.WhtLayer(x.shape[1], n_rows=net.n_rows, bits=net.bits, mode=net.mode)(x, stats=False)

    def zero_tf(x, t, et):
        return np.zeros_like(x), None

    n_tf = net.n_transforms
    for k in range(n_tf):
        tfs = [zero_tf if i == k else ideal_tf for i in range(n_tf)]
        acc = accuracy(net.forward(xte, tfs)[0], yte)
        assert acc <= 0.2 and ideal - acc >= 0.7, (k, acc)
    # the same hooks with the ideal crossbar everywhere reproduce the network
    assert accuracy(net.forward(xte, [ideal_tf] * n_tf)[0], yte) == ideal


def test_weights_file_errors(tmp_path, net):
    with pytest.raises(WeightsError, match="not found"):
        WhtNet.load(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(WeightsError, match="corrupt"):
        WhtNet.load(bad)
    p = net.save(tmp_path / "w.npz")
    back = WhtNet.load(p)
    _, _, xte, _ = digits.load()
    np.testing.assert_array_equal(back.forward(xte[:50])[0], net.forward(xte[:50])[0])
    assert back.meta == net.meta
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    for key, val, msg in (("format", np.array(99), "format 99"), ("w", arrays["w"][:10], "shapes"),
                          ("perm", np.zeros(64, dtype=np.int64), "permutation")):
        broken = dict(arrays, **{key: val})
        np.savez(tmp_path / "x.npz", **broken)
        with pytest.raises(WeightsError, match=msg):
            WhtNet.load(tmp_path / "x.npz")
    assert DATA.name == "digits_wht.npz"


def test_training_is_deterministic_and_learns():
    a = train_digits_wht(seed=3, epochs=3)
    b = train_digits_wht(seed=3, epochs=3)
    for f in ("v", "tau", "w", "b", "s_in", "k_f", "s_u", "k_i", "perm"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.meta["ideal_test_accuracy"] > 0.6  # 10 classes: chance is 0.1
    assert a.meta["train_cpu_s"] < 30
    assert a.meta["trained_for"] == {"crossbar": "ideal quantized per-plane crossbar (no LUT)", "mode": "ternary"}
    with pytest.raises(ParameterError, match="inverse"):
        train_digits_wht(inverse="optical")
    with pytest.raises(ParameterError, match="wiring"):
        train_digits_wht(wiring="diagonal")


def test_hardware_aware_training_runs_through_the_circuit_model(lut):
    kw = dict(seed=1, epochs=2, sparsity=0.3)
    ideal = train_digits_wht(**kw)
    hw = train_digits_wht(lut=lut, mismatch_scale=2.0, **kw)
    hw2 = train_digits_wht(lut=lut, mismatch_scale=2.0, **kw)
    np.testing.assert_array_equal(hw.w, hw2.w)  # fixed seeds: the same chips
    assert not np.array_equal(hw.w, ideal.w)  # the chips' errors changed the training
    tf = hw.meta["trained_for"]
    assert tf["mode"] == "ternary" and tf["mismatch_scale"] == 2.0 and tf["operating_point"]["vdd"] == 0.8
    assert tf["lut"]["pdk"] == "synthetic" and hw.meta["recipe"]["vdd"] == 0.8
    assert hw.meta["ideal_test_accuracy"] > 0.5
    # the synthetic nominal ternary latch decides like the ideal one: training on the nominal circuit
    # (mismatch scale 0) is training on the ideal crossbar, bit for bit
    nominal = train_digits_wht(lut=lut, mismatch_scale=0.0, **kw)
    for f in ("v", "tau", "w", "b", "k_f", "k_i"):
        np.testing.assert_array_equal(getattr(nominal, f), getattr(ideal, f))
    sign_lut = bwl.synthetic_wht_lut(vdd=(0.7, 0.8), ternary=False)
    s = train_digits_wht(lut=sign_lut, mode="sign", seed=1, epochs=1)
    assert s.mode == "sign" and s.meta["trained_for"]["mode"] == "sign"
    with pytest.raises(LUTError, match="ternary"):
        train_digits_wht(lut=sign_lut, mode="ternary", epochs=1)
    with pytest.raises(LUTError, match="outside"):
        train_digits_wht(lut=lut, vdd=0.95, epochs=1)


def test_defaults_follow_the_lut():
    assert bwl.published_vdd(bwl.synthetic_wht_lut(vdd=(0.6, 0.8, 0.9))) == 0.8
    assert bwl.published_vdd(bwl.synthetic_wht_lut(vdd=(0.7, 0.9), vdd_nom=0.9)) is None
    assert default_mode(bwl.synthetic_wht_lut()) == "ternary"
    assert default_mode(bwl.synthetic_wht_lut(ternary=False)) == "sign"
    net = train_digits_wht(seed=2, epochs=1)  # a ternary-trained network
    r = evaluate_wht(bwl.synthetic_wht_lut(vdd=(0.6, 0.8, 0.9), ternary=False), net, chips=1, n_images=40)
    assert r["network"]["mode"] == "sign" and r["network"]["mode_trained"] == "ternary"
    assert r["operating_point"]["vdd"] == 0.8 and "published" in r["operating_point"]["choices"]["vdd"]
    r = evaluate_wht(bwl.synthetic_wht_lut(vdd=(0.7, 0.9), vdd_nom=0.9), net, chips=1, n_images=40)
    assert r["network"]["mode"] == "ternary" and r["operating_point"]["vdd"] == 0.9
    assert r["operating_point"]["choices"]["vdd"] == "PDK nominal VDD"


def test_mismatch_zero_equals_ideal_and_energy_accounting(lut, net):
    r = evaluate_wht(lut, net, mode="ternary", mismatch_scale=0.0, chips=2, n_images=120)
    # the synthetic nominal latch decides every pair like the ideal ternary latch
    assert r["cim_accuracy_mean"] == r["ideal_accuracy"] == r["cim_accuracy_min"] == r["cim_accuracy_max"]
    assert r["cim_disagreement_with_ideal"] == 0.0
    assert r["energy_per_inference_et_J"] == pytest.approx(r["energy_per_inference_ideal_et_J"], rel=1e-12, abs=0)
    assert r["energy_per_inference_no_et_J"] == pytest.approx(r["energy_per_inference_ideal_no_et_J"], rel=1e-12, abs=0)
    assert r["ops_per_inference"] == net.n_transforms * 4 * 2 * 16 * 16
    for key, e in (("tops_per_watt_et", "energy_per_inference_et_J"),
                   ("tops_per_watt_no_et", "energy_per_inference_no_et_J"), ("tops_per_watt", "energy_per_inference_J")):
        assert r[key] == pytest.approx(r["ops_per_inference"] / r[e] / 1e12, rel=1e-12)
    assert r["energy_per_inference_et_J"] <= r["energy_per_inference_no_et_J"]
    assert r["energy_skipped_fraction"] == pytest.approx(
        1 - r["energy_per_inference_et_J"] / r["energy_per_inference_no_et_J"], rel=1e-12)
    assert sum(r["energy_per_transform_J"].values()) == pytest.approx(r["energy_per_inference_et_J"])
    assert sum(r["energy_per_transform_no_et_J"].values()) == pytest.approx(r["energy_per_inference_no_et_J"])
    # inverse transforms have no threshold: no early termination there
    for n in r["transforms"]:
        if n.endswith("inverse"):
            assert r["energy_per_transform_J"][n] == pytest.approx(r["energy_per_transform_no_et_J"][n], rel=1e-12)
    # energy per inference = evaluated column-planes x table energies (average between min and max entry)
    m = bw.WhtModel.from_lut(lut, mismatch_scale=0)
    e_min, e_max = np.nanmin(m.energy), np.nanmax(m.energy)
    assert e_min * r["column_planes_per_inference"] <= r["energy_per_inference_et_J"] <= e_max * r["column_planes_per_inference"]
    hist = np.array(r["planes_evaluated_hist_forward"])
    assert hist.size == 8 and hist.sum() == 2 * net.n_blocks * 120 * 64  # chips x forward transforms x images x outputs


def test_early_termination_changes_energy_not_accuracy(lut, net):
    # large soft thresholds: the median |v k_f y| of each forward output on the training images
    xtr = digits.load()[0]
    x = bwp.quantize_signed(net.gain(0) * net.features(xtr), net.s_in[0], net.bits)
    y = bw.wht_ideal(x, net.n_rows, bits=net.bits, mode=net.mode)
    tau = np.array(net.tau)
    tau[0] = np.median(np.abs(net.v[0] * net.k_f[0] * y), axis=0)
    net = dataclasses.replace(net, tau=tau)
    kw = dict(chips=2, n_images=150, mismatch_scale=2.0, seed=4)
    on = evaluate_wht(lut, net, early_termination=True, **kw)
    off = evaluate_wht(lut, net, early_termination=False, **kw)
    assert on["cim_accuracy_per_chip"] == off["cim_accuracy_per_chip"]
    assert on["energy_per_inference_no_et_J"] == pytest.approx(off["energy_per_inference_J"], rel=1e-12, abs=0)
    assert off["energy_per_inference_J"] == off["energy_per_inference_no_et_J"]
    assert on["energy_per_inference_J"] < off["energy_per_inference_J"]
    assert off["planes_skipped_fraction"] == 0.0 and on["planes_skipped_fraction"] > 0.1
    assert on["output_sparsity"] > 0.3
    assert on["tops_per_watt"] > off["tops_per_watt"]


def test_report_and_sweeps(lut, net):
    r = evaluate_wht(lut, net, chips=1, n_images=60)
    text = format_wht(r)
    assert PUBLISHED in text and "1602 TOPS/W (5311 with early termination)" in text
    assert "NOT counted" in text and "2 R^2 ops" in text and "SYNTHETIC" in text and "no skip connection" in text
    assert "weights trained against" in text
    # the comparison with the published figures, with its reasons computed from this run
    assert "why they differ" in text and f"{r['tops_per_watt_no_et'] / 1602:.3f} (all planes)" in text
    per_cp = r["energy_per_inference_no_et_J"] / r["column_planes_active_per_inference"]
    assert f"ours {per_cp * 1e15:.1f} fJ on average" in text and "implies 2.85 fJ" in text  # 512 / 1602e12 / 112
    assert set(r["energy_parts_typical_fJ"]) == {"energy_precharge", "energy_rows", "energy_latch", "energy_clock"}
    assert r["lut"]["pdk"] == "synthetic" and r["operating_point"]["vdd"] == 0.8
    s = accuracy_vs_mismatch_wht(lut, [0.0, 8.0], weights=net, mode="ternary", chips=2, n_images=100)
    assert s["cim_mean"][0] == s["ideal_accuracy"][0]
    assert s["cim_mean"][1] < s["cim_mean"][0]  # 8x the synthetic sigmas costs accuracy
    v = accuracy_vs_vdd_wht(lut, weights=net, chips=1, n_images=60, mismatch_scale=0.0)
    assert v["values"] == [0.6, 0.7, 0.8]
    e = v["energy_per_inference_no_et_J"]
    assert e[0] < e[1] < e[2]  # synthetic energy grows as VDD^2
    assert "vdd" in format_wht_sweep(v)


def test_evaluate_errors(lut, net):
    with pytest.raises(ParameterError, match="n_rows=16"):
        evaluate_wht(bwl.synthetic_wht_lut(n_rows=8), net)
    with pytest.raises(LUTError, match="outside"):
        evaluate_wht(lut, net, vdd=0.9)
    with pytest.raises(ParameterError, match="not on the wht_column LUT grid"):
        accuracy_vs_vdd_wht(lut, [0.65], weights=net)
    with pytest.raises(ParameterError, match="chips"):
        evaluate_wht(lut, net, chips=0)
    with pytest.raises(ParameterError, match="n_images"):
        evaluate_wht(lut, net, n_images=10_000)
    with pytest.raises(LUTError, match="needs a 'wht_column' LUT"):
        from charz.blocks.cim_column.model import synthetic_column_lut
        evaluate_wht(synthetic_column_lut(), net)
    with pytest.raises(ParameterError, match="latch mode"):
        evaluate_wht(lut, net, mode="binary")
    with pytest.raises(LUTError, match="ternary"):
        evaluate_wht(bwl.synthetic_wht_lut(ternary=False), net, mode="ternary")
