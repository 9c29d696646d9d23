"""Three-head U-Net and PatchGAN."""

import dataclasses
import json

import pytest
import torch
from torch import nn

from upgan.models import (
    GeneratorOutput,
    PatchDiscriminator,
    ResidualBlock,
    UncertaintyUNet,
    UNetConfig,
)


@pytest.mark.parametrize("block", ["plain", "residual"])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_output_shapes(block: str, norm: str) -> None:
    cfg = UNetConfig(in_channels=2, base_width=4, depth=2, block=block, norm=norm)
    out = UncertaintyUNet(cfg)(torch.randn(3, 2, 16, 24))
    assert isinstance(out, GeneratorOutput)
    for t in out:
        assert t.shape == (3, 1, 16, 24)
    assert (out.alpha > 0).all() and (out.beta > 0).all()


def test_heads_positive_for_extreme_preactivations() -> None:
    cfg = UNetConfig(in_channels=1, base_width=4, depth=2)
    net = UncertaintyUNet(cfg).eval()
    for value in (-1e4, 1e4):
        with torch.no_grad():
            for head in (net.alpha_head, net.beta_head):
                head.weight.zero_()
                head.bias.fill_(value)
        out = net(torch.randn(2, 1, 8, 8))
        assert torch.isfinite(out.alpha).all() and torch.isfinite(out.beta).all()
        assert (out.alpha >= cfg.alpha_floor).all() and (out.beta >= cfg.beta_floor).all()
        if value < 0:
            assert torch.allclose(out.alpha, torch.full_like(out.alpha, cfg.alpha_floor))


def test_heads_are_out_of_place_and_differentiable() -> None:
    net = UncertaintyUNet(UNetConfig(in_channels=1, base_width=4, depth=2))
    out = net(torch.randn(2, 1, 8, 8))
    (out.image.sum() + out.alpha.sum() + out.beta.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())


def test_residual_block_runs_main_branch_once() -> None:
    block = ResidualBlock(3, 5, "batch")
    calls: list[str] = []
    for name, module in block.named_modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(lambda m, i, o, name=name: calls.append(name))
    out = block(torch.randn(2, 3, 8, 8))
    assert out.shape == (2, 5, 8, 8)
    assert len(calls) == 4  # 3 main-branch convs + 1 shortcut
    assert sorted(calls) == sorted(set(calls))
    # BatchNorm statistics updated once per call
    bn = block.main[0][1]
    assert bn.num_batches_tracked.item() == 1


def test_indivisible_size_raises() -> None:
    net = UncertaintyUNet(UNetConfig(in_channels=1, base_width=4, depth=3))
    with pytest.raises(ValueError, match="divisible by 2\\*\\*depth = 8"):
        net(torch.randn(1, 1, 20, 16))
    with pytest.raises(ValueError, match="expected input"):
        net(torch.randn(1, 2, 16, 16))


def test_config_json_roundtrip_and_validation() -> None:
    cfg = UNetConfig(in_channels=1, base_width=8, depth=3, block="residual", norm="instance")
    again = UNetConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(cfg))))
    assert again == cfg
    with pytest.raises(ValueError, match="block"):
        UNetConfig(in_channels=1, block="dense")
    with pytest.raises(ValueError, match="depth"):
        UNetConfig(in_channels=1, depth=0)


def test_paper_size_parameter_count() -> None:
    cfg = UNetConfig(
        in_channels=1, base_width=64, depth=4, max_width=512, block="residual",
        residual_shortcut="conv3x3",
    )
    assert cfg.widths == [64, 128, 256, 512, 512]
    n = sum(p.numel() for p in UncertaintyUNet(cfg).parameters())
    assert 32.5e6 < n < 33.5e6  # official CasUNet_3head: ~33.0 M


def test_patch_discriminator_layout_and_features() -> None:
    d = PatchDiscriminator(2, base_width=8, n_layers=3)
    scores, feats = d.forward_features(torch.randn(2, 2, 64, 64))
    assert scores.shape == (2, 1, 6, 6)  # 64 -> 32 -> 16 -> 8 -> 7 -> 6
    assert [f.shape[1] for f in feats] == [8, 16, 32, 64]
    assert torch.equal(d(torch.zeros(1, 2, 64, 64)), d.forward_features(torch.zeros(1, 2, 64, 64))[0])
    kernels = {m.kernel_size for m in d.modules() if isinstance(m, nn.Conv2d)}
    assert kernels == {(4, 4)}
    with pytest.raises(ValueError, match="too small"):
        d(torch.randn(1, 2, 16, 16))
    assert PatchDiscriminator(1, base_width=4, n_layers=2)(torch.randn(1, 1, 16, 16)).shape[-1] == 2
