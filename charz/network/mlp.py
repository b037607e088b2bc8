"""A small ReLU MLP for the digits data, trained in NumPy and quantized for the CiM mapping.

Network: 64 -> 64 -> 10 (ReLU on the hidden layer), trained with Adam on softmax cross-entropy from a
fixed seed, then fine-tuned quantization-aware (straight-through estimator), then quantized:

- inputs: pixels 0..16 -> unsigned 4-bit x0 = round(p * 15 / 16); the float network sees p / 16, so
  the input scale is 1/15 (x0 / 15 ~ p / 16);
- weights: signed 4-bit, symmetric range -7..7, one scale per layer (max |W| / 7);
- hidden activations: unsigned 4-bit 0..15, one scale per layer (calibrated on the training set as the
  99.9th percentile of the ReLU output / 15);
- biases stay in floating point in the digital back end, as do the output logits.

Integer inference: ``acc = a_l @ Wq_l`` (integers, this is what the CiM array computes),
``h = acc * s_a[l] * s_w[l] + b_l``, then ``a_{l+1} = clip(round(relu(h) / s_a[l+1]), 0, 15)``.

The trained weights are shipped in ``charz/network/data/digits_mlp.npz`` (``np.savez``, loaded with
``allow_pickle=False``); :func:`train_digits_mlp` re-trains them in a few seconds.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..core.errors import CharzError, ParameterError
from . import digits

DATA = Path(__file__).resolve().parent / "data" / "digits_mlp.npz"
FORMAT = 1


class WeightsError(CharzError):
    """A weights file is missing, corrupt or of another format."""


@dataclasses.dataclass
class QuantizedMLP:
    """The digits MLP: float weights and biases, and the ``w_bits``-bit signed integer weights with one scale
    per layer and the activation scales that map it onto ``x_bits``-bit inputs. :meth:`save` / :meth:`load`
    use an ``.npz`` without pickles."""

    sizes: tuple[int, ...]
    w_float: list[np.ndarray]
    """(in, out) float weights per layer (the float network)."""
    biases: list[np.ndarray]
    w_int: list[np.ndarray]
    """(in, out) signed integers in [-(2**(w_bits-1)-1), 2**(w_bits-1)-1] per layer."""
    w_scale: np.ndarray
    """One weight scale per layer: W ~ w_int * w_scale."""
    act_scale: np.ndarray
    """Scale of the activations entering each layer: a ~ a_int * act_scale (index 0 = input pixels / 16)."""
    x_bits: int = 4
    w_bits: int = 4
    meta: dict = dataclasses.field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        """Number of weight layers."""
        return len(self.w_int)

    @property
    def macs_per_layer(self) -> list[int]:
        """Logical MACs per image per layer (in x out)."""
        return [int(w.shape[0] * w.shape[1]) for w in self.w_int]

    # -- inference ---------------------------------------------------------------------------------
    def forward_float(self, pixels: np.ndarray) -> np.ndarray:
        """Logits (images, 10) of the float network for raw *pixels* (0..16): pixels / 16 through every layer,
        ReLU between layers."""
        a = np.asarray(pixels, dtype=float) / digits.PIXEL_MAX
        for i, (w, b) in enumerate(zip(self.w_float, self.biases)):
            a = a @ w + b
            if i < self.n_layers - 1:
                a = np.maximum(a, 0)
        return a

    def input_ints(self, pixels: np.ndarray) -> np.ndarray:
        """The *pixels* (0..16) as the ``x_bits``-bit unsigned integers the first layer takes
        (:func:`charz.network.digits.quantize_pixels`)."""
        return digits.quantize_pixels(pixels, self.x_bits)

    def forward_int(
        self, x_int: np.ndarray, matmuls: Sequence[Callable[[np.ndarray], np.ndarray]] | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits and the hidden integer activations, from unsigned input integers.

        ``matmuls[l](a_int) -> acc_int`` replaces the exact product ``a_int @ w_int[l]`` (e.g. a CiM layer).
        """
        a = np.asarray(x_int, dtype=np.int64)
        top = (1 << self.x_bits) - 1
        hidden = []
        for i in range(self.n_layers):
            acc = matmuls[i](a) if matmuls is not None else a @ self.w_int[i]
            h = acc * (self.act_scale[i] * self.w_scale[i]) + self.biases[i]
            if i < self.n_layers - 1:
                a = np.clip(np.rint(np.maximum(h, 0) / self.act_scale[i + 1]), 0, top).astype(np.int64)
                hidden.append(a)
            else:
                return h, hidden
        raise AssertionError("unreachable")

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the network to *path* (``.npz``, folders created; float weights as float32, integer weights
        as int8) and return the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "format": np.array(FORMAT), "sizes": np.array(self.sizes, dtype=np.int64),
            "w_scale": np.asarray(self.w_scale, float), "act_scale": np.asarray(self.act_scale, float),
            "bits": np.array([self.x_bits, self.w_bits], dtype=np.int64),
            "meta": np.array(json.dumps(self.meta, sort_keys=True)),
        }
        for i in range(self.n_layers):
            arrays[f"w{i}"] = self.w_float[i].astype(np.float32)
            arrays[f"b{i}"] = self.biases[i].astype(np.float64)
            arrays[f"wq{i}"] = self.w_int[i].astype(np.int8)
        with open(p, "wb") as f:
            np.savez(f, **arrays)
        return p

    @classmethod
    def load(cls, path: str | Path | None = None) -> "QuantizedMLP":
        """Read a network written by :meth:`save` (None = the shipped weights). Raises ``WeightsError`` for a
        missing or corrupt file, another format version, or layer shapes that disagree with the sizes."""
        p = Path(path) if path is not None else DATA
        try:
            with np.load(p, allow_pickle=False) as z:
                if int(z["format"]) != FORMAT:
                    raise WeightsError(f"weights file {p} has format {int(z['format'])}, this charz reads {FORMAT}: re-train with `charz train`")
                sizes = tuple(int(s) for s in z["sizes"])
                n = len(sizes) - 1
                bits = z["bits"]
                m = cls(
                    sizes=sizes,
                    w_float=[z[f"w{i}"].astype(np.float64) for i in range(n)],
                    biases=[z[f"b{i}"].astype(np.float64) for i in range(n)],
                    w_int=[z[f"wq{i}"].astype(np.int64) for i in range(n)],
                    w_scale=z["w_scale"].astype(float), act_scale=z["act_scale"].astype(float),
                    x_bits=int(bits[0]), w_bits=int(bits[1]), meta=json.loads(str(z["meta"])),
                )
        except WeightsError:
            raise
        except FileNotFoundError as exc:
            raise WeightsError(f"weights file {p} not found: re-train with train_digits_mlp() / `charz train`") from exc
        except Exception as exc:
            raise WeightsError(f"weights file {p} is corrupt ({type(exc).__name__}: {exc}): re-train the MLP") from exc
        for i, w in enumerate(m.w_int):
            if w.shape != (sizes[i], sizes[i + 1]):
                raise WeightsError(f"weights file {p}: layer {i} has shape {w.shape}, sizes say {sizes[i:i + 2]}")
        return m


def resolve_weights(weights, cls, shipped, label: str):
    """(network, where it came from) for an evaluation's ``weights`` argument: None = the shipped file
    (``shipped()``, described by *label*), an instance of *cls*, or a path loaded with ``cls.load``."""
    from pathlib import Path as _Path

    if weights is None:
        return shipped(), label
    if isinstance(weights, cls):
        return weights, f"given {cls.__name__}"
    if isinstance(weights, (str, _Path)):
        return cls.load(weights), str(weights)
    raise ParameterError(f"weights must be None, a {cls.__name__} or a path, got {type(weights).__name__}")


def load_shipped() -> QuantizedMLP:
    """The weights shipped with charz (``charz/network/data/digits_mlp.npz``)."""
    return QuantizedMLP.load(DATA)


# ---- training --------------------------------------------------------------------------------------
def _fake_quant(a: np.ndarray, scale: float, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.rint(a / scale), lo, hi) * scale


def _wscale(w: np.ndarray, wmax: int) -> float:
    return max(float(np.max(np.abs(w))), 1e-8) / wmax


def train_digits_mlp(
    seed: int = 0,
    hidden: int | Sequence[int] = 64,
    epochs: int = 60,
    qat_epochs: int = 30,
    x_bits: int = 4,
    w_bits: int = 4,
    lr: float = 3e-3,
    batch: int = 64,
    act_percentile: float = 99.9,
) -> QuantizedMLP:
    """Train the digits MLP from *seed* (Adam, float then quantization-aware), quantize and return it.

    Deterministic for a given seed and NumPy build; takes a few seconds on one core.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
    hid = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
    if not hid or any((not isinstance(h, (int, np.integer))) or h < 1 for h in hid):
        raise ParameterError(f"hidden sizes must be positive integers, got {hidden!r}")
    xtr, ytr, xte, yte = digits.load()
    sizes = (xtr.shape[1], *[int(h) for h in hid], 10)
    n_l = len(sizes) - 1
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((sizes[i], sizes[i + 1])) * np.sqrt(2.0 / sizes[i]) for i in range(n_l)]
    bs = [np.zeros(sizes[i + 1]) for i in range(n_l)]
    params = ws + bs
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    step = 0
    wmax = (1 << (w_bits - 1)) - 1
    amax = (1 << x_bits) - 1
    xq_tr = digits.quantize_pixels(xtr, x_bits) / amax  # what the quantized net sees
    x_float = xtr / digits.PIXEL_MAX

    def act_scales(x_in, wq):
        scales = [1.0 / amax]
        a = x_in
        for i in range(n_l - 1):
            h = np.maximum(a @ wq[i] + bs[i], 0)
            s = max(float(np.percentile(h, act_percentile)), 1e-6) / amax
            scales.append(s)
            a = _fake_quant(h, s, 0, amax)
        return scales

    total = epochs + qat_epochs
    for ep in range(total):
        qat = ep >= epochs
        xin = xq_tr if qat else x_float
        if qat:
            a_sc = act_scales(xin, [_fake_quant(w, _wscale(w, wmax), -wmax, wmax) for w in ws])
        order = rng.permutation(xin.shape[0])
        for s0 in range(0, order.size, batch):
            idx = order[s0 : s0 + batch]
            a, y = xin[idx], ytr[idx]
            acts, pre, wused = [a], [], []
            for i in range(n_l):
                w = _fake_quant(ws[i], _wscale(ws[i], wmax), -wmax, wmax) if qat else ws[i]
                wused.append(w)
                h = a @ w + bs[i]
                pre.append(h)
                if i < n_l - 1:
                    a = np.maximum(h, 0)
                    if qat:
                        a = _fake_quant(a, a_sc[i + 1], 0, amax)
                    acts.append(a)
                else:
                    a = h
            z = a - a.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            g = p
            g[np.arange(idx.size), y] -= 1
            g /= idx.size
            gw, gb = [None] * n_l, [None] * n_l
            for i in reversed(range(n_l)):
                gw[i] = acts[i].T @ g + 1e-4 * ws[i]
                gb[i] = g.sum(axis=0)
                if i > 0:
                    g = g @ wused[i].T
                    mask = pre[i - 1] > 0
                    if qat:  # straight-through estimator, zero gradient where the activation clips
                        mask &= pre[i - 1] < a_sc[i] * (amax + 0.5)
                    g = g * mask
            step += 1
            lr_t = lr * (0.3 if qat else 1.0)
            for j, gr in enumerate(gw + gb):
                m1[j] = 0.9 * m1[j] + 0.1 * gr
                m2[j] = 0.999 * m2[j] + 0.001 * gr * gr
                mh = m1[j] / (1 - 0.9**step)
                vh = m2[j] / (1 - 0.999**step)
                params[j] -= lr_t * mh / (np.sqrt(vh) + 1e-8)

    w_scale = np.array([_wscale(w, wmax) for w in ws])
    w_int = [np.clip(np.rint(w / s), -wmax, wmax).astype(np.int64) for w, s in zip(ws, w_scale)]
    a_sc = act_scales(xq_tr, [wi * s for wi, s in zip(w_int, w_scale)])
    model = QuantizedMLP(
        sizes=sizes, w_float=[w.copy() for w in ws], biases=[b.copy() for b in bs], w_int=w_int,
        w_scale=w_scale, act_scale=np.array(a_sc), x_bits=x_bits, w_bits=w_bits,
        meta={"seed": int(seed), "epochs": epochs, "qat_epochs": qat_epochs, "lr": lr, "batch": batch,
              "act_percentile": act_percentile, "data": "sklearn load_digits, stratified 80/20 split, random_state 0",
              "trainer": "charz.network.mlp.train_digits_mlp"},
    )
    model.meta.update({
        "float_test_accuracy": float(accuracy(model.forward_float(xte), yte)),
        "ideal_int_test_accuracy": float(accuracy(model.forward_int(model.input_ints(xte))[0], yte)),
    })
    return model


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows of *logits* whose arg-max equals the label."""
    return float(np.mean(np.argmax(logits, axis=1) == labels))
