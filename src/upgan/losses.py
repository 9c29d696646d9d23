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


RECIPES: tuple[str, ...] = ("paper", "official")
"""Generator objectives of an UP-GAN stage: ``paper`` (Eq. 2) and ``official`` (the authors' code)."""

OFFICIAL_CURRICULUM: tuple[tuple[float, float], ...] = ((1.0, 1e-4), (0.5, 1e-3), (0.1, 1e-2))
"""(lambda_L1, lambda_GGD) of the official code's three training periods (UncerGuidedI2I
``train_i2i_Cas_UNet3headGAN``: 50, 50 and 150 epochs). How long each period lasts is
``UPGANLossWeights.periods``: equal thirds by default, ``[50, 50, 150]`` as the authors wrote it."""

OFFICIAL_PERIODS: tuple[int, ...] = (50, 50, 150)
"""The official code's period lengths (epochs), i.e. 20 %, 20 % and 60 % of a stage."""


@dataclass(frozen=True)
class UPGANLossWeights:
    """Weights of the UP-GAN generator objective.

    ``recipe: paper`` is Eq. 2, ``lambda1 * L_ggd + lambda2 * L_adv`` throughout (plus
    ``lambda_l1 * L1`` when ``lambda_l1 > 0``, for the loss breakdown). ``recipe: official`` is
    the authors' code: ``lambda_L1 * L1 + lambda_GGD * L_ggd + lambda2 * L_adv`` with
    (lambda_L1, lambda_GGD) following :data:`OFFICIAL_CURRICULUM` over periods of the stage whose
    relative lengths are ``periods`` (``lambda1`` and ``lambda_l1`` are unused there).
    ``lambda_adversarial: 0`` drops the adversarial term and the discriminators altogether.

    Attributes:
        lambda_fidelity: lambda1 (paper: 1.0).
        lambda_adversarial: lambda2 (paper and official code: 0.001).
        recipe: ``paper`` or ``official``.
        lambda_l1: weight of a mean-absolute-error term in the ``paper`` recipe (paper: 0).
        periods: relative lengths of the official curriculum's three periods (default equal
            thirds; the authors' code: :data:`OFFICIAL_PERIODS`).
    """

    lambda_fidelity: float = 1.0
    lambda_adversarial: float = 0.001
    recipe: str = "paper"
    lambda_l1: float = 0.0
    periods: tuple[int, ...] = (1, 1, 1)

    def __post_init__(self) -> None:
        for name in ("lambda_fidelity", "lambda_adversarial", "lambda_l1"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"upgan.loss.{name} must be finite and >= 0, got {value!r}")
        if self.recipe not in RECIPES:
            raise ValueError(f"upgan.loss.recipe must be one of {', '.join(RECIPES)}, got {self.recipe!r}")
        periods = self.periods
        if (isinstance(periods, (str, bytes)) or not isinstance(periods, (list, tuple))
                or len(periods) != len(OFFICIAL_CURRICULUM)
                or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in periods)):
            raise ValueError(f"upgan.loss.periods must be {len(OFFICIAL_CURRICULUM)} positive integers "
                             f"(relative lengths), got {periods!r}")
        object.__setattr__(self, "periods", tuple(periods))

    @property
    def extended(self) -> bool:
        """True when a setting beyond the paper's and the official code's defaults is used."""
        return self.lambda_l1 != 0 or self.periods != (1, 1, 1)

    def at(self, step: int, total: int) -> tuple[float, float, float]:
        """``(lambda_L1, lambda_GGD, lambda_adv)`` for generator update ``step`` of ``total``."""
        if self.recipe == "paper":
            return float(self.lambda_l1), float(self.lambda_fidelity), float(self.lambda_adversarial)
        # period i while step / total < (p_0 + ... + p_i) / sum(p), in integers
        step, total, whole = max(step, 0), max(total, 1), sum(self.periods)
        period, bound = len(self.periods) - 1, 0
        for i, length in enumerate(self.periods[:-1]):
            bound += length
            if step * whole < bound * total:
                period = i
                break
        l1, ggd = OFFICIAL_CURRICULUM[period]
        return l1, ggd, float(self.lambda_adversarial)
