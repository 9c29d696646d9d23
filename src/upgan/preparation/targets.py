"""How a task's target is put on the networks' [0, 1] scale, and how a normalised image maps
back to the target's units.

Each subject's normalisation is recorded in the preparation manifest as a JSON ``record``
(``{"kind": ..., ...}``) so that predictions go back to units without the source volume.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from upgan.preparation.config import PreparationConfig
from upgan.preparation.normalisation import (
    DEFAULT_HU_WINDOW,
    VALID_RANGE,
    HUWindow,
    PercentileScale,
)

Record = Mapping[str, Any]


class TargetNormalisation(ABC):
    """A target's normalisation (subclasses are frozen dataclasses).

    Attributes:
        kind: the ``kind`` of its manifest records.
        units: what the normalised scale maps back to (``HU``; ``normalised T1``).
        background: the target's value outside its field of view, in its units.
        valid_range: range of the normalised scale; predictions are clipped to it.
    """

    kind: ClassVar[str]
    units: str
    background: float
    valid_range: ClassVar[tuple[float, float]] = VALID_RANGE

    @abstractmethod
    def normalise(self, volume: np.ndarray, config: PreparationConfig) -> tuple[np.ndarray, dict[str, Any]]:
        """(X, Y, Z) volume in units -> float32 (X, Y, Z) on [0, 1], and its record."""

    @abstractmethod
    def to_units(self, x: np.ndarray, record: Record, sigma: bool = False) -> np.ndarray:
        """Normalised image (any shape) -> units; ``sigma``: a spread, scaled without offset."""

    @abstractmethod
    def record_at_prediction(self, config: PreparationConfig, input_scale: float) -> dict[str, Any]:
        """The record for a volume translated without a target (``upgan predict``): the
        configured window, or the input's own scale."""

    @abstractmethod
    def unit(self, record: Record) -> float:
        """One normalised unit in the target's units (the scale of inputs made from the target)."""

    @abstractmethod
    def foreground_threshold(self, record: Record) -> float:
        """Normalised value above which a target voxel counts as head."""

    def display(self, config: PreparationConfig) -> Callable[[np.ndarray], np.ndarray] | None:
        """Normalised -> display units for figures (``None``: show the normalised scale)."""
        return None

    def check(self, record: Record) -> None:
        """Refuse a record written by another normalisation."""
        if record.get("kind") != self.kind:
            raise ValueError(f"target normalisation record of kind {record.get('kind')!r}; "
                             f"this task's target is normalised by {self.kind!r}")


@dataclass(frozen=True)
class HUWindowNormalisation(TargetNormalisation):
    """CT: the invertible Hounsfield window of ``preparation.hu_window`` (:class:`HUWindow`).

    Attributes:
        head_threshold_hu: voxels above it are head (air is about -1000 HU).
    """

    kind: ClassVar[str] = "hu_window"
    units: str = "HU"
    background: float = DEFAULT_HU_WINDOW[0]
    head_threshold_hu: float = -500.0

    def normalise(self, volume: np.ndarray, config: PreparationConfig) -> tuple[np.ndarray, dict[str, Any]]:
        window = HUWindow(*config.hu_window)
        return window.forward(volume), {"kind": self.kind, "hu_min": window.hu_min, "hu_max": window.hu_max}

    def to_units(self, x: np.ndarray, record: Record, sigma: bool = False) -> np.ndarray:
        window = self._window(record)
        return x * window.width if sigma else window.inverse(x)

    def record_at_prediction(self, config: PreparationConfig, input_scale: float) -> dict[str, Any]:
        window = HUWindow(*config.hu_window)
        return {"kind": self.kind, "hu_min": window.hu_min, "hu_max": window.hu_max}

    def unit(self, record: Record) -> float:
        return self._window(record).width

    def foreground_threshold(self, record: Record) -> float:
        return float(self._window(record).forward(np.array(self.head_threshold_hu)))

    def display(self, config: PreparationConfig) -> Callable[[np.ndarray], np.ndarray] | None:
        return HUWindow(*config.hu_window).inverse

    def _window(self, record: Record) -> HUWindow:
        self.check(record)
        return HUWindow(record["hu_min"], record["hu_max"])


@dataclass(frozen=True)
class VolumeScaleNormalisation(TargetNormalisation):
    """MRI: each volume over its own robust maximum (:class:`PercentileScale` of
    ``preparation.percentile``); the scale is recorded per subject.

    Attributes:
        foreground: normalised value above which a voxel is head.
    """

    kind: ClassVar[str] = "percentile"
    units: str = "normalised T1"
    background: float = 0.0
    foreground: float = 0.1

    def normalise(self, volume: np.ndarray, config: PreparationConfig) -> tuple[np.ndarray, dict[str, Any]]:
        scaler = PercentileScale(config.percentile)
        scale = scaler.scale_of(volume)
        return scaler.forward(volume, scale), {"kind": self.kind, "scale": scale}

    def to_units(self, x: np.ndarray, record: Record, sigma: bool = False) -> np.ndarray:
        return x * self.unit(record)

    def record_at_prediction(self, config: PreparationConfig, input_scale: float) -> dict[str, Any]:
        return {"kind": self.kind, "scale": input_scale}

    def unit(self, record: Record) -> float:
        self.check(record)
        return float(record["scale"])

    def foreground_threshold(self, record: Record) -> float:
        return self.foreground
