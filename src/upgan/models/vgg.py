"""Frozen feature extractors for MedGAN's style and content losses: a small VGG pretrained in the
pipeline (with the decoder of its pretraining autoencoder) or a local torchvision VGG-19 file.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from torch import Tensor, nn

from upgan.models.generators import check_image

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
#: block, post-ReLU).
VGG19_FEATURE_LAYERS = (1, 6, 11, 20, 29)


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
        check_image(x, self.in_channels, 2 ** (self.n_blocks - 1), "SmallVGG")
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
        check_image(x, 3, 16, "VGG19Features")
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
    ``upgan.methods.medgan.pretrain_feature_extractor``) or ``"vgg19:<path>"`` (a local
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
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"{path} is not a torch weights file loadable with weights_only=True (refused, "
                         f"nothing in it was run: {reason}); give a plain state dict of tensors") from err
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
