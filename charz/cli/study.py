"""``charz study METHOD``: a published method run on the executor, its tables, JSON and PNGs
(:mod:`charz.study`)."""

from __future__ import annotations

import importlib


def add_parser(sub) -> None:
    """Add ``study`` and one sub-command per method of :data:`charz.study.METHODS`."""
    from ..study import METHODS
    from ..study.common import add_common

    p = sub.add_parser("study", help="run a published method on the network engine (tables, JSON, PNGs)",
                       description="Run a published method on the executor with the committed LUTs: "
                                   + "; ".join(f"{k}: {v[1]}" for k, v in METHODS.items())
                                   + ". Each writes OUT/study.md, OUT/result.json and PNGs.")
    ms = p.add_subparsers(dest="method", metavar="METHOD", required=True)
    for name, (module, summary) in METHODS.items():
        mod = importlib.import_module(module)
        q = ms.add_parser(name, help=summary, description=getattr(mod, "DESCRIPTION", summary))
        add_common(q, getattr(mod, "DEFAULT_OPTIONS_TEXT", "none"))
        mod.add_arguments(q)
        q.set_defaults(func=cmd_study, study_module=module)


def cmd_study(args) -> int:
    """Run the chosen method's command."""
    return importlib.import_module(args.study_module).run(args)
