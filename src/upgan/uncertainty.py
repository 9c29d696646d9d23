"""How the predicted uncertainty relates to the error, phase by phase (claims C3 and C4)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import integrate, special, stats


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


def ggd_abs_quantile(alpha: np.ndarray, beta: np.ndarray, level: float) -> np.ndarray:
    """Half-width ``q`` of the GGD's central ``level`` interval, ``P(|ε| <= q) = level``.

    ``(|ε| / α)^β`` is Gamma(1/β, 1)-distributed, so ``q = α · gammaincinv(1/β, level)^(1/β)``
    (equal to ``scipy.stats.gennorm(β, scale=α).ppf((1 + level) / 2)``).
    """
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    return a * np.power(special.gammaincinv(1.0 / b, level), 1.0 / b)


def ggd_nll(abs_error: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Per-pixel negative log-likelihood of the GGD with the constant included:
    ``(|ε|/α)^β - log β + log(2α) + lgamma(1/β)`` (equal to ``-scipy.stats.gennorm(β,
    scale=α).logpdf(ε)``)."""
    e = np.asarray(abs_error, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    return np.power(e / a, b) - np.log(b) + np.log(2.0 * a) + special.gammaln(1.0 / b)


def ause(sigma: np.ndarray, abs_error: np.ndarray, n_fractions: int = 20) -> float:
    """Area under the sparsification error curve: the mean |error| left after removing the
    most uncertain fraction minus the same after removing the largest errors (the oracle),
    integrated (trapezoid) over the removed fractions 0, 1/n, ..., (n-1)/n. 0 for a σ that
    ranks the errors perfectly; in the units of the error."""
    fractions = np.arange(n_fractions) / n_fractions
    curve = sparsification_curve(sigma, abs_error, tuple(fractions))
    gap = (curve["mae_by_sigma"] - curve["mae_oracle"]).to_numpy(dtype=np.float64)
    return float(integrate.trapezoid(gap, fractions))
