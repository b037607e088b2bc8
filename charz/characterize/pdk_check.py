"""`charz pdk verify`: simulate each card's inverter and Id-Vgs end points, and extract Vth.

The test benches repeat those of ../shared/pdk_models/SOURCES.md (L = node, Wn = 4L, Wp = 8L,
CL = 1 fF, nominal VDD, 27 degC; Ion/Ioff of a 1 um device at |Vds| = VDD), so the printed numbers can
be compared with its summary table.
"""

from __future__ import annotations

import numpy as np

from ..netlist.device import idvg_netlist, inverter_netlist
from ..core.pdk import PDK
from .common import run_points


def crossing(t: np.ndarray, v: np.ndarray, level: float, rising: bool, after: float = 0.0) -> float:
    """First time after *after* at which *v* crosses *level* in the given direction (linear interpolation)."""
    m = t >= after
    t, v = t[m], v[m]
    s = v - level
    idx = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0)) if rising else np.flatnonzero((s[:-1] > 0) & (s[1:] <= 0))
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    return float(t[i] + (t[i + 1] - t[i]) * (level - v[i]) / (v[i + 1] - v[i]))


def vth_constant_current(vgs: np.ndarray, id_abs: np.ndarray, w: float, l: float, i0: float = 100e-9) -> float:
    """Constant-current threshold: |Vgs| at which |Id| = i0 * W / L (log-linear interpolation)."""
    target = i0 * w / l
    logi = np.log(np.maximum(id_abs, 1e-30))
    order = np.argsort(vgs)
    vgs, logi = vgs[order], logi[order]
    return float(np.interp(np.log(target), logi, vgs))


def measure_inverter(run: dict, vdd: float) -> dict:
    """Propagation delays of an inverter run at *vdd*, at the VDD / 2 crossings [s]: ``tphl`` (input rising to
    output falling), ``tplh`` (input falling to output rising) and their mean ``tpd``."""
    t, vin, vout = run["time"], run["v(in)"], run["v(out)"]
    t_in_r = crossing(t, vin, vdd / 2, True)
    t_out_f = crossing(t, vout, vdd / 2, False, after=t_in_r - 1e-12)
    t_in_f = crossing(t, vin, vdd / 2, False, after=t_in_r + 1e-12)
    t_out_r = crossing(t, vout, vdd / 2, True, after=t_in_f - 1e-12)
    tphl, tplh = t_out_f - t_in_r, t_out_r - t_in_f
    return {"tphl": tphl, "tplh": tplh, "tpd": (tphl + tplh) / 2}


def verify(pdks: list[PDK], executor=None, use_cache: bool = True, progress: bool = True) -> list[dict]:
    """``charz pdk verify``: for every PDK simulate an inverter and NMOS / PMOS Id-Vgs sweeps (W = 1 um) at
    nominal VDD; return (one row per PDK, failures). A row holds ``ok`` and, for the runs that succeeded, the
    inverter delays (s), on / off currents per um of width (A) and constant-current thresholds (V)."""
    points = []
    for p in pdks:
        points += [({"pdk": p.name, "tb": "inv"}, inverter_netlist(p)),
                   ({"pdk": p.name, "tb": "n"}, idvg_netlist(p, "n")),
                   ({"pdk": p.name, "tb": "p"}, idvg_netlist(p, "p"))]
    res = run_points(points, recipe="pdk_verify/1", executor=executor, use_cache=use_cache,
                     progress=progress, desc="pdk verify")
    rows = []
    for i, p in enumerate(pdks):
        inv, n, pm = res.nominal[3 * i: 3 * i + 3]
        row = {"pdk": p.name, "vdd": p.vdd_nom, "ok": all(r is not None for r in (inv, n, pm))}
        if inv is not None:
            row.update(measure_inverter(inv, p.vdd_nom))
        w = 1e-6
        if n is not None:
            i_d = np.abs(n["i(vd)"])
            row["ion_n"], row["ioff_n"] = i_d[-1] / 1.0, i_d[0] / 1.0  # per um (W = 1 um)
            row["vth_n"] = vth_constant_current(n["v(g)"], i_d, w, p.lmin)
        if pm is not None:
            i_d = np.abs(pm["i(vd)"])
            vsg = p.vdd_nom - pm["v(g)"]
            row["ion_p"], row["ioff_p"] = i_d[0], i_d[-1]  # v(g) = 0 is |Vgs| = VDD
            row["vth_p"] = vth_constant_current(vsg, i_d, w, p.lmin)
        rows.append(row)
    return rows, res.failures
