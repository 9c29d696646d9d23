"""Atomic writes and the permissions of atomically written outputs.

``tempfile.mkstemp`` and ``mkdtemp`` create private files (0600) and folders (0700) whatever the
user's umask; an output written through one and renamed into place would stay private. These
helpers give the temporary file or folder the mode an ordinary ``open``/``mkdir`` would have
given it (``0o666 & ~umask``, ``0o777 & ~umask``) before the rename. :func:`atomic_path` is the
one way outputs are written: to a temporary file in the target's folder, then renamed over it,
so a reader (or a later run after a kill) sees the old file or the new one, never a part.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Prefix of the temporary files :func:`atomic_path` writes (hidden, so folder listings skip them).
TEMP_PREFIX = ".tmp-"


def current_umask() -> int:
    """The process's umask (read from ``/proc`` where possible, so it is never changed)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc (macOS): read it by setting it, then put it back
    os.umask(mask)
    return mask


def publish_file(path: str | Path) -> None:
    """Give a file made by ``mkstemp`` the mode of an ordinary new file (``0o666 & ~umask``)."""
    os.chmod(path, 0o666 & ~current_umask())


def publish_dir(path: str | Path) -> None:
    """Give a folder made by ``mkdtemp`` the mode of an ordinary new folder (``0o777 & ~umask``)."""
    os.chmod(path, 0o777 & ~current_umask())


def _suffix_of(path: Path) -> str:
    """``.nii.gz`` for gzipped names, else the last suffix (writers such as ``np.savez`` and
    ``nib.save`` choose their format by it)."""
    return "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` to write the whole output to; when the block ends
    without an error the file gets the mode of an ordinary new file and replaces ``path``
    (``os.replace``, atomic on one file system); on an error it is removed and ``path`` is left
    as it was. The folder is created if missing.

    Args:
        path: the output.
        suffix: of the temporary file (default: ``path``'s, e.g. ``.npz``, ``.nii.gz``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=_suffix_of(path) if suffix is None else suffix,
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        publish_file(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class StorageError(ValueError):
    """An output could not be written: the disk is full, the folder is read-only... One line
    that says what happened and what to do; the earlier file, if any, is left as it was."""


DISK_FULL_MARGIN = 1 << 20
"""A write that failed with less than this many bytes free (1 MiB) is taken for a full disk
(``torch.save`` reports one as ``unexpected pos ...``, without an errno)."""


def storage_error(err: BaseException, path: str | Path, what: str) -> BaseException:
    """A :class:`StorageError` for a failed write of ``what`` to ``path`` when ``err`` comes
    from the storage (a full disk, no permission, a read-only file system); ``err`` itself
    otherwise."""
    folder = Path(path).parent
    code = getattr(err, "errno", None)
    try:
        full = code in (errno.ENOSPC, errno.EDQUOT) or shutil.disk_usage(folder).free < DISK_FULL_MARGIN
    except OSError:
        full = code in (errno.ENOSPC, errno.EDQUOT)
    if full:
        reason = "the disk is full"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = "the folder is read-only or not writable"
    else:
        return err
    return StorageError(f"cannot write the {what} {path}: {reason}; the previous version (if any) is kept. "
                        "Free space or make the folder writable, then run again (training resumes from "
                        "its last checkpoint)")
