"""Figures of digitizer LUTs: transfer curves with DNL/INL, and energy / area per converter kind.

Every function reads LUTs (no simulation) and the area model of :mod:`charz.blocks.adc.model_area`, and writes
one PNG. LUTs whose provenance says ``synthetic`` are marked SYNTHETIC in the figure.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import model_area as area_model  # noqa: E402
from .model import DESCRIPTION, DigitizerModel, check_lut  # noqa: E402
from .model_transfer import BLOCKS, inl_dnl  # noqa: E402
from ...core.errors import LUTError  # noqa: E402
from ...core.lut import Kind  # noqa: E402
from ...plot.common import save  # noqa: E402

SHORT = {Kind.ADC_SAR: "SAR\n(conventional)", Kind.ADC_MI_SAR: "SAR\n(memory-immersed)", Kind.ADC_FLASH: "flash",
         Kind.ADC_HYBRID: "hybrid\n(flash + MI-SA)"}
COLORS = {Kind.ADC_SAR: "tab:blue", Kind.ADC_MI_SAR: "tab:green", Kind.ADC_FLASH: "tab:red",
          Kind.ADC_HYBRID: "tab:purple"}
CATEGORY = [  # area breakdown part name (substring) -> category, first match wins
    ("capacitor", "CDAC capacitors"),
    ("ladder", "reference ladder"),
    ("comparator", "comparators"),
    ("switch", "switches / mux"),
    ("mux", "switches / mux"),
    ("logic", "SA logic, encoder, registers"),
    ("encoder", "SA logic, encoder, registers"),
    ("register", "SA logic, encoder, registers"),
]
CAT_COLORS = {"comparators": "#4c72b0", "SA logic, encoder, registers": "#dd8452", "switches / mux": "#55a868",
              "CDAC capacitors": "#c44e52", "reference ladder": "#8172b3"}




def _model(lut, vdd, temp, mismatch_scale) -> DigitizerModel:
    check_lut(lut)
    has_mc = "transition" in lut.samples or "transition_sigma" in lut.tables
    return DigitizerModel.from_lut(lut, vdd=vdd, temp=temp, mismatch_scale=mismatch_scale if has_mc else 0.0,
                                   reference="lut")


def plot_transfer(lut, path, n_instances: int = 4, seed: int = 0, vdd: float | None = None,
                  temp: float | None = None, mismatch_scale: float = 1.0, method: str = "endpoint") -> Path:
    """Transfer curve (code vs input voltage) of the nominal converter and ``n_instances`` Monte Carlo
    instances drawn from *seed*, with DNL per code and INL per transition edge (LSB, *method*)."""
    m = _model(lut, vdd, temp, mismatch_scale)
    nom = m.nominal_transitions()
    n_inst = n_instances if (m.dev_factor is not None and m.mismatch_scale > 0) else 0
    bank = m.instances(n_inst, np.random.default_rng(seed)) if n_inst else None
    lsb = m.lsb
    v = np.linspace(m.v_lo - 1.5 * lsb, m.v_hi + 1.5 * lsb, 6000)
    fig, axes = plt.subplots(3, 1, figsize=(8.0, 9.2), sharex=False,
                             gridspec_kw={"height_ratios": [2.2, 1, 1]})
    a0, a1, a2 = axes
    levels = m.levels
    ideal = np.clip(np.floor((v - m.v_lo) / lsb), 0, levels - 1)
    a0.plot(v, ideal, color="0.6", lw=1.0, ls="--", drawstyle="steps-post", label="ideal")
    s_nom = inl_dnl(nom, (m.v_lo, m.v_hi), method)
    a0.plot(v, m.codes(v), color="k", lw=1.6, drawstyle="steps-post",
            label=f"nominal (max |DNL| {s_nom['max_abs_dnl']:.2f}, |INL| {s_nom['max_abs_inl']:.2f} LSB)")
    colors = plt.cm.viridis(np.linspace(0.1, 0.85, max(1, n_inst)))
    s_inst = None
    if bank is not None:
        s_inst = bank.inl_dnl(method)
        codes = bank.convert(np.broadcast_to(v, (n_inst, v.size)))
        for i in range(n_inst):
            nm = int(s_inst["n_missing"][i])
            a0.plot(v, codes[i], color=colors[i], lw=1.0, alpha=0.85, drawstyle="steps-post",
                    label=f"MC instance {i + 1} (|DNL| {s_inst['max_abs_dnl'][i]:.2f}, |INL| {s_inst['max_abs_inl'][i]:.2f} LSB"
                          + (f", {nm} missing code{'s' if nm > 1 else ''})" if nm else ")"))
    a0.set_xlim(v[0], v[-1])
    a0.set_ylim(-0.8, levels - 0.2)
    # zoom on the mid-scale (major carry) transition, where the instances differ most visibly
    mid = float(nom[levels // 2 - 1])
    ins = a0.inset_axes([0.56, 0.07, 0.42, 0.44])
    zm = (v > mid - 3.5 * lsb) & (v < mid + 3.5 * lsb)
    ins.plot(v[zm], ideal[zm], color="0.6", lw=1.0, ls="--", drawstyle="steps-post")
    ins.plot(v[zm], m.codes(v[zm]), color="k", lw=1.6, drawstyle="steps-post")
    if bank is not None:
        for i in range(n_inst):
            ins.plot(v[zm], codes[i][zm], color=colors[i], lw=1.1, drawstyle="steps-post")
    ins.set_title("mid-scale, zoomed", fontsize=7.5)
    ins.tick_params(labelsize=7)
    ins.grid(alpha=0.3)
    a0.indicate_inset_zoom(ins, edgecolor="0.5")
    a0.set_xlabel("input voltage [V]")
    a0.set_ylabel("output code")
    a0.grid(alpha=0.3)
    a0.legend(fontsize=7.5, loc="upper left", frameon=True)

    codes_in = np.arange(1, levels - 1)
    edges = np.arange(1, levels)
    a1.axhline(0, color="0.5", lw=0.8)
    a2.axhline(0, color="0.5", lw=0.8)
    a1.plot(codes_in, s_nom["dnl"], "k.-", lw=1.2, ms=4, label="nominal")
    a2.plot(edges, s_nom["inl"], "k.-", lw=1.2, ms=4, label="nominal")
    if s_inst is not None:
        for i in range(n_inst):
            a1.plot(codes_in, s_inst["dnl"][i], ".-", color=colors[i], lw=0.9, ms=3, alpha=0.85)
            a2.plot(edges, s_inst["inl"][i], ".-", color=colors[i], lw=0.9, ms=3, alpha=0.85)
            miss = np.flatnonzero(s_inst["missing"][i][1:-1]) + 1
            if miss.size:
                a1.plot(miss, np.full(miss.size, -1.0), "x", color=colors[i], ms=7, mew=1.6)
    a1.axhline(-1, color="tab:red", lw=0.8, ls=":")
    a1.text(codes_in[-1], -1, "DNL = -1: missing code (x)", color="tab:red", fontsize=7.5, ha="right", va="bottom")
    a1.set_ylabel("DNL [LSB]")
    a1.set_xlabel("code (inner codes 1 .. 2^n - 2; the end codes are open-ended)")
    a2.set_ylabel(f"INL [LSB] ({method})")
    a2.set_xlabel("transition edge c (code c-1 → c)")
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.set_xlim(0.5, levels - 0.5)
    p = m.provenance
    src = "SYNTHETIC LUT (not SPICE)" if m.synthetic else f"{p.get('pdk', '?')}"
    fb = f", {m.flash_bits} flash MSBs" if m.flash_bits else ""
    mc = (f"{n_inst} instances drawn from the statistics of {m.mc_samples} SPICE Monte Carlo instances "
          f"(seed {seed}, scale {m.mismatch_scale:g})"
          if n_inst else "nominal only (no Monte Carlo)")
    unit = {"vdd": "V", "temp": "°C"}
    coords = ", ".join(f"{'VDD' if k == 'vdd' else k} {v:g} {unit.get(k, '')}".strip() for k, v in m.coords.items())
    fig.suptitle(f"{m.block}: {m.bits}-bit {DESCRIPTION[m.block]}{fb}", fontsize=12)
    sub = (f"{src}; {coords}; range [{m.v_lo:.3g}, {m.v_hi:.3g}] V, LSB {lsb * 1e3:.3g} mV; "
           f"{m.energy * 1e15:.3g} fJ, {m.t_conv * 1e9:.3g} ns per conversion; {mc}")
    fig.text(0.5, 0.962, "\n".join(textwrap.wrap(sub, 110)), ha="center", va="top", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.945))
    return save(fig, path, tight=True)


def _luts_by_kind(luts) -> dict:
    items = list(luts.values()) if isinstance(luts, dict) else list(luts)
    out = {}
    for lut in items:
        check_lut(lut)
        if lut.block in out:
            raise LUTError(f"two {lut.block} LUTs given: give one LUT per converter kind")
        out[lut.block] = lut
    return out


def plot_converter_comparison(luts, path, pdk="ptm65bulk", bits: int = 5, vdd: float | None = None,
                              temp: float | None = None) -> Path:
    """Energy per conversion (from the LUTs, one per kind; kinds without a LUT are left empty) and
    area (charz area model at the node of *pdk*) of each converter kind at *bits*, with our ratios
    conventional / memory-immersed beside the published 25x / 1.4x (SAR) and 51x / 13x (flash)."""
    by = _luts_by_kind(luts)
    energy, synthetic = {}, False
    for k, lut in by.items():
        if int(lut.conditions.get("bits", -1)) != bits:
            raise LUTError(f"the {k} LUT is {lut.conditions.get('bits')}-bit; this figure compares {bits}-bit converters")
        m = DigitizerModel.from_lut(lut, vdd=vdd, temp=temp, mismatch_scale=0.0)
        energy[k] = m.energy
        synthetic |= m.synthetic
    cmp = area_model.compare(bits, pdk)
    for k, lut in by.items():  # a LUT's own area model (the deck it was made from) replaces the generic one
        am = lut.conditions.get("area_model")
        if isinstance(am, dict) and "breakdown_um2" in am and am.get("node_nm") == cmp["node_nm"]:
            cmp["reports"][k] = am
    mi_a = sum(cmp["reports"]["adc_mi_sar"]["breakdown_um2"].values())
    cmp["ours"] = {f"area_ratio_vs_{n}": sum(cmp["reports"][f"adc_{n}"]["breakdown_um2"].values()) / mi_a
                   for n in ("sar", "flash")}
    kinds = list(BLOCKS)
    x = np.arange(len(kinds))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.0, 5.4))

    # energy
    ev = np.array([energy.get(k, np.nan) * 1e15 for k in kinds])
    bars = a1.bar(x, np.nan_to_num(ev), color=[COLORS[k] for k in kinds], width=0.6)
    for b, val, k in zip(bars, ev, kinds):
        a1.annotate("no LUT" if np.isnan(val) else f"{val:.3g} fJ", (b.get_x() + b.get_width() / 2, 0 if np.isnan(val) else val),
                    ha="center", va="bottom", fontsize=8.5, xytext=(0, 2), textcoords="offset points")
    a1.set_xticks(x)
    a1.set_xticklabels([SHORT[k] for k in kinds], fontsize=8.5)
    a1.set_ylabel("energy per conversion [fJ]")
    top = np.nanmax(ev) if np.any(np.isfinite(ev)) else 1.0
    a1.set_ylim(0, top * 1.45)
    a1.grid(axis="y", alpha=0.3)
    pub = area_model.PUBLISHED
    lines = []
    mi = energy.get("adc_mi_sar")
    for k, pk, name in (("adc_sar", "energy_ratio_vs_sar", "SAR"), ("adc_flash", "energy_ratio_vs_flash", "flash")):
        ours = f"{energy[k] / mi:.2f}x" if (mi and k in energy) else "n/a"
        lines.append(f"{name} / MI:  ours {ours}   published {pub[pk]:g}x")
    a1.text(0.02, 0.97, "\n".join(lines), transform=a1.transAxes, va="top", fontsize=8.5,
            bbox=dict(boxstyle="round", fc="white", ec="0.7"))
    src = "SYNTHETIC LUTs (not SPICE): energies are inputs, not results" if synthetic else "from the digitizer LUTs"
    a1.set_title(f"energy per conversion, {bits}-bit  ({src})", fontsize=9.5)

    # area (stacked by category)
    cats = list(CAT_COLORS)
    bottoms = np.zeros(len(kinds))
    for cat in cats:
        vals = []
        for k in kinds:
            bd = cmp["reports"][k]["breakdown_um2"]
            vals.append(sum(v for n, v in bd.items() if _category(n) == cat))
        vals = np.array(vals)
        if np.any(vals > 0):
            a2.bar(x, vals, bottom=bottoms, color=CAT_COLORS[cat], width=0.6, label=cat)
        bottoms += vals
    for xi, tot in zip(x, bottoms):
        a2.annotate(f"{tot:.3g} µm²", (xi, tot), ha="center", va="bottom", fontsize=8.5, xytext=(0, 2),
                    textcoords="offset points")
    a2.set_xticks(x)
    a2.set_xticklabels([SHORT[k] for k in kinds], fontsize=8.5)
    a2.set_ylabel("area per converter [µm²]")
    a2.set_ylim(0, bottoms.max() * 1.45)
    a2.grid(axis="y", alpha=0.3)
    a2.legend(fontsize=7.5, loc="upper right")
    o = cmp["ours"]
    a2.text(0.02, 0.97, f"SAR / MI:  ours {o['area_ratio_vs_sar']:.2f}x   published {pub['area_ratio_vs_sar']:g}x\n"
                        f"flash / MI:  ours {o['area_ratio_vs_flash']:.2f}x   published {pub['area_ratio_vs_flash']:g}x",
            transform=a2.transAxes, va="top", fontsize=8.5, bbox=dict(boxstyle="round", fc="white", ec="0.7"))
    a_t = cmp["reports"]["adc_sar"]["assumptions"]
    a2.set_title(f"area per converter, {bits}-bit, {cmp['node_nm']} nm (charz area model)", fontsize=9.5)
    fig.suptitle("Column digitizers: conventional vs memory-immersed (MI) vs flash vs hybrid", fontsize=12)
    node = area_model.node_of(cmp["node_nm"])
    foot = (f"Area model: minimum transistor {a_t['transistor_um2']:.3g} µm² = {area_model.LOGIC_FACTOR:g} x A_6T / 6 with "
            f"A_6T = {node.sram6t_um2:g} µm² published for the node; MOM "
            f"{a_t['mom_ff_per_um2']:g} fF/µm² x {a_t['cap_overhead']:g} layout overhead, {a_t['c_unit_fF']:g} fF unit; "
            f"MI and hybrid SA CDAC = neighbour bitlines (0 capacitor area). Published ratios: {pub['source']} — "
            f"different nodes and complete stand-alone ADCs, so they are shown beside ours, not as ours.")
    fig.text(0.5, 0.01, "\n".join(textwrap.wrap(foot, 175)), ha="center", va="bottom", fontsize=7.2, color="0.25")
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return save(fig, path, tight=True)


def _category(part: str) -> str:
    p = part.lower()
    for key, cat in CATEGORY:
        if key in p:
            return cat
    return "SA logic, encoder, registers"


def plot_lut(lut, out: Path, stem: str) -> list[Path]:
    """A converter LUT's figure in folder *out*: its transfer curve with INL / DNL."""
    return [Path(plot_transfer(lut, out / f"{stem}_transfer.png") or out / f"{stem}_transfer.png")]
