"""``charz study macam``: the ReLUs of an ONNX model read out by the MTJ analog CAM (MACAM, fused activation and
A/D conversion) or by a converter LUT and a digital ReLU, and a SuperMixer-style assignment under energy
budgets (:mod:`charz.study.macam`, :mod:`charz.blocks.cam.model_macam`): options, study.md, result.json, PNGs."""

from __future__ import annotations

import dataclasses
import json
import math
import time

import numpy as np

from ..core.errors import ParameterError
from . import common

DESCRIPTION = ("MACAM / Fuse and Mix (arXiv 2208.08099): every ReLU that directly follows a weight layer is read out "
               "either by the MTJ analog CAM (cam_mtj LUT: K rows of match windows answer the activation's code; "
               "the ReLU fused with the A/D conversion) or by a converter LUT followed by a digital ReLU, per output "
               "channel. A greedy SuperMixer-style search on training images assigns channels to the MACAM where it "
               "saves the most read-out energy for the least accuracy; each --budget (a fraction of the all-digital "
               "read-out energy) takes the best point within it, evaluated on the test images over --chips chips "
               "(each chip's CAM windows and converter instances). The products themselves run exactly (the analog "
               "MAC is not modelled: the published saving is of A/D conversion and activation energy).")
DEFAULT_OPTIONS_TEXT = "none: the products run exactly (backend exact); --set and --first-last do not apply"
PUBLISHED = "over 60 % less A/D conversion and activation energy at competitive accuracy (arXiv 2208.08099)"
DEFAULT_ADCS = "adc_sar5,adc_flash5"


def add_arguments(p) -> None:
    """The method's own options."""
    p.add_argument("--cam-lut", default=None, help="cam_mtj LUT (default <pdk>/cam_mtj on the LUT search path)")
    p.add_argument("--mismatch", type=float, default=1.0,
                   help="scale of the CAM windows' Monte Carlo spread (1 = the LUT's; 0 = nominal arrays)")
    p.add_argument("--adc", default=DEFAULT_ADCS,
                   help=f"converter LUTs of the digital read-out, names on the LUT search path or paths, comma-"
                        f"separated: the study runs once against each (default {DEFAULT_ADCS})")
    p.add_argument("--adc-calibration", choices=("none", "offset", "trim"), default="trim",
                   help="the converters' offset calibration (default trim: the comparator trim LUT)")
    p.add_argument("--act-energy", type=float, default=None,
                   help="energy of the digital ReLU per output in J (default 30e-15, ASSUMED: one 8-bit add)")
    p.add_argument("--verify", action="store_true",
                   help="program and verify every MACAM row: its upper branch written to the state whose edge on "
                        "that cell lies nearest the target (MTJ states are rewritable; the programming's cost is "
                        "not counted)")
    p.add_argument("--max-codes", type=int, default=8, help="most MACAM rows (output levels) per array (default 8)")
    p.add_argument("--groups", type=int, default=4,
                   help="channel slices per layer the search moves one at a time (default 4; 1 = whole layers)")
    p.add_argument("--val-images", type=int, default=500,
                   help="training images the assignment search is validated on (default 500)")
    p.add_argument("--search-chips", type=int, default=2,
                   help="chips the search averages over (not the test chips; default 2)")
    p.add_argument("--budget", default="0.4,0.6,0.8",
                   help="read-out energy budgets as fractions of the all-digital read-out, comma-separated "
                        "(default 0.4,0.6,0.8; 0.4 = the published 60 %% saving)")
    p.add_argument("--spread", default="0,0.125,0.25,0.5,1",
                   help="scales of the CAM windows' Monte Carlo spread for the all-MACAM accuracy-versus-spread "
                        "runs, comma-separated (default 0,0.125,0.25,0.5,1; 'none' skips them)")


def check(args) -> dict:
    """The method's numbers, checked before anything loads."""
    from ..blocks.cam.model_macam import ACT_J

    if args.set:
        raise ParameterError("--set does not apply to the MACAM study: its products run exactly (backend exact)")
    for flag, v, lo, hi in (("--max-codes", args.max_codes, 2, 64), ("--groups", args.groups, 1, 64),
                            ("--val-images", args.val_images, 10, 60_000),
                            ("--search-chips", args.search_chips, 1, 100)):
        if not lo <= v <= hi:
            raise ParameterError(f"{flag} {v}: give {lo} to {hi}")
    if not (math.isfinite(args.mismatch) and args.mismatch >= 0):
        raise ParameterError(f"--mismatch {args.mismatch}: give a number >= 0 (1 = the LUT's spread)")
    act = ACT_J if args.act_energy is None else args.act_energy
    if not (math.isfinite(act) and 0 <= act < 1e-9):
        raise ParameterError(f"--act-energy {act}: give joules per output, 0 to 1e-9 (e.g. 30e-15)")
    adcs = [t.strip() for t in args.adc.split(",") if t.strip()]
    if not adcs:
        raise ParameterError("--adc: give at least one converter LUT")
    spread = [] if args.spread.strip().lower() == "none" else common.float_list(args.spread, "--spread", 0, 10)
    budgets = common.float_list(args.budget, "--budget", 0, 1, lo_open=True)
    return {"budgets": budgets, "act_J": act, "adcs": adcs, "spread": spread}


def _converter(name: str, pdk: str, calibration: str):
    from pathlib import Path

    from ..blocks.adc.model import DigitizerModel, check_lut
    from ..blocks.comparator.model_trim import trim_dac
    from ..core.lut import LUT, find_default

    path = name if Path(name).suffix in (".npz", ".json") or "/" in name else find_default(pdk, name)
    lut = check_lut(LUT.load(path))
    trim = trim_dac(None, pdk, lut, {k: lut.default_coord(k)[0] for k in ("vdd", "temp")}) \
        if calibration == "trim" else None
    return DigitizerModel.from_lut(lut, reference="lut", calibration=calibration, trim=trim), str(path)


def run(args) -> int:
    """Check, design, search, evaluate; write OUT/result.json, OUT/study.md and the PNGs. Returns 0."""
    from ..blocks.cam.model_mtj import MtjCamModel
    from ..core.lut import LUT, Kind, find_default
    from ..network import engine as en
    from ..network.mapping import default_mapping
    from . import macam as mc

    opt = check(args)
    cam_path = args.cam_lut or find_default(args.pdk, "cam_mtj")
    cam = MtjCamModel.from_lut(LUT.load(cam_path, block=Kind.CAM_MTJ), mismatch_scale=args.mismatch)
    convs = [_converter(a, args.pdk, args.adc_calibration) for a in opt["adcs"]]
    ctx = common.prepare(args, fit_count=args.calib_images + args.val_images)
    t0 = time.time()
    n_cal = min(args.calib_images, ctx.fit.images.shape[0] - args.val_images)
    if n_cal < 1:
        raise ParameterError(f"the training split has {ctx.fit.images.shape[0]} images: fewer than --val-images "
                             f"{args.val_images} + 1 calibration image")
    cal, val = slice(0, n_cal), slice(n_cal, n_cal + args.val_images)
    mapping = default_mapping("exact", "same")
    kw = dict(calib_images=ctx.fit.images[cal], calib_count=n_cal, seed=args.seed)
    plan, _ = en.make_plan(str(ctx.model), ctx.test.images, ctx.test.labels, mapping, **kw)
    fused, skipped = mc.fused_layers(plan)
    if not fused:
        raise ParameterError(f"{ctx.model.name}: no weight layer feeds a Relu directly (through its own bias only), "
                             f"so no activation can be fused: {'; '.join(f'{k}: {v}' for k, v in skipped.items())}")
    # the same quantization and preprocessing on the validation and calibration images
    vplan = dataclasses.replace(plan, images=ctx.fit.images[val], labels=ctx.fit.labels[val])
    cplan = dataclasses.replace(plan, images=ctx.fit.images[cal], labels=ctx.fit.labels[cal])
    z = mc.capture(cplan, fused)
    print(f"  {len(fused)} fused ReLUs ({', '.join(fused)}); designing the MACAM rows", flush=True)
    base = mc.Readouts.build(cam, convs[0][0], fused, z, args.max_codes, opt["act_J"], seed=args.seed,
                             verify=args.verify)
    ideal = en.run_chip(plan, "ideal")["accuracy"]
    from ..blocks.cam.model_macam import ACT_SOURCE

    res = {"method": "macam", "chips": args.chips, "n_test_images": int(plan.n_images),
           "n_val_images": int(vplan.n_images), "n_calib_images": n_cal, "search_chips": args.search_chips,
           "groups": args.groups, "budgets": opt["budgets"], "act_J": opt["act_J"],
           "act_source": "given" if args.act_energy is not None else "ASSUMED: " + ACT_SOURCE,
           "cam_lut": str(cam_path), "cam": cam.describe(), "mismatch": args.mismatch, "verify": args.verify,
           "fused": {n: {"relu": f.relu, "channels": int(f.bias.size), "outputs_per_image":
                         int(plan.layers[n].positions * f.bias.size), "design": base.designs[n].describe()}
                     for n, f in fused.items()},
           "skipped": skipped, "ideal_accuracy": ideal, "baselines": []}
    search_chips = [10_000 + i for i in range(args.search_chips)]
    for conv, path in convs:
        ro = base.with_converter(conv, z, opt["act_J"])
        label = conv.short_label
        print(f"  against {label}: ordering channels, searching", flush=True)
        order = mc.channel_order(ro, z)
        path_pts = mc.supermix(vplan, ro, order, args.groups, search_chips, log=lambda s: print(s, flush=True))
        full = {n: args.groups for n in fused}
        runs = []

        def test(lbl, steps):
            r = mc.run_assignment(plan, ro, mc.masks(ro, order, steps, args.groups), list(range(args.chips)))
            r.update(label=lbl, steps=dict(steps), analog_share=_share(plan, ro, mc.masks(ro, order, steps,
                                                                                          args.groups)))
            runs.append(r)
            print(f"    test, {lbl}: {100 * r['accuracy_mean']:.2f} +- {100 * r['accuracy_std']:.2f} %, read-out "
                  f"{r['readout_energy_total_J'] * 1e12:.2f} pJ / inference", flush=True)
            return r

        dig = test("all digital", {n: 0 for n in fused})
        ana = test("all MACAM", full)
        picks = []
        for b in opt["budgets"]:
            p = mc.pick(path_pts, b)
            if p is None:
                picks.append({"budget": b, "reachable": False})
                continue
            r = test(f"budget {b:g}", p["steps"])
            picks.append({"budget": b, "reachable": True, "label": r["label"]})
        e_dig = dig["readout_energy_total_J"]
        for r in runs:
            r["saving"] = 1 - r["readout_energy_total_J"] / e_dig if e_dig > 0 else None
        res["baselines"].append({"adc_lut": path, "adc": conv.describe() | {"label": label},
                                 "energy_per_output_J": {n: {"macam": m, "digital": d}
                                                         for n, (m, d) in ro.energy_per_output().items()},
                                 "search_path": [{k: v for k, v in p.items() if k != "counters"} for p in path_pts],
                                 "runs": runs, "budget_picks": picks, "all_macam_saving": ana["saving"]})
    if opt["spread"]:
        print("  all-MACAM accuracy against the windows' spread", flush=True)
        res["spread_sweep"] = mc.spread_sweep(plan, LUT.load(cam_path, block=Kind.CAM_MTJ), convs[0][0], fused, z,
                                              opt["spread"], range(args.chips), args.max_codes, opt["act_J"],
                                              seed=args.seed, log=lambda s: print(s, flush=True),
                                              verify=args.verify)
    res.update(common.about(ctx), seconds=time.time() - t0, published=PUBLISHED)
    title = f"MACAM: {ctx.model.stem} on {ctx.test.description}"
    (ctx.out / "result.json").write_text(json.dumps(res, indent=1, default=_json))
    (ctx.out / "study.md").write_text(markdown(res, title))
    from ..plot.study import macam_figures

    pngs = macam_figures(res, base, z, ctx.out, title)
    print(markdown(res, title))
    for p in ["result.json", "study.md"] + [q.name for q in pngs]:
        print(f"wrote {ctx.out / p}")
    return 0


def _json(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def _share(plan, ro, m: dict) -> float:
    """The share of the fused read-outs per image that go to the MACAM under masks *m*."""
    tot = sum(plan.layers[n].positions * len(f.bias) for n, f in ro.fused.items())
    ana = sum(plan.layers[n].positions * int(m[n].sum()) for n in ro.fused)
    return ana / tot if tot else 0.0


def markdown(res: dict, title: str) -> str:
    """The tables: the MACAM designs, then per converter the test runs, and the published figure with the
    reasons for the difference."""
    pj = 1e12
    lines = [f"# {title}", "",
             f"{res['chips']} test chips, {res['n_test_images']} test images; the search on {res['n_val_images']} "
             f"training images over {res['search_chips']} other chips, {res['groups']} channel slice(s) per layer; "
             f"products exact (float ReLU: {100 * res['ideal_accuracy']:.2f} %); CAM {res['cam_lut']} at "
             f"{res['cam']['coords']['vdd']:g} V, window spread x{res['mismatch']:g}"
             f"{', rows programmed and verified' if res.get('verify') else ''}; digital ReLU "
             f"{res['act_J'] * 1e15:.0f} fJ per output ({res['act_source']}).", "",
             "| fused layer | channels | read-outs / image | MACAM rows | stored values | driver o [V] / g [V/unit] | "
             "expected sq. error (chips / nominal / ideal K-level) |", "|---|---|---|---|---|---|---|"]
    for n, f in res["fused"].items():
        d = f["design"]
        lines.append(f"| {n} | {f['channels']} | {f['outputs_per_image']} | {d['codes']} | "
                     f"{', '.join(f'{v:.2f}' for v in d['values'])} | {d['offset_V']:.3f} / {d['gain_V']:.4f} | "
                     f"{d['mse']:.3g} / {d['mse_nominal']:.3g} / {d['mse_ideal_quantizer']:.3g} |")
    if res["skipped"]:
        lines += ["", "Not fused (their arithmetic unchanged): "
                  + "; ".join(f"{k} ({v})" for k, v in res["skipped"].items()) + "."]
    for b in res["baselines"]:
        epo = next(iter(b["energy_per_output_J"].values()))
        lines += ["", f"## Against {b['adc']['label']}", "",
                  f"Per read-out: digital {epo['digital'] * 1e15:.1f} fJ (conversion + ReLU); MACAM "
                  + ", ".join(f"{n} {v['macam'] * 1e15:.1f} fJ" for n, v in b["energy_per_output_J"].items()) + ".",
                  "", "| assignment | accuracy (mean ± std) | read-out [pJ / inference] | of which | on MACAM | saving |",
                  "|---|---|---|---|---|---|"]
        runs = {r["label"]: r for r in b["runs"]}
        order = ["all digital", "all MACAM"] + [p.get("label") or p["budget"] for p in b["budget_picks"]]
        for key in order:
            r = runs.get(key)
            if r is None:
                lines.append(f"| budget {key:g} | not reachable: the all-MACAM read-out saves "
                             f"{100 * b['all_macam_saving']:.1f} % | | | | |")
                continue
            parts = ", ".join(f"{k} {v * pj:.1f}" for k, v in r["readout_energy_J"].items())
            lines.append(f"| {r['label']} | {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} % | "
                         f"{r['readout_energy_total_J'] * pj:.1f} | {parts} | {100 * r['analog_share']:.0f} % | "
                         f"{100 * r['saving']:.1f} % |")
    if res.get("spread_sweep"):
        lines += ["", "## All MACAM against the windows' spread (designs remade for each spread)", "",
                  "| spread (x the LUT's) | accuracy (mean ± std) | rows per fused layer | read-out [pJ / inference] |",
                  "|---|---|---|---|"]
        for r in res["spread_sweep"]:
            lines.append(f"| {r['scale']:g} | {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} % | "
                         f"{', '.join(str(v) for v in r['rows'].values())} | {r['readout_energy_total_J'] * pj:.1f} |")
    lines += ["", f"Published: {res['published']}. Why ours differs: the published baseline is a silicon photonic "
              "accelerator's high-speed converters and digital activation units, ours the SPICE converter LUTs "
              "named above (0.7 V) and an assumed digital ReLU; our MACAM is the cam_mtj LUT's cell (0.8 V; MTJ "
              "resistances, TMR and their 4 % spread are assumptions of that LUT) read by every row at every search, "
              "with no retraining of the network for the analog read-out (SuperMixer trains the network and the "
              "assignment together; this search measures and does not train)."]
    return "\n".join(lines) + "\n"
