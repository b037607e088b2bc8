"""The network commands of the WHT crossbar (declared in this family's ``__init__``): ``charz eval --network
wht``, ``charz check wht`` and ``charz train --network wht``.

Each handler takes the parsed arguments and returns the exit code; options the command does not declare
were refused by the command line before it runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ...cli.common import DEFAULT_PDK, eval_coords, executor, get_pdk, sweep_scales
from ...core.errors import CharzError
from ...core.lut import Kind


def eval_wht(args) -> int:
    """``charz eval --network wht``: the frequency-domain digits network on a ``wht_column`` LUT (default
    ``wht16`` on the LUT search path); with ``--out`` also the mismatch (and VDD) sweeps, their PNGs and
    ``wht_eval.json``. Raises ``CharzError`` for converter options (the WHT has none). Returns 0."""
    from ...core.lut import LUT, find_default
    from ...network import wht as nw

    path = args.lut or find_default(DEFAULT_PDK, "wht16")
    lut = LUT.load(path, block=Kind.WHT_COLUMN)
    if args.pdk:
        lut.check_pdk(get_pdk(args).sha256)
    bad = [o for o, v in (("--adc-lut", getattr(args, "adc_lut", None)),
                          ("--columns-per-adc", getattr(args, "columns_per_adc", None)),
                          ("--adc-bits", getattr(args, "adc_bits", None))) if v is not None]
    if bad or getattr(args, "adc_calibration", "none") != "none":
        raise CharzError(f"{(bad or ['--adc-calibration'])[0]} does not apply to the WHT network (no converters: "
                         f"a latch per column)")
    coords = eval_coords(args)
    if args.trim_lut is not None and args.latch_calibration != "trim":
        raise CharzError("--trim-lut needs --latch-calibration trim")
    coords.update(latch_calibration=args.latch_calibration, trim_lut=args.trim_lut)
    res = nw.evaluate_wht(lut, mismatch_scale=args.mismatch, chips=args.chips, seed=args.seed,
                          mode=args.mode, **coords)
    res["lut"]["path"] = str(path)
    print(nw.format_wht(res))
    if args.out:
        from . import plots as pw

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scales = sweep_scales(args.sweep_mismatch)
        sweep = nw.accuracy_vs_mismatch_wht(lut, scales=scales, chips=args.chips, seed=args.seed, mode=args.mode,
                                            **coords)
        print(nw.format_wht_sweep(sweep))
        written = [pw.plot_accuracy_vs_mismatch(sweep, out / "wht_accuracy_vs_mismatch.png"),
                   pw.plot_planes_histogram(res, out / "wht_planes_evaluated.png")]
        vdds = [float(v) for v in lut.axis("vdd").values]
        if res["latch_calibration"]:  # the trim is characterized at its own corners
            have = LUT.load(res["latch_calibration"]["trim"]["lut"], block=Kind.COMPARATOR).axis("vdd").values
            vdds = [v for v in vdds if np.min(np.abs(have - v)) <= 1e-3]
        if len(vdds) > 1 and coords.get("vdd") is None:
            vs = nw.accuracy_vs_vdd_wht(lut, vdds=vdds, chips=args.chips, seed=args.seed, mode=args.mode,
                                        **{k: v for k, v in coords.items() if k != "vdd"})
            print(nw.format_wht_sweep(vs))
            written.append(pw.plot_accuracy_vs_vdd(vs, out / "wht_accuracy_vs_vdd.png"))
        (out / "wht_eval.json").write_text(json.dumps(res, indent=1, default=str))
        print("wrote " + ", ".join(str(p) for p in written) + f" and {out / 'wht_eval.json'}")
    return 0


def check_wht(args) -> int:
    """``charz check wht``: the LUT's whole crossbar in ngspice against the behavioral layer fed by the LUT
    (optionally with Monte Carlo instances), printed and optionally written as JSON. Returns 4 when decks
    failed, else 0."""
    from ...core.lut import LUT, find_default
    from .check import check_against_spice, format_check

    lut = LUT.load(args.lut or find_default(DEFAULT_PDK, "wht16"), block=Kind.WHT_COLUMN)
    coords = eval_coords(args)
    res = check_against_spice(lut, vectors=args.vectors, bits=args.bits, seed=args.seed, mc=args.mc,
                              executor=executor(args), use_cache=not args.no_cache, progress=not args.quiet,
                              **coords)
    print(format_check(res))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
        print(f"wrote {args.json}")
    return 4 if res["failures"] else 0


def train_wht(args) -> int:
    """``charz train --network wht``: re-train the frequency-domain digits network with the shipped recipe,
    hardware-aware on its LUT (or ``--lut``) unless ``--ideal``, and save the weights (``--output``, default
    the shipped file). Returns 0."""
    from ...core.lut import LUT, find_default
    from ...network import wht as nw

    recipe = dict(nw.load_shipped_wht().meta.get("recipe") or {})
    lut_path = args.lut or recipe.get("lut")
    recipe.update(seed=args.seed)
    parts = Path(lut_path).parts if isinstance(lut_path, str) else ()
    if args.ideal:
        lut_path = None
    elif not args.lut and len(parts) == 3 and parts[0] == "lut":  # the recipe's default LUT: lut/<pdk>/<name>
        lut_path = find_default(parts[1], parts[2])
    recipe["lut"] = LUT.load(lut_path, block=Kind.WHT_COLUMN) if lut_path else None
    t0 = time.time()
    net = nw.train_digits_wht(**recipe)
    path = net.save(args.output or nw.DATA)
    print(f"trained the digits WHT network ({'hardware-aware on ' + str(lut_path) if lut_path else 'ideal crossbar'}, "
          f"seed {args.seed}) in {time.time() - t0:.1f} s; ideal test accuracy "
          f"{100 * net.meta.get('ideal_test_accuracy', float('nan')):.2f} %")
    print(f"wrote {path}")
    return 0
