"""The network commands of the time-domain FP8 MAC (declared in this family's ``__init__``): ``charz eval
--network td_mac``, ``charz check td_mac`` and ``charz train --network td_mac``, all composed from the
``td_*`` LUTs and a read-out converter LUT (``--delay-lut`` / ``--tdc-lut`` / ``--acc-lut`` / ``--adc-lut``,
default ``<pdk>/td_delay4``, ``td_tdc``, ``td_acc``, ``adc_sar6`` on the LUT search path).

Each handler takes the parsed arguments and returns the exit code; options the command does not declare
were refused by the command line before it runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ...cli.common import DEFAULT_PDK, eval_coords, executor, get_pdk, sweep_scales
from ...core.errors import CharzError


def td_luts(args) -> dict:
    """The TD-MAC LUT paths of eval / check / train: ``delay``, ``tdc``, ``acc``, ``adc`` (None = the
    ``<pdk>/`` defaults of :mod:`charz.blocks.td_mac.model_circuit` on the LUT search path) and ``pdk`` (--pdk where
    the command has it, else the default PDK)."""
    pdk = get_pdk(args).name if getattr(args, "pdk", None) else DEFAULT_PDK
    return {"delay": args.delay_lut, "tdc": args.tdc_lut, "acc": args.acc_lut, "adc": args.adc_lut, "pdk": pdk}


def eval_td(args) -> int:
    """``charz eval --network td_mac``: the digits MLP on the time-domain FP8 MAC composed from the td_* and
    converter LUTs; with ``--out`` also the mismatch sweep, the exponent- vs mantissa-path comparison, their
    PNGs and ``td_eval.json``. Raises ``CharzError`` for options that do not apply. Returns 0."""
    from ...core.lut import LUT
    from ...network import td_mac as nt
    from .model import converter
    from .model_circuit import adc_corner, circuit_from_luts, default_lut

    if getattr(args, "columns_per_adc", None) is not None:
        raise CharzError("--columns-per-adc does not apply to --network td_mac (one converter per engine)")
    for opt in ("lut", "mode", "adc_bits"):
        if getattr(args, opt, None) is not None:
            raise CharzError(f"--{opt.replace('_', '-')} does not apply to --network td_mac (give --delay-lut / "
                             f"--tdc-lut / --acc-lut / --adc-lut)")
    coords = eval_coords(args)
    if coords.get("t_pulse") is not None:
        raise CharzError("--t-pulse does not apply to --network td_mac (it has no wordline pulse)")
    luts = td_luts(args)
    circ = circuit_from_luts(luts["delay"], luts["tdc"], luts["acc"], luts["adc"], vdd=coords["vdd"],
                             temp=coords["temp"], pdk=luts["pdk"])
    adc_path = luts["adc"] or default_lut(luts["pdk"], "adc")
    alut = LUT.load(adc_path)
    av, at, _ = adc_corner(alut, circ.source["vdd"], circ.source["temp"])
    conv = converter(alut, av, at, args.adc_calibration, args.trim_lut, luts["pdk"])
    kw = dict(adc=conv, window=circ.tdc_thr.size, length=args.length, line_calibration=args.line_calibration,
              bias_bits=args.bias_bits)
    chips = nt.make_chips(circ, chips=args.chips, seed=args.seed, exp_mismatch=args.mismatch,
                          man_mismatch=args.mismatch, **kw)
    res = nt.evaluate_td(chips)
    print(nt.format_td(res))
    if args.out:
        from . import plots as pt
        from .model_study import compare_paths, format_paths

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scales = sweep_scales(args.sweep_mismatch)
        sweep = nt.accuracy_vs_mismatch_td(circ, scales=scales, chips=args.chips, seed=args.seed, **kw)
        print(nt.format_mismatch_td(sweep))
        paths = compare_paths(circ, scales=[0.0] + [x for x in scales if x > 0], adc=conv, length=args.length,
                              seed=args.seed)
        print(format_paths(paths))
        written = [pt.plot_energy_breakdown(res, out / "td_energy_breakdown.png"),
                   pt.plot_accuracy_vs_mismatch(sweep, out / "td_accuracy_vs_mismatch.png"),
                   pt.plot_sensitivity(paths, out / "td_sensitivity.png")]
        (out / "td_eval.json").write_text(json.dumps({"eval": res, "mismatch": sweep, "paths": paths}, indent=1,
                                                     default=str))
        print("wrote " + ", ".join(str(p) for p in written) + f" and {out / 'td_eval.json'}")
    return 0


def check_td(args) -> int:
    """``charz check td_mac``: whole scalar products in ngspice against the composed TD-MAC model (nominal
    only), printed and optionally written as JSON. Returns 4 when decks failed, else 0."""
    from .check import check_td_mac, format_check

    if getattr(args, "mc", 0):
        raise CharzError("check td_mac is nominal only (--mc applies to check wht)")
    coords = eval_coords(args)
    if coords.get("t_pulse") is not None:
        raise CharzError("--t-pulse applies to check wht only")
    res = check_td_mac(**td_luts(args), vdd=coords["vdd"], temp=coords["temp"], length=args.length,
                       vectors=args.vectors, seed=args.seed, executor=executor(args), use_cache=not args.no_cache,
                       progress=not args.quiet)
    print(format_check(res))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
        print(f"wrote {args.json}")
    return 4 if res["failures"] else 0


def train_td(args) -> int:
    """``charz train --network td_mac``: train the digits MLP with every product on the TD-MAC from the LUTs
    (or exact FP8 with ``--ideal``) beside FP32 from the same init; writes ``td_training.png`` and
    ``td_training.json`` to ``--out`` (default ``out/td_train``). Returns 0."""
    from ...network import td_mac as nt
    from . import plots as pt
    from .model import model_from_luts

    luts = td_luts(args)
    model = "fp8" if args.ideal else model_from_luts(luts["delay"], luts["tdc"], luts["acc"], luts["adc"],
                                                     pdk=luts["pdk"], length=args.length, seed=args.seed)
    t0 = time.time()
    cmp = nt.compare_training(model, epochs=args.epochs or nt.DEFAULT_EPOCHS, seed=args.seed)
    print(nt.format_training(cmp))
    out = Path(args.out or "out/td_train")
    out.mkdir(parents=True, exist_ok=True)
    png = pt.plot_training(cmp, out / "td_training.png")
    (out / "td_training.json").write_text(json.dumps(cmp, indent=1, default=str))
    print(f"trained FP32 and {'exact FP8' if args.ideal else 'the TD-MAC (FP8)'} in {time.time() - t0:.1f} s; "
          f"wrote {png} and {out / 'td_training.json'}")
    return 0
