"""``charz explore BLOCK``: a design space searched point by point (characterize in ngspice -> LUT ->
network accuracy, energy, TOPS/W) with an Optuna sampler; the Pareto front as a table and a PNG
(:mod:`charz.explore`)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..blocks import REGISTRY
from ..core.errors import ParameterError
from .common import DEFAULT_PDK, executor, get_pdk, sim_options


def add_parser(sub) -> None:
    """Add ``explore`` to the sub-command parsers *sub*."""
    p = sub.add_parser("explore", help="search a design space: characterize each point, evaluate a network on it, "
                                       "Pareto front",
                       description="Search a design space of BLOCK (a block that a network backend reads: a "
                                   "converter, the CiM column, the WHT column or a TD-MAC part). Each point is characterized in "
                                   "ngspice (result cache and --workers / --scheduler as `charz characterize`), its "
                                   "LUT saved under OUT/points/NNNN/, and the network --model evaluated on --dataset "
                                   "with it. An Optuna sampler (NSGA-II by default) chooses the points; the study "
                                   "lives in OUT/study.db (SQLite): --resume continues a killed run, and several "
                                   "processes given the same --out and --resume share it. Writes OUT/pareto.md, "
                                   "OUT/pareto.png and OUT/points.json. The space file is described in the README "
                                   "('Design-space exploration').")
    from ..explore.study import explorable

    p.add_argument("block", choices=explorable(), metavar="BLOCK",
                   help=f"the block whose LUT each point makes ({', '.join(explorable())})")
    p.add_argument("--space", required=True, metavar="FILE.toml|NAME",
                   help="the design space (TOML), or a shipped one by name (charz/explore/spaces)")
    p.add_argument("--model", required=True, metavar="NAME|FILE.onnx", help="the network (see `charz models`)")
    p.add_argument("--dataset", required=True, metavar="NAME|PATH", help="its dataset (see `charz data`)")
    p.add_argument("--out", required=True, help="the study's folder (new, or an existing study with --resume)")
    p.add_argument("--resume", action="store_true", help="continue the study in --out")
    p.add_argument("--trials", type=int, default=None, help="completed points wanted (default: the space's)")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK name (default {DEFAULT_PDK})")
    p.add_argument("--no-fit-check", action="store_true", help="skip the SPICE re-runs at off-grid points")
    p.add_argument("--report-only", action="store_true", help="write the report of the study in --out, run nothing")
    sim_options(p)
    p.set_defaults(func=cmd_explore)


def cmd_explore(args) -> int:
    """``charz explore``: check everything the run needs (space, names, model, dataset, study folder), then
    run points until the space's trial count is reached; write the report even when interrupted."""
    from ..datasets import load
    from ..explore import space as sp
    from ..explore import study as st
    from ..network.model_report import find_model

    space = sp.load_space(args.space)
    if args.trials is not None and not 1 <= args.trials <= sp.MAX_TRIALS:
        raise ParameterError(f"--trials {args.trials}: give 1 to {sp.MAX_TRIALS}")
    block = REGISTRY.for_kind(args.block)
    st.lut_slot(args.block)
    st.check_names(block, args.block, list(space.characterize) + [d.name for d in space.dims if d.target != "eval"])
    from ..network.backends import OPTIONS

    for name in [k for k in space.evaluation if k not in sp.EVAL_SETTINGS] + \
                [d.key for d in space.dims if d.target == "eval"]:
        if name not in OPTIONS:
            raise ParameterError(f"{space.source}: {name} is not a backend option: use one of "
                                 f"{', '.join(sorted(OPTIONS))}")
    model = find_model(args.model)
    pdk = get_pdk(args)
    out = Path(args.out)
    study = st.open_study(out, space, args.block, resume=args.resume or args.report_only)
    title = f"charz explore {args.block} on {model.stem} / {args.dataset} ({pdk.name})"
    if not args.report_only:
        ev = space.evaluation
        data = load(args.dataset, ev["split"], limit=ev["images"])
        calib = load(args.dataset, "train", limit=ev["calib_images"]) if ev["calib_images"] else None
        ctx = st.Context(space=space, block=block, kind=args.block, pdk=pdk, out=out, model=model, data=data,
                         calib=calib, sim=dict(executor=executor(args), use_cache=not args.no_cache,
                                               progress=not args.quiet, fit_check=not args.no_fit_check),
                         log=lambda s: print(s, flush=True))
        try:
            run = st.explore(ctx, study, args.trials)
        except KeyboardInterrupt:
            print(f"charz: the study is kept in {out / st.DB_NAME}: add --resume to the same command to continue it",
                  file=sys.stderr)
            raise
        finally:
            for path in st.write_report(study, space, out, title):
                print(f"wrote {path}", flush=True)
        print(f"{run['completed_this_run']} point(s) completed in this run ({run['failed_this_run']} failed); "
              f"the study has {run['completed']}")
        return 0
    for path in st.write_report(study, space, out, title):
        print(f"wrote {path}")
    return 0
