"""Summary statistics and paired tests on constructed per-subject tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from upgan.evaluation import CONTRACT_COLUMNS, paired_test, paired_tests, summarise


def _cell(task: str, method: str, n: int, values: dict[str, np.ndarray], ids=None, seed: int | None = 2021
          ) -> pd.DataFrame:
    k = len(next(iter(values.values())))
    ids = ids if ids is not None else [f"s{i:02d}" for i in range(k)]
    return pd.DataFrame({"task": task, "method": method, "n_train_patients": n,
                         "seed": pd.array([seed] * k, dtype="Int64"),
                         "subject_id": ids, "bone_dice": np.nan, "out_of_range_fraction": 0.0, **values})


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
    assert len(sig) == 3 * 3  # metrics x (wilcoxon, paired_t, the seed-aware row)
    assert set(sig["test"]) == {"wilcoxon", "paired_t", "paired_t_one_seed"}  # one seed: the fallback
    assert set(sig["method_a"]) == {"upgan"} and set(sig["method_b"]) == {"medgan"}
    assert (sig["p_value"] < 0.01).all(), sig
    assert (sig["family"] == "C1").all() and (sig["n_subjects"] == 15).all()
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


# ---- the do-nothing reference `input` --------------------------------------------------------------
def _with_input() -> pd.DataFrame:
    """mri_recon: upgan, pix2pix, medgan and input; mri_motion: pix2pix and input only (no upgan);
    pet_to_ct: upgan and medgan (no input). Subjects listed in different orders per method."""
    rng = np.random.default_rng(11)
    parts = []
    k = 12
    ids = [f"s{i:02d}" for i in range(k)]
    for task, methods in (("mri_recon", ("upgan", "pix2pix", "medgan", "input")),
                          ("mri_motion", ("pix2pix", "input")),
                          ("pet_to_ct", ("upgan", "medgan"))):
        for j, method in enumerate(methods):
            q = {"upgan": 1.0, "pix2pix": 0.6, "medgan": 0.4, "input": 0.0}[method]
            values = {"ssim": 0.6 + 0.2 * q + rng.normal(0, 0.01, k),
                      "psnr": 20 + 5 * q + rng.normal(0, 0.5, k),
                      "mae": 0.1 - 0.05 * q + rng.normal(0, 0.003, k)}
            cell = _cell(task, method, 20, values, ids)
            parts.append(cell.iloc[::-1] if j % 2 else cell)
    return pd.concat(parts, ignore_index=True)


def test_paired_tests_test_every_trained_method_against_input() -> None:
    df = _with_input()
    sig = paired_tests(df)
    pairs = {(t, a, b) for t, a, b in zip(sig.task, sig.method_a, sig.method_b, strict=True)}
    assert pairs == {
        ("mri_recon", "upgan", "medgan"), ("mri_recon", "upgan", "pix2pix"),
        ("mri_recon", "upgan", "input"), ("mri_recon", "pix2pix", "input"),
        ("mri_recon", "medgan", "input"),
        ("mri_motion", "pix2pix", "input"),  # no upgan: only the test against input
        ("pet_to_ct", "upgan", "medgan"),  # no input: no test against it
    }
    assert "input" not in set(sig.method_a)
    assert len(sig) == 7 * 3 * 3  # pairs x metrics x tests
    # values: paired by subject_id, statistic of a - b
    for task, method in (("mri_recon", "pix2pix"), ("mri_motion", "pix2pix"), ("mri_recon", "upgan")):
        a = df[(df.task == task) & (df.method == method)].set_index("subject_id").sort_index()
        b = df[(df.task == task) & (df.method == "input")].set_index("subject_id").sort_index()
        for metric in ("ssim", "psnr", "mae"):
            rows = sig[(sig.task == task) & (sig.method_a == method) & (sig.method_b == "input")
                       & (sig.metric == metric)].set_index("test")
            assert rows.loc["wilcoxon", "p_value"] == pytest.approx(stats.wilcoxon(a[metric], b[metric]).pvalue)
            t = stats.ttest_rel(a[metric], b[metric])
            assert rows.loc["paired_t", "statistic"] == pytest.approx(t.statistic)
            assert rows.loc["paired_t", "p_value"] == pytest.approx(t.pvalue)
            assert (rows.loc["paired_t", "statistic"] > 0) == (metric != "mae")  # the method is better
            ci = t.confidence_interval(0.95)  # of a - b; the table's estimate is b - a
            assert rows.loc["paired_t", "estimate"] == pytest.approx(-(a[metric] - b[metric]).mean())
            assert (rows.loc["paired_t", "ci_low"], rows.loc["paired_t", "ci_high"]) == pytest.approx(
                (-ci.high, -ci.low))


def test_input_on_different_subjects_is_an_error() -> None:
    df = _with_input()
    df.loc[(df.task == "mri_motion") & (df.method == "input") & (df.subject_id == "s03"), "subject_id"] = "s99"
    with pytest.raises(ValueError, match="pix2pix and input were evaluated on different subjects"):
        paired_tests(df)


def test_summarise_bone_dice_only_where_present() -> None:
    df = _with_input()
    ct = df.task == "pet_to_ct"
    df.loc[ct, "bone_dice"] = np.tile(np.linspace(0.5, 0.8, 12), 2)
    df.loc[ct & (df.method == "medgan") & (df.subject_id == "s00"), "bone_dice"] = np.nan
    summary = summarise(df).set_index(["task", "method"])
    assert summary.loc[("mri_recon", "input"), ["bone_dice_mean", "bone_dice_std"]].isna().all()
    values = np.linspace(0.5, 0.8, 12)
    assert summary.loc[("pet_to_ct", "upgan"), "bone_dice_mean"] == pytest.approx(values.mean())
    assert summary.loc[("pet_to_ct", "upgan"), "bone_dice_std"] == pytest.approx(values.std(ddof=1))
    # a subject without a value is left out of the mean, not counted as 0
    medgan = df[ct & (df.method == "medgan")].set_index("subject_id")["bone_dice"].dropna()
    assert summary.loc[("pet_to_ct", "medgan"), "bone_dice_mean"] == pytest.approx(medgan.mean())
