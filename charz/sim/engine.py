"""The one module that owns ngspice.

Netlist text in, named waveforms out. The default path is ngspice's shared library through PySpice
1.5's cffi bindings; everything PySpice-specific stays in this file so the engine can be swapped.

Handled here (see ../shared/NGSPICE_NOTES.md):
- ngspice reads no start-up file charz did not write: the library is initialised inside a private folder
  (mode 0700) that holds charz's own ``spinit`` (``SPICE_SCRIPTS``) and ``.spiceinit``, so neither a
  ``.spiceinit`` in the user's working directory nor one in the home folder (found through the password
  database, not ``$HOME``) nor the system ``spinit`` is read; ``ngspice -b`` runs get the same folder
  (:func:`batch_environment`). What charz sends is :data:`STARTUP_COMMANDS` (recorded in provenance);
- model cards reach a deck as private, content-addressed copies (:func:`private_card`) whose path
  holds only safe characters, never as the user's path;
- ``set num_threads=1`` and ``set ngbehavior=hsa`` are also sent before every load;
- ``remcirc`` and ``destroy all`` after every circuit (memory stays flat over thousands of runs);
- stderr lines are classified by us (PySpice raises on harmless notes);
- runs go through ``bg_run`` and are halted after a time limit;
- Monte Carlo samples of one circuit run in one session with ``alter`` between runs.
Measurements are computed in NumPy from the saved vectors; ``.meas`` is not used.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..core.errors import DeckError, NgspiceMissingError, ParameterError, SimulationError, SimulationTimeout
from ..netlist.spice import is_deck_path
from ..core.pdk import file_sha256

log = logging.getLogger(__name__)

# Lines on ngspice's output that mean the analysis did not produce a valid result.
_FATAL = re.compile(
    r"(timestep too small|singular matrix|gmin stepping failed|source stepping failed|"
    r"iteration limit reached|no convergence|simulation\(s\) aborted|doanalyses|"
    r"error|unknown|could not find|cannot|can't)",
    re.IGNORECASE,
)
# Lines that mean the deck itself is wrong (a device parameter ngspice calls fatal, a missing include or
# model): the same deck fails the same way under any solver option, so such a run is not retried.
_DETERMINISTIC = re.compile(r"(fatal error|could not find include file|could not find a valid modelname|"
                            r"unknown model|unknown subckt|effective channel length)", re.IGNORECASE)
# Lines we know to be harmless even though they arrive on stderr or contain a trigger word.
_BENIGN = re.compile(
    r"(^warning:|^note:|dtox ignored|no compatibility mode|using spice|"
    r"reference value|^\s*$|supplies reduced|gmin stepping completed|source stepping completed|"
    r"^circuit:|^doing analysis|^background thread)",
    re.IGNORECASE,
)


@dataclasses.dataclass
class RunOutput:
    """Vectors of one run (name -> float64 array) and ngspice's output lines for that run."""

    vectors: dict[str, np.ndarray]
    log: list[str]
    analysis_seconds: float


# ---------------------------------------------------------------------------------------------------
# start-up files and model cards: nothing reaches ngspice that charz did not write or verify
STARTUP_COMMANDS = ("set num_threads=1", "set ngbehavior=hsa")
"""The settings charz gives ngspice, in its own start-up files and again before every circuit load:
one OpenMP thread per ngspice (parallel processes with Debian's default of 2 threads ran 80-250x
slower), and no compatibility-mode note (no effect on the PTM cards)."""

_STARTUP_TEXT = "* written by charz: the only start-up file this ngspice reads\n" + "\n".join(STARTUP_COMMANDS) + "\n"
_PRIVATE: Path | None = None
_PRIVATE_LOCK = threading.Lock()


def startup_record() -> dict:
    """What ngspice was started with, for cache keys and LUT provenance."""
    return {"commands": list(STARTUP_COMMANDS), "files": ["spinit", ".spiceinit"],
            "sha256": hashlib.sha256(_STARTUP_TEXT.encode()).hexdigest(),
            "note": "charz-written start-up files in a private folder; no user, home or system start-up file read"}


def private_dir() -> Path:
    """This process's private ngspice folder (mode 0700, removed at exit): charz's start-up files and the
    model-card copies live here. It is made under the temporary folder (``TMPDIR``); if that path holds
    characters a deck cannot take, under /tmp or /var/tmp."""
    global _PRIVATE
    with _PRIVATE_LOCK:
        if _PRIVATE is not None and _PRIVATE.is_dir():
            return _PRIVATE
        bases = [tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"]
        for base in bases:
            if not is_deck_path(os.path.realpath(base)) or not os.path.isdir(base):
                continue
            _remove_stale(Path(os.path.realpath(base)))
            try:
                d = Path(tempfile.mkdtemp(prefix=f"charz-ngspice-{os.getpid()}-", dir=os.path.realpath(base)))
            except OSError:
                continue
            for name in ("spinit", ".spiceinit"):
                (d / name).write_text(_STARTUP_TEXT)
            (d / "cards").mkdir(mode=0o700)
            atexit.register(shutil.rmtree, d, True)
            _PRIVATE = d
            return d
        raise ParameterError(f"no temporary folder with a plain path is writable (tried {', '.join(bases)}): set "
                             f"TMPDIR to a writable folder whose path has only letters, digits and _ . / + -")


def _remove_stale(base: Path) -> None:
    """Remove private folders left by charz processes that were killed (no exit handler ran): the folder
    name carries the pid; only folders of this user whose process is gone are removed."""
    for d in base.glob("charz-ngspice-*-*"):
        try:
            pid = int(d.name.split("-")[2])
            if pid == os.getpid() or d.stat().st_uid != os.getuid() or not d.is_dir() or d.is_symlink():
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, OSError):
            continue


def private_card(source: Path, sha256: str) -> Path:
    """A private, content-addressed copy of a verified model card: the path a deck includes. The copy
    is checked against *sha256* after copying (what ngspice reads is what was verified)."""
    if not re.fullmatch(r"[0-9a-f]{64}", str(sha256)):
        raise ParameterError(f"card sha256 {sha256!r} is not a sha256 hex digest")
    dst = private_dir() / "cards" / f"{sha256}.pm"
    if dst.is_file() and file_sha256(dst) == sha256:
        return dst
    tmp = dst.with_name(f"{sha256}.part")
    shutil.copyfile(source, tmp)
    if file_sha256(tmp) != sha256:
        tmp.unlink()
        raise SimulationError(f"model card {source} changed while it was copied (sha256 differs from {sha256[:12]}...): "
                              f"restore the verified card")
    os.replace(tmp, dst)
    return dst


@contextlib.contextmanager
def _in_private_dir():
    """Working directory and SPICE_SCRIPTS pointed at the private folder while ngspice initialises
    (that is when it reads spinit and .spiceinit), then restored."""
    d = private_dir()
    cwd = os.getcwd()
    old = os.environ.get("SPICE_SCRIPTS")
    os.environ["SPICE_SCRIPTS"] = str(d)
    os.chdir(d)
    try:
        yield d
    finally:
        os.chdir(cwd)
        if old is None:
            os.environ.pop("SPICE_SCRIPTS", None)
        else:
            os.environ["SPICE_SCRIPTS"] = old


def batch_environment() -> tuple[dict, Path]:
    """(environment, working directory) for an ``ngspice -b`` subprocess that reads only charz's start-up
    files: run it with ``cwd`` = the returned folder and absolute deck paths."""
    d = private_dir()
    env = dict(os.environ, SPICE_SCRIPTS=str(d), HOME=str(d))
    return env, d


def _load_pyspice():
    logging.getLogger("PySpice").setLevel(logging.CRITICAL)
    try:
        from PySpice.Spice.NgSpice import SimulationType
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise NgspiceMissingError(
            f"PySpice could not be imported ({exc}): run `make setup` (pip install -e .)"
        ) from exc
    # ngspice 39 is newer than PySpice 1.5 knows; its vector type table is the same as the last one.
    SimulationType.SIMULATION_TYPE.setdefault(39, SimulationType.SIMULATION_TYPE["last"])
    for v in range(40, 50):
        SimulationType.SIMULATION_TYPE.setdefault(v, SimulationType.SIMULATION_TYPE["last"])
    return NgSpiceShared, ffi


def _make_shared_class():
    NgSpiceShared, ffi = _load_pyspice()

    class _Shared(NgSpiceShared):
        """PySpice's binding with our own output handling: collect lines, judge them later."""

        def __init__(self):
            self.lines: list[str] = []
            self.done = threading.Event()
            self.done.set()
            self.cond = threading.Condition()
            self.starts = 0
            self.stops = 0
            super().__init__(ngspice_id=0, send_data=False, verbose=False)

        @staticmethod
        def _send_char(message_c, ngspice_id, user_data):
            self = ffi.from_handle(user_data)
            msg = ffi.string(message_c).decode("utf-8", "replace")
            prefix, _, content = msg.partition(" ")
            self.lines.append(content if prefix in ("stdout", "stderr") else msg)
            return 0

        @staticmethod
        def _background_thread_running(is_running, ngspice_id, user_data):
            # ngspice's flag means "no longer running": true = the background thread stopped. Starts and
            # stops are counted, so a late "stopped" call of an earlier (halted) run is never taken for
            # the end of the current one.
            self = ffi.from_handle(user_data)
            with self.cond:
                if is_running:
                    self.stops += 1
                    self.done.set()
                else:
                    self.starts += 1
                    self.done.clear()
                self.cond.notify_all()
            return 0

        def command(self, cmd: str) -> None:
            if len(cmd) > 1000:
                raise SimulationError(f"internal: ngspice command too long ({len(cmd)} chars)")
            rc = self._ngspice_shared.ngSpice_Command(cmd.encode("ascii"))
            if rc:
                raise SimulationError(f"ngspice rejected the command {cmd.split()[0]!r} (rc={rc})")

        def running(self) -> bool:
            return bool(self._ngspice_shared.ngSpice_running())

        def vectors(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
            plot = ffi.string(self._ngspice_shared.ngSpice_CurPlot()).decode()
            out: dict[str, np.ndarray] = {}
            for name in names:
                info = self._ngspice_shared.ngGet_Vec_Info(f"{plot}.{name}".encode())
                if info == ffi.NULL or info.v_length <= 0:
                    continue
                n = info.v_length
                if info.v_realdata != ffi.NULL:
                    out[name] = np.frombuffer(ffi.buffer(info.v_realdata, n * 8), dtype=np.float64).copy()
                else:
                    raw = np.frombuffer(ffi.buffer(info.v_compdata, n * 16), dtype=np.float64)
                    out[name] = raw[0::2] + 1j * raw[1::2]
            return out

    return _Shared


_SHARED = None


def _shared():
    """The process's one ngspice instance (ngspice's shared library has global state)."""
    global _SHARED
    if _SHARED is None:
        try:
            cls = _make_shared_class()
            with _in_private_dir():
                _SHARED = cls()
        except OSError as exc:
            raise NgspiceMissingError(
                f"libngspice could not be loaded ({exc}): install it with "
                f"`apt-get install -y ngspice libngspice0-dev` (or run `make setup`)"
            ) from exc
    return _SHARED


_IDENTITY: dict | None = None


def identity() -> dict:
    """ngspice version and build information, as part of every cache key and LUT provenance."""
    global _IDENTITY
    if _IDENTITY is not None:
        return dict(_IDENTITY)
    sh = _shared()
    sh.lines.clear()
    sh.command("version -f")
    text = [l for l in sh.lines if l.strip()]
    version = ""
    for line in text:
        m = re.search(r"ngspice-(\d+(?:\.\d+)?)", line)
        if m:
            version = m.group(1)
            break
    flags = [l.strip("* ").strip() for l in text if any(k in l for k in ("Creation", "compiled", "Build", "build", "OpenMP", "XSPICE", "CIDER", "KLU", "Shared"))]
    _IDENTITY = {"version": version, "build": flags, "library": sh.library_path}
    return dict(_IDENTITY)


class Engine:
    """Runs decks in this process's ngspice. One instance per process; not thread-safe."""

    def __init__(self) -> None:
        self.sh = _shared()
        self.stuck = False
        """True when ngspice did not stop after a halt: later runs are refused, never mixed with it."""
        self.runs = 0
        self.last_ngspice_seconds = float("nan")

    def _reset(self) -> None:
        sh = self.sh
        for cmd in ("destroy all", "remcirc"):
            try:
                sh.command(cmd)
            except SimulationError:
                pass

    def _load(self, text: str) -> None:
        from PySpice.Spice.NgSpice.Shared import ffi

        sh = self.sh
        for cmd in STARTUP_COMMANDS:
            sh.command(cmd)
        lines = [l for l in text.splitlines() if l.strip()]
        keep = [ffi.new("char[]", l.encode("ascii")) for l in lines] + [ffi.NULL]
        arr = ffi.new("char *[]", keep)
        sh.lines.clear()
        rc = sh._ngspice_shared.ngSpice_Circ(arr)
        bad = [l for l in sh.lines if _FATAL.search(l) and not _BENIGN.search(l)]
        if rc or bad:
            # a deck ngspice cannot load fails the same way under any solver option: not retried
            raise DeckError("ngspice rejected the netlist: " + " | ".join(bad[-5:] or sh.lines[-5:]), list(sh.lines))

    def _run_once(self, save: tuple[str, ...], timeout: float) -> RunOutput:
        sh = self.sh
        if self.stuck:
            raise SimulationError("ngspice did not stop after an earlier time-out in this process: rerun the command "
                                  "(finished simulations are cached)")
        sh.lines.clear()
        t0 = time.perf_counter()
        with sh.cond:
            first = sh.starts
        sh.done.clear()
        sh.command("bg_run")

        # done: this run's thread has started (a late "stopped" call of a halted run cannot count) and the
        # latest call says stopped, and ngspice agrees (its flag can lag the callback by a moment)
        deadline = t0 + timeout
        finished = False
        while True:
            remaining = deadline - time.perf_counter()
            with sh.cond:
                signalled = sh.starts > first and sh.done.is_set()
                if not signalled:
                    if remaining <= 0:
                        break
                    sh.cond.wait(remaining)  # woken by the start / stop callbacks
                    continue
            if not sh.running():
                finished = True
                break
            if remaining <= 0:
                break
            time.sleep(0.0002)
        if not finished:
            # halt only a thread that has started: a bg_halt that reaches ngspice while its background thread
            # is still being created crashed libngspice 39 now and then (a segmentation fault of the whole
            # process, seen with limits of 0.1 ms on a loaded machine)
            with sh.cond:
                sh.cond.wait_for(lambda: sh.starts > first, 5.0)
            sh.command("bg_halt")
            self._settle(5.0)
            raise SimulationTimeout(f"run exceeded its {timeout:g} s time limit and was halted (raise it with "
                                    f"--timeout or CHARZ_TIMEOUT)")
        dt = time.perf_counter() - t0
        self.runs += 1
        logl = list(sh.lines)
        bad = [l for l in logl if _FATAL.search(l) and not _BENIGN.search(l)]
        vecs = sh.vectors(save)
        missing = [n for n in save if n not in vecs]
        if bad or missing:
            why = " | ".join(bad[-4:]) if bad else f"no data for {', '.join(missing[:4])}"
            fatal = [l for l in bad if _DETERMINISTIC.search(l)]
            if fatal:
                raise DeckError(f"ngspice stopped on the deck: {fatal[0].strip()}", logl)
            raise SimulationError(f"ngspice run failed: {why}", logl)
        sh.command("destroy all")
        return RunOutput(vecs, logl, dt)

    def _settle(self, limit: float) -> None:
        """After ``bg_halt``: wait until every background thread has reported its stop and none runs, then a
        moment for ngspice's last output lines (they arrive from its own printing thread), so nothing of
        the halted run reaches the next one. An ngspice that does not stop marks this engine stuck."""
        sh = self.sh
        with sh.cond:
            ok = sh.cond.wait_for(lambda: sh.stops >= sh.starts, limit)
        deadline = time.perf_counter() + limit
        while sh.running() and time.perf_counter() < deadline:
            time.sleep(0.01)
        self.stuck = not ok or sh.running()
        time.sleep(0.05)
        sh.lines.clear()

    def _ngspice_analysis_time(self) -> float:
        """ngspice's own account of analysis time for the loaded circuit (all its runs; ms resolution)."""
        self.sh.lines.clear()
        self.sh.command("rusage time")
        for line in self.sh.lines:
            m = re.search(r"Total analysis time \(seconds\)\s*=\s*([0-9.eE+-]+)", line)
            if m:
                return float(m.group(1))
        return float("nan")

    def run(
        self,
        text: str,
        save: tuple[str, ...],
        alters: list[list[str]] | None = None,
        timeout: float = 60.0,
    ) -> list[RunOutput]:
        """Load *text*, run it once per entry of *alters* (each a list of ``alter`` commands; None =
        one nominal run) and return the saved vectors of every run. The circuit is removed afterwards."""
        self._load(text)
        try:
            outs = []
            for cmds in alters or [[]]:
                for c in cmds:
                    self.sh.command(c)
                outs.append(self._run_once(save, timeout))
            self.last_ngspice_seconds = self._ngspice_analysis_time()
            return outs
        finally:
            self._reset()


def check_available() -> str | None:
    """None when libngspice loads, else advice (used by `charz doctor`)."""
    try:
        _shared()
    except NgspiceMissingError as exc:
        return str(exc)
    return None
