"""Helpers shared by the pipeline tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def checkpoint_times() -> Callable[[Path], dict[Path, int]]:
    """``checkpoint_times(data_root)``: every stage checkpoint under the data root with its
    modification time (ns), to tell which stages a run trained again."""

    def times(root: Path) -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in (root / "06_models" / "checkpoints").rglob("*.pt")}

    return times

