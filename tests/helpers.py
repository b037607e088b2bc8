"""Small decks shared by the engine tests, and the CLI runner every CLI test uses."""

import os
import subprocess
import sys
from pathlib import Path

from charz.core import pdk as P
from charz.netlist.spice import Device, Netlist, mos, num


def inverter(vdd=0.7, cl=1e-15, name="ptm16hp", analysis=".tran 1p 120p"):
    p = P.get(name)
    L = p.lmin
    body = (
        f"vdd vdd 0 {num(vdd)}",
        f"vin in 0 pulse(0 {num(vdd)} 10p 5p 5p 50p 120p)",
        mos("mp", "out", "in", "vdd", "vdd", "pmos", 8 * L, L),
        mos("mn", "out", "in", "0", "0", "nmos", 4 * L, L),
        f"cl out 0 {num(cl)}",
    )
    return Netlist("inverter", "test inverter", (("vdd", vdd), ("cl", cl)), body, p.path, p.sha256, analysis,
                   ("time", "v(out)"), 27.0, (), (Device("mp", "p", 8 * L, L), Device("mn", "n", 4 * L, L)))


def broken(vdd=0.7):
    """A deck ngspice cannot solve: a loop of ideal voltage sources with different values."""
    p = P.get("ptm16hp")
    body = (f"v1 a 0 {num(vdd)}", "v2 a 0 0.1", mos("mn", "a", "a", "0", "0", "nmos", 64e-9, 16e-9))
    return Netlist("broken", "broken deck", (("vdd", vdd),), body, p.path, p.sha256, ".tran 1p 10p",
                   ("time", "v(a)"), 27.0, (), ())


ROOT = Path(__file__).resolve().parent.parent


def charz(*args, env=None, cwd=ROOT):
    """Run ``python -m charz.cli ARGS`` in a fresh process (stdout, stderr and exit code as a person sees them)."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "charz.cli", *[str(a) for a in args]], capture_output=True,
                          text=True, env=e, cwd=cwd, timeout=600)


def one_line_error(r, code=None):
    """The one ``charz: error:`` line of a failed run (asserts there is exactly one and no traceback)."""
    assert r.returncode != 0
    if code is not None:
        assert r.returncode == code, r.stderr
    err = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(err) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert err[0].startswith("charz: error:")
    return err[0]
