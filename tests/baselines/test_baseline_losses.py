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


def test_pan_defaults_recorded():
    assert PAN_LAYER_WEIGHTS == (5.0, 1.5, 1.5, 1.0)
    assert PAN_MARGIN == 3.0


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


def test_bce_losses():
    z = torch.zeros(3, 1, 2, 2)
    assert gan_bce_generator_loss(z).item() == pytest.approx(np.log(2))
    # pix2pix halves the D objective
    assert gan_bce_discriminator_loss(z, z).item() == pytest.approx(np.log(2))
    assert gan_bce_discriminator_loss(z, z, scale=1.0).item() == pytest.approx(2 * np.log(2))
    big = torch.full((2, 1), 20.0)
    assert gan_bce_discriminator_loss(big, -big).item() < 1e-6
