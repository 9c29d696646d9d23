"""Baseline generators and discriminators: pix2pix, PAN and MedGAN (written from their descriptions).

Data convention: every network here with a Tanh output works on ``[-1, 1]``. The training
methods map ``x -> 2x - 1`` on the way in and ``(y + 1) / 2`` on the way out;
:class:`UnitRangeGenerator` packages that mapping so a saved generator turns ``[0, 1]`` inputs
into ``[0, 1]`` predictions ``(B, 1, H, W)``.

Facts behind the layouts: the pix2pix paper and its PyTorch port (junyanz/pytorch-CycleGAN-and-
pix2pix), the PAN paper and its public re-implementation (flowerofdream/pytorch-Perceptual-
Adversarial-Networks), and the MedGAN paper with its public re-implementations; where these
disagree or a value could not be confirmed, the docstring of the network says so.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

#: ImageNet statistics used to normalise the (grey, repeated to RGB) input of VGG-19.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: torchvision ``vgg19().features`` layout: conv widths, ``"M"`` = 2x2 max-pool.
VGG19_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
    512, 512, 512, 512, "M",
)
#: ``features`` indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (the first layer of each
#: block, post-ReLU, as in the MG-117 re-implementation).
VGG19_FEATURE_LAYERS = (1, 6, 11, 20, 29)


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


def _check_image(x: Tensor, channels: int, divisor: int, who: str) -> None:
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


# ------------------------------------------------------------------------------------------------
# pix2pix U-Net ("unet_256" layout) and MedGAN's CasNet
# ------------------------------------------------------------------------------------------------
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
        _check_image(x, self.in_channels, 2**self.num_downs, "Pix2PixUNet")
        skips: list[Tensor] = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.up[-1](skips[-1])
        for i in range(self.num_downs - 2, -1, -1):
            h = self.up[i](torch.cat([skips[i], h], dim=1))
        return h


class CasNet(nn.Module):
    """MedGAN's CasNet: a chain of ``n_blocks`` pix2pix-style U-blocks, ``[-1, 1]`` in and out.

    A **simple chain** (the plain reading of the paper, [U]): block 0 maps the input
    ``(B, in_channels, H, W)`` to ``(B, 1, H, W)``; block k+1 takes block k's Tanh output
    ``(B, 1, H, W)`` only (the raw input is not fed again). Each block is a :class:`Pix2PixUNet`
    with ``ngf``, ``num_downs``; dropout in the u-blocks is not documented ([U]), default off.
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


# ------------------------------------------------------------------------------------------------
# PAN
# ------------------------------------------------------------------------------------------------
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
        _check_image(x, self.in_channels, 2**self.n_down, "PANGenerator")
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
    features (post-activation) of layers 1, 4, 6, 8 used by the perceptual loss [V PAN-fd].
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


# ------------------------------------------------------------------------------------------------
# [0, 1] wrapper
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# Feature extractors for MedGAN's style and content losses
# ------------------------------------------------------------------------------------------------
class SmallVGG(nn.Module):
    """A small VGG-style encoder: ``n_blocks`` blocks of ``(conv3x3-ReLU) x 2``, 2x2 max-pool
    between blocks; block ``b`` has width ``width * 2**b``.

    ``forward(x)`` returns the output of every block (before its pool), shallow to deep:
    ``[(B, width * 2**b, H / 2**b, W / 2**b) for b in range(n_blocks)]``.
    """

    def __init__(self, in_channels: int = 1, width: int = 16, n_blocks: int = 4) -> None:
        super().__init__()
        if n_blocks < 1 or width < 1:
            raise ValueError(f"SmallVGG needs n_blocks, width >= 1, got {n_blocks}, {width}")
        self.in_channels = in_channels
        self.n_blocks = n_blocks
        self.widths = [width * 2**b for b in range(n_blocks)]
        blocks = []
        previous = in_channels
        for c in self.widths:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(previous, c, 3, padding=1), nn.ReLU(),
                    nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
                )
            )
            previous = c
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: Tensor) -> list[Tensor]:
        """``(B, C, H, W)`` -> list of ``n_blocks`` feature maps."""
        _check_image(x, self.in_channels, 2 ** (self.n_blocks - 1), "SmallVGG")
        feats = []
        h = x
        for b, block in enumerate(self.blocks):
            if b:
                h = self.pool(h)
            h = block(h)
            feats.append(h)
        return feats


class SmallVGGDecoder(nn.Module):
    """Decoder of the extractor's pretraining autoencoder: from the deepest :class:`SmallVGG`
    feature ``(B, width * 2**(n-1), H / 2**(n-1), W / 2**(n-1))`` back to ``(B, 1, H, W)`` with
    ``n - 1`` times (nearest 2x upsampling, conv3x3-ReLU) and a final linear conv3x3."""

    def __init__(self, width: int = 16, n_blocks: int = 4, out_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for b in range(n_blocks - 1, 0, -1):
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(width * 2**b, width * 2 ** (b - 1), 3, padding=1),
                nn.ReLU(),
            ]
        layers.append(nn.Conv2d(width, out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, deepest: Tensor) -> Tensor:
        return self.net(deepest)


class VGG19Features(nn.Module):
    """Hand-built torchvision-compatible VGG-19 ``features`` stack (state-dict keys
    ``features.N.weight/bias``), run up to relu5_1.

    ``forward(x)`` takes ``(B, 3, H, W)`` already ImageNet-normalised and returns the five
    feature maps relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (``features`` indices
    :data:`VGG19_FEATURE_LAYERS`), widths 64, 128, 256, 512, 512 at H/1, /2, /4, /8, /16.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3
        for item in VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(previous, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                previous = int(item)
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        """``(B, 3, H, W)`` -> five feature maps; H, W divisible by 16."""
        _check_image(x, 3, 16, "VGG19Features")
        feats = []
        h = x
        last = VGG19_FEATURE_LAYERS[-1]
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in VGG19_FEATURE_LAYERS:
                feats.append(h)
            if i == last:
                break
        return feats


class FeatureExtractor(nn.Module):
    """Frozen extractor for MedGAN's style and content losses: ``[0, 1]`` images -> feature list.

    Always in eval mode with ``requires_grad=False`` (``train()`` is a no-op); gradients still flow
    to its *input*. ``source`` says where the weights came from: ``"pretrained_autoencoder"``
    (a :class:`SmallVGG` pretrained inside the pipeline, see
    ``upgan.training.baselines.pretrain_feature_extractor``) or ``"vgg19:<path>"`` (a local
    VGG-19 weights file; grey input repeated to 3 channels and ImageNet-normalised).
    """

    def __init__(self, backbone: nn.Module, source: str, sha256: str | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.source = source
        self.sha256 = sha256
        self.rgb = isinstance(backbone, VGG19Features)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> FeatureExtractor:
        """Frozen: stays in eval mode whatever ``mode`` is."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        """``(B, 1, H, W)`` in [0, 1] -> list of ``(B, C_j, H_j, W_j)`` float32 feature maps."""
        x = x.float()
        if self.rgb:
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            x = (x - self.mean) / self.std
        return self.backbone(x)


def file_sha256(path: Path | str) -> str:
    """sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_vgg19_feature_extractor(path: Path | str) -> FeatureExtractor:
    """Load a local VGG-19 weights file (torchvision ``vgg19`` state dict, or its ``features``
    part, keys ``features.N.weight/bias``) with ``torch.load(weights_only=True)``.

    Classifier keys are ignored. Raises FileNotFoundError for a missing file and ValueError for a
    file that is not a state dict or lacks / mis-shapes any ``features`` convolution.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"VGG-19 weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure means a wrong file
        raise ValueError(f"{path} is not a torch weights file loadable with weights_only=True: {err}") from err
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors (got {type(state).__name__})")
    backbone = VGG19Features()
    expected = backbone.state_dict()
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    missing = sorted(set(expected) - set(features), key=lambda k: int(k.split(".")[1]))
    if missing:
        raise ValueError(
            f"{path} is not a torchvision VGG-19 state dict: missing {len(missing)} keys, e.g. "
            f"{missing[:4]}"
        )
    bad = [
        f"{k}: {tuple(features[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if features[k].shape != v.shape
    ]
    unexpected = sorted(set(features) - set(expected))
    if bad or unexpected:
        raise ValueError(
            f"{path} does not match VGG-19 features: shape mismatches {bad[:4]}, unexpected keys "
            f"{unexpected[:4]}"
        )
    backbone.load_state_dict({k: v.float() for k, v in features.items()})
    digest = file_sha256(path)
    logger.info("loaded VGG-19 features from %s (sha256 %s)", path, digest[:12])
    return FeatureExtractor(backbone, source=f"vgg19:{path}", sha256=digest)
