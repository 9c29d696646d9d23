"""The SLURM jobs a launch submitted, by cell (``<data_root>/09_tracking/launch/jobs.json``), so
that a later launch follows a cell whose job is still pending or running (its launcher was
stopped) instead of submitting it twice."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

LEDGER = Path("09_tracking") / "launch" / "jobs.json"
ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING", "REQUEUE_HOLD"}


def record(data_root: str | Path, jobs: Mapping[str, str]) -> None:
    """Add ``cell -> SLURM job id`` entries to the ledger (written atomically)."""
    path = Path(data_root) / LEDGER
    path.parent.mkdir(parents=True, exist_ok=True)
    ledger = read(data_root)
    ledger.update(jobs)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ledger, indent=1, sort_keys=True))
    tmp.replace(path)


def read(data_root: str | Path) -> dict[str, str]:
    """The ledger (empty when absent or unreadable)."""
    try:
        return dict(json.loads((Path(data_root) / LEDGER).read_text()))
    except (OSError, ValueError):
        return {}


def active(data_root: str | Path, cells: set[str] | None = None) -> dict[str, str]:
    """``cell -> job id`` of the ledger's jobs SLURM still has pending or running (empty where
    SLURM's ``squeue`` is absent or fails)."""
    ledger = {c: j for c, j in read(data_root).items() if cells is None or c in cells}
    if not ledger:
        return {}
    try:
        result = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if result.returncode != 0:
        return {}
    states = dict(line.split()[:2] for line in result.stdout.splitlines() if len(line.split()) >= 2)
    return {cell: job for cell, job in ledger.items() if states.get(job) in ACTIVE}
