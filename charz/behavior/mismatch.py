"""Monte Carlo instance model shared by every LUT-fed behavioural model (column curves in
:mod:`charz.blocks.cim_column.model`, converter transitions in :mod:`charz.blocks.adc.model`, delay-line curves
in :mod:`charz.blocks.td_mac.model`): statistics of a LUT's Monte Carlo instances about the nominal
(:func:`mc_deviation_stats`, :func:`lut_mismatch`) and per-chip instances drawn from them
(:func:`draw_instances`). Reads LUTs only.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import LUTError
from ..core.lut import LUT


def mc_deviation_stats(samples: np.ndarray, nominal: np.ndarray):
    """Statistics of Monte Carlo instances about the nominal vector.

    *samples* is (S, K): one row per simulated physical instance (a column's V(k) curve, a converter's
    transition voltages). Rows with a NaN (failed runs) are dropped. Returns ``(n_usable, dev_mean,
    dev_factor, dev_samples)``: ``dev_mean`` (K,) = sample mean minus nominal (the systematic shift
    mismatch causes), ``dev_factor`` (K, r) with ``F @ F.T`` = the sample covariance (full, across K),
    ``dev_samples`` (S', K) = usable rows minus nominal; the last three are None with fewer than 2 rows.
    """
    s = np.asarray(samples, dtype=float)
    s = s[np.all(np.isfinite(s), axis=1)]
    n = s.shape[0]
    if n < 2:
        return n, None, None, None
    d = s - s.mean(axis=0)
    cov = d.T @ d / (n - 1)
    lam, vec = np.linalg.eigh(cov)
    keep = lam > lam.max() * 1e-12 if lam.max() > 0 else np.zeros_like(lam, dtype=bool)
    return n, s.mean(axis=0) - nominal, vec[:, keep] * np.sqrt(lam[keep]), s - nominal


def draw_instances(nominal, n: int, rng: np.random.Generator, scale: float, source: str,
                   factor, mean, samples) -> np.ndarray:
    """(n, K) instance vectors ``nominal + scale * (mean + d)``, d drawn with covariance ``F @ F.T``
    (``source="mvn"``) or picked among the Monte Carlo rows (``"resample"``; *samples* = rows minus
    nominal, mean shift included). The random numbers drawn do not depend on *scale* (common random
    numbers); with no mismatch the stream still advances by one (n, K) normal draw."""
    nominal = np.asarray(nominal, dtype=float)
    k = nominal.size
    base = np.broadcast_to(nominal, (n, k))
    if scale == 0 or factor is None:
        rng.standard_normal((n, k))  # keep the stream aligned across scales
        return base.copy()
    if source == "resample":
        dev = samples[rng.integers(0, samples.shape[0], size=n)]
    else:
        z = rng.standard_normal((n, k))
        dev = z[:, : factor.shape[1]] @ factor.T
        if mean is not None:
            dev = dev + mean
    return base + scale * dev


def lut_mismatch(lut: LUT, name: str, point: dict, nominal: np.ndarray, ms: float, mismatch_source: str,
                 things: str, across: str, none_info: str):
    """Mismatch statistics of quantity *name* of a LUT at *point*, shared by every LUT-fed model.

    From the Monte Carlo samples (mean shift + full covariance across *across*, see
    :func:`mc_deviation_stats`), else from the ``<name>_sigma`` / ``<name>_mean`` tables (independent per
    entry). Returns ``(n_samples, dev_mean, dev_factor, dev_samples, mismatch_source, info)``; a LUTError when
    mismatch is asked for (``ms > 0``) and the LUT cannot provide it."""
    block = lut.block
    dev_factor = dev_samples = dev_mean = None
    mc_n, info = 0, none_info
    if name in lut.samples:
        smp = np.asarray(lut.sample_slice(name, **point), dtype=float).T  # (S, entries)
        mc_n, dev_mean, dev_factor, dev_samples = mc_deviation_stats(smp, nominal)
        if dev_factor is not None:
            info = f"{mismatch_source}: {mc_n} Monte Carlo {things}, full covariance across {across}"
        elif ms > 0:
            raise LUTError(
                f"{block} LUT has only {mc_n} usable Monte Carlo {things} at {point} (failed runs are NaN): "
                f"re-characterize that point, or use mismatch_scale=0"
            )
    if dev_factor is None and f"{name}_sigma" in lut.tables:
        sig = np.asarray(lut.slice(f"{name}_sigma", **point), dtype=float)
        if np.all(np.isfinite(sig)) and np.any(sig > 0):
            dev_factor = np.diag(sig)
            if f"{name}_mean" in lut.tables:
                mu = np.asarray(lut.slice(f"{name}_mean", **point), dtype=float)
                dev_mean = mu - nominal if np.all(np.isfinite(mu)) else None
            mismatch_source = "mvn"
            info = f"{name}_sigma table only: independent per {across} (no samples, correlation unknown)"
    if dev_factor is None and ms > 0:
        raise LUTError(
            f"{block} LUT holds no Monte Carlo data at {point}: use mismatch_scale=0 (nominal values) "
            f"or re-characterize with Monte Carlo samples"
        )
    if mismatch_source == "resample" and dev_samples is None and ms > 0:
        raise LUTError(f"mismatch_source='resample' needs Monte Carlo samples in the {block} LUT")
    return mc_n, dev_mean, dev_factor, dev_samples, mismatch_source, info
