"""What ``charz eval --model`` writes: the result of :func:`charz.network.engine.evaluate_model` as JSON and
Markdown, its figures (energy per layer by component; accuracy against mismatch and against converter bits
when those sweeps were run), and the sweeps themselves.

A sweep re-runs the same model, images and mapping with one backend option changed (the column mismatch
scale, the converter bits): each point is a complete :func:`evaluate_model` with its own chips, so the
points share the calibration and the seed and differ only in that option.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.errors import ParameterError
from .engine import evaluate_model, format_result


def sweep(model, images, labels, mapping_for, values, *, key: str, **kw) -> dict:
    """Accuracy (float, ideal, per chip) and energy for every value of one option: *mapping_for(value)*
    gives the mapping of that point; *kw* go to :func:`evaluate_model`. Returns ``{"key", "values",
    "accuracy_per_chip", "accuracy_mean", "accuracy_std", "ideal_accuracy", "float_accuracy",
    "energy_per_inference_J", "tops_per_watt"}`` (one entry per value)."""
    out = {"key": key, "values": [], "accuracy_per_chip": [], "accuracy_mean": [], "accuracy_std": [],
           "ideal_accuracy": None, "float_accuracy": None, "energy_per_inference_J": [], "tops_per_watt": []}
    for i, v in enumerate(values):
        r = evaluate_model(model, images, labels, mapping_for(v), references=(i == 0), **kw)
        if i == 0:
            out["ideal_accuracy"], out["float_accuracy"] = r["ideal_accuracy"], r["float_accuracy"]
        out["values"].append(v)
        out["accuracy_per_chip"].append(r["accuracy_per_chip"])
        out["accuracy_mean"].append(r["accuracy_mean"])
        out["accuracy_std"].append(r["accuracy_std"])
        out["energy_per_inference_J"].append(r["energy_per_inference_J"])
        out["tops_per_watt"].append(r["tops_per_watt"])
    return out


def markdown(result: dict, title: str) -> str:
    """The result as a Markdown page: the summary, the conventions and the per-layer table."""
    r = result

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.2f} %"

    ci = r.get("accuracy_ci95")
    tops = "n/a" if not r["tops_per_watt"] else f"{r['tops_per_watt']:.2f}"
    lat = "n/a" if r["latency_per_inference_s"] is None else f"{r['latency_per_inference_s'] * 1e9:.3f} ns"
    ci_text = "n/a" if not ci else f"{100 * ci[0]:.2f} .. {100 * ci[1]:.2f} %"
    lines = [f"# {title}", "",
             f"{r['n_images']} images, {r['chips']} chips (seed {r['seed']}), mapping: {r['mapping']['source']}", "",
             "| quantity | value |", "|---|---|",
             f"| float accuracy | {pct(r['float_accuracy'])} |",
             f"| quantized ideal accuracy | {pct(r['ideal_accuracy'])} |",
             f"| chip accuracy (mean ± std) | {pct(r['accuracy_mean'])} ± {100 * r['accuracy_std']:.2f} % |",
             f"| 95 % CI of the mean | {ci_text} |",
             f"| energy / inference | {r['energy_per_inference_J'] * 1e12:.3f} pJ |",
             f"| ops / inference (1 MAC = 2 ops) | {r['ops_per_inference']:.0f} |",
             f"| TOPS/W | {tops} |",
             f"| latency / inference | {lat} |",
             "", "## Layers", "",
             "| layer | op | backend | MACs | tiles | column evaluations | conversions | input sparsity | "
             "output sparsity | energy pJ |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["layers"]:
        def f(v, fmt):
            return "-" if v is None else format(v, fmt)
        lines.append(f"| {row['name']} | {row['op']} | {row['backend']} | {row['macs_per_image']} | "
                     f"{f(row['tiles'], 'd')} | {f(row['column_evaluations_per_image'], '.0f')} | "
                     f"{row['conversions_per_image']:.0f} | {f(row['input_sparsity'], '.3f')} | "
                     f"{f(row['output_sparsity'], '.3f')} | {row['energy_per_image_J'] * 1e12:.3f} |")
    lines += ["", "## Conventions", ""] + [f"- **{k}**: {v}" for k, v in r.get("conventions", {}).items()]
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path, title: str, sweeps: dict | None = None) -> list[Path]:
    """Write ``result.json``, ``result.md``, ``result.txt`` and the PNGs into folder *out* (created): the
    energy per layer by component, and ``accuracy_vs_<key>.png`` for every sweep in *sweeps*. Returns the
    paths written."""
    from ..plot import network as pn

    out.mkdir(parents=True, exist_ok=True)
    doc = dict(result, sweeps=sweeps or {})
    paths = [out / "result.json", out / "result.md", out / "result.txt"]
    paths[0].write_text(json.dumps(doc, indent=1, default=str))
    paths[1].write_text(markdown(result, title))
    paths[2].write_text(format_result(result) + "\n")
    paths.append(pn.plot_layer_energy(result, out / "energy_by_layer.png", title))
    for key, sw in (sweeps or {}).items():
        paths.append(pn.plot_accuracy_sweep(sw, out / f"accuracy_vs_{key}.png", title))
    return [Path(p) for p in paths]


def find_model(name_or_path: str) -> Path:
    """An ONNX file the user names: a path as given, else a shipped model ``charz/network/models/NAME.onnx``;
    a one-line ``ParameterError`` listing the shipped ones otherwise."""
    from .zoo import MODELS_DIR

    p = Path(name_or_path)
    if p.suffix == ".onnx" or p.exists():
        if not p.is_file():
            raise ParameterError(f"--model {name_or_path}: no such ONNX file")
        return p
    shipped = MODELS_DIR / f"{name_or_path}.onnx"
    if shipped.is_file():
        return shipped
    names = sorted(f.stem for f in MODELS_DIR.glob("*.onnx"))
    raise ParameterError(f"--model {name_or_path!r} is neither an ONNX file nor a shipped model: give a path to a "
                         f".onnx file or one of {', '.join(names) or '(none shipped)'} (`charz models` lists them)")


# options of the network commands that are also backend options of a model run: flag key -> backend key
_AS_BACKEND = {"lut": "lut", "adc_lut": "adc_lut", "adc_bits": "adc_bits", "columns_per_adc": "columns_per_adc",
               "t_pulse": "t_pulse", "length": "length", "trim_lut": "trim_lut"}


def parse_set(items) -> dict:
    """Backend options from ``--set KEY=VALUE`` items (KEY one of :data:`charz.network.backends.OPTIONS`, the
    value read as its kind says); a one-line ParameterError otherwise."""
    from ..core.grid import number
    from .backends import OPTIONS

    opts: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in OPTIONS:
            raise ParameterError(f"--set {item!r}: write KEY=VALUE with KEY one of {', '.join(sorted(OPTIONS))}")
        kind = OPTIONS[key].kind
        opts[key] = (number(value, f"--set {key}") if kind in ("int", "float") else
                     value.strip().lower() in ("1", "true", "yes") if kind == "bool" else value.strip())
        if kind == "int":
            if opts[key] != int(opts[key]):
                raise ParameterError(f"--set {item!r}: {key} is an integer")
            opts[key] = int(opts[key])
    return opts


def backend_options(args, shared: dict) -> dict:
    """Backend options of a model run from ``--set KEY=VALUE`` and the flags ``charz eval`` shares with its
    network commands (--lut, --adc-lut, --adc-bits, --adc-calibration, --columns-per-adc, --t-pulse, --length,
    --mismatch, --vdd, --temp), each only when given (*shared*: flag key -> its default)."""
    from ..core.grid import number

    opts = parse_set(args.set)
    for flag_key, key in _AS_BACKEND.items():
        v = getattr(args, flag_key, None)
        if flag_key in shared and v is not None and v != shared[flag_key]:
            opts.setdefault(key, number(v, "--" + flag_key.replace("_", "-")) if key == "t_pulse" else v)
    if getattr(args, "adc_calibration", "none") not in (None, "none"):
        opts.setdefault("calibration", args.adc_calibration)
    if getattr(args, "column_calibration", "none") not in (None, "none"):
        opts.setdefault("column_calibration", args.column_calibration)
    if args.mismatch != 1.0:
        opts.setdefault("mismatch_scale", args.mismatch)
    for key in ("vdd", "temp"):
        if getattr(args, key, None):
            opts.setdefault(key, number(getattr(args, key), "--" + key))
    return opts


def run_model(args, shared: dict, sweep_default: str) -> int:
    """``charz eval --model M --dataset D`` (*args* parsed by :mod:`charz.cli.eval`; *shared*: its network
    options' defaults; *sweep_default*: the default of --sweep-mismatch, swept only when given otherwise): *M* on the first ``--images`` of *D* with every weight layer on
    its mapped backend, on ``--chips`` chips (on ``--workers`` local processes or the Dask ``--scheduler``
    when given); prints the result table and, with ``--out``, writes
    result.json / .md / .txt, the energy-per-layer PNG and the requested sweeps. Returns 0."""
    import time
    from pathlib import Path

    from ..core.grid import grid
    from ..datasets import load
    from . import mapping as mp

    if args.dataset is None:
        raise ParameterError("--model needs --dataset NAME|PATH (see `charz data`)")
    for flag in ("mode", "delay_lut", "tdc_lut", "acc_lut"):
        if getattr(args, flag, None) is not None:
            raise ParameterError(f"--{flag.replace('_', '-')} does not apply to --model (use --set or --map)")
    path = find_model(args.model)
    opts = backend_options(args, shared)
    if args.map is not None and opts:
        raise ParameterError(f"--map {args.map} holds the backend options: give them in the file, not as flags "
                             f"({', '.join(sorted(opts))})")
    data = load(args.dataset, args.split, limit=args.images)
    calib = None
    if args.calib_images:
        calib = load(args.dataset, "train", limit=args.calib_images).images
    mapping = (mp.load_mapping(args.map, backend=args.backend, first_last=args.first_last) if args.map else
               mp.default_mapping(args.backend or mp.DEFAULT_BACKEND, args.first_last or "digital", **opts))
    backend = mapping.backend
    kw = dict(chips=args.chips, seed=args.seed, calib_images=calib, workers=getattr(args, "workers", None),
              scheduler=getattr(args, "scheduler", None) or os.environ.get("CHARZ_SCHEDULER") or None,
              shards=getattr(args, "shards", None) or 1, progress=not getattr(args, "quiet", False),
              **({"calib_count": args.calib_images} if args.calib_images else {}))

    t0 = time.time()
    res = evaluate_model(str(path), data.images, data.labels, mapping, **kw)
    title = (f"{path.stem} on {data.description} ({args.split}), "
             + (f"mapping {args.map}" if args.map else f"backend {backend}"))
    print(title)
    print(format_result(res))
    print(f"evaluated in {time.time() - t0:.1f} s")
    if args.out:
        sweeps = {}
        if args.map is None and args.sweep_mismatch != sweep_default:
            scales = grid(args.sweep_mismatch, "--sweep-mismatch")
            sweeps["mismatch_scale"] = sweep(str(path), data.images, data.labels,
                                             lambda v: mp.default_mapping(backend, args.first_last or "digital",
                                                                          **{**opts, "mismatch_scale": v}),
                                             scales, key="mismatch_scale", **kw)
        if args.sweep_bits and args.map is None:
            bits = [int(b) for b in grid(args.sweep_bits, "--sweep-bits")]
            sweeps["adc_bits"] = sweep(str(path), data.images, data.labels,
                                       lambda v: mp.default_mapping(backend, args.first_last or "digital",
                                                                    **{**opts, "adc_bits": v}),
                                       bits, key="adc_bits", **kw)
        for p in write(res, Path(args.out), title, sweeps):
            print(f"wrote {p}")
    return 0
