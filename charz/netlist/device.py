"""Single-device and inverter testbenches: card checks (`charz pdk verify`) and Vth extraction."""

from __future__ import annotations

from ..core.pdk import PDK
from .spice import Device, Netlist, mos, num, positive


def inverter_netlist(pdk: PDK, vdd: float | None = None, temp: float = 27.0, cl: float = 1e-15) -> Netlist:
    """The SOURCES.md inverter: L = node, Wn = 4L, Wp = 8L, CL = 1 fF, ideal input with 5 ps edges."""
    vdd = pdk.check_vdd(vdd if vdd is not None else pdk.vdd_nom)
    positive(cl, "load capacitance")
    L = pdk.lmin
    body = (
        f"vdd vdd 0 {num(vdd)}",
        f"vin in 0 pulse(0 {num(vdd)} 20p 5p 5p 100p 250p)",
        mos("mp", "out", "in", "vdd", "vdd", pdk.pmos, 8 * L, L),
        mos("mn", "out", "in", "0", "0", pdk.nmos, 4 * L, L),
        f"cl out 0 {num(cl)}",
    )
    return Netlist(
        block="inverter", title=f"inverter {pdk.name}",
        params=(("pdk", pdk.name), ("vdd", vdd), ("temp", temp), ("cl", cl)),
        body=body, card=pdk.path, card_sha256=pdk.sha256,
        analysis=".tran 0.1p 250p", save=("time", "v(in)", "v(out)"), temp=temp,
        devices=(Device("mp", "p", 8 * L, L), Device("mn", "n", 4 * L, L)),
    )


def idvg_netlist(pdk: PDK, kind: str, w: float = 1e-6, l: float | None = None, vdd: float | None = None,
                 temp: float = 27.0, step: float = 0.002) -> Netlist:
    """Id-Vgs sweep at |Vds| = VDD of one device (``m1``), gate swept 0..VDD by ``vg``."""
    vdd = pdk.check_vdd(vdd if vdd is not None else pdk.vdd_nom)
    l = l if l is not None else pdk.lmin
    positive(w, "width")
    positive(l, "length")
    if kind == "n":
        body = (f"vd d 0 {num(vdd)}", "vg g 0 0", mos("m1", "d", "g", "0", "0", pdk.nmos, w, l))
    else:
        # PMOS with source and body at VDD, drain at 0: |Vgs| = VDD - v(g), |Vds| = VDD
        body = (f"vs s 0 {num(vdd)}", "vd d 0 0", "vg g 0 0", mos("m1", "d", "g", "s", "s", pdk.pmos, w, l))
    return Netlist(
        block=f"idvg_{kind}", title=f"{kind}mos Id-Vgs {pdk.name}",
        params=(("pdk", pdk.name), ("kind", kind), ("w", w), ("l", l), ("vdd", vdd), ("temp", temp)),
        body=body, card=pdk.path, card_sha256=pdk.sha256,
        analysis=f".dc vg 0 {num(vdd)} {num(step)}",
        save=("v(g)", "i(vd)"),
        temp=temp, devices=(Device("m1", kind, w, l),),
    )
