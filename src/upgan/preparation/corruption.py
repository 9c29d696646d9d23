"""How a task's corrupted input is made from its normalised target (the MRI tasks; NAC PET is its
own acquisition and has none)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from upgan.preparation.config import PreparationConfig
from upgan.preparation.geometry import axial_slices


@dataclass(frozen=True)
class NormalisedTarget:
    """One subject's target on the normalised scale.

    Attributes:
        volume: (X, Y, Z) canonical (RAS+) volume.
        spacing_mm: its voxel size.
        slices: (Z, S, S) its axial slices at the prepared size.
    """

    volume: np.ndarray
    spacing_mm: tuple[float, float, float]
    slices: np.ndarray


class Corruption(ABC):
    """Makes the input from the target (subclasses are frozen dataclasses).

    Attributes:
        label: how figures name the corrupted input (``undersampled`` T1).
    """

    label: str

    @abstractmethod
    def apply(self, target: NormalisedTarget, config: PreparationConfig, seed: int) -> np.ndarray:
        """The (Z, S, S) float32 input slices of ``target``, seeded by ``seed``."""


@dataclass(frozen=True)
class KSpaceUndersampling(Corruption):
    """Cartesian undersampling of each axial slice (``preparation.undersampling``); the random
    lines of ``mode: upgan_code`` are redrawn per slice, as in the official code."""

    label: str = "undersampled"

    def apply(self, target: NormalisedTarget, config: PreparationConfig, seed: int) -> np.ndarray:
        from upgan import simulation

        slices = target.slices
        params = dict(config.undersampling)
        axis = int(params.get("phase_encode_axis", 1))
        mode = params.get("mode", "central")
        n_lines = slices.shape[1 + axis]
        rng = np.random.default_rng(seed)
        out = np.empty_like(slices)
        for k, image in enumerate(slices):
            mask = simulation.undersampling_mask(
                n_lines, mode=mode, fraction=float(params.get("fraction", 0.08)),
                rng=rng, upgan_af=int(params.get("upgan_af", 12)),
            )
            out[k] = simulation.undersample(image, mask, axis=axis)
        return out


@dataclass(frozen=True)
class RigidMotion(Corruption):
    """TorchIO rigid motion of the whole volume (``preparation.motion``), clipped at 0.

    TorchIO splits k-space along the last array axis: left-right is put there so the ghosts run
    in-plane in axial slices, as in the IXI arrays the official code corrupted.
    """

    label: str = "motion-corrupted"

    def apply(self, target: NormalisedTarget, config: PreparationConfig, seed: int) -> np.ndarray:
        from upgan import simulation

        spacing = target.spacing_mm
        moved = np.moveaxis(target.volume, 0, -1)
        out = simulation.simulate_motion(
            moved, (spacing[1], spacing[2], spacing[0]), degrees=float(config.motion["degrees"]),
            translation_mm=float(config.motion["translation_mm"]),
            num_transforms=int(config.motion["num_transforms"]), seed=seed,
        )
        corrupted = np.clip(np.moveaxis(out, -1, 0), 0.0, None).astype(np.float32)
        return axial_slices(corrupted, target.slices.shape[-1])
