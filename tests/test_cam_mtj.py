"""MTJ analog CAM cell (``cam_mtj``): the MTJ element's I-V in ngspice against its formula, the cell's match
window in ngspice, the recipe's edges and their direction with the programmed state, the LUT contract, the
lookup model against the LUT, and bad parameters.

Small on purpose: 2 MTJs per branch, a 40 mV data-line grid, 4 Monte Carlo cells, run in this process.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from charz.blocks import REGISTRY
from charz.blocks.cam.model_mtj import NONE, ONE, SEVERAL, MtjCamModel, MtjChip
from charz.blocks.cam.netlist_mtj import (
    MtjCamParams, MtjParams, check_inputs, golden_netlists, iv_netlist, mtj_cam_devices, mtj_names, search_netlist,
    stack_resistance, state_bits,
)
from charz.blocks.cam.plots import plot_lut
from charz.blocks.cam.recipe_mtj import characterize_cam_mtj, find_edges, measure_cycles, mtj_factors
from charz.core import pdk as pdkmod
from charz.core.errors import LUTError, ParameterError
from charz.core.lut import LUT
from charz.sim.executor import InlineExecutor
from charz.sim.runner import JobFailure, SimJob, execute

BITS = 2
MC_N = 4


@pytest.fixture(scope="module")
def pdk():
    return pdkmod.get("ptm16hp")


@pytest.fixture(scope="module")
def lut(pdk):
    """2 MTJs per branch (4 states), 0.8 V, 40 mV grid, 4 Monte Carlo cells."""
    return characterize_cam_mtj(pdk, bits=BITS, vdd=0.8, mc=MC_N, seed=2, dl_step=0.04, executor=InlineExecutor(),
                                progress=False, use_cache=False)


def _one_line_error(fn, words):
    with pytest.raises(ParameterError) as e:
        fn()
    msg = str(e.value)
    assert words in msg and "\n" not in msg, msg


def _run(nl, samples=()):
    r = execute(SimJob(nl, samples))
    assert not isinstance(r, JobFailure), r.message()
    return r.runs


# ---- the MTJ element ------------------------------------------------------------------------------------------
def test_mtj_iv_in_ngspice_matches_the_formula(pdk):
    m = MtjParams(r_p=4e3, tmr0=1.2, v_half=0.4)
    for ap in (False, True):
        run = _run(iv_netlist(m, ap, v_max=0.8, points=33, pdk=pdk))[0]
        v, i = run["v(a)"], -run["i(va)"]  # the source's current flows out of its + node
        np.testing.assert_allclose(i, m.current(v, ap), rtol=2e-3, atol=1e-12)  # ngspice reltol 1e-3
        r = np.interp([0.05, 0.4, -0.4], v, v / np.where(v == 0, np.nan, i))
        if ap:
            assert r[0] == pytest.approx(4e3 * (1 + 1.2 / (1 + (0.05 / 0.4) ** 2)), rel=2e-3)  # ~R_P (1 + TMR0)
            assert (r[1] - 4e3) / 4e3 == pytest.approx(0.6, rel=5e-3)  # the TMR halves at V_h, either polarity
            assert r[2] == pytest.approx(r[1], rel=1e-3)
        else:
            np.testing.assert_allclose(r, 4e3, rtol=2e-3)
    # the Monte Carlo factor: alter the control source, the resistance scales
    run = _run(iv_netlist(m, True, v_max=0.8, points=33, pdk=pdk), ((("vk_mtj_x", "dc", 1.1),),))[0]
    np.testing.assert_allclose(-run["i(va)"], m.current(run["v(a)"], True, k=1.1), rtol=2e-3, atol=1e-12)


def test_generator_states_and_devices(pdk):
    p = MtjCamParams(bits=BITS)
    assert [state_bits(p, s) for s in range(4)] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    m = p.mtj
    assert stack_resistance(p, 0) == pytest.approx(3 * m.r_p)
    assert stack_resistance(p, 3) == pytest.approx(3 * m.r_p * (1 + m.tmr0))
    text = search_netlist(p, 1, 2, [0.2, 0.9], pdk).text()
    assert "bmtj_lo_0 dl xlo_1 i=" in text and "vk_mtj_lo_1 k_mtj_lo_1 0 2" in text
    assert "mpd_hi ml d_hi f_hi 0 nmos" in text and "mpd_lo ml d_lo f_lo 0 nmos" in text
    assert f"rref_hi g_hi 0 {p.r_ref_hi:.12g}" in text
    assert mtj_names(p) == ("mtj_lo_0", "mtj_lo_1", "mtj_hi_0", "mtj_hi_1")
    names = [d.name for d in mtj_cam_devices(p, pdk)]
    assert len(names) == len(set(names)) == 15  # 2 x (input inverter, buffer, pull-down, foot) + 1 more inverter on lo + precharge
    assert sorted(golden_netlists(pdk)) == ["cam_mtj_ptm16hp_edges.cir", "cam_mtj_ptm16hp_window.cir"]
    f = mtj_factors(p, 3, 5)
    np.testing.assert_array_equal(f, mtj_factors(p, 3, 5))
    assert f.shape == (3, 4) and np.all(np.abs(f - 1) < 0.5)


@pytest.mark.parametrize("kw, words", [
    ({"bits": 4}, "bits"), ({"bits": 1.5}, "bits"), ({"vdd": 1.2}, "1.5x nominal"), ({"w_pd": 4e-9}, "Lmin"),
    ({"r_ref_hi": 1.0}, "r_ref_hi"), ({"t_sense": 10e-12}, "t_sense"), ({"t_step": 30e-12}, "t_step"),
    ({"mtj": "big"}, "MtjParams"), ({"dl_max": 5.0}, "dl_max"), ({"split": 1}, "split"),
])
def test_bad_parameters_give_one_line_errors(kw, words):
    _one_line_error(lambda: MtjCamParams(**kw), words)


@pytest.mark.parametrize("kw, words", [({"r_p": -1.0}, "r_p"), ({"tmr0": 0.0}, "tmr0"), ({"v_half": 0.0}, "v_half"),
                                       ({"sigma_r": 0.5}, "sigma_r")])
def test_bad_mtj_parameters(kw, words):
    _one_line_error(lambda: MtjParams(**kw), words)


def test_bad_states_inputs_and_recipe_options(pdk):
    p = MtjCamParams(bits=BITS)
    _one_line_error(lambda: state_bits(p, 4), "state = 4")
    _one_line_error(lambda: search_netlist(p, 0, True, [0.5], pdk), "state = True")
    _one_line_error(lambda: check_inputs(p, [0.5, 2.0]), "dl_max")
    _one_line_error(lambda: check_inputs(p, []), "inputs")
    _one_line_error(lambda: characterize_cam_mtj(pdk, bits=1, rows=3, progress=False), "unknown cam_mtj")
    _one_line_error(lambda: characterize_cam_mtj(pdk, bits=1, dl_step=0.5, progress=False), "dl_step")


def test_find_edges_on_known_vectors():
    dl = np.linspace(0, 1, 11)
    lo = np.where(dl < 0.45, 0.0, 0.8)
    hi = np.clip(0.8 - (dl - 0.6) * 4, 0, 0.8)  # crosses 0.4 at 0.7
    a, b = find_edges(dl, lo, hi, 0.4)
    assert a == pytest.approx(0.45) and b == pytest.approx(0.7)
    assert np.isnan(find_edges(dl, np.zeros(11), np.full(11, 0.8), 0.4)).all()


# ---- the cell in ngspice --------------------------------------------------------------------------------------
def test_match_line_stays_high_inside_the_window_only(pdk, lut):
    lo, hi = lut.slice("edge_lo", vdd=0.8, temp=27), lut.slice("edge_hi", vdd=0.8, temp=27)
    p = MtjCamParams(bits=BITS, vdd=0.8)
    x = [lo[0] - 0.08, (lo[0] + hi[3]) / 2, hi[3] + 0.08, lo[0] + 0.03, hi[3] - 0.03]
    run = _run(search_netlist(p, 0, 3, np.round(x, 4), pdk))[0]
    v = measure_cycles(run, p, len(x))["v_ml"]
    assert v[1] > 0.7 and v[3] > 0.6 and v[4] > 0.6, v  # inside: the line stays precharged
    assert v[0] < 0.1 and v[2] < 0.1, v  # below lo or above hi: discharged
    # a window of one state's width: (1, 1) never contains a point between edges of state 0 and state 3
    run = _run(search_netlist(p, 3, 0, np.round(x[:3], 4), pdk))[0]
    assert np.all(measure_cycles(run, p, 3)["v_ml"] < 0.1)


def test_edges_move_up_when_a_branch_switches_p_to_ap(lut):
    for b in ("lo", "hi"):
        e = lut.slice(f"edge_{b}", vdd=0.8, temp=27)
        assert np.all(np.isfinite(e)) and 0.4 < e[0] < e[-1] < 1.4
        assert e[1] > e[0] + 0.02 and e[2] > e[0] + 0.04 and e[3] > e[1] + 0.04 and e[3] > e[2] + 0.02, e
    # the two branches are alike (same divider, same input inverter): their edges lie within 50 mV
    assert np.max(np.abs(lut.slice("edge_lo", vdd=0.8, temp=27) - lut.slice("edge_hi", vdd=0.8, temp=27))) < 0.05


def test_lut_contract_and_plots(lut, tmp_path):
    assert [a.name for a in lut.axes] == ["vdd", "temp", "state"] and lut.axis("state").discrete
    for name in ("edge_lo", "edge_hi", "edge_lo_mean", "edge_lo_sigma", "edge_hi_mean", "edge_hi_sigma"):
        assert name in lut.tables, name
    assert lut.samples["edge_lo"].shape == (1, 1, 4, MC_N) and np.all(np.isfinite(lut.samples["edge_hi"]))
    sig = lut.slice("edge_hi_sigma", vdd=0.8, temp=27)
    assert np.all((sig > 1e-3) & (sig < 0.1)), sig
    e = lut.arrays["energy"][0, 0]
    assert e.shape == (3,) and np.all((e > 1e-15) & (e < 1e-13)), e
    assert lut.arrays["mc_mtj_factor"].shape == (MC_N, 4) and lut.arrays["v_ml_lo"].shape[-1] == lut.arrays[
        "dl_grid"].size
    assert lut.provenance["mc_samples"] == MC_N and not lut.provenance["failed_points"]
    again = LUT.load(lut.save(tmp_path / "mtj"), block="cam_mtj")
    paths = plot_lut(again, tmp_path / "png", "mtj")
    assert {p.name for p in paths} == {"mtj_edges.png", "mtj_ml_vs_input.png", "mtj_lookup.png"}
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_registry_entry_dispatches_to_the_mtj_recipe(pdk):
    lut1 = REGISTRY.characterize("cam_mtj", pdk, bits=1, vdd=0.8, temp=None, mc=0, seed=0, executor=InlineExecutor(),
                                 use_cache=False, progress=False, fit_check=False)
    assert lut1.block == "cam_mtj" and lut1.shape == (1, 1, 2) and not lut1.samples
    assert lut1.conditions["bits"] == 1


# ---- the model against the LUT ---------------------------------------------------------------------------------
def test_model_lookup_returns_the_code_of_the_window(lut):
    m = MtjCamModel.from_lut(lut)
    np.testing.assert_allclose(m.edge_lo, lut.slice("edge_lo", vdd=0.8, temp=27))
    np.testing.assert_allclose(m.sigma("hi"), lut.slice("edge_hi_sigma", vdd=0.8, temp=27), rtol=1e-6)
    states = np.array([[0, 1], [1, 2], [2, 3]])
    chip = m.nominal_chip(states)
    lo, hi = m.edge_lo[states[:, 0]], m.edge_hi[states[:, 1]]
    x = np.concatenate([(lo + hi) / 2, [m.edge_lo[0] - 0.1, m.edge_hi[3] + 0.1]])
    r = m.lookup(x, chip, np.array([5, 6, 7]))
    expect = [5 if lo[0] <= xi < hi[0] else 6 if lo[1] <= xi < hi[1] else 7 for xi in x[:3]]
    assert r.code[:3].tolist() == expect and r.code[3:].tolist() == [-1, -1]
    assert r.flag[3] == NONE and r.flag[4] == NONE and set(r.flag[:3].tolist()) <= {ONE, SEVERAL}
    assert r.energy[3] == pytest.approx(3 * m.energy_mismatch) and m.energy_match > m.energy_mismatch * 0.5
    # a chip is drawn once per seed; scale 0 gives the nominal chip
    c1 = m.draw(3, states, np.random.default_rng(9))
    c2 = m.draw(3, states, np.random.default_rng(9))
    assert isinstance(c1, MtjChip)
    np.testing.assert_array_equal(c1.lo, c2.lo)
    np.testing.assert_array_equal(c1.hi, c2.hi)
    assert not np.allclose(c1.lo, chip.lo)
    c0 = m.with_scale(0).draw(3, states, np.random.default_rng(9)) if hasattr(m, "with_scale") else \
        MtjCamModel.from_lut(lut, mismatch_scale=0).draw(3, states, np.random.default_rng(9))
    np.testing.assert_allclose(c0.lo, chip.lo)
    json.dumps(m.describe())
    _one_line_error(lambda: m.draw(3, np.array([[0, 4]] * 3), np.random.default_rng(0)), "states")
    _one_line_error(lambda: m.lookup([0.5], chip, [1, 2]), "codes")
    with pytest.raises(LUTError):
        MtjCamModel.from_lut(lut, vdd=0.9)


def test_size_overrides_reach_the_cell_and_bad_ones_are_refused_before_any_run(tmp_path):
    from charz.netlist.cells import size_overrides
    from helpers import charz, one_line_error

    from charz.blocks.cam.recipe import MTJ_SIZES

    kw = size_overrides(["w_invn=512n", "l_inv=0.256u"], MTJ_SIZES)
    assert kw == pytest.approx({"w_invn": 512e-9, "l_inv": 256e-9})
    p = MtjCamParams(**kw)
    assert p.w_invn == pytest.approx(512e-9) and p.l_inv == pytest.approx(256e-9)
    for bad, what in ((["l_inv=1"], "l_inv"), (["foo=1n"], "unknown"), (["l_inv=1n", "l_inv=2n"], "twice")):
        r = charz("characterize", "cam_mtj", *[a for b in bad for a in ("--size", b)], "-o", str(tmp_path / "x"))
        assert what in one_line_error(r)
    assert not (tmp_path / "x.json").exists()


def test_a_plot_refuses_another_family_s_lut_in_one_line():
    from charz.blocks.cam.plots import plot_mtj_edges, plot_transfer
    from charz.core.errors import LUTError
    from charz.core.lut import LUT

    sram = LUT.load("lut/ptm16hp/cam_sram16")
    with pytest.raises(LUTError, match="this plot needs a 'cam_mtj' LUT, got 'cam_sram'"):
        plot_mtj_edges(sram, "/nonexistent/x.png")
    with pytest.raises(LUTError, match="this plot needs a 'cam_sram' LUT, got 'str'"):
        plot_transfer("lut/ptm16hp/cam_sram16", "/nonexistent/x.png")
