"""``charz doctor``: what charz finds on this machine (ngspice, libngspice, PySpice, PTM cards, the cache)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .. import __version__
from .common import DEFAULT_PDK


def add_parser(sub) -> None:
    """Add ``doctor`` to the sub-command parsers *sub*."""
    p = sub.add_parser("doctor", help="check ngspice, libngspice, PySpice, PTM cards and the cache",
                       description="Print what charz finds on this machine: the ngspice executable, the libngspice "
                                   "shared library PySpice loads (NGSPICE_LIBRARY_PATH overrides it), ngspice's version "
                                   "and build flags, PySpice's version, which PTM cards were found where on the search "
                                   "path (CHARZ_PDK_PATH, pdk_models/, ../shared/pdk_models) with their sha256 checked, "
                                   "and the cache location and size. Exits 3 with advice when ngspice, libngspice or "
                                   f"PySpice is missing, 2 when the default PDK's card ({DEFAULT_PDK}) or every card "
                                   "is missing or any card file on the search path differs from the manifest's sha256 "
                                   "(altered).")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args) -> int:
    """``charz doctor``: print what charz finds (ngspice executable, libngspice and its build, PySpice, every
    PTM card on the search path with its sha256 checked, the cache, the ngspice start-up, Dask). Returns 0
    when all is well, 3 when ngspice, libngspice or PySpice is missing, 2 when the default card or every card
    is missing or a card differs from the manifest."""
    from ..core import pdk
    from ..sim.cache import Cache

    problems = []  # ngspice, libngspice, PySpice: exit 3
    print(f"charz {__version__}  python {sys.version.split()[0]}")
    exe = shutil.which("ngspice")
    print(f"ngspice executable: {exe or 'NOT FOUND'}")
    if not exe:
        problems.append("ngspice is not installed: apt-get install -y ngspice libngspice0-dev (or `make setup`)")
    try:
        import PySpice

        print(f"PySpice: {PySpice.__version__}")
    except Exception as exc:  # pragma: no cover
        problems.append(f"PySpice missing ({exc}): pip install -e . (or `make setup`)")
    from ..sim.engine import check_available, identity

    why = check_available()
    if why:
        problems.append(why)
        print("libngspice: NOT LOADED")
    else:
        ident = identity()
        lib = ident["library"]
        found = [str(p) for p in (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib"), Path("/usr/local/lib"))
                 if (p / lib).exists()]
        print(f"libngspice: {lib} ({', '.join(found) or 'found by the dynamic loader'})")
        print(f"ngspice version: {ident['version']}")
        for b in ident["build"]:
            print(f"  build: {b}")
    print("PTM model cards (search path: " + ", ".join(str(d) for d in pdk.search_path()) + "):")
    card_problems = []  # exit 2, as the commands that would use the card (PDKError)
    n_ok = 0
    for name in pdk.names():
        d = pdk.describe(name)
        path, refused = pdk.find_card(d)
        if path:
            n_ok += 1
            print(f"  {name:<11} ok       {path}")
        else:
            print(f"  {name:<11} MISSING  {d.file} is on none of the folders")
            if name == DEFAULT_PDK:
                card_problems.append(f"the default PDK's card {d.file} ({name}) is missing: put a verified copy (sha256 "
                                     f"in pdk_models/manifest.toml) on the search path or point CHARZ_PDK_PATH at one")
        for cand, why in refused:
            print(f"  {'':<11} ALTERED  {cand}: {why}")
            card_problems.append(f"{cand} is not the manifest's {d.file} ({why}): charz refuses it; delete it or "
                                 f"replace it with a verified copy")
    if n_ok == 0:
        card_problems.append("no PTM card found: set CHARZ_PDK_PATH to a folder with verified copies "
                             "(see pdk_models/manifest.toml) or place ../shared/pdk_models beside the checkout")
    info = Cache().info()
    print(f"cache: {info['path']}  {info['entries']} entries, {info['bytes'] / 1e6:.1f} MB, "
          f"{info['failed_netlists']} saved failed netlists")
    from ..sim.engine import STARTUP_COMMANDS

    print(f"ngspice start-up: charz's own spinit and .spiceinit in a private temporary folder ({'; '.join(STARTUP_COMMANDS)}); "
          f"no .spiceinit of the working directory or home and no system spinit is read")
    try:
        import dask  # noqa: F401

        print(f"dask: {dask.__version__} (distributed sweeps available)")
    except ImportError:
        print("dask: not installed (optional: pip install 'charz[dask]')")
    try:
        import optuna  # noqa: F401

        print(f"optuna: {optuna.__version__} (charz explore available)")
    except ImportError:
        print("optuna: not installed (optional, for charz explore: pip install 'charz[explore]')")
    if problems or card_problems:
        print("\nProblems:", file=sys.stderr)
        for p in problems + card_problems:
            print(f"  - {p}", file=sys.stderr)
        return 3 if problems else 2
    print("\nall good")
    return 0
