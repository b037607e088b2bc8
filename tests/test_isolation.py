"""Issue 11, items 1, 2, 6, 7, 12: nothing foreign reaches ngspice, the cache cannot be fooled or emptied
of other people's files, and deterministic deck errors are named, not retried. Every test reproduces the
probe that found the defect, on real ngspice runs."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from charz.core import pdk as P
from charz.core.errors import DeckError, ParameterError
from charz.core.lut import LUT
from charz.netlist.spice import Netlist, deck_path, mos
from charz.sim import engine
from charz.sim.cache import Cache
from charz.sim.executor import InlineExecutor, run_jobs
from charz.sim.runner import JobFailure, SimJob, execute
from tests.helpers import charz, inverter

ROOT = Path(__file__).resolve().parent.parent
CARD = P.get("ptm16hp").path


def _bitcell(tmp, name, cwd, env=None, workers="0"):
    out = tmp / name
    r = charz("characterize", "bitcell8t", "--vdd", "0.7", "--no-fit-check", "--quiet", "--workers", workers,
              "-o", str(out), cwd=cwd, env=dict(env or {}, CHARZ_CACHE_DIR=str(tmp / f"cache_{name}")))
    assert r.returncode == 0, r.stderr
    return LUT.load(out)


# ---- 1: start-up files ------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["0", "1"])
def test_spiceinit_in_the_working_directory_is_not_read(tmp_path, workers):
    """The probe: a .spiceinit with a shell command and a solver option in the working directory. Before
    the fix the command ran and gmin=1e-7 turned the 67 nA leakage into 486 nA, cached under the normal key."""
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    pwned = tmp_path / "pwned"
    (hostile / ".spiceinit").write_text(f"shell touch {pwned}\noption gmin=1e-7\nset num_threads=2\n")
    clean = tmp_path / "clean"
    clean.mkdir()
    a = _bitcell(tmp_path, f"hostile{workers}", hostile, workers=workers)
    b = _bitcell(tmp_path, f"clean{workers}", clean, workers=workers)
    assert not pwned.exists()
    leak = a.value("i_leak", vdd=0.7, temp=27)
    assert 60e-9 < leak < 75e-9  # 67 nA, not the 486 nA of gmin = 1e-7
    for name in a.tables:
        np.testing.assert_array_equal(a.tables[name], b.tables[name])


def test_spinit_from_the_environment_is_not_read(tmp_path):
    """SPICE_SCRIPTS names the folder of ngspice's system start-up file; charz points it at its own."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    pwned = tmp_path / "pwned_spinit"
    (scripts / "spinit").write_text(f"shell touch {pwned}\n")
    _bitcell(tmp_path, "spinit", tmp_path, env={"SPICE_SCRIPTS": str(scripts)})
    assert not pwned.exists()


def test_ngspice_batch_runs_read_only_charz_start_up_files(tmp_path, monkeypatch):
    pwned = tmp_path / "pwned_batch"
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "spinit").write_text(f"shell touch {pwned}\n")
    monkeypatch.setenv("SPICE_SCRIPTS", str(scripts))
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".spiceinit").write_text(f"shell touch {pwned}\n")
    env, cwd = engine.batch_environment()
    deck = tmp_path / "deck.cir"
    deck.write_text("* divider\nv1 a 0 1\nr1 a b 1k\nr2 b 0 1k\n.op\n.print dc v(b)\n.end\n")
    r = subprocess.run(["ngspice", "-b", str(deck)], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not pwned.exists()
    assert (cwd / ".spiceinit").read_text().splitlines()[1:] == list(engine.STARTUP_COMMANDS)


def test_startup_is_recorded_and_the_key_covers_it():
    from charz.sim.runner import PRELOAD_COMMANDS

    rec = engine.startup_record()
    assert rec["commands"] == ["set num_threads=1", "set ngbehavior=hsa"]
    # the start-up files hold exactly the commands the cache key covers
    assert tuple(rec["commands"]) == PRELOAD_COMMANDS


# ---- 2: card paths ----------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", ["pdk sp", "x\n.control\nshell touch PWNED\n.endc\n", "quote'\"$(id);x"])
def test_card_folder_names_never_reach_the_deck(tmp_path, folder):
    """The probe: CHARZ_PDK_PATH="/tmp/pdk sp" failed every run as "did not converge", and a folder name
    with newlines and .control lines ran a shell command. Now the deck includes a private copy."""
    pwned = tmp_path / "PWNED"
    d = tmp_path / folder.replace("PWNED", str(pwned))
    d.mkdir(parents=True)
    shutil.copy(CARD, d / CARD.name)
    lut = _bitcell(tmp_path, "card", tmp_path, env={"CHARZ_PDK_PATH": str(d)})
    assert not pwned.exists()
    assert 60e-9 < lut.value("i_leak", vdd=0.7, temp=27) < 75e-9


def test_unsafe_card_path_is_refused_in_deck_text(tmp_path):
    nl = inverter()
    weird = tmp_path / "a b" / "ptm16hp.pm"
    with pytest.raises(ParameterError, match="cannot be written into a SPICE deck"):
        Netlist(**{**nl.__dict__, "card": weird}).text()
    with pytest.raises(ParameterError):
        deck_path("/tmp/x\n.control")
    # the engine never writes the job's path: it finds the verified card by content (here on the search
    # path, since the weird folder does not exist) and includes its private copy: same result
    res = execute(SimJob(Netlist(**{**nl.__dict__, "card": weird})))
    ok = execute(SimJob(nl))
    np.testing.assert_array_equal(res.runs[0]["v(out)"], ok.runs[0]["v(out)"])


def test_private_card_is_a_verified_content_addressed_copy(tmp_path):
    sha = P.sha256_file(CARD)
    cp = engine.private_card(CARD, sha)
    assert cp.name == f"{sha}.pm" and cp.read_bytes() == CARD.read_bytes()
    assert engine.is_deck_path(str(cp))
    assert oct(cp.parent.parent.stat().st_mode & 0o777) == "0o700"
    bad = tmp_path / "bad.pm"
    bad.write_text(CARD.read_text() + "\n* altered\n")
    with pytest.raises(Exception, match="changed while it was copied"):
        engine.private_card(bad, "0" * 64)


def test_absurd_transistor_sizes_are_refused():
    with pytest.raises(ParameterError, match="beyond"):
        mos("m1", "d", "g", "0", "0", "nmos", 1e3, 16e-9)  # 1 km: the --size w_rd=1e3 probe
    with pytest.raises(ParameterError, match="beyond"):
        mos("m1", "d", "g", "0", "0", "nmos", 64e-9, 1.0)


# ---- 6, 7: cache --------------------------------------------------------------------------------------
def test_swapped_cache_entries_are_misses_and_reported(tmp_path, capfd):
    """The probe: swapping two entry files gave a wrong LUT (V_BL off by 0.25 V) with exit code 0."""
    cache = Cache(tmp_path)
    jobs = [SimJob(inverter(v)) for v in (0.6, 0.7)]
    first = run_jobs(jobs, executor=InlineExecutor(), cache=cache, progress=False)
    a, b = sorted((tmp_path / "runs").rglob("*.npz"))
    tmp = a.with_name("swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    capfd.readouterr()
    again = run_jobs(jobs, executor=InlineExecutor(), cache=Cache(tmp_path), progress=False)
    err = capfd.readouterr().err
    assert again.hits == 0  # both were re-simulated
    assert err.count("holds the result of another key") == 2
    for x, y in zip(first.results, again.results):
        np.testing.assert_array_equal(x.runs[0]["v(out)"], y.runs[0]["v(out)"])
    # and the re-simulated results replaced the swapped files: a third run is all hits, no warning
    third = run_jobs(jobs, executor=InlineExecutor(), cache=Cache(tmp_path), progress=False)
    assert third.hits == 2 and "cache entry" not in capfd.readouterr().err


def test_entry_without_its_key_or_damaged_is_a_miss(tmp_path, capfd):
    cache = Cache(tmp_path)
    job = SimJob(inverter(0.65))
    key = job.key(engine.identity())
    cache.put(key, [{"x": np.arange(3.0)}], {})
    assert cache.get(key) is not None
    path = cache._path(key)
    with np.load(path) as z:
        meta = json.loads(bytes(z["__meta__"]).decode())
        arrays = {k: z[k] for k in z.files}
    meta.pop("key")
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    assert cache.get(key) is None and "carries no key" in capfd.readouterr().err
    path.write_bytes(b"not an npz")
    assert cache.get(key) is None and "cannot be read" in capfd.readouterr().err


def test_cache_clear_deletes_only_its_own_files(tmp_path):
    """The probe: `charz cache clear` deleted everything under runs/ and failed/ and said "cleared 0 entries"."""
    cache = Cache(tmp_path)
    keys = [f"{i:064x}" for i in (1, 2, 3)]
    for k in keys:
        cache.put(k, [{"v": np.ones(4)}], {})
    cache.failed_path(keys[0]).write_text("* deck\n")
    part = cache._path(keys[1]).with_name(f"{keys[1]}.abc123.part.npz")
    part.write_bytes(b"half")
    foreign = [tmp_path / "runs" / "notes.txt", tmp_path / "runs" / "00" / "mine.npz",
               tmp_path / "failed" / "keep.cir", tmp_path / "other" / "x.npz",
               tmp_path / "runs" / "ab" / ("a" * 64 + ".npz")]  # a key-named file filed under the wrong prefix
    for f in foreign:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("not charz's")
    assert cache.info()["entries"] == 3
    r = charz("cache", "clear", cwd=tmp_path, env={"CHARZ_CACHE_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "cleared 3 entries" in r.stdout and "1 unfinished writes" in r.stdout and "1 saved netlists" in r.stdout
    assert all(f.exists() for f in foreign)
    assert not any(cache._path(k).exists() for k in keys) and not part.exists()
    r = charz("cache", "clear", cwd=tmp_path, env={"CHARZ_CACHE_DIR": str(tmp_path)})
    assert "cleared 0 entries" in r.stdout and all(f.exists() for f in foreign)


# ---- 12: deterministic failures -----------------------------------------------------------------------
def _deck(body, card=None):
    p = P.get("ptm16hp")
    return Netlist("probe", "probe deck", (), tuple(body), card or p.path, p.sha256, ".tran 1p 20p",
                   ("time", "v(d)"), 27.0)


class _Spy:
    """Counts the engine's deck loads while passing them on to the real engine."""

    def __init__(self, monkeypatch):
        from charz.sim import runner

        self.loads = 0
        real = runner._engine()
        orig = real.run

        def run(*a, **k):
            self.loads += 1
            return orig(*a, **k)

        monkeypatch.setattr(real, "run", run)


def test_fatal_device_parameter_is_named_and_not_retried(monkeypatch):
    """The probe: BSIM4's "Effective channel length <= 0" was retried over 3 option tiers and reported as
    "did not converge"."""
    spy = _Spy(monkeypatch)
    body = ["vd d 0 0.8", "vg g 0 0.8", mos("m1", "d", "g", "0", "0", "nmos", 32e-9, 1e-12)]
    res = execute(SimJob(_deck(body)))
    assert isinstance(res, JobFailure) and res.kind == "deck"
    assert "Effective channel length <= 0" in res.error and "not retried" in res.error
    assert "converge" not in res.error
    assert spy.loads == 1


def test_missing_model_or_include_is_named_and_not_retried(monkeypatch, tmp_path):
    spy = _Spy(monkeypatch)
    body = ["vd d 0 0.8", "vg g 0 0.8", mos("m1", "d", "g", "0", "0", "nosuch", 32e-9, 16e-9)]
    res = execute(SimJob(_deck(body)))
    assert isinstance(res, JobFailure) and res.kind == "deck" and "valid modelname" in res.error
    assert spy.loads == 1
    with pytest.raises(DeckError, match="Could not find include file"):
        engine.Engine().run("* t\n.include /nonexistent/card.pm\nv1 d 0 1\nr1 d 0 1k\n.tran 1p 10p\n.end\n",
                            ("v(d)",), timeout=10)


def test_nonconvergence_is_still_retried(monkeypatch):
    from tests.helpers import broken

    spy = _Spy(monkeypatch)
    res = execute(SimJob(broken()))
    assert isinstance(res, JobFailure) and res.kind == "nonconvergence" and spy.loads == 3


# ---- 15: time limit, rerun counts ---------------------------------------------------------------------
def test_timeout_option_limits_runs_and_is_recorded(tmp_path):
    env = {"CHARZ_CACHE_DIR": str(tmp_path / "cache")}
    base = ["characterize", "cim_column", "--rows", "8", "--vdd", "0.7", "--no-fit-check", "--quiet", "--workers", "0"]
    r = charz(*base, "--timeout", "1e-4", "-o", str(tmp_path / "short"), cwd=tmp_path, env=env)
    assert r.returncode == 4, r.stderr
    assert "0.0001 s time limit" in r.stderr and "RuntimeWarning" not in r.stderr
    assert re.search(r"simulations: (\d+) job\(s\): 0 from the cache, 0 simulated, \1 failed", r.stdout), r.stdout
    r = charz(*base, "-o", str(tmp_path / "ok"), cwd=tmp_path, env=dict(env, CHARZ_TIMEOUT="90"))
    assert r.returncode == 0, r.stderr
    sim = LUT.load(tmp_path / "ok").provenance["simulation"]
    assert sim["run_timeout_s"] == [90.0] and sim["run_timeout_source"] == "--timeout / CHARZ_TIMEOUT"
    assert sim["ngspice_startup"]["commands"] == list(engine.STARTUP_COMMANDS)
    r = charz(*base, "-o", str(tmp_path / "bad"), cwd=tmp_path, env=dict(env, CHARZ_TIMEOUT="soon"))
    assert r.returncode == 2 and "CHARZ_TIMEOUT" in r.stderr


def test_rerun_says_what_came_from_the_cache(tmp_path):
    env = {"CHARZ_CACHE_DIR": str(tmp_path / "cache")}
    args = ["characterize", "bitcell8t", "--vdd", "0.6,0.7", "--mc", "3", "--no-fit-check", "--quiet", "--workers", "0",
            "-o", str(tmp_path / "bc"), "--force"]
    first = charz(*args, cwd=tmp_path, env=env)
    again = charz(*args, cwd=tmp_path, env=env)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    n = int(first.stdout.split("simulations: ")[1].split(" job")[0])
    assert f"simulations: {n} job(s): 0 from the cache, {n} simulated, 0 failed" in first.stdout
    assert f"simulations: {n} job(s): {n} from the cache, 0 simulated, 0 failed" in again.stdout


def test_private_folders_of_killed_processes_are_removed(tmp_path):
    """A killed worker runs no exit handler; the next charz process removes its private folder."""
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # that process has exited
    base = Path(engine.tempfile.gettempdir()).resolve()
    stale = base / f"charz-ngspice-{pid}-test"
    stale.mkdir()
    (stale / ".spiceinit").write_text("* left behind\n")
    alive = base / f"charz-ngspice-{1}-test"  # pid 1 is alive: its folder is not ours to remove
    alive.mkdir(exist_ok=True)
    try:
        r = subprocess.run([sys.executable, "-c", "from charz.sim import engine; print(engine.private_dir())"],
                           capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert not stale.exists() and alive.exists()
        assert not Path(r.stdout.strip()).exists()  # its own folder went at exit
    finally:
        shutil.rmtree(alive, ignore_errors=True)
        shutil.rmtree(stale, ignore_errors=True)


def test_runs_after_halted_ones_are_whole_or_failed():
    """Found with `--timeout 1e-4`: a late "stopped" callback of a halted run ended the next run at once,
    which then returned truncated vectors as a success. Now every run is complete or a failure."""
    from charz.sim.runner import _ended_early

    nl = inverter(analysis=".tran 0.1p 120p")
    ref = execute(SimJob(nl))
    for _ in range(12):
        res = execute(SimJob(nl, timeout=1e-4))
        if isinstance(res, JobFailure):
            assert res.kind == "timeout", res.error
        else:
            np.testing.assert_array_equal(res.runs[0]["v(out)"], ref.runs[0]["v(out)"])
    again = execute(SimJob(nl))
    np.testing.assert_array_equal(again.runs[0]["v(out)"], ref.runs[0]["v(out)"])

    class Out:
        def __init__(self, t):
            self.vectors = {"time": np.asarray(t)}

    assert _ended_early(".tran 1p 120p", [Out([0, 60e-12])]).startswith("the transient ended at 6e-11 s")
    assert _ended_early(".tran 1e-12 1.2e-10", [Out([0, 1.2e-10])]) == ""
    assert _ended_early(".dc v1 0 1 0.1", [Out([0])]) == ""
