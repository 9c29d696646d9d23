"""The uncertainty-quality section of Table 1: per task, method with σ and phase, how well σ
and the GGD (α, β) describe the error inside the head mask."""

from __future__ import annotations

import pandas as pd

from upgan.evaluation.calibration import UNCERTAINTY_MEASURES
from upgan.evaluation.phases import phase_key
from upgan.reporting.formatting import method_labels, ordered, task_labels

_HEADINGS = {"mean_abs_error": "mean abs. error", "mean_sigma": "mean σ",
             "spearman_sigma_abs_error": "ρ(σ, abs. error)", "ause": "AUSE", "coverage_68": "68 % coverage",
             "coverage_95": "95 % coverage", "nll": "NLL"}


def uncertainty_markdown(uncertainty: pd.DataFrame | None) -> list[str]:
    """Markdown lines: per task a table (method, phase) x the measures of
    :data:`upgan.evaluation.UNCERTAINTY_MEASURES`, each the mean over test subjects and seeds;
    empty without rows."""
    if uncertainty is None or len(uncertainty) == 0:
        return []
    names, task_names = method_labels(), task_labels()
    lines = ["## Uncertainty quality (inside the head mask, normalised scale; mean over subjects and seeds)", "",
             "Per test subject and phase: mean |error| and mean σ, Spearman ρ(σ, |error|), AUSE (area "
             "under the sparsification error curve: removing the most uncertain pixels against "
             "removing the largest errors; 0 is perfect), the fraction of pixels whose |error| lies "
             "inside the GGD's central 68 % / 95 % interval implied by α and β (calibrated: 0.68 / "
             "0.95), and the mean GGD negative log-likelihood (lower is better).", ""]
    cols = [c for c in UNCERTAINTY_MEASURES if c in uncertainty.columns]
    for task in ordered(list(dict.fromkeys(uncertainty["task"].tolist())), task_names):
        sub = uncertainty[uncertainty["task"] == task]
        n = int(sub["n_train_patients"].max())
        sub = sub[sub["n_train_patients"] == n]
        lines += [f"### {task_names.get(task, task)} (n = {n})", "",
                  "| method | phase | " + " | ".join(_HEADINGS[c] for c in cols) + " |",
                  "|---|---|" + "---|" * len(cols)]
        for method in ordered(list(dict.fromkeys(sub["method"].tolist())), names):
            rows = sub[sub["method"] == method]
            means = rows.groupby(rows["phase"].astype(str))[cols].mean()
            for phase in sorted(means.index, key=phase_key):
                values = " | ".join("–" if pd.isna(means.loc[phase, c]) else f"{means.loc[phase, c]:.4g}"
                                    for c in cols)
                lines.append(f"| {names.get(method, method)} | {phase} | {values} |")
        lines.append("")
    return lines
