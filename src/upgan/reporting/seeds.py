"""The parts of Table 1 about seeds and budget: how many training seeds a table pools, the
budget it was trained with (from the run's own ``budget.csv``) and the spread over seeds."""

from __future__ import annotations

import math

import pandas as pd

from upgan.evaluation import INPUT, METRICS
from upgan.methods.registry import labels
from upgan.reporting.formatting import METRIC_LABELS, ordered


def seeds_and_budget(summary: pd.DataFrame, budget: pd.DataFrame | None) -> list[str]:
    """Markdown lines: the seeds pooled (from ``summary``'s ``n_seeds`` and ``budget``'s seeds)
    and the updates every network made (from ``budget``)."""
    trained = summary[summary["method"] != INPUT]
    counts = sorted({int(n) for n in trained["n_seeds"].dropna()}) if "n_seeds" in trained else []
    seeds = sorted({int(s) for s in budget["seed"].dropna()}) if budget is not None and len(budget) else []
    n = ", ".join(map(str, counts)) or "1"
    listed = f" ({', '.join(map(str, seeds))})" if seeds else ""
    lines = [f"Seeds: every trained cell was trained with {n} seed{'s' if counts != [1] else ''}{listed}. "
             "A subject's metric is its mean over the seeds; ± is the standard deviation over test "
             "subjects; p-values are Holm-adjusted within each claim's family; the spread over "
             "seeds (std of the per-seed means) is tabulated below."]
    if budget is not None and len(budget):
        per_network = budget.groupby("network")["updates"].agg(["min", "max"])
        parts = [f"{net} {int(r['min'])}" if r["min"] == r["max"] else f"{net} {int(r['min'])}–{int(r['max'])}"
                 for net, r in per_network.iterrows()]
        lines.append("Budget (generator updates per network, from budget.csv): " + ", ".join(parts) + ".")
    return lines + [""]


SPREAD_HEADING = "## Spread over training seeds (std of the per-seed means)"


def seed_spread_table(cells: pd.DataFrame, tasks: list[str], task_labels: dict[str, str],
                      decimals: dict[tuple[str, str], int], heading: str = SPREAD_HEADING) -> list[str]:
    """Markdown table under ``heading``: per trained method and task, the std over seeds of SSIM,
    PSNR and MAE (empty when every cell has one seed)."""
    trained = cells[cells["method"] != INPUT]
    if trained.empty or "n_seeds" not in trained or int(trained["n_seeds"].max()) < 2:
        return []
    names = labels()
    lines = [heading, "",
             "| method | " + " | ".join(f"{task_labels.get(t, t)} {METRIC_LABELS[m]}" for t in tasks for m in METRICS)
             + " |", "|---|" + "---|" * (len(tasks) * len(METRICS))]
    for method in ordered(list(dict.fromkeys(trained["method"].tolist())), names):
        out = [names.get(method, method)]
        for t in tasks:
            hit = trained[(trained["task"] == t) & (trained["method"] == method)]
            for m in METRICS:
                value = float(hit[f"{m}_seed_std"].iloc[0]) if len(hit) else math.nan
                out.append("–" if math.isnan(value) else f"{value:.{decimals[(t, m)]}f}")
        lines.append("| " + " | ".join(out) + " |")
    return lines + [""]
