"""SRAM (ternary) CAM row on a NOR match line: one word of W compare cells, match-line precharge, a replica
reference match line and a StrongARM sense amplifier.

Cell (bit j of the row; the stored bit is held by the cell's SRAM storage, modelled here as ideal node
voltages ``d_j`` / ``db_j``: a storage cell does not switch during a search, and its transistors do not
touch the match line) -- the compare half of the standard 10T NOR cell, two 2-NMOS pull-down stacks::

    device    drain  gate    source  role
    mta_j     ml     d_j     xa_j    stack A, data device (on top: the search line never couples onto ml)
    mba_j     xa_j   slb_j   0       stack A, search device: A conducts when stored 1 and searched 0
    mtb_j     ml     db_j    xb_j    stack B, data device
    mbb_j     xb_j   sl_j    0       stack B, search device: B conducts when stored 0 and searched 1

A binary cell stores ``d = bit``, ``db = NOT bit``; a ternary cell (``ternary=True``, the 16T TCAM cell whose
two storage bits drive ``d`` and ``db`` independently) may also store **X** ("don't care", :data:`X`):
``d = db = 0``, both stacks off, the cell never discharges the match line. A cell whose stored bit differs
from the searched bit (a *mismatch*) opens one stack; the match line discharges through the m mismatching
cells, so its voltage at a fixed sense instant falls with m, the Hamming distance between key and word.

Row periphery:

- ``mpre`` (PMOS, gate ``pre_b``) precharges ``ml`` to the precharge supply ``vdd_pre`` while ``pre_b`` is
  low; ``c_ml_cell`` per cell of match-line wire (explicit capacitor ``cml``);
- search lines: one pair ``sl_j`` / ``slb_j`` per bit, ideal drivers; both low during precharge (no stack
  conducts), then the searched bit drives ``sl_j`` high (bit 1) or ``slb_j`` high (bit 0). The lines run
  along the whole array: each also carries ``(rows - 1) x c_sl_cell`` (capacitor ``csl_j`` / ``cslb_j``:
  the other rows' compare-device gates and wire) besides the simulated row's and the replica row's gates;
- **replica reference match line** ``mlr``: a row on the same search lines whose W cells store X (their
  data devices' gates at 0 V: the row matches every key and loads every line like a data row), its own
  precharge PMOS ``mpref`` from ``vdd_ref``, and a weak pull-down stack ``mhs_t`` (gate at ``vdd_ref``) over
  ``mhs_b`` (gate ``sen``, a line that rises with the search lines), width ``w_cmp`` and length ``l_ref``
  (default twice the cells'): ``mlr`` falls like a match line with about half a mismatching cell, so it
  lies between the match (m = 0) and the one-mismatch (m = 1) levels at every instant, VDD and temperature;
- **sense amplifier**: the StrongARM latch of :mod:`charz.blocks.comparator.netlist` (default sizes, output
  inverters, no SR latch) with ``inp = ml``, ``inn = mlr``, strobed ``t_match`` after the search lines:
  decision 1 (``dp`` high) means ``V(ml) > V(mlr)``, fewer than one mismatching bit, i.e. **match**
  (the exact-match flag).

Two read-outs, two instants. A nearest-match search compares the rows' ``V(ml)`` among themselves at the
**sense instant** ``t_sense`` (the highest wins: the fewest mismatches; what
:mod:`charz.blocks.cam.model` does with the LUT): early, while every distance 0..W still gives its own
level (the cells are long, 4 Lmin, so that a mismatching cell pulls a nearly constant current and
``V_ML(m)`` falls linearly with m). The sense amplifier's exact-match flag needs the m = 0 and m = 1
levels far apart, which takes longer on a long match line: it strobes at ``t_match`` (default
:func:`default_t_match`, 400 ps at W = 16), after the sense instant so that its kickback (the latch's
input devices pull both lines down when it fires) never disturbs the sampled voltage.

The replica row is shared by every row of an array in a real CAM; the recipe charges its energy to the
rows in equal shares (``1 / rows`` each), as it does for the search lines.

Cycle (:func:`timeline`; a deck is a sequence of cycles, one search key each): the deck starts
precharged; ``pre_b`` rises at ``release`` (precharge off), the search lines and ``sen`` rise one edge
and 10 ps later (``sl_rise``), the sense instant is ``t_sense`` after the search lines' 50 % point, the
latch clock ``clk`` rises through 50 % at ``t_match`` after it and stays high ``t_latch``; then clock,
search lines and ``sen`` fall and ``pre_b`` falls (``fall``), and the precharge restores both match
lines for ``t_pre`` before the next cycle. Edges are raised-cosine ramps of ``t_edge`` (4-segment PWLs,
their corners are breakpoints).

Every transistor has a flat name (``mta_3``, ``mrbb_0``, ``mpre``, ``min_p``, ...) so Monte Carlo can
``alter`` each one; :func:`cam_devices` lists them (the same for every stored word and key sequence).

Defaults (ptm16hp, with this generator and :mod:`charz.blocks.cam.recipe`; the measurements are in this
folder's ``README.md``): compare devices W = 2 Lmin, L = 4 Lmin; replica pull-down L = 8 Lmin; precharge
PMOS 16 Lmin; the comparator's default StrongARM; ``c_ml_cell`` 0.1 fF and ``c_sl_cell`` 0.15 fF x Lmin /
16 nm; ``t_sense`` 80 ps, ``t_match`` 17.5 ps x (W + 7), ``t_latch`` 100 ps, ``t_pre`` 150 ps, ``t_edge``
20 ps, ``t_step`` 2.5 ps; 64 rows on the search lines.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Sequence

import numpy as np

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.pdk import PDK
from ...core.params import Bool, Instance, Int, Params, Real, param, positive
from ...core.validate import round12 as _r12
from ..comparator.netlist import ComparatorSizes, comparator_cell
from ...netlist.spice import PDK_NAME, TEMP, VDD, CycleTimeline, Device, Netlist, edge_points, ident, mos, num, pdk_of, pwl_source

BLOCK = "cam_sram"
X = -1
"""A stored "don't care" bit (ternary rows only): both compare stacks off."""
EDGE_SEGMENTS = 4
BITS_MAX = 256
CYCLES_MAX = 300
"""At most this many searches (cycles) in one deck."""
C_ML_CELL_16NM = 0.1e-15
C_SL_CELL_16NM = 0.15e-15
C_LOAD_16NM = 0.5e-15
T_MATCH_PER_CELL = 17.5e-12
T_MATCH_CELLS_LATCH = 7
_CAP = Real(0.0, 1e-12, unit="F")
_W = positive(100e-6, "m")


@dataclasses.dataclass(frozen=True)
class CamParams(Params):
    """Parameters of one SRAM-CAM row testbench (module docstring). ``None`` fields resolve to per-PDK
    defaults on creation, so two parameter objects that print the same make the same deck."""

    PDK_BOUND = True

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    n_bits: int = param(16, Int(1, BITS_MAX, unit="bits"), "word length W: compare cells on the match line, bits")
    rows: int = param(64, Int(1, 65536, unit="rows"), "rows of the array sharing the search lines (their load; "
                                                      "energy shares), rows")
    ternary: bool = param(False, Bool(), "ternary cells (16T TCAM): a stored bit may be X (don't care)")
    vdd: float | None = param(None, VDD, "supply of precharge, search-line drivers and sense amplifier, V; "
                                         "None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature, degC")
    w_cmp: float | None = param(None, _W, "compare-stack NMOS width (all four devices of a cell), m; None = 2 Lmin")
    l_cmp: float | None = param(None, _W, "compare-stack NMOS length, m; None = 4 Lmin")
    w_pre: float | None = param(None, _W, "match-line precharge PMOS width (mpre, mpref), m; None = 16 Lmin")
    l_ref: float | None = param(None, _W, "replica pull-down length (both devices, width w_cmp), m: sets the "
                                          "sense threshold between 0 and 1 mismatch; None = 2 x l_cmp")
    latch: ComparatorSizes | None = param(None, Instance(ComparatorSizes), "sense-amplifier (StrongARM) sizes; "
                                                                           "None = ComparatorSizes.default")
    c_ml_cell: float | None = param(None, _CAP, "match-line wire capacitance per cell, F; "
                                                "None = 0.1 fF x Lmin / 16 nm")
    c_sl_cell: float | None = param(None, _CAP, "search-line load of each other row (gate + wire), F; "
                                                "None = 0.15 fF x Lmin / 16 nm")
    c_load: float | None = param(None, _CAP, "load on each sense-amplifier output dp, dn, F; "
                                             "None = 0.5 fF x Lmin / 16 nm")
    t_edge: float = param(20e-12, positive(1e-9, "s"), "every clock, precharge and search-line edge (0-100 %), s")
    t_sense: float = param(80e-12, positive(100e-9, "s"), "sense instant of the distance read-out (V_ML sampled) "
                                                          "after the search lines' 50 % point, s")
    t_match: float | None = param(None, positive(100e-9, "s"), "sense-amplifier strobe (its clock at 50 %) after "
                                                               "the search lines' 50 % point, at least t_sense, s; "
                                                               "None = 17.5 ps x (W + 7), to 10 ps (400 ps at W = 16)")
    t_latch: float = param(100e-12, positive(100e-9, "s"), "sense-amplifier evaluate window (clock high), s")
    t_pre: float = param(150e-12, positive(100e-9, "s"), "match-line precharge (restore) after a search, s")
    t_step: float = param(2.5e-12, positive(1e-9, "s"), "maximum transient time step, s")

    def check(self):
        """Per-PDK defaults; VDD against the card; sizes >= Lmin / 2; the sense instant, the latch window and
        the precharge longer than one edge; the strobe not before the sense instant; t_step <= t_edge."""
        p = pdk_of(self)
        L, sc = p.lmin, p.lmin / 16e-9
        vdd = p.vdd_nom if self.vdd is None else p.check_vdd(self.vdd)
        v = {}
        caps = (("c_ml_cell", C_ML_CELL_16NM), ("c_sl_cell", C_SL_CELL_16NM), ("c_load", C_LOAD_16NM))
        for name, default in caps:
            v[name] = _r12(default * sc) if getattr(self, name) is None else getattr(self, name)
        for name, k in (("w_cmp", 2), ("l_cmp", 4), ("w_pre", 16)):
            w = v[name] = _r12(k * L) if getattr(self, name) is None else getattr(self, name)
            if w < 0.5 * L:
                raise ParameterError(f"{name} = {w:g} m is below half the node's Lmin ({L:g} m): sizes are in metres")
        v["l_ref"] = _r12(2 * v["l_cmp"]) if self.l_ref is None else self.l_ref
        if v["l_ref"] < 0.5 * L:
            raise ParameterError(f"l_ref = {v['l_ref']:g} m is below half the node's Lmin ({L:g} m): sizes are in "
                                 f"metres")
        e = self.t_edge
        for name in ("t_sense", "t_latch", "t_pre"):
            if getattr(self, name) <= e:
                raise ParameterError(f"{name} = {getattr(self, name):g} s is not longer than the edge t_edge = "
                                     f"{e:g} s: give a longer {name} or a shorter edge")
        t_match = default_t_match(self.n_bits) if self.t_match is None else self.t_match
        if t_match < self.t_sense:
            raise ParameterError(f"t_match = {t_match:g} s is before the sense instant t_sense = {self.t_sense:g} s: "
                                 f"the sense amplifier's kickback would disturb the sampled match line; give "
                                 f"t_match >= t_sense")
        if self.t_step > e:
            raise ParameterError(f"t_step = {self.t_step:g} s is longer than the edge ({e:g} s): give a smaller step")
        latch = ComparatorSizes.default(p) if self.latch is None else self.latch
        self._set(vdd=float(vdd), latch=latch, t_match=t_match, **v)


def default_t_match(n_bits: int) -> float:
    """The sense amplifier's default strobe after the search lines' 50 % point (s): 17.5 ps x (W + 7) rounded
    to 10 ps (400 ps at W = 16, 190 ps at W = 4). The match line's load grows as W + 7 cells (the sense
    amplifier's input counts as 7 on ptm16hp), so the gap between the m = 0 and m = 1 levels at the strobe
    hardly depends on W (the measurements are in this folder's README)."""
    return _r12(round(T_MATCH_PER_CELL * (n_bits + T_MATCH_CELLS_LATCH) / 10e-12) * 10e-12)


@dataclasses.dataclass(frozen=True)
class Timeline(CycleTimeline):
    """Instants of an n-cycle deck (s); cycle c starts at ``start[c]``, the others are relative to it."""

    release: float
    """``pre_b`` starts rising (precharge off)."""
    sl_rise: float
    """The search lines and ``sen`` start rising."""
    sense: float
    """The sense instant of the distance read-out: ``t_sense`` after the search lines' 50 % point."""
    match: float
    """The sense amplifier's strobe: ``t_match`` after the search lines' 50 % point (latch clock at 50 %)."""
    fall: float
    """Latch clock, search lines, ``sen`` and ``pre_b`` start falling (end of the latch's evaluate window)."""
    end: float

    @property
    def sl_50(self) -> float:
        """The search lines' 50 % point (relative): the origin of ``t_sense`` and the discharge time."""
        return _r12(self.sl_rise + self.t_edge / 2)


def timeline(params: CamParams, n_cycles: int) -> Timeline:
    """The instants of an *n_cycles*-cycle deck (s): release 10 ps into the cycle, search lines one edge and
    10 ps later, the sense instant ``t_sense`` and the latch clock's 50 % point ``t_match`` after the search
    lines' 50 % point, the clock high for ``t_latch``, then ``t_pre`` of precharge after the falling edges
    (times rounded to 12 digits)."""
    e = params.t_edge
    release = 10e-12
    sl_rise = release + e + 10e-12
    sense = sl_rise + e / 2 + params.t_sense
    match = sl_rise + e / 2 + params.t_match
    fall = match - e / 2 + params.t_latch
    period = _r12(fall + e + params.t_pre)
    start = tuple(_r12(c * period) for c in range(n_cycles))
    return Timeline(start, period, e, _r12(release), _r12(sl_rise), _r12(sense), _r12(match), _r12(fall),
                    _r12(n_cycles * period))


# ---- words and keys ----------------------------------------------------------------------------------
def check_word(params: CamParams, stored) -> np.ndarray:
    """A stored word as an int array (W,) of 0, 1 (and :data:`X` = -1 in a ternary row)."""
    a = np.asarray(stored)
    allowed = (0, 1, X) if params.ternary else (0, 1)
    if a.shape != (params.n_bits,) or not np.all(np.isin(a, allowed)):
        what = "0 / 1 / X (-1)" if params.ternary else "0 / 1 (X needs ternary=True)"
        raise ParameterError(f"the stored word must be {params.n_bits} bits of {what}, got {a.tolist()!r}")
    return a.astype(np.int64)


def check_keys(params: CamParams, keys) -> np.ndarray:
    """Search keys as an int array (cycles, W) of 0 / 1, one key per cycle (at most :data:`CYCLES_MAX`)."""
    a = np.asarray(keys)
    ok = a.ndim == 2 and a.shape[1] == params.n_bits and 1 <= a.shape[0] <= CYCLES_MAX
    if not ok or not np.all(np.isin(a, (0, 1))):
        raise ParameterError(f"keys must be a (cycles, {params.n_bits}) array of 0 / 1 with 1 to {CYCLES_MAX} "
                             f"cycles, got shape {a.shape}")
    return a.astype(np.int64)


def default_word(n_bits: int) -> np.ndarray:
    """The word the recipe stores: 1, 0, 1, 0, ... (each stack type in half the cells)."""
    return (1 - np.arange(n_bits) % 2).astype(np.int64)


def distance_keys(params: CamParams, ms: Sequence[int], stored=None) -> np.ndarray:
    """One key per entry of *ms*: the stored word (default :func:`default_word`) with its first m cared bits
    flipped, so key k mismatches the word in exactly ``ms[k]`` cells (X cells never mismatch)."""
    word = check_word(params, default_word(params.n_bits) if stored is None else stored)
    cared = np.flatnonzero(word != X)
    keys = np.where(word == X, 0, word)[None, :].repeat(len(ms), axis=0)
    for k, m in enumerate(ms):
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or not 0 <= m <= cared.size:
            raise ParameterError(f"m = {m!r} mismatches: give an integer 0 to {cared.size} (the cared bits)")
        keys[k, cared[:m]] ^= 1
    return keys


def mismatches(stored: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Mismatching cells per key: ``sum(stored != key)`` over the cared bits (X never mismatches)."""
    stored, keys = np.asarray(stored), np.asarray(keys)
    return np.sum((stored != X) & (stored != keys), axis=-1)


# ---- the circuit ----------------------------------------------------------------------------------------
def _edge(t0: float, dur: float, v0: float, v1: float) -> list[tuple[float, float]]:
    return edge_points(t0, dur, v0, v1, EDGE_SEGMENTS)


def _pulses(tl: Timeline, cycles: Sequence[int], rise: float, fall: float, vdd: float) -> list[tuple[float, float]]:
    """A waveform at 0 V with a pulse to *vdd* in each listed cycle (rising edge at *rise*, falling at *fall*)."""
    pts = [(0.0, 0.0)]
    for c in cycles:
        pts += _edge(tl.at(c, rise), tl.t_edge, 0.0, vdd) + _edge(tl.at(c, fall), tl.t_edge, vdd, 0.0)
    return pts


def _source(name: str, node: str, tl: Timeline, cycles: Sequence[int], rise: float, fall: float,
            vdd: float) -> list[str]:
    if not cycles:
        return [f"{ident(name)} {ident(node)} 0 0"]
    return pwl_source(name, node, _pulses(tl, cycles, rise, fall, vdd))


def _stacks(prefix: str, ml: str, d: str, db: str, j: int, w: float, l: float, nmos: str) -> list[tuple]:
    """The two pull-down stacks of cell *j* on *ml* (device prefix ``m<prefix>``), as
    (name, drain, gate, source, bulk, model, W, L, type) rows."""
    xa, xb = f"{prefix}xa_{j}", f"{prefix}xb_{j}"
    rows = [(f"m{prefix}ta_{j}", ml, d, xa), (f"m{prefix}ba_{j}", xa, f"slb_{j}", "0"),
            (f"m{prefix}tb_{j}", ml, db, xb), (f"m{prefix}bb_{j}", xb, f"sl_{j}", "0")]
    return [(name, dr, g, src, "0", nmos, w, l, "n") for name, dr, g, src in rows]


@dataclasses.dataclass(frozen=True)
class Circuit:
    """Element lines and MOSFETs of a row deck (without the analysis)."""

    lines: tuple[str, ...]
    devices: tuple[Device, ...]


def _circuit(params: CamParams, stored: np.ndarray, keys: np.ndarray, p: PDK) -> Circuit:
    vdd, L, W = params.vdd, p.lmin, params.n_bits
    n = keys.shape[0]
    tl = timeline(params, n)
    w, l = params.w_cmp, params.l_cmp
    word = "".join("X" if b == X else str(b) for b in stored)
    lines = [f"* SRAM {'ternary ' if params.ternary else ''}CAM row, {W} bits, stored {word}, {n} searches; "
             f"sense amplifier decision 1 = v(ml) > v(mlr) = match",
             f"vpre vdd_pre 0 {num(vdd)}", f"vpref vdd_ref 0 {num(vdd)}", f"vlat vdd_lat 0 {num(vdd)}"]
    every = range(n)
    lines += _source("vpch", "pre_b", tl, every, tl.release, tl.fall, vdd)
    lines += _source("vclk", "clk", tl, every, tl.match - tl.t_edge / 2, tl.fall, vdd)
    lines += _source("vsen", "sen", tl, every, tl.sl_rise, tl.fall, vdd)
    c_sl = _r12((params.rows - 1) * params.c_sl_cell)
    for j in range(W):
        lines += _source(f"vsl_{j}", f"sl_{j}", tl, [c for c in every if keys[c, j] == 1], tl.sl_rise, tl.fall, vdd)
        lines += _source(f"vslb_{j}", f"slb_{j}", tl, [c for c in every if keys[c, j] == 0], tl.sl_rise, tl.fall, vdd)
        if c_sl > 0:
            lines += [f"csl_{j} sl_{j} 0 {num(c_sl)}", f"cslb_{j} slb_{j} 0 {num(c_sl)}"]
        d, db = (0.0, 0.0) if stored[j] == X else (float(stored[j]), float(1 - stored[j]))
        lines += [f"vd_{j} d_{j} 0 {num(d * vdd)}", f"vdb_{j} db_{j} 0 {num(db * vdd)}"]
    t = [("mpre", "ml", "pre_b", "vdd_pre", "vdd_pre", p.pmos, params.w_pre, L, "p"),
         ("mpref", "mlr", "pre_b", "vdd_ref", "vdd_ref", p.pmos, params.w_pre, L, "p")]
    for j in range(W):
        t += _stacks("", "ml", f"d_{j}", f"db_{j}", j, w, l, p.nmos)
    for j in range(W):  # the replica row: every cell stores X (data gates at 0 V)
        t += _stacks("r", "mlr", "0", "0", j, w, l, p.nmos)
    lr = params.l_ref
    t += [("mhs_t", "mlr", "vdd_ref", "hx", "0", p.nmos, w, lr, "n"),
          ("mhs_b", "hx", "sen", "0", "0", p.nmos, w, lr, "n")]
    devices = []
    for name, d, g, s, b, model, ww, ll, kind in t:
        lines.append(mos(name, d, g, s, b, model, ww, ll))
        devices.append(Device(name, kind, ww, ll))
    c_ml = _r12(W * params.c_ml_cell)
    if c_ml > 0:
        lines += [f"cml ml 0 {num(c_ml)}", f"cmlr mlr 0 {num(c_ml)}"]
    cl, cd = comparator_cell(None, "ml", "mlr", "clk", "vdd_lat", "dp", "dn", params.latch, p)
    lines += cl
    devices += cd
    if params.c_load > 0:
        lines += [f"cldp dp 0 {num(params.c_load)}", f"cldn dn 0 {num(params.c_load)}"]
    return Circuit(tuple(lines), tuple(devices))


def save_list(params: CamParams) -> tuple[str, ...]:
    """The vectors a row deck saves: time, both match lines, the sense-amplifier outputs, every supply and
    driver current (precharge supplies, latch supply, precharge clock, latch clock, ``sen``, search lines)."""
    out = ["time", "v(ml)", "v(mlr)", "v(dp)", "v(dn)", "i(vpre)", "i(vpref)", "i(vlat)", "i(vpch)", "i(vclk)",
           "i(vsen)"]
    for j in range(params.n_bits):
        out += [f"i(vsl_{j})", f"i(vslb_{j})"]
    return tuple(out)


def cam_devices(params: CamParams, pdk: PDK | None = None) -> tuple[Device, ...]:
    """The deck's transistors (the same for every stored word and key sequence): Monte Carlo draws over all."""
    p = pdk or pdkmod.describe(params.pdk)
    W = params.n_bits
    return _circuit(params, np.zeros(W, dtype=np.int64), np.zeros((1, W), dtype=np.int64), p).devices


def search_netlist(params: CamParams, stored, keys, pdk: PDK | None = None, label: str = "") -> Netlist:
    """A deck that searches the row holding *stored* (W bits, X allowed in a ternary row) with each key of
    *keys* (cycles x W of 0 / 1), one search per cycle. *pdk*, if given, must be the card-resolved PDK of
    ``params.pdk``."""
    p = pdkmod.for_params(params, CamParams, pdk)
    word = check_word(params, stored)
    keys = check_keys(params, keys)
    circ = _circuit(params, word, keys, p)
    tl = timeline(params, keys.shape[0])
    ms = mismatches(word, keys)
    return Netlist(
        block=BLOCK,
        title=f"charz {BLOCK} {ident(params.pdk)} w{params.n_bits} {label or 'search'}",
        params=params.pairs() + (("stored", "".join("X" if b == X else str(b) for b in word)),
                                 ("cycles", keys.shape[0]), ("mismatches", "-".join(map(str, ms)))),
        body=circ.lines,
        card=p.path,
        card_sha256=p.sha256,
        analysis=f".tran {num(params.t_step)} {num(tl.end)}",
        save=save_list(params),
        temp=params.temp,
        devices=circ.devices,
    )


def distance_netlist(params: CamParams, ms: Sequence[int], pdk: PDK | None = None) -> Netlist:
    """The recipe's deck: the row stores :func:`default_word`; cycle k searches a key at Hamming distance
    ``ms[k]`` (:func:`distance_keys`)."""
    keys = distance_keys(params, ms)
    return search_netlist(params, default_word(params.n_bits), keys, pdk, label=f"m{len(ms)}")


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden decks: the default 16-bit row searched at distances 0, 1, 2 and 16, and a 4-bit ternary row
    storing 1 X 0 X searched with two keys."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    row = CamParams(pdk=p.name)
    tern = CamParams(pdk=p.name, n_bits=4, rows=16, ternary=True)
    return {
        f"cam_sram16_{p.name}_distance.cir": distance_netlist(row, [0, 1, 2, 16], p).golden(),
        f"cam_tcam4_{p.name}_dont_care.cir": search_netlist(tern, [1, X, 0, X], [[1, 0, 0, 1], [0, 1, 1, 0]], p,
                                                            label="dont_care").golden(),
    }
