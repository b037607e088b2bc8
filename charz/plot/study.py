"""Figures of the published-method studies (``charz study``): one PNG each, from the study's result dict."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .common import save  # noqa: E402

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def _finish(fig, ax, title: str, ylabel: str, path, grid_axis: str = "both") -> Path:
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis=grid_axis)
    ax.legend(fontsize=7)
    return save(fig, path, tight=True)


def polarization_figures(result: dict, out: Path, title: str) -> list[Path]:
    """accuracy_vs_rank.png (mean, min and max over chips per format, float and ideal-quantized lines),
    accuracy_vs_fit_images.png (at the fit rank), recovered_per_chip.png, energy_vs_rank.png."""
    fmts = result["formats"]
    ranks = result["ranks"]
    paths = []

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (f, v) in enumerate(fmts.items()):
        col = _COLORS[i % len(_COLORS)]
        acc = np.array([[p["by_rank"][str(r)]["accuracy"] for r in ranks] for p in v["per_chip"]]) * 100
        x = np.arange(len(ranks))
        ax.plot(x, acc.mean(0), "o-", color=col, label=f"{f}: mean of {acc.shape[0]} chips")
        ax.fill_between(x, acc.min(0), acc.max(0), color=col, alpha=0.15)
        ax.axhline(v["ideal_accuracy"] * 100, color=col, ls=":", lw=1, label=f"{f}: ideal (no read-out error)")
    ax.axhline(next(iter(fmts.values()))["float_accuracy"] * 100, color="k", ls="--", lw=1, label="float")
    ax.set_xticks(np.arange(len(ranks)), [str(r) for r in ranks])
    ax.set_xlabel("recovery path rank per layer (0 = main path alone)")
    paths.append(_finish(fig, ax, title, "accuracy [%]", out / "accuracy_vs_rank.png"))

    fig, ax = plt.subplots(figsize=(7, 4.2))
    sizes = result["fit_images"]
    for i, (f, v) in enumerate(fmts.items()):
        col = _COLORS[i % len(_COLORS)]
        acc = np.array([[p["by_fit"][str(s)]["accuracy"] for s in sizes] for p in v["per_chip"]]) * 100
        ax.plot(sizes, acc.mean(0), "o-", color=col, label=f"{f}, rank {result['fit_rank']}")
        ax.fill_between(sizes, acc.min(0), acc.max(0), color=col, alpha=0.15)
        main = np.mean([p["by_rank"]["0"]["accuracy"] for p in v["per_chip"]]) * 100
        ax.axhline(main, color=col, ls=":", lw=1, label=f"{f}: main path alone")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"training images the paths are fitted on (of {result.get('train_split_size', '?')})")
    paths.append(_finish(fig, ax, title, "accuracy [%]", out / "accuracy_vs_fit_images.png"))

    fig, ax = plt.subplots(figsize=(7, 4.2))
    w = 0.8 / max(1, len(fmts))
    for i, (f, v) in enumerate(fmts.items()):
        r = str(result["fit_rank"]) if str(result["fit_rank"]) in v["summary"]["recovered_fraction_per_chip"] else \
            str(ranks[-1])
        fr = [np.nan if x is None else 100 * x for x in v["summary"]["recovered_fraction_per_chip"][r]]
        ax.bar(np.arange(len(fr)) + i * w, fr, w, color=_COLORS[i % len(_COLORS)], label=f"{f}, rank {r}")
    ax.axhline(100, color="k", lw=1, ls="--")
    n_chips = len(next(iter(fmts.values()))["per_chip"])
    ax.set_xticks(np.arange(n_chips) + w * (len(fmts) - 1) / 2, [str(c) for c in range(n_chips)])
    ax.set_xlabel("chip")
    paths.append(_finish(fig, ax, title, "variation loss recovered [%]\n(acc. with paths - main) / (ideal - main)",
                         out / "recovered_per_chip.png", "y"))

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (f, v) in enumerate(fmts.items()):
        col = _COLORS[i % len(_COLORS)]
        s = v["summary"]["by_rank"]
        main = np.array([(s[str(r)]["cim_energy_per_inference_J"] - s[str(r)]["recovery_energy_per_inference_J"]) * 1e9
                         for r in ranks])
        rec = np.array([s[str(r)]["recovery_energy_per_inference_J"] * 1e9 for r in ranks])
        x = np.arange(len(ranks)) + i * w
        ax.bar(x, main, w, color=col, alpha=0.5, label=f"{f}: CiM main path")
        ax.bar(x, rec, w, bottom=main, color=col, label=f"{f}: recovery paths (digital)")
    ax.set_xticks(np.arange(len(ranks)) + w * (len(fmts) - 1) / 2, [str(r) for r in ranks])
    ax.set_xlabel("recovery path rank per layer")
    paths.append(_finish(fig, ax, title, "energy of the CiM layers per inference [nJ]", out / "energy_vs_rank.png",
                         "y"))
    plt.close("all")
    return paths


def dub_figure(result: dict, path, title: str) -> Path:
    """ADC energy per inference (per-crossbar resolution, filled; per-layer as the executor ran it, open) against
    accuracy (mean, with the chips' min / max) for the dense model and every pruned one."""
    fig, ax = plt.subplots(figsize=(7, 4.4))
    style = {"dense": ("k", "s"), "dub": ("tab:blue", "o"), "dub_unbalanced": ("tab:green", "D"),
             "magnitude": ("tab:orange", "^")}
    seen = set()
    for r in result["runs"]:
        col, mk = style.get(r["method"], ("tab:gray", "o"))
        acc = np.array(r["accuracy_per_chip"]) * 100
        e = r["adc_energy_per_crossbar_resolution_J"] * 1e9
        lab = {"dense": "dense (5-bit SAR)", "dub": "D.U.B.", "dub_unbalanced": "D.U.B. cut, no balance term",
               "magnitude": "magnitude pruning"}[r["method"]]
        ax.errorbar([e], [acc.mean()], yerr=[[acc.mean() - acc.min()], [acc.max() - acc.mean()]], color=col,
                    marker=mk, ls="none", capsize=3, label=None if lab in seen else lab + " (per-crossbar bits)")
        ax.plot([r["adc_energy_per_inference_J"] * 1e9], [acc.mean()], marker=mk, mfc="none", color=col, ls="none",
                label=None if lab in seen else lab + " (per-layer bits, as run)")
        seen.add(lab)
        if r["method"] != "dense":
            ax.annotate(f"{r['keep']}/{result['rows']}", (e, acc.mean()), textcoords="offset points", xytext=(5, 4),
                        fontsize=7, color=col)
    ax.set_xlabel("ADC energy per inference [nJ]")
    return _finish(fig, ax, title, "accuracy [%]", path)


def hcim_figure(result: dict, path, title: str) -> Path:
    """Energy of the CiM layers per inference against accuracy (mean, chips' min / max): the converter read-outs
    and HCiM."""
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for r in result["runs"]:
        acc = np.array(r["accuracy_per_chip"]) * 100
        hc = r["label"].startswith("HCiM")
        col = ("tab:green" if "nominal" in r["label"] else "tab:blue") if hc else "tab:gray"
        e = r["cim_energy_total_J"] * 1e9
        ax.errorbar([e], [acc.mean()], yerr=[[acc.mean() - acc.min()], [acc.max() - acc.mean()]], color=col,
                    marker="o" if hc else "s", ls="none", capsize=3)
        ax.annotate(r["label"], (e, acc.mean()), textcoords="offset points", xytext=(6, -10), fontsize=7, color=col)
    ax.set_xlabel("energy of the CiM layers per inference [nJ]")
    ax.set_ylabel("accuracy [%]")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return save(fig, path, tight=True)


def macam_figures(result: dict, readouts, z: dict, out: Path, title: str) -> list[Path]:
    """macam_tradeoff.png (read-out energy against accuracy: the search path on the validation images and the
    test runs, per converter) and macam_transfer.png (per fused layer, up to four: the float ReLU, the MACAM
    read-out of the nominal array and its 5-95 % band over 64 drawn arrays, the first converter's nominal
    read-out, over the calibration pre-activations' histogram)."""
    paths = []
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for i, b in enumerate(result["baselines"]):
        col = _COLORS[i % len(_COLORS)]
        p = b["search_path"]
        ax.plot([q["readout_energy_total_J"] * 1e12 for q in p], [100 * q["accuracy_mean"] for q in p], ".-",
                color=col, alpha=0.45, label=f"search path (validation), vs {b['adc']['label']}")
        for r in b["runs"]:
            acc = np.array(r["accuracy_per_chip"]) * 100
            e = r["readout_energy_total_J"] * 1e12
            ax.errorbar([e], [acc.mean()], yerr=[[acc.mean() - acc.min()], [acc.max() - acc.mean()]], color=col,
                        marker="o", ls="none", capsize=3)
            ax.annotate(r["label"], (e, acc.mean()), textcoords="offset points", xytext=(5, -10), fontsize=7,
                        color=col)
    ax.axhline(100 * result["ideal_accuracy"], color="k", lw=0.8, ls=":", label="exact products, float ReLU")
    ax.set_xlabel("read-out energy of the fused ReLUs per inference [pJ] (conversion + activation)")
    paths.append(_finish(fig, ax, title + " - test runs: mean, chips' min / max", "accuracy [%]",
                         out / "macam_tradeoff.png"))

    from ..blocks.cam.plots import draw_macam_transfer

    names = list(readouts.fused)[:4]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8), squeeze=False)
    for ax, n in zip(axes[0], names):
        draw_macam_transfer(ax, readouts.cam, readouts.designs[n], z[n], adc=readouts.adcs[n])
        ax.set_xlabel(f"pre-activation of {n}")
        ax.set_title(n, fontsize=9)
    axes[0][0].set_ylabel("activation read out")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title + " - read-out transfer (grey: calibration pre-activations)", fontsize=9)
    paths.append(save(fig, out / "macam_transfer.png", tight=True))
    sw = result.get("spread_sweep")
    if sw:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        x = [r["scale"] for r in sw]
        acc = np.array([r["accuracy_per_chip"] for r in sw]) * 100
        ax.errorbar(x, acc.mean(axis=1), yerr=[acc.mean(axis=1) - acc.min(axis=1), acc.max(axis=1) - acc.mean(axis=1)],
                    marker="o", capsize=3, color="tab:orange", label="all MACAM (mean, chips' min / max)")
        for i, b in enumerate(result["baselines"]):
            d = b["runs"][0]
            ax.axhline(100 * d["accuracy_mean"], color=_COLORS[i % len(_COLORS)], lw=0.9, ls="--",
                       label=f"all digital, {b['adc']['label']}")
        ax.axhline(100 * result["ideal_accuracy"], color="k", lw=0.8, ls=":", label="exact products, float ReLU")
        ax.set_xlabel("CAM window spread (x the cam_mtj LUT's Monte Carlo sigma)")
        paths.append(_finish(fig, ax, title + " - accuracy against the windows' spread", "accuracy [%]",
                             out / "macam_spread.png"))
    return paths
