"""Study behind the shipped digits WHT network (charz/network/data/digits_wht.npz).

    python bench/wht_network_study.py modes     [--seeds 0,1,2] [--chips 5]
    python bench/wht_network_study.py sparsity  --mode ternary [--values 0,0.1,0.2,0.3,0.5,1,3] [--seeds 0] [--chips 5]
    python bench/wht_network_study.py ship      --mode ternary --sparsity 0.3 [--seed 0] [--chips 5]

``modes``: ideal-trained vs hardware-aware-trained networks, ternary latch pair on lut/ptm16hp/wht16 and
sign latch on lut/ptm16hp/wht16_sign, evaluated at 0.8 V (chips from evaluate_wht's seed 0, never the
training chips). ``sparsity``: the L1 weight vs output sparsity, energy skipped by early termination,
TOPS/W and accuracy (hardware-aware training in the given mode). ``ship``: re-train the chosen variant,
evaluate it and write the shipped weights. Every run is deterministic (fixed seeds); CPU times vary with
the load. SPICE is never run: the LUTs are read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from charz.core.lut import LUT  # noqa: E402
from charz.network.wht import DATA, evaluate_wht, format_wht, train_digits_wht  # noqa: E402

LUTS = {"ternary": "lut/ptm16hp/wht16", "sign": "lut/ptm16hp/wht16_sign"}
VDD = 0.8


def _lut(mode: str) -> tuple[LUT, str]:
    path = LUTS[mode]
    return LUT.load(path, block="wht_column"), path


def _train(mode: str, hw: bool, seed: int, sparsity: float, **kw):
    lut, path = _lut(mode)
    return train_digits_wht(seed=seed, mode=mode, sparsity=sparsity, lut=path if hw else None, vdd=VDD,
                            **kw)


def _row(net, mode: str, chips: int) -> dict:
    lut, _ = _lut(mode)
    r = evaluate_wht(lut, net, vdd=VDD, mode=mode, chips=chips, seed=0)
    return {"ideal": r["ideal_accuracy"], "float": r["float_accuracy"], "cim_mean": r["cim_accuracy_mean"],
            "cim_min": r["cim_accuracy_min"], "cim_max": r["cim_accuracy_max"],
            "output_sparsity": r["output_sparsity"], "energy_skipped": r["energy_skipped_fraction"],
            "planes_skipped_forward": r["planes_skipped_fraction_forward"],
            "e_et_pJ": 1e12 * r["energy_per_inference_et_J"], "e_no_et_pJ": 1e12 * r["energy_per_inference_no_et_J"],
            "tops_w_et": r["tops_per_watt_et"], "tops_w_no_et": r["tops_per_watt_no_et"],
            "train_cpu_s": net.meta["train_cpu_s"]}


def _pct(x: float) -> str:
    return f"{100 * x:5.2f}"


def modes(args) -> list[dict]:
    rows = []
    print(f"{'mode':8} {'LUT':24} {'training':15} {'seed':>4} {'float':>6} {'ideal':>6} {'CiM mean [min..max]':>24} "
          f"{'TOPS/W':>7} {'cpu s':>6}")
    for mode in ("ternary", "sign"):
        for hw in (False, True):
            for seed in args.seeds:
                net = _train(mode, hw, seed, args.sparsity)
                r = _row(net, mode, args.chips)
                rows.append({"mode": mode, "lut": LUTS[mode], "hardware_aware": hw, "seed": seed, **r})
                print(f"{mode:8} {LUTS[mode]:24} {'hardware-aware' if hw else 'ideal':15} {seed:>4} {_pct(r['float']):>6} "
                      f"{_pct(r['ideal']):>6} {_pct(r['cim_mean']):>8} [{_pct(r['cim_min'])}..{_pct(r['cim_max'])}] "
                      f"{r['tops_w_et']:7.1f} {r['train_cpu_s']:6.1f}", flush=True)
    print("mean over seeds:")
    for mode in ("ternary", "sign"):
        for hw in (False, True):
            sel = [r for r in rows if r["mode"] == mode and r["hardware_aware"] == hw]
            print(f"  {mode:8} {'hardware-aware' if hw else 'ideal':15} ideal {_pct(np.mean([r['ideal'] for r in sel]))}  "
                  f"CiM {_pct(np.mean([r['cim_mean'] for r in sel]))} (chip min {_pct(min(r['cim_min'] for r in sel))}, "
                  f"max {_pct(max(r['cim_max'] for r in sel))})")
    return rows


def sparsity(args) -> list[dict]:
    rows = []
    print(f"{args.mode} latch ({LUTS[args.mode]}), {VDD} V, {'hardware-aware' if not args.ideal else 'ideal'} training, "
          f"{args.chips} chips")
    print(f"{'L1':>6} {'seed':>4} {'ideal':>6} {'CiM mean [min..max]':>24} {'out. sparsity':>13} {'fwd planes skip':>15} "
          f"{'E skipped':>9} {'E ET pJ':>8} {'E noET pJ':>9} {'TOPS/W ET':>9} {'no ET':>6}")
    for s in args.values:
        for seed in args.seeds:
            net = _train(args.mode, not args.ideal, seed, s)
            r = _row(net, args.mode, args.chips)
            rows.append({"sparsity": s, "seed": seed, **r})
            print(f"{s:6g} {seed:>4} {_pct(r['ideal']):>6} {_pct(r['cim_mean']):>8} [{_pct(r['cim_min'])}..{_pct(r['cim_max'])}] "
                  f"{_pct(r['output_sparsity']):>13} {_pct(r['planes_skipped_forward']):>15} {_pct(r['energy_skipped']):>9} "
                  f"{r['e_et_pJ']:8.3f} {r['e_no_et_pJ']:9.3f} {r['tops_w_et']:9.1f} {r['tops_w_no_et']:6.1f}", flush=True)
    return rows


def ship(args) -> None:
    net = _train(args.mode, True, args.seed, args.sparsity)
    lut, _ = _lut(args.mode)
    r = evaluate_wht(lut, net, vdd=VDD, mode=args.mode, chips=args.chips, seed=0)
    print(format_wht(r))
    out = Path(args.out) if args.out else DATA
    net.save(out)
    print(f"wrote {out} (ideal {_pct(net.meta['ideal_test_accuracy'])} %, trained in {net.meta['train_cpu_s']} s CPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("modes", "sparsity", "ship"))
    ap.add_argument("--mode", choices=("ternary", "sign"), default="ternary")
    ap.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chips", type=int, default=5)
    ap.add_argument("--sparsity", type=float, default=0.0, help="L1 weight (modes, ship)")
    ap.add_argument("--values", default="0,0.1,0.2,0.3,0.5,1,3", help="L1 weights (sparsity)")
    ap.add_argument("--ideal", action="store_true", help="sparsity: ideal-trained instead of hardware-aware")
    ap.add_argument("--json", help="write the rows to this JSON file")
    ap.add_argument("--out", help="ship: weights path (default: the shipped file)")
    args = ap.parse_args()
    os.chdir(ROOT)  # LUT paths (recorded in the weights' metadata) relative to the repository
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.values = [float(v) for v in args.values.split(",")]
    rows = {"modes": modes, "sparsity": sparsity, "ship": ship}[args.what](args)
    if args.json and rows is not None:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
