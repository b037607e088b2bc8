"""How small can the WHT latches get once every latch is trimmed? (issue 14: WHT TOPS/W with accuracy.)

    .venv/bin/python bench/wht_latch_study.py [--scales 0.5,0.25] [--vdd 0.7,0.8] [--mc 16] [--trim-mc 10] [--chips 5]

The two latches of a ternary column are 71 % of its energy at (4, 4) with the default StrongARM (64 Lmin input
pair). A smaller latch spends less and has a larger offset (Pelgrom: 1 / sqrt(area)); the latch trim
(:mod:`charz.blocks.wht.model_trim`) takes that offset out. For each scale s, every width of the latch except its
output inverters is s x the default (the input pair, tail, cross-coupled pairs, reset devices), the ternary pair's
fixed trim device is s x 4 Lmin (the same nominal dead zone relative to the input pair) and the trim DAC's LSB is
Lmin wide, as at scale 1 (ptm16hp refuses an 8 nm device: "effective channel width <= 0"), so its step grows as
1 / s; its offset ramp spans +-300 mV (the smaller pair's trimmed offsets reach past the default range). The script characterizes, in ngspice, a wht_column LUT (ternary, 16 rows, 60 ps) and
a comparator trim LUT (4 bits) at each scale, then evaluates the shipped digits network (trained on the default
latch) without and with the latch trim. Scale 1 reads the committed lut/ptm16hp/wht16 and comparator_trim.
LUTs go to out/wht_latch/; the simulation cache makes a re-run read them back.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from charz.blocks.comparator.netlist import ComparatorSizes  # noqa: E402
from charz.blocks.comparator.recipe import characterize_comparator  # noqa: E402
from charz.blocks.wht.recipe import characterize_wht  # noqa: E402
from charz.core.errors import LUTError  # noqa: E402
from charz.core.lut import LUT  # noqa: E402
from charz.core.pdk import get  # noqa: E402
from charz.network.wht import evaluate_wht  # noqa: E402
from charz.sim.executor import make_executor  # noqa: E402

from common import machine  # noqa: E402

SCALED = ("w_in", "w_tail", "w_nl", "w_pl", "w_rst")


def sizes(pdk, s: float) -> ComparatorSizes:
    base = ComparatorSizes.default(pdk)
    return dataclasses.replace(base, **{k: round(getattr(base, k) * s, 12) for k in SCALED})


def luts(pdk, s: float, vdds, mc: int, trim_mc: int, ex) -> tuple[str, str, dict]:
    if s == 1.0:
        return "lut/ptm16hp/wht16", "lut/ptm16hp/comparator_trim", {}
    out = ROOT / "out" / "wht_latch"
    out.mkdir(parents=True, exist_ok=True)
    lat = sizes(pdk, s)
    wp, tp = out / f"wht16_s{s:g}", out / f"comparator_trim_s{s:g}"
    t = {}
    if not Path(f"{wp}.json").exists():
        t0 = time.time()
        characterize_wht(pdk, vdd=vdds, mc=mc, seed=1, ternary=True, executor=ex, progress=False, fit_check=False,
                         latch=lat, w_trim=round(4 * pdk.lmin * s, 12)).save(wp)
        t["wht_s"] = time.time() - t0
    if not Path(f"{tp}.json").exists():
        t0 = time.time()
        characterize_comparator(pdk, vdd=vdds, mc=trim_mc, seed=1, executor=ex, progress=False, fit_check=False,
                                sizes=lat, trim_bits=4, w_trim=pdk.lmin,
                                offset_range=0.3).save(tp)
        t["trim_s"] = time.time() - t0
    return str(wp), str(tp), t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,0.5,0.25")
    ap.add_argument("--vdd", default="0.7,0.8")
    ap.add_argument("--mc", type=int, default=16)
    ap.add_argument("--trim-mc", type=int, default=10)
    ap.add_argument("--chips", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    pdk = get("ptm16hp")
    vdds = [float(v) for v in a.vdd.split(",")]
    print(machine())
    ex = make_executor(a.workers)
    rows = []
    try:
        for s in (float(x) for x in a.scales.split(",")):
            wp, tp, took = luts(pdk, s, vdds, a.mc, a.trim_mc, ex)
            w = LUT.load(wp, block="wht_column")
            for v in vdds:
                off = evaluate_wht(w, vdd=v, chips=a.chips, seed=0)
                try:
                    on = evaluate_wht(w, vdd=v, chips=a.chips, seed=0, latch_calibration="trim", trim_lut=tp)
                except LUTError as exc:  # e.g. a trim whose codes run past the offset ramp
                    print(f"scale {s:g}, {v:g} V: the trim LUT is not usable: {exc}")
                    on = None
                op = off["operating_point"]
                e44 = w.value("energy", vdd=v, temp=27.0, t_pulse=6e-11, kp=4, kn=4)
                el = w.value("energy_latch", vdd=v, temp=27.0, t_pulse=6e-11, kp=4, kn=4)
                tl = LUT.load(tp, block="comparator")
                step = 1e3 * abs(tl.value("trim_step", vdd=v, temp=27.0, dv=tl.axis("dv").values[0]))
                nan = float("nan")
                cal = on["latch_calibration"] if on else None
                rows.append((s, v, op["thr_pos_sigma_mV"], op["thr_neg_sigma_mV"], 1e15 * e44, 1e15 * el, step,
                             100 * off["ideal_accuracy"], 100 * off["cim_accuracy_mean"],
                             100 * on["cim_accuracy_mean"] if on else nan, 100 * on["cim_accuracy_min"] if on else nan,
                             off["tops_per_watt_no_et"], on["tops_per_watt_no_et"] if on else nan,
                             on["tops_per_watt_et"] if on else nan,
                             sum(p["outside_window_after"] for p in cal["latches"].values()) if cal else "-", took))
                print(f"scale {s:g}, {v:g} V done", flush=True)
    finally:
        ex.close()
    print("\n| latch scale | VDD | thr sigma +/- [mV] | E(4,4) / latches [fJ] | trim step [mV] | ideal | CiM no trim | "
          "CiM trim [min] | TOPS/W no trim | TOPS/W trim (ET) | latches outside after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]:g} | {r[1]:g} | {r[2]:.1f} / {r[3]:.1f} | {r[4]:.2f} / {r[5]:.2f} | {r[6]:.2f} | {r[7]:.2f} % | "
              f"{r[8]:.2f} % | {r[9]:.2f} % [{r[10]:.2f}] | {r[11]:.1f} | {r[12]:.1f} ({r[13]:.1f}) | {r[14]} |")
    for r in rows:
        if r[15]:
            print(f"scale {r[0]:g}: characterization {', '.join(f'{k} {v:.0f} s' for k, v in r[15].items())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
