"""Default LUTs and the PDK manifest are found by an installed (non-editable) charz, from any folder.

The search order of default LUTs (CHARZ_LUT_PATH, the installed LUTs, the checkout's lut/), that a path the
user gives is read as given, and the one-line error of a missing default are tested on this checkout; then
a wheel is built from a copy of the source tree (once per module), its listing checked (real LUT files and
the manifest, no model card), installed with ``pip --target`` and run from an empty folder with that
copy first on the import path.
"""

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from charz import cli
from charz.core import resources
from charz.core import lut as L
from charz.core.errors import LUTError

from tests.helpers import ROOT, charz, one_line_error

LUTS = ROOT / "lut"


def _copy_lut(src: Path, dst: Path) -> None:
    """Copy a LUT (both files) to the path *dst* (without suffix)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for a, b in zip(L.lut_files(src), L.lut_files(dst)):
        shutil.copyfile(a, b)


def _env(**extra) -> dict:
    e = {k: v for k, v in os.environ.items() if k != L.LUT_PATH_ENV}
    e.update(extra)
    return e


# ---- the search order (this checkout) ----------------------------------------------------------------------
def test_search_path_order(tmp_path, monkeypatch):
    monkeypatch.delenv(L.LUT_PATH_ENV, raising=False)
    # no CHARZ_LUT_PATH: the checkout's lut/ (the installed folder is a link to it here, listed once)
    assert [d.resolve() for d in L.lut_search_path()] == [LUTS.resolve()]
    assert L.find_default("ptm16hp", "cim_column") == LUTS / "ptm16hp" / "cim_column"
    # CHARZ_LUT_PATH comes first, folder by folder; a folder without the LUT is passed over
    empty, mine = tmp_path / "empty", tmp_path / "mine"
    empty.mkdir()
    _copy_lut(LUTS / "ptm16hp" / "comparator", mine / "ptm16hp" / "cim_column")
    monkeypatch.setenv(L.LUT_PATH_ENV, os.pathsep.join([str(empty), str(mine)]))
    assert L.lut_search_path()[:2] == [empty, mine]
    assert L.find_default("ptm16hp", "cim_column") == mine / "ptm16hp" / "cim_column"
    # what is not on CHARZ_LUT_PATH still comes from the checkout
    assert L.find_default("ptm16hp", "wht16") == LUTS / "ptm16hp" / "wht16"


def test_missing_default_is_one_line_naming_the_search_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(resources, "package_data", lambda *parts: None)
    monkeypatch.setattr(resources, "checkout_root", lambda: None)
    monkeypatch.setenv(L.LUT_PATH_ENV, str(tmp_path))
    with pytest.raises(LUTError, match="ptm16hp/cim_column not found") as e:
        L.find_default("ptm16hp", "cim_column")
    assert str(tmp_path) in str(e.value) and "CHARZ_LUT_PATH" in str(e.value)
    for argv in (["eval", "--chips", "1"], ["eval", "--network", "td_mac", "--chips", "1"],
                 ["eval", "--network", "wht", "--chips", "1"]):
        assert cli.main(argv) == 5
        err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
        assert len(err) == 1 and err[0].startswith("charz: error: default LUT ptm16hp/") and str(tmp_path) in err[0]


def test_report_folder_comes_from_the_search_path(tmp_path, monkeypatch):
    from charz import report

    monkeypatch.delenv(L.LUT_PATH_ENV, raising=False)
    assert report.default_lut_dir("ptm16hp", 5) == LUTS
    mine = tmp_path / "mine"
    _copy_lut(LUTS / "ptm16hp" / "adc_sar5", mine / "ptm16hp" / "adc_sar5")
    monkeypatch.setenv(L.LUT_PATH_ENV, str(mine))
    assert report.default_lut_dir("ptm16hp", 5) == mine
    assert report.default_lut_dir("ptm16hp", 4) == LUTS  # mine has no 4-bit converter
    with pytest.raises(LUTError, match="no converter LUT for ptm16hp at 2 bits") as e:
        report.default_lut_dir("ptm16hp", 2)
    assert str(mine) in str(e.value) and str(LUTS) in str(e.value)


def test_cli_default_comes_from_charz_lut_path(tmp_path):
    """A comparator LUT put on CHARZ_LUT_PATH as ptm16hp/cim_column is the one `charz eval` reads."""
    mine = tmp_path / "mine"
    _copy_lut(LUTS / "ptm16hp" / "comparator", mine / "ptm16hp" / "cim_column")
    work = tmp_path / "work"
    work.mkdir()
    r = charz("eval", "--chips", "1", env=_env(CHARZ_LUT_PATH=str(mine)), cwd=work)
    line = one_line_error(r, 2)
    assert str(mine / "ptm16hp" / "cim_column") in line and "'comparator' LUT" in line


def test_train_wht_reads_the_recipe_lut_from_the_search_path(tmp_path, monkeypatch, capsys):
    """The shipped recipe names its LUT lut/ptm16hp/wht16: it is looked for as ptm16hp/wht16 (here the
    sign-only LUT planted on CHARZ_LUT_PATH under that name), whatever the working folder."""
    from charz.network import wht as nw

    mine = tmp_path / "mine"
    _copy_lut(LUTS / "ptm16hp" / "wht16_sign", mine / "ptm16hp" / "wht16")
    monkeypatch.setenv(L.LUT_PATH_ENV, str(mine))
    monkeypatch.chdir(tmp_path)
    assert nw.load_shipped_wht().meta["recipe"]["lut"] == "lut/ptm16hp/wht16"
    got = {}

    class Trained:  # what train_digits_wht returns, without the minutes of training
        meta = {}

        @staticmethod
        def save(path):
            return path

    def train(**recipe):
        got.update(recipe)
        return Trained

    monkeypatch.setattr(nw, "train_digits_wht", train)
    assert cli.main(["train", "--network", "wht", "-o", str(tmp_path / "w.npz")]) == 0, capsys.readouterr().err
    assert got["lut"].block == "wht_column" and got["lut"].conditions["ternary"] is False  # the planted one


def test_a_given_path_is_read_as_given_never_searched(tmp_path):
    work = tmp_path / "work"
    _copy_lut(LUTS / "ptm16hp" / "cim_column", work / "mine" / "cim_column")
    env = _env(CHARZ_LUT_PATH=str(LUTS))
    # ptm16hp/cim_column is on the search path, but a given path is relative to the working folder
    for args in (["lut", "show", "ptm16hp/cim_column"], ["eval", "--lut", "ptm16hp/cim_column", "--chips", "1"]):
        line = one_line_error(charz(*args, env=env, cwd=work), 5)
        assert "ptm16hp/cim_column.json not found" in line
    r = charz("lut", "show", "mine/cim_column", env=env, cwd=work)
    assert r.returncode == 0 and "LUT cim_column" in r.stdout, r.stderr


# ---- an installed copy ------------------------------------------------------------------------------------
def _wheel_backend_here() -> bool:
    """True when this environment's setuptools builds wheels by itself (>= 70.1), so no download is needed."""
    try:
        v = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    return tuple(int(x) for x in v.split(".")[:2] if x.isdigit()) >= (70, 1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A wheel built from a copy of the source tree (with stray card files planted in lut/ and pdk_models/),
    installed with ``pip install --target``: (wheel path, site folder)."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(ROOT / "charz", src / "charz", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(LUTS, src / "lut", ignore=shutil.ignore_patterns("*.pm"))
    (src / "pdk_models").mkdir()
    shutil.copyfile(ROOT / "pdk_models" / "manifest.toml", src / "pdk_models" / "manifest.toml")
    for f in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / f, src / f)
    (src / "pdk_models" / "ptm16hp.pm").write_text("* a card file: never packaged\n")
    (src / "lut" / "ptm16hp" / "stray.pm").write_text("* a card file: never packaged\n")
    assert (src / "charz" / "data" / "lut").is_symlink()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = pip + ["wheel", "--no-deps", "-w", str(tmp / "whl"), str(src)]
    if _wheel_backend_here():
        build.insert(len(pip) + 1, "--no-build-isolation")
    r = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (whl,) = (tmp / "whl").glob("charz-*.whl")
    r = subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(whl)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return whl, tmp / "site"


def test_wheel_holds_the_luts_and_manifest_as_files_and_no_card(installed):
    whl, _ = installed
    with zipfile.ZipFile(whl) as z:
        infos = {i.filename: i for i in z.infolist()}
        assert "charz/data/manifest.toml" in infos
        assert z.read("charz/data/manifest.toml") == (ROOT / "pdk_models" / "manifest.toml").read_bytes()
        want = {f"charz/data/lut/{p.relative_to(LUTS).as_posix()}" for p in LUTS.glob("*/*")
                if p.suffix in (".json", ".npz")}
        assert want and want <= set(infos)
        assert z.read("charz/data/lut/ptm16hp/cim_column.npz") == (LUTS / "ptm16hp" / "cim_column.npz").read_bytes()
    assert not [n for n in infos if n.endswith(".pm")]
    assert not [n for n, i in infos.items() if (i.external_attr >> 16) & 0o170000 == 0o120000]  # no symlinks


def test_installed_copy_finds_its_luts_and_manifest_from_any_folder(installed, tmp_path):
    _, site = installed
    work = tmp_path / "work"
    work.mkdir()
    env = _env(PYTHONPATH=str(site))

    def run(*args):
        r = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=work, timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout

    out = run("-c", "import charz, charz.core.lut as L, charz.core.pdk as P\n"
                    "print(charz.__file__); print(L.find_default('ptm16hp', 'cim_column')); print(P.MANIFEST)\n"
                    "print(len(P.names())); print(*L.lut_search_path(), sep='|')")
    init, col, manifest, n, search = out.splitlines()
    site_r = site.resolve()
    assert Path(init).resolve() == site_r / "charz" / "__init__.py"  # the installed copy, not this checkout
    assert Path(col).resolve() == site_r / "charz" / "data" / "lut" / "ptm16hp" / "cim_column"
    assert not Path(col).is_symlink() and (Path(col).parent / "cim_column.npz").is_file()
    assert Path(manifest).resolve() == site_r / "charz" / "data" / "manifest.toml" and int(n) == 11
    assert [Path(d).resolve() for d in search.split("|")] == [site_r / "charz" / "data" / "lut"]

    assert "LUT cim_column" in run("-m", "charz.cli", "lut", "show", col)
    assert "TOPS/W" in run("-m", "charz.cli", "eval", "--chips", "1")
    assert "TOPS/W" in run("-m", "charz.cli", "eval", "--network", "td_mac", "--chips", "1")
