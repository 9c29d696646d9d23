"""The results contract: the exact columns of every result table written under
``data/08_reporting/``, the metrics they carry, and the checks that hold tables to them."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

INPUT = "input"
"""Method name of the do-nothing reference: the corrupted input scored as the prediction."""

METRICS: tuple[str, ...] = ("ssim", "psnr", "mae")
"""Metrics summarised and tested, in table order."""

HIGHER_IS_BETTER: dict[str, bool] = {"ssim": True, "psnr": True, "mae": False}

CONTRACT_COLUMNS: dict[str, list[str]] = {
    "metrics_per_subject": ["task", "method", "n_train_patients", "seed", "subject_id", "ssim", "psnr",
                            "mae", "bone_dice", "out_of_range_fraction"],
    "summary": ["task", "method", "n_train_patients", "n_subjects", "ssim_mean", "ssim_std",
                "psnr_mean", "psnr_std", "mae_mean", "mae_std", "bone_dice_mean", "bone_dice_std",
                "n_seeds", "ssim_seed_std", "psnr_seed_std", "mae_seed_std"],
    "significance": ["task", "n_train_patients", "method_a", "method_b", "metric", "family", "test",
                     "estimate", "ci_low", "ci_high", "statistic", "p_value", "p_holm", "n_seeds",
                     "n_subjects"],
    "uncertainty": ["task", "method", "n_train_patients", "seed", "subject_id", "phase", "mean_abs_error",
                    "mean_sigma", "spearman_sigma_abs_error", "ause", "coverage_68", "coverage_95", "nll"],
}
"""Exact columns (and order) of the result tables written under ``data/08_reporting/``.

``seed`` is the training seed of a row's cell; it is empty for the do-nothing ``input``, which
trains nothing. Summaries and tests pool seeds (see :mod:`upgan.evaluation.seeds`)."""


def check_contract(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Check that ``df`` has exactly the columns (and order) of result table ``name``.

    Returns ``df`` unchanged so it can be used inline; raises ``KeyError`` for an unknown table
    name and ``ValueError`` naming the missing, unexpected or misordered columns otherwise.
    """
    if name not in CONTRACT_COLUMNS:
        raise KeyError(f"unknown result table {name!r}; known: {', '.join(CONTRACT_COLUMNS)}")
    expected = CONTRACT_COLUMNS[name]
    got = [str(c) for c in df.columns]
    if got != expected:
        missing = [c for c in expected if c not in got]
        extra = [c for c in got if c not in expected]
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        if not parts:
            parts.append("columns in the wrong order")
        raise ValueError(f"{name}: columns {got} break the results contract ({'; '.join(parts)}); "
                         f"expected exactly {expected}")
    return df


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Fail with a ``ValueError`` naming ``what`` when ``df`` lacks any of ``columns`` (extra
    columns and any order are fine)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got {list(df.columns)}")


def label_cell(
    per_subject: pd.DataFrame, task: str, method: str, n_train_patients: int,
    seed: int | None = None, keep_extra: bool = False,
) -> pd.DataFrame:
    """Prefix :func:`upgan.evaluation.subject_metrics` output with its cell, giving
    ``metrics_per_subject`` rows (``seed``: the cell's training seed, ``None`` for ``input``).

    With ``keep_extra`` the non-contract columns (``mae_head``) are kept after the contract
    ones; by default the result has exactly the contract columns.
    """
    df = per_subject.copy()
    df.insert(0, "seed", pd.array([seed] * len(df), dtype="Int64"))
    df.insert(0, "n_train_patients", int(n_train_patients))
    df.insert(0, "method", method)
    df.insert(0, "task", task)
    cols = CONTRACT_COLUMNS["metrics_per_subject"]
    extra = [c for c in df.columns if c not in cols] if keep_extra else []
    return df[cols + extra].reset_index(drop=True)
