"""Figures of a ``comparator`` LUT: offset histogram (Monte Carlo), decision time vs |dv| with the
regeneration fit, energy per decision vs VDD.

Every function reads only the LUT (no simulation) and writes one PNG. :func:`plot_lut` writes every
figure the LUT has data for.
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

BLOCK = Kind.COMPARATOR


def _temp(lut: LUT, temp) -> float:
    ax = lut.axis("temp").values
    if temp is not None:
        t = float(temp)
        if not (ax[0] - 1e-9 <= t <= ax[-1] + 1e-9):
            raise LUTError(f"temp={t:g} is outside the LUT grid [{ax[0]:g}, {ax[-1]:g}] degC")
        return t
    return float(ax[np.argmin(np.abs(ax - 27.0))])


def _vdds(lut: LUT, vdd) -> list[float]:
    ax = lut.axis("vdd").values
    vals = [float(v) for v in ax] if vdd is None else [float(v) for v in np.atleast_1d(vdd)]
    for v in vals:
        if not (ax[0] - 1e-9 <= v <= ax[-1] + 1e-9):
            raise LUTError(f"vdd={v:g} is outside the LUT grid [{ax[0]:g}, {ax[-1]:g}] V")
    return vals


def _colors(n: int):
    return plt.cm.viridis(np.linspace(0.1, 0.8, n)) if n > 1 else ["tab:blue"]


def _head(lut: LUT) -> str:
    p, c = lut.provenance, lut.conditions
    s = c.get("sizes_m", {})
    size = (f", input pair {s['w_in'] * 1e9:.0f}/{s['l_in'] * 1e9:.0f} nm" if "w_in" in s else "")
    return (f"{p.get('pdk', '?')} StrongARM comparator{size}, V_CM = {c.get('vcm_ratio', '?')} x VDD, "
            f"t_clk = {c.get('t_clk', float('nan')) * 1e12:.0f} ps")






def plot_offset_histogram(lut: LUT, path, vdd=None, temp=None) -> Path:
    """Histogram of the Monte Carlo input-referred offsets (one panel per VDD, up to 4) with the
    normal curve of the same mean and sigma and the nominal offset."""
    check_kind(lut, BLOCK)
    if "offset" not in lut.samples:
        raise LUTError(f"the {BLOCK} LUT holds no Monte Carlo samples: "
                       f"characterize it with mc > 0 to plot the offset histogram")
    t = _temp(lut, temp)
    vdds = _vdds(lut, vdd)[:4]
    dv0 = float(lut.axis("dv").values[0])
    cols = min(2, len(vdds))
    rows = int(np.ceil(len(vdds) / cols))
    size = (4.6 * cols + 0.4, 3.4 * rows + 1.0) if cols > 1 else (7.6, 4.9)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    for a in axes.flat[len(vdds):]:
        a.set_visible(False)
    res = lut.conditions.get("offset_resolution")
    for a, v, c in zip(axes.flat, vdds, _colors(len(vdds))):
        x = np.asarray(lut.sample_slice("offset", vdd=v, temp=t, dv=dv0), dtype=float)
        bad = int(np.sum(~np.isfinite(x)))
        x = x[np.isfinite(x)] * 1e3
        if x.size == 0:
            a.text(0.5, 0.5, "no valid samples", ha="center", va="center", transform=a.transAxes)
            continue
        mu, sd = float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0
        span = max(3.5 * sd, np.max(np.abs(x - mu)) * 1.05, 1e-3)
        step = res * 1e3 if res else None
        nb = max(8, min(40, int(round(3 * np.sqrt(x.size)))))
        if step and 2 * span / step < 200:  # bins aligned on the ramp's quantization steps
            k = max(1, int(np.ceil(2 * span / nb / step)))
            w = k * step
            bins = np.arange(np.floor((mu - span) / w) - 0.5, np.ceil((mu + span) / w) + 1.5) * w
        else:
            bins = np.linspace(mu - span, mu + span, nb + 1)
        a.hist(x, bins=bins, color=c, alpha=0.7, edgecolor="white", lw=0.5, label="Monte Carlo instances")
        if sd > 0:
            g = np.linspace(mu - span, mu + span, 300)
            width = bins[1] - bins[0]
            a.plot(g, x.size * width * np.exp(-0.5 * ((g - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)),
                   color="tab:orange", lw=1.5, label="normal fit (same mean, σ)")
        nom = lut.value("offset", vdd=v, temp=t, dv=dv0) * 1e3
        a.axvline(nom, color="k", ls="--", lw=1.2, label="nominal (no mismatch)")
        a.axvline(0, color="0.6", lw=0.6, zorder=0)
        a.set_xlim(mu - span, mu + span)
        a.yaxis.set_major_locator(MaxNLocator(integer=True))
        a.set_xlabel("input-referred offset [mV]")
        a.set_ylabel("instances")
        extra = f", {bad} out of range/failed" if bad else ""
        a.set_title(f"VDD = {v:g} V: μ = {mu:+.2f} mV, σ = {sd:.2f} mV ({x.size} instances{extra})", fontsize=8.5)
        a.grid(alpha=0.25)
    h, lab = axes.flat[0].get_legend_handles_labels()
    note = f"ramp resolution {res * 1e3:g} mV per decision" if res else ""
    fig.suptitle(f"{_head(lut)}, {t:g} °C\n{mc_note(lut)}; {note}", fontsize=8.5)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(h, lab, loc="lower center", ncol=3, fontsize=8, frameon=False)
    return save(fig, path)


def plot_decision_time(lut: LUT, path, vdd=None, temp=None) -> Path:
    """Decision time vs |dv| (log x) for both input signs, one colour per VDD, with the fitted
    regeneration law t_d = t_1mV - tau ln(|dv| / 1 mV) over its fit range (dashed beyond)."""
    check_kind(lut, BLOCK)
    t = _temp(lut, temp)
    vdds = _vdds(lut, vdd)
    dv = lut.axis("dv").values
    fit_max = float(lut.conditions.get("tau_fit", {}).get("max_abs_dv", 10e-3))
    fig, ax = plt.subplots(figsize=(7.4, 5.0))
    for v, c in zip(vdds, _colors(len(vdds))):
        td = np.asarray(lut.slice("t_decision", vdd=v, temp=t), dtype=float) * 1e12
        pos, neg = dv > 0, dv < 0
        ax.plot(dv[pos] * 1e3, td[pos], "o", color=c, ms=5, mfc=c)
        ax.plot(-dv[neg] * 1e3, td[neg], "s", color=c, ms=7, mfc="none", mew=1.0)
        tau = lut.value("tau", vdd=v, temp=t, dv=dv[0])
        t1 = lut.value("t_decision_1mv", vdd=v, temp=t, dv=dv[0])
        if np.isfinite(tau):
            lo = float(np.min(np.abs(dv)))
            x_in = np.geomspace(lo, fit_max, 50)
            x_out = np.geomspace(fit_max, float(np.max(np.abs(dv))), 30)
            ax.plot(x_in * 1e3, (t1 - tau * np.log(x_in / 1e-3)) * 1e12, "-", color=c, lw=1.4,
                    label=f"VDD = {v:g} V: τ = {tau * 1e12:.2f} ps, t(1 mV) = {t1 * 1e12:.1f} ps")
            ax.plot(x_out * 1e3, (t1 - tau * np.log(x_out / 1e-3)) * 1e12, ":", color=c, lw=1.0)
        else:
            ax.plot([], [], "o", color=c, label=f"VDD = {v:g} V (no τ fit)")
    from matplotlib.lines import Line2D

    h, lab = ax.get_legend_handles_labels()
    grey = "0.35"
    h += [Line2D([], [], color=grey, marker="o", ls=""), Line2D([], [], color=grey, marker="s", mfc="none", ls=""),
          Line2D([], [], color=grey, ls=":")]
    lab += ["dv > 0 (decision 1)", "dv < 0 (decision 0)", f"fit extrapolated beyond |dv| = {fit_max * 1e3:g} mV"]
    ax.legend(h, lab, fontsize=7.5, loc="upper right", framealpha=0.9)
    ax.axvline(fit_max * 1e3, color="0.7", lw=0.6, zorder=0)
    ax.set_xscale("log")
    ax.set_xlabel("|differential input| |dv| [mV]")
    ax.set_ylabel("decision time (clock 50 % → output at VDD/2) [ps]")
    ax.grid(alpha=0.3, which="both")
    win = lut.conditions.get("evaluate_window_s")
    if win:
        ymax = ax.get_ylim()[1]
        if win * 1e12 < 1.3 * ymax:
            ax.axhline(win * 1e12, color="tab:red", lw=0.8, ls="--")
            ax.text(ax.get_xlim()[0] * 1.1, win * 1e12, " end of evaluate half", color="tab:red", fontsize=7,
                    va="bottom")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{_head(lut)}, {t:g} °C\nnominal (no mismatch); regeneration fit over |dv| ≤ {fit_max * 1e3:g} mV",
                 fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)


def plot_energy_vs_vdd(lut: LUT, path, temp=None) -> Path:
    """Energy per decision vs VDD (mean over the step inputs), split into supply and clock-driver
    parts, one line set per temperature (up to 4)."""
    check_kind(lut, BLOCK)
    vdds = lut.axis("vdd").values
    temps = lut.axis("temp").values if temp is None else np.atleast_1d([_temp(lut, temp)])
    temps = temps[:4]
    dv0 = float(lut.axis("dv").values[0])
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    styles = ["-", "--", "-.", ":"]
    for t, ls in zip(temps, styles):
        e = np.array([lut.value("energy", vdd=v, temp=t, dv=dv0) for v in vdds]) * 1e15
        es = np.array([lut.value("energy_supply", vdd=v, temp=t, dv=dv0) for v in vdds]) * 1e15
        ec = np.array([lut.value("energy_clock", vdd=v, temp=t, dv=dv0) for v in vdds]) * 1e15
        suffix = f", {t:g} °C" if len(temps) > 1 else ""
        ax.plot(vdds, e, "o" + ls, color="tab:blue", lw=1.8, ms=5, label=f"total{suffix}")
        ax.plot(vdds, es, "^" + ls, color="tab:green", lw=1.1, ms=4,
                label=f"supply (comparator + output stage){suffix}")
        ax.plot(vdds, ec, "v" + ls, color="tab:orange", lw=1.1, ms=4, label=f"clock driver (pull-up){suffix}")
        for v, x in zip(vdds, e):
            ax.annotate(f"{x:.2f} fJ", (v, x), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7.5)
    if vdds.size == 1:
        ax.set_xlim(vdds[0] - 0.1, vdds[0] + 0.1)
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.12)
    ax.set_xticks(vdds)
    ax.set_xlabel("VDD [V]")
    ax.set_ylabel("energy per decision [fJ]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    t_note = f", {temps[0]:g} °C" if len(temps) == 1 else ""
    mags = np.abs(lut.axis("dv").values)
    ax.set_title(f"{_head(lut)}{t_note}\nmean over the {mags.size} step inputs "
                 f"(|dv| {mags.min() * 1e3:g}-{mags.max() * 1e3:g} mV), "
                 f"load {lut.conditions.get('c_load', 0) * 1e15:.3g} fF per output", fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)


def plot_lut(lut: LUT, out, stem: str = "comparator") -> list[Path]:
    """Every comparator figure the LUT has data for, written to *out* as ``<stem>_<figure>.png``."""
    check_kind(lut, BLOCK)
    out = Path(out)
    paths = [plot_decision_time(lut, out / f"{stem}_decision_time.png"),
             plot_energy_vs_vdd(lut, out / f"{stem}_energy_vs_vdd.png")]
    if "offset" in lut.samples:
        paths.insert(0, plot_offset_histogram(lut, out / f"{stem}_offset_hist.png"))
    return paths


__all__ = ["plot_offset_histogram", "plot_decision_time", "plot_energy_vs_vdd", "plot_lut"]
