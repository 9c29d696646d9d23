"""Per-subject metrics against scikit-image and hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from upgan.evaluation import PSNR_CAP_DB, psnr_from_mse, subject_metrics


def _phantom(n: int, size: int = 48, seed: int = 0) -> np.ndarray:
    """Smooth, textured slices in [0.1, 0.9] (no constant regions)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 1, size, size))
    for k in range(n):
        field = ndimage.gaussian_filter(rng.random((size, size)), 3.0)
        field = (field - field.min()) / (field.max() - field.min())
        out[k, 0] = 0.1 + 0.8 * field
    return out


def _skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)


def test_identical_images_give_ssim_one_and_capped_psnr() -> None:
    x = _phantom(4)
    df = subject_metrics(x, x.copy(), np.array(["a", "a", "b", "b"]), "mri_recon")
    assert list(df.columns) == ["subject_id", "ssim", "psnr", "mae"]
    assert df["subject_id"].tolist() == ["a", "b"]
    assert np.allclose(df["ssim"], 1.0, atol=1e-12)
    assert (df["psnr"] == PSNR_CAP_DB).all()
    assert np.isfinite(df["psnr"]).all()
    assert (df["mae"] == 0).all()


def test_psnr_cap_applies_to_tiny_errors_too() -> None:
    assert psnr_from_mse(0.0) == PSNR_CAP_DB
    assert psnr_from_mse(1e-15) == PSNR_CAP_DB
    assert psnr_from_mse(0.01) == pytest.approx(20.0)


def test_ssim_is_skimage_per_slice_then_averaged_per_subject() -> None:
    target = _phantom(5, seed=1)
    rng = np.random.default_rng(2)
    pred = np.clip(ndimage.gaussian_filter(target, (0, 0, 1.2, 1.2))
                   + rng.normal(0, 0.03, target.shape), 0, 1)
    ids = np.array(["s1", "s2", "s1", "s2", "s2"])
    df = subject_metrics(pred, target, ids, "mri_motion").set_index("subject_id")
    for subject in ("s1", "s2"):
        idx = np.flatnonzero(ids == subject)
        expected = np.mean([_skimage_ssim(pred[i, 0], target[i, 0]) for i in idx])
        assert df.loc[subject, "ssim"] == pytest.approx(expected, abs=1e-9)
        # PSNR from the MSE over all of the subject's pixels (not the mean of slice PSNRs)
        expected_psnr = peak_signal_noise_ratio(target[idx], pred[idx], data_range=1.0)
        assert df.loc[subject, "psnr"] == pytest.approx(expected_psnr, abs=1e-9)
        assert df.loc[subject, "mae"] == pytest.approx(np.abs(pred[idx] - target[idx]).mean())


def test_gaussian_noise_gives_expected_psnr() -> None:
    sigma = 0.02
    target = _phantom(6, size=64, seed=3)
    noise = np.random.default_rng(4).normal(0, sigma, target.shape)
    df = subject_metrics(target + noise, target, np.array(["a"] * 6), "mri_recon")
    assert df["psnr"].iloc[0] == pytest.approx(20 * math.log10(1 / sigma), abs=0.1)


def test_ct_mae_in_hu_overall_and_in_head_mask() -> None:
    window = (-1024.0, 3071.0)
    width = 4095.0
    hu = np.full((2, 1, 16, 16), -1000.0)  # air
    hu[:, :, 4:12, 4:12] = 40.0  # brain-like tissue: 64 head pixels of 256
    target = (hu - window[0]) / width
    pred = target.copy()
    pred[:, :, 4:12, 4:12] += 100.0 / width  # +100 HU inside the head
    pred[:, :, 0, :] += 20.0 / width  # +20 HU on one background row (16 pixels)
    df = subject_metrics(pred, target, np.array(["p", "p"]), "pet_to_ct", hu_window=window)
    assert list(df.columns) == ["subject_id", "ssim", "psnr", "mae", "mae_head"]
    expected_overall = (64 * 100.0 + 16 * 20.0) / 256.0
    assert df["mae"].iloc[0] == pytest.approx(expected_overall, rel=1e-9)
    assert df["mae_head"].iloc[0] == pytest.approx(100.0, rel=1e-9)


def test_ct_hu_scaling_follows_the_window() -> None:
    rng = np.random.default_rng(5)
    target = rng.random((2, 1, 16, 16))
    pred = target + 0.01
    df = subject_metrics(pred, target, np.array(["p", "p"]), "pet_to_ct", hu_window=(-1000.0, 1000.0))
    assert df["mae"].iloc[0] == pytest.approx(0.01 * 2000.0, rel=1e-6)
    mri = subject_metrics(pred, target, np.array(["p", "p"]), "mri_recon")
    assert mri["mae"].iloc[0] == pytest.approx(0.01, rel=1e-6)


def test_bad_inputs_fail_clearly() -> None:
    x = _phantom(2, size=16)
    with pytest.raises(ValueError, match="unknown task"):
        subject_metrics(x, x, np.array(["a", "a"]), "ct_to_pet")
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        subject_metrics(x[:, 0], x[:, 0], np.array(["a", "a"]), "mri_recon")
    with pytest.raises(ValueError, match="subject_ids"):
        subject_metrics(x, x, np.array(["a"]), "mri_recon")


def test_example_slice_is_the_fullest_slice_of_the_middle_subject():
    """Subjects sorted c, a, b -> a, b, c; the middle one is b; its fullest slice wins, whatever
    the order the slices come in."""
    from upgan.evaluation import example_slice

    means = [0.9, 0.2, 0.5, 0.3, 0.95, 0.1]
    ids = np.array(["c", "b", "b", "b", "a", "c"])
    targets = np.stack([np.full((1, 4, 4), m) for m in means])
    assert example_slice(targets, ids) == 2
    with pytest.raises(ValueError, match="at least one slice"):
        example_slice(targets[:0], ids[:0])
