"""Intensity normalisation to the networks' [0, 1] scale, and its inverse.

* CT: a fixed, invertible Hounsfield window: ``x = (clip(HU, hu_min, hu_max) - hu_min) /
  (hu_max - hu_min)``; the default window :data:`DEFAULT_HU_WINDOW` is the 12-bit CT range, so
  every HU value a scanner stores maps back exactly.
* PET and T1: divided by a robust per-volume maximum (a high percentile of the non-zero voxels)
  and clipped to [0, 1]; the scale is recorded per subject in the preparation manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_HU_WINDOW: tuple[float, float] = (-1024.0, 3071.0)
"""The 12-bit CT range in HU: the default CT window, and the value CT scanners store outside
their field of view (its minimum)."""

VALID_RANGE: tuple[float, float] = (0.0, 1.0)
"""Valid range of the normalised scale (the CT window; T1 and PET over their robust maximum):
predictions are clipped to it before scoring and writing."""


@dataclass(frozen=True)
class HUWindow:
    """Linear map from a Hounsfield window to [0, 1]."""

    hu_min: float = DEFAULT_HU_WINDOW[0]
    hu_max: float = DEFAULT_HU_WINDOW[1]

    def __post_init__(self) -> None:
        if not self.hu_max > self.hu_min:
            raise ValueError(f"hu_max ({self.hu_max}) must exceed hu_min ({self.hu_min})")

    @property
    def bounds(self) -> tuple[float, float]:
        """``(hu_min, hu_max)``."""
        return self.hu_min, self.hu_max

    @property
    def width(self) -> float:
        """Window width in HU (one normalised unit)."""
        return self.hu_max - self.hu_min

    def forward(self, hu: np.ndarray) -> np.ndarray:
        """HU -> [0, 1] (values outside the window are clipped)."""
        return ((np.clip(hu, self.hu_min, self.hu_max) - self.hu_min) / self.width).astype(np.float32)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        """[0, 1] -> HU."""
        return (np.asarray(x, dtype=np.float32) * self.width + self.hu_min).astype(np.float32)


@dataclass(frozen=True)
class PercentileScale:
    """Divide by the ``percentile`` of the voxels above zero, then clip to [0, ``clip_max``]."""

    percentile: float = 99.5
    clip_max: float = 1.0

    def scale_of(self, data: np.ndarray) -> float:
        """The robust maximum used as the unit of this volume."""
        positive = data[data > 0]
        if positive.size == 0:
            raise ValueError("cannot normalise a volume without positive voxels")
        return float(np.percentile(positive, self.percentile))

    def forward(self, data: np.ndarray, scale: float) -> np.ndarray:
        """Volume -> normalised scale."""
        return np.clip(data / scale, 0.0, self.clip_max).astype(np.float32)

    def inverse(self, x: np.ndarray, scale: float) -> np.ndarray:
        """Normalised scale -> the volume's own units."""
        return (np.asarray(x, dtype=np.float32) * scale).astype(np.float32)
