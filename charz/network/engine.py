"""The network executor: a model graph (:mod:`charz.network.graph`) with every weight product on the backend a
mapping (:mod:`charz.network.mapping`) gives it, on several simulated chips: accuracy, energy, TOPS/W,
latency and a per-layer table.

:func:`evaluate_model` does, in order:

1. **Preprocessing** of the raw images ((n, H, W, C) as :mod:`charz.datasets` gives them, or flat):
   ``x = images * scale``, NHWC -> NCHW, then ``(x - mean) / std`` per channel, as the model's recorded
   preprocessing says (the ONNX ``metadata_props`` key :data:`PREPROCESS_KEY`, the record
   :mod:`charz.network.zoo` writes; or the ``preprocess_record`` argument). Without a record: ``scale`` =
   1/255 for uint8 images, else 1 / the largest |value| of the evaluated images (pixels to [0, 1]; the
   same scale for the calibration images), no normalization. Arithmetic in the model input's dtype, as
   :func:`charz.network.zoo.preprocess` does; then reshaped to the model's input shape. Images are
   preprocessed one batch at a time.
2. **Weights**: one dry run on one image records every weight matrix the graph multiplies by (per node and
   group, as :func:`charz.network.graph.run` hands them to the product hook); integer backends get them
   quantized (:mod:`charz.network.quant`: signed symmetric, per output channel by default). A **block
   operator** (a fixed-function block of charz's ONNX domain: ``ai.charz.WhtCrossbar``,
   :mod:`charz.network.ops_wht`) is a layer too (``kind="block"``): the dry run records its hard-wired
   matrix and its attributes; it is never quantized or calibrated by the executor (the operator quantizes
   its own inputs), runs on its own backend (:data:`charz.network.backends.BLOCK_BACKENDS`: ``wht``), and
   in every run goes through the graph's block hook: the operator's integers and per-call hints (the
   early-termination threshold) to the chip's backend, or its float path in the float run.
3. **Calibration** of the activation ranges on ``calib_count`` calibration images: the first images of
   ``calib_images`` (pass a training split) or, when none is given, the first images being evaluated
   (optimistic: the test data sets its own ranges; the result says which). ``calib_pass="float"`` (the
   default, standard post-training practice): one pass of the float network, every layer's input
   observed. ``"quantized"``: layer by layer in depth order, each layer's range observed with every
   layer before it already quantized (exact integer products; float for float-operand backends), the
   way :func:`charz.network.mlp.train_digits_mlp` calibrates the digits MLP; one pass per depth level.
   A model may instead carry its quantization (``metadata_props`` key :data:`QUANT_KEY`: per node
   ``w_bits``, ``x_bits``, ``x_scale``, ``x_signed``, ``w_scale``): with ``recorded=True`` those layers use it,
   bits included, and are not calibrated.
4. **Runs**: the float network (the graph's own products, :func:`charz.network.graph.run`), the ideal
   network (each layer's backend's ideal twin: the exact integer product for ``exact`` / ``digital`` /
   ``cim``, exact FP8 for ``td_mac``, the float product for ``float``) and ``chips`` simulated chips.
   A chip builds each layer's backend once (:func:`charz.network.backends.make_backend`) and programs
   its weights once, then runs every batch of ``batch`` images through it. The CiM layers of chip c draw
   their columns, in execution order, from one generator ``default_rng(SeedSequence(seed, spawn_key=(c,)))``
   (= ``SeedSequence(seed).spawn(chips)[c]``, the draw of :func:`charz.network.evaluate.evaluate`; the
   ``wht`` layers draw their crossbars from the same generator, as :func:`charz.network.wht.evaluate_wht`
   draws one chip's transforms); the
   ``td_mac`` layers of chip c share one :class:`~charz.blocks.td_mac.model.TdMacModel` per option set,
   seed ``seed + c`` (its engines serve every layer in turn, as :func:`charz.network.td_mac.make_chips`
   and :func:`~charz.network.td_mac.evaluate_td` do).
   One chip is one picklable call, :func:`run_chip` (a :class:`Plan` and a chip index). :func:`map_chips`
   runs the references and the chips in this process (``workers`` None or 0, the default), on ``workers``
   spawned local processes (the plan sent once to each, BLAS threads = CPUs / workers), or on a Dask
   scheduler (``scheduler``: an address; ``charz eval --model ... --workers N`` / ``--scheduler ADDRESS`` or
   ``CHARZ_SCHEDULER``), and with ``shards`` cuts every run into image shards of whole batches; the shards
   are merged exactly (predictions concatenated, every product call's cost added in the order one run adds
   them, zero counts added), so the result is the in-process one bit for bit. A chip's backends come from
   its own seed only and draw their mismatch once, at ``program``: the order or place chips run in does not
   matter. A failing run or a dead worker is a one-line :class:`~charz.core.errors.CharzError` naming the
   chip (and shard).
5. **Ledger**: every backend's :class:`charz.behavior.interfaces.Cost` added per layer and component;
   activation x activation products (attention) run in float and are booked as digital MACs at
   :data:`charz.network.backends.DIGITAL_MAC_ENERGY_J` (an assumption).

Conventions: ops = 2 x MACs (1 MAC = one multiply and one add), logical MACs of the products (not per bit
plane; a WHT crossbar node: n x R MACs per vector, its R x R blocks); TOPS/W = ops per inference / energy per
inference [J] / 1e12, energy = every component every backend counts (layers on ``float`` / ``exact`` count
none: the result lists them); accuracy per chip, mean, sample std and the 95 % confidence interval of the mean
(Student t, chips - 1 degrees of freedom, clipped to [0, 1]); latency per inference = the sum over layers of
each layer's latency per image when every layer's backend gives one (layers one after the other, images one at
a time), else None with the partial sum and the layers without timing. Per-layer input sparsity = fraction of
zero quantized activations entering the layer's products (of zero real ones for float-operand backends; a
Conv's im2col columns, padding included); output sparsity = fraction of zeros after the first Relu / Clip that
follows the layer through elementwise nodes only (None when there is none).

Peak memory: the raw images, one batch of activations per run (a Conv's im2col is bounded by
:data:`charz.network.ops.IM2COL_BYTES`), the calibration observers (at most
:data:`charz.network.quant.MAX_OBSERVED` values per layer) and the per-image predictions.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import threading
import time

import numpy as np

from ..behavior.interfaces import Cost
from ..core.errors import CharzError, ParameterError
from ..core.validate import WORKERS_PER_CPU, max_workers, posint
from . import backends as bk
from . import quant
from .graph import Graph, run, weight_products
from .mapping import Mapping, as_mapping

PREPROCESS_KEY = "charz.preprocess"
"""ONNX ``metadata_props`` key of the preprocessing record (JSON: ``scale``, ``mean``, ``std``, ``layout``,
``input_shape``), the key :mod:`charz.network.zoo` writes."""
QUANT_KEY = "charz.quantization"
"""ONNX ``metadata_props`` key of a recorded quantization (JSON ``{"layers": {node: {"w_bits", "x_bits",
"x_scale", "x_signed", "w_scale"}}}``; ``w_scale`` a number or one per output channel, groups one after
the other)."""
DEFAULT_CHIPS = 4
DEFAULT_BATCH = 128
DEFAULT_CALIB_IMAGES = 256
CALIB_PASSES = ("float", "quantized")
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "BatchNormalization", "Identity", "Dropout", "Cast"}
_ACTIVATIONS = {"Relu", "Clip"}


# ---- the plan ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class LayerPlan:
    """One weight product of the network, ready for any chip: shape, backend and options, quantization,
    and the weights per group (float as the graph multiplies by them, and their integers)."""

    name: str
    op: str
    K: int
    N: int
    groups: int
    positions: int
    """Activation rows per image (Conv: output pixels; Gemm: 1)."""
    backend: str
    options: dict
    """The backend's options, the executor's ``x_signed`` / ``x_amax`` included."""
    rule: str
    """Why this backend (the mapping entry, the first / last rule or the default)."""
    w_float: list = dataclasses.field(default_factory=list)
    """(K, N) weights per group, as the product hook receives them."""
    w_quant: list = dataclasses.field(default_factory=list)
    """:class:`charz.network.quant.WeightQuant` per group (integer backends)."""
    w_int: list = dataclasses.field(default_factory=list)
    """(K, N) int64 weights per group (integer backends)."""
    x_quant: quant.ActQuant | None = None
    """The activation quantization (integer backends)."""
    quant_source: str = "calibrated"
    level: int = 0
    """Depth: 0 when no weight layer feeds it, else 1 + the deepest weight layer that does."""
    sparsity_tensor: str | None = None
    """The Relu / Clip output whose zeros are this layer's output sparsity (None: no such activation)."""
    kind: str = "weight"
    """``"weight"`` (a product with constant weights) or ``"block"`` (a fixed-function block operator such as
    ``ai.charz.WhtCrossbar``: K = N = its block size, groups = blocks per vector; ``w_float`` holds its one
    hard-wired matrix; it quantizes its own inputs)."""
    block: dict | None = None
    """A block operator's attributes (its own quantization: scale, bits, ...)."""

    @property
    def operands(self) -> str:
        """``"int"``, ``"float"`` or ``"block"`` (the operator quantizes): what the backend takes."""
        if self.kind == "block":
            return "block"
        return "float" if self.backend in ("float", "td_mac") else "int"

    @property
    def macs_per_image(self) -> int:
        """Logical MACs per image: positions x K x N x groups."""
        return self.positions * self.K * self.N * self.groups

    def describe(self) -> dict:
        """Shape, backend, rule and quantization, JSON-ready."""
        q = {"source": self.quant_source}
        if self.block is not None:
            q["operator"] = dict(self.block)
        if self.x_quant is not None:
            q["activations"] = self.x_quant.describe()
        if self.w_quant:
            q["weights"] = {"bits": self.w_quant[0].bits, "granularity": self.w_quant[0].granularity,
                            "scale_min": min(float(w.scale.min()) for w in self.w_quant),
                            "scale_max": max(float(w.scale.max()) for w in self.w_quant)}
        if self.backend == "td_mac":
            q["x_amax"] = self.options.get("x_amax")
        return {"name": self.name, "op": self.op, "K": self.K, "N": self.N, "groups": self.groups,
                "positions": self.positions, "macs_per_image": self.macs_per_image, "backend": self.backend,
                "rule": self.rule, "options": {k: v for k, v in self.options.items() if k not in bk.ENGINE_KEYS},
                "quantization": q}


@dataclasses.dataclass
class Plan:
    """Everything one chip's run needs (picklable): the graph, the layers in execution order, the raw images
    (preprocessed one batch at a time) and labels, the batch and the seed."""

    graph: Graph
    layers: dict
    """node name -> :class:`LayerPlan`, in execution order."""
    images: np.ndarray
    """The raw images evaluated."""
    labels: np.ndarray
    batch: int
    seed: int
    input_name: str
    input_shape: tuple
    input_dtype: np.dtype
    pre: dict
    """The preprocessing applied (:func:`preprocess`), its scale always given."""

    @property
    def n_images(self) -> int:
        """Images evaluated."""
        return int(self.images.shape[0])

    def inputs(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The model inputs of images [start, stop) (preprocessed now)."""
        return preprocess(self.images[start:stop], self.pre, self.input_shape, self.input_dtype)


# ---- preprocessing and metadata ------------------------------------------------------------------------
def model_metadata(model) -> dict:
    """The ``metadata_props`` of an ONNX model (a path, bytes or ``onnx.ModelProto``) as key -> value
    (JSON values decoded when they parse)."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        m = model
    elif isinstance(model, (bytes, bytearray)):
        m = onnx.load_model_from_string(bytes(model))
    else:
        try:
            m = onnx.load(str(model), load_external_data=False)
        except Exception as e:
            raise ParameterError(f"not an ONNX model: {model} ({type(e).__name__})") from None
    out = {}
    for p in m.metadata_props:
        try:
            out[p.key] = json.loads(p.value)
        except ValueError:
            out[p.key] = p.value
    return out


def load_model(model) -> tuple[Graph, dict]:
    """(Graph, metadata) of *model*: a :class:`charz.network.graph.Graph` (no metadata) or an ONNX model
    (path, bytes, ``ModelProto``: read with :func:`charz.network.onnx_import.load_onnx`)."""
    if isinstance(model, Graph):
        return model, {}
    from .onnx_import import load_onnx

    return load_onnx(model), model_metadata(model)


def default_scale(images) -> float:
    """The input scale without a preprocessing record: 1/255 for uint8 images, else 1 / the largest |value|
    of *images* (1 when they are all zero)."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return 1.0 / 255.0
    amax = float(np.max(np.abs(x))) if x.size else 0.0
    return 1.0 / amax if amax > 0 else 1.0


def preprocess(images, pre: dict | None, input_shape, dtype) -> np.ndarray:
    """Raw *images* ((n, H, W, C), (n, H, W) or flat (n, features)) as the model's input (module doc, step 1):
    ``images * scale`` in *dtype* (``scale`` from *pre*, else :func:`default_scale` of these images);
    4-D images go to NCHW when that is what the model's input shape (or ``layout = "NCHW"`` when the shape
    is not fully declared) asks; then ``(x - mean) / std`` per channel (axis 1 of a 4-D input, else the
    last); reshaped to ``(n, *input_shape[1:])``."""
    x = np.asarray(images)
    if x.ndim < 2:
        raise ParameterError(f"images must be an array (n, ...) of images, got shape {x.shape}")
    dt = np.dtype(dtype)
    pre = dict(pre or {})
    scale = pre.get("scale")
    y = x.astype(dt) * dt.type(default_scale(x) if scale is None else scale)
    shape = tuple(input_shape or ())
    known = len(shape) > 1 and all(isinstance(d, (int, np.integer)) and d > 0 for d in shape[1:])
    want = tuple(int(d) for d in shape[1:]) if known else None
    if y.ndim == 4 and len(shape) == 4:
        as_nchw = (y.shape[3], y.shape[1], y.shape[2])
        if (want is not None and y.shape[1:] != want and as_nchw == want) or \
                (want is None and pre.get("layout") == "NCHW"):
            y = y.transpose(0, 3, 1, 2)
    mean, std = pre.get("mean"), pre.get("std")
    if mean is not None or std is not None:
        m = np.asarray(0.0 if mean is None else mean, dt).reshape(-1)
        s = np.asarray(1.0 if std is None else std, dt).reshape(-1)
        if y.ndim == 4 and len(shape) == 4:
            m, s = m.reshape(-1, 1, 1), s.reshape(-1, 1, 1)
        y = (y - m) / s
    if want is not None:
        if math.prod(want) != math.prod(y.shape[1:]):
            raise ParameterError(f"images of shape {tuple(x.shape[1:])} do not fit the model input {want}")
        y = y.reshape((y.shape[0],) + want)
    return np.ascontiguousarray(y)


# ---- the executor --------------------------------------------------------------------------------------
def make_plan(model, images, labels, mapping: Mapping | str | None = None, *, n_images: int | None = None,
              seed: int = 0, batch: int = DEFAULT_BATCH, calib_images=None, calib_count: int = DEFAULT_CALIB_IMAGES,
              calib_pass: str = "float", backend: str | None = None, first_last: str | None = None,
              preprocess_record: dict | None = None, recorded: bool = True) -> tuple[Plan, dict]:
    """Steps 1-3 of the module doc: (the :class:`Plan` every chip runs, what the report says about the mapping,
    calibration and preprocessing). Arguments as for :func:`evaluate_model`."""
    graph, meta = load_model(model)
    batch = posint(batch, "batch")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
    if calib_pass not in CALIB_PASSES:
        raise ParameterError(f"calib_pass must be one of {', '.join(CALIB_PASSES)}, got {calib_pass!r}")
    if len(graph.inputs) != 1:
        raise ParameterError(f"the model has {len(graph.inputs)} inputs: the executor feeds one image input")
    in_name, in_shape, in_dtype = graph.inputs[0]
    pre = dict(preprocess_record if preprocess_record is not None else meta.get(PREPROCESS_KEY) or {})
    images = np.asarray(images)
    labels = np.asarray(labels).reshape(-1)
    if images.shape[0] != labels.shape[0]:
        raise ParameterError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    if n_images is not None:
        n_images = posint(n_images, "n_images", images.shape[0])
        images, labels = images[:n_images], labels[:n_images]
    if pre.get("scale") is None:
        pre["scale"] = default_scale(images)
        pre["scale_source"] = "no recorded preprocessing: 1/255 for uint8, else 1 / max |pixel| of the evaluated images"
    x1 = preprocess(images[:1], pre, in_shape, in_dtype)
    calib_count = posint(calib_count, "calib_count")
    if calib_images is not None:
        cal_raw = np.asarray(calib_images)[:calib_count]
        cal_what = f"the first {cal_raw.shape[0]} of the calibration images given"
    else:
        cal_raw = images[:calib_count]
        cal_what = (f"the first {cal_raw.shape[0]} evaluated images (no calibration split given: optimistic, the "
                    f"test data sets its own ranges)")
    xcal = preprocess(cal_raw, pre, in_shape, in_dtype)

    prods = weight_products(graph, x1.shape, blocks=True)
    if not prods:
        raise ParameterError("the model has no product of an activation with a constant weight: nothing to map")
    mp = as_mapping(mapping, backend=backend, first_last=first_last)
    assign = mp.resolve(prods)
    rec = (meta.get(QUANT_KEY) or {}).get("layers", {}) if recorded else {}
    levels = _levels(graph, [p.name for p in prods])
    sparsity = _sparsity_tensors(graph, [p.name for p in prods])
    layers = {}
    for p in prods:
        a = assign[p.name]
        layers[p.name] = LayerPlan(p.name, p.op, p.K, p.N, p.groups, p.positions, a.backend, dict(a.options),
                                   a.rule, level=levels[p.name], sparsity_tensor=sparsity.get(p.name),
                                   kind="block" if p.op in bk.BLOCK_BACKENDS else "weight",
                                   quant_source="operator" if p.op in bk.BLOCK_BACKENDS else "calibrated")
    _capture_weights(graph, layers, in_name, x1)
    _quantize_weights(layers, rec)
    _calibrate(graph, layers, in_name, xcal, batch, calib_pass)
    about = {"mapping": mp.describe(), "calibration": {"images": cal_what, "pass": calib_pass}, "preprocess": pre}
    return Plan(graph, layers, images, labels, batch, int(seed), in_name, tuple(in_shape or ()), np.dtype(in_dtype),
                pre), about


def evaluate_model(model, images, labels, mapping: Mapping | str | None = None, *, chips: int = DEFAULT_CHIPS,
                   n_images: int | None = None, seed: int = 0, batch: int = DEFAULT_BATCH, calib_images=None,
                   calib_count: int = DEFAULT_CALIB_IMAGES, calib_pass: str = "float", backend: str | None = None,
                   first_last: str | None = None, preprocess_record: dict | None = None, recorded: bool = True,
                   references: bool = True, workers: int | None = None, scheduler: str | None = None,
                   shards: int = 1, progress: bool = False) -> dict:
    """Run *model* (a Graph or an ONNX model: path, bytes, ``ModelProto``) on the first *n_images* of
    *images* / *labels* with every weight product on its mapped backend (*mapping*: a
    :class:`~charz.network.mapping.Mapping`, a mapping file, or None = the built-in default on *backend*
    with *first_last*), on *chips* simulated chips drawn from *seed*, *batch* images at a time.

    Calibration on the first *calib_count* of *calib_images* (else of the evaluated images), pass
    *calib_pass*; *preprocess_record* replaces the model's recorded preprocessing; *recorded* uses the
    model's recorded quantization where it has one. See the module doc for the steps and conventions;
    ``references=False`` skips the float and ideal runs. The runs (the references and the chips, each cut
    into *shards* image shards) go to :func:`map_chips`: in this process (*workers* None or 0), on *workers*
    local processes, or on the Dask scheduler *scheduler* (an address; also ``CHARZ_SCHEDULER``); the result
    is the same bit for bit. Returns a dict: accuracies (float, ideal, per chip with mean / std / 95 % CI),
    energy per inference by component and layer, ops, TOPS/W (and ``analog_tops_per_watt``: the analog layers'
    ops and energy), latency, the per-layer table, each chip's energy per inference (``energy_per_chip_J``) and
    backend counters per layer (``counters_per_chip``, totals over the images), the mapping, the calibration
    and the conventions. *progress*: a bar of the images run, on stderr (:func:`map_chips`)."""
    chips = posint(chips, "chips", 10_000)
    workers = check_workers(workers)
    shards = posint(shards, "shards", 10_000)
    plan, about = make_plan(model, images, labels, mapping, n_images=n_images, seed=seed, batch=batch,
                            calib_images=calib_images, calib_count=calib_count, calib_pass=calib_pass,
                            backend=backend, first_last=first_last, preprocess_record=preprocess_record,
                            recorded=recorded)
    names = (["float", "ideal"] if references else []) + list(range(chips))
    runs = map_chips(plan, names, workers=workers, scheduler=scheduler, shards=shards, progress=progress)
    ref = dict(zip(names[:-chips], runs[:-chips]))
    return _summarize(plan, runs[-chips:], ref, about)


def run_chip(plan: Plan, chip, keep_logits: bool = False, cost_log: bool = False, tick=None,
             adapters: dict | None = None) -> dict:
    """One network run over every image of *plan*: *chip* = ``"float"`` (the graph's own products),
    ``"ideal"`` (each layer's ideal twin) or a chip index (its backends built and programmed once).
    *adapters*: node name -> ``f(x2d, y2d) -> (y2d, Cost)``, called after that weight layer's product on its
    backend with the layer's float input and the product (a digital path beside the backend, e.g. the recovery
    paths of :mod:`charz.study.polarization`); its cost is added to the layer's.
    Returns ``predictions`` (argmax per image), ``accuracy``, per-layer ``costs`` (:class:`Cost`), input zero
    counts, output sparsity counts, the backends' labels / descriptions and, with *keep_logits*, the model
    output of every image (``logits``); with *cost_log*, ``cost_log``: per layer the :class:`Cost` of every
    product call in order (image shards replay them to add up exactly as one run does); *tick(n)* is called
    after each batch of n images. A picklable call."""
    layers = plan.layers
    kind = chip if isinstance(chip, str) else "chip"
    backends = {} if kind == "float" else _build(plan, chip)
    costs = {n: Cost() for n in layers}
    log = {n: [] for n in layers} if cost_log else None
    zeros = {n: [0, 0] for n in layers}
    act = {"macs": 0}
    calls: dict[str, int] = {}

    def product(node, x2d, w2d):
        lp = layers[node.name]
        g = _group(lp, calls, w2d)
        b = backends[(lp.name, g)]
        if lp.operands == "int":
            xi = lp.x_quant.quantize(x2d)
            zeros[lp.name][0] += int(xi.size - np.count_nonzero(xi))
            zeros[lp.name][1] += int(xi.size)
            acc, c = b.matmul(xi)
            y = quant.dequantize_product(acc, lp.x_quant.scale, lp.w_quant[g].scale)
        else:
            zeros[lp.name][0] += int(x2d.size - np.count_nonzero(x2d))
            zeros[lp.name][1] += int(x2d.size)
            y, c = b.matmul(x2d)
        if adapters is not None and lp.name in adapters:
            y, ca = adapters[lp.name](x2d, y)
            c = c + ca
        costs[lp.name] += c
        if log is not None:
            log[lp.name].append(c)
        return y

    def float_product(node, x2d, w2d):
        lp = layers[node.name]
        zeros[lp.name][0] += int(x2d.size - np.count_nonzero(x2d))
        zeros[lp.name][1] += int(x2d.size)
        return x2d @ w2d

    def block(node, call):
        """A block operator on its backend: the operator's integers in, its hints per call."""
        lp = layers[node.name]
        xi = call.quantize()
        zeros[lp.name][0] += int(xi.size - np.count_nonzero(xi))
        zeros[lp.name][1] += int(xi.size)
        y, c = backends[(lp.name, 0)].matmul(xi, **call.hints)
        costs[lp.name] += c
        if log is not None:
            log[lp.name].append(c)
        return y

    def float_block(node, call):
        lp = layers[node.name]
        zeros[lp.name][0] += int(call.x.size - np.count_nonzero(call.x))
        zeros[lp.name][1] += int(call.x.size)
        return call.float()

    def act_product(node, a, b):
        y = np.matmul(a, b)
        act["macs"] += int(y.size) * int(a.shape[-1])
        return y

    out_name = plan.graph.outputs[0]
    sp_names = sorted({lp.sparsity_tensor for lp in layers.values() if lp.sparsity_tensor})
    sp = {t: [0, 0] for t in sp_names}
    preds, kept = [], []
    for i in range(0, plan.n_images, plan.batch):
        calls.clear()
        res = run(plan.graph, {plan.input_name: plan.inputs(i, i + plan.batch)},
                  product=float_product if kind == "float" else product, act_product=act_product,
                  block=float_block if kind == "float" else block, until=[out_name] + sp_names)
        logits = np.asarray(res[out_name])
        preds.append(np.argmax(logits.reshape(logits.shape[0], -1), axis=1))
        if keep_logits:
            kept.append(logits)
        for t in sp_names:
            v = res[t]
            sp[t][0] += int(v.size - np.count_nonzero(v))
            sp[t][1] += int(v.size)
        if tick is not None:
            tick(int(logits.shape[0]))
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    info = {n: {"label": b.label, **b.describe()}
            for (n, g), b in backends.items() if g == 0}
    out = {"chip": chip, "predictions": pred, "accuracy": float(np.mean(pred == plan.labels)) if pred.size else 0.0,
           "costs": costs, "input_zeros": zeros, "sparsity": sp, "act_macs": act["macs"], "backends": info}
    if keep_logits:
        out["logits"] = np.concatenate(kept)
    if log is not None:
        out["cost_log"] = log
    return out


# ---- chips in parallel ---------------------------------------------------------------------------------
_PARENT_POLL_S = 0.25
_WORKER: dict = {}
"""In a pool worker: the plan (sent once, by the initializer), the shared slots and this worker's slot."""


def check_workers(workers) -> int | None:
    """*workers* local processes: None or 0 (run in this process) .. :func:`charz.core.validate.max_workers`;
    a one-line ``ParameterError`` otherwise."""
    if workers is None:
        return None
    hi = max_workers()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or not 0 <= workers <= hi:
        raise ParameterError(f"workers must be 0 (run in this process) to {hi} ({WORKERS_PER_CPU} x the "
                             f"{os.cpu_count() or 1} CPUs) local processes, got {workers!r}")
    return int(workers)


def shard_bounds(plan: Plan, shards: int) -> list[tuple[int, int]]:
    """[start, stop) of each of *shards* image shards of *plan*: runs of whole batches (so every shard sees the
    batches one run sees), as even as the batches allow; fewer shards when there are fewer batches."""
    shards = posint(shards, "shards", 10_000)
    n_b = max(1, math.ceil(plan.n_images / plan.batch))
    k = min(shards, n_b)
    edges = [min(plan.n_images, plan.batch * (n_b * i // k)) for i in range(k + 1)]
    edges[-1] = plan.n_images
    return list(zip(edges[:-1], edges[1:]))


def map_chips(plan: Plan, chips, workers: int | None = None, scheduler: str | None = None,
              shards: int = 1, progress: bool = False) -> list[dict]:
    """:func:`run_chip` of *plan* for every entry of *chips* (chip indices, ``"float"``, ``"ideal"``), in that
    order, each cut into *shards* image shards (:func:`shard_bounds`) merged exactly: predictions
    concatenated, the costs of every product call added in the order one run adds them, zero and sparsity
    counts added. Where the runs go: *scheduler* (a Dask scheduler address) wins; else *workers* local
    processes (spawned, one NumPy / BLAS thread per CPU share, the plan sent once per process); None or 0:
    one after the other in this process. The results do not depend on where or in which order the runs go (a
    chip's backends come from its own seed; every backend draws its mismatch once, at ``program``). A run
    that fails, or a worker process that dies, is a one-line :class:`CharzError` naming the chip and shard
    (the pool is stopped, nothing hangs). *progress*: a bar on stderr (after 2 s) counting the images run
    over all runs: per batch in this process, per finished task on a pool or Dask."""
    workers = check_workers(workers)
    chips = list(chips)
    bounds = shard_bounds(plan, shards)
    log = len(bounds) > 1
    tasks = [(chip, a, b) for chip in chips for a, b in bounds]
    bar = _bar(len(chips) * plan.n_images, progress)
    try:
        if scheduler:
            parts = _dask_map(plan, tasks, log, str(scheduler), bar.update)
        elif workers:
            parts = _pool_map(plan, tasks, log, workers, bar.update)
        else:
            parts = [_run_part(plan, c, a, b, log, bar.update) for c, a, b in tasks]
    finally:
        bar.close()
    k = len(bounds)
    return [_merge(plan, parts[i * k:(i + 1) * k]) for i in range(len(chips))]


def _bar(total: int, show: bool):
    """A tqdm bar of *total* images on stderr, shown after 2 s (refreshed every 30 s when stderr is no
    terminal), or a silent one."""
    import sys

    from tqdm.auto import tqdm

    return tqdm(total=total, desc="images", unit="img", delay=2.0, disable=not show, leave=False,
                mininterval=0.5 if sys.stderr.isatty() else 30.0)


def _run_part(plan: Plan, chip, start: int, stop: int, log: bool, tick=None) -> dict:
    """:func:`run_chip` on images [start, stop) of *plan* (with the per-call cost log when *log*); *tick(n)*
    after every batch of n images (in this process), else once with all of them at the end."""
    if (start, stop) != (0, plan.n_images):
        plan = dataclasses.replace(plan, images=plan.images[start:stop], labels=plan.labels[start:stop])
    return run_chip(plan, chip, cost_log=log, tick=tick)


def _merge(plan: Plan, parts: list) -> dict:
    """One run's result from its image shards, in image order (exactly what one run over all images gives)."""
    if len(parts) == 1:
        out = dict(parts[0])
        out.pop("cost_log", None)
        return out
    costs = {n: Cost() for n in plan.layers}
    for p in parts:
        for n, calls in p["cost_log"].items():
            for c in calls:
                costs[n] += c
    pred = np.concatenate([p["predictions"] for p in parts])
    first = parts[0]
    return {"chip": first["chip"], "predictions": pred,
            "accuracy": float(np.mean(pred == plan.labels)) if pred.size else 0.0, "costs": costs,
            "input_zeros": {n: [sum(p["input_zeros"][n][i] for p in parts) for i in (0, 1)] for n in plan.layers},
            "sparsity": {t: [sum(p["sparsity"][t][i] for p in parts) for i in (0, 1)] for t in first["sparsity"]},
            "act_macs": sum(p["act_macs"] for p in parts), "backends": first["backends"]}


def _what(task, sharded: bool) -> str:
    chip, a, b = task
    name = f"the {chip} reference run" if isinstance(chip, str) else f"chip {chip}"
    return name + (f" (images {a}..{b - 1})" if sharded else "")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _failed(task, sharded: bool, where: str, e: BaseException) -> CharzError:
    """The one-line error of a run that raised *e*: a CharzError keeps its class (and exit code)."""
    msg = f"{_what(task, sharded)} failed {where}: {_one_line(e)}"
    if isinstance(e, CharzError):
        try:
            return type(e)(msg)
        except Exception:
            pass
    return CharzError(msg)


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent_pid:  # re-parented: the process that started us is gone
            os._exit(1)


def _pool_init(plan: Plan, threads: int, parent_pid: int, slots, counter) -> None:
    """Pool-worker initializer: keep the plan, limit NumPy's BLAS / OpenMP threads, exit when the parent is
    gone, take a slot in which the worker marks the run it is doing."""
    from threadpoolctl import threadpool_limits

    _WORKER["limits"] = threadpool_limits(limits=threads)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="charz-parent-watch", daemon=True).start()
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    _WORKER.update(plan=plan, slots=slots, slot=slot if slot < len(slots) else None)


def _pool_task(index: int, chip, start: int, stop: int, log: bool) -> dict:
    slots, slot = _WORKER["slots"], _WORKER["slot"]
    if slot is not None:
        slots[slot] = index
    try:
        return _run_part(_WORKER["plan"], chip, start, stop, log)
    finally:
        if slot is not None:
            slots[slot] = -1


def _pool_map(plan: Plan, tasks: list, log: bool, workers: int, tick=None) -> list:
    import concurrent.futures as cf
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    n = max(1, min(workers, len(tasks)))
    ctx = mp.get_context("spawn")
    slots = ctx.RawArray("q", [-1] * n)
    pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_pool_init,
                                  initargs=(plan, max(1, (os.cpu_count() or 1) // n), os.getpid(), slots,
                                            ctx.Value("i", 0)))
    out: list = [None] * len(tasks)
    done = False
    try:
        futs = {pool.submit(_pool_task, i, *t, log): i for i, t in enumerate(tasks)}
        for f in cf.as_completed(futs):
            i = futs[f]
            try:
                out[i] = f.result()
                if tick is not None:
                    tick(tasks[i][2] - tasks[i][1])
            except BrokenProcessPool:
                running = [int(s) for s in slots if 0 <= s < len(tasks)] or [i]
                names = " or ".join(_what(tasks[j], log) for j in running)
                raise CharzError(f"a worker process died while running {names} (killed, out of memory, a crash, or "
                                 f"it could not start); rerun with fewer --workers or --workers 0") from None
            except Exception as e:
                raise _failed(tasks[i], log, "in a worker process", e) from None
        done = True
    finally:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=done, cancel_futures=True)
        if not done:
            for p in procs:  # our own workers: stop the runs still going
                p.terminate()
            for p in procs:
                p.join(5)
    return out


def _dask_map(plan: Plan, tasks: list, log: bool, scheduler: str, tick=None) -> list:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise CharzError("Dask is not installed: pip install 'charz[dask]' (or drop --scheduler)") from None
    try:
        client = Client(scheduler, timeout="10s")
    except Exception as e:
        raise CharzError(f"cannot reach the Dask scheduler at {scheduler} ({_one_line(e)}): start one with `dask "
                         f"scheduler` and `dask worker ADDRESS`, or drop --scheduler") from None
    futs: list = []
    try:
        try:
            client.wait_for_workers(1, timeout=30)
        except Exception:
            raise CharzError(f"the Dask scheduler at {scheduler} has no worker (waited 30 s): start one with `dask "
                             f"worker {scheduler}`, or drop --scheduler") from None
        shared = client.scatter(plan, broadcast=True, hash=False)
        futs = [client.submit(_run_part, shared, c, a, b, log, pure=False) for c, a, b in tasks]
        index = {f.key: i for i, f in enumerate(futs)}
        out: list = [None] * len(tasks)
        for f in as_completed(futs):
            i = index[f.key]
            try:
                out[i] = f.result()
            except Exception as e:
                if type(e).__name__ == "KilledWorker":
                    raise CharzError(f"{_what(tasks[i], log)}: a Dask worker died each time it ran it (killed, out "
                                     f"of memory or a crash); not resubmitted again") from None
                raise _failed(tasks[i], log, "on Dask", e) from None
            f.release()
            if tick is not None:
                tick(tasks[i][2] - tasks[i][1])
        return out
    finally:
        if futs:
            try:
                client.cancel(futs)
            except Exception:
                pass
        client.close()


# ---- steps ---------------------------------------------------------------------------------------------
def _group(lp: LayerPlan, calls: dict, w2d) -> int:
    """The group index of this product call: the hook sees a node's groups in order, once per row block."""
    k = calls.get(lp.name, 0)
    calls[lp.name] = k + 1
    g = k % lp.groups
    ref = lp.w_float[g] if lp.w_float else None
    if ref is not None and (w2d.shape != ref.shape or (lp.groups > 1 and not np.array_equal(w2d, ref))):
        raise RuntimeError(f"node '{lp.name}': product call {k} does not carry group {g}'s weights")
    return g


def _capture_weights(graph: Graph, layers: dict, in_name: str, x1: np.ndarray) -> None:
    calls: dict[str, int] = {}

    def hook(node, x2d, w2d):
        lp = layers[node.name]
        k = calls.get(lp.name, 0)
        calls[lp.name] = k + 1
        if k < lp.groups:
            lp.w_float.append(w2d)
        return x2d @ w2d

    def block(node, call):
        lp = layers[node.name]
        if not lp.w_float:  # the hard-wired matrix, the operator's attributes, what its backend must know
            lp.w_float.append(call.weights)
            lp.block = call.spec.describe()
            lp.options.update(call.engine_options)
        return call.float()

    run(graph, {in_name: x1}, product=hook, block=block, until=list(layers))
    for lp in layers.values():
        want = 1 if lp.kind == "block" else lp.groups
        if len(lp.w_float) != want:
            raise RuntimeError(f"node '{lp.name}': {len(lp.w_float)} weight matrices seen, {want} expected")


def _quantize_weights(layers: dict, rec: dict) -> None:
    for lp in layers.values():
        if lp.operands != "int":
            continue
        r = rec.get(lp.name)
        o = lp.options
        if r is not None:
            lp.quant_source = "recorded"
            o["w_bits"], o["x_bits"] = int(r["w_bits"]), int(r["x_bits"])
            ws = np.asarray(r["w_scale"], dtype=np.float64).reshape(-1)
            per = [ws] * lp.groups if ws.size == 1 else np.split(ws, lp.groups)
            lp.x_quant = quant.recorded_act_quant(r["x_scale"], o["x_bits"], bool(r.get("x_signed", False)))
            o["x_signed"] = lp.x_quant.signed
        else:
            per = [None] * lp.groups
        lp.w_quant = [quant.weight_quant(w, bk.option(o, "w_bits"), bk.option(o, "weight_scale"), scale=s)
                      for w, s in zip(lp.w_float, per)]
        lp.w_int = [wq.quantize(w) for wq, w in zip(lp.w_quant, lp.w_float)]


def _needs_range(lp: LayerPlan) -> bool:
    if lp.backend == "td_mac":
        return bk.option(lp.options, "x_scale") == "calibrated"
    return lp.operands == "int" and lp.x_quant is None


def _calibrate(graph: Graph, layers: dict, in_name: str, xcal: np.ndarray, batch: int, mode: str) -> None:
    todo = [lp for lp in layers.values() if _needs_range(lp)]
    if not todo:
        return
    obs = {lp.name: quant.RangeObserver(bk.option(lp.options, "act_range"), bk.option(lp.options, "percentile"))
           for lp in todo}
    stages = [todo] if mode == "float" else [[lp for lp in todo if lp.level == v]
                                             for v in sorted({lp.level for lp in todo})]
    done: set[str] = set()
    for stage in stages:
        targets = {lp.name for lp in stage}
        calls: dict[str, int] = {}

        def hook(node, x2d, w2d):
            lp = layers[node.name]
            g = _group(lp, calls, w2d)
            if lp.name in targets:
                obs[lp.name].update(x2d)
            elif mode == "quantized" and lp.operands == "int" and (lp.name in done or lp.x_quant is not None):
                acc = quant.integer_matmul(lp.x_quant.quantize(x2d), lp.w_int[g])
                return quant.dequantize_product(acc, lp.x_quant.scale, lp.w_quant[g].scale)
            return x2d @ w2d

        for i in range(0, xcal.shape[0], batch):
            calls.clear()
            run(graph, {in_name: xcal[i:i + batch]}, product=hook, until=sorted(targets),
                block=(lambda node, call: call.ideal()) if mode == "quantized" else None)
        for lp in stage:
            o = obs[lp.name]
            if lp.backend == "td_mac":
                lo, hi = o.range()
                lp.options["x_amax"] = max(abs(lo), abs(hi))
            else:
                lp.x_quant = o.quant(bk.option(lp.options, "x_bits"))
                lp.options["x_signed"] = lp.x_quant.signed
            done.add(lp.name)


def _build(plan: Plan, chip) -> dict:
    """(node, group) -> programmed backend for a chip index, or the ideal twins (``chip="ideal"``)."""
    out = {}
    ideal = chip == "ideal"
    c = 0 if ideal else int(chip)
    rng = np.random.default_rng(np.random.SeedSequence(plan.seed, spawn_key=(c,)))
    cache: dict = {}
    for lp in plan.layers.values():
        if lp.kind == "block":  # one backend for the node's hard-wired matrix (all its groups)
            b = bk.make_backend(lp.backend, lp.options, rng, cache=cache)
            if ideal:
                b = b.ideal()
            b.program(lp.w_float[0])
            out[(lp.name, 0)] = b
            continue
        for g in range(lp.groups):
            s = rng if lp.backend in bk.DRAW_FROM_GENERATOR else plan.seed + c
            b = bk.make_backend(lp.backend, lp.options, s, cache=cache)
            if ideal:
                b = b.ideal()
            b.program(lp.w_int[g] if lp.operands == "int" else lp.w_float[g])
            out[(lp.name, g)] = b
    return out


def _levels(graph: Graph, names: list[str]) -> dict[str, int]:
    """Depth of every weight node: 0 when no weight node feeds it, else 1 + the deepest one that does."""
    producers = graph.producers()
    wset = set(names)
    by_name = {n.name: n for n in graph.nodes}
    level: dict[str, int] = {}
    for name in names:  # execution order: upstream levels are known
        node = by_name[name]
        seen, todo, up = set(), [node.inputs[0]] if node.inputs else [], []
        while todo:
            t = todo.pop()
            if not t or t in seen:
                continue
            seen.add(t)
            p = producers.get(t)
            if p is None:
                continue
            if p.name in wset:
                up.append(p.name)
            else:
                todo.extend(p.inputs)
        level[name] = 1 + max(level[u] for u in up) if up else 0
    return level


def _sparsity_tensors(graph: Graph, names: list[str]) -> dict[str, str]:
    """node -> the output of the first Relu / Clip reached through single-consumer elementwise nodes."""
    consumers = graph.consumers()
    by_name = {n.name: n for n in graph.nodes}
    out = {}
    for name in names:
        t = by_name[name].outputs[0]
        for _ in range(16):
            nxt = consumers.get(t, [])
            if len(nxt) != 1 or t in graph.outputs:
                break
            n = nxt[0]
            if n.op in _ACTIVATIONS:
                out[name] = n.outputs[0]
                break
            if n.op not in _ELEMENTWISE:
                break
            t = n.outputs[0]
    return out


# ---- the result ----------------------------------------------------------------------------------------
def _ci95(a: np.ndarray) -> list | None:
    """95 % confidence interval of the mean of *a* (Student t, n - 1 degrees of freedom), clipped to [0, 1];
    None for fewer than two values."""
    if a.size < 2:
        return None
    from scipy import stats

    h = float(stats.t.ppf(0.975, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return [max(0.0, float(a.mean() - h)), min(1.0, float(a.mean() + h))]


def _summarize(plan: Plan, per_chip: list, ref: dict, about: dict) -> dict:
    n = plan.n_images
    n_chips = len(per_chip)
    accs = np.array([r["accuracy"] for r in per_chip])
    table = []
    tot_energy: dict[str, float] = {}
    ops = 0.0
    lat_sum, no_lat = 0.0, []
    uncounted = []
    for name, lp in plan.layers.items():
        c = Cost()
        for r in per_chip:
            c += r["costs"][name]
        per_img = 1.0 / (n * n_chips)
        energy = {k: v * per_img for k, v in c.energy.items()}
        for k, v in energy.items():
            tot_energy[f"{name}/{k}"] = v
        ops += c.ops * per_img
        z = [sum(r["input_zeros"][name][i] for r in per_chip) for i in (0, 1)]
        row = lp.describe()
        info = per_chip[0]["backends"].get(name, {})
        row.update({
            "label": info.get("label"),
            "tiles": info["tiles"] * lp.groups if "tiles" in info else None,
            "column_evaluations_per_image": c.counters.get("column_evaluations", 0) * per_img
            if "column_evaluations" in c.counters else None,
            "conversions_per_image": c.conversions * per_img,
            "ops_per_image": c.ops * per_img,
            "input_sparsity": z[0] / z[1] if z[1] else None,
            "output_sparsity": None,
            "energy_per_image_J": sum(energy.values()),
            "energy_by_component_J": energy,
            "latency_per_image_s": None if c.latency is None else c.latency * per_img,
            "counters_per_image": {k: v * per_img for k, v in c.counters.items()},
        })
        if lp.sparsity_tensor:
            s = [sum(r["sparsity"][lp.sparsity_tensor][i] for r in per_chip) for i in (0, 1)]
            row["output_sparsity"] = s[0] / s[1] if s[1] else None
        if c.latency is None:
            no_lat.append(name)
        else:
            lat_sum += c.latency * per_img
        if not c.energy:
            uncounted.append(name)
        table.append(row)
    act_macs = sum(r["act_macs"] for r in per_chip) / (n * n_chips)
    if act_macs:
        tot_energy["activation_products/digital"] = act_macs * bk.DIGITAL_MAC_ENERGY_J
        ops += 2 * act_macs
    e_total = sum(tot_energy.values())
    by_component: dict[str, float] = {}
    for k, v in tot_energy.items():
        comp = k.rsplit("/", 1)[1]
        by_component[comp] = by_component.get(comp, 0.0) + v
    analog = [row for row in table if row["backend"] in bk.ANALOG]
    a_ops = sum(row["ops_per_image"] for row in analog)
    a_e = sum(row["energy_per_image_J"] for row in analog)
    ideal_pred = ref["ideal"]["predictions"] if "ideal" in ref else None
    out = {
        "n_images": n,
        "chips": n_chips,
        "seed": plan.seed,
        "float_accuracy": ref["float"]["accuracy"] if "float" in ref else None,
        "ideal_accuracy": ref["ideal"]["accuracy"] if "ideal" in ref else None,
        "accuracy_per_chip": accs.tolist(),
        "accuracy_mean": float(accs.mean()),
        "accuracy_std": float(accs.std(ddof=1)) if n_chips > 1 else 0.0,
        "accuracy_ci95": _ci95(accs),
        "disagreement_with_ideal": None if ideal_pred is None else
        float(np.mean([np.mean(r["predictions"] != ideal_pred) for r in per_chip])),
        "energy_per_inference_J": e_total,
        "energy_by_component_J": by_component,
        "energy_by_layer_J": {row["name"]: row["energy_per_image_J"] for row in table},
        "macs_per_inference": ops / 2,
        "ops_per_inference": ops,
        "activation_product_macs_per_inference": act_macs,
        "tops_per_watt": ops / e_total / 1e12 if e_total > 0 else None,
        "analog_tops_per_watt": a_ops / a_e / 1e12 if a_e > 0 else None,
        "layers_without_energy": uncounted,
        "latency_per_inference_s": lat_sum if not no_lat else None,
        "latency_partial_s": lat_sum,
        "layers_without_latency": no_lat,
        "layers": table,
        "energy_per_chip_J": [(sum(c.energy_J for c in r["costs"].values()) + r["act_macs"] * bk.DIGITAL_MAC_ENERGY_J)
                              / n for r in per_chip],
        "counters_per_chip": [{name: dict(c.counters) for name, c in r["costs"].items() if c.counters}
                              for r in per_chip],
        **about,
        "conventions": {
            "ops": "ops = 2 x MACs (1 MAC = 2 ops); MACs = logical products of the weight layers (positions x K x "
                   "N x groups per image) plus activation x activation products; not per bit plane",
            "tops_per_watt": "TOPS/W = ops per inference / energy per inference [J] / 1e12; energy = every "
                             "component the backends count (layers_without_energy count none); analog TOPS/W: "
                             "the ops and energy of the layers on " + ", ".join(bk.ANALOG) + " only",
            "per_chip": "energy_per_chip_J: each chip's energy per inference; counters_per_chip: each chip's "
                        "backend counters per layer, totals over the images evaluated",
            "accuracy": f"top-1 on {n} images; per chip, mean, std (ddof=1) and 95 % CI of the mean (Student t)",
            "digital": bk.DIGITAL_MAC_SOURCE,
            "activation_products": "activation x activation products run in float, booked as digital MACs",
            "latency": "sum over layers of latency per image, layers in series, one image at a time; None when a "
                       "layer's backend gives no timing",
            "sparsity": "input: zero quantized activations entering a layer; output: zeros after the first Relu / "
                        "Clip reached through elementwise nodes",
        },
    }
    return out


def format_result(r: dict) -> str:
    """A small text report of an :func:`evaluate_model` result: accuracies, energy, TOPS/W and the per-layer
    table."""
    def pct(v):
        return "   n/a" if v is None else f"{100 * v:6.2f}"

    ci = r["accuracy_ci95"]
    lines = [
        f"{r['n_images']} images, {r['chips']} chips (seed {r['seed']}), mapping: {r['mapping']['source']}",
        f"  float accuracy     {pct(r['float_accuracy'])} %",
        f"  ideal accuracy     {pct(r['ideal_accuracy'])} %",
        f"  chip accuracy      {pct(r['accuracy_mean'])} +- {100 * r['accuracy_std']:.2f} %"
        + (f"  (95 % CI {100 * ci[0]:.2f} .. {100 * ci[1]:.2f})" if ci else ""),
        f"  energy / inference {r['energy_per_inference_J'] * 1e12:10.3f} pJ  "
        + ", ".join(f"{k} {v * 1e12:.3f}" for k, v in r["energy_by_component_J"].items()),
        f"  ops / inference    {r['ops_per_inference']:.0f}  (1 MAC = 2 ops)",
        f"  TOPS/W             {r['tops_per_watt']:.2f}" if r["tops_per_watt"] else "  TOPS/W             n/a (no energy counted)",
    ]
    a_tops = r.get("analog_tops_per_watt")
    if a_tops and r["tops_per_watt"] and abs(a_tops - r["tops_per_watt"]) > 1e-9 * a_tops:
        lines.append(f"  TOPS/W analog      {a_tops:.2f}  (the {', '.join(bk.ANALOG)} layers' ops and energy only)")
    skipped, active = (sum(row["counters_per_image"].get(k, 0) for row in r["layers"])
                       for k in ("skipped_column_planes", "active_column_planes"))
    if active:
        lines.append(f"  early termination  {100 * skipped / active:.2f} % of the active column-planes skipped")
    if r["latency_per_inference_s"] is not None:
        lines.append(f"  latency            {r['latency_per_inference_s'] * 1e9:.3f} ns")
    lines.append(f"  {'layer':<16} {'op':<11} {'backend':<8} {'MACs':>9} {'tiles':>6} {'col.eval':>9} {'conv.':>9} "
                 f"{'in sp.':>7} {'out sp.':>7} {'energy pJ':>10}")
    for row in r["layers"]:
        def num(v, f):
            return f"{v:{f}}" if v is not None else f"{'-':{f[0]}{f[1:].split('.')[0]}}"
        op = row["op"].rsplit(".", 1)[-1]  # a charz-domain operator without its domain
        lines.append(f"  {row['name'][:16]:<16} {op:<11} {row['backend']:<8} {row['macs_per_image']:>9} "
                     f"{num(row['tiles'], '>6')} {num(row['column_evaluations_per_image'], '>9.0f')} "
                     f"{row['conversions_per_image']:>9.0f} {num(row['input_sparsity'], '>7.3f')} "
                     f"{num(row['output_sparsity'], '>7.3f')} {row['energy_per_image_J'] * 1e12:>10.3f}")
    return "\n".join(lines)


# ---- the digits MLP as a graph -------------------------------------------------------------------------
def mlp_onnx(net=None, *, record_quantization: bool = True):
    """The digits MLP (:class:`charz.network.mlp.QuantizedMLP`, None = the shipped one) as an in-memory ONNX
    model (float64: Gemm ``fc1`` -> Relu -> Gemm ``fc2``, input ``pixels`` (N, 64), output ``logits``), its
    float weights and biases as initializers, the preprocessing (pixels / 16) in :data:`PREPROCESS_KEY`
    and, with *record_quantization*, its quantization (bits, the per-layer weight scale and the activation
    scales) in :data:`QUANT_KEY`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from .mlp import load_shipped

    net = load_shipped() if net is None else net
    names = [f"fc{i + 1}" for i in range(net.n_layers)]
    inits, nodes = [], []
    x = "pixels"
    for i, name in enumerate(names):
        inits += [numpy_helper.from_array(np.asarray(net.w_float[i], np.float64), f"{name}.weight"),
                  numpy_helper.from_array(np.asarray(net.biases[i], np.float64), f"{name}.bias")]
        y = "logits" if i == net.n_layers - 1 else f"{name}.out"
        nodes.append(helper.make_node("Gemm", [x, f"{name}.weight", f"{name}.bias"], [y], name=name))
        if i < net.n_layers - 1:
            nodes.append(helper.make_node("Relu", [y], [f"{name}.relu"], name=f"{name}.relu"))
            x = f"{name}.relu"
    g = helper.make_graph(nodes, "digits_mlp",
                          [helper.make_tensor_value_info("pixels", TensorProto.DOUBLE, ["N", net.sizes[0]])],
                          [helper.make_tensor_value_info("logits", TensorProto.DOUBLE, ["N", net.sizes[-1]])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="charz")
    from .digits import PIXEL_MAX

    meta = {PREPROCESS_KEY: {"scale": 1.0 / PIXEL_MAX, "input_shape": [net.sizes[0]],
                             "source": "charz.network.mlp: pixels 0..16 / 16"}}
    if record_quantization:
        meta[QUANT_KEY] = {"layers": {name: {"w_bits": net.w_bits, "x_bits": net.x_bits,
                                             "x_scale": float(net.act_scale[i]), "x_signed": False,
                                             "w_scale": float(net.w_scale[i])} for i, name in enumerate(names)},
                           "source": "charz.network.mlp.QuantizedMLP (per-layer weight scale, activation scales "
                                     "calibrated by train_digits_mlp)"}
    for k, v in meta.items():
        e = m.metadata_props.add()
        e.key, e.value = k, json.dumps(v)
    onnx.checker.check_model(m)
    return m


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of the digits data (:func:`charz.network.digits.load`): pixels 0..16."""
    from . import digits

    return digits.load()
