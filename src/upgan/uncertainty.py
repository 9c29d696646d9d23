"""How the predicted uncertainty relates to the error, phase by phase (claims C3 and C4)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats


def sigma_error_correlation(
    sigma: np.ndarray, abs_error: np.ndarray, max_pixels: int = 200_000, seed: int = 0
) -> float:
    """Spearman rank correlation between σ and |error| over pixels (a seeded subsample if large)."""
    s = np.asarray(sigma, dtype=np.float64).ravel()
    e = np.asarray(abs_error, dtype=np.float64).ravel()
    if s.size > max_pixels:
        pick = np.random.default_rng(seed).choice(s.size, max_pixels, replace=False)
        s, e = s[pick], e[pick]
    return float(stats.spearmanr(s, e).statistic)


def sparsification_curve(
    sigma: np.ndarray, abs_error: np.ndarray, fractions: Sequence[float] = tuple(np.linspace(0, 0.9, 10))
) -> pd.DataFrame:
    """Mean |error| of the pixels left after removing the most uncertain fraction, and the same
    after removing the largest errors (the oracle). A useful σ gives a curve close to the oracle."""
    s = np.asarray(sigma, dtype=np.float64).ravel()
    e = np.asarray(abs_error, dtype=np.float64).ravel()
    by_sigma = e[np.argsort(-s, kind="stable")]
    by_error = np.sort(e)[::-1]
    rows = []
    for f in fractions:
        k = int(round(f * e.size))
        rows.append({"fraction_removed": float(f), "mae_by_sigma": float(by_sigma[k:].mean()),
                     "mae_oracle": float(by_error[k:].mean())})
    return pd.DataFrame(rows)


def phase_summary(
    images: Sequence[np.ndarray], sigmas: Sequence[np.ndarray], targets: np.ndarray,
    labels: Sequence[str],
) -> pd.DataFrame:
    """Per phase: mean |error|, mean σ and Spearman ρ(σ, |error|) over all pixels.

    Args:
        images, sigmas: per phase, (N, 1, H, W) arrays on the normalised scale.
        targets: (N, 1, H, W).
        labels: phase label of each entry (e.g. ``"0"``, ``"1"``, ``"final"``).
    """
    rows = []
    for label, image, sigma in zip(labels, images, sigmas, strict=True):
        err = np.abs(np.asarray(image) - np.asarray(targets))
        rows.append({
            "phase": label,
            "mean_abs_error": float(err.mean()),
            "mean_sigma": float(np.asarray(sigma).mean()),
            "spearman_sigma_abs_error": sigma_error_correlation(sigma, err),
        })
    return pd.DataFrame(rows)
