"""Time-domain floating-point MAC (in progress): the digitally controlled delay line (DCDL) that adds
exponents as delays, a two-input arbiter (time comparator) and the latest-of-L detector that finds the
shared scale (the largest exponent sum arrives last). and a delay-line TDC. Not yet: alignment, charge accumulation, the FP8 read-out.

Delay line (one exponent operand of ``bits`` bits), stages b = 0 .. bits-1 in series::

    in ─┬─[2^b unit cells]──┐
        │                   ├─ mux (transmission gates, sel_b / selb_b) ─[buffer]─ next stage
        └───────────────────┘  (bypass)

- **Unit cell**: two current-starved inverters in series (polarity kept): PMOS starve device (gate
  ``vbp``) in series with the PMOS switch, NMOS switch in series with the NMOS starve device (gate
  ``vbn``); 4 transistors per inverter, 8 per cell. The bias voltages set the unit delay tau_0 (a
  bias generator is not modelled: ``vbn`` / ``vbp`` are ideal DC sources, a parameter).
- **Stage b**: 2^b unit cells on the delayed path, a wire on the bypass; a 2:1 mux of two transmission
  gates picks the delayed path when exponent bit b is 1; a restoring buffer (two static inverters)
  follows every mux. The mux and buffer are on both paths, so the *difference* between codes is only
  the cells: delay(code) = D_0 + code x tau_0 (+ the non-linearity the characterization measures).
- **Exponent addition**: ``lines`` = 2 puts two delay lines in series (operand a's bits select line 0,
  operand b's bits line 1): delay = D_0' + (a + b) tau_0.
- Select lines are driven by ideal sources (the exponent register is digital; its energy is not counted).

Device names are flat (``mpsw_l0_s2_c3_i1`` = PMOS switch of inverter 1 of cell 3 of stage 2 of line
0) so Monte Carlo can alter each one.

Testbench (:func:`delay_netlist`): one rising and one falling input edge per cycle; the codes of every
line are set in the middle of the low phase before the cycle's rising edge (so both edges of a cycle
see the same code); the input edge is a raised-cosine ramp of ``t_edge``. The delay of an edge is
measured 50 % to 50 % (see :mod:`charz.blocks.td_mac.recipe`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import numbers
from typing import Sequence

import numpy as np

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.pdk import PDK
from ...core.params import Int, Params, PowerOfTwo, Real, param, positive
from ...core.validate import finite, round12 as _r12
from ..comparator.netlist import _pwl
from ...netlist.spice import PDK_NAME, TEMP, VDD, Device, Netlist, edge_points, ident, mos, num, pdk_of

BLOCK = "td_delay"
CYCLES_MAX = 256
EDGE_SEGMENTS = 4


def _vdd(p: PDK, vdd) -> float:
    """VDD (None = the PDK's nominal; checked against the card's limits) as a float."""
    return float(p.vdd_nom if vdd is None else p.check_vdd(vdd))


_RAIL = Real(unit="V")
_W = positive(10e-6, "m")


@dataclasses.dataclass(frozen=True)
class DelayLineParams(Params):
    """Parameters of a delay-line testbench. ``None`` fields resolve to per-PDK defaults."""

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    bits: int = param(4, Int(1, 5), "exponent bits per line: stages with 1, 2, 4, ... unit cells")
    lines: int = param(1, Int(1, 4), "delay lines in series (2 = exponent addition of two operands)")
    vdd: float | None = param(None, VDD, "supply; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    vbn: float | None = param(None, _RAIL, "NMOS starve bias, inside the rails; None = 0.85 x VDD")
    vbp: float | None = param(None, _RAIL, "PMOS starve bias, inside the rails; None = 0.15 x VDD (|Vgs| = 0.85 VDD)")
    w_n: float | None = param(None, _W, "width of the unit cell's NMOS (switch and starve), at least Lmin / 2; None = 2 Lmin")
    w_p: float | None = param(None, _W, "width of the unit cell's PMOS (switch and starve), at least Lmin / 2; None = 4 Lmin")
    l_starve: float | None = param(None, _W, "length of the starve devices, at least Lmin / 2; None = 2 Lmin")
    w_tg: float | None = param(None, _W, "mux transmission-gate width (both devices), at least Lmin / 2; None = 4 Lmin")
    c_load: float | None = param(None, Real(0.0, 1e-12, unit="F"), "load on the line's output; None = 0.5 fF x Lmin / 16 nm")
    t_edge: float = param(20e-12, positive(1e-9, "s"), "input and select edges")
    t_high: float | None = param(None, positive(1e-6, "s"), "input high time per cycle; None = default_t_high")
    t_step: float = param(1e-12, positive(1e-10, "s"), "maximum time step (1 ps resolves delays to well under a unit delay)")
    """Maximum time step (s); 1 ps resolves delays to well under a unit delay (at 2 ps a 3-bit deck hit
    ngspice's "timestep too small" at a select edge)."""

    def check(self):
        """Per-PDK defaults; VDD against the card; biases inside the rails; sizes >= Lmin / 2; t_step <= t_edge."""
        p = pdk_of(self)
        L = p.lmin
        vdd = _vdd(p, self.vdd)
        vbn = _r12(0.85 * vdd) if self.vbn is None else self.vbn
        vbp = _r12(0.15 * vdd) if self.vbp is None else self.vbp
        for v, what in ((vbn, "vbn"), (vbp, "vbp")):
            if not 0.0 <= v <= vdd:
                raise ParameterError(f"{what} = {v:g} V is outside the rails [0, {vdd:g}] V")
        size = {}
        for name, default in (("w_n", 2 * L), ("w_p", 4 * L), ("l_starve", 2 * L), ("w_tg", 4 * L)):
            v = _r12(default) if getattr(self, name) is None else getattr(self, name)
            if v < 0.5 * L:
                raise ParameterError(f"{name} = {v:g} m is below half the node's Lmin ({L:g} m): sizes are in metres")
            size[name] = v
        c_load = _r12(0.5e-15 * L / 16e-9) if self.c_load is None else self.c_load
        if self.t_step > self.t_edge:
            raise ParameterError(
                f"t_step = {self.t_step:g} s is longer than the edge ({self.t_edge:g} s): give a smaller step")
        self._set(vdd=vdd, vbn=vbn, vbp=vbp, c_load=c_load, **size)

    @property
    def max_code(self) -> int:
        """Largest code of one line: 2^bits - 1."""
        return (1 << self.bits) - 1


def _inv(name: str, a: str, y: str, p: PDK, prm: DelayLineParams, starved: bool, bias: str = "") -> tuple[list[str], list[Device]]:
    L = p.lmin
    if starved:
        sp, sn = f"sp_{name}", f"sn_{name}"
        t = [(f"mpst_{name}", sp, f"vbp{bias}", "vdd", "vdd", p.pmos, prm.w_p, prm.l_starve, "p"),
             (f"mpsw_{name}", y, a, sp, "vdd", p.pmos, prm.w_p, L, "p"),
             (f"mnsw_{name}", y, a, sn, "0", p.nmos, prm.w_n, L, "n"),
             (f"mnst_{name}", sn, f"vbn{bias}", "0", "0", p.nmos, prm.w_n, prm.l_starve, "n")]
    else:
        t = [(f"mpb_{name}", y, a, "vdd", "vdd", p.pmos, prm.w_p, L, "p"),
             (f"mnb_{name}", y, a, "0", "0", p.nmos, prm.w_n, L, "n")]
    lines, devs = [], []
    for n, d, g, s, b, model, w, l, kind in t:
        lines.append(mos(n, d, g, s, b, model, w, l))
        devs.append(Device(n, kind, w, l))
    return lines, devs


def _circuit(prm: DelayLineParams, p: PDK, prefix: str = "", inp: str = "in", outp: str = "out") -> tuple[list[str], list[Device]]:
    """The delay line from node *inp* to *outp*; every device and internal node name starts with *prefix*
    (``""`` for the line's own testbench), select nodes are ``sel_<prefix>l<line>_s<stage>`` / ``selb_...``."""
    lines: list[str] = []
    devs: list[Device] = []
    node = inp
    for ln in range(prm.lines):
        for b in range(prm.bits):
            tag = f"{prefix}l{ln}_s{b}"
            x = node
            for c in range(1 << b):
                mid, out = f"m_{tag}_c{c}", f"d_{tag}_c{c}"
                for i, (a, y) in enumerate(((x, mid), (mid, out))):
                    cl, cd = _inv(f"{tag}_c{c}_i{i}", a, y, p, prm, starved=True)
                    lines += cl
                    devs += cd
                x = out
            # the same static buffer ends both paths, so the cells see the same load as inside the chain
            # and the two paths differ only by the cells
            ends = []
            for path, a in (("d", x), ("p", node)):
                m1, o1 = f"e{path}m_{tag}", f"e{path}_{tag}"
                for i, (ai, yi) in enumerate(((a, m1), (m1, o1))):
                    cl, cd = _inv(f"{tag}_e{path}{i}", ai, yi, p, prm, starved=False)
                    lines += cl
                    devs += cd
                ends.append(o1)
            mux = f"x_{tag}"
            sel, selb = f"sel_{tag}", f"selb_{tag}"
            for nm, a, gn, gp in ((f"tgd_{tag}", ends[0], sel, selb), (f"tgb_{tag}", ends[1], selb, sel)):
                lines.append(mos(f"mn{nm}", a, gn, mux, "0", p.nmos, prm.w_tg, p.lmin))
                lines.append(mos(f"mp{nm}", a, gp, mux, "vdd", p.pmos, prm.w_tg, p.lmin))
                devs += [Device(f"mn{nm}", "n", prm.w_tg, p.lmin), Device(f"mp{nm}", "p", prm.w_tg, p.lmin)]
            mid, out = f"bm_{tag}", (outp if (ln == prm.lines - 1 and b == prm.bits - 1) else f"b_{tag}")
            for i, (a, y) in enumerate(((mux, mid), (mid, out))):
                cl, cd = _inv(f"{tag}_b{i}", a, y, p, prm, starved=False)
                lines += cl
                devs += cd
            node = out
    return lines, devs


def delay_devices(prm: DelayLineParams, pdk: PDK | None = None) -> tuple[Device, ...]:
    """The MOSFETs of the delay line described by *prm* (the Monte Carlo devices of its decks)."""
    return tuple(_circuit(prm, pdk or pdkmod.describe(prm.pdk))[1])


def check_codes(prm: DelayLineParams, codes) -> np.ndarray:
    """Codes as an int array (cycles, lines), each 0 .. 2^bits - 1."""
    a = np.asarray(codes)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] != prm.lines or a.shape[0] < 1:
        raise ParameterError(f"codes must be (cycles, {prm.lines}) integers, got shape {np.shape(codes)}")
    if not np.all((a == np.round(a)) & (a >= 0) & (a <= prm.max_code)):
        raise ParameterError(f"codes must be integers 0..{prm.max_code} ({prm.bits} bits)")
    if a.shape[0] > CYCLES_MAX:
        raise ParameterError(f"{a.shape[0]} cycles in one deck: at most {CYCLES_MAX}; split them")
    return a.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class Timeline:
    """Instants of an n-cycle delay-line deck (s): the cycle period, each cycle's input rising and falling
    edge starts, when each cycle's codes are applied, and the end of the deck."""

    period: float
    rise: tuple[float, ...]
    """Start of each cycle's rising input edge."""
    fall: tuple[float, ...]
    change: tuple[float, ...]
    """When each cycle's codes are applied (middle of the low phase before the rising edge)."""
    end: float


def default_t_high(prm: DelayLineParams, p: PDK) -> float:
    """2.5 x a pessimistic estimate of the longest delay (40 ps x Lmin / 16 nm per cell or buffer on the
    longest path), at least 1 ns, rounded to 10 ps: every nominal output edge lands inside its own half
    period at 0.6-0.9 V on ptm16hp. At 0.6 V the slowest Monte Carlo instances' highest codes do not (their
    delays are NaN in the LUT; give ``t_high`` for such runs): the window does not scale with VDD so that
    the shipped ``td_delay4`` stays reproducible (its 0.6 V decks would take about 4x longer)."""
    cells = prm.lines * ((1 << prm.bits) - 1 + 3 * prm.bits)
    return max(1e-9, _r12(round(2.5 * cells * 40e-12 * p.lmin / 16e-9 / 1e-11) * 1e-11))


def timeline(prm: DelayLineParams, n: int, p: PDK | None = None) -> Timeline:
    """The instants of an *n*-cycle deck of *prm* (s): period = 2 ``t_high`` (default :func:`default_t_high`);
    cycle c's input rises at t_high / 2 + c x period and falls t_high later; its codes change t_high / 4
    before the rise (times rounded to 12 digits)."""
    th = prm.t_high if prm.t_high is not None else default_t_high(prm, p or pdkmod.describe(prm.pdk))
    period = _r12(2 * th)
    rise = tuple(_r12(th / 2 + c * period) for c in range(n))
    fall = tuple(_r12(r + th) for r in rise)
    change = tuple(_r12(r - th / 4) for r in rise)
    return Timeline(period, rise, fall, change, _r12(n * period + th / 2))


def select_sources(tag: str, codes: np.ndarray, bits: int, tl: Timeline, vdd: float, t_edge: float) -> list[str]:
    """The ideal sources of one line's select nodes ``sel_<tag>_s<b>`` / ``selb_<tag>_s<b>``: cycle k's code
    ``codes[k]``, changed at ``tl.change[k]`` (a DC source when a bit never changes)."""
    body: list[str] = []
    n = len(codes)
    for b in range(bits):
        bit = (np.asarray(codes) >> b) & 1
        for src, node, inv in ((f"vsel_{tag}_s{b}", f"sel_{tag}_s{b}", False),
                               (f"vselb_{tag}_s{b}", f"selb_{tag}_s{b}", True)):
            lvl = [vdd * (1 - x) if inv else vdd * x for x in bit]
            w = [(0.0, lvl[0])]
            for k in range(1, n):
                if lvl[k] != lvl[k - 1]:
                    w += edge_points(tl.change[k], t_edge, lvl[k - 1], lvl[k], EDGE_SEGMENTS)
            if len(w) == 1:
                body.append(f"{ident(src)} {ident(node)} 0 {num(lvl[0])}")
            else:
                body += _pwl(src, node, w)
    return body


def delay_netlist(prm: DelayLineParams, codes, pdk: PDK | None = None) -> Netlist:
    """One rising and one falling input edge per cycle; cycle k uses ``codes[k]`` (one code per line)."""
    if not isinstance(prm, DelayLineParams):
        raise ParameterError(f"params must be DelayLineParams, got {type(prm).__name__}")
    p = pdk if pdk is not None else pdkmod.get(prm.pdk)
    if p.name != prm.pdk or p.path is None:
        raise ParameterError(f"pdk {p.name!r} (card path {p.path}) does not match params.pdk {prm.pdk!r}")
    codes = check_codes(prm, codes)
    n = codes.shape[0]
    tl = timeline(prm, n, p)
    vdd, e = prm.vdd, prm.t_edge
    body = [f"* delay line: {prm.lines} x {prm.bits}-bit stages, {n} cycles", f"vdd vdd 0 {num(vdd)}",
            f"vbn vbn 0 {num(prm.vbn)}", f"vbp vbp 0 {num(prm.vbp)}"]
    pts = [(0.0, 0.0)]
    for r, f in zip(tl.rise, tl.fall):
        pts += edge_points(r, e, 0.0, vdd, EDGE_SEGMENTS) + edge_points(f, e, vdd, 0.0, EDGE_SEGMENTS)
    body += _pwl("vin", "in", pts)
    for ln in range(prm.lines):
        body += select_sources(f"l{ln}", codes[:, ln], prm.bits, tl, vdd, e)
    cl, devs = _circuit(prm, p)
    body += cl
    if prm.c_load > 0:
        body.append(f"cload out 0 {num(prm.c_load)}")
    code_id = "-".join(".".join(str(int(v)) for v in row) for row in codes)
    return Netlist(
        block=BLOCK,
        title=f"charz {BLOCK} {ident(prm.pdk)} {prm.lines}x{prm.bits}b {n} cycles",
        params=prm.pairs() + (("cycles", n), ("codes", code_id if len(code_id) <= 80 else f"{n} codes")),
        body=tuple(body),
        card=p.path,
        card_sha256=p.sha256,
        analysis=f".tran {num(prm.t_step)} {num(tl.end)}",
        save=("time", "v(in)", "v(out)", "i(vdd)"),
        temp=prm.temp,
        devices=tuple(devs),
    )


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden decks: a 2-bit line over codes 0..3, the arbiter over three time differences, a latest-of-4
    detector over one cycle, a 4-tap TDC over two conversions, a two-element accumulation line over two
    cycles and the time path of a two-element scalar product (2-bit lines, 3-tap TDCs) over one cycle."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    prm = DelayLineParams(pdk=p.name, bits=2)
    tc = TimeCmpParams(pdk=p.name, n_inputs=4, t_cycle=0.5e-9)
    return {f"td_delay2_{p.name}.cir": delay_netlist(prm, [0, 1, 2, 3], p).golden(),
            f"td_arbiter_{p.name}.cir": arbiter_netlist(tc, [-10e-12, 2e-12, 30e-12], p).golden(),
            f"td_latest4_{p.name}.cir": latest_netlist(tc, [[0.1e-9, 0.12e-9, 0.15e-9, 0.11e-9]], p).golden(),
            f"td_tdc4_{p.name}.cir": tdc_netlist(prm, 4, [30e-12, 90e-12], p).golden(),
            f"td_acc2_{p.name}.cir": acc_netlist(AccParams(pdk=p.name, length=2, bits=3), [[3, -1], [-7, 7]], p).golden(),
            f"td_mac_time2_{p.name}.cir": mac_time_netlist(MacTimeParams(pdk=p.name, length=2, ebits=2, window=3,
                                                                         t_high=0.6e-9), [[3, 1]], [[2, 0]], p).golden()}


# ---- time comparison: a two-input arbiter and the latest-of-L detector ---------------------------------
@dataclasses.dataclass(frozen=True)
class TimeCmpParams(Params):
    """Arbiter and latest-arrival detector testbenches (static CMOS, minimum-ish sizes)."""

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    vdd: float | None = param(None, VDD, "supply; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    w_n: float | None = param(None, _W, "NMOS width of every gate (series stacks double it); None = 2 Lmin")
    w_p: float | None = param(None, _W, "PMOS width; None = 4 Lmin")
    n_inputs: int = param(16, PowerOfTwo(2, 64), "inputs of the latest-arrival detector (the L products of a vector)")
    t_edge: float = param(20e-12, positive(1e-9, "s"), "input edges")
    t_cycle: float = param(1e-9, positive(1e-6, "s"), "one decision per cycle: inputs rise in the first half, fall in the second")
    t_step: float = param(0.5e-12, positive(1e-10, "s"), "maximum time step")

    def check(self):
        """Per-PDK defaults; VDD against the card; t_step <= t_edge and t_cycle >= 8 t_edge."""
        p = pdk_of(self)
        L = p.lmin
        vdd = _vdd(p, self.vdd)
        w_n = _r12(2 * L) if self.w_n is None else self.w_n
        w_p = _r12(4 * L) if self.w_p is None else self.w_p
        if self.t_step > self.t_edge or 8 * self.t_edge > self.t_cycle:
            raise ParameterError("give t_step <= t_edge and t_cycle >= 8 t_edge")
        self._set(vdd=vdd, w_n=w_n, w_p=w_p)


def _gate(kind: str, name: str, ins: Sequence[str], y: str, p: PDK, prm: TimeCmpParams) -> tuple[list[str], list[Device]]:
    """Static CMOS NAND / NOR (2 inputs) or inverter; flat device names ``m<n|p><name>_<k>``."""
    L = p.lmin
    t = []
    if kind == "inv":
        t = [(f"mp{name}", y, ins[0], "vdd", "vdd", p.pmos, prm.w_p, "p"), (f"mn{name}", y, ins[0], "0", "0", p.nmos, prm.w_n, "n")]
    elif kind == "nand":
        a, b = ins
        t = [(f"mp{name}_a", y, a, "vdd", "vdd", p.pmos, prm.w_p, "p"), (f"mp{name}_b", y, b, "vdd", "vdd", p.pmos, prm.w_p, "p"),
             (f"mn{name}_a", y, a, f"s{name}", "0", p.nmos, 2 * prm.w_n, "n"),
             (f"mn{name}_b", f"s{name}", b, "0", "0", p.nmos, 2 * prm.w_n, "n")]
    elif kind == "nor":
        a, b = ins
        t = [(f"mp{name}_a", f"s{name}", a, "vdd", "vdd", p.pmos, 2 * prm.w_p, "p"),
             (f"mp{name}_b", y, b, f"s{name}", "vdd", p.pmos, 2 * prm.w_p, "p"),
             (f"mn{name}_a", y, a, "0", "0", p.nmos, prm.w_n, "n"), (f"mn{name}_b", y, b, "0", "0", p.nmos, prm.w_n, "n")]
    lines, devs = [], []
    for n_, d, g, s_, b_, model, w, k in t:
        lines.append(mos(n_, d, g, s_, b_, model, _r12(w), L))
        devs.append(Device(n_, k, _r12(w), L))
    return lines, devs


def _edges(times: Sequence[float], prm: TimeCmpParams) -> list[tuple[float, float]]:
    """A rising edge (50 % point at each time) and a falling edge half a cycle later, per cycle."""
    e, v = prm.t_edge, prm.vdd
    pts = [(0.0, 0.0)]
    for c, t in enumerate(times):
        pts += edge_points(t - e / 2, e, 0.0, v, EDGE_SEGMENTS)
        pts += edge_points(c * prm.t_cycle + 0.75 * prm.t_cycle, e, v, 0.0, EDGE_SEGMENTS)
    return pts


def _deck(prm: TimeCmpParams, p: PDK, kind: str, body: list[str], devs: list[Device], n: int, save, extra) -> Netlist:
    return Netlist(block="td_timecmp", title=f"charz td_timecmp {kind} {ident(prm.pdk)} {n} cycles",
                   params=prm.pairs() + (("testbench", kind), ("cycles", n)) + tuple(extra), body=tuple(body),
                   card=p.path, card_sha256=p.sha256, analysis=f".tran {num(prm.t_step)} {num(n * prm.t_cycle)}",
                   save=save, temp=prm.temp, devices=tuple(devs))


def arbiter_netlist(prm: TimeCmpParams, dts: Sequence[float], pdk: PDK | None = None) -> Netlist:
    """A NAND mutex (q_a = NAND(a, q_b), q_b = NAND(b, q_a)) with output inverters (g_a = NOT q_a):
    cycle k: input a rises at 0.25 t_cycle, b at 0.25 t_cycle + dts[k] (b later when dt > 0); the winner's
    g output rises. Saves a, b, g_a, g_b."""
    p = pdk if pdk is not None else pdkmod.get(prm.pdk)
    dts = [finite(x, "dt (s)") for x in dts]
    if not dts or len(dts) > CYCLES_MAX or max(abs(x) for x in dts) > 0.2 * prm.t_cycle:
        raise ParameterError(f"give 1..{CYCLES_MAX} time differences within +-0.2 t_cycle ({0.2 * prm.t_cycle:g} s)")
    ta = [c * prm.t_cycle + 0.25 * prm.t_cycle for c in range(len(dts))]
    tb = [t + d for t, d in zip(ta, dts)]
    body = [f"* NAND mutex arbiter, {len(dts)} decisions", f"vdd vdd 0 {num(prm.vdd)}"]
    body += _pwl("va", "a", [(t, round(v, 12)) for t, v in _edges(ta, prm)])
    body += _pwl("vb", "b", [(t, round(v, 12)) for t, v in _edges(tb, prm)])
    devs: list[Device] = []
    for kind, name, ins, y in (("nand", "qa", ("a", "qb"), "qa"), ("nand", "qb", ("b", "qa"), "qb"),
                               ("inv", "ga", ("qa",), "ga"), ("inv", "gb", ("qb",), "gb")):
        cl, cd = _gate(kind, name, ins, y, p, prm)
        body += cl
        devs += cd
    body.append(f".ic v(qa)={num(prm.vdd)} v(qb)={num(prm.vdd)}")
    dt_id = ",".join(f"{x * 1e12:.4g}" for x in dts)
    return _deck(prm, p, "arbiter", body, devs, len(dts), ("time", "v(a)", "v(b)", "v(ga)", "v(gb)", "i(vdd)"),
                 [("dt_ps", dt_id if len(dt_id) <= 80 else f"{len(dts)} values")])


def latest_netlist(prm: TimeCmpParams, arrivals, pdk: PDK | None = None) -> Netlist:
    """Latest-arrival detector of ``n_inputs`` edges: a balanced tree of NAND2 / NOR2 levels (an AND of all
    inputs) whose output rises when the last input has risen. ``arrivals``: (cycles, n_inputs) rise times
    of the 50 % points relative to the cycle start (0.1..0.4 t_cycle). Saves every input and the output."""
    p = pdk if pdk is not None else pdkmod.get(prm.pdk)
    a = np.asarray(arrivals, dtype=float)
    n = prm.n_inputs
    if a.ndim != 2 or a.shape[1] != n or not 1 <= a.shape[0] <= CYCLES_MAX:
        raise ParameterError(f"arrivals must be (cycles, {n}) times in s, 1..{CYCLES_MAX} cycles")
    if not np.all(np.isfinite(a)) or a.min() < 0.1 * prm.t_cycle or a.max() > 0.4 * prm.t_cycle:
        raise ParameterError(f"arrival times must lie within 0.1..0.4 t_cycle ({0.1 * prm.t_cycle:g}..{0.4 * prm.t_cycle:g} s)")
    body = [f"* latest-of-{n} detector, {a.shape[0]} cycles", f"vdd vdd 0 {num(prm.vdd)}"]
    for i in range(n):
        times = [c * prm.t_cycle + a[c, i] for c in range(a.shape[0])]
        body += _pwl(f"vin_{i}", f"in_{i}", [(t, round(v, 12)) for t, v in _edges(times, prm)])
    cl, devs = latest_tree("", [f"in_{i}" for i in range(n)], "out", prm, p)
    body += cl
    return _deck(prm, p, "latest", body, devs, a.shape[0], ("time", *(f"v(in_{i})" for i in range(n)), "v(out)", "i(vdd)"),
                 [("arrivals", hashlib.sha256(a.tobytes()).hexdigest()[:16])])


# ---- time-to-digital converter -------------------------------------------------------------------------
def _tg(name: str, a: str, b: str, gn: str, gp: str, w: float, p: PDK) -> tuple[list[str], list[Device]]:
    lines = [mos(f"mn{name}", a, gn, b, "0", p.nmos, w, p.lmin), mos(f"mp{name}", a, gp, b, "vdd", p.pmos, w, p.lmin)]
    return lines, [Device(f"mn{name}", "n", w, p.lmin), Device(f"mp{name}", "p", w, p.lmin)]


def dff(name: str, d: str, q: str, prm: "DelayLineParams", p: PDK, clk: str = "clk", clkb: str = "clkb") -> tuple[list[str], list[Device]]:
    """Positive-edge master-slave D flip-flop of transmission gates and static inverters on the clocks
    *clk* / *clkb* (16 transistors; names ``m..._<name>``)."""
    x, xb, y = f"fx_{name}", f"fxb_{name}", f"fy_{name}"
    parts = [
        _tg(f"tm_{name}", d, x, clkb, clk, prm.w_tg, p),            # master: transparent while clk low
        _inv(f"f1_{name}", x, xb, p, prm, starved=False),
        _inv(f"f2_{name}", xb, f"fxf_{name}", p, prm, starved=False),
        _tg(f"tmf_{name}", f"fxf_{name}", x, clk, clkb, prm.w_tg, p),  # master holds while clk high
        _tg(f"ts_{name}", xb, y, clk, clkb, prm.w_tg, p),            # slave: transparent while clk high
        _inv(f"f3_{name}", y, q, p, prm, starved=False),
        _inv(f"f4_{name}", q, f"fyf_{name}", p, prm, starved=False),
        _tg(f"tsf_{name}", f"fyf_{name}", y, clkb, clk, prm.w_tg, p),  # slave holds while clk low
    ]
    lines, devs = [], []
    for cl, cd in parts:
        lines += cl
        devs += cd
    return lines, devs


def tdc_netlist(prm: DelayLineParams, taps: int, dts: Sequence[float], pdk: PDK | None = None) -> Netlist:
    """Delay-line TDC: the START edge runs down ``taps`` unit cells (the delay line's current-starved cells,
    so one code = one exponent unit tau), the STOP edge clocks one flip-flop per tap; the thermometer code
    (taps the START edge passed) measures the time difference in units of tau. Cycle k: START rises at a
    fixed time, STOP ``dts[k]`` later; both fall half a cycle later (the flip-flops keep their code until the
    next STOP). Saves start, clk and every q_i."""
    p = pdk if pdk is not None else pdkmod.get(prm.pdk)
    if isinstance(taps, bool) or not isinstance(taps, numbers.Integral) or not 2 <= taps <= 64:
        raise ParameterError(f"taps = {taps!r}: give an integer 2..64")
    dts = [finite(x, "dt (s)") for x in dts]
    t_high = prm.t_high if prm.t_high is not None else max(1e-9, _r12(round(2.5 * taps * 40e-12 * p.lmin / 16e-9 / 1e-11) * 1e-11))
    if not dts or len(dts) > CYCLES_MAX or min(dts) < 0 or max(dts) > 0.8 * t_high:
        raise ParameterError(f"give 1..{CYCLES_MAX} time differences 0..{0.8 * t_high:g} s (0.8 x the high time)")
    period, e, vdd = 2 * t_high, prm.t_edge, prm.vdd
    t0 = [t_high / 4 + c * period for c in range(len(dts))]
    start = [(0.0, 0.0)]
    clk = [(0.0, 0.0)]
    for c, (ts, dt) in enumerate(zip(t0, dts)):
        start += edge_points(ts - e / 2, e, 0.0, vdd, EDGE_SEGMENTS) + edge_points(ts + t_high, e, vdd, 0.0, EDGE_SEGMENTS)
        clk += edge_points(ts + dt - e / 2, e, 0.0, vdd, EDGE_SEGMENTS) + edge_points(ts + t_high + dt, e, vdd, 0.0, EDGE_SEGMENTS)
    body = [f"* delay-line TDC, {taps} taps, {len(dts)} conversions", f"vdd vdd 0 {num(vdd)}",
            f"vbn vbn 0 {num(prm.vbn)}", f"vbp vbp 0 {num(prm.vbp)}"]
    body += _pwl("vstart", "start", [(t, round(v, 12)) for t, v in start])
    body += _pwl("vclk", "clk", [(t, round(v, 12)) for t, v in clk])
    body += _pwl("vclkb", "clkb", [(t, round(vdd - v, 12)) for t, v in clk])
    cl, devs, _ = tdc_chain("", "start", taps, prm, p)
    body += cl
    dt_id = ",".join(f"{v * 1e12:.4g}" for v in dts)
    return Netlist(block="td_tdc", title=f"charz td_tdc {ident(prm.pdk)} {taps} taps {len(dts)} conversions",
                   params=prm.pairs() + (("taps", taps), ("cycles", len(dts)),
                                         ("dt_ps", dt_id if len(dt_id) <= 80 else f"{len(dts)} values")),
                   body=tuple(body), card=p.path, card_sha256=p.sha256,
                   analysis=f".tran {num(prm.t_step)} {num(len(dts) * period)}",
                   save=("time", "v(start)", "v(clk)", *(f"v(q_{i})" for i in range(taps)),
                         *(f"v(td_{i})" for i in range(taps)), "i(vdd)", "i(vclk)", "i(vclkb)"),
                   temp=prm.temp, devices=tuple(devs))


def tdc_chain_netlist(prm: DelayLineParams, taps: int, pdk: PDK | None = None) -> Netlist:
    """One START edge down a TDC chain (flip-flops clocked low: they only load the taps): the tap delays
    at the flip-flop inputs, for the bias calibration. Saves start and every buffered tap."""
    p = pdk if pdk is not None else pdkmod.get(prm.pdk)
    if isinstance(taps, bool) or not isinstance(taps, numbers.Integral) or not 2 <= taps <= 64:
        raise ParameterError(f"taps = {taps!r}: give an integer 2..64")
    t_end = _r12(0.1e-9 + 2.5 * (taps + 2) * 40e-12 * p.lmin / 16e-9 * (1.0 if prm.vdd >= 0.7 else 3.0))
    body = [f"* TDC chain, {taps} taps, one edge", f"vdd vdd 0 {num(prm.vdd)}", f"vbn vbn 0 {num(prm.vbn)}",
            f"vbp vbp 0 {num(prm.vbp)}", "vclk clk 0 0", f"vclkb clkb 0 {num(prm.vdd)}"]
    body += _pwl("vstart", "start", [(0.0, 0.0)] + edge_points(50e-12, prm.t_edge, 0.0, prm.vdd, EDGE_SEGMENTS))
    cl, devs, _ = tdc_chain("", "start", taps, prm, p)
    body += cl
    return Netlist(block="td_tdc_chain", title=f"charz td_tdc_chain {ident(prm.pdk)} {taps} taps",
                   params=prm.pairs() + (("taps", taps),), body=tuple(body), card=p.path, card_sha256=p.sha256,
                   analysis=f".tran {num(prm.t_step)} {num(t_end)}",
                   save=("time", "v(start)", *(f"v(td_{i})" for i in range(taps))), temp=prm.temp, devices=tuple(devs))


def tdc_chain(prefix: str, start: str, taps: int, prm: DelayLineParams, p: PDK, clk: str = "clk",
              clkb: str = "clkb", cell: DelayLineParams | None = None, bias: str = "") -> tuple[list[str], list[Device], list[str]]:
    """The TDC's delay chain from *start*: ``taps`` unit cells (current-starved cells sized and biased by
    *cell*, default *prm*: the delay line's), each tap buffered (two static inverters of *prm*'s sizes, so
    the flip-flop does not load the chain) into a flip-flop clocked by *clk*. Returns (lines, devices, the
    q nodes ``<prefix>q_<i>``)."""
    cell = prm if cell is None else cell
    body: list[str] = []
    devs: list[Device] = []
    qs = []
    x = start
    for i in range(taps):
        mid, out = f"{prefix}tm_{i}", f"{prefix}tap_{i}"
        for j, (a, y) in enumerate(((x, mid), (mid, out))):
            cl, cd = _inv(f"{prefix}t{i}_i{j}", a, y, p, cell, starved=True, bias=bias)
            body += cl
            devs += cd
        tb, td = f"{prefix}tb_{i}", f"{prefix}td_{i}"
        for j, (a, y) in enumerate(((out, tb), (tb, td))):
            cl, cd = _inv(f"{prefix}t{i}_b{j}", a, y, p, prm, starved=False)
            body += cl
            devs += cd
        q = f"{prefix}q_{i}"
        cl, cd = dff(f"{prefix}{i}", td, q, prm, p, clk, clkb)
        body += cl
        devs += cd
        qs.append(q)
        x = out
    return body, devs, qs


def tdc_period(prm: DelayLineParams, taps: int, p: PDK | None = None) -> float:
    """Cycle period (s) of a TDC chain deck of *taps* taps: 2 ``t_high``, where ``t_high`` is *prm*'s, else
    2.5 x taps x 40 ps x Lmin / 16 nm rounded to 10 ps and at least 1 ns."""
    p = p or pdkmod.describe(prm.pdk)
    t_high = prm.t_high if prm.t_high is not None else max(1e-9, _r12(round(2.5 * taps * 40e-12 * p.lmin / 16e-9 / 1e-11) * 1e-11))
    return 2 * t_high


# ---- the complete time path of one scalar product --------------------------------------------------------
def latest_tree(prefix: str, inputs: Sequence[str], out: str, prm, p: PDK) -> tuple[list[str], list[Device]]:
    """Latest-arrival detector: a balanced tree of NAND2 / NOR2 levels (an AND of all inputs, then one or two
    inverters) whose output *out* rises when the last input has risen. ``len(inputs)`` is a power of two;
    *prm* gives the gate sizes (``w_n``, ``w_p``)."""
    body: list[str] = []
    devs: list[Device] = []
    level, nodes, lvl = "nand", list(inputs), 0
    while len(nodes) > 1:
        nxt = []
        for k in range(0, len(nodes), 2):
            y = f"{prefix}t{lvl}_{k // 2}"
            cl, cd = _gate(level, f"{prefix}g{lvl}_{k // 2}", (nodes[k], nodes[k + 1]), y, p, prm)
            body += cl
            devs += cd
            nxt.append(y)
        nodes, level, lvl = nxt, ("nor" if level == "nand" else "nand"), lvl + 1
    last = nodes[0]
    if level == "nor":  # the last level was a NAND: low when all inputs are high -> one inverter
        cl, cd = _gate("inv", f"{prefix}gout", (last,), out, p, prm)
    else:  # the last level was a NOR (or a single input): high when all are high -> two inverters
        cl, cd = _gate("inv", f"{prefix}gbuf", (last,), f"{prefix}outb", p, prm)
        body += cl
        devs += cd
        cl, cd = _gate("inv", f"{prefix}gout", (f"{prefix}outb",), out, p, prm)
    return body + cl, devs + cd


def _sized_inv(name: str, a: str, y: str, scale: float, p: PDK, prm) -> tuple[list[str], list[Device]]:
    wn, wp = _r12(prm.w_n * scale), _r12(prm.w_p * scale)
    return ([mos(f"mp{name}", y, a, "vdd", "vdd", p.pmos, wp, p.lmin), mos(f"mn{name}", y, a, "0", "0", p.nmos, wn, p.lmin)],
            [Device(f"mp{name}", "p", wp, p.lmin), Device(f"mn{name}", "n", wn, p.lmin)])


def clock_driver(a: str, load_gates: int, prm, p: PDK, fanout: float = 4.0) -> tuple[list[str], list[Device], int]:
    """The STOP clock: inverters tapered by *fanout* from node *a* to ``clk`` (same polarity as *a*), then
    ``clkb`` = one more inverter of the same size; sized for ``load_gates`` transmission-gate gates of
    ``w_tg`` on each of clk and clkb. Returns (lines, devices, number of stages to clk)."""
    unit = prm.w_n + prm.w_p
    load = max(1.0, load_gates * prm.w_tg / unit)  # the load in minimum-inverter inputs
    n = max(2, int(np.ceil(np.log(load) / np.log(fanout))))
    n += n % 2  # an even count keeps clk in phase with the detector output
    body: list[str] = []
    devs: list[Device] = []
    x = a
    for k in range(n):
        y = "clk" if k == n - 1 else f"ck_{k}"
        cl, cd = _sized_inv(f"ck{k}", x, y, fanout ** k if k < n - 1 else load / fanout, p, prm)
        body += cl
        devs += cd
        x = y
    cl, cd = _sized_inv("ckb", "clk", "clkb", load / fanout, p, prm)
    return body + cl, devs + cd, n


@dataclasses.dataclass(frozen=True)
class MacTimeParams(Params):
    """The time path of one L-element scalar product: per element two delay lines in series (the
    exponent fields of a_i and b_i), a latest-of-L detector whose output, buffered, is the STOP clock, and
    per element a ``window``-tap TDC started by the element's own edge (its exponent difference to the
    shared scale); a reference pair of lines at code 0 starts the shared-scale TDC (``scale_taps`` taps)
    that reads the largest exponent sum. ``start_cells`` unit cells between an edge and its TDC set the
    offset of the thresholds (see :mod:`charz.blocks.td_mac.recipe`)."""

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    ebits: int = param(4, Int(1, 5), "exponent bits (4 = E4M3, 5 = E5M2): each line has 2^ebits codes")
    length: int = param(16, PowerOfTwo(1, 64), "elements L of the scalar product (the detector is a binary tree)")
    window: int = param(8, Int(1, 32), "taps of each element's TDC")
    scale_taps: int | None = param(None, Int(1, 64), "taps of the shared-scale TDC; None = 2 (2^ebits - 1) (every exponent sum)")
    start_cells: int = param(1, Int(0, 8), "unit cells between an element's edge and its TDC (at the start_vbn bias)")
    """Unit cells between an element's edge and its TDC (at the ``start_vbn`` bias): they move the TDC
    thresholds so that, with the STOP path's delay, tap k flips about (k + 1/2) tau after the shared scale."""
    start_vbn: float | None = param(None, _RAIL, "NMOS starve bias of the start cells (PMOS: VDD - start_vbn), inside the rails; None = VDD")
    tdc_vbn: float | None = param(None, _RAIL, "NMOS starve bias of the TDC cells (PMOS: VDD - tdc_vbn), inside the rails; None = 0.96 VDD")
    """NMOS starve bias of the TDC cells (V); the PMOS bias is VDD - tdc_vbn. None = 0.96 VDD. The TDC's
    cells carry a tap buffer, so at the line's bias a tap is slower than the line's unit delay; a
    delay-locked loop (not simulated) would set this bias so that one tap = tau: the TDC recipe finds
    that bias by simulation (``vbn_t`` in its LUT)."""
    vdd: float | None = param(None, VDD, "supply; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    t_high: float | None = param(None, positive(1e-6, "s"), "high time of the launch edge; None = the delay line's default for two lines")
    t_step: float = param(1e-12, positive(1e-10, "s"), "maximum time step")

    def check(self):
        """scale_taps default; the delay line's rules (:meth:`line`: VDD, t_step); biases inside the rails."""
        ks = 2 * ((1 << self.ebits) - 1) if self.scale_taps is None else self.scale_taps
        if not 1 <= ks <= 64:
            raise ParameterError(f"scale_taps = {ks!r}: give an integer 1..64")
        self._set(scale_taps=int(ks))
        line = self.line()  # validates vdd, temp, t_high, t_step
        self._set(vdd=line.vdd, temp=line.temp)
        vt = _r12(0.96 * line.vdd) if self.tdc_vbn is None else self.tdc_vbn
        if not 0.0 <= vt <= line.vdd:
            raise ParameterError(f"tdc_vbn = {vt:g} V is outside the rails [0, {line.vdd:g}] V")
        vs = line.vdd if self.start_vbn is None else self.start_vbn
        if not 0.0 <= vs <= line.vdd:
            raise ParameterError(f"start_vbn = {vs:g} V is outside the rails [0, {line.vdd:g}] V")
        self._set(tdc_vbn=vt, start_vbn=vs)

    def line(self) -> DelayLineParams:
        """The delay-line parameters of one element: two lines of ``ebits`` bits in series (the exponent
        fields of a_i and b_i), at this scalar product's PDK, VDD, temperature, high time and step."""
        return DelayLineParams(pdk=self.pdk, bits=self.ebits, lines=2, vdd=self.vdd, temp=self.temp,
                               t_high=self.t_high, t_step=self.t_step)


def mac_time_circuit(prm: MacTimeParams, p: PDK) -> tuple[list[str], list[Device], int]:
    """Devices of the time path (launch node ``go``; element i's arrival ``arr_<i>``, TDC bits
    ``e<i>_q_<k>``; reference arrival ``arr_ref``, shared-scale bits ``s_q_<k>``; STOP ``clk``)."""
    lp = prm.line()
    body: list[str] = []
    devs: list[Device] = []

    def add(part):
        body.extend(part[0])
        devs.extend(part[1])

    for i in range(prm.length):
        add(_circuit(lp, p, prefix=f"e{i}", inp="go", outp=f"arr_{i}"))
    add(_circuit(lp, p, prefix="r", inp="go", outp="arr_ref"))
    add(latest_tree("lt", [f"arr_{i}" for i in range(prm.length)], "last", lp, p))  # one input: two inverters
    n_ff = prm.length * prm.window + prm.scale_taps
    cl, cd, n_clk = clock_driver("last", 4 * n_ff, lp, p)
    add((cl, cd))

    def start(src: str, tag: str) -> str:
        x = src
        for c in range(prm.start_cells):
            mid, out = f"{tag}sm_{c}", f"{tag}so_{c}"
            for j, (a, y) in enumerate(((x, mid), (mid, out))):
                add(_inv(f"{tag}s{c}_i{j}", a, y, p, lp, starved=True, bias="s"))
            x = out
        return x

    for i in range(prm.length):
        cl, cd, _ = tdc_chain(f"e{i}_", start(f"arr_{i}", f"e{i}_"), prm.window, lp, p, bias="t")
        add((cl, cd))
    cl, cd, _ = tdc_chain("s_", start("arr_ref", "s_"), prm.scale_taps, lp, p, bias="t")
    add((cl, cd))
    return body, devs, n_clk


def mac_time_timeline(prm: MacTimeParams, n: int, p: PDK | None = None) -> Timeline:
    """The instants of an *n*-cycle time-path deck of *prm*: :func:`timeline` of its element line pair
    (:meth:`MacTimeParams.line`)."""
    return timeline(prm.line(), n, p)


def mac_time_netlist(prm: MacTimeParams, ea, eb, pdk: PDK | None = None) -> Netlist:
    """One scalar product's time path per cycle: cycle k launches every element with exponent codes
    ``ea[k, i]`` (line A) and ``eb[k, i]`` (line B) (0 .. 2^ebits - 1). Saves go, the arrivals, clk, every
    TDC bit and i(vdd)."""
    if not isinstance(prm, MacTimeParams):
        raise ParameterError(f"params must be MacTimeParams, got {type(prm).__name__}")
    p = pdk if pdk is not None else pdkmod.get(prm.pdk)
    ea, eb = np.asarray(ea), np.asarray(eb)
    if ea.ndim == 1:
        ea, eb = ea[None], eb[None]
    top = (1 << prm.ebits) - 1
    if ea.shape != eb.shape or ea.ndim != 2 or ea.shape[1] != prm.length or not 1 <= ea.shape[0] <= CYCLES_MAX:
        raise ParameterError(f"exponent codes must be two (cycles, {prm.length}) integer arrays, 1..{CYCLES_MAX} cycles")
    for a in (ea, eb):
        if not np.all((a == np.round(a)) & (a >= 0) & (a <= top)):
            raise ParameterError(f"exponent codes must be integers 0..{top} ({prm.ebits} bits)")
    ea, eb = ea.astype(np.int64), eb.astype(np.int64)
    n = ea.shape[0]
    lp = prm.line()
    tl = timeline(lp, n, p)
    vdd, e = lp.vdd, lp.t_edge
    body = [f"* time path of a {prm.length}-element scalar product, {n} cycles", f"vdd vdd 0 {num(vdd)}",
            f"vbn vbn 0 {num(lp.vbn)}", f"vbp vbp 0 {num(lp.vbp)}", f"vbnt vbnt 0 {num(prm.tdc_vbn)}",
            f"vbpt vbpt 0 {num(_r12(vdd - prm.tdc_vbn))}", f"vbns vbns 0 {num(prm.start_vbn)}",
            f"vbps vbps 0 {num(_r12(vdd - prm.start_vbn))}"]
    pts = [(0.0, 0.0)]
    for r, f in zip(tl.rise, tl.fall):
        pts += edge_points(r, e, 0.0, vdd, EDGE_SEGMENTS) + edge_points(f, e, vdd, 0.0, EDGE_SEGMENTS)
    body += _pwl("vgo", "go", pts)
    codes = {f"e{i}l0": ea[:, i] for i in range(prm.length)}
    codes.update({f"e{i}l1": eb[:, i] for i in range(prm.length)})
    codes.update({"rl0": np.zeros(n, np.int64), "rl1": np.zeros(n, np.int64)})
    for tag, c in codes.items():
        body += select_sources(tag, c, prm.ebits, tl, vdd, e)
    cl, devs, _ = mac_time_circuit(prm, p)
    body += cl
    save = ["time", "v(go)", *(f"v(arr_{i})" for i in range(prm.length)), "v(arr_ref)", "v(last)", "v(clk)"]
    save += [f"v(e{i}_q_{k})" for i in range(prm.length) for k in range(prm.window)]
    save += [f"v(s_q_{k})" for k in range(prm.scale_taps)] + ["i(vdd)"]
    code_id = hashlib.sha256(np.stack([ea, eb]).tobytes()).hexdigest()[:16]
    return Netlist(
        block="td_mac_time",
        title=f"charz td_mac_time {ident(prm.pdk)} L={prm.length} {n} cycles",
        params=prm.pairs() + (("cycles", n), ("codes", code_id)),
        body=tuple(body), card=p.path, card_sha256=p.sha256,
        analysis=f".tran {num(lp.t_step)} {num(tl.end)}", save=tuple(save), temp=lp.temp, devices=tuple(devs),
    )


START_BIAS_FRACTIONS = (0.85, 0.9, 0.95, 1.0)
"""Start-cell biases (fractions of VDD) that :func:`stop_netlist` simulates side by side for the offset trim."""


def stop_netlist(prm: MacTimeParams, arrivals, pdk: PDK | None = None) -> Netlist:
    """The STOP path alone: the latest-of-L detector and the clock driver loaded by the engine's
    L x window + scale_taps flip-flops (D held low), inputs from ideal edges. ``arrivals``: (cycles, L)
    50 % times within 0.1..0.4 of the cycle (``TimeCmpParams`` timing, t_cycle = 2 t_high of the line).
    Beside it, from input 0, one chain of ``start_cells`` start cells per bias of
    :data:`START_BIAS_FRACTIONS` (outputs ``so<j>``, each loaded by a TDC cell): the delays the offset trim
    picks from."""
    p = pdk if pdk is not None else pdkmod.get(prm.pdk)
    lp = prm.line()
    n = prm.length
    t_cycle = 2 * (lp.t_high if lp.t_high is not None else 1e-9)
    a = np.asarray(arrivals, dtype=float)
    if a.ndim != 2 or a.shape[1] != n or not 1 <= a.shape[0] <= CYCLES_MAX:
        raise ParameterError(f"arrivals must be (cycles, {n}) times in s, 1..{CYCLES_MAX} cycles")
    if not np.all(np.isfinite(a)) or a.min() < 0.1 * t_cycle or a.max() > 0.4 * t_cycle:
        raise ParameterError(f"arrival times must lie within 0.1..0.4 of the cycle ({t_cycle:g} s)")
    tc = TimeCmpParams(pdk=prm.pdk, vdd=lp.vdd, temp=lp.temp, n_inputs=max(2, n), t_cycle=t_cycle, t_step=lp.t_step)
    body = [f"* STOP path: latest-of-{n} + clock driver, {a.shape[0]} cycles; start cells from input 0",
            f"vdd vdd 0 {num(lp.vdd)}", "vd0 dlow 0 0", f"vbnt vbnt 0 {num(prm.tdc_vbn)}",
            f"vbpt vbpt 0 {num(_r12(lp.vdd - prm.tdc_vbn))}"]
    for j, fr in enumerate(START_BIAS_FRACTIONS):
        body += [f"vbns{j} vbns{j} 0 {num(_r12(fr * lp.vdd))}", f"vbps{j} vbps{j} 0 {num(_r12((1 - fr) * lp.vdd))}"]
    for i in range(n):
        times = [c * t_cycle + a[c, i] for c in range(a.shape[0])]
        body += _pwl(f"vin_{i}", f"arr_{i}", [(t, round(v, 12)) for t, v in _edges(times, tc)])
    devs: list[Device] = []
    cl, cd = latest_tree("lt", [f"arr_{i}" for i in range(n)], "last", lp, p)
    body += cl
    devs += cd
    n_ff = n * prm.window + prm.scale_taps
    cl, cd, _ = clock_driver("last", 4 * n_ff, lp, p)
    body += cl
    devs += cd
    for k in range(n_ff):
        cl, cd = dff(f"ld{k}", "dlow", f"ldq_{k}", lp, p)
        body += cl
        devs += cd
    outs = []
    for jb in range(len(START_BIAS_FRACTIONS)):  # the start cells of one element, loaded by a TDC cell
        x = "arr_0"
        for c in range(prm.start_cells):
            for j, (a_, y) in enumerate(((x, f"sm{jb}_{c}"), (f"sm{jb}_{c}", f"so{jb}_{c}"))):
                cl, cd = _inv(f"s{jb}_{c}_i{j}", a_, y, p, lp, starved=True, bias=f"s{jb}")
                body += cl
                devs += cd
            x = f"so{jb}_{c}"
        for j, (a_, y) in enumerate(((x, f"dm{jb}_0"), (f"dm{jb}_0", f"dm{jb}_1"))):
            cl, cd = _inv(f"dm{jb}_i{j}", a_, y, p, lp, starved=True, bias="t")
            body += cl
            devs += cd
        outs.append(x)
    return Netlist(block="td_stop", title=f"charz td_stop {ident(prm.pdk)} L={n} {a.shape[0]} cycles",
                   params=prm.pairs() + (("cycles", a.shape[0]), ("arrivals", hashlib.sha256(a.tobytes()).hexdigest()[:16])),
                   body=tuple(body), card=p.path, card_sha256=p.sha256,
                   analysis=f".tran {num(lp.t_step)} {num(a.shape[0] * t_cycle)}",
                   save=("time", *(f"v(arr_{i})" for i in range(n)), "v(last)", "v(clk)",
                         *dict.fromkeys(f"v({o})" for o in outs), "i(vdd)"),
                   temp=lp.temp, devices=tuple(devs))


def start_node(prm: MacTimeParams, j: int) -> str:
    """Output of the start chain at bias ``START_BIAS_FRACTIONS[j]`` in :func:`stop_netlist`."""
    return f"so{j}_{prm.start_cells - 1}" if prm.start_cells else "arr_0"


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
    body += _pwl("vrst", "rst", rst)
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
                    body += _pwl(f"vd_{tag}", gate, pts)
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
