"""The command line: help texts, one-line errors with non-zero exit codes, golden netlists."""

import ast
import re
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
    (["eval", "--network", "wht", "--adc-lut", "lut/ptm16hp/adc_sar5"], "not to --network wht (no converters"),
    (["eval", "--lut", "lut/ptm16hp/wht16_sign"], "--network wht"),
    (["eval", "--mode", "sign"], "--network wht only"),
    (["check", "wht", "--lut", "lut/ptm16hp/cim_column"], "wht_column"),
    (["check", "wht", "--lut", "lut/ptm16hp/wht16_sign", "--vectors", "0"], "vectors"),
    (["train", "--lut", "lut/ptm16hp/wht16"], "--network wht only"),
    # an option of another network / check: refused from the registry's declarations, with the reason
    (["train", "--epochs", "3"], "--epochs applies to --network td_mac only, not to --network mlp"),
    (["eval", "--network", "td_mac", "--t-pulse", "40p"], "not to --network td_mac (it has no wordline pulse)"),
    (["eval", "--network", "td_mac", "--columns-per-adc", "2"], "one converter per engine"),
    (["check", "td_mac", "--mc", "2"], "--mc applies to check wht only, not to check td_mac (it is nominal only)"),
    (["check", "wht", "--delay-lut", "x"], "--delay-lut applies to check td_mac only"),
    (["characterize", "td_delay", "--bits", "9"], "bits"),
    (["characterize", "td_delay", "--steps-per-lsb", "4"], "--steps-per-lsb applies"),
    # --t-step: read with SPICE suffixes, checked by the generator, only where a family declares it
    (["characterize", "td_delay", "--t-step", "2x"], "argument --t-step: value: cannot read '2x'"),
    (["characterize", "comparator", "--t-step", "1; shell touch /tmp/pwned"], "argument --t-step: value: cannot read"),
    (["characterize", "td_delay", "--t-step", "30p"], "longer than the edge"),
    (["characterize", "comparator", "--t-step=-2p"], "t_step = -2e-12 s is outside"),
    (["characterize", "cim_column", "--t-step", "2p"], "--t-step applies to comparator, td_delay only"),
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


def test_t_step_is_read_as_seconds_and_reaches_the_tran_line():
    """``--t-step 2p`` is parsed as 2e-12 s by the command line (an Option of type "number"); the generator checks
    it against the edge and writes it in the .tran line."""
    from charz.blocks.td_mac.netlist import DelayLineParams, delay_netlist
    from charz.cli import build_parser

    for block, text, value in (("td_delay", "2p", 2e-12), ("comparator", "4e-12", 4e-12)):
        assert build_parser().parse_args(["characterize", block, "--t-step", text]).t_step == value
    nl = delay_netlist(DelayLineParams(pdk="ptm16hp", t_step=2e-12), np.zeros((1, 1), dtype=int))
    assert nl.analysis.split()[:2] == [".tran", "2e-12"]


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


# --- the command line names no block (issue 12): verbs read the registry --------------------------------
CLI_DIR = ROOT / "charz" / "cli"
VERBS = ("eval", "check", "train")


def _block_names():
    """(word-matched names: kinds and families, quoted-only names: the network commands) of the registry."""
    from charz.blocks import REGISTRY

    words = set(REGISTRY.kinds) | set(REGISTRY.families())
    commands = {name for verb in VERBS for name in REGISTRY.commands(verb)}
    return words, commands


def _named_blocks(text: str) -> list[str]:
    words, commands = _block_names()
    found = [w for w in sorted(words) if re.search(rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", text)]
    found += [f"'{c}'" for c in sorted(commands) if re.search(rf"[\"']{re.escape(c)}[\"']", text)]
    if "Kind." in text:
        found.append("Kind.")
    return found


GENERIC_NETWORK = ("engine", "graph", "onnx_import", "mapping", "backends", "model_report", "zoo")
"""The network modules that know no block family (the model executor, its graph, mapping, backends factory,
report and the model zoo): the command line may import them."""


def _forbidden_import(mod: str) -> bool:
    """A family module (charz.blocks.<family>...) or a family-specific network module (anything in
    charz.network but GENERIC_NETWORK)."""
    m = re.match(r"^(?:\.\.|charz\.)(blocks|network)(?:\.([A-Za-z0-9_]+))?", mod)
    if not m:
        return False
    if m.group(1) == "blocks":
        return m.group(2) not in (None, "base")
    return m.group(2) not in GENERIC_NETWORK


def test_no_block_name_in_the_command_line():
    """Every module of charz/cli/ is free of LUT kinds, family names, quoted network-command names and Kind
    constants, and imports neither a family (charz.blocks.<family>) nor a network module: what a block adds to
    the command line is declared in its family's __init__ (Block.options, Block.commands)."""
    files = sorted(CLI_DIR.glob("*.py"))
    assert {"__init__.py", "common.py", "eval.py", "check.py", "train.py", "characterize.py"} <= {f.name for f in files}
    bad = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        bad += [f"{path.name}: {name}" for name in _named_blocks(text)]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom):
                mod = "." * node.level + (node.module or "")
                if _forbidden_import(mod):
                    bad.append(f"{path.name}:{node.lineno}: imports {mod}")
            elif isinstance(node, ast.Import):
                bad += [f"{path.name}:{node.lineno}: imports {a.name}" for a in node.names if _forbidden_import(a.name)]
    assert not bad, "block names in charz/cli/ (declare them in the family's __init__):\n  " + "\n  ".join(bad)


def test_the_import_rule_allows_only_generic_network_modules():
    assert _forbidden_import("..network.wht") and _forbidden_import("charz.network.evaluate")
    assert _forbidden_import("..blocks.wht") and _forbidden_import("..network")
    assert not _forbidden_import("..network.engine") and not _forbidden_import("..blocks")
    assert not _forbidden_import("..blocks.base") and not _forbidden_import("..core.lut")


def test_the_block_name_scan_sees_names():
    assert _named_blocks('help="wht_column LUT"') == ["wht_column"]
    assert _named_blocks("x = 'mlp'") == ["'mlp'"] and _named_blocks("digits MLP on columns") == []
    assert _named_blocks("Kind.WHT_COLUMN") == ["Kind."] and _named_blocks("--adc-lut") == ["adc"]


@pytest.mark.parametrize("verb", VERBS)
def test_network_commands_and_their_options_come_from_the_registry(verb):
    """`charz eval|check|train --help` list the registry's commands as the choices and every option they
    declare, with the commands it applies to."""
    from charz.blocks import REGISTRY

    r = charz(verb, "--help")
    assert r.returncode == 0, r.stderr
    commands = REGISTRY.commands(verb)
    assert len(commands) >= 2 and "{" + ",".join(commands) + "}" in r.stdout
    flat = " ".join(r.stdout.split())
    for name, (block, cmd) in commands.items():
        assert " ".join(cmd.help.split())[:40] in flat, name
        for opt in cmd.options:
            assert opt.flag in r.stdout and " ".join(opt.help.split())[:30] in flat, (name, opt.flag)
    if verb != "check":
        default = [n for n, (_, c) in commands.items() if c.default]
        assert len(default) == 1 and f"default {default[0]};" in flat
