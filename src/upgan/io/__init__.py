"""Reading and writing volumes, cohorts, slice arrays and model bundles (no Kedro imports here;
the catalog datasets live in :mod:`upgan.io.datasets`)."""

from upgan.io.nifti import NiftiVolume, VolumeError, load_nifti, save_nifti, validate_volume

__all__ = ["NiftiVolume", "VolumeError", "load_nifti", "save_nifti", "validate_volume"]
