"""Partial volume: render on a finer grid, then average each output voxel's sub-voxels.

A scanner integrates over a voxel; painting the anatomy voxel by voxel (point sampling) instead
breaks thin structures that fall between voxel centres (the cortical skull tables at 3.5 mm
become a dotted ring). The generated subjects are therefore rendered in-plane on a grid
``factor`` times finer (sub-voxel size at most ``partial_volume_mm``), and every quantity a
scanner measures (HU, the mu-map, PET activity, T1 signal) is averaged over the ``factor x
factor`` sub-voxels of each output voxel; the label map is the sub-voxels' most common label.
The fine grid's voxel centres average exactly to the output grid's (both are centred).
"""

from __future__ import annotations

import math

import numpy as np

Block = tuple[int, int, int]


def supersampling(spacing_mm, partial_volume_mm: float | None) -> Block:
    """Per-axis factor of the fine grid: ``ceil(spacing / partial_volume_mm)`` in-plane (the
    axial plane, axes 0 and 1), 1 through-plane; (1, 1, 1) when ``partial_volume_mm`` is None/0."""
    if partial_volume_mm is None or partial_volume_mm == 0:
        return (1, 1, 1)
    if not partial_volume_mm > 0:
        raise ValueError(f"simulation.partial_volume_mm must be null or > 0, got {partial_volume_mm!r}")
    fx, fy = (max(1, math.ceil(float(s) / float(partial_volume_mm) - 1e-9)) for s in spacing_mm[:2])
    return (fx, fy, 1)


def fine_grid(shape, spacing_mm, block: Block) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """Shape and spacing of the grid ``block`` times finer over the same field of view."""
    return (tuple(int(n) * b for n, b in zip(shape, block, strict=True)),  # type: ignore[return-value]
            tuple(float(s) / b for s, b in zip(spacing_mm, block, strict=True)))


def _blocks(volume: np.ndarray, block: Block) -> np.ndarray:
    """``(X*bx, Y*by, Z*bz) -> (X, Y, Z, bx*by*bz)`` view-free reshape of each block."""
    x, y, z = (n // b for n, b in zip(volume.shape, block, strict=True))
    bx, by, bz = block
    v = volume.reshape(x, bx, y, by, z, bz).transpose(0, 2, 4, 1, 3, 5)
    return v.reshape(x, y, z, bx * by * bz)


def block_mean(volume: np.ndarray, block: Block) -> np.ndarray:
    """Mean over each ``block`` of sub-voxels (float64 accumulation), float32 on the coarse grid."""
    if block == (1, 1, 1):
        return np.asarray(volume, dtype=np.float32)
    return _blocks(np.asarray(volume, dtype=np.float64), block).mean(axis=-1).astype(np.float32)


def block_mode(labels: np.ndarray, block: Block) -> np.ndarray:
    """The most common label of each block (ties: the smaller label value), uint8."""
    if block == (1, 1, 1):
        return labels
    parts = _blocks(labels, block)
    best = np.zeros(parts.shape[:3], dtype=np.uint8)
    best_count = np.full(parts.shape[:3], -1, dtype=np.int32)
    for value in np.unique(labels):
        count = (parts == value).sum(axis=-1, dtype=np.int32)
        better = count > best_count
        best[better], best_count[better] = value, count[better]
    return best
