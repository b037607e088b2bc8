"""The one module that owns ngspice.

Netlist text in, named waveforms out. The default path is ngspice's shared library through PySpice
1.5's cffi bindings; everything PySpice-specific stays in this file so the engine can be swapped.

Handled here (see ../shared/NGSPICE_NOTES.md):
- ``set num_threads=1`` and ``set ngbehavior=hsa`` are sent before every load;
- ``remcirc`` and ``destroy all`` after every circuit (memory stays flat over thousands of runs);
- stderr lines are classified by us (PySpice raises on harmless notes);
- runs go through ``bg_run`` and are halted after a time limit;
- Monte Carlo samples of one circuit run in one session with ``alter`` between runs.
Measurements are computed in NumPy from the saved vectors; ``.meas`` is not used.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time

import numpy as np

from ..errors import NgspiceMissingError, SimulationError, SimulationTimeout

log = logging.getLogger(__name__)

# Lines on ngspice's output that mean the analysis did not produce a valid result.
_FATAL = re.compile(
    r"(timestep too small|singular matrix|gmin stepping failed|source stepping failed|"
    r"iteration limit reached|no convergence|simulation\(s\) aborted|doanalyses|"
    r"error|unknown|could not find|cannot|can't)",
    re.IGNORECASE,
)
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
            # ngspice calls this with is_running == False when bg_run starts? No: the flag is
            # "no longer running" in ngspice's API (true = thread stopped).
            self = ffi.from_handle(user_data)
            if is_running:
                self.done.set()
            else:
                self.done.clear()
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
        sh.command("set num_threads=1")
        sh.command("set ngbehavior=hsa")
        lines = [l for l in text.splitlines() if l.strip()]
        keep = [ffi.new("char[]", l.encode("ascii")) for l in lines] + [ffi.NULL]
        arr = ffi.new("char *[]", keep)
        sh.lines.clear()
        rc = sh._ngspice_shared.ngSpice_Circ(arr)
        bad = [l for l in sh.lines if _FATAL.search(l) and not _BENIGN.search(l)]
        if rc or bad:
            raise SimulationError("ngspice rejected the netlist: " + " | ".join(bad[-5:] or sh.lines[-5:]))

    def _run_once(self, save: tuple[str, ...], timeout: float) -> RunOutput:
        sh = self.sh
        sh.lines.clear()
        t0 = time.perf_counter()
        sh.done.clear()
        sh.command("bg_run")
        # wait for the background thread; the callback sets `done` when it stops
        if not sh.done.wait(timeout):
            sh.command("bg_halt")
            deadline = time.perf_counter() + 5.0
            while sh.running() and time.perf_counter() < deadline:
                time.sleep(0.01)
            raise SimulationTimeout(f"run exceeded its {timeout:g} s time limit and was halted")
        while sh.running():  # the flag can lag the callback by a moment
            time.sleep(0.0002)
        dt = time.perf_counter() - t0
        self.runs += 1
        logl = list(sh.lines)
        bad = [l for l in logl if _FATAL.search(l) and not _BENIGN.search(l)]
        vecs = sh.vectors(save)
        missing = [n for n in save if n not in vecs]
        if bad or missing:
            why = " | ".join(bad[-4:]) if bad else f"no data for {', '.join(missing[:4])}"
            raise SimulationError(f"ngspice run failed: {why}", logl)
        sh.command("destroy all")
        return RunOutput(vecs, logl, dt)

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
