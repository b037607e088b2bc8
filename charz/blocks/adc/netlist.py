"""Successive-approximation (SA) converters: conventional SAR (binary capacitive DAC) and the
memory-immersed SA whose DAC is groups of bitlines of a neighbouring CiM array.

What is transistor-level and what is ideal
------------------------------------------
Transistor level (BSIM4, Monte Carlo ``delvto`` on every device): the sampling switches, the DAC
switches / bitline drivers and share switches, the StrongARM comparator with its NOR SR output latch
(:func:`charz.blocks.comparator.netlist.comparator_cell`), and for the memory-immersed SA the read ports of the
borrowed bitlines' cells. The capacitors are explicit ``C`` elements (conventional unit capacitor;
bitline wire capacitance ``n_rows x c_wire``).

Ideal (behavioural): the **SA logic**. One bit register per bit is a B-source "track-and-hold": a
smooth conductance ``g = v(cap_b) / 100 ohm`` from the comparator's latched output ``q`` onto a 10 fF
hold node ``rb_b`` while the capture strobe ``cap_b`` is high (the strobe sits right after the clock
falls, when the SR latch holds the decision of the cycle). The DAC control of bit b is the B-source
``d_b = VDD * trial_b + dec_b * v(rb_b)``: ``trial_b`` (a PWL strobe, 0..1) is high during the bit's
own cycle (trial value 1), ``dec_b`` is high from the next cycle to the end of the conversion (the
decided value). The gate voltages of the transistor switches are B-source functions of ``d_b`` and
of the phase strobes, so the switches see clean CMOS-level gate drives (their driver energy is **not**
counted: it belongs to the ideal logic). No ``.model`` and no XSPICE is needed.

Conventional SAR (``kind="sar"``), bottom-plate sampling
-------------------------------------------------------
Binary capacitors ``C_b = 2^b c_unit`` (b = 0..n-1) plus a dummy ``c_unit`` share the top plate
``top``. Every bottom plate ``bp_b`` has a transmission gate to the input ``vin`` (sampling) and a
split-gate inverter as reference driver: PMOS to ``vhi`` = vref_hi, NMOS to ``vlo`` = vref_lo (4
transistors per bit, as in :mod:`charz.blocks.adc.model_area`). Switch widths scale with the capacitor
(``w_switch`` x units, at least ``w_switch``).

- **Sample**: the top plate is held at ``vcm`` (= ``vcm_ratio`` x VDD, the comparator's common mode)
  by a transmission gate, the bottom plates track ``vin``. The top switch opens first (bottom-plate
  sampling: its charge injection does not depend on vin to first order), then the input gates.
- **Conversion**: every bottom plate is driven to vhi (bit = 1) or vlo; with trial code D the floating
  top plate sits at ``vcm - vin + vlo + (vhi - vlo) D / 2^n`` (top-plate parasitics only scale the
  swing: the comparison point does not move). The comparator compares ``inp = topr`` with
  ``inn = top``: ``topr`` is a dummy top plate (a capacitor of the whole DAC's value to ground, sampled
  to ``vcm`` by an identical gate at the same instant), so the comparator's kickback and the top
  switches' charge injection are common mode (with ``inp`` tied to an ideal vcm source the kickback
  onto the 8 fF top plate of a 3-bit DAC shifted every edge by about one LSB). It decides 1 (keep the bit) when ``vin > vlo + (vhi - vlo) D / 2^n``. Ideal edges are
  therefore ``vref_lo + c (vref_hi - vref_lo) / 2^n`` (the ``absolute`` line of
  :func:`charz.blocks.adc.model.inl_dnl`).

Memory-immersed SA (``kind="mi_sar"``), charge sharing on borrowed bitlines
---------------------------------------------------------------------------
The DAC is ``2^n`` bitlines of the neighbouring (idle) CiM array in groups of 1 (dummy), 1, 2, 4, ...
2^(n-1) bitlines (group ``g_b`` for bit b, ``g_d`` dummy). Each bitline is built by :func:`bitline`:
the read ports of the ``n_rows`` 8T cells on it (their drains load the bitline; weights held at 0,
read wordlines low, as an idle array) plus ``n_rows x c_wire`` of wire (the column's default
``c_wire``). Per bitline: a driver pair (PMOS to vhi, NMOS to vlo, widths ``w_drive`` and 2 ``w_drive``) and a share transmission gate to the common reference node ``ref``.

- Every SA cycle: share gates open, each group is driven to vhi (d_b = 1) or vlo (dummy: vlo), the
  drivers turn off, the share gates close, and ``ref = vlo + (vhi - vlo) D / 2^n`` by charge sharing
  (the small capacitance of ``ref`` itself keeps the previous value's charge: an error of about
  C_ref / C_DAC). The comparator compares ``inp = hold`` (the input) with ``inn = ref``.
- The input is the computing column's own bitline (``hold``, built by :func:`bitline` as well),
  written to the input level through a sampling transmission gate from ``vin`` during the sample
  phase (standing for the column evaluation that produced it), then floating.
- Cells: ``lumped_cells=True`` (default) writes the N read ports of a bitline as one pair of devices
  with ``m=N`` (nominally identical; Monte Carlo draws one ``delvto`` with the Pelgrom sigma of the
  N-fold area); ``False`` writes every cell (slow at 5-6 bits). Device mismatch of the cells moves
  their threshold, not their drain capacitance: it reaches the DAC as **leakage** mismatch, hardly as
  capacitor mismatch. Capacitor mismatch is a separate, explicit draw (``a_cap`` in the recipe).

Hybrid (``flash_bits`` = m > 0, block ``adc_hybrid``): flash MSBs, then SA LSBs
-----------------------------------------------------------------------------------
The SA converter above (either DAC) plus a coarse flash: a ladder of 2^m ideal resistors
(``r_ladder`` in all, default 32 kOhm = the 5-bit flash's ladder) from ``vlo`` to ``vhi`` with
``c_tap`` (100 fF) on every tap, and 2^m - 1 StrongARM comparators with SR latches (``qf<c>``),
comparing the converter's input (``hold`` for the bitline DAC, ``vin`` for the MOM DAC) with tap c =
``vref_lo + c (vref_hi - vref_lo) / 2^m`` (the SA's edges at multiples of 2^(n-m) codes). They are
clocked by their own clock ``clkf`` in the first cycle only; the SA comparator then resolves the
n - m LSBs, one per cycle (``n_cycles`` = 1 + n - m). The m MSB registers capture the ones count of
the thermometer code (ideal encoder: ``floor`` of the count in a B-source) and drive their DAC
groups as decided values from the first SA cycle on. No redundancy: a coarse decision error leaves
the SA inside the wrong segment (a wide or missing code at the segment boundary). Each coarse
comparator samples the input and its tap on two equal capacitors ``c_fs`` (2 fF) through transmission
gates that open with the input sampling gate, so its kickback lands on two equal floating nodes (common
mode). The measurements behind this input network are in this folder's ``README.md``.

Timing (:func:`timeline`)
-------------------------
A deck holds one or more conversions back to back (the input steps between them, while the sampling
switch is open). A conversion = a sample phase ``t_sample`` then n bit cycles of ``t_clk`` then a
capture tail of 4 ``t_edge``: ``t_conv = t_sample + n t_clk + 4 t_edge``. In bit cycle k (bit
n-1-k) starting at C_k: [C_k + e, C_k + 3e] capture of cycle k-1's decision, [C_k + 4e, C_k + 5e]
DAC update (the previous bit's trial becomes its decision, this bit's trial goes up), (mi_sar: drivers
on from C_k + e to C_k + T/2, share gates on from C_k + T/2 + e), comparator clock high for the last
``eval_time`` of the cycle (T/2 for sar, T/4 for mi_sar).
Edges are raised-cosine ramps of ``t_edge`` (4-segment PWLs, breakpoints at their corners).

Defaults: bits 5; ``c_unit`` 1 fF; ``vref_lo`` = 0.35 VDD, ``vref_hi`` = VDD (about the swing of the
default 16-row CiM column, V(16) .. V(0)); ``t_clk`` = the comparator's default (400 ps on ptm16hp) for
``sar`` and twice that for ``mi_sar`` (the bitline groups need the longer drive/share phases);
``t_sample`` = max(t_clk, 2 x the comparator's t_clk) = 800 ps on ptm16hp for both kinds (with 400 ps
the conventional SAR's sampling gates did not settle from the previous conversion's DAC state under
Monte Carlo: codes of inputs taken in random order differed by 2 LSB from the same instance's ramp-
swept transfer curve; with 800 ps they agree within the sweep's step); ``t_edge`` = comparator default t_clk / 20; ``w_switch`` 4 Lmin;
``w_drive`` 32 Lmin (NMOS 64 Lmin); ``t_step`` = t_edge / 5.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.pdk import PDK
from ...core.params import Bool, Choice, Instance, Int, Params, Real, param, positive
from ...core.validate import finite, round12 as _r12
from ...netlist.cells import CellSizes
from ..cim_column.netlist import C_WIRE_16NM
from ..comparator.netlist import ComparatorSizes, _edge, _pwl, comparator_cell, default_t_clk
from ...netlist.spice import PDK_NAME, TEMP, VDD, Device, Netlist, ident, mos, num, pdk_of

KINDS = ("sar", "mi_sar")
BLOCKS = {"sar": "adc_sar", "mi_sar": "adc_mi_sar"}
HYBRID_BLOCK = "adc_hybrid"
MAX_FLASH_BITS = 3
R_LADDER = 32e3
"""Hybrid: total resistance of the coarse reference ladder [ohm] (the 5-bit flash's 32 x 1 kOhm)."""
C_TAP = 100e-15
C_FS = 2e-15
MIN_BITS, MAX_BITS = 3, 6
MAX_CONVERSIONS = 512
"""At most this many conversions in one deck."""
REG_C = 10e-15
REG_R = 100.0
C_LOAD_16NM = 0.5e-15
DRIVE_RATIO = 4
"""Conventional DAC: reference-driver width / sampling-gate width of the same capacitor."""




@dataclasses.dataclass(frozen=True)
class SarParams(Params):
    """Parameters of one SA converter deck. ``None`` fields resolve to per-PDK defaults on creation."""

    PDK_BOUND = True
    HYBRID_ONLY = ("flash_bits", "r_ladder", "c_tap", "c_fs")
    """Fields recorded by :meth:`as_dict` only when ``flash_bits`` > 0."""

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    bits: int = param(5, Int(MIN_BITS, MAX_BITS, unit="bits"), "SA converter resolution n (bits)")
    kind: str = param("sar", Choice(KINDS, noun="SA kind"), '"sar" (conventional binary CDAC) or "mi_sar" (memory-immersed, bitline DAC)')
    vdd: float | None = param(None, VDD, "supply; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    vref_lo: float | None = param(None, Real(unit="V"), "lower reference = bottom of the input range, inside the rails; None = 0.35 VDD")
    vref_hi: float | None = param(None, Real(unit="V"), "upper reference = top of the input range, inside the rails; None = VDD")
    c_unit: float = param(1e-15, positive(1e-12, "F"), "unit capacitor of the conventional CDAC")
    n_rows: int = param(16, Int(8, 64), "cells per borrowed bitline (mi_sar)")
    n_bitlines: int = param(64, Int(1, 4096), "bitlines (columns) of the neighbour array (mi_sar needs 2^bits of them)")
    c_wire: float | None = param(None, Real(0.0, 1e-12, unit="F"), "wire capacitance per cell (mi_sar); None = the CiM column's default")
    cell_sizes: CellSizes | None = param(None, Instance(CellSizes), "8T cell sizes of the borrowed bitlines; None = CellSizes.default")
    comparator_sizes: ComparatorSizes | None = param(None, Instance(ComparatorSizes), "comparator sizes; None = ComparatorSizes.default")
    c_load: float | None = param(None, Real(0.0, 1e-12, unit="F"), "comparator output load on dp/dn; None = 0.5 fF x Lmin / 16 nm")
    t_clk: float | None = param(None, positive(1e-6, "s"), "bit-cycle period (comparator reset half, evaluate half); None = comparator default (x2 for mi_sar)")
    t_sample: float | None = param(None, positive(1e-6, "s"), "sample phase; None = max(t_clk, 2 x the comparator's t_clk)")
    t_edge: float | None = param(None, positive(1e-7, "s"), "edge duration (raised cosine); None = comparator t_clk / 20")
    vcm_ratio: float = param(0.7, Real(0.2, 0.95), "top-plate / comparator common mode of the conventional SAR, fraction of VDD")
    w_switch: float | None = param(None, positive(100e-6, "m"), "unit switch width (sar: x capacitor units; mi_sar: sampling/share gates); None = 4 Lmin")
    w_drive: float | None = param(None, positive(100e-6, "m"), "bitline driver PMOS width per bitline (mi_sar; NMOS twice); None = 32 Lmin")
    lumped_cells: bool = param(True, Bool(), "write the N read ports of a borrowed bitline as one device pair with m = N")
    t_step: float | None = param(None, positive(1e-8, "s"), "maximum transient time step; None = t_edge / 5")
    flash_bits: int = param(0, Int(0, MAX_FLASH_BITS), "hybrid flash MSBs (0 = plain SA; at most bits - 1)")
    """Hybrid: m MSBs decided in one cycle by 2^m - 1 coarse comparators on a reference ladder, the
    other n - m bits by SA (0 = a plain SA converter; 1 .. min(3, n - 1))."""
    r_ladder: float = param(R_LADDER, positive(1e8, "ohm"), "hybrid: total resistance of the coarse ladder (ideal resistors)")
    c_tap: float = param(C_TAP, Real(0.0, 1e-10, unit="F"), "hybrid: decoupling capacitor on every coarse ladder tap (ideal)")
    c_fs: float = param(C_FS, Real(0.0, 1e-12, unit="F"), "hybrid: each coarse comparator's input and tap sampling capacitors (0 = wired directly)")

    def check(self):
        """Per-PDK defaults; references inside the rails and >= 5 % VDD apart; 2^bits bitlines for mi_sar;
        t_clk >= 12 t_edge; t_sample >= 6 t_edge; t_step <= t_edge; flash_bits <= bits - 1."""
        p = pdk_of(self)
        bits = self.bits
        vdd = float(p.vdd_nom if self.vdd is None else p.check_vdd(self.vdd))
        lo = _r12(0.35 * vdd) if self.vref_lo is None else self.vref_lo
        hi = vdd if self.vref_hi is None else self.vref_hi
        for name, v in (("vref_lo", lo), ("vref_hi", hi)):
            if not (-1e-12 <= v <= vdd + 1e-12):
                raise ParameterError(f"{name} = {v:g} V is outside the rails [0, {vdd:g}] V: give a reference between 0 and VDD")
        if not hi - lo >= 0.05 * vdd:
            raise ParameterError(f"input range [{lo:g}, {hi:g}] V is too small or reversed: give vref_hi - vref_lo >= {0.05 * vdd:g} V")
        n_bl = self.n_bitlines
        if self.kind == "mi_sar" and (1 << bits) > n_bl:
            raise ParameterError(
                f"a {bits}-bit memory-immersed SA needs {1 << bits} bitlines (groups 1, 1, 2, ... {1 << (bits - 1)}) "
                f"but the neighbour array has {n_bl}: use fewer bits or a wider array")
        c_wire = _r12(C_WIRE_16NM * p.lmin / 16e-9) if self.c_wire is None else self.c_wire
        cs = CellSizes.default(p) if self.cell_sizes is None else self.cell_sizes
        cs.check(p)  # ranges relative to Lmin (CellSizes docstring)
        ks = ComparatorSizes.default(p) if self.comparator_sizes is None else self.comparator_sizes
        c_load = _r12(C_LOAD_16NM * p.lmin / 16e-9) if self.c_load is None else self.c_load
        t_ref = default_t_clk(p)
        t_clk = _r12(t_ref * (2 if self.kind == "mi_sar" else 1) if self.t_clk is None else self.t_clk)
        t_edge = _r12(t_ref / 20) if self.t_edge is None else self.t_edge
        if 12 * t_edge > t_clk:
            raise ParameterError(f"t_clk = {t_clk:g} s is too short for edges of {t_edge:g} s: give t_clk >= 12 t_edge")
        t_sample = max(t_clk, 2 * t_ref) if self.t_sample is None else self.t_sample
        if t_sample < 6 * t_edge:
            raise ParameterError(f"t_sample = {t_sample:g} s is too short: give at least 6 t_edge = {6 * t_edge:g} s")
        w_switch = _r12(4 * p.lmin) if self.w_switch is None else self.w_switch
        w_drive = _r12(32 * p.lmin) if self.w_drive is None else self.w_drive
        if self.flash_bits > bits - 1:
            raise ParameterError(f"flash_bits = {self.flash_bits} is out of range: a {bits}-bit converter takes "
                                 f"0 to {min(MAX_FLASH_BITS, bits - 1)} flash MSBs (0 = plain SA)")
        t_step = _r12(t_edge / 5) if self.t_step is None else self.t_step
        if t_step > t_edge:
            raise ParameterError(f"t_step = {t_step:g} s is longer than an edge ({t_edge:g} s): give a smaller step")
        self._set(vdd=vdd, vref_lo=float(lo), vref_hi=float(hi), c_wire=c_wire, cell_sizes=cs, comparator_sizes=ks,
                  c_load=c_load, t_clk=t_clk, t_edge=t_edge, t_sample=_r12(t_sample), w_switch=w_switch,
                  w_drive=w_drive, t_step=t_step)

    # -- derived -------------------------------------------------------------------------------------
    @property
    def block(self) -> str:
        """Block name of the decks and LUTs: ``adc_hybrid`` when ``flash_bits`` > 0, else ``adc_sar`` or
        ``adc_mi_sar`` by ``kind``."""
        return HYBRID_BLOCK if self.flash_bits else BLOCKS[self.kind]

    @property
    def cycle_bits(self) -> tuple[tuple[int, ...], ...]:
        """Bits decided in each cycle: ((n-1,), (n-2,), ... (0,)) for SA; the hybrid's first cycle
        decides its m MSBs at once (the coarse flash), then one SA bit per cycle."""
        n, m = self.bits, self.flash_bits
        first = (tuple(range(n - 1, n - 1 - m, -1)),) if m else ()
        return first + tuple((b,) for b in range(n - 1 - m, -1, -1))

    @property
    def n_cycles(self) -> int:
        """Decision cycles per conversion (``len(cycle_bits)``: n for SA, n - m + 1 for the hybrid)."""
        return len(self.cycle_bits)

    @property
    def lsb(self) -> float:
        """Ideal LSB: (vref_hi - vref_lo) / 2^bits [V]."""
        return (self.vref_hi - self.vref_lo) / (1 << self.bits)

    @property
    def vcm(self) -> float:
        """Sampling common mode ``vcm_ratio`` x VDD [V] (rounded to 12 significant digits)."""
        return _r12(self.vcm_ratio * self.vdd)

    @property
    def t_conv(self) -> float:
        """Conversion time (one sample phase + n bit cycles + the capture tail) [s]."""
        return _r12(self.t_sample + self.n_cycles * self.t_clk + 4 * self.t_edge)

    def as_dict(self) -> dict:
        """The fields as a plain dict (sizes as nested dicts); the hybrid-only fields (``flash_bits``,
        ``r_ladder``, ``c_tap``, ``c_fs``) only when ``flash_bits`` > 0."""
        d = super().as_dict()
        for k in () if self.flash_bits else self.HYBRID_ONLY:
            del d[k]
        return d

    def pairs(self) -> tuple[tuple[str, object], ...]:
        """(name, value) pairs with numbers formatted by num(), for netlist headers
        (``comparator_sizes.NAME``, and ``cell_sizes.NAME`` for the memory-immersed kind)."""
        return tuple(kv for kv in super().pairs() if self.kind == "mi_sar" or not kv[0].startswith("cell_sizes."))


# ---- building blocks --------------------------------------------------------------------------------
def bitline(name: str, node: str, params: SarParams, pdk: PDK, q: str = "0", rwl: str = "0"
            ) -> tuple[list[str], list[Device], list[tuple[str, float]]]:
    """Element lines, devices and explicit capacitors (name, F) of one borrowed bitline *node*:
    ``n_rows`` 8T read ports (gate of the read driver = *q*, read wordline *rwl*) plus ``n_rows x
    c_wire`` of wire. Lumped (``m = n_rows``, one device pair) or one pair per cell (see module doc)."""
    n, s = params.n_rows, params.cell_sizes
    lines: list[str] = []
    devs: list[Device] = []
    if params.lumped_cells:
        x = ident(f"rx_{name}")
        for role, d, g, src, w in (("mrd", x, q, "0", s.w_rd), ("mra", node, rwl, x, s.w_ra)):
            nm = ident(f"{role}_{name}")
            lines.append(mos(nm, d, g, src, "0", pdk.nmos, w, s.l_read) + f" m={n}")
            devs.append(Device(nm, "n", _r12(w * n), s.l_read))  # sigma of the N-fold area = one device's / sqrt(N)
    else:
        for r in range(n):
            x = ident(f"rx_{name}_{r}")
            for role, d, g, src, w in (("mrd", x, q, "0", s.w_rd), ("mra", node, rwl, x, s.w_ra)):
                nm = ident(f"{role}_{name}_{r}")
                lines.append(mos(nm, d, g, src, "0", pdk.nmos, w, s.l_read))
                devs.append(Device(nm, "n", w, s.l_read))
    caps: list[tuple[str, float]] = []
    if params.c_wire > 0:
        cn = ident(f"cw_{name}")
        c = _r12(n * params.c_wire)
        lines.append(f"{cn} {ident(node)} 0 {num(c)}")
        caps.append((cn, c))
    return lines, devs, caps


def _tg(name: str, a: str, b: str, gn: str, gp: str, w: float, pdk: PDK, l: float | None = None
        ) -> tuple[list[str], list[Device]]:
    l = pdk.lmin if l is None else l
    w = _r12(w)
    n, p = ident(f"mtn_{name}"), ident(f"mtp_{name}")
    return ([mos(n, a, gn, b, "0", pdk.nmos, w, l), mos(p, a, gp, b, "vdd", pdk.pmos, w, l)],
            [Device(n, "n", w, l), Device(p, "p", w, l)])


# ---- timing -----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Timeline:
    """Instants of a deck of K conversions [s]."""

    start: tuple[float, ...]
    """Start of each conversion's sample phase (the input edge starts here)."""
    cycle: tuple[tuple[float, ...], ...]
    """cycle[m][k]: start of cycle k of conversion m (k = 0 .. N with N = ``n_cycles``; k = N is the
    capture tail)."""
    capture: tuple[tuple[float, ...], ...]
    """capture[m][k]: middle of the capture strobe of cycle k's decision (bits ``cycle_bits[k]``)."""
    t_edge: float
    t_clk: float
    end: float


def timeline(params: SarParams, n_conv: int) -> Timeline:
    """The instants of a deck of *n_conv* conversions of *params* [s]: conversion m starts at m x ``t_conv``,
    its cycles follow the sample phase every ``t_clk``, each decision is captured 2 ``t_edge`` into the next
    cycle (times rounded to 12 digits)."""
    e, T, n = params.t_edge, params.t_clk, params.n_cycles
    starts, cycles, caps = [], [], []
    for m in range(n_conv):
        s = m * params.t_conv
        c = tuple(_r12(s + params.t_sample + k * T) for k in range(n + 1))
        starts.append(_r12(s))
        cycles.append(c)
        caps.append(tuple(_r12(c[k + 1] + 2 * e) for k in range(n)))
    return Timeline(tuple(starts), tuple(cycles), tuple(caps), e, T, _r12(n_conv * params.t_conv))


def eval_time(params: SarParams) -> float:
    """Comparator evaluate time at the end of each bit cycle: t_clk / 2 (sar), t_clk / 4 (mi_sar: the
    first half of the cycle drives the bitline groups, the third quarter shares them)."""
    return _r12(params.t_clk / (4 if params.kind == "mi_sar" else 2))


class _Wave:
    """A PWL waveform made of raised-cosine edges (times strictly increasing)."""

    def __init__(self, v0: float = 0.0):
        self.pts: list[tuple[float, float]] = [(0.0, v0)]
        self.v = v0

    def to(self, t0: float, dur: float, v1: float) -> None:
        if v1 == self.v:
            return
        if t0 <= self.pts[-1][0] + 1e-15:
            raise ParameterError(f"internal: overlapping edges at {t0:g} s")
        self.pts += _edge(t0, dur, self.v, v1)
        self.v = v1


def _waves(params: SarParams, tl: Timeline, levels: Sequence[float]) -> dict[str, _Wave]:
    """PWL waves: vin, clocks, sample strobes (V levels) and the SA-logic strobes (0..1)."""
    e, T, n, vdd = params.t_edge, params.t_clk, params.bits, params.vdd
    mi = params.kind == "mi_sar"
    cyc = params.cycle_bits
    nc = len(cyc)
    flash = params.flash_bits > 0
    w = {name: _Wave() for name in ("clk", "clkf", "conv", "drv", "share")}
    w["vin"] = _Wave(levels[0])
    w["s_in"] = _Wave(vdd)
    w["s_top"] = _Wave(vdd)
    for b in range(n):
        w[f"trial{b}"], w[f"dec{b}"], w[f"cap{b}"] = _Wave(), _Wave(), _Wave()
    for m, s in enumerate(tl.start):
        c = tl.cycle[m]
        ts = params.t_sample
        if m > 0:  # end of the previous conversion: drivers off, registers released, then sample
            w["conv"].to(s, e, 0.0)
            w["trial0"].to(s, e, 0.0)
            for b in range(n):
                w[f"dec{b}"].to(s, e, 0.0)
            w["vin"].to(s, e, levels[m])
            w["s_top"].to(s + e, e, vdd)
            w["s_in"].to(s + e, e, vdd)
        w["s_top"].to(s + ts - 3 * e, e, 0.0)
        w["s_in"].to(s + ts - 2 * e, e, 0.0)
        w["conv"].to(s + ts - e, e, 1.0)
        for k in range(nc + 1):
            ck = c[k]
            if k >= 1:
                for bp in cyc[k - 1]:  # bits decided in cycle k-1
                    w[f"cap{bp}"].to(ck + e, e / 2, 1.0)
                    w[f"cap{bp}"].to(ck + 2.5 * e, e / 2, 0.0)
                    if k < nc:  # the LSB's decision is only captured (the DAC needs no update after it)
                        w[f"trial{bp}"].to(ck + 4 * e, e, 0.0)
                        w[f"dec{bp}"].to(ck + 4 * e, e, 1.0)
            if k < nc:
                clock = "clkf" if (flash and k == 0) else "clk"
                if clock == "clk":
                    w[f"trial{cyc[k][0]}"].to(ck + 4 * e, e, 1.0)
                    if mi:
                        w["share"].to(ck, e, 0.0)
                        w["drv"].to(ck + e, e, 1.0)
                        w["drv"].to(ck + T / 2 - e, e, 0.0)
                        w["share"].to(ck + T / 2 + e, e, 1.0)
                w[clock].to(ck + T - eval_time(params), e, vdd)
                w[clock].to(ck + T, e, 0.0)
    return w


# ---- the deck ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SarCircuit:
    """What :func:`circuit` returns: the converter's element lines, its MOSFETs (for Monte Carlo) and its
    explicit capacitors."""

    lines: tuple[str, ...]
    devices: tuple[Device, ...]
    caps: tuple[tuple[str, float], ...]
    """Explicit capacitors (name, nominal F) that a capacitor-mismatch draw may alter."""


def _sources(params: SarParams) -> list[str]:
    vdd = params.vdd
    out = [f"vdd vdd 0 {num(vdd)}", f"vhi vhi 0 {num(params.vref_hi)}", f"vlo vlo 0 {num(params.vref_lo)}"]
    if params.kind == "sar":
        out.append(f"vcm vcm 0 {num(params.vcm)}")
    return out


def circuit(params: SarParams, pdk: PDK) -> SarCircuit:
    """The converter's element lines (without the stimulus PWL sources), devices and capacitors."""
    n, vdd, L = params.bits, params.vdd, pdk.lmin
    lines: list[str] = [f"* {n}-bit {'memory-immersed SA (bitline DAC)' if params.kind == 'mi_sar' else 'SAR (binary CDAC)'}"]
    devs: list[Device] = []
    caps: list[tuple[str, float]] = []
    V = num(vdd)
    # SA logic (ideal): registers and DAC controls
    lines.append("* SA logic (ideal): bit registers rb<b> capture q on cap<b>; d<b> = trial or decided value")
    m = params.flash_bits
    nf = (1 << m) - 1
    if m:
        lines.append(f"* hybrid: registers of the {m} MSBs capture the coarse comparators' thermometer code, "
                     "binary-encoded by counting its ones (ideal encoder)")
        count = "(" + "+".join(f"u(v(qf{c})-{num(vdd / 2)})" for c in range(1, nf + 1)) + ")"
    for b in range(n):
        j = b - (n - m)
        target = (f"{V}*(floor({count}/{1 << j})-2*floor({count}/{1 << (j + 1)}))" if j >= 0 else "v(q)")
        lines += [
            f"creg{b} rb{b} 0 {num(REG_C)}",
            f"breg{b} 0 rb{b} i=v(cap{b})*({target}-v(rb{b}))/{num(REG_R)}",
            f"bd{b} d{b} 0 v={V}*v(trial{b})+v(dec{b})*v(rb{b})",
        ]
    lines += ["bsin_b s_in_b 0 v={V}-v(s_in)".replace("{V}", V), "bstop_b s_top_b 0 v={V}-v(s_top)".replace("{V}", V)]
    if params.kind == "sar":
        cu = params.c_unit
        ws = params.w_switch
        lines.append("* top-plate sampling switch to vcm (transmission gate, 2x unit width per unit of total C / 4)")
        wt = ws * max(1.0, (1 << n) / 4)
        tl_, td_ = _tg("top", "top", "vcm", "s_top", "s_top_b", wt, pdk)
        lines += tl_
        devs += td_
        for b in list(range(n)) + ["d"]:
            units = 1 if b == "d" else (1 << b)
            bp = f"bp{b}"
            c = _r12(units * cu)
            cname = f"cdac{b}"
            lines.append(f"{cname} {bp} top {num(c)}")
            caps.append((cname, c))
            w = ws * units
            l1, d1 = _tg(f"in{b}", bp, "vin", "s_in", "s_in_b", w, pdk)
            lines += l1
            devs += d1
            # split-gate reference driver: PMOS to vhi when conv*d, NMOS to vlo when conv*(1-d)
            if b == "d":
                lines += [f"bpg{b} pg{b} 0 v={V}", f"bng{b} ng{b} 0 v={V}*v(conv)"]
            else:
                lines += [f"bpg{b} pg{b} 0 v={V}-v(conv)*v(d{b})", f"bng{b} ng{b} 0 v=v(conv)*({V}-v(d{b}))"]
            pn, nn = f"mdp_{b}", f"mdn_{b}"
            wd = _r12(DRIVE_RATIO * w)
            lines += [mos(pn, bp, f"pg{b}", "vhi", "vdd", pdk.pmos, wd, L), mos(nn, bp, f"ng{b}", "vlo", "0", pdk.nmos, wd, L)]
            devs += [Device(pn, "p", wd, L), Device(nn, "n", wd, L)]
        # reference side of the comparator: a dummy top plate 'topr' (C = the whole DAC to ground, the same
        # sampling gate to vcm) so that comparator kickback and switch charge injection are common mode
        ctot = _r12((1 << n) * cu)
        lines.append(f"cdacr topr 0 {num(ctot)}")
        caps.append(("cdacr", ctot))
        tl_, td_ = _tg("topr", "topr", "vcm", "s_top", "s_top_b", wt, pdk)
        lines += tl_
        devs += td_
        inp, inn = "topr", "top"
    else:
        ws, wd = params.w_switch, params.w_drive
        lines.append("* input: the computing column's bitline 'hold', written from vin through a sampling gate")
        l1, d1 = _tg("in", "hold", "vin", "s_in", "s_in_b", 16 * ws, pdk)
        lines += l1
        devs += d1
        bl, bd, bc = bitline("hold", "hold", params, pdk)
        lines += bl
        devs += bd
        caps += bc
        lines.append("* DAC: groups of borrowed bitlines (dummy 1, then 1, 2, 4, ...), drivers to vhi / vlo, share gates to ref")
        for b in ["d"] + list(range(n)):
            count = 1 if b == "d" else (1 << b)
            if b == "d":
                lines += [f"bpg{b} pg{b} 0 v={V}", f"bng{b} ng{b} 0 v={V}*v(drv)"]
            else:
                lines += [f"bpg{b} pg{b} 0 v={V}-v(drv)*v(d{b})", f"bng{b} ng{b} 0 v=v(drv)*({V}-v(d{b}))"]
            for j in range(count):
                name = f"g{b}_{j}"
                node = f"bl{b}_{j}"
                bl, bd, bc = bitline(name, node, params, pdk)
                lines += bl
                devs += bd
                caps += bc
                pn, nn = f"mdp_{name}", f"mdn_{name}"
                wn = _r12(2 * wd)  # the NMOS pulls to vlo with a weaker gate drive (VDD - vref_lo)
                lines += [mos(pn, node, f"pg{b}", "vhi", "vdd", pdk.pmos, wd, L),
                          mos(nn, node, f"ng{b}", "vlo", "0", pdk.nmos, wn, L)]
                devs += [Device(pn, "p", wd, L), Device(nn, "n", wn, L)]
                l2, d2 = _tg(f"sh_{name}", node, "ref", "share", "share_b", ws * 2, pdk)
                lines += l2
                devs += d2
        lines.append(f"bshare_b share_b 0 v={V}-v(share)")
        inp, inn = "hold", "ref"
    if m:
        ain = "hold" if params.kind == "mi_sar" else "vin"
        lines.append(f"* hybrid coarse flash: {1 << m} ladder resistors from vlo to vhi, {nf} comparators on v({ain}), "
                     "clocked by clkf in the first cycle only")
        taps = ["vlo"] + [f"ftap{c}" for c in range(1, nf + 1)] + ["vhi"]
        r = _r12(params.r_ladder / (1 << m))
        for k in range(1, nf + 2):
            lines.append(f"rlf{k} {taps[k - 1]} {taps[k]} {num(r)}")
        for c in range(1, nf + 1):
            if params.c_tap > 0:
                lines.append(f"cftap{c} ftap{c} 0 {num(params.c_tap)}")
            a_in, r_in = ain, f"ftap{c}"
            if params.c_fs > 0:  # sampled inputs: both sides held on equal capacitors, so kickback is common mode
                a_in, r_in = f"fa{c}", f"fr{c}"
                for side, src in ((a_in, ain), (r_in, f"ftap{c}")):
                    tl_, td_ = _tg(f"s{side}", side, src, "s_in", "s_in_b", 2 * params.w_switch, pdk)
                    lines += tl_ + [f"c{side} {side} 0 {num(params.c_fs)}"]
                    devs += td_
                    caps.append((f"c{side}", params.c_fs))
            cl, cd = comparator_cell(f"f{c}", a_in, r_in, "clkf", "vdd", f"dpf{c}", f"dnf{c}",
                                     params.comparator_sizes, pdk, sr_latch=True, q=f"qf{c}", qb=f"qbf{c}")
            lines += cl
            devs += cd
            if params.c_load > 0:
                lines += [f"cldpf{c} dpf{c} 0 {num(params.c_load)}", f"cldnf{c} dnf{c} 0 {num(params.c_load)}"]
    lines.append(f"* comparator: decides 1 (keep the trial bit) when v({inp}) > v({inn})")
    cl, cd = comparator_cell(None, inp, inn, "clk", "vdd", "dp", "dn", params.comparator_sizes, pdk,
                             sr_latch=True, q="q", qb="qb")
    lines += cl
    devs += cd
    if params.c_load > 0:
        lines += [f"cldp dp 0 {num(params.c_load)}", f"cldn dn 0 {num(params.c_load)}"]
    return SarCircuit(tuple(lines), tuple(devs), tuple(caps))


def sar_devices(params: SarParams, pdk: PDK | None = None) -> tuple[Device, ...]:
    """Every transistor of the converter (what Monte Carlo draws over)."""
    return circuit(params, pdk or pdkmod.describe(params.pdk)).devices


def sar_caps(params: SarParams, pdk: PDK | None = None) -> tuple[tuple[str, float], ...]:
    """Explicit capacitors (name, nominal F): the conventional DAC's, or the bitline wire capacitors."""
    return circuit(params, pdk or pdkmod.describe(params.pdk)).caps


def save_list(params: SarParams) -> tuple[str, ...]:
    """The vectors a converter deck of *params* saves: time, the output register ``v(q)``, the supply /
    reference / clock / input source currents (``i(vcm)`` for the binary CDAC) and, for the hybrid, the coarse
    clock current and the coarse comparators' outputs ``v(qfC)``."""
    src = ("i(vdd)", "i(vhi)", "i(vlo)", "i(vclk)", "i(vin)") + (("i(vcm)",) if params.kind == "sar" else ())
    if params.flash_bits:
        src += ("i(vclkf)",) + tuple(f"v(qf{c})" for c in range(1, 1 << params.flash_bits))
    return ("time", "v(q)") + src


def _pdk_for(params: SarParams, pdk: PDK | None) -> PDK:
    if not isinstance(params, SarParams):
        raise ParameterError(f"params must be SarParams, got {type(params).__name__}")
    p = pdk if pdk is not None else pdkmod.get(params.pdk)
    if p.name != params.pdk or p.path is None:
        raise ParameterError(f"pdk {p.name!r} (card path {p.path}) does not match params.pdk {params.pdk!r}")
    return p


def check_levels(params: SarParams, levels) -> tuple[float, ...]:
    """Validate the input staircase of one deck: 1 to :data:`MAX_CONVERSIONS` finite voltages within [0, VDD];
    returns them rounded to 12 digits. Raises ``ParameterError`` otherwise."""
    try:
        vals = tuple(finite(v, "input level") for v in levels)
    except TypeError as exc:
        raise ParameterError("input levels must be a sequence of voltages") from exc
    if not (1 <= len(vals) <= MAX_CONVERSIONS):
        raise ParameterError(f"give 1 to {MAX_CONVERSIONS} input levels per deck, got {len(vals)}")
    for v in vals:
        if not (-1e-12 <= v <= params.vdd + 1e-12):
            raise ParameterError(f"input level {v:g} V is outside the rails [0, {params.vdd:g}] V")
    return tuple(_r12(v) for v in vals)


def ramp_netlist(params: SarParams, levels: Sequence[float], pdk: PDK | None = None) -> Netlist:
    """K conversions back to back, conversion m of the DC input ``levels[m]`` [V] (the input steps at
    the start of each sample phase). Saves time, v(q) and the supply / reference / clock / input
    source currents."""
    p = _pdk_for(params, pdk)
    levels = check_levels(params, levels)
    k = len(levels)
    tl = timeline(params, k)
    w = _waves(params, tl, levels)
    circ = circuit(params, p)
    body = [f"* charz {params.kind} converter, {k} conversion(s)", *_sources(params)]
    used = ["vin", "clk", "s_in", "s_top", "conv"] + (["drv", "share"] if params.kind == "mi_sar" else [])
    used += ["clkf"] if params.flash_bits else []
    used += [f"{x}{b}" for b in range(params.bits) for x in ("trial", "dec", "cap")
             if not (x == "trial" and b >= params.bits - params.flash_bits)]  # flash MSBs have no trial
    for name in used:
        src = {"clk": "vclk", "clkf": "vclkf", "vin": "vin"}.get(name, f"v{name}")
        body += _pwl(src, name, w[name].pts)
    for b in range(params.bits - params.flash_bits, params.bits):
        body.append(f"vtrial{b} trial{b} 0 0")
    body += list(circ.lines)
    body.append(f".ic v(q)=0 v(qb)={num(params.vdd)}" + "".join(f" v(rb{b})=0" for b in range(params.bits))
                + "".join(f" v(qf{c})=0 v(qbf{c})={num(params.vdd)}" for c in range(1, 1 << params.flash_bits)))
    return Netlist(
        block=params.block,
        title=f"charz {params.block} {ident(params.pdk)} {params.bits}b x{k}",
        params=(("testbench", "ramp"),) + params.pairs() + (("levels", ",".join(num(v) for v in levels)),),
        body=tuple(body),
        card=p.path,
        card_sha256=p.sha256,
        analysis=f".tran {num(params.t_step)} {num(tl.end)}",
        save=save_list(params),
        temp=params.temp,
        devices=circ.devices,
    )


def conversion_netlist(params: SarParams, vin: float, pdk: PDK | None = None) -> Netlist:
    """One conversion of the DC input *vin* [V] (a one-level :func:`ramp_netlist`)."""
    return ramp_netlist(params, [vin], pdk)


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden decks: one conversion at mid-range of the default 5-bit SAR, the 3-bit memory-immersed SA
    and the 5-bit hybrid (2 flash MSBs, bitline SA)."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    sar = SarParams(pdk=p.name, bits=5, kind="sar")
    mi = SarParams(pdk=p.name, bits=3, kind="mi_sar")
    mid = lambda q: _r12((q.vref_lo + q.vref_hi) / 2 + q.lsb / 4)  # noqa: E731
    hyb = SarParams(pdk=p.name, bits=5, kind="mi_sar", flash_bits=2)
    return {
        f"adc_sar5_{p.name}_mid.cir": conversion_netlist(sar, mid(sar), p).golden(),
        f"adc_mi_sar3_{p.name}_mid.cir": conversion_netlist(mi, mid(mi), p).golden(),
        f"adc_hybrid5_{p.name}_mid.cir": conversion_netlist(hyb, mid(hyb), p).golden(),
    }


def decode(run: dict, params: SarParams, n_conv: int) -> tuple[list[int], list[float]]:
    """Codes of the K conversions of a run (bits from v(q) at each capture strobe) and the smallest
    |v(q) - VDD/2| / VDD seen at a strobe (a resolved latch gives 0.5)."""
    import numpy as np

    t = np.asarray(run["time"], dtype=float)
    q = np.asarray(run["v(q)"], dtype=float)
    tl = timeline(params, n_conv)
    fb, half = params.flash_bits, params.vdd / 2
    qf = [np.asarray(run[f"v(qf{c})"], dtype=float) for c in range(1, 1 << fb)]
    codes, margin = [], []
    for m in range(n_conv):
        tc = np.asarray(tl.capture[m])
        vq = np.interp(tc[1:] if fb else tc, t, q)
        code = 0
        seen = vq
        if fb:  # coarse flash: ones count of the thermometer code = the MSBs
            vf = np.array([np.interp(tc[0], t, x) for x in qf])
            code = int(np.count_nonzero(vf > half)) << (params.bits - fb)
            seen = np.concatenate([vf, vq])
        for k, v in enumerate(vq):
            if v > half:
                code |= 1 << (params.bits - fb - 1 - k)
        codes.append(code)
        margin.append(float(np.min(np.abs(seen - half)) / params.vdd))
    return codes, margin


__all__ = ["HYBRID_BLOCK", "SarParams", "bitline", "circuit", "sar_devices", "sar_caps", "timeline", "ramp_netlist",
           "conversion_netlist", "golden_netlists", "decode", "save_list", "KINDS", "MIN_BITS", "MAX_BITS"]
