"""LUT files: names with dots, no silent overwrite, the .json checksum and `lut seal`, the card warning
(issue 11, items 3, 4, 5 and the LUT part of 15)."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from charz import cli
from charz.core.errors import LUTError
from charz.core.lut import LUT, Axis, lut_base, lut_files, next_free, seal
from tests.helpers import charz, one_line_error

ROOT = Path(__file__).resolve().parent.parent


def run_main(capsys, *args):
    """`charz ARGS` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    rc = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _lut(scale=1.0, provenance=None):
    vdd = [0.6, 0.7, 0.8]
    k = np.arange(4)
    v = scale * np.array(vdd)[:, None] * (1 - 0.1 * k[None, :])
    return LUT(block="cim_column", axes=(Axis("vdd", "V", vdd), Axis("k", "cells", k, discrete=True)),
               tables={"vbl": v}, units={"vbl": "V"}, conditions={"n_rows": 3},
               provenance=dict({"pdk": "synthetic", "card_sha256": "ab" * 32} if provenance is None else provenance))


def _edit(path: Path, change) -> None:
    """Apply *change* to the parsed .json and write it back (the stored json_sha256 left as it was)."""
    jpath = lut_files(path)[0]
    meta = json.loads(jpath.read_text())
    change(meta)
    jpath.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


# ---- item 3: names keep their dots ---------------------------------------------------------------
def test_names_keep_every_dot_but_the_suffix(tmp_path):
    assert lut_base("x/bc_vdd0.6") == Path("x/bc_vdd0.6")
    assert lut_base("x/bc_vdd0.6.json") == lut_base("x/bc_vdd0.6.npz") == Path("x/bc_vdd0.6")
    assert lut_files("x/bc_vdd0.6") == (Path("x/bc_vdd0.6.json"), Path("x/bc_vdd0.6.npz"))
    assert lut_files("x/col.1.npz") == (Path("x/col.1.json"), Path("x/col.1.npz"))
    a = _lut(1.0).save(tmp_path / "x" / "bc_vdd0.6")
    b = _lut(2.0).save(tmp_path / "x" / "bc_vdd0.7")
    assert a.name == "bc_vdd0.6.json" and b.name == "bc_vdd0.7.json"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "bc_vdd0.6.json", "bc_vdd0.6.npz", "bc_vdd0.7.json", "bc_vdd0.7.npz"]
    la, lb = LUT.load(tmp_path / "x" / "bc_vdd0.6"), LUT.load(tmp_path / "x" / "bc_vdd0.7.npz")
    assert la.value("vbl", vdd=0.7, k=0) == pytest.approx(0.7)
    assert lb.value("vbl", vdd=0.7, k=0) == pytest.approx(1.4)


def test_characterize_with_dotted_outputs_and_force(tmp_path):
    """The issue's probe: -o out/bc8t_vdd0.6 then -o out/bc8t_vdd0.7 write two LUTs; a rerun needs --force."""
    base = ["characterize", "bitcell8t", "--workers", "0", "--no-fit-check", "--quiet"]
    for v in ("0.6", "0.7"):
        r = charz(*base, "--vdd", v, "-o", str(tmp_path / f"bc8t_vdd{v}"))
        assert r.returncode == 0, r.stderr
        assert f"bc8t_vdd{v}.json and " in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bc8t_vdd0.6.json", "bc8t_vdd0.6.npz", "bc8t_vdd0.7.json", "bc8t_vdd0.7.npz"]
    assert LUT.load(tmp_path / "bc8t_vdd0.6").axis("vdd").values.tolist() == [0.6]
    assert LUT.load(tmp_path / "bc8t_vdd0.7").axis("vdd").values.tolist() == [0.7]
    r = charz(*base, "--vdd", "0.6", "-o", str(tmp_path / "bc8t_vdd0.7"), "--force")
    assert r.returncode == 0, r.stderr
    assert LUT.load(tmp_path / "bc8t_vdd0.7").axis("vdd").values.tolist() == [0.6]


def test_plot_stem_keeps_dots(tmp_path, capsys):
    from charz.blocks.cim_column.model import synthetic_column_lut

    path = synthetic_column_lut(n_rows=8).save(tmp_path / "col_vdd0.7")
    rc, out, err = run_main(capsys, "plot", path, "--out", tmp_path / "png")
    assert rc == 0, err
    names = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert names and all(n.startswith("col_vdd0.7_") for n in names), names


# ---- item 4: no silent overwrite ---------------------------------------------------------------------
def test_save_refuses_replaces_or_diverts(tmp_path):
    p = tmp_path / "bc_vdd0.6"
    _lut(1.0).save(p)
    before = lut_files(p)[0].read_bytes(), lut_files(p)[1].read_bytes()
    with pytest.raises(LUTError, match="already exists: give --force"):
        _lut(2.0).save(p, if_exists="error")
    assert (lut_files(p)[0].read_bytes(), lut_files(p)[1].read_bytes()) == before
    assert next_free(p) == tmp_path / "bc_vdd0.6.1"
    assert _lut(2.0).save(p, if_exists="next") == tmp_path / "bc_vdd0.6.1.json"
    assert _lut(3.0).save(p, if_exists="next") == tmp_path / "bc_vdd0.6.2.json"
    assert LUT.load(p).value("vbl", vdd=0.6, k=0) == pytest.approx(0.6)
    assert LUT.load(tmp_path / "bc_vdd0.6.1").value("vbl", vdd=0.6, k=0) == pytest.approx(1.2)
    _lut(4.0).save(p)  # the library default replaces (the demo's scratch folder relies on it)
    assert LUT.load(p).value("vbl", vdd=0.6, k=0) == pytest.approx(2.4)
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".part")], "temporary files left behind"


def test_default_output_is_outside_the_committed_luts(capsys):
    assert cli.default_lut_output("ptm16hp", "bitcell8t") == Path("out/lut/ptm16hp/bitcell8t")
    with pytest.raises(SystemExit):
        cli.main(["characterize", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "default out/lut/<pdk>/<block>" in help_text and "--force" in help_text


def test_characterize_refuses_an_existing_lut_before_simulating(tmp_path):
    path = _lut().save(tmp_path / "bc8t_vdd0.7")
    before = path.read_bytes(), lut_files(path)[1].read_bytes()
    t0 = time.time()
    # a missing libngspice would fail any simulation with exit code 3: exit 2 shows none started
    r = charz("characterize", "bitcell8t", "--vdd", "0.7", "-o", str(tmp_path / "bc8t_vdd0.7"), "--workers", "0",
              env={"NGSPICE_LIBRARY_PATH": "/nonexistent/libngspice.so", "CHARZ_CACHE_DIR": str(tmp_path / "c")})
    line = one_line_error(r, code=2)
    assert time.time() - t0 < 30
    assert "bc8t_vdd0.7.json already exists" in line and "give --force to replace it or choose another -o" in line
    assert (path.read_bytes(), lut_files(path)[1].read_bytes()) == before
    assert not (tmp_path / "c").exists()


def test_a_lut_that_appears_during_the_sweep_is_kept(tmp_path, capsys, monkeypatch):
    out = tmp_path / "bc8t_vdd0.7"

    def fake_characterize(block, pdk, **kw):  # another run finishes first, at the same path
        _lut(1.0).save(out)
        return _lut(2.0)

    from charz.blocks import REGISTRY

    monkeypatch.setattr(REGISTRY, "characterize", fake_characterize)
    rc, stdout, err = run_main(capsys, "characterize", "bitcell8t", "--vdd", "0.7", "-o", out, "--workers", "0")
    assert rc == 0, err
    assert "bc8t_vdd0.7.1" in err and "appeared while the sweep ran" in err and len(err.strip().splitlines()) == 1
    assert LUT.load(out).value("vbl", vdd=0.6, k=0) == pytest.approx(0.6)
    assert LUT.load(tmp_path / "bc8t_vdd0.7.1").value("vbl", vdd=0.6, k=0) == pytest.approx(1.2)
    # with --force the new LUT replaces it, no note
    rc, stdout, err = run_main(capsys, "characterize", "bitcell8t", "--vdd", "0.7", "-o", out, "--workers", "0",
                               "--force")
    assert rc == 0 and "appeared" not in err
    assert LUT.load(out).value("vbl", vdd=0.6, k=0) == pytest.approx(1.2)
    assert not (tmp_path / "bc8t_vdd0.7.2.json").exists()


# ---- item 5: the .json checksum and `lut seal` ------------------------------------------------------
EDITS = {
    "axis value": lambda m: m["axes"][0]["values"].__setitem__(1, 0.71),
    "unit": lambda m: m["units"].__setitem__("vbl", "mV"),
    "provenance": lambda m: m["provenance"].__setitem__("card_sha256", "ac" * 32),
    "condition": lambda m: m["conditions"].__setitem__("n_rows", 4),
}


@pytest.mark.parametrize("what", sorted(EDITS))
def test_an_edited_json_is_refused_then_sealed(tmp_path, capsys, what):
    path = _lut().save(tmp_path / "col")
    npz = lut_files(path)[1].read_bytes()
    _edit(path, EDITS[what])
    with pytest.raises(LUTError, match="was changed after it was written"):
        LUT.load(path)
    rc, _, err = run_main(capsys, "lut", "show", path)
    assert rc == 5 and len(err.strip().splitlines()) == 1 and "charz lut seal" in err
    rc, out, err = run_main(capsys, "lut", "seal", path)
    assert rc == 0 and "sealed" in out, err
    assert lut_files(path)[1].read_bytes() == npz
    LUT.load(path)


def test_edits_through_the_command_line(tmp_path):
    """One real process: exit code 5 and one line for a one-digit edit and for a removed checksum."""
    path = _lut().save(tmp_path / "col_vdd0.7")
    text = path.read_text()
    assert '  0.7,\n' in text
    path.write_text(text.replace('  0.7,\n', '  0.8,\n', 1))  # one digit of an axis value
    line = one_line_error(charz("lut", "show", str(path)), code=5)
    assert "col_vdd0.7.json was changed" in line
    path.write_text(text)
    assert charz("lut", "show", str(path)).returncode == 0
    _edit(path, lambda m: m.pop("json_sha256"))  # deleting the field does not bypass the check
    line = one_line_error(charz("lut", "show", str(path)), code=5)
    assert "no json_sha256" in line and f"charz lut seal {lut_base(path)}" in line
    r = charz("lut", "seal", str(path))
    assert r.returncode == 0, r.stderr
    assert charz("lut", "show", str(path)).returncode == 0


def test_formatting_does_not_matter(tmp_path):
    path = _lut().save(tmp_path / "col")
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4))  # re-indented, key order kept
    LUT.load(path)


def test_seal_refuses_a_mismatched_npz(tmp_path, capsys):
    path = _lut().save(tmp_path / "col")
    _edit(path, lambda m: m.pop("json_sha256"))
    _lut(2.0).save(tmp_path / "other")
    lut_files(path)[1].write_bytes(lut_files(tmp_path / "other")[1].read_bytes())  # a swapped array file
    text = path.read_text()
    with pytest.raises(LUTError, match="do not match"):
        seal(path)
    rc, _, err = run_main(capsys, "lut", "seal", path)
    assert rc == 5 and len(err.strip().splitlines()) == 1
    assert path.read_text() == text
    # sealing a sealed LUT changes nothing
    other = lut_files(tmp_path / "other")[0]
    before = other.read_bytes()
    assert seal(other) == (other, False) and other.read_bytes() == before


# ---- item 15 (part): card differs from the manifest's card of that name ------------------------------
def test_card_mismatch_warns_once(tmp_path, capsys):
    from charz.core import pdk

    good = pdk.describe("ptm16hp").sha256
    bad = _lut(provenance={"pdk": "ptm16hp", "card_sha256": "00" * 32}).save(tmp_path / "bad")
    capsys.readouterr()
    LUT.load(bad)
    LUT.load(bad.with_suffix(".npz"))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("charz: warning:") and "bad.json" in err[0] and "regenerate" in err[0]
    for name, prov in (("ok", {"pdk": "ptm16hp", "card_sha256": good}), ("synth", {"pdk": "synthetic",
                       "card_sha256": "00" * 32}), ("nocard", {"pdk": "ptm16hp"}), ("none", {})):
        LUT.load(_lut(provenance=prov).save(tmp_path / name))
    assert capsys.readouterr().err == ""
    r = charz("lut", "show", str(bad))
    assert r.returncode == 0 and len(r.stderr.strip().splitlines()) == 1 and "warning" in r.stderr


# ---- the committed LUTs -----------------------------------------------------------------------------
def test_committed_luts_are_sealed_and_load(capsys):
    files = sorted((ROOT / "lut").glob("**/*.json"))
    assert len(files) >= 30
    capsys.readouterr()
    for f in files:
        assert "json_sha256" in json.loads(f.read_text()), f
        LUT.load(f)
    assert capsys.readouterr().err == ""


def test_seal_has_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["lut", "seal", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "json_sha256" in text and "not a signature" in text
