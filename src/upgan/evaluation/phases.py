"""Claims C3 and C4 on the per-subject uncertainty rows of the proposed method (inside the head
mask; see :func:`upgan.evaluation.calibration.uncertainty_rows`).

* C3 (residual and uncertainty fall from phase to phase): per consecutive pair of numeric
  phases and per quantity (mean |error|, mean σ), the change ``phase k+1 - phase k``. Seed-aware:
  each seed's change of its mean over the subjects, paired t-test over the seeds (the seed is
  the unit); with one seed the subject-paired t-test of that run (``paired_t_one_seed``). The
  claimed direction is a fall (estimate < 0).
* C4 (σ tracks the error): per phase, each subject's Spearman ρ(σ, |error|) inside the head
  mask; seed-aware one-sample t-test of the seeds' mean ρ against 0 (with one seed: over the
  subjects). The claimed direction is ρ > 0.

Holm: one family per claim over all its checks.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from upgan.evaluation.retraining import ONE_SEED, SEED_PAIRED, SEED_WELCH, Estimate, paired_t, welch
from upgan.evaluation.seeds import holm
from upgan.evaluation.verdicts import NOT_TESTABLE, check_row, decide


def phase_key(label: object) -> tuple[int, float, str]:
    """Sort key of phase labels: numeric phases in order, then ``final``."""
    s = str(label)
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def _units(cell: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows' units of inference: per-seed means over subjects with two or more seeds, else the
    subjects of the one seed. Returns a (unit x phase) frame per quantity and the test label."""
    seeds = cell["seed"].astype("Float64").fillna(-1.0)
    unit = "seed" if seeds.nunique() >= 2 else "subject_id"
    frame = cell.assign(seed=seeds)
    if unit == "subject_id" and "subject_id" not in frame.columns:
        frame = frame.assign(subject_id="all")
    return frame, unit


def _c3(cell: pd.DataFrame, task: str, n: int, reference: str) -> list[dict]:
    frame, unit = _units(cell)
    phases = sorted({p for p in frame["phase"].astype(str) if phase_key(p)[0] == 0}, key=phase_key)
    label = SEED_PAIRED if unit == "seed" else ONE_SEED
    rows = []
    if len(phases) < 2:
        return [check_row("C3", task, n, reference, "", q, detail=f"fewer than two numeric phases ({phases})")
                for q in ("mean_abs_error", "mean_sigma")]
    for q in ("mean_abs_error", "mean_sigma"):
        table = frame.groupby([unit, frame["phase"].astype(str)])[q].mean().unstack()
        for k0, k1 in zip(phases, phases[1:], strict=False):
            pair = table[[k0, k1]].dropna()
            est = paired_t(pair[k0].to_numpy(), pair[k1].to_numpy(), test=label)
            rows.append(check_row("C3", task, n, reference, "", f"{q} {k0}->{k1}",
                                  float(pair[k0].mean()), float(pair[k1].mean()), est.estimate,
                                  (est.ci_low, est.ci_high), est.test, est.p_value,
                                  detail=f"change phase {k0} -> {k1} over {len(pair)} {unit.replace('_id', '')}s"))
    return rows


def _c4(cell: pd.DataFrame, task: str, n: int, reference: str) -> list[dict]:
    frame, unit = _units(cell)
    rows = []
    for phase in sorted(set(frame["phase"].astype(str)), key=phase_key):
        rho = frame[frame["phase"].astype(str) == phase].groupby(unit)["spearman_sigma_abs_error"].mean().dropna()
        if rho.size < 2:
            rows.append(check_row("C4", task, n, reference, "", f"phase {phase}",
                                  float(rho.mean()) if rho.size else math.nan,
                                  detail=f"fewer than two {unit.replace('_id', '')}s with a ρ"))
            continue
        est: Estimate = welch(np.zeros(1), rho.to_numpy(), test=SEED_WELCH if unit == "seed" else ONE_SEED)
        rows.append(check_row("C4", task, n, reference, "", f"phase {phase}", float(rho.mean()), 0.0,
                              est.estimate, (est.ci_low, est.ci_high), est.test, est.p_value,
                              detail=f"mean Spearman ρ(σ, |error|) over {rho.size} "
                                     f"{unit.replace('_id', '')}s = {rho.mean():.3f}"))
    return rows


def uncertainty_claims(uncertainty: pd.DataFrame | None, reference: str, alpha: float) -> list[dict]:
    """C3 and C4 rows for every cell of ``reference`` in ``uncertainty`` (Holm within each claim,
    verdicts by :func:`upgan.evaluation.verdicts.decide`)."""
    if uncertainty is None or len(uncertainty) == 0:
        return [check_row(c, "", None, reference, detail="no uncertainty rows") for c in ("C3", "C4")]
    ref_rows = uncertainty[uncertainty["method"] == reference]
    if ref_rows.empty:
        return [check_row(c, "", None, reference, detail=f"no uncertainty rows of {reference}")
                for c in ("C3", "C4")]
    rows: list[dict] = []
    for (task, n), cell in ref_rows.groupby(["task", "n_train_patients"], sort=True):
        rows += _c3(cell, str(task), int(n), reference) + _c4(cell, str(task), int(n), reference)
    for claim, sign in (("C3", -1.0), ("C4", 1.0)):
        mine = [r for r in rows if r["claim"] == claim]
        for r, p in zip(mine, holm([r["p_value"] for r in mine]), strict=True):
            r["p_holm"] = float(p)
            r["verdict"] = decide(r["estimate"], r["p_holm"], sign, alpha)
            if r["verdict"] != NOT_TESTABLE:
                r["detail"] += (f": estimate {r['estimate']:+.4g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}], "
                                f"{r['test']} p = {r['p_value']:.3g}, Holm {r['p_holm']:.3g}")
    return rows
