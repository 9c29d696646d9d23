"""reporting: the results contract, Table 1, and the figures comparing methods."""

from upgan.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
