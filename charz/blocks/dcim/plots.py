"""Figures of a ``dcim_add`` LUT: the energy split per operand pair and the bit-line transients."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ...core.errors import LUTError  # noqa: E402
from ...core.lut import LUT, Kind  # noqa: E402
from ...plot.common import mc_note, save  # noqa: E402
from .model import DcimAddModel  # noqa: E402

PARTS = ("energy_precharge", "energy_wordline", "energy_sense", "energy_adder")


def _check(lut: LUT) -> None:
    if not isinstance(lut, LUT) or lut.block != Kind.DCIM_ADD:
        raise LUTError(f"a {Kind.DCIM_ADD} LUT is needed, got {getattr(lut, 'block', type(lut).__name__)!r}")


def plot_energy(lut: LUT, path) -> Path:
    """Stacked energy split (fJ) per operand pair at the model's supply, with the mean per add."""
    _check(lut)
    m = DcimAddModel.from_lut(lut)
    labels = [f"{a}+{b}" for a, b in m.pairs]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = np.zeros(len(labels))
    for k in PARTS:
        v = 1e15 * m.parts[k]
        ax.bar(x, v, bottom=bottom, label=k.removeprefix("energy_"))
        bottom += v
    ax.axhline(1e15 * m.energy_per_add, color="k", ls="--", lw=1,
               label=f"mean per add {1e15 * m.energy_per_add:.1f} fJ"
                     + (" (over the Monte Carlo instances; bars: nominal)" if lut.provenance.get("mc_samples") else ""))
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel("energy per add (fJ)")
    ax.set_title(f"{m.n_bits}-bit bitline-computing add at {m.vdd:g} V\n{mc_note(lut)}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_transients(lut: LUT, path) -> Path:
    """Nominal BL / BLB of column 0 per operand pair over one cycle, with the sense threshold and instant."""
    _check(lut)
    m = DcimAddModel.from_lut(lut)
    i = int(np.argmin(np.abs(lut.axis("vdd").values - m.vdd)))
    t = 1e12 * np.asarray(lut.arrays["wave_t"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, name, what in zip(axes, ("wave_bl", "wave_blb"), ("BL (a AND b)", "BLB (a NOR b)")):
        w = np.asarray(lut.arrays[name])[i]
        for k, (a, b) in enumerate(m.pairs):
            ax.plot(t, w[k, 0], lw=1, label=f"{a}+{b}: bit0 {(a & 1)}{(b & 1)}")
        ax.axhline(float(lut.arrays["v_threshold"][i]), color="k", ls=":", lw=1, label="sense threshold")
        ax.axvline(1e12 * lut.conditions["sense_instant_s"], color="gray", ls="--", lw=1)
        ax.set_xlabel("time in cycle (ps)")
        ax.set_title(f"column 0 {what}", fontsize=9)
    axes[0].set_ylabel("V")
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    return save(fig, path)


def plot_lut(lut: LUT, out, stem: str = "dcim") -> list[Path]:
    """Write ``STEM_energy.png`` and ``STEM_transients.png`` to folder *out*; returns the paths."""
    out = Path(out)
    written = [plot_energy(lut, out / f"{stem}_energy.png")]
    if "wave_bl" in lut.arrays:
        written.append(plot_transients(lut, out / f"{stem}_transients.png"))
    return written
