"""The mechanism comparison (upgan.evaluation.variants) against independent references: scipy's
Welch test on per-seed means computed by loops, statsmodels' Holm, and hand-made skull cases."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from upgan.evaluation.variants import (
    SKULL_LOST_DICE,
    sigma_quality,
    skull_loss,
    variant_points,
    variant_tests,
    variants_markdown,
)

ROLES = {"upgan": "proposed", "upgan_concat": "variant", "upgan_no_guidance": "ablation",
         "unet_l1": "control", "pix2pix": "baseline"}
SEEDS = (1, 2, 3, 4)
SUBJECTS = [f"s{i}" for i in range(6)]


def _table(rng, shifts: dict[str, float], task: str = "pet_to_ct", n: int = 29) -> pd.DataFrame:
    rows = []
    for method, shift in shifts.items():
        for seed in SEEDS:
            seed_effect = rng.normal(0, 0.02)
            for k, subject in enumerate(SUBJECTS):
                base = 0.7 + 0.01 * k + shift + seed_effect
                rows.append({"task": task, "method": method, "n_train_patients": n, "seed": seed,
                             "subject_id": subject, "ssim": base + rng.normal(0, 0.005),
                             "psnr": 20 + 10 * base, "mae": 1 - base, "bone_dice": base - 0.3,
                             "out_of_range_fraction": 0.0})
    return pd.DataFrame(rows)


def _welch_by_loops(frame, method, versus, metric):
    def per_seed(m):
        rows = frame[frame.method == m]
        return np.array([rows[rows.seed == s][metric].mean() for s in SEEDS])
    b, a = per_seed(method), per_seed(versus)
    return b.mean() - a.mean(), stats.ttest_ind(b, a, equal_var=False).pvalue


def test_variant_tests_match_welch_on_seed_means_and_holm_per_comparator(rng):
    frame = _table(rng, {"upgan": 0.0, "upgan_concat": 0.05, "upgan_no_guidance": 0.01, "unet_l1": 0.02,
                         "pix2pix": -0.1})
    tests = variant_tests(frame, ROLES)
    assert set(tests.method) == {"upgan", "upgan_concat"}  # the baseline is no variant
    assert set(tests.versus) == {"upgan_no_guidance", "unet_l1"}
    assert set(tests.metric) == {"ssim", "psnr", "mae", "bone_dice"}
    for row in tests.itertuples(index=False):
        estimate, p = _welch_by_loops(frame, row.method, row.versus, row.metric)
        assert row.estimate == pytest.approx(estimate, rel=1e-9, abs=1e-12)
        assert row.p_value == pytest.approx(p, rel=1e-9)
        assert row.n_seeds == len(SEEDS) and row.n_subjects == len(SUBJECTS)
    for _, family in tests.groupby("versus"):
        assert len(family) == 2 * 4
        want = multipletests(family.p_value.to_numpy(), method="holm")[1]
        np.testing.assert_allclose(family.p_holm.to_numpy(), want, rtol=1e-12)


def test_the_verdict_is_the_variants_with_the_metrics_direction(rng):
    frame = _table(rng, {"upgan": 0.0, "upgan_concat": 0.2, "upgan_no_guidance": 0.0, "unet_l1": 0.0})
    tests = variant_tests(frame, ROLES).set_index(["method", "versus", "metric"]).sort_index()
    # +0.2 on the base: higher SSIM, PSNR and bone Dice, lower MAE -- better on every metric
    concat = tests.loc[("upgan_concat", "upgan_no_guidance")]
    assert (concat["verdict"] == "better").all()
    assert concat.loc["mae", "estimate"] < 0 < concat.loc["ssim", "estimate"]
    reverse = variant_tests(_table(rng, {"upgan": 0.0, "upgan_no_guidance": 0.2}), ROLES)
    assert (reverse["verdict"] == "worse").all()


def test_skull_loss_counts_seeds_below_the_threshold():
    rows = []
    for seed, dice in zip(SEEDS, (0.50, 0.10, 0.29, 0.31), strict=True):
        for subject, offset in zip(SUBJECTS[:2], (-0.01, 0.01), strict=True):
            rows.append({"task": "pet_to_ct", "method": "upgan", "n_train_patients": 29, "seed": seed,
                         "subject_id": subject, "bone_dice": dice + offset})
    rows.append({"task": "pet_to_ct", "method": "input", "n_train_patients": 29, "seed": np.nan,
                 "subject_id": "s0", "bone_dice": 0.0})
    rows.append({"task": "mri_recon", "method": "upgan", "n_train_patients": 16, "seed": 1,
                 "subject_id": "s0", "bone_dice": np.nan})
    skull = skull_loss(pd.DataFrame(rows))
    assert skull.to_dict("records") == [{
        "task": "pet_to_ct", "method": "upgan", "n_seeds": 4, "n_skull_lost": 2, "seeds_skull_lost": "2 3",
        "bone_dice_mean": pytest.approx(np.mean([0.50, 0.10, 0.29, 0.31])),
        "bone_dice_seed_min": pytest.approx(0.10)}]
    assert SKULL_LOST_DICE == 0.3


def test_sigma_quality_takes_the_final_output_per_seed():
    rows = []
    for seed, ause in zip((1, 2, 3), (0.1, 0.2, 0.6), strict=True):
        for phase, factor in (("0", 10.0), ("1", 5.0), ("final", 1.0)):
            for subject, offset in (("a", -0.01), ("b", 0.01)):
                rows.append({"task": "mri_recon", "method": "upgan", "n_train_patients": 16, "seed": seed,
                             "subject_id": subject, "phase": phase, "ause": factor * ause + offset,
                             "coverage_95": 0.9, "spearman_sigma_abs_error": 0.5})
    table = sigma_quality(pd.DataFrame(rows))
    row = table.iloc[0]
    assert row.n_seeds == 3
    assert row.ause_mean == pytest.approx(0.3) and row.ause_sd == pytest.approx(np.std([0.1, 0.2, 0.6], ddof=1))
    assert row.coverage_95_mean == pytest.approx(0.9)


def test_the_markdown_names_each_comparison_and_says_when_there_is_nothing(rng):
    frame = _table(rng, {"upgan": 0.0, "upgan_concat": 0.05, "upgan_no_guidance": 0.01, "unet_l1": 0.02})
    text = variants_markdown(variant_tests(frame, ROLES), skull_loss(frame), sigma_quality(None),
                             {"unet_l1": "U-Net, L1 only"})
    assert "## pet_to_ct: against U-Net, L1 only (`unet_l1`), 4 seeds" in text
    assert "| upgan_concat |" in text and "Skull lost" in text
    empty = variants_markdown(variant_tests(frame[frame.method == "pix2pix"], ROLES),
                              skull_loss(frame.iloc[0:0]), sigma_quality(None))
    assert "No variants" in empty


def test_variant_points_are_per_seed_means_with_the_final_sigma(rng):
    frame = _table(rng, {"upgan": 0.0, "upgan_no_guidance": 0.01, "unet_l1": 0.02, "pix2pix": -0.1})
    frame = pd.concat([frame, frame.assign(n_train_patients=5, mae=99.0)])  # a sweep count: not shown
    sigma = []
    for seed in SEEDS:
        for phase, ause in (("0", 0.9), ("final", 0.01 * seed)):
            for subject, offset in (("a", -0.001), ("b", 0.001)):
                sigma.append({"task": "pet_to_ct", "method": "upgan", "n_train_patients": 29, "seed": seed,
                              "subject_id": subject, "phase": phase, "ause": ause + offset})
    points = variant_points(frame, pd.DataFrame(sigma), ROLES)
    assert set(points.method) == {"upgan", "upgan_no_guidance", "unet_l1"}  # no baseline
    assert len(points) == 3 * len(SEEDS)
    for row in points.itertuples(index=False):
        own = frame[(frame.method == row.method) & (frame.seed == row.seed) & (frame.n_train_patients == 29)]
        assert row.mae == pytest.approx(own.mae.mean()) and row.bone_dice == pytest.approx(own.bone_dice.mean())
        assert row.role == ROLES[row.method]
        if row.method == "upgan":
            assert row.ause == pytest.approx(0.01 * row.seed)
        else:
            assert np.isnan(row.ause)  # no σ recorded for it
