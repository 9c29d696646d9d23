"""Checkpoints of a stage: what keys them (a fingerprint), atomic saving, loading and resume.

A checkpoint holds networks, optimisers, schedulers, the torch RNG state, the counters, the
history and the best weights so far; it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from upgan.io.files import atomic_path, storage_error
from upgan.training.data import SlicePairs
from upgan.training.history import BestWeights
from upgan.training.stage import StageConfig, StageRun

if TYPE_CHECKING:
    from upgan.training.engine import TrainingMethod

logger = logging.getLogger(__name__)

#: Version of the checkpoint layout (part of every fingerprint).
CHECKPOINT_FORMAT = 2


def cpu_state(module: nn.Module) -> dict[str, Tensor]:
    """State dict as independent contiguous CPU tensors (safetensors-ready)."""
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in module.state_dict().items()}


def state_digest(items: Iterable[nn.Module | Mapping[str, Tensor]]) -> str:
    """sha256 of state dicts -- of modules or of state dicts, in order -- by tensor names and
    bytes: the one hash of weights (what a stage starts from, a frozen feature extractor)."""
    h = hashlib.sha256()
    for item in items:
        state = item.state_dict() if isinstance(item, nn.Module) else item
        for name, tensor in state.items():
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def module_states(modules: list[nn.Module]) -> list[dict[str, Tensor]]:
    """:func:`cpu_state` of each module."""
    return [cpu_state(m) for m in modules]


def load_states(modules: list[nn.Module], states: list[dict[str, Tensor]]) -> None:
    """Load one state dict into each module (as many states as modules)."""
    for module, sd in zip(modules, states, strict=True):
        module.load_state_dict(sd)


def stage_fingerprint(
    method: TrainingMethod, train: SlicePairs, val: SlicePairs | None, config: StageConfig
) -> str:
    """sha256 of what determines a stage's result: method description, config, data digests."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "method": method.describe(),
        "config": config.fingerprint_fields(),
        "train": train.digest(),
        "val": val.digest() if val is not None else None,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``
    (:func:`upgan.io.files.atomic_path`: a failed save leaves the old checkpoint and no
    temporary file)."""
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except (OSError, RuntimeError) as err:
        raise storage_error(err, path, "checkpoint") from err


def save_checkpoint(run: StageRun, path: Path, fingerprint: str, device: torch.device) -> None:
    """Write the whole state of ``run`` (and the RNG of ``device``) atomically to ``path``."""
    state: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "fingerprint": fingerprint,
        "stage": run.config.name,
        "step": run.step,
        "iteration": run.iteration,
        "history": run.history.records,
        "generator_states": module_states(run.generators),
        "discriminator_states": module_states(run.discriminators),
        "optimizers": [o.state_dict() for o in run.optimizers],
        "schedulers": [s.state_dict() for s in run.schedulers],
        "torch_rng": torch.get_rng_state(),
        "best_step": run.best.step,
        "best_mae": run.best.mae,
        "best_generator_states": run.best.generators,
        "best_discriminator_states": run.best.discriminators,
    }
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    save_atomic(state, path)


def set_aside(path: Path) -> Path:
    """Rename ``path`` to ``<name>.corrupt`` (``<name>.corrupt-<k>`` when taken); the new path."""
    target = path.with_name(path.name + ".corrupt")
    k = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{k}")
        k += 1
    os.replace(path, target)
    return target


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path`` as saved, or None when it cannot be read as one (cut short,
    corrupt): then it is moved aside (:func:`set_aside`) with a warning naming it. Errors of the
    file system (OSError: permissions, a missing disk) are raised, never taken for corruption."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError, ...
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
    else:
        if isinstance(state, dict):
            return state
        reason = f"it holds a {type(state).__name__}, not a checkpoint"
    moved = set_aside(path)
    logger.warning("checkpoint %s is unreadable (%s; cut short or corrupt?): moved it to %s; "
                   "the stage trains from the start", path, reason, moved)
    return None


def load_checkpoint(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint at ``path``; None when it is unreadable (moved aside, see
    :func:`read_checkpoint`); ValueError naming the file when its fingerprint differs."""
    state = read_checkpoint(path)
    if state is None:
        return None
    if state.get("fingerprint") != fingerprint:
        raise ValueError(
            f"checkpoint {path} belongs to a different stage, method, config or data "
            "(fingerprint mismatch); delete it or set training.checkpoint_dir elsewhere"
        )
    return state


def resume(run: StageRun, path: Path, fingerprint: str, device: torch.device) -> bool:
    """Restore ``run`` from the checkpoint at ``path`` (see :func:`load_checkpoint`): networks,
    optimisers, schedulers, RNG, counters, history and best weights. False (``run`` left
    untouched, so the stage trains from the start) when the file is unreadable."""
    state = load_checkpoint(path, fingerprint)
    if state is None:
        return False
    load_states(run.generators, state["generator_states"])
    load_states(run.discriminators, state["discriminator_states"])
    for opt, sd in zip(run.optimizers, state["optimizers"], strict=True):
        opt.load_state_dict(sd)
    for sched, sd in zip(run.schedulers, state["schedulers"], strict=True):
        sched.load_state_dict(sd)
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    run.iteration, run.step = int(state["iteration"]), int(state["step"])
    run.best = BestWeights(state["best_step"], float(state["best_mae"]),
                           state["best_generator_states"], state["best_discriminator_states"])
    run.history.records = list(state["history"])
    run.history.resumed_from_step = run.step
    logger.info("stage %s: resuming from %s at step %d", run.config.name, path, run.step)
    return True
