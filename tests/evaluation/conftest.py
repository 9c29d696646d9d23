"""Constructed result tables shared by the claims and markdown-table tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from upgan.evaluation import claims_report, lead_model, paired_tests, summarise
from upgan.methods.registry import proposed


def _per_subject(quality: dict[str, float], tasks=("pet_to_ct", "mri_recon"), ns=(29,),
                 n_subjects: int = 15, seed: int = 0, lead_by_n=None) -> pd.DataFrame:
    """Per-subject metrics of the methods in ``quality`` (in its order): a higher quality gives
    higher SSIM/PSNR and lower MAE; ``lead_by_n(n)`` scales the proposed method's quality."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in tasks:
        for n in ns:
            subject_effect = rng.normal(0, 1, n_subjects)
            for method, quality_of_method in quality.items():
                q = quality_of_method * (lead_by_n(n) if lead_by_n and method == proposed() else 1.0)
                for i in range(n_subjects):
                    e = subject_effect[i] + rng.normal(0, 0.1)
                    rows.append({"task": task, "method": method, "n_train_patients": n,
                                 "seed": None if method == "input" else 2021,
                                 "subject_id": f"{task}_{i:02d}",
                                 "ssim": 0.80 + 0.05 * q + 0.02 * e,
                                 "psnr": 25.0 + 2.0 * q + 1.0 * e,
                                 "mae": 40.0 - 5.0 * q + 3.0 * e,
                                 "bone_dice": 0.5 + 0.1 * q if task == "pet_to_ct" else np.nan,
                                 "out_of_range_fraction": 0.0})
    frame = pd.DataFrame(rows)
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def _uncertainty(mae=(0.05, 0.04, 0.03), sigma=(0.06, 0.05, 0.04), rho=0.4, n_subjects: int = 8,
                 seeds=(2021,)) -> pd.DataFrame:
    """Per-subject uncertainty rows of the proposed method on PET->CT: numeric phases and
    ``final``, each subject's values the given ones plus a little noise (1 % of the phase mean
    change per subject; ρ ± 0.05)."""
    rng = np.random.default_rng(0)
    labels = [str(i) for i in range(len(mae))] + ["final"]
    rows = []
    for seed in seeds:
        for i in range(n_subjects):
            for k, label in enumerate(labels):
                j = min(k, len(mae) - 1)
                rows.append({"task": "pet_to_ct", "method": proposed(), "n_train_patients": 29,
                             "seed": seed, "subject_id": f"pet_to_ct_{i:02d}", "phase": label,
                             "mean_abs_error": mae[j] * (1 + rng.normal(0, 0.01)),
                             "mean_sigma": sigma[j] * (1 + rng.normal(0, 0.01)),
                             "spearman_sigma_abs_error": rho + rng.normal(0, 0.05),
                             "ause": 0.01, "coverage_68": 0.6, "coverage_95": 0.9, "nll": -1.0})
    frame = pd.DataFrame(rows)
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def _results(quality: dict[str, float], unc: pd.DataFrame | None = None, **kwargs
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(summary, significance, claims)`` of :func:`_per_subject` tables."""
    per = _per_subject(quality, **kwargs)
    summary, sig = summarise(per), paired_tests(per)
    return summary, sig, claims_report(summary, sig, unc, lead_model=lead_model(per))


@pytest.fixture
def make_per_subject() -> Callable[..., pd.DataFrame]:
    return _per_subject


@pytest.fixture
def make_uncertainty() -> Callable[..., pd.DataFrame]:
    return _uncertainty


@pytest.fixture
def make_results() -> Callable[..., tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    return _results
