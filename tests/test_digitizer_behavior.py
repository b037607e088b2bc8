"""Behavioral digitizers (charz.blocks.adc.model), their use in the network evaluation, the timing
model and the digitizer area model — on synthetic LUTs."""

import numpy as np
import pytest

from charz.blocks.adc import model_area as am
from charz.blocks.cim_column.model import ColumnModel, synthetic_column_lut
from charz.blocks.cim_column.model_layer import cim_matmul, map_layer
from charz.blocks.adc.model import DigitizerModel, IdealDigitizer
from charz.blocks.adc.model_transfer import (
    BLOCKS, decide, effective_transitions, inl_dnl, synthetic_adc_lut, thermometer_to_binary,
)
from charz.behavior.readout import IdealQuantizer
from charz.core.errors import LUTError, ParameterError
from charz.core.lut import LUT, Axis
from charz.network import timing
from charz.network.energy import EnergyLedger
from charz.network.evaluate import evaluate, format_result


@pytest.fixture(scope="module")
def noisy_col():
    return synthetic_column_lut(n_rows=16, nonlinearity=0.3, sigma=0.012, n_samples=60, seed=3)


@pytest.fixture(scope="module")
def clean_col():
    return synthetic_column_lut(n_rows=16, nonlinearity=0.2)


def _mc(kind, bits=5, **kw):
    args = dict(sigma_offset=0.004, sigma_dnl=0.08, n_samples=80, seed=4)
    args.update(kw)
    return synthetic_adc_lut(kind, bits, **args)


# ---- ideal digitizer = the existing ideal quantizer --------------------------------------------
def test_ideal_digitizer_equals_ideal_quantizer_bit_for_bit(noisy_col):
    rng = np.random.default_rng(0)
    for bits in (1, 3, 5, 8):
        q, d = IdealQuantizer(bits, 0.2, 0.7), IdealDigitizer(bits, 0.2, 0.7)
        v = np.concatenate([rng.uniform(0.1, 0.8, 5000), q.v_lo + np.arange(q.levels + 1) * q.lsb])
        np.testing.assert_array_equal(d.codes(v), q.codes(v))
        np.testing.assert_array_equal(d.convert(v), q.codes(v))
        bank = d.instances(3, rng)
        np.testing.assert_array_equal(bank.convert(np.broadcast_to(v, (3, v.size))), np.broadcast_to(q.codes(v), (3, v.size)))
    # the column model's default read-out *is* the ideal digitizer, and swapping one in changes nothing
    m = ColumnModel.from_lut(noisy_col, mismatch_scale=4.0)
    assert isinstance(m.quantizer, IdealDigitizer) and isinstance(m.quantizer, IdealQuantizer)
    m2 = m.with_digitizer(IdealDigitizer(m.adc_bits, 0.0, 1.0))
    x = rng.integers(0, 16, (40, 64))
    w = rng.integers(-7, 8, (64, 12))
    for seed in (1, 2):
        np.testing.assert_array_equal(cim_matmul(x, w, m, seed=seed), cim_matmul(x, w, m2, seed=seed))
    assert "ideal quantizer" in m.describe()["readout"]


def test_noiseless_lut_digitizer_matches_ideal_quantizer_path(noisy_col):
    """A noiseless synthetic SAR LUT, mapped on the column swing, reads every column like the ideal
    quantizer of the same resolution (same chips: the column curves come first from the rng)."""
    base = ColumnModel.from_lut(noisy_col, adc_bits=5, mismatch_scale=3.0)
    adc = DigitizerModel.from_lut(synthetic_adc_lut("adc_sar", 5), mismatch_scale=0)
    m = base.with_digitizer(adc)
    curves = base.draw_curves(300, np.random.default_rng(5))
    np.testing.assert_array_equal(m.transfer(curves, np.random.default_rng(0)), base.transfer(curves))
    np.testing.assert_array_equal(m.decode_table(), base.decode_table())
    assert m.is_exact() == base.is_exact()


# ---- static behaviour of synthetic converters ---------------------------------------------------
@pytest.mark.parametrize("kind", BLOCKS)
@pytest.mark.parametrize("bits", [2, 4, 6])
def test_noiseless_converters_are_monotonic_without_missing_codes(kind, bits):
    m = DigitizerModel.from_lut(synthetic_adc_lut(kind, bits, vref=(0.1, 0.5)), mismatch_scale=0)
    v = np.linspace(0.0, 0.6, 20001)
    c = m.codes(v)
    assert np.all(np.diff(c) >= 0)
    assert set(np.unique(c)) == set(range(1 << bits))
    s = m.inl_dnl()
    assert s["max_abs_dnl"] < 0.5 and s["max_abs_inl"] < 0.5
    assert s["n_missing"] == 0
    bank = m.instances(5, np.random.default_rng(0))  # no MC: every instance is nominal
    assert not bank.missing_codes().any()


def test_inl_grows_with_injected_mismatch():
    worst = []
    for sd in (0.0, 0.03, 0.1, 0.3):
        m = DigitizerModel.from_lut(_mc("adc_sar", sigma_offset=0.0, sigma_dnl=sd, n_samples=200),
                                    mismatch_scale=1.0 if sd else 0.0)
        bank = m.instances(400, np.random.default_rng(1))
        worst.append(float(np.median(bank.inl_dnl()["max_abs_inl"])))
    assert worst[0] < 1e-9
    assert worst[0] < worst[1] < worst[2] < worst[3]
    # scaling the LUT's Monte Carlo spread scales INL (same rng: same instances, larger deviations)
    lut = _mc("adc_sar", sigma_offset=0.0, sigma_dnl=0.05)
    inl = [np.median(DigitizerModel.from_lut(lut, mismatch_scale=s).instances(300, np.random.default_rng(2))
                     .inl_dnl()["max_abs_inl"]) for s in (1.0, 2.0, 4.0)]
    assert inl[0] < inl[1] < inl[2]


def test_flash_thermometer_to_binary_equivalence():
    m = DigitizerModel.from_lut(_mc("adc_flash", 4, sigma_offset=0.002, sigma_dnl=0.02), mismatch_scale=1.0)
    bank = m.instances(50, np.random.default_rng(3))
    v = np.random.default_rng(4).uniform(-0.05, 0.65, (50, 400))
    th = v[:, :, None] >= bank.raw[:, None, :]  # comparator outputs (thermometer code)
    assert np.all(np.diff(bank.raw, axis=1) > 0)  # small mismatch: no bubbles
    np.testing.assert_array_equal(thermometer_to_binary(th), bank.convert(v))
    # with bubbles (crossed thresholds) the ones counter still equals the model
    big = DigitizerModel.from_lut(_mc("adc_flash", 4, sigma_offset=0.03), mismatch_scale=1.0)
    bank = big.instances(50, np.random.default_rng(3))
    assert np.any(np.diff(bank.raw, axis=1) < 0)
    th = v[:, :, None] >= bank.raw[:, None, :]
    np.testing.assert_array_equal(th.sum(-1), bank.convert(v))


def test_sa_crossing_gives_missing_code_and_effective_transitions():
    raw = np.array([0.25, 0.6, 0.5])  # 2-bit SA whose mid-scale (MSB) level sits above edge 3
    eff = effective_transitions(raw, "adc_sar", 2)
    np.testing.assert_allclose(eff, [0.25, 0.6, 0.6])
    v = np.array([0.1, 0.3, 0.55, 0.59, 0.6, 0.7])
    np.testing.assert_array_equal(decide(v, raw, "adc_sar", 2), [0, 1, 1, 1, 3, 3])
    s = inl_dnl(eff, (0.0, 0.8))
    np.testing.assert_array_equal(s["missing"], [False, False, True, False])
    assert s["dnl"][1] == pytest.approx(-1.0)


@pytest.mark.parametrize("kind", BLOCKS)
def test_vectorized_conversion_equals_decision_procedure_and_searchsorted(kind):
    m = DigitizerModel.from_lut(_mc(kind, 5, sigma_offset=0.01, sigma_dnl=0.15), mismatch_scale=1.0)
    bank = m.instances(60, np.random.default_rng(7))
    v = np.random.default_rng(8).uniform(-0.05, 0.65, (60, 500))
    c = bank.convert(v)
    np.testing.assert_array_equal(c, decide(v, bank.raw, m.block, m.bits, m.flash_bits))
    ref = np.stack([np.searchsorted(bank.transitions[i], v[i], side="right") for i in range(60)])
    np.testing.assert_array_equal(c, ref)
    assert np.all(np.diff(bank.transitions, axis=1) >= 0)
    idx = np.random.default_rng(9).integers(0, 60, 1000)  # explicit instance index
    vv = np.random.default_rng(10).uniform(0, 0.6, 1000)
    np.testing.assert_array_equal(bank.convert(vv, idx), [np.searchsorted(bank.transitions[i], x, "right") for i, x in zip(idx, vv)])


def test_inl_dnl_definitions_by_hand():
    t = np.array([0.1, 0.2, 0.35, 0.4, 0.5, 0.6, 0.7])  # 3 bits over [0, 0.8]: ideal edges 0.1 .. 0.7
    ep = inl_dnl(t, (0.0, 0.8), "endpoint")
    assert ep["lsb"] == pytest.approx(0.1)
    np.testing.assert_allclose(ep["dnl"], [0, 0.5, -0.5, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(ep["inl"], [0, 0, 0.5, 0, 0, 0, 0], atol=1e-12)
    ab = inl_dnl(t + 0.05, (0.0, 0.8), "absolute")  # an offset shows in absolute INL only
    np.testing.assert_allclose(ab["inl"], [0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 0.5], atol=1e-12)
    assert ab["offset_lsb"] == pytest.approx(0.5)
    bf = inl_dnl(t, (0.0, 0.8), "bestfit")
    assert abs(np.mean(bf["inl"])) < 1e-9
    assert not ep["missing"].any()


# ---- per-instance draws -------------------------------------------------------------------------
def test_instances_reproducible_per_seed_and_different_across_seeds(noisy_col):
    m = DigitizerModel.from_lut(_mc("adc_mi_sar"))
    a = m.instances(100, np.random.default_rng(11)).raw
    b = m.instances(100, np.random.default_rng(11)).raw
    c = m.instances(100, np.random.default_rng(12)).raw
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # the population has the Monte Carlo mean and covariance across edges
    lut = _mc("adc_mi_sar", n_samples=200)
    s = lut.sample_slice("transition", vdd=0.7, temp=27.0)
    big = DigitizerModel.from_lut(lut).instances(20000, np.random.default_rng(0)).raw
    np.testing.assert_allclose(big.std(0), s.std(1, ddof=1), rtol=0.05)
    np.testing.assert_allclose(np.corrcoef(big[:, 14], big[:, 16])[0, 1], np.corrcoef(s[14], s[16])[0, 1], atol=0.05)
    # one chip keeps its converters for the whole run: a mapped layer answers the same every call
    col = ColumnModel.from_lut(noisy_col, adc_bits=5).with_digitizer(m)
    layer = map_layer(np.random.default_rng(0).integers(-7, 8, (64, 16)), col, np.random.default_rng(2))
    assert layer.adc_bank is not None and len(layer.adc_bank) == layer.n_tiles * layer.columns_per_tile
    x = np.random.default_rng(3).integers(0, 16, (30, 64))
    np.testing.assert_array_equal(layer(x, return_hist=False),
                                  np.concatenate([layer(x[:7], return_hist=False), layer(x[7:], return_hist=False)]))


def test_converter_sharing_groups_columns(noisy_col):
    col = ColumnModel.from_lut(noisy_col, adc_bits=5)
    dig = DigitizerModel.from_lut(_mc("adc_sar"))
    idx = col.with_digitizer(dig, columns_per_adc=4, array_columns=8).adc_instance_index(2, 10)
    # tile of 10 columns = arrays of 8 + 2; groups of 4 inside each array; tiles continue the numbering
    np.testing.assert_array_equal(idx, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5])
    idx = col.with_digitizer(dig, array_columns=64, converters_per_array=2).adc_instance_index(1, 64)
    np.testing.assert_array_equal(np.bincount(idx), [32, 32])
    np.testing.assert_array_equal(col.with_digitizer(dig).adc_instance_index(3, 5), np.arange(15))


# ---- network evaluation with a digitizer --------------------------------------------------------
def test_evaluate_adds_adc_energy_exactly_and_lowers_tops_per_watt(noisy_col):
    e_conv = 20e-15
    adc = synthetic_adc_lut("adc_sar", 5, energy=e_conv, vdd=(0.6, 0.7, 0.8))  # noiseless: 0 MC -> nominal
    r0 = evaluate(noisy_col, adc_bits=5, chips=2, n_images=60, seed=1)
    r1 = evaluate(noisy_col, adc_lut=adc, chips=2, n_images=60, seed=1)
    per_image = 4 * 4 * 6 * 64 + 4 * 4 * 6 * 10  # planes x tiles x (2 signs x 3 slices x outputs), both layers
    assert r1["conversions_per_inference"] == per_image
    assert r1["adc_energy_per_inference_J"] == pytest.approx(per_image * e_conv, rel=1e-12)
    assert r1["energy_per_inference_J"] == pytest.approx(r0["energy_per_inference_J"] + per_image * e_conv, rel=1e-12)
    assert r1["array_energy_per_inference_J"] == pytest.approx(r0["energy_per_inference_J"], rel=1e-12)
    assert r1["tops_per_watt"] < r0["tops_per_watt"]
    assert r1["tops_per_watt"] == pytest.approx(r1["ops"] / r1["energy_per_inference_J"] / 1e12)
    assert r1["cim_accuracy_per_chip"] == r0["cim_accuracy_per_chip"]  # nominal SAR on the swing == ideal
    assert "adc_sar" in r1["readout"] and "adc_sar" in r1["conventions"]["quantizer"]
    assert r1["adc"]["choices"]["mismatch_scale"].startswith("0")
    text = format_result(r1)
    assert "ADC" in text and "conversions" in text and "inferences / s" in text


def test_energy_ledger_adc_hand_count():
    lut = synthetic_column_lut(n_rows=2)
    m = ColumnModel.from_lut(lut, mismatch_scale=0)
    layer = map_layer(np.array([[1], [-1]]), m, np.random.default_rng(0), w_bits=2, x_bits=1)
    _, hist = layer(np.array([[1, 1], [1, 0]]))
    ledger = EnergyLedger(m.e_nom, conversion_energy=5e-15, readout="adc_sar 5-bit")
    ledger.add("fc", hist, images=2, macs_per_image=2)
    e = m.e_nom
    assert ledger.energy_per_image == pytest.approx((e[0] + 3 * e[1] + 4 * 5e-15) / 2)
    assert ledger.conversions_per_image == 2 and ledger.adc_energy_per_image == pytest.approx(1e-14)
    assert "5e-15 J per conversion" in ledger.report()["conventions"]["quantizer"]


def test_evaluate_with_mismatched_converters_and_immersed_timing(noisy_col):
    mi = _mc("adc_mi_sar", sigma_offset=0.004, sigma_dnl=0.05)
    r = evaluate(noisy_col, adc_lut=mi, chips=2, n_images=80)
    assert r["adc"]["mismatch_scale"] == 1.0 and r["adc"]["per_chip"][0]["instances"] > 0
    tm = r["timing"]
    assert tm["scheme"] == "immersed"
    assert tm["layers"]["fc1 (64x64)"]["converters_per_array"] == 2  # 64 bitlines / 32 per 5-bit CDAC
    assert 0 < tm["throughput_ratio_vs_dedicated_per_column"] < 1
    assert r["cim_accuracy_mean"] > 0.8
    flash = evaluate(noisy_col, adc_lut=_mc("adc_flash"), chips=1, n_images=40, columns_per_adc=8)
    assert flash["timing"]["scheme"] == "dedicated" and flash["timing"]["columns_per_adc"] == 8


def test_timing_formulas_by_hand():
    col = timing.ColumnTiming(1e-9, 0.5e-9, "test")
    assert timing.round_time("ideal", col)["t_round_s"] == pytest.approx(1.5e-9)
    assert timing.round_time("dedicated", col, 1e-9, 64, 2)["t_round_s"] == pytest.approx(3.5e-9)
    r = timing.round_time("immersed", col, 1e-9, 64, sa_bits=5, neighbour_columns=64)
    assert (r["converters_per_array"], r["conversions_in_series"]) == (2, 32)
    assert r["t_round_s"] == pytest.approx(2 * (1e-9 + 32e-9 + 0.5e-9))
    with pytest.raises(ParameterError, match="bitlines"):
        timing.round_time("immersed", col, 1e-9, 16, sa_bits=5, neighbour_columns=16)
    geo = timing.layer_geometry((64, 64, 10), 16, 4, 4)
    net = timing.network_timing(geo, col, "dedicated", 1e-9, columns_per_adc=1)
    assert net["latency_s"] == pytest.approx(2 * 4 * 2.5e-9)
    assert net["conversions_per_inference"] == 4 * 4 * 6 * 64 + 4 * 4 * 6 * 10
    cmp = timing.compare_schemes(geo, col, 1e-9, 1e-9, 5, columns_per_adc=(1, 32))
    # at the same converter count per array (32 columns each), taking turns costs a factor 2 (fc2 has
    # 60 columns: 30 conversions in series when immersed, 32 when dedicated)
    assert cmp["dedicated"][32]["throughput_ratio_immersed_vs_dedicated"] == pytest.approx(0.5, abs=0.02)
    t = timing.column_timing(synthetic_column_lut(), 1e-9)
    assert "assumed" in t.source and t.t_column == pytest.approx(10e-12 + 20e-12 + 10e-12 + 1e-9 + 20e-12 + 20e-12 + 400e-12)


# ---- bad input ----------------------------------------------------------------------------------
def test_wrong_kind_and_bad_resolution(tmp_path, clean_col):
    with pytest.raises(LUTError, match="cim_column.*digitizer LUT"):
        evaluate(clean_col, mismatch_scale=0, adc_lut=clean_col)
    with pytest.raises(LUTError, match="digitizer LUT"):
        DigitizerModel.from_lut(clean_col)
    clean_col.save(tmp_path / "col")
    with pytest.raises(LUTError, match="digitizer LUT"):
        evaluate(clean_col, mismatch_scale=0, adc_lut=tmp_path / "col.json")
    with pytest.raises(ParameterError, match="2 to 6"):
        synthetic_adc_lut("adc_sar", 7)
    with pytest.raises(ParameterError, match="2 to 6"):
        synthetic_adc_lut("adc_flash", 1)
    bad = synthetic_adc_lut("adc_sar", 5)
    bad.conditions["bits"] = 7
    with pytest.raises(ParameterError, match="2 to 6"):
        DigitizerModel.from_lut(bad, mismatch_scale=0)
    with pytest.raises(ParameterError, match="2 to 6"):
        evaluate(clean_col, mismatch_scale=0, adc_lut=bad)
    good = synthetic_adc_lut("adc_sar", 5)
    with pytest.raises(ParameterError, match="2 to 6"):
        evaluate(clean_col, mismatch_scale=0, adc_lut=good, adc_bits=8)
    with pytest.raises(ParameterError, match="5-bit"):
        evaluate(clean_col, mismatch_scale=0, adc_lut=good, adc_bits=4)
    with pytest.raises(ParameterError, match="columns_per_adc"):
        evaluate(clean_col, mismatch_scale=0, adc_lut=synthetic_adc_lut("adc_mi_sar", 5), columns_per_adc=4)
    with pytest.raises(ParameterError, match="need an adc_lut"):
        evaluate(clean_col, mismatch_scale=0, columns_per_adc=4)
    with pytest.raises(LUTError, match="no Monte Carlo"):
        DigitizerModel.from_lut(good, mismatch_scale=1.0)
    with pytest.raises(LUTError, match="outside"):
        evaluate(clean_col, mismatch_scale=0, vdd=0.8, adc_lut=synthetic_adc_lut("adc_sar", 5, vdd=(0.6, 0.7)))
    with pytest.raises(ParameterError, match="rails"):
        synthetic_adc_lut("adc_sar", 5, vref=(0.0, 0.9), vdd=(0.7,))
    with pytest.raises(ParameterError, match="flash_bits"):
        synthetic_adc_lut("adc_hybrid", 4, flash_bits=4)


def test_reader_is_robust_to_edge_storage_and_reference_modes():
    lut = synthetic_adc_lut("adc_sar", 4, energy=30e-15, t_conv=2e-9, vdd=(0.7,))
    lut.tables["energy"][..., 1:] = np.nan  # a writer that filled only edge 1
    m = DigitizerModel.from_lut(lut, mismatch_scale=0)
    assert m.energy == pytest.approx(30e-15) and m.t_conv == pytest.approx(2e-9) and not m.notes
    lut.tables["t_conv"][..., 3] *= 1.1
    assert DigitizerModel.from_lut(lut, mismatch_scale=0).notes  # varying along edge: mean used, noted
    ok = synthetic_adc_lut("adc_sar", 4, vref=(0.0, 0.6), vdd=(0.7,))
    col = DigitizerModel.from_lut(ok, mismatch_scale=0).for_range(0.3, 0.7)
    np.testing.assert_allclose(col.nominal_transitions(), 0.3 + 0.025 * np.arange(1, 16))
    as_is = DigitizerModel.from_lut(ok, mismatch_scale=0, reference="lut").for_range(0.3, 0.7)
    np.testing.assert_allclose(as_is.nominal_transitions(), 0.0375 * np.arange(1, 16))
    assert as_is.codes(0.65) == 15  # above the characterized range: clipped to the top code
    ax = (Axis("vdd", "V", np.array([0.7])), Axis("temp", "degC", np.array([27.0])),
          Axis("edge", "code", np.arange(1.0, 4.0), discrete=True))
    odd = LUT("adc_flash", ax, {"transition": np.full((1, 1, 3), 0.1), "energy": np.ones((1, 1, 3)),
                                "t_conv": np.ones((1, 1, 3))}, {"transition": "V", "energy": "J", "t_conv": "s"},
              conditions={"bits": 3})
    with pytest.raises(LUTError, match="edge must be 1..7"):
        DigitizerModel.from_lut(odd, mismatch_scale=0)


# ---- area model ---------------------------------------------------------------------------------
@pytest.mark.parametrize("pdk", ["ptm16hp", "ptm65bulk", 45, "ptm130bulk"])
def test_area_model_ordering_and_breakdown(pdk):
    a = {k: am.area(k, 5, pdk) for k in am.KINDS}
    assert a["adc_mi_sar"].total_um2 < a["adc_sar"].total_um2 < a["adc_flash"].total_um2
    for r in a.values():
        assert r.total_um2 == pytest.approx(sum(r.breakdown_um2.values()))
        assert all(v > 0 for v in r.breakdown_um2.values())
    assert a["adc_mi_sar"].capacitance_fF == 0 and "CDAC capacitors" not in a["adc_mi_sar"].breakdown_um2
    assert a["adc_sar"].capacitance_fF == pytest.approx(32 * am.C_UNIT_FF)
    assert a["adc_mi_sar"].units["SA logic"] == 5 * am.UNITS["flip_flop"]
    assert a["adc_flash"].units["comparators"] == 31 * am.UNITS["comparator"]
    cmp = am.compare(5, pdk)
    assert cmp["published"]["area_ratio_vs_sar"] == 25.0 and cmp["published"]["energy_ratio_vs_flash"] == 13.0
    assert cmp["ours"]["area_ratio_vs_sar"] == pytest.approx(a["adc_sar"].total_um2 / a["adc_mi_sar"].total_um2)
    assert "published" in am.format_table(cmp)


def test_area_model_bad_input():
    with pytest.raises(ParameterError, match="no area figures"):
        am.area("adc_sar", 5, 28)
    with pytest.raises(ParameterError, match="2 to 6"):
        am.area("adc_sar", 7, "ptm16hp")
    with pytest.raises(ParameterError, match="unknown converter"):
        am.area("pipeline", 5, "ptm16hp")
    s = am.area("sar", 4, "ptm16hp", columns_served=8)
    assert s.units["input mux"] == 16 and s.per_column_um2 == pytest.approx(s.total_um2 / 8)


# ---- figures ------------------------------------------------------------------------------------
def test_plots(tmp_path, noisy_col):
    from charz.blocks.adc.plots import plot_converter_comparison, plot_transfer
    from charz.plot.network import plot_energy_breakdown

    p1 = plot_transfer(_mc("adc_sar", 5, sigma_dnl=0.15), tmp_path / "tc.png", n_instances=3)
    p2 = plot_transfer(synthetic_adc_lut("adc_flash", 3), tmp_path / "tc_nom.png")
    luts = {k: synthetic_adc_lut(k, 5) for k in BLOCKS}
    p3 = plot_converter_comparison(luts, tmp_path / "cmp.png", pdk="ptm65bulk")
    r = evaluate(noisy_col, adc_lut=_mc("adc_hybrid"), chips=1, n_images=30)
    p4 = plot_energy_breakdown(r, tmp_path / "energy.png")
    for p in (p1, p2, p3, p4):
        assert p.exists() and p.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(LUTError, match="4-bit"):
        plot_converter_comparison([synthetic_adc_lut("adc_sar", 4)], tmp_path / "x.png", bits=5)


@pytest.mark.parametrize("kind", ["adc_sar", "adc_flash"])
def test_offset_calibration_removes_the_common_shift_only(kind):
    """'offset' trims each instance's mean deviation: a pure-offset SA becomes nominal; a flash keeps
    its per-comparator spread (one trim per converter cannot fix 31 comparators)."""
    lut = _mc(kind, sigma_offset=0.02, sigma_dnl=0.0)
    raw = DigitizerModel.from_lut(lut, reference="lut")
    cal = DigitizerModel.from_lut(lut, reference="lut", calibration="offset")
    b_raw = raw.instances(50, np.random.default_rng(1))
    b_cal = cal.instances(50, np.random.default_rng(1))
    nom = raw.nominal_transitions()
    d_raw = np.abs(np.mean(b_raw.transitions - nom, axis=1))
    d_cal = np.abs(np.mean(b_cal.transitions - nom, axis=1))
    assert np.median(d_raw) > 1e-3 and np.max(d_cal) < 1e-9  # mean shift gone
    spread_cal = np.max(np.abs(b_cal.transitions - nom))
    if kind == "adc_sar":
        assert spread_cal < 1e-9
    else:
        assert spread_cal > 0.01
    assert "offset trimmed" in cal.label and cal.describe()["calibration"] == "offset"
    with pytest.raises(ParameterError, match="calibration"):
        DigitizerModel.from_lut(lut, calibration="gain")


def test_evaluate_calibration_needs_a_converter(noisy_col):
    with pytest.raises(ParameterError, match="adc_calibration"):
        evaluate(noisy_col, adc_calibration="offset", chips=1, n_images=10)
