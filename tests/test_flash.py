"""Flash A/D converter: generator, validation, measurements on real ngspice runs (small 2-bit converters,
coarse staircases), Monte Carlo and the adc_flash LUT contract read back by DigitizerModel."""

from __future__ import annotations

import numpy as np
import pytest

from charz.core import pdk as pdkmod
from charz.blocks.adc.model import DigitizerModel
from charz.blocks.adc.model_transfer import effective_transitions, inl_dnl
from charz.blocks.adc.recipe_flash import characterize_flash, measure_flash
from charz.core.errors import ParameterError
from charz.core.lut import LUT
from charz.core.mc import Mismatch
from charz.blocks.adc.netlist_flash import FlashParams, flash_devices, flash_netlist, golden_netlists, save_list
from charz.sim.executor import InlineExecutor

RES = 4e-3  # nominal staircase step (V): transitions known to +-2 mV


@pytest.fixture(scope="module")
def pdk():
    return pdkmod.get("ptm16hp")


@pytest.fixture(scope="module")
def nominal_lut(pdk):
    return characterize_flash(pdk, bits=2, resolution=RES, executor=InlineExecutor(), progress=False,
                              use_cache=False)


@pytest.fixture(scope="module")
def mc_lut(pdk):
    return characterize_flash(pdk, bits=2, mc=4, seed=3, resolution=10e-3, executor=InlineExecutor(),
                              progress=False, use_cache=False)


# ---- parameters and generator (no simulation) ------------------------------------------------------
@pytest.mark.parametrize("bits", [1, 6, 2.0, True, "3"])
def test_bits_out_of_range(bits):
    with pytest.raises(ParameterError) as e:
        FlashParams(bits=bits)
    assert "\n" not in str(e.value) and "2 to 5 bits" in str(e.value)


@pytest.mark.parametrize("lo, hi", [(0.3, 0.8), (-0.1, 0.5), (0.2, 0.7000001)])
def test_reference_outside_rails(lo, hi):
    with pytest.raises(ParameterError) as e:
        FlashParams(pdk="ptm16hp", bits=3, vdd=0.7, vref_lo=lo, vref_hi=hi)
    assert "\n" not in str(e.value) and "reference outside the rails" in str(e.value)


def test_recipe_bad_input(pdk):
    for kw, text in (({"bits": 6}, "2 to 5 bits"), ({"bits": 3, "vref_hi": 0.9}, "reference outside the rails"),
                     ({"bits": 3, "vdd": [0.5, 0.7]}, "reference outside the rails"),
                     ({"bits": 3, "r_ladder": 1.0}, "unknown flash parameter"), ({"bits": 3, "mc": -1}, "Monte Carlo")):
        with pytest.raises(ParameterError) as e:
            characterize_flash(pdk, progress=False, use_cache=False, executor=InlineExecutor(), **kw)
        assert "\n" not in str(e.value) and text in str(e.value), str(e.value)
    with pytest.raises(ParameterError):
        FlashParams(bits=2, vref_lo=0.5, vref_hi=0.4)
    with pytest.raises(ParameterError):
        FlashParams(bits=5, resolution=1e-5)  # too many clock cycles


def test_generator(pdk):
    p = FlashParams(pdk="ptm16hp", bits=3)
    assert p.vref_lo == pytest.approx(0.35) and p.vref_hi == pytest.approx(0.63)
    assert p.resolution == pytest.approx(p.lsb / 8)
    taps = np.asarray(p.taps())
    assert taps.size == 7 and np.allclose(np.diff(taps), p.lsb)
    sig_pair = np.sqrt(2) * Mismatch(pdk.avt_mv_um).sigma_vth(p.sizes.w_in, p.sizes.l_in)
    assert p.margin == pytest.approx(max(p.lsb, 4 * sig_pair), rel=1e-9)
    lv = np.asarray(p.levels())
    a, b = p.span()
    assert lv[0] > a and lv[-1] < b + p.resolution and np.allclose(np.diff(lv), p.resolution)
    nl = flash_netlist(p, pdk)
    assert nl.text() == flash_netlist(p, pdk).text()  # deterministic
    assert len(nl.devices) == 7 * 15 == len(flash_devices(p, pdk))
    assert len({d.name for d in nl.devices}) == len(nl.devices)  # unique names (suffix per comparator)
    assert nl.save == save_list(3) and "v(dp_7)" in nl.save and "i(vrefh)" in nl.save
    body = "\n".join(nl.body)
    assert "rl_8 tap_7 vrefh" in body and "rl_1 vrefl tap_1" in body and "min_n_4 xn_4 tap_4" in body
    assert "min_p_4 xp_4 ain" in body
    gold = golden_netlists(pdk)
    assert list(gold) == ["adc_flash_ptm16hp_2bit.cir"] and "sha256" in next(iter(gold.values()))


# ---- physics on real ngspice runs ---------------------------------------------------------------------
def test_nominal_transfer_curve(nominal_lut):
    lut = nominal_lut
    assert lut.block == "adc_flash" and lut.provenance["failed_points"] == []
    c = lut.conditions
    assert c["bits"] == 2 and c["kind"] == "flash" and c["area_model"]["kind"] == "adc_flash"
    codes = lut.arrays["staircase_code"][0, 0]
    v = lut.arrays["staircase_v"]
    assert np.all(np.diff(codes) >= 0), "the flash code must be monotonic along the staircase"
    assert codes[0] == 0 and codes[-1] == 3
    assert lut.provenance["checks"]["bubbles"] == 0
    assert lut.provenance["checks"]["unresolved_decisions"] == 0
    taps = c["vref_lo"] + c["lsb"] * np.arange(1, 4)
    t = lut.tables["transition"][0, 0]
    assert np.max(np.abs(t - taps)) <= RES / 2 + 1e-3, (t, taps)  # quantization + 1 mV
    s = inl_dnl(effective_transitions(t, "adc_flash", 2), (c["vref_lo"], c["vref_hi"]))
    assert s["max_abs_dnl"] < 0.1 and s["n_missing"] == 0
    e = lut.tables["energy"][0, 0]
    assert np.all(e == e[0]) and 1e-15 < e[0] < 1e-12
    assert e[0] == pytest.approx(lut.tables["energy_comparators"][0, 0, 0] + lut.tables["energy_ladder"][0, 0, 0])
    # the ladder's static part: VDD x (vref_hi - vref_lo) / (4 r_unit) x t_clk, kickback adds little
    static = 0.7 * (c["vref_hi"] - c["vref_lo"]) / (4 * c["r_unit"]) * c["t_clk"]
    assert lut.tables["energy_ladder"][0, 0, 0] == pytest.approx(static, rel=0.05)
    assert np.all(lut.tables["t_conv"][0, 0] == c["t_clk"])
    assert v.size == c["staircase"]["conversions"]


def test_behavioral_matches_spice(nominal_lut, tmp_path):
    nominal_lut.save(tmp_path / "flash")
    lut = LUT.load(tmp_path / "flash")
    m = DigitizerModel.from_lut(lut, mismatch_scale=0, reference="lut")
    assert m.block == "adc_flash" and m.bits == 2 and m.t_conv == pytest.approx(lut.conditions["t_clk"])
    v = lut.arrays["staircase_v"]
    spice = lut.arrays["staircase_code"][0, 0]
    beh = m.codes(v)
    within = np.mean(np.abs(beh - spice) <= 1)
    exact = np.mean(beh == spice)
    print(f"behavioral vs SPICE codes on {v.size} staircase points: {100 * exact:.1f} % exact, "
          f"{100 * within:.1f} % within +-1 LSB")
    assert within >= 0.99 and exact >= 0.95


def test_monte_carlo_widens_spread(mc_lut, nominal_lut, pdk):
    lut = mc_lut
    assert lut.provenance["failed_points"] == [] and lut.provenance["mc_samples"] == 4
    s = lut.samples["transition"]
    assert s.shape == (1, 1, 3, 4) and np.all(np.isfinite(s))
    sig = lut.tables["transition_sigma"][0, 0]
    assert np.all(sig > 0)
    p = FlashParams(pdk="ptm16hp", bits=2)
    sig_pair = np.sqrt(2) * Mismatch(pdk.avt_mv_um).sigma_vth(p.sizes.w_in, p.sizes.l_in)
    # 4 instances: the sigma is only known to about +-40 %; the comparator offset is ~1-1.5x the pair's
    assert 0.3 * sig_pair < np.mean(sig) < 4 * sig_pair, (sig, sig_pair)
    assert "mc_delvto" in lut.arrays and lut.arrays["mc_delvto"].shape == (4, 45)
    m = DigitizerModel.from_lut(lut, reference="lut")
    bank = m.instances(5, np.random.default_rng(0))
    assert bank.transitions.shape == (5, 3)
    # nominal transitions of the MC deck equal those of the (finer) nominal deck within the two staircases' steps
    assert np.allclose(lut.tables["transition"][0, 0], nominal_lut.tables["transition"][0, 0], atol=5e-3 + RES / 2)


def test_measure_flash_on_run(pdk):
    """measure_flash on one direct run: thermometer codes are monotonic and agree with the ROM encoder."""
    from charz.sim.runner import JobFailure, SimJob, execute

    p = FlashParams(pdk="ptm16hp", bits=2, resolution=20e-3)
    r = execute(SimJob(flash_netlist(p, pdk), ()))
    assert not isinstance(r, JobFailure), r.message()
    m = measure_flash(r.runs[0], p)
    assert m.decisions.shape == (3, len(p.levels()))
    assert m.thermometer_monotonic and np.array_equal(m.code, m.code_rom) and m.bubbles == 0
    assert np.all(m.monotonic) and m.energy > 0


@pytest.mark.slow
def test_three_bit_fine(pdk):
    lut = characterize_flash(pdk, bits=3, progress=False, use_cache=False, executor=InlineExecutor())
    c = lut.conditions
    taps = c["vref_lo"] + c["lsb"] * np.arange(1, 8)
    assert np.max(np.abs(lut.tables["transition"][0, 0] - taps)) < 3e-3
    assert np.all(np.diff(lut.arrays["staircase_code"][0, 0]) >= 0)


def test_default_2bit_deck_runs_to_its_end():
    """The default 2-bit staircase once ended exactly on a multiple of the time step, where ngspice 39's
    shared library aborted ("timestep too small, timestep = 0"): it must characterize cleanly."""
    from charz.core import pdk as P
    from charz.blocks.adc.recipe_flash import characterize_flash
    from charz.sim.executor import make_executor

    lut = characterize_flash(P.get("ptm16hp"), bits=2, executor=make_executor(0), use_cache=False, progress=False)
    assert lut.provenance["failed_points"] == []
    assert np.all(np.isfinite(lut.tables["transition"]))
