"""A small graph IR for imported networks (ONNX: :mod:`charz.network.onnx_import`) and its NumPy executor.

A :class:`Graph` is a list of :class:`Node` in topological order, constant tensors (``initializers``: the
weights and every ONNX ``Constant``), the declared inputs ``(name, shape, dtype)`` (a dimension is an int,
or a name / None when the model leaves it free) and the output names. :func:`run` executes it with the
operators of :mod:`charz.network.ops`, in the model's dtypes (float32 for a float32 model).

The hooks are where circuits plug in: ``product(node, x2d, w2d) -> y2d`` receives every product of
activations with a constant weight (Conv after im2col, once per group and row block; Gemm; MatMul with a
constant 2-D second input), ``act_product(node, a, b)`` every product of two activations (attention),
``block(node, call)`` every fixed-function block operator of charz's ONNX domain ``ai.charz`` (the WHT
crossbar, :mod:`charz.network.ops_wht`: a hard-wired transform with its own quantization, not a weight
product).
The contract (shapes, K order, the im2col bound :data:`charz.network.ops.IM2COL_BYTES`) is in
:mod:`charz.network.ops`.

:func:`weight_products` and :func:`macs` give a mapper what it needs per node: K, N, groups, output
positions per image, and multiply-accumulates for an input shape. They come from one *dry* trace run of
the graph (zeros in, products recorded but not computed; the cost of the non-product operators only).

Graph transforms used by the importer: :func:`fold_constants` (every node whose inputs are all constant
becomes an initializer) and :func:`fold_batchnorm` (an inference BatchNormalization after a Conv / Gemm
with constant parameters is folded into that node's weight and bias).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NamedTuple

import numpy as np

from ..core.errors import CharzError, ParameterError
from . import ops
from .ops import CHECKS, OPS, Context, HookFailure, ProductRecord, default_act_product, default_product

FOLD_BYTES = 64 * 2**20  # a folded constant larger than this stays a node (an Expand / ConstantOfShape)


class UnsupportedOperatorError(ParameterError):
    """The model uses an ONNX operator (or an operator setting) the executor does not implement."""


@dataclass(frozen=True)
class Node:
    """One operator application: ONNX op type, unique name, input / output tensor names ("" = omitted
    optional input or unused output), decoded attributes (ints, floats, str, tuples, NumPy arrays; a
    ``Cast``'s ``to`` is a NumPy dtype)."""

    op: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict = field(default_factory=dict)


@dataclass
class Graph:
    """Nodes in topological order, constant tensors, declared inputs ``(name, shape, dtype)``, output names,
    the default-domain opset version."""

    nodes: list[Node]
    initializers: dict[str, np.ndarray]
    inputs: list[tuple[str, tuple, np.dtype]]
    outputs: list[str]
    opset: int
    name: str = ""

    def node(self, name: str) -> Node:
        """The node called *name* (ParameterError when there is none)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise ParameterError(f"no node '{name}' in the graph")

    def producers(self) -> dict[str, Node]:
        """Tensor name -> the node that computes it."""
        return {t: n for n in self.nodes for t in n.outputs if t}

    def consumers(self) -> dict[str, list[Node]]:
        """Tensor name -> the nodes that read it, in graph order."""
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for t in n.inputs:
                if t:
                    out.setdefault(t, []).append(n)
        return out

    def op_counts(self) -> dict[str, int]:
        """Op type -> number of nodes."""
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return counts


class WeightProduct(NamedTuple):
    """A weight product of one node: K x N weights per group, ``groups`` groups, ``positions`` activation
    rows per image (Conv: H_out x W_out; MatMul on (B, T, K): T; Gemm: 1)."""

    name: str
    op: str
    K: int
    N: int
    groups: int
    positions: int


def check_supported(graph: Graph) -> None:
    """Raise :class:`UnsupportedOperatorError` (one line: operator, node, the supported list) for the first
    node the executor cannot run."""
    for node in graph.nodes:
        if node.op not in OPS:
            others = sum(1 for n in graph.nodes if n.op not in OPS) - 1
            more = f" ({others} more unsupported node(s))" if others else ""
            raise UnsupportedOperatorError(
                f"unsupported ONNX operator '{node.op}' (node '{node.name}'){more}; supported: "
                f"{', '.join(ops.supported())}")
        check = CHECKS.get(node.op)
        reason = check(node, graph.initializers) if check else None
        if reason:
            raise UnsupportedOperatorError(f"unsupported ONNX operator setting: {node.op} with {reason} "
                                           f"(node '{node.name}')")


def _wanted(graph: Graph, until) -> list[str]:
    if until is None:
        return list(graph.outputs)
    names = [until] if isinstance(until, str) else list(until)
    tensors = set(graph.producers()) | set(graph.initializers) | {i[0] for i in graph.inputs}
    by_node = {n.name: n for n in graph.nodes}
    out: list[str] = []
    for name in names:
        if name in tensors:
            out.append(name)
        elif name in by_node:
            out.extend(t for t in by_node[name].outputs if t)
        else:
            raise ParameterError(f"until: no tensor or node called '{name}' in the graph")
    return out


def _needed(graph: Graph, wanted: Iterable[str]) -> list[Node]:
    producers = graph.producers()
    todo, seen, keep = list(wanted), set(), set()
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        node = producers.get(t)
        if node is not None and node.name not in keep:
            keep.add(node.name)
            todo.extend(i for i in node.inputs if i)
    return [n for n in graph.nodes if n.name in keep]


def _shape_text(shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _feeds(graph: Graph, feeds: Mapping[str, Any], needed: set[str], strict: bool = True) -> dict[str, np.ndarray]:
    declared = {name: (shape, dtype) for name, shape, dtype in graph.inputs}
    for name in feeds:
        if name not in declared:
            raise ParameterError(f"unknown model input '{name}'; the model's inputs: {', '.join(declared) or 'none'}")
    out = {}
    for name, (shape, dtype) in declared.items():
        if name not in needed:
            continue
        if name not in feeds:
            raise ParameterError(f"model input '{name}' {_shape_text(shape)} not given")
        x = np.asarray(feeds[name])
        try:
            x = x.astype(dtype, copy=False)
        except (TypeError, ValueError) as e:
            raise ParameterError(f"model input '{name}' cannot be read as {np.dtype(dtype)}: {e}") from None
        if strict and shape is not None and (x.ndim != len(shape) or any(isinstance(d, (int, np.integer)) and d != s
                                                                for d, s in zip(shape, x.shape))):
            raise ParameterError(f"model input '{name}' has shape {tuple(x.shape)}; the model expects "
                                 f"{_shape_text(shape)}")
        out[name] = x
    return out


def _call(node: Node, inputs: list, ctx: Context) -> tuple:
    try:
        return OPS[node.op](node, inputs, ctx)
    except HookFailure as f:
        raise f.args[0]
    except CharzError:
        raise
    except (ValueError, IndexError, TypeError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ParameterError(f"node '{node.name}' ({node.op}) failed: {first}") from e


def _execute(graph: Graph, feeds: Mapping[str, Any], wanted: list[str], ctx: Context,
             strict: bool = True) -> dict[str, np.ndarray]:
    nodes = _needed(graph, wanted)
    check_supported(Graph(nodes, {}, [], [], graph.opset))
    used = {t for n in nodes for t in n.inputs if t} | set(wanted)
    env: dict[str, np.ndarray] = dict(graph.initializers)
    env.update(_feeds(graph, feeds, used, strict))
    last: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for t in node.inputs:
            if t:
                last[t] = i
    keep = set(wanted) | set(graph.initializers)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        for i, node in enumerate(nodes):
            try:
                inputs = [env[t] if t else None for t in node.inputs]
            except KeyError as e:
                raise ParameterError(f"node '{node.name}' ({node.op}) reads '{e.args[0]}', which nothing "
                                     f"computes and no input gives") from None
            outs = _call(node, inputs, ctx)
            for t, v in zip(node.outputs, outs):
                if t and (t in last or t in keep):
                    env[t] = np.asarray(v)
            for t in node.inputs:
                if t and last.get(t) == i and t not in keep:
                    env.pop(t, None)
    missing = [t for t in wanted if t not in env]
    if missing:
        raise ParameterError(f"the graph does not compute {', '.join(missing)}")
    return {t: env[t] for t in wanted}


def run(graph: Graph, feeds: Mapping[str, Any], *, product=None, act_product=None, block=None,
        until=None) -> dict[str, np.ndarray]:
    """Execute *graph* on *feeds* (input name -> array, cast to the declared dtype) in NumPy.

    ``product(node, x2d, w2d) -> y2d`` computes every activation x constant-weight product (default
    ``x2d @ w2d``, float32 for a float32 model), ``act_product(node, a, b)`` every activation x activation
    product (default ``np.matmul``); see :mod:`charz.network.ops`. ``block(node, call) -> y2d`` computes every
    fixed-function block operator of charz's domain (``ai.charz.WhtCrossbar``: *call* is a
    :class:`charz.network.ops_wht.BlockCall`); without it such an operator returns its float path.
    ``until``: a tensor name, a node name (its outputs) or a list of them; only the nodes those need run, and
    the result holds exactly them. Returns output name -> array (the graph outputs when ``until`` is None).
    """
    ctx = Context(graph.initializers, graph.opset, product or default_product, act_product or default_act_product,
                  block=block)
    return _execute(graph, feeds, _wanted(graph, until), ctx)


def _trace_shapes(graph: Graph, input_shapes) -> dict[str, tuple[int, ...]]:
    if input_shapes is not None and not isinstance(input_shapes, Mapping):
        if len(graph.inputs) != 1:
            raise ParameterError(f"the model has {len(graph.inputs)} inputs: give input_shapes as a dict")
        input_shapes = {graph.inputs[0][0]: input_shapes}
    given = dict(input_shapes or {})
    out = {}
    for name, shape, _ in graph.inputs:
        if name in given:
            out[name] = tuple(int(d) for d in given.pop(name))
        elif shape is None:
            raise ParameterError(f"model input '{name}' has no declared shape: give input_shapes")
        else:
            out[name] = tuple(int(d) if isinstance(d, (int, np.integer)) and d > 0 else 1 for d in shape)
    if given:
        raise ParameterError(f"input_shapes names unknown input(s): {', '.join(given)}")
    return out


def trace(graph: Graph, input_shapes=None) -> list[ProductRecord]:
    """Every product the graph computes for inputs of *input_shapes* (input name -> shape, or one shape for a
    one-input model; default: the declared shapes, free dimensions = 1; given shapes may differ from declared
    fixed ones), in execution order: one
    :class:`charz.network.ops.ProductRecord` per node (a Conv's groups in one record). A dry run: zeros in,
    products not computed."""
    shapes = _trace_shapes(graph, input_shapes)
    dtypes = {name: dtype for name, _, dtype in graph.inputs}
    feeds = {name: np.zeros(shape, dtypes[name]) for name, shape in shapes.items()}
    first = shapes[graph.inputs[0][0]] if graph.inputs else ()
    record: list[ProductRecord] = []
    ctx = Context(graph.initializers, graph.opset, record=record, batch=first[0] if first else 1, dry=True)
    _execute(graph, feeds, list(graph.outputs), ctx, strict=input_shapes is None)
    return record


def weight_products(graph: Graph, input_shapes=None, *, blocks: bool = False) -> list[WeightProduct]:
    """``(node name, op, K, N, groups, positions per image)`` of every activation x constant-weight product,
    in execution order (:func:`trace`'s shapes; the image count is the first input's leading dimension).
    With *blocks*, the fixed-function block operators too (trace kind ``"block"``: a WHT crossbar node has
    K = N = R and groups = n / R, one crossbar per group), in the same execution order."""
    kinds = ("weight", "block") if blocks else ("weight",)
    return [WeightProduct(r.name, r.op, r.K, r.N, r.groups, r.rows // max(r.batch, 1))
            for r in trace(graph, input_shapes) if r.kind in kinds]


def macs(graph: Graph, input_shapes=None, *, kind: str | None = None) -> dict[str, int]:
    """Multiply-accumulates per node for inputs of *input_shapes* (the whole batch; :func:`trace`), weight
    and activation products (``kind="weight"`` / ``"act"``: only those). Nodes without a product are absent."""
    out: dict[str, int] = {}
    for r in trace(graph, input_shapes):
        if kind is None or r.kind == kind:
            out[r.name] = out.get(r.name, 0) + r.macs
    return out


def fold_constants(graph: Graph, max_bytes: int = FOLD_BYTES) -> Graph:
    """*graph* with every node whose inputs are all constant computed once into initializers (shape
    arithmetic, transposed / cast weights, ...), unless its result exceeds *max_bytes*; unused
    initializers dropped."""
    consts = dict(graph.initializers)
    ctx = Context(consts, graph.opset)
    kept: list[Node] = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        for node in graph.nodes:
            real = [t for t in node.inputs if t]
            if node.op in OPS and real and all(t in consts for t in real):
                outs = _call(node, [consts[t] if t else None for t in node.inputs], ctx)
                if sum(np.asarray(v).nbytes for v in outs) <= max_bytes:
                    for t, v in zip(node.outputs, outs):
                        if t:
                            consts[t] = np.ascontiguousarray(v)
                    continue
            kept.append(node)
    used = {t for n in kept for t in n.inputs if t} | set(graph.outputs)
    return Graph(kept, {k: v for k, v in consts.items() if k in used}, list(graph.inputs), list(graph.outputs),
                 graph.opset, graph.name)


def _fresh(taken: Mapping[str, Any], base: str) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def fold_batchnorm(graph: Graph) -> Graph:
    """*graph* with each inference BatchNormalization whose input is the only use of a Conv / Gemm output
    (constant weight, bias and BN parameters) folded into that node: W' = W x s, b' = (b - mean) x s + beta
    with s = scale / sqrt(var + epsilon), computed in float64 and stored in the weight's dtype."""
    producers, consumers = graph.producers(), graph.consumers()
    inits = dict(graph.initializers)
    replaced: dict[str, Node] = {}
    dropped: set[str] = set()
    for bn in graph.nodes:
        if bn.op != "BatchNormalization" or any(bn.outputs[1:]) or bn.attrs.get("training_mode", 0):
            continue
        x = bn.inputs[0]
        p = producers.get(x)
        if p is None or p.op not in ("Conv", "Gemm") or p.name in replaced or len(p.inputs) < 2:
            continue
        if len(consumers.get(x, [])) != 1 or x in graph.outputs:
            continue
        params = [inits.get(t) for t in bn.inputs[1:5]]
        w = inits.get(p.inputs[1])
        bias_name = p.inputs[2] if len(p.inputs) > 2 else ""
        b = inits.get(bias_name) if bias_name else None
        if any(v is None for v in params) or w is None or (bias_name and b is None):
            continue
        scale, beta, mean, var = (np.asarray(v, np.float64) for v in params)
        s = scale / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
        b64 = np.asarray(b, np.float64) if b is not None else np.zeros(())
        attrs = dict(p.attrs)
        if p.op == "Conv":
            if s.shape != (w.shape[0],):
                continue
            w2 = w.astype(np.float64) * s.reshape((-1,) + (1,) * (w.ndim - 1))
            b2 = (b64 - mean) * s + beta
        else:
            trans = bool(attrs.get("transB", 0))
            if w.ndim != 2 or s.shape != ((w.shape[0],) if trans else (w.shape[1],)):
                continue
            w2 = w.astype(np.float64) * (s[:, None] if trans else s[None, :])
            b2 = b64 * float(attrs.get("beta", 1.0)) * s + beta - mean * s
            attrs["beta"] = 1.0
        wn = _fresh(inits, f"{p.name}/bn_folded_weight")
        inits[wn] = w2.astype(w.dtype)
        bn_name = _fresh(inits, f"{p.name}/bn_folded_bias")
        inits[bn_name] = np.asarray(b2).astype(w.dtype)
        replaced[p.name] = Node(p.op, p.name, (p.inputs[0], wn, bn_name), bn.outputs[:1], attrs)
        dropped.add(bn.name)
    if not replaced:
        return graph
    nodes = [replaced.get(n.name, n) for n in graph.nodes if n.name not in dropped]
    used = {t for n in nodes for t in n.inputs if t} | set(graph.outputs)
    return Graph(nodes, {k: v for k, v in inits.items() if k in used}, list(graph.inputs), list(graph.outputs),
                 graph.opset, graph.name)
