"""Seed-aware tests (upgan.evaluation.retraining): their false-positive rate when retraining
moves the metric, their power, and a hand-worked case against scipy and statsmodels MixedLM."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from upgan.evaluation import paired_tests, seed_aware_test, welch
from upgan.evaluation.retraining import ONE_SEED, SEED_WELCH, paired_t

N_SIM = 400
"""Simulated null studies per rate; the Monte-Carlo standard error of a rate of 0.05 is
sqrt(0.05 * 0.95 / 400) = 0.0109."""

MC_TOLERANCE = 3.0 * math.sqrt(0.05 * 0.95 / N_SIM)
"""Three Monte-Carlo standard errors (0.033): a correct test's false-positive rate falls within
0.05 ± this with probability 0.997."""


def _study(rng: np.random.Generator, n_seeds: int, n_subjects: int, difference: float,
           seed_sd: float, subject_sd: float = 1.0, noise_sd: float = 0.3) -> pd.DataFrame:
    """Per-subject, per-seed metric rows of two methods, ``a`` and ``b`` (b's mean higher by
    ``difference``): subject effect shared by every method and seed, one effect per (method,
    seed) of SD ``seed_sd``, residual noise."""
    subject = rng.normal(0.0, subject_sd, n_subjects)
    shift = np.repeat([0.0, difference], n_seeds * n_subjects)
    seed_effect = np.repeat(rng.normal(0.0, seed_sd, 2 * n_seeds), n_subjects)
    values = 10.0 + shift + np.tile(subject, 2 * n_seeds) + seed_effect + rng.normal(0.0, noise_sd, shift.size)
    return pd.DataFrame({"method": np.repeat(["a", "b"], n_seeds * n_subjects),
                         "seed": pd.array(np.tile(np.repeat(2021 + np.arange(n_seeds), n_subjects), 2), dtype="Int64"),
                         "subject_id": np.tile([f"s{i:02d}" for i in range(n_subjects)], 2 * n_seeds),
                         "ssim": values})


def _paired_p(frame: pd.DataFrame) -> float:
    """The subject-paired t-test on seed-averaged metrics (what the tests did before)."""
    means = frame.groupby(["method", "subject_id"])["ssim"].mean().unstack(0)
    return float(stats.ttest_rel(means["a"], means["b"]).pvalue)


def _rates(n_seeds: int, difference: float, seed_sd: float, seed: int, n_sim: int = N_SIM) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    seed_aware = paired = 0
    for _ in range(n_sim):
        frame = _study(rng, n_seeds, 15, difference, seed_sd)
        est, _, _ = seed_aware_test(frame[frame.method == "a"], frame[frame.method == "b"], "ssim")
        seed_aware += est.p_value < 0.05
        paired += _paired_p(frame) < 0.05
    return seed_aware / n_sim, paired / n_sim


def test_false_positive_rate_with_large_seed_variance() -> None:
    """No true difference; the seed SD is 2.5x the SD of a subject's paired difference
    (sqrt(2) * 0.3 / sqrt(3 seeds) = 0.24 vs seed SD 0.6). The seed-aware test keeps its 5 %;
    the subject-paired test, blind to retraining, calls most of these null studies
    significant."""
    seed_aware, paired = _rates(n_seeds=3, difference=0.0, seed_sd=0.6, seed=0)
    assert abs(seed_aware - 0.05) <= MC_TOLERANCE, seed_aware
    assert paired > 0.05 + MC_TOLERANCE, paired
    assert paired > 0.5, paired


def test_power_against_a_real_difference() -> None:
    """A difference of 4 seed SDs with 5 seeds per arm is found almost always (power 0.9997 by
    the noncentral t; 100 studies)."""
    seed_aware, _ = _rates(n_seeds=5, difference=2.4, seed_sd=0.6, seed=1, n_sim=100)
    assert seed_aware > 0.9, seed_aware


def test_welch_hand_worked_against_scipy() -> None:
    """Seed means a = [1, 2, 3], b = [2, 4, 6]: difference 2, variances 1 and 4, standard error
    sqrt(1/3 + 4/3) = 1.2910, t = 1.5492, Satterthwaite df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2)
    = 2.9412."""
    est = welch(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    assert est.estimate == pytest.approx(2.0)
    assert est.statistic == pytest.approx(2.0 / math.sqrt(5.0 / 3.0))
    assert est.df == pytest.approx((5.0 / 3.0) ** 2 / ((1.0 / 3.0) ** 2 / 2 + (4.0 / 3.0) ** 2 / 2))
    ref = stats.ttest_ind([2.0, 4.0, 6.0], [1.0, 2.0, 3.0], equal_var=False)
    assert est.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (est.ci_low, est.ci_high) == pytest.approx((ci.low, ci.high))


def test_seed_aware_test_matches_mixed_model() -> None:
    """Balanced design: the estimate equals statsmodels MixedLM's fixed effect of
    ``metric ~ method`` with a subject random intercept and one seed variance component per
    method, and the Welch standard error equals the mixed model's (REML) standard error."""
    frame = _study(np.random.default_rng(7), n_seeds=4, n_subjects=12, difference=0.5, seed_sd=0.8)
    est, n_seeds, n_subjects = seed_aware_test(frame[frame.method == "a"], frame[frame.method == "b"], "ssim")
    assert (n_seeds, n_subjects, est.test) == (4, 12, SEED_WELCH)
    # crossed random effects in statsmodels: one group holding every row, variance components
    # for the subjects and for each method's seeds
    frame = frame.assign(seed_a=np.where(frame.method == "a", frame.seed.astype(str), "none"),
                         seed_b=np.where(frame.method == "b", frame.seed.astype(str), "none"), one=1,
                         in_a=(frame.method == "a").astype(float), in_b=(frame.method == "b").astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("ssim ~ method", frame, groups="one",
                          vc_formula={"subject": "0 + C(subject_id)", "seed_a": "0 + in_a:C(seed_a)",
                                      "seed_b": "0 + in_b:C(seed_b)"}).fit(reml=True)
    assert est.estimate == pytest.approx(float(fit.params["method[T.b]"]), rel=1e-6)
    se = (est.ci_high - est.ci_low) / (2.0 * stats.t.ppf(0.975, est.df))
    assert se == pytest.approx(float(fit.bse["method[T.b]"]), rel=0.01)


def test_one_seed_falls_back_to_the_subject_paired_t_test() -> None:
    frame = _study(np.random.default_rng(3), n_seeds=1, n_subjects=8, difference=0.5, seed_sd=0.5)
    a, b = frame[frame.method == "a"], frame[frame.method == "b"]
    est, n_seeds, _ = seed_aware_test(a, b, "ssim")
    assert (est.test, n_seeds) == (ONE_SEED, 1)
    ref = stats.ttest_rel(b.ssim.to_numpy(), a.ssim.to_numpy())
    assert est.p_value == pytest.approx(ref.pvalue)
    assert est.estimate == pytest.approx(float((b.ssim.to_numpy() - a.ssim.to_numpy()).mean()))


def test_seedless_input_is_a_one_sample_test_and_constant_seeds_are_exact() -> None:
    est = welch(np.array([1.0, 1.5, 2.5]), np.array([0.5]))
    ref = stats.ttest_1samp([1.0, 1.5, 2.5], 0.5)
    assert est.estimate == pytest.approx(-(5.0 / 3.0 - 0.5))
    assert est.p_value == pytest.approx(ref.pvalue) and est.df == 2
    exact = welch(np.array([1.0, 1.0]), np.array([2.0, 2.0]))
    assert (exact.p_value, exact.ci_low, exact.ci_high) == (0.0, 1.0, 1.0)
    assert welch(np.array([1.0, 1.0]), np.array([1.0, 1.0])).p_value == 1.0
    assert math.isnan(paired_t(np.array([1.0]), np.array([2.0])).p_value)


def test_significance_table_has_seed_aware_rows_and_families(make_per_subject) -> None:
    per = make_per_subject({"pix2pix": 0.0, "medgan": 0.5, "upgan": 1.0, "unet_l1": 1.2}, n_subjects=6)
    per = pd.concat([per, per.assign(seed=pd.array([2022] * len(per), dtype="Int64"),
                                     ssim=per.ssim + 0.001)], ignore_index=True)
    sig = paired_tests(per)
    seed_rows = sig[sig.test == SEED_WELCH]
    assert len(seed_rows) == len(sig) // 3 and (seed_rows.n_seeds == 2).all()
    assert set(sig.family) == {"C1", "C6"}  # one family per claim, spanning both tasks
    c1 = seed_rows[seed_rows.family == "C1"]
    ref = np.minimum(1.0, np.sort(c1.p_value.to_numpy()) * np.arange(len(c1), 0, -1))
    assert np.sort(c1.p_holm.to_numpy()) == pytest.approx(np.maximum.accumulate(ref))
    assert (seed_rows.ci_low <= seed_rows.estimate).all() and (seed_rows.estimate <= seed_rows.ci_high).all()
