"""Markdown tables of the results: Table 1 (methods x tasks), its p-values and the claims, and
the weak-supervision tables (one per patient count)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import pandas as pd

from upgan.evaluation import (
    CONTRACT_COLUMNS,
    HIGHER_IS_BETTER,
    INPUT,
    METRICS,
    SEED_AWARE_TESTS,
    claim_verdicts,
    claims_markdown,
)
from upgan.methods.registry import proposed
from upgan.reporting.formatting import METRIC_LABELS, method_labels, ordered, task_labels
from upgan.reporting.seeds import seed_spread_table, seeds_and_budget
from upgan.reporting.uncertainty_table import uncertainty_markdown
from upgan.tasks import TASKS, get_task

logger = logging.getLogger(__name__)

HU_WINDOW_TEXT = "window [-1024, 3071] HU"
"""The CT window of the HU tasks' MAE, as the units line states it."""


def paper_table1() -> dict[str, dict[str, str]]:
    """Table 1 of the paper, Upadhyay et al., MICCAI 2021, from the task specs: method -> task
    -> ``"SSIM / PSNR / MAE"``, methods in table order; a method without any paper number (a
    control the paper did not run) is absent."""
    found: dict[str, dict[str, str]] = {}
    for task, spec in TASKS.items():
        for method, text in spec.paper_table1.items():
            found.setdefault(method, {})[task] = text
    return {method: found[method] for method in ordered(list(found), method_labels())}


def paper_ssim_p_vs_medgan() -> dict[str, float]:
    """The paper's SSIM p-value of UP-GAN against MedGAN per task (tasks that report one)."""
    return {name: spec.paper_ssim_p_vs_medgan for name, spec in TASKS.items()
            if spec.paper_ssim_p_vs_medgan is not None}


def _prose(words: list[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _units_line(tasks: list[str]) -> str:
    """How every number of the tables is measured, naming the MAE unit of each task."""
    names = task_labels()
    in_hu = [names.get(t, t) for t in tasks if get_task(t).scores_in_hu]
    normalised = [names.get(t, t) for t in tasks if not get_task(t).scores_in_hu]
    mae = ([f"MAE of {_prose(in_hu)} in HU (all pixels, {HU_WINDOW_TEXT})"] if in_hu else []) + (
        [f"MAE of {_prose(normalised)} on the normalised scale"] if normalised else [])
    return ("Units: images on the normalised [0, 1] scale, data range 1; SSIM per 2D slice "
            "(Gaussian window σ = 1.5) averaged per subject; PSNR (dB) from the MSE over all of "
            f"a subject's pixels, capped at 100 dB; {', '.join(mae)}; no background "
            "masking. Values are mean ± std (ddof = 1) over test subjects; **bold** = best mean "
            "in the column.")


def _metric_decimals(task: str, metric: str) -> int:
    if metric == "ssim":
        return 3
    if metric == "psnr":
        return 2
    return get_task(task).mae_decimals


def _fmt(mean: float, std: float, decimals: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{decimals}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {std:.{decimals}f}"
    return text


def _holm_or_raw(hit: pd.DataFrame) -> float:
    """The Holm-adjusted p of a significance row (the raw p of a table without ``p_holm``)."""
    column = "p_holm" if "p_holm" in hit.columns else "p_value"
    return float(hit[column].iloc[0])


def _fmt_p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def _methods_table(cells: pd.DataFrame, tasks: list[str]) -> list[str]:
    """Markdown rows: methods x (task x metric), mean ± std, best mean of each column in bold."""
    names, task_names = method_labels(), task_labels()
    methods = ordered(list(dict.fromkeys(cells["method"].tolist())), names)
    header = "| method | " + " | ".join(f"{task_names.get(t, t)} {METRIC_LABELS[m]}"
                                         for t in tasks for m in METRICS) + " |"
    lines = [header, "|---|" + "---|" * (len(tasks) * len(METRICS))]
    best: dict[tuple[str, str], float] = {}
    for t in tasks:
        sub = cells[cells["task"] == t]
        for m in METRICS:
            col = sub[f"{m}_mean"].dropna()
            if len(col):
                best[(t, m)] = float(col.max() if HIGHER_IS_BETTER[m] else col.min())
    for method in methods:
        out = [names.get(method, method)]
        for t in tasks:
            hit = cells[(cells["task"] == t) & (cells["method"] == method)]
            for m in METRICS:
                if hit.empty:
                    out.append("–")
                    continue
                mean, std = float(hit[f"{m}_mean"].iloc[0]), float(hit[f"{m}_std"].iloc[0])
                text = _fmt(mean, std, _metric_decimals(t, m))
                if best.get((t, m)) == mean and len(methods) > 1:
                    text = f"**{text}**"
                out.append(text)
        lines.append("| " + " | ".join(out) + " |")
    return lines


def _input_tests(significance: pd.DataFrame | None, tasks: list[str], n_full: dict[str, int]) -> list[str]:
    """Seed-aware Holm-adjusted p-values of every trained method against the do-nothing
    ``input`` (with the sign of the difference: ``+`` the method is better, ``−`` worse)."""
    if significance is None or significance.empty:
        return []
    sig = significance[(significance["method_b"] == INPUT) & significance["test"].isin(SEED_AWARE_TESTS)]
    ref_tasks = [t for t in tasks if t in set(sig["task"])]
    if sig.empty or not ref_tasks:
        return []
    names, task_names = method_labels(), task_labels()
    lines = ["## Does each method beat doing nothing? (vs `input`, seed-aware test, two-sided, Holm-adjusted p)", "",
             "`+`: the method's mean is better than the input's (over its seeds), `−`: worse.", "",
             "| method vs input | " + " | ".join(f"{task_names.get(t, t)} {METRIC_LABELS[m]}"
                                                 for t in ref_tasks for m in METRICS) + " |",
             "|---|" + "---|" * (len(ref_tasks) * len(METRICS))]
    for method in ordered(list(dict.fromkeys(sig["method_a"].tolist())), names):
        out = [names.get(method, method)]
        for t in ref_tasks:
            for m in METRICS:
                hit = sig[(sig["task"] == t) & (sig["n_train_patients"] == n_full[t])
                          & (sig["method_a"] == method) & (sig["metric"] == m)]
                if hit.empty:
                    out.append("–")
                    continue
                diff = -float(hit["estimate"].iloc[0])  # method - input
                sign = "" if math.isnan(diff) or diff == 0 else (
                    "+" if (diff > 0) == HIGHER_IS_BETTER[m] else "−")
                out.append(f"{sign}{_fmt_p(_holm_or_raw(hit))}")
        lines.append("| " + " | ".join(out) + " |")
    return lines + [""]


def _bone_dice(cells: pd.DataFrame) -> list[str]:
    """Bone Dice (CT >= 300 HU inside the head) of the tasks scored in HU, mean ± std per method."""
    rows = cells[cells["bone_dice_mean"].notna()] if "bone_dice_mean" in cells else cells.iloc[0:0]
    names, task_names = method_labels(), task_labels()
    lines: list[str] = []
    for task in ordered(list(dict.fromkeys(rows["task"].tolist())), task_names):
        sub = rows[rows["task"] == task]
        lines += [f"## {task_names.get(task, task)} bone Dice (CT ≥ 300 HU inside the head; what "
                  "attenuation correction needs)", "", "| method | bone Dice |", "|---|---|"]
        for method in ordered(list(dict.fromkeys(sub["method"].tolist())), names):
            hit = sub[sub["method"] == method]
            lines.append(f"| {names.get(method, method)} | "
                         f"{_fmt(float(hit['bone_dice_mean'].iloc[0]), float(hit['bone_dice_std'].iloc[0]), 3)} |")
        lines.append("")
    return lines


def _full_supervision(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The summary rows at each task's largest n_train_patients."""
    n_full = {t: int(g["n_train_patients"].max()) for t, g in summary.groupby("task")}
    keep = summary.apply(lambda r: int(r["n_train_patients"]) == n_full[r["task"]], axis=1)
    return summary[keep] if len(summary) else summary, n_full


def _reference_tests(significance: pd.DataFrame | None, tasks: list[str],
                     n_full: dict[str, int]) -> list[str]:
    """Seed-aware tests of the proposed method against every other method: the difference
    (method - proposed) with its 95 % interval and the Holm-adjusted p."""
    names, task_names = method_labels(), task_labels()
    reference = proposed()
    ref = names.get(reference, reference)
    lines = [f"## Seed-aware tests: each method − {ref} (estimate [95 % CI], Holm-adjusted p)", ""]
    sig = significance
    if sig is not None and len(sig):
        sig = sig[sig["test"].isin(SEED_AWARE_TESTS) & (sig["method_a"] == reference)]
    if sig is None or sig.empty:
        return lines + ["No paired tests available.", ""]
    lines.append(f"| {ref} vs | " + " | ".join(f"{task_names.get(t, t)} {METRIC_LABELS[m]}"
                                               for t in tasks for m in METRICS) + " |")
    lines.append("|---|" + "---|" * (len(tasks) * len(METRICS)))
    for method in ordered(list(dict.fromkeys(sig["method_b"].tolist())), names):
        out = [names.get(method, method)]
        for t in tasks:
            for m in METRICS:
                hit = sig[(sig["task"] == t) & (sig["n_train_patients"] == n_full[t])
                          & (sig["method_b"] == method) & (sig["metric"] == m)]
                out.append(_estimate_cell(hit, _metric_decimals(t, m)) if len(hit) else "–")
        lines.append("| " + " | ".join(out) + " |")
    return lines + ["", "Tests with the training seed as the unit (`seed_welch`: Welch's t-test on the "
                    "per-seed means; `paired_t_one_seed` with one seed). The subject-paired Wilcoxon "
                    "and t-tests, which treat the trained models as fixed, are in `significance.csv`.", ""]


def _estimate_cell(hit: pd.DataFrame, decimals: int) -> str:
    """``estimate [ci_low, ci_high], p`` of one significance row (Holm-adjusted p)."""
    r = hit.iloc[0]
    f = f".{decimals + 1}f"
    return (f"{float(r['estimate']):+{f}} [{float(r['ci_low']):{f}}, {float(r['ci_high']):{f}}], "
            f"{_fmt_p(_holm_or_raw(hit))}")


def _paper_number(entry: str, metric: str) -> tuple[str, float]:
    """The mean of ``metric`` in a paper entry ``"SSIM / PSNR / MAE"`` (as written, as a float)."""
    text = entry.split("/")[METRICS.index(metric)].split("±")[0].strip()
    return text, float(text)


def _paper_exceptions() -> list[str]:
    """Where the paper's own Table 1 has another method ahead of the proposed one."""
    names, task_names = method_labels(), task_labels()
    reference = proposed()
    notes = []
    for task, spec in TASKS.items():
        own = spec.paper_table1.get(reference)
        others = [(m, entry) for m, entry in spec.paper_table1.items() if m != reference]
        if own is None:
            continue
        for method, entry in others:
            for metric in METRICS:
                (a_text, a), (b_text, b) = _paper_number(entry, metric), _paper_number(own, metric)
                higher = HIGHER_IS_BETTER[metric]
                if (a > b) if higher else (a < b):
                    notes.append(f"On {task_names.get(task, task)} the paper's own "
                                 f"{METRIC_LABELS[metric]} of {names.get(method, method)} ({a_text}) "
                                 f"{'exceeds' if higher else 'is below'} "
                                 f"{names.get(reference, reference)}'s ({b_text}).")
    return notes


def _paper_table() -> list[str]:
    """The paper's Table 1 (only methods the paper reports) and its SSIM p-values."""
    names, task_names = method_labels(), task_labels()
    lines = ["## The paper's Table 1 (SSIM / PSNR / MAE; Upadhyay et al., MICCAI 2021)", "",
             "| method | " + " | ".join(task_names.values()) + " |",
             "|---|" + "---|" * len(task_names)]
    for method, row in paper_table1().items():
        lines.append(f"| {names.get(method, method)} | "
                     + " | ".join(row.get(t, "–") for t in task_names) + " |")
    notes = []
    p_values = paper_ssim_p_vs_medgan()
    if p_values:
        notes.append(f"Paper: paired tests of SSIM, {names.get(proposed(), proposed())} vs MedGAN: "
                     + ", ".join(f"p = {p} ({task_names[t]})" for t, p in p_values.items()) + ".")
    notes += _paper_exceptions()
    notes.append("The paper's MAE units are not stated; entries without ± have no std there. Our "
                 "cohort is simulated, so absolute values are not comparable, only the ordering "
                 "of methods.")
    return lines + ["", " ".join(notes), ""]


def _claims_section(claims: pd.DataFrame | None, only: Sequence[str] | None = None) -> list[str]:
    """The verdict of every claim (or of the claims in ``only``, in that order) with its seed
    agreement, what makes a check hold, then every check."""
    lines = ["## Claims", ""]
    if claims is None or len(claims) == 0:
        return lines + ["Claims not evaluated.", ""]
    ref = method_labels().get(proposed(), proposed())
    lines.append("| claim | statement | verdict | checks better / worse / no difference shown / "
                 "not testable | seed agreement (mean, lowest) |")
    lines.append("|---|---|---|---|---|")
    agreement = (claims.groupby("claim")["seed_agreement"].agg(["mean", "min"])
                 if "seed_agreement" in claims.columns else pd.DataFrame(columns=["mean", "min"]))
    verdicts = claim_verdicts(claims)
    if only is not None:
        verdicts = verdicts.set_index("claim").loc[list(only)].reset_index()
    for r in verdicts.itertuples():
        agree = "–"
        if r.claim in agreement.index and not pd.isna(agreement.loc[r.claim, "mean"]):
            agree = f"{agreement.loc[r.claim, 'mean']:.2f}, {agreement.loc[r.claim, 'min']:.2f}"
        lines.append(f"| {r.claim} | {r.statement} | **{r.verdict}** | "
                     f"{r.n_better} / {r.n_worse} / {r.n_no_difference} / {r.n_not_testable} | {agree} |")
    lines += ["", "Every check is decided by a seed-aware test (the training seed is the unit, so "
              "the verdict says whether retraining would agree): `better` when its Holm-adjusted p "
              f"< alpha with the estimate on the claimed side, `worse` on the other side, else `no "
              f"difference shown`. C1, C2, C6 ({ref} against each method) and C0 (each method against "
              "its input): Welch's t-test on the per-seed means; C3: paired t-test over seeds of "
              "the change from one phase to the next; C4: t-test of the seeds' mean per-subject "
              f"Spearman ρ(σ, |error|) inside the head against 0; C5: the interaction of `metric ~ "
              f"method × log(n)`, {ref}'s lead change per halving of n. With one seed a check falls "
              "back to the subject-paired t-test of that run (`paired_t_one_seed`). The seed "
              "agreement of a check is leave-one-seed-out: the fraction of seeds whose own "
              "estimate points the same way as the estimate of the other seeds.", ""]
    lines.append(claims_markdown(claims, **({} if only is None else {"claims": tuple(only)})))
    return lines


def table1_markdown(
    summary: pd.DataFrame, significance: pd.DataFrame, claims: pd.DataFrame | None,
    budget: pd.DataFrame | None = None, uncertainty: pd.DataFrame | None = None,
) -> str:
    """Table 1 of the reproduction as markdown.

    Sections: the methods x tasks table (SSIM, PSNR, MAE as mean ± std at each task's largest
    patient count), the Wilcoxon p-values of the proposed method against every other method and
    of every method against its input, bone Dice, the units line, the uncertainty quality (per-subject rows), the paper's own Table 1, and
    the claims from :func:`upgan.evaluation.claims_report`. Methods or tasks absent from
    ``summary`` are left out; an empty summary gives a short note.
    """
    missing = [c for c in CONTRACT_COLUMNS["summary"] if c not in summary.columns]
    if missing:
        raise ValueError(f"table1_markdown: summary lacks {missing}")
    lines = ["# Table 1 — image translation quality (reproduction)", ""]
    if summary.empty:
        lines += ["No results in the summary.", ""]
        return "\n".join(lines)
    task_names = task_labels()
    cells, n_full = _full_supervision(summary)
    tasks = ordered(list(dict.fromkeys(cells["task"].tolist())), task_names)
    lines.append("Training patients: " + ", ".join(f"{task_names.get(t, t)} {n_full[t]}"
                                                   for t in tasks)
                 + "; test subjects: " + ", ".join(
                     f"{task_names.get(t, t)} {int(cells.loc[cells['task'] == t, 'n_subjects'].max())}"
                     for t in tasks) + ".")
    lines.append("")
    lines += seeds_and_budget(summary, budget)
    lines += _methods_table(cells, tasks)
    lines += ["", _units_line(tasks), ""]
    lines += seed_spread_table(cells, tasks, task_names,
                               {(t, m): _metric_decimals(t, m) for t in tasks for m in METRICS})
    lines += _reference_tests(significance, tasks, n_full)
    lines += _input_tests(significance, tasks, n_full)
    lines += _bone_dice(cells)
    lines += uncertainty_markdown(uncertainty)
    lines += _paper_table()
    lines += _claims_section(claims)
    return "\n".join(lines)


def sweep_tables_markdown(summary: pd.DataFrame, claims: pd.DataFrame | None = None,
                          budget: pd.DataFrame | None = None,
                          claim_order: Sequence[str] = ("C5", "C1", "C2", "C6")) -> str:
    """Tables 2-4 analogue: the seeds and budget, then per patient count (largest first) a
    methods x (task x metric) table and the spread over seeds, then the claims in
    ``claim_order`` with their seed agreement (when ``claims`` is given)."""
    missing = [c for c in CONTRACT_COLUMNS["summary"] if c not in summary.columns]
    if missing:
        raise ValueError(f"sweep_tables_markdown: summary lacks {missing}")
    lines = ["# Weak supervision — quality vs number of training patients", ""]
    if summary.empty:
        return "\n".join(lines + ["No results in the summary.", ""])
    task_names = task_labels()
    lines += seeds_and_budget(summary, budget)
    for n in sorted({int(x) for x in summary["n_train_patients"]}, reverse=True):
        cells = summary[summary["n_train_patients"] == n]
        tasks = ordered(list(dict.fromkeys(cells["task"].tolist())), task_names)
        lines += [f"## {n} training patients", ""]
        lines += _methods_table(cells, tasks)
        lines.append("")
        lines += seed_spread_table(
            cells, tasks, task_names, {(t, m): _metric_decimals(t, m) for t in tasks for m in METRICS},
            heading=f"Spread over training seeds at {n} patients (std of the per-seed means):")
    lines += [_units_line(ordered(list(dict.fromkeys(summary["task"].tolist())), task_names)), ""]
    if claims is not None:
        present = [c for c in claim_order if c in set(claims["claim"])]
        lines += _claims_section(claims, present)
    return "\n".join(lines)
