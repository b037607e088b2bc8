"""The Pareto figure of a ``charz explore`` study."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plot.common import plt, save

_SCALE = {"accuracy": (100, "%"), "_J": (1e12, "pJ"), "_s": (1e9, "ns")}


def _scaled(metric: str, values):
    for key, (f, unit) in _SCALE.items():
        if metric.startswith(key) or metric.endswith(key):
            return np.asarray(values, float) * f, f"{metric} [{unit}]"
    return np.asarray(values, float), metric


def plot_pareto(points: list[dict], space, path, title: str = "") -> Path:
    """Every completed point on the first two objectives (one objective: against the point number), the
    Pareto front joined and labelled with its point numbers; a third objective colours the points."""
    objs = space.objectives
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    n = np.array([p["number"] for p in points])
    front = np.array([p["pareto"] for p in points])
    if len(objs) == 1:
        x, xl = n.astype(float), "point"
        y, yl = _scaled(objs[0].metric, [p["objectives"][0] for p in points])
    else:
        x, xl = _scaled(objs[0].metric, [p["objectives"][0] for p in points])
        y, yl = _scaled(objs[1].metric, [p["objectives"][1] for p in points])
    kw = {}
    if len(objs) >= 3:
        c, cl = _scaled(objs[2].metric, [p["objectives"][2] for p in points])
        kw = {"c": c, "cmap": "viridis"}
    sc = ax.scatter(x[~front], y[~front], s=22, alpha=0.55, marker="o", label="point",
                    **({"c": kw["c"][~front], "cmap": kw["cmap"]} if kw else {"color": "0.55"}))
    ax.scatter(x[front], y[front], s=60, marker="*", label="Pareto front", zorder=3,
               **({"c": kw["c"][front], "cmap": kw["cmap"], "edgecolors": "k"} if kw else {"color": "tab:red"}))
    if len(objs) >= 2 and front.any():
        order = np.argsort(x[front])
        ax.plot(x[front][order], y[front][order], color="tab:red", lw=1, alpha=0.7)
    for xi, yi, ni in zip(x[front], y[front], n[front]):
        ax.annotate(str(ni), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if kw:
        fig.colorbar(sc, ax=ax, label=cl)
    arrow = {"maximize": "higher is better", "minimize": "lower is better"}
    ax.set_xlabel(xl + ("" if len(objs) == 1 else f" ({arrow[objs[0].direction]})"))
    ax.set_ylabel(yl + f" ({arrow[objs[-1 if len(objs) == 1 else 1].direction]})")
    ax.set_title((title + "\n" if title else "") + f"{len(points)} points, {int(front.sum())} on the front",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path, tight=True)
