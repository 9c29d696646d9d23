"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from upgan.pipelines import data_preparation, training


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``__default__`` runs data preparation and training end to end.
    """
    prep = data_preparation.create_pipeline()
    train = training.create_pipeline()
    return {
        "__default__": prep + train,
        "data_preparation": prep,
        "training": train,
    }
