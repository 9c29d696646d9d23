"""Summaries of the per-subject metrics (mean and sample std per cell) and paired tests of two
methods on the same test subjects (conventions in :mod:`upgan.evaluation`)."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from upgan.evaluation.contract import (
    CONTRACT_COLUMNS,
    HIGHER_IS_BETTER,
    INPUT,
    METRICS,
    require_columns,
)
from upgan.evaluation.seeds import CELL, holm, holm_within_families, seed_spread, subject_means
from upgan.methods.registry import get, names, proposed

logger = logging.getLogger(__name__)

TESTS: tuple[str, ...] = ("wilcoxon", "paired_t")
"""Paired tests run on every pair of methods, in table order."""


def summarise(metrics_per_subject: pd.DataFrame) -> pd.DataFrame:
    """Per cell: mean and sample std (ddof=1) over subjects of each metric, the subject's value
    being its mean over the cell's seeds; the number of subjects and of seeds; and the seed
    spread of SSIM, PSNR and MAE (std of the per-seed means; 0 with one seed).

    Returns exactly the ``summary`` contract columns, sorted by task, n_train_patients, method.
    A cell of one subject has ``nan`` std; ``bone_dice_*`` are ``nan`` for tasks not scored in HU.
    """
    require_columns(metrics_per_subject, CONTRACT_COLUMNS["metrics_per_subject"], "summarise")
    means = subject_means(metrics_per_subject)
    raw = dict(iter(metrics_per_subject.groupby(CELL, sort=False, dropna=False)))
    rows = []
    for (task, method, n), group in means.groupby(CELL, sort=False):
        row: dict[str, object] = {"task": task, "method": method, "n_train_patients": int(n),
                                  "n_subjects": int(group["subject_id"].nunique()),
                                  "n_seeds": int(group["n_seeds"].iloc[0])}
        for m in (*METRICS, "bone_dice"):
            values = group[m].astype(float).dropna()
            row[f"{m}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{m}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        for m in METRICS:
            row[f"{m}_seed_std"] = seed_spread(raw[(task, method, n)], m)
        rows.append(row)
    out = pd.DataFrame(rows, columns=CONTRACT_COLUMNS["summary"])
    out = out.sort_values(["task", "n_train_patients", "method"], kind="stable")
    return out.reset_index(drop=True)


def paired_test(a: np.ndarray, b: np.ndarray, test: str) -> tuple[float, float]:
    """``(statistic, p_value)`` of a two-sided paired test of ``a`` against ``b``.

    ``test`` is ``wilcoxon`` or ``paired_t``. All-zero differences give ``(0.0, 1.0)``. Otherwise
    scipy's answer is returned as is (its precision warnings silenced): e.g. a constant non-zero
    difference gives the t-test ``(±inf, 0.0)``, a single pair gives it ``(nan, nan)``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples must be 1-D of one length, got {a.shape} and {b.shape}")
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; known: {', '.join(TESTS)}")
    d = a - b
    if d.size == 0 or np.all(d == 0):
        return 0.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if test == "wilcoxon":
            res = stats.wilcoxon(a, b, alternative="two-sided")
        else:
            res = stats.ttest_rel(a, b, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def _test_pair(task: str, n: int, a: str, b: str, per_method: dict[str, pd.DataFrame]) -> list[dict]:
    ref, other = per_method[a], per_method[b]
    if set(ref.index) != set(other.index):
        only_a = sorted(set(ref.index) - set(other.index))
        only_b = sorted(set(other.index) - set(ref.index))
        raise ValueError(
            f"{task} n={n}: {a} and {b} were evaluated on different subjects "
            f"(only {a}: {only_a}; only {b}: {only_b})"
        )
    other = other.loc[ref.index]
    rows = []
    for metric in METRICS:
        for test in TESTS:
            stat, p = paired_test(ref[metric].to_numpy(), other[metric].to_numpy(), test)
            rows.append({"task": task, "n_train_patients": int(n), "method_a": a, "method_b": b,
                         "metric": metric, "test": test, "statistic": stat, "p_value": p,
                         "n_seeds": int(ref["n_seeds"].iloc[0])})
    return rows


def paired_tests(metrics_per_subject: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Paired tests of ``reference`` (method_a; default: the registry's proposed method) against
    every other method (method_b), and of every other trained method (method_a) against the
    do-nothing :data:`~upgan.evaluation.INPUT` (method_b).

    For each (task, n_train_patients), methods are paired by ``subject_id`` -- each subject's
    metric averaged over its cell's seeds first (``n_seeds``: method_a's seeds) -- and tested on
    ssim, psnr and mae with ``wilcoxon`` and ``paired_t``; the statistic is that of ``a - b``.
    ``p_holm`` is Holm-adjusted within each claim's family (:func:`upgan.evaluation.seeds.
    holm_within_families`). Cells without the reference get only the tests against ``input``.

    Raises:
        ValueError: when two methods of a cell were evaluated on different subjects, or a
            method has duplicated subject rows within one seed.
    """
    require_columns(metrics_per_subject, CONTRACT_COLUMNS["metrics_per_subject"], "paired_tests")
    reference = proposed() if reference is None else reference
    keys = [*CELL, "seed", "subject_id"]
    repeated = metrics_per_subject[metrics_per_subject.duplicated(keys, keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        raise ValueError(f"{first['task']} n={first['n_train_patients']} {first['method']}: duplicated "
                         "subject rows")
    rows = []
    for (task, n), cell in subject_means(metrics_per_subject).groupby(["task", "n_train_patients"], sort=True):
        methods = list(dict.fromkeys(cell["method"].tolist()))
        per_method = {}
        for method in methods:
            sub = cell[cell["method"] == method]
            per_method[method] = sub.set_index(sub["subject_id"].astype(str))
        if reference in methods:
            for method in sorted(m for m in methods if m != reference):
                rows += _test_pair(task, n, reference, method, per_method)
        else:
            logger.warning("paired_tests: %s n=%s has no %r rows", task, n, reference)
        if INPUT in methods:
            for method in sorted(m for m in methods if m not in (reference, INPUT)):
                rows += _test_pair(task, n, method, INPUT, per_method)
    out = pd.DataFrame(rows, columns=CONTRACT_COLUMNS["significance"])
    roles = {name: get(name).role for name in names()}
    out["p_holm"] = holm_within_families(out, roles)
    return out


LEAD_TEST_COLUMNS: list[str] = ["task", "n_low", "n_high", "method_a", "method_b", "metric", "test",
                                "lead_low", "lead_high", "statistic", "p_value", "p_holm", "n_seeds"]
"""Columns of :func:`lead_tests`."""


def _leads(means: pd.DataFrame, task: str, n: int, a: str, b: str, metric: str) -> pd.Series:
    """Per subject (index ``subject_id``): ``a``'s lead over ``b`` at ``n`` patients (positive =
    ``a`` better; MAE sign-flipped)."""
    cell = means[(means["task"] == task) & (means["n_train_patients"] == n)]
    va = cell[cell["method"] == a].set_index("subject_id")[metric].astype(float)
    vb = cell[cell["method"] == b].set_index("subject_id")[metric].astype(float)
    if set(va.index) != set(vb.index):
        raise ValueError(f"{task} n={n}: {a} and {b} were evaluated on different subjects")
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    return sign * (va - vb.loc[va.index])


def lead_tests(metrics_per_subject: pd.DataFrame, reference: str | None = None,
               baselines: Sequence[str] | None = None) -> pd.DataFrame:
    """Does ``reference``'s lead over each baseline change between the smallest and the largest
    patient count of a task (claim C5)? Paired over the test subjects, which every patient count
    shares.

    For each task, baseline and metric with both methods at two or more counts: per subject the
    lead at ``n_low`` and at ``n_high`` (each subject's metric averaged over its cell's seeds),
    then the two-sided ``wilcoxon`` and ``paired_t`` tests of ``lead_low - lead_high``;
    ``lead_low``/``lead_high`` are the mean leads. ``p_holm``: Holm within each test over every
    row (the C5 family). Columns: :data:`LEAD_TEST_COLUMNS`.

    Raises:
        ValueError: when the two counts were evaluated on different subjects.
    """
    require_columns(metrics_per_subject, CONTRACT_COLUMNS["metrics_per_subject"], "lead_tests")
    reference = proposed() if reference is None else reference
    baselines = names(role="baseline") if baselines is None else list(baselines)
    means = subject_means(metrics_per_subject)
    means["subject_id"] = means["subject_id"].astype(str)
    rows = []
    for task in dict.fromkeys(means["task"].tolist()):
        in_task = means[means["task"] == task]
        have = {m: set(in_task.loc[in_task["method"] == m, "n_train_patients"].astype(int))
                for m in (reference, *baselines)}
        for baseline in baselines:
            counts = sorted(have[reference] & have[baseline])
            if len(counts) < 2:
                continue
            n_low, n_high = counts[0], counts[-1]
            for metric in METRICS:
                low = _leads(means, task, n_low, reference, baseline, metric)
                high = _leads(means, task, n_high, reference, baseline, metric)
                if set(low.index) != set(high.index):
                    raise ValueError(f"{task}: the test subjects at n={n_low} and n={n_high} differ; "
                                     "C5 pairs them, so every patient count must share its test split")
                high = high.loc[low.index]
                n_seeds = int(in_task.loc[(in_task["method"] == reference)
                                          & (in_task["n_train_patients"] == n_low), "n_seeds"].iloc[0])
                for test in TESTS:
                    stat, p = paired_test(low.to_numpy(), high.to_numpy(), test)
                    rows.append({"task": task, "n_low": n_low, "n_high": n_high, "method_a": reference,
                                 "method_b": baseline, "metric": metric, "test": test,
                                 "lead_low": float(low.mean()), "lead_high": float(high.mean()),
                                 "statistic": stat, "p_value": p, "n_seeds": n_seeds})
    out = pd.DataFrame(rows, columns=LEAD_TEST_COLUMNS)
    for _, idx in out.groupby("test").groups.items():
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "p_value"].to_numpy(dtype=float))
    return out
