"""Benchmark: the model executor's ``cim`` backend at ResNet-20 scale vs bare bit-serial arithmetic, and
ResNet-20 images/s through :func:`charz.network.engine.evaluate_model` (issue 13).

    .venv/bin/python bench/bench_executor.py [--lut lut/ptm16hp/cim_column] [--batch 16] [--repeat 3]
                                             [--images 32] [--model PATH] [--dask-images 8] [--no-profile]
                                             [--skip-network] [--skip-dask] [--quick]

Part 1 (random operands), per layer shape of ResNet-20 on 32x32 CIFAR images after im2col (rows = output pixels x images):
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

- ``cim plain``: the same backend's layer on its plain path (``model_layer.FAST = False``: k of every
  evaluation materialized, its histogram, the read-out of the evaluations at or above threshold): what the
  executor ran before the fast path; same integers and histogram (checked).

The ratio cim / bit-serial is the goal of issue 13 (<= 3x). BLAS is single-threaded (the CiM layer forces one
thread for its products; the baseline gets the same).

Part 1b (real operands): the same comparison on the activations the executor hands the ``cim`` backend in
ResNet-20 on the first ``--batch`` CIFAR-10 test images: the quantized im2col rows of the first call of each
distinct (K, N) layer shape, captured in the ideal-twin run of an ``evaluate_model`` plan (``run_chip(plan,
"ideal")``: each layer's input is the exact integer network's) with the layer's own integer weights. The model is
``charz/network/models/resnet20.onnx`` when it exists (trained), else the untrained export of part 2.

Part 2: ResNet-20 (``charz/network/models/resnet20.onnx`` when it exists, else ``charz.network.zoo.build_resnet20``
untrained: random weights, BN at its init, exported to ONNX with torch; without either, parts 1b, 2 and 4 are
skipped) through ``evaluate_model`` on the ``float``, ``exact``, ``cim`` with ideal columns (``cim_ideal``) and
``cim`` backends (executor defaults: 8-bit, first and last layer on ``digital``), one chip, ``references=False``,
the first ``--images`` CIFAR-10 test images (random uint8 images if the data set is missing). Each backend runs
in its own child process (peak RSS = VmHWM of /proc/self/status: ``ru_maxrss`` would carry the parent's peak
across exec); the child times ``engine.make_plan`` (weights, quantization, float calibration pass; timed by
wrapping it) and the rest of the call (the chip run) separately. images/s = images / chip-run wall time.

Part 3 (unless ``--no-profile``): cProfile top 10 (internal time) of one cim ``matmul`` of the K = 576 layer
(random operands), and the ten slowest lines of the fast path (a line tracer: it adds its own overhead per line).

Part 4 (unless ``--skip-dask``): chips on Dask: ``engine.map_chips(plan, range(chips), scheduler=...)`` on a
local ``distributed.LocalCluster`` of 1 and 2 worker processes (1 thread each), 1, 2 and 4 cim chips of the part 2
network on ``--dask-images`` images; the plan is made once; images/s = chips x images / wall time of the
``map_chips`` call (the plan is sent to the workers in it); cluster start-up not counted.

``--quick``: 1 image per layer shape, 1 round, 4 images for part 2, 2 images, 1 and 2 chips on 2 workers for
part 4: well under a minute, to check that it runs. Worker imports are done before the timing (``client.run``).
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


def peak_rss_mb() -> float:
    """This process's peak resident set [MB]: VmHWM of /proc/self/status (per address space, so a child started
    by a large parent does not inherit the parent's peak, as ``ru_maxrss`` does across exec on Linux); else
    ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    rng = np.random.default_rng(0)
    cases = []
    for K, N, rpi in SHAPES:
        rows = a.batch * rpi
        w = rng.integers(-127, 128, size=(K, N))
        x = rng.integers(0, 256, size=(rows, K)).astype(np.int64)
        cases.append((w, x))
    return compare(a, cases)


def compare(a, cases) -> list[dict]:
    """Time cim (fast and plain path), its ideal twin, the bit-serial baseline and float32 on (w, x) cases."""
    from charz.blocks.cim_column import model_layer as ml
    from charz.network import backends as bk

    rows_out = []
    for w, x in cases:
        (rows, K), N = x.shape, w.shape[1]
        t0 = time.perf_counter()
        be = bk.make_backend("cim", {"lut": a.lut}, chip_seed=0)
        be.program(w)
        t_prog = time.perf_counter() - t0
        lay = be.inner.layer
        t0 = time.perf_counter()
        lay._fast = lay._prepare_fast()  # the fast path's tables (else built by the first call)
        t_tab = time.perf_counter() - t0
        ideal = be.ideal()
        base = BitSerial(w, lay.x_bits, lay.w_bits)
        xf, wf = x.astype(np.float32), w.astype(np.float32)
        exact = x @ w
        assert np.array_equal(base(x), exact), "bit-serial baseline is not exact"
        assert np.array_equal(ideal.matmul(x)[0], exact), "ideal columns are not exact"
        y_cim, cost = be.matmul(x)
        ml.FAST = False
        y_plain, cost_plain = be.matmul(x)
        ml.FAST = True
        assert np.array_equal(y_cim, y_plain) and cost.energy == cost_plain.energy, "fast and plain paths differ"
        wrong = float(np.mean(y_cim != exact))

        def plain():
            ml.FAST = False
            try:
                be.matmul(x)
            finally:
                ml.FAST = True

        t = timed_rounds({"cim": lambda: be.matmul(x), "plain": plain, "ideal": lambda: ideal.matmul(x),
                          "bits": lambda: base(x), "f32": lambda: xf @ wf}, a.repeat)
        f = lay._fast
        rows_out.append(dict(K=K, N=N, rows=rows, tiles=lay.n_tiles, planes=lay.x_bits, slices=2 * lay.n_slices,
                             evals=int(cost.conversions), t=t, t_prog=t_prog, t_tab=t_tab, wrong=wrong,
                             label=be.label,
                             zero_bits=float(np.mean(((x[:, :, None] >> np.arange(lay.x_bits)) & 1) == 0)),
                             risky=f["risky_columns"] / (lay.n_tiles * lay.columns_per_tile)))
    return rows_out


def print_part1(res, a, title=None):
    print(title or (f"Part 1: one cim matmul per ResNet-20 layer shape, random operands, {a.batch} image(s), LUT "
                    f"{a.lut}, one chip, 8-bit x (unsigned), 8-bit w, best of {a.repeat} interleaved rounds, BLAS 1 "
                    f"thread"))
    print(f"  backend: {res[0]['label']}")
    hdr = (f"  {'K':>4} {'N':>3} {'rows':>6} {'tiles':>5} {'P x 2S':>6}  {'cim ms':>8} {'plain ms':>8} {'ideal ms':>8} "
           f"{'bitser ms':>9} {'f32 ms':>7}  {'cim/bitser':>10} {'ideal/bitser':>12} {'plain/cim':>9} "
           f"{'Geval/s':>7}  {'goal 3x':>7}")
    for clock, j in (("cpu", 0), ("wall", 1)):
        print(f"  [{clock} time]")
        print(hdr)
        for r in res:
            t = {k: v[j] for k, v in r["t"].items()}
            ratio = t["cim"] / t["bits"]
            print(f"  {r['K']:>4} {r['N']:>3} {r['rows']:>6} {r['tiles']:>5} {r['planes']:>2} x {r['slices']:<2} "
                  f"{1e3 * t['cim']:>8.1f} {1e3 * t['plain']:>8.1f} {1e3 * t['ideal']:>8.1f} {1e3 * t['bits']:>9.1f} "
                  f"{1e3 * t['f32']:>7.2f}  {ratio:>9.2f}x {t['ideal'] / t['bits']:>11.2f}x "
                  f"{t['plain'] / t['cim']:>8.1f}x {r['evals'] / t['cim'] / 1e9:>7.2f}  "
                  f"{'met' if ratio <= 3 else 'NOT met':>7}")
    for r in res:
        print(f"  K={r['K']} N={r['N']}: {r['evals']} column evaluations per call, programming (mismatch draw + "
              f"mapping) {1e3 * r['t_prog']:.0f} ms + fast-path tables {1e3 * r['t_tab']:.0f} ms once, outputs != "
              f"exact x @ w: {100 * r['wrong']:.2f} %, zero "
              f"activation bits {100 * r['zero_bits']:.1f} %, risky physical columns {100 * r['risky']:.1f} %")


# ---- part 1b -----------------------------------------------------------------------------------------
TRAINED = os.path.join(ROOT, "charz", "network", "models", "resnet20.onnx")


def model_path(a) -> tuple[str | None, str]:
    """The ResNet-20 to run: ``--model``, else the trained one when it exists, else the untrained export (None
    without torch)."""
    if a.model:
        return a.model, f"given ({a.model})"
    if os.path.exists(TRAINED):
        return TRAINED, f"trained ({os.path.relpath(TRAINED, ROOT)})"
    if a.onnx is None:
        a.onnx = os.path.join(tempfile.mkdtemp(prefix="bench_executor_"), "resnet20.onnx")
        if not export_resnet20(a.onnx):
            a.onnx = None
    return a.onnx, "untrained (random weights, exported with torch)"


def load_images(n: int):
    try:
        from charz import datasets
        d = datasets.load("cifar10", "test", limit=n)
        return np.asarray(d.images), np.asarray(d.labels), "CIFAR-10 test"
    except Exception as e:  # data set missing
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=n),
                f"random uint8 ({type(e).__name__})")


def part1b(a):
    from charz.network import backends as bk, engine
    from charz.network.mapping import default_mapping

    path, what = model_path(a)
    if path is None:
        return None, "skipped (torch not importable)"
    images, labels, src = load_images(a.batch)
    plan, _ = engine.make_plan(path, images, labels, default_mapping("cim", lut=a.lut), batch=a.batch)
    cap = {}
    orig = bk.CimLayerBackend.matmul

    def rec(self, x):
        cap.setdefault(tuple(self.inner.weights.shape), (self.inner.weights, np.asarray(x).copy()))
        return orig(self, x)

    bk.CimLayerBackend.matmul = rec
    try:
        engine.run_chip(plan, "ideal")
    finally:
        bk.CimLayerBackend.matmul = orig
    cases = [cap[k] for k in sorted(cap)]
    return compare(a, cases), f"ResNet-20 {what}, {len(images)} {src} image(s)"


# ---- part 3 ------------------------------------------------------------------------------------------
def part3(a):
    from charz.blocks.cim_column import model_layer as ml
    from charz.network import backends as bk

    K, N, rpi = SHAPES[-1]  # the largest: the shape the 3x goal was hardest on
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
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(10)
    print(f"Part 3: cProfile of one cim matmul, K={K}, N={N}, {x.shape[0]} rows, random operands (top 10, internal "
          "time; numpy ufuncs such as matmul are not seen by cProfile, their time stays in the caller)")
    body = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(body) if "ncalls" in ln)
    for ln in body[start:start + 11]:
        print("   " + ln.rstrip())

    # the slowest lines of the fast path (sys.settrace line events; the tracer adds ~1 us per line)
    lay = be.inner.layer
    src = open(ml.__file__).read().splitlines()
    names = {"_call_fast", "_hist_direct", "_hist_patterns", "_superset_sums"}
    acc, last = {}, [None, 0.0]

    def line_tracer(frame, event, arg):
        now = time.perf_counter()
        if last[0] is not None:
            acc[last[0]] = acc.get(last[0], 0.0) + now - last[1]
        last[0] = (frame.f_code.co_name, frame.f_lineno) if event == "line" else None
        last[1] = time.perf_counter()
        return line_tracer

    def call_tracer(frame, event, arg):
        return line_tracer if frame.f_code.co_name in names else None

    sys.settrace(call_tracer)
    try:
        lay(x)
    finally:
        sys.settrace(None)
    tot = sum(acc.values())
    risky = 100 * lay._fast["risky_columns"] / (lay.n_tiles * lay.columns_per_tile)
    print(f"  the ten slowest lines of the fast path (wall, one call, {risky:.1f} % of the physical columns can be "
          f"misread):")
    for (fn, ln), v in sorted(acc.items(), key=lambda kv: -kv[1])[:10]:
        print(f"    {1e3 * v:>7.1f} ms {100 * v / tot:>5.1f} %  {fn}:{ln}  {src[ln - 1].strip()[:88]}")
    print(f"    {1e3 * tot:>7.1f} ms total (traced)")


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

    images, labels, src = load_images(a.images)
    times = {}
    orig_plan = engine.make_plan

    def timed(name, f):
        def g(*args, **kw):
            c0, w0 = time.process_time(), time.perf_counter()
            out = f(*args, **kw)
            times[name] = (time.process_time() - c0, time.perf_counter() - w0)
            return out
        return g

    rss = {}

    def plan_then_rss(*args, **kw):
        out = orig_plan(*args, **kw)
        rss["plan"] = peak_rss_mb()
        return out

    engine.make_plan = timed("plan", plan_then_rss)  # chip run(s) = the rest of evaluate_model
    opts = {"lut": a.lut} if a.child == "cim" else ({"columns": "ideal"} if a.child == "cim_ideal" else {})
    from charz.network.mapping import default_mapping
    mp = default_mapping("cim" if a.child == "cim_ideal" else a.child, **opts)
    c0, w0 = time.process_time(), time.perf_counter()
    r = engine.evaluate_model(a.onnx, images, labels, mp, chips=1, references=False, batch=a.eval_batch)
    total = (time.process_time() - c0, time.perf_counter() - w0)
    engine.make_plan = orig_plan
    plan = times.get("plan", (0.0, 0.0))
    chip = (total[0] - plan[0], total[1] - plan[1])
    acc = r.get("accuracy") if isinstance(r.get("accuracy"), (int, float)) else None
    print(json.dumps({"backend": a.child, "images": len(images), "source": src, "total": total, "plan": plan,
                      "chip": chip, "rss_mb": peak_rss_mb(),
                      "rss_plan_mb": rss.get("plan"),
                      "accuracy": acc}))


def part2(a) -> list[dict] | None:
    path, a.model_what = model_path(a)
    if path is None:
        return None
    out = []
    for name in ("float", "exact", "cim_ideal", "cim"):
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
    print(f"Part 2: ResNet-20 ({a.model_what}) through evaluate_model, {res[0]['images']} images "
          f"({res[0]['source']}), batch {a.eval_batch}, 1 chip, references=False, executor defaults (8-bit; first and "
          f"last layer on digital), one child process per backend")
    print(f"  {'backend':<9} {'plan cpu s':>10} {'plan wall s':>11} {'chip cpu s':>10} {'chip wall s':>11} "
          f"{'total wall s':>12} {'images/s':>9} {'vs float':>8} {'peak RSS MB':>11} {'plan RSS':>10}")
    f = res[0]["chip"][1]
    for r in res:
        print(f"  {r['backend']:<9} {r['plan'][0]:>10.2f} {r['plan'][1]:>11.2f} {r['chip'][0]:>10.2f} "
              f"{r['chip'][1]:>11.2f} {r['total'][1]:>12.2f} {r['images'] / r['chip'][1]:>9.2f} "
              f"{r['chip'][1] / f:>7.1f}x {r['rss_mb']:>11.0f} {r['rss_plan_mb'] or 0:>10.0f}")
    print("  cim_ideal = the cim backend on ideal columns (columns = 'ideal': k_hat = k, the exact product); images/s "
          "= images / chip-run wall time; plan = weights, quantization, float calibration pass; peak RSS = VmHWM of "
          "the child process, plan RSS = its VmHWM when make_plan returned")


# ---- part 4 ------------------------------------------------------------------------------------------
def part4(a):
    try:
        import distributed
    except ImportError:
        return None, "skipped (dask.distributed not importable)"
    from charz.network import engine
    from charz.network.mapping import default_mapping

    path, what = model_path(a)
    if path is None:
        return None, "skipped (torch not importable)"
    images, labels, src = load_images(a.dask_images)
    plan, _ = engine.make_plan(path, images, labels, default_mapping("cim", lut=a.lut), batch=a.dask_images)
    chips = (1, 2) if a.quick else (1, 2, 4)
    out = []
    for workers in (2,) if a.quick else (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            client.run(_warm_worker)  # imports in every worker: not counted
            for n in chips:
                w0 = time.perf_counter()
                runs = engine.map_chips(plan, list(range(n)), scheduler=cluster.scheduler_address)
                wall = time.perf_counter() - w0
                out.append(dict(workers=workers, chips=n, wall=wall, ips=n * len(images) / wall,
                                acc=[r["accuracy"] for r in runs]))
    w0 = time.perf_counter()
    engine.map_chips(plan, [0])
    local = time.perf_counter() - w0
    return dict(rows=out, local=local, n=len(images)), f"ResNet-20 {what}, {len(images)} {src} image(s)"


def _warm_worker():
    import charz.network.backends  # noqa: F401
    import charz.network.engine  # noqa: F401


def print_part4(res, what):
    if res is None:
        print(f"Part 4: {what}")
        return
    print(f"Part 4: cim chips on Dask (LocalCluster, worker processes x 1 thread, {os.cpu_count()} CPUs), {what}, "
          f"batch {res['n']}; one chip in this process without Dask: {res['local']:.2f} s "
          f"({res['n'] / res['local']:.2f} images/s)")
    print(f"  {'workers':>7} {'chips':>5} {'wall s':>7} {'images/s':>9} {'speed-up vs 1 worker':>20}")
    base = {r["chips"]: r["wall"] for r in res["rows"] if r["workers"] == 1}
    for r in res["rows"]:
        up = f"{base[r['chips']] / r['wall']:>19.2f}x" if r["chips"] in base else f"{'-':>20}"
        print(f"  {r['workers']:>7} {r['chips']:>5} {r['wall']:>7.2f} {r['ips']:>9.2f} {up}")
    print("  images/s = chips x images / wall time of map_chips (the plan is scattered to the workers in it)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lut", default=DEFAULT_LUT, help="cim_column LUT (default lut/ptm16hp/cim_column)")
    ap.add_argument("--batch", type=int, default=16, help="images per layer-shape call (part 1)")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds in part 1, the best is kept")
    ap.add_argument("--images", type=int, default=32, help="images through ResNet-20 (part 2)")
    ap.add_argument("--eval-batch", type=int, default=32, help="evaluate_model batch (part 2)")
    ap.add_argument("--no-profile", action="store_true", help="skip part 3")
    ap.add_argument("--skip-network", action="store_true", help="skip part 2")
    ap.add_argument("--skip-dask", action="store_true", help="skip part 4")
    ap.add_argument("--model", help="ResNet-20 ONNX file for parts 1b, 2 and 4 (default: "
                    "charz/network/models/resnet20.onnx when it exists, else an untrained export)")
    ap.add_argument("--dask-images", type=int, default=8, help="images per chip in part 4")
    ap.add_argument("--quick", action="store_true", help="1 image per shape, 1 round, 4 network images")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    a = ap.parse_args()
    os.chdir(ROOT)
    if a.child:
        return child(a)
    if a.quick:
        a.batch, a.repeat, a.images, a.eval_batch, a.dask_images = 1, 1, 4, 4, 2
    a.model_what = "untrained"
    print(f"charz model executor benchmark; numpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), BLAS threads="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}, {time.strftime('%Y-%m-%d %H:%M')}")
    print()
    print_part1(part1(a), a)
    print()
    res, what = part1b(a)
    if res is None:
        print(f"Part 1b: {what}")
    else:
        print_part1(res, a, f"Part 1b: the same on real operands: {what}, the im2col rows the executor quantizes "
                            f"for each distinct cim layer shape (first call), best of {a.repeat} rounds")
    print()
    if not a.skip_network:
        print_part2(part2(a), a)
        print()
    if not a.skip_dask:
        print_part4(*part4(a))
        print()
    if not a.no_profile:
        part3(a)
    print()
    print(f"peak RSS of the parent (parts 1, 1b, 3, 4): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
