"""SPICE successive-approximation converters (charz.blocks.adc.netlist, netlist_deck, charz.blocks.adc.recipe):
real ngspice runs on small 3-bit instances."""

import numpy as np
import pytest

from charz.core import pdk as P
from charz.blocks.adc.model import DigitizerModel
from charz.blocks.adc.model_transfer import inl_dnl
from charz.blocks.adc.recipe import characterize_sar, draw_caps, transitions_from_codes
from charz.core.errors import ParameterError
from charz.blocks.adc.netlist import SarParams
from charz.blocks.adc.netlist_deck import conversion_netlist, golden_netlists, ramp_netlist, sar_caps
from charz.sim.engine import check_available
from charz.sim.executor import InlineExecutor

needs_spice = pytest.mark.skipif(check_available() is not None, reason="ngspice not available")
STEP = 0.4375 * 0.7 / 8 / 4  # LSB / 4 of the default 3-bit range at 0.7 V (0.35 VDD .. VDD)


def _lut(kind, **kw):
    try:
        P.get("ptm16hp")
    except Exception as exc:  # pragma: no cover
        pytest.skip(str(exc))
    return characterize_sar("ptm16hp", bits=3, kind=kind, progress=False, input_step=kw.pop("input_step", STEP), **kw)


# ---- bad input: one-line errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, words", [
    ({"bits": 2}, "resolution"),
    ({"bits": 7}, "resolution"),
    ({"bits": 3.0}, "resolution"),
    ({"vref_hi": 0.9}, "outside the rails"),
    ({"vref_lo": -0.1}, "outside the rails"),
    ({"vref_lo": 0.5, "vref_hi": 0.4}, "reversed"),
    ({"kind": "mi_sar", "bits": 5, "n_bitlines": 16}, "bitlines"),
    ({"kind": "flash"}, "kind"),
    ({"c_unit": -1e-15}, "c_unit"),
    ({"bits": 3, "flash_bits": 3}, "flash_bits"),
    ({"bits": 5, "flash_bits": 4}, "flash_bits"),
    ({"flash_bits": 1, "r_ladder": -1.0}, "r_ladder"),
])
def test_bad_parameters(kw, words):
    with pytest.raises(ParameterError) as e:
        SarParams(pdk="ptm16hp", **kw)
    msg = str(e.value)
    assert words in msg and "\n" not in msg


def test_no_user_string_in_spice():
    p = SarParams(pdk="ptm16hp", bits=3)
    with pytest.raises(ParameterError):
        conversion_netlist(p, "0.5; .control")
    with pytest.raises(ParameterError):
        ramp_netlist(p, [0.3, 0.9])  # outside the rails


def test_deck_is_deterministic_and_complete():
    p = SarParams(pdk="ptm16hp", bits=3)
    pdk = P.get("ptm16hp")
    a, b = conversion_netlist(p, 0.5, pdk).text(), conversion_netlist(p, 0.5, pdk).text()
    assert a == b
    assert "cdac2 bp2 top 4e-15" in a and "min_p" in a and "cdacr topr 0" in a
    mi = conversion_netlist(SarParams(pdk="ptm16hp", bits=3, kind="mi_sar"), 0.5, pdk).text()
    assert mi.count("mdp_g") == 8 and "m=16" in mi  # 2^3 bitlines: groups 1 (dummy), 1, 2, 4
    g = golden_netlists("ptm16hp")
    assert len(g) == 3 and all(".tran" in t for t in g.values())
    assert len(sar_caps(p, pdk)) == 5  # 3 bits + dummy + the reference-side dummy top plate


def test_transitions_from_codes_and_cap_draws():
    v = np.arange(16) * 0.1 + 0.05
    codes = np.repeat(np.arange(8), 2)
    t = transitions_from_codes(v, codes, 3)
    assert np.allclose(t, 0.2 * np.arange(1, 8))
    c = draw_caps([("c1", 1e-15), ("c4", 4e-15)], 2000, 0, 1.0)
    rel = c / np.array([1e-15, 4e-15]) - 1
    assert np.allclose(rel.std(0), [0.01, 0.005], rtol=0.1)
    assert np.array_equal(c, draw_caps([("c1", 1e-15), ("c4", 4e-15)], 2000, 0, 1.0))


def test_hybrid_deck():
    pdk = P.get("ptm16hp")
    plain = SarParams(pdk="ptm16hp", bits=5, kind="mi_sar")
    h = SarParams(pdk="ptm16hp", bits=5, kind="mi_sar", flash_bits=2)
    assert (plain.block, h.block) == ("adc_mi_sar", "adc_hybrid")
    assert h.cycle_bits == ((4, 3), (2,), (1,), (0,)) and h.n_cycles == 4
    assert plain.cycle_bits == ((4,), (3,), (2,), (1,), (0,))
    assert h.t_conv == pytest.approx(plain.t_conv - plain.t_clk)
    assert "flash_bits" in dict(h.pairs()) and "flash_bits" not in dict(plain.pairs())
    t = conversion_netlist(h, 0.5, pdk).text()
    assert t.count("min_p_f") == 3 and "rlf4 ftap3 vhi 8000" in t and "vclkf clkf 0 pwl(" in t
    assert "v(qf3)" in t and "floor(" in t
    assert t.count("\ncfa") == 3 and t.count("\ncfr") == 3  # sampled coarse inputs (kickback common mode)
    assert "cfa1" not in conversion_netlist(h.replace(c_fs=0.0), 0.5, pdk).text()


# ---- physics -----------------------------------------------------------------------------------------------------
@needs_spice
def test_conventional_sar_is_monotonic_and_matches_behavior():
    lut = _lut("sar", executor=InlineExecutor())
    c = lut.conditions
    assert lut.block == "adc_sar" and c["bits"] == 3 and c["area_model"]["kind"] == "adc_sar"
    t = lut.tables["transition"][0, 0]
    assert np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)
    st = inl_dnl(t, (c["vref_lo"], c["vref_hi"]))
    assert st["max_abs_dnl"] < 0.5 and st["n_missing"] == 0
    assert abs(inl_dnl(t, (c["vref_lo"], c["vref_hi"]), "absolute")["max_abs_inl"]) < 1.0
    e = lut.tables["energy"][0, 0]
    assert np.all(e == e[0]) and 1e-15 < e[0] < 1e-12
    assert np.allclose(lut.tables["t_conv"], SarParams(pdk="ptm16hp", bits=3).t_conv)
    fq = lut.fit_quality["codes_random_order"]
    assert fq["points"] == 32 and fq["within_1_lsb"] >= 0.99 and fq["max_abs_err"] <= 1
    # behavioural model from the LUT vs the SPICE codes of the same (nominal) instance on a sweep
    model = DigitizerModel.from_lut(lut, mismatch_scale=0, reference="lut")
    p = SarParams(pdk="ptm16hp", bits=3)
    rng = np.random.default_rng(1)
    v = np.sort(rng.uniform(p.vref_lo, p.vref_hi, 16))
    from charz.blocks.adc.recipe import measure
    from charz.sim.runner import SimJob, execute

    res = execute(SimJob(ramp_netlist(p, v), (), "test", 300))
    spice = measure(res.runs[0], p, v)["codes"]
    beh = model.convert(v)
    agree = np.mean(np.abs(spice - beh) <= 1)
    print(f"behavioural vs SPICE codes: {100 * agree:.1f} % within +-1 LSB, "
          f"{100 * np.mean(spice == beh):.1f} % exact ({v.size} inputs)")
    assert agree >= 0.99


@needs_spice
def test_inl_grows_with_capacitor_mismatch():
    """The same device-mismatch instances (seed 3) with ideal capacitors and with 40 %*sqrt(fF)
    capacitor mismatch: the endpoint INL (offset and gain removed) grows."""
    ideal = _lut("sar", mc=2, a_cap=0.0, seed=3, input_step=2 * STEP)
    lut = _lut("sar", mc=2, a_cap=40.0, seed=3, input_step=2 * STEP)
    c = lut.conditions
    inl = [inl_dnl(x.samples["transition"][0, 0].T, (c["vref_lo"], c["vref_hi"]))["max_abs_inl"] for x in (ideal, lut)]
    assert lut.arrays["mc_cap"].shape == (2, 5) and lut.arrays["mc_delvto"].shape[0] == 2
    assert "mc_cap" not in ideal.arrays
    assert np.array_equal(lut.arrays["mc_delvto"], ideal.arrays["mc_delvto"])  # the same transistors
    assert np.mean(inl[1]) > np.mean(inl[0]) + 0.15, inl
    assert lut.tables["transition_sigma"].shape == lut.tables["transition"].shape


@needs_spice
@pytest.mark.slow
def test_memory_immersed_sa_converts():
    lut = _lut("mi_sar")
    c = lut.conditions
    assert lut.block == "adc_mi_sar"
    t = lut.tables["transition"][0, 0]
    st = inl_dnl(t, (c["vref_lo"], c["vref_hi"]))
    assert np.all(np.isfinite(t)) and st["n_missing"] == 0 and st["max_abs_dnl"] < 0.5
    model = DigitizerModel.from_lut(lut, mismatch_scale=0, reference="lut")
    assert model.energy > 0 and model.t_conv > 0


@needs_spice
def test_hybrid_converts_and_matches_behavior():
    """3-bit hybrid (1 flash MSB + 2 SA LSBs on the MOM DAC): monotonic, no missing code, and the
    behavioural hybrid procedure reproduces the SPICE codes."""
    lut = _lut("sar", flash_bits=1, executor=InlineExecutor())
    c = lut.conditions
    assert lut.block == "adc_hybrid" and c["flash_bits"] == 1 and c["cdac"] == "mom" and c["n_cycles"] == 3
    assert c["area_model"]["assumptions"]["flash_bits"] == 1 and c["area_model"]["assumptions"]["dac_bits"] == 3 == c["dac_bits"]
    t = lut.tables["transition"][0, 0]
    st = inl_dnl(t, (c["vref_lo"], c["vref_hi"]))
    assert np.all(np.isfinite(t)) and st["n_missing"] == 0 and st["max_abs_dnl"] < 0.5
    p = SarParams(pdk="ptm16hp", bits=3, flash_bits=1)
    assert np.allclose(lut.tables["t_conv"], p.t_conv)
    model = DigitizerModel.from_lut(lut, mismatch_scale=0, reference="lut")
    v = np.sort(np.random.default_rng(2).uniform(p.vref_lo, p.vref_hi, 16))
    from charz.blocks.adc.recipe import measure
    from charz.sim.runner import SimJob, execute

    m = measure(execute(SimJob(ramp_netlist(p, v), (), "test", 300)).runs[0], p, v)
    assert np.mean(np.abs(m["codes"] - model.convert(v)) <= 1) >= 0.99
    assert set(m["parts"]) == {"vdd", "vhi", "vlo", "vcm", "clock"} and m["parts"]["clock"].min() > 0


@needs_spice
def test_behavior_matches_spice_for_the_same_monte_carlo_instance():
    """Instance s of the LUT (its own transitions) against SPICE runs of the same instance (same
    delvto draws) on random inputs: codes within +-1 LSB on >= 99 % of the points."""
    from charz.blocks.adc.model_transfer import decide
    from charz.blocks.adc.recipe import measure
    from charz.core.mc import Mismatch, draw
    from charz.blocks.adc.netlist_deck import sar_devices
    from charz.sim.runner import SimJob, execute

    lut = _lut("sar", mc=2, seed=7, executor=InlineExecutor(), input_step=2 * STEP)
    pdk = P.get("ptm16hp")
    p = SarParams(pdk="ptm16hp", bits=3)
    v = np.random.default_rng(3).uniform(p.vref_lo, p.vref_hi, 24)
    d = draw(Mismatch(pdk.avt_mv_um), sar_devices(p, pdk), 2, 7)
    runs = execute(SimJob(ramp_netlist(p, v, pdk), d.samples(0, 2), "test", 600)).runs
    t = lut.samples["transition"][0, 0]
    within = []
    for s, run in enumerate(runs):
        spice = measure(run, p, v)["codes"]
        beh = decide(v[None], t[:, s][None], "adc_sar", 3)[0]
        within.append(np.abs(spice - beh) <= 1)
    frac = float(np.mean(within))
    print(f"same-instance behavioural vs SPICE: {100 * frac:.1f} % within +-1 LSB")
    assert frac >= 0.99
    # and the instances really differ from nominal (the test would pass trivially otherwise)
    assert np.max(np.abs(t - lut.tables["transition"][0, 0][:, None])) > 1e-3
