"""The UP-GAN progressive cascade: M uncertainty U-Nets, each guided by the previous sigma map.

Phase 0 maps ``a`` to (b-hat_0, alpha_0, beta_0). Phase m > 0 takes
``concat(b-hat_{m-1} * attention(sigma_{m-1}), a)`` (paper Eq. 3-4), or ``concat(b-hat_{m-1}, a)``
in the "no uncertainty guidance" ablation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from upgan.losses import sigma_from_alpha_beta
from upgan.models.patchgan import DiscriminatorConfig, PatchDiscriminator
from upgan.models.unet import UncertaintyUNet, UNetConfig


class PhaseOutput(NamedTuple):
    """One phase's prediction; every field is ``(B, 1, H, W)``.

    Attributes:
        image: b-hat_m.
        alpha: GGD scale.
        beta: GGD shape.
        sigma: per-pixel standard deviation of the GGD (the uncertainty map).
    """

    image: Tensor
    alpha: Tensor
    beta: Tensor
    sigma: Tensor


def uncertainty_attention(sigma: Tensor) -> Tensor:
    """Attention map from an uncertainty map: ``sigma / mean_{H,W}(sigma)`` per image and channel.

    The paper's Eq. 4 weights b-hat by ``sigma_j / sum_j sigma_j`` (sum over the K pixels of an
    image). That map is tiny (mean 1/K); we multiply it by the constant K, i.e. use
    ``K * sigma_j / sum_j sigma_j = sigma_j / mean(sigma)``, so the map has mean 1. It is the
    same model up to a constant factor on the input channel, and numerically kinder.

    Args:
        sigma: ``(B, 1, H, W)``, positive.

    Returns:
        ``(B, 1, H, W)`` with mean 1 over H, W for every image.
    """
    mean = sigma.mean(dim=(-2, -1), keepdim=True)
    return sigma / mean.clamp_min(torch.finfo(sigma.dtype).tiny)


@dataclass(frozen=True)
class CascadeConfig:
    """Everything needed to rebuild an UP-GAN cascade and its discriminators (JSON-able).

    Attributes:
        n_phases: M, the number of GANs in the cascade (paper: 3).
        guidance: feed ``b-hat * attention(sigma)`` forward (True) or ``b-hat`` alone (ablation).
        unet: generator config of phase 0; phases m > 0 get ``in_channels + 1``.
        discriminator: PatchGAN settings, shared by every phase's discriminator.
    """

    n_phases: int = 3
    guidance: bool = True
    unet: UNetConfig = field(default_factory=lambda: UNetConfig(in_channels=1))
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.n_phases, int) or self.n_phases < 1:
            raise ValueError(f"CascadeConfig.n_phases (M) must be >= 1, got {self.n_phases!r}")
        if not isinstance(self.unet, UNetConfig):
            raise ValueError("CascadeConfig.unet must be a UNetConfig")
        if not isinstance(self.discriminator, DiscriminatorConfig):
            raise ValueError("CascadeConfig.discriminator must be a DiscriminatorConfig")

    @property
    def in_channels(self) -> int:
        """Channels C of the task input ``a``."""
        return self.unet.in_channels

    def generator_config(self, phase: int) -> UNetConfig:
        """U-Net config of phase ``phase`` (later phases see one extra channel, f_m, before ``a``;
        a residual generator keeps adding the same channel of ``a``)."""
        if not 0 <= phase < self.n_phases:
            raise ValueError(f"phase must be in 0..{self.n_phases - 1}, got {phase}")
        if phase == 0:
            return self.unet
        r = self.unet.residual_from
        return replace(self.unet, in_channels=self.unet.in_channels + 1,
                       residual_from=None if r is None else r + 1)

    def discriminator_in_channels(self) -> int:
        """1 (image only) or C + 1 (conditional on ``a``)."""
        return 1 + (self.in_channels if self.discriminator.conditional else 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (inverse: :func:`cascade_config_from_dict`)."""
        return asdict(self)


def cascade_config_from_dict(data: dict[str, Any]) -> CascadeConfig:
    """Rebuild a :class:`CascadeConfig` from ``dataclasses.asdict`` output (e.g. read from JSON)."""
    data = dict(data)
    unknown = set(data) - set(CascadeConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown CascadeConfig keys: {sorted(unknown)}")
    if isinstance(data.get("unet"), dict):
        data["unet"] = UNetConfig.from_dict(data["unet"])
    if isinstance(data.get("discriminator"), dict):
        disc = data["discriminator"]
        bad = set(disc) - set(DiscriminatorConfig.__dataclass_fields__)
        if bad:
            raise ValueError(f"unknown DiscriminatorConfig keys: {sorted(bad)}")
        data["discriminator"] = DiscriminatorConfig(**disc)
    return CascadeConfig(**data)


def build_generators(cfg: CascadeConfig, n_phases: int | None = None) -> list[UncertaintyUNet]:
    """Fresh generators G_0..G_{n-1} (``n`` defaults to ``cfg.n_phases``)."""
    n = cfg.n_phases if n_phases is None else n_phases
    if not 1 <= n <= cfg.n_phases:
        raise ValueError(f"n_phases must be in 1..{cfg.n_phases}, got {n}")
    return [UncertaintyUNet(cfg.generator_config(m)) for m in range(n)]


def build_discriminator(cfg: CascadeConfig) -> PatchDiscriminator:
    """A fresh PatchGAN for one phase."""
    d = cfg.discriminator
    return PatchDiscriminator(
        cfg.discriminator_in_channels(), base_width=d.base_width, n_layers=d.n_layers, norm=d.norm
    )


def build_discriminators(cfg: CascadeConfig) -> list[PatchDiscriminator]:
    """One fresh PatchGAN per phase."""
    return [build_discriminator(cfg) for _ in range(cfg.n_phases)]


class UPGAN(nn.Module):
    """The progressive cascade G_0..G_{M-1}.

    ``forward(a: (B, C, H, W), n_phases=None) -> list[PhaseOutput]`` runs the first ``n_phases``
    generators (all by default). Gradients flow through the attention into earlier phases.
    """

    def __init__(self, generators: Sequence[UncertaintyUNet], guidance: bool = True) -> None:
        super().__init__()
        if len(generators) < 1:
            raise ValueError("UPGAN needs at least one generator (M >= 1)")
        self.generators = nn.ModuleList(generators)
        self.guidance = guidance
        in_channels = generators[0].config.in_channels
        for m, g in enumerate(generators[1:], start=1):
            if g.config.in_channels != in_channels + 1:
                raise ValueError(
                    f"generator {m} must take {in_channels + 1} channels (f_m + a), "
                    f"got {g.config.in_channels}"
                )
        self.in_channels = in_channels

    @property
    def n_phases(self) -> int:
        """M."""
        return len(self.generators)

    def phase_input(self, a: Tensor, previous: PhaseOutput) -> Tensor:
        """Input of phase m > 0: ``(B, 1 + C, H, W)``.

        ``concat(b_prev * uncertainty_attention(sigma_prev), a)`` with guidance, or
        ``concat(b_prev, a)`` without (the ablation, which ignores sigma entirely).
        """
        feature = previous.image
        if self.guidance:
            feature = feature * uncertainty_attention(previous.sigma)
        return torch.cat([feature, a], dim=1)

    @staticmethod
    def run_generator(generator: UncertaintyUNet, x: Tensor) -> PhaseOutput:
        """One generator call turned into a :class:`PhaseOutput` (adds sigma)."""
        out = generator(x)
        return PhaseOutput(out.image, out.alpha, out.beta, sigma_from_alpha_beta(out.alpha, out.beta))

    def forward(self, a: Tensor, n_phases: int | None = None) -> list[PhaseOutput]:
        n = self.n_phases if n_phases is None else n_phases
        if not 1 <= n <= self.n_phases:
            raise ValueError(f"n_phases must be in 1..{self.n_phases}, got {n}")
        outputs: list[PhaseOutput] = []
        x = a
        for m in range(n):
            if m > 0:
                x = self.phase_input(a, outputs[-1])
            outputs.append(self.run_generator(self.generators[m], x))
        return outputs
