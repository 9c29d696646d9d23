"""Per-subject preparation: canonical grid -> normalisation -> input (its own acquisition, or
corrupted from the target) -> 2D slices."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from upgan.io.nifti import NiftiVolume, VolumeError, load_nifti
from upgan.io.slices import SliceSet
from upgan.preparation.config import PreparationConfig
from upgan.preparation.corruption import Corruption, NormalisedTarget
from upgan.preparation.geometry import axial_slices, prepared_affine, resample_like, to_canonical
from upgan.preparation.normalisation import PercentileScale
from upgan.preparation.targets import TargetNormalisation


class PairedTask(Protocol):
    """What the preparation needs of a task (:class:`upgan.tasks.TaskSpec` is one)."""

    @property
    def input_modality(self) -> str: ...

    @property
    def target_modality(self) -> str: ...

    @property
    def target_normalisation(self) -> TargetNormalisation: ...

    @property
    def corruption(self) -> Corruption | None: ...


def _subject_seed(seed: int, subject_id: str) -> int:
    """A stable per-subject seed (independent of the cohort's order or size)."""
    digest = sum((i + 1) * ord(c) for i, c in enumerate(subject_id))
    return int(np.random.SeedSequence([seed, digest]).generate_state(1)[0])


def _target_on_input_grid(task: PairedTask, target: NiftiVolume, source: NiftiVolume,
                          paths: Mapping[str, str], config: PreparationConfig) -> NiftiVolume:
    """The target on its input's grid: as is, resampled (``resample_ct_to_pet``) or refused."""
    if source.data.shape == target.data.shape and np.allclose(source.affine, target.affine, atol=1e-3):
        return target
    if not config.resample_ct_to_pet:
        raise VolumeError(
            f"{paths[task.target_modality]}: {task.target_modality.upper()} grid differs from its "
            f"{task.input_modality.upper()} {paths[task.input_modality]}; co-register them or set "
            "preparation.resample_ct_to_pet: true"
        )
    return resample_like(target, source, cval=task.target_normalisation.background)


def prepare_subject(
    task: PairedTask,
    subject_id: str,
    paths: Mapping[str, str],
    config: PreparationConfig,
    seed: int,
) -> tuple[SliceSet, dict[str, Any]]:
    """Load one subject's volumes and turn them into normalised, paired axial slices.

    Args:
        task: the task (its modalities, target normalisation and corruption).
        subject_id: id recorded with every slice.
        paths: modality -> NIfTI path (the task's input and target modalities).
        config: preparation settings.
        seed: cohort seed; the subject's corruption is seeded from it and the subject id.

    Returns:
        The kept slices, and a manifest row with the geometry and normalisation needed to put
        predictions back into world space and physical units.
    """
    size = config.slice_size
    norm = task.target_normalisation
    target_vol = to_canonical(load_nifti(paths[task.target_modality]))
    row: dict[str, Any] = {"subject_id": subject_id, "target_path": paths[task.target_modality]}
    if task.corruption is None:  # the input is its own acquisition
        source = to_canonical(load_nifti(paths[task.input_modality]))
        target_vol = _target_on_input_grid(task, target_vol, source, paths, config)
        target, record = norm.normalise(target_vol.data, config)
        scaler = PercentileScale(config.percentile)
        input_scale = scaler.scale_of(source.data)
        target_slices = axial_slices(target, size)
        input_slices = axial_slices(scaler.forward(source.data, input_scale), size)
    else:
        target, record = norm.normalise(target_vol.data, config)
        input_scale = norm.unit(record)
        target_slices = axial_slices(target, size)
        input_slices = task.corruption.apply(
            NormalisedTarget(target, target_vol.spacing_mm, target_slices), config,
            _subject_seed(seed, subject_id),
        )
    row.update(input_path=paths[task.input_modality], input_scale=input_scale,
               target_normalisation=json.dumps(record))
    n_slices = target_slices.shape[0]
    foreground = (target_slices > norm.foreground_threshold(record)).mean(axis=(1, 2))
    height = (np.arange(n_slices) + 0.5) / n_slices
    lo, hi = config.axial_range
    keep = np.flatnonzero((foreground >= config.min_foreground) & (height >= lo) & (height <= hi))
    shape = tuple(int(s) for s in target_vol.data.shape)
    row.update(
        source_shape=json.dumps(list(shape)),
        prepared_affine=json.dumps(np.round(prepared_affine(target_vol.affine, shape, size), 6).tolist()),
        n_slices=n_slices,
        n_kept=int(keep.size),
    )
    slices = SliceSet(
        inputs=input_slices[keep, None].astype(np.float32),
        targets=target_slices[keep, None].astype(np.float32),
        subject_ids=np.full(keep.size, subject_id),
        slice_index=keep.astype(np.int32),
    )
    return slices, row


def prepared_volume(row: Mapping[str, Any], slices: np.ndarray, slice_index: np.ndarray) -> NiftiVolume:
    """Put (N, S, S) slices of one subject back into its prepared (S, S, Z) grid, zeros elsewhere."""
    n = int(row["n_slices"])
    size = slices.shape[-1]
    volume = np.zeros((size, size, n), dtype=np.float32)
    volume[:, :, np.asarray(slice_index)] = np.moveaxis(np.asarray(slices), 0, 2)
    return NiftiVolume(volume, np.asarray(json.loads(row["prepared_affine"])))
