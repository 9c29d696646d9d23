"""Rigid head-motion artefacts with TorchIO RandomMotion (k-space splicing along the last axis)."""

from __future__ import annotations

import logging

import numpy as np
import torch
import torchio as tio

logger = logging.getLogger(__name__)


def simulate_motion(
    volume: np.ndarray, spacing_mm, degrees: float = 10.0, translation_mm: float = 2.0,
    num_transforms: int = 3, seed: int = 0,
) -> np.ndarray:
    """Apply ``tio.RandomMotion`` to a 3D volume (X, Y, Z) with an affine diag(spacing_mm).

    ``torch.manual_seed(seed)`` is set just before the call inside a forked RNG scope, so the
    global torch RNG state is unchanged afterwards. Returns float32 of the same shape."""
    vol = np.asarray(volume, dtype=np.float32)
    if vol.ndim != 3:
        raise ValueError("volume must be 3D (X, Y, Z)")
    affine = np.diag([float(spacing_mm[0]), float(spacing_mm[1]), float(spacing_mm[2]), 1.0])
    image = tio.ScalarImage(tensor=torch.from_numpy(vol.copy())[None], affine=affine)
    transform = tio.RandomMotion(degrees=degrees, translation=translation_mm,
                                 num_transforms=num_transforms)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        moved = transform(image)
    out = moved.data[0].numpy().astype(np.float32)
    logger.debug("motion seed=%d applied to volume %s", seed, vol.shape)
    return out
