"""6T / 8T bitcells: generators, SNM geometry, and physics from real ngspice runs (ptm16hp)."""

import math

import numpy as np
import pytest

from charz.core import pdk as P
from charz.blocks.bitcell.recipe import (
    METRICS, butterfly_snm, characterize_bitcell, draws_for, read_cycle_energy, write_trip,
)
from charz.core.errors import CharzError, ParameterError, PDKError
from charz.core.lut import LUT
from charz.core.mc import Mismatch, draw
from charz.blocks.bitcell.netlist import BitcellParams, cell_devices, golden_netlists, netlists
from charz.netlist.cells import CellSizes
from charz.sim.executor import InlineExecutor, make_executor
from charz.sim.runner import JobFailure, execute

VDDS = [0.6, 0.7, 0.8]


# ---------------------------------------------------------------------------------------------------
# pure geometry


def _pl_vtc(t, a, vdd=1.0):
    """Piecewise-linear inverter: VDD below a, 0 above VDD - a, linear in between."""
    b = vdd - a
    return np.clip(vdd * (b - t) / (b - a), 0.0, vdd)


@pytest.mark.parametrize("a", [0.2, 0.3, 0.45])
def test_snm_of_piecewise_linear_butterfly_is_its_flat_width(a):
    # For a symmetric piecewise-linear VTC with gain > 1, the largest square in each lobe has side a
    # (the square [0, a] x [1 - a, 1] fits exactly; any shift into the sloped part shrinks it).
    t = np.linspace(0, 1, 501)
    r = butterfly_snm(t, _pl_vtc(t, a), _pl_vtc(t, a))
    assert r.snm == pytest.approx(a, abs=1e-6)
    assert r.lobes == pytest.approx((a, a), abs=1e-6)
    (x0, y0, s0), (x1, y1, s1) = r.squares
    assert (x0, y0, s0) == pytest.approx((0.0, 1 - a, a), abs=1e-6)  # upper-left lobe
    assert (x1, y1, s1) == pytest.approx((1 - a, 0.0, a), abs=1e-6)  # lower-right lobe


def _largest_square(fa, fb, x0, y0, lobe, edge=np.linspace(0, 1, 41)):
    """Per corner (x0, y0): the largest square side between x = fa(y) and y = fb(x), checked point
    by point on the square's four edges (bisection on the side)."""
    lo, hi = np.zeros_like(x0), np.ones_like(x0)
    for _ in range(25):
        s = (lo + hi) / 2
        xs = np.concatenate([x0[:, None] + edge * s[:, None], x0[:, None] + edge * s[:, None],
                             np.repeat(x0[:, None], edge.size, 1), (x0 + s)[:, None] + 0 * edge], axis=1)
        ys = np.concatenate([np.repeat(y0[:, None], edge.size, 1), (y0 + s)[:, None] + 0 * edge,
                             y0[:, None] + edge * s[:, None], y0[:, None] + edge * s[:, None]], axis=1)
        if lobe == 0:  # upper left: below curve B, right of curve A
            ok = np.all((ys <= fb(xs) + 1e-12) & (xs >= fa(ys) - 1e-12) & (ys >= xs), axis=1)
        else:  # lower right: above B, left of A
            ok = np.all((ys >= fb(xs) - 1e-12) & (xs <= fa(ys) + 1e-12) & (ys <= xs), axis=1)
        lo, hi = np.where(ok, s, lo), np.where(ok, hi, s)
    return lo


def _brute_force_lobes(fa, fb):
    """Both lobes by exhaustive search over the lower-left corner: a coarse grid, then a fine one
    around the best coarse corner."""
    best = []
    for lobe in (0, 1):
        g = np.linspace(0, 1, 41)
        x0, y0 = (a.ravel() for a in np.meshgrid(g, g, indexing="ij"))
        side = _largest_square(fa, fb, x0, y0, lobe)
        k = int(np.argmax(side))
        fx = np.clip(x0[k] + np.linspace(-0.04, 0.04, 41), 0, 1)
        fy = np.clip(y0[k] + np.linspace(-0.04, 0.04, 41), 0, 1)
        x1, y1 = (a.ravel() for a in np.meshgrid(fx, fy, indexing="ij"))
        best.append(float(max(side.max(), _largest_square(fa, fb, x1, y1, lobe).max())))
    return best


def test_snm_of_asymmetric_butterfly_matches_brute_force():
    fa = lambda y: 1 / (1 + np.exp((y - 0.45) / 0.04))  # noqa: E731  half-cell 1: V(q) of V(qb)
    fb = lambda x: 1 / (1 + np.exp((x - 0.57) / 0.06))  # noqa: E731  half-cell 2: V(qb) of V(q)
    t = np.linspace(0, 1, 1001)
    r = butterfly_snm(t, fa(t), fb(t))
    bf = _brute_force_lobes(fa, fb)
    assert r.lobes[0] == pytest.approx(bf[0], abs=0.003)
    assert r.lobes[1] == pytest.approx(bf[1], abs=0.003)
    assert r.lobes[1] < r.lobes[0]  # the shifted thresholds make the lower-right lobe the smaller one
    assert r.snm == pytest.approx(min(bf), abs=0.003)


def test_snm_is_zero_for_a_monostable_pair():
    # gain 0.5 < 1: the curves cross once, there is no second stable state
    t = np.linspace(0, 1, 501)
    weak = 0.75 - 0.5 * t
    assert butterfly_snm(t, weak, weak).snm == 0.0


def test_write_trip_and_cycle_energy_on_synthetic_records():
    wl = np.linspace(0, 1.0, 101)
    q = np.where(wl < 0.405, 1.0, 0.0)
    assert write_trip(wl, q, 1 - q, 1.0) == pytest.approx(1.0 - 0.405, abs=0.006)
    assert write_trip(wl, np.ones_like(wl), np.zeros_like(wl), 1.0) == 0.0  # never flips
    assert math.isnan(write_trip(wl, np.zeros_like(wl), np.ones_like(wl), 1.0))  # did not hold q = 1
    t = np.linspace(0, 1e-9, 1001)
    i = np.full_like(t, -1e-6)  # 1 uA standby drawn from a 1 V source ...
    i[(t > 0.2e-9) & (t <= 0.3e-9)] -= 10e-6  # ... plus 10 uA for 100 ps: 1 fJ of dynamic energy
    assert read_cycle_energy(t, [(i, 1.0)]) == pytest.approx(1e-15, rel=0.02)


# ---------------------------------------------------------------------------------------------------
# generators


def test_generators_are_deterministic_and_parameterized():
    a = netlists(BitcellParams(cell="6t", pdk="ptm16hp", vdd=0.7))
    b = netlists(BitcellParams(cell="6t", pdk="ptm16hp", vdd=0.7))
    assert set(a) == {"hold", "read", "write", "iread", "leak", "energy"}
    for tb in a:
        assert a[tb].text() == b[tb].text()
        assert a[tb].golden() == b[tb].golden()
        assert a[tb].sha256 == b[tb].sha256
    c = netlists(BitcellParams(cell="6t", pdk="ptm16hp", vdd=0.65))
    assert all(a[tb].sha256 != c[tb].sha256 for tb in a)
    # hold and read differ only in the word-line level (6T) / read word-line level (8T)
    assert "vwl wl 0 0\n" in a["hold"].text() and "vwl wl 0 0.7\n" in a["read"].text()
    r8 = netlists(BitcellParams(cell="8t"))["read"].text()
    assert "vwl wl 0 0\n" in r8 and "vrwl rwl 0 0.7\n" in r8 and "mra_a" in r8


def test_golden_netlists_cover_both_cells_and_every_testbench():
    g = golden_netlists(P.get("ptm16hp"))
    assert len(g) == 12
    assert "bitcell6t_ptm16hp_hold.cir" in g and "bitcell8t_ptm16hp_energy.cir" in g
    assert g == golden_netlists("ptm16hp")
    for text in g.values():
        assert ".include ptm16hp.pm\n" in text and text.endswith(".end\n")
        assert "/" not in text.split(".include ")[1].splitlines()[0]  # card by name, not by local path


@pytest.mark.parametrize("kw, what", [
    (dict(cell="7t"), "unknown bitcell"),
    (dict(vdd=1.2), "1.5x nominal"),
    (dict(vdd=-0.1), "outside"),
    (dict(temp=200), "temperature"),
    (dict(c_bl=-1e-15), "c_bl"),
    (dict(c_bl=10e-9), "farads"),
    (dict(t_wl=0.0), "t_wl"),
    (dict(dc_step=0.5), "dc_step"),
])
def test_bad_parameters_give_one_line_errors(kw, what):
    with pytest.raises(ParameterError) as exc:
        BitcellParams(**kw)
    msg = str(exc.value)
    assert what in msg and "\n" not in msg


def test_bad_sizes_and_pdk():
    s = CellSizes.default(P.describe("ptm16hp"))
    with pytest.raises(ParameterError, match="positive"):
        BitcellParams(sizes=s.replace(w_pd=-80e-9))
    with pytest.raises(ParameterError, match="positive"):
        BitcellParams(sizes=s.replace(w_ax=0))
    with pytest.raises(PDKError, match="unknown PDK"):
        BitcellParams(pdk="ptm7nm")
    with pytest.raises(ParameterError, match="unknown bitcell parameter"):
        characterize_bitcell("ptm16hp", bogus=1)


def test_monte_carlo_draw_is_one_physical_cell_in_every_testbench():
    p = BitcellParams(cell="8t")
    devs = cell_devices(p)
    roles = {d.name.rsplit("_", 1)[0]: k for k, d in enumerate(devs)}
    base = draw(Mismatch(1.4), devs, 5, seed=3)
    nl = netlists(p)["hold"]
    d = draws_for(nl, base, roles)
    names = list(d.devices)
    assert len(names) == 16  # two copies of the 8-transistor cell
    for role, k in roles.items():
        np.testing.assert_array_equal(d.delvto[:, names.index(f"{role}_a")], base.delvto[:, k])
        np.testing.assert_array_equal(d.delvto[:, names.index(f"{role}_b")], base.delvto[:, k])


# ---------------------------------------------------------------------------------------------------
# physics (real ngspice)


@pytest.fixture(scope="module")
def pdk16():
    return P.get("ptm16hp")


@pytest.fixture(scope="module")
def lut6(pdk16):
    return characterize_bitcell(pdk16, "6t", vdd=VDDS, temp=[27.0, 85.0], executor=make_executor(0),
                                progress=False)


@pytest.fixture(scope="module")
def lut8(pdk16):
    return characterize_bitcell(pdk16, "8t", vdd=[0.7], temp=[27.0], executor=make_executor(0), progress=False,
                                fit_check=False)


def test_lut_shape_units_and_no_failures(lut6):
    assert lut6.block == "bitcell6t"
    assert [a.name for a in lut6.axes] == ["vdd", "temp"] and lut6.shape == (3, 2)
    assert lut6.units["hold_snm"] == "V" and lut6.units["i_read"] == "A" and lut6.units["e_read"] == "J"
    assert lut6.provenance["failed_points"] == []
    for m in METRICS:
        assert np.all(np.isfinite(lut6.tables[m])), m
    assert lut6.provenance["pdk"] == "ptm16hp" and lut6.provenance["avt_mv_um"] == 1.4
    assert set(lut6.provenance["netlist_sha256"]) == {"hold", "read", "write", "iread", "leak", "energy"}


def test_snm_positive_and_rising_with_vdd(lut6):
    hold, read = lut6.tables["hold_snm"], lut6.tables["read_snm"]
    assert np.all(hold > 0.1) and np.all(read > 0.02)
    assert np.all(np.diff(hold, axis=0) > 0.005)  # >= 5 mV more per 100 mV of supply
    assert np.all(read < 0.5 * hold)  # 6T read disturb: the read SNM is well below the hold SNM
    assert np.all(hold < lut6.axis("vdd").values[:, None] / 2)  # can never exceed VDD/2


def test_read_current_and_energy_rise_with_vdd(lut6, pdk16):
    i_read, e = lut6.tables["i_read"], lut6.tables["e_read"]
    assert np.all(np.diff(i_read, axis=0) > 0)
    assert np.all((i_read > 5e-6) & (i_read < 200e-6))  # tens of uA for a 48 nm access device
    assert np.all(np.diff(e, axis=0) > 0)
    # the read energy is mostly the bit-line charge put back: E ~ C_bl * VDD * dV_bl
    c_bl = lut6.conditions["c_bl_F"]
    ratio = e / (c_bl * lut6.axis("vdd").values[:, None] * lut6.tables["dv_bl"])
    assert np.all((ratio > 1.0) & (ratio < 1.4))


def test_write_margin_positive(lut6):
    wm = lut6.tables["write_margin"]
    vdd = lut6.axis("vdd").values[:, None]
    assert np.all((wm > 0.1 * vdd) & (wm < vdd))
    assert np.all(np.diff(wm, axis=0) > 0)


def test_leakage_positive_and_rising_with_temperature(lut6):
    leak = lut6.tables["i_leak"]
    assert np.all(leak > 1e-9)
    assert np.all(leak[:, 1] > 1.5 * leak[:, 0])  # 27 -> 85 degC
    assert np.all(np.diff(leak, axis=0) > 0)  # DIBL: more leakage at higher VDD


def test_fit_quality_reports_off_grid_reruns(lut6):
    fq = lut6.fit_quality
    assert set(fq) == set(METRICS)
    assert fq["hold_snm"]["points"] == 2 * 2 + 3 * 1  # vdd midpoints x temps + vdds x temp midpoint
    assert fq["hold_snm"]["max_abs_err"] < 0.01  # SNM is smooth in VDD and T: within 10 mV
    assert fq["i_read"]["max_rel_err"] < 0.1


def test_8t_read_port_decouples_the_read(lut8, lut6):
    # the 8T is read through its port: its read SNM equals its hold SNM, far above the 6T read SNM
    h8, r8 = lut8.value("hold_snm", vdd=0.7, temp=27), lut8.value("read_snm", vdd=0.7, temp=27)
    assert r8 == pytest.approx(h8, abs=1e-3)
    assert r8 > 2 * lut6.value("read_snm", vdd=0.7, temp=27)
    assert h8 == pytest.approx(lut6.value("hold_snm", vdd=0.7, temp=27), abs=1e-3)  # same 6T core
    assert 1e-7 < lut8.value("i_read", vdd=0.7, temp=27) < lut6.value("i_read", vdd=0.7, temp=27)


def test_plots_from_a_saved_lut(lut6, tmp_path):
    from charz.blocks.bitcell.plots import plot_butterfly, plot_mc_histograms

    lut6.save(tmp_path / "b6")
    back = LUT.load(tmp_path / "b6", block="bitcell6t")
    np.testing.assert_array_equal(back.arrays["butterfly_read"], lut6.arrays["butterfly_read"])
    png = plot_butterfly(back, tmp_path / "bf.png", vdd=0.6)
    assert png.stat().st_size > 10_000
    with pytest.raises(CharzError, match="Monte Carlo"):
        plot_mc_histograms(back, tmp_path / "mc.png")
    with pytest.raises(CharzError, match="grid"):
        plot_butterfly(back, tmp_path / "x.png", vdd=0.65)


class _FailSome(InlineExecutor):
    """Runs jobs inline but reports the read-current job at VDD = 0.8 V as failed."""

    def map(self, jobs):
        for i, job in enumerate(jobs):
            params = dict(job.netlist.params)
            if params.get("testbench") == "iread" and params.get("vdd") == "0.8":
                yield i, JobFailure(job, "injected failure", ["(test)"], None, "error")
            else:
                yield i, execute(job)


def test_a_failed_point_is_nan_and_reported_the_rest_is_kept(pdk16):
    lut = characterize_bitcell(pdk16, "6t", vdd=[0.7, 0.8], temp=27.0, executor=_FailSome(), use_cache=False,
                               progress=False, fit_check=False)
    assert np.isnan(lut.value("i_read", vdd=0.8, temp=27)) and np.isfinite(lut.value("i_read", vdd=0.7, temp=27))
    assert np.isfinite(lut.value("hold_snm", vdd=0.8, temp=27))
    failed = lut.provenance["failed_points"]
    assert len(failed) == 1 and "injected failure" in failed[0] and "vdd=0.8" in failed[0]


# ---------------------------------------------------------------------------------------------------
# Monte Carlo


def _mc(pdk, seed, n=8):
    return characterize_bitcell(pdk, "6t", vdd=0.7, temp=27.0, mc=n, seed=seed, executor=make_executor(0),
                                use_cache=False, progress=False, fit_check=False)


def test_monte_carlo_sigma_and_reproducibility(pdk16):
    a, b, c = _mc(pdk16, 11), _mc(pdk16, 11), _mc(pdk16, 12)
    for m in ("hold_snm", "read_snm", "write_margin", "i_read", "i_leak", "e_read"):
        assert a.samples[m].shape == (1, 1, 8)
        assert a.tables[f"{m}_sigma"][0, 0] > 0, m
        np.testing.assert_array_equal(a.samples[m], b.samples[m])  # same seed: bit-identical
        assert not np.allclose(a.samples[m], c.samples[m], rtol=1e-6, atol=0, equal_nan=True), m
    assert a.arrays["mc_delvto"].shape == (8, 6) and list(a.arrays["mc_devices"])[0] == "mpu1_0"
    assert a.provenance["mc_samples"] == 8 and a.provenance["mc_seed"] == 11
    # sigma(hold SNM) with A_VT = 1.4 mV*um on minimum devices (sigma_Vth 39-62 mV): tens of mV
    assert 3e-3 < a.tables["hold_snm_sigma"][0, 0] < 60e-3


def test_zero_mismatch_samples_equal_the_nominal_cell(pdk16):
    lut = _mc(pdk16.with_avt(0.0), 5, n=3)
    for m in ("hold_snm", "read_snm", "write_margin", "i_read", "i_leak", "e_read"):
        np.testing.assert_allclose(lut.samples[m][0, 0], lut.tables[m][0, 0], rtol=1e-6, atol=1e-12)
