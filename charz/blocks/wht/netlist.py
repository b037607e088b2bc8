"""Signed-bit Walsh-Hadamard (WHT) crossbar: hard-wired +-1 cells, differential bitlines, a latch per column.

The transform matrix is +-1 and has no parameters, so a cell stores nothing: its sign is wiring.

Cell (row r, column j, Hadamard entry h = H[r, j]) -- two NMOS transistors, nothing else::

    device        drain                      gate    source
    mcp_<r>_<j>   blp_j if h = +1 else bln_j  rp_r    0        (conducts when the input is positive)
    mcn_<r>_<j>   bln_j if h = +1 else blp_j  rn_r    0        (conducts when the input is negative)

Each row has two row lines driven by the row periphery from the input's sign bit s and the magnitude
bit b of the current plane: ``rp = b AND NOT s`` and ``rn = b AND s`` (a pulse of width T when set).
So a cell discharges the + bitline ``blp`` when ``sign(x) x h = +1`` and the - bitline ``bln`` when
it is -1: the sign bit swaps which bitline the cell pulls ("signed-bit processing", sign XOR h done by
wiring). Default sizes: W = 4 Lmin, L = 4 Lmin (a square device with a small read current; the measurements behind
the choice are in this folder's ``README.md``). With k+ cells pulling ``blp`` and
k- pulling ``bln``, the plane's result for the column is ``d = k+ - k- = sum_r h_r s_r b_r``.

Column periphery (per column j):

- precharge PMOS ``mpp_j`` / ``mpn_j`` to the precharge supply and an equaliser PMOS ``mpe_j`` between
  the bitlines, all gated by ``pre_b`` (low = precharge);
- wire capacitance ``n_rows x c_wire`` on each bitline (explicit capacitor), plus ``c_stitch`` per
  junction where 16-row tiles are joined along the bitline (``n_rows / tile_rows - 1`` junctions);
- **sign latch**: the StrongARM comparator of :mod:`charz.blocks.comparator.netlist` (default sizes, output
  inverters, no SR latch: the digital accumulator samples the return-to-zero outputs at the end of the
  evaluate window) with ``inp = bln_j`` and ``inn = blp_j``: decision 1 (``dp`` high) means
  ``V(bln) > V(blp)``, the + bitline discharged more, i.e. ``d > 0`` -> +1;
- **ternary pair** (``ternary=True``): the sign latch becomes the *upper* latch and a second StrongARM
  (same sizes, same clock) the *lower* latch, each with a programmable offset: a trim NMOS (width
  ``w_trim``, gate at the DC bias ``v_trim``) in parallel with one input device. On the upper latch it
  sits on the ``inn`` side, so the latch answers "is V(bln) - V(blp) above +V_th?"; on the lower latch
  on the ``inp`` side, "above -V_th?". Ternary result: upper 1 -> +1; lower 0 -> -1; otherwise 0 (the
  dead zone; the contradictory upper 1 / lower 0 reads +1). Both latches fire together (no sequencing).
  The default (``v_trim`` = VDD, ``w_trim`` = 4 Lmin) puts V_th near half a cell's differential swing on
  ptm16hp at 0.8 V, so the zero output is the tie ``d = 0``; the recipe measures the thresholds.

Stitching: ``n_rows`` > ``tile_rows`` joins tiles along the bitlines (more cells per column: the
bitline carries every tile's cells, wire and ``c_stitch`` per junction); ``n_cols`` > ``tile_cols``
joins tiles along the row lines (a row line drives every tile's cells, wire and ``c_stitch`` per
junction). A deck may simulate a subset of the columns (``columns``): each row line then carries the
load of the simulated cells plus ``c_row`` per cell for the whole row length, shared evenly by the
simulated columns (``row_share``), so the row-driver charge per column is that of the full array.

Cycle (one bit-plane; :func:`timeline`): precharge released, row lines of the set rows pulse for T
(50 % - 50 %, raised-cosine edges ``t_edge``), the sign latch clock rises when the row pulses are
complete (``clk1``, both latches), the clock falls after ``t_eval``,
the precharge restores the bitlines for ``t_restore``; the cycle ends in the state it started from.
A deck is a sequence of cycles (planes), each with its own row pattern; an all-zero plane has no
cycle (the controller skips it). Energy per cycle: VDD x (net precharge-supply charge + latch-supply
charge + pull-up charge of the row lines, the precharge clock and the latch clocks) over the cycle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import numbers
from typing import Sequence

import numpy as np

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.hadamard import ORDERS, hadamard
from ...core.pdk import PDK
from ...core.params import Bool, Choice, Constraint, Instance, Params, Real, param, positive
from ...core.validate import round12 as _r12
from ..comparator.netlist import ComparatorSizes, comparator_cell
from ...netlist.spice import pwl_source
from ...netlist.spice import PDK_NAME, TEMP, VDD, CycleTimeline, Device, Netlist, edge_points, ident, mos, num, pdk_of

BLOCK = "wht_column"
SIZES = (4, 8, 16, 32, 64)
EDGE_SEGMENTS = 4
C_WIRE_16NM = 1.0e-15
C_ROW_16NM = 0.1e-15
C_STITCH_16NM = 2.0e-15
CYCLES_MAX = 400
"""At most this many planes (cycles) in one deck."""


class Columns(Constraint):
    """Column indices simulated in a deck: a sequence of distinct integers (checked against ``n_cols``
    by :meth:`WhtParams.check`), converted to a tuple."""

    def allowed(self) -> str:
        """What is allowed."""
        return "distinct column indices 0 .. n_cols - 1"

    def check(self, value, where: str, desc: str = ""):
        """*value* as a tuple of ints."""
        try:
            cols = tuple(int(c) for c in value if not isinstance(c, bool) and int(c) == c)
            ok = len(cols) == len(tuple(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            self.fail(where, repr(value), desc, f"is not allowed: give {self.allowed()}")
        return cols


_CAP = Real(0.0, 1e-12, unit="F")
_SIZES = Choice(SIZES)


@dataclasses.dataclass(frozen=True)
class WhtParams(Params):
    """Parameters of a WHT crossbar deck. ``None`` fields resolve to per-PDK defaults on creation."""

    PDK_BOUND = True
    NONE_LABEL = "vdd"  # v_trim = None: tied to VDD

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    n_rows: int = param(16, _SIZES, "rows R (cells per column); above tile_rows the column is stitched")
    n_cols: int = param(16, _SIZES, "columns C of the transform; a deck may simulate a subset (columns)")
    order: str = param("sylvester", Choice(tuple(ORDERS), noun="Hadamard ordering"), "Hadamard ordering of the columns")
    vdd: float | None = param(None, VDD, "supply of precharge, row drivers and latches; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    t_pulse: float = param(60e-12, positive(100e-9, "s"), "row-line pulse width T, 50 % to 50 %")
    w_cell: float | None = param(None, positive(10e-6, "m"), "cell transistor width, at least Lmin / 2; None = 4 Lmin")
    l_cell: float | None = param(None, positive(10e-6, "m"), "cell transistor length, at least Lmin / 2; None = 4 Lmin")
    c_wire: float | None = param(None, _CAP, "bitline wire capacitance per cell; None = 1 fF x Lmin / 16 nm")
    c_row: float | None = param(None, _CAP, "row-line wire capacitance per cell; None = 0.1 fF x Lmin / 16 nm")
    c_stitch: float | None = param(None, _CAP, "extra capacitance per tile junction on a stitched line; None = 2 fF x Lmin / 16 nm")
    tile_rows: int = param(16, _SIZES, "rows of one tile")
    tile_cols: int = param(16, _SIZES, "columns of one tile")
    w_pre: float | None = param(None, positive(100e-6, "m"), "precharge and equaliser PMOS width, at least Lmin / 2; None = 16 Lmin")
    latch: ComparatorSizes | None = param(None, Instance(ComparatorSizes), "latch sizes; None = ComparatorSizes.default")
    ternary: bool = param(False, Bool(), "ternary output: upper and lower latches with thresholds +-V_th")
    v_trim: float | None = param(None, Real(unit="V"), "gate bias of the ternary trim devices, inside the rails; None = tied to VDD")
    w_trim: float | None = param(None, positive(100e-6, "m"), "ternary trim devices' width, at least Lmin / 2; None = 4 Lmin")
    c_load: float | None = param(None, _CAP, "load on each latch output; None = 0.5 fF x Lmin / 16 nm")
    columns: tuple[int, ...] | None = param(None, Columns(), "columns simulated in the deck (indices); None = all")
    t_edge: float = param(20e-12, positive(1e-9, "s"), "row-line, precharge and clock edges")
    t_eval: float = param(200e-12, positive(100e-9, "s"), "latch evaluate window (clock high)")
    t_restore: float = param(200e-12, positive(100e-9, "s"), "precharge restore after the latch clocks fall")
    t_step: float = param(5e-12, positive(1e-9, "s"), "maximum transient time step")

    def check(self):
        """Per-PDK defaults; VDD against the card; t_pulse > t_edge; sizes >= Lmin / 2; v_trim inside the
        rails; columns < n_cols; t_step <= t_edge."""
        p = pdk_of(self)
        L, sc = p.lmin, p.lmin / 16e-9
        vdd = p.vdd_nom if self.vdd is None else p.check_vdd(self.vdd)
        if self.t_pulse <= self.t_edge:
            raise ParameterError(f"t_pulse = {self.t_pulse:g} s is not longer than the edge t_edge = {self.t_edge:g} s: "
                                 f"give a pulse longer than its edge (T is measured 50 % to 50 %)")
        v = {}
        for name, default in (("c_wire", C_WIRE_16NM), ("c_row", C_ROW_16NM), ("c_stitch", C_STITCH_16NM),
                              ("c_load", 0.5e-15)):
            v[name] = _r12(default * sc) if getattr(self, name) is None else getattr(self, name)
        for name, k in (("w_cell", 4), ("l_cell", 4), ("w_pre", 16), ("w_trim", 4)):
            w = v[name] = _r12(k * L) if getattr(self, name) is None else getattr(self, name)
            if w < 0.5 * L:
                raise ParameterError(f"{name} = {w:g} m is below half the node's Lmin ({L:g} m): sizes are in metres")
        latch = ComparatorSizes.default(p) if self.latch is None else self.latch
        if self.v_trim is not None and not (0.0 <= self.v_trim <= vdd):
            raise ParameterError(f"v_trim = {self.v_trim:g} V is outside the rails [0, {vdd:g}] V")
        cols = tuple(range(self.n_cols)) if self.columns is None else self.columns
        if not cols or len(set(cols)) != len(cols) or min(cols) < 0 or max(cols) >= self.n_cols:
            raise ParameterError(f"columns = {self.columns!r}: give distinct column indices 0..{self.n_cols - 1}")
        if self.t_step > self.t_edge:
            raise ParameterError(
                f"t_step = {self.t_step:g} s is longer than the edge ({self.t_edge:g} s): give a smaller step")
        self._set(vdd=float(vdd), latch=latch, columns=cols, **v)

    @property
    def matrix(self) -> np.ndarray:
        """The R x C block of +-1 entries the cells are wired to: rows 0..R-1 and columns 0..C-1 of the
        Hadamard matrix of order max(R, C)."""
        n = max(self.n_rows, self.n_cols)
        return hadamard(n, self.order)[: self.n_rows, : self.n_cols]

    @property
    def bitline_junctions(self) -> int:
        """Tile junctions along each bitline: ``n_rows // tile_rows - 1`` (0 for one tile)."""
        return max(0, self.n_rows // self.tile_rows - 1)

    @property
    def row_junctions(self) -> int:
        """Tile junctions along each row line: ``n_cols // tile_cols - 1`` (0 for one tile)."""
        return max(0, self.n_cols // self.tile_cols - 1)

    @property
    def c_bitline_wire(self) -> float:
        """Explicit capacitance on each bitline (F): wire of every cell plus the stitch junctions."""
        return _r12(self.n_rows * self.c_wire + self.bitline_junctions * self.c_stitch)

    def pairs(self) -> tuple[tuple[str, object], ...]:
        """(name, value) pairs with numbers formatted by num(), for netlist headers: a None field as ``vdd``,
        ``columns`` as ``all`` or the simulated indices joined by ``-`` (after the other fields), latch
        sizes as ``latch.NAME``."""
        base = super().pairs()
        cols = self.columns
        head = [kv for kv in base if kv[0] != "columns" and not kv[0].startswith("latch.")]
        head.append(("columns", "all" if len(cols) == self.n_cols else "-".join(map(str, cols))))
        return tuple(head + [kv for kv in base if kv[0].startswith("latch.")])


@dataclasses.dataclass(frozen=True)
class Timeline(CycleTimeline):
    """Instants of an n-cycle deck (s); cycle c starts at ``start[c]``."""

    release: float
    """Precharge clock starts rising, relative to the cycle start."""
    row_rise: float
    row_fall: float
    clk1: float
    """Latch clock starts rising (relative): the sense instant."""
    clk_fall: float
    """The latch clock starts falling; the precharge clock starts falling too (relative)."""
    end: float


def timeline(params: WhtParams, n_cycles: int) -> Timeline:
    """The instants of an *n_cycles*-cycle deck of *params* (s): precharge release 10 ps into the cycle, the
    row pulse ``t_pulse`` after one edge and 10 ps, the latch clock one edge after the row pulse falls, held
    ``t_eval``, then ``t_restore`` before the next cycle (times rounded to 12 digits)."""
    e = params.t_edge
    release = 10e-12
    row_rise = release + e + 10e-12
    row_fall = row_rise + params.t_pulse
    clk1 = row_fall + e
    clk_fall = clk1 + params.t_eval
    period = _r12(clk_fall + e + params.t_restore)
    start = tuple(_r12(c * period) for c in range(n_cycles))
    return Timeline(start, period, e, release, _r12(row_rise), _r12(row_fall), _r12(clk1),
                    _r12(clk_fall), _r12(n_cycles * period))


def check_planes(params: WhtParams, planes) -> np.ndarray:
    """Signed plane patterns as an int array (cycles x rows) of -1, 0, +1 (one row per cycle)."""
    a = np.asarray(planes)
    if a.ndim != 2 or a.shape[1] != params.n_rows or a.shape[0] < 1:
        raise ParameterError(f"planes must be a (cycles, {params.n_rows}) array of -1/0/+1, got shape {a.shape}")
    if not np.all(np.isin(a, (-1, 0, 1))):
        raise ParameterError("plane entries must be -1, 0 or +1 (the signed bit of each row)")
    if a.shape[0] > CYCLES_MAX:
        raise ParameterError(f"{a.shape[0]} planes in one deck: at most {CYCLES_MAX}; split them over several decks")
    return a.astype(np.int64)


def pair_plane(params: WhtParams, k_pos: int, k_neg: int, column: int | None = None) -> np.ndarray:
    """A signed plane that makes ``k_pos`` cells pull the + bitline and ``k_neg`` the - bitline of
    *column* (default the first simulated column): rows 0..k_pos-1 pull +, the next k_neg rows pull -."""
    n = params.n_rows
    for v, what in ((k_pos, "k+"), (k_neg, "k-")):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ParameterError(f"{what} = {v!r} must be a non-negative integer")
    if k_pos + k_neg > n:
        raise ParameterError(f"k+ + k- = {k_pos + k_neg} is more than the {n} rows of the column")
    j = params.columns[0] if column is None else column
    h = params.matrix[:, j]
    want = np.zeros(n, dtype=np.int64)
    want[:k_pos] = 1
    want[k_pos:k_pos + k_neg] = -1
    return want * h  # input sign s with s x h = wanted bitline sign


def _pulses(tl: Timeline, cycles: Sequence[int], rise: float, fall: float, vdd: float,
            base: float = 0.0) -> list[tuple[float, float]]:
    """A waveform at *base* with a pulse to the other rail in each listed cycle."""
    top = vdd if base == 0.0 else 0.0
    pts = [(0.0, base)]
    for c in cycles:
        pts += edge_points(tl.at(c, rise), tl.t_edge, base, top, EDGE_SEGMENTS)
        pts += edge_points(tl.at(c, fall), tl.t_edge, top, base, EDGE_SEGMENTS)
    return pts


def _cycle_pulse(tl: Timeline, n: int, rise: float, fall: float, vdd: float) -> list[tuple[float, float]]:
    return _pulses(tl, range(n), rise, fall, vdd)


@dataclasses.dataclass(frozen=True)
class Circuit:
    """Element lines and MOSFETs of a crossbar deck (without the analysis): what the deck generator
    assembles."""

    lines: tuple[str, ...]
    devices: tuple[Device, ...]


def _circuit(params: WhtParams, planes: np.ndarray, p: PDK) -> Circuit:
    vdd, L = params.vdd, p.lmin
    h = params.matrix
    n, cols = params.n_rows, params.columns
    tl = timeline(params, planes.shape[0])
    lines = [f"* WHT crossbar {n} x {params.n_cols} ({params.order}), simulated columns {list(cols)}, "
             f"{planes.shape[0]} planes; decision 1 = v(bln) > v(blp) = more cells on the + bitline",
             f"vpre vdd_pre 0 {num(vdd)}", f"vlat vdd_lat 0 {num(vdd)}"]
    # precharge clock: low (precharging) except from release to clk_fall of every cycle
    lines += pwl_source("vpch", "pre_b", _pulses(tl, range(planes.shape[0]), tl.release, tl.clk_fall, vdd))
    lines += pwl_source("vclk1", "clk1", _cycle_pulse(tl, planes.shape[0], tl.clk1, tl.clk_fall, vdd))
    if params.ternary:
        lines.append(f"vtrim vtrim 0 {num(vdd if params.v_trim is None else params.v_trim)}")
    devices: list[Device] = []
    share = len(cols)
    c_row_line = _r12((params.n_cols * params.c_row + params.row_junctions * params.c_stitch) * share / params.n_cols)
    for r in range(n):
        for pol, sgn in (("p", 1), ("n", -1)):
            cyc = [c for c in range(planes.shape[0]) if planes[c, r] == sgn]
            node = f"r{pol}_{r}"
            if cyc:
                lines += pwl_source(f"vr{pol}_{r}", node, _pulses(tl, cyc, tl.row_rise, tl.row_fall, vdd))
            else:
                lines.append(f"vr{pol}_{r} {node} 0 0")
            if c_row_line > 0:
                lines.append(f"cr{pol}_{r} {node} 0 {num(c_row_line)}")
    for j in cols:
        blp, bln = f"blp_{j}", f"bln_{j}"
        for name, d in ((f"mpp_{j}", blp), (f"mpn_{j}", bln)):
            lines.append(mos(name, d, "pre_b", "vdd_pre", "vdd_pre", p.pmos, params.w_pre, L))
            devices.append(Device(name, "p", params.w_pre, L))
        lines.append(mos(f"mpe_{j}", blp, "pre_b", bln, "vdd_pre", p.pmos, params.w_pre, L))
        devices.append(Device(f"mpe_{j}", "p", params.w_pre, L))
        if params.c_bitline_wire > 0:
            lines += [f"cwp_{j} {blp} 0 {num(params.c_bitline_wire)}", f"cwn_{j} {bln} 0 {num(params.c_bitline_wire)}"]
        for r in range(n):
            pos, neg = (blp, bln) if h[r, j] > 0 else (bln, blp)
            for name, d, g in ((f"mcp_{r}_{j}", pos, f"rp_{r}"), (f"mcn_{r}_{j}", neg, f"rn_{r}")):
                lines.append(mos(name, d, g, "0", "0", p.nmos, params.w_cell, params.l_cell))
                devices.append(Device(name, "n", params.w_cell, params.l_cell))
        cl, cd = comparator_cell(f"a{j}", bln, blp, "clk1", "vdd_lat", f"dp_{j}", f"dn_{j}", params.latch, p)
        lines += cl
        devices += cd
        if params.c_load > 0:
            lines += [f"cldp_{j} dp_{j} 0 {num(params.c_load)}", f"cldn_{j} dn_{j} 0 {num(params.c_load)}"]
        if params.ternary:
            cl, cd = comparator_cell(f"b{j}", bln, blp, "clk1", "vdd_lat", f"dp2_{j}", f"dn2_{j}", params.latch, p)
            lines += cl
            devices += cd
            lines += [f"cldp2_{j} dp2_{j} 0 {num(params.c_load)}", f"cldn2_{j} dn2_{j} 0 {num(params.c_load)}"]
            # trims: upper latch (a) gets extra current on its inn side (threshold +V_th), lower latch (b) on inp (-V_th)
            lw = params.latch.l
            for name, x, tail in ((f"mtu_{j}", f"xn_a{j}", f"tail_a{j}"), (f"mtl_{j}", f"xp_b{j}", f"tail_b{j}")):
                lines.append(mos(name, x, "vtrim", tail, "0", p.nmos, params.w_trim, lw))
                devices.append(Device(name, "n", params.w_trim, lw))
    return Circuit(tuple(lines), tuple(devices))


def save_list(params: WhtParams, bitlines: bool = True) -> tuple[str, ...]:
    """The vectors a crossbar deck of *params* saves: time; the precharge, latch-supply, precharge-clock and
    latch-clock source currents; every row line's + / - source current; per simulated column the latch outputs
    (and the second latch's for a ternary pair) and, with *bitlines*, both bitline voltages."""
    out = ["time", "i(vpre)", "i(vlat)", "i(vpch)", "i(vclk1)"]
    for r in range(params.n_rows):
        out += [f"i(vrp_{r})", f"i(vrn_{r})"]
    for j in params.columns:
        out += [f"v(dp_{j})", f"v(dn_{j})"]
        if params.ternary:
            out += [f"v(dp2_{j})", f"v(dn2_{j})"]
        if bitlines:
            out += [f"v(blp_{j})", f"v(bln_{j})"]
    return tuple(out)


def wht_devices(params: WhtParams, pdk: PDK | None = None) -> tuple[Device, ...]:
    """The deck's transistors (the same for every plane sequence): Monte Carlo draws over all of them."""
    p = pdk or pdkmod.describe(params.pdk)
    return _circuit(params, np.zeros((1, params.n_rows), dtype=np.int64), p).devices


def planes_netlist(params: WhtParams, planes, pdk: PDK | None = None, bitlines: bool = True,
                   label: str = "") -> Netlist:
    """A deck that evaluates the given signed planes (cycles x rows of -1/0/+1) one per cycle on the
    simulated columns. Saves the latch outputs (and the bitlines unless ``bitlines=False``) and every
    supply and driver current."""
    p = pdkmod.for_params(params, WhtParams, pdk)
    planes = check_planes(params, planes)
    circ = _circuit(params, planes, p)
    tl = timeline(params, planes.shape[0])
    code = "".join("0+-"[int(v)] for v in planes.ravel())  # 0, + (1), - (-1)
    planes_id = code if len(code) <= 64 else hashlib.sha256(code.encode()).hexdigest()[:16]
    return Netlist(
        block=BLOCK,
        title=f"charz {BLOCK} {ident(params.pdk)} r{params.n_rows} c{params.n_cols} {label or 'planes'}",
        params=params.pairs() + (("cycles", planes.shape[0]), ("planes", planes_id)),
        body=circ.lines,
        card=p.path,
        card_sha256=p.sha256,
        analysis=f".tran {num(params.t_step)} {num(tl.end)}",
        save=save_list(params, bitlines),
        temp=params.temp,
        devices=circ.devices,
    )


def reachable_pairs(n_rows: int) -> list[tuple[int, int]]:
    """Every (k+, k-) with k+ + k- <= n_rows, ordered by k+ + k- then k+."""
    return [(kp, s - kp) for s in range(n_rows + 1) for kp in range(s + 1)]


def pairs_netlist(params: WhtParams, pairs: Sequence[tuple[int, int]], pdk: PDK | None = None) -> Netlist:
    """A one-column deck (first simulated column) with one cycle per (k+, k-) pair."""
    if len(params.columns) != 1:
        raise ParameterError("a (k+, k-) deck simulates one column: give columns=(j,)")
    planes = np.stack([pair_plane(params, kp, kn) for kp, kn in pairs]) if len(pairs) else np.zeros((0, params.n_rows))
    return planes_netlist(params, planes, pdk, label=f"pairs{len(pairs)}")


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden decks: one 16-row ternary column over four (k+, k-) pairs, and a 4 x 4 crossbar over two planes."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    col = WhtParams(pdk=p.name, columns=(0,), ternary=True)
    arr = WhtParams(pdk=p.name, n_rows=4, n_cols=4)
    planes = np.array([[1, -1, 0, 1], [0, 1, 1, -1]])
    return {
        f"wht_column16_{p.name}_pairs.cir": pairs_netlist(col, [(0, 0), (1, 0), (3, 2), (8, 8)], p).golden(),
        f"wht_array4x4_{p.name}.cir": planes_netlist(arr, planes, p).golden(),
    }
