"""Area model of the column digitizers: transistor counts and capacitor area per converter, per node.

``area(kind, bits, pdk)`` returns the layout area estimate of one converter in µm² with its breakdown.
It is a *model*, written down so that conventional and memory-immersed converters can be compared at
the same node with the same rules; it is not a layout.

Per-node figures (:data:`NODES`)
--------------------------------
- Area of one minimum transistor in logic / analog layout:
  ``A_T = LOGIC_FACTOR x A_6T / 6`` with ``A_6T`` a published 6T SRAM cell area of a commercial process
  of that node (sources in the table) and ``LOGIC_FACTOR = 3``: SRAM cells are drawn with pushed
  (SRAM-only) rules and share contacts, so one transistor of logic or analog layout (contacts,
  spacing, wells, local routing) takes about three times the area of one sixth of a cell. That factor
  is our assumption. The PTM cards are predictive models of these nodes, so the commercial cell sizes
  stand in for them.
- Capacitor density of a MOM (finger) capacitor ``MOM_DENSITY`` fF/µm² (IBM measured 2.18 fF/µm² for
  a 65 nm SOI vertical-parallel-plate capacitor on M1-M6; we assume 2.0 fF/µm² at 65 nm and below, 1.5
  at 90 nm and 1.0 at 130 nm, which have fewer thin metal layers), with a layout overhead factor
  ``CAP_OVERHEAD = 1.5`` (dummies, shielding, routing of a common-centroid array).
- Unit capacitor of a conventional binary CDAC ``c_unit_fF`` = 1 fF (a matching/kT/C-limited choice
  for a 5-6 bit SAR in a CiM periphery; a parameter).

Transistor counts (in minimum-transistor units; a device of k x the minimum width counts k)
---------------------------------------------------------------------------------------------
- comparator: StrongARM latch, 11 devices (input pair, tail, 4 cross-coupled, 4 reset) with the input
  pair at 4x width for offset (+6 units) plus an SR output latch (2 NAND2 = 8): **25 units**;
- SA logic: **N flip-flops** (the successive-approximation register) of **24 transistors** (static
  master-slave D flip-flop with reset); the bit-cycling sequencer / clock is shared by all converters
  of a macro and not counted per converter;
- conventional SA: a CDAC of 2^N unit capacitors (binary 1, 1, 2, ... 2^(N-1) with the dummy), N+1
  bottom-plate switches of 4 transistors (reference inverter + input transmission gate) and a
  sampling transmission gate at 4x width (8 units);
- memory-immersed SA: the CDAC is the neighbour array's bitlines: **0 capacitor area**; N+1 bitline
  groups (1, 1, 2, ... 2^(N-1) bitlines) each with a charge-sharing transmission gate and a
  reset/drive pair (4 transistors); comparator and SA logic as above;
- flash: 2^N - 1 comparators, a ladder of 2^N unit resistors (each counted as 4 units: a short
  silicide-blocked poly strip with two contacts), a bubble-correcting 3-input AND per comparator
  (8 transistors), a ROM encoder of N x 2^(N-1) transistors and an N-bit output register;
- hybrid: an m-bit flash (2^m - 1 comparators, 2^m resistors, encoder) for the MSBs and an
  (N - m)-bit SA for the LSBs whose CDAC is bitlines (``cdac="bitline"``, default, as in the
  memory-immersed networks of arrays) or MOM capacitors (``cdac="mom"``); its register holds N bits;
  each coarse comparator samples its input and its tap on two ``c_fs_fF`` (2 fF) MOM capacitors through
  two transmission gates at 2x width (8 units).
- an input mux of a transmission gate (2 transistors) per column served when a converter serves more
  than one column (``columns_served``).

Published ratios (:data:`PUBLISHED`) are constants from the memory-immersed paper (65 nm chip vs
40 nm 5-bit converters), labelled as published and shown *beside* ours, never used to compute ours.
"""

from __future__ import annotations

import dataclasses

from ...core import pdk as pdkmod
from ...core.errors import ParameterError
from ...core.lut import ADC_KINDS, Kind

LOGIC_FACTOR = 3.0
"""Area of one logic/analog minimum transistor relative to one sixth of a 6T SRAM cell (assumption)."""
CAP_OVERHEAD = 1.5
"""Layout overhead of a capacitor array over its bare capacitance / density (assumption)."""
C_UNIT_FF = 1.0
"""Default unit capacitor of a conventional binary CDAC [fF] (assumption)."""

UNITS = {
    "comparator": 25,
    "flip_flop": 24,
    "cdac_switch": 4,
    "sample_switch": 8,
    "bitline_group_switch": 4,
    "ladder_resistor": 4,
    "bubble_and": 8,
    "mux_per_column": 2,
}
"""Minimum-transistor units per element (see the module doc)."""


@dataclasses.dataclass(frozen=True)
class NodeArea:
    """Area facts of one technology node: the published 6T SRAM cell area [µm²] and MOM capacitor density
    [fF/µm²], each with its source."""

    node_nm: int
    sram6t_um2: float
    sram_source: str
    mom_ff_per_um2: float
    mom_source: str

    @property
    def transistor_um2(self) -> float:
        """Area of one minimum transistor in logic / analog layout [µm²]."""
        return LOGIC_FACTOR * self.sram6t_um2 / 6.0


_MOM_65 = "assumption; IBM measured 2.18 fF/um2 (65 nm SOI VPP capacitor, M1-M6, IEEE EDL 2007)"
NODES: dict[int, NodeArea] = {
    130: NodeArea(130, 2.09, "Intel 130 nm, 2.09 um2 (Tyagi et al., IEDM 2000; from the literature, not re-checked here)",
                  1.0, "assumption (fewer thin metal layers)"),
    90: NodeArea(90, 1.0, "Intel 90 nm, 1.0 um2 (Intel 2002 announcement of its 52 Mb SRAM)", 1.5,
                 "assumption (fewer thin metal layers)"),
    65: NodeArea(65, 0.57, "Intel 65 nm, 0.57 um2 (Intel 70 Mb SRAM announcement, 2004)", 2.0, _MOM_65),
    45: NodeArea(45, 0.346, "Intel 45 nm, 0.346 um2 (Mistry et al., IEDM 2007)", 2.0, _MOM_65),
    40: NodeArea(40, 0.242, "TSMC 40 nm, 0.242 um2 (from the literature, not re-checked here); for the published baselines' node",
                 2.0, _MOM_65),
    32: NodeArea(32, 0.171, "Intel 32 nm, 0.171 um2 (Natarajan et al., IEDM 2008; from the literature)", 2.0, _MOM_65),
    22: NodeArea(22, 0.1, "IBM alliance 22 nm, 0.1 um2 (2008 announcement)", 2.0, _MOM_65),
    16: NodeArea(16, 0.07, "TSMC 16 nm FinFET, 0.07 um2 (Chen et al., IEEE JSSC 50(1) 2015)", 2.0, _MOM_65),
}

PUBLISHED = {
    "source": "memory-immersed collaborative digitization (arXiv 2307.03863): 65 nm test chip vs 40 nm 5-bit ADCs",
    "bits": 5,
    "area_ratio_vs_sar": 25.0,
    "energy_ratio_vs_sar": 1.4,
    "area_ratio_vs_flash": 51.0,
    "energy_ratio_vs_flash": 13.0,
    "note": "published figures (ratios = conventional / memory-immersed), not computed by charz",
}

KINDS = ADC_KINDS


@dataclasses.dataclass(frozen=True)
class AreaReport:
    """What :func:`area` returns for one converter: the area per part [µm²] and its transistor units, the
    capacitance [fF], how many columns share the converter, and the assumptions used."""

    kind: str
    bits: int
    node_nm: int
    breakdown_um2: dict
    """Part -> µm²; sums to :attr:`total_um2`."""
    units: dict
    """Part -> minimum-transistor units (capacitors: 0)."""
    capacitance_fF: float
    columns_served: int
    assumptions: dict

    @property
    def total_um2(self) -> float:
        """Total area [µm²]: the sum of the breakdown."""
        return float(sum(self.breakdown_um2.values()))

    @property
    def per_column_um2(self) -> float:
        """Area per column served [µm²]."""
        return self.total_um2 / self.columns_served

    @property
    def transistor_units(self) -> int:
        """Total minimum-transistor units (capacitors count 0)."""
        return int(sum(self.units.values()))

    def to_dict(self) -> dict:
        """The report as a JSON-ready dict (including total and per-column area)."""
        return {"kind": self.kind, "bits": self.bits, "node_nm": self.node_nm, "total_um2": self.total_um2,
                "breakdown_um2": dict(self.breakdown_um2), "units": dict(self.units),
                "capacitance_fF": self.capacitance_fF, "columns_served": self.columns_served,
                "per_column_um2": self.per_column_um2, "assumptions": dict(self.assumptions)}


def node_of(pdk) -> NodeArea:
    """Node figures of a PDK name (``"ptm65bulk"``), a :class:`charz.core.pdk.PDK` or a node in nm."""
    if isinstance(pdk, NodeArea):
        return pdk
    if isinstance(pdk, bool):
        raise ParameterError(f"pdk must be a PDK name or a node in nm, got {pdk!r}")
    if isinstance(pdk, int):
        nm = pdk
    elif isinstance(pdk, pdkmod.PDK):
        nm = pdk.node_nm
    elif isinstance(pdk, str):
        nm = pdkmod.describe(pdk).node_nm
    else:
        raise ParameterError(f"pdk must be a PDK name or a node in nm, got {pdk!r}")
    if nm not in NODES:
        raise ParameterError(f"no area figures for the {nm} nm node: nodes with figures are {sorted(NODES)} nm")
    return NODES[nm]


def _bits(bits, lo: int, hi: int, kind: str) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not (lo <= bits <= hi):
        raise ParameterError(f"{kind} resolution must be an integer from {lo} to {hi} bits, got {bits!r}")
    return bits


def area(kind: str, bits: int, pdk="ptm65bulk", *, flash_bits: int | None = None, cdac: str = "bitline",
         c_unit_fF: float = C_UNIT_FF, columns_served: int = 1, dac_bits: int | None = None,
         c_fs_fF: float = 2.0) -> AreaReport:
    """Area of one converter of *kind* (``adc_sar``, ``adc_mi_sar``, ``adc_flash``, ``adc_hybrid``; the
    ``adc_`` prefix may be left out) and *bits* at the node of *pdk*, with its breakdown [µm²].

    ``flash_bits`` (hybrid; default bits // 2), ``cdac`` (hybrid SA part: ``"bitline"`` or ``"mom"``),
    ``c_unit_fF`` (conventional CDAC unit), ``columns_served`` (columns one converter reads through an
    input mux; 1 = no mux), ``dac_bits`` (hybrid: bits of its SA DAC, default bits - flash_bits; the
    SPICE hybrid of :mod:`charz.blocks.adc.netlist` keeps a full ``bits``-bit DAC whose MSB groups the
    flash sets), ``c_fs_fF`` (hybrid: each coarse comparator's two input sampling capacitors; 0 = none)."""
    k = str(kind).lower()
    k = k if k.startswith("adc_") else f"adc_{k}"
    if k not in KINDS:
        raise ParameterError(f"unknown converter kind {kind!r}: choose one of {', '.join(KINDS)}")
    n = _bits(bits, 2, 6, k)
    node = node_of(pdk)
    if isinstance(columns_served, bool) or not isinstance(columns_served, int) or columns_served < 1:
        raise ParameterError(f"columns_served must be an integer >= 1, got {columns_served!r}")
    if not (c_unit_fF > 0):
        raise ParameterError(f"c_unit_fF must be > 0, got {c_unit_fF!r}")
    a_t = node.transistor_um2
    units: dict[str, int] = {}
    cap_fF = 0.0

    def sa_part(nb: int, caps: str, prefix: str = "") -> None:
        nonlocal cap_fF
        units[f"{prefix}comparator"] = UNITS["comparator"]
        if caps == "mom":
            units[f"{prefix}CDAC switches"] = (nb + 1) * UNITS["cdac_switch"]
            units[f"{prefix}sampling switch"] = UNITS["sample_switch"]
            cap_fF += (1 << nb) * c_unit_fF
        else:
            units[f"{prefix}bitline-group switches"] = (nb + 1) * UNITS["bitline_group_switch"]

    def flash_part(nb: int, prefix: str = "") -> None:
        units[f"{prefix}comparators"] = ((1 << nb) - 1) * UNITS["comparator"]
        units[f"{prefix}reference ladder"] = (1 << nb) * UNITS["ladder_resistor"]
        units[f"{prefix}encoder"] = ((1 << nb) - 1) * UNITS["bubble_and"] + nb * (1 << (nb - 1))

    fb = db = None
    if k == Kind.ADC_SAR:
        sa_part(n, "mom")
        units["SA logic"] = n * UNITS["flip_flop"]
    elif k == Kind.ADC_MI_SAR:
        sa_part(n, "bitline")
        units["SA logic"] = n * UNITS["flip_flop"]
    elif k == Kind.ADC_FLASH:
        flash_part(n)
        units["output register"] = n * UNITS["flip_flop"]
    else:
        fb = n // 2 if flash_bits is None else flash_bits
        if isinstance(fb, bool) or not isinstance(fb, int) or not (1 <= fb < n):
            raise ParameterError(f"flash_bits of a {n}-bit hybrid must be an integer from 1 to {n - 1}, got {fb!r}")
        if cdac not in ("bitline", "mom"):
            raise ParameterError(f"cdac must be 'bitline' or 'mom', got {cdac!r}")
        db = n - fb if dac_bits is None else dac_bits
        if isinstance(db, bool) or not isinstance(db, int) or not (n - fb <= db <= n):
            raise ParameterError(f"dac_bits of a {n}-bit hybrid with {fb} flash bits must be {n - fb} to {n}, got {db!r}")
        flash_part(fb, "flash ")
        if c_fs_fF > 0:  # each coarse comparator samples its input and its tap (2 gates at 2x width, 2 caps)
            units["flash input sampling"] = ((1 << fb) - 1) * 2 * UNITS["sample_switch"] // 2
            cap_fF += ((1 << fb) - 1) * 2 * c_fs_fF
        sa_part(db, cdac, "SA ")
        units["SA logic + register"] = n * UNITS["flip_flop"]
    if columns_served > 1:
        units["input mux"] = columns_served * UNITS["mux_per_column"]
    breakdown = {name: u * a_t for name, u in units.items()}
    if cap_fF:
        breakdown["CDAC capacitors"] = cap_fF / node.mom_ff_per_um2 * CAP_OVERHEAD
        units["CDAC capacitors"] = 0
    return AreaReport(
        kind=k, bits=n, node_nm=node.node_nm, breakdown_um2=breakdown, units=units, capacitance_fF=cap_fF,
        columns_served=columns_served,
        assumptions={
            "transistor_um2": a_t,
            "rule": f"A_T = {LOGIC_FACTOR:g} x A_6T / 6, A_6T = {node.sram6t_um2:g} um2 ({node.sram_source})",
            "mom_ff_per_um2": node.mom_ff_per_um2,
            "mom_source": node.mom_source,
            "cap_overhead": CAP_OVERHEAD,
            "c_unit_fF": c_unit_fF if cap_fF else None,
            "flash_bits": fb,
            "dac_bits": db if k == Kind.ADC_HYBRID else None,
            "cdac": cdac if k == Kind.ADC_HYBRID else ("mom" if k == Kind.ADC_SAR else
                                                     "bitline" if k == Kind.ADC_MI_SAR else None),
        },
    )


def compare(bits: int = 5, pdk="ptm65bulk", **kwargs) -> dict:
    """Our area of every converter kind at one node, and the ratios conventional / memory-immersed
    beside the published ones (which compare a 65 nm chip with 40 nm converters)."""
    reps = {k: area(k, bits, pdk, **kwargs) for k in KINDS}
    mi = reps["adc_mi_sar"].total_um2
    return {
        "bits": bits,
        "node_nm": reps["adc_sar"].node_nm,
        "area_um2": {k: r.total_um2 for k, r in reps.items()},
        "reports": {k: r.to_dict() for k, r in reps.items()},
        "ours": {"area_ratio_vs_sar": reps["adc_sar"].total_um2 / mi,
                 "area_ratio_vs_flash": reps["adc_flash"].total_um2 / mi},
        "published": dict(PUBLISHED),
        "why_ours_differ": [
            "same node for both sides here; the published ratios compare a 65 nm chip with 40 nm converters",
            "our conventional SAR is a minimal CiM-periphery SAR (1 fF units, no reference buffer, sequencer "
            "not counted); published baselines are complete stand-alone ADCs",
            "our area is a transistor-count x per-device-area model, not a layout",
        ],
    }


def format_table(cmp: dict) -> str:
    """A small text table of :func:`compare`."""
    lines = [f"converter area at {cmp['bits']} bits, {cmp['node_nm']} nm (charz area model)"]
    for k, r in cmp["reports"].items():
        parts = ", ".join(f"{n} {v:.3g}" for n, v in r["breakdown_um2"].items())
        lines.append(f"  {k:<11} {r['total_um2']:9.2f} um2  ({parts})")
    o, p = cmp["ours"], cmp["published"]
    lines.append(f"  SAR / memory-immersed   ours {o['area_ratio_vs_sar']:.2f}x   published {p['area_ratio_vs_sar']:g}x")
    lines.append(f"  flash / memory-immersed ours {o['area_ratio_vs_flash']:.2f}x   published {p['area_ratio_vs_flash']:g}x")
    lines.append(f"  (published: {p['source']})")
    return "\n".join(lines)
