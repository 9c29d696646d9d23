"""Seed-aware inference: tests whose unit is the training run (seed), so that a verdict says
whether *retraining* would give the same answer, not only whether two trained models differ on
the test subjects.

Model. Per subject ``i``, method ``m`` and seed ``s`` the metric is

    y_{m,s,i} = mu_m + u_i + v_{m,s} + e_{m,s,i},

a linear mixed model ``metric ~ method + (1 | subject) + (1 | seed within method)`` whose seed
variance may differ between methods. Every seed of every method is scored on the same test
subjects (the pipeline guarantees it), so the design is balanced and the per-seed means over
the subjects, ``ybar_{m,s} = mu_m + mean_i u_i + v_{m,s} + mean_i e_{m,s,i}``, carry all the
information about ``mu_B - mu_A``: the subject effects are the same in every seed mean and
cancel in a difference, and each method's seed means vary only by the seed variance plus the
averaged residual. The exact small-sample test of the method effect is therefore Welch's t-test
on the per-seed means, with Satterthwaite degrees of freedom (the mixed model's F-test with
Satterthwaite df; a Wald z-test of a fitted ``MixedLM`` would be anti-conservative with 2-5
seeds per arm). The estimate equals the mixed model's fixed effect; the hand-worked test checks
estimate and standard error against ``statsmodels`` ``MixedLM``.

What it conditions on: the test subjects (they are the same in every seed mean). It answers
"would another training run, scored on these subjects, agree?"; the subject-paired tests
(:mod:`upgan.evaluation.significance`) answer "do these trained models differ on these
subjects?".

Degenerate cases (each labelled in the ``test`` column):

* :data:`SEED_WELCH` -- both methods with >= 2 seeds, or one method seedless (the do-nothing
  ``input``, which has no training variance: its one value is fixed and the test is the
  one-sample t-test of the other method's seed means against it, df = seeds - 1).
* :data:`ONE_SEED` -- a trained method with a single seed: the seed variance is not estimable,
  so the check falls back to the subject-paired t-test on that run (verdict conditional on the
  one training run; the study env runs >= 5 seeds so that this never decides a claim there).
* Seed means without any spread on both sides: the difference is exact (p = 0 if it is non-zero,
  1 if it is zero), reported with a zero-width interval.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

SEED_WELCH = "seed_welch"
"""Welch's t-test on per-seed means (the seed-aware test)."""

ONE_SEED = "paired_t_one_seed"
"""Fallback when a trained method has one seed: the subject-paired t-test of that run."""

SEED_PAIRED = "seed_paired_t"
"""Paired t-test over seeds (a within-seed change, e.g. from one phase to the next)."""

SEED_AWARE_TESTS: tuple[str, ...] = (SEED_WELCH, SEED_PAIRED, ONE_SEED)
"""The ``test`` labels whose rows decide verdicts."""


@dataclass(frozen=True)
class Estimate:
    """One test's answer: ``estimate`` (B - A), its 95 % (``level``) interval, the statistic,
    the two-sided p-value, the degrees of freedom and the test's name."""

    estimate: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    df: float
    test: str


def _nan(test: str) -> Estimate:
    return Estimate(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, test)


def _t_interval(estimate: float, se: float, df: float, level: float, test: str) -> Estimate:
    """t statistic, two-sided p and interval of ``estimate`` with standard error ``se``."""
    if se == 0.0:
        p = 1.0 if estimate == 0.0 else 0.0
        stat = 0.0 if estimate == 0.0 else math.copysign(math.inf, estimate)
        return Estimate(estimate, estimate, estimate, stat, p, df, test)
    t = estimate / se
    q = float(stats.t.ppf(0.5 + level / 2.0, df))
    return Estimate(estimate, estimate - q * se, estimate + q * se, t,
                    float(2.0 * stats.t.sf(abs(t), df)), df, test)


def welch(a: np.ndarray, b: np.ndarray, level: float = 0.95, test: str = SEED_WELCH) -> Estimate:
    """Welch's t-test of ``mean(b) - mean(a)`` on two samples (here: per-seed means).

    A sample of one value counts as exact (no variance; the do-nothing ``input``): the test is
    then the one-sample t-test of the other sample against it. Both samples of one value, or a
    sample of one value against one of two or more that is itself constant, give an exact
    answer (see :func:`_t_interval`); fewer than two values in total on a side that varies is
    not a test (NaN).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return _nan(test)
    estimate = float(b.mean() - a.mean())
    parts = [(x.var(ddof=1) / x.size, x.size - 1) for x in (a, b) if x.size > 1]
    se2 = sum(v for v, _ in parts)
    if not parts:
        return _t_interval(estimate, 0.0, math.nan, level, test)
    if se2 == 0.0:
        return _t_interval(estimate, 0.0, float(sum(d for _, d in parts)), level, test)
    df = se2**2 / sum(v**2 / d for v, d in parts if v > 0)
    return _t_interval(estimate, math.sqrt(se2), float(df), level, test)


def paired_t(a: np.ndarray, b: np.ndarray, level: float = 0.95, test: str = "paired_t") -> Estimate:
    """The paired t-test of ``mean(b - a)`` (subjects as pairs) with its interval."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if d.size < 2:
        return _nan(test)
    return _t_interval(float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), float(d.size - 1),
                       level, test)


def seed_means(rows: pd.DataFrame, metric: str) -> np.ndarray:
    """Per training seed the mean of ``metric`` over the rows' subjects (rows of one cell; a
    seedless cell, ``seed`` empty, is one value)."""
    seeds = rows["seed"].astype("Float64").fillna(-1.0)
    return rows.groupby(seeds.to_numpy(), sort=True)[metric].mean().to_numpy(dtype=np.float64)


def seed_aware_test(rows_a: pd.DataFrame, rows_b: pd.DataFrame, metric: str,
                    level: float = 0.95) -> tuple[Estimate, int, int]:
    """Seed-aware test of method B against method A on ``metric`` (rows of one cell each, with
    ``seed``, ``subject_id`` and the metric); both restricted to their common subjects.

    Returns:
        ``(estimate, n_seeds, n_subjects)``: the :class:`Estimate` (B - A), the smaller number
        of seeds of the trained methods (a seedless method does not count) and the number of
        common subjects. Test :data:`SEED_WELCH`, or :data:`ONE_SEED` when a trained method has
        one seed (see the module docstring).
    """
    common = sorted(set(rows_a["subject_id"].astype(str)) & set(rows_b["subject_id"].astype(str)))
    a = rows_a[rows_a["subject_id"].astype(str).isin(common)]
    b = rows_b[rows_b["subject_id"].astype(str).isin(common)]
    trained = [r["seed"].dropna().nunique() for r in (a, b) if r["seed"].notna().any()]
    n_seeds = int(min(trained)) if trained else 1
    if not common:
        return _nan(SEED_WELCH), n_seeds, 0
    if trained and min(trained) < 2:
        sa = a.assign(subject_id=a["subject_id"].astype(str)).groupby("subject_id")[metric].mean()
        sb = b.assign(subject_id=b["subject_id"].astype(str)).groupby("subject_id")[metric].mean()
        return paired_t(sa.loc[common].to_numpy(), sb.loc[common].to_numpy(), level, ONE_SEED), n_seeds, len(common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return welch(seed_means(a, metric), seed_means(b, metric), level), n_seeds, len(common)
