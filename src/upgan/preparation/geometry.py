"""Consistent orientation and grid: canonical RAS+ volumes, square axial slices and back."""

from __future__ import annotations

import nibabel as nib
import nibabel.processing
import numpy as np
from scipy import ndimage

from upgan.io.nifti import NiftiVolume


def to_canonical(volume: NiftiVolume) -> NiftiVolume:
    """Reorder and flip the axes to RAS+ (axis 0 left->right, 1 posterior->anterior, 2 inferior->
    superior) without resampling, so an axial slice is always ``data[:, :, k]``."""
    image = nib.Nifti1Image(volume.data, volume.affine)
    canonical = nib.as_closest_canonical(image)
    return NiftiVolume(
        np.ascontiguousarray(canonical.get_fdata(dtype=np.float32)),
        np.asarray(canonical.affine),
        volume.header,
    )


def resample_like(moving: NiftiVolume, reference: NiftiVolume, cval: float) -> NiftiVolume:
    """Resample ``moving`` onto ``reference``'s grid (trilinear), e.g. a CT onto its PET grid."""
    source = nib.Nifti1Image(moving.data, moving.affine)
    target = (reference.data.shape, reference.affine)
    out = nibabel.processing.resample_from_to(source, target, order=1, cval=cval)
    return NiftiVolume(out.get_fdata(dtype=np.float32), np.asarray(out.affine), reference.header)


def axial_slices(data: np.ndarray, size: int) -> np.ndarray:
    """Resize every axial slice of a canonical (X, Y, Z) volume to (size, size).

    Linear interpolation with corner voxel centres kept in place (``scipy.ndimage.zoom``,
    ``grid_mode=False``), so :func:`prepared_affine` gives the exact geometry of the result.

    Returns:
        (Z, size, size) float32 array.
    """
    x, y, _ = data.shape
    zoomed = ndimage.zoom(data, (size / x, size / y, 1.0), order=1, grid_mode=False, mode="nearest")
    return np.ascontiguousarray(np.moveaxis(zoomed, 2, 0), dtype=np.float32)


def from_axial_slices(slices: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`axial_slices`: (Z, S, S) slices back to a canonical (X, Y, Z) volume."""
    _, s1, s2 = slices.shape
    volume = np.moveaxis(slices, 0, 2)
    zoom = (shape[0] / s1, shape[1] / s2, 1.0)
    return ndimage.zoom(volume, zoom, order=1, grid_mode=False, mode="nearest").astype(np.float32)


def prepared_affine(affine: np.ndarray, shape: tuple[int, int, int], size: int) -> np.ndarray:
    """World geometry of the (size, size, Z) grid made by :func:`axial_slices` from ``shape``."""
    scale = np.diag([(shape[0] - 1) / (size - 1), (shape[1] - 1) / (size - 1), 1.0, 1.0])
    return np.asarray(affine) @ scale
