"""The network command of the CAM family (declared in this family's ``__init__``): ``charz eval --network
mbi``, memorization-based inference on MNIST looked up in the SRAM CAM model (:mod:`charz.blocks.cam.model_mbi`).

The handler takes the parsed arguments and returns the exit code; options the command does not declare were
refused by the command line before it runs; a bad value is a one-line ``ParameterError``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ...cli.common import DEFAULT_PDK, get_pdk
from ...core.errors import ParameterError
from ...core.lut import Kind

DEFAULT_LUT = "cam_sram16"
SWEEP_ROWS = (4, 8, 16, 32, 64)
COMPARE = (("lenet5", "mnist", "digital", "LeNet-5 on MNIST"),
           ("lenet5", "mnist", "same", "LeNet-5 on MNIST, every layer on cim"),
           ("resnet20", "cifar10", "digital", "ResNet-20 on CIFAR-10 (input differs)"))
COMPARE_IMAGES = 20


def _check(args) -> None:
    for flag, v, lo, hi in (("--glimpses", args.glimpses, 1, 36), ("--rows", args.rows, 1, 64),
                            ("--train-images", args.train_images, 100, 60_000),
                            ("--test-images", args.test_images, 1, 10_000), ("--chips", args.chips, 1, 1000)):
        if not lo <= v <= hi:
            raise ParameterError(f"{flag} {v} is not allowed: give {lo} to {hi}")
    if not np.isfinite(args.mismatch) or args.mismatch < 0:
        raise ParameterError(f"--mismatch {args.mismatch} is not allowed: give a number >= 0")
    if getattr(args, "t_pulse", None) is not None:
        raise ParameterError("--t-pulse does not apply to --network mbi (the CAM has no wordline pulse)")


def eval_mbi(args) -> int:
    """``charz eval --network mbi``: fit the MBI tables on ``--train-images`` MNIST training images, evaluate
    ``--test-images`` test images with the ideal search and on ``--chips`` chips of the ``cam_sram`` LUT, print
    accuracy, lookups and the energy split per inference; ``--compare`` adds LeNet-5 / ResNet-20 on the
    bit-plane CiM column (charz's engine); ``--out`` writes the accuracy / energy vs rows PNG and
    ``mbi_eval.json``. Returns 0."""
    from ...core.lut import LUT, find_default
    from ...datasets import load
    from .model import CamModel
    from . import model_mbi as mb

    _check(args)
    path = args.lut or find_default(DEFAULT_PDK, DEFAULT_LUT)
    lut = LUT.load(path, block=Kind.CAM_SRAM)
    if args.pdk:
        lut.check_pdk(get_pdk(args).sha256)
    model = CamModel.from_lut(lut, vdd=args.vdd, temp=args.temp, mismatch_scale=args.mismatch)
    if model.n_bits != mb.KEY_BITS:
        raise ParameterError(f"--lut {path}: W = {model.n_bits}, the MBI keys need a cam_sram LUT with W = "
                             f"{mb.KEY_BITS}")
    t0 = time.time()
    train = load("mnist", "train", limit=args.train_images)
    test = load("mnist", "test", limit=args.test_images)
    tables = mb.fit_mbi(train.images, train.labels, glimpses=args.glimpses, rows=args.rows)
    res = mb.evaluate_mbi(model, tables, test.images, test.labels, chips=args.chips, seed=args.seed)
    res.update(lut=str(path), coords=model.coords, mismatch_scale=args.mismatch, train_images=len(train.labels),
               add_J_assumed=mb.ADD_J, value_read_J_per_bit_assumed=mb.VALUE_READ_J_PER_BIT)
    print(format_mbi(res))
    if args.compare:
        res["compare"] = compare_cim(args.seed)
        print(format_compare(res))
    print(f"evaluated in {time.time() - t0:.1f} s")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        sweep = []
        for r in sorted(set(SWEEP_ROWS) | {args.rows}):
            t = mb.fit_mbi(train.images, train.labels, glimpses=args.glimpses, rows=r)
            s = mb.evaluate_mbi(model, t, test.images, test.labels, chips=args.chips, seed=args.seed)
            sweep.append({k: s[k] for k in ("rows", "ideal_accuracy", "chip_accuracy_mean", "chip_accuracy_std",
                                            "search_J", "value_read_J", "accumulate_J", "energy_J")})
        res["sweep_rows"] = sweep
        png = plot_sweep(sweep, args.glimpses, out / "mbi_accuracy_energy_vs_rows.png")
        (out / "mbi_eval.json").write_text(json.dumps(res, indent=1, default=str))
        print(f"wrote {png} and {out / 'mbi_eval.json'}")
    return 0


def format_mbi(r: dict) -> str:
    """The result table of :func:`eval_mbi`."""
    pj = 1e12
    c = r["coords"]
    lines = [f"MBI on MNIST looked up in the SRAM CAM ({r['lut']}, VDD {c['vdd']:g} V, {c['temp']:g} degC, "
             f"mismatch x{r['mismatch_scale']:g})",
             f"  {r['glimpses']} glimpses (8x8 patch -> 16-bit key), {r['rows']} rows per table, "
             f"trained on {r['train_images']} images, tested on {r['images']}",
             f"  glimpse locations (row, col), greedy order: {' '.join(f'({a},{b})' for a, b in r['locations'])}",
             f"  accuracy, ideal search (exact Hamming nearest)  {100 * r['ideal_accuracy']:6.2f} %"
             f"   (training {100 * r['train_accuracy']:.2f} %)",
             f"  accuracy, {len(r['chip_accuracy'])} chips (per-row V_ML offsets)     "
             f"{100 * r['chip_accuracy_mean']:6.2f} +- {100 * r['chip_accuracy_std']:.2f} %"
             f"   (searches won by a nearest row {100 * np.mean(r['chip_nearest_ok']):.2f} %)",
             f"  lookups / inference   {r['lookups']} searches, {r['row_compares']} row compares, {r['adds']} adds",
             f"  energy / inference    {r['energy_J'] * pj:9.3f} pJ",
             f"    CAM searches (LUT)  {r['search_J'] * pj:9.3f} pJ",
             f"    value reads         {r['value_read_J'] * pj:9.3f} pJ  ASSUMED {r['value_read_J_per_bit_assumed'] * 1e15:.0f}"
             f" fJ/bit (8 KB SRAM, 10 pJ / 64 bits, Horowitz ISSCC 2014, 45 nm)",
             f"    accumulation        {r['accumulate_J'] * pj:9.3f} pJ  ASSUMED {r['add_J_assumed'] * 1e15:.0f} fJ per "
             f"8-bit add (Horowitz ISSCC 2014, 45 nm)",
             f"    without value reads {(r['energy_J'] - r['value_read_J']) * pj:9.3f} pJ"]
    return "\n".join(lines)


def compare_cim(seed: int = 0) -> list[dict]:
    """Energy per inference of LeNet-5 (MNIST) and ResNet-20 (CIFAR-10) on the default cim mapping (first and
    last layer digital; LeNet-5 also with every layer on cim), :data:`COMPARE_IMAGES` images, 1 chip, from
    charz's engine."""
    from ...datasets import load
    from ...network import mapping as mp
    from ...network.engine import evaluate_model
    from ...network.model_report import find_model

    out = []
    for name, dataset, first_last, label in COMPARE:
        d = load(dataset, "test", limit=COMPARE_IMAGES)
        r = evaluate_model(str(find_model(name)), d.images, d.labels, mp.default_mapping("cim", first_last),
                           chips=1, seed=seed, references=False)
        out.append({"network": label, "images": COMPARE_IMAGES, "energy_per_inference_J": r["energy_per_inference_J"],
                    "energy_by_component_J": dict(r["energy_by_component_J"]), "chip_accuracy": r["accuracy_mean"]})
    return out


def format_compare(r: dict) -> str:
    """The comparison rows: each network's energy per inference and its ratio to the MBI's."""
    lines = ["  comparison (bit-plane CiM column, default mapping: first and last layer digital unless said; charz "
             f"engine, {COMPARE_IMAGES} images, 1 chip; energy [pJ] by component)"]
    e, e_nr = r["energy_J"], r["energy_J"] - r["value_read_J"]
    for c in r["compare"]:
        lines.append(f"    {c['network']:<38} {c['energy_per_inference_J'] * 1e12:11.1f} pJ  = {c['energy_per_inference_J'] / e:7.1f}x "
                     f"the MBI ({c['energy_per_inference_J'] / e_nr:.0f}x without its value reads); "
                     + ", ".join(f"{k} {v * 1e12:.0f}" for k, v in c["energy_by_component_J"].items()))
    lines.append("    published (MBI vs MLP / ResNet-20 on CiM, MNIST): 2.7x / 83x")
    return "\n".join(lines)


def plot_sweep(sweep: list[dict], glimpses: int, path: Path) -> Path:
    """Accuracy (ideal and chips) and the energy split against the rows per table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = [s["rows"] for s in sweep]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(r, [100 * s["ideal_accuracy"] for s in sweep], "o-", label="ideal search")
    a.errorbar(r, [100 * s["chip_accuracy_mean"] for s in sweep], [100 * s["chip_accuracy_std"] for s in sweep],
               fmt="s--", capsize=3, label="chips (mean +- std)")
    a.set(xscale="log", xlabel="rows per table R", ylabel="MNIST test accuracy [%]", title=f"MBI, G = {glimpses}")
    a.set_xticks(r, [str(x) for x in r])
    a.minorticks_off()
    a.grid(alpha=0.3)
    a.legend()
    bottom = np.zeros(len(r))
    for key, label in (("search_J", "CAM searches (LUT)"), ("value_read_J", "value reads (assumed)"),
                       ("accumulate_J", "accumulation (assumed)")):
        v = np.array([s[key] * 1e12 for s in sweep])
        b.bar([str(x) for x in r], v, bottom=bottom, label=label)
        bottom += v
    b.set(xlabel="rows per table R", ylabel="energy per inference [pJ]", title="energy split")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
