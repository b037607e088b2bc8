"""charz.datasets: the loaders on small files written here in every layout (IDX gzip and raw, CIFAR-10 binary,
image folders as folders and archives, PNG and JPEG), refusals (malformed files, unsafe archive members,
pickles), the search path, the decoded-array cache, ``charz data``, and the shared copies when present."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import charz.datasets as D
from charz.cli import main
from charz.core.errors import DataError
from charz.datasets import cache, cifar, idx, imagefolder, named
from tests.helpers import charz, one_line_error


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder and a search path of only the folders it sets up."""
    monkeypatch.setenv("CHARZ_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(named.DATA_PATH_ENV, raising=False)
    monkeypatch.setattr(named, "SYSTEM_DIR", tmp_path / "no-system")
    monkeypatch.setattr(named, "checkout_root", lambda: tmp_path / "no-checkout" / "main")


def _one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text and text
    return text


# --- writers of the standard layouts ------------------------------------------------------------------------
def write_idx(path: Path, array: np.ndarray, gz: bool | None = None, header: bytes | None = None,
              tail: bytes = b"") -> Path:
    """An IDX file of uint8 *array* (gzip when the name ends in .gz or *gz*)."""
    head = header if header is not None else bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = head + np.ascontiguousarray(array, dtype=np.uint8).tobytes() + tail
    if gz if gz is not None else path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def idx_folder(folder: Path, rng, n_train=30, n_test=20, gz=True, side=28) -> dict:
    """An MNIST-like folder: the four IDX files; returns the arrays written."""
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        x = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", y)
        out[split] = (x, y)
    return out


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_folder(folder: Path, rng, per_batch=4) -> dict:
    """A cifar-10-batches-bin folder with small batches; returns the (images N x 32 x 32 x 3, labels) written."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"train": [], "test": []}
    for split, files in cifar.FILES.items():
        for f in files:
            x = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
            y = rng.integers(0, 10, per_batch).astype(np.uint8)
            rec = np.concatenate([y[:, None], x.transpose(0, 3, 1, 2).reshape(per_batch, -1)], axis=1)
            (folder / f).write_bytes(rec.astype(np.uint8).tobytes())
            out[split].append((x, y))
    (folder / cifar.META).write_text("\n".join(CIFAR_CLASSES) + "\n\n")
    return {s: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v]).astype(np.int64))
            for s, v in out.items()}


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def image_tree(rng, colour=True, n=(3, 2, 4), side=6, fmt="png") -> dict[str, dict[str, np.ndarray]]:
    """{class: {file name: image}} with file names that sort differently as text and as numbers."""
    classes = ["zebra", "ant", "cow"][: len(n)]
    out = {}
    for c, k in zip(classes, n):
        shape = (side, side, 3) if colour else (side, side)
        out[c] = {f"{i * 5}.{fmt}": rng.integers(0, 256, shape, dtype=np.uint8) for i in range(k)}
    return out


def write_tree(root: Path, split: str, tree: dict, encode=png_bytes) -> None:
    for c, files in tree.items():
        (root / split / c).mkdir(parents=True, exist_ok=True)
        for name, arr in files.items():
            (root / split / c / name).write_bytes(encode(arr))


def add_member(tf: tarfile.TarFile, name: str, data: bytes = b"", kind=tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def tar_tree(path: Path, members: dict[str, bytes], extra=()) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            add_member(tf, name, data)
        for args in extra:
            add_member(tf, *args)
    return path


def expected(tree: dict) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The arrays a loader must return for *tree*: classes sorted, files in natural order."""
    classes = tuple(sorted(tree))
    xs, ys = [], []
    for i, c in enumerate(classes):
        for name in sorted(tree[c], key=imagefolder.natural_key):
            a = tree[c][name]
            xs.append(a if a.ndim == 3 else a[..., None])
            ys.append(i)
    return np.stack(xs), np.array(ys, dtype=np.int64), classes


# --- IDX ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_idx_pair_gzip_and_raw(tmp_path, gz):
    written = idx_folder(tmp_path / "digits_idx", np.random.default_rng(1), gz=gz)
    for split in ("train", "test"):
        d = D.load(tmp_path / "digits_idx", split)
        x, y = written[split]
        assert d.layout == "idx" and d.split == split and d.images.dtype == np.uint8 and d.labels.dtype == np.int64
        assert d.images.shape == (len(x), 28, 28, 1) and np.array_equal(d.images[..., 0], x)
        assert np.array_equal(d.labels, y) and d.classes == tuple(str(i) for i in range(y.max() + 1))
        assert not d.images.flags.writeable and not d.labels.flags.writeable
    # one images file given directly: its labels file is found beside it
    name = "t10k-images-idx3-ubyte" + (".gz" if gz else "")
    d = D.load(tmp_path / "digits_idx" / name, "test")
    assert np.array_equal(d.labels, written["test"][1])
    # torchvision's layout: MNIST/raw/
    idx_folder(tmp_path / "tv" / "raw", np.random.default_rng(2), gz=gz)
    assert len(D.load(tmp_path / "tv", "train")) == 30


@pytest.mark.parametrize("case,needle", [
    ("magic", "not an IDX file"),
    ("type", "element type 0x0d"),
    ("dims", "dimension(s) where an images file"),
    ("truncated", "truncated IDX file"),
    ("trailing", "longer than its header declares"),
    ("count", "labels for the"),
    ("badgzip", "cannot read"),
    ("huge", "more than charz reads"),
])
def test_malformed_idx_is_one_line(tmp_path, case, needle):
    rng = np.random.default_rng(3)
    folder = tmp_path / "bad"
    idx_folder(folder, rng, n_test=10)
    img, lab = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    x = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    if case == "magic":
        write_idx(img, x, header=b"\x12\x34\x08\x03" + struct.pack(">3I", 10, 28, 28))
    elif case == "type":
        write_idx(img, x, header=b"\x00\x00\x0d\x03" + struct.pack(">3I", 10, 28, 28))
    elif case == "dims":
        write_idx(img, x.reshape(10, -1))
    elif case == "truncated":
        write_idx(img, x, header=b"\x00\x00\x08\x03" + struct.pack(">3I", 11, 28, 28))
    elif case == "trailing":
        write_idx(img, x, tail=b"\x00")
    elif case == "count":
        write_idx(lab, np.zeros(9, np.uint8))
    elif case == "badgzip":
        img.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xde\xad" * 20)  # gzip header, junk
    elif case == "huge":
        write_idx(img, x, header=b"\x00\x00\x08\x03" + struct.pack(">3I", 2**31, 2**16, 2**16))
    with pytest.raises(DataError) as e:
        D.load(folder, "test")
    assert needle in _one_line(e) and str(folder) in str(e.value)


def test_named_idx_checks_labels_against_its_classes(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "mnist"
    idx_folder(folder, np.random.default_rng(4))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(20, 12, np.uint8))
    monkeypatch.setenv(named.DATA_PATH_ENV, str(tmp_path / "data"))
    with pytest.raises(DataError) as e:
        D.load("mnist", "test")
    assert "label 12 where the dataset has 10 classes" in _one_line(e)
    assert D.load("mnist", "train").classes == named.DIGIT_CLASSES


# --- CIFAR-10 binary ----------------------------------------------------------------------------------------
def test_cifar_binary_folder_and_official_archive(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    written = cifar_folder(folder, np.random.default_rng(5))
    for source in (folder, tmp_path):  # the folder itself, or the folder above it
        for split in ("train", "test"):
            d = D.load(source, split)
            x, y = written[split]
            assert d.layout == "cifar-bin" and d.classes == tuple(CIFAR_CLASSES)
            assert d.images.shape == (len(x), 32, 32, 3) and np.array_equal(d.images, x)
            assert np.array_equal(d.labels, y)
    assert len(D.load(folder, "train")) == 5 * 4
    # the official cifar-10-binary.tar.gz, read in memory
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname="cifar-10-batches-bin")
    d = D.load(archive, "test")
    assert d.layout == "cifar-bin" and np.array_equal(d.images, written["test"][0])
    info = D.inspect(str(archive))
    assert info.splits == {"train": 20, "test": 4} and info.classes == tuple(CIFAR_CLASSES)


def test_cifar_binary_malformed(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    cifar_folder(folder, np.random.default_rng(6))
    (folder / "test_batch.bin").write_bytes(bytes(cifar.RECORD * 2 + 5))
    with pytest.raises(DataError) as e:
        D.load(folder, "test")
    assert "not a whole number of CIFAR-10 records" in _one_line(e)
    (folder / "test_batch.bin").write_bytes(bytes([11]) + bytes(cifar.RECORD - 1))
    with pytest.raises(DataError) as e:
        D.load(folder, "test")
    assert "label 11" in _one_line(e)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(DataError) as e:
        D.load(folder, "train")
    assert "missing data_batch_3.bin" in _one_line(e)


def test_pickles_are_refused_never_loaded(tmp_path, monkeypatch):
    def no_unpickling(*a, **k):
        raise AssertionError("a dataset file was unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, no_unpickling)
    py = tmp_path / "cifar-10-batches-py"
    py.mkdir()
    blob = pickle.dumps({"data": [1, 2, 3], "labels": [0]}, protocol=2)
    for f in ("data_batch_1", "test_batch", "batches.meta"):
        (py / f).write_bytes(blob)
    (tmp_path / "dl").mkdir()
    archive = tmp_path / "dl" / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(py, arcname="cifar-10-batches-py")
    for source in (py, tmp_path, py / "data_batch_1", archive):
        with pytest.raises(DataError) as e:
            D.load(source, "test")
        text = _one_line(e)
        assert "refused" in text and "never unpickles" in text and "cifar-10-batches-bin" in text
    # a named cifar10 that only finds the python version says so
    monkeypatch.setenv(named.DATA_PATH_ENV, str(tmp_path))
    with pytest.raises(DataError) as e:
        D.load("cifar10")
    assert "not found" in _one_line(e) and str(py) in str(e.value) and "python version" in str(e.value)


# --- image folders ------------------------------------------------------------------------------------------
def test_image_folder_png_as_folder_and_archive(tmp_path):
    rng = np.random.default_rng(7)
    train, test = image_tree(rng), image_tree(rng, n=(1, 2, 2))
    root = tmp_path / "shapes"
    write_tree(root, "train", train)
    write_tree(root, "test", test)
    want = expected(train)
    d = D.load(root, "train")
    assert d.layout == "image-folder" and d.classes == ("ant", "cow", "zebra") == want[2]
    assert np.array_equal(d.images, want[0]) and np.array_equal(d.labels, want[1])
    assert d.source == str(root / "train")
    # the same tree as one .tar.gz (under one top folder) and as SPLIT.tar.gz files: the same arrays
    members = {f"shapes/{s}/{c}/{n}": png_bytes(a) for s, t in (("train", train), ("test", test))
               for c, files in t.items() for n, a in files.items()}
    one = tar_tree(tmp_path / "shapes.tar.gz", members)
    split_dir = tmp_path / "split_archives"
    split_dir.mkdir()
    tar_tree(split_dir / "train.tgz", {k.split("/", 1)[1]: v for k, v in members.items() if "/train/" in k})
    tar_tree(split_dir / "test.tar.gz", {k.split("/", 2)[2]: v for k, v in members.items() if "/test/" in k})
    for source in (one, split_dir):
        for split, tree in (("train", train), ("test", test)):
            got, want = D.load(source, split), expected(tree)
            assert np.array_equal(got.images, want[0]) and np.array_equal(got.labels, want[1]), (source, split)
    info = D.inspect(str(one))
    assert info.splits == {"train": 9, "test": 5} and info.shape == (6, 6, 3)
    with pytest.raises(DataError) as e:
        D.load(one, "val")
    assert "no val split" in _one_line(e) and "train" in str(e.value)


def test_image_folder_grey_jpeg_and_mixed(tmp_path):
    rng = np.random.default_rng(8)
    grey = image_tree(rng, colour=False, n=(2, 2))
    root = tmp_path / "g"
    write_tree(root, "train", grey)
    d = D.load(root, "train")
    assert d.shape == (6, 6, 1) and np.array_equal(d.images, expected(grey)[0])
    # JPEG (lossy): decoded close to what was written; smooth images keep JPEG's error small
    smooth = {c: {n: np.clip(np.add.outer(np.arange(16) * 8, np.arange(16) * 4)[..., None] + [0, 40, 80] + 10 * i, 0,
                             255).astype(np.uint8) for i, n in enumerate(["1.jpg", "2.jpeg"])} for c in ("a", "b")}
    write_tree(tmp_path / "j", "test", smooth, encode=jpeg_bytes)
    tar = tar_tree(tmp_path / "j.tgz", {f"test/{c}/{n}": jpeg_bytes(a) for c, f in smooth.items() for n, a in f.items()})
    for source in (tmp_path / "j", tar):
        d = D.load(source, "test")
        assert d.shape == (16, 16, 3)
        err = np.abs(d.images.astype(int) - expected(smooth)[0].astype(int))
        assert err.mean() < 4 and err.max() < 40
    # grey and colour images in one split: all RGB, the grey ones repeated over the channels
    mixed = tmp_path / "m"
    write_tree(mixed, "train", {"a": {"1.png": grey["zebra"]["0.png"]}, "b": {"1.png": rng.integers(0, 256, (6, 6, 3),
                                                                                                      dtype=np.uint8)}})
    d = D.load(mixed, "train")
    assert d.shape == (6, 6, 3) and np.array_equal(d.images[0], np.repeat(grey["zebra"]["0.png"][..., None], 3, -1))


def test_bad_images_are_one_line(tmp_path):
    rng = np.random.default_rng(9)
    root = tmp_path / "bad"
    write_tree(root, "train", image_tree(rng))
    (root / "train" / "ant" / "0.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError) as e:
        D.load(root, "train")
    assert "cannot decode the image" in _one_line(e) and "0.png" in str(e.value)
    (root / "train" / "ant" / "0.png").write_bytes(png_bytes(rng.integers(0, 256, (7, 6, 3), dtype=np.uint8)))
    with pytest.raises(DataError) as e:
        D.load(root, "train")
    assert "all images of a split must have one size" in _one_line(e)
    (root / "train" / "ant" / "0.png").write_bytes(png_bytes(np.zeros((6, 6), np.uint16) + 300))
    with pytest.raises(DataError) as e:
        D.load(root, "train")
    assert "not supported" in _one_line(e)
    with pytest.raises(DataError) as e:
        D.load(tmp_path / "nothing-here", "train")
    assert "no such file or folder" in _one_line(e)
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DataError) as e:
        D.load(tmp_path / "junk.tar.gz", "train")
    assert "tar archive" in _one_line(e)


@pytest.mark.parametrize("name", ["/etc/train/a/0.png", "train/../../a/0.png", "../train/a/0.png"])
def test_unsafe_archive_members_are_refused(tmp_path, name):
    png = png_bytes(np.zeros((4, 4), np.uint8))
    tar = tar_tree(tmp_path / "evil.tar.gz", {"train/a/1.png": png, name: png})
    with pytest.raises(DataError) as e:
        D.load(tar, "train")
    text = _one_line(e)
    assert "refused" in text and repr(name) in text
    assert not (tmp_path / "a").exists() and not Path("/etc/train").exists()


def test_non_regular_archive_members_are_skipped(tmp_path):
    png = png_bytes(np.full((4, 4), 7, np.uint8))
    tar = tar_tree(tmp_path / "links.tar.gz", {"train/a/1.png": png},
                   extra=[("train/a/2.png", b"", tarfile.SYMTYPE, "/etc/passwd"),
                          ("train/a/3.png", b"", tarfile.LNKTYPE, "train/a/1.png"),
                          ("train/a/4.png", b"", tarfile.FIFOTYPE),
                          ("train/b", b"", tarfile.DIRTYPE),
                          ("train/a/.hidden.png", b"junk"), ("train/a/notes.txt", b"junk")])
    d = D.load(tar, "train")
    assert len(d) == 1 and d.classes == ("a",) and int(d.images.max()) == 7


# --- subsets ------------------------------------------------------------------------------------------------
def test_limit_is_stratified_and_deterministic():
    labels = np.array([0, 0, 0, 0, 1, 2, 2, 1, 0, 2], dtype=np.int64)
    d = D.Dataset("t", "test", np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1), labels, ("a", "b", "c"), "mem")
    sub = d.limit(5)
    # first of each class (items 0, 4, 5), then the second of each in stored order (1, 6, 7): five kept
    assert sub.labels.tolist() == [0, 0, 1, 2, 2]
    assert sub.images[:, 0, 0, 0].tolist() == [0, 1, 4, 5, 6]
    assert d.limit(5, stratified=False).images[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4]
    assert d.limit(100) is d and d.limit(None) is d
    assert np.array_equal(D.stratified_indices(labels, 3), [0, 4, 5])
    with pytest.raises(DataError):
        d.limit(0)
    with pytest.raises(DataError):
        D.load("digits", "test", limit=-3)


def _count_calls(monkeypatch, module, name) -> list:
    calls = []
    real = getattr(module, name)

    def counted(*a, **k):
        calls.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_limited_load_decodes_only_the_chosen_images(tmp_path, monkeypatch):
    rng = np.random.default_rng(10)
    tree = image_tree(rng, n=(5, 4, 6))
    tar = tar_tree(tmp_path / "t.tar.gz", {f"train/{c}/{n}": png_bytes(a) for c, f in tree.items() for n, a in f.items()})
    decodes = _count_calls(monkeypatch, imagefolder, "decode")
    part = D.load(tar, "train", limit=6)
    assert len(decodes) == 6 and part.counts() == {"ant": 2, "cow": 2, "zebra": 2}
    full = D.load(tar, "train")
    assert len(decodes) == 6 + 15
    assert np.array_equal(full.limit(6).images, part.images) and np.array_equal(full.limit(6).labels, part.labels)
    again = D.load(tar, "train", limit=7)  # from the cached whole split: nothing decoded
    assert len(decodes) == 21 and again.from_cache and np.array_equal(again.images, full.limit(7).images)


# --- the decoded-array cache --------------------------------------------------------------------------------
def test_second_load_reads_the_cache(tmp_path, monkeypatch):
    rng = np.random.default_rng(11)
    tree = image_tree(rng)
    write_tree(tmp_path / "f", "train", tree)
    decodes = _count_calls(monkeypatch, imagefolder, "decode")
    first = D.load(tmp_path / "f", "train")
    assert len(decodes) == 9 and not first.from_cache
    second = D.load(tmp_path / "f", "train")
    assert len(decodes) == 9 and second.from_cache
    assert np.array_equal(first.images, second.images) and first.classes == second.classes
    entries = list(cache.cache_dir().glob("*.npz"))
    assert len(entries) == 1 and not list(cache.cache_dir().glob("*.part.npz"))
    # a changed file is decoded again
    os.utime(tmp_path / "f" / "train" / "ant" / "0.png", ns=(1, 1))
    assert not D.load(tmp_path / "f", "train").from_cache and len(decodes) == 18
    # IDX: read once, then from the cache; a damaged entry is a reported miss and is replaced
    idx_folder(tmp_path / "i", rng)
    reads = _count_calls(monkeypatch, idx, "read_idx")
    D.load(tmp_path / "i", "test")
    assert len(reads) == 2
    assert D.load(tmp_path / "i", "test").from_cache and len(reads) == 2
    for entry in cache.cache_dir().glob("*.npz"):
        entry.write_bytes(b"damaged")
    d = D.load(tmp_path / "i", "test")
    assert not d.from_cache and len(reads) == 4 and D.load(tmp_path / "i", "test").from_cache


def test_unwritable_cache_costs_only_speed(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("CHARZ_CACHE_DIR", str(blocker))
    idx_folder(tmp_path / "i", np.random.default_rng(12))
    assert len(D.load(tmp_path / "i", "train")) == 30
    assert "cannot write the decoded-dataset cache" in capsys.readouterr().err


# --- the search path ----------------------------------------------------------------------------------------
def test_search_path_order(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    system, shared = tmp_path / "sys", tmp_path / "work" / "shared" / "datasets"
    monkeypatch.setattr(named, "SYSTEM_DIR", system)
    monkeypatch.setattr(named, "checkout_root", lambda: tmp_path / "work" / "main")
    monkeypatch.setenv(named.DATA_PATH_ENV, os.pathsep.join([str(a), "", str(b)]))
    user = tmp_path / "cache" / "datasets"
    assert D.search_path() == [a, b, user, system, shared]
    rng = np.random.default_rng(13)
    for folder, n in ((shared, 5), (system, 6), (user, 7), (b, 8), (a, 9)):
        idx_folder(folder / "fashion-mnist", rng, n_test=n)
    for folder, n in ((a, 9), (b, 8), (user, 7), (system, 6), (shared, 5)):
        d = D.load("fashion-mnist", "test")
        assert len(d) == n and d.source.startswith(str(folder)) and d.classes == named.FASHION_CLASSES
        assert d.description == "Fashion-MNIST"
        for p in (folder / "fashion-mnist").iterdir():
            p.unlink()
        (folder / "fashion-mnist").rmdir()
    with pytest.raises(DataError) as e:
        D.load("fashion-mnist", "test")
    text = _one_line(e)
    assert "dataset fashion-mnist not found" in text and all(str(f) in text for f in (a, b, user, system, shared))
    info = D.inspect("fashion-mnist")
    assert info.path is None and info.searched == tuple(map(str, (a, b, user, system, shared)))


def test_cifar10_prefers_the_binary_version(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv(named.DATA_PATH_ENV, os.pathsep.join([str(a), str(b)]))
    rng = np.random.default_rng(14)
    tree = image_tree(rng, n=(2, 2), side=32)
    write_tree(a / "cifar10-jpeg", "test", tree, encode=jpeg_bytes)
    d = D.load("cifar10", "test")
    assert d.description == "CIFAR-10 (JPEG copy)" and d.layout == "image-folder" and len(d) == 4
    assert "JPEG" in D.inspect("cifar10").note
    written = cifar_folder(b / "cifar-10-batches-bin", rng)
    d = D.load("cifar10", "test")
    assert d.description == "CIFAR-10" and d.layout == "cifar-bin" and np.array_equal(d.images, written["test"][0])


def test_digits_is_the_network_split():
    from charz.network import digits

    xtr, ytr, xte, yte = digits.load()
    d = D.load("digits", "test")
    assert d.shape == (8, 8, 1) and d.pixel_max == digits.PIXEL_MAX and d.layout == "sklearn"
    assert np.array_equal(d.images.reshape(len(d), -1), xte) and np.array_equal(d.labels, yte)
    assert len(D.load("digits", "train")) == len(xtr)
    assert float(d.as_float().max()) == 1.0
    with pytest.raises(DataError) as e:
        D.load("digits", "validation")
    assert "splits train and test" in _one_line(e)


# --- charz data ---------------------------------------------------------------------------------------------
def test_charz_data_lists_found_and_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(named.DATA_PATH_ENV, str(tmp_path / "d"))
    idx_folder(tmp_path / "d" / "mnist", np.random.default_rng(15), n_train=12, n_test=7)
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert f"mnist: MNIST, idx at {tmp_path / 'd' / 'mnist'}" in out
    assert "splits: train 12, test 7 images; image 28x28x1" in out
    assert "fashion-mnist: Fashion-MNIST: not found" in out and "cifar10: CIFAR-10: not found" in out
    assert "digits: scikit-learn digits" in out and "train 1,437, test 360" in out
    assert f"search path: {tmp_path / 'd'} -> " in out
    assert main(["data", "mnist", "--load", "--split", "test"]) == 0
    assert main(["data", "mnist", "--load", "--split", "test", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "loaded test: 7 images 28x28x1" in out and "(decoded)" in out
    assert "loaded test: 5 images" in out and "(read from the decoded-array cache)" in out
    assert main(["data", "cifar10"]) == 6
    assert "charz: error: dataset cifar10 not found" in capsys.readouterr().err


def test_charz_data_help_and_exit_code(tmp_path):
    r = charz("data", "--help")
    assert r.returncode == 0 and "CHARZ_DATA_PATH" in r.stdout and "pickle" in r.stdout
    r = charz("data", tmp_path / "missing", env={"CHARZ_CACHE_DIR": str(tmp_path)})
    assert "no such file or folder" in one_line_error(r, 6)
    assert "6 bad or missing dataset" in " ".join(charz("--help").stdout.split())


# --- the shared copies, when present ------------------------------------------------------------------------
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def test_shared_mnist_test_split(monkeypatch):
    if not (SHARED / "mnist").is_dir():
        pytest.skip(f"no MNIST copy in {SHARED}")
    monkeypatch.setattr(named, "checkout_root", lambda: SHARED.parent.parent / "main")
    d = D.load("mnist", "test")
    assert d.source == str(SHARED / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert d.images.shape == (10000, 28, 28, 1) and len(d.labels) == 10000 and sum(d.counts().values()) == 10000
    assert d.labels[:3].tolist() == [7, 2, 1]  # the well-known first test digits
    assert min(d.counts().values()) > 800


def test_shared_cifar10_jpeg_first_500(monkeypatch):
    if not (SHARED / "cifar10-jpeg" / "test.tar.gz").is_file():
        pytest.skip(f"no CIFAR-10 JPEG copy in {SHARED}")
    monkeypatch.setattr(named, "checkout_root", lambda: SHARED.parent.parent / "main")
    d = D.load("cifar10", "test", limit=500)
    assert d.description == "CIFAR-10 (JPEG copy)" and d.shape == (32, 32, 3) and len(d) == 500
    assert d.classes == tuple(CIFAR_CLASSES) and set(d.counts().values()) == {50}
    assert 60 < float(d.images.mean()) < 200 and float(d.images.std()) > 30


def test_system_fashion_mnist(monkeypatch):
    if not (Path("/usr/share/datasets") / "fashion-mnist").is_dir():
        pytest.skip("dataset-fashion-mnist is not installed")
    monkeypatch.setattr(named, "SYSTEM_DIR", Path("/usr/share/datasets"))
    d = D.load("fashion-mnist", "test")
    assert d.images.shape == (10000, 28, 28, 1) and set(d.counts().values()) == {1000}
