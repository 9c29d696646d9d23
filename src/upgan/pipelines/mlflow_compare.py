"""What MLflow shows to compare methods: short test-metric keys, a per-task comparison table,
readable run names and a runs-table view that needs no column picking.

- Every cell's child run gets its test scores (mean over the test subjects) as ``Test/ssim``,
  ``Test/psnr``, ``Test/mae`` (:data:`TEST_PREFIX`): MLflow's UI lists metric keys in code-point
  order (``Array.sort``), so the capital ``T`` puts them before the lower-case training curves
  (``cell_seconds``, ``fine_tune/…``, ``phase_0/…``) in the column picker and the charts. The
  cell's model is logged at the curves' last step and the test scores at the same step, so the
  logged model's page shows them and the curves' values at that step (:func:`model_step`).
- The parent run gets ``report/compare_<task>.md`` and ``.csv``: method × metric, the mean over
  seeds of each seed's mean over test subjects, ± the SD over seeds, with the do-nothing
  ``input`` row where the task has one (:func:`comparison_table`).
- The parent run is named after the pipelines, the configuration environment and the tasks
  (:func:`parent_run_name`); cells' child runs are named ``<method> n<NN> s<seed> <task>``
  (:func:`cell_run_name`), the method first so a cut name still says which method it is.
- The experiment holds a shared view (MLflow's ``mlflow.sharedViewState.<key>`` experiment tag,
  what the UI's "Share" button writes) whose runs table shows the test-metric columns;
  ``make ui`` opens it (:data:`VIEW_KEY`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

TEST_PREFIX = "Test/"
"""Prefix of the test-score metrics of a cell's child run (``Test/ssim`` ...)."""
VIEW_KEY = "upgan-compare"
"""The shared view of the runs table with the test-metric columns (URL ``viewStateShareKey``)."""
SHARED_VIEW_TAG = "mlflow.sharedViewState."
"""The experiment-tag prefix MLflow 3.17's UI reads a shared view from."""
PIPELINES_TAG = "kedro_pipelines"
"""Parent-run tag: the ``+``-joined pipelines of the Kedro run (``__default__`` for all)."""


def test_metric_keys(metrics: Iterable[str]) -> list[str]:
    """The child-run keys of the test scores ``metrics`` (``Test/<metric>``)."""
    return [f"{TEST_PREFIX}{m}" for m in metrics]


def test_metrics(summary_row: Mapping[str, Any], metrics: Iterable[str]) -> dict[str, float]:
    """``Test/<metric>`` = the ``<metric>_mean`` column of a cell's summary row."""
    return {f"{TEST_PREFIX}{m}": float(summary_row[f"{m}_mean"]) for m in metrics
            if f"{m}_mean" in summary_row and np.isfinite(float(summary_row[f"{m}_mean"]))}


def log_test_scores(run: Any, summary_row: Mapping[str, Any]) -> None:
    """Log a cell's ``Test/<metric>`` scores into its (active) child run ``run`` at the step of
    its logged model (:func:`model_step`), which links them to that model (MLflow links a run's
    metrics to the models the run output at the same step); no-op for ``run`` ``None``."""
    from upgan import evaluation
    from upgan.pipelines import tracking

    if run is None:
        return
    tracking.log_metrics(test_metrics(summary_row, evaluation.METRICS), step=model_step(run.info.run_id))


def model_step(run_id: str) -> int:
    """The step a cell's model is logged at: the last step of the run's training curves
    (``<stage>/g_loss``; 0 without any; steps count generator updates per stage). MLflow's
    logged-model page shows the run's metrics at that step (the curves' values there, then the
    test scores), not their first values."""
    client = MlflowClient()
    keys = [key for key in client.get_run(run_id).data.metrics if key.endswith("/g_loss")]
    return max((m.step for key in keys for m in client.get_metric_history(run_id, key)), default=0)


def comparison_table(metrics_per_subject: pd.DataFrame, metrics: Iterable[str]) -> pd.DataFrame:
    """Per task, n and method: each seed's mean over test subjects, then the mean and the SD
    (``ddof=1``; NaN with one seed) over seeds. Columns ``task, method, n_train_patients,
    n_seeds, <metric>_mean, <metric>_sd``; ``input`` (no seed) counts as one seed."""
    metrics = list(metrics)
    frame = metrics_per_subject.copy()
    frame["seed"] = frame["seed"].fillna(-1) if "seed" in frame else -1
    keys = ["task", "method", "n_train_patients"]
    per_seed = frame.groupby([*keys, "seed"], sort=False)[metrics].mean().reset_index()
    grouped = per_seed.groupby(keys, sort=False)
    table = grouped.size().rename("n_seeds").reset_index()
    for metric in metrics:
        stats = grouped[metric].agg(["mean", "std"]).reset_index(drop=True)
        table[f"{metric}_mean"], table[f"{metric}_sd"] = stats["mean"].to_numpy(), stats["std"].to_numpy()
    return table


def comparison_markdown(table: pd.DataFrame, metrics: Iterable[str], higher_is_better: Mapping[str, bool]) -> str:
    """One task's comparison as a markdown table (mean ± SD over seeds; the best method of each
    metric in bold, ``input`` excluded)."""
    metrics = list(metrics)
    arrows = {m: "↑" if higher_is_better.get(m, True) else "↓" for m in metrics}
    lines = ["| method | training patients | seeds | " + " | ".join(f"{m} {arrows[m]}" for m in metrics) + " |",
             "|---|---|---|" + "---|" * len(metrics)]
    methods = table[table["method"] != "input"]
    best = {m: (methods[f"{m}_mean"].max() if higher_is_better.get(m, True) else methods[f"{m}_mean"].min())
            for m in metrics}
    for row in table.itertuples(index=False):
        cells = []
        for m in metrics:
            mean, sd = getattr(row, f"{m}_mean"), getattr(row, f"{m}_sd")
            text = f"{mean:.4g}" + (f" ± {sd:.2g}" if np.isfinite(sd) else "")
            cells.append(f"**{text}**" if row.method != "input" and mean == best[m] else text)
        lines.append(f"| {row.method} | {row.n_train_patients} | {row.n_seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def log_comparisons(metrics_per_subject: pd.DataFrame) -> None:
    """Attach ``report/compare_<task>.md`` and ``.csv`` to the Kedro run's parent run (no-op
    outside a Kedro run)."""
    from upgan import evaluation
    from upgan.pipelines import tracking

    if not tracking.active() or metrics_per_subject.empty:
        return
    for task, rows in metrics_per_subject.groupby("task", sort=False):
        table = comparison_table(rows, evaluation.METRICS)
        tracking.log_report(f"compare_{task}.csv", table)
        tracking.log_report(f"compare_{task}.md", f"# {task}: test scores, mean ± SD over seeds\n\n"
                            + comparison_markdown(table, evaluation.METRICS, evaluation.HIGHER_IS_BETTER))


def cell_run_name(cell: str) -> str:
    """A cell's child-run name, method first: ``pet_to_ct.upgan.n04.s2021`` -> ``upgan n04 s2021
    pet_to_ct``."""
    task, method, *rest = cell.split(".")
    return " ".join([method, *rest, task])


def cell_model_name(cell: str) -> str:
    """A cell's logged-model name, method first like its run: ``pet_to_ct.upgan.n04.s2021`` ->
    ``upgan-n04-s2021-pet_to_ct`` (MLflow's model names take no dots; load it with
    ``runs:/<run id>/upgan-n04-s2021-pet_to_ct``)."""
    task, method, *rest = cell.split(".")
    return "-".join([method, *rest, task])


def parent_run_name(pipeline_names: Iterable[str] | None, env: str | None, tasks: Iterable[str]) -> str:
    """The parent run's name: pipelines, configuration environment, tasks, e.g. ``all [test]
    mri_motion, pet_to_ct``."""
    names = [n for n in (pipeline_names or []) if n != "__default__"]
    tasks = sorted(set(tasks))
    return f"{'+'.join(names) or 'all'} [{env or 'base'}]" + (f" {', '.join(tasks)}" if tasks else "")


def name_parent_run(client: MlflowClient, run_id: str, run_params: Mapping[str, Any], pipeline: Any) -> None:
    """Name the parent run (:func:`parent_run_name`), tag its pipelines (:data:`PIPELINES_TAG`)
    and write the experiment's shared view (:func:`shared_view`)."""
    from upgan.pipelines import tracking

    cells = [tracking.CELL.match(n.namespace or "") for n in pipeline.nodes]
    tasks = [m["task"] for m in cells if m]
    names = run_params.get("pipeline_names") or ["__default__"]
    client.set_tag(run_id, "mlflow.runName", parent_run_name(names, run_params.get("env"), tasks))
    client.set_tag(run_id, PIPELINES_TAG, "+".join(names))
    from upgan import evaluation

    experiment = client.get_run(run_id).info.experiment_id
    client.set_experiment_tag(experiment, SHARED_VIEW_TAG + VIEW_KEY, json.dumps(shared_view(evaluation.METRICS)))


def shared_view(metrics: Iterable[str]) -> dict[str, Any]:
    """The runs-table state MLflow 3.17's UI restores from a shared view: the test-metric columns
    (column ids ``metrics.`<key>```; MLflow shows them in key order), runs grouped by task and
    method (a group's row holds the average over its runs, i.e. over seeds), every run shown,
    newest first."""
    columns = [f"metrics.`{key}`" for key in test_metric_keys(metrics)]
    return {"selectedColumns": columns, "orderByKey": "attributes.start_time",
            "orderByAsc": False, "searchFilter": "", "runsHiddenMode": "SHOW_ALL",
            "groupBy": {"aggregateFunction": "average",
                        "groupByKeys": [{"mode": "tag", "groupByData": "task"},
                                        {"mode": "tag", "groupByData": "method"}]}}
