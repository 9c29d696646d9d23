"""training: UP-GAN phase by phase (one node per phase), then end-to-end fine-tuning."""

from upgan.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
