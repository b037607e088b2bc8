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

from ..errors import ParameterError
from ..pdk import PDK
from .spice import Device, mos, positive


@dataclasses.dataclass(frozen=True)
class CellSizes:
    """Widths and lengths in metres. Defaults come from :meth:`default` (multiples of the node's Lmin)."""

    w_pu: float
    w_pd: float
    w_ax: float
    w_rd: float
    w_ra: float
    l: float
    """Channel length of the 6T core devices."""
    l_read: float
    """Channel length of the 8T read-port devices."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            positive(getattr(self, f.name), f"cell size {f.name}")
        if self.l < 0.5e-9 or self.w_pd > 100e-6:
            raise ParameterError("cell sizes look wrong: lengths and widths are in metres (e.g. 16e-9)")

    @classmethod
    def default(cls, pdk: PDK) -> "CellSizes":
        """Conventional high-density ratios: PU : AX : PD = 2 : 3 : 5 (x Lmin), cell ratio PD/AX = 1.67,
        pull-up ratio PU/AX = 0.67; read port 4 x Lmin wide at 2 x Lmin length (a longer read device
        keeps the bitline discharge closer to linear in the number of active cells)."""
        L = pdk.lmin
        return cls(w_pu=2 * L, w_pd=5 * L, w_ax=3 * L, w_rd=4 * L, w_ra=4 * L, l=L, l_read=2 * L)

    def replace(self, **kw) -> "CellSizes":
        unknown = set(kw) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ParameterError(f"unknown cell size(s) {sorted(unknown)}: use {[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **{k: float(v) for k, v in kw.items() if v is not None})


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
    l6, d6 = cell_6t(i, q, qb, bl, blb, wl, vdd, s, pdk)
    lr, dr = read_port(i, q, rwl, rbl, s, pdk)
    return l6 + lr, d6 + dr
