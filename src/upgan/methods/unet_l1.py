"""The plain-L1 control: UP-GAN's phase-0 U-Net trained with L1 alone, no discriminator.

It answers whether adversarial training and the uncertainty heads help at all (claim C6): the
same backbone (``upgan.generator``), the same data and budget, the same optimiser as a UP-GAN
phase, but the loss is the mean absolute error of the image head only (the α and β heads get no
gradient and are not used).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from upgan.methods.registry import MethodSpec, SingleGeneratorMethod, TrainedSingle
from upgan.methods.single import check_bool, merge_params
from upgan.models import UncertaintyUNet, UNetConfig
from upgan.training import SlicePairs, StageConfig, TrainingMethod, cpu_state, train_stage

DEFAULTS: dict[str, Any] = {
    "input_residual": False,  # set per task by the pipeline (training.residual_learning)
    "generator": None,  # None: UP-GAN's generator block (``upgan.generator``)
}


class ImageHead(nn.Module):
    """A three-head U-Net seen through its image head: ``(B, C, H, W)`` -> ``(B, 1, H, W)``."""

    def __init__(self, unet: UncertaintyUNet) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x: Tensor) -> Tensor:
        return self.unet(x).image


class L1Method(TrainingMethod):
    """Mean |b-hat - b| on the [0, 1] scale; no discriminator."""

    name = "unet_l1"

    def __init__(self, generator: ImageHead, params: Mapping[str, Any]) -> None:
        self.generator = generator
        self.params = dict(params)

    def generator_modules(self) -> list[nn.Module]:
        return [self.generator]

    def discriminator_modules(self) -> list[nn.Module]:
        return []

    def predict(self, inputs: Tensor) -> Tensor:
        return self.generator(inputs)

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        loss = F.l1_loss(self.generator(inputs).float(), targets)
        return loss, {"l1": loss.detach()}, None

    def discriminator_loss(self, inputs: Tensor, targets: Tensor, fake: Any) -> tuple[Tensor, dict[str, Tensor]]:
        raise RuntimeError("unet_l1 has no discriminator")

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "params": self.params, "generator": repr(self.generator)}


class UNetL1(SingleGeneratorMethod):
    """Parameters, generator and training of the plain-L1 control."""

    defaults = DEFAULTS
    nested = {"generator": {f.name: f.default for f in dataclasses.fields(UNetConfig)
                            if f.name not in ("in_channels", "residual_from")}}

    def resolve(self, params: Mapping[str, Any] | None, image_size: Sequence[int],
                context: Mapping[str, Any]) -> dict[str, Any]:
        p = merge_params(DEFAULTS, params, "unet_l1")
        p["input_residual"] = check_bool(p["input_residual"], "input_residual")
        block = p["generator"]
        if block is None:
            block = dict((context.get("upgan") or {}).get("generator") or {})
        if not isinstance(block, Mapping):
            raise ValueError(f"parameter 'generator' must be a U-Net block (mapping), got {block!r}")
        fields = {f.name for f in dataclasses.fields(UNetConfig)} - {"in_channels", "residual_from"}
        unknown = sorted(set(block) - fields)
        if unknown:
            raise ValueError(f"unknown unet_l1 generator parameter(s) {unknown}; known: {', '.join(sorted(fields))}")
        resolved = dataclasses.asdict(UNetConfig(in_channels=1, **block))
        p["generator"] = {k: v for k, v in resolved.items() if k in fields}
        depth = p["generator"]["depth"]
        if any(int(s) % 2**depth for s in image_size):
            raise ValueError(f"unet_l1: image size {list(image_size)} is not divisible by 2**depth = {2**depth}")
        return p

    def describe_setup(self, network: Mapping[str, Any]) -> str:
        g = network.get("params", {}).get("generator", {})
        return (f"UP-GAN's phase-0 U-Net (base width {g.get('base_width')}, depth {g.get('depth')}, "
                f"{g.get('block')} blocks) trained with L1 alone: no discriminator, α and β heads unused")

    def build_generator(self, params: Mapping[str, Any], in_channels: int) -> nn.Module:
        cfg = UNetConfig(in_channels=in_channels, residual_from=0 if params["input_residual"] else None,
                         **params["generator"])
        return ImageHead(UncertaintyUNet(cfg))

    def train(self, params: dict[str, Any], train: SlicePairs, val: SlicePairs | None,
              stage: StageConfig, checkpoint_path: Path | None, progress: bool) -> TrainedSingle:
        torch.manual_seed(stage.seed)
        generator = self.build_generator(params, train.in_channels)
        history = train_stage(L1Method(generator, params), train, val, stage, checkpoint_path, progress=progress)
        return TrainedSingle({"generator": cpu_state(generator)}, {}, history)


SPEC = MethodSpec(
    name="unet_l1", label="U-Net, L1 only", role="control", order=40, plugin=UNetL1(),
    summary="UP-GAN's phase-0 U-Net trained with L1 alone: no discriminator, no uncertainty",
)
