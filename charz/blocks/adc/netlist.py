"""Successive-approximation (SA) converters: conventional SAR (binary capacitive DAC) and the
memory-immersed SA whose DAC is groups of bitlines of a neighbouring CiM array.

This module holds what a deck is made from: the parameters (:class:`SarParams`), the timing of a deck of
conversions (:func:`timeline`, the stimulus waveforms), the saved vectors (:func:`save_list`), the input
levels' check and the decoding of a run's codes (:func:`decode`). The decks themselves (the circuit: what is
transistor-level and what is ideal, the conventional SAR, the memory-immersed SA, the hybrid; the testbenches
and the golden netlists) are in :mod:`charz.blocks.adc.netlist_deck`.

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

from ...core.errors import ParameterError
from ...core.params import Bool, Choice, Instance, Int, Params, Real, param, positive
from ...core.validate import finite, round12 as _r12
from ...netlist.cells import CellSizes
from ..cim_column.netlist import C_WIRE_16NM
from ..comparator.netlist import ComparatorSizes, _edge, default_t_clk
from ...netlist.spice import PDK_NAME, TEMP, VDD, pdk_of

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
C_LOAD_16NM = 0.5e-15


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


def save_list(params: SarParams) -> tuple[str, ...]:
    """The vectors a converter deck of *params* saves: time, the output register ``v(q)``, the supply /
    reference / clock / input source currents (``i(vcm)`` for the binary CDAC) and, for the hybrid, the coarse
    clock current and the coarse comparators' outputs ``v(qfC)``."""
    src = ("i(vdd)", "i(vhi)", "i(vlo)", "i(vclk)", "i(vin)") + (("i(vcm)",) if params.kind == "sar" else ())
    if params.flash_bits:
        src += ("i(vclkf)",) + tuple(f"v(qf{c})" for c in range(1, 1 << params.flash_bits))
    return ("time", "v(q)") + src


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


__all__ = ["HYBRID_BLOCK", "SarParams", "timeline", "decode", "save_list", "KINDS", "MIN_BITS", "MAX_BITS"]
