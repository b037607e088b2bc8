"""Digits MLP on the behavioral CiM model: accuracy, energy per inference, TOPS/W, sparsity.

:func:`evaluate` runs the shipped (or given) quantized MLP on the fixed digits test split three ways:

- float: the float network on pixels / 16;
- ideal integer: the quantized network with exact integer products (what a perfect CiM would give);
- CiM: every layer's integer product through :mod:`charz.blocks.cim_column.model_layer` on ``chips`` simulated chips,
  each with its own per-column mismatch drawn once (seeded) and kept for the whole test set; read out
  by an *ideal quantizer* (0 J) or, with ``adc_lut``, by a digitizer of
  :mod:`charz.blocks.adc.model` (every physical column its own converter instance, drawn once per
  chip after the column curves). Accuracy is reported as mean +- std over the chips.

Energy comes from the same LUT via :class:`charz.network.energy.EnergyLedger`, plus the digitizer's
energy per conversion for every column evaluation; latency / throughput from
:mod:`charz.network.timing`. Conventions are in ``result["conventions"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..blocks.adc import model as dz, model_transfer as dzt
from ..blocks.cim_column.model import BLOCK, ColumnModel
from ..blocks.cim_column.model_layer import map_layer
from ..core.errors import LUTError, ParameterError
from ..core.validate import posint
from ..core.lut import LUT
from . import digits, timing
from .energy import EnergyLedger
from .mlp import QuantizedMLP, accuracy, load_shipped, resolve_weights

DEFAULT_CHIPS = 8
DEFAULT_SCALES = (0.0, 1.0, 2.0, 4.0, 8.0)


def load_lut(lut_or_path) -> tuple[LUT, str | None]:
    """A ``cim_column`` LUT from a LUT object or a path (``.json``/``.npz``/base name)."""
    if isinstance(lut_or_path, LUT):
        if lut_or_path.block != BLOCK:
            raise LUTError(f"this is a '{lut_or_path.block}' LUT; network evaluation needs a '{BLOCK}' LUT")
        return lut_or_path, None
    if isinstance(lut_or_path, (str, Path)):
        return LUT.load(lut_or_path, block=BLOCK), str(lut_or_path)
    raise LUTError(f"give a {BLOCK} LUT or the path of one, got {type(lut_or_path).__name__}")


def lut_summary(lut: LUT, source: str | None = None) -> dict:
    """The provenance fields a network report needs."""
    p = lut.provenance
    keys = ("pdk", "card_file", "card_sha256", "node_nm", "vdd_nom", "avt_mv_um", "avt_source", "mc_samples",
            "mc_seed", "generator", "ngspice_version", "charz_version", "date", "synthetic")
    out = {k: p[k] for k in keys if k in p}
    for k in ("pattern", "pattern_meaning", "energy", "sense"):
        if k in lut.conditions:
            out[f"column_{k}"] = lut.conditions[k]
    out["block"] = lut.block
    out["n_rows"] = lut.conditions.get("n_rows", int(lut.axis("k").values[-1]))
    out["axes"] = {a.name: [float(a.values[0]), float(a.values[-1]), int(a.values.size)] for a in lut.axes}
    if source:
        out["source"] = source
    return out


def _weights(weights) -> tuple[QuantizedMLP, str]:
    return resolve_weights(weights, QuantizedMLP, load_shipped, "shipped charz/network/data/digits_mlp.npz")




def evaluate(
    lut_path_or_lut,
    vdd: float | None = None,
    temp: float | None = None,
    t_pulse: float | None = None,
    adc_bits: int | None = None,
    mismatch_scale: float = 1.0,
    chips: int = DEFAULT_CHIPS,
    seed: int = 0,
    n_images: int | None = None,
    weights=None,
    mismatch_source: str = "mvn",
    adc_lut=None,
    adc_mismatch_scale: float | None = None,
    adc_reference: str = "column",
    adc_calibration: str = "none",
    trim_lut=None,
    columns_per_adc: int | None = None,
    array_columns: int = timing.DEFAULT_ARRAY_COLUMNS,
    column_calibration: str = "none",
) -> dict:
    """Evaluate the digits MLP on the CiM model of a ``cim_column`` LUT.

    ``vdd``/``temp``/``t_pulse``/``adc_bits`` None pick defaults (see :meth:`ColumnModel.from_lut`;
    the choice is in ``result["operating_point"]["choices"]``). ``mismatch_scale`` multiplies the LUT's
    Monte Carlo spread (1.0 = the LUT's A_VT, 0 = nominal columns). ``chips`` simulated chips are drawn
    from ``seed``; ``n_images`` limits the test images (the first n of the fixed split).

    ``adc_lut`` (a digitizer LUT or its path; None = the ideal quantizer) replaces the read-out: the
    converter is read at the column's vdd / temp, its full scale set to the column's nominal swing
    (``adc_reference="column"``; ``"lut"`` = as characterized, clipping); ``adc_bits`` must then be None
    or the LUT's resolution (2..6). Every physical column is read by its converter instance, fixed per
    chip: conventional converters (adc_sar, adc_flash) serve ``columns_per_adc`` columns each (None =
    1, a converter per column); a memory-immersed one (adc_mi_sar, bitline hybrid) is formed from
    2^s bitlines of the neighbour array, so an array of ``array_columns`` columns has
    floor(array_columns / 2^s) of them, each serving its share of the columns (columns_per_adc must be
    None). ``adc_mismatch_scale`` None = 1.0 when the LUT has Monte Carlo data, else 0 (nominal
    converters; the choice is reported). ``adc_calibration="offset"`` trims every converter instance's
    offset once (see :class:`charz.blocks.adc.model.DigitizerModel`). ``array_columns`` is also the array width of the timing model
    (:mod:`charz.network.timing`). ``column_calibration="gain_offset"`` gives every column of every chip its own
    decode, fitted against known inputs (:mod:`charz.blocks.cim_column.model_calib`; with either read-out).
    Raises :class:`charz.core.errors.LUTError` / :class:`charz.core.errors.ParameterError` with a one-line message.
    """
    lut, source = load_lut(lut_path_or_lut)
    chips = posint(chips, "chips", 10_000)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
    adc_source = None
    if adc_lut is not None:
        adc, adc_source = dz.load(adc_lut)
        lut_bits = dzt.check_bits(adc.conditions.get("bits"), f"{adc.block} LUT resolution (condition 'bits')")
        if adc_bits is not None:
            dzt.check_bits(adc_bits, "adc_bits")
            if int(adc_bits) != lut_bits:
                raise ParameterError(f"adc_bits={adc_bits} but the {adc.block} LUT is a {lut_bits}-bit converter: "
                                     f"leave adc_bits out or give {lut_bits}")
        adc_bits = lut_bits
    model = ColumnModel.from_lut(
        lut, vdd=vdd, temp=temp, t_pulse=t_pulse, adc_bits=adc_bits,
        mismatch_scale=mismatch_scale, mismatch_source=mismatch_source,
    )
    adc_info = None
    if adc_lut is not None:
        from .backends import attach_converter

        model, _ = attach_converter(model, lut, adc, mismatch_scale=adc_mismatch_scale, reference=adc_reference,
                                    calibration=adc_calibration, columns_per_adc=columns_per_adc,
                                    array_columns=array_columns, trim_lut=trim_lut,
                                    pdk=adc.provenance.get("pdk") or "ptm16hp")
        adc_info = model.quantizer.describe()
        if adc_source:
            adc_info["source"] = adc_source
    elif (adc_mismatch_scale is not None or columns_per_adc is not None or adc_reference != "column"
          or adc_calibration != "none" or trim_lut is not None):
        raise ParameterError("adc_mismatch_scale, adc_reference, adc_calibration, trim_lut and columns_per_adc need an "
                             "adc_lut")
    model = model.with_column_calibration(column_calibration)
    net, wsource = _weights(weights)
    _, _, xte, yte = digits.load()
    if n_images is not None:
        n_images = posint(n_images, "n_images", xte.shape[0])
        xte, yte = xte[:n_images], yte[:n_images]
    b = xte.shape[0]
    x0 = net.input_ints(xte)

    float_acc = accuracy(net.forward_float(xte), yte)
    logits, hid = net.forward_int(x0)
    ideal_acc = accuracy(logits, yte)
    ideal_sparsity = [float(np.mean(h == 0)) for h in hid]

    q = model.quantizer
    ledger = EnergyLedger(model.e_nom, conversion_energy=float(q.energy),
                          readout=None if model.ideal_readout else q.short_label)
    names = [f"fc{i + 1} ({net.sizes[i]}x{net.sizes[i + 1]})" for i in range(net.n_layers)]
    accs, sparsity, mismatch_vs_ideal, adc_stats = [], [], [], []
    for child in np.random.SeedSequence(int(seed)).spawn(chips):
        rng = np.random.default_rng(child)
        layers = [map_layer(w, model, rng, w_bits=net.w_bits, x_bits=net.x_bits) for w in net.w_int]
        banks = [lay.adc_bank for lay in layers if lay.adc_bank is not None]
        if banks:
            st = [bk.summary() for bk in banks]
            adc_stats.append({
                "instances": sum(x["instances"] for x in st),
                "instances_with_missing_codes": sum(x["instances_with_missing_codes"] for x in st),
                "max_abs_dnl_lsb": max(x["max_abs_dnl_lsb"] for x in st),
                "max_abs_inl_lsb": max(x["max_abs_inl_lsb"] for x in st),
            })
        hists = [None] * net.n_layers

        def make(i):
            def mm(a):
                y, hists[i] = layers[i](a)
                return y
            return mm

        lg, h = net.forward_int(x0, [make(i) for i in range(net.n_layers)])
        for i, name in enumerate(names):
            ledger.add(name, hists[i], images=b, macs_per_image=net.macs_per_layer[i])
        accs.append(accuracy(lg, yte))
        sparsity.append([float(np.mean(a == 0)) for a in h])
        mismatch_vs_ideal.append(float(np.mean(np.argmax(lg, 1) != np.argmax(logits, 1))))

    accs_a = np.array(accs)
    en = ledger.report()
    sp = np.mean(np.array(sparsity), axis=0) if sparsity and sparsity[0] else np.array([])
    op = model.describe()
    scheme, sa_bits = timing.scheme_for(q)
    col_t = timing.column_timing(lut, model.coords.get("t_pulse", 0.0))
    geo = timing.layer_geometry(net.sizes, model.n_rows, net.x_bits, net.w_bits, names)
    tm = timing.network_timing(geo, col_t, scheme, float(q.t_conv), columns_per_adc=columns_per_adc or 1,
                               sa_bits=sa_bits, array_columns=array_columns, ops_per_inference=en["ops"])
    if scheme == "immersed":  # the same converter timing as a conventional dedicated converter per column
        ded = timing.network_timing(geo, col_t, "dedicated", float(q.t_conv), columns_per_adc=1,
                                    array_columns=array_columns)
        tm["throughput_ratio_vs_dedicated_per_column"] = tm["inferences_per_s"] / ded["inferences_per_s"]
    if adc_info is not None:
        adc_info["per_chip"] = adc_stats
    t_round = timing.round_time(scheme, col_t, float(q.t_conv), array_columns, columns_per_adc or 1, sa_bits,
                                array_columns)["t_round_s"]
    return {
        "float_accuracy": float_acc,
        "ideal_accuracy": ideal_acc,
        "cim_accuracy_mean": float(accs_a.mean()),
        "cim_accuracy_std": float(accs_a.std(ddof=1)) if chips > 1 else 0.0,
        "cim_accuracy_per_chip": accs,
        "cim_disagreement_with_ideal": float(np.mean(mismatch_vs_ideal)),
        "energy_per_inference_J": en["energy_per_inference_J"],
        "array_energy_per_inference_J": en["array_energy_per_inference_J"],
        "adc_energy_per_inference_J": en["adc_energy_per_inference_J"],
        "conversions_per_inference": en["conversions_per_inference"],
        "conversion_energy_J": en["conversion_energy_J"],
        "energy_per_layer_J": {n: en["layers"][n]["energy_J"] for n in names},
        "adc_energy_per_layer_J": {n: en["layers"][n]["adc_energy_J"] for n in names},
        "evaluations_per_layer": {n: en["layers"][n]["evaluations"] for n in names},
        "k_hist_fraction_per_layer": {n: en["layers"][n]["k_hist_fraction"] for n in names},
        "column_energy_per_k_J": model.e_nom.tolist(),
        "tops_per_watt": en["tops_per_watt"],
        "macs": en["macs"],
        "ops": en["ops"],
        "macs_per_layer": dict(zip(names, net.macs_per_layer)),
        "sparsity": {f"{names[i]} ReLU out": float(s) for i, s in enumerate(sp)},
        "sparsity_mean": float(np.mean(sp)) if sp.size else 0.0,
        "sparsity_ideal": {f"{names[i]} ReLU out": s for i, s in enumerate(ideal_sparsity)},
        "operating_point": op,
        "readout": op["readout"],
        "adc": adc_info,
        "timing": tm,
        "inferences_per_s": tm["inferences_per_s"],
        "column_calibration": model.column_calibration_cost(t_round),
        "conventions": {
            **en["conventions"],
            "mapping": f"N={model.n_rows}-row tiles (last tile zero-padded), {net.x_bits} input bit planes, "
                       f"{net.w_bits - 1} weight magnitude slices x 2 sign arrays",
            "accuracy": f"digits test split ({b} images); CiM = mean +- std (ddof=1) over {chips} simulated chips",
            "readout": ("ideal quantizer over the nominal [V(N), V(0)], calibrated decode" if adc_info is None else
                        f"{adc_info['choices'].get('range', '')}; every physical column read by its converter "
                        f"instance ({op['readout'].rsplit(', ', 1)[-1]}), instances drawn once per chip after the "
                        f"column curves; code -> k_hat by the calibrated decode of the nominal converter"),
            "timing": f"{tm['formula']}; {tm['layer_formula']}",
            "mismatch": "per-column V(k) curves drawn once per chip (seeded): nominal + mismatch_scale x (Monte "
                        "Carlo mean shift + deviation drawn with the Monte Carlo covariance); scale 1 = the LUT's "
                        "A_VT, other scales are a linear extrapolation (underestimates the damage above 1)",
        },
        "lut": lut_summary(lut, source),
        "adc_lut": None if adc_lut is None else {k: v for k, v in adc_info.items() if k in ("block", "bits", "pdk", "synthetic", "source")},
        "network": {"sizes": list(net.sizes), "x_bits": net.x_bits, "w_bits": net.w_bits, "weights": wsource,
                    "seed": net.meta.get("seed")},
        "n_images": b,
        "chips": chips,
        "seed": int(seed),
    }


def accuracy_vs_mismatch(
    lut_path_or_lut,
    scales: Sequence[float] = DEFAULT_SCALES,
    chips: int = DEFAULT_CHIPS,
    seed: int = 0,
    **kwargs,
) -> dict:
    """:func:`evaluate` at each mismatch scale (same seed, so the same chips with larger deviations).

    Scales other than 0 and 1 extrapolate the LUT's Monte Carlo data linearly; see
    :func:`accuracy_vs_avt` for the measured alternative."""
    lut, source = load_lut(lut_path_or_lut)
    scales = [float(s) for s in scales]
    if not scales:
        raise ParameterError("give at least one mismatch scale")
    results = [evaluate(lut, mismatch_scale=s, chips=chips, seed=seed, **kwargs) for s in scales]
    avt = lut.provenance.get("avt_mv_um")
    return _sweep(results, scales, [None if avt is None else s * float(avt) for s in scales], False,
                  lut_summary(lut, source), chips, seed)


def _sweep(results: list[dict], scales: list[float], avts: list, measured: bool, lut: dict, chips: int,
           seed: int) -> dict:
    """The result dict shared by both accuracy sweeps."""
    r0 = results[0]
    return {
        "scales": scales,
        "measured": measured,
        "avt_mv_um": avts,
        "cim_mean": [r["cim_accuracy_mean"] for r in results],
        "cim_std": [r["cim_accuracy_std"] for r in results],
        "per_chip": [r["cim_accuracy_per_chip"] for r in results],
        "ideal_accuracy": r0["ideal_accuracy"],
        "float_accuracy": r0["float_accuracy"],
        "energy_per_inference_J": [r["energy_per_inference_J"] for r in results],
        "tops_per_watt": [r["tops_per_watt"] for r in results],
        "operating_point": {k: v for k, v in r0["operating_point"].items() if k not in ("mismatch_scale", "avt_mv_um_effective")},
        "readout": r0["readout"],
        "lut": lut,
        "chips": chips,
        "n_images": r0["n_images"],
        "seed": seed,
        "results": results,
    }


def accuracy_vs_avt(
    luts: Sequence,
    chips: int = DEFAULT_CHIPS,
    seed: int = 0,
    **kwargs,
) -> dict:
    """Measured counterpart of :func:`accuracy_vs_mismatch`: one ``cim_column`` LUT per A_VT (the same
    column re-characterized with ``charz.core.pdk.get(name, avt_mv_um=...)``), each evaluated at
    ``mismatch_scale=1``. ``scales`` in the result are A_VT / A_VT of the first LUT, so both sweeps share
    a plot. Use it to check the linear extrapolation of a single LUT."""
    loaded = [load_lut(x) for x in luts]
    if not loaded:
        raise ParameterError("give at least one cim_column LUT")
    avts = []
    for lut, src in loaded:
        a = lut.provenance.get("avt_mv_um")
        if a is None:
            raise LUTError(f"LUT {src or lut.block} records no A_VT in its provenance: cannot place it on an A_VT axis")
        avts.append(float(a))
    if avts[0] <= 0:
        raise ParameterError("the first LUT must have A_VT > 0 (it is the reference of the scale axis)")
    results = [evaluate(lut, mismatch_scale=1.0, chips=chips, seed=seed, **kwargs) for lut, _ in loaded]
    out = _sweep(results, [a / avts[0] for a in avts], avts, True, lut_summary(loaded[0][0], loaded[0][1]),
                 chips, seed)
    out["luts"] = [lut_summary(lut, src) for lut, src in loaded]
    return out


def format_result(r: dict) -> str:
    """A small text table of one :func:`evaluate` result."""
    op = r["operating_point"]
    lines = [
        f"digits MLP {'-'.join(map(str, r['network']['sizes']))} on {r['lut'].get('pdk', '?')} cim_column "
        f"(N={op['n_rows']}), vdd={op.get('vdd', float('nan')):g} V, temp={op.get('temp', float('nan')):g} degC, "
        f"t_pulse={op.get('t_pulse', float('nan')):.3g} s",
        f"  read-out: {r['readout']}",
        f"  mismatch: scale {op['mismatch_scale']:g} (A_VT {op['avt_mv_um_effective'] if op['avt_mv_um_effective'] is not None else '?'} mV*um), {op['mismatch_model']}",
        f"  {'float accuracy':<28} {100 * r['float_accuracy']:6.2f} %",
        f"  {'ideal integer accuracy':<28} {100 * r['ideal_accuracy']:6.2f} %",
        f"  {'CiM accuracy':<28} {100 * r['cim_accuracy_mean']:6.2f} +- {100 * r['cim_accuracy_std']:.2f} % "
        f"({r['chips']} chips, {r['n_images']} images)",
    ]
    adc_e = r.get("adc_energy_per_inference_J", 0.0)
    if r.get("adc") is None:
        lines.append(f"  {'energy / inference':<28} {r['energy_per_inference_J'] * 1e12:8.3f} pJ  (array only; ideal quantizer = 0 J)")
    else:
        lines.append(f"  {'energy / inference':<28} {r['energy_per_inference_J'] * 1e12:8.3f} pJ  = array "
                     f"{r['array_energy_per_inference_J'] * 1e12:.3f} pJ + ADC {adc_e * 1e12:.3f} pJ "
                     f"({r['conversions_per_inference']:.0f} conversions x {r['conversion_energy_J'] * 1e15:.4g} fJ)")
    for n, e in r["energy_per_layer_J"].items():
        lines.append(f"    {n:<26} {e * 1e12:8.3f} pJ  {r['evaluations_per_layer'][n]:.0f} column evaluations")
    lines += [
        f"  {'MACs / inference':<28} {r['macs']}  (ops = 2 x MACs = {r['ops']})",
        f"  {'TOPS/W':<28} {r['tops_per_watt']:8.2f}",
        f"  {'ReLU output sparsity':<28} {100 * r['sparsity_mean']:6.2f} %",
    ]
    tm = r.get("timing")
    if tm:
        lines.append(f"  {'latency / inference':<28} {tm['latency_s'] * 1e9:8.3f} ns  ({tm['scheme']}: {tm['formula']})")
        lines.append(f"  {'inferences / s':<28} {tm['inferences_per_s']:10.4g}  (layer-pipelined {tm['inferences_per_s_pipelined']:.4g})")
        if "throughput_ratio_vs_dedicated_per_column" in tm:
            lines.append(f"  {'throughput vs dedicated':<28} {tm['throughput_ratio_vs_dedicated_per_column']:8.3f} x "
                         f"(same t_conv, one converter per column)")
    adc = r.get("adc")
    if adc and adc.get("per_chip"):
        miss = [c["instances_with_missing_codes"] for c in adc["per_chip"]]
        inst = adc["per_chip"][0]["instances"]
        lines.append(f"  {'ADC instances':<28} {inst} per chip; with missing codes: {min(miss)}..{max(miss)} per chip")
    if adc and adc.get("trim"):
        lines.append("  " + trim_line(adc["trim"]))
    if r.get("column_calibration"):
        lines.append("  " + column_calibration_line(r["column_calibration"]))
    return "\n".join(lines)


def column_calibration_line(c: dict) -> str:
    """One line on the per-column gain / offset calibration's cost (:func:`charz.blocks.cim_column.model_calib.cost`)."""
    return (f"{'column calibration':<28} gain / offset per column against {c['levels']} known levels x "
            f"{c['repeats']} conversions: {c['time_s'] * 1e9:.4g} ns per array, "
            f"{c['energy_per_column_J'] * 1e12:.4g} pJ and a {c['decode_table_bits_per_column']}-bit decode table "
            f"per column")


def trim_line(t: dict) -> str:
    """One line on a converter's trim DAC (:meth:`DigitizerModel.trim_cost`): step, range, what it adds per
    conversion, the calibration's time and energy per converter, its area."""
    return (f"{'trim DAC':<28} {t['bits']}-bit, step {t['step_V'] * 1e3:.3g} mV, range {t['range_V'][0] * 1e3:+.0f} .. "
            f"{t['range_V'][1] * 1e3:+.0f} mV ({t['mc_samples']} MC instances); +{t['energy_per_conversion_J'] * 1e15:.3g} "
            f"fJ per conversion; calibration {t['calibration_conversions']} conversions = "
            f"{t['calibration_time_s'] * 1e9:.4g} ns, {t['calibration_energy_J'] * 1e12:.4g} pJ per converter "
            f"({t['assumption']}); {t['area_units']:.0f} minimum-transistor units")


def format_sweep(s: dict) -> str:
    """A small text table of one :func:`accuracy_vs_mismatch` result."""
    lines = [
        f"accuracy vs mismatch ({s['chips']} chips per scale, {s['n_images']} images; read-out: {s['readout']})",
        f"  ideal integer {100 * s['ideal_accuracy']:.2f} %, float {100 * s['float_accuracy']:.2f} %",
        f"  {'scale':>6} {'A_VT [mV*um]':>13} {'CiM accuracy [%]':>20} {'energy [pJ]':>12} {'TOPS/W':>9}",
    ]
    for sc, avt, m, sd, e, t in zip(s["scales"], s["avt_mv_um"], s["cim_mean"], s["cim_std"],
                                    s["energy_per_inference_J"], s["tops_per_watt"]):
        a = f"{avt:.3g}" if avt is not None else "?"
        lines.append(f"  {sc:>6g} {a:>13} {100 * m:>12.2f} +- {100 * sd:<5.2f} {e * 1e12:>12.3f} {t:>9.1f}")
    return "\n".join(lines)
