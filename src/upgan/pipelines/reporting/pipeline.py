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


def create_pipeline(**kwargs) -> Pipeline:
    """Gather every cell of the full-supervision experiment (every seed) into the report; the
    figures show the first seed of each method."""
    tasks, methods, seeds = structure.tasks(), structure.methods(), structure.seeds()
    cells = [(t, m, structure.full_supervision(t), s) for t in tasks for m in methods for s in seeds]
    names = [cell_name(*c) for c in cells]
    scored = names + [cell_name(*c) for c in reference_cells(tasks)]
    histories = [f"{cell_name(*c)}.{h}" for c in cells for h in cell_histories(c[1])]
    pipe = [
        Node(
            bind(nodes.collect_results, len(scored)),
            [f"{n}.metrics" for n in scored] + [f"{n}.uncertainty" for n in names],
            ["metrics_per_subject", "uncertainty_table", "head_mae"],
            name="collect_results",
        ),
        Node(nodes.training_budget, histories, "budget", name="training_budget"),
        Node(nodes.describe_training,
             ["params:upgan", "params:training", *[f"{cell_name(*c)}.model" for c in cells if c[3] == seeds[0]]],
             "training_setup", name="describe_training"),
        Node(nodes.build_report, ["metrics_per_subject", "uncertainty_table", "head_mae", "training_setup", "budget"],
             ["summary", "significance", "claims", "table1"], name="build_report"),
    ]
    for task in tasks:
        task_cells = [c for c in cells if c[0] == task and c[3] == seeds[0]]
        cascades = [c for c in task_cells if get(c[1]).cascade]
        pipe.append(Node(bind(nodes.plot_methods, task, [c[1:] for c in task_cells]),
                         [f"{cell_name(*c)}.example" for c in task_cells],
                         f"{task}.methods_figure", name=f"plot_methods_{task}"))
        task_histories = [f"{cell_name(*c)}.{h}" for c in task_cells for h in cell_histories(c[1])]
        pipe.append(Node(bind(nodes.plot_convergence, task), [f"{task}.val_slices", *task_histories],
                         f"{task}.convergence_figure", name=f"plot_convergence_{task}"))
        if cascades:
            pipe.append(Node(bind(nodes.plot_calibration, task, [c[1:] for c in cascades]),
                             [f"{cell_name(*c)}.calibration" for c in cascades],
                             f"{task}.calibration_figure", name=f"plot_calibration_{task}"))
    return Pipeline(pipe, tags=["reporting"])
