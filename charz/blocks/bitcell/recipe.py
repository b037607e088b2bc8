"""6T / 8T SRAM bitcell characterization: SNM, write margin, read current, leakage, read energy.

Recipe: for every (VDD, temperature) corner the six testbenches of :mod:`charz.blocks.bitcell.netlist` run
once nominally and, with ``mc > 0``, once per Monte Carlo sample (25 samples per ngspice session).
Sample *s* is the same physical cell in every testbench and at every corner: the mismatch is drawn
once over the devices of one cell and applied by role (``mpd1_a`` and ``mpd1_s0`` both get the
draw of ``mpd1_0``). The measurements are pure NumPy functions of the saved vectors (below); the
results become a :class:`charz.core.lut.LUT` with axes ``vdd`` [V] and ``temp`` [degC].

Definitions (see also the module docstring of :mod:`charz.blocks.bitcell.netlist`):

- ``hold_snm`` / ``read_snm`` [V]: side of the largest square that fits inside each lobe of the
  butterfly (Seevinck's 45-degree rotation); the SNM is the smaller lobe. 0 means the cell is not
  bistable under that condition. 8T ``read_snm`` is taken in the 8T read condition (WL off, RWL on),
  where it equals the hold SNM to within gate leakage.
- ``write_margin`` [V]: VDD minus the word-line voltage at which the cell flips while WL is swept up
  from 0 with BL = 0, BLB = VDD (midpoint of the last stable and first flipped sweep points); 0 if it
  does not flip with WL at VDD (write failure).
- ``i_read`` [A]: DC read current with the bit line at VDD (6T: BL via ax1/pd1, 8T: RBL via the read port).
- ``i_leak`` [A]: hold leakage per cell from all VDD-level sources, averaged over both stored values.
- ``e_read`` [J]: energy of one read cycle (precharge off, (R)WL pulse, precharge restore) from VDD
  and the (R)WL driver, with bit-line load ``c_bl``, minus the standby (leakage) power times the cycle
  length: the dynamic read energy.
- ``dv_bl`` [V]: bit-line swing at the end of the (R)WL pulse in the same run.

Tables: ``<name>`` is the nominal (no mismatch) value; with ``mc > 0`` also ``<name>_mean`` and
``<name>_sigma`` over the samples, and the samples themselves in ``lut.samples[<name>]`` (NaN where a
run failed or the cell lost its state). ``lut.arrays`` holds the Monte Carlo draws (``mc_delvto``,
``mc_devices``, ``mc_mulu0``) and the nominal butterfly curves (``butterfly_hold``, ``butterfly_read``:
[vdd, temp, (vin, out_a, out_b), point], NaN-padded) with their SNM squares (``squares_hold``,
``squares_read``: [vdd, temp, lobe, (x0, y0, side)]) so plots can be made from a saved LUT.
Failures never stop the sweep: they are listed in ``lut.provenance["failed_points"]`` (simulations
that failed, and nominal runs whose cell lost its value). Monte Carlo samples whose cell lost its value
(e.g. a read upset: ``i_read`` and ``e_read`` are then NaN for that sample, and its ``read_snm`` is 0)
are physics, not failures: they are counted in ``lut.provenance["mc_invalid_samples"]``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Sequence

import numpy as np

from ...core.errors import ParameterError
from ...core.lut import LUT, Axis, Kind
from ...core.mc import Draws
from .netlist import CELLS, TESTBENCHES, BitcellParams, cell_devices, device_role, energy_timing, netlists
from ...netlist.cells import CellSizes, parse_sizes
from ...netlist.spice import Netlist
from ...core.pdk import PDK, get
from ...sim.executor import Executor
from ...characterize.common import sample_stats
from ...characterize.recipe import Recipe

RECIPE = "bitcell/1"
"""Name and version of this measurement code (part of every cache key): bump when a measurement changes."""

METRICS = ("hold_snm", "read_snm", "write_margin", "i_read", "i_leak", "e_read", "dv_bl")
UNITS = {"hold_snm": "V", "read_snm": "V", "write_margin": "V", "i_read": "A", "i_leak": "A", "e_read": "J",
         "dv_bl": "V"}
TB_METRICS = {"hold": ("hold_snm",), "read": ("read_snm",), "write": ("write_margin",), "iread": ("i_read",),
              "leak": ("i_leak",), "energy": ("e_read", "dv_bl")}
DEFINITIONS = {
    "hold_snm": "largest square in the smaller butterfly lobe, WL off (Seevinck 45-degree rotation)",
    "read_snm": "largest square in the smaller butterfly lobe; 6T: WL on, BL=BLB=VDD; 8T: read port on "
                "(RWL on, RBL=VDD, WL off), equal to the hold SNM to within gate leakage",
    "write_margin": "VDD minus the WL voltage at which the cell (q=VDD) flips as WL is swept from 0 to VDD "
                    "with BL=0, BLB=VDD; 0 = does not flip (write failure)",
    "i_read": "DC current drawn from the bit line at VDD during read (6T: BL via ax1/pd1 with q=0; "
              "8T: RBL via the read port with q=VDD)",
    "i_leak": "hold current per cell drawn from VDD, BL, BLB (8T: and RBL) at VDD, word lines at 0, "
              "averaged over both stored values",
    "e_read": "energy from VDD (cell + precharge) and the (R)WL driver over one read cycle (precharge off, "
              "(R)WL pulse t_wl, precharge restore t_pre; bit-line load c_bl) minus standby power x cycle time",
    "dv_bl": "bit-line (6T: BL, 8T: RBL) swing below VDD at the end of the (R)WL pulse",
}
SQRT2 = math.sqrt(2.0)


# ---------------------------------------------------------------------------------------------------
# measurements: pure NumPy


@dataclasses.dataclass(frozen=True)
class SNMResult:
    """Static noise margin of one butterfly.

    ``lobes`` are the largest-square sides of the (upper-left, lower-right) lobes in the (V(q), V(qb))
    plane, negative when the curves do not form that lobe; ``squares`` are (x0, y0, side) of each
    square's lower-left corner and side (side <= 0: no square); ``snm`` = max(0, min(lobes))."""

    snm: float
    lobes: tuple[float, float]
    squares: tuple[tuple[float, float, float], tuple[float, float, float]]


def butterfly_snm(vin: np.ndarray, out_a: np.ndarray, out_b: np.ndarray, n_grid: int = 4001) -> SNMResult:
    """SNM from the two half-cell transfer curves of one DC sweep.

    Curve A is V(q) = out_a(V(qb) = vin), curve B is V(qb) = out_b(V(q) = vin). In coordinates rotated
    by 45 degrees, u = (x + y)/sqrt2 along the diagonal and v = (y - x)/sqrt2 across it, each curve is a
    function u(v) (both VTCs fall monotonically), and the largest square in a lobe has its diagonal on a
    line of constant v between the curves: side = max |uA - uB| / sqrt2 over that lobe. The lobes are
    split at the crossing of the curves nearest v = 0 (the metastable point).
    """
    vin, out_a, out_b = (np.asarray(a, dtype=float) for a in (vin, out_a, out_b))
    if not (vin.shape == out_a.shape == out_b.shape) or vin.ndim != 1 or vin.size < 3:
        raise ParameterError("butterfly_snm needs three 1-D arrays of equal length (>= 3 points)")
    ok = np.isfinite(vin) & np.isfinite(out_a) & np.isfinite(out_b)
    vin, out_a, out_b = vin[ok], out_a[ok], out_b[ok]
    order = np.argsort(vin)
    vin, out_a, out_b = vin[order], out_a[order], out_b[order]
    # curve A: points (x, y) = (out_a, vin); curve B: points (vin, out_b)
    va, ua = (vin - out_a) / SQRT2, (vin + out_a) / SQRT2
    vb, ub = (out_b - vin) / SQRT2, (vin + out_b) / SQRT2
    # v must increase for interpolation; VTCs are monotonic, enforce it against numerical noise
    va_s = np.maximum.accumulate(va)
    ib = np.argsort(vb, kind="stable")
    vb_s, ub_s = np.maximum.accumulate(vb[ib]), ub[ib]
    lo, hi = max(va_s[0], vb_s[0]), min(va_s[-1], vb_s[-1])
    nan_sq = (float("nan"), float("nan"), 0.0)
    if not hi > lo:
        return SNMResult(0.0, (0.0, 0.0), (nan_sq, nan_sq))
    v = np.linspace(lo, hi, n_grid)
    u_a = np.interp(v, va_s, ua)
    u_b = np.interp(v, vb_s, ub_s)
    d = u_a - u_b  # > 0 inside the lower-right lobe, < 0 inside the upper-left lobe
    # The metastable point is where d falls through zero with increasing v (from the lower-right lobe
    # into the upper-left one); the stable points at the ends cross the other way. An exact zero (a
    # perfectly symmetric cell) counts as a crossing.
    cross = np.flatnonzero((d[:-1] > 0) & (d[1:] <= 0))
    if cross.size:
        vc = v[cross] + d[cross] * (v[cross + 1] - v[cross]) / (d[cross] - d[cross + 1])
        v_split = float(vc[np.argmin(np.abs(vc))])
    else:
        v_split = 0.0
    lobes, squares = [], []
    for side_mask, sign in ((v >= v_split, -1.0), (v <= v_split, 1.0)):
        if not side_mask.any():
            lobes.append(float("-inf"))
            squares.append(nan_sq)
            continue
        gap = sign * d[side_mask]
        k = int(np.argmax(gap))
        diag = float(gap[k])
        vv = v[side_mask][k]
        u_lo = min(u_a[side_mask][k], u_b[side_mask][k])
        side = diag / SQRT2
        lobes.append(side)
        # lower-left corner = the end of the diagonal with the smaller u
        squares.append((float((u_lo - vv) / SQRT2), float((u_lo + vv) / SQRT2), side))
    snm = max(0.0, min(lobes))
    return SNMResult(snm, (lobes[0], lobes[1]), (squares[0], squares[1]))


def write_trip(v_wl: np.ndarray, v_q: np.ndarray, v_qb: np.ndarray, vdd: float) -> float:
    """Write margin from a WL sweep 0 -> VDD (BL = 0, cell starting at q = 1): VDD minus the WL voltage
    at which q first falls below qb (midpoint of the last unflipped and first flipped points); 0.0 if
    the cell never flips; NaN if it did not hold q = 1 at the start of the sweep."""
    v_wl, v_q, v_qb = (np.asarray(a, dtype=float) for a in (v_wl, v_q, v_qb))
    if v_wl.size < 2 or v_wl[0] > v_wl[-1]:
        raise ParameterError("write_trip needs a word-line sweep that runs from 0 up to VDD")
    flipped = v_q < v_qb
    if flipped[0]:
        return float("nan")
    idx = np.flatnonzero(flipped)
    if idx.size == 0:
        return 0.0
    i = idx[0]
    return float(vdd - 0.5 * (v_wl[i - 1] + v_wl[i]))


def supply_energy(t: np.ndarray, i_src: np.ndarray, v_src: np.ndarray | float) -> float:
    """Energy delivered by a voltage source over the record: integral of -v * i dt (ngspice's source
    current is positive into the + terminal, so a source that delivers power has i < 0)."""
    t = np.asarray(t, dtype=float)
    p = -np.asarray(v_src, dtype=float) * np.asarray(i_src, dtype=float)
    return float(np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(t)))


def read_cycle_energy(t: np.ndarray, sources: list[tuple[np.ndarray, np.ndarray | float]]) -> float:
    """Dynamic energy of a cycle: the energy the (current, voltage) *sources* deliver over the record
    minus their standby power at t = 0 (a DC operating point) times the record length."""
    t = np.asarray(t, dtype=float)
    total = sum(supply_energy(t, i, v) for i, v in sources)
    p0 = sum(-float(np.broadcast_to(np.asarray(v, dtype=float), np.shape(i))[0]) * float(np.asarray(i)[0])
             for i, v in sources)
    return float(total - p0 * (t[-1] - t[0]))


def _state_ok(vec: dict, q: str, qb: str, q_high: bool) -> bool:
    a, b = float(np.asarray(vec[q])[-1]), float(np.asarray(vec[qb])[-1])
    return a > b if q_high else a < b


def measure(tb: str, vec: dict, p: BitcellParams) -> tuple[dict[str, float], str | None]:
    """Metrics of one run of testbench *tb*; returns (values, problem or None). Values are NaN when the
    run's result is not a valid measurement (e.g. the cell did not hold its state)."""
    nan = {m: float("nan") for m in TB_METRICS[tb]}
    if tb in ("hold", "read"):
        r = butterfly_snm(vec["v-sweep"], vec["v(qa)"], vec["v(qbb)"])
        return {f"{tb}_snm": r.snm}, None
    if tb == "write":
        wm = write_trip(vec["v-sweep"], vec["v(q)"], vec["v(qb)"], p.vdd)
        why = None if math.isfinite(wm) else "cell did not hold q=1 at the start of the write sweep"
        return {"write_margin": wm}, why
    if tb == "iread":
        q_high = p.cell == "8t"
        if not _state_ok(vec, "v(q)", "v(qb)", q_high):
            return nan, "cell lost its stored value during the read (read upset)"
        i = -float(vec["i(vrbl)" if q_high else "i(vbl)"][0])
        return {"i_read": i}, None
    if tb == "leak":
        if not (_state_ok(vec, "v(q0)", "v(qb0)", False) and _state_ok(vec, "v(q1)", "v(qb1)", True)):
            return nan, "a hold copy did not keep its stored value"
        names = ["i(vvdd)", "i(vbl)", "i(vblb)"] + (["i(vrbl)"] if p.cell == "8t" else [])
        return {"i_leak": -sum(float(vec[n][0]) for n in names) / 2.0}, None
    if tb == "energy":
        q_high = p.cell == "8t"
        if not _state_ok(vec, "v(q)", "v(qb)", q_high):
            return nan, "cell lost its stored value during the read cycle (read upset)"
        t = vec["time"]
        wl, iwl = ("v(rwl)", "i(vrwl)") if q_high else ("v(wl)", "i(vwl)")
        e = read_cycle_energy(t, [(vec["i(vvdd)"], p.vdd), (vec[iwl], vec[wl])])
        tm = energy_timing(p)
        bl = vec["v(rbl)" if q_high else "v(bl)"]
        dv = p.vdd - float(np.interp(tm["t_wl_off"], t, bl))
        return {"e_read": e, "dv_bl": dv}, None
    raise ParameterError(f"unknown bitcell testbench '{tb}': use one of {', '.join(TESTBENCHES)}")


def butterfly_curves(vec: dict) -> np.ndarray:
    """(3, n) array of (vin, out_a, out_b) from a butterfly run."""
    return np.vstack([vec["v-sweep"], vec["v(qa)"], vec["v(qbb)"]])


# ---------------------------------------------------------------------------------------------------
# Monte Carlo: one draw per physical cell, mapped onto each testbench's instances


def draws_for(netlist: Netlist, base: Draws, roles: dict[str, int]) -> Draws:
    """The per-cell draws *base* (one column per device role) laid out on *netlist*'s instances."""
    return base.take(tuple(d.name for d in netlist.devices), [roles[device_role(d.name)] for d in netlist.devices])


# ---------------------------------------------------------------------------------------------------
# recipe


def _label(v: float, t: float) -> str:
    return f"vdd={v:g} V, temp={t:g} degC"


class BitcellRecipe(Recipe):
    """The 6T bitcell's recipe (:class:`Bitcell8tRecipe`: the 8T's): six testbenches per (VDD, temperature)
    corner, one Monte Carlo sweep per testbench."""

    kind = Kind.BITCELL6T
    version = RECIPE
    generator = "charz.blocks.bitcell.netlist + charz.blocks.bitcell.recipe.characterize_bitcell"


class Bitcell8tRecipe(BitcellRecipe):
    """The 8T bitcell's recipe (the same testbenches and measurements as the 6T's)."""

    kind = Kind.BITCELL8T


RECIPES = {"6t": BitcellRecipe, "8t": Bitcell8tRecipe}
"""The recipe class of each cell."""


def characterize_bitcell(
    pdk: PDK | str,
    cell: str = "6t",
    vdd: Sequence[float] | float | None = None,
    temp: Sequence[float] | float | None = None,
    mc: int = 0,
    seed: int = 0,
    sizes: CellSizes | None = None,
    executor: Executor | None = None,
    use_cache: bool = True,
    progress: bool = True,
    fit_check: bool = True,
    mismatch_beta: bool = False,
    **tb_params,
) -> LUT:
    """Characterize a 6T or 8T bitcell over VDD x temperature, nominal and Monte Carlo.

    Parameters
    ----------
    pdk: the PDK (``charz.core.pdk.get(name)``, possibly with a user A_VT) or its name.
    cell: "6t" or "8t".
    vdd: VDD grid in V (one value = a fixed point); default the PDK's nominal VDD.
    temp: temperature grid in degC; default 27.
    mc: Monte Carlo samples per corner (0 = nominal only).
    seed: seed of the mismatch draw (same seed -> identical samples).
    sizes: transistor sizes; default :meth:`CellSizes.default`.
    executor: where simulations run (default: a local process pool, closed at the end).
    use_cache: read and write the result cache.
    progress: show progress bars.
    fit_check: re-run SPICE at VDD (and temperature) midpoints and store the interpolation error.
    mismatch_beta: also draw current-factor mismatch (``mulu0``, A_beta of the PDK).
    tb_params: further :class:`BitcellParams` fields (``c_bl``, ``t_wl``, ``t_edge``, ``t_pre``,
        ``w_pre``, ``dc_step``, ``t_step``).
    """
    if cell not in CELLS:
        raise ParameterError(f"unknown bitcell '{cell}': use cell='6t' or cell='8t'")
    r = RECIPES[cell](pdk, mc=mc, seed=seed, executor=executor, use_cache=use_cache, progress=progress,
                      fit_check=fit_check)
    pdk, mc = r.pdk, r.mc
    allowed = {"c_bl", "t_wl", "t_edge", "t_pre", "w_pre", "dc_step", "t_step"}
    unknown = set(tb_params) - allowed
    if unknown:
        raise ParameterError(f"unknown bitcell parameter(s) {sorted(unknown)}: use {sorted(allowed)}")
    vdds, temps = r.vdds(vdd), r.temps(temp)
    base = BitcellParams(cell=cell, pdk=pdk.name, vdd=vdds[0], temp=temps[0], sizes=sizes, **tb_params)
    nv, nt = len(vdds), len(temps)

    grid = [(i, j, base.replace(vdd=v, temp=t)) for (i, v), (j, t) in
            itertools.product(enumerate(vdds), enumerate(temps))]
    fit_pts: list[tuple[float, float]] = []
    if fit_check:
        vmid = [round(x, 9) for x in (np.asarray(vdds[:-1]) + np.asarray(vdds[1:])) / 2] if nv > 1 else []
        tmid = [round(x, 6) for x in (np.asarray(temps[:-1]) + np.asarray(temps[1:])) / 2] if nt > 1 else []
        fit_pts = [(v, t) for v in vmid for t in temps] + [(v, t) for v in vdds for t in tmid]
    fit_params = [base.replace(vdd=v, temp=t) for v, t in fit_pts]
    nets = [netlists(p) for _, _, p in grid]
    devs = cell_devices(base)
    draws = r.draws(devs, mismatch_beta)
    roles = {device_role(d.name): k for k, d in enumerate(devs)}

    with r:
        nominal, mc_runs, fit_runs = _run(r, cell, grid, nets, fit_params, draws, roles)

    tables, samples, arrays, mc_invalid = _measure_grid(r, grid, nominal, mc_runs, (nv, nt), mc)
    out_tables = dict(tables)
    units = {m: UNITS[m] for m in METRICS}
    if mc > 0:
        for m in METRICS:
            mean, sigma = sample_stats(samples[m])
            out_tables[f"{m}_mean"], out_tables[f"{m}_sigma"] = mean, sigma
            units[f"{m}_mean"] = units[f"{m}_sigma"] = UNITS[m]
    if draws is not None:
        arrays.update(draws.arrays())

    # ---- provenance ----------------------------------------------------------------------------------
    inom = int(np.argmin(np.abs(np.asarray(vdds) - pdk.vdd_nom)))
    jnom = int(np.argmin(np.abs(np.asarray(temps) - 27.0)))
    k_nom = inom * nt + jnom
    p_nom = grid[k_nom][2]
    params = base.as_dict()
    params.pop("vdd")
    params.pop("temp")
    params.update({"vdd_grid": vdds, "temp_grid": temps, "mismatch_beta": mismatch_beta})
    prov = r.provenance(
        params, {tb: nl.sha256 for tb, nl in nets[k_nom].items()}, draws=draws, mismatch_beta=mismatch_beta,
        netlist_sha256_at=_label(p_nom.vdd, p_nom.temp), definitions=DEFINITIONS,
        mc_invalid_samples=mc_invalid,
    )
    conditions = {
        "cell": cell,
        "c_bl_F": base.c_bl,
        "t_wl_s": base.t_wl,
        "t_pre_s": base.t_pre,
        "dc_step_V": base.dc_step,
        "sizes_m": dataclasses.asdict(base.sizes),
    }
    lut = LUT(
        block=base.block,
        axes=(Axis("vdd", "V", np.asarray(vdds)), Axis("temp", "degC", np.asarray(temps))),
        tables=out_tables,
        units=units,
        samples=samples,
        conditions=conditions,
        provenance=prov,
        arrays=arrays,
    )
    if fit_pts:
        lut.fit_quality = _fit_quality(r, lut, fit_params, fit_pts, fit_runs)
        lut.provenance["failed_points"] = list(r.failed)  # with the fit check's measurement problems
    return lut


def _run(r: BitcellRecipe, cell: str, grid, nets, fit_params, draws: Draws | None, roles: dict[str, int]):
    """Run every testbench: nominal at every corner and, with *draws*, one Monte Carlo sweep per testbench
    (each lays the cell's draws out on its own instances); then the fit check's off-grid points. Returns
    the nominal runs and Monte Carlo runs by (testbench, i, j) and the fit runs by (testbench, point)."""
    nominal: dict[tuple[str, int, int], dict | None] = {}
    mc_runs: dict[tuple[str, int, int], list[dict | None]] = {}
    fit_runs: dict[tuple[str, int], dict | None] = {}
    if draws is None:
        pts, where = [], []
        for k, (i, j, p) in enumerate(grid):
            for tb in TESTBENCHES:
                pts.append(({"tb": tb, "vdd": p.vdd, "temp": p.temp}, nets[k][tb]))
                where.append((tb, i, j))
        res = r.run(pts, desc=f"bitcell{cell} nominal")
        nominal.update(zip(where, res.nominal))
    else:
        for tb in TESTBENCHES:
            pts = [({"tb": tb, "vdd": p.vdd, "temp": p.temp}, nets[k][tb]) for k, (_, _, p) in enumerate(grid)]
            res = r.run(pts, draws_for(pts[0][1], draws, roles), desc=f"bitcell{cell} {tb} mc")
            for (i, j, _), run, runs in zip(grid, res.nominal, res.mc):
                nominal[(tb, i, j)] = run
                mc_runs[(tb, i, j)] = runs
    if fit_params:
        pts, where = [], []
        for k, p in enumerate(fit_params):
            tbs = netlists(p)
            for tb in TESTBENCHES:
                pts.append(({"tb": tb, "vdd": p.vdd, "temp": p.temp, "fit": "off-grid"}, tbs[tb]))
                where.append((tb, k))
        res = r.run(pts, desc=f"bitcell{cell} fit check", fit=True)
        fit_runs.update(zip(where, res.nominal))
    return nominal, mc_runs, fit_runs


def _measure_grid(r: BitcellRecipe, grid, nominal, mc_runs, shape: tuple[int, int], mc: int):
    """Nominal tables, Monte Carlo samples and the arrays of the butterfly curves and SNM squares. Nominal
    runs whose cell lost its value go to the recipe's failures; Monte Carlo cells that lose their value are a
    result (a read upset), not a simulation failure: their samples are NaN and counted in the fourth value
    returned (one line per testbench, corner and reason: the provenance's ``mc_invalid_samples``)."""
    nv, nt = shape
    tables = {m: np.full((nv, nt), np.nan) for m in METRICS}
    samples = {m: np.full((nv, nt, mc), np.nan) for m in METRICS} if mc > 0 else {}
    curves = {tb: [[None] * nt for _ in range(nv)] for tb in ("hold", "read")}
    squares = {tb: np.full((nv, nt, 2, 3), np.nan) for tb in ("hold", "read")}
    mc_problems: dict[tuple[str, str], int] = {}
    for i, j, p in grid:
        for tb in TESTBENCHES:
            run = nominal.get((tb, i, j))
            if run is not None:
                vals, why = measure(tb, run, p)
                for m, x in vals.items():
                    tables[m][i, j] = x
                if why:
                    r.failed.append(f"{p.block} {tb} ({_label(p.vdd, p.temp)}), nominal: {why}")
                if tb in curves:
                    curves[tb][i][j] = butterfly_curves(run)
                    squares[tb][i, j] = np.asarray(butterfly_snm(*curves[tb][i][j]).squares)
            for s, srun in enumerate(mc_runs.get((tb, i, j), []) if mc > 0 else []):
                if srun is None:
                    continue
                vals, why = measure(tb, srun, p)
                for m, x in vals.items():
                    samples[m][i, j, s] = x
                if why:
                    key = (f"{p.block} {tb} ({_label(p.vdd, p.temp)})", why)
                    mc_problems[key] = mc_problems.get(key, 0) + 1
    arrays: dict = {}
    for tb in ("hold", "read"):
        n = max((c.shape[1] for row in curves[tb] for c in row if c is not None), default=1)
        arr = np.full((nv, nt, 3, n), np.nan)
        for i in range(nv):
            for j in range(nt):
                c = curves[tb][i][j]
                if c is not None:
                    arr[i, j, :, : c.shape[1]] = c
        arrays[f"butterfly_{tb}"] = arr
        arrays[f"squares_{tb}"] = squares[tb]
    mc_invalid = [f"{where_}: {n} of {mc} samples: {why}" for (where_, why), n in sorted(mc_problems.items())]
    return tables, samples, arrays, mc_invalid


def _fit_quality(r: BitcellRecipe, lut: LUT, fit_params, fit_pts, fit_runs) -> dict:
    """SPICE at the off-grid points against the LUT's interpolation, per testbench's metrics; a fit run
    whose cell lost its value goes to the recipe's failures."""
    cases: dict[str, list[tuple[dict, dict]]] = {tb: [] for tb in TESTBENCHES}
    for k, (p, (v, t)) in enumerate(zip(fit_params, fit_pts)):
        for tb in TESTBENCHES:
            run = fit_runs.get((tb, k))
            if run is None:
                continue
            vals, why = measure(tb, run, p)
            if why:
                r.failed.append(f"{p.block} {tb} ({_label(v, t)}), fit check: {why}")
            cases[tb].append(({"vdd": v, "temp": t}, vals))
    fq: dict = {}
    for tb in TESTBENCHES:
        fq.update(Recipe.fit_quality(lut, cases[tb], TB_METRICS[tb], UNITS))
    return {m: fq[m] for m in METRICS if m in fq}


def characterize(kind: str, pdk, *, size=None, beta_mismatch: bool = False, **common) -> LUT:
    """The registry's entry (``charz characterize bitcell6t|bitcell8t``): *size* = ``NAME=VALUE`` cell-size
    overrides (``--size``), *beta_mismatch* = also draw current-factor mismatch; *common* as
    :attr:`charz.blocks.base.Block.recipe`."""
    pdk = get(pdk) if isinstance(pdk, str) else pdk
    return characterize_bitcell(pdk, cell=kind[-2:], sizes=parse_sizes(pdk, size), mismatch_beta=beta_mismatch,
                                **common)
