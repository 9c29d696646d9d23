"""One training engine for every method, plus the UP-GAN phase and fine-tune plug-ins."""

from upgan.training.engine import (
    SlicePairs,
    StageConfig,
    TrainingHistory,
    TrainingMethod,
    evaluate,
    resolve_device,
    stage_fingerprint,
    train_stage,
)
from upgan.training.upgan import UPGANFineTune, UPGANPhase, fine_tune, train_phase

__all__ = [
    "SlicePairs",
    "StageConfig",
    "TrainingHistory",
    "TrainingMethod",
    "UPGANFineTune",
    "UPGANPhase",
    "evaluate",
    "fine_tune",
    "resolve_device",
    "stage_fingerprint",
    "train_phase",
    "train_stage",
]

# Baselines (pix2pix, PAN, MedGAN) as plug-ins of the same engine.
from upgan.training.baselines import (  # noqa: E402
    BASELINES,
    MedGANMethod,
    PANMethod,
    Pix2PixMethod,
    build_baseline_generator,
    pretrain_feature_extractor,
    resolve_baseline_params,
    train_baseline,
)

__all__ += [
    "BASELINES",
    "MedGANMethod",
    "PANMethod",
    "Pix2PixMethod",
    "build_baseline_generator",
    "pretrain_feature_extractor",
    "resolve_baseline_params",
    "train_baseline",
]
