"""Named datasets and where they are looked for.

The search path (:func:`search_path`), first folder first: the folders of ``CHARZ_DATA_PATH`` (separated by
``os.pathsep``), ``<charz cache>/datasets``, ``/usr/share/datasets`` (Debian's ``dataset-fashion-mnist`` installs
``/usr/share/datasets/fashion-mnist/``), then ``../shared/datasets`` beside the checkout charz runs from. A named
dataset is a folder of that name in one of them:

=================  ==================================================================================
``mnist``          ``mnist/`` (or torchvision's ``MNIST/``, its ``raw/`` sub-folder read too): IDX files
``fashion-mnist``  ``fashion-mnist/`` (or ``FashionMNIST/``): IDX files
``cifar10``        ``cifar-10-batches-bin/`` (the binary version) anywhere on the path, else
                   ``cifar10-jpeg/`` (``train.tar.gz`` / ``test.tar.gz`` in the image-folder layout: a third
                   party's JPEG re-encoding, described as "CIFAR-10 (JPEG copy)")
``digits``         scikit-learn's bundled 8x8 digits (always there; the split of :mod:`charz.network.digits`)
=================  ==================================================================================

For each dataset the folder names are tried in that order, each through the whole search path, so the binary
CIFAR-10 anywhere wins over the JPEG copy. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import DataError
from ..core.resources import cache_root, checkout_root
from . import cifar, idx, imagefolder

DATA_PATH_ENV = "CHARZ_DATA_PATH"
"""Environment variable: folders searched first for named datasets (``os.pathsep``-separated)."""

SYSTEM_DIR = Path("/usr/share/datasets")
"""Debian's dataset folder (``apt-get install dataset-fashion-mnist``)."""

DIGIT_CLASSES = tuple(str(i) for i in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
"""Fashion-MNIST's class names, by label (the IDX files carry labels only)."""

JPEG_NOTE = ("re-encoded as JPEG by a third party: close to, not bit-identical with, CIFAR-10; accuracy on it is "
             "not exactly comparable with published CIFAR-10 figures")


@dataclass(frozen=True)
class Candidate:
    """One folder name a named dataset may sit in, the layout read there, and what that copy is."""

    folder: str
    layout: str
    description: str
    note: str = ""


@dataclass(frozen=True)
class NamedDataset:
    """A dataset known by name: its folder candidates (tried in order) and its class names (None: from the
    files)."""

    name: str
    description: str
    candidates: tuple[Candidate, ...]
    classes: tuple[str, ...] | None = None


NAMED: dict[str, NamedDataset] = {
    "mnist": NamedDataset("mnist", "MNIST", (Candidate("mnist", "idx", "MNIST"), Candidate("MNIST", "idx", "MNIST")),
                          DIGIT_CLASSES),
    "fashion-mnist": NamedDataset("fashion-mnist", "Fashion-MNIST",
                                  (Candidate("fashion-mnist", "idx", "Fashion-MNIST"),
                                   Candidate("FashionMNIST", "idx", "Fashion-MNIST")), FASHION_CLASSES),
    "cifar10": NamedDataset("cifar10", "CIFAR-10",
                            (Candidate(cifar.FOLDER, "cifar-bin", "CIFAR-10"),
                             Candidate("cifar10-jpeg", "image-folder", "CIFAR-10 (JPEG copy)", JPEG_NOTE))),
    "digits": NamedDataset("digits", "scikit-learn digits (8x8, pixels 0..16)", (), DIGIT_CLASSES),
}
"""The named datasets, in the order ``charz data`` lists them."""


@dataclass(frozen=True)
class Source:
    """Where a dataset was found and how to read it: ``layout`` (``idx``, ``cifar-bin``, ``image-folder``,
    ``sklearn``), ``path`` (a folder or file), ``name``, ``description``, fixed ``classes`` (None: from the
    files), ``note`` (a caveat to print with results)."""

    name: str
    layout: str
    path: Path
    description: str
    classes: tuple[str, ...] | None = None
    note: str = ""


def search_path() -> list[Path]:
    """The folders named datasets are looked for in, first first (see the module docstring)."""
    out = [Path(p).expanduser() for p in os.environ.get(DATA_PATH_ENV, "").split(os.pathsep) if p.strip()]
    out.append(cache_root() / "datasets")
    out.append(SYSTEM_DIR)
    root = checkout_root()
    if root is not None:
        out.append(root.parent / "shared" / "datasets")
    return out


def present(path: Path, layout: str) -> bool:
    """Whether *path* holds a dataset in *layout* (at least one split's files; nothing is decoded)."""
    if not path.is_dir():
        return False
    if layout == "idx":
        names = [n for s in idx.PREFIX for n in idx.pair_names(s)[0]]
        return any((d / n).is_file() for d in (path, path / "raw") for n in names)
    if layout == "cifar-bin":
        return cifar.folder_of(path) == path
    return imagefolder.looks_like(path)


def digits_file() -> Path:
    """The file scikit-learn's digits are read from (``sklearn/datasets/data/digits.csv.gz``)."""
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).resolve().parent / "data" / "digits.csv.gz"


def find(name: str) -> Source:
    """The first copy of the named dataset *name* on the search path; a one-line :class:`DataError` naming every
    folder searched when there is none (and an unknown name lists the known ones)."""
    if name not in NAMED:
        raise DataError(f"unknown dataset {name!r}: named datasets are {', '.join(NAMED)}; or give a folder or "
                        "archive in the image-folder layout, an IDX file or folder, or a CIFAR-10 binary folder")
    spec = NAMED[name]
    if not spec.candidates:
        return Source(name, "sklearn", digits_file(), spec.description, spec.classes)
    folders = search_path()
    for cand in spec.candidates:
        for folder in folders:
            p = folder / cand.folder
            if present(p, cand.layout):
                return Source(name, cand.layout, p, cand.description, spec.classes, cand.note)
    raise DataError(not_found_message(name, folders))


def not_found_message(name: str, folders: list[Path]) -> str:
    """The one line saying *name* is not on the search path: the folder names looked for, every folder searched,
    and a found pickled CIFAR-10 (refused) when there is one."""
    spec = NAMED[name]
    wanted = " or ".join(f"{c.folder}/" for c in spec.candidates)
    text = (f"dataset {name} not found: looked for {wanted} in {', '.join(str(f) for f in folders)} "
            f"(add folders with {DATA_PATH_ENV}, separated by '{os.pathsep}')")
    if name == "cifar10":
        py = next((f / cifar.PY_FOLDER for f in folders if (f / cifar.PY_FOLDER).is_dir()), None)
        if py is not None:
            text += f"; {py} is the python version, refused: {cifar.PICKLE_HINT}"
    return text
