"""Benchmark: digits-MLP inference throughput of the behavioral CiM model vs bare bit-serial integers.

Both paths use the SAME mapping (4 input bit planes, 3 weight magnitude slices x 2 sign arrays,
N-row tiles with zero padding) and the same matmul kernel for k; the CiM path adds, per column
evaluation, the per-column transfer k -> V -> ideal quantizer -> k_hat (gather), and the k histogram
for the energy ledger. The ratio CiM / bare is the cost of the behavioral model (goal: <= 3x).

    .venv/bin/python bench/bench_network.py [--lut PATH] [--images 1797] [--repeat 15]

Without --lut a synthetic Monte Carlo column LUT (charz.blocks.cim_column.model.synthetic_column_lut) is used.
The images are all 1797 digits (train + test, distinct). BLAS runs single-threaded. The paths are
timed interleaved (one pass of each per round) and the best round of each is kept, in process CPU
time (robust against other jobs on a shared machine) and in wall time. A plain script, not a timed test.
"""

from __future__ import annotations

import argparse
import os
import sys
import platform

# single-threaded BLAS: stable timings on a shared machine, and what one worker process gets
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import timed_rounds  # noqa: E402

from charz.blocks.cim_column.model import ColumnModel, synthetic_column_lut
from charz.blocks.cim_column.model_layer import map_layer, map_weights
from charz.network import digits
from charz.network.energy import EnergyLedger
from charz.network.evaluate import evaluate, load_lut
from charz.network.mlp import load_shipped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lut", help="cim_column LUT path (default: synthetic Monte Carlo LUT)")
    ap.add_argument("--images", type=int, default=1797, help="images per timed pass (all digits; tiled if more)")
    ap.add_argument("--repeat", type=int, default=15, help="timed rounds, the best is reported")
    a = ap.parse_args()

    lut = load_lut(a.lut)[0] if a.lut else synthetic_column_lut(sigma=0.01, n_samples=50, nonlinearity=0.3)
    model = ColumnModel.from_lut(lut, mismatch_scale=1.0)
    net = load_shipped()
    xtr, _, xte, _ = digits.load()
    xall = np.concatenate([xtr, xte])
    reps = -(-a.images // xall.shape[0])
    x0 = np.tile(net.input_ints(xall), (reps, 1))[: a.images]
    b = x0.shape[0]

    rng = np.random.default_rng(0)
    cim_layers = [map_layer(w, model, rng, w_bits=net.w_bits, x_bits=net.x_bits) for w in net.w_int]
    model8 = ColumnModel.from_lut(lut, mismatch_scale=8.0)
    rng = np.random.default_rng(0)
    cim8_layers = [map_layer(w, model8, rng, w_bits=net.w_bits, x_bits=net.x_bits) for w in net.w_int]
    bare_layers = [map_weights(w, model.n_rows, net.w_bits, net.x_bits) for w in net.w_int]

    def exact():
        return net.forward_int(x0)

    def bare():
        return net.forward_int(x0, [lambda a, L=L: L(a, return_hist=False) for L in bare_layers])

    def cim(layers=cim_layers):
        ledger = EnergyLedger(model.e_nom)

        def mm(i):
            def f(a):
                y, h = layers[i](a)
                ledger.add(f"fc{i}", h, b, net.macs_per_layer[i])
                return y
            return f

        out = net.forward_int(x0, [mm(i) for i in range(net.n_layers)])
        return out, ledger.energy_per_image

    # the mapping must be exact on ideal columns
    assert np.array_equal(bare()[0], exact()[0])

    n_eval = 360
    t = timed_rounds({
        "exact": exact, "bare": bare, "cim": cim, "cim8": lambda: cim(cim8_layers),
        "draw": lambda: [map_layer(w, model, np.random.default_rng(1), w_bits=net.w_bits, x_bits=net.x_bits)
                         for w in net.w_int],
        "evaluate": lambda: evaluate(lut, chips=1, n_images=n_eval),
    }, a.repeat)

    print(f"digits MLP {'-'.join(map(str, net.sizes))}, {b} images per pass, N={model.n_rows} rows, "
          f"{net.x_bits}-bit inputs, {net.w_bits}-bit weights, ideal quantizer {model.adc_bits}-bit, "
          f"best of {a.repeat} interleaved rounds")
    print(f"LUT: {'synthetic (Monte Carlo, 50 samples), mismatch scale 1' if not a.lut else a.lut}; "
          f"numpy {np.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"BLAS threads={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print()
    print(f"{'path':<56} {'cpu [ms]':>9} {'wall [ms]':>10} {'images/s':>10} {'vs bare':>8}")
    rows = [
        ("exact integer a @ w (reference, not bit-serial)", "exact", b),
        ("bare bit-serial integer, same mapping (no LUT)", "bare", b),
        ("CiM behavioral: LUT transfer, ideal quantizer, ledger", "cim", b),
        ("  same, mismatch scale 8 (many more read errors)", "cim8", b),
        ("evaluate(): 1 chip, 360 images, incl. draws, float+ideal", "evaluate", n_eval),
    ]
    per_img_bare = t["bare"][0] / b
    for name, key, n in rows:
        c, w = t[key]
        print(f"{name:<56} {1e3 * c:>9.2f} {1e3 * w:>10.2f} {n / c:>10.0f} {(c / n) / per_img_bare:>7.2f}x")
    print(f"{'per-chip mismatch draw + mapping (once per chip)':<56} {1e3 * t['draw'][0]:>9.2f} {1e3 * t['draw'][1]:>10.2f}")
    print()
    rc, rw = t["cim"][0] / t["bare"][0], t["cim"][1] / t["bare"][1]
    print(f"ratio CiM behavioral / bare bit-serial integer = {rc:.2f}x cpu, {rw:.2f}x wall "
          f"(goal <= 3x: {'met' if max(rc, rw) <= 3 else 'NOT met'}); images/s from cpu time")


if __name__ == "__main__":
    main()
