"""Torch metrics against scikit-image."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from upgan.metrics import mae, psnr, ssim


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    random_a = rng.random((40, 36))
    random_b = np.clip(random_a + rng.normal(0, 0.1, random_a.shape), 0, 1)
    yy, xx = np.mgrid[:48, :48]
    disk = ((yy - 24) ** 2 + (xx - 20) ** 2 < 150).astype(float) * 0.8 + 0.1
    blurred = ndimage.gaussian_filter(disk, 2.0)
    ramp = xx / 47.0
    return [(random_a, random_b), (disk, blurred), (ramp, ramp * 0.9 + 0.05), (disk, disk)]


@pytest.mark.parametrize("index", range(4))
def test_ssim_matches_skimage(index: int) -> None:
    a, b = _pairs()[index]
    expected = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    t = lambda x: torch.from_numpy(x)[None, None]  # noqa: E731
    assert ssim(t(a), t(b)).item() == pytest.approx(expected, abs=1e-10)
    got32 = ssim(t(a).float(), t(b).float()).item()
    assert got32 == pytest.approx(expected, abs=1e-4)


def test_psnr_and_mae_match_numpy_and_skimage() -> None:
    pairs = _pairs()[:3]
    for a, b in pairs:
        t = lambda x: torch.from_numpy(x)[None, None]  # noqa: E731
        assert psnr(t(b), t(a)).item() == pytest.approx(
            peak_signal_noise_ratio(a, b, data_range=1.0), rel=1e-10
        )
        assert mae(t(b), t(a)).item() == pytest.approx(np.abs(a - b).mean(), rel=1e-10)


def test_identical_images_give_inf_psnr_and_ssim_one() -> None:
    x = torch.rand(3, 1, 16, 16)
    assert torch.isinf(psnr(x, x)).all()
    torch.testing.assert_close(ssim(x, x), torch.ones(3))
    assert (mae(x, x) == 0).all()


def test_per_image_batch() -> None:
    x = torch.rand(4, 1, 20, 20)
    y = torch.rand(4, 1, 20, 20)
    batch = ssim(x, y)
    assert batch.shape == (4,)
    singles = torch.stack([ssim(x[i : i + 1], y[i : i + 1])[0] for i in range(4)])
    torch.testing.assert_close(batch, singles)


def test_shape_errors() -> None:
    with pytest.raises(ValueError):
        ssim(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError):
        mae(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 9))
