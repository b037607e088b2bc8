"""The one result type of every dataset loader: :class:`Dataset`, and the deterministic subsets it offers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import DataError

SPLITS = ("train", "test")
"""The splits of the named datasets (MNIST's ``t10k`` files are its ``test`` split)."""


def stratified_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices (ascending) of a deterministic, class-balanced subset of *n* of the items whose labels are
    *labels*: the first item of every class, then the second of every class, and so on (items of one class in
    their stored order; within one round, classes in the order their items are stored). While every class has
    items left, the counts per class differ by at most one. *n* at least the number of items: all of them."""
    labels = np.asarray(labels)
    if n >= labels.size:
        return np.arange(labels.size)
    order = np.argsort(labels, kind="stable")
    rank = np.empty(labels.size, dtype=np.int64)
    sorted_labels = labels[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_labels)) + 1]
    counts = np.diff(np.r_[starts, labels.size])
    rank[order] = np.arange(labels.size) - np.repeat(starts, counts)
    pick = np.lexsort((np.arange(labels.size), rank))[:n]
    return np.sort(pick)


def check_limit(limit) -> int | None:
    """*limit* as a positive int, or None for no limit; anything else is a one-line :class:`DataError`."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise DataError(f"a dataset limit must be a positive whole number of images, not {limit!r}")
    return int(limit)


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a dataset, decoded.

    ``images`` are uint8, N x H x W x C (C = 1 grey, 3 RGB), with pixel values 0..``pixel_max`` (255, except
    scikit-learn's 8x8 digits: 0..16); ``labels`` are int64 indices into ``classes``. ``source`` is the file or
    folder it was read from, ``layout`` how (``idx``, ``cifar-bin``, ``image-folder``, ``sklearn``),
    ``description`` what it is (``"CIFAR-10 (JPEG copy)"`` for the re-encoded copy: accuracy on it is not
    exactly comparable with published CIFAR-10 figures). ``from_cache`` says whether the arrays came from the
    decoded-array cache. Arrays are read-only."""

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    layout: str = "image-folder"
    description: str = ""
    pixel_max: int = 255
    from_cache: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] not in (1, 3):
            raise DataError(f"{self.source}: images must be uint8 N x H x W x C with C 1 or 3, got "
                            f"{images.dtype} {images.shape}")
        if labels.dtype != np.int64 or labels.shape != (images.shape[0],):
            raise DataError(f"{self.source}: {labels.shape[0] if labels.ndim else 0} labels for "
                            f"{images.shape[0]} images (int64, one per image expected)")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DataError(f"{self.source}: labels run {labels.min()}..{labels.max()} but there are "
                            f"{len(self.classes)} classes")
        for a in (images, labels):
            if a.flags.writeable:
                a.setflags(write=False)
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        return tuple(int(s) for s in self.images.shape[1:])

    def counts(self) -> dict[str, int]:
        """Images per class, in class order."""
        per = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, per)}

    def subset(self, indices) -> Dataset:
        """The images at *indices* (in that order), as a new Dataset with the same name, split and classes."""
        idx = np.asarray(indices, dtype=np.int64)
        return dataclasses.replace(self, images=np.ascontiguousarray(self.images[idx]),
                                   labels=np.ascontiguousarray(self.labels[idx]))

    def limit(self, n: int | None, stratified: bool = True) -> Dataset:
        """At most *n* images, deterministically. ``stratified=True`` (the default, and what ``load(limit=n)``
        does): the class-balanced subset of :func:`stratified_indices`, in stored order; ``False``: the first
        *n*. ``None`` or *n* >= len: this Dataset."""
        n = check_limit(n)
        if n is None or n >= len(self):
            return self
        return self.subset(stratified_indices(self.labels, n) if stratified else np.arange(n))

    def as_float(self) -> np.ndarray:
        """The images as float32 in [0, 1] (pixel / ``pixel_max``), N x H x W x C."""
        return self.images.astype(np.float32) / np.float32(self.pixel_max)
