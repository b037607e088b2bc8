"""Bit-plane compute-in-memory column: N 8T cells on one read bitline (RBL).

What one deck simulates (one column evaluation, one value of k)::

    vdd_pre ──[mpre, gate pre_b]── rbl ──┬── cell 0 read port (mra_0 gate rwl, mrd_0 gate q_0)
                                         ├── cell 1 ...
                                         ├── ...          + c_wire x N to ground (explicit capacitor)
                                         └── cell N-1

- **Cells.** N full 8T cells from :func:`charz.netlist.cells.cell_8t` (6T core + decoupled read port),
  flat device names (``mra_3`` = read-access device of cell 3) so Monte Carlo can ``alter`` each one.
  The 6T core holds its weight bit through ``.ic`` on ``q_i``/``qb_i`` (ngspice solves the operating
  point with the cell forced into that state, then releases it). Write wordlines are held at 0 V, write
  bitlines at the cell supply (hold state).
- **Ideal storage nodes** (``storage="ideal"``, for cheaper characterization): the 6T cores never touch
  the read bitline, so a deck may leave them out and tie each read driver's gate to the cell supply
  (weight 1) or to ground (weight 0). Only the coupling of the read port back into a real storage node
  (held by a 6T device, not by a source) and the cores' own mismatch are lost; Monte Carlo still draws over
  every transistor of the physical column (:func:`column_devices`), so sample s is the same instance in
  both modes (:func:`deck_draws`). What it saves and what it changes are measured by
  ``bench/bench_column_storage.py`` (bench/README.md, section (i)).
- **Inputs.** The input bit of row i is its read wordline ``rwl``: rows with input 1 are driven by one
  wordline source (one source for all active rows gives the same total charge as one driver per row),
  rows with input 0 have their read wordline tied to ground.
- **k and the pattern.** Rows ``0 .. k-1`` hold input = weight = 1. The other N-k rows follow
  ``params.pattern``:

  - ``x1w0`` (input 1, weight 0; the default): the worst case for the rows that should not count. Every
    read wordline is on, so each of the N-k read ports shares charge with its internal node and leaks
    through its off read-driver device (gate q = 0 V); the wordline energy is that of N rows whatever
    k is. On ptm16hp at 0.7 V this costs 12 mV at k = 0 (V_BL 0.693 V vs 0.705 V for ``x0w1``) and
    6 mV at k = N/2; at k = N every pattern gives the same deck.
  - ``x0w1`` (input 0, weight 1): read-access device off, read driver on.
  - ``x0w0`` (input 0, weight 0): both read-port devices off; least leakage, wordline energy of k rows.

  The bitline is lumped (one node), so which rows are active does not matter nominally; under Monte
  Carlo it selects which physical cells (rows 0..k-1) discharge the bitline.
- **Bitline capacitance.** The cells' own read-access drains (and the precharge device) plus an
  explicit capacitor of ``N x c_wire`` (the per-cell wire capacitance parameter).
- **The cycle** (times in :func:`timeline`): the bitline starts precharged (precharge PMOS on), the
  precharge is released, the read wordlines of the input-1 rows carry a pulse of width T (50 %-to-50 %),
  the bitline is sensed when the wordline falling edge is complete (plus ``sense_delay``), and the
  precharge device then restores the bitline to VDD for ``t_restore``. The deck ends restored, in the
  state it started from, so the charge drawn over the whole window is the charge of one evaluation:

      energy = VDD * ( Q(vpre) + Q+(vrwl) + Q+(vpch) )

  with Q(vpre) the net charge from the precharge supply (bitline restore, including what leaked during
  the cycle) and Q+ the charge the wordline driver and the precharge-clock driver push *up* (an ideal
  source stands for a CMOS driver whose supply delivers only the pull-up charge). The 6T cores have their
  own supply ``vcell``: their standby leakage is a property of the array (the bitcell LUT), not of one
  evaluation, and is not counted.
- **Edges.** Wordline and precharge-clock edges are raised-cosine ramps of ``t_edge`` written as
  4-segment PWLs. Their corners are breakpoints, so ngspice resolves each edge with small steps while the
  flat parts run at the coarse maximum step ``t_step`` (with plain linear ramps a 20 ps step put 9 mV of
  error into V_BL; with these edges it is < 0.5 mV of a 0.3 ps reference).

Defaults: ``t_pulse`` 100 ps, ``t_edge`` 20 ps, ``c_wire`` 1.5 fF per cell at 16 nm (scaled with Lmin), ``w_pre``
24 Lmin, ``t_restore`` 400 ps, ``t_step`` 20 ps; the measurements behind each choice are in this folder's
``README.md``.
"""

from __future__ import annotations

import dataclasses
import numbers

from ...core import pdk as pdkmod
from ...core.cim_cycle import T_GAP, T_RELEASE
from ...core.errors import ParameterError
from ...core.params import Choice, Instance, Int, Params, Real, param, positive
from ...core.validate import round12 as _r12
from ...core.pdk import PDK
from ...netlist.cells import CellSizes, cell_8t, read_port
from ...netlist.spice import PDK_NAME, TEMP, VDD, edge_points, Device, Netlist, ident, mos, num, pdk_of

BLOCK = "cim_column"
N_MIN, N_MAX = 8, 64
PATTERNS: dict[str, tuple[int, int]] = {"x1w0": (1, 0), "x0w1": (0, 1), "x0w0": (0, 0)}
"""Pattern of the N-k rows that do not compute a 1: (input bit, weight bit)."""
STORAGE = ("6t", "ideal")
"""How the cells hold their weights in a deck (:attr:`CimColumnParams.storage`)."""
EDGE_SEGMENTS = 4
C_WIRE_16NM = 1.5e-15
SAVE = ("time", "v(rbl)", "i(vpre)", "i(vrwl)", "i(vpch)")


@dataclasses.dataclass(frozen=True)
class CimColumnParams(Params):
    """Parameters of one column deck. ``None`` fields are resolved to the PDK's defaults on creation,
    so two parameter objects that print the same make the same deck."""

    pdk: str = param("ptm16hp", PDK_NAME, "PDK name (see `charz pdk list`)")
    n_rows: int = param(16, Int(N_MIN, N_MAX), "number of 8T cells N on the read bitline")
    vdd: float | None = param(None, VDD, "supply of cells, precharge and wordline drivers; None = the PDK's nominal VDD")
    temp: float = param(27.0, TEMP, "temperature")
    t_pulse: float = param(100e-12, positive(100e-9, "s"), "read-wordline pulse width T, 50 % to 50 % of its edges")
    c_wire: float | None = param(None, Real(0.0, 1e-12, unit="F"), "wire capacitance per cell on the read bitline; None = 1.5 fF x Lmin / 16 nm")
    sizes: CellSizes | None = param(None, Instance(CellSizes), "cell transistor sizes; None = CellSizes.default of the PDK")
    w_pre: float | None = param(None, positive(100e-6, "m"), "width of the precharge PMOS (length Lmin); None = 24 x Lmin")
    sense_delay: float = param(0.0, Real(0.0, 10e-9, unit="s"), "sense instant after the wordline falling edge is complete; 0 = end of the pulse")
    pattern: str = param("x1w0", Choice(tuple(PATTERNS), noun="pattern"), "input/weight bits of the N-k rows that do not compute a 1 (module doc)")
    t_edge: float = param(20e-12, positive(1e-9, "s"), "duration of every wordline and precharge-clock edge (0-100 %, raised cosine)")
    t_restore: float = param(400e-12, positive(100e-9, "s"), "precharge (restore) time after the sense instant; the deck ends after it")
    t_step: float = param(20e-12, positive(1e-9, "s"), "maximum transient time step")
    storage: str = param("6t", Choice(STORAGE, noun="storage"), "how the cells hold their weights: '6t' = the 6T "
                         "cores (.ic), 'ideal' = every read driver's gate tied to the cell supply or to ground, no "
                         "6T core in the deck (faster; module doc)")

    def check(self):
        """Per-PDK defaults; VDD against the card; t_pulse > t_edge; t_step <= t_pulse; sizes against Lmin."""
        p = pdk_of(self)
        vdd = p.vdd_nom if self.vdd is None else p.check_vdd(self.vdd)
        if self.t_pulse <= self.t_edge:
            raise ParameterError(
                f"t_pulse = {self.t_pulse:g} s is not longer than the edge t_edge = {self.t_edge:g} s: "
                f"give a pulse longer than its edge (T is measured 50 % to 50 %)"
            )
        c_wire = _r12(C_WIRE_16NM * p.lmin / 16e-9) if self.c_wire is None else self.c_wire
        sizes = CellSizes.default(p) if self.sizes is None else self.sizes
        sizes.check(p)  # ranges relative to Lmin (CellSizes docstring)
        w_pre = _r12(24 * p.lmin) if self.w_pre is None else self.w_pre
        if self.t_step > self.t_pulse:
            raise ParameterError(
                f"t_step = {self.t_step:g} s is longer than the pulse ({self.t_pulse:g} s): give a smaller step")
        self._set(vdd=vdd, c_wire=c_wire, sizes=sizes, w_pre=w_pre)


@dataclasses.dataclass(frozen=True)
class Timeline:
    """Instants of one evaluation (s)."""

    release: float
    """Precharge clock starts rising (precharge device turning off)."""
    rwl_rise: float
    """Wordline rising edge starts."""
    rwl_fall: float
    """Wordline falling edge starts."""
    sense: float
    """The bitline voltage is read here (falling edge complete + sense_delay); the restore starts here."""
    end: float
    """End of the deck (bitline restored)."""


def timeline(params: CimColumnParams) -> Timeline:
    """The instants of one evaluation for *params* (s): precharge release at :data:`T_RELEASE`, the wordline
    pulse ``t_pulse`` (50 % to 50 %) after a gap :data:`T_GAP`, the sense instant ``sense_delay`` after the
    falling edge completes, and the end after ``t_restore``."""
    e = params.t_edge
    release = T_RELEASE
    rise = release + e + T_GAP
    fall = rise + params.t_pulse  # 50 % to 50 % = T for identical edges
    sense = fall + e + params.sense_delay
    return Timeline(release, rise, fall, sense, sense + e + params.t_restore)


def _edge(t0: float, dur: float, v0: float, v1: float) -> list[tuple[float, float]]:
    return edge_points(t0, dur, v0, v1, EDGE_SEGMENTS)


def _pwl(points: list[tuple[float, float]]) -> str:
    return "pwl(" + " ".join(f"{num(t)} {num(round(v, 12))}" for t, v in points) + ")"


def column_devices(params: CimColumnParams, pdk: PDK | None = None) -> tuple[Device, ...]:
    """The physical column's transistors, 6T cores included whatever ``params.storage`` is: Monte Carlo
    draws over all of them (the same for every k), so sample s is the same column instance in both storage
    modes (:func:`deck_draws` lays the draws on the devices a deck has)."""
    return _body(params.replace(storage="6t"), 0, pdk or pdkmod.describe(params.pdk))[1]


def deck_draws(draws, params: CimColumnParams, pdk: PDK | None = None):
    """*draws* (over :func:`column_devices`) restricted to the transistors the decks of *params* contain: all
    of them with ``storage="6t"``, the read ports only with ``"ideal"`` (each keeping its own drawn values)."""
    if draws is None or params.storage == "6t":
        return draws
    full = [d.name for d in column_devices(params, pdk)]
    present = [d.name for d in _body(params, 0, pdk or pdkmod.describe(params.pdk))[1]]
    return draws.take(tuple(present), [full.index(n) for n in present])


def _body(params: CimColumnParams, k: int, p: PDK) -> tuple[list[str], tuple[Device, ...]]:
    n, vdd, s = params.n_rows, params.vdd, params.sizes
    x_other, w_other = PATTERNS[params.pattern]
    tl = timeline(params)
    e = params.t_edge
    rwl = [(0.0, 0.0)] + _edge(tl.rwl_rise, e, 0.0, vdd) + _edge(tl.rwl_fall, e, vdd, 0.0)
    pch = [(0.0, 0.0)] + _edge(tl.release, e, 0.0, vdd) + _edge(tl.sense, e, vdd, 0.0)
    lines = [
        f"* {n}-row bit-plane CiM column, k = {k} rows with input = weight = 1, other rows {params.pattern}",
        f"vcell vdd_cell 0 {num(vdd)}",
        f"vpre vdd_pre 0 {num(vdd)}",
        f"vpch pre_b 0 {_pwl(pch)}",
        f"vrwl rwl 0 {_pwl(rwl)}",
        mos("mpre", "rbl", "pre_b", "vdd_pre", "vdd_pre", p.pmos, params.w_pre, p.lmin),
    ]
    devices = [Device("mpre", "p", params.w_pre, p.lmin)]
    if params.c_wire > 0:
        lines.append(f"cwire rbl 0 {num(n * params.c_wire)}")
    ics = []
    for i in range(n):
        x, w = (1, 1) if i < k else (x_other, w_other)
        if params.storage == "ideal":  # the storage node is the cell supply (weight 1) or ground (weight 0)
            cl, cd = read_port(i, "vdd_cell" if w else "0", "rwl" if x else "0", "rbl", s, p)
        else:
            cl, cd = cell_8t(i, f"q_{i}", f"qb_{i}", "vdd_cell", "vdd_cell", "0",
                             "rwl" if x else "0", "rbl", "vdd_cell", s, p)
            ics.append(f".ic v(q_{i})={num(vdd if w else 0.0)} v(qb_{i})={num(0.0 if w else vdd)}")
        lines += cl
        devices += cd
    return lines + ics, tuple(devices)


def column_netlist(params: CimColumnParams, k: int, pdk: PDK | None = None) -> Netlist:
    """The deck of one column evaluation with *k* rows at input = weight = 1 (a pure function: the same
    parameters give byte-identical text). *pdk* (optional) must be the card-resolved PDK of
    ``params.pdk``; by default it is looked up (and its card checked) here."""
    if not isinstance(params, CimColumnParams):
        raise ParameterError(f"params must be CimColumnParams, got {type(params).__name__}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not (0 <= k <= params.n_rows):
        raise ParameterError(
            f"k = {k!r} is out of range: k counts active cells, an integer 0 to n_rows = {params.n_rows}")
    k = int(k)
    p = pdk if pdk is not None else pdkmod.get(params.pdk)
    if p.name != params.pdk or p.path is None:
        raise ParameterError(f"pdk {p.name!r} (card path {p.path}) does not match params.pdk {params.pdk!r}")
    body, devices = _body(params, k, p)
    tl = timeline(params)
    d = params.as_dict()
    sizes = d.pop("sizes")
    shown = [(name, num(v) if isinstance(v, float) else v) for name, v in d.items()]
    shown += [(f"sizes.{name}", num(v)) for name, v in sizes.items()]
    shown.append(("k", k))
    return Netlist(
        block=BLOCK,
        title=f"charz {BLOCK} {ident(params.pdk)} n{params.n_rows} k{k}",
        params=tuple(shown),
        body=tuple(body),
        card=p.path,
        card_sha256=p.sha256,
        analysis=f".tran {num(params.t_step)} {num(tl.end)}",
        save=SAVE,
        temp=params.temp,
        devices=devices,
    )


def golden_file_name(params: CimColumnParams, k: int) -> str:
    """File name of the golden netlist of *params* with *k* active rows:
    ``cim_column{n_rows}_{pdk}_k{k}.cir``."""
    return f"cim_column{params.n_rows}_{params.pdk}_k{k}.cir"


def golden_netlists(pdk: PDK | str = "ptm16hp") -> dict[str, str]:
    """Golden decks of the default 16-row column for k = 0, N/2 and N (file name -> text)."""
    p = pdkmod.get(pdk) if isinstance(pdk, str) else pdk
    params = CimColumnParams(pdk=p.name)
    n = params.n_rows
    return {golden_file_name(params, k): column_netlist(params, k, p).golden() for k in (0, n // 2, n)}
