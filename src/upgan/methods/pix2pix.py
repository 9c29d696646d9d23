"""pix2pix (Isola et al., CVPR 2017): a U-Net generator and a conditional 70x70 PatchGAN,
trained with a BCE cGAN loss plus L1 (sizes of the authors' PyTorch port,
junyanz/pytorch-CycleGAN-and-pix2pix)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from upgan.losses_baselines import gan_bce_discriminator_loss, gan_bce_generator_loss
from upgan.methods.registry import MethodSpec, SingleGeneratorMethod, TrainedSingle
from upgan.methods.single import (
    AdversarialMethod,
    auto_downs,
    check_bool,
    check_float,
    check_int,
    merge_params,
    signed,
)
from upgan.models import PatchDiscriminator, Pix2PixUNet, UnitRangeGenerator, init_pix2pix_weights
from upgan.training import SlicePairs, StageConfig, cpu_state, train_stage

DEFAULTS: dict[str, Any] = {
    "ngf": 64,
    "input_residual": False,  # set per task by the pipeline (training.residual_learning)
    "num_downs": None,  # None: sized to the input (unet_256: 8 at 256x256, a 1x1 bottleneck)
    "dropout": 0.5,
    "ndf": 64,
    "n_layers_d": 3,  # 70x70 PatchGAN
    "lambda_l1": 100.0,
    "lambda_adversarial": 1.0,
    "generator_steps_per_iteration": 1,
}


def resolve_unet_gan(p: dict[str, Any], size: int) -> dict[str, Any]:
    """Check the U-Net generator + PatchGAN keys that pix2pix and MedGAN share (in place)."""
    p["generator_steps_per_iteration"] = check_int(p["generator_steps_per_iteration"],
                                                   "generator_steps_per_iteration", 1)
    p["input_residual"] = check_bool(p["input_residual"], "input_residual")
    for key in ("ngf", "ndf", "n_layers_d"):
        p[key] = check_int(p[key], key, 1)
    p["num_downs"] = auto_downs(p["num_downs"], "num_downs", size, 1)
    p["dropout"] = check_float(p["dropout"], "dropout")
    if p["dropout"] >= 1:
        raise ValueError(f"parameter 'dropout' must be < 1, got {p['dropout']}")
    p["lambda_adversarial"] = check_float(p["lambda_adversarial"], "lambda_adversarial")
    return p


def conditional_patchgan(p: Mapping[str, Any], in_channels: int) -> PatchDiscriminator:
    """The conditional PatchGAN on ``concat(x, y)`` with pix2pix's initialisation."""
    d = PatchDiscriminator(in_channels + 1, p["ndf"], p["n_layers_d"], norm="batch")
    init_pix2pix_weights(d)
    return d


def conditional_discriminator_loss(discriminator: nn.Module, inputs: Tensor, targets: Tensor,
                                   fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """The conditional PatchGAN's loss ``0.5 * (BCE(D(x, y), 1) + BCE(D(x, G(x)), 0))`` on the
    [-1, 1] scale (``fake``: the generator's signed output), with the mean scores as logs."""
    xs, ys = signed(inputs), signed(targets)
    d_real = discriminator(torch.cat([xs, ys], dim=1))
    d_fake = discriminator(torch.cat([xs, fake], dim=1))
    loss = gan_bce_discriminator_loss(d_real, d_fake, scale=0.5)
    return loss, {"d_real": d_real.detach().float().mean(), "d_fake": d_fake.detach().float().mean()}


class Pix2PixMethod(AdversarialMethod):
    """pix2pix as a plug-in of the engine.

    G loss: ``lambda_adv * BCE(D(x, G(x)), 1) + lambda_l1 * mean|y - G(x)|`` with the L1 on the
    [-1, 1] scale as in pix2pix (lambda_l1 = 100). D loss: ``0.5 * (BCE(D(x, y), 1) +
    BCE(D(x, G(x)), 0))``. Logged ``l1`` is on the [0, 1] scale (half the [-1, 1] value).
    """

    name = "pix2pix"

    def __init__(self, generator: UnitRangeGenerator, discriminator: PatchDiscriminator,
                 lambda_l1: float = 100.0, lambda_adversarial: float = 1.0) -> None:
        super().__init__(generator, discriminator)
        self.lambda_l1 = lambda_l1
        self.lambda_adversarial = lambda_adversarial
        self.params = {"lambda_l1": lambda_l1, "lambda_adversarial": lambda_adversarial}

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        xs, ys = signed(inputs), signed(targets)
        fake = self.generator.forward_signed(xs)
        adv = gan_bce_generator_loss(self.discriminator(torch.cat([xs, fake], dim=1)))
        l1 = (fake.float() - ys).abs().mean()
        loss = self.lambda_adversarial * adv + self.lambda_l1 * l1
        return loss, {"adv_g": adv.detach(), "l1": 0.5 * l1.detach()}, fake.detach()

    def discriminator_loss(self, inputs: Tensor, targets: Tensor, fake: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return conditional_discriminator_loss(self.discriminator, inputs, targets, fake)


class Pix2Pix(SingleGeneratorMethod):
    """Parameters, generator and training of pix2pix."""

    defaults = DEFAULTS

    def resolve(self, params: Mapping[str, Any] | None, image_size: Sequence[int],
                context: Mapping[str, Any]) -> dict[str, Any]:
        p = resolve_unet_gan(merge_params(DEFAULTS, params, "pix2pix"), min(int(s) for s in image_size))
        p["lambda_l1"] = check_float(p["lambda_l1"], "lambda_l1")
        return p

    def describe_setup(self, network: Mapping[str, Any]) -> str:
        p = network.get("params", {})
        return (f"U-Net generator ({p['num_downs']} levels, width {p['ngf']}) with dropout "
                f"{p['dropout']:g} in the three decoder levels above the bottleneck; conditional "
                f"PatchGAN ({p['n_layers_d']} layers); L1 weight {p['lambda_l1']:g}")

    def build_generator(self, params: Mapping[str, Any], in_channels: int) -> nn.Module:
        net = Pix2PixUNet(in_channels, 1, params["ngf"], params["num_downs"], params["dropout"])
        return UnitRangeGenerator(net, residual=params["input_residual"])

    def train(self, params: dict[str, Any], train: SlicePairs, val: SlicePairs | None,
              stage: StageConfig, checkpoint_path: Path | None, progress: bool) -> TrainedSingle:
        torch.manual_seed(stage.seed)
        generator = self.build_generator(params, train.in_channels)
        discriminator = conditional_patchgan(params, train.in_channels)
        method = Pix2PixMethod(generator, discriminator, params["lambda_l1"], params["lambda_adversarial"])
        method.params = params  # the full resolved parameters key the checkpoint
        history = train_stage(method, train, val, stage, checkpoint_path, progress=progress)
        states = {"generator": cpu_state(generator), "discriminator": cpu_state(discriminator)}
        return TrainedSingle(states, {}, history)


SPEC = MethodSpec(
    name="pix2pix", label="pix2pix", role="baseline", order=10, plugin=Pix2Pix(),
    summary="U-Net generator, conditional PatchGAN, BCE cGAN + 100 L1 (Isola et al. 2017)",
)
