"""Transistor-level SRAM cells shared by the bitcell testbenches and the CiM column.

Cells are written flat (no subcircuits) so every transistor has a top-level name that Monte Carlo
can ``alter``: device ``<role>_<index>``, e.g. ``mpd1_3`` is pull-down 1 of cell 3.

6T core: cross-coupled inverters (pu1/pd1 drive q, pu2/pd2 drive qb) and access devices ax1 (bl-q)
and ax2 (blb-qb) gated by wl. 8T adds a decoupled read port: rd (gate q, source ground) in series
with ra (gate rwl) onto the read bitline rbl. A stored weight bit of 1 means q = VDD, so the read port
discharges rbl exactly when the weight and the read-wordline (input) bit are both 1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING

from ..core.errors import ParameterError
from ..core.grid import number
from ..core.pdk import PDK
from ..core.params import Params, Size, param
from ..core.validate import finite
from .spice import Device, mos


LENGTH_MAX_LMIN = 20
"""Longest channel length allowed, in multiples of the node's Lmin."""
LENGTH_MAX_ABS = 10e-6
"""Longest channel length allowed on any node (m)."""
WIDTH_MAX_LMIN = 200
"""Widest transistor allowed, in multiples of the node's Lmin."""
WIDTH_MAX_ABS = 100e-6
"""Widest transistor allowed on any node (m)."""
_LENGTHS = ("l", "l_read")


def size_range(name: str, pdk: PDK) -> tuple[float, float]:
    """Allowed (lowest, highest) value in metres of the CellSizes field *name* on *pdk*: lengths
    Lmin .. min(20 x Lmin, 10 um), widths Lmin .. min(200 x Lmin, 100 um)."""
    return _constraint(name).bounds(pdk.lmin)


WIDTH = Size("width", WIDTH_MAX_LMIN, WIDTH_MAX_ABS)
"""Constraint of the cell widths: Lmin .. min(200 x Lmin, 100 um)."""
LENGTH = Size("length", LENGTH_MAX_LMIN, LENGTH_MAX_ABS)
"""Constraint of the cell lengths: Lmin .. min(20 x Lmin, 10 um)."""


@dataclasses.dataclass(frozen=True)
class CellSizes(Params):
    """Widths and lengths in metres. Defaults come from :meth:`default` (multiples of the node's Lmin).

    Allowed ranges (checked by :meth:`check` against the PDK, which every generator taking a
    CellSizes calls): widths Lmin .. 200 x Lmin and at most 100 um; lengths Lmin .. 20 x Lmin and at
    most 10 um (Lmin = the node, e.g. 16 nm for ptm16hp: widths 16 nm .. 3.2 um, lengths 16 .. 320 nm).
    Creating a CellSizes checks only what needs no PDK: positive finite numbers, widths <= 100 um,
    lengths <= 10 um, nothing below 1 nm."""

    NOUN = "cell size"

    w_pu: float = param(MISSING, WIDTH, "pull-up PMOS width (pu1, pu2) (m). Range Lmin .. min(200 x Lmin, 100 um)")
    w_pd: float = param(MISSING, WIDTH, "pull-down NMOS width (pd1, pd2) (m). Range Lmin .. min(200 x Lmin, 100 um)")
    w_ax: float = param(MISSING, WIDTH, "access NMOS width (ax1, ax2) (m). Range Lmin .. min(200 x Lmin, 100 um)")
    w_rd: float = param(MISSING, WIDTH, "8T read-port driver NMOS width (rd, gate q) (m). Range Lmin .. min(200 x Lmin, 100 um)")
    w_ra: float = param(MISSING, WIDTH, "8T read-port access NMOS width (ra, gate rwl) (m). Range Lmin .. min(200 x Lmin, 100 um)")
    l: float = param(MISSING, LENGTH, "channel length of the 6T core devices (m). Range Lmin .. min(20 x Lmin, 10 um)")
    l_read: float = param(MISSING, LENGTH, "channel length of the 8T read-port devices (m). Range Lmin .. min(20 x Lmin, 10 um)")

    def check(self, pdk: PDK | None = None) -> "CellSizes":
        """This object if every size is inside :func:`size_range` for *pdk*; else a ParameterError that
        names the field and its range. Without a PDK (on creation) nothing more is checked."""
        if pdk is not None:
            for f in dataclasses.fields(self):
                _check_size(f.name, getattr(self, f.name), pdk)
        return self

    @classmethod
    def for_pdk(cls, pdk: PDK, **overrides) -> "CellSizes":
        """The PDK's :meth:`default` sizes with *overrides* (metres; None keeps the default), each checked
        against :func:`size_range` for *pdk* (the error names the field and its range)."""
        cls.check_names(overrides)
        for name, v in overrides.items():
            if v is not None:
                _check_size(name, finite(v, f"cell size {name} (m)"), pdk)
        return cls.default(pdk).replace(**overrides).check(pdk)

    @classmethod
    def default(cls, pdk: PDK) -> "CellSizes":
        """Conventional high-density ratios: PU : AX : PD = 2 : 3 : 5 (x Lmin), cell ratio PD/AX = 1.67,
        pull-up ratio PU/AX = 0.67; read port 4 x Lmin wide at 2 x Lmin length (a longer read device
        keeps the bitline discharge closer to linear in the number of active cells)."""
        L = pdk.lmin
        return cls(w_pu=2 * L, w_pd=5 * L, w_ax=3 * L, w_rd=4 * L, w_ra=4 * L, l=L, l_read=2 * L)

    def replace(self, **kw) -> "CellSizes":
        """A copy with the given sizes (m) changed; None values keep the current size. Unknown names raise
        ``ParameterError``; the sizes are not range-checked against a PDK here (see :meth:`check`)."""
        self.check_names(kw)
        return super().replace(**{k: v for k, v in kw.items() if v is not None})


def _constraint(name: str) -> Size:
    return LENGTH if name in _LENGTHS else WIDTH


def _check_size(name: str, v: float, pdk: PDK) -> None:
    c = _constraint(name)
    if not c.inside(v, pdk.lmin):
        lo, hi = c.bounds(pdk.lmin)
        raise ParameterError(
            f"cell size {name} = {v:g} m is outside {lo:g} .. {hi:g} m for {pdk.name} "
            f"({c.kind}s: {c.rule()}; Lmin = {pdk.lmin:g} m): "
            f"give a size in that range, in metres (e.g. {_example(name, pdk)})")


def _example(name: str, pdk: PDK) -> str:
    """A valid example for the error message: the default size of *name* on *pdk*."""
    return f"{name}={getattr(CellSizes.default(pdk), name):.4g}"


def cell_6t(i: int | str, q: str, qb: str, bl: str, blb: str, wl: str, vdd: str, s: CellSizes, pdk: PDK):
    """Element lines and devices of one 6T core."""
    t = [
        ("mpu1", q, qb, vdd, vdd, pdk.pmos, s.w_pu, s.l, "p"),
        ("mpd1", q, qb, "0", "0", pdk.nmos, s.w_pd, s.l, "n"),
        ("mpu2", qb, q, vdd, vdd, pdk.pmos, s.w_pu, s.l, "p"),
        ("mpd2", qb, q, "0", "0", pdk.nmos, s.w_pd, s.l, "n"),
        ("max1", bl, wl, q, "0", pdk.nmos, s.w_ax, s.l, "n"),
        ("max2", blb, wl, qb, "0", pdk.nmos, s.w_ax, s.l, "n"),
    ]
    lines, devs = [], []
    for role, d, g, src, b, model, w, l, kind in t:
        name = f"{role}_{i}"
        lines.append(mos(name, d, g, src, b, model, w, l))
        devs.append(Device(name, kind, w, l))
    return lines, devs


def read_port(i: int | str, q: str, rwl: str, rbl: str, s: CellSizes, pdk: PDK):
    """The 8T decoupled read port: rd (gate q) to ground, ra (gate rwl) onto rbl."""
    x = f"rx_{i}"
    lines = [
        mos(f"mrd_{i}", x, q, "0", "0", pdk.nmos, s.w_rd, s.l_read),
        mos(f"mra_{i}", rbl, rwl, x, "0", pdk.nmos, s.w_ra, s.l_read),
    ]
    devs = [Device(f"mrd_{i}", "n", s.w_rd, s.l_read), Device(f"mra_{i}", "n", s.w_ra, s.l_read)]
    return lines, devs


def cell_8t(i, q, qb, bl, blb, wl, rwl, rbl, vdd, s: CellSizes, pdk: PDK):
    """Element lines and devices of one 8T cell *i*: the 6T core (:func:`cell_6t`) plus the decoupled read
    port (:func:`read_port`) onto *rbl*."""
    l6, d6 = cell_6t(i, q, qb, bl, blb, wl, vdd, s, pdk)
    lr, dr = read_port(i, q, rwl, rbl, s, pdk)
    return l6 + lr, d6 + dr


def size_overrides(items: list[str] | None, names, what: str = "cell size") -> dict:
    """``--size NAME=VALUE`` items (metres, SPICE suffixes allowed) as ``{name: value}`` for the size fields
    *names*; a malformed, unknown or repeated name is a one-line ``ParameterError`` (the values' ranges are the
    parameter class's to check)."""
    kw: dict = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise ParameterError(f"--size {item!r}: write NAME=VALUE, e.g. --size {names[0]}=80n")
        name = name.strip()
        if name not in names:
            raise ParameterError(f"--size {item!r}: unknown {what} {name!r}: use one of {', '.join(names)}")
        if name in kw:
            raise ParameterError(f"--size {name} is given twice: give each {what} once")
        kw[name] = number(value, f"--size {name}")
    return kw


def parse_sizes(pdk, items: list[str] | None) -> CellSizes | None:
    """``--size NAME=VALUE`` overrides (metres, SPICE suffixes allowed) of *pdk*'s default cell sizes, checked
    against the PDK's ranges before any run; None when *items* is empty. A malformed, unknown or repeated
    name is a one-line ``ParameterError``."""
    if not items:
        return None
    return CellSizes.for_pdk(pdk, **size_overrides(items, [f.name for f in dataclasses.fields(CellSizes)]))
