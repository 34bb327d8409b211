"""The store's files on disk: who may read them, and what a fault of the disk means.

Files the store creates (the DuckDB file and the write-ahead log DuckDB creates beside it at
each write and removes at each checkpoint) are readable by their owner only:
:func:`private_files` narrows the process's umask while the store opens or writes.

Faults: DuckDB and the operating system report a full disk, a read-only file system and a damaged file
in their own words (``IO Error: Could not write file ...: No space left on device``); these
helpers turn them into a :class:`~healthscore.errors.StoreError` naming the file and what to do.
Every write runs in one transaction, so each message can say the last good data is intact.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from healthscore.errors import OutputError, StoreBusy, StoreError

#: How DuckDB says another connection holds the file ("block" in a checksum error is not one).
HELD = ("could not set lock", "conflicting lock", "different configuration")
_FULL = ("no space left on device", "disk quota exceeded", "file too large")
_READ_ONLY = ("read-only file system", "permission denied", "access is denied",
              "operation not permitted", "attempt to write a readonly database",
              "cannot write to a read-only")
_CORRUPT = ("corrupt", "not a valid duckdb database file", "checksum", "invalid block",
            "serialization error", "unexpected end of file", "failed to read database header",
            "is not a valid")
_ERRNOS = {errno.ENOSPC: _FULL[0], errno.EDQUOT: _FULL[1], errno.EFBIG: _FULL[2],
           errno.EROFS: _READ_ONLY[0], errno.EACCES: _READ_ONLY[1], errno.EPERM: _READ_ONLY[3]}

_lock = threading.Lock()
_depth = 0
_saved = 0


@contextmanager
def private_files() -> Iterator[None]:
    """Inside the block, files this process creates are readable by their owner only (mode
    0600): the umask is process-wide, so nested and concurrent blocks share one narrowing."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = os.umask(0o077)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                os.umask(_saved)


UNCHANGED = "nothing was written; the data and scores stored before are as they were"


def _text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        return _ERRNOS[exc.errno]
    return str(exc).lower()


def is_held(exc: BaseException) -> bool:
    """True when ``exc`` says another connection (another process) holds the file."""
    text = _text(exc)
    return any(m in text for m in HELD)


def disk_full(path: Path, exc: BaseException) -> StoreError | None:
    """The error to raise when ``exc`` (writing ``path``) means the disk is full, else None."""
    if not any(m in _text(exc) for m in _FULL):
        return None
    return StoreError(f"{path}: the disk is full ({UNCHANGED})",
                      hint=f"free space on the disk holding {path.parent} (`df -h "
                           f"{path.parent}`), then run the command again")


def store_fault(path: Path, exc: BaseException, *, opening: bool = False
                ) -> StoreError | None:
    """The one-sentence error for a failure opening or writing the store at ``path``: a full
    disk, a read-only or damaged file, a file another process holds. When opening, any other
    failure too; when writing, None for the rest (a bug, not a fault of the disk)."""
    text = _text(exc)
    if any(m in text for m in HELD):
        return StoreBusy(f"{path}: another healthscore process is using it",
                         hint="try again when it has finished (an ingest, score, backfill "
                              "or the daily job)")
    full = disk_full(path, exc)
    if full is not None:
        return full
    if any(m in text for m in _READ_ONLY):
        return StoreError(
            f"{path}: the store cannot be written here (the file or its folder is read-only)"
            + ("" if opening else f"; {UNCHANGED}"),
            hint="let this user write the file and its folder (DuckDB adds a .wal file beside "
                 "it), or copy the workspace somewhere writable; reading commands (status, "
                 "explain, export, serve) still work")
    if any(m in text for m in _CORRUPT):
        return StoreError(
            f"{path}: the store file is damaged and cannot be read ({exc})",
            hint="restore it from a backup; or move it aside and rebuild it from the source "
                 "files: `healthscore ingest --full`, then `healthscore backfill` for history "
                 "(CSM pulses and overrides entered by hand live only in the store)")
    if not opening:
        return None
    return StoreError(f"{path}: cannot open the store ({exc})",
                      hint="check that the file is a healthscore store, and that the disk "
                           "is readable")


def output_fault(path: Path, exc: OSError) -> OutputError:
    """The one-sentence error for a failure writing an output file (export, report)."""
    full = disk_full(path, exc)
    if full is not None:
        return OutputError(f"{path}: the disk is full; the file was not written",
                          hint=full.hint)
    if isinstance(exc, FileNotFoundError) or "no such file or directory" in str(exc).lower():
        return OutputError(f"{path}: the folder {path.parent} does not exist",
                          hint=f"create it first (mkdir -p {path.parent}) or write elsewhere")
    if isinstance(exc, IsADirectoryError):
        return OutputError(f"{path}: is a folder", hint="give a file name inside it")
    if any(m in _text(exc) for m in _READ_ONLY):
        return OutputError(f"{path}: cannot write here (read-only)",
                          hint="choose a folder this user may write")
    return OutputError(f"{path}: cannot write the file ({exc.strerror or exc})")


def check_output(path: Path) -> Path:
    """``path`` if a file can be written there (its folder exists); else the
    :class:`OutputError` a write would end in, raised before any work is done."""
    folder = path.parent
    if path.is_dir():
        raise output_fault(path, IsADirectoryError(errno.EISDIR, "is a folder", str(path)))
    if not folder.is_dir():
        raise output_fault(path, FileNotFoundError(errno.ENOENT, "no such folder", str(path)))
    return path
