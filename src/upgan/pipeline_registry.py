"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from upgan import structure
from upgan.pipelines import data_preparation, evaluation, reporting, training, weak_supervision


def _sweep(prep: Pipeline) -> Pipeline:
    """The sweep with the data preparation of its own tasks."""
    sweep = weak_supervision.create_pipeline()
    tasks, _, _ = structure.weak_supervision_grid()
    return (prep.only_nodes_with_namespaces(tasks) if tasks else Pipeline([])) + sweep


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``__default__`` is Table 1 end to end: data preparation, training of every method for every
    task, evaluation and reporting.
    """
    prep = data_preparation.create_pipeline()
    train = training.create_pipeline()
    evaluate = evaluation.create_pipeline()
    report = reporting.create_pipeline()
    return {
        "__default__": prep + train + evaluate + report,
        "data_preparation": prep,
        "training": train,
        "evaluation": evaluate,
        "reporting": report,
        "weak_supervision": _sweep(prep),
    }
