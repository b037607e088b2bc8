"""FP8 formats (OCP E4M3 / E5M2): codes, rounding, saturation, special values, exact dot products."""

from __future__ import annotations

import math

import numpy as np
import pytest

from charz.behavior import fp8
from charz.core.errors import ParameterError

FMTS = [fp8.E4M3, fp8.E5M2]


def _bit_decode(c: int, f: fp8.Fp8Format) -> float:
    """Value of one code from the bit layout, written out independently of the module's tables."""
    s, e, man = c >> 7, (c >> f.mbits) & ((1 << f.ebits) - 1), c & ((1 << f.mbits) - 1)
    top = (1 << f.ebits) - 1
    if f.has_inf and e == top:
        return math.copysign(math.inf, -s or 1) if man == 0 else math.nan
    if not f.has_inf and e == top and man == (1 << f.mbits) - 1:
        return math.nan
    mag = (man * 2.0 ** (1 - f.bias - f.mbits)) if e == 0 else (1 + man / (1 << f.mbits)) * 2.0 ** (e - f.bias)
    return -mag if s else mag


@pytest.mark.parametrize("f", FMTS, ids=lambda f: f.name)
def test_format_constants_and_decode(f):
    v = f.values()
    ref = np.array([_bit_decode(c, f) for c in range(256)])
    assert np.array_equal(v, ref, equal_nan=True)
    fin = v[np.isfinite(v)]
    assert fin.max() == f.max_finite and -fin.min() == f.max_finite
    assert np.min(np.abs(fin[fin != 0])) == f.min_subnormal
    if f is fp8.E4M3:
        assert (f.bias, f.max_finite, f.min_subnormal, f.has_inf) == (7, 448.0, 2.0**-9, False)
        assert np.flatnonzero(np.isnan(v)).tolist() == [0x7F, 0xFF] and not np.any(np.isinf(v))
    else:
        assert (f.bias, f.max_finite, f.min_subnormal, f.has_inf) == (15, 57344.0, 2.0**-16, True)
        assert np.flatnonzero(np.isinf(v)).tolist() == [0x7C, 0xFC]
        assert np.flatnonzero(np.isnan(v)).tolist() == [0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF]
    assert fp8.get_format("E4M3") is fp8.E4M3 and fp8.get_format("e5m2") is fp8.E5M2


@pytest.mark.parametrize("f", FMTS, ids=lambda f: f.name)
def test_round_trip_all_codes(f):
    codes = np.arange(256, dtype=np.uint8)
    v = fp8.decode(codes, f)
    back = fp8.encode(v, f, saturate=False)  # non-saturating: E5M2's infinities stay inf
    nan = np.isnan(v)
    assert np.array_equal(back[~nan], codes[~nan])  # +-0 kept (0x00, 0x80), every finite code, +-inf
    assert np.all(back[nan] == fp8.CANONICAL_NAN) and np.isnan(fp8.decode(fp8.CANONICAL_NAN, f))
    q = fp8.quantize(v, f, saturate=False)
    assert np.array_equal(q, v, equal_nan=True) and np.array_equal(np.signbit(q[~nan]), np.signbit(v[~nan]))
    assert fp8.encode(-0.0, f) == 0x80 and fp8.encode(0.0, f) == 0x00


def _brute_nearest(x: np.ndarray, f: fp8.Fp8Format) -> np.ndarray:
    """Nearest finite value by exhaustive search over all codes; ties -> even significand (code LSB 0)."""
    v = f.values()
    codes = np.flatnonzero(np.isfinite(v))
    cand = v[codes]
    dist = np.abs(cand[None, :] - x[:, None])
    best = dist.min(axis=1, keepdims=True)
    tie_ok = dist == best
    even = (codes & 1) == 0
    pick = np.where(np.any(tie_ok & even, axis=1), np.argmax(tie_ok & even, axis=1), np.argmax(tie_ok, axis=1))
    return np.copysign(np.abs(cand[pick]), x)


@pytest.mark.parametrize("f", FMTS, ids=lambda f: f.name)
def test_quantize_is_nearest_ties_to_even(f):
    rng = np.random.default_rng(7)
    mags = np.exp(rng.uniform(math.log(f.min_subnormal / 4), math.log(f.max_finite), 6000))
    x = mags * rng.choice([-1.0, 1.0], mags.size)
    v = np.unique(f.values()[np.isfinite(f.values())])
    mids = (v[:-1] + v[1:]) / 2  # every tie between neighbours (subnormal range and zero included)
    x = np.concatenate([x, mids, -mids, v, rng.uniform(-4, 4, 2000) * f.min_subnormal])
    q = fp8.quantize(x, f)
    ref = _brute_nearest(x, f)
    assert np.array_equal(q, ref)
    assert np.array_equal(np.signbit(q), np.signbit(x))  # signed zeros for underflow
    # a few ties by hand
    if f is fp8.E4M3:
        assert fp8.quantize([1.0625, 1.1875, 2.0**-10, 3 * 2.0**-10], f).tolist() == [1.0, 1.25, 0.0, 2.0**-8]


@pytest.mark.parametrize("f", FMTS, ids=lambda f: f.name)
def test_saturation_and_special_values(f):
    big = [f.max_finite * 1.1, 1e30, np.inf]  # (1.01 x max still rounds to max)
    assert np.all(fp8.quantize(big, f) == f.max_finite)
    assert np.all(fp8.quantize(np.negative(big), f) == -f.max_finite)
    over = fp8.quantize(big, f, saturate=False)
    if f.has_inf:
        assert np.all(np.isposinf(over)) and np.isneginf(fp8.quantize(-1e30, f, saturate=False))
        assert fp8.quantize(61440.0, f, saturate=False) == np.inf  # tie 57344 | 2^16 goes to the even 2^16: overflow
        assert fp8.quantize(61439.0, f, saturate=False) == 57344.0
    else:
        assert np.all(np.isnan(over))
        assert fp8.quantize(464.0, f, saturate=False) == 448.0  # tie 448 | 480 goes to the even 448
        assert np.isnan(fp8.quantize(465.0, f, saturate=False))
    assert np.isnan(fp8.quantize(np.nan, f)) and fp8.encode(np.nan, f) == fp8.CANONICAL_NAN
    assert fp8.encode(-np.nan, f) == fp8.CANONICAL_NAN
    tiny = fp8.quantize([f.min_subnormal / 2, -f.min_subnormal / 2, f.min_subnormal * 0.51, -1e-300], f)
    assert tiny.tolist() == [0.0, 0.0, f.min_subnormal, 0.0] and np.signbit(tiny).tolist() == [False, True, False, True]


@pytest.mark.parametrize("f", FMTS, ids=lambda f: f.name)
def test_fields_recompose_the_value(f):
    codes = np.arange(256, dtype=np.uint8)
    v = fp8.decode(codes, f)
    s, e, m = fp8.fields(codes, f)
    fin = np.isfinite(v)
    rec = np.where(s == 1, -1.0, 1.0) * m * np.power(2.0, e - f.bias - f.mbits)
    assert np.array_equal(rec[fin], v[fin])
    sub = fin & ((codes.astype(int) >> f.mbits) & ((1 << f.ebits) - 1) == 0)
    assert np.all(e[sub] == 1) and np.all(m[sub] < (1 << f.mbits))  # subnormals and zeros: time code 1, no hidden bit
    assert np.all(m[fin & ~sub] >= (1 << f.mbits))
    s2, e2, m2 = fp8.fields(v[fin], f)  # values are encoded first
    assert np.array_equal(e2, e[fin]) and np.array_equal(m2, m[fin])


def test_bad_codes_and_format():
    with pytest.raises(ParameterError, match="e4m3"):
        fp8.get_format("fp16")
    with pytest.raises(ParameterError, match="0..255"):
        fp8.decode([300], "e4m3")
    with pytest.raises(ParameterError, match="encode"):
        fp8.decode([1.5], "e4m3")


@pytest.mark.parametrize("f", FMTS, ids=lambda f: f.name)
def test_exact_dot_is_the_correctly_rounded_sum(f):
    rng = np.random.default_rng(3)
    for n in (1, 16, 64):
        a = fp8.quantize(rng.standard_normal((300, n)) * np.exp(rng.uniform(-12, 12, (300, n))), f)
        b = fp8.quantize(rng.standard_normal((300, n)) * np.exp(rng.uniform(-12, 12, (300, n))), f)
        y = fp8.exact_dot(a, b, f)
        assert np.array_equal(y, [math.fsum(r) for r in a * b])  # fsum: correctly rounded sum
    # a sum wider than 53 bits (E5M2 only): max product + the smallest one
    a = np.array([[f.max_finite, f.min_subnormal, -f.max_finite]])
    b = np.array([[f.max_finite, f.min_subnormal, f.max_finite]])
    assert fp8.exact_dot(a, b, f)[0] == f.min_subnormal**2  # catastrophic cancellation, exact
    a2 = np.array([[f.max_finite, f.min_subnormal]])
    assert fp8.exact_dot(a2, a2, f)[0] == math.fsum([f.max_finite**2, f.min_subnormal**2])
    # special values
    nan_row = np.array([[1.0, np.nan], [1.0, 2.0]])
    y = fp8.exact_dot(nan_row, np.ones((2, 2)), f)
    assert np.isnan(y[0]) and y[1] == 3.0
    if f.has_inf:
        ai = fp8.quantize([[np.inf, 1.0], [np.inf, 1.0]], f, saturate=False)
        y = fp8.exact_dot(ai, np.array([[1.0, 1.0], [0.0, 1.0]]), f, saturate=False)
        assert np.isposinf(y[0]) and np.isnan(y[1])


def test_limb_sum_wide_and_negative_shifts():
    p = np.array([[49, 3, 5]])
    shift = np.array([[70, -1, 0]])  # 49 * 2^70 + floor(3 / 2) - 5
    exact = 49 * 2**70 + 1 - 5
    assert fp8.limb_sum(np.array([[0, 0, 1]]), p, shift)[0] == float(exact)
    assert fp8.limb_sum(np.array([[1, 1, 1]]), np.array([[7, 7, 7]]), np.array([[-2, -3, -64]]))[0] == -1.0
