"""Characterization recipe of the flash A/D converter (:mod:`charz.blocks.adc.netlist_flash`), block ``adc_flash``.

One deck per (VDD, temperature) corner: the input climbs a staircase over ``[vref_lo - margin, vref_hi +
margin]`` by ``resolution`` volts per clock cycle (default LSB / 8), one conversion per cycle, so ONE
transient gives the whole transfer curve of one converter instance. It runs nominally and once per
Monte Carlo sample (``alter`` of every transistor's ``delvto`` in all 2^n - 1 comparators; sample s is
the same physical converter at every corner), batched with :func:`charz.characterize.common.run_points`.

Measurements (NumPy on the saved vectors, :func:`measure_flash`):

- **decision** of comparator c in cycle k: the comparator recipe's
  :func:`charz.blocks.comparator.recipe.cycle_decisions` on ``v(dp_c) - v(dn_c)`` (+1 = "1", -1 = "0",
  0 = unresolved at the end of the evaluate half);
- **thermometer code** of a cycle: the 2^n - 1 decisions (1 where +1); **binary code** by the ideal
  encoder: the ones count (``code``, bubble tolerant, what :func:`charz.blocks.adc.model.decide`
  models) and the 1-of-n + ROM encoder :func:`charz.blocks.adc.model.thermometer_to_binary`
  (``code_rom``); cycles where the two differ (bubbles) are counted in ``provenance["checks"]``;
- **transition of comparator c** (= raw edge c, code c-1 -> c for a bubble-free converter): with the
  staircase levels ``v_k = v_start + (k + 1/2) r``, ``n0`` cycles deciding 0 and ``nu`` unresolved,
  ``t_c = v_start + r (n0 + nu / 2)``: the midpoint between the last 0 and the first 1 of a monotonic
  decision sequence (linear interpolation between the two staircase levels; quantization uniform in
  +-r/2, rms r / sqrt(12)). NaN (and counted) when the transition lies outside the staircase. The
  converter's effective code edges (``e[c]`` = the input where the ones count reaches c) follow from
  these with :func:`charz.blocks.adc.model.effective_transitions` (identical for a nominal converter,
  whose comparators fire in ladder order);
- **energy per conversion** [J], averaged over the conversions of the staircase (cycles 1 .. n-1, i.e.
  over inputs spread uniformly over the range): ``VDD x (Q(vdd) + Q+(vclk)) / cycles`` for the
  comparators (net supply charge plus the clock source's pull-up charge, as in the comparator recipe:
  an ideal clock source stands for a CMOS driver whose supply delivers the pull-up charge), plus the
  **ladder**: ``VDD x Q(vrefh) / cycles`` with ``Q(vrefh)`` the charge the top reference delivers
  (static ladder current x one clock period, plus the kickback the ladder absorbs), counted at VDD (a
  reference buffer draws it from the supply). Tables ``energy_comparators`` and ``energy_ladder`` split
  it. The input source is ideal: the charge the comparators kick back into the input (the sampling
  front-end's business) is not counted. The encoder is ideal digital and costs 0 J here;
- **conversion time** ``t_conv`` [s] = one clock period (one comparator decision per conversion; the
  encoder is not timed).

LUT (the contract of :mod:`charz.blocks.adc.model`): block ``adc_flash``; conditions ``bits``,
``kind`` = ``"flash"``, ``vref_lo``, ``vref_hi``, ``area_model`` (:func:`charz.blocks.adc.model_area.area`) and
the recipe's settings; axes ``vdd``, ``temp``, ``edge`` = 1 .. 2^n - 1 (discrete); tables
``transition`` [V] (nominal, comparator c's transition), ``energy`` [J], ``t_conv`` [s],
``energy_comparators``, ``energy_ladder`` [J] (replicated along ``edge``); with Monte Carlo samples
``transition`` (trailing dimension = converter instance) and tables ``transition_mean``,
``transition_sigma``; arrays ``staircase_v`` (the input of every conversion) and ``staircase_code``
(the nominal converter's ones-count code per conversion, per corner; -1 where the run failed), and the
mismatch draws. Failures never stop the sweep: NaN and ``provenance["failed_points"]``.

Not modelled: ladder resistor mismatch (the resistors are ideal), noise, the input's own source
impedance, the encoder's delay and energy.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import warnings
from typing import Sequence

import numpy as np

from .model import effective_transitions, inl_dnl, thermometer_to_binary
from .model_area import area as digitizer_area
from ...core.errors import CharzError, ParameterError
from ...core.lut import LUT, Axis, Kind
from ...core.mc import Mismatch, draw
from ..comparator.netlist import timeline
from .netlist_flash import (
    BLOCK, FlashParams, VREF_HI_RATIO, VREF_LO_RATIO, check_flash_bits, flash_devices, flash_netlist,
)
from ...core.pdk import PDK, get
from ...sim.executor import Executor, owned
from ...characterize.common import (
    provenance,
    check_mc, mismatch_record, run_points, sample_stats, steps_for, temp_values, vdd_values, netlist_set,
)
from ..comparator.recipe import _integral, cycle_decisions

log = logging.getLogger(__name__)

RECIPE = "adc_flash/1"
"""Measurement-code version (part of every cache key): bump when a measurement changes."""
FLASH_OPTIONS = ("r_unit", "c_tap", "sizes", "c_load", "t_clk", "t_edge", "t_step", "margin")
SECONDS_PER_COMPARATOR_CYCLE = 0.03
"""Rough ngspice cost of one comparator decision at 16 nm on one core (s): sizes job timeouts and chunks."""
UNITS = {"transition": "V", "energy": "J", "t_conv": "s", "energy_comparators": "J", "energy_ladder": "J",
         "transition_mean": "V", "transition_sigma": "V"}


# ---- measurements -------------------------------------------------------------------------------------
@dataclasses.dataclass
class FlashMeasurement:
    """What one staircase run of one converter instance gives."""

    levels: np.ndarray
    """(K,) input of every conversion (V)."""
    decisions: np.ndarray
    """(2^n - 1, K) per comparator: +1 / -1 / 0 (unresolved)."""
    code: np.ndarray
    """(K,) ones count of the thermometer code (the converter's output code)."""
    code_rom: np.ndarray
    """(K,) 1-of-n + ROM encoder output (differs from ``code`` only on bubbles)."""
    transitions: np.ndarray
    """(2^n - 1,) transition of every comparator (V), NaN outside the staircase."""
    monotonic: np.ndarray
    """(2^n - 1,) the comparator's decisions never go back from 1 to 0 along the staircase."""
    unresolved: int
    bubbles: int
    """Conversions whose thermometer code is not of the form 1..10..0."""
    out_of_range: int
    energy_comparators: float
    energy_ladder: float

    @property
    def energy(self) -> float:
        """Energy per conversion [J]: comparators plus ladder."""
        return self.energy_comparators + self.energy_ladder

    @property
    def thermometer_monotonic(self) -> bool:
        """The output code never decreases along the staircase."""
        return bool(np.all(np.diff(self.code) >= 0))


def measure_flash(run: dict[str, np.ndarray], params: FlashParams) -> FlashMeasurement:
    """Decisions, codes, comparator transitions and energy per conversion of one staircase run."""
    cp = params.comparator
    levels = np.asarray(params.levels())
    k = levels.size
    n = params.n_comparators
    t = np.asarray(run["time"], dtype=float)
    dec = np.zeros((n, k))
    for c in range(1, n + 1):
        one = {"time": t, "v(dp)": run[f"v(dp_{c})"], "v(dn)": run[f"v(dn_{c})"]}
        dec[c - 1], _ = cycle_decisions(one, cp, k)
    therm = (dec > 0).T  # (K, E)
    code = therm.sum(-1).astype(np.int64)
    code_rom = thermometer_to_binary(therm)
    start = params.span()[0]
    r = params.resolution
    n0 = np.sum(dec < 0, axis=1)
    nu = np.sum(dec == 0, axis=1)
    n1 = np.sum(dec > 0, axis=1)
    in_range = (n0 + nu / 2 > 0) & (n1 + nu / 2 > 0)
    trans = np.where(in_range, start + r * (n0 + nu / 2), np.nan)
    mono = np.array([np.array_equal(d, np.sort(d)) for d in dec])
    bubbles = int(np.sum(np.any(therm[:, 1:] & ~therm[:, :-1], axis=1)))

    tl = timeline(cp, k)
    cycles = k - 1
    a = tl.rise[1]
    q_sup = -_integral(t, np.asarray(run["i(vdd)"], dtype=float), a, tl.end)
    iclk = -np.asarray(run["i(vclk)"], dtype=float)
    q_clk = sum(max(0.0, _integral(t, iclk, tl.rise[j], tl.fall[j])) for j in range(1, k))
    q_ref = -_integral(t, np.asarray(run["i(vrefh)"], dtype=float), a, tl.end)
    return FlashMeasurement(
        levels=levels, decisions=dec, code=code, code_rom=code_rom, transitions=trans, monotonic=mono,
        unresolved=int(nu.sum()), bubbles=bubbles, out_of_range=int(np.sum(~in_range)),
        energy_comparators=params.vdd * (q_sup + q_clk) / cycles, energy_ladder=params.vdd * q_ref / cycles,
    )


def estimated_seconds(params: FlashParams) -> float:
    """Rough ngspice time of one staircase run on one core (s)."""
    return SECONDS_PER_COMPARATOR_CYCLE * params.n_comparators * len(params.levels())


# ---- the recipe ---------------------------------------------------------------------------------------
def characterize_flash(
    pdk: PDK | str,
    bits: int = 5,
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    resolution: float | None = None,
    vref_lo: float | None = None,
    vref_hi: float | None = None,
    steps_per_lsb: int | None = None,
    **params,
) -> LUT:
    """Characterize the flash converter over VDD x temperature: transfer curve (comparator transitions),
    energy per conversion, conversion time and, with *mc* > 0, one transfer curve per Monte Carlo
    converter instance. Returns a LUT of block ``adc_flash`` (module doc).

    Parameters
    ----------
    pdk: the PDK (``charz.core.pdk.get(name)``, possibly with a user A_VT) or its name.
    bits: resolution 2..5.
    vdd, temp: corner grids (V, degC); default the PDK's nominal VDD and 27 degC.
    mc, seed: Monte Carlo converter instances and the seed of the mismatch draw.
    executor, use_cache, progress: where simulations run (default: a local pool, closed at the end),
        the result cache and progress bars.
    resolution: staircase step (V per conversion); default LSB / 8. ``steps_per_lsb`` (2..64) gives it
        as LSB / steps_per_lsb instead (give one of the two).
    vref_lo, vref_hi: the reference range (V), the same at every corner; default 0.5 / 0.9 x the PDK's
        nominal VDD. Must lie inside the rails of every grid VDD.
    params: further :class:`charz.blocks.adc.netlist_flash.FlashParams` fields (``r_unit``, ``c_tap``, ``sizes``,
        ``c_load``, ``t_clk``, ``t_edge``, ``t_step``, ``margin``).
    """
    if isinstance(pdk, str):
        pdk = get(pdk)
    bits = check_flash_bits(bits)
    unknown = set(params) - set(FLASH_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown flash parameter(s) {sorted(unknown)}: use {list(FLASH_OPTIONS)}")
    mc = check_mc(mc)
    vdds = vdd_values(pdk, vdd)
    temps = temp_values(27.0 if temp is None else temp)
    lo = float(f"{VREF_LO_RATIO * pdk.vdd_nom:.12g}") if vref_lo is None else vref_lo
    hi = float(f"{VREF_HI_RATIO * pdk.vdd_nom:.12g}") if vref_hi is None else vref_hi
    if steps_per_lsb is not None:
        if resolution is not None:
            raise ParameterError("give resolution or steps_per_lsb, not both")
        resolution = float(f"{(hi - lo) / (1 << bits) / steps_for(steps_per_lsb):.12g}")
    nv, nt = len(vdds), len(temps)
    corners = list(itertools.product(enumerate(vdds), enumerate(temps)))
    fparams = {(i, j): FlashParams(pdk=pdk.name, bits=bits, vdd=v, temp=t, vref_lo=lo, vref_hi=hi,
                                   resolution=resolution, **params)
               for (i, v), (j, t) in corners}
    base = fparams[(0, 0)]
    e = base.n_comparators
    points = [({"vdd": p.vdd, "temp": p.temp}, flash_netlist(p, pdk)) for p in fparams.values()]
    where = list(fparams)
    est = max(estimated_seconds(p) for p in fparams.values())
    chunk = max(1, min(25, int(60 / max(est, 1e-3))))

    draws = None
    if mc > 0:
        draws = draw(Mismatch(pdk.avt_mv_um), flash_devices(base, pdk), mc, seed)

    with owned(executor) as ex:
        res = run_points(points, draws, recipe=RECIPE, executor=ex, use_cache=use_cache, progress=progress,
                         desc=f"{bits}-bit flash staircase " + ("nominal" if draws is None else f"nominal + {mc} MC"),
                         chunk=chunk, timeout=max(120.0, 10 * est))
    failed = [f.message() for f in res.failures]
    analysis_s = res.analysis_seconds()
    ngspice = res.ngspice

    # ---- measure --------------------------------------------------------------------------------------
    shape = (nv, nt, e)
    trans = np.full(shape, np.nan)
    e_cmp = np.full((nv, nt), np.nan)
    e_lad = np.full((nv, nt), np.nan)
    levels = np.asarray(base.levels())
    codes = np.full((nv, nt, levels.size), -1, dtype=np.int64)
    samples_t = np.full(shape + (mc,), np.nan)
    checks = {"bubbles": 0, "non_monotonic_comparators": 0, "unresolved_decisions": 0,
              "transitions_out_of_range": 0, "nominal_code_non_monotonic": 0, "measure_errors": 0}
    mc_failed = 0
    static: dict[str, dict] = {}

    def _measure(run, p, what):
        try:
            return measure_flash(run, p)
        except (CharzError, KeyError, ValueError, IndexError) as exc:  # a broken run is a failed point
            checks["measure_errors"] += 1
            failed.append(f"{what}: measurement failed: {exc}")
            return None

    for (i, j), run, mc_runs in zip(where, res.nominal, res.mc):
        p = fparams[(i, j)]
        label = f"vdd={p.vdd:g}, temp={p.temp:g}"
        m = _measure(run, p, label) if run is not None else None
        if m is not None:
            trans[i, j] = m.transitions
            e_cmp[i, j], e_lad[i, j] = m.energy_comparators, m.energy_ladder
            codes[i, j] = m.code
            checks["bubbles"] += m.bubbles
            checks["non_monotonic_comparators"] += int(np.sum(~m.monotonic))
            checks["unresolved_decisions"] += m.unresolved
            checks["transitions_out_of_range"] += m.out_of_range
            checks["nominal_code_non_monotonic"] += int(not m.thermometer_monotonic)
            if np.all(np.isfinite(m.transitions)):
                s = inl_dnl(effective_transitions(m.transitions, BLOCK, bits), (p.vref_lo, p.vref_hi))
                sa = inl_dnl(effective_transitions(m.transitions, BLOCK, bits), (p.vref_lo, p.vref_hi), "absolute")
                static[label] = {"max_abs_dnl_lsb": round(float(s["max_abs_dnl"]), 4),
                                 "max_abs_inl_lsb": round(float(s["max_abs_inl"]), 4),
                                 "max_abs_inl_absolute_lsb": round(float(sa["max_abs_inl"]), 4),
                                 "offset_lsb": round(float(s["offset_lsb"]), 4),
                                 "missing_codes": int(s["n_missing"])}
        for s_i, srun in enumerate(mc_runs):
            ms = _measure(srun, p, f"{label}, mc {s_i}") if srun is not None else None
            if ms is None:
                mc_failed += 1
                continue
            samples_t[i, j, :, s_i] = ms.transitions
            checks["bubbles"] += ms.bubbles
            checks["non_monotonic_comparators"] += int(np.sum(~ms.monotonic))
            checks["unresolved_decisions"] += ms.unresolved
            checks["transitions_out_of_range"] += ms.out_of_range
    notes: list[str] = []
    if checks["transitions_out_of_range"]:
        notes.append(f"{BLOCK}: {checks['transitions_out_of_range']} comparator transition(s) fell outside the "
                     f"staircase and are NaN: give a larger margin")
    for note in notes:
        log.warning(note)

    energy = e_cmp + e_lad
    t_conv = np.full((nv, nt), np.nan)
    for (i, j), p in fparams.items():
        if np.isfinite(energy[i, j]):
            t_conv[i, j] = p.t_clk

    def rep(x):
        return np.broadcast_to(x[:, :, None], shape).copy()

    tables = {"transition": trans, "energy": rep(energy), "t_conv": rep(t_conv),
              "energy_comparators": rep(e_cmp), "energy_ladder": rep(e_lad)}
    samples: dict[str, np.ndarray] = {}
    mc_summary = None
    if mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tables["transition_mean"], tables["transition_sigma"] = sample_stats(samples_t)
        samples["transition"] = samples_t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            eff = effective_transitions(np.moveaxis(samples_t, -1, -2), BLOCK, bits)  # (nv, nt, mc, E)
            st = inl_dnl(eff, (base.vref_lo, base.vref_hi))
            dev = samples_t - trans[..., None]
            mc_summary = {
                "transition_sigma_mean_V": float(np.nanmean(tables["transition_sigma"])),
                "transition_sigma_mean_lsb": float(np.nanmean(tables["transition_sigma"]) / base.lsb),
                "pooled_deviation_sigma_V": float(np.nanstd(dev, ddof=1)) if np.isfinite(dev).sum() > 1 else None,
                "max_abs_dnl_lsb_median": float(np.nanmedian(st["max_abs_dnl"])),
                "max_abs_inl_lsb_median": float(np.nanmedian(st["max_abs_inl"])),
                "instances_with_missing_codes": int(np.sum(np.asarray(st["n_missing"]) > 0)),
                "instances": mc,
            }
    units = {name: UNITS[name] for name in tables}
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("edge", "code", np.arange(1, e + 1, dtype=float), discrete=True))
    arrays: dict[str, np.ndarray] = {"staircase_v": levels, "staircase_code": codes}
    if draws is not None:
        arrays.update(draws.arrays())

    try:
        area_model = digitizer_area("adc_flash", bits, pdk.name).to_dict()
    except ParameterError as exc:
        area_model = {"note": f"no area figures: {exc}"}
    area_model["not_counted"] = ("tap decoupling capacitors (c_tap); the model counts the ladder resistors and "
                                 "comparators only") if base.c_tap > 0 else None

    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    j_nom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    p_nom = fparams[(i_nom, j_nom)]
    all_sha = sorted(nl.sha256 for _, nl in points)
    gen_params = base.as_dict()
    for name in ("vdd", "temp"):
        gen_params.pop(name)
    gen_params.update({"vdd_grid": vdds, "temp_grid": temps})
    runs = len(points) * (1 + mc)
    prov = provenance(
        generator="charz.blocks.adc.netlist_flash.flash_netlist + charz.blocks.adc.recipe_flash.characterize_flash",
        params=gen_params,
        netlist_sha256={"staircase": flash_netlist(p_nom, pdk).sha256},
        pdk_prov=pdk.provenance(),
        ngspice=ngspice,
        mc_samples=mc,
        seed=seed if mc > 0 else None,
        extra={
            "recipe": RECIPE,
            "netlist_sha256_at": f"vdd={p_nom.vdd:g}, temp={p_nom.temp:g}",
            **netlist_set(all_sha),
            "mismatch": mismatch_record(pdk, draws, ladder="ideal resistors, no mismatch drawn"),
            "failed_points": failed,
            "failed_mc_runs": mc_failed,
            "checks": checks,
            "warnings": notes,
            "analysis_seconds": round(analysis_s, 3),
            "transfer_curves_simulated": runs,
            "seconds_per_transfer_curve": round(analysis_s / runs, 3) if analysis_s > 0 else None,
        },
    )
    conditions = {
        "bits": bits,
        "kind": "flash",
        "vref_lo": base.vref_lo,
        "vref_hi": base.vref_hi,
        "area_model": area_model,
        "lsb": base.lsb,
        "ladder": f"{1 << bits} ideal resistors of r_unit ohm between vref_lo and vref_hi; tap c = vref_lo + c LSB",
        "r_unit": base.r_unit,
        "c_tap": base.c_tap,
        "encoder": "ideal digital ones count of the thermometer code (bubble tolerant); 1-of-n + ROM differs only on "
                   "bubbles (counted in provenance checks)",
        "transition": "comparator c's transition (edge c, code c-1 -> c): midpoint between its last 0 and first 1 "
                      "decision along the input staircase",
        "staircase": {"v_start": base.span()[0], "v_stop": base.span()[1], "resolution": base.resolution,
                      "margin": base.margin, "conversions": int(levels.size)},
        "energy": "per conversion, mean over the staircase: VDD x (net supply charge + clock pull-up charge) of the "
                  "comparators + VDD x charge from the top reference (ladder static current x t_clk + kickback); "
                  "ideal input source and encoder not counted",
        "t_conv": "one clock period (one decision of all comparators; the encoder is not timed)",
        "t_clk": base.t_clk,
        "t_edge": base.t_edge,
        "t_step": base.t_step,
        "c_load": base.c_load,
        "sizes_m": dataclasses.asdict(base.sizes),
        "static_nominal": static,
        "monte_carlo": mc_summary,
        "per_corner": ["energy", "t_conv", "energy_comparators", "energy_ladder"],
        "per_corner_note": "these tables do not depend on edge: the per-conversion value is replicated along it",
    }
    return LUT(block=Kind.ADC_FLASH, axes=axes, tables=tables, units=units, samples=samples, conditions=conditions,
               provenance=prov, arrays=arrays)


__all__ = ["characterize_flash", "measure_flash", "FlashMeasurement", "estimated_seconds", "RECIPE"]
