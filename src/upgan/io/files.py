"""Permissions of atomically written outputs.

``tempfile.mkstemp`` and ``mkdtemp`` create private files (0600) and folders (0700) whatever the
user's umask; an output written through one and renamed into place would stay private. These
helpers give the temporary file or folder the mode an ordinary ``open``/``mkdir`` would have
given it (``0o666 & ~umask``, ``0o777 & ~umask``) before the rename.
"""

from __future__ import annotations

import os
from pathlib import Path


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
