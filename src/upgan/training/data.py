"""Training data of a stage: paired 2-D slices and the seeded batch order that crosses epochs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class SlicePairs:
    """Paired 2-D slices: inputs ``(N, C, H, W)`` and targets ``(N, 1, H, W)``, float32.

    Validated on construction (4-D, same N, H, W, one target channel, finite values); floating
    inputs of another dtype are converted to float32.
    """

    inputs: Tensor
    targets: Tensor

    def __post_init__(self) -> None:
        for name in ("inputs", "targets"):
            value = getattr(self, name)
            if not isinstance(value, Tensor):
                raise ValueError(f"SlicePairs.{name} must be a torch.Tensor, got {type(value)}")
            if value.ndim != 4:
                raise ValueError(
                    f"SlicePairs.{name} must be (N, C, H, W), got shape {tuple(value.shape)}"
                )
            if not value.is_floating_point():
                raise ValueError(f"SlicePairs.{name} must be floating point, got {value.dtype}")
            if value.dtype != torch.float32:
                setattr(self, name, value.float())
        if self.targets.shape[1] != 1:
            raise ValueError(f"SlicePairs.targets must have 1 channel, got {self.targets.shape[1]}")
        if self.inputs.shape[0] != self.targets.shape[0]:
            raise ValueError(
                f"SlicePairs: inputs have {self.inputs.shape[0]} slices, targets "
                f"{self.targets.shape[0]}"
            )
        if self.inputs.shape[-2:] != self.targets.shape[-2:]:
            raise ValueError(
                f"SlicePairs: inputs are {tuple(self.inputs.shape[-2:])} pixels, targets "
                f"{tuple(self.targets.shape[-2:])}"
            )
        if self.inputs.shape[0] == 0:
            raise ValueError("SlicePairs is empty")
        for name in ("inputs", "targets"):
            if not bool(torch.isfinite(getattr(self, name)).all()):
                raise ValueError(f"SlicePairs.{name} contains NaN or inf")

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def in_channels(self) -> int:
        """C."""
        return int(self.inputs.shape[1])

    def digest(self) -> str:
        """Cheap content fingerprint (shapes and float64 sums), used to key checkpoints."""
        parts = []
        for t in (self.inputs, self.targets):
            t64 = t.double()
            parts.append(f"{tuple(t.shape)}:{float(t64.sum()):.12e}:{float(t64.square().sum()):.12e}")
        return "|".join(parts)


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of the permutation of epoch ``epoch`` of a stage seeded with ``seed``."""
    return (seed * 1_000_003 + epoch * 7_919 + 12_345) % (2**63 - 1)


class BatchStream:
    """Seeded batch indices that cross epoch boundaries: iteration k takes positions
    ``[k * B, (k + 1) * B)`` of the concatenation of per-epoch permutations, the permutation of
    epoch e drawn from a ``torch.Generator`` seeded with :func:`epoch_seed` (seed, e). Stateless
    in k, so a resumed stage draws exactly the batches an uninterrupted one would.
    """

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < 1:
            raise ValueError("BatchStream needs at least one slice")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._cache: dict[int, Tensor] = {}

    def _permutation(self, epoch: int) -> Tensor:
        if epoch not in self._cache:
            self._cache = {epoch: torch.randperm(
                self.n, generator=torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
            )}
        return self._cache[epoch]

    def indices(self, iteration: int) -> Tensor:
        """``(batch_size,)`` int64 indices of iteration ``iteration`` (CPU)."""
        start = iteration * self.batch_size
        parts, taken = [], 0
        while taken < self.batch_size:
            epoch, offset = divmod(start + taken, self.n)
            chunk = self._permutation(epoch)[offset : offset + self.batch_size - taken]
            parts.append(chunk)
            taken += int(chunk.numel())
        return torch.cat(parts)
