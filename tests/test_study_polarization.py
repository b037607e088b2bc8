"""Neural precision polarization (charz.study.polarization): the rank-r path's fit, its weights, NF4 weights,
the loss curvature, the captured moments, a small study on the executor and the command line."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from charz.core.errors import ParameterError
from charz.network import engine as en
from charz.network import quant
from charz.study import polarization as pz
from helpers import charz, one_line_error


def _moments(x, e):
    return pz.Moments(x.T @ x, x.T @ e, x.shape[0])


def test_a_rank_r_error_is_recovered_exactly_by_a_rank_r_path():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 12))
    w_true = rng.normal(size=(12, 3)) @ rng.normal(size=(3, 9))  # rank 3
    e = x @ w_true
    A, B = pz.fit_path(_moments(x, e), 3)
    assert A.shape == (12, 3) and B.shape == (3, 9)
    np.testing.assert_allclose(x @ A @ B, e, atol=2e-2 * np.abs(e).max())
    A2, B2 = pz.fit_path(_moments(x, e), 2)  # one rank short: a residual remains
    assert np.linalg.norm(x @ A2 @ B2 - e) > 0.05 * np.linalg.norm(e)
    # rank >= N: the ridge solution itself; rank 0: nothing
    m = _moments(x, e)
    lam = pz.RIDGE * np.trace(m.G) / 12
    A9, B9 = pz.fit_path(m, 50)
    np.testing.assert_allclose(A9 @ B9, np.linalg.solve(m.G + lam * np.eye(12), m.C), atol=1e-9)
    A0, B0 = pz.fit_path(m, 0)
    assert A0.shape == (12, 0) and B0.shape == (0, 9)


def test_the_channel_weights_choose_which_error_a_low_rank_path_removes():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(800, 10))
    e = np.column_stack([x @ rng.normal(size=10), x @ rng.normal(size=10)])  # two independent errors
    e[:, 0] *= 3.0  # channel 0's error is larger
    m = _moments(x, e)
    for heavy in (0, 1):
        w = np.array([1.0, 1.0])
        w[heavy] = 1e4
        A, B = pz.fit_path(m, 1, w)
        r = x @ A @ B - e
        assert np.linalg.norm(r[:, heavy]) < 0.05 * np.linalg.norm(e[:, heavy])
    A, B = pz.fit_path(m, 1)  # unweighted: the larger error
    assert np.linalg.norm((x @ A @ B - e)[:, 0]) < 0.05 * np.linalg.norm(e[:, 0])


def test_the_adapter_adds_the_path_and_counts_its_macs():
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(6, 2)), rng.normal(size=(2, 4))
    x, y = rng.normal(size=(5, 6)), rng.normal(size=(5, 4))
    out, c = pz.recovery_adapter(A, B, energy_per_mac=1e-12)(x, y)
    np.testing.assert_allclose(out, y + x @ A @ B)
    assert c.counters["recovery_macs"] == 5 * 2 * (6 + 4)
    assert c.energy["recovery"] == pytest.approx(5 * 2 * 10 * 1e-12) and c.ops == 0
    out0, c0 = pz.recovery_adapter(np.zeros((6, 0)), np.zeros((0, 4)))(x, y)
    assert out0 is y and c0.energy_J == 0


def test_nf4_weights_sit_on_the_levels_of_their_grid():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(200, 7))
    codes, wq = quant.nf4_weights(w, 6)
    allowed = set(np.rint(np.array(quant.NF4_LEVELS) * 31).astype(int))
    assert len(allowed) == 16 and set(np.unique(codes)) <= allowed
    assert np.all(np.abs(codes).max(axis=0) == 31)  # each column's largest weight is the level 1
    np.testing.assert_allclose(wq.scale, np.abs(w).max(axis=0) / 31)
    # each weight goes to its nearest level
    u = w / np.abs(w).max(axis=0)
    lv = np.array(quant.NF4_LEVELS)
    np.testing.assert_array_equal(codes, np.rint(lv[np.argmin(np.abs(u[..., None] - lv), -1)] * 31))
    with pytest.raises(ParameterError, match="6-bit"):
        quant.nf4_weights(w, 5)


@pytest.fixture(scope="module")
def digits():
    x_tr, y_tr, x_te, y_te = en.digits_split()
    return en.mlp_onnx(record_quantization=False), (x_tr, y_tr), (x_te[:90], y_te[:90])


def test_the_curvature_of_the_logits_is_the_second_difference_of_the_cross_entropy(digits):
    model, train, _ = digits
    plan, _ = pz.main_plan(model, train[0][:64], train[1][:64], "int4", {"columns": "ideal"}, calib_images=train[0],
                           calib_count=64, seed=0, first_last="same")
    layers = pz.cim_layers(plan)
    assert list(layers) == ["fc1", "fc2"]
    curv = pz.channel_curvature(plan, {"fc2": layers["fc2"]})["fc2"]
    # fc2's output is the logits z (before the bias): the cross-entropy's central second difference in z_j,
    # step a quarter of the product's rms, computed here from the logits directly
    from charz.network.graph import run

    z = np.asarray(run(plan.graph, {plan.input_name: plan.inputs()})["logits"], np.float64)
    h1 = np.asarray(run(plan.graph, {plan.input_name: plan.inputs()}, until="fc1.relu")["fc1.relu"], np.float64)
    rms = np.sqrt(np.mean((h1 @ layers["fc2"].w_float[0]) ** 2, axis=0))

    def ce(zz):
        zz = zz - zz.max(1, keepdims=True)
        return np.mean(np.log(np.exp(zz).sum(1)) - zz[np.arange(zz.shape[0]), plan.labels])

    want = []
    for j in range(z.shape[1]):
        h = pz.CURVATURE_STEP * rms[j]
        e = np.zeros(z.shape[1])
        e[j] = h
        want.append((ce(z + e) + ce(z - e) - 2 * ce(z)) / h**2)
    want = np.array(want)
    np.testing.assert_allclose(curv, np.maximum(want, 1e-3 * want.max()), rtol=1e-6)
    # for a small step it is the curvature p_j (1 - p_j) of the softmax, averaged over the images
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert np.all(want > 0) and np.corrcoef(want, (p * (1 - p)).mean(0))[0, 1] > 0.9


def _ideal_plan(digits, n: int):
    """(plan on the first n training images, its CiM layers, the plan in batches of 16): W4A4 on ideal columns."""
    model, train, _ = digits
    plan, _ = pz.main_plan(model, train[0][:n], train[1][:n], "int4", {"columns": "ideal"}, calib_images=train[0],
                           calib_count=64, seed=0, first_last="same")
    return plan, pz.cim_layers(plan), dataclasses.replace(plan, batch=16)


def test_captured_moments_are_the_layer_inputs_and_errors(digits):
    plan, layers, fplan = _ideal_plan(digits, 64)
    mom = pz.capture(fplan, 0, layers, [16, 64])
    x16 = plan.inputs(0, 16)
    # fc1's input is the preprocessed pixels; its error is the float product minus the W4A4 product
    m = mom[16]["fc1"]
    np.testing.assert_allclose(m.G, x16.T @ x16, rtol=1e-10)
    lp = layers["fc1"]
    xi = lp.x_quant.quantize(x16)
    y_main = quant.dequantize_product(quant.integer_matmul(xi, lp.w_int[0]), lp.x_quant.scale, lp.w_quant[0].scale)
    np.testing.assert_allclose(m.C, x16.T @ (x16 @ lp.w_float[0] - y_main), rtol=1e-8, atol=1e-10)
    assert m.rows == 16 and mom[64]["fc1"].rows == 64 and mom[64]["fc2"].rows == 64
    with pytest.raises(ParameterError, match="multiples of the batch"):
        pz.capture(fplan, 0, layers, [10])


def test_the_sequential_fit_sees_the_upstream_paths(digits):
    plan, layers, fplan = _ideal_plan(digits, 32)
    from charz.behavior.interfaces import Cost

    def silence(x2d, y):  # an upstream "path" that cancels fc1's product: fc2 then sees relu(bias) only
        return np.zeros_like(y), Cost()

    m = pz.capture(fplan, 0, {"fc2": layers["fc2"]}, [32], fixed={"fc1": silence})[32]["fc2"]
    b1 = [t for k, t in plan.graph.initializers.items() if k == "fc1.bias"][0]
    r = np.maximum(np.asarray(b1, np.float64), 0)
    np.testing.assert_allclose(m.G, 32 * np.outer(r, r), rtol=1e-10, atol=1e-12)
    plain = pz.capture(fplan, 0, {"fc2": layers["fc2"]}, [32])[32]["fc2"]
    assert not np.allclose(plain.G, m.G)
    ad = pz.fit_sequential(fplan, 0, layers, 32, 2, {n: np.ones(lp.N) for n, lp in layers.items()})
    assert list(ad) == ["fc1", "fc2"]


def test_a_small_study_recovers_the_read_out_loss(digits, tmp_path):
    model, train, test = digits
    lut = "lut/ptm16hp/adc_sar5"
    res = pz.run_study(model, test, (train[0][:64], train[1][:64]), formats=("int4",), ranks=(0, 4),
                       fit_images=(32, 64), fit_rank=4, chips=2, options={"adc_lut": lut}, calib_count=64,
                       first_last="same", log=lambda s: None)
    v = res["formats"]["int4"]
    s = v["summary"]["by_rank"]
    assert set(s) == {"0", "4"} and set(v["summary"]["by_fit"]) == {"32", "64"}
    # the uncalibrated 5-bit SAR loses most of the network; rank-4 paths fitted on 64 images bring it back
    assert s["0"]["accuracy_mean"] < v["ideal_accuracy"] - 0.2
    assert s["4"]["accuracy_mean"] > s["0"]["accuracy_mean"] + 0.2
    assert s["0"]["recovery_energy_per_inference_J"] == 0 < s["4"]["recovery_energy_per_inference_J"]
    # rank 4 on fc1 (64 -> 64) and fc2 (64 -> 10): 4 x (64 + 64) + 4 x (64 + 10) MACs per image
    assert s["4"]["recovery_macs_per_inference"] == 4 * 128 + 4 * 74
    assert all(x is not None and x > 0.3 for x in v["summary"]["recovered_fraction_per_chip"]["4"])
    json.dumps(res)
    # the report and the figures the command writes
    from charz.plot.study import polarization_figures
    from charz.study.polarization_cli import markdown

    md = markdown({**res, "train_split_size": 1437}, "t")
    assert "| 4 |" in md and "464" in md and "of 1437" in md
    pngs = polarization_figures(res, tmp_path, "t")
    assert [p.name for p in pngs] == ["accuracy_vs_rank.png", "accuracy_vs_fit_images.png", "recovered_per_chip.png",
                                      "energy_vs_rank.png"] and all(p.stat().st_size > 10_000 for p in pngs)


def test_the_command_checks_its_options_and_keeps_a_finished_study(tmp_path):
    bad = charz("study", "polarization", "--model", "lenet5", "--dataset", "mnist", "--out", str(tmp_path / "a"),
                "--formats", "int3")
    assert one_line_error(bad) and "--formats" in bad.stderr
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "result.json").write_text("{}")
    kept = charz("study", "polarization", "--model", "lenet5", "--dataset", "mnist", "--out", str(tmp_path / "b"))
    assert one_line_error(kept) and "--force" in kept.stderr
    assert (tmp_path / "b" / "result.json").read_text() == "{}"
    neg = charz("study", "polarization", "--model", "lenet5", "--dataset", "mnist", "--out", str(tmp_path / "c"),
                "--ranks", "1,-2")
    assert one_line_error(neg)
