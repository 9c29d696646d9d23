"""PatchGAN discriminator (the pix2pix ``NLayerDiscriminator`` layout), written from its description.

Layers: conv4x4/2 -> LeakyReLU(0.2); then ``n_layers - 1`` times conv4x4/2 -> norm -> LeakyReLU;
then conv4x4/1 -> norm -> LeakyReLU; then conv4x4/1 to one channel of raw scores (no sigmoid,
so LSGAN or BCE-with-logits can both be used). Width doubles per layer, capped at 8x base.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from torch import Tensor, nn

_NORMS = ("batch", "instance", "none")


@dataclass(frozen=True)
class DiscriminatorConfig:
    """PatchGAN settings (JSON-able).

    Attributes:
        base_width: channels of the first conv.
        n_layers: number of stride-2 convs (3 gives the 70x70 receptive field of pix2pix).
        norm: ``batch``, ``instance`` or ``none``.
        conditional: when True D sees ``concat(a, b)`` (pix2pix style); when False it sees ``b``
            only, as written in the UP-GAN paper's losses ``L2(D(b_hat), 1)``.
    """

    base_width: int = 64
    n_layers: int = 3
    norm: str = "batch"
    conditional: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.base_width, int) or self.base_width < 1:
            raise ValueError(f"DiscriminatorConfig.base_width must be >= 1, got {self.base_width}")
        if not isinstance(self.n_layers, int) or self.n_layers < 1:
            raise ValueError(f"DiscriminatorConfig.n_layers must be >= 1, got {self.n_layers}")
        if self.norm not in _NORMS:
            raise ValueError(f"DiscriminatorConfig.norm must be one of {_NORMS}, got {self.norm!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; known: {_NORMS}")


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``(B, in_channels, H, W) -> (B, 1, h, w)`` raw patch scores.

    ``forward_features`` also returns the hidden activations (after each LeakyReLU), which the
    perceptual losses of PAN and MedGAN use.
    """

    def __init__(
        self, in_channels: int, base_width: int = 64, n_layers: int = 3, norm: str = "batch"
    ) -> None:
        super().__init__()
        if in_channels < 1 or base_width < 1 or n_layers < 1:
            raise ValueError(
                "PatchDiscriminator needs in_channels, base_width, n_layers >= 1, got "
                f"{in_channels}, {base_width}, {n_layers}"
            )
        if norm not in _NORMS:
            raise ValueError(f"unknown norm {norm!r}; known: {_NORMS}")
        self.in_channels = in_channels
        self.n_layers = n_layers
        bias = norm != "batch"
        stages: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(in_channels, base_width, 4, stride=2, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
            )
        ]
        previous = base_width
        for n in range(1, n_layers + 1):
            width = base_width * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            stages.append(
                nn.Sequential(
                    nn.Conv2d(previous, width, 4, stride=stride, padding=1, bias=bias),
                    _norm(norm, width),
                    nn.LeakyReLU(0.2, inplace=True),
                )
            )
            previous = width
        self.stages = nn.ModuleList(stages)
        self.head = nn.Conv2d(previous, 1, 4, stride=1, padding=1)

    def output_size(self, size: int) -> int:
        """Side of the score map for an input side ``size``."""
        for _ in range(self.n_layers):
            size = (size + 2 - 4) // 2 + 1
        return size - 2  # two stride-1 4x4 convs with padding 1

    def _check(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected input (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if min(self.output_size(int(s)) for s in x.shape[-2:]) < 1:
            raise ValueError(
                f"input {tuple(x.shape[-2:])} too small for a PatchGAN with n_layers="
                f"{self.n_layers} (need about {3 * 2**self.n_layers} pixels a side)"
            )

    def forward_features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Scores ``(B, 1, h, w)`` and the list of hidden feature maps, shallow to deep."""
        self._check(x)
        features: list[Tensor] = []
        h = x
        for stage in self.stages:
            h = stage(h)
            features.append(h)
        return self.head(h), features

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)[0]
