"""Digits MLP, energy ledger and network evaluation on synthetic column LUTs."""

import numpy as np
import pytest

from charz.blocks.cim_column.model import ColumnModel, synthetic_column_lut
from charz.blocks.cim_column.model_layer import map_layer
from charz.core.errors import LUTError, ParameterError
from charz.core.lut import LUT, Axis
from charz.network import digits
from charz.network.energy import CONVENTIONS, EnergyLedger
from charz.network.evaluate import (
    accuracy_vs_avt,
    accuracy_vs_mismatch,
    evaluate,
    format_result,
    format_sweep,
)
from charz.network.mlp import DATA, QuantizedMLP, WeightsError, accuracy, load_shipped, train_digits_mlp


@pytest.fixture(scope="module")
def noisy_lut():
    return synthetic_column_lut(n_rows=16, nonlinearity=0.3, sigma=0.02, n_samples=60, seed=5)


@pytest.fixture(scope="module")
def clean_lut():
    return synthetic_column_lut(n_rows=16)


def test_digits_split_is_fixed():
    xtr, ytr, xte, yte = digits.load()
    assert xtr.shape == (1437, 64) and xte.shape == (360, 64)
    assert xtr.min() >= 0 and xtr.max() <= 16
    assert np.bincount(yte).min() >= 35  # stratified
    q = digits.quantize_pixels(np.array([0, 1, 8, 16]))
    np.testing.assert_array_equal(q, [0, 1, 8, 15])


def test_shipped_weights_load_and_reach_90_percent():
    net = load_shipped()
    assert DATA.exists() and DATA.stat().st_size < 100_000
    assert net.sizes == (64, 64, 10) and net.x_bits == 4 and net.w_bits == 4
    for w in net.w_int:
        assert w.min() >= -7 and w.max() <= 7
    _, _, xte, yte = digits.load()
    ideal = accuracy(net.forward_int(net.input_ints(xte))[0], yte)
    assert ideal >= 0.90
    assert accuracy(net.forward_float(xte), yte) >= 0.90
    with np.load(DATA, allow_pickle=False) as z:  # plain arrays, no pickle
        assert "wq0" in z.files


def test_training_is_seeded_and_quick():
    a = train_digits_mlp(seed=3, hidden=16, epochs=4, qat_epochs=2)
    b = train_digits_mlp(seed=3, hidden=16, epochs=4, qat_epochs=2)
    np.testing.assert_array_equal(a.w_int[0], b.w_int[0])
    assert a.sizes == (64, 16, 10)
    assert a.meta["ideal_int_test_accuracy"] > 0.5
    with pytest.raises(ParameterError):
        train_digits_mlp(seed=-1)


def test_weights_round_trip_and_bad_file(tmp_path):
    net = load_shipped()
    p = net.save(tmp_path / "w.npz")
    again = QuantizedMLP.load(p)
    for a, b in zip(net.w_int, again.w_int):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(WeightsError, match="corrupt"):
        QuantizedMLP.load(tmp_path / "bad.npz")
    with pytest.raises(WeightsError, match="not found"):
        QuantizedMLP.load(tmp_path / "missing.npz")


def test_energy_ledger_hand_count():
    """One layer, 2x1 weights on 2-row columns, 1-bit input, 2-bit weights: count by hand."""
    lut = synthetic_column_lut(n_rows=2)
    m = ColumnModel.from_lut(lut, mismatch_scale=0)
    layer = map_layer(np.array([[1], [-1]]), m, np.random.default_rng(0), w_bits=2, x_bits=1)
    y, hist = layer(np.array([[1, 1], [1, 0]]))
    # evaluations: image 0 -> pos k=1, neg k=1; image 1 -> pos k=1, neg k=0
    np.testing.assert_array_equal(hist, [1, 3, 0])
    ledger = EnergyLedger(m.e_nom)
    ledger.add("fc", hist, images=2, macs_per_image=2)
    e = m.e_nom
    assert ledger.energy_per_image == pytest.approx((e[0] + 3 * e[1]) / 2)
    assert ledger.ops_per_image == 4  # 1 MAC = 2 ops, logical 2x1 MACs per image
    assert ledger.tops_per_watt == pytest.approx(4 / ((e[0] + 3 * e[1]) / 2) / 1e12)
    rep = ledger.report()
    assert rep["layers"]["fc"]["evaluations"] == 2
    assert "ideal quantizer" in rep["conventions"]["quantizer"] and "0 J" in rep["conventions"]["quantizer"]


def test_evaluate_noiseless_equals_ideal(clean_lut):
    r = evaluate(clean_lut, mismatch_scale=0, chips=2, n_images=120)
    assert r["cim_accuracy_mean"] == r["ideal_accuracy"]
    assert r["cim_accuracy_std"] == 0
    assert r["cim_disagreement_with_ideal"] == 0
    assert r["ideal_accuracy"] >= 0.9
    assert r["macs"] == 64 * 64 + 64 * 10 and r["ops"] == 2 * r["macs"]
    assert r["energy_per_inference_J"] == pytest.approx(sum(r["energy_per_layer_J"].values()))
    assert r["tops_per_watt"] == pytest.approx(r["ops"] / r["energy_per_inference_J"] / 1e12)
    assert 0 < r["sparsity_mean"] < 1
    # column evaluations per image: planes x tiles x (2 signs x 3 slices x outputs)
    evals = list(r["evaluations_per_layer"].values())
    assert evals == [4 * 4 * 6 * 64, 4 * 4 * 6 * 10]
    assert "ideal quantizer" in r["readout"] and "0 J" in r["conventions"]["quantizer"]
    assert r["conventions"]["ops"] == CONVENTIONS["ops"]
    assert r["lut"]["pdk"] == "synthetic" and r["lut"]["synthetic"] is True
    text = format_result(r)
    assert "ideal quantizer" in text and "TOPS/W" in text


def test_evaluate_reproducible_and_seed_dependent(noisy_lut):
    a = evaluate(noisy_lut, mismatch_scale=6, chips=3, seed=1, n_images=150)
    b = evaluate(noisy_lut, mismatch_scale=6, chips=3, seed=1, n_images=150)
    c = evaluate(noisy_lut, mismatch_scale=6, chips=3, seed=2, n_images=150)
    assert a["cim_accuracy_per_chip"] == b["cim_accuracy_per_chip"]
    assert a["energy_per_inference_J"] == b["energy_per_inference_J"]
    assert a["cim_accuracy_per_chip"] != c["cim_accuracy_per_chip"]


def test_accuracy_degrades_with_mismatch(noisy_lut):
    s = accuracy_vs_mismatch(noisy_lut, scales=[0, 1, 3, 6], chips=4, seed=0)
    m = s["cim_mean"]
    assert m[0] == s["ideal_accuracy"]
    tol = 0.01  # weakly monotonic in expectation: allow chip-sampling noise
    assert all(m[i + 1] <= m[i] + tol for i in range(len(m) - 1))
    assert m[-1] < m[0] - 0.02
    assert s["avt_mv_um"] == [0, 1.5, 4.5, 9.0]
    assert "ideal quantizer" in format_sweep(s)


def test_accuracy_vs_avt_uses_one_lut_per_avt():
    luts = [synthetic_column_lut(sigma=0.02 * f, n_samples=40, seed=2, avt_mv_um=1.5 * f) for f in (1, 2)]
    m = accuracy_vs_avt(luts, chips=2, n_images=80)
    assert m["measured"] and m["scales"] == [1.0, 2.0] and m["avt_mv_um"] == [1.5, 3.0]
    r = evaluate(luts[1], mismatch_scale=1.0, chips=2, n_images=80)
    assert m["cim_mean"][1] == r["cim_accuracy_mean"]
    nolabel = synthetic_column_lut(sigma=0.02, n_samples=10)
    del nolabel.provenance["avt_mv_um"]
    with pytest.raises(LUTError, match="A_VT"):
        accuracy_vs_avt([nolabel])


def test_plots(tmp_path, noisy_lut):
    from charz.plot.network import plot_accuracy_vs_mismatch, plot_energy_breakdown

    s = accuracy_vs_mismatch(noisy_lut, scales=[0, 2], chips=2, n_images=60)
    m = accuracy_vs_avt([noisy_lut], chips=2, n_images=60)
    p1 = plot_accuracy_vs_mismatch(s, tmp_path / "acc.png", measured=m)
    p2 = plot_energy_breakdown(s["results"][1], tmp_path / "energy.png")
    p3 = plot_accuracy_vs_mismatch(m, tmp_path / "acc_meas.png")
    for p in (p1, p2, p3):
        assert p.exists() and p.read_bytes()[:4] == b"\x89PNG"


def test_evaluate_from_path(tmp_path, clean_lut):
    clean_lut.save(tmp_path / "col")
    r = evaluate(tmp_path / "col.json", mismatch_scale=0, chips=1, n_images=20)
    assert r["lut"]["source"].endswith("col.json")


def test_bad_inputs(tmp_path, clean_lut, noisy_lut):
    other = LUT(block="bitcell", axes=(Axis("vdd", "V", np.array([0.7])),), tables={"snm": np.array([0.1])},
                units={"snm": "V"})
    with pytest.raises(LUTError, match="cim_column"):
        evaluate(other)
    other.save(tmp_path / "cell")
    with pytest.raises(LUTError, match="cim_column"):
        evaluate(tmp_path / "cell")
    with pytest.raises(LUTError, match="not found"):
        evaluate(tmp_path / "nothing.json")
    with pytest.raises(LUTError, match="outside"):
        evaluate(noisy_lut, vdd=0.3)
    with pytest.raises(ParameterError, match="adc_bits"):
        evaluate(noisy_lut, adc_bits=0)
    with pytest.raises(ParameterError, match="chips"):
        evaluate(noisy_lut, chips=0)
    with pytest.raises(ParameterError, match="n_images"):
        evaluate(noisy_lut, n_images=100000)
    with pytest.raises(ParameterError, match="mismatch_scale"):
        evaluate(noisy_lut, mismatch_scale=float("nan"))
    with pytest.raises(LUTError, match="Monte Carlo"):
        evaluate(clean_lut, mismatch_scale=1.0)
    with pytest.raises(LUTError):
        evaluate(42)
