"""HCiM training and its evaluation agree: the PyTorch layer's value is the read-out the executor's adapters compute
with nominal latches; a chip's latches are drawn once; the costs are counted (needs PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

from charz.network.zoo import MODELS_DIR
from helpers import charz, one_line_error

LENET5 = MODELS_DIR / "lenet5.onnx"


def test_the_trained_layers_and_the_executors_adapters_compute_the_same_read_out():
    torch = pytest.importorskip("torch")
    from charz.blocks.wht.model import WhtModel
    from charz.core.lut import LUT, find_default
    from charz.datasets import load
    from charz.network import engine as en
    from charz.network.mapping import default_mapping
    from charz.study import hcim_train as ht

    latch = WhtModel.from_lut(LUT.load(find_default("ptm16hp", "wht16")), vdd=0.8)
    tr = load("mnist", "train", limit=256)
    nodes = ["/3/Conv", "/7/Gemm", "/9/Gemm"]
    t = ht.train(LENET5, tr.images, tr.labels, nodes, latch, epochs=1, log=lambda s: None)
    assert set(t.layers) == set(nodes)
    r = t.layers["/7/Gemm"]
    assert r["alpha"].shape == (3, 25, 120) and r["w_int"].shape == (400, 120) and np.abs(r["w_int"]).max() <= 7
    te = load("mnist", "test", limit=40)
    plan, _ = en.make_plan(t.onnx, te.images, te.labels, default_mapping("cim", "digital", columns="ideal"),
                           calib_images=tr.images, calib_count=64)
    nominal = en.run_chip(plan, 0, keep_logits=True, adapters=ht.adapters(t.layers, latch, None))
    from charz.network import zoo

    pre = zoo.preprocess_of(__import__("onnx").load_model_from_string(t.onnx))
    with torch.no_grad():
        ref = t.module(torch.from_numpy(zoo.preprocess(te.images, pre))).numpy()
    # float32 training vs float64 evaluation: the same decisions almost everywhere
    assert np.mean(np.argmax(ref, 1) == nominal["predictions"]) >= 0.95
    assert np.median(np.abs(ref - nominal["logits"])) < 0.05 * np.abs(ref).max()
    # a chip's latches: the same chip twice is the same, another chip differs somewhere; costs are counted
    a = en.run_chip(plan, 0, keep_logits=True, adapters=ht.adapters(t.layers, latch, np.random.default_rng(5)))
    b = en.run_chip(plan, 0, keep_logits=True, adapters=ht.adapters(t.layers, latch, np.random.default_rng(5)))
    c = en.run_chip(plan, 0, keep_logits=True, adapters=ht.adapters(t.layers, latch, np.random.default_rng(6)))
    np.testing.assert_array_equal(a["logits"], b["logits"])
    assert not np.array_equal(a["logits"], c["logits"])
    cost = a["costs"]["/7/Gemm"]
    assert cost.energy["latches"] > 0 and cost.energy["scale_adds"] == pytest.approx(
        cost.counters["nonzero_decisions"] * ht.ADD_ENERGY_J)
    assert cost.counters["column_planes"] == 40 * 4 * 3 * 25 * 120


def test_the_command_refuses_a_model_it_cannot_train(tmp_path):
    r = charz("study", "hcim", "--model", "resnet20x", "--dataset", "mnist", "--out", str(tmp_path / "a"))
    assert one_line_error(r)


def test_hardware_aware_training_is_reproducible_and_differs_from_nominal():
    pytest.importorskip("torch")
    from onnx import numpy_helper

    from charz.blocks.wht.model import WhtModel
    from charz.core.lut import LUT, find_default
    from charz.datasets import load
    from charz.study import dub_train as dt
    from charz.study import hcim_train as ht

    latch = WhtModel.from_lut(LUT.load(find_default("ptm16hp", "wht16")), vdd=0.8)
    tr = load("mnist", "train", limit=64)
    nodes = ["/7/Gemm"]

    def weights(**kw):
        t = ht.train(LENET5, tr.images, tr.labels, nodes, latch, epochs=1, batch=32, log=lambda s: None, **kw)
        return {i.name: numpy_helper.to_array(i) for i in dt.onnx_proto(t.onnx).graph.initializer}["7.weight"]

    a, b = weights(hardware_aware=True), weights(hardware_aware=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, weights())
