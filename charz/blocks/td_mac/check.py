"""Check the behavioural time-domain FP8 MAC against SPICE: complete L-element scalar products.

For random FP8 vectors (:func:`charz.blocks.td_mac.model_study.random_vectors`, ``"normal"``: a, b ~ N(0, 1)
rounded to the format), one scalar product per clock cycle:

1. **Time path in ngspice** (:func:`charz.blocks.td_mac.netlist_tdc.mac_time_netlist`, transistor level): every
   element's two exponent delay lines in series, the latest-of-L detector and the STOP clock driver,
   every element's TDC (its exponent difference to the shared scale) and the shared-scale TDC from the
   reference pair at code 0; TDC bias = the TDC LUT's calibrated ``vbn_t`` and start-cell bias its
   offset trim ``start_vbn`` at the corner. Read: the
   thermometer codes d_i and E_read at the end of each cycle, the energy per cycle.
2. **Alignment** (digital, in Python: the multiplier, shifter and sign logic are ideal logic):
   q_i = floor(Ma_i Mb_i 2^G / 2^d_i) from the *SPICE* codes (d_i = window: dropped).
3. **Accumulation in ngspice** (:func:`charz.blocks.td_mac.netlist_acc.acc_netlist`): the signed q_i onto the
   capacitor arrays of the line pair; read V_P - V_N and the energy.
4. **Read-out**: the model's converter (the ``adc`` LUT's nominal instance) on the SPICE voltage, and the
   output float from the SPICE E_read (:meth:`TdMacModel.read_out`).

The behavioural model (:func:`charz.blocks.td_mac.model.model_from_luts`, nominal: mismatch scale 0) runs
the same vectors. Reported: agreement of every d_i and E_read (SPICE vs model), the error distribution
of y_SPICE and y_model against the exact FP8 result (relative to the RMS of the exact results, and
per vector relative to |exact|), |y_SPICE - y_model|, and the energy per scalar product (SPICE time +
accumulation decks + converter LUT vs the model's).
"""

from __future__ import annotations

import time

import numpy as np

from ...behavior import fp8
from .model import model_from_luts
from .model_study import random_vectors
from ...core.errors import ParameterError
from .netlist import timeline
from .netlist_acc import AccParams, acc_netlist
from .netlist_tdc import MacTimeParams, mac_time_netlist
from ...core.pdk import get
from ...sim.executor import Executor, owned
from ...core.validate import posint
from ...characterize.common import integral, run_points
from .recipe import acc_measure
from .recipe_delay import _cross

CHECK_RECIPE = "td_mac_check/1"


def time_codes(run: dict, prm: MacTimeParams, n: int) -> dict[str, np.ndarray]:
    """Per cycle: element-TDC codes d (n, L), E_read (n,), the arrival times (n, L) relative to the
    launch edge [s], STOP - last arrival [s] and the energy per cycle [J]."""
    lp = prm.line()
    tl = timeline(lp, n)
    t = np.asarray(run["time"], dtype=float)
    h = lp.vdd / 2
    L, W = prm.length, prm.window
    d = np.zeros((n, L), np.int64)
    e_read = np.zeros(n, np.int64)
    arr = np.full((n, L), np.nan)
    stop = np.full(n, np.nan)
    energy = np.full(n, np.nan)
    go = np.asarray(run["v(go)"], dtype=float)
    idd = np.asarray(run["i(vdd)"], dtype=float)
    for c in range(n):
        r, f = tl.rise[c], tl.fall[c]
        end = r + tl.period - 0.3 * (f - r)  # after this cycle's STOP, before the next cycle's codes change
        t0 = _cross(t, go, r - 1e-13, f, h, True)
        for i in range(L):
            arr[c, i] = _cross(t, np.asarray(run[f"v(arr_{i})"], dtype=float), r, f, h, True) - t0
            d[c, i] = sum(float(np.interp(end, t, np.asarray(run[f"v(e{i}_q_{k})"], dtype=float))) > h for k in range(W))
        e_read[c] = sum(float(np.interp(end, t, np.asarray(run[f"v(s_q_{k})"], dtype=float))) > h
                        for k in range(prm.scale_taps))
        stop[c] = _cross(t, np.asarray(run["v(clk)"], dtype=float), r, f, h, True) - t0 - np.nanmax(arr[c])
        q = tl.change[c]
        energy[c] = -integral(t, idd, q, q + tl.period) * lp.vdd
    return {"d": d, "e_read": e_read, "arrivals": arr, "stop": stop, "energy": energy}


def check_td_mac(delay=None, tdc=None, acc=None, adc=None, pdk: str = "ptm16hp", vdd: float | None = None,
                 temp: float | None = None, length: int = 16, vectors: int = 4, seed: int = 0, fmt: str = "e4m3",
                 guard: int = 2, fullscale: float | None = None, cycles_per_deck: int = 2,
                 executor: Executor | None = None, use_cache: bool = True, progress: bool = True) -> dict:
    """Simulate ``vectors`` complete L-element scalar products in ngspice and compare them with the
    behavioural model (module doc). Returns a dict (see :func:`format_check`)."""
    p = get(pdk)
    vectors = posint(vectors, "vectors", 256)
    cycles_per_deck = posint(cycles_per_deck, "cycles_per_deck", 64)
    f = fp8.get_format(fmt)
    model = model_from_luts(delay, tdc, acc, adc, vdd=vdd, temp=temp, fmt=f, pdk=p.name, length=length, guard=guard,
                            fullscale=fullscale, exp_mismatch=0.0, man_mismatch=0.0, units=1, seed=seed)
    src = model.circuit.source
    v, tc = float(src["vdd"]), float(src["temp"])
    from ...core.lut import LUT, Kind

    tl = LUT.load(src["tdc"], block=Kind.TD_TDC) if src.get("tdc") else None
    if tl is None:
        raise ParameterError("the check needs the TDC LUT on disk (its calibrated bias)")
    vbn_t = float(tl.value("vbn_t", vdd=v, temp=tc, tap=1))
    start_vbn = float(tl.value("start_vbn", vdd=v, temp=tc, tap=1)) if "start_vbn" in tl.tables else None
    start_cells = int(tl.conditions.get("start_cells", 1))
    W = int(tl.conditions["window"])
    a, b = random_vectors(vectors, length, f, "normal", seed)
    sa, ea, ma = fp8.fields(a, f)
    sb, eb, mb = fp8.fields(b, f)
    tau = float(src["tau_s"])
    d_max = float(model.circuit.delay_mean[-1]) * tau
    d0 = 0.0
    t_high = round(max(1.3 * (2 * d_max + 2 * d0 + 400e-12) + (W + 2) * tau + float(src["stop_delay_s"]), 0.6e-9), 11)
    mprm = MacTimeParams(pdk=p.name, ebits=f.ebits, length=length, window=W, vdd=v, temp=tc, tdc_vbn=vbn_t,
                         start_vbn=start_vbn, start_cells=start_cells, t_high=t_high)
    decks = [(s, min(vectors, s + cycles_per_deck)) for s in range(0, vectors, cycles_per_deck)]
    t0 = time.time()
    with owned(executor) as ex:
        rt = run_points([({"deck": k, "vdd": v, "temp": tc}, mac_time_netlist(mprm, ea[s:e], eb[s:e], p))
                         for k, (s, e) in enumerate(decks)], None, recipe=CHECK_RECIPE, executor=ex,
                        use_cache=use_cache, progress=progress, desc=f"TD-MAC time path (L={length})", timeout=3600.0)
        d = np.full((vectors, length), -1, np.int64)
        e_read = np.full(vectors, -1, np.int64)
        e_time = np.full(vectors, np.nan)
        arr = np.full((vectors, length), np.nan)
        stop = np.full(vectors, np.nan)
        for (s, e), run in zip(decks, rt.nominal):
            if run is None:
                continue
            m = time_codes(run, mprm, e - s)
            d[s:e], e_read[s:e], e_time[s:e], arr[s:e], stop[s:e] = m["d"], m["e_read"], m["energy"], m["arrivals"], m["stop"]
        ok = np.all(d >= 0, axis=1) & (e_read >= 0)
        G = model.guard
        p_prod = ma * mb
        q = np.where(d >= W, 0, (p_prod << G) >> np.minimum(d, 62))
        sv = np.where((sa ^ sb).astype(bool), -q, q)
        aprm = AccParams(pdk=p.name, length=length, bits=model.nb, vdd=v, temp=tc)
        ra = run_points([({"deck": "acc", "vdd": v, "temp": tc}, acc_netlist(aprm, sv[ok], p))] if ok.any() else [],
                        None, recipe=CHECK_RECIPE, executor=ex, use_cache=use_cache, progress=progress,
                        desc="TD-MAC accumulation", timeout=3600.0)
    wall = time.time() - t0
    v_diff = np.full(vectors, np.nan)
    e_acc = np.full(vectors, np.nan)
    if ok.any() and ra.nominal[0] is not None:
        m = acc_measure(ra.nominal[0], aprm, sv[ok])
        v_diff[ok], e_acc[ok] = m["v_diff"], m["energy"]
    got = ok & np.isfinite(v_diff)
    y_spice = np.full(vectors, np.nan)
    y_spice[got] = model.read_out(v_diff[got], e_read[got])
    y_model, det = model.dot(a, b, details=True)
    e_model = det["energy"]
    exact = fp8.exact_dot(a, b, f)
    rms = float(np.sqrt(np.mean(exact ** 2))) or 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_sp = np.abs(y_spice - exact) / np.abs(exact)
        rel_md = np.abs(y_model - exact) / np.abs(exact)
    e_read_conv = float(model.e_conv) if model.adc_bits else 0.0
    return {
        "pdk": p.name, "vdd": v, "temp": tc, "format": f.name, "length": length, "window": W, "guard": G,
        "vectors": vectors, "simulated": int(got.sum()), "seed": seed, "tdc_vbn": vbn_t, "start_vbn": start_vbn,
        "t_high": t_high,
        "converter": model.adc_label, "fullscale": model.fs_fraction,
        "d_agreement": float(np.mean(d[got] == det["d"][got])) if got.any() else float("nan"),
        "d_mismatches": [(int(k), int(i), int(d[k, i]), int(det["d"][k, i])) for k, i in zip(*np.nonzero((d != det["d"]) & got[:, None]))][:20],
        "e_read_agreement": float(np.mean(e_read[got] == det["E_read"][got])) if got.any() else float("nan"),
        "exact": exact.tolist(), "y_spice": y_spice.tolist(), "y_model": y_model.tolist(),
        "rms_exact": rms,
        "err_spice_rms": float(np.sqrt(np.nanmean((y_spice - exact) ** 2)) / rms),
        "err_model_rms": float(np.sqrt(np.nanmean((y_model[got] - exact[got]) ** 2)) / rms) if got.any() else float("nan"),
        "spice_vs_model_rms": float(np.sqrt(np.nanmean((y_spice - y_model) ** 2)) / rms),
        "rel_err_spice": rel_sp.tolist(), "rel_err_model": rel_md.tolist(),
        "v_diff": v_diff.tolist(), "v_model": np.interp(det["V"], *model.circuit.acc_transfer).tolist(),
        "stop_delay_ps": (stop * 1e12).tolist(),
        "arrival_step_ps": float(np.nanmedian(np.diff(np.sort(arr, axis=1), axis=1)[np.diff(np.sort(arr, axis=1), axis=1) > 5e-12]) * 1e12) if np.isfinite(arr).any() else float("nan"),
        "energy_spice": (e_time + e_acc + e_read_conv).tolist(), "energy_time": e_time.tolist(), "energy_acc": e_acc.tolist(),
        "energy_readout": e_read_conv, "energy_model": e_model.tolist(),
        "failures": [fl.message() for r in (rt, ra) for fl in r.failures],
        "analysis_seconds": round(rt.analysis_seconds() + ra.analysis_seconds(), 1), "wall_seconds": round(wall, 1),
    }


def format_check(r: dict) -> str:
    """The result of :func:`check_td_mac` as text: conditions, agreement of exponent differences and shared
    scale, errors against exact FP8 (SPICE and model), energy per scalar product, one line per vector, and any
    mismatches or failures."""
    ex, ys, ym = (np.asarray(r[k], dtype=float) for k in ("exact", "y_spice", "y_model"))
    es, em = np.asarray(r["energy_spice"], dtype=float), np.asarray(r["energy_model"], dtype=float)
    lines = [f"TD-MAC SPICE check: {r['pdk']} {r['vdd']:g} V {r['temp']:g} degC, {r['format']}, L = {r['length']}, "
             f"window {r['window']}, guard {r['guard']}, read-out {r['converter']} (full scale {r['fullscale']:.3g})",
             f"  {r['simulated']}/{r['vectors']} scalar products simulated (time path + accumulation in ngspice; "
             f"{r['analysis_seconds']:.0f} s of ngspice analysis)",
             f"  exponent differences d_i: {100 * r['d_agreement']:.2f} % equal to the model; shared scale E_read: "
             f"{100 * r['e_read_agreement']:.2f} % equal",
             f"  error vs exact FP8 (RMS / RMS(exact)): SPICE {r['err_spice_rms']:.4f}, model {r['err_model_rms']:.4f}; "
             f"SPICE vs model {r['spice_vs_model_rms']:.4f}",
             f"  per-vector |y - exact| / |exact|: SPICE median {np.nanmedian(r['rel_err_spice']):.4f} max "
             f"{np.nanmax(r['rel_err_spice']):.4f}; model median {np.nanmedian(r['rel_err_model']):.4f} max "
             f"{np.nanmax(r['rel_err_model']):.4f}",
             f"  energy per scalar product: SPICE {np.nanmean(es) * 1e12:.3f} pJ (time path {np.nanmean(r['energy_time']) * 1e12:.3f}, "
             f"accumulation {np.nanmean(r['energy_acc']) * 1e12:.3f}, converter LUT {r['energy_readout'] * 1e12:.3f}) vs model "
             f"{np.nanmean(em) * 1e12:.3f} pJ"]
    lines.append("  vector   exact        SPICE        model")
    for k in range(ex.size):
        lines.append(f"  {k:5d}  {ex[k]:+11.5g}  {ys[k]:+11.5g}  {ym[k]:+11.5g}")
    if r["d_mismatches"]:
        lines.append("  d mismatches (vector, element, SPICE, model): " + ", ".join(map(str, r["d_mismatches"])))
    if r["failures"]:
        lines.append("  failures: " + "; ".join(r["failures"]))
    return "\n".join(lines)
