"""Losses of UP-GAN: the generalized-Gaussian negative log-likelihood (paper Eq. 1) and LSGAN.

Perceptual/style/content terms of PAN and MedGAN can be added here later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

#: The GGD power term ``exp(t)`` with ``t = beta * log(|r| / alpha)`` is evaluated exactly for
#: ``t <= GGD_EXPONENT_CLAMP`` and continued linearly (first-order Taylor, C1) above it, so loss and
#: gradients stay finite and keep pushing in the right direction instead of overflowing to inf.
GGD_EXPONENT_CLAMP = 40.0
#: Added to ``|r|`` inside the log so a zero residual gives a finite log and zero gradient.
RESIDUAL_TINY = 1e-12

_REDUCTIONS = ("mean", "sum", "none")


def ggd_nll(
    pred: Tensor, target: Tensor, alpha: Tensor, beta: Tensor, reduction: str = "mean"
) -> Tensor:
    """Adaptive fidelity loss: negative log-likelihood of a zero-mean GGD (paper Eq. 1).

    Per pixel ``(|pred - target| / alpha) ** beta - log(beta) + log(alpha) + lgamma(1 / beta)``,
    i.e. ``-log p(r; alpha, beta) - log 2`` (the constant dropped). The power is computed in log
    space, ``exp(beta * (log(|r| + tiny) - log(alpha)))``; the exponent is clamped at
    :data:`GGD_EXPONENT_CLAMP` with a linear continuation above, so nothing overflows. Computed in
    (at least) float32 even under autocast; no in-place ops.

    Args:
        pred, target, alpha, beta: broadcastable tensors, typically ``(B, 1, H, W)``; alpha, beta > 0.
        reduction: ``"mean"`` (over all pixels, the paper's 1/K sum), ``"sum"`` or ``"none"``.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    dtype = torch.promote_types(pred.dtype, torch.float32)
    pred, target = pred.to(dtype), target.to(dtype)
    alpha, beta = alpha.to(dtype), beta.to(dtype)
    log_alpha = torch.log(alpha)
    exponent = beta * (torch.log(torch.abs(pred - target) + RESIDUAL_TINY) - log_alpha)
    limit = GGD_EXPONENT_CLAMP
    bounded = torch.exp(torch.clamp(exponent, max=limit))
    power = torch.where(exponent > limit, math.exp(limit) * (1.0 + exponent - limit), bounded)
    loss = power - torch.log(beta) + log_alpha + torch.lgamma(1.0 / beta)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def sigma_from_alpha_beta(alpha: Tensor, beta: Tensor) -> Tensor:
    """Standard deviation of a GGD: ``alpha * sqrt(Gamma(3/beta) / Gamma(1/beta))`` (Eq. 3).

    Evaluated as ``alpha * exp(0.5 * (lgamma(3/beta) - lgamma(1/beta)))`` to avoid Gamma overflow.
    Shapes broadcast; typically ``(B, 1, H, W)``.
    """
    return alpha * torch.exp(0.5 * (torch.lgamma(3.0 / beta) - torch.lgamma(1.0 / beta)))


def lsgan_generator_loss(d_fake: Tensor) -> Tensor:
    """LSGAN generator loss ``MSE(D(b_hat), 1)``, mean over every patch score."""
    return F.mse_loss(d_fake, torch.ones_like(d_fake))


def lsgan_discriminator_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """LSGAN discriminator loss ``MSE(D(b), 1) + MSE(D(b_hat), 0)``.

    Not halved: the paper writes the plain sum (pix2pix code multiplies by 0.5; we keep the paper).
    """
    return F.mse_loss(d_real, torch.ones_like(d_real)) + F.mse_loss(
        d_fake, torch.zeros_like(d_fake)
    )


@dataclass(frozen=True)
class UPGANLossWeights:
    """Weights of the generator objective ``lambda1 * L_ggd + lambda2 * L_adv`` (paper Eq. 2).

    Attributes:
        lambda_fidelity: lambda1 (paper: 1.0).
        lambda_adversarial: lambda2 (paper: 0.001).
    """

    lambda_fidelity: float = 1.0
    lambda_adversarial: float = 0.001

    def __post_init__(self) -> None:
        for name in ("lambda_fidelity", "lambda_adversarial"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"UPGANLossWeights.{name} must be finite and >= 0, got {value!r}")
