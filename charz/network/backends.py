"""The matrix-product backends the network executor (:mod:`charz.network.engine`) runs a layer on, and
their options.

Every backend is a :class:`charz.behavior.interfaces.MatmulBackend` (``label``, ``shape``,
``program(w)``, ``matmul(x) -> (y, Cost)``, ``ideal()``) for ONE simulated chip, plus ``operands``:
``"int"`` (the executor quantizes x and W with :mod:`charz.network.quant` and gives integers; the
backend returns the integer accumulations) or ``"float"`` (real operands, real results).

============  ========  =====================================================================================
name          operands  what computes / what its Cost counts
============  ========  =====================================================================================
``float``     float     ``x @ W`` in the model's dtype (or float64 / float32, option ``dtype``): the
                        unquantized reference.
                        Cost: ops only (no energy).
``exact``     int       :func:`charz.network.quant.integer_matmul`: the exact integer product of the
                        quantized operands (the quantized-ideal reference). Cost: ops only.
``digital``   int       the same exact integers, on a digital MAC array whose energy is
                        ``energy_per_mac`` [J] per MAC (default :data:`DIGITAL_MAC_ENERGY_J`, an
                        ASSUMPTION stated in :data:`DIGITAL_MAC_SOURCE`), ``energy["digital"]``.
``cim``       int       the bit-plane CiM column (:class:`CimLayerBackend` around
                        :class:`charz.blocks.cim_column.model_layer.CimBackend`): the column LUT's
                        curves with their mismatch drawn once per chip, the ideal quantizer or a
                        converter LUT, tiles of N rows. Cost: ``array`` (E(k) of every column
                        evaluation from the LUT), ``readout`` (conversions x the converter's energy),
                        conversions, column evaluations, and the latency of
                        :mod:`charz.network.timing` (LUT columns only).
``td_mac``    float     the time-domain FP8 MAC (:class:`TdMacLayerBackend` around
                        :class:`charz.blocks.td_mac.model.TdMacBackend`): operands scaled by per-tensor
                        powers of two (:func:`charz.network.td_mac.pow2_scale`: the weights' at
                        programming, the activations' per call or from the calibrated range, option
                        ``x_scale``) and rounded to FP8. Cost: ``mac``, ``readout`` from the model; no
                        latency.
``wht``       block     the WHT crossbar (:class:`WhtLayerBackend` around
                        :class:`charz.blocks.wht.model.WhtBackend`) for the fixed-function operator
                        ``ai.charz.WhtCrossbar`` (:mod:`charz.network.ops_wht`) only: programmed with the
                        node's hard-wired block Hadamard matrix, fed the sign-magnitude integers the
                        operator quantizes, per-plane latches of a ``wht_column`` LUT (mismatch drawn once
                        per chip) or ideal ones; the node's threshold input is the per-call
                        early-termination hint. Cost: ``rows`` (row drive) and ``columns`` (precharge,
                        latch, clock) from the LUT, ops = 2 R^2 per R-point transform, conversions =
                        evaluated column-planes, counters (skipped column-planes, the energy without
                        early termination, ...); no latency.
============  ========  =====================================================================================

A **block operator** (:data:`BLOCK_BACKENDS`: op type -> its backend) is not a weight product: the
executor routes it through the graph's block hook, never quantizes it (the operator carries its own
quantization) and maps it on its own backend only; that backend takes no other layer.

:func:`make_backend` builds one from a name, an option dict (:data:`OPTIONS`; what each backend takes:
:data:`BACKEND_OPTIONS`) and a chip seed. The engine adds two options of its own: ``x_signed`` (the
calibrated activations of the layer are signed) and ``x_amax`` (their calibrated magnitude, for the FP8
activation scale).

Signed activations on the CiM column (which applies unsigned bit planes only) are applied in **offset
binary**: ``x_u = x + 2^(b-1)`` (in [1, 2^b - 1] for the symmetric b-bit range), one pass of b planes,
and the digital back end subtracts ``2^(b-1) * sum_k W[k, n]`` (a constant per output, computed when
programmed). The same columns evaluate every plane, so a chip's mismatch is applied once; the inputs'
zeros are no longer zero planes (offset binary costs the sparsity a sign-magnitude split would keep).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from pathlib import Path

import numpy as np

from ..behavior import fp8
from ..behavior.interfaces import Cost
from ..blocks.cim_column.model import ColumnModel
from ..blocks.cim_column.model_calib import COLUMN_CALIBRATIONS
from ..blocks.cim_column.model_layer import CimBackend
from ..blocks.td_mac.model import TdMacBackend, TdMacModel
from ..blocks.wht import model_planes as wht_planes
from ..blocks.wht.model import WhtBackend, WhtModel
from ..core.errors import ParameterError
from ..core.hadamard import ORDERS
from . import quant, timing
from .ops_wht import OP as WHT_OP
from .td_mac import pow2_scale

DIGITAL_MAC_ENERGY_J = 0.23e-12
"""ASSUMED energy of one digital multiply-accumulate [J] for layers not mapped to an analog backend
(``digital``): see :data:`DIGITAL_MAC_SOURCE`. Override per layer with the option ``energy_per_mac``."""
DIGITAL_MAC_SOURCE = ("assumption: 0.23 pJ per MAC = an 8-bit integer multiply (0.2 pJ) + an 8-bit add "
                      "(0.03 pJ) at 45 nm, 0.9 V (M. Horowitz, 'Computing's energy problem', ISSCC 2014, "
                      "table of operation energies); not scaled to the PDK's node or to the layer's bits, "
                      "no data movement, no SRAM reads; override with energy_per_mac")
"""Where :data:`DIGITAL_MAC_ENERGY_J` comes from (quoted in every result that uses it)."""

BACKENDS = ("float", "exact", "digital", "cim", "td_mac", "wht")
"""Backend names :func:`make_backend` knows."""
BLOCK_BACKENDS = {WHT_OP: "wht"}
"""Fixed-function block operator (op type) -> the backend that runs it (and runs nothing else)."""
ANALOG = ("cim", "td_mac", "wht")
"""The backends whose layers make the analog TOPS/W of a result."""
DRAW_FROM_GENERATOR = ("cim", "wht")
"""Backends that draw their mismatch at ``program`` from the chip's one generator, in programming order."""
DEFAULT_WHT_LUT = "wht16"
"""The ``wht`` backend's default LUT: ``<pdk>/wht16`` on the LUT search path (as `charz eval --network wht`)."""
FLOAT_DTYPES = ("model", "float64", "float32")
"""Precisions of the ``float`` backend."""
CIM_MAX_X_BITS = 8
"""Widest activations the CiM column model applies (bit planes)."""


# ---- options -------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Opt:
    """One backend option: its kind (``int``, ``float``, ``choice``, ``path``, ``bool``, ``int_or_path``),
    bounds or choices, and what it means (with units)."""

    kind: str
    doc: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()

    def check(self, value, key: str, where: str):
        """*value* checked (an int, float, str or bool), or a one-line ParameterError naming *where* and *key*."""
        bad = f"{where}: {key} = {value!r}"
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"{bad}: must be true or false")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise ParameterError(f"{bad}: must be one of {', '.join(map(str, self.choices))}")
            return value
        if self.kind == "path" or (self.kind == "int_or_path" and isinstance(value, str)):
            if not isinstance(value, str) or not value.strip():
                raise ParameterError(f"{bad}: must be a path (a non-empty string)")
            return value
        if self.kind in ("int", "int_or_path"):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ParameterError(f"{bad}: must be an integer" + (" or a LUT path" if self.kind == "int_or_path" else ""))
            v = int(value)
        else:
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
                raise ParameterError(f"{bad}: must be a finite number")
            v = float(value)
        if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            hi = "" if self.hi is None else f" and <= {self.hi:g}"
            raise ParameterError(f"{bad}: must be >= {self.lo:g}{hi}")
        return v


OPTIONS = {
    # quantization (the executor's; every integer backend)
    "w_bits": Opt("int", "weight bits (signed symmetric)", 2, quant.MAX_BITS),
    "x_bits": Opt("int", "activation bits (unsigned after ReLU, else signed symmetric)", 1, quant.MAX_BITS),
    "weight_scale": Opt("choice", "weight scale granularity", choices=quant.GRANULARITIES),
    "act_range": Opt("choice", "activation range estimator on the calibration images", choices=quant.RANGE_METHODS),
    "percentile": Opt("float", "percentile of the activation range [%]", 50.000001, 100),
    # float
    "dtype": Opt("choice", "float product precision ('model': the operands' own dtype)", choices=FLOAT_DTYPES),
    # digital
    "energy_per_mac": Opt("float", "digital energy per MAC [J]", 0, 1e-9),
    # cim
    "columns": Opt("choice", "'lut': the column LUT's circuit; 'ideal': ideal columns (k_hat = k, 0 J)",
                   choices=("lut", "ideal")),
    "lut": Opt("path", "the block's LUT: cim_column for cim (default <pdk>/cim_column), wht_column for wht (default "
                       "<pdk>/wht16), on the LUT search path"),
    "pdk": Opt("path", "PDK of the default LUTs"),
    "tile_rows": Opt("int", "rows N per tile (must equal the column LUT's N; free for ideal columns)", 1, 4096),
    "vdd": Opt("float", "supply [V] (default: the LUT's; wht: the published 0.8 V when on the LUT's grid)", 0.05, 5.0),
    "temp": Opt("float", "temperature [degC] (default: the LUT's)", -273.15, 500),
    "t_pulse": Opt("float", "wordline pulse [s] (default: best separated)", 0, 1e-6),
    "adc_bits": Opt("int", "ideal quantizer bits (default: the fewest that separate all levels)", 1, 12),
    "adc_lut": Opt("path", "converter LUT read-out (adc_sar*, adc_mi_sar*, adc_flash*, adc_hybrid*)"),
    "adc_full_scale_k": Opt("int", "cim: the read-out's full scale ends at the level V(k) of k active cells instead of "
                            "V(N) (columns that never have more than k active cells, e.g. pruned ones)", 1, 4096),
    "adc_mismatch_scale": Opt("float", "converter Monte Carlo spread multiplier", 0, 100),
    "adc_reference": Opt("choice", "converter full scale: 'column' swing or as characterized ('lut')",
                         choices=("column", "lut")),
    "calibration": Opt("choice", "cim: converter calibration, 'offset' trims every instance's offset once (ideal "
                       "trim), 'trim' through the comparator's trim DAC characterized in SPICE (trim_lut); wht: 'trim' "
                       "centres every latch threshold through that trim DAC",
                       choices=("none", "offset", "trim")),
    "trim_lut": Opt("path", "comparator LUT with an offset trim, for calibration 'trim' (default "
                            "<pdk>/comparator_trim)"),
    "columns_per_adc": Opt("int", "columns sharing a dedicated converter", 1, 4096),
    "column_calibration": Opt("choice", "cim: 'gain_offset' fits every column's read-out against known inputs and "
                              "corrects its gain and offset in its own decode table (per chip; offset at k = 0), "
                              "'gain_offset_lsq' the least-squares line over every level",
                              choices=COLUMN_CALIBRATIONS),
    "array_columns": Opt("int", "columns per array (converter placement and timing)", 1, 1 << 16),
    "mismatch_scale": Opt("float", "column Monte Carlo spread multiplier (0 = nominal columns)", 0, 100),
    "mismatch_source": Opt("choice", "column instances: multivariate normal or resampled MC rows",
                           choices=("mvn", "resample")),
    # td_mac
    "fmt": Opt("choice", "FP8 format", choices=("e4m3", "e5m2")),
    "length": Opt("int", "FP8 pairs per scalar product L", 1, 1 << 14),
    "circuit": Opt("choice", "'luts': the SPICE TD-MAC LUTs; 'ideal': the ideal circuit", choices=("luts", "ideal")),
    "adc": Opt("int_or_path", "TD-MAC read-out: converter bits (ideal) or a converter LUT path", 1, 16),
    "delay_lut": Opt("path", "TD-MAC delay-line LUT (td_delay; default <pdk>/td_delay4)"),
    "tdc_lut": Opt("path", "TD-MAC TDC LUT (td_tdc; default <pdk>/td_tdc)"),
    "acc_lut": Opt("path", "TD-MAC accumulation LUT (td_acc; default <pdk>/td_acc)"),
    "window": Opt("int", "element-TDC thresholds W (default: the circuit's)", 1, 64),
    "guard": Opt("int", "guard bits G", 0, 58),
    "fullscale": Opt("float", "converter full scale, fraction of L pmax 2^G", 1e-6, 1.0),
    "exp_mismatch": Opt("float", "exponent-path mismatch multiplier", 0, 100),
    "man_mismatch": Opt("float", "mantissa-path mismatch multiplier", 0, 100),
    "units": Opt("int", "physical TD-MAC engines", 1, 1 << 16),
    "line_calibration": Opt("choice", "TD-MAC delay lines: 'bias' locks every line's span with its own bias DAC "
                            "(needs a delay_lut characterized with --bias-trim)", choices=("none", "bias")),
    "bias_bits": Opt("int", "bits of each delay line's bias DAC (line_calibration 'bias')", 1, 8),
    "x_scale": Opt("choice", "FP8 activation scale: 'dynamic' (the amax of each call's x, as charz.network.td_mac "
                   "does) or 'calibrated' (from the calibrated range: the same for every batch)",
                   choices=("dynamic", "calibrated")),
    # wht
    "crossbar": Opt("choice", "'lut': the wht_column LUT's circuit; 'ideal': ideal latches, no LUT (0 J)",
                    choices=("lut", "ideal")),
    "mode": Opt("choice", "WHT latch: 'ternary' (latch pair) or 'sign' (default: the LUT's latch)",
                choices=wht_planes.MODES),
    "early_termination": Opt("bool", "WHT: stop a column once its soft-thresholded output is settled (the "
                             "operator's threshold hint)"),
    # set by the executor, not by a mapping file
    "x_signed": Opt("bool", "the layer's activations are signed (set by the executor)"),
    "x_amax": Opt("float", "calibrated activation magnitude (set by the executor)", 0, None),
    "in_bits": Opt("int", "input bits of a block operator (set by the executor from the node's attributes)", 2,
                   wht_planes.MAX_BITS),
}
"""Every option a backend takes, with its check."""

QUANT_KEYS = ("w_bits", "x_bits", "weight_scale", "act_range", "percentile")
"""Options of the executor's quantization (integer backends; ``td_mac`` takes the range keys)."""
ENGINE_KEYS = ("x_signed", "x_amax", "in_bits")
"""Options the executor sets itself (a mapping file may not)."""
BACKEND_OPTIONS = {
    "float": ("dtype",),
    "exact": QUANT_KEYS,
    "digital": QUANT_KEYS + ("energy_per_mac",),
    "cim": QUANT_KEYS + ("columns", "lut", "pdk", "tile_rows", "vdd", "temp", "t_pulse", "adc_bits", "adc_lut",
                         "adc_mismatch_scale", "adc_reference", "calibration", "trim_lut", "columns_per_adc",
                         "array_columns", "mismatch_scale", "mismatch_source", "column_calibration", "adc_full_scale_k"),
    "td_mac": ("act_range", "percentile", "fmt", "length", "circuit", "adc", "delay_lut", "tdc_lut", "acc_lut", "pdk",
               "vdd", "temp", "window", "guard", "fullscale", "exp_mismatch", "man_mismatch", "units", "x_scale",
               "line_calibration", "bias_bits"),
    "wht": ("crossbar", "lut", "pdk", "vdd", "temp", "t_pulse", "mismatch_scale", "mode", "early_termination",
            "calibration", "trim_lut"),
}
"""The options (keys of :data:`OPTIONS`) each backend takes, besides :data:`ENGINE_KEYS`."""
DEFAULTS = {"w_bits": 8, "x_bits": 8, "weight_scale": "channel", "act_range": "percentile",
            "percentile": quant.DEFAULT_PERCENTILE, "dtype": "model", "energy_per_mac": DIGITAL_MAC_ENERGY_J,
            "columns": "lut", "pdk": "ptm16hp", "mismatch_scale": 1.0, "mismatch_source": "mvn",
            "adc_reference": "column", "calibration": "none", "column_calibration": "none", "array_columns": timing.DEFAULT_ARRAY_COLUMNS,
            "fmt": "e4m3", "length": 16, "circuit": "luts", "exp_mismatch": 1.0, "man_mismatch": 1.0, "units": 1,
            "x_scale": "dynamic", "crossbar": "lut", "early_termination": True}
"""Values of the options not given (the others default to None: the block model's own default)."""


def check_options(name: str, options: dict, where: str = "backend options", engine: bool = True) -> dict:
    """*options* checked against backend *name*'s keys (:data:`BACKEND_OPTIONS`, plus :data:`ENGINE_KEYS`
    when *engine*): a new dict, or a one-line ParameterError naming *where* and the key."""
    if name not in BACKENDS:
        raise ParameterError(f"{where}: backend = {name!r}: must be one of {', '.join(BACKENDS)}")
    allowed = set(BACKEND_OPTIONS[name]) | (set(ENGINE_KEYS) if engine else set())
    out = {}
    for k, v in dict(options or {}).items():
        if k not in OPTIONS:
            raise ParameterError(f"{where}: unknown key {k!r} (backend options: {', '.join(sorted(OPTIONS))})")
        if k not in allowed:
            raise ParameterError(f"{where}: key {k!r} does not apply to backend {name!r} (it takes: "
                                 f"{', '.join(BACKEND_OPTIONS[name]) or 'nothing'})")
        out[k] = OPTIONS[k].check(v, k, where)
    if name == "cim" and out.get("x_bits", DEFAULTS["x_bits"]) > CIM_MAX_X_BITS:
        raise ParameterError(f"{where}: x_bits = {out['x_bits']}: the CiM column applies at most "
                             f"{CIM_MAX_X_BITS}-bit activations")
    return out


def check_pairing(backend: str, op: str, name: str, where: str) -> None:
    """A one-line ParameterError (prefixed *where*) when layer *name* (op type *op*) cannot run on *backend*: a
    block operator runs only on its own backend (:data:`BLOCK_BACKENDS`), which runs nothing else."""
    home = BLOCK_BACKENDS.get(op)
    if home is not None and backend != home:
        raise ParameterError(f"{where}: layer '{name}' is a {op} node, a fixed-function block: it runs on backend "
                             f"'{home}' only, not {backend!r}")
    if home is None and backend in BLOCK_BACKENDS.values():
        ops = ", ".join(o for o, b in BLOCK_BACKENDS.items() if b == backend)
        raise ParameterError(f"{where}: layer '{name}' ({op}) cannot run on backend {backend!r}, which runs only "
                             f"{ops} nodes: map it to one of "
                             f"{', '.join(b for b in BACKENDS if b not in BLOCK_BACKENDS.values())}")


def option(options: dict, key: str):
    """The value of *key* in *options*, else its :data:`DEFAULTS` value (None when it has none)."""
    return options[key] if key in options else DEFAULTS.get(key)


# ---- backends ------------------------------------------------------------------------------------------
def _weights2d(weights, what="weights") -> np.ndarray:
    w = np.asarray(weights)
    if w.ndim != 2:
        raise ParameterError(f"{what} must be a 2-D (in, out) matrix, got shape {w.shape}")
    return w


def _rows(x, k: int) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != k:
        raise ParameterError(f"inputs must have shape (batch, {k}), got {x.shape}")
    return x


class FloatBackend:
    """The unquantized product ``x @ W``: a :class:`~charz.behavior.interfaces.MatmulBackend` with real
    operands. ``dtype="model"`` (the default) multiplies the arrays as given, in their own dtype (float32 for
    a float32 model): exactly the default product of :func:`charz.network.graph.run`; ``"float64"`` /
    ``"float32"`` cast both first. Cost = ops only (no energy counted)."""

    operands = "float"

    def __init__(self, dtype: str = "model"):
        if dtype not in FLOAT_DTYPES:
            raise ParameterError(f"dtype must be one of {', '.join(FLOAT_DTYPES)}, got {dtype!r}")
        self.dtype = dtype
        self.weights: np.ndarray | None = None
        """The programmed (in, out) weights (as given for ``dtype="model"``; None before :meth:`program`)."""

    @property
    def label(self) -> str:
        """``x @ W`` and its precision."""
        return f"float x @ W ({'the model dtype' if self.dtype == 'model' else self.dtype}, unquantized)"

    @property
    def shape(self) -> tuple[int, int] | None:
        """(in, out) of the programmed weights; None before :meth:`program`."""
        return None if self.weights is None else tuple(self.weights.shape)

    def program(self, weights) -> None:
        """Keep real weights (in, out): as given (``"model"``, no copy) or cast to :attr:`dtype`."""
        w = _weights2d(weights)
        self.weights = w if self.dtype == "model" else w.astype(self.dtype)

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(x @ W (batch, out), Cost with ops = 2 x batch x in x out)."""
        if self.weights is None:
            raise ParameterError("program the weights first (backend.program(w))")
        k, n = self.weights.shape
        x = _rows(x, k)
        y = x @ self.weights if self.dtype == "model" else x.astype(self.dtype) @ self.weights
        return y, Cost(ops=2 * x.shape[0] * k * n, counters={"vectors": x.shape[0]})

    def describe(self) -> dict:
        """The product's precision."""
        return {"dtype": self.dtype}

    def ideal(self) -> "FloatBackend":
        """The same float product (it is its own reference), programmed alike."""
        out = FloatBackend(self.dtype)
        out.weights = self.weights
        return out


class ExactBackend:
    """The exact integer product of quantized operands (:func:`charz.network.quant.integer_matmul`): signed
    ``w_bits`` weights, ``x_bits`` activations (signed symmetric when ``x_signed``, else unsigned); int64
    outputs. Cost = ops only."""

    operands = "int"

    def __init__(self, w_bits: int = 8, x_bits: int = 8, x_signed: bool = False):
        self.w_bits = quant.check_bits(w_bits, "w_bits")
        self.x_bits = quant.check_bits(x_bits, "x_bits", 1)
        self.x_signed = bool(x_signed)
        self.weights: np.ndarray | None = None
        """The programmed (in, out) int64 weights (None before :meth:`program`)."""

    @property
    def label(self) -> str:
        """Bits and signedness of the exact integer product."""
        return f"exact integers w{self.w_bits} x{self.x_bits}{'s' if self.x_signed else 'u'}"

    @property
    def shape(self) -> tuple[int, int] | None:
        """(in, out) of the programmed weights; None before :meth:`program`."""
        return None if self.weights is None else tuple(self.weights.shape)

    def program(self, weights) -> None:
        """Keep signed integer weights (in, out) in [-(2^(w_bits-1) - 1), 2^(w_bits-1) - 1]."""
        self.weights = _check_ints(_weights2d(weights), -quant.qmax(self.w_bits, True), quant.qmax(self.w_bits, True),
                                   "weights", self.w_bits)

    def _check_x(self, x) -> np.ndarray:
        if self.weights is None:
            raise ParameterError("program the weights first (backend.program(w))")
        top = quant.qmax(self.x_bits, self.x_signed)
        return _check_ints(_rows(x, self.weights.shape[0]), -top if self.x_signed else 0, top, "activations", self.x_bits)

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(x @ W int64 (batch, out), Cost with ops = 2 x batch x in x out)."""
        x = self._check_x(x)
        k, n = self.weights.shape
        return quant.integer_matmul(x, self.weights), Cost(ops=2 * x.shape[0] * k * n, counters={"vectors": x.shape[0]})

    def describe(self) -> dict:
        """Bits and signedness."""
        return {"w_bits": self.w_bits, "x_bits": self.x_bits, "x_signed": self.x_signed}

    def ideal(self) -> "ExactBackend":
        """Itself (the exact product is its own reference), programmed alike."""
        out = ExactBackend(self.w_bits, self.x_bits, self.x_signed)
        out.weights = self.weights
        return out


class DigitalBackend(ExactBackend):
    """A digital MAC array: the exact integer product (as :class:`ExactBackend`) with ``energy_per_mac`` [J]
    per MAC booked as ``energy["digital"]`` (default :data:`DIGITAL_MAC_ENERGY_J`, an assumption: see
    :data:`DIGITAL_MAC_SOURCE`). No latency."""

    def __init__(self, w_bits: int = 8, x_bits: int = 8, x_signed: bool = False,
                 energy_per_mac: float = DIGITAL_MAC_ENERGY_J):
        super().__init__(w_bits, x_bits, x_signed)
        self.energy_per_mac = OPTIONS["energy_per_mac"].check(energy_per_mac, "energy_per_mac", "digital backend")

    @property
    def label(self) -> str:
        """Bits and the energy per MAC."""
        return (f"digital MACs w{self.w_bits} x{self.x_bits}{'s' if self.x_signed else 'u'}, "
                f"{self.energy_per_mac * 1e12:.3g} pJ/MAC (assumed)")

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(x @ W int64, Cost with ``energy["digital"]`` = MACs x energy_per_mac [J])."""
        y, c = super().matmul(x)
        macs = c.ops // 2
        return y, Cost(energy={"digital": macs * self.energy_per_mac}, ops=c.ops, counters={**c.counters, "macs": macs})

    def describe(self) -> dict:
        """Bits, signedness and the assumed energy per MAC [J]."""
        return {**super().describe(), "energy_per_mac_J": self.energy_per_mac, "energy_source": DIGITAL_MAC_SOURCE}

    def ideal(self) -> "DigitalBackend":
        """Itself (digital arithmetic is exact), programmed alike."""
        out = DigitalBackend(self.w_bits, self.x_bits, self.x_signed, self.energy_per_mac)
        out.weights = self.weights
        return out


class CimLayerBackend:
    """The bit-plane CiM column for the executor: a :class:`charz.blocks.cim_column.model_layer.CimBackend`
    (one chip: *model*'s columns, their curves and converters drawn from *seed* at :meth:`program`) plus
    signed activations in offset binary (see the module doc) and the latency of
    :mod:`charz.network.timing` when *lut* (the column LUT, for its timing) is given.

    Latency of a call: every input vector (row of x) takes ``x_bits`` rounds of the layer's arrays (all
    tiles in parallel, one vector after the other): ``rows x x_bits x T_round(C)``,
    ``C = min(columns per tile, array_columns)``, ``T_round`` of the read-out's placement
    (:func:`charz.network.timing.round_time`)."""

    operands = "int"

    def __init__(self, model: ColumnModel | None, *, n_rows: int | None = None, w_bits: int = 8, x_bits: int = 8,
                 x_signed: bool = False, seed=0, lut=None, columns_per_adc: int | None = None,
                 array_columns: int = timing.DEFAULT_ARRAY_COLUMNS):
        self.x_signed = bool(x_signed)
        self.x_bits = quant.check_bits(x_bits, "x_bits", 2 if self.x_signed else 1, CIM_MAX_X_BITS)
        self.inner = CimBackend(model, n_rows=n_rows, w_bits=w_bits, x_bits=self.x_bits, seed=seed)
        self.model = model
        self.lut = lut
        self.columns_per_adc = columns_per_adc
        self.array_columns = int(array_columns)
        self.offset = (1 << (self.x_bits - 1)) if self.x_signed else 0
        """Added to every activation (offset binary; 0 for unsigned activations)."""
        self._colsum: np.ndarray | None = None
        self._t_vector: float | None = None

    @property
    def label(self) -> str:
        """The column backend's label, with the input coding."""
        return self.inner.label + (" (signed inputs in offset binary)" if self.x_signed else "")

    @property
    def shape(self) -> tuple[int, int] | None:
        """(in, out) of the programmed weights; None before :meth:`program`."""
        return self.inner.shape

    @property
    def n_rows(self) -> int:
        """Rows N per tile."""
        return self.inner.n_rows

    @property
    def w_bits(self) -> int:
        """Weight bits."""
        return self.inner.w_bits

    def program(self, weights) -> None:
        """Map signed integer weights onto this chip's columns (mismatch drawn now); keep the column sums the
        offset binary needs."""
        self.inner.program(weights)
        self._colsum = self.inner.weights.sum(axis=0)
        self._t_vector = self._vector_time()

    def _vector_time(self) -> float | None:
        if self.lut is None or self.model is None:
            return None
        lay = self.inner.layer
        col = timing.column_timing(self.lut, self.model.coords.get("t_pulse", 0.0))
        q = self.model.quantizer
        scheme, sa_bits = timing.scheme_for(q)
        c = min(lay.columns_per_tile, self.array_columns)
        r = timing.round_time(scheme, col, float(q.t_conv), c, self.columns_per_adc or 1, sa_bits,
                              neighbour_columns=self.array_columns)
        return self.x_bits * r["t_round_s"]

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(integer outputs (batch, out) int64, Cost) of ``x_bits``-bit activations (unsigned, or signed
        symmetric when ``x_signed``)."""
        if self.inner.layer is None:
            raise ParameterError("program the weights first (backend.program(w))")
        top = quant.qmax(self.x_bits, self.x_signed)
        x = _check_ints(_rows(x, self.inner.layer.in_features), -top if self.x_signed else 0, top, "activations",
                        self.x_bits)
        y, c = self.inner.matmul(x + self.offset if self.offset else x)
        if self.offset:
            y = y - self.offset * self._colsum
        if self._t_vector is not None:
            c.latency = x.shape[0] * self._t_vector
        return y, c

    def ideal(self) -> "CimLayerBackend":
        """Ideal columns of the same size and bits (exact ``x @ W``), programmed with the same weights."""
        out = CimLayerBackend(None, n_rows=self.n_rows, w_bits=self.w_bits, x_bits=self.x_bits,
                              x_signed=self.x_signed)
        if self.inner.weights is not None:
            out.program(self.inner.weights)
        return out

    def describe(self) -> dict:
        """Tiles, physical columns per tile, column evaluations per input vector, and the timing per vector."""
        lay = self.inner.layer
        if lay is None:
            return {}
        out = {"n_rows": self.n_rows, "tiles": lay.n_tiles, "columns_per_tile": lay.columns_per_tile,
               "evaluations_per_vector": lay.evaluations_per_input, "t_vector_s": self._t_vector,
               "input_coding": "offset binary" if self.x_signed else "unsigned"}
        if self.model is not None and self.model.column_calibration != "none" and self._t_vector is not None:
            out["column_calibration"] = self.model.column_calibration_cost(self._t_vector / self.x_bits)
        return out


class TdMacLayerBackend:
    """The time-domain FP8 MAC for the executor: :class:`charz.blocks.td_mac.model.TdMacBackend` on real
    operands. :meth:`program` scales W by its per-tensor power of two ``s_w``
    (:func:`charz.network.td_mac.pow2_scale`: max |W| just below the format's largest value) and rounds
    it to FP8; :meth:`matmul` scales x by ``s_x`` (from ``x_amax``, the calibrated activation magnitude,
    so every batch uses the same scale; None: the amax of each call's x), rounds it to FP8 (saturating),
    and returns ``y / (s_x s_w)``."""

    operands = "float"

    def __init__(self, model: TdMacModel, x_amax: float | None = None):
        self.inner = TdMacBackend(model)
        self.model = model
        self.x_amax = None if x_amax is None else float(x_amax)
        self.s_x = None if not self.x_amax else pow2_scale(np.array([self.x_amax]), model.fmt)
        self.s_w: float | None = None
        self.weights: np.ndarray | None = None
        """The real (unscaled) programmed weights (None before :meth:`program`)."""

    @property
    def label(self) -> str:
        """The TD-MAC backend's label."""
        return self.inner.label

    @property
    def shape(self) -> tuple[int, int] | None:
        """(in, out) of the programmed weights; None before :meth:`program`."""
        return self.inner.shape

    def program(self, weights) -> None:
        """Scale real weights (in, out) by their power of two and program them as FP8."""
        w = _weights2d(weights).astype(np.float64)
        self.weights = w
        self.s_w = pow2_scale(w, self.model.fmt)
        self.inner.program(fp8.quantize(w * self.s_w, self.model.fmt))

    def matmul(self, x) -> tuple[np.ndarray, Cost]:
        """(y (batch, out) float64 ~ x @ W, Cost) of real inputs x (batch, in)."""
        if self.weights is None:
            raise ParameterError("program the weights first (backend.program(w))")
        x = _rows(x, self.weights.shape[0]).astype(np.float64)
        s_x = self.s_x if self.s_x is not None else pow2_scale(x, self.model.fmt)
        y, c = self.inner.matmul(fp8.quantize(x * s_x, self.model.fmt))
        c.counters["vectors"] = x.shape[0]
        return np.asarray(y, dtype=np.float64) / (s_x * self.s_w), c

    def ideal(self) -> "TdMacLayerBackend":
        """Exact FP8 products (:meth:`TdMacModel.exact`, same format and length), same scales and weights."""
        out = TdMacLayerBackend(TdMacModel.exact(self.model.fmt, self.model.length), self.x_amax)
        if self.weights is not None:
            out.program(self.weights)
        return out

    def describe(self) -> dict:
        """Format, length, read-out, scales."""
        return {"format": self.model.fmt.name, "length": self.model.length, "adc": self.model.adc_label,
                "x_scale": self.s_x, "w_scale": self.s_w}


class WhtLayerBackend:
    """The WHT crossbar for the executor's block operator ``ai.charz.WhtCrossbar``: a
    :class:`charz.blocks.wht.model.WhtBackend` of one chip, made at :meth:`program` (n, R and the Hadamard
    ordering read from the hard-wired matrix the node gives; its tiles' mismatch drawn then from *seed*, a
    Generator a chip's layers share in programming order, as :func:`charz.network.wht.evaluate_wht` draws one
    chip's transforms). *model* None: ideal latches without a LUT (no energy); ``ideal=True``: ideal latches,
    energy from the model's LUT tables. :meth:`matmul` takes the sign-magnitude integers the operator
    quantized and its hint ``thresholds`` (used for early termination when *early_termination*)."""

    operands = "block"

    def __init__(self, model: WhtModel | None, *, bits: int = wht_planes.DEFAULT_BITS, mode: str = "ternary",
                 early_termination: bool = True, ideal: bool = False, seed=0):
        self.model = model
        self.bits = wht_planes.check_bits(bits)
        self.mode = wht_planes.check_mode(mode)
        if model is not None:
            model.check_mode(mode)
        self.early_termination = bool(early_termination)
        self.is_ideal = bool(ideal) or model is None
        self.seed = seed
        self.inner: WhtBackend | None = None
        self.weights: np.ndarray | None = None

    @property
    def label(self) -> str:
        """The crossbar's label (after :meth:`program`), with early termination."""
        if self.inner is None:
            return f"WHT crossbar ({self.mode} latch, {self.bits}-bit inputs), not programmed"
        return self.inner.label + (", early termination" if self.early_termination else "")

    @property
    def shape(self) -> tuple[int, int] | None:
        """(n, n) once programmed; None before."""
        return None if self.inner is None else self.inner.shape

    def program(self, weights) -> None:
        """Build this chip's crossbars for the block Hadamard matrix *weights* (n, n) and draw their mismatch."""
        w = _weights2d(weights)
        r, order = _block_hadamard_geometry(w)
        if self.model is not None and (r != self.model.n_rows or order != self.model.order):
            raise ParameterError(f"the WHT operator needs {r}x{r} crossbars in {order} order, but the wht_column LUT "
                                 f"has R = {self.model.n_rows}, {self.model.order} order: use a LUT characterized for "
                                 f"it, or crossbar = 'ideal'")
        self.inner = WhtBackend(w.shape[0], model=self.model, n_rows=None if self.model is not None else r,
                                order=order, bits=self.bits, mode=self.mode, ideal=self.is_ideal, seed=self.seed)
        self.inner.program(w)
        self.weights = w

    def matmul(self, x, thresholds=None) -> tuple[np.ndarray, Cost]:
        """(y (vectors, n) int64, Cost) of sign-magnitude integers x (vectors, n); *thresholds* = the node's hint."""
        if self.inner is None:
            raise ParameterError("program the weights first (backend.program(block_hadamard(n, R, order)))")
        x = np.asarray(x)
        y, c = self.inner.matmul(x, thresholds=thresholds,
                                 early_termination=self.early_termination and thresholds is not None)
        c.counters["vectors"] = int(x.shape[0]) if x.ndim == 2 else 1
        c.counters["column_evaluations"] = c.counters["evaluated_column_planes"]
        return y, c

    def ideal(self) -> "WhtLayerBackend":
        """Ideal latches (the ideal quantized crossbar; energy from the LUT's tables), same bits, mode and
        early termination, programmed alike."""
        out = WhtLayerBackend(self.model, bits=self.bits, mode=self.mode, early_termination=self.early_termination,
                              ideal=True)
        if self.weights is not None:
            out.program(self.weights)
        return out

    def describe(self) -> dict:
        """Crossbar size, ordering, bits, latch, ideal or circuit, early termination, operating point; ``tiles``
        = 1 per group (each group of the node is one R x R crossbar)."""
        out = {"tiles": 1, "bits": self.bits, "mode": self.mode, "early_termination": self.early_termination,
               "ideal": self.is_ideal}
        if self.inner is not None:
            out.update(n=self.inner.layer.n, n_rows=self.inner.layer.n_rows, order=self.inner.layer.order)
        if self.model is not None:
            out["operating_point"] = dict(self.model.coords)
            out["mismatch_scale"] = self.model.mismatch_scale
        return out


def _block_hadamard_geometry(w: np.ndarray) -> tuple[int, str]:
    """(R, order) of a block Hadamard matrix (n, n), or a one-line ParameterError."""
    n = w.shape[0]
    r = int(np.count_nonzero(w[0])) if w.shape == (n, n) and n else 0
    if r and not r & (r - 1) and n % r == 0:
        for order in ORDERS:
            if np.array_equal(w, wht_planes.block_hadamard(n, r, order)):
                return r, order
    raise ParameterError(f"a WHT crossbar is hard-wired: it takes a block Hadamard matrix only, got another "
                         f"{w.shape} matrix")


# ---- factory -------------------------------------------------------------------------------------------
def make_backend(name: str, options: dict | None = None, chip_seed=0, *, cache: dict | None = None):
    """A new backend *name* (:data:`BACKENDS`) for one simulated chip, with *options* (:data:`OPTIONS`,
    checked; missing ones take :data:`DEFAULTS`) and *chip_seed*: an int, a ``SeedSequence`` or a
    ``numpy.random.Generator``. The ``cim`` backend draws its columns from it at ``program`` (a Generator
    given to several layers is consumed in programming order, as :func:`charz.network.evaluate.evaluate`
    does for one chip). ``td_mac`` builds a :class:`~charz.blocks.td_mac.model.TdMacModel` (its engines drawn
    from the integer seed; from a Generator: one integer drawn); with *cache* (a dict kept for one chip)
    layers with the same seed and model options share that model: a TD-MAC stores no weights, so a chip's
    engines serve every layer in turn, as in :func:`charz.network.td_mac.evaluate_td`. ``wht`` (block operators
    only) builds a :class:`WhtLayerBackend` on the :func:`wht_model` of its options (``crossbar = "ideal"``:
    no LUT) with the latch ``mode`` (default: the LUT's), the executor's ``in_bits``, and draws its crossbars'
    mismatch from the Generator at ``program``, as ``cim`` does."""
    opts = check_options(name, options or {})
    o = functools.partial(option, opts)
    signed = bool(opts.get("x_signed", False))
    if name == "float":
        return FloatBackend(o("dtype"))
    if name == "exact":
        return ExactBackend(o("w_bits"), o("x_bits"), signed)
    if name == "digital":
        return DigitalBackend(o("w_bits"), o("x_bits"), signed, o("energy_per_mac"))
    rng = _generator(chip_seed)
    if name == "wht":
        model = None
        if o("crossbar") == "ideal":
            extra = [k for k in ("lut", "vdd", "temp", "t_pulse", "calibration", "trim_lut") if k in opts]
            if extra:
                raise ParameterError(f"wht option {extra[0]} does not apply to the ideal crossbar (crossbar = 'ideal')")
        else:
            model = wht_model(opts)
        mode = opts.get("mode") or ("sign" if model is not None and not model.ternary else "ternary")
        return WhtLayerBackend(model, bits=opts.get("in_bits", wht_planes.DEFAULT_BITS), mode=mode,
                               early_termination=o("early_termination"), seed=rng)
    if name == "cim":
        if o("columns") == "ideal":
            extra = [k for k in ("lut", "adc_bits", "adc_lut", "vdd", "temp", "t_pulse", "adc_full_scale_k") if k in opts]
            if extra:
                raise ParameterError(f"cim option {extra[0]} does not apply to ideal columns (columns = 'ideal')")
            return CimLayerBackend(None, n_rows=o("tile_rows") or 16, w_bits=o("w_bits"), x_bits=o("x_bits"),
                                   x_signed=signed, seed=rng)
        model, lut = column_model(opts)
        if opts.get("tile_rows") is not None and opts["tile_rows"] != model.n_rows:
            raise ParameterError(f"cim option tile_rows = {opts['tile_rows']}, but the column LUT has N = "
                                 f"{model.n_rows} rows: leave tile_rows out or use columns = 'ideal'")
        return CimLayerBackend(model, w_bits=o("w_bits"), x_bits=o("x_bits"), x_signed=signed, seed=rng, lut=lut,
                               columns_per_adc=opts.get("columns_per_adc"), array_columns=o("array_columns"))
    # td_mac
    seed = int(rng.integers(0, 2**63 - 1)) if isinstance(chip_seed, (np.random.Generator, np.random.SeedSequence)) \
        else int(chip_seed)
    key = (seed,) + tuple(sorted((k, v) for k, v in opts.items() if k in _TD_MODEL_KEYS))
    model = None if cache is None else cache.get(("td_mac", key))
    if model is None:
        circ, conv = _td_parts(o("circuit"), o("fmt"), o("pdk"), opts.get("adc"), opts.get("vdd"), opts.get("temp"),
                               tuple(opts.get(k) for k in ("delay_lut", "tdc_lut", "acc_lut")))
        kw = {k: opts[k] for k in ("window", "guard", "fullscale", "line_calibration", "bias_bits") if k in opts}
        if circ is not None:
            kw.setdefault("window", circ.tdc_thr.size)
        model = TdMacModel(o("fmt"), o("length"), circuit=circ, adc=conv, exp_mismatch=o("exp_mismatch"),
                           man_mismatch=o("man_mismatch"), units=o("units"), seed=seed, **kw)
        if cache is not None:
            cache[("td_mac", key)] = model
    return TdMacLayerBackend(model, opts.get("x_amax") if o("x_scale") == "calibrated" else None)


_TD_MODEL_KEYS = ("fmt", "length", "circuit", "adc", "delay_lut", "tdc_lut", "acc_lut", "pdk", "vdd", "temp", "window",
                  "guard", "fullscale", "exp_mismatch", "man_mismatch", "units", "line_calibration", "bias_bits")


def _generator(chip_seed) -> np.random.Generator:
    if isinstance(chip_seed, np.random.Generator):
        return chip_seed
    if isinstance(chip_seed, np.random.SeedSequence):
        return np.random.default_rng(chip_seed)
    if isinstance(chip_seed, bool) or not isinstance(chip_seed, numbers.Integral) or chip_seed < 0:
        raise ParameterError(f"chip seed must be an integer >= 0, a SeedSequence or a Generator, got {chip_seed!r}")
    return np.random.default_rng(int(chip_seed))


def wht_model(options: dict) -> WhtModel:
    """The :class:`~charz.blocks.wht.model.WhtModel` of the ``wht`` options: the ``wht_column`` LUT (``lut``,
    default ``<pdk>/wht16``) read at vdd (None: the published 0.8 V when it is on the LUT's grid, as
    ``charz eval --network wht`` picks it (:func:`charz.blocks.wht.model_lut.published_vdd`), else the LUT's rule) / temp /
    t_pulse (None: the LUT's rule, :meth:`WhtModel.from_lut`) with ``mismatch_scale``. Cached per option set (one
    per process)."""
    keys = ("lut", "pdk", "vdd", "temp", "t_pulse", "mismatch_scale", "calibration", "trim_lut")
    return _wht_model(tuple((k, option(options, k)) for k in keys))


@functools.lru_cache(maxsize=16)
def _wht_model(items: tuple) -> WhtModel:
    from ..core.lut import LUT, find_default

    from ..blocks.wht.model_lut import published_vdd

    o = dict(items)
    lut = LUT.load(o["lut"] if o["lut"] is not None else find_default(o["pdk"], DEFAULT_WHT_LUT), block="wht_column")
    vdd = o["vdd"] if o["vdd"] is not None else published_vdd(lut)  # 0.8 V when on the grid, as --network wht
    model = WhtModel.from_lut(lut, vdd=vdd, temp=o["temp"], t_pulse=o["t_pulse"],
                              mismatch_scale=o["mismatch_scale"])
    from ..blocks.wht.model_trim import with_latch_calibration

    return with_latch_calibration(model, o["calibration"], o["trim_lut"])


def column_model(options: dict):
    """(ColumnModel, its LUT) of the ``cim`` options: the column LUT (``lut``, default ``<pdk>/cim_column``)
    read at vdd / temp / t_pulse with the ideal quantizer of ``adc_bits``, or read out by the converter LUT
    ``adc_lut`` placed by :func:`attach_converter` (as `charz eval` places it: its vdd / temp, full scale on
    the column swing, ``columns_per_adc`` per dedicated converter, floor(array_columns / 2^s) memory-immersed
    converters per array). Models are cached per option set (one per process)."""
    keys = ("lut", "pdk", "vdd", "temp", "t_pulse", "adc_bits", "adc_lut", "adc_mismatch_scale", "adc_reference",
            "calibration", "trim_lut", "columns_per_adc", "array_columns", "mismatch_scale", "mismatch_source",
            "column_calibration", "adc_full_scale_k")
    return _column_model(tuple((k, option(options, k)) for k in keys))


def attach_converter(model: ColumnModel, lut, adc, *, mismatch_scale=None, reference: str = "column",
                     calibration: str = "none", columns_per_adc=None, array_columns: int, where: str = "",
                     trim_lut=None, pdk: str = "ptm16hp"):
    """*model* read out by the converter LUT *adc*, placed next to the array as its kind requires: a
    conventional converter (dedicated) serves *columns_per_adc* columns (None = 1); a memory-immersed one
    forms floor(array_columns / 2^s) converters per array from the neighbour's bitlines. The converter is
    read at the model's vdd / temp where its LUT has those axes, with its Monte Carlo spread (x
    *mismatch_scale*; None = 1 when the LUT has Monte Carlo, else 0). Returns (the model with its digitizer,
    the digitizer); a one-line ``ParameterError`` (prefixed *where*) for columns_per_adc on an immersed kind.
    Calibration ``"trim"`` reads the comparator trim LUT *trim_lut* (a path; None = ``<pdk>/comparator_trim``
    on the LUT search path) at the converter's corner.
    Shared by :func:`charz.network.evaluate.evaluate` and the ``cim`` backend."""
    from ..blocks.adc import model as dz
    from ..core.validate import posint

    has_mc = "transition" in adc.samples or "transition_sigma" in adc.tables
    if mismatch_scale is None:
        ms = 1.0 if has_mc else 0.0
        choice = "LUT Monte Carlo (1.0)" if has_mc else "0: the LUT has no Monte Carlo (nominal converters)"
    else:
        ms, choice = mismatch_scale, "given"
    at = {a.name for a in adc.axes}
    corner = {k: model.coords[k] for k in ("vdd", "temp") if k in at and k in model.coords}
    trim = None
    if calibration == "trim":
        from ..blocks.comparator.model_trim import trim_dac

        trim = trim_dac(trim_lut, pdk, adc, corner)
    elif trim_lut is not None:
        raise ParameterError(f"{where}trim_lut applies to calibration 'trim' only")
    dig = dz.DigitizerModel.from_lut(adc, mismatch_scale=ms, reference=reference, calibration=calibration,
                                     trim=trim, **corner)
    dig.choices["mismatch_scale"] = choice
    scheme, sa_bits = timing.scheme_for(dig)
    ac = posint(array_columns, "array_columns")
    if scheme == "immersed":
        if columns_per_adc is not None:
            raise ParameterError(f"{where}columns_per_adc does not apply to {adc.block}: a memory-immersed array "
                                 f"forms floor(array_columns / 2^{sa_bits}) converters from its neighbour's bitlines")
        g = timing.round_time(scheme, timing.column_timing(lut, 0.0), 0.0, ac, 1, sa_bits, ac)["converters_per_array"]
        return model.with_digitizer(dig, array_columns=ac, converters_per_array=g), dig
    cpa = 1 if columns_per_adc is None else posint(columns_per_adc, "columns_per_adc")
    return model.with_digitizer(dig, columns_per_adc=cpa, array_columns=ac), dig


@functools.lru_cache(maxsize=16)
def _column_model(items: tuple):
    from ..blocks.adc import model as dz
    from ..blocks.adc import model_transfer as dzt
    from ..core.lut import LUT, find_default

    o = dict(items)
    lut = LUT.load(o["lut"] if o["lut"] is not None else find_default(o["pdk"], "cim_column"), block="cim_column")
    adc_bits = o["adc_bits"]
    adc = None
    if o["adc_lut"] is not None:
        adc, _ = dz.load(o["adc_lut"])
        lut_bits = dzt.check_bits(adc.conditions.get("bits"), f"{adc.block} LUT resolution (condition 'bits')")
        if adc_bits is not None and adc_bits != lut_bits:
            raise ParameterError(f"cim option adc_bits = {adc_bits}, but the {adc.block} LUT is a {lut_bits}-bit "
                                 f"converter: leave adc_bits out")
        adc_bits = lut_bits
    elif any(o[k] not in (None, DEFAULTS.get(k)) for k in ("adc_mismatch_scale", "adc_reference", "calibration",
                                                                  "trim_lut", "columns_per_adc")):
        raise ParameterError("cim options adc_mismatch_scale, adc_reference, calibration, trim_lut and "
                             "columns_per_adc need an adc_lut")
    model = ColumnModel.from_lut(lut, vdd=o["vdd"], temp=o["temp"], t_pulse=o["t_pulse"], adc_bits=adc_bits,
                                 mismatch_scale=o["mismatch_scale"], mismatch_source=o["mismatch_source"])
    if adc is not None:
        model, _ = attach_converter(model, lut, adc, mismatch_scale=o["adc_mismatch_scale"],
                                    reference=o["adc_reference"], calibration=o["calibration"],
                                    columns_per_adc=o["columns_per_adc"], array_columns=o["array_columns"],
                                    where="cim option ", trim_lut=o["trim_lut"], pdk=o["pdk"])
    model = model.with_column_calibration(o["column_calibration"])
    if o["adc_full_scale_k"] is not None:
        model = model.with_full_scale(o["adc_full_scale_k"], where="cim option adc_full_scale_k")
    return model, lut


@functools.lru_cache(maxsize=8)
def _td_parts(circuit: str, fmt: str, pdk: str, adc, vdd, temp, luts: tuple = (None, None, None)):
    """(TdMacCircuit or None for the ideal circuit, converter: bits, a DigitizerModel or None); *luts* = the
    delay, TDC and accumulation LUT paths (None: the defaults)."""
    from ..blocks.adc.model import DigitizerModel
    from ..blocks.td_mac.model_circuit import adc_corner, circuit_from_luts, default_lut
    from ..core.lut import LUT

    if circuit == "ideal":
        if isinstance(adc, str):
            raise ParameterError("td_mac option adc must be a number of bits for the ideal circuit (circuit = 'ideal')")
        if any(luts):
            raise ParameterError("td_mac options delay_lut, tdc_lut and acc_lut need circuit = 'luts'")
        return None, (6 if adc is None else adc)
    is_bits = isinstance(adc, int)
    circ = circuit_from_luts(*(None if p is None else Path(p) for p in luts),
                             None if is_bits else (Path(adc) if adc else None), vdd=vdd, temp=temp, fmt=fmt, pdk=pdk)
    if is_bits:
        return circ, adc
    alut = LUT.load(adc if adc is not None else default_lut(pdk, "adc"))
    av, at, _ = adc_corner(alut, circ.source["vdd"], circ.source["temp"])
    return circ, DigitizerModel.from_lut(alut, vdd=av, temp=at)


def _check_ints(a: np.ndarray, lo: int, hi: int, what: str, bits: int) -> np.ndarray:
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.rint(a)):
            a = a.astype(np.int64)
        else:
            raise ParameterError(f"{what} must be integers, got dtype {a.dtype}")
    if a.size and (a.min() < lo or a.max() > hi):
        raise ParameterError(f"{what} must lie in [{lo}, {hi}] ({bits} bits), got [{a.min()}, {a.max()}]")
    return a.astype(np.int64, copy=False)
