"""Studies on the behavioral time-domain FP8 MAC (:mod:`charz.blocks.td_mac.model`): random FP8 test
vectors (:func:`random_vectors`, :data:`DISTRIBUTIONS`), the dot-product error as one mismatch path is scaled
(:func:`sensitivity`), and the exponent- vs mantissa-path comparison (:func:`compare_paths`,
:func:`format_paths`) that ``charz eval --network td_mac --out`` reports.
"""

from __future__ import annotations

import math

import numpy as np

from ...core.errors import ParameterError
from ...core.validate import posint
from ...behavior import fp8
from .model import MAX_LENGTH, TdMacModel, _scale
from .model_circuit import TdMacCircuit, _seed

DISTRIBUTIONS = {
    "normal": "a, b ~ N(0, 1) i.i.d., quantized to the format (saturating)",
    "network": "a = max(0, N(0, 1)) (ReLU activations, half exact zeros), b ~ N(0, 1/L) (fan-in-scaled weights), "
               "quantized to the format (saturating)",
}
PATHS = ("exponent", "mantissa")


# ---- random vectors and the sensitivity study ----------------------------------------------------
def random_vectors(n: int, length: int, fmt="e4m3", dist: str = "normal", seed: int = 0):
    """(a, b), each (n, length), quantized to *fmt* (saturating).

    ``"normal"``: a, b ~ N(0, 1) i.i.d. (signs independent, exponents spread over ~6 binades).
    ``"network"``: a = max(0, N(0, 1)) (ReLU activations, half of them exact zeros) and
    b ~ N(0, 1/length) (weights of a layer with fan-in L at the usual 1/sqrt(fan-in) scale)."""
    f = fp8.get_format(fmt)
    n = posint(n, "n_vectors")
    length = posint(length, "length", MAX_LENGTH)
    rng = np.random.default_rng(_seed(seed))
    if dist == "normal":
        a, b = rng.standard_normal((n, length)), rng.standard_normal((n, length))
    elif dist == "network":
        a = np.maximum(rng.standard_normal((n, length)), 0.0)
        b = rng.standard_normal((n, length)) / math.sqrt(length)
    else:
        raise ParameterError(f"unknown vector distribution {dist!r}: use one of {', '.join(DISTRIBUTIONS)}")
    return fp8.quantize(a, f), fp8.quantize(b, f)


def sensitivity(circuit: TdMacCircuit | None, fmt="e4m3", scales=(0.0, 0.5, 1.0, 2.0), n_vectors: int = 20000,
                path: str = "exponent", seed: int = 0, length: int = 16, window: int | None = 8,
                guard: int | None = 2, adc=6, fullscale: float | None = None, units: int = 16,
                dist: str = "normal") -> dict:
    """Error of the dot product vs :func:`charz.behavior.fp8.exact_dot` as one mismatch path is scaled.

    ``path="exponent"``: exp_mismatch = each scale, man_mismatch = 0; ``"mantissa"``: the reverse.
    The same *seed* draws the same chip at every scale (common random numbers) and the same
    ``n_vectors`` random vectors (:func:`random_vectors`, ``dist``) run round robin on ``units``
    engines. Per scale: ``rel_rms`` = RMS(y - exact) / RMS(exact), ``median_rel`` = median of
    |y - exact| / |exact| over the vectors with exact != 0, and the clipped / dropped fractions. Scale
    0 gives the error of the nominal circuit (window, guard and converter: quantization only)."""
    if path not in PATHS:
        raise ParameterError(f"path must be 'exponent' or 'mantissa' (the mismatch path swept), got {path!r}")
    sc = [_scale(s, "scale") for s in np.atleast_1d(np.asarray(scales, dtype=float))]
    a, b = random_vectors(n_vectors, length, fmt, dist, seed)
    ref = fp8.exact_dot(a, b, fmt)
    rms_ref = float(np.sqrt(np.mean(ref**2)))
    nz = ref != 0
    out = {"path": path, "scales": sc, "rel_rms": [], "median_rel": [], "clipped_fraction": [],
           "dropped_fraction": [], "n_vectors": int(n_vectors), "units": units, "length": length,
           "dist": dist, "distribution": DISTRIBUTIONS.get(dist, dist)}
    for s in sc:
        m = TdMacModel(fmt, length, window, guard, adc, fullscale, circuit,
                       exp_mismatch=s if path == "exponent" else 0.0,
                       man_mismatch=s if path == "mantissa" else 0.0, units=units, seed=seed)
        y = m.dot(a, b)
        err = y - ref
        out["rel_rms"].append(float(np.sqrt(np.mean(err**2))) / rms_ref if rms_ref > 0 else float("nan"))
        out["median_rel"].append(float(np.median(np.abs(err[nz]) / np.abs(ref[nz]))) if np.any(nz) else float("nan"))
        out["clipped_fraction"].append(m.last_stats["clipped_fraction"])
        out["dropped_fraction"].append(m.last_stats["dropped_fraction"])
        out.setdefault("model", m.describe())
    return out


def compare_paths(circuit: TdMacCircuit, scales=(0.0, 0.25, 0.5, 1.0, 2.0), adc=6, window: int | None = None,
                  n_vectors: int = 20000, seed: int = 0, length: int = 16, dist: str = "normal", **kw) -> dict:
    """:func:`sensitivity` of the same circuit with mismatch on the exponent path only and on the mantissa
    path only, and which path is more sensitive: the ratio of the errors each adds over the nominal
    circuit's (scale 0) at scale 1 (the circuit as characterized)."""
    w = circuit.tdc_thr.size if window is None else window
    res = {p: sensitivity(circuit, scales=scales, path=p, adc=adc, window=w, n_vectors=n_vectors, seed=seed,
                          length=length, dist=dist, **kw) for p in PATHS}
    sc = list(res["exponent"]["scales"])
    k1 = sc.index(1.0) if 1.0 in sc else len(sc) - 1
    k0 = sc.index(0.0) if 0.0 in sc else None
    base = res["exponent"]["rel_rms"][k0] if k0 is not None else 0.0
    add = {p: max(res[p]["rel_rms"][k1] - base, 0.0) for p in PATHS}
    more = "exponent" if add["exponent"] >= add["mantissa"] else "mantissa"
    ratio = add[more] / max(add["exponent" if more == "mantissa" else "mantissa"], 1e-12)
    res["verdict"] = {"more_sensitive": more, "added_error": add, "ratio": ratio, "at_scale": sc[k1],
                      "nominal_error": base,
                      "text": (f"the {more} path is the more sensitive: at mismatch scale {sc[k1]:g} (as characterized) "
                               f"it adds {add[more]:.4f} relative RMS error over the nominal circuit's {base:.4f}, the "
                               f"other path {add['exponent' if more == 'mantissa' else 'mantissa']:.4f} "
                               f"({ratio:.3g}x)")}
    return res


def format_paths(res: dict) -> str:
    """The result of :func:`compare_paths` as text: relative RMS error per mismatch scale on the exponent and
    on the mantissa path, and the verdict."""
    e, m = res["exponent"], res["mantissa"]
    lines = [f"dot-product error vs mismatch on one path ({e['n_vectors']} random {e['length']}-element vectors, "
             f"{e['distribution']}; relative RMS error vs the exact FP8 result)",
             "  scale   exponent path   mantissa path"]
    for s, a, b in zip(e["scales"], e["rel_rms"], m["rel_rms"]):
        lines.append(f"  {s:5g}   {a:13.4f}   {b:13.4f}")
    lines.append("  " + res["verdict"]["text"])
    return "\n".join(lines)
