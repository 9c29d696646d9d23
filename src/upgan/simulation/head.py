"""The head phantom's labels and volume type, and the smooth random fields that vary subjects."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import ndimage as ndi


class Tissue(IntEnum):
    """Label values of the phantom."""

    AIR = 0
    SCALP = 1  # skin + muscle + other soft tissue
    FAT = 2
    CORTICAL_BONE = 3
    CANCELLOUS_BONE = 4  # diploe / marrow
    GREY_MATTER = 5
    WHITE_MATTER = 6
    CSF = 7
    VENTRICLE = 8
    SINUS_AIR = 9  # paranasal sinuses, nasal cavity, pharynx, mastoid cells, ear canal
    NASAL_BONE = 10  # thin bony walls / septa / turbinates
    PETROUS_BONE = 11  # dense inner-ear bone
    EYE = 12  # vitreous body
    TEETH = 13


@dataclass(frozen=True)
class HeadPhantom:
    """A label volume (X, Y, Z) uint8 of :class:`Tissue` values with its voxel spacing in mm."""

    labels: np.ndarray
    spacing_mm: tuple[float, float, float]

    def mask(self, *tissues: Tissue | int) -> np.ndarray:
        """Boolean (X, Y, Z) mask of the voxels whose label is any of ``tissues``."""
        return np.isin(self.labels, np.asarray([int(t) for t in tissues], dtype=np.uint8))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Volume shape (X, Y, Z)."""
        return tuple(int(s) for s in self.labels.shape)  # type: ignore[return-value]


def smooth_noise(
    shape: tuple[int, ...], spacing_mm: tuple[float, ...], corr_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """Smooth Gaussian random field (zero mean, unit std) with correlation length ~``corr_mm``.

    White noise on a coarse grid (corr/3 spacing) is Gaussian-smoothed and linearly upsampled.
    Returns float32 of ``shape``.
    """
    step = corr_mm / 3.0
    coarse = [max(4, int(np.ceil(n * s / step)) + 3) for n, s in zip(shape, spacing_mm, strict=True)]
    field = ndi.gaussian_filter(rng.standard_normal(coarse).astype(np.float32), 1.5, mode="wrap")
    # map voxel centres into the coarse grid (coarse cell i covers [i*step, (i+1)*step) mm)
    zoom = [n / c for n, c in zip(shape, coarse, strict=True)]
    out = ndi.zoom(field, zoom, order=1, grid_mode=True, mode="grid-wrap")
    out = out[tuple(slice(0, n) for n in shape)]
    out -= out.mean()
    out /= out.std() + 1e-8
    return out.astype(np.float32)
