"""Uncertainty attention and the UP-GAN cascade."""

import dataclasses
import json

import pytest
import torch

from upgan.losses import sigma_from_alpha_beta
from upgan.models import (
    UPGAN,
    CascadeConfig,
    DiscriminatorConfig,
    PhaseOutput,
    UNetConfig,
    build_discriminator,
    build_generators,
    cascade_config_from_dict,
    uncertainty_attention,
)


def _cfg(**kw) -> CascadeConfig:
    kw.setdefault("discriminator", DiscriminatorConfig(base_width=4, n_layers=2))
    return CascadeConfig(unet=UNetConfig(in_channels=2, base_width=4, depth=2), **kw)


def test_attention_mean_one_and_proportional() -> None:
    sigma = torch.rand(3, 1, 8, 8) + 0.01
    sigma[1] *= 1000.0
    att = uncertainty_attention(sigma)
    torch.testing.assert_close(att.mean(dim=(-2, -1)), torch.ones(3, 1))
    ratio = att / sigma
    for i in range(3):
        assert torch.allclose(ratio[i], ratio[i].flatten()[0].expand_as(ratio[i]))
    # K * sigma / sum(sigma), the paper's Eq. 4 times K
    torch.testing.assert_close(att[0], 64 * sigma[0] / sigma[0].sum())


def _previous(b: int = 2) -> PhaseOutput:
    image, alpha, beta = torch.rand(b, 1, 8, 8), torch.rand(b, 1, 8, 8) + 0.1, torch.rand(b, 1, 8, 8) + 0.5
    return PhaseOutput(image, alpha, beta, sigma_from_alpha_beta(alpha, beta))


def test_phase_input_with_and_without_guidance() -> None:
    gens = build_generators(_cfg(n_phases=2))
    a = torch.rand(2, 2, 8, 8)
    prev = _previous()
    guided = UPGAN(gens, guidance=True).phase_input(a, prev)
    assert guided.shape == (2, 3, 8, 8)
    torch.testing.assert_close(guided[:, :1], prev.image * uncertainty_attention(prev.sigma))
    torch.testing.assert_close(guided[:, 1:], a)
    ablation = UPGAN(gens, guidance=False)
    other_sigma = prev._replace(sigma=torch.rand(2, 1, 8, 8) + 5)
    plain = ablation.phase_input(a, prev)
    torch.testing.assert_close(plain[:, :1], prev.image)
    assert torch.equal(plain, ablation.phase_input(a, other_sigma))  # ignores sigma
    assert not torch.equal(guided, UPGAN(gens).phase_input(a, other_sigma))


def test_forward_and_gradient_into_earlier_phases() -> None:
    cfg = _cfg(n_phases=3)
    cascade = UPGAN(build_generators(cfg))
    outs = cascade(torch.rand(2, 2, 8, 8))
    assert len(outs) == 3 and all(o.image.shape == (2, 1, 8, 8) for o in outs)
    torch.testing.assert_close(outs[0].sigma, sigma_from_alpha_beta(outs[0].alpha, outs[0].beta))
    assert len(cascade(torch.rand(2, 2, 8, 8), n_phases=2)) == 2
    outs[-1].image.sum().backward()
    assert cascade.generators[0].image_head.weight.grad is not None
    assert cascade.generators[0].alpha_head.weight.grad.abs().sum() > 0  # through sigma


def test_config_roundtrip_and_builders() -> None:
    cfg = _cfg(n_phases=3, guidance=False)
    again = cascade_config_from_dict(json.loads(json.dumps(dataclasses.asdict(cfg))))
    assert again == cfg
    gens = build_generators(cfg)
    assert [g.config.in_channels for g in gens] == [2, 3, 3]
    assert build_discriminator(cfg).in_channels == 1
    cond = _cfg(discriminator=DiscriminatorConfig(base_width=4, n_layers=2, conditional=True))
    assert build_discriminator(cond).in_channels == 3
    with pytest.raises(ValueError, match="n_phases"):
        _cfg(n_phases=0)
    with pytest.raises(ValueError, match="unknown"):
        cascade_config_from_dict({"n_phases": 2, "bogus": 1})
