"""weak_supervision: every method trained and evaluated at several numbers of training patients."""

from upgan.pipelines.weak_supervision.pipeline import create_pipeline

__all__ = ["create_pipeline"]
