"""Read an ONNX model into a :class:`charz.network.graph.Graph` (the ``onnx`` package only: no onnxruntime).

:func:`load_onnx` reads a file, bytes or a ``ModelProto``; checks it (``onnx.checker``); inlines model-local
functions; decodes attributes (strings as ``str``, tensors as NumPy arrays, a ``Cast``'s ``to`` as a NumPy
dtype); turns ``Constant`` nodes and initializers into the graph's constants; names unnamed nodes
(``<op>_<index>``, unique); sorts the nodes topologically; refuses, before anything runs, a node whose
operator (or operator setting) :mod:`charz.network.ops` does not implement, with one line naming the
operator, the node and the supported list. Then it folds constant subgraphs
(:func:`charz.network.graph.fold_constants`) and inference BatchNormalization into the preceding Conv /
Gemm (:func:`charz.network.graph.fold_batchnorm`); a BatchNormalization that cannot be folded is executed.
The constants are read-only arrays: a product hook receives weights as they are stored.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..core.errors import ParameterError
from .graph import Graph, Node, check_supported, fold_batchnorm, fold_constants

DEFAULT_DOMAINS = ("", "ai.onnx")


def _read(source) -> tuple[onnx.ModelProto, str]:
    if isinstance(source, onnx.ModelProto):
        return source, "the given model"
    if isinstance(source, (bytes, bytearray, memoryview)):
        try:
            return onnx.load_model_from_string(bytes(source)), "the given bytes"
        except Exception as e:  # protobuf's DecodeError and friends
            raise ParameterError(f"not an ONNX model (the given bytes): {type(e).__name__}") from None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ParameterError(f"ONNX file not found: {path}")
        try:
            return onnx.load(str(path)), str(path)
        except Exception as e:
            raise ParameterError(f"not an ONNX model: {path} ({type(e).__name__})") from None
    raise ParameterError(f"load_onnx reads a path, bytes or an onnx.ModelProto, not {type(source).__name__}")


def _attr(a: onnx.AttributeProto, op: str):
    if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
        return None  # sub-graphs (If / Loop / Scan) are refused with their operator
    if a.type == onnx.AttributeProto.SPARSE_TENSOR:
        raise ParameterError(f"sparse tensor attribute '{a.name}' of a {op} node is not supported")
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, list):
        return tuple(x.decode("utf-8") if isinstance(x, bytes) else
                     numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else x for x in v)
    return v


def _constant_value(node: onnx.NodeProto, name: str) -> np.ndarray:
    attrs = {a.name: a for a in node.attribute}
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"].t)
    if "value_float" in attrs:
        return np.array(attrs["value_float"].f, np.float32)
    if "value_floats" in attrs:
        return np.array(list(attrs["value_floats"].floats), np.float32)
    if "value_int" in attrs:
        return np.array(attrs["value_int"].i, np.int64)
    if "value_ints" in attrs:
        return np.array(list(attrs["value_ints"].ints), np.int64)
    raise ParameterError(f"Constant node '{name}' holds a {', '.join(attrs) or 'missing'} value: only dense "
                         f"tensors, floats and ints are supported")


def _shape(value_info: onnx.ValueInfoProto):
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim)


def _toposort(nodes: list[Node], known: set[str]) -> list[Node]:
    ready, out, pending = set(known), [], list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all((not t) or t in ready for t in n.inputs):
                out.append(n)
                ready.update(t for t in n.outputs if t)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            missing = sorted({t for n in rest for t in n.inputs if t and t not in ready})
            raise ParameterError(f"the graph reads tensors nothing computes: {', '.join(missing[:5])}"
                                 + (" ..." if len(missing) > 5 else ""))
        pending = rest
    return out


def load_onnx(source, *, fold_bn: bool = True, fold: bool = True, check: bool = True) -> Graph:
    """The :class:`charz.network.graph.Graph` of an ONNX model (a path, bytes or an ``onnx.ModelProto``).

    ``check``: run ``onnx.checker`` first; ``fold``: fold constant subgraphs; ``fold_bn``: fold inference
    BatchNormalization into the preceding Conv / Gemm. Raises ParameterError (one line) for a file that is
    not a valid ONNX model, :class:`charz.network.graph.UnsupportedOperatorError` for an operator the
    executor does not run.
    """
    model, where = _read(source)
    if check:
        try:
            onnx.checker.check_model(model)
        except (onnx.checker.ValidationError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ParameterError(f"invalid ONNX model ({where}): {first}") from None
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    opset = next((o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS), None)
    if opset is None:
        raise ParameterError(f"the ONNX model ({where}) imports no default-domain opset")
    g = model.graph
    if len(g.sparse_initializer):
        raise ParameterError(f"the ONNX model ({where}) has sparse initializers: not supported")
    initializers = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes: list[Node] = []
    names: set[str] = set()
    for i, n in enumerate(g.node):
        op = n.op_type if n.domain in DEFAULT_DOMAINS else f"{n.domain}.{n.op_type}"
        name = n.name or f"{n.op_type}_{i}"
        while name in names:
            name = f"{name}_{i}"
        names.add(name)
        if op == "Constant":
            initializers[n.output[0]] = _constant_value(n, name)
            continue
        attrs = {a.name: _attr(a, op) for a in n.attribute}
        if op == "Cast" and "to" in attrs:
            attrs["to"] = np.dtype(helper.tensor_dtype_to_np_dtype(attrs["to"]))
        nodes.append(Node(op, name, tuple(n.input), tuple(n.output), attrs))
    inputs = [(v.name, _shape(v), np.dtype(helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)))
              for v in g.input if v.name not in initializers]
    nodes = _toposort(nodes, set(initializers) | {v[0] for v in inputs})
    graph = Graph(nodes, initializers, inputs, [o.name for o in g.output], int(opset), g.name)
    check_supported(graph)
    if fold:
        graph = fold_constants(graph)
    if fold_bn:
        graph = fold_batchnorm(graph)
    for value in graph.initializers.values():
        value.flags.writeable = False  # a hook receives weights as they are: it must not change the model
    return graph
