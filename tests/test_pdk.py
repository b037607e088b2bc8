"""PTM registry: manifest, search path, sha256 checks, VDD limits."""

import shutil

import pytest

from charz.core import pdk as P
from charz.core.errors import ParameterError, PDKError


def test_manifest_lists_the_eleven_cards():
    assert len(P.names()) == 11
    d = P.describe("ptm22hp")
    assert d.vdd_nom == 0.8 and d.node_nm == 22 and d.nmos == "nmos" and d.avt_mv_um > 0


def test_unknown_pdk_names_choices():
    with pytest.raises(PDKError, match="choose one of"):
        P.get("ptm7nm")


def test_search_path_order_and_sha_check(tmp_path, monkeypatch):
    src = P.get("ptm16hp").path
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(src, good / "ptm16hp.pm")
    monkeypatch.setenv("CHARZ_PDK_PATH", str(good))
    assert P.get("ptm16hp").path == (good / "ptm16hp.pm").resolve()
    # an altered card first on the path is rejected, and the next valid copy is used
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ptm16hp.pm").write_text(src.read_text().replace("toxe", "toxe ", 1))
    monkeypatch.setenv("CHARZ_PDK_PATH", f"{bad}:{good}")
    assert P.get("ptm16hp").path == (good / "ptm16hp.pm").resolve()


def test_missing_card_error_names_the_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARZ_PDK_PATH", str(tmp_path))
    monkeypatch.setattr(P, "PROJECT_ROOT", tmp_path / "nowhere" / "project")
    with pytest.raises(PDKError) as e:
        P.get("ptm45hp")
    assert str(tmp_path) in str(e.value) and "CHARZ_PDK_PATH" in str(e.value)


def test_vdd_limits_and_avt_override(monkeypatch):
    p = P.get("ptm16hp")
    assert p.check_vdd(1.05) == 1.05
    with pytest.raises(ParameterError, match="1.5x"):
        p.check_vdd(1.06)
    with pytest.raises(ParameterError):
        p.check_vdd(-0.1)
    assert P.get("ptm16hp", avt_mv_um=3.0).avt_mv_um == 3.0
    monkeypatch.setenv("CHARZ_AVT", "2.5")
    q = P.get("ptm16hp")
    assert q.avt_mv_um == 2.5 and q.provenance()["avt_source"] == "user override"
