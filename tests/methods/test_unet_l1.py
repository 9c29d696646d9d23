"""The plain-L1 control: UP-GAN's phase-0 U-Net, L1 alone, no discriminator."""

import pytest
import torch

from upgan.methods import get, names
from upgan.methods.single import build_generator, resolve_params
from upgan.methods.unet_l1 import L1Method
from upgan.models import UncertaintyUNet
from upgan.pipelines.training.config import cascade_config

UPGAN = {"n_phases": 2, "generator": {"base_width": 4, "depth": 2, "max_width": 16}}


def test_it_is_the_registered_control():
    assert names(role="control") == ["unet_l1"]
    assert get("unet_l1").kind == "single" and get("unet_l1").label


@pytest.mark.parametrize("residual", [False, True])
def test_backbone_is_upgans_phase_zero_generator(residual: bool):
    params = resolve_params("unet_l1", {"input_residual": residual}, (32, 32), {"upgan": UPGAN})
    generator = build_generator("unet_l1", {"method": "unet_l1", "in_channels": 1, "image_size": [32, 32],
                                            "params": params})
    phase0 = cascade_config("upgan", UPGAN, residual=residual).generator_config(0)
    assert generator.unet.config == phase0
    reference = UncertaintyUNet(phase0)
    assert generator.unet.state_dict().keys() == reference.state_dict().keys()
    assert sum(p.numel() for p in generator.parameters()) == sum(p.numel() for p in reference.parameters())


def test_loss_is_the_mean_absolute_error_and_there_is_no_discriminator():
    params = resolve_params("unet_l1", {}, (16, 16), {"upgan": UPGAN})
    torch.manual_seed(0)
    generator = build_generator("unet_l1", {"method": "unet_l1", "in_channels": 1, "image_size": [16, 16],
                                            "params": params})
    method = L1Method(generator, params)
    assert method.discriminator_modules() == []
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    loss, logs, fake = method.generator_loss(x, y)
    with torch.no_grad():
        image = generator.unet(x).image
    expected = sum(abs(float(a) - float(b)) for a, b in zip(image.flatten(), y.flatten(), strict=True)) / y.numel()
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5) and fake is None
    loss.backward()
    # only the image head learns: the α and β heads get no gradient
    heads = {name: p.grad for name, p in generator.unet.named_parameters() if "head" in name}
    assert any(g is not None for g in heads.values())
    assert all(heads[name] is None for name in heads if "alpha" in name or "beta" in name)


def test_its_own_generator_block_and_errors():
    own = resolve_params("unet_l1", {"generator": {"base_width": 2, "depth": 1}}, (8, 8), {"upgan": UPGAN})
    assert own["generator"]["base_width"] == 2 and own["generator"]["depth"] == 1
    with pytest.raises(ValueError, match="base_wdith"):
        resolve_params("unet_l1", {"generator": {"base_wdith": 2}}, (8, 8), {})
    with pytest.raises(ValueError, match="divisible"):
        resolve_params("unet_l1", {}, (10, 10), {"upgan": UPGAN})
