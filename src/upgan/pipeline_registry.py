"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from upgan import structure
from upgan.pipelines import data_preparation, evaluation, reporting, training, weak_supervision


def _no_sweep() -> str:
    """Stands for a sweep without cells: says why (the run's hook already does, before it)."""
    structure.require_sweep()
    return "unreachable: require_sweep raises for a sweep without cells"


def _sweep(prep: Pipeline) -> Pipeline:
    """The sweep with the data preparation of its own tasks. Without a task to sweep it is a
    single node that fails with the reason: Kedro refuses to run an empty pipeline with a
    message that names no parameter, before any hook can say more."""
    tasks, _, _ = structure.weak_supervision_grid()
    if not tasks:
        node = Node(_no_sweep, None, "no_sweep_reason", name="no_sweep")
        return Pipeline([node], namespace="weak_supervision", tags=["weak_supervision"])
    return prep.only_nodes_with_namespaces(tasks) + weak_supervision.create_pipeline()


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
