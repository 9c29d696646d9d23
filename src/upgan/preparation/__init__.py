"""From raw volumes to training slices: orientation and grid, normalisation, corrupted inputs,
patient-level splits (no Kedro imports)."""

from upgan.preparation.geometry import axial_slices, from_axial_slices, to_canonical
from upgan.preparation.normalisation import HUWindow, PercentileScale
from upgan.preparation.prepare import (
    PreparationConfig,
    SliceSet,
    concat_slice_sets,
    prepare_subject,
)
from upgan.preparation.split import SPLITS, split_subjects

__all__ = [
    "SPLITS",
    "HUWindow",
    "PercentileScale",
    "PreparationConfig",
    "SliceSet",
    "axial_slices",
    "concat_slice_sets",
    "from_axial_slices",
    "prepare_subject",
    "split_subjects",
    "to_canonical",
]
