"""Reading files of a dataset safely: gzip or raw files with bounded reads, and tar archives read member by
member in memory.

A tar archive is never extracted to disk. Every member name is checked before anything is read: an absolute
name or one with a ``..`` component makes the whole archive refused (one-line :class:`DataError`); members that
are not regular files (folders, symbolic and hard links, devices, FIFOs) are skipped; a member larger than
:data:`MAX_MEMBER_BYTES` is refused.
"""

from __future__ import annotations

import contextlib
import gzip
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from ..core.errors import DataError

MAX_MEMBER_BYTES = 256 * 1024 * 1024
"""The largest archive member charz reads into memory (bytes)."""

TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")
"""File names read as tar archives (gzip-compressed or not)."""

GZIP_MAGIC = b"\x1f\x8b"


def is_tar_name(path: Path) -> bool:
    """Whether *path*'s name ends in one of :data:`TAR_SUFFIXES` (case-insensitive)."""
    return path.name.lower().endswith(TAR_SUFFIXES)


def tar_stem(path: Path) -> str:
    """*path*'s name without its tar suffix (``test.tar.gz`` -> ``test``)."""
    low = path.name.lower()
    for suffix in TAR_SUFFIXES:
        if low.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def member_parts(name: str, archive: Path) -> tuple[str, ...]:
    """The components of the member name *name* (``./`` removed); a one-line :class:`DataError` for an
    absolute name or one with a ``..`` component."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise DataError(f"{archive}: refused: the archive holds a member with an absolute name ({name!r}); "
                        "charz reads only archives whose members stay inside it")
    parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))
    if ".." in parts:
        raise DataError(f"{archive}: refused: the archive holds a member whose name leaves it ({name!r}, a '..' "
                        "component); charz reads only archives whose members stay inside it")
    return parts


def iter_tar(path: Path) -> Iterator[tuple[tuple[str, ...], int, Callable[[], bytes]]]:
    """(name parts, size in bytes, read) for every regular-file member of the tar archive *path*, in archive
    order, read as a stream (``read()`` returns the member's bytes and works only until the next member is
    asked for). Unsafe names stop the iteration with a :class:`DataError`; so does a damaged archive."""
    try:
        tf = tarfile.open(path, mode="r|*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable tar archive ({_reason(exc)})") from None
    try:
        with tf:
            while True:
                try:
                    member = tf.next()
                except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                    raise DataError(f"{path}: damaged tar archive ({_reason(exc)})") from None
                if member is None:
                    return
                parts = member_parts(member.name, path)
                if not member.isreg() or not parts:
                    continue

                def read(member=member, parts=parts) -> bytes:
                    if member.size > MAX_MEMBER_BYTES:
                        raise DataError(f"{path}: member {'/'.join(parts)} is {member.size} bytes, more than charz "
                                        f"reads from an archive ({MAX_MEMBER_BYTES} bytes)")
                    try:
                        fh = tf.extractfile(member)
                        data = fh.read() if fh is not None else b""
                    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                        raise DataError(f"{path}: damaged tar archive at {'/'.join(parts)} ({_reason(exc)})") from None
                    if len(data) != member.size:
                        raise DataError(f"{path}: damaged tar archive: member {'/'.join(parts)} is truncated")
                    return data

                yield parts, member.size, read
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: damaged tar archive ({_reason(exc)})") from None


def read_head(path: Path, n: int) -> bytes:
    """The first *n* bytes of *path* after gzip decompression when it is gzip-compressed (by its magic number,
    not its name). A one-line :class:`DataError` when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
            fh.seek(0)
            if magic == GZIP_MAGIC:
                with gzip.GzipFile(fileobj=fh) as gz:
                    return gz.read(n)
            return fh.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({_reason(exc)})") from None


@contextlib.contextmanager
def open_maybe_gzip(path: Path) -> Iterator:
    """Context manager: *path* opened for reading bytes, through gzip when its first bytes are gzip's magic
    number (the name does not matter)."""
    with open(path, "rb") as fh:
        if fh.read(2) == GZIP_MAGIC:
            fh.seek(0)
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                yield gz
        else:
            fh.seek(0)
            yield fh


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
