"""Synthetic head CT (HU) and the CT -> 511 keV attenuation map conversion."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage as ndi

from .head import HeadPhantom, Tissue, smooth_noise
from .partial_volume import Block, block_mean

logger = logging.getLogger(__name__)

# (low, high) HU drawn uniformly per subject for each tissue.
CT_HU_RANGES: dict[Tissue, tuple[float, float]] = {
    Tissue.AIR: (-1000.0, -1000.0),
    Tissue.SCALP: (30.0, 45.0),
    Tissue.FAT: (-100.0, -80.0),
    Tissue.CORTICAL_BONE: (1000.0, 1500.0),
    Tissue.CANCELLOUS_BONE: (300.0, 400.0),
    Tissue.GREY_MATTER: (37.0, 43.0),
    Tissue.WHITE_MATTER: (22.0, 28.0),
    Tissue.CSF: (8.0, 15.0),
    Tissue.VENTRICLE: (8.0, 15.0),
    Tissue.SINUS_AIR: (-1000.0, -980.0),
    Tissue.NASAL_BONE: (650.0, 750.0),
    Tissue.PETROUS_BONE: (1800.0, 2000.0),
    Tissue.EYE: (5.0, 15.0),
    Tissue.TEETH: (2000.0, 2500.0),
}

HU_MIN, HU_MAX = -1024.0, 3071.0
"""The 12-bit range the simulated scanner stores."""


def fwhm_to_sigma_vox(fwhm_mm: float, spacing_mm) -> tuple[float, ...]:
    """Gaussian sigma in voxels per axis for a FWHM in mm."""
    return tuple(float(fwhm_mm) / (2.0 * np.sqrt(2.0 * np.log(2.0))) / float(s) for s in spacing_mm)


def simulate_ct(
    phantom: HeadPhantom, rng: np.random.Generator, noise_sd_hu: float = 10.0,
    blur_fwhm_mm: float = 1.0, block: Block = (1, 1, 1),
) -> np.ndarray:
    """CT in HU, float32: per-tissue HU (per-subject draw), bone texture, a Gaussian blur of
    ``blur_fwhm_mm`` (the scanner's resolution) on the phantom's grid, the mean over each
    ``block`` of the phantom's voxels (partial volume, :mod:`.partial_volume`; the output grid is
    the phantom's divided by ``block``), white Gaussian noise of ``noise_sd_hu`` on the output
    grid, clipped to the 12-bit range [-1024, 3071]."""
    labels = phantom.labels
    lut = np.zeros(256, dtype=np.float32)
    lut[:] = -1000.0
    for tissue, (lo, hi) in CT_HU_RANGES.items():
        lut[int(tissue)] = rng.uniform(lo, hi)
    ct = lut[labels]
    # smooth texture: marrow heterogeneity, cortical density variation, a little in soft tissue
    tex = smooth_noise(labels.shape, phantom.spacing_mm, 6.0, rng)
    ct += np.where(labels == Tissue.CANCELLOUS_BONE, 40.0 * tex, 0.0).astype(np.float32)
    ct *= np.where(np.isin(labels, (Tissue.CORTICAL_BONE, Tissue.PETROUS_BONE)),
                   1.0 + 0.05 * tex, 1.0).astype(np.float32)
    ct += np.where(np.isin(labels, (Tissue.GREY_MATTER, Tissue.WHITE_MATTER, Tissue.SCALP)),
                   1.5 * tex, 0.0).astype(np.float32)
    if blur_fwhm_mm > 0:
        ct = ndi.gaussian_filter(ct, fwhm_to_sigma_vox(blur_fwhm_mm, phantom.spacing_mm),
                                 mode="nearest", truncate=3.0)
    ct = block_mean(ct, block)
    if noise_sd_hu > 0:
        ct += rng.normal(0.0, noise_sd_hu, size=ct.shape).astype(np.float32)
    return np.clip(ct, HU_MIN, HU_MAX).astype(np.float32)


def mu_map_511kev(ct_hu: np.ndarray) -> np.ndarray:
    """Linear attenuation at 511 keV in 1/cm from HU (bilinear: water 0.096, +1000 HU -> 0.153)."""
    hu = np.asarray(ct_hu, dtype=np.float32)
    mu = np.where(hu <= 0, 0.096 * (1.0 + hu / 1000.0), 0.096 + 5.7e-5 * hu)
    return np.clip(mu, 0.0, None).astype(np.float32)
