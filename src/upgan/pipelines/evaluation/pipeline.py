"""evaluation: one ``evaluate`` node per cell, in the cell's namespace (``<task>.<method>.n<NN>``),
so ``--namespaces pet_to_ct.upgan.n29`` selects a cell's training and evaluation together."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from upgan import structure
from upgan.evaluation import INPUT
from upgan.pipelines.binding import bind
from upgan.pipelines.evaluation import nodes
from upgan.pipelines.training.pipeline import nest_cell
from upgan.tasks import get_task


def evaluation_cell(task: str, method: str, n_train_patients: int, seed: int) -> Pipeline:
    """The evaluation of one cell (names relative to the cell namespace, see ``nest_cell``)."""
    return Pipeline([
        Node(
            bind(nodes.evaluate_cell, task, method, n_train_patients, seed),
            ["test_slices", "volume_manifest", "model", "params:preparation", "params:training"],
            ["metrics", "uncertainty", "calibration", "predictions", "example"],
            name="evaluate",
            tags=["evaluation"],
        )
    ])


def input_cell(task: str, n_train_patients: int) -> Pipeline:
    """The do-nothing reference of a task (its input scored as the prediction), as a cell
    ``<task>.input.n<NN>`` whose ``metrics`` join the trained cells' in the report."""
    return Pipeline([
        Node(
            bind(nodes.evaluate_input, task, n_train_patients),
            ["test_slices", "params:preparation"],
            "metrics",
            name="evaluate",
            tags=["evaluation"],
        )
    ])


def reference_cells(tasks: list[str], counts: list[int] | None = None) -> list[tuple[str, str, int]]:
    """``(task, "input", n)`` for every task with a do-nothing reference (input on the target's
    scale) and every patient count (default: the task's full supervision)."""
    return [(t, INPUT, n) for t in tasks if get_task(t).input_is_reference
            for n in (counts or [structure.full_supervision(t)])]


def create_pipeline(**kwargs) -> Pipeline:
    """Evaluation of every (task, method, seed) cell at full supervision, and the ``input``
    reference (no seed: it trains nothing)."""
    cells = [
        nest_cell(evaluation_cell(task, method, structure.full_supervision(task), seed), task, method,
                  structure.full_supervision(task), seed).tag(["evaluation", task, method, f"s{seed}"])
        for task in structure.tasks()
        for method in structure.methods()
        for seed in structure.seeds()
    ]
    cells += [nest_cell(input_cell(t, n), t, m, n).tag(["evaluation", t, m])
              for t, m, n in reference_cells(structure.tasks())]
    return Pipeline(cells)
