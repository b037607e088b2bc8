"""How far HCiM's ternary partial sums get without training (issue 15, before its quantization-aware training is
built): the shipped digits MLP (4-bit weights and activations, 16-row tiles), every product read as ternary
decisions with per-column least-squares scale factors fitted on 300 training images (post-training), with ideal
latches (thresholds at +-0.5 cell), the WHT latch pair's nominal LUT decisions (ptm16hp wht16, 0.8 V), and the
same LUT with each chip's latch thresholds drawn from its Monte Carlo spread.

    .venv/bin/python bench/hcim_ptq_study.py [--chips 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from charz.blocks.wht.model import WhtModel  # noqa: E402
from charz.core.lut import LUT, find_default  # noqa: E402
from charz.network import digits, mlp  # noqa: E402
from charz.study import hcim  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chips", type=int, default=3)
    args = ap.parse_args()
    net = mlp.load_shipped()
    xtr, _, xte, yte = digits.load()
    model = WhtModel.from_lut(LUT.load(find_default("ptm16hp", "wht16")), vdd=0.8)

    def hooks(alphas: dict, mode: str, chip: int, fit: bool):
        def make(i):
            def product(a):
                kp, kn = hcim.partial_sums(a, net.w_int[i], 16, net.x_bits, net.w_bits)
                if mode == "ideal":
                    q = hcim.ternary_ideal(kp, kn, 0.5)
                else:
                    q = hcim.ternary_lut(kp, kn, model, np.random.default_rng([chip, i]) if mode == "lut" else None)
                if fit:
                    alphas[i] = hcim.fit_scales(q, kp, kn)
                return hcim.hcim_product(q, alphas[i])
            return product
        return [make(i) for i in range(net.n_layers)]

    exact = np.mean(np.argmax(net.forward_int(net.input_ints(xte))[0], 1) == yte)
    print(f"digits MLP {net.sizes}, W{net.w_bits}A{net.x_bits}, exact integer products: {100 * exact:.2f} %")
    for mode, chips in (("ideal", 1), ("nominal", 1), ("lut", args.chips)):
        accs = []
        for c in range(chips):
            al: dict = {}
            net.forward_int(net.input_ints(xtr[:300]), hooks(al, mode, c, True))
            logits, _ = net.forward_int(net.input_ints(xte), hooks(al, mode, c, False))
            accs.append(float(np.mean(np.argmax(logits, 1) == yte)))
        print(f"ternary partial sums, {mode:8s} latches: " + ", ".join(f"{100 * a:.2f} %" for a in accs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
