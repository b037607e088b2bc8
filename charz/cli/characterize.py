"""``charz characterize BLOCK``: sweep a block in ngspice (nominal + Monte Carlo) and save its LUT. The
blocks and their options are the ones the families declare in :data:`charz.blocks.REGISTRY`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..blocks import REGISTRY
from ..blocks.base import applies, given
from ..core.errors import CharzError
from ..core.grid import grid
from .common import DEFAULT_PDK, executor, get_pdk, sim_options


def block_options(p: argparse.ArgumentParser) -> None:
    """The options the block families declare (each flag once; its help says which blocks take it)."""
    g = p.add_argument_group("block options (each applies to the blocks named in its help)")
    for flag, decls in REGISTRY.options().items():
        texts: dict[str, list[str]] = {}
        for fam, o in decls:
            texts.setdefault(o.help, []).extend(k for k in fam.kinds if fam.accepts(o, k))
        help_text = "; ".join(f"{', '.join(kinds)}: {h}" for h, kinds in texts.items())
        g.add_argument(flag, help=help_text.replace("%", "%%"), **decls[0][1].argparse_kwargs())


def add_parser(sub) -> None:
    """Add ``characterize`` to the sub-command parsers *sub*."""
    p = sub.add_parser("characterize", help="sweep a block in ngspice (nominal + Monte Carlo) and fit a LUT",
                       description="Characterize a block over VDD and temperature (and the wordline pulse width where a "
                                   "block has one), "
                                   "nominal and Monte Carlo, and save the LUT (.json + .npz). Grids: start:stop:count, "
                                   "a,b,c or one number; numbers take SPICE suffixes (50p).")
    p.add_argument("block", choices=REGISTRY.kinds, help="block to characterize")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK name (default {DEFAULT_PDK})")
    p.add_argument("--vdd", help="VDD grid in V (default: the PDK's nominal VDD)")
    p.add_argument("--temp", help="temperature grid in degC (default 27)")
    block_options(p)
    p.add_argument("--mc", type=int, default=0, help="Monte Carlo samples per grid point (default 0; at most "
                                                       "10000 unless --mc-limit or CHARZ_MC_LIMIT raises it)")
    p.add_argument("--mc-limit", type=int, default=None, metavar="N",
                   help="accept up to N Monte Carlo samples per grid point (default 10000, or CHARZ_MC_LIMIT)")
    p.add_argument("--seed", type=int, default=1, help="Monte Carlo seed (default 1)")
    p.add_argument("--avt", type=float, default=None, help="override A_VT in mV*um (default: the manifest's assumption)")
    p.add_argument("--no-fit-check", action="store_true", help="skip the SPICE re-runs at off-grid points")
    p.add_argument("-o", "--output",
                   help="LUT path without suffix (default out/lut/<pdk>/<block>); an existing LUT there is "
                        "refused before simulating unless --force is given")
    p.add_argument("--force", action="store_true", help="replace an existing LUT at the output path")
    sim_options(p)
    p.set_defaults(func=cmd_characterize)


def char_common(args) -> dict:
    """The keyword arguments every recipe takes (``vdd``, ``temp``, ``mc``, ``seed``, ``executor``,
    ``use_cache``, ``progress``, ``fit_check``), checked before any executor or deck exists; --mc-limit is
    applied first."""
    from ..core import mc as mcmod

    if args.mc < 0:
        raise CharzError(f"--mc {args.mc}: the Monte Carlo sample count must be 0 (nominal only) or more")
    if getattr(args, "mc_limit", None) is not None:
        mcmod.set_limit(args.mc_limit)
    mcmod.check_limit(args.mc, f"--mc {args.mc}")  # before any executor or deck exists
    if args.seed < 0:
        raise CharzError(f"--seed {args.seed}: the Monte Carlo seed must be a non-negative integer")
    return dict(
        vdd=grid(args.vdd, "--vdd"), temp=grid(args.temp, "--temp"), mc=args.mc, seed=args.seed,
        executor=executor(args), use_cache=not args.no_cache, progress=not args.quiet,
        fit_check=not args.no_fit_check,
    )


def default_lut_output(pdk_name: str, block: str) -> Path:
    """Where `charz characterize` writes without -o: out/lut/<pdk>/<block>, outside the committed lut/."""
    return Path("out") / "lut" / pdk_name / block


def cmd_characterize(args) -> int:
    """``charz characterize BLOCK``: run the block's recipe and save its LUT (refused before any simulation
    when the LUT exists and ``--force`` is not given; a LUT that appears meanwhile is kept and this one goes
    to ``NAME.1``). Returns 0, or 4 when points failed (NaN in the LUT); raises ``CharzError`` for options
    that do not apply to the block."""
    pdk = get_pdk(args)
    block = REGISTRY.for_kind(args.block)
    opts = REGISTRY.options()
    values = {decls[0][1].key: getattr(args, decls[0][1].key) for decls in opts.values()}
    applies(opts, lambda fam, o: fam is block and fam.accepts(o, args.block), values, args.block,
            lambda fam, o: ", ".join(k for k in fam.kinds if fam.accepts(o, k)), block.hints)
    kw = char_common(args)
    kw.update({o.key: values[o.key] for o in block.options if block.accepts(o, args.block) and given(values[o.key], o)})
    from ..core.lut import lut_base, lut_exists, lut_files

    out = lut_base(args.output or default_lut_output(pdk.name, args.block))
    if lut_exists(out) and not args.force:  # before any simulation
        raise CharzError(f"LUT {lut_files(out)[0]} already exists: give --force to replace it or choose another -o")
    t0 = time.time()
    lut = REGISTRY.characterize(args.block, pdk, **kw)
    path = lut.save(out, if_exists="replace" if args.force else "next")
    print(lut.summary())
    jpath, npath = lut_files(path)
    print(f"\nwrote {jpath} and {npath} in {time.time() - t0:.1f} s")
    if lut_base(path) != out:
        print(f"charz: note: {lut_files(out)[0]} appeared while the sweep ran and was kept; this LUT went to "
              f"{lut_base(path)} instead (rename it, or rerun with --force to replace)", file=sys.stderr)
    failed = lut.provenance.get("failed_points") or []
    if failed:
        print(f"{len(failed)} point(s) failed and are NaN in the LUT:", file=sys.stderr)
        for f in failed[:10]:
            print(f"  - {f}", file=sys.stderr)
        return 4
    return 0
