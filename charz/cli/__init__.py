"""`charz` command line. Every sub-command has --help; errors are one line and a non-zero exit code.

One module per verb (``doctor``, ``pdk``, ``cache``, ``netlist``, ``characterize``, ``lut``, ``plot``,
``eval``, ``explore``, ``study``, ``check``, ``train``, ``report``, ``demo``, ``data``, ``models``), each with
``add_parser(sub)`` and its ``cmd_*`` function; :mod:`.common` holds what they share. No block is named
here: ``characterize`` takes its blocks and options from :data:`charz.blocks.REGISTRY`, and ``eval`` /
``check`` / ``train`` run the commands the block families declare there
(``charz/blocks/<family>/commands.py``)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .. import __version__
from ..core.errors import CharzError
from ..core.lut import LUT_PATH_ENV
from . import (cache, characterize, check, data, demo, doctor, eval, explore, lut, models, netlist, pdk, plot, report,
               study, train)
from .characterize import default_lut_output
from .common import DEFAULT_PDK, check_workers, max_workers
from .netlist import golden_netlists

EXIT_INTERNAL = 70
"""Exit code of an unexpected exception (EX_SOFTWARE); the traceback goes to a log file."""

VERBS = (doctor, pdk, netlist, characterize, lut, plot, eval, explore, study, check, report, demo, train, models, cache,
         data)
"""The verb modules, in the order ``charz --help`` lists them."""

# names kept from the single-module command line (tests and scripts use them)
_sweep_scales = eval.sweep_scales
_char_common = characterize.char_common

__all__ = ["DEFAULT_PDK", "EXIT_INTERNAL", "build_parser", "check_workers", "default_lut_output",
           "golden_netlists", "log_dir", "main", "max_workers", "_char_common", "_sweep_scales"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that point at --help."""

    def error(self, message: str):  # noqa: D401
        self.exit(2, f"charz: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``charz`` argument parser with every sub-command and its options (errors are one line that points
    at ``--help``)."""
    ap = _Parser(
        prog="charz",
        description="Characterize compute-in-memory circuits in ngspice, fit LUTs, and evaluate networks on them.",
        epilog="Environment: CHARZ_PDK_PATH (card folders), CHARZ_AVT (A_VT override, mV*um), CHARZ_CACHE_DIR "
               "(result cache), CHARZ_SCHEDULER (Dask scheduler), CHARZ_TIMEOUT (time limit of one ngspice run, s), "
               f"CHARZ_MC_LIMIT (Monte Carlo samples per point allowed), {LUT_PATH_ENV} (folders of default LUTs, "
               f"<folder>/<pdk>/<name>.json, separated by '{os.pathsep}'). A default LUT (one a command reads when "
               f"no path is given) is looked for on the LUT search path: {LUT_PATH_ENV}, then the LUTs installed "
               "with charz, then lut/ of the checkout charz runs from; a LUT path you give is read as given. "
               "CHARZ_DATA_PATH (dataset folders searched first, see `charz data --help`). "
               "Exit codes: 0 ok, 2 bad input, 3 ngspice missing, "
               f"4 simulation failed, 5 bad LUT, 6 bad or missing dataset, {EXIT_INTERNAL} internal error (a bug: the one-line "
               "message names "
               "the log file with the traceback), 130 interrupted.",
    )
    ap.add_argument("--version", action="version", version=f"charz {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND", parser_class=_Parser)
    for verb in VERBS:
        verb.add_parser(sub)
    return ap


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def log_dir() -> Path:
    """Where tracebacks of internal errors go: <cache dir>/logs (CHARZ_CACHE_DIR, XDG_CACHE_HOME or
    ~/.cache/charz), or the temp dir when that is not writable."""
    from ..sim.cache import default_dir

    return default_dir() / "logs"


def _write_traceback(exc: BaseException, argv) -> Path | None:
    """Write *exc*'s traceback (with the command line and versions) to a new log file; its path, or None."""
    import platform
    import tempfile
    import traceback

    text = (f"charz {__version__}, python {platform.python_version()} on {platform.platform()}\n"
            f"command: charz {' '.join(map(str, sys.argv[1:] if argv is None else argv))}\n"
            f"time: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dirs = []
    try:
        dirs.append(log_dir())
    except Exception:  # noqa: BLE001 - the cache location itself may be what is broken
        pass
    dirs.append(Path(tempfile.gettempdir()) / "charz-logs")
    for d in dirs:
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"charz-{stamp}-", suffix=".log", dir=d)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            return Path(name)
        except OSError:
            continue
    return None


def _print_tally(tally) -> None:
    """After a command that planned simulations: how many came from the cache, ran, failed (stdout)."""
    if tally.jobs:
        print(tally.line(), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the parser epilog). Errors are one line on stderr:
    a CharzError with its own code, anything unexpected with EXIT_INTERNAL and the traceback in a log file."""
    from ..sim.executor import reset_tally

    tally = reset_tally()
    try:
        args = build_parser().parse_args(argv)
        rc = int(args.func(args) or 0)
        _print_tally(tally)
        return rc
    except CharzError as exc:
        _print_tally(tally)
        print(f"charz: error: {_one_line(exc) or type(exc).__name__}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _print_tally(tally)
        print("charz: interrupted; finished simulations are cached: rerun the same command to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback on the terminal
        log = _write_traceback(exc, argv)
        msg = _one_line(exc)
        msg = f"{type(exc).__name__}: {msg[:300]}{'...' if len(msg) > 300 else ''}" if msg else type(exc).__name__
        where = f"the traceback is in {log}" if log else "the traceback could not be saved"
        print(f"charz: error: internal error ({msg}); {where} - please report it", file=sys.stderr)
        return EXIT_INTERNAL
