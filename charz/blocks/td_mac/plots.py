"""Figures of the time-domain FP8 MAC network results (dicts of :mod:`charz.network.td_mac`):
training curves FP32 vs TD-MAC, energy breakdown per scalar product, accuracy vs mismatch scale.
Each function writes one PNG and returns its path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from ...core.errors import ParameterError  # noqa: E402
from ...core.lut import Kind  # noqa: E402
from ...plot.common import save  # noqa: E402

COLORS = {"lines": "tab:blue", "tdcs": "tab:orange", "shared": "tab:purple", "caps": "tab:green", "readout": "tab:red"}
LABELS = {"lines": "delay lines (2 per element)", "tdcs": "element TDCs", "shared": "latest detector + scale TDC",
          "caps": "capacitor arrays (switched)", "readout": "read-out converter"}


def _circuit_line(r: dict) -> str:
    c = r.get("circuit") or {}
    lab = c.get("label", "?")
    if c.get("no_circuit_figures"):
        return f"circuit: {lab} (IDEAL/SYNTHETIC: energies are placeholders, not circuit figures)"
    return f"circuit: {lab}"


def _cfg_line(r: dict) -> str:
    cfg = r.get("model_config") or {}
    return ", ".join(f"{k} {v}" for k, v in cfg.items())


def plot_training(cmp: dict, path) -> Path:
    """Train loss (left, log scale; epoch 0 = the init's loss) and test accuracy (right) per epoch, FP32 vs
    TD-MAC, from :func:`charz.network.td_mac.compare_training`."""
    f, t = cmp["fp32"], cmp["td"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.0, 4.4))
    for r, col, mk in ((f, "tab:blue", "o"), (t, "tab:red", "s")):
        ep = np.arange(len(r["train_loss"]) + 1)
        a1.plot(ep, [r["train_loss_init"], *r["train_loss"]], mk + "-", color=col, ms=4, label=r["arithmetic"])
        a2.plot(np.arange(1, len(r["test_accuracy"])), 100 * np.asarray(r["test_accuracy"][1:]), mk + "-", color=col,
                ms=4, label=f"{r['arithmetic']}: final {100 * r['final_test_accuracy']:.1f} % "
                           f"(initial weights {100 * r['test_accuracy'][0]:.1f} %)")
    a1.set_yscale("log")
    a1.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    a1.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(  # label only the 2x and 5x minor ticks
        lambda v, _: f"{v:g}" if v > 0 and f"{v:.0e}"[0] in "25" else ""))
    a1.tick_params(axis="y", which="minor", labelsize=7)
    a1.set_xlabel("epoch (0 = initial weights)")
    a1.set_ylabel("train loss (cross-entropy)\nmean over the epoch's batches")
    a1.grid(alpha=0.3, which="both")
    a1.legend(fontsize=8)
    a2.set_xlabel("epoch")
    a2.set_ylabel("test accuracy [%]")
    lo = min(np.min(f["test_accuracy"][1:] or [1]), np.min(t["test_accuracy"][1:] or [1]))
    a2.set_ylim(max(0.0, 100 * lo - 5), 100.5)
    a2.grid(alpha=0.3)
    a2.legend(fontsize=8, loc="lower right")
    for a in (a1, a2):
        a.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    cfg = f["config"]
    sub = (f"{cfg['optimizer']}, lr {cfg['lr']:g}, batch {cfg['batch']}, seed {cfg['seed']}; {cfg['n_train']} train / "
           f"{cfg['n_test']} test images; same init and batch order")
    if t.get("circuit"):
        sub += "\n" + _circuit_line(t) + f"; every product of {t['arithmetic']} on the model (FP8 operands, "
        sub += "per-tensor 2^k scales)"
    fig.suptitle("Digits MLP 64-64-10 trained in memory: FP32 vs time-domain FP8 MAC", fontsize=11)
    fig.text(0.5, 0.905, "\n".join(textwrap.fill(s, 150) for s in sub.split("\n")), ha="center", va="top", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    return save(fig, path, tight=True)


def plot_energy_breakdown(result: dict, path) -> Path:
    """Energy per scalar product by component (left) and energy per MAC, ours vs the published TimeFloats figure
    (right), from :func:`charz.network.td_mac.evaluate_td`."""
    parts = {k: v for k, v in (result.get("energy_parts_per_product_J") or {}).items()}
    L = result["length"]
    e_prod = result["energy_per_product_J"]
    if not e_prod > 0:
        raise ParameterError(f"this result has no energy (circuit '{(result.get('circuit') or {}).get('label')}': 0 J "
                             f"per scalar product): evaluate a circuit with energies to plot a breakdown")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.5, 4.6), gridspec_kw={"width_ratios": [1.5, 1]})
    if parts:
        keys = list(parts)
        v = np.array([parts[k] for k in keys]) * 1e15
        bars = a1.bar(range(len(keys)), v, color=[COLORS.get(k, "0.5") for k in keys], width=0.65)
        tot = float(v.sum())
        for b, x in zip(bars, v):
            a1.annotate(f"{x:.3g} fJ\n{100 * x / tot:.0f} %" if tot > 0 else f"{x:.3g} fJ",
                        (b.get_x() + b.get_width() / 2, x), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
        a1.set_xticks(range(len(keys)))
        a1.set_xticklabels([textwrap.fill(LABELS.get(k, k), 14) for k in keys], fontsize=8)
        a1.set_ylim(0, max(v.max(), 1e-30) * 1.25)
    else:
        a1.bar([0], [e_prod * 1e15], color="0.5", width=0.5)
        a1.set_xticks([0])
        a1.set_xticklabels(["total (no breakdown given)"], fontsize=8)
    a1.set_ylabel(f"energy per {L}-element scalar product [fJ]")
    a1.set_title(f"per scalar product: {e_prod * 1e12:.4g} pJ (mean over chips and the test set's products)", fontsize=9)
    a1.grid(axis="y", alpha=0.3)

    pub = result["published_energy_per_product_J"] / result["published_length"] * 1e15
    ours = result["energy_per_mac_J"] * 1e15
    a2.bar([0], [ours], color="tab:blue", width=0.55)
    a2.bar([1], [pub], color="0.6", width=0.55)
    for x, y, tw in ((0, ours, result["tops_per_watt"]), (1, pub, result["published_tops_per_watt"])):
        a2.annotate(f"{y:.3g} fJ\n{tw:.3g} TOPS/W", (x, y), ha="center", va="bottom", fontsize=8.5, xytext=(0, 2),
                    textcoords="offset points")
    a2.set_xticks([0, 1])
    a2.set_xticklabels([f"ours ({result['fmt'].upper()}, L = {L})",
                        f"published TimeFloats\n(15 nm predictive, L = {result['published_length']})"], fontsize=8)
    a2.set_ylabel("energy per MAC [fJ] (= 2 ops)")
    a2.set_ylim(0, max(ours, pub) * 1.3)
    a2.set_title("energy per MAC (TOPS/W = 2 / E_MAC / 1e12)", fontsize=9)
    a2.grid(axis="y", alpha=0.3)
    fig.suptitle("Time-domain FP8 MAC: energy per scalar product (digits MLP inference)", fontsize=11)
    sub = (_circuit_line(result) + "\n" + _cfg_line(result) + "; not counted: digital multiplier/shifter, FP32 "
           "accumulation of chunks, scaling, bias, ReLU, data movement")
    fig.text(0.5, 0.905, "\n".join(textwrap.fill(s, 160) for s in sub.split("\n")), ha="center", va="top", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    return save(fig, path, tight=True)


def plot_accuracy_vs_mismatch(sweep: dict, path) -> Path:
    """TD-MAC accuracy (mean over chips, min..max band) vs mismatch scale, one curve per swept path
    (exponent only / mantissa only / both), from :func:`charz.network.td_mac.accuracy_vs_mismatch_td`."""
    x = np.asarray(sweep["scales"], dtype=float)
    names = {"exp": ("exponent path only (delay lines, TDCs, jitter)", "tab:blue", "o"),
             "man": ("mantissa path only (capacitors, read-out converter)", "tab:green", "s"),
             "both": ("both paths", "tab:red", "^")}
    fig, ax = plt.subplots(figsize=(7.4, 5.0))
    lo = 100.0
    for k, d in sweep["kinds"].items():
        lab, col, mk = names.get(k, (k, "0.4", "d"))
        ax.fill_between(x, 100 * np.asarray(d["min"]), 100 * np.asarray(d["max"]), color=col, alpha=0.15, lw=0)
        ax.plot(x, 100 * np.asarray(d["mean"]), mk + "-", color=col, label=f"{lab}: mean, band = chip range")
        lo = min(lo, 100 * float(np.min(d["min"])))
    ax.axhline(100 * sweep["fp32_accuracy"], color="k", ls=":", lw=2.2, zorder=1,
               label=f"FP32 {100 * sweep['fp32_accuracy']:.1f} %")
    ax.axhline(100 * sweep["fp8_exact_accuracy"], color="0.4", ls="--",
               label=f"exact FP8 {100 * sweep['fp8_exact_accuracy']:.1f} %")
    ax.axhline(100 * sweep["td_ideal_accuracy"], color="tab:orange", ls="-.",
               label=f"TD-MAC, ideal circuit {100 * sweep['td_ideal_accuracy']:.1f} %")
    ax.set_xlabel("mismatch scale (1 = the circuit's Monte Carlo sigmas; the other path at 0)")
    ax.set_ylabel("digits test accuracy [%]")
    ax.set_ylim(max(0.0, lo - 3), 100.5)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{v:g}" for v in x])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower left")
    ax.set_title("Digits MLP on the time-domain FP8 MAC vs mismatch\n" + textwrap.fill(
        f"{_circuit_line(sweep)}; {sweep['fmt'].upper()}, L = {sweep['length']}; {sweep['chips']} chips, "
        f"{sweep['n_images']} images", 95), fontsize=8.5)
    fig.tight_layout()
    return save(fig, path, tight=True)


# ---- figures of the SPICE LUTs (td_delay, td_tdc, td_acc, td_arbiter) ------------------------------------
def _corners(lut):
    """(index, vdd) of every VDD at the temperature nearest 27 degC, and that temperature's index."""
    temps = lut.axis("temp").values
    j = int(np.argmin(np.abs(temps - 27.0)))
    return [(i, float(v)) for i, v in enumerate(lut.axis("vdd").values)], j, float(temps[j])


def plot_delay(lut, path) -> Path:
    """Delay line: delay vs exponent code per VDD (Monte Carlo instances thin), INL in unit delays."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    codes = lut.axis("code").values
    cs, j, t = _corners(lut)
    for n, (i, v) in enumerate(cs):
        col = f"C{n}"
        d = lut.tables["delay"][i, j] * 1e12
        ax.plot(codes, d, "o-", color=col, label=f"{v:g} V: tau {lut.tables['tau'][i, j, 0] * 1e12:.1f} ps")
        if "delay" in lut.samples:
            ax.plot(codes, lut.samples["delay"][i, j] * 1e12, color=col, lw=0.5, alpha=0.4)
        ax2.plot(codes, lut.tables["inl"][i, j], "o-", color=col, label=f"{v:g} V")
    ax.set(xlabel="exponent code (one line)", ylabel="delay [ps]", yscale="log",
           title=f"delay line, {lut.conditions.get('bits')} bits, {t:g} degC (thin: Monte Carlo)")
    ax.legend(fontsize=8)
    ax2.axhline(0, color="k", lw=0.5)
    ax2.set(xlabel="exponent code", ylabel="INL [unit delays]", title="deviation from the straight-line fit")
    ax2.legend(fontsize=8)
    return save(fig, path, tight=True)


def plot_tdc(lut, path) -> Path:
    """TDC: simulated code vs STOP - START (in units of the line's tau) per VDD (Monte Carlo instances thin),
    and the threshold sigma per tap."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    cs, j, t = _corners(lut)
    dt, code = lut.arrays.get("sweep_dt"), lut.arrays.get("sweep_code")
    taps = lut.axis("tap").values
    for n, (i, v) in enumerate(cs):
        col = f"C{n}"
        tau = lut.tables["tau"][i, j, 0]
        if dt is not None:
            x = dt[i, j] / tau
            ax.step(x, code[i, j, :, 0] + 0.04 * n, where="post", color=col, label=f"{v:g} V (tau {tau * 1e12:.1f} ps)")
            for s in range(1, code.shape[-1]):
                ax.step(x, code[i, j, :, s] + 0.04 * n, where="post", color=col, lw=0.4, alpha=0.4)
        if "threshold_sigma" in lut.tables:
            ax2.plot(taps, lut.tables["threshold_sigma"][i, j] / tau, "o-", color=col, label=f"{v:g} V")
    ax.plot([0, taps.max() + 1], [0, taps.max() + 1], "k:", lw=0.8, label="ideal (code = STOP-START / tau)")
    ax.set(xlabel="STOP - START [tau]", ylabel="code", title=f"TDC transfer, {int(taps.max())} taps, {t:g} degC "
           f"(fit check {100 * (lut.fit_quality.get('codes') or {}).get('agreement', float('nan')):.1f} %)")
    ax.legend(fontsize=8)
    ax2.set(xlabel="tap", ylabel="threshold sigma [tau]", title="Monte Carlo spread of the thresholds")
    if "threshold_sigma" in lut.tables:
        ax2.legend(fontsize=8)
    else:
        ax2.text(0.5, 0.5, "no Monte Carlo", ha="center", transform=ax2.transAxes)
    return save(fig, path, tight=True)


def plot_acc(lut, path) -> Path:
    """Accumulation line: V_P - V_N vs the ideal signed sum (unit capacitors) and the INL."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    cs, j, t = _corners(lut)
    for n, (i, v) in enumerate(cs):
        s = lut.tables["s_ideal"][i, j]
        o = np.argsort(s)
        ax.plot(s[o], lut.tables["v_diff"][i, j][o] * 1e3, "o-", ms=3, color=f"C{n}",
                label=f"{v:g} V: {lut.tables['gain'][i, j, 0] * 1e6:.2f} uV/unit")
        ax2.plot(s[o], lut.tables["inl"][i, j][o], "o", ms=3, color=f"C{n}", label=f"{v:g} V")
    ax.set(xlabel="signed sum S [unit capacitors]", ylabel="V_P - V_N [mV]",
           title=f"charge accumulation, L = {lut.conditions.get('length')}, {lut.conditions.get('bits')}-bit arrays, "
                 f"{t:g} degC")
    ax.legend(fontsize=8)
    ax2.axhline(0, color="k", lw=0.5)
    ax2.set(xlabel="signed sum S [unit capacitors]", ylabel="INL [unit capacitors]", title="deviation from the line")
    ax2.legend(fontsize=8)
    return save(fig, path, tight=True)


def plot_arbiter(lut, path) -> Path:
    """Arbiter: decision time vs |dt| (metastability) and the Monte Carlo probability that a wins vs dt."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    cs, j, t = _corners(lut)
    d = lut.axis("dt").values
    nz = d != 0
    for n, (i, v) in enumerate(cs):
        col = f"C{n}"
        td = lut.tables["t_dec"][i, j]
        ax.plot(np.abs(d[nz]) * 1e12, td[nz] * 1e12, "o", color=col,
                label=f"{v:g} V: tau_m {lut.tables['tau_m'][i, j, 0] * 1e12:.2f} ps")
        xs = np.logspace(np.log10(np.abs(d[nz]).min()), np.log10(np.abs(d[nz]).max()), 50)
        ax.plot(xs * 1e12, (lut.tables["t0"][i, j, 0] - lut.tables["tau_m"][i, j, 0] * np.log(xs)) * 1e12, color=col, lw=0.8)
        if np.isfinite(lut.tables["p_a"][i, j]).any():
            ax2.plot(d * 1e12, lut.tables["p_a"][i, j], "o-", color=col,
                     label=f"{v:g} V: offset sigma {lut.tables['offset_sigma'][i, j, 0] * 1e12:.2f} ps")
    ax.set(xscale="log", xlabel="|dt| [ps]", ylabel="decision time [ps]", title=f"NAND-mutex arbiter, {t:g} degC")
    ax.legend(fontsize=8)
    ax2.set(xscale="symlog", xlabel="dt = t_b - t_a [ps]", ylabel="P(a wins)", title="Monte Carlo instances")
    ax2.legend(fontsize=8)
    return save(fig, path, tight=True)


def plot_lut(lut, out: Path, stem: str) -> list[Path]:
    """Every figure of a td_* LUT."""
    fn = {Kind.TD_DELAY: ("delay_vs_code", plot_delay), Kind.TD_TDC: ("transfer", plot_tdc),
          Kind.TD_ACC: ("linearity", plot_acc), Kind.TD_ARBITER: ("metastability", plot_arbiter)}.get(lut.block)
    if fn is None:
        raise ParameterError(f"no time-domain MAC plots for a {lut.block} LUT")
    return [Path(fn[1](lut, Path(out) / f"{stem}_{fn[0]}.png"))]


def plot_sensitivity(res: dict, path) -> Path:
    """Relative RMS error of the dot product vs the mismatch scale on the exponent path only and on the
    mantissa path only (:func:`charz.blocks.td_mac.model_study.compare_paths`)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for p, col in (("exponent", "tab:red"), ("mantissa", "tab:blue")):
        r = res[p]
        ax.plot(r["scales"], r["rel_rms"], "o-", color=col, label=f"mismatch on the {p} path only")
    ax.axvline(1.0, color="k", lw=0.6, ls=":")
    ax.set(xlabel="mismatch scale (1 = as characterized)", ylabel="relative RMS error of the dot product",
           yscale="log", title=textwrap.fill(f"TD-MAC sensitivity: {res['verdict']['more_sensitive']} path more "
                                             f"sensitive ({res['verdict']['ratio']:.3g}x at scale 1)", 60))
    ax.legend(fontsize=8)
    return save(fig, path, tight=True)
