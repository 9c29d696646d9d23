"""Losses of the baselines: pix2pix (BCE cGAN), PAN (discriminator-feature perceptual loss with a
margin) and MedGAN (perceptual, style and content terms).

Facts: the three papers and their public PyTorch (re-)implementations: pix2pix's port
(junyanz/pytorch-CycleGAN-and-pix2pix) and PAN's re-implementation
(flowerofdream/pytorch-Perceptual-Adversarial-Networks, "PAN-fd" below). All losses are computed
in float32 (safe under bf16 autocast) and return scalar tensors unless stated otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

#: PAN per-layer weights lambda_i on the D hidden layers 1, 4, 6, 8, those of PAN-fd
#: (``train_model.py``); the paper does not confirm them.
PAN_LAYER_WEIGHTS = (5.0, 1.5, 1.5, 1.0)
#: PAN margin m, that of PAN-fd; the paper's value (possibly task dependent) is not known.
PAN_MARGIN = 3.0


def _weights(weights: Sequence[float] | None, n: int, what: str) -> list[float]:
    if weights is None:
        return [1.0] * n
    weights = [float(w) for w in weights]
    if len(weights) != n:
        raise ValueError(f"{what}: {len(weights)} weights for {n} feature maps")
    return weights


def _pairs(real: Sequence[Tensor], fake: Sequence[Tensor], what: str) -> None:
    if len(real) != len(fake):
        raise ValueError(f"{what}: {len(real)} real feature maps but {len(fake)} fake ones")
    for a, b in zip(real, fake, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"{what}: feature shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")


def gan_bce_generator_loss(d_fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss ``BCE(D(G(x)), 1)`` on raw logits (any shape), mean."""
    d = d_fake_logits.float()
    return F.binary_cross_entropy_with_logits(d, torch.ones_like(d))


def gan_bce_discriminator_loss(d_real: Tensor, d_fake: Tensor, scale: float = 0.5) -> Tensor:
    """``scale * (BCE(D(real), 1) + BCE(D(fake), 0))`` on raw logits.

    ``scale=0.5`` is pix2pix's halving of the D objective (slows D down), as in its PyTorch port; PAN's
    formulation uses the plain sum (``scale=1``).
    """
    r, f = d_real.float(), d_fake.float()
    return scale * (
        F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
        + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    )


def pan_perceptual_distance(
    feats_real: Sequence[Tensor],
    feats_fake: Sequence[Tensor],
    weights: Sequence[float] = PAN_LAYER_WEIGHTS,
    reduction: str = "mean",
) -> Tensor:
    """PAN perceptual distance ``sum_i lambda_i * mean|H_i(y) - H_i(T(x))|``.

    ``H_i`` are hidden layers of the PAN discriminator, each ``(B, C_i, H_i, W_i)``; the mean is
    over ``C_i * H_i * W_i`` (a normalised L1 norm; whether the paper normalises is not known).
    Default ``lambda = (5, 1.5, 1.5, 1)``, those of PAN-fd (the paper's are not known).

    Args:
        reduction: ``"mean"`` (scalar, also averaged over the batch) or ``"none"`` (``(B,)``).
    """
    _pairs(feats_real, feats_fake, "pan_perceptual_distance")
    lam = _weights(weights, len(feats_real), "pan_perceptual_distance")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    total: Tensor | float = 0.0
    for w, a, b in zip(lam, feats_real, feats_fake, strict=True):
        per_sample = (a.float() - b.float()).abs().flatten(1).mean(dim=1)
        total = total + w * per_sample
    assert isinstance(total, Tensor)
    return total.mean() if reduction == "mean" else total


def pan_discriminator_margin(distance: Tensor, margin: float = PAN_MARGIN) -> Tensor:
    """PAN's positive-margin term for D, ``[m - d]^+ = max(0, m - d)``, elementwise.

    D minimises it, i.e. pushes the perceptual distance ``d`` of real and fake above ``m``; once
    ``d > m`` the term is 0 and gives no gradient. Default ``m = 3.0``, that of PAN-fd (the paper's is not known).
    """
    return torch.clamp(margin - distance, min=0.0)


def gram_matrix(features: Tensor) -> Tensor:
    """Gram matrix ``(B, C, H, W) -> (B, C, C)``: ``F F^T / (C * H * W)`` with ``F`` the
    ``(B, C, H*W)`` reshaped features."""
    if features.ndim != 4:
        raise ValueError(f"gram_matrix expects (B, C, H, W), got {tuple(features.shape)}")
    b, c, h, w = features.shape
    f = features.float().reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def style_loss(
    feats_real: Sequence[Tensor],
    feats_fake: Sequence[Tensor],
    weights: Sequence[float] | None = None,
) -> Tensor:
    """MedGAN style loss ``sum_j lambda_sj * ||Gr_j(y) - Gr_j(y_hat)||_F^2 / (4 d_j^2)``.

    ``Gr_j`` from :func:`gram_matrix`, ``d_j`` the channels of extractor layer j; the squared
    Frobenius norm is per image, then averaged over the batch. Weights default to 1.
    """
    _pairs(feats_real, feats_fake, "style_loss")
    lam = _weights(weights, len(feats_real), "style_loss")
    total = torch.zeros((), device=feats_fake[0].device)
    for w, a, b in zip(lam, feats_real, feats_fake, strict=True):
        d = a.shape[1]
        diff = gram_matrix(a) - gram_matrix(b)
        total = total + w * diff.square().sum(dim=(1, 2)).mean() / (4.0 * d * d)
    return total


def content_loss(
    feats_real: Sequence[Tensor],
    feats_fake: Sequence[Tensor],
    weights: Sequence[float] | None = None,
) -> Tensor:
    """MedGAN content loss ``sum_j lambda_cj * ||V_j(y) - V_j(y_hat)||_F^2 / (h_j w_j d_j)``
    (per image, i.e. a mean squared error over ``C, H, W``), averaged over the batch."""
    _pairs(feats_real, feats_fake, "content_loss")
    lam = _weights(weights, len(feats_real), "content_loss")
    total = torch.zeros((), device=feats_fake[0].device)
    for w, a, b in zip(lam, feats_real, feats_fake, strict=True):
        total = total + w * F.mse_loss(b.float(), a.float())
    return total


def medgan_perceptual_loss(
    feats_real: Sequence[Tensor],
    feats_fake: Sequence[Tensor],
    weights: Sequence[float] | None = None,
) -> Tensor:
    """MedGAN perceptual loss ``sum_i lambda_pi * ||D_i(y) - D_i(y_hat)||_1 / (h_i w_i d_i)`` on
    the hidden features of the (conditional PatchGAN) discriminator, averaged over the batch.
    Per-layer weights default to 1 (the paper's values are not known)."""
    _pairs(feats_real, feats_fake, "medgan_perceptual_loss")
    lam = _weights(weights, len(feats_real), "medgan_perceptual_loss")
    total = torch.zeros((), device=feats_fake[0].device)
    for w, a, b in zip(lam, feats_real, feats_fake, strict=True):
        total = total + w * F.l1_loss(b.float(), a.float())
    return total
