"""``charz study hcim``: HCiM's ADC-less ternary partial sums against the same network read out by the converter
LUTs (:mod:`charz.study.hcim`, :mod:`charz.study.hcim_train`): options, study.md, result.json."""

from __future__ import annotations

import json
import time

import numpy as np

from ..core.errors import ParameterError
from . import common

DESCRIPTION = ("HCiM (arXiv 2403.13577): the CiM layers of an ONNX model (shipped or yours) are trained (PyTorch) for ADC-less "
               "read-out: each column pair's partial sum is a ternary decision of the WHT latch pair (its wht_column "
               "LUT) times a trained per-column scale factor added digitally. Evaluated on the executor per chip (each "
               "chip's latch thresholds), beside the same network read out by the SAR LUTs of 3 to 6 bits (trim on); "
               "energy of the CiM layers per inference (README, 'Published methods'). Needs PyTorch.")
DEFAULT_OPTIONS_TEXT = "w_bits=4, x_bits=4 for every read-out; calibration=trim for the converter baselines"
PUBLISHED = "up to 28 % and 12 % less energy than analog CiM with 7-bit and 4-bit ADCs (arXiv 2403.13577)"


def add_arguments(p) -> None:
    """The method's own options."""
    p.add_argument("--epochs", type=int, default=2, help="quantization-aware training epochs (default 2)")
    p.add_argument("--train-images", type=int, default=10000, help="training images (default 10000)")
    common.add_lr(p)
    p.add_argument("--adc-bits", default="3,4,5,6", help="converter resolutions of the baselines (default 3,4,5,6)")
    p.add_argument("--latch-lut", default=None, help="wht_column LUT of the latch pair (default <pdk>/wht16)")
    p.add_argument("--add-lut", default=None,
                   help="dcim_add LUT whose measured energy per add is charged per scale-factor add (default "
                        "<pdk>/dcim_add8; without it the assumed 30 fJ of charz.study.hcim_train.ADD_ENERGY_J)")
    p.add_argument("--vdd", type=float, default=0.8, help="the latch LUT's supply (default 0.8 V, on its grid)")
    p.add_argument("--hardware-aware", action="store_true",
                   help="train against a chip drawn afresh at every step (the latches' Monte Carlo thresholds) "
                        "instead of the nominal decisions")


def run(args) -> int:
    """Check, train, evaluate, write OUT/result.json and OUT/study.md. Returns 0."""
    from ..blocks.wht.model import WhtModel
    from ..core.lut import LUT, find_default
    from ..network import engine as en
    from ..network import zoo
    from ..network.mapping import default_mapping
    from . import hcim_train as ht

    bits = common.int_list(args.adc_bits, "--adc-bits")
    lr = common.check_lr(args.lr)
    if args.epochs < 0 or args.train_images < 1:
        raise ParameterError("--epochs must be >= 0 and --train-images >= 1")
    zoo._torch()  # a one-line error before anything runs when PyTorch is missing
    latch = WhtModel.from_lut(LUT.load(args.latch_lut or find_default(args.pdk, "wht16")), vdd=args.vdd)
    add = add_energy(args, find_default)
    ctx = common.prepare(args, fit_count=args.train_images)
    ht.load_module(ctx.model)  # refused here, before the baselines run, when its graph cannot be trained
    wq = {"w_bits": 4, "x_bits": 4}
    t0 = time.time()
    test = (ctx.test.images, ctx.test.labels)
    plan, _ = en.make_plan(str(ctx.model), *test, default_mapping("cim", "digital"),
                           calib_images=ctx.fit.images, calib_count=ctx.calib_count)
    cim = [n for n, lp in plan.layers.items() if lp.backend == "cim"]
    cim_ops = 2 * sum(plan.layers[n].macs_per_image for n in cim)
    res = {"method": "hcim", "hardware_aware": args.hardware_aware, "chips": args.chips, "n_test_images": int(test[0].shape[0]),
           "n_train_images": int(ctx.fit.images.shape[0]), "epochs": args.epochs, "lr": lr, "cim_layers": cim,
           "latch_lut": latch.describe(), **add, "runs": []}
    kw = dict(chips=args.chips, seed=args.seed, calib_images=ctx.fit.images, calib_count=ctx.calib_count)
    for b in bits:
        lut = str(find_default(args.pdk, f"adc_sar{b}"))
        r = en.evaluate_model(str(ctx.model), *test,
                              default_mapping("cim", "digital", adc_lut=lut, calibration="trim", **wq), **kw)
        e = {}
        for row in r["layers"]:
            if row["name"] in cim:
                for k, v in row["energy_by_component_J"].items():
                    e[k] = e.get(k, 0.0) + v
        res["runs"].append({"label": f"SAR {b}-bit (trim)", "accuracy_per_chip": r["accuracy_per_chip"],
                            "accuracy_mean": r["accuracy_mean"], "accuracy_std": r["accuracy_std"],
                            "cim_energy_J": e, "ideal_accuracy": r["ideal_accuracy"]})
        print(f"  SAR {b}-bit: {100 * r['accuracy_mean']:.2f} %, CiM layers {sum(e.values()) * 1e9:.3f} nJ", flush=True)
    tr = ht.train(ctx.model, ctx.fit.images, ctx.fit.labels, cim, latch, epochs=args.epochs, seed=args.seed,
                  hardware_aware=args.hardware_aware, lr=lr, log=lambda s: print(s, flush=True))
    stem = ctx.model.stem
    (ctx.out / f"{stem}_hcim.onnx").write_bytes(tr.onnx)
    np.savez(ctx.out / f"{stem}_hcim_layers.npz",
             **{f"{n}|{k}": np.asarray(v) for n, r in tr.layers.items() for k, v in r.items()})
    hplan, _ = en.make_plan(tr.onnx, *test, default_mapping("cim", "digital", columns="ideal"),
                            calib_images=ctx.fit.images, calib_count=ctx.calib_count)
    for label, chips in (("HCiM, nominal latches", [None]), ("HCiM (each chip's latches)", list(range(args.chips)))):
        accs, e = [], {}
        for c in chips:
            rr = en.run_chip(hplan, 0 if c is None else c,
                             adapters=ht.adapters(tr.layers, latch, None if c is None else
                                                  np.random.default_rng([args.seed, c]),
                                                  add_energy=add["add_energy_J"]))
            accs.append(rr["accuracy"])
            for n in cim:
                for k, v in rr["costs"][n].energy.items():
                    e[k] = e.get(k, 0.0) + v / (hplan.n_images * len(chips))
        a = np.array(accs)
        res["runs"].append({"label": label, "accuracy_per_chip": accs, "accuracy_mean": float(a.mean()),
                            "accuracy_std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "cim_energy_J": e})
        print(f"  {label}: {100 * a.mean():.2f} %, CiM layers {sum(e.values()) * 1e9:.3f} nJ", flush=True)
    for r in res["runs"]:
        tot = sum(r["cim_energy_J"].values())
        r["cim_energy_total_J"] = tot
        r["cim_tops_per_watt"] = cim_ops / tot / 1e12 if tot > 0 else None
    res.update(common.about(ctx), seconds=time.time() - t0, history=tr.history, train_seconds=tr.seconds,
               published=PUBLISHED)
    title = f"HCiM: {ctx.model.stem} on {ctx.test.description}"
    (ctx.out / "result.json").write_text(json.dumps(res, indent=1, default=str))
    (ctx.out / "study.md").write_text(markdown(res, title))
    from ..plot.study import hcim_figure

    hcim_figure(res, ctx.out / "energy_vs_accuracy.png", title)
    print(markdown(res, title))
    for p in ("result.json", "study.md", "energy_vs_accuracy.png", f"{stem}_hcim.onnx", f"{stem}_hcim_layers.npz"):
        print(f"wrote {ctx.out / p}")
    return 0


def add_energy(args, find_default) -> dict:
    """The energy per scale-factor add: measured, from the ``dcim_add`` LUT of ``--add-lut`` (default
    ``<pdk>/dcim_add8`` when it is on the LUT search path) at ``--vdd``, or the assumed
    :data:`charz.study.hcim_train.ADD_ENERGY_J` with a printed note when no such LUT exists. Returns the
    result.json entries ``add_energy_J``, ``add_energy_source`` and ``add_lut`` (the model's description)."""
    from ..blocks.dcim.model import DcimAddModel
    from ..core.errors import LUTError
    from . import hcim_train as ht

    path = args.add_lut
    if path is None:
        try:
            path = find_default(args.pdk, "dcim_add8")
        except LUTError:
            print(f"note: no dcim_add8 LUT for {args.pdk}: the scale-factor add is charged the ASSUMED "
                  f"{ht.ADD_ENERGY_J * 1e15:.0f} fJ (charz.study.hcim_train.ADD_ENERGY_J)", flush=True)
            return {"add_energy_J": ht.ADD_ENERGY_J, "add_energy_source": "assumed", "add_lut": None}
    m = DcimAddModel.from_lut(path, vdd=args.vdd)
    d = m.describe()
    d["lut"] = str(path)
    return {"add_energy_J": m.energy_per_add, "add_energy_source": "measured", "add_lut": d}


def _add_text(res: dict) -> str:
    e = res["add_energy_J"] * 1e15
    if res.get("add_energy_source") == "measured" and res.get("add_lut"):
        a = res["add_lut"]
        return (f"{e:.1f} fJ (measured: {a.get('n_bits')}-bit bitline-computing add at {a.get('vdd')} V, "
                f"dcim_add LUT {a.get('lut')})")
    return f"{e:.0f} fJ (assumed)"


def markdown(res: dict, title: str) -> str:
    """The comparison table and the published figure with the reasons for the difference."""
    lines = [f"# {title}", "", f"{res['chips']} chips, {res['n_test_images']} test images; W4A4 everywhere; HCiM "
             f"trained {res['epochs']} epochs on {res['n_train_images']} training images (Adam, learning rate "
             f"{res.get('lr', 1e-3):g})"
             f"{' against a fresh chip every step' if res.get('hardware_aware') else ' on nominal latches'}; latch pair "
             f"{res['latch_lut'].get('vdd')} V wht_column LUT; scale-factor add {_add_text(res)}.", "",
             "| read-out | accuracy (mean ± std) | CiM layers [nJ / inference] | of which | CiM-layer TOPS/W |",
             "|---|---|---|---|---|"]
    for r in res["runs"]:
        parts = ", ".join(f"{k} {v * 1e9:.3f}" for k, v in r["cim_energy_J"].items())
        lines.append(f"| {r['label']} | {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} % | "
                     f"{r['cim_energy_total_J'] * 1e9:.3f} | {parts} | {r['cim_tops_per_watt']:.1f} |")
    lines += ["", f"Published: {res['published']}. Why ours differs: our converter baselines are our SPICE SAR LUTs "
              "(their energy per conversion does not halve per bit), the latch pair's energy is the WHT crossbar's "
              "column-plane energy at its own supply (0.8 V against the column's 0.7 V), and the scale-factor "
              + ("adds are our SPICE bitline-computing 8-bit add (6T array, two rows, static ripple-carry adder), "
                 "one per nonzero decision." if res.get("add_energy_source") == "measured" else
                 "adds are an assumed 8-bit add energy, not a characterized digital CiM array.")]
    return "\n".join(lines) + "\n"
