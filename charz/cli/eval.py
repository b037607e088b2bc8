"""``charz eval``: a network with its matrix products on circuit LUTs (accuracy, energy, TOPS/W). The
networks are the ``eval`` commands the block families declare (``--network NAME``); this module adds the
options every one of them takes, each declared option once, and refuses an option the chosen network does
not declare. With ``--model`` it runs any ONNX model (a shipped one or the user's) on a dataset through the
executor of :mod:`charz.network.engine` instead (:func:`charz.network.model_report.run_model`)."""

from __future__ import annotations

import argparse

from ..blocks import REGISTRY
from ..core.errors import ParameterError
from ..core.validate import posint
from .common import (add_command_options, check_workers, chosen_command, command_help, command_names,
                     command_summary, default_command, max_workers, operating_point_options, run_command,
                     sweep_scales)

VERB = "eval"
DEFAULT_SWEEP = "0,1,2,4,8"


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
    p.add_argument("--sweep-mismatch", default=DEFAULT_SWEEP,
                   help=f"mismatch scales for the plot (default {DEFAULT_SWEEP}; with --model only when given)")
    add_command_options(p, VERB, _label, "network options (each applies to the networks named in its help)")
    _model_options(p)
    p.set_defaults(func=cmd_eval)


def _model_options(p) -> None:
    from ..network.backends import BACKENDS
    from ..network.mapping import DEFAULT_BACKEND

    g = p.add_argument_group("your own model (--model): any ONNX model on any backend, on a dataset")
    g.add_argument("--model", default=None, metavar="NAME|FILE.onnx",
                   help="run this ONNX model (a shipped one, see `charz models`, or a file) instead of --network")
    g.add_argument("--dataset", default=None, metavar="NAME|PATH",
                   help="images to evaluate on: mnist, fashion-mnist, cifar10, digits or a folder / archive in a "
                        "standard layout (see `charz data`)")
    g.add_argument("--split", default="test", help="dataset split (default test)")
    g.add_argument("--images", type=int, default=1000, help="images evaluated, the first ones of a class-balanced "
                                                            "order (default 1000)")
    g.add_argument("--backend", choices=BACKENDS, default=None,
                   help=f"where the weight layers run (default {DEFAULT_BACKEND}, or the [defaults] backend of the "
                        f"--map file; given with --map, it replaces that default)")
    g.add_argument("--map", default=None, metavar="FILE.toml",
                   help="per-layer mapping: [[layer]] match / op -> backend and its options (README, 'Your own "
                        "network')")
    g.add_argument("--first-last", choices=("digital", "same"), default=None,
                   help="first and last weight layer digital (default) or on --backend like the others")
    g.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                   help="a backend option (repeatable), e.g. --set w_bits=4 --set tile_rows=16")
    g.add_argument("--calib-images", type=int, default=None,
                   help="training-split images used to calibrate the activation ranges (default: the engine's)")
    g.add_argument("--workers", type=_model_workers, default=None, metavar="N",
                   help="run the chips (and the float / ideal references) on N local processes (default 0: one "
                        "after the other in this process; the results are the same bit for bit)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run them on this Dask scheduler instead, tcp://host:port (or set CHARZ_SCHEDULER), as "
                        "characterization does")
    g.add_argument("--shards", type=_model_shards, default=None, metavar="N",
                   help="also cut each chip's images into N shards run as separate tasks (more parallel tasks than "
                        "chips on --workers / --scheduler; the result is the same bit for bit; default 1)")
    g.add_argument("--sweep-bits", default=None, metavar="BITS",
                   help="with --out: also evaluate at these read-out (ideal quantizer) bits, a,b,c, and plot accuracy "
                        "against them")


def _model_workers(text: str) -> int:
    """--workers N of a model run: 0 .. the largest the command line allows (as for characterization)."""
    try:
        return check_workers(int(text))
    except (ValueError, ParameterError):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give 0 (run in this process) to "
                                         f"{max_workers()} local processes") from None


def _model_shards(text: str) -> int:
    """--shards N of a model run: 1 .. 10,000."""
    try:
        return posint(int(text), "shards", 10_000)
    except (ValueError, ParameterError):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give a whole number of image shards from 1 "
                                         f"to 10000") from None


def cmd_eval(args) -> int:
    """``charz eval``: check --sweep-mismatch (a bad value fails now, not after the evaluation) and the
    options against the chosen ``--network``, then run its command. Returns its exit code."""
    sweep_scales(args.sweep_mismatch)
    if args.model is not None:
        from ..network.model_report import run_model

        shared = {o.key: o.default for decls in REGISTRY.command_options(VERB).values() for _, o in decls[:1]}
        return run_model(args, shared, sweep_default=DEFAULT_SWEEP)
    model_only = [f for f, v in (("--dataset", args.dataset), ("--map", args.map), ("--set", args.set),
                                 ("--first-last", args.first_last), ("--sweep-bits", args.sweep_bits),
                                 ("--workers", args.workers), ("--scheduler", args.scheduler),
                                 ("--shards", args.shards)) if v is not None]
    if model_only:
        raise ParameterError(f"{model_only[0]} applies to --model only: give --model NAME|FILE.onnx")
    return run_command(chosen_command(VERB, args.network, args, _label), args)
