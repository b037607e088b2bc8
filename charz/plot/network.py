"""Network-level figures: accuracy vs mismatch, energy breakdown per layer, energy by layer of a model run and
accuracy against a swept backend option.

Each takes a result dict (:mod:`charz.network.evaluate`, :mod:`charz.network.engine`) and writes one PNG.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from .common import save  # noqa: E402


def _subtitle(op: dict, lut: dict, chips: int | None = None, n_images: int | None = None, width: int = 200) -> str:
    parts = [f"{lut.get('pdk', '?')} cim_column N={op.get('n_rows')}"]
    if "vdd" in op:
        parts.append(f"VDD {op['vdd']:g} V")
    if "temp" in op:
        parts.append(f"{op['temp']:g} °C")
    if "t_pulse" in op:
        parts.append(f"t_pulse {op['t_pulse'] * 1e12:.0f} ps")
    parts.append(op.get("readout_short") or f"ideal quantizer {op.get('adc_bits')}-bit")
    if chips:
        parts.append(f"{chips} chips")
    if n_images:
        parts.append(f"{n_images} images")
    s = ", ".join(parts)
    if lut.get("synthetic"):
        s = "SYNTHETIC LUT (not SPICE): " + s
    return "\n".join(textwrap.wrap(s, width, break_on_hyphens=False))




def _series(ax, result: dict, color: str, label: str, span: float, seed: int) -> tuple[float, float]:
    s = np.asarray(result["scales"], dtype=float)
    m = 100 * np.asarray(result["cim_mean"], dtype=float)
    e = 100 * np.asarray(result["cim_std"], dtype=float)
    rng = np.random.default_rng(seed)
    lo = np.min(m - e)
    for si, chips in zip(s, result["per_chip"]):
        c = 100 * np.asarray(chips, dtype=float)
        lo = min(lo, float(np.min(c)))
        jit = (rng.random(c.size) - 0.5) * 0.025 * span
        ax.scatter(si + jit, c, s=9, color=color, alpha=0.3, lw=0, zorder=2)
    ax.errorbar(s, m, yerr=e, fmt="o-", color=color, capsize=4, lw=1.6, ms=5, zorder=3, label=label)
    return lo, float(np.max(s))


def plot_accuracy_vs_mismatch(result: dict, path, measured: dict | None = None) -> Path:
    """CiM accuracy (mean ± std over chips, single chips as dots) vs mismatch scale, with the ideal
    integer and float accuracies as reference lines. *result* is from ``accuracy_vs_mismatch`` (one LUT,
    linear extrapolation) or ``accuracy_vs_avt`` (one LUT per A_VT); *measured* optionally overlays an
    ``accuracy_vs_avt`` result on an ``accuracy_vs_mismatch`` one."""
    s = np.asarray(result["scales"], dtype=float)
    allx = np.concatenate([s, np.asarray(measured["scales"], dtype=float)]) if measured else s
    span = (allx.max() - allx.min()) or 1.0
    fig, ax = plt.subplots(figsize=(7.2, 5.0))
    is_meas = bool(result.get("measured"))
    lab = ("CiM, LUT re-characterized per A_VT" if is_meas else
           "CiM, one LUT, deviations × scale" if measured else "CiM")
    lo, _ = _series(ax, result, "tab:blue", lab, span, 0)
    if measured:
        lo2, _ = _series(ax, measured, "tab:red", "CiM, LUT re-characterized per A_VT (SPICE)", span, 1)
        lo = min(lo, lo2)
    ax.axhline(100 * result["ideal_accuracy"], color="k", ls="--", lw=1.2,
               label=f"ideal integer (4-bit quantized) {100 * result['ideal_accuracy']:.1f} %")
    ax.axhline(100 * result["float_accuracy"], color="tab:green", ls=":", lw=1.4,
               label=f"float {100 * result['float_accuracy']:.1f} %")
    ax.plot([], [], " ", label="error bars: ± std over chips; dots: single chips")
    if is_meas:
        ax.set_xlabel("A_VT / A_VT of the first LUT  (each point its own SPICE Monte Carlo)")
    else:
        ax.set_xlabel("mismatch scale  (1 = A_VT of the LUT; deviations of every column curve × scale)")
    ax.set_ylabel("digits test accuracy [%]")
    ax.set_ylim(max(0.0, min(lo, 100 * result["ideal_accuracy"]) - 2.0), 100.5)
    ticks = np.unique(allx)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{v:g}" for v in ticks])
    avt = result.get("avt_mv_um")
    if avt and all(a is not None for a in avt) and s.size and s[-1] > 0:
        per_scale = float(avt[-1]) / s[-1]
        top = ax.secondary_xaxis("top")
        top.set_xticks(ticks)
        top.set_xticklabels([f"{t * per_scale:.3g}" for t in ticks])
        top.set_xlabel("A_VT [mV·µm]")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=2, frameon=False)
    fig.suptitle("Digits MLP accuracy vs column mismatch", fontsize=12)
    fig.text(0.5, 0.935, _subtitle(result["operating_point"], result["lut"], result.get("chips"), result.get("n_images"),
                                   width=105), ha="center", va="top", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return save(fig, path, tight=True)


def plot_energy_breakdown(result: dict, path) -> Path:
    """Energy per inference per layer (left) and which k the array energy comes from (right).
    *result* is from ``evaluate``. The ideal quantizer is counted as 0 J and the figure says so; with a
    digitizer LUT the ADC part of each layer is stacked (hatched) on its array part."""
    names = list(result["energy_per_layer_J"])
    ej = np.array([result["energy_per_layer_J"][n] for n in names]) * 1e12
    adc = np.array([result.get("adc_energy_per_layer_J", {}).get(n, 0.0) for n in names]) * 1e12
    total = float(np.sum(ej))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 4.4), gridspec_kw={"width_ratios": [1, 1.4]})
    colors = plt.cm.tab10(np.arange(len(names)))
    bars = a1.bar(range(len(names)), ej - adc, color=colors, width=0.6)
    if np.any(adc > 0):
        a1.bar(range(len(names)), adc, bottom=ej - adc, color=colors, alpha=0.45, hatch="//", width=0.6,
               edgecolor="0.3", label="ADC (conversions)")
        a1.legend(fontsize=8, loc="upper right")
    for b, v, n in zip(bars, ej, names):  # labels at the top of the stack
        a1.annotate(f"{v:.3g} pJ\n{100 * v / total:.0f} %" if total > 0 else f"{v:.3g} pJ",
                    (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=8.5,
                    xytext=(0, 2), textcoords="offset points")
    a1.set_xticks(range(len(names)))
    a1.set_xticklabels([f"{n}\n{result['macs_per_layer'][n]} MACs\n{result['evaluations_per_layer'][n]:.0f} col. evals"
                        for n in names], fontsize=8)
    a1.set_ylabel("energy per inference [pJ]")
    a1.set_ylim(0, (ej.max() if ej.size else 1) * 1.25 or 1)
    tw = result["tops_per_watt"]
    a1.set_title(f"total {total:.3g} pJ, {result['ops']} ops → {tw:.0f} TOPS/W" if tw >= 100 else
                 f"total {total:.3g} pJ, {result['ops']} ops → {tw:.3g} TOPS/W", fontsize=9.5)
    a1.grid(axis="y", alpha=0.3)

    ek = np.asarray(result.get("column_energy_per_k_J", []), dtype=float) * 1e15
    for i, n in enumerate(names):
        frac = np.asarray(result["k_hist_fraction_per_layer"][n], dtype=float)
        k = np.arange(frac.size)
        if ek.size == frac.size:
            contrib = frac * result["evaluations_per_layer"][n] * ek * 1e-3  # pJ per inference
            a2.bar(k + (i - (len(names) - 1) / 2) * 0.8 / len(names), contrib, width=0.8 / len(names),
                   color=colors[i], label=n)
    if ek.size:
        a2.set_xlabel("k (cells with input bit = weight bit = 1)")
        a2.set_ylabel("energy per inference from evaluations at k [pJ]")
        t = a2.twinx()
        t.plot(np.arange(ek.size), ek, "k.-", lw=1, ms=4, label="E(k) per column evaluation")
        t.set_ylabel("E(k) per column evaluation [fJ]")
        t.set_ylim(0, ek.max() * 1.1 if ek.max() > 0 else 1)
        h1, l1 = a2.get_legend_handles_labels()
        h2, l2 = t.get_legend_handles_labels()
        a2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center")
        a2.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        a2.set_title("where the array energy comes from", fontsize=9.5)
        a2.grid(axis="y", alpha=0.3)
    op = result["operating_point"]
    if result.get("adc"):
        title = (f"CiM energy per inference, digits MLP  (array + {result['adc']['block']} conversions; "
                 f"digital back end counted as 0 J)")
    else:
        title = "CiM array energy per inference, digits MLP  (ideal quantizer and digital back end counted as 0 J)"
    fig.suptitle(title, fontsize=11)
    fig.text(0.5, 0.905, _subtitle(op, result["lut"], result.get("chips"), result.get("n_images")) +
             f", mismatch scale {op.get('mismatch_scale', 0):g}", ha="center", fontsize=8.5)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save(fig, path, tight=True)


def plot_layer_energy(result: dict, path, title: str = "") -> Path:
    """Energy per inference of every layer of a model run (:func:`charz.network.engine.evaluate_model`),
    stacked by component (array, read-out, digital, ...), with each layer's backend under its name."""
    rows = result["layers"]
    comps = sorted({c for row in rows for c in row["energy_by_component_J"]})
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(rows) + 2), 4.2))
    bottom = np.zeros(len(rows))
    for i, comp in enumerate(comps):
        v = np.array([row["energy_by_component_J"].get(comp, 0.0) for row in rows]) * 1e12
        ax.bar(x, v, bottom=bottom, label=comp, color=plt.cm.tab10(i % 10))
        bottom += v
    ax.set_xticks(x, [f"{row['name']}\n{row['backend']}" for row in rows], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("energy per inference [pJ]")
    tops = result.get("tops_per_watt")
    ax.set_title((title + "\n" if title else "")
                 + f"total {result['energy_per_inference_J'] * 1e12:.1f} pJ / inference"
                 + (f", {tops:.1f} TOPS/W" if tops else "") + f" ({result['chips']} chips, {result['n_images']} images)",
                 fontsize=9)
    if comps:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save(fig, path, tight=True)


def plot_accuracy_sweep(sweep: dict, path, title: str = "") -> Path:
    """Accuracy (mean ± std over chips, every chip as a dot) against one swept backend option
    (:func:`charz.network.model_report.sweep`), with the float and quantized-ideal accuracies as lines."""
    v = np.asarray(sweep["values"], dtype=float)
    m = 100 * np.asarray(sweep["accuracy_mean"])
    s = 100 * np.asarray(sweep["accuracy_std"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for xi, accs in zip(v, sweep["accuracy_per_chip"]):
        ax.plot([xi] * len(accs), 100 * np.asarray(accs), ".", color="tab:blue", alpha=0.4, ms=4)
    ax.errorbar(v, m, yerr=s, fmt="-o", color="tab:blue", capsize=3, label="chips: mean ± std")
    for key, style, label in (("float_accuracy", "--", "float"), ("ideal_accuracy", ":", "quantized ideal")):
        if sweep.get(key) is not None:
            ax.axhline(100 * sweep[key], ls=style, color="k", lw=1, label=f"{label} {100 * sweep[key]:.2f} %")
    ax.set_xlabel(sweep["key"].replace("_", " "))
    if all(float(x).is_integer() for x in v):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("top-1 accuracy [%]")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path, tight=True)
