"""Summary statistics and paired tests on constructed per-subject tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from upgan.evaluation import CONTRACT_COLUMNS, paired_test, paired_tests, summarise


def _cell(task: str, method: str, n: int, values: dict[str, np.ndarray], ids=None) -> pd.DataFrame:
    k = len(next(iter(values.values())))
    ids = ids if ids is not None else [f"s{i:02d}" for i in range(k)]
    return pd.DataFrame({"task": task, "method": method, "n_train_patients": n,
                         "subject_id": ids, **values})


def _planted(seed: int, effect: float, n_subjects: int = 15) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(0.85, 0.04, n_subjects)
    psnr = rng.normal(27.0, 1.5, n_subjects)
    mae = rng.normal(30.0, 5.0, n_subjects)
    a = _cell("pet_to_ct", "upgan", 29, {"ssim": base, "psnr": psnr, "mae": mae})
    noise = lambda s: rng.normal(0, s, n_subjects)  # noqa: E731
    if effect:
        b_ssim = base - effect + noise(0.01)
        b_psnr = psnr - 2.0 + noise(0.3)
        b_mae = mae + 5.0 + noise(1.0)
    else:  # an independent draw of the same distribution
        b_ssim = rng.normal(0.85, 0.04, n_subjects)
        b_psnr = rng.normal(27.0, 1.5, n_subjects)
        b_mae = rng.normal(30.0, 5.0, n_subjects)
    b = _cell("pet_to_ct", "medgan", 29, {"ssim": b_ssim, "psnr": b_psnr, "mae": b_mae})
    return pd.concat([a, b.sample(frac=1.0, random_state=seed)], ignore_index=True)  # shuffled


def test_paired_tests_detect_a_planted_effect() -> None:
    sig = paired_tests(_planted(0, effect=0.05))
    assert list(sig.columns) == CONTRACT_COLUMNS["significance"]
    assert len(sig) == 3 * 2
    assert set(sig["method_a"]) == {"upgan"} and set(sig["method_b"]) == {"medgan"}
    assert (sig["p_value"] < 0.01).all(), sig
    ssim_t = sig[(sig["metric"] == "ssim") & (sig["test"] == "paired_t")]["statistic"].iloc[0]
    assert ssim_t > 0  # statistic of a - b: UP-GAN higher


def test_paired_tests_pair_by_subject_id() -> None:
    df = _planted(1, effect=0.05)
    sig = paired_tests(df)
    a = df[df.method == "upgan"].set_index("subject_id").sort_index()
    b = df[df.method == "medgan"].set_index("subject_id").sort_index()
    expected = stats.wilcoxon(a["ssim"], b["ssim"]).pvalue
    got = sig[(sig.metric == "ssim") & (sig.test == "wilcoxon")]["p_value"].iloc[0]
    assert got == pytest.approx(expected)


def test_paired_tests_null_effect() -> None:
    sig = paired_tests(_planted(7, effect=0.0))
    assert (sig["p_value"] > 0.05).all(), sig
    rejections = 0
    total = 0
    for seed in range(40):
        s = paired_tests(_planted(100 + seed, effect=0.0))
        w = s[s["test"] == "wilcoxon"]
        rejections += int((w["p_value"] < 0.05).sum())
        total += len(w)
    assert rejections / total < 0.12  # nominal 5 %


def test_all_zero_differences_give_p_one() -> None:
    x = np.array([0.8, 0.9, 0.7, 0.85])
    assert paired_test(x, x.copy(), "wilcoxon") == (0.0, 1.0)
    assert paired_test(x, x.copy(), "paired_t") == (0.0, 1.0)
    with pytest.raises(ValueError, match="unknown test"):
        paired_test(x, x, "mann_whitney")


def test_different_subjects_are_an_error() -> None:
    df = _planted(2, effect=0.05)
    df.loc[(df.method == "medgan") & (df.subject_id == "s03"), "subject_id"] = "s99"
    with pytest.raises(ValueError, match="different subjects"):
        paired_tests(df)


def test_summarise_means_std_and_order() -> None:
    rng = np.random.default_rng(3)
    parts = []
    for task in ("mri_recon", "pet_to_ct"):
        for n in (10, 5):
            for method in ("upgan", "medgan"):
                parts.append(_cell(task, method, n, {"ssim": rng.random(4), "psnr": rng.random(4),
                                                      "mae": rng.random(4)}))
    df = pd.concat(parts[::-1], ignore_index=True)
    summary = summarise(df)
    assert list(summary.columns) == CONTRACT_COLUMNS["summary"]
    keys = list(zip(summary.task, summary.n_train_patients, summary.method, strict=True))
    assert keys == sorted(keys)
    assert (summary["n_subjects"] == 4).all()
    one = df[(df.task == "pet_to_ct") & (df.method == "upgan") & (df.n_train_patients == 5)]
    row = summary[(summary.task == "pet_to_ct") & (summary.method == "upgan")
                  & (summary.n_train_patients == 5)].iloc[0]
    assert row["psnr_mean"] == pytest.approx(one["psnr"].mean())
    assert row["mae_std"] == pytest.approx(np.std(one["mae"], ddof=1))
