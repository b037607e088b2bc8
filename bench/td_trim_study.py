"""What the per-line bias trim of the TD-MAC leaves (issue 14): the digits MLP on lut/ptm16hp/td_delay4_trim, 4 chips,
with and without the line calibration, once with every part's mismatch and once with the element-TDC and
shared-scale thresholds made ideal (a model experiment: the circuit's TDC deviations removed), so the residual
of the calibrated lines shows on its own.

    .venv/bin/python bench/td_trim_study.py [--chips 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from charz.blocks.td_mac.model import converter  # noqa: E402
from charz.blocks.td_mac.model_circuit import adc_corner, circuit_from_luts, default_lut  # noqa: E402
from charz.core.lut import LUT  # noqa: E402
from charz.network import td_mac as nt  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chips", type=int, default=4)
    a = ap.parse_args()
    circ = circuit_from_luts(ROOT / "lut/ptm16hp/td_delay4_trim", None, None, None, vdd=0.8)
    alut = LUT.load(default_lut("ptm16hp", "adc"))
    av, at, _ = adc_corner(alut, 0.8, 27.0)
    conv = converter(alut, av, at)
    print("| TDC thresholds | line calibration | accuracy mean [min..max] |\n|---|---|---|")
    for name, c in (("with mismatch", circ), ("ideal", dataclasses.replace(circ, tdc_dev=None, scale_dev=None))):
        for cal in ("none", "bias"):
            chips = nt.make_chips(c, chips=a.chips, seed=0, adc=conv, window=c.tdc_thr.size, length=16,
                                  line_calibration=cal)
            r = nt.evaluate_td(chips, references=False)
            print(f"| {name} | {cal} | {100 * r['td_accuracy_mean']:.2f} % [{100 * r['td_accuracy_min']:.2f}.."
                  f"{100 * r['td_accuracy_max']:.2f}] |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
