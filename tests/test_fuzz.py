"""Property-based fuzzing of everything that reads user input: the grid / number parser, the --size
parser, the LUT loader and the command line. The property is always the same: a result of the right
kind or a CharzError with its exit code, never another exception (a traceback for the user).

Reproducible: examples are derandomized (a fixed seed per test) and no example database is kept, so CI
and a laptop run the same cases. No case can start a simulation: every `characterize` argv carries at
least one invalid option that is checked before any run, every `eval` / `check` argv a LUT path that
does not exist, and NGSPICE_LIBRARY_PATH points at a missing file (reaching the engine would be exit 3).
"""

import contextlib
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charz.netlist.cells import parse_sizes
from charz import cli
from charz.blocks import REGISTRY
from charz.core import pdk as pdkmod
from charz.core.errors import CharzError, LUTError, ParameterError
from charz.core.grid import MAX_POINTS, grid, number
from charz.core.lut import LUT, json_checksum, lut_files
from charz.netlist.cells import CellSizes, size_range

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])

# text a shell can pass: no NUL; lone surrogates \udc80-\udcff are what Python makes of non-UTF-8 bytes
ARG_ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00") | \
    st.sampled_from([chr(c) for c in range(0xDC80, 0xDD00)])
arg_text = st.text(ARG_ALPHABET, max_size=30)

# number-like text: digits, signs, dots, exponents, suffixes, separators, space, junk
NUMBER_PIECES = st.sampled_from(list("0123456789") + [".", "-", "+", "e", "E", "e-", "e+", "f", "p", "n", "u", "m",
                                                      "k", "M", "s", "v", "V", "c", ":", ",", " ", "_", "x", "inf",
                                                      "nan", "1e308", "1e400", "9" * 30, "0x1", "\t", "٣", "½"])
number_like = st.lists(NUMBER_PIECES, max_size=12).map("".join)
numberish = number_like | arg_text


def _run(argv) -> tuple[int, str, str]:
    """charz.cli.main in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(list(argv))
        except SystemExit as exc:  # argparse: usage errors, --help, --version
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return rc, out.getvalue(), err.getvalue()


def _assert_clean(rc: int, err: str, allowed=(2, 3, 5), zero_ok=False) -> None:
    assert "Traceback" not in err, err
    assert rc != cli.EXIT_INTERNAL, err
    if rc == 0:
        assert zero_ok, f"exit 0 where an error was expected; stderr: {err}"
        return
    assert rc in allowed, (rc, err)
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("charz: warning:")]
    assert lines and lines[-1].startswith("charz: error:"), err
    assert len([l for l in lines if l.startswith("charz: error:")]) == 1, err


@pytest.fixture(autouse=True)
def _no_engine(monkeypatch, tmp_path):
    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", "/nonexistent/fuzz/libngspice.so")
    monkeypatch.setenv("CHARZ_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CHARZ_SCHEDULER", raising=False)
    monkeypatch.delenv("CHARZ_AVT", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # relative paths (and default LUT paths) resolve in an empty folder


# --- grid and number ------------------------------------------------------------------------------------
@FUZZ
@given(numberish)
def test_number_is_finite_float_or_parameter_error(text):
    try:
        v = number(text, "--x")
    except ParameterError as exc:
        assert "--x" in str(exc) and "\n" not in str(exc)
        return
    assert isinstance(v, float) and math.isfinite(v)


@settings(FUZZ, max_examples=150)
@given(numberish | st.builds(lambda a, b, n: f"{a}:{b}:{n}", number_like, number_like,
                             st.integers(-3, 3 * MAX_POINTS).map(str) | number_like))
def test_grid_is_list_of_finite_floats_or_parameter_error(text):
    try:
        g = grid(text, "--vdd")
    except ParameterError as exc:
        assert "--vdd" in str(exc) and "\n" not in str(exc)
        return
    assert isinstance(g, list) and 1 <= len(g) <= MAX_POINTS
    assert all(isinstance(v, float) and math.isfinite(v) for v in g)
    if ":" in text:
        assert len(g) >= 2 and all(b > a for a, b in zip(g, g[1:]))
    else:
        assert len(set(g)) == len(g)


@FUZZ
@given(st.floats(-1e3, 1e3, allow_nan=False), st.floats(1e-6, 1e3), st.integers(2, 50))
def test_well_formed_ranges_parse(a, span, n):
    b = a + span
    g = grid(f"{a!r}:{b!r}:{n}", "--t")
    assert len(g) == n and g[0] == pytest.approx(a, rel=1e-11, abs=1e-12)  # numbers keep 12 digits
    assert g[-1] == pytest.approx(b, rel=1e-11, abs=1e-12)


def test_grid_edge_cases():
    assert grid(None, "x") is None
    for bad in ("-1e308:1e308:3", "1e300:2e300:2", f"0:1:{MAX_POINTS + 1}", "0:1:" + "9" * 5000,
                ",".join(str(i) for i in range(MAX_POINTS + 1)), "1e400", "nan", "1:1:2", ":", "1,,1"):
        with pytest.raises(ParameterError):
            grid(bad, "x")


# --- --size ---------------------------------------------------------------------------------------------
FIELDS = ("w_pu", "w_pd", "w_ax", "w_rd", "w_ra", "l", "l_read")
size_item = st.one_of(
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(FIELDS), numberish),
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(FIELDS),
              st.floats(allow_nan=True, allow_infinity=True).map(repr)),
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(FIELDS),
              st.floats(1e-9, 1e-5).map(lambda x: f"{x * 1e9:.6g}n")),
    st.builds(lambda n, v: f"{n}={v}", arg_text, numberish),
    arg_text,
)


@settings(FUZZ, max_examples=120)
@given(st.sampled_from(["ptm16hp", "ptm22hp", "ptm65bulk", "ptm130bulk"]), st.lists(size_item, max_size=5))
def test_size_parser_gives_sizes_in_range_or_exit_2(pdk_name, items):
    p = pdkmod.describe(pdk_name)
    try:
        s = parse_sizes(p, items)
    except CharzError as exc:
        assert exc.exit_code == 2 and "\n" not in str(exc)
        return
    if not items:
        assert s is None
        return
    assert isinstance(s, CellSizes)
    for f in FIELDS:
        lo, hi = size_range(f, p)
        assert lo * (1 - 1e-6) <= getattr(s, f) <= hi * (1 + 1e-6)


# --- the LUT loader ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def valid_lut(tmp_path_factory):
    from charz.blocks.cim_column.model import synthetic_column_lut

    d = tmp_path_factory.mktemp("lut")
    path = synthetic_column_lut(n_rows=8).save(d / "col")
    j, n = lut_files(path)
    return json.loads(j.read_text()), n.read_bytes()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=12)


def _paths(obj, prefix=()):
    """Every key / index path in a JSON tree."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:6]):
            yield from _paths(v, prefix + (i,))


def _mutate(meta, data):
    """*meta* (a JSON tree) with one node replaced, deleted or one key added, chosen by hypothesis."""
    meta = json.loads(json.dumps(meta))
    path = data.draw(st.sampled_from(list(_paths(meta))[1:]), label="path")
    parent = meta
    for k in path[:-1]:
        parent = parent[k]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
    if action == "delete":
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=6), label="key")] = data.draw(json_values, label="value")
    else:
        parent[path[-1]] = data.draw(json_values, label="value")
    return meta


def _write(d: Path, meta_bytes: bytes, npz: bytes | None) -> Path:
    for f in d.glob("fz*"):
        f.unlink()
    (d / "fz.json").write_bytes(meta_bytes)
    if npz is not None:
        (d / "fz.npz").write_bytes(npz)
    return d / "fz"


def _load_ok_or_luterror(path: Path) -> LUT | None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            lut = LUT.load(path)
        except LUTError as exc:
            assert "\n" not in str(exc)
            return None
    assert isinstance(lut, LUT)
    return lut


@FUZZ
@given(st.binary(max_size=400), st.binary(max_size=400) | st.none())
def test_loader_on_random_bytes(tmp_path, raw_json, raw_npz):
    assert _load_ok_or_luterror(_write(tmp_path, raw_json, raw_npz)) is None


@settings(FUZZ, max_examples=120)
@given(st.data())
def test_loader_on_mutated_json(tmp_path, valid_lut, data):
    """One node of a valid LUT's JSON changed; resealed (json_sha256 recomputed) or not. Sealed, the
    change reaches the structural checks behind the checksum."""
    meta, npz = valid_lut
    bad = _mutate(meta, data)
    if data.draw(st.booleans(), label="reseal") and isinstance(bad, dict):
        bad["json_sha256"] = json_checksum(bad)
    lut = _load_ok_or_luterror(_write(tmp_path, json.dumps(bad).encode(), npz))
    if lut is not None:  # whatever loads must be usable by `lut show`
        rc, _, err = _run(["lut", "show", str(tmp_path / "fz")])
        _assert_clean(rc, err, allowed=(5,), zero_ok=True)


@pytest.mark.parametrize("path,value", [
    (("axes", 0, "name"), None), (("axes", 1, "unit"), [1]), (("conditions",), None), (("conditions",), [1, 2]),
    (("provenance",), None), (("provenance",), "x"), (("provenance",), [1, 2]), (("fit_quality",), True),
    (("fit_quality",), {"a": 1}), (("units", "vbl"), None),
])
def test_sealed_edits_load_or_are_refused(tmp_path, valid_lut, path, value):
    """Edits of the wrong type that were sealed (`charz lut seal`, or a json_sha256 recomputed): found by
    the fuzzer above with more examples; `lut show` must print the LUT or refuse it (exit 5)."""
    meta, npz = valid_lut
    bad = json.loads(json.dumps(meta))
    parent = bad
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    bad["json_sha256"] = json_checksum(bad)
    lut_path = _write(tmp_path, json.dumps(bad).encode(), npz)
    _load_ok_or_luterror(lut_path)
    rc, _, err = _run(["lut", "show", str(lut_path)])
    _assert_clean(rc, err, allowed=(5,), zero_ok=True)


@FUZZ
@given(st.data())
def test_loader_on_truncated_and_mutated_files(tmp_path, valid_lut, data):
    meta, npz = valid_lut
    text = json.dumps(meta).encode()
    kind = data.draw(st.sampled_from(["cut_json", "cut_npz", "flip_npz", "resealed_npz", "other_npz"]), label="kind")
    if kind == "cut_json":
        text = text[: data.draw(st.integers(0, len(text) - 1))]
    elif kind == "cut_npz":
        npz = npz[: data.draw(st.integers(0, len(npz) - 1))]
    elif kind == "flip_npz":
        i = data.draw(st.integers(0, len(npz) - 1))
        npz = npz[:i] + bytes([npz[i] ^ data.draw(st.integers(1, 255))]) + npz[i + 1:]
    else:  # an npz whose checksum is right but whose content is not the LUT's
        if kind == "resealed_npz":
            i = data.draw(st.integers(0, len(npz) - 1))
            npz = npz[:i] + data.draw(st.binary(min_size=1, max_size=8)) + npz[i + 1:]
        else:
            arrays = data.draw(st.dictionaries(
                st.sampled_from(["table/vbl", "table/energy", "samples/vbl", "array/x", "junk"]),
                st.lists(st.floats(allow_nan=True), max_size=20).map(np.asarray), max_size=4))
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            npz = buf.getvalue()
        m = dict(meta, npz_sha256=hashlib.sha256(npz).hexdigest())
        m["json_sha256"] = json_checksum(m)
        text = json.dumps(m).encode()
    lut = _load_ok_or_luterror(_write(tmp_path, text, npz))
    if kind in ("cut_json", "cut_npz", "flip_npz"):  # the checksums catch these
        assert lut is None
    # a resealed byte change may fall in zip metadata the arrays do not depend on: then the LUT loads


# --- the command line -------------------------------------------------------------------------------------
@settings(FUZZ, max_examples=80)
@given(st.lists(arg_text, min_size=1, max_size=6))
def test_random_argv(argv):
    """Random words: a usage error (2) or --help / --version (0). No word is a command name, so nothing
    runs (no `cache clear`, no `train` writing the shipped weights)."""
    names = set(cli.build_parser()._subparsers._group_actions[0].choices)
    argv = ["+" + w if w.strip() in names else w for w in argv]  # also after "--"
    rc, _, err = _run(argv)
    _assert_clean(rc, err, allowed=(2,), zero_ok=True)


@settings(FUZZ, max_examples=60)
@given(arg_text, st.sampled_from(["show", "seal"]))
def test_lut_show_and_plot_on_random_paths(tmp_path, path, sub):
    """Paths that do not name a LUT (random text, '', '/', a folder, a folder named X.json, garbage files)."""
    (tmp_path / "dir.json").mkdir(exist_ok=True)
    (tmp_path / "garbage.json").write_bytes(b"\xff\x00not json")
    for p in (path, "", "/", ".", str(tmp_path), str(tmp_path / "dir"), str(tmp_path / "garbage"), str(tmp_path / path)):
        rc, _, err = _run(["lut", sub, p])
        _assert_clean(rc, err, allowed=(2, 5))
        rc, _, err = _run(["plot", p, "--out", str(tmp_path / "png")])
        _assert_clean(rc, err, allowed=(2, 5))


# every characterize argv carries one of these: each is refused before any simulation
POISON = st.one_of(
    st.builds(lambda t: ["--vdd", "q" + t], arg_text),
    st.builds(lambda t: ["--temp", "q" + t], arg_text),
    st.builds(lambda n: ["--mc", str(n)], st.integers(-10**6, -1)),
    st.builds(lambda n: ["--seed", str(n)], st.integers(-10**6, -1)),
    st.builds(lambda n: ["--workers", str(n)], st.integers(-10**6, -1) | st.integers(10**4, 10**9)),
    st.builds(lambda v: ["--size", f"w_rd={v}"], st.sampled_from(["1e3", "1k", "-1", "0", "1n", "zz", "1e999"])),
    st.builds(lambda t: ["--pdk", "nosuch" + t], arg_text),
)
OPTIONS = {
    "--vdd": numberish, "--temp": numberish, "--t-pulse": numberish, "--vref": numberish,
    "--rows": st.integers(-5, 200).map(str) | arg_text, "--bits": st.integers(-2, 20).map(str) | arg_text,
    "--length": st.integers(-2, 100).map(str), "--window": st.integers(-2, 40).map(str),
    "--flash-bits": st.integers(-2, 8).map(str), "--bitlines": st.integers(-2, 5000).map(str),
    "--steps-per-lsb": st.integers(-2, 100).map(str), "--mc": st.integers(0, 3).map(str),
    "--avt": numberish, "--size": size_item, "--pdk": st.sampled_from(pdkmod.names()) | arg_text,
    "--hybrid-dac": st.sampled_from(["bitline", "mom"]) | arg_text,
}
option_pairs = st.lists(st.sampled_from(sorted(OPTIONS)).flatmap(lambda o: OPTIONS[o].map(lambda v: [o, v])),
                        max_size=5)
flags = st.lists(st.sampled_from(["--sign-only", "--beta-mismatch", "--no-fit-check", "--no-cache", "--quiet"]),
                 max_size=2)


@settings(FUZZ, max_examples=100)
@given(st.sampled_from(REGISTRY.kinds), option_pairs, flags, POISON, st.randoms(use_true_random=False))
def test_characterize_with_malformed_options(tmp_path, block, pairs, flag_list, poison, rnd):
    parts = pairs + [[f] for f in flag_list]
    rnd.shuffle(parts)
    parts.append(poison)  # last: it wins over a repeated option
    argv = ["characterize", block, "--workers", "0", "-o", str(tmp_path / "never")] + [w for p in parts for w in p]
    rc, out, err = _run(argv)
    _assert_clean(rc, err, allowed=(2, 3))
    assert not (tmp_path / "never.json").exists()


EVAL_OPTIONS = {
    "--vdd": numberish, "--temp": numberish, "--t-pulse": numberish, "--mismatch": numberish,
    "--chips": st.integers(-5, 10**6).map(str) | arg_text, "--seed": st.integers(-5, 10).map(str) | arg_text,
    "--sweep-mismatch": numberish, "--adc-bits": st.integers(-3, 30).map(str) | arg_text,
    "--columns-per-adc": st.integers(-3, 100).map(str), "--length": st.integers(-3, 100).map(str),
    "--mode": st.sampled_from(["sign", "ternary"]) | arg_text, "--adc-calibration": st.sampled_from(["none", "offset"]),
    "--pdk": st.sampled_from(["ptm16hp", "ptm65bulk"]) | arg_text, "--out": st.just("OUT"),
}
eval_pairs = st.lists(st.sampled_from(sorted(EVAL_OPTIONS)).flatmap(
    lambda o: EVAL_OPTIONS[o].map(lambda v: [o, v])), max_size=5)


@settings(FUZZ, max_examples=80)
@given(st.sampled_from(["mlp", "wht", "td_mac"]), eval_pairs, arg_text)
def test_eval_with_malformed_numbers(tmp_path, network, pairs, name):
    """Every LUT path given does not exist, so no evaluation can run: exit 2 (options) or 5 (LUT)."""
    missing = str(tmp_path / "missing" / ("m" + name))
    luts = {"td_mac": ["--delay-lut", missing, "--tdc-lut", missing, "--acc-lut", missing, "--adc-lut", missing],
            "mlp": ["--lut", missing, "--adc-lut", missing], "wht": ["--lut", missing]}[network]
    words = [w.replace("OUT", str(tmp_path / "out")) for p in pairs for w in p]
    rc, out, err = _run(["eval", "--network", network, *luts, *words])
    _assert_clean(rc, err, allowed=(2, 5))


@settings(FUZZ, max_examples=40)
@given(st.sampled_from(["wht", "td_mac"]), eval_pairs, st.integers(-3, 10**4).map(str) | arg_text)
def test_check_with_malformed_options(tmp_path, what, pairs, vectors):
    missing = str(tmp_path / "nope")
    words = [w.replace("OUT", str(tmp_path / "out")) for p in pairs if p[0] in ("--vdd", "--temp", "--t-pulse",
                                                                                 "--seed") for w in p]
    luts = ["--lut", missing] if what == "wht" else ["--delay-lut", missing, "--tdc-lut", missing, "--acc-lut",
                                                     missing, "--adc-lut", missing]
    rc, out, err = _run(["check", what, *luts, "--vectors", vectors, "--workers", "0", *words])
    _assert_clean(rc, err, allowed=(2, 5))


def test_valid_lut_show_is_zero(tmp_path, valid_lut):
    meta, npz = valid_lut
    path = _write(tmp_path, json.dumps(meta).encode(), npz)
    rc, out, err = _run(["lut", "show", str(path)])
    assert rc == 0 and "LUT cim_column" in out, err
