"""``charz demo``: the whole flow on one PDK (characterize, fit, evaluate, plot; :mod:`charz.demo`)."""

from __future__ import annotations

from .common import DEFAULT_PDK, sim_options


def add_parser(sub) -> None:
    """Add ``demo`` to the sub-command parsers *sub*."""
    p = sub.add_parser("demo", help="the whole flow on the default PDK: characterize, fit, evaluate, plot",
                       description="Characterize the 6T/8T bitcells and the 16-row CiM column in ngspice (nominal + "
                                   "Monte Carlo), fit LUTs, evaluate the digits MLP on them, print a summary table and "
                                   "write PNGs.")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK (default {DEFAULT_PDK})")
    p.add_argument("--out", default="out/demo", help="output folder for LUTs and PNGs (default out/demo)")
    p.add_argument("--mc", type=int, default=40, help="Monte Carlo samples per point (default 40)")
    p.add_argument("--seed", type=int, default=1, help="Monte Carlo seed")
    p.add_argument("--avt", type=float, default=None, help="override A_VT (mV*um)")
    sim_options(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    """``charz demo``: the whole flow on one PDK (:func:`charz.demo.run_demo`); returns its exit code."""
    from ..demo import run_demo

    return run_demo(args)
