"""GGD negative log-likelihood and sigma against scipy.stats.gennorm; LSGAN; loss weights and
how a phase applies them."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from upgan.losses import (
    UPGANLossWeights,
    ggd_nll,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    sigma_from_alpha_beta,
)
from upgan.models import (
    UPGAN,
    CascadeConfig,
    DiscriminatorConfig,
    PhaseOutput,
    UNetConfig,
    build_discriminator,
    build_generators,
)
from upgan.training import UPGANPhase


def _draws(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    alpha = np.exp(rng.uniform(np.log(0.02), np.log(2.0), n))
    beta = np.exp(rng.uniform(np.log(0.3), np.log(8.0), n))
    residual = rng.normal(0.0, 1.0, n) * alpha * rng.uniform(0.0, 2.0, n)
    return alpha, beta, residual


def test_ggd_nll_matches_gennorm_minus_log2() -> None:
    alpha, beta, residual = _draws(2000)
    target = np.random.default_rng(1).normal(size=alpha.size)
    pred = target + residual
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    ours = ggd_nll(t(pred), t(target), t(alpha), t(beta), reduction="none").numpy()
    reference = -stats.gennorm.logpdf(residual, beta, scale=alpha) - math.log(2.0)
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-9)
    mean = ggd_nll(t(pred), t(target), t(alpha), t(beta)).item()
    assert mean == pytest.approx(reference.mean(), rel=1e-9)
    total = ggd_nll(t(pred), t(target), t(alpha), t(beta), reduction="sum").item()
    assert total == pytest.approx(reference.sum(), rel=1e-9)


def test_ggd_nll_is_the_power_form_not_the_product_form() -> None:
    # Official code multiplied by beta instead of raising to it; at beta = 2 they differ.
    one = torch.ones(1, dtype=torch.float64)
    value = ggd_nll(3 * one, 0 * one, one, 2 * one).item()
    assert value == pytest.approx(9.0 - math.log(2.0) + math.lgamma(0.5))


def test_sigma_matches_gennorm_std() -> None:
    alpha, beta, _ = _draws(500, seed=3)
    ours = sigma_from_alpha_beta(torch.from_numpy(alpha), torch.from_numpy(beta)).numpy()
    reference = stats.gennorm.std(beta, scale=alpha)
    np.testing.assert_allclose(ours, reference, rtol=1e-9)


def test_loss_and_gradients_finite_on_extreme_draws() -> None:
    g = torch.Generator().manual_seed(0)
    n = 10_000
    alpha = torch.exp(torch.empty(n).uniform_(math.log(1e-6), math.log(1e-3), generator=g))
    alpha[: n // 2] = torch.exp(torch.empty(n // 2).uniform_(-7, 3, generator=g))
    beta = torch.empty(n).uniform_(0.1, 10.0, generator=g)
    beta[:100] = 0.1
    beta[100:200] = 10.0
    target = torch.rand(n, generator=g)
    pred = target + torch.randn(n, generator=g) * torch.rand(n, generator=g) * 3
    pred[200:400] = target[200:400]  # residual exactly 0
    for dtype in (torch.float32, torch.float64):
        p = pred.to(dtype).clone().requires_grad_()
        a = alpha.to(dtype).clone().requires_grad_()
        b = beta.to(dtype).clone().requires_grad_()
        per_pixel = ggd_nll(p, target.to(dtype), a, b, reduction="none")
        assert torch.isfinite(per_pixel).all()
        per_pixel.mean().backward()
        for tensor in (p, a, b):
            assert torch.isfinite(tensor.grad).all()
        assert (p.grad[200:400] == 0).all()


def test_clamped_exponent_keeps_pushing_alpha_up() -> None:
    # Far outside the clamp the loss must still decrease when alpha grows.
    alpha = torch.tensor([1e-6], requires_grad=True)
    loss = ggd_nll(torch.tensor([1.0]), torch.tensor([0.0]), alpha, torch.tensor([10.0]))
    loss.backward()
    assert torch.isfinite(loss) and alpha.grad.item() < 0


def test_lsgan_losses() -> None:
    ones, zeros = torch.ones(2, 1, 3, 3), torch.zeros(2, 1, 3, 3)
    assert lsgan_generator_loss(ones).item() == 0.0
    assert lsgan_generator_loss(zeros).item() == 1.0
    assert lsgan_discriminator_loss(ones, zeros).item() == 0.0
    assert lsgan_discriminator_loss(zeros, ones).item() == 2.0  # not halved (paper)


def test_loss_weights_validation() -> None:
    w = UPGANLossWeights()
    assert (w.lambda_fidelity, w.lambda_adversarial) == (1.0, 0.001)
    with pytest.raises(ValueError, match="lambda_adversarial"):
        UPGANLossWeights(lambda_adversarial=-1.0)
    with pytest.raises(ValueError, match="upgan.loss.lambda_fidelity"):
        UPGANLossWeights(lambda_fidelity=float("nan"))
    with pytest.raises(ValueError, match="upgan.loss.lambda_adversarial"):
        UPGANLossWeights(lambda_adversarial=True)
    with pytest.raises(ValueError, match="upgan.loss.recipe must be one of paper, official"):
        UPGANLossWeights(recipe="offical")
    assert w.recipe == "paper"


def test_paper_recipe_weights_are_constant() -> None:
    """Eq. 2: lambda1 * GGD + lambda2 * adv at every step, no L1 term."""
    w = UPGANLossWeights(lambda_fidelity=0.7, lambda_adversarial=0.01, recipe="paper")
    for step, total in [(0, 1), (0, 9), (4, 9), (8, 9), (99, 100), (200, 100)]:
        assert w.at(step, total) == (0.0, 0.7, 0.01)


# (step, total, period) counted by hand: period = floor(3 * step / total), capped at the third.
OFFICIAL_PERIODS = [
    (0, 9, 0), (2, 9, 0), (3, 9, 1), (5, 9, 1), (6, 9, 2), (8, 9, 2),
    (0, 10, 0), (3, 10, 0), (4, 10, 1), (6, 10, 1), (7, 10, 2), (9, 10, 2),
    (0, 2, 0), (1, 2, 1),                        # 2 steps: 3 * 1 // 2 = 1, no third period
    (0, 1, 0), (5, 3, 2), (12, 10, 2),           # past the end: the last period
    (-1, 10, 0),                                 # before the start: the first
]


@pytest.mark.parametrize("step,total,period", OFFICIAL_PERIODS)
def test_official_recipe_follows_the_curriculum_by_thirds(step: int, total: int, period: int) -> None:
    from upgan.losses import OFFICIAL_CURRICULUM

    assert OFFICIAL_CURRICULUM == ((1.0, 1e-4), (0.5, 1e-3), (0.1, 1e-2))
    hand = [(1.0, 1e-4), (0.5, 1e-3), (0.1, 1e-2)][period]
    w = UPGANLossWeights(lambda_fidelity=5.0, lambda_adversarial=0.003, recipe="official")
    assert w.at(step, total) == (*hand, 0.003)  # lambda_fidelity is unused by the official recipe


def test_bad_reduction() -> None:
    x = torch.ones(1)
    with pytest.raises(ValueError, match="reduction"):
        ggd_nll(x, x, x, x, reduction="max")


# ---- the weights of the generator objective, applied by a phase --------------------------------
class _ConstantCritic(torch.nn.Module):
    """A discriminator that scores every patch 0.25: LSGAN_G = (0.25 - 1)^2 = 0.5625."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1, 2, 2), 0.25)


def _phase_terms(weights: UPGANLossWeights, step: int, total: int) -> float:
    """The generator objective of phase 0 for b-hat = 0.5, b = 0, alpha = 1, beta = 2, where
    L1 = 0.5, GGD = 0.5^2 - log 2 + log 1 + lgamma(1/2) and LSGAN_G = 0.5625 all differ."""
    cfg = CascadeConfig(n_phases=1, unet=UNetConfig(in_channels=1, base_width=4, depth=2),
                        discriminator=DiscriminatorConfig(base_width=4, n_layers=2))
    method = UPGANPhase(UPGAN(build_generators(cfg)), 0, build_discriminator(cfg), weights)
    method.on_step(step, total)
    shape = (2, 1, 8, 8)
    out = PhaseOutput(torch.full(shape, 0.5), torch.ones(shape), torch.full(shape, 2.0), torch.ones(shape))
    total_loss, _, _ = method.phase_loss(out, torch.zeros(shape), torch.zeros(shape), _ConstantCritic())
    return total_loss.item()


L1_TERM = 0.5
GGD_TERM = 0.25 - math.log(2.0) + math.lgamma(0.5)
ADV_TERM = 0.5625


@pytest.mark.parametrize("step,lambda_l1,lambda_ggd", [(0, 1.0, 1e-4), (4, 0.5, 1e-3), (8, 0.1, 1e-2)])
def test_official_objective_weighs_l1_and_ggd_as_documented(step: int, lambda_l1: float, lambda_ggd: float) -> None:
    """lambda_L1 multiplies the L1 term and lambda_GGD the GGD NLL (the curriculum's pairs over
    9 updates); swapping them changes the total."""
    weights = UPGANLossWeights(lambda_adversarial=0.003, recipe="official")
    expected = lambda_l1 * L1_TERM + lambda_ggd * GGD_TERM + 0.003 * ADV_TERM
    swapped = lambda_ggd * L1_TERM + lambda_l1 * GGD_TERM + 0.003 * ADV_TERM
    got = _phase_terms(weights, step, 9)
    assert got == pytest.approx(expected, rel=1e-6)
    assert got != pytest.approx(swapped, rel=1e-3)


def test_paper_objective_weighs_ggd_by_lambda1_and_adversarial_by_lambda2() -> None:
    """Eq. 2: lambda1 * L_ggd + lambda2 * L_adv, no L1 term."""
    weights = UPGANLossWeights(lambda_fidelity=0.7, lambda_adversarial=0.01, recipe="paper")
    got = _phase_terms(weights, 3, 9)
    assert got == pytest.approx(0.7 * GGD_TERM + 0.01 * ADV_TERM, rel=1e-6)
    assert got != pytest.approx(0.01 * GGD_TERM + 0.7 * ADV_TERM, rel=1e-3)
