"""evaluation: one ``evaluate`` node per cell, in the cell's namespace (``<task>.<method>.n<NN>``),
so ``--namespaces pet_to_ct.upgan.n29`` selects a cell's training and evaluation together."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from upgan import structure
from upgan.pipelines.binding import bind
from upgan.pipelines.evaluation import nodes
from upgan.pipelines.training.pipeline import nest_cell


def evaluation_cell(task: str, method: str, n_train_patients: int) -> Pipeline:
    """The evaluation of one cell (names relative to the cell namespace, see ``nest_cell``)."""
    return Pipeline([
        Node(
            bind(nodes.evaluate_cell, task, method, n_train_patients),
            ["test_slices", "volume_manifest", "model", "params:preparation", "params:training"],
            ["metrics", "uncertainty", "calibration", "predictions", "example"],
            name="evaluate",
            tags=["evaluation"],
        )
    ])


def create_pipeline(**kwargs) -> Pipeline:
    """Evaluation of every (task, method) cell at full supervision."""
    return Pipeline([
        nest_cell(evaluation_cell(task, method, structure.full_supervision(task)), task, method,
                  structure.full_supervision(task)).tag(["evaluation", task, method])
        for task in structure.tasks()
        for method in structure.methods()
    ])
