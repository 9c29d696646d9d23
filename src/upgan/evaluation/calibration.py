"""How well the uncertainty σ tracks the error: per-phase rows of the ``uncertainty`` table,
binned reliability (calibration) and sparsification curves (normalised scale)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from upgan.evaluation.contract import CONTRACT_COLUMNS
from upgan.uncertainty import (
    ause,
    ggd_abs_quantile,
    ggd_nll,
    sigma_error_correlation,
    sparsification_curve,
)

UNCERTAINTY_MEASURES: list[str] = ["mean_abs_error", "mean_sigma", "spearman_sigma_abs_error", "ause",
                                    "coverage_68", "coverage_95", "nll"]
"""The measures of an ``uncertainty`` row (per subject and phase)."""

UNCERTAINTY_LEVELS: tuple[float, ...] = (0.68, 0.95)
"""Central GGD interval levels whose coverage is reported (``coverage_68``, ``coverage_95``)."""


def _subject_row(image: np.ndarray, sigma: np.ndarray, target: np.ndarray, mask: np.ndarray,
                 alpha: np.ndarray | None, beta: np.ndarray | None) -> dict[str, float]:
    """The uncertainty measures of one subject and phase over the pixels of ``mask``."""
    err = np.abs(np.asarray(image, dtype=np.float64) - target)[mask]
    s = np.asarray(sigma, dtype=np.float64)[mask]
    if err.size == 0:
        return dict.fromkeys(["mean_abs_error", "mean_sigma", "spearman_sigma_abs_error", "ause",
                              "coverage_68", "coverage_95", "nll"], math.nan)
    row = {"mean_abs_error": float(err.mean()), "mean_sigma": float(s.mean()),
           "spearman_sigma_abs_error": (sigma_error_correlation(s, err) if err.size > 2
                                        and np.ptp(s) > 0 and np.ptp(err) > 0 else math.nan),
           "ause": ause(s, err)}
    if alpha is None or beta is None:
        row.update({"coverage_68": math.nan, "coverage_95": math.nan, "nll": math.nan})
        return row
    a, b = np.asarray(alpha, dtype=np.float64)[mask], np.asarray(beta, dtype=np.float64)[mask]
    for level in UNCERTAINTY_LEVELS:
        row[f"coverage_{round(level * 100)}"] = float(np.mean(err <= ggd_abs_quantile(a, b, level)))
    row["nll"] = float(ggd_nll(err, a, b).mean())
    return row


def uncertainty_rows(
    task: str,
    method: str,
    n_train_patients: int,
    phase_images: Sequence[np.ndarray],
    phase_sigmas: Sequence[np.ndarray],
    target: np.ndarray,
    labels: Sequence[str],
    seed: int | None = None,
    *,
    subject_ids: np.ndarray | None = None,
    head_mask: np.ndarray | None = None,
    phase_alphas: Sequence[np.ndarray] | None = None,
    phase_betas: Sequence[np.ndarray] | None = None,
) -> pd.DataFrame:
    """Per test subject and phase, over the subject's pixels inside ``head_mask`` (normalised
    scale; ``seed``: the cell's training seed): mean |error|, mean σ, Spearman ρ(σ, |error|),
    AUSE (:func:`upgan.uncertainty.ause`), the coverage of the GGD's central 68 % and 95 %
    intervals implied by α and β (the fraction of pixels whose |error| lies inside;
    :func:`upgan.uncertainty.ggd_abs_quantile`) and the mean GGD negative log-likelihood
    (:func:`upgan.uncertainty.ggd_nll`). Coverage and NLL are NaN without α, β.

    Args:
        phase_images, phase_sigmas (and phase_alphas, phase_betas): per phase, ``(N, 1, H, W)``.
        target: ``(N, 1, H, W)``.
        labels: phase label of each entry (``"0"`` .. ``"M-1"``, ``"final"``).
        subject_ids: ``(N,)`` subject of each slice (default: one subject ``"all"``).
        head_mask: ``(N, 1, H, W)`` booleans (default: every pixel).

    Returns:
        Exactly the ``uncertainty`` contract columns, one row per subject and phase.
    """
    if not (len(phase_images) == len(phase_sigmas) == len(labels)):
        raise ValueError(f"{len(phase_images)} images, {len(phase_sigmas)} sigmas and "
                         f"{len(labels)} labels: one of each per phase expected")
    target = np.asarray(target, dtype=np.float64)
    for image, sigma in zip(phase_images, phase_sigmas, strict=True):
        if np.shape(image) != target.shape or np.shape(sigma) != target.shape:
            raise ValueError(f"phase image {np.shape(image)} / sigma {np.shape(sigma)} must match "
                             f"target {target.shape}")
    ids = (np.full(target.shape[0], "all") if subject_ids is None
           else np.asarray(subject_ids).astype(str))
    mask = np.ones(target.shape, dtype=bool) if head_mask is None else np.asarray(head_mask, dtype=bool)
    if ids.shape != (target.shape[0],) or mask.shape != target.shape:
        raise ValueError(f"subject_ids {ids.shape} / head_mask {mask.shape} must match the "
                         f"target's {target.shape[0]} slices / shape {target.shape}")
    rows = []
    for subject in dict.fromkeys(ids.tolist()):
        idx = np.flatnonzero(ids == subject)
        for m, label in enumerate(labels):
            alpha = None if phase_alphas is None else np.asarray(phase_alphas[m])[idx]
            beta = None if phase_betas is None else np.asarray(phase_betas[m])[idx]
            rows.append({"task": task, "method": method, "n_train_patients": int(n_train_patients),
                         "seed": seed, "subject_id": subject, "phase": str(label),
                         **_subject_row(np.asarray(phase_images[m])[idx], np.asarray(phase_sigmas[m])[idx],
                                        target[idx], mask[idx], alpha, beta)})
    df = pd.DataFrame(rows, columns=CONTRACT_COLUMNS["uncertainty"])
    df["seed"] = pd.array([seed] * len(df), dtype="Int64")
    return df


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
