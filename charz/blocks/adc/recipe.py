"""Characterization of the SPICE successive-approximation converters (:mod:`charz.blocks.adc.netlist`)
into the digitizer LUT contract of :mod:`charz.blocks.adc.model` (blocks ``adc_sar``, ``adc_mi_sar``).

Transfer curve from ramp decks
------------------------------
The input is swept finely over ``[vref_lo, vref_hi]``: levels ``vref_lo + (k + 1/2) step`` with
``step`` = LSB / 8 by default (``input_step``). Conversions run back to back, ``conversions_per_deck``
of them in one transient (:func:`charz.blocks.adc.netlist_deck.ramp_netlist`), so a 5-bit transfer curve at
LSB / 8 is 256 conversions in 4 decks. Each conversion's code is read from the comparator's latched
output at the capture strobes. The **transition** of edge c is ``min{v : code(v) >= c}``, taken as the
midpoint between the last level below it and the first level at or above it (the definition of the
effective transitions in :mod:`charz.blocks.adc.model_transfer`; resolution = ``step``, error within
+-step/2). The sweep goes on beyond the range by ``sweep_margin`` (max(1 LSB, 4 x the a-priori sigma
of the comparator's input pair)) inside the rails, in extra decks (the in-range decks, and their cached
runs, do not change), so that the end transitions of Monte Carlo instances are found. An edge outside
the sweep is NaN, except when the sweep ends at the upper rail (vref_hi = VDD, the default): an edge
never reached there is stored as ``rail + step/2`` (censored: no input inside the rails reaches the
code) and counted in ``provenance["checks"]["edges_beyond_upper_rail"]``. Energy is the mean over the
in-range levels only.

Fit check (``fit_check=True``, the default): 32 random inputs converted in random order in SPICE by the
nominal instance at every corner, against the behavioural decision procedure on the LUT's nominal
transitions: ``fit_quality["codes_random_order"]`` (max error in codes, fraction within +-1 LSB, fraction
exact). A ramp sweep hides history effects (each conversion follows a nearly equal input); random order
shows them (what that showed on ptm16hp is in this folder's ``README.md``).

Energy per conversion and conversion time
-----------------------------------------
Per conversion window (sample phase + n bit cycles + capture tail), from the sources' currents:
``sum_s max(0, V_s x Q_s)`` over the DC sources ``vdd`` (comparator), ``vhi``, ``vlo`` (references) and
``vcm`` (conventional top-plate common mode), with ``Q_s`` the net charge the source delivers (a
reference that sinks charge over a conversion is counted as 0, not as a gain), plus the clock driver's
pull-up charge ``VDD x Q+(vclk)`` (net charge over each clock-high window, clamped at 0) - then the mean
over all conversions of the sweep (uniform inputs). Not counted: the ideal SA logic and the drivers of
the switch gates (B-sources), and the input source's charge (the column / input driver pays it; its mean
is recorded as ``energy_input_J`` in ``provenance["checks"]``). ``t_conv`` = t_sample + n t_clk + 4 t_edge
(:attr:`SarParams.t_conv`). Both are stored at every edge (replicated, as the contract says).

Monte Carlo
-----------
Sample s is one converter instance: ``delvto`` (Pelgrom, the PDK's A_VT) on every transistor -
comparator, sampling / DAC switches, bitline drivers and share gates, and (mi_sar) the read ports of the
borrowed bitlines - plus, when ``a_cap`` > 0, a relative capacitor mismatch ``N(0, a_cap / sqrt(C / 1 fF))``
[a_cap in %*sqrt(fF)] on every explicit capacitor (conventional DAC units and the dummy top plate; the
bitline wire capacitors of mi_sar), applied with ``alter @c[capacitance]``. With the default ``a_cap = 0``
the conventional DAC's capacitors are **ideal** (no mismatch): its spread is then the comparator offset
(a shift of every edge) and switch effects only. The device mismatch of the borrowed cells changes their
leakage, hardly their drain capacitance (see the netlist module). The draws are stored
(``mc_delvto``, ``mc_devices``, ``mc_cap``, ``mc_caps``).

Failures never stop the sweep: a failed deck makes the transitions of that corner / sample NaN and is
listed in ``provenance["failed_points"]``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from typing import Sequence

import numpy as np

from .model_transfer import inl_dnl
from .model_area import area
from ...core.errors import ParameterError
from ...core.grid import grid
from ...core.lut import LUT, Axis, Kind
from ...core.mc import Draws, Mismatch
from .netlist import SarParams, decode, eval_time, timeline
from .netlist_deck import ramp_netlist, sar_caps, sar_devices
from ...core.pdk import PDK
from ...sim.executor import Executor
from ...core.validate import finite, round12 as _r12
from ...characterize.common import integral, sample_stats, steps_for
from ...characterize.recipe import Recipe

RECIPE = "adc_sa/1"
FIT_INPUTS, FIT_SEED = 32, 20261122
CONVERSIONS_PER_DECK = 64
UNITS = {"transition": "V", "energy": "J", "t_conv": "s", "transition_mean": "V", "transition_sigma": "V"}
SAR_OPTIONS = ("vref_lo", "vref_hi", "c_unit", "n_rows", "n_bitlines", "c_wire", "cell_sizes", "comparator_sizes",
               "c_load", "t_clk", "t_sample", "t_edge", "vcm_ratio", "w_switch", "w_drive", "lumped_cells", "t_step",
               "flash_bits", "r_ladder", "c_tap", "c_fs")


@dataclasses.dataclass(frozen=True)
class SarDraws:
    """Device ``delvto`` draws plus relative capacitor draws, as one Monte Carlo sample set (duck-types
    :class:`charz.core.mc.Draws` for :func:`run_points`)."""

    devices: Draws
    caps: tuple[str, ...]
    cap_values: np.ndarray  # (n, n_caps) F

    @property
    def n(self) -> int:
        """Number of Monte Carlo samples."""
        return self.devices.n

    def samples(self, start: int = 0, stop: int | None = None):
        """Alter triples for samples [start, stop): each sample's device triples followed by one ``(capacitor,
        "capacitance", value in F)`` per explicit capacitor."""
        dev = self.devices.samples(start, stop)
        stop = self.n if stop is None else stop
        out = []
        for s, row in zip(range(start, stop), dev):
            out.append(tuple(row) + tuple((c, "capacitance", float(self.cap_values[s, j])) for j, c in enumerate(self.caps)))
        return tuple(out)

    def arrays(self) -> dict[str, np.ndarray]:
        """The draws as LUT arrays: the device draws (:meth:`charz.core.mc.Draws.arrays`) plus ``mc_cap``
        (capacitances, F) and ``mc_caps`` (their names) when capacitors were drawn."""
        out = self.devices.arrays()
        if self.caps:
            out["mc_cap"] = self.cap_values
            out["mc_caps"] = np.asarray(self.caps)
        return out


def draw_caps(caps: Sequence[tuple[str, float]], n: int, seed: int, a_cap: float) -> np.ndarray:
    """(n, len(caps)) capacitor values [F]: C (1 + N(0, a_cap/100 / sqrt(C / 1 fF))), sample s from
    ``SeedSequence([seed, 1]).spawn(n)[s]`` (independent of the device draws of the same seed)."""
    nom = np.array([c for _, c in caps], dtype=float)
    rel = a_cap / 100.0 / np.sqrt(np.maximum(nom, 1e-18) / 1e-15)
    out = np.empty((n, nom.size))
    for s, child in enumerate(np.random.SeedSequence([int(seed), 1]).spawn(n)):
        z = np.random.default_rng(child).standard_normal(nom.size)
        out[s] = nom * np.maximum(1.0 + rel * z, 0.05)
    return out


def sweep_margin(params: SarParams, pdk: PDK) -> float:
    """How far the sweep goes beyond [vref_lo, vref_hi] [V]: max(1 LSB, 4 x the a-priori Pelgrom sigma
    of the comparator's input pair), so that Monte Carlo instances' end transitions stay in the sweep."""
    s = params.comparator_sizes
    return max(params.lsb, 4 * math.sqrt(2) * Mismatch(pdk.avt_mv_um).sigma_vth(s.w_in, s.l_in))


def margin_levels(params: SarParams, step: float, margin: float, rail: float) -> np.ndarray:
    """Levels below vref_lo and above vref_hi (same grid phase as :func:`input_levels`) within *margin*
    and inside the rails [0, rail]."""
    k = np.arange(int(math.ceil(margin / step)))
    below = params.vref_lo - (k + 0.5) * step
    above = params.vref_hi + (k + 0.5) * step
    out = np.concatenate([below[below >= 0.0], above[above <= rail + 1e-12]])
    return np.round(np.sort(out), 12)


def input_levels(params: SarParams, step: float) -> np.ndarray:
    """The input staircase of a transition sweep [V]: levels *step* apart, centred in each step, from
    ``vref_lo`` to ``vref_hi`` (rounded to 12 decimals)."""
    n = int(math.ceil((params.vref_hi - params.vref_lo) / step - 1e-9))
    return np.round(params.vref_lo + (np.arange(n) + 0.5) * step, 12)


def transitions_from_codes(levels: np.ndarray, codes: np.ndarray, bits: int, censor_top: float | None = None
                           ) -> np.ndarray:
    """Edge c (1..2^bits - 1) = midpoint between the last level whose code is < c and the first level
    (in increasing order) whose code is >= c; NaN outside the sweep or if any code is missing (-1).
    ``censor_top``: when the sweep ends at the upper rail, an edge never reached is stored as this
    value (the rail + step / 2: the code cannot be reached by any input inside the rails)."""
    order = np.argsort(levels)
    v, c = np.asarray(levels, float)[order], np.asarray(codes)[order]
    out = np.full((1 << bits) - 1, np.nan)
    if np.any(c < 0):
        return out
    for e in range(1, 1 << bits):
        hit = np.flatnonzero(c >= e)
        if hit.size and hit[0] > 0:
            j = hit[0]
            out[e - 1] = 0.5 * (v[j - 1] + v[j])
        elif not hit.size and censor_top is not None:
            out[e - 1] = censor_top
    return out


def measure(run: dict, params: SarParams, levels: Sequence[float]) -> dict:
    """Codes, energies per conversion (total and parts) and the input charge energy of one ramp run."""
    k = len(levels)
    codes, margin = decode(run, params, k)
    t = np.asarray(run["time"], dtype=float)
    tl = timeline(params, k)
    srcs = {"vdd": params.vdd, "vhi": params.vref_hi, "vlo": params.vref_lo}
    if params.kind == "sar":
        srcs["vcm"] = params.vcm
    clocks = ["vclk"] + (["vclkf"] if params.flash_bits else [])
    cur = {s: -np.asarray(run[f"i({s})"], dtype=float) for s in list(srcs) + clocks + ["vin"]}
    te = eval_time(params)
    parts = {s: [] for s in srcs}
    parts["clock"], e_in = [], []
    for m in range(k):
        a, b = tl.start[m], tl.start[m] + params.t_conv
        for s, v in srcs.items():
            parts[s].append(max(0.0, v * integral(t, cur[s], a, b)))
        q_clk = sum(max(0.0, integral(t, cur[s], c + params.t_clk - te, c + params.t_clk))
                    for c in tl.cycle[m][:-1] for s in clocks)
        parts["clock"].append(params.vdd * q_clk)
        e_in.append(float(levels[m]) * integral(t, cur["vin"], a, b))
    energy = np.sum([parts[s] for s in parts], axis=0)
    return {"codes": np.asarray(codes), "margin": float(min(margin)), "energy": energy,
            "parts": {s: np.asarray(v) for s, v in parts.items()}, "energy_input": np.asarray(e_in)}


class SarRecipe(Recipe):
    """The SA converters' recipe: ramp decks per corner (nominal + Monte Carlo instances), and the random-order
    fit check. Its LUT kind follows the parameters (``adc_sar``, ``adc_mi_sar`` or ``adc_hybrid``: set per
    instance from :attr:`SarParams.block`)."""

    kind = Kind.ADC_SAR
    version = RECIPE
    generator = "charz.blocks.adc.netlist_deck.ramp_netlist + charz.blocks.adc.recipe.characterize_sar"


@dataclasses.dataclass
class SarSweep:
    """The plan of a transition sweep: one :class:`SarParams` per corner, the input levels split in decks (the
    in-range decks first, then the margin decks) and the value of an edge censored at the upper rail."""

    corner: dict[tuple[int, int], SarParams]
    """(VDD index, temperature index) -> the corner's parameters (the same reference range everywhere)."""
    step: float
    """Spacing of the input levels [V]."""
    chunks: list[np.ndarray]
    """The input levels of every deck [V]."""
    n_inner: int
    """The first *n_inner* decks hold the in-range levels (energy is averaged over those)."""
    censor: float | None
    """The value stored for an edge never reached when the sweep ends at the upper rail (else None)."""

    @property
    def base(self) -> SarParams:
        """The first corner's parameters (the reference range, LSB and timing of every corner)."""
        return self.corner[(0, 0)]

    @property
    def levels(self) -> np.ndarray:
        """Every input level, in deck order [V]."""
        return np.concatenate(self.chunks)

    def points(self, pdk: PDK) -> tuple[list, list[tuple[int, int, int]]]:
        """The ramp decks ``(coords, Netlist)`` and their ``(i, j, deck)`` places."""
        points, where = [], []
        for (i, j), p in self.corner.items():
            for c, lv in enumerate(self.chunks):
                points.append(({"vdd": p.vdd, "temp": p.temp, "deck": c}, ramp_netlist(p, lv, pdk)))
                where.append((i, j, c))
        return points, where


def plan_sweep(pdk: PDK, bits: int, kind: str, vdds: list[float], temps: list[float], params: dict,
               input_step: float | None, steps_per_lsb: int | None, conversions_per_deck: int) -> SarSweep:
    """The corners and input decks of :func:`characterize_sar` (its arguments checked here)."""
    first = SarParams(pdk=pdk.name, bits=bits, kind=kind, vdd=vdds[0], temp=temps[0], **params)
    fixed = dict(params, vref_lo=first.vref_lo, vref_hi=first.vref_hi)
    corner = {(i, j): SarParams(pdk=pdk.name, bits=bits, kind=kind, vdd=v, temp=t, **fixed)
              for (i, v), (j, t) in itertools.product(enumerate(vdds), enumerate(temps))}
    base = corner[(0, 0)]
    step = base.lsb / steps_for(steps_per_lsb) if input_step is None else finite(input_step, "input_step (V)")
    if input_step is not None and steps_per_lsb is not None:
        raise ParameterError("give input_step or steps_per_lsb, not both")
    if not (base.lsb / 64 - 1e-15 <= step <= base.lsb / 2 + 1e-15):
        raise ParameterError(f"input_step = {step:g} V is out of range: give LSB/64 to LSB/2 ({base.lsb / 64:g} to {base.lsb / 2:g} V)")
    inner = input_levels(base, step)
    rail = min(vdds)
    outer = margin_levels(base, step, sweep_margin(base, pdk), rail)
    # the in-range decks first and unchanged by the margin (their cached runs stay valid), then the margin decks
    chunks = [inner[a:a + conversions_per_deck] for a in range(0, inner.size, conversions_per_deck)]
    n_inner = len(chunks)
    chunks += [outer[a:a + conversions_per_deck] for a in range(0, outer.size, conversions_per_deck)]
    top = float(np.concatenate([inner, outer]).max())
    censor = _r12(top + step / 2) if top + step > rail - 1e-12 else None
    return SarSweep(corner, step, chunks, n_inner, censor)


def _check_options(params: dict, a_cap, conversions_per_deck) -> float:
    """Refuse unknown :class:`SarParams` fields, a capacitor mismatch outside 0..50 %*sqrt(fF) and a deck size
    outside 1..512 conversions; the capacitor mismatch as a float."""
    unknown = set(params) - set(SAR_OPTIONS)
    if unknown:
        raise ParameterError(f"unknown SA converter parameter(s) {sorted(unknown)}: use {list(SAR_OPTIONS)}")
    a_cap = finite(a_cap, "a_cap (capacitor mismatch, %*sqrt(fF))")
    if not (0.0 <= a_cap <= 50.0):
        raise ParameterError(f"a_cap = {a_cap:g} %*sqrt(fF) is out of range: give 0 to 50")
    if isinstance(conversions_per_deck, bool) or not isinstance(conversions_per_deck, int) or not (1 <= conversions_per_deck <= 512):
        raise ParameterError(f"conversions_per_deck must be an integer from 1 to 512, got {conversions_per_deck!r}")
    return a_cap


def characterize_sar(
    pdk: PDK | str,
    bits: int = 5,
    kind: str = "sar",
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    input_step: float | None = None,
    a_cap: float = 0.0,
    conversions_per_deck: int = CONVERSIONS_PER_DECK,
    steps_per_lsb: int | None = None,
    fit_check: bool = True,
    **params,
) -> LUT:
    """Characterize an SA converter (``kind`` ``"sar"`` or ``"mi_sar"``, ``bits`` 3..6) - or, with
    ``flash_bits`` = m > 0, the hybrid (m MSBs by a coarse flash, the rest by that SA; block
    ``adc_hybrid``) - over VDD x temperature: nominal transfer curve (and ``mc`` Monte Carlo instances), energy per conversion and
    conversion time, as an ``adc_sar`` / ``adc_mi_sar`` LUT (contract: :mod:`charz.blocks.adc.model`).

    ``input_step`` [V]: spacing of the input sweep (default LSB / 8), or ``steps_per_lsb`` (2..64: the
    step is LSB / steps_per_lsb; give one of the two); ``a_cap`` [% * sqrt(fF)]:
    capacitor mismatch of the explicit capacitors under Monte Carlo (default 0: ideal capacitors);
    ``params``: further :class:`SarParams` fields. The reference range is fixed over the VDD grid: by
    default the :class:`SarParams` defaults at the lowest grid VDD."""
    r = SarRecipe(pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                  fit_check=fit_check)
    a_cap = _check_options(params, a_cap, conversions_per_deck)
    vdds, temps = r.vdds(vdd), r.temps(temp)
    sw = plan_sweep(r.pdk, bits, kind, vdds, temps, params, input_step, steps_per_lsb, conversions_per_deck)
    base = sw.base
    r.kind = base.block
    points, where = sw.points(r.pdk)
    draws = _draws(r, base, a_cap)
    # fit check: FIT_INPUTS random inputs in random order per corner (nominal instance), after the sweep
    fit_v = np.round(np.random.default_rng(FIT_SEED).uniform(base.vref_lo, base.vref_hi, FIT_INPUTS), 12)
    fit_points = [({"vdd": p.vdd, "temp": p.temp, "check": 1}, ramp_netlist(p, fit_v, r.pdk)) for p in sw.corner.values()]
    with r:
        res = r.run(points, draws, desc=f"{base.block}{bits} " + ("nominal" if draws is None else f"nominal + {r.mc} MC"),
                    timeout=600.0)
        fit_res = r.run(fit_points, desc=f"{base.block}{bits} fit check", timeout=600.0, fit=True) if fit_check else None

    trans, tables, samples, checks = _tables(sw, _collect(sw, where, res, r.mc), (len(vdds), len(temps)), bits, r.mc)
    units = {k: UNITS[k] for k in tables}
    smp = {}
    if r.mc > 0:
        smp["transition"] = samples
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tables["transition_mean"], tables["transition_sigma"] = sample_stats(samples)
        units["transition_mean"] = units["transition_sigma"] = "V"
    ne = (1 << bits) - 1
    axes = (Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps)),
            Axis("edge", "code", np.arange(1, ne + 1, dtype=float), discrete=True))
    gen = base.as_dict()
    for k in ("vdd", "temp"):
        gen.pop(k)
    gen.update({"vdd_grid": vdds, "temp_grid": temps, "input_step": sw.step, "a_cap_pct_sqrt_fF": a_cap,
                "conversions_per_deck": conversions_per_deck})
    applied = "delvto on every transistor" + (f" + capacitor mismatch a_cap = {a_cap:g} %*sqrt(fF)" if a_cap > 0 else
                                              "; explicit capacitors ideal (a_cap = 0)")
    prov = r.provenance(gen, points[0][1].sha256, draws=draws.devices if draws is not None else None,
                        mismatch={"applied_as": applied}, checks=checks)
    fq = {}
    if fit_res is not None:
        fq["codes_random_order"] = _fit_entry(fit_res, fit_points, list(sw.corner), sw.corner, trans, fit_v, bits,
                                              base.block, base.flash_bits or None)
    return LUT(block=base.block, axes=axes, tables=tables, units=units, samples=smp,
               conditions=_conditions(base, bits, kind, sw.step, r.pdk), provenance=prov,
               arrays=draws.arrays() if draws is not None else {}, fit_quality=fq)


def _draws(r: SarRecipe, base: SarParams, a_cap: float) -> SarDraws | None:
    """The Monte Carlo instances: Pelgrom ``delvto`` of every transistor plus, with *a_cap* > 0, the explicit
    capacitors' values (None without Monte Carlo)."""
    dev = r.draws(sar_devices(base, r.pdk))
    if dev is None:
        return None
    caps = sar_caps(base, r.pdk) if a_cap > 0 else ()
    return SarDraws(dev, tuple(c for c, _ in caps), draw_caps(caps, r.mc, r.seed, a_cap) if caps else np.zeros((r.mc, 0)))


@dataclasses.dataclass
class _Measured:
    """What the ramp runs of every corner gave: codes per input level (-1: not measured), the in-range
    conversions' energies (total and per source) and input charge energies, and the smallest latch margin."""

    nom_codes: dict
    mc_codes: dict
    energy: dict
    parts: dict
    e_in: dict
    margin: float


def _collect(sw: SarSweep, where: list[tuple[int, int, int]], res, mc: int) -> _Measured:
    """Decode every ramp run (nominal: codes, energies; Monte Carlo: codes) into per-corner records."""
    levels = sw.levels
    keys = list(sw.corner)
    out = _Measured({key: np.full(levels.size, -1) for key in keys}, {key: np.full((mc, levels.size), -1) for key in keys},
                    {key: [] for key in keys}, {key: {} for key in keys}, {key: [] for key in keys}, 1.0)
    offs = np.concatenate([[0], np.cumsum([len(c) for c in sw.chunks])])
    for (i, j, c), run, mruns in zip(where, res.nominal, res.mc):
        p, lv, sl = sw.corner[(i, j)], sw.chunks[c], slice(offs[c], offs[c + 1])
        if run is not None:
            m = measure(run, p, lv)
            out.nom_codes[(i, j)][sl] = m["codes"]
            out.margin = min(out.margin, m["margin"])
            if c < sw.n_inner:  # margin levels give transitions only; energy is the mean over inputs in range
                out.energy[(i, j)] += list(m["energy"])
                for s, v in m["parts"].items():
                    out.parts[(i, j)].setdefault(s, []).extend(v.tolist())
                out.e_in[(i, j)] += list(m["energy_input"])
        for s, srun in enumerate(mruns):
            if srun is not None:
                out.mc_codes[(i, j)][s, sl] = decode(srun, p, len(lv))[0]
    return out


def _tables(sw: SarSweep, m: _Measured, shape: tuple[int, int], bits: int, mc: int
            ) -> tuple[np.ndarray, dict, np.ndarray, dict]:
    """The nominal transitions, the tables ``transition``, ``energy``, ``t_conv``, the Monte Carlo transitions
    (vdd, temp, edge, sample) and the provenance checks (latch margin, static figures per corner, censored
    edges, the sweep)."""
    levels, censor = sw.levels, sw.censor
    (nv, nt), ne = shape, (1 << bits) - 1
    trans = np.full((nv, nt, ne), np.nan)
    e_tab = np.full((nv, nt, ne), np.nan)
    t_tab = np.full((nv, nt, ne), np.nan)
    samples = np.full((nv, nt, ne, mc), np.nan)
    checks: dict = {"min_latch_margin": round(m.margin, 4)}
    stats = {}
    censored = 0
    for (i, j), p in sw.corner.items():
        trans[i, j] = transitions_from_codes(levels, m.nom_codes[(i, j)], bits, censor)
        censored += int(np.sum(trans[i, j] == censor)) if censor is not None else 0
        if m.energy[(i, j)] and np.all(m.nom_codes[(i, j)] >= 0):
            e_tab[i, j] = float(np.mean(m.energy[(i, j)]))
        t_tab[i, j] = p.t_conv
        for s in range(mc):
            samples[i, j, :, s] = transitions_from_codes(levels, m.mc_codes[(i, j)][s], bits, censor)
            censored += int(np.sum(samples[i, j, :, s] == censor)) if censor is not None else 0
        st = inl_dnl(trans[i, j], (p.vref_lo, p.vref_hi))
        stats[f"vdd={p.vdd:g},temp={p.temp:g}"] = {
            "max_abs_dnl_lsb": _f(st["max_abs_dnl"]), "max_abs_inl_lsb": _f(st["max_abs_inl"]),
            "n_missing": int(st["n_missing"]), "offset_lsb": _f(st["offset_lsb"]),
            "energy_J": _f(e_tab[i, j, 0]),
            "energy_parts_J": {s: float(np.mean(v)) for s, v in m.parts[(i, j)].items()},
            "energy_input_J": float(np.mean(m.e_in[(i, j)])) if m.e_in[(i, j)] else None,
        }
    checks["nominal"] = stats
    checks["edges_beyond_upper_rail"] = censored
    checks["sweep"] = {"from_V": float(levels.min()), "to_V": float(levels.max()), "levels": int(levels.size),
                       "censored_edge_value_V": censor}
    return trans, {"transition": trans, "energy": e_tab, "t_conv": t_tab}, samples, checks


def _conditions(base: SarParams, bits: int, kind: str, step: float, pdk: PDK) -> dict:
    """The LUT's conditions: resolution, kind, reference range, area model, timing and what is modelled."""
    cdac = "mom" if kind == "sar" else "bitline"
    conditions = {
        "bits": bits, "kind": kind, "vref_lo": base.vref_lo, "vref_hi": base.vref_hi,
        "area_model": area(base.block, bits, pdk.name, c_unit_fF=base.c_unit * 1e15,
                           **({"flash_bits": base.flash_bits, "cdac": cdac, "dac_bits": bits, "c_fs_fF": base.c_fs * 1e15}
                              if base.flash_bits else {})).to_dict(),
        "input_step": step, "t_clk": base.t_clk, "t_sample": base.t_sample,
        "sa_logic": "ideal (behavioural registers and DAC control); switches, DAC and comparator transistor-level",
        "energy": "per conversion: sum of max(0, V x Q) of vdd, vhi, vlo" + (", vcm" if kind == "sar" else "")
                  + " + clock pull-up charge x VDD; switch-gate drivers and input charge not counted",
        "cdac": "binary MOM capacitors, bottom-plate sampling" if kind == "sar" else
                f"{1 << bits} borrowed bitlines of {base.n_rows} cells in groups 1,1,2,...; charge sharing",
    }
    if base.flash_bits:
        conditions.update(kind="hybrid", sa_kind=kind, sa_dac=conditions["cdac"], flash_bits=base.flash_bits, cdac=cdac,
                          dac_bits=bits, ladder_ohm=base.r_ladder, c_tap=base.c_tap,
                          n_cycles=base.n_cycles)
    return conditions


def _fit_entry(fit_res, fit_points, keys, corner, trans, v, bits, block, fb) -> dict:
    """SPICE codes of random-order inputs vs the behavioural decision on the LUT's nominal transitions."""
    from .model_transfer import decide
    from ...core.lut import fit_quality_entry

    pred, sim, where = [], [], []
    for (i, j), (pt, _), run in zip(keys, fit_points, fit_res.nominal):
        if run is None:
            continue
        sim.append(measure(run, corner[(i, j)], v)["codes"])
        pred.append(decide(v[None], trans[i, j][None], block, bits, fb)[0])
        where.append({k: pt[k] for k in ("vdd", "temp")})
    if not sim:
        return {"points": 0, "note": "the fit-check decks failed"}
    pred, sim = np.concatenate(pred), np.concatenate(sim)
    e = fit_quality_entry(pred, sim, "code", where)
    e["max_rel_err"] = None  # not meaningful for codes
    e["within_1_lsb"] = float(np.mean(np.abs(pred - sim) <= 1))
    e["exact"] = float(np.mean(pred == sim))
    e["method"] = (f"{v.size} random inputs (seed {FIT_SEED}) converted in random order in SPICE (nominal instance) vs "
                   "the behavioural decision procedure on the LUT's nominal transitions")
    return e


def _f(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def characterize(kind: str, pdk, *, bits=None, steps_per_lsb=None, vref=None, bitlines=None, flash_bits=None,
                 hybrid_dac=None, **common) -> LUT:
    """The registry's entry (``charz characterize adc_sar|adc_mi_sar|adc_hybrid|adc_flash``): *bits* (None =
    5), *steps_per_lsb* (None = 8), *vref* the input range as text ``LO,HI`` in V (None = per kind),
    *bitlines* the neighbour array's bitlines (memory-immersed kinds), *flash_bits* / *hybrid_dac* (the
    hybrid: coarse-flash MSBs, default bits // 2; DAC ``bitline`` or ``mom``); *common* as
    :attr:`charz.blocks.base.Block.recipe`."""
    kw = dict(common)
    if bits is not None:
        kw["bits"] = bits
    if steps_per_lsb is not None:
        kw["steps_per_lsb"] = steps_per_lsb
    if vref is not None:
        vr = grid(vref, "--vref")
        if len(vr) != 2:
            raise ParameterError(f"--vref {vref!r}: give the input range as LO,HI in volts, e.g. --vref 0.3,0.65")
        kw.update(vref_lo=vr[0], vref_hi=vr[1])
    if bitlines is not None:
        kw["n_bitlines"] = bitlines
    if kind == Kind.ADC_FLASH:
        from .recipe_flash import characterize_flash

        kw.pop("fit_check", None)
        return characterize_flash(pdk, **kw)
    if kind == Kind.ADC_HYBRID:
        b = 5 if bits is None else bits
        return characterize_sar(pdk, kind={"bitline": "mi_sar", "mom": "sar", None: "mi_sar"}[hybrid_dac],
                                flash_bits=max(1, b // 2) if flash_bits is None else flash_bits, **kw)
    return characterize_sar(pdk, kind=kind[4:], **kw)


__all__ = ["characterize_sar", "SarRecipe", "SarSweep", "plan_sweep", "measure", "transitions_from_codes", "input_levels", "draw_caps", "SarDraws", "RECIPE"]
