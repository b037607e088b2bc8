"""Check the behavioural WHT layer against SPICE: a full R x C crossbar in ngspice, random signed
vectors, every non-zero plane, every column's per-plane decision.

The crossbar is built with the same circuit parameters as the LUT (read back from its provenance) at
one operating point of the LUT grid. Vectors are random signed integers of ``bits`` bits in
sign-magnitude (uniform in [-(2^(B-1) - 1), 2^(B-1) - 1]); each vector's magnitude planes are applied
MSB first, an all-zero plane is skipped (as the controller does). The planes are split over decks of at
most ``cycles_per_deck`` cycles (independent: the crossbar holds no state from one plane to the next).

- Nominal: every column's sign (and ternary) decision per plane in SPICE against the behavioural layer
  fed by the LUT at mismatch scale 0 (agreement rate; the goal is >= 99 %), and both against the exact
  arithmetic (sign / ternary of k+ - k-).
- Monte Carlo (``mc`` > 0): each instance is a whole crossbar with its own mismatch; single decisions
  are not comparable, so the wrong-decision rate (against the exact result) of the SPICE instances is
  compared with the rate the behavioural layer gives over as many simulated chips, overall and per
  |k+ - k-|.
"""

from __future__ import annotations

import dataclasses
import numbers
import time

import numpy as np

from .model_planes import signed_planes_msb
from ...core.errors import LUTError, ParameterError
from ...core.lut import LUT, Kind
from ...core.mc import Mismatch, draw
from ..comparator.netlist import ComparatorSizes
from .netlist import SIZES, WhtParams, planes_netlist, wht_devices
from ...core.pdk import PDK, get
from ...sim.executor import Executor, owned
from ...characterize.common import check_mc, run_points
from .recipe import RECIPE, measure_cycles

CHECK_RECIPE = RECIPE + "+check/1"
FIELDS = ("order", "w_cell", "l_cell", "c_wire", "c_row", "c_stitch", "tile_rows", "tile_cols", "w_pre", "ternary",
          "v_trim", "w_trim", "c_load", "t_edge", "t_eval", "t_restore", "t_step")


def _bad(field: str, why: str) -> LUTError:
    return LUTError(f"the LUT's provenance field {field} {why}: the file was altered or written by another "
                    f"charz version; re-characterize it (`charz characterize wht_column`)")


def lut_rows(lut: LUT) -> int:
    """The LUT's rows R (``conditions['n_rows']``), validated: an integer 4..64, a power of two, equal to
    the ``n_rows`` of the provenance parameters when those record it."""
    n = lut.conditions.get("n_rows") if isinstance(lut.conditions, dict) else None
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n not in SIZES:
        raise LUTError(f"the LUT's condition n_rows = {n!r} is not one of {', '.join(map(str, SIZES))}: the file was "
                       f"altered or written by another charz version; re-characterize it")
    gp = lut.provenance.get("parameters")
    if isinstance(gp, dict) and "n_rows" in gp and (isinstance(gp["n_rows"], bool) or gp["n_rows"] != n):
        raise _bad("parameters.n_rows", f"= {gp['n_rows']!r} differs from the condition n_rows = {n}")
    return int(n)


def circuit_parameters(lut: LUT) -> tuple[dict, ComparatorSizes]:
    """The circuit parameters (FIELDS) and latch sizes recorded in the LUT's provenance, checked field
    by field; a LUTError naming the field when one is missing, of the wrong type or out of range."""
    if lut.block != Kind.WHT_COLUMN:
        raise LUTError(f"the SPICE check needs a wht_column LUT, got '{lut.block}'")
    gp = lut.provenance.get("parameters")
    if gp is None:
        gp = {}
    if not isinstance(gp, dict):
        raise _bad("parameters", f"must be a mapping of circuit parameters, got {type(gp).__name__}")
    missing = [f for f in FIELDS + ("latch",) if f not in gp]
    if missing:
        raise LUTError(f"the LUT's provenance lacks the circuit parameters {missing}: "
                       f"re-characterize it with this version of charz")
    latch = gp["latch"]
    if not isinstance(latch, dict):
        raise _bad("parameters.latch", f"must be a mapping of comparator sizes, got {type(latch).__name__}")
    names = [f.name for f in dataclasses.fields(ComparatorSizes)]
    extra, lacking = sorted(set(latch) - set(names)), [k for k in names if k not in latch]
    if extra or lacking:
        raise _bad("parameters.latch", f"must hold exactly the sizes {names}"
                   + (f"; unknown {extra}" if extra else "") + (f"; missing {lacking}" if lacking else ""))
    for k in names:
        if isinstance(latch[k], bool) or not isinstance(latch[k], numbers.Real):
            raise _bad(f"parameters.latch.{k}", f"must be a number (m), got {latch[k]!r}")
    try:
        sizes = ComparatorSizes(**latch)
    except ParameterError as exc:
        raise _bad("parameters.latch", f"is out of range ({exc})") from None
    for f in FIELDS:
        v = gp[f]
        if f == "order":
            ok = isinstance(v, str)
        elif f == "ternary":
            ok = isinstance(v, bool)
        elif f in ("tile_rows", "tile_cols"):
            ok = isinstance(v, numbers.Integral) and not isinstance(v, bool)
        elif f == "v_trim":
            ok = v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))
        else:
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool)
        if not ok:
            raise _bad(f"parameters.{f}", f"has the wrong type: {v!r}")
    return {f: gp[f] for f in FIELDS}, sizes


def params_from_lut(lut: LUT, pdk: PDK, vdd: float, temp: float, t_pulse: float, n_cols: int | None = None) -> WhtParams:
    """The crossbar the LUT's column came from, with all its columns, at one operating point. Every
    field read from the LUT is checked (LUTError naming the field: exit 5 on the command line)."""
    kw, latch = circuit_parameters(lut)
    n = lut_rows(lut)
    try:
        return WhtParams(pdk=pdk.name, n_rows=n, n_cols=n if n_cols is None else n_cols, vdd=vdd, temp=temp,
                         t_pulse=t_pulse, latch=latch, **kw)
    except ParameterError as exc:
        raise LUTError(f"the LUT's circuit parameters (provenance field parameters) do not make a valid crossbar: "
                       f"{exc}; re-characterize it (`charz characterize wht_column`)") from None


def random_vectors(n: int, length: int, bits: int, seed: int) -> np.ndarray:
    """(n, length) signed integers uniform in [-(2^(bits-1) - 1), 2^(bits-1) - 1]."""
    top = (1 << (bits - 1)) - 1
    return np.random.default_rng(seed).integers(-top, top + 1, size=(n, length))


@dataclasses.dataclass
class SpiceCrossbar:
    """SPICE decisions of every column for every evaluated plane."""

    params: WhtParams
    vectors: np.ndarray
    planes: np.ndarray
    """(vectors, planes, rows) signed bits (all planes, zero ones included)."""
    evaluated: np.ndarray
    """(vectors, planes) bool: the plane had an active row and was simulated."""
    decision: np.ndarray
    """(instances, vectors, planes, columns) sign decisions (+1/-1, 0 unresolved, NaN = skipped/failed); instance 0 = nominal."""
    ternary: np.ndarray | None
    energy: np.ndarray
    """(instances, vectors, planes, columns) energy per column-plane (J)."""
    failures: list[str]
    wall_seconds: float
    analysis_seconds: float


def simulate_crossbar(params: WhtParams, vectors: np.ndarray, bits: int, pdk: PDK, mc: int = 0, seed: int = 1,
                      cycles_per_deck: int = 16, executor: Executor | None = None, use_cache: bool = True,
                      progress: bool = True) -> SpiceCrossbar:
    """Run the crossbar in ngspice on *vectors* (n, R) signed integers; nominal and *mc* instances."""
    mc = check_mc(mc)
    x = np.asarray(vectors)
    if x.ndim != 2 or x.shape[1] != params.n_rows:
        raise ParameterError(f"vectors must be (n, {params.n_rows}) signed integers, got shape {x.shape}")
    planes = signed_planes_msb(x, bits)
    nz = np.any(planes != 0, axis=2)
    cyc = [(v, p) for v in range(x.shape[0]) for p in range(planes.shape[1]) if nz[v, p]]
    decks = [cyc[a:a + cycles_per_deck] for a in range(0, len(cyc), cycles_per_deck)]
    points = [({"deck": i, "cycles": len(d)}, planes_netlist(params, np.stack([planes[v, p] for v, p in d]), pdk,
                                                              label=f"check{i}")) for i, d in enumerate(decks)]
    draws = draw(Mismatch(pdk.avt_mv_um), wht_devices(params, pdk), mc, seed) if mc > 0 else None
    t0 = time.perf_counter()
    with owned(executor) as ex:
        res = run_points(points, draws, recipe=CHECK_RECIPE, executor=ex, use_cache=use_cache, progress=progress,
                         desc=f"WHT {params.n_rows}x{params.n_cols} crossbar", timeout=600.0, chunk=2)
    ni, C = 1 + mc, len(params.columns)
    shape = (ni, x.shape[0], planes.shape[1], C)
    dec = np.full(shape, np.nan)
    ter = np.full(shape, np.nan) if params.ternary else None
    en = np.full(shape, np.nan)
    for d, run, mc_runs in zip(decks, res.nominal, res.mc):
        for inst, r in enumerate([run] + list(mc_runs)):
            if r is None:
                continue
            for jj, j in enumerate(params.columns):
                m = measure_cycles(r, params, len(d), column=j)
                for q, (v, p) in enumerate(d):
                    dec[inst, v, p, jj] = m["decision"][q]
                    en[inst, v, p, jj] = m["energy"][q] / 1.0
                    if ter is not None:
                        ter[inst, v, p, jj] = m["ternary"][q]
    return SpiceCrossbar(params, x, planes, nz, dec, ter, en, [f.message() for f in res.failures],
                         time.perf_counter() - t0, res.analysis_seconds())


def _exact(planes: np.ndarray, h: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d, k+, k-) of every (vector, plane, column) and the exact per-plane result."""
    d = planes @ h
    a = np.abs(planes).sum(axis=2, keepdims=True)
    kp, kn = (a + d) // 2, (a - d) // 2
    q = np.sign(d) if mode == "ternary" else np.where(d >= 0, 1, -1)
    return d, kp, kn, q


def check_against_spice(lut: LUT, vectors: int = 8, bits: int = 8, seed: int = 0, mc: int = 0,
                        vdd: float | None = None, temp: float | None = None, t_pulse: float | None = None,
                        pdk: PDK | str | None = None, cycles_per_deck: int = 16, executor: Executor | None = None,
                        use_cache: bool = True, progress: bool = True) -> dict:
    """Simulate the LUT's R x R crossbar in ngspice on *vectors* random signed vectors (all non-zero
    planes) and compare every column's per-plane decision with the behavioural layer fed by the LUT.
    Returns a JSON-able dict (see :func:`format_check`)."""
    from .model import WhtModel, plane_decisions

    if not isinstance(vectors, int) or isinstance(vectors, bool) or not 1 <= vectors <= 256:
        raise ParameterError(f"vectors = {vectors!r}: give an integer 1 to 256")
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 12:
        raise ParameterError(f"bits = {bits!r}: give an integer 2 to 12 (sign-magnitude: bits - 1 planes)")
    if not isinstance(lut, LUT):
        raise ParameterError(f"lut must be a charz.core.lut.LUT (LUT.load(path, block='wht_column')), got {type(lut).__name__}")
    circuit_parameters(lut)  # the provenance the crossbar is rebuilt from, checked before anything reads it
    lut_rows(lut)
    if pdk is None and not isinstance(lut.provenance.get("pdk"), str):
        raise _bad("pdk", f"must be a PDK name such as 'ptm16hp', got {lut.provenance.get('pdk')!r}")
    model = WhtModel.from_lut(lut, vdd=vdd, temp=temp, t_pulse=t_pulse, mismatch_scale=0.0)
    op = model.coords
    pname = pdk if isinstance(pdk, str) else (pdk.name if pdk is not None else lut.provenance.get("pdk"))
    pdk_ = get(pname) if not isinstance(pdk, PDK) else pdk
    lut.check_pdk(pdk_.sha256)
    params = params_from_lut(lut, pdk_, op["vdd"], op["temp"], op["t_pulse"])
    mode = "ternary" if params.ternary else "sign"
    x = random_vectors(vectors, params.n_rows, bits, seed)
    sp = simulate_crossbar(params, x, bits, pdk_, mc=mc, seed=seed + 1, cycles_per_deck=cycles_per_deck,
                           executor=executor, use_cache=use_cache, progress=progress)
    h = params.matrix
    d, kp, kn, exact = _exact(sp.planes, h, mode)
    ev = np.broadcast_to(sp.evaluated[..., None], d.shape)
    spice = sp.ternary if mode == "ternary" else sp.decision
    nom = spice[0]
    ok = ev & np.isfinite(nom)
    q_model = plane_decisions(model, x, bits=bits, mode=mode)  # (vectors, planes, columns), mismatch 0
    out = {
        "lut": {"pdk": lut.provenance.get("pdk"), "n_rows": params.n_rows, "mode": mode, **op,
                "mc_samples": lut.provenance.get("mc_samples")},
        "vectors": vectors, "bits": bits, "seed": seed, "planes_simulated": int(sp.evaluated.sum()),
        "column_planes": int(ok.sum()), "failures": sp.failures,
        "spice_wall_s": round(sp.wall_seconds, 1), "spice_analysis_s": round(sp.analysis_seconds, 1),
        "nominal": {
            "agree_model": float(np.mean(nom[ok] == q_model[ok])) if ok.any() else float("nan"),
            "agree_exact": float(np.mean(nom[ok] == exact[ok])) if ok.any() else float("nan"),
            "model_agree_exact": float(np.mean(q_model[ok] == exact[ok])) if ok.any() else float("nan"),
            "disagreements": [
                {"vector": int(v), "plane": int(p), "column": int(j), "k+": int(kp[v, p, j]), "k-": int(kn[v, p, j]),
                 "spice": int(nom[v, p, j]), "model": int(q_model[v, p, j]), "exact": int(exact[v, p, j])}
                for v, p, j in zip(*np.nonzero(ok & (nom != q_model)))][:50],
        },
        "energy_per_column_plane_fJ": {
            "spice_mean": float(np.nanmean(sp.energy[0][ok])) * 1e15 if ok.any() else float("nan"),
            "lut_mean": float(np.mean(model.energy[kp[ok], kn[ok]])) * 1e15 if ok.any() else float("nan"),
        },
    }
    if mc > 0:
        inst = spice[1:]
        oki = np.broadcast_to(ok, inst.shape) & np.isfinite(inst)
        wrong_sp = (inst != exact[None]) & oki
        chips = max(mc, 8)
        qm = np.stack([plane_decisions(model.with_scale(1.0), x, bits=bits, mode=mode, seed=1000 + c)
                       for c in range(chips)])
        okm = np.broadcast_to(ok, qm.shape)
        wrong_m = (qm != exact[None]) & okm
        ad = np.abs(d)
        by = []
        for v in range(0, int(ad[ok].max()) + 1 if ok.any() else 0):
            s_sel = oki & (ad == v)[None]
            m_sel = okm & (ad == v)[None]
            if s_sel.sum() == 0:
                continue
            by.append({"|d|": v, "spice_rate": float(wrong_sp[s_sel].mean()), "spice_n": int(s_sel.sum()),
                       "model_rate": float(wrong_m[m_sel].mean()), "model_n": int(m_sel.sum())})
        out["monte_carlo"] = {
            "instances": mc, "model_chips": chips,
            "spice_wrong_rate": float(wrong_sp[oki].mean()) if oki.any() else float("nan"),
            "model_wrong_rate": float(wrong_m[okm].mean()) if okm.any() else float("nan"),
            "by_abs_d": by,
        }
    return out


def format_check(r: dict) -> str:
    """The result of :func:`check_against_spice` as text: conditions, nominal agreement of SPICE, behavioral
    model and exact arithmetic, energy per column-plane, the first disagreements, the Monte Carlo comparison
    when run, and failures."""
    L = r["lut"]
    n = r["nominal"]
    lines = [
        f"WHT crossbar {L['n_rows']}x{L['n_rows']} in ngspice vs the behavioral layer fed by the LUT "
        f"({L['pdk']}, {L['mode']} latches, VDD {L['vdd']:g} V, {L['temp']:g} degC, pulse {L['t_pulse'] * 1e12:.3g} ps)",
        f"  {r['vectors']} random signed {r['bits']}-bit vectors (seed {r['seed']}), {r['planes_simulated']} non-zero "
        f"planes, {r['column_planes']} column-plane decisions; SPICE {r['spice_wall_s']} s wall "
        f"({r['spice_analysis_s']} s ngspice analysis)",
        f"  nominal: SPICE = behavioral model in {100 * n['agree_model']:.2f} % of decisions (goal >= 99 %); "
        f"SPICE = exact arithmetic in {100 * n['agree_exact']:.2f} %; model = exact in {100 * n['model_agree_exact']:.2f} %",
        f"  energy per column-plane: SPICE {r['energy_per_column_plane_fJ']['spice_mean']:.2f} fJ (array deck, "
        f"mean), LUT {r['energy_per_column_plane_fJ']['lut_mean']:.2f} fJ (same (k+, k-) mix)",
    ]
    for dd in n["disagreements"][:10]:
        lines.append(f"    differs: vector {dd['vector']} plane {dd['plane']} column {dd['column']} (k+ {dd['k+']}, "
                     f"k- {dd['k-']}): SPICE {dd['spice']:+d}, model {dd['model']:+d}, exact {dd['exact']:+d}")
    if "monte_carlo" in r:
        m = r["monte_carlo"]
        lines.append(f"  Monte Carlo: {m['instances']} SPICE crossbar instances vs {m['model_chips']} model chips: "
                     f"wrong-decision rate {100 * m['spice_wrong_rate']:.2f} % (SPICE) vs {100 * m['model_wrong_rate']:.2f} % (model)")
        for b in m["by_abs_d"][:8]:
            lines.append(f"    |k+ - k-| = {b['|d|']}: SPICE {100 * b['spice_rate']:.1f} % of {b['spice_n']}, "
                         f"model {100 * b['model_rate']:.1f} % of {b['model_n']}")
    if r["failures"]:
        lines.append(f"  {len(r['failures'])} deck(s) failed (NaN, excluded): {r['failures'][0][:200]}")
    return "\n".join(lines)
