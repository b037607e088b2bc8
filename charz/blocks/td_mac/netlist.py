"""Time-domain floating-point MAC: the digitally controlled delay line (DCDL) that adds exponents as
delays, a two-input arbiter (time comparator) and the latest-of-L detector that finds the shared scale
(the largest exponent sum arrives last). The delay-line TDC and the complete time path of a scalar product
are in :mod:`charz.blocks.td_mac.netlist_tdc`, the charge accumulation line in
:mod:`charz.blocks.td_mac.netlist_acc`.

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
measured 50 % to 50 % (see :mod:`charz.blocks.td_mac.recipe_delay`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Sequence

import numpy as np

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.pdk import PDK
from ...core.params import Int, Params, PowerOfTwo, Real, param, positive
from ...core.validate import finite, round12 as _r12
from ...netlist.spice import pwl_source
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
                body += pwl_source(src, node, w)
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
    body += pwl_source("vin", "in", pts)
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
    body += pwl_source("va", "a", [(t, round(v, 12)) for t, v in _edges(ta, prm)])
    body += pwl_source("vb", "b", [(t, round(v, 12)) for t, v in _edges(tb, prm)])
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
        body += pwl_source(f"vin_{i}", f"in_{i}", [(t, round(v, 12)) for t, v in _edges(times, prm)])
    cl, devs = latest_tree("", [f"in_{i}" for i in range(n)], "out", prm, p)
    body += cl
    return _deck(prm, p, "latest", body, devs, a.shape[0], ("time", *(f"v(in_{i})" for i in range(n)), "v(out)", "i(vdd)"),
                 [("arrivals", hashlib.sha256(a.tobytes()).hexdigest()[:16])])


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
