"""Cartesian k-space undersampling of 2D slices (phase-encode line masks)."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

logger = logging.getLogger(__name__)


def undersampling_mask(
    n_lines: int, mode: Literal["central", "upgan_code"] = "central", fraction: float = 0.08,
    rng: np.random.Generator | None = None, upgan_af: int = 12,
) -> np.ndarray:
    """Boolean (n_lines,) mask of kept phase-encode lines (k-space centre at n_lines//2).

    ``central``: round(fraction*n) (>= 1) contiguous lines centred on n//2.
    ``upgan_code``: as the official UP-GAN code, delta = floor(floor(af*n/100)/4); the 2*delta
    central lines plus delta random lines above and delta random lines below that band.
    """
    n = int(n_lines)
    if n < 1:
        raise ValueError("n_lines must be >= 1")
    mask = np.zeros(n, dtype=bool)
    if mode == "central":
        k = min(n, max(1, int(round(fraction * n))))
        start = n // 2 - k // 2
        mask[start:start + k] = True
    elif mode == "upgan_code":
        if rng is None:
            raise ValueError("mode='upgan_code' needs rng")
        delta = (upgan_af * n // 100) // 4
        lo, hi = n // 2 - delta, n // 2 + delta
        if delta < 1 or lo - delta < 0 or hi + delta > n:
            raise ValueError(f"upgan_af={upgan_af} gives an invalid band for n={n}")
        mask[lo:hi] = True
        mask[rng.choice(lo, size=delta, replace=False)] = True
        mask[hi + rng.choice(n - hi, size=delta, replace=False)] = True
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return mask


def undersample(image: np.ndarray, mask: np.ndarray, axis: int = 0) -> np.ndarray:
    """Zero-filled reconstruction |IFFT(mask * FFT(image))| of real images (..., H, W).

    Centred 2D FFT over the last two axes; ``axis`` 0 masks rows (H lines), 1 masks columns
    (W lines). Returns float32 of the same shape."""
    img = np.asarray(image)
    if img.ndim < 2:
        raise ValueError("image must be at least 2D (..., H, W)")
    if axis not in (0, 1):
        raise ValueError("axis must be 0 (rows) or 1 (columns)")
    m = np.asarray(mask, dtype=bool)
    if m.shape != (img.shape[img.ndim - 2 + axis],):
        raise ValueError(f"mask length {m.shape} does not match image axis {axis} of {img.shape}")
    k = np.fft.fftshift(np.fft.fft2(img, axes=(-2, -1)), axes=(-2, -1))
    shape = [1] * img.ndim
    shape[img.ndim - 2 + axis] = m.size
    k = k * m.reshape(shape)
    out = np.abs(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), axes=(-2, -1)))
    return out.astype(np.float32)
