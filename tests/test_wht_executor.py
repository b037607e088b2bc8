"""The WHT network on the model executor: the crossbar operator ``ai.charz.WhtCrossbar`` (charz.network.ops_wht),
the ``wht`` backend, ``wht_onnx`` and its figures against ``evaluate_wht`` (charz.network.wht) on the same
chips."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from charz import cli
from charz.blocks.wht import model as bw
from charz.core.errors import ParameterError
from charz.core.lut import find_default
from charz.network import backends as bk
from charz.network import engine, mapping, ops_wht, wht
from charz.network.graph import UnsupportedOperatorError, run, weight_products
from charz.network.onnx_import import load_onnx

LUT = str(find_default("ptm16hp", "wht16").resolve())
MAP = f"""
[[layer]]
match = "wht*"
backend = "wht"
lut = "{LUT}"
vdd = 0.8

[[layer]]
op = "Gemm"
backend = "float"
"""


@pytest.fixture(scope="module")
def net():
    return wht.load_shipped_wht()


@pytest.fixture(scope="module")
def model():
    return wht.wht_onnx()


@pytest.fixture(scope="module")
def data():
    return engine.digits_split()


@pytest.fixture(scope="module")
def wht_map():
    return mapping.parse_mapping(MAP, "wht.toml")


def _legacy_chip_layers(net, seed, chips, c, vdd=0.8):
    """The WhtLayers evaluate_wht draws for chip c (forward, inverse; one generator per chip)."""
    from charz.blocks.wht import model_lut as bwl

    lut, _ = bwl.load_wht_lut(LUT)
    model = bw.WhtModel.from_lut(lut, vdd=vdd)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(chips)[c])
    return [bw.WhtLayer(64, model=model, seed=rng, bits=net.bits, mode="ternary", order=net.order) for _ in range(2)]


# ---- the operator ---------------------------------------------------------------------------------------
def test_graph_has_the_crossbar_nodes_and_counts_the_blocks_not_the_zeros(model):
    g = load_onnx(model)
    ops = [n.op for n in g.nodes]
    assert ops.count(ops_wht.OP) == 2 and "Gather" in ops and ops[-1] == "Gemm"
    prods = weight_products(g, (1, 64), blocks=True)
    assert [(p.name, p.K, p.N, p.groups) for p in prods] == [("wht1.forward", 16, 16, 4), ("wht1.inverse", 16, 16, 4),
                                                            ("classifier", 64, 10, 1)]
    assert [p.name for p in weight_products(g, (1, 64))] == ["classifier"]  # not a weight product
    # MACs: 4 tiles x 16 x 16 per transform = 1024 (the legacy count: 4096 ops for the 2 transforms)
    assert sum(p.K * p.N * p.groups for p in prods[:2]) * 2 == wht.load_shipped_wht().ops_per_inference == 4096


def test_float_path_is_forward_float(model, net, data):
    xte = data[2]
    out = run(load_onnx(model), {"pixels": xte / 16})["logits"]
    np.testing.assert_allclose(out, net.forward_float(xte), rtol=1e-12, atol=1e-12)
    assert np.mean(np.argmax(out, 1) == data[3]) == net.meta["float_test_accuracy"]


def test_quantized_path_is_the_ideal_crossbar_bit_for_bit(model, net, data):
    """With the operator's own ideal path every crossbar output is the legacy integer, so the logits are
    WhtNet.forward's bit for bit (the soft threshold, scaling and classifier are the same operations)."""
    xte = data[2]
    out = run(load_onnx(model), {"pixels": xte / 16}, block=lambda node, call: call.ideal())["logits"]
    np.testing.assert_array_equal(out, net.forward(xte)[0])


def test_block_hook_gets_the_quantized_integers_and_the_threshold_hint(model, net, data):
    seen = {}

    def hook(node, call):
        seen[node.name] = (call.quantize(), call.hints.get("thresholds"), call.spec)
        return call.ideal()

    xte = data[2][:5]
    run(load_onnx(model), {"pixels": xte / 16}, block=hook)
    from charz.blocks.wht.model_planes import quantize_signed

    x_int, t, spec = seen["wht1.forward"]
    np.testing.assert_array_equal(x_int, quantize_signed(net.features(xte), net.s_in[0], net.bits))
    np.testing.assert_array_equal(t, net.thresholds(0))
    assert spec.scale == net.s_in[0] and spec.out_scale == net.k_f[0]  # float64 tensor attributes: exact
    assert seen["wht1.inverse"][1] is None  # no threshold after the inverse: no early termination there


def test_bad_attributes_and_unknown_ops_are_one_line_errors(model):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    fwd = next(n for n in m.graph.node if n.name == "wht1.forward")
    for a in fwd.attribute:
        if a.name == "rows":
            a.i = 12
    with pytest.raises(UnsupportedOperatorError, match=r"WhtCrossbar with rows = 12: .*power of two.*wht1.forward"):
        load_onnx(m)
    fwd.op_type = "WhtCrosbar"
    with pytest.raises(UnsupportedOperatorError) as e:
        load_onnx(m)
    msg = str(e.value)
    assert "\n" not in msg and "'ai.charz.WhtCrosbar'" in msg and "(node 'wht1.forward')" in msg
    assert ops_wht.OP in msg  # the supported list names the real one


def test_saved_model_runs_from_disk(model, data, wht_map, tmp_path):
    path = tmp_path / "digits_wht.onnx"
    onnx.save(model, path)
    xtr, ytr, xte, yte = data
    a = engine.evaluate_model(str(path), xte, yte, wht_map, chips=1, n_images=90, seed=4)
    b = engine.evaluate_model(model, xte, yte, wht_map, chips=1, n_images=90, seed=4)
    assert a["accuracy_per_chip"] == b["accuracy_per_chip"] and a["ideal_accuracy"] == b["ideal_accuracy"]
    assert a["energy_per_inference_J"] == b["energy_per_inference_J"] > 0
    assert engine.model_metadata(str(path))[engine.PREPROCESS_KEY]["scale"] == 1 / 16


# ---- the executor against evaluate_wht ------------------------------------------------------------------
def test_executor_reproduces_evaluate_wht_chip_for_chip(model, net, data, wht_map):
    """Same chips (seed 0, the generator of chip c = SeedSequence(0).spawn(3)[c], forward then inverse
    crossbars drawn from it), same figures. Energies to 1e-12: the executor adds one batch's energy at a
    time. TOPS/W: the executor's total counts the float classifier's 1280 ops too (with no energy); its
    analog TOPS/W is the crossbars' alone, evaluate_wht's figure."""
    xtr, ytr, xte, yte = data
    chips = 3
    r = engine.evaluate_model(model, xte, yte, wht_map, chips=chips, seed=0)
    ev = wht.evaluate_wht(LUT, chips=chips, seed=0)
    assert r["float_accuracy"] == ev["float_accuracy"] == pytest.approx(0.9306, abs=1e-4)
    assert r["ideal_accuracy"] == ev["ideal_accuracy"] == pytest.approx(0.9278, abs=1e-4)
    assert r["accuracy_per_chip"] == ev["cim_accuracy_per_chip"]
    assert r["disagreement_with_ideal"] == pytest.approx(ev["cim_disagreement_with_ideal"], abs=1e-15)
    assert r["energy_per_inference_J"] == pytest.approx(ev["energy_per_inference_et_J"], rel=1e-12)
    assert r["analog_tops_per_watt"] == pytest.approx(ev["tops_per_watt_et"], rel=1e-12)
    assert r["ops_per_inference"] == ev["ops_per_inference"] + 2 * 640 == 5376
    assert r["tops_per_watt"] == pytest.approx(5376 / ev["energy_per_inference_et_J"] / 1e12, rel=1e-12)
    per_img = {row["name"]: row for row in r["layers"]}
    e_no = sum(per_img[n]["counters_per_image"]["energy_no_et_J"] for n in ("wht1.forward", "wht1.inverse"))
    assert e_no == pytest.approx(ev["energy_per_inference_no_et_J"], rel=1e-12)
    assert e_no > r["energy_per_inference_J"]  # early termination saved energy ...
    assert per_img["wht1.inverse"]["counters_per_image"]["skipped_column_planes"] == 0  # ... never after the inverse
    for name, evname in (("wht1.forward", "wht1 forward"), ("wht1.inverse", "wht1 inverse")):
        assert per_img[name]["energy_per_image_J"] == pytest.approx(ev["energy_per_transform_J"][evname], rel=1e-12)

    def frac(c, num, den, layers=("wht1.forward", "wht1.inverse")):
        return sum(c[n][num] for n in layers) / sum(c[n][den] for n in layers)

    cpc = r["counters_per_chip"]
    skipped = [frac(c, "skipped_column_planes", "active_column_planes") for c in cpc]
    assert np.mean(skipped) == pytest.approx(ev["planes_skipped_fraction"], rel=1e-12)
    assert ev["planes_skipped_fraction"] > 0.05
    fwd = [frac(c, "skipped_column_planes", "active_column_planes", ("wht1.forward",)) for c in cpc]
    assert np.mean(fwd) == pytest.approx(ev["planes_skipped_fraction_forward"], rel=1e-12)
    sparsity = [frac(c, "outputs_zero", "outputs", ("wht1.forward",)) for c in cpc]
    assert np.mean(sparsity) == pytest.approx(ev["output_sparsity"], rel=1e-12)
    hist = sum(np.array([c["wht1.forward"][f"planes_evaluated_{k}"] for k in range(8)]) for c in cpc)
    np.testing.assert_array_equal(hist, ev["planes_evaluated_hist_forward"])
    assert np.mean(r["energy_per_chip_J"]) == pytest.approx(r["energy_per_inference_J"], rel=1e-12)
    text = engine.format_result(r)
    assert "TOPS/W analog" in text and "early termination" in text


def test_chip_logits_are_the_legacy_chip_logits_bit_for_bit(model, net, data, wht_map):
    xtr, ytr, xte, yte = data
    plan, _ = engine.make_plan(model, xte, yte, wht_map, seed=5, batch=100)
    got = engine.run_chip(plan, 1, keep_logits=True)["logits"]
    layers = _legacy_chip_layers(net, 5, 2, 1)  # chip 1 of 2: the same SeedSequence child
    legacy, _ = wht._run(net, xte, layers, True)
    np.testing.assert_array_equal(got, legacy)
    ideal = engine.run_chip(plan, "ideal", keep_logits=True)["logits"]
    np.testing.assert_array_equal(ideal, net.forward(xte)[0])  # the ideal twin = the ideal quantized crossbar


def test_early_termination_saves_energy_and_never_changes_a_result(model, data):
    xtr, ytr, xte, yte = data
    base = MAP.replace('vdd = 0.8', 'vdd = 0.8\nearly_termination = false')
    off = engine.evaluate_model(model, xte, yte, mapping.parse_mapping(base), chips=2, n_images=120, seed=1,
                                references=False)
    on = engine.evaluate_model(model, xte, yte, mapping.parse_mapping(MAP), chips=2, n_images=120, seed=1,
                               references=False)
    assert on["accuracy_per_chip"] == off["accuracy_per_chip"]  # a deterministic chip: ET changes no output
    assert on["energy_per_inference_J"] < off["energy_per_inference_J"]
    e_no = sum(row["counters_per_image"]["energy_no_et_J"] for row in on["layers"] if row["backend"] == "wht")
    assert e_no == pytest.approx(off["energy_per_inference_J"], rel=1e-12)
    assert all(row["counters_per_image"].get("skipped_column_planes", 0) == 0 for row in off["layers"])


def test_ideal_crossbar_without_lut_and_vdd_scaling(model, data):
    xtr, ytr, xte, yte = data
    ideal = mapping.parse_mapping('[[layer]]\nop = "*WhtCrossbar"\ncrossbar = "ideal"\n[[layer]]\nop = "Gemm"\n'
                                  'backend = "float"\n')
    r = engine.evaluate_model(model, xte, yte, ideal, chips=2, n_images=120)
    assert r["accuracy_per_chip"] == [r["ideal_accuracy"]] * 2 and r["energy_per_inference_J"] == 0
    assert set(r["layers_without_energy"]) == {"wht1.forward", "wht1.inverse", "classifier"}
    # the LUT at 0.6 V: a cell moves dV by ~8 mV against a ~28 mV latch offset: less energy, more errors
    lo = engine.evaluate_model(model, xte, yte, mapping.parse_mapping(MAP.replace("vdd = 0.8", "vdd = 0.6")), chips=2,
                               n_images=120, references=False)
    hi = engine.evaluate_model(model, xte, yte, mapping.parse_mapping(MAP), chips=2, n_images=120, references=False)
    assert lo["energy_per_inference_J"] < 0.7 * hi["energy_per_inference_J"]
    assert np.mean(lo["accuracy_per_chip"]) < np.mean(hi["accuracy_per_chip"]) - 0.2


# ---- mapping -------------------------------------------------------------------------------------------
def test_crossbar_nodes_go_to_the_wht_backend_by_default(model, data):
    xtr, ytr, xte, yte = data
    plan, _ = engine.make_plan(model, xte[:20], yte[:20], backend="cim")
    assert {n: (lp.backend, lp.kind) for n, lp in plan.layers.items()} == {
        "wht1.forward": ("wht", "block"), "wht1.inverse": ("wht", "block"), "classifier": ("digital", "weight")}
    assert plan.layers["wht1.forward"].options["in_bits"] == 8
    assert plan.layers["wht1.forward"].describe()["quantization"]["operator"]["rows"] == 16


@pytest.mark.parametrize("text,needle", [
    ('[[layer]]\nmatch = "wht*"\nbackend = "cim"\n', "runs on backend 'wht' only"),
    ('[[layer]]\nop = "Gemm"\nbackend = "wht"\n', "runs only ai.charz.WhtCrossbar nodes"),
    ('[[layer]]\nmatch = "wht*"\nbackend = "wht"\nmode = "binary"\n', "mode = 'binary': must be one of sign, ternary"),
    ('[[layer]]\nmatch = "wht*"\nbackend = "wht"\nin_bits = 4\n', "does not apply"),
    ('[defaults]\nin_bits = 4\n', "set by the executor"),
])
def test_mapping_errors_are_one_line(model, data, text, needle):
    xtr, ytr, xte, yte = data
    with pytest.raises(ParameterError) as e:
        engine.make_plan(model, xte[:10], yte[:10], mapping.parse_mapping(text, "m.toml"))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_wrong_lut_size_is_a_one_line_error(model, data):
    xtr, ytr, xte, yte = data
    wht32 = find_default("ptm16hp", "wht32").resolve()
    m = mapping.parse_mapping(f'[[layer]]\nmatch = "wht*"\nlut = "{wht32}"\n[[layer]]\nop = "Gemm"\n'
                              'backend = "float"\n')
    with pytest.raises(ParameterError, match=r"needs 16x16 crossbars.*R = 32"):
        engine.evaluate_model(model, xte[:10], yte[:10], m, chips=1, references=False)


def test_backend_contract():
    rng = np.random.default_rng(0)
    b = bk.make_backend("wht", {"lut": LUT, "vdd": 0.8, "in_bits": 6}, rng)
    h = bk.wht_planes.block_hadamard(32, 16, "sylvester")
    b.program(h)
    x = rng.integers(-31, 32, (7, 32))
    y, c = b.matmul(x, thresholds=np.full(32, 3.0))
    yi, ci = b.ideal().matmul(x)
    assert y.shape == (7, 32) and c.ops == 2 * 16 * 16 * 2 * 7 and c.energy_J > 0 and ci.energy_J > 0
    np.testing.assert_array_equal(yi, bw.WhtLayer(32, n_rows=16, bits=6)(x)[0])
    assert c.counters["column_evaluations"] == c.conversions <= ci.conversions
    with pytest.raises(ParameterError, match="block Hadamard"):
        bk.make_backend("wht", {}, 0).program(np.ones((32, 32)))


# ---- the command line -----------------------------------------------------------------------------------
def test_cli_runs_the_wht_model_from_a_file(model, tmp_path, capsys):
    path = tmp_path / "digits_wht.onnx"
    onnx.save(model, path)
    toml = tmp_path / "wht.toml"
    toml.write_text(MAP)
    out = tmp_path / "out"
    capsys.readouterr()
    rc = cli.main(["eval", "--model", str(path), "--dataset", "digits", "--map", str(toml), "--images", "60",
                   "--chips", "2", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    res = json.loads((out / "result.json").read_text())
    assert [row["backend"] for row in res["layers"]] == ["wht", "wht", "float"]
    assert res["n_images"] == 60 and len(res["accuracy_per_chip"]) == 2
    assert 0.5 < res["ideal_accuracy"] <= 1 and res["energy_per_inference_J"] > 1e-12
    assert "wht1.forward" in text and "TOPS/W analog" in text


def test_custom_op_model_built_by_hand_runs_its_float_and_quantized_paths():
    """A minimal hand-written model (scalar threshold, float attributes): float path = x @ H / out_scale."""
    h = bk.wht_planes.block_hadamard(32, 16, "sylvester").astype(float)
    node = helper.make_node("WhtCrossbar", ["x", "t"], ["y"], name="xbar", domain="ai.charz", rows=16, bits=6,
                            scale=0.25, out_scale=0.5)
    g = helper.make_graph([node], "one", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 32])],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 32])],
                          [numpy_helper.from_array(np.array(2.0), "t")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.charz", 1)])
    gr = load_onnx(m.SerializeToString())
    x = np.random.default_rng(1).uniform(-7, 7, (5, 32))
    np.testing.assert_allclose(run(gr, {"x": x})["y"], x @ h / 0.5, rtol=1e-14)
    q = run(gr, {"x": x}, block=lambda n, c: c.ideal())["y"]
    np.testing.assert_array_equal(q, bw.WhtLayer(32, bits=6)(np.clip(np.rint(x / 0.25), -31, 31))[0])


def test_image_shards_merge_exactly(model, data, wht_map):
    xtr, ytr, xte, yte = data
    one = engine.evaluate_model(model, xte, yte, wht_map, chips=2, n_images=150, batch=40, references=False)
    three = engine.evaluate_model(model, xte, yte, wht_map, chips=2, n_images=150, batch=40, references=False, shards=3)
    assert three["accuracy_per_chip"] == one["accuracy_per_chip"]
    assert three["energy_per_inference_J"] == one["energy_per_inference_J"]
    assert three["counters_per_chip"] == one["counters_per_chip"]


def test_integer_classifier_is_calibrated_behind_the_quantized_crossbars(model, net, data):
    """calib_pass="quantized": the classifier's activation range is observed with the crossbars before it
    quantized (their ideal path), as the network's own classifier sees them."""
    xtr, ytr, xte, yte = data
    m = mapping.parse_mapping('[[layer]]\nop = "Gemm"\nbackend = "exact"\n')
    plan, about = engine.make_plan(model, xte, yte, m, calib_images=xtr, calib_count=500, calib_pass="quantized")
    lp = plan.layers["classifier"]
    assert lp.x_quant is not None and lp.x_quant.signed  # the inverse transform's output has both signs
    feats = run(load_onnx(model), {"pixels": xtr[:500] / 16}, block=lambda n, c: c.ideal(), until=["wht1.o"])["wht1.o"]
    assert lp.x_quant.scale == pytest.approx(np.percentile(np.abs(feats), 99.99) / 127, rel=1e-6)
    r = engine.run_chip(plan, "ideal")
    assert abs(r["accuracy"] - net.meta["ideal_test_accuracy"]) < 0.02


def test_default_operating_point_is_the_published_one_as_network_wht_picks(model, data):
    """Without vdd the wht backend runs at the published 0.8 V (on the LUT's grid), as `--network wht` does:
    the same chips as vdd = 0.8 given, bit for bit; 0.6 V differs."""
    xtr, ytr, xte, yte = data
    given = engine.evaluate_model(model, xte, yte, mapping.parse_mapping(MAP), chips=2, n_images=60, references=False)
    default = engine.evaluate_model(model, xte, yte, mapping.parse_mapping(MAP.replace("vdd = 0.8\n", "")), chips=2,
                                    n_images=60, references=False)
    assert "vdd" not in MAP.replace("vdd = 0.8\n", "")
    assert default["accuracy_per_chip"] == given["accuracy_per_chip"]
    assert default["energy_per_inference_J"] == given["energy_per_inference_J"] > 0
    from charz.network import backends as bk

    assert bk.wht_model({"lut": LUT}).coords["vdd"] == pytest.approx(0.8)
    assert bk.wht_model({"lut": LUT, "vdd": 0.6}).coords["vdd"] == pytest.approx(0.6)
