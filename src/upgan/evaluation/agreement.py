"""The claims over several seeds: decided on every seed together (seed-aware tests,
Holm-adjusted p), and how reproducible each check's direction is under retraining
(leave-one-seed-out)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from upgan.evaluation.claims import Families, claims_report
from upgan.evaluation.lead import lead_model
from upgan.evaluation.seeds import seed_values
from upgan.evaluation.significance import paired_tests, summarise
from upgan.evaluation.verdicts import NOT_TESTABLE

CHECK_KEY = ["claim", "task", "n_train_patients", "method_a", "method_b", "metric"]
"""What identifies one elementary check across reports."""


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _key(frame: pd.DataFrame) -> pd.Series:
    """One string per check: its claim, task, patient count, methods and metric."""
    return pd.Series(["|".join(_text(v) for v in row) for row in frame[CHECK_KEY].itertuples(index=False)],
                     index=frame.index, dtype=object)


def _without_seed(frame: pd.DataFrame | None, seed: int, keep: bool) -> pd.DataFrame | None:
    """The rows of ``seed`` (``keep``) or of every other seed (not ``keep``), seedless rows
    (``input``) always kept."""
    if frame is None or len(frame) == 0 or "seed" not in frame.columns:
        return frame
    mine = frame["seed"] == seed
    return frame[frame["seed"].isna() | (mine if keep else ~mine)]


def _estimates(metrics: pd.DataFrame, uncertainty: pd.DataFrame | None, f: Families,
               alpha: float) -> dict[str, float]:
    """Check key -> estimate of the claims report of these rows."""
    report = claims_report(summarise(metrics), paired_tests(metrics, f.reference), uncertainty, alpha, f,
                           lead_model(metrics, f.reference, f.baselines), label=None)
    return dict(zip(_key(report), report["estimate"].astype(float), strict=True))


def claims_with_seed_agreement(
    metrics_per_subject: pd.DataFrame,
    uncertainty: pd.DataFrame | None,
    alpha: float = 0.05,
    families: Families | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary, significance and claims of a run with one or more seeds.

    The claims are decided on every seed together (:func:`summarise`, :func:`paired_tests`
    with the seed-aware tests and Holm-adjusted p, :func:`~upgan.evaluation.lead.lead_model`,
    the per-subject uncertainty rows). ``seed_agreement`` of a check is leave-one-seed-out: for
    each seed, does the estimate from that seed's rows alone point the same way as the estimate
    from all the other seeds? The fraction of seeds for which it does. It measures how
    reproducible the *direction* of a check is under retraining (not its significance, and not
    against a pooled answer that includes the seed itself). NaN with one seed, for a check that
    is not testable, or where a side's estimate is missing.

    Returns:
        ``(summary, significance, claims)``.
    """
    f = Families.from_registry() if families is None else families
    summary = summarise(metrics_per_subject)
    significance = paired_tests(metrics_per_subject, f.reference)
    seeds = seed_values(metrics_per_subject)
    label = (f"pooled over {len(seeds)} seeds, these decide" if len(seeds) > 1
             else f"seed {seeds[0]}" if seeds else "")
    claims = claims_report(summary, significance, uncertainty, alpha, f,
                           lead_model(metrics_per_subject, f.reference, f.baselines), label=label)
    keys = _key(claims)
    agree = pd.Series(0.0, index=claims.index)
    counted = pd.Series(0, index=claims.index)
    if len(seeds) >= 2:
        for seed in seeds:
            alone = _estimates(_without_seed(metrics_per_subject, seed, True),
                               _without_seed(uncertainty, seed, True), f, alpha)
            others = _estimates(_without_seed(metrics_per_subject, seed, False),
                                _without_seed(uncertainty, seed, False), f, alpha)
            a = keys.map(alone).astype(float)
            o = keys.map(others).astype(float)
            known = a.notna() & o.notna()
            agree += (known & (np.sign(a) == np.sign(o))).astype(float)
            counted += known.astype(int)
    claims["seed_agreement"] = (agree / counted.where(counted > 0)).astype(float)
    claims.loc[claims["verdict"] == NOT_TESTABLE, "seed_agreement"] = math.nan
    return summary, significance, claims
