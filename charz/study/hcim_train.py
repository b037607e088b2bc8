"""HCiM quantization-aware training (PyTorch, the optional training extra) and its evaluation on the executor.

Training: every weight layer the executor maps to the CiM column is replaced by :class:`HcimLayer`: activations
and weights fake-quantized (x_bits unsigned with a fixed scale calibrated on training images, w_bits signed per
output channel), the product's **value** the HCiM read-out ``sum 2^(p+s) alpha[s, t, n] q`` (q the nominal
latch decisions of the ``wht_column`` LUT for every (k+, k-), :mod:`charz.study.hcim`), its **gradient** to the
weights and activations that of the fake-quantized exact product (straight-through), to alpha the read-out's own.
alpha starts at the least-squares scales of the first batch.

Evaluation: the trained weights go back into the model's ONNX initializers; the executor runs it with the CiM
layers on ideal columns (no energy) and an adapter per layer (:func:`adapters`) that replaces their product by
the HCiM read-out of one chip: the layer's own trained quantization, k+ / k- of the bit-plane mapping, ternary
decisions through the latch LUT with that chip's thresholds, alpha. Its cost: every column-plane's energy from the
LUT's energy table at its (k+, k-), and one digital add per nonzero decision at ``add_energy``: the study
(:mod:`charz.study.hcim_cli`) passes the energy per add measured in SPICE (the ``dcim_add`` LUT of
:mod:`charz.blocks.dcim`, a bitline-computing 8-bit add in a 6T array) and falls back to the assumed
:data:`ADD_ENERGY_J` only when that LUT is missing.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..behavior.interfaces import Cost
from ..core.errors import ParameterError
from . import hcim
from .dub_train import load_module

ADD_ENERGY_J = 0.03e-12
"""ASSUMED energy of one scale-factor add (an 8-bit add at 45 nm, 0.9 V: M. Horowitz, ISSCC 2014), per nonzero
ternary decision. The documented fallback: the study charges the energy measured by the ``dcim_add`` LUT
(``charz characterize dcim_add``, default ``<pdk>/dcim_add8``) and uses this value only when that LUT is missing."""
X_PERCENTILE = 99.99


@dataclasses.dataclass
class Trained:
    """The QAT result: the ONNX bytes (trained weights), per CiM layer (ONNX node name) its record (x_scale,
    w_scale (N,), w_int (K, N), alpha (S, T, N), bits), the history and time, and the trained PyTorch module (its
    CiM layers replaced by their HCiM layers)."""

    onnx: bytes
    layers: dict
    history: list
    seconds: float
    module: object = None


def _torch_layer(torch, base, x_scale: float, x_bits: int, w_bits: int, rows: int, q_table, alpha0,
                 latch=None, rng=None):
    """The HCiM replacement of one Conv2d / Linear *base* (module doc)."""
    nn = torch.nn
    F = torch.nn.functional

    class HcimLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = base
            self.x_scale = float(x_scale)
            self.alpha = nn.Parameter(torch.as_tensor(alpha0, dtype=torch.float32))
            self.q_table = torch.as_tensor(q_table, dtype=torch.float32)

        def quantized(self):
            w = self.base.weight
            n = w.shape[0]
            top = (1 << (w_bits - 1)) - 1
            s_w = (w.detach().reshape(n, -1).abs().max(dim=1).values / top).clamp_min(1e-12)
            ws = w.reshape(n, -1) / s_w[:, None]
            wq = ws + (ws.round().clamp(-top, top) - ws).detach()
            return wq, s_w

        def forward(self, x):
            top = (1 << x_bits) - 1
            xs = x / self.x_scale
            xq = xs + (xs.round().clamp(0, top) - xs).detach()
            wq, s_w = self.quantized()
            conv = isinstance(self.base, nn.Conv2d)
            if conv:
                b, _, h, w_ = x.shape
                cols = F.unfold(xq, self.base.kernel_size, padding=self.base.padding, stride=self.base.stride)
                X = cols.transpose(1, 2).reshape(-1, cols.shape[1])
            else:
                X = xq
            exact = X @ wq.T
            with torch.no_grad():
                kp, kn = hcim.partial_sums(X.detach().round().numpy().astype(np.int64),
                                           wq.detach().round().T.numpy().astype(np.int64), rows, x_bits, w_bits)
                if self.training and rng is not None:  # hardware-aware: a fresh chip's latches every step
                    q = torch.from_numpy(hcim.ternary_lut(kp, kn, latch, rng).astype(np.float32))
                else:
                    q = self.q_table[torch.from_numpy(kp.astype(np.int64)), torch.from_numpy(kn.astype(np.int64))]
                p = 2.0 ** torch.arange(q.shape[0], dtype=torch.float32)
                s = 2.0 ** torch.arange(q.shape[1], dtype=torch.float32)
                qs = torch.einsum("p,s,pstbn->stbn", p, s, q)
            hc = torch.einsum("stn,stbn->bn", self.alpha, qs)
            y = hc + exact - exact.detach()
            y = y * (self.x_scale * s_w)[None, :]
            if self.base.bias is not None:
                y = y + self.base.bias[None, :]
            if conv:
                ho = (h + 2 * self.base.padding[0] - self.base.kernel_size[0]) // self.base.stride[0] + 1
                wo = (w_ + 2 * self.base.padding[1] - self.base.kernel_size[1]) // self.base.stride[1] + 1
                y = y.reshape(b, ho * wo, -1).transpose(1, 2).reshape(b, -1, ho, wo)
            return y

    return HcimLayer()


def train(model, images, labels, cim_nodes, latch_model, *, x_bits: int = 4, w_bits: int = 4, rows: int = 16,
          epochs: int = 2, seed: int = 0, batch: int = 128, lr: float = 1e-3, hardware_aware: bool = False,
          log=print) -> Trained:
    """Quantization-aware training of the CiM layers (*cim_nodes*) of ONNX *model* (a path) for the HCiM read-out
    of the latch model *latch_model* (a :class:`charz.blocks.wht.model.WhtModel`; its nominal decisions, or with
    *hardware_aware* the decisions of a chip drawn afresh at every training step, its latch thresholds from the
    LUT's Monte Carlo spread), on the training *images* / *labels*. Returns :class:`Trained`."""
    from ..network import torch_graph, zoo

    torch = zoo._torch()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    if latch_model.n_rows != rows:
        raise ParameterError(f"the latch LUT has {latch_model.n_rows} rows, the crossbars {rows}")
    module, proto, inputs = load_module(model)
    x_all = torch.from_numpy(inputs(images))
    y_all = torch.from_numpy(np.array(labels, dtype=np.int64))
    q_table = np.nan_to_num(latch_model.nominal_q("ternary"), nan=0.0)
    # the inputs of every CiM layer on a calibration batch (float network): their scales and alpha's start
    seen = {}
    for node in cim_nodes:
        base = module.base(node)
        if isinstance(base, torch.nn.Conv2d) and (base.groups != 1 or base.dilation != (1, 1)):
            raise ParameterError(f"layer {node}: a grouped or dilated convolution; HCiM here maps plain ones")
    hooks = [module.base(n).register_forward_hook(
        lambda m, inp, out, n=n: seen.__setitem__(n, inp[0].detach())) for n in cim_nodes]
    with torch.no_grad():
        module.eval()(x_all[:batch])
    for h in hooks:
        h.remove()
    for li, node in enumerate(cim_nodes):
        base = module.base(node)
        xin = seen[node]
        if float(xin.min()) < 0:
            raise ParameterError(f"layer {node}: its inputs are signed; HCiM here takes unsigned "
                                 f"activations (after a ReLU)")
        x_scale = max(float(np.percentile(xin.numpy(), X_PERCENTILE)), 1e-12) / ((1 << x_bits) - 1)
        layer = _torch_layer(torch, base, x_scale, x_bits, w_bits, rows, q_table, np.ones((1, 1, 1)), latch_model,
                             np.random.default_rng([seed, 1000 + li]) if hardware_aware else None)
        with torch.no_grad():  # alpha from the least-squares scales of this batch
            wq, _ = layer.quantized()
            if isinstance(base, torch.nn.Conv2d):
                cols = torch.nn.functional.unfold((xin / x_scale).round().clamp(0, (1 << x_bits) - 1),
                                                  base.kernel_size, padding=base.padding, stride=base.stride)
                X = cols.transpose(1, 2).reshape(-1, cols.shape[1])
            else:
                X = (xin / x_scale).round().clamp(0, (1 << x_bits) - 1)
            kp, kn = hcim.partial_sums(X.numpy().astype(np.int64), wq.round().T.numpy().astype(np.int64), rows,
                                       x_bits, w_bits)
            q = q_table[kp, kn].astype(np.int8)
            layer.alpha = torch.nn.Parameter(torch.from_numpy(hcim.fit_scales(q, kp, kn).astype(np.float32)))
        module.set_layer(node, layer)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    history, t0 = [], time.perf_counter()
    for e in range(epochs):
        module.train()
        order = torch.randperm(x_all.shape[0], generator=gen)
        tot, correct = 0.0, 0
        for i in range(0, x_all.shape[0], batch):
            idx = order[i:i + batch]
            out = module(x_all[idx])
            loss = loss_fn(out, y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == y_all[idx]).sum())
        history.append({"epoch": e + 1, "loss": round(tot / x_all.shape[0], 5),
                        "train_accuracy": round(correct / x_all.shape[0], 5)})
        log(f"  HCiM QAT epoch {e + 1}/{epochs}: cross-entropy {history[-1]['loss']:.4f}, train accuracy "
            f"{100 * history[-1]['train_accuracy']:.2f} %")
    module.eval()
    layers = {}
    for node in cim_nodes:
        lay = module.layer(node)
        wq, s_w = lay.quantized()
        layers[node] = {"x_scale": lay.x_scale, "w_scale": s_w.detach().numpy().astype(np.float64),
                        "w_int": wq.detach().round().T.numpy().astype(np.int64),
                        "alpha": lay.alpha.detach().numpy().astype(np.float64), "x_bits": x_bits,
                        "w_bits": w_bits, "rows": rows}
    out = torch_graph.write_back(proto, module.onnx_state())
    return Trained(out.SerializeToString(), layers, history, time.perf_counter() - t0, module)


def adapters(layers: dict, latch_model, rng: np.random.Generator | None, add_energy: float = ADD_ENERGY_J) -> dict:
    """Executor adapters (node -> f(x2d, y)) that replace each trained layer's product by its HCiM read-out on one
    chip (latch thresholds drawn once per layer from *rng*; None: nominal latches)."""
    energy = np.nan_to_num(latch_model.energy, nan=0.0)
    out = {}
    for node, r in layers.items():
        seed = None if rng is None else int(rng.integers(0, 2**63 - 1))  # this layer's latches, drawn once

        def f(x2d, y, r=r, seed=seed):
            top = (1 << r["x_bits"]) - 1
            xi = np.clip(np.rint(np.asarray(x2d, np.float64) / r["x_scale"]), 0, top).astype(np.int64)
            kp, kn = hcim.partial_sums(xi, r["w_int"], r["rows"], r["x_bits"], r["w_bits"])
            q = hcim.ternary_lut(kp, kn, latch_model, None if seed is None else np.random.default_rng(seed))
            acc = hcim.hcim_product(q, r["alpha"])
            adds = int(np.count_nonzero(q))
            c = Cost(energy={"latches": float(energy[kp, kn].sum()), "scale_adds": adds * add_energy},
                     counters={"column_planes": int(kp.size), "nonzero_decisions": adds})
            return (acc * r["x_scale"] * r["w_scale"][None, :]).astype(np.asarray(y).dtype), c
        out[node] = f
    return out
