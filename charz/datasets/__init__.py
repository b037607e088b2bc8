"""Real datasets from the standard on-disk layouts, never downloaded.

``load(path_or_name, split="test", limit=None) -> Dataset`` reads

- MNIST / Fashion-MNIST IDX files (gzip or raw; magic number, dimensions and counts checked): :mod:`.idx`;
- CIFAR-10's binary version (``cifar-10-batches-bin/``, as a folder or the official ``.tar.gz``): :mod:`.cifar`
  (the python version is a pickle and is refused: charz never unpickles a dataset file);
- the image-folder layout ``SPLIT/CLASS/*.png|jpg|jpeg`` as a folder, ``SPLIT.tar.gz`` files, or one ``.tar.gz``
  / ``.tgz`` archive (decoded with Pillow; archives read in memory, never extracted): :mod:`.imagefolder`;
- scikit-learn's bundled 8x8 digits, split as :mod:`charz.network.digits` splits them.

Named datasets (``mnist``, ``fashion-mnist``, ``cifar10``, ``digits``) are looked for on a search path
(:mod:`.named`: ``CHARZ_DATA_PATH``, ``<charz cache>/datasets``, ``/usr/share/datasets``, ``../shared/datasets``
beside the checkout). Decoded splits are cached as ``.npz`` (:mod:`.cache`), so a JPEG archive is decoded once.
Every problem with a dataset is a one-line :class:`charz.core.errors.DataError` (exit code 6).
"""

from __future__ import annotations

from .base import SPLITS, Dataset, stratified_indices
from .loader import DatasetInfo, detect, info_of, inspect, load, load_source, resolve
from .named import DATA_PATH_ENV, NAMED, Source, find, search_path

__all__ = ["DATA_PATH_ENV", "NAMED", "SPLITS", "Dataset", "DatasetInfo", "Source", "detect", "find", "info_of",
           "inspect", "load", "load_source", "resolve", "search_path", "stratified_indices"]
