"""Benchmark: throughput of the behavioral time-domain FP8 MAC vs the exact FP8 NumPy reference.

Reference: what an FP8 dot product costs in plain NumPy: both operands rounded to the format
(:func:`charz.behavior.fp8.quantize`, round to nearest even, saturating) and the float64 products
summed along L (exact for E4M3; :func:`charz.behavior.fp8.exact_dot` is this plus a fixed-point sum
for E5M2). The behavioral paths (:class:`charz.blocks.td_mac.model.TdMacModel.dot`) round the operands
to codes, split them into fields, run the time-domain exponent path, the alignment, the charge
accumulation and the read-out, and count clipping, dropping and energy:

- ideal circuit, 6-bit ideal mid-tread read-out (the exact fast time path);
- the SPICE circuit (:func:`charz.blocks.td_mac.model.model_from_luts`: the shipped ``lut/ptm16hp/td_*`` LUTs
  at the PDK's nominal VDD, Monte Carlo line curves and TDC thresholds, capacitor matching, 16 engines
  round robin, the 6-bit SAR converter LUT's instances): the general path (E4M3 only; for E5M2, which
  has no 5-bit line LUT, a SYNTHETIC mismatched circuit takes its place);
- exact mode (window None, exact alignment, no converter).

    .venv/bin/python bench/bench_td_mac.py [--vectors 100000] [--length 16] [--fmt e4m3] [--repeat 7] [--quick]
        [--layer-rows 64]

Part 2 (``--layer-rows``, 0 skips it): one matrix product of ResNet-20's largest im2col shape (K = 576 inputs,
N = 64 outputs, 64 rows = one 32x32 CIFAR image's last stage) through the executor's ``td_mac`` backend (the
SPICE LUT circuit, as ``charz eval --backend td_mac`` runs it) and through its ideal twin (exact FP8), against
two baselines on the same FP8-rounded operands: the FP8 products summed per chunk of L, then over the chunks
(the mapping's grouping; one einsum per block of rows) and one float64 BLAS product (the same exact result for
E4M3: every partial sum is a multiple of 2**-18 below 2**18 * K, exact in float64).

The paths are timed interleaved (one pass of each per round) and the best round of each is kept, in
process CPU time and in wall time; ratios are behavioral / reference CPU time of the same run. A plain
script, not a timed test.
"""

from __future__ import annotations

import argparse
import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import timed_rounds  # noqa: E402

from charz.behavior import fp8  # noqa: E402
from charz.blocks.td_mac import model as tm, model_circuit as tc  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=100_000, help="dot products per timed pass")
    ap.add_argument("--length", type=int, default=16, help="L, FP8 pairs per dot product")
    ap.add_argument("--fmt", default="e4m3", choices=sorted(fp8.FORMATS))
    ap.add_argument("--repeat", type=int, default=7, help="timed rounds")
    ap.add_argument("--quick", action="store_true", help="10k dot products, 3 rounds (a smoke run)")
    ap.add_argument("--layer-rows", type=int, default=64, help="rows of the ResNet-20-shape product (part 2; 0: skip)")
    a = ap.parse_args()
    if a.quick:
        a.vectors, a.repeat = 10_000, 3

    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.vectors, a.length))  # raw float64 operands: every path rounds them itself
    w = rng.standard_normal((a.vectors, a.length))
    f = fp8.get_format(a.fmt)
    ideal = tm.TdMacModel(f, a.length, window=8, guard=2, adc=6)
    if f is fp8.E4M3:
        mism = tm.model_from_luts(fmt=f, length=a.length, guard=2, units=16, seed=0)
        label = f"SPICE LUT circuit, 16 engines, {mism.adc_bits}-bit converter LUT"
        circuit = mism.circuit
    else:
        circuit = tc.synthetic_circuit(f, 8)
        mism = tm.TdMacModel(f, a.length, window=8, guard=2, adc=6, circuit=circuit, units=16, seed=0)
        label = "SYNTHETIC mismatch, 16 engines, 6-bit"
    exact = tm.TdMacModel.exact(f, a.length)

    def reference():
        return np.sum(fp8.quantize(x, f) * fp8.quantize(w, f), axis=-1)

    ref = reference()
    assert np.array_equal(exact.dot(x, w), fp8.exact_dot(x, w, f))
    if f is fp8.E4M3:
        assert np.array_equal(ref, fp8.exact_dot(x, w, f))
    fns = {
        "NumPy FP8 reference (quantize + float64 sum)": reference,
        "ideal, W=8, G=2, 6-bit read-out": lambda: ideal.dot(x, w),
        label: lambda: mism.dot(x, w),
        "exact mode (no window, no converter)": lambda: exact.dot(x, w),
    }
    best = timed_rounds(fns, a.repeat)
    ref_cpu = best["NumPy FP8 reference (quantize + float64 sum)"][0]
    rms = float(np.sqrt(np.mean(ref**2)))
    err = {
        "ideal, W=8, G=2, 6-bit read-out": ideal.dot(x, w),
        label: mism.dot(x, w),
        "exact mode (no window, no converter)": exact.dot(x, w),
    }
    print(f"TD-MAC behavioral throughput: {a.vectors} dot products of L = {a.length} {f.name} pairs (operands "
          f"N(0, 1)); best of {a.repeat} interleaved rounds, single-threaded BLAS")
    print(f"circuit: {circuit.label}")
    print()
    print("| path | CPU [ms] | wall [ms] | dot products/s | x reference (CPU) | rel. RMS error |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, (c, wl) in best.items():
        e = "0 (reference)" if k not in err else f"{np.sqrt(np.mean((err[k] - ref) ** 2)) / rms:.3g}"
        print(f"| {k} | {1e3 * c:.1f} | {1e3 * wl:.1f} | {a.vectors / c:.3g} | {c / ref_cpu:.2f} | {e} |")
    if a.layer_rows > 0 and f is fp8.E4M3:
        layer(a, f)


def layer(a, f) -> None:
    """Part 2: the executor's td_mac backend on ResNet-20's K = 576, N = 64 im2col shape."""
    from charz.network import backends as bk

    K, N, rows = 576, 64, a.layer_rows
    rng = np.random.default_rng(1)
    w = rng.standard_normal((K, N)) * 0.05
    x = np.maximum(rng.standard_normal((rows, K)), 0.0)  # post-ReLU activations
    be = bk.make_backend("td_mac", {}, chip_seed=0)
    be.program(w)
    tw = be.ideal()
    L = be.model.length
    s_x = bk.pow2_scale(x, f) if be.s_x is None else be.s_x
    xq, wq = fp8.quantize(x * s_x, f), fp8.quantize(w * be.s_w, f)
    chunks = -(-K // L)
    xp = np.pad(xq, ((0, 0), (0, chunks * L - K))).reshape(rows, chunks, L)
    wp = np.pad(wq, ((0, chunks * L - K), (0, 0))).reshape(chunks, L, N)
    blk = max(1, (1 << 21) // (K * N))

    def chunked():  # FP8 products, summed per chunk of L, then over chunks (float64, exact for E4M3)
        y = np.empty((rows, N))
        for r0 in range(0, rows, blk):
            y[r0:r0 + blk] = np.einsum("rcl,cln->rcn", xp[r0:r0 + blk], wp).sum(axis=1)
        return y

    def blas():
        return xq @ wq

    assert np.array_equal(chunked(), blas())
    assert np.array_equal(tw.matmul(x)[0] * s_x * be.s_w, blas())
    fns = {"FP8 products summed per chunk of L (einsum)": chunked,
           "float64 BLAS on the FP8 operands": blas,
           "td_mac backend, ideal twin (exact FP8)": lambda: tw.matmul(x),
           "td_mac backend, SPICE LUT circuit": lambda: be.matmul(x)}
    best = timed_rounds(fns, max(1, min(a.repeat, 3)))
    e_cpu = best["FP8 products summed per chunk of L (einsum)"][0]
    b_cpu = best["float64 BLAS on the FP8 operands"][0]
    print()
    print(f"Part 2: one product of ResNet-20's largest im2col shape (K = {K}, N = {N}, {rows} rows: "
          f"{rows * K * N:,} FP8 products, {rows * N * chunks:,} scalar products of L = {L}) on the executor's "
          f"td_mac backend ({be.label}); best of {max(1, min(a.repeat, 3))} interleaved rounds")
    print()
    print("| path | CPU [ms] | wall [ms] | products/s | x chunked sum (CPU) | x BLAS (CPU) |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, (c, wl) in best.items():
        print(f"| {k} | {1e3 * c:.2f} | {1e3 * wl:.2f} | {rows * K * N / c:.3g} | {c / e_cpu:.2f} | {c / b_cpu:.0f} |")


if __name__ == "__main__":
    main()
