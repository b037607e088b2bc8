"""Time-domain floating-point MAC, the time path (built on the delay line and the latest-of-L detector of
:mod:`charz.blocks.td_mac.netlist`): the delay-line TDC (``tdc_chain``: the line's current-starved unit cells
at their own bias, buffered taps into transmission-gate master-slave flip-flops; :func:`tdc_netlist`,
:func:`tdc_chain_netlist`), the STOP clock driver, the complete time path of an L-element scalar product
(:class:`MacTimeParams`, :func:`mac_time_netlist`: per element two lines, start cells and a TDC; a reference
pair at code 0 and the shared-scale TDC), the STOP path alone (:func:`stop_netlist`) and the family's golden
decks (:func:`golden_netlists`).
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
from ...core.params import Int, Params, PowerOfTwo, param, positive
from ...core.validate import finite, round12 as _r12
from ...netlist.spice import pwl_source
from ...netlist.spice import PDK_NAME, TEMP, VDD, Device, Netlist, edge_points, ident, mos, num
from .netlist import (CYCLES_MAX, EDGE_SEGMENTS, _RAIL, DelayLineParams, TimeCmpParams, Timeline, _circuit, _edges,
                      _inv, arbiter_netlist, delay_netlist, latest_netlist, latest_tree, select_sources, timeline)
from .netlist_acc import AccParams, acc_netlist


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
    body += pwl_source("vstart", "start", [(t, round(v, 12)) for t, v in start])
    body += pwl_source("vclk", "clk", [(t, round(v, 12)) for t, v in clk])
    body += pwl_source("vclkb", "clkb", [(t, round(vdd - v, 12)) for t, v in clk])
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
    body += pwl_source("vstart", "start", [(0.0, 0.0)] + edge_points(50e-12, prm.t_edge, 0.0, prm.vdd, EDGE_SEGMENTS))
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
    offset of the thresholds (see :mod:`charz.blocks.td_mac.recipe_tdc`)."""

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
    body += pwl_source("vgo", "go", pts)
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
        body += pwl_source(f"vin_{i}", f"arr_{i}", [(t, round(v, 12)) for t, v in _edges(times, tc)])
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


# ---- golden decks of the family -------------------------------------------------------------------------
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
