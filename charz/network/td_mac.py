"""Digits MLP inference and training-in-memory on the time-domain floating-point MAC (TimeFloats-style, FP8).

Every matrix product of the 64-64-10 digits MLP (:mod:`charz.network.mlp`) runs on a
:class:`charz.blocks.td_mac.model.TdMacModel`; biases, ReLU, softmax, argmax, the loss and the weight
update stay digital (FP32 arrays).

FP8 matrix products (:class:`TdMatmul`)
---------------------------------------
``x @ w`` on one of three arithmetics:

- ``"fp32"``: NumPy float32 (the baseline);
- ``"fp8"``: exact FP8, :meth:`TdMacModel.exact` (both operands FP8, every product and sum exact, chunk
  sums in float64): what a perfect FP8 MAC gives;
- a :class:`TdMacModel`: the time-domain circuit (exponent window, guard bits, capacitor mismatch,
  read-out converter, delay-line / TDC mismatch as the model draws them).

Per-tensor power-of-two scaling (standard FP8 practice, as in FP8 training recipes): before every
product each operand tensor ``t`` is multiplied by ``s = 2^k`` with ``k = floor(log2(max_finite /
max|t|))``, so its largest magnitude maps into ``(max_finite / 2, max_finite]`` (just below the format's
maximum, 448 for E4M3), then quantized to FP8 (round to nearest even, saturating); the product is
divided by ``s_x s_w`` afterwards (exact: powers of two). The scale is the *current* amax of the tensor
in that call (no amax history); a power of two changes no mantissa, so it only moves the tensor away
from overflow and into the normal range, where FP8's relative precision holds. This matters most for
gradients (``dY`` of a softmax cross-entropy averaged over a batch is ~1e-3, and the weight gradients
smaller still: unscaled, much of it would fall into E4M3's subnormals or below 2^-10 and vanish).
A tensor of zeros gets ``s = 1``.

The model splits K into chunks of its length L (zero padded) and every (row, column, chunk) is one
scalar product; the chunk outputs are summed digitally (float64 in the model, then FP32 here). Its
``last_stats`` of every call are booked in a :class:`TdLedger` (scalar products, energy, dropped and
clipped fractions) per named product.

Inference (:func:`evaluate_td`)
-------------------------------
The shipped float weights of the digits MLP (``w_float``, ``biases``; not the 4-bit integers) on the
fixed digits test split: accuracy in FP32, exact FP8, on the TD-MAC with the ideal circuit, and on the
given model(s) (several chips = several seeds of the same circuit: mean / min / max). Energy per
inference = the model's joules per scalar product (data dependent: capacitors switched) summed over
every scalar product of the network; ops = 2 x logical MACs (64*64 + 64*10 = 4736 MACs = 9472 ops per
image); TOPS/W = ops / energy / 1e12; beside it the published TimeFloats figure (:data:`PUBLISHED`) and
:func:`td_reasons` (why ours differs, computed from the run). The model gives only the total energy of a
call; the split by component (lines, element TDCs, detector + scale TDC, read-out, capacitors) is
computed here from the circuit's energies and the operands' time codes exactly as the model counts
them, the capacitors being the rest. :meth:`TdMacCircuit.ideal` has **0 J** everywhere: energy and
TOPS/W need a circuit with energies (SPICE LUTs; :func:`charz.blocks.td_mac.model_circuit.synthetic_circuit` has
made-up energies, for tests only).

Exact mode (window None, guard None, no converter) reproduces exact FP8; the accuracies measured on the
ideal circuit are in README, 'Time-domain floating-point MAC (FP8)'.

Training in memory (:func:`train_td`, :func:`compare_training`)
---------------------------------------------------------------
64-64-10 ReLU MLP, He-normal init from ``seed`` (the same draw as :func:`charz.network.mlp.train_digits_mlp`),
softmax cross-entropy, SGD with (heavy-ball) momentum 0.9 and L2 weight decay, FP32 master weights.
On the TD-MAC every product of a step runs on the model, each operand FP8 with its own per-tensor scale:
forward ``x @ W`` (both layers), backward ``dY @ W.T`` (layer 2; layer 1's input gradient is not needed
and not computed) and the weight gradients ``x.T @ dY`` (both layers; K = the batch, chunked by L).
Bias gradients (sums over the batch), the softmax, ReLU masks and the update are digital FP32.
:func:`compare_training` trains FP32 and TD-MAC from the same init and the same batch order.
Default: 20 epochs, lr 0.05, batch 32. On the ideal circuit the training curves track FP32's within
noise (the measured figures are in README, 'Time-domain floating-point MAC (FP8)').
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Sequence

import numpy as np

from ..behavior import fp8 as f8
from ..blocks.td_mac.model import TdMacModel
from ..core.errors import ParameterError
from ..core.validate import finite, posint, positive
from . import digits
from .mlp import QuantizedMLP, accuracy, load_shipped, resolve_weights

PUBLISHED_TOPS_W = 22.1
PUBLISHED_E_PRODUCT_J = 5.8e-12
PUBLISHED_LENGTH = 64
PUBLISHED = ("published (TimeFloats): 22.1 TOPS/W, FP8, predictive 15 nm, ~5.8 pJ per 64-element scalar product "
             "(= 128 ops / 5.8 pJ)")
DEFAULT_CHIPS = 4
DEFAULT_EPOCHS = 20
"""Epochs of :func:`compare_training` by default: a short run (see the module doc); ask for more."""
DEFAULT_LR = 0.05
DEFAULT_MOMENTUM = 0.9
DEFAULT_BATCH = 32
DEFAULT_WEIGHT_DECAY = 1e-4
PARTS = ("lines", "tdcs", "shared", "caps", "readout")
PART_LABELS = {"lines": "delay lines (2 per element)", "tdcs": "element TDCs", "shared": "latest detector + scale TDC",
               "caps": "capacitor arrays", "readout": "read-out converter"}
CONVENTIONS = {
    "ops": "ops = 2 x MACs (1 MAC = 2 ops); MACs = logical in x out multiplications per layer per image "
           "(64*64 + 64*10 = 4736 per image); zero operands and padded slots are not removed or added",
    "scalar_products": "one scalar product = one chunk of L elements of one (row, column) on one TD-MAC engine; "
                       "per image and layer: out x ceil(in / L)",
    "energy": "the TD-MAC model's joules per scalar product (lines, TDCs, latest detector + scale TDC, capacitors "
              "switched, read-out), data dependent, summed over every scalar product; with SPICE LUTs leakage is "
              "in: the lines' over the engine cycle, the TDCs' and the accumulation drivers' over their testbench "
              "cycles",
    "not_counted": "digital mantissa multiplier and alignment shifter, FP32 accumulation of the chunk outputs, "
                   "per-tensor scaling and FP8 quantization of the operands, bias, ReLU, softmax, data movement, "
                   "weight loading, the exponent registers and the bias generators",
    "tops_per_watt": "TOPS/W = ops / energy [J] / 1e12",
    "scaling": "per-tensor power-of-two scale per operand per product call: max|t| -> (max_finite/2, max_finite]",
    "digital": "biases, ReLU, softmax, argmax, loss and weight update in FP32 (NumPy float32)",
}


# ---- scaling ---------------------------------------------------------------------------------------
def _fmt(fmt) -> "f8.Fp8Format":
    if isinstance(fmt, f8.Fp8Format):
        return fmt
    if isinstance(fmt, str):
        return f8.get_format(fmt)
    raise ParameterError(f"fmt must be an FP8 format name ('e4m3', 'e5m2') or an Fp8Format, got {fmt!r}")


def pow2_scale(t: np.ndarray, fmt="e4m3") -> float:
    """``2^k`` with ``k = floor(log2(max_finite / max|t|))``: ``max|t| * 2^k`` in ``(max_finite/2, max_finite]``
    (1.0 for an all-zero tensor). Raises ParameterError for a non-finite tensor."""
    fm = _fmt(fmt)
    t = np.asarray(t)
    amax = float(np.max(np.abs(t))) if t.size else 0.0
    if not math.isfinite(amax):
        raise ParameterError("a matrix operand has inf/NaN values: cannot scale it to FP8")
    if amax == 0.0:
        return 1.0
    k = math.floor(math.log2(fm.max_finite / amax))
    while amax * 2.0**k > fm.max_finite:  # floating-point edge of log2
        k -= 1
    while amax * 2.0 ** (k + 1) <= fm.max_finite:
        k += 1
    return 2.0**k


def to_fp8(t: np.ndarray, fmt="e4m3") -> tuple[np.ndarray, float]:
    """(FP8 values of ``t * s``, s) with the per-tensor power-of-two scale ``s`` of :func:`pow2_scale`."""
    fm = _fmt(fmt)
    s = pow2_scale(t, fm)
    return f8.quantize(np.asarray(t, dtype=np.float64) * s, fm), s


# ---- ledger ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class LedgerEntry:
    """What :class:`TdLedger` adds up for one name: product calls, scalar products, energy [J] (total and per
    part), and the dropped / clipped fractions weighted by scalar products."""

    calls: int = 0
    products: int = 0
    energy_J: float = 0.0
    dropped: float = 0.0
    """The model's dropped fraction (elements dropped by the window / nonzero element products) x scalar
    products, summed: dropped / products is the mean over calls weighted by their scalar products."""
    clipped: float = 0.0
    """Clipped fraction (scalar products beyond the converter range) x scalar products, summed."""
    parts_J: dict = dataclasses.field(default_factory=dict)


class TdLedger:
    """Accumulates the model's ``last_stats`` of every product call, per name."""

    def __init__(self):
        self.entries: dict[str, LedgerEntry] = {}

    def add(self, name: str, stats: dict) -> None:
        """Add one product call's ``last_stats`` (scalar products, energy and its parts in J, dropped and
        clipped fractions) under *name*."""
        e = self.entries.setdefault(name, LedgerEntry())
        n = int(stats.get("products", 0))
        e.calls += 1
        e.products += n
        e.energy_J += float(stats.get("energy_J", 0.0))
        e.dropped += float(stats.get("dropped_fraction", 0.0)) * n
        e.clipped += float(stats.get("clipped_fraction", 0.0)) * n
        for k, v in (stats.get("energy_parts_J") or {}).items():
            e.parts_J[k] = e.parts_J.get(k, 0.0) + float(v)

    def total(self, names: Sequence[str] | None = None) -> LedgerEntry:
        """The entries of *names* (None = all) added into one :class:`LedgerEntry`."""
        t = LedgerEntry()
        for n, e in self.entries.items():
            if names is not None and n not in names:
                continue
            t.calls += e.calls
            t.products += e.products
            t.energy_J += e.energy_J
            t.dropped += e.dropped
            t.clipped += e.clipped
            for k, v in e.parts_J.items():
                t.parts_J[k] = t.parts_J.get(k, 0.0) + v
        return t

    def clear(self) -> None:
        """Forget every entry."""
        self.entries.clear()


def _stats(model, xq: np.ndarray, wq: np.ndarray) -> dict:
    """The model's ``last_stats`` of ``model.matmul(xq, wq)`` in the ledger's keys, with the energy split
    by component (the model gives only the total): lines, TDCs, shared part and read-out from the
    circuit's energies and the operands' time codes (exactly as the model counts them), the capacitors
    = the rest (``e_cap_unit`` x unit caps switched)."""
    st = dict(getattr(model, "last_stats", None) or {})
    n = int(st.get("scalar_products", st.get("products", 0)))
    total = float(st.get("energy_J", 0.0))
    c, L, fm = model.circuit, model.length, model.fmt
    el = np.asarray(c.e_line, dtype=float) * getattr(model, "line_energy_factor", 1.0)  # the lines' chosen biases
    if el.ndim == 0:
        lines = n * (2 * L + 2) * float(el)
    else:  # per code: every x element is in M products, every w element in N; padded slots are zeros (E = 1)
        N, K = xq.shape
        M = wq.shape[1]
        pad = max(1, -(-K // L)) * L - K
        ex = f8.fields(xq, fm)[1]
        ew = f8.fields(wq, fm)[1]
        lines = (M * (float(el[ex].sum()) + N * pad * el[1]) + N * (float(el[ew].sum()) + M * pad * el[1])
                 + n * 2 * el[0])
    parts = {"lines": float(lines), "tdcs": n * L * c.e_tdc, "shared": n * c.e_shared,
             "readout": n * float(model.e_conv) if getattr(model, "adc_bits", None) else 0.0}
    caps = total - sum(parts.values())
    parts["caps"] = caps if abs(caps) > 1e-9 * max(total, 1e-300) else 0.0
    return {
        "products": n,
        "energy_J": total,
        "dropped_fraction": float(st.get("dropped_fraction", 0.0)),
        "clipped_fraction": float(st.get("clipped_fraction", 0.0)),
        "energy_parts_J": {k: parts[k] for k in PARTS},
    }


# ---- products --------------------------------------------------------------------------------------
def _model_fmt(model) -> "f8.Fp8Format":
    return _fmt(model.fmt)


def _model_length(model) -> int:
    return int(model.length)


class TdMatmul:
    """``x @ w`` on FP32 (``"fp32"``), exact FP8 (``"fp8"``: :meth:`TdMacModel.exact`) or a :class:`TdMacModel`.

    FP8 paths scale each operand by its per-tensor power of two (:func:`pow2_scale`), quantize, run the
    model's ``matmul`` and unscale; the model's ``last_stats`` go to ``ledger`` under the call's name.
    Returns float32 (the digital side is FP32).
    """

    def __init__(self, model="fp32", fmt="e4m3", length: int = 16, ledger: TdLedger | None = None):
        self.ledger = ledger if ledger is not None else TdLedger()
        if isinstance(model, str):
            if model not in ("fp32", "fp8"):
                raise ParameterError(f"arithmetic must be 'fp32', 'fp8' or a TdMacModel, got {model!r}")
            self.kind = model
            self.fmt = _fmt(fmt)
            self.length = posint(length, "length")
            self.model = TdMacModel.exact(self.fmt, self.length) if model == "fp8" else None
        elif isinstance(model, TdMacModel):
            self.kind = "td"
            self.model = model
            self.fmt = _model_fmt(model)
            self.length = _model_length(model)
        else:
            raise ParameterError(f"arithmetic must be 'fp32', 'fp8' or a TdMacModel, got {type(model).__name__}")

    @property
    def label(self) -> str:
        """Label of the arithmetic: ``FP32``, ``exact FP8 E4M3`` / ``E5M2`` or ``TD-MAC E4M3`` / ``E5M2``."""
        return {"fp32": "FP32", "fp8": f"exact FP8 {self.fmt.name.upper()}"}.get(self.kind, f"TD-MAC {self.fmt.name.upper()}")

    def __call__(self, x: np.ndarray, w: np.ndarray, name: str = "matmul") -> np.ndarray:
        if self.kind == "fp32":
            return np.asarray(x, dtype=np.float32) @ np.asarray(w, dtype=np.float32)
        xq, sx = to_fp8(x, self.fmt)
        wq, sw = to_fp8(w, self.fmt)
        y = self.model.matmul(xq, wq)
        self.ledger.add(name, _stats(self.model, xq, wq))
        return (np.asarray(y, dtype=np.float64) / (sx * sw)).astype(np.float32)


def _arith(a, fmt, length, ledger=None) -> TdMatmul:
    if isinstance(a, TdMatmul):
        return a
    if a is None:
        a = "fp32"
    return TdMatmul(a, fmt=fmt, length=length, ledger=ledger)


# ---- inference -------------------------------------------------------------------------------------
LAYER_NAMES = ("fc1", "fc2")


def forward(ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], pixels: np.ndarray, mm: TdMatmul,
            names: Sequence[str] | None = None) -> np.ndarray:
    """Logits of the MLP (``ws[i]`` (in, out), ``bs[i]``) on pixels 0..16; every product through ``mm``,
    bias and ReLU in FP32."""
    a = (np.asarray(pixels, dtype=np.float32) / np.float32(digits.PIXEL_MAX))
    for i, (w, b) in enumerate(zip(ws, bs)):
        a = mm(a, w, names[i] if names else f"fc{i + 1}") + np.asarray(b, dtype=np.float32)
        if i < len(ws) - 1:
            a = np.maximum(a, np.float32(0))
    return a


def _models(model_or_models) -> list:
    ms = [model_or_models] if isinstance(model_or_models, TdMacModel) else list(model_or_models or [])
    if not ms:
        raise ParameterError("give a TdMacModel or a list of them (one per simulated chip)")
    for m in ms:
        if not isinstance(m, TdMacModel):
            raise ParameterError(f"every chip must be a TdMacModel, got {type(m).__name__}")
    f0, l0 = _model_fmt(ms[0]).name, _model_length(ms[0])
    for m in ms[1:]:
        if _model_fmt(m).name != f0 or _model_length(m) != l0:
            raise ParameterError("all chips must share the FP8 format and the scalar-product length")
    return ms


def model_config(model) -> dict:
    """The constructor arguments of *model* except circuit, mismatch and seed (to build its ideal twin)."""
    given = model.choices.get("fullscale") == "given"
    return {"fmt": _model_fmt(model).name, "length": _model_length(model), "window": model.window,
            "guard": None if model.exact_guard else model.guard, "adc": model.adc,
            "fullscale": model.fs_fraction if given else None, "units": model.units}


def ideal_twin(model) -> TdMacModel:
    """The same TD-MAC configuration (format, length, window, guard, converter, full scale) on the ideal circuit,
    without mismatch (a converter model reads out through its nominal instance)."""
    cfg = model_config(model)
    return TdMacModel(**cfg, circuit=None, exp_mismatch=0.0, man_mismatch=0.0)


def make_chips(circuit=None, chips: int = DEFAULT_CHIPS, seed: int = 0, **model_kwargs) -> list:
    """``chips`` :class:`TdMacModel` of one circuit, seeds ``seed, seed + 1, ...`` (each its own mismatch draw)."""
    chips = posint(chips, "chips", 10_000)
    seed = _seed(seed)
    return [TdMacModel(circuit=circuit, seed=seed + i, **model_kwargs) for i in range(chips)]


def _seed(seed, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"{name} must be an integer >= 0, got {seed!r}")
    return int(seed)


def _weights(weights) -> tuple[QuantizedMLP, str]:
    return resolve_weights(weights, QuantizedMLP, load_shipped, "shipped charz/network/data/digits_mlp.npz (float weights)")


def _describe(model) -> dict:
    try:
        d = model.describe()
    except Exception:  # pragma: no cover - a model without describe()
        d = {}
    return d if isinstance(d, dict) else {"description": str(d)}


def _config_text(model) -> dict:
    """The model's configuration for reports (effective values, the converter by name)."""
    cfg = model_config(model)
    cfg["fullscale"] = f"{model.fs_fraction:g}" + (" (default 1/sqrt(L))" if cfg["fullscale"] is None else "")
    cfg["guard"] = f"{model.guard} (exact alignment)" if cfg["guard"] is None else cfg["guard"]
    cfg["window"] = "none (never drop)" if cfg["window"] is None else cfg["window"]
    cfg["adc"] = model.adc_label
    return cfg


def _circuit_info(model) -> dict:
    c = model.circuit
    src = dict(c.source)
    return {"label": c.label, "source": src, "ideal": bool(src.get("ideal")), "synthetic": bool(c.synthetic),
            "no_circuit_figures": bool(c.synthetic or src.get("ideal"))}


def _run_chip(mm: TdMatmul, net: QuantizedMLP, x: np.ndarray, batch: int | None) -> np.ndarray:
    if batch is None or batch >= x.shape[0]:
        return forward(net.w_float, net.biases, x, mm, LAYER_NAMES)
    return np.concatenate([forward(net.w_float, net.biases, x[i:i + batch], mm, LAYER_NAMES)
                           for i in range(0, x.shape[0], batch)])


def _energy_summary(ledger: TdLedger, images: int, length: int) -> dict:
    tot = ledger.total()
    parts = {k: v / max(tot.products, 1) for k, v in tot.parts_J.items()}
    return {
        "energy_per_inference_J": tot.energy_J / images,
        "energy_per_product_J": tot.energy_J / max(tot.products, 1),
        "energy_parts_per_product_J": parts,
        "products_per_inference": tot.products / images,
        "energy_per_layer_J": {n: e.energy_J / images for n, e in ledger.entries.items()},
        "dropped_fraction": tot.dropped / max(tot.products, 1),
        "clipped_fraction": tot.clipped / max(tot.products, 1),
    }


def evaluate_td(
    model_or_models,
    weights=None,
    *,
    n_images: int | None = None,
    batch: int | None = None,
    references: bool = True,
) -> dict:
    """The digits MLP (float weights) with every matrix product on the TD-MAC model(s).

    ``model_or_models``: one :class:`TdMacModel` or a list (one per simulated chip: the same circuit, other
    seeds; :func:`make_chips`). ``weights`` None = the shipped digits MLP. ``batch`` None = the whole test
    split (``n_images`` first images) as one tensor per product (the per-tensor FP8 scales are the amax of
    that tensor); an int splits it. ``references=False`` skips the FP32 / exact FP8 / ideal-circuit runs
    (for sweeps). Returns a dict (see :func:`format_td`).
    """
    ms = _models(model_or_models)
    net, wsource = _weights(weights)
    if net.n_layers != 2:
        raise ParameterError(f"evaluate_td runs the 2-layer digits MLP, this network has {net.n_layers} layers")
    if batch is not None:
        batch = posint(batch, "batch")
    _, _, xte, yte = digits.load()
    if n_images is not None:
        n_images = posint(n_images, "n_images", xte.shape[0])
        xte, yte = xte[:n_images], yte[:n_images]
    b = xte.shape[0]
    fm = _model_fmt(ms[0])
    L = _model_length(ms[0])
    macs_per_layer = {n: int(w.shape[0] * w.shape[1]) for n, w in zip(LAYER_NAMES, net.w_float)}
    chunks_per_layer = {n: int(w.shape[1] * math.ceil(w.shape[0] / L)) for n, w in zip(LAYER_NAMES, net.w_float)}
    macs = sum(macs_per_layer.values())
    ops = 2 * macs

    out: dict = {}
    ref_logits = None
    if references:
        out["fp32_accuracy"] = accuracy(_run_chip(TdMatmul("fp32"), net, xte, batch), yte)
        ex = TdMatmul("fp8", fmt=fm, length=L)
        ref_logits = _run_chip(ex, net, xte, batch)
        out["fp8_exact_accuracy"] = accuracy(ref_logits, yte)
        ideal = TdMatmul(ideal_twin(ms[0]))
        lg_i = _run_chip(ideal, net, xte, batch)
        out["td_ideal_accuracy"] = accuracy(lg_i, yte)
        ie = _energy_summary(ideal.ledger, b, L)
        out["ideal_dropped_fraction"] = ie["dropped_fraction"]
        out["ideal_clipped_fraction"] = ie["clipped_fraction"]
        out["ideal_disagreement_with_exact"] = float(np.mean(np.argmax(lg_i, 1) != np.argmax(ref_logits, 1)))

    accs, sums, disagree = [], [], []
    for m in ms:
        mm = TdMatmul(m)
        lg = _run_chip(mm, net, xte, batch)
        accs.append(accuracy(lg, yte))
        sums.append(_energy_summary(mm.ledger, b, L))
        if ref_logits is not None:
            disagree.append(float(np.mean(np.argmax(lg, 1) != np.argmax(ref_logits, 1))))
    e_inf = float(np.mean([s["energy_per_inference_J"] for s in sums]))
    parts = {k: float(np.mean([s["energy_parts_per_product_J"].get(k, 0.0) for s in sums]))
             for k in sorted({k for s in sums for k in s["energy_parts_per_product_J"]})}
    a = np.array(accs)
    # operand statistics: zero fraction of what the products see (pixels, ReLU outputs)
    x0 = xte / digits.PIXEL_MAX
    h = np.maximum(x0 @ net.w_float[0] + net.biases[0], 0)
    out.update({
        "td_accuracy_mean": float(a.mean()),
        "td_accuracy_min": float(a.min()),
        "td_accuracy_max": float(a.max()),
        "td_accuracy_per_chip": accs,
        "td_disagreement_with_exact": float(np.mean(disagree)) if disagree else None,
        "energy_per_inference_J": e_inf,
        "energy_per_inference_per_chip_J": [s["energy_per_inference_J"] for s in sums],
        "energy_per_product_J": float(np.mean([s["energy_per_product_J"] for s in sums])),
        "energy_parts_per_product_J": parts,
        "energy_per_layer_J": {n: float(np.mean([s["energy_per_layer_J"].get(n, 0.0) for s in sums])) for n in LAYER_NAMES},
        "products_per_inference": sums[0]["products_per_inference"],
        "products_per_layer": chunks_per_layer,
        "dropped_fraction": float(np.mean([s["dropped_fraction"] for s in sums])),
        "clipped_fraction": float(np.mean([s["clipped_fraction"] for s in sums])),
        "macs_per_layer": macs_per_layer,
        "macs_per_inference": macs,
        "ops_per_inference": ops,
        "tops_per_watt": ops / e_inf / 1e12 if e_inf > 0 else float("inf"),
        "energy_per_mac_J": e_inf / macs,
        "published": PUBLISHED,
        "published_tops_per_watt": PUBLISHED_TOPS_W,
        "published_energy_per_product_J": PUBLISHED_E_PRODUCT_J,
        "published_length": PUBLISHED_LENGTH,
        "operand_zero_fraction": {"fc1 input (pixels)": float(np.mean(x0 == 0)),
                                  "fc2 input (ReLU out, FP32)": float(np.mean(h == 0))},
        "fmt": fm.name,
        "length": L,
        "model": _describe(ms[0]),
        "model_config": _config_text(ms[0]),
        "circuit": _circuit_info(ms[0]),
        "network": {"sizes": list(net.sizes), "weights": wsource, "seed": net.meta.get("seed"),
                    "float_accuracy_recorded": net.meta.get("float_test_accuracy")},
        "conventions": {
            **CONVENTIONS,
            "ops_per_inference": f"2 x ({' + '.join(f'{net.sizes[i]}*{net.sizes[i + 1]}' for i in range(2))}) = {ops} ops",
            "scalar_products_per_inference": " + ".join(f"{net.sizes[i + 1]}*ceil({net.sizes[i]}/{L})" for i in range(2))
                                             + f" = {sum(chunks_per_layer.values())}",
            "accuracy": f"digits test split ({b} images); TD-MAC = mean / min / max over {len(ms)} chips "
                        f"(one mismatch draw each, kept for the test set)",
            "batch": "whole test split per product call" if batch is None else f"{batch} images per product call",
        },
        "n_images": b,
        "chips": len(ms),
        "line_calibration": _line_calibration(ms),
    })
    return out


def _line_calibration(ms: list) -> dict | None:
    """The chips' line calibration (None without a bias-trim circuit): the calibration, per-line errors against
    the nominal curve before / after (rms over the chips' lines), and the first chip's cost."""
    reps = [getattr(m, "line_calibration_report", None) for m in ms]
    if not reps or any(r is None for r in reps):
        return None
    out = {"calibration": ms[0].line_calibration, "bits": reps[0]["bits"], "lines_per_chip": reps[0]["lines"]}
    for when in ("before", "after"):
        out[when] = {k: float(np.sqrt(np.mean([r[when][k] ** 2 for r in reps]))) for k in reps[0][when]}
    for k in ("area_units_per_line", "calibration_time_s", "calibration_energy_J", "assumption", "energy_factor"):
        if k in reps[0]:
            out[k] = reps[0][k]
    if "at_range_end" in reps[0]:
        out["at_range_end"] = int(sum(r["at_range_end"] for r in reps))
    return out


def accuracy_vs_mismatch_td(
    circuit,
    scales: Sequence[float] = (0.0, 1.0, 2.0, 4.0),
    kinds: Sequence[str] = ("exp", "man"),
    *,
    chips: int = DEFAULT_CHIPS,
    seed: int = 0,
    weights=None,
    n_images: int | None = None,
    **model_kwargs,
) -> dict:
    """TD-MAC accuracy vs mismatch scale on *circuit*: ``"exp"`` scales only the exponent path
    (``exp_mismatch = s``, ``man_mismatch = 0``), ``"man"`` only the mantissa path, ``"both"`` both.
    The same chip seeds at every scale (the same instances with larger deviations)."""
    try:
        scales = [finite(s, "mismatch scale") for s in scales]
    except TypeError as exc:
        raise ParameterError(f"scales must be a list of numbers, got {scales!r}") from exc
    if not scales or any(s < 0 for s in scales):
        raise ParameterError(f"give mismatch scales >= 0, got {scales!r}")
    for k in kinds:
        if k not in ("exp", "man", "both"):
            raise ParameterError(f"kinds are 'exp', 'man' or 'both', got {k!r}")
    ref = evaluate_td(make_chips(circuit, 1, seed, exp_mismatch=0.0, man_mismatch=0.0, **model_kwargs), weights,
                      n_images=n_images)
    res: dict = {}
    for k in kinds:
        runs = []
        for s in scales:
            em = s if k in ("exp", "both") else 0.0
            mm = s if k in ("man", "both") else 0.0
            r = evaluate_td(make_chips(circuit, chips, seed, exp_mismatch=em, man_mismatch=mm, **model_kwargs), weights,
                            n_images=n_images, references=False)
            runs.append(r)
        res[k] = {"mean": [r["td_accuracy_mean"] for r in runs], "min": [r["td_accuracy_min"] for r in runs],
                  "max": [r["td_accuracy_max"] for r in runs], "per_chip": [r["td_accuracy_per_chip"] for r in runs],
                  "energy_per_inference_J": [r["energy_per_inference_J"] for r in runs]}
    return {"scales": scales, "kinds": res, "fp32_accuracy": ref["fp32_accuracy"],
            "fp8_exact_accuracy": ref["fp8_exact_accuracy"], "td_ideal_accuracy": ref["td_ideal_accuracy"],
            "fmt": ref["fmt"], "length": ref["length"], "model": ref["model"], "model_config": ref["model_config"],
            "circuit": ref["circuit"], "chips": chips, "n_images": ref["n_images"], "seed": int(seed)}


def td_reasons(r: dict) -> list[str]:
    """Why our TOPS/W differs from the published TimeFloats figure, from the numbers of this run."""
    L = r["length"]
    e_prod = r["energy_per_product_J"]
    e_mac = r["energy_per_mac_J"]
    pub_mac = PUBLISHED_E_PRODUCT_J / PUBLISHED_LENGTH
    parts = r.get("energy_parts_per_product_J") or {}
    circ = r.get("circuit", {})
    if e_prod <= 0:
        return [f"no energy: the circuit '{circ.get('label')}' gives 0 J per scalar product (the ideal circuit has no "
                "energies), so there is no TOPS/W to compare; evaluate a circuit with energies (SPICE LUTs)",
                f"not counted in any case: {CONVENTIONS['not_counted']}"]
    out = [
        f"energy per MAC: ours {e_mac * 1e15:.3g} fJ ({e_prod * 1e12:.4g} pJ per {L}-element scalar product, "
        f"{r['products_per_inference']:.0f} products for {r['macs_per_inference']} MACs per image); the published "
        f"{PUBLISHED_E_PRODUCT_J * 1e12:g} pJ per {PUBLISHED_LENGTH}-element product is {pub_mac * 1e15:.3g} fJ per MAC "
        f"-> ours / published = {e_mac / pub_mac:.3g} (TOPS/W ratio {r['tops_per_watt'] / PUBLISHED_TOPS_W:.3g})",
    ]
    tot = sum(parts.values())
    if tot > 0:
        share = ", ".join(f"{PART_LABELS.get(k, k)} {v * 1e15:.3g} fJ ({100 * v / tot:.0f} %)" for k, v in parts.items())
        out.append(f"per scalar product (mean over chips and products): {share}")
        per_el = {k: parts.get(k, 0.0) / L for k in ("lines", "tdcs", "caps")}
        fixed = parts.get("shared", 0.0) + parts.get("readout", 0.0)
        if fixed > 0:
            e64 = sum(per_el.values()) * PUBLISHED_LENGTH + fixed
            out.append(f"length: ours L = {L}, published {PUBLISHED_LENGTH}; the shared detector + scale TDC and the "
                       f"read-out ({fixed * 1e15:.3g} fJ per product) are paid once per {L} elements; with the same "
                       f"per-element costs a {PUBLISHED_LENGTH}-element product would cost {e64 * 1e12:.4g} pJ "
                       f"-> {2 * PUBLISHED_LENGTH / e64 / 1e12:.3g} TOPS/W")
    else:
        out.append("the model gave no energy breakdown per component (only the total per scalar product)")
    z = r.get("operand_zero_fraction") or {}
    if z:
        out.append("data: the capacitors switch only for the set bits of the aligned products, so the energy follows "
                   "the operands: " + ", ".join(f"{k} {100 * v:.0f} % zeros" for k, v in z.items())
                   + f"; {100 * r['dropped_fraction']:.1f} % of the nonzero element products dropped by the exponent "
                   "window; the published figure's data are not ours")
    out.append(f"not counted here: {CONVENTIONS['not_counted']} (each would lower our TOPS/W)")
    if circ.get("no_circuit_figures"):
        out.append(f"circuit: '{circ.get('label')}' is ideal/synthetic: its energies are placeholders, not circuit "
                   "figures; do not compare them with the published chip")
    else:
        out.append(f"technology and circuit: ours '{circ.get('label')}' (energies from its SPICE LUTs), the published "
                   "figure is predictive 15 nm with its own sizing and layout")
    out.append(f"ops: 2 per logical MAC ({r['ops_per_inference']} per image), zeros counted as ops; "
               f"TOPS/W = ops / energy / 1e12; the published convention (128 ops per 64-element product) is the same")
    return out


def format_td(r: dict) -> str:
    """A readable report of one :func:`evaluate_td` result."""
    pct = lambda x: f"{100 * x:6.2f} %"  # noqa: E731
    circ = r["circuit"]
    cfg = r["model_config"]
    syn = "  (IDEAL/SYNTHETIC circuit: no circuit figures)" if circ.get("no_circuit_figures") else ""
    lines = [
        f"digits MLP {'-'.join(map(str, r['network']['sizes']))} on the time-domain FP8 MAC ({r['fmt'].upper()}, "
        f"L = {r['length']} elements per scalar product)",
        f"  circuit: {circ.get('label')}{syn}",
        "  model: " + ", ".join(f"{k}={v}" for k, v in cfg.items()),
        f"  weights: {r['network']['weights']}",
    ]
    if "fp32_accuracy" in r:
        lines += [
            f"  {'FP32':<34} {pct(r['fp32_accuracy'])}",
            f"  {'exact FP8 (per-tensor 2^k scales)':<34} {pct(r['fp8_exact_accuracy'])}",
            f"  {'TD-MAC, ideal circuit':<34} {pct(r['td_ideal_accuracy'])}",
        ]
    lines += [
        f"  {'TD-MAC, this circuit':<34} {pct(r['td_accuracy_mean'])}  (min {100 * r['td_accuracy_min']:.2f}, max "
        f"{100 * r['td_accuracy_max']:.2f}; {r['chips']} chip{'s' if r['chips'] != 1 else ''}, {r['n_images']} images)",
        f"  {'dropped / clipped':<34} {100 * r['dropped_fraction']:.2f} % of nonzero element products dropped by the "
        f"window, {100 * r['clipped_fraction']:.3f} % of scalar products clipped by the read-out",
        f"  {'MACs / inference':<34} {r['macs_per_inference']}  ({r['conventions']['ops_per_inference']})",
        f"  {'scalar products / inference':<34} {r['products_per_inference']:.0f}  "
        f"({r['conventions']['scalar_products_per_inference']})",
    ]
    lc = r.get("line_calibration")
    if lc:
        b, a = lc["before"], lc["after"]
        lines.append(f"  {'delay lines (' + lc['calibration'] + ' calibration)':<34} error to the nominal curve "
                     f"{b['rms_tau']:.2f} -> {a['rms_tau']:.2f} tau rms (top code {b['rms_top_code_tau']:.2f} -> "
                     f"{a['rms_top_code_tau']:.2f}; span {b['span_rms_tau']:.2f} -> {a['span_rms_tau']:.2f}; code-0 "
                     f"offset {a['offset_rms_tau']:.2f}, untouched)")
        if "calibration_time_s" in lc:
            lines.append(f"  {'':<34} {lc['bits']}-bit bias DAC per line ({lc['area_units_per_line']:.0f} minimum-"
                         f"transistor units), calibration {1e6 * lc['calibration_time_s']:.3g} us and "
                         f"{1e12 * lc['calibration_energy_J']:.3g} pJ per engine, line energy x{lc['energy_factor']:.3f};"
                         f" {lc['at_range_end']} lines at a range end")
    if r["energy_per_product_J"] > 0:
        lines.append(f"  {'energy / scalar product':<34} {r['energy_per_product_J'] * 1e12:9.4f} pJ")
        for k, v in r["energy_parts_per_product_J"].items():
            lines.append(f"    {PART_LABELS.get(k, k):<32} {v * 1e15:9.3f} fJ")
        lines += [
            f"  {'energy / inference':<34} {r['energy_per_inference_J'] * 1e12:9.3f} pJ",
            f"  {'energy / MAC':<34} {r['energy_per_mac_J'] * 1e15:9.3f} fJ",
            f"  {'TOPS/W':<34} {r['tops_per_watt']:9.2f}",
        ]
    else:
        lines.append(f"  {'energy':<34} 0 J: this circuit has no energies (TOPS/W undefined)")
    lines += [
        f"  {'':<34} {PUBLISHED}",
        f"  {'ours / published TOPS/W':<34} "
        + (f"{r['tops_per_watt'] / PUBLISHED_TOPS_W:.3g}" if r["energy_per_product_J"] > 0 else "n/a") + "; why they differ:",
        *[f"    - {x}" for x in td_reasons(r)],
        "  conventions:",
        *[f"    {k}: {v}" for k, v in r["conventions"].items()],
    ]
    return "\n".join(lines)


def format_mismatch_td(s: dict) -> str:
    """The result of :func:`accuracy_vs_mismatch_td` as a text table: per mismatch scale the mean [min..max]
    accuracy of each swept path, with the FP32, exact FP8 and ideal-circuit references."""
    lines = [f"TD-MAC accuracy vs mismatch scale ({s['chips']} chips, {s['n_images']} images; FP32 "
             f"{100 * s['fp32_accuracy']:.2f} %, exact FP8 {100 * s['fp8_exact_accuracy']:.2f} %, ideal circuit "
             f"{100 * s['td_ideal_accuracy']:.2f} %); circuit {s['circuit'].get('label')}",
             f"  {'scale':>8} " + " ".join(f"{k + ' mean [min..max] %':>28}" for k in s["kinds"])]
    for i, v in enumerate(s["scales"]):
        lines.append(f"  {v:>8g} " + " ".join(
            f"{100 * d['mean'][i]:>12.2f} [{100 * d['min'][i]:.2f}..{100 * d['max'][i]:.2f}]".rjust(28)
            for d in s["kinds"].values()))
    return "\n".join(lines)


# ---- training --------------------------------------------------------------------------------------
def init_params(seed: int = 0, sizes: Sequence[int] = (64, 64, 10)) -> tuple[list, list]:
    """He-normal weights (float32) and zero biases, the same draw as :func:`charz.network.mlp.train_digits_mlp`.
    Returns (weights, biases) and leaves nothing shared between calls."""
    rng = np.random.default_rng(_seed(seed))
    ws = [(rng.standard_normal((sizes[i], sizes[i + 1])) * np.sqrt(2.0 / sizes[i])).astype(np.float32)
          for i in range(len(sizes) - 1)]
    bs = [np.zeros(sizes[i + 1], dtype=np.float32) for i in range(len(sizes) - 1)]
    return ws, bs


def _xent(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean softmax cross-entropy, softmax probabilities), FP32."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = float(-np.mean(np.log(np.maximum(p[np.arange(y.size), y], np.float32(1e-30)))))
    return loss, p


def _loss_acc(ws, bs, x, y, mm: TdMatmul, prefix: str = "eval") -> tuple[float, float]:
    lg = forward(ws, bs, x, mm, [f"{prefix} fc{i + 1}" for i in range(len(ws))])
    return _xent(lg, y)[0], accuracy(lg, y)


def train_td(
    model=None,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    batch: int = DEFAULT_BATCH,
    seed: int = 0,
    *,
    momentum: float = DEFAULT_MOMENTUM,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    hidden: int = 64,
    n_train: int | None = None,
    n_test: int | None = None,
    fmt: str = "e4m3",
    length: int = 16,
    eval_model="same",
) -> dict:
    """Train the digits MLP with every product on ``model``: None or ``"fp32"`` = FP32, ``"fp8"`` = exact
    FP8, a :class:`TdMacModel` = the TD-MAC (fmt / length then come from the model).

    SGD with momentum (``v = momentum v + g; W -= lr v``), ``g`` = the mean softmax cross-entropy gradient
    over the batch + ``weight_decay W``; FP32 master weights and biases. Init and batch order come from
    ``seed`` only (the same for every arithmetic). ``n_train`` / ``n_test`` take the first images of the
    fixed split. ``eval_model`` = the arithmetic of the test-set evaluation after each epoch (``"same"`` =
    the training one; its products are not in the training ledger).

    Returns per-epoch ``train_loss`` (mean over the epoch's batches, as computed in training),
    ``test_accuracy`` / ``test_loss`` (index 0 = the init), ``train_loss_init`` (the init's train loss in
    the run's arithmetic) and ``train_loss_init_fp32``, the final weights, and the energy of the training
    products.
    """
    epochs = posint(epochs, "epochs", 10_000)
    batch = posint(batch, "batch", 100_000)
    lr = positive(lr, "lr")
    momentum = finite(momentum, "momentum")
    if not 0 <= momentum < 1:
        raise ParameterError(f"momentum must be in [0, 1), got {momentum!r}")
    weight_decay = finite(weight_decay, "weight_decay")
    if weight_decay < 0:
        raise ParameterError(f"weight_decay must be >= 0, got {weight_decay!r}")
    seed = _seed(seed)
    hidden = posint(hidden, "hidden", 4096)
    ledger = TdLedger()
    mm = _arith(model, fmt, length, ledger)
    if isinstance(eval_model, str) and eval_model == "same":  # same arithmetic (same chip), its own ledger
        em = TdMatmul(mm.model if mm.kind == "td" else mm.kind, fmt=mm.fmt, length=mm.length)
    else:
        em = _arith(eval_model, fmt, length)
    xtr, ytr, xte, yte = digits.load()
    if n_train is not None:
        n_train = posint(n_train, "n_train", xtr.shape[0])
        xtr, ytr = xtr[:n_train], ytr[:n_train]
    if n_test is not None:
        n_test = posint(n_test, "n_test", xte.shape[0])
        xte, yte = xte[:n_test], yte[:n_test]
    sizes = (xtr.shape[1], hidden, 10)
    ws, bs = init_params(seed, sizes)
    order_rng = np.random.default_rng([seed, 1])
    vel = [np.zeros_like(p) for p in ws + bs]
    x_all = (xtr / digits.PIXEL_MAX).astype(np.float32)
    fp32 = TdMatmul("fp32")
    init_loss_fp32 = _loss_acc(ws, bs, xtr, ytr, fp32)[0]
    init_loss = _loss_acc(ws, bs, xtr, ytr, em, "init")[0] if mm.kind != "fp32" else init_loss_fp32
    tl, ta = _loss_acc(ws, bs, xte, yte, em)
    hist = {"train_loss": [], "test_loss": [tl], "test_accuracy": [ta], "seconds": []}
    lr32, mu32, wd32 = np.float32(lr), np.float32(momentum), np.float32(weight_decay)
    n = x_all.shape[0]
    t_start = time.perf_counter()
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = order_rng.permutation(n)
        losses, weights_seen = [], []
        for s0 in range(0, n, batch):
            idx = order[s0:s0 + batch]
            a0, y = x_all[idx], ytr[idx]
            h1 = mm(a0, ws[0], "fc1 forward") + bs[0]
            a1 = np.maximum(h1, np.float32(0))
            z = mm(a1, ws[1], "fc2 forward") + bs[1]
            loss, p = _xent(z, y)
            losses.append(loss)
            weights_seen.append(idx.size)
            g2 = p
            g2[np.arange(idx.size), y] -= np.float32(1)
            g2 /= np.float32(idx.size)
            gw2 = mm(a1.T, g2, "fc2 weight gradient")
            gb2 = g2.sum(axis=0)
            g1 = mm(g2, ws[1].T, "fc2 input gradient") * (h1 > 0)
            gw1 = mm(a0.T, g1, "fc1 weight gradient")
            gb1 = g1.sum(axis=0)
            grads = [gw1 + wd32 * ws[0], gw2 + wd32 * ws[1], gb1, gb2]
            params = ws + bs
            for j, g in enumerate(grads):
                vel[j] = mu32 * vel[j] + g.astype(np.float32)
                params[j] -= lr32 * vel[j]
        hist["train_loss"].append(float(np.average(losses, weights=weights_seen)))
        tl, ta = _loss_acc(ws, bs, xte, yte, em)
        hist["test_loss"].append(tl)
        hist["test_accuracy"].append(ta)
        hist["seconds"].append(time.perf_counter() - t0)
    tot = ledger.total()
    steps = epochs * math.ceil(n / batch)
    return {
        "arithmetic": mm.label,
        "eval_arithmetic": em.label,
        "epochs": epochs,
        **hist,
        "train_loss_init": init_loss,
        "train_loss_init_fp32": init_loss_fp32,
        "final_test_accuracy": hist["test_accuracy"][-1],
        "final_train_loss": hist["train_loss"][-1],
        "final_test_accuracy_fp32_eval": _loss_acc(ws, bs, xte, yte, fp32)[1],
        "weights": [w.copy() for w in ws],
        "biases": [b.copy() for b in bs],
        "training_products": tot.products,
        "training_energy_J": tot.energy_J,
        "training_energy_per_step_J": tot.energy_J / steps if steps else 0.0,
        "training_dropped_fraction": tot.dropped / max(tot.products, 1),
        "training_clipped_fraction": tot.clipped / max(tot.products, 1),
        "training_products_by_kind": {k: e.products for k, e in ledger.entries.items()},
        "wall_s": time.perf_counter() - t_start,
        "model": _describe(mm.model) if mm.kind == "td" else None,
        "circuit": _circuit_info(mm.model) if mm.kind == "td" else None,
        "config": {"optimizer": f"SGD, momentum {momentum:g} (heavy ball), L2 weight decay {weight_decay:g}",
                   "lr": lr, "batch": batch, "seed": seed, "sizes": list(sizes), "n_train": n, "n_test": int(xte.shape[0]),
                   "init": "He normal (std sqrt(2 / fan_in)), zero biases, default_rng(seed)",
                   "batch_order": "default_rng([seed, 1]) permutation per epoch",
                   "fmt": mm.fmt.name if mm.kind != "fp32" else None, "length": mm.length if mm.kind != "fp32" else None,
                   "products": "forward x@W (2 layers), backward dY@W.T (layer 2), weight gradients x.T@dY (2 layers); "
                               "each operand FP8 with its own per-tensor power-of-two scale" if mm.kind != "fp32" else "FP32"},
    }


def compare_training(model, epochs: int = DEFAULT_EPOCHS, **kwargs) -> dict:
    """:func:`train_td` in FP32 and on *model* (a :class:`TdMacModel` or ``"fp8"``) from the same init and batch
    order. Returns both runs and the final accuracies / losses."""
    if model is None or model == "fp32":
        raise ParameterError("compare_training needs a TdMacModel (or 'fp8') to compare with FP32")
    ref = train_td(None, epochs, **kwargs)
    td = train_td(model, epochs, **kwargs)
    same = all(np.array_equal(a, b) for a, b in zip(init_params(kwargs.get("seed", 0), ref["config"]["sizes"])[0],
                                                     init_params(kwargs.get("seed", 0), td["config"]["sizes"])[0]))
    return {
        "fp32": ref,
        "td": td,
        "same_init": bool(same and ref["train_loss_init_fp32"] == td["train_loss_init_fp32"]),
        "final": {"fp32_test_accuracy": ref["final_test_accuracy"], "td_test_accuracy": td["final_test_accuracy"],
                  "fp32_train_loss": ref["final_train_loss"], "td_train_loss": td["final_train_loss"],
                  "td_weights_fp32_eval_accuracy": td["final_test_accuracy_fp32_eval"]},
        "epochs": ref["epochs"],
    }


def format_training(c: dict) -> str:
    """Both curves of :func:`compare_training` as a table."""
    f, t = c["fp32"], c["td"]
    lines = [f"digits MLP training: FP32 vs {t['arithmetic']} (same init, same batch order); {f['config']['optimizer']}, "
             f"lr {f['config']['lr']:g}, batch {f['config']['batch']}, {f['config']['n_train']} train / "
             f"{f['config']['n_test']} test images",
             f"  initial train loss: FP32 {f['train_loss_init']:.4f}, {t['arithmetic']} {t['train_loss_init']:.4f}",
             f"  {'epoch':>5} {'FP32 loss':>10} {'acc %':>7} {'TD loss':>10} {'acc %':>7}"]
    for e in range(c["epochs"]):
        lines.append(f"  {e + 1:>5} {f['train_loss'][e]:>10.4f} {100 * f['test_accuracy'][e + 1]:>7.2f} "
                     f"{t['train_loss'][e]:>10.4f} {100 * t['test_accuracy'][e + 1]:>7.2f}")
    if t.get("training_products"):
        en = (f"{t['training_energy_J'] * 1e9:.4g} nJ of products in training ({t['training_energy_per_step_J'] * 1e12:.4g} "
              f"pJ per step)" if t["training_energy_J"] > 0 else "0 J (the circuit has no energies)")
        lines.append(f"  {t['arithmetic']}: {t['training_products']} scalar products, {en}, dropped "
                     f"{100 * t['training_dropped_fraction']:.2f} % of nonzero element products, clipped "
                     f"{100 * t['training_clipped_fraction']:.3f} % of scalar products")
    lines.append(f"  TD-trained weights evaluated in FP32: {100 * t['final_test_accuracy_fp32_eval']:.2f} %")
    return "\n".join(lines)
