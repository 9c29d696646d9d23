"""NIfTI volumes with their affine and header, validated on the way in, written atomically."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from upgan.io.files import publish_file

NIFTI_SUFFIXES = (".nii", ".nii.gz")


class VolumeError(ValueError):
    """A volume (file or array) that cannot be used, with the reason and where it came from."""


@dataclass(frozen=True)
class NiftiVolume:
    """A 3D scalar volume and its geometry.

    Attributes:
        data: (X, Y, Z) float32 array in the file's voxel order.
        affine: (4, 4) voxel-to-world (RAS+, mm) matrix.
        header: the NIfTI header it came with (``None`` for generated volumes).
    """

    data: np.ndarray
    affine: np.ndarray
    header: nib.Nifti1Header | None = None

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along each array axis, from the affine."""
        return tuple(float(v) for v in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))

    @property
    def axcodes(self) -> tuple[str, str, str]:
        """Anatomical direction of each array axis, e.g. ``('R', 'A', 'S')``."""
        return nib.aff2axcodes(self.affine)


def is_nifti_path(path: str | Path) -> bool:
    """True for ``.nii`` and ``.nii.gz`` file names (in any letter case)."""
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def validate_volume(data: np.ndarray, source: str) -> np.ndarray:
    """Check that ``data`` is a usable 3D scalar volume and return it as float32.

    A trailing singleton 4th axis is dropped. Raises :class:`VolumeError` naming ``source`` for
    2D or 4D data, non-finite values and constant volumes.
    """
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise VolumeError(
            f"{source}: expected a 3D volume, got {data.ndim}D data of shape {tuple(data.shape)}"
        )
    if min(data.shape) < 2:
        raise VolumeError(f"{source}: expected a 3D volume, got shape {tuple(data.shape)}")
    data = np.asarray(data, dtype=np.float32)
    n_bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
    if n_bad:
        raise VolumeError(f"{source}: {n_bad} voxels are NaN or infinite")
    if float(data.max()) == float(data.min()):
        raise VolumeError(f"{source}: the volume is constant ({float(data.min())}); nothing to learn")
    return data


def load_header(path: str | Path) -> nib.Nifti1Image:
    """Open a NIfTI file lazily (header and affine only), with one clear error on failure."""
    path = Path(path)
    if not path.exists():
        raise VolumeError(f"{path}: file not found")
    if not is_nifti_path(path):
        raise VolumeError(f"{path}: not a NIfTI file (expected .nii or .nii.gz)")
    try:
        return nib.load(str(path))
    except Exception as exc:  # nibabel raises several types for corrupt files
        raise VolumeError(f"{path}: cannot be read as NIfTI ({exc})") from exc


def load_nifti(path: str | Path) -> NiftiVolume:
    """Read and validate a 3D NIfTI volume (see :func:`validate_volume`)."""
    image = load_header(path)
    try:
        data = np.asanyarray(image.dataobj)
    except Exception as exc:
        raise VolumeError(f"{path}: the image data is corrupt or truncated ({exc})") from exc
    data = validate_volume(data, str(path))
    return NiftiVolume(data=data, affine=np.asarray(image.affine, dtype=np.float64), header=image.header)


def to_nifti_image(volume: NiftiVolume, dtype: type = np.float32) -> nib.Nifti1Image:
    """Build a nibabel image that keeps the volume's affine (sform and qform) and header fields."""
    header = volume.header.copy() if volume.header is not None else None
    image = nib.Nifti1Image(np.asarray(volume.data, dtype=dtype), volume.affine, header=header)
    image.set_data_dtype(dtype)
    image.set_sform(volume.affine, code=1)
    image.set_qform(volume.affine, code=1)
    return image


def save_nifti(volume: NiftiVolume, path: str | Path, dtype: type = np.float32) -> Path:
    """Write ``volume`` to ``path`` atomically (a temporary file in the same folder, then rename)."""
    path = Path(path)
    if not is_nifti_path(path):
        raise VolumeError(f"{path}: output must end in .nii or .nii.gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".nii.gz" if str(path).lower().endswith(".nii.gz") else ".nii"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        nib.save(to_nifti_image(volume, dtype), tmp)
        publish_file(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
