"""Behavioral time-domain FP8 MAC: exactness, the ideal chain vs a per-element reference, mismatch,
faults, instances, matmul, energy and input checks (fast: no SPICE)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from charz.behavior import fp8
from charz.blocks.td_mac import model as tm, model_circuit as tc, model_study as ts
from charz.blocks.adc.model import DigitizerModel, IdealDigitizer
from charz.blocks.adc.model_transfer import synthetic_adc_lut
from charz.core.errors import ParameterError

FMTS = ["e4m3", "e5m2"]


def _vectors(fmt, n, length, seed):
    """FP8 vectors mixing every kind of value: random finite codes (subnormals, zeros, max values, the
    whole exponent range), N(0, 1) rows, all-max rows and all-zero rows."""
    f = fp8.get_format(fmt)
    rng = np.random.default_rng(seed)
    fin = np.flatnonzero(np.isfinite(f.values()))
    out = []
    for _ in range(2):
        codes = rng.choice(fin, size=(n, length)).astype(np.uint8)
        x = fp8.decode(codes, f)
        normal = fp8.quantize(rng.standard_normal((n, length)), f)
        x[n // 2 :] = normal[n // 2 :]
        x[0] = f.max_finite
        x[1] = 0.0
        x[2, : max(1, length // 2)] = f.min_subnormal * rng.integers(-7, 8, max(1, length // 2))
        out.append(x)
    return out


def _ref_dot(a, b, f, window, guard, bits, fs_frac):
    """Plain-Python per-element reference of steps 3-6 on the ideal circuit (no NumPy in the chain)."""
    m = f.mbits
    length = len(a)

    def flds(v):
        c = int(fp8.encode(v, f))
        e, man = (c >> m) & ((1 << f.ebits) - 1), c & ((1 << m) - 1)
        return c >> 7, max(e, 1), man + ((1 << m) if e else 0)

    fa = [flds(v) for v in a]
    fb = [flds(v) for v in b]
    esum = [ea + eb for (_, ea, _), (_, eb, _) in zip(fa, fb)]
    emax = max(esum)
    s = 0
    for (sa, _, ma), (sb, _, mb), es in zip(fa, fb, esum):
        d = emax - es
        if window is not None and d >= window:
            continue  # dropped
        q = (ma * mb << guard) >> d
        s += -q if sa ^ sb else q
    if bits is None:
        s_hat = float(s)
    else:
        fs = fs_frac * (length * f.pmax * 2**guard)
        delta = fs / 2 ** (bits - 1)
        half = 2 ** (bits - 1)
        code = min(max(math.floor(s / delta + 0.5) + half, 0), 2 * half - 1)
        s_hat = (code - half) * delta
    return s_hat * 2.0 ** (emax - 2 * f.bias - 2 * m - guard)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("length", [1, 16, 64])
def test_exact_mode_equals_exact_dot(fmt, length):
    a, b = _vectors(fmt, 300, length, seed=length)
    m = tm.TdMacModel.exact(fmt, length)
    assert np.array_equal(m.dot(a, b), fp8.exact_dot(a, b, fmt))
    f = fp8.get_format(fmt)
    # wide sums: near-max products next to subnormal ones (E5M2 needs ~70 bits)
    w = np.zeros((2, length))
    w[:, 0] = f.max_finite
    w[:, -1] = f.min_subnormal
    v = w.copy()
    v[1, 0] = -f.max_finite
    assert np.array_equal(m.dot(w, v), fp8.exact_dot(w, v, fmt))
    assert m.last_stats["dropped_fraction"] == 0 and m.last_stats["clipped_fraction"] == 0


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("window,guard,bits,fs", [(8, 2, 6, None), (4, 0, 4, 1.0), (8, 3, None, None),
                                                   (1, 1, 8, 0.5), (None, 4, 6, None), (12, 9, 10, 0.2)])
def test_ideal_chain_equals_per_element_reference(fmt, window, guard, bits, fs):
    f = fp8.get_format(fmt)
    length = 16
    a, b = _vectors(fmt, 120, length, seed=5)
    m = tm.TdMacModel(fmt, length, window=window, guard=guard, adc=bits, fullscale=fs)
    y = m.dot(a, b)
    frac = m.fs_fraction
    ref = np.array([_ref_dot(ar, br, f, window, guard, bits, frac) for ar, br in zip(a, b)])
    assert np.array_equal(y, ref)
    if fs is None:
        assert frac == 1 / math.sqrt(length)


def test_dropped_element_contributes_zero():
    m = tm.TdMacModel("e4m3", 4, window=8, guard=8, adc=None)
    a = np.array([[16.0, 2.0**-6, 0.0, 0.0], [16.0, 2.0**-3, 0.0, 0.0]])  # exponent fields 11 and 1 / 4
    b = np.ones((2, 4))
    y, det = m.dot(a, b, details=True)
    assert y[0] == 16.0 and det["dropped"][0, 1] and det["d"][0, 1] == 8  # 10 exponents below: TDC code W, 0
    assert y[1] == 16.0 + 2.0**-3 and not det["dropped"][1, 1] and det["d"][1, 1] == 7  # 7 below: kept, exact
    assert m.last_stats["dropped_fraction"] == pytest.approx(1 / 4)  # of the nonzero products


def test_clipping_is_flagged():
    f = fp8.E4M3
    m = tm.TdMacModel("e4m3", 16, adc=6)  # fullscale 1/sqrt(16)
    a = np.full((3, 16), f.max_finite)
    a[1] *= -1
    a[2] = 1.0
    a[2, 1:] = 0.0
    y, det = m.dot(a, np.full((3, 16), f.max_finite), details=True)
    assert det["clipped"].tolist() == [True, True, False]
    assert det["codes"][0] == 63 and det["codes"][1] == 0
    lsb_out = m.delta * 2.0 ** (det["E_read"][0] - 2 * f.bias - 2 * f.mbits - m.guard)
    assert y[0] == 31 * lsb_out and y[1] == -32 * lsb_out  # clipped to the end levels
    assert m.last_stats["clipped_fraction"] == pytest.approx(2 / 3)
    assert not tm.TdMacModel("e4m3", 16, adc=6, fullscale=1.0).dot(a, a, details=True)[1]["clipped"].any()


def _fault_circuit(fmt, window, **dev):
    """Ideal circuit with a deterministic deviation: two identical Monte Carlo rows (zero covariance,
    mean shift = the row), so every drawn instance carries exactly that deviation."""
    c = tc.TdMacCircuit.ideal(fmt, window)
    kw = {k: np.stack([v, v]) for k, v in dev.items()}
    return dataclasses.replace(c, **kw)


def test_element_tdc_threshold_fault_doubles_that_element():
    window = 8
    shift = np.zeros(window)
    shift[1] = 1.0  # threshold k = 2 moved from 1.5 to 2.5 tau
    c = _fault_circuit("e4m3", window, tdc_dev=shift)
    a = np.array([[1.0, 0.25, 0.0, 0.0], [1.0, 0.5, 0.0, 0.0]])  # second element 2 (1) exponents below
    b = np.ones((2, 4))
    nom = tm.TdMacModel("e4m3", 4, window=window, guard=4, adc=None).dot(a, b)
    y, det = tm.TdMacModel("e4m3", 4, window=window, guard=4, adc=None, circuit=c).dot(a, b, details=True)
    assert nom.tolist() == [1.25, 1.5]
    assert det["d"][0, 1] == 1 and y[0] - 1.0 == 2 * (nom[0] - 1.0)  # d = 2 read as 1: that element x 2
    assert y[1] == nom[1]  # d = 1 is below the moved threshold either way


def test_shared_scale_fault_doubles_the_output():
    ks = tc.TdMacCircuit.ideal("e5m2", 8).scale_thr.size
    c = _fault_circuit("e5m2", 8, scale_dev=np.full(ks, -1.0))  # every threshold 1 tau early: E_read + 1
    a, b = _vectors("e5m2", 50, 16, seed=2)
    a[1] = 0.0
    for adc in (None, 6):
        nom = tm.TdMacModel("e5m2", 16, adc=adc).dot(a, b)
        y, det = tm.TdMacModel("e5m2", 16, adc=adc, circuit=c).dot(a, b, details=True)
        assert np.array_equal(y[1:], 2 * nom[1:])
        # row 0 (all max: exponent sum 60 = the TDC's last threshold) cannot read higher: saturated
        assert y[0] == nom[0] and det["scale_saturated"][0]  # flagged: it read its full count


def test_general_time_path_with_nominal_instances_equals_ideal():
    f = fp8.E4M3
    tiny = 1e-6 * np.random.default_rng(0).standard_normal((4, f.n_codes))
    c = dataclasses.replace(tc.TdMacCircuit.ideal("e4m3", 8), delay_dev=tiny)
    a, b = _vectors("e4m3", 200, 16, seed=9)
    m = tm.TdMacModel("e4m3", 16, circuit=c, units=3)
    assert not m._time_ideal()  # the drawn-instance path runs
    assert np.array_equal(m.dot(a, b), tm.TdMacModel("e4m3", 16).dot(a, b))


@pytest.mark.parametrize("fmt", FMTS)
def test_zero_mismatch_equals_ideal_and_draws_are_kept(fmt):
    c = tc.synthetic_circuit(fmt, 8, delay_sigma=0.1, tdc_sigma=0.2, cap_sigma=0.05)
    assert "SYNTHETIC" in c.label and c.synthetic
    a, b = _vectors(fmt, 200, 16, seed=1)
    ideal = tm.TdMacModel(fmt, 16).dot(a, b)
    m0 = tm.TdMacModel(fmt, 16, circuit=c, exp_mismatch=0, man_mismatch=0, units=4)
    assert np.array_equal(m0.dot(a, b), ideal)
    m1 = tm.TdMacModel(fmt, 16, circuit=c, units=4, seed=3)
    y1 = m1.dot(a, b)
    assert not np.array_equal(y1, ideal)
    assert np.array_equal(m1.dot(a, b), y1)  # kept across calls
    m2 = tm.TdMacModel(fmt, 16, circuit=c, units=4, seed=3)
    assert np.array_equal(m2.line_delay, m1.line_delay) and np.array_equal(m2.dot(a, b), y1)  # reproducible
    assert not np.array_equal(tm.TdMacModel(fmt, 16, circuit=c, units=4, seed=4).line_delay, m1.line_delay)


def test_mismatch_knobs_are_independent_common_random_numbers():
    c = tc.synthetic_circuit("e4m3", 8)
    ref = tm.TdMacModel("e4m3", 16, circuit=c, units=5, seed=2)
    half = tm.TdMacModel("e4m3", 16, circuit=c, units=5, seed=2, exp_mismatch=0.5, man_mismatch=0.0)
    nom_line = np.arange(16.0)
    assert np.allclose(half.line_delay - nom_line, 0.5 * (ref.line_delay - nom_line))
    nom_thr = np.arange(1, 9) - 0.5
    assert np.allclose(half.tdc_thresholds - nom_thr, 0.5 * (ref.tdc_thresholds - nom_thr))
    assert half.cap_dev is None
    man = tm.TdMacModel("e4m3", 16, circuit=c, units=5, seed=2, exp_mismatch=0.0, man_mismatch=2.0)
    assert np.allclose(man.cap_dev, 2 * ref.cap_dev)
    assert np.array_equal(man.line_delay, np.broadcast_to(nom_line, man.line_delay.shape))


def test_sensitivity_sweeps_one_path():
    c = tc.synthetic_circuit("e4m3", 8)
    for path in ("exponent", "mantissa"):
        r = ts.sensitivity(c, "e4m3", scales=(0.0, 0.5, 2.0), n_vectors=3000, path=path, units=8)
        assert r["path"] == path and len(r["rel_rms"]) == 3 and len(r["median_rel"]) == 3
        assert r["rel_rms"][0] < r["rel_rms"][1] < r["rel_rms"][2]
        assert "N(0, 1)" in r["distribution"]
    base = ts.sensitivity(c, "e4m3", scales=(0.0,), n_vectors=3000, path="mantissa", units=8)
    ideal = ts.sensitivity(None, "e4m3", scales=(0.0,), n_vectors=3000, units=8)
    assert base["rel_rms"] == ideal["rel_rms"]  # scale 0 = the nominal circuit = ideal here
    with pytest.raises(ParameterError, match="exponent"):
        ts.sensitivity(c, "e4m3", path="both")


def test_matmul_equals_loop_over_dot():
    c = tc.synthetic_circuit("e4m3", 8, cap_sigma=0.05)
    m = tm.TdMacModel("e4m3", 16, circuit=c, units=3, seed=1)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 37))
    w = rng.standard_normal((37, 4))
    y = m.matmul(x, w)
    stats = dict(m.last_stats)
    xp = np.pad(x, ((0, 0), (0, 11)))
    wp = np.pad(w, ((0, 11), (0, 0)))
    ref = np.zeros((5, 4))
    for i in range(5):
        for j in range(4):
            ref[i, j] = sum(m.dot(xp[i, k : k + 16], wp[k : k + 16, j], unit=j % 3) for k in range(0, 48, 16))
    assert np.array_equal(y, ref)
    assert stats["scalar_products"] == 5 * 4 * 3 and stats["energy_J"] > 0


@pytest.mark.parametrize("fmt", FMTS)
def test_exact_mode_matmul_blas_path_is_the_chunked_run(monkeypatch, fmt):
    """Exact mode takes one float64 BLAS product (E4M3 only): the same values bit for bit and the same
    statistics as the chunked scalar products, with zeros, subnormals, max values (scale saturated), NaN
    operands (special) and a K that is not a multiple of L."""
    f = fp8.get_format(fmt)
    rng = np.random.default_rng(5)
    fin = np.flatnonzero(np.isfinite(f.values()))
    x = fp8.decode(rng.choice(fin, size=(9, 53)).astype(np.uint8), f) * (rng.random((9, 53)) < 0.8)
    w = fp8.decode(rng.choice(fin, size=(53, 6)).astype(np.uint8), f)
    x[2, :] = f.max_finite
    w[:, 1] = f.max_finite
    x[4, 7] = np.nan
    w[40, 3] = np.nan
    m = tm.TdMacModel.exact(fmt, 16)
    assert m._blas_exact(53) == (fmt == "e4m3")
    y = m.matmul(x, w)
    fast = dict(m.last_stats)
    monkeypatch.setattr(tm.TdMacModel, "_blas_exact", lambda self, k: False)
    ref = m.matmul(x, w)
    np.testing.assert_array_equal(y, ref)  # NaN where the reference has NaN
    assert fast == m.last_stats
    assert 0 < fast["special_fraction"] < 1 and 0 < fast["scale_saturated_fraction"] < 1
    if fmt == "e4m3":  # the chunk sums add exactly too (E5M2's chunks are rounded once each, then added)
        fin_ = np.isfinite(ref)
        assert np.array_equal(ref[fin_], fp8.exact_dot(x[:, None, :], w.T[None, :, :], f)[fin_])


def test_energy_positive_and_grows_with_caps_switched():
    c = tc.synthetic_circuit("e4m3", 8)
    m = tm.TdMacModel("e4m3", 4, circuit=c, exp_mismatch=0, man_mismatch=0)
    b = np.ones(4)
    lo, hi = np.array([1.0, 1.0, 1.0, 1.0]), np.array([1.875, 1.875, 1.0, 1.0])  # same exponents, larger significands
    e_lo, e_hi = m.energy(lo, b), m.energy(hi, b)
    _, d_lo = m.dot(lo, b, details=True)
    _, d_hi = m.dot(hi, b, details=True)
    assert e_lo > 0 and e_hi > e_lo
    assert e_hi - e_lo == pytest.approx(c.e_cap_unit * (d_hi["caps"] - d_lo["caps"]), rel=1e-9)
    assert d_hi["caps"] - d_lo["caps"] == 2 * (15 - 8) * 8 * 2**m.guard  # two elements, (Ma_hi - Ma_lo) Mb 2^G each
    lines = (8 * (1 + 0.1 * 7) + 2 * 1.0) * 1e-15  # 8 lines at code 7, the reference pair at code 0
    assert e_lo == pytest.approx(lines + 4 * c.e_tdc + c.e_shared + c.e_readout + c.e_cap_unit * d_lo["caps"])


def test_special_values():
    m = tm.TdMacModel("e4m3", 4)
    a = np.array([[1.0, np.nan, 2.0, 0.0], [1.0, 1.0, 2.0, 0.0]])
    y = m.dot(a, np.ones((2, 4)))
    assert np.isnan(y[0]) and y[1] == pytest.approx(4.0, rel=0.1)
    m5 = tm.TdMacModel("e5m2", 4, saturate=False)
    y5 = m5.dot(np.array([[1e6, 1.0, 0, 0], [1e6, 1.0, 0, 0]]), np.array([[1.0, 1.0, 0, 0], [0.0, 1.0, 0, 0]]))
    assert np.isposinf(y5[0]) and np.isnan(y5[1])
    assert m5.last_stats["special_fraction"] == 1.0
    assert np.isfinite(tm.TdMacModel("e5m2", 4).dot([1e6, 1.0, 0, 0], [1.0, 1.0, 0, 0]))  # saturated to 57344


def test_digitizer_models_as_readout():
    a, b = ts.random_vectors(2000, 16, "e4m3", seed=3)
    base, bdet = tm.TdMacModel("e4m3", 16, adc=6).dot(a, b, details=True)
    codes = bdet["codes"]
    ideal = tm.TdMacModel("e4m3", 16, adc=IdealDigitizer(6, 0.0, 1.0))
    assert np.mean(ideal.dot(a, b, details=True)[1]["codes"] == codes) > 0.999  # same bins up to float rounding
    assert np.allclose(ideal.dot(a, b), base, rtol=1e-12, atol=0)
    lut = synthetic_adc_lut("adc_sar", bits=6, sigma_offset=0.002, sigma_dnl=0.05, n_samples=20)
    dm = DigitizerModel.from_lut(lut)
    nom = tm.TdMacModel("e4m3", 16, adc=dm, man_mismatch=0.0, units=4)
    y, det = nom.dot(a, b, details=True)
    assert np.mean(det["codes"] == codes) > 0.999 and np.allclose(y, base, rtol=1e-12, atol=0)
    mis = tm.TdMacModel("e4m3", 16, adc=dm, units=4)
    assert np.mean(mis.dot(a, b, details=True)[1]["codes"] != codes) > 0.01 and len(mis.adc_bank) == 4
    assert mis.energy(a[:3], b[:3]) == pytest.approx(np.full(3, dm.energy))
    # a linear measured transfer changes nothing but the units
    lin_tr = (np.array([-1e5, 1e5]), np.array([-0.3, 0.3]))
    c = dataclasses.replace(tc.TdMacCircuit.ideal("e4m3", 8), acc_transfer=lin_tr)
    lin = tm.TdMacModel("e4m3", 16, adc=6, circuit=c)
    assert np.mean(lin.dot(a, b, details=True)[1]["codes"] == codes) > 0.999


def test_jitter_is_an_exponent_path_knob():
    c = dataclasses.replace(tc.TdMacCircuit.ideal("e4m3", 8), jitter=0.3)
    a, b = ts.random_vectors(500, 16, "e4m3", seed=1)
    ideal = tm.TdMacModel("e4m3", 16).dot(a, b)
    assert np.array_equal(tm.TdMacModel("e4m3", 16, circuit=c, exp_mismatch=0).dot(a, b), ideal)
    j1 = tm.TdMacModel("e4m3", 16, circuit=c, seed=5).dot(a, b)
    assert not np.array_equal(j1, ideal)
    assert np.array_equal(tm.TdMacModel("e4m3", 16, circuit=c, seed=5).dot(a, b), j1)  # seeded stream


@pytest.mark.parametrize("kw,frag", [
    ({"fmt": "fp16"}, "e4m3"),
    ({"window": 0}, "window must be an integer from 1"),
    ({"length": 0}, "length"),
    ({"fullscale": -1.0}, "fullscale must be a positive number"),
    ({"guard": -1}, "guard"),
    ({"adc": 0}, "adc must be a number of bits"),
    ({"adc": "sar"}, "adc must be"),
    ({"exp_mismatch": -0.5}, "exp_mismatch must be >= 0"),
    ({"units": 0}, "units"),
    ({"seed": -1}, "seed"),
    ({"circuit": "spice"}, "TdMacCircuit"),
])
def test_bad_parameters(kw, frag):
    with pytest.raises(ParameterError, match=frag):
        tm.TdMacModel(**kw)


def test_bad_shapes_and_circuits():
    m = tm.TdMacModel("e4m3", 16, units=2)
    with pytest.raises(ParameterError, match="pad the vectors"):
        m.dot(np.ones((3, 15)), np.ones((3, 15)))
    with pytest.raises(ParameterError, match="same K"):
        m.matmul(np.ones((2, 16)), np.ones((17, 3)))
    with pytest.raises(ParameterError, match="unit must be"):
        m.dot(np.ones(16), np.ones(16), unit=2)
    with pytest.raises(ParameterError, match="e5m2 needs 32"):
        tm.TdMacModel("e5m2", 16, circuit=tc.TdMacCircuit.ideal("e4m3", 8))
    with pytest.raises(ParameterError, match="window <= 4"):
        tm.TdMacModel("e4m3", 16, window=8, circuit=tc.TdMacCircuit.ideal("e4m3", 4))
    with pytest.raises(ParameterError, match="delay_dev"):
        dataclasses.replace(tc.TdMacCircuit.ideal("e4m3", 8), delay_dev=np.zeros((3, 5)))
    with pytest.raises(ParameterError, match="acc_transfer"):
        dataclasses.replace(tc.TdMacCircuit.ideal("e4m3", 8), acc_transfer=([0, 1], [1, 0]))


@pytest.mark.parametrize("fmt,guard", [("e4m3", 2), ("e5m2", None)])  # int64 path; two-limb (wide) path
def test_cap_mismatch_against_per_bit_reference(fmt, guard):
    f = fp8.get_format(fmt)
    c = tc.synthetic_circuit(fmt, None, cap_sigma=0.05)
    m = tm.TdMacModel(fmt, 16, window=None, guard=guard, adc=None, circuit=c, exp_mismatch=0, units=2, seed=4)
    assert m.wide == (guard is None)
    a, b = ts.random_vectors(40, 16, fmt, seed=2)
    y = m.dot(a, b)
    g = m.guard
    for n in range(a.shape[0]):
        sa, ea, ma = fp8.fields(a[n], f)
        sb, eb, mb = fp8.fields(b[n], f)
        es = [int(x) + int(z) for x, z in zip(ea, eb)]
        emax = max(es)
        v = 0.0
        for i in range(16):
            q = (int(ma[i]) * int(mb[i]) << g) >> (emax - es[i])  # exact Python integer
            w = sum(((q >> k) & 1) * (2.0**k + m.cap_dev[n % 2, i, k]) for k in range(m.nb))
            v += -w if sa[i] ^ sb[i] else w
        assert y[n] == pytest.approx(v * 2.0 ** (emax - 2 * f.bias - 2 * f.mbits - g), rel=1e-12, abs=0)


# ---- the SPICE circuit from the shipped LUTs ------------------------------------------------------------
def test_circuit_from_shipped_luts_is_trimmed_and_reads_out_consistently():
    """The shipped ptm16hp TD-MAC LUTs at 0.8 V: lines monotonic, element-TDC thresholds within 0.3 tau of
    (k - 1/2) tau (the bias calibration and the start-offset trim worked; the last tap, unloaded, early),
    positive energies; the nominal
    engine reads the exact exponent differences and shared scale for almost every vector, and
    :meth:`TdMacModel.read_out` on its own line voltages reproduces its outputs."""
    from charz.blocks.td_mac.model import model_from_luts
    from charz.blocks.td_mac.model_circuit import circuit_from_luts
    from charz.blocks.td_mac.model_study import random_vectors

    c = circuit_from_luts(vdd=0.8)
    w = c.tdc_thr.size
    assert np.all(np.diff(c.delay_mean) > 0)
    # the last tap drives no next cell and runs early (measured 7.15 for 7.5)
    assert np.all(np.abs(c.tdc_thr[:-1] - (np.arange(1, w) - 0.5)) < 0.2), c.tdc_thr
    assert abs(c.tdc_thr[-1] - (w - 0.5)) < 0.45
    assert np.all(np.abs(c.scale_thr[:20] - (np.arange(1, 21) - 0.5)) < 0.5), c.scale_thr[:20]
    assert min(c.e_tdc, c.e_shared, c.e_cap_unit, c.e_readout, float(np.min(c.e_line))) > 0
    # the converter LUT given as a pathlib.Path, a str or a loaded LUT is read the same way (a Path was once
    # skipped, leaving the read-out energy at 0 J)
    from charz.core.lut import LUT, find_default

    adc_path = find_default("ptm16hp", "adc_sar6")
    for given in (adc_path, str(adc_path), LUT.load(adc_path)):
        assert circuit_from_luts(vdd=0.8, adc=given).e_readout == c.e_readout
    m = model_from_luts(vdd=0.8, exp_mismatch=0.0, man_mismatch=0.0)
    a, b = random_vectors(4000, 16, "e4m3", "normal", 3)
    y, det = m.dot(a, b, details=True)
    _, ea, _ = fp8.fields(a, fp8.E4M3)
    _, eb, _ = fp8.fields(b, fp8.E4M3)
    s = ea + eb
    emax = s.max(axis=1)
    assert np.mean(det["E_read"] == emax) > 0.97
    assert np.mean(det["d"] == np.minimum(emax[:, None] - s, w)) > 0.98  # measured 98.6 %: a difference of 7 can read 8
    v = np.interp(det["V"], *c.acc_transfer)
    np.testing.assert_array_equal(m.read_out(v, det["E_read"]), y)
