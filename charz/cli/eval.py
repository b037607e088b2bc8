"""``charz eval``: a network with its matrix products on circuit LUTs (accuracy, energy, TOPS/W). The
networks are the ``eval`` commands the block families declare (``--network NAME``); this module adds the
options every one of them takes, each declared option once, and refuses an option the chosen network does
not declare."""

from __future__ import annotations

from .common import (add_command_options, chosen_command, command_help, command_names, command_summary,
                     default_command, operating_point_options, run_command, sweep_scales)

VERB = "eval"


def _label(name: str) -> str:
    return f"--network {name}"


def add_parser(sub) -> None:
    """Add ``eval`` to the sub-command parsers *sub*."""
    p = sub.add_parser(VERB, help=f"a network on the LUTs: accuracy, energy, TOPS/W ({command_summary(VERB)})",
                       description="Evaluate a network with its matrix products on circuit LUTs: accuracy, energy, "
                                   "TOPS/W; --out also writes accuracy-vs-mismatch and energy PNGs. "
                                   + command_help(VERB, _label))
    p.add_argument("--network", choices=command_names(VERB), default=default_command(VERB),
                   help=f"which network (default {default_command(VERB)}; each is described above)")
    p.add_argument("--pdk", default=None, help="check the LUT was made with this PDK's card")
    operating_point_options(p, "a network's own default is in its description above")
    p.add_argument("--mismatch", type=float, default=1.0,
                   help="mismatch scale: 1 = the LUT's Monte Carlo A_VT, 0 = none (default 1)")
    p.add_argument("--chips", type=int, default=5, help="simulated chips (independent mismatch draws; default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the chip draws")
    p.add_argument("--out", default=None, help="also write accuracy-vs-mismatch and energy PNGs here")
    p.add_argument("--sweep-mismatch", default="0,1,2,4,8", help="mismatch scales for the plot (default 0,1,2,4,8)")
    add_command_options(p, VERB, _label, "network options (each applies to the networks named in its help)")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    """``charz eval``: check --sweep-mismatch (a bad value fails now, not after the evaluation) and the
    options against the chosen ``--network``, then run its command. Returns its exit code."""
    sweep_scales(args.sweep_mismatch)
    return run_command(chosen_command(VERB, args.network, args, _label), args)
