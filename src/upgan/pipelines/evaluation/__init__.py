"""evaluation: every cell's predictions on the test subjects, metrics and σ calibration."""

from upgan.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
