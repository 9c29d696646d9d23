"""PAN (Wang et al., Perceptual Adversarial Networks, 2018): an encoder-decoder transformer and
an unconditional discriminator whose hidden layers give the perceptual loss (PAN-fd sizes;
the L1 pixel term of the public re-implementation flowerofdream/pytorch-Perceptual-
Adversarial-Networks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from upgan.losses_baselines import (
    PAN_LAYER_WEIGHTS,
    PAN_MARGIN,
    gan_bce_discriminator_loss,
    gan_bce_generator_loss,
    pan_discriminator_margin,
    pan_perceptual_distance,
)
from upgan.methods.registry import MethodSpec, SingleGeneratorMethod, TrainedSingle
from upgan.methods.single import (
    AdversarialMethod,
    auto_downs,
    check_bool,
    check_float,
    check_int,
    check_weights,
    merge_params,
    signed,
)
from upgan.models import PANDiscriminator, PANGenerator, UnitRangeGenerator
from upgan.training import SlicePairs, StageConfig, cpu_state, train_stage

DEFAULTS: dict[str, Any] = {
    "width": 64,
    "input_residual": False,  # set per task by the pipeline (training.residual_learning)
    "n_down": None,  # None: sized to the input (PAN-fd: 6 at 256x256, a 4x4 bottleneck)
    "d_width": 64,
    "d_downsample": None,  # None: sized to the input (PAN-fd: 5 at 256x256, an 8x8 final map)
    "layer_weights": list(PAN_LAYER_WEIGHTS),
    "margin": PAN_MARGIN,
    # L1 pixel term of the public PAN re-implementation (``lam_pix = 25``, on the [-1, 1] scale).
    # The paper's objective has none, but without it PAN's discriminator saturates and the
    # transformer does not learn.
    "lambda_pixel": 25.0,
    "lambda_adversarial": 1.0,
    "generator_steps_per_iteration": 1,
}


class PANMethod(AdversarialMethod):
    """PAN as a plug-in of the engine.

    G loss: ``lambda_adv * BCE(D(T(x)), 1) + sum_i lambda_i mean|H_i(y) - H_i(T(x))| +
    lambda_pixel * mean|y - T(x)|``. D loss: ``BCE(D(y), 1) + BCE(D(T(x)), 0) + mean_b [m -
    P(y, T(x))]^+`` with the perceptual distance P per image (not halved: PAN's formulation),
    lambda = (5, 1.5, 1.5, 1), m = 3. Real and fake go through D as one concatenated batch
    (shared BatchNorm statistics, one forward pass per update; see :meth:`joint`).
    """

    name = "pan"

    def __init__(self, generator: UnitRangeGenerator, discriminator: PANDiscriminator,
                 layer_weights: Sequence[float] = PAN_LAYER_WEIGHTS, margin: float = PAN_MARGIN,
                 lambda_pixel: float = 0.0, lambda_adversarial: float = 1.0) -> None:
        super().__init__(generator, discriminator)
        self.layer_weights = [float(w) for w in layer_weights]
        self.margin = float(margin)
        self.lambda_pixel = float(lambda_pixel)
        self.lambda_adversarial = float(lambda_adversarial)
        self.params = {"layer_weights": self.layer_weights, "margin": self.margin,
                       "lambda_pixel": self.lambda_pixel, "lambda_adversarial": self.lambda_adversarial}

    def joint(self, real: Tensor, fake: Tensor) -> tuple[tuple[Tensor, Tensor], list[Tensor], list[Tensor]]:
        """D on ``concat([real, fake])`` in ONE batch, so BatchNorm normalises both with shared
        statistics (separate batches would hide global intensity/contrast differences from the
        perceptual features). Returns ``((score_real, score_fake), feats_real, feats_fake)``."""
        b = real.shape[0]
        scores, feats = self.discriminator(torch.cat([real, fake], dim=0))
        return (scores[:b], scores[b:]), [f[:b] for f in feats], [f[b:] for f in feats]

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        xs, ys = signed(inputs), signed(targets)
        fake = self.generator.forward_signed(xs)
        (_, score_fake), feats_real, feats_fake = self.joint(ys, fake)
        perceptual = pan_perceptual_distance(feats_real, feats_fake, self.layer_weights)
        adv = gan_bce_generator_loss(score_fake)
        loss = self.lambda_adversarial * adv + perceptual
        logs = {"adv_g": adv.detach(), "perceptual": perceptual.detach()}
        if self.lambda_pixel > 0:
            pixel = (fake.float() - ys).abs().mean()
            loss = loss + self.lambda_pixel * pixel
            logs["pixel_l1"] = pixel.detach()
        return loss, logs, fake.detach()

    def discriminator_loss(self, inputs: Tensor, targets: Tensor, fake: Any) -> tuple[Tensor, dict[str, Tensor]]:
        ys = signed(targets)
        (score_real, score_fake), feats_real, feats_fake = self.joint(ys, fake)
        distance = pan_perceptual_distance(feats_real, feats_fake, self.layer_weights, "none")
        margin = pan_discriminator_margin(distance, self.margin).mean()
        adv = gan_bce_discriminator_loss(score_real, score_fake, scale=1.0)
        logs = {"adv_d": adv.detach(), "margin": margin.detach(), "distance": distance.detach().mean()}
        return adv + margin, logs


class PAN(SingleGeneratorMethod):
    """Parameters, generator and training of PAN."""

    defaults = DEFAULTS

    def resolve(self, params: Mapping[str, Any] | None, image_size: Sequence[int],
                context: Mapping[str, Any]) -> dict[str, Any]:
        p = merge_params(DEFAULTS, params, "pan")
        size = min(int(s) for s in image_size)
        p["generator_steps_per_iteration"] = check_int(p["generator_steps_per_iteration"],
                                                       "generator_steps_per_iteration", 1)
        p["input_residual"] = check_bool(p["input_residual"], "input_residual")
        p["width"] = check_int(p["width"], "width", 1)
        p["d_width"] = check_int(p["d_width"], "d_width", 1)
        p["n_down"] = auto_downs(p["n_down"], "n_down", size, 4, cap=6)
        p["d_downsample"] = auto_downs(p["d_downsample"], "d_downsample", size, 8, cap=5)
        weights = check_weights(p["layer_weights"], "layer_weights")
        if weights is None or len(weights) != 4:
            raise ValueError(f"PAN 'layer_weights' must be 4 numbers, got {p['layer_weights']!r}")
        p["layer_weights"] = weights
        for key in ("margin", "lambda_pixel", "lambda_adversarial"):
            p[key] = check_float(p[key], key)
        return p

    def describe_setup(self, network: Mapping[str, Any]) -> str:
        p = network.get("params", {})
        weights = ", ".join(f"{float(w):g}" for w in p["layer_weights"])
        return (f"perceptual loss on the discriminator's hidden layers, weights λ = ({weights}), "
                f"margin m = {p['margin']:g}, pixel L1 weight {p['lambda_pixel']:g} (λ and m as in "
                "the public re-implementation; the paper's own values are unconfirmed)")

    def build_generator(self, params: Mapping[str, Any], in_channels: int) -> nn.Module:
        net = PANGenerator(in_channels, 1, params["width"], params["n_down"])
        return UnitRangeGenerator(net, residual=params["input_residual"])

    def train(self, params: dict[str, Any], train: SlicePairs, val: SlicePairs | None,
              stage: StageConfig, checkpoint_path: Path | None, progress: bool) -> TrainedSingle:
        torch.manual_seed(stage.seed)
        generator = self.build_generator(params, train.in_channels)
        image_size = [int(s) for s in train.inputs.shape[-2:]]
        discriminator = PANDiscriminator(image_size, 1, params["d_width"], params["d_downsample"])
        method = PANMethod(generator, discriminator, params["layer_weights"], params["margin"],
                           params["lambda_pixel"], params["lambda_adversarial"])
        method.params = params  # the full resolved parameters key the checkpoint
        history = train_stage(method, train, val, stage, checkpoint_path, progress=progress)
        states = {"generator": cpu_state(generator), "discriminator": cpu_state(discriminator)}
        return TrainedSingle(states, {}, history)


SPEC = MethodSpec(
    name="pan", label="PAN", role="baseline", order=20, plugin=PAN(),
    summary="transformer + discriminator whose hidden layers give a perceptual loss (Wang et al. 2018)",
)
