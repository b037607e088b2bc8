"""Flash A/D converter: 2^n - 1 StrongARM comparators against a resistive reference ladder.

Topology (one deck, every device named so Monte Carlo can ``alter`` it)::

    vrefh ──┬── rl_<2^n> ──┬── ... ──┬── rl_2 ──┬── rl_1 ── vrefl     ladder of 2^n equal resistors
            │          tap_<2^n-1>  ...       tap_1                  (tap_c = vref_lo + c x LSB)
                           │                    │
    ain ───────────── comparator 2^n-1  ...  comparator 1             inp = ain, inn = tap_c
                           │                    │
    clk ─────────────── (all clocked together by one clock)
                       dp_c / dn_c (return-to-zero decision outputs, c_load each)

- **Ladder**: ``2^n`` ideal resistors of ``r_unit`` ohms (``rl_1`` from ``vrefl`` to ``tap_1``, ...,
  ``rl_<2^n>`` from ``tap_<2^n-1>`` to ``vrefh``), fed by two ideal sources ``vrefh`` = ``vref_hi`` and
  ``vrefl`` = ``vref_lo``. Tap c sits at ``vref_lo + c (vref_hi - vref_lo) / 2^n``: comparator c fires
  when the input is above tap c, so edge c (code c-1 -> c) is nominally at tap c (the ``absolute``
  ideal edges of :func:`charz.blocks.adc.model_transfer.inl_dnl`). The resistors are ideal (no mismatch, no
  temperature coefficient, no parasitic capacitance): ladder mismatch is NOT drawn, so Monte Carlo
  spreads come from the comparators' transistor mismatch only. The ladder's finite tap impedance is
  real in the deck: the comparators' kickback at every clock edge disturbs the taps and recovers with
  ``r_unit`` x the tap's load. (the measurements behind the tap network are in this folder's ``README.md``). Default: ``r_unit`` = 1 kOhm with ``c_tap`` = 100 fF on every tap (ideal
  capacitors; their area is not in :mod:`charz.blocks.adc.model_area`).
- **Comparators**: :func:`charz.blocks.comparator.netlist.comparator_cell` with index c (suffix ``_c`` on every
  internal node and device: ``min_p_3`` ...), no SR latch (the encoder reads the return-to-zero pair
  at the end of the evaluate half; an ideal digital encoder stands behind it), ``c_load`` on ``dp_c``
  and ``dn_c`` (the encoder's input). Decision 1 of comparator c = ``dp_c`` high = V(ain) > V(tap_c)
  plus its offset.
- **Encoder**: ideal digital, in NumPy (:mod:`charz.blocks.adc.recipe_flash`): the thermometer code of the
  2^n - 1 decisions of a cycle -> binary by :func:`charz.blocks.adc.model_transfer.thermometer_to_binary`
  (1-of-n + ROM) and by a ones count (bubble tolerant), both recorded.
- **Input**: an ideal PWL source ``vain`` on ``ain``: a slow staircase from ``vref_lo - margin`` to
  ``vref_hi + margin`` (clipped to the rails) by ``resolution`` volts per clock cycle (default LSB / 8),
  one conversion per cycle, the input changing in the middle of the reset half (the comparator ramp's
  timeline, :func:`charz.blocks.comparator.netlist.timeline`), so every decision sees a constant input. One
  transient resolves every comparator's transition: the whole transfer curve of one converter instance
  costs one run. The levels are ``v_start + (k + 1/2) x resolution`` so that no level falls exactly on a
  nominal tap (a perfectly symmetric comparator is metastable there).

Timing, clock and edges are the comparator's (:class:`charz.blocks.comparator.netlist.ComparatorParams`,
built by :attr:`FlashParams.comparator`): period ``t_clk`` (400 ps on ptm16hp), 50 % duty, raised-cosine
edges of ``t_edge`` = t_clk / 20, the deck starting with half a period of reset; conversion time = one
clock period (flash: one comparator decision; the encoder is ideal and not timed).

Saved vectors: time, ``v(dp_c)``, ``v(dn_c)`` of every comparator, ``i(vdd)``, ``i(vclk)``, ``i(vrefh)``
(the energy per conversion, see :mod:`charz.blocks.adc.recipe_flash`).

Defaults: ``vref_lo`` = 0.5 VDD, ``vref_hi`` = 0.9 VDD (the NMOS input pair of the StrongARM needs a
common mode near or above its threshold; 0.35 .. 0.63 V on ptm16hp at 0.7 V, 0.55 .. 0.99 V on
ptm65bulk at 1.1 V); ``r_unit`` = 1 kOhm (5-bit ladder: 32 kOhm, 8.75 uA at ptm16hp 0.7 V), ``c_tap`` = 100 fF;
``margin`` = max(1 LSB, 4 x the a-priori Pelgrom sigma of the input pair, sqrt(2) A_VT / sqrt(W L)) so
that the end comparators' transitions stay inside the staircase under Monte Carlo.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.mc import Mismatch
from ...core.pdk import PDK
from ...core.params import Instance, Int, Params, Real, param, positive
from ..comparator.netlist import ComparatorParams, ComparatorSizes, _clock, _edge, _r12, comparator_cell, timeline
from ...netlist.spice import pwl_source
from ...netlist.spice import PDK_NAME, TEMP, VDD, Device, Netlist, ident, num, pdk_of

BLOCK = "adc_flash"
MIN_BITS, MAX_BITS = 2, 5
VREF_LO_RATIO, VREF_HI_RATIO = 0.5, 0.9
R_UNIT = 1e3
C_TAP = 100e-15
RESOLUTION_LSB = 1 / 8
"""Default staircase step as a fraction of the LSB."""
N_CYCLES_MAX = 4000
COMPARATOR_FIELDS = ("c_load", "t_clk", "t_edge", "t_step")


def check_flash_bits(bits) -> int:
    """*bits* as an int when it is an integer from :data:`MIN_BITS` to :data:`MAX_BITS`; else
    ``ParameterError``."""
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not (MIN_BITS <= bits <= MAX_BITS):
        raise ParameterError(f"flash resolution must be an integer from {MIN_BITS} to {MAX_BITS} bits, got {bits!r}")
    return int(bits)


@dataclasses.dataclass(frozen=True)
class FlashParams(Params):
    """Parameters of one flash converter deck. ``None`` fields resolve to defaults on creation (module doc)."""

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    bits: int = param(5, Int(MIN_BITS, MAX_BITS, unit="bits"), "flash resolution n: 2^n - 1 comparators, 2^n ladder resistors")
    vdd: float | None = param(None, VDD, "supply of comparators and clock; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    vref_lo: float | None = param(None, Real(unit="V"), "bottom of the ladder, inside the rails [0, VDD]; None = 0.5 VDD")
    vref_hi: float | None = param(None, Real(unit="V"), "top of the ladder, inside the rails, above vref_lo; None = 0.9 VDD")
    r_unit: float = param(R_UNIT, Real(1.0, 1e7, unit="ohm"), "unit resistor of the ladder (ideal resistor)")
    c_tap: float = param(C_TAP, Real(0.0, 1e-10, unit="F"), "decoupling capacitor from every ladder tap to ground (ideal; 0 = none)")
    sizes: ComparatorSizes | None = param(None, Instance(ComparatorSizes), "comparator transistor sizes; None = ComparatorSizes.default")
    c_load: float | None = param(None, Real(0.0, 1e-12, unit="F"), "load on every comparator output dp_c / dn_c; None = the comparator's default")
    t_clk: float | None = param(None, positive(1e-6, "s"), "clock period = conversion time; None = the comparator's default (400 ps on ptm16hp)")
    t_edge: float | None = param(None, positive(1e-7, "s"), "clock and input edges; None = t_clk / 20")
    t_step: float | None = param(None, positive(1e-8, "s"), "maximum transient time step; None = t_clk / 200")
    resolution: float | None = param(None, Real(unit="V"), "staircase resolution, V per clock cycle, 1e-5 V .. LSB / 2; None = LSB / 8")
    margin: float | None = param(None, Real(0.0, None, unit="V"), "staircase overhang beyond [vref_lo, vref_hi]; None = max(LSB, 4 sigma_pair)")

    def check(self):
        """The comparator's defaults and rules (:class:`ComparatorParams`); references inside the rails,
        vref_lo < vref_hi; resolution 1e-5 V .. LSB / 2; at most :data:`N_CYCLES_MAX` staircase cycles."""
        p = pdk_of(self)
        bits = self.bits
        cp = ComparatorParams(pdk=self.pdk, vdd=self.vdd, temp=self.temp, sizes=self.sizes, c_load=self.c_load,
                              t_clk=self.t_clk, t_edge=self.t_edge, sr_latch=False, t_step=self.t_step)
        vdd = cp.vdd
        lo = _r12(VREF_LO_RATIO * vdd) if self.vref_lo is None else self.vref_lo
        hi = _r12(VREF_HI_RATIO * vdd) if self.vref_hi is None else self.vref_hi
        if not (0.0 <= lo <= vdd + 1e-12 and 0.0 <= hi <= vdd + 1e-12):
            raise ParameterError(
                f"reference outside the rails: vref_lo = {lo:g} V, vref_hi = {hi:g} V must lie in [0, {vdd:g}] V (VDD)")
        if not hi > lo:
            raise ParameterError(f"reference range [{lo:g}, {hi:g}] V is empty: give vref_lo < vref_hi")
        lsb = (hi - lo) / (1 << bits)
        res = _r12(lsb * RESOLUTION_LSB) if self.resolution is None else self.resolution
        if not (1e-5 <= res <= lsb / 2 + 1e-15):
            raise ParameterError(
                f"staircase resolution = {res:g} V per cycle is out of range: give 1e-5 V to half an LSB ({lsb / 2:g} V)")
        if self.margin is None:
            s = cp.sizes
            sig_pair = math.sqrt(2) * Mismatch(p.avt_mv_um).sigma_vth(s.w_in, s.l_in)
            margin = _r12(max(lsb, 4 * sig_pair))
        else:
            margin = self.margin
        self._set(vdd=vdd, temp=cp.temp, vref_lo=lo, vref_hi=hi, sizes=cp.sizes, c_load=cp.c_load, t_clk=cp.t_clk,
                  t_edge=cp.t_edge, t_step=cp.t_step, resolution=res, margin=margin)
        n = len(self.levels())
        if n > N_CYCLES_MAX:
            raise ParameterError(
                f"the staircase needs {n} clock cycles (more than {N_CYCLES_MAX}): give a coarser resolution or a "
                f"smaller margin")

    # -- derived ---------------------------------------------------------------------------------
    @property
    def comparator(self) -> ComparatorParams:
        """The comparators' parameters (timing, sizes, load): one clock, one timeline for all."""
        return ComparatorParams(pdk=self.pdk, vdd=self.vdd, temp=self.temp, sizes=self.sizes, c_load=self.c_load,
                                t_clk=self.t_clk, t_edge=self.t_edge, sr_latch=False, t_step=self.t_step)

    @property
    def n_comparators(self) -> int:
        """Comparators of the converter: 2^bits - 1."""
        return (1 << self.bits) - 1

    @property
    def lsb(self) -> float:
        """Ideal LSB: (vref_hi - vref_lo) / 2^bits [V]."""
        return (self.vref_hi - self.vref_lo) / (1 << self.bits)

    def taps(self) -> tuple[float, ...]:
        """Nominal tap voltages 1 .. 2^n - 1 (V): the ideal edges."""
        return tuple(_r12(self.vref_lo + c * self.lsb) for c in range(1, 1 << self.bits))

    def span(self) -> tuple[float, float]:
        """[start, stop] of the staircase (V): [vref_lo - margin, vref_hi + margin] clipped to [0, VDD]."""
        return max(0.0, _r12(self.vref_lo - self.margin)), min(self.vdd, _r12(self.vref_hi + self.margin))

    def levels(self) -> tuple[float, ...]:
        """Input of every conversion (clock cycle) k: ``start + (k + 1/2) x resolution``."""
        a, b = self.span()
        n = max(2, math.ceil((b - a) / self.resolution - 1e-9))
        return tuple(_r12(a + (k + 0.5) * self.resolution) for k in range(n))


def save_list(bits: int) -> tuple[str, ...]:
    """The vectors a *bits*-bit flash deck saves: time, every comparator's ``dp_C`` / ``dn_C`` outputs, and
    the supply, clock and top-reference source currents."""
    n = (1 << bits) - 1
    out = ["time"]
    for c in range(1, n + 1):
        out += [f"v(dp_{c})", f"v(dn_{c})"]
    return tuple(out + ["i(vdd)", "i(vclk)", "i(vrefh)"])


def flash_cells(params: FlashParams, p: PDK) -> tuple[list[str], list[Device]]:
    """Ladder + 2^n - 1 comparators (+ their loads): element lines and transistors."""
    n = params.n_comparators
    lines = [f"vrefh vrefh 0 {num(params.vref_hi)}", f"vrefl vrefl 0 {num(params.vref_lo)}"]
    nodes = ["vrefl"] + [f"tap_{c}" for c in range(1, n + 1)] + ["vrefh"]
    for k in range(1, n + 2):
        lines.append(f"rl_{k} {ident(nodes[k - 1])} {ident(nodes[k])} {num(params.r_unit)}")
    if params.c_tap > 0:
        lines += [f"ctap_{c} tap_{c} 0 {num(params.c_tap)}" for c in range(1, n + 1)]
    devices: list[Device] = []
    for c in range(1, n + 1):
        cl, dv = comparator_cell(c, "ain", f"tap_{c}", "clk", "vdd", f"dp_{c}", f"dn_{c}", params.sizes, p, False)
        lines += cl
        devices += dv
        if params.c_load > 0:
            lines += [f"cldp_{c} dp_{c} 0 {num(params.c_load)}", f"cldn_{c} dn_{c} 0 {num(params.c_load)}"]
    return lines, devices


def flash_devices(params: FlashParams, pdk: PDK | None = None) -> tuple[Device, ...]:
    """Every transistor of the converter (Monte Carlo draws over all of them)."""
    p = pdk or pdkmod.describe(params.pdk)
    return tuple(flash_cells(params, p)[1])


def flash_netlist(params: FlashParams, pdk: PDK | None = None) -> Netlist:
    """The converter with the input staircase of :meth:`FlashParams.levels` (one conversion per clock
    cycle). *pdk*, if given, must be the card-resolved PDK of ``params.pdk``."""
    p = pdkmod.for_params(params, FlashParams, pdk)
    cp = params.comparator
    levels = params.levels()
    n = len(levels)
    tl = timeline(cp, n)
    pos = [(0.0, levels[0])]
    for k in range(1, n):
        pos += _edge(tl.change[k], tl.t_edge, levels[k - 1], levels[k])
    cells, devices = flash_cells(params, p)
    a, b = params.span()
    body = [f"* {params.bits}-bit flash ADC: {params.n_comparators} StrongARM comparators on a {1 << params.bits}-resistor "
            f"ladder; comparator c decides 1 (dp_c high) when v(ain) > v(tap_c)",
            f"vdd vdd 0 {num(params.vdd)}", *pwl_source("vclk", "clk", _clock(cp, tl)), *pwl_source("vain", "ain", pos), *cells]
    return Netlist(
        block=BLOCK,
        title=f"charz {BLOCK} {params.bits}bit {ident(params.pdk)}",
        params=(("testbench", "staircase"),) + params.pairs() + (("v_start", num(a)), ("v_stop", num(b)),
                                                                   ("n_cycles", n)),
        body=tuple(body),
        card=p.path,
        card_sha256=p.sha256,
        # half a step past the end: with tstop an exact multiple of the step (9700 x 2 ps) ngspice 39's
        # shared library aborted the 2-bit default deck at tstop ("timestep too small", timestep = 0)
        analysis=f".tran {num(params.t_step)} {num(tl.end + params.t_step / 2)}",
        save=save_list(params.bits),
        temp=params.temp,
        devices=tuple(devices),
    )


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden deck: the default 2-bit flash with a staircase of LSB / 2 steps (file name -> text)."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    params = FlashParams(pdk=p.name, bits=2)
    params = params.replace(resolution=params.lsb / 2)
    return {f"adc_flash_{p.name}_2bit.cir": flash_netlist(params, pdk=p).golden()}


__all__ = ["FlashParams", "flash_netlist", "flash_devices", "flash_cells", "golden_netlists", "save_list",
           "check_flash_bits", "BLOCK"]
