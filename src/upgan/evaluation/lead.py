"""Claim C5 as one model: does the proposed method's lead over a baseline grow as the number of
training patients falls?

Model: ``metric ~ method * log(n_train) + (1 | subject) + (1 | seed within cell)`` on the
per-subject, per-seed rows of the proposed method and one baseline at every patient count both
have. Every cell is scored on the same test subjects, so (as in
:mod:`upgan.evaluation.retraining`) the subject effects cancel from the per-seed means over the
subjects, and the fixed effects and their exact small-sample test come from ordinary least
squares on those seed means (``statsmodels`` OLS; the seed variance becomes the residual, df =
seed means - 4). The interaction ``method x log(n)`` is the difference of the two methods'
slopes in log(n). It is reported as the **lead change per halving of n**: how much the
reference's lead (positive = reference better; MAE sign-flipped) grows when the number of
training patients halves. Positive = the lead widens as n falls (the claim's direction).

Assumptions stated: one seed variance shared by every cell (the OLS residual) and leads
linear in log(n); with one seed per cell the residual also absorbs any curvature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from upgan.evaluation.contract import CONTRACT_COLUMNS, HIGHER_IS_BETTER, METRICS, require_columns
from upgan.evaluation.retraining import Estimate, _t_interval
from upgan.evaluation.seeds import holm
from upgan.methods.registry import names, proposed

LEAD_MODEL = "seed_mean_interaction"
"""``test`` label of the C5 model."""

LEAD_COLUMNS: list[str] = ["task", "method_a", "method_b", "metric", "counts", "family", "test",
                           "estimate", "ci_low", "ci_high", "statistic", "p_value", "p_holm",
                           "n_seeds", "n_subjects", "lead_low", "lead_high"]
"""Columns of :func:`lead_model` (one row per task, baseline and metric)."""


def seed_mean_table(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (method, n_train_patients, seed) the mean of ``metric`` over the subjects."""
    seeds = rows["seed"].astype("Float64").fillna(-1.0)
    return (rows.assign(seed=seeds).groupby(["method", "n_train_patients", "seed"])[metric]
            .mean().reset_index())


def interaction(means: pd.DataFrame, reference: str, metric: str, level: float = 0.95) -> Estimate:
    """The lead change per halving of n (see the module docstring) from a :func:`seed_mean_table`
    of the reference and one baseline; NaN when fewer than 5 seed means or fewer than two
    counts."""
    y = means[metric].to_numpy(dtype=np.float64)
    is_ref = (means["method"] == reference).to_numpy(dtype=np.float64)
    log_n = np.log(means["n_train_patients"].to_numpy(dtype=np.float64))
    if y.size < 5 or np.unique(log_n).size < 2 or np.unique(is_ref).size < 2:
        return Estimate(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, LEAD_MODEL)
    design = np.column_stack([np.ones_like(y), is_ref, log_n, is_ref * log_n])
    fit = sm.OLS(y, design).fit()
    scale = -math.log(2.0) * (1.0 if HIGHER_IS_BETTER[metric] else -1.0)
    raw = _t_interval(float(fit.params[3]), float(fit.bse[3]), float(fit.df_resid), level, LEAD_MODEL)
    lo, hi = sorted((scale * raw.ci_low, scale * raw.ci_high))
    return Estimate(scale * raw.estimate, lo, hi, math.copysign(1.0, scale) * raw.statistic,
                    raw.p_value, raw.df, LEAD_MODEL)


def lead_model(metrics_per_subject: pd.DataFrame, reference: str | None = None,
               baselines: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
    """The C5 model per task, baseline and metric over every patient count the reference and
    the baseline share (two or more); ``p_holm``: Holm over every row (the C5 family).
    ``lead_low``/``lead_high``: the mean lead at the smallest and the largest count."""
    require_columns(metrics_per_subject, CONTRACT_COLUMNS["metrics_per_subject"], "lead_model")
    reference = proposed() if reference is None else reference
    baselines = names(role="baseline") if baselines is None else list(baselines)
    rows = []
    for task in dict.fromkeys(metrics_per_subject["task"].tolist()):
        in_task = metrics_per_subject[metrics_per_subject["task"] == task]
        for baseline in baselines:
            counts = sorted(set(in_task.loc[in_task["method"] == reference, "n_train_patients"].astype(int))
                            & set(in_task.loc[in_task["method"] == baseline, "n_train_patients"].astype(int)))
            if len(counts) < 2:
                continue
            pair = in_task[in_task["method"].isin([reference, baseline])
                           & in_task["n_train_patients"].isin(counts)]
            for metric in METRICS:
                means = seed_mean_table(pair, metric)
                est = interaction(means, reference, metric, level)
                cell = means.groupby(["method", "n_train_patients"])[metric].mean()
                sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
                lead = {n: sign * (cell[(reference, n)] - cell[(baseline, n)]) for n in counts}
                rows.append({"task": task, "method_a": reference, "method_b": baseline, "metric": metric,
                             "counts": ",".join(map(str, counts)), "family": "C5", "test": est.test,
                             "estimate": est.estimate, "ci_low": est.ci_low, "ci_high": est.ci_high,
                             "statistic": est.statistic, "p_value": est.p_value,
                             "n_seeds": int(pair.groupby(["method", "n_train_patients"])["seed"].nunique().min()),
                             "n_subjects": int(pair["subject_id"].astype(str).nunique()),
                             "lead_low": float(lead[counts[0]]), "lead_high": float(lead[counts[-1]])})
    out = pd.DataFrame(rows, columns=[c for c in LEAD_COLUMNS if c != "p_holm"])
    out.insert(LEAD_COLUMNS.index("p_holm"), "p_holm", holm(out["p_value"].to_numpy(dtype=float)))
    return out
