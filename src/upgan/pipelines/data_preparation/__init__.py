"""data_preparation: raw volumes -> normalised, paired 2D slices per task."""

from upgan.pipelines.data_preparation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
