"""Batched inference: inputs -> every phase's prediction and uncertainty."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from upgan.models.cascade import UPGAN, PhaseOutput
from upgan.models.unet import UncertaintyUNet
from upgan.training.stage import resolve_device

logger = logging.getLogger(__name__)


def device_batches(
    inputs: Tensor, batch_size: int, device: torch.device, channels_last: bool = False
) -> Iterator[Tensor]:
    """Consecutive ``(b, C, H, W)`` float32 batches of ``inputs (N, C, H, W)`` on ``device``.

    On CUDA the host tensor is pinned once and every batch is copied without blocking the host;
    ``channels_last`` hands the batches over in NHWC memory order (same values).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if inputs.ndim != 4:
        raise ValueError(f"inputs must be (N, C, H, W), got {tuple(inputs.shape)}")
    host = inputs.to(torch.float32)
    if device.type == "cuda":
        host = host.pin_memory()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    for start in range(0, host.shape[0], batch_size):
        batch = host[start : start + batch_size].to(device, non_blocking=True)
        yield batch.contiguous(memory_format=memory_format)


def run_batched(
    network: nn.Module, inputs: Tensor, batch_size: int = 16, device: str | torch.device = "auto",
    channels_last: bool = True,
) -> list[tuple[Tensor, ...]]:
    """``network`` over ``inputs (N, C, H, W)`` batch by batch, under ``torch.inference_mode``
    in eval mode; per batch its output(s) as float32 CPU tensors.

    The network's device and train/eval modes are restored afterwards; with ``channels_last``
    its convolution weights stay in NHWC order (a layout change only: the values are the same).
    """
    target = resolve_device(device)
    original_device = next(network.parameters()).device
    modes = [m.training for m in network.modules()]
    network.to(target).eval()
    if channels_last:
        network.to(memory_format=torch.channels_last)
    chunks: list[tuple[Tensor, ...]] = []
    try:
        with torch.inference_mode():
            for batch in device_batches(inputs, batch_size, target, channels_last):
                out = network(batch)
                flat = out if isinstance(out, (tuple, list)) else (out,)
                chunks.append(tuple(_to_host(t) for t in flat))
    finally:
        network.to(original_device)
        for module, mode in zip(network.modules(), modes, strict=True):
            module.training = mode
    return chunks


def _to_host(value: Tensor | Sequence[Tensor]) -> Tensor | tuple[Tensor, ...]:
    if isinstance(value, Tensor):
        return value.float().cpu().contiguous()
    return tuple(_to_host(v) for v in value)


def predict_phases(
    generators_or_cascade: UPGAN | Sequence[UncertaintyUNet],
    inputs: Tensor,
    batch_size: int = 16,
    device: str | torch.device = "auto",
    guidance: bool = True,
    channels_last: bool = True,
) -> list[PhaseOutput]:
    """Run a cascade on ``inputs (N, C, H, W)``; one :class:`PhaseOutput` of ``(N, 1, H, W)`` CPU
    tensors per phase.

    Batched (see :func:`run_batched`: inference mode, eval mode, modes and device restored).
    ``guidance`` applies only when a list of generators is given (a cascade carries its own).
    """
    cascade = (
        generators_or_cascade
        if isinstance(generators_or_cascade, UPGAN)
        else UPGAN(list(generators_or_cascade), guidance=guidance)
    )
    chunks = run_batched(cascade, inputs, batch_size, device, channels_last)
    return [
        PhaseOutput(*(torch.cat([c[m][k] for c in chunks], dim=0) for k in range(4)))
        for m in range(cascade.n_phases)
    ]
