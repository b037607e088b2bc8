"""Clocked StrongARM latch comparator: the decision element of the SA and flash converters.

Topology (one comparator; ``_p`` is the half-circuit under the input device driven by ``inp``, ``_n``
the one under ``inn``; NMOS bulks at 0, PMOS bulks at vdd)::

    device          drain  gate  source  role
    mtail           tail   clk   0       clocked tail
    min_p / min_n   xp/xn  inp/inn tail  input pair
    mnl_p / mnl_n   outn/outp outp/outn xp/xn   cross-coupled NMOS
    mpl_p / mpl_n   outn/outp outp/outn vdd     cross-coupled PMOS
    mro_p / mro_n   outn/outp clk  vdd   reset (precharge) PMOS on the outputs
    mrx_p / mrx_n   xp/xn  clk   vdd     reset (precharge) PMOS on the internal nodes
    mbp_p, mbn_p    dp     outn          output inverter: dp = NOT outn   (c_load on dp)
    mbp_n, mbn_n    dn     outp          output inverter: dn = NOT outp   (c_load on dn)
    msp_q1 .. msn_b2  q, qb              NOR SR latch (optional): q = NOR(dn, qb), qb = NOR(dp, q)

- **Reset** (clk low): the tail is off and the four reset PMOS pull ``outp``, ``outn``, ``xp``, ``xn``
  to VDD, so both inverter outputs ``dp``, ``dn`` are low (a return-to-zero output pair).
- **Evaluate** (clk high): the tail turns on, the input pair discharges ``xp``/``xn`` at rates set by
  ``inp``/``inn``, the cross-coupled NMOS then pass the imbalance to ``outn``/``outp`` and the
  cross-coupled inverter pair regenerates it to the rails. If ``inp > inn``, ``outn`` falls and
  ``dp`` rises: **decision 1 = ``dp`` high = V(inp) > V(inn)** (plus the instance's offset).
- **Output latch** (``sr_latch=True``, default): a NOR SR latch on ``dp``/``dn`` holds the last
  decision in ``q``/``qb`` through the reset phase (what SA logic reads). The decision time is always
  measured on the return-to-zero outputs ``dp``/``dn`` (the latch only toggles when the decision changes).

Every transistor has a flat top-level name (``min_p``, ``min_n``, ``mtail``, ``mnl_p``, ``mpl_n``,
``mro_p``, ``mrx_n``, ``mbn_p``, ``msp_q1``, ...) so Monte Carlo can ``alter`` each one;
:func:`comparator_cell` adds a suffix (``min_p_3``) when converters place several comparators in one deck.

Testbenches (pure functions of a frozen :class:`ComparatorParams`; the same parameters give
byte-identical text):

- :func:`step_netlist` ``(params, dv, n_cycles)``: a fixed differential input ``dv`` (``inp = vcm + dv/2``,
  ``inn = vcm - dv/2``) for ``n_cycles`` clock cycles. Gives the decision time (clock rising edge at
  50 % to ``|v(dp) - v(dn)|`` = VDD/2), the sign, and the energy per decision from the supply charge
  over whole cycles, ``VDD x (Q(vdd) + Q+(vclk))`` per cycle with ``Q+`` the charge the clock source
  pushes *up* (an ideal source stands for a CMOS clock driver whose supply delivers only the pull-up
  charge), as in the CiM column. The input sources are ideal (their kickback charge, which a
  converter's DAC pays, is not counted). Saves time, v(dp), v(dn), v(outp), v(outn), i(vdd), i(vclk).
- :func:`ramp_netlist` ``(params, v_lo, v_hi, resolution)``: a slow staircase of the differential input
  from ``v_lo`` to ``v_hi`` (one step of ``resolution`` volts per clock cycle, steps in the middle of the
  reset phase, so every decision sees a constant input) around the common mode. The cycle where the
  decisions turn from 0 to 1 gives the instance's input-referred offset in one transient (see
  :func:`charz.blocks.comparator.recipe.ramp_offset`); Monte Carlo runs one such transient per sample.
  The staircase levels are ``v_lo + (i + 1/2) x resolution`` so that no level is exactly 0 V (a
  perfectly symmetric nominal comparator is metastable there).

Offset trim (``trim_bits`` = k > 0): k binary-weighted NMOS devices beside each input device (``mtrp<b>``
drain ``xp``, ``mtrn<b>`` drain ``xn``, source on the tail, width 2^b x ``w_trim``, length ``l_in``). The
signed code is sign-magnitude: a positive code turns on (gate at VDD) the p-side devices of its magnitude
bits, a negative one the n-side devices; an off device has its gate at 0 V and keeps its capacitance on
the internal node. An on device adds current to its side while the tail conducts, as if that input were
higher, so a positive code lowers the input-referred offset. On ptm16hp at 0.7 V one LSB device of
w_trim = Lmin moves the offset by 6 mV and the 4-bit code 15 by 103 mV (README, "Calibration through the
comparator's trim DAC"), against an offset sigma of 19.9 mV. Every trim device is in every deck whatever the code (only gates change), so Monte Carlo draws
the same instance at every code. With ``trim_bits = 0`` (default) the decks are the plain comparator's,
byte for byte.

Timing (:func:`timeline`): the deck starts with half a period of reset (``clk`` low, operating point in
the reset state), then ``n`` cycles of period ``t_clk``, each one an evaluate half (clock rising edge
starts at ``rise[k]``) and a reset half; the deck ends at the end of the last reset half, i.e. in the
state it started from. Edges are raised-cosine ramps of ``t_edge`` written as 4-segment PWLs (their
corners are breakpoints, as in the CiM column).

Defaults (per PDK, in multiples of Lmin; chosen on ptm16hp at 0.6-0.8 V and checked on ptm65bulk at
0.9-1.1 V, -40..125 degC, with this generator and :mod:`charz.blocks.comparator.recipe`):

- **input pair W = 64 Lmin, L = Lmin.** The offset is set by the input pair and the cross-coupled NMOS:
  a device's threshold moves the input-referred offset by 1.1x (input pair), 0.5x (cross-coupled
  NMOS), 0.1-0.2x (cross-coupled PMOS) and < 0.05x (reset devices, output stage) on ptm16hp at 0.7 V.
  At 16 nm and the manifest A_VT (1.4 mV um) one input device has sigma(Vth) = 1.4 / sqrt(1.024 x
  0.016) = 10.9 mV. L = 2 Lmin would halve the pair's mismatch variance but on the PTM 16 nm card the
  longer device is so much weaker (no threshold roll-off) that the comparator no longer resolved 1 mV
  within 100 ps at 0.6 V; W = 64 Lmin is the compromise between offset and the input capacitance a DAC
  must drive.
- **cross-coupled NMOS 32 Lmin, PMOS 16 Lmin, tail 48 Lmin** (L = Lmin): with 8 Lmin latch devices
  their mismatch gave more offset than the input pair (sigma 28 mV in total instead of about 20 mV);
  the wider tail buys back the speed the larger latch costs;
- **reset PMOS 12 Lmin**: 4 Lmin did not restore the outputs within the reset half on ptm65bulk (12 mV
  short at 1.1 V), and an incomplete reset shortens the next decision time (55 instead of 76 ps at
  125 degC); with 12 Lmin the decision time is within 0.6 % of a twice-longer reset half at 27 degC on
  both cards (within 2 % at 0.9 V / 125 degC on ptm65bulk);
- output inverters N 4 / P 8 Lmin; SR latch N 4 / P 16 Lmin (series PMOS);
- ``c_load`` = 0.5 fF x Lmin / 16 nm on each of ``dp``/``dn`` (the SA-logic or encoder input it drives);
- ``t_clk`` = 400 ps on ptm16hp, scaled by the card's reference inverter delay (manifest
  ``ref_tpd_ps``) x sqrt(Lmin / 16 nm) (700 ps on ptm65bulk), rounded to 10 ps, 50 % duty; ``t_edge`` =
  t_clk / 20. The evaluate half (200 ps on ptm16hp) resolves 0.1 mV in 128 ps at 0.6 V / 27 degC (not
  at 0.6 V / 125 degC: 216 ps); the inverter delay alone (350 ps on ptm65bulk) left the hot 65 nm reset
  incomplete;
- ``vcm_ratio`` = 0.7: input common mode 0.7 x VDD. The NMOS input pair needs gate drive above its
  threshold (0.48 V on ptm16hp): decision time at 10 mV, ptm16hp 0.7 V, is 57.7 / 39.2 / 32.3 / 30.1 /
  30.1 ps at V_CM = 0.5 / 0.6 / 0.7 / 0.8 / 0.9 VDD (122 / 75 / 57 / 51 / 51 ps at 0.6 V); above 0.7 VDD
  little is gained and energy grows. In the converters the comparator sees bitlines precharged to VDD
  that discharge (memory-immersed) or a DAC whose common mode can be set high; give another
  ``vcm_ratio`` for a converter whose comparator input sits elsewhere.
- ``t_step`` = t_clk / 200 (2 ps on ptm16hp): the decision time changes by < 0.3 ps (0.6 %) and the
  energy by < 2 % against a 4x finer step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING
import math
import numbers

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.pdk import PDK
from ...core.params import Bool, Instance, Int, Params, Real, param, positive
from ...core.validate import finite, round12 as _r12
from ...netlist.spice import PDK_NAME, TEMP, VDD, edge_points, Device, Netlist, ident, mos, num, pdk_of, pwl_source

BLOCK = "comparator"
EDGE_SEGMENTS = 4
N_CYCLES_MAX = 2000
MAX_TRIM_BITS = 6
"""At most this many trim magnitude bits (63 codes each way)."""
"""At most this many clock cycles in one deck (a ramp of 2000 decisions already takes seconds)."""
SAVE_STEP = ("time", "v(dp)", "v(dn)", "v(outp)", "v(outn)", "i(vdd)", "i(vclk)")
SAVE_RAMP = ("time", "v(dp)", "v(dn)")
T_CLK_16NM = 400e-12
REF_TPD_16NM_PS = 6.4
C_LOAD_16NM = 0.5e-15
VCM_RATIO = 0.7


_W = positive(100e-6, "m")
"""Comparator widths are checked only for the unit (positive, at most 100 um), not against Lmin."""
_L = Real(1e-9, 100e-6, unit="m")
"""Comparator lengths: 1 nm .. 100 um."""


@dataclasses.dataclass(frozen=True)
class ComparatorSizes(Params):
    """Transistor widths and lengths in metres. Defaults from :meth:`default` (multiples of Lmin)."""

    NOUN = "comparator size"

    w_in: float = param(MISSING, _W, "input pair (min_p, min_n) width, m")
    l_in: float = param(MISSING, _L, "input pair length, m")
    w_tail: float = param(MISSING, _W, "clocked tail (mtail) width, m")
    w_nl: float = param(MISSING, _W, "cross-coupled NMOS (mnl_p, mnl_n) width, m")
    w_pl: float = param(MISSING, _W, "cross-coupled PMOS (mpl_p, mpl_n) width, m")
    w_rst: float = param(MISSING, _W, "reset PMOS (mro_p/n on the outputs, mrx_p/n on the internal nodes) width, m")
    w_buf_n: float = param(MISSING, _W, "output inverter (and SR-latch) NMOS width, m")
    w_buf_p: float = param(MISSING, _W, "output inverter PMOS width (the SR latch's series PMOS: twice), m")
    l: float = param(MISSING, _L, "length of every device but the input pair, m")

    @classmethod
    def default(cls, pdk: PDK) -> "ComparatorSizes":
        """Input pair 64 x 1 Lmin, tail 48, cross-coupled NMOS 32, PMOS 16, reset 12, inverters 4 / 8
        (x Lmin), all at L = Lmin (see the module docstring for why)."""
        L = pdk.lmin
        return cls(w_in=_r12(64 * L), l_in=_r12(L), w_tail=_r12(48 * L), w_nl=_r12(32 * L), w_pl=_r12(16 * L),
                   w_rst=_r12(12 * L), w_buf_n=_r12(4 * L), w_buf_p=_r12(8 * L), l=_r12(L))


@dataclasses.dataclass(frozen=True)
class ComparatorParams(Params):
    """Parameters of one comparator testbench. ``None`` fields are resolved to the PDK's defaults on
    creation, so two parameter objects that print the same make the same deck."""

    PDK_BOUND = True

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    vdd: float | None = param(None, VDD, "supply of the comparator, its output stage and the clock; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    sizes: ComparatorSizes | None = param(None, Instance(ComparatorSizes), "transistor sizes; None = ComparatorSizes.default of the PDK")
    c_load: float | None = param(None, Real(0, 1e-12, unit="F"), "load on each output dp, dn; None = 0.5 fF x Lmin / 16 nm")
    t_clk: float | None = param(None, positive(1e-6, "s"), "clock period, 50 % duty; None = 400 ps on ptm16hp, scaled (module doc)")
    t_edge: float | None = param(None, positive(1e-7, "s"), "every clock and input edge (0-100 %, raised cosine); None = t_clk / 20")
    vcm_ratio: float = param(VCM_RATIO, Real(0.2, 0.95), "input common mode as a fraction of VDD")
    sr_latch: bool = param(True, Bool(), "add the NOR SR output latch (q, qb) that holds the decision through reset")
    t_step: float | None = param(None, positive(1e-8, "s"), "maximum transient time step; None = t_clk / 200")
    trim_bits: int = param(0, Int(0, MAX_TRIM_BITS), "offset trim DAC magnitude bits k (0 = no trim devices)")
    """Offset trim: k binary-weighted NMOS pairs (widths w_trim x 2^b) in parallel with the input pair
    (module doc, "Offset trim"); 0 = the plain comparator (its decks do not change)."""
    trim_code: int = param(0, Int(-(2 ** MAX_TRIM_BITS - 1), 2 ** MAX_TRIM_BITS - 1),
                           "signed trim code, |code| <= 2^trim_bits - 1 (sign-magnitude; 0 = every trim device off)")
    w_trim: float | None = param(None, _W, "width of the trim LSB device (bit b: 2^b x w_trim); None = Lmin")

    TRIM_FIELDS = ("trim_bits", "trim_code", "w_trim")
    """Recorded (in headers, cache keys and provenance) only when ``trim_bits`` > 0."""

    def check(self):
        """Per-PDK defaults, VDD against the card, t_edge <= t_clk / 8, t_step <= t_edge; trim code within
        the trim's bits (no code and no trim width without trim bits)."""
        p = pdk_of(self)
        vdd = p.vdd_nom if self.vdd is None else p.check_vdd(self.vdd)
        sizes = ComparatorSizes.default(p) if self.sizes is None else self.sizes
        c_load = _r12(C_LOAD_16NM * p.lmin / 16e-9) if self.c_load is None else self.c_load
        t_clk = default_t_clk(p) if self.t_clk is None else self.t_clk
        t_edge = _r12(t_clk / 20) if self.t_edge is None else self.t_edge
        if t_edge > t_clk / 8:
            raise ParameterError(
                f"t_edge = {t_edge:g} s is too long for the clock period t_clk = {t_clk:g} s: give at most t_clk / 8")
        t_step = _r12(t_clk / 200) if self.t_step is None else self.t_step
        if t_step > t_edge:
            raise ParameterError(f"t_step = {t_step:g} s is longer than the edge ({t_edge:g} s): give a smaller step")
        k = self.trim_bits
        if abs(self.trim_code) > 2 ** k - 1:
            raise ParameterError(f"trim_code = {self.trim_code} needs more than trim_bits = {k} bits: give |code| <= "
                                 f"{2 ** k - 1}" + (" (or trim_bits > 0)" if k == 0 else ""))
        if k == 0 and self.w_trim is not None:
            raise ParameterError("w_trim is set but trim_bits = 0: give trim_bits >= 1 for trim devices")
        w_trim = (_r12(p.lmin) if self.w_trim is None else self.w_trim) if k else None
        self._set(vdd=float(vdd), sizes=sizes, c_load=c_load, t_clk=t_clk, t_edge=t_edge, t_step=t_step, w_trim=w_trim)

    def as_dict(self) -> dict:
        """The fields as a plain dict (sizes nested); the trim fields only when ``trim_bits`` > 0, so the
        decks of a comparator without trim are the ones they always were."""
        d = super().as_dict()
        for key in () if self.trim_bits else self.TRIM_FIELDS:
            del d[key]
        return d

    @property
    def trim(self) -> "Trim | None":
        """The trim of this testbench (None without trim bits)."""
        return Trim(self.trim_bits, self.trim_code, self.w_trim, self.sizes.l_in) if self.trim_bits else None

    @property
    def vcm(self) -> float:
        """Input common mode (V)."""
        return _r12(self.vcm_ratio * self.vdd)


def default_t_clk(p: PDK) -> float:
    """400 ps on ptm16hp, scaled by the card's reference inverter delay at its nominal VDD (manifest
    ``ref_tpd_ps``; 6.4 ps on ptm16hp), or by Lmin / 16 nm for a card without one."""
    ref = pdkmod.reference(p.name).get("tpd_ps")
    scale = (float(ref) / REF_TPD_16NM_PS if ref else p.lmin / 16e-9) * math.sqrt(p.lmin / 16e-9)
    return _r12(round(T_CLK_16NM * scale / 10e-12) * 10e-12)  # a round figure: 700 ps on ptm65bulk




# ---- the comparator itself (reused by the converters) -------------------------------------------
@dataclasses.dataclass(frozen=True)
class Trim:
    """The offset trim DAC of one comparator: *bits* binary-weighted device pairs, the signed *code*
    (sign-magnitude), the LSB device width *w* and the devices' length *l* (the input pair's)."""

    bits: int
    code: int
    w: float
    l: float

    def gates(self, side: str) -> list[bool]:
        """Which of the *side* (``"p"`` or ``"n"``) devices are on, LSB first: a positive code turns on
        the p-side devices of its magnitude bits, a negative one the n-side devices."""
        on_side = "p" if self.code > 0 else "n"
        mag = abs(self.code)
        return [side == on_side and bool((mag >> b) & 1) for b in range(self.bits)]


def comparator_cell(i: int | str | None, inp: str, inn: str, clk: str, vdd: str, dp: str, dn: str,
                    sizes: ComparatorSizes, pdk: PDK, sr_latch: bool = False, q: str = "q",
                    qb: str = "qb", trim: Trim | None = None) -> tuple[list[str], list[Device]]:
    """Element lines and devices of one StrongARM comparator with output inverters (and optionally
    the NOR SR latch driving *q* / *qb*, and the offset *trim* devices). Internal nodes and device names
    get the suffix ``_<i>`` (none when *i* is None), so several comparators can share a deck; ground is
    node 0."""
    sfx = "" if i is None else f"_{i}"
    tail, xp, xn, op, on = (f"{n}{sfx}" for n in ("tail", "xp", "xn", "outp", "outn"))
    s, L = sizes, sizes.l
    nm, pm = pdk.nmos, pdk.pmos
    trim_devices = []
    if trim is not None:  # gate on the supply (device on) or ground (off: its capacitance stays)
        for side, drain in (("p", xp), ("n", xn)):
            for b, on_ in enumerate(trim.gates(side)):
                trim_devices.append((f"mtr{side}{b}", drain, vdd if on_ else "0", tail, "0", nm,
                                     trim.w * (1 << b), trim.l, "n"))
    t = [
        ("mtail", tail, clk, "0", "0", nm, s.w_tail, L, "n"),
        ("min_p", xp, inp, tail, "0", nm, s.w_in, s.l_in, "n"),
        ("min_n", xn, inn, tail, "0", nm, s.w_in, s.l_in, "n"),
        ("mnl_p", on, op, xp, "0", nm, s.w_nl, L, "n"),
        ("mnl_n", op, on, xn, "0", nm, s.w_nl, L, "n"),
        ("mpl_p", on, op, vdd, vdd, pm, s.w_pl, L, "p"),
        ("mpl_n", op, on, vdd, vdd, pm, s.w_pl, L, "p"),
        ("mro_p", on, clk, vdd, vdd, pm, s.w_rst, L, "p"),
        ("mro_n", op, clk, vdd, vdd, pm, s.w_rst, L, "p"),
        ("mrx_p", xp, clk, vdd, vdd, pm, s.w_rst, L, "p"),
        ("mrx_n", xn, clk, vdd, vdd, pm, s.w_rst, L, "p"),
        ("mbp_p", dp, on, vdd, vdd, pm, s.w_buf_p, L, "p"),
        ("mbn_p", dp, on, "0", "0", nm, s.w_buf_n, L, "n"),
        ("mbp_n", dn, op, vdd, vdd, pm, s.w_buf_p, L, "p"),
        ("mbn_n", dn, op, "0", "0", nm, s.w_buf_n, L, "n"),
    ] + trim_devices
    if sr_latch:
        sq, sqb = f"sq{sfx}", f"sqb{sfx}"
        t += [  # q = NOR(dn, qb), qb = NOR(dp, q)
            ("msp_q1", sq, dn, vdd, vdd, pm, 2 * s.w_buf_p, L, "p"),
            ("msp_q2", q, qb, sq, vdd, pm, 2 * s.w_buf_p, L, "p"),
            ("msn_q1", q, dn, "0", "0", nm, s.w_buf_n, L, "n"),
            ("msn_q2", q, qb, "0", "0", nm, s.w_buf_n, L, "n"),
            ("msp_b1", sqb, dp, vdd, vdd, pm, 2 * s.w_buf_p, L, "p"),
            ("msp_b2", qb, q, sqb, vdd, pm, 2 * s.w_buf_p, L, "p"),
            ("msn_b1", qb, dp, "0", "0", nm, s.w_buf_n, L, "n"),
            ("msn_b2", qb, q, "0", "0", nm, s.w_buf_n, L, "n"),
        ]
    lines, devs = [], []
    for role, d, g, src, b, model, w, l, kind in t:
        name = f"{role}{sfx}"
        w = _r12(w)
        lines.append(mos(name, d, g, src, b, model, w, l))
        devs.append(Device(name, kind, w, l))
    return lines, devs


# ---- timing and stimuli ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Timeline:
    """Instants of an n-cycle deck (s)."""

    rise: tuple[float, ...]
    """Start of each clock rising edge (evaluate begins); the 50 % point is ``rise[k] + t_edge / 2``."""
    fall: tuple[float, ...]
    """Start of each clock falling edge (reset begins)."""
    change: tuple[float, ...]
    """Start of the input edge that sets the input of cycle k (k >= 1; middle of the reset half before it)."""
    t_edge: float
    end: float
    """End of the deck (end of the last reset half)."""

    def clock_50(self, k: int) -> float:
        """Clock rising edge of cycle k at 50 % (the reference of the decision time)."""
        return self.rise[k] + self.t_edge / 2

    def evaluate_end(self, k: int) -> float:
        """End of the evaluate half of cycle k (clock falling edge at 50 %)."""
        return self.fall[k] + self.t_edge / 2


def timeline(params: ComparatorParams, n_cycles: int) -> Timeline:
    """The instants of an *n_cycles*-cycle deck of *params* (s): the clock starts at ``t_clk / 2``; each
    cycle's input changes in the middle of the reset half before its rising edge (times rounded to 12
    digits)."""
    T, e = params.t_clk, params.t_edge
    start = T / 2
    rise = tuple(_r12(start + k * T) for k in range(n_cycles))
    fall = tuple(_r12(r + T / 2) for r in rise)
    change = tuple(_r12(r - T / 4 - e / 2) for r in rise)
    return Timeline(rise, fall, change, e, _r12(start + n_cycles * T))


def _edge(t0: float, dur: float, v0: float, v1: float) -> list[tuple[float, float]]:
    return edge_points(t0, dur, v0, v1, EDGE_SEGMENTS)


def _clock(params: ComparatorParams, tl: Timeline) -> list[tuple[float, float]]:
    pts = [(0.0, 0.0)]
    for r, f in zip(tl.rise, tl.fall):
        pts += _edge(r, tl.t_edge, 0.0, params.vdd) + _edge(f, tl.t_edge, params.vdd, 0.0)
    return pts


def _check_cycles(n, what: str = "n_cycles") -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not (1 <= n <= N_CYCLES_MAX):
        raise ParameterError(f"{what} = {n!r} is out of range: give an integer 1 to {N_CYCLES_MAX}")
    return int(n)


def _check_dv(dv, params: ComparatorParams, what: str = "dv") -> float:
    v = finite(dv, what)
    lim = 2 * min(params.vcm, params.vdd - params.vcm)
    if abs(v) > lim + 1e-12:
        raise ParameterError(
            f"{what} = {v:g} V takes an input outside the rails (common mode {params.vcm:g} V, VDD {params.vdd:g} V): "
            f"|dv| must be at most {lim:g} V")
    return v


def comparator_devices(params: ComparatorParams, pdk: PDK | None = None) -> tuple[Device, ...]:
    """The testbench's transistors (Monte Carlo draws over all of them; the same in every testbench)."""
    p = pdk or pdkmod.describe(params.pdk)
    return tuple(comparator_cell(None, "inp", "inn", "clk", "vdd", "dp", "dn", params.sizes, p, params.sr_latch,
                                 trim=params.trim)[1])


def _deck(params: ComparatorParams, p: PDK, kind: str, extra_params: list, stimulus: list[str], n_cycles: int,
          save: tuple[str, ...], what: str) -> Netlist:
    tl = timeline(params, n_cycles)
    cl, devices = comparator_cell(None, "inp", "inn", "clk", "vdd", "dp", "dn", params.sizes, p, params.sr_latch,
                                  trim=params.trim)
    body = [f"* StrongARM latch comparator ({what}); decision 1 = dp high = v(inp) > v(inn)",
            f"vdd vdd 0 {num(params.vdd)}", *pwl_source("vclk", "clk", _clock(params, tl)), *stimulus, *cl]
    if params.c_load > 0:
        body += [f"cldp dp 0 {num(params.c_load)}", f"cldn dn 0 {num(params.c_load)}"]
    if params.sr_latch:  # start with the latch holding 0 (q low); the first decision sets it
        body.append(f".ic v(q)=0 v(qb)={num(params.vdd)}")
    return Netlist(
        block=BLOCK,
        title=f"charz {BLOCK} {kind} {ident(params.pdk)}",
        params=(("testbench", kind),) + params.pairs() + tuple(extra_params) + (("n_cycles", n_cycles),),
        body=tuple(body),
        card=p.path,
        card_sha256=p.sha256,
        analysis=f".tran {num(params.t_step)} {num(tl.end)}",
        save=save,
        temp=params.temp,
        devices=tuple(devices),
    )


def step_netlist(params: ComparatorParams, dv: float, n_cycles: int = 2, pdk: PDK | None = None) -> Netlist:
    """A fixed differential input *dv* (V) for *n_cycles* decisions: decision time, sign and energy
    per decision (see the module docstring). *pdk*, if given, must be the card-resolved PDK of
    ``params.pdk``."""
    p = pdkmod.for_params(params, ComparatorParams, pdk)
    dv = _check_dv(dv, params)
    n = _check_cycles(n_cycles)
    vcm = params.vcm
    stim = [f"vinp inp 0 {num(_r12(vcm + dv / 2))}", f"vinn inn 0 {num(_r12(vcm - dv / 2))}"]
    return _deck(params, p, "step", [("dv", num(dv))], stim, n, SAVE_STEP, f"step dv = {dv:g} V")


@dataclasses.dataclass(frozen=True)
class Ramp:
    """The staircase of a ramp deck: ``levels[k]`` is the differential input (V) of cycle k."""

    v_lo: float
    v_hi: float
    resolution: float
    levels: tuple[float, ...]


def ramp_levels(v_lo: float, v_hi: float, resolution: float) -> Ramp:
    """Levels ``v_lo + (k + 1/2) x resolution`` for k = 0 .. n-1, n = ceil((v_hi - v_lo) / resolution)."""
    lo, hi = finite(v_lo, "v_lo"), finite(v_hi, "v_hi")
    r = finite(resolution, "resolution (V per cycle)")
    if not hi > lo:
        raise ParameterError(f"ramp range [{lo:g}, {hi:g}] V is empty: give v_lo < v_hi")
    if not (1e-6 <= r <= (hi - lo) / 2):
        raise ParameterError(
            f"ramp resolution = {r:g} V per cycle is out of range: "
            f"give 1e-6 V to half the ramp span ({(hi - lo) / 2:g} V)")
    n = math.ceil((hi - lo) / r - 1e-9)
    _check_cycles(n, f"ramp cycles (span {hi - lo:g} V / resolution {r:g} V)")
    return Ramp(lo, hi, r, tuple(_r12(lo + (k + 0.5) * r) for k in range(n)))


def ramp_netlist(params: ComparatorParams, v_lo: float, v_hi: float, resolution: float = 1e-3,
                 pdk: PDK | None = None) -> Netlist:
    """The differential input steps from ``v_lo`` to ``v_hi`` (V) by *resolution* volts per clock cycle,
    one decision per cycle (see :func:`ramp_levels`); saves only time, v(dp), v(dn)."""
    p = pdkmod.for_params(params, ComparatorParams, pdk)
    ramp = ramp_levels(v_lo, v_hi, resolution)
    lim = 2 * min(params.vcm, params.vdd - params.vcm)
    if max(abs(ramp.v_lo), abs(ramp.v_hi)) > lim + 1e-12:
        raise ParameterError(
            f"ramp [{ramp.v_lo:g}, {ramp.v_hi:g}] V takes an input outside the rails (common mode {params.vcm:g} V): "
            f"keep |v| <= {lim:g} V")
    n = len(ramp.levels)
    tl = timeline(params, n)
    vcm, e = params.vcm, params.t_edge
    pos = [(0.0, ramp.levels[0])]
    for k in range(1, n):
        pos += _edge(tl.change[k], e, ramp.levels[k - 1], ramp.levels[k])
    stim = pwl_source("vinp", "inp", [(t, _r12(vcm + v / 2)) for t, v in pos])
    stim += pwl_source("vinn", "inn", [(t, _r12(vcm - v / 2)) for t, v in pos])
    extra = [("v_lo", num(ramp.v_lo)), ("v_hi", num(ramp.v_hi)), ("resolution", num(ramp.resolution))]
    return _deck(params, p, "ramp", extra, stim, n, SAVE_RAMP,
                 f"ramp {ramp.v_lo:g} .. {ramp.v_hi:g} V by {ramp.resolution:g} V per cycle")


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden decks of the default comparator: step at +10 mV and a +-20 mV ramp by 2 mV (file name -> text)."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    params = ComparatorParams(pdk=p.name)
    return {
        f"comparator_{p.name}_step_p10mv.cir": step_netlist(params, 10e-3, pdk=p).golden(),
        f"comparator_{p.name}_ramp.cir": ramp_netlist(params, -20e-3, 20e-3, 2e-3, pdk=p).golden(),
    }
