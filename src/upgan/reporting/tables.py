"""Markdown tables of the results: Table 1 (methods x tasks), its p-values and the claims, and
the weak-supervision tables (one per patient count)."""

from __future__ import annotations

import logging
import math

import pandas as pd

from upgan.evaluation import (
    CONTRACT_COLUMNS,
    HIGHER_IS_BETTER,
    INPUT,
    METRICS,
    REFERENCE,
    claim_verdicts,
    claims_markdown,
)

logger = logging.getLogger(__name__)

METHOD_LABELS: dict[str, str] = {
    "input": "input (do nothing)",
    "pix2pix": "pix2pix",
    "pan": "PAN",
    "medgan": "MedGAN",
    "upgan": "UP-GAN",
    "upgan_no_guidance": "UP-GAN, no uncertainty guidance",
}
"""Table rows in the paper's order (configuration name -> label)."""

TASK_LABELS: dict[str, str] = {
    "pet_to_ct": "PET→CT",
    "mri_recon": "MRI recon",
    "mri_motion": "MRI motion",
}
"""Table column groups in the paper's order."""

METRIC_LABELS: dict[str, str] = {"ssim": "SSIM", "psnr": "PSNR", "mae": "MAE"}

PAPER_TABLE1: dict[str, dict[str, str]] = {
    "pix2pix": {"pet_to_ct": "0.89±0.04 / 26.0±2.0 / 38.5±10.7",
                "mri_recon": "0.92±0.03 / 28.5±0.9 / 27.6±9.3",
                "mri_motion": "0.94±0.06 / 29.6±1.4 / 26.3±8.2"},
    "pan": {"pet_to_ct": "0.90±0.08 / 26.5±4.5 / 37.2±15.6",
            "mri_recon": "0.93±0.05 / 28.8±0.7 / 26.2±10.4",
            "mri_motion": "0.95±0.10 / 30.1±2.8 / 24.9±9.7"},
    "medgan": {"pet_to_ct": "0.90±0.04 / 27.1±2.5 / 35.4±11.8",
               "mri_recon": "0.94±0.02 / 29.7±1.9 / 24.2±8.7",
               "mri_motion": "0.95±0.04 / 30.8±1.8 / 23.6±9.1"},
    "upgan": {"pet_to_ct": "0.95±0.05 / 28.9±0.4 / 24.7±12.9",
              "mri_recon": "0.97±0.07 / 29.4±2.1 / 24.1±7.5",
              "mri_motion": "0.96±0.03 / 32.1±0.3 / 22.8±11.1"},
    "upgan_no_guidance": {"pet_to_ct": "0.87 / 25.4 / 40.7", "mri_recon": "0.93 / 27.3 / 38.7",
                          "mri_motion": "0.92 / 26.2 / 35.1"},
}
"""Table 1 of the paper (SSIM / PSNR / MAE), Upadhyay et al., MICCAI 2021."""

PAPER_SSIM_P_VS_MEDGAN: dict[str, float] = {"pet_to_ct": 0.016, "mri_recon": 0.021,
                                            "mri_motion": 0.036}

UNITS_LINE = ("Units: images on the normalised [0, 1] scale, data range 1; SSIM per 2D slice "
              "(Gaussian window σ = 1.5) averaged per subject; PSNR (dB) from the MSE over all of "
              "a subject's pixels, capped at 100 dB; MAE of PET→CT in HU (all pixels, window "
              "[-1024, 3071] HU), MAE of the MRI tasks on the normalised scale; no background "
              "masking. Values are mean ± std (ddof = 1) over test subjects; **bold** = best mean "
              "in the column.")


def _ordered(values: list[str], order: dict[str, str]) -> list[str]:
    """Known names in the paper's order, then unknown ones in their given order."""
    return [v for v in order if v in values] + [v for v in values if v not in order]


def _metric_decimals(task: str, metric: str) -> int:
    if metric == "ssim":
        return 3
    if metric == "psnr":
        return 2
    return 1 if task == "pet_to_ct" else 4


def _fmt(mean: float, std: float, decimals: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{decimals}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {std:.{decimals}f}"
    return text


def _fmt_p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def _methods_table(cells: pd.DataFrame, tasks: list[str]) -> list[str]:
    """Markdown rows: methods x (task x metric), mean ± std, best mean of each column in bold."""
    methods = _ordered(list(dict.fromkeys(cells["method"].tolist())), METHOD_LABELS)
    header = "| method | " + " | ".join(f"{TASK_LABELS.get(t, t)} {METRIC_LABELS[m]}"
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
        out = [METHOD_LABELS.get(method, method)]
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
    """Wilcoxon p-values of every trained method against the do-nothing ``input`` (with the
    sign of the difference: ``+`` the method is better, ``−`` worse)."""
    if significance is None or significance.empty:
        return []
    both = significance[significance["method_b"] == INPUT]
    sig = both[both["test"] == "wilcoxon"]
    t_test = both[both["test"] == "paired_t"]
    ref_tasks = [t for t in tasks if t in set(sig["task"])]
    if sig.empty or not ref_tasks:
        return []
    lines = ["## Does each method beat doing nothing? (vs `input`, Wilcoxon, two-sided)", "",
             "`+`: the method is better than the input (sign of the paired t statistic), `−`: "
             "worse.", "",
             "| method vs input | " + " | ".join(f"{TASK_LABELS.get(t, t)} {METRIC_LABELS[m]}"
                                                 for t in ref_tasks for m in METRICS) + " |",
             "|---|" + "---|" * (len(ref_tasks) * len(METRICS))]
    for method in _ordered(list(dict.fromkeys(sig["method_a"].tolist())), METHOD_LABELS):
        out = [METHOD_LABELS.get(method, method)]
        for t in ref_tasks:
            for m in METRICS:
                hit = sig[(sig["task"] == t) & (sig["n_train_patients"] == n_full[t])
                          & (sig["method_a"] == method) & (sig["metric"] == m)]
                if hit.empty:
                    out.append("–")
                    continue
                t_hit = t_test[(t_test["task"] == t) & (t_test["n_train_patients"] == n_full[t])
                               & (t_test["method_a"] == method) & (t_test["metric"] == m)]
                diff = float(t_hit["statistic"].iloc[0]) if len(t_hit) else float("nan")
                sign = "" if math.isnan(diff) or diff == 0 else (
                    "+" if (diff > 0) == HIGHER_IS_BETTER[m] else "−")
                out.append(f"{sign}{_fmt_p(float(hit['p_value'].iloc[0]))}")
        lines.append("| " + " | ".join(out) + " |")
    return lines + [""]


def _bone_dice(cells: pd.DataFrame) -> list[str]:
    """PET->CT bone Dice (CT >= 300 HU inside the head), mean ± std per method."""
    rows = cells[cells["bone_dice_mean"].notna()] if "bone_dice_mean" in cells else cells.iloc[0:0]
    if rows.empty:
        return []
    lines = ["## PET→CT bone Dice (CT ≥ 300 HU inside the head; what attenuation correction needs)",
             "", "| method | bone Dice |", "|---|---|"]
    for method in _ordered(list(dict.fromkeys(rows["method"].tolist())), METHOD_LABELS):
        hit = rows[rows["method"] == method]
        lines.append(f"| {METHOD_LABELS.get(method, method)} | "
                     f"{_fmt(float(hit['bone_dice_mean'].iloc[0]), float(hit['bone_dice_std'].iloc[0]), 3)} |")
    return lines + [""]


def _full_supervision(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The summary rows at each task's largest n_train_patients."""
    n_full = {t: int(g["n_train_patients"].max()) for t, g in summary.groupby("task")}
    keep = summary.apply(lambda r: int(r["n_train_patients"]) == n_full[r["task"]], axis=1)
    return summary[keep] if len(summary) else summary, n_full


def table1_markdown(
    summary: pd.DataFrame, significance: pd.DataFrame, claims: pd.DataFrame | None
) -> str:
    """Table 1 of the reproduction as markdown.

    Sections: the methods x tasks table (SSIM, PSNR, MAE as mean ± std at each task's largest
    patient count), the Wilcoxon p-values of UP-GAN against every other method, the units
    line, the paper's own Table 1, and the claims (C1, C2, C4, C3, C5) from
    :func:`upgan.evaluation.claims_report`. Methods or tasks absent from ``summary`` are left
    out; an empty summary gives a short note.
    """
    missing = [c for c in CONTRACT_COLUMNS["summary"] if c not in summary.columns]
    if missing:
        raise ValueError(f"table1_markdown: summary lacks {missing}")
    lines = ["# Table 1 — image translation quality (reproduction)", ""]
    if summary.empty:
        lines += ["No results in the summary.", ""]
        return "\n".join(lines)
    cells, n_full = _full_supervision(summary)
    tasks = _ordered(list(dict.fromkeys(cells["task"].tolist())), TASK_LABELS)
    lines.append("Training patients: " + ", ".join(f"{TASK_LABELS.get(t, t)} {n_full[t]}"
                                                   for t in tasks)
                 + "; test subjects: " + ", ".join(
                     f"{TASK_LABELS.get(t, t)} {int(cells.loc[cells['task'] == t, 'n_subjects'].max())}"
                     for t in tasks) + ".")
    lines.append("")
    lines += _methods_table(cells, tasks)
    lines += ["", UNITS_LINE, ""]

    # p-values
    lines += ["## Paired tests: UP-GAN vs each method (Wilcoxon signed-rank, two-sided)", ""]
    sig = significance
    if sig is not None and len(sig):
        sig = sig[(sig["test"] == "wilcoxon") & (sig["method_a"] == REFERENCE)]
    if sig is None or sig.empty:
        lines += ["No paired tests available.", ""]
    else:
        others = _ordered(list(dict.fromkeys(sig["method_b"].tolist())), METHOD_LABELS)
        lines.append("| UP-GAN vs | " + " | ".join(f"{TASK_LABELS.get(t, t)} {METRIC_LABELS[m]}"
                                                    for t in tasks for m in METRICS) + " |")
        lines.append("|---|" + "---|" * (len(tasks) * len(METRICS)))
        for method in others:
            out = [METHOD_LABELS.get(method, method)]
            for t in tasks:
                for m in METRICS:
                    hit = sig[(sig["task"] == t) & (sig["n_train_patients"] == n_full[t])
                              & (sig["method_b"] == method) & (sig["metric"] == m)]
                    out.append(_fmt_p(float(hit["p_value"].iloc[0])) if len(hit) else "–")
            lines.append("| " + " | ".join(out) + " |")
        lines += ["", "p-values of the paired t-test are in `significance.csv`.", ""]
    lines += _input_tests(significance, tasks, n_full)
    lines += _bone_dice(cells)

    # paper
    lines += ["## The paper's Table 1 (SSIM / PSNR / MAE; Upadhyay et al., MICCAI 2021)", "",
              "| method | " + " | ".join(TASK_LABELS.values()) + " |", "|---|---|---|---|"]
    for method, row in PAPER_TABLE1.items():
        lines.append(f"| {METHOD_LABELS[method]} | "
                     + " | ".join(row[t] for t in TASK_LABELS) + " |")
    lines += ["", "Paper: paired tests of SSIM, UP-GAN vs MedGAN: "
              + ", ".join(f"p = {p} ({TASK_LABELS[t]})" for t, p in PAPER_SSIM_P_VS_MEDGAN.items())
              + ". On MRI recon the paper's own PSNR of MedGAN (29.7) exceeds UP-GAN's (29.4)."
              " The paper's MAE units are not stated; its ablation row has no std. Our cohort "
              "is simulated, so absolute values are not comparable, only the ordering of methods.",
              ""]

    # claims
    lines += ["## Claims", ""]
    if claims is None or len(claims) == 0:
        lines += ["Claims not evaluated.", ""]
    else:
        verdicts = claim_verdicts(claims)
        lines.append("| claim | statement | verdict | checks held / not held / not testable |")
        lines.append("|---|---|---|---|")
        for r in verdicts.itertuples():
            lines.append(f"| {r.claim} | {r.statement} | **{r.verdict}** | "
                         f"{r.n_held} / {r.n_not_held} / {r.n_not_testable} |")
        lines += ["", "A check holds when UP-GAN's mean is better AND the Wilcoxon p < alpha (C1, "
                  "C2); when mean |error| and mean σ strictly fall over phases 0..M-1 (C3); when "
                  "Spearman ρ(σ, |error|) > 0 (C4); when UP-GAN's lead is larger at the smallest "
                  "patient count than at the largest (C5).", ""]
        lines.append(claims_markdown(claims))
    return "\n".join(lines)


def sweep_tables_markdown(summary: pd.DataFrame) -> str:
    """Tables 2-4 analogue: one methods x (task x metric) table per patient count, from the
    largest count to the smallest."""
    missing = [c for c in CONTRACT_COLUMNS["summary"] if c not in summary.columns]
    if missing:
        raise ValueError(f"sweep_tables_markdown: summary lacks {missing}")
    lines = ["# Weak supervision — quality vs number of training patients", ""]
    if summary.empty:
        return "\n".join(lines + ["No results in the summary.", ""])
    for n in sorted({int(x) for x in summary["n_train_patients"]}, reverse=True):
        cells = summary[summary["n_train_patients"] == n]
        tasks = _ordered(list(dict.fromkeys(cells["task"].tolist())), TASK_LABELS)
        lines += [f"## {n} training patients", ""]
        lines += _methods_table(cells, tasks)
        lines.append("")
    lines += [UNITS_LINE, ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# training set-up (what each cell's model bundle records)
# --------------------------------------------------------------------------------------------
def _numbers(values: object) -> str:
    return ", ".join(f"{float(v):g}" for v in values)  # type: ignore[union-attr]


def describe_method_setup(config: dict) -> str:
    """One line on how a cell's method was set up, from its model bundle's ``config``.

    MedGAN's line names the frozen feature extractor the run used (the in-pipeline pretrained
    autoencoder or a local VGG-19 file) and its weights' sha256.
    """
    method = config.get("method", "")
    if "cascade" in config:
        cascade = config["cascade"]
        unet = cascade.get("unet", {})
        guidance = "with" if cascade.get("guidance", True) else "without"
        return (f"M = {cascade['n_phases']} phases {guidance} uncertainty guidance; U-Net base width "
                f"{unet.get('base_width')}, depth {unet.get('depth')}, {unet.get('block')} blocks")
    network = config.get("network", {})
    p = network.get("params", {})
    if method == "pix2pix":
        return (f"U-Net generator ({p['num_downs']} levels, width {p['ngf']}) with dropout "
                f"{p['dropout']:g} in the three decoder levels above the bottleneck; conditional "
                f"PatchGAN ({p['n_layers_d']} layers); L1 weight {p['lambda_l1']:g}")
    if method == "pan":
        return (f"perceptual loss on the discriminator's hidden layers, weights λ = "
                f"({_numbers(p['layer_weights'])}), margin m = {p['margin']:g}, pixel L1 weight "
                f"{p['lambda_pixel']:g} (λ and m as in the public re-implementation; the paper's "
                "own values are unconfirmed)")
    if method == "medgan":
        source = network.get("feature_extractor_source", "unknown")
        digest = str(network.get("feature_extractor_sha256", ""))[:12]
        if source == "pretrained_autoencoder":
            fe = p.get("feature_extractor", {})
            extractor = (f"a VGG-style encoder pretrained in the pipeline as an L1 autoencoder of "
                         f"the training targets ({fe.get('steps')} updates, final L1 "
                         f"{network.get('feature_extractor_final_l1', math.nan):.4f})")
        else:
            extractor = f"VGG-19 weights from the local file {source}"
        return (f"CasNet of {p['n_blocks']} u-blocks, {p['generator_steps_per_iteration']} generator "
                f"steps per discriminator step; frozen feature extractor for the style and content "
                f"losses: {extractor}, sha256 {digest}…")
    return "(no description)"


def training_setup_markdown(configs: list[dict], steps: int, fine_tune_steps: int, batch_size: int,
                            val_every: int | None, recipe: str) -> str:
    """The "Training set-up" section of Table 1: the budget every method shares and, per cell,
    :func:`describe_method_setup` of its model bundle."""
    check = f"every {val_every} updates" if val_every else "at the end"
    lines = [
        "", "## Training set-up", "",
        f"Budget in optimiser updates: every baseline generator (MedGAN's extra generator updates "
        f"included) and every UP-GAN phase generator makes {steps} updates on batches of "
        f"{batch_size} slices; UP-GAN's end-to-end fine-tuning adds {fine_tune_steps} (as in the "
        f"paper; UP-GAN loss recipe: {recipe}). Every stage is validated {check} and keeps its "
        "weights with the lowest validation MAE (the same rule for every method; test data "
        "choose nothing). Updates and kept steps per network: `budget.csv`; validation curves: "
        "`figures/convergence_<task>.png`. What each cell's model bundle records:", "",
        "| task | method | set-up |", "|---|---|---|",
    ]
    task_order = {t: i for i, t in enumerate(TASK_LABELS)}
    method_order = {m: i for i, m in enumerate(METHOD_LABELS)}
    ordered = sorted(configs, key=lambda c: (task_order.get(c.get("task"), 99),
                                             method_order.get(c.get("method"), 99)))
    for config in ordered:
        task, method = config.get("task", ""), config.get("method", "")
        lines.append(f"| {TASK_LABELS.get(task, task)} (n = {config.get('n_train_patients')}) | "
                     f"{METHOD_LABELS.get(method, method)} | {describe_method_setup(config)} |")
    return "\n".join(lines) + "\n"
