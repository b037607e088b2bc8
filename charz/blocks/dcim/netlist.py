"""Digital CiM word add by bitline computing in a 6T SRAM array: the scale-factor add of the HCiM study.

One word of N bits occupies N columns; operand a is stored in one row, operand b in another row of the
same columns. An add raises both rows' word lines together on precharged bit lines (the standard
bitline-computing read of two rows):

- ``bl_j`` stays high only if both cells store 1 (any cell storing 0 discharges it): ``V(bl_j)`` = a AND b;
- ``blb_j`` stays high only if both cells store 0: ``V(blb_j)`` = a NOR b.

Per column a single-ended, skewed sense inverter on each bit line (wide PMOS, narrow long NMOS: a high
switching threshold, so a small drop is sensed early) gives ``nand_j`` = NOT(a AND b) and ``or_j`` = a OR b.
The word lines fall at the **sense instant** (``t_wl`` after their 50 % point): the bit lines then float
and hold the sensed values while the near-memory static CMOS peripheral (NAND2 gates and inverters, one
set per column) computes the sum::

    xn_j   = NAND(nand_j, or_j)       p_j = NOT xn_j = a XOR b   (= NOT(AND OR NOR))
    t_j    = NAND(p_j, c_j)
    c_j+1  = NAND(nand_j, t_j)        = (a AND b) OR (p_j AND c_j)     (the ripple carry, 2 gates per bit)
    s_j    = NAND(NAND(p_j, t_j), NAND(c_j, t_j)) = p_j XOR c_j

with ``c_0`` = 0 (tied low) and the carry out ``c_N`` as sum bit N. During precharge both bit lines are
high, so every carry and sum bit starts from a fixed state (carries 1); the recipe's chains 0xFF + 0x00 (all
carries fall), 0xFF + 0x01 and 0x7F + 0x01 (a generate rippling through propagating bits; the slowest measured,
213 ps at 0.8 V on ptm16hp) bound the delay.

Read disturb. With two rows on, a cell storing 1 sees its bit line pulled low by the other cell (and a
cell storing 0 sees the precharged line bump its 0 node). The word lines are therefore **underdriven**:
they rise to ``vwl_ratio x VDD`` (default 0.7 VDD) and stay on only ``t_wl``. The recipe records the largest
bump of a 0 node and the deepest droop of a 1 node while the rows are on, and checks every cell still
holds its bit at the end of the cycle.

The deck holds P operand pairs in 2P rows of real 6T cells per column (rows ``2k``, ``2k + 1`` store
a_k and b_k, set by ``.ic``); cycle k of the deck raises rows 2k and 2k + 1. The other cells on the bit
lines are real load; ``rows - 2P`` further rows are an explicit capacitor ``c_bl_cell`` each. Each word
line also carries ``c_wl_cell`` of wire per column.

Cycle (:func:`timeline`): precharge PMOS (gate ``pre_b``) off at ``release``, word lines rise one edge and
10 ps later, fall at the sense instant, the adder evaluates for ``t_eval`` (sum read at the end: the
**read instant**), then ``pre_b`` falls and the bit lines are restored for ``t_pre``.

Supplies (for the energy split of :mod:`charz.blocks.dcim.recipe`): ``vpre`` (bit-line precharge),
``vcell`` (the cells), ``vsen`` (sense inverters), ``vadd`` (adder gates), the ``pre_b`` clock and the
word-line drivers ``vwl_<r>``; a replica sense inverter with input tied to output on its own supply
``vrep`` gives the sense threshold ``v(vm)`` (excluded from the energy).

Device names are flat: ``mpu1_<r>_<j>`` ... (cell of row r, column j), ``mpre_<j>`` / ``mpreb_<j>``,
``msap_<j>`` / ``msan_<j>`` (sense inverter on bl), ``msbp_<j>`` / ``msbn_<j>`` (on blb), ``m<g>p1_<j>`` ..
``m<g>n2_<j>`` for the adder's NAND2 gates g in xn, t, c, u, v, s, ``mpip_<j>`` / ``mpin_<j>`` for its inverter,
``mrepp_vm`` / ``mrepn_vm`` the threshold replica; :func:`dcim_devices` lists them.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.pdk import PDK
from ...core.params import Instance, Int, Params, Real, param, positive
from ...core.validate import round12 as _r12
from ...netlist.cells import CellSizes, cell_6t
from ...netlist.spice import PDK_NAME, TEMP, VDD, CycleTimeline, Device, Netlist, edge_points, ident, mos, num, pdk_of, pwl_source

BLOCK = "dcim_add"
BITS_MAX = 32
PAIRS_MAX = 16
"""At most this many operand pairs (cycles) in one deck."""
EDGE_SEGMENTS = 4
C_BL_CELL_16NM = 0.125e-15
C_WL_CELL_16NM = 0.1e-15
C_LOAD_16NM = 0.2e-15
_CAP = Real(0.0, 1e-12, unit="F")
_W = positive(100e-6, "m")
ADDER_GATES = ("xn", "t", "c", "u", "v", "s")
"""The NAND2 gates of one column's adder (``p`` is the inverter of ``xn``)."""


@dataclasses.dataclass(frozen=True)
class DcimParams(Params):
    """Parameters of one bitline-computing word add (module docstring). ``None`` fields resolve to per-PDK
    defaults on creation."""

    PDK_BOUND = True

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    n_bits: int = param(8, Int(1, BITS_MAX, unit="bits"), "word length N: columns of the add (the scale-factor "
                                                          "word), bits")
    rows: int = param(64, Int(2, 4096, unit="rows"), "rows of the array on each bit line (2P of them real "
                                                     "cells, the rest capacitors c_bl_cell), rows")
    vdd: float | None = param(None, VDD, "supply of array, sense inverters and adder, V; None = the PDK's "
                                         "nominal VDD")
    temp: float = param(27.0, TEMP, "temperature, degC")
    vwl_ratio: float = param(0.7, Real(0.3, 1.0, unit="VDD"), "word-line high level as a fraction of VDD "
                                                              "(underdrive against read disturb with two rows on)")
    cells: CellSizes | None = param(None, Instance(CellSizes), "6T cell sizes; None = CellSizes.default")
    w_pre: float | None = param(None, _W, "bit-line precharge PMOS width, m; None = 8 Lmin")
    w_sp: float | None = param(None, _W, "sense inverter PMOS width, m; None = 6 Lmin (skewed high)")
    w_sn: float | None = param(None, _W, "sense inverter NMOS width, m; None = 1 Lmin")
    l_sn: float | None = param(None, _W, "sense inverter NMOS length, m; None = 2 Lmin")
    w_ln: float | None = param(None, _W, "adder gate NMOS width, m; None = 3 Lmin")
    w_lp: float | None = param(None, _W, "adder gate PMOS width, m; None = 3 Lmin")
    c_bl_cell: float | None = param(None, _CAP, "bit-line load of each other row (cells not simulated), F; "
                                                "None = 0.125 fF x Lmin / 16 nm")
    c_wl_cell: float | None = param(None, _CAP, "word-line wire per column, F; None = 0.1 fF x Lmin / 16 nm")
    c_load: float | None = param(None, _CAP, "load on each sum bit, F; None = 0.2 fF x Lmin / 16 nm")
    t_edge: float = param(20e-12, positive(1e-9, "s"), "every word-line and precharge edge (0-100 %), s")
    t_wl: float = param(150e-12, positive(100e-9, "s"), "word lines on (50 % rise to the start of their fall): "
                                                        "the sense instant after the word lines' 50 % point, s")
    t_eval: float = param(400e-12, positive(100e-9, "s"), "adder evaluation after the word lines fall (the sum "
                                                          "is read at its end), s")
    t_pre: float = param(250e-12, positive(100e-9, "s"), "bit-line precharge (restore) after an add, s")
    t_step: float = param(5e-12, positive(1e-9, "s"), "maximum transient time step, s")

    def check(self):
        """Per-PDK defaults; VDD against the card; sizes >= Lmin / 2; windows longer than one edge;
        t_step <= t_edge; rows >= 2 (the two operand rows)."""
        p = pdk_of(self)
        L, sc = p.lmin, p.lmin / 16e-9
        vdd = p.vdd_nom if self.vdd is None else p.check_vdd(self.vdd)
        v = {}
        for name, default in (("c_bl_cell", C_BL_CELL_16NM), ("c_wl_cell", C_WL_CELL_16NM),
                              ("c_load", C_LOAD_16NM)):
            v[name] = _r12(default * sc) if getattr(self, name) is None else getattr(self, name)
        for name, k in (("w_pre", 8), ("w_sp", 6), ("w_sn", 1), ("l_sn", 2), ("w_ln", 3), ("w_lp", 3)):
            w = v[name] = _r12(k * L) if getattr(self, name) is None else getattr(self, name)
            if w < 0.5 * L:
                raise ParameterError(f"{name} = {w:g} m is below half the node's Lmin ({L:g} m): sizes are in metres")
        cells = CellSizes.default(p) if self.cells is None else self.cells.check(p)
        e = self.t_edge
        for name in ("t_wl", "t_eval", "t_pre"):
            if getattr(self, name) <= e:
                raise ParameterError(f"{name} = {getattr(self, name):g} s is not longer than the edge t_edge = "
                                     f"{e:g} s: give a longer {name} or a shorter edge")
        if self.t_step > e:
            raise ParameterError(f"t_step = {self.t_step:g} s is longer than the edge ({e:g} s): give a smaller step")
        self._set(vdd=float(vdd), cells=cells, **v)

    @property
    def vwl(self) -> float:
        """The word-line high level (V)."""
        return _r12(self.vwl_ratio * self.vdd)


@dataclasses.dataclass(frozen=True)
class Timeline(CycleTimeline):
    """Instants of a P-cycle deck (s); cycle k starts at ``start[k]``, the others are relative to it."""

    release: float
    """``pre_b`` starts rising (precharge off)."""
    wl_rise: float
    """The two word lines start rising."""
    sense: float
    """The sense instant: ``t_wl`` after the word lines' 50 % point; the word lines start falling."""
    read: float
    """The read instant: ``t_eval`` after the word lines' fall ends; the sum is read; ``pre_b`` starts falling."""
    end: float

    @property
    def wl_50(self) -> float:
        """The word lines' 50 % point (relative): the origin of the delays."""
        return _r12(self.wl_rise + self.t_edge / 2)


def timeline(params: DcimParams, n_cycles: int) -> Timeline:
    """The instants of an *n_cycles*-cycle deck (module docstring; times rounded to 12 digits)."""
    e = params.t_edge
    release = 10e-12
    wl_rise = release + e + 10e-12
    sense = wl_rise + e / 2 + params.t_wl
    read = sense + e + params.t_eval
    period = _r12(read + e + params.t_pre)
    start = tuple(_r12(k * period) for k in range(n_cycles))
    return Timeline(start, period, e, _r12(release), _r12(wl_rise), _r12(sense), _r12(read), _r12(n_cycles * period))


def check_pairs(params: DcimParams, pairs) -> np.ndarray:
    """Operand pairs as an int array (P, 2) of values 0 .. 2^N - 1, 1 to :data:`PAIRS_MAX` pairs."""
    try:
        a = np.asarray(pairs, dtype=object)
        ok = a.ndim == 2 and a.shape[1] == 2 and 1 <= a.shape[0] <= PAIRS_MAX and all(
            isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 0 <= int(x) < 2 ** params.n_bits
            for x in a.ravel())
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParameterError(f"operand pairs must be a (P, 2) list of integers 0..{2 ** params.n_bits - 1} with 1 to "
                             f"{PAIRS_MAX} pairs, got {pairs!r}"[:300])
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def bits(value: int, n: int) -> np.ndarray:
    """The *n* bits of *value*, LSB first."""
    return (int(value) >> np.arange(n)) & 1


def default_pairs(n_bits: int, n_random: int = 3, seed: int = 1) -> np.ndarray:
    """The recipe's operand pairs: 0 + 0, the all-propagate chain 1...1 + 0 (every carry falls), 1...1 + 1 and
    01...1 + 1 (a carry rippling through the word), then *n_random* pairs drawn from *seed*."""
    top = 2 ** n_bits - 1
    fixed = [(0, 0), (top, 0), (top, 1 % (top + 1)), (top >> 1, 1 % (top + 1))]
    rng = np.random.default_rng(seed)
    rand = [tuple(int(x) for x in rng.integers(0, top + 1, 2)) for _ in range(n_random)]
    return np.asarray(fixed + rand, dtype=np.int64)


def _edge(t0: float, dur: float, v0: float, v1: float) -> list[tuple[float, float]]:
    return edge_points(t0, dur, v0, v1, EDGE_SEGMENTS)


def _nand2(g: str, j: int, out: str, a: str, b: str, vdd: str, w_n: float, w_p: float, L: float,
           p: PDK) -> list[tuple]:
    """A NAND2 ``m<g>p1_<j>`` .. ``m<g>n2_<j>`` (series NMOS, input a on top)."""
    x = f"x{g}_{j}"
    return [(f"m{g}p1_{j}", out, a, vdd, vdd, p.pmos, w_p, L, "p"), (f"m{g}p2_{j}", out, b, vdd, vdd, p.pmos, w_p, L, "p"),
            (f"m{g}n1_{j}", out, a, x, "0", p.nmos, w_n, L, "n"), (f"m{g}n2_{j}", x, b, "0", "0", p.nmos, w_n, L, "n")]


def _inv(g: str, j: int | str, out: str, a: str, vdd: str, w_n: float, w_p: float, L: float, p: PDK,
         l_n: float | None = None) -> list[tuple]:
    """An inverter ``m<g>p_<j>`` / ``m<g>n_<j>``."""
    return [(f"m{g}p_{j}", out, a, vdd, vdd, p.pmos, w_p, L, "p"),
            (f"m{g}n_{j}", out, a, "0", "0", p.nmos, w_n, l_n or L, "n")]


@dataclasses.dataclass(frozen=True)
class Circuit:
    """Element lines and MOSFETs of an add deck (without the analysis)."""

    lines: tuple[str, ...]
    devices: tuple[Device, ...]


def _circuit(params: DcimParams, pairs: np.ndarray, p: PDK) -> Circuit:
    vdd, L, N = params.vdd, p.lmin, params.n_bits
    P = pairs.shape[0]
    tl = timeline(params, P)
    e = tl.t_edge
    lines = [f"* bitline-computing {N}-bit add, {P} operand pairs in {2 * P} rows, word lines at "
             f"{params.vwl_ratio:g} VDD",
             f"vpre vdd_pre 0 {num(vdd)}", f"vcell vdd_cell 0 {num(vdd)}", f"vsen vdd_sen 0 {num(vdd)}",
             f"vadd vdd_add 0 {num(vdd)}", f"vrep vdd_rep 0 {num(vdd)}"]
    pts = [(0.0, 0.0)]
    for k in range(P):
        pts += _edge(tl.at(k, tl.release), e, 0.0, vdd) + _edge(tl.at(k, tl.read), e, vdd, 0.0)
    lines += pwl_source("vpch", "pre_b", pts)
    vwl = params.vwl
    for r in range(2 * P):
        k = r // 2
        wpts = [(0.0, 0.0)] + _edge(tl.at(k, tl.wl_rise), e, 0.0, vwl) + _edge(tl.at(k, tl.sense), e, vwl, 0.0)
        lines += pwl_source(f"vwl_{r}", f"wl_{r}", wpts)
        if params.c_wl_cell > 0:
            lines.append(f"cwl_{r} wl_{r} 0 {num(_r12(N * params.c_wl_cell))}")
    t: list[tuple] = []
    devices: list[Device] = []
    ic: list[str] = []
    s = params.cells
    for j in range(N):
        for r in range(2 * P):
            cl, cd = cell_6t(f"{r}_{j}", f"q_{r}_{j}", f"qb_{r}_{j}", f"bl_{j}", f"blb_{j}", f"wl_{r}", "vdd_cell", s, p)
            lines += cl
            devices += cd
            bit = int(bits(pairs[r // 2, r % 2], N)[j])
            ic += [f"v(q_{r}_{j})={num(bit * vdd)}", f"v(qb_{r}_{j})={num((1 - bit) * vdd)}"]
        ic += [f"v(bl_{j})={num(vdd)}", f"v(blb_{j})={num(vdd)}"]
        t += [(f"mpre_{j}", f"bl_{j}", "pre_b", "vdd_pre", "vdd_pre", p.pmos, params.w_pre, L, "p"),
              (f"mpreb_{j}", f"blb_{j}", "pre_b", "vdd_pre", "vdd_pre", p.pmos, params.w_pre, L, "p")]
        t += _inv("sa", j, f"nand_{j}", f"bl_{j}", "vdd_sen", params.w_sn, params.w_sp, L, p, params.l_sn)
        t += _inv("sb", j, f"or_{j}", f"blb_{j}", "vdd_sen", params.w_sn, params.w_sp, L, p, params.l_sn)
        wn, wp, cin = params.w_ln, params.w_lp, ("0" if j == 0 else f"c_{j}")
        t += _nand2("xn", j, f"xn_{j}", f"nand_{j}", f"or_{j}", "vdd_add", wn, wp, L, p)
        t += _inv("pi", j, f"p_{j}", f"xn_{j}", "vdd_add", wn, wp, L, p)
        t += _nand2("t", j, f"t_{j}", f"p_{j}", cin, "vdd_add", wn, wp, L, p)
        t += _nand2("c", j, f"c_{j + 1}", f"nand_{j}", f"t_{j}", "vdd_add", wn, wp, L, p)
        t += _nand2("u", j, f"u_{j}", f"p_{j}", f"t_{j}", "vdd_add", wn, wp, L, p)
        t += _nand2("v", j, f"v_{j}", cin, f"t_{j}", "vdd_add", wn, wp, L, p)
        t += _nand2("s", j, f"s_{j}", f"u_{j}", f"v_{j}", "vdd_add", wn, wp, L, p)
    t += _inv("rep", "vm", "vm", "vm", "vdd_rep", params.w_sn, params.w_sp, L, p, params.l_sn)
    for name, d, g, src, b, model, w, l, kind in t:
        lines.append(mos(name, d, g, src, b, model, w, l))
        devices.append(Device(name, kind, w, l))
    c_bl = _r12((params.rows - 2 * P) * params.c_bl_cell)
    for j in range(N):
        if c_bl > 0:
            lines += [f"cbl_{j} bl_{j} 0 {num(c_bl)}", f"cblb_{j} blb_{j} 0 {num(c_bl)}"]
        if params.c_load > 0:
            lines += [f"cls_{j} s_{j} 0 {num(params.c_load)}"]
    if params.c_load > 0:
        lines.append(f"clc c_{N} 0 {num(params.c_load)}")
    for a in range(0, len(ic), 6):
        lines.append(".ic " + " ".join(ic[a:a + 6]))
    return Circuit(tuple(lines), tuple(devices))


def save_list(params: DcimParams, n_pairs: int) -> tuple[str, ...]:
    """The vectors a deck saves: time, the bit lines, the sense outputs, the sum bits and carry out, the
    storage nodes of the operand cells, the threshold replica, and every supply and driver current."""
    N = params.n_bits
    out = ["time", "v(vm)", f"v(c_{N})", "i(vpre)", "i(vcell)", "i(vsen)", "i(vadd)", "i(vpch)"]
    for j in range(N):
        out += [f"v(bl_{j})", f"v(blb_{j})", f"v(s_{j})"]
        out += [f"v(q_{r}_{j})" for r in range(2 * n_pairs)] + [f"v(qb_{r}_{j})" for r in range(2 * n_pairs)]
    out += [f"i(vwl_{r})" for r in range(2 * n_pairs)]
    return tuple(out)


def dcim_devices(params: DcimParams, n_pairs: int, pdk: PDK | None = None) -> tuple[Device, ...]:
    """The deck's transistors for *n_pairs* operand pairs (the same for any operand values)."""
    p = pdk or pdkmod.describe(params.pdk)
    return _circuit(params, np.zeros((n_pairs, 2), dtype=np.int64), p).devices


def add_netlist(params: DcimParams, pairs: Sequence[Sequence[int]], pdk: PDK | None = None, label: str = "") -> Netlist:
    """A deck that adds each operand pair of *pairs* ((P, 2) integers 0..2^N - 1), one add per cycle."""
    p = pdkmod.for_params(params, DcimParams, pdk)
    pr = check_pairs(params, pairs)
    if 2 * pr.shape[0] > params.rows:
        raise ParameterError(f"{pr.shape[0]} operand pairs need {2 * pr.shape[0]} rows but the array has rows = "
                             f"{params.rows}: give fewer pairs or more rows")
    circ = _circuit(params, pr, p)
    tl = timeline(params, pr.shape[0])
    return Netlist(
        block=BLOCK,
        title=f"charz {BLOCK} {ident(params.pdk)} n{params.n_bits} {label or 'add'}",
        params=params.pairs() + (("pairs", " ".join(f"{a}+{b}" for a, b in pr)),),
        body=circ.lines,
        card=p.path,
        card_sha256=p.sha256,
        analysis=f".tran {num(params.t_step)} {num(tl.end)}",
        save=save_list(params, pr.shape[0]),
        temp=params.temp,
        devices=circ.devices,
    )


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden decks: the 8-bit add of the recipe's operand pairs, and a 2-bit add of all four a + 1 pairs."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    eight = DcimParams(pdk=p.name)
    two = DcimParams(pdk=p.name, n_bits=2, rows=16)
    return {
        f"dcim_add8_{p.name}_pairs.cir": add_netlist(eight, default_pairs(8), p, label="pairs").golden(),
        f"dcim_add2_{p.name}_plus1.cir": add_netlist(two, [(0, 1), (1, 1), (2, 1), (3, 1)], p, label="plus1").golden(),
    }
