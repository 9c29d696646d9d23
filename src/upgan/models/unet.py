"""U-Net generator with three heads (image, GGD scale alpha, GGD shape beta).

The backbone follows the UP-GAN paper's "modified U-Net": max-pool down, bilinear up, skip
concatenation, and a head split in three. Widths double per level from ``base_width`` and are
capped at ``max_width`` (paper environment: residual blocks, widths 64-128-256-512-512, depth 4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_BLOCKS = ("plain", "residual")
_NORMS = ("batch", "instance", "none")
_UPSAMPLES = ("bilinear",)
_SHORTCUTS = ("conv1x1", "conv3x3")


class GeneratorOutput(NamedTuple):
    """What a three-head generator predicts; every field is ``(B, 1, H, W)``.

    Attributes:
        image: the translated image b-hat (linear head, unbounded).
        alpha: GGD scale, strictly positive (softplus + ``alpha_floor``).
        beta: GGD shape, strictly positive (softplus + ``beta_floor``).
    """

    image: Tensor
    alpha: Tensor
    beta: Tensor


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of an :class:`UncertaintyUNet` (JSON-able through ``dataclasses.asdict``).

    Attributes:
        in_channels: channels of the input (phase 0: the modality channels C; later phases C + 1).
        base_width: channels at the first level.
        depth: number of 2x down-samplings; H and W must be divisible by ``2**depth``.
        max_width: cap on the channel width of any level.
        block: ``"plain"`` (2x conv3x3-norm-ReLU) or ``"residual"`` (3x conv3x3-norm-ReLU main
            branch plus a 1x1 conv shortcut, the official UP-GAN block).
        norm: ``"batch"``, ``"instance"`` or ``"none"``.
        upsample: ``"bilinear"`` (resize then convolve; no transposed convs, no checkerboard).
        residual_shortcut: shortcut of residual blocks: ``"conv1x1"`` (a 1x1 conv) or
            ``"conv3x3"`` (conv3x3-norm-ReLU, as in the official code: with it the paper-size
            generator has the official ~33.0 M parameters; with ``conv1x1`` ~26.7 M).
        residual_from: global residual learning: the image head predicts a correction that is
            added to this input channel (``b-hat = a_c + head(h)``), for tasks whose input is on
            the target's scale; ``None`` (default) predicts the image directly.
        alpha_floor: smallest alpha the head can emit.
        beta_floor: smallest beta the head can emit. It bounds the uncertainty:
            ``sigma / alpha = sqrt(Gamma(3/beta) / Gamma(1/beta))`` is at most 11 at the default
            0.5 (it would be ~3e32 at 0.05), so sigma and the attention map stay finite.
    """

    in_channels: int
    base_width: int = 32
    depth: int = 4
    max_width: int = 512
    block: str = "plain"
    norm: str = "batch"
    upsample: str = "bilinear"
    residual_shortcut: str = "conv1x1"
    residual_from: int | None = None
    alpha_floor: float = 1e-3
    beta_floor: float = 0.5

    def __post_init__(self) -> None:
        for name in ("in_channels", "base_width", "depth", "max_width"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"UNetConfig.{name} must be a positive int, got {value!r}")
        if self.max_width < self.base_width:
            raise ValueError(
                f"UNetConfig.max_width ({self.max_width}) < base_width ({self.base_width})"
            )
        if self.block not in _BLOCKS:
            raise ValueError(f"UNetConfig.block must be one of {_BLOCKS}, got {self.block!r}")
        if self.norm not in _NORMS:
            raise ValueError(f"UNetConfig.norm must be one of {_NORMS}, got {self.norm!r}")
        if self.upsample not in _UPSAMPLES:
            raise ValueError(
                f"UNetConfig.upsample must be one of {_UPSAMPLES}, got {self.upsample!r}"
            )
        if self.residual_shortcut not in _SHORTCUTS:
            raise ValueError(
                f"UNetConfig.residual_shortcut must be one of {_SHORTCUTS}, "
                f"got {self.residual_shortcut!r}"
            )
        if self.residual_from is not None and not (
            isinstance(self.residual_from, int) and 0 <= self.residual_from < self.in_channels
        ):
            raise ValueError(
                f"UNetConfig.residual_from must be None or an input channel in 0..{self.in_channels - 1}, "
                f"got {self.residual_from!r}"
            )
        if not (self.alpha_floor > 0 and self.beta_floor > 0):
            raise ValueError("UNetConfig.alpha_floor and beta_floor must be > 0")

    @property
    def widths(self) -> list[int]:
        """Channel width of each level 0..depth."""
        return [min(self.base_width * 2**i, self.max_width) for i in range(self.depth + 1)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNetConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys raise a ValueError naming them."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown UNetConfig keys: {sorted(unknown)}")
        return cls(**data)


def make_norm(kind: str, channels: int) -> nn.Module:
    """Normalisation layer by name (``batch``, ``instance`` with affine, ``none``)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; known: {_NORMS}")


class ConvNormReLU(nn.Sequential):
    """conv3x3 (padding 1) -> norm -> ReLU; keeps H, W."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=norm == "none"),
            make_norm(norm, out_channels),
            nn.ReLU(inplace=True),
        )


class PlainBlock(nn.Module):
    """Two conv3x3-norm-ReLU layers: ``(B, in, H, W) -> (B, out, H, W)`` (``mid`` channels between)."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, mid: int | None = None) -> None:
        super().__init__()
        mid = mid or out_channels
        self.body = nn.Sequential(
            ConvNormReLU(in_channels, mid, norm),
            ConvNormReLU(mid, out_channels, norm),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class ResidualBlock(nn.Module):
    """Three conv3x3-norm-ReLU layers plus a 1x1 conv shortcut, summed.

    The main branch is evaluated exactly once per call (the official code evaluated it twice and
    discarded one result, doubling compute and BatchNorm statistic updates).
    ``(B, in, H, W) -> (B, out, H, W)``; ``mid`` channels inside the main branch.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm: str,
        mid: int | None = None,
        shortcut: str = "conv1x1",
    ) -> None:
        super().__init__()
        mid = mid or out_channels
        self.main = nn.Sequential(
            ConvNormReLU(in_channels, mid, norm),
            ConvNormReLU(mid, mid, norm),
            ConvNormReLU(mid, out_channels, norm),
        )
        if shortcut == "conv1x1":
            self.shortcut: nn.Module = nn.Conv2d(in_channels, out_channels, 1)
        elif shortcut == "conv3x3":
            self.shortcut = ConvNormReLU(in_channels, out_channels, norm)
        else:
            raise ValueError(f"unknown shortcut {shortcut!r}; known: {_SHORTCUTS}")

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x) + self.shortcut(x)


def make_block(
    kind: str,
    in_channels: int,
    out_channels: int,
    norm: str,
    mid: int | None = None,
    shortcut: str = "conv1x1",
) -> nn.Module:
    """Block by name (``plain`` or ``residual``)."""
    if kind == "plain":
        return PlainBlock(in_channels, out_channels, norm, mid)
    if kind == "residual":
        return ResidualBlock(in_channels, out_channels, norm, mid, shortcut)
    raise ValueError(f"unknown block {kind!r}; known: {_BLOCKS}")


class UncertaintyUNet(nn.Module):
    """U-Net whose head is split in three: image b-hat, GGD scale alpha and GGD shape beta.

    ``forward(x: (B, in_channels, H, W)) -> GeneratorOutput`` with each field ``(B, 1, H, W)``.
    alpha = softplus(.) + alpha_floor and beta = softplus(.) + beta_floor: smooth, strictly
    positive even for extreme pre-activations, computed out of place (autograd-safe).
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        widths = config.widths
        self.encoder = nn.ModuleList()
        previous = config.in_channels
        block = config.block
        shortcut = config.residual_shortcut
        for width in widths:
            self.encoder.append(make_block(block, previous, width, config.norm, None, shortcut))
            previous = width
        # Decoder level l: up-sampled features + skip -> width of level l-1, with half the
        # concatenated channels inside the block (the bilinear U-Net layout of the official code).
        self.decoder = nn.ModuleList()
        for level in reversed(range(config.depth)):
            out = widths[level - 1] if level > 0 else widths[0]
            concat = previous + widths[level]
            mid = max(concat // 2, out)
            self.decoder.append(make_block(block, concat, out, config.norm, mid, shortcut))
            previous = out
        self.image_head = nn.Conv2d(previous, 1, 1)
        self.alpha_head = nn.Conv2d(previous, 1, 1)
        self.beta_head = nn.Conv2d(previous, 1, 1)

    def check_input(self, x: Tensor) -> None:
        """Raise a ValueError when ``x`` is not ``(B, in_channels, H, W)`` with H, W % 2**depth."""
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"expected input (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}"
            )
        factor = 2**self.config.depth
        height, width = x.shape[-2:]
        if height % factor or width % factor:
            raise ValueError(
                f"H and W must be divisible by 2**depth = {factor} (depth {self.config.depth}); "
                f"got H={height}, W={width}"
            )

    def forward(self, x: Tensor) -> GeneratorOutput:
        self.check_input(x)
        skips: list[Tensor] = []
        h = x
        for level, block in enumerate(self.encoder):
            if level > 0:
                h = F.max_pool2d(h, 2)
            h = block(h)
            skips.append(h)
        skips.pop()  # the bottleneck itself is not a skip
        for block in self.decoder:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, skip], dim=1))
        image = self.image_head(h)
        r = self.config.residual_from
        if r is not None:
            image = image + x[:, r : r + 1]
        alpha = F.softplus(self.alpha_head(h)) + self.config.alpha_floor
        beta = F.softplus(self.beta_head(h)) + self.config.beta_floor
        return GeneratorOutput(image, alpha, beta)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())
