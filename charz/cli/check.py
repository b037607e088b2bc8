"""``charz check NAME``: SPICE against the behavioral model, for the ``check`` commands the block families
declare; this module adds the options every one of them takes, each declared option once, and refuses an
option the chosen check does not declare."""

from __future__ import annotations

from .common import (add_command_options, chosen_command, command_help, command_names, command_summary,
                     operating_point_options, run_command, sim_options)

VERB = "check"


def _label(name: str) -> str:
    return f"check {name}"


def add_parser(sub) -> None:
    """Add ``check`` to the sub-command parsers *sub*."""
    p = sub.add_parser(VERB, help="SPICE vs behavioral model: "
                                  + command_summary(VERB, "`check {name}` ({summary})", ", "),
                       description=command_help(VERB, lambda n: f"`{_label(n)}`"))
    p.add_argument("what", choices=command_names(VERB), help="which block")
    p.add_argument("--vectors", type=int, default=8, help="random input vectors (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the vectors (Monte Carlo uses seed + 1)")
    operating_point_options(p, "a check's own default is in its description above")
    p.add_argument("--json", default=None, help="also write the result as JSON here")
    add_command_options(p, VERB, _label, "check options (each applies to the checks named in its help)")
    sim_options(p)
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> int:
    """``charz check NAME``: check the options against the chosen check, then run its command. Returns its
    exit code (4 when decks failed)."""
    return run_command(chosen_command(VERB, args.what, args, _label), args)
