"""Summaries of the per-subject metrics (mean and sample std per cell) and paired tests of two
methods on the same test subjects (conventions in :mod:`upgan.evaluation`)."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from upgan.evaluation.contract import (
    CONTRACT_COLUMNS,
    INPUT,
    METRICS,
    require_columns,
)
from upgan.evaluation.retraining import paired_t, seed_aware_test
from upgan.evaluation.seeds import (
    CELL,
    holm_families,
    holm_within_families,
    seed_spread,
    subject_means,
)
from upgan.methods.registry import get, names, proposed

logger = logging.getLogger(__name__)

TESTS: tuple[str, ...] = ("wilcoxon", "paired_t")
"""Subject-paired tests run on every pair of methods beside the seed-aware one, in table order."""


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


def _test_pair(task: str, n: int, a: str, b: str, per_method: dict[str, pd.DataFrame],
               raw: dict[str, pd.DataFrame]) -> list[dict]:
    ref, other = per_method[a], per_method[b]
    if set(ref.index) != set(other.index):
        only_a = sorted(set(ref.index) - set(other.index))
        only_b = sorted(set(other.index) - set(ref.index))
        raise ValueError(
            f"{task} n={n}: {a} and {b} were evaluated on different subjects "
            f"(only {a}: {only_a}; only {b}: {only_b})"
        )
    other = other.loc[ref.index]
    base = {"task": task, "n_train_patients": int(n), "method_a": a, "method_b": b}
    rows = []
    for metric in METRICS:
        va, vb = ref[metric].to_numpy(dtype=float), other[metric].to_numpy(dtype=float)
        paired = paired_t(va, vb)
        for test in TESTS:
            stat, p = paired_test(va, vb, test)
            ci = (paired.ci_low, paired.ci_high) if test == "paired_t" else (math.nan, math.nan)
            rows.append({**base, "metric": metric, "test": test,
                         "estimate": float(np.mean(vb - va)) if va.size else math.nan,
                         "ci_low": ci[0], "ci_high": ci[1], "statistic": stat, "p_value": p,
                         "n_seeds": int(ref["n_seeds"].iloc[0]), "n_subjects": int(va.size)})
        est, n_seeds, n_subjects = seed_aware_test(raw[a], raw[b], metric)
        rows.append({**base, "metric": metric, "test": est.test, "estimate": est.estimate,
                     "ci_low": est.ci_low, "ci_high": est.ci_high, "statistic": est.statistic,
                     "p_value": est.p_value, "n_seeds": n_seeds, "n_subjects": n_subjects})
    return rows


def paired_tests(metrics_per_subject: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Tests of ``reference`` (method_a; default: the registry's proposed method) against every
    other method (method_b), and of every other trained method (method_a) against the
    do-nothing :data:`~upgan.evaluation.INPUT` (method_b).

    For each (task, n_train_patients) and metric (ssim, psnr, mae), three rows:

    * the seed-aware test (:func:`upgan.evaluation.retraining.seed_aware_test`; ``test`` is
      ``seed_welch``, or ``paired_t_one_seed`` when a trained method has one seed) -- the
      verdicts are decided on these rows;
    * the subject-paired ``wilcoxon`` and ``paired_t`` tests on the subjects' seed-averaged
      metrics (``n_seeds``: method_a's seeds), kept for comparison: they treat the trained
      models as fixed.

    ``estimate`` is B - A (method_b minus method_a, in the metric's units; for the paired rows
    the mean over subjects of the difference), ``ci_low``/``ci_high`` its 95 % interval (none
    for Wilcoxon), ``statistic`` and ``p_value`` those of the test. ``family`` names the Holm
    family (:func:`upgan.evaluation.seeds.holm_family`) and ``p_holm`` is Holm-adjusted within
    (family, test). Cells without the reference get only the tests against ``input``.

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
    raw_rows = metrics_per_subject.assign(subject_id=metrics_per_subject["subject_id"].astype(str))
    for (task, n), cell in subject_means(metrics_per_subject).groupby(["task", "n_train_patients"], sort=True):
        methods = list(dict.fromkeys(cell["method"].tolist()))
        in_cell = raw_rows[(raw_rows["task"] == task) & (raw_rows["n_train_patients"] == n)]
        raw = {m: in_cell[in_cell["method"] == m] for m in methods}
        per_method = {}
        for method in methods:
            sub = cell[cell["method"] == method]
            per_method[method] = sub.set_index(sub["subject_id"].astype(str))
        if reference in methods:
            for method in sorted(m for m in methods if m != reference):
                rows += _test_pair(task, n, reference, method, per_method, raw)
        else:
            logger.warning("paired_tests: %s n=%s has no %r rows", task, n, reference)
        if INPUT in methods:
            for method in sorted(m for m in methods if m not in (reference, INPUT)):
                rows += _test_pair(task, n, method, INPUT, per_method, raw)
    out = pd.DataFrame(rows, columns=[c for c in CONTRACT_COLUMNS["significance"] if c != "family"])
    roles = {name: get(name).role for name in names()}
    out.insert(5, "family", holm_families(out, roles))
    out["p_holm"] = holm_within_families(out, roles)
    return out[CONTRACT_COLUMNS["significance"]]
