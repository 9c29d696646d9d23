"""What a stage records: validation records, the kept (best validated) step and loss means."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class TrainingHistory:
    """Validation records of a stage: ``records[i]`` holds ``step`` (generator updates so far),
    ``lr``, ``g_loss``, ``d_loss`` and ``train_*`` (means since the previous record; NaN at step
    0), ``val_mae``, ``val_psnr``, ``val_ssim`` and ``val_*`` extras.

    Attributes:
        updates: generator updates the stage made in total.
        selected_step: the step whose weights were kept (lowest ``val_mae``; the last step when
            there is no validation data).
        resumed_from_step: the step a resumed run started from (0 for a fresh run).
    """

    stage: str
    records: list[dict[str, float]] = field(default_factory=list)
    updates: int = 0
    selected_step: int = 0
    resumed_from_step: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.records)

    def __getitem__(self, index: int) -> dict[str, float]:
        return self.records[index]

    def metric(self, name: str) -> list[float]:
        """One column across records."""
        return [r[name] for r in self.records]

    def last(self) -> dict[str, float]:
        """The final record (empty dict when none)."""
        return self.records[-1] if self.records else {}

    def selected(self) -> dict[str, float]:
        """The record of the kept weights (empty dict when none)."""
        for record in self.records:
            if int(record["step"]) == self.selected_step:
                return record
        return {}


def select_best(records: list[dict[str, float]], key: str = "val_mae", keep_initial: bool = True) -> int:
    """Step of the record with the lowest finite ``key`` (the earliest on ties); the last
    record's step when none has a finite value (e.g. no validation data). Without
    ``keep_initial`` the step-0 record is not eligible (unless it is the only one)."""
    best_step, best_value = None, math.inf
    for record in records:
        if not keep_initial and int(record["step"]) == 0 and len(records) > 1:
            continue
        value = record.get(key, math.nan)
        if math.isfinite(value) and value < best_value:
            best_step, best_value = int(record["step"]), value
    if best_step is None:
        return int(records[-1]["step"]) if records else 0
    return best_step


@dataclass
class BestWeights:
    """The validated weights with the lowest ``val_mae`` so far (CPU state dicts per module).

    ``step`` is None (and the states are None) until a validated record was eligible.
    """

    step: int | None = None
    mae: float = math.inf
    generators: list[dict[str, Tensor]] | None = None
    discriminators: list[dict[str, Tensor]] | None = None


class RunningMeans:
    """Sums of detached scalar losses since the last record, read back as means (one host sync
    per value, at records only)."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.count = 0

    def add(self, values: dict[str, Tensor]) -> None:
        """Add one update's scalar losses (detached, float32)."""
        for key, value in values.items():
            value = value.detach().float()
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.count += 1

    def drain(self) -> dict[str, float]:
        """Means since the last drain, then start again from nothing."""
        means = {key: float(value) / max(self.count, 1) for key, value in self.sums.items()}
        self.sums, self.count = {}, 0
        return means
