"""SRAM CAM row (``cam_sram``): generator, measurements on known vectors, physics in ngspice on a 4-bit row,
the LUT contract, the nearest-key search model against the LUT it reads, and plots.

Small on purpose: W = 4 bits, two supplies, 8 Monte Carlo rows, run in this process.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from charz.blocks import REGISTRY
from charz.blocks.cam.model import X, CamChip, CamModel
from charz.blocks.cam.netlist import (
    CamParams, cam_devices, check_keys, check_word, default_word, distance_keys, distance_netlist, golden_netlists,
    mismatches, search_netlist, timeline,
)
from charz.blocks.cam.plots import plot_lut
from charz.blocks.cam.recipe import characterize_cam, measure_cycles
from charz.core import pdk as pdkmod
from charz.core.errors import LUTError, ParameterError
from charz.core.lut import LUT
from charz.sim.executor import InlineExecutor
from charz.sim.runner import JobFailure, SimJob, execute

W = 4
VDDS = [0.7, 0.8]
MC_N = 8


@pytest.fixture(scope="module")
def pdk():
    return pdkmod.get("ptm16hp")


@pytest.fixture(scope="module")
def lut(pdk):
    """A 4-bit row at 0.7 and 0.8 V, m = 0..4, nominal and 8 Monte Carlo rows, with the off-grid fit check."""
    return characterize_cam(pdk, n_bits=W, vdd=VDDS, mc=MC_N, seed=3, executor=InlineExecutor(), progress=False,
                            use_cache=False)


def _one_line_error(fn, words):
    with pytest.raises(ParameterError) as e:
        fn()
    msg = str(e.value)
    assert words in msg and "\n" not in msg, msg


# ---- generator ------------------------------------------------------------------------------------------
def test_deck_structure_and_devices(pdk):
    p = CamParams(n_bits=W)
    nl = distance_netlist(p, [0, 1, 4], pdk)
    assert nl.sha256 == distance_netlist(CamParams(n_bits=W), [0, 1, 4], pdk).sha256
    text = nl.text()
    names = [d.name for d in nl.devices]
    # row and replica stacks, 2 precharge PMOS, the replica pull-down, the latch
    assert len(names) == len(set(names)) == 8 * W + 4 + 15
    assert [d.name for d in cam_devices(p, pdk)] == names
    # cell 0: stack A (data d_0 on top, search slb_0 below), stack B (db_0, sl_0); the replica's data gates at 0 V
    assert "mta_0 ml d_0 xa_0 0 nmos" in text and "mba_0 xa_0 slb_0 0 0 nmos" in text
    assert "mtb_0 ml db_0 xb_0 0 nmos" in text and "mbb_0 xb_0 sl_0 0 0 nmos" in text
    assert "mrta_0 mlr 0 rxa_0 0 nmos" in text and "mhs_b hx sen 0 0 nmos" in text
    assert "min_p xp ml tail 0 nmos" in text and "min_n xn mlr tail 0 nmos" in text  # latch: inp = ml, inn = mlr
    # the stored word 1010 as ideal storage nodes; the other rows' search-line load as capacitors
    assert "vd_0 d_0 0 0.7" in text and "vdb_0 db_0 0 0" in text and "vd_1 d_1 0 0" in text
    assert f"csl_0 sl_0 0 {(p.rows - 1) * p.c_sl_cell:.12g}" in text
    assert dict(nl.params)["mismatches"] == "0-1-4" and dict(nl.params)["stored"] == "1010"
    tl = timeline(p, 3)
    assert tl.sense - tl.sl_50 == pytest.approx(p.t_sense) and tl.match - tl.sl_50 == pytest.approx(p.t_match)
    assert tl.fall < tl.period and nl.analysis == f".tran {p.t_step:.12g} {tl.end:.12g}"
    g = golden_netlists(pdk)
    assert sorted(g) == ["cam_sram16_ptm16hp_distance.cir", "cam_tcam4_ptm16hp_dont_care.cir"]
    assert "stored=1X0X" in g["cam_tcam4_ptm16hp_dont_care.cir"]


def test_words_keys_and_mismatch_counts():
    p = CamParams(n_bits=6, ternary=True)
    word = np.array([1, X, 0, 1, X, 0])
    keys = distance_keys(p, [0, 1, 2, 3, 4], word)
    assert mismatches(word, keys).tolist() == [0, 1, 2, 3, 4]
    assert np.all(keys[:, [1, 4]] == 0)  # X cells: any key bit, never a mismatch
    assert mismatches(default_word(6), distance_keys(CamParams(n_bits=6), range(7))).tolist() == list(range(7))
    _one_line_error(lambda: distance_keys(p, [5], word), "the cared bits")
    _one_line_error(lambda: check_word(CamParams(n_bits=2), [1, X]), "ternary=True")
    _one_line_error(lambda: check_keys(p, np.zeros((2, 5))), "(cycles, 6)")


@pytest.mark.parametrize("kw, words", [
    ({"n_bits": 0}, "n_bits"), ({"n_bits": 2.5}, "n_bits"), ({"rows": 0}, "rows"), ({"vdd": 1.2}, "1.5x nominal"),
    ({"w_cmp": 4e-9}, "Lmin"), ({"l_ref": 1e-9}, "l_ref"), ({"t_sense": 10e-12}, "t_sense"),
    ({"t_match": 60e-12}, "t_match"), ({"t_step": 30e-12}, "t_step"), ({"ternary": 1}, "ternary"),
    ({"c_sl_cell": 1.0}, "c_sl_cell"), ({"latch": "big"}, "ComparatorSizes"),
])
def test_bad_parameters_give_one_line_errors(kw, words):
    _one_line_error(lambda: CamParams(**kw), words)


def test_bad_recipe_and_model_inputs(pdk, lut):
    _one_line_error(lambda: characterize_cam(pdk, n_bits=2, ternary=True, progress=False), "unknown cam_sram")
    _one_line_error(lambda: characterize_cam(pdk, n_bits=2, mc=-1, progress=False), "mc = -1")
    model = CamModel.from_lut(lut)
    _one_line_error(lambda: model.distances(np.zeros((2, 3)), np.zeros((1, W))), "keys must be")
    _one_line_error(lambda: model.distances(np.zeros((2, W)), np.full((1, W), X)), "queries must be")
    _one_line_error(lambda: model.draw(0, np.random.default_rng(0)), "n_rows")
    _one_line_error(lambda: model.search(np.zeros((2, W)), np.zeros((1, W)), model.nominal_chip(3)), "CamChip")
    _one_line_error(lambda: model.p_wrong(-1, 1), "d_best")
    _one_line_error(lambda: CamModel.from_lut(lut, mismatch_scale=-1), "mismatch_scale")
    with pytest.raises(LUTError, match="outside"):
        CamModel.from_lut(lut, vdd=0.9)


# ---- measurement on known vectors ---------------------------------------------------------------------------
def test_measure_cycles_on_synthetic_vectors():
    p = CamParams(n_bits=2, rows=4)
    tl = timeline(p, 1)
    t = np.linspace(0.0, tl.period, 2001)
    vdd = p.vdd
    ml = np.where(t < tl.sl_50, vdd, vdd - (t - tl.sl_50) * 2e9)  # falls 2 V/ns after the search lines' 50 % point
    hi = (t >= tl.sl_rise) & (t <= tl.fall)
    run = {"time": t, "v(ml)": ml, "v(mlr)": np.full_like(t, 0.6), "v(dp)": np.full_like(t, vdd),
           "v(dn)": np.zeros_like(t), "i(vpre)": np.full_like(t, -1e-6), "i(vpref)": np.zeros_like(t),
           "i(vlat)": np.full_like(t, -2e-6), "i(vpch)": np.zeros_like(t), "i(vclk)": np.zeros_like(t),
           "i(vsen)": np.zeros_like(t)}
    for j in range(2):
        run[f"i(vsl_{j})"] = np.where(hi, -3e-6, 0.0)  # a source delivering 3 uA while the line is high
        run[f"i(vslb_{j})"] = np.zeros_like(t)
    m = measure_cycles(run, p, 1)
    assert m["v_ml"][0] == pytest.approx(vdd - p.t_sense * 2e9, abs=1e-4)
    assert m["v_ref"][0] == pytest.approx(0.6) and m["decision"][0] == 1.0
    assert m["t_discharge"][0] == pytest.approx(vdd / 2 / 2e9, rel=1e-3)
    assert m["energy_precharge"][0] == pytest.approx(1e-6 * tl.period * vdd, rel=1e-3)
    assert m["energy_sense"][0] == pytest.approx(2e-6 * tl.period * vdd, rel=1e-3)
    assert m["energy_search"][0] == pytest.approx(2 * 3e-6 * (tl.fall - tl.sl_rise) * vdd / 4, rel=1e-2)
    assert m["energy"][0] == pytest.approx(sum(m[k][0] for k in ("energy_precharge", "energy_search", "energy_sense",
                                                                   "energy_clock", "energy_reference")))


# ---- physics in ngspice -------------------------------------------------------------------------------------
def test_match_line_falls_with_mismatches_and_the_flag_marks_only_a_match(lut):
    for vdd in VDDS:
        v = lut.slice("v_ml", vdd=vdd, temp=27)
        assert np.all(np.diff(v) < -0.03), v  # at least 30 mV lower per extra mismatching bit
        assert abs(v[0] - vdd) < 0.1 * vdd  # a match stays near VDD (within the precharge clock's feed-through)
        assert v[-1] < vdd - 0.2
        assert lut.slice("decision", vdd=vdd, temp=27).tolist() == [1.0] + [-1.0] * W
        s, r = lut.slice("v_ml_strobe", vdd=vdd, temp=27), lut.slice("v_ref", vdd=vdd, temp=27)
        assert s[0] - r[0] > 0.05 and r[1] - s[1] > 0.05  # the replica sits between the m = 0 and m = 1 levels
        t = lut.slice("t_discharge", vdd=vdd, temp=27)
        assert np.isnan(t[0]) and np.all(np.diff(t[1:]) < 0)  # more mismatches: the line reaches VDD / 2 sooner
    # a higher supply discharges faster: the same distance ends lower relative to VDD
    assert lut.value("v_ml", vdd=0.8, temp=27, m=W) / 0.8 < lut.value("v_ml", vdd=0.7, temp=27, m=W) / 0.7


def test_energy_of_a_mismatch_and_the_search_lines(lut):
    p = CamParams(n_bits=W)
    for vdd in VDDS:
        pre = lut.slice("energy_precharge", vdd=vdd, temp=27)
        assert pre[0] < 0.1 * pre[1] and np.all(np.diff(pre) > -0.02 * pre[-1])  # the match line is restored
        rest = lut.slice("energy", vdd=vdd, temp=27) - lut.slice("energy_sense", vdd=vdd, temp=27)
        assert np.all(rest[1:] > rest[0])  # a mismatch costs more than a match (sense amplifier aside)
        # search lines: W lines pulled up per search over (rows - 1) x c_sl_cell each, plus two rows' gates
        explicit = W * (p.rows - 1) * p.c_sl_cell * vdd ** 2 / p.rows
        e = lut.slice("energy_search", vdd=vdd, temp=27)
        assert np.all((e > 0.95 * explicit) & (e < 1.1 * explicit)), (e, explicit)
    assert lut.provenance["checks"]["restore_residual_max_V"] < 5e-3


def test_dont_care_cells_never_discharge_the_match_line(pdk, lut):
    p = CamParams(n_bits=W, ternary=True)
    keys = [[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 1], [0, 1, 1, 0]]
    nl = search_netlist(p, [X, X, X, X], keys, pdk)
    r = execute(SimJob(nl, ()))
    assert not isinstance(r, JobFailure), r.message()
    m = measure_cycles(r.runs[0], p, 4)
    v0 = lut.value("v_ml", vdd=0.7, temp=27, m=0)
    assert np.allclose(m["v_ml"], v0, atol=0.02) and m["decision"].tolist() == [1.0] * 4
    nl = search_netlist(p, [1, X, 0, X], keys, pdk)
    m = measure_cycles(execute(SimJob(nl, ())).runs[0], p, 4)
    assert m["decision"].tolist() == [-1.0, -1.0, 1.0, -1.0]  # distances 1, 1, 0, 2
    # a row with X cells discharges a little faster than the binary row at the same distance (less capacitance)
    assert m["v_ml"][3] == pytest.approx(lut.value("v_ml", vdd=0.7, temp=27, m=2), abs=0.03)


# ---- the LUT ------------------------------------------------------------------------------------------------
def test_lut_contract(lut, tmp_path):
    assert [a.name for a in lut.axes] == ["vdd", "temp", "m"] and lut.axis("m").discrete
    assert lut.axis("m").values.tolist() == list(range(W + 1))
    for name in ("v_ml", "v_ml_strobe", "v_ref", "decision", "t_discharge", "energy", "energy_precharge",
                 "energy_search", "energy_sense", "energy_clock", "energy_reference", "v_ml_mean", "v_ml_sigma",
                 "v_ref_sigma", "energy_mean", "p_match", "p_flag_wrong"):
        assert name in lut.tables, name
    assert lut.samples["v_ml"].shape == (2, 1, W + 1, MC_N) and np.all(np.isfinite(lut.samples["v_ml"]))
    assert lut.arrays["wave_ml"].shape == (2, 1, W + 1, lut.arrays["wave_t"].size)
    assert lut.arrays["mc_delvto"].shape == (MC_N, 8 * W + 4 + 15)
    assert lut.provenance["mc_samples"] == MC_N and not lut.provenance["failed_points"]
    assert {"v_ml", "energy"} <= set(lut.fit_quality)
    assert lut.fit_quality["v_ml"]["max_abs_err"] < 0.03  # 0.75 V against the 0.7 / 0.8 V interpolation
    sig = lut.slice("v_ml_sigma", vdd=0.7, temp=27)
    assert sig[0] < 0.01 and np.all(sig[1:] > sig[0])  # a matching row hardly moves; mismatching cells spread it
    assert lut.conditions["n_bits"] == W and lut.conditions["stored"] == "1010"
    again = LUT.load(lut.save(tmp_path / "cam4"), block="cam_sram")
    np.testing.assert_array_equal(again.tables["v_ml"], lut.tables["v_ml"])
    paths = plot_lut(again, tmp_path / "png", "cam4")
    assert {p.name for p in paths} == {"cam4_transfer.png", "cam4_energy.png", "cam4_transients.png",
                                       "cam4_wrong_winner.png"}
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_registry_entry_runs_a_nominal_row(pdk):
    lut2 = REGISTRY.characterize("cam_sram", pdk, bits=2, rows=8, vdd=0.7, temp=None, mc=0, seed=1,
                                 executor=InlineExecutor(), use_cache=False, progress=False, fit_check=False)
    assert lut2.block == "cam_sram" and lut2.shape == (1, 1, 3) and lut2.conditions["rows"] == 8
    assert lut2.slice("decision", vdd=0.7, temp=27).tolist() == [1.0, -1.0, -1.0] and not lut2.samples


# ---- the model against the LUT ------------------------------------------------------------------------------
def test_model_reads_the_lut(lut):
    m = CamModel.from_lut(lut)
    assert m.coords == {"vdd": 0.7, "temp": 27.0} and m.n_bits == W
    np.testing.assert_allclose(m.nominal, lut.slice("v_ml", vdd=0.7, temp=27))
    np.testing.assert_allclose(m.sigma, lut.slice("v_ml_sigma", vdd=0.7, temp=27), rtol=1e-6)
    np.testing.assert_allclose(m.mean, lut.slice("v_ml_mean", vdd=0.7, temp=27), rtol=1e-9)
    mid = CamModel.from_lut(lut, vdd=0.75)
    np.testing.assert_allclose(mid.nominal, (m.nominal + CamModel.from_lut(lut, vdd=0.8).nominal) / 2)
    chip = m.draw(5, np.random.default_rng(1))
    assert isinstance(chip, CamChip) and chip.v_ml.shape == (5, W + 1)
    np.testing.assert_array_equal(chip.v_ml, m.draw(5, np.random.default_rng(1)).v_ml)  # same seed, same chip
    assert np.all(m.with_mismatch_scale(0).draw(3, np.random.default_rng(2)).v_ml == m.nominal)
    json.dumps(m.describe())


def test_search_finds_the_exact_nearest_key(lut):
    m = CamModel.from_lut(lut, mismatch_scale=0)
    rng = np.random.default_rng(4)
    keys = rng.integers(0, 2, (12, W))
    keys[rng.random(keys.shape) < 0.2] = X  # ternary rows: X bits never count
    queries = rng.integers(0, 2, (200, W))
    res = m.search(keys, queries)
    care = keys != X
    d = np.sum(care[None] & (keys[None] != queries[:, None]), axis=2)
    np.testing.assert_array_equal(res.distance, d)
    assert np.all(res.correct)  # nominal rows: the nearest always wins (ties: either nearest row)
    srt = np.sort(d, axis=1)
    np.testing.assert_array_equal(res.margin, srt[:, 1] - srt[:, 0])
    np.testing.assert_allclose(res.energy, m.energy_row[d].sum(axis=1))
    assert m.energy_per_search(12, 0) == pytest.approx(12 * lut.value("energy", vdd=0.7, temp=27, m=0))


def test_wrong_winners_grow_as_the_margin_shrinks_and_match_the_prediction(lut):
    m = CamModel.from_lut(lut).with_mismatch_scale(3.0)  # a larger spread: wrong winners frequent enough to count
    rng = np.random.default_rng(7)
    n = 3000
    query = np.zeros((1, W), dtype=int)
    rates, preds = [], []
    for margin in (1, 2, 3):
        keys = np.zeros((2, W), dtype=int)
        keys[0, :1] = 1  # the nearest row at distance 1
        keys[1, :1 + margin] = 1  # the rival at 1 + margin
        wrong = sum(not m.search(keys, query, m.draw(2, rng)).correct[0] for _ in range(n))
        rate, p = wrong / n, float(m.p_wrong(1, margin))
        assert abs(rate - p) < 4 * np.sqrt(max(p * (1 - p), 1e-4) / n) + 2e-3, (margin, rate, p)
        rates.append(rate)
        preds.append(p)
    assert preds[0] > preds[1] > preds[2] and preds[0] > 0.05  # (the rival's own spread grows with its distance)
    assert rates[0] > rates[1] and rates[0] > rates[2] + 4 * np.sqrt(preds[0] / n)
    # several rivals at the same distance: each one may win
    keys = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]])
    wrong = sum(not m.search(keys, query, m.draw(4, rng)).correct[0] for _ in range(n))
    p3 = float(m.p_wrong(1, 1, competitors=3))
    assert p3 > preds[0] and abs(wrong / n - p3) < 4 * np.sqrt(p3 * (1 - p3) / n) + 2e-3
    assert m.p_wrong(2, 0) == 0.0 and np.isnan(m.p_wrong(3, 2))
