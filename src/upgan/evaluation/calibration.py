"""How well the uncertainty σ tracks the error: per-phase rows of the ``uncertainty`` table,
binned reliability (calibration) and sparsification curves (normalised scale)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from upgan.evaluation.contract import CONTRACT_COLUMNS
from upgan.uncertainty import phase_summary, sparsification_curve


def uncertainty_rows(
    task: str,
    method: str,
    n_train_patients: int,
    phase_images: Sequence[np.ndarray],
    phase_sigmas: Sequence[np.ndarray],
    target: np.ndarray,
    labels: Sequence[str],
    seed: int | None = None,
) -> pd.DataFrame:
    """Per phase mean |error|, mean σ and Spearman ρ(σ, |error|) of one cell (normalised scale;
    ``seed``: the cell's training seed).

    Args:
        phase_images, phase_sigmas: per phase, ``(N, 1, H, W)`` prediction and σ.
        target: ``(N, 1, H, W)``.
        labels: phase label of each entry (``"0"`` .. ``"M-1"``, ``"final"``).

    Returns:
        Exactly the ``uncertainty`` contract columns, one row per phase.
    """
    if not (len(phase_images) == len(phase_sigmas) == len(labels)):
        raise ValueError(f"{len(phase_images)} images, {len(phase_sigmas)} sigmas and "
                         f"{len(labels)} labels: one of each per phase expected")
    for image, sigma in zip(phase_images, phase_sigmas, strict=True):
        if np.shape(image) != np.shape(target) or np.shape(sigma) != np.shape(target):
            raise ValueError(f"phase image {np.shape(image)} / sigma {np.shape(sigma)} must match "
                             f"target {np.shape(target)}")
    df = phase_summary(phase_images, phase_sigmas, target, [str(x) for x in labels])
    df.insert(0, "seed", pd.array([seed] * len(df), dtype="Int64"))
    df.insert(0, "n_train_patients", int(n_train_patients))
    df.insert(0, "method", method)
    df.insert(0, "task", task)
    return df[CONTRACT_COLUMNS["uncertainty"]]


def _subsample(sigma: np.ndarray, abs_error: np.ndarray, max_pixels: int | None,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(sigma, dtype=np.float64).ravel()
    e = np.asarray(abs_error, dtype=np.float64).ravel()
    if s.shape != e.shape:
        raise ValueError(f"sigma ({s.size} values) and abs_error ({e.size}) differ in size")
    if s.size == 0:
        raise ValueError("no pixels to calibrate")
    if max_pixels is not None and s.size > max_pixels:
        pick = np.random.default_rng(seed).choice(s.size, max_pixels, replace=False)
        s, e = s[pick], e[pick]
    return s, e


def calibration_table(
    sigma: np.ndarray, abs_error: np.ndarray, n_bins: int = 10,
    max_pixels: int | None = 2_000_000, seed: int = 0,
) -> pd.DataFrame:
    """Binned reliability of σ: pixels sorted by σ and cut into ``n_bins`` equal-count bins
    (σ quantiles; equal counts stay well defined when σ has ties), then per bin the mean σ and
    the mean |error|. A calibrated σ of a zero-mean residual puts mean |error| near mean σ
    times ``E|ε|/σ`` (0.80 for a Gaussian, 1/√2 ≈ 0.71 for a Laplacian).

    Returns:
        Columns ``bin, sigma_low, sigma_high, n_pixels, mean_sigma, mean_abs_error``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    s, e = _subsample(sigma, abs_error, max_pixels, seed)
    order = np.argsort(s, kind="stable")
    rows = []
    for k, chunk in enumerate(np.array_split(order, min(n_bins, s.size))):
        rows.append({"bin": k, "sigma_low": float(s[chunk].min()), "sigma_high": float(s[chunk].max()),
                     "n_pixels": int(chunk.size), "mean_sigma": float(s[chunk].mean()),
                     "mean_abs_error": float(e[chunk].mean())})
    return pd.DataFrame(rows)


def sparsification(
    sigma: np.ndarray, abs_error: np.ndarray, max_pixels: int | None = 2_000_000, seed: int = 0,
) -> pd.DataFrame:
    """Sparsification curve (mean |error| after removing the most uncertain fraction, and the
    oracle that removes the largest errors); see :func:`upgan.uncertainty.sparsification_curve`."""
    s, e = _subsample(sigma, abs_error, max_pixels, seed)
    return sparsification_curve(s, e)
