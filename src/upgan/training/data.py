"""Training data of a stage: paired 2-D slices, the seeded batch order that crosses epochs, and
where the data live while a stage trains (resident on the device or streamed from host memory)."""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import torch
from torch import Tensor

logger = logging.getLogger(__name__)


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


# --------------------------------------------------------------------------------------------
# Where a stage's data lives while it trains: on the device, or streamed from host memory

GIB = 2**30
#: Slices prepared per call of ``method.prepare_inputs`` when streaming (a multiple of the
#: cascade's own precompute batch, so the frozen phases see the same batches either way).
PREPARE_CHUNK = 1024


def _to_device(tensor: Tensor, device: torch.device) -> Tensor:
    """``tensor`` on ``device``, asynchronously from pinned memory; its memory format is kept."""
    return tensor.to(device, non_blocking=tensor.is_pinned())


class StageData(ABC):
    """A stage's prepared training and validation data as the training loop consumes it.

    ``prepare`` is the method's ``prepare_inputs`` (e.g. the frozen phases of a cascade applied
    once per stage); batches come back on the training device in the stage's memory format.
    """

    path: str
    """``resident`` or ``streamed``."""

    @property
    @abstractmethod
    def n_train(self) -> int:
        """Training slices."""

    @property
    @abstractmethod
    def has_validation(self) -> bool:
        """Whether there are validation slices."""

    @abstractmethod
    def train_batch(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """``x (B, C', H, W)``, ``y (B, 1, H, W)`` on the device, for CPU ``indices (B,)``."""

    def prefetch(self, indices: Tensor) -> None:  # noqa: B027 - optional: resident data needs none
        """Start gathering the batch of ``indices`` (the next :meth:`train_batch` call's)."""

    @abstractmethod
    def validation_batches(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        """The validation slices in order, ``batch_size`` at a time, on the device."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release background work."""


class ResidentData(StageData):
    """Everything on the device, prepared in one call of ``prepare``."""

    path = "resident"

    def __init__(self, prepare: Callable[[Tensor], Tensor], train: SlicePairs, val: SlicePairs | None,
                 device: torch.device, memory_format: torch.memory_format) -> None:
        def put(pairs: SlicePairs) -> tuple[Tensor, Tensor]:
            x = prepare(pairs.inputs.to(device)).contiguous(memory_format=memory_format)
            return x, pairs.targets.to(device).contiguous(memory_format=memory_format)

        self.train_x, self.train_y = put(train)
        self.val = put(val) if val is not None else None

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def has_validation(self) -> bool:
        return self.val is not None

    def train_batch(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        idx = indices.to(self.train_x.device)
        return self.train_x[idx], self.train_y[idx]

    def validation_batches(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        assert self.val is not None
        x, y = self.val
        for start in range(0, x.shape[0], batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]


class StreamedData(StageData):
    """Prepared data in host memory (pinned when the device is CUDA); each batch is gathered in
    a background thread one iteration ahead and copied to the device asynchronously.

    ``prepare`` runs on the device ``PREPARE_CHUNK`` slices at a time, so only a chunk of the
    stage's data is ever on the device.
    """

    path = "streamed"

    def __init__(self, prepare: Callable[[Tensor], Tensor], train: SlicePairs, val: SlicePairs | None,
                 device: torch.device, memory_format: torch.memory_format) -> None:
        self.device = device
        self.pin = device.type == "cuda"
        self.train_x, self.train_y = self._host(prepare, train, memory_format)
        self.val = self._host(prepare, val, memory_format) if val is not None else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upgan-prefetch")
        self._pending: tuple[Tensor, Future[tuple[Tensor, Tensor]]] | None = None

    def _host(self, prepare: Callable[[Tensor], Tensor], pairs: SlicePairs,
              memory_format: torch.memory_format) -> tuple[Tensor, Tensor]:
        """Prepared inputs and targets in host memory, in the stage's memory format (so batches
        gathered from them have the layout the resident path's have)."""
        chunks = [prepare(pairs.inputs[s:s + PREPARE_CHUNK].to(self.device)).cpu()
                  for s in range(0, len(pairs), PREPARE_CHUNK)]
        x = torch.cat(chunks).contiguous(memory_format=memory_format)
        y = pairs.targets.contiguous(memory_format=memory_format)
        return (x.pin_memory(), y.pin_memory()) if self.pin else (x, y)

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def has_validation(self) -> bool:
        return self.val is not None

    def _gather(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        x, y = self.train_x[indices], self.train_y[indices]
        return (x.pin_memory(), y.pin_memory()) if self.pin else (x, y)

    def prefetch(self, indices: Tensor) -> None:
        self._pending = (indices, self._pool.submit(self._gather, indices))

    def train_batch(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        pending, self._pending = self._pending, None
        if pending is not None and torch.equal(pending[0], indices):
            x, y = pending[1].result()
        else:
            x, y = self._gather(indices)
        return _to_device(x, self.device), _to_device(y, self.device)

    def validation_batches(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        assert self.val is not None
        x, y = self.val
        for start in range(0, x.shape[0], batch_size):
            yield _to_device(x[start:start + batch_size], self.device), _to_device(y[start:start + batch_size], self.device)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def prepared_bytes(prepare: Callable[[Tensor], Tensor], train: SlicePairs, val: SlicePairs | None,
                   device: torch.device) -> int:
    """Bytes the prepared training and validation data take on the device: the inputs after
    ``prepare`` (its output channels measured on one slice, e.g. a cascade's frozen phases
    add the previous phase's output) plus the targets, float32."""
    with torch.no_grad():
        probe = prepare(train.inputs[:1].to(device))
    per_slice = probe[0].numel() * probe.element_size() + train.targets[0].numel() * 4
    n = len(train) + (len(val) if val is not None else 0)
    return int(per_slice * n)


def device_budget_bytes(budget_gb: float | None, device: torch.device) -> float:
    """The data budget on ``device``: ``budget_gb`` GiB when given; else on CUDA a quarter of
    the device's memory (the networks, activations and optimiser states need the rest) and
    unlimited on the CPU (host memory is the device)."""
    if budget_gb is not None:
        return float(budget_gb) * GIB
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory / 4
    return math.inf


def stage_data(prepare: Callable[[Tensor], Tensor], train: SlicePairs, val: SlicePairs | None,
               device: torch.device, channels_last: bool, budget_gb: float | None, stage: str = "stage",
               ) -> StageData:
    """Resident data when the prepared data fit the budget (:func:`device_budget_bytes`), else
    streamed from host memory; the log says which and why. Both give the same batches, so
    training is bit-identical either way on the CPU (tested)."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    need = prepared_bytes(prepare, train, val, device)
    budget = device_budget_bytes(budget_gb, device)
    if need <= budget:
        logger.info("stage %s: data resident on %s (%.3g GiB <= budget %s)", stage, device, need / GIB,
                    "unlimited" if math.isinf(budget) else f"{budget / GIB:.3g} GiB")
        return ResidentData(prepare, train, val, device, memory_format)
    logger.info("stage %s: data streamed from %shost memory with prefetch (%.3g GiB > budget %.3g GiB on %s; "
                "training.device_data_budget_gb)", stage, "pinned " if device.type == "cuda" else "",
                need / GIB, budget / GIB, device)
    return StreamedData(prepare, train, val, device, memory_format)
