"""The ``wht_column`` LUT on the model side: the contract's names, loading, the fitted decision model and a
synthetic LUT.

:data:`PER_CORNER` / :data:`ENERGY_PARTS` are the tables :class:`charz.blocks.wht.model.WhtModel` reads;
:func:`load_wht_lut` loads a LUT; :func:`p_wrong_ternary` and :func:`predicted_wrong` are the
wrong-decision probabilities of the fitted Gaussian decision model (the recipe's fit quality, the
error-probability plot); the grid and decision-margin helpers pick and check the operating point of
:meth:`WhtModel.from_lut <charz.blocks.wht.model.WhtModel.from_lut>`.

:func:`synthetic_wht_lut` builds a SYNTHETIC ``wht_column`` LUT (no SPICE behind it) for tests.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...core.errors import CharzError, LUTError
from ...core.lut import LUT, Axis, Kind
from .model_planes import check_rows

BLOCK = Kind.WHT_COLUMN
PER_CORNER = ("offset_mean", "offset_sigma", "thr_pos_mean", "thr_pos_sigma", "thr_neg_mean", "thr_neg_sigma",
              "cell_sigma", "dv_sigma0", "dv_per_cell")
"""Per-corner tables the model reads when present (sign LUTs: offset_*; ternary LUTs: thr_*)."""
ENERGY_PARTS = ("energy_precharge", "energy_rows", "energy_latch", "energy_clock")


PUBLISHED_VDD = 0.8
"""The supply of the published signed-bit WHT crossbar (16x16, 8-bit; arXiv 2309.01771) [V]."""


def published_vdd(lut) -> float | None:
    """:data:`PUBLISHED_VDD` when it is on the ``wht_column`` LUT's VDD grid, else None (then the LUT's rule
    applies: :meth:`charz.blocks.wht.model.WhtModel.from_lut`). The default operating point of the WHT
    network (``charz eval --network wht``) and of the executor's ``wht`` backend."""
    lut, _ = load_wht_lut(lut)
    if "vdd" not in [a.name for a in lut.axes]:
        return None
    grid = lut.axis("vdd").values
    hit = np.isclose(grid, PUBLISHED_VDD, rtol=0, atol=1e-9)
    return float(grid[hit][0]) if np.any(hit) else None


def load_wht_lut(lut_or_path) -> tuple[LUT, str | None]:
    """A ``wht_column`` LUT from a LUT object or a path."""
    if isinstance(lut_or_path, LUT):
        if lut_or_path.block != BLOCK:
            raise LUTError(f"this is a '{lut_or_path.block}' LUT; the WHT model needs a '{BLOCK}' LUT")
        return lut_or_path, None
    if isinstance(lut_or_path, str) or hasattr(lut_or_path, "__fspath__"):
        return LUT.load(lut_or_path, block=BLOCK), str(lut_or_path)
    raise LUTError(f"give a {BLOCK} LUT or the path of one, got {type(lut_or_path).__name__}")


# ---- synthetic LUT (tests only) -----------------------------------------------------------------
def synthetic_wht_lut(
    n_rows: int = 16,
    vdd: Sequence[float] = (0.7, 0.8),
    temp: Sequence[float] = (27.0,),
    t_pulse: Sequence[float] = (60e-12,),
    dv_per_cell: float = 0.033,
    compression: float = 0.2,
    ternary: bool = True,
    offset_mean: float = 0.002,
    offset_sigma: float = 0.008,
    thr_pos_mean: float = 0.016,
    thr_neg_mean: float = -0.016,
    thr_pos_sigma: float = 0.006,
    thr_neg_sigma: float = 0.006,
    cell_sigma: float = 0.004,
    dv_sigma0: float = 0.0,
    mc_shift: float = 0.001,
    monte_carlo: bool = True,
    c_bl: float = 6e-15,
    e_row: float = 0.05e-15,
    e_latch: float = 2.0e-15,
    e_clock: float = 1.0e-15,
    order: str = "sylvester",
    vdd_nom: float = 0.8,
) -> LUT:
    """A SYNTHETIC ``wht_column`` LUT (no SPICE behind it): for tests and quick checks only.

    Same contract as the recipe's (``charz characterize wht_column``): a *ternary* LUT (default) has
    the latch pair (tables ``upper``, ``lower``, ``ternary``; per-corner ``thr_pos_*``, ``thr_neg_*``),
    a *sign* LUT (``ternary=False``) the sign latch (``decision``; ``offset_*``). At VDD v (all voltage
    and energy scales ~ v / vdd_nom): ``dv[k+, k-] = g (k+ - k-) (1 - compression (k+ + k-) / (2R))`` with
    g = dv_per_cell; Monte Carlo mean ``dv_mean = dv + mc_shift (k+ + k-) / R`` and sigma
    ``sqrt((k+ + k-) cell_sigma^2 + dv_sigma0^2)`` (no samples: the per-corner sigmas are the model);
    energy parts: precharge ``c_bl v (swing+ + swing-)`` with a bitline swing of g per pulling cell,
    rows ``e_row (k+ + k-) (v / vdd_nom)^2``, latch and clock constants x (v / vdd_nom)^2. The nominal
    latch tables are the noiseless latches on ``dv`` with the mean offset / thresholds, and
    ``p_wrong_sign`` / ``p_wrong_ternary`` the probabilities of the same Gaussian model (dV shared by
    the two latches). Its provenance says ``pdk: synthetic``.
    """
    from scipy.stats import norm

    r = check_rows(n_rows)
    vdd_v = np.asarray(sorted(vdd), dtype=float)
    temp_v = np.asarray(sorted(temp), dtype=float)
    tp_v = np.asarray(sorted(t_pulse), dtype=float)
    k = np.arange(r + 1, dtype=float)
    kp, kn = np.meshgrid(k, k, indexing="ij")
    tri = kp + kn <= r
    shape = (vdd_v.size, temp_v.size, tp_v.size, r + 1, r + 1)
    f = (vdd_v / vdd_nom)[:, None, None, None, None] * np.ones(shape)
    g = dv_per_cell * f
    nan = np.where(tri, 1.0, np.nan)
    dv = g * (kp - kn) * (1 - compression * (kp + kn) / (2 * r)) * nan
    vdd5 = vdd_v[:, None, None, None, None] * np.ones(shape)
    e_pre = c_bl * vdd5 * g * (kp + kn) * nan
    e_rows = e_row * (kp + kn) * f**2 * nan
    e_lat = e_latch * f**2 * nan
    e_clk = e_clock * f**2 * nan
    energy = e_pre + e_rows + e_lat + e_clk
    tables = {"dv": dv, "vblp": (vdd5 - g * kp) * nan, "vbln": (vdd5 - g * kn) * nan, "energy": energy,
              "energy_precharge": e_pre, "energy_rows": e_rows, "energy_latch": e_lat, "energy_clock": e_clk}
    sc = {"cell_sigma": cell_sigma * f, "dv_sigma0": dv_sigma0 * f, "dv_per_cell": g}
    if ternary:
        sc.update({"thr_pos_mean": thr_pos_mean * f, "thr_pos_sigma": thr_pos_sigma * f,
                   "thr_neg_mean": thr_neg_mean * f, "thr_neg_sigma": thr_neg_sigma * f})
        upper = np.where(dv > sc["thr_pos_mean"], 1.0, -1.0) * nan
        lower = np.where(dv > sc["thr_neg_mean"], 1.0, -1.0) * nan
        tables.update({"upper": upper, "lower": lower,
                       "ternary": np.where(upper > 0, 1.0, np.where(lower < 0, -1.0, 0.0)) * nan})
    else:
        sc.update({"offset_mean": offset_mean * f, "offset_sigma": offset_sigma * f})
        tables["decision"] = np.where(dv > sc["offset_mean"], 1.0, -1.0) * nan
    per_corner = [n for n in PER_CORNER if n in sc]
    if not monte_carlo:  # a nominal LUT: zero sigmas, as the recipe writes them
        for n in per_corner:
            if n.endswith("sigma") or n == "dv_sigma0":
                sc[n] = 0.0 * f
    tables.update({n: sc[n] for n in per_corner})
    units = {n: "V" for n in tables}
    units.update({n: "J" for n in ("energy",) + ENERGY_PARTS})
    units.update({n: "1" for n in ("upper", "lower", "ternary", "decision") if n in tables})
    if monte_carlo:
        mu = dv + mc_shift * f * (kp + kn) / r
        sd = np.sqrt((kp + kn) * sc["cell_sigma"] ** 2 + sc["dv_sigma0"] ** 2) * nan
        tables.update({"dv_mean": mu, "dv_sigma": sd, "energy_mean": energy.copy()})
        units.update({"dv_mean": "V", "dv_sigma": "V", "energy_mean": "J"})
        d = np.broadcast_to(kp - kn, shape)
        if ternary:
            tables["p_wrong_ternary"] = np.where(
                tri, p_wrong_ternary(np.nan_to_num(mu), np.nan_to_num(sd), sc["thr_pos_mean"], sc["thr_pos_sigma"],
                                     sc["thr_neg_mean"], sc["thr_neg_sigma"], np.sign(d)), np.nan)
            units["p_wrong_ternary"] = "1"
        else:
            p_up = norm.sf((sc["offset_mean"] - mu) / np.maximum(np.sqrt(sd**2 + sc["offset_sigma"] ** 2), 1e-30))
            tables["p_wrong_sign"] = np.where(d > 0, 1 - p_up, np.where(d < 0, p_up, np.nan)) * nan
            units["p_wrong_sign"] = "1"
    params = {"n_rows": r, "dv_per_cell": dv_per_cell, "compression": compression, "ternary": bool(ternary),
              "cell_sigma": cell_sigma, "dv_sigma0": dv_sigma0, "mc_shift": mc_shift, "c_bl": c_bl,
              "e_row": e_row, "e_latch": e_latch, "e_clock": e_clock}
    params.update({"thr_pos_mean": thr_pos_mean, "thr_pos_sigma": thr_pos_sigma, "thr_neg_mean": thr_neg_mean,
                   "thr_neg_sigma": thr_neg_sigma} if ternary else
                  {"offset_mean": offset_mean, "offset_sigma": offset_sigma})
    return LUT(
        block=BLOCK,
        axes=(Axis("vdd", "V", vdd_v), Axis("temp", "degC", temp_v), Axis("t_pulse", "s", tp_v),
              Axis("kp", "cells", k, discrete=True), Axis("kn", "cells", k, discrete=True)),
        tables=tables, units=units,
        conditions={"n_rows": r, "n_cols": r, "ternary": bool(ternary), "order": order, "per_corner": per_corner,
                    "cycle_s": 5.4e-10},
        provenance={
            "pdk": "synthetic", "synthetic": True, "generator": "charz.blocks.wht.model_lut.synthetic_wht_lut",
            "note": "SYNTHETIC wht_column LUT (no SPICE): for tests only, never for circuit figures",
            "parameters": params, "vdd_nom": float(vdd_nom), "mc_samples": 0,
        },
    )


def p_wrong_ternary(mu, sd, thr_pos_mean, thr_pos_sigma, thr_neg_mean, thr_neg_sigma, d, nodes: int = 96):
    """P(ternary result != sign(d)) of the latch pair (arrays broadcast): dV ~ N(mu, sd) shared by the
    upper latch (threshold ~ N(thr_pos_mean, thr_pos_sigma): +1 above it) and the lower latch
    (~ N(thr_neg_mean, thr_neg_sigma): -1 below it when the upper latch did not fire), thresholds
    independent; d = 0 asks P(result != 0). Gauss-Hermite quadrature over dV (exact when sd = 0)."""
    from scipy.stats import norm

    def cdf(x, m, s):
        s = np.asarray(s, dtype=float)
        return np.where(s > 0, norm.cdf((x - m) / np.where(s > 0, s, 1.0)), (x > m) * 1.0)

    z, w = np.polynomial.hermite_e.hermegauss(nodes)  # weight exp(-z^2 / 2)
    w = w / np.sqrt(2 * np.pi)
    mu, sd, tp, tps, tn, tns, d = (np.asarray(v, dtype=float)[..., None] for v in
                                   (mu, sd, thr_pos_mean, thr_pos_sigma, thr_neg_mean, thr_neg_sigma, d))
    v = mu + sd * z
    p_plus = cdf(v, tp, tps)
    p_minus = (1 - p_plus) * (1 - cdf(v, tn, tns))
    want = np.where(d > 0, p_plus, np.where(d < 0, p_minus, 1 - p_plus - p_minus))
    return 1 - np.sum(want * w, axis=-1)


def predicted_wrong(dv_mean: np.ndarray, kp: np.ndarray, kn: np.ndarray, fit: dict, ternary: bool) -> np.ndarray:
    """Wrong-decision probability per pair of the fitted Gaussian model (what the behavioural layer
    draws): dv ~ N(dv_mean, m cell_sigma^2 + dv_sigma0^2) with m = k+ + k-; sign mode: offset ~
    N(offset_mean, offset_sigma); ternary: upper / lower thresholds ~ N(thr_*_mean, thr_*_sigma)
    (the two latches' thresholds independent; dv shared, treated as independent here)."""
    from scipy.special import ndtr

    m = kp + kn
    s_dv2 = m * fit["cell_sigma"] ** 2 + fit["dv_sigma0"] ** 2
    d = np.sign(kp - kn)
    if not ternary:
        p_pos = ndtr((dv_mean - fit["offset_mean"]) / np.sqrt(s_dv2 + fit["offset_sigma"] ** 2))
        return np.where(d > 0, 1 - p_pos, np.where(d < 0, p_pos, np.nan))
    p_plus = ndtr((dv_mean - fit["thr_pos_mean"]) / np.sqrt(s_dv2 + fit["thr_pos_sigma"] ** 2))
    p_minus = (1 - p_plus) * ndtr((fit["thr_neg_mean"] - dv_mean) / np.sqrt(s_dv2 + fit["thr_neg_sigma"] ** 2))
    p_zero = 1 - p_plus - p_minus
    return np.where(d > 0, 1 - p_plus, np.where(d < 0, 1 - p_minus, 1 - p_zero))


# ---- helpers ----------------------------------------------------------------------------------------
def _on_grid(ax: Axis, x: float) -> None:
    v = ax.values
    tol = 1e-9 * max(abs(x), float(np.max(np.abs(v))))
    if v.size < 2:
        if not np.any(np.abs(v - x) <= tol):
            raise LUTError(f"{ax.name}={x:g} {ax.unit} is not on the {BLOCK} LUT grid {v.tolist()}: use that value "
                           f"or re-characterize at {ax.name}={x:g}")
    elif not (v[0] - tol <= x <= v[-1] + tol):
        raise LUTError(f"{ax.name}={x:g} {ax.unit} is outside the {BLOCK} LUT range [{v[0]:g}, {v[-1]:g}]: "
                       f"choose a value inside it or re-characterize with a wider {ax.name} grid")


def _margin(lut: LUT, point: dict, r: int) -> float:
    """Worst-case decision margin over the pairs with k+ != k- (in sigmas if the LUT has them, else V):
    |dv - level| with level = the sign latch's offset, or the nearer ternary threshold."""
    def val(name, default=0.0):
        return lut.value(name, **point, kp=0, kn=0) if name in lut.tables else default

    try:
        dv = np.asarray(lut.slice("dv_mean" if "dv_mean" in lut.tables else "dv", **point), dtype=float)
        if "offset_mean" in lut.tables:
            up = lo = val("offset_mean")
            s_up = s_lo = val("offset_sigma")
        else:
            up, lo = val("thr_pos_mean"), val("thr_neg_mean")
            s_up, s_lo = val("thr_pos_sigma"), val("thr_neg_sigma")
        cs, s0 = val("cell_sigma"), val("dv_sigma0")
    except CharzError:
        return float("nan")
    kp, kn = np.meshgrid(np.arange(r + 1), np.arange(r + 1), indexing="ij")
    sel = (kp + kn <= r) & (kp != kn)
    pos = (kp > kn)[sel]
    x = dv[sel]
    m = np.where(pos, x - up, lo - x)
    sig = np.sqrt(np.where(pos, s_up, s_lo) ** 2 + (kp + kn)[sel] * cs**2 + s0**2)
    if np.all(sig > 0):
        m = m / sig
    return float(np.min(m)) if np.all(np.isfinite(m)) else float("nan")
