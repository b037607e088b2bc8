"""What the verbs of the command line share: the simulation options (``--workers``, ``--scheduler``,
``--timeout``, ``--no-cache``, ``--quiet``) and the executor they make, the PDK, the operating-point options,
``--sweep-mismatch``, and the network commands the block families declare (``charz eval`` / ``check`` /
``train``): their choices, their options (each flag once) and the refusal of an option that the chosen
command does not take. Nothing here names a block: the families declare their commands in the registry."""

from __future__ import annotations

import argparse
import os

from ..blocks import REGISTRY
from ..blocks.base import Command, applies, resolve
from ..core.errors import ParameterError
from ..core.grid import grid, number
from ..core.validate import WORKERS_PER_CPU, max_workers

DEFAULT_PDK = "ptm16hp"
"""The PDK a command uses when ``--pdk`` is not given."""
ON_LUT_PATH = "on the LUT search path"
"""How help texts say where a default LUT is looked for (the search path is explained in the epilog)."""

# ---------------------------------------------------------------------------------------------------
# simulation
def check_workers(n) -> int | None:
    """*n* local worker processes: None (one per core), 0 (run in this process) .. max_workers()."""
    if n is None:
        return None
    hi = max_workers()
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= hi:
        raise ParameterError(f"--workers {n!r} is not allowed: give 0 (run in this process) to {hi} "
                             f"({WORKERS_PER_CPU} x the {os.cpu_count() or 1} CPUs), or leave it out for one per core")
    return n


def _workers_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = text
    try:
        return check_workers(n)
    except ParameterError as exc:  # argparse prefixes "argument --workers: "
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--workers ")) from None


def sim_options(p: argparse.ArgumentParser) -> None:
    """Add the ``simulation`` group: --workers, --scheduler, --no-cache, --timeout, --quiet."""
    g = p.add_argument_group("simulation")
    g.add_argument("--workers", type=_workers_arg, default=None, metavar="N",
                   help="local ngspice worker processes (default: one per core; 0 = run in this process; at most "
                        f"{WORKERS_PER_CPU} x the CPU count)")
    g.add_argument("--scheduler", default=None,
                   help="Dask scheduler address tcp://host:port (or set CHARZ_SCHEDULER) to run on a Dask cluster")
    g.add_argument("--no-cache", action="store_true", help="ignore and do not write the result cache")
    g.add_argument("--timeout", default=None, metavar="SECONDS",
                   help="time limit of one ngspice run, replacing each recipe's default (120 s for most decks, up to "
                        "3600 s for whole crossbars and scalar products); also CHARZ_TIMEOUT; recorded in the LUT")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def executor(args):
    """The executor of a command with :func:`sim_options` (its --timeout set first; a malformed
    CHARZ_TIMEOUT is refused before anything runs)."""
    from ..sim.executor import make_executor
    from ..sim.runner import set_timeout, timeout_override

    set_timeout(None if args.timeout is None else number(args.timeout, "--timeout"))
    timeout_override()
    return make_executor(check_workers(args.workers), args.scheduler)


def get_pdk(args):
    """The PDK named by ``args.pdk`` (with ``args.avt`` when the command has --avt)."""
    from ..core import pdk

    return pdk.get(args.pdk, getattr(args, "avt", None))


# ---------------------------------------------------------------------------------------------------
# one operating point of a LUT, mismatch sweeps
def operating_point_options(p: argparse.ArgumentParser, own_default: str) -> None:
    """--vdd / --temp of the commands that read a LUT at one operating point; *own_default* names where
    a command's own VDD default is stated (it replaces the PDK-nominal rule)."""
    p.add_argument("--vdd", help="VDD in V, on or inside the LUT grid (default: the PDK's nominal VDD if on the grid, "
                                 f"else the highest; {own_default})")
    p.add_argument("--temp", help="temperature in degC (default 27, or the nearest grid value)")


def eval_coords(args) -> dict:
    """``vdd``, ``temp``, ``t_pulse`` of the command (None where not given), read as numbers."""
    t_pulse = getattr(args, "t_pulse", None)
    return dict(
        vdd=number(args.vdd, "--vdd") if args.vdd else None,
        temp=number(args.temp, "--temp") if args.temp else None,
        t_pulse=number(t_pulse, "--t-pulse") if t_pulse else None,
    )


def sweep_scales(text: str) -> list[float]:
    """--sweep-mismatch: mismatch scales (>= 0) as a grid (a,b,c or start:stop:count)."""
    scales = grid(text, "--sweep-mismatch")
    bad = [x for x in scales if x < 0]
    if bad:
        raise ParameterError(f"--sweep-mismatch {text!r}: mismatch scales must be >= 0 (0 = none, 1 = the LUT's "
                             f"Monte Carlo), got {bad[0]:g}")
    return scales


# ---------------------------------------------------------------------------------------------------
# the network commands of the block families (charz eval / check / train)
def command_names(verb: str) -> tuple[str, ...]:
    """The names of *verb*'s commands, in registry order (the ``--network`` / positional choices)."""
    return tuple(REGISTRY.commands(verb))


def default_command(verb: str) -> str:
    """The command *verb* runs without ``--network``: the one declared ``default``, else the first."""
    cmds = REGISTRY.commands(verb)
    return next((name for name, (_, c) in cmds.items() if c.default), next(iter(cmds)))


def command_summary(verb: str, fmt: str = "{name}: {summary}", sep: str = "; ") -> str:
    """*verb*'s commands with their summaries, each as *fmt* (``{name}``, ``{summary}``) joined by *sep*
    (for the one-line help in ``charz --help``; a command without a summary is its name alone)."""
    return sep.join(fmt.format(name=name, summary=c.summary) if c.summary else name
                    for name, (_, c) in REGISTRY.commands(verb).items())


def command_help(verb: str, label) -> str:
    """Every command of *verb* with its paragraph, ``LABEL(name): help`` joined by spaces (for a parser's
    description; escape ``%`` before using it as an argument's help)."""
    return " ".join(f"{label(name)}: {c.help}" for name, (_, c) in REGISTRY.commands(verb).items())


def add_command_options(p: argparse.ArgumentParser, verb: str, label, title: str) -> None:
    """Add every option *verb*'s commands declare, each flag once, in group *title*; its help names the
    commands that take it (``label(name)``) with their texts."""
    g = p.add_argument_group(title)
    for flag, decls in REGISTRY.command_options(verb).items():
        texts: dict[str, list[str]] = {}
        for cmd, o in decls:
            texts.setdefault(o.help, []).append(cmd.name)
        help_text = "; ".join(f"{label(', '.join(names))}: {h}" for h, names in texts.items())
        g.add_argument(flag, help=help_text.replace("%", "%%"), **decls[0][1].argparse_kwargs())


def chosen_command(verb: str, name: str, args, label) -> Command:
    """*verb*'s command *name*, after refusing (one-line ``ParameterError``) any option of the verb given
    that it does not declare: ``--X applies to LABEL(a), LABEL(b) only, not to LABEL(name) (hint)``."""
    _, cmd = REGISTRY.commands(verb)[name]
    opts = REGISTRY.command_options(verb)
    values = {decls[0][1].key: getattr(args, decls[0][1].key) for decls in opts.values()}
    applies(opts, lambda c, o: c.name == name, values, label(name), lambda c, o: label(c.name), cmd.hints)
    return cmd


def run_command(cmd: Command, args) -> int:
    """Run *cmd*'s handler (``run``, imported now) on *args*; its exit code."""
    return int(resolve(cmd.run)(args) or 0)
