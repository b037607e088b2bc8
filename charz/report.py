"""``charz report digitizers``: the converters of one PDK side by side, from their SPICE LUTs.

What it reads
-------------
Converter LUTs ``<lut_dir>/<pdk>/<kind><bits>.json`` for kind in ``adc_sar``, ``adc_mi_sar``,
``adc_flash``, ``adc_hybrid`` (as written by ``charz characterize <kind> --bits <bits> -o ...``; the
``make luts-adc`` target writes the default set), the comparator LUT ``<lut_dir>/<pdk>/comparator`` and
the column LUT ``<lut_dir>/<pdk>/cim_column`` (network evaluation); without a ``lut_dir``, the first folder of
the LUT search path (:func:`charz.core.lut.lut_search_path`) that holds a converter LUT of that PDK and
resolution (:func:`default_lut_dir`). Nothing is simulated here: every
figure comes from a LUT that a SPICE run wrote (a synthetic LUT is refused). A LUT that is missing is
listed with the command that makes it.

What it writes (``out``)
------------------------
- ``digitizers.md`` and ``digitizers.json``: per converter at ``bits`` (nominal transfer curve: max |DNL|,
  max |INL| endpoint and absolute, missing codes; Monte Carlo: instances, offset sigma, median / worst
  |INL|, instances with missing codes; energy per conversion, conversion time, area from the charz area
  model), the ratios conventional / memory-immersed (area, energy) beside the published 25x / 1.4x
  (SAR) and 51x / 13x (flash), and the reasons ours differ, with the numbers that make them;
- ``transfer_<kind><bits>.png`` (transfer curve, DNL, INL, Monte Carlo instances),
  ``offsets_<pdk>.png`` (offset histograms: comparator Monte Carlo, and per converter instance the mean
  shift of its transitions), ``energy_area_<bits>bit.png`` (energy and area bars, ratios);
- with ``network=True``: the digits MLP on the CiM column with each converter LUT found for 3..6 bits
  (``charz.network.evaluate.evaluate``: accuracy over ``chips`` chips, energy per inference with the
  converters, TOPS/W, inferences/s with the arrays taking turns for the memory-immersed kinds), beside
  the ideal quantizer, in ``network.md`` / ``network.json`` and ``network_<pdk>.png``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .blocks.adc import model_area as area_model
from .blocks.adc.model import DESCRIPTION, DigitizerModel
from .blocks.adc.model_transfer import inl_dnl
from .core.errors import LUTError, ParameterError
from .core.lut import ADC_KINDS, LUT, Kind, lut_files, lut_search_path

KINDS = ADC_KINDS
IDEAL = "ideal quantizer (0 J, 0 s)"
CALIBRATIONS = ("none", "offset")
NETWORK_BITS = (3, 4, 5, 6)


def lut_path(lut_dir, pdk: str, kind: str, bits: int) -> Path:
    """Base path of the *kind* converter LUT of *bits* bits for *pdk* in *lut_dir*: ``lut_dir/pdk/KINDbits``
    (no extension)."""
    return Path(lut_dir) / pdk / f"{kind}{bits}"


def default_lut_dir(pdk: str, bits: int) -> Path:
    """The first folder of the LUT search path holding a converter LUT ``<pdk>/<kind><bits>.json``; a one-line
    LUTError naming the folders searched when none does."""
    dirs = lut_search_path()
    for d in dirs:
        if any(lut_files(lut_path(d, pdk, k, bits))[0].is_file() for k in KINDS):
            return d
    raise LUTError(f"no converter LUT for {pdk} at {bits} bits on the LUT search path "
                   f"({', '.join(str(d) for d in dirs) or 'no folder'}): make them first, e.g. "
                   f"{make_command(pdk, 'adc_sar', bits)}, and give --lut-dir or CHARZ_LUT_PATH")


def make_command(pdk: str, kind: str, bits: int) -> str:
    """The command that makes a missing converter LUT (as `make luts-adc` does for the committed ones)."""
    mc = 8 if kind in (Kind.ADC_SAR, Kind.ADC_FLASH) else 4
    return (f"charz characterize {kind} --pdk {pdk} --bits {bits} --mc {mc} --seed 1 --steps-per-lsb 4 "
            f"-o lut/{pdk}/{kind}{bits}")


def _load(path: Path, block: str | None = None) -> LUT | None:
    if not lut_files(path)[0].exists():
        return None
    lut = LUT.load(path, block=block)
    if lut.provenance.get("synthetic"):
        raise LUTError(f"{path}: a synthetic LUT; the report shows SPICE results only")
    return lut


def _f(x, nd: int = 4):
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


def converter_summary(lut: LUT) -> dict:
    """Figures of one converter LUT at its nominal operating point (module doc)."""
    m = DigitizerModel.from_lut(lut, mismatch_scale=0.0, reference="lut")
    c = lut.conditions
    lo, hi = float(c["vref_lo"]), float(c["vref_hi"])
    t = m.nominal_transitions()
    ep, ab = inl_dnl(t, (lo, hi), "endpoint"), inl_dnl(t, (lo, hi), "absolute")
    am = c.get("area_model") or area_model.area(lut.block, m.bits, lut.provenance.get("pdk", "ptm65bulk")).to_dict()
    out = {
        "block": lut.block, "description": DESCRIPTION[lut.block], "bits": m.bits, "flash_bits": m.flash_bits,
        "pdk": lut.provenance.get("pdk"), "vdd": m.coords.get("vdd"), "temp": m.coords.get("temp"),
        "vref": [lo, hi], "lsb_mV": (hi - lo) / (1 << m.bits) * 1e3,
        "input_step_mV": _f(1e3 * float(c.get("input_step", c.get("resolution", float("nan")))), 3),
        "max_abs_dnl_lsb": _f(ep["max_abs_dnl"], 3), "max_abs_inl_lsb": _f(ep["max_abs_inl"], 3),
        "max_abs_inl_abs_lsb": _f(ab["max_abs_inl"], 3), "offset_lsb": _f(ab["offset_lsb"], 3),
        "missing_codes": int(ep["n_missing"]),
        "energy_fJ": m.energy * 1e15, "t_conv_ns": m.t_conv * 1e9, "area_um2": float(am["total_um2"]),
        "area_node_nm": am.get("node_nm"), "area_breakdown_um2": am.get("breakdown_um2"),
        "mc_instances": 0,
    }
    if "transition" in lut.samples:
        s = lut.sample_slice("transition", **m.coords)  # (edges, instances)
        ok = np.all(np.isfinite(s), axis=0)
        s = s[:, ok]
        if s.shape[1]:
            st = inl_dnl(s.T, (lo, hi), "endpoint")
            shift = np.mean(s - t[:, None], axis=0)  # mean shift of an instance's transitions [V]
            inl = np.asarray(st["max_abs_inl"], float)
            out.update({
                "mc_instances": int(s.shape[1]), "mc_failed": int((~ok).sum()),
                "offset_sigma_mV": float(np.std(shift, ddof=1) * 1e3) if s.shape[1] > 1 else None,
                "offset_per_instance_mV": (shift * 1e3).round(3).tolist(),
                "transition_sigma_mean_mV": float(np.mean(np.std(s, axis=1, ddof=1)) * 1e3) if s.shape[1] > 1 else None,
                "mc_median_abs_inl_lsb": float(np.median(inl)), "mc_worst_abs_inl_lsb": float(np.max(inl)),
                "mc_worst_abs_dnl_lsb": float(np.max(st["max_abs_dnl"])),
                "mc_instances_with_missing_codes": int(np.count_nonzero(np.asarray(st["n_missing"]) > 0)),
            })
    return out


def _dac_capacitance_fF(lut: LUT) -> float | None:
    """The DAC's total capacitance from the LUT's generator parameters [fF] (reasons section)."""
    g = lut.provenance.get("parameters", {})
    n = int(lut.conditions["bits"])
    if lut.block == Kind.ADC_SAR:
        return (1 << n) * float(g.get("c_unit", 1e-15)) * 1e15
    if lut.block in (Kind.ADC_MI_SAR, Kind.ADC_HYBRID) and lut.conditions.get("cdac", "bitline") != "mom":
        return (1 << n) * int(g.get("n_rows", 16)) * float(g.get("c_wire", 0.0)) * 1e15
    return None


def ratios(summ: dict) -> dict:
    """Conventional / memory-immersed ratios (area, energy) where both LUTs exist."""
    mi = summ.get("adc_mi_sar")
    out = {}
    for k, name in (("adc_sar", "sar"), ("adc_flash", "flash")):
        if mi and summ.get(k):
            out[f"area_ratio_vs_{name}"] = summ[k]["area_um2"] / mi["area_um2"]
            out[f"energy_ratio_vs_{name}"] = summ[k]["energy_fJ"] / mi["energy_fJ"]
    return out


def reasons(summ: dict, luts: dict, pdk: str) -> list[str]:
    """Why our converter ratios differ from the published ones, one sentence each, with this run's DAC
    capacitances where both SA LUTs are present."""
    out = []
    node = next((s["area_node_nm"] for s in summ.values() if s), None)
    out.append(f"node: ours are all at {pdk} ({node} nm in the area model) on both sides of each ratio; the published "
               "ratios compare a 65 nm test chip with 40 nm stand-alone converters")
    c_sar = _dac_capacitance_fF(luts["adc_sar"]) if luts.get("adc_sar") else None
    c_mi = _dac_capacitance_fF(luts["adc_mi_sar"]) if luts.get("adc_mi_sar") else None
    if c_sar and c_mi:
        out.append(f"DAC capacitance: our conventional CDAC is {c_sar:.3g} fF (1 fF units, no reference buffer), the "
                   f"borrowed bitlines are {c_mi:.3g} fF of wire alone ({c_mi / c_sar:.3g}x): the memory-immersed SA "
                   "re-drives and charge-shares all of them every cycle, so its energy per conversion is higher, not "
                   "1.4x lower; the published SAR baseline is a complete ADC whose energy includes what ours leaves out")
    out.append("our op count: energy per conversion = supply, reference and clock charge of the transistor-level "
               "switches, DAC and comparator(s) in SPICE; the SA logic / encoder is ideal and not counted (same rule "
               "for every kind), the published figures are measured chip power")
    out.append("our area: transistor count x a per-device area from the node's published 6T cell and MOM density "
               "for capacitors (charz.blocks.adc.model_area), not a layout; the bitline DAC costs 0 capacitor area")
    if summ.get("adc_flash"):
        out.append("flash: our flash ladder is 32 x 1 kOhm with 100 fF tap capacitors (static ladder current counted), "
                   "31 comparators of the same size as the SA comparator")
    return out


def _fmt(x, spec: str = ".3g") -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def table_md(summ: dict, rat: dict, missing: dict, bits: int, pdk: str, why: list[str]) -> str:
    """The converter report as Markdown: one row per converter kind (or why it is missing), the SAR / flash vs
    memory-immersed ratios beside the published ones, and the reasons."""
    pub = area_model.PUBLISHED
    lines = [f"# Column digitizers, {bits}-bit, {pdk}", "",
             "| converter | DNL max [LSB] | INL max [LSB] (endpoint / absolute) | missing | MC inst. | "
             "sigma [mV]: offset (mean shift) / per edge "
             "| MC INL median / worst [LSB] | MC inst. with missing codes | energy [fJ] | t_conv [ns] | area [um2] |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in KINDS:
        s = summ.get(k)
        if s is None:
            lines.append(f"| {k} | not characterized: `{missing[k]}` |||||||||| ")
            continue
        lines.append(
            f"| {k} ({DESCRIPTION[k]}) | {_fmt(s['max_abs_dnl_lsb'])} | {_fmt(s['max_abs_inl_lsb'])} / "
            f"{_fmt(s['max_abs_inl_abs_lsb'])} | {s['missing_codes']} | {s['mc_instances']} | "
            f"{_fmt(s.get('offset_sigma_mV'))} / {_fmt(s.get('transition_sigma_mean_mV'))} | {_fmt(s.get('mc_median_abs_inl_lsb'))} / {_fmt(s.get('mc_worst_abs_inl_lsb'))} | "
            f"{s.get('mc_instances_with_missing_codes', 'n/a')} | {s['energy_fJ']:.3g} | {s['t_conv_ns']:.3g} | {s['area_um2']:.3g} |")
    lines += ["", "## Conventional / memory-immersed", "", "| ratio | ours | published |", "|---|---|---|"]
    for key, name in (("area_ratio_vs_sar", "area, SAR / MI"), ("energy_ratio_vs_sar", "energy, SAR / MI"),
                      ("area_ratio_vs_flash", "area, flash / MI"), ("energy_ratio_vs_flash", "energy, flash / MI")):
        lines.append(f"| {name} | {_fmt(rat.get(key), '.3g')}x | {pub[key]:g}x |")
    lines += ["", f"Published: {pub['source']}.", "", "## Why ours differ", ""] + [f"- {w}" for w in why]
    return "\n".join(lines) + "\n"


def digitizers(pdk: str = "ptm16hp", bits: int = 5, lut_dir=None, out="out/report_digitizers",
               network: bool = True, chips: int = 3, n_images: int | None = None, progress=print) -> dict:
    """Write the digitizer report (module doc; ``lut_dir`` None = :func:`default_lut_dir`); returns its JSON
    content."""
    from .blocks.adc.plots import plot_converter_comparison, plot_transfer

    if not (isinstance(bits, int) and 2 <= bits <= 6):
        raise ParameterError(f"--bits must be an integer from 2 to 6, got {bits!r}")
    if lut_dir is None:
        lut_dir = default_lut_dir(pdk, bits)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    luts, summ, missing = {}, {}, {}
    for k in KINDS:
        lut = _load(lut_path(lut_dir, pdk, k, bits), block=k)
        if lut is None:
            missing[k] = make_command(pdk, k, bits)
            continue
        try:
            summ[k] = converter_summary(lut)
        except LUTError as exc:  # failed SPICE points: say so and re-make it, keep the other converters
            missing[k] = f"unusable ({exc}); re-make it: {make_command(pdk, k, bits)}"
            continue
        luts[k] = lut
    if not luts:
        raise LUTError(f"no converter LUT for {pdk} at {bits} bits under {lut_dir}/{pdk}/: make them first, e.g. "
                       f"{make_command(pdk, 'adc_sar', bits)}")
    rat = ratios(summ)
    why = reasons(summ, luts, pdk)
    pngs = []
    for k, lut in luts.items():
        pngs.append(str(plot_transfer(lut, out / f"transfer_{k}{bits}.png", n_instances=4, seed=0)))
    pngs.append(str(plot_converter_comparison(list(luts.values()), out / f"energy_area_{bits}bit.png", pdk=pdk, bits=bits)))
    comp = _load(Path(lut_dir) / pdk / "comparator", block=Kind.COMPARATOR)
    pngs.append(str(plot_offsets(comp, summ, out / f"offsets_{pdk}.png", pdk)))
    md = table_md(summ, rat, missing, bits, pdk, why)
    (out / "digitizers.md").write_text(md)
    result = {"pdk": pdk, "bits": bits, "converters": summ, "ratios_ours": rat, "published": area_model.PUBLISHED,
              "why_ours_differ": why, "missing": missing, "pngs": pngs}
    (out / "digitizers.json").write_text(json.dumps(result, indent=1))
    progress(md)
    if network:
        result["network"] = network_table(pdk, lut_dir, out, chips=chips, n_images=n_images, progress=progress)
    return result


def plot_offsets(comp: LUT | None, summ: dict, path, pdk: str):
    """Histogram of the comparator's Monte Carlo offsets (at its nominal VDD) and, per converter, the
    mean shift of each Monte Carlo instance's transitions from nominal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .blocks.adc.plots import COLORS
    from .plot.common import save

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.5, 4.4))
    if comp is not None and "offset" in comp.samples:
        vd = comp.axis("vdd").values
        v0 = float(comp.provenance.get("vdd_nom", vd[len(vd) // 2]))
        i = int(np.argmin(np.abs(vd - v0)))
        tp = comp.axis("temp").values
        j = int(np.argmin(np.abs(tp - 27.0)))
        off = comp.samples["offset"][i, j]
        off = off.reshape(-1, off.shape[-1])[0]  # the offset is stored at every dv point: one row = all instances
        off = off[np.isfinite(off)] * 1e3
        step = comp.provenance.get("parameters", {}).get("ramp_step")
        a1.hist(off, bins=20, color="tab:gray", edgecolor="k")
        a1.set_title(f"comparator input-referred offset, {pdk} VDD {vd[i]:g} V, {tp[j]:g} degC\n"
                     f"{off.size} Monte Carlo instances, sigma {np.std(off, ddof=1):.3g} mV"
                     + (f" (ramp step {1e3 * float(step):.3g} mV)" if step else ""), fontsize=9)
    else:
        a1.text(0.5, 0.5, f"no comparator LUT with Monte Carlo for {pdk}", ha="center", transform=a1.transAxes)
    a1.set_xlabel("offset [mV]")
    a1.set_ylabel("count")
    have = False
    for k, s in summ.items():
        vals = s.get("offset_per_instance_mV")
        if vals:
            have = True
            a2.hist(vals, bins=max(4, len(vals)), alpha=0.55, color=COLORS[k],
                    label=f"{k}: {len(vals)} instances, sigma {_fmt(s.get('offset_sigma_mV'))} mV")
    if have:
        a2.legend(fontsize=8)
    else:
        a2.text(0.5, 0.5, "no converter LUT with Monte Carlo", ha="center", transform=a2.transAxes)
    a2.set_xlabel("mean shift of an instance's transitions from nominal [mV]")
    a2.set_ylabel("instances")
    a2.set_title("converter offset per Monte Carlo instance (SPICE)", fontsize=9)
    fig.tight_layout()
    return save(fig, path, tight=True)


def network_table(pdk: str, lut_dir, out, chips: int = 3, n_images: int | None = None, progress=print) -> dict:
    """The digits MLP with every converter LUT found for 3..6 bits (module doc)."""
    from .network.evaluate import evaluate

    out = Path(out)
    col = Path(lut_dir) / pdk / "cim_column"
    if not lut_files(col)[0].exists():
        raise LUTError(f"no column LUT {lut_files(col)[0]}: make it with `charz characterize cim_column --pdk {pdk} "
                       f"--mc 40 -o {col}`")
    rows, unusable = [], []
    base = evaluate(str(col), chips=chips, n_images=n_images)
    rows.append(_net_row(IDEAL, None, base))
    for bits in NETWORK_BITS:
        found = [k for k in KINDS if lut_files(lut_path(lut_dir, pdk, k, bits))[0].exists()]
        if found:
            rows.append(_net_row(IDEAL, bits, evaluate(str(col), adc_bits=bits, chips=chips, n_images=n_images)))
        for k in found:
            p = lut_path(lut_dir, pdk, k, bits)
            for cal in CALIBRATIONS:
                try:
                    r = evaluate(str(col), adc_lut=str(p), chips=chips, n_images=n_images, adc_calibration=cal)
                except LUTError as exc:  # e.g. failed SPICE points (NaN transitions): list it, go on
                    unusable.append(f"{p}: {exc}")
                    progress(f"  {k}{bits}: not usable: {exc}")
                    break
                rows.append(_net_row(k, bits, r, cal))
                progress(f"  network with {k}{bits} (calibration {cal}): {100 * r['cim_accuracy_mean']:.2f} %, "
                         f"{r['tops_per_watt']:.4g} TOPS/W, {r['inferences_per_s']:.4g} inf/s")
    lines = [f"# Digits MLP on {pdk} CiM columns with SPICE converter LUTs", "",
             f"float {100 * base['float_accuracy']:.2f} %, ideal integer {100 * base['ideal_accuracy']:.2f} %; "
             f"{chips} chips (independent column and converter instances); energy = arrays + converters.", "",
             "| read-out | bits | converter instances | offset trim | accuracy [%] | energy / inference [pJ] | "
             "converters [pJ] | TOPS/W | inferences/s | scheme |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        trim = {None: "", "none": "no", "offset": "yes"}[r["calibration"]]
        mc = r.get("converter_mc")
        inst = "" if r["calibration"] is None else (f"from {mc} MC" if mc else "nominal only (LUT without MC)")
        lines.append(f"| {r['readout']} | {r['bits'] or str(r.get('adc_bits')) + ' (default)'} | {inst} | {trim} | "
                     f"{r['acc']:.2f} +- {r['acc_std']:.2f} | {r['energy_pJ']:.4g} | "
                     f"{r['adc_pJ']:.4g} | {r['tops_w']:.4g} | {r['inf_s']:.4g} | {r['scheme']} |")
    if unusable:
        lines += ["", "Not usable (listed, not evaluated):"] + [f"- {u}" for u in unusable]
    md = "\n".join(lines) + "\n"
    (out / "network.md").write_text(md)
    (out / "network.json").write_text(json.dumps({"rows": rows, "unusable": unusable}, indent=1))
    plot_network(rows, out / f"network_{pdk}.png", pdk)
    progress(md)
    return {"rows": rows, "unusable": unusable}


def _net_row(readout: str, bits, r: dict, calibration: str | None = None) -> dict:
    return {"readout": readout, "bits": bits, "calibration": calibration, "acc": 100 * r["cim_accuracy_mean"], "acc_std": 100 * r["cim_accuracy_std"],
            "energy_pJ": r["energy_per_inference_J"] * 1e12, "adc_pJ": r["adc_energy_per_inference_J"] * 1e12,
            "tops_w": r["tops_per_watt"], "inf_s": r["inferences_per_s"], "scheme": r["timing"].get("scheme", ""),
            "adc_bits": r["operating_point"].get("adc_bits"),
            "converter_mc": (r.get("adc") or {}).get("mc_samples") if r.get("adc") else None}


def plot_network(rows: list[dict], path, pdk: str):
    """Write the PNG at *path*: network accuracy, TOPS/W and inferences/s against converter bits for every
    converter kind (with and without offset trim), beside the ideal quantizer; returns the path written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .blocks.adc.plots import COLORS
    from .plot.common import save

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    ideal = rows[0]
    ideal_bits = ideal.get("adc_bits")
    for ax, key, label in zip(axes, ("acc", "tops_w", "inf_s"), ("accuracy [%]", "TOPS/W (arrays + converters)",
                                                                  "inferences / s")):
        for k in KINDS:
            for cal, ls in (("none", "-"), ("offset", ":")):
                if key != "acc" and cal == "offset":
                    continue  # energy and time do not depend on the trim
                pts = [(r["bits"], r[key]) for r in rows if r["readout"] == k and r["calibration"] == cal]
                if pts:
                    x, y = zip(*pts)
                    ax.plot(x, y, "o" + ls, color=COLORS[k], mfc="white" if cal == "offset" else COLORS[k],
                            label=k + (", offset trimmed" if cal == "offset" else ""))
        pts = [(r["bits"], r[key]) for r in rows if r["readout"] == IDEAL and r["bits"]]
        if pts:
            x, y = zip(*pts)
            ax.plot(x, y, "s--", color="0.4", lw=1, label="ideal quantizer (0 J, 0 s)")
        if key != "tops_w":
            ax.axhline(ideal[key], color="0.7", ls=":", lw=1, label=f"ideal, default {ideal_bits} bits")
        ax.set_xlabel("converter bits")
        ax.set_ylabel(label)
        ax.set_xticks(NETWORK_BITS)
        ax.grid(alpha=0.3)
        if key != "acc":
            ax.set_yscale("log")
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"digits MLP on {pdk} CiM columns read out by SPICE-characterized converters", fontsize=11)
    nominal = sorted({f"{r['readout']}{r['bits']}" for r in rows if r["calibration"] and not r.get("converter_mc")})
    if nominal:
        fig.text(0.5, 0.005, "nominal-only LUTs (no converter mismatch, so not comparable with the others): "
                 + ", ".join(nominal), ha="center", va="bottom", fontsize=8, color="tab:red")
    fig.tight_layout(rect=(0, 0.04 if nominal else 0, 1, 1))
    return save(fig, path, tight=True)


__all__ = ["digitizers", "converter_summary", "network_table", "ratios", "KINDS"]
