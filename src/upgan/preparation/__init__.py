"""From raw volumes to training slices: orientation and grid, normalisation, corrupted inputs,
patient-level splits (no Kedro imports)."""

from upgan.preparation.config import PreparationConfig
from upgan.preparation.corruption import (
    Corruption,
    KSpaceUndersampling,
    NormalisedTarget,
    RigidMotion,
)
from upgan.preparation.geometry import axial_slices, from_axial_slices, to_canonical
from upgan.preparation.normalisation import (
    DEFAULT_HU_WINDOW,
    VALID_RANGE,
    HUWindow,
    PercentileScale,
)
from upgan.preparation.prepare import prepare_subject, prepared_volume
from upgan.preparation.split import SPLITS, split_subjects
from upgan.preparation.targets import (
    HUWindowNormalisation,
    TargetNormalisation,
    VolumeScaleNormalisation,
)

__all__ = [
    "DEFAULT_HU_WINDOW",
    "SPLITS",
    "VALID_RANGE",
    "Corruption",
    "HUWindow",
    "HUWindowNormalisation",
    "KSpaceUndersampling",
    "NormalisedTarget",
    "PercentileScale",
    "PreparationConfig",
    "RigidMotion",
    "TargetNormalisation",
    "VolumeScaleNormalisation",
    "axial_slices",
    "from_axial_slices",
    "prepare_subject",
    "prepared_volume",
    "split_subjects",
    "to_canonical",
]
