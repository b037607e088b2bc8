"""``load(path_or_name, split, limit)``: a named dataset or a path in one of the standard layouts, decoded once
and then read from the decoded-array cache (:mod:`.cache`); ``inspect`` says what a source holds without
decoding it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import DataError
from . import cache, cifar, idx, imagefolder
from .archive import is_tar_name, read_head
from .base import SPLITS, Dataset, check_limit, stratified_indices
from .named import NAMED, Source, find, search_path

_SPLIT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def check_split(split: str, layout: str) -> str:
    """*split* checked: ``train`` or ``test`` for every layout but the image folder, whose split folders may
    have any plain name (letters, digits, ``_``, ``-``)."""
    if not isinstance(split, str) or not split or not set(split) <= _SPLIT_CHARS:
        raise DataError(f"bad split name {split!r} (train or test; an image folder's split folder name)")
    if layout != "image-folder" and split not in SPLITS:
        raise DataError(f"split {split!r}: this dataset has the splits {' and '.join(SPLITS)}")
    return split


def detect(path: Path) -> Source:
    """How the folder or file *path* is read (a :class:`Source`); a one-line :class:`DataError` for a missing
    path, a pickle, or a layout charz does not know."""
    path = Path(path).expanduser()
    name = path.name or str(path)
    if not path.exists():
        raise DataError(f"no dataset at {path}: no such file or folder (named datasets: {', '.join(NAMED)})")
    if path.is_file():
        if is_tar_name(path):
            kind = cifar.tar_kind(path)
            if kind == "py":
                raise cifar.refuse_pickle(path, f"the archive holds {cifar.PY_FOLDER}/, the python version of "
                                                "CIFAR-10 (pickles)")
            if kind == "bin":
                return Source(name, "cifar-bin", path, "CIFAR-10")
            return Source(name, "image-folder", path, f"image folder {path.name}")
        head = read_head(path, 4)
        if cifar.is_pickle(head):
            raise cifar.refuse_pickle(path)
        if "-images-idx3-" in path.name or "-images.idx3-" in path.name:
            return Source(name, "idx", path, f"IDX files {path.name}")
        raise DataError(f"{path}: not a dataset file charz reads (an IDX images file NAME-images-idx3-ubyte[.gz], "
                        "or a .tar.gz / .tgz archive in the image-folder layout or of CIFAR-10's binary version)")
    folder = cifar.folder_of(path)
    if folder is not None:
        return Source(name, "cifar-bin", folder, "CIFAR-10")
    names = [n for s in idx.PREFIX for n in idx.pair_names(s)[0]]
    if any((d / n).is_file() for d in (path, path / "raw") for n in names):
        return Source(name, "idx", path, f"IDX files in {path.name}")
    if (path / "data_batch_1").is_file() or (path / "test_batch").is_file():
        raise cifar.refuse_pickle(path, "the python version of CIFAR-10 (pickles)")
    if imagefolder.looks_like(path):
        return Source(name, "image-folder", path, f"image folder {path.name}")
    if (path / cifar.PY_FOLDER).is_dir():
        raise cifar.refuse_pickle(path / cifar.PY_FOLDER, "the python version of CIFAR-10 (pickles)")
    raise DataError(f"{path}: no dataset layout charz reads (SPLIT/CLASS/*.png|jpg|jpeg, SPLIT.tar.gz, IDX files "
                    f"train-images-idx3-ubyte[.gz] / t10k-..., or {cifar.FOLDER}/)")


def resolve(source: str | os.PathLike) -> Source:
    """A named dataset (found on the search path) when *source* is a name of :data:`NAMED` (a string without a
    path separator), else the path *source* (:func:`detect`)."""
    if isinstance(source, str) and source in NAMED and os.sep not in source:
        return find(source)
    if isinstance(source, str) and not source.strip():
        raise DataError(f"no dataset given (a name: {', '.join(NAMED)}; or a folder or file)")
    return detect(Path(source))


def load(source: str | os.PathLike, split: str = "test", limit: int | None = None) -> Dataset:
    """One split of a dataset, decoded: *source* is a named dataset (``mnist``, ``fashion-mnist``, ``cifar10``,
    ``digits``, looked for on the search path) or a path (a folder or ``.tar.gz`` in the image-folder layout, an
    IDX folder or images file, a CIFAR-10 binary folder or archive). *limit* keeps a class-balanced subset of at
    most that many images (:meth:`Dataset.limit`, stratified). Decoded arrays are cached; errors are one-line
    :class:`DataError` s."""
    limit = check_limit(limit)
    return load_source(resolve(source), split, limit)


def load_source(src: Source, split: str, limit: int | None = None) -> Dataset:
    """*split* of the found source *src* (see :func:`load`)."""
    split = check_split(split, src.layout)
    if src.layout == "sklearn":
        return _digits(src, split).limit(limit)
    if src.layout == "idx":
        return _idx(src, split).limit(limit)
    if src.layout == "cifar-bin":
        return _cifar(src, split).limit(limit)
    return _image_folder(src, split, limit)


def _make(src: Source, split: str, arrays, where: Path, from_cache: bool) -> Dataset:
    images, labels, classes = arrays
    return Dataset(name=src.name, split=split, images=images, labels=labels, classes=classes, source=str(where),
                   layout=src.layout, description=src.description, from_cache=from_cache)


def _cached(key: str, decode: Callable[[], tuple], about: dict) -> tuple[tuple, bool]:
    """(images, labels, classes) from the cache entry *key*, else from *decode* (then stored); and whether it
    was a hit."""
    hit = cache.get(key)
    if hit is not None:
        return hit, True
    arrays = decode()
    cache.put(key, arrays[0], arrays[1], arrays[2], about)
    return arrays, False


def _idx(src: Source, split: str) -> Dataset:
    if src.path.is_file():
        pair = (src.path, idx.partner(src.path))
    else:
        pair = idx.find_pair(src.path, split)
        if pair is None:
            names = idx.pair_names(split)[0]
            raise DataError(f"{src.path}: no {split} split ({names[0]} or {names[1]}, also looked in raw/)")
    key = cache.make_key("idx", split, None, [cache.file_digest(p) for p in pair] + [repr(src.classes)])
    arrays, hit = _cached(key, lambda: idx.load_pair(pair[0], pair[1], src.classes),
                          {"layout": "idx", "split": split, "source": str(pair[0])})
    return _make(src, split, arrays, pair[0], hit)


def _cifar(src: Source, split: str) -> Dataset:
    if src.path.is_file():
        digests = [cache.file_digest(src.path)]
        decode = lambda: cifar.read_tar(src.path, split)  # noqa: E731
    else:
        files = cifar.split_files(src.path, split)
        meta = src.path / cifar.META
        if not meta.is_file():
            raise DataError(f"{src.path}: no {cifar.META} (the class names of the binary version)")
        digests = [cache.file_digest(p) for p in [*files, meta]]
        decode = lambda: cifar.read_folder(src.path, split)  # noqa: E731
    key = cache.make_key("cifar-bin", split, None, digests)
    arrays, hit = _cached(key, decode, {"layout": "cifar-bin", "split": split, "source": str(src.path)})
    return _make(src, split, arrays, src.path, hit)


def _image_folder(src: Source, split: str, limit: int | None) -> Dataset:
    """Image-folder splits: the cache is looked up before any archive is read; with *limit* and no cached whole
    split, only the chosen images are decoded (the same ones ``Dataset.limit`` would keep)."""
    root = src.path
    listed = None
    if root.is_dir() and (root / split).is_dir():
        where = root / split
        listed = imagefolder.scan_folder(where)
        sources = [cache.listing_digest(where, [e.path for e in listed])]
    else:
        where = root if root.is_file() else imagefolder.split_archive(root, split)
        if where is None:
            raise DataError(f"{root}: no {split} split (neither a folder {split}/ nor {split}.tar.gz); splits found: "
                            f"{', '.join(imagefolder.folder_splits(root)) or 'none'}")
        sources = _archive_sources(where, split)
    about = {"layout": "image-folder", "split": split, "source": str(where)}
    full = cache.make_key("image-folder", split, None, sources)
    hit = cache.get(full)
    if hit is not None:
        return _make(src, split, hit, where, True).limit(limit)

    def decode(chosen: int | None):
        found, _ = imagefolder.entries(root, split, read=True)
        classes = imagefolder.classes_of(found)
        index = {c: i for i, c in enumerate(classes)}
        labels = np.fromiter((index[e.cls] for e in found), dtype=np.int64, count=len(found))
        if chosen is not None and chosen < len(found):
            keep = stratified_indices(labels, chosen)
            found, labels = [found[i] for i in keep], labels[keep]
        return imagefolder.decode_entries(found, where), labels, classes

    if listed is not None and not listed:
        raise DataError(f"{where}: no images (expected CLASS/*.png|jpg|jpeg)")
    if limit is None:
        arrays, cached = _cached(full, lambda: decode(None), about)
        return _make(src, split, arrays, where, cached)
    part = cache.make_key("image-folder", split, limit, sources)
    arrays, cached = _cached(part, lambda: decode(limit), dict(about, limit=limit))
    return _make(src, split, arrays, where, cached)


def _digits(src: Source, split: str) -> Dataset:
    from ..network import digits

    xtr, ytr, xte, yte = digits.load()
    x, y = (xtr, ytr) if split == "train" else (xte, yte)
    images = np.rint(x).astype(np.uint8).reshape(-1, 8, 8, 1)
    return Dataset(name=src.name, split=split, images=images, labels=np.asarray(y, dtype=np.int64),
                   classes=src.classes, source=str(src.path), layout="sklearn", description=src.description,
                   pixel_max=digits.PIXEL_MAX)


@dataclass(frozen=True)
class DatasetInfo:
    """What a source holds, without decoding it: ``splits`` (split -> image count), ``shape`` (H, W, C of an
    image; C of the first image for an image folder), ``classes``. ``path`` is None when a named dataset was not
    found; then ``searched`` lists the folders looked in and ``problem`` says why."""

    name: str
    description: str
    path: str | None
    layout: str = ""
    splits: dict[str, int] = field(default_factory=dict)
    shape: tuple[int, ...] | None = None
    classes: tuple[str, ...] = ()
    note: str = ""
    searched: tuple[str, ...] = ()
    problem: str = ""


def inspect(source: str | os.PathLike) -> DatasetInfo:
    """:class:`DatasetInfo` of a named dataset or a path. A named dataset that is not found gives an info with
    ``path`` None (not an error); a path that cannot be read raises a :class:`DataError`."""
    if isinstance(source, str) and source in NAMED:
        try:
            src = find(source)
        except DataError as exc:
            return DatasetInfo(source, NAMED[source].description, None,
                               searched=tuple(str(p) for p in search_path()), problem=str(exc))
    else:
        src = resolve(source)
    return info_of(src)


def info_of(src: Source) -> DatasetInfo:
    """:class:`DatasetInfo` of the found source *src* (headers, file sizes and archive listings only; one image
    decoded for an image folder's shape)."""
    base = dict(name=src.name, description=src.description, path=str(src.path), layout=src.layout, note=src.note)
    if src.layout == "sklearn":
        from ..network import digits

        xtr, _, xte, _ = digits.load()
        return DatasetInfo(**base, splits={"train": len(xtr), "test": len(xte)}, shape=(8, 8, 1),
                           classes=src.classes)
    if src.layout == "idx":
        splits, shape, classes = {}, None, src.classes
        for split in SPLITS:
            pair = (src.path, idx.partner(src.path)) if src.path.is_file() else idx.find_pair(src.path, split)
            if pair is None:
                continue
            dims = idx.read_header(pair[0], 3)
            labels = idx.read_header(pair[1], 1)
            if labels[0] != dims[0]:
                raise DataError(f"{pair[1]}: {labels[0]} labels for the {dims[0]} images of {pair[0]}")
            splits[split] = dims[0]
            shape = (dims[1], dims[2], 1)
            if classes is None:
                classes = idx.load_pair(*pair)[2]
            if src.path.is_file():
                break
        return DatasetInfo(**base, splits=splits, shape=shape, classes=tuple(classes or ()))
    if src.layout == "cifar-bin":
        if src.path.is_file():
            sizes = cifar.tar_sizes(src.path)
        else:
            sizes = {f.name: f.stat().st_size for f in src.path.iterdir() if f.is_file()}
        splits = {s: sum(sizes[f] for f in files) // cifar.RECORD for s, files in cifar.FILES.items()
                  if all(f in sizes for f in files)}
        classes = ()
        if not src.path.is_file() and (src.path / cifar.META).is_file():
            classes = cifar.parse_meta((src.path / cifar.META).read_bytes(), str(src.path / cifar.META))
        elif src.path.is_file():
            classes = cifar.read_tar(src.path, "test")[2] if "test" in splits else ()
        return DatasetInfo(**base, splits=splits, shape=(cifar.SIDE, cifar.SIDE, 3), classes=classes)
    counts: dict[str, int] = {}
    classes: set[str] = set()
    shape = None
    if src.path.is_file():
        counts, per_split, shape = imagefolder.survey_archive(src.path)
        classes = set().union(*per_split.values()) if per_split else set()
    else:
        for split in imagefolder.folder_splits(src.path):
            if (src.path / split).is_dir():
                n, names, first = imagefolder.survey_folder(src.path / split)
            else:
                archive = imagefolder.split_archive(src.path, split)
                meta = cache.peek(cache.make_key("image-folder", split, None, _archive_sources(archive, split)))
                if meta is not None:  # decoded before: the cache entry's header says what the split holds
                    n, names, first = meta["count"], set(meta["classes"]), tuple(meta["shape"])
                else:
                    n_split, per_split, first = imagefolder.survey_archive(archive, split)
                    n, names = n_split.get(split, 0), per_split.get(split, set())
            if n:
                counts[split] = n
                classes |= names
                shape = shape or first
    order = sorted(counts, key=lambda s: (SPLITS.index(s) if s in SPLITS else len(SPLITS), s))
    return DatasetInfo(**base, splits={s: counts[s] for s in order}, shape=shape,
                       classes=src.classes or tuple(sorted(classes)))


def _archive_sources(archive: Path, split: str) -> list[str]:
    """The identity of an image-folder split read from the archive *archive* (its cache-key sources)."""
    return [cache.file_digest(archive), f"archive-split:{split}"]
