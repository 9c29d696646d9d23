"""PAN's transformer (generator) and its global discriminator, whose hidden layers carry the
perceptual loss.

Facts behind the layouts: the PAN paper and its public re-implementation
(flowerofdream/pytorch-Perceptual-Adversarial-Networks, "PAN-fd" below).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from upgan.models.generators import check_image, max_downsamplings
from upgan.models.pix2pix import init_pix2pix_weights


class PANGenerator(nn.Module):
    """PAN transformer T (the PAN-fd ``unet_nodrop`` layout scaled by ``width``), [-1, 1] in/out.

    Encoder: ``n_down`` convs 3x3 stride 2 (pad 1), widths ``width * min(2**i, 8)``
    (PAN-fd at 256x256: 6 convs, 64-128-256-512-512-512 down to 4x4); BN (not on the first) and
    LeakyReLU(0.2). Decoder: ``n_down`` transposed convs 4x4/2 with widths
    ``width * min(2**max(n_down-2-k, 0), 8)`` for k = 1..n_down-1 (PAN-fd: 512, 256, 128, 64, 64),
    each ``ConvT -> BN -> ReLU``; decoder k = 1..n_down-2 is concatenated with the mirrored encoder
    output ``n_down - k``, decoder n_down-1 has no skip, and the last transposed conv gives
    ``out_channels`` followed by Tanh. No dropout. H, W must be divisible by ``2**n_down``.
    """

    def __init__(
        self, in_channels: int, out_channels: int = 1, width: int = 64, n_down: int = 6
    ) -> None:
        super().__init__()
        if n_down < 2:
            raise ValueError(f"PANGenerator needs n_down >= 2, got {n_down}")
        if in_channels < 1 or width < 1:
            raise ValueError(f"PANGenerator needs in_channels, width >= 1, got {in_channels}, {width}")
        self.in_channels = in_channels
        self.n_down = n_down
        enc_w = [width * min(2**i, 8) for i in range(n_down)]
        encoder: list[nn.Module] = []
        for i in range(n_down):
            layers: list[nn.Module] = [
                nn.Conv2d(in_channels if i == 0 else enc_w[i - 1], enc_w[i], 3, 2, 1, bias=i == 0)
            ]
            if i > 0:
                layers.append(nn.BatchNorm2d(enc_w[i]))
            layers.append(nn.LeakyReLU(0.2))
            encoder.append(nn.Sequential(*layers))
        self.encoder = nn.ModuleList(encoder)
        decoder: list[nn.Module] = []
        c_in = enc_w[-1]
        for k in range(1, n_down):
            c_out = width * min(2 ** max(n_down - 2 - k, 0), 8)
            decoder.append(
                nn.Sequential(
                    nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(),
                )
            )
            # skip from encoder output n_down - k (1-indexed), i.e. index n_down - k - 1
            c_in = c_out + (enc_w[n_down - k - 1] if k <= n_down - 2 else 0)
        self.decoder = nn.ModuleList(decoder)
        self.output = nn.Sequential(nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh())
        init_pix2pix_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W)`` in [-1, 1] -> ``(B, 1, H, W)`` in (-1, 1)."""
        check_image(x, self.in_channels, 2**self.n_down, "PANGenerator")
        feats: list[Tensor] = []
        h = x
        for block in self.encoder:
            h = block(h)
            feats.append(h)
        for k, block in enumerate(self.decoder, start=1):
            h = block(h)
            if k <= self.n_down - 2:
                h = torch.cat([h, feats[self.n_down - k - 1]], dim=1)
        return self.output(h)


class PANDiscriminator(nn.Module):
    """PAN's global (image-level, unconditional) discriminator with 3x3 convs.

    PAN-fd layout at 256x256 (``width=64``), layers L1..L9:
    ``64 s1 (no BN) -> 128 s2 -> 128 s1 -> 256 s2 -> 256 s1 -> 512 s2 -> 512 s1 -> 512 s2
    -> 8 s2 (no BN)``, then ``FC(8 * h * w -> 1)``; BN + LeakyReLU(0.2) elsewhere. The five
    stride-2 slots are L2, L4, L6, L8, L9; for smaller inputs only the first ``n_downsample`` of
    them keep stride 2 (the others become stride 1), ``n_downsample`` defaulting to the largest
    value <= 5 that leaves a final map of at least 8x8 (256 -> 5, 64 -> 3, 32 -> 2). The FC input
    size is computed from ``image_size``.

    ``forward(y)`` returns ``(score (B, 1) raw logit, [H_1, H_4, H_6, H_8])``: the hidden
    features (post-activation) of layers 1, 4, 6, 8 used by the perceptual loss (the layers of
    PAN-fd).
    """

    FEATURE_LAYERS = (0, 3, 5, 7)  # 0-based indices of L1, L4, L6, L8

    def __init__(
        self,
        image_size: Sequence[int],
        in_channels: int = 1,
        width: int = 64,
        n_downsample: int | None = None,
    ) -> None:
        super().__init__()
        h, w = (int(s) for s in image_size)
        if n_downsample is None:
            n_downsample = min(5, max_downsamplings(min(h, w), 8))
        if not 0 <= n_downsample <= 5:
            raise ValueError(f"PANDiscriminator n_downsample must be in 0..5, got {n_downsample}")
        if h % 2**n_downsample or w % 2**n_downsample:
            raise ValueError(
                f"PANDiscriminator: image {h}x{w} not divisible by 2**{n_downsample}"
            )
        self.image_size = (h, w)
        self.in_channels = in_channels
        self.n_downsample = n_downsample
        widths = [width, 2 * width, 2 * width, 4 * width, 4 * width, 8 * width, 8 * width,
                  8 * width, 8]
        stride_slots = (1, 3, 5, 7, 8)
        strides = [1] * 9
        for slot in stride_slots[:n_downsample]:
            strides[slot] = 2
        layers: list[nn.Module] = []
        previous = in_channels
        for i, (c, s) in enumerate(zip(widths, strides, strict=True)):
            norm = 0 < i < 8
            block: list[nn.Module] = [nn.Conv2d(previous, c, 3, s, 1, bias=not norm)]
            if norm:
                block.append(nn.BatchNorm2d(c))
            block.append(nn.LeakyReLU(0.2))
            layers.append(nn.Sequential(*block))
            previous = c
        self.layers = nn.ModuleList(layers)
        scale = 2**n_downsample
        self.fc = nn.Linear(8 * (h // scale) * (w // scale), 1)
        init_pix2pix_weights(self)

    def forward(self, y: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``(B, C, H, W)`` in [-1, 1] -> ``(logit (B, 1), 4 hidden feature maps)``."""
        if y.ndim != 4 or y.shape[1] != self.in_channels or tuple(y.shape[-2:]) != self.image_size:
            raise ValueError(
                f"PANDiscriminator expects (B, {self.in_channels}, {self.image_size[0]}, "
                f"{self.image_size[1]}), got {tuple(y.shape)}"
            )
        feats: list[Tensor] = []
        h = y
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i in self.FEATURE_LAYERS:
                feats.append(h)
        return self.fc(h.flatten(1)), feats
