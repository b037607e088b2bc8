"""The trainable PyTorch module made from an ONNX graph computes what the executor computes, trains, and writes
its weights back in the file's layout (needs PyTorch)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from charz.core.errors import ParameterError
from charz.network.graph import run
from charz.network.onnx_import import load_onnx
from charz.network.zoo import MODELS_DIR

torch = pytest.importorskip("torch")
from charz.network import torch_graph as tg  # noqa: E402


def _executor(graph, x):
    out = run(graph, {graph.inputs[0][0]: x})
    return out[graph.outputs[0]] if isinstance(out, dict) else out[0]


@pytest.mark.parametrize("name,shape", [("lenet5", (1, 28, 28)), ("resnet20", (3, 32, 32))])
def test_a_shipped_model_runs_as_on_the_executor_and_writes_back_unchanged(name, shape):
    proto = onnx.load(str(MODELS_DIR / f"{name}.onnx"))
    graph = load_onnx(proto)
    module = tg.build(graph)
    x = np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32)
    with torch.no_grad():
        y = module(torch.from_numpy(x)).numpy()
    ref = _executor(graph, x)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))
    out = tg.write_back(proto, module.onnx_state())
    for a, b in zip(proto.graph.initializer, out.graph.initializer):
        np.testing.assert_array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))
    # ResNet-20's shortcuts (strided Slice, channel Pad) and its folded batch norms: 19 convolutions + the head
    assert len(module.weight_nodes()) == (5 if name == "lenet5" else 20)


def _mlp(bn: bool = False):
    rng = np.random.default_rng(1)
    w1 = rng.normal(size=(6, 5)).astype(np.float32)  # MatMul: (K, N)
    b1 = rng.normal(size=(5,)).astype(np.float32)
    w2 = rng.normal(size=(5, 3)).astype(np.float32)  # Gemm, transB = 0: (K, N)
    b2 = rng.normal(size=(3,)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"], name="mm"),
             helper.make_node("Add", ["h0", "b1"], ["h1"], name="add"),
             helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
             helper.make_node("Gemm", ["h2", "w2", "b2"], ["y" if not bn else "g"], name="gemm")]
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))]
    if bn:
        nodes.append(helper.make_node("BatchNormalization", ["g", "s", "bb", "m", "v"], ["y"], name="bn"))
        inits += [numpy_helper.from_array(np.full(3, v, np.float32), n)
                  for n, v in (("s", 2.0), ("bb", 0.1), ("m", 0.3), ("v", 4.0))]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_matmul_and_untransposed_gemm_train_and_write_back_in_the_onnx_layout():
    proto = _mlp()
    module = tg.build(load_onnx(proto))
    x = np.random.default_rng(2).normal(size=(8, 6)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), _executor(load_onnx(proto), x), rtol=1e-5,
                                   atol=1e-5)
    assert module.weight_name("gemm") == "w2" and module.base("mm").bias is None
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    loss = module(torch.from_numpy(x)).square().mean()
    loss.backward()
    opt.step()
    out = tg.write_back(proto, module.onnx_state())
    w = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    np.testing.assert_array_equal(w["w2"], module.base("gemm").weight.detach().numpy().T)  # back to (K, N)
    assert not np.array_equal(w["w2"], numpy_helper.to_array(proto.graph.initializer[2]))
    with torch.no_grad():  # the written file computes what the trained module does
        np.testing.assert_allclose(_executor(load_onnx(out), x), module(torch.from_numpy(x)).numpy(), rtol=1e-5,
                                   atol=1e-5)


def test_a_batch_norm_folded_on_import_is_refused_before_training():
    module = tg.build(load_onnx(_mlp(bn=True)))  # the importer folds it into the Gemm: a weight not in the file
    with pytest.raises(ParameterError, match="batch norm") as e:
        tg.check_writable(_mlp(bn=True), module.onnx_state())
    assert "\n" not in str(e.value)


def test_an_operator_it_cannot_train_is_refused_by_name():
    proto = _mlp()
    proto.graph.node[2].op_type = "Sin"
    with pytest.raises(ParameterError, match="node relu \\(Sin\\)") as e:
        tg.build(load_onnx(proto))
    assert "\n" not in str(e.value)


def test_replacing_a_layer_runs_the_replacement():
    module = tg.build(load_onnx(_mlp()))
    base = module.layer("gemm")

    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.base = base

        def forward(self, x):
            return 2 * self.base(x)

    x = torch.ones(2, 6)
    with torch.no_grad():
        y0 = module(x)
        module.set_layer("gemm", Twice())
        torch.testing.assert_close(module(x), 2 * y0)
    assert module.base("gemm") is base
    with pytest.raises(ParameterError, match="not a weight layer"):
        module.layer("relu")


def test_reinserted_batch_norms_start_as_the_identity_and_fold_back_into_the_written_model():
    proto = onnx.load(str(MODELS_DIR / "lenet5.onnx"))
    module = tg.build(load_onnx(proto))
    x = torch.from_numpy(np.random.default_rng(3).uniform(0, 1, size=(64, 1, 28, 28)).astype(np.float32))
    with torch.no_grad():
        y0 = module(x)
    assert module.add_batchnorm(x) == ["/0/Conv", "/3/Conv"]
    with torch.no_grad():
        torch.testing.assert_close(module.eval()(x), y0, rtol=1e-4, atol=1e-4)  # running statistics of x
        torch.testing.assert_close(module.train()(x), y0, rtol=1e-3, atol=1e-3)  # batch statistics: the same x
        bn = module.layer("/3/Conv").bn
        bn.weight.mul_(1.5)
        bn.bias.add_(0.2)
        bn.running_var.mul_(0.7)
        module.base("/3/Conv").weight[:, :2] = 0  # a pruned pattern survives the fold
        y1 = module.eval()(x).numpy()
    out = tg.write_back(proto, module.onnx_state())
    np.testing.assert_allclose(_executor(load_onnx(out), x.numpy()), y1, rtol=1e-4, atol=1e-4)
    w = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}["3.weight"]
    assert np.all(w[:, :2] == 0) and np.all(w[:, 2:] != 0)
