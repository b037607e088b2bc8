"""D.U.B. training (PyTorch, the optional training extra): fine-tune an ONNX model with the balance
regularizer, cut it to the D.U.B. structure (or, for the baseline, to unstructured magnitude pruning at the same
sparsity), fine-tune with the mask, and write the pruned model as ONNX (its other initializers unchanged).

The model is trained as the module made from its own graph (:mod:`charz.network.torch_graph`: a shipped model,
batch norms folded or not, or a user's file). Only the weight layers the executor maps to the CiM column are
pruned (the first and last stay dense and digital).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from ..core.errors import ParameterError
from . import dub

METHODS = ("dub", "dub_unbalanced", "magnitude")
"""``dub``: balance regularizer, then the D.U.B. cut; ``dub_unbalanced``: the same cut without the regularizer (the
ablation that shows what the balance term buys); ``magnitude``: unstructured magnitude pruning per layer."""
DEFAULT_EPOCHS = (2, 2)
"""Epochs of the regularized stage and of the masked fine-tuning."""
L1 = 1e-5
"""L1 weight on the pruned layers in the first stage (both methods: it pushes weights toward zero)."""
BALANCE = 1e-3
"""Weight of the D.U.B. balance term (the sum over crossbars of the variance of the columns' L0 proxies)."""
BN_IMAGES = 512
"""Training images that set a re-inserted batch norm to the identity."""
EPS_REL = 0.5
"""The L0 proxy's eps, times the layer's median |w| at the start."""


@dataclasses.dataclass
class Pruned:
    """A pruned model: its ONNX bytes, the masks (ONNX node name -> (K, N) bool as the executor multiplies),
    the training history and time."""

    onnx: bytes
    masks: dict
    history: list
    seconds: float


def _w2d(t):
    """(K, N) view of a PyTorch weight as the executor multiplies it (K = in x kh x kw, N = out)."""
    return t.reshape(t.shape[0], -1).T


def load_module(model):
    """(the trainable PyTorch module of ONNX *model* (a path; :mod:`charz.network.torch_graph`), its ModelProto, a
    function uint8 images -> the model's float32 input, preprocessed as the executor does)."""
    import onnx

    from ..network import torch_graph
    from ..network.engine import PREPROCESS_KEY, model_metadata, preprocess
    from ..network.onnx_import import load_onnx

    proto = onnx.load(str(model))
    graph = load_onnx(proto)
    module = torch_graph.build(graph)
    state = module.onnx_state()
    torch_graph.check_writable(proto, state)
    pre = model_metadata(proto).get(PREPROCESS_KEY) or {}
    shape = graph.inputs[0][1]

    def inputs(images):
        return preprocess(np.asarray(images), pre, shape, np.float32)

    return module, proto, inputs


def train(model, train_images, train_labels, cim_nodes, *, method: str, keep: int, rows: int = 16,
          epochs=DEFAULT_EPOCHS, seed: int = 0, batch: int = 128, lr: float = 1e-3, batchnorm: bool = False,
          log=print) -> Pruned:
    """:func:`train_keeps` for one kept count."""
    return train_keeps(model, train_images, train_labels, cim_nodes, method=method, keeps=(keep,), rows=rows,
                       epochs=epochs, seed=seed, batch=batch, lr=lr, batchnorm=batchnorm, log=log)[0]


def train_keeps(model, train_images, train_labels, cim_nodes, *, method: str, keeps, rows: int = 16,
                epochs=DEFAULT_EPOCHS, seed: int = 0, batch: int = 128, lr: float = 1e-3, batchnorm: bool = False,
                log=print) -> list[Pruned]:
    """Fine-tune ONNX *model* (a path) on the training images (uint8 as :mod:`charz.datasets` gives them) and prune the
    layers *cim_nodes*, once per kept count of *keeps*: ``method="dub"`` keeps *keep* weights per column of every crossbar of *rows* rows
    (:func:`charz.study.dub.dub_mask`) after a first stage with the balance regularizer; ``"magnitude"`` keeps
    the largest ``keep / rows`` of each layer's weights (:func:`charz.study.dub.magnitude_mask`) after a first
    stage without it. Both first stages carry the same L1 term; both end with masked fine-tuning. *batchnorm*:
    train with a batch norm after every convolution (:meth:`~charz.network.torch_graph.GraphModule.add_batchnorm`,
    folded back when written), for a model whose batch norms were folded away. The first stage does not depend
    on the kept count: it runs once and every cut starts from its state (weights, optimizer, random generators),
    so each model is what a separate run would give; its time is counted in the first model's seconds."""
    import copy

    from ..network import zoo

    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    torch = zoo._torch()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    module, proto, inputs = load_module(model)
    names = list(cim_nodes)
    params = {n: module.base(n).weight for n in names}
    x_all = torch.from_numpy(inputs(train_images))
    y_all = torch.from_numpy(np.array(train_labels, dtype=np.int64))
    if batchnorm:
        module.add_batchnorm(x_all[:BN_IMAGES])
    eps = {n: EPS_REL * float(params[n].detach().abs().median()) for n in names}
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    history = []
    t0 = time.perf_counter()

    def balance(n):
        w = _w2d(params[n])
        k, nn_ = w.shape
        t = -(-k // rows)
        wp = torch.nn.functional.pad(w, (0, 0, 0, t * rows - k)).reshape(t, rows, nn_)
        return torch.tanh(wp.abs() / eps[n]).sum(1).var(dim=1, unbiased=False).sum()

    def epoch(masks, regular):
        module.train()
        order = torch.randperm(x_all.shape[0], generator=gen)
        tot, bal = 0.0, 0.0
        for i in range(0, x_all.shape[0], batch):
            idx = order[i:i + batch]
            loss = loss_fn(module(x_all[idx]), y_all[idx])
            tot += float(loss.detach()) * len(idx)
            if regular:
                loss = loss + L1 * sum(params[n].abs().sum() for n in names)
                if method == "dub":
                    b = sum(balance(n) for n in names)
                    bal += float(b.detach()) * len(idx)
                    loss = loss + BALANCE * b
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if masks:
                with torch.no_grad():
                    for n, m in masks.items():
                        params[n].mul_(m)
        return tot / x_all.shape[0], bal / x_all.shape[0]

    first = []
    for e in range(epochs[0]):
        ce, bal = epoch(None, True)
        first.append({"stage": "regularized", "epoch": e + 1, "loss": round(ce, 5), "balance": round(bal, 3)})
        log(f"  {method}: regularized epoch {e + 1}: cross-entropy {ce:.4f}"
            + (f", balance {bal:.2f}" if method == "dub" else ""))
    snap = (copy.deepcopy(module.state_dict()), copy.deepcopy(opt.state_dict()), gen.get_state(),
            torch.get_rng_state())
    out = []
    for keep in keeps:
        module.load_state_dict(snap[0])
        opt.load_state_dict(copy.deepcopy(snap[1]))  # Adam keeps the given tensors: a fresh copy per cut
        gen.set_state(snap[2])
        torch.set_rng_state(snap[3])
        history = list(first)
        out.append(_cut_and_tune(module, proto, params, names, masks_fn=lambda w: (
            dub.magnitude_mask(w, 1 - keep / rows) if method == "magnitude" else dub.dub_mask(w, rows, keep)),
            epoch=epoch, epochs=epochs[1], history=history, label=f"{method} keep {keep}/{rows}", t0=t0, log=log))
        t0 = time.perf_counter()
    return out


def _cut_and_tune(module, proto, params, names, *, masks_fn, epoch, epochs, history, label, t0, log) -> Pruned:
    """Cut the layers *names* to the masks *masks_fn* gives their (K, N) weights, fine-tune *epochs* epochs with
    the mask held, write the model back."""
    import torch

    from ..network import torch_graph

    masks, masks_np = {}, {}
    with torch.no_grad():
        for n in names:
            w = _w2d(params[n]).numpy()
            m2 = masks_fn(w)
            masks_np[n] = m2
            masks[n] = torch.from_numpy(m2.T.reshape(params[n].shape).astype(np.float32))
            params[n].mul_(masks[n])
    for e in range(epochs):
        ce, _ = epoch(masks, False)
        history.append({"stage": "masked", "epoch": e + 1, "loss": round(ce, 5)})
        log(f"  {label}: masked epoch {e + 1}: cross-entropy {ce:.4f}")
    module.eval()
    for n, m in masks_np.items():  # exact zeros where pruned (float rounding of mul_ kept them zero already)
        assert np.all(_w2d(params[n]).detach().numpy()[~m] == 0)
    out = torch_graph.write_back(proto, module.onnx_state())
    return Pruned(out.SerializeToString(), masks_np, history, time.perf_counter() - t0)


def save(pruned: Pruned, path: Path) -> Path:
    """Write the pruned model's ONNX file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pruned.onnx)
    return path


# ---- the study ------------------------------------------------------------------------------------------------
ADC_KIND = "adc_sar"
"""The converter whose LUTs give each resolution's energy and transfer (``<pdk>/adc_sar<bits>``)."""


def adc_luts(pdk: str) -> dict:
    """Resolution -> (LUT path, energy per conversion [J] at the column's 0.7 V) of every ``adc_sar<bits>`` LUT
    found on the LUT search path."""
    from ..blocks.adc import model as dz
    from ..core.errors import LUTError
    from ..core.lut import find_default

    out = {}
    for b in range(1, 9):
        try:
            path = find_default(pdk, f"{ADC_KIND}{b}")
        except LUTError:
            continue
        lut, _ = dz.load(str(path))
        out[b] = (str(path), float(dz.DigitizerModel.from_lut(lut, vdd=0.7).energy))
    if not out:
        raise ParameterError(f"no {ADC_KIND}<bits> LUT of {pdk} on the LUT search path")
    return out


def layer_readout(mask: np.ndarray, rows: int, luts: dict) -> dict:
    """What one pruned layer's read-out needs: per crossbar bits, the layer's resolution (its fullest crossbar),
    the converter LUT used (the smallest LUT resolution >= it), the full-scale level (the fullest column)."""
    bits = dub.crossbar_bits(mask, rows)
    kmax = int(dub.column_counts(mask, rows).max())
    b = int(bits.max())
    use = min((x for x in luts if x >= b), default=None)
    if use is None:
        raise ParameterError(f"a crossbar needs {b} bits; the largest {ADC_KIND} LUT has {max(luts)}")
    return {"crossbar_bits": bits.tolist(), "bits": b, "lut_bits": use, "lut": luts[use][0],
            "full_scale_k": max(1, kmax), "max_column_count": kmax}


def _mapping(options: dict, per_layer: dict):
    from ..network.mapping import Mapping, Rule

    rules = tuple(Rule(match=n, op=None, backend="cim", options=o, where=f"D.U.B. study: layer {n}")
                  for n, o in per_layer.items())
    return Mapping(rules=rules, defaults=dict(options), backend="cim", first_last="digital", source="D.U.B. study")


def run_study(model, test, train_data, *, keeps=(8, 4, 2), methods=("dub", "magnitude"), chips: int = 4,
              seed: int = 0, rows: int = 16, epochs=DEFAULT_EPOCHS, options: dict | None = None, pdk: str = "ptm16hp",
              calib_count: int = 256, out: Path | None = None, lr: float = 1e-3, batchnorm: bool = False,
              log=print) -> dict:
    """The study: the dense model read out by the 5-bit SAR, then for every kept count per column and method a
    pruned model (:func:`train`), read out per layer at the resolution its structure needs (the converter LUT of
    that resolution, full scale at its fullest column), on *chips* chips; ADC energy from the executor (per layer)
    and per crossbar (each crossbar its own resolution, the LUTs' energies). Pruned models are written under
    *out*/models/."""
    from ..network import engine as en
    from ..network.mapping import default_mapping

    options = dict(options or {})
    luts = adc_luts(pdk)
    need = math.ceil(math.log2(rows + 1))  # a dense column: rows + 1 levels
    full = min((b for b in luts if b >= need), default=max(luts))
    plan, _ = en.make_plan(str(model), test[0], test[1], default_mapping("cim", "digital"),
                           calib_images=train_data[0], calib_count=calib_count)
    cim = [n for n, lp in plan.layers.items() if lp.backend == "cim"]
    if not cim:
        raise ParameterError("no layer of the model runs on the cim backend")
    kw = dict(chips=chips, seed=seed, calib_images=train_data[0], calib_count=calib_count)
    energy = {b: e for b, (_, e) in luts.items()}
    res = {"method": "dub", "lr": lr, "batchnorm": batchnorm, "rows": rows, "keeps": list(keeps), "methods": list(methods), "chips": chips,
           "options": options, "cim_layers": cim, "adc_luts": {str(b): {"lut": p, "energy_J": e}
                                                               for b, (p, e) in luts.items()}, "runs": []}

    def evaluate(onnx_model, per_layer, label, masks):
        r = en.evaluate_model(onnx_model, test[0], test[1], _mapping(options, per_layer), **kw)
        rows_ = {row["name"]: row for row in r["layers"]}
        adc = sum(rows_[n]["energy_by_component_J"].get("readout", 0.0) for n in cim)
        xb = 0.0
        for n in cim:
            conv = rows_[n]["conversions_per_image"]
            bits = (dub.crossbar_bits(masks[n], rows) if masks is not None else
                    np.full(-(-plan.layers[n].K // rows), full))
            xb += dub.converter_energy(bits, 1, energy) * conv / bits.size  # each crossbar its own resolution
        run = {"label": label, "accuracy_mean": r["accuracy_mean"], "accuracy_std": r["accuracy_std"],
               "accuracy_per_chip": r["accuracy_per_chip"], "ideal_accuracy": r["ideal_accuracy"],
               "float_accuracy": r["float_accuracy"], "adc_energy_per_inference_J": adc,
               "adc_energy_per_crossbar_resolution_J": xb, "energy_per_inference_J": r["energy_per_inference_J"],
               "analog_tops_per_watt": r["analog_tops_per_watt"], "readout": per_layer}
        log(f"  {label}: accuracy {100 * run['accuracy_mean']:.2f} %, ADC {adc * 1e9:.3f} nJ per inference "
            f"(per-crossbar resolution {xb * 1e9:.3f} nJ)")
        return run

    dense_per_layer = {n: {"adc_lut": luts[full][0]} for n in cim}
    res["runs"].append({**evaluate(str(model), dense_per_layer, "dense", None),
                        "method": "dense", "keep": rows, "sparsity": 0.0})
    runs = {}
    for method in methods:  # one first stage per method, shared by its kept counts (train_keeps)
        pruned = train_keeps(model, train_data[0], train_data[1], cim, method=method, keeps=keeps, rows=rows,
                             epochs=epochs, seed=seed, lr=lr, batchnorm=batchnorm, log=log)
        for keep, p in zip(keeps, pruned):
            if out is not None:
                save(p, Path(out) / "models" / f"{Path(model).stem}_{method}_keep{keep}.onnx")
            masks = p.masks
            per_layer, info = {}, {}
            for n in cim:
                info[n] = layer_readout(masks[n], rows, luts)
                per_layer[n] = {"adc_lut": info[n]["lut"], "adc_full_scale_k": info[n]["full_scale_k"]}
            run = evaluate(p.onnx, per_layer, f"{method} keep {keep}/{rows}", masks)
            nz = sum(int(m.sum()) for m in masks.values())
            tot = sum(m.size for m in masks.values())
            run.update(method=method, keep=keep, sparsity=1 - nz / tot, layers=info, history=p.history,
                       train_seconds=p.seconds,
                       balance={n: {"column_count_std_mean": float(dub.column_counts(masks[n], rows).std(axis=1).mean())}
                                for n in cim})
            runs[keep, method] = run
    res["runs"] += [runs[k, m] for k in keeps for m in methods]  # the table's order: by kept count
    dense = res["runs"][0]
    for r in res["runs"]:
        r["adc_reduction"] = dense["adc_energy_per_inference_J"] / r["adc_energy_per_inference_J"]
        r["adc_reduction_per_crossbar"] = (dense["adc_energy_per_crossbar_resolution_J"]
                                           / r["adc_energy_per_crossbar_resolution_J"])
    return res


def onnx_proto(data: bytes):
    """An ONNX ModelProto from its bytes."""
    import onnx

    return onnx.load_model_from_string(data)
