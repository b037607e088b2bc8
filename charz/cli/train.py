"""``charz train``: re-train a network (seconds) and write its weights, or compare training on a circuit
model; the networks are the ``train`` commands the block families declare (``--network NAME``). With
``--model NAME`` it trains a model of the zoo (PyTorch, the optional ``charz[train]`` extra) instead and
writes its ONNX file and JSON record."""

from __future__ import annotations

from ..blocks import REGISTRY
from ..core.errors import ParameterError
from .common import (add_command_options, chosen_command, command_help, command_names, command_summary,
                     default_command, run_command)

VERB = "train"


ZOO_SHARED = ("epochs", "out")
"""Network options that ``--model`` takes too (``--epochs``, ``--out``)."""


def _label(name: str) -> str:
    return f"--network {name}"


def add_parser(sub) -> None:
    """Add ``train`` to the sub-command parsers *sub*."""
    p = sub.add_parser(VERB, help=f"re-train a network (seconds) and write its weights, or compare training on "
                                  f"a circuit ({command_summary(VERB)}); or train a zoo model (--model)",
                       description=command_help(VERB, _label) + " --model NAME: train a model of the zoo "
                       "(`charz models` lists them) with PyTorch (pip install 'charz[train]') and write its ONNX "
                       "file and JSON record.")
    p.add_argument("--network", choices=command_names(VERB), default=None,
                   help=f"which network (default {default_command(VERB)}; each is described above)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=None, help="weights file (default: the shipped charz/network/data file)")
    add_command_options(p, VERB, _label, "network options (each applies to the networks named in its help)")
    g = p.add_argument_group("model zoo (--model; --epochs, --out and --seed apply to it too: --epochs default "
                             "the recipe's, --out the ONNX file, default out/zoo/NAME.onnx, the JSON record "
                             "beside it)")
    g.add_argument("--model", default=None, metavar="NAME",
                   help="train zoo model NAME with its recipe instead of a network (`charz models` lists them)")
    g.add_argument("--dataset", default=None, metavar="NAME",
                   help="--model: dataset name or folder (default the recipe's: mnist, fashion-mnist, cifar10, ...)")
    g.add_argument("--limit", type=int, default=None, metavar="N",
                   help="--model: train on N training images only (a quick run; the test split is "
                        "always whole)")
    g.add_argument("--force", action="store_true",
                   help="--model: replace an existing --out ONNX file and its JSON record (else refused before "
                        "training)")
    g.add_argument("--resume", action="store_true",
                   help="--model: continue a killed run from the checkpoint beside --out (OUT.ckpt, written after "
                        "every epoch; same model, dataset, epochs, limit and seed)")
    p.set_defaults(func=cmd_train)


def _check_zoo_options(args) -> None:
    """Refuse (one line) what does not go with ``--model`` / what needs it."""
    if args.model is None:
        for flag, value in (("--dataset", args.dataset), ("--limit", args.limit), ("--force", args.force or None),
                            ("--resume", args.resume or None)):
            if value is not None:
                raise ParameterError(f"{flag} applies to --model only (a zoo model), not to --network")
        return
    if args.network is not None:
        raise ParameterError("give --model (a zoo model) or --network, not both")
    if args.output is not None:
        raise ParameterError("--output applies to --network only: give the ONNX file of --model with --out")
    for flag, decls in REGISTRY.command_options(VERB).items():
        opt = decls[0][1]
        if opt.key not in ZOO_SHARED and getattr(args, opt.key) != opt.argparse_kwargs()["default"]:
            names = ", ".join(_label(cmd.name) for cmd, _ in decls)
            raise ParameterError(f"{flag} applies to {names} only, not to --model")


def cmd_train(args) -> int:
    """``charz train``: with ``--model``, train that zoo model (PyTorch) and write its ONNX file and JSON;
    else check the options against the chosen ``--network`` (default the registry's), then run its command
    (which saves the weights to ``--output``, default the shipped file). Returns its exit code."""
    _check_zoo_options(args)
    if args.model is not None:
        from ..network.zoo import get, train  # imports PyTorch only inside its training functions

        get(args.model)
        train(args.model, dataset=args.dataset, epochs=args.epochs, limit=args.limit, out=args.out,
              seed=args.seed, progress=lambda line: print(line, flush=True), force=args.force,
              resume=args.resume)
        return 0
    args.network = args.network or default_command(VERB)
    return run_command(chosen_command(VERB, args.network, args, _label), args)
