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
from ...plot.common import mc_note, save  # noqa: E402
from .model import CamModel  # noqa: E402

BLOCK = Kind.CAM_SRAM
PARTS = (("energy_precharge", "match-line precharge", "tab:blue"),
         ("energy_search", "search lines (row share)", "tab:green"),
         ("energy_sense", "sense amplifier (supply + clock)", "tab:red"),
         ("energy_clock", "precharge clock", "tab:gray"),
         ("energy_reference", "replica row (row share)", "tab:purple"))
FLOOR = 1e-6
"""Lowest probability shown (smaller ones are drawn on the floor)."""


def _check(lut: LUT) -> None:
    if not isinstance(lut, LUT) or lut.block != BLOCK:
        kind = lut.block if isinstance(lut, LUT) else type(lut).__name__
        raise LUTError(f"this plot needs a '{BLOCK}' LUT, got '{kind}'")


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
    _check(lut)
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
    _check(lut)
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
    _check(lut)
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
    _check(lut)
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


def plot_lut(lut: LUT, out, stem: str = "cam") -> list[Path]:
    """Write the CAM LUT's figures to folder *out* as ``STEM_*.png`` (transfer curve, energy, and the
    match-line transients and wrong-winner probability when the LUT has transients and Monte Carlo); returns
    the paths written."""
    out = Path(out)
    written = [plot_transfer(lut, out / f"{stem}_transfer.png"), plot_energy(lut, out / f"{stem}_energy.png")]
    if "wave_ml" in lut.arrays:
        written.append(plot_transients(lut, out / f"{stem}_transients.png"))
    if "v_ml" in lut.samples:
        written.append(plot_wrong_winner(lut, out / f"{stem}_wrong_winner.png"))
    return written
