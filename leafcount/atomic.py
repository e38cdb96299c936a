"""Atomic file writes: a crash leaves either the old file or the new one."""

from __future__ import annotations

import os
from pathlib import Path

from leafcount.errors import LeafcountError


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The temporary file lives in the same folder so :func:`os.replace` stays
    atomic (a rename across filesystems is a copy). It is fsynced before the
    rename so a power cut cannot leave a renamed but empty file.

    Raises
    ------
    LeafcountError
        When the folder is missing, read-only or the disk is full; the old
        file, if any, is left untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise LeafcountError(f"could not write the file ({exc.strerror or exc})", path) from exc
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    """Remove a temporary file if there is one. On a read-only file system even
    removing a file that was never created fails (EROFS), which must not hide
    the error that brought us here."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


def check_writable(folder: str | Path) -> None:
    """Create and remove a hidden file in ``folder``.

    A batch asks once, before any work, so a read-only or forbidden output
    folder is one line instead of one failure per image.

    Raises
    ------
    LeafcountError
        Naming the folder and the system's reason.
    """
    folder = Path(folder)
    probe = folder / f".leafcount-write-test-{os.getpid()}.partial"
    try:
        with open(probe, "wb"):
            pass
    except OSError as exc:
        raise LeafcountError(f"cannot write in this folder ({exc.strerror or exc})", folder) from exc
    _discard(probe)


def write_text_atomic(path: str | Path, text: str) -> None:
    """UTF-8 text through :func:`write_atomic`."""
    write_atomic(path, text.encode("utf-8"))
