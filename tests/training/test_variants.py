"""The cascade's guidance inputs, residual targets and loss variants (the mechanism study's knobs)."""

import dataclasses

import pytest
import torch

from upgan.losses import OFFICIAL_CURRICULUM, UPGANLossWeights, sigma_from_alpha_beta
from upgan.models import (
    GUIDANCE_INPUTS,
    UPGAN,
    CascadeConfig,
    PhaseOutput,
    build_discriminator,
    build_generators,
    get_guidance,
    uncertainty_attention,
)
from upgan.training import StageConfig, UPGANFineTune, UPGANPhase, train_phase

FAST = StageConfig(name="f", steps=4, batch_size=8, lr_generator=2e-3, lr_discriminator=2e-3, device="cpu")


def _previous() -> PhaseOutput:
    g = torch.Generator().manual_seed(3)
    image, alpha = torch.rand(2, 1, 8, 8, generator=g), torch.rand(2, 1, 8, 8, generator=g) + 0.1
    beta = torch.rand(2, 1, 8, 8, generator=g) + 0.5
    return PhaseOutput(image, alpha, beta, sigma_from_alpha_beta(alpha, beta))


def test_guidance_inputs_are_what_their_sources_say() -> None:
    """Each form against its definition, written out by hand."""
    p, a = _previous(), torch.rand(2, 1, 8, 8)
    att = p.sigma / p.sigma.mean(dim=(-2, -1), keepdim=True)
    expected = {
        "paper_eq4": [p.image * att],
        "none": [p.image],
        "official_concat": [p.image, p.alpha, p.beta],
        "sigma_channel": [p.image, att],
    }
    assert set(expected) == set(GUIDANCE_INPUTS)
    for name, form in GUIDANCE_INPUTS.items():
        got = UPGAN(build_generators(CascadeConfig(n_phases=2, guidance=name)), guidance=name).phase_input(a, p)
        want = torch.cat([*expected[name], a], dim=1)
        assert got.shape == (2, form.channels + 1, 8, 8)
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(att, uncertainty_attention(p.sigma))
    assert get_guidance(True).name == "paper_eq4" and get_guidance(False).name == "none"  # older bundles
    with pytest.raises(ValueError, match="unknown upgan.guidance.input 'sigma_only'; known: paper_eq4"):
        get_guidance("sigma_only")


@pytest.mark.parametrize("name", sorted(GUIDANCE_INPUTS))
def test_every_form_builds_a_cascade_whose_later_phases_take_its_channels(tiny_cfg, name) -> None:
    cfg = dataclasses.replace(tiny_cfg, n_phases=3, guidance=name)
    extra = GUIDANCE_INPUTS[name].channels
    assert [cfg.generator_config(m).in_channels for m in range(3)] == [1, 1 + extra, 1 + extra]
    outs = UPGAN(build_generators(cfg), guidance=name)(torch.rand(2, 1, 16, 16))
    assert [o.image.shape for o in outs] == [(2, 1, 16, 16)] * 3


def test_residual_to_previous_adds_the_previous_image(tiny_cfg) -> None:
    """Later phases: image = own image head + b-hat_{m-1}; with residual_to input and residual
    learning they add a's first channel instead (the channel after the guidance feature)."""
    unet = dataclasses.replace(tiny_cfg.unet, residual_from=0)
    previous_cfg = dataclasses.replace(tiny_cfg, unet=unet, residual_to="previous")
    input_cfg = dataclasses.replace(tiny_cfg, unet=unet, residual_to="input")
    assert previous_cfg.generator_config(1).residual_from is None
    assert input_cfg.generator_config(1).residual_from == 1  # a follows the one-channel feature
    gens = build_generators(previous_cfg)
    cascade = UPGAN(gens, guidance="paper_eq4", residual_to="previous").eval()
    a = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        out0, out1 = cascade(a)
        head = gens[1](cascade.phase_input(a, out0)).image
    torch.testing.assert_close(out1.image, head + out0.image)
    torch.testing.assert_close(out0.image, gens[0](a).image)  # phase 0 as before (residual to a)


@pytest.mark.parametrize("guidance", ["paper_eq4", "official_concat"])
def test_a_phase_trains_on_precomputed_inputs_as_the_cascade_runs(tiny_cfg, data, guidance) -> None:
    """The phase stage's prepared inputs (frozen phases run once) give the same phase output as
    the cascade's own forward pass, for residual_to previous too (b-hat carried along)."""
    train, _ = data
    cfg = dataclasses.replace(tiny_cfg, guidance=guidance, residual_to="previous")
    cascade = UPGAN(build_generators(cfg), guidance=guidance, residual_to="previous").eval()
    method = UPGANPhase(cascade, 1, build_discriminator(cfg), UPGANLossWeights())
    method.generator.eval()
    with torch.no_grad():
        prepared = method.prepare_inputs(train.inputs)
        assert prepared.shape[1] == 1 + GUIDANCE_INPUTS[guidance].channels + 1
        torch.testing.assert_close(method.forward_phase(prepared).image, cascade(train.inputs)[1].image)
        assert method.d_input(prepared, train.targets).shape[1] == 1  # D never sees the carried b-hat


def test_official_periods_follow_the_authors_lengths() -> None:
    """Equal thirds by default (as before); 50/50/150 epochs = 20/20/60 % of the stage."""
    thirds, official = UPGANLossWeights(recipe="official"), UPGANLossWeights(recipe="official", periods=[50, 50, 150])
    for total in (1, 2, 3, 5, 7, 10, 800):
        for step in range(total):
            old = OFFICIAL_CURRICULUM[min(3 * step // total, 2)]
            assert thirds.at(step, total)[:2] == old
    # of 10 updates: 2, 2 and 6; of 800: 160, 160, 480
    assert [official.at(s, 10)[:2] for s in range(10)] == (
        [OFFICIAL_CURRICULUM[0]] * 2 + [OFFICIAL_CURRICULUM[1]] * 2 + [OFFICIAL_CURRICULUM[2]] * 6)
    assert [sum(official.at(s, 800)[:2] == c for s in range(800)) for c in OFFICIAL_CURRICULUM] == [160, 160, 480]
    for bad in ([1, 1], [0, 1, 1], [1.5, 1, 1], "111"):
        with pytest.raises(ValueError, match="upgan.loss.periods"):
            UPGANLossWeights(recipe="official", periods=bad)


def test_paper_recipe_with_an_l1_term_and_no_adversary(tiny_cfg, data) -> None:
    """lambda_l1 adds the mean |b-hat - b|; lambda_adversarial 0 leaves no discriminator to train."""
    train, val = data
    weights = UPGANLossWeights(lambda_fidelity=0.0, lambda_adversarial=0.0, lambda_l1=1.0)
    assert weights.at(0, 10) == (1.0, 0.0, 0.0)
    cascade = UPGAN(build_generators(tiny_cfg))
    method = UPGANPhase(cascade, 0, build_discriminator(tiny_cfg), weights)
    assert method.discriminator_modules() == []
    loss, _, _ = method.generator_loss(train.inputs[:4], train.targets[:4])
    torch.testing.assert_close(loss, (method.predict(train.inputs[:4]).float() - train.targets[:4]).abs().mean())
    tuned = UPGANFineTune(cascade, [build_discriminator(tiny_cfg) for _ in range(2)], weights)
    assert tuned.discriminator_modules() == []
    g, d, history = train_phase(tiny_cfg, 0, [], train, val, FAST, weights, progress=False)
    assert history.updates == FAST.steps and all("d_loss" not in r or r["d_loss"] != r["d_loss"] for r in history)
