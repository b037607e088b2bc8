"""Behavioral time-domain floating-point MAC (TimeFloats-style FP8 scalar products), vectorized in NumPy.

Physical picture (one scalar product of L FP8 pairs (a_i, b_i) on one engine)
-----------------------------------------------------------------------------
Every element i splits into its fields (:func:`charz.behavior.fp8.fields`): sign s, time code E
(the exponent field; 1 for subnormals and zeros, whose hidden bit is 0) and integer significand M
(m + 1 bits), so that ``a = (-1)^s M 2^(E - bias - m)``. Then

1. *Exponent addition in time.* Element i launches an edge through two digitally controlled delay
   lines in series, line A set to code Ea_i, line B to Eb_i. Every element slot has its own two
   physical line instances, so the edge arrives at ``t_i = D_A,i(Ea_i) + D_B,i(Eb_i)`` (+ jitter);
   nominally ``t_i = (Ea_i + Eb_i) tau``. Times are in units of the unit delay tau throughout.
2. *Shared scale.* A latest-of-L detector fires at ``t_max = max_i t_i``. The engine's shared-scale
   TDC measures ``t_max - t_ref``, where the reference edge runs through the engine's own pair of
   lines at code 0: ``E_read`` = the number of its thresholds below ``t_max - t_ref`` (nominal
   thresholds (k - 0.5) tau, k = 1..K_s). Nominally ``E_read = max_i (Ea_i + Eb_i)``.
3. *Exponent difference.* Element i's own TDC starts at t_i and is stopped by t_max:
   ``d_i`` = number of that TDC instance's thresholds below ``t_max - t_i`` (nominal (k - 0.5) tau,
   k = 1..W, W = ``window``). ``d_i = W`` means "W or more": the element is **dropped** (its aligned
   contribution is 0). ``window=None``: no window, ideal unbounded alignment (never dropped).
4. *Alignment* (digital shifter fed by the TDC code, ideal): ``p_i = Ma_i Mb_i``,
   ``q_i = floor(p_i 2^G / 2^d_i)`` (G = ``guard`` bits kept below the largest product's LSB).
5. *Charge accumulation.* Each element slot has a binary-weighted capacitor array (bit k = 2^k unit
   caps) that dumps q_i onto the positive line if ``s = sa XOR sb`` is 0, else onto the negative line.
   The line difference is, in unit-cap units, ``V = sum_i (-1)^s_i sum_k bit_k(q_i) w_ik`` with
   ``w_ik = 2^k (1 + eps_ik)``, ``eps_ik ~ N(0, cap_sigma^2 / 2^k)`` per physical array (Pelgrom:
   bit k is 2^k independent unit caps). Nominally V = S = sum_i (-1)^s_i q_i, the exact aligned sum.
   An optional measured transfer (``acc_transfer``: line difference in unit caps -> volts, from
   SPICE) maps V to the volts the converter sees.
6. *Read-out.* A shared converter digitizes V over +-FS, ``FS = fullscale * L * pmax * 2^G`` unit caps
   (``pmax = (2^(m+1) - 1)^2``: L * pmax * 2^G is the largest possible |S|). The code is decoded to
   the accumulated integer at the centre of its bin, ``S_hat``, and the digital back end forms
   ``y = S_hat * 2^(E_read - 2 bias - 2 m - G)``. With nothing in error, S_hat = S, E_read = the
   largest exponent sum and y = sum_i a_i b_i exactly (when no element is dropped or truncated).

Why the output scales with ``2^(E_read - 2 bias - 2 m - G)``: ``a_i b_i = (-1)^s_i p_i
2^(Ea_i + Eb_i - 2 bias - 2 m) = (-1)^s_i (p_i 2^G 2^-d_i) 2^(Emax - 2 bias - 2 m - G)`` with
``d_i = Emax - Ea_i - Eb_i``. Subnormals need no special case because their time code is 1; zeros
(time code 1, M = 0) launch an edge like any element and add nothing.

Exact mode (:meth:`TdMacModel.exact`): ``window=None``, ``guard=None`` (G = the largest possible
exponent difference, 28 for E4M3 and 58 for E5M2, so the floor never truncates), ``adc=None``, ideal
circuit. Then y equals :func:`charz.behavior.fp8.exact_dot` bit for bit: for E4M3 the aligned sum
(< 2^42 at L = 64) is exact in int64 and float64; for E5M2 it can need ~70 bits and is summed in two
int64 limbs and rounded once (:func:`charz.behavior.fp8.limb_sum`), i.e. correctly rounded like
``exact_dot``. Whenever ``nb + log2(L) > 62`` (``nb = 2 m + 2 + G`` bits of q) the model uses those
limbs (``wide``).

The read-out converter (``adc``)
--------------------------------
- ``None``: exact accumulation, no converter: S_hat = V (cap mismatch still counts; ``acc_transfer``
  only matters to a converter and is not applied).
- an int n (1..16): an ideal n-bit **mid-tread** quantizer: 2^n two's-complement codes, LSB
  ``Delta = 2 FS / 2^n``, reconstruction levels ``(c - 2^(n-1)) Delta`` = -FS .. FS - Delta (0 is a
  level, so small sums are not biased), input range ``[-FS - Delta/2, FS - Delta/2)``; code =
  ``clip(floor(V / Delta + 1/2) + 2^(n-1), 0, 2^n - 1)``; S_hat = the level. 0 J unless the circuit
  gives ``e_readout``.
- a digitizer of :mod:`charz.blocks.adc.model` (``DigitizerModel`` or ``IdealDigitizer``): its
  range is set by ``for_range`` to the same mid-tread range (in volts through ``acc_transfer`` when
  given), ``units`` instances are drawn once (its Monte Carlo spread times ``man_mismatch``) and each
  engine's conversions go through its own instance. The decode is the *calibrated* decode of
  :mod:`charz.blocks.cim_column.model`: code -> centre of that code's bin of the nominal converter (mapped back
  through the inverse nominal transfer). Its energy per conversion is the converter's ``energy``.

Inputs beyond the converter range are **clipped** to the end codes and flagged (``clipped``; the
fraction is in ``last_stats``): the output is then too small in magnitude. The default ``fullscale``
is ``min(1, 1/sqrt(L))``: the sum of L aligned terms, each at most pmax 2^G, with independent signs
grows like sqrt(L) while the worst case (all terms equal and of one sign) grows like L; a full scale
of sqrt(L) pmax 2^G keeps the converter's LSB useful for typical data. (The measured percentiles and clipping rates
behind this default are in this folder's ``README.md``.) Data whose terms share a sign (all-positive operands, e.g.
ReLU activations times positive weights) clip more: check ``last_stats["clipped_fraction"]`` or give
``fullscale=1`` (never clips, coarser LSB). The shared-scale TDC saturates too: with K_s thresholds
E_read cannot exceed K_s (flagged as ``scale_saturated``; the ideal circuit has K_s = the largest
exponent sum, so only a TDC that reads early can lose the top).

The circuit (:class:`~charz.blocks.td_mac.model_circuit.TdMacCircuit`) and its instances
-----------------------------------------------------
A :class:`TdMacCircuit` holds circuit facts (nominal curves, Monte Carlo deviations, energies), every
time in tau. A :class:`TdMacModel` is one simulated chip of ``units`` physical engines; each engine has
L element slots (2 delay lines + 1 TDC + 1 cap array each), a reference line pair, one shared-scale TDC
and one converter. All instances are drawn **once**, at construction, and kept for the run:

- line curves: ``delay_mean + exp_mismatch * (m + dev)`` per line instance, with ``dev`` drawn from a
  multivariate normal with the covariance (across codes) of the circuit's Monte Carlo rows
  ``delay_mean + delay_dev`` and ``m`` their mean minus ``delay_mean`` (the systematic shift), exactly
  as :mod:`charz.blocks.cim_column.model` draws column curves (:func:`charz.behavior.mismatch.draw_instances`). The
  rows carry each instance's *absolute* delay deviation (its code-0 intercept included), so the
  reference edge and every element edge have their own offsets;
- element TDC thresholds (``tdc_thr[:W]`` + scaled deviations, one instance per element slot) and
  shared-scale thresholds (``scale_thr`` + scaled deviations, one per engine), the same way;
- cap deviations ``eps_ik`` (standard normals times ``man_mismatch * cap_sigma / sqrt(2^k)``);
- the converter bank (see above).

``exp_mismatch`` scales the exponent path (line curves, both TDCs, jitter) and ``man_mismatch`` the
mantissa path (caps, converter). Each kind of instance has its own random stream derived from
``seed`` and the draws do not depend on the scales (common random numbers): the same seed is the same
chip at every scale, only the size of its deviations changes, so a sweep of one knob with the other
at 0 is smooth. With a circuit whose nominal curves are ideal and both scales at 0, the model is the
ideal model bit for bit. The drawn instances are public attributes (``line_delay``,
``tdc_thresholds``, ``scale_thresholds``, ``cap_dev``, ``adc_bank``); a fault study may edit them.

An error in an element's TDC changes d_i by an integer: that element's contribution is scaled by a
power of two (a threshold moved by +1 tau past the true difference halves or doubles it). An error of
the shared-scale TDC changes E_read and scales the **whole output** by a power of two. Line delay
errors move t_i, hence d_i (for that element) and, if the latest edge moves, every d_i and E_read.

What is not modelled: transient jitter is not characterized (``jitter`` = 0 by default; if given, it
is a fresh N(0, (exp_mismatch * jitter)^2) per edge and per call, drawn from its own stream, the only
non-deterministic part); the digital multiplier, the shifter and the back end's decode and scaling
are ideal and their energy is not counted; the detector's own delay is common to all elements and
cancels; the cap array settles completely (no charge-sharing loss beyond ``acc_transfer``).

Special values: a dot product with a NaN operand returns NaN; with an inf operand (E5M2 with
``saturate=False`` only: quantization saturates by default) it returns the IEEE float64 result of the
sum of products (+-inf, or NaN for inf * 0 and inf - inf). Such operands have the all-ones exponent
field; the front end flags them and the analog path runs with those elements zeroed.

Units, batches and energy
-------------------------
``dot(a, b)`` runs every scalar product of the batch on engine ``unit`` (default: flat batch index
modulo ``units``, round robin). ``matmul(x, w)`` splits K into chunks of L (zero padded); every
(row, column, chunk) is one scalar product on engine ``column % units`` and the chunk outputs are
added digitally in float64. Energy per scalar product (J, data dependent): ``e_line`` for each of the
2 L + 2 lines at its code (the reference pair at code 0), ``L e_tdc``, ``e_shared`` (detector +
shared-scale TDC), ``e_cap_unit`` per unit cap switched (``sum_i q_i``) and one conversion.

:func:`~charz.blocks.td_mac.model_circuit.synthetic_circuit` builds a SYNTHETIC circuit (Gaussian
Monte Carlo deviations, made-up energies; no SPICE behind it) for tests and examples only: never report
figures from it.
:func:`~charz.blocks.td_mac.model_study.sensitivity` sweeps one mismatch path with the other at 0.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ...core.errors import ParameterError
from ...core.validate import finite, posint
from ...behavior import fp8
from ...behavior.interfaces import Cost, Digitizer
from ...behavior.mismatch import draw_instances, mc_deviation_stats
from ...behavior.readout import MAX_ADC_BITS
from .model_trim import check_calibration, line_report
from .model_circuit import TdMacCircuit, _check_window, _dmax, _seed, adc_corner, circuit_from_luts, default_lut

MAX_LENGTH = 1 << 14
CAP_TABLE_MAX = 1 << 22
"""Largest per-chip table of cap-array errors (engines x L x 2^nb entries) built for the gather path."""
BLOCK_ELEMENTS = 1 << 21
"""Elements (products) per block in :meth:`TdMacModel.matmul` (bounds the memory)."""
_STREAMS = {"lines": 1, "tdc": 2, "scale": 3, "caps": 4, "adc": 5, "jitter": 6}


# ---- the model -----------------------------------------------------------------------------------
class TdMacModel:
    """One simulated chip of ``units`` time-domain FP8 MAC engines (see the module doc).

    ``fmt`` "e4m3" / "e5m2"; ``length`` L elements per scalar product; ``window`` W element-TDC
    thresholds (None: no element dropped, ideal unbounded alignment); ``guard`` G bits (None: as many
    as the largest possible exponent difference, i.e. exact alignment); ``adc`` bits (int), a
    digitizer model, or None (exact accumulation); ``fullscale`` fraction of L pmax 2^G spanned by the
    converter (None: min(1, 1/sqrt(L))); ``circuit`` (None: :meth:`TdMacCircuit.ideal`);
    ``exp_mismatch`` / ``man_mismatch`` scale the exponent / mantissa path's deviations; ``units``
    engines; ``seed`` for the instances; ``saturate`` for the FP8 rounding of the inputs."""

    def __init__(self, fmt="e4m3", length: int = 16, window: int | None = 8, guard: int | None = 2, adc=6,
                 fullscale: float | None = None, circuit: TdMacCircuit | None = None, exp_mismatch: float = 1.0,
                 man_mismatch: float = 1.0, units: int = 1, seed: int = 0, saturate: bool = True,
                 line_calibration: str = "none", bias_bits: int = 5):
        f = self.fmt = fp8.get_format(fmt)
        self.length = L = posint(length, "length (FP8 pairs per scalar product)", MAX_LENGTH)
        self.window = None if window is None else _check_window(window, f)
        dmax = _dmax(f)
        if guard is None:
            self.guard = dmax
        elif isinstance(guard, bool) or not isinstance(guard, numbers.Integral) or not 0 <= guard <= dmax:
            raise ParameterError(f"guard must be an integer from 0 to {dmax} ({f.name}: bits kept below the largest "
                                 f"product's LSB; None = exact alignment), got {guard!r}")
        else:
            self.guard = int(guard)
        self.exact_guard = guard is None
        self.saturate = bool(saturate)
        self.units = posint(units, "units (physical engines)")
        self.seed = _seed(seed)
        self.exp_mismatch = _scale(exp_mismatch, "exp_mismatch")
        self.man_mismatch = _scale(man_mismatch, "man_mismatch")
        if circuit is None:
            circuit = TdMacCircuit.ideal(f, self.window)
        if not isinstance(circuit, TdMacCircuit):
            raise ParameterError(f"circuit must be a TdMacCircuit (or None for the ideal one), "
                                 f"got {type(circuit).__name__}")
        self.circuit = c = circuit
        if c.delay_mean.size != f.n_codes:
            raise ParameterError(f"the circuit's delay line has {c.delay_mean.size} codes; {f.name} needs {f.n_codes} "
                                 f"({f.ebits}-bit lines): use a circuit characterized for {f.name}")
        if self.window is not None and c.tdc_thr.size < self.window:
            raise ParameterError(f"the circuit's element TDC has {c.tdc_thr.size} thresholds: use window <= "
                                 f"{c.tdc_thr.size} or a circuit built for window {self.window}")
        self.line_calibration, self.bias_bits = check_calibration(line_calibration, bias_bits, c)
        self.nb = 2 * f.mbits + 2 + self.guard
        """Bits of the aligned magnitude q (the cap array has bits 0 .. nb - 1)."""
        self.wide = self.nb + math.ceil(math.log2(L)) > 62
        """True when the aligned sum can overflow int64: it is then summed in two limbs."""
        _, s_t, e_t, m_t, _, _ = fp8._table(f)
        self._e16 = e_t.astype(np.int16)
        self._m_q = m_t.astype(np.int32 if self.nb + math.ceil(math.log2(L)) <= 31 else np.int64)
        self._top = fp8._top_code(f)
        self.fs_fraction, fs_choice = self._fullscale(fullscale)
        self.fs = self.fs_fraction * float(L * f.pmax * 2**self.guard)
        """Converter full scale FS in unit caps."""
        self.choices = {"fullscale": fs_choice,
                        "guard": "exact alignment (None)" if self.exact_guard else "given",
                        "decode": "code -> centre of its bin (mid-tread, two's complement); y = S_hat * "
                                  "2^(E_read - 2 bias - 2 m - G)"}
        self.last_stats: dict = {}
        self._draw()
        self._readout(adc)

    # -- construction helpers --------------------------------------------------------------------
    @classmethod
    def exact(cls, fmt="e4m3", length: int = 16) -> "TdMacModel":
        """Exact mode: ideal circuit, no element dropped, exact alignment, no converter: equals
        :func:`charz.behavior.fp8.exact_dot` bit for bit."""
        return cls(fmt, length, window=None, guard=None, adc=None, circuit=None, exp_mismatch=0.0, man_mismatch=0.0)

    def _fullscale(self, fullscale):
        if fullscale is None:
            return min(1.0, 1.0 / math.sqrt(self.length)), "default min(1, 1/sqrt(L))"
        try:
            v = float(fullscale)
        except (TypeError, ValueError):
            v = float("nan")
        if not (math.isfinite(v) and v > 0):
            raise ParameterError(f"fullscale must be a positive number (fraction of the largest possible sum "
                                 f"L*pmax*2^G; 1 never clips; None = min(1, 1/sqrt(L))), got {fullscale!r}")
        return v, "given"

    def _rng(self, stream: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, _STREAMS[stream]])

    def _draw(self) -> None:
        c, f, L, U, s = self.circuit, self.fmt, self.length, self.units, self.exp_mismatch
        info = {}

        def instances(nominal, dev, n, stream, what):
            if dev is None:
                info[what] = "nominal (no Monte Carlo data)"
                return np.broadcast_to(nominal, (n, nominal.size)).copy()
            k, mean, factor, samples = mc_deviation_stats(nominal + dev, nominal)
            info[what] = (f"{k} Monte Carlo instances, full covariance, scale {s:g}" if factor is not None
                          else f"nominal ({k} usable Monte Carlo instance(s): too few)")
            return draw_instances(nominal, n, self._rng(stream), s, "mvn", factor, mean, samples)

        n_lines = U * (L + 1) * 2
        self.line_energy_factor, self.line_calibration_report = 1.0, None
        if c.bias_trim is None:
            lines = instances(c.delay_mean, c.delay_dev, n_lines, "lines", "lines")
        else:  # every line at every bias ratio, jointly: the same lines with and without calibration
            bt = c.bias_trim
            inst = bt.draw(n_lines, self._rng("lines"), s)
            info["lines"] = (f"{0 if bt.samples is None else bt.samples.shape[0]} Monte Carlo instances at "
                             f"{bt.ratios.size} bias ratios, joint covariance, scale {s:g}")
            before = inst[:, bt.default]
            levels = None
            if self.line_calibration == "bias":
                target = float(c.delay_mean[-1] - c.delay_mean[0])
                levels, lines = bt.calibrate(inst, self.bias_bits, target)
                self.line_energy_factor = bt.energy_factor(levels, self.bias_bits)
            else:
                lines = before
            self.line_calibration_report = line_report(before, lines, c.delay_mean, levels, bt, self.bias_bits)
            if levels is not None:
                self.line_calibration_report.update(bt.cost(self.bias_bits, 2 * (L + 1)),
                                                    energy_factor=self.line_energy_factor)
        self.line_delay = lines.reshape(U, L + 1, 2, f.n_codes)
        """(units, L + 1, 2, 2^e) delay of every line instance vs code [tau]; slot L = the reference pair."""
        if self.window is not None:
            thr = c.tdc_thr[: self.window]
            dev = None if c.tdc_dev is None else c.tdc_dev[:, : self.window]
            self.tdc_thresholds = instances(thr, dev, U * L, "tdc", "element TDCs").reshape(U, L, self.window)
        else:
            self.tdc_thresholds = None
            info["element TDCs"] = "none (window=None: ideal unbounded alignment)"
        self.scale_thresholds = instances(c.scale_thr, c.scale_dev, U, "scale", "shared-scale TDCs")
        z = self._rng("caps").standard_normal((U, L, self.nb))
        sc = self.man_mismatch * c.cap_sigma
        self.cap_dev = (z * sc * np.sqrt(2.0 ** np.arange(self.nb))) if sc > 0 else None
        self._cap_table = None
        """(units, L, nb) w_ik - 2^k in unit caps (None: ideal caps)."""
        info["caps"] = f"unit-cap sigma {c.cap_sigma:g} x {self.man_mismatch:g}" if sc > 0 else "ideal"
        self.jitter = self.exp_mismatch * c.jitter
        self._jitter_rng = self._rng("jitter")
        self.mismatch_info = info

    def _readout(self, adc) -> None:
        c = self.circuit
        self.adc = adc
        self.adc_bank = None
        self._conv = None
        if adc is None:
            self.adc_bits, self.e_conv, self.adc_label = None, 0.0, "none (exact accumulation)"
            return
        if isinstance(adc, numbers.Integral) and not isinstance(adc, bool):
            if not 1 <= adc <= MAX_ADC_BITS:
                raise ParameterError(f"adc must be a number of bits from 1 to {MAX_ADC_BITS}, a digitizer model, "
                                     f"or None (exact accumulation), got {adc!r}")
            bits, conv, self.e_conv = int(adc), None, c.e_readout
            self.adc_label = f"ideal {bits}-bit mid-tread quantizer"
        elif isinstance(adc, Digitizer):
            bits, conv, self.e_conv = int(adc.bits), adc, float(adc.energy)
            self.adc_label = str(adc.label)
        else:
            raise ParameterError(f"adc must be a number of bits from 1 to {MAX_ADC_BITS}, a digitizer model "
                                 f"(charz.blocks.adc.model), or None, got {type(adc).__name__}")
        self.adc_bits = bits
        self.half = 1 << (bits - 1)
        self.delta = math.ldexp(self.fs, 1 - bits)
        """Converter LSB in unit caps: 2 FS / 2^bits."""
        lo, hi = -self.fs - self.delta / 2, self.fs - self.delta / 2
        tr = c.acc_transfer
        if conv is None and tr is None:
            return  # exact mid-tread formula
        if conv is None:
            from ..adc.model import IdealDigitizer

            conv = IdealDigitizer(bits, 0.0, 1.0)
        v_lo, v_hi = (lo, hi) if tr is None else (float(np.interp(lo, *tr)), float(np.interp(hi, *tr)))
        if not v_hi > v_lo:
            raise ParameterError("the accumulation transfer is flat over the converter range: give an acc_transfer "
                                 "whose codes cover +-FS")
        conv = conv.for_range(v_lo, v_hi)
        if self.man_mismatch != 1.0:
            conv = conv.with_mismatch_scale(conv.mismatch_scale * self.man_mismatch)
        self._conv = conv
        self.adc_bank = conv.instances(self.units, self._rng("adc"))
        centres = np.asarray(conv.centers(), dtype=float)
        self._decode = centres if tr is None else np.interp(centres, tr[1], tr[0])
        self._range = (v_lo, v_hi)

    # -- the scalar products ---------------------------------------------------------------------
    def dot(self, a, b, unit=None, details: bool = False):
        """Scalar products of a, b (..., L) (broadcast; rounded to the format first): y (...) float64,
        and with ``details`` a dict of intermediates (d, E_read, q, S, V, S_hat, codes, dropped,
        clipped, special, energy). ``unit``: engine index per scalar product (int or array broadcast
        to the batch shape); None = flat batch index % units."""
        ca, cb = self._codes(a, b)
        batch = ca.shape[:-1]
        u = self._units(unit, batch)
        r = self._run(ca.reshape(-1, self.length), cb.reshape(-1, self.length), u.reshape(-1), details)
        self.last_stats = self._stats(r)
        y = r["y"].reshape(batch)
        if not details:
            return y
        out = {}
        for k, v in r.items():
            if isinstance(v, np.ndarray) and k != "y":
                out[k] = v.reshape(batch + v.shape[1:])
            elif k != "y":
                out[k] = v
        return y, out

    def energy(self, a, b, unit=None) -> np.ndarray:
        """Energy per scalar product [J] (...): lines at their codes, TDCs, shared part, unit caps
        switched, one conversion (see the module doc). Digital parts are not counted."""
        return self.dot(a, b, unit=unit, details=True)[1]["energy"]

    def matmul(self, x, w) -> np.ndarray:
        """(N, K) @ (K, M) with K split into chunks of L (zero padded); every (row, column, chunk) is one
        scalar product on engine ``column % units``; chunk outputs added in float64. Sets
        ``last_stats`` (scalar products, clipped and dropped fractions, energy)."""
        x = np.asarray(x, dtype=float)
        w = np.asarray(w, dtype=float)
        if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
            raise ParameterError(f"matmul needs x (N, K) and w (K, M) with the same K, got {x.shape} and {w.shape}")
        n, k = x.shape
        m = w.shape[1]
        L = self.length
        chunks = max(1, -(-k // L))
        pad = chunks * L - k
        cx = np.pad(fp8.encode(x, self.fmt, self.saturate), ((0, 0), (0, pad))).reshape(n, 1, chunks, L)
        cw = np.pad(fp8.encode(w, self.fmt, self.saturate), ((0, pad), (0, 0))).T.reshape(1, m, chunks, L)
        if self._blas_exact(k):
            return self._matmul_exact(cx[:, 0], cw[0])
        unit = np.broadcast_to((np.arange(m) % self.units)[:, None], (m, chunks))
        y = np.zeros((n, m))
        acc = _Stats()
        rows = max(1, BLOCK_ELEMENTS // max(1, m * chunks * L))
        for r0 in range(0, n, rows):
            xa = cx[r0 : r0 + rows]
            nb = xa.shape[0]
            ca = np.broadcast_to(xa, (nb, m, chunks, L)).reshape(-1, L)
            cb = np.broadcast_to(cw, (nb, m, chunks, L)).reshape(-1, L)
            uu = np.broadcast_to(unit, (nb, m, chunks)).reshape(-1)
            r = self._run(ca, cb, uu, False)
            y[r0 : r0 + nb] = r["y"].reshape(nb, m, chunks).sum(axis=-1)
            acc.add(r)
        self.last_stats = acc.summary()
        return y

    def _blas_exact(self, k: int) -> bool:
        """True when :meth:`matmul` may use one float64 BLAS product: exact mode (ideal 0 J circuit, no element
        dropped, exact alignment, no converter, no mismatch) in E4M3, where every FP8 product is a multiple of
        2^-18 below 2^18 and any partial sum of up to 2^17 of them is exact in float64 (as in
        :func:`charz.behavior.fp8.exact_dot`), so the sum equals the chunked one bit for bit."""
        c = self.circuit
        return (self.fmt is fp8.E4M3 and k < 1 << 17 and self.window is None and self.exact_guard
                and self.adc_bits is None and self.cap_dev is None and bool(c.source.get("ideal"))
                and self.scale_thresholds.shape[1] == 2 * self.fmt.max_exp_field and self._time_ideal())

    def _matmul_exact(self, cx: np.ndarray, cw: np.ndarray) -> np.ndarray:
        """:meth:`matmul` in exact mode from codes cx (N, chunks, L), cw (M, chunks, L): the float64 product of
        the FP8 values, and ``last_stats`` counted per scalar product as :meth:`_run` does (0 J, nothing
        dropped or clipped; special: a NaN operand in the chunk; scale saturated: some element of the chunk
        with both exponent fields at the top, e_a + e_b = the shared-scale TDC's last tap)."""
        val, _, e_t, _, _, _ = fp8._table(self.fmt)
        n, chunks, _ = cx.shape
        m = cw.shape[0]
        nan_x, nan_w = (cx & 0x7F) > self._top, (cw & 0x7F) > self._top
        fx, fw = nan_x.any(axis=2).sum(axis=0), nan_w.any(axis=2).sum(axis=0)  # special chunks per chunk index
        special = int(np.sum(fx * m + fw * n - fx * fw))
        top_x = (e_t[cx] == self.fmt.max_exp_field) & ~nan_x  # a NaN element counts as code 0 in _run
        top_w = (e_t[cw] == self.fmt.max_exp_field) & ~nan_w
        sat = 0
        if top_x.any() and top_w.any():
            for j in range(chunks):  # (row, column) pairs of chunk j with a common top element: 0/1 products
                sat += int(np.count_nonzero(top_x[:, j].astype(np.float32) @ top_w[:, j].T.astype(np.float32)))
        with np.errstate(invalid="ignore"):
            y = val[cx].reshape(n, -1) @ val[cw].reshape(m, -1).T
        total = n * m * chunks
        self.last_stats = {"scalar_products": total, "clipped_fraction": 0.0, "dropped_fraction": 0.0,
                           "special_fraction": special / max(total, 1),
                           "scale_saturated_fraction": sat / max(total, 1), "energy_J": 0.0,
                           "energy_per_product_J": 0.0}
        return y

    def describe(self) -> dict:
        """What a report needs to say about the model."""
        f = self.fmt
        return {
            "format": f.name,
            "length": self.length,
            "window": self.window,
            "guard": self.guard,
            "adc": self.adc_label,
            "adc_bits": self.adc_bits,
            "fullscale": self.fs_fraction,
            "fullscale_unit_caps": self.fs,
            "cap_array_bits": self.nb,
            "units": self.units,
            "seed": self.seed,
            "exp_mismatch": self.exp_mismatch,
            "man_mismatch": self.man_mismatch,
            "jitter_tau": self.jitter,
            "saturate": self.saturate,
            "circuit": self.circuit.label,
            "synthetic": self.circuit.synthetic,
            "circuit_source": dict(self.circuit.source),
            "mismatch": dict(self.mismatch_info),
            "choices": dict(self.choices),
            "energy_per_conversion_J": self.e_conv,
            "line_calibration": self.line_calibration,
            "line_calibration_report": self.line_calibration_report,
            "not_modelled": ["transient jitter unless given (not characterized; default 0)",
                             "digital multiplier, shifter, decode and scaling: ideal, 0 J",
                             "incomplete settling of the cap array beyond acc_transfer"],
        }

    # -- internals -------------------------------------------------------------------------------
    def _codes(self, a, b):
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != self.length or b.shape[-1] != self.length:
            raise ParameterError(f"dot needs a and b of shape (..., {self.length}) (L = length), got {a.shape} and "
                                 f"{b.shape}: pad the vectors with zeros to L or use matmul")
        try:
            a, b = np.broadcast_arrays(a, b)
        except ValueError:
            raise ParameterError(f"a {a.shape} and b {b.shape} do not broadcast") from None
        return fp8.encode(a, self.fmt, self.saturate), fp8.encode(b, self.fmt, self.saturate)

    def _units(self, unit, batch) -> np.ndarray:
        n = int(np.prod(batch))
        if unit is None:
            return (np.arange(n) % self.units).reshape(batch)
        u = np.asarray(unit)
        if u.dtype.kind not in "iu" or (u.size and (u.min() < 0 or u.max() >= self.units)):
            raise ParameterError(f"unit must be integers from 0 to {self.units - 1} (engine index), got {unit!r}")
        try:
            return np.broadcast_to(u, batch)
        except ValueError:
            raise ParameterError(f"unit of shape {u.shape} does not broadcast to the batch shape {batch}") from None

    def _time_ideal(self) -> bool:
        """True when every drawn instance is exactly nominal-ideal (the fast exact time path applies)."""
        def ideal_thresholds(thr):
            return thr is None or np.array_equal(thr, np.broadcast_to(np.arange(1, thr.shape[-1] + 1) - 0.5, thr.shape))

        return (self.jitter == 0
                and np.array_equal(self.line_delay, np.broadcast_to(np.arange(self.fmt.n_codes, dtype=float),
                                                                    self.line_delay.shape))
                and ideal_thresholds(self.scale_thresholds) and ideal_thresholds(self.tdc_thresholds))

    def _run(self, ca: np.ndarray, cb: np.ndarray, u: np.ndarray, details: bool) -> dict:
        """The physical chain for B scalar products: codes ca, cb (B, L) uint8, engines u (B,)."""
        f, L, G, W = self.fmt, self.length, self.guard, self.window
        val, s_t, e_t, m_t, _, _ = fp8._table(f)
        top = self._top
        special = np.zeros(ca.shape[0], dtype=bool)
        if np.any((ca & 0x7F) > top) or np.any((cb & 0x7F) > top):  # NaN / inf operands (all-ones exponent)
            fin = ((ca & 0x7F) <= top) & ((cb & 0x7F) <= top)
            special = ~np.all(fin, axis=1)
            with np.errstate(invalid="ignore"):
                y_special = np.sum(val[ca[special]] * val[cb[special]], axis=1)
            ca, cb = np.where(fin, ca, 0), np.where(fin, cb, 0)
        ia, ib = ca.astype(np.intp), cb.astype(np.intp)
        e16, m_q = self._e16, self._m_q
        ea, eb = e16[ia], e16[ib]
        esum = ea + eb
        ks = self.scale_thresholds.shape[1]
        t = None
        if self._time_ideal():
            emax = esum.max(axis=1)
            d = emax[:, None] - esum
            e_read = np.minimum(emax, ks).astype(np.int64)
        else:
            t, e_read, d = self._time_path(ea, eb, u)
        dropped = (d >= W) if W is not None else np.zeros(d.shape, dtype=bool)
        neg = (s_t[ia] ^ s_t[ib]).astype(bool)
        p = m_q[ia] * m_q[ib]
        need_caps = details or self.circuit.e_cap_unit > 0
        if not self.wide:
            # q = floor(p 2^G / 2^d); a dropped element gets a shift past its width (safe shifts give 0)
            q = (p << G) >> (np.where(dropped, 63, d) if W is not None else np.minimum(d, 63))
            s_exact = np.where(neg, -q, q).sum(axis=1).astype(float)
            caps = q.sum(axis=1).astype(float) if need_caps else None
        else:
            shift = G - d.astype(np.int64)
            pk = np.where(dropped, 0, p)
            s_exact = fp8.limb_sum(neg, pk, shift)
            q = np.floor(np.ldexp(pk.astype(float), shift))  # float64: exact below 2^53 (details, energy, caps)
            caps = q.sum(axis=1)
        v = s_exact if self.cap_dev is None else s_exact + self._cap_error(q, neg, u)
        codes = None
        clipped = np.zeros(v.shape, dtype=bool)
        if self.adc_bits is None:
            s_hat = v
        elif self._conv is None:  # ideal mid-tread quantizer, exact formula
            raw = np.floor(v / self.delta + 0.5) + self.half
            clipped = (raw < 0) | (raw > 2 * self.half - 1)
            codes = np.clip(raw, 0, 2 * self.half - 1).astype(np.int64)
            s_hat = (codes - self.half) * self.delta
        else:
            tr = self.circuit.acc_transfer
            vin = v if tr is None else np.interp(v, *tr)
            codes = self.adc_bank.convert(vin, u)
            s_hat = self._decode[codes]
            clipped = (vin < self._range[0]) | (vin >= self._range[1])
        y = np.ldexp(s_hat, e_read - (2 * f.bias + 2 * f.mbits + G))
        if np.any(special):
            y[special] = y_special
        c = self.circuit
        el = c.e_line * self.line_energy_factor
        energy = np.full(y.shape, L * c.e_tdc + c.e_shared + (self.e_conv if self.adc_bits else 0.0))
        if el.ndim:
            energy += (el[ea] + el[eb]).sum(axis=1) + 2 * el[0]
        else:
            energy += (2 * L + 2) * float(el)
        if c.e_cap_unit > 0:
            energy += c.e_cap_unit * caps
        r = {"y": y, "dropped": dropped, "clipped": clipped, "special": special, "energy": energy,
             "nonzero": p > 0, "scale_saturated": e_read >= ks}
        if details:
            r.update({"d": np.minimum(d, W).astype(np.int64) if W is not None else d.astype(np.int64),
                      "E_read": e_read, "q": q, "caps": caps, "S": s_exact, "V": v, "S_hat": s_hat, "codes": codes,
                      "t": t})
        return r

    def read_out(self, v, e_read, unit=0, volts: bool = True) -> np.ndarray:
        """The read-out alone: line differences *v* (volts, mapped through ``acc_transfer``; or unit caps
        with ``volts=False``) and shared-scale readings *e_read* -> y, on engine *unit*'s converter. The
        SPICE check feeds its simulated line voltages through this."""
        f, G = self.fmt, self.guard
        v = np.asarray(v, dtype=float)
        e_read = np.asarray(e_read, dtype=np.int64)
        tr = self.circuit.acc_transfer
        if self.adc_bits is None:
            s_hat = np.interp(v, tr[1], tr[0]) if (volts and tr is not None) else v
        elif self._conv is None:
            if volts and tr is not None:
                v = np.interp(v, tr[1], tr[0])
            codes = np.clip(np.floor(v / self.delta + 0.5) + self.half, 0, 2 * self.half - 1).astype(np.int64)
            s_hat = (codes - self.half) * self.delta
        else:
            vin = v if (volts or tr is None) else np.interp(v, *tr)
            codes = self.adc_bank.convert(vin, np.broadcast_to(np.asarray(unit), vin.shape))
            s_hat = self._decode[codes]
        return np.ldexp(s_hat, e_read - (2 * f.bias + 2 * f.mbits + G))

    def _time_path(self, ea: np.ndarray, eb: np.ndarray, u: np.ndarray):
        """Arrival times through the drawn line instances, element-TDC codes d and E_read (B,)."""
        f, L, W = self.fmt, self.length, self.window
        nc = f.n_codes
        ld = self.line_delay
        if self.units == 1:
            la = ld[0, :L, 0].reshape(-1)  # (L * nc,)
            lb = ld[0, :L, 1].reshape(-1)
            off = (np.arange(L) * nc)[None, :]
            t = la[off + ea] + lb[off + eb]
            t_ref = np.full(ea.shape[0], ld[0, L, 0, 0] + ld[0, L, 1, 0])
        else:
            flat = ld.reshape(-1)
            slot = (u[:, None] * (L + 1) + np.arange(L)[None, :]) * 2  # line A of (engine, slot)
            t = flat[slot * nc + ea] + flat[(slot + 1) * nc + eb]
            ref = (u * (L + 1) + L) * 2
            t_ref = flat[ref * nc] + flat[(ref + 1) * nc]
        if self.jitter > 0:
            t = t + self.jitter * self._jitter_rng.standard_normal(t.shape)
            t_ref = t_ref + self.jitter * self._jitter_rng.standard_normal(t_ref.shape)
        t_max = t.max(axis=1)
        x = t_max[:, None] - t
        if W is None:  # ideal unbounded alignment: thresholds at k - 0.5, k = 1, 2, ...
            d = np.maximum(np.ceil(x + 0.5) - 1, 0).astype(np.int64)
        else:
            d = np.zeros(x.shape, dtype=np.int64)
            for k in range(W):
                d += _pick(self.tdc_thresholds[:, :, k], u) < x
        span = t_max - t_ref
        e_read = _count_below(self.scale_thresholds, span, u)
        return t, e_read, d

    def _cap_error(self, q: np.ndarray, neg: np.ndarray, u: np.ndarray) -> np.ndarray:
        """sum_i (-1)^s_i sum_k bit_k(q_i) (w_ik - 2^k) for every scalar product (B,).

        The error of one array is a fixed function of q: for small arrays it is tabulated once per
        chip over every q (one gather per element); otherwise summed bit by bit."""
        L = self.length
        if q.dtype.kind != "f" and self.nb <= 16 and self.units * L << self.nb <= CAP_TABLE_MAX:
            if self._cap_table is None:
                qs = np.arange(1 << self.nb)
                tab = np.zeros((self.units, L, qs.size))
                for k in range(self.nb):
                    tab += ((qs >> k) & 1)[None, None, :] * self.cap_dev[:, :, k, None]
                self._cap_table = tab.reshape(-1)
            row = (np.arange(L)[None, :] if self.units == 1 else u[:, None] * L + np.arange(L)[None, :]) << self.nb
            acc = self._cap_table[row + q]
        else:
            acc = np.zeros(q.shape)
            if q.dtype.kind == "f":  # wide: bits of a float64 magnitude (exact: p has <= 8 significant bits)
                rest = q.copy()
                for k in reversed(range(self.nb)):
                    bit = rest >= 2.0**k
                    rest = np.where(bit, rest - 2.0**k, rest)
                    acc += bit * _pick(self.cap_dev[:, :, k], u)
            else:
                for k in range(self.nb):
                    acc += ((q >> k) & 1) * _pick(self.cap_dev[:, :, k], u)
        return np.where(neg, -acc, acc).sum(axis=1)

    def _stats(self, r: dict) -> dict:
        s = _Stats()
        s.add(r)
        return s.summary()


class TdMacBackend:
    """The TD-MAC as a :class:`charz.behavior.interfaces.MatmulBackend`: *model* is the chip (its instances
    drawn at construction); :meth:`program` keeps the weights, :meth:`matmul` is
    ``model.matmul(x, weights)`` (same results). Cost from the model's ``last_stats``: ``energy["readout"]``
    = one conversion per scalar product at the converter's energy (0 without a converter),
    ``energy["mac"]`` = the rest (lines, TDCs, shared part, caps; split by ``charz.network.td_mac``);
    ops = 2 x N K M; no latency."""

    def __init__(self, model: "TdMacModel"):
        if not isinstance(model, TdMacModel):
            raise ParameterError(f"model must be a TdMacModel, got {type(model).__name__}")
        self.model = model
        self.weights: np.ndarray | None = None
        """The programmed (K, M) weights (None before :meth:`program`)."""

    @property
    def label(self) -> str:
        """Format, length, read-out and circuit of the model."""
        m = self.model
        return f"TD-MAC {m.fmt.name}, L = {m.length}, read-out {m.adc_label}, {m.circuit.label}"

    @property
    def shape(self) -> tuple[int, int] | None:
        """(K, M) of the programmed weights; None before :meth:`program`."""
        return None if self.weights is None else (int(self.weights.shape[0]), int(self.weights.shape[1]))

    def program(self, weights) -> None:
        """Keep real weights (K, M); they are rounded to the model's FP8 format at every product."""
        w = np.asarray(weights, dtype=float)
        if w.ndim != 2:
            raise ParameterError(f"weights must be a 2-D (in, out) matrix, got shape {w.shape}")
        self.weights = w

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(y (N, M) float64, :class:`~charz.behavior.interfaces.Cost`) of real inputs *x* (N, K)."""
        if self.weights is None:
            raise ParameterError("program the weights first (backend.program(w))")
        m = self.model
        y = m.matmul(x, self.weights)
        st = m.last_stats
        n = int(st["scalar_products"])
        total = float(st["energy_J"])
        conv = n if m.adc_bits else 0
        readout = conv * float(m.e_conv)
        k, cols = self.weights.shape
        return y, Cost(energy={"mac": total - readout, "readout": readout}, ops=2 * int(np.shape(x)[0]) * k * cols,
                       conversions=conv,
                       counters={"scalar_products": n, "clipped_products": round(st["clipped_fraction"] * n),
                                 "scale_saturated_products": round(st["scale_saturated_fraction"] * n)})

    def ideal(self) -> "TdMacBackend":
        """:meth:`TdMacModel.exact` of the same format and length (exact FP8 products), same weights."""
        out = TdMacBackend(TdMacModel.exact(self.model.fmt, self.model.length))
        if self.weights is not None:
            out.program(self.weights)
        return out


class _Stats:
    """Counters of a run (scalar products, clipped, dropped, special, energy)."""

    def __init__(self):
        self.n = self.clipped = self.dropped = self.nonzero = self.special = self.scale_sat = 0
        self.energy = 0.0

    def add(self, r: dict) -> None:
        self.n += r["y"].size
        self.clipped += int(np.count_nonzero(r["clipped"]))
        self.dropped += int(np.count_nonzero(r["dropped"] & r["nonzero"]))
        self.nonzero += int(np.count_nonzero(r["nonzero"]))
        self.special += int(np.count_nonzero(r["special"]))
        self.scale_sat += int(np.count_nonzero(r["scale_saturated"]))
        self.energy += float(np.sum(r["energy"]))

    def summary(self) -> dict:
        n = max(self.n, 1)
        return {
            "scalar_products": self.n,
            "clipped_fraction": self.clipped / n,
            "dropped_fraction": self.dropped / max(self.nonzero, 1),
            "special_fraction": self.special / n,
            "scale_saturated_fraction": self.scale_sat / n,
            "energy_J": self.energy,
            "energy_per_product_J": self.energy / n,
        }


def _pick(arr: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per-engine rows of *arr* (units, ...) for engines *u* (B,): a gather, or a broadcast view when
    there is one engine."""
    return arr[0][None] if arr.shape[0] == 1 else arr[u]


def _count_below(thr: np.ndarray, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Number of engine u's thresholds ``thr[u]`` (units, K) below x, for every x (B,).

    The count does not depend on the thresholds' order: each engine's sorted thresholds are shifted by
    u * span (span a power of two above the data's range) into one sorted array and searched once."""
    n, k = thr.shape
    if n == 1:
        return np.searchsorted(np.sort(thr[0]), x, side="left").astype(np.int64)
    top = max(float(np.max(np.abs(thr))), float(np.max(np.abs(x))) if x.size else 0.0)
    span = 2.0 ** math.ceil(math.log2(2 * top + 2))
    flat = (np.sort(thr, axis=1) + span * np.arange(n)[:, None]).reshape(-1)
    return np.searchsorted(flat, x + span * u, side="left").astype(np.int64) - k * u


# ---- helpers -------------------------------------------------------------------------------------
def _scale(x, name: str) -> float:
    v = finite(x, name)
    if v < 0:
        raise ParameterError(f"{name} must be >= 0 (1 = the circuit's Monte Carlo spread, 0 = nominal), got {v:g}")
    return v


# ---- the model on the SPICE LUTs -------------------------------------------------------------------
def converter(alut, vdd, temp, calibration: str = "none", trim_lut=None, pdk: str = "ptm16hp"):
    """The read-out converter model of the converter LUT *alut* at (vdd, temp) with its *calibration*
    (``"trim"``: the comparator trim LUT *trim_lut*, default ``<pdk>/comparator_trim``)."""
    from ..comparator.model_trim import trim_dac
    from ..adc.model import DigitizerModel

    if trim_lut is not None and calibration != "trim":
        raise ParameterError("--trim-lut applies to --adc-calibration trim only")
    trim = trim_dac(trim_lut, pdk, alut, {"vdd": vdd, "temp": temp}) if calibration == "trim" else None
    return DigitizerModel.from_lut(alut, vdd=vdd, temp=temp, calibration=calibration, trim=trim)


def model_from_luts(delay=None, tdc=None, acc=None, adc=None, vdd: float | None = None, temp: float | None = None,
                    fmt="e4m3", pdk: str = "ptm16hp", adc_calibration: str = "none", trim_lut=None,
                    **kw) -> TdMacModel:
    """A :class:`TdMacModel` on the SPICE circuit (:func:`circuit_from_luts`) whose read-out is the
    converter LUT (``adc``: a path / LUT, default ``<pdk>/adc_sar6`` on the LUT search path; an int = an
    ideal converter of that many bits with the LUT circuit's other parts; ``adc_calibration`` "offset" trims
    each converter instance's offset once, "trim" through the comparator trim LUT *trim_lut* (default
    ``<pdk>/comparator_trim``)). The element-TDC window is the characterized one.
    Other keywords go to :class:`TdMacModel` (length, guard, fullscale, exp_mismatch, man_mismatch, units,
    seed)."""
    circ = circuit_from_luts(delay, tdc, acc, None if isinstance(adc, int) and not isinstance(adc, bool) else adc,
                             vdd=vdd, temp=temp, fmt=fmt, pdk=pdk)
    if isinstance(adc, int) and not isinstance(adc, bool):
        conv = adc
    else:
        from ...core.lut import LUT

        src = adc if adc is not None else default_lut(pdk, "adc")
        alut = src if isinstance(src, LUT) else LUT.load(src)
        av, at, _ = adc_corner(alut, circ.source["vdd"], circ.source["temp"])
        conv = converter(alut, av, at, adc_calibration, trim_lut, pdk)  # the model
        # scales the converter's mismatch by man_mismatch itself
    kw.setdefault("window", circ.tdc_thr.size)
    return TdMacModel(fmt, circuit=circ, adc=conv, **kw)
