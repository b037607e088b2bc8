"""The WHT crossbar as a graph operator: ``WhtCrossbar`` in the charz ONNX domain ``ai.charz``.

A node of this operator is a hard-wired signed-bit Walsh-Hadamard crossbar (:mod:`charz.blocks.wht.model`):
a fixed-function block, not a weight product. In an ONNX file it is written with ``domain = "ai.charz"``
(and ``opset_import`` ``ai.charz`` version 1); the importer names it :data:`OP` (``ai.charz.WhtCrossbar``),
which is what a mapping file's ``op`` glob sees (``op = "*WhtCrossbar"``).

Inputs
    ``X`` (..., n): the activations, n a multiple of ``rows``; the last axis is transformed, every other
    axis is a batch of vectors.
    ``T`` (optional; (n,) or a scalar, >= 0, usually a constant): the per-output threshold in the integer
    domain of the output, an *early-termination hint*: the outputs it belongs to are soft-thresholded
    after the operator by ``T`` (an output with ``|Y| <= T`` becomes 0), so a crossbar may stop a column as
    soon as its remaining planes cannot lift ``|Y|`` above ``T`` (:mod:`charz.blocks.wht.model`, "Early
    termination"). The hint never changes a soft-thresholded result; the operator does not apply the
    threshold itself (the graph does, with ordinary Sign / Abs / Sub / Max / Mul nodes).

Attributes
    ``rows`` (int, a power of two, default 16): the crossbar size R (R x R cells; n / R crossbars per vector).
    ``order`` (string, ``"sylvester"`` (default) or ``"sequency"``): the Hadamard ordering wired into the cells.
    ``bits`` (int, 2..16, default 8): sign-magnitude input bits (one sign bit, bits - 1 magnitude planes).
    ``scale`` (float > 0, required): the input quantization step.
    ``out_scale`` (float > 0, default ``scale``): the real value of one unit of the output,
    ``out_scale * Y ~ X @ H`` (a least-squares factor for a per-plane latch, whose output is compressed).
    Both may be float attributes (ONNX stores them as 32-bit floats) or one-element floating-point tensor
    attributes (kept in their precision: :func:`charz.network.wht.wht_onnx` writes float64 tensors, so the
    quantizer is exactly the network's).
    ``mode`` (string, ``"ternary"`` (default) or ``"sign"``): the latch the network was trained for; used by
    the operator's own ideal quantized path (:meth:`BlockCall.ideal`). A backend decides with its own
    latch (the ``wht`` backend: the LUT's, unless its ``mode`` option says otherwise).

Output ``Y`` (same shape and dtype as X), in units of ``out_scale``, with ``H`` the block-diagonal matrix of
n / R Hadamard blocks (:func:`charz.blocks.wht.model_planes.block_hadamard`; H is symmetric for both orders):

- **quantized paths** (an executor's ideal or chip run: the block hook): ``x = clip(rint(X / scale),
  -(2^(bits-1) - 1), 2^(bits-1) - 1)`` (:func:`charz.blocks.wht.model_planes.quantize_signed`), then the
  block WHT on the crossbar, one magnitude bit plane at a time (MSB first), a latch decision ``q_p`` per
  column and plane, ``Y = sum_p 2^p q_p`` (an integer; :class:`charz.blocks.wht.model.WhtLayer`);
- **float path** (no block hook: :func:`charz.network.graph.run` by default, the executor's float run):
  ``Y = (X @ H) / out_scale``, the exact linear transform in the same units, unquantized and unclipped.

How it runs: :func:`charz.network.graph.run` sets ``ctx.block`` (its ``block`` argument); with a hook the
operator calls ``block(node, call) -> Y2d`` with a :class:`BlockCall` (the 2-D input, the hints, the
quantizer, the float and ideal paths, the hard-wired matrix) and casts the result to X's dtype; without
one it returns the float path. A dry trace run records the node as a product of kind ``"block"``: K = N
= R, groups = n / R (one crossbar per group), rows = the vectors; so it counts n R MACs per vector (the
R x R blocks, not the zeros between them; 2 n R ops, :data:`charz.blocks.wht.model_planes.CONVENTIONS`).
:mod:`charz.network.ops` registers :func:`wht_crossbar` under :data:`OP` and :func:`check` as its load-time
setting check.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from ..blocks.wht import model as bw, model_planes as bwp
from ..core.errors import ParameterError
from ..core.hadamard import ORDERS

DOMAIN = "ai.charz"
"""The ONNX domain of charz's own operators (``opset_import`` version :data:`DOMAIN_VERSION`)."""
DOMAIN_VERSION = 1
OP_TYPE = "WhtCrossbar"
OP = f"{DOMAIN}.{OP_TYPE}"
"""The op type a node of this operator has in a :class:`charz.network.graph.Graph` (the importer prefixes a
non-default domain)."""
DEFAULTS = {"rows": 16, "order": "sylvester", "bits": bwp.DEFAULT_BITS, "mode": "ternary"}


@dataclasses.dataclass(frozen=True)
class WhtSpec:
    """The checked attributes of one ``WhtCrossbar`` node (see the module doc)."""

    rows: int
    order: str
    bits: int
    scale: float
    out_scale: float
    mode: str

    @classmethod
    def from_node(cls, node) -> "WhtSpec":
        """The spec of *node*'s attributes, or a one-line ParameterError naming the node and the attribute."""
        reason = _reason(node.attrs)
        if reason:
            raise ParameterError(f"node '{node.name}' ({OP}): {reason}")
        a = {**DEFAULTS, **{k: _number(v) for k, v in node.attrs.items()}}
        scale = float(a["scale"])
        return cls(int(a["rows"]), str(a["order"]), int(a["bits"]), scale, float(a.get("out_scale", scale)),
                   str(a["mode"]))

    def matrix(self, n: int) -> np.ndarray:
        """The hard-wired (n, n) int64 block Hadamard matrix: ``x @ it`` is the exact block WHT."""
        return bwp.block_hadamard(n, self.rows, self.order)

    def describe(self) -> dict:
        """The attributes, JSON-ready."""
        return dataclasses.asdict(self)


def _number(v):
    """A one-element floating-point tensor attribute as a Python float (full precision); anything else as is."""
    if isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind == "f":
        return float(v.reshape(()))
    return v


def _reason(attrs: dict) -> str | None:
    """Why these attributes are invalid (one phrase), or None."""
    attrs = {k: _number(v) for k, v in attrs.items()}
    a = {**DEFAULTS, **attrs}
    unknown = sorted(set(attrs) - {"rows", "order", "bits", "scale", "out_scale", "mode"})
    if unknown:
        return f"unknown attribute '{unknown[0]}' (attributes: rows, order, bits, scale, out_scale, mode)"
    r = a["rows"]
    if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 1 or r & (r - 1):
        return f"rows = {r!r}: the crossbar size must be a power of two"
    if a["order"] not in ORDERS:
        return f"order = {a['order']!r}: must be one of {', '.join(ORDERS)}"
    b = a["bits"]
    if isinstance(b, bool) or not isinstance(b, numbers.Integral) or not 2 <= b <= bwp.MAX_BITS:
        return f"bits = {b!r}: must be an integer from 2 to {bwp.MAX_BITS} (sign + magnitude)"
    if "scale" not in attrs:
        return "no scale attribute (the input quantization step)"
    for key in ("scale", "out_scale"):
        v = attrs.get(key, 1.0)
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
            return f"{key} = {v!r}: must be a finite number > 0"
    if a["mode"] not in bwp.MODES:
        return f"mode = {a['mode']!r}: must be one of {', '.join(bwp.MODES)}"
    return None


def check(node, constants) -> str | None:
    """The load-time check :mod:`charz.network.ops` registers: why *node* cannot run (its attributes, a
    constant threshold that is not finite and >= 0, or a second input that is not one), or None."""
    reason = _reason(node.attrs)
    if reason:
        return reason
    if len(node.inputs) > 2:
        return f"{len(node.inputs)} inputs (X and an optional threshold T)"
    t = constants.get(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
    if t is not None and not _thresholds_ok(t):
        return "threshold T that is not finite numbers >= 0 (a scalar or one per output)"
    return None


def _thresholds_ok(t) -> bool:
    t = np.asarray(t)
    return t.dtype.kind in "iuf" and t.ndim <= 1 and bool(np.all(np.isfinite(t))) and bool(np.all(t >= 0))


@dataclasses.dataclass
class BlockCall:
    """One call of a fixed-function operator, as the block hook receives it: the node's spec, the (vectors,
    n) input ``x`` and the per-call ``hints`` a backend may use (``thresholds``: the early-termination hint,
    float64 (n,)); the operator's quantizer, float path, ideal quantized path and hard-wired matrix."""

    spec: WhtSpec
    x: np.ndarray
    hints: dict

    @property
    def n(self) -> int:
        """The vector length."""
        return int(self.x.shape[1])

    @property
    def weights(self) -> np.ndarray:
        """The (n, n) hard-wired matrix a crossbar backend is programmed with (``program``)."""
        return self.spec.matrix(self.n)

    @property
    def engine_options(self) -> dict:
        """What the executor passes to the backend besides the mapping's options: ``in_bits``."""
        return {"in_bits": self.spec.bits}

    def quantize(self) -> np.ndarray:
        """The sign-magnitude integers the crossbar is fed with (int64, (vectors, n))."""
        return bwp.quantize_signed(self.x, self.spec.scale, self.spec.bits)

    def float(self) -> np.ndarray:
        """The float path: ``(x @ H) / out_scale`` (float64 products, as :meth:`WhtNet.forward_float`)."""
        hm = self.spec.matrix(self.n).astype(float)
        return (np.asarray(self.x, dtype=float) @ hm) / self.spec.out_scale

    def ideal(self) -> np.ndarray:
        """The ideal quantized crossbar (ideal latches of the spec's ``mode``, every plane): int64 Y."""
        s = self.spec
        lay = bw.WhtLayer(self.n, n_rows=s.rows, order=s.order, bits=s.bits, mode=s.mode)
        return lay(self.quantize(), stats=False)[0]


def wht_crossbar(node, ins, ctx, run_hook=None):
    """The operator (see the module doc): ``(Y,)``. *run_hook* ``(fn, node, call) -> y`` calls the block hook
    (``ops`` passes one that carries the hook's own exceptions through the executor unchanged)."""
    x = ins[0]
    t = ins[1] if len(ins) > 1 else None
    spec = WhtSpec.from_node(node)
    if x.ndim < 1 or x.shape[-1] == 0 or x.shape[-1] % spec.rows:
        raise ParameterError(f"node '{node.name}' ({OP}): the input's last axis ({x.shape[-1] if x.ndim else 0}) "
                             f"must be a positive multiple of rows = {spec.rows}: pad the vectors with zeros")
    n = int(x.shape[-1])
    x2d = x.reshape(-1, n)
    ctx.note(node, "block", spec.rows, spec.rows, n // spec.rows, x2d.shape[0])
    if ctx.dry:
        return (np.zeros(x.shape, x.dtype),)
    hints = {}
    if t is not None:
        if not _thresholds_ok(t) or (np.ndim(t) == 1 and np.size(t) != n):
            raise ParameterError(f"node '{node.name}' ({OP}): the threshold T must be finite numbers >= 0, a scalar "
                                 f"or one per output ({n})")
        hints["thresholds"] = np.broadcast_to(np.asarray(t, dtype=np.float64), (n,))
    call = BlockCall(spec, x2d, hints)
    hook = ctx.block
    if hook is None:
        y = call.float()
    else:
        y = np.asarray(run_hook(hook, node, call) if run_hook is not None else hook(node, call))
        if y.shape != x2d.shape:
            raise ParameterError(f"the block hook returned shape {y.shape} for node '{node.name}' ({OP}); "
                                 f"expected {x2d.shape}")
    return (np.asarray(y).astype(x.dtype, copy=False).reshape(x.shape),)
