"""The network commands of the CiM column (declared in this family's ``__init__``): ``charz eval --network
mlp`` (the digits MLP on ``cim_column`` LUTs, the default network) and ``charz train --network mlp``.

Each handler takes the parsed arguments and returns the exit code; options the command does not declare
were refused by the command line before it runs."""

from __future__ import annotations

from pathlib import Path

from ...cli.common import DEFAULT_PDK, eval_coords, get_pdk, sweep_scales
from ...core.errors import CharzError
from ...core.lut import Kind


def eval_mlp(args) -> int:
    """``charz eval`` (``--network mlp``): the digits MLP on a ``cim_column`` LUT (default ``cim_column`` on
    the LUT search path), read out by the ideal quantizer or a converter LUT. With ``--out`` also the
    mismatch sweep and the energy breakdown as PNGs. Raises ``CharzError`` for a LUT of another block or
    converter options without ``--adc-lut``. Returns 0."""
    from ...core.lut import LUT, find_default
    from ...network import evaluate as ev

    path = args.lut or find_default(DEFAULT_PDK, "cim_column")
    lut = LUT.load(path)
    if lut.block == Kind.WHT_COLUMN:
        raise CharzError(f"{path} is a wht_column LUT: evaluate the WHT network with `charz eval --network wht`")
    if lut.block != Kind.CIM_COLUMN:
        raise CharzError(f"{path} is a '{lut.block}' LUT; `charz eval` needs a cim_column LUT")
    if args.pdk:
        lut.check_pdk(get_pdk(args).sha256)
    coords = eval_coords(args)
    if args.adc_lut is not None:
        coords.update(adc_lut=args.adc_lut, columns_per_adc=args.columns_per_adc, adc_calibration=args.adc_calibration,
                      trim_lut=args.trim_lut)
    elif args.columns_per_adc is not None or args.adc_calibration != "none" or args.trim_lut is not None:
        raise CharzError("--columns-per-adc, --adc-calibration and --trim-lut need --adc-lut (the ideal quantizer has "
                         "no converters)")
    coords["column_calibration"] = args.column_calibration
    res = ev.evaluate(lut, adc_bits=args.adc_bits, mismatch_scale=args.mismatch, chips=args.chips,
                      seed=args.seed, **coords)
    print(ev.format_result(res))
    if args.out:
        from ...plot import network as pn

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scales = sweep_scales(args.sweep_mismatch)
        sweep = ev.accuracy_vs_mismatch(lut, scales=scales, adc_bits=args.adc_bits, chips=args.chips,
                                        seed=args.seed, **coords)
        pn.plot_accuracy_vs_mismatch(sweep, out / "accuracy_vs_mismatch.png")
        pn.plot_energy_breakdown(res, out / "energy_breakdown.png")
        print(f"wrote {out / 'accuracy_vs_mismatch.png'} and {out / 'energy_breakdown.png'}")
    return 0


def train_mlp(args) -> int:
    """``charz train`` (``--network mlp``): re-train the 64-64-10 digits MLP (float, then quantization-aware)
    and save its 4-bit weights to ``--output`` (default the shipped file). Returns 0."""
    from ...network import mlp

    model = mlp.train_digits_mlp(seed=args.seed)
    path = model.save(args.output or mlp.DATA)
    print(f"wrote {path}")
    return 0
