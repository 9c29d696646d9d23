"""Baselines pix2pix, PAN and MedGAN as plug-ins of the one training engine (:func:`train_stage`).

Each method maps the ``[0, 1]`` data to ``[-1, 1]`` for its Tanh generator and its discriminator;
``predict`` maps back, so validation metrics and saved generators work on ``[0, 1]``.
Entry points for the pipeline: :data:`BASELINES`, :func:`train_baseline`,
:func:`build_baseline_generator`, :func:`resolve_baseline_params`.

Evaluation protocol (every baseline): generators are evaluated in ``eval()`` mode -- BatchNorm
with running statistics, dropout off. The pix2pix paper kept dropout on at test time; we do not,
so predictions are deterministic and all methods share one protocol.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from upgan.losses_baselines import (
    PAN_LAYER_WEIGHTS,
    PAN_MARGIN,
    content_loss,
    gan_bce_discriminator_loss,
    gan_bce_generator_loss,
    medgan_perceptual_loss,
    pan_discriminator_margin,
    pan_perceptual_distance,
    style_loss,
)
from upgan.models.baselines import (
    CasNet,
    FeatureExtractor,
    PANDiscriminator,
    PANGenerator,
    Pix2PixUNet,
    SmallVGG,
    SmallVGGDecoder,
    UnitRangeGenerator,
    init_pix2pix_weights,
    load_vgg19_feature_extractor,
    max_downsamplings,
)
from upgan.models.patchgan import PatchDiscriminator
from upgan.training.engine import (
    SlicePairs,
    StageConfig,
    TrainingHistory,
    TrainingMethod,
    cpu_state,
    train_stage,
)

logger = logging.getLogger(__name__)

BASELINES = ("pix2pix", "pan", "medgan")
AUTOENCODER_SOURCE = "pretrained_autoencoder"

#: Defaults per method (the papers' sizes). ``None`` for ``num_downs``/``n_down``/
#: ``d_downsample`` means "sized to the input" (resolved and recorded by
#: :func:`resolve_baseline_params`).
BASELINE_DEFAULTS: dict[str, dict[str, Any]] = {
    "pix2pix": {
        "ngf": 64,
        "input_residual": False,  # set per task by the pipeline (training.residual_learning)
        "num_downs": None,  # unet_256: 8 at 256x256 (1x1 bottleneck)
        "dropout": 0.5,
        "ndf": 64,
        "n_layers_d": 3,  # 70x70 PatchGAN
        "lambda_l1": 100.0,
        "lambda_adversarial": 1.0,
        "generator_steps_per_iteration": 1,
    },
    "pan": {
        "width": 64,
        "input_residual": False,  # set per task by the pipeline (training.residual_learning)
        "n_down": None,  # PAN-fd: 6 at 256x256 (4x4 bottleneck)
        "d_width": 64,
        "d_downsample": None,  # PAN-fd: 5 at 256x256 (8x8 final map)
        "layer_weights": list(PAN_LAYER_WEIGHTS),
        "margin": PAN_MARGIN,
        # L1 pixel term of the public PAN re-implementation (flowerofdream/pytorch-Perceptual-
        # Adversarial-Networks, ``lam_pix = 25``, on the [-1, 1] scale). The paper's objective has
        # none, but without it PAN's discriminator saturates and the transformer does not learn.
        "lambda_pixel": 25.0,
        "lambda_adversarial": 1.0,
        "generator_steps_per_iteration": 1,
    },
    "medgan": {
        "n_blocks": 6,
        "input_residual": False,  # set per task by the pipeline (training.residual_learning)
        "ngf": 64,
        "num_downs": None,
        "dropout": 0.0,
        "ndf": 64,
        "n_layers_d": 3,
        "lambda_adversarial": 1.0,
        "lambda_perceptual": 20.0,
        "lambda_style": 1e-4,
        "lambda_content": 1e-4,
        "perceptual_layer_weights": None,  # 1 per D layer
        "style_layer_weights": None,  # 1 per extractor layer
        "content_layer_weights": None,
        "generator_steps_per_iteration": 3,
        "feature_extractor": {},
    },
}

#: Defaults of MedGAN's ``feature_extractor`` block. ``source`` is ``pretrained_autoencoder`` or
#: the path of a local torchvision VGG-19 state dict.
FEATURE_EXTRACTOR_DEFAULTS: dict[str, Any] = {
    "source": AUTOENCODER_SOURCE,
    "width": 16,
    "n_blocks": 4,
    "steps": 200,
    "batch_size": 8,
    "lr": 1e-3,
}


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

def _state_digest(module: nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _signed(x: Tensor) -> Tensor:
    """``[0, 1] -> [-1, 1]``."""
    return 2.0 * x - 1.0


def _check_name(name: str) -> None:
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")


def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"baseline parameter {key!r} must be an int >= {minimum}, got {value!r}")
    return value


def _float(value: Any, key: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ValueError(f"baseline parameter {key!r} must be a number >= {minimum}, got {value!r}")
    return float(value)


def _weights_list(value: Any, key: str) -> list[float] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"baseline parameter {key!r} must be a list of numbers, got {value!r}")
    return [_float(v, key) for v in value]


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown {where} parameter(s) {unknown}; known: {', '.join(sorted(defaults))}"
        )
    merged = copy.deepcopy(dict(defaults))
    merged.update(copy.deepcopy(dict(given)))
    return merged


def _auto_downs(value: Any, key: str, size: int, min_size: int, cap: int | None = None) -> int:
    if value is None:
        n = max_downsamplings(size, min_size)
        return n if cap is None else min(n, cap)
    return _int(value, key, 1)


def resolve_baseline_params(
    name: str, params: Mapping[str, Any] | None, image_size: Sequence[int]
) -> dict[str, Any]:
    """Defaults filled in, types checked and input-sized values resolved (JSON-able).

    Raises ValueError for an unknown method (listing the known ones), an unknown key (naming it)
    or a bad value. ``image_size`` is ``(H, W)`` of the training slices.
    """
    _check_name(name)
    p = _merge(BASELINE_DEFAULTS[name], params or {}, name)
    size = min(int(s) for s in image_size)
    p["generator_steps_per_iteration"] = _int(
        p["generator_steps_per_iteration"], "generator_steps_per_iteration", 1
    )
    if not isinstance(p["input_residual"], bool):
        raise ValueError(f"baseline parameter 'input_residual' must be true or false, got {p['input_residual']!r}")
    if name in ("pix2pix", "medgan"):
        p["ngf"] = _int(p["ngf"], "ngf", 1)
        p["ndf"] = _int(p["ndf"], "ndf", 1)
        p["n_layers_d"] = _int(p["n_layers_d"], "n_layers_d", 1)
        p["num_downs"] = _auto_downs(p["num_downs"], "num_downs", size, 1)
        p["dropout"] = _float(p["dropout"], "dropout")
        if p["dropout"] >= 1:
            raise ValueError(f"baseline parameter 'dropout' must be < 1, got {p['dropout']}")
        p["lambda_adversarial"] = _float(p["lambda_adversarial"], "lambda_adversarial")
    if name == "pix2pix":
        p["lambda_l1"] = _float(p["lambda_l1"], "lambda_l1")
    elif name == "pan":
        p["width"] = _int(p["width"], "width", 1)
        p["d_width"] = _int(p["d_width"], "d_width", 1)
        p["n_down"] = _auto_downs(p["n_down"], "n_down", size, 4, cap=6)
        p["d_downsample"] = _auto_downs(p["d_downsample"], "d_downsample", size, 8, cap=5)
        weights = _weights_list(p["layer_weights"], "layer_weights")
        if weights is None or len(weights) != 4:
            raise ValueError(f"PAN 'layer_weights' must be 4 numbers, got {p['layer_weights']!r}")
        p["layer_weights"] = weights
        p["margin"] = _float(p["margin"], "margin")
        p["lambda_pixel"] = _float(p["lambda_pixel"], "lambda_pixel")
        p["lambda_adversarial"] = _float(p["lambda_adversarial"], "lambda_adversarial")
    elif name == "medgan":
        p["n_blocks"] = _int(p["n_blocks"], "n_blocks", 1)
        for key in ("lambda_perceptual", "lambda_style", "lambda_content"):
            p[key] = _float(p[key], key)
        for key in ("perceptual_layer_weights", "style_layer_weights", "content_layer_weights"):
            p[key] = _weights_list(p[key], key)
        if p["perceptual_layer_weights"] is not None and len(p["perceptual_layer_weights"]) != (
            p["n_layers_d"] + 1
        ):
            raise ValueError(
                f"'perceptual_layer_weights' needs n_layers_d + 1 = {p['n_layers_d'] + 1} numbers"
            )
        fe = _merge(FEATURE_EXTRACTOR_DEFAULTS, p["feature_extractor"] or {}, "feature_extractor")
        if not isinstance(fe["source"], str) or not fe["source"]:
            raise ValueError(f"feature_extractor 'source' must be a string, got {fe['source']!r}")
        for key in ("width", "n_blocks", "steps", "batch_size"):
            fe[key] = _int(fe[key], f"feature_extractor.{key}", 1)
        fe["lr"] = _float(fe["lr"], "feature_extractor.lr")
        if fe["lr"] <= 0:
            raise ValueError(f"feature_extractor 'lr' must be > 0, got {fe['lr']}")
        p["feature_extractor"] = fe
    return p


def _feature_extractor_layers(fe: Mapping[str, Any]) -> int:
    return int(fe["n_blocks"]) if fe["source"] == AUTOENCODER_SOURCE else 5


# ------------------------------------------------------------------------------------------------
# network builders
# ------------------------------------------------------------------------------------------------
def _build_generator_net(name: str, p: Mapping[str, Any], in_channels: int) -> nn.Module:
    if name == "pix2pix":
        return Pix2PixUNet(in_channels, 1, p["ngf"], p["num_downs"], p["dropout"])
    if name == "pan":
        return PANGenerator(in_channels, 1, p["width"], p["n_down"])
    return CasNet(in_channels, p["n_blocks"], p["ngf"], p["num_downs"], p["dropout"])


def _build_discriminator(
    name: str, p: Mapping[str, Any], in_channels: int, image_size: Sequence[int]
) -> nn.Module:
    if name == "pan":
        return PANDiscriminator(image_size, 1, p["d_width"], p["d_downsample"])
    d = PatchDiscriminator(in_channels + 1, p["ndf"], p["n_layers_d"], norm="batch")
    init_pix2pix_weights(d)
    return d


def build_baseline_generator(name: str, config: Mapping[str, Any]) -> UnitRangeGenerator:
    """Rebuild a baseline generator from the config returned by :func:`train_baseline`.

    The module maps ``(B, C, H, W)`` in [0, 1] to ``(B, 1, H, W)`` in [0, 1] and is returned in
    eval mode (the evaluation protocol for every baseline: running BN statistics, dropout off).
    Load the weights with ``.load_state_dict(states["generator"])``.
    """
    _check_name(name)
    if config.get("method", name) != name:
        raise ValueError(f"config is for baseline {config.get('method')!r}, not {name!r}")
    for key in ("in_channels", "image_size", "params"):
        if key not in config:
            raise ValueError(f"baseline config lacks {key!r}; keys: {sorted(config)}")
    params = resolve_baseline_params(name, config["params"], config["image_size"])
    net = _build_generator_net(name, params, int(config["in_channels"]))
    return UnitRangeGenerator(net, residual=params["input_residual"]).eval()


# ------------------------------------------------------------------------------------------------
# methods
# ------------------------------------------------------------------------------------------------
class _BaselineMethod(TrainingMethod):
    """Common parts: a :class:`UnitRangeGenerator` and one discriminator."""

    name = "baseline"

    def __init__(self, generator: UnitRangeGenerator, discriminator: nn.Module) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.params: dict[str, Any] = {}

    def generator_modules(self) -> list[nn.Module]:
        return [self.generator]

    def discriminator_modules(self) -> list[nn.Module]:
        return [self.discriminator]

    def predict(self, inputs: Tensor) -> Tensor:
        """``(B, C, H, W)`` in [0, 1] -> ``(B, 1, H, W)`` in [0, 1]."""
        return self.generator(inputs)

    def describe(self) -> dict[str, Any]:
        return {
            "method": self.name,
            "params": self.params,
            "generator": repr(self.generator),
            "discriminator": repr(self.discriminator),
        }


class Pix2PixMethod(_BaselineMethod):
    """pix2pix: U-Net G, conditional PatchGAN D on ``concat(x, y)``, BCE cGAN.

    G loss: ``lambda_adv * BCE(D(x, G(x)), 1) + lambda_l1 * mean|y - G(x)|`` with the L1 measured
    on the [-1, 1] scale as in pix2pix (lambda_l1 = 100 [V]). D loss: ``0.5 * (BCE(D(x, y), 1) +
    BCE(D(x, G(x)), 0))``. Logged ``l1`` is on the [0, 1] scale (half the [-1, 1] value).
    """

    name = "pix2pix"

    def __init__(
        self,
        generator: UnitRangeGenerator,
        discriminator: PatchDiscriminator,
        lambda_l1: float = 100.0,
        lambda_adversarial: float = 1.0,
    ) -> None:
        super().__init__(generator, discriminator)
        self.lambda_l1 = lambda_l1
        self.lambda_adversarial = lambda_adversarial
        self.params = {"lambda_l1": lambda_l1, "lambda_adversarial": lambda_adversarial}

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        xs, ys = _signed(inputs), _signed(targets)
        fake = self.generator.forward_signed(xs)
        adv = gan_bce_generator_loss(self.discriminator(torch.cat([xs, fake], dim=1)))
        l1 = (fake.float() - ys).abs().mean()
        loss = self.lambda_adversarial * adv + self.lambda_l1 * l1
        return loss, {"adv_g": adv.detach(), "l1": 0.5 * l1.detach()}, fake.detach()

    def discriminator_loss(
        self, inputs: Tensor, targets: Tensor, fake: Any
    ) -> tuple[Tensor, dict[str, Tensor]]:
        xs, ys = _signed(inputs), _signed(targets)
        d_real = self.discriminator(torch.cat([xs, ys], dim=1))
        d_fake = self.discriminator(torch.cat([xs, fake], dim=1))
        loss = gan_bce_discriminator_loss(d_real, d_fake, scale=0.5)
        return loss, {"d_real": d_real.detach().float().mean(), "d_fake": d_fake.detach().float().mean()}


class PANMethod(_BaselineMethod):
    """PAN: transformer T, unconditional global D whose hidden layers give the perceptual loss.

    G loss: ``lambda_adv * BCE(D(T(x)), 1) + sum_i lambda_i mean|H_i(y) - H_i(T(x))|
    (+ lambda_pixel * mean|y - T(x)|, off by default)``. D loss: ``BCE(D(y), 1) + BCE(D(T(x)), 0)
    + mean_b [m - P(y, T(x))]^+`` with the perceptual distance P per image (not halved: PAN's
    formulation). lambda = (5, 1.5, 1.5, 1), m = 3 ([V] PAN-fd; paper values [U]).
    Real and fake go through D as one concatenated batch (shared BatchNorm statistics, one
    forward pass per update; see :meth:`_joint`).
    """

    name = "pan"

    def __init__(
        self,
        generator: UnitRangeGenerator,
        discriminator: PANDiscriminator,
        layer_weights: Sequence[float] = PAN_LAYER_WEIGHTS,
        margin: float = PAN_MARGIN,
        lambda_pixel: float = 0.0,
        lambda_adversarial: float = 1.0,
    ) -> None:
        super().__init__(generator, discriminator)
        self.layer_weights = [float(w) for w in layer_weights]
        self.margin = float(margin)
        self.lambda_pixel = float(lambda_pixel)
        self.lambda_adversarial = float(lambda_adversarial)
        self.params = {
            "layer_weights": self.layer_weights, "margin": self.margin,
            "lambda_pixel": self.lambda_pixel, "lambda_adversarial": self.lambda_adversarial,
        }

    def _joint(
        self, real: Tensor, fake: Tensor
    ) -> tuple[tuple[Tensor, Tensor], list[Tensor], list[Tensor]]:
        """D on ``concat([real, fake])`` in ONE batch, so BatchNorm normalises both with shared
        statistics (separate batches would hide global intensity/contrast differences from the
        perceptual features). Returns ``((score_real, score_fake), feats_real, feats_fake)``."""
        b = real.shape[0]
        scores, feats = self.discriminator(torch.cat([real, fake], dim=0))
        return (
            (scores[:b], scores[b:]),
            [f[:b] for f in feats],
            [f[b:] for f in feats],
        )

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        xs, ys = _signed(inputs), _signed(targets)
        fake = self.generator.forward_signed(xs)
        (_, score_fake), feats_real, feats_fake = self._joint(ys, fake)
        perceptual = pan_perceptual_distance(feats_real, feats_fake, self.layer_weights)
        adv = gan_bce_generator_loss(score_fake)
        loss = self.lambda_adversarial * adv + perceptual
        logs = {"adv_g": adv.detach(), "perceptual": perceptual.detach()}
        if self.lambda_pixel > 0:
            pixel = (fake.float() - ys).abs().mean()
            loss = loss + self.lambda_pixel * pixel
            logs["pixel_l1"] = pixel.detach()
        return loss, logs, fake.detach()

    def discriminator_loss(
        self, inputs: Tensor, targets: Tensor, fake: Any
    ) -> tuple[Tensor, dict[str, Tensor]]:
        ys = _signed(targets)
        (score_real, score_fake), feats_real, feats_fake = self._joint(ys, fake)
        distance = pan_perceptual_distance(feats_real, feats_fake, self.layer_weights, "none")
        margin = pan_discriminator_margin(distance, self.margin).mean()
        adv = gan_bce_discriminator_loss(score_real, score_fake, scale=1.0)
        logs = {"adv_d": adv.detach(), "margin": margin.detach(), "distance": distance.detach().mean()}
        return adv + margin, logs


class MedGANMethod(_BaselineMethod):
    """MedGAN: CasNet G, conditional PatchGAN D (also the perceptual feature extractor) and a
    frozen extractor for style and content.

    G loss: ``lambda_adv * BCE(D(x, y_hat), 1) + lambda_perc * sum_i mean|D_i(x, y) - D_i(x,
    y_hat)| + lambda_style * style + lambda_content * content`` (``D_i`` the PatchGAN's hidden
    features after each LeakyReLU; style/content on the extractor's features of the [0, 1]
    images). lambda_perc = 20, lambda_style = lambda_content = 1e-4 [V MG-117 defaults].
    D loss: ``0.5 * (BCE(D(x, y), 1) + BCE(D(x, y_hat), 0))``. Three G updates per D update come
    from ``StageConfig.generator_steps_per_iteration`` (set by :func:`train_baseline`).
    """

    name = "medgan"

    def __init__(
        self,
        generator: UnitRangeGenerator,
        discriminator: PatchDiscriminator,
        feature_extractor: FeatureExtractor,
        lambda_perceptual: float = 20.0,
        lambda_style: float = 1e-4,
        lambda_content: float = 1e-4,
        lambda_adversarial: float = 1.0,
        perceptual_layer_weights: Sequence[float] | None = None,
        style_layer_weights: Sequence[float] | None = None,
        content_layer_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(generator, discriminator)
        self.feature_extractor = feature_extractor
        self.lambda_perceptual = float(lambda_perceptual)
        self.lambda_style = float(lambda_style)
        self.lambda_content = float(lambda_content)
        self.lambda_adversarial = float(lambda_adversarial)
        self.perceptual_layer_weights = perceptual_layer_weights
        self.style_layer_weights = style_layer_weights
        self.content_layer_weights = content_layer_weights
        self.params = {
            "lambda_perceptual": self.lambda_perceptual, "lambda_style": self.lambda_style,
            "lambda_content": self.lambda_content, "lambda_adversarial": self.lambda_adversarial,
            "perceptual_layer_weights": perceptual_layer_weights,
            "style_layer_weights": style_layer_weights,
            "content_layer_weights": content_layer_weights,
        }

    def to(self, device: torch.device) -> None:
        super().to(device)
        self.feature_extractor.to(device)

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        xs, ys = _signed(inputs), _signed(targets)
        fake = self.generator.forward_signed(xs)
        score_fake, d_fake = self.discriminator.forward_features(torch.cat([xs, fake], dim=1))
        with torch.no_grad():
            _, d_real = self.discriminator.forward_features(torch.cat([xs, ys], dim=1))
            v_real = self.feature_extractor(targets)
        v_fake = self.feature_extractor((fake + 1.0) * 0.5)
        adv = gan_bce_generator_loss(score_fake)
        perceptual = medgan_perceptual_loss(d_real, d_fake, self.perceptual_layer_weights)
        style = style_loss(v_real, v_fake, self.style_layer_weights)
        content = content_loss(v_real, v_fake, self.content_layer_weights)
        loss = (
            self.lambda_adversarial * adv
            + self.lambda_perceptual * perceptual
            + self.lambda_style * style
            + self.lambda_content * content
        )
        logs = {
            "adv_g": adv.detach(), "perceptual": perceptual.detach(),
            "style": style.detach(), "content": content.detach(),
        }
        return loss, logs, fake.detach()

    def discriminator_loss(
        self, inputs: Tensor, targets: Tensor, fake: Any
    ) -> tuple[Tensor, dict[str, Tensor]]:
        xs, ys = _signed(inputs), _signed(targets)
        d_real = self.discriminator(torch.cat([xs, ys], dim=1))
        d_fake = self.discriminator(torch.cat([xs, fake], dim=1))
        loss = gan_bce_discriminator_loss(d_real, d_fake, scale=0.5)
        return loss, {"d_real": d_real.detach().float().mean(), "d_fake": d_fake.detach().float().mean()}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "feature_extractor_source": self.feature_extractor.source,
            "feature_extractor_digest": _state_digest(self.feature_extractor),
        }


# ------------------------------------------------------------------------------------------------
# MedGAN feature-extractor pretraining (an autoencoder, trained by the same engine)
# ------------------------------------------------------------------------------------------------
class _AutoencoderMethod(TrainingMethod):
    """Reconstruct the image: ``decoder(encoder(y)[-1]) ~ y`` with an L1 loss; no discriminator."""

    def __init__(self, encoder: SmallVGG, decoder: SmallVGGDecoder, config: Mapping[str, Any]) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.config = dict(config)

    def generator_modules(self) -> list[nn.Module]:
        return [self.encoder, self.decoder]

    def discriminator_modules(self) -> list[nn.Module]:
        return []

    def predict(self, inputs: Tensor) -> Tensor:
        return self.decoder(self.encoder(inputs)[-1])

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        loss = F.l1_loss(self.predict(inputs).float(), targets)
        return loss, {}, None

    def discriminator_loss(
        self, inputs: Tensor, targets: Tensor, fake: Any
    ) -> tuple[Tensor, dict[str, Tensor]]:
        raise RuntimeError("the feature-extractor autoencoder has no discriminator")

    def describe(self) -> dict[str, Any]:
        return {"method": "feature_extractor_autoencoder", "config": self.config}


def pretrain_feature_extractor(
    targets: Tensor,
    config: Mapping[str, Any],
    seed: int,
    device: str = "auto",
    checkpoint_path: Path | str | None = None,
    progress: bool = False,
) -> tuple[FeatureExtractor, TrainingHistory]:
    """Pretrain MedGAN's default feature extractor as an autoencoder on the training targets.

    Exactly: after ``torch.manual_seed(seed)`` build a :class:`SmallVGG` encoder (``width``,
    ``n_blocks``; blocks of (conv3x3-ReLU) x 2 with 2x2 max-pools between them, widths
    ``width * 2**b``) and a :class:`SmallVGGDecoder` (nearest 2x upsampling + conv3x3-ReLU per
    level, final linear conv3x3); train both with :func:`train_stage` (no discriminator) to
    reconstruct each target ``(N, 1, H, W)`` in [0, 1] from itself with a mean L1 loss, Adam
    (lr ``lr``, betas 0.9/0.999) with cosine annealing over ``steps`` updates on batches of
    ``batch_size``, shuffled from ``seed``. The decoder is then dropped; the frozen encoder's
    block outputs are the style/content features.

    Args:
        targets: ``(N, 1, H, W)`` training targets in [0, 1]; H, W divisible by
            ``2**(n_blocks - 1)``.
        config: the ``feature_extractor`` block (keys of :data:`FEATURE_EXTRACTOR_DEFAULTS`).
        seed: initialisation and shuffling seed.
        device, checkpoint_path, progress: passed to the engine (resumable).

    Returns:
        ``(FeatureExtractor on CPU, its pretraining history)``.
    """
    cfg = _merge(FEATURE_EXTRACTOR_DEFAULTS, config, "feature_extractor")
    if cfg["source"] != AUTOENCODER_SOURCE:
        raise ValueError(f"pretrain_feature_extractor needs source {AUTOENCODER_SOURCE!r}")
    torch.manual_seed(seed)
    encoder = SmallVGG(targets.shape[1], int(cfg["width"]), int(cfg["n_blocks"]))
    decoder = SmallVGGDecoder(int(cfg["width"]), int(cfg["n_blocks"]), targets.shape[1])
    method = _AutoencoderMethod(encoder, decoder, cfg)
    stage = StageConfig(
        name="feature_extractor",
        steps=int(cfg["steps"]),
        batch_size=int(cfg["batch_size"]),
        lr_generator=float(cfg["lr"]),
        lr_discriminator=float(cfg["lr"]),
        betas=(0.9, 0.999),
        cosine=True,
        seed=seed,
        device=device,
    )
    history = train_stage(
        method, SlicePairs(targets, targets), None, stage, checkpoint_path, progress=progress
    )
    encoder.to("cpu")
    logger.info(
        "feature extractor pretrained: final L1 %.4g after %d updates",
        history.last().get("g_loss", float("nan")), history.updates,
    )
    return FeatureExtractor(encoder, AUTOENCODER_SOURCE), history


# ------------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------------
def _side_checkpoint(checkpoint_path: Path | None, suffix: str) -> Path | None:
    if checkpoint_path is None:
        return None
    return checkpoint_path.with_name(f"{checkpoint_path.stem}_{suffix}{checkpoint_path.suffix}")


def train_baseline(
    name: str,
    params: Mapping[str, Any],
    train: SlicePairs,
    val: SlicePairs | None,
    stage: StageConfig,
    checkpoint_path: Path | None = None,
    progress: bool = True,
) -> tuple[dict[str, dict[str, Tensor]], dict[str, Any], TrainingHistory]:
    """Train baseline ``name`` (``pix2pix``, ``pan`` or ``medgan``) with :func:`train_stage`.

    Networks are initialised after ``torch.manual_seed(stage.seed)``. The stage's
    ``generator_steps_per_iteration`` is replaced by the method's parameter of that name
    (MedGAN: 3, others: 1). For MedGAN with the ``pretrained_autoencoder`` source, the feature
    extractor is first pretrained (:func:`pretrain_feature_extractor`, seed ``stage.seed``,
    checkpoint ``<checkpoint stem>_feature_extractor<suffix>`` beside ``checkpoint_path``).

    Args:
        params: the method's parameter block (see :data:`BASELINE_DEFAULTS`); unknown keys fail.
        train, val: slices ``(N, C, H, W)`` / ``(N, 1, H, W)`` in [0, 1].
        stage: optimiser, budget (generator updates), batch, validation and device settings.

    Returns:
        ``(states, config, history)``: CPU state dicts by network name (``generator``,
        ``discriminator`` and, for a pipeline-pretrained MedGAN extractor, ``feature_extractor``);
        a JSON-able config (``method``, ``in_channels``, ``image_size``, resolved ``params``,
        ``feature_extractor_source`` and ``feature_extractor_sha256`` for MedGAN) that
        :func:`build_baseline_generator` accepts; the GAN stage's history.
    """
    _check_name(name)
    checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
    image_size = [int(s) for s in train.inputs.shape[-2:]]
    in_channels = train.in_channels
    if val is not None and val.in_channels != in_channels:
        raise ValueError(f"val has {val.in_channels} input channels, train {in_channels}")
    p = resolve_baseline_params(name, params, image_size)
    steps = p["generator_steps_per_iteration"]
    if stage.generator_steps_per_iteration != steps:
        logger.info(
            "%s: generator_steps_per_iteration %d -> %d (method parameter)",
            name, stage.generator_steps_per_iteration, steps,
        )
        stage = dataclasses.replace(stage, generator_steps_per_iteration=steps)
    config: dict[str, Any] = {
        "method": name, "in_channels": in_channels, "image_size": image_size, "params": p,
    }
    states: dict[str, dict[str, Tensor]] = {}
    extractor: FeatureExtractor | None = None
    if name == "medgan":
        fe = p["feature_extractor"]
        if fe["source"] == AUTOENCODER_SOURCE:
            extractor, fe_history = pretrain_feature_extractor(
                train.targets, fe, stage.seed, stage.device,
                _side_checkpoint(checkpoint_path, "feature_extractor"), progress=progress,
            )
            states["feature_extractor"] = cpu_state(extractor.backbone)
            config["feature_extractor_source"] = AUTOENCODER_SOURCE
            config["feature_extractor_sha256"] = _state_digest(extractor.backbone)
            config["feature_extractor_final_l1"] = float(fe_history.last().get("g_loss", float("nan")))
            config["feature_extractor_updates"] = fe_history.updates
        else:
            extractor = load_vgg19_feature_extractor(fe["source"])
            config["feature_extractor_source"] = str(fe["source"])
            config["feature_extractor_sha256"] = extractor.sha256
    torch.manual_seed(stage.seed)
    generator = UnitRangeGenerator(_build_generator_net(name, p, in_channels), residual=p["input_residual"])
    discriminator = _build_discriminator(name, p, in_channels, image_size)
    method: _BaselineMethod
    if name == "pix2pix":
        method = Pix2PixMethod(generator, discriminator, p["lambda_l1"], p["lambda_adversarial"])
    elif name == "pan":
        method = PANMethod(
            generator, discriminator, p["layer_weights"], p["margin"], p["lambda_pixel"],
            p["lambda_adversarial"],
        )
    else:
        assert extractor is not None
        method = MedGANMethod(
            generator, discriminator, extractor, p["lambda_perceptual"], p["lambda_style"],
            p["lambda_content"], p["lambda_adversarial"], p["perceptual_layer_weights"],
            p["style_layer_weights"], p["content_layer_weights"],
        )
    method.params = p  # full resolved parameters key the checkpoint
    history = train_stage(method, train, val, stage, checkpoint_path, progress=progress)
    states["generator"] = cpu_state(generator)
    states["discriminator"] = cpu_state(discriminator)
    generator.eval()
    return states, config, history
