"""``charz plot PATH``: the PNG figures of a LUT, drawn by its block family (found in the registry)."""

from __future__ import annotations

from pathlib import Path

from ..blocks import REGISTRY
from .lut import load_any


def add_parser(sub) -> None:
    """Add ``plot`` to the sub-command parsers *sub*."""
    blocks = "; ".join(f"{', '.join(b.kinds)} ({b.summary})" for b in REGISTRY.blocks)
    p = sub.add_parser("plot", help="write the PNG figures of a LUT",
                       description="Write the figures of a LUT, drawn from the LUT alone by its block family "
                                   f"(charz/blocks/<family>/plots.py), for every block: {blocks}.")
    p.add_argument("path", help="LUT path")
    p.add_argument("--out", default="out/plots", help="folder for PNGs (default out/plots)")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    """``charz plot PATH``: write the LUT's figures into ``--out`` and print their paths. Returns 0."""
    lut = load_any(args.path)
    from ..core.lut import lut_base

    for p in REGISTRY.make_plots(lut, Path(args.out), lut_base(args.path).name):
        print(f"wrote {p}")
    return 0
