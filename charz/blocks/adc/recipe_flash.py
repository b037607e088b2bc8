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
  encoder: the ones count (``code``, bubble tolerant, what :func:`charz.blocks.adc.model_transfer.decide`
  models) and the 1-of-n + ROM encoder :func:`charz.blocks.adc.model_transfer.thermometer_to_binary`
  (``code_rom``); cycles where the two differ (bubbles) are counted in ``provenance["checks"]``;
- **transition of comparator c** (= raw edge c, code c-1 -> c for a bubble-free converter): with the
  staircase levels ``v_k = v_start + (k + 1/2) r``, ``n0`` cycles deciding 0 and ``nu`` unresolved,
  ``t_c = v_start + r (n0 + nu / 2)``: the midpoint between the last 0 and the first 1 of a monotonic
  decision sequence (linear interpolation between the two staircase levels; quantization uniform in
  +-r/2, rms r / sqrt(12)). NaN (and counted) when the transition lies outside the staircase. The
  converter's effective code edges (``e[c]`` = the input where the ones count reaches c) follow from
  these with :func:`charz.blocks.adc.model_transfer.effective_transitions` (identical for a nominal converter,
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

from .model_transfer import effective_transitions, inl_dnl, thermometer_to_binary
from .model_area import area as digitizer_area
from ...core.errors import CharzError, ParameterError
from ...core.lut import LUT, Axis, Kind
from ..comparator.netlist import timeline
from .netlist_flash import (
    BLOCK, FlashParams, VREF_HI_RATIO, VREF_LO_RATIO, check_flash_bits, flash_devices, flash_netlist,
)
from ...core.pdk import PDK
from ...sim.executor import Executor
from ...characterize.common import sample_stats, steps_for
from ...characterize.recipe import Recipe
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
class FlashRecipe(Recipe):
    """The flash converter's recipe: one staircase deck per corner, nominal and per Monte Carlo instance."""

    kind = Kind.ADC_FLASH
    version = RECIPE
    generator = "charz.blocks.adc.netlist_flash.flash_netlist + charz.blocks.adc.recipe_flash.characterize_flash"


@dataclasses.dataclass
class FlashResults:
    """The measured staircases of every corner (:func:`measure_runs`)."""

    transitions: np.ndarray
    """(vdd, temp, edge) nominal comparator transitions [V]."""
    energy_comparators: np.ndarray
    """(vdd, temp) [J]."""
    energy_ladder: np.ndarray
    """(vdd, temp) [J]."""
    codes: np.ndarray
    """(vdd, temp, conversion) the nominal converter's code, -1 where the run failed."""
    samples: np.ndarray
    """(vdd, temp, edge, sample) Monte Carlo transitions [V]."""
    checks: dict
    """Counts over every run: bubbles, non-monotonic comparators, unresolved decisions, transitions outside the
    staircase, nominal codes going back, measurement errors."""
    static: dict
    """Static figures (DNL, INL, offset, missing codes) of every corner whose transitions are all found."""


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
    r = FlashRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress, fit_check=False)
    bits = check_flash_bits(bits)
    unknown = set(params) - set(FLASH_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown flash parameter(s) {sorted(unknown)}: use {list(FLASH_OPTIONS)}")
    vdds, temps = r.vdds(vdd), r.temps(temp)
    fparams = plan_corners(r.pdk, bits, vdds, temps, vref_lo, vref_hi, resolution, steps_per_lsb, params)
    base = fparams[(0, 0)]
    points = [({"vdd": p.vdd, "temp": p.temp}, flash_netlist(p, r.pdk)) for p in fparams.values()]
    est = max(estimated_seconds(p) for p in fparams.values())
    draws = r.draws(flash_devices(base, r.pdk))
    with r:
        res = r.run(points, draws, desc=f"{bits}-bit flash staircase " + ("nominal" if draws is None else f"nominal + {r.mc} MC"),
                    chunk=max(1, min(25, int(60 / max(est, 1e-3)))), timeout=max(120.0, 10 * est))
    m = measure_runs(r, fparams, res, (len(vdds), len(temps), base.n_comparators))
    notes: list[str] = []
    if m.checks["transitions_out_of_range"]:
        notes.append(f"{BLOCK}: {m.checks['transitions_out_of_range']} comparator transition(s) fell outside the "
                     f"staircase and are NaN: give a larger margin")
    for note in notes:
        log.warning(note)

    energy = m.energy_comparators + m.energy_ladder
    t_conv = np.full(energy.shape, np.nan)
    for (i, j), p in fparams.items():
        if np.isfinite(energy[i, j]):
            t_conv[i, j] = p.t_clk

    def rep(x):
        return np.broadcast_to(x[:, :, None], m.transitions.shape).copy()

    tables = {"transition": m.transitions, "energy": rep(energy), "t_conv": rep(t_conv),
              "energy_comparators": rep(m.energy_comparators), "energy_ladder": rep(m.energy_ladder)}
    samples: dict[str, np.ndarray] = {}
    mc_summary = None
    if r.mc > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tables["transition_mean"], tables["transition_sigma"] = sample_stats(m.samples)
        samples["transition"] = m.samples
        mc_summary = _mc_summary(base, m, tables["transition_sigma"], r.mc)
    units = {name: UNITS[name] for name in tables}
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("edge", "code", np.arange(1, base.n_comparators + 1, dtype=float), discrete=True))
    arrays: dict[str, np.ndarray] = {"staircase_v": np.asarray(base.levels()), "staircase_code": m.codes}
    if draws is not None:
        arrays.update(draws.arrays())

    i_nom = int(np.argmin(np.abs(np.asarray(vdds) - r.pdk.vdd_nom)))
    j_nom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    p_nom = fparams[(i_nom, j_nom)]
    gen_params = base.as_dict()
    for name in ("vdd", "temp"):
        gen_params.pop(name)
    gen_params.update({"vdd_grid": vdds, "temp_grid": temps})
    runs = len(points) * (1 + r.mc)
    prov = r.provenance(
        gen_params, {"staircase": flash_netlist(p_nom, r.pdk).sha256}, draws=draws,
        mismatch={"ladder": "ideal resistors, no mismatch drawn"},
        netlist_sha256_at=f"vdd={p_nom.vdd:g}, temp={p_nom.temp:g}",
        checks=m.checks,
        warnings=notes,
        transfer_curves_simulated=runs,
        seconds_per_transfer_curve=round(r.analysis_s / runs, 3) if r.analysis_s > 0 else None,
    )
    return LUT(block=Kind.ADC_FLASH, axes=axes, tables=tables, units=units, samples=samples,
               conditions=_conditions(base, bits, r.pdk, m.static, mc_summary), provenance=prov, arrays=arrays)


def plan_corners(pdk: PDK, bits: int, vdds: list[float], temps: list[float], vref_lo: float | None,
                 vref_hi: float | None, resolution: float | None, steps_per_lsb: int | None,
                 params: dict) -> dict[tuple[int, int], FlashParams]:
    """One :class:`FlashParams` per corner ``(VDD index, temperature index)``, with the same reference range and
    staircase resolution everywhere (the defaults of :func:`characterize_flash` filled in here)."""
    lo = float(f"{VREF_LO_RATIO * pdk.vdd_nom:.12g}") if vref_lo is None else vref_lo
    hi = float(f"{VREF_HI_RATIO * pdk.vdd_nom:.12g}") if vref_hi is None else vref_hi
    if steps_per_lsb is not None:
        if resolution is not None:
            raise ParameterError("give resolution or steps_per_lsb, not both")
        resolution = float(f"{(hi - lo) / (1 << bits) / steps_for(steps_per_lsb):.12g}")
    return {(i, j): FlashParams(pdk=pdk.name, bits=bits, vdd=v, temp=t, vref_lo=lo, vref_hi=hi,
                                resolution=resolution, **params)
            for (i, v), (j, t) in itertools.product(enumerate(vdds), enumerate(temps))}


def measure_runs(r: FlashRecipe, fparams: dict[tuple[int, int], FlashParams], res, shape: tuple[int, int, int]
                 ) -> FlashResults:
    """Measure every staircase run of *res* (nominal and Monte Carlo, corner by corner). A run whose measurement
    fails is a failed point: listed in the recipe's failures (a Monte Carlo one also counts as a failed
    Monte Carlo run) and NaN."""
    nv, nt, _ = shape
    base = fparams[(0, 0)]
    out = FlashResults(
        transitions=np.full(shape, np.nan), energy_comparators=np.full((nv, nt), np.nan),
        energy_ladder=np.full((nv, nt), np.nan), codes=np.full((nv, nt, len(base.levels())), -1, dtype=np.int64),
        samples=np.full(shape + (r.mc,), np.nan), static={},
        checks={"bubbles": 0, "non_monotonic_comparators": 0, "unresolved_decisions": 0,
                "transitions_out_of_range": 0, "nominal_code_non_monotonic": 0, "measure_errors": 0})
    checks = out.checks

    def _measure(run, p, what):
        try:
            return measure_flash(run, p)
        except (CharzError, KeyError, ValueError, IndexError) as exc:  # a broken run is a failed point
            checks["measure_errors"] += 1
            r.failed.append(f"{what}: measurement failed: {exc}")
            return None

    for (i, j), run, mc_runs in zip(fparams, res.nominal, res.mc):
        p = fparams[(i, j)]
        label = f"vdd={p.vdd:g}, temp={p.temp:g}"
        m = _measure(run, p, label) if run is not None else None
        if m is not None:
            out.transitions[i, j] = m.transitions
            out.energy_comparators[i, j], out.energy_ladder[i, j] = m.energy_comparators, m.energy_ladder
            out.codes[i, j] = m.code
            checks["bubbles"] += m.bubbles
            checks["non_monotonic_comparators"] += int(np.sum(~m.monotonic))
            checks["unresolved_decisions"] += m.unresolved
            checks["transitions_out_of_range"] += m.out_of_range
            checks["nominal_code_non_monotonic"] += int(not m.thermometer_monotonic)
            if np.all(np.isfinite(m.transitions)):
                out.static[label] = _static(m.transitions, p)
        for s_i, srun in enumerate(mc_runs):
            ms = _measure(srun, p, f"{label}, mc {s_i}") if srun is not None else None
            if ms is None:
                if srun is not None:  # a failed measurement (the recipe counted the failed runs already)
                    r.mc_failed += 1
                continue
            out.samples[i, j, :, s_i] = ms.transitions
            checks["bubbles"] += ms.bubbles
            checks["non_monotonic_comparators"] += int(np.sum(~ms.monotonic))
            checks["unresolved_decisions"] += ms.unresolved
            checks["transitions_out_of_range"] += ms.out_of_range
    return out


def _static(transitions: np.ndarray, p: FlashParams) -> dict:
    """DNL, INL (endpoint and absolute), offset and missing codes of one converter's transitions."""
    eff = effective_transitions(transitions, BLOCK, p.bits)
    s = inl_dnl(eff, (p.vref_lo, p.vref_hi))
    sa = inl_dnl(eff, (p.vref_lo, p.vref_hi), "absolute")
    return {"max_abs_dnl_lsb": round(float(s["max_abs_dnl"]), 4),
            "max_abs_inl_lsb": round(float(s["max_abs_inl"]), 4),
            "max_abs_inl_absolute_lsb": round(float(sa["max_abs_inl"]), 4),
            "offset_lsb": round(float(s["offset_lsb"]), 4),
            "missing_codes": int(s["n_missing"])}


def _mc_summary(base: FlashParams, m: FlashResults, sigma: np.ndarray, mc: int) -> dict:
    """The Monte Carlo instances in a few numbers: transition sigma, pooled deviation from nominal, median static
    figures and instances with missing codes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        eff = effective_transitions(np.moveaxis(m.samples, -1, -2), BLOCK, base.bits)  # (nv, nt, mc, E)
        st = inl_dnl(eff, (base.vref_lo, base.vref_hi))
        dev = m.samples - m.transitions[..., None]
        return {
            "transition_sigma_mean_V": float(np.nanmean(sigma)),
            "transition_sigma_mean_lsb": float(np.nanmean(sigma) / base.lsb),
            "pooled_deviation_sigma_V": float(np.nanstd(dev, ddof=1)) if np.isfinite(dev).sum() > 1 else None,
            "max_abs_dnl_lsb_median": float(np.nanmedian(st["max_abs_dnl"])),
            "max_abs_inl_lsb_median": float(np.nanmedian(st["max_abs_inl"])),
            "instances_with_missing_codes": int(np.sum(np.asarray(st["n_missing"]) > 0)),
            "instances": mc,
        }


def _conditions(base: FlashParams, bits: int, pdk: PDK, static: dict, mc_summary: dict | None) -> dict:
    """The LUT's conditions: the converter, its area model, the staircase, what each table means."""
    try:
        area_model = digitizer_area("adc_flash", bits, pdk.name).to_dict()
    except ParameterError as exc:
        area_model = {"note": f"no area figures: {exc}"}
    area_model["not_counted"] = ("tap decoupling capacitors (c_tap); the model counts the ladder resistors and "
                                 "comparators only") if base.c_tap > 0 else None
    return {
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
                      "margin": base.margin, "conversions": len(base.levels())},
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


__all__ = ["characterize_flash", "FlashRecipe", "FlashResults", "plan_corners", "measure_runs", "measure_flash", "FlashMeasurement", "estimated_seconds", "RECIPE"]
