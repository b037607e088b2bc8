"""Latency and throughput of the bit-plane CiM network: column evaluations, conversions, and arrays
that take turns (memory-immersed digitization).

Times
-----
- Column evaluation, from the ``cim_column`` LUT conditions (the cycle of
  :func:`charz.blocks.cim_column.netlist.timeline`): ``t_sense = t_release + t_edge + t_gap + t_pulse + t_edge +
  sense_delay`` (precharge released, wordline pulse, falling edge complete, sense instant) and
  ``t_restore = t_edge + t_restore(condition)`` (precharge edge and bitline restore);
  ``t_column = t_sense + t_restore``. LUTs that record no timing (the synthetic ones) use the column
  generator's defaults (t_edge 20 ps, t_restore 400 ps, sense_delay 0), and the result says so.
- Conversion time ``t_conv`` from the digitizer LUT (0 for the ideal quantizer).

One *round* = one input bit plane on every column of an array, read out. The bitline holds its
voltage until its conversion is done (no separate sample-and-hold), then it is restored:

- ``ideal``: ``T = t_sense + t_restore`` (the ideal quantizer takes no time).
- ``dedicated`` (conventional converters inside the periphery, one per ``M = columns_per_adc``
  columns, converting them one after the other through a mux): ``T = t_sense + M * t_conv + t_restore``.
- ``immersed`` (memory-immersed SA): arrays pair up (A, B). An s-bit SA converter borrows 2^s
  bitlines of the neighbour (groups of 1, 1, 2, 4, ... 2^(s-1)), so a neighbour of ``C_nb`` columns
  forms ``G = floor(C_nb / 2^s)`` converters at a time and A's C columns need ``K = ceil(C / G)``
  conversions in series. Phase 1: A evaluates and holds, B's bitlines are A's DAC for ``K * t_conv``,
  both restore; phase 2: the roles swap. ``T_pair = 2 * (t_sense + K * t_conv + t_restore)`` and each
  array completes one round per T_pair: ``T = T_pair``. (An array cannot compute while its bitlines
  are someone's DAC, nor while its own result is being converted.) For the hybrid with a bitline SA,
  s = the LUT condition ``dac_bits`` (the SPICE hybrid keeps a full n-bit bitline DAC whose MSB groups
  the flash sets), else bits - flash_bits; the flash step is inside the LUT's t_conv.

Network: every row tile of every layer is its own array of at most ``array_columns`` columns (a wider
tile is several arrays side by side); all arrays of a layer run in parallel, so
``t_layer = x_bits * T(C)`` with C the columns of the fullest array, and layers run one after the other:
``latency = sum t_layer``, ``inferences/s = 1 / latency`` (one image at a time). ``pipelined`` gives
``1 / max t_layer`` (each layer on its own arrays, images streamed). Conversions per inference =
column evaluations per inference (one conversion each) — the same in every scheme.
"""

from __future__ import annotations

import dataclasses
import math

from ..core.cim_cycle import T_GAP, T_RELEASE
from ..core.errors import ParameterError
from ..behavior.interfaces import Digitizer
from ..core.lut import LUT
from ..core.validate import posint

SCHEMES = ("ideal", "dedicated", "immersed")
DEFAULT_ARRAY_COLUMNS = 64
FALLBACK = {"t_edge": 20e-12, "t_restore": 400e-12, "sense_delay": 0.0}
"""Column cycle parts assumed when the LUT records none (the column generator's defaults)."""
FORMULAS = {
    "ideal": "T_round = t_sense + t_restore",
    "dedicated": "T_round = t_sense + M * t_conv + t_restore  (M columns per converter, converted in series)",
    "immersed": "T_round = 2 * (t_sense + K * t_conv + t_restore), K = ceil(C / floor(C_nb / 2^s))  "
                "(arrays pair up and alternate compute / digitize)",
    "layer": "t_layer = x_bits * T_round(columns of the fullest array); latency = sum over layers; "
             "inferences/s = 1 / latency; pipelined = 1 / max t_layer",
}


@dataclasses.dataclass(frozen=True)
class ColumnTiming:
    """Timing of one column evaluation [s]: up to the sense instant, and the restore after it; ``source`` says
    whether it came from the LUT's conditions or from assumed generator defaults."""

    t_sense: float
    """From the start of a column evaluation to the sense instant [s]."""
    t_restore: float
    """Precharge edge plus bitline restore after the read-out [s]."""
    source: str

    @property
    def t_column(self) -> float:
        """Duration of one column evaluation: t_sense + t_restore [s]."""
        return self.t_sense + self.t_restore


def column_timing(lut: LUT, t_pulse: float) -> ColumnTiming:
    """Column evaluation times of a ``cim_column`` LUT at wordline pulse width *t_pulse* [s]."""
    c = lut.conditions
    have = all(k in c for k in ("t_edge", "t_restore"))
    e = float(c.get("t_edge", FALLBACK["t_edge"]))
    tr = float(c.get("t_restore", FALLBACK["t_restore"]))
    sd = float(c.get("sense_delay", FALLBACK["sense_delay"]))
    t_release = float(c.get("t_release", T_RELEASE))  # LUTs so far record neither: the generator's constants
    t_gap = float(c.get("t_gap", T_GAP))
    t_sense = t_release + e + t_gap + float(t_pulse) + e + sd
    src = ("cim_column LUT conditions (t_edge, t_restore, sense_delay)" if have else
           "assumed: the LUT records no column timing; column generator defaults t_edge 20 ps, t_restore 400 ps")
    return ColumnTiming(t_sense, e + tr, src)


def scheme_for(digitizer: Digitizer) -> tuple[str, int | None]:
    """(scheme, SA bits that borrow bitlines) of a digitizer: its placement, ideal / dedicated / immersed,
    and its borrowed bits (:class:`charz.behavior.interfaces.Digitizer`)."""
    if not isinstance(digitizer, Digitizer):
        raise ParameterError(f"a digitizer (charz.behavior.interfaces.Digitizer) is needed, got {type(digitizer).__name__}")
    if digitizer.placement not in SCHEMES:
        raise ParameterError(f"digitizer placement must be one of {', '.join(SCHEMES)}, got {digitizer.placement!r}")
    return digitizer.placement, digitizer.borrowed_bits




def round_time(scheme: str, col: ColumnTiming, t_conv: float = 0.0, columns: int = 1, columns_per_adc: int = 1,
               sa_bits: int | None = None, neighbour_columns: int | None = None) -> dict:
    """One round (a bit plane on every column of one array, read out): see the module doc."""
    if scheme not in SCHEMES:
        raise ParameterError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    columns = posint(columns, "columns")
    t_conv = float(t_conv)
    if scheme == "ideal":
        return {"t_round_s": col.t_column, "conversions_in_series": 0, "converters_per_array": None}
    if scheme == "dedicated":
        m = min(posint(columns_per_adc, "columns_per_adc"), columns)
        return {"t_round_s": col.t_sense + m * t_conv + col.t_restore, "conversions_in_series": m,
                "converters_per_array": math.ceil(columns / m)}
    if sa_bits is None:
        raise ParameterError("the memory-immersed scheme needs the SA resolution (bits that borrow bitlines)")
    nb = columns if neighbour_columns is None else posint(neighbour_columns, "neighbour_columns")
    need = 1 << int(sa_bits)
    g = nb // need
    if g < 1:
        raise ParameterError(
            f"a {sa_bits}-bit memory-immersed SA needs {need} bitlines of the neighbour array, which has only {nb} "
            f"columns: use wider arrays (array_columns) or fewer bits"
        )
    k = math.ceil(columns / g)
    return {"t_round_s": 2.0 * (col.t_sense + k * t_conv + col.t_restore), "conversions_in_series": k,
            "converters_per_array": g, "bitlines_per_converter": need}


def layer_geometry(sizes, n_rows: int, x_bits: int, w_bits: int, names=None) -> list[dict]:
    """Tiles and physical columns per tile of each layer of an MLP mapped as in charz.blocks.cim_column.model_layer."""
    out = []
    for i in range(len(sizes) - 1):
        n_in, n_out = int(sizes[i]), int(sizes[i + 1])
        out.append({
            "name": names[i] if names else f"fc{i + 1} ({n_in}x{n_out})",
            "n_tiles": max(1, -(-n_in // n_rows)),
            "columns_per_tile": 2 * (w_bits - 1) * n_out,
            "x_bits": int(x_bits),
        })
    return out


def network_timing(layers: list[dict], col: ColumnTiming, scheme: str = "ideal", t_conv: float = 0.0,
                   columns_per_adc: int = 1, sa_bits: int | None = None,
                   array_columns: int = DEFAULT_ARRAY_COLUMNS, ops_per_inference: int | None = None) -> dict:
    """Latency, inferences/s (sequential and layer-pipelined) and conversions per inference."""
    ac = posint(array_columns, "array_columns")
    per_layer = {}
    total, worst, conversions = 0.0, 0.0, 0
    for lay in layers:
        c = min(int(lay["columns_per_tile"]), ac)
        arrays = int(lay["n_tiles"]) * math.ceil(int(lay["columns_per_tile"]) / ac)
        r = round_time(scheme, col, t_conv, c, columns_per_adc, sa_bits, neighbour_columns=ac)
        t_layer = int(lay["x_bits"]) * r["t_round_s"]
        conv = int(lay["x_bits"]) * int(lay["n_tiles"]) * int(lay["columns_per_tile"])
        per_layer[lay["name"]] = {**r, "arrays": arrays, "columns_per_array": c, "t_layer_s": t_layer,
                                  "conversions": conv}
        total += t_layer
        worst = max(worst, t_layer)
        conversions += conv
    out = {
        "scheme": scheme,
        "formula": FORMULAS[scheme],
        "layer_formula": FORMULAS["layer"],
        "t_sense_s": col.t_sense,
        "t_restore_s": col.t_restore,
        "t_column_s": col.t_column,
        "t_conv_s": float(t_conv),
        "column_timing_source": col.source,
        "columns_per_adc": columns_per_adc if scheme == "dedicated" else None,
        "array_columns": ac,
        "latency_s": total,
        "inferences_per_s": 1.0 / total if total > 0 else float("inf"),
        "inferences_per_s_pipelined": 1.0 / worst if worst > 0 else float("inf"),
        "conversions_per_inference": conversions,
        "layers": per_layer,
    }
    if ops_per_inference is not None:
        out["tops"] = ops_per_inference * out["inferences_per_s"] / 1e12
    return out


def compare_schemes(layers: list[dict], col: ColumnTiming, t_conv_dedicated: float, t_conv_immersed: float,
                    sa_bits: int, columns_per_adc=(1,), array_columns: int = DEFAULT_ARRAY_COLUMNS) -> dict:
    """Memory-immersed vs conventional (dedicated, one converter per M columns for each M given):
    inferences/s of each and the ratio immersed / dedicated (> 1: the immersed scheme is faster)."""
    imm = network_timing(layers, col, "immersed", t_conv_immersed, sa_bits=sa_bits, array_columns=array_columns)
    rows = {}
    for m in columns_per_adc:
        d = network_timing(layers, col, "dedicated", t_conv_dedicated, columns_per_adc=m, array_columns=array_columns)
        rows[int(m)] = {
            "dedicated": d,
            "throughput_ratio_immersed_vs_dedicated": imm["inferences_per_s"] / d["inferences_per_s"],
        }
    return {"immersed": imm, "dedicated": rows, "formulas": dict(FORMULAS)}
