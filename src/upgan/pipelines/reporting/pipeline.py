"""reporting: the results contract files, Table 1 and the comparison figures (un-namespaced)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from upgan import structure
from upgan.methods import get
from upgan.pipelines.binding import bind
from upgan.pipelines.evaluation.pipeline import reference_cells
from upgan.pipelines.reporting import nodes
from upgan.pipelines.tracking import cell_name
from upgan.pipelines.training.pipeline import cell_histories


def _task_layout(task: str, cells: list[tuple[str, str, int, int]]) -> tuple[list[str], list[tuple]]:
    """The datasets of one task that the report gathers, and what each is (see
    :func:`nodes.gather_task`): every output of every cell, so that all of them belong to the
    task's group in Kedro-Viz."""
    inputs: list[str] = [f"{task}.val_slices", f"{task}.data_preview"]
    layout: list[tuple] = [("", "val_slices", None, ""), ("", "other", None, "")]
    for c in cells:
        name, method, seed = cell_name(*c), c[1], c[3]
        kinds = ["metrics", "uncertainty", "calibration", "example", "model"]
        others = ["predictions", *get(method).plugin.report_outputs()]
        for kind in kinds + others:
            inputs.append(f"{name}.{kind}")
            layout.append((method, kind if kind in kinds else "other", seed, ""))
        for history in cell_histories(method):
            inputs.append(f"{name}.{history}")
            layout.append((method, "history", seed, history))
    for t, method, n in reference_cells([task]):
        inputs.append(f"{cell_name(t, method, n)}.metrics")
        layout.append((method, "metrics", None, ""))
    return inputs, layout


def create_pipeline(**kwargs) -> Pipeline:
    """Gather every cell of the full-supervision experiment (every seed) into one results object
    per task (a node in the task's namespace), then the report; the figures show the first seed
    of each method."""
    tasks, methods, seeds = structure.tasks(), structure.methods(), structure.seeds()
    n_full = {t: structure.full_supervision(t) for t in tasks}
    pipe = []
    for task in tasks:
        cells = [(task, m, n_full[task], s) for m in methods for s in seeds]
        inputs, layout = _task_layout(task, cells)
        pipe.append(Node(bind(nodes.gather_task, task, layout), inputs, f"{task}.results",
                         name="gather_results", namespace=task))
    results = [f"{task}.results" for task in tasks]
    pipe += [
        Node(nodes.collect_task_results, results, ["metrics_per_subject", "uncertainty_table", "head_mae"],
             name="collect_results"),
        Node(nodes.task_budget, results, "budget", name="training_budget"),
        Node(nodes.run_info, None, "run_info", name="run_info"),
        Node(nodes.describe_task_training, ["params:upgan", "params:training", *results], "training_setup",
             name="describe_training"),
        Node(nodes.build_report, ["metrics_per_subject", "uncertainty_table", "head_mae", "training_setup", "budget"],
             ["summary", "significance", "claims", "table1"], name="build_report"),
        Node(nodes.compare_variants, ["metrics_per_subject", "uncertainty_table"],
             ["variants", "variants_report", "variants_figures"], name="compare_variants"),
        Node(bind(nodes.plot_task_figures, n_full, seeds[0]), results, "report_figures", name="plot_figures"),
    ]
    return Pipeline(pipe, tags=["reporting"])
