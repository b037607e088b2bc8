"""Time-domain MAC, part 1: the exponent delay line in ngspice (small: 2- and 3-bit lines)."""

from __future__ import annotations

import numpy as np
import pytest

from charz.core import pdk as pdkmod
from charz.blocks.td_mac.recipe_delay import characterize_delay, line_fit, measure
from charz.core.errors import ParameterError
from charz.core.lut import LUT
from charz.blocks.td_mac.netlist import DelayLineParams, delay_devices, delay_netlist
from charz.blocks.td_mac.netlist_tdc import golden_netlists
from charz.sim.executor import InlineExecutor
from charz.sim.runner import JobResult, SimJob, execute


@pytest.fixture(scope="module")
def pdk():
    return pdkmod.get("ptm16hp")


def test_bad_parameters(pdk):
    for kw, frag in [({"bits": 0}, "bits"), ({"bits": 6}, "bits"), ({"lines": 5}, "lines"), ({"vbn": 2.0}, "vbn"),
                     ({"w_n": -1e-9}, "w_n"), ({"t_step": 1e-9}, "t_step")]:
        with pytest.raises(ParameterError, match=frag):
            DelayLineParams(**kw)
    p = DelayLineParams(bits=2)
    with pytest.raises(ParameterError, match="0..3"):
        delay_netlist(p, [0, 4], pdk)


def test_golden_netlist_is_current():
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "netlists"
    for name, text in golden_netlists("ptm16hp").items():
        assert (here / name).read_text() == text, f"{name} is stale: run `charz netlist`"


def test_delay_is_linear_and_monotonic_in_code(pdk):
    p = DelayLineParams(bits=3, vdd=0.8)
    r = execute(SimJob(delay_netlist(p, list(range(8)), pdk), (), "test", 300))
    assert isinstance(r, JobResult), r.message()
    m = measure(r.runs[0], p, 8)
    d = m["delay"]
    assert np.all(np.diff(d) > 0)  # delay grows with every code step
    tau, d0, inl = line_fit(np.arange(8), d)
    assert 10e-12 < tau < 100e-12 and d0 > 0
    assert np.max(np.abs(inl)) < 0.5  # within half a unit delay of the straight line
    assert np.all(np.abs(m["delay_rise"] - m["delay_fall"]) < 0.25 * d)
    assert np.all(m["energy_dynamic"] > 0) and np.all(m["leakage"] > 0)


def test_two_lines_add_exponents(pdk):
    """Two 2-bit lines in series: delay(a, b) = D0 + (a + b) tau, so equal sums give equal delays."""
    p = DelayLineParams(bits=2, lines=2, vdd=0.8)
    codes = [(0, 0), (1, 0), (0, 1), (2, 1), (1, 2), (3, 0), (0, 3), (3, 3)]
    r = execute(SimJob(delay_netlist(p, codes, pdk), (), "test", 300))
    d = measure(r.runs[0], p, len(codes))["delay"]
    dd = dict(zip(codes, d))
    tau = (dd[(3, 3)] - dd[(0, 0)]) / 6
    for a, b in [((1, 0), (0, 1)), ((2, 1), (1, 2)), ((3, 0), (0, 3)), ((2, 1), (3, 0))]:
        assert dd[a] == pytest.approx(dd[b], abs=0.3 * tau)
    assert dd[(3, 3)] > dd[(3, 0)] > dd[(1, 0)] > dd[(0, 0)]


def test_recipe_lut_with_monte_carlo(pdk, tmp_path):
    lut = characterize_delay(pdk, bits=2, vdd=0.8, mc=3, seed=1, executor=InlineExecutor(), use_cache=False,
                             progress=False, fit_check=False)
    lut = LUT.load(lut.save(tmp_path / "td"), block="td_delay")
    d = lut.slice("delay", vdd=0.8, temp=27)
    assert d.shape == (4,) and np.all(np.diff(d) > 0)
    s = lut.slice("delay_sigma", vdd=0.8, temp=27)
    assert np.all(s > 0) and s[3] > s[0]  # more cells on the path, more mismatch
    assert lut.samples["delay"].shape == (1, 1, 4, 3)
    assert lut.value("tau", vdd=0.8, temp=27, code=0) == pytest.approx((d[3] - d[0]) / 3, rel=0.15)
    assert len(delay_devices(DelayLineParams(bits=2), pdk)) == lut.arrays["mc_delvto"].shape[1]


def test_arbiter_picks_the_earlier_edge(pdk):
    from charz.blocks.td_mac.recipe import arbiter_decisions
    from charz.blocks.td_mac.netlist import TimeCmpParams, arbiter_netlist

    prm = TimeCmpParams(vdd=0.8, t_cycle=0.5e-9)
    dts = [-20e-12, -5e-12, 0.5e-12, 5e-12, 50e-12]
    r = execute(SimJob(arbiter_netlist(prm, dts, pdk), (), "test", 300))
    assert isinstance(r, JobResult), r.message()
    win, td = arbiter_decisions(r.runs[0], prm, dts)
    assert win.tolist() == [-1, -1, 1, 1, 1]  # dt > 0: b later, a wins (even 0.5 ps apart, nominally)
    assert np.all((td > 0) & (td < 30e-12))  # a few gate delays after the winning edge
    assert td[2] > td[4]  # close edges take longer to resolve (metastability)


def test_latest_of_sixteen_follows_the_last_edge(pdk):
    from charz.blocks.td_mac.recipe import latest_delays
    from charz.blocks.td_mac.netlist import TimeCmpParams, latest_netlist

    prm = TimeCmpParams(vdd=0.8, t_cycle=0.6e-9, n_inputs=16)
    rng = np.random.default_rng(0)
    arr = rng.uniform(0.1, 0.3, size=(6, 16)) * prm.t_cycle
    r = execute(SimJob(latest_netlist(prm, arr, pdk), (), "test", 300))
    assert isinstance(r, JobResult), r.message()
    d = latest_delays(r.runs[0], prm, arr)
    assert np.all(np.isfinite(d)) and np.all(d > 0)
    assert np.ptp(d) < 0.25 * np.mean(d)  # the same tree delay whichever input comes last


def test_tdc_transfer_is_a_monotonic_staircase(pdk):
    """A 5-tap TDC of the delay line's unit cells (each tap buffered into a TG master-slave flip-flop):
    the code never decreases as STOP comes later, steps by at most 1 per 20 ps, and saturates at 5."""
    from charz.blocks.td_mac.recipe_tdc import tdc_codes
    from charz.blocks.td_mac.netlist_tdc import tdc_netlist

    p = DelayLineParams(bits=3, vdd=0.8)
    dts = list(np.arange(0, 320e-12, 20e-12))
    r = execute(SimJob(tdc_netlist(p, 5, dts, pdk), (), "test", 300))
    assert isinstance(r, JobResult), r.message()
    codes = tdc_codes(r.runs[0], p, 5, len(dts))
    assert codes[0] == 0 and codes[-1] == 5
    assert np.all(np.diff(codes) >= 0) and np.all(np.diff(codes) <= 1)
    assert len(np.unique(codes)) == 6  # every code 0..5 appears: no missing code at 20 ps steps


def test_accumulation_line_is_linear_and_signed(pdk):
    """Two elements' 4-bit capacitor arrays on the line pair: V_P - V_N = gain x (signed sum of the aligned
    magnitudes), gain = VDD c_unit / C_line, within a fraction of one unit capacitor."""
    from charz.blocks.td_mac.recipe import acc_measure
    from charz.blocks.td_mac.netlist_acc import AccParams, acc_netlist

    prm = AccParams(length=2, bits=4, vdd=0.8, c_wire=0.0)
    vals = np.array([[0, 0], [1, 0], [15, 0], [15, 15], [-15, -15], [7, -3], [-1, 0]])
    r = execute(SimJob(acc_netlist(prm, vals, pdk), (), "test", 300))
    assert isinstance(r, JobResult), r.message()
    v = acc_measure(r.runs[0], prm, vals)["v_diff"]
    s = vals.sum(axis=1)
    gain, off = np.polyfit(s, v, 1)
    c_line = 2 * 15 * prm.c_unit  # both arrays of one line (bottom plates at a rail) + no wire
    assert gain == pytest.approx(0.8 * prm.c_unit / c_line, rel=0.1)  # switch parasitics add a little
    assert np.max(np.abs(v - (gain * s + off))) < 0.2 * gain  # within 0.2 unit capacitor at a 95 % swing
    assert v[4] == pytest.approx(-v[3], rel=0.01)  # sign symmetric


def test_time_path_measures_exponent_differences(pdk):
    """The complete time path, two elements with 2-bit lines: the element TDC of the smaller exponent sum
    counts one more tap per unit of exponent difference (the offset depends on the STOP path, here a
    two-input one; the characterization trims it for the engine's), the larger one reads the same code
    each time, and the shared-scale TDC reading follows the largest sum."""
    from charz.blocks.td_mac.check import time_codes
    from charz.blocks.td_mac.netlist_tdc import MacTimeParams, mac_time_netlist

    prm = MacTimeParams(length=2, ebits=2, window=5, vdd=0.8, t_high=0.6e-9, tdc_vbn=0.75)
    ea = np.array([[3, 2], [3, 1], [3, 0], [2, 0], [1, 0]])
    eb = np.array([[3, 2], [3, 2], [3, 2], [2, 2], [2, 2]])
    sums = ea + eb
    r = execute(SimJob(mac_time_netlist(prm, ea, eb, pdk), (), "test", 600))
    assert isinstance(r, JobResult), r.message()
    m = time_codes(r.runs[0], prm, ea.shape[0])
    late = sums.argmax(axis=1)
    d_late = m["d"][np.arange(5), late]
    d_early = m["d"][np.arange(5), 1 - late]
    diff = sums.max(axis=1) - sums.min(axis=1)  # 2, 3, 4, 2, 1 (no tie: a tie reads like the latest)
    assert np.all(d_late == d_late[0]) and d_late[0] <= 1
    off = d_early - diff
    assert np.all(off == off[0]) and abs(off[0]) <= 1  # one tap per unit delay, a constant offset
    e = m["e_read"]  # largest sums 6, 6, 6, 4, 3: the same reading for equal sums, fewer taps for smaller ones
    assert e[0] == e[1] == e[2] and e[2] > e[3] > e[4] and e[2] - e[4] >= 2
    assert np.all(m["stop"] > 0) and np.all(m["energy"] > 0)


@pytest.mark.slow
def test_spice_check_of_a_complete_scalar_product():
    """`charz check td_mac` on one random 16-element E4M3 vector at 0.8 V (about 10 minutes of ngspice: the
    time path is ~10,700 transistors): the SPICE exponent differences equal the model's (nominal), the
    result is within a binade of the model's, the energy within 30 %."""
    from charz.blocks.td_mac.check import check_td_mac

    r = check_td_mac(vdd=0.8, vectors=1, cycles_per_deck=1, seed=5, executor=InlineExecutor(), progress=False)
    assert r["simulated"] == 1 and not r["failures"]
    assert r["d_agreement"] >= 15 / 16
    # the shared scale can read one binade off the model where a line's INL peaks (README): y within 2x
    ratio = abs(r["y_spice"][0]) / max(abs(r["y_model"][0]), 1e-30)
    assert 0.45 <= ratio <= 2.2
    assert r["energy_spice"][0] == pytest.approx(r["energy_model"][0], rel=0.3)
