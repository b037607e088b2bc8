"""Content-addressed result cache.

A key is the SHA-256 of a canonical description of the run: the deck with the card include replaced
by the card's sha256, the Monte Carlo alter values, ngspice's identity, the commands sent before
every load, the option tier that succeeded first, and the recipe (measurement-code) version. The value
is the saved vectors of every run of the job, as an ``.npz`` (no pickle). Writes are atomic, so a
killed sweep leaves only complete entries and a restart recomputes nothing already finished.

Every entry carries its own key: an entry whose key differs from the one it is filed under (a file
moved, swapped or copied over another) or that cannot be read is a miss, reported once on stderr and
overwritten by the re-simulated result. ``clear`` deletes only charz's own files (entries, their
temporary parts, saved netlists of failed runs, named by their 64-hex key) and reports what it deleted.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..core.resources import cache_root

_KEY = re.compile(r"^[0-9a-f]{64}$")
_ENTRY = re.compile(r"^([0-9a-f]{64})\.npz$")
_PART = re.compile(r"^([0-9a-f]{64})\.[A-Za-z0-9_]+\.part\.npz$")
_FAILED = re.compile(r"^([0-9a-f]{64})\.cir$")


def default_dir() -> Path:
    """The cache folder: ``CHARZ_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/charz``, else
    ``~/.cache/charz``."""
    return cache_root()


class Cache:
    """The result store under *root* (default :func:`default_dir`)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_dir()
        self.rejected: list[tuple[Path, str]] = []
        """Entries found but not used by this instance: (path, why)."""

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"cache key {key!r} is not a sha256 hex digest")
        return self.root / "runs" / key[:2] / f"{key}.npz"

    def _reject(self, path: Path, why: str) -> None:
        self.rejected.append((path, why))
        if len(self.rejected) <= 3:
            more = "" if len(self.rejected) < 3 else " (further such entries of this sweep are not listed)"
            print(f"charz: warning: cache entry {path} {why}; it is ignored and simulated again{more}", file=sys.stderr)

    def get(self, key: str) -> dict | None:
        """The entry filed under *key*, or None (a miss) when there is none, it cannot be read, or it
        holds the result of another key."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["__meta__"]).decode())
                if meta.get("key") != key:
                    self._reject(path, "holds the result of another key (moved, copied or altered)"
                                 if meta.get("key") else "carries no key (written by an older charz or not by charz)")
                    return None
                runs = [
                    {name: z[f"r{i}_{j}"] for j, name in enumerate(meta["names"])} for i in range(meta["n_runs"])
                ]
        except Exception as exc:
            # a damaged entry is a miss; it will be recomputed and overwritten
            self._reject(path, f"cannot be read ({type(exc).__name__})")
            return None
        meta["runs"] = runs
        return meta

    def put(self, key: str, runs: list[dict[str, np.ndarray]], meta: dict) -> None:
        """Store *runs* under *key* atomically (the entry records its key)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        names = list(runs[0]) if runs else []
        head = dict(meta, names=names, n_runs=len(runs), key=key)
        arrays = {"__meta__": np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)}
        for i, r in enumerate(runs):
            for j, name in enumerate(names):
                arrays[f"r{i}_{j}"] = np.asarray(r[name])
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{key}.", suffix=".part.npz")
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _own_files(self) -> dict[str, list[Path]]:
        """charz's own files: entries ``runs/<k[:2]>/<k>.npz``, their temporary parts, and saved netlists
        ``failed/<k>.cir`` (k = a 64-hex key). Anything else under the cache folder is not charz's."""
        out: dict[str, list[Path]] = {"entries": [], "parts": [], "failed": []}
        runs = self.root / "runs"
        if runs.is_dir():
            for sub in runs.iterdir():
                if not (sub.is_dir() and not sub.is_symlink() and re.fullmatch(r"[0-9a-f]{2}", sub.name)):
                    continue
                for p in sub.iterdir():
                    if not p.is_file() or p.is_symlink():
                        continue
                    m = _ENTRY.match(p.name) or _PART.match(p.name)
                    if m and m.group(1)[:2] == sub.name:
                        out["entries" if _ENTRY.match(p.name) else "parts"].append(p)
        failed = self.root / "failed"
        if failed.is_dir():
            out["failed"] = [p for p in failed.iterdir() if p.is_file() and not p.is_symlink() and _FAILED.match(p.name)]
        return out

    def info(self) -> dict:
        """Location, entry count and size, saved failed netlists (charz's own files only)."""
        own = self._own_files()
        size = sum(p.stat().st_size for p in own["entries"])
        return {"path": str(self.root), "entries": len(own["entries"]), "bytes": size,
                "failed_netlists": len(own["failed"])}

    def clear(self) -> dict:
        """Delete charz's own files (never anything else) and return the true counts of what was deleted."""
        own = self._own_files()
        deleted = {"entries": 0, "bytes": 0, "parts": 0, "failed_netlists": 0}
        for kind, paths in own.items():
            for p in paths:
                try:
                    size = p.stat().st_size
                    p.unlink()
                except FileNotFoundError:
                    continue
                if kind == "entries":
                    deleted["entries"] += 1
                    deleted["bytes"] += size
                else:
                    deleted["parts" if kind == "parts" else "failed_netlists"] += 1
        for d in [*(self.root / "runs").glob("??"), self.root / "runs", self.root / "failed"]:
            try:
                d.rmdir()  # only when empty: a folder holding someone else's files stays
            except OSError:
                pass
        deleted["path"] = str(self.root)
        return deleted

    def failed_path(self, key: str) -> Path:
        """Where the deck of a failed job is saved."""
        if not _KEY.match(key):
            raise ValueError(f"cache key {key!r} is not a sha256 hex digest")
        d = self.root / "failed"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{key}.cir"
