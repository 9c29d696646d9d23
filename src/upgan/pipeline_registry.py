"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from upgan.pipelines import data_preparation, evaluation, reporting, training


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
    }
