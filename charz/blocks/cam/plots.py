"""Figures of a ``cam_sram`` LUT: the distance transfer curve ``V_ML(m)`` at the sense instant with its Monte
Carlo band, the nominal match-line transients, the energy per search per row split into its parts, and the
model's wrong-winner probability against the distance margin. They read only the LUT (and the model fed
by it). The operating point defaults to the temperature nearest 27 degC and the PDK's nominal VDD (else
the highest grid VDD) where one VDD is needed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ...core.errors import LUTError  # noqa: E402
from ...core.lut import LUT, Kind  # noqa: E402
from ...plot.common import check_kind, mc_note, save  # noqa: E402
from .model import CamModel  # noqa: E402
from .model_mtj import MtjCamModel  # noqa: E402

BLOCK = Kind.CAM_SRAM
PARTS = (("energy_precharge", "match-line precharge", "tab:blue"),
         ("energy_search", "search lines (row share)", "tab:green"),
         ("energy_sense", "sense amplifier (supply + clock)", "tab:red"),
         ("energy_clock", "precharge clock", "tab:gray"),
         ("energy_reference", "replica row (row share)", "tab:purple"))
FLOOR = 1e-6
"""Lowest probability shown (smaller ones are drawn on the floor)."""


def _temp(lut: LUT, temp) -> float:
    ax = lut.axis("temp").values
    return float(temp) if temp is not None else float(ax[np.argmin(np.abs(ax - 27.0))])


def _vdd(lut: LUT, vdd) -> float:
    ax = lut.axis("vdd").values
    if vdd is not None:
        return float(vdd)
    vn = lut.provenance.get("vdd_nom")
    return float(vn) if vn is not None and np.any(np.isclose(ax, float(vn))) else float(ax[-1])


def _head(lut: LUT, what: str) -> str:
    c, p = lut.conditions, lut.provenance
    return (f"{p.get('pdk', '?')} SRAM CAM row, W = {c.get('n_bits', '?')} bits, {c.get('rows', '?')} rows on the "
            f"search lines: {what}")


def plot_transfer(lut: LUT, path, temp=None) -> Path:
    """Left: ``V_ML`` at the sense instant against the number of mismatching bits m, one curve per VDD
    (nominal), with the Monte Carlo rows' range and +-1 sigma band. Right: the spread sigma(V_ML) against the
    step between neighbouring distances ``mean(m) - mean(m + 1)`` (what separates two rows one bit apart)."""
    check_kind(lut, BLOCK)
    t = _temp(lut, temp)
    m = lut.axis("m").values
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.0, 4.8), gridspec_kw={"width_ratios": [1.25, 1.0]})
    colors = plt.cm.viridis(np.linspace(0.1, 0.85, lut.axis("vdd").values.size))
    for vdd, col in zip(lut.axis("vdd").values, colors):
        nom = lut.slice("v_ml", vdd=vdd, temp=t)
        ax.plot(m, nom, "o-", color=col, ms=4, label=f"VDD {vdd:g} V, nominal")
        if "v_ml" in lut.samples:
            s = lut.sample_slice("v_ml", vdd=vdd, temp=t)
            mean, sig = np.nanmean(s, axis=-1), np.nanstd(s, axis=-1, ddof=1)
            ax.fill_between(m, np.nanmin(s, axis=-1), np.nanmax(s, axis=-1), color=col, alpha=0.15, lw=0)
            ax.fill_between(m, mean - sig, mean + sig, color=col, alpha=0.3, lw=0)
            ax2.plot(m, 1e3 * sig, "o-", color=col, ms=4, label=f"VDD {vdd:g} V: sigma(V_ML)")
            ax2.plot(m[:-1] + 0.5, 1e3 * -np.diff(mean), "s--", color=col, ms=4, alpha=0.8,
                     label=f"VDD {vdd:g} V: step mean(m) - mean(m+1)")
        else:
            ax2.plot(m[:-1] + 0.5, 1e3 * -np.diff(nom), "s--", color=col, ms=4,
                     label=f"VDD {vdd:g} V: nominal step V(m) - V(m+1)")
    ax.set_xlabel("mismatching bits m (Hamming distance)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("V_ML at the sense instant [V]")
    sense = lut.conditions.get("t_sense")
    ax.set_title(f"distance transfer curve, sense {sense * 1e12:.0f} ps after the search lines" if sense else
                 "distance transfer curve", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right", title="shaded: +-1 sigma and range" if lut.samples else None,
              title_fontsize=8)
    ax2.set_xlabel("mismatching bits m")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_ylabel("[mV]")
    ax2.set_title("spread against the step between distances", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7.5)
    fig.suptitle(_head(lut, f"{t:g} °C; {mc_note(lut, 'rows')}"), fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def plot_transients(lut: LUT, path, vdd=None, temp=None) -> Path:
    """Nominal match-line transients over one search for a few distances m (solid), the replica reference
    line (dashed, m = 0 cycle), with the search lines' 50 % point, the sense instant and the sense amplifier's
    strobe marked."""
    check_kind(lut, BLOCK)
    if "wave_ml" not in lut.arrays:
        raise LUTError(f"this {BLOCK} LUT holds no match-line transients (arrays wave_t, wave_ml)")
    v, t = _vdd(lut, vdd), _temp(lut, temp)
    i = int(np.argmin(np.abs(lut.axis("vdd").values - v)))
    j = int(np.argmin(np.abs(lut.axis("temp").values - t)))
    W = int(lut.axis("m").values[-1])
    tt = np.asarray(lut.arrays["wave_t"]) * 1e12
    ml, ref = np.asarray(lut.arrays["wave_ml"])[i, j], np.asarray(lut.arrays["wave_ref"])[i, j]
    show = sorted({0, 1, 2, max(W // 4, 1), max(W // 2, 1), W})
    c = lut.conditions
    fig, ax = plt.subplots(figsize=(9.0, 5.0))
    colors = plt.cm.plasma(np.linspace(0.0, 0.85, len(show)))
    for m, col in zip(show, colors):
        ax.plot(tt, ml[m], color=col, lw=1.6, label=f"m = {m}")
    ax.plot(tt, ref[0], "--", color="0.3", lw=1.2, label="replica reference line")
    for key, text, style in (("sl_50_s", "search lines 50 %", ":"), ("sense_instant_s", "sense instant", "-"),
                             ("strobe_instant_s", "sense-amp strobe", "-."), ("fall_s", "precharge on", ":")):
        if key in c:
            ax.axvline(c[key] * 1e12, color="k", ls=style, lw=0.9, alpha=0.7)
            ax.text(c[key] * 1e12, 0.02 * lut.axis("vdd").values[i], f" {text}", rotation=90, fontsize=8,
                    va="bottom", ha="left", color="0.25")
    ax.set_xlabel("time in the search cycle [ps]")
    ax.set_ylabel("match line [V]")
    ax.set_xlim(tt[0], tt[-1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    ax.set_title(_head(lut, f"match-line transients\nVDD {v:g} V, {t:g} °C, nominal"), fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def plot_energy(lut: LUT, path, temp=None) -> Path:
    """Energy per search per row against m, stacked by part, one panel per VDD (nominal)."""
    check_kind(lut, BLOCK)
    t = _temp(lut, temp)
    m = lut.axis("m").values
    vdds = lut.axis("vdd").values
    fig, axes = plt.subplots(1, vdds.size, figsize=(5.2 * vdds.size + 0.6, 4.6), squeeze=False, sharey=True)
    for ax, vdd in zip(axes[0], vdds):
        bottom = np.zeros_like(m)
        for name, label, col in PARTS:
            e = lut.slice(name, vdd=vdd, temp=t) * 1e15
            ax.bar(m, e, bottom=bottom, color=col, label=label, width=0.8)
            bottom = bottom + e
        ax.set_title(f"VDD {vdd:g} V: {np.nanmean(bottom):.2f} fJ per search per row (mean over m)", fontsize=9)
        ax.set_xlabel("mismatching bits m")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].set_ylabel("energy per search per row [fJ]")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(PARTS), frameon=False)
    fig.suptitle(_head(lut, f"energy per search, nominal, {t:g} °C"), fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return save(fig, path)


def plot_wrong_winner(lut: LUT, path, vdd=None, temp=None) -> Path:
    """The model's probability that a farther row wins a nearest-key search, against the distance margin
    between the nearest row (at d) and one or several rows at d + margin (:meth:`CamModel.p_wrong`)."""
    check_kind(lut, BLOCK)
    v, t = _vdd(lut, vdd), _temp(lut, temp)
    model = CamModel.from_lut(lut, vdd=v, temp=t)
    W = model.n_bits
    margins = np.arange(1, min(W, 8) + 1)
    fig, ax = plt.subplots(figsize=(8.0, 4.8))
    ds = sorted({0, 1, W // 4, W // 2})
    colors = plt.cm.viridis(np.linspace(0.05, 0.85, len(ds)))
    for d, col in zip(ds, colors):
        ax.semilogy(margins, np.maximum(model.p_wrong(d, margins), FLOOR), "o-", color=col,
                    label=f"nearest at d = {d}, one rival")
        ax.semilogy(margins, np.maximum(model.p_wrong(d, margins, competitors=8), FLOOR), "s--", color=col, alpha=0.7,
                    ms=4,
                    label=f"nearest at d = {d}, 8 rivals")
    ax.set_ylim(FLOOR, 1)
    ax.set_xlabel("distance margin: rivals' distance minus the nearest row's [bits]")
    ax.set_ylabel("P(a farther row wins)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(_head(lut, f"wrong-winner probability (model, Gaussian V_ML)\nVDD {v:g} V, {t:g} °C; "
                            f"{mc_note(lut, 'rows')}"), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


# ---- cam_mtj ----------------------------------------------------------------------------------------------
def _mtj_point(lut: LUT) -> tuple[float, float, int, int]:
    v, t = _vdd(lut, None), _temp(lut, None)
    i = int(np.argmin(np.abs(lut.axis("vdd").values - v)))
    j = int(np.argmin(np.abs(lut.axis("temp").values - t)))
    return v, t, i, j


def _mtj_head(lut: LUT, what: str) -> str:
    c, p = lut.conditions, lut.provenance
    return (f"{p.get('pdk', '?')} MTJ analog CAM cell, {c.get('bits', '?')} MTJs per branch (R_P "
            f"{c.get('r_p', 0) / 1e3:g} kOhm, TMR0 {100 * c.get('tmr0', 0):g} %, V_h {c.get('v_half', 0):g} V, "
            f"sigma_R {100 * c.get('sigma_r', 0):g} %): {what}")


def plot_mtj_edges(lut: LUT, path) -> Path:
    """Left: the lower and upper match-window edges against the programmed state (nominal), each with its
    Monte Carlo range and +-1 sigma band. Right: the edges' sigma and the step to the next state's edge."""
    check_kind(lut, Kind.CAM_MTJ)
    v, t, i, j = _mtj_point(lut)
    s = lut.axis("state").values
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.0, 4.8), gridspec_kw={"width_ratios": [1.3, 1.0]})
    for b, col, mk, dx in (("lo", "tab:blue", "o", -0.08), ("hi", "tab:red", "s", 0.08)):
        nom = lut.slice(f"edge_{b}", vdd=v, temp=t)
        label = "lower edge lo (ML released above)" if b == "lo" else "upper edge hi (ML discharged above)"
        ax.plot(s + dx, nom, mk + "-", color=col, label=f"{label}, nominal")
        if f"edge_{b}" in lut.samples:
            smp = lut.sample_slice(f"edge_{b}", vdd=v, temp=t)
            mean, sig = np.nanmean(smp, axis=-1), np.nanstd(smp, axis=-1, ddof=1)
            ax.fill_between(s + dx, np.nanmin(smp, axis=-1), np.nanmax(smp, axis=-1), color=col, alpha=0.12, lw=0)
            ax.fill_between(s + dx, mean - sig, mean + sig, color=col, alpha=0.3, lw=0)
            ax2.plot(s, 1e3 * sig, mk + "-", color=col, label=f"sigma(edge {b})")
        ax2.plot(s[:-1] + 0.5, 1e3 * np.diff(np.sort(nom)), mk + "--", color=col, alpha=0.7,
                 label=f"step between sorted nominal {b} edges")
    ax.set_xlabel("programmed state s = sum 2^j b_j (b_j = 1: MTJ j antiparallel)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("data-line voltage at the edge [V]")
    ax.set_title("match-window edges; a row (s_lo, s_hi) matches lo[s_lo] <= V_DL < hi[s_hi]", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", title="shaded: +-1 sigma and range" if lut.samples else None,
              title_fontsize=8)
    ax2.set_xlabel("programmed state")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_ylabel("[mV]")
    ax2.set_title("edge spread against the step between edges", fontsize=9)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle(_mtj_head(lut, f"VDD {v:g} V, {t:g} °C; {mc_note(lut, 'cells')}"), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def plot_mtj_transfer(lut: LUT, path) -> Path:
    """Both testbench match lines at the sense instant against the data-line voltage for a few states
    (nominal): ``ml_lo`` rises through VDD / 2 at the lower edge, ``ml_hi`` falls at the upper edge."""
    v, t, i, j = _mtj_point(lut)
    dl = np.asarray(lut.arrays["dl_grid"])
    lo, hi = np.asarray(lut.arrays["v_ml_lo"])[i, j], np.asarray(lut.arrays["v_ml_hi"])[i, j]
    S = lo.shape[0]
    show = sorted({0, S // 3, (2 * S) // 3, S - 1})
    fig, ax = plt.subplots(figsize=(11.0, 4.8))
    colors = plt.cm.viridis(np.linspace(0.05, 0.85, len(show)))
    for s, col in zip(show, colors):
        ax.plot(dl, lo[s], "-", color=col, lw=1.6, label=f"state {s}: ml_lo (lo branch)")
        ax.plot(dl, hi[s], "--", color=col, lw=1.6, label=f"state {s}: ml_hi (hi branch)")
    ax.axhline(v / 2, color="k", lw=0.8, ls=":")
    e = np.concatenate([lut.slice("edge_lo", vdd=v, temp=t), lut.slice("edge_hi", vdd=v, temp=t)])
    e = e[np.isfinite(e)]
    x0, x1 = (max(dl[0], e.min() - 0.25), min(dl[-1], e.max() + 0.25)) if e.size else (dl[0], dl[-1])
    ax.set_xlim(x0, x1)
    ax.text(x0, v / 2, " VDD / 2: the edge", fontsize=8, va="bottom")
    ax.set_xlabel("data-line (search input) voltage [V]")
    ax.set_ylabel("match line at the sense instant [V]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(_mtj_head(lut, f"\nmatch lines vs input, VDD {v:g} V, {t:g} °C, nominal"), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def draw_macam_transfer(ax, model: MtjCamModel, design, z, adc=None, arrays: int = 64, seed: int = 0) -> None:
    """On *ax*: the MACAM read-out of *design* (:mod:`charz.blocks.cam.model_macam`) against the pre-activation
    over the range of *z* (the calibration inputs, drawn as a grey histogram behind): the nominal array, the
    5-95 % band over *arrays* drawn arrays, the digital read-out *adc* (an ``AdcReadout``, nominal) when given,
    and the float ReLU."""
    from . import model_macam as mm

    zz = np.asarray(z, dtype=float).ravel()
    lo, hi = np.percentile(zz, [0.5, 99.9])
    x = np.linspace(lo, hi, 600)
    drawn = mm.draw_arrays(model, design, arrays, np.random.default_rng(seed))
    vals, _ = mm.macam_read(model, design, drawn, np.repeat(x[:, None], arrays, axis=1))
    nom, _ = mm.macam_read(model, design, mm.nominal_arrays(model, design, 1), x[:, None])
    h = ax.twinx()
    h.hist(zz, bins=80, range=(lo, hi), color="0.85")
    h.set_yticks([])
    ax.set_zorder(h.get_zorder() + 1)
    ax.patch.set_visible(False)
    if model.dev["lo"][1] is not None and model.mismatch_scale > 0:
        ax.fill_between(x, *np.percentile(vals, [5, 95], axis=1), color="tab:orange", alpha=0.3,
                        label=f"MACAM, 5-95 % of {arrays} drawn arrays")
    ax.plot(x, nom[:, 0], color="tab:orange", label=f"MACAM nominal ({design.codes} rows)")
    if adc is not None:
        dig, _ = adc.read(None, x[:, None])
        ax.plot(x, dig[:, 0], color="tab:blue", lw=0.9, label=f"{adc.converter.short_label} + ReLU, nominal")
    ax.plot(x, np.maximum(x, 0), "k:", lw=0.9, label="float ReLU")
    ax.grid(alpha=0.3)


def plot_mtj_lookup(lut: LUT, path) -> Path:
    """A ReLU read out by MACAM rows of this LUT (:func:`charz.blocks.cam.model_macam.design` for standard-normal
    pre-activations, at most 8 rows): the nominal array and the Monte Carlo band, beside the float ReLU."""
    from . import model_macam as mm

    v, t, _, _ = _mtj_point(lut)
    model = MtjCamModel.from_lut(lut, vdd=v, temp=t)
    z = np.random.default_rng(0).standard_normal(20_000)
    d = mm.design(model, z, 8)
    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    draw_macam_transfer(ax, model, d, z)
    ax.set_xlabel("pre-activation z (standard normal calibration inputs: grey)")
    ax.set_ylabel("activation read out")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(_mtj_head(lut, f"\nReLU read out by {d.codes} MACAM rows (design for the Monte Carlo spread, "
                                f"clamps at {d.kappa:g} sigma); VDD {v:g} V"), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def plot_lut(lut: LUT, out, stem: str = "cam") -> list[Path]:
    """Write the CAM LUT's figures to folder *out* as ``STEM_*.png`` (``cam_sram``: transfer curve, energy, and
    the match-line transients and wrong-winner probability when the LUT has transients and Monte Carlo;
    ``cam_mtj``: window edges with their Monte Carlo band, match lines vs input, a ReLU read out by MACAM rows);
    returns the paths written."""
    out = Path(out)
    if isinstance(lut, LUT) and lut.block == Kind.CAM_MTJ:
        return [plot_mtj_edges(lut, out / f"{stem}_edges.png"), plot_mtj_transfer(lut, out / f"{stem}_ml_vs_input.png"),
                plot_mtj_lookup(lut, out / f"{stem}_lookup.png")]
    written = [plot_transfer(lut, out / f"{stem}_transfer.png"), plot_energy(lut, out / f"{stem}_energy.png")]
    if "wave_ml" in lut.arrays:
        written.append(plot_transients(lut, out / f"{stem}_transients.png"))
    if "v_ml" in lut.samples:
        written.append(plot_wrong_winner(lut, out / f"{stem}_wrong_winner.png"))
    return written
