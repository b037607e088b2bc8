"""Benchmark: the model executor's ``cim`` backend at ResNet-20 scale vs bare bit-serial arithmetic, and
ResNet-20 images/s through :func:`charz.network.engine.evaluate_model` (issue 13).

    .venv/bin/python bench/bench_executor.py [--lut lut/ptm16hp/cim_column] [--batch 16] [--repeat 3]
                                             [--images 32] [--no-profile] [--quick]

Part 1, per layer shape of ResNet-20 on 32x32 CIFAR images after im2col (rows = output pixels x images):
K = 16*9 = 144, N = 16, 1024 rows per image; K = 288, N = 32, 256 rows; K = 576, N = 64, 64 rows; ``--batch``
images. Random signed 8-bit weights (programmed once) and unsigned 8-bit activations (the executor's defaults
after a ReLU). Paths, each timed interleaved, best of ``--repeat`` rounds, process CPU time and wall time:

- ``cim``: :class:`charz.network.backends.CimLayerBackend` from ``make_backend("cim", {"lut": ...})``, one chip,
  the column LUT's ideal quantizer read-out; its ``matmul`` (what the executor calls per layer and batch).
- ``cim ideal columns``: the same backend's ``ideal()`` twin (same mapping, tiles of N rows, k_hat = k).
- ``bit-serial``: the BASELINE, the fastest honest bare arithmetic of the same planes x slices: the
  ``x_bits`` activation bit planes stacked as rows and the ``2 x (w_bits - 1)`` sign-magnitude weight slices
  stacked as columns, one float32 BLAS product (P*b, K) @ (K, 2S*N) per block of b = 512 rows (integers
  <= K, exact; blocks keep it in cache), then the shift-and-add (per plane a float32 GEMV over the slices, exact below 2^24, planes summed in float64).
  No tiles: without a LUT the tile split changes nothing in the result.
- ``float32 x @ w``: one plain float32 product (not bit-serial; for scale).

The ratio cim / bit-serial is the goal of issue 13 (<= 3x). BLAS is single-threaded (the CiM layer forces one
thread for its products; the baseline gets the same).

Part 2: ResNet-20 (``charz.network.zoo.build_resnet20``, untrained random weights, BN at its init, exported
to ONNX with torch; without torch part 2 is skipped) through
``evaluate_model`` on the ``float``, ``exact`` and ``cim`` backends (executor defaults: 8-bit, first and last
layer on ``digital``), one chip, ``references=False``, the first ``--images`` CIFAR-10 test images (random
uint8 images if the data set is missing). Each backend runs in its own child process (clean peak RSS from
``resource.getrusage``); the child times ``engine.make_plan`` (weights, quantization, float calibration pass;
timed by wrapping it) and the rest of the call (the chip run) separately. images/s = images / chip-run wall
time. (No onnx.helper fallback is built: torch is a dependency of the ``train`` extra.)

Part 3 (unless ``--no-profile``): cProfile top 10 (cumulative) of one cim ``matmul`` of the K = 144 layer, and
a stage breakdown of the column-model block (re-timed here step by step from the layer's own arrays).

``--quick``: 1 image per layer shape, 1 round, 4 images for part 2: seconds, to check that it runs.
A plain script, not a timed test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import timed_rounds  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LUT = os.path.join("lut", "ptm16hp", "cim_column")
SHAPES = ((144, 16, 1024), (288, 32, 256), (576, 64, 64))
"""(K, N, im2col rows per image) of ResNet-20's three stages."""


# ---- part 1 ------------------------------------------------------------------------------------------
class BitSerial:
    """Bare bit-serial integer product of the same planes x sign-magnitude slices, on float32 BLAS."""

    def __init__(self, w: np.ndarray, x_bits: int, w_bits: int):
        k, n = w.shape
        s = w_bits - 1
        self.p, self.s, self.n = x_bits, s, n
        mags = np.stack([np.maximum(w, 0), np.maximum(-w, 0)])  # (2, K, N)
        bits = (mags[:, None] >> np.arange(s)[None, :, None, None]) & 1  # (2, S, K, N)
        # columns ordered (o, sign, slice): the slice axis is innermost for the shift-and-add GEMV
        self.wb = np.ascontiguousarray(bits.transpose(2, 3, 0, 1).reshape(k, n * 2 * s), dtype=np.float32)
        self.c = (np.array([1.0, -1.0])[:, None] * (2.0 ** np.arange(s))[None, :]).ravel().astype(np.float32)
        self.pw = 2.0 ** np.arange(x_bits)

    block = 512
    """Rows per block: keeps the planes and the plane-slice products in cache (2-5x faster than one huge
    product at K = 144 and 16k rows, measured here)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] <= self.block:
            return self._one(x)
        y = np.empty((x.shape[0], self.n), dtype=np.int64)
        for i in range(0, x.shape[0], self.block):
            y[i:i + self.block] = self._one(x[i:i + self.block])
        return y

    def _one(self, x: np.ndarray) -> np.ndarray:
        b, k = x.shape
        xb = np.empty((self.p, b, k), dtype=np.float32)
        for i in range(self.p):
            np.bitwise_and(np.right_shift(x, i), 1, out=xb[i], casting="unsafe")
        r = xb.reshape(self.p * b, k) @ self.wb  # (P*B, N*2S) integer valued, <= K
        g = r.reshape(self.p, b * self.n, 2 * self.s) @ self.c  # (P, B*N) |.| <= K*(2^S - 1) < 2^24: exact
        return np.rint(self.pw @ g).reshape(b, self.n).astype(np.int64)


def part1(a) -> list[dict]:
    from charz.network import backends as bk

    rows_out = []
    rng = np.random.default_rng(0)
    for K, N, rpi in SHAPES:
        rows = a.batch * rpi
        w = rng.integers(-127, 128, size=(K, N))
        x = rng.integers(0, 256, size=(rows, K)).astype(np.int64)
        t0 = time.perf_counter()
        be = bk.make_backend("cim", {"lut": a.lut}, chip_seed=0)
        be.program(w)
        t_prog = time.perf_counter() - t0
        ideal = be.ideal()
        lay = be.inner.layer
        base = BitSerial(w, lay.x_bits, lay.w_bits)
        xf, wf = x.astype(np.float32), w.astype(np.float32)
        exact = x @ w
        assert np.array_equal(base(x), exact), "bit-serial baseline is not exact"
        assert np.array_equal(ideal.matmul(x)[0], exact), "ideal columns are not exact"
        y_cim, cost = be.matmul(x)
        wrong = float(np.mean(y_cim != exact))
        t = timed_rounds({"cim": lambda: be.matmul(x), "ideal": lambda: ideal.matmul(x),
                          "bits": lambda: base(x), "f32": lambda: xf @ wf}, a.repeat)
        rows_out.append(dict(K=K, N=N, rows=rows, tiles=lay.n_tiles, planes=lay.x_bits, slices=2 * lay.n_slices,
                             evals=int(cost.conversions), t=t, t_prog=t_prog, wrong=wrong, label=be.label))
    return rows_out


def print_part1(res, a):
    print(f"Part 1: one cim matmul per ResNet-20 layer shape, {a.batch} image(s), LUT {a.lut}, one chip, "
          f"8-bit x (unsigned), 8-bit w, best of {a.repeat} interleaved rounds, BLAS 1 thread")
    print(f"  backend: {res[0]['label']}")
    hdr = (f"  {'K':>4} {'N':>3} {'rows':>6} {'tiles':>5} {'P x 2S':>6}  {'cim ms':>9} {'ideal ms':>9} "
           f"{'bitser ms':>9} {'f32 ms':>8}  {'cim/bitser':>10} {'ideal/bitser':>12} {'bitser/f32':>10} "
           f"{'Geval/s':>7}  {'goal 3x':>7}")
    for clock, j in (("cpu", 0), ("wall", 1)):
        print(f"  [{clock} time]")
        print(hdr)
        for r in res:
            t = {k: v[j] for k, v in r["t"].items()}
            ratio = t["cim"] / t["bits"]
            print(f"  {r['K']:>4} {r['N']:>3} {r['rows']:>6} {r['tiles']:>5} {r['planes']:>2} x {r['slices']:<2} "
                  f"{1e3 * t['cim']:>9.1f} {1e3 * t['ideal']:>9.1f} {1e3 * t['bits']:>9.1f} {1e3 * t['f32']:>8.2f}  "
                  f"{ratio:>9.2f}x {t['ideal'] / t['bits']:>11.2f}x {t['bits'] / t['f32']:>9.0f}x "
                  f"{r['evals'] / t['cim'] / 1e9:>7.2f}  {'met' if ratio <= 3 else 'NOT met':>7}")
    for r in res:
        print(f"  K={r['K']}: {r['evals']} column evaluations per call, programming (mismatch draw + mapping) "
              f"{1e3 * r['t_prog']:.0f} ms once, outputs != exact x @ w: {100 * r['wrong']:.2f} %")


# ---- part 3 ------------------------------------------------------------------------------------------
def part3(a):
    from charz.blocks.cim_column import model_layer as ml
    from charz.network import backends as bk

    K, N, rpi = SHAPES[0]
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, size=(K, N))
    x = rng.integers(0, 256, size=(a.batch * rpi, K))
    be = bk.make_backend("cim", {"lut": a.lut}, chip_seed=0)
    be.program(w)
    be.matmul(x)
    pr = cProfile.Profile()
    pr.enable()
    be.matmul(x)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(10)
    print(f"Part 3: cProfile of one cim matmul, K={K}, N={N}, {x.shape[0]} rows (top 10, cumulative; numpy "
          "ufuncs such as matmul are not seen by cProfile, their time stays in the caller)")
    body = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(body) if "ncalls" in ln)
    for ln in body[start:start + 11]:
        print("   " + ln.rstrip())

    # stage breakdown of CiMLayer._block, re-timed from the layer's own arrays (same operations, same order)
    lay = be.inner.layer
    xq = ml._check_x(x, lay.x_bits, lay.in_features)
    per_image = lay.x_bits * lay.n_tiles * lay.columns_per_tile
    step = max(1, lay.chunk_elements // per_image)
    ws = ml._Workspace()
    acc = dict.fromkeys(("input checks", "bit planes + k matmul (T x (P*b,N)@(N,C))", "k -> uint8 + k histogram",
                         "threshold mask + count", "corrections (flatnonzero + gather)", "gather k_hat (dense)",
                         "tile sum", "shift-and-add einsum"), 0.0)
    c0 = time.perf_counter()
    ml._check_x(x, lay.x_bits, lay.in_features)
    acc["input checks"] = time.perf_counter() - c0
    n_bad_tot = n_tot = 0
    with ml._one_blas_thread():
        for i in range(0, xq.shape[0], step):
            xb = xq[i:i + step]
            b = xb.shape[0]
            c0 = time.perf_counter()
            k = lay._column_k(xb, ws)
            c1 = time.perf_counter()
            k8 = ws.get("k8", k.shape, np.uint8)
            np.copyto(k8, k, casting="unsafe")
            ml._khist_u8(k8.reshape(-1), lay.n_rows, ws)
            c2 = time.perf_counter()
            n_bad = 0
            if lay._err is not None:
                mask = np.greater_equal(k8, lay._thr8, out=ws.get("mask", k.shape, np.bool_))
                n_bad = np.count_nonzero(mask)
            c3 = time.perf_counter()
            s_ = ws.get("s", k.shape[1:], np.float32)
            if n_bad > ml.DENSE_FRACTION * k.size:
                idx_f = np.add(k, lay._koff, out=ws.get("idx_f", k.shape, lay._idx_dtype))
                idx = ws.get("idx", k.shape, np.intp)
                np.copyto(idx, idx_f, casting="unsafe")
                kh = np.take(lay._kmap_f, idx, out=ws.get("kh", k.shape, np.float32))
                c4 = time.perf_counter()
                acc["gather k_hat (dense)"] += c4 - c3
                np.sum(kh, axis=0, out=s_)
            else:
                if n_bad:
                    nz = np.flatnonzero(mask)
                    c = lay.columns_per_tile
                    rc = k.shape[1] * c
                    n = nz.astype(np.int32)
                    tc = (n // rc) * c + n % c
                    sel = tc * (lay.n_rows + 1) + k8.reshape(-1)[nz]
                    kf = k.reshape(-1)
                    kf[nz] += lay._err[sel]
                c4 = time.perf_counter()
                acc["corrections (flatnonzero + gather)"] += c4 - c3
                np.sum(k, axis=0, out=s_)
            c5 = time.perf_counter()
            s4 = s_.reshape(lay.x_bits, b, 2 * lay.n_slices, lay.out_features)
            np.rint(np.einsum("pbso,ps->bo", s4, lay.coef.astype(np.float64))).astype(np.int64)
            c6 = time.perf_counter()
            acc["bit planes + k matmul (T x (P*b,N)@(N,C))"] += c1 - c0
            acc["k -> uint8 + k histogram"] += c2 - c1
            acc["threshold mask + count"] += c3 - c2
            acc["tile sum"] += c5 - c4
            acc["shift-and-add einsum"] += c6 - c5
            n_bad_tot += n_bad
            n_tot += k.size
    tot = sum(acc.values())
    print(f"  stage breakdown of the column model (blocks of {step} rows; {100 * n_bad_tot / max(n_tot, 1):.2f} % of "
          f"evaluations at or above their column's error threshold), wall:")
    for kname, v in acc.items():
        print(f"    {kname:<44} {1e3 * v:>8.1f} ms {100 * v / tot:>5.1f} %")
    print(f"    {'total':<44} {1e3 * tot:>8.1f} ms")


# ---- part 2 ------------------------------------------------------------------------------------------
def export_resnet20(path: str) -> bool:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    from charz.network import zoo

    torch = zoo._torch()
    torch.manual_seed(0)
    module = zoo.build_resnet20((3, 32, 32), 10).eval()
    pre = {"mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.2435, 0.2616], "scale": 1 / 255, "layout": "NCHW",
           "input_shape": [3, 32, 32], "classes": [str(i) for i in range(10)],
           "source": "benchmark: untrained ResNet-20, CIFAR-10 mean/std (usual values)"}
    fit = zoo.Fit(module, pre, (3, 32, 32), pre["classes"], [], [], 0.0, 0)
    zoo.export(fit, path, doc="bench_executor: untrained ResNet-20")
    return True


def child(a) -> None:
    """One backend in this process: prints one JSON line."""
    from charz.network import engine

    try:
        from charz import datasets
        d = datasets.load("cifar10", "test", limit=a.images)
        images, labels, src = np.asarray(d.images), np.asarray(d.labels), "CIFAR-10 test"
    except Exception as e:  # data set missing
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(a.images, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=a.images)
        src = f"random uint8 ({type(e).__name__})"
    times = {}
    orig_plan = engine.make_plan

    def timed(name, f):
        def g(*args, **kw):
            c0, w0 = time.process_time(), time.perf_counter()
            out = f(*args, **kw)
            times[name] = (time.process_time() - c0, time.perf_counter() - w0)
            return out
        return g

    engine.make_plan = timed("plan", orig_plan)  # chip run(s) = the rest of evaluate_model
    opts = {"lut": a.lut} if a.child == "cim" else {}
    from charz.network.mapping import default_mapping
    mp = default_mapping(a.child, **opts)
    c0, w0 = time.process_time(), time.perf_counter()
    r = engine.evaluate_model(a.onnx, images, labels, mp, chips=1, references=False, batch=a.eval_batch)
    total = (time.process_time() - c0, time.perf_counter() - w0)
    engine.make_plan = orig_plan
    plan = times.get("plan", (0.0, 0.0))
    chip = (total[0] - plan[0], total[1] - plan[1])
    acc = r.get("accuracy") if isinstance(r.get("accuracy"), (int, float)) else None
    print(json.dumps({"backend": a.child, "images": len(images), "source": src, "total": total, "plan": plan,
                      "chip": chip, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "accuracy": acc}))


def part2(a) -> list[dict] | None:
    tmp = tempfile.mkdtemp(prefix="bench_executor_")
    path = os.path.join(tmp, "resnet20.onnx")
    if not export_resnet20(path):
        return None
    out = []
    for name in ("float", "exact", "cim"):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--onnx", path, "--images", str(a.images),
               "--lut", a.lut, "--eval-batch", str(a.eval_batch)]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if p.returncode:
            print(p.stderr[-3000:])
            raise SystemExit(f"child {name} failed")
        out.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return out


def print_part2(res, a):
    if res is None:
        print("Part 2: skipped (torch not importable)")
        return
    print(f"Part 2: ResNet-20 (untrained, random weights) through evaluate_model, {res[0]['images']} images "
          f"({res[0]['source']}), batch {a.eval_batch}, 1 chip, references=False, executor defaults (8-bit; first and "
          f"last layer on digital), one child process per backend")
    print(f"  {'backend':<8} {'plan cpu s':>10} {'plan wall s':>11} {'chip cpu s':>10} {'chip wall s':>11} "
          f"{'total wall s':>12} {'images/s':>9} {'vs float':>8} {'peak RSS MB':>11}")
    f = res[0]["chip"][1]
    for r in res:
        print(f"  {r['backend']:<8} {r['plan'][0]:>10.2f} {r['plan'][1]:>11.2f} {r['chip'][0]:>10.2f} "
              f"{r['chip'][1]:>11.2f} {r['total'][1]:>12.2f} {r['images'] / r['chip'][1]:>9.2f} "
              f"{r['chip'][1] / f:>7.1f}x {r['rss_mb']:>11.0f}")
    print("  images/s = images / chip-run wall time; plan = weights, quantization, float calibration pass")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lut", default=DEFAULT_LUT, help="cim_column LUT (default lut/ptm16hp/cim_column)")
    ap.add_argument("--batch", type=int, default=16, help="images per layer-shape call (part 1)")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds in part 1, the best is kept")
    ap.add_argument("--images", type=int, default=32, help="images through ResNet-20 (part 2)")
    ap.add_argument("--eval-batch", type=int, default=32, help="evaluate_model batch (part 2)")
    ap.add_argument("--no-profile", action="store_true", help="skip part 3")
    ap.add_argument("--skip-network", action="store_true", help="skip part 2")
    ap.add_argument("--quick", action="store_true", help="1 image per shape, 1 round, 4 network images")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    a = ap.parse_args()
    os.chdir(ROOT)
    if a.child:
        return child(a)
    if a.quick:
        a.batch, a.repeat, a.images, a.eval_batch = 1, 1, 4, 4
    print(f"charz model executor benchmark; numpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), BLAS threads="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}, {time.strftime('%Y-%m-%d %H:%M')}")
    print()
    print_part1(part1(a), a)
    print()
    if not a.skip_network:
        print_part2(part2(a), a)
        print()
    if not a.no_profile:
        part3(a)
    print()
    print(f"peak RSS of the parent (parts 1 and 3): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
