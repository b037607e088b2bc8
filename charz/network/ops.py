"""ONNX operators in vectorized NumPy: what :func:`charz.network.graph.run` executes.

Every operator is a function ``fn(node, inputs, ctx) -> tuple of arrays`` registered in :data:`OPS` under its
ONNX op type: ``node`` is a :class:`charz.network.graph.Node` (``attrs`` decoded by the importer),
``inputs`` one array per node input (``None`` for an omitted optional input), ``ctx`` the :class:`Context`
of the run (constants, opset, the product hooks). Arithmetic stays in the model's dtypes: a float32 model
is computed in float32, products by BLAS ``sgemm`` (onnxruntime does the same; the two agree to ~1e-6
relative on the test models).

**Products.** Every product of an activation with a constant weight goes through ``ctx.product(node, x2d,
w2d) -> y2d`` (x2d: (rows, K) activations, w2d: (K, N) weights, y2d: (rows, N)), before any bias:

- ``Conv``: after im2col, once per group and row block: K = C_in/group x kh x kw (in that order, the
  order of ``W[n].ravel()``), N = C_out/group, rows = batch x H_out x W_out. x2d may be a transposed
  (Fortran-ordered) view: its columns are built contiguous, which is the fast copy.
- ``Gemm`` whose B is a constant: x2d = A' (A or A^T), w2d = B' (B or B^T, possibly a view); then
  ``alpha`` and ``beta * C``.
- ``MatMul`` whose second input is a 2-D constant: x2d = A reshaped to (-1, K), w2d = B.

Everything else that multiplies (``MatMul`` of two activations, as in attention; ``Gemm`` with a
non-constant B; ``MatMul`` with a constant first input or a batched constant) goes through
``ctx.act_product(node, a, b) -> np.matmul(a, b)`` with the operands as they are. The defaults are
:func:`default_product` / :func:`default_act_product`: ``x2d @ w2d`` in the operands' dtype (float32).
A hook's result is cast to the node's dtype.

**Memory bound.** A ``Conv`` never builds more than :data:`IM2COL_BYTES` (32 MiB, under the 64 MB ceiling
the design allows; blocks under glibc's 32 MiB mmap threshold are reused instead of page-faulted afresh,
which measured faster than 64 MiB blocks) of im2col columns for one product call: it walks the batch
(whole images while they fit, else blocks of output rows of one image) and, inside each block, the groups
in order. So the hook is called once per group per row block, and exactly once per group when the whole
batch's columns fit (rows x K x itemsize <= 32 MiB); a backend that needs the group index counts calls
modulo ``group``. The only exception is a single output row wider than the bound (W_out x K x itemsize
> 32 MiB), which is one block. The window view itself (``numpy.lib.stride_tricks.sliding_window_view``)
costs no memory; the padded input is one copy of the input, the output one array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import special

from ..core.errors import ParameterError

IM2COL_BYTES = 32 * 2**20  # the most im2col bytes one Conv product call receives (see the module docstring)

Product = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]


def default_product(node, x2d: np.ndarray, w2d: np.ndarray) -> np.ndarray:
    """The default weight product: ``x2d @ w2d`` in the operands' dtype (float32 for a float32 model)."""
    return x2d @ w2d


def default_act_product(node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The default activation x activation product: ``np.matmul(a, b)`` (batched, broadcasting)."""
    return np.matmul(a, b)


class ProductRecord(NamedTuple):
    """One product a node computes, as a trace run records it (``kind`` = "weight" or "act").

    For a weight product: ``K`` x ``N`` weights, ``groups`` groups, ``rows`` activation rows in the whole
    batch (per group), ``batch`` = the batch of the trace. For an activation product: K is the contracted
    length, N the output columns, rows the output rows over all batched matrices, groups 1. ``macs`` =
    rows x K x N x groups.
    """

    name: str
    op: str
    kind: str
    K: int
    N: int
    groups: int
    rows: int
    batch: int
    macs: int


class HookFailure(Exception):
    """Carries an exception raised by a product hook through the executor unchanged (the executor turns other
    failures inside an operator into a one-line ParameterError naming the node; a hook's own error is the
    hook's, and is re-raised as it was)."""


def _hook(fn, node, a, b):
    try:
        return fn(node, a, b)
    except Exception as e:
        raise HookFailure(e) from e


@dataclass
class Context:
    """What a run gives the operators: constant tensors, the opset, the product hooks, an optional record.

    ``dry`` (the trace run behind :func:`charz.network.graph.weight_products`): products are recorded and
    return zeros of the right shape without being computed.
    """

    constants: Mapping[str, np.ndarray]
    opset: int
    product: Product = default_product
    act_product: Product = default_act_product
    record: list | None = None
    batch: int = 1
    dry: bool = False
    block: Callable | None = None
    """``block(node, call) -> y`` of the fixed-function block operators (``ai.charz``); None: their float path."""

    def constant(self, name: str) -> np.ndarray | None:
        """The constant tensor called *name*, None when it is computed at run time (or the name is empty)."""
        return self.constants.get(name) if name else None

    def note(self, node, kind: str, K: int, N: int, groups: int, rows: int) -> None:
        """Record one product of *node* (when recording)."""
        if self.record is not None:
            self.record.append(ProductRecord(node.name, node.op, kind, int(K), int(N), int(groups), int(rows),
                                             int(self.batch), int(rows) * int(K) * int(N) * int(groups)))

    def weight_product(self, node, x2d: np.ndarray, w2d: np.ndarray) -> np.ndarray:
        """``ctx.product`` with its result checked: (rows, N)."""
        if self.dry:
            return np.zeros((x2d.shape[0], w2d.shape[1]), np.result_type(x2d.dtype, w2d.dtype))
        y = np.asarray(_hook(self.product, node, x2d, w2d))
        if y.shape != (x2d.shape[0], w2d.shape[1]):
            raise ParameterError(f"the product hook returned shape {y.shape} for node '{node.name}' ({node.op}); "
                                 f"expected {(x2d.shape[0], w2d.shape[1])}")
        return y

    def matmul(self, node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``ctx.act_product`` (recorded), its result checked against ``np.matmul``'s shape."""
        out_shape = _matmul_shape(a.shape, b.shape)
        n = b.shape[-1] if b.ndim > 1 else 1
        self.note(node, "act", a.shape[-1], n, 1, math.prod(out_shape) // max(n, 1))
        if self.dry:
            return np.zeros(out_shape, np.result_type(a.dtype, b.dtype))
        y = np.asarray(_hook(self.act_product, node, a, b))
        if y.shape != out_shape:
            raise ParameterError(f"the activation product hook returned shape {y.shape} for node '{node.name}' "
                                 f"({node.op}); expected {out_shape}")
        return y


def _matmul_shape(sa: tuple, sb: tuple) -> tuple:
    if len(sa) == 1 and len(sb) == 1:
        return ()
    if len(sa) == 1:
        return sb[:-2] + sb[-1:]
    if len(sb) == 1:
        return sa[:-1]
    return np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])


OPS: dict[str, Callable] = {}
CHECKS: dict[str, Callable] = {}  # op -> fn(node, constants) -> reason the node cannot run, or None


def _op(*names: str):
    def register(fn):
        for name in names:
            OPS[name] = fn
        return fn
    return register


def _check(*names: str):
    def register(fn):
        for name in names:
            CHECKS[name] = fn
        return fn
    return register


def supported() -> list[str]:
    """The ONNX op types this executor runs, sorted (``Constant`` nodes become initializers at import)."""
    return sorted(set(OPS) | {"Constant"})


def _a(node, name: str, default=None):
    return node.attrs.get(name, default)


def _ints(x) -> list[int]:
    return [int(v) for v in np.asarray(x).reshape(-1)]


# ----------------------------------------------------------------------------------------------- elementwise

def _int_div(a, b):
    q = np.abs(a) // np.abs(b)
    return (q * (np.sign(a) * np.sign(b))).astype(np.result_type(a, b))


def _div(a, b):
    if np.issubdtype(np.result_type(a, b), np.integer):
        return _int_div(a, b)
    return a / b


def _pow(a, b):
    return np.power(a, b).astype(a.dtype, copy=False)


_BINARY = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": _div, "Pow": _pow,
    "Equal": np.equal, "Less": np.less, "LessOrEqual": np.less_equal, "Greater": np.greater,
    "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor,
}


@_op(*_BINARY)
def _binary(node, ins, ctx):
    return (_BINARY[node.op](ins[0], ins[1]),)


@_op("Mod")
def _mod(node, ins, ctx):
    a, b = ins
    return ((np.fmod if _a(node, "fmod", 0) else np.mod)(a, b),)


_VARIADIC = {"Sum": np.add, "Max": np.maximum, "Min": np.minimum}


@_op("Sum", "Max", "Min", "Mean")
def _variadic(node, ins, ctx):
    xs = [x for x in ins if x is not None]
    if node.op == "Mean":
        return ((reduce(np.add, xs) / len(xs)).astype(xs[0].dtype, copy=False),)
    return (reduce(_VARIADIC[node.op], xs),)


def _gelu(x, node):
    if _a(node, "approximate", "none") == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi).astype(x.dtype) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + special.erf(x / np.sqrt(2).astype(x.dtype)))


_UNARY = {
    "Relu": lambda x, n: np.maximum(x, 0),
    "LeakyRelu": lambda x, n: np.where(x < 0, _a(n, "alpha", 0.01) * x, x),
    "Elu": lambda x, n: np.where(x < 0, _a(n, "alpha", 1.0) * np.expm1(np.minimum(x, 0)), x),
    "Sigmoid": lambda x, n: special.expit(x),
    "HardSigmoid": lambda x, n: np.clip(_a(n, "alpha", 0.2) * x + _a(n, "beta", 0.5), 0, 1),
    "HardSwish": lambda x, n: x * np.clip(x / 6 + 0.5, 0, 1),
    "Tanh": lambda x, n: np.tanh(x),
    "Softplus": lambda x, n: np.logaddexp(0, x),
    "Gelu": lambda x, n: _gelu(x, n),
    "Erf": lambda x, n: special.erf(x),
    "Sqrt": lambda x, n: np.sqrt(x),
    "Exp": lambda x, n: np.exp(x),
    "Log": lambda x, n: np.log(x),
    "Abs": lambda x, n: np.abs(x),
    "Neg": lambda x, n: np.negative(x),
    "Reciprocal": lambda x, n: np.reciprocal(x),
    "Floor": lambda x, n: np.floor(x),
    "Ceil": lambda x, n: np.ceil(x),
    "Round": lambda x, n: np.round(x),
    "Sign": lambda x, n: np.sign(x),
    "Not": lambda x, n: np.logical_not(x),
    "Sin": lambda x, n: np.sin(x),
    "Cos": lambda x, n: np.cos(x),
}


@_op(*_UNARY)
def _unary(node, ins, ctx):
    x = ins[0]
    return (np.asarray(_UNARY[node.op](x, node)).astype(x.dtype, copy=False),)


@_check("Gelu")
def _check_gelu(node, constants):
    if _a(node, "approximate", "none") not in ("none", "tanh"):
        return f"approximate='{_a(node, 'approximate')}'"
    return None


@_op("Clip")
def _clip(node, ins, ctx):
    x = ins[0]
    if ctx.opset >= 11:
        lo = ins[1] if len(ins) > 1 else None
        hi = ins[2] if len(ins) > 2 else None
    else:
        lo, hi = _a(node, "min"), _a(node, "max")
    if lo is not None:
        x = np.maximum(x, np.asarray(lo, x.dtype))
    if hi is not None:
        x = np.minimum(x, np.asarray(hi, x.dtype))
    return (x,)


@_op("Where")
def _where(node, ins, ctx):
    return (np.where(ins[0], ins[1], ins[2]),)


def _softmax(x, axis, log=False):
    m = x.max(axis=axis, keepdims=True)
    z = x - m
    e = np.exp(z)
    s = e.sum(axis=axis, keepdims=True)
    return z - np.log(s) if log else e / s


@_op("Softmax", "LogSoftmax")
def _softmax_op(node, ins, ctx):
    x = ins[0]
    log = node.op == "LogSoftmax"
    if ctx.opset >= 13:
        return (_softmax(x, int(_a(node, "axis", -1)), log),)
    axis = int(_a(node, "axis", 1)) % max(x.ndim, 1)
    x2 = x.reshape(math.prod(x.shape[:axis]), -1)
    return (_softmax(x2, 1, log).reshape(x.shape),)


# ------------------------------------------------------------------------------------------------- products

@_op("MatMul")
def _matmul(node, ins, ctx):
    a, b = ins
    w = ctx.constant(node.inputs[1])
    if w is not None and w.ndim == 2 and a.ndim >= 1:
        K, N = w.shape
        x2d = a.reshape(-1, K)
        ctx.note(node, "weight", K, N, 1, x2d.shape[0])
        y = ctx.weight_product(node, x2d, w)
        return (y.reshape(a.shape[:-1] + (N,)).astype(np.result_type(a.dtype, w.dtype), copy=False),)
    return (ctx.matmul(node, a, b).astype(np.result_type(a.dtype, b.dtype), copy=False),)


@_op("Gemm")
def _gemm(node, ins, ctx):
    a, b = ins[0], ins[1]
    c = ins[2] if len(ins) > 2 else None
    alpha, beta = float(_a(node, "alpha", 1.0)), float(_a(node, "beta", 1.0))
    a2 = a.T if _a(node, "transA", 0) else a
    b2 = b.T if _a(node, "transB", 0) else b
    dtype = np.result_type(a.dtype, b.dtype)
    if ctx.constant(node.inputs[1]) is not None:
        ctx.note(node, "weight", b2.shape[0], b2.shape[1], 1, a2.shape[0])
        y = ctx.weight_product(node, a2, b2)
    else:
        y = ctx.matmul(node, a2, b2)
    y = y.astype(dtype, copy=False)
    if alpha != 1.0:
        y = y * dtype.type(alpha)
    if c is not None:
        y = y + (c if beta == 1.0 else c * dtype.type(beta))
    return (y.astype(dtype, copy=False),)


def _spatial(node, x_rank: int, kernel: tuple[int, ...]):
    """(strides, dilations, begin pads, end pads) of a Conv / pool for spatial rank len(kernel)."""
    r = len(kernel)
    strides = tuple(int(s) for s in _a(node, "strides", (1,) * r))
    dil = tuple(int(d) for d in _a(node, "dilations", (1,) * r))
    pads = tuple(int(p) for p in _a(node, "pads", (0,) * (2 * r)))
    return strides, dil, pads[:r], pads[r:]


def _auto_pads(node, in_shape, kernel, strides, dil, begin, end):
    mode = _a(node, "auto_pad", "NOTSET")
    if mode in ("NOTSET", "", None):
        return begin, end
    if mode == "VALID":
        return (0,) * len(kernel), (0,) * len(kernel)
    b, e = [], []
    for n, k, s, d in zip(in_shape, kernel, strides, dil):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        small = total // 2
        b.append(small if mode == "SAME_UPPER" else total - small)
        e.append(total - b[-1])
    return tuple(b), tuple(e)


def _to_2d(x, kernel, strides, dil, begin, end):
    """A 1-D spatial problem as a 2-D one with a height of 1."""
    if len(kernel) == 2:
        return x, kernel, strides, dil, begin, end
    return (x[:, :, None, :], (1,) + tuple(kernel), (1,) + tuple(strides), (1,) + tuple(dil),
            (0,) + tuple(begin), (0,) + tuple(end))


@_check("Conv", "MaxPool", "AveragePool")
def _check_spatial(node, constants):
    kernel = _a(node, "kernel_shape")
    if kernel is None and node.op == "Conv" and len(node.inputs) > 1 and node.inputs[1] in constants:
        kernel = constants[node.inputs[1]].shape[2:]
    if kernel is not None and len(kernel) not in (1, 2):
        return f"{len(kernel)}-D kernel (1-D and 2-D only)"
    if _a(node, "auto_pad", "NOTSET") not in ("NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"):
        return f"auto_pad={_a(node, 'auto_pad')}"
    if node.op == "MaxPool" and len(node.outputs) > 1 and node.outputs[1]:
        return "the Indices output"
    return None


def _row_blocks(batch: int, h_out: int, w_out: int, row_bytes: int):
    """(b0, b1, h0, h1) blocks of output positions, each at most IM2COL_BYTES of columns (one row at least)."""
    limit = max(1, IM2COL_BYTES // max(row_bytes, 1))
    per_image = h_out * w_out
    if per_image <= limit:
        step = max(1, limit // max(per_image, 1))
        for b0 in range(0, batch, step):
            yield b0, min(batch, b0 + step), 0, h_out
    else:
        step = max(1, limit // max(w_out, 1))
        for b in range(batch):
            for h0 in range(0, h_out, step):
                yield b, b + 1, h0, min(h_out, h0 + step)


@_op("Conv")
def _conv(node, ins, ctx):
    x, w = ins[0], ins[1]
    bias = ins[2] if len(ins) > 2 else None
    one_d = x.ndim == 3
    kernel = tuple(w.shape[2:])
    strides, dil, begin, end = _spatial(node, x.ndim, kernel)
    begin, end = _auto_pads(node, x.shape[2:], kernel, strides, dil, begin, end)
    x4, (kh, kw), (sh, sw), (dh, dw), (pt, pl), (pb, pr) = _to_2d(x, kernel, strides, dil, begin, end)
    batch, c_in, h, wd = x4.shape
    c_out, cg = w.shape[0], w.shape[1]
    g = int(_a(node, "group", 1))
    if cg * g != c_in or c_out % g:
        raise ParameterError(f"Conv node '{node.name}': {c_in} input channels, weight {w.shape}, group {g} "
                             f"do not agree")
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    h_out = (h + pt + pb - ekh) // sh + 1
    w_out = (wd + pl + pr - ekw) // sw + 1
    K, N = cg * kh * kw, c_out // g
    dtype = np.result_type(x.dtype, w.dtype)
    constant = ctx.constant(node.inputs[1]) is not None
    ctx.note(node, "weight" if constant else "act", K, N, g, batch * h_out * w_out)
    out = np.zeros((batch, c_out, h_out, w_out), dtype)
    if not ctx.dry and h_out > 0 and w_out > 0:
        xp = np.pad(x4, ((0, 0), (0, 0), (pt, pb), (pl, pr))) if (pt or pb or pl or pr) else x4
        win = sliding_window_view(xp, (ekh, ekw), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :h_out, :w_out]
        weights = [w[i * N:(i + 1) * N].reshape(N, K).T for i in range(g)]
        for b0, b1, h0, h1 in _row_blocks(batch, h_out, w_out, K * x.itemsize):
            rows = (b1 - b0) * (h1 - h0) * w_out
            for i in range(g):
                # columns built as (K, rows), contiguous along the output row: x2d is its transposed view
                cols = win[b0:b1, i * cg:(i + 1) * cg, h0:h1].transpose(1, 4, 5, 0, 2, 3).reshape(K, rows).T
                if constant:
                    y = ctx.weight_product(node, cols, weights[i])
                else:
                    y = np.asarray(_hook(ctx.act_product, node, cols, weights[i]))
                    if y.shape != (rows, N):
                        raise ParameterError(f"the activation product hook returned shape {y.shape} for node "
                                             f"'{node.name}' (Conv); expected {(rows, N)}")
                out[b0:b1, i * N:(i + 1) * N, h0:h1] = y.reshape(b1 - b0, h1 - h0, w_out, N).transpose(0, 3, 1, 2)
    if bias is not None:
        out += bias.astype(dtype, copy=False).reshape(1, -1, 1, 1)
    return (out[:, :, 0] if one_d else out,)


# --------------------------------------------------------------------------------------------------- pooling

def _out_len(n, pb, pe, ek, s, ceil):
    span = n + pb + pe - ek
    if ceil:
        o = -(-span // s) + 1
        if (o - 1) * s >= n + pb:
            o -= 1
        return o
    return span // s + 1


@_op("MaxPool", "AveragePool")
def _pool(node, ins, ctx):
    x = ins[0]
    kernel = tuple(int(k) for k in _a(node, "kernel_shape"))
    strides, dil, begin, end = _spatial(node, x.ndim, kernel)
    begin, end = _auto_pads(node, x.shape[2:], kernel, strides, dil, begin, end)
    x4, (kh, kw), (sh, sw), (dh, dw), (pt, pl), (pb, pr) = _to_2d(x, kernel, strides, dil, begin, end)
    h, wd = x4.shape[2:]
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    ceil = bool(_a(node, "ceil_mode", 0))
    h_out = _out_len(h, pt, pb, ekh, sh, ceil)
    w_out = _out_len(wd, pl, pr, ekw, sw, ceil)
    xh = max(0, (h_out - 1) * sh + ekh - (h + pt + pb))
    xw = max(0, (w_out - 1) * sw + ekw - (wd + pl + pr))
    pad = ((0, 0), (0, 0), (pt, pb + xh), (pl, pr + xw))
    if node.op == "MaxPool":
        fill = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
        xp = np.pad(x4, pad, constant_values=fill)
        win = sliding_window_view(xp, (ekh, ekw), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :h_out, :w_out]
        y = win.max(axis=(-2, -1))
    else:
        xp = np.pad(x4, pad)
        win = sliding_window_view(xp, (ekh, ekw), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :h_out, :w_out]
        mask = np.zeros(xp.shape[2:], np.float64)
        if _a(node, "count_include_pad", 0):
            mask[:h + pt + pb, :wd + pl + pr] = 1
        else:
            mask[pt:pt + h, pl:pl + wd] = 1
        mwin = sliding_window_view(mask, (ekh, ekw))[::sh, ::sw, ::dh, ::dw][:h_out, :w_out]
        count = mwin.sum(axis=(-2, -1))
        y = (win.sum(axis=(-2, -1), dtype=np.float64) / count).astype(x.dtype)
    return (y[:, :, 0] if x.ndim == 3 else y,)


@_op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(node, ins, ctx):
    x = ins[0]
    axes = tuple(range(2, x.ndim))
    if node.op == "GlobalMaxPool":
        return (x.max(axis=axes, keepdims=True),)
    return (x.mean(axis=axes, keepdims=True, dtype=np.float64).astype(x.dtype),)


# ------------------------------------------------------------------------------------------- normalization

@_op("BatchNormalization")
def _batchnorm(node, ins, ctx):
    x, scale, b, mean, var = ins[:5]
    eps = float(_a(node, "epsilon", 1e-5))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    s = (scale.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps))
    shift = b.astype(np.float64) - mean.astype(np.float64) * s
    return (x * s.astype(x.dtype).reshape(shape) + shift.astype(x.dtype).reshape(shape),)


@_check("BatchNormalization")
def _check_bn(node, constants):
    if _a(node, "training_mode", 0) or any(node.outputs[1:]):
        return "training mode (running statistics outputs)"
    return None


@_op("LayerNormalization")
def _layernorm(node, ins, ctx):
    x, scale = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    axis = int(_a(node, "axis", -1)) % x.ndim
    eps = float(_a(node, "epsilon", 1e-5))
    axes = tuple(range(axis, x.ndim))
    xf = x.astype(np.float32) if x.dtype != np.float64 else x
    mean = xf.mean(axis=axes, keepdims=True)
    d = xf - mean
    inv = 1 / np.sqrt((d * d).mean(axis=axes, keepdims=True) + np.asarray(eps, xf.dtype))
    y = d * inv * scale
    if b is not None:
        y = y + b
    return (y.astype(x.dtype, copy=False), mean, inv)


# ------------------------------------------------------------------------------------------------ reductions

_REDUCE = {
    "ReduceMean": lambda x, ax, k: x.mean(axis=ax, keepdims=k),
    "ReduceSum": lambda x, ax, k: x.sum(axis=ax, keepdims=k),
    "ReduceMax": lambda x, ax, k: x.max(axis=ax, keepdims=k),
    "ReduceMin": lambda x, ax, k: x.min(axis=ax, keepdims=k),
    "ReduceProd": lambda x, ax, k: x.prod(axis=ax, keepdims=k),
    "ReduceSumSquare": lambda x, ax, k: (x * x).sum(axis=ax, keepdims=k),
    "ReduceL2": lambda x, ax, k: np.sqrt((x * x).sum(axis=ax, keepdims=k)),
}


@_op(*_REDUCE)
def _reduce(node, ins, ctx):
    x = ins[0]
    axes = ins[1] if len(ins) > 1 and ins[1] is not None else _a(node, "axes")
    axes = tuple(_ints(axes)) if axes is not None else ()
    keep = bool(_a(node, "keepdims", 1))
    if not axes:
        if _a(node, "noop_with_empty_axes", 0):
            return (x,)
        axes = tuple(range(x.ndim))
    return (np.asarray(_REDUCE[node.op](x, axes, keep)).astype(x.dtype, copy=False),)


@_op("ArgMax", "ArgMin")
def _arg(node, ins, ctx):
    x = ins[0]
    axis = int(_a(node, "axis", 0)) % x.ndim
    fn = np.argmax if node.op == "ArgMax" else np.argmin
    if _a(node, "select_last_index", 0):
        idx = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
    else:
        idx = fn(x, axis=axis)
    idx = idx.astype(np.int64)
    return (np.expand_dims(idx, axis) if _a(node, "keepdims", 1) else idx,)


# ------------------------------------------------------------------------------------------------ shapes

@_op("Identity", "Dropout")
def _identity(node, ins, ctx):
    x = ins[0]
    if node.op == "Dropout" and len(node.outputs) > 1:
        return (x, np.ones(x.shape, bool))
    return (x,)


@_op("Flatten")
def _flatten(node, ins, ctx):
    x = ins[0]
    axis = int(_a(node, "axis", 1))
    axis = axis % x.ndim if axis < 0 else axis
    return (x.reshape(math.prod(x.shape[:axis]), -1),)


@_op("Reshape")
def _reshape(node, ins, ctx):
    x, shape = ins[0], _ints(ins[1])
    if not _a(node, "allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return (x.reshape(shape),)


@_op("Transpose")
def _transpose(node, ins, ctx):
    x = ins[0]
    perm = _a(node, "perm")
    return (np.transpose(x, tuple(perm) if perm is not None else None),)


@_op("Concat")
def _concat(node, ins, ctx):
    return (np.concatenate([x for x in ins if x is not None], axis=int(_a(node, "axis"))),)


@_op("Split")
def _split(node, ins, ctx):
    x = ins[0]
    axis = int(_a(node, "axis", 0)) % x.ndim
    sizes = ins[1] if len(ins) > 1 and ins[1] is not None else _a(node, "split")
    n = len(node.outputs)
    if sizes is None:
        dim = x.shape[axis]
        if _a(node, "num_outputs") is not None:
            n = int(_a(node, "num_outputs"))
        step = -(-dim // n)
        sizes = [min(step, dim - i * step) for i in range(n)]
    cuts = np.cumsum(_ints(sizes))[:-1]
    return tuple(np.split(x, cuts, axis=axis))


@_op("Slice")
def _slice(node, ins, ctx):
    x = ins[0]
    if ctx.opset >= 10:
        starts, ends = _ints(ins[1]), _ints(ins[2])
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    else:
        starts, ends = list(_a(node, "starts")), list(_a(node, "ends"))
        axes = list(_a(node, "axes", range(len(starts))))
        steps = [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[ax % x.ndim] = slice(s, e, st)
    return (x[tuple(index)],)


@_op("Gather")
def _gather(node, ins, ctx):
    x, idx = ins
    return (np.take(x, idx.astype(np.int64), axis=int(_a(node, "axis", 0))),)


@_op("Shape")
def _shape(node, ins, ctx):
    shape = np.array(ins[0].shape, np.int64)
    start, end = _a(node, "start", 0), _a(node, "end")
    return (shape[start:end],)


@_op("Size")
def _size(node, ins, ctx):
    return (np.array(ins[0].size, np.int64),)


@_op("Unsqueeze")
def _unsqueeze(node, ins, ctx):
    x = ins[0]
    axes = _ints(ins[1]) if len(ins) > 1 and ins[1] is not None else list(_a(node, "axes"))
    rank = x.ndim + len(axes)
    return (np.expand_dims(x, tuple(sorted(a % rank for a in axes))),)


@_op("Squeeze")
def _squeeze(node, ins, ctx):
    x = ins[0]
    axes = _ints(ins[1]) if len(ins) > 1 and ins[1] is not None else _a(node, "axes")
    if axes is None:
        return (np.squeeze(x),)
    return (np.squeeze(x, axis=tuple(a % x.ndim for a in axes)),)


@_op("Expand")
def _expand(node, ins, ctx):
    x, shape = ins
    return (np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(_ints(shape)))),)


@_op("Tile")
def _tile(node, ins, ctx):
    return (np.tile(ins[0], _ints(ins[1])),)


@_op("Cast")
def _cast(node, ins, ctx):
    return (ins[0].astype(_a(node, "to")),)


@_check("Cast")
def _check_cast(node, constants):
    to = _a(node, "to")
    if to is None or np.dtype(to).kind in "OSUV":
        return f"to={to}"
    return None


@_op("CastLike")
def _cast_like(node, ins, ctx):
    return (ins[0].astype(ins[1].dtype),)


@_op("ConstantOfShape")
def _constant_of_shape(node, ins, ctx):
    value = _a(node, "value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value)
    return (np.full(tuple(_ints(ins[0])), value.reshape(-1)[0], dtype=value.dtype),)


@_op("Range")
def _range(node, ins, ctx):
    start, limit, delta = (np.asarray(v).reshape(()) for v in ins)
    n = max(int(math.ceil((float(limit) - float(start)) / float(delta))), 0)
    return ((start + np.arange(n, dtype=start.dtype) * delta).astype(start.dtype),)


@_op("Trilu")
def _trilu(node, ins, ctx):
    x = ins[0]
    k = int(ins[1]) if len(ins) > 1 and ins[1] is not None else 0
    return ((np.triu if _a(node, "upper", 1) else np.tril)(x, k),)


@_op("Pad")
def _pad(node, ins, ctx):
    x = ins[0]
    if ctx.opset >= 11:
        pads = _ints(ins[1])
        value = ins[2] if len(ins) > 2 and ins[2] is not None else None
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(x.ndim))
    else:
        pads, value, axes = list(_a(node, "pads")), _a(node, "value", 0.0), list(range(x.ndim))
    mode = _a(node, "mode", "constant")
    r = len(axes)
    width = [(0, 0)] * x.ndim
    for i, ax in enumerate(axes):
        width[ax % x.ndim] = (pads[i], pads[i + r])
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(width))
    x = x[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in width]
    if mode == "constant":
        fill = 0 if value is None else np.asarray(value).reshape(-1)[0]
        return (np.pad(x, width, mode="constant", constant_values=fill),)
    return (np.pad(x, width, mode=mode),)


@_check("Pad")
def _check_pad(node, constants):
    if _a(node, "mode", "constant") not in ("constant", "reflect", "edge", "wrap"):
        return f"mode={_a(node, 'mode')}"
    return None


# ------------------------------------------------------------------------------ charz's own operators (ai.charz)
# A fixed-function block runs through the block hook (``ctx.block``, set by graph.run), never ctx.product; the
# operator's code and its documentation are in its own module.

def _block_hook(fn, node, call):
    """Call a block hook *fn(node, call)*, carrying its own exceptions through the executor unchanged."""
    return _hook(lambda n, c, _unused: fn(n, c), node, call, None)


from functools import partial as _partial  # noqa: E402

from .ops_wht import OP as _WHT_OP, check as _wht_check, wht_crossbar as _wht_crossbar  # noqa: E402

OPS[_WHT_OP] = _partial(_wht_crossbar, run_hook=_block_hook)
CHECKS[_WHT_OP] = _wht_check
