"""pix2pix's U-Net generator ("unet_256" layout) and its weight initialisation.

Facts behind the layout: the pix2pix paper and its PyTorch port
(junyanz/pytorch-CycleGAN-and-pix2pix); where the two disagree the docstring says which is
followed. Tanh output on ``[-1, 1]`` (see :mod:`upgan.models.generators`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from upgan.models.generators import check_image


def init_pix2pix_weights(module: nn.Module) -> None:
    """pix2pix initialisation in place: conv/linear weights N(0, 0.02), biases 0, BN gamma
    N(1, 0.02) and beta 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Pix2PixUNet(nn.Module):
    """pix2pix U-Net: ``(B, in_channels, H, W)`` in ``[-1, 1]`` -> ``(B, out_channels, H, W)`` Tanh.

    Level ``i = 0..num_downs-1`` has width ``ngf * min(2**i, 8)`` (``num_downs=8``: 64-128-256-
    512-512-512-512-512, a 1x1 bottleneck at 256x256).

    - Encoder level i: ``[LeakyReLU(0.2)] -> Conv 4x4/2 (pad 1) -> [BN]``; no activation before the
      outermost conv, no BN on the outermost and on the innermost conv.
    - Decoder level i: ``ReLU -> ConvTranspose 4x4/2 (pad 1) -> [BN] -> [Dropout]``, its input is
      the level below concatenated with the mirrored encoder feature (the innermost takes the
      bottleneck alone); the outermost decoder is ``ReLU -> ConvTranspose -> Tanh`` (no BN).
    - Conv biases are off wherever a BatchNorm follows and also on the outermost encoder conv
      (the PyTorch port's ``use_bias = False`` for BatchNorm); the output deconv keeps its bias.
    - **Dropout placement: the PyTorch port's** -- the ``min(3, num_downs - 2)`` decoder levels
      just above the innermost one (for ``num_downs=8`` decoder levels d2-d4 of d1..d8); never
      on the innermost or the outermost level. (The Lua original puts it on d1-d3 instead.)
    - Weights initialised as pix2pix: N(0, 0.02), BN gamma N(1, 0.02).

    H and W must be divisible by ``2**num_downs`` (so the bottleneck is at least 1x1);
    otherwise ``forward`` raises a ValueError.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 1,
        ngf: int = 64,
        num_downs: int = 8,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1 or ngf < 1:
            raise ValueError(
                f"Pix2PixUNet needs in_channels, out_channels, ngf >= 1, got "
                f"{in_channels}, {out_channels}, {ngf}"
            )
        if num_downs < 2:
            raise ValueError(f"Pix2PixUNet needs num_downs >= 2, got {num_downs}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Pix2PixUNet dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_downs = num_downs
        widths = [ngf * min(2**i, 8) for i in range(num_downs)]
        inner = num_downs - 1
        n_dropout = min(3, num_downs - 2) if dropout > 0 else 0
        #: Encoder levels of the decoder blocks that carry dropout (0 = outermost).
        self.dropout_levels = tuple(range(inner - n_dropout, inner))
        down: list[nn.Module] = []
        up: list[nn.Module] = []
        for i in range(num_downs):
            c_in = in_channels if i == 0 else widths[i - 1]
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(c_in, widths[i], 4, stride=2, padding=1, bias=False))
            if 0 < i < inner:
                layers.append(nn.BatchNorm2d(widths[i]))
            down.append(nn.Sequential(*layers))
            up_in = widths[i] if i == inner else 2 * widths[i]
            up_out = out_channels if i == 0 else widths[i - 1]
            ulayers: list[nn.Module] = [
                nn.ReLU(),
                nn.ConvTranspose2d(up_in, up_out, 4, stride=2, padding=1, bias=i == 0),
            ]
            if i == 0:
                ulayers.append(nn.Tanh())
            else:
                ulayers.append(nn.BatchNorm2d(up_out))
                if i in self.dropout_levels:
                    ulayers.append(nn.Dropout(dropout))
            up.append(nn.Sequential(*ulayers))
        self.down = nn.ModuleList(down)
        self.up = nn.ModuleList(up)
        init_pix2pix_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W)`` in [-1, 1] -> ``(B, C_out, H, W)`` in (-1, 1)."""
        check_image(x, self.in_channels, 2**self.num_downs, "Pix2PixUNet")
        skips: list[Tensor] = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.up[-1](skips[-1])
        for i in range(self.num_downs - 2, -1, -1):
            h = self.up[i](torch.cat([skips[i], h], dim=1))
        return h
