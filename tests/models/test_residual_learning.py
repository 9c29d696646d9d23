"""Global residual learning: with a zeroed output layer every generator returns its input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from upgan.models import UnitRangeGenerator
from upgan.models.cascade import UPGAN, CascadeConfig
from upgan.models.unet import UncertaintyUNet, UNetConfig
from upgan.pipelines.training.config import cascade_config, residual_learning


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, 1, H, W) of zeros
        return torch.zeros_like(x[:, :1])


def test_unit_range_generator_residual_adds_first_channel():
    x = torch.rand(2, 2, 8, 8)
    assert torch.equal(UnitRangeGenerator(_Zero(), residual=True)(x), x[:, :1])
    assert torch.equal(UnitRangeGenerator(_Zero(), residual=False)(x), torch.full_like(x[:, :1], 0.5))


def test_uncertainty_unet_residual_channel():
    torch.manual_seed(0)
    net = UncertaintyUNet(UNetConfig(in_channels=2, base_width=4, depth=1, residual_from=1)).eval()
    nn.init.zeros_(net.image_head.weight)
    nn.init.zeros_(net.image_head.bias)
    x = torch.rand(3, 2, 8, 8)
    assert torch.equal(net(x).image, x[:, 1:2])


def test_residual_from_must_be_an_input_channel():
    with pytest.raises(ValueError, match="residual_from"):
        UNetConfig(in_channels=1, residual_from=1)


def test_cascade_phases_add_the_original_input():
    """Phase m > 0 sees concat(f_m, a): its residual channel shifts to a's first channel."""
    cfg = CascadeConfig(n_phases=3, unet=UNetConfig(in_channels=1, base_width=4, depth=1, residual_from=0))
    assert [cfg.generator_config(m).residual_from for m in range(3)] == [0, 1, 1]
    torch.manual_seed(0)
    generators = [UncertaintyUNet(cfg.generator_config(m)).eval() for m in range(3)]
    for g in generators:
        nn.init.zeros_(g.image_head.weight)
        nn.init.zeros_(g.image_head.bias)
    a = torch.rand(2, 1, 8, 8)
    for out in UPGAN(generators, guidance=True)(a):
        assert torch.equal(out.image, a)


def test_residual_learning_only_for_tasks_whose_input_is_on_the_target_scale():
    assert residual_learning("mri_recon", {"residual_learning": True})
    assert residual_learning("mri_motion", {"residual_learning": True})
    assert not residual_learning("pet_to_ct", {"residual_learning": True})
    assert not residual_learning("mri_recon", {"residual_learning": False})
    with pytest.raises(ValueError, match="training.residual_learning"):
        residual_learning("mri_recon", {"residual_learning": "yes"})
    assert cascade_config("upgan", {"n_phases": 2}, residual=True).unet.residual_from == 0
    assert cascade_config("upgan", {"n_phases": 2}).unet.residual_from is None
