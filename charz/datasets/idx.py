"""IDX files (MNIST, Fashion-MNIST): ``train-images-idx3-ubyte`` + ``train-labels-idx1-ubyte`` and the ``t10k``
pair of the test split, gzip-compressed (``.gz``) or raw.

An IDX file is a 4-byte magic number (two zero bytes, the element type, the number of dimensions), one
big-endian uint32 per dimension, then the elements. charz reads element type 0x08 (unsigned byte) only: images
with 3 dimensions (count, rows, columns), labels with 1 (count). The file must hold exactly the declared
number of bytes and the two files of a pair the same count; anything else is a one-line :class:`DataError`.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from .archive import open_maybe_gzip

UBYTE = 0x08
"""IDX element type code of unsigned bytes (the only one these datasets use)."""

MAX_BYTES = 1 << 33
"""The largest IDX payload charz reads (bytes, 8 GiB); a header declaring more is refused."""

PREFIX = {"train": "train", "test": "t10k"}
"""File-name prefix of each split."""


def pair_names(split: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(candidate image file names, candidate label file names) of *split*, in the order they are tried: the
    standard names ``t10k-images-idx3-ubyte`` (and ``.gz``), then the ``t10k-images.idx3-ubyte`` spelling."""
    p = PREFIX[split]
    names = []
    for kind, dims in (("images", 3), ("labels", 1)):
        stems = (f"{p}-{kind}-idx{dims}-ubyte", f"{p}-{kind}.idx{dims}-ubyte")
        names.append(tuple(f"{s}{ext}" for s in stems for ext in (".gz", "")))
    return names[0], names[1]


def find_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of *split* in *folder* or its ``raw/`` sub-folder (torchvision's layout), or
    None when the images file is not there. A missing labels file beside found images is a :class:`DataError`."""
    if split not in PREFIX:
        return None
    images, labels = pair_names(split)
    for d in (folder, folder / "raw"):
        img = next((d / n for n in images if (d / n).is_file()), None)
        if img is None:
            continue
        lab = next((d / n for n in labels if (d / n).is_file()), None)
        if lab is None:
            raise DataError(f"{img}: no labels file beside it (expected one of {', '.join(labels)} in {d})")
        return img, lab
    return None


def partner(images: Path) -> Path:
    """The labels file that goes with the IDX images file *images* (``-images-idx3-`` -> ``-labels-idx1-``)."""
    name = images.name
    for a, b in (("-images-idx3-", "-labels-idx1-"), ("-images.idx3-", "-labels.idx1-")):
        if a in name:
            cands = [images.with_name(name.replace(a, b))]
            cands += [c.with_name(c.name[:-3]) if c.name.endswith(".gz") else c.with_name(c.name + ".gz")
                      for c in list(cands)]
            for c in cands:
                if c.is_file():
                    return c
            raise DataError(f"{images}: no labels file beside it (expected {cands[0].name})")
    raise DataError(f"{images}: not an IDX images file name (expected NAME-images-idx3-ubyte[.gz])")


def read_header(path: Path, dims: int) -> tuple[int, ...]:
    """The shape *path* declares, checked: IDX magic, unsigned-byte elements, *dims* dimensions."""
    from .archive import read_head

    return _parse_header(read_head(path, 4 + 4 * dims), path, dims)


def _parse_header(head: bytes, path: Path, dims: int) -> tuple[int, ...]:
    if len(head) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(head)} bytes)")
    if head[0] != 0 or head[1] != 0:
        raise DataError(f"{path}: not an IDX file (magic number {head[:4].hex()}, expected 0000{UBYTE:02x}"
                        f"{dims:02x})")
    if head[2] != UBYTE:
        raise DataError(f"{path}: IDX element type 0x{head[2]:02x} is not supported (unsigned bytes, 0x08, only)")
    if head[3] != dims:
        what = "an images file (3 dimensions)" if dims == 3 else "a labels file (1 dimension)"
        raise DataError(f"{path}: IDX file with {head[3]} dimension(s) where {what} is expected")
    if len(head) < 4 + 4 * dims:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{dims}I", head[4:4 + 4 * dims])
    total = math.prod(shape)
    if total > MAX_BYTES:
        raise DataError(f"{path}: IDX header declares {total} bytes, more than charz reads ({MAX_BYTES})")
    if dims == 3 and (shape[1] == 0 or shape[2] == 0):
        raise DataError(f"{path}: IDX images of {shape[1]}x{shape[2]} pixels")
    return shape


def read_idx(path: Path, dims: int) -> np.ndarray:
    """The array of the IDX file *path* (uint8, *dims* dimensions), gzip or raw; the header is checked and the
    file must hold exactly the declared bytes (one-line :class:`DataError` otherwise)."""
    try:
        with open_maybe_gzip(path) as fh:
            head = fh.read(4)
            head += fh.read(4 * head[3]) if len(head) == 4 and head[3] == dims else b""
            shape = _parse_header(head, path, dims)
            total = math.prod(shape)
            data = fh.read(total)
            extra = fh.read(1)
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    if len(data) < total:
        raise DataError(f"{path}: truncated IDX file ({len(data)} of the {total} data bytes its header declares)")
    if extra:
        raise DataError(f"{path}: IDX file longer than its header declares ({total} data bytes)")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def load_pair(images_path: Path, labels_path: Path, classes: tuple[str, ...] | None = None
              ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(images N x H x W x 1 uint8, labels int64, classes) of an IDX pair. Without *classes*, the classes are
    ``"0"``, ``"1"``, ... up to the largest label; with them, a label outside the list is a :class:`DataError`."""
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1).astype(np.int64)
    if labels.shape[0] != images.shape[0]:
        raise DataError(f"{labels_path}: {labels.shape[0]} labels for the {images.shape[0]} images of {images_path}")
    if classes is None:
        classes = tuple(str(i) for i in range(int(labels.max()) + 1 if labels.size else 0))
    elif labels.size and labels.max() >= len(classes):
        raise DataError(f"{labels_path}: label {int(labels.max())} where the dataset has {len(classes)} classes")
    return images[..., None], labels, tuple(classes)
