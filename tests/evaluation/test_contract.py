"""Every result table has exactly the contract's columns, in order (upgan.evaluation.contract)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upgan.evaluation import (
    CONTRACT_COLUMNS,
    check_contract,
    label_cell,
    paired_tests,
    require_columns,
    subject_metrics,
    summarise,
    uncertainty_rows,
)

EXPECTED = {
    "metrics_per_subject": ["task", "method", "n_train_patients", "seed", "subject_id", "ssim", "psnr", "mae",
                            "bone_dice", "out_of_range_fraction"],
    "summary": ["task", "method", "n_train_patients", "n_subjects", "ssim_mean", "ssim_std",
                "psnr_mean", "psnr_std", "mae_mean", "mae_std", "bone_dice_mean", "bone_dice_std",
                "n_seeds", "ssim_seed_std", "psnr_seed_std", "mae_seed_std"],
    "significance": ["task", "n_train_patients", "method_a", "method_b", "metric", "family", "test",
                     "estimate", "ci_low", "ci_high", "statistic", "p_value", "p_holm", "n_seeds",
                     "n_subjects"],
    "uncertainty": ["task", "method", "n_train_patients", "seed", "subject_id", "phase", "mean_abs_error",
                    "mean_sigma", "spearman_sigma_abs_error", "ause", "coverage_68", "coverage_95", "nll"],
}


def test_contract_columns_are_the_design_contract() -> None:
    assert CONTRACT_COLUMNS == EXPECTED


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    target = rng.random((6, 1, 24, 24))
    ids = np.repeat(["a", "b", "c"], 2)
    parts = []
    for method, noise in (("upgan", 0.02), ("medgan", 0.05), ("pix2pix", 0.08)):
        pred = np.clip(target + rng.normal(0, noise, target.shape), 0, 1)
        parts.append(label_cell(subject_metrics(pred, target, ids, "pet_to_ct"), "pet_to_ct",
                                method, 29, seed=2021))
    per_subject = pd.concat(parts, ignore_index=True)
    images = [np.clip(target + rng.normal(0, s, target.shape), 0, 1) for s in (0.05, 0.03)]
    sigmas = [np.abs(im - target) + 0.01 for im in images]
    unc = uncertainty_rows("pet_to_ct", "upgan", 29, images, sigmas, target, ["0", "final"], seed=2021)
    return {"metrics_per_subject": per_subject, "summary": summarise(per_subject),
            "significance": paired_tests(per_subject), "uncertainty": unc}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_tables_match_contract(tables, name: str) -> None:
    df = tables[name]
    assert list(df.columns) == EXPECTED[name]
    assert check_contract(name, df) is df
    assert len(df) > 0


def test_label_cell_keeps_extra_only_on_request() -> None:
    per = subject_metrics(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), np.array(["x"]),
                          "pet_to_ct")
    assert "mae_head" in label_cell(per, "pet_to_ct", "upgan", 5, keep_extra=True).columns
    assert list(label_cell(per, "pet_to_ct", "upgan", 5).columns) == EXPECTED["metrics_per_subject"]


def test_check_contract_rejects_missing_extra_and_reordered(tables) -> None:
    df = tables["summary"]
    with pytest.raises(ValueError, match="missing"):
        check_contract("summary", df.drop(columns=["mae_std"]))
    with pytest.raises(ValueError, match="unexpected"):
        check_contract("summary", df.assign(extra=1))
    with pytest.raises(ValueError, match="order"):
        check_contract("summary", df[df.columns[::-1]])
    with pytest.raises(KeyError, match="unknown result table"):
        check_contract("table9", df)


def test_require_columns_names_what_is_missing() -> None:
    df = pd.DataFrame({"a": [1], "b": [2]})
    require_columns(df, ["b"], "ok")  # extra columns and any order are fine
    with pytest.raises(ValueError, match=r"claims: missing column\(s\) \['c'\]"):
        require_columns(df, ["a", "c"], "claims")
