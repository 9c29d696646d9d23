"""From parameter blocks to the training core's configs: stages, cascades, budgets, the
training subjects of a cell and the checkpoint path of a stage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from upgan.io.slices import SliceSet
from upgan.losses import UPGANLossWeights
from upgan.methods import get, names
from upgan.models import CascadeConfig, cascade_config_from_dict
from upgan.tasks import get_task
from upgan.training import SlicePairs, StageConfig
from upgan.training.checkpoint import CHECKPOINT_FORMAT

STAGE_KEYS = ("batch_size", "lr_generator", "lr_discriminator", "betas", "cosine")
"""Optimiser keys of a stage block (``upgan.phase``, ``upgan.fine_tune``, ``baselines.optimiser``)."""


def select_training_subjects(split_manifest: pd.DataFrame, n_train_patients: int) -> list[str]:
    """The first ``n_train_patients`` training subjects in the split's seeded order (so smaller
    subsets are nested in larger ones)."""
    train = split_manifest[split_manifest["split"] == "train"].sort_values("order")
    if not 1 <= n_train_patients <= len(train):
        raise ValueError(
            f"n_train_patients={n_train_patients} but the training split has {len(train)} subjects"
        )
    return train["subject_id"].head(n_train_patients).tolist()


def slice_pairs(slices: SliceSet, subjects: list[str] | None = None) -> SlicePairs:
    """The (input, target) tensors of ``slices`` (only ``subjects``' when given)."""
    chosen = slices.subset(subjects) if subjects is not None else slices
    return SlicePairs(torch.from_numpy(chosen.inputs), torch.from_numpy(chosen.targets))


def residual_learning(task: str, training: Mapping[str, Any]) -> bool:
    """Whether the cell's generators learn a correction of their input (global residual): on
    when ``training.residual_learning`` is true and the task's input is on the target's scale
    (the MRI tasks), for every method alike."""
    flag = training.get("residual_learning", False)
    if not isinstance(flag, bool):
        raise ValueError(f"training.residual_learning must be true or false, got {flag!r}")
    return flag and get_task(task).input_is_reference


def cascade_config(method: str, upgan: Mapping[str, Any], n_phases: int | None = None,
                   in_channels: int = 1, residual: bool = False) -> CascadeConfig:
    """The cascade of a cascade method (``upgan`` or its ablation) from the ``upgan`` block.

    ``n_phases``: M as the pipeline was built with it (``None``: ``upgan.n_phases``);
    ``residual``: every phase adds its image head to ``a``'s first channel."""
    spec = get(method)
    if not spec.cascade:
        raise ValueError(f"{method!r} is not a cascade method; cascades: {', '.join(names(kind='cascade'))}")
    unet = {"in_channels": in_channels, **dict(upgan.get("generator", {}))}
    if residual:
        unet["residual_from"] = 0
    return cascade_config_from_dict({
        "n_phases": int(upgan["n_phases"] if n_phases is None else n_phases),
        "guidance": spec.guidance,
        "unet": unet,
        "discriminator": dict(upgan.get("discriminator", {})),
    })


def check_steps(value: Any, key: str) -> int:
    """``value`` if it is an int >= 1 (a number of generator updates), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be an int >= 1 (generator updates), got {value!r}")
    return value


def stage_config(name: str, stage: Mapping[str, Any], training: Mapping[str, Any], steps: int,
                 seed: int, where: str, extra_keys: tuple[str, ...] = (),
                 keep_initial: bool = False) -> StageConfig:
    """A :class:`StageConfig` from a stage block (``where`` names it in errors), the shared
    ``training`` block, the stage's budget in generator updates and its seed (initialisation
    and shuffling)."""
    values = dict(stage)
    unknown = sorted(set(values) - set(STAGE_KEYS) - set(extra_keys))
    if unknown:
        raise ValueError(f"unknown parameter(s) {[f'{where}.{k}' for k in unknown]}; known: "
                         f"{', '.join(f'{where}.{k}' for k in (*STAGE_KEYS, *extra_keys))}")
    for key in extra_keys:
        values.pop(key, None)
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    val_every = training.get("val_every")
    if val_every is not None:
        check_steps(val_every, "training.val_every")
    try:
        return StageConfig(
            name=name,
            steps=steps,
            seed=int(seed),
            device=str(training.get("device", "auto")),
            bf16=bool(training.get("bf16", False)),
            channels_last=bool(training.get("channels_last", False)),
            compile=bool(training.get("compile", False)),
            device_data_budget_gb=training.get("device_data_budget_gb"),
            log_every_n_steps=int(training.get("log_every_n_steps", 50)),
            val_every=val_every,
            keep_initial=keep_initial,
            **values,
        )
    except ValueError as err:
        raise ValueError(str(err).replace("StageConfig.", f"{where}.")) from err


def phase_steps(training: Mapping[str, Any]) -> int:
    """The shared budget: generator updates of every single-generator method and every UP-GAN
    phase (``training.steps``)."""
    return check_steps(training.get("steps"), "training.steps")


def fine_tune_steps(upgan: Mapping[str, Any]) -> int:
    """UP-GAN's end-to-end fine-tuning, on top of the shared budget (``upgan.fine_tune.steps``)."""
    return check_steps(dict(upgan.get("fine_tune", {})).get("steps"), "upgan.fine_tune.steps")


def loss_weights(upgan: Mapping[str, Any]) -> UPGANLossWeights:
    """UP-GAN's objective weights and recipe (``upgan.loss``)."""
    return UPGANLossWeights(**dict(upgan.get("loss", {})))


def validate_upgan_parameters(upgan: Mapping[str, Any], training: Mapping[str, Any]) -> None:
    """Build every config a cascade cell will need, so bad values fail before any training."""
    for method in names(kind="cascade"):
        cascade_config(method, upgan)
    loss_weights(upgan)
    for key in ("phase", "fine_tune"):
        if key not in upgan:
            raise ValueError(f"parameters upgan.{key} are missing")
    stage_config("upgan.phase", upgan["phase"], training, phase_steps(training), 0, "upgan.phase")
    stage_config("upgan.fine_tune", upgan["fine_tune"], training, fine_tune_steps(upgan), 0,
                 "upgan.fine_tune", ("steps",))


def single_optimiser(baselines: Mapping[str, Any], method: str) -> tuple[dict[str, Any], str]:
    """The optimiser block of a single-generator method (shared ``baselines.optimiser`` updated
    by the method's own ``baselines.<method>.optimiser``) and the name to use in errors."""
    own = dict((baselines.get(method) or {}).get("optimiser") or {})
    where = f"baselines.{method}.optimiser" if own else "baselines.optimiser"
    return {**dict(baselines.get("optimiser") or {}), **own}, where


def method_params(baselines: Mapping[str, Any], method: str) -> dict[str, Any]:
    """A single-generator method's network and loss parameters (its block without ``optimiser``)."""
    return {k: v for k, v in dict(baselines.get(method) or {}).items() if k != "optimiser"}


def states_digest(states: Iterable[Mapping[str, torch.Tensor]]) -> str:
    """sha256 of state dicts (names, dtypes, shapes and bytes): the weights a stage starts from."""
    h = hashlib.sha256()
    for state in states:
        for name, tensor in state.items():
            t = tensor.detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def stage_key(stage: StageConfig, method: Mapping[str, Any], train: SlicePairs, val: SlicePairs | None) -> str:
    """Short hash of what determines a stage's result: its config fields (budget, optimiser,
    seed), the method's parameters (network, loss, the weights it starts from) and the data.

    It names the stage's checkpoint, so that a changed setting trains fresh beside the old
    checkpoints (which the engine would refuse as a fingerprint mismatch) and the old settings
    find theirs again."""
    payload = {"format": CHECKPOINT_FORMAT, "config": stage.fingerprint_fields(), "method": dict(method),
               "train": train.digest(), "val": val.digest() if val is not None else None}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def checkpoint_path(training: Mapping[str, Any], cell: str, stage: str, key: str) -> Path | None:
    """``<checkpoint_dir>/<task>/<method>/n<NN>/<stage>-<key>.pt`` (None: no checkpoints)."""
    root = training.get("checkpoint_dir")
    return None if root is None else Path(root) / cell.replace(".", "/") / f"{stage}-{key}.pt"
