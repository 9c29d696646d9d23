"""The UP-GAN progressive cascade: M uncertainty U-Nets, each guided by the previous sigma map.

Phase 0 maps ``a`` to (b-hat_0, alpha_0, beta_0). Phase m > 0 takes ``concat(f_m, a)``, with the
feature ``f_m`` formed from phase m-1's output by a guidance input (:mod:`upgan.models.guidance`):
``b-hat_{m-1} * attention(sigma_{m-1})`` (paper Eq. 3-4), ``b-hat_{m-1}`` in the "no uncertainty
guidance" ablation, or another registered form.

Residual target of phases m > 0 (``residual_to``): ``input`` -- a residual generator adds its
image head to the first channel of ``a`` like phase 0 (global residual learning, when on);
``previous`` -- every later phase adds its image head to b-hat_{m-1}, so it learns a correction
of the previous phase whatever the guidance form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from upgan.losses import sigma_from_alpha_beta
from upgan.models.guidance import GuidanceInput, get_guidance
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


RESIDUAL_TARGETS: tuple[str, ...] = ("input", "previous")
"""What a later phase's image head is added to (``upgan.residual_to``)."""


@dataclass(frozen=True)
class CascadeConfig:
    """Everything needed to rebuild an UP-GAN cascade and its discriminators (JSON-able).

    Attributes:
        n_phases: M, the number of GANs in the cascade (paper: 3).
        guidance: the guidance input of phases m > 0 (a name of :mod:`upgan.models.guidance`;
            ``True``/``False`` of older bundles read as ``paper_eq4``/``none``).
        unet: generator config of phase 0; phases m > 0 get ``in_channels`` + the guidance
            feature's channels.
        discriminator: PatchGAN settings, shared by every phase's discriminator.
        residual_to: ``input`` or ``previous`` (see the module docstring).
    """

    n_phases: int = 3
    guidance: str = "paper_eq4"
    unet: UNetConfig = field(default_factory=lambda: UNetConfig(in_channels=1))
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    residual_to: str = "input"

    def __post_init__(self) -> None:
        if not isinstance(self.n_phases, int) or self.n_phases < 1:
            raise ValueError(f"CascadeConfig.n_phases (M) must be >= 1, got {self.n_phases!r}")
        object.__setattr__(self, "guidance", get_guidance(self.guidance).name)
        if self.residual_to not in RESIDUAL_TARGETS:
            raise ValueError(f"CascadeConfig.residual_to must be one of {', '.join(RESIDUAL_TARGETS)}, "
                             f"got {self.residual_to!r}")
        if not isinstance(self.unet, UNetConfig):
            raise ValueError("CascadeConfig.unet must be a UNetConfig")
        if not isinstance(self.discriminator, DiscriminatorConfig):
            raise ValueError("CascadeConfig.discriminator must be a DiscriminatorConfig")

    @property
    def in_channels(self) -> int:
        """Channels C of the task input ``a``."""
        return self.unet.in_channels

    def generator_config(self, phase: int) -> UNetConfig:
        """U-Net config of phase ``phase`` (later phases see the guidance feature f_m before ``a``;
        with ``residual_to: input`` a residual generator keeps adding the same channel of ``a``,
        with ``previous`` the cascade adds b-hat_{m-1} instead)."""
        if not 0 <= phase < self.n_phases:
            raise ValueError(f"phase must be in 0..{self.n_phases - 1}, got {phase}")
        if phase == 0:
            return self.unet
        extra = get_guidance(self.guidance).channels
        r = self.unet.residual_from
        if self.residual_to == "previous":
            r = None
        return replace(self.unet, in_channels=self.unet.in_channels + extra,
                       residual_from=None if r is None else r + extra)

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
    generators (all by default). Gradients flow through the guidance into earlier phases.
    ``guidance``: a form of :mod:`upgan.models.guidance` (or its name; ``True``/``False``:
    ``paper_eq4``/``none``); ``residual_to``: ``input`` or ``previous``.
    """

    def __init__(self, generators: Sequence[UncertaintyUNet], guidance: str | bool | GuidanceInput = True,
                 residual_to: str = "input") -> None:
        super().__init__()
        if len(generators) < 1:
            raise ValueError("UPGAN needs at least one generator (M >= 1)")
        if residual_to not in RESIDUAL_TARGETS:
            raise ValueError(f"residual_to must be one of {', '.join(RESIDUAL_TARGETS)}, got {residual_to!r}")
        self.generators = nn.ModuleList(generators)
        self.form = guidance if isinstance(guidance, GuidanceInput) else get_guidance(guidance)
        self.residual_to = residual_to
        in_channels = generators[0].config.in_channels
        for m, g in enumerate(generators[1:], start=1):
            if g.config.in_channels != in_channels + self.form.channels:
                raise ValueError(
                    f"generator {m} must take {in_channels + self.form.channels} channels "
                    f"(f_m of {self.form.name} + a), got {g.config.in_channels}"
                )
        self.in_channels = in_channels

    @property
    def guidance(self) -> str:
        """The name of the guidance input."""
        return self.form.name

    @property
    def n_phases(self) -> int:
        """M."""
        return len(self.generators)

    def phase_input(self, a: Tensor, previous: PhaseOutput) -> Tensor:
        """Input of phase m > 0: ``concat(f_m, a)``, ``(B, channels + C, H, W)``."""
        return torch.cat([self.form.feature(previous), a], dim=1)

    @staticmethod
    def run_generator(generator: UncertaintyUNet, x: Tensor, previous_image: Tensor | None = None) -> PhaseOutput:
        """One generator call turned into a :class:`PhaseOutput` (adds sigma); with
        ``previous_image`` ``(B, 1, H, W)`` the image head is a correction added to it."""
        out = generator(x)
        image = out.image if previous_image is None else out.image + previous_image
        return PhaseOutput(image, out.alpha, out.beta, sigma_from_alpha_beta(out.alpha, out.beta))

    def residual_base(self, phase: int, previous: PhaseOutput | None) -> Tensor | None:
        """What phase ``phase``'s image head is added to by the cascade (``None``: nothing)."""
        if phase == 0 or self.residual_to != "previous" or previous is None:
            return None
        return previous.image

    def forward(self, a: Tensor, n_phases: int | None = None) -> list[PhaseOutput]:
        n = self.n_phases if n_phases is None else n_phases
        if not 1 <= n <= self.n_phases:
            raise ValueError(f"n_phases must be in 1..{self.n_phases}, got {n}")
        outputs: list[PhaseOutput] = []
        x = a
        for m in range(n):
            previous = outputs[-1] if m > 0 else None
            if previous is not None:
                x = self.phase_input(a, previous)
            outputs.append(self.run_generator(self.generators[m], x, self.residual_base(m, previous)))
        return outputs
