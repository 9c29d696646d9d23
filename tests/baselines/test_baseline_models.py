"""Baseline networks: layouts, sizes, range mapping and the VGG-19 loader."""

from pathlib import Path

import pytest
import torch
from torch import nn

from upgan.models import PatchDiscriminator
from upgan.models.baselines import (
    VGG19_FEATURE_LAYERS,
    CasNet,
    FeatureExtractor,
    PANDiscriminator,
    PANGenerator,
    Pix2PixUNet,
    SmallVGG,
    UnitRangeGenerator,
    load_vgg19_feature_extractor,
)
from upgan.models.unet import count_parameters

#: torchvision vgg19().features conv indices (independent of our layout table).
TORCHVISION_VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
TORCHVISION_VGG19_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)


def _dropout_levels(net: Pix2PixUNet) -> list[int]:
    return [i for i, block in enumerate(net.up) if any(isinstance(m, nn.Dropout) for m in block)]


def test_pix2pix_dropout_placement_pytorch_port():
    net = Pix2PixUNet(1, ngf=2, num_downs=8, dropout=0.5)
    dropouts = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 3 and all(m.p == 0.5 for m in dropouts)
    # decoder blocks of encoder levels 4, 5, 6: the three just above the innermost (7)
    assert _dropout_levels(net) == [4, 5, 6]
    assert not any(isinstance(m, nn.Dropout) for m in net.down.modules())
    assert _dropout_levels(Pix2PixUNet(1, ngf=2, num_downs=4)) == [1, 2]
    assert _dropout_levels(Pix2PixUNet(1, ngf=2, num_downs=8, dropout=0.0)) == []


def test_pix2pix_layout_and_paper_size():
    net = Pix2PixUNet(1, ngf=64, num_downs=8)
    assert count_parameters(net) / 1e6 == pytest.approx(54.4, abs=0.1)
    # BN on the encoder except outermost and innermost; Tanh only at the output
    has_bn = [any(isinstance(m, nn.BatchNorm2d) for m in b) for b in net.down]
    assert has_bn == [False] + [True] * 6 + [False]
    assert isinstance(net.up[0][-1], nn.Tanh)
    assert sum(isinstance(m, nn.Tanh) for m in net.modules()) == 1
    d = PatchDiscriminator(2, 64, 3)
    assert count_parameters(d) / 1e6 == pytest.approx(2.76, abs=0.01)


def test_pix2pix_shapes_and_size_errors():
    net = Pix2PixUNet(2, ngf=4, num_downs=5).eval()
    assert net(torch.zeros(2, 2, 32, 32)).shape == (2, 1, 32, 32)
    assert net(torch.zeros(1, 2, 64, 32)).shape == (1, 1, 64, 32)
    with pytest.raises(ValueError, match="divisible by 32"):
        net(torch.zeros(1, 2, 48, 48))
    with pytest.raises(ValueError, match="expects"):
        net(torch.zeros(1, 1, 32, 32))


def test_unit_range_mapping():
    # identity network: the wrapper maps [0,1] -> [-1,1] -> back exactly
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(UnitRangeGenerator(nn.Identity())(x), x)
    torch.testing.assert_close(UnitRangeGenerator(nn.Identity()).forward_signed(x), x)
    # a Tanh network with saturating weights stays inside [0, 1]
    net = Pix2PixUNet(1, ngf=4, num_downs=3).eval()
    with torch.no_grad():
        net.up[0][1].bias.fill_(50.0)
    out = UnitRangeGenerator(net)(torch.rand(2, 1, 16, 16))
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() > 0.99


def test_casnet_is_a_chain():
    net = CasNet(2, n_blocks=3, ngf=2, num_downs=3).eval()
    assert len(net.blocks) == 3
    assert net.blocks[0].in_channels == 2 and net.blocks[1].in_channels == 1
    x = torch.rand(1, 2, 16, 16)
    h = x
    for block in net.blocks:
        h = block(h)
    torch.testing.assert_close(net(x), h)


def test_pan_networks_paper_layout():
    d = PANDiscriminator((256, 256), width=64)
    assert d.n_downsample == 5 and d.fc.in_features == 8 * 8 * 8
    score, feats = d(torch.zeros(1, 1, 256, 256))
    assert score.shape == (1, 1)
    assert [tuple(f.shape[1:]) for f in feats] == [
        (64, 256, 256), (256, 64, 64), (512, 32, 32), (512, 16, 16)
    ]
    small = PANDiscriminator((64, 64), width=4)
    assert small.n_downsample == 3 and small.fc.in_features == 8 * 8 * 8
    with pytest.raises(ValueError, match="expects"):
        small(torch.zeros(1, 1, 32, 32))
    g = PANGenerator(1, width=4, n_down=6).eval()
    assert g(torch.zeros(1, 1, 64, 64)).shape == (1, 1, 64, 64)
    assert not any(isinstance(m, nn.Dropout) for m in g.modules())


def _random_vgg19_state() -> dict[str, torch.Tensor]:
    state = {}
    previous = 3
    for idx, width in zip(TORCHVISION_VGG19_CONVS, TORCHVISION_VGG19_WIDTHS, strict=True):
        state[f"features.{idx}.weight"] = torch.randn(width, previous, 3, 3) * 0.05
        state[f"features.{idx}.bias"] = torch.randn(width) * 0.01
        previous = width
    state["classifier.0.weight"] = torch.zeros(4, 4)  # ignored (the real one is 4096 x 25088)
    return state


def test_vgg19_loader(tmp_path: Path):
    state = _random_vgg19_state()
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    extractor = load_vgg19_feature_extractor(path)
    assert isinstance(extractor, FeatureExtractor) and extractor.source == f"vgg19:{path}"
    assert len(extractor.sha256) == 64
    assert VGG19_FEATURE_LAYERS == (1, 6, 11, 20, 29)
    torch.testing.assert_close(extractor.backbone.features[28].weight, state["features.28.weight"])
    assert not any(p.requires_grad for p in extractor.parameters())
    extractor.train()
    assert not extractor.training
    feats = extractor(torch.rand(2, 1, 32, 32))
    assert [tuple(f.shape) for f in feats] == [
        (2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4), (2, 512, 2, 2)
    ]
    # first feature = relu(conv1_1) of the ImageNet-normalised grey image repeated to RGB
    x = torch.rand(1, 1, 16, 16)
    rgb = (x.repeat(1, 3, 1, 1) - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 3, 1, 1)
    ref = torch.relu(nn.functional.conv2d(rgb, state["features.0.weight"], state["features.0.bias"], padding=1))
    torch.testing.assert_close(extractor(x)[0], ref, rtol=1e-5, atol=1e-5)


def test_vgg19_loader_errors(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_vgg19_feature_extractor(tmp_path / "missing.pth")
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(ValueError, match="weights_only"):
        load_vgg19_feature_extractor(text)
    state = _random_vgg19_state()
    del state["features.34.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="missing"):
        load_vgg19_feature_extractor(tmp_path / "partial.pth")
    state = _random_vgg19_state()
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    torch.save(state, tmp_path / "grey.pth")
    with pytest.raises(ValueError, match="features.0.weight"):
        load_vgg19_feature_extractor(tmp_path / "grey.pth")


def test_small_vgg_features():
    net = SmallVGG(1, width=4, n_blocks=3)
    feats = net(torch.rand(2, 1, 16, 16))
    assert [tuple(f.shape) for f in feats] == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)]
