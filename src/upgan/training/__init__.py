"""One training engine for every method, plus the UP-GAN phase and fine-tune plug-ins."""

from upgan.training.checkpoint import cpu_state, stage_fingerprint, state_digest
from upgan.training.data import SlicePairs
from upgan.training.engine import TrainingMethod, train_stage
from upgan.training.history import TrainingHistory
from upgan.training.stage import StageConfig, resolve_device
from upgan.training.upgan import UPGANFineTune, UPGANPhase, fine_tune, train_phase
from upgan.training.validation import evaluate

__all__ = [
    "SlicePairs",
    "StageConfig",
    "TrainingHistory",
    "TrainingMethod",
    "UPGANFineTune",
    "UPGANPhase",
    "cpu_state",
    "evaluate",
    "fine_tune",
    "resolve_device",
    "stage_fingerprint",
    "state_digest",
    "train_phase",
    "train_stage",
]
