"""MACAM ("Fuse and Mix", arXiv 2208.08099) on the executor: every ReLU that directly follows a weight layer
read out either by the MTJ analog CAM (the activation fused with the A/D conversion,
:mod:`charz.blocks.cam.model_macam`) or by a converter LUT and a digital ReLU, per output channel; and a
SuperMixer-style assignment of channels to the two paths under an energy budget.

- :func:`fused_layers`: the weight layers whose output reaches a ``Relu`` through nothing but their own bias
  (Conv / Gemm bias input, or an ``Add`` of a constant after a MatMul), one group; their per-channel bias
  (the product hook sees the product without it). Other layers (a residual ``Add`` before the ReLU, a
  grouped convolution, no ReLU) keep the network's own arithmetic: listed with the reason.
- :func:`capture`: the pre-activations z = product + bias of those layers on calibration images (the
  ``ideal`` run: exact products).
- :class:`Readouts`: per layer the MACAM design and the digital read-out; :meth:`Readouts.adapters` = the
  executor adapters of one chip for an assignment (a boolean mask per layer: True = MACAM): the chip's arrays
  and converter instances are drawn once per (chip, layer) from ``SeedSequence([seed, chip])`` whatever the
  assignment, so assignments are compared on the same silicon; the read-out's energy is booked as the
  components ``readout_macam``, ``readout_adc`` and ``readout_act`` (digital ReLU, assumed).
- :func:`supermix`: the greedy assignment. Each layer's channels are ranked by how much the MACAM read-out
  hurts them against the digital one (the squared-error excess on the calibration pre-activations, averaged
  over Monte Carlo arrays) and cut into ``groups`` slices; a move sends a layer's next slice to the MACAM;
  every step measures every layer's next move on the validation images over the search chips and takes the
  one that loses the least accuracy per joule saved (moves that save nothing are never taken). The path from
  all-digital to all-MACAM is the result; each energy budget takes the best validated point within it.
  SuperMixer itself is a differentiable search trained with the network; this one measures instead and does
  not retrain.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..behavior.interfaces import Cost
from ..blocks.cam import model_macam as mm
from ..core.errors import ParameterError
from ..network import engine as en

CAPTURE_ROWS = 8192
"""Pre-activation rows (output positions) kept per layer by :func:`capture`."""


@dataclasses.dataclass(frozen=True)
class Fused:
    """A weight layer whose ReLU the read-out can fuse."""

    name: str
    bias: np.ndarray
    """(N,) added to the product before the ReLU."""
    relu: str
    """The Relu node."""


def fused_layers(plan) -> tuple[dict, dict]:
    """(``{layer: Fused}`` of the layers whose ReLU can be fused, ``{layer: reason}`` of the others)."""
    g = plan.graph
    consumers = g.consumers()
    init = g.initializers
    out, skipped = {}, {}
    for name, lp in plan.layers.items():
        node = next(n for n in g.nodes if n.name == name)
        if lp.kind != "weight":
            skipped[name] = "block operator"
            continue
        if lp.groups != 1:
            skipped[name] = "grouped convolution"
            continue
        bias = np.zeros(lp.N)
        if node.op == "Conv" and len(node.inputs) > 2 and node.inputs[2]:
            bias = np.asarray(init[node.inputs[2]], dtype=float).ravel()
        elif node.op == "Gemm":
            if float(node.attrs.get("alpha", 1.0)) != 1.0:
                skipped[name] = "Gemm with alpha != 1"
                continue
            if len(node.inputs) > 2 and node.inputs[2]:
                c = np.asarray(init[node.inputs[2]], dtype=float)
                if c.size not in (1, lp.N):
                    skipped[name] = "Gemm bias not per output"
                    continue
                bias = np.broadcast_to(c.ravel() * float(node.attrs.get("beta", 1.0)), (lp.N,)).copy()
        t = node.outputs[0]
        nxt = consumers.get(t, [])
        if node.op == "MatMul" and len(nxt) == 1 and nxt[0].op == "Add":
            other = [i for i in nxt[0].inputs if i != t]
            c = np.asarray(init[other[0]], dtype=float) if len(other) == 1 and other[0] in init else None
            if c is not None and c.size in (1, lp.N):
                bias = np.broadcast_to(c.ravel(), (lp.N,)).copy()
                t = nxt[0].outputs[0]
                nxt = consumers.get(t, [])
        if len(nxt) != 1 or t in g.outputs:
            skipped[name] = "output used by more than one node" if len(nxt) > 1 else "no ReLU after it"
            continue
        if nxt[0].op != "Relu":
            skipped[name] = f"followed by {nxt[0].op}, not Relu"
            continue
        if bias.shape != (lp.N,):
            skipped[name] = "bias shape"
            continue
        out[name] = Fused(name, bias, nxt[0].name)
    return out, skipped


def capture(plan, fused: dict, rows: int = CAPTURE_ROWS) -> dict:
    """``{layer: (R, N) pre-activations}`` of the *fused* layers over the images of *plan* (the ideal run), the
    first *rows* output positions of each layer (spread over the images: every image's rows subsampled evenly)."""
    per_image = {n: max(1, rows // max(1, plan.n_images)) for n in fused}
    got: dict = {n: [] for n in fused}

    def make(name):
        lp = plan.layers[name]

        def f(x2d, y):
            z = np.asarray(y, dtype=float) + fused[name].bias
            k = per_image[name] * max(1, z.shape[0] // lp.positions)
            idx = np.linspace(0, z.shape[0] - 1, min(k, z.shape[0])).astype(int)
            got[name].append(z[idx])
            return y, Cost()
        return f

    en.run_chip(plan, "ideal", adapters={n: make(n) for n in fused})
    return {n: np.concatenate(v)[:rows] for n, v in got.items()}


@dataclasses.dataclass
class Readouts:
    """Per fused layer: its MACAM design and its digital read-out, and how chips are drawn."""

    cam: object
    """The :class:`~charz.blocks.cam.model_mtj.MtjCamModel`."""
    designs: dict
    """layer -> :class:`~charz.blocks.cam.model_macam.MacamDesign`."""
    adcs: dict
    """layer -> :class:`~charz.blocks.cam.model_macam.AdcReadout`."""
    fused: dict
    seed: int = 0

    @classmethod
    def build(cls, cam, converter, fused: dict, z: dict, max_codes: int, act_J: float, seed: int = 0,
              draws: int = 16, verify: bool = False) -> "Readouts":
        """Designs and digital read-outs of every fused layer from its calibration pre-activations *z*
        (*verify*: the MACAM arrays programmed and verified, :attr:`~charz.blocks.cam.model_macam.MacamDesign.verify`)."""
        designs = {n: mm.design(cam, z[n], max_codes, draws=draws, seed=seed, verify=verify) for n in fused}
        adcs = {n: mm.AdcReadout.fit(converter, z[n], act_J=act_J) for n in fused}
        return cls(cam, designs, adcs, fused, int(seed))

    def with_converter(self, converter, z: dict, act_J: float) -> "Readouts":
        """The same MACAM designs beside another converter."""
        return dataclasses.replace(self, adcs={n: mm.AdcReadout.fit(converter, z[n], act_J=act_J) for n in self.fused})

    def chip(self, chip) -> dict:
        """``{layer: (MacamArrays, ConverterBank or None)}`` of *chip* (an index: drawn; ``"nominal"``: nominal
        arrays and converters)."""
        out = {}
        if chip == "nominal":
            for n, d in self.designs.items():
                out[n] = (mm.nominal_arrays(self.cam, d, len(self.fused[n].bias)), None)
            return out
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(chip), 0xCA]))
        for n, d in self.designs.items():
            N = len(self.fused[n].bias)
            out[n] = (mm.draw_arrays(self.cam, d, N, rng), self.adcs[n].converter.instances(N, rng))
        return out

    def adapters(self, assign: dict, drawn: dict) -> dict:
        """Executor adapters for *assign* (layer -> (N,) bool, True = MACAM) on a chip's *drawn* read-outs."""
        out = {}
        for n, f in self.fused.items():
            mask = np.asarray(assign.get(n, np.zeros(len(f.bias), bool)), bool)
            out[n] = self._adapter(n, mask, *drawn[n])
        return out

    def _adapter(self, name, mask, arrays, bank):
        d, a, b = self.designs[name], self.adcs[name], self.fused[name].bias
        ana, dig = np.flatnonzero(mask), np.flatnonzero(~mask)
        sub_arrays = mm.MacamArrays(arrays.lo[ana], arrays.hi[ana])
        sub_bank = None if bank is None else dataclasses.replace(bank, transitions=bank.transitions[dig],
                                                                 raw=bank.raw[dig])

        def f(x2d, y):
            z = np.asarray(y, dtype=float) + b
            out = np.empty_like(z)
            energy, counters = {}, {}
            if ana.size:
                v, c = mm.macam_read(self.cam, d, sub_arrays, z[:, ana])
                out[:, ana] = v
                energy["readout_macam"] = c["energy_J"]
                counters.update(macam_searches=c["searches"], macam_no_match=c["no_match"],
                                macam_several=c["several"])
            if dig.size:
                v, c = a.read(sub_bank, z[:, dig])
                out[:, dig] = v
                energy["readout_adc"] = c["conversions"] * float(a.converter.energy)
                energy["readout_act"] = c["conversions"] * a.act_J
                counters["adc_conversions"] = c["conversions"]
            return (out - b).astype(np.asarray(y).dtype, copy=False), Cost(energy=energy, counters=counters)
        return f

    def energy_per_output(self) -> dict:
        """layer -> (MACAM search, digital read-out) energy per output [J] (nominal, all rows searched)."""
        e_row = (self.cam.energy_match + self.cam.energy_mismatch) / 2
        return {n: (self.designs[n].codes * e_row, self.adcs[n].energy) for n in self.fused}


def channel_order(ro: Readouts, z: dict, draws: int = 16) -> dict:
    """layer -> channel indices, the ones the MACAM hurts least (against the digital read-out) first: the excess
    squared error over the calibration pre-activations *z*, averaged over *draws* arrays / converter instances,
    normalised by the channel's mean squared ReLU."""
    out = {}
    rng = np.random.default_rng(np.random.SeedSequence([ro.seed, 0xC0]))
    for n in ro.fused:
        zz = z[n]
        N = zz.shape[1]
        t = np.maximum(zz, 0.0)
        arr = mm.draw_arrays(ro.cam, ro.designs[n], N * draws, rng)
        ex = np.zeros(N)
        bank = ro.adcs[n].converter.instances(N * draws, rng)
        for k in range(draws):
            sl = slice(k * N, (k + 1) * N)
            vm, _ = mm.macam_read(ro.cam, ro.designs[n], mm.MacamArrays(arr.lo[sl], arr.hi[sl]), zz)
            sub = dataclasses.replace(bank, transitions=bank.transitions[sl], raw=bank.raw[sl])
            vd, _ = ro.adcs[n].read(sub, zz)
            ex += np.mean((vm - t) ** 2, axis=0) - np.mean((vd - t) ** 2, axis=0)
        out[n] = np.argsort(ex / draws / np.maximum(np.mean(t ** 2, axis=0), 1e-12), kind="stable")
    return out


def masks(ro: Readouts, order: dict, steps: dict, groups: int) -> dict:
    """Assignment masks: layer *n*'s first ``steps[n] / groups`` of its ordered channels on the MACAM."""
    out = {}
    for n in ro.fused:
        N = len(order[n])
        m = np.zeros(N, bool)
        m[order[n][: int(round(N * steps.get(n, 0) / groups))]] = True
        out[n] = m
    return out


def run_assignment(plan, ro: Readouts, assign: dict, chips, drawn_cache: dict | None = None) -> dict:
    """Accuracy per chip and read-out energy per inference (by component, over the fused layers) of *assign*
    on *plan*'s images, each chip of *chips* (indices or ``"nominal"``)."""
    accs, energy, counters = [], {}, {}
    for c in chips:
        drawn = drawn_cache.get(c) if drawn_cache is not None else None
        if drawn is None:
            drawn = ro.chip(c)
            if drawn_cache is not None:
                drawn_cache[c] = drawn
        r = en.run_chip(plan, c if c != "nominal" else "ideal", adapters=ro.adapters(assign, drawn))
        accs.append(r["accuracy"])
        for n in ro.fused:
            for k, v in r["costs"][n].energy.items():
                energy[k] = energy.get(k, 0.0) + v / (plan.n_images * len(chips))
            for k, v in r["costs"][n].counters.items():
                counters[k] = counters.get(k, 0) + v
    a = np.asarray(accs)
    return {"accuracy_per_chip": accs, "accuracy_mean": float(a.mean()),
            "accuracy_std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "readout_energy_J": energy,
            "readout_energy_total_J": float(sum(energy.values())), "counters": counters}


def supermix(plan, ro: Readouts, order: dict, groups: int, chips, log=None) -> list[dict]:
    """The greedy path from all-digital to all-MACAM (module doc) on *plan*'s (validation) images over
    *chips*: one entry per step with the steps per layer, the validated accuracy and the read-out energy."""
    if groups < 1:
        raise ParameterError(f"groups = {groups}: give at least 1")
    cache: dict = {}
    steps = {n: 0 for n in ro.fused}
    cur = run_assignment(plan, ro, masks(ro, order, steps, groups), chips, cache)
    path = [{"steps": dict(steps), **cur}]
    while True:
        best = None
        for n in ro.fused:
            if steps[n] >= groups:
                continue
            trial = dict(steps, **{n: steps[n] + 1})
            r = run_assignment(plan, ro, masks(ro, order, trial, groups), chips, cache)
            saved = cur["readout_energy_total_J"] - r["readout_energy_total_J"]
            if saved <= 0:
                continue
            loss = cur["accuracy_mean"] - r["accuracy_mean"]
            score = loss / saved
            if best is None or score < best[0]:
                best = (score, trial, r, n)
        if best is None:
            break
        _, steps, cur, n = best
        path.append({"steps": dict(steps), "moved": n, **cur})
        if log:
            log(f"    step {len(path) - 1}: {n} -> {steps[n]}/{groups} on MACAM: validation "
                f"{100 * cur['accuracy_mean']:.2f} %, read-out {cur['readout_energy_total_J'] * 1e12:.2f} pJ")
    return path


def pick(path: list[dict], budget: float) -> dict | None:
    """The validated point of *path* with the best accuracy whose read-out energy is at most *budget* x the
    all-digital point's (the first entry); None when none is."""
    e0 = path[0]["readout_energy_total_J"]
    ok = [p for p in path if p["readout_energy_total_J"] <= budget * e0 * (1 + 1e-12)]
    return max(ok, key=lambda p: (p["accuracy_mean"], -p["readout_energy_total_J"])) if ok else None


def spread_sweep(plan, cam_lut, converter, fused: dict, z: dict, scales, chips, max_codes: int, act_J: float,
                 seed: int = 0, log=None, verify: bool = False) -> list[dict]:
    """All-MACAM test runs against the CAM windows' spread: per scale of the LUT's Monte Carlo spread (0 =
    nominal), the designs made for that spread, accuracy per chip of *chips*, read-out energy and rows per
    layer."""
    from ..blocks.cam.model_mtj import MtjCamModel

    out = []
    for s in scales:
        cam = MtjCamModel.from_lut(cam_lut, mismatch_scale=float(s))
        ro = Readouts.build(cam, converter, fused, z, max_codes, act_J, seed=seed, verify=verify)
        full = {n: np.ones(len(f.bias), bool) for n, f in fused.items()}
        r = run_assignment(plan, ro, full, list(chips))
        r.update(scale=float(s), rows={n: d.codes for n, d in ro.designs.items()})
        out.append(r)
        if log:
            log(f"    window spread x{s:g}: all MACAM {100 * r['accuracy_mean']:.2f} +- "
                f"{100 * r['accuracy_std']:.2f} %, rows {list(r['rows'].values())}")
    return out
