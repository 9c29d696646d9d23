"""Kedro catalog datasets for the project's own artefacts (slice arrays, model bundles, NIfTI)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from upgan.io.bundle import ModelBundle, load_bundle, save_bundle
from upgan.io.files import publish_file
from upgan.io.nifti import NiftiVolume, load_nifti, save_nifti
from upgan.io.slices import SliceSet


class _FileDataset(AbstractDataset):
    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    @property
    def path(self) -> Path:
        return Path(str(self._filepath))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _exists(self) -> bool:
        return self.path.exists()


def _save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to ``path`` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        publish_file(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class SliceSetDataset(_FileDataset):
    """Paired 2D slices (:class:`upgan.io.slices.SliceSet`) in an ``.npz`` file, written atomically."""

    def load(self) -> SliceSet:
        if not self.path.exists():
            raise DatasetError(f"slice arrays {self.path} not found: run the data_preparation pipeline")
        with np.load(self.path, allow_pickle=False) as arrays:
            return SliceSet.from_arrays(arrays)

    def save(self, data: SliceSet) -> None:
        _save_npz_atomic(self.path, data.to_arrays())


class ModelBundleDataset(_FileDataset):
    """A :class:`upgan.io.bundle.ModelBundle` as one ``.safetensors`` file."""

    def load(self) -> ModelBundle:
        return load_bundle(self.path)

    def save(self, data: ModelBundle) -> None:
        save_bundle(data, self.path)


class NiftiDataset(_FileDataset):
    """One NIfTI volume (:class:`upgan.io.nifti.NiftiVolume`), affine and header kept."""

    def load(self) -> NiftiVolume:
        return load_nifti(self.path)

    def save(self, data: NiftiVolume) -> None:
        save_nifti(data, self.path)


class NpzDataset(_FileDataset):
    """A dict of numpy arrays in one ``.npz`` file (written atomically, loaded without pickle)."""

    def load(self) -> dict[str, np.ndarray]:
        with np.load(self.path, allow_pickle=False) as arrays:
            return {k: arrays[k] for k in arrays.files}

    def save(self, data: dict[str, np.ndarray]) -> None:
        _save_npz_atomic(self.path, data)
