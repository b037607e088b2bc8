"""The model zoo (charz/network/zoo.py, charz/network/models/): every shipped ONNX file loads, its JSON
record matches the file (parameters, MACs, checksum, preprocessing), onnxruntime on 200 test images gives
the recorded accuracy, ``charz models`` lists every model; training (PyTorch, optional) makes the loss fall.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from charz.core.errors import CharzError
from charz.network import zoo

from tests.helpers import charz, one_line_error

onnx = pytest.importorskip("onnx")

RECORDS = zoo.shipped()
TRAINED = [r for r in RECORDS if r["onnx"]]
MAX_BYTES = 2 * 1024 * 1024


def test_every_zoo_model_is_shipped():
    assert [r["name"] for r in RECORDS] == list(zoo.MODELS)
    for r in RECORDS:
        assert r["recipe"]["dataset"] and r["recipe"]["epochs"] >= 1 and r["recipe"]["batch"] >= 1
        assert r["parameters"] > 0 and r["macs_per_image"] > 0 and r["command"].startswith("charz train --model")
        if r["onnx"] is None:  # a recipe only: it says so and claims no accuracy
            assert r["status"].startswith("recipe only") and r["float_test_accuracy"] is None


@pytest.mark.parametrize("rec", TRAINED, ids=lambda r: r["name"])
def test_shipped_model_matches_its_record(rec):
    path = rec["onnx"]
    with open(path, "rb") as fh:
        raw = fh.read()
    assert len(raw) < MAX_BYTES and len(raw) == rec["onnx_bytes"]
    import hashlib

    assert hashlib.sha256(raw).hexdigest() == rec["onnx_sha256"]
    model = onnx.load_from_string(raw)
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == zoo.OPSET == rec["opset"]
    assert zoo.onnx_parameters(model) == rec["parameters"]
    assert zoo.onnx_macs(model) == rec["macs_per_image"]
    pre = zoo.preprocess_of(model)
    assert pre == rec["preprocess"] and pre["layout"] == "NCHW" and len(pre["mean"]) == len(pre["std"])
    assert rec["recipe"]["dataset"] and rec["status"] == "trained" and rec["torch_version"]
    assert 0.0 < rec["float_test_accuracy"] <= 1.0 and rec["test_images"] >= 10000


def test_vit_has_transformer_operators():
    rec = next((r for r in TRAINED if r["name"] == "vit_mnist"), None)
    if rec is None:
        pytest.skip("vit_mnist is not shipped")
    ops = {n.op_type for n in onnx.load(rec["onnx"]).graph.node}
    assert {"LayerNormalization", "Softmax", "MatMul"} <= ops and ({"Erf", "Gelu"} & ops)


@pytest.mark.parametrize("rec", TRAINED, ids=lambda r: r["name"])
def test_shipped_model_accuracy_on_200_test_images(rec):
    from charz import datasets

    try:
        test = datasets.load(rec["recipe"]["dataset"], "test", limit=200)
    except CharzError as exc:
        pytest.skip(f"dataset not found: {exc}")
    ort = pytest.importorskip("onnxruntime")
    images, labels = np.asarray(test.images), np.asarray(test.labels)
    acc = zoo.onnx_accuracy(rec["onnx"], images, labels)
    p = rec["float_test_accuracy"]  # of the whole split: 200 images agree within 3 binomial standard errors
    assert abs(acc - p) <= 3 * np.sqrt(p * (1 - p) / len(labels)) + 1e-9, (acc, p)
    # the independent reference: onnxruntime on the same file and inputs predicts the same classes
    sess = ort.InferenceSession(str(rec["onnx"]), providers=["CPUExecutionProvider"])
    pre = zoo.preprocess_of(onnx.load(str(rec["onnx"])))
    ref = sess.run(None, {sess.get_inputs()[0].name: zoo.preprocess(images, pre)})[0].argmax(1)
    assert np.mean(ref == labels) == acc


def test_lenet5_lenet_macs_by_hand():
    """LeNet-5 on 28x28: conv1 28*28*6*25, conv2 10*10*16*150, dense 400*120 + 120*84 + 84*10."""
    rec = next((r for r in TRAINED if r["name"] == "lenet5"), None)
    if rec is None:
        pytest.skip("lenet5 is not shipped")
    assert rec["macs_per_image"] == 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert rec["parameters"] == ((6 * 25 + 6) + (16 * 150 + 16) + (400 * 120 + 120) + (120 * 84 + 84)
                                 + (84 * 10 + 10))


def test_mlp_mnist_by_hand():
    """The MLP: flatten 1x28x28, dense 784-256 (ReLU), 256-128 (ReLU), 128-10, biases on; the float test
    accuracy of the recipe reaches its 98 % goal and the 8-bit quantized accuracy stays within a point."""
    rec = next((r for r in TRAINED if r["name"] == "mlp_mnist"), None)
    if rec is None:
        pytest.skip("mlp_mnist is not shipped")
    dense = ((784, 256), (256, 128), (128, 10))
    assert rec["macs_per_image"] == sum(k * n for k, n in dense) == 234752
    assert rec["parameters"] == sum(k * n + n for k, n in dense) == 235146
    g = onnx.load(rec["onnx"]).graph
    assert [n.op_type for n in g.node] == ["Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    shapes = sorted(tuple(t.dims) for t in g.initializer)
    assert shapes == sorted([(n, k) for k, n in dense] + [(n,) for _, n in dense])
    assert rec["preprocess"]["input_shape"] == [1, 28, 28] and rec["recipe"]["dataset"] == "mnist"
    assert rec["full_recipe"] and rec["goal_reached"] and rec["float_test_accuracy"] >= 0.98
    q = rec["quantized"]
    assert q["w_bits"] == q["x_bits"] == 8 and abs(q["accuracy"] - q["float_accuracy_same_images"]) <= 0.01


def test_charz_models_lists_every_model_without_torch():
    r = charz("models")
    assert r.returncode == 0, r.stderr
    for rec in RECORDS:
        assert rec["name"] in r.stdout
        if rec["float_test_accuracy"] is not None:
            assert f"{100 * rec['float_test_accuracy']:.2f} %" in r.stdout
    code = "import sys; from charz.cli import main; main(['models']); print('TORCH' if 'torch' in sys.modules else 'NO')"
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().endswith("NO"), out.stdout + out.stderr


def test_zoo_reads_records_without_torch(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"recipe": {"dataset": "mnist"}, "float_test_accuracy": 0.5}))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CharzError, match="unreadable"):
        zoo.shipped(tmp_path)
    (tmp_path / "bad.json").unlink()
    [rec] = zoo.shipped(tmp_path)
    assert rec["name"] == "m" and rec["onnx"] is None


@pytest.mark.parametrize("args, needle", [
    (["train", "--model", "nope"], "unknown model 'nope'"),
    (["train", "--model", "lenet5", "--network", "wht"], "not both"),
    (["train", "--model", "lenet5", "--length", "4"], "not to --model"),
    (["train", "--limit", "10"], "--limit applies to --model only"),
    (["train", "--model", "lenet5", "-o", "x.npz"], "--out"),
])
def test_train_model_bad_input_is_one_line(args, needle):
    assert needle in one_line_error(charz(*args))


def test_train_model_refuses_an_existing_out_before_training(tmp_path):
    (tmp_path / "m.json").write_text("{}")
    err = one_line_error(charz("train", "--model", "lenet5", "--out", str(tmp_path / "m.onnx")))
    assert "m.json already exists: give --force" in err
    assert (tmp_path / "m.json").read_text() == "{}"
    assert "--force applies to --model only" in one_line_error(charz("train", "--force"))


def test_fit_resumed_after_a_kill_is_the_same_training(tmp_path):
    """A 2-epoch run killed after its first epoch and resumed from its checkpoint (a new call, as a new
    process would) gives the weights, losses and history of the uninterrupted run, bit for bit; a checkpoint
    of another run is refused in one line."""
    torch = pytest.importorskip("torch")
    from charz import datasets

    try:
        datasets.load("mnist", "train", limit=10)
    except CharzError:
        pytest.skip("MNIST is not on the dataset search path")

    class Kill(Exception):
        pass

    def kill_after_first(line):
        if "epoch 1/2" in line:
            raise Kill

    kw = dict(epochs=2, limit=300, seed=3)
    whole = zoo.fit("lenet5", "mnist", progress=None, **kw)
    ck = tmp_path / "lenet5.ckpt"
    with pytest.raises(Kill):
        zoo.fit("lenet5", "mnist", progress=kill_after_first, checkpoint=ck, **kw)
    assert len(torch.load(str(ck), weights_only=True)["history"]) == 1
    resumed = zoo.fit("lenet5", "mnist", progress=None, checkpoint=ck, **kw)
    assert resumed.step_losses == whole.step_losses
    assert [(e["loss"], e["train_accuracy"]) for e in resumed.epochs] == [(e["loss"], e["train_accuracy"])
                                                                          for e in whole.epochs]
    a, b = whole.module.state_dict(), resumed.module.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(CharzError, match="another run"):
        zoo.fit("lenet5", "mnist", progress=None, checkpoint=ck, epochs=3, limit=300, seed=3)


def test_train_resume_needs_its_checkpoint_and_refuses_a_stale_one(tmp_path):
    err = one_line_error(charz("train", "--model", "lenet5", "--out", str(tmp_path / "m.onnx"), "--resume"))
    assert "no checkpoint" in err and "m.ckpt" in err
    (tmp_path / "m.ckpt").write_bytes(b"x")
    err = one_line_error(charz("train", "--model", "lenet5", "--out", str(tmp_path / "m.onnx")))
    assert "unfinished training run: give --resume" in err
    assert "--resume applies to --model only" in one_line_error(charz("train", "--resume"))


def test_training_without_torch_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    with pytest.raises(zoo.TrainingExtraMissing, match=r"pip install 'charz\[train\]'"):
        zoo.fit("lenet5", epochs=1, limit=10, progress=None)


@pytest.mark.slow
def test_lenet5_one_epoch_on_2000_images_loss_falls(tmp_path):
    torch = pytest.importorskip("torch")
    from charz import datasets

    try:
        datasets.load("mnist", "train", limit=10)
    except CharzError as exc:
        pytest.skip(f"dataset not found: {exc}")
    torch.set_num_threads(2)
    fit = zoo.fit("lenet5", "mnist", epochs=1, limit=2000, progress=None)
    assert fit.train_images == 2000 and len(fit.step_losses) == 16
    assert np.mean(fit.step_losses[-4:]) < np.mean(fit.step_losses[:4]) - 0.1  # one short epoch, mostly warm-up
    out = zoo.export(fit, tmp_path / "lenet5.onnx")
    model = onnx.load(str(out))
    assert zoo.onnx_parameters(model) == 61706 and zoo.preprocess_of(model)["input_shape"] == [1, 28, 28]


def test_bf16_recipe_trains_in_bfloat16_and_exports_float32(tmp_path):
    """ResNet-20's recipe trains under CPU autocast (bfloat16, channels-last); the exported file is float32 and
    the charz float executor reproduces the float32 module on it."""
    torch = pytest.importorskip("torch")
    from charz import datasets
    from charz.network.graph import run
    from charz.network.onnx_import import load_onnx

    assert zoo.get("resnet20").recipe()["precision"] == "bf16" and zoo.get("lenet5").precision == "fp32"
    try:
        data = datasets.load("cifar10", "test", limit=8)
    except CharzError as exc:
        pytest.skip(f"dataset not found: {exc}")
    torch.set_num_threads(2)
    fit = zoo.fit("resnet20", "cifar10", epochs=1, limit=256, progress=None)
    assert len(fit.step_losses) == 2 and all(np.isfinite(fit.step_losses))
    assert all(p.dtype == torch.float32 for p in fit.module.parameters())
    out = zoo.export(fit, tmp_path / "r20.onnx")
    model = onnx.load(str(out))
    assert {t.data_type for t in model.graph.initializer} <= {onnx.TensorProto.FLOAT, onnx.TensorProto.INT64}
    x = zoo.preprocess(np.asarray(data.images), fit.preprocess)
    with torch.no_grad():
        ref = fit.module(torch.from_numpy(x)).numpy()
    graph = load_onnx(model)
    got = run(graph, {graph.inputs[0][0]: x})[graph.outputs[0]]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
