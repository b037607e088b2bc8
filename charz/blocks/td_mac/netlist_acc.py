"""Time-domain floating-point MAC, the charge-domain accumulation of the aligned mantissa products: a line
pair (P, N) with a binary-weighted capacitor array per element on each line, driven from the digital
alignment and sign logic (:class:`AccParams`, :func:`acc_netlist`; cycle instants :func:`acc_times`).
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.pdk import PDK
from ...core.params import Int, Params, Real, param, positive
from ...core.validate import round12 as _r12
from ...netlist.spice import pwl_source
from ...netlist.spice import PDK_NAME, TEMP, VDD, Device, Netlist, edge_points, ident, mos, num, pdk_of
from .netlist import CYCLES_MAX, EDGE_SEGMENTS, _vdd


# ---- charge-domain accumulation of the aligned mantissa products -----------------------------------------
C_UNIT = 0.1e-15
"""Default unit capacitor (F): a small metal-oxide-metal finger capacitor."""


@dataclasses.dataclass(frozen=True)
class AccParams(Params):
    """Charge-domain accumulation line pair: every element has two binary-weighted capacitor arrays
    (``bits`` bits, bit k = 2^k unit capacitors as one capacitor of 2^k c_unit), one on line P and one on
    line N; the digital alignment (shifter) and sign logic drive the bottom plates of the array on P when the
    product is positive, on N when negative (static inverter drivers from the ideal digital inputs).
    Cycle: reset (lines and bottom plates at 0), release, drive: V_P - V_N = VDD c_unit (S_P - S_N) / C_line.
    """

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    length: int = param(16, Int(1, 64), "elements on the line pair")
    bits: int = param(10, Int(1, 14), "bits of an aligned magnitude: 2 (m + 1) + guard (E4M3 with 2 guard bits: 10)")
    c_unit: float = param(C_UNIT, positive(1e-12, "F"), "unit capacitor")
    c_wire: float | None = param(None, Real(0.0, 1e-11, unit="F"), "wire capacitance of each line; None = 0.2 fF per element")
    vdd: float | None = param(None, VDD, "supply; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    t_cycle: float = param(1e-9, positive(1e-6, "s"), "one accumulation cycle (reset, release, drive)")
    t_edge: float = param(40e-12, positive(1e-9, "s"), "driver and reset edges")
    """Driver and reset edges (s); with 20 ps edges and a 2 ps step ngspice stalled ("timestep too small")
    in long decks."""
    t_step: float = param(2e-12, positive(1e-10, "s"), "maximum time step")

    def check(self):
        """VDD against the card; c_wire default; t_cycle >= 10 t_edge and t_step <= t_edge."""
        vdd = _vdd(pdk_of(self), self.vdd)
        c_wire = _r12(0.2e-15 * self.length) if self.c_wire is None else self.c_wire
        if 10 * self.t_edge > self.t_cycle or self.t_step > self.t_edge:
            raise ParameterError("give t_cycle >= 10 t_edge and t_step <= t_edge")
        self._set(vdd=vdd, c_wire=c_wire)


def acc_times(prm: AccParams, c: int) -> tuple[float, float, float]:
    """(reset released, drive edge, sample) times of cycle c."""
    t0 = c * prm.t_cycle
    return t0 + 0.2 * prm.t_cycle, t0 + 0.3 * prm.t_cycle, t0 + 0.7 * prm.t_cycle


def acc_netlist(prm: AccParams, values, pdk: PDK | None = None) -> Netlist:
    """Cycle k accumulates ``values[k, i]`` (signed integers, |v| < 2^bits: element i's aligned, signed
    magnitude) onto the line pair. Saves v(lp), v(ln) and i(vdd)."""
    if not isinstance(prm, AccParams):
        raise ParameterError(f"params must be AccParams, got {type(prm).__name__}")
    p = pdk if pdk is not None else pdkmod.get(prm.pdk)
    v = np.asarray(values)
    if v.ndim == 1:
        v = v[None]
    top = (1 << prm.bits) - 1
    if v.ndim != 2 or v.shape[1] != prm.length or not 1 <= v.shape[0] <= CYCLES_MAX:
        raise ParameterError(f"values must be (cycles, {prm.length}) integers, 1..{CYCLES_MAX} cycles")
    if not np.all((v == np.round(v)) & (np.abs(v) <= top)):
        raise ParameterError(f"values must be integers with |v| <= {top} ({prm.bits} bits)")
    v = v.astype(np.int64)
    n = v.shape[0]
    vdd, e = prm.vdd, prm.t_edge
    L = p.lmin
    body = [f"* charge accumulation: {prm.length} elements x {prm.bits}-bit arrays, {n} cycles", f"vdd vdd 0 {num(vdd)}"]
    rst = [(0.0, vdd)]
    for c in range(n):
        t_rel, _, _ = acc_times(prm, c)
        rst += edge_points(t_rel, e, vdd, 0.0, EDGE_SEGMENTS) + edge_points(c * prm.t_cycle + 0.9 * prm.t_cycle, e, 0.0, vdd, EDGE_SEGMENTS)
    body += pwl_source("vrst", "rst", rst)
    devs: list[Device] = []
    wn, wp = _r12(2 * L), _r12(4 * L)
    for line in ("lp", "ln"):
        body.append(mos(f"mrst_{line}", line, "rst", "0", "0", p.nmos, _r12(8 * L), L))
        devs.append(Device(f"mrst_{line}", "n", _r12(8 * L), L))
        body.append(f"cw_{line} {line} 0 {num(prm.c_wire)}")
        # 100 GOhm to ground: a DC path for the floating line (ngspice otherwise stalled with "timestep too
        # small" in long decks); it drains < 0.01 unit capacitor of charge per cycle
        body.append(f"rdc_{line} {line} 0 1e11")
    for i in range(prm.length):
        for side, line in ((1, "lp"), (-1, "ln")):
            for k in range(prm.bits):
                on = ((np.abs(v[:, i]) >> k) & 1) * (np.sign(v[:, i]) == side)
                tag = f"{line}_e{i}_b{k}"
                # the driver input is the inverted bit: high (bottom plate low) except while driving a 1
                pts = [(0.0, vdd)]
                for c in range(n):
                    if on[c]:
                        _, t_drv, _ = acc_times(prm, c)
                        pts += edge_points(t_drv, e, vdd, 0.0, EDGE_SEGMENTS)
                        pts += edge_points(c * prm.t_cycle + 0.8 * prm.t_cycle, e, 0.0, vdd, EDGE_SEGMENTS)
                gate = f"db_{tag}"
                if len(pts) == 1:
                    gate = "vdd"  # never driven in this deck: the driver input sits at VDD (bottom plate low)
                else:
                    body += pwl_source(f"vd_{tag}", gate, pts)
                s = max(1, (1 << k) // 64)  # wider drivers for the big capacitors (8x for 512 units: settles
                # within the 0.4 t_cycle window; wider ones mostly add leakage)
                body.append(mos(f"mpd_{tag}", f"bp_{tag}", gate, "vdd", "vdd", p.pmos, _r12(wp * s), L))
                body.append(mos(f"mnd_{tag}", f"bp_{tag}", gate, "0", "0", p.nmos, _r12(wn * s), L))
                devs += [Device(f"mpd_{tag}", "p", _r12(wp * s), L), Device(f"mnd_{tag}", "n", _r12(wn * s), L)]
                body.append(f"c_{tag} {line} bp_{tag} {num(_r12(prm.c_unit * (1 << k)))}")
    return Netlist(block="td_acc", title=f"charz td_acc {ident(prm.pdk)} L={prm.length} {n} cycles",
                   params=prm.pairs() + (("cycles", n), ("values", hashlib.sha256(v.tobytes()).hexdigest()[:16])),
                   body=tuple(body), card=p.path, card_sha256=p.sha256,
                   analysis=f".tran {num(prm.t_step)} {num(n * prm.t_cycle)}",
                   save=("time", "v(lp)", "v(ln)", "v(rst)", "i(vdd)"), temp=prm.temp, devices=tuple(devs))
