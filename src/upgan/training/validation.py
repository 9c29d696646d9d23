"""Validation of a stage: image metrics of a method's clipped predictions, averaged over slices."""

from __future__ import annotations

import math
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
    method.set_train_mode(False)
    sums: dict[str, Tensor] = {}
    psnr_count = torch.zeros((), device=device)
    n = inputs.shape[0]
    for start in range(0, n, batch_size):
        x = inputs[start : start + batch_size]
        y = targets[start : start + batch_size]
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
