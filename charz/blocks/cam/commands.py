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
COMPARE = (("mlp_mnist", "mnist", "same", "MLP (784-256-128-10) on MNIST, every layer on cim"),
           ("lenet5", "mnist", "digital", "LeNet-5 on MNIST"),
           ("lenet5", "mnist", "same", "LeNet-5 on MNIST, every layer on cim"),
           ("resnet20", "cifar10", "digital", "ResNet-20 on CIFAR-10 (input differs)"))
"""The baselines of ``--compare``: (zoo model, dataset, first_last of the cim mapping, label)."""
COMPARE_IMAGES = 20
COMPARE_ADC = "adc_sar5"
"""The converter LUT (on the LUT search path of :data:`DEFAULT_PDK`) that reads the baselines' columns out."""
COMPARE_CALIBRATION = "trim"
"""Its calibration: every comparator offset trimmed through the SPICE-characterized trim DAC."""
PUBLISHED_RATIOS = {"MLP": 2.7, "ResNet-20": 83.0}
"""Published energy ratios (network on CiM / MBI) on MNIST."""


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
    accuracy, lookups and the energy split per inference; ``--compare`` adds an MLP, LeNet-5 and ResNet-20 on
    the bit-plane CiM column (charz's engine, read out by the SAR converter LUT: :func:`compare_cim`); ``--out``
    writes the accuracy / energy vs rows PNG and ``mbi_eval.json``. Returns 0."""
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
    """Energy per inference of the :data:`COMPARE` networks on the bit-plane CiM column (charz's engine,
    :data:`COMPARE_IMAGES` test images, 1 chip, 8-bit weights and activations): each run twice, the columns read
    out by the SPICE SAR converter LUT :data:`COMPARE_ADC` with calibration :data:`COMPARE_CALIBRATION` (the
    figure compared: conversions charged) and by the cim backend's ideal quantizer (0 J per conversion, the
    figure ``--compare`` printed before)."""
    from ...core.lut import find_default
    from ...datasets import load
    from ...network import mapping as mp
    from ...network.engine import evaluate_model
    from ...network.model_report import find_model

    adc = str(find_default(DEFAULT_PDK, COMPARE_ADC))
    readouts = (("converter", {"adc_lut": adc, "calibration": COMPARE_CALIBRATION}), ("ideal_quantizer", {}))
    out = []
    for name, dataset, first_last, label in COMPARE:
        d = load(dataset, "test", limit=COMPARE_IMAGES)
        row = {"network": label, "model": name, "dataset": dataset, "first_last": first_last,
               "images": COMPARE_IMAGES, "adc_lut": adc, "calibration": COMPARE_CALIBRATION}
        for key, options in readouts:
            r = evaluate_model(str(find_model(name)), d.images, d.labels,
                               mp.default_mapping("cim", first_last, **options), chips=1, seed=seed, references=False)
            run = {"energy_per_inference_J": r["energy_per_inference_J"],
                   "energy_by_component_J": dict(r["energy_by_component_J"]), "chip_accuracy": r["accuracy_mean"],
                   "conversions_per_inference": float(sum(x.get("conversions_per_image") or 0.0
                                                          for x in r["layers"]))}
            if key == "converter":
                row.update(run)
            else:
                row["ideal_quantizer"] = run
        out.append(row)
    return out


def format_compare(r: dict) -> str:
    """The comparison rows: each network's energy per inference with the converter read-out, its split, its
    ratio to the MBI's (and to the MBI's without its assumed value reads), the same with the ideal quantizer,
    and the published ratios."""
    pj = 1e12
    rows = r["compare"]
    adc = rows[0]["adc_lut"] if rows else COMPARE_ADC
    cal = rows[0]["calibration"] if rows else COMPARE_CALIBRATION
    tag = f"{Path(adc).name} {cal}"
    e, e_nr = r["energy_J"], r["energy_J"] - r["value_read_J"]
    lines = [f"  comparison: networks on the bit-plane CiM column (charz engine, {COMPARE_IMAGES} test images, "
             f"1 chip, 8-bit weights and activations; first and last layer digital unless said)",
             f"    read-out '{tag}': the SPICE converter LUT {adc}, calibration {cal} (every conversion "
             f"charged); 'ideal q.': the cim backend's ideal quantizer (0 J per conversion)",
             f"    {'network':<50} {'read-out':<14} {'energy [pJ]':>12} {'x MBI':>10} {'x MBI w/o reads':>16}  "
             f"{'array':>8} {'read-out':>9} {'digital':>8} [pJ]  {'conversions':>10}  accuracy"]

    def row(label, kind, c):
        comp, en = c["energy_by_component_J"], c["energy_per_inference_J"]
        return (f"    {label:<50} {kind:<14} {en * pj:12.1f} {en / e:9.1f}x {en / e_nr:15.1f}x  "
                f"{comp.get('array', 0.0) * pj:8.0f} "
                f"{comp.get('readout', 0.0) * pj:9.0f} {comp.get('digital', 0.0) * pj:8.0f}        "
                f"{c.get('conversions_per_inference', float('nan')):10.3g}  {100 * c['chip_accuracy']:6.1f} %")

    for c in rows:
        lines.append(row(c["network"], tag, c))
        if c.get("ideal_quantizer") is not None:
            lines.append(row("", "ideal q.", c["ideal_quantizer"]))
    lines.append(f"    published (MBI vs MLP / ResNet-20 on CiM, MNIST): {PUBLISHED_RATIOS['MLP']:g}x / "
                 f"{PUBLISHED_RATIOS['ResNet-20']:g}x (x MBI above: network energy / MBI energy, "
                 f"{e * pj:.1f} pJ; w/o reads: / {e_nr * pj:.1f} pJ)")
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
