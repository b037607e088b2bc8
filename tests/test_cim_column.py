"""Bit-plane CiM column: generator, physics (real ngspice), Monte Carlo, LUT contract and plots.

Small on purpose: 8-row columns, two VDDs, a handful of Monte Carlo samples, run in this process.
"""

from __future__ import annotations


import numpy as np
import pytest

from charz.core import pdk as pdkmod
from charz.blocks.cim_column.recipe import characterize_column, measure
from charz.core.errors import ParameterError, PDKError
from charz.core.lut import LUT
from charz.netlist.cells import CellSizes
from charz.blocks.cim_column.netlist import (CimColumnParams, column_devices, column_netlist, deck_draws,
                                             golden_netlists, timeline)
from charz.core import mc as mcmod
from charz.sim.executor import InlineExecutor
from charz.sim.runner import JobFailure, SimJob, execute

N = 8
VDDS = [0.6, 0.7]
TPS = [60e-12, 120e-12]


@pytest.fixture(scope="module")
def pdk():
    return pdkmod.get("ptm16hp")


@pytest.fixture(scope="module")
def nominal_lut(pdk):
    """8 rows x 2 VDD x 2 pulse widths, nominal, with the off-grid fit check."""
    return characterize_column(pdk, n_rows=N, vdd=VDDS, temp=27.0, t_pulse=TPS, executor=InlineExecutor(),
                               progress=False, use_cache=False)


def _mc(pdk, avt=None, seed=1, n=8, use_cache=False):
    p = pdk.with_avt(avt) if avt is not None else pdk
    return characterize_column(p, n_rows=N, vdd=0.7, t_pulse=100e-12, mc=n, seed=seed, executor=InlineExecutor(),
                               progress=False, use_cache=use_cache, fit_check=False)


@pytest.fixture(scope="module")
def mc_lut(pdk):
    return _mc(pdk)


# ---- generator ------------------------------------------------------------------------------------
def test_generator_is_deterministic_and_complete(pdk):
    p = CimColumnParams(n_rows=N)
    a, b = column_netlist(p, 3, pdk), column_netlist(CimColumnParams(n_rows=N), 3, pdk)
    assert a.text() == b.text() and a.sha256 == b.sha256
    assert column_netlist(p, 4, pdk).sha256 != a.sha256
    assert column_netlist(p.replace(t_pulse=80e-12), 3, pdk).sha256 != a.sha256
    text = a.text()
    # N full 8T cells + the precharge device, one read bitline, the wire capacitor, one .ic per cell
    assert len(a.devices) == 8 * N + 1
    assert sum(1 for line in text.splitlines() if line.startswith("m")) == 8 * N + 1
    assert sum(1 for line in text.splitlines() if line.startswith(".ic ")) == N
    assert f"cwire rbl 0 {N * p.c_wire:.12g}" in text
    # k = 3 rows at input = weight = 1; pattern x1w0: every read wordline driven, weights 1 1 1 0 0 ...
    assert sum(1 for line in text.splitlines() if line.startswith("mra_") and " rwl " in line) == N
    assert ".ic v(q_2)=0.7 v(qb_2)=0" in text and ".ic v(q_3)=0 v(qb_3)=0.7" in text
    # x0w0: only the k active rows see the wordline
    t0 = column_netlist(p.replace(pattern="x0w0"), 3, pdk).text()
    assert sum(1 for line in t0.splitlines() if line.startswith("mra_") and " rwl " in line) == 3
    assert a.save == ("time", "v(rbl)", "i(vpre)", "i(vrwl)", "i(vpch)")
    # the sense instant is the end of the wordline falling edge; the deck ends after the restore
    tl = timeline(p)
    assert tl.sense == pytest.approx(tl.rwl_fall + p.t_edge)
    assert tl.rwl_fall - tl.rwl_rise == pytest.approx(p.t_pulse)
    assert tl.end == pytest.approx(tl.sense + p.t_edge + p.t_restore)
    assert [d.name for d in column_devices(p, pdk)] == [d.name for d in a.devices]


def test_golden_netlists(pdk):
    g = golden_netlists(pdk)
    assert sorted(g) == ["cim_column16_ptm16hp_k0.cir", "cim_column16_ptm16hp_k16.cir", "cim_column16_ptm16hp_k8.cir"]
    assert g == golden_netlists(pdk)
    text = g["cim_column16_ptm16hp_k8.cir"]
    assert ".include ptm16hp.pm" in text and str(pdk.path.parent) not in text
    assert pdk.sha256 in text


def test_defaults_resolved_from_the_pdk():
    p = CimColumnParams()
    assert p.vdd == 0.7 and p.n_rows == 16 and p.sizes == CellSizes.default(pdkmod.describe("ptm16hp"))
    assert p.c_wire == pytest.approx(1.5e-15) and p.w_pre == pytest.approx(24 * 16e-9)
    q = CimColumnParams(pdk="ptm45hp")
    assert q.vdd == 1.0 and q.c_wire == pytest.approx(1.5e-15 * 45 / 16)


@pytest.mark.parametrize("kw, words", [
    ({"n_rows": 7}, "n_rows"), ({"n_rows": 65}, "n_rows"), ({"n_rows": 16.0}, "n_rows"), ({"n_rows": True}, "n_rows"),
    ({"vdd": 1.2}, "1.5x nominal"), ({"vdd": -0.1}, "VDD"), ({"vdd": float("nan")}, "finite"),
    ({"c_wire": -1e-15}, "c_wire"), ({"w_pre": -1e-7}, "w_pre"), ({"w_pre": 0.0}, "w_pre"),
    ({"t_pulse": 0.0}, "t_pulse"), ({"t_pulse": 20e-12}, "not longer than the edge"), ({"t_pulse": "fast"}, "number"),
    ({"temp": 300.0}, "temperature"), ({"pattern": "x1w1"}, "pattern"), ({"sense_delay": -1e-12}, "sense_delay"),
    ({"t_step": 200e-12}, "t_step"), ({"sizes": "big"}, "CellSizes"),
])
def test_bad_parameters_give_one_line_errors(kw, words):
    with pytest.raises(ParameterError) as e:
        CimColumnParams(**kw)
    msg = str(e.value)
    assert words in msg and "\n" not in msg


def test_bad_sizes_k_and_pdk(pdk):
    with pytest.raises(ParameterError, match="positive"):
        CimColumnParams(sizes=CellSizes.default(pdk).replace(w_ra=-64e-9))
    p = CimColumnParams(n_rows=N)
    for k in (-1, N + 1, 2.5, True):
        with pytest.raises(ParameterError, match="k = "):
            column_netlist(p, k, pdk)
    with pytest.raises(PDKError, match="unknown PDK"):
        CimColumnParams(pdk="ptm7nm")
    with pytest.raises(ParameterError, match="unknown cim_column parameter"):
        characterize_column(pdk, n_rows=N, t_wl=1e-12)
    with pytest.raises(ParameterError, match="Monte Carlo"):
        characterize_column(pdk, n_rows=N, mc=-1)


def test_time_step_is_converged(pdk):
    """V_BL changes by < 1 mV when the maximum step is 4x finer (20 ps -> 5 ps)."""
    vals = []
    for step in (20e-12, 5e-12):
        p = CimColumnParams(n_rows=N, t_step=step)
        r = execute(SimJob(column_netlist(p, N, pdk)))
        assert not isinstance(r, JobFailure), r.message()
        vals.append(measure(r.runs[0], p))
    assert abs(vals[0]["vbl"] - vals[1]["vbl"]) < 1e-3
    assert vals[0]["energy"] == pytest.approx(vals[1]["energy"], rel=0.02)


# ---- physics (nominal LUT) ------------------------------------------------------------------------
def test_lut_contract(nominal_lut):
    lut = nominal_lut
    assert lut.block == "cim_column"
    assert [(a.name, a.unit, a.discrete) for a in lut.axes] == [
        ("vdd", "V", False), ("temp", "degC", False), ("t_pulse", "s", False), ("k", "cells", True)]
    assert lut.axis("k").values.tolist() == list(range(N + 1))
    assert lut.axis("vdd").values.tolist() == VDDS and lut.axis("t_pulse").values.tolist() == TPS
    assert lut.units["vbl"] == "V" and lut.units["energy"] == "J"
    assert lut.tables["vbl"].shape == (2, 1, 2, N + 1)
    c = lut.conditions
    assert c["n_rows"] == N and c["pattern"] == "x1w0" and c["sense"] == "end of the wordline pulse"
    assert c["c_wire"] == pytest.approx(1.5e-15)
    p = lut.provenance
    assert p["card_sha256"] == pdkmod.get("ptm16hp").sha256 and p["ngspice_version"]
    assert p["avt_mv_um"] == 1.4 and p["mc_samples"] == 0 and p["failed_points"] == []
    assert set(p["netlist_sha256"]) == {"k0", f"k{N // 2}", f"k{N}"}
    assert p["checks"]["restore_residual_max_V"] < 5e-3
    assert not lut.samples and "vbl_sigma" not in lut.tables


def test_vbl_falls_monotonically_with_k(nominal_lut):
    v = nominal_lut.tables["vbl"]
    assert np.all(np.isfinite(v))
    steps = np.diff(v, axis=-1)
    assert np.all(steps < -3e-3), steps.max()  # every extra active cell discharges the bitline visibly
    for i, vdd in enumerate(VDDS):
        # k = 0: only leakage, within 3 % of VDD; never below ground
        assert np.all(v[i, :, :, 0] > 0.97 * vdd) and np.all(v[i] > -0.05)
    # defaults at 0.7 V, 120 ps: the full column ends between 10 % and 60 % of VDD (not saturated at 0)
    assert 0.07 < nominal_lut.value("vbl", vdd=0.7, temp=27, t_pulse=120e-12, k=N) < 0.42


def test_longer_pulse_discharges_further(nominal_lut):
    v = nominal_lut.tables["vbl"]  # (vdd, temp, t_pulse, k)
    short, long_ = v[:, :, 0, 1:], v[:, :, 1, 1:]
    assert np.all(long_ < short - 5e-3)
    # discharge roughly proportional to T while the bitline is high: k = 1 drop doubles within 25 %
    d_short = v[:, 0, 0, 0] - v[:, 0, 0, 1]
    d_long = v[:, 0, 1, 0] - v[:, 0, 1, 1]
    assert np.all((d_long / d_short > 1.5) & (d_long / d_short < 2.5))


def test_energy_positive_and_rising_with_k(nominal_lut):
    e = nominal_lut.tables["energy"]
    assert np.all(e > 0) and np.all(np.diff(e, axis=-1) > 0)
    parts = sum(nominal_lut.tables[p] for p in ("energy_precharge", "energy_wordline", "energy_clock"))
    assert np.allclose(parts, e)
    # the restore energy is about VDD * C_BL * swing: within 30 % of VDD * (N c_wire) * (VDD - V_BL) + device share
    lut = nominal_lut
    i = VDDS.index(0.7)
    swing = 0.7 - lut.tables["vbl"][i, 0, 1, N]
    e_pre = lut.tables["energy_precharge"][i, 0, 1, N]
    c_min = N * 1.5e-15
    assert 0.7 * c_min * swing < e_pre < 2.0 * 0.7 * c_min * swing
    # higher VDD costs more energy at every k
    assert np.all(e[1] > e[0])


def test_fit_quality_recorded(nominal_lut):
    fq = nominal_lut.fit_quality
    assert set(fq) == {"vbl", "energy"}
    assert fq["vbl"]["points"] == 12 and fq["vbl"]["unit"] == "V"
    assert 0 < fq["vbl"]["max_abs_err"] < 0.03
    assert 0 < fq["energy"]["max_rel_err"] < 0.1


def test_lut_round_trip(nominal_lut, mc_lut, tmp_path):
    for name, lut in (("nom", nominal_lut), ("mc", mc_lut)):
        path = lut.save(tmp_path / name)
        back = LUT.load(path, block="cim_column")
        assert [a.to_json() for a in back.axes] == [a.to_json() for a in lut.axes]
        for t in lut.tables:
            np.testing.assert_array_equal(back.tables[t], lut.tables[t])
        for s in lut.samples:
            np.testing.assert_array_equal(back.samples[s], lut.samples[s])
        for a in lut.arrays:
            np.testing.assert_array_equal(back.arrays[a], lut.arrays[a])
        assert back.conditions == lut.conditions and back.fit_quality == lut.fit_quality
        assert back.value("vbl", vdd=0.7, temp=27, t_pulse=lut.axis("t_pulse").values[0], k=N) == \
            lut.value("vbl", vdd=0.7, temp=27, t_pulse=lut.axis("t_pulse").values[0], k=N)


# ---- Monte Carlo ----------------------------------------------------------------------------------
def test_mc_tables_samples_and_draws(mc_lut):
    lut = mc_lut
    for t in ("vbl_mean", "vbl_sigma", "energy_mean", "energy_sigma"):
        assert lut.tables[t].shape == (1, 1, 1, N + 1)
    assert lut.samples["vbl"].shape == (1, 1, 1, N + 1, 8) and lut.samples["energy"].shape == (1, 1, 1, N + 1, 8)
    assert np.all(np.isfinite(lut.samples["vbl"]))
    assert lut.arrays["mc_delvto"].shape == (8, 8 * N + 1)
    assert lut.arrays["mc_devices"].tolist()[:2] == ["mpre", "mpu1_0"]
    sig = lut.tables["vbl_sigma"][0, 0, 0]
    assert np.all(sig[1:] > 1e-3)  # mV-level spread once a cell discharges the bitline
    assert lut.provenance["mc_samples"] == 8 and lut.provenance["mc_seed"] == 1
    assert lut.provenance["mismatch"]["avt_mv_um"] == 1.4
    # the mean of 8 instances lies within 4 standard errors of the nominal curve
    m, nom = lut.tables["vbl_mean"][0, 0, 0], lut.tables["vbl"][0, 0, 0]
    assert np.all(np.abs(m - nom) < 4 * sig / np.sqrt(8) + 1e-3)
    # sample s is one column instance at every k: its deviation from the mean is correlated across k
    dev = lut.samples["vbl"][0, 0, 0] - m[:, None]
    assert np.corrcoef(dev[N // 2], dev[N])[0, 1] > 0.5


def test_ideal_storage_decks_keep_the_read_ports_and_their_draws(pdk):
    six = CimColumnParams(pdk=pdk.name, n_rows=N)
    ideal = six.replace(storage="ideal")
    a, b = column_netlist(six, 3, pdk), column_netlist(ideal, 3, pdk)
    assert a.title == b.title and ".ic" in a.text() and ".ic" not in b.text()
    names = [d.name for d in b.devices]
    assert names == ["mpre"] + [f"m{r}_{i}" for i in range(N) for r in ("rd", "ra")]
    assert {d.name: d for d in a.devices}.items() >= {d.name: d for d in b.devices}.items()  # same sizes
    # rows 0..2 store 1 (gate on the cell supply), the others 0 (gate on ground); the access devices as before
    rd = {ln.split()[0]: ln.split()[2] for ln in b.body if ln.startswith("mrd_")}
    assert rd == {f"mrd_{i}": ("vdd_cell" if i < 3 else "0") for i in range(N)}
    assert [ln for ln in b.body if ln.startswith("mra_")] == [ln for ln in a.body if ln.startswith("mra_")]
    assert column_devices(ideal, pdk) == column_devices(six, pdk) == a.devices
    draws = mcmod.draw(mcmod.Mismatch(1.4, 1.0), column_devices(six, pdk), 3, 7)
    assert deck_draws(draws, six, pdk) is draws
    full = [dict(((d, p), v) for d, p, v in s) for s in draws.samples()]
    part = list(deck_draws(draws, ideal, pdk).samples())
    assert [{(d, p) for d, p, _ in s} for s in part] == [{(n, p) for n in names for p in ("delvto", "mulu0")}] * 3
    assert all(full[i][(d, p)] == v for i, s in enumerate(part) for d, p, v in s)


def test_ideal_storage_matches_the_6t_column_in_spice(pdk, mc_lut):
    """Nominal and per Monte Carlo sample (sample s = the same instance in both modes), V_BL and energy of the
    decks without 6T cores stay with the full ones (bench (i) measures the whole 16-row LUT and the time)."""
    lut = characterize_column(pdk, n_rows=N, vdd=0.7, t_pulse=100e-12, mc=3, seed=1, executor=InlineExecutor(),
                              progress=False, use_cache=False, fit_check=False, storage="ideal")
    assert "ideal" in lut.conditions["storage"] and lut.arrays["mc_delvto"].shape == (3, 2 * N + 1)
    dv = lut.tables["vbl"] - mc_lut.tables["vbl"]
    assert np.all(np.abs(dv) < 0.5e-3) and np.all(dv <= 1e-5)  # a source holds the gate a little higher
    ds = lut.samples["vbl"] - mc_lut.samples["vbl"][..., :3]
    assert np.all(np.abs(ds) < 2.5e-3) and np.any(ds != 0)
    np.testing.assert_allclose(lut.tables["energy"], mc_lut.tables["energy"], rtol=2e-3)


def test_mc_sigma_scales_with_avt(pdk, mc_lut):
    double = _mc(pdk, avt=2 * pdk.avt_mv_um)
    s1 = mc_lut.tables["vbl_sigma"][0, 0, 0, 1:]
    s2 = double.tables["vbl_sigma"][0, 0, 0, 1:]
    ratio = np.mean(s2) / np.mean(s1)
    assert 1.6 < ratio < 2.6, ratio  # sigma roughly proportional to A_VT (same seed: same normalised draws)
    np.testing.assert_allclose(double.arrays["mc_delvto"], 2 * mc_lut.arrays["mc_delvto"], rtol=1e-12)


def test_mc_seed_reproducible(pdk, mc_lut):
    again = _mc(pdk, seed=1)
    np.testing.assert_array_equal(again.samples["vbl"], mc_lut.samples["vbl"])
    np.testing.assert_array_equal(again.arrays["mc_delvto"], mc_lut.arrays["mc_delvto"])
    other = _mc(pdk, seed=2, n=4)
    assert not np.array_equal(other.arrays["mc_delvto"], mc_lut.arrays["mc_delvto"][:4])
    assert np.all(np.abs(other.samples["vbl"][..., 1:, :] - mc_lut.samples["vbl"][..., 1:, :4]) > 0)


# ---- failures and plots ---------------------------------------------------------------------------
class _FailK(InlineExecutor):
    """Runs inline but reports the jobs of one k as failed (as a non-converging point would)."""

    def __init__(self, k):
        self.k = k

    def map(self, jobs):
        for i, job in enumerate(jobs):
            if dict(job.netlist.params)["k"] == self.k:
                yield i, JobFailure(job, "did not converge (test)", ["tail line"], None, "nonconvergence")
            else:
                yield i, execute(job)


def test_failed_points_are_nan_and_reported(pdk):
    lut = characterize_column(pdk, n_rows=N, vdd=0.7, mc=2, executor=_FailK(3), progress=False, use_cache=False,
                              fit_check=False)
    v = lut.tables["vbl"][0, 0, 0]
    assert np.isnan(v[3]) and np.all(np.isfinite(np.delete(v, 3)))
    assert np.all(np.isnan(lut.samples["vbl"][0, 0, 0, 3])) and np.all(np.isfinite(lut.samples["vbl"][0, 0, 0, 4]))
    failed = lut.provenance["failed_points"]
    assert len(failed) == 2 and all("k=3" in f and "did not converge" in f for f in failed)


def test_plots(nominal_lut, mc_lut, tmp_path):
    from charz.blocks.cim_column import plots as cim

    paths = [
        cim.plot_vbl_vs_k(nominal_lut, tmp_path / "nom_vbl.png"),
        cim.plot_energy_vs_k(nominal_lut, tmp_path / "nom_energy.png", t_pulse=120e-12),
        cim.plot_vbl_vs_k(mc_lut, tmp_path / "mc_vbl.png"),
        cim.plot_vbl_histograms(mc_lut, tmp_path / "mc_hist.png", ks=[1, N]),
        cim.plot_energy_vs_k(mc_lut, tmp_path / "mc_energy.png"),
    ]
    for p in paths:
        assert p.is_file() and p.stat().st_size > 10_000
    from charz.core.errors import LUTError

    with pytest.raises(LUTError, match="Monte Carlo"):
        cim.plot_vbl_histograms(nominal_lut, tmp_path / "x.png")


def test_default_16_row_column_at_nominal(pdk):
    """The default column on ptm16hp: V_BL(16) is 20-50 % of VDD and every step is visible."""
    lut = characterize_column(pdk, vdd=0.7, executor=InlineExecutor(), progress=False, fit_check=False)
    v = lut.slice("vbl", vdd=0.7, temp=27, t_pulse=100e-12)
    assert np.all(np.diff(v) < -0.015)
    assert 0.2 * 0.7 < v[-1] < 0.5 * 0.7
    e = lut.slice("energy", vdd=0.7, temp=27, t_pulse=100e-12)
    assert 0.3e-15 < e[0] < e[-1] < 20e-15
