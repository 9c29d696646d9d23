"""One synthetic subject per call: PET/CT (NAC PET + CT) or T1 MRI, seeded by (seed, index)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .ct import mu_map_511kev, simulate_ct
from .head import HeadPhantom
from .mri import simulate_t1
from .partial_volume import Block, block_mean, block_mode, fine_grid, supersampling
from .pet import fdg_activity, simulate_nac_pet
from .phantom import generate_head_phantom

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PetCtSimulation:
    """Parameters of one synthetic PET/CT subject."""

    shape: tuple[int, int, int] = (64, 64, 32)
    spacing_mm: tuple[float, float, float] = (3.5, 3.5, 4.0)
    ct_noise_sd_hu: float = 10.0
    pet_counts_per_slice: float = 2e6
    pet_fwhm_mm: float = 5.0
    n_angles: int | None = None
    partial_volume_mm: float | None = 1.75
    """Render the anatomy in-plane on sub-voxels of at most this size and average them
    (:mod:`.partial_volume`); null: point sampling on the output grid."""
    projector_device: str = "cpu"
    """Where the PET projections run: ``cpu`` (the same bits on every machine), ``cuda`` or
    ``auto`` (cuda when present: fast, but the last bits depend on the GPU)."""


@dataclass(frozen=True)
class T1Simulation:
    """Parameters of one synthetic T1 subject."""

    shape: tuple[int, int, int] = (64, 64, 40)
    spacing_mm: tuple[float, float, float] = (3.6, 3.6, 4.0)
    noise_sd: float = 0.02
    bias_coefficients: float = 0.3
    partial_volume_mm: float | None = 1.75
    """As :attr:`PetCtSimulation.partial_volume_mm`."""


def fine_phantom(shape, spacing_mm, partial_volume_mm: float | None,
                 rng: np.random.Generator) -> tuple[HeadPhantom, Block]:
    """The subject's phantom on the fine grid of :func:`.partial_volume.supersampling`, and the
    block of fine voxels that makes one output voxel."""
    block = supersampling(spacing_mm, partial_volume_mm)
    return generate_head_phantom(*fine_grid(shape, spacing_mm, block), rng), block


def simulate_pet_ct_subject(config: PetCtSimulation, seed: int, subject_index: int
                            ) -> dict[str, np.ndarray]:
    """{"ct": HU float32 (X,Y,Z), "pet": NAC PET float32, "labels": uint8};
    rng = default_rng([seed, subject_index]). CT, mu-map and activity are averaged over each
    output voxel's sub-voxels (partial volume); labels are their most common label."""
    rng = np.random.default_rng([int(seed), int(subject_index)])
    phantom, block = fine_phantom(config.shape, config.spacing_mm, config.partial_volume_mm, rng)
    ct = simulate_ct(phantom, rng, noise_sd_hu=config.ct_noise_sd_hu, block=block)
    # attenuation from a noise-free CT of the same subject (as a scanner's smoothed mu-map),
    # mu averaged over the sub-voxels (the HU -> mu conversion is not linear)
    hu = simulate_ct(phantom, np.random.default_rng([int(seed), int(subject_index), 1]), noise_sd_hu=0.0)
    mu = block_mean(mu_map_511kev(hu), block)
    act = block_mean(fdg_activity(phantom, rng), block)
    pet = simulate_nac_pet(act, mu, config.spacing_mm, rng, counts_per_slice=config.pet_counts_per_slice,
                           fwhm_mm=config.pet_fwhm_mm, n_angles=config.n_angles,
                           device=config.projector_device)
    return {"ct": ct, "pet": pet, "labels": block_mode(phantom.labels, block)}


def simulate_t1_subject(config: T1Simulation, seed: int, subject_index: int) -> dict[str, np.ndarray]:
    """{"t1": float32 (X,Y,Z), "labels": uint8}; rng = default_rng([seed, subject_index]); the
    T1 signal averaged over each output voxel's sub-voxels (partial volume)."""
    rng = np.random.default_rng([int(seed), int(subject_index)])
    phantom, block = fine_phantom(config.shape, config.spacing_mm, config.partial_volume_mm, rng)
    t1 = simulate_t1(phantom, rng, noise_sd=config.noise_sd, bias_coefficients=config.bias_coefficients,
                     block=block)
    return {"t1": t1, "labels": block_mode(phantom.labels, block)}
