"""Circuit facts of the behavioral time-domain FP8 MAC (:mod:`charz.blocks.td_mac.model`): the
:class:`TdMacCircuit` (nominal line curves, TDC thresholds, Monte Carlo deviations, capacitor matching,
accumulation transfer, energies; every time in units of the unit delay tau), :meth:`TdMacCircuit.ideal`,
:func:`synthetic_circuit` (tests and examples only) and :func:`circuit_from_luts` (the circuit as
characterized: the td_delay, td_tdc and td_acc LUTs and a read-out converter LUT, at one operating point;
:data:`DEFAULT_LUTS`, :data:`DEFAULT_VDD`, :func:`adc_corner`).
"""

from __future__ import annotations

import dataclasses
import numbers
import os

import numpy as np

from ...core.errors import ParameterError
from ...core.validate import finite, posint
from ...behavior import fp8
from .model_trim import BiasTrim


# ---- the circuit ---------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class TdMacCircuit:
    """Circuit facts of the time-domain MAC; every time in units of tau, energies in J.

    ``delay_mean`` (2^e,): one line's mean delay vs code minus code 0's (ideal: 0, 1, 2, ...).
    ``delay_dev`` (S, 2^e): Monte Carlo instances' delay minus ``delay_mean`` (absolute: the code-0
    intercept's deviation included), or None. ``tdc_thr`` (W,) element-TDC thresholds and ``tdc_dev``
    (S, W); ``scale_thr`` (K_s,) shared-scale thresholds and ``scale_dev`` (S, K_s) (S may differ per
    part). ``jitter``: random sigma of one edge's arrival (per edge, per call). ``cap_sigma``: relative
    sigma of ONE unit cap. ``acc_transfer``: (codes, volts), the line difference in unit caps -> volts
    (volts increasing), or None (ideal linear). Energies: ``e_line`` per line per scalar product
    (scalar or per code), ``e_tdc`` per element TDC, ``e_shared`` per scalar product (detector +
    shared-scale TDC), ``e_cap_unit`` per unit cap switched, ``e_readout`` per conversion (used when
    the read-out is an int number of bits). ``label``, ``source`` (provenance, LUT paths), ``notes``.
    """

    delay_mean: np.ndarray
    tdc_thr: np.ndarray
    scale_thr: np.ndarray
    delay_dev: np.ndarray | None = None
    tdc_dev: np.ndarray | None = None
    scale_dev: np.ndarray | None = None
    jitter: float = 0.0
    cap_sigma: float = 0.0
    acc_transfer: tuple | None = None
    e_line: float | np.ndarray = 0.0
    e_tdc: float = 0.0
    e_shared: float = 0.0
    e_cap_unit: float = 0.0
    e_readout: float = 0.0
    label: str = "ideal circuit"
    source: dict = dataclasses.field(default_factory=dict)
    notes: tuple = ()
    bias_trim: "BiasTrim | None" = None
    """The lines at every characterized bias ratio (a ``td_delay`` LUT made with ``--bias-trim``), or None:
    what the per-line bias calibration of :mod:`charz.blocks.td_mac.model_trim` works with."""

    def __post_init__(self):
        def vec(name):
            v = np.asarray(getattr(self, name), dtype=float)
            if v.ndim != 1 or v.size < 1 or not np.all(np.isfinite(v)):
                raise ParameterError(f"TdMacCircuit.{name} must be a non-empty 1-D array of finite numbers (tau), "
                                     f"got shape {v.shape}")
            object.__setattr__(self, name, v)
            return v

        dm = vec("delay_mean")
        if dm.size < 2 or dm.size & (dm.size - 1):
            raise ParameterError(f"TdMacCircuit.delay_mean must have 2^e entries (one per line code), got {dm.size}")
        vec("tdc_thr")
        vec("scale_thr")
        for name, ref in (("delay_dev", "delay_mean"), ("tdc_dev", "tdc_thr"), ("scale_dev", "scale_thr")):
            d = getattr(self, name)
            if d is None:
                continue
            d = np.asarray(d, dtype=float)
            k = getattr(self, ref).size
            if d.ndim != 2 or d.shape[1] != k:
                raise ParameterError(f"TdMacCircuit.{name} must be (instances, {k}) like {ref}, got shape {d.shape}")
            object.__setattr__(self, name, d)
        for name in ("jitter", "cap_sigma", "e_tdc", "e_shared", "e_cap_unit", "e_readout"):
            v = finite(getattr(self, name), f"TdMacCircuit.{name}")
            if v < 0:
                raise ParameterError(f"TdMacCircuit.{name} must be >= 0, got {v:g}")
            object.__setattr__(self, name, v)
        el = np.asarray(self.e_line, dtype=float)
        if not (el.ndim == 0 or el.shape == dm.shape) or not np.all(np.isfinite(el)) or np.any(el < 0):
            raise ParameterError(f"TdMacCircuit.e_line must be a number >= 0 or one per code ({dm.size}), J")
        object.__setattr__(self, "e_line", el)
        if self.acc_transfer is not None:
            c, v = (np.asarray(x, dtype=float) for x in self.acc_transfer)
            increasing = c.size >= 2 and np.all(np.diff(c) > 0) and np.all(np.diff(v) > 0)
            if c.ndim != 1 or c.shape != v.shape or not increasing:
                raise ParameterError("TdMacCircuit.acc_transfer must be (codes, volts): two 1-D arrays of the same "
                                     "length >= 2, both strictly increasing")
            object.__setattr__(self, "acc_transfer", (c, v))
        object.__setattr__(self, "source", dict(self.source))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def synthetic(self) -> bool:
        """True when the circuit facts are synthetic (tests, :func:`synthetic_circuit`), not from SPICE
        LUTs."""
        return bool(self.source.get("synthetic"))

    @classmethod
    def ideal(cls, fmt="e4m3", window: int | None = 8) -> "TdMacCircuit":
        """The ideal circuit for *fmt*: linear lines (delay = code tau), thresholds at (k - 0.5) tau
        (``window`` element-TDC thresholds; None: one per possible exponent difference), a shared-scale
        TDC covering every exponent sum, no mismatch, no jitter, 0 J."""
        f = fp8.get_format(fmt)
        w = _dmax(f) + 1 if window is None else _check_window(window, f)
        return cls(
            delay_mean=np.arange(f.n_codes, dtype=float),
            tdc_thr=np.arange(1, w + 1) - 0.5,
            scale_thr=np.arange(1, 2 * f.max_exp_field + 1) - 0.5,
            label="ideal circuit (no mismatch, 0 J)",
            source={"ideal": True, "format": f.name},
        )

    @classmethod
    def from_luts(cls, delay=None, tdc=None, acc=None, adc=None, vdd: float | None = None, temp: float | None = None,
                  fmt="e4m3", pdk: str = "ptm16hp") -> "TdMacCircuit":
        """The circuit as characterized in SPICE: see :func:`circuit_from_luts`."""
        return circuit_from_luts(delay, tdc, acc, adc, vdd=vdd, temp=temp, fmt=fmt, pdk=pdk)

    def describe(self) -> dict:
        """A JSON-ready summary: label, number of codes and thresholds, Monte Carlo instances per part, jitter
        and capacitor sigma, whether a measured accumulation transfer is used, energies (J), source and
        notes."""
        def mc(d):
            return 0 if d is None else int(d.shape[0])

        return {
            "label": self.label,
            "synthetic": self.synthetic,
            "codes": int(self.delay_mean.size),
            "tdc_thresholds": int(self.tdc_thr.size),
            "scale_thresholds": int(self.scale_thr.size),
            "mc_instances": {"lines": mc(self.delay_dev), "tdc": mc(self.tdc_dev), "scale": mc(self.scale_dev)},
            "jitter_tau": self.jitter,
            "cap_sigma": self.cap_sigma,
            "acc_transfer": self.acc_transfer is not None,
            "energy_J": {"line": self.e_line.tolist(), "tdc": self.e_tdc, "shared": self.e_shared,
                         "cap_unit": self.e_cap_unit, "readout": self.e_readout},
            "source": dict(self.source),
            "notes": list(self.notes),
        }


def synthetic_circuit(fmt="e4m3", window: int | None = 8, delay_sigma: float = 0.05, tdc_sigma: float = 0.1,
                      cap_sigma: float = 0.02, n: int = 16, seed: int = 0) -> TdMacCircuit:
    """A SYNTHETIC :class:`TdMacCircuit` (Gaussian Monte Carlo, made-up energies, no SPICE): tests and
    examples only, never for reported figures.

    Nominal curves are ideal. ``n`` Monte Carlo instances: a line of e binary-weighted stages (stage k
    = 2^k unit delays) has a code-0 intercept error N(0, delay_sigma^2) and stage errors
    N(0, 2^k delay_sigma^2) (independent unit delays of sigma ``delay_sigma`` tau), so
    ``delay_dev[c] = intercept + sum_k bit_k(c) stage_k``; every TDC threshold (element and shared-scale)
    is off by N(0, tdc_sigma^2) tau, independently; ``cap_sigma`` is passed on. Energies (J):
    e_line = (1 + 0.1 code) fJ, e_tdc = 5 fJ, e_shared = 20 fJ, e_cap_unit = 0.05 fJ, e_readout = 100 fJ.
    """
    f = fp8.get_format(fmt)
    base = TdMacCircuit.ideal(f, window)
    for name, v in (("delay_sigma", delay_sigma), ("tdc_sigma", tdc_sigma), ("cap_sigma", cap_sigma)):
        if finite(v, name) < 0:
            raise ParameterError(f"{name} must be >= 0, got {v!r}")
    n = posint(n, "n (synthetic Monte Carlo instances)")
    rng = np.random.default_rng(_seed(seed))
    codes = np.arange(f.n_codes)
    stage = rng.standard_normal((n, f.ebits)) * delay_sigma * np.sqrt(2.0 ** np.arange(f.ebits))
    bits = (codes[:, None] >> np.arange(f.ebits)) & 1
    delay_dev = rng.standard_normal((n, 1)) * delay_sigma + stage @ bits.T
    tdc_dev = rng.standard_normal((n, base.tdc_thr.size)) * tdc_sigma
    scale_dev = rng.standard_normal((n, base.scale_thr.size)) * tdc_sigma
    params = {"format": f.name, "window": window, "delay_sigma": delay_sigma, "tdc_sigma": tdc_sigma,
              "cap_sigma": cap_sigma, "n": n, "seed": seed}
    return dataclasses.replace(
        base, delay_dev=delay_dev, tdc_dev=tdc_dev, scale_dev=scale_dev, cap_sigma=float(cap_sigma),
        e_line=(1.0 + 0.1 * codes) * 1e-15, e_tdc=5e-15, e_shared=20e-15, e_cap_unit=0.05e-15, e_readout=100e-15,
        label=(f"SYNTHETIC TD-MAC circuit (Gaussian mismatch, no SPICE): delay sigma {delay_sigma:g} tau/unit, "
               f"TDC sigma {tdc_sigma:g} tau, unit-cap sigma {cap_sigma:g}, {n} instances"),
        source={"synthetic": True, "generator": "charz.blocks.td_mac.model_circuit.synthetic_circuit", "parameters": params},
        notes=("synthetic: for tests and examples only, never report figures from it",),
    )


# ---- helpers -------------------------------------------------------------------------------------
def _dmax(f: fp8.Fp8Format) -> int:
    """Largest exponent difference of two finite products: 2 (max exponent field - 1)."""
    return 2 * (f.max_exp_field - 1)


def _check_window(window, f: fp8.Fp8Format) -> int:
    top = _dmax(f) + 1
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or not 1 <= window <= top:
        raise ParameterError(f"window must be an integer from 1 to {top} (element-TDC thresholds; an element "
                             f"window or more exponents below the largest is dropped) or None (never drop), "
                             f"got {window!r}")
    return int(window)


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


# ---- the circuit as characterized: LUTs -> TdMacCircuit -----------------------------------------------
DEFAULT_LUTS = {"delay": "td_delay4", "tdc": "td_tdc", "acc": "td_acc", "adc": "adc_sar6"}
"""LUT names (``<pdk>/<name>`` on the LUT search path, :func:`charz.core.lut.find_default`) that
:func:`circuit_from_luts` and :func:`model_from_luts` read when none is given."""


def default_lut(pdk: str, key: str):
    """The default LUT path of part *key* (``delay``, ``tdc``, ``acc``, ``adc``) for PDK *pdk*."""
    from ...core.lut import find_default

    return find_default(pdk, DEFAULT_LUTS[key])


def _lut(x, block: str, pdk: str, key: str):
    from ...core.lut import LUT

    if isinstance(x, LUT):
        if x.block != block:
            from ...core.errors import LUTError

            raise LUTError(f"{key} LUT is a {x.block!r} LUT, expected {block!r}")
        return x, None
    if x is None:
        x = default_lut(pdk, key)
    return LUT.load(x, block=block), str(x)


DEFAULT_VDD = 0.8
"""The TD-MAC's default operating VDD when none is given (and it is on the TDC LUT's grid): on ptm16hp the
TDC trims reach their targets at 0.8 and 0.9 V; at the card's nominal 0.7 V the start-offset trim runs
out of range and the shared-scale TDC's taps drift (see lut/README.md)."""


def _corner(lut, vdd, temp) -> tuple[float, float]:
    g = lut.axis("vdd").values
    if vdd is None and np.any(np.isclose(g, DEFAULT_VDD)):
        vdd = DEFAULT_VDD
    v = lut.default_coord("vdd")[0] if vdd is None else float(vdd)
    t = lut.default_coord("temp")[0] if temp is None else float(temp)
    return v, t


def adc_corner(alut, vdd: float, temp: float) -> tuple[float, float, str | None]:
    """The converter LUT's operating point for an engine at (vdd, temp): the same when it is on the LUT's
    grid, else the nearest grid values (the converter then runs on its own supply) and a note saying so."""
    vs, ts = alut.axis("vdd").values, alut.axis("temp").values
    v = float(vs[np.argmin(np.abs(vs - vdd))]) if not (vs.min() <= vdd <= vs.max()) or vs.size == 1 else float(vdd)
    t = float(ts[np.argmin(np.abs(ts - temp))]) if not (ts.min() <= temp <= ts.max()) or ts.size == 1 else float(temp)
    note = None
    if abs(v - vdd) > 1e-9 or abs(t - temp) > 1e-9:
        note = (f"the read-out converter LUT has no point at {vdd:g} V / {temp:g} degC: the converter runs on its own "
                f"supply at {v:g} V, {t:g} degC (its LUT's grid)")
    return v, t, note


def _corner_array(lut, name: str, vdd: float, temp: float):
    """A LUT array laid out (vdd, temp, ...) at (vdd, temp): linear interpolation along each axis with more
    than one grid value (None when the LUT has no such array)."""
    if name not in lut.arrays:
        return None
    a = np.asarray(lut.arrays[name], dtype=float)
    for ax, x in (("vdd", vdd), ("temp", temp)):
        g = lut.axis(ax).values
        if g.size == 1:
            a = a[0]
            continue
        if not g.min() - 1e-9 <= x <= g.max() + 1e-9:
            from ...core.errors import LUTError

            raise LUTError(f"{ax}={x:g} is outside the {lut.block} LUT grid [{g.min():g}, {g.max():g}]")
        i = int(np.clip(np.searchsorted(g, x) - 1, 0, g.size - 2))
        w = (x - g[i]) / (g[i + 1] - g[i])
        a = a[i] * (1 - w) + a[i + 1] * w
    return a


def circuit_from_luts(delay=None, tdc=None, acc=None, adc=None, vdd: float | None = None, temp: float | None = None,
                      fmt="e4m3", pdk: str = "ptm16hp") -> TdMacCircuit:
    """A :class:`TdMacCircuit` from the SPICE LUTs (paths or :class:`charz.core.lut.LUT`; None = the default
    ``<pdk>/`` :data:`DEFAULT_LUTS` on the LUT search path): ``td_delay`` (one line's delay per code,
    nominal + Monte Carlo; its ``bits`` must equal the format's exponent bits), ``td_tdc`` (element-TDC
    thresholds at the pins, STOP path delay and energy), ``td_acc`` (accumulation transfer and energy;
    capacitor matching from its stated assumption) and an ``adc_*`` LUT for the read-out energy
    (``adc=False``: none).

    Conversions (every time in units of the line's tau at the corner):
    - ``delay_mean`` = (delay(code) - delay(0)) / tau; ``delay_dev`` = (instance - nominal) / tau;
    - ``tdc_thr`` = (threshold + start_delay - stop_delay) / tau: in the engine element i's TDC reads
      #{k: threshold_k < (t_max - t_i) + stop_delay - start_delay}; ``tdc_dev`` from the Monte Carlo
      thresholds;
    - ``scale_thr``: the shared-scale TDC's own 2 (2^e - 1)-tap chain (the TDC LUT's ``scale_threshold``
      arrays, nominal and Monte Carlo), in the same frame;
    - energies per scalar product: a line = its dynamic energy at the code + leakage over the engine
      cycle (2 x (the slowest path + (window + 1) tau + stop_delay)); an element TDC = its supply energy
      per conversion; shared = STOP path + shared-scale TDC (taps / window x an element TDC) + the
      reference pair at code 0 + the accumulation's fixed part e0; caps = ``e_unit`` per unit capacitor
      switched; read-out = the converter LUT's energy per conversion.
    """
    from ...core.errors import LUTError
    from ...core.lut import Kind

    f = fp8.get_format(fmt)
    dl, dsrc = _lut(delay, Kind.TD_DELAY, pdk, "delay")
    tl, tsrc = _lut(tdc, Kind.TD_TDC, pdk, "tdc")
    al, asrc = _lut(acc, Kind.TD_ACC, pdk, "acc")
    bits = int(dl.conditions.get("bits", -1))
    if bits != f.ebits:
        raise LUTError(f"the delay LUT has {bits}-bit lines; {f.name} needs {f.ebits}-bit lines: characterize "
                       f"`charz characterize td_delay --bits {f.ebits}` and pass it")
    if int(tl.conditions.get("ebits", -1)) != f.ebits:
        raise LUTError(f"the TDC LUT was characterized for {tl.conditions.get('ebits')}-bit exponents, not {f.ebits}")
    v, t = _corner(tl, vdd, temp)
    c = {"vdd": v, "temp": t}
    d = np.asarray(dl.slice("delay", **c), dtype=float)
    tau = float(dl.value("tau", code=0, **c))
    if not (np.all(np.isfinite(d)) and np.isfinite(tau) and tau > 0):
        raise LUTError(f"the delay LUT has failed points at vdd={v:g} V, temp={t:g} degC: re-characterize or pick "
                       "another corner")
    delay_mean = (d - d[0]) / tau
    delay_dev = None
    if "delay" in dl.samples:
        smp = np.asarray(dl.sample_slice("delay", **c), dtype=float).T  # (S, codes)
        smp = smp[np.all(np.isfinite(smp), axis=1)]
        delay_dev = (smp - d) / tau if smp.shape[0] >= 2 else None
    thr = np.asarray(tl.slice("threshold", **c), dtype=float)
    stop = float(tl.value("stop_delay", tap=1, **c))
    if not (np.all(np.isfinite(thr)) and np.isfinite(stop)):
        raise LUTError(f"the TDC LUT has failed points at vdd={v:g} V, temp={t:g} degC")
    w = thr.size
    start = float(tl.value("start_delay", tap=1, **c)) if "start_delay" in tl.tables else 0.0
    tdc_thr = (thr + start - stop) / tau
    tdc_dev = None
    if "threshold" in tl.samples:
        smp = np.asarray(tl.sample_slice("threshold", **c), dtype=float).T
        smp = smp[np.all(np.isfinite(smp), axis=1)]
        tdc_dev = (smp - thr) / tau if smp.shape[0] >= 2 else None
    ks = 2 * f.max_exp_field
    sc = _corner_array(tl, "scale_threshold", v, t)
    if sc is None or sc.shape[-1] != ks or not np.all(np.isfinite(sc)):
        raise LUTError(f"the TDC LUT has no shared-scale chain ({ks} taps) at vdd={v:g} V, temp={t:g} degC: "
                       "re-characterize it with `charz characterize td_tdc`")
    scale_thr = (sc + start - stop) / tau
    smc = _corner_array(tl, "scale_threshold_mc", v, t)  # (ks, S)
    scale_dev = None
    if smc is not None and smc.ndim == 2 and smc.shape[1] >= 2:
        rows = smc.T[np.all(np.isfinite(smc.T), axis=1)]
        scale_dev = (rows - sc) / tau if rows.shape[0] >= 2 else None
    # energies
    leak = float(dl.value("leakage", code=0, **c))
    t_cycle = 2 * (2 * d[-1] + (w + 1) * tau + stop)
    e_line = np.asarray(dl.slice("energy_dynamic", **c), dtype=float) + leak * t_cycle
    e_tdc = float(tl.value("energy_supply", tap=1, **c))
    e_stop = float(tl.value("stop_energy", tap=1, **c))
    e0 = float(al.value("e0", test=0, **c))
    e_unit = float(al.value("e_unit", test=0, **c))
    e_shared = e_stop + e_tdc * ks / w + 2 * float(e_line[0]) + max(e0, 0.0)
    s_id = np.asarray(al.slice("s_ideal", **c), dtype=float)
    v_d = np.asarray(al.slice("v_diff", **c), dtype=float)
    ok = np.isfinite(s_id) & np.isfinite(v_d)
    codes, inv = np.unique(s_id[ok], return_inverse=True)
    volts = np.bincount(inv, weights=v_d[ok]) / np.bincount(inv)
    notes = []
    if codes.size < 2 or not np.all(np.diff(volts) > 0):
        g, o = float(al.value("gain", test=0, **c)), float(al.value("offset", test=0, **c))
        codes = np.array([-1.0, 1.0]) * float(np.max(np.abs(codes)) if codes.size else 1.0)
        volts = g * codes + o
        notes.append("accumulation transfer not monotonic over the test set: its straight-line fit is used")
    e_read, adc_src = 0.0, None
    if adc is not False:
        from ...core.lut import LUT
        from ..adc.model import check_lut as _check_adc

        if adc is None or isinstance(adc, (str, os.PathLike, LUT)):
            if isinstance(adc, LUT):
                alut = adc
            else:
                adc_src = str(adc) if adc is not None else str(default_lut(pdk, "adc"))
                alut = LUT.load(adc_src)
            alut = _check_adc(alut)
            av, at, an = adc_corner(alut, v, t)
            e = np.asarray(alut.slice("energy", vdd=av, temp=at), dtype=float)
            e_read = float(np.nanmean(e))
            if an:
                notes.append(an)
    sigma_unit = float(al.conditions.get("cap_sigma_unit", 0.0))
    notes += [f"tau = {tau * 1e12:.2f} ps at {v:g} V, {t:g} degC; STOP path {stop * 1e12:.1f} ps; element-TDC "
              f"thresholds {np.round(tdc_thr, 2).tolist()} tau (ideal k - 0.5)",
              "capacitor mismatch: " + str(al.conditions.get("cap_sigma", "none")),
              "jitter not characterized (transient noise not simulated): 0",
              "shared-scale TDC: its own 2 (2^e - 1)-tap chain as characterized (nominal + Monte Carlo)",
              "not counted: the digital multiplier / shifter / sign logic, the exponent registers, a bias "
              "generator / delay-locked loop, the chunk sums"]
    bias_trim = BiasTrim.from_lut(dl, v, t, float(d[0]), tau)
    if bias_trim is not None:
        notes.append(f"delay lines characterized at bias ratios {bias_trim.ratios.tolist()} (same instances): line "
                     "instances are drawn at every ratio jointly")
    return TdMacCircuit(
        bias_trim=bias_trim,
        delay_mean=delay_mean, tdc_thr=tdc_thr, scale_thr=scale_thr, delay_dev=delay_dev, tdc_dev=tdc_dev,
        scale_dev=scale_dev, jitter=0.0, cap_sigma=sigma_unit, acc_transfer=(codes, volts),
        e_line=e_line, e_tdc=e_tdc, e_shared=e_shared, e_cap_unit=max(e_unit, 0.0), e_readout=e_read,
        label=f"{dl.provenance.get('pdk', pdk)} TD-MAC LUTs at {v:g} V, {t:g} degC",
        source={"delay": dsrc, "tdc": tsrc, "acc": asrc, "adc": adc_src, "vdd": v, "temp": t, "tau_s": tau,
                "stop_delay_s": stop, "start_delay_s": start, "t_cycle_s": t_cycle, "window": w,
                "delay_sha256": dl.provenance.get("npz_sha256"), "pdk": dl.provenance.get("pdk", pdk)},
        notes=tuple(notes),
    )
