"""Bitline-computing word add (``dcim_add``): generator, ngspice adds on a 2-bit word (all 16 operand pairs),
AND / NOR on the bit lines, energy growing with N, the measurement on known vectors, the LUT and model."""

from __future__ import annotations

import numpy as np
import pytest

from charz.blocks.dcim.model import DcimAddModel
from charz.blocks.dcim.netlist import DcimParams, add_netlist, dcim_devices, timeline
from charz.blocks.dcim.recipe import _last_crossing, characterize_dcim, measure_cycles, parse_pairs
from charz.core import pdk as pdkmod
from charz.core.errors import ParameterError
from charz.sim.executor import InlineExecutor
from charz.sim.runner import SimJob, execute

ALL2 = [(a, b) for a in range(4) for b in range(4)]


@pytest.fixture(scope="module")
def pdk():
    return pdkmod.get("ptm16hp")


@pytest.fixture(scope="module")
def two_bit(pdk):
    """All 16 pairs of a 2-bit add at 0.8 V, two decks of 8 (16 cells per bit line)."""
    p = DcimParams(n_bits=2, vdd=0.8, rows=32)
    runs = [(ps, execute(SimJob(add_netlist(p, ps, pdk), ())).runs[0]) for ps in (ALL2[:8], ALL2[8:])]
    return p, runs


def test_every_two_bit_add_is_right(two_bit):
    p, runs = two_bit
    for ps, run in runs:
        m = measure_cycles(run, p, ps)
        assert m["sum"].tolist() == [a + b for a, b in ps]
        assert np.all(m["flips"] == 0) and np.all(m["sense_margin"] > 0.05)


def test_bitlines_give_and_and_nor(two_bit):
    p, runs = two_bit
    for ps, run in runs:
        t, tl = np.asarray(run["time"]), timeline(p, len(ps))
        vm = float(run["v(vm)"][-1])
        for k, (a, b) in enumerate(ps):
            for j in range(2):
                x, y = (a >> j) & 1, (b >> j) & 1
                bl = np.interp(tl.at(k, tl.sense), t, run[f"v(bl_{j})"])
                blb = np.interp(tl.at(k, tl.sense), t, run[f"v(blb_{j})"])
                assert (bl > vm) == bool(x & y) and (blb > vm) == bool((1 - x) & (1 - y))


def test_energy_positive_and_grows_with_n(pdk):
    e = []
    for n in (2, 4):
        p = DcimParams(n_bits=n, vdd=0.8, rows=16)
        ps = [(2 ** n - 1, 0), (1, 2 ** n - 1)]
        m = measure_cycles(execute(SimJob(add_netlist(p, ps, pdk), ())).runs[0], p, ps)
        assert np.all(m["correct"] == 1)
        for k in ("energy_precharge", "energy_wordline", "energy_sense", "energy_adder"):
            assert np.all(m[k] > 0), k
        e.append(float(np.mean(m["energy"])))
    assert e[1] > 1.5 * e[0]


def test_measurement_on_known_vectors():
    """A synthetic deck: outputs set to a + b, bit lines ideal, 1 uA from each supply during the cycle."""
    p = DcimParams(n_bits=2, vdd=0.8, rows=4)
    tl = timeline(p, 1)
    t = np.linspace(0, tl.period, 2001)
    a, b = 1, 3  # sum 4 = 100b
    step = lambda at: np.where(t > at, 1.0, 0.0)  # noqa: E731
    run = {"time": t, "v(vm)": np.full_like(t, 0.5)}
    run["v(s_0)"] = 0.8 * (1 - step(tl.wl_50 + 50e-12))
    run["v(s_1)"] = 0.8 * (1 - step(tl.wl_50 + 100e-12))
    run["v(c_2)"] = np.full_like(t, 0.8)
    run["v(bl_0)"], run["v(blb_0)"] = np.full_like(t, 0.8), np.full_like(t, 0.3)   # both 1
    run["v(bl_1)"], run["v(blb_1)"] = np.full_like(t, 0.3), np.full_like(t, 0.35)  # 0 and 1
    for r, x in ((0, a), (1, b)):
        for j in range(2):
            bit = (x >> j) & 1
            run[f"v(q_{r}_{j})"], run[f"v(qb_{r}_{j})"] = np.full_like(t, 0.8 * bit), np.full_like(t, 0.8 * (1 - bit))
    for s in ("vpre", "vcell", "vsen", "vadd", "vpch", "vwl_0", "vwl_1"):
        run[f"i({s})"] = np.full_like(t, -1e-6)
    m = measure_cycles(run, p, [(a, b)])
    assert m["sum"][0] == 4 and m["correct"][0] == 1 and m["error"][0] == 0
    assert m["delay"][0] == pytest.approx(100e-12, abs=2 * (t[1] - t[0]))
    assert m["margin_and"][0] == pytest.approx(0.3) and m["sense_margin"][0] == pytest.approx(0.15)
    assert m["energy_sense"][0] == pytest.approx(1e-6 * tl.period * 0.8, rel=1e-3)
    assert m["energy_adder"][0] == pytest.approx(m["energy_sense"][0], rel=1e-9)
    assert m["disturb_bump"][0] == 0.0 and m["flips"][0] == 0
    assert np.isnan(_last_crossing(t, np.zeros_like(t), 0.4, 0.0, tl.period))


def test_recipe_lut_and_model(pdk):
    lut = characterize_dcim(pdk, n_bits=2, vdd=0.8, pairs=[(3, 1), (2, 2)], mc=2, seed=1, rows=8,
                            executor=InlineExecutor(), progress=False, use_cache=False)
    assert lut.block == "dcim_add" and lut.tables["correct"].tolist() == [[1.0, 1.0]]
    m = DcimAddModel.from_lut(lut)
    assert m.energy_per_add == pytest.approx(float(np.mean(lut.tables["energy_mean"])))
    assert m.energy_per_add > 0 and m.delay > 0 and 0 <= m.error_rate <= 1 and m.mc_samples == 2
    assert m.describe()["energy_per_add_fJ"] > 0
    assert m.energy([1, 2]).tolist() == pytest.approx([m.energy_per_add, 2 * m.energy_per_add])


def test_devices_flat_and_unique(pdk):
    p = DcimParams(n_bits=2, rows=8)
    devs = dcim_devices(p, 2, pdk)
    names = [d.name for d in devs]
    # 2 columns x (4 cells x 6 + 2 precharge + 2 sense inverters x 2 + 6 NAND2 x 4 + inverter x 2) + replica 2
    assert len(names) == len(set(names)) == 2 * (24 + 2 + 4 + 24 + 2) + 2
    assert "mpd1_3_1" in names and "mcn2_1" in names


@pytest.mark.parametrize("fn, words", [
    (lambda: DcimParams(n_bits=0), "DcimParams.n_bits"),
    (lambda: DcimParams(vwl_ratio=1.5), "DcimParams.vwl_ratio"),
    (lambda: DcimParams(t_wl=10e-12), "t_wl"),
    (lambda: add_netlist(DcimParams(n_bits=2, rows=4), [(4, 0)]), "operand pairs"),
    (lambda: add_netlist(DcimParams(n_bits=2, rows=2), [(1, 0), (1, 1)]), "rows"),
    (lambda: parse_pairs("1-2"), "A+B"),
    (lambda: characterize_dcim("ptm16hp", n_bits=2, bogus=1), "unknown dcim_add"),
])
def test_bad_params_one_line(fn, words):
    with pytest.raises(ParameterError) as e:
        fn()
    assert words in str(e.value) and "\n" not in str(e.value), str(e.value)
