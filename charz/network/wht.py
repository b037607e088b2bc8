"""A frequency-domain (block Walsh-Hadamard) network for the digits data, on the WHT crossbar model.

Network (BWHT style; every transform is a hard-wired +-1 Hadamard crossbar, no weights in it)::

    a_0 = (pixels / 16 - x_offset)[perm]                     (64 features; x_offset = 0.5 by default;
                                                             perm = a fixed pixel-to-row wiring)
    for each of L blocks (default 1):
        x   = q8(g_l * a_l / s_in)                           signed 8-bit sign-magnitude, per-layer scale
                                                             (g_l = 1; trainable with input_gain=True)
        y   = WHT_R(x)                                       block WHT of size R = 16 on the crossbar
                                                             (per-plane latch, y = sum_p 2^p q_p)
        u   = ST(v * k_f * y, tau)                           per-coefficient trainable scale v and soft
                                                             threshold tau >= 0; k_f = fitted scale
        o   = k_i * WHT_R(q8(u / s_u)) / R                   inverse WHT on the crossbar (default), or
                                                             the exact digital u @ H / R
        a_{l+1} = relu(o) between blocks, o after the last   (no skip connection)
    logits = a_L @ W + b                                     dense classifier 64 -> 10, digital, float

There is no skip connection: the classifier sees only the output of the last crossbar transform, so
zeroing the transforms' outputs leaves it at chance and every crossbar error reaches it.

Why an earlier version needed a residual path (float 87.8 %, ideal 86.9 % without it, 2 blocks): (1)
the classifier was trained with Adam at 3e-3 for 60 epochs, which under-fits the quantized features
(training accuracy about 92 % where a logistic regression on the same features reaches 99 %): at
3e-2 the classifier on the v = 1, tau = 0 block (the identity in float) reaches about 93 %; (2) a ReLU
after every block, applied to the centred input (pixels / 16 - 0.5, negative on the background): at
v = 1, tau = 0 the first block returns relu(pixels / 16 - 0.5), which throws half of the input range
away (and the second block repeats it); the ReLU now sits only between blocks; (3) the row-major
pixel-to-row wiring puts two neighbouring image rows on one crossbar, so the per-plane latch sees
nearly the same +-1 pattern in every bit plane (digits pixels are mostly 0 or 16) and the 7 planes
carry little more than one sign; a fixed random wiring (``perm``) mixes the image across the tiles
(logistic regression on the quantized forward outputs: 91-92 % with row-major, 94-95 % wired at random).

The scales ``s_in``, ``s_u`` (99.9th percentile of |.| / 127) and the least-squares factors ``k_f``,
``k_i`` (so that ``k_f y`` best matches the exact linear ``a @ H`` and ``k_i WHT(q8(u))`` matches
``u @ H``) are calibrated on the training data with the ideal quantized crossbar, once per epoch.
Training (NumPy, Adam with cosine decay, softmax cross-entropy, fixed seeds) runs the forward pass
through the quantized per-plane crossbar and the backward pass with a straight-through estimator:
the gradient of the exact linear transform (``H^T``, ``H^T / R``) at the fitted scale, zero where an
input quantizer clips. The crossbar of the forward pass is the ideal one, or (hardware-aware
training, ``lut=...``) the circuit model of a ``wht_column`` LUT at one operating point: every
transform on its own simulated tiles, a new random chip (drawn from a seed stream distinct from the
chips :func:`evaluate_wht` draws) every ``chip_every`` batches, so the network learns to tolerate the
latches' offsets and the cells' deviations. An L1 penalty ``sparsity * mean |u|`` on the thresholded
coefficients grows the soft thresholds: sparse outputs, and early termination of the forward
transforms (:mod:`charz.blocks.wht.model`).

Results of the training study (``bench/wht_network_study.py``; the figures, with their conditions, are
in README, 'Signed-bit Walsh-Hadamard crossbars', "Training study"): hardware-aware training gains CiM
accuracy over weights trained on the ideal crossbar, for both latch kinds. Early termination only pays
where thresholds are large, and large thresholds cost accuracy: a larger L1 weight skips more energy and
raises output sparsity while the CiM accuracy falls; the inverse transform, which has no threshold and
thus no early termination, is about half of the energy. :data:`DEFAULT_SPARSITY` = 0.3 is the largest
weight within ~2 points of the best CiM accuracy. The shipped weights: ternary, hardware-aware on
``lut/ptm16hp/wht16`` at 0.8 V, L1 0.3, seed 0.

The soft threshold is computed in the integer domain of the crossbar output: with
``T = tau / (|v| k_f)``, ``u = v k_f sign(y) max(|y| - T, 0)`` (= ST(v k_f y, tau)), so an output is 0
exactly when ``|y| <= T`` and the crossbar's early termination never changes it.

The trained weights are shipped in ``charz/network/data/digits_wht.npz`` (``np.savez``, loaded with
``allow_pickle=False``); ``meta["trained_for"]`` says which crossbar they were trained against (mode,
LUT, VDD, mismatch scale), and ``meta["recipe"]`` the :func:`train_digits_wht` arguments that
re-train them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..blocks.wht import model as bw, model_lut as bwl, model_planes as bwp, model_trim as bwt
from ..core.errors import ParameterError
from ..core.hadamard import ORDERS
from ..core.validate import posint
from . import digits
from .mlp import WeightsError, accuracy, resolve_weights

DATA = Path(__file__).resolve().parent / "data" / "digits_wht.npz"
FORMAT = 2
N_FEATURES = 64
N_CLASSES = 10
PUBLISHED = "published: 1602 TOPS/W (5311 with early termination), 16×16, 8-bit, 0.8 V"
PUBLISHED_VDD = bwl.PUBLISHED_VDD
PUBLISHED_TOPS_W = (1602.0, 5311.0)
"""All planes / with early termination, 16x16 crossbar, 8-bit inputs, 0.8 V (arXiv 2309.01771)."""


def wht_reasons(r: dict, model=None) -> list[str]:
    """Why our TOPS/W differs from the published figures: each reason with the numbers of this run
    (LUT energy split at a typical pair, energy per evaluated column-plane, what early termination
    skipped) or the convention that differs."""
    R = r["network"]["R"]
    bits = r["network"]["bits"]
    planes = bits - 1
    ops_tr = 2 * R * R
    implied = ops_tr / (PUBLISHED_TOPS_W[0] * 1e12) / (R * planes)  # J per column-plane, all planes, our op count
    per_cp = r["energy_per_inference_no_et_J"] / max(r.get("column_planes_active_per_inference", 0) or
                                                      r["column_planes_per_inference"], 1e-30)
    out = [
        f"energy per column-plane: ours {per_cp * 1e15:.1f} fJ on average (SPICE supply charge of precharge, row-line "
        f"share, latches and clocks, from the LUT); the published {PUBLISHED_TOPS_W[0]:g} TOPS/W implies "
        f"{implied * 1e15:.2f} fJ under our op count ({ops_tr} ops per {R}x{R} transform of an {bits}-bit vector, "
        f"{planes} planes x {R} columns) -> a factor {per_cp / implied:.1f}",
    ]
    parts = r.get("energy_parts_typical_fJ")
    if parts:
        tot = sum(parts.values())
        share = ", ".join(f"{k.replace('energy_', '')} {v:.2f} fJ ({100 * v / tot:.0f} %)" for k, v in parts.items())
        w_in = r.get("lut", {}).get("latch_w_in_lmin")
        pair = f"{w_in:.0f} Lmin input pair" if w_in else "its input pair"
        cal = r.get("latch_calibration")
        trimmed = "" if not cal else (", trimmed to " + " / ".join(f"{p['error_rms_after_mV']:.1f}" for p in
                                                                   cal["latches"].values()) + " mV rms")
        out.append(f"where it goes (k+ = k- = {R // 4}): {share}. Ours is the charz StrongARM ({pair}, the "
                   f"converters' comparator design); its measured threshold sigma here is "
                   f"{r.get('latch_sigma_mV', float('nan')):.0f} mV{trimmed} against a cell swing of "
                   f"{r.get('dv_per_cell_mV', float('nan')):.0f} mV: a smaller latch saves energy but its offset grows "
                   f"as 1/sqrt(area)")
    if r["network"]["mode"] == "ternary":
        out.append("the ternary output uses two latches per column (the sign-only LUT, one latch, is cheaper per "
                   "column-plane: compare `--lut lut/<pdk>/wht16_sign`)")
    out.append(f"early termination: ours skipped {100 * r['energy_skipped_fraction']:.1f} % of the energy "
               f"({100 * r['planes_skipped_fraction_forward']:.1f} % of the forward column-planes); the inverse "
               f"transforms (half the ops) have no threshold after them, so they always run every plane; the "
               f"published 3.3x needs most outputs settled after the first planes (large thresholds): it depends on "
               f"the network and data, ours is a 64-pixel digits network trained for accuracy first")
    out.append(f"ops: {ops_tr} per transform of one vector (MACs x 2, per vector, not per bit plane); counting binary "
               f"ops per plane would multiply our TOPS/W by {planes}; the published op convention may differ")
    out.append("technology and sizing: ptm16hp (predictive 16 nm HP card; nominal 0.7 V, run at 0.8 V), our cell "
               "(2 NMOS, W = L = 4 Lmin), 1 fF of bitline wire per cell, 60 ps row pulses; not the published "
               "chip's node, layout or circuit")
    out.append("scope: only the crossbar is counted (no digital accumulation, scaling, soft threshold, classifier, "
               "data movement, leakage between operations)")
    return out
"""The published operating point: :func:`evaluate_wht` uses it when it is on the LUT's VDD grid."""
INVERSE = ("crossbar", "digital")
ACT_PERCENTILE = 99.9
T_MAX = 1e9
"""Integer threshold used for a coefficient whose scale v is 0 (its output is always 0)."""
DEFAULT_SPARSITY = 0.3
"""L1 weight of :func:`train_digits_wht`: the largest of the swept weights whose hardware-aware ternary
network stays within ~2 points of the best CiM accuracy at 0.8 V (see the module doc)."""
CHIP_STREAM = 0x5EED_C41B
"""Mixed into the training seed for the chips of hardware-aware training (never the evaluation chips)."""


def random_wiring(seed: int) -> np.ndarray:
    """The fixed pixel-to-row wiring of :func:`train_digits_wht` (a permutation of the 64 pixels)."""
    return np.random.default_rng([int(seed), 0x817E]).permutation(N_FEATURES)


@dataclasses.dataclass
class WhtNet:
    """The trained frequency-domain network (see the module doc)."""

    v: np.ndarray
    """(L, 64) per-coefficient scales."""
    tau: np.ndarray
    """(L, 64) soft thresholds >= 0 (in the units of a @ H)."""
    s_in: np.ndarray
    """(L,) input quantization scale of each forward transform."""
    k_f: np.ndarray
    """(L,) forward factor: k_f * y ~ a @ H."""
    s_u: np.ndarray
    """(L,) input quantization scale of each inverse transform."""
    k_i: np.ndarray
    """(L,) inverse factor: k_i * WHT(q8(u / s_u)) ~ u @ H."""
    w: np.ndarray
    """(64, 10) classifier weights."""
    b: np.ndarray
    """(10,) classifier bias."""
    n_rows: int = 16
    order: str = "sylvester"
    bits: int = 8
    mode: str = "ternary"
    inverse: str = "crossbar"
    relu: bool = True
    """ReLU between blocks (never after the last one)."""
    x_offset: float = 0.0
    """Subtracted from pixels / 16 before the first transform (centres the inputs)."""
    perm: np.ndarray | None = None
    """(64,) pixel feeding crossbar input i (None = row-major, the identity)."""
    g: np.ndarray | None = None
    """(L, 64) per-feature input gains applied before each forward transform's quantizer (None = 1)."""
    meta: dict = dataclasses.field(default_factory=dict)

    @property
    def n_blocks(self) -> int:
        """Number of WHT blocks (forward transforms) L."""
        return int(self.v.shape[0])

    @property
    def n_transforms(self) -> int:
        """Crossbar transforms per inference (forward, plus the inverse when it runs on the crossbar)."""
        return self.n_blocks * (2 if self.inverse == "crossbar" else 1)

    @property
    def ops_per_inference(self) -> int:
        """Crossbar ops per image: 2 R^2 per R-point transform of a vector, 64 / R blocks per transform."""
        return self.n_transforms * (N_FEATURES // self.n_rows) * 2 * self.n_rows * self.n_rows

    def thresholds(self, l: int) -> np.ndarray:
        """Integer-domain soft threshold of each output of forward transform *l*: tau / (|v| k_f)."""
        sc = np.abs(self.v[l]) * self.k_f[l]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(sc > 0, self.tau[l] / np.where(sc > 0, sc, 1.0), T_MAX)
        return np.minimum(t, T_MAX)

    def gain(self, l: int) -> np.ndarray | float:
        """Per-feature input gains of forward transform *l* (64,), or 1.0 when the network has none."""
        return 1.0 if self.g is None else self.g[l]

    def hmat(self) -> np.ndarray:
        """The 64 x 64 block-diagonal Hadamard matrix of this network's crossbar size and order (float)."""
        return bwp.block_hadamard(N_FEATURES, self.n_rows, self.order).astype(float)

    def features(self, pixels) -> np.ndarray:
        """a_0: the centred pixels in crossbar-input order."""
        a = np.asarray(pixels, dtype=float) / digits.PIXEL_MAX - self.x_offset
        return a if self.perm is None else a[:, self.perm]

    def act(self, o: np.ndarray, l: int) -> np.ndarray:
        """The block output: relu(o) between blocks (relu=True), o after the last block."""
        return np.maximum(o, 0.0) if (self.relu and l < self.n_blocks - 1) else o

    # -- inference -------------------------------------------------------------------------------------
    def forward_float(self, pixels) -> np.ndarray:
        """The unquantized network: exact linear transforms, float soft threshold."""
        a = self.features(pixels)
        hm = self.hmat()
        for l in range(self.n_blocks):
            u = bwp.soft_threshold(self.v[l] * ((self.gain(l) * a) @ hm), self.tau[l])
            a = self.act(u @ hm.T / self.n_rows, l)
        return a @ self.w + self.b

    def forward(self, pixels, transforms: Sequence[Callable] | None = None,
                early_termination: bool = False) -> tuple[np.ndarray, list]:
        """Logits and the per-transform WhtStats (None entries without accounting).

        ``transforms[i](x_int, thresholds, early_termination) -> (y, stats)`` replaces transform i
        (order: forward 0, inverse 0, forward 1, ...; the inverse only with ``inverse="crossbar"``);
        None = the ideal quantized crossbar without accounting."""
        a = self.features(pixels)
        stats = []
        hm = None
        i = 0
        for l in range(self.n_blocks):
            x = bwp.quantize_signed(self.gain(l) * a, self.s_in[l], self.bits)
            t = self.thresholds(l)
            if transforms is None:
                y, st = _ideal(self, x, t if early_termination else None)
            else:
                y, st = transforms[i](x, t, early_termination)
            i += 1
            stats.append(st)
            u = self.v[l] * self.k_f[l] * np.sign(y) * np.maximum(np.abs(y) - t, 0.0)
            if self.inverse == "crossbar":
                ui = bwp.quantize_signed(u, self.s_u[l], self.bits)
                if transforms is None:
                    z, st = _ideal(self, ui, None)
                else:
                    z, st = transforms[i](ui, None, False)
                i += 1
                stats.append(st)
                o = self.k_i[l] * z / self.n_rows
            else:
                hm = self.hmat() if hm is None else hm
                o = u @ hm.T / self.n_rows
            a = self.act(o, l)
        return a @ self.w + self.b, stats

    # -- persistence -----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the network to *path* (``.npz``, folders created; configuration and meta as JSON) and return
        the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "format": np.array(FORMAT),
            "v": self.v.astype(np.float64), "tau": self.tau.astype(np.float64),
            "s_in": self.s_in.astype(np.float64), "k_f": self.k_f.astype(np.float64),
            "s_u": self.s_u.astype(np.float64), "k_i": self.k_i.astype(np.float64),
            "w": self.w.astype(np.float64), "b": self.b.astype(np.float64),
            "g": (np.ones_like(self.v) if self.g is None else self.g).astype(np.float64),
            "perm": (np.arange(N_FEATURES) if self.perm is None else self.perm).astype(np.int64),
            "config": np.array(json.dumps({"n_rows": self.n_rows, "order": self.order, "bits": self.bits,
                                           "mode": self.mode, "inverse": self.inverse, "relu": self.relu,
                                           "x_offset": self.x_offset}, sort_keys=True)),
            "meta": np.array(json.dumps(self.meta, sort_keys=True)),
        }
        with open(p, "wb") as f:
            np.savez(f, **arrays)
        return p

    @classmethod
    def load(cls, path: str | Path | None = None) -> "WhtNet":
        """Read a network written by :meth:`save` (None = the shipped weights). Raises ``WeightsError`` for a
        missing or corrupt file, another format version, inconsistent array shapes, a wiring that is not a
        permutation or an invalid configuration."""
        p = Path(path) if path is not None else DATA
        try:
            with np.load(p, allow_pickle=False) as z:
                if int(z["format"]) != FORMAT:
                    raise WeightsError(f"WHT weights file {p} has format {int(z['format'])}, this charz reads "
                                       f"{FORMAT}: re-train with train_digits_wht()")
                cfg = json.loads(str(z["config"]))
                perm = z["perm"].astype(np.int64)
                net = cls(v=z["v"].astype(float), tau=z["tau"].astype(float), s_in=z["s_in"].astype(float),
                          k_f=z["k_f"].astype(float), s_u=z["s_u"].astype(float), k_i=z["k_i"].astype(float),
                          w=z["w"].astype(float), b=z["b"].astype(float), g=z["g"].astype(float),
                          n_rows=int(cfg["n_rows"]), order=str(cfg["order"]), bits=int(cfg["bits"]),
                          mode=str(cfg["mode"]), inverse=str(cfg["inverse"]), relu=bool(cfg["relu"]),
                          x_offset=float(cfg.get("x_offset", 0.0)),
                          perm=None if np.array_equal(perm, np.arange(perm.size)) else perm,
                          meta=json.loads(str(z["meta"])))
        except WeightsError:
            raise
        except FileNotFoundError as exc:
            raise WeightsError(f"WHT weights file {p} not found: re-train with train_digits_wht() and save it") from exc
        except Exception as exc:
            raise WeightsError(f"WHT weights file {p} is corrupt ({type(exc).__name__}: {exc}): "
                               f"re-train with train_digits_wht() and save it") from exc
        nb = net.v.shape[0] if net.v.ndim == 2 else -1
        shapes_ok = (net.v.shape == (nb, N_FEATURES) and net.tau.shape == net.v.shape and net.g.shape == net.v.shape
                     and all(a.shape == (nb,) for a in (net.s_in, net.k_f, net.s_u, net.k_i))
                     and net.w.shape == (N_FEATURES, N_CLASSES) and net.b.shape == (N_CLASSES,)
                     and perm.shape == (N_FEATURES,))
        if not shapes_ok or nb < 1:
            raise WeightsError(f"WHT weights file {p} has inconsistent array shapes: re-train with train_digits_wht()")
        if not np.array_equal(np.sort(perm), np.arange(N_FEATURES)):
            raise WeightsError(f"WHT weights file {p} has a wiring that is not a permutation of the {N_FEATURES} "
                               f"pixels: re-train with train_digits_wht()")
        if (net.order not in ORDERS or net.mode not in bwp.MODES or net.inverse not in INVERSE
                or N_FEATURES % net.n_rows or not (2 <= net.bits <= bwp.MAX_BITS)):
            raise WeightsError(f"WHT weights file {p} has an invalid configuration {cfg}: re-train with train_digits_wht()")
        return net


def load_shipped_wht() -> WhtNet:
    """The WHT network shipped with charz (``charz/network/data/digits_wht.npz``)."""
    return WhtNet.load(DATA)


# ---- the network as an ONNX model of the executor ----------------------------------------------------
def wht_onnx(net=None):
    """The WHT network (a :class:`WhtNet`, a weights path, or None = the shipped one) as an in-memory float64
    ONNX model for :func:`charz.network.engine.evaluate_model`: input ``pixels`` (N, 64), output ``logits``
    (N, 10); the preprocessing (pixels / 16) recorded under ``charz.preprocess`` as
    :func:`charz.network.engine.mlp_onnx` does. The graph (node names in brackets)::

        a   = Sub(pixels / 16, x_offset)                       [features.center]  (when x_offset != 0)
        a   = Gather(a, perm, axis=1)                          [features.wiring]  (when the wiring is not row-major)
        per block l = 1..L:
        a   = Mul(a, g_l)                                      [whtl.gain]        (when the gains are not all 1)
        y   = ai.charz.WhtCrossbar(a, T_l)                     [whtl.forward]     scale s_in, out_scale k_f
        u   = Mul(Mul(v_l k_f, Sign(y)), Max(Sub(Abs(y), T_l), 0))                 soft threshold in the integer
                                                                                  domain, T_l = net.thresholds(l)
        z   = ai.charz.WhtCrossbar(u)                          [whtl.inverse]     scale s_u, out_scale k_i
        o   = Div(Mul(z, k_i), R)                                                 (inverse "digital": MatMul by H^T)
        a   = Relu(o) between blocks, o after the last
        logits = Gemm(a, W, b)                                 [classifier]

    The fixed pixel-to-row wiring is a ``Gather`` (an index permutation: exact, no products) rather than a
    constant MatMul by a permutation matrix, which the executor would count and map as a 64 x 64 weight layer.
    The threshold ``T_l`` feeds both the soft threshold and the forward crossbar (its early-termination hint).
    Every constant is the :class:`WhtNet`'s own float64 value and the soft threshold, scaling and classifier
    are the operations :meth:`WhtNet.forward` does, in the same order: with the crossbars' integers the
    logits are those of :meth:`WhtNet.forward` bit for bit; on the float path (the crossbar operator's
    ``(X @ H) / out_scale``) they are :meth:`WhtNet.forward_float`'s to rounding (1e-12)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from . import ops_wht
    from .engine import PREPROCESS_KEY

    net, _ = _weights(net)
    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float64), name))
        return name

    def f64(name, value):  # a float64 scalar tensor attribute (ONNX float attributes are 32-bit)
        return numpy_helper.from_array(np.asarray(value, dtype=np.float64), name)

    def node(op, ins, out, name, domain=None, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=name, domain=domain, **attrs))
        return out

    a = "pixels"
    if net.x_offset:
        a = node("Sub", [a, const("x_offset", net.x_offset)], "features.centered", "features.center")
    if net.perm is not None:
        inits.append(numpy_helper.from_array(np.asarray(net.perm, dtype=np.int64), "perm"))
        a = node("Gather", [a, "perm"], "features", "features.wiring", axis=1)
    zero = const("zero", 0.0)
    r = const("n_rows", float(net.n_rows))
    xbar = dict(domain=ops_wht.DOMAIN, rows=int(net.n_rows), order=str(net.order), bits=int(net.bits),
                mode=str(net.mode))
    for l in range(net.n_blocks):
        p = f"wht{l + 1}"
        if net.g is not None and not np.all(net.g[l] == 1.0):
            a = node("Mul", [a, const(f"{p}.g", net.g[l])], f"{p}.gained", f"{p}.gain")
        t = const(f"{p}.threshold", net.thresholds(l))
        y = node(ops_wht.OP_TYPE, [a, t], f"{p}.y", f"{p}.forward", scale=f64(f"{p}.scale", net.s_in[l]),
                 out_scale=f64(f"{p}.out_scale", net.k_f[l]), **xbar)
        sgn = node("Sign", [y], f"{p}.sign", f"{p}.st.sign")
        mag = node("Abs", [y], f"{p}.abs", f"{p}.st.abs")
        dif = node("Sub", [mag, t], f"{p}.excess", f"{p}.st.sub")
        pos = node("Max", [dif, zero], f"{p}.shrunk", f"{p}.st.max")
        sc = node("Mul", [const(f"{p}.scale", net.v[l] * net.k_f[l]), sgn], f"{p}.signed_scale", f"{p}.st.scale")
        u = node("Mul", [sc, pos], f"{p}.u", f"{p}.st.mul")
        if net.inverse == "crossbar":
            z = node(ops_wht.OP_TYPE, [u], f"{p}.z", f"{p}.inverse", scale=f64(f"{p}.inverse.scale", net.s_u[l]),
                     out_scale=f64(f"{p}.inverse.out_scale", net.k_i[l]), **xbar)
            z = node("Mul", [z, const(f"{p}.k_i", net.k_i[l])], f"{p}.z_scaled", f"{p}.inverse.scale")
        else:
            z = node("MatMul", [u, const(f"{p}.h_t", net.hmat().T)], f"{p}.z_scaled", f"{p}.inverse")
        o = node("Div", [z, r], f"{p}.o", f"{p}.inverse.norm")
        a = node("Relu", [o], f"{p}.a", f"{p}.relu") if net.relu and l < net.n_blocks - 1 else o
    node("Gemm", [a, const("classifier.weight", net.w), const("classifier.bias", net.b)], "logits", "classifier")
    g = helper.make_graph(nodes, "digits_wht",
                          [helper.make_tensor_value_info("pixels", TensorProto.DOUBLE, ["N", N_FEATURES])],
                          [helper.make_tensor_value_info("logits", TensorProto.DOUBLE, ["N", N_CLASSES])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid(ops_wht.DOMAIN, ops_wht.DOMAIN_VERSION)],
                          producer_name="charz")
    meta = {PREPROCESS_KEY: {"scale": 1.0 / digits.PIXEL_MAX, "input_shape": [N_FEATURES],
                             "source": "charz.network.wht: pixels 0..16 / 16"},
            "charz.network": {"source": "charz.network.wht.wht_onnx", "trained_for": net.meta.get("trained_for"),
                              "mode_trained": net.mode}}
    for k, v in meta.items():
        e = m.metadata_props.add()
        e.key, e.value = k, json.dumps(v)
    onnx.checker.check_model(m)
    return m


# ---- helpers ---------------------------------------------------------------------------------------
_IDEAL_CACHE: dict = {}


def _ideal(net: WhtNet, x: np.ndarray, t) -> tuple[np.ndarray, None]:
    key = (x.shape[1], net.n_rows, net.order, net.bits, net.mode)
    lay = _IDEAL_CACHE.get(key)
    if lay is None:
        lay = _IDEAL_CACHE[key] = bw.WhtLayer(x.shape[1], n_rows=net.n_rows, order=net.order, bits=net.bits,
                                             mode=net.mode)
    return lay(x, thresholds=t, early_termination=t is not None, stats=False)


def _lsq(y: np.ndarray, target: np.ndarray) -> float:
    """Least-squares factor k minimizing ||k y - target||."""
    den = float(np.sum(y.astype(float) ** 2))
    return float(np.sum(y * target) / den) if den > 0 else 1.0


def _pscale(a: np.ndarray, top: int, percentile: float = ACT_PERCENTILE) -> float:
    return max(float(np.percentile(np.abs(a), percentile)), 1e-6) / top


def _seed(seed, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"{name} must be an integer >= 0, got {seed!r}")
    return int(seed)


# ---- training --------------------------------------------------------------------------------------
def train_digits_wht(
    seed: int = 0,
    blocks: int = 1,
    n_rows: int = 16,
    bits: int = 8,
    mode: str = "ternary",
    inverse: str = "crossbar",
    relu: bool = True,
    order: str = "sylvester",
    epochs: int = 60,
    batch: int = 64,
    lr: float = 3e-3,
    lr_classifier: float = 3e-2,
    weight_decay: float = 1e-4,
    x_offset: float = 0.5,
    wiring: str = "random",
    cosine: bool = True,
    percentile: float = ACT_PERCENTILE,
    sparsity: float = DEFAULT_SPARSITY,
    input_gain: bool = False,
    lut=None,
    vdd: float | None = PUBLISHED_VDD,
    temp: float | None = None,
    t_pulse: float | None = None,
    mismatch_scale: float = 1.0,
    chip_every: int = 4,
    verbose: bool = False,
) -> WhtNet:
    """Train the digits WHT network from *seed* (see the module doc); deterministic for a given seed,
    arguments and NumPy build.

    ``lut`` None: the forward passes run through the ideal quantized crossbar. ``lut`` a ``wht_column``
    LUT (object or path): hardware-aware training, the forward passes run through the circuit model at
    (vdd, temp, t_pulse) with ``mismatch_scale`` in *mode*, a new simulated chip every ``chip_every``
    batches (chips drawn from ``[seed, CHIP_STREAM]``, never those of :func:`evaluate_wht`); the
    backward pass is the same straight-through estimator. ``wiring`` "random" (the fixed permutation
    :func:`random_wiring` (seed)) or "rows" (row-major). Returns the network; ``meta`` holds the float
    (unquantized) and ideal quantized test accuracies, the training CPU time, what it was trained for
    and the arguments (``recipe``).
    """
    seed = _seed(seed)
    for val, name in ((blocks, "blocks"), (epochs, "epochs"), (batch, "batch"), (chip_every, "chip_every")):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ParameterError(f"{name} must be a positive integer, got {val!r}")
    bwp.check_rows(n_rows)
    if N_FEATURES % n_rows:
        raise ParameterError(f"the crossbar size R = {n_rows} must divide the {N_FEATURES} features")
    bits = bwp.check_bits(bits)
    bwp.check_mode(mode)
    if inverse not in INVERSE:
        raise ParameterError(f"inverse must be 'crossbar' or 'digital', got {inverse!r}")
    if order not in ORDERS:
        raise ParameterError(f"unknown Hadamard ordering {order!r}: choose one of {', '.join(ORDERS)}")
    if wiring not in ("random", "rows"):
        raise ParameterError(f"wiring must be 'random' or 'rows', got {wiring!r}")
    for val, name in ((lr, "lr"), (lr_classifier, "lr_classifier"), (weight_decay, "weight_decay"),
                      (sparsity, "sparsity")):
        if not (isinstance(val, (int, float, np.floating)) and np.isfinite(val) and val >= 0):
            raise ParameterError(f"{name} must be a number >= 0, got {val!r}")
    recipe = {"seed": seed, "blocks": int(blocks), "n_rows": n_rows, "bits": bits, "mode": mode, "inverse": inverse,
              "relu": bool(relu), "order": order, "epochs": int(epochs), "batch": int(batch), "lr": lr,
              "lr_classifier": lr_classifier, "weight_decay": weight_decay, "x_offset": float(x_offset),
              "wiring": wiring, "cosine": bool(cosine), "percentile": percentile, "sparsity": sparsity,
              "input_gain": bool(input_gain)}
    model = None
    trained_for = {"crossbar": "ideal quantized per-plane crossbar (no LUT)", "mode": mode}
    if lut is not None:
        lut_obj, source = bwl.load_wht_lut(lut)
        model = bw.WhtModel.from_lut(lut_obj, vdd=vdd, temp=temp, t_pulse=t_pulse, mismatch_scale=mismatch_scale)
        if model.n_rows != n_rows:
            raise ParameterError(f"n_rows={n_rows} but the LUT's crossbar has R = {model.n_rows} rows")
        model.check_mode(mode)
        trained_for = {"crossbar": "circuit model (hardware-aware: forward through per-chip mismatch, "
                                   "straight-through backward)", "mode": mode,
                       "lut": wht_lut_summary(lut_obj, source), "operating_point": dict(model.coords),
                       "mismatch_scale": float(model.mismatch_scale), "chip_every": int(chip_every),
                       "chips_drawn_from": f"numpy default_rng([seed, {CHIP_STREAM:#x}])"}
        recipe.update({"lut": source or "given LUT object", "vdd": model.coords.get("vdd"),
                       "temp": model.coords.get("temp"), "t_pulse": model.coords.get("t_pulse"),
                       "mismatch_scale": float(model.mismatch_scale), "chip_every": int(chip_every)})
    t0 = time.process_time()
    xtr, ytr, xte, yte = digits.load()
    rng = np.random.default_rng(seed)
    chip_rng = np.random.default_rng([seed, CHIP_STREAM])
    top = bwp.max_int(bits)
    L = int(blocks)
    hm = bwp.block_hadamard(N_FEATURES, n_rows, order).astype(float)
    net = WhtNet(
        v=np.ones((L, N_FEATURES)), tau=np.zeros((L, N_FEATURES)), s_in=np.ones(L), k_f=np.ones(L),
        s_u=np.ones(L), k_i=np.ones(L),
        w=rng.standard_normal((N_FEATURES, N_CLASSES)) * np.sqrt(1.0 / N_FEATURES), b=np.zeros(N_CLASSES),
        n_rows=n_rows, order=order, bits=bits, mode=mode, inverse=inverse, relu=bool(relu),
        x_offset=float(x_offset), perm=random_wiring(seed) if wiring == "random" else None,
    )
    net.g = np.ones((L, N_FEATURES))
    params = [net.v, net.tau, net.w, net.b, net.g]
    lrs = [lr, lr, lr_classifier, lr_classifier, lr if input_gain else 0.0]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    step = 0
    x0 = net.features(xtr)
    n_tf = net.n_transforms
    layers: list | None = None

    def transform(i: int, x: np.ndarray) -> np.ndarray:
        if layers is None:
            return _ideal(net, x, None)[0]
        return layers[i](x, stats=False)[0]

    def calibrate():
        """Scales and least-squares factors on the whole training set (ideal crossbar), block by block."""
        a = x0
        for l in range(L):
            ag = net.g[l] * a
            net.s_in[l] = _pscale(ag, top, percentile)
            y, _ = _ideal(net, bwp.quantize_signed(ag, net.s_in[l], bits), None)
            net.k_f[l] = _lsq(y, ag @ hm)
            t = net.thresholds(l)
            u = net.v[l] * net.k_f[l] * np.sign(y) * np.maximum(np.abs(y) - t, 0.0)
            if inverse == "crossbar":
                net.s_u[l] = _pscale(u, top, percentile)
                z, _ = _ideal(net, bwp.quantize_signed(u, net.s_u[l], bits), None)
                net.k_i[l] = _lsq(z, u @ hm.T)
                o = net.k_i[l] * z / n_rows
            else:
                o = u @ hm.T / n_rows
            a = net.act(o, l)

    for ep in range(epochs):
        calibrate()
        decay = 0.5 * (1 + np.cos(np.pi * ep / epochs)) if cosine else 1.0
        order_idx = rng.permutation(x0.shape[0])
        for s0 in range(0, order_idx.size, batch):
            if model is not None and step % chip_every == 0:  # a new simulated chip
                layers = [bw.WhtLayer(N_FEATURES, model=model, bits=bits, mode=mode, order=order, seed=chip_rng)
                          for _ in range(n_tf)]
            idx = order_idx[s0:s0 + batch]
            a = x0[idx]
            cache = []
            i = 0
            for l in range(L):
                ag = net.g[l] * a
                xi = bwp.quantize_signed(ag, net.s_in[l], bits)
                clip_in = np.abs(ag) <= net.s_in[l] * (top + 0.5)
                y = transform(i, xi)
                i += 1
                yh = net.k_f[l] * y  # ~ a @ H
                z = net.v[l] * yh
                t = net.thresholds(l)
                keep = np.abs(y) > t
                u = np.where(keep, np.sign(z) * (np.abs(z) - net.tau[l]), 0.0)
                if inverse == "crossbar":
                    ui = bwp.quantize_signed(u, net.s_u[l], bits)
                    clip_u = np.abs(u) <= net.s_u[l] * (top + 0.5)
                    o = net.k_i[l] * transform(i, ui) / n_rows
                    i += 1
                else:
                    clip_u = None
                    o = u @ hm.T / n_rows
                cache.append((a, clip_in, yh, z, keep, clip_u, o))
                a = net.act(o, l)
            logits = a @ net.w + net.b
            zl = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(zl)
            p /= p.sum(axis=1, keepdims=True)
            g = p
            g[np.arange(idx.size), ytr[idx]] -= 1
            g /= idx.size
            gw = a.T @ g + weight_decay * net.w
            gb = g.sum(axis=0)
            ga = g @ net.w.T
            gv = np.zeros_like(net.v)
            gg = np.zeros_like(net.v)
            gt = np.zeros_like(net.tau)
            for l in reversed(range(L)):
                a_in, clip_in, yh, z, keep, clip_u, o = cache[l]
                go = ga * (o > 0) if (relu and l < L - 1) else ga
                gu = go @ hm / n_rows  # STE: d(u @ H^T / R) / du (H^T of the inverse)
                if clip_u is not None:
                    gu = gu * clip_u
                if sparsity:  # L1 penalty sparsity * mean |u| on the thresholded coefficients
                    gu = gu + sparsity * np.sign(z) * keep / z.size
                gz = gu * keep
                gt[l] = -np.sum(gu * np.sign(z) * keep, axis=0)
                gv[l] = np.sum(gz * yh, axis=0)
                gx = (gz * net.v[l]) @ hm.T  # STE: d(ag @ H) / d(ag)
                gx = gx * clip_in
                gg[l] = np.sum(gx * a_in, axis=0)
                ga = gx * net.g[l]
            step += 1
            for j, gr in enumerate((gv, gt, gw, gb, gg)):
                m1[j] = 0.9 * m1[j] + 0.1 * gr
                m2[j] = 0.999 * m2[j] + 0.001 * gr * gr
                mh = m1[j] / (1 - 0.9**step)
                vh = m2[j] / (1 - 0.999**step)
                params[j] -= decay * lrs[j] * mh / (np.sqrt(vh) + 1e-8)
            np.maximum(net.tau, 0.0, out=net.tau)
        if verbose:
            print(f"epoch {ep + 1}: ideal test {accuracy(net.forward(xte)[0], yte):.4f}  "
                  f"train {accuracy(net.forward(xtr)[0], ytr):.4f}")
    calibrate()
    cpu = round(time.process_time() - t0, 2)
    net.meta = {
        **{k: recipe[k] for k in ("seed", "epochs", "batch", "lr", "lr_classifier", "weight_decay", "blocks",
                                  "mode", "bits", "order", "inverse", "relu", "x_offset", "wiring")},
        "R": n_rows, "cosine_lr": bool(cosine), "scale_percentile": percentile, "sparsity_l1": sparsity,
        "input_gain": bool(input_gain), "skip_connection": False,
        "data": "sklearn load_digits, stratified 80/20 split, random_state 0",
        "trainer": "charz.network.wht.train_digits_wht",
        "training": "forward through the " + ("circuit model of the LUT (a new simulated chip every "
                                              f"{chip_every} batches)" if model is not None else
                                              "ideal quantized per-plane crossbar")
                    + ", backward straight-through (exact linear transform at the fitted scale)",
        "trained_for": trained_for,
        "recipe": recipe,
        "float_test_accuracy": float(accuracy(net.forward_float(xte), yte)),
        "ideal_test_accuracy": float(accuracy(net.forward(xte)[0], yte)),
        "ideal_train_accuracy": float(accuracy(net.forward(xtr)[0], ytr)),
        "train_cpu_s": cpu,
    }
    return net


# ---- evaluation on the crossbar model ---------------------------------------------------------------
DEFAULT_CHIPS = 3
DEFAULT_SCALES = (0.0, 0.5, 1.0, 2.0, 4.0)


def default_mode(lut) -> str:
    """The latch mode of a ``wht_column`` LUT: "ternary" for the latch pair, "sign" for the sign latch."""
    lut, _ = bwl.load_wht_lut(lut)
    tern = lut.conditions.get("ternary")
    if tern is None:
        tern = "thr_pos_mean" in lut.tables
    return "ternary" if tern else "sign"


def _weights(weights) -> tuple[WhtNet, str]:
    return resolve_weights(weights, WhtNet, load_shipped_wht, "shipped charz/network/data/digits_wht.npz")




def wht_lut_summary(lut, source: str | None = None) -> dict:
    """The provenance fields a WHT report needs."""
    p = lut.provenance
    keys = ("pdk", "card_file", "card_sha256", "node_nm", "vdd_nom", "avt_mv_um", "mc_samples", "mc_seed",
            "generator", "ngspice_version", "charz_version", "date", "synthetic", "note")
    out = {k: p[k] for k in keys if k in p}
    out["block"] = lut.block
    for k in ("n_rows", "n_cols", "ternary", "order"):
        if k in lut.conditions:
            out[k] = lut.conditions[k]
    out["axes"] = {a.name: [float(a.values[0]), float(a.values[-1]), int(a.values.size)] for a in lut.axes}
    latch = (p.get("parameters") or {}).get("latch") or {}
    if latch.get("w_in") and p.get("node_nm"):
        out["latch_w_in_lmin"] = float(latch["w_in"]) / (float(p["node_nm"]) * 1e-9)
    if source:
        out["source"] = source
    return out


def _transform_names(net: WhtNet) -> list[str]:
    names = []
    for l in range(net.n_blocks):
        names.append(f"wht{l + 1} forward")
        if net.inverse == "crossbar":
            names.append(f"wht{l + 1} inverse")
    return names


def _run(net: WhtNet, pixels, layers: list, early_termination: bool):
    """Logits and the per-transform stats with the given WhtLayers (one per crossbar transform)."""
    def make(lay):
        def f(x, t, et):
            return lay(x, thresholds=t, early_termination=et and t is not None)
        return f
    return net.forward(pixels, [make(lay) for lay in layers], early_termination=early_termination)


def _sum_stats(stats: list, idx: Sequence[int] | None = None):
    sel = stats if idx is None else [stats[i] for i in idx]
    tot = bwp.WhtStats(bits=sel[0].bits, n_rows=sel[0].n_rows)
    for s in sel:
        tot += s
    return tot


def evaluate_wht(
    lut,
    weights=None,
    *,
    vdd: float | None = None,
    temp: float | None = None,
    t_pulse: float | None = None,
    mode: str | None = None,
    early_termination: bool = True,
    chips: int = DEFAULT_CHIPS,
    mismatch_scale: float = 1.0,
    n_images: int | None = None,
    seed: int = 0,
    latch_calibration: str = "none",
    trim_lut=None,
) -> dict:
    """Evaluate the WHT network on the crossbar model of a ``wht_column`` LUT (object or path).

    Accuracy on the fixed digits test split: float (unquantized), ideal (quantized, noiseless crossbar)
    and CiM on ``chips`` simulated chips drawn from ``seed`` (every crossbar transform of the network
    has its own tiles and mismatch, fixed per chip), mean / min / max. Energy per inference = the
    crossbar column evaluations only (see :data:`charz.blocks.wht.model_planes.CONVENTIONS`), with and without
    early termination (the same run: early termination never changes a soft-thresholded output, so
    "without" is the energy of every active column-plane). ``vdd`` None = the published 0.8 V when it is
    on the LUT's VDD grid (:func:`charz.blocks.wht.model_lut.published_vdd`), else the LUT's rule (:meth:`WhtModel.from_lut`);
    ``mode`` None = the LUT's latch (:func:`default_mode`: a ternary LUT runs "ternary", a sign LUT
    "sign"), whatever the network was trained for (``network["mode_trained"]`` says that). ``latch_calibration``
    ``"trim"``: every latch gets the trim DAC of the comparator trim LUT ``trim_lut`` (path or LUT, characterized
    at this VDD; None: ``<pdk>/comparator_trim``) and every chip calibrates its thresholds before it runs
    (:mod:`charz.blocks.wht.model_trim`); the result's ``latch_calibration`` has the errors before / after, the
    cost and the assumptions. Raises
    LUTError / ParameterError with a one-line message.
    """
    lut, source = bwl.load_wht_lut(lut)
    net, wsource = _weights(weights)
    mode = default_mode(lut) if mode is None else bwp.check_mode(mode)
    vdd_choice = None
    if vdd is None:
        vdd = bwl.published_vdd(lut)
        vdd_choice = "published 0.8 V (on the LUT grid)" if vdd is not None else None
    chips = posint(chips, "chips", 10_000)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(early_termination, bool):
        raise ParameterError(f"early_termination must be True or False, got {early_termination!r}")
    model = bw.WhtModel.from_lut(lut, vdd=vdd, temp=temp, t_pulse=t_pulse, mismatch_scale=mismatch_scale)
    if vdd_choice:
        model.choices["vdd"] = vdd_choice
    if model.n_rows != net.n_rows:
        raise ParameterError(f"the network uses {net.n_rows}x{net.n_rows} crossbars but the LUT is for R = "
                             f"{model.n_rows}: use a LUT characterized with n_rows={net.n_rows} or re-train with "
                             f"n_rows={model.n_rows}")
    model.check_mode(mode)
    model = bwt.with_latch_calibration(model, latch_calibration, trim_lut)
    _, _, xte, yte = digits.load()
    if n_images is not None:
        n_images = posint(n_images, "n_images", xte.shape[0])
        xte, yte = xte[:n_images], yte[:n_images]
    b = xte.shape[0]
    names = _transform_names(net)
    fwd = [i for i, n in enumerate(names) if n.endswith("forward")]
    nt = len(names)
    mk = dict(bits=net.bits, mode=mode, order=net.order)

    float_acc = accuracy(net.forward_float(xte), yte)
    ideal_layers = [bw.WhtLayer(N_FEATURES, model=model, ideal=True, **mk) for _ in range(nt)]
    lg_ideal, st_ideal = _run(net, xte, ideal_layers, early_termination)
    ideal_acc = accuracy(lg_ideal, yte)
    ideal_tot = _sum_stats(st_ideal)

    accs, per_chip, disagree, calib = [], [], [], []
    for child in np.random.SeedSequence(int(seed)).spawn(chips):
        rng = np.random.default_rng(child)
        layers = [bw.WhtLayer(N_FEATURES, model=model, seed=rng, **mk) for _ in range(nt)]
        calib += [lay.chip.calibration for lay in layers if lay.chip is not None and lay.chip.calibration]
        lg, st = _run(net, xte, layers, early_termination)
        accs.append(accuracy(lg, yte))
        disagree.append(float(np.mean(np.argmax(lg, 1) != np.argmax(lg_ideal, 1))))
        per_chip.append(st)
    tot = [_sum_stats(st) for st in per_chip]
    ftot = [_sum_stats(st, fwd) for st in per_chip]
    ops = net.ops_per_inference
    e_et = float(np.mean([t.energy for t in tot])) / b
    e_no = float(np.mean([t.energy_no_et for t in tot])) / b
    e_used = e_et if early_termination else e_no
    hist_f = np.sum([t.planes_hist for t in ftot], axis=0)
    accs_a = np.array(accs)
    op = model.describe()
    summ = [t.summary() for t in tot]
    fsum = [t.summary() for t in ftot]
    return {
        "float_accuracy": float_acc,
        "ideal_accuracy": ideal_acc,
        "cim_accuracy_mean": float(accs_a.mean()),
        "cim_accuracy_min": float(accs_a.min()),
        "cim_accuracy_max": float(accs_a.max()),
        "cim_accuracy_per_chip": accs,
        "cim_disagreement_with_ideal": float(np.mean(disagree)),
        "early_termination": early_termination,
        "energy_per_inference_J": e_used,
        "energy_per_inference_et_J": e_et,
        "energy_per_inference_no_et_J": e_no,
        "energy_per_inference_ideal_et_J": ideal_tot.energy / b,
        "energy_per_inference_ideal_no_et_J": ideal_tot.energy_no_et / b,
        "energy_per_transform_J": {n: float(np.mean([st[i].energy for st in per_chip])) / b
                                   for i, n in enumerate(names)},
        "energy_per_transform_no_et_J": {n: float(np.mean([st[i].energy_no_et for st in per_chip])) / b
                                         for i, n in enumerate(names)},
        "ops_per_inference": ops,
        "tops_per_watt": ops / e_used / 1e12,
        "tops_per_watt_et": ops / e_et / 1e12,
        "tops_per_watt_no_et": ops / e_no / 1e12,
        "planes_skipped_fraction": float(np.mean([s["planes_skipped_fraction"] for s in summ])),
        "planes_skipped_fraction_forward": float(np.mean([s["planes_skipped_fraction"] for s in fsum])),
        "energy_skipped_fraction": 1.0 - e_et / e_no if e_no else 0.0,
        "zero_plane_fraction": float(np.mean([s["zero_plane_fraction"] for s in summ])),
        "output_sparsity": float(np.mean([s["output_sparsity"] for s in fsum])),
        "ternary_zero_fraction": float(np.mean([s["ternary_zero_fraction"] for s in summ])),
        "planes_evaluated_hist_forward": hist_f.tolist(),  # summed over chips and forward transforms
        "planes_evaluated_hist_forward_fraction": (hist_f / max(hist_f.sum(), 1)).tolist(),
        "column_planes_per_inference": float(np.mean([t.evaluated for t in tot])) / b,
        "column_planes_active_per_inference": float(np.mean([t.active for t in tot])) / b,
        "energy_parts_typical_fJ": {k: float(v[model.n_rows // 4, model.n_rows // 4]) * 1e15
                                    for k, v in model.energy_parts.items() if k != "energy"},
        "dv_per_cell_mV": float(model.scalars.get("dv_per_cell", float("nan"))) * 1e3,
        "latch_sigma_mV": float(np.mean([model.scalars[k] for k in ("offset_sigma", "thr_pos_sigma", "thr_neg_sigma")
                                         if k in model.scalars] or [np.nan])) * 1e3,
        "transforms": names,
        "operating_point": op,
        "lut": wht_lut_summary(lut, source),
        "network": {"blocks": net.n_blocks, "R": net.n_rows, "bits": net.bits, "mode_trained": net.mode,
                    "mode": mode, "inverse": net.inverse, "skip_connection": False, "relu": net.relu,
                    "wiring": "row-major" if net.perm is None else "fixed permutation",
                    "trained_for": net.meta.get("trained_for"),
                    "weights": wsource, "seed": net.meta.get("seed"),
                    "recorded_ideal_accuracy": net.meta.get("ideal_test_accuracy")},
        "conventions": {
            **bwp.CONVENTIONS,
            "ops_per_inference": f"{len(names)} crossbar transforms x {N_FEATURES // net.n_rows} blocks x "
                                 f"2 x {net.n_rows}^2 = {ops} ops"
                                 + ("" if net.inverse == "crossbar" else " (the digital inverse is not counted)"),
            "accuracy": f"digits test split ({b} images); CiM = mean / min / max over {chips} simulated chips",
            "mismatch": "per chip and column: latch offset and ternary thresholds; per cell transistor a dV "
                        "deviation; sigmas x mismatch_scale; dV table = dv + scale x (dv_mean - dv)",
        },
        "published": PUBLISHED,
        "published_tops_per_watt": {"all_planes": PUBLISHED_TOPS_W[0], "early_termination": PUBLISHED_TOPS_W[1]},
        "n_images": b,
        "chips": chips,
        "seed": int(seed),
        "latch_calibration": _latch_calibration(model, mode, calib, nt * (N_FEATURES // model.n_rows)),
    }


def _latch_calibration(model, mode: str, reports: list[dict], tiles: int) -> dict | None:
    """The chips' latch calibration summed over chips and transforms (None without a trim): per latch kind
    the rms threshold error to the window centre before / after, the latches outside their window before /
    after, those no code could reach; the trim and the calibration's cost per chip."""
    if model.trim is None:
        return None
    per = {}
    for name in bwt.latches(mode):
        rs = [r[name] for r in reports]
        n = sum(r["latches"] for r in rs)
        rms = lambda k: float(np.sqrt(sum(r[k] ** 2 * r["latches"] for r in rs) / n))  # noqa: E731
        per[name] = {"latches": n, "error_rms_before_mV": 1e3 * rms("error_rms_before_V"),
                     "error_rms_after_mV": 1e3 * rms("error_rms_after_V"),
                     "error_max_after_mV": 1e3 * max(r["error_max_after_V"] for r in rs),
                     "outside_window_before": sum(r["outside_window_before"] for r in rs),
                     "outside_window_after": sum(r["outside_window_after"] for r in rs),
                     "unreachable": sum(r["unreachable"] for r in rs),
                     "window_mV": 1e3 * float(np.mean([r["window_V"] for r in rs]))}
    return {"latches": per, "trim": model.trim.describe(), "cost_per_chip": bwt.calibration_cost(model, mode, tiles),
            "trim_energy_per_column_plane_J": bwt.trim_energy_per_column_plane(model, mode),
            "procedure": bwt.PROCEDURE, "assumptions": list(bwt.ASSUMPTIONS)}


def accuracy_vs_mismatch_wht(lut, scales: Sequence[float] = DEFAULT_SCALES, *, chips: int = DEFAULT_CHIPS,
                             seed: int = 0, **kwargs) -> dict:
    """:func:`evaluate_wht` at each mismatch scale (same seed: the same chips with larger deviations)."""
    lut, source = bwl.load_wht_lut(lut)
    try:
        scales = [float(s) for s in scales]
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"scales must be a list of numbers, got {scales!r}") from exc
    if not scales:
        raise ParameterError("give at least one mismatch scale")
    res = [evaluate_wht(lut, mismatch_scale=s, chips=chips, seed=seed, **kwargs) for s in scales]
    return _sweep("mismatch_scale", scales, res, wht_lut_summary(lut, source))


def accuracy_vs_vdd_wht(lut, vdds: Sequence[float] | None = None, *, chips: int = DEFAULT_CHIPS, seed: int = 0,
                        **kwargs) -> dict:
    """:func:`evaluate_wht` at each VDD (None = every VDD of the LUT grid): accuracy, energy, TOPS/W."""
    lut, source = bwl.load_wht_lut(lut)
    grid = lut.axis("vdd").values
    vdds = [float(v) for v in (grid if vdds is None else vdds)]
    if not vdds:
        raise ParameterError("give at least one VDD")
    for v in vdds:
        if not np.any(np.isclose(grid, v, rtol=0, atol=1e-9)):
            raise ParameterError(f"vdd={v:g} V is not on the {bwl.BLOCK} LUT grid {grid.tolist()}: use grid values")
    res = [evaluate_wht(lut, vdd=v, chips=chips, seed=seed, **kwargs) for v in vdds]
    return _sweep("vdd", vdds, res, wht_lut_summary(lut, source))


def _sweep(name: str, values: list, res: list[dict], lut: dict) -> dict:
    return {
        "swept": name,
        "values": values,
        "cim_mean": [r["cim_accuracy_mean"] for r in res],
        "cim_min": [r["cim_accuracy_min"] for r in res],
        "cim_max": [r["cim_accuracy_max"] for r in res],
        "ideal_accuracy": [r["ideal_accuracy"] for r in res],
        "float_accuracy": res[0]["float_accuracy"],
        "energy_per_inference_et_J": [r["energy_per_inference_et_J"] for r in res],
        "energy_per_inference_no_et_J": [r["energy_per_inference_no_et_J"] for r in res],
        "tops_per_watt_et": [r["tops_per_watt_et"] for r in res],
        "tops_per_watt_no_et": [r["tops_per_watt_no_et"] for r in res],
        "planes_skipped_fraction": [r["planes_skipped_fraction"] for r in res],
        "lut": lut,
        "chips": res[0]["chips"],
        "n_images": res[0]["n_images"],
        "results": res,
    }


def _trained_for_text(tf: dict | None) -> str:
    if not tf:
        return "unknown"
    if "lut" not in tf:
        return f"the ideal quantized crossbar ({tf.get('mode', '?')} latch)"
    lut, op = tf["lut"], tf.get("operating_point", {})
    where = lut.get("source") or lut.get("pdk", "?")
    return (f"the circuit model of {where} ({lut.get('pdk', '?')}, {tf.get('mode', '?')} latch) at "
            f"vdd={op.get('vdd', float('nan')):g} V, mismatch scale {tf.get('mismatch_scale', float('nan')):g} "
            f"(hardware-aware)")


def format_wht(r: dict) -> str:
    """A readable report of one :func:`evaluate_wht` result."""
    op, net, lut = r["operating_point"], r["network"], r["lut"]
    syn = " (SYNTHETIC LUT: no circuit figures)" if lut.get("synthetic") else ""
    pct = lambda x: f"{100 * x:6.2f} %"  # noqa: E731
    lines = [
        f"digits WHT network: {net['blocks']} block{'s' if net['blocks'] != 1 else ''} of {net['R']}x{net['R']} crossbars, {net['bits']}-bit "
        f"sign-magnitude inputs, {net['mode']} latch"
        f" (trained for {net['mode_trained']}), inverse on the {net['inverse']}, no skip connection",
        f"  LUT: {lut.get('pdk', '?')} {lut['block']} (R={lut.get('n_rows')}, {lut.get('mc_samples', 0)} MC samples)"
        f"{' from ' + lut['source'] if 'source' in lut else ''}{syn}",
        f"  operating point: vdd={op.get('vdd', float('nan')):g} V, temp={op.get('temp', float('nan')):g} degC, "
        f"t_pulse={op.get('t_pulse', float('nan')):.3g} s; mismatch scale {op['mismatch_scale']:g}",
        f"  weights trained against: {_trained_for_text(net.get('trained_for'))}",
        f"  {'float (unquantized)':<34} {pct(r['float_accuracy'])}",
        f"  {'ideal (quantized, noiseless)':<34} {pct(r['ideal_accuracy'])}",
    ]
    lines += [
        f"  {'CiM (per-chip mismatch)':<34} {pct(r['cim_accuracy_mean'])}  (min {100 * r['cim_accuracy_min']:.2f}, "
        f"max {100 * r['cim_accuracy_max']:.2f}; {r['chips']} chips, {r['n_images']} images)",
        f"  energy / inference (crossbar only)  {r['energy_per_inference_et_J'] * 1e12:8.3f} pJ with early "
        f"termination, {r['energy_per_inference_no_et_J'] * 1e12:8.3f} pJ without",
    ]
    if r.get("latch_calibration"):
        lines += format_latch_calibration(r["latch_calibration"])
    for n, e in r["energy_per_transform_J"].items():
        lines.append(f"    {n:<32} {e * 1e12:8.3f} pJ  (without ET {r['energy_per_transform_no_et_J'][n] * 1e12:.3f} pJ)")
    h = r["planes_evaluated_hist_forward_fraction"]
    lines += [
        f"  {'ops / inference':<34} {r['ops_per_inference']}  ({r['conventions']['ops_per_inference']})",
        f"  {'TOPS/W':<34} {r['tops_per_watt_et']:8.1f} with early termination, {r['tops_per_watt_no_et']:.1f} without",
        f"  {'':<34} {PUBLISHED}",
        f"  {'column-planes skipped by ET':<34} {pct(r['planes_skipped_fraction'])} of active (forward transforms "
        f"{100 * r['planes_skipped_fraction_forward']:.2f} %); energy skipped {100 * r['energy_skipped_fraction']:.2f} %",
        f"  {'all-zero planes (skipped, 0 J)':<34} {pct(r['zero_plane_fraction'])} of column-plane slots",
        f"  {'output sparsity after threshold':<34} {pct(r['output_sparsity'])}; zero ternary results "
        f"{100 * r['ternary_zero_fraction']:.2f} % of evaluated column-planes",
        "  planes evaluated per forward column: " + ", ".join(f"{i}: {100 * f:.1f}%" for i, f in enumerate(h)),
        f"  {'ours / published TOPS/W':<34} {r['tops_per_watt_no_et'] / PUBLISHED_TOPS_W[0]:.3f} (all planes), "
        f"{r['tops_per_watt_et'] / PUBLISHED_TOPS_W[1]:.3f} (early termination); why they differ:",
        *[f"    - {x}" for x in wht_reasons(r)],
        "  conventions:",
        f"    ops: {bwp.CONVENTIONS['ops']}",
        f"    energy: {bwp.CONVENTIONS['energy']}",
        f"    not counted: {bwp.CONVENTIONS['digital']}",
        f"    {bwp.CONVENTIONS['tops_per_watt']}",
    ]
    return "\n".join(lines)


def format_latch_calibration(c: dict) -> list[str]:
    """The report lines of a latch calibration (:func:`evaluate_wht`'s ``latch_calibration``)."""
    t, cost = c["trim"], c["cost_per_chip"]
    out = [f"  latch trim: {t['bits']}-bit DAC per latch, step {1e3 * t['step_V']:.2f} mV, range "
           f"{1e3 * t['range_V'][0]:.0f}..{1e3 * t['range_V'][1]:.0f} mV ({t['mc_samples']} MC instances; {t['lut']})"]
    for name, p in c["latches"].items():
        what = {"thr_pos": "upper latch", "thr_neg": "lower latch", "offset": "sign latch"}[name]
        out.append(f"    {what}: error to the window centre {p['error_rms_before_mV']:.1f} -> {p['error_rms_after_mV']:.1f} mV "
                   f"rms (max after {p['error_max_after_mV']:.1f}; window {p['window_mV']:.1f} mV); outside the window "
                   f"{p['outside_window_before']} -> {p['outside_window_after']} of {p['latches']}; unreachable "
                   f"{p['unreachable']}")
    out.append(f"    cost: +{1e15 * c['trim_energy_per_column_plane_J']:.3f} fJ per column-plane; calibration "
               f"{cost['cycles']} cycles = {1e9 * cost['time_s']:.3g} ns, {1e12 * cost['energy_J']:.4g} pJ per chip; "
               f"{cost['area_units_per_column']:.0f} minimum-transistor units per column")
    return out


def format_wht_sweep(s: dict) -> str:
    """A small table of :func:`accuracy_vs_mismatch_wht` / :func:`accuracy_vs_vdd_wht`."""
    lines = [f"WHT network vs {s['swept']} ({s['chips']} chips, {s['n_images']} images); float "
             f"{100 * s['float_accuracy']:.2f} %",
             f"  {s['swept']:>14} {'ideal [%]':>10} {'CiM mean [min..max] [%]':>26} {'E ET [pJ]':>10} "
             f"{'E no ET [pJ]':>12} {'TOPS/W ET':>10} {'no ET':>8}"]
    for i, v in enumerate(s["values"]):
        lines.append(f"  {v:>14g} {100 * s['ideal_accuracy'][i]:>10.2f} {100 * s['cim_mean'][i]:>10.2f} "
                     f"[{100 * s['cim_min'][i]:.2f}..{100 * s['cim_max'][i]:.2f}] "
                     f"{s['energy_per_inference_et_J'][i] * 1e12:>10.3f} {s['energy_per_inference_no_et_J'][i] * 1e12:>12.3f} "
                     f"{s['tops_per_watt_et'][i]:>10.1f} {s['tops_per_watt_no_et'][i]:>8.1f}")
    return "\n".join(lines)
