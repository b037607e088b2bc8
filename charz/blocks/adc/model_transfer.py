"""Transfer curves of the behavioral converters (:mod:`charz.blocks.adc.model`): resolutions and kinds, the
decision procedures, effective transitions, INL / DNL, and a synthetic LUT.

Decision procedures
-------------------
Drawn edge levels need not be increasing. What a crossing means depends on the decision procedure,
which is modelled explicitly (vectorized over instances and inputs; the only Python loop is over the
n bits):

- SA (``adc_sar``, ``adc_mi_sar``): binary search, bit by bit from the MSB; the trial code c is
  kept when ``v >= t[c]``. A crossing (``t[c] > t[c+1]``) gives **missing codes**: codes the search
  can never return.
- flash: comparator c fires when ``v >= t[c]``; the encoder counts the ones of the thermometer code
  (a ones counter, bubble tolerant). A crossing swaps which comparator fires first; the code is
  still monotonic in v. For a bubble-free thermometer code the ones count equals the position of the
  1-to-0 step (the classic 1-of-n + ROM encoder): see :func:`thermometer_to_binary`.
- hybrid: the flash decides the MSBs by counting the coarse comparators (edges at multiples of
  2^(n-m)), then SA decides the n - m LSBs within that segment with the segment's fine edges. A coarse
  comparator that fires early leaves the SA stuck at the segment's first code (missing codes).

Every procedure gives a code that never decreases with v, so it is fully described by its
**effective transitions** ``e[c] = min{v : code(v) >= c}``, found by running the procedure at every
drawn edge level. ``e`` is non-decreasing; ``e[c] == e[c+1]`` means code c is missing; ``e[c] = +inf``
means codes >= c are never reached. :meth:`charz.blocks.adc.model.ConverterBank.convert` is then
``searchsorted(e_i, v, side="right")`` per instance i, vectorized over all instances and inputs.

INL / DNL (:func:`inl_dnl`)
---------------------------
From effective transitions, in LSB. DNL of inner code c (1 .. 2^n - 2) = ``(e[c+1] - e[c]) / LSB - 1``
(the two end codes are open-ended and have no width). INL at edge c = ``(e[c] - line(c)) / LSB``.
``method="endpoint"`` (default): the line through the first and last transitions, LSB = their
distance / (2^n - 2): offset and gain errors removed. ``"bestfit"``: least-squares line through all
finite transitions, LSB = its slope. ``"absolute"``: ideal edges ``vref_lo + c * (vref_hi -
vref_lo) / 2^n``: offset and gain errors included. A code is **missing** when its bin
``[e[c], e[c+1])`` (with ``e[0] = -inf``, ``e[2^n] = +inf``) has no positive width inside
``[vref_lo, vref_hi]``.

:func:`synthetic_adc_lut` writes the LUT contract of :mod:`charz.blocks.adc.model` from a simple unit-element
model. It is **synthetic** (no SPICE behind it), for tests and examples; never report circuit figures from it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...core.errors import LUTError, ParameterError
from ...core.lut import ADC_KINDS, LUT, Axis, Kind
from ...core.validate import finite

BLOCKS = ADC_KINDS
MIN_BITS, MAX_BITS = 2, 6
INL_METHODS = ("endpoint", "bestfit", "absolute")


# ---- validation ---------------------------------------------------------------------------------
def check_bits(bits, what: str = "ADC resolution") -> int:
    """*bits* as an int in MIN_BITS..MAX_BITS, else a one-line ParameterError."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not (MIN_BITS <= bits <= MAX_BITS):
        raise ParameterError(f"{what} must be an integer from {MIN_BITS} to {MAX_BITS} bits, got {bits!r}")
    return int(bits)


def block_name(kind: str) -> str:
    """``"sar"`` / ``"adc_sar"`` / ``"mi_sar"`` ... -> the LUT block name."""
    k = str(kind).lower().replace("-", "_")
    b = k if k.startswith("adc_") else f"adc_{k}"
    if b not in BLOCKS:
        raise ParameterError(f"unknown converter kind {kind!r}: choose one of {', '.join(BLOCKS)}")
    return b


def _flash_bits(block: str, bits: int, fb) -> int | None:
    if block != Kind.ADC_HYBRID:
        return None
    if fb is None:
        raise LUTError("adc_hybrid LUT has no 'flash_bits' condition: regenerate it (flash MSBs of the hybrid)")
    if isinstance(fb, bool) or not isinstance(fb, (int, np.integer)) or not (1 <= fb < bits):
        raise ParameterError(f"flash_bits of a {bits}-bit hybrid must be an integer from 1 to {bits - 1}, got {fb!r}")
    return int(fb)


# ---- decision procedures (vectorized; loops over bits only) -------------------------------------
def _count_le(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Number of t along the last axis that are <= v: v (..., P), t (..., E) -> (..., P)."""
    return np.count_nonzero(t[..., None, :] <= v[..., :, None], axis=-1).astype(np.int64)


def _sa_search(v: np.ndarray, t: np.ndarray, nbits: int, c0: np.ndarray) -> np.ndarray:
    c = c0.astype(np.int64, copy=True)
    for i in reversed(range(nbits)):
        trial = c + (1 << i)
        level = np.take_along_axis(t, trial - 1, axis=-1)
        c = np.where(v >= level, trial, c)
    return c


def decide(v, t, block: str, bits: int, flash_bits: int | None = None) -> np.ndarray:
    """Codes the converter's decision procedure gives for inputs *v* (..., P) with edge levels *t*
    (..., 2^bits - 1) (leading dimensions broadcast): SA binary search, flash ones count, or hybrid
    flash-then-SA (see the module doc). Works for any (non-monotonic) edge levels."""
    v = np.asarray(v, dtype=float)
    t = np.asarray(t, dtype=float)
    lead = np.broadcast_shapes(v.shape[:-1], t.shape[:-1])
    v = np.broadcast_to(v, lead + v.shape[-1:])
    t = np.broadcast_to(t, lead + t.shape[-1:])
    if block == Kind.ADC_FLASH:
        return _count_le(v, t)
    if block in (Kind.ADC_SAR, Kind.ADC_MI_SAR):
        return _sa_search(v, t, bits, np.zeros(v.shape, dtype=np.int64))
    if block == Kind.ADC_HYBRID:
        step = 1 << (bits - flash_bits)
        coarse = _count_le(v, t[..., step - 1 :: step])  # the 2^m - 1 flash comparators
        return _sa_search(v, t, bits - flash_bits, coarse * step)
    raise ParameterError(f"unknown converter block {block!r}")


def effective_transitions(raw, block: str, bits: int, flash_bits: int | None = None) -> np.ndarray:
    """Effective transitions ``e[c] = min{v : code(v) >= c}`` of edge levels *raw* (..., 2^bits - 1).

    Non-decreasing along the last axis; equal neighbours = a missing code; +inf = never reached.
    The code of a converter is a non-decreasing step function of v that can only step at a drawn edge
    level, so running the decision procedure at every edge level finds it exactly."""
    raw = np.asarray(raw, dtype=float)
    e = raw.shape[-1]
    if e != (1 << bits) - 1:
        raise ParameterError(f"{bits}-bit converter needs {(1 << bits) - 1} transition edges, got {e}")
    r = raw.reshape(-1, e)
    n = r.shape[0]
    codes = decide(r, r, block, bits, flash_bits)  # code at input = each edge level
    lowest = np.full((n, e + 1), np.inf)
    np.minimum.at(lowest, (np.repeat(np.arange(n), e), codes.ravel()), r.ravel())
    eff = np.minimum.accumulate(lowest[:, :0:-1], axis=1)[:, ::-1]  # min over codes >= c, c = 1..E
    return eff.reshape(raw.shape)


def thermometer_to_binary(thermometer) -> np.ndarray:
    """1-of-n + ROM encoder of a flash thermometer code (..., 2^n - 1) of 0/1: the code is the
    position of the highest comparator whose output is 1 and whose upper neighbour is 0 (0 if none).
    Equals the ones count when the thermometer code has no bubbles."""
    th = np.asarray(thermometer).astype(bool)
    upper = np.concatenate([th[..., 1:], np.zeros(th.shape[:-1] + (1,), dtype=bool)], axis=-1)
    one_hot = th & ~upper
    pos = np.arange(1, th.shape[-1] + 1)
    return np.max(np.where(one_hot, pos, 0), axis=-1).astype(np.int64)


# ---- INL / DNL ----------------------------------------------------------------------------------
def inl_dnl(transitions, vref: Sequence[float], method: str = "endpoint") -> dict:
    """INL and DNL in LSB, and missing codes, of effective transitions (..., 2^n - 1).

    Returns ``dnl`` (..., 2^n - 2) for inner codes 1..2^n - 2, ``inl`` (..., 2^n - 1) at edges
    1..2^n - 1, ``lsb`` [V] (...), ``missing`` bool (..., 2^n) per code, ``n_missing`` (...),
    ``max_abs_dnl`` / ``max_abs_inl`` (...), ``offset_lsb`` (first edge vs ideal, in ideal LSB) and
    ``method``. Definitions in the module doc. Non-finite transitions (never-reached codes) give NaN
    INL/DNL there."""
    if method not in INL_METHODS:
        raise ParameterError(f"INL method must be one of {', '.join(INL_METHODS)}, got {method!r}")
    lo, hi = (float(x) for x in vref)
    if not hi > lo:
        raise ParameterError(f"vref must be (lo, hi) with hi > lo, got ({lo:g}, {hi:g})")
    t = np.asarray(transitions, dtype=float)
    e = t.shape[-1]
    levels = e + 1
    if levels < 4 or levels & (levels - 1):
        raise ParameterError(f"transitions must have 2^n - 1 edges (n >= 2), got {e}")
    c = np.arange(1, e + 1, dtype=float)
    tf = np.where(np.isfinite(t), t, np.nan)
    ideal_lsb = (hi - lo) / levels
    if method == "absolute":
        lsb = np.full(t.shape[:-1], ideal_lsb)
        line = lo + c * ideal_lsb
    elif method == "endpoint":
        first, last = tf[..., 0], tf[..., -1]
        lsb = (last - first) / (e - 1)
        line = first[..., None] + (c - 1) * lsb[..., None]
    else:
        w = np.isfinite(tf)
        nw = w.sum(-1)
        cm = np.where(w, c, 0).sum(-1) / np.maximum(nw, 1)
        tm = np.where(w, tf, 0).sum(-1) / np.maximum(nw, 1)
        dc = np.where(w, c - cm[..., None], 0)
        lsb = (dc * np.where(w, tf - tm[..., None], 0)).sum(-1) / np.maximum((dc**2).sum(-1), 1e-300)
        line = tm[..., None] + (c - cm[..., None]) * lsb[..., None]
    lsb_safe = np.where(np.abs(lsb) > 0, lsb, np.nan)
    if np.ndim(lsb_safe) == 0:
        lsb_safe = float(lsb_safe)
    inl = (tf - line) / np.expand_dims(lsb_safe, -1)
    dnl = np.diff(tf, axis=-1) / np.expand_dims(lsb_safe, -1) - 1.0
    lower = np.concatenate([np.full(t.shape[:-1] + (1,), -np.inf), t], axis=-1)
    upper = np.concatenate([t, np.full(t.shape[:-1] + (1,), np.inf)], axis=-1)
    missing = ~((np.minimum(upper, hi) - np.maximum(lower, lo)) > 0)
    with np.errstate(all="ignore"):
        max_dnl = np.nanmax(np.abs(dnl), axis=-1) if dnl.shape[-1] else np.zeros(t.shape[:-1])
        max_inl = np.nanmax(np.abs(inl), axis=-1)
    return {
        "method": method,
        "dnl": dnl,
        "inl": inl,
        "lsb": lsb,
        "missing": missing,
        "n_missing": missing.sum(-1),
        "max_abs_dnl": max_dnl,
        "max_abs_inl": max_inl,
        "offset_lsb": (tf[..., 0] - (lo + ideal_lsb)) / ideal_lsb,
    }


# ---- synthetic LUT (tests only) -----------------------------------------------------------------
def synthetic_adc_lut(
    kind: str = Kind.ADC_SAR,
    bits: int = 5,
    vref: Sequence[float] = (0.0, 0.6),
    vdd: Sequence[float] = (0.6, 0.7, 0.8),
    temp: Sequence[float] = (27.0,),
    sigma_offset: float = 0.0,
    sigma_dnl: float = 0.0,
    n_samples: int = 0,
    energy: float = 50e-15,
    t_conv: float = 1e-9,
    seed: int = 0,
    flash_bits: int | None = None,
) -> LUT:
    """A SYNTHETIC digitizer LUT (no SPICE behind it) in the contract of :mod:`charz.blocks.adc.model`: for tests and
    examples only. Its provenance says ``pdk: synthetic``.

    Nominal edges are ideal, ``vref_lo + c * LSB`` at every (vdd, temp). ``energy`` [J] and ``t_conv``
    [s] are the values at the middle grid VDD; energy scales with VDD^2 and conversion time with
    1/VDD; both are replicated along ``edge``. With ``n_samples > 0`` each Monte Carlo sample is one
    converter instance (the same instances at every corner):

    - SA (``adc_sar``, ``adc_mi_sar``): unit-element binary DAC of 2^n units (bit i = 2^i units, plus
      one dummy unit; for the memory-immersed SA a unit is a bitline), each unit ``1 + N(0,
      sigma_dnl)`` (relative mismatch, i.e. about ``sigma_dnl`` LSB per unit), edge c =
      ``vref_lo + range * (units of the bits of c) / (all units)``; one comparator offset
      ``N(0, sigma_offset)`` [V] shifts every edge;
    - flash: a ladder of 2^n unit resistors ``1 + N(0, sigma_dnl)``, and every comparator its own
      offset ``N(0, sigma_offset)``;
    - hybrid: the flash comparators (edges at multiples of 2^(n-m)) on their own ladder taps with own
      offsets; the SA part's edges = nominal segment bottom + segment width x its unit DAC fraction +
      the SA comparator offset.
    """
    block = block_name(kind)
    bits = check_bits(bits)
    fb = None
    if block == Kind.ADC_HYBRID:
        fb = _flash_bits(block, bits, max(1, bits // 2) if flash_bits is None else flash_bits)
    lo, hi = (finite(x, "vref") for x in vref)
    vdd_v = np.asarray(sorted(float(x) for x in vdd), dtype=float)
    temp_v = np.asarray(sorted(float(x) for x in temp), dtype=float)
    if not (0.0 <= lo < hi <= vdd_v[0] + 1e-12):
        raise ParameterError(
            f"reference range [{lo:g}, {hi:g}] V must lie inside the rails [0, {vdd_v[0]:g}] V (lowest grid VDD)"
        )
    for name, x in (("sigma_offset", sigma_offset), ("sigma_dnl", sigma_dnl), ("energy", energy), ("t_conv", t_conv)):
        if finite(x, name) < 0:
            raise ParameterError(f"{name} must be >= 0, got {x!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise ParameterError(f"n_samples must be an integer >= 0, got {n_samples!r}")
    e = (1 << bits) - 1
    levels = e + 1
    c = np.arange(1, levels)
    t_ideal = lo + c * (hi - lo) / levels
    shape = (vdd_v.size, temp_v.size, e)
    vnom = float(vdd_v[vdd_v.size // 2])
    scale_e = (vdd_v / vnom) ** 2
    scale_t = vnom / vdd_v
    tables = {
        "transition": np.broadcast_to(t_ideal, shape).copy(),
        "energy": np.broadcast_to((energy * scale_e)[:, None, None], shape).copy(),
        "t_conv": np.broadcast_to((t_conv * scale_t)[:, None, None], shape).copy(),
    }
    units = {"transition": "V", "energy": "J", "t_conv": "s"}
    samples = {}
    if n_samples > 0:
        rng = np.random.default_rng(seed)
        inst = _synthetic_instances(block, bits, fb, lo, hi, sigma_offset, sigma_dnl, n_samples, rng)  # (S, E)
        s = np.broadcast_to(inst.T, shape + (n_samples,)).copy()
        samples["transition"] = s
        tables["transition_mean"] = s.mean(-1)
        tables["transition_sigma"] = s.std(-1, ddof=1) if n_samples > 1 else np.zeros(shape)
        units.update({"transition_mean": "V", "transition_sigma": "V"})
    conditions = {"bits": bits, "kind": block[4:], "vref_lo": lo, "vref_hi": hi,
                  "area_model": {"note": "synthetic LUT: no layout; see charz.blocks.adc.model_area.area(kind, bits, pdk)"}}
    if fb is not None:
        conditions["flash_bits"] = fb
        conditions["cdac"] = "bitline"
    return LUT(
        block=block,
        axes=(Axis("vdd", "V", vdd_v), Axis("temp", "degC", temp_v), Axis("edge", "code", c.astype(float), discrete=True)),
        tables=tables, units=units, samples=samples, conditions=conditions,
        provenance={
            "pdk": "synthetic", "generator": "charz.blocks.adc.model_transfer.synthetic_adc_lut", "synthetic": True,
            "parameters": {"kind": block, "bits": bits, "vref": [lo, hi], "sigma_offset": sigma_offset,
                           "sigma_dnl": sigma_dnl, "energy": energy, "t_conv": t_conv, "flash_bits": fb},
            "vdd_nom": vnom, "mc_samples": int(n_samples), "mc_seed": seed,
        },
    )


def _synthetic_instances(block, bits, fb, lo, hi, s_off, s_dnl, n, rng) -> np.ndarray:
    e = (1 << bits) - 1
    span = hi - lo
    codes = np.arange(1, e + 1)

    def sa_fraction(nb, n_inst):
        units = 1.0 + s_dnl * rng.standard_normal((n_inst, 1 << nb))  # unit 0 = dummy, then 1, 2, 4, ...
        w = np.stack([units[:, (1 << i) : (1 << (i + 1))].sum(1) for i in range(nb)], axis=1)  # (S, nb)
        total = units.sum(1, keepdims=True)
        cbits = (np.arange(1 << nb)[:, None] >> np.arange(nb)[None, :]) & 1  # (2^nb, nb)
        return (w @ cbits.T) / total  # (S, 2^nb): DAC fraction of every code

    def ladder(nb, n_inst):
        r = 1.0 + s_dnl * rng.standard_normal((n_inst, 1 << nb))
        return np.cumsum(r, axis=1)[:, :-1] / r.sum(1, keepdims=True)  # (S, 2^nb - 1) tap fractions

    if block in (Kind.ADC_SAR, Kind.ADC_MI_SAR):
        frac = sa_fraction(bits, n)[:, codes]
        return lo + span * frac + s_off * rng.standard_normal((n, 1))
    if block == Kind.ADC_FLASH:
        return lo + span * ladder(bits, n) + s_off * rng.standard_normal((n, e))
    # hybrid
    sb = bits - fb
    step = 1 << sb
    coarse = lo + span * ladder(fb, n) + s_off * rng.standard_normal((n, (1 << fb) - 1))
    fine = sa_fraction(sb, n)  # (S, 2^sb)
    seg = codes // step  # segment of every edge
    within = codes % step
    t = lo + span * (seg * step + fine[:, within] * step) / (e + 1) + s_off * rng.standard_normal((n, 1))
    t[:, within == 0] = coarse
    return t
