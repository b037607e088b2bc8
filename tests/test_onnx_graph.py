"""The ONNX importer and the NumPy graph executor (charz.network.onnx_import / graph / ops) against onnxruntime.

Models are built with ``onnx.helper``: every operator alone under several attribute settings, a small CNN
(BatchNormalization, grouped and depthwise convolutions, pools, Gemm), a transformer block (LayerNormalization,
softmax attention, an Erf or Gelu MLP) and, when torch is installed, tiny ViTs exported by torch.onnx.
Agreement: |ours - onnxruntime| <= 1e-4 x |onnxruntime| + 1e-4 x max|onnxruntime| elementwise (the second
term covers entries that cancel to ~0); integer and boolean outputs are equal.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from charz.core.errors import ParameterError
from charz.network import ops
from charz.network.graph import (Graph, Node, UnsupportedOperatorError, fold_batchnorm, macs, run, trace,
                                 weight_products)
from charz.network.onnx_import import load_onnx

ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(1234)


def _f32(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _model(nodes, inputs: dict, consts: dict | None = None, outputs=("y",), opset=17):
    """A model from nodes, graph inputs (name -> array: its dtype and shape), initializers and output names."""
    vi = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
          for k, v in inputs.items()]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (consts or {}).items()]
    g = helper.make_graph(nodes, "test", vi, [helper.make_empty_tensor_value_info(o) for o in outputs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset <= 17 else 9 if opset <= 20 else 10
    return onnx.shape_inference.infer_shapes(m)


def _ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def _close(ours, ref, rtol=1e-4):
    ref = np.asarray(ref)
    ours = np.asarray(ours)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    if ref.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, ref)
    else:
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * scale)


def _agree(model, feeds, rtol=1e-4, **load):
    graph = load_onnx(model, **load)
    ours = run(graph, feeds)
    ref = _ort(model, feeds)
    assert set(ours) == set(ref)
    for k in ref:
        _close(ours[k], ref[k], rtol)
    return graph, ours


# ------------------------------------------------------------------------------------- one operator at a time

def _one(op, ins: dict, consts: dict | None = None, attrs: dict | None = None, outputs=("y",), opset=17,
         order=None):
    """A one-node model: inputs / consts in *order* (names; "" = omitted optional input)."""
    names = order or list(ins) + list(consts or {})
    node = helper.make_node(op, names, list(outputs), name=f"the_{op.lower()}", **(attrs or {}))
    return _model([node], ins, consts, outputs, opset), ins


X4 = _f32(2, 4, 9, 11)


def _cases():
    c = {}
    # Conv: pads, strides, dilations, groups (depthwise), auto_pad, 1-D, a non-constant weight
    c["conv_pad1"] = _one("Conv", {"x": X4}, {"w": _f32(6, 4, 3, 3), "b": _f32(6)}, {"pads": [1, 1, 1, 1]})
    c["conv_stride_asym_pad"] = _one("Conv", {"x": X4}, {"w": _f32(5, 4, 3, 2)},
                                     {"strides": [2, 3], "pads": [0, 1, 2, 1]})
    c["conv_dilation"] = _one("Conv", {"x": X4}, {"w": _f32(3, 4, 3, 3), "b": _f32(3)},
                              {"dilations": [2, 1], "pads": [2, 1, 2, 1]})
    c["conv_group2"] = _one("Conv", {"x": X4}, {"w": _f32(6, 2, 3, 3), "b": _f32(6)},
                            {"group": 2, "pads": [1, 1, 1, 1]})
    c["conv_depthwise"] = _one("Conv", {"x": X4}, {"w": _f32(4, 1, 3, 3), "b": _f32(4)},
                               {"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]})
    c["conv_depthwise_mult2"] = _one("Conv", {"x": X4}, {"w": _f32(8, 1, 5, 5)}, {"group": 4, "auto_pad": "VALID"})
    c["conv_same_upper"] = _one("Conv", {"x": X4}, {"w": _f32(3, 4, 4, 3)}, {"auto_pad": "SAME_UPPER",
                                                                              "strides": [2, 2]})
    c["conv_same_lower"] = _one("Conv", {"x": X4}, {"w": _f32(3, 4, 4, 4)}, {"auto_pad": "SAME_LOWER"})
    c["conv_1d"] = _one("Conv", {"x": _f32(2, 3, 17)}, {"w": _f32(4, 3, 5), "b": _f32(4)},
                        {"strides": [2], "pads": [2, 1]})
    c["conv_weight_input"] = _one("Conv", {"x": X4, "w": _f32(2, 4, 3, 3)}, None, {"pads": [1, 1, 1, 1]})
    # products
    c["gemm"] = _one("Gemm", {"a": _f32(5, 7)}, {"b": _f32(7, 3), "c": _f32(3)})
    c["gemm_trans_alpha_beta"] = _one("Gemm", {"a": _f32(7, 5)}, {"b": _f32(3, 7), "c": _f32(5, 3)},
                                      {"transA": 1, "transB": 1, "alpha": 0.5, "beta": -2.0})
    c["gemm_no_c"] = _one("Gemm", {"a": _f32(4, 6)}, {"b": _f32(6, 2)}, {"alpha": 3.0})
    c["gemm_b_input"] = _one("Gemm", {"a": _f32(4, 6), "b": _f32(2, 6)}, {"c": _f32(1, 2)}, {"transB": 1})
    c["matmul_const"] = _one("MatMul", {"a": _f32(2, 3, 8)}, {"b": _f32(8, 5)})
    c["matmul_const_1d_a"] = _one("MatMul", {"a": _f32(8)}, {"b": _f32(8, 5)})
    c["matmul_batched"] = _one("MatMul", {"a": _f32(2, 1, 3, 4), "b": _f32(5, 4, 6)})
    c["matmul_vector"] = _one("MatMul", {"a": _f32(3, 4, 6), "b": _f32(6)})
    # elementwise
    a, b = _f32(2, 3, 4), _f32(3, 1)
    for op in ("Add", "Sub", "Mul", "Div"):
        c[op.lower()] = _one(op, {"a": a, "b": b})
    c["pow"] = _one("Pow", {"a": np.abs(a) + 0.1}, {"b": np.array(1.7, np.float32)})
    c["pow_int_exponent"] = _one("Pow", {"a": a}, {"b": np.array(3, np.int64)})
    ia, ib = RNG.integers(-20, 20, (3, 4)).astype(np.int64), RNG.integers(1, 6, (4,)).astype(np.int64)
    c["div_int"] = _one("Div", {"a": ia}, {"b": ib * np.array([1, -1, 1, -1])})
    c["mod_int"] = _one("Mod", {"a": ia}, {"b": ib * np.array([1, -1, 1, -1])})
    c["mod_fmod"] = _one("Mod", {"a": a}, {"b": np.array(0.7, np.float32)}, {"fmod": 1})
    for op in ("Sum", "Max", "Min", "Mean"):
        c[f"{op.lower()}_variadic"] = _one(op, {"a": a, "b": b, "c": _f32(4)})
    for op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"):
        c[op.lower()] = _one(op, {"a": np.round(a), "b": np.round(b)})
    ba, bb = RNG.random((3, 4)) > 0.5, RNG.random((4,)) > 0.5
    for op in ("And", "Or", "Xor"):
        c[op.lower()] = _one(op, {"a": ba, "b": bb})
    c["not"] = _one("Not", {"x": ba})
    c["where"] = _one("Where", {"c": ba, "a": _f32(3, 4), "b": _f32(1, 4)})
    x = _f32(3, 5, 2, scale=2.0)
    for op in ("Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Floor", "Ceil", "Round", "Sign", "Erf",
               "Softplus", "HardSwish", "Sin", "Cos"):
        c[op.lower()] = _one(op, {"x": x})
    for op in ("Sqrt", "Log", "Reciprocal"):
        c[op.lower()] = _one(op, {"x": np.abs(x) + 0.05})
    c["leakyrelu"] = _one("LeakyRelu", {"x": x}, attrs={"alpha": 0.2})
    c["elu"] = _one("Elu", {"x": x}, attrs={"alpha": 0.7})
    c["hardsigmoid"] = _one("HardSigmoid", {"x": x}, attrs={"alpha": 0.3, "beta": 0.4})
    c["gelu"] = _one("Gelu", {"x": x}, opset=20)
    c["gelu_tanh"] = _one("Gelu", {"x": x}, attrs={"approximate": "tanh"}, opset=20)
    c["clip_inputs"] = _one("Clip", {"x": x}, {"lo": np.array(-0.5, np.float32), "hi": np.array(1.0, np.float32)})
    c["clip_max_only"] = _one("Clip", {"x": x}, {"hi": np.array(0.3, np.float32)}, order=["x", "", "hi"])
    c["clip_opset6"] = _one("Clip", {"x": x}, attrs={"min": -0.2, "max": 0.6}, opset=6)
    c["clip_relu6"] = _one("Clip", {"x": x * 5}, {"lo": np.array(0, np.float32), "hi": np.array(6, np.float32)})
    # softmax
    c["softmax_last"] = _one("Softmax", {"x": x * 3})
    c["softmax_axis1"] = _one("Softmax", {"x": x * 3}, attrs={"axis": 1})
    c["softmax_opset11_coerced"] = _one("Softmax", {"x": x * 3}, attrs={"axis": 1}, opset=11)
    c["logsoftmax"] = _one("LogSoftmax", {"x": x * 3}, attrs={"axis": 0})
    # pools
    c["maxpool"] = _one("MaxPool", {"x": X4}, attrs={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})
    c["maxpool_ceil"] = _one("MaxPool", {"x": X4}, attrs={"kernel_shape": [2, 3], "strides": [2, 2], "ceil_mode": 1})
    c["maxpool_dilation"] = _one("MaxPool", {"x": X4}, attrs={"kernel_shape": [2, 2], "dilations": [2, 2]})
    c["maxpool_same"] = _one("MaxPool", {"x": X4}, attrs={"kernel_shape": [3, 3], "strides": [2, 2],
                                                          "auto_pad": "SAME_UPPER"})
    c["maxpool_1d"] = _one("MaxPool", {"x": _f32(2, 3, 10)}, attrs={"kernel_shape": [3], "strides": [2]})
    c["avgpool_exclude_pad"] = _one("AveragePool", {"x": X4}, attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    c["avgpool_include_pad"] = _one("AveragePool", {"x": X4}, attrs={"kernel_shape": [3, 3], "strides": [2, 2],
                                                                     "pads": [1, 0, 1, 2], "count_include_pad": 1})
    c["avgpool_ceil"] = _one("AveragePool", {"x": X4}, attrs={"kernel_shape": [2, 2], "strides": [2, 2],
                                                              "ceil_mode": 1})
    c["avgpool_ceil_include_pad"] = _one("AveragePool", {"x": X4},
                                         attrs={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                                "ceil_mode": 1, "count_include_pad": 1})
    c["global_avg"] = _one("GlobalAveragePool", {"x": X4})
    c["global_max"] = _one("GlobalMaxPool", {"x": X4})
    # shapes
    for axis in (0, 1, 2, -1):
        c[f"flatten_{axis}"] = _one("Flatten", {"x": X4}, attrs={"axis": axis})
    c["reshape_0_minus1"] = _one("Reshape", {"x": X4}, {"s": np.array([0, -1, 11], np.int64)})
    c["reshape_from_input"] = _one("Reshape", {"x": X4, "s": np.array([2, 2, -1], np.int64)})
    c["transpose"] = _one("Transpose", {"x": X4}, attrs={"perm": [0, 2, 3, 1]})
    c["transpose_default"] = _one("Transpose", {"x": X4})
    c["concat"] = _one("Concat", {"a": _f32(2, 3, 4), "b": _f32(2, 1, 4), "c": _f32(2, 2, 4)}, attrs={"axis": -2})
    c["split_sizes"] = _one("Split", {"x": X4}, {"s": np.array([1, 3], np.int64)}, {"axis": 1}, outputs=("y", "z"))
    c["split_equal"] = _one("Split", {"x": _f32(2, 9)}, attrs={"axis": 1}, outputs=("y", "z", "w"))
    c["split_num_outputs"] = _one("Split", {"x": _f32(2, 11)}, attrs={"axis": 1, "num_outputs": 3},
                                  outputs=("y", "z", "w"), opset=18)
    c["split_opset11_attr"] = _one("Split", {"x": X4}, attrs={"axis": 3, "split": [5, 6]}, outputs=("y", "z"),
                                   opset=11)
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    c["slice_basic"] = _one("Slice", {"x": X4}, {"s": i64(1, -8), "e": i64(3, 100), "a": i64(1, 3)})
    c["slice_steps"] = _one("Slice", {"x": X4}, {"s": i64(-1, 0), "e": i64(-2**63, 9), "a": i64(2, 3),
                                                 "t": i64(-2, 3)})
    c["slice_opset9"] = _one("Slice", {"x": X4}, attrs={"starts": [1], "ends": [1000], "axes": [2]}, opset=9)
    c["gather"] = _one("Gather", {"x": X4}, {"i": i64(-1, 0, 2)}, {"axis": 1})
    c["gather_2d_index"] = _one("Gather", {"x": _f32(7, 3)}, {"i": np.array([[0, 6], [-2, 1]], np.int64)})
    c["gather_scalar"] = _one("Gather", {"x": X4}, {"i": np.array(2, np.int64)}, {"axis": 3})
    c["shape"] = _one("Shape", {"x": X4})
    c["shape_start_end"] = _one("Shape", {"x": X4}, attrs={"start": 1, "end": -1})
    c["size"] = _one("Size", {"x": X4})
    c["unsqueeze"] = _one("Unsqueeze", {"x": _f32(3, 4)}, {"a": i64(0, -1)})
    c["unsqueeze_opset11"] = _one("Unsqueeze", {"x": _f32(3, 4)}, attrs={"axes": [1]}, opset=11)
    c["squeeze_axes"] = _one("Squeeze", {"x": _f32(1, 3, 1, 4)}, {"a": i64(-2)})
    c["squeeze_all"] = _one("Squeeze", {"x": _f32(1, 3, 1, 4)})
    c["expand"] = _one("Expand", {"x": _f32(3, 1)}, {"s": i64(2, 1, 4)})
    c["tile"] = _one("Tile", {"x": _f32(2, 3)}, {"r": i64(2, 3)})
    c["cast_to_int"] = _one("Cast", {"x": x * 4}, attrs={"to": TensorProto.INT32})
    c["cast_to_float"] = _one("Cast", {"x": ia}, attrs={"to": TensorProto.FLOAT})
    c["castlike"] = _one("CastLike", {"x": ia, "t": np.zeros(1, np.float64)})
    c["identity"] = _one("Identity", {"x": x})
    c["dropout_mask"] = _one("Dropout", {"x": x}, outputs=("y", "m"))
    c["batchnorm"] = _one("BatchNormalization", {"x": X4},
                          {"s": _f32(4), "b": _f32(4), "m": _f32(4), "v": np.abs(_f32(4)) + 0.5}, {"epsilon": 1e-3})
    c["layernorm"] = _one("LayerNormalization", {"x": _f32(2, 5, 16, scale=3)}, {"s": _f32(16), "b": _f32(16)})
    c["layernorm_axis1_stats"] = _one("LayerNormalization", {"x": _f32(2, 5, 6) + 2}, {"s": _f32(5, 6)},
                                      {"axis": 1, "epsilon": 1e-3}, outputs=("y", "mean", "inv"))
    # reductions
    c["reducemean_opset18"] = _one("ReduceMean", {"x": X4}, {"a": i64(1, -1)}, opset=18)
    c["reducemean_opset13"] = _one("ReduceMean", {"x": X4}, attrs={"axes": [2], "keepdims": 0}, opset=13)
    c["reducemean_all"] = _one("ReduceMean", {"x": X4}, attrs={"keepdims": 0}, opset=18)
    c["reducesum"] = _one("ReduceSum", {"x": X4}, {"a": i64(0, 2)}, {"keepdims": 0})
    c["reducesum_noop"] = _one("ReduceSum", {"x": X4}, {"a": np.zeros(0, np.int64)}, {"noop_with_empty_axes": 1})
    for op in ("ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceSumSquare"):
        c[op.lower()] = _one(op, {"x": X4}, {"a": i64(-1)}, opset=18)
    c["argmax"] = _one("ArgMax", {"x": X4}, attrs={"axis": 1})
    c["argmin_last"] = _one("ArgMin", {"x": np.round(X4)}, attrs={"axis": -1, "keepdims": 0, "select_last_index": 1})
    # generators
    c["constantofshape"] = _one("ConstantOfShape", {"s": i64(2, 3)},
                                attrs={"value": helper.make_tensor("v", TensorProto.INT64, [1], [7])})
    c["constantofshape_default"] = _one("ConstantOfShape", {"s": i64(3, 1, 2)})
    c["range_float"] = _one("Range", {"s": np.array(0.5, np.float32), "l": np.array(4.0, np.float32),
                                      "d": np.array(0.75, np.float32)})
    c["range_int"] = _one("Range", {"s": np.array(10, np.int64), "l": np.array(1, np.int64),
                                    "d": np.array(-3, np.int64)})
    c["trilu_upper"] = _one("Trilu", {"x": _f32(2, 4, 5)}, {"k": np.array(1, np.int64)})
    c["trilu_lower"] = _one("Trilu", {"x": _f32(4, 5)}, attrs={"upper": 0})
    c["pad_constant"] = _one("Pad", {"x": X4}, {"p": i64(0, 0, 1, 2, 0, 0, 3, 0), "v": np.array(1.5, np.float32)})
    c["pad_reflect"] = _one("Pad", {"x": X4}, {"p": i64(0, 0, 2, 1, 0, 0, 1, 2)}, {"mode": "reflect"})
    c["pad_edge_axes"] = _one("Pad", {"x": X4}, {"p": i64(1, 2, 3, 0), "v": np.array(0, np.float32),
                                                 "a": i64(2, 3)}, {"mode": "edge"}, opset=18)
    c["pad_negative"] = _one("Pad", {"x": X4}, {"p": i64(0, 0, -1, 2, 0, 0, 1, -3)})
    return c


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_operator_matches_onnxruntime(name):
    model, feeds = CASES[name]
    graph, ours = _agree(model, feeds)
    assert graph.nodes or graph.initializers


def test_every_operator_is_exercised():
    """Every op in the executor's table has a test case above or in the models below (charz's own operators, domain
    ai.charz, which onnxruntime does not have, are tested against their block models in tests/test_wht_executor.py)."""
    seen = {n.op_type for m, _ in CASES.values() for n in m.graph.node}
    own = {op for op in ops.OPS if op.startswith("ai.charz.")}
    assert own == {"ai.charz.WhtCrossbar"}
    assert set(ops.OPS) - seen - own == set()


# --------------------------------------------------------------------------------------------------- the CNN

def _bn(name, x, y, c):
    return helper.make_node("BatchNormalization", [x, f"{name}_s", f"{name}_b", f"{name}_m", f"{name}_v"], [y],
                            name=name, epsilon=1e-4), {
        f"{name}_s": RNG.uniform(0.5, 1.5, c).astype(np.float32), f"{name}_b": _f32(c, scale=0.2),
        f"{name}_m": _f32(c, scale=0.3), f"{name}_v": RNG.uniform(0.5, 2.0, c).astype(np.float32)}


def _cnn(batch=2):
    """conv 3->8 + BN + ReLU, grouped conv (2 groups) + BN + Clip(0, 6), depthwise stride 2 + BN + ReLU,
    MaxPool 2x2, 1x1 conv 8->16 + HardSigmoid gate, AveragePool 3x3 (pads excluded), global pool, Flatten,
    Gemm 16->12 (transB) + BN + Relu, Gemm 12->10, Softmax."""
    n, c = [], {}
    c.update({"w1": _f32(8, 3, 3, 3, scale=0.4), "b1": _f32(8, scale=0.1), "w2": _f32(8, 4, 3, 3, scale=0.3),
              "w3": _f32(8, 1, 3, 3, scale=0.5), "b3": _f32(8, scale=0.1), "w4": _f32(16, 8, 1, 1, scale=0.5),
              "b4": _f32(16), "w5": _f32(12, 16, scale=0.5), "b5": _f32(12), "w6": _f32(12, 10, scale=0.5),
              "b6": _f32(10), "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)})
    n.append(helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]))
    node, p = _bn("bn1", "c1", "n1", 8)
    n += [node, helper.make_node("Relu", ["n1"], ["r1"], name="relu1")]
    c.update(p)
    n.append(helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2_grouped", pads=[1, 1, 1, 1], group=2))
    node, p = _bn("bn2", "c2", "n2", 8)
    n += [node, helper.make_node("Clip", ["n2", "lo", "hi"], ["r2"], name="relu6")]
    c.update(p)
    n.append(helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"], name="conv3_dw", pads=[1, 1, 1, 1], group=8,
                              strides=[2, 2]))
    node, p = _bn("bn3", "c3", "n3", 8)
    n += [node, helper.make_node("Relu", ["n3"], ["r3"], name="relu3")]
    c.update(p)
    n.append(helper.make_node("MaxPool", ["r3"], ["p3"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]))
    n.append(helper.make_node("Conv", ["p3", "w4", "b4"], ["c4"], name="conv4_pw"))
    n.append(helper.make_node("HardSigmoid", ["c4"], ["g4"], name="gate"))
    n.append(helper.make_node("Mul", ["c4", "g4"], ["r4"], name="hswish"))
    n.append(helper.make_node("AveragePool", ["r4"], ["a4"], name="avgpool", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]))
    n.append(helper.make_node("GlobalAveragePool", ["a4"], ["gp"], name="gap"))
    n.append(helper.make_node("Flatten", ["gp"], ["f"], name="flatten"))
    n.append(helper.make_node("Gemm", ["f", "w5", "b5"], ["h5"], name="fc1", transB=1))
    node, p = _bn("bn5", "h5", "n5", 12)
    n += [node, helper.make_node("Relu", ["n5"], ["r5"], name="relu5")]
    c.update(p)
    n.append(helper.make_node("Gemm", ["r5", "w6", "b6"], ["logits"], name="fc2"))
    n.append(helper.make_node("Softmax", ["logits"], ["y"], name="softmax"))
    x = _f32(batch, 3, 16, 16)
    return _model(n, {"x": x}, c, ("y", "logits")), {"x": x}


def test_cnn_matches_onnxruntime_and_bn_folding_changes_nothing():
    model, feeds = _cnn()
    folded, ours = _agree(model, feeds)
    unfolded, ours_bn = _agree(model, feeds, fold_bn=False)
    assert "BatchNormalization" not in folded.op_counts()
    assert unfolded.op_counts()["BatchNormalization"] == 4
    for k in ours:
        _close(ours[k], ours_bn[k], rtol=1e-5)
    assert np.argmax(ours["y"], 1).tolist() == np.argmax(_ort(model, feeds)["y"], 1).tolist()


def test_cnn_weight_products_and_macs():
    model, _ = _cnn()
    graph = load_onnx(model)
    expected = [("conv1", "Conv", 27, 8, 1, 256), ("conv2_grouped", "Conv", 36, 4, 2, 256),
                ("conv3_dw", "Conv", 9, 1, 8, 64), ("conv4_pw", "Conv", 8, 16, 1, 16),
                ("fc1", "Gemm", 16, 12, 1, 1), ("fc2", "Gemm", 12, 10, 1, 1)]
    assert [tuple(w) for w in weight_products(graph)] == expected
    assert weight_products(graph, (5, 3, 16, 16)) == weight_products(graph)  # per image
    m = macs(graph, {"x": (5, 3, 16, 16)})
    assert m == {name: 5 * k * n * g * pos for name, _, k, n, g, pos in expected}
    assert m["conv1"] == 5 * 256 * 27 * 8 and m["conv3_dw"] == 5 * 64 * 9 * 8


def test_product_hook_is_called_once_per_group_with_the_right_shapes():
    model, feeds = _cnn(batch=3)
    graph = load_onnx(model)
    calls = []

    def hook(node, x2d, w2d):
        calls.append((node.name, x2d.shape, w2d.shape))
        return x2d @ w2d

    out = run(graph, feeds, product=hook)
    ref = run(graph, feeds)
    for k in ref:
        np.testing.assert_array_equal(out[k], ref[k])
    expected = ([("conv1", (768, 27), (27, 8))] + [("conv2_grouped", (768, 36), (36, 4))] * 2
                + [("conv3_dw", (192, 9), (9, 1))] * 8 + [("conv4_pw", (48, 8), (8, 16))]
                + [("fc1", (3, 16), (16, 12)), ("fc2", (3, 12), (12, 10))])
    assert calls == expected


def test_product_hook_result_is_used():
    """A hook that doubles every weight product doubles the pre-bias output of a Gemm / MatMul / Conv."""
    x = _f32(4, 6)
    w, b = _f32(6, 3), _f32(3)
    model = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc")], {"x": x}, {"w": w, "b": b})
    graph = load_onnx(model)
    y = run(graph, {"x": x}, product=lambda node, a, m: 2 * (a @ m))["y"]
    np.testing.assert_allclose(y, 2 * (x @ w) + b, rtol=1e-6)
    bad = lambda node, a, m: (a @ m)[:, :1]  # noqa: E731
    with pytest.raises(ParameterError, match="product hook returned shape") as e:
        run(graph, {"x": x}, product=bad)
    assert "\n" not in str(e.value)

    def broken(node, a, m):  # a hook's own error comes out as it was raised, not as a model error
        raise ValueError("backend bug")

    with pytest.raises(ValueError, match="^backend bug$") as e:
        run(graph, {"x": x}, product=broken)
    assert not isinstance(e.value, ParameterError)

    def writes(node, a, m):
        m[0, 0] = 0.0
        return a @ m

    with pytest.raises(ValueError, match="read-only"):  # the weights a hook sees cannot be changed
        run(graph, {"x": x}, product=writes)
    np.testing.assert_array_equal(graph.initializers["w"], w)


def test_conv_im2col_blocks_stay_under_the_bound(monkeypatch):
    x = _f32(3, 4, 20, 20)
    model, feeds = _one("Conv", {"x": x}, {"w": _f32(6, 2, 3, 3), "b": _f32(6)}, {"group": 2, "pads": [1, 1, 1, 1]})
    graph = load_onnx(model)
    ref = run(graph, feeds)["y"]
    seen = []

    def hook(node, x2d, w2d):
        seen.append(x2d.shape[0])
        assert x2d.nbytes <= ops.IM2COL_BYTES
        return x2d @ w2d

    # 18 x 4 bytes per row of columns: one image (400 rows) is 28.8 kB; the bound below holds 6 output rows
    monkeypatch.setattr(ops, "IM2COL_BYTES", 6 * 20 * 18 * 4)
    y = run(graph, feeds, product=hook)["y"]
    _close(y, ref, rtol=1e-6)
    # per image, row blocks of 6, 6, 6 and 2 output rows (x 20 columns), each block once per group
    assert seen == ([120] * 6 + [40] * 2) * 3
    seen.clear()
    monkeypatch.setattr(ops, "IM2COL_BYTES", 2 * 400 * 18 * 4)  # two whole images per block
    _close(run(graph, feeds, product=hook)["y"], ref, rtol=1e-6)
    assert seen == [800, 800, 400, 400]


# ------------------------------------------------------------------------------------------ transformer block

def _transformer(b=2, t=7, d=16, heads=4, gelu_op=False):
    dh = d // heads
    c = {"ln1_s": 1 + _f32(d, scale=0.1), "ln1_b": _f32(d, scale=0.1), "wqkv": _f32(d, 3 * d, scale=0.3),
         "bqkv": _f32(3 * d, scale=0.1), "wo": _f32(d, d, scale=0.3), "bo": _f32(d, scale=0.1),
         "ln2_s": 1 + _f32(d, scale=0.1), "ln2_b": _f32(d, scale=0.1), "w1": _f32(d, 2 * d, scale=0.3),
         "b1": _f32(2 * d, scale=0.1), "w2": _f32(2 * d, d, scale=0.3), "b2": _f32(d, scale=0.1),
         "heads": np.array([0, 0, heads, dh], np.int64), "merge": np.array([0, 0, d], np.int64),
         "scale": np.array(1 / np.sqrt(dh), np.float32), "sqrt2": np.array(np.sqrt(2), np.float32),
         "one": np.array(1, np.float32), "half": np.array(0.5, np.float32)}
    mk = helper.make_node
    n = [mk("LayerNormalization", ["x", "ln1_s", "ln1_b"], ["h"], name="ln1", axis=-1, epsilon=1e-5),
         mk("MatMul", ["h", "wqkv"], ["qkv0"], name="qkv"), mk("Add", ["qkv0", "bqkv"], ["qkv1"], name="qkv_bias"),
         mk("Split", ["qkv1"], ["q0", "k0", "v0"], name="split", axis=-1, num_outputs=3)]
    for s in "qkv":
        n += [mk("Reshape", [f"{s}0", "heads"], [f"{s}1"], name=f"{s}_heads"),
              mk("Transpose", [f"{s}1"], [f"{s}2"], name=f"{s}_t", perm=[0, 2, 3, 1] if s == "k" else [0, 2, 1, 3])]
    n += [mk("MatMul", ["q2", "k2"], ["s0"], name="scores"), mk("Mul", ["s0", "scale"], ["s1"], name="scaled"),
          mk("Softmax", ["s1"], ["p"], name="softmax", axis=-1), mk("MatMul", ["p", "v2"], ["o0"], name="attend"),
          mk("Transpose", ["o0"], ["o1"], name="o_t", perm=[0, 2, 1, 3]),
          mk("Reshape", ["o1", "merge"], ["o2"], name="o_merge"), mk("MatMul", ["o2", "wo"], ["o3"], name="proj"),
          mk("Add", ["o3", "bo"], ["o4"], name="proj_bias"), mk("Add", ["x", "o4"], ["r1"], name="residual1"),
          mk("LayerNormalization", ["r1", "ln2_s", "ln2_b"], ["h2"], name="ln2"),
          mk("MatMul", ["h2", "w1"], ["m0"], name="fc1"), mk("Add", ["m0", "b1"], ["m1"], name="fc1_bias")]
    if gelu_op:
        n.append(mk("Gelu", ["m1"], ["g"], name="gelu"))
    else:
        n += [mk("Div", ["m1", "sqrt2"], ["g0"], name="gelu_div"), mk("Erf", ["g0"], ["g1"], name="gelu_erf"),
              mk("Add", ["g1", "one"], ["g2"], name="gelu_add"), mk("Mul", ["m1", "g2"], ["g3"], name="gelu_mul"),
              mk("Mul", ["g3", "half"], ["g"], name="gelu_half")]
    n += [mk("MatMul", ["g", "w2"], ["m2"], name="fc2"), mk("Add", ["m2", "b2"], ["m3"], name="fc2_bias"),
          mk("Add", ["r1", "m3"], ["y"], name="residual2")]
    x = _f32(b, t, d)
    return _model(n, {"x": x}, c, opset=20 if gelu_op else 18), {"x": x}


@pytest.mark.parametrize("gelu_op", [False, True], ids=["erf", "gelu"])
def test_transformer_block_matches_onnxruntime(gelu_op):
    model, feeds = _transformer(gelu_op=gelu_op)
    graph, _ = _agree(model, feeds)
    calls, act = [], []

    def hook(node, x2d, w2d):
        calls.append((node.name, x2d.shape, w2d.shape))
        return x2d @ w2d

    def act_hook(node, a, b):
        act.append((node.name, a.shape, b.shape))
        return np.matmul(a, b)

    out = run(graph, feeds, product=hook, act_product=act_hook)
    np.testing.assert_array_equal(out["y"], run(graph, feeds)["y"])
    assert calls == [("qkv", (14, 16), (16, 48)), ("proj", (14, 16), (16, 16)), ("fc1", (14, 16), (16, 32)),
                     ("fc2", (14, 32), (32, 16))]
    assert act == [("scores", (2, 4, 7, 4), (2, 4, 4, 7)), ("attend", (2, 4, 7, 7), (2, 4, 7, 4))]
    assert [tuple(w) for w in weight_products(graph)] == [("qkv", "MatMul", 16, 48, 1, 7),
                                                          ("proj", "MatMul", 16, 16, 1, 7),
                                                          ("fc1", "MatMul", 16, 32, 1, 7),
                                                          ("fc2", "MatMul", 32, 16, 1, 7)]
    m = macs(graph)
    assert m["scores"] == m["attend"] == 2 * 4 * 7 * 7 * 4
    assert m["qkv"] == 14 * 16 * 48 and macs(graph, kind="act") == {"scores": 1568, "attend": 1568}


def test_until_returns_an_intermediate_and_runs_only_what_it_needs():
    model, feeds = _transformer()
    graph = load_onnx(model)
    calls = []
    out = run(graph, feeds, product=lambda n, a, w: calls.append(n.name) or a @ w, until=["ln1", "qkv0"])
    assert set(out) == {"h", "qkv0"} and calls == ["qkv"]
    x = feeds["x"].astype(np.float64)
    init = graph.initializers
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    h = (x - mu) / np.sqrt(var + 1e-5) * init["ln1_s"] + init["ln1_b"]
    np.testing.assert_allclose(out["h"], h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["qkv0"], h @ init["wqkv"], rtol=1e-4, atol=1e-4)
    with pytest.raises(ParameterError, match="no tensor or node called 'nowhere'"):
        run(graph, feeds, until="nowhere")


# ------------------------------------------------------------------------------------------- import behaviour

def test_unsupported_operator_is_refused_at_load_with_one_line():
    x = _f32(2, 8)
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("TopK", ["r", "k"], ["y", "i"], name="pick_top")]
    model = _model(nodes, {"x": x}, {"k": np.array([3], np.int64)}, outputs=("y", "i"))
    with pytest.raises(UnsupportedOperatorError) as e:
        load_onnx(model)
    msg = str(e.value)
    assert "\n" not in msg and "'TopK'" in msg and "'pick_top'" in msg
    assert "supported: " in msg and all(op in msg for op in ("Conv", "Gemm", "MatMul", "Softmax", "Relu"))
    assert e.value.exit_code == 2
    custom = helper.make_model(helper.make_graph(
        [helper.make_node("FusedGemm", ["x"], ["y"], name="fused", domain="com.microsoft")], "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    with pytest.raises(UnsupportedOperatorError, match="'com.microsoft.FusedGemm' \\(node 'fused'\\)"):
        load_onnx(custom, check=False)
    pool = _model([helper.make_node("MaxPool", ["x"], ["y", "idx"], name="mp", kernel_shape=[2, 2])],
                  {"x": _f32(1, 1, 4, 4)}, outputs=("y", "idx"))
    with pytest.raises(UnsupportedOperatorError, match="MaxPool with the Indices output \\(node 'mp'\\)"):
        load_onnx(pool)
    conv3d, _ = _one("Conv", {"x": _f32(1, 2, 4, 4, 4)}, {"w": _f32(3, 2, 2, 2, 2)})
    with pytest.raises(UnsupportedOperatorError, match="Conv with 3-D kernel .* \\(node 'the_conv'\\)"):
        load_onnx(conv3d)


def test_constants_and_folding():
    """Constant nodes become initializers; a transposed constant weight folds, so its MatMul is a weight
    product; shape arithmetic on constants folds away."""
    x = _f32(3, 5)
    w = _f32(4, 5)
    nodes = [helper.make_node("Constant", [], ["wt"], name="const_w", value=numpy_helper.from_array(w)),
             helper.make_node("Transpose", ["wt"], ["w"], name="t", perm=[1, 0]),
             helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Constant", [], ["two"], name="c2", value_float=2.0),
             helper.make_node("Constant", [], ["shp"], name="c3", value_ints=[3, 2, 2]),
             helper.make_node("Mul", ["m", "two"], ["m2"], name="mul"),
             helper.make_node("Reshape", ["m2", "shp"], ["y"], name="rs")]
    model = _model(nodes, {"x": x}, opset=13)
    graph, ours = _agree(model, {"x": x})
    assert [n.op for n in graph.nodes] == ["MatMul", "Mul", "Reshape"]
    np.testing.assert_array_equal(graph.initializers["w"], w.T)
    assert [tuple(p) for p in weight_products(graph)] == [("mm", "MatMul", 5, 4, 1, 1)]
    np.testing.assert_allclose(ours["y"], (2 * x @ w.T).reshape(3, 2, 2), rtol=1e-5)


def test_bn_folding_into_gemm_and_when_it_does_not_fold():
    x = _f32(6, 5)
    w, c = _f32(4, 5), _f32(1, 4)
    bn_node, bn = _bn("bn", "h", "y", 4)
    model = _model([helper.make_node("Gemm", ["x", "w", "c"], ["h"], name="fc", transB=1, beta=0.5), bn_node],
                   {"x": x}, {"w": w, "c": c, **bn})
    folded, ours = _agree(model, {"x": x})
    assert [n.op for n in folded.nodes] == ["Gemm"] and folded.nodes[0].attrs["beta"] == 1.0
    _close(ours["y"], run(load_onnx(model, fold_bn=False), {"x": x})["y"], rtol=1e-5)
    # the Gemm output is also a graph output: BN stays and is executed
    both = _model(model.graph.node, {"x": x}, {"w": w, "c": c, **bn}, outputs=("y", "h"))
    kept, _ = _agree(both, {"x": x})
    assert kept.op_counts() == {"Gemm": 1, "BatchNormalization": 1}
    # fold_batchnorm on a graph with nothing to fold returns it unchanged
    assert fold_batchnorm(kept) is kept


def test_feed_errors_are_one_line():
    model, feeds = _cnn()
    graph = load_onnx(model)
    cases = [({"x": np.zeros((2, 3, 15, 16), np.float32)}, "has shape \\(2, 3, 15, 16\\); the model expects"),
             ({}, "model input 'x' \\(2, 3, 16, 16\\) not given"),
             ({"x": feeds["x"], "z": feeds["x"]}, "unknown model input 'z'"),
             ({"x": np.zeros((2, 3, 16), np.float32)}, "has shape")]
    for bad, pattern in cases:
        with pytest.raises(ParameterError, match=pattern) as e:
            run(graph, bad)
        assert "\n" not in str(e.value)
    y64 = run(graph, {"x": feeds["x"].astype(np.float64)})["y"]  # cast to the declared float32
    assert y64.dtype == np.float32


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(ParameterError, match="ONNX file not found"):
        load_onnx(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07not an onnx model at all \xff\xfe")
    for source in (junk, junk.read_bytes()):
        with pytest.raises(ParameterError) as e:
            load_onnx(source)
        assert "\n" not in str(e.value)
    with pytest.raises(ParameterError, match="reads a path, bytes or an onnx.ModelProto"):
        load_onnx(3)
    model, feeds = _cnn()
    path = tmp_path / "cnn.onnx"
    onnx.save(model, str(path))
    np.testing.assert_array_equal(run(load_onnx(path), feeds)["y"], run(load_onnx(model.SerializeToString()),
                                                                         feeds)["y"])


def test_symbolic_batch_and_trace_shapes():
    x = _f32(5, 3, 8, 8)
    model, _ = _one("Conv", {"x": x}, {"w": _f32(4, 3, 3, 3)}, {"strides": [2, 2]})
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    graph = load_onnx(model)
    assert graph.inputs[0][1] == ("N", 3, 8, 8)
    assert [tuple(w) for w in weight_products(graph)] == [("the_conv", "Conv", 27, 4, 1, 9)]
    assert macs(graph) == {"the_conv": 9 * 27 * 4} and macs(graph, (7, 3, 8, 8)) == {"the_conv": 7 * 9 * 27 * 4}
    rec = trace(graph, {"x": (2, 3, 8, 8)})
    assert [(r.kind, r.rows, r.batch) for r in rec] == [("weight", 18, 2)]
    _close(run(graph, {"x": x})["y"], _ort(model, {"x": x})["y"])
    with pytest.raises(ParameterError, match="unknown input"):
        weight_products(graph, {"z": (1, 3, 8, 8)})


def test_graph_ir_by_hand():
    """A Graph written directly (no ONNX) runs too, and the IR helpers answer."""
    w = _f32(3, 2)
    g = Graph([Node("MatMul", "mm", ("x", "w"), ("h",)), Node("Relu", "act", ("h",), ("y",))],
              {"w": w}, [("x", (None, 3), np.dtype(np.float32))], ["y"], 17)
    x = _f32(4, 3)
    np.testing.assert_allclose(run(g, {"x": x})["y"], np.maximum(x @ w, 0), rtol=1e-6)
    assert g.node("act").op == "Relu" and g.producers()["h"].name == "mm"
    assert [n.name for n in g.consumers()["h"]] == ["act"]
    with pytest.raises(ParameterError, match="no node 'nope'"):
        g.node("nope")


# ------------------------------------------------------------------------------------------------ torch ViTs

def _torch_vits():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Attention(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            a = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
            return self.proj((a.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d))

    class Block(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.n1, self.att, self.n2 = nn.LayerNorm(dim), Attention(dim, heads), nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(0.1), nn.Linear(2 * dim, dim))

        def forward(self, x):
            x = x + self.att(self.n1(x))
            return x + self.mlp(self.n2(x))

    class ViT(nn.Module):
        """Patch embedding (conv), class token, position embedding, blocks, head."""

        def __init__(self, img=16, patch=4, dim=32, heads=4, depth=2, classes=10, library_blocks=False):
            super().__init__()
            self.embed = nn.Conv2d(3, dim, patch, patch)
            self.cls = nn.Parameter(torch.randn(1, 1, dim))
            self.pos = nn.Parameter(torch.randn(1, (img // patch) ** 2 + 1, dim) * 0.1)
            if library_blocks:
                layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, activation="gelu",
                                                   batch_first=True, norm_first=True)
                self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            else:
                self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
            self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, classes)

        def forward(self, x):
            x = self.embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
            return self.head(self.norm(self.blocks(x))[:, 0])

    return torch, ViT


@pytest.mark.parametrize("library_blocks,opset", [(False, 17), (False, 18), (True, 17)],
                         ids=["own_blocks_opset17", "own_blocks_opset18", "nn_transformer_opset17"])
def test_torch_vit_matches_torch_and_onnxruntime(library_blocks, opset):
    torch, ViT = _torch_vits()
    torch.manual_seed(0)
    net = ViT(library_blocks=library_blocks).eval()
    x = torch.randn(3, 3, 16, 16)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (x,), buf, dynamo=False, opset_version=opset, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    except Exception as e:  # an exporter this torch build lacks (the TorchScript one is deprecated)
        pytest.skip(f"torch.onnx.export failed: {type(e).__name__}: {e}")
    model = onnx.load_from_string(buf.getvalue())
    feeds = {"x": x.numpy()}
    graph, ours = _agree(model, feeds)
    with torch.no_grad():
        _close(ours["y"], net(x).numpy())
    wp = weight_products(graph)
    assert wp[0][1:] == ("Conv", 48, 32, 1, 16)  # 3 x 4 x 4 patch, 32 channels, 4 x 4 patches
    assert wp[-1][1:] == ("Gemm", 32, 10, 1, 1)
    # per block: qkv 32 -> 96, projection 32 -> 32, MLP 32 -> 64 -> 32, on 17 tokens
    blocks = [(w.K, w.N, w.positions) for w in wp[1:-1]]
    assert blocks == [(32, 96, 17), (32, 32, 17), (32, 64, 17), (64, 32, 17)] * 2
    act = macs(graph, kind="act")
    assert sorted(act.values()) == [4 * 17 * 17 * 8] * 4  # q k^T and p v per block: 4 heads of 8


def test_torch_cnn_with_unfolded_batchnorm_matches_torch():
    """A MobileNet-like torch CNN exported without torch's constant folding: the ONNX file keeps its
    BatchNormalization nodes, the importer folds them."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
        nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.Hardswish(),
        nn.Conv2d(16, 24, 1), nn.BatchNorm2d(24), nn.SiLU(), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        nn.Conv2d(24, 24, 3, 1, 2, dilation=2, groups=3), nn.LeakyReLU(0.1),
        nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(24, 32), nn.GELU(approximate="tanh"), nn.Dropout(0.2), nn.Linear(32, 10), nn.LogSoftmax(-1))
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.normal_(0, 0.3)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
    net.eval()
    x = torch.randn(4, 3, 33, 33)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (x,), buf, dynamo=False, opset_version=17, input_names=["x"],
                              output_names=["y"], do_constant_folding=False)
    except Exception as e:
        pytest.skip(f"torch.onnx.export failed: {type(e).__name__}: {e}")
    model = onnx.load_from_string(buf.getvalue())
    assert sum(n.op_type == "BatchNormalization" for n in model.graph.node) == 3
    graph, ours = _agree(model, {"x": x.numpy()})
    assert "BatchNormalization" not in graph.op_counts()
    with torch.no_grad():
        _close(ours["y"], net(x).numpy())
    assert [tuple(w)[1:] for w in weight_products(graph)] == [
        ("Conv", 27, 16, 1, 289), ("Conv", 9, 1, 16, 289), ("Conv", 16, 24, 1, 289), ("Conv", 72, 8, 3, 81),
        ("Gemm", 24, 32, 1, 1), ("Gemm", 32, 10, 1, 1)]


def test_activation_product_macs():
    """MACs of activation x activation products: output elements x contracted length, broadcasting included."""
    for case, expected in (("matmul_batched", 2 * 5 * 3 * 6 * 4), ("matmul_vector", 3 * 4 * 6),
                           ("gemm_b_input", 4 * 6 * 2), ("conv_weight_input", 2 * 9 * 11 * 36 * 2)):
        model, _ = CASES[case]
        graph = load_onnx(model)
        assert macs(graph, kind="act") == {graph.nodes[0].name: expected}
        assert weight_products(graph) == []
