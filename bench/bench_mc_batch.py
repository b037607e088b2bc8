"""(b) Monte Carlo samples per second: batched in one ngspice session vs one `ngspice -b` per sample.

Batched: charz's engine loads the deck once and `alter`s every transistor's delvto between runs
(one job of N samples, inline in this process, cache off). Per-process: the same deck with the same
delvto values written into the instance lines, one `ngspice -b -r out.raw deck.cir` per sample (the
raw file is written but not parsed, which favours this side). Both single-core, sequential, with
charz's own start-up files (num_threads=1; `engine.batch_environment()`: no user or system start-up file
is read). Goal: batched >= 5x.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine  # noqa: E402

from charz.core import pdk as P  # noqa: E402
from charz.core.mc import Mismatch, draw  # noqa: E402
from charz.blocks.bitcell.netlist import BitcellParams, netlists as testbenches  # noqa: E402
from charz.netlist.spice import num  # noqa: E402
from charz.sim.engine import batch_environment  # noqa: E402
from charz.sim.runner import SimJob, execute, resolve_card  # noqa: E402


def deck_with_delvto(nl, sample) -> str:
    text = resolve_card(nl).text()  # the card as charz's private copy, like the engine's decks
    vals = {inst: v for inst, par, v in sample if par == "delvto"}
    out = []
    for line in text.splitlines():
        name = line.split(" ", 1)[0]
        out.append(f"{line} delvto={num(vals[name])}" if name in vals else line)
    return "\n".join(out) + "\n"


def decks(pdk_name: str):
    yield "8T read current (.op)", testbenches(BitcellParams(cell="8t", pdk=pdk_name))["iread"]
    yield "6T hold butterfly (.dc)", testbenches(BitcellParams(cell="6t", pdk=pdk_name))["hold"]
    yield "6T read energy (.tran)", testbenches(BitcellParams(cell="6t", pdk=pdk_name))["energy"]
    try:
        from charz.blocks.cim_column.netlist import CimColumnParams, column_netlist

        yield "16x8T CiM column k=8 (.tran)", column_netlist(CimColumnParams(pdk=pdk_name), 8)
    except ImportError:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdk", default="ptm16hp")
    ap.add_argument("-n", type=int, default=50, help="Monte Carlo samples per deck")
    args = ap.parse_args()
    pdk = P.get(args.pdk)
    print(f"machine: {machine()}")
    print(f"{args.n} Monte Carlo samples per deck on {pdk.name}, one core, sequential")
    print(f"{'deck':<32}{'batched /s':>12}{'ngspice -b /s':>15}{'ratio':>8}")
    for label, nl in decks(pdk.name):
        d = draw(Mismatch(pdk.avt_mv_um), nl.devices, args.n, seed=5)
        execute(SimJob(nl))  # load the library and the card once (not counted)
        t0 = time.perf_counter()
        res = execute(SimJob(nl, d.samples(), timeout=600))
        t_batch = time.perf_counter() - t0
        assert len(res.runs) == args.n, res
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for s, sample in enumerate(d.samples()):
                p = os.path.join(tmp, f"s{s}.cir")
                with open(p, "w") as fh:
                    fh.write(deck_with_delvto(nl, sample))
                paths.append(p)
            env, cwd = batch_environment()
            t0 = time.perf_counter()
            for p in paths:
                r = subprocess.run(["ngspice", "-b", "-r", p + ".raw", p], cwd=cwd, env=env, capture_output=True)
                if r.returncode != 0 or not os.path.exists(p + ".raw"):
                    raise SystemExit(f"ngspice -b failed on {p}: {r.stdout[-500:]!r}")
            t_b = time.perf_counter() - t0
        print(f"{label:<32}{args.n / t_batch:>12.1f}{args.n / t_b:>15.1f}{t_b / t_batch:>7.1f}x")


if __name__ == "__main__":
    main()
