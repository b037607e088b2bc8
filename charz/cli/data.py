"""``charz data``: the datasets charz finds (named ones on the search path, or paths you give), their splits,
image counts, shape and classes; ``--load`` decodes them (or reads them from the decoded-array cache)."""

from __future__ import annotations

import os
import time


def add_parser(sub) -> None:
    """Add ``data`` to the sub-command parsers *sub*."""
    from ..datasets import DATA_PATH_ENV, NAMED

    p = sub.add_parser(
        "data", help="list the datasets found (MNIST, Fashion-MNIST, CIFAR-10, digits, your own folders)",
        description="List each named dataset (" + ", ".join(NAMED) + ") with where it was found, its splits and "
                    "image counts, image shape and classes, or say it was not found and where charz looked; "
                    "or do the same for the folders / archives / names you give. Named datasets are looked for on "
                    f"the search path: {DATA_PATH_ENV} (folders separated by '{os.pathsep}'), <charz cache>/datasets "
                    "(CHARZ_CACHE_DIR, default ~/.cache/charz), /usr/share/datasets (Debian: apt-get install "
                    "dataset-fashion-mnist), ../shared/datasets beside the checkout. Layouts: IDX files (gzip or raw), "
                    "CIFAR-10's binary version (cifar-10-batches-bin/; the python version is a pickle and is refused), "
                    "SPLIT/CLASS/*.png|jpg|jpeg as a folder, SPLIT.tar.gz files or one .tar.gz. cifar10 is the binary "
                    "version when found, else the JPEG copy (cifar10-jpeg/: re-encoded, not bit-identical). Nothing "
                    "is downloaded. Exit 6 when a dataset you name cannot be found or read.")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="a dataset name or a folder / archive / IDX file (default: every named dataset)")
    p.add_argument("--load", action="store_true",
                   help="decode each split (or read it from the decoded-array cache) and print how long it took")
    p.add_argument("--split", default=None, help="with --load: only this split (default: every split found)")
    p.add_argument("--limit", type=int, default=None,
                   help="with --load: a class-balanced subset of at most N images per split")
    p.set_defaults(func=cmd_data)


def _count(n: int) -> str:
    return f"{n:,}"


def _classes(classes) -> str:
    text = ", ".join(classes)
    return text if len(text) <= 100 else text[:97] + "..."


def cmd_data(args) -> int:
    """``charz data [SOURCE...] [--load [--split S] [--limit N]]``: print what each dataset holds (and, with
    ``--load``, the decode or cached-load time of each split). Returns 0; a source you name that cannot be found
    or read is a DataError (exit 6)."""
    from ..core.errors import DataError, ParameterError
    from ..datasets import NAMED, inspect, load_source, resolve, search_path
    from ..datasets.cache import cache_dir
    from ..datasets.loader import info_of

    if (args.split or args.limit is not None) and not args.load:
        raise ParameterError("--split and --limit apply with --load")
    if args.limit is not None and args.limit < 1:
        raise ParameterError(f"--limit {args.limit}: give a positive number of images")
    listing = not args.sources
    sources = list(NAMED) if listing else args.sources
    for source in sources:
        if listing:
            info = inspect(source)
            src = None
        else:
            src = resolve(source)
            info = info_of(src)
        if info.path is None:
            print(f"{info.name}: {info.description}: not found")
            print(f"  {info.problem}")
            continue
        print(f"{info.name}: {info.description}, {info.layout} at {info.path}")
        splits = ", ".join(f"{s} {_count(n)}" for s, n in info.splits.items()) or "none"
        shape = "x".join(str(s) for s in info.shape) if info.shape else "?"
        print(f"  splits: {splits} images; image {shape} (H x W x C, uint8)")
        print(f"  classes ({len(info.classes)}): {_classes(info.classes)}")
        if info.note:
            print(f"  note: {info.note}")
        if args.load:
            src = src or resolve(source)
            wanted = [args.split] if args.split else list(info.splits)
            if args.split and info.splits and args.split not in info.splits:
                raise DataError(f"{info.name}: no split {args.split!r} (splits: {', '.join(info.splits)})")
            for split in wanted:
                t0 = time.perf_counter()
                d = load_source(src, split, args.limit)
                dt = time.perf_counter() - t0
                how = "read from the decoded-array cache" if d.from_cache else \
                    ("decoded" if d.layout != "sklearn" else "read from scikit-learn")
                print(f"  loaded {split}: {_count(len(d))} images {'x'.join(map(str, d.shape))} in {dt:.2f} s ({how})")
    if listing:
        print("search path: " + " -> ".join(str(p) for p in search_path()))
        print(f"decoded-array cache: {cache_dir()}")
    return 0
