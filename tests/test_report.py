"""`charz report digitizers` on the committed ptm16hp converter LUTs (no simulation)."""

import json
from pathlib import Path

import pytest

from charz import report
from charz.blocks.adc.model_transfer import synthetic_adc_lut
from charz.core.errors import LUTError

ROOT = Path(__file__).resolve().parent.parent
LUTS = ROOT / "lut"


def test_report_table_ratios_and_pngs(tmp_path):
    res = report.digitizers("ptm16hp", bits=5, lut_dir=LUTS, out=tmp_path, network=False, progress=lambda *_: None)
    conv = res["converters"]
    assert set(conv) == set(report.KINDS), res["missing"]
    for k, s in conv.items():
        assert s["bits"] == 5 and s["pdk"] == "ptm16hp"
        assert s["energy_fJ"] > 0 and s["t_conv_ns"] > 0 and s["area_um2"] > 0
        assert s["mc_instances"] >= 4 and s["offset_sigma_mV"] > 0
    # the ratios are the table's own numbers, conventional / memory-immersed
    mi = conv["adc_mi_sar"]
    r = res["ratios_ours"]
    assert r["area_ratio_vs_sar"] == pytest.approx(conv["adc_sar"]["area_um2"] / mi["area_um2"])
    assert r["energy_ratio_vs_flash"] == pytest.approx(conv["adc_flash"]["energy_fJ"] / mi["energy_fJ"])
    assert conv["adc_flash"]["area_um2"] > conv["adc_sar"]["area_um2"] > mi["area_um2"]  # 31 comparators; a CDAC
    assert conv["adc_flash"]["t_conv_ns"] < conv["adc_sar"]["t_conv_ns"] < mi["t_conv_ns"]  # 1 cycle; n; n slower
    assert conv["adc_hybrid"]["t_conv_ns"] < mi["t_conv_ns"]  # 2 MSBs in one cycle
    md = (tmp_path / "digitizers.md").read_text()
    assert "25x" in md and "1.4x" in md and "51x" in md and "13x" in md and "Why ours differ" in md
    assert json.loads((tmp_path / "digitizers.json").read_text())["bits"] == 5
    for p in res["pngs"]:
        assert Path(p).stat().st_size > 20_000


def test_report_network_rows(tmp_path):
    out = report.network_table("ptm16hp", LUTS, tmp_path, chips=1, n_images=150, progress=lambda *_: None)
    rows = out["rows"]
    by = {(r["readout"], r["bits"], r["calibration"]): r for r in rows}
    assert {(k, 5, c) for k in report.KINDS for c in ("none", "offset")} <= set(by) and (report.IDEAL, 5, None) in by
    ideal5 = by[(report.IDEAL, 5, None)]
    for k in report.KINDS:
        r, t = by[(k, 5, "none")], by[(k, 5, "offset")]
        assert 0 <= r["acc"] <= 100 and r["adc_pJ"] > 0
        assert r["energy_pJ"] == pytest.approx(ideal5["energy_pJ"] + r["adc_pJ"], rel=0.05)
        assert r["tops_w"] < ideal5["tops_w"] and t["adc_pJ"] == pytest.approx(r["adc_pJ"])  # same conversions
    # the SA converters' spread is mostly their comparator's offset: trimming it recovers accuracy
    assert by[("adc_sar", 5, "offset")]["acc"] > by[("adc_sar", 5, "none")]["acc"] + 10
    assert by[("adc_mi_sar", 5, "none")]["scheme"] == "immersed" and by[("adc_sar", 5, "none")]["scheme"] == "dedicated"
    assert (tmp_path / "network_ptm16hp.png").stat().st_size > 20_000


def test_report_refuses_synthetic_and_names_missing(tmp_path):
    d = tmp_path / "ptm16hp"
    d.mkdir()
    synthetic_adc_lut("adc_sar", 5, vdd=[0.7], temp=[27.0], n_samples=4).save(d / "adc_sar5")
    with pytest.raises(LUTError, match="synthetic"):
        report.digitizers("ptm16hp", bits=5, lut_dir=tmp_path, out=tmp_path / "o", network=False,
                          progress=lambda *_: None)
    with pytest.raises(LUTError, match="charz characterize adc_sar"):
        report.digitizers("ptm16hp", bits=4, lut_dir=tmp_path, out=tmp_path / "o", network=False,
                          progress=lambda *_: None)
