"""Nodes of the reporting pipeline: gather every cell, test, tabulate, draw."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from upgan import evaluation
from upgan.io.bundle import ModelBundle
from upgan.methods.registry import labels, names
from upgan.pipelines import mlflow_compare, tracking
from upgan.reporting.convergence import budget_table, convergence_figure
from upgan.reporting.evaluation_figures import calibration_figure, methods_figure
from upgan.reporting.setup import training_setup_markdown
from upgan.reporting.tables import table1_markdown
from upgan.tasks import get_task

logger = logging.getLogger(__name__)


def collect_results(
    n_cells: int, *frames: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Concatenate the cells' per-subject metrics and uncertainty rows (in that order: the first
    ``n_cells`` frames are metrics, of the trained cells and the ``input`` references, the rest
    uncertainty) into the contract tables, plus the PET->CT MAE inside the head mask (mean ± std
    per cell, each subject's value averaged over the cell's seeds), which the contract does not
    carry, with the other reader metrics of :data:`upgan.evaluation.READER_COLUMNS` (soft-tissue
    MAE, SSIM and PSNR inside the head). ``seed`` is an integer column, empty for the seedless
    ``input`` rows."""
    all_metrics = pd.concat(frames[:n_cells], ignore_index=True)
    all_metrics["seed"] = all_metrics["seed"].astype("Int64")
    metrics = evaluation.check_contract(
        "metrics_per_subject", all_metrics[evaluation.CONTRACT_COLUMNS["metrics_per_subject"]]
    )
    keys = ["task", "method", "n_train_patients"]
    reader = [c for c in evaluation.READER_COLUMNS if c in all_metrics]
    head_columns = [*keys, *[f"{c}_{s}" for c in evaluation.READER_COLUMNS for s in ("mean", "std")]]
    if "mae_head" in reader:
        per_subject = (all_metrics.dropna(subset=["mae_head"]).groupby([*keys, "subject_id"])[reader].mean())
        head = per_subject.groupby(keys).agg(["mean", "std"])
        head.columns = [f"{c}_{s}" for c, s in head.columns]
        head = head.reset_index().reindex(columns=head_columns)
    else:
        head = pd.DataFrame(columns=head_columns)
    parts = [f for f in frames[n_cells:] if not f.empty]
    columns = evaluation.CONTRACT_COLUMNS["uncertainty"]
    uncertainty = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    uncertainty["seed"] = uncertainty["seed"].astype("Int64")
    return metrics, evaluation.check_contract("uncertainty", uncertainty), head


def run_info() -> pd.DataFrame:
    """``run_info.csv``: the machine this run computes on (:func:`upgan.machine.cpu_description`),
    one ``key, value`` row each. CPU results repeat bit for bit only on one CPU type."""
    from upgan.machine import cpu_description

    return pd.DataFrame(list(cpu_description().items()), columns=["key", "value"])


def training_budget(*histories: pd.DataFrame) -> pd.DataFrame:
    """``budget.csv``: per trained network its updates and the kept (best validation) step."""
    table = budget_table(histories)
    logger.info("Training budget:\n%s", table.to_string(index=False))
    return table


def _head_mae_markdown(head: pd.DataFrame) -> str:
    if head.empty:
        return ""
    lines = ["", "## PET→CT inside the head mask (CT > −500 HU): what a reader sees", "",
             "MAE in HU; soft-tissue MAE with prediction and target clipped to the window "
             "[−100, 200] HU; SSIM (the map averaged over head pixels) and PSNR (MSE over head "
             "pixels) on the normalised scale. Mean ± std over test subjects (seeds averaged).", "",
             "| method | MAE [HU] | soft-tissue MAE [HU] | SSIM | PSNR [dB] |", "|---|---|---|---|---|"]
    order = {m: i for i, m in enumerate(names())}
    method_labels = labels()

    def cell(row: dict, column: str, decimals: int) -> str:
        mean, std = row.get(f"{column}_mean"), row.get(f"{column}_std")
        if mean is None or pd.isna(mean):
            return "–"
        return f"{mean:.{decimals}f} ± {std:.{decimals}f}" if not pd.isna(std) else f"{mean:.{decimals}f}"

    for row in sorted(head.to_dict("records"), key=lambda r: (r["task"], r["n_train_patients"], order.get(r["method"], 99))):
        lines.append(f"| {method_labels.get(row['method'], row['method'])} (n = {row['n_train_patients']}) "
                     f"| {cell(row, 'mae_head', 1)} | {cell(row, 'mae_soft_tissue', 1)} "
                     f"| {cell(row, 'ssim_head', 3)} | {cell(row, 'psnr_head', 2)} |")
    return "\n".join(lines) + "\n"


def summarise_and_test(
    metrics_per_subject: pd.DataFrame, uncertainty: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary (seeds pooled), paired tests (Holm-adjusted) of the proposed method against every
    other method and of every method against ``input``, and the claims with their seed agreement."""
    summary, significance, claims = evaluation.claims_with_seed_agreement(metrics_per_subject, uncertainty)
    evaluation.check_contract("summary", summary)
    evaluation.check_contract("significance", significance)
    return summary, significance, claims


def describe_training(
    upgan: dict[str, Any], training: dict[str, Any], *models: ModelBundle
) -> str:
    """The "Training set-up" section of Table 1: the shared budget (from the parameters) and
    what every cell's model bundle records of its method (MedGAN: the feature extractor used)."""
    from upgan.pipelines.training.config import fine_tune_steps, phase_steps

    return training_setup_markdown(
        [m.config for m in models], phase_steps(training), fine_tune_steps(upgan),
        int(upgan["phase"]["batch_size"]), training.get("val_every"),
        str(upgan.get("loss", {}).get("recipe", "paper")),
    )


def build_report(
    metrics_per_subject: pd.DataFrame, uncertainty: pd.DataFrame, head_mae: pd.DataFrame | None = None,
    training_setup: str = "", budget: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Summary (mean ± std), paired tests of UP-GAN against every other method, the claims
    checks (C0-C6) and Table 1 in markdown (with the head-mask MAE and the training set-up);
    ``table1.md``, ``summary.csv`` and ``claims.csv`` are also attached to the Kedro run's
    MLflow run (``report/``)."""
    summary, significance, claims = summarise_and_test(metrics_per_subject, uncertainty)
    table = table1_markdown(summary, significance, claims, budget, uncertainty)
    if head_mae is not None:
        table += _head_mae_markdown(head_mae)
    table += training_setup
    verdicts = evaluation.claim_verdicts(claims)
    n_seeds = metrics_per_subject["seed"].nunique() if "seed" in metrics_per_subject else 1
    logger.info("Claims on this run (decided on the tables pooled over %d seed(s)):\n%s", max(n_seeds, 1),
                verdicts.to_string(index=False))
    tracking.log_report("table1.md", table)
    tracking.log_report("summary.csv", summary)
    tracking.log_report("claims.csv", claims)
    mlflow_compare.log_comparisons(metrics_per_subject)
    return summary, significance, claims, table


def compare_variants(metrics_per_subject: pd.DataFrame,
                     uncertainty: pd.DataFrame) -> tuple[pd.DataFrame, str, dict[str, Figure]]:
    """The mechanism comparison (:mod:`upgan.evaluation.variants`): the proposed method and each
    of its variants against the ablation and the control, seed-aware, with skull loss per seed
    and σ's quality, and per task with variants the figure ``variants_<task>.png`` (accuracy
    against σ's AUSE, bone Dice per seed); ``variants.md`` and the figures are also attached to
    the Kedro run's MLflow run."""
    from upgan.evaluation import variants
    from upgan.methods.registry import get
    from upgan.reporting.variants_figure import variants_figure

    specs = {name: get(name) for name in names()}
    roles = {n: s.role for n, s in specs.items()}
    tests = variants.variant_tests(metrics_per_subject, roles)
    trained = set(tests["method"]) | set(tests["versus"])
    skull = variants.skull_loss(metrics_per_subject)
    skull = skull[skull["method"].isin(trained)]
    sigma = variants.sigma_quality(uncertainty)
    report = variants.variants_markdown(tests, skull, sigma, {n: s.label for n, s in specs.items()})
    tracking.log_report("variants.md", report)
    points = variants.variant_points(metrics_per_subject, uncertainty, roles)
    figures: dict[str, Figure] = {}
    for task in dict.fromkeys(tests["task"]):
        name = f"variants_{task}.png"
        figures[name] = variants_figure(points, task, get_task(task).mae_units)
        tracking.log_report(name, figures[name])
    return tests, report, figures


def plot_methods(task: str, cells: list[tuple[str, int, int]], *examples: dict[str, np.ndarray],
                 preparation: dict[str, Any] | None = None) -> Figure:
    """Figure 3 analogue: each method's prediction and residual on the same test slice, one
    seed per method (``cells``: ``(method, n, seed)``; residuals in HU for a task scored in HU,
    with ``preparation``'s window; also attached to the Kedro run's MLflow run,
    ``report/figures/``, and to those cells' child runs)."""
    from upgan.preparation import PreparationConfig
    from upgan.preparation.normalisation import HUWindow

    first = examples[0]
    predictions = {m: e["prediction"] for (m, _, _), e in zip(cells, examples, strict=True)}
    seeds = sorted({seed for _, _, seed in cells})
    title = (f"{task}: test subject {first['subject_id']}, slice {int(first['slice_index'])} "
             f"(seed {', '.join(map(str, seeds))})")
    scale, unit = 1.0, ""
    if get_task(task).scores_in_hu:
        scale, unit = HUWindow(*PreparationConfig.from_params(preparation or {}).hu_window).width, "HU"
    figure = methods_figure(first["input"], first["target"], predictions, title=title,
                            residual_scale=scale, residual_unit=unit)
    _attach(task, cells, figure, f"methods_{task}.png")
    tracking.log_report(f"methods_{task}.png", figure)
    return figure


def _attach(task: str, cells: list[tuple[str, int, int]], figure: Figure, name: str) -> None:
    """Attach ``figure`` to the cells' child runs without re-opening them (their durations stay
    the cells' own)."""
    for method, n, seed in cells:
        tracking.attach_figure(task, method, n, seed, figure, name)


def plot_calibration(task: str, cells: list[tuple[str, int, int]], *tables: pd.DataFrame) -> Figure:
    """σ calibration (mean |error| per σ bin) and sparsification of the UP-GAN family, one seed
    per method (also attached to those cells' MLflow child runs)."""
    methods = [m for m, _, _ in cells]
    calibration, sparsification = {}, {}
    for method, table in zip(methods, tables, strict=True):
        if table.empty:
            continue
        label = labels()[method]
        calibration[label] = table[table["kind"] == "calibration"].dropna(axis=1, how="all")
        sparsification[label] = table[table["kind"] == "sparsification"].dropna(axis=1, how="all")
    seeds = sorted({seed for _, _, seed in cells})
    figure = calibration_figure(
        calibration, sparsification,
        title=f"{task}: uncertainty calibration inside the head mask (test set, seed {', '.join(map(str, seeds))})")
    _attach(task, cells, figure, f"calibration_{task}.png")
    return figure


# ------------------------------------------------------------------------------------------------
# one results object per task (the default pipeline's report reads three datasets, not one per
# cell output: Kedro-Viz then folds every cell into its task)
# ------------------------------------------------------------------------------------------------
def gather_task(task: str, layout: list[tuple[str, str, int | None, str]], *datasets: Any) -> dict[str, Any]:
    """Everything the report needs from one task, from every output of its cells.

    ``layout`` names each dataset: ``(method, kind, seed, history network or "")`` with ``kind``
    one of ``metrics, uncertainty, calibration, example, history, model, val_slices`` or
    ``other`` (an output gathered only so that it belongs to its task: predictions, phase
    summaries and figures, the data preview). The first seed of each method is the one the
    figures show; its model configs describe the training set-up.
    """
    if len(layout) != len(datasets):
        raise ValueError(f"{task}: {len(layout)} named inputs but {len(datasets)} datasets")
    out: dict[str, Any] = {"task": task, "metrics": [], "uncertainty": [], "histories": [],
                           "figure_histories": [], "calibration": {}, "examples": {}, "models": [],
                           "input_val_mae": None}
    seeds = sorted({seed for _, _, seed, _ in layout if seed is not None})
    first = seeds[0] if seeds else None
    for (method, kind, seed, _), data in zip(layout, datasets, strict=True):
        if kind in ("metrics", "uncertainty"):
            out[kind].append(data)
        elif kind == "history":
            out["histories"].append(data)
            if seed == first:
                out["figure_histories"].append(data)
        elif kind == "calibration" and seed == first and not data.empty:
            out["calibration"][method] = data
        elif kind == "example" and seed == first:
            out["examples"][method] = data
        elif kind == "model" and seed == first:
            out["models"].append(data.config)
        elif kind == "val_slices" and get_task(task).input_is_reference:
            x = np.clip(data.inputs[:, :1], *evaluation.VALID_RANGE)
            out["input_val_mae"] = float(np.abs(x - data.targets).mean())
    return out


def collect_task_results(*results: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The contract tables of every task (see :func:`collect_results`)."""
    metrics = [f for r in results for f in r["metrics"]]
    uncertainty = [f for r in results for f in r["uncertainty"]]
    return collect_results(len(metrics), *metrics, *uncertainty)


def task_budget(*results: dict[str, Any]) -> pd.DataFrame:
    """``budget.csv`` of every task (see :func:`training_budget`)."""
    return training_budget(*[h for r in results for h in r["histories"]])


def describe_task_training(upgan: dict[str, Any], training: dict[str, Any], *results: dict[str, Any]) -> str:
    """The "Training set-up" section from the first seed's model configs of every cell."""
    from upgan.pipelines.training.config import fine_tune_steps, phase_steps

    return training_setup_markdown(
        [config for r in results for config in r["models"]], phase_steps(training), fine_tune_steps(upgan),
        int(upgan["phase"]["batch_size"]), training.get("val_every"),
        str(upgan.get("loss", {}).get("recipe", "paper")),
    )


def plot_task_figures(n_train_patients: dict[str, int], first_seed: int,
                      *results: dict[str, Any]) -> dict[str, Figure]:
    """Per task the methods figure (Figure 3 analogue), the convergence figure and the σ
    calibration of the UP-GAN family, one seed per method, as ``<kind>_<task>.png`` -> figure (the
    methods figures also go to the Kedro run's MLflow run and every figure to its cells' runs)."""
    figures: dict[str, Figure] = {}
    for r in results:
        task = r["task"]
        n = n_train_patients[task]
        methods = list(r["examples"])
        examples = [r["examples"][m] for m in methods]
        preparation = next((c.get("preparation") for c in r["models"] if c.get("preparation")), None)
        figures[f"methods_{task}.png"] = plot_methods(task, [(m, n, first_seed) for m in methods], *examples,
                                                      preparation=preparation)
        figures[f"convergence_{task}.png"] = convergence_figure(
            r["figure_histories"], r["input_val_mae"], title=f"{task}: validation MAE during training (seed {first_seed})")
        cascades = [m for m in methods if m in r["calibration"]]
        if cascades:
            figures[f"calibration_{task}.png"] = plot_calibration(
                task, [(m, n, first_seed) for m in cascades], *[r["calibration"][m] for m in cascades])
    return figures
