"""``charz train``: re-train a network (seconds) and write its weights, or compare training on a circuit
model; the networks are the ``train`` commands the block families declare (``--network NAME``)."""

from __future__ import annotations

from .common import (add_command_options, chosen_command, command_help, command_names, command_summary,
                     default_command, run_command)

VERB = "train"


def _label(name: str) -> str:
    return f"--network {name}"


def add_parser(sub) -> None:
    """Add ``train`` to the sub-command parsers *sub*."""
    p = sub.add_parser(VERB, help=f"re-train a network (seconds) and write its weights, or compare training on "
                                  f"a circuit ({command_summary(VERB)})",
                       description=command_help(VERB, _label))
    p.add_argument("--network", choices=command_names(VERB), default=default_command(VERB),
                   help=f"which network (default {default_command(VERB)}; each is described above)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=None, help="weights file (default: the shipped charz/network/data file)")
    add_command_options(p, VERB, _label, "network options (each applies to the networks named in its help)")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    """``charz train``: check the options against the chosen ``--network``, then run its command (which
    saves the weights to ``--output``, default the shipped file). Returns its exit code."""
    return run_command(chosen_command(VERB, args.network, args, _label), args)
