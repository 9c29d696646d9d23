"""What every baseline generator shares: the ``[0, 1]`` wrapper of Tanh networks, the input
check and the number of 2x down-samplings an image size allows.

Data convention: every baseline network with a Tanh output works on ``[-1, 1]``. The training
methods map ``x -> 2x - 1`` on the way in and ``(y + 1) / 2`` on the way out;
:class:`UnitRangeGenerator` packages that mapping so a saved generator turns ``[0, 1]`` inputs
into ``[0, 1]`` predictions ``(B, 1, H, W)``.
"""

from __future__ import annotations

from torch import Tensor, nn


def check_image(x: Tensor, channels: int, divisor: int, who: str) -> None:
    """ValueError unless ``x`` is ``(B, channels, H, W)`` with H and W divisible by ``divisor``."""
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{who} expects (B, {channels}, H, W), got {tuple(x.shape)}")
    h, w = int(x.shape[-2]), int(x.shape[-1])
    if h % divisor or w % divisor:
        raise ValueError(
            f"{who}: H and W must be divisible by {divisor} (its number of 2x down-samplings), "
            f"got {h}x{w}"
        )


def max_downsamplings(size: int, min_size: int = 1) -> int:
    """Largest ``n`` with ``size`` divisible by ``2**n`` and ``size / 2**n >= min_size``."""
    n = 0
    while size % 2 ** (n + 1) == 0 and size // 2 ** (n + 1) >= min_size:
        n += 1
    return n


class UnitRangeGenerator(nn.Module):
    """Wraps a Tanh network so it maps ``[0, 1]`` inputs to ``[0, 1]`` predictions.

    ``forward(x)`` = ``(net(2x - 1) + 1) / 2``, ``(B, C, H, W) -> (B, 1, H, W)``;
    ``forward_signed`` runs the raw network on ``[-1, 1]`` tensors. With ``residual`` (global
    residual learning, for tasks whose input is on the target's scale) the network's output is a
    correction added to the first input channel: ``net(x) + x[:, :1]``. The state-dict keys are
    ``net.*``. Evaluation protocol: use ``eval()`` (dropout off, BN running statistics) for every
    baseline; pix2pix's paper kept dropout on at test time, which we do not (deterministic
    outputs, one protocol for all methods).
    """

    def __init__(self, net: nn.Module, residual: bool = False) -> None:
        super().__init__()
        self.net = net
        self.residual = bool(residual)

    def forward_signed(self, x_signed: Tensor) -> Tensor:
        """``[-1, 1] -> [-1, 1]`` (``[-2, 2]`` with ``residual``; scoring clips)."""
        out = self.net(x_signed)
        return out + x_signed[:, :1] if self.residual else out

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W)`` in [0, 1] -> ``(B, 1, H, W)`` on the [0, 1] scale."""
        return (self.forward_signed(2.0 * x - 1.0) + 1.0) * 0.5
