"""Paired 2D slices with where they came from, and their ``.npz`` payload (no Kedro imports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


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
