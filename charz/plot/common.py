"""What every figure module shares: writing a figure as PNG and the one-line Monte Carlo note of a LUT."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, path, tight: bool = False) -> Path:
    """Write *fig* to *path* as a 130-dpi PNG (parent folders created; *tight*: cropped to its content with a
    small margin) and close it; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.savefig(p, dpi=130, bbox_inches="tight", pad_inches=0.15)
    else:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return p


def mc_note(lut, instances: str = "instances") -> str:
    """One line on a LUT's Monte Carlo: sample count (as *instances*), A_VT and whether it was assumed or given,
    seed; or "nominal only"."""
    p = lut.provenance
    n = p.get("mc_samples") or 0
    if not n:
        return "nominal only (no Monte Carlo)"
    src = "user value" if "override" in str(p.get("avt_source", "")) else "assumed"
    return f"Monte Carlo: {n} {instances}, A_VT = {p.get('avt_mv_um', '?')} mV·µm ({src}), seed {p.get('mc_seed')}"


def check_kind(lut, kind: str) -> None:
    """A one-line ``LUTError`` unless *lut* is a :class:`~charz.core.lut.LUT` of block *kind* (what every family's
    plot function checks first)."""
    from ..core.errors import LUTError
    from ..core.lut import LUT

    if not isinstance(lut, LUT) or lut.block != kind:
        got = lut.block if isinstance(lut, LUT) else type(lut).__name__
        raise LUTError(f"this plot needs a '{kind}' LUT, got '{got}'")

