"""Synthetic T1-weighted MRI: tissue contrast, smooth multiplicative bias field, Rician noise."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage as ndi

from .head import HeadPhantom, Tissue, smooth_noise
from .partial_volume import Block, block_mean, block_mode

logger = logging.getLogger(__name__)

# Relative T1w signal (WM ~0.8); fat and marrow brightest, cortical bone and air dark.
T1_SIGNAL: dict[Tissue, float] = {
    Tissue.AIR: 0.0, Tissue.SCALP: 0.45, Tissue.FAT: 1.0, Tissue.CORTICAL_BONE: 0.04,
    Tissue.CANCELLOUS_BONE: 0.9, Tissue.GREY_MATTER: 0.55, Tissue.WHITE_MATTER: 0.8,
    Tissue.CSF: 0.2, Tissue.VENTRICLE: 0.2, Tissue.SINUS_AIR: 0.0, Tissue.NASAL_BONE: 0.05,
    Tissue.PETROUS_BONE: 0.03, Tissue.EYE: 0.15, Tissue.TEETH: 0.02,
}


def bias_field(shape: tuple[int, int, int], coefficients: float, rng: np.random.Generator,
               order: int = 3) -> np.ndarray:
    """exp(polynomial of total degree ``order``) over coordinates in [-1, 1], coefficients
    U(-c, c) (as TorchIO's RandomBiasField); float32 (X, Y, Z)."""
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    poly = np.zeros(shape, np.float32)
    for i in range(order + 1):
        for j in range(order + 1 - i):
            for k in range(order + 1 - i - j):
                poly += np.float32(rng.uniform(-coefficients, coefficients)) * (x**i) * (y**j) * (z**k)
    return np.exp(poly).astype(np.float32)


def simulate_t1(
    phantom: HeadPhantom, rng: np.random.Generator, noise_sd: float = 0.02,
    bias_coefficients: float = 0.3, block: Block = (1, 1, 1),
) -> np.ndarray:
    """T1w magnitude image float32 (X, Y, Z), scale ~[0, 1.2].

    Per-tissue signal (+-5 % per subject, mild texture) averaged over each ``block`` of the
    phantom's voxels (partial volume), slight blur, bias field
    normalised to mean 1 inside the head, then Rician noise |S + N(0, sd) + i N(0, sd)|."""
    labels = phantom.labels
    lut = np.zeros(256, dtype=np.float32)
    for tissue, s in T1_SIGNAL.items():
        lut[int(tissue)] = s * rng.uniform(0.95, 1.05)
    sig = lut[labels]
    tex = smooth_noise(labels.shape, phantom.spacing_mm, 8.0, rng)
    sig *= (1.0 + 0.02 * tex).astype(np.float32)
    sig = block_mean(sig, block)  # partial volume: the output grid is the phantom's / block
    labels = block_mode(labels, block)
    sig = ndi.gaussian_filter(sig, 0.5, mode="constant", truncate=2.0)
    if bias_coefficients > 0:
        field = bias_field(labels.shape, bias_coefficients, rng)
        head = labels != Tissue.AIR
        if np.any(head):
            field /= float(field[head].mean())
        sig *= field
    if noise_sd > 0:
        re = sig + rng.normal(0.0, noise_sd, size=sig.shape).astype(np.float32)
        im = rng.normal(0.0, noise_sd, size=sig.shape).astype(np.float32)
        sig = np.sqrt(re * re + im * im)
    return sig.astype(np.float32)
