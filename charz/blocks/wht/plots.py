"""Figures of a ``wht_column`` LUT: differential voltage map over (k+, k-), wrong-decision probability
vs k+ - k-, energy breakdown; and of the WHT network results: accuracy vs VDD and mismatch, planes
evaluated per column.

LUT figures read only the LUT (no simulation); network figures read the dicts of
:mod:`charz.network.wht`. The operating point defaults to the LUT's nominal VDD (else the grid middle),
the temperature nearest 27 degC and the middle pulse width.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ...core.errors import LUTError  # noqa: E402
from ...core.lut import LUT, Kind  # noqa: E402
from ..cim_column.plots import _pick  # noqa: E402
from ...plot.common import check_kind, save  # noqa: E402

BLOCK = Kind.WHT_COLUMN
PARTS = (("energy_precharge", "bitline precharge", "tab:blue"), ("energy_latch", "latches (supply + clocks)", "tab:red"),
         ("energy_clock", "precharge clock", "tab:gray"), ("energy_rows", "row lines (column share)", "tab:green"))


def _op(lut: LUT, vdd, temp, t_pulse) -> dict:
    return {"vdd": _pick(lut, "vdd", vdd, "nominal"), "temp": _pick(lut, "temp", temp, "27"),
            "t_pulse": _pick(lut, "t_pulse", t_pulse, "middle")}


def _title(lut: LUT, op: dict, what: str) -> str:
    p = lut.provenance
    n = lut.conditions.get("n_rows", "?")
    mc = p.get("mc_samples") or 0
    mcs = f"{mc} Monte Carlo columns, A_VT {p.get('avt_mv_um', '?')} mV·µm" if mc else "nominal only"
    return (f"{p.get('pdk', '?')} signed-bit WHT column, R = {n} rows: {what}\n"
            f"VDD {op['vdd']:g} V, {op['temp']:g} °C, row pulse {op['t_pulse'] * 1e12:.3g} ps; {mcs}")


def plot_dv_map(lut: LUT, path, vdd=None, temp=None, t_pulse=None) -> Path:
    """Nominal differential bitline voltage V(bln) - V(blp) over every reachable (k+, k-) (heat map),
    with the nominal sign-latch mistakes marked."""
    check_kind(lut, BLOCK)
    op = _op(lut, vdd, temp, t_pulse)
    dv = lut.slice("dv", **op) * 1e3
    n = dv.shape[0] - 1
    fig, ax = plt.subplots(figsize=(7.0, 5.8))
    lim = np.nanmax(np.abs(dv))
    im = ax.imshow(np.ma.masked_invalid(dv.T), origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
                   extent=(-0.5, n + 0.5, -0.5, n + 0.5))
    fig.colorbar(im, ax=ax, label="V(bln) − V(blp) at the sense instant [mV]")
    ternary = "ternary" in lut.tables
    dec = lut.slice("ternary" if ternary else "decision", **op)
    kp, kn = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    judged = (kp + kn >= 1) if ternary else (np.sign(kp - kn) != 0)
    bad = np.isfinite(dec) & judged & (dec != np.sign(kp - kn))
    if bad.any():
        ax.plot(kp[bad], kn[bad], "kx", ms=6, label=f"nominal {'ternary' if ternary else 'sign'} decision wrong")
        ax.legend(fontsize=8, loc="upper right")
    if n <= 16:
        for a in range(n + 1):
            for b in range(n + 1 - a):
                ax.text(a, b, f"{dv[a, b]:.0f}", ha="center", va="center", fontsize=5.5,
                        color="w" if abs(dv[a, b]) > 0.6 * lim else "k")
    ax.set_xlabel("k+ (cells pulling the + bitline)")
    ax.set_ylabel("k− (cells pulling the − bitline)")
    ax.set_title(_title(lut, op, "differential bitline voltage"), fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)


def plot_error_probability(lut: LUT, path, vdd=None, temp=None, t_pulse=None) -> Path:
    """Fraction of Monte Carlo columns whose sign (and ternary) decision is wrong vs d = k+ - k-, one
    marker per (k+, k-) coloured by k+ + k-, with the fitted model's prediction (grey line, mean over pairs)."""
    check_kind(lut, BLOCK)
    if "p_wrong_sign" not in lut.tables and "p_wrong_ternary" not in lut.tables:
        raise LUTError("this LUT has no Monte Carlo decision statistics: characterize with --mc N (N > 1)")
    from .model_lut import predicted_wrong

    op = _op(lut, vdd, temp, t_pulse)
    n = lut.conditions["n_rows"]
    kp, kn = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    reach = (kp + kn <= n) & (kp + kn >= 1)
    fit = {k: lut.value(k, **op, kp=0, kn=0) for k in lut.conditions["per_corner"]}
    dvm = lut.slice("dv_mean", **op)
    modes = [("ternary", "ternary (+1/0/−1)")] if "p_wrong_ternary" in lut.tables else [("sign", "sign latch")]
    fig, axes = plt.subplots(1, len(modes), figsize=(7.2, 4.8), squeeze=False)
    mc = lut.provenance.get("mc_samples") or 0
    for ax, (mode, label) in zip(axes[0], modes):
        p = lut.slice(f"p_wrong_{mode}", **op)
        d = (kp - kn)[reach]
        ok = np.isfinite(p[reach])
        jitter = (kp + kn)[reach] / (3.0 * n) - 0.17
        sc = ax.scatter(d[ok] + jitter[ok], p[reach][ok], c=(kp + kn)[reach][ok], cmap="viridis", s=14,
                        vmin=1, vmax=n, label=f"SPICE Monte Carlo ({mc} columns)")
        pred = predicted_wrong(dvm, kp, kn, fit, mode == "ternary")
        ds = np.unique(d)
        mean_pred = [np.nanmean(pred[reach][d == x]) if np.any(np.isfinite(pred[reach][d == x])) else np.nan for x in ds]
        mean_meas = [np.nanmean(p[reach][d == x]) if np.any(np.isfinite(p[reach][d == x])) else np.nan for x in ds]
        ax.plot(ds, mean_meas, "-", color="tab:red", lw=1.2, label="measured, mean over pairs")
        ax.plot(ds, mean_pred, "--", color="0.3", lw=1.4, label="fitted model (behavioral layer)")
        ax.set_xlim(-min(n, 8) - 0.5, min(n, 8) + 0.5)
        ax.set_xlabel("d = k+ − k−")
        ax.set_ylabel(f"P(wrong {label} decision)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5, loc="upper right")
        fig.colorbar(sc, ax=ax, label="k+ + k− (active rows)")
        ax.set_title(_title(lut, op, f"{label} errors"), fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_energy_breakdown(lut: LUT, path, vdd=None, temp=None, t_pulse=None) -> Path:
    """Energy of one column-plane evaluation, stacked by part, vs active rows m = k+ + k- (the pair
    closest to k+ = k-, the usual case) and vs k+ with k- = 0."""
    check_kind(lut, BLOCK)
    op = _op(lut, vdd, temp, t_pulse)
    n = lut.conditions["n_rows"]
    parts = [(k, lab, c) for k, lab, c in PARTS if k in lut.tables]
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.6), sharey=True)
    for ax, (title, idx) in zip(axes, (("balanced: k+ = ⌈m/2⌉, k− = ⌊m/2⌋", [((m + 1) // 2, m // 2) for m in range(n + 1)]),
                                       ("one-sided: k− = 0", [(k, 0) for k in range(n + 1)]))):
        x = np.arange(n + 1)
        bottom = np.zeros(n + 1)
        for key, lab, col in parts:
            t = lut.slice(key, **op)
            v = np.array([t[a, b] for a, b in idx]) * 1e15
            ax.bar(x, v, bottom=bottom, color=col, label=lab, width=0.8)
            bottom += v
        tot = lut.slice("energy", **op)
        ax.plot(x, [tot[a, b] * 1e15 for a, b in idx], "k.", ms=4, label="total (measured)")
        ax.set_xlabel("m = k+ + k− (active rows)" if "balanced" in title else "k+")
        ax.set_xticks(x if n <= 16 else x[:: max(1, n // 16)])
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("energy per column-plane evaluation [fJ]")
    axes[1].legend(fontsize=8, loc="upper left")
    fig.suptitle(_title(lut, op, "energy breakdown (supply charge)"), fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)


def plot_lut(lut: LUT, out, stem: str = "wht") -> list[Path]:
    """Write the WHT column LUT's figures to folder *out* (dV map, energy breakdown, and the wrong-decision
    probabilities when the LUT has them) as ``STEM_*.png``; returns the paths written."""
    out = Path(out)
    written = [plot_dv_map(lut, out / f"{stem}_dv_map.png"), plot_energy_breakdown(lut, out / f"{stem}_energy.png")]
    if "p_wrong_sign" in lut.tables or "p_wrong_ternary" in lut.tables:
        written.append(plot_error_probability(lut, out / f"{stem}_errors.png"))
    return written


# ---- network results (dicts of charz.network.wht) -------------------------------------------------
def _net_title(r: dict, what: str) -> str:
    lut = r["lut"]
    cal = r.get("latch_calibration")
    trim = f"latches trimmed ({cal['trim']['bits']}-bit DAC per latch), " if cal else ""
    return (f"digits WHT network on {lut.get('pdk', '?')} {lut.get('n_rows', '?')}x{lut.get('n_rows', '?')} crossbars "
            f"({r.get('chips', '?')} chips, {r.get('n_images', '?')} test images)\n{trim}{what}")


def plot_accuracy_vs_mismatch(sweep: dict, path) -> Path:
    """CiM accuracy (mean and chip range) and ideal-quantized accuracy vs the mismatch scale."""
    x = np.asarray(sweep["values"], dtype=float)
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    ax.fill_between(x, 100 * np.asarray(sweep["cim_min"]), 100 * np.asarray(sweep["cim_max"]), color="tab:red",
                    alpha=0.2, lw=0, label="CiM, chip range")
    ax.plot(x, 100 * np.asarray(sweep["cim_mean"]), "o-", color="tab:red", label="CiM, mean over chips")
    ax.plot(x, 100 * np.asarray(sweep["ideal_accuracy"]), "--", color="0.3", label="ideal quantized crossbar")
    ax.axhline(100 * sweep["float_accuracy"], color="tab:blue", ls=":", label="float (unquantized)")
    ax.set_xlabel("mismatch scale (1 = the LUT's Monte Carlo A_VT; sigmas scaled linearly)")
    ax.set_ylabel("test accuracy [%]")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    r0 = sweep["results"][0]
    op = r0["operating_point"]
    ax.set_title(_net_title(r0, f"accuracy vs mismatch, VDD {op.get('vdd', 0):g} V, "
                                f"{r0['network']['mode']} latches"), fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)


def plot_accuracy_vs_vdd(sweep: dict, path) -> Path:
    """CiM accuracy and TOPS/W (with and without early termination) vs VDD."""
    x = np.asarray(sweep["values"], dtype=float)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.0, 4.4))
    a1.fill_between(x, 100 * np.asarray(sweep["cim_min"]), 100 * np.asarray(sweep["cim_max"]), color="tab:red",
                    alpha=0.2, lw=0, label="CiM, chip range")
    a1.plot(x, 100 * np.asarray(sweep["cim_mean"]), "o-", color="tab:red", label="CiM, mean")
    a1.plot(x, 100 * np.asarray(sweep["ideal_accuracy"]), "--", color="0.3", label="ideal quantized")
    a1.set_ylim(0, 100)
    a1.set_xlabel("VDD [V]")
    a1.set_ylabel("test accuracy [%]")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=8, loc="lower right")
    a2.plot(x, sweep["tops_per_watt_no_et"], "s-", color="tab:blue", label="ours, all planes")
    a2.plot(x, sweep["tops_per_watt_et"], "o-", color="tab:green", label="ours, early termination")
    a2.plot([0.8], [1602], "bs", mfc="none", ms=9, label="published 1602 (all planes)")
    a2.plot([0.8], [5311], "go", mfc="none", ms=9, label="published 5311 (early termination)")
    a2.set_yscale("log")
    a2.set_xlabel("VDD [V]")
    a2.set_ylabel("TOPS/W (crossbar transforms only)")
    a2.grid(alpha=0.3, which="both")
    a2.legend(fontsize=8)
    fig.suptitle(_net_title(sweep["results"][0], "accuracy and efficiency vs VDD"), fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)


def plot_planes_histogram(result: dict, path) -> Path:
    """How many magnitude planes each forward-transform column evaluated (early termination)."""
    h = np.asarray(result["planes_evaluated_hist_forward_fraction"], dtype=float)
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    ax.bar(np.arange(h.size), 100 * h, color="tab:green")
    ax.set_xticks(np.arange(h.size))
    ax.set_xlabel("bit planes evaluated per column (forward transforms; 0 = settled before the first)")
    ax.set_ylabel("share of columns [%]")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(_net_title(result, f"early termination\n{100 * result['planes_skipped_fraction_forward']:.1f} % of "
                                    f"active forward column-planes skipped, energy skipped "
                                    f"{100 * result['energy_skipped_fraction']:.1f} %"), fontsize=8.5)
    fig.tight_layout()
    return save(fig, path)
