"""Content-addressed result cache.

A key is the SHA-256 of a canonical description of the run: the deck with the card include replaced
by the card's sha256, the Monte Carlo alter values, ngspice's identity, the commands sent before
every load, the option tier that succeeded first, and the recipe (measurement-code) version. The value
is the saved vectors of every run of the job, as an ``.npz`` (no pickle). Writes are atomic, so a
killed sweep leaves only complete entries and a restart recomputes nothing already finished.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def default_dir() -> Path:
    env = os.environ.get("CHARZ_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "charz"


class Cache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_dir()

    def _path(self, key: str) -> Path:
        return self.root / "runs" / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["__meta__"]).decode())
                runs = [
                    {name: z[f"r{i}_{j}"] for j, name in enumerate(meta["names"])} for i in range(meta["n_runs"])
                ]
        except Exception:
            # a damaged entry is a miss; it will be recomputed and overwritten
            return None
        meta["runs"] = runs
        return meta

    def put(self, key: str, runs: list[dict[str, np.ndarray]], meta: dict) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        names = list(runs[0]) if runs else []
        head = dict(meta, names=names, n_runs=len(runs))
        arrays = {"__meta__": np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)}
        for i, r in enumerate(runs):
            for j, name in enumerate(names):
                arrays[f"r{i}_{j}"] = np.asarray(r[name])
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part.npz")
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def info(self) -> dict:
        n = 0
        size = 0
        runs = self.root / "runs"
        if runs.is_dir():
            for p in runs.rglob("*.npz"):
                n += 1
                size += p.stat().st_size
        failed = len(list((self.root / "failed").glob("*.cir"))) if (self.root / "failed").is_dir() else 0
        return {"path": str(self.root), "entries": n, "bytes": size, "failed_netlists": failed}

    def clear(self) -> dict:
        info = self.info()
        for sub in ("runs", "failed"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
        return info

    def failed_path(self, key: str) -> Path:
        d = self.root / "failed"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{key}.cir"
