"""Kedro catalog datasets: the project's own artefacts (slice arrays, model bundles, NIfTI) and
atomic versions of kedro-datasets' CSV, figure and text datasets.

Every output is written atomically (:func:`upgan.io.files.atomic_path`): a run killed while
saving leaves the previous file whole, never a part of the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.text import TextDataset

from upgan.io.bundle import ModelBundle, load_bundle, save_bundle
from upgan.io.files import atomic_path
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
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **arrays)


class _AtomicSave:
    """Mixin for kedro-datasets file datasets: ``save`` writes the whole output to a temporary
    file beside the target (the dataset's own writer, pointed there through
    ``_get_save_path``), then renames it over the target. Local files only; other protocols
    save as the base class does."""

    _atomic_target: PurePosixPath | None = None

    def _get_save_path(self) -> PurePosixPath:
        if self._atomic_target is not None:
            return self._atomic_target
        return super()._get_save_path()  # type: ignore[misc]

    def _atomic_applies(self, data: Any) -> bool:
        return getattr(self, "_protocol", None) == "file"

    def save(self, data: Any) -> None:
        if not self._atomic_applies(data):
            super().save(data)  # type: ignore[misc]
            return
        final = Path(get_filepath_str(super()._get_save_path(), "file"))  # type: ignore[misc]
        with atomic_path(final) as tmp:
            self._atomic_target = PurePosixPath(tmp)
            try:
                super().save(data)  # type: ignore[misc]
            finally:
                self._atomic_target = None


class AtomicCSVDataset(_AtomicSave, CSVDataset):
    """``pandas.CSVDataset`` written atomically."""


class AtomicTextDataset(_AtomicSave, TextDataset):
    """``text.TextDataset`` written atomically."""


class AtomicMatplotlibDataset(_AtomicSave, MatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` written atomically: one figure to its file, or a dict of
    figures (``name.png`` -> figure) to a folder, each file atomically (the folder's other files
    are kept; a list is saved as the base class does)."""

    def _atomic_applies(self, data: Any) -> bool:
        return super()._atomic_applies(data) and not isinstance(data, (list, dict))

    def save(self, data: Any) -> None:
        if isinstance(data, dict) and getattr(self, "_protocol", None) == "file":
            folder = Path(get_filepath_str(self._get_save_path(), "file"))
            for name, figure in data.items():
                if Path(name).name != name:
                    raise ValueError(f"figure name {name!r} must be a file name (no folders)")
                with atomic_path(folder / name) as tmp:
                    figure.savefig(tmp, **self._save_args)
            return
        super().save(data)

    def load(self) -> np.ndarray:
        """The saved image as an ``(H, W, 4)`` RGBA array (a single-figure file), so a figure
        can be the input of a node (the reporting gathers every output of a task's cells)."""
        import matplotlib.image

        return matplotlib.image.imread(str(self._filepath))


#: Column of a task's ``split.csv`` and ``volumes.csv``, and key of its slice ``.npz`` files: the
#: fingerprint of the settings and cohort that made them (see the data_preparation nodes).
FINGERPRINT = "fingerprint"


@dataclass
class PreparedSlices(SliceSet):
    """A :class:`SliceSet` with the fingerprint of the settings and cohort that made it."""

    fingerprint: str = ""

    @classmethod
    def of(cls, slices: SliceSet, fingerprint: str) -> PreparedSlices:
        """``slices`` (its arrays, not copies) with ``fingerprint``."""
        return cls(slices.inputs, slices.targets, slices.subject_ids, slices.slice_index, fingerprint)


def recorded_fingerprints(manifest: Path) -> set[str]:
    """The fingerprints recorded in a manifest CSV (empty when it has none)."""
    frame = pd.read_csv(manifest, usecols=lambda column: column == FINGERPRINT, dtype=str)
    return set(frame[FINGERPRINT].dropna()) if FINGERPRINT in frame else set()


class SliceSetDataset(_FileDataset):
    """Paired 2D slices (:class:`upgan.io.slices.SliceSet`) in an ``.npz`` file, written atomically.

    :class:`PreparedSlices` keep their fingerprint in the file. Slices beside a task's manifests
    (:attr:`MANIFESTS`) load only when their fingerprint is the one the manifests record, so a
    preparation that failed or stopped part-way (a new ``split.csv`` beside old slices) is never
    used silently.
    """

    MANIFESTS: ClassVar[tuple[str, ...]] = ("split.csv", "volumes.csv")

    def load(self) -> SliceSet:
        if not self.path.exists():
            raise DatasetError(f"slice arrays {self.path} not found: run the data_preparation pipeline")
        with np.load(self.path, allow_pickle=False) as arrays:
            slices = SliceSet.from_arrays(arrays)
            stamp = str(arrays[FINGERPRINT]) if FINGERPRINT in arrays.files else None
        self._check_fingerprint(stamp)
        if stamp is None:
            return slices
        return PreparedSlices.of(slices, stamp)

    def _check_fingerprint(self, stamp: str | None) -> None:
        """DatasetError naming the task folder when a manifest beside the slices records another
        fingerprint (or none, or the slices have none)."""
        folder = self.path.parent
        for name in self.MANIFESTS:
            manifest = folder / name
            if manifest.exists() and recorded_fingerprints(manifest) != {stamp}:
                raise DatasetError(
                    f"prepared data of {folder} do not belong together: {self.path.name} was made "
                    f"by other settings or another cohort than {name} (a data preparation failed or "
                    "was stopped part-way, or predates these checks). Prepare the task again: "
                    f"kedro run --pipeline data_preparation --namespaces {folder.name}"
                )

    def save(self, data: SliceSet) -> None:
        arrays = data.to_arrays()
        if isinstance(data, PreparedSlices):
            arrays[FINGERPRINT] = np.asarray(data.fingerprint)
        _save_npz_atomic(self.path, arrays)


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
