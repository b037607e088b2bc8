"""Shared helpers for the benchmark scripts (plain scripts, not timed tests)."""

from __future__ import annotations

import os
import platform
import subprocess


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
