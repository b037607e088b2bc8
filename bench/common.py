"""Shared helpers for the benchmark scripts (plain scripts, not timed tests)."""

from __future__ import annotations

import os
import platform
import subprocess
import time


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ng = subprocess.run(["ngspice", "-v"], capture_output=True, text=True).stdout
    ngv = next((l.strip("* ").strip() for l in ng.splitlines() if "ngspice-" in l), "ngspice ?")
    return f"{os.cpu_count()} cores, {cpu}; {ngv}; Python {platform.python_version()}"


def timed_rounds(fns: dict, repeat: int) -> dict:
    """Best (cpu, wall) seconds of each function, timed interleaved round by round."""
    best = {k: [float("inf"), float("inf")] for k in fns}
    for f in fns.values():
        f()  # warm-up
    for _ in range(repeat):
        for k, f in fns.items():
            c0, w0 = time.process_time(), time.perf_counter()
            f()
            c1, w1 = time.process_time(), time.perf_counter()
            best[k][0] = min(best[k][0], c1 - c0)
            best[k][1] = min(best[k][1], w1 - w0)
    return best
