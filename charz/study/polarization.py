"""Neural precision polarization (arXiv 2411.05845) on the executor: a very-low-precision main path on the bit-plane
CiM column, and per layer a low-rank high-precision digital recovery path fitted on a little training data.

The main path
-------------
Every weight layer the mapping puts on the ``cim`` backend runs there with its read-out (column LUT, its Monte
Carlo mismatch, the converter LUT when given): weights and activations quantized directly to the format's bits
(:data:`FORMATS`: ``int4`` = W4A4, ``int8`` = W8A8, ``nf4`` = NF4 weights (:func:`charz.network.quant.nf4_weights`,
multiplied on their 6-bit integer grid: a bit-plane engine needs the levels as integers) with 4-bit
activations). The first and last layers follow the mapping's rule (digital by default, as every ``--model`` run).

The recovery paths
------------------
Layer l gets ``y += (x A_l) B_l``, A_l (K x r), B_l (r x N), computed digitally at high precision from the layer's
input x as the network carries it (before the main path quantizes it); for a convolution that is a rank-r
convolution followed by a 1 x 1 one. Each path is fitted per chip, in closed form, on ``fit`` training images
(minimal data: a fraction of a percent of the training set), layer after layer in execution order (:data:`FITS`):

- target: the layer's own error on that chip, ``E = x W - main(x)`` (W the float weights): quantization and
  read-out errors of this layer, on the inputs this chip produces with the paths upstream already applied;
- objective: ``|| (x A B - E) D^(1/2) ||^2 + lambda ||A B||^2`` with D the **output-channel curvature of the
  loss**: ``D_jj = d^2 L / d y_j^2``, L the cross-entropy of the float network on the fit images, y_j channel j
  of the layer's output (all its positions moved together), by a central second difference of the float
  network with a step of a quarter of the channel's rms (:func:`channel_curvature`: a secant curvature at the
  scale of the errors it weights, not the limit at zero). Why this sensitivity: near a trained minimum the loss increase an output
  error e causes is ``1/2 e^T H e`` (the gradient term averages out), so weighting the squared error by the
  diagonal of H asks the rank-r path to remove the error that costs loss, not the error that is merely large;
  it needs no gradients through the non-differentiable read-out (finite differences of the float network
  only). lambda = :data:`RIDGE` x trace(x^T x) / K.
- solution (weighted reduced-rank ridge regression): ``W_ls = (x^T x + lambda I)^-1 x^T E``; V_r the top-r
  eigenvectors of ``D^(1/2) W_ls^T x^T x W_ls D^(1/2)``; ``A = W_ls D^(1/2) V_r``, ``B = V_r^T D^(-1/2)``.
  Rank r >= N gives the ridge solution itself; rank 0 is the main path alone.

Energy: the main path as the backends count it; a recovery path costs ``positions x r x (K + N)`` digital MACs
per image at :data:`charz.network.backends.DIGITAL_MAC_ENERGY_J` (an assumption: an 8-bit MAC at 45 nm), booked
as the component ``recovery`` (ops are the network's logical ops: the paths add energy, not ops).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..behavior.interfaces import Cost
from ..core.errors import ParameterError
from ..network import backends as bk
from ..network import engine as en
from ..network import quant
from ..network.graph import run as graph_run

FORMATS = {
    "int4": {"w_bits": 4, "x_bits": 4, "nf4": False},
    "nf4": {"w_bits": quant.NF4_MIN_GRID_BITS, "x_bits": 4, "nf4": True},
    "int8": {"w_bits": 8, "x_bits": 8, "nf4": False},
}
"""Main-path formats: weight bits (the integer grid the column multiplies), activation bits, NF4 weights."""
DEFAULT_FORMATS = ("int4", "nf4")
DEFAULT_RANKS = (0, 1, 2, 4, 8, 16)
DEFAULT_FIT_IMAGES = (16, 64, 256)
DEFAULT_FIT_RANK = 8
FITS = ("sequential", "local")
"""``"sequential"``: the layers' paths fitted in execution order, each on the inputs the chip produces with the
paths upstream already applied (what the layer sees at inference; one run over the fit images per layer);
``"local"``: every layer on the main path's own inputs (one run for all layers: cheaper, but at inference the
upstream paths change what a layer sees)."""
RIDGE = 1e-3
"""Ridge weight relative to the mean diagonal of x^T x."""
CURVATURE_STEP = 0.25
"""The second difference's step, times the channel's rms output on the fit images."""
CURVATURE_IMAGES = 64
"""Fit images the curvature is measured on (the first ones): two float runs per output channel."""


# ---- the main path ------------------------------------------------------------------------------------------
def main_plan(model, images, labels, fmt: str, options: dict, *, calib_images, calib_count: int, seed: int,
              batch: int = en.DEFAULT_BATCH, first_last: str = "digital"):
    """(the executor's :class:`~charz.network.engine.Plan`, its report) with the CiM layers in format *fmt*."""
    from ..network.mapping import default_mapping

    if fmt not in FORMATS:
        raise ParameterError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    f = FORMATS[fmt]
    mapping = default_mapping("cim", first_last, **{**options, "w_bits": f["w_bits"], "x_bits": f["x_bits"]})
    plan, about = en.make_plan(model, images, labels, mapping, seed=seed, batch=batch, calib_images=calib_images,
                               calib_count=calib_count, recorded=False)
    if f["nf4"]:
        for lp in cim_layers(plan).values():
            pairs = [quant.nf4_weights(w, f["w_bits"]) for w in lp.w_float]
            lp.w_int = [p[0] for p in pairs]
            lp.w_quant = [p[1] for p in pairs]
            lp.quant_source = f"NF4 levels on a {f['w_bits']}-bit grid"
    return plan, about


def cim_layers(plan) -> dict:
    """The plan's weight layers on the ``cim`` backend with one group (the ones that get a recovery path)."""
    return {n: lp for n, lp in plan.layers.items() if lp.backend == "cim" and lp.kind == "weight" and lp.groups == 1}


# ---- the sensitivity ------------------------------------------------------------------------------------------
def _xent(logits: np.ndarray, labels: np.ndarray) -> float:
    z = logits.reshape(logits.shape[0], -1).astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(lse - z[np.arange(z.shape[0]), labels]))


def channel_curvature(plan, layers: dict) -> dict:
    """Layer name -> (N,) ``d^2 L / d y_j^2`` of the float network's cross-entropy L on *plan*'s images, each
    output channel j of the layer moved by +-h_j at every position (h_j = :data:`CURVATURE_STEP` x its rms),
    by a central second difference; floored at 1e-3 x the layer's largest (a channel the loss does not see
    still gets a small weight)."""
    x = plan.inputs()
    out = plan.graph.outputs[0]
    state = {"layer": None, "j": 0, "h": 0.0}
    rms: dict[str, np.ndarray] = {}

    def product(node, x2d, w2d):
        y = x2d @ w2d
        if state["layer"] == "rms" and node.name in layers:
            rms[node.name] = np.sqrt(np.mean(np.asarray(y, np.float64) ** 2, axis=0))
        elif node.name == state["layer"]:
            y = y.copy()
            y[:, state["j"]] += state["h"]
        return y

    def loss() -> float:
        return _xent(np.asarray(graph_run(plan.graph, {plan.input_name: x}, product=product)[out]), plan.labels)

    state["layer"] = "rms"
    l0 = loss()
    curv = {}
    for name in layers:
        c = np.zeros(layers[name].N)
        for j in range(layers[name].N):
            h = CURVATURE_STEP * float(rms[name][j]) or CURVATURE_STEP
            state.update(layer=name, j=j, h=h)
            lp_ = loss()
            state["h"] = -h
            lm = loss()
            c[j] = (lp_ + lm - 2 * l0) / h**2
        curv[name] = np.maximum(c, 1e-3 * max(float(c.max()), 1e-12))
    return curv


# ---- fitting --------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Moments:
    """Sums over the fit rows of one layer on one chip: G = x^T x (K, K), C = x^T E (K, N)."""

    G: np.ndarray
    C: np.ndarray
    rows: int = 0


def capture(plan, chip: int, layers: dict, sizes, fixed: dict | None = None) -> dict:
    """Fit moments per fit size: ``{size: {layer: Moments}}`` of chip *chip* on the first *size* images of
    *plan* (nested: one run over max(sizes) images, snapshots as the image count reaches each size; the
    plan's batch must divide every size). *fixed*: adapters of other layers applied during the run (the
    paths already fitted upstream, for the sequential fit)."""
    sizes = sorted(set(int(s) for s in sizes))
    if any(s % plan.batch for s in sizes):
        raise ParameterError(f"fit sizes {sizes} must be multiples of the batch {plan.batch}")
    mom = {n: Moments(np.zeros((lp.K, lp.K)), np.zeros((lp.K, lp.N))) for n, lp in layers.items()}
    seen = {n: 0 for n in layers}
    snaps: dict = {}

    def make(name):
        lp = layers[name]
        w = np.asarray(lp.w_float[0], np.float64)

        def f(x2d, y):
            x = np.asarray(x2d, np.float64)
            e = x @ w - np.asarray(y, np.float64)
            m = mom[name]
            m.G += x.T @ x
            m.C += x.T @ e
            m.rows += x.shape[0]
            seen[name] += x.shape[0] // lp.positions
            if seen[name] in sizes:
                snaps.setdefault(seen[name], {})[name] = Moments(m.G.copy(), m.C.copy(), m.rows)
            return y, Cost()
        return f

    sub = dataclasses.replace(plan, images=plan.images[:sizes[-1]], labels=plan.labels[:sizes[-1]])
    en.run_chip(sub, chip, adapters={**(fixed or {}), **{n: make(n) for n in layers}})
    return {s: snaps[s] for s in sizes}


def fit_sequential(plan, chip: int, layers: dict, size: int, rank: int, curv: dict) -> dict:
    """Adapters of every layer fitted in execution order on the first *size* images of *plan*, each on the
    inputs the chip produces with the paths upstream of it already applied (what the layer sees at inference)."""
    ad: dict = {}
    for name in layers:
        m = capture(plan, chip, {name: layers[name]}, [size], fixed=ad)[size][name]
        ad[name] = recovery_adapter(*fit_path(m, rank, curv[name]))
    return ad


def fit_path(m: Moments, rank: int, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(A (K, r), B (r, N)) of the weighted reduced-rank ridge regression (module doc) from moments *m*;
    *weight* (N,) the output channels' weights (None: 1). r = min(rank, N, K)."""
    K, N = m.C.shape
    r = int(min(rank, N, K))
    if r <= 0:
        return np.zeros((K, 0)), np.zeros((0, N))
    lam = RIDGE * float(np.trace(m.G)) / K if np.trace(m.G) > 0 else RIDGE
    W = np.linalg.solve(m.G + lam * np.eye(K), m.C)
    d = np.ones(N) if weight is None else np.asarray(weight, np.float64)
    dh = np.sqrt(d)
    M = (W * dh).T @ m.G @ (W * dh)
    vals, vecs = np.linalg.eigh((M + M.T) / 2)
    V = vecs[:, np.argsort(vals)[::-1][:r]]
    return (W * dh) @ V, V.T / dh


def recovery_adapter(A: np.ndarray, B: np.ndarray, energy_per_mac: float = bk.DIGITAL_MAC_ENERGY_J):
    """The executor adapter of one layer's path: ``y + (x A) B`` and its digital MACs' energy."""
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    per_row = A.shape[1] * (A.shape[0] + B.shape[1])

    def f(x2d, y):
        macs = int(x2d.shape[0]) * per_row
        if A.shape[1] == 0:
            return y, Cost()
        out = np.asarray(y, np.float64) + (np.asarray(x2d, np.float64) @ A64) @ B64
        return out.astype(np.asarray(y).dtype, copy=False), Cost(energy={"recovery": macs * energy_per_mac},
                                                                  counters={"recovery_macs": macs})
    return f


# ---- the study ------------------------------------------------------------------------------------------------
def _energy(res: dict, plan, layers: dict) -> dict:
    n = plan.n_images
    tot = Cost()
    for c in res["costs"].values():
        tot += c
    cim = Cost()
    for name in layers:
        cim += res["costs"][name]
    rec = cim.energy.get("recovery", 0.0)
    ops = sum(lp.macs_per_image for lp in plan.layers.values()) * 2
    cim_ops = sum(layers[nm].macs_per_image for nm in layers) * 2
    e_img, cim_img = tot.energy_J / n, cim.energy_J / n
    return {"energy_per_inference_J": e_img, "cim_energy_per_inference_J": cim_img,
            "recovery_energy_per_inference_J": rec / n,
            "recovery_macs_per_inference": cim.counters.get("recovery_macs", 0) / n,
            "tops_per_watt": ops / e_img / 1e12 if e_img > 0 else None,
            "cim_tops_per_watt": cim_ops / cim_img / 1e12 if cim_img > 0 else None}


def run_study(model, test, fit, *, formats=DEFAULT_FORMATS, ranks=DEFAULT_RANKS, fit_images=DEFAULT_FIT_IMAGES,
              fit_rank: int = DEFAULT_FIT_RANK, chips: int = 4, seed: int = 0, options: dict | None = None,
              calib_count: int = en.DEFAULT_CALIB_IMAGES, first_last: str = "digital", fit_mode: str = "sequential",
              log=print) -> dict:
    """The study (module doc) of *model* on *test* (images, labels) with paths fitted on *fit* (images, labels:
    the first max(fit_images) are used, also the first *calib_count* for the activation ranges): for every
    format, every chip: the main path, every rank at the largest fit size, every fit size at *fit_rank*.
    Returns the JSON-ready result."""
    import time

    options = dict(options or {})
    if fit_mode not in FITS:
        raise ParameterError(f"fit_mode must be one of {', '.join(FITS)}, got {fit_mode!r}")
    ranks = sorted(set(int(r) for r in ranks) | {0})
    fit_images = sorted(set(int(s) for s in fit_images))
    if not ranks or min(ranks) < 0:
        raise ParameterError(f"ranks must be integers >= 0, got {ranks}")
    if not fit_images or min(fit_images) < 1:
        raise ParameterError(f"fit image counts must be >= 1, got {fit_images}")
    if fit[0].shape[0] < fit_images[-1]:
        raise ParameterError(f"{fit_images[-1]} fit images asked, the training split gave {fit[0].shape[0]}")
    batch = math.gcd(*fit_images)
    batch = max(d for d in range(1, min(batch, en.DEFAULT_BATCH) + 1) if batch % d == 0)
    out = {"method": "polarization", "fit": fit_mode, "formats": {}, "ranks": ranks, "fit_images": fit_images, "fit_rank": fit_rank,
           "chips": chips, "seed": seed, "options": options, "n_test_images": int(test[0].shape[0]),
           "n_fit_images_available": int(fit[0].shape[0]), "first_last": first_last}
    for fmt in formats:
        t0 = time.time()
        plan, about = main_plan(model, test[0], test[1], fmt, options, calib_images=fit[0], calib_count=calib_count,
                                seed=seed, batch=en.DEFAULT_BATCH, first_last=first_last)
        layers = cim_layers(plan)
        if not layers:
            raise ParameterError("no layer of the model runs on the cim backend: nothing to recover")
        fplan = dataclasses.replace(plan, images=fit[0][:fit_images[-1]], labels=fit[1][:fit_images[-1]], batch=batch)
        nc = min(CURVATURE_IMAGES, fit_images[-1])
        curv = channel_curvature(dataclasses.replace(fplan, images=fplan.images[:nc], labels=fplan.labels[:nc]),
                                 layers)
        ref = {k: en.run_chip(plan, k) for k in ("float", "ideal")}
        per_chip = []
        for c in range(chips):
            mom = capture(fplan, c, layers, fit_images) if fit_mode == "local" else None
            row = {"chip": c, "by_rank": {}, "by_fit": {}}
            settings = [("by_rank", r, fit_images[-1]) for r in ranks] + \
                       [("by_fit", fit_rank, s) for s in fit_images if s != fit_images[-1] or fit_rank not in ranks]
            for key, r, s in settings:
                if r == 0:
                    ad = None
                elif fit_mode == "local":
                    ad = {n: recovery_adapter(*fit_path(mom[s][n], r, curv[n])) for n in layers}
                else:
                    sub = dataclasses.replace(fplan, images=fplan.images[:s], labels=fplan.labels[:s])
                    ad = fit_sequential(sub, c, layers, s, r, curv)
                res = en.run_chip(plan, c, adapters=ad)
                row[key][str(r if key == "by_rank" else s)] = {"accuracy": res["accuracy"], **_energy(res, plan, layers)}
            if fit_rank in ranks:
                row["by_fit"][str(fit_images[-1])] = row["by_rank"][str(fit_rank)]
            per_chip.append(row)
            log(f"  {fmt} chip {c}: main path {row['by_rank'][str(ranks[0])]['accuracy']:.2%}, "
                + ", ".join(f"r{r} {row['by_rank'][str(r)]['accuracy']:.2%}" for r in ranks[1:]))
        out["formats"][fmt] = {
            "format": dict(FORMATS[fmt]), "float_accuracy": ref["float"]["accuracy"],
            "ideal_accuracy": ref["ideal"]["accuracy"], "layers": {n: {"K": lp.K, "N": lp.N, "positions": lp.positions}
                                                                 for n, lp in layers.items()},
            "curvature": {n: [float(v) for v in curv[n]] for n in layers}, "per_chip": per_chip,
            "summary": _summary(per_chip, ranks, fit_images, fit_rank, ref["ideal"]["accuracy"]),
            "mapping": about.get("mapping"), "seconds": time.time() - t0}
    return out


def _summary(per_chip: list, ranks, fit_images, fit_rank: int, ideal: float) -> dict:
    def stat(key, k):
        a = np.array([p[key][k]["accuracy"] for p in per_chip if p[key].get(k)])
        e = [p[key][k] for p in per_chip if p[key].get(k)]
        return {"accuracy_mean": float(a.mean()), "accuracy_std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
                "accuracy_min": float(a.min()),
                **{f: float(np.mean([x[f] for x in e])) for f in ("energy_per_inference_J", "cim_energy_per_inference_J",
                                                                    "recovery_energy_per_inference_J",
                                                                    "recovery_macs_per_inference", "cim_tops_per_watt",
                                                                    "tops_per_watt")}}
    by_rank = {str(r): stat("by_rank", str(r)) for r in ranks}
    main = np.array([p["by_rank"][str(ranks[0])]["accuracy"] for p in per_chip])
    recovered = {}
    for r in ranks[1:]:
        a = np.array([p["by_rank"][str(r)]["accuracy"] for p in per_chip])
        gap = ideal - main
        recovered[str(r)] = [float((a[i] - main[i]) / gap[i]) if gap[i] > 0 else None for i in range(a.size)]
    return {"by_rank": by_rank, "by_fit": {str(s): stat("by_fit", str(s)) for s in fit_images},
            "recovered_fraction_per_chip": recovered}
