"""``charz netlist``: write every block family's golden netlists (or ``--check`` them)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..blocks import REGISTRY
from .common import DEFAULT_PDK, get_pdk


def add_parser(sub) -> None:
    """Add ``netlist`` to the sub-command parsers *sub*."""
    p = sub.add_parser("netlist", help="write the default netlists into netlists/ (or --check them)",
                       description="Generate the golden netlists of every block for a PDK.")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK name (default {DEFAULT_PDK}; see `charz pdk list`)")
    p.add_argument("--out", default="netlists", help="folder (default netlists/)")
    p.add_argument("--check", action="store_true", help="exit 1 if the files differ from the generators")
    p.set_defaults(func=cmd_netlist)


def golden_netlists(pdk) -> dict[str, str]:
    """Every block's golden netlists for *pdk*: file name -> deck text."""
    return REGISTRY.golden_netlists(pdk)


def cmd_netlist(args) -> int:
    """``charz netlist``: write the golden netlists to ``--out``; with ``--check`` compare them instead and
    return 1 (naming the stale files) when any differs or is missing, else 0."""
    pdk = get_pdk(args)
    files = golden_netlists(pdk)
    out = Path(args.out)
    stale = []
    for name, text in sorted(files.items()):
        path = out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if args.check:
        if stale:
            print(f"{len(stale)} netlist(s) in {out} differ from the generators: {', '.join(stale)}; "
                  f"run `charz netlist --pdk {pdk.name}` and commit the result", file=sys.stderr)
            return 1
        print(f"{len(files)} netlists in {out} are up to date")
    return 0
