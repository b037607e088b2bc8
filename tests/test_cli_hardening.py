"""Hardening of the command line (issue 11): size ranges, --workers bounds, provenance checks of
`check wht`, --sweep-mismatch parsing, the top-level handler of unexpected exceptions, and `doctor`
on an altered card. Every probe runs the real CLI; none of them reaches ngspice."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from charz.netlist.cells import parse_sizes
from charz import cli
from charz.core import pdk as pdkmod
from charz.core.errors import LUTError, ParameterError
from charz.core.lut import LUT
from charz.blocks.bitcell.netlist import BitcellParams
from charz.netlist.cells import CellSizes, size_range
from charz.blocks.cim_column.netlist import CimColumnParams
from charz.blocks.adc.netlist import SarParams
from tests.helpers import charz

ROOT = Path(__file__).resolve().parent.parent
NO_LIB = {"NGSPICE_LIBRARY_PATH": "/nonexistent/libngspice.so"}  # reaching the engine would be exit 3
WHT_LUT = ROOT / "lut" / "ptm16hp" / "wht16_sign"


def one_line_error(stderr: str, code: int, rc: int) -> str:
    assert rc == code, stderr
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and lines[0].startswith("charz: error:")
    return lines[0]


def cli_field_doc(name: str) -> str:
    """The description of a CellSizes field (its ``param(..., desc)``, shown by ``CellSizes.describe()``)."""
    return {row[0]: row[3] for row in CellSizes.describe()}[name]


def run_main(argv, capsys) -> tuple[int, str, str]:
    """charz.cli.main in this process; (exit code, stdout, stderr)."""
    try:
        rc = cli.main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 2
    out = capsys.readouterr()
    return rc, out.out, out.err


# --- item 11: cell sizes --------------------------------------------------------------------------------
def test_absurd_size_is_refused_before_any_simulation(tmp_path):
    """The probe: w_rd = 1 km used to run and write an all-NaN LUT."""
    out = tmp_path / "bc"
    r = charz("characterize", "bitcell8t", "--size", "w_rd=1e3", "--workers", "0", "-o", str(out), env=NO_LIB)
    line = one_line_error(r.stderr, 2, r.returncode)
    assert "w_rd = 1000 m" in line and "1.6e-08 .. 3.2e-06 m" in line and "ptm16hp" in line
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("size,needle", [
    ("w_pu=1n", "w_pu = 1e-09 m is outside 1.6e-08 .. 3.2e-06 m"),
    ("w_pd=4u", "w_pd = 4e-06 m is outside 1.6e-08 .. 3.2e-06 m"),
    ("w_ax=15n", "w_ax = 1.5e-08 m is outside"),
    ("w_ra=1", "w_ra = 1 m"),
    ("l=10n", "l = 1e-08 m is outside 1.6e-08 .. 3.2e-07 m"),
    ("l_read=1u", "l_read = 1e-06 m is outside 1.6e-08 .. 3.2e-07 m"),
    ("w_rd=-64n", "w_rd = -6.4e-08 m"),
    ("w_rd=0", "w_rd = 0 m"),
    ("w_rd=1e400", "not finite"),
    ("w_rd=abc", "cannot read"),
    ("w_rd", "NAME=VALUE"),
    ("w_xx=64n", "unknown cell size"),
])
def test_size_ranges_in_process(size, needle, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", NO_LIB["NGSPICE_LIBRARY_PATH"])
    rc, _, err = run_main(["characterize", "bitcell8t", "--size", size, "--workers", "0", "-o", str(tmp_path / "x")],
                          capsys)
    line = one_line_error(err, 2, rc)
    assert needle in line


def test_size_given_twice_is_refused(capsys):
    rc, _, err = run_main(["characterize", "bitcell6t", "--size", "w_pd=80n", "--size", "w_pd=96n"], capsys)
    assert "given twice" in one_line_error(err, 2, rc)


def test_size_ranges_scale_with_the_node_and_are_in_the_help():
    p16, p130 = pdkmod.describe("ptm16hp"), pdkmod.describe("ptm130bulk")
    assert size_range("w_pd", p16) == (16e-9, 3.2e-6) and size_range("l", p16) == (16e-9, 320e-9)
    lo, hi = size_range("w_pd", p130)
    assert lo == pytest.approx(130e-9) and hi == pytest.approx(26e-6)
    assert size_range("l_read", p130)[1] == pytest.approx(2.6e-6)
    # 2 um is too wide at 16 nm? no: 125 x Lmin is inside; 4 um is outside at 16 nm but inside at 130 nm
    CellSizes.for_pdk(p16, w_pd=2e-6)
    CellSizes.for_pdk(p130, w_pd=4e-6)
    with pytest.raises(ParameterError, match="3.2e-06"):
        CellSizes.for_pdk(p16, w_pd=4e-6)
    r = charz("characterize", "--help")
    help_text = " ".join(r.stdout.split())
    assert "widths Lmin..200 x Lmin and at most 100u, lengths Lmin..20 x Lmin and at most 10u" in help_text
    assert "200 x Lmin" in CellSizes.__doc__ and "20 x Lmin" in CellSizes.__doc__
    for f in ("w_pu", "w_pd", "w_ax", "w_rd", "w_ra", "l", "l_read"):
        assert "Range Lmin .." in cli_field_doc(f)


def test_range_edges_and_suffix_rounding():
    """Exactly Lmin, 20 x Lmin and 200 x Lmin pass, also when written with a SPICE suffix on a node whose
    Lmin is not exact in binary (22 x 1e-9 = 2.2000000000000002e-08 > 22n = 2.2e-08)."""
    p22 = pdkmod.describe("ptm22hp")
    pd = pdkmod.describe("ptm16hp")
    s = parse_sizes(p22, ["l=22n", "w_pu=22n", "l_read=440n", "w_pd=4.4u"])
    assert s.l == 2.2e-08 and s.w_pd == 4.4e-06
    CellSizes.for_pdk(pd, l=16e-9, l_read=320e-9, w_rd=3.2e-6, w_ra=16e-9)
    with pytest.raises(ParameterError):
        CellSizes.for_pdk(pd, l_read=321e-9)


def test_default_sizes_of_every_pdk_pass():
    for name in pdkmod.names():
        p = pdkmod.describe(name)
        CellSizes.default(p).check(p)
        assert BitcellParams(pdk=name, cell="8t").sizes == CellSizes.default(p)
        assert CimColumnParams(pdk=name).sizes == CellSizes.default(p)
        SarParams(pdk=name, kind="mi_sar")


def test_every_generator_taking_cell_sizes_checks_them():
    """Python API: a size inside the PDK-free bounds (<= 100 um) but too wide for the node is refused by
    every parameter class that takes a CellSizes."""
    p = pdkmod.describe("ptm16hp")
    wide = CellSizes.default(p).replace(w_rd=10e-6)  # 625 x Lmin
    for make in (lambda: BitcellParams(pdk="ptm16hp", cell="8t", sizes=wide),
                 lambda: CimColumnParams(pdk="ptm16hp", sizes=wide),
                 lambda: SarParams(pdk="ptm16hp", kind="mi_sar", cell_sizes=wide)):
        with pytest.raises(ParameterError, match=r"w_rd = 1e-05 m is outside 1.6e-08 .. 3.2e-06 m for ptm16hp"):
            make()
    with pytest.raises(ParameterError, match="outside 1e-09 .. 0.0001 m"):
        CellSizes.default(p).replace(w_rd=1e3)
    with pytest.raises(ParameterError, match="must be a number"):
        CellSizes.default(p).replace(w_rd="wide")


# --- item 11: --workers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["-3", "-1", "1000000", str(cli.max_workers() + 1), "two", "1.5"])
def test_bad_worker_counts_are_refused(value, capsys):
    for argv in (["characterize", "bitcell6t", "--workers", value], ["pdk", "verify", "--workers", value],
                 ["check", "wht", "--workers", value]):
        rc, _, err = run_main(argv, capsys)
        line = one_line_error(err, 2, rc)
        assert "--workers" in line and f"0 (run in this process) to {cli.max_workers()}" in line


def test_good_worker_counts_parse():
    ap = cli.build_parser()
    assert ap.parse_args(["pdk", "verify", "--workers", "0"]).workers == 0
    assert ap.parse_args(["pdk", "verify", "--workers", str(cli.max_workers())]).workers == cli.max_workers()
    assert ap.parse_args(["pdk", "verify"]).workers is None
    with pytest.raises(ParameterError):
        cli.check_workers(-3)
    r = charz("characterize", "--help")
    assert "CPU count" in r.stdout


def test_negative_workers_probe_subprocess():
    r = charz("characterize", "bitcell8t", "--workers", "-3", env=NO_LIB)
    assert "-3 is not allowed" in one_line_error(r.stderr, 2, r.returncode)


# --- item 13: check wht on altered provenance -------------------------------------------------------------
def _altered_wht_lut(tmp_path, name, change) -> Path:
    """lut/ptm16hp/wht16_sign with its provenance changed in memory and saved (a valid, sealed file)."""
    lut = LUT.load(WHT_LUT)
    change(lut)
    return lut.save(tmp_path / name)


PROBES = {
    "extra_latch_key": (lambda l: l.provenance["parameters"]["latch"].update(bogus=1e-6), "parameters.latch"),
    "latch_list": (lambda l: l.provenance["parameters"].__setitem__("latch", [1, 2]), "parameters.latch"),
    "n_rows_string": (lambda l: l.conditions.__setitem__("n_rows", "16"), "n_rows"),
    "param_n_rows_string": (lambda l: l.provenance["parameters"].__setitem__("n_rows", "sixteen"),
                            "parameters.n_rows"),
    "ternary_string": (lambda l: l.provenance["parameters"].__setitem__("ternary", "yes"), "parameters.ternary"),
    "w_cell_string": (lambda l: l.provenance["parameters"].__setitem__("w_cell", "wide"), "parameters.w_cell"),
    "w_cell_1m": (lambda l: l.provenance["parameters"].__setitem__("w_cell", 1.0), "w_cell"),
    "latch_size_null": (lambda l: l.provenance["parameters"]["latch"].__setitem__("w_in", None),
                        "parameters.latch.w_in"),
    "parameters_list": (lambda l: l.provenance.__setitem__("parameters", [1]), "parameters"),
    "no_tile_rows": (lambda l: l.provenance["parameters"].pop("tile_rows"), "tile_rows"),
    "pdk_list": (lambda l: l.provenance.__setitem__("pdk", ["ptm16hp"]), "pdk"),
}


@pytest.mark.parametrize("name", ["extra_latch_key", "latch_list", "n_rows_string"])
def test_check_wht_probes_subprocess(name, tmp_path):
    change, field = PROBES[name]
    path = _altered_wht_lut(tmp_path, name, change)
    r = charz("check", "wht", "--lut", str(path), "--vectors", "1", "--workers", "0", "--no-cache", "--quiet",
              env=NO_LIB)
    line = one_line_error(r.stderr, 5, r.returncode)
    assert field in line and "re-characterize" in line


@pytest.mark.parametrize("name", sorted(PROBES))
def test_check_wht_validates_the_provenance(name, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", NO_LIB["NGSPICE_LIBRARY_PATH"])
    change, field = PROBES[name]
    path = _altered_wht_lut(tmp_path, name, change)
    rc, _, err = run_main(["check", "wht", "--lut", str(path), "--vectors", "1", "--workers", "0", "--no-cache",
                           "--quiet"], capsys)
    assert field in one_line_error(err, 5, rc)


def test_committed_wht_luts_pass_the_provenance_check():
    from charz.blocks.wht.check import lut_rows, params_from_lut

    p = pdkmod.describe("ptm16hp")
    for name in ("wht16", "wht16_sign", "wht32", "wht64", "wht16_corners"):
        lut = LUT.load(ROOT / "lut" / "ptm16hp" / name)
        params = params_from_lut(lut, p, 0.8, 27.0, 60e-12)
        assert params.n_rows == lut_rows(lut) == lut.conditions["n_rows"]
        assert params.latch.w_in == lut.provenance["parameters"]["latch"]["w_in"]
    bad = LUT.load(WHT_LUT)
    bad.provenance["parameters"]["latch"]["bogus"] = 1.0
    with pytest.raises(LUTError, match="unknown"):
        params_from_lut(bad, p, 0.8, 27.0, 60e-12)


def test_valid_wht_lut_reaches_the_engine(capsys, monkeypatch):
    """The checks refuse nothing valid: the committed LUT goes on to ngspice (missing here: exit 3)."""
    r = charz("check", "wht", "--lut", str(WHT_LUT), "--vectors", "1", "--workers", "0", "--no-cache", "--quiet",
              env=NO_LIB)
    assert "libngspice" in one_line_error(r.stderr, 3, r.returncode)


# --- item 13: --sweep-mismatch --------------------------------------------------------------------------
@pytest.mark.parametrize("network", ["mlp", "wht", "td_mac"])
@pytest.mark.parametrize("value,needle", [("a,b", "cannot read 'a'"), ("0,-1", ">= 0"), ("", "no points"),
                                          ("1,1", "repeated"), ("0:1", "start:stop:count")])
def test_sweep_mismatch_is_parsed_first(network, value, needle, tmp_path, capsys):
    rc, out, err = run_main(["eval", "--network", network, "--out", str(tmp_path / "o"), "--sweep-mismatch", value],
                            capsys)
    line = one_line_error(err, 2, rc)
    assert "--sweep-mismatch" in line and needle in line
    assert out == "" and not (tmp_path / "o").exists()


def test_sweep_mismatch_probe_subprocess(tmp_path):
    r = charz("eval", "--out", str(tmp_path), "--sweep-mismatch", "a,b")
    one_line_error(r.stderr, 2, r.returncode)
    assert cli._sweep_scales("0:4:3") == [0.0, 2.0, 4.0] and cli._sweep_scales("0,1,2,4,8") == [0, 1, 2, 4, 8]


# --- item 13: the top-level handler ------------------------------------------------------------------------
BOOM = """
import sys
import charz.cli as c
import charz.cli.cache as verb
def boom(args):
    {body}
verb.cmd_cache = boom
sys.exit(c.main(["cache", "info"]))
"""


def _run_boom(body: str, env: dict) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env)
    return subprocess.run([sys.executable, "-c", BOOM.format(body=body)], capture_output=True, text=True, env=e,
                          cwd=ROOT, timeout=120)


def _log_path(line: str) -> Path:
    assert "the traceback is in " in line and line.endswith(" - please report it")
    return Path(line.split("the traceback is in ", 1)[1].rsplit(" - please report it", 1)[0])


def test_unexpected_exception_is_one_line_with_a_log(tmp_path):
    r = _run_boom('raise ZeroDivisionError("boom\\nsecond line")', {"CHARZ_CACHE_DIR": str(tmp_path / "cache")})
    line = one_line_error(r.stderr, cli.EXIT_INTERNAL, r.returncode)
    assert "internal error (ZeroDivisionError: boom second line)" in line
    log = _log_path(line)
    assert log.parent == tmp_path / "cache" / "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: boom" in text
    assert "command: charz cache info" in text and "in boom" in text


def test_log_goes_to_the_temp_dir_when_the_cache_is_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    (tmp_path / "t").mkdir()
    r = _run_boom("raise KeyError('x')", {"CHARZ_CACHE_DIR": str(blocker / "cache"), "TMPDIR": str(tmp_path / "t")})
    line = one_line_error(r.stderr, cli.EXIT_INTERNAL, r.returncode)
    assert "internal error (KeyError: 'x')" in line
    log = _log_path(line)
    assert log.parent == tmp_path / "t" / "charz-logs" and "KeyError" in log.read_text()


def test_interrupt_broken_pipe_and_multiline_charz_errors(tmp_path):
    env = {"CHARZ_CACHE_DIR": str(tmp_path)}
    r = _run_boom("raise KeyboardInterrupt", env)
    assert r.returncode == 130 and "interrupted" in r.stderr and "Traceback" not in r.stderr
    r = _run_boom("raise BrokenPipeError", env)
    assert r.returncode == 0 and r.stderr == ""
    r = _run_boom("from charz.core.errors import SimulationError; raise SimulationError('deck refused:\\n  line 3\\n')",
                  env)
    assert one_line_error(r.stderr, 4, r.returncode) == "charz: error: deck refused: line 3"
    assert not (tmp_path / "logs").exists()


def test_exit_codes_are_documented():
    r = charz("--help")
    text = " ".join(r.stdout.split())
    assert "70 internal error" in text and "5 bad LUT" in text and "130 interrupted" in text


# --- item 14: doctor ---------------------------------------------------------------------------------------
def test_doctor_names_an_altered_default_card(tmp_path):
    src, _ = pdkmod.find_card(pdkmod.describe("ptm16hp"))
    bad = tmp_path / "cards"
    bad.mkdir()
    shutil.copy(src, bad / "ptm16hp.pm")
    with open(bad / "ptm16hp.pm", "a") as fh:
        fh.write("* one comment line added\n")
    r = charz("doctor", env={"CHARZ_PDK_PATH": str(bad)})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "all good" not in r.stdout
    assert str(bad / "ptm16hp.pm") in r.stderr and "differs from the manifest" in r.stderr
    assert f"ALTERED  {bad / 'ptm16hp.pm'}" in r.stdout


def test_doctor_names_an_altered_non_default_card(tmp_path):
    src, _ = pdkmod.find_card(pdkmod.describe("ptm65bulk"))
    (tmp_path / "ptm65bulk.pm").write_bytes(src.read_bytes()[:-10])  # truncated
    r = charz("doctor", env={"CHARZ_PDK_PATH": str(tmp_path)})
    assert r.returncode == 2 and str(tmp_path / "ptm65bulk.pm") in r.stderr


def test_doctor_without_the_default_card(tmp_path, capsys, monkeypatch):
    """Only the ptm65bulk card on the search path: the default PDK's card is missing, a problem (exit 2)."""
    src, _ = pdkmod.find_card(pdkmod.describe("ptm65bulk"))
    shutil.copy(src, tmp_path / "ptm65bulk.pm")
    monkeypatch.setattr(pdkmod, "search_path", lambda: [tmp_path])
    rc, out, err = run_main(["doctor"], capsys)
    assert rc == 2, out + err
    assert "ptm16hp     MISSING" in out and "ptm65bulk   ok" in out
    assert "default PDK's card ptm16hp.pm (ptm16hp) is missing" in err and "all good" not in out
