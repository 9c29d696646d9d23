"""data_preparation: one namespace per task of the ``tasks`` parameter (see :mod:`upgan.tasks`)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from upgan import structure
from upgan.pipelines.binding import bind
from upgan.pipelines.data_preparation import nodes


def template(task: str) -> Pipeline:
    """Nodes of one task; dataset and parameter names are relative to the task namespace."""
    return Pipeline(
        [
            Node(bind(nodes.index_cohort, task), ["params:cohorts", "params:preparation"],
                 "cohort_index", name="index_cohort"),
            Node(bind(nodes.split_cohort, task),
                 ["cohort_index", "params:split", "params:cohorts", "params:preparation"],
                 "split_manifest", name="split_cohort"),
            Node(bind(nodes.prepare_slices, task),
                 ["cohort_index", "split_manifest", "params:preparation", "params:cohorts", "params:split"],
                 ["train_slices", "val_slices", "test_slices", "volume_manifest"],
                 name="prepare_slices"),
            Node(bind(nodes.plot_data_preview, task), ["test_slices", "params:preparation"],
                 "data_preview", name="plot_data_preview"),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """data_preparation for every configured task, each in its own namespace."""
    return Pipeline(
        [Pipeline(template(task), namespace=task, parameters={"params:cohorts"},
                  tags=["data_preparation", task])
         for task in structure.tasks()]
    )
