"""``charz lut show PATH`` (a LUT's summary) and ``charz lut seal PATH...`` (write the .json checksum)."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Add ``lut`` (``show``, ``seal``) to the sub-command parsers *sub*."""
    p = sub.add_parser("lut", help="inspect LUT files", description="`lut show PATH`: axes, tables, provenance, fit "
                                                                    "quality. `lut seal PATH`: write the .json checksum.")
    ls = p.add_subparsers(dest="lut_cmd", required=True)
    lsh = ls.add_parser("show", help="print a LUT's summary",
                        description="Print a LUT's axes (units, interpolated or discrete), conditions, tables with "
                                    "their ranges, Monte Carlo sample counts, provenance (generator, parameters, "
                                    "netlist and card sha256, ngspice and charz versions, A_VT, seed, date) and the "
                                    "fit-quality report (SPICE re-runs at off-grid points vs interpolation).")
    lsh.add_argument("path", help="LUT path (.json, .npz or without suffix)")
    lse = ls.add_parser("seal", help="write the json_sha256 checksum into a LUT you trust",
                        description="A LUT's .json carries json_sha256, the sha256 of its own content, and every "
                                    "command refuses a LUT whose .json was edited or has no checksum (written by "
                                    "an older charz). `lut seal` recomputes it and rewrites only the .json: use it "
                                    "for an older LUT you trust or to accept an edit made on purpose. It refuses a "
                                    "LUT whose .npz does not match npz_sha256. An integrity check, not a signature.")
    lse.add_argument("paths", nargs="+", metavar="PATH", help="LUT path(s) (.json, .npz or without suffix)")
    p.set_defaults(func=cmd_lut)


def load_any(path):
    """The LUT at *path*, of any block."""
    from ..core.lut import LUT

    return LUT.load(path)


def cmd_lut(args) -> int:
    """``charz lut show PATH`` (print the LUT's summary) or ``charz lut seal PATH...`` (write each JSON's
    checksum). Returns 0."""
    if args.lut_cmd == "seal":
        from ..core.lut import seal

        for path in args.paths:
            jpath, changed = seal(path)
            print(f"sealed {jpath} (json_sha256 written)" if changed else f"{jpath} is already sealed")
        return 0
    lut = load_any(args.path)
    print(lut.summary())
    return 0
