"""The claims over several seeds: decided on the pooled tables (each subject's metric averaged
over seeds, Holm-adjusted p-values), and how often a single seed would have said the same."""

from __future__ import annotations

import math

import pandas as pd

from upgan.evaluation.claims import NOT_TESTABLE, Families, claims_report
from upgan.evaluation.seeds import per_seed, pool_uncertainty, single_seed
from upgan.evaluation.significance import lead_tests, paired_tests, summarise

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


def claims_with_seed_agreement(
    metrics_per_subject: pd.DataFrame,
    uncertainty: pd.DataFrame | None,
    alpha: float = 0.05,
    families: Families | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary, significance and claims of a run with one or more seeds.

    The claims are decided on the pooled tables (:func:`summarise`, :func:`paired_tests` with
    Holm-adjusted p, the uncertainty rows averaged over seeds). ``seed_agreement`` of a check is
    the fraction of seeds whose single-seed report (the same claims on that seed's rows alone,
    with its own Holm adjustment) gives the same verdict; 1.0 with one seed, empty for a check
    that is not testable on the pooled tables.

    Returns:
        ``(summary, significance, claims)``.
    """
    f = Families.from_registry() if families is None else families
    summary = summarise(metrics_per_subject)
    significance = paired_tests(metrics_per_subject)
    seeds = list(per_seed(metrics_per_subject))
    label = f"pooled over {len(seeds)} seeds, these decide" if len(seeds) > 1 else ""
    claims = claims_report(summary, significance, pool_uncertainty(uncertainty), alpha, f,
                           lead_tests(metrics_per_subject, f.reference, f.baselines), label=label)
    pooled = _key(claims)
    agree = pd.Series(0.0, index=claims.index)
    for seed, rows in seeds:
        unc = single_seed(uncertainty, seed) if uncertainty is not None and len(uncertainty) else uncertainty
        single = claims_report(summarise(rows), paired_tests(rows), unc, alpha, f,
                               lead_tests(rows, f.reference, f.baselines), label=f"seed {seed} alone")
        verdicts = dict(zip(_key(single), single["verdict"], strict=True))
        agree += (pooled.map(verdicts) == claims["verdict"]).astype(float)
    if seeds:
        claims["seed_agreement"] = agree / len(seeds)
    else:  # no seed column (tables written before seeds): the one run agrees with itself
        claims["seed_agreement"] = 1.0
    claims.loc[claims["verdict"] == NOT_TESTABLE, "seed_agreement"] = math.nan
    return summary, significance, claims
