"""Batched inference: inputs -> every phase's prediction and uncertainty."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor

from upgan.models.cascade import UPGAN, PhaseOutput
from upgan.models.unet import UncertaintyUNet
from upgan.training.engine import resolve_device

logger = logging.getLogger(__name__)


def predict_phases(
    generators_or_cascade: UPGAN | Sequence[UncertaintyUNet],
    inputs: Tensor,
    batch_size: int = 16,
    device: str | torch.device = "auto",
    guidance: bool = True,
) -> list[PhaseOutput]:
    """Run a cascade on ``inputs (N, C, H, W)``; one :class:`PhaseOutput` of ``(N, 1, H, W)`` CPU
    tensors per phase.

    Batched, under ``torch.inference_mode``, generators in eval mode (their previous train/eval
    modes and device are restored afterwards). ``guidance`` applies only when a list of
    generators is given (a cascade carries its own).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if inputs.ndim != 4:
        raise ValueError(f"inputs must be (N, C, H, W), got {tuple(inputs.shape)}")
    cascade = (
        generators_or_cascade
        if isinstance(generators_or_cascade, UPGAN)
        else UPGAN(list(generators_or_cascade), guidance=guidance)
    )
    target = resolve_device(device)
    original_device = next(cascade.parameters()).device
    modes = [m.training for m in cascade.modules()]
    cascade.to(target).eval()
    chunks: list[list[PhaseOutput]] = []
    try:
        with torch.inference_mode():
            for start in range(0, inputs.shape[0], batch_size):
                a = inputs[start : start + batch_size].to(target, torch.float32)
                outputs = cascade(a)
                chunks.append([PhaseOutput(*(t.float().cpu() for t in out)) for out in outputs])
    finally:
        cascade.to(original_device)
        for module, mode in zip(cascade.modules(), modes, strict=True):
            module.training = mode
    n_phases = cascade.n_phases
    return [
        PhaseOutput(*(torch.cat([c[m][k] for c in chunks], dim=0) for k in range(4)))
        for m in range(n_phases)
    ]
