"""Predicting with any trained method's model bundle (:mod:`upgan.io.bundle`), whose config
names the method: the method's plug-in rebuilds its networks and predicts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from upgan.io.bundle import ModelBundle


@dataclass
class Prediction:
    """A method's output on (N, C, H, W) inputs.

    Attributes:
        image: (N, 1, H, W) final prediction on the normalised scale.
        sigma: (N, 1, H, W) final uncertainty, or ``None`` for methods without one.
        phases: per phase a dict of (N, 1, H, W) arrays ``image, alpha, beta, sigma`` (cascades).
    """

    image: np.ndarray
    sigma: np.ndarray | None
    phases: list[dict[str, np.ndarray]] | None


def predict_bundle(bundle: ModelBundle, inputs: np.ndarray | torch.Tensor, device: str = "auto",
                   batch_size: int = 16, channels_last: bool = True) -> Prediction:
    """Predict with any method's model bundle (batched, inference mode; ``channels_last``: NHWC
    layout, faster convolutions on CPU and CUDA, same values up to float rounding)."""
    from upgan.methods.registry import get

    spec = get(bundle.config.get("method", ""))
    x = np.asarray(inputs.numpy() if isinstance(inputs, torch.Tensor) else inputs, dtype=np.float32)
    return spec.plugin.predict(bundle, x, device=device, batch_size=batch_size, channels_last=channels_last)
