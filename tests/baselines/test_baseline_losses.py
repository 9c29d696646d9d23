"""Baseline losses against hand values and independent numpy computations."""

import numpy as np
import pytest
import torch

from upgan.losses_baselines import (
    PAN_LAYER_WEIGHTS,
    PAN_MARGIN,
    content_loss,
    gan_bce_discriminator_loss,
    gan_bce_generator_loss,
    gram_matrix,
    medgan_perceptual_loss,
    pan_discriminator_margin,
    pan_perceptual_distance,
    style_loss,
)


def test_pan_defaults_weigh_the_layers_and_set_the_margin():
    """PAN-fd's lambda = (5, 1.5, 1.5, 1) and m = 3, seen through the losses: layer i differs by
    i + 1 everywhere, so the distance is 5 * 1 + 1.5 * 2 + 1.5 * 3 + 1 * 4 = 16.5 by hand."""
    real = [torch.zeros(2, c, s, s) for c, s in ((1, 8), (2, 4), (4, 2), (8, 1))]
    fake = [torch.full_like(r, float(i + 1)) for i, r in enumerate(real)]
    assert pan_perceptual_distance(real, fake).item() == pytest.approx(16.5)
    assert pan_perceptual_distance(real, fake, PAN_LAYER_WEIGHTS).item() == pytest.approx(16.5)
    # [m - d]^+ with m = 3: 3 - 1 = 2 below the margin, nothing at or above it
    d = torch.tensor([1.0, 3.0, 16.5])
    np.testing.assert_allclose(pan_discriminator_margin(d).numpy(), [2.0, 0.0, 0.0])
    np.testing.assert_allclose(pan_discriminator_margin(d, PAN_MARGIN).numpy(), [2.0, 0.0, 0.0])


def test_pan_margin_hand_values_and_gradient():
    d = torch.tensor([0.5, 2.0, 2.9, 3.5, 10.0], requires_grad=True)
    out = pan_discriminator_margin(d, margin=3.0)
    np.testing.assert_allclose(out.detach().numpy(), [2.5, 1.0, 0.1, 0.0, 0.0], atol=1e-6)
    out.sum().backward()
    # d < m: d(m - d)/dd = -1; d > m: the term is 0 and gives no gradient
    np.testing.assert_allclose(d.grad.numpy(), [-1.0, -1.0, -1.0, 0.0, 0.0])


def test_pan_perceptual_distance_hand_value():
    real = [torch.zeros(2, 1, 2, 2), torch.zeros(2, 3, 1, 1)]
    fake = [torch.full((2, 1, 2, 2), 0.5), torch.tensor([1.0, -2.0, 3.0]).view(1, 3, 1, 1).repeat(2, 1, 1, 1)]
    d = pan_perceptual_distance(real, fake, weights=(2.0, 1.0))
    assert d.item() == pytest.approx(2.0 * 0.5 + 1.0 * 2.0)
    per = pan_perceptual_distance(real, fake, weights=(2.0, 1.0), reduction="none")
    assert per.shape == (2,)
    with pytest.raises(ValueError, match="weights"):
        pan_perceptual_distance(real, fake, weights=(1.0,))


def test_gram_matrix_against_einsum():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w).astype(np.float64)
    expected = np.einsum("bik,bjk->bij", flat, flat) / (c * h * w)
    got = gram_matrix(torch.from_numpy(f)).numpy()
    assert got.shape == (2, 3, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_style_and_content_against_numpy():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    b = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)

    def gram(x):
        x = x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
        return np.einsum("bik,bjk->bij", x, x) / x[0].size

    style_np = ((gram(a) - gram(b)) ** 2).sum(axis=(1, 2)).mean() / (4 * 3**2)
    content_np = ((a.astype(np.float64) - b) ** 2).reshape(2, -1).sum(1).mean() / (3 * 4 * 4)
    ta, tb = [torch.from_numpy(a)], [torch.from_numpy(b)]
    assert style_loss(ta, tb).item() == pytest.approx(style_np, rel=1e-5)
    assert content_loss(ta, tb).item() == pytest.approx(content_np, rel=1e-5)
    assert style_loss(ta * 2, tb * 2, weights=[0.5, 2.0]).item() == pytest.approx(
        style_np * 2.5, rel=1e-5
    )
    perc = np.abs(a - b).reshape(2, -1).sum(1).mean() / (3 * 4 * 4)
    assert medgan_perceptual_loss(ta, tb).item() == pytest.approx(perc, rel=1e-5)


def _bce_numpy(logits: np.ndarray, label: float) -> float:
    """Mean binary cross-entropy of sigmoid(logits) against ``label``, in float64."""
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    return float(np.mean(-(label * np.log(p) + (1.0 - label) * np.log(1.0 - p))))


def test_bce_losses():
    z = torch.zeros(3, 1, 2, 2)
    assert gan_bce_generator_loss(z).item() == pytest.approx(np.log(2))
    # pix2pix halves the D objective
    assert gan_bce_discriminator_loss(z, z).item() == pytest.approx(np.log(2))
    assert gan_bce_discriminator_loss(z, z, scale=1.0).item() == pytest.approx(2 * np.log(2))
    # a confident, right discriminator: log(1 + e^-5) per term
    big = torch.full((2, 1), 5.0)
    assert gan_bce_discriminator_loss(big, -big, scale=1.0).item() == pytest.approx(
        2 * np.log1p(np.exp(-5.0)), rel=1e-5
    )
    # and a confident, wrong one: log(1 + e^5) per term
    assert gan_bce_discriminator_loss(-big, big, scale=1.0).item() == pytest.approx(
        2 * np.log1p(np.exp(5.0)), rel=1e-5
    )


def test_bce_losses_against_numpy():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(0.0, 3.0, (4, 1, 5, 5)), rng.normal(-1.0, 2.0, (4, 1, 5, 5))
    t_real, t_fake = torch.from_numpy(real).float(), torch.from_numpy(fake).float()
    assert gan_bce_generator_loss(t_fake).item() == pytest.approx(_bce_numpy(fake, 1.0), rel=1e-5)
    both = _bce_numpy(real, 1.0) + _bce_numpy(fake, 0.0)
    assert gan_bce_discriminator_loss(t_real, t_fake).item() == pytest.approx(0.5 * both, rel=1e-5)
    assert gan_bce_discriminator_loss(t_real, t_fake, scale=1.0).item() == pytest.approx(both, rel=1e-5)
