"""Successive-approximation (SA) converter decks: conventional SAR (binary capacitive DAC) and the
memory-immersed SA whose DAC is groups of bitlines of a neighbouring CiM array, and the hybrid. The
parameters, the timing and the decoding of a run are in :mod:`charz.blocks.adc.netlist`.

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
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from ...core import pdk as pdkmod
from ...core.pdk import PDK
from ...core.validate import round12 as _r12
from ..comparator.netlist import comparator_cell
from ...netlist.spice import pwl_source
from ...netlist.spice import Device, Netlist, ident, mos, num
from .netlist import SarParams, _waves, check_levels, save_list, timeline

REG_C = 10e-15
REG_R = 100.0
DRIVE_RATIO = 4
"""Conventional DAC: reference-driver width / sampling-gate width of the same capacitor."""


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


def ramp_netlist(params: SarParams, levels: Sequence[float], pdk: PDK | None = None) -> Netlist:
    """K conversions back to back, conversion m of the DC input ``levels[m]`` [V] (the input steps at
    the start of each sample phase). Saves time, v(q) and the supply / reference / clock / input
    source currents."""
    p = pdkmod.for_params(params, SarParams, pdk)
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
        body += pwl_source(src, name, w[name].pts)
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


__all__ = ["bitline", "circuit", "sar_devices", "sar_caps", "ramp_netlist", "conversion_netlist", "golden_netlists"]
