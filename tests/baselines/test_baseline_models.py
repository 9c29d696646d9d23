"""Baseline networks: layouts, sizes, range mapping and the VGG-19 loader."""

import hashlib
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from upgan.models import (
    VGG19_FEATURE_LAYERS,
    CasNet,
    FeatureExtractor,
    PANDiscriminator,
    PANGenerator,
    PatchDiscriminator,
    Pix2PixUNet,
    SmallVGG,
    UnitRangeGenerator,
    VGG19Features,
    count_parameters,
    load_vgg19_feature_extractor,
)

#: torchvision vgg19().features conv and max-pool indices (independent of our layout table).
TORCHVISION_VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
TORCHVISION_VGG19_POOLS = (4, 9, 18, 27, 36)


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


#: unet_256 with 1 input and 1 output channel, by hand (4x4 kernels, 16 taps; widths
#: 64-128-256-512-512-512-512-512): encoder convs 1024 + 131072 + 524288 + 2097152 + 4 * 4194304
#: and BN 256 + 512 + 1024 * 3 + 1024; decoder convs 4194304 + 3 * 8388608 + 4194304 + 1048576 +
#: 262144 + 2048 + 1 (output bias) and BN 1024 * 4 + 512 + 256 + 128.
UNET_256_PARAMETERS = (
    (1024 + 131072 + 524288 + 2097152 + 4 * 4194304) + (256 + 512 + 1024 * 3 + 1024)
    + (4194304 + 3 * 8388608 + 4194304 + 1048576 + 262144 + 2048 + 1) + (1024 * 4 + 512 + 256 + 128)
)


def test_pix2pix_layout_and_paper_size():
    net = Pix2PixUNet(1, ngf=64, num_downs=8)
    assert count_parameters(net) == UNET_256_PARAMETERS == 54_407_809
    # with RGB in and out (2 * 64 * 16 more in, 2 * 128 * 16 + 2 more out) it is the 54.414 M
    # the PyTorch port prints for its unet_256 generator
    assert count_parameters(Pix2PixUNet(3, 3)) == UNET_256_PARAMETERS + 2 * 64 * 16 + 2 * 128 * 16 + 2
    assert round(count_parameters(Pix2PixUNet(3, 3)) / 1e6, 3) == 54.414
    # BN on the encoder except outermost and innermost; Tanh only at the output
    has_bn = [any(isinstance(m, nn.BatchNorm2d) for m in b) for b in net.down]
    assert has_bn == [False] + [True] * 6 + [False]
    assert isinstance(net.up[0][-1], nn.Tanh)
    assert sum(isinstance(m, nn.Tanh) for m in net.modules()) == 1
    # the 70x70 PatchGAN on (input, output) pairs of RGB images, by hand: conv 6->64 with bias,
    # 64->128, 128->256, 256->512 (stride 1) with BN instead, 512->1 with bias; 2.769 M as the
    # PyTorch port prints
    patchgan = (6 * 64 * 16 + 64) + (64 * 128 * 16 + 256) + (128 * 256 * 16 + 512) + (
        256 * 512 * 16 + 1024) + (512 * 16 + 1)
    assert count_parameters(PatchDiscriminator(6, 64, 3)) == patchgan == 2_768_705


def test_pix2pix_shapes_and_size_errors():
    net = Pix2PixUNet(2, ngf=4, num_downs=5).eval()
    assert net(torch.zeros(2, 2, 32, 32)).shape == (2, 1, 32, 32)
    assert net(torch.zeros(1, 2, 64, 32)).shape == (1, 1, 64, 32)
    with pytest.raises(ValueError, match="divisible by 32"):
        net(torch.zeros(1, 2, 48, 48))
    with pytest.raises(ValueError, match="expects"):
        net(torch.zeros(1, 1, 32, 32))


class _Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x[:, :1], self.value)


def test_unit_range_mapping():
    # identity network: the wrapper maps [0,1] -> [-1,1] -> back exactly
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(UnitRangeGenerator(nn.Identity())(x), x)
    torch.testing.assert_close(UnitRangeGenerator(nn.Identity()).forward_signed(x), x)
    # a network answering 0 on [-1, 1] means 0.5 on [0, 1]; with residual learning it is a zero
    # correction, so the first input channel comes back
    x2 = torch.rand(2, 2, 8, 8)
    torch.testing.assert_close(UnitRangeGenerator(_Constant(0.0))(x2), torch.full((2, 1, 8, 8), 0.5))
    torch.testing.assert_close(UnitRangeGenerator(_Constant(0.0), residual=True)(x2), x2[:, :1])
    # -0.5 on [-1, 1] is 0.25 on [0, 1]: (-0.5 + 1) / 2
    torch.testing.assert_close(UnitRangeGenerator(_Constant(-0.5))(x2), torch.full((2, 1, 8, 8), 0.25))
    # a Tanh network with saturating weights stays inside [0, 1]
    net = Pix2PixUNet(1, ngf=4, num_downs=3).eval()
    with torch.no_grad():
        net.up[0][1].bias.fill_(50.0)
    out = UnitRangeGenerator(net)(torch.rand(2, 1, 16, 16))
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() > 0.99


#: Parameters of Pix2PixUNet(c_in, 1, ngf=2, num_downs=3) by hand (widths 2-4-8, 4x4 kernels):
#: encoder c_in*2*16 (no bias) + 2*4*16 + BN(4) 8 + 4*8*16 (innermost, no BN);
#: decoder ConvT 8->4 512 + BN(4) 8, ConvT (4+4)->2 256 + BN(2) 4, ConvT (2+2)->1 64 + bias 1.
def _tiny_unet_parameters(c_in: int) -> int:
    return 32 * c_in + (128 + 8 + 512) + (512 + 8) + (256 + 4) + (64 + 1)


def test_pix2pix_and_casnet_parameter_counts_by_hand():
    assert count_parameters(Pix2PixUNet(2, ngf=2, num_downs=3)) == _tiny_unet_parameters(2) == 1557
    # a chain: only block 0 sees the 2 input channels; blocks 1, 2 take the 1-channel output
    casnet = CasNet(2, n_blocks=3, ngf=2, num_downs=3)
    assert count_parameters(casnet) == _tiny_unet_parameters(2) + 2 * _tiny_unet_parameters(1)


def test_casnet_does_not_feed_the_raw_input_again():
    torch.manual_seed(0)
    net = CasNet(2, n_blocks=2, ngf=2, num_downs=3).eval()
    x1, x2 = torch.rand(1, 2, 16, 16), torch.rand(1, 2, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(net(x1), net(x2))
        # block 0 now outputs tanh(0.3) everywhere, whatever its input
        net.blocks[0].up[0][1].weight.zero_()
        net.blocks[0].up[0][1].bias.fill_(0.3)
        torch.testing.assert_close(net.blocks[0](x1), torch.full((1, 1, 16, 16), math.tanh(0.3)))
        # so the chain's output no longer depends on the input: block 1 sees block 0 only
        torch.testing.assert_close(net(x1), net(x2))


def test_pan_discriminator_parameter_count_by_hand():
    # width 1, 64x64: 3 stride-2 slots (final map 8x8); 3x3 kernels (9 taps). Widths 1, 2, 2, 4,
    # 4, 8, 8, 8, 8; L1 and L9 carry a bias, L2-L8 a BN (2 per channel) instead.
    convs = [1 * 1 * 9 + 1, 1 * 2 * 9 + 4, 2 * 2 * 9 + 4, 2 * 4 * 9 + 8, 4 * 4 * 9 + 8,
             4 * 8 * 9 + 16, 8 * 8 * 9 + 16, 8 * 8 * 9 + 16, 8 * 8 * 9 + 8]
    fc = 8 * 8 * 8 + 1
    d = PANDiscriminator((64, 64), width=1)
    assert count_parameters(d) == sum(convs) + fc == 2889


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


def test_vgg19_feature_layers_are_the_first_relu_of_each_block():
    layers = list(VGG19Features().features)
    assert [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)] == list(TORCHVISION_VGG19_CONVS)
    assert [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)] == list(TORCHVISION_VGG19_POOLS)
    # relu1_1 follows conv1_1 (index 0); relu{k}_1 is two past the (k-1)-th pool (pool, conv, relu)
    first_relus = [1] + [pool + 2 for pool in TORCHVISION_VGG19_POOLS[:4]]
    assert list(VGG19_FEATURE_LAYERS) == first_relus
    assert all(isinstance(layers[i], nn.ReLU) for i in VGG19_FEATURE_LAYERS)


def test_vgg19_loader(vgg19_state_file: Path):
    path = vgg19_state_file
    state = torch.load(path, weights_only=True)
    extractor = load_vgg19_feature_extractor(path)
    assert isinstance(extractor, FeatureExtractor) and extractor.source == f"vgg19:{path}"
    assert extractor.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
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


def test_vgg19_loader_errors(tmp_path: Path, vgg19_state_file: Path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_vgg19_feature_extractor(tmp_path / "missing.pth")
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(ValueError, match="weights_only"):
        load_vgg19_feature_extractor(text)
    state = torch.load(vgg19_state_file, weights_only=True)
    del state["features.34.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="missing"):
        load_vgg19_feature_extractor(tmp_path / "partial.pth")
    state = torch.load(vgg19_state_file, weights_only=True)
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    torch.save(state, tmp_path / "grey.pth")
    with pytest.raises(ValueError, match="features.0.weight"):
        load_vgg19_feature_extractor(tmp_path / "grey.pth")


def test_small_vgg_features():
    net = SmallVGG(1, width=4, n_blocks=3)
    feats = net(torch.rand(2, 1, 16, 16))
    assert [tuple(f.shape) for f in feats] == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)]
