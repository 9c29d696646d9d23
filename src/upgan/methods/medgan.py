"""MedGAN (Armanious et al., 2020): a CasNet generator (cascaded U-Nets), a conditional
PatchGAN that is also the perceptual feature extractor, and a frozen feature extractor for the
style and content losses; three generator updates per discriminator update.

The feature extractor is an autoencoder pretrained on the training targets by the same engine
(``feature_extractor.source: pretrained_autoencoder``, the default: nothing can be downloaded),
or a local torchvision VGG-19 state dict (``source: <path>``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from upgan.losses_baselines import (
    content_loss,
    gan_bce_generator_loss,
    medgan_perceptual_loss,
    style_loss,
)
from upgan.methods.pix2pix import (
    conditional_discriminator_loss,
    conditional_patchgan,
    resolve_unet_gan,
)
from upgan.methods.registry import MethodSpec, SingleGeneratorMethod, TrainedSingle
from upgan.methods.single import (
    AdversarialMethod,
    check_float,
    check_int,
    check_weights,
    merge_params,
    side_checkpoint,
    signed,
)
from upgan.models import (
    CasNet,
    FeatureExtractor,
    PatchDiscriminator,
    SmallVGG,
    SmallVGGDecoder,
    UnitRangeGenerator,
    load_vgg19_feature_extractor,
)
from upgan.training import (
    SlicePairs,
    StageConfig,
    TrainingHistory,
    TrainingMethod,
    cpu_state,
    state_digest,
    train_stage,
)

logger = logging.getLogger(__name__)

AUTOENCODER_SOURCE = "pretrained_autoencoder"

DEFAULTS: dict[str, Any] = {
    "n_blocks": 6,
    "input_residual": False,  # set per task by the pipeline (training.residual_learning)
    "ngf": 64,
    "num_downs": None,  # None: sized to the input
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
}

FEATURE_EXTRACTOR_DEFAULTS: dict[str, Any] = {
    "source": AUTOENCODER_SOURCE,
    "width": 16,
    "n_blocks": 4,
    "steps": 200,
    "batch_size": 8,
    "lr": 1e-3,
}
"""Defaults of MedGAN's ``feature_extractor`` block."""


class MedGANMethod(AdversarialMethod):
    """MedGAN as a plug-in of the engine.

    G loss: ``lambda_adv * BCE(D(x, y_hat), 1) + lambda_perc * sum_i mean|D_i(x, y) - D_i(x,
    y_hat)| + lambda_style * style + lambda_content * content`` (``D_i`` the PatchGAN's hidden
    features after each LeakyReLU; style/content on the extractor's features of the [0, 1]
    images); lambda_perc = 20, lambda_style = lambda_content = 1e-4 (defaults of the public
    re-implementations). D loss: ``0.5 * (BCE(D(x, y), 1) + BCE(D(x, y_hat), 0))``.
    """

    name = "medgan"

    def __init__(self, generator: UnitRangeGenerator, discriminator: PatchDiscriminator,
                 feature_extractor: FeatureExtractor, params: Mapping[str, Any]) -> None:
        super().__init__(generator, discriminator)
        self.feature_extractor = feature_extractor
        self.params = dict(params)

    def to(self, device: torch.device) -> None:
        super().to(device)
        self.feature_extractor.to(device)

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        p = self.params
        xs, ys = signed(inputs), signed(targets)
        fake = self.generator.forward_signed(xs)
        score_fake, d_fake = self.discriminator.forward_features(torch.cat([xs, fake], dim=1))
        with torch.no_grad():
            _, d_real = self.discriminator.forward_features(torch.cat([xs, ys], dim=1))
            v_real = self.feature_extractor(targets)
        v_fake = self.feature_extractor((fake + 1.0) * 0.5)
        adv = gan_bce_generator_loss(score_fake)
        perceptual = medgan_perceptual_loss(d_real, d_fake, p["perceptual_layer_weights"])
        style = style_loss(v_real, v_fake, p["style_layer_weights"])
        content = content_loss(v_real, v_fake, p["content_layer_weights"])
        loss = (p["lambda_adversarial"] * adv + p["lambda_perceptual"] * perceptual
                + p["lambda_style"] * style + p["lambda_content"] * content)
        logs = {"adv_g": adv.detach(), "perceptual": perceptual.detach(),
                "style": style.detach(), "content": content.detach()}
        return loss, logs, fake.detach()

    def discriminator_loss(self, inputs: Tensor, targets: Tensor, fake: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return conditional_discriminator_loss(self.discriminator, inputs, targets, fake)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "feature_extractor_source": self.feature_extractor.source,
                "feature_extractor_digest": state_digest([self.feature_extractor])}


class AutoencoderMethod(TrainingMethod):
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
        return F.l1_loss(self.predict(inputs).float(), targets), {}, None

    def discriminator_loss(self, inputs: Tensor, targets: Tensor, fake: Any) -> tuple[Tensor, dict[str, Tensor]]:
        raise RuntimeError("the feature-extractor autoencoder has no discriminator")

    def describe(self) -> dict[str, Any]:
        return {"method": "feature_extractor_autoencoder", "config": self.config}


def pretrain_feature_extractor(
    targets: Tensor, config: Mapping[str, Any], seed: int, device: str = "auto",
    checkpoint_path: Path | str | None = None, progress: bool = False,
) -> tuple[FeatureExtractor, TrainingHistory]:
    """Pretrain MedGAN's default feature extractor as an autoencoder on the training targets.

    After ``torch.manual_seed(seed)`` build a :class:`SmallVGG` encoder (``width``, ``n_blocks``)
    and a :class:`SmallVGGDecoder`; train both with the engine (no discriminator) to
    reconstruct each target ``(N, 1, H, W)`` in [0, 1] from itself with a mean L1 loss, Adam
    (``lr``, betas 0.9/0.999) cosine-annealed over ``steps`` updates on batches of
    ``batch_size``. The decoder is then dropped; the frozen encoder's block outputs are the
    style/content features. Returns the extractor (on CPU) and the pretraining history.
    """
    cfg = merge_params(FEATURE_EXTRACTOR_DEFAULTS, config, "feature_extractor")
    if cfg["source"] != AUTOENCODER_SOURCE:
        raise ValueError(f"pretrain_feature_extractor needs source {AUTOENCODER_SOURCE!r}")
    torch.manual_seed(seed)
    encoder = SmallVGG(targets.shape[1], int(cfg["width"]), int(cfg["n_blocks"]))
    decoder = SmallVGGDecoder(int(cfg["width"]), int(cfg["n_blocks"]), targets.shape[1])
    stage = StageConfig(name="feature_extractor", steps=int(cfg["steps"]), batch_size=int(cfg["batch_size"]),
                        lr_generator=float(cfg["lr"]), lr_discriminator=float(cfg["lr"]),
                        betas=(0.9, 0.999), cosine=True, seed=seed, device=device)
    history = train_stage(AutoencoderMethod(encoder, decoder, cfg), SlicePairs(targets, targets), None,
                          stage, checkpoint_path, progress=progress)
    encoder.to("cpu")
    logger.info("feature extractor pretrained: final L1 %.4g after %d updates",
                history.last().get("g_loss", float("nan")), history.updates)
    return FeatureExtractor(encoder, AUTOENCODER_SOURCE), history


def resolve_feature_extractor(block: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``feature_extractor`` block with defaults, checked."""
    fe = merge_params(FEATURE_EXTRACTOR_DEFAULTS, block, "feature_extractor")
    if not isinstance(fe["source"], str) or not fe["source"]:
        raise ValueError(f"feature_extractor 'source' must be a string, got {fe['source']!r}")
    for key in ("width", "n_blocks", "steps", "batch_size"):
        fe[key] = check_int(fe[key], f"feature_extractor.{key}", 1)
    fe["lr"] = check_float(fe["lr"], "feature_extractor.lr")
    if fe["lr"] <= 0:
        raise ValueError(f"feature_extractor 'lr' must be > 0, got {fe['lr']}")
    return fe


class MedGAN(SingleGeneratorMethod):
    """Parameters, generator and training (with the extractor's pretraining) of MedGAN."""

    defaults = DEFAULTS
    nested = {"feature_extractor": FEATURE_EXTRACTOR_DEFAULTS}

    def resolve(self, params: Mapping[str, Any] | None, image_size: Sequence[int],
                context: Mapping[str, Any]) -> dict[str, Any]:
        p = resolve_unet_gan(merge_params(DEFAULTS, params, "medgan"), min(int(s) for s in image_size))
        p["n_blocks"] = check_int(p["n_blocks"], "n_blocks", 1)
        for key in ("lambda_perceptual", "lambda_style", "lambda_content"):
            p[key] = check_float(p[key], key)
        for key in ("perceptual_layer_weights", "style_layer_weights", "content_layer_weights"):
            p[key] = check_weights(p[key], key)
        weights = p["perceptual_layer_weights"]
        if weights is not None and len(weights) != p["n_layers_d"] + 1:
            raise ValueError(f"'perceptual_layer_weights' needs n_layers_d + 1 = {p['n_layers_d'] + 1} numbers")
        p["feature_extractor"] = resolve_feature_extractor(p["feature_extractor"])
        return p

    def describe_setup(self, network: Mapping[str, Any]) -> str:
        """Names the frozen feature extractor the run used and its weights' sha256."""
        p = network.get("params", {})
        source = network.get("feature_extractor_source", "unknown")
        digest = str(network.get("feature_extractor_sha256", ""))[:12]
        if source == AUTOENCODER_SOURCE:
            fe = p.get("feature_extractor", {})
            extractor = (f"a VGG-style encoder pretrained in the pipeline as an L1 autoencoder of "
                         f"the training targets ({fe.get('steps')} updates, final L1 "
                         f"{network.get('feature_extractor_final_l1', float('nan')):.4f})")
        else:
            extractor = f"VGG-19 weights from the local file {source}"
        return (f"CasNet of {p['n_blocks']} u-blocks, {p['generator_steps_per_iteration']} generator "
                f"steps per discriminator step; frozen feature extractor for the style and content "
                f"losses: {extractor}, sha256 {digest}…")

    def build_generator(self, params: Mapping[str, Any], in_channels: int) -> nn.Module:
        net = CasNet(in_channels, params["n_blocks"], params["ngf"], params["num_downs"], params["dropout"])
        return UnitRangeGenerator(net, residual=params["input_residual"])

    def train(self, params: dict[str, Any], train: SlicePairs, val: SlicePairs | None,
              stage: StageConfig, checkpoint_path: Path | None, progress: bool) -> TrainedSingle:
        fe = params["feature_extractor"]
        states: dict[str, dict[str, Tensor]] = {}
        config: dict[str, Any] = {}
        pretraining: dict[str, tuple[int, float]] = {}
        if fe["source"] == AUTOENCODER_SOURCE:
            extractor, fe_history = pretrain_feature_extractor(
                train.targets, fe, stage.seed, stage.device,
                side_checkpoint(checkpoint_path, "feature_extractor"), progress=progress)
            states["feature_extractor"] = cpu_state(extractor.backbone)
            final_l1 = float(fe_history.last().get("g_loss", float("nan")))
            config.update(feature_extractor_source=AUTOENCODER_SOURCE,
                          feature_extractor_sha256=state_digest([extractor.backbone]),
                          feature_extractor_final_l1=final_l1, feature_extractor_updates=fe_history.updates)
            pretraining["feature_extractor"] = (fe_history.updates, final_l1)
        else:
            extractor = load_vgg19_feature_extractor(fe["source"])
            config.update(feature_extractor_source=str(fe["source"]), feature_extractor_sha256=extractor.sha256)
        torch.manual_seed(stage.seed)
        generator = self.build_generator(params, train.in_channels)
        discriminator = conditional_patchgan(params, train.in_channels)
        method = MedGANMethod(generator, discriminator, extractor, params)
        history = train_stage(method, train, val, stage, checkpoint_path, progress=progress)
        states["generator"] = cpu_state(generator)
        states["discriminator"] = cpu_state(discriminator)
        return TrainedSingle(states, config, history, pretraining)


SPEC = MethodSpec(
    name="medgan", label="MedGAN", role="baseline", order=30, plugin=MedGAN(),
    summary="CasNet generator, PatchGAN + perceptual, style and content losses (Armanious et al. 2020)",
)
