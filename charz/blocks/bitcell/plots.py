"""Bitcell figures, drawn from a saved LUT only (no simulation): butterfly curves with their SNM
squares, and Monte Carlo histograms."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ...core.errors import LUTError
from ...core.lut import LUT, Kind


def _index(lut: LUT, axis: str, value: float | None, default: float) -> int:
    vals = lut.axis(axis).values
    target = default if value is None else float(value)
    i = int(np.argmin(np.abs(vals - target)))
    if value is not None and not np.isclose(vals[i], target, rtol=0, atol=1e-9 * max(1.0, abs(target))):
        raise LUTError(
            f"{axis}={target:g} is not on the {lut.block} LUT grid {vals.tolist()}: plots use grid points; "
            f"pick one of those values"
        )
    return i


def _point(lut: LUT, vdd: float | None, temp: float | None) -> tuple[int, int]:
    if lut.block not in (Kind.BITCELL6T, Kind.BITCELL8T):
        raise LUTError(f"this is a '{lut.block}' LUT; bitcell plots need a bitcell6t or bitcell8t LUT")
    vnom = float(lut.provenance.get("vdd_nom", np.median(lut.axis("vdd").values)))
    return _index(lut, "vdd", vdd, vnom), _index(lut, "temp", temp, 27.0)


def _title(lut: LUT, i: int, j: int) -> str:
    pdk = lut.provenance.get("pdk", "?")
    v, t = lut.axis("vdd").values[i], lut.axis("temp").values[j]
    return f"{lut.block}, {pdk}, VDD = {v:g} V, {t:g} °C"


def plot_butterfly(lut: LUT, path: str | Path, vdd: float | None = None, temp: float | None = None) -> Path:
    """Hold and read butterflies at one grid point (default: nominal VDD, 27 degC), each with the
    largest square of both lobes; the smaller one (the SNM) is filled. Returns the PNG path."""
    i, j = _point(lut, vdd, temp)
    for key in ("butterfly_hold", "butterfly_read", "squares_hold", "squares_read"):
        if key not in lut.arrays:
            raise LUTError(f"{lut.block} LUT has no '{key}' array: re-characterize it with this charz version")
    cell = lut.block[-2:]
    read_label = "read (WL on, BL = BLB = VDD)" if cell == "6t" else "read (read port on, WL off)"
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.8), constrained_layout=True)
    vmax = float(lut.axis("vdd").values[i])
    for ax, tb, label in zip(axes, ("hold", "read"), ("hold (WL off)", read_label)):
        vin, out_a, out_b = lut.arrays[f"butterfly_{tb}"][i, j]
        ok = np.isfinite(vin) & np.isfinite(out_a) & np.isfinite(out_b)
        snm = float(lut.tables[f"{tb}_snm"][i, j])
        if not ok.any():
            ax.text(0.5, 0.5, "simulation failed", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.plot(out_a[ok], vin[ok], color="C0", lw=1.8, label="half-cell 1: V(q) vs V(qb)")
            ax.plot(vin[ok], out_b[ok], color="C3", lw=1.8, label="half-cell 2: V(qb) vs V(q)")
            sq = lut.arrays[f"squares_{tb}"][i, j]
            sides = np.array([s[2] if np.isfinite(s[2]) else -np.inf for s in sq])
            labelled = set()
            for k, (x0, y0, side) in enumerate(sq):
                if not (np.isfinite(x0) and np.isfinite(y0) and side > 0):
                    continue
                # the smaller lobe sets the SNM; lobes within 0.5 mV of each other (a symmetric cell) both do
                smallest = side <= sides.min() + 5e-4
                ax.add_patch(Rectangle(
                    (x0, y0), side, side, facecolor=(0.4, 0.4, 0.4, 0.3) if smallest else "none",
                    edgecolor="k", lw=1.3 if smallest else 0.9, ls="-" if smallest else "--",
                    label=None if smallest in labelled else
                    (f"SNM square ({side * 1e3:.1f} mV)" if smallest else f"other lobe ({side * 1e3:.1f} mV)"),
                ))
                labelled.add(smallest)
        ax.set_title(f"{label}\nSNM = {snm * 1e3:.1f} mV", fontsize=11)
        ax.set_xlim(-0.02 * vmax, 1.02 * vmax)
        ax.set_ylim(-0.02 * vmax, 1.02 * vmax)
        ax.set_aspect("equal")
        ax.set_xlabel("V(q) [V]")
        ax.set_ylabel("V(qb) [V]")
        ax.grid(True, lw=0.4, alpha=0.5)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.suptitle(f"Butterfly curves: {_title(lut, i, j)}", fontsize=12)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


_HIST = (
    ("hold_snm", "hold SNM", "mV", 1e3),
    ("read_snm", "read SNM", "mV", 1e3),
    ("write_margin", "write margin", "mV", 1e3),
    ("i_read", "read current", "µA", 1e6),
)


def plot_mc_histograms(lut: LUT, path: str | Path, vdd: float | None = None, temp: float | None = None) -> Path:
    """Histograms of the Monte Carlo samples of hold / read SNM, write margin and read current at one
    grid point (default: nominal VDD, 27 degC), with the nominal value, mean and sigma. Returns the path."""
    i, j = _point(lut, vdd, temp)
    if not lut.samples:
        raise LUTError(f"{lut.block} LUT holds no Monte Carlo samples: re-characterize with --mc N (N > 1)")
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.2), constrained_layout=True)
    for ax, (name, label, unit, scale) in zip(axes.ravel(), _HIST):
        if name not in lut.samples:
            ax.set_visible(False)
            continue
        s = lut.samples[name][i, j] * scale
        ok = s[np.isfinite(s)]
        nom = float(lut.tables[name][i, j]) * scale
        n = s.size
        if ok.size:
            bins = min(40, max(8, int(np.sqrt(ok.size) * 2)))
            ax.hist(ok, bins=bins, color="C0", alpha=0.75, edgecolor="white", lw=0.5)
            mu, sd = float(ok.mean()), float(ok.std(ddof=1)) if ok.size > 1 else 0.0
            ax.axvline(mu, color="k", lw=1.2, label=f"mean {mu:.3g} {unit}")
            ax.axvspan(mu - sd, mu + sd, color="k", alpha=0.08, label=f"±1σ, σ = {sd:.3g} {unit}")
        if np.isfinite(nom):
            ax.axvline(nom, color="C3", lw=1.2, ls="--", label=f"nominal {nom:.3g} {unit}")
        missing = n - ok.size
        extra = f"\n{missing} NaN: the cell lost its value (read upset) or the run failed" if missing else ""
        note = " (0 = not bistable)" if name.endswith("_snm") and ok.size and ok.min() <= 0 else ""
        ax.set_title(f"{label} ({ok.size} of {n} samples){note}{extra}", fontsize=10)
        ax.set_xlabel(f"{label} [{unit}]")
        ax.set_ylabel("samples")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="best", framealpha=0.95)
        ax.grid(True, lw=0.4, alpha=0.5)
    avt = lut.provenance.get("avt_mv_um")
    seed = lut.provenance.get("mc_seed")
    fig.suptitle(f"Monte Carlo: {_title(lut, i, j)}  (A_VT = {avt} mV·µm, seed {seed})", fontsize=12)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_lut(lut: LUT, out: Path, stem: str) -> list[Path]:
    """The bitcell LUT's figures in folder *out*: butterfly curves, and the Monte Carlo histograms when it has
    samples."""
    written = [plot_butterfly(lut, out / f"{stem}_butterfly.png") or out / f"{stem}_butterfly.png"]
    if lut.samples:
        written.append(plot_mc_histograms(lut, out / f"{stem}_mc_hist.png") or out / f"{stem}_mc_hist.png")
    return [Path(p) for p in written]
