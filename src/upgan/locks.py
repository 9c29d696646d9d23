"""Exclusive locks on the parts of a data root a run writes: one per experiment cell, one per
task's data preparation, one for the report, one for a launcher.

Two runs that write the same cell at once mix their results (one run's model beside the other's
metrics). A run therefore takes the lock of every part it will write *before* it starts, all or
none: the second run is refused at once with one line naming the holder (process id, host, start
time, command), and nothing of it has run. Runs that write different parts (the one-cell jobs of
``upgan launch``) go ahead side by side.

The locks are the operating system's (``flock`` on ``<data_root>/09_tracking/locks/<part>.lock``):
they die with their process, so a killed run (``kill -9``, out of memory, a cancelled job) leaves
no stale lock behind; the file keeps the last holder's description, which is all a refusal reads.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

LOCK_FOLDER = Path("09_tracking") / "locks"
"""Where a data root keeps its lock files."""
REPORT = "report"
"""The lock name of the nodes outside any namespace (the Table 1 report)."""


class LockHeld(ValueError):
    """A part of the data root is locked by another live run (a refused run: exit code 2)."""


def lock_name(namespace: str | None) -> str:
    """The lock of a node's namespace: the namespace itself (a cell, a task's preparation, the
    sweep's report), ``report`` for nodes outside any namespace."""
    return namespace or REPORT


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def describe(holder: dict) -> str:
    """``pid 123 on host h since 2026-12-04 17:20:01 UTC (kedro run --env test)``."""
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(holder.get("started", 0))))
    text = f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since {since}"
    return f"{text} ({holder['command']})" if holder.get("command") else text


class DataRootLocks:
    """The locks one process holds on one data root; :meth:`acquire` takes a set, all or none."""

    def __init__(self, data_root: str | Path) -> None:
        self.folder = Path(data_root) / LOCK_FOLDER
        self._held: dict[str, IO[str]] = {}

    @property
    def held(self) -> list[str]:
        """Names of the locks held now."""
        return sorted(self._held)

    def acquire(self, names: Iterable[str], what: str = "this run") -> None:
        """Take every lock in ``names`` without waiting; when one is held by another process,
        release those taken here and raise :class:`LockHeld` naming the holder."""
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                  "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:])[:200]}
        for name in sorted(set(names) - set(self._held)):
            path = self.folder / f"{_safe(name)}.lock"
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (kept open while held)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                text = handle.read().strip()
                handle.close()
                self.release()
                try:
                    other = describe(json.loads(text))
                except ValueError:
                    other = "another process (no description yet)"
                raise LockHeld(
                    f"{name} in {self.folder.parent.parent} is in use by {other}: {what} would "
                    "mix its results with that run's; wait for it to end or stop it (a stopped "
                    "run's lock is released at once)") from None
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(holder) + "\n")
            handle.flush()
            self._held[name] = handle
        logger.debug("Holding %d locks in %s", len(self._held), self.folder)

    def release(self) -> None:
        """Release every lock held (the files stay, with the last holder's description)."""
        for handle in self._held.values():
            handle.close()  # closing the only descriptor releases the flock
        self._held.clear()

    def __enter__(self) -> DataRootLocks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder(data_root: str | Path, name: str) -> dict | None:
    """The description of lock ``name``'s last holder (``None`` when never taken)."""
    path = Path(data_root) / LOCK_FOLDER / f"{_safe(name)}.lock"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
