"""Figures of a ``cim_column`` LUT: V_BL vs k with its Monte Carlo band, MC histograms, energy vs k.

Every function reads only the LUT (no simulation) and writes one PNG. Operating points not given are
chosen on the grid: temperature nearest 27 degC, the middle pulse width, every VDD (V_BL and energy
vs k) or the nominal VDD (histograms, energy breakdown).
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

BLOCK = Kind.CIM_COLUMN
MAX_SAMPLE_LINES = 60


def _pick(lut: LUT, name: str, value, default: str) -> float:
    """A grid value of axis *name*: *value* if given (must be on the grid or inside it), else a default."""
    ax = lut.axis(name).values
    if value is not None:
        v = float(value)
        if not (ax[0] - 1e-12 <= v <= ax[-1] + 1e-12):
            raise LUTError(f"{name}={v:g} is outside the LUT grid [{ax[0]:g}, {ax[-1]:g}]")
        return v
    if default == "27":
        return float(ax[np.argmin(np.abs(ax - 27.0))])
    if default == "nominal":
        vn = lut.provenance.get("vdd_nom")
        if vn is not None and np.any(np.isclose(ax, float(vn))):
            return float(vn)
    return float(ax[ax.size // 2])


def _vdds(lut: LUT, vdd) -> list[float]:
    if vdd is None:
        return [float(v) for v in lut.axis("vdd").values]
    if np.isscalar(vdd):
        return [_pick(lut, "vdd", vdd, "")]
    return [_pick(lut, "vdd", v, "") for v in vdd]


def _k(lut: LUT) -> np.ndarray:
    return lut.axis("k").values.astype(int)


def _title(lut: LUT, temp: float, t_pulse: float, extra: str = "") -> str:
    p = lut.provenance
    n = lut.conditions.get("n_rows", int(_k(lut)[-1]))
    s = (f"{p.get('pdk', '?')} bit-plane CiM column, N = {n} (8T), T = {t_pulse * 1e12:.4g} ps, {temp:g} °C, "
         f"other rows {lut.conditions.get('pattern', '?')}")
    return s + (f"\n{extra}" if extra else "")






def plot_vbl_vs_k(lut: LUT, path, vdd=None, temp=None, t_pulse=None) -> Path:
    """Bitline voltage at the sense instant vs k: nominal line, Monte Carlo mean with ±1σ and ±3σ bands
    and every sample as a faint line (up to 60), one colour per VDD."""
    check_kind(lut, BLOCK)
    temp = _pick(lut, "temp", temp, "27")
    t_pulse = _pick(lut, "t_pulse", t_pulse, "middle")
    k = _k(lut)
    vdds = _vdds(lut, vdd)
    colors = plt.cm.viridis(np.linspace(0.1, 0.8, len(vdds))) if len(vdds) > 1 else ["tab:blue"]
    has_mc = "vbl" in lut.samples
    fig, ax = plt.subplots(figsize=(7.6, 5.2))
    for v, c in zip(vdds, colors):
        nom = lut.slice("vbl", vdd=v, temp=temp, t_pulse=t_pulse)
        if has_mc:
            s = lut.sample_slice("vbl", vdd=v, temp=temp, t_pulse=t_pulse)  # (k, samples)
            mean = lut.slice("vbl_mean", vdd=v, temp=temp, t_pulse=t_pulse)
            sig = lut.slice("vbl_sigma", vdd=v, temp=temp, t_pulse=t_pulse)
            for j in range(min(s.shape[1], MAX_SAMPLE_LINES // len(vdds))):
                ax.plot(k, s[:, j], color=c, lw=0.5, alpha=0.18, zorder=1)
            ax.fill_between(k, mean - 3 * sig, mean + 3 * sig, color=c, alpha=0.13, lw=0, zorder=2)
            ax.fill_between(k, mean - sig, mean + sig, color=c, alpha=0.30, lw=0, zorder=3)
            ax.plot(k, mean, color=c, lw=1.0, ls="--", zorder=4)
        ax.plot(k, nom, "o-", color=c, lw=1.8, ms=3.5, zorder=5, label=f"VDD = {v:g} V")
    handles, labels = ax.get_legend_handles_labels()
    if has_mc:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        grey = "0.35"
        handles += [Line2D([], [], color=grey, marker="o", ms=3.5, lw=1.8), Line2D([], [], color=grey, ls="--", lw=1),
                    Patch(color=grey, alpha=0.45), Patch(color=grey, alpha=0.18),
                    Line2D([], [], color=grey, lw=0.6, alpha=0.5)]
        labels += ["nominal (no mismatch)", "Monte Carlo mean", "mean ± 1σ", "mean ± 3σ", "single instances"]
    ax.legend(handles, labels, fontsize=8, loc="upper right", framealpha=0.9)
    n = int(k[-1])
    ax.set_xlim(-0.3, n + 0.3)
    ax.set_xticks(k if n <= 16 else np.arange(0, n + 1, max(1, n // 16)))
    ax.set_xlabel("k = cells with input = weight = 1")
    ax.set_ylabel("read-bitline voltage at the sense instant V_BL [V]")
    ax.grid(alpha=0.3)
    ax.set_title(_title(lut, temp, t_pulse, mc_note(lut, "column instances")), fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)


def plot_vbl_histograms(lut: LUT, path, ks=None, vdd=None, temp=None, t_pulse=None) -> Path:
    """Monte Carlo histograms of V_BL for a few k (default 1, N/4, N/2, N) at one operating point
    (default the nominal VDD), with the nominal value, mean ± σ and a normal curve of the same σ."""
    check_kind(lut, BLOCK)
    if "vbl" not in lut.samples:
        raise LUTError(f"the {BLOCK} LUT holds no Monte Carlo samples: characterize it with mc > 0 to plot histograms")
    temp = _pick(lut, "temp", temp, "27")
    t_pulse = _pick(lut, "t_pulse", t_pulse, "middle")
    v = _pick(lut, "vdd", vdd, "nominal")
    n = int(_k(lut)[-1])
    ks = sorted({1, n // 4, n // 2, n}) if ks is None else [int(x) for x in ks]
    bad = [x for x in ks if not 0 <= x <= n]
    if bad:
        raise LUTError(f"k = {bad} is outside 0..{n}")
    s = lut.sample_slice("vbl", vdd=v, temp=temp, t_pulse=t_pulse)
    nom = lut.slice("vbl", vdd=v, temp=temp, t_pulse=t_pulse)
    cols = 2 if len(ks) > 1 else 1
    rows = int(np.ceil(len(ks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols + 0.6, 3.0 * rows + 0.9), squeeze=False)
    for a in axes.flat[len(ks):]:
        a.set_visible(False)
    for a, kk in zip(axes.flat, ks):
        x = s[kk]
        x = x[np.isfinite(x)] * 1e3
        if x.size == 0:
            a.text(0.5, 0.5, "no valid samples", ha="center", va="center", transform=a.transAxes)
            continue
        mu, sd = float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0
        bins = max(6, min(30, int(round(1.5 * np.sqrt(x.size)))))
        a.hist(x, bins=bins, color="tab:blue", alpha=0.65, edgecolor="white", lw=0.5, label="Monte Carlo samples")
        if sd > 0:
            g = np.linspace(mu - 3.5 * sd, mu + 3.5 * sd, 200)
            width = (x.max() - x.min()) / bins if x.max() > x.min() else sd
            a.plot(g, x.size * width * np.exp(-0.5 * ((g - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)),
                   color="tab:orange", lw=1.4, label="normal curve, same mean and σ")
        a.axvline(nom[kk] * 1e3, color="k", lw=1.3, ls="--", label="nominal (no mismatch)")
        a.set_title(f"k = {kk}  ({x.size} samples)\nnominal {nom[kk] * 1e3:.1f} mV, mean {mu:.1f} mV, "
                    f"σ = {sd:.2f} mV", fontsize=8.5)
        a.yaxis.set_major_locator(MaxNLocator(integer=True))
        a.set_xlabel("V_BL at the sense instant [mV]")
        a.set_ylabel("samples")
        a.grid(alpha=0.25)
    h, lab = axes.flat[0].get_legend_handles_labels()
    fig.suptitle(_title(lut, temp, t_pulse, f"VDD = {v:g} V. " + mc_note(lut, "column instances")), fontsize=8.5)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(h, lab, loc="lower center", ncol=3, fontsize=8, frameon=False)
    return save(fig, path)


def plot_energy_vs_k(lut: LUT, path, vdd=None, temp=None, t_pulse=None) -> Path:
    """Energy per column evaluation vs k: one line per VDD (with the Monte Carlo ±1σ band) and, on the
    right, the breakdown (bitline precharge, wordline drivers, precharge clock) at the nominal VDD."""
    check_kind(lut, BLOCK)
    temp = _pick(lut, "temp", temp, "27")
    t_pulse = _pick(lut, "t_pulse", t_pulse, "middle")
    k = _k(lut)
    vdds = _vdds(lut, vdd)
    colors = plt.cm.viridis(np.linspace(0.1, 0.8, len(vdds))) if len(vdds) > 1 else ["tab:blue"]
    parts = [("energy_precharge", "bitline precharge (restore)"), ("energy_wordline", "read-wordline drivers"),
             ("energy_clock", "precharge clock")]
    has_parts = all(p in lut.tables for p, _ in parts)
    fig, axes = plt.subplots(1, 2 if has_parts else 1, figsize=(11.0 if has_parts else 6.6, 4.6), squeeze=False)
    ax = axes[0, 0]
    for v, c in zip(vdds, colors):
        e = lut.slice("energy", vdd=v, temp=temp, t_pulse=t_pulse) * 1e15
        if "energy_sigma" in lut.tables:
            m = lut.slice("energy_mean", vdd=v, temp=temp, t_pulse=t_pulse) * 1e15
            sd = lut.slice("energy_sigma", vdd=v, temp=temp, t_pulse=t_pulse) * 1e15
            ax.fill_between(k, m - sd, m + sd, color=c, alpha=0.25, lw=0)
        ax.plot(k, e, "o-", color=c, lw=1.8, ms=3.5, label=f"VDD = {v:g} V")
    if "energy_sigma" in lut.tables:
        from matplotlib.patches import Patch

        h, lab = ax.get_legend_handles_labels()
        ax.legend(h + [Patch(color="0.4", alpha=0.3)], lab + ["Monte Carlo mean ± 1σ"], fontsize=8)
    else:
        ax.legend(fontsize=8)
    ax.set_xlabel("k = cells with input = weight = 1")
    ax.set_ylabel("energy per column evaluation [fJ]")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title("total (nominal)", fontsize=9)
    if has_parts:
        vb = _pick(lut, "vdd", vdd if np.isscalar(vdd) else None, "nominal")
        ys = [lut.slice(p, vdd=vb, temp=temp, t_pulse=t_pulse) * 1e15 for p, _ in parts]
        b = axes[0, 1]
        b.stackplot(k, *ys, labels=[lab for _, lab in parts], colors=["tab:blue", "tab:orange", "tab:green"], alpha=0.8)
        b.plot(k, np.sum(ys, axis=0), color="k", lw=1.0)
        b.set_xlabel("k = cells with input = weight = 1")
        b.set_ylabel("energy [fJ]")
        b.set_ylim(bottom=0)
        b.grid(alpha=0.3)
        b.legend(fontsize=8, loc="upper left")
        b.set_title(f"breakdown at VDD = {vb:g} V (nominal)", fontsize=9)
    fig.suptitle(_title(lut, temp, t_pulse, "energy = VDD × supply charge over precharge release, wordline pulse, "
                                            "sense and restore"), fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)


def plot_lut(lut: LUT, out: Path, stem: str) -> list[Path]:
    """The column LUT's figures in folder *out*: V_BL and energy against k, and the V_BL histograms when it
    has Monte Carlo samples."""
    written = [plot_vbl_vs_k(lut, out / f"{stem}_vbl_vs_k.png") or out / f"{stem}_vbl_vs_k.png",
               plot_energy_vs_k(lut, out / f"{stem}_energy_vs_k.png") or out / f"{stem}_energy_vs_k.png"]
    if lut.samples:
        written.append(plot_vbl_histograms(lut, out / f"{stem}_vbl_hist.png") or out / f"{stem}_vbl_hist.png")
    return [Path(p) for p in written]
