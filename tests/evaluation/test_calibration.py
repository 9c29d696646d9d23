"""Uncertainty rows, σ calibration and sparsification (upgan.evaluation.calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from upgan.evaluation import calibration_table, sparsification, uncertainty_rows


def test_uncertainty_rows_values_and_calibration() -> None:
    rng = np.random.default_rng(1)
    target = rng.random((4, 1, 16, 16))
    sigma = rng.uniform(0.01, 0.2, target.shape)
    error = rng.normal(0, 1, target.shape) * sigma  # Gaussian residual of std sigma
    unc = uncertainty_rows("mri_recon", "upgan", 200, [target + error], [sigma], target, ["final"])
    assert unc["phase"].tolist() == ["final"]
    assert unc["mean_abs_error"].iloc[0] == pytest.approx(np.abs(error).mean())
    assert unc["spearman_sigma_abs_error"].iloc[0] > 0.3
    table = calibration_table(sigma, np.abs(error), n_bins=8)
    assert list(table.columns) == ["bin", "sigma_low", "sigma_high", "n_pixels", "mean_sigma",
                                   "mean_abs_error"]
    assert len(table) == 8 and table["n_pixels"].sum() == sigma.size
    assert np.all(np.diff(table["mean_sigma"]) > 0)
    # Gaussian: E|e| = sqrt(2/pi) sigma
    ratio = table["mean_abs_error"] / table["mean_sigma"]
    assert ratio.mean() == pytest.approx(np.sqrt(2 / np.pi), abs=0.08)
    curve = sparsification(sigma, np.abs(error))
    assert (curve["mae_oracle"] <= curve["mae_by_sigma"] + 1e-12).all()
    with pytest.raises(ValueError, match="one of each per phase"):
        uncertainty_rows("mri_recon", "upgan", 200, [target], [sigma, sigma], target, ["0"])


def test_calibration_bins_by_hand() -> None:
    """σ 0.1..0.4 with |error| 1..4, shuffled: two equal-count bins {0.1, 0.2} and {0.3, 0.4}."""
    sigma = np.array([0.4, 0.1, 0.3, 0.2])
    error = np.array([4.0, 1.0, 3.0, 2.0])
    table = calibration_table(sigma, error, n_bins=2)
    assert table["n_pixels"].tolist() == [2, 2]
    assert table["sigma_low"].tolist() == [0.1, 0.3] and table["sigma_high"].tolist() == [0.2, 0.4]
    assert table["mean_sigma"].tolist() == pytest.approx([0.15, 0.35])
    assert table["mean_abs_error"].tolist() == pytest.approx([1.5, 3.5])
    # more bins than pixels: one pixel per bin
    assert len(calibration_table(sigma, error, n_bins=10)) == 4
    # subsampled to max_pixels
    rng = np.random.default_rng(0)
    big = calibration_table(rng.random(1000), rng.random(1000), n_bins=5, max_pixels=100)
    assert big["n_pixels"].sum() == 100
    with pytest.raises(ValueError, match="differ in size"):
        calibration_table(sigma, error[:3])
    with pytest.raises(ValueError, match="n_bins"):
        calibration_table(sigma, error, n_bins=0)
