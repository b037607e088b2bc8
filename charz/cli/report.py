"""``charz report digitizers``: the converters of one PDK side by side, from LUTs only (:mod:`charz.report`)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CharzError
from .common import DEFAULT_PDK, get_pdk


def add_parser(sub) -> None:
    """Add ``report`` to the sub-command parsers *sub*."""
    p = sub.add_parser("report", help="reports from the LUTs: `report digitizers`",
                       description="`report digitizers`: the converters of one PDK at one resolution side by side "
                                   "(transfer curves with INL/DNL, offset histograms, energy and area, ratios "
                                   "memory-immersed vs conventional SAR and flash beside the published 25x/1.4x and "
                                   "51x/13x with the reasons ours differ), and the digits MLP read out by every "
                                   "converter LUT found for 3..6 bits. Reads LUTs only (<lut-dir>/<pdk>/<kind><bits>).")
    p.add_argument("what", choices=("digitizers",), help="which report")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK name (default {DEFAULT_PDK})")
    p.add_argument("--bits", type=int, default=5, help="resolution of the converter comparison (default 5)")
    p.add_argument("--lut-dir", default=None,
                   help="folder holding <pdk>/<kind><bits>.json (default: the first folder on the LUT search path "
                        "holding a converter LUT of --pdk at --bits)")
    p.add_argument("--out", default="out/report_digitizers", help="folder for the tables and PNGs")
    p.add_argument("--chips", type=int, default=3, help="simulated chips per network evaluation (default 3)")
    p.add_argument("--no-network", action="store_true", help="skip the network evaluations")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    """``charz report digitizers``: the converter table, ratios, figures and (unless ``--no-network``) the
    network read out by every converter LUT, written to ``--out`` from LUTs only. Returns 0."""
    from .. import report

    if args.what != "digitizers":  # argparse restricts the choice; kept for a clear message if more are added
        raise CharzError(f"unknown report {args.what!r}")
    pdk = get_pdk(args)
    res = report.digitizers(pdk.name, bits=args.bits, lut_dir=args.lut_dir, out=args.out, network=not args.no_network,
                            chips=args.chips)
    print(f"wrote {args.out}/digitizers.md, digitizers.json" + (", network.md" if not args.no_network else "")
          + " and " + ", ".join(Path(p).name for p in res["pngs"]))
    return 0
