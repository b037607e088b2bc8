"""StrongARM comparator: generator, measurements, physics (real ngspice), Monte Carlo offset, LUT
contract, behavioral model and plots.

Small on purpose: short offset ramps (coarse resolution), a handful of Monte Carlo instances, run in
this process.
"""

from __future__ import annotations

import numpy as np
import pytest

from charz.core import pdk as pdkmod
from charz.blocks.comparator.model import ComparatorBank
from charz.blocks.comparator.recipe import (
    characterize_comparator, cycle_decisions, default_ramp, fit_tau, measure_step, ramp_offset,
)
from charz.core.errors import LUTError, ParameterError, PDKError
from charz.core.lut import LUT
from charz.blocks.comparator.netlist import (
    ComparatorParams, ComparatorSizes, comparator_cell, comparator_devices, golden_netlists, ramp_levels,
    ramp_netlist, step_netlist, timeline,
)
from charz.sim.executor import InlineExecutor
from charz.sim.runner import JobFailure, SimJob, execute

VDDS = [0.6, 0.7]
DVS = [-20e-3, -2e-3, -0.5e-3, 0.5e-3, 2e-3, 20e-3]
MC_N = 6
MC_RANGE, MC_RES = 80e-3, 4e-3  # +-80 mV ramp by 4 mV: 40 decisions per instance (sigma is about 20 mV)


@pytest.fixture(scope="module")
def pdk():
    return pdkmod.get("ptm16hp")


@pytest.fixture(scope="module")
def nominal_lut(pdk):
    """Two VDDs x 6 step inputs, a short nominal ramp, with the off-grid fit check."""
    return characterize_comparator(pdk, vdd=VDDS, dv=DVS, offset_range=8e-3, offset_resolution=1e-3,
                                   executor=InlineExecutor(), progress=False, use_cache=False)


def _mc(pdk, avt=None, seed=1, n=MC_N, scale=1.0):
    p = pdk.with_avt(avt) if avt is not None else pdk
    return characterize_comparator(p, vdd=0.7, dv=[-2e-3, 2e-3], mc=n, seed=seed, offset_range=MC_RANGE * scale,
                                   offset_resolution=MC_RES * scale, executor=InlineExecutor(), progress=False,
                                   use_cache=False, fit_check=False)


@pytest.fixture(scope="module")
def mc_lut(pdk):
    return _mc(pdk)


def _run(nl, samples=()):
    r = execute(SimJob(nl, tuple(samples)))
    assert not isinstance(r, JobFailure), r.message()
    return r.runs


# ---- generator ------------------------------------------------------------------------------------
def test_generator_is_deterministic_and_complete(pdk):
    p = ComparatorParams()
    a, b = step_netlist(p, 2e-3, pdk=pdk), step_netlist(ComparatorParams(), 2e-3, pdk=pdk)
    assert a.text() == b.text() and a.sha256 == b.sha256
    assert step_netlist(p, -2e-3, pdk=pdk).sha256 != a.sha256
    assert step_netlist(p.replace(vcm_ratio=0.6), 2e-3, pdk=pdk).sha256 != a.sha256
    text = a.text()
    names = [d.name for d in a.devices]
    assert names[:3] == ["mtail", "min_p", "min_n"] and len(names) == 23  # 11 StrongARM + 4 inverter + 8 latch
    assert {"mnl_p", "mnl_n", "mpl_p", "mpl_n", "mro_p", "mro_n", "mrx_p", "mrx_n"} <= set(names)
    assert sum(1 for line in text.splitlines() if line.startswith("m")) == 23
    assert [d.name for d in comparator_devices(p, pdk)] == names
    assert len(comparator_devices(p.replace(sr_latch=False), pdk)) == 15
    # inputs: vcm +- dv/2 around 0.7 x VDD; the clock is a PWL with raised-cosine edges
    assert "vinp inp 0 0.491" in text and "vinn inn 0 0.489" in text
    assert "min_p xp inp tail 0 nmos" in text and "mnl_p outn outp xp 0 nmos" in text
    assert a.save == ("time", "v(dp)", "v(dn)", "v(outp)", "v(outn)", "i(vdd)", "i(vclk)")
    tl = timeline(p, 2)
    assert tl.rise[1] - tl.rise[0] == pytest.approx(p.t_clk) and tl.fall[0] - tl.rise[0] == pytest.approx(p.t_clk / 2)
    assert f".tran {p.t_step:.12g} {tl.end:.12g}" == a.analysis
    # a suffixed cell for converters that hold several comparators
    lines, devs = comparator_cell(3, "a", "b", "ck", "vdd", "o1", "o2", p.sizes, pdk)
    assert devs[1].name == "min_p_3" and any(" xp_3 a tail_3 " in line for line in lines) and len(devs) == 15


def test_ramp_levels_and_deck(pdk):
    r = ramp_levels(-10e-3, 10e-3, 2e-3)
    assert len(r.levels) == 10 and r.levels[0] == pytest.approx(-9e-3) and r.levels[-1] == pytest.approx(9e-3)
    assert 0.0 not in r.levels and np.allclose(np.asarray(r.levels), -np.asarray(r.levels[::-1]))
    p = ComparatorParams()
    nl = ramp_netlist(p, -10e-3, 10e-3, 2e-3, pdk)
    assert dict(nl.params)["n_cycles"] == 10 and nl.save == ("time", "v(dp)", "v(dn)")
    assert nl.analysis.endswith(f"{timeline(p, 10).end:.12g}")
    assert any(line.startswith("+ ") for line in nl.body)  # long PWLs are continued over lines


def test_golden_netlists(pdk):
    g = golden_netlists(pdk)
    assert sorted(g) == ["comparator_ptm16hp_ramp.cir", "comparator_ptm16hp_step_p10mv.cir"]
    assert g == golden_netlists(pdk)
    text = g["comparator_ptm16hp_step_p10mv.cir"]
    assert ".include ptm16hp.pm" in text and str(pdk.path.parent) not in text and pdk.sha256 in text


def test_defaults_resolved_from_the_pdk():
    p = ComparatorParams()
    L = 16e-9
    assert p.vdd == 0.7 and p.vcm == pytest.approx(0.49) and p.sr_latch
    assert p.sizes == ComparatorSizes.default(pdkmod.describe("ptm16hp"))
    assert p.sizes.w_in == pytest.approx(64 * L) and p.sizes.l_in == pytest.approx(L)
    assert p.t_clk == pytest.approx(400e-12) and p.t_edge == pytest.approx(20e-12) and p.t_step == pytest.approx(2e-12)
    assert p.c_load == pytest.approx(0.5e-15)
    q = ComparatorParams(pdk="ptm65bulk")
    assert q.vdd == 1.1 and q.t_clk == pytest.approx(700e-12) and q.sizes.w_in == pytest.approx(64 * 65e-9)
    assert q.c_load == pytest.approx(0.5e-15 * 65 / 16)
    # the default ramp covers the spread at any A_VT: it scales with A_VT
    r1, s1 = default_ramp(p, pdkmod.get("ptm16hp"))
    r2, s2 = default_ramp(p, pdkmod.get("ptm16hp", avt_mv_um=2.8))
    assert r2 == pytest.approx(2 * r1, rel=0.1) and s2 == pytest.approx(2 * s1, rel=0.1) and 60 <= 2 * r1 / s1 <= 100


@pytest.mark.parametrize("kw, words", [
    ({"vdd": 1.2}, "1.5x nominal"), ({"vdd": float("nan")}, "finite"), ({"temp": 300.0}, "temperature"),
    ({"c_load": -1e-15}, "c_load"), ({"c_load": 1.0}, "c_load"), ({"t_clk": 0.0}, "t_clk"), ({"t_clk": 1.0}, "t_clk"),
    ({"t_edge": 100e-12}, "t_clk / 8"), ({"vcm_ratio": 0.1}, "vcm_ratio"), ({"vcm_ratio": "mid"}, "number"),
    ({"sr_latch": 1}, "sr_latch"), ({"t_step": 50e-12}, "t_step"), ({"sizes": "big"}, "ComparatorSizes"),
])
def test_bad_parameters_give_one_line_errors(kw, words):
    with pytest.raises(ParameterError) as e:
        ComparatorParams(**kw)
    msg = str(e.value)
    assert words in msg and "\n" not in msg


def test_bad_sizes_inputs_and_recipe_options(pdk):
    with pytest.raises(ParameterError, match="positive"):
        ComparatorSizes.default(pdk).replace(w_in=-1e-6)
    with pytest.raises(ParameterError, match="unknown comparator size"):
        ComparatorSizes.default(pdk).replace(w_input=1e-6)
    with pytest.raises(PDKError, match="unknown PDK"):
        ComparatorParams(pdk="ptm7nm")
    p = ComparatorParams()
    with pytest.raises(ParameterError, match="outside the rails"):
        step_netlist(p, 1.0, pdk=pdk)
    with pytest.raises(ParameterError, match="n_cycles"):
        step_netlist(p, 1e-3, n_cycles=0, pdk=pdk)
    with pytest.raises(ParameterError, match="empty"):
        ramp_netlist(p, 10e-3, -10e-3, 1e-3, pdk)
    with pytest.raises(ParameterError, match="resolution"):
        ramp_levels(-10e-3, 10e-3, 0.0)
    with pytest.raises(ParameterError, match="ramp cycles"):
        ramp_levels(-0.1, 0.1, 1e-5)
    with pytest.raises(ParameterError, match="another PDK"):
        p.replace(pdk="ptm65bulk")
    for kw, words in (({"t_wl": 1e-12}, "unknown comparator parameter"), ({"mc": -1}, "Monte Carlo"),
                      ({"dv": [0.0, 1e-3]}, "dv = 0"), ({"n_step_cycles": 1}, "n_step_cycles"),
                      ({"offset_range": -1e-3}, "offset_range")):
        with pytest.raises(ParameterError, match=words):
            characterize_comparator(pdk, **kw)


# ---- measurements on synthetic vectors --------------------------------------------------------------
def _synthetic_ramp(p, v_lo, v_hi, res, threshold):
    """dp / dn as an ideal comparator with the given threshold would produce them."""
    levels = np.asarray(ramp_levels(v_lo, v_hi, res).levels)
    n = levels.size
    tl = timeline(p, n)
    t = np.linspace(0, tl.end, 40 * n + 1)
    dp, dn = np.zeros_like(t), np.zeros_like(t)
    for k, v in enumerate(levels):
        on = (t >= tl.clock_50(k) + 20e-12) & (t < tl.evaluate_end(k) + 5e-12)
        (dp if v > threshold else dn)[on] = p.vdd
    return {"time": t, "v(dp)": dp, "v(dn)": dn}


def test_ramp_offset_is_the_midpoint_between_last_0_and_first_1():
    p = ComparatorParams()
    for thr in (-7.3e-3, 0.2e-3, 11.9e-3):
        ro = ramp_offset(_synthetic_ramp(p, -20e-3, 20e-3, 2e-3, thr), p, -20e-3, 20e-3, 2e-3)
        assert ro.in_range and ro.monotonic and ro.n_unresolved == 0
        assert abs(ro.offset - thr) <= 1e-3 + 1e-12  # within half a step
        assert ro.offset == pytest.approx(round((thr + 20e-3) / 2e-3) * 2e-3 - 20e-3)  # on the step grid
    out = ramp_offset(_synthetic_ramp(p, -20e-3, 20e-3, 2e-3, 25e-3), p, -20e-3, 20e-3, 2e-3)
    assert not out.in_range and np.isnan(out.offset)


def test_fit_tau_recovers_the_regeneration_law():
    dv = np.array([-10, -5, -2, -1, -0.5, 0.5, 1, 2, 5, 10, 50]) * 1e-3
    td = 40e-12 - 6e-12 * np.log(np.abs(dv) / 1e-3)
    td[-1] = 20e-12  # outside the fit range: ignored
    f = fit_tau(dv, td)
    assert f["tau"] == pytest.approx(6e-12, rel=1e-9) and f["t_1mv"] == pytest.approx(40e-12, rel=1e-9)
    assert f["points"] == 10 and f["rms_residual"] < 1e-20
    assert np.isnan(fit_tau(dv[:2], td[:2])["tau"])


# ---- physics: nominal -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ptm16hp", "ptm65bulk"])
def test_resolves_the_sign_of_2mv(name):
    pk = pdkmod.get(name)
    p = ComparatorParams(pdk=name)
    for dv in (2e-3, -2e-3):
        run = _run(step_netlist(p, dv, n_cycles=2, pdk=pk))[0]
        sign, td = cycle_decisions(run, p, 2)
        assert np.all(sign == np.sign(dv)), (name, dv, sign)
        assert np.all((td > 5e-12) & (td < p.t_clk / 2))
        m = measure_step(run, p, 2)
        assert m["decision"] == np.sign(dv) and m["reset_residual"] < 5e-3
        # the winner is rail to rail, the loser stays low, at the end of the evaluate half
        t = run["time"]
        tl = timeline(p, 2)
        win, lose = ("v(dp)", "v(dn)") if dv > 0 else ("v(dn)", "v(dp)")
        assert np.interp(tl.evaluate_end(1) - 1e-12, t, run[win]) > 0.95 * p.vdd
        assert np.interp(tl.evaluate_end(1) - 1e-12, t, run[lose]) < 0.05 * p.vdd


def test_time_step_is_converged(pdk):
    """Decision time within 1 ps and energy within 2 % of a 4x finer step."""
    out = []
    for step in (None, 0.5e-12):
        p = ComparatorParams(t_step=step)
        out.append(measure_step(_run(step_netlist(p, 1e-3, pdk=pdk))[0], p, 2))
    assert abs(out[0]["t_decision"] - out[1]["t_decision"]) < 1e-12
    assert out[0]["energy_dv"] == pytest.approx(out[1]["energy_dv"], rel=0.02)
    assert out[0]["energy_clock"] == pytest.approx(out[1]["energy_clock"], rel=0.02)


def test_lut_contract(nominal_lut, pdk):
    lut = nominal_lut
    assert lut.block == "comparator"
    assert [(a.name, a.unit, a.discrete) for a in lut.axes] == [("vdd", "V", False), ("temp", "degC", False),
                                                                ("dv", "V", True)]
    assert lut.axis("dv").values.tolist() == DVS and lut.shape == (2, 1, 6)
    for t in ("t_decision", "decision", "sign_ok", "energy_dv", "energy", "energy_supply", "energy_clock",
              "energy_toggle", "tau",
              "t_decision_1mv", "offset"):
        assert lut.tables[t].shape == (2, 1, 6)
    assert lut.units["t_decision"] == "s" and lut.units["energy"] == "J" and lut.units["offset"] == "V"
    for t in lut.conditions["per_corner"]:  # per-corner tables are constant along dv
        assert np.all(lut.tables[t] == lut.tables[t][..., :1])
    assert "offset_sigma" not in lut.tables and not lut.samples
    p = lut.provenance
    assert p["card_sha256"] == pdk.sha256 and p["ngspice_version"] and p["failed_points"] == []
    assert p["mc_samples"] == 0 and set(p["netlist_sha256"]) == {"ramp", "step_dv0.002"}
    assert p["checks"]["reset_residual_max_V"] < 5e-3 and p["checks"]["offset_out_of_range"] == 0
    assert lut.conditions["evaluate_window_s"] == pytest.approx(200e-12)
    assert lut.conditions["offset_resolution"] == 1e-3
    # nominal offset: the symmetric comparator turns over between -0.5 and +0.5 mV
    assert np.all(np.abs(lut.tables["offset"]) < 1e-6)


def test_decision_sign_time_and_tau(nominal_lut):
    lut = nominal_lut
    assert np.all(lut.tables["sign_ok"] == 1) and np.array_equal(lut.tables["decision"][0, 0], np.sign(DVS))
    td = lut.tables["t_decision"]
    assert np.all(np.isfinite(td))
    mags = np.abs(DVS)
    for i in range(2):  # decision time grows as |dv| shrinks, for both signs
        for sgn in (1, -1):
            sel = np.sign(DVS) == sgn
            order = np.argsort(mags[sel])
            assert np.all(np.diff(td[i, 0][sel][order]) < 0)
        # symmetric comparator: +dv and -dv decide equally fast
        assert np.allclose(td[i, 0], td[i, 0][::-1], rtol=1e-3)
    tau = lut.tables["tau"][:, 0, 0]
    assert np.all((tau > 1e-12) & (tau < 50e-12))
    assert tau[0] > tau[1]  # regeneration is slower at the lower supply
    # the fitted law reproduces the 0.5 .. 2 mV decision times within 2 ps
    for i in range(2):
        t1 = lut.tables["t_decision_1mv"][i, 0, 0]
        sel = mags <= 2e-3
        pred = t1 - tau[i] * np.log(mags[sel] / 1e-3)
        assert np.max(np.abs(pred - td[i, 0][sel])) < 2e-12


def test_energy_positive_and_rising_with_vdd(nominal_lut):
    lut = nominal_lut
    e = lut.tables["energy"][:, 0, 0]
    assert np.all(e > 0.5e-15) and np.all(e < 50e-15) and e[1] > e[0]
    assert np.all(lut.tables["energy_dv"][1] > lut.tables["energy_dv"][0])
    # flipping the output latch costs extra: a few to 20 % of a decision
    tog = lut.tables["energy_toggle"][:, 0, 0]
    assert np.all((tog > 0.02 * e) & (tog < 0.3 * e))
    parts = lut.tables["energy_supply"] + lut.tables["energy_clock"]
    assert np.allclose(parts, lut.tables["energy"], rtol=1e-9)
    assert np.all(lut.tables["energy_clock"] > 0) and np.all(lut.tables["energy_clock"] < lut.tables["energy_supply"])


def test_fit_quality_recorded(nominal_lut):
    fq = nominal_lut.fit_quality
    assert set(fq) == {"t_decision", "energy_dv"}
    assert fq["t_decision"]["points"] == 3 and fq["t_decision"]["unit"] == "s"
    assert 0 < fq["t_decision"]["max_rel_err"] < 0.2 and 0 < fq["energy_dv"]["max_rel_err"] < 0.1


def test_lut_round_trip(nominal_lut, mc_lut, tmp_path):
    for name, lut in (("nom", nominal_lut), ("mc", mc_lut)):
        back = LUT.load(lut.save(tmp_path / name), block="comparator")
        for t in lut.tables:
            np.testing.assert_array_equal(back.tables[t], lut.tables[t])
        for s in lut.samples:
            np.testing.assert_array_equal(back.samples[s], lut.samples[s])
        for a in lut.arrays:
            np.testing.assert_array_equal(back.arrays[a], lut.arrays[a])
        assert back.conditions == lut.conditions and back.fit_quality == lut.fit_quality


# ---- Monte Carlo offset ----------------------------------------------------------------------------
def test_mc_offset_tables_samples_and_draws(mc_lut):
    lut = mc_lut
    s = lut.samples["offset"]
    assert s.shape == (1, 1, 2, MC_N) and np.array_equal(s[:, :, 0], s[:, :, 1])
    x = s[0, 0, 0]
    assert np.all(np.isfinite(x)) and np.unique(x).size > 2
    assert np.all(np.abs(x) < MC_RANGE)
    # offsets lie on the ramp's step grid (midpoints between adjacent levels)
    assert np.allclose((x + MC_RANGE) / MC_RES, np.round((x + MC_RANGE) / MC_RES), atol=1e-6)
    sig = lut.tables["offset_sigma"][0, 0, 0]
    assert 3e-3 < sig < 60e-3
    assert lut.tables["offset_mean"][0, 0, 0] == pytest.approx(np.mean(x))
    assert lut.arrays["mc_delvto"].shape == (MC_N, 23) and lut.arrays["mc_devices"].tolist()[1] == "min_p"
    p = lut.provenance
    assert p["mc_samples"] == MC_N and p["mc_seed"] == 1 and p["mismatch"]["avt_mv_um"] == 1.4
    assert p["checks"]["offset_out_of_range"] == 0 and p["checks"]["offset_non_monotonic"] == 0
    # the input pair dominates: offsets correlate with the input pair's threshold difference
    names = lut.arrays["mc_devices"].tolist()
    d = lut.arrays["mc_delvto"]
    pair = d[:, names.index("min_p")] - d[:, names.index("min_n")]
    assert np.corrcoef(pair, x)[0, 1] > 0.3


def test_mc_sigma_scales_with_avt(pdk, mc_lut):
    double = _mc(pdk, avt=2 * pdk.avt_mv_um, scale=2.0)
    np.testing.assert_allclose(double.arrays["mc_delvto"], 2 * mc_lut.arrays["mc_delvto"], rtol=1e-12)
    ratio = double.tables["offset_sigma"][0, 0, 0] / mc_lut.tables["offset_sigma"][0, 0, 0]
    assert 1.6 < ratio < 2.5, ratio  # offset roughly proportional to A_VT (same normalised draws)
    # instance by instance: twice the offset to within the two ramps' resolutions
    a, b = mc_lut.samples["offset"][0, 0, 0], double.samples["offset"][0, 0, 0]
    assert np.all(np.abs(b - 2 * a) < 2 * MC_RES + 0.15 * np.abs(b))


def test_mc_seed_reproducible(pdk, mc_lut):
    again = _mc(pdk, seed=1, n=2)
    np.testing.assert_array_equal(again.arrays["mc_delvto"], mc_lut.arrays["mc_delvto"][:2])
    np.testing.assert_array_equal(again.samples["offset"], mc_lut.samples["offset"][..., :2])
    other = _mc(pdk, seed=2, n=2)
    assert not np.array_equal(other.arrays["mc_delvto"], mc_lut.arrays["mc_delvto"][:2])
    assert not np.array_equal(other.samples["offset"], mc_lut.samples["offset"][..., :2])


# ---- behavioral model --------------------------------------------------------------------------------
def test_behavior_reproduces_spice_decisions(pdk, mc_lut):
    """Comparator i of the model is SPICE instance i: same offsets, and the same decisions as SPICE
    for inputs more than a ramp step away from the instance's offset."""
    bank = ComparatorBank.from_lut(mc_lut, n=MC_N, source="instances")
    np.testing.assert_array_equal(bank.offsets, mc_lut.samples["offset"][0, 0, 0])
    names = mc_lut.arrays["mc_devices"].tolist()
    alters = [tuple((d, "delvto", float(v)) for d, v in zip(names, row)) for row in mc_lut.arrays["mc_delvto"]]
    p = ComparatorParams(vdd=0.7)
    flips = checked = 0
    for dv in (-40e-3, -15e-3, 15e-3, 40e-3):
        runs = _run(step_netlist(p, dv, pdk=pdk), alters)
        spice = np.array([measure_step(r, p, 2)["decision"] for r in runs])
        model = bank.decide(np.full(MC_N, dv))
        far = np.abs(dv - bank.offsets) > MC_RES
        assert np.array_equal(model[far], (spice[far] > 0).astype(np.int8)), (dv, spice, bank.offsets)
        checked += int(far.sum())
        flips += int(np.sum(far & ((spice > 0) != (dv > 0))))
    assert checked >= 3 * MC_N and flips >= 1  # the offsets do flip some decisions, and the model follows


def test_behavior_bank_draws_and_energy(mc_lut, nominal_lut):
    a = ComparatorBank.from_lut(mc_lut, n=1000, seed=3)
    b = ComparatorBank.from_lut(mc_lut, n=1000, seed=3)
    c = ComparatorBank.from_lut(mc_lut, n=1000, seed=4)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.offsets, c.offsets)
    assert set(np.unique(a.offsets)) <= set(mc_lut.samples["offset"][0, 0, 0])  # resampled real instances
    nrm = ComparatorBank.from_lut(mc_lut, n=20000, source="normal", seed=0)
    assert np.std(nrm.offsets) == pytest.approx(mc_lut.tables["offset_sigma"][0, 0, 0], rel=0.05)
    half = ComparatorBank.from_lut(mc_lut, n=1000, seed=3, mismatch_scale=0.5)
    np.testing.assert_allclose(half.offsets, 0.5 * a.offsets, atol=1e-15)
    assert np.all(ComparatorBank.from_lut(mc_lut, n=5, mismatch_scale=0).offsets == 0)
    # decisions broadcast over the last axis: a (inputs, comparators) grid
    v = np.linspace(-0.1, 0.1, 9)[:, None]
    d = a.decide(v + np.zeros(a.n))
    assert d.shape == (9, 1000) and d.dtype == np.int8 and np.all(np.diff(d, axis=0) >= 0)
    nom = ComparatorBank.from_lut(nominal_lut, n=4, vdd=0.65)
    assert nom.source == "nominal" and np.all(np.abs(nom.offsets) < 1e-6)
    assert nom.energy == pytest.approx(np.mean(nominal_lut.tables["energy"][:, 0, 0]))
    assert nom.energy_of(10) == pytest.approx(10 * nom.energy)
    assert nom.energy_of(np.zeros((2, 3))) == pytest.approx(6 * nom.energy)
    assert nom.energy_toggle > 0
    assert nom.energy_of(10, toggles=np.array([1, 0, 1])) == pytest.approx(10 * nom.energy + 2 * nom.energy_toggle)
    t = nom.decision_time(np.array([1e-3, 1e-2, 10.0])[:, None])[:, 0]
    assert t[0] > t[1] >= t[2] >= nom.t_min and t[2] == pytest.approx(nom.t_min)
    assert nom.metastable(1e-12).all() and not nom.metastable(1e-3).any()
    with pytest.raises(LUTError, match="Monte Carlo"):
        ComparatorBank.from_lut(nominal_lut, n=2, source="instances")
    with pytest.raises(ParameterError, match="too many"):
        ComparatorBank.from_lut(mc_lut, n=MC_N + 1, source="instances")
    with pytest.raises(LUTError, match="outside"):
        ComparatorBank.from_lut(nominal_lut, vdd=0.9)


def test_behavior_refuses_other_luts(nominal_lut):
    other = LUT(block="cim_column", axes=nominal_lut.axes, tables={}, units={})
    with pytest.raises(LUTError, match="comparator"):
        ComparatorBank.from_lut(other)


# ---- failures and plots -------------------------------------------------------------------------
class _FailDv(InlineExecutor):
    """Runs inline but reports the step deck of one dv as failed (as a non-converging point would)."""

    def __init__(self, dv):
        self.dv = dv

    def map(self, jobs):
        for i, job in enumerate(jobs):
            if dict(job.netlist.params).get("dv") == f"{self.dv:.12g}":
                yield i, JobFailure(job, "did not converge (test)", ["tail line"], None, "nonconvergence")
            else:
                yield i, execute(job)


def test_failed_points_are_nan_and_reported(pdk):
    lut = characterize_comparator(pdk, vdd=0.7, dv=[-5e-3, 2e-3, 5e-3], offset_range=4e-3, offset_resolution=1e-3,
                                  executor=_FailDv(2e-3), progress=False, use_cache=False, fit_check=False)
    td = lut.tables["t_decision"][0, 0]
    assert np.isnan(td[1]) and np.all(np.isfinite(td[[0, 2]]))
    assert np.isnan(lut.tables["sign_ok"][0, 0, 1]) and np.isnan(lut.tables["decision"][0, 0, 1])
    assert np.isfinite(lut.tables["energy"][0, 0, 0])  # the mean over the dv runs that worked
    failed = lut.provenance["failed_points"]
    assert len(failed) == 1 and "dv=0.002" in failed[0] and "did not converge" in failed[0]


def test_plots(nominal_lut, mc_lut, tmp_path):
    from charz.blocks.comparator import plots as pc

    paths = pc.plot_lut(nominal_lut, tmp_path, "nom") + pc.plot_lut(mc_lut, tmp_path, "mc")
    assert len(paths) == 5
    for p in paths:
        assert p.is_file() and p.stat().st_size > 10_000
    with pytest.raises(LUTError, match="Monte Carlo"):
        pc.plot_offset_histogram(nominal_lut, tmp_path / "x.png")
