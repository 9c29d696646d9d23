"""MedGAN's CasNet generator: a chain of pix2pix U-blocks, written from the MedGAN paper."""

from __future__ import annotations

from torch import Tensor, nn

from upgan.models.pix2pix import Pix2PixUNet


class CasNet(nn.Module):
    """MedGAN's CasNet: a chain of ``n_blocks`` pix2pix-style U-blocks, ``[-1, 1]`` in and out.

    A **simple chain** (the plain reading of the paper, not confirmed elsewhere): block 0 maps
    the input ``(B, in_channels, H, W)`` to ``(B, 1, H, W)``; block k+1 takes block k's Tanh
    output ``(B, 1, H, W)`` only (the raw input is not fed again). Each block is a
    :class:`Pix2PixUNet` with ``ngf``, ``num_downs``; dropout in the u-blocks is not documented,
    default off.
    """

    def __init__(
        self,
        in_channels: int,
        n_blocks: int = 6,
        ngf: int = 64,
        num_downs: int = 8,
        dropout: float = 0.0,
        out_channels: int = 1,
    ) -> None:
        super().__init__()
        if n_blocks < 1:
            raise ValueError(f"CasNet needs n_blocks >= 1, got {n_blocks}")
        self.in_channels = in_channels
        self.num_downs = num_downs
        self.blocks = nn.ModuleList(
            Pix2PixUNet(
                in_channels if k == 0 else out_channels, out_channels, ngf, num_downs, dropout
            )
            for k in range(n_blocks)
        )

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W)`` in [-1, 1] -> ``(B, 1, H, W)`` in (-1, 1)."""
        h = x
        for block in self.blocks:
            h = block(h)
        return h
