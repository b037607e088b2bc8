"""CIFAR-10, binary version: ``cifar-10-batches-bin/`` with ``data_batch_1.bin`` .. ``data_batch_5.bin`` (the
train split), ``test_batch.bin`` (test) and ``batches.meta.txt`` (the class names, one a line), as a folder or
inside the official ``cifar-10-binary.tar.gz``.

A batch file is a sequence of 3073-byte records: one label byte, then the 32 x 32 red plane, the green plane
and the blue plane (row-major). The python version of CIFAR-10 is a pickle: charz never unpickles a dataset
file and refuses it with a message pointing at the binary version (:func:`refuse_pickle`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import DataError
from .archive import iter_tar

SIDE = 32
RECORD = 1 + 3 * SIDE * SIDE
"""Bytes per record: the label byte and three 32 x 32 planes."""

FOLDER = "cifar-10-batches-bin"
"""The folder name of the binary version (inside its archive, too)."""

PY_FOLDER = "cifar-10-batches-py"
"""The folder name of the python (pickle) version, which is refused."""

FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
"""The batch files of each split."""

META = "batches.meta.txt"

PICKLE_HINT = ("charz never unpickles a dataset file (a pickle can run code when loaded): use CIFAR-10's binary "
               "version instead (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, "
               f"the folder {FOLDER}/)")


def is_pickle(head: bytes) -> bool:
    """Whether *head* (a file's first bytes) starts like a Python pickle of protocol 2 or later."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def refuse_pickle(path: Path, what: str = "a Python pickle") -> DataError:
    """The one-line error for a pickled dataset at *path* (to raise)."""
    return DataError(f"{path}: refused: {what}; {PICKLE_HINT}")


def decode_records(data: bytes, where: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(images N x 32 x 32 x 3 uint8, labels int64) of one batch file's bytes *data*; a size that is not a
    whole number of records, or a label outside ``0..n_classes-1``, is a :class:`DataError`."""
    if not data or len(data) % RECORD:
        raise DataError(f"{where}: {len(data)} bytes is not a whole number of CIFAR-10 records ({RECORD} bytes each: "
                        "a label byte and 3 x 32 x 32 pixels)")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() >= n_classes:
        raise DataError(f"{where}: label {int(labels.max())} in a dataset of {n_classes} classes "
                        "(not a CIFAR-10 binary batch?)")
    images = rec[:, 1:].reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def parse_meta(text: bytes, where: str) -> tuple[str, ...]:
    """The class names of ``batches.meta.txt`` (one a line, blank lines ignored)."""
    try:
        names = tuple(line.strip() for line in text.decode("utf-8").splitlines() if line.strip())
    except UnicodeDecodeError:
        raise DataError(f"{where}: not a text file of class names") from None
    if len(names) < 2 or len(set(names)) != len(names):
        raise DataError(f"{where}: expected distinct class names, one a line; found {len(names)}")
    return names


def folder_of(path: Path) -> Path | None:
    """The binary-version folder at *path*: *path* itself when it holds batch files, else its
    ``cifar-10-batches-bin`` sub-folder; None when neither."""
    for d in (path, path / FOLDER):
        if d.is_dir() and any((d / f).is_file() for fs in FILES.values() for f in fs):
            return d
    return None


def split_files(folder: Path, split: str) -> list[Path]:
    """The batch files of *split* in *folder*; a missing one is a :class:`DataError`."""
    files = [folder / f for f in FILES[split]]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(f"{folder}: the {split} split of CIFAR-10 needs {', '.join(FILES[split])}; "
                        f"missing {', '.join(missing)}")
    return files


def read_folder(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(images, labels, classes) of *split* from the folder *folder* (``batches.meta.txt`` gives the classes)."""
    meta = folder / META
    if not meta.is_file():
        raise DataError(f"{folder}: no {META} (the class names of the binary version)")
    classes = parse_meta(meta.read_bytes(), str(meta))
    parts = [decode_records(f.read_bytes(), str(f), len(classes)) for f in split_files(folder, split)]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), classes)


def tar_kind(path: Path) -> str | None:
    """``"bin"`` when the tar archive *path* holds ``cifar-10-batches-bin/``, ``"py"`` when it holds the pickled
    ``cifar-10-batches-py/``, None otherwise (judged by its first members)."""
    for i, (parts, _, _) in enumerate(iter_tar(path)):
        if FOLDER in parts[:-1]:
            return "bin"
        if PY_FOLDER in parts[:-1]:
            return "py"
        if i >= 20:
            break
    return None


def tar_sizes(path: Path) -> dict[str, int]:
    """Size in bytes of each ``cifar-10-batches-bin/`` file in the archive *path*, by file name."""
    return {parts[-1]: size for parts, size, _ in iter_tar(path) if len(parts) >= 2 and parts[-2] == FOLDER}


def read_tar(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(images, labels, classes) of *split* from the archive *path* (the official ``cifar-10-binary.tar.gz``),
    read in memory, never extracted."""
    wanted = set(FILES[split]) | {META}
    found: dict[str, bytes] = {}
    for parts, _, read in iter_tar(path):
        if len(parts) >= 2 and parts[-2] == FOLDER and parts[-1] in wanted:
            found[parts[-1]] = read()
    if META not in found:
        raise DataError(f"{path}: no {FOLDER}/{META} in the archive (the class names of the binary version)")
    missing = [f for f in FILES[split] if f not in found]
    if missing:
        raise DataError(f"{path}: the {split} split of CIFAR-10 needs {', '.join(FILES[split])}; the archive "
                        f"lacks {', '.join(missing)}")
    classes = parse_meta(found[META], f"{path}:{META}")
    parts = [decode_records(found[f], f"{path}:{f}", len(classes)) for f in FILES[split]]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), classes)
