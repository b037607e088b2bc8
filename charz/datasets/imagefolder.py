"""The image-folder layout: ``SPLIT/CLASS/*.png|jpg|jpeg``, as a folder, as ``SPLIT.tar.gz`` / ``SPLIT.tgz``
files in a folder, or as one ``.tar.gz`` / ``.tgz`` archive (members ``SPLIT/CLASS/FILE``, optionally under one
top folder, or ``CLASS/FILE`` in an archive named after its split).

Classes are the class-folder names in sorted order (label = position), images of a class in natural file-name
order (``2.png`` before ``10.png``), so the order does not depend on the file system or the archive. Images are
decoded with Pillow (PNG and JPEG only): greyscale images give C = 1, colour C = 3 (palette and alpha images are
converted to RGB, a mix of grey and colour images is all RGB); all images of a split must have one size.
Archives are read in memory, never extracted (:mod:`.archive`). Hidden files (names starting with ``.``) and
files with other extensions are ignored.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from .archive import is_tar_name, iter_tar, tar_stem

EXTENSIONS = (".png", ".jpg", ".jpeg")
"""Image file extensions read (case-insensitive)."""

MAX_PIXELS = 1 << 24
"""The largest image charz decodes (pixels); a larger one is refused before it is decoded."""

_GREY = {"1", "L", "LA"}
_COLOUR = {"RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La"}


@dataclass(frozen=True)
class Entry:
    """One image of a split: its class folder, file name, and where its bytes are (a file, or the bytes read
    from an archive)."""

    cls: str
    name: str
    path: Path | None = None
    data: bytes | None = None

    def where(self, source: Path) -> str:
        """A readable location of this image for messages."""
        return str(self.path) if self.path is not None else f"{source}:{self.cls}/{self.name}"


def natural_key(name: str) -> tuple:
    """Sort key putting ``2.png`` before ``10.png``."""
    return tuple((0, int(t), t) if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t)


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(EXTENSIONS)


def split_archive(folder: Path, split: str) -> Path | None:
    """``folder/SPLIT.tar.gz`` (or ``.tgz``, ``.tar``) when it is a file, else None."""
    for ext in (".tar.gz", ".tgz", ".tar"):
        p = folder / f"{split}{ext}"
        if p.is_file():
            return p
    return None


def folder_splits(folder: Path) -> list[str]:
    """The splits a folder in this layout offers: sub-folders holding class folders, and ``SPLIT.tar.gz`` files."""
    out = set()
    try:
        children = list(os.scandir(folder))
    except OSError:
        return []
    for e in children:
        if e.name.startswith("."):
            continue
        if e.is_dir() and _has_class_dirs(Path(e.path)):
            out.add(e.name)
        elif e.is_file() and is_tar_name(Path(e.name)):
            out.add(tar_stem(Path(e.name)))
    return sorted(out)


def _has_class_dirs(d: Path) -> bool:
    try:
        return any(e.is_dir() and not e.name.startswith(".") for e in os.scandir(d))
    except OSError:
        return False


def looks_like(folder: Path) -> bool:
    """Whether *folder* is in this layout (it offers at least one split)."""
    return bool(folder_splits(folder))


def _archive_split(parts: tuple[str, ...], stem: str) -> tuple[str, str, str] | None:
    """(split, class, file) of an archive member, or None when the member is not an image in this layout."""
    if not _is_image(parts[-1]) or any(p.startswith(".") for p in parts[:-1]):
        return None
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 4:
        return parts[1], parts[2], parts[3]
    if len(parts) == 2:
        return stem, parts[0], parts[1]
    return None


def scan_archive(path: Path, split: str | None, read: bool) -> dict[str, list[Entry]]:
    """Image entries per split of the archive *path* (only *split* when given); with *read*, their bytes."""
    stem = tar_stem(path)
    out: dict[str, list[Entry]] = {}
    for parts, _, reader in iter_tar(path):
        found = _archive_split(parts, stem)
        if found is None or (split is not None and found[0] != split):
            continue
        s, cls, name = found
        out.setdefault(s, []).append(Entry(cls, name, data=reader() if read else None))
    return out


def scan_folder(folder: Path) -> list[Entry]:
    """Image entries of the split folder *folder* (``CLASS/FILE``)."""
    out = []
    for c in sorted(os.scandir(folder), key=lambda e: e.name):
        if c.name.startswith(".") or not c.is_dir():
            continue
        for f in os.scandir(c.path):
            if _is_image(f.name) and f.is_file():
                out.append(Entry(c.name, f.name, path=Path(f.path)))
    return out


def entries(source: Path, split: str, read: bool = True) -> tuple[list[Entry], Path]:
    """(image entries of *split* in canonical order, the file or folder they come from) for *source*: a folder
    holding ``SPLIT/`` or ``SPLIT.tar.gz``, or an archive. A split that is not there is a :class:`DataError`."""
    if source.is_dir():
        if (source / split).is_dir():
            where = source / split
            found = scan_folder(where)
        else:
            where = split_archive(source, split)
            if where is None:
                raise DataError(f"{source}: no {split} split (neither a folder {split}/ nor {split}.tar.gz); "
                                f"splits found: {', '.join(folder_splits(source)) or 'none'}")
            found = scan_archive(where, split, read).get(split, [])
    else:
        where = source
        found = scan_archive(source, split, read).get(split, [])
        if not found:
            splits = sorted(scan_archive(source, None, False))
            raise DataError(f"{source}: no {split} split in the archive (SPLIT/CLASS/FILE.png|jpg|jpeg members); "
                            f"splits found: {', '.join(splits) or 'none'}")
    if not found:
        raise DataError(f"{where}: no images (expected CLASS/*.png|jpg|jpeg)")
    found.sort(key=lambda e: (e.cls, natural_key(e.name), e.name))
    return found, where


def classes_of(found: list[Entry]) -> tuple[str, ...]:
    """The sorted class names of *found*."""
    return tuple(sorted({e.cls for e in found}))


def decode(data: bytes, where: str) -> np.ndarray:
    """One image's bytes -> uint8 H x W (grey) or H x W x 3 (colour); PNG or JPEG only, at most
    :data:`MAX_PIXELS`; anything else is a one-line :class:`DataError`."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise DataError(f"{where}: {w}x{h} pixels, more than charz decodes ({MAX_PIXELS})")
            mode = img.mode
            if mode in _GREY:
                arr = np.asarray(img.convert("L"), dtype=np.uint8)
            elif mode in _COLOUR:
                arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
            else:
                raise DataError(f"{where}: image mode {mode} (16-bit or floating-point pixels) is not supported; "
                                "8-bit grey or colour only")
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a bad file; all are the user's data
        text = " ".join(str(exc).split())
        raise DataError(f"{where}: cannot decode the image ({type(exc).__name__}{': ' + text if text else ''})") from None
    return arr


def decode_entries(found: list[Entry], source: Path) -> np.ndarray:
    """Decode *found* (in order) into one uint8 N x H x W x C array (C = 3 when any image is colour)."""
    arrays = []
    shape = None
    for e in found:
        data = e.data if e.data is not None else _read_file(e.path)
        arr = decode(data, e.where(source))
        if shape is None:
            shape = arr.shape[:2]
        elif arr.shape[:2] != shape:
            raise DataError(f"{e.where(source)}: {arr.shape[1]}x{arr.shape[0]} pixels where the split's images are "
                            f"{shape[1]}x{shape[0]} (all images of a split must have one size)")
        arrays.append(arr)
    colour = any(a.ndim == 3 for a in arrays)
    out = np.empty((len(arrays), *shape, 3 if colour else 1), dtype=np.uint8)
    for i, a in enumerate(arrays):
        out[i] = a[..., None] if a.ndim == 2 else a
    return out


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc.strerror or exc})") from None


def survey_archive(path: Path, only: str | None = None
                   ) -> tuple[dict[str, int], dict[str, set[str]], tuple[int, int, int] | None]:
    """(images per split, class names per split, (H, W, C) of the first image) of the archive *path* (only the
    split *only* when given), read once as a stream with one image decoded. C is that image's own."""
    counts: dict[str, int] = {}
    classes: dict[str, set[str]] = {}
    sample = None
    stem = tar_stem(path)
    for parts, _, reader in iter_tar(path):
        found = _archive_split(parts, stem)
        if found is None or (only is not None and found[0] != only):
            continue
        counts[found[0]] = counts.get(found[0], 0) + 1
        classes.setdefault(found[0], set()).add(found[1])
        if sample is None:
            sample = (reader(), f"{path}:{'/'.join(parts)}")
    return counts, classes, _shape_of(sample)


def survey_folder(folder: Path) -> tuple[int, set[str], tuple[int, int, int] | None]:
    """(image count, class names, (H, W, C) of its first image) of the split folder *folder*."""
    found = scan_folder(folder)
    found.sort(key=lambda e: (e.cls, natural_key(e.name), e.name))
    sample = (_read_file(found[0].path), str(found[0].path)) if found else None
    return len(found), {e.cls for e in found}, _shape_of(sample)


def _shape_of(sample: tuple[bytes, str] | None) -> tuple[int, int, int] | None:
    if sample is None:
        return None
    arr = decode(*sample)
    return (arr.shape[0], arr.shape[1], 3 if arr.ndim == 3 else 1)
