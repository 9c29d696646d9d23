"""weak_supervision: the training and evaluation templates for every (task, method, patient count)
cell, namespaced ``<task>.<method>.n<NN>`` (e.g. ``pet_to_ct.upgan.n05``), then one report.

The grid comes from ``conf/base/parameters_weak_supervision.yml``; every cell runs once per
training seed (``seeds``), ``<task>.<method>.n<NN>.s<seed>``. Subsets are nested (the first
n training subjects of the split's seeded order); validation and test subjects are the same for
every cell. A cell at the full training split is the same cell as Table 1's, so it is trained
once for both. Every cell trains for the same number of generator updates (``training.steps``),
whatever its patient count: fewer patients means more passes over them, not less training, so
the sweep measures data, not training length. Tasks whose input is on the target's scale get
the do-nothing ``input`` reference at every count.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from upgan import structure
from upgan.pipelines.binding import bind
from upgan.pipelines.evaluation.pipeline import evaluation_cell, input_cell, reference_cells
from upgan.pipelines.reporting import nodes as report_nodes
from upgan.pipelines.tracking import cell_name
from upgan.pipelines.training.pipeline import cell_histories, method_cell, nest_cell
from upgan.pipelines.weak_supervision import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """The sweep over the configured grid (empty when no grid is configured)."""
    tasks, counts, methods = structure.weak_supervision_grid()
    if not tasks:
        return Pipeline([])
    cells = [(t, m, n, s) for t in tasks for m in methods for n in counts for s in structure.seeds()]
    pipes = [
        nest_cell(method_cell(t, m, n, s) + evaluation_cell(t, m, n, s), t, m, n, s)
        .tag(["weak_supervision", t, m, f"n{n:02d}", f"s{s}"])
        for t, m, n, s in cells
    ]
    references = reference_cells(tasks, counts)
    pipes += [nest_cell(input_cell(t, n), t, m, n).tag(["weak_supervision", t, m, f"n{n:02d}"])
              for t, m, n in references]
    names = [cell_name(*c) for c in cells]
    scored = names + [cell_name(*c) for c in references]
    histories = [f"{cell_name(*c)}.{h}" for c in cells for h in cell_histories(c[1])]
    cell_outputs = [f"{n}.metrics" for n in scored] + [f"{n}.uncertainty" for n in names]
    report = Pipeline(
        [
            Node(bind(report_nodes.collect_results, len(scored)), cell_outputs,
                 ["metrics_per_subject", "uncertainty_table", "head_mae"], name="collect_results"),
            Node(report_nodes.training_budget, histories, "budget", name="training_budget"),
            Node(nodes.build_sweep_report, ["metrics_per_subject", "uncertainty_table", "budget"],
                 ["summary", "significance", "claims", "tables", "figure"], name="build_report"),
        ],
        namespace="weak_supervision", inputs=set(cell_outputs) | set(histories),
        tags=["weak_supervision", "reporting"],
    )
    return Pipeline(pipes) + report
