"""`charz demo`: the whole flow on one PDK, from ngspice to network accuracy and TOPS/W.

1. characterize the 6T and 8T bitcells and the 16-row bit-plane CiM column in ngspice, nominal and
   Monte Carlo, over a small VDD x temperature grid (results cached: a rerun or a resumed run is fast);
2. fit LUTs (with a SPICE re-run at off-grid points for the fit-quality report) and save them;
3. evaluate the digits MLP with every matrix product on the column model read from that LUT;
4. run the shipped CNNs of the model zoo on real datasets (:data:`ZOO_RUNS`: the CNN on 1,000 Fashion-MNIST
   test images, LeNet-5 on MNIST, ResNet-20 on CIFAR-10) on that same column LUT, each when its dataset is found;
5. print a summary table and write the PNGs.

Everything goes to the demo's own scratch folder (``--out``, default ``out/demo``: LUTs in ``lut/``, PNGs in
``plots/``); each run replaces the previous run's files there (no ``--force`` needed), and never touches the
committed ``lut/``. The closing sections read the default LUTs (converters, WHT crossbar, TD-MAC) from the LUT
search path (:func:`charz.core.lut.find_default`) and are left out when a LUT is not found.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .core import pdk as pdkmod
from .core.errors import LUTError
from .core.lut import ADC_KINDS, find_default
from .sim.executor import make_executor


ZOO_RUNS = (("cnn_fashion", "fashion-mnist", 1000, 2), ("lenet5", "mnist", 1000, 2), ("resnet20", "cifar10", 100, 1))
"""The zoo models the demo evaluates on its own column LUT: (model, dataset, test images, chips). Fashion-MNIST
comes with ``make setup`` (Debian's ``dataset-fashion-mnist``); MNIST and CIFAR-10 are used when found on the
dataset search path (``charz data``). ResNet-20 gets fewer images: about 40 M MACs per image on the column
model."""


def _grid_around(vnom: float) -> list[float]:
    return [round(vnom * f, 3) for f in (6 / 7, 1.0, 8 / 7)]


def _fmt(mean: float, sigma: float | None, scale: float, unit: str) -> str:
    if sigma is None or not np.isfinite(sigma) or sigma == 0:
        return f"{mean * scale:.4g} {unit}"
    return f"{mean * scale:.4g} ± {sigma * scale:.2g} {unit}"


def run_demo(args) -> int:
    """``charz demo``: characterize the bitcells and the CiM column (plus the column at 2x and 4x A_VT),
    evaluate the digits MLP on the column LUT, print the summary and the closing sections, write LUTs and PNGs
    under ``--out``. Returns the exit code: 0, or 4 when simulation points failed (they are NaN in the
    LUTs)."""
    from .blocks import REGISTRY
    from .network import evaluate as ev
    from .plot import network as pn

    pdk = pdkmod.get(args.pdk, args.avt)
    out = Path(args.out)
    lut_dir, png_dir = out / "lut", out / "plots"
    vdds = _grid_around(pdk.vdd_nom)
    temps = [27.0, 85.0]
    ex = make_executor(args.workers, args.scheduler)
    common = dict(mc=args.mc, seed=args.seed, executor=ex, use_cache=not args.no_cache, progress=not args.quiet)
    t_start = time.time()
    luts = {}
    pngs: list[Path] = []
    failed = []
    try:
        for block, extra in (("bitcell6t", {}), ("bitcell8t", {}), ("cim_column", {"temp": [27.0]})):
            t0 = time.time()
            kw = dict(common, vdd=vdds, temp=extra.get("temp", temps))
            print(f"[{block}] characterizing on {pdk.name}: VDD {vdds} V, T {kw['temp']} degC, "
                  f"{args.mc} Monte Carlo samples per point ...", flush=True)
            lut = REGISTRY.characterize(block, pdk, **kw)
            lut.save(lut_dir / block)
            luts[block] = lut
            failed += lut.provenance.get("failed_points") or []
            pngs += REGISTRY.make_plots(lut, png_dir, block)
            print(f"[{block}] done in {time.time() - t0:.0f} s -> {lut_dir / block}.json", flush=True)
        # the same column re-characterized at 2x and 4x A_VT: measured accuracy-vs-variation points
        avt_luts = [luts["cim_column"]]
        mc_avt = min(args.mc, 30)
        for factor in (2, 4):
            t0 = time.time()
            p2 = pdkmod.get(args.pdk, factor * pdk.avt_mv_um)
            print(f"[cim_column x{factor} A_VT] {p2.avt_mv_um:g} mV*um at {pdk.vdd_nom:g} V, 27 degC, "
                  f"{mc_avt} samples ...", flush=True)
            lut = REGISTRY.characterize("cim_column", p2, **dict(common, mc=mc_avt, vdd=[pdk.vdd_nom], temp=[27.0],
                                                        fit_check=False))
            lut.save(lut_dir / f"cim_column_avt{factor}x")
            failed += lut.provenance.get("failed_points") or []
            avt_luts.append(lut)
            print(f"[cim_column x{factor} A_VT] done in {time.time() - t0:.0f} s", flush=True)
    finally:
        ex.close()

    col = luts["cim_column"]
    print("[network] evaluating the digits MLP on the CiM column LUTs ...", flush=True)
    res = ev.evaluate(col, vdd=pdk.vdd_nom, mismatch_scale=1.0, chips=8, seed=args.seed)
    sweep = ev.accuracy_vs_mismatch(col, vdd=pdk.vdd_nom, scales=[0, 1, 2, 4], chips=8, seed=args.seed)
    measured = ev.accuracy_vs_avt(avt_luts, vdd=pdk.vdd_nom, chips=8, seed=args.seed)
    pn.plot_accuracy_vs_mismatch(sweep, png_dir / "accuracy_vs_mismatch.png", measured=measured)
    pn.plot_energy_breakdown(res, png_dir / "energy_breakdown.png")
    pngs += [png_dir / "accuracy_vs_mismatch.png", png_dir / "energy_breakdown.png"]

    print()
    print(summary_table(pdk, luts, res))
    print("\nAccuracy vs mismatch (CiM, mean ± std over 8 chips):")
    print(f"  {'A_VT mV*um':>11} {'one LUT x scale':>18} {'LUT re-characterized':>22}")
    for i, sc in enumerate(sweep["scales"]):
        meas = ""
        near = [j for j, m in enumerate(measured["scales"]) if abs(m - sc) < 1e-6]
        if near:
            j = near[0]
            meas = f"{100 * measured['cim_mean'][j]:.2f} ± {100 * measured['cim_std'][j]:.2f} %"
        print(f"  {sc * pdk.avt_mv_um:>11.2f} {100 * sweep['cim_mean'][i]:>11.2f} ± {100 * sweep['cim_std'][i]:.2f} %"
              f" {meas:>22}")
    adc = _converter_readout(ev, col, pdk, args.seed)
    if adc:
        print(adc)
    wht = _wht_readout(pdk, args.seed)
    if wht:
        print(wht)
    td = _td_readout(pdk, args.seed)
    if td:
        print(td)
    text, net_pngs = _zoo_readout(lut_dir / "cim_column", pdk, args.seed, out / "networks",
                                  os.cpu_count() if args.workers is None else args.workers)
    print(text)
    pngs += net_pngs
    print(f"\nLUTs: {lut_dir}/   PNGs ({len(pngs)}):")
    for p in pngs:
        print(f"  {p}")
    print(f"total time {time.time() - t_start:.0f} s (rerun: cached simulations are not repeated)")
    if failed:
        print(f"\n{len(failed)} simulation point(s) failed and are NaN in the LUTs:")
        for f in failed[:10]:
            print(f"  - {f}")
        return 4
    return 0


def _default(pdk, name: str) -> Path | None:
    """The default LUT *name* of this PDK on the LUT search path, None when there is none."""
    try:
        return find_default(pdk.name, name)
    except LUTError:
        return None


def _converter_readout(ev, col, pdk, seed: int) -> str:
    """The same network read out by the committed 5-bit SPICE converter LUTs of this PDK (LUTs only, no
    simulation; `make luts-adc` makes them), beside the ideal quantizer."""
    rows, where = [], set()
    for k in ADC_KINDS:
        p = _default(pdk, f"{k}5")
        if p is not None:
            where.add(str(p.parent))
            r = ev.evaluate(col, vdd=pdk.vdd_nom, adc_lut=str(p), chips=4, seed=seed)
            rows.append(f"  {k:<11} {100 * r['cim_accuracy_mean']:6.2f} ± {100 * r['cim_accuracy_std']:.2f} % "
                        f"{r['energy_per_inference_J'] * 1e12:9.2f} pJ ({r['adc_energy_per_inference_J'] * 1e12:7.2f} pJ "
                        f"converters) {r['tops_per_watt']:8.1f} TOPS/W {r['inferences_per_s']:10.3g} inf/s "
                        f"({r['timing']['scheme']})")
    if not rows:
        return ""
    return ("\nRead-out by SPICE-characterized 5-bit converters (LUTs in " + ", ".join(sorted(where))
            + ", 4 chips; energy and TOPS/W include the converters):\n" + "\n".join(rows))


def _wht_readout(pdk, seed: int) -> str:
    """The frequency-domain digits network on the committed WHT crossbar LUT of this PDK (LUT only, no
    simulation; `make luts-wht` makes it)."""
    p = _default(pdk, "wht16")
    if p is None:
        return ""
    from .network import wht as nw

    r = nw.evaluate_wht(str(p), chips=3, seed=seed)
    op = r["operating_point"]
    return (f"\nSigned-bit WHT crossbars (LUT {p}, {op['vdd']:g} V, 3 chips): digits "
            f"WHT network ideal {100 * r['ideal_accuracy']:.2f} %, CiM {100 * r['cim_accuracy_mean']:.2f} % "
            f"[{100 * r['cim_accuracy_min']:.2f}..{100 * r['cim_accuracy_max']:.2f}], "
            f"{r['energy_per_inference_et_J'] * 1e12:.2f} pJ, {r['tops_per_watt_no_et']:.1f} TOPS/W "
            f"({r['tops_per_watt_et']:.1f} with early termination; published 1602 / 5311): `charz eval --network wht`")


def summary_table(pdk, luts: dict, res: dict) -> str:
    """The demo's summary as text: bitcell metrics (6T vs 8T, mean ± sigma at nominal VDD and 27 degC), the
    CiM column's bitline voltages, energy and Monte Carlo sigma, and the network result."""
    from .network import evaluate as ev

    vn, tn = pdk.vdd_nom, 27.0
    lines = [f"charz demo summary — {pdk.name}, VDD {vn:g} V, {tn:g} degC, A_VT {pdk.avt_mv_um:g} mV*um (assumed)"]
    lines.append("-" * len(lines[0]))
    rows = [("hold SNM", "hold_snm", 1e3, "mV"), ("read SNM", "read_snm", 1e3, "mV"),
            ("write margin", "write_margin", 1e3, "mV"), ("read current", "i_read", 1e6, "uA"),
            ("leakage / cell", "i_leak", 1e9, "nA"), ("read energy", "e_read", 1e15, "fJ")]
    lines.append(f"{'bitcell metric':<18}{'6T':>26}{'8T':>26}")
    for label, key, scale, unit in rows:
        cells = []
        for b in ("bitcell6t", "bitcell8t"):
            lut = luts[b]
            m = lut.value(key, vdd=vn, temp=tn)
            s = lut.value(f"{key}_sigma", vdd=vn, temp=tn) if f"{key}_sigma" in lut.tables else None
            cells.append(_fmt(m, s, scale, unit))
        lines.append(f"{label:<18}{cells[0]:>26}{cells[1]:>26}")
    col = luts["cim_column"]
    n = int(col.conditions.get("n_rows", col.axis("k").values[-1]))
    tp = col.axis("t_pulse").values[0]
    v = col.slice("vbl", vdd=vn, temp=tn, t_pulse=tp)
    e = col.slice("energy", vdd=vn, temp=tn, t_pulse=tp)
    lines.append("")
    lines.append(f"CiM column ({n} x 8T, pulse {tp * 1e12:g} ps): V_BL(k=0) {v[0] * 1e3:.0f} mV, "
                 f"V_BL(k={n}) {v[-1] * 1e3:.0f} mV, energy/evaluation {e[0] * 1e15:.2f}..{e[-1] * 1e15:.2f} fJ")
    if "vbl_sigma" in col.tables:
        sg = col.slice("vbl_sigma", vdd=vn, temp=tn, t_pulse=tp)
        lines.append(f"  Monte Carlo sigma(V_BL): k=1 {sg[1] * 1e3:.1f} mV, k={n // 2} {sg[n // 2] * 1e3:.1f} mV, "
                     f"k={n} {sg[-1] * 1e3:.1f} mV")
    lines.append("")
    lines.append(ev.format_result(res))
    return "\n".join(lines)


def _td_readout(pdk, seed: int) -> str:
    """The digits MLP with every product on the time-domain FP8 MAC from the committed td_* LUTs of this PDK
    (LUTs only, no simulation; `make luts-td` makes them), at the PDK's nominal VDD."""
    from .blocks.td_mac.model import model_from_luts
    from .blocks.td_mac.model_circuit import DEFAULT_LUTS
    from .network import td_mac as nt

    paths = {k: _default(pdk, n) for k, n in DEFAULT_LUTS.items()}
    if None in paths.values():
        return ""
    chips = [model_from_luts(**paths, pdk=pdk.name, seed=seed + i) for i in range(3)]
    r = nt.evaluate_td(chips)
    c = chips[0].circuit.source
    return (f"\nTime-domain FP8 MAC (LUTs {paths['delay'].parent}/td_*, {c['vdd']:g} V, E4M3, L = 16, 3 chips): digits "
            f"MLP FP32 {100 * r['fp32_accuracy']:.2f} %, exact FP8 {100 * r['fp8_exact_accuracy']:.2f} %, ideal circuit "
            f"{100 * r['td_ideal_accuracy']:.2f} %, this circuit {100 * r['td_accuracy_mean']:.2f} % "
            f"[{100 * r['td_accuracy_min']:.2f}..{100 * r['td_accuracy_max']:.2f}], "
            f"{r['energy_per_inference_J'] * 1e12:.1f} pJ, {r['tops_per_watt']:.1f} TOPS/W (published 22.1): "
            f"`charz eval --network td_mac`")


def _zoo_readout(lut_path: Path, pdk, seed: int, out: Path, workers: int | None) -> tuple[str, list[Path]]:
    """The shipped zoo models of :data:`ZOO_RUNS` on the column LUT at *lut_path* (the one the demo just
    characterized), every weight layer on the ``cim`` backend but the first and last (digital), the LUT's
    5-bit ideal quantizer, at the PDK's nominal VDD; each model whose ONNX file or dataset is missing is
    named and skipped. Results (result.json / .md / .txt and the energy-per-layer PNG) go to *out*/MODEL.
    Returns the text and the PNGs written."""
    from .core.errors import DataError
    from .core.validate import max_workers
    from .datasets import load
    from .network import mapping as mp
    from .network.backends import DIGITAL_MAC_ENERGY_J
    from .network.engine import evaluate_model
    from .network.model_report import write
    from .network.zoo import MODELS_DIR

    rows, skipped, pngs = [], [], []
    mapping = mp.default_mapping("cim", "digital", lut=str(lut_path), vdd=pdk.vdd_nom)
    for name, dataset, n_images, chips in ZOO_RUNS:
        onnx_file = MODELS_DIR / f"{name}.onnx"
        if not onnx_file.is_file():
            skipped.append(f"{name} (not trained: `charz train --model {name}`)")
            continue
        try:
            data = load(dataset, "test", limit=n_images)
        except DataError:
            skipped.append(f"{name} ({dataset} not found: `charz data` shows the search path)")
            continue
        t0 = time.time()
        print(f"[network] {name} on {len(data.labels)} {data.description} test images, {chips} chip(s), "
              f"column LUT {lut_path} ...", flush=True)
        r = evaluate_model(str(onnx_file), data.images, data.labels, mapping, chips=chips, seed=seed,
                           workers=min(chips, max(0, workers or 0), max_workers()) or None)
        title = f"{name} on {data.description} (test), backend cim, demo column LUT"
        written = write(r, out / name, title)
        pngs += [p for p in written if p.suffix == ".png"]
        tops = f"{r['tops_per_watt']:8.1f}" if r["tops_per_watt"] else "     n/a"
        chip_acc = (f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} %" if chips > 1 else
                    f"{100 * r['accuracy_mean']:.2f} % (1 chip)")
        rows.append(f"  {name:<12} {data.description[:22]:<22} {r['n_images']:>6} {100 * r['float_accuracy']:7.2f} % "
                    f"{100 * r['ideal_accuracy']:7.2f} % {chip_acc:>18} "
                    f"{r['energy_per_inference_J'] * 1e9:9.2f} nJ {tops} TOPS/W  ({time.time() - t0:.0f} s)")
    lines = [f"\nShipped CNNs on this demo's column LUT ({pdk.vdd_nom:g} V, 5-bit ideal quantizer, first and last "
             f"layer digital at an assumed {DIGITAL_MAC_ENERGY_J * 1e12:g} pJ/MAC; results in {out}/MODEL/):",
             f"  {'model':<12} {'dataset':<22} {'images':>6} {'float':>9} {'ideal':>9} {'chips (mean ± std)':>18} "
             f"{'energy/inf':>12} {'':>8}"]
    lines += rows or ["  (none run)"]
    if skipped:
        lines.append("  skipped: " + "; ".join(skipped))
    return "\n".join(lines), pngs
