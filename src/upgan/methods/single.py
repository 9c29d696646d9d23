"""What every single-generator method shares: parameter checks, the signed-scale adversarial
plug-in base, and the entry points the pipeline and ``upgan predict`` use for any of them.

Entry points: :func:`resolve_params`, :func:`train_single` and :func:`build_generator`, each
dispatching on the method's registered :class:`~upgan.methods.registry.SingleGeneratorMethod`;
the cell of every single-generator method (one ``train`` step, :func:`run_single_step`) and its
prediction (:func:`predict_single`).

Evaluation protocol (every single-generator method): generators are evaluated in ``eval()``
mode -- BatchNorm with running statistics, dropout off. The pix2pix paper kept dropout on at
test time; we do not, so predictions are deterministic and all methods share one protocol.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from upgan.inference import run_batched
from upgan.io.bundle import ModelBundle
from upgan.methods.prediction import Prediction
from upgan.methods.registry import (
    TRAINING_DATA,
    CellJob,
    CellStep,
    LoggedHistory,
    SingleGeneratorMethod,
    StepResult,
    TrainedSingle,
    get,
    names,
)
from upgan.models import max_downsamplings
from upgan.training import SlicePairs, StageConfig, TrainingMethod

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------
# parameter checks shared by the methods' ``resolve``
# ------------------------------------------------------------------------------------------------
def check_int(value: Any, key: str, minimum: int) -> int:
    """``value`` if it is an int >= ``minimum``, else ``ValueError`` naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"parameter {key!r} must be an int >= {minimum}, got {value!r}")
    return value


def check_float(value: Any, key: str, minimum: float = 0.0) -> float:
    """``value`` as float if it is a number >= ``minimum``, else ``ValueError`` naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ValueError(f"parameter {key!r} must be a number >= {minimum}, got {value!r}")
    return float(value)


def check_bool(value: Any, key: str) -> bool:
    """``value`` if it is a bool, else ``ValueError`` naming ``key``."""
    if not isinstance(value, bool):
        raise ValueError(f"parameter {key!r} must be true or false, got {value!r}")
    return value


def check_weights(value: Any, key: str) -> list[float] | None:
    """A list of non-negative numbers (or ``None``), else ``ValueError`` naming ``key``."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"parameter {key!r} must be a list of numbers, got {value!r}")
    return [check_float(v, key) for v in value]


def merge_params(defaults: Mapping[str, Any], given: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """``defaults`` updated by ``given`` (deep copies); an unknown key fails naming ``where``."""
    given = given or {}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {where} parameter(s) {unknown}; known: {', '.join(sorted(defaults))}")
    merged = copy.deepcopy(dict(defaults))
    merged.update(copy.deepcopy(dict(given)))
    return merged


def auto_downs(value: Any, key: str, size: int, min_size: int, cap: int | None = None) -> int:
    """A number of 2x down-samplings: ``value``, or when ``None`` the most that ``size`` allows
    while keeping at least ``min_size`` pixels (at most ``cap``)."""
    if value is None:
        n = max_downsamplings(size, min_size)
        return n if cap is None else min(n, cap)
    return check_int(value, key, 1)


def signed(x: Tensor) -> Tensor:
    """``[0, 1] -> [-1, 1]``."""
    return 2.0 * x - 1.0


# ------------------------------------------------------------------------------------------------
# the adversarial plug-in base
# ------------------------------------------------------------------------------------------------
class AdversarialMethod(TrainingMethod):
    """Common parts of a generator + discriminator method: the engine's module lists,
    ``predict`` on [0, 1] and the description that keys its checkpoints."""

    name = "adversarial"

    def __init__(self, generator: nn.Module, discriminator: nn.Module) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.params: dict[str, Any] = {}

    def generator_modules(self) -> list[nn.Module]:
        return [self.generator]

    def discriminator_modules(self) -> list[nn.Module]:
        return [self.discriminator]

    def predict(self, inputs: Tensor) -> Tensor:
        """``(B, C, H, W)`` in [0, 1] -> ``(B, 1, H, W)`` on the [0, 1] scale."""
        return self.generator(inputs)

    def describe(self) -> dict[str, Any]:
        return {
            "method": self.name,
            "params": self.params,
            "generator": repr(self.generator),
            "discriminator": repr(self.discriminator),
        }


# ------------------------------------------------------------------------------------------------
# entry points
# ------------------------------------------------------------------------------------------------
def plugin(name: str) -> SingleGeneratorMethod:
    """The single-generator plug-in of method ``name``; a cascade or unknown name fails."""
    spec = get(name)
    if spec.single is None:
        raise ValueError(f"method {name!r} is a cascade, not a single-generator method; "
                         f"single-generator methods: {', '.join(names(kind='single'))}")
    return spec.single


def resolve_params(name: str, params: Mapping[str, Any] | None, image_size: Sequence[int],
                   context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Method ``name``'s parameters with defaults filled in, checked and sized to the input
    (JSON-able). ``image_size`` is ``(H, W)``; ``context`` the shared parameter groups
    (``upgan``) a method may borrow from."""
    return plugin(name).resolve(params, image_size, context or {})


def build_generator(name: str, config: Mapping[str, Any]) -> nn.Module:
    """Rebuild a trained generator from the network config of :func:`train_single`.

    The module maps ``(B, C, H, W)`` in [0, 1] to ``(B, 1, H, W)`` on the [0, 1] scale and is
    returned in eval mode; load the weights with ``.load_state_dict(states["generator"])``.
    """
    single = plugin(name)
    if config.get("method", name) != name:
        raise ValueError(f"config is for method {config.get('method')!r}, not {name!r}")
    for key in ("in_channels", "image_size", "params"):
        if key not in config:
            raise ValueError(f"network config lacks {key!r}; keys: {sorted(config)}")
    params = single.resolve(config["params"], config["image_size"], {})
    return single.build_generator(params, int(config["in_channels"])).eval()


def train_single(
    name: str,
    params: Mapping[str, Any] | None,
    train: SlicePairs,
    val: SlicePairs | None,
    stage: StageConfig,
    checkpoint_path: Path | str | None = None,
    progress: bool = True,
    context: Mapping[str, Any] | None = None,
) -> TrainedSingle:
    """Train single-generator method ``name`` with the one engine for ``stage.steps`` updates.

    Networks are initialised after ``torch.manual_seed(stage.seed)``. A method parameter
    ``generator_steps_per_iteration`` (MedGAN: 3) replaces the stage's.

    Args:
        params: the method's block (``baselines.<name>`` without ``optimiser``); unknown keys fail.
        train, val: slices ``(N, C, H, W)`` / ``(N, 1, H, W)`` in [0, 1].
        stage: optimiser, budget (generator updates), batch, validation and device settings.
        checkpoint_path: resumable checkpoint of the stage (``None``: none).
        context: shared parameter groups (``upgan``) a method may borrow from.

    Returns:
        CPU state dicts (``generator`` and the method's other networks), the JSON-able network
        config (``method``, ``in_channels``, ``image_size``, resolved ``params``, ...) that
        :func:`build_generator` accepts, the stage's history and any pretraining.
    """
    single = plugin(name)
    image_size = [int(s) for s in train.inputs.shape[-2:]]
    if val is not None and val.in_channels != train.in_channels:
        raise ValueError(f"val has {val.in_channels} input channels, train {train.in_channels}")
    p = single.resolve(params, image_size, context or {})
    steps = p.get("generator_steps_per_iteration", stage.generator_steps_per_iteration)
    if stage.generator_steps_per_iteration != steps:
        logger.info("%s: generator_steps_per_iteration %d -> %d (method parameter)",
                    name, stage.generator_steps_per_iteration, steps)
        stage = dataclasses.replace(stage, generator_steps_per_iteration=steps)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    trained = single.train(p, train, val, stage, path, progress)
    trained.config = {"method": name, "in_channels": train.in_channels, "image_size": image_size,
                      "params": p, **trained.config}
    return trained


def side_checkpoint(checkpoint_path: Path | None, suffix: str) -> Path | None:
    """``<stem>_<suffix><ext>`` beside ``checkpoint_path`` (for a method's pretraining)."""
    if checkpoint_path is None:
        return None
    return checkpoint_path.with_name(f"{checkpoint_path.stem}_{suffix}{checkpoint_path.suffix}")


# ------------------------------------------------------------------------------------------------
# the cell of a single-generator method
# ------------------------------------------------------------------------------------------------
def single_optimiser(baselines: Mapping[str, Any], method: str) -> tuple[dict[str, Any], str]:
    """The optimiser block of a single-generator method (shared ``baselines.optimiser`` updated
    by the method's own ``baselines.<method>.optimiser``) and the name to use in errors."""
    own = dict((baselines.get(method) or {}).get("optimiser") or {})
    where = f"baselines.{method}.optimiser" if own else "baselines.optimiser"
    return {**dict(baselines.get("optimiser") or {}), **own}, where


def method_params(baselines: Mapping[str, Any], method: str) -> dict[str, Any]:
    """A single-generator method's network and loss parameters (its block without ``optimiser``)."""
    return {k: v for k, v in dict(baselines.get(method) or {}).items() if k != "optimiser"}


def single_cell_steps() -> list[CellStep]:
    """One ``train`` node: the method's bundle and its validation history."""
    return [CellStep("train", (*TRAINING_DATA, "params:baselines", "params:upgan", "params:training",
                               "params:preparation"),
                     ("model", "history_train"), histories=("history_train",), tags=("train",))]


def run_single_step(single: SingleGeneratorMethod, step: str, job: CellJob) -> StepResult:
    """Train the method for the shared budget of generator updates (``training.steps``) with its
    optimiser settings: ``baselines.optimiser``, overridden key by key by the method's own
    ``baselines.<method>.optimiser`` block; the bundle holds ``generator`` and the method's other
    networks and the network config; the history gets a row per pretrained network."""
    if step != "train":
        raise ValueError(f"{job.method} has one step, 'train', not {step!r}")
    baselines = job.param("baselines")
    if job.method not in baselines:
        raise ValueError(f"parameters baselines.{job.method} are missing")
    optimiser, where = single_optimiser(baselines, job.method)
    stage = job.stage("train", optimiser, job.steps, job.seed, where)
    params = {**method_params(baselines, job.method), "input_residual": job.residual}
    assert job.train is not None
    path = job.checkpoint("train", stage, {"method": job.method, "params": params}, job.train, job.val)
    trained = train_single(job.method, params, job.train, job.val, stage, path,
                           context={"upgan": job.param("upgan")})
    config = {**job.labels(), "network": trained.config, "preparation": job.param("preparation"),
              "train_subjects": job.subjects}
    history = LoggedHistory("generator", stage.fingerprint_fields(), trained.history, trained.pretraining)
    return StepResult({"model": ModelBundle.pack(trained.states, config), "history_train": history})


def predict_single(bundle: ModelBundle, inputs: np.ndarray, device: str, batch_size: int,
                   channels_last: bool) -> Prediction:
    """The generator's prediction (no σ)."""
    method = bundle.config.get("method", "")
    generator = build_generator(method, bundle.config["network"])
    generator.load_state_dict(bundle.state_dict("generator"))
    x = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
    chunks = run_batched(generator, x, batch_size=batch_size, device=device, channels_last=channels_last)
    return Prediction(torch.cat([c[0] for c in chunks]).numpy(), None, None)
