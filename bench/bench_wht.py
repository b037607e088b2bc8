"""Benchmark: throughput of the behavioral WHT crossbar layer vs numpy's exact bit-plane Hadamard product.

Reference: the exact integer arithmetic of the same bit planes, in plain numpy: sign-magnitude planes
(P = bits - 1 of them, int64), ``planes @ H`` per plane (integer matmul, one block of R per crossbar),
accumulated with weights 2^p (= the exact block WHT x @ H, no latch). The behavioral paths
(:class:`charz.blocks.wht.model.WhtLayer`) do the same plane products and add the latch (ideal: sign /
ternary of d; CiM: dV from the LUT table + per-cell mismatch matmuls, offset and thresholds), the
zero-plane skip, early termination (soft thresholds drawn uniformly in [0, --tmax]) and the full
accounting (k+/k- energy lookups, histograms, sparsity). The ratio behavioral / reference is measured
in the same run.

    .venv/bin/python bench/bench_wht.py [--lut PATH] [--vectors 2000] [--n 64] [--repeat 10]

Without --lut a SYNTHETIC wht_column LUT (charz.blocks.wht.model_lut.synthetic_wht_lut) is used. BLAS runs
single-threaded. The paths are timed interleaved (one pass of each per round) and the best round of
each is kept, in process CPU time and in wall time. A plain script, not a timed test.
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

from charz.blocks.wht import model as bw, model_lut as bwl, model_planes as bwp  # noqa: E402
from charz.core.hadamard import hadamard  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lut", help="wht_column LUT path (default: synthetic)")
    ap.add_argument("--vectors", type=int, default=2000, help="vectors per timed pass")
    ap.add_argument("--n", type=int, default=64, help="vector length (a multiple of the crossbar size R)")
    ap.add_argument("--bits", type=int, default=8)
    ap.add_argument("--tmax", type=float, default=60.0, help="largest integer soft threshold for early termination")
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()

    lut = bwl.load_wht_lut(a.lut)[0] if a.lut else bwl.synthetic_wht_lut()
    model = bw.WhtModel.from_lut(lut, mismatch_scale=1.0)
    r, bits, p_n = model.n_rows, a.bits, a.bits - 1
    rng = np.random.default_rng(0)
    top = bwp.max_int(bits)
    x = rng.integers(-top, top + 1, size=(a.vectors, a.n))
    x[rng.random(x.shape) < 0.3] = 0
    t = rng.uniform(0, a.tmax, size=a.n)
    h = hadamard(r, model.order)
    w = (1 << np.arange(p_n, dtype=np.int64))

    def reference():
        mag, sgn = np.abs(x), np.sign(x)
        planes = np.stack([sgn * ((mag >> p) & 1) for p in range(p_n)]).reshape(p_n, a.vectors, a.n // r, r)
        d = planes @ h  # exact integer plane products
        return np.tensordot(w, d, axes=1).reshape(a.vectors, a.n)

    assert np.array_equal(reference(), bwp.exact_wht(x, r, model.order))
    ideal = bw.WhtLayer(a.n, model=model, ideal=True, bits=bits)
    cim = bw.WhtLayer(a.n, model=model, bits=bits, seed=0)
    fns = {
        "numpy exact plane products (reference)": reference,
        "ideal, no early termination": lambda: ideal(x),
        "ideal, early termination": lambda: ideal(x, thresholds=t),
        "CiM, no early termination": lambda: cim(x),
        "CiM, early termination": lambda: cim(x, thresholds=t),
    }
    best = timed_rounds(fns, a.repeat)
    ref_cpu = best["numpy exact plane products (reference)"][0]
    st = cim(x, thresholds=t)[1].summary()
    print(f"WHT layer throughput: {a.vectors} vectors of {a.n} ({a.n // r} crossbars of {r}x{r}), {bits}-bit, "
          f"ternary latch; LUT: {lut.provenance.get('pdk', '?')}{' (SYNTHETIC)' if lut.provenance.get('synthetic') else ''}; "
          f"best of {a.repeat} rounds, single-threaded BLAS")
    print(f"  early termination: thresholds U[0, {a.tmax:g}], {100 * st['planes_skipped_fraction']:.1f} % of active "
          f"column-planes skipped")
    print(f"  {'path':<40} {'CPU [ms]':>9} {'wall [ms]':>10} {'vectors/s':>11} {'x reference':>12}")
    for k, (c, wl) in best.items():
        print(f"  {k:<40} {1e3 * c:>9.2f} {1e3 * wl:>10.2f} {a.vectors / c:>11.4g} {c / ref_cpu:>12.2f}")


if __name__ == "__main__":
    main()
