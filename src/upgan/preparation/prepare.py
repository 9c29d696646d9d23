"""Per-subject preparation: canonical grid -> normalisation -> corrupted input -> 2D slices."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from upgan.io.nifti import NiftiVolume, VolumeError, load_nifti
from upgan.preparation.geometry import axial_slices, prepared_affine, resample_like, to_canonical
from upgan.preparation.normalisation import HUWindow, PercentileScale
from upgan.tasks import TaskSpec


@dataclass(frozen=True)
class PreparationConfig:
    """How volumes become training slices (the ``preparation`` block of a task's parameters).

    Attributes:
        slice_size: in-plane size S of the square axial slices fed to the networks.
        min_foreground: a slice is kept when at least this fraction of its target is head.
        axial_range: keep only slices whose relative height in the volume lies in this range.
        hu_window: CT window mapped to [0, 1] (invertible).
        percentile: robust maximum of PET and T1 volumes (see :class:`PercentileScale`).
        resample_ct_to_pet: resample each CT onto its PET grid instead of requiring equal grids.
        undersampling: ``mode`` (``central`` or ``upgan_code``), ``fraction``, ``upgan_af`` and
            ``phase_encode_axis`` (of the (S, S) slice; 1 = anterior-posterior).
        motion: TorchIO RandomMotion settings ``degrees``, ``translation_mm``, ``num_transforms``.
    """

    slice_size: int = 64
    min_foreground: float = 0.05
    axial_range: tuple[float, float] = (0.0, 1.0)
    hu_window: tuple[float, float] = (-1024.0, 3071.0)
    percentile: float = 99.5
    resample_ct_to_pet: bool = False
    undersampling: Mapping[str, Any] = field(
        default_factory=lambda: {"mode": "central", "fraction": 0.08, "upgan_af": 12,
                                 "phase_encode_axis": 1}
    )
    motion: Mapping[str, Any] = field(
        default_factory=lambda: {"degrees": 10.0, "translation_mm": 2.0, "num_transforms": 3}
    )

    def __post_init__(self) -> None:
        if self.slice_size < 8:
            raise ValueError(f"preparation.slice_size must be >= 8, got {self.slice_size}")
        if not 0.0 <= self.min_foreground < 1.0:
            raise ValueError(f"preparation.min_foreground must be in [0, 1), got {self.min_foreground}")
        lo, hi = self.axial_range
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"preparation.axial_range must satisfy 0 <= lo < hi <= 1, got {lo, hi}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PreparationConfig:
        """Build from a parameters dict, rejecting unknown keys by name."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown preparation parameter(s) {unknown}; known: {sorted(known)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        return cls(**values)


@dataclass
class SliceSet:
    """Paired 2D slices with where they came from.

    Attributes:
        inputs: (N, 1, S, S) float32, the corrupted / source image.
        targets: (N, 1, S, S) float32, the target on the normalised scale.
        subject_ids: (N,) subject of each slice.
        slice_index: (N,) axial index of each slice in its prepared volume.
    """

    inputs: np.ndarray
    targets: np.ndarray
    subject_ids: np.ndarray
    slice_index: np.ndarray

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def subset(self, subjects: Sequence[str]) -> SliceSet:
        """The slices of the given subjects (in the stored order)."""
        keep = np.isin(self.subject_ids, np.asarray(list(subjects)))
        return SliceSet(self.inputs[keep], self.targets[keep], self.subject_ids[keep],
                        self.slice_index[keep])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The npz payload."""
        return {"inputs": self.inputs, "targets": self.targets,
                "subject_ids": self.subject_ids.astype(str), "slice_index": self.slice_index}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> SliceSet:
        """Inverse of :meth:`to_arrays`."""
        return cls(np.asarray(arrays["inputs"], dtype=np.float32),
                   np.asarray(arrays["targets"], dtype=np.float32),
                   np.asarray(arrays["subject_ids"]).astype(str),
                   np.asarray(arrays["slice_index"], dtype=np.int32))


def concat_slice_sets(parts: Sequence[SliceSet], size: int) -> SliceSet:
    """Concatenate per-subject slice sets (an empty list gives an empty set of the right shape)."""
    if not parts:
        empty = np.zeros((0, 1, size, size), np.float32)
        return SliceSet(empty, empty.copy(), np.zeros(0, dtype=str), np.zeros(0, np.int32))
    return SliceSet(
        np.concatenate([p.inputs for p in parts]),
        np.concatenate([p.targets for p in parts]),
        np.concatenate([p.subject_ids for p in parts]),
        np.concatenate([p.slice_index for p in parts]),
    )


def _subject_seed(seed: int, subject_id: str) -> int:
    """A stable per-subject seed (independent of the cohort's order or size)."""
    digest = sum((i + 1) * ord(c) for i, c in enumerate(subject_id))
    return int(np.random.SeedSequence([seed, digest]).generate_state(1)[0])


def _corrupt_t1(task: TaskSpec, t1: np.ndarray, spacing: Sequence[float],
                config: PreparationConfig, seed: int) -> np.ndarray:
    """Corrupted input of the MRI tasks from the normalised canonical T1 (X, Y, Z)."""
    from upgan import simulation

    if task.corruption == "motion":
        # TorchIO splits k-space along the last array axis: put left-right there so the ghosts
        # run in-plane in axial slices, as in the IXI arrays the official code corrupted.
        moved = np.moveaxis(t1, 0, -1)
        spacing_moved = (spacing[1], spacing[2], spacing[0])
        out = simulation.simulate_motion(
            moved, spacing_moved, degrees=float(config.motion["degrees"]),
            translation_mm=float(config.motion["translation_mm"]),
            num_transforms=int(config.motion["num_transforms"]), seed=seed,
        )
        return np.clip(np.moveaxis(out, -1, 0), 0.0, None).astype(np.float32)
    raise ValueError(f"task {task.name}: unknown corruption {task.corruption!r}")


def _undersample_slices(slices: np.ndarray, config: PreparationConfig, seed: int) -> np.ndarray:
    from upgan import simulation

    params = dict(config.undersampling)
    axis = int(params.get("phase_encode_axis", 1))
    mode = params.get("mode", "central")
    n_lines = slices.shape[1 + axis]
    rng = np.random.default_rng(seed)
    out = np.empty_like(slices)
    for k, image in enumerate(slices):
        # the official code redraws its random lines for every slice; the central mask is fixed
        mask = simulation.undersampling_mask(
            n_lines, mode=mode, fraction=float(params.get("fraction", 0.08)),
            rng=rng, upgan_af=int(params.get("upgan_af", 12)),
        )
        out[k] = simulation.undersample(image, mask, axis=axis)
    return out


def prepare_subject(
    task: TaskSpec,
    subject_id: str,
    paths: Mapping[str, str],
    config: PreparationConfig,
    seed: int,
) -> tuple[SliceSet, dict[str, Any]]:
    """Load one subject's volumes and turn them into normalised, paired axial slices.

    Args:
        task: the task (decides input, target and corruption).
        subject_id: id recorded with every slice.
        paths: modality -> NIfTI path (``pet``/``ct`` or ``t1``).
        config: preparation settings.
        seed: cohort seed; the subject's corruption is seeded from it and the subject id.

    Returns:
        The kept slices, and a manifest row with the geometry and normalisation needed to put
        predictions back into world space and physical units.
    """
    size = config.slice_size
    subject_seed = _subject_seed(seed, subject_id)
    target_vol = to_canonical(load_nifti(paths[task.target_modality]))
    row: dict[str, Any] = {"subject_id": subject_id, "target_path": paths[task.target_modality]}
    if task.name == "pet_to_ct":
        pet = to_canonical(load_nifti(paths["pet"]))
        if pet.data.shape != target_vol.data.shape or not np.allclose(pet.affine, target_vol.affine, atol=1e-3):
            if not config.resample_ct_to_pet:
                raise VolumeError(
                    f"{paths['ct']}: CT grid differs from its PET {paths['pet']}; co-register them "
                    "or set preparation.resample_ct_to_pet: true"
                )
            target_vol = resample_like(target_vol, pet, cval=-1024.0)
        window = HUWindow(*config.hu_window)
        target = window.forward(target_vol.data)
        scaler = PercentileScale(config.percentile)
        scale = scaler.scale_of(pet.data)
        source = scaler.forward(pet.data, scale)
        foreground_threshold = float(window.forward(np.array(-500.0)))
        row.update(input_path=paths["pet"], input_scale=scale,
                   target_normalisation=json.dumps({"kind": "hu_window", "hu_min": window.hu_min,
                                                    "hu_max": window.hu_max}))
        input_slices, target_slices = axial_slices(source, size), axial_slices(target, size)
    else:
        scaler = PercentileScale(config.percentile)
        scale = scaler.scale_of(target_vol.data)
        target = scaler.forward(target_vol.data, scale)
        foreground_threshold = 0.1
        row.update(input_path=paths["t1"], input_scale=scale,
                   target_normalisation=json.dumps({"kind": "percentile", "scale": scale}))
        target_slices = axial_slices(target, size)
        if task.corruption == "undersample":
            input_slices = _undersample_slices(target_slices, config, subject_seed)
        else:
            corrupted = _corrupt_t1(task, target, target_vol.spacing_mm, config, subject_seed)
            input_slices = axial_slices(corrupted, size)
    n_slices = target_slices.shape[0]
    foreground = (target_slices > foreground_threshold).mean(axis=(1, 2))
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
