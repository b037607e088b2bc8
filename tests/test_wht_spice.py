"""Signed-bit WHT crossbar: generator, measurements and physics in real ngspice, the recipe's LUT and
its decision-model fits, the SPICE-vs-behaviour check.

Small circuits on purpose: 4- and 8-row columns, one corner, a handful of Monte Carlo columns, run in
this process (a 4-row pairs deck takes about a second).
"""

from __future__ import annotations

import numpy as np
import pytest

from charz.core import pdk as pdkmod
from charz.blocks.wht.model_lut import predicted_wrong
from charz.blocks.wht.recipe import bracket, cell_sigma_fit, characterize_wht, measure_cycles, probit_fit
from charz.core.errors import ParameterError, PDKError
from charz.core.hadamard import hadamard
from charz.core.lut import LUT
from charz.blocks.wht.netlist import (
    WhtParams, golden_netlists, pair_plane, pairs_netlist, planes_netlist, reachable_pairs, timeline, wht_devices,
)
from charz.sim.executor import InlineExecutor
from charz.sim.runner import JobResult, SimJob, execute


@pytest.fixture(scope="module")
def pdk():
    return pdkmod.get("ptm16hp")


def _run(nl):
    r = execute(SimJob(nl, (), "test", 300))
    assert isinstance(r, JobResult), r.message()
    return r.runs[0]


# ---- generator -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [4, 8, 16, 64])
def test_hadamard_orthogonal_and_sequency(n):
    for order in ("sylvester", "sequency"):
        h = hadamard(n, order)
        assert set(np.unique(h)) == {-1, 1}
        assert np.array_equal(h @ h.T, n * np.eye(n, dtype=int))
    changes = np.sum(np.diff(hadamard(n, "sequency"), axis=1) != 0, axis=1)
    assert changes.tolist() == list(range(n))  # Walsh order: row i has i sign changes


def test_cells_wired_by_hadamard_sign(pdk):
    p = WhtParams(pdk=pdk.name, n_rows=4, n_cols=4)
    text = planes_netlist(p, np.array([[1, 0, -1, 1]]), pdk).text()
    h = p.matrix
    for r in range(4):
        for j in range(4):
            pos, neg = ("blp", "bln") if h[r, j] > 0 else ("bln", "blp")
            assert f"mcp_{r}_{j} {pos}_{j} rp_{r} 0 0 " in text
            assert f"mcn_{r}_{j} {neg}_{j} rn_{r} 0 0 " in text
    # the row with input 0 has constant-0 row lines, the -1 input pulses rn only
    assert "vrp_1 rp_1 0 0" in text and "vrn_1 rn_1 0 0" in text
    assert "vrp_2 rp_2 0 0" in text and "vrn_2 rn_2 0 pwl(" in text


def test_pair_plane_counts(pdk):
    p = WhtParams(pdk=pdk.name, n_rows=8, n_cols=8, columns=(5,))
    h = p.matrix[:, 5]
    for kp, kn in [(0, 0), (3, 2), (8, 0), (1, 7)]:
        s = pair_plane(p, kp, kn) * h  # bitline each row pulls: +1 = blp
        assert (np.sum(s == 1), np.sum(s == -1)) == (kp, kn)
    assert len(reachable_pairs(16)) == 17 * 18 // 2


def test_bad_parameters_are_one_line_errors(pdk):
    for kw, frag in [({"n_rows": 12}, "n_rows"), ({"w_cell": -1e-9}, "w_cell"), ({"order": "gray"}, "ordering"),
                     ({"vdd": 5.0}, "VDD"), ({"columns": (16,)}, "columns"), ({"t_pulse": 1e-12}, "t_pulse"),
                     ({"v_trim": 2.0}, "v_trim")]:
        with pytest.raises(ParameterError, match=frag):
            WhtParams(**{"pdk": "ptm16hp", **kw})
    with pytest.raises(PDKError, match="unknown PDK"):
        WhtParams(pdk="ptm3nm")
    p = WhtParams(pdk=pdk.name, n_rows=4, n_cols=4)
    with pytest.raises(ParameterError, match="-1, 0 or \\+1"):
        planes_netlist(p, np.array([[2, 0, 0, 0]]), pdk)
    with pytest.raises(ParameterError, match="more than the 4 rows"):
        pair_plane(p, 3, 2)


def test_stitching_adds_bitline_load(pdk):
    p16 = WhtParams(pdk=pdk.name, n_rows=16)
    p64 = WhtParams(pdk=pdk.name, n_rows=64, n_cols=64, columns=(0,))
    assert p16.bitline_junctions == 0 and p64.bitline_junctions == 3
    assert p64.c_bitline_wire == pytest.approx(64 * p64.c_wire + 3 * p64.c_stitch)


def test_golden_netlists_are_current():
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "netlists"
    for name, text in golden_netlists("ptm16hp").items():
        assert (here / name).read_text() == text, f"{name} is stale: run `charz netlist`"


# ---- physics in ngspice -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pairs8(pdk):
    """Every reachable pair of an 8-row ternary column at 0.8 V, one deck."""
    p = WhtParams(pdk=pdk.name, n_rows=8, n_cols=8, columns=(0,), ternary=True, vdd=0.8)
    pairs = reachable_pairs(8)
    run = _run(pairs_netlist(p, pairs, pdk))
    return p, pairs, measure_cycles(run, p, len(pairs))


def test_differential_voltage_follows_k_difference(pairs8):
    p, pairs, m = pairs8
    dv = {pq: m["dv"][i] for i, pq in enumerate(pairs)}
    for kp, kn in pairs:
        if kp + kn == 0:
            continue
        if kp == kn:
            assert abs(dv[kp, kn]) < 3e-3  # a tie leaves the bitlines equal (symmetric column)
        if kp + 1 + kn <= 8:
            assert dv[kp + 1, kn] > dv[kp, kn] + 20e-3  # one more cell on + moves dv up by a cell's swing
            assert dv[kp, kn + 1] < dv[kp, kn] - 20e-3
    # antisymmetric: swapping the sides flips the sign
    for kp, kn in pairs:
        if kp != kn:
            assert dv[kp, kn] == pytest.approx(-dv[kn, kp], abs=3e-3, rel=0.06)  # within 6 %: not exactly mirrored
    # the bitlines were restored to VDD before every next cycle
    assert np.nanmax(p.vdd - m["v_end"]) < 5e-3


def test_nominal_ternary_decisions_are_exact(pairs8):
    p, pairs, m = pairs8
    for i, (kp, kn) in enumerate(pairs):
        if kp + kn:  # (0, 0) never happens: an all-zero plane is skipped
            assert m["ternary"][i] == np.sign(kp - kn), (kp, kn, m["dv"][i], m["upper"][i], m["lower"][i])


def test_energy_positive_and_grows_with_discharge(pairs8):
    p, pairs, m = pairs8
    e = {pq: m["energy"][i] for i, pq in enumerate(pairs)}
    parts = sum(m[k] for k in ("energy_precharge", "energy_latch", "energy_clock", "energy_rows"))
    assert np.allclose(parts, m["energy"])
    assert all(v > 0 for v in e.values())
    # precharge restores what the cells removed: grows with the cells pulling either bitline
    pre = {pq: m["energy_precharge"][i] for i, pq in enumerate(pairs)}
    assert pre[(8, 0)] > pre[(4, 0)] > pre[(1, 0)] > 0
    assert 1e-15 < e[(4, 4)] < 100e-15  # femtojoules per column-plane


def test_sign_mode_array_matches_exact_arithmetic(pdk):
    """A whole 8 x 8 crossbar (sign latches), three random signed planes: every column's decision is
    the sign of its exact Hadamard sum (ties excluded)."""
    p = WhtParams(pdk=pdk.name, n_rows=8, n_cols=8, vdd=0.8)
    rng = np.random.default_rng(3)
    planes = rng.integers(-1, 2, size=(3, 8))
    planes[np.all(planes == 0, axis=1), 0] = 1
    run = _run(planes_netlist(p, planes, pdk))
    d = planes @ p.matrix
    for j in range(8):
        m = measure_cycles(run, p, 3, column=j)
        for c in range(3):
            if d[c, j] != 0:
                assert m["decision"][c] == np.sign(d[c, j]), (c, j, d[c, j], m["dv"][c])


# ---- recipe, LUT and fits ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lut4(pdk, tmp_path_factory):
    lut = characterize_wht(pdk, n_rows=4, vdd=[0.7, 0.8], mc=4, seed=2, executor=InlineExecutor(),
                           use_cache=False, progress=False, fit_check=True)
    path = lut.save(tmp_path_factory.mktemp("wht") / "wht4")
    return LUT.load(path, block="wht_column")


def test_lut_contract(lut4):
    lut = lut4
    assert [a.name for a in lut.axes] == ["vdd", "temp", "t_pulse", "kp", "kn"]
    assert lut.conditions["n_rows"] == 4 and lut.conditions["ternary"] is True
    dv = lut.slice("dv", vdd=0.8, temp=27, t_pulse=60e-12)
    assert np.isnan(dv[3, 2]) and np.isfinite(dv[2, 2])  # k+ + k- > R is unreachable
    for name in lut.conditions["per_corner"]:
        v = lut.slice(name, vdd=0.8, temp=27, t_pulse=60e-12)
        assert np.all(v == v[0, 0]) and np.isfinite(v[0, 0]), name
    assert lut.value("thr_pos_mean", vdd=0.8, temp=27, t_pulse=60e-12, kp=0, kn=0) > \
        lut.value("thr_neg_mean", vdd=0.8, temp=27, t_pulse=60e-12, kp=0, kn=0)
    p = lut.slice("p_wrong_ternary", vdd=0.8, temp=27, t_pulse=60e-12)
    assert np.all((p[np.isfinite(p)] >= 0) & (p[np.isfinite(p)] <= 1))
    assert p[4, 0] == 0 and p[0, 4] == 0  # four cells of margin: never wrong
    assert lut.samples["dv"].shape[-1] == 4 and lut.arrays["mc_delvto"].shape[0] == 4
    assert lut.fit_quality["dv"]["points"] > 0 and lut.fit_quality["energy"]["max_rel_err"] < 0.2
    assert "decision_model" in lut.fit_quality
    assert lut.provenance["mc_samples"] == 4 and lut.provenance["failed_points"] == []
    # the swing per cell shrinks with VDD (less overdrive per cell than the bitline headroom gains)
    assert lut.value("dv_per_cell", vdd=0.8, temp=27, t_pulse=60e-12, kp=0, kn=0) > 0.02


def test_probit_fit_recovers_offset():
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.1, 0.1, 4000)
    y = (x + rng.normal(-0.012, 0.02, x.size) > 0).astype(float)  # threshold at +12 mV, sigma 20 mV
    mu, s = probit_fit(x, y)
    assert mu == pytest.approx(0.012, abs=3e-3) and s == pytest.approx(0.02, rel=0.15)
    mu, s = probit_fit(np.array([-2, -1, 1, 2.0]), np.array([0, 0, 1, 1.0]))  # separable
    assert mu == 0 and s == pytest.approx(1e-4)
    assert bracket(np.array([-0.03, 0.0, 0.03]), np.array([0, 1, 1.0])) == pytest.approx(-0.015)


def test_cell_sigma_fit_recovers_components():
    m = np.arange(1, 17, dtype=float)
    var = m * 0.005 ** 2 + 0.003 ** 2
    cs, s0 = cell_sigma_fit(m, var)
    assert cs == pytest.approx(0.005, rel=1e-6) and s0 == pytest.approx(0.003, rel=1e-6)


def test_predicted_wrong_limits():
    kp, kn = np.array([5, 0, 2]), np.array([0, 5, 2])
    dvm = 0.035 * (kp - kn)
    fit = {"cell_sigma": 0.0, "dv_sigma0": 0.0, "offset_mean": 0.0, "offset_sigma": 1e-4,
           "thr_pos_mean": 0.017, "thr_pos_sigma": 1e-4, "thr_neg_mean": -0.017, "thr_neg_sigma": 1e-4}
    assert np.allclose(predicted_wrong(dvm, kp, kn, fit, True), 0, atol=1e-9)
    s = predicted_wrong(dvm, kp, kn, fit, False)
    assert np.allclose(s[:2], 0) and np.isnan(s[2])  # a tie has no right sign


def test_devices_cover_cells_and_latches(pdk):
    p = WhtParams(pdk=pdk.name, n_rows=4, n_cols=4, columns=(1,), ternary=True)
    names = {d.name for d in wht_devices(p, pdk)}
    assert {f"mcp_{r}_1" for r in range(4)} <= names and "min_p_a1" in names and "min_n_b1" in names
    assert {"mtu_1", "mtl_1", "mpp_1", "mpe_1"} <= names
    assert timeline(p, 3).end == pytest.approx(3 * timeline(p, 1).period)
