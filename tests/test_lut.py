"""LUT container: round trip, interpolation, and every way a LUT file can be wrong."""

import json

import numpy as np
import pytest

from charz.core.errors import LUTError
from charz.core.lut import LUT, Axis


def _lut():
    vdd = [0.6, 0.7, 0.8]
    k = np.arange(5)
    v = np.array(vdd)[:, None] * (1 - 0.1 * k[None, :])
    return LUT(
        block="cim_column",
        axes=(Axis("vdd", "V", vdd), Axis("k", "cells", k, discrete=True)),
        tables={"vbl": v},
        units={"vbl": "V"},
        samples={"vbl": v[..., None] + np.linspace(-0.01, 0.01, 4)},
        conditions={"n_rows": 4},
        provenance={"card_sha256": "ab" * 32},
    )


def test_round_trip(tmp_path):
    lut = _lut()
    path = lut.save(tmp_path / "col")
    back = LUT.load(path, block="cim_column")
    np.testing.assert_array_equal(back.tables["vbl"], lut.tables["vbl"])
    np.testing.assert_array_equal(back.samples["vbl"], lut.samples["vbl"])
    assert back.conditions == {"n_rows": 4}
    assert [a.name for a in back.axes] == ["vdd", "k"] and back.axes[1].discrete


def test_interpolation_is_linear_and_exact_on_grid():
    lut = _lut()
    assert lut.value("vbl", vdd=0.7, k=2) == pytest.approx(0.7 * 0.8)
    assert lut.value("vbl", vdd=0.65, k=2) == pytest.approx(0.65 * 0.8)
    np.testing.assert_allclose(lut.slice("vbl", vdd=0.75), 0.75 * (1 - 0.1 * np.arange(5)))
    assert lut.sample_slice("vbl", vdd=0.75).shape == (5, 4)


def test_off_grid_requests_are_errors():
    lut = _lut()
    with pytest.raises(LUTError, match="outside"):
        lut.slice("vbl", vdd=0.9)
    with pytest.raises(LUTError, match="not on the"):
        lut.slice("vbl", vdd=0.7, k=1.5)
    with pytest.raises(LUTError, match="no axis"):
        lut.slice("vbl", vddd=0.7)


def test_corrupt_or_wrong_files(tmp_path):
    path = _lut().save(tmp_path / "col")
    with pytest.raises(LUTError, match="'bitcell6t' table is needed"):
        LUT.load(path, block="bitcell6t")
    npz = path.with_suffix(".npz")
    data = bytearray(npz.read_bytes())
    data[100] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(LUTError, match="damaged"):
        LUT.load(path)
    path.write_text("{not json")
    with pytest.raises(LUTError, match="corrupt"):
        LUT.load(path)
    path.write_text(json.dumps({"schema": 99}))
    with pytest.raises(LUTError, match="schema"):
        LUT.load(path)
    with pytest.raises(LUTError, match="not found"):
        LUT.load(tmp_path / "nothing")


def test_pdk_mismatch_is_refused():
    lut = _lut()
    lut.check_pdk("ab" * 32)
    with pytest.raises(LUTError, match="regenerate"):
        lut.check_pdk("cd" * 32)


def test_summary_shows_code_fit_checks():
    """A converter's fit check has no relative error (codes); the summary prints what it has."""
    import dataclasses

    from charz.blocks.adc.model_transfer import synthetic_adc_lut

    lut = synthetic_adc_lut("adc_sar", 3, vdd=[0.7], temp=[27.0])
    lut = dataclasses.replace(lut, fit_quality={"codes_random_order": {
        "points": 32, "max_abs_err": 1.0, "max_rel_err": None, "unit": "code", "within_1_lsb": 1.0, "exact": 0.75}})
    text = lut.summary()
    assert "32 points, max |err| 1 code, within 1 lsb 100.0%, exact 75.0%" in text
