"""A trainable PyTorch module of an imported ONNX graph (the optional training extra).

The studies that fine-tune a network's CiM layers (D.U.B. pruning, HCiM quantization-aware training) need the
model as a PyTorch module whose weights are the ONNX file's. A zoo builder cannot always give it back: the shipped
ResNet-20 has its batch norms folded into its convolutions, and a user's model has no builder at all. So the
module is made from the graph itself (:func:`charz.network.onnx_import.load_onnx`, after constant and batch-norm
folding): every Conv (2-D), Gemm and MatMul with a constant 2-D weight becomes an ``nn.Conv2d`` / ``nn.Linear``
holding that weight (trainable), every other operator a PyTorch function of the same meaning, constants frozen.

:meth:`GraphModule.layer` / :meth:`GraphModule.set_layer` get and replace a weight layer by its ONNX node name
(a study swaps in its own layer that wraps it: ``.base``), :meth:`GraphModule.onnx_state` gives the trained
weights back in the ONNX initializers' layout, :func:`write_back` puts them into a copy of the model. An operator
outside :data:`OPS` is refused with one line before anything trains.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..core.errors import ParameterError
from .graph import Graph

WEIGHT_OPS = ("Conv", "Gemm", "MatMul")
OPS = ("Conv", "Gemm", "MatMul", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Clip", "Softmax", "Add", "Sub",
       "Mul", "Div", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceSum",
       "Flatten", "Reshape", "Transpose", "Concat", "Slice", "Pad", "Identity", "Dropout", "Squeeze", "Unsqueeze",
       "BatchNormalization")
"""The operators a :class:`GraphModule` runs (the executor runs more; these cover CNNs and MLPs)."""


def _torch():
    from .zoo import _torch as get

    return get()


def _ints(v) -> list[int]:
    return [int(i) for i in np.asarray(v).reshape(-1)]


def _key(name: str, used: set) -> str:
    k = re.sub(r"\W", "_", name).strip("_") or "layer"
    k = "l_" + k if k[0].isdigit() else k
    base, i = k, 1
    while k in used:
        i += 1
        k = f"{base}_{i}"
    used.add(k)
    return k


def _refuse(node, why: str):
    raise ParameterError(f"node {node.name} ({node.op}): {why}; training here takes {', '.join(OPS)} "
                         f"(evaluate the model without training, or export it with these operators)")


def build(graph: Graph):
    """A :class:`GraphModule` of *graph* (its weight layers initialized from the graph's constants)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional
    consts = graph.initializers

    def const(node, i):
        name = node.inputs[i] if len(node.inputs) > i else ""
        if not name:
            return None
        if name not in consts:
            _refuse(node, f"input {i} ({name}) must be a constant")
        return np.asarray(consts[name])

    class _Renorm(nn.Module):
        """A layer followed by a batch norm (:meth:`GraphModule.add_batchnorm`)."""

        def __init__(self, base, bn):
            super().__init__()
            self.base, self.bn = base, bn

        def forward(self, x):
            return self.bn(self.base(x))

    class GraphModule(nn.Module):
        """The graph as a module (module doc). ``layers`` holds the weight layers (a ``ModuleDict`` keyed by a
        sanitized node name); constants stay NumPy-side and are converted once, frozen."""

        def __init__(self):
            super().__init__()
            self.graph = graph
            self.layers = nn.ModuleDict()
            self._key, self._weight, self._bias, self._layout, self._frozen = {}, {}, {}, {}, {}
            used = set()
            if len(graph.inputs) != 1:
                raise ParameterError(f"the model has {len(graph.inputs)} inputs: training here takes one (images)")
            for node in graph.nodes:
                if node.op not in OPS:
                    _refuse(node, "not a training operator")
                if node.op in WEIGHT_OPS and len(node.inputs) > 1 and node.inputs[1] in consts:
                    self._add_layer(node, _key(node.name, used))

        def _add_layer(self, node, key):
            w = np.asarray(consts[node.inputs[1]], np.float32)
            b = const(node, 2) if node.op != "MatMul" else None
            if node.op == "Conv":
                a = node.attrs
                if w.ndim != 4:
                    _refuse(node, f"a {w.ndim - 2}-D convolution (only 2-D)")
                pads = _ints(a.get("pads", (0, 0, 0, 0)))
                if pads[:2] != pads[2:] or a.get("auto_pad", "NOTSET") not in ("NOTSET", "", None):
                    _refuse(node, f"asymmetric or automatic padding {pads}")
                m = nn.Conv2d(w.shape[1] * int(a.get("group", 1)), w.shape[0], tuple(w.shape[2:]),
                              stride=tuple(_ints(a.get("strides", (1, 1)))), padding=tuple(pads[:2]),
                              dilation=tuple(_ints(a.get("dilations", (1, 1)))), groups=int(a.get("group", 1)),
                              bias=b is not None)
                wt, layout = w, "same"
            else:
                if w.ndim != 2:
                    _refuse(node, f"a {w.ndim}-D weight (only 2-D)")
                a = node.attrs
                if node.op == "Gemm" and (int(a.get("transA", 0)) or float(a.get("alpha", 1.0)) != 1.0
                                          or float(a.get("beta", 1.0)) != 1.0):
                    _refuse(node, "transA, alpha or beta set")
                trans = node.op == "Gemm" and int(a.get("transB", 0))
                wt, layout = (w, "same") if trans else (w.T, "transposed")
                m = nn.Linear(wt.shape[1], wt.shape[0], bias=b is not None)
            if b is not None and b.size != m.weight.shape[0]:
                _refuse(node, f"a bias of shape {b.shape} (one per output channel only)")
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(np.array(wt, np.float32)))
                if b is not None:
                    m.bias.copy_(torch.from_numpy(np.array(b, np.float32).reshape(-1)))
            self.layers[key] = m
            self._key[node.name] = key
            self._weight[node.name] = node.inputs[1]
            self._bias[node.name] = node.inputs[2] if b is not None else ""
            self._layout[node.name] = layout

        # ---- the weight layers by node name ------------------------------------------------------------
        def weight_nodes(self) -> list[str]:
            """The node names of the weight layers, in graph order."""
            return list(self._key)

        def layer(self, node: str):
            """The weight layer of ONNX node *node* (what :meth:`set_layer` put there, if anything)."""
            if node not in self._key:
                raise ParameterError(f"node {node!r} is not a weight layer of the model "
                                     f"({', '.join(self._key) or 'none'})")
            return self.layers[self._key[node]]

        def base(self, node: str):
            """The ``nn.Conv2d`` / ``nn.Linear`` of *node*, under any wrapper (``.base``) set in its place."""
            m = self.layer(node)
            while hasattr(m, "base"):
                m = m.base
            return m

        def set_layer(self, node: str, module) -> None:
            """Run *module* in place of *node*'s layer (it takes and returns what the layer does)."""
            self.layer(node)
            self.layers[self._key[node]] = module

        def weight_name(self, node: str) -> str:
            """The ONNX initializer that holds *node*'s weight."""
            self.layer(node)
            return self._weight[node]

        def add_batchnorm(self, x) -> list[str]:
            """Put a ``BatchNorm2d`` after every convolution that has a bias, set to the identity on the inputs
            *x* (running mean / variance of the convolution's outputs there; gamma = their standard deviation,
            beta = their mean), so that a model whose batch norms were folded away trains as it was trained;
            :meth:`onnx_state` folds them back. Returns the nodes that got one."""
            convs = [n for n in self._key if isinstance(self.layer(n), nn.Conv2d) and self.layer(n).bias is not None]
            seen = {}
            hooks = [self.layer(n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o.detach()))
                     for n in convs]
            with torch.no_grad():
                self.eval()(x)
            for h in hooks:
                h.remove()
            for n in convs:
                bn = nn.BatchNorm2d(seen[n].shape[1])
                mu, var = seen[n].mean((0, 2, 3)), seen[n].var((0, 2, 3), unbiased=False)
                with torch.no_grad():
                    bn.running_mean.copy_(mu)
                    bn.running_var.copy_(var)
                    bn.weight.copy_(torch.sqrt(var + bn.eps))
                    bn.bias.copy_(mu)
                self.set_layer(n, _Renorm(self.layer(n), bn))
            return convs

        def onnx_state(self) -> dict:
            """Initializer name -> trained array in the ONNX layout (weights and biases of every layer; a batch
            norm of :meth:`add_batchnorm` folded in with its running statistics)."""
            out = {}
            for node in self._key:
                m = self.base(node)
                w = m.weight.detach().cpu().numpy()
                b = None if m.bias is None else m.bias.detach().cpu().numpy()
                lay = self.layer(node)
                if isinstance(lay, _Renorm):
                    bn = lay.bn
                    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().cpu().numpy()
                    w = w * scale.reshape(-1, *([1] * (w.ndim - 1)))
                    b = (b - bn.running_mean.detach().cpu().numpy()) * scale + bn.bias.detach().cpu().numpy()
                out[self._weight[node]] = np.ascontiguousarray(w.T if self._layout[node] == "transposed" else w)
                if self._bias[node]:
                    out[self._bias[node]] = b.reshape(np.shape(consts[self._bias[node]]))
            return out

        # ---- running it --------------------------------------------------------------------------------
        def _c(self, name):
            t = self._frozen.get(name)
            if t is None:
                t = torch.from_numpy(np.array(consts[name]))
                self._frozen[name] = t
            return t

        def forward(self, x):
            env = {graph.inputs[0][0]: x}

            def val(name):
                if not name:
                    return None
                return env[name] if name in env else self._c(name)

            for node in graph.nodes:
                ins = [val(n) for n in node.inputs]
                y = self._run(node, ins)
                env[node.outputs[0]] = y
            outs = [env[n] if n in env else self._c(n) for n in graph.outputs]
            return outs[0]

        def _run(self, node, ins):
            op, a = node.op, node.attrs
            if node.name in self._key:
                return self.layers[self._key[node.name]](ins[0])
            x = ins[0]
            if op in ("Conv", "Gemm", "MatMul"):
                _refuse(node, "its weight is not a constant")
            if op == "Relu":
                return F.relu(x)
            if op == "LeakyRelu":
                return F.leaky_relu(x, float(a.get("alpha", 0.01)))
            if op == "Sigmoid":
                return torch.sigmoid(x)
            if op == "Tanh":
                return torch.tanh(x)
            if op == "Gelu":
                return F.gelu(x, approximate="tanh" if a.get("approximate", "none") == "tanh" else "none")
            if op == "Clip":
                lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min")
                hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max")
                return torch.clamp(x, None if lo is None else float(lo), None if hi is None else float(hi))
            if op == "Softmax":
                return torch.softmax(x, int(a.get("axis", -1)))
            if op in ("Add", "Sub", "Mul", "Div"):
                b = ins[1]
                return {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op](
                    x, b.to(x.dtype) if b.is_floating_point() else b)
            if op in ("MaxPool", "AveragePool"):
                k = tuple(_ints(a["kernel_shape"]))
                s = tuple(_ints(a.get("strides", (1,) * len(k))))
                p = _ints(a.get("pads", (0,) * 2 * len(k)))
                if len(k) != 2 or p[:2] != p[2:] or _ints(a.get("dilations", (1, 1))) != [1, 1]:
                    _refuse(node, "a pooling other than 2-D with symmetric pads and no dilation")
                ceil = bool(a.get("ceil_mode", 0))
                if op == "MaxPool":
                    return F.max_pool2d(x, k, s, tuple(p[:2]), ceil_mode=ceil)
                return F.avg_pool2d(x, k, s, tuple(p[:2]), ceil_mode=ceil,
                                    count_include_pad=bool(a.get("count_include_pad", 0)))
            if op == "GlobalAveragePool":
                return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
            if op == "GlobalMaxPool":
                return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)
            if op in ("ReduceMean", "ReduceSum"):
                axes = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("axes")
                axes = tuple(_ints(axes)) if axes is not None else tuple(range(x.dim()))
                keep = bool(a.get("keepdims", 1))
                return x.mean(axes, keepdim=keep) if op == "ReduceMean" else x.sum(axes, keepdim=keep)
            if op == "Flatten":
                ax = int(a.get("axis", 1)) % max(x.dim(), 1)
                return x.reshape(math.prod(x.shape[:ax]), -1)
            if op == "Reshape":
                shape = _ints(ins[1])
                if not a.get("allowzero", 0):
                    shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
                return x.reshape(shape)
            if op == "Transpose":
                perm = a.get("perm")
                return x.permute(*(perm if perm is not None else range(x.dim() - 1, -1, -1)))
            if op == "Concat":
                return torch.cat([t for t in ins if t is not None], int(a["axis"]))
            if op == "Slice":
                starts, ends = _ints(ins[1]), _ints(ins[2])
                axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
                steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
                index = [slice(None)] * x.dim()
                for s, e, ax, st in zip(starts, ends, axes, steps):
                    if st < 1:
                        _refuse(node, "a negative slice step")
                    index[ax % x.dim()] = slice(s, e, st)
                return x[tuple(index)]
            if op == "Pad":
                pads = _ints(ins[1])
                if a.get("mode", "constant") != "constant" or (len(ins) > 3 and ins[3] is not None):
                    _refuse(node, "a padding other than constant on every axis")
                value = float(ins[2].reshape(-1)[0]) if len(ins) > 2 and ins[2] is not None else 0.0
                r = len(pads) // 2
                torch_pads = []
                for ax in range(r - 1, -1, -1):  # torch: last axis first, (begin, end) pairs
                    torch_pads += [pads[ax], pads[ax + r]]
                return F.pad(x, torch_pads, value=value)
            if op in ("Identity", "Dropout"):
                return x
            if op in ("Squeeze", "Unsqueeze"):
                axes = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("axes")
                if op == "Squeeze":
                    if axes is None:
                        return x.squeeze()
                    for ax in sorted((v % x.dim() for v in _ints(axes)), reverse=True):
                        x = x.squeeze(ax)
                    return x
                for ax in sorted(_ints(axes)):
                    x = x.unsqueeze(ax % (x.dim() + 1))
                return x
            if op == "BatchNormalization":  # one the importer could not fold: frozen, inference form
                scale, bias, mean, var = ins[1:5]
                eps = float(a.get("epsilon", 1e-5))
                shape = (1, -1) + (1,) * (x.dim() - 2)
                return (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps) * scale.reshape(shape) \
                    + bias.reshape(shape)
            _refuse(node, "not a training operator")

    return GraphModule()


def check_writable(proto, names) -> None:
    """A one-line error unless every initializer in *names* (trained weights) is an initializer of ONNX *proto*
    (not one made on import by folding a batch norm: the file holds the unfolded weight and could not be
    written back)."""
    have = {i.name for i in proto.graph.initializer}
    missing = sorted(set(names) - have)
    if missing:
        raise ParameterError(f"the weight {missing[0]} is made on import (a batch norm folded into its layer), not "
                             f"stored in the ONNX file: export the model with its batch norms folded "
                             f"(torch.onnx.export in eval mode, do_constant_folding=True) and train that")


def write_back(proto, state: dict):
    """A copy of ONNX *proto* with the initializers named in *state* replaced (float32; :func:`check_writable`
    first)."""
    from onnx import numpy_helper

    check_writable(proto, state)
    out = type(proto)()
    out.CopyFrom(proto)
    for init in out.graph.initializer:
        if init.name in state:
            init.CopyFrom(numpy_helper.from_array(np.asarray(state[init.name], np.float32), init.name))
    return out
