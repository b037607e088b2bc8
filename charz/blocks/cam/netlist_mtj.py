"""MTJ analog CAM cell (MACAM-style): a match window [lo, hi) on the analog data line set by MTJ dividers.

**The MTJ** (no PTM card has one): a two-state, bias-dependent resistor written as a behavioral current
source (ngspice B-source) between its two terminals a, b::

    parallel (P):        R = k * R_P
    antiparallel (AP):   R(V) = k * R_P * (1 + TMR0 / (1 + (V / V_h)^2)),   V = v(a) - v(b)

the usual TMR bias roll-off (TMR halves at |V| = V_h). ``k`` is the device's resistance factor: its
area factor (a junction of 1/2^j the unit area has 2^j x the resistance) times its device-to-device
variation, read from a control node ``k_<mtj>`` held by a DC source ``vk_<mtj>`` (1 x area factor
nominally): Monte Carlo ``alter``s that source's ``dc`` value per instance (the B-source has no alterable
parameter). Figures (:class:`MtjParams`) are assumptions from the public perpendicular-MTJ literature,
overridable.

**The cell** (one analog CAM cell on its own match line; each row of a MACAM array stores one window):
two branches, each a series stack of ``bits`` MTJs (binary-weighted: MTJ j has 2^j x the unit resistance)
from the data line ``dl`` down to a gate node, and a reference resistor from that node to ground::

    dl --[mtj_<b>_0]--[mtj_<b>_1]-- ... -- g_<b> --[rref_<b>]-- 0

The stack's programmed state s = sum_j 2^j b_j (b_j = 1: MTJ j antiparallel) sets its resistance at low
bias, ``R_P x (2^bits - 1 + TMR0 x s)``: linear in s. ``V(g) = V_DL x R_ref / (R_stack + R_ref)``.

- branch **hi**: ``g_hi`` drives the pull-down ``mpd_hi`` (over the evaluate foot ``men_hi``, gate ``en``):
  ML discharges when V_DL is above the *upper edge* hi (a larger stack resistance: a higher edge);
- branch **lo**: ``g_lo`` drives an inverter (``minvp_lo`` / ``minvn_lo``, supply ``vdd_inv``) whose output
  ``ng_lo`` drives the pull-down ``mpd_lo`` (over ``men_lo``): ML discharges when V_DL is below the
  *lower edge* lo (the inverter's switching point scaled up by the divider).

So ML stays high (a match) for lo <= V_DL < hi. The cell's window is the pair of programmed states
(s_lo, s_hi). ``split=True`` (the recipe's testbench) puts each branch on its own match line
(``ml_lo``, ``ml_hi``, each with its precharge and load) so that one deck measures both edges of a state.

Match line: precharged to VDD through ``mpre`` (gate ``pre_b``), load ``c_ml``. Cycle (:func:`mtj_timeline`;
a deck is a sequence of searches, one DL value each): DL rises to its value (raised-cosine edge) while
the line precharges; after ``t_settle`` the precharge releases and the foot clock ``en`` rises; the
*sense instant* is ``t_sense`` after ``en``'s 50 % point; then ``en`` falls, DL returns to 0 and the
precharge restores the line for ``t_pre``. DL carries current only while it is up (the dividers' static
current), which the recipe counts as search energy.

Every transistor, MTJ and control source has a flat name; :func:`mtj_cam_devices` lists the transistors
(Monte Carlo ``delvto``), :func:`mtj_names` the MTJs (Monte Carlo ``vk_<name>`` ``dc``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Sequence

import numpy as np

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.pdk import PDK
from ...core.params import Bool, Instance, Int, Params, Real, param, positive
from ...core.validate import round12 as _r12
from ...netlist.spice import PDK_NAME, TEMP, VDD, CycleTimeline, Device, Netlist, edge_points, ident, mos, num, pdk_of, pwl_source

BLOCK = "cam_mtj"
BRANCHES = ("lo", "hi")
EDGE_SEGMENTS = 4
CYCLES_MAX = 400
_W = positive(100e-6, "m")
_T = Real(1e-12, 10e-9, unit="s")


@dataclasses.dataclass(frozen=True)
class MtjParams(Params):
    """A perpendicular MTJ as a two-state bias-dependent resistor. The defaults are assumptions from the
    public literature on STT/SOT-MRAM junctions (about 40-60 nm CoFeB/MgO pMTJs), not a measured device."""

    r_p: float = param(5e3, Real(100.0, 1e7, unit="Ohm"),
                       "parallel-state resistance of the unit junction, Ohm (assumption: ~5 kOhm, RA ~10 "
                       "Ohm.um2 at ~50 nm)")
    tmr0: float = param(1.5, Real(0.05, 5.0, unit="1"),
                        "zero-bias tunnel magnetoresistance (R_AP - R_P) / R_P, a fraction (assumption: 150 %)")
    v_half: float = param(0.5, Real(0.05, 2.0, unit="V"),
                          "bias at which the TMR has halved, V (assumption: ~0.5 V)")
    sigma_r: float = param(0.04, Real(0.0, 0.3, unit="1"),
                           "device-to-device sigma(R)/R of the unit junction, a fraction (assumption: 3-5 %); a "
                           "junction of 1/2^j the area has sqrt(2^j) x this")

    def r_ap(self, v) -> np.ndarray:
        """R_AP at bias *v* (V) of the unit junction, Ohm: ``R_P (1 + TMR0 / (1 + (v / V_h)^2))``."""
        v = np.asarray(v, dtype=float)
        return self.r_p * (1.0 + self.tmr0 / (1.0 + (v / self.v_half) ** 2))

    def current(self, v, ap: bool, k: float = 1.0) -> np.ndarray:
        """Current (A) through a junction of resistance factor *k* at bias *v* (V), the formula of the deck."""
        v = np.asarray(v, dtype=float)
        return v / (k * (self.r_ap(v) if ap else self.r_p))


@dataclasses.dataclass(frozen=True)
class MtjCamParams(Params):
    """Parameters of one MTJ analog CAM cell testbench (module docstring). ``None`` fields resolve to
    per-PDK defaults on creation."""

    PDK_BOUND = True

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    bits: int = param(3, Int(1, 3, unit="bits"), "MTJs per branch (binary-weighted): 2^bits programmed states "
                                                 "per edge, bits")
    mtj: MtjParams | None = param(None, Instance(MtjParams), "the MTJ (R_P, TMR0, V_h, sigma); None = MtjParams()")
    split: bool = param(False, Bool(), "each branch on its own match line (ml_lo, ml_hi): the recipe's testbench")
    vdd: float | None = param(None, VDD, "supply of precharge, inverter and clocks, V; None = the PDK's nominal")
    temp: float = param(27.0, TEMP, "temperature, degC")
    dl_max: float = param(1.4, Real(0.1, 2.0, unit="V"), "highest data-line (search input) voltage, V (its own DAC supply; it reaches only MTJ stacks)")
    r_ref_hi: float | None = param(None, Real(100.0, 1e7, unit="Ohm"),
                                   "reference resistor of the hi branch (g_hi to ground), Ohm; None = (2^bits + 4) R_P")
    r_ref_lo: float | None = param(None, Real(100.0, 1e7, unit="Ohm"),
                                   "reference resistor of the lo branch (g_lo to ground), Ohm; None = (2^bits + 4) R_P")
    w_pd: float | None = param(None, _W, "match-line pull-down NMOS width (both branches), m; None = 2 Lmin")
    l_pd: float | None = param(None, _W, "match-line pull-down NMOS length, m; None = 2 Lmin")
    w_en: float | None = param(None, _W, "evaluate-foot NMOS width, m; None = 4 Lmin")
    w_invn: float | None = param(None, _W, "input-inverter NMOS width (both branches; the later stages too), m; None = 8 Lmin")
    w_invp: float | None = param(None, _W, "input-inverter PMOS width (both branches; the later stages too), m; None = 8 Lmin")
    l_inv: float | None = param(None, _W, "input-inverter length (long: its switching point sets both edges, its mismatch their spread), m; None = 4 Lmin")
    w_pre: float | None = param(None, _W, "match-line precharge PMOS width, m; None = 4 Lmin")
    c_ml: float = param(1e-15, Real(0.0, 1e-12, unit="F"), "match-line load (wire, sense input), F")
    t_edge: float = param(20e-12, _T, "edge duration of every clock and of the data line, s")
    t_settle: float = param(40e-12, _T, "data line at its value before the precharge releases, s")
    t_sense: float = param(150e-12, _T, "sense instant after the evaluate clock's 50 % point, s")
    t_pre: float = param(100e-12, _T, "precharge after the evaluate window, s")
    t_step: float = param(4e-12, Real(0.1e-12, 20e-12, unit="s"), "maximum transient step, s")

    def check(self):
        """Per-PDK sizes, the default MTJ and reference resistors; VDD against the card; sizes >= Lmin / 2;
        windows longer than one edge; t_step <= t_edge."""
        p = pdk_of(self)
        L = p.lmin
        vdd = p.vdd_nom if self.vdd is None else p.check_vdd(self.vdd)
        mtj = MtjParams() if self.mtj is None else self.mtj
        v = {"mtj": mtj, "vdd": float(vdd)}
        for name, k in (("w_pd", 2), ("l_pd", 2), ("w_en", 4), ("w_invn", 8), ("w_invp", 8), ("l_inv", 4),
                        ("w_pre", 4)):
            w = v[name] = _r12(k * L) if getattr(self, name) is None else getattr(self, name)
            if w < 0.5 * L:
                raise ParameterError(f"{name} = {w:g} m is below half the node's Lmin ({L:g} m): sizes are in metres")
        for name in ("r_ref_hi", "r_ref_lo"):
            v[name] = _r12(((1 << self.bits) + 4) * mtj.r_p) if getattr(self, name) is None else getattr(self, name)
        for name in ("t_settle", "t_sense", "t_pre"):
            if getattr(self, name) <= self.t_edge:
                raise ParameterError(f"{name} = {getattr(self, name):g} s is not longer than the edge t_edge = "
                                     f"{self.t_edge:g} s: give a longer {name} or a shorter edge")
        if self.t_step > self.t_edge:
            raise ParameterError(f"t_step = {self.t_step:g} s is longer than the edge ({self.t_edge:g} s): give a "
                                 f"smaller step")
        self._set(**v)

    @property
    def n_states(self) -> int:
        """Programmed states per branch (2^bits)."""
        return 1 << self.bits


@dataclasses.dataclass(frozen=True)
class MtjTimeline(CycleTimeline):
    """Instants of an n-cycle deck (s); cycle c starts at ``start[c]``, the others are relative to it."""

    dl_rise: float
    release: float
    """``pre_b`` starts rising (precharge off)."""
    en_rise: float
    sense: float
    fall: float
    """``en`` and DL start falling, ``pre_b`` falls (precharge on)."""
    end: float


def mtj_timeline(params: MtjCamParams, n_cycles: int) -> MtjTimeline:
    """The instants of an *n_cycles*-cycle deck: DL rises 5 ps into the cycle, the precharge releases
    ``t_settle`` after DL is up, ``en`` rises right after, the sense instant is ``t_sense`` after ``en``'s
    50 % point, then every clock and DL fall together and the precharge runs ``t_pre``."""
    e = params.t_edge
    dl_rise = 5e-12
    release = dl_rise + e + params.t_settle
    en_rise = release + e
    sense = en_rise + e / 2 + params.t_sense
    fall = sense + 5e-12
    period = _r12(fall + e + params.t_pre)
    start = tuple(_r12(c * period) for c in range(n_cycles))
    return MtjTimeline(start, period, e, _r12(dl_rise), _r12(release), _r12(en_rise), _r12(sense), _r12(fall),
                       _r12(n_cycles * period))


# ---- states -------------------------------------------------------------------------------------------
def state_bits(params: MtjCamParams, state: int) -> tuple[int, ...]:
    """The MTJs' states of a branch programmed to *state* (0 .. 2^bits - 1): bit j = 1 is MTJ j antiparallel."""
    if isinstance(state, bool) or not isinstance(state, numbers.Integral) or not 0 <= state < params.n_states:
        raise ParameterError(f"state = {state!r}: give an integer 0 to {params.n_states - 1} ({params.bits} MTJs "
                             f"per branch)")
    return tuple((int(state) >> j) & 1 for j in range(params.bits))


def stack_resistance(params: MtjCamParams, state: int, v_mtj=0.0) -> float:
    """Nominal stack resistance (Ohm) of a branch at *state*, every MTJ at bias *v_mtj* (V; 0 = low bias)."""
    m = params.mtj
    return float(sum((1 << j) * (m.r_ap(v_mtj) if b else m.r_p) for j, b in enumerate(state_bits(params, state))))


def mtj_names(params: MtjCamParams) -> tuple[str, ...]:
    """The MTJs of the deck, ``mtj_<branch>_<j>`` (the same for every state)."""
    return tuple(f"mtj_{b}_{j}" for b in BRANCHES for j in range(params.bits))


def mtj_sigma(params: MtjCamParams) -> np.ndarray:
    """sigma of the resistance factor of every MTJ of :func:`mtj_names` (relative): sigma_r x sqrt(2^j)."""
    return np.array([params.mtj.sigma_r * math.sqrt(1 << j) for _ in BRANCHES for j in range(params.bits)])


def mtj_lines(name: str, a: str, b: str, ap: bool, k: float, mtj: MtjParams) -> list[str]:
    """One MTJ between nodes *a* and *b*: its factor source ``vk_<name>`` (node ``k_<name>``, value *k*) and
    the B-source ``b<name>`` carrying ``v(a, b) / R`` (module docstring)."""
    n, a, b = ident(name), ident(a), ident(b)
    v = f"v({a},{b})"
    if ap:
        r = f"({num(mtj.r_p)}*v(k_{n})*(1+{num(mtj.tmr0)}/(1+({v}/{num(mtj.v_half)})^2)))"
    else:
        r = f"({num(mtj.r_p)}*v(k_{n}))"
    return [f"vk_{n} k_{n} 0 {num(k)}", f"b{n} {a} {b} i={v}/{r}"]


def _edge(t0: float, dur: float, v0: float, v1: float) -> list[tuple[float, float]]:
    return edge_points(t0, dur, v0, v1, EDGE_SEGMENTS)


def _check_states(params: MtjCamParams, s_lo: int, s_hi: int) -> tuple[int, int]:
    state_bits(params, s_lo)
    state_bits(params, s_hi)
    return int(s_lo), int(s_hi)


def check_inputs(params: MtjCamParams, v_in) -> np.ndarray:
    """Search inputs (data-line voltages, one per cycle) as a float array within 0 .. dl_max."""
    try:
        a = np.asarray(v_in, dtype=float)
    except (TypeError, ValueError):
        a = np.asarray([np.nan])
    if a.ndim != 1 or not 1 <= a.size <= CYCLES_MAX or not np.all(np.isfinite(a)) or np.any(a < 0) \
            or np.any(a > params.dl_max + 1e-12):
        raise ParameterError(f"inputs must be 1 to {CYCLES_MAX} data-line voltages in 0 .. {params.dl_max:g} V "
                             f"(dl_max), got {np.asarray(v_in).ravel()[:6].tolist()!r}")
    return a


@dataclasses.dataclass(frozen=True)
class Circuit:
    """Element lines, MOSFETs and MTJs of a cell deck (without the analysis)."""

    lines: tuple[str, ...]
    devices: tuple[Device, ...]
    mtjs: tuple[str, ...]


def _circuit(params: MtjCamParams, s_lo: int, s_hi: int, v_in: np.ndarray, p: PDK) -> Circuit:
    vdd, mtj = params.vdd, params.mtj
    tl = mtj_timeline(params, v_in.size)
    mls = {"lo": "ml_lo", "hi": "ml_hi"} if params.split else {"lo": "ml", "hi": "ml"}
    lines = [f"* MTJ analog CAM cell, {params.bits} MTJs per branch, states lo {s_lo} / hi {s_hi}, "
             f"{v_in.size} searches; {'split match lines' if params.split else 'one match line'}",
             f"vpre vdd_pre 0 {num(vdd)}", f"vinv vdd_inv 0 {num(vdd)}"]
    pre, en, dl = [(0.0, 0.0)], [(0.0, 0.0)], [(0.0, 0.0)]
    for c, v in enumerate(v_in):
        pre += _edge(tl.at(c, tl.release), tl.t_edge, 0.0, vdd) + _edge(tl.at(c, tl.fall), tl.t_edge, vdd, 0.0)
        en += _edge(tl.at(c, tl.en_rise), tl.t_edge, 0.0, vdd) + _edge(tl.at(c, tl.fall), tl.t_edge, vdd, 0.0)
        dl += _edge(tl.at(c, tl.dl_rise), tl.t_edge, 0.0, float(v)) + _edge(tl.at(c, tl.fall), tl.t_edge, float(v),
                                                                            0.0)
    lines += pwl_source("vpch", "pre_b", pre) + pwl_source("ven", "en", en) + pwl_source("vdl", "dl", dl)
    mtjs = []
    for b, s in (("lo", s_lo), ("hi", s_hi)):
        nodes = ["dl"] + [f"x{b}_{j}" for j in range(1, params.bits)] + [f"g_{b}"]
        for j, ap in enumerate(state_bits(params, s)):
            name = f"mtj_{b}_{j}"
            lines += mtj_lines(name, nodes[j], nodes[j + 1], bool(ap), float(1 << j), mtj)
            mtjs.append(name)
        lines.append(f"rref_{b} g_{b} 0 {num(getattr(params, f'r_ref_{b}'))}")
    L = p.lmin
    t = [("minvp_hi", "nd_hi", "g_hi", "vdd_inv", "vdd_inv", p.pmos, params.w_invp, params.l_inv),
         ("minvn_hi", "nd_hi", "g_hi", "0", "0", p.nmos, params.w_invn, params.l_inv),
         ("mbufp_hi", "d_hi", "nd_hi", "vdd_inv", "vdd_inv", p.pmos, params.w_invp, L),
         ("mbufn_hi", "d_hi", "nd_hi", "0", "0", p.nmos, params.w_invn, L),
         ("mpd_hi", mls["hi"], "d_hi", "f_hi", "0", p.nmos, params.w_pd, params.l_pd),
         ("men_hi", "f_hi", "en", "0", "0", p.nmos, params.w_en, L),
         ("minvp_lo", "nd_lo", "g_lo", "vdd_inv", "vdd_inv", p.pmos, params.w_invp, params.l_inv),
         ("minvn_lo", "nd_lo", "g_lo", "0", "0", p.nmos, params.w_invn, params.l_inv),
         ("mbufp_lo", "dd_lo", "nd_lo", "vdd_inv", "vdd_inv", p.pmos, params.w_invp, L),
         ("mbufn_lo", "dd_lo", "nd_lo", "0", "0", p.nmos, params.w_invn, L),
         ("moutp_lo", "d_lo", "dd_lo", "vdd_inv", "vdd_inv", p.pmos, params.w_invp, L),
         ("moutn_lo", "d_lo", "dd_lo", "0", "0", p.nmos, params.w_invn, L),
         ("mpd_lo", mls["lo"], "d_lo", "f_lo", "0", p.nmos, params.w_pd, params.l_pd),
         ("men_lo", "f_lo", "en", "0", "0", p.nmos, params.w_en, L)]
    pres = ([("mpre_lo", "ml_lo"), ("mpre_hi", "ml_hi")] if params.split else [("mpre", "ml")])
    t += [(n, ml, "pre_b", "vdd_pre", "vdd_pre", p.pmos, params.w_pre, L) for n, ml in pres]
    devices = []
    for name, d, g, s, bb, model, ww, ll in t:
        lines.append(mos(name, d, g, s, bb, model, ww, ll))
        devices.append(Device(name, "p" if model == p.pmos else "n", ww, ll))
    if params.c_ml > 0:
        lines += [f"c{ml} {ml} 0 {num(params.c_ml)}" for _, ml in pres]
    return Circuit(tuple(lines), tuple(devices), tuple(mtjs))


def match_lines(params: MtjCamParams) -> tuple[str, ...]:
    """The deck's match lines: ``ml_lo``, ``ml_hi`` (split) or ``ml``."""
    return ("ml_lo", "ml_hi") if params.split else ("ml",)


def save_list(params: MtjCamParams) -> tuple[str, ...]:
    """Saved vectors: time, the data line, the match line(s), the gate nodes, and every source's current."""
    return ("time", "v(dl)", *(f"v({m})" for m in match_lines(params)), "v(g_lo)", "v(g_hi)", "v(d_lo)", "v(d_hi)",
            "i(vdl)", "i(vpre)", "i(vinv)", "i(vpch)", "i(ven)")


def mtj_cam_devices(params: MtjCamParams, pdk: PDK | None = None) -> tuple[Device, ...]:
    """The deck's transistors (the same for every state and input): Monte Carlo draws ``delvto`` over all."""
    p = pdk or pdkmod.describe(params.pdk)
    return _circuit(params, 0, 0, np.zeros(1), p).devices


def search_netlist(params: MtjCamParams, s_lo: int, s_hi: int, v_in: Sequence[float], pdk: PDK | None = None,
                   label: str = "") -> Netlist:
    """A deck searching the cell programmed to (*s_lo*, *s_hi*) with each data-line voltage of *v_in* (one
    search per cycle). *pdk*, if given, must be the card-resolved PDK of ``params.pdk``."""
    p = pdkmod.for_params(params, MtjCamParams, pdk)
    s_lo, s_hi = _check_states(params, s_lo, s_hi)
    v = check_inputs(params, v_in)
    circ = _circuit(params, s_lo, s_hi, v, p)
    tl = mtj_timeline(params, v.size)
    return Netlist(
        block=BLOCK,
        title=f"charz {BLOCK} {ident(params.pdk)} b{params.bits} lo{s_lo} hi{s_hi} {label or 'search'}",
        params=params.pairs() + (("state_lo", s_lo), ("state_hi", s_hi), ("cycles", v.size),
                                 ("dl_first", round(float(v[0]), 6)), ("dl_last", round(float(v[-1]), 6))),
        body=circ.lines,
        card=p.path,
        card_sha256=p.sha256,
        analysis=f".tran {num(params.t_step)} {num(tl.end)}",
        save=save_list(params),
        temp=params.temp,
        devices=circ.devices,
    )


def iv_netlist(mtj: MtjParams, ap: bool, v_max: float = 1.0, points: int = 41, pdk: PDK | str = "ptm16hp") -> Netlist:
    """A DC sweep of one MTJ (factor 1) from -*v_max* to *v_max* V: vectors ``v(a)`` and ``i(va)`` (the check
    of the element against :meth:`MtjParams.current`). The card is included only as the deck format needs."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    vm = float(Real(0.01, 3.0, unit="V").check(v_max, "iv_netlist.v_max"))
    n = int(Int(3, 2001).check(points, "iv_netlist.points"))
    step = _r12(2 * vm / (n - 1))
    return Netlist(
        block=BLOCK, title=f"charz {BLOCK} mtj iv {'ap' if ap else 'p'}",
        params=mtj.pairs() + (("state", "AP" if ap else "P"),),
        body=tuple(["va a 0 0"] + mtj_lines("mtj_x", "a", "0", ap, 1.0, mtj)),
        card=p.path, card_sha256=p.sha256, analysis=f".dc va {num(-vm)} {num(vm)} {num(step)}",
        save=("v(a)", "i(va)"),
    )


def edge_grid(params: MtjCamParams, step: float) -> np.ndarray:
    """The recipe's data-line grid: 0 .. dl_max in steps of about *step* (V), both ends included."""
    n = max(2, int(round(params.dl_max / step)) + 1)
    return np.round(np.linspace(0.0, params.dl_max, n), 9)


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden decks: the default cell (states lo 1 / hi 2) searched at 0.2, 0.5 and 0.9 V, and the split
    testbench of state 3 over a 0.1 V grid."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    cell = MtjCamParams(pdk=p.name)
    split = MtjCamParams(pdk=p.name, split=True)
    return {
        f"cam_mtj_{p.name}_window.cir": search_netlist(cell, 1, 2, [0.2, 0.5, 0.9], p, label="window").golden(),
        f"cam_mtj_{p.name}_edges.cir": search_netlist(split, 3, 3, edge_grid(split, 0.1), p, label="edges").golden(),
    }
