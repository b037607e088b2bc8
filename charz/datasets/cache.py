"""The decoded-array cache: one ``.npz`` per decoded split under ``<charz cache>/datasets/decoded/`` (the charz
cache folder is ``CHARZ_CACHE_DIR``, else ``$XDG_CACHE_HOME/charz``, else ``~/.cache/charz``).

An entry's key is the SHA-256 of the layout, the split, the limit (None for a whole split), the cache format
and the identity of every source: a file's sha256, or for a folder of images each file's relative path, size
and modification time. So an entry is used again only for the same bytes (a copy moved elsewhere still hits),
and a changed file is decoded again. Entries carry their key and are written atomically (a temporary file in
the same folder, then a rename); an entry that cannot be read or holds another key is a miss, said once on
stderr, and is overwritten. A cache that cannot be written costs only the speed-up (one warning on stderr).
No pickle: arrays and a JSON header only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..core.resources import cache_root

FORMAT = 1
"""Bump when decoding changes what an entry holds (old entries then miss)."""

_DIGESTS: dict[tuple[str, int, int], str] = {}
_WARNED: set[str] = set()


def cache_dir() -> Path:
    """Where decoded splits are kept: ``<charz cache>/datasets/decoded``."""
    return cache_root() / "datasets" / "decoded"


def file_digest(path: Path) -> str:
    """The sha256 (hex) of *path*'s bytes (remembered for this process while its size and mtime stay)."""
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]


def listing_digest(root: Path, files: list[Path]) -> str:
    """The sha256 (hex) of the relative path, size and mtime (ns) of each of *files* under *root*."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def make_key(layout: str, split: str, limit: int | None, sources: list[str]) -> str:
    """The entry key (sha256 hex) of a decoded split."""
    text = json.dumps({"format": FORMAT, "layout": layout, "split": split, "limit": limit, "sources": sources},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def entry_path(key: str) -> Path:
    """The file of the entry *key*."""
    return cache_dir() / f"{key}.npz"


def get(key: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None:
    """(images, labels, classes) of the entry *key*, or None (a miss)."""
    path = entry_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("key") != key:
                _warn(f"decoded-dataset cache entry {path} holds another key; it is ignored and decoded again")
                return None
            images, labels = z["images"], z["labels"]
        if images.dtype != np.uint8 or images.ndim != 4 or labels.dtype != np.int64 or len(labels) != len(images):
            raise ValueError("arrays of the wrong type or shape")
        return images, labels, tuple(meta["classes"])
    except Exception as exc:  # noqa: BLE001 - a damaged entry is a miss, decoded again and overwritten
        _warn(f"decoded-dataset cache entry {path} cannot be read ({type(exc).__name__}); it is decoded again")
        return None


def peek(key: str) -> dict | None:
    """The JSON header of the entry *key* (``classes``, ``shape``, ``count``, ...) without reading its arrays, or
    None when there is no readable entry of that key."""
    path = entry_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
    except Exception:  # noqa: BLE001 - a damaged entry is reported (and replaced) by get() when it is loaded
        return None
    return meta if meta.get("key") == key else None


def put(key: str, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], about: dict) -> Path | None:
    """Store a decoded split under *key* atomically; its path, or None when the cache cannot be written."""
    path = entry_path(key)
    meta = dict(about, key=key, classes=list(classes), format=FORMAT, count=int(len(labels)),
                shape=[int(s) for s in images.shape[1:]])
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{key}.", suffix=".part.npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, images=images, labels=labels,
                     meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        os.replace(tmp, path)
        tmp = None
        return path
    except OSError as exc:
        _warn(f"cannot write the decoded-dataset cache in {path.parent} ({exc.strerror or exc}); "
              "datasets are decoded again next time")
        return None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _warn(text: str) -> None:
    if text not in _WARNED:
        _WARNED.add(text)
        print(f"charz: warning: {text}", file=sys.stderr)
