"""The network executor (charz.network.engine) with its quantization, backends and mapping files: exactness of
the integer arithmetic, the backend contract, mapping files and their errors, a generated Conv + Gemm model,
and the digits MLP reproduced against charz.network.evaluate / charz.network.td_mac."""

import dataclasses
import pickle

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from charz.behavior.interfaces import Cost, MatmulBackend
from charz.core.errors import ParameterError
from charz.core.lut import find_default
from charz.network import backends as bk
from charz.network import engine, mapping, quant
from charz.network.graph import run
from charz.network.mlp import load_shipped


# ---- quantization -----------------------------------------------------------------------------------------
def _python_ints(x, w):
    """x @ w with Python integers (object arrays): no overflow, no rounding."""
    return np.asarray(x, dtype=object) @ np.asarray(w, dtype=object)


@pytest.mark.parametrize("xb,wb,signed,k", [(4, 4, False, 64), (8, 8, True, 1000), (16, 16, True, 300)])
def test_integer_product_is_exact_bit_for_bit(xb, wb, signed, k):
    rng = np.random.default_rng(xb + wb + k)
    qx, qw = quant.qmax(xb, signed), quant.qmax(wb, True)
    x = rng.integers(-qx if signed else 0, qx + 1, (37, k))
    w = rng.integers(-qw, qw + 1, (k, 11))
    y = quant.integer_matmul(x, w)
    assert y.dtype == np.int64
    assert (y == _python_ints(x, w)).all()
    b = bk.ExactBackend(wb, xb, signed)
    b.program(w)
    yb, cost = b.matmul(x)
    assert (yb == _python_ints(x, w)).all() and cost.ops == 2 * 37 * k * 11 and cost.energy == {}


def test_integer_product_beyond_float64_uses_int64():
    # |x| ~ 2^26, |w| ~ 2^26, K = 8: partial sums reach 2^55 > 2^53, where float64 loses the last bits
    rng = np.random.default_rng(1)
    x = rng.integers(2**26 - 1000, 2**26, (5, 8)) * rng.choice([-1, 1], (5, 8))
    w = rng.integers(2**26 - 1000, 2**26, (8, 3))
    y = quant.integer_matmul(x, w)
    assert (y == _python_ints(x, w)).all()
    with pytest.raises(ParameterError, match="overflow"):
        quant.integer_matmul(x * 2**20, w * 2**20)


def test_weight_and_activation_quantization():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((20, 6))
    w[:, 3] = 0.0
    wq = quant.weight_quant(w, 4)
    wi = wq.quantize(w)
    assert wi.min() >= -7 and wi.max() <= 7
    np.testing.assert_array_equal(np.abs(wi[:, [0, 1, 2, 4, 5]]).max(axis=0), 7)  # every channel uses its range
    assert wq.scale[3] == 1.0 and (wi[:, 3] == 0).all()
    np.testing.assert_allclose(wq.scale[[0, 1]], np.abs(w[:, [0, 1]]).max(axis=0) / 7)
    wt = quant.weight_quant(w, 4, "tensor")
    assert np.ptp(wt.scale) == 0 and wt.scale[0] == np.abs(w).max() / 7
    assert np.abs(wq.dequantize(wi) - w).max() <= wq.scale.max() / 2 + 1e-12
    # activations: unsigned after a ReLU, signed symmetric otherwise
    a = quant.act_quant(0.0, 3.0, 4)
    assert not a.signed and a.scale == 3.0 / 15 and a.qmin == 0 and a.qmax == 15
    np.testing.assert_array_equal(a.quantize([-1.0, 0.1, 0.11, 3.0, 9.0]), [0, 0, 1, 15, 15])
    s = quant.act_quant(-2.0, 1.0, 4)
    assert s.signed and s.scale == 2.0 / 7 and s.qmin == -7
    np.testing.assert_array_equal(s.quantize([-5.0, -2.0, 0.0, 1.0]), [-7, -7, 0, 4])
    with pytest.raises(ParameterError, match="x_bits"):
        quant.act_quant(-1.0, 1.0, 1)
    with pytest.raises(ParameterError, match="w_bits"):
        quant.weight_quant(w, 1)


def test_range_observer_percentile_and_minmax():
    rng = np.random.default_rng(2)
    v = np.maximum(rng.standard_normal(10_000), 0)
    o = quant.RangeObserver("percentile", 99.9)
    for part in np.array_split(v, 3):
        o.update(part)
    assert not o.signed and o.range() == (0.0, float(np.percentile(v, 99.9)))
    m = quant.RangeObserver("minmax")
    m.update(v - 0.5)
    a = max(0.5, v.max() - 0.5)
    assert m.signed and m.range() == (-a, a)
    big = quant.RangeObserver("percentile", 99.0, max_values=1000)
    big.update(v)
    assert big.kept == 1000 and abs(big.range()[1] - np.percentile(v, 99.0)) < 0.3
    with pytest.raises(ParameterError, match="percentile"):
        quant.RangeObserver("percentile", 40)


# ---- backends ---------------------------------------------------------------------------------------------
BACKEND_CASES = {
    "float": ({}, set()),
    "exact": ({"w_bits": 4, "x_bits": 4}, set()),
    "digital": ({"w_bits": 4, "x_bits": 4}, {"digital"}),
    "cim": ({"w_bits": 4, "x_bits": 4}, {"array", "readout"}),
    "cim_signed": ({"w_bits": 4, "x_bits": 4, "x_signed": True}, {"array", "readout"}),
    "cim_ideal_columns": ({"w_bits": 4, "x_bits": 4, "columns": "ideal", "tile_rows": 8}, set()),
    "td_mac": ({"length": 8, "circuit": "ideal", "adc": 6}, {"mac", "readout"}),
}


@pytest.mark.parametrize("case", list(BACKEND_CASES))
def test_backend_contract(case):
    name = case.split("_")[0] if case.startswith("cim") else case
    opts, components = BACKEND_CASES[case]
    rng = np.random.default_rng(3)
    b = bk.make_backend(name, opts, chip_seed=5)
    assert isinstance(b, MatmulBackend) and b.shape is None and isinstance(b.label, str) and b.label
    k, n, rows = 40, 6, 9
    if b.operands == "int":
        w = rng.integers(-7, 8, (k, n))
        x = rng.integers(-7, 8, (rows, k)) if opts.get("x_signed") else rng.integers(0, 16, (rows, k))
    else:
        w, x = rng.standard_normal((k, n)), rng.random((rows, k))
    with pytest.raises(ParameterError, match="program"):
        b.matmul(x)
    b.program(w)
    assert b.shape == (k, n)
    y, c = b.matmul(x)
    assert y.shape == (rows, n) and isinstance(c, Cost)
    assert c.ops == 2 * rows * k * n and set(c.energy) == components
    assert all(v >= 0 for v in c.energy.values())
    tw = b.ideal()
    assert isinstance(tw, MatmulBackend) and tw.shape == (k, n)
    yi, ci = tw.matmul(x)
    if b.operands == "int":
        exact = _python_ints(x, w).astype(np.int64)
        np.testing.assert_array_equal(yi, exact)  # the ideal twin is the exact integer product
        if case in ("exact", "digital", "cim_ideal_columns"):
            np.testing.assert_array_equal(y, exact)
    else:
        np.testing.assert_allclose(yi, x @ w, rtol=0.07, atol=0.07 * np.abs(x @ w).max())
    # the same seed is the same chip
    b2 = bk.make_backend(name, opts, chip_seed=5)
    b2.program(w)
    np.testing.assert_array_equal(b2.matmul(x)[0], y)
    if case == "cim":
        assert c.latency is not None and c.latency > 0 and c.conversions == c.counters["column_evaluations"] > 0
        assert c.energy["readout"] == 0.0  # the ideal quantizer: 0 J
    if case == "digital":
        assert c.energy["digital"] == rows * k * n * bk.DIGITAL_MAC_ENERGY_J


def test_cim_offset_binary_signed_inputs_equal_exact_on_nominal_columns():
    b = bk.make_backend("cim", {"w_bits": 4, "x_bits": 5, "x_signed": True, "mismatch_scale": 0.0}, 0)
    rng = np.random.default_rng(4)
    w = rng.integers(-7, 8, (50, 7))
    x = rng.integers(-15, 16, (20, 50))
    b.program(w)
    y, c = b.matmul(x)
    np.testing.assert_array_equal(y, x @ w)
    assert b.describe()["input_coding"] == "offset binary" and b.describe()["tiles"] == 4
    with pytest.raises(ParameterError, match=r"\[-15, 15\]"):
        b.matmul(x * 2)


def test_backend_option_errors():
    with pytest.raises(ParameterError, match="must be one of"):
        bk.make_backend("analog", {})
    with pytest.raises(ParameterError, match="'tile_rows' does not apply to backend 'digital'"):
        bk.make_backend("digital", {"tile_rows": 16})
    with pytest.raises(ParameterError, match="x_bits = 9"):
        bk.make_backend("cim", {"x_bits": 9})
    with pytest.raises(ParameterError, match="tile_rows = 8, but the column LUT has N = 16"):
        bk.make_backend("cim", {"tile_rows": 8})
    with pytest.raises(ParameterError, match="need an adc_lut"):
        bk.make_backend("cim", {"calibration": "offset"})


# ---- mapping files ----------------------------------------------------------------------------------------
LAYERS = [("conv1", "Conv"), ("conv2", "Conv"), ("fc1", "Gemm"), ("head", "Gemm")]


def test_mapping_file_rules_defaults_and_first_last(tmp_path):
    f = tmp_path / "map.toml"
    f.write_text('[defaults]\nbackend = "cim"\nw_bits = 6\ntile_rows = 16\n\n'
                 '[[layer]]\nmatch = "conv2"\nbackend = "td_mac"\nlength = 8\n\n'
                 '[[layer]]\nop = "Gemm"\nmatch = "fc*"\nadc_lut = "luts/adc_sar4"\n\n'
                 '[[layer]]\nop = "Gemm"\nbackend = "exact"\n')
    m = mapping.load_mapping(f)
    a = m.resolve(LAYERS)
    assert a["conv1"].backend == "digital" and a["conv1"].rule.startswith("first/last")
    assert a["conv1"].options == {"w_bits": 6}  # tile_rows is no digital option: left out
    assert a["conv2"].backend == "td_mac" and a["conv2"].options == {"length": 8}
    assert a["fc1"].backend == "cim" and a["fc1"].options["adc_lut"] == str(tmp_path / "luts/adc_sar4")
    assert a["fc1"].options["tile_rows"] == 16 and a["fc1"].rule.endswith("[[layer]] 2")
    assert a["head"].backend == "exact"  # an entry wins over the first / last rule
    same = mapping.load_mapping(f, first_last="same").resolve(LAYERS)
    assert same["conv1"].backend == "cim" and same["conv2"].backend == "td_mac"
    with pytest.raises(mapping.MappingError, match=r"\[\[layer\]\] 2 \(layer 'fc1' on exact\): key 'adc_lut' does not"):
        mapping.load_mapping(f, backend="exact").resolve(LAYERS)  # entry 2 names no backend: the default's
    d = mapping.default_mapping("cim").resolve(LAYERS)
    assert [d[n].backend for n, _ in LAYERS] == ["digital", "cim", "cim", "digital"]
    assert mapping.default_mapping("cim", "same").resolve(LAYERS)["head"].backend == "cim"


@pytest.mark.parametrize("text,message", [
    ('[defaults]\ntile_row = 16\n', r"map\.toml: \[defaults\]: unknown key 'tile_row'"),
    ('[defaults]\nbackend = "analog"\n', r"\[defaults\]: backend = 'analog': must be one of"),
    ('[defaults]\nfirst_last = "both"\n', "first_last = 'both'"),
    ('[defaults]\nx_signed = true\n', "'x_signed' is set by the executor"),
    ('[[layer]]\nbackend = "cim"\n', r"\[\[layer\]\] 1: give match"),
    ('[[layer]]\nmatch = "fc"\nbackend = "digital"\ntile_rows = 16\n', r"\[\[layer\]\] 1: key 'tile_rows' does not apply"),
    ('[[layer]]\nmatch = "fc"\nbackend = "cim"\ntile_rows = 0\n', r"\[\[layer\]\] 1: tile_rows = 0: must be >= 1"),
    ('[[layer]]\nmatch = "fc"\nw_bits = "four"\n', "w_bits = 'four': must be an integer"),
    ('[[layer]]\nmatch = 3\n', "match = 3: must be a non-empty string"),
    ('[layers]\nmatch = "x"\n', "unknown table or key 'layers'"),
    ('[defaults\n', "not valid TOML"),
])
def test_mapping_file_errors_name_the_file_and_key(tmp_path, text, message):
    f = tmp_path / "map.toml"
    f.write_text(text)
    with pytest.raises(mapping.MappingError, match=message) as e:
        mapping.load_mapping(f)
    assert "\n" not in str(e.value) and str(f) in str(e.value)


def test_mapping_errors_at_resolve_and_missing_file(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('[defaults]\nbackend = "cim"\nx_bits = 12\n')
    with pytest.raises(mapping.MappingError, match="x_bits = 12: the CiM column applies at most 8-bit"):
        mapping.load_mapping(f, first_last="same").resolve(LAYERS)
    f.write_text('[[layer]]\nmatch = "fc1"\ncolumns = "ideal"\n')  # no backend: checked against the default
    with pytest.raises(mapping.MappingError, match=r"\[\[layer\]\] 1 \(layer 'fc1' on digital\): key 'columns'"):
        mapping.load_mapping(f, backend="digital").resolve(LAYERS)
    with pytest.raises(mapping.MappingError, match="not found"):
        mapping.load_mapping(tmp_path / "none.toml")


# ---- a generated Conv + Gemm model ------------------------------------------------------------------------
def conv_gemm_onnx(seed=0):
    """image (N, 1, 8, 8) -> Conv 3x3 pad 1 (4) -> Relu -> grouped Conv 3x3 (group 2, 4) -> MaxPool 2 ->
    Flatten -> Gemm (36 -> 10): the Gemm's inputs are signed (no ReLU before it)."""
    rng = np.random.default_rng(seed)
    t = {"w1": rng.standard_normal((4, 1, 3, 3)) * 0.5, "b1": rng.standard_normal(4) * 0.1,
         "w2": rng.standard_normal((4, 2, 3, 3)) * 0.4, "b2": rng.standard_normal(4) * 0.1,
         "w3": rng.standard_normal((36, 10)) * 0.3, "b3": rng.standard_normal(10) * 0.1}
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in t.items()]
    nodes = [helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", group=2),
             helper.make_node("MaxPool", ["c2"], ["p2"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p2"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], name="fc")]
    g = helper.make_graph(nodes, "conv_gemm", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), {k: v.astype(np.float32) for k, v in t.items()}


@pytest.fixture(scope="module")
def digits():
    return engine.digits_split()


@pytest.fixture(scope="module")
def conv_model():
    return conv_gemm_onnx()


def _plan(conv_model, digits, mp, **kw):
    xtr, ytr, xte, yte = digits
    return engine.make_plan(conv_model[0], xte[:64], yte[:64], mp, batch=kw.pop("batch", 32), calib_images=xtr,
                            calib_count=128, **kw)[0]


def test_float_backend_matches_graph_run(conv_model, digits):
    plan = _plan(conv_model, digits, mapping.default_mapping("float", "same"), batch=64)
    assert [(lp.name, lp.K, lp.N, lp.groups, lp.positions) for lp in plan.layers.values()] == \
        [("conv1", 9, 4, 1, 64), ("conv2", 18, 2, 2, 36), ("fc", 36, 10, 1, 1)]
    r = engine.run_chip(plan, 0, keep_logits=True)
    x = plan.inputs()
    ref = run(plan.graph, {"image": x})["logits"]
    assert x.dtype == np.float32 and x.shape == (64, 1, 8, 8) and x.max() == 1.0 and plan.pre["scale"] == 1 / 16
    np.testing.assert_array_equal(r["logits"], ref)
    np.testing.assert_array_equal(engine.run_chip(plan, "float", keep_logits=True)["logits"], ref)
    assert r["costs"]["conv2"].ops == 2 * 64 * 36 * 18 * 2 * 2


def _conv_int_reference(plan, t, x):
    """The quantized network in plain NumPy, independent of the executor's im2col and hooks: per-channel weight
    scales recomputed from the ONNX weights, integer convolutions by explicit sums over the kernel offsets,
    dequantized and cast to float32 where the float32 model casts."""
    L = plan.layers

    def wq(w, bits):  # (O, ...) -> ints, scale per output channel
        s = np.abs(w.astype(np.float64)).reshape(w.shape[0], -1).max(axis=1) / (2 ** (bits - 1) - 1)
        return np.clip(np.rint(w / s.reshape((-1,) + (1,) * (w.ndim - 1))), -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1).astype(np.int64), s

    def conv(xi, wi, pad, groups):
        n, c, h, w_ = xi.shape
        xp = np.pad(xi, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        o, cg, kh, kw = wi.shape
        ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
        out = np.zeros((n, o, ho, wo), np.int64)
        per = o // groups
        for oc in range(o):
            g = oc // per
            for ci in range(cg):
                for i in range(kh):
                    for j in range(kw):
                        out[:, oc] += xp[:, g * cg + ci, i:i + ho, j:j + wo] * wi[oc, ci, i, j]
        return out

    a1, a2, a3 = (L[n].x_quant for n in ("conv1", "conv2", "fc"))
    w1, s1 = wq(t["w1"], 4)
    w2, s2 = wq(t["w2"], 4)
    w3, s3 = wq(t["w3"].T, 4)
    np.testing.assert_array_equal(np.concatenate([q.scale for q in L["conv2"].w_quant]), s2)
    h = conv(a1.quantize(x), w1, 1, 1) * (a1.scale * s1).reshape(1, -1, 1, 1)
    h = np.maximum(h.astype(np.float32) + t["b1"].reshape(1, -1, 1, 1), 0)
    h = conv(a2.quantize(h), w2, 0, 2) * (a2.scale * s2).reshape(1, -1, 1, 1)
    h = h.astype(np.float32) + t["b2"].reshape(1, -1, 1, 1)
    h = h.reshape(h.shape[0], 4, 3, 2, 3, 2).max(axis=(3, 5)).reshape(h.shape[0], -1)
    acc = _python_ints(a3.quantize(h), w3.T).astype(np.int64)
    return (acc * (a3.scale * s3)).astype(np.float32) + t["b3"]


def test_exact_backend_equals_integer_arithmetic(conv_model, digits):
    mp = mapping.default_mapping("exact", "same", w_bits=4, x_bits=5)
    plan = _plan(conv_model, digits, mp)
    L = plan.layers
    assert [L[n].x_quant.signed for n in ("conv1", "conv2", "fc")] == [False, False, True]
    assert [L[n].x_quant.qmax for n in ("conv1", "conv2", "fc")] == [31, 31, 15]
    r = engine.run_chip(plan, 0, keep_logits=True)
    np.testing.assert_array_equal(r["logits"], _conv_int_reference(plan, conv_model[1], plan.inputs()))
    np.testing.assert_array_equal(engine.run_chip(plan, "ideal", keep_logits=True)["logits"], r["logits"])
    # a chip is one picklable call
    again = engine.run_chip(pickle.loads(pickle.dumps(plan)), 0, keep_logits=True)
    np.testing.assert_array_equal(again["logits"], r["logits"])


def test_quantized_calibration_goes_layer_by_layer(conv_model, digits):
    mp = mapping.default_mapping("exact", "same", w_bits=4, x_bits=4, act_range="minmax")
    plan = _plan(conv_model, digits, mp, calib_pass="quantized")
    assert [lp.level for lp in plan.layers.values()] == [0, 1, 2]
    fl = _plan(conv_model, digits, mp, calib_pass="float")
    assert plan.layers["conv1"].x_quant == fl.layers["conv1"].x_quant  # the input: nothing quantized before it
    assert plan.layers["fc"].x_quant.scale != fl.layers["fc"].x_quant.scale


@pytest.mark.parametrize("extra", [{"mismatch_scale": 0.0}, {"columns": "ideal"}])
def test_cim_on_ideal_columns_equals_exact(conv_model, digits, extra):
    opts = dict(w_bits=4, x_bits=5, **extra)
    exact = engine.run_chip(_plan(conv_model, digits, mapping.default_mapping("exact", "same", w_bits=4, x_bits=5)),
                            0, keep_logits=True)
    plan = _plan(conv_model, digits, mapping.default_mapping("cim", "same", **opts))
    r = engine.run_chip(plan, 1, keep_logits=True)
    np.testing.assert_array_equal(r["logits"], exact["logits"])
    if "columns" not in extra:  # LUT columns: energy and timing from the LUT
        c = r["costs"]["conv2"]
        assert c.energy["array"] > 0 and c.latency > 0
        assert c.counters["column_evaluations"] == 64 * 36 * 2 * 5 * 2 * (2 * 3 * 2)  # images x positions x groups x planes x tiles x columns


def test_evaluate_model_result_on_conv_model(conv_model, digits):
    xtr, ytr, xte, yte = digits
    m = mapping.parse_mapping('[defaults]\nw_bits = 4\nx_bits = 4\n[[layer]]\nmatch = "conv2"\nbackend = "cim"\n',
                              "inline")
    r = engine.evaluate_model(conv_model[0], xte[:48], yte[:48], m, chips=3, seed=1, batch=16, calib_images=xtr)
    assert [row["backend"] for row in r["layers"]] == ["digital", "cim", "digital"]
    assert r["accuracy_ci95"][0] <= r["accuracy_mean"] <= r["accuracy_ci95"][1] and len(r["accuracy_per_chip"]) == 3
    conv2 = r["layers"][1]
    assert conv2["tiles"] == 2 * 2 and conv2["column_evaluations_per_image"] == 36 * 2 * 4 * 2 * 12
    assert conv2["conversions_per_image"] == conv2["column_evaluations_per_image"]
    assert r["layers"][0]["output_sparsity"] is not None and r["layers"][2]["output_sparsity"] is None
    assert r["macs_per_inference"] == 64 * 9 * 4 + 36 * 18 * 2 * 2 + 36 * 10
    e = r["energy_per_inference_J"]
    assert e == pytest.approx(sum(r["energy_by_layer_J"].values()), rel=1e-12)
    assert r["energy_by_layer_J"]["conv1"] == pytest.approx(64 * 9 * 4 * bk.DIGITAL_MAC_ENERGY_J, rel=1e-12)
    assert r["tops_per_watt"] == pytest.approx(r["ops_per_inference"] / e / 1e12)
    assert r["latency_per_inference_s"] is None and r["layers_without_latency"] == ["conv1", "fc"]
    assert r["calibration"] == {"images": "the first 256 of the calibration images given", "pass": "float"}
    assert engine.format_result(r).count("\n") >= 10


# ---- the digits MLP reproduced --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlp_model():
    return engine.mlp_onnx()


@pytest.fixture(scope="module")
def column_lut():
    return find_default("ptm16hp", "cim_column")


def test_mlp_exact_reproduces_ideal_integer_network(mlp_model, digits):
    xtr, ytr, xte, yte = digits
    net = load_shipped()
    plan, _ = engine.make_plan(mlp_model, xte, yte, backend="exact", first_last="same", batch=100)
    r = engine.run_chip(plan, 0, keep_logits=True)
    logits, hidden = net.forward_int(net.input_ints(xte))
    np.testing.assert_array_equal(r["logits"], logits)  # bit for bit, in batches of 100
    assert r["accuracy"] == net.meta["ideal_int_test_accuracy"] == 0.975
    fl = engine.run_chip(plan, "float", keep_logits=True)
    np.testing.assert_allclose(fl["logits"], net.forward_float(xte), rtol=1e-12, atol=1e-12)
    assert fl["accuracy"] == pytest.approx(net.meta["float_test_accuracy"])


def test_mlp_calibrated_from_scratch_finds_the_recorded_scales(digits):
    xtr, ytr, xte, yte = digits
    net = load_shipped()
    mp = mapping.default_mapping("exact", "same", w_bits=4, x_bits=4, weight_scale="tensor", percentile=99.9)
    plan, _ = engine.make_plan(engine.mlp_onnx(record_quantization=False), xte, yte, mp, calib_images=xtr,
                               calib_count=xtr.shape[0], calib_pass="quantized")
    fc1, fc2 = plan.layers["fc1"], plan.layers["fc2"]
    assert fc1.x_quant.scale == net.act_scale[0] == 1 / 15
    # the weight scale comes from the float32 weights (the MLP took it from float64 ones): 1.3e-8 apart
    assert fc2.x_quant.scale == pytest.approx(net.act_scale[1], rel=1e-7)
    assert fc1.w_quant[0].scale[0] == pytest.approx(net.w_scale[0], rel=1e-7)
    np.testing.assert_array_equal(fc1.w_int[0], net.w_int[0])
    np.testing.assert_array_equal(fc2.w_int[0], net.w_int[1])
    assert engine.run_chip(plan, 0)["accuracy"] == 0.975


def test_mlp_cim_reproduces_evaluate_for_the_same_seeds(mlp_model, digits, column_lut):
    from charz.network.evaluate import evaluate

    xtr, ytr, xte, yte = digits
    r = engine.evaluate_model(mlp_model, xte, yte, backend="cim", first_last="same", chips=3, seed=0, batch=90)
    ev = evaluate(column_lut, chips=3, seed=0)
    assert r["accuracy_per_chip"] == ev["cim_accuracy_per_chip"]
    assert r["ideal_accuracy"] == ev["ideal_accuracy"] and r["float_accuracy"] == ev["float_accuracy"]
    assert r["disagreement_with_ideal"] == pytest.approx(ev["cim_disagreement_with_ideal"], abs=1e-15)
    assert r["energy_per_inference_J"] == pytest.approx(ev["energy_per_inference_J"], rel=1e-12)
    assert r["tops_per_watt"] == pytest.approx(ev["tops_per_watt"], rel=1e-12)
    assert r["ops_per_inference"] == ev["ops"] == 9472
    assert r["latency_per_inference_s"] == pytest.approx(ev["timing"]["latency_s"], rel=1e-12)
    fc1, fc2 = r["layers"]
    assert fc1["column_evaluations_per_image"] == ev["evaluations_per_layer"]["fc1 (64x64)"]
    assert fc2["input_sparsity"] == pytest.approx(ev["sparsity"]["fc1 (64x64) ReLU out"], rel=1e-12)


def test_mlp_cim_with_a_converter_lut_reproduces_evaluate(mlp_model, digits, column_lut):
    from charz.network.evaluate import evaluate

    xtr, ytr, xte, yte = digits
    adc = str(find_default("ptm16hp", "adc_sar4"))
    m = mapping.default_mapping("cim", "same", adc_lut=adc)
    r = engine.evaluate_model(mlp_model, xte, yte, m, chips=2, seed=3, references=False)
    ev = evaluate(column_lut, chips=2, seed=3, adc_lut=adc)
    assert r["accuracy_per_chip"] == ev["cim_accuracy_per_chip"]
    assert r["energy_by_component_J"]["readout"] == pytest.approx(ev["adc_energy_per_inference_J"], rel=1e-12)
    assert r["energy_by_component_J"]["array"] == pytest.approx(ev["array_energy_per_inference_J"], rel=1e-12)
    assert r["latency_per_inference_s"] == pytest.approx(ev["timing"]["latency_s"], rel=1e-12)


def test_mlp_td_mac_reproduces_evaluate_td(mlp_model, digits):
    from charz.blocks.td_mac.model import model_from_luts
    from charz.network.td_mac import evaluate_td

    xtr, ytr, xte, yte = digits
    r = engine.evaluate_model(mlp_model, xte, yte, backend="td_mac", first_last="same", chips=2, seed=0, batch=360)
    td = evaluate_td([model_from_luts(seed=s) for s in (0, 1)], references=False)
    assert r["accuracy_per_chip"] == td["td_accuracy_per_chip"]
    assert r["ideal_accuracy"] == 0.975  # exact FP8 (README: 97.50 %)
    assert set(r["energy_by_component_J"]) == {"mac", "readout"} and r["tops_per_watt"] > 0


def test_attention_products_are_booked_as_digital_macs():
    """MatMul with a constant weight goes to the mapped backend (positions = tokens); activation x activation
    products run in float and are booked as digital MACs."""
    rng = np.random.default_rng(7)
    t = {"wq": rng.standard_normal((8, 8)), "wv": rng.standard_normal((8, 8)), "wo": rng.standard_normal((32, 3)),
         "bo": np.zeros(3)}
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"], name="q"),
             helper.make_node("MatMul", ["x", "wv"], ["v"], name="v"),
             helper.make_node("Transpose", ["q"], ["qt"], name="qt", perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "qt"], ["s"], name="scores"),
             helper.make_node("Softmax", ["s"], ["p"], name="softmax", axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["o"], name="mix"),
             helper.make_node("Flatten", ["o"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "wo", "bo"], ["y"], name="head")]
    g = helper.make_graph(nodes, "attn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                          [numpy_helper.from_array(v.astype(np.float32), k) for k, v in t.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((20, 32))
    r = engine.evaluate_model(model, x, rng.integers(0, 3, 20), backend="exact", chips=2, batch=7)
    assert [(row["name"], row["backend"], row["positions"]) for row in r["layers"]] == \
        [("q", "digital", 4), ("v", "exact", 4), ("head", "digital", 1)]
    assert r["activation_product_macs_per_inference"] == 4 * 4 * 8 + 4 * 4 * 8
    assert r["energy_by_component_J"]["digital"] == pytest.approx(
        (4 * 8 * 8 + 32 * 3 + 256) * bk.DIGITAL_MAC_ENERGY_J, rel=1e-12)
    assert r["macs_per_inference"] == 2 * 4 * 8 * 8 + 32 * 3 + 256 and r["layers_without_energy"] == ["v"]
    assert r["layers"][0]["quantization"]["activations"]["signed"]


# ---- chips and image shards in parallel -----------------------------------------------------------------
def _parallel_case(conv_model, digits, **kw):
    xtr, ytr, xte, yte = digits
    m = mapping.parse_mapping('[defaults]\nw_bits = 4\nx_bits = 4\n[[layer]]\nmatch = "conv2"\nbackend = "cim"\n',
                              "inline")
    return engine.evaluate_model(conv_model[0], xte[:80], yte[:80], m, chips=3, seed=2, batch=16,
                                 calib_images=xtr, calib_count=64, **kw)


def _same(a, b):
    """Two evaluate_model results equal bit for bit (floats compared with ==, NaN-free)."""
    assert a.keys() == b.keys()
    for k in a:
        if k == "layers":
            for ra, rb in zip(a[k], b[k]):
                assert ra == rb, ra["name"]
        else:
            assert a[k] == b[k], k


@pytest.fixture(scope="module")
def in_process(conv_model, digits):
    return _parallel_case(conv_model, digits)


def test_image_shards_merge_exactly_and_chips_in_any_order(conv_model, digits, in_process):
    r = _parallel_case(conv_model, digits, shards=2)
    _same(r, in_process)
    assert in_process["energy_per_inference_J"] > 0 and len(set(in_process["accuracy_per_chip"])) >= 1
    plan = _plan(conv_model, digits, mapping.default_mapping("cim", "same", w_bits=4, x_bits=4), batch=16)
    assert engine.shard_bounds(plan, 3) == [(0, 16), (16, 32), (32, 64)] and engine.shard_bounds(plan, 9)[-1] == (48, 64)
    fwd = engine.map_chips(plan, [0, 1, 2], shards=3)
    back = engine.map_chips(plan, [2, 1, 0])[::-1]  # a chip's backends do not depend on the chips run before it
    for a, b in zip(fwd, back):
        np.testing.assert_array_equal(a["predictions"], b["predictions"])
        assert a["costs"] == b["costs"] and a["input_zeros"] == b["input_zeros"] and a["sparsity"] == b["sparsity"]


def test_pool_run_equals_in_process_run(conv_model, digits, in_process):
    _same(_parallel_case(conv_model, digits, workers=2, shards=2), in_process)


def test_dask_run_equals_in_process_run(conv_model, digits, in_process):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        _same(_parallel_case(conv_model, digits, scheduler=cluster.scheduler_address, shards=2), in_process)


@pytest.mark.parametrize("workers", [-1, 1.5, True, "2", 10_000])
def test_invalid_workers_is_a_one_line_error(conv_model, digits, workers):
    with pytest.raises(ParameterError, match="workers must be 0") as e:
        _parallel_case(conv_model, digits, workers=workers)
    assert "\n" not in str(e.value)


class _DieOnUnpickle:
    """Unpickled in a pool worker, it ends that process at once (a worker killed mid-run)."""

    def __reduce__(self):
        import os

        return os._exit, (3,)


def test_a_failing_run_or_a_dead_worker_is_a_one_line_error_naming_the_chip(conv_model, digits):
    plan = _plan(conv_model, digits, mapping.default_mapping("exact", "same"), batch=16)
    bad = dataclasses.replace(plan, images=np.zeros((16, 3)), labels=plan.labels[:16])  # does not fit the input
    with pytest.raises(ParameterError, match=r"^chip 1 failed in a worker process: ParameterError: images of shape"):
        engine.map_chips(bad, [1], workers=1)
    dies = dataclasses.replace(plan, pre={**plan.pre, "x": _DieOnUnpickle()})
    with pytest.raises(engine.CharzError, match=r"^a worker process died while running (the ideal reference run|"
                                                r"chip 0) \(images \d+\.\.\d+\).*--workers 0$") as e:
        engine.map_chips(dies, ["ideal", 0], workers=2, shards=2)
    assert "\n" not in str(e.value)
