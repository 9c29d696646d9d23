"""Synthetic head data: phantom, CT, FDG NAC PET, T1 MRI, k-space undersampling, motion."""

from .ct import mu_map_511kev, simulate_ct
from .head import HeadPhantom, Tissue
from .kspace import undersample, undersampling_mask
from .motion import simulate_motion
from .mri import simulate_t1
from .pet import fdg_activity, simulate_nac_pet
from .phantom import generate_head_phantom
from .subjects import PetCtSimulation, T1Simulation, simulate_pet_ct_subject, simulate_t1_subject

__all__ = [
    "HeadPhantom", "PetCtSimulation", "T1Simulation", "Tissue", "fdg_activity",
    "generate_head_phantom", "mu_map_511kev", "simulate_ct", "simulate_motion",
    "simulate_nac_pet", "simulate_pet_ct_subject", "simulate_t1", "simulate_t1_subject",
    "undersample", "undersampling_mask",
]
