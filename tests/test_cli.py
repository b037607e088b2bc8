"""The command line: help texts, one-line errors with non-zero exit codes, golden netlists."""

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import charz, one_line_error

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("cmd", [[], ["doctor"], ["pdk", "list"], ["pdk", "verify"], ["netlist"], ["characterize"],
                                 ["lut", "show"], ["plot"], ["eval"], ["demo"], ["cache"], ["train"],
                                 ["report"], ["check"]])
def test_every_command_has_help(cmd):
    r = charz(*cmd, "--help")
    assert r.returncode == 0 and "usage: charz" in r.stdout and len(r.stdout) > 200


def test_doctor_reports_ngspice_and_cards():
    r = charz("doctor")
    assert r.returncode == 0, r.stderr
    assert "ngspice version: 39" in r.stdout and "ptm16hp     ok" in r.stdout


def test_missing_libngspice_is_explained():
    r = charz("doctor", env={"NGSPICE_LIBRARY_PATH": "/nonexistent/libngspice.so"})
    assert r.returncode == 3 and "apt-get install -y ngspice libngspice0-dev" in r.stderr
    r = charz("pdk", "verify", "--pdk", "ptm16hp", "--workers", "0", "--no-cache",
              env={"NGSPICE_LIBRARY_PATH": "/nonexistent/libngspice.so"})
    assert r.returncode != 0 and "Traceback" not in r.stderr


@pytest.mark.parametrize("args,needle", [
    (["characterize", "bitcell6t", "--pdk", "ptm7"], "unknown PDK"),
    (["characterize", "bitcell6t", "--vdd", "1.2"], "1.5x nominal"),
    (["characterize", "bitcell6t", "--vdd", "0.7:0.8:1"], "at least 2 points"),
    (["characterize", "bitcell6t", "--vdd", ""], "no points"),
    (["characterize", "bitcell6t", "--temp", "abc"], "cannot read"),
    (["characterize", "cim_column", "--rows", "4"], "8"),
    (["characterize", "bitcell6t", "--mc", "-3"], "Monte Carlo"),
    (["characterize", "widget"], "invalid choice"),
    (["lut", "show", "no/such/lut"], "not found"),
    # converters: resolution out of range, reference outside the rails, more bitlines than the neighbour has
    (["characterize", "adc_sar", "--bits", "9"], "from 3 to 6"),
    (["characterize", "adc_flash", "--bits", "6"], "from 2 to 5"),
    (["characterize", "adc_hybrid", "--bits", "5", "--flash-bits", "4"], "flash_bits"),
    (["characterize", "adc_sar", "--vref", "0.2,0.95"], "outside the rails"),
    (["characterize", "adc_flash", "--vref=-0.1,0.5"], "outside the rails"),
    (["characterize", "adc_mi_sar", "--vref", "0.3"], "LO,HI"),
    (["characterize", "adc_mi_sar", "--bits", "6", "--bitlines", "32"], "needs 64 bitlines"),
    (["characterize", "adc_hybrid", "--bits", "5", "--bitlines", "16"], "needs 32 bitlines"),
    (["characterize", "adc_sar", "--bitlines", "16"], "--bitlines applies"),
    (["characterize", "comparator", "--steps-per-lsb", "4"], "--steps-per-lsb applies"),
    (["characterize", "adc_sar", "--steps-per-lsb", "1"], "steps per LSB"),
    (["eval", "--adc-lut", "lut/ptm16hp/comparator"], "'comparator' LUT"),
    (["eval", "--adc-lut", "lut/ptm16hp/cim_column"], "'cim_column' LUT"),
    (["eval", "--columns-per-adc", "4"], "need --adc-lut"),
    (["eval", "--adc-calibration", "offset"], "need --adc-lut"),
    (["report", "digitizers", "--pdk", "ptm65bulk", "--lut-dir", "no/such"], "no converter LUT"),
    # WHT crossbar: rows must be a power of two, options of other blocks, the wrong LUT kind, no converters
    (["characterize", "wht_column", "--rows", "12"], "n_rows"),
    (["characterize", "wht_column", "--bits", "5"], "--bits applies"),
    (["characterize", "comparator", "--sign-only"], "--sign-only applies"),
    (["characterize", "wht_column", "--size", "w_pd=80n"], "w_cell"),
    (["eval", "--network", "wht", "--lut", "lut/ptm16hp/comparator"], "wht_column"),
    (["eval", "--network", "wht", "--adc-lut", "lut/ptm16hp/adc_sar5"], "does not apply"),
    (["eval", "--lut", "lut/ptm16hp/wht16_sign"], "--network wht"),
    (["eval", "--mode", "sign"], "--network wht only"),
    (["check", "wht", "--lut", "lut/ptm16hp/cim_column"], "wht_column"),
    (["check", "wht", "--lut", "lut/ptm16hp/wht16_sign", "--vectors", "0"], "vectors"),
    (["train", "--lut", "lut/ptm16hp/wht16"], "--network wht only"),
    (["characterize", "td_delay", "--bits", "9"], "bits"),
    (["characterize", "td_delay", "--steps-per-lsb", "4"], "--steps-per-lsb applies"),
])
def test_bad_input_is_one_line(args, needle, tmp_path):
    # characterize gets its own -o: an out/lut/<pdk>/<block> left by a user's run must not pre-empt the message
    line = one_line_error(charz(*args, "--workers", "0", "-o", str(tmp_path / "lut"))
                          if args[0] == "characterize" else charz(*args))
    assert needle in line


def test_corrupt_lut_and_wrong_pdk(tmp_path):
    from charz.blocks.cim_column.model import synthetic_column_lut

    lut = synthetic_column_lut(n_rows=8)
    lut.provenance["card_sha256"] = "00" * 32
    path = lut.save(tmp_path / "col")
    line = one_line_error(charz("eval", "--lut", str(path), "--pdk", "ptm16hp"), code=5)
    assert "regenerate" in line
    path.with_suffix(".npz").write_bytes(b"garbage")
    line = one_line_error(charz("lut", "show", str(path)), code=5)
    assert "damaged" in line


def test_golden_netlists_are_up_to_date():
    """netlists/ holds what the generators write for ptm16hp (regenerate: `make netlists`)."""
    r = charz("netlist", "--pdk", "ptm16hp", "--check")
    assert r.returncode == 0, r.stderr + r.stdout


def test_no_user_string_reaches_spice(tmp_path):
    """A shell escape given where a number is expected never gets into a deck."""
    r = charz("characterize", "bitcell6t", "--vdd", "0.7; shell touch /tmp/pwned", "--workers", "0")
    one_line_error(r)
    from charz.core.errors import ParameterError
    from charz.netlist.spice import ident, num

    with pytest.raises(ParameterError):
        num("1 shell rm -rf /")
    with pytest.raises(ParameterError):
        ident("a b")
    with pytest.raises(ParameterError):
        num(np.nan)


def test_size_override_reaches_the_netlist(tmp_path):
    out = tmp_path / "bc"
    r = charz("characterize", "bitcell6t", "--size", "w_pd=96n", "--workers", "0", "--no-fit-check", "--quiet",
              "-o", str(out))
    assert r.returncode == 0, r.stderr
    from charz.core.lut import LUT

    lut = LUT.load(out)
    assert lut.provenance["parameters"]["sizes"]["w_pd"] == 9.6e-08
    line = one_line_error(charz("characterize", "bitcell6t", "--size", "w_xx=1n", "--workers", "0"))
    assert "unknown cell size" in line


def test_eval_wht_network_end_to_end(tmp_path):
    """`charz eval --network wht` on the committed LUT: accuracies, energy, TOPS/W beside the published
    figures with the reasons, and the plots."""
    r = charz("eval", "--network", "wht", "--chips", "1", "--sweep-mismatch", "0,2", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "ideal (quantized, noiseless)" in out and "CiM (per-chip mismatch)" in out
    assert "1602 TOPS/W (5311 with early termination)" in out and "why they differ" in out
    assert "vdd=0.8 V" in out
    for name in ("wht_accuracy_vs_mismatch.png", "wht_planes_evaluated.png", "wht_accuracy_vs_vdd.png", "wht_eval.json"):
        assert (tmp_path / name).stat().st_size > 1000
