"""Validation of a stage: image metrics of a method's clipped predictions, averaged over slices."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from upgan.metrics import mae, psnr, ssim
from upgan.preparation.normalisation import VALID_RANGE
from upgan.training.stage import autocast

if TYPE_CHECKING:
    from upgan.training.engine import TrainingMethod

#: Slices per forward pass when validating (eval mode: the batch size does not change the result).
VALIDATION_BATCH = 64


@torch.no_grad()
def evaluate(
    method: TrainingMethod, inputs: Tensor, targets: Tensor, batch_size: int, device: torch.device,
    bf16: bool = False, clip: tuple[float, float] | None = VALID_RANGE,
) -> dict[str, float]:
    """Validation metrics averaged over slices: ``val_mae``, ``val_psnr``, ``val_ssim``, ``val_*``.

    ``inputs``/``targets`` are device-resident (prepared) tensors. Predictions are clipped to
    ``clip`` (the valid range of the normalised scale, as in scoring) before the metrics. PSNR
    averages finite values only (a perfect slice would otherwise make the mean inf). One host
    sync at the end.
    """
    batches = ((inputs[s : s + batch_size], targets[s : s + batch_size]) for s in range(0, inputs.shape[0], batch_size))
    return evaluate_batches(method, batches, device, bf16, clip)


@torch.no_grad()
def evaluate_batches(
    method: TrainingMethod, batches: Iterable[tuple[Tensor, Tensor]], device: torch.device,
    bf16: bool = False, clip: tuple[float, float] | None = VALID_RANGE,
) -> dict[str, float]:
    """:func:`evaluate` on validation data given as ``(x, y)`` batches on the device."""
    method.set_train_mode(False)
    sums: dict[str, Tensor] = {}
    psnr_count = torch.zeros((), device=device)
    n = 0
    for x, y in batches:
        n += x.shape[0]
        with autocast(device, bf16):
            pred, extras = method.validation_outputs(x, y)
        pred = pred.float()
        if clip is not None:
            pred = pred.clamp(*clip)
        p = psnr(pred, y)
        finite = torch.isfinite(p)
        values = {
            "val_mae": mae(pred, y).sum(),
            "val_psnr": torch.where(finite, p, torch.zeros_like(p)).sum(),
            "val_ssim": ssim(pred, y).sum(),
        }
        psnr_count = psnr_count + finite.sum()
        for key, value in extras.items():
            values[f"val_{key}"] = value.detach().float() * x.shape[0]
        for key, value in values.items():
            sums[key] = sums.get(key, torch.zeros((), device=device)) + value
    result = {k: float(v) / n for k, v in sums.items()}
    count = int(psnr_count)
    result["val_psnr"] = float(sums["val_psnr"]) / count if count else math.inf
    return result
